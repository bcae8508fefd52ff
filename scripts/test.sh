#!/usr/bin/env bash
# The whole test suite: unit, in-process API, and integration tests against the
# real Docker engine, nginx and registry. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
berth_install_packages
berth_start_docker
berth_node_modules
berth_build
exec npx vitest run "$@"
