#!/usr/bin/env bash
# Replication benchmarks (issue 16), tidekv against redis-server 7 in the same run on free
# loopback ports; every node (master and replicas) starts fresh in a temporary directory.
#  1. Write throughput with 0, 1 and 2 replicas: redis-benchmark SET (16 B values, CLIENTS
#     clients, KEYSPACE random keys) on the master, unpipelined and -P 16. Each round runs, for
#     each number of replicas, a fresh tidekv group and a fresh redis-server group (which goes
#     first alternates by round). After each run the replicas must catch up: tidekv the same
#     SEQUENCE, redis-server the same replication offset, both the same DBSIZE (the time that
#     took is reported). Ratios: n replicas ÷ none per round (median over rounds), and tidekv ÷
#     redis-server of the medians.
#  2. Replica lag at LAG_RATE writes/s for LAG_SECONDS with one replica (build/repl_bench lag):
#     one write in SAMPLE_EVERY is followed from the master's acknowledgement to the first
#     EXISTS on the replica that shows it, checked every 100 µs or 1/20 of the oldest waiting
#     sample's age if longer (the method's own error: at most 0.1 ms or 5% of the lag, plus one
#     loopback round trip, always an overstatement). p50/p99 per round.
#  3. Full sync of FULLSYNC_KEYS keys (key:<i> → value:<i>, as DEBUG POPULATE writes them,
#     loaded by build/repl_bench load): an empty replica is told REPLICAOF; the wall time
#     until it is caught up (master_sync_in_progress:0, link up, same SEQUENCE or offset, same
#     DBSIZE). The tidekv master keeps no WAL history (wal-ttl-seconds 1, wal-size-limit-mb 1),
#     so the replica needs a copy; skipped for tidekv when the binary has no FULLSYNC command.
#     redis-server's master runs with repl-diskless-sync-delay 0 (its default 5 s waits for
#     more replicas to join).
# Usage: bench/run_replication.sh [report-file]   (run `make` first)
# Env: PARTS ("1 2 3"), ROUNDS (3), CLIENTS (50), KEYSPACE (100000), REQUESTS (100000 unpipelined),
#      REQUESTS_PIPELINED (300000 at -P 16), REPLICAS ("0 1 2"), LAG_RATE (20000),
#      LAG_SECONDS (10), SAMPLE_EVERY (100), LAG_ROUNDS (ROUNDS), FULLSYNC_KEYS (10000000),
#      CATCH_UP_LIMIT (seconds a replica may take to catch up before the script gives up, 1800),
#      TIDEKV_ARGS (extra flags for every tidekv node), TIDEKV_MASTER_ARGS (for its masters only).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/dev/stdout}
PARTS=${PARTS:-1 2 3}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
REQUESTS=${REQUESTS:-100000}
REQUESTS_PIPELINED=${REQUESTS_PIPELINED:-300000}
REPLICAS=${REPLICAS:-0 1 2}
LAG_RATE=${LAG_RATE:-20000}
LAG_SECONDS=${LAG_SECONDS:-10}
SAMPLE_EVERY=${SAMPLE_EVERY:-100}
LAG_ROUNDS=${LAG_ROUNDS:-$ROUNDS}
FULLSYNC_KEYS=${FULLSYNC_KEYS:-10000000}
CATCH_UP_LIMIT=${CATCH_UP_LIMIT:-1800}
SERVER=build/tidekv-server
TOOL=build/repl_bench

# shellcheck source=bench/ports.sh
source bench/ports.sh

PIDS=() DIRS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "${DIRS[@]}"
  PIDS=() DIRS=()
}
trap stop_all EXIT

# Starts a node of kind $1 (tidekv|redis) in a new directory, a replica of port $2 if given;
# extra server flags follow. Sets PORT and DIR.
start_node() {
  local kind=$1 master=${2:-}
  shift 2 || shift $#
  DIR=$(mktemp -d /tmp/repl-bench.XXXXXX) PORT=$(free_port)
  DIRS+=("$DIR")
  local follow=()
  [ -n "$master" ] && follow=(--replicaof 127.0.0.1 "$master")
  if [ "$kind" = redis ]; then
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save '' --appendonly no \
      --logfile "$DIR/log" "${follow[@]}" "$@" &
  else
    # shellcheck disable=SC2086 # TIDEKV_ARGS is a list of flags
    "$SERVER" --port "$PORT" --dir "$DIR" --logfile "$DIR/log" "${follow[@]}" ${TIDEKV_ARGS:-} "$@" &
  fi
  PIDS+=($!)
  wait_up "$PORT"
}

