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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
