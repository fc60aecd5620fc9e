#!/usr/bin/env bash
# redis-benchmark against redis-server and tidekv on free loopback ports, alternating
# (A B A B A B), medians of 3 rounds, 50 clients. Prints a Markdown table of rps and ratios.
# Usage: bench/run.sh [requests] [report-file]   (run `make` first)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
OUT=${2:-/dev/stdout}
TESTS=set,get,incr
TYPE_TESTS=hset,lpush,rpush,lpop,sadd,spop,zadd,zpopmin,lrange_100

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; exit 1; }

RDIR=$(mktemp -d); TDIR=$(mktemp -d)
RPORT=$(free_port); TPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$RDIR" --save "" --appendonly no >/dev/null &
RPID=$!
build/tidekv-server --port "$TPORT" --dir "$TDIR" --logfile "$TDIR/log" &
TPID=$!
trap 'kill $RPID $TPID 2>/dev/null; wait $RPID $TPID 2>/dev/null; rm -rf "$RDIR" "$TDIR"' EXIT
wait_up "$RPORT"; wait_up "$TPORT"

# One redis-benchmark run: prints "TEST rps" lines (CSV output); $3 = the tests.
# Test names may hold spaces ("LPUSH (needed to benchmark LRANGE)"): keep the first word.
run() { redis-benchmark -p "$1" -t "${3:-$TESTS}" -n "$N" -r 100000 -c 50 -P "$2" --csv 2>/dev/null | tail -n +2 | awk -F'","' '{name = $1; gsub(/"/, "", name); split(name, w, " "); print w[1], $2}'; }

declare -A res
for round in 1 2 3; do
  for pipe in 1 16; do
    while read -r t v; do res[redis,$pipe,$t]+="$v "; done < <(run "$RPORT" "$pipe")
    while read -r t v; do res[tidekv,$pipe,$t]+="$v "; done < <(run "$TPORT" "$pipe")
  done
  while read -r t v; do res[redis,1,$t]+="$v "; done < <(run "$RPORT" 1 "$TYPE_TESTS")
  while read -r t v; do res[tidekv,1,$t]+="$v "; done < <(run "$TPORT" 1 "$TYPE_TESTS")
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | sed -n 2p; }

{
echo "### redis-benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $N requests, 50 clients, redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2))"
echo
echo "| test | pipeline | redis-server rps | tidekv rps | ratio |"
echo "|---|---|---|---|---|"
row() { # test pipeline
  r=$(echo "${res[redis,$2,$1]}" | median); k=$(echo "${res[tidekv,$2,$1]}" | median)
  echo "| $1 | $2 | $r | $k | $(echo "$k / $r" | bc -l | cut -c1-4) |"
}
for pipe in 1 16; do for t in SET GET INCR; do row "$t" "$pipe"; done; done
for t in HSET LPUSH RPUSH LPOP SADD SPOP ZADD ZPOPMIN LRANGE_100; do row "$t" 1; done
} > "$OUT"
