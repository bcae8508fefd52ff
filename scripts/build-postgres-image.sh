#!/usr/bin/env bash
# Builds a PostgreSQL 15 image locally (nothing can be pulled here) from Debian's postgresql-15,
# keeping the official `postgres` image's contract: POSTGRES_PASSWORD (required on an empty data
# dir), POSTGRES_USER (default postgres), POSTGRES_DB (default: the user), PGDATA (default
# /var/lib/postgresql/data, a volume), port 5432 on every address, initdb on an empty PGDATA with
# `host all all all scram-sha-256` added to pg_hba.conf, the scripts of /docker-entrypoint-initdb.d
# run once against a server listening on its socket only, then the server as user postgres (999),
# stopped by SIGINT (fast shutdown). pg_dump, pg_restore and psql are on PATH.
set -euo pipefail
tag=${1:-postgres:15}
bin=/usr/lib/postgresql/15/bin
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/run/postgresql" "$root/var/lib/postgresql/data" \
  "$root/docker-entrypoint-initdb.d" "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/share"
cp /usr/bin/busybox "$root/bin/busybox"
for applet in sh ls cat echo sleep env grep sed head tail tr date mkdir rm chmod chown find id true false test gunzip zcat xz kill; do
  ln -s busybox "$root/bin/$applet"
done
cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
rm -rf "$root/usr/share/postgresql/15/man"
cp -a /usr/share/zoneinfo "$root/usr/share/"
mkdir -p "$root/usr/lib/locale"
cp -a /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
# util-linux setpriv steps down as gosu does; busybox sh would run its own applet of that name, so it is
# called by its path.
mkdir -p "$root/usr/bin"
cp /usr/bin/setpriv "$root/usr/bin/"
# Every library the binaries and the server's modules load.
for object in "$bin"/* /usr/lib/postgresql/15/lib/*.so /usr/bin/setpriv; do
  ldd "$object" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'
done | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999::/var/lib/postgresql:/bin/sh
EOF
printf 'root:x:0:\npostgres:x:999:\n' > "$root/etc/group"
cat > "$root/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# As the official image's entrypoint: options alone run the server; as root, the data dir is
# made the postgres user's and the script runs again as that user.
set -e
case "$1" in -*) set -- postgres "$@" ;; esac
if [ "$1" != postgres ]; then exec "$@"; fi
: "${PGDATA:=/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  exec /usr/bin/setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
    echo '       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser.' >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  # shellcheck disable=SC2086 # the official image splits POSTGRES_INITDB_ARGS too
  initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"
  # The first start listens on its socket only, so nobody connects before the scripts ran.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    printf 'CREATE DATABASE :"db";\n' | psql -v ON_ERROR_STOP=1 -q --username "$user" --dbname postgres -v db="$db"
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "running $f"; . "$f" ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -q --username "$user" --dbname "$db" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 -q --username "$user" --dbname "$db" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo 'PostgreSQL init process complete; ready for start up.'
fi
exec "$@"
SH
chmod +x "$root/bin/docker-entrypoint.sh"
chmod 1777 "$root/tmp"
imported="$tag-rootfs"
tar -C "$root" -c . | docker import \
  -c 'ENTRYPOINT ["/bin/docker-entrypoint.sh"]' -c 'CMD ["postgres"]' \
  -c "ENV PATH=$bin:/bin" -c 'ENV PGDATA=/var/lib/postgresql/data' -c 'ENV LANG=C.UTF-8' -c 'ENV TZ=UTC' \
  -c 'VOLUME /var/lib/postgresql/data' -c 'EXPOSE 5432' - "$imported" >/dev/null
# `docker import` cannot set a stop signal; a one-line build on the local image can (nothing is pulled).
context=$(mktemp -d)
trap 'rm -rf "$root" "$context"' EXIT
printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$imported" > "$context/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$context" >/dev/null
docker rmi "$imported" >/dev/null
echo "$tag"
