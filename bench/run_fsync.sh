#!/usr/bin/env bash
# Write throughput in each durability mode: redis-benchmark SET (random keys over 100k)
# against tidekv with appendfsync always / everysec / no, and against redis-server with
# appendonly yes and the same appendfsync, 50 clients and 1 client. Prints a Markdown table.
# Usage: bench/run_fsync.sh [requests] [report-file]   (run `make` first)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
OUT=${2:-/dev/stdout}

# shellcheck source=bench/ports.sh
source bench/ports.sh
rps() { redis-benchmark -p "$1" -t set -n "$2" -r 100000 -c "$3" --csv 2>/dev/null | tail -n 1 | cut -d'"' -f4; }

# One server in one mode: prints "rps-50-clients rps-1-client".
measure() { # kind mode
  local dir port pid
  dir=$(mktemp -d); port=$(free_port)
  if [ "$1" = redis ]; then
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes --appendfsync "$2" >/dev/null &
  else
    build/tidekv-server --port "$port" --dir "$dir" --logfile "$dir/log" --appendfsync "$2" &
  fi
  pid=$!
  wait_up "$port"
  echo "$(rps "$port" "$N" 50) $(rps "$port" $((N / 5)) 1)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

{
echo "### Durability modes (SET, $(date -u +%Y-%m-%d), $(nproc) cores, redis $(redis-server --version | cut -d' ' -f3 | cut -d= -f2))"
echo
echo "| appendfsync | redis-server (AOF) 50 clients | tidekv 50 clients | ratio | redis-server 1 client | tidekv 1 client | ratio |"
echo "|---|---|---|---|---|---|---|"
for mode in always everysec no; do
  read -r r50 r1 < <(measure redis "$mode")
  read -r t50 t1 < <(measure tidekv "$mode")
  echo "| $mode | $r50 | $t50 | $(echo "$t50 / $r50" | bc -l | cut -c1-4) | $r1 | $t1 | $(echo "$t1 / $r1" | bc -l | cut -c1-4) |"
done
} > "$OUT"