info_field() { redis-cli -p "$1" INFO "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
link_up() { [ "$(info_field "$1" replication master_link_status)" = up ]; }

# Where a node is in the master's history: SEQUENCE (tidekv) or the replication offset.
position() { # kind port
  if [ "$1" = tidekv ]; then redis-cli -p "$2" SEQUENCE; else info_field "$2" replication master_repl_offset; fi
}

# A master (port MASTER) with $2 replicas (ports in REPLICA_PORTS), every link up.
start_group() { # kind replicas
  local extra=()
  # shellcheck disable=SC2206 # TIDEKV_MASTER_ARGS is a list of flags
  [ "$1" = tidekv ] && extra=(${TIDEKV_MASTER_ARGS:-})
  start_node "$1" "" "${extra[@]}"
  MASTER=$PORT REPLICA_PORTS=()
  for _ in $(seq "$2"); do
    start_node "$1" "$MASTER"
    REPLICA_PORTS+=("$PORT")
  done
  for p in "${REPLICA_PORTS[@]}"; do
    for _ in $(seq 300); do link_up "$p" && break; sleep 0.1; done
    link_up "$p" || { echo "replica on $p never linked to its master" >&2; exit 1; }
  done
}

# Whether the replica on port $2 is where the master is (redis-server's master pings its replicas
# now and then, which moves its offset: both are read anew), with as many keys.
caught_up() { # kind port
  [ "$(position "$1" "$2")" = "$(position "$1" "$MASTER")" ] &&
    [ "$(redis-cli -p "$2" DBSIZE)" = "$(redis-cli -p "$MASTER" DBSIZE)" ]
}

# Waits (up to CATCH_UP_LIMIT seconds) until every replica has caught up; prints the seconds that
# took, or exits.
wait_caught_up() { # kind
  local start end p
  start=$(date +%s.%N)
  for p in "${REPLICA_PORTS[@]}"; do
    # (not checked twice: redis-server's master moves its offset when it pings its replicas)
    local ok=0
    while [ "$(elapsed_since "$start")" -lt "$CATCH_UP_LIMIT" ]; do
      caught_up "$1" "$p" && { ok=1; break; }
      sleep 0.01
    done
    if [ "$ok" = 0 ]; then
      echo "$1 replica on $p did not catch up: at $(position "$1" "$p") of $(position "$1" "$MASTER")," \
        "$(redis-cli -p "$p" DBSIZE) of $(redis-cli -p "$MASTER" DBSIZE) keys" >&2
      exit 1
    fi
  done
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}'
}

elapsed_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%d", b - a}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
maximum() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; }

machine_line() {
  echo "Machine: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg) at the start."
  echo "Versions: tidekv $(git rev-parse --short HEAD 2>/dev/null || echo '?'), redis-server" \
    "$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), RocksDB $(dpkg-query -W -f '${Version}' librocksdb-dev 2>/dev/null || echo '?')."
}

# ---- 1. write throughput with 0, 1, 2 replicas ----

declare -A rps p99 catchup replicated
# One redis-benchmark run on MASTER: records its rps and p99, the wait until the replicas caught
# up, and the replicated rate (requests ÷ the time from the run's start until they had caught up).
bench_set() { # kind pipeline requests
  local line start wait
  start=$(date +%s.%N)
  line=$(redis-benchmark -p "$MASTER" -P "$2" -t set -d 16 -r "$KEYSPACE" -n "$3" -c "$CLIENTS" --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | awk -F, '{print $2, $7}')
  rps[$1,$n,$2,$round]=${line% *}
  p99[$1,$n,$2]+="${line#* } "
  wait=$(wait_caught_up "$1")
  catchup[$1,$n,$2]+="$wait "
  replicated[$1,$n,$2]+="$(awk -v a="$start" -v b="$(date +%s.%N)" -v n="$3" 'BEGIN {printf "%.0f", n / (b - a)}') "
}

throughput_round() { # kind
  start_group "$1" "$n"
  bench_set "$1" 1 "$REQUESTS"
  bench_set "$1" 16 "$REQUESTS_PIPELINED"
  stop_all
}

