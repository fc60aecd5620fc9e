"""Helpers that several integration test files share (conftest.py has the fixtures, the
server process and the RESP client; test_cdc_helpers.py the CDC ones): expected answers, the
server's memory, connections that send and never read, records forged into a stopped
server's database, data of every type, and a loopback server to stand between two servers."""

import os
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import Server, encode_command, server_binary
from test_cdc_helpers import build_batch

MB = 1024 * 1024

# ---------------------------------------------------------------- what commands answer

def wrong_args(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def model_range(items, start, stop):
    """LRANGE / LTRIM / ZRANGE index semantics on a Python list."""
    n = len(items)
    if start < 0:
        start = max(n + start, 0)
    if stop < 0:
        stop = n + stop
    if start > stop or start >= n:
        return []
    stop = min(stop, n - 1)
    return items[start:stop + 1]


# ---------------------------------------------------------------- the server's memory

SANITIZED = bool(os.environ.get("TIDEKV_SANITIZED"))
rss_test = pytest.mark.skipif(SANITIZED, reason="ASan's quarantine and shadow memory change RSS")


def _pid(process):
    """A server's pid, or the pid itself."""
    return process.proc.pid if hasattr(process, "proc") else process


def status_mb(process, field):
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM …), in MB."""
    with open("/proc/%d/status" % _pid(process)) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no %s in /proc status" % field)


def rss_mb(process):
    return status_mb(process, "VmRSS")


def peak_rss_mb(process):
    return status_mb(process, "VmHWM")


def reset_peak_rss(process):
    """Makes the peak (VmHWM) start again from the current RSS."""
    with open("/proc/%d/clear_refs" % _pid(process), "w") as f:
        f.write("5")


# ---------------------------------------------------------------- connections that do not read

def send_ignoring_close(sock, data):
    """Sends data; the server may close the connection meanwhile, which is what is tested."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def unread(server, *commands):
    """A connection that sends the commands and reads nothing (a tiny receive buffer)."""
    sock = socket.create_connection((server.host, server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    send_ignoring_close(sock, b"".join(encode_command(*c) for c in commands))
    return sock


class SlowReader:
    """An unread connection that learns its client id before it sends the commands."""

    def __init__(self, server, *commands):
        self.sock = unread(server)
        self.sock.sendall(encode_command("CLIENT", "ID"))
        line = b""
        while not line.endswith(b"\r\n"):
            line += self.sock.recv(1)
        self.id = int(line[1:-2])
        self.sock.sendall(b"".join(encode_command(*cmd) for cmd in commands))

    def close(self):
        self.sock.close()


def closed_within(sock, seconds):
    """Whether the server closes the connection within `seconds` (replies are read and dropped)."""
    sock.settimeout(min(0.2, seconds))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 16):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def client_ids(r):
    return {int(line.split()[0].split("=")[1]) for line in r.execute_command("CLIENT", "LIST").decode().splitlines()}


def gone_within(r, cid, seconds):
    """Whether the server drops client cid within `seconds` (seen from another connection)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cid not in client_ids(r):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- forged records

DEFAULT_CF, META_CF, SCORE_CF = 0, 1, 2


def ns(db=0):
    """The prefix of every key of database db: its namespace, length first (ENCODING.md)."""
    name = b"__namespace" if db == 0 else b"__db%d" % db
    return bytes([len(name)]) + name


NS = ns(0)


def subkey(key, version, sub, db=0):
    """The key under which a compound key stores sub (a field, member, list index or bitmap
    fragment's offset)."""
    return ns(db) + struct.pack(">I", len(key)) + key + struct.pack(">Q", version) + sub


def string_meta(value, expire_ms=0):
    return b"\x81" + struct.pack(">Q", expire_ms) + value


def bitmap_meta(size, version):
    return b"\x86" + struct.pack(">QQQ", 0, version, size)

# Built next to the server (build/tests/tools/tidekv-rawwrite).
RAWWRITE = os.environ.get("TIDEKV_RAWWRITE") or str(
    Path(server_binary()).parent / "tests" / "tools" / "tidekv-rawwrite")


def corrupt(key="k"):
    """The error a reader of a corrupt key answers."""
    return "ERR corrupt value stored at key '%s', see the server log" % key


def inject(server, batches):
    """Stops the server, writes the raw batches as they are into its database, starts it again."""
    server.stop()
    try:
        done = subprocess.run([RAWWRITE, server.datadir] + [b.hex() for b in batches],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    finally:
        server.start()


def forge(server, records):
    """Writes (cf, key, value) records as one batch of puts into the stopped server's database,
    then starts it again."""
    inject(server, [build_batch([("PUT", cf, k, v) for cf, k, v in records])])


def started_server(extra_args=None):
    """A started server for a module-scoped fixture: `yield from started_server([...])`; it is
    stopped and its directory removed when the module is done."""
    s = Server(extra_args=extra_args)
    try:
        s.start()
        yield s
    finally:
        s.cleanup()


def wait_until(pred, timeout=5.0, interval=0.02):
    """Polls pred until it is true or timeout seconds have passed; returns its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def write_every_type(c, n=50, tag="", dbs=(0,), volatile=False):
    """Keys of every type (string, hash, list, set, zset, a float), some of them changed after
    (EXPIRE, LPOP, DEL), in each database of dbs (c is left in database 0); volatile adds a
    key set with an expiry (SET EX) for every tenth."""
    for db in dbs:
        c.execute_command("SELECT", db)
        p = c.pipeline(transaction=False)
        for i in range(n):
            p.set("s%s%d" % (tag, i), "v%d" % i)
            p.hset("h%s%d" % (tag, i % 7), "f%d" % i, i)
            p.rpush("l%s%d" % (tag, i % 5), i)
            p.sadd("set%s%d" % (tag, i % 3), i)
            p.zadd("z%s%d" % (tag, i % 4), {"m%d" % i: i / 3})
            if i % 10 == 0:
                p.expire("s%s%d" % (tag, i), 1000)
                p.incrbyfloat("f%s" % tag, 1.5)
                p.lpop("l%s%d" % (tag, i % 5))
                p.delete("s%s%d" % (tag, i + 1))
                if volatile:
                    p.set("e%s%d" % (tag, i), "x", ex=1000)
        p.execute()
    c.execute_command("SELECT", 0)


def read_command(sock_file):
    """The next command (a RESP array of bulk strings) read from a socket's file, as a list of
    bytes; None at the end of the stream or for anything else."""
    line = sock_file.readline()
    if not line.startswith(b"*"):
        return None
    args = []
    for _ in range(int(line[1:])):
        n = int(sock_file.readline()[1:])
        args.append(sock_file.read(n + 2)[:-2])
    return args


class LoopbackServer:
    """A TCP server on 127.0.0.1 (a free port) that tests put between two servers: every
    accepted connection goes to handle(sock, conn_no) (conn_no counts from 1) on a thread of its
    own. Subclasses set their attributes before calling __init__, which starts accepting."""

    def __init__(self):
        self.connections = 0
        self.accepted = []
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                s, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(None)
            self.connections += 1
            self.accepted.append(s)
            threading.Thread(target=self.handle, args=(s, self.connections), daemon=True).start()

    def handle(self, sock, conn_no):
        raise NotImplementedError

    def cut_all(self):
        """Shuts every accepted connection down (their handlers see them end)."""
        for s in list(self.accepted):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.sock.close()
        self.cut_all()
