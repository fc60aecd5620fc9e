#!/usr/bin/env bash
# A dataset many times the block cache: loads KEYS keys of VALUE random bytes into tidekv
# with a CACHE_MB block cache, then runs random GETs over the whole keyspace with
# redis-benchmark. Reports the load rate, GET rps and latency, and the server's peak RSS
# against its memory budget (block cache + write buffers + connections); then the same
# GETs against redis-server holding the same keys in memory, for reference.
# Usage: bench/run_large.sh            (run `make` first; about 6 minutes at 22M keys)
# Environment: KEYS (22000000), VALUE (100), CACHE_MB (256), GETS (2000000), CLIENTS (50),
#              RESULTS (bench/RESULTS.md; /dev/null to only print)
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-22000000}
VALUE=${VALUE:-100}
CACHE_MB=${CACHE_MB:-256}
GETS=${GETS:-2000000}
CLIENTS=${CLIENTS:-50}
RESULTS=${RESULTS:-bench/RESULTS.md}
WRITE_BUFFER_MB=64

# shellcheck source=bench/ports.sh
source bench/ports.sh

# KEYS SETs of random values (so that compression cannot shrink the data), as RESP.
generate() {
  /usr/bin/python3 - "$KEYS" "$VALUE" <<'PY'
import random, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
head = b"\r\n$%d\r\n" % size
out = sys.stdout.buffer
for start in range(0, n, 10000):
    values = random.randbytes(size * 10000)
    out.write(b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d" % i + head
                       + values[(i - start) * size:(i - start + 1) * size] + b"\r\n"
                       for i in range(start, min(n, start + 10000))))
PY
}

# Random GETs over the whole keyspace: "rps p50 p99" from redis-benchmark.
random_gets() { # port
  redis-benchmark -p "$1" -t get -r "$KEYS" -n "$GETS" -c "$CLIENTS" --csv 2>/dev/null | tail -1 | tr -d '"' |
    awk -F, '{print $2, $5, $7}'
}
peak_rss_mb() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
sum_mb() { find "$DIR" -name "$1" -printf '%s\n' | awk '{s += $1} END {print int(s / 1048576)}'; }

DIR=$(mktemp -d -p "${TMPDIR:-/tmp}")
PID="" RPID=""
trap 'kill $PID $RPID 2>/dev/null; wait $PID $RPID 2>/dev/null; rm -rf "$DIR"' EXIT

PORT=$(free_port)
build/tidekv-server --port "$PORT" --dir "$DIR/tidekv" --logfile "$DIR/log" \
  --rocksdb.block_cache_size "$CACHE_MB" --rocksdb.write_buffer_size "$WRITE_BUFFER_MB" &
PID=$!
wait_up "$PORT"
start=$(date +%s.%N)
generate | redis-cli -p "$PORT" --pipe >/dev/null
load_s=$(echo "$(date +%s.%N) - $start" | bc)
[ "$(redis-cli -p "$PORT" dbsize)" = "$KEYS" ] || { echo "load incomplete" >&2; exit 1; }
sst_mb=$(sum_mb '*.sst') wal_mb=$(sum_mb '*.log')
read -r rps p50 p99 < <(random_gets "$PORT")
hits=$(redis-cli -p "$PORT" info stats | sed -n 's/^keyspace_hits:\([0-9]*\).*/\1/p')
peak_mb=$(peak_rss_mb "$PID")
kill "$PID" && wait "$PID" 2>/dev/null || true

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no >/dev/null &
RPID=$!
wait_up "$RPORT"
generate | redis-cli -p "$RPORT" --pipe >/dev/null
read -r rrps rp50 rp99 < <(random_gets "$RPORT")
rpeak_mb=$(peak_rss_mb "$RPID")

budget_mb=$((CACHE_MB + 2 * 2 * WRITE_BUFFER_MB + CLIENTS))
report() {
  echo "### Larger than memory, $(date -u +%Y-%m-%d)"
  echo
  echo "$KEYS keys of $VALUE random bytes, $CACHE_MB MiB block cache, $WRITE_BUFFER_MB MiB write buffers;" \
    "$GETS random GETs over the whole keyspace, $CLIENTS clients; tidekv $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "with its defaults otherwise, redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') holding the same keys in memory."
  echo
  echo "| measure | tidekv | redis-server |"
  echo "|---|---|---|"
  echo "| load (redis-cli --pipe) | $(echo "$KEYS / $load_s" | bc) keys/s | |"
  echo "| SST files, WAL kept for CDC | $sst_mb MiB ($(echo "$sst_mb / $CACHE_MB" | bc)× the block cache), $wal_mb MiB | |"
  echo "| GET rps | $rps | $rrps |"
  echo "| GET rps ratio | $(awk -v a="$rps" -v b="$rrps" 'BEGIN {printf "%.2f", a / b}') | |"
  echo "| GET p50 / p99 ms | $p50 / $p99 | $rp50 / $rp99 |"
  echo "| keyspace hits | ${hits:-?} of $GETS | |"
  echo "| peak RSS | $peak_mb MiB | $rpeak_mb MiB |"
  echo "| memory budget: cache + 2 column families × 2 write buffers + 1 MiB a client | $budget_mb MiB | |"
  echo "| peak RSS / budget | $(awk -v a="$peak_mb" -v b="$budget_mb" 'BEGIN {printf "%.2f", a / b}') (goal ≤ 2) | |"
}

TABLE=$(mktemp)
report | tee "$TABLE"
if [ "$RESULTS" != /dev/null ]; then
  bench/splice_results.py "$RESULTS" bench/run_large.sh "$TABLE"
fi
rm -f "$TABLE"
