#!/usr/bin/env bash
# Builds berth's nginx module (src/gateway/nginx-module) against the installed nginx, with
# the headers and configure flags of Debian's nginx-dev, into build/nginx/. Skips the
# build when the module is newer than its sources and was built for this nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD/src/gateway/nginx-module
out=$PWD/build/nginx
module=ngx_http_berth_routes_module.so
nginx_version=$(dpkg-query -W -f='${Version}' nginx)

if [ -f "$out/$module" ] && [ "$(cat "$out/nginx-version" 2>/dev/null)" = "$nginx_version" ] \
  && [ -z "$(find "$src" -newer "$out/$module")" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r /usr/share/nginx/src/. "$work/"
# Defines NGX_CONF_FLAGS, the flags Debian configured its nginx with; --with-compat among
# them makes a module built here loadable by that binary.
source "$work/conf_flags"
(
  cd "$work"
  ./configure "${NGX_CONF_FLAGS[@]}" --with-cc-opt="-g -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2" --add-dynamic-module="$src" >configure.log 2>&1 \
    || { tail -30 configure.log >&2; exit 1; }
  make -f objs/Makefile modules >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
)
mkdir -p "$out"
cp "$work/objs/$module" "$out/$module.tmp"
mv "$out/$module.tmp" "$out/$module"
echo "$nginx_version" >"$out/nginx-version"
