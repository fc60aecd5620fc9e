# Sourced by the benchmarks that start a fresh server per run (bench/run_pubsub.sh, run_streams.sh,
# bench/run_scripting.sh): start_server redis|tidekv sets PORT, DIR and PID; stop_server stops
# it and removes its directory (also on exit). TIDEKV_ARGS: extra tidekv-server flags.
# shellcheck source=bench/ports.sh
source bench/ports.sh

DIR="" PID=""
stop_server() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$DIR" ] && rm -rf "$DIR"
  DIR="" PID=""
  return 0
}
trap stop_server EXIT

start_server() { # redis|tidekv
  DIR=$(mktemp -d) PORT=$(free_port)
  if [ "$1" = redis ]; then
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no >/dev/null &
  else
    # shellcheck disable=SC2086 # TIDEKV_ARGS is a list of flags
    build/tidekv-server --port "$PORT" --dir "$DIR" --logfile "$DIR/log" ${TIDEKV_ARGS:-} &
  fi
  PID=$!
  wait_up "$PORT"
}
