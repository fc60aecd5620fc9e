#!/usr/bin/env bash
# CDC benchmarks: drain speed (100k and 1M changes, RAW/RESP/JSON), BLOCK wake-up latency,
# and write throughput with 10 blocked pollers attached vs none. Prints a Markdown report.
# Usage: bench/run_cdc.sh [report-file]   (run `make` first; env ROUNDS and WINDOW (seconds)
# set the pollers' A/B rounds, default 5 × 5 s; PIN=1 runs the server on CPU 0 and the pollers
# and the control on CPU 1, so that their parsing does not land on the server's core)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/tidekv-server
if [ "${PIN:-0}" = 1 ]; then SERVER_CPU=0 BESIDE_CPU=1; else SERVER_CPU="" BESIDE_CPU=""; fi
TOOL=build/cdc_bench
OUT=${1:-/dev/stdout}

# shellcheck source=bench/ports.sh
source bench/ports.sh

start_server() {
  DIR=$(mktemp -d)
  PORT=$(free_port)
  launch
}

launch() {
  ${SERVER_CPU:+taskset -c $SERVER_CPU} "$BIN" --port "$PORT" --dir "$DIR" --logfile "$DIR/log" &
  PID=$!
  for _ in $(seq 600); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}

# A restart empties the in-memory tail cache: the next drain reads the WAL only.
restart_server() { kill "$PID"; wait "$PID" || true; launch; }

stop_server() { kill "$PID"; wait "$PID" || true; rm -rf "$DIR"; }

{
echo "### CDC ($(date -u +%Y-%m-%d), $(nproc) cores, redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)${SERVER_CPU:+, server on CPU $SERVER_CPU, pollers and control on CPU $BESIDE_CPU})"
echo
# Each drain runs on DRAIN_ROUNDS fresh servers (default 3) and the median time counts: a 100k
# drain takes tens of milliseconds, so one run is at the mercy of the other processes.
declare -A secs
drain_all() { # $1 = changes, $2 = where they come from
  for f in RAW RESP JSON; do
    line=$("$TOOL" drain "$PORT" "$f")
    secs[$1 $2 $f]+="$(echo "$line" | grep -o 'in [0-9.]\+ s' | cut -d' ' -f2) "
  done
}
for _ in $(seq "${DRAIN_ROUNDS:-3}"); do
  for n in 100000 1000000; do
    start_server
    redis-benchmark -p "$PORT" -t set -n "$n" -r 1000000 -d 16 -c 50 -q >/dev/null 2>&1
    drain_all "$n" "cache+WAL"
    restart_server
    drain_all "$n" "WAL"
    stop_server
  done
done
median() { sort -g | awk '{v[NR]=$1} END {printf "%.4f", NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
median_secs() { echo "${secs[$1]}" | tr ' ' '\n' | grep . | median; }
echo "| changes | read from | format | changes/s (median of ${DRAIN_ROUNDS:-3}) |"
echo "|---|---|---|---|"
for n in 100000 1000000; do
  for src in "cache+WAL" WAL; do
    for f in RAW RESP JSON; do
      echo "| $n | $src | $f | $(echo "$n / $(median_secs "$n $src $f")" | bc) |"
    done
  done
done
echo
for src in "cache+WAL" WAL; do
  for f in RAW RESP JSON; do
    echo "- 1M drain / 100k drain time, $src, $f: $(echo "$(median_secs "1000000 $src $f") / $(median_secs "100000 $src $f")" | bc -l | cut -c1-5)×"
  done
done
echo
start_server
"$TOOL" latency "$PORT" 100 >/dev/null # warm-up: the first poll from a new position opens a WAL iterator
echo "BLOCK wake-up: $("$TOOL" latency "$PORT" 10000)"
echo
# Writes with and without 10 BLOCKed pollers: one redis-benchmark SET load runs throughout, and
# windows alternate, so start-up and memtable flushes fall on all of them alike. The pollers'
# process shares the two cores with the writer and the server; a third window runs a control,
# a process that burns the same CPU share as the pollers did without touching the server, to
# tell what the pollers cost the server from what their own CPU takes from the writer (the
# control is one thread, so it can burn one core at most; the pollers take about 12%).
redis-benchmark -p "$PORT" -t set -n 1000000000 -r 100000 -c 50 -q >/dev/null 2>&1 &
WRITER=$!
# Whatever fails from here on, the endless writer and the server must not outlive the script.
trap 'kill $WRITER $PID 2>/dev/null || true' EXIT
sleep 2
HZ=$(getconf CLK_TCK)
WINDOW=${WINDOW:-5}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
window() { # $1 = pid of the process beside the writer, or 0; prints writes/s and its CPU share (%)
  local s0 s1 p0=0 p1=0
  s0=$(redis-cli -p "$PORT" sequence); [ "$1" != 0 ] && p0=$(ticks "$1")
  sleep "$WINDOW"
  s1=$(redis-cli -p "$PORT" sequence); [ "$1" != 0 ] && p1=$(ticks "$1")
  echo "$(( (s1 - s0) / WINDOW )) $(( (p1 - p0) * 100 / HZ / WINDOW ))"
}
beside() { # $1 = command to run beside the writer for one window; prints what window prints
  ${BESIDE_CPU:+taskset -c $BESIDE_CPU} "$TOOL" "$@" > "$DIR/beside" &
  local pid=$! measured
  sleep 0.5
  measured=$(window $pid)
  wait $pid # its report is complete once it has ended
  echo "$measured"
}
echo "| round | writes/s alone | with 10 BLOCKed pollers | pollers' CPU | with a control burning that CPU | pollers / alone | control / alone | pollers / control |"
echo "|---|---|---|---|---|---|---|---|"
declare -a with_r control_r pollers_r
replies=""
for round in $(seq "${ROUNDS:-5}"); do
  read -r alone _ < <(window 0)
  read -r with cpu < <(beside pollers "$PORT" 10 $((WINDOW + 1)))
  replies=$(cut -d: -f2 "$DIR/beside")
  read -r control _ < <(beside burn "$cpu" $((WINDOW + 1)))
  with_r+=("$(echo "$with / $alone" | bc -l)")
  control_r+=("$(echo "$control / $alone" | bc -l)")
  pollers_r+=("$(echo "$with / $control" | bc -l)")
  printf "| %d | %d | %d | %d%% | %d | %.3f | %.3f | %.3f |\n" "$round" "$alone" "$with" "$cpu" "$control" \
    "${with_r[-1]}" "${control_r[-1]}" "${pollers_r[-1]}"
done
kill $WRITER; wait $WRITER 2>/dev/null || true
stop_server
trap - EXIT
echo
echo "Pollers:$replies (last round)."
echo
echo "Medians: with pollers / alone $(printf '%s\n' "${with_r[@]}" | median)×, control / alone $(printf '%s\n' "${control_r[@]}" | median)×, with pollers / control $(printf '%s\n' "${pollers_r[@]}" | median)×."
} > "$OUT"
