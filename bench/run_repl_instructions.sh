#!/usr/bin/env bash
# Instructions a master and its replicas spend per replicated write, counted with callgrind
# (instrumentation on only while a fixed workload of N SETs runs on the master and the replicas catch
# up): comparable whatever else the machine is doing, unlike throughput. For 0, 1 and 2 replicas (env REPLICAS to choose), prints the
# master's instructions per write and each replica's.
#   bench/run_repl_instructions.sh [BINARY]   (env N: writes, default 200000; PIPE: -P, default 1)
# Needs valgrind and redis-benchmark.
set -euo pipefail

SERVER=${1:-build/tidekv-server}
N=${N:-200000}
PIPE=${PIPE:-1}
REPLICAS=${REPLICAS:-"0 1 2"}

# shellcheck source=bench/ports.sh
source "$(dirname "$0")/ports.sh"

PIDS=() DIRS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${DIRS[@]}"; do rm -rf "$d" "$d.cg" "$d.cg.1" "$d.vg"; done
  PIDS=() DIRS=()
}
trap cleanup EXIT

start_node() { # master port, or "" for a master; sets PORT and the new pid's index
  DIR=$(mktemp -d /tmp/repl-instr.XXXXXX) PORT=$(free_port)
  DIRS+=("$DIR")
  local follow=()
  [ -n "$1" ] && follow=(--replicaof 127.0.0.1 "$1")
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR.cg" \
    "$SERVER" --port "$PORT" --dir "$DIR" --logfile "$DIR/log" "${follow[@]}" >"$DIR.vg" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server on $PORT did not start" >&2
  exit 1
}

link_up() { redis-cli -p "$1" INFO replication | tr -d '\r' | grep -q '^master_link_status:up'; }

# Callgrind's count since instrumentation began, dumped now (into $1.cg.1; with env KEEP, kept
# as $KEEP.<name> for callgrind_annotate).
count_read() {
  callgrind_control -d "$2" >/dev/null 2>&1
  sleep 1 # the dump is written after the command is acknowledged
  [ -n "${KEEP:-}" ] && cp "$1.cg.1" "$KEEP.$3"
  awk '/^(summary|totals):/ {print $2; exit}' "$1.cg.1"
}

for r in $REPLICAS; do
  start_node ""
  master=$PORT
  ports=()
  for _ in $(seq "$r"); do
    start_node "$master"
    ports+=("$PORT")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 300); do link_up "$p" && break; sleep 0.1; done
  done
  for p in "${PIDS[@]}"; do callgrind_control -i on "$p" >/dev/null 2>&1; done
  redis-benchmark -p "$master" -t set -P "$PIPE" -n "$N" -c 50 -r 100000 -d 16 -q >/dev/null 2>&1
  latest=$(redis-cli -p "$master" SEQUENCE)
  for p in "${ports[@]}"; do
    for _ in $(seq 3000); do [ "$(redis-cli -p "$p" SEQUENCE)" -ge "$latest" ] && break; sleep 0.1; done
  done
  line="replicas=$r:"
  for i in "${!PIDS[@]}"; do
    name=master
    [ "$i" -gt 0 ] && name=replica$i
    line+=" $name $(($(count_read "${DIRS[$i]}" "${PIDS[$i]}" "$r.$name") / N))"
  done
  echo "$line instructions/write"
  cleanup
done
