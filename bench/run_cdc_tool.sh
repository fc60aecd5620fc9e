#!/usr/bin/env bash
# tidekv-cdc benchmarks (issue 14). Prints a Markdown report.
#  1. Delivery: a backlog of BACKLOG SETs (16 B values, 100k keys) written to a fresh source, then
#     tidekv-cdc --once delivers it into redis-server, a jsonl: file and NATS JetStream while
#     redis-benchmark writes WRITER more SETs beside it (-c 20, unpipelined). changes/s = source
#     sequences delivered (CDC INFO's sequence, before and after) / the tool's wall time.
#  2. The reference: redis-server taking BACKLOG changes as pipelined MULTI / SET … / SET position /
#     EXEC, one change per transaction (a batch per MULTI) and 1000 (as the tool groups a poll).
#  3. Lag at LAG_RATE writes/s into redis-server for LAG_SECONDS: write-to-target latency of one
#     write in 100 (an RPUSH the bench BLPOPs from the target), p50/p99/max.
#  4. Snapshot copy: COPY_KEYS string keys copied into redis-server and into a jsonl: file (--snapshot).
# Every step runs ROUNDS times on fresh servers; the tables give the median.
# Usage: bench/run_cdc_tool.sh [report-file]   (run `make` first)
# Env: BACKLOG (1000000), WRITER (200000), LAG_RATE (20000), LAG_SECONDS (10), COPY_KEYS (1000000),
#      ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=build/tidekv-server
TOOL=build/tidekv-cdc
HELPER=build/cdc_tool_bench
OUT=${1:-/dev/stdout}
BACKLOG=${BACKLOG:-1000000}
WRITER=${WRITER:-200000}
LAG_RATE=${LAG_RATE:-20000}
LAG_SECONDS=${LAG_SECONDS:-10}
COPY_KEYS=${COPY_KEYS:-1000000}
ROUNDS=${ROUNDS:-3}
PIDS=() DIRS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "${DIRS[@]}"
  PIDS=() DIRS=()
}
trap cleanup EXIT

# shellcheck source=bench/ports.sh
source bench/ports.sh
wait_ping() {
  for _ in $(seq 600); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server on port $1 did not start" >&2; exit 1
}
wait_port() {
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done
  echo "nothing listens on port $1" >&2; exit 1
}
new_dir() { DIR=$(mktemp -d /tmp/cdc-tool-bench.XXXXXX); DIRS+=("$DIR"); }

start_source() { # sets SRC
  new_dir; SRC=$(free_port)
  "$SERVER" --port "$SRC" --dir "$DIR" --logfile "$DIR/log" & PIDS+=($!)
  wait_ping "$SRC"
}
start_redis() { # sets TGT
  new_dir; TGT=$(free_port)
  redis-server --port "$TGT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no >/dev/null & PIDS+=($!)
  wait_ping "$TGT"
}
start_nats() { # sets NATS
  new_dir; NATS=$(free_port)
  nats-server -js -a 127.0.0.1 -p "$NATS" -sd "$DIR" >/dev/null 2>&1 & PIDS+=($!)
  wait_port "$NATS"
}

# The URL (and extra flags) of a fresh sink of kind $1: redis, jsonl or nats.
start_sink() {
  case $1 in
    redis) start_redis; SINK="redis://127.0.0.1:$TGT" EXTRA=() ;;
    jsonl) new_dir; SINK="jsonl:$DIR/audit.jsonl" EXTRA=() ;;
    nats) start_nats; SINK="nats://127.0.0.1:$NATS/tidekv.bench" EXTRA=(--create-stream BENCH) ;;
  esac
}

cdc_args() { CDC_ARGS=(--source "127.0.0.1:$SRC" --consumer bench --sink "$SINK" --progress 0 "${EXTRA[@]}"); }
cdc() { cdc_args; "$TOOL" "${CDC_ARGS[@]}" "$@"; }
# In the background, the tool itself (not a subshell running it) gets cleanup's SIGTERM.
cdc_background() { cdc_args; "$TOOL" "${CDC_ARGS[@]}" & PIDS+=($!); }