part_throughput() {
  for round in $(seq "$ROUNDS"); do
    for n in $REPLICAS; do
      echo "throughput: round $round of $ROUNDS, $n replicas" >&2
      if [ $((round % 2)) = 1 ]; then throughput_round tidekv; throughput_round redis
      else throughput_round redis; throughput_round tidekv; fi
    done
  done
  echo "### Write throughput with replicas"
  echo
  echo "redis-benchmark SET, 16 B values, $CLIENTS clients, $KEYSPACE random keys, $REQUESTS requests unpipelined and"
  echo "$REQUESTS_PIPELINED at -P 16, on the master; fresh servers per run, medians of $ROUNDS rounds (A B A B)."
  echo "n÷0: the median over rounds of (rps with n replicas ÷ rps with none in the same round). Catch-up:"
  echo "the longest wait after a run until every replica had the master's SEQUENCE (offset) and DBSIZE."
  echo "Replicated/s: requests ÷ (the run + that wait), median over rounds: the rate the replicas kept."
  echo
  echo "| replicas | pipeline | redis-server rps | tidekv rps | tidekv ÷ redis | redis n÷0 | tidekv n÷0 | redis p99 ms | tidekv p99 ms | catch-up s redis / tidekv | replicated/s redis / tidekv | goal (tidekv n÷0 ≥ 0.9) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  local first=${REPLICAS%% *}
  for pipe in 1 16; do
    for n in $REPLICAS; do
      local rr="" kr="" rn="" kn="" r k
      for round in $(seq "$ROUNDS"); do
        rr+="${rps[redis,$n,$pipe,$round]} " kr+="${rps[tidekv,$n,$pipe,$round]} "
        rn+="$(ratio "${rps[redis,$first,$pipe,$round]}" "${rps[redis,$n,$pipe,$round]}") "
        kn+="$(ratio "${rps[tidekv,$first,$pipe,$round]}" "${rps[tidekv,$n,$pipe,$round]}") "
      done
      r=$(echo "$rr" | median) k=$(echo "$kr" | median) rn=$(echo "$rn" | median) kn=$(echo "$kn" | median)
      local goal="—"
      [ "$n" != 0 ] && goal=$(awk -v x="$kn" 'BEGIN {print (x >= 0.9 ? "met" : "not met")}')
      echo "| $n | $pipe | $r | $k | $(ratio "$r" "$k") | $rn | $kn | $(echo "${p99[redis,$n,$pipe]}" | median) |" \
        "$(echo "${p99[tidekv,$n,$pipe]}" | median) | $(echo "${catchup[redis,$n,$pipe]}" | maximum) / $(echo "${catchup[tidekv,$n,$pipe]}" | maximum) |" \
        "$(echo "${replicated[redis,$n,$pipe]}" | median) / $(echo "${replicated[tidekv,$n,$pipe]}" | median) | $goal |"
    done
  done
  echo
  echo "Per round (rps, unpipelined / -P 16):"
  echo
  echo "| round | replicas | redis-server | tidekv |"
  echo "|---|---|---|---|"
  for round in $(seq "$ROUNDS"); do
    for n in $REPLICAS; do
      echo "| $round | $n | ${rps[redis,$n,1,$round]} / ${rps[redis,$n,16,$round]} | ${rps[tidekv,$n,1,$round]} / ${rps[tidekv,$n,16,$round]} |"
    done
  done
  echo
}

# ---- 2. replica lag at a steady write rate ----

declare -A lag_rows lag_p50 lag_p99
lag_round() { # kind
  start_group "$1" 1
  local out
  out=$("$TOOL" lag "$MASTER" "${REPLICA_PORTS[0]}" "$LAG_RATE" "$LAG_SECONDS" "$SAMPLE_EVERY")
  wait_caught_up "$1" >/dev/null
  stop_all
  # writes/s W samples S p50_ms A p90_ms B p99_ms C p999_ms D max_ms E
  read -r _ w _ s _ a _ b _ c _ d _ e <<<"$out"
  lag_rows[$1]+="| $round | $1 | $w | $s | $a | $b | $c | $d | $e |"$'\n'
  lag_p50[$1]+="$a " lag_p99[$1]+="$c "
}

part_lag() {
  for round in $(seq "$LAG_ROUNDS"); do
    echo "lag: round $round of $LAG_ROUNDS" >&2
    if [ $((round % 2)) = 1 ]; then lag_round tidekv; lag_round redis; else lag_round redis; lag_round tidekv; fi
  done
  echo "### Replica lag at $LAG_RATE writes/s"
  echo
  echo "One replica; build/repl_bench lag: SET lag:<i> (16 B) paced at $LAG_RATE/s for $LAG_SECONDS s on one connection"
  echo "(pipelined as the schedule asks); one write in $SAMPLE_EVERY is a sample, its lag the time from reading the"
  echo "master's reply to reading the first EXISTS reply from the replica that shows the key, EXISTS sent every"
  echo "100 µs while samples wait, or 1/20 of the oldest one's age if longer (error: at most 0.1 ms or 5% of the"
  echo "lag, plus a loopback round trip; never under). The first second is warm-up. Fresh servers per round,"
  echo "which goes first alternates."
  echo
  echo "| round | server | writes/s | samples | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf "%s" "${lag_rows[tidekv]}" "${lag_rows[redis]}"
  echo
  local kp50 kp99 rp50 rp99
  kp50=$(echo "${lag_p50[tidekv]}" | median) kp99=$(echo "${lag_p99[tidekv]}" | median)
  rp50=$(echo "${lag_p50[redis]}" | median) rp99=$(echo "${lag_p99[redis]}" | median)
  echo "Medians: tidekv p50 $kp50 ms, p99 $kp99 ms (goal p99 ≤ 5 ms:" \
    "$(awk -v x="$kp99" 'BEGIN {print (x <= 5 ? "met" : "not met")}')); redis-server p50 $rp50 ms, p99 $rp99 ms."
  echo
}

