#!/usr/bin/env bash
# Instructions the server spends per request, counted with callgrind (repeatable whatever else
# the machine is doing, unlike throughput): for each binary given, each command, the
# difference between runs of LONG and SHORT requests, so start-up and shutdown cancel out.
#   bench/run_instructions.sh OLD_BINARY NEW_BINARY ...   (env SIZE: value bytes, default 16)
# Prints one line per command and binary. Needs valgrind and redis-benchmark.
set -euo pipefail

SHORT=${SHORT:-5000}
LONG=${LONG:-25000}
TESTS=${TESTS:-"get:1 get:16 set:1 set:16 lpush:1"}

# shellcheck source=bench/ports.sh
source "$(dirname "$0")/ports.sh"

# Total instructions of one server run serving n requests of a test at a pipeline depth.
count() {
  local bin=$1 n=$2 test=$3 pipe=$4 port dir pid
  port=$(free_port)
  dir=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file="$dir/out" "$bin" --port "$port" --dir "$dir/data" \
    --workers 1 >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.5; done
  redis-benchmark -p "$port" -t "$test" -P "$pipe" -n "$n" -c 10 -r 100000 -d "${SIZE:-16}" -q >/dev/null 2>&1
  redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
  wait "$pid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$dir/out"
  rm -rf "$dir"
}

for t in $TESTS; do
  test=${t%%:*} pipe=${t##*:}
  for bin in "$@"; do
    short=$(count "$bin" "$SHORT" "$test" "$pipe")
    long=$(count "$bin" "$LONG" "$test" "$pipe")
    echo "$test -P $pipe $bin: $(((long - short) / (LONG - SHORT))) instructions/request"
  done
done
