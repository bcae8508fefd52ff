#!/usr/bin/env bash
# Builds berth-demo/hello:1 locally (nothing can be pulled): a static busybox
# whose httpd serves a page under the service's CONTEXT_ROOT.
set -euo pipefail
tag=${1:-berth-demo/hello:1}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www" "$root/tmp"
cp /usr/bin/busybox "$root/bin/busybox"
for applet in sh httpd mkdir echo cat sleep env date hostname head tr dd ls wget seq kill trap true false; do ln -s busybox "$root/bin/$applet"; done
cat > "$root/bin/serve" <<'SH'
#!/bin/sh
# Serve a greeting and a health page under CONTEXT_ROOT on PORT (default 80).
dir="/www${CONTEXT_ROOT:-}"
mkdir -p "$dir"
echo "${GREETING:-hello} from $(hostname)" > "$dir/index.html"
echo ok > "$dir/health"
echo "serving $dir on port ${PORT:-80}"
exec httpd -f -vv -p "${PORT:-80}" -h /www
SH
chmod +x "$root/bin/serve"
tar -C "$root" -c . | docker import -c 'CMD ["/bin/serve"]' -c 'ENV PATH=/bin' - "$tag" >/dev/null
echo "$tag"
