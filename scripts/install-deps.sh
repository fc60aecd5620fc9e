#!/usr/bin/env bash
# Installs tidekv's build, test and benchmark dependencies from Debian's packages.
# Idempotent: packages already present are not reinstalled, and apt is only
# touched when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libclang-rt-dev   # make fuzz; clang only recommends the libFuzzer runtime
  librocksdb-dev libevent-dev
  libcmocka-dev libhiredis-dev
  python3-pytest python3-redis
  redis-tools redis-server bc
  libnats-dev nats-server   # tidekv-cdc's nats:// sink and its tests
  liblua5.1-0-dev lua-cjson-dev lua-bitop   # scripting: Lua 5.1 with cjson and bit, as Redis embeds
  redis-sentinel   # the replication tests fail a tidekv master over with Redis Sentinel
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Packages such as redis-server and redis-sentinel start a daemon when installed; the tests start
# their own on free ports. Unless the machine already has a policy (containers do), refuse service
# starts while installing.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
