#!/usr/bin/env bash
# PUBLISH fan-out: messages delivered per second to SUBSCRIBERS (50) subscribers of one channel,
# tidekv against redis-server. Each round starts both servers fresh and runs the same load on
# each in turn (which goes first alternates); the report gives every round, the medians and
# their ratio. Usage: bench/run_pubsub.sh [report-file]   (run `make` first)
# Environment: ROUNDS (5), RUN_SECONDS (5 per run), SUBSCRIBERS (50), PUBLISHERS (4), PIPELINE (16),
#              PAYLOAD (bytes per message, 32), TIDEKV_ARGS (extra server flags)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/dev/stdout}
ROUNDS=${ROUNDS:-5} SECONDS_PER_RUN=${RUN_SECONDS:-5} SUBSCRIBERS=${SUBSCRIBERS:-50}
PUBLISHERS=${PUBLISHERS:-4} PIPELINE=${PIPELINE:-16} PAYLOAD=${PAYLOAD:-32}
TOOL=build/pubsub_bench

# shellcheck source=bench/fresh_server.sh
source bench/fresh_server.sh

run_on() { # tidekv|redis: prints the messages delivered per second of one run on a fresh server
  start_server "$1"
  "$TOOL" "$PORT" "$SUBSCRIBERS" "$PUBLISHERS" "$PIPELINE" "$SECONDS_PER_RUN" "$PAYLOAD" | awk '{print $2}'
  stop_server
}

median() { sort -g | awk '{v[NR]=$1} END {printf "%.0f", NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

{
echo "### PUBLISH fan-out ($(date -u +%Y-%m-%d), $(nproc) cores, redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2))"
echo
echo "$SUBSCRIBERS subscribers of one channel, $PUBLISHERS publishers keeping $PIPELINE PUBLISHes of $PAYLOAD bytes in"
echo "flight each, ${SECONDS_PER_RUN} s per run after 1 s of warm-up, fresh servers every round (bench/run_pubsub.sh)."
echo
echo "| round | tidekv delivered/s | redis delivered/s | tidekv / redis |"
echo "|---|---|---|---|"
tidekv_all="" redis_all=""
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then t=$(run_on tidekv); r=$(run_on redis); else r=$(run_on redis); t=$(run_on tidekv); fi
  tidekv_all+="$t " redis_all+="$r "
  printf "| %d | %d | %d | %.3f |\n" "$round" "$t" "$r" "$(echo "$t / $r" | bc -l)"
done
tm=$(echo "$tidekv_all" | tr ' ' '\n' | grep . | median)
rm_=$(echo "$redis_all" | tr ' ' '\n' | grep . | median)
echo
printf "Medians: tidekv %d, redis %d messages delivered/s: %.3f× redis-server.\n" "$tm" "$rm_" "$(echo "$tm / $rm_" | bc -l)"
} > "$OUT"
