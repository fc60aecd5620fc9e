#!/usr/bin/env bash
# Big strings against a server's other clients (not a timed test): one client runs
# SETBIT k 4294967295 1, SETBIT on that key again, SETRANGE k2 536870911 x, SET of a VALUE_MB
# value and DEL, while another PINGs every 10 ms (bench/bigstrings.py). Reports each command's
# time, PING p50/p99/max, the server's peak RSS (VmHWM), its RSS after the DEL and how much its
# data directory grew — for tidekv with its defaults, then redis-server for reference.
# Goal: PING p99 <= 100 ms and peak RSS <= 2x the largest value.
# Usage: bench/run_bigstrings.sh   (run `make` first)
# Environment: VALUE_MB (500), TIDEKV_ARGS (extra server options, e.g. "--workers 2"),
#              SKIP_REDIS (1: tidekv only)
set -euo pipefail
cd "$(dirname "$0")/.."
VALUE_MB=${VALUE_MB:-500}

# shellcheck source=bench/ports.sh
source bench/ports.sh

DIR=$(mktemp -d -p "${TMPDIR:-/tmp}")
PID="" RPID=""
trap 'kill $PID $RPID 2>/dev/null; wait $PID $RPID 2>/dev/null; rm -rf "$DIR"' EXIT

PORT=$(free_port)
# shellcheck disable=SC2086  # TIDEKV_ARGS is a list of options
build/tidekv-server --port "$PORT" --dir "$DIR/tidekv" --logfile "$DIR/log" ${TIDEKV_ARGS:-} &
PID=$!
wait_up "$PORT"
echo "tidekv $(git rev-parse --short HEAD 2>/dev/null || echo '?') ${TIDEKV_ARGS:-}:"
/usr/bin/python3 bench/bigstrings.py "$PORT" "$PID" "$DIR/tidekv" "$VALUE_MB"
kill "$PID" && wait "$PID" 2>/dev/null || true
PID=""
[ "${SKIP_REDIS:-0}" = 1 ] && exit 0

RPORT=$(free_port)
mkdir -p "$DIR/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$DIR/redis" --save "" --appendonly no >/dev/null &
RPID=$!
wait_up "$RPORT"
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') (no persistence):"
/usr/bin/python3 bench/bigstrings.py "$RPORT" "$RPID" "$DIR/redis" "$VALUE_MB"
