#!/usr/bin/env bash
# Stops what up.sh started: the berth server, nginx and the registry of the data dir.
# Services' containers keep running unless --remove-containers is given.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${BERTH_DATA_DIR:-$PWD/.berth}
stop_pid_file() {
  local file=$1 name=$2
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    echo "berth: stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}
stop_pid_file "$data/server.pid" "the server"
stop_pid_file "$data/nginx/nginx.pid" nginx
stop_pid_file "$data/registry/registry.pid" "the registry"
if [ "${1:-}" = "--remove-containers" ] && [ -f "$data/berth.db" ]; then
  instance=$(node -e "const D=require('better-sqlite3');const db=new D(process.argv[1],{readonly:true});console.log(db.prepare(\"SELECT value FROM meta WHERE key='instance'\").get().value)" "$data/berth.db")
  ids=$(docker ps -aq --filter "label=io.berth.instance=$instance")
  if [ -n "$ids" ]; then echo "berth: removing $(echo "$ids" | wc -l) container(s)"; docker rm -f $ids >/dev/null; fi
  networks=$(docker network ls -q --filter "label=io.berth.instance=$instance")
  if [ -n "$networks" ]; then echo "berth: removing $(echo "$networks" | wc -l) project network(s)"; docker network rm $networks >/dev/null; fi
fi
