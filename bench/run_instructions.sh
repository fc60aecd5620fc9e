#!/usr/bin/env bash
# Instructions the server spends per request, counted with callgrind (repeatable whatever else
# the machine is doing, unlike throughput): for each binary given, each command, the
# difference between runs of LONG and SHORT requests, so start-up and shutdown cancel out.
#   bench/run_instructions.sh OLD_BINARY NEW_BINARY ...   (env SIZE: value bytes, default 16)
# TESTS lists test:pipeline pairs: redis-benchmark's -t tests, plus xadd (XADD s * f v) and
# xread (XREAD COUNT 10 STREAMS s 0 on a stream of 100 entries, added before either run).
# Prints one line per command and binary. Needs valgrind and redis-benchmark.
set -euo pipefail
set -f # the stream commands' '*' is an argument, not a glob

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
  local bench=(redis-benchmark -p "$port" -P "$pipe" -n "$n" -c 10 -r 100000 -d "${SIZE:-16}" -q)
  case $test in
  xadd) "${bench[@]}" XADD s '*' f v >/dev/null 2>&1 ;;
  xread)
    redis-benchmark -p "$port" -n 100 -c 1 XADD s '*' f v >/dev/null 2>&1
    "${bench[@]}" XREAD COUNT 10 STREAMS s 0 >/dev/null 2>&1
    ;;
  *) "${bench[@]}" -t "$test" >/dev/null 2>&1 ;;
  esac
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
