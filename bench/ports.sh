# Sourced by the benchmark scripts: free_port prints a free TCP port on 127.0.0.1; wait_up PORT
# waits (up to 10 s) until a server answers PING there, else stops the script.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }
