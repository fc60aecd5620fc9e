#!/usr/bin/env bash
# Issue 13 benchmarks. Prints a Markdown report.
#  1. Full read: N keys of mixed types (strings, hashes, sets, zsets, lists of 3 … 34 elements)
#     read from tidekv with SNAPSHOT CREATE + SNAPSHOT READ COUNT 1000 (RESP and JSON), and the
#     same keys from redis-server with SCAN + TYPE + GET/HGETALL/SMEMBERS/ZRANGE/LRANGE
#     (pipelined per SCAN page); keys/s and elements/s, median of READS runs. Loading and
#     reads are build/snapshot_read_bench (C, hiredis), the same client for both servers.
#  2. SET throughput (redis-benchmark, 16 B, -c 50) with no consumer vs with a durable consumer
#     created at the start of the run and never acknowledged, A B A B over ROUNDS rounds.
#  3. WAL bytes per 1 KiB SET: growth of the data directory's *.log files (WAL and archive)
#     over WAL_SETS SETs of 1 KiB values to distinct keys.
# Usage: bench/run_snapshot.sh [report-file]   (run `make` first: it builds the reader too)
# Env: N (keys, default 1000000), ELEMENTS ("MIN MAX" elements per collection, default "3 34"), READS (3), ROUNDS (3), SETS (200000), WAL_SETS (100000),
#      BIN (server binary, default build/tidekv-server), PARTS (default "1 2 3").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/tidekv-server}
PY=/usr/bin/python3
READER=${READER:-build/snapshot_read_bench}
OUT=${1:-/dev/stdout}
N=${N:-1000000}
ELEMENTS=${ELEMENTS:-3 34} # MIN MAX elements of each collection
PARTS=${PARTS:-"1 2 3"}
PIDS=()
DIRS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "${DIRS[@]}"' EXIT

# shellcheck source=bench/ports.sh
source bench/ports.sh

wait_ping() {
  for _ in $(seq 600); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server on port $1 did not start" >&2; exit 1
}

start() { # $1 = tidekv|redis; sets PORT, DIR, PID
  DIR=$(mktemp -d /tmp/i13-bench.XXXXXX); DIRS+=("$DIR")
  PORT=$(free_port)
  if [ "$1" = tidekv ]; then
    "$BIN" --port "$PORT" --dir "$DIR" --logfile "$DIR/log" &
  else
    redis-server --port "$PORT" --dir "$DIR" --save '' --appendonly no --logfile "$DIR/log" &
  fi
  PID=$!; PIDS+=("$PID")
  wait_ping "$PORT"
}

stop() { kill "$PID"; wait "$PID" || true; rm -rf "$DIR"; }

median() { sort -g | awk '{v[NR]=$1} END {printf "%.4f", NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
field() { echo "$1" | awk -v f="$2" '{for (i = 1; i < NF; i++) if ($i == f) print $(i + 1)}'; }

{
echo "### Issue 13 ($(date -u +%Y-%m-%d), $(nproc) cores, redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2), load before: $(uptime | sed 's/.*load average: //'))"
echo

if [[ " $PARTS " == *" 1 "* ]]; then
  start tidekv; T_PORT=$PORT T_PID=$PID T_DIR=$DIR
  start redis; R_PORT=$PORT R_PID=$PID R_DIR=$DIR
  t0=$(date +%s.%N); $READER load "$T_PORT" "$N" $ELEMENTS; t1=$(date +%s.%N)
  $READER load "$R_PORT" "$N" $ELEMENTS; t2=$(date +%s.%N)
  echo "Loaded $N keys with $ELEMENTS elements per collection: tidekv $(echo "$t1 - $t0" | bc | cut -c1-6) s, redis-server $(echo "$t2 - $t1" | bc | cut -c1-6) s (pipelined by 1000)."
  declare -A secs cpu
  HZ=$(getconf CLK_TCK)
  ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  # RocksDB flushes and compacts what was loaded in the background: wait until tidekv idles
  # (under 5% of a core over a second, at most 10 minutes), so that the reads do not pay for it.
  settle=0
  for _ in $(seq 600); do
    c0=$(ticks "$T_PID"); sleep 1; settle=$((settle + 1))
    [ $(( $(ticks "$T_PID") - c0 )) -le $(( HZ / 20 )) ] && break
  done
  echo "tidekv's background work after the load settled in ${settle} s."
  echo
  keys="" elems=""
  # Alternate the three reads so that the machine's other load falls on all of them alike.
  for _ in $(seq "${READS:-3}"); do
    for what in RESP JSON scan; do
      if [ "$what" = scan ]; then spid=$R_PID; else spid=$T_PID; fi
      c0=$(ticks "$spid")
      if [ "$what" = scan ]; then line=$($READER scan "$R_PORT"); else line=$($READER snapshot "$T_PORT" "$what"); fi
      cpu[$what]+="$(echo "($(ticks "$spid") - $c0) / $HZ" | bc -l) "
      secs[$what]+="$(field "$line" in) "
      keys+="$what=$(field "$line" keys) " elems+="$what=$(field "$line" elements) "
    done
  done
  PID=$T_PID DIR=$T_DIR stop; PID=$R_PID DIR=$R_DIR stop
  echo "Keys and elements read per run: $(echo "$keys" | tr ' ' '\n' | sort -u | tr '\n' ' '); $(echo "$elems" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
  echo
  E=$(echo "$elems" | grep -o 'scan=[0-9]*' | head -1 | cut -d= -f2)
  # Wall-clock rates include the client's parsing (hiredis, alike for both); the server's own
  # CPU seconds per read (utime + stime) give what it could serve to a faster client.
  echo "| read | median s (of ${READS:-3}) | keys/s | elements/s | vs redis-server SCAN path | server CPU s | keys per server CPU s | elements per server CPU s | vs redis-server (CPU) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  scan_c=$(echo "${cpu[scan]}" | tr ' ' '\n' | grep . | median)
  scan_s=$(echo "${secs[scan]}" | tr ' ' '\n' | grep . | median)
  for what in RESP JSON scan; do
    s=$(echo "${secs[$what]}" | tr ' ' '\n' | grep . | median)
    label=$([ "$what" = scan ] && echo "redis-server SCAN + reads" || echo "tidekv SNAPSHOT READ $what")
    c=$(echo "${cpu[$what]}" | tr ' ' '\n' | grep . | median)
    printf "| %s | %s | %.0f | %.0f | %.2f× | %.2f | %.0f | %.0f | %.2f× |\n" "$label" "$s" "$(echo "$N / $s" | bc -l)" "$(echo "$E / $s" | bc -l)" "$(echo "$scan_s / $s" | bc -l)" \
      "$c" "$(echo "$N / $c" | bc -l)" "$(echo "$E / $c" | bc -l)" "$(echo "$scan_c / $c" | bc -l)"
  done
  echo
fi

if [[ " $PARTS " == *" 2 "* ]]; then
  # A fresh server per run; the "consumer" runs create one right after start and never ack it,
  # so the WAL it pins grows through the whole run.
  SETS=${SETS:-200000}
  declare -a ratios
  echo "| round | SET rps, no consumer | with an idle consumer | ratio |"
  echo "|---|---|---|---|"
  for round in $(seq "${ROUNDS:-3}"); do
    start tidekv
    a=$(redis-benchmark -p "$PORT" -t set -n "$SETS" -r 1000000 -d 16 -c 50 -q 2>/dev/null | grep -o '[0-9.]* requests per second' | cut -d' ' -f1)
    stop
    start tidekv
    redis-cli -p "$PORT" cdc create idle >/dev/null
    b=$(redis-benchmark -p "$PORT" -t set -n "$SETS" -r 1000000 -d 16 -c 50 -q 2>/dev/null | grep -o '[0-9.]* requests per second' | cut -d' ' -f1)
    stop
    ratios+=("$(echo "$b / $a" | bc -l)")
    printf "| %d | %.0f | %.0f | %.3f |\n" "$round" "$a" "$b" "${ratios[-1]}"
  done
  echo
  echo "Median with an idle consumer / without: $(printf '%s\n' "${ratios[@]}" | median)×."
  echo
fi

if [[ " $PARTS " == *" 3 "* ]]; then
  WAL_SETS=${WAL_SETS:-100000}
  logbytes() { find "$1" -name '*.log' ! -name log -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
  start tidekv
  redis-cli -p "$PORT" cdc create keep >/dev/null # keeps every WAL file, archived or not
  before=$(logbytes "$DIR")
  redis-benchmark -p "$PORT" -t set -n "$WAL_SETS" -r 100000000 -d 1024 -c 50 -q >/dev/null 2>&1
  after=$(logbytes "$DIR")
  stop
  echo "WAL bytes per 1 KiB SET (over $WAL_SETS SETs, *.log files incl. archive/): $(( (after - before) / WAL_SETS ))."
  echo
fi
echo "Load after: $(uptime | sed 's/.*load average: //')."
} > "$OUT"
