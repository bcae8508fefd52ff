# Sourced by up.sh, test.sh and .ci/run: installs what berth needs on Debian 12
# and makes sure the Docker engine runs. Safe to run again and again.

# nginx-dev, gcc, make and libc6-dev build berth's nginx module against the nginx installed;
# iproute2's ip sets the host's ARP entry of each task started (ADR 006).
# pebble (the ACME test server) is what the TLS tests and the tls bench get certificates from.
BERTH_DEBIAN_PACKAGES=(docker.io nginx-light nginx-dev gcc make libc6-dev iproute2 docker-registry busybox-static openssl pebble redis-server postgresql-15 postgresql-client-15 prometheus chromium)

berth_install_packages() {
  local missing=()
  for pkg in "${BERTH_DEBIAN_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "berth: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

berth_start_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  echo "berth: starting dockerd"
  (setsid dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "berth: dockerd did not start; see /var/log/dockerd.log" >&2
  tail -20 /var/log/dockerd.log >&2 || true
  return 1
}

berth_node_modules() {
  # npm ci only when the lock file changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.berth-lock; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.berth-lock
  fi
}

berth_build() {
  npm run --silent build
}

# Everything a fresh machine needs before berth can run or be tested.
berth_prepare() {
  berth_install_packages "$@"
  berth_start_docker
  berth_node_modules
  berth_build
}
