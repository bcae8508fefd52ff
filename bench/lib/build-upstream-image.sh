#!/usr/bin/env bash
# Builds the gateway bench's upstream (nothing can be pulled): Debian's nginx binary and
# the libraries it links, in an otherwise empty root. Unlike busybox httpd, which closes
# every connection, it keeps connections alive and answers any path, the health path under
# CONTEXT_ROOT included, with a small 200, so the proxy in front of it is what is measured.
set -euo pipefail
tag=${1:-berth-bench/upstream:1}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/sbin" "$root/etc/nginx" "$root/tmp" "$root/var/lib/nginx" "$root/var/log/nginx" "$root/run"
chmod 1777 "$root/tmp"
cp /usr/sbin/nginx "$root/usr/sbin/nginx"
for lib in $(ldd /usr/sbin/nginx | grep -o '/[^ ]*\.so[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
cat > "$root/etc/nginx/nginx.conf" <<'CONF'
daemon off;
worker_processes 1;
user nobody nogroup;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 80;
    default_type text/plain;
    location / { return 200 "hello from the bench upstream\n"; }
  }
}
CONF
tar -C "$root" -c . | docker import -c 'CMD ["/usr/sbin/nginx","-c","/etc/nginx/nginx.conf"]' - "$tag" >/dev/null
echo "$tag"
