#!/usr/bin/env bash
# Sets berth up on this machine and starts it with a demo service:
# installs packages, starts dockerd, builds berth and a local demo image,
# starts `berth server` in the background, and deploys "hello" in project "demo".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/prerequisites.sh
berth_prepare
./scripts/build-demo-image.sh berth-demo/hello:1 >/dev/null

export BERTH_DATA_DIR=${BERTH_DATA_DIR:-$PWD/.berth}
api=${BERTH_API_LISTEN:-127.0.0.1:7070}
mkdir -p "$BERTH_DATA_DIR"
if ! curl -fsS "http://$api/healthz" >/dev/null 2>&1; then
  echo "berth: starting the server (log: $BERTH_DATA_DIR/server.log)"
  (setsid node bin/berth.js server >>"$BERTH_DATA_DIR/server.log" 2>&1 &)
  for _ in $(seq 1 60); do curl -fsS "http://$api/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
fi
curl -fsS "http://$api/healthz" >/dev/null || { tail -20 "$BERTH_DATA_DIR/server.log"; exit 1; }

admin=${BERTH_ADMIN_TOKEN:-$(cat "$BERTH_DATA_DIR/admin-token")}
export BERTH_URL="http://$api"
tokenfile="$BERTH_DATA_DIR/demo-token"
if [ ! -s "$tokenfile" ]; then
  BERTH_TOKEN=$admin node bin/berth.js project create demo --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).token))' > "$tokenfile"
  chmod 600 "$tokenfile"
fi
export BERTH_TOKEN=$(cat "$tokenfile")
node bin/berth.js create hello >/dev/null 2>&1 || true
node bin/berth.js deploy hello --image berth-demo/hello:1 --memory-reservation 16 --memory-limit 32 --port 80 --env GREETING=hello
node bin/berth.js ls
echo
echo "berth is up. Try:  curl $(node bin/berth.js ls --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).find(x=>x.name==="hello").url))')/"
echo "CLI:  export BERTH_URL=$BERTH_URL BERTH_TOKEN=\$(cat $tokenfile)"
