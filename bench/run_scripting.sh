#!/usr/bin/env bash
# redis-benchmark EVALSHA of a small INCR script against redis-server and tidekv, fresh servers
# for each round, rounds interleaved (redis, tidekv, redis, …); prints the medians and their ratio.
#
# Usage: bench/run_scripting.sh [requests]          (run `make` first)
# Environment: ROUNDS (5), CLIENTS (50), KEYSPACE (100000), TIDEKV_ARGS (extra server flags)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
SCRIPT="return redis.call('INCR', KEYS[1])"

# shellcheck source=bench/fresh_server.sh
source bench/fresh_server.sh

# One run on a fresh server: prints "rps p99_ms".
bench_one() { # redis|tidekv
  start_server "$1"
  local sha
  sha=$(redis-cli -p "$PORT" SCRIPT LOAD "$SCRIPT")
  redis-benchmark -p "$PORT" -n "$N" -c "$CLIENTS" -r "$KEYSPACE" --csv \
    EVALSHA "$sha" 1 "key:__rand_int__" 2>/dev/null | tail -n 1 | tr -d '"' | awk -F, '{print $2, $7}'
  stop_server
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

redis_rps="" tidekv_rps="" redis_p99="" tidekv_p99=""
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  read -r r rp < <(bench_one redis)
  read -r t tp < <(bench_one tidekv)
  echo "  redis-server $r rps (p99 $rp ms), tidekv $t rps (p99 $tp ms)" >&2
  redis_rps+="$r " tidekv_rps+="$t " redis_p99+="$rp " tidekv_p99+="$tp "
done
r=$(echo "$redis_rps" | median) t=$(echo "$tidekv_rps" | median)
rp=$(echo "$redis_p99" | median) tp=$(echo "$tidekv_p99" | median)
echo "EVALSHA of \"$SCRIPT\", $N requests, $CLIENTS clients, keyspace $KEYSPACE, medians of $ROUNDS rounds"
echo "| server | rps | p99 ms |"
echo "|---|---|---|"
echo "| redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') | $r | $rp |"
echo "| tidekv $(git rev-parse --short HEAD 2>/dev/null || echo '?') | $t | $tp |"
awk -v a="$r" -v b="$t" 'BEGIN {printf "ratio tidekv / redis-server: %.2f (goal ≥ 0.8)\n", b / a}'
