#!/usr/bin/env bash
# redis-benchmark of stream commands against redis-server and tidekv: XADD to a new stream, and
# XRANGE s - + COUNT 10 and XREAD COUNT 10 STREAMS s 0 against a stream prefilled with PREFILL
# entries; each unpipelined and at -P 16. Fresh servers for each round, rounds interleaved
# (redis, tidekv, redis, …); prints the medians, their ratios and the goals (issue 17).
#
# Usage: bench/run_streams.sh [requests-per-test]          (run `make` first)
# Environment: ROUNDS (3), CLIENTS (50), PREFILL (100000), TIDEKV_ARGS (extra server flags)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
PREFILL=${PREFILL:-100000}
TESTS=("XADD a * field value" "XRANGE s - + COUNT 10" "XREAD COUNT 10 STREAMS s 0")
NAMES=(XADD "XRANGE COUNT 10" "XREAD COUNT 10")
GOALS=(0.8 "" 0.6)

# shellcheck source=bench/fresh_server.sh
source bench/fresh_server.sh

# One test: prints "rps p99_ms".
bench_test() { # pipeline command…
  local pipe=$1
  shift
  redis-benchmark -p "$PORT" -n "$N" -c "$CLIENTS" -P "$pipe" --csv "$@" 2>/dev/null |
    tail -n 1 | tr -d '"' | awk -F, '{print $2, $7}'
}

# Every test on a fresh server with the stream s prefilled: prints "test pipeline rps p99" lines.
bench_server() { # redis|tidekv
  start_server "$1"
  redis-benchmark -p "$PORT" -n "$PREFILL" -c 1 -P 100 XADD s '*' field value >/dev/null 2>&1
  [ "$(redis-cli -p "$PORT" XLEN s)" = "$PREFILL" ] || { echo "prefill failed on $1" >&2; exit 1; }
  for i in "${!TESTS[@]}"; do
    for pipe in 1 16; do
      # shellcheck disable=SC2086 # each test is a list of words
      echo "$i $pipe $(bench_test "$pipe" ${TESTS[$i]})"
    done
  done
  stop_server
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

set -f # the tests' '*' and '+' are arguments, not globs
declare -A rps p99
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for server in redis tidekv; do
    while read -r i pipe r p; do
      rps[$server,$i,$pipe]+="$r " p99[$server,$i,$pipe]+="$p "
    done < <(bench_server "$server")
  done
done

echo "### Streams, $(date -u "+%Y-%m-%d %H:%M") UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "redis-benchmark, $N requests per test, $CLIENTS clients, medians of $ROUNDS rounds (fresh servers," \
  "interleaved); XRANGE and XREAD read a stream of $PREFILL entries. redis-server" \
  "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') without persistence, tidekv" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo '?') with its defaults${TIDEKV_ARGS:+ and $TIDEKV_ARGS}."
echo
echo "| test | pipeline | redis-server rps | tidekv rps | ratio | redis p99 ms | tidekv p99 ms | goal |"
echo "|---|---|---|---|---|---|---|---|"
for i in "${!TESTS[@]}"; do
  for pipe in 1 16; do
    r=$(echo "${rps[redis,$i,$pipe]}" | median) t=$(echo "${rps[tidekv,$i,$pipe]}" | median)
    rp=$(echo "${p99[redis,$i,$pipe]}" | median) tp=$(echo "${p99[tidekv,$i,$pipe]}" | median)
    ratio=$(awk -v a="$r" -v b="$t" 'BEGIN {printf "%.2f", b / a}')
    goal="—"
    [ -n "${GOALS[$i]}" ] && goal=$(awk -v r="$ratio" -v w="${GOALS[$i]}" \
      'BEGIN {printf "%s (≥ %s×)", (r >= w ? "met" : "not met"), w}')
    echo "| ${NAMES[$i]} | $pipe | $r | $t | $ratio | $rp | $tp | $goal |"
  done
done
