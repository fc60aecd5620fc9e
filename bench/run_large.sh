#!/usr/bin/env bash
# A dataset ten times the block cache: loads KEYS keys of VALUE random bytes into tidekv
# with a CACHE_MB block cache, then runs random GETs over the whole keyspace with
# redis-benchmark. Reports load rate, GET rps and p99, and the server's peak RSS against
# its memory budget (block cache + write buffers + connections).
# Usage: bench/run_large.sh            (run `make` first; about 10 minutes at 20M keys)
# Environment: KEYS (20000000), VALUE (100), CACHE_MB (256), GETS (2000000), CLIENTS (50),
#              RESULTS (bench/RESULTS.md; /dev/null to only print)
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-20000000}
VALUE=${VALUE:-100}
CACHE_MB=${CACHE_MB:-256}
GETS=${GETS:-2000000}
CLIENTS=${CLIENTS:-50}
RESULTS=${RESULTS:-bench/RESULTS.md}
WRITE_BUFFER_MB=64

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DIR=$(mktemp -d -p "${TMPDIR:-/tmp}")
build/tidekv-server --port "$PORT" --dir "$DIR" --logfile "$DIR/log" \
  --rocksdb.block_cache_size "$CACHE_MB" --rocksdb.write_buffer_size "$WRITE_BUFFER_MB" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

# Random values, so that compression cannot shrink the data below ten times the cache.
start=$(date +%s.%N)
/usr/bin/python3 - "$KEYS" "$VALUE" <<'EOF' | redis-cli -p "$PORT" --pipe >/dev/null
import random, sys
n, size = int(sys.argv[1]), int(sys.argv[2])
head = b"\r\n$%d\r\n" % size
out = sys.stdout.buffer
for start in range(0, n, 10000):
    values = random.randbytes(size * 10000)
    out.write(b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d" % i + head + values[(i - start) * size:(i - start + 1) * size] + b"\r\n"
                       for i in range(start, min(n, start + 10000))))
EOF
load_s=$(echo "$(date +%s.%N) - $start" | bc)
[ "$(redis-cli -p "$PORT" dbsize)" = "$KEYS" ] || { echo "load incomplete" >&2; exit 1; }
disk_mb=$(du -sm "$DIR" | cut -f1)

csv=$(redis-benchmark -p "$PORT" -t get -r "$KEYS" -n "$GETS" -c "$CLIENTS" --csv 2>/dev/null | tail -1 | tr -d '"')
rps=$(echo "$csv" | cut -d, -f2) p50=$(echo "$csv" | cut -d, -f5) p99=$(echo "$csv" | cut -d, -f7)
hits=$(redis-cli -p "$PORT" info stats | sed -n 's/^keyspace_hits:\([0-9]*\).*/\1/p')
peak_mb=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status")
budget_mb=$((CACHE_MB + 2 * WRITE_BUFFER_MB * 2 + CLIENTS))

report() {
  echo "### Larger than memory, $(date -u +%Y-%m-%d)"
  echo
  echo "$KEYS keys of $VALUE random bytes, $CACHE_MB MiB block cache, $WRITE_BUFFER_MB MiB write buffers;" \
    "$GETS random GETs over the whole keyspace, $CLIENTS clients, tidekv $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| load (redis-cli --pipe) | $(echo "$KEYS / $load_s" | bc) keys/s |"
  echo "| data on disk | $disk_mb MiB ($(echo "$disk_mb / $CACHE_MB" | bc)× the block cache) |"
  echo "| GET rps | $rps |"
  echo "| GET p50 / p99 | $p50 / $p99 ms |"
  echo "| keyspace hits | ${hits:-?} |"
  echo "| peak RSS | $peak_mb MiB |"
  echo "| memory budget (cache + 2 × 2 write buffers + 1 MiB a client) | $budget_mb MiB |"
  echo "| peak RSS / budget | $(awk -v a="$peak_mb" -v b="$budget_mb" 'BEGIN {printf "%.2f", a / b}') (goal ≤ 2) |"
}

TABLE=$(mktemp)
report | tee "$TABLE"
if [ "$RESULTS" != /dev/null ]; then
  bench/splice_results.py "$RESULTS" bench/run_large.sh "$TABLE"
fi
rm -f "$TABLE"
