# Sourced by the benchmarks that start a fresh server per run (bench/run_pubsub.sh,
# bench/run_scripting.sh): start_server redis|tidekv sets PORT, DIR and PID; stop_server stops
# it and removes its directory (also on exit). TIDEKV_ARGS: extra tidekv-server flags.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }

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
