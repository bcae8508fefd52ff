#!/usr/bin/env bash
# The whole test suite: unit, in-process API, and integration tests against the
# real Docker engine, nginx and registry. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
berth_prepare
exec npx vitest run "$@"
