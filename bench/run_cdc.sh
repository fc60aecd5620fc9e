#!/usr/bin/env bash
# CDC benchmarks: drain speed (100k and 1M changes, RAW/RESP/JSON), BLOCK wake-up latency,
# and write throughput with 10 blocked pollers attached vs none. Prints a Markdown report.
# Usage: bench/run_cdc.sh [report-file]   (run `make` first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/tidekv-server
TOOL=build/cdc_bench
OUT=${1:-/dev/stdout}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() {
  DIR=$(mktemp -d)
  PORT=$(free_port)
  launch
}

launch() {
  "$BIN" --port "$PORT" --dir "$DIR" --logfile "$DIR/log" &
  PID=$!
  for _ in $(seq 600); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}

# A restart empties the in-memory tail cache: the next drain reads the WAL only.
restart_server() { kill "$PID"; wait "$PID" || true; launch; }

stop_server() { kill "$PID"; wait "$PID" || true; rm -rf "$DIR"; }

rps() { tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1; }

{
echo "### CDC ($(date -u +%Y-%m-%d), $(nproc) cores, $(redis-server --version | cut -d' ' -f3))"
echo
echo "| changes | read from | format | changes/s |"
echo "|---|---|---|---|"
declare -A secs
drain_all() { # $1 = changes, $2 = where they come from
  for f in RAW RESP JSON; do
    line=$("$TOOL" drain "$PORT" "$f")
    rate=$(echo "$line" | grep -o '= [0-9]*' | cut -d' ' -f2)
    secs[$1$2$f]=$(echo "$line" | grep -o 'in [0-9.]\+ s' | cut -d' ' -f2)
    echo "| $1 | $2 | $f | $rate |"
  done
}
for n in 100000 1000000; do
  start_server
  redis-benchmark -p "$PORT" -t set -n "$n" -r 1000000 -d 16 -c 50 -q >/dev/null 2>&1
  drain_all "$n" "cache+WAL"
  restart_server
  drain_all "$n" "WAL"
  stop_server
done
echo
for src in "cache+WAL" WAL; do
  for f in RAW RESP JSON; do
    echo "- 1M drain / 100k drain time, $src, $f: $(echo "${secs[1000000$src$f]} / ${secs[100000$src$f]}" | bc -l | cut -c1-5)×"
  done
done
echo
start_server
"$TOOL" latency "$PORT" 100 >/dev/null # warm-up: the first poll from a new position opens a WAL iterator
echo "BLOCK wake-up: $("$TOOL" latency "$PORT" 10000)"
echo
base=$(redis-benchmark -p "$PORT" -t set -n 200000 -r 100000 -c 50 -q 2>&1 | rps)
"$TOOL" pollers "$PORT" 10 12 &
POLLERS=$!
sleep 0.5
with=$(redis-benchmark -p "$PORT" -t set -n 200000 -r 100000 -c 50 -q 2>&1 | rps)
wait $POLLERS
stop_server
echo "SET throughput: $base rps with no pollers, $with rps with 10 BLOCKed pollers ($(echo "$with / $base" | bc -l | cut -c1-4)×)"
} > "$OUT"