# ---- 3. full sync ----

# Sets SYNC_SECONDS and SYNC_BYTES (what was copied) for an empty replica of MASTER told REPLICAOF.
full_sync() { # kind
  start_node "$1" ""
  local replica=$PORT rdir=$DIR start
  start=$(date +%s.%N)
  redis-cli -p "$replica" REPLICAOF 127.0.0.1 "$MASTER" >/dev/null
  REPLICA_PORTS=("$replica")
  for _ in $(seq 36000); do
    [ "$(info_field "$replica" replication master_sync_in_progress)" = 0 ] && link_up "$replica" && break
    sleep 0.05
  done
  wait_caught_up "$1" >/dev/null
  SYNC_SECONDS=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  # What was copied: redis-server's RDB as the replica received it; tidekv's checkpoint as the
  # replica holds it (its directory, less its log file).
  if [ "$1" = redis ]; then SYNC_BYTES=$(stat -c %s "$rdir/dump.rdb" 2>/dev/null || echo 0)
  else SYNC_BYTES=$(find "$rdir" -type f ! -name log -printf '%s\n' | awk '{s += $1} END {print s + 0}'); fi
}

fullsync_row() { # kind
  awk -v k="$1" -v s="$SYNC_SECONDS" -v b="$SYNC_BYTES" -v n="$FULLSYNC_KEYS" \
    'BEGIN {printf "| %s | %d | %.2f | %.0f | %.1f | %.1f |\n", k, n, s, n / s, b / 1e6, b / 1e6 / s}'
}

part_fullsync() {
  echo "### Full sync of $FULLSYNC_KEYS keys"
  echo
  echo "key:<i> → value:<i> (what DEBUG POPULATE writes) loaded into a fresh master by build/repl_bench load;"
  echo "an empty replica is told REPLICAOF; time from REPLICAOF until master_sync_in_progress:0, link up and"
  echo "the same SEQUENCE (offset) and DBSIZE. MB: what was copied (redis-server: the RDB the replica received;"
  echo "tidekv: the replica's store files after the copy)."
  echo
  echo "| server | keys | seconds | keys/s | MB | MB/s |"
  echo "|---|---|---|---|---|---|"
  echo "full sync: redis-server" >&2
  start_node redis "" --repl-diskless-sync-delay 0
  MASTER=$PORT
  "$TOOL" load "$MASTER" "$FULLSYNC_KEYS" >&2
  full_sync redis
  fullsync_row redis
  stop_all
  echo "full sync: tidekv" >&2
  # shellcheck disable=SC2206 # TIDEKV_MASTER_ARGS is a list of flags
  local extra=(${TIDEKV_MASTER_ARGS:-})
  start_node tidekv "" --wal-ttl-seconds 1 --wal-size-limit-mb 1 "${extra[@]}"
  MASTER=$PORT
  if [ -z "$(redis-cli -p "$MASTER" COMMAND INFO FULLSYNC | tr -d '\n')" ]; then
    echo "| tidekv | $FULLSYNC_KEYS | skipped: this binary has no FULLSYNC command (full sync not built yet) | | | |"
    stop_all
    echo
    return
  fi
  "$TOOL" load "$MASTER" "$FULLSYNC_KEYS" >&2
  sleep 3 # wal-ttl-seconds: the log that held the start is gone, a replica needs a copy
  full_sync tidekv
  fullsync_row tidekv
  echo
  echo "(tidekv master: sync_full $(info_field "$MASTER" stats sync_full), sync_partial_ok $(info_field "$MASTER" stats sync_partial_ok).)"
  stop_all
  echo
}

{
  echo "## Replication (\`bench/run_replication.sh\`, $(date -u +%Y-%m-%d))"
  echo
  machine_line
  echo
  for part in $PARTS; do
    case $part in
      1) part_throughput ;;
      2) part_lag ;;
      3) part_fullsync ;;
    esac
  done
} >"$OUT"
