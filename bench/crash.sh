#!/usr/bin/env bash
# The long crash harness: kill -9 under concurrent writers for many rounds, checking after
# each restart that no acknowledged write is lost and the change stream has no holes or
# repeats. Usage: bench/crash.sh [rounds] [appendfsync]   (run `make` first)
set -euo pipefail
cd "$(dirname "$0")/.."
TIDEKV_SERVER="$PWD/build/tidekv-server" exec /usr/bin/python3 tests/integration/crash_harness.py \
  --rounds "${1:-200}" --appendfsync "${2:-everysec}"
