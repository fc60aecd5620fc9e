"""Driver of bench/run_bigstrings.sh: against one running server, a writer client runs the
big-string commands one after another while a second client PINGs every 10 ms (latency counted
from when each PING was due) and a sampler reads the server's RSS. Prints one JSON object: per command its seconds, and over the whole
run the PING latencies (p50/p99/max ms), the peak RSS (VmHWM), the RSS 5 s after DEL, and how
much the server's data directory grew (WAL and SST files)."""

import json
import os
import socket
import sys
import threading
import time


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += [b"$%d\r\n" % len(a), a, b"\r\n"]
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def call(self, *args):
        # Part by part: joining a 500 MB request first would hold Python's GIL for a copy of
        # it, and the pinger thread's stall would be counted as the server's.
        for part in encode(*args):
            self.s.sendall(part)
        return self.reply()

    def reply(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


def dir_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total // (1024 * 1024)


def main():
    port, pid, datadir, value_mb = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    stop = threading.Event()
    pings, rss = [], []

    def pinger():
        # A PING is due every 10 ms; each one's latency counts from when it was due, so a stall
        # of the server counts as all the PINGs it held up, not as one slow sample.
        c = Conn(port)
        due = time.monotonic()
        while not stop.is_set():
            c.call("PING")
            now = time.monotonic()
            while due <= now:
                pings.append((now - due) * 1000)
                due += 0.01
            time.sleep(max(0.0, due - time.monotonic()))

    def sampler():
        while not stop.is_set():
            rss.append(status(pid, "VmRSS"))
            time.sleep(0.05)

    threads = [threading.Thread(target=pinger), threading.Thread(target=sampler)]
    w = Conn(port)
    size_before = dir_mb(datadir)
    value = os.urandom(value_mb * 1024 * 1024)
    steps = [
        ("SETBIT k 4294967295 1", ("SETBIT", "k", 4294967295, 1)),
        ("SETBIT k 4294967295 0 (again)", ("SETBIT", "k", 4294967295, 0)),
        ("SETBIT k 7 1 (again)", ("SETBIT", "k", 7, 1)),
        ("SETRANGE k2 536870911 x", ("SETRANGE", "k2", 536870911, "x")),
        ("SET big (%d MB)" % value_mb, ("SET", "big", value)),
        ("DEL k k2 big", ("DEL", "k", "k2", "big")),
    ]
    times = {}
    for t in threads:
        t.start()
    time.sleep(0.5)
    for name, cmd in steps:
        t0 = time.monotonic()
        w.call(*cmd)
        times[name] = round(time.monotonic() - t0, 3)
    del value
    time.sleep(5.0)  # RocksDB lets the value's memtable go once it has flushed it
    stop.set()
    for t in threads:
        t.join()
    pings.sort()
    result = {
        "steps_s": times,
        "ping_ms": {
            "n": len(pings),
            "p50": round(pings[len(pings) // 2], 2),
            "p99": round(pings[int(len(pings) * 0.99)], 2),
            "max": round(pings[-1], 2),
        },
        "peak_rss_mb": status(pid, "VmHWM"),
        "rss_5s_after_del_mb": rss[-1] if rss else status(pid, "VmRSS"),
        "disk_growth_mb": dir_mb(datadir) - size_before,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
