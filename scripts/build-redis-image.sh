#!/usr/bin/env bash
# Builds a Redis image locally (nothing can be pulled here) from Debian's redis-server,
# keeping the official image's contract: `redis-server` as the command, port 6379, data
# in /data, options as arguments (`redis-server --requirepass …`), redis-cli on PATH,
# and protected mode off as the official image patches it. A static busybox stands in
# for alpine's, so compose files' `sh -c` commands and healthchecks work, and so do the
# ln, cat and rm that berth's Redis dumps run in the task.
set -euo pipefail
tag=${1:-redis:alpine}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/data" "$root/tmp" "$root/etc"
cp /usr/bin/busybox "$root/bin/busybox"
for applet in sh ls cat echo sleep env wget nc grep sed head tail tr date hostname mkdir rm ln true false test seq timeout kill; do
  ln -s busybox "$root/bin/$applet"
done
for binary in /usr/bin/redis-server /usr/bin/redis-cli; do
  cp "$binary" "$root/bin/"
  ldd "$binary" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
echo 'redis:x:999:999::/data:/bin/sh' > "$root/etc/passwd"
echo 'redis:x:999:' > "$root/etc/group"
cat > "$root/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# As the official image: options alone run the server; protected mode is off, since
# the container's network is the boundary.
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
  shift
  exec /bin/redis-server --protected-mode no "$@"
fi
exec "$@"
SH
chmod +x "$root/bin/docker-entrypoint.sh"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker import \
  -c 'ENTRYPOINT ["/bin/docker-entrypoint.sh"]' -c 'CMD ["redis-server"]' \
  -c 'ENV PATH=/bin' -c 'WORKDIR /data' -c 'EXPOSE 6379' - "$tag" >/dev/null
echo "$tag"
