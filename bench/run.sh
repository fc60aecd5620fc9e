#!/usr/bin/env bash
# redis-benchmark against redis-server and tidekv on free loopback ports of this machine.
# For each value size and keyspace, both servers start empty, get the keyspace preloaded, then
# run every test in turn, A B A B … for ROUNDS rounds; the tables give medians and ratios.
# The generated part of bench/RESULTS.md (between the run.sh markers) is rewritten.
#
# Usage: bench/run.sh [requests-per-test]          (run `make` first; takes 10–20 minutes)
# Environment: ROUNDS (3), CLIENTS (50), SIZES ("16 1024"), KEYSPACES ("100000 1000000"),
#              RESULTS (bench/RESULTS.md; /dev/null to only print), TIDEKV_ARGS (extra server flags)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
SIZES=${SIZES:-16 1024}
KEYSPACES=${KEYSPACES:-100000 1000000}
RESULTS=${RESULTS:-bench/RESULTS.md}
UNPIPELINED=set,get,incr,lpush,rpush,lpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset
PIPELINED=set,get
WRITES="SET INCR LPUSH RPUSH LPOP SADD HSET SPOP ZADD ZPOPMIN MSET"

# shellcheck source=bench/ports.sh
source bench/ports.sh

RDIR="" TDIR="" RPID="" TPID=""
stop_servers() {
  [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
  [ -n "$TPID" ] && kill "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
  rm -rf "$RDIR" "$TDIR"
  RPID="" TPID=""
  return 0
}
trap stop_servers EXIT

start_servers() {
  RDIR=$(mktemp -d) TDIR=$(mktemp -d)
  RPORT=$(free_port) TPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$RDIR" --save "" --appendonly no >/dev/null &
  RPID=$!
  # shellcheck disable=SC2086 # TIDEKV_ARGS is a list of flags
  build/tidekv-server --port "$TPORT" --dir "$TDIR" --logfile "$TDIR/log" ${TIDEKV_ARGS:-} &
  TPID=$!
  wait_up "$RPORT"
  wait_up "$TPORT"
}

# Sets key:000000000000 … key:<keyspace-1> (redis-benchmark's key names) to size-byte values,
# so GET hits over the whole keyspace.
preload() { # port keyspace size
  /usr/bin/python3 - "$2" "$3" <<'EOF' | redis-cli -p "$1" --pipe >/dev/null
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
value = b"x" * size
tail = b"\r\n$%d\r\n%s\r\n" % (size, value)
out = sys.stdout.buffer
for start in range(0, n, 10000):
    out.write(b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d" % i + tail for i in range(start, min(n, start + 10000))))
EOF
}

# One redis-benchmark run; prints "TEST rps p99_ms" lines. Test names may hold spaces
# ("LPUSH (needed to benchmark LRANGE)"): only the first word is kept.
run() { # port pipeline tests size keyspace
  redis-benchmark -p "$1" -P "$2" -t "$3" -d "$4" -r "$5" -n "$N" -c "$CLIENTS" --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | awk -F, '{split($1, w, " "); print w[1], $2, $7}'
}

declare -A rps p99
record() { # server config pipeline < lines
  while read -r t r p; do rps[$1,$2,$3,$t]+="$r " p99[$1,$2,$3,$t]+="$p "; done
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; }

for size in $SIZES; do
  for keys in $KEYSPACES; do
    cfg="$size,$keys"
    start_servers
    preload "$RPORT" "$keys" "$size"
    preload "$TPORT" "$keys" "$size"
    for round in $(seq "$ROUNDS"); do
      echo "values $size B, $keys keys: round $round of $ROUNDS" >&2
      record redis "$cfg" 1 < <(run "$RPORT" 1 "$UNPIPELINED" "$size" "$keys")
      record tidekv "$cfg" 1 < <(run "$TPORT" 1 "$UNPIPELINED" "$size" "$keys")
      record redis "$cfg" 16 < <(run "$RPORT" 16 "$PIPELINED" "$size" "$keys")
      record tidekv "$cfg" 16 < <(run "$TPORT" 16 "$PIPELINED" "$size" "$keys")
    done
    stop_servers
  done
done

# Goal checks (issue 5): GET ≥ 1.0×, writes ≥ 0.9× unpipelined, SET/GET ≥ 0.6× at -P 16,
# p99 ≤ 1.5× redis-server's unpipelined.
goal() { # test pipeline rps-ratio p99-ratio
  local want=0.9
  [ "$1" = GET ] && want=1.0
  [ "$2" = 16 ] && want=0.6
  case " $WRITES GET " in *" $1 "*) ;; *) want="" ;; esac
  local verdict="—"
  if [ -n "$want" ]; then
    verdict=$(awk -v r="$3" -v w="$want" -v p="$4" -v pipe="$2" \
      'BEGIN {ok = r >= w && (pipe > 1 || p <= 1.5); verdict = ok ? "met" : "not met"
              extra = pipe > 1 ? "" : ", p99 ≤ 1.5×"; printf "%s (≥ %s×%s)", verdict, w, extra}')
  fi
  echo "$verdict"
}

report() {
  echo "### redis-benchmark, $(date -u +%Y-%m-%d)"
  echo
  echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)."
  echo "Versions: tidekv $(git rev-parse --short HEAD 2>/dev/null || echo '?'), redis-server" \
    "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), RocksDB $(dpkg-query -W -f '${Version}' librocksdb-dev 2>/dev/null || echo '?')," \
    "$(gcc --version | head -1)."
  echo "Run: $N requests per test, $CLIENTS clients, medians of $ROUNDS rounds (A B A B …), keyspace preloaded," \
    "redis-server without persistence, tidekv with its defaults (appendfsync everysec)${TIDEKV_ARGS:+ and $TIDEKV_ARGS}."
  for size in $SIZES; do
    for keys in $KEYSPACES; do
      cfg="$size,$keys"
      echo
      echo "#### values of $size B, $keys keys"
      echo
      echo "| test | pipeline | redis-server rps | tidekv rps | ratio | redis p99 ms | tidekv p99 ms | p99 ratio | goal |"
      echo "|---|---|---|---|---|---|---|---|---|"
      for pipe in 1 16; do
        tests=$UNPIPELINED
        [ "$pipe" = 16 ] && tests=$PIPELINED
        for t in $(echo "$tests" | tr 'a-z,' 'A-Z '); do
          [ -n "${rps[redis,$cfg,$pipe,$t]:-}" ] || continue
          r=$(echo "${rps[redis,$cfg,$pipe,$t]}" | median) k=$(echo "${rps[tidekv,$cfg,$pipe,$t]}" | median)
          rp=$(echo "${p99[redis,$cfg,$pipe,$t]}" | median) kp=$(echo "${p99[tidekv,$cfg,$pipe,$t]}" | median)
          rr=$(ratio "$r" "$k") pr=$(ratio "$rp" "$kp")
          echo "| $t | $pipe | $r | $k | $rr | $rp | $kp | $pr | $(goal "$t" "$pipe" "$rr" "$pr") |"
        done
      done
    done
  done
}

TABLE=$(mktemp)
report | tee "$TABLE"
if [ "$RESULTS" != /dev/null ]; then
  bench/splice_results.py "$RESULTS" bench/run.sh "$TABLE"
fi
rm -f "$TABLE"