consumer_sequence() { redis-cli -p "$SRC" CDC INFO bench | sed -n '/^sequence$/{n;p}'; }
now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {printf "%.0f", NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

delivery_round() { # $1 = sink kind; prints changes/s
  start_source; start_sink "$1"
  cdc --once 2>/dev/null # creates the consumer (and copies the empty source)
  local before; before=$(consumer_sequence)
  redis-benchmark -p "$SRC" -t set -n "$BACKLOG" -r 100000 -d 16 -c 50 -P 16 -q >/dev/null 2>&1
  redis-benchmark -p "$SRC" -t set -n "$WRITER" -r 100000 -d 16 -c 20 -q >/dev/null 2>&1 & local writer=$!
  local t0 t1; t0=$(now); cdc --once 2>/dev/null; t1=$(now)
  wait "$writer"
  local after; after=$(consumer_sequence)
  awk "BEGIN { print ($after - $before) / ($t1 - $t0) }"
  cleanup
}

lag_round() {
  start_source; start_sink redis
  cdc_background 2>/dev/null
  for _ in $(seq 600); do [ -n "$(redis-cli -p "$TGT" GET tidekv-cdc:bench)" ] && break; sleep 0.1; done
  "$HELPER" lag "$SRC" "$TGT" "$LAG_RATE" "$LAG_SECONDS"
  cleanup
}

copy_round() { # $1 = sink kind; prints keys/s
  start_source
  "$HELPER" load "$SRC" "$COPY_KEYS"
  start_sink "$1"
  [ "$1" = jsonl ] && EXTRA=(--snapshot)
  local t0 t1; t0=$(now); cdc --once 2>/dev/null; t1=$(now)
  awk "BEGIN { print $COPY_KEYS / ($t1 - $t0) }"
  cleanup
}

declare -A rates
for _ in $(seq "$ROUNDS"); do
  for kind in redis jsonl nats; do rates[deliver $kind]+="$(delivery_round $kind) "; done
  start_redis
  for per in 1 1000; do
    rates[multi $per]+="$("$HELPER" multi "$TGT" "$BACKLOG" "$per" | grep -o '[0-9]* changes/s' | cut -d' ' -f1) "
  done
  cleanup
  for kind in redis jsonl; do rates[copy $kind]+="$(copy_round $kind) "; done
  rates[lag]+="$(lag_round | grep -o 'p99 [0-9.]*' | cut -d' ' -f2) "
done
med() { echo "${rates[$1]}" | tr ' ' '\n' | grep . | median; }
lag_p99=$(echo "${rates[lag]}" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')

{
echo "### tidekv-cdc ($(date -u +%Y-%m-%d), $(nproc) cores, redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2), nats-server $(nats-server --version | grep -o '[0-9][0-9.]*' | head -1), median of $ROUNDS)"
echo
echo "| what | rate |"
echo "|---|---|"
echo "| delivered into redis-server (backlog $BACKLOG + writer $WRITER) | $(med 'deliver redis') changes/s |"
echo "| delivered into jsonl: (everysec) | $(med 'deliver jsonl') changes/s |"
echo "| delivered into NATS JetStream | $(med 'deliver nats') changes/s |"
echo "| redis-server taking pipelined MULTI/EXEC, 1 change each | $(med 'multi 1') changes/s |"
echo "| redis-server taking pipelined MULTI/EXEC, 1000 changes each | $(med 'multi 1000') changes/s |"
echo "| snapshot copy of $COPY_KEYS keys into redis-server | $(med 'copy redis') keys/s |"
echo "| snapshot copy of $COPY_KEYS keys into jsonl: | $(med 'copy jsonl') keys/s |"
echo "| lag p99 at $LAG_RATE writes/s into redis-server (median of the rounds' p99) | $lag_p99 ms |"
echo
echo "Each round's values: $(for k in "${!rates[@]}"; do printf '%s: %s; ' "$k" "${rates[$k]% }"; done)"
} > "$OUT"
