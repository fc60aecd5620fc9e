"""Shared fixtures and helpers for the tidekv integration tests.

By default the tests run against ``build/tidekv-server`` (relative to the
repository root, override with ``TIDEKV_SERVER=/path/to/binary``).  With
``TIDEKV_TEST_TARGET=redis`` the very same suite runs against a real
``/usr/bin/redis-server`` so that the expectations can be checked against
Redis itself.

Helpers that test files share beyond these fixtures (unread connections, the server's
memory, forged records …) are in helpers.py.

Only the Debian packages python3-pytest and python3-redis are used.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("TIDEKV_TEST_TARGET", "tidekv").strip().lower() or "tidekv"
IS_REDIS = TARGET == "redis"
REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

tidekv_only = pytest.mark.skipif(IS_REDIS, reason="tidekv-only behaviour")
# Long soak and stress tests: `make test` leaves them out (-m "not soak"), `make soak` runs them.
soak = pytest.mark.soak


def pytest_configure(config):
    config.addinivalue_line("markers", "tidekv_only: test only meaningful for tidekv")
    config.addinivalue_line("markers", "soak: long soak or stress test, run by make soak")


def pytest_collection_modifyitems(config, items):
    if not IS_REDIS:
        return
    skip = pytest.mark.skip(reason="tidekv-only behaviour")
    for item in items:
        if "tidekv_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return "tidekv integration target: %s (%s)" % (TARGET, server_binary())


def server_binary():
    if IS_REDIS:
        return REDIS_SERVER
    env = os.environ.get("TIDEKV_SERVER")
    if env:
        return os.path.abspath(env)
    return str(REPO_ROOT / "build" / "tidekv-server")


def _die_with_parent():
    """Make the server get SIGTERM if the test runner dies (Linux only)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:
        pass


def free_port():
    """Return a TCP port on 127.0.0.1 that is currently free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def normalize_args(extra_args):
    """Accept {'requirepass': 'secret'} or ['--requirepass', 'secret']."""
    if extra_args is None:
        return []
    if isinstance(extra_args, dict):
        out = []
        for k, v in extra_args.items():
            out.append("--" + k.lstrip("-"))
            if isinstance(v, (list, tuple)):
                out.extend(str(x) for x in v)
            elif v is not None:
                out.append(str(v))
        return out
    return [str(a) for a in extra_args]


class Server:
    """One server process (tidekv or redis) on 127.0.0.1 with a temp dir."""

    def __init__(self, extra_args=None, config_file=None, port=None):
        self.extra_args = normalize_args(extra_args)
        self.config_file = str(config_file) if config_file else None
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.basedir = tempfile.mkdtemp(prefix="tidekv-it-")
        self.datadir = os.path.join(self.basedir, "data")
        os.makedirs(self.datadir, exist_ok=True)
        self.logfile = os.path.join(self.basedir, "server.log")
        self.proc = None
        self.returncode = None
        self.binary = server_binary()

    # ------------------------------------------------------------------
    def command_line(self):
        cmd = [self.binary]
        if self.config_file:
            cmd.append(self.config_file)
        cmd += ["--port", str(self.port), "--dir", self.datadir, "--bind", "127.0.0.1"]
        if IS_REDIS:
            cmd += ["--save", "", "--appendonly", "yes"]
        else:
            # Every write is recorded: a command that writes without a change record stops
            # the server, and so fails the test that ran it.
            cmd += ["--debug-check-recording", "yes"]
            if not self.config_file and "--workers" not in self.extra_args:
                # Two workers even on a 2-core machine (where the default is one): the tests
                # exercise what happens between worker threads.
                cmd += ["--workers", "2"]
        cmd += self.extra_args
        return cmd

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "<no log>"

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, extra_args=None):
        if extra_args is not None:
            self.extra_args = normalize_args(extra_args)
        if self.running:
            raise RuntimeError("server already running")
        if not os.path.exists(self.binary):
            raise RuntimeError("server binary not found: %s (build it first or set TIDEKV_SERVER)"
                               % self.binary)
        cmd = self.command_line()
        with open(self.logfile, "ab") as logf:
            logf.write(("\n=== starting: %r\n" % (cmd,)).encode())
            logf.flush()
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.basedir,
                                         preexec_fn=_die_with_parent)
        self.returncode = None
        self._wait_ready()
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise RuntimeError("server exited with code %s during startup\ncmd: %r\n--- log ---\n%s"
                                   % (self.proc.returncode, self.command_line(), self.log()))
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    data = s.recv(100)
                    if data.startswith(b"+PONG") or data.startswith(b"-NOAUTH"):
                        return
                    last_err = "unexpected PING reply %r" % data
            except OSError as e:
                last_err = repr(e)
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError("server did not answer PING within %.0fs (%s)\ncmd: %r\n--- log ---\n%s"
                           % (START_TIMEOUT, last_err, self.command_line(), self.log()))

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit by itself; returns the exit code."""
        if self.proc is None:
            return self.returncode
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.proc = None
        return self.returncode

    def stop(self):
        """SIGTERM and wait.  Returns the exit code."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                self.proc = None
                raise RuntimeError("server did not exit within %.0fs of SIGTERM\n--- log ---\n%s"
                                   % (STOP_TIMEOUT, self.log()))
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def kill9(self):
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def restart(self, extra_args=None):
        self.stop()
        return self.start(extra_args)

    def cleanup(self):
        try:
            if self.running:
                self.stop()
        except RuntimeError:
            pass
        finally:
            if self.proc is not None:
                self.kill9()
            shutil.rmtree(self.basedir, ignore_errors=True)

    # ------------------------------------------------------------------
    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def conn(self, timeout=5.0):
        return RespConn(self.host, self.port, timeout=timeout)

    def __repr__(self):
        return "<Server %s port=%d>" % (TARGET, self.port)


# ----------------------------------------------------------------------
# Raw protocol helpers
# ----------------------------------------------------------------------

def raw(server, data: bytes, read_timeout=2, idle=0.3) -> bytes:
    """Send ``data`` on a fresh plain socket and return everything read until
    the connection is closed or goes idle.

    ``read_timeout`` bounds the wait for the first byte (and the whole read);
    once data has arrived, the read stops after ``idle`` seconds of silence.
    """
    port = server.port if hasattr(server, "port") else int(server)
    out = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        if data:
            s.sendall(data)
        deadline = time.monotonic() + max(read_timeout, idle) + 10
        while time.monotonic() < deadline:
            s.settimeout(idle if out else read_timeout)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return bytes(out)


class RespError(str):
    """An error reply, with the full text including the error code."""

    def __repr__(self):
        return "RespError(%s)" % str.__repr__(self)


class Simple(str):
    """A simple-string reply (+OK)."""


class Verbatim(bytes):
    fmt = b"txt"


class Push(list):
    pass


class Attribute(dict):
    pass


class ConnectionClosed(Exception):
    pass


def encode_command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class RespConn:
    """A tiny RESP2/RESP3 client over a plain socket, for exact-reply tests."""

    def __init__(self, host="127.0.0.1", port=6379, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed("connection closed by server; buffered=%r" % bytes(self.buf))
        self.buf += chunk

    def _readline(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def _readn(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        if self.buf[n:n + 2] != b"\r\n":
            raise ValueError("bulk not terminated by CRLF: %r" % bytes(self.buf[:n + 2]))
        del self.buf[:n + 2]
        return data

    def read_raw(self):
        """Return the raw bytes of exactly one reply."""
        return self._read_capture()

    def _read_capture(self):
        # Parse one reply, but record the exact bytes consumed.
        consumed = bytearray()
        orig_readline, orig_readn = self._readline, self._readn

        def rl():
            line = orig_readline()
            consumed.extend(line + b"\r\n")
            return line

        def rn(n):
            d = orig_readn(n)
            consumed.extend(d + b"\r\n")
            return d

        self._readline, self._readn = rl, rn
        try:
            self.read_reply()
        finally:
            del self._readline
            del self._readn
        return bytes(consumed)

    def read_reply(self):
        line = self._readline()
        if not line:
            raise ValueError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Simple(rest.decode("utf-8", "replace"))
        if t == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t == b"(":
            return int(rest)
        if t == b",":
            return float(rest.decode())
        if t == b"#":
            return rest == b"t"
        if t == b"_":
            return None
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self._readn(n)
        if t == b"!":
            return RespError(self._readn(int(rest)).decode("utf-8", "replace"))
        if t == b"=":
            data = self._readn(int(rest))
            v = Verbatim(data[4:])
            v.fmt = data[:3]
            return v
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read_reply() for _ in range(n)]
            if t == b">":
                return Push(items)
            return items
        if t in (b"%", b"|"):
            n = int(rest)
            d = Attribute() if t == b"|" else {}
            for _ in range(n):
                k = self.read_reply()
                v = self.read_reply()
                if isinstance(k, list):
                    k = tuple(k)
                d[k] = v
            if t == b"|":
                # attributes precede the real reply
                return self.read_reply()
            return d
        raise ValueError("unknown reply type %r in line %r" % (t, line))

    def call(self, *args):
        self.send(encode_command(*args))
        return self.read_reply()

    def call_raw(self, *args):
        self.send(encode_command(*args))
        return self.read_raw()

    def is_closed(self, timeout=2.0):
        """True if the server closes the connection within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
            return False
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True


def call(server, *args):
    """Run one command on a fresh raw connection; return the parsed reply
    (errors are returned as RespError with their full text)."""
    with server.conn() as c:
        return c.call(*args)


# ----------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    s = Server()
    try:
        s.start()
    except Exception:
        s.cleanup()
        raise
    yield s
    s.cleanup()


@pytest.fixture(autouse=True)
def _flush_shared_server(request):
    """FLUSHALL the module server before each test that uses it."""
    if "server" in request.fixturenames:
        s = request.getfixturevalue("server")
        if not s.running:
            # a previous test crashed or stopped it: start it again so that
            # the remaining tests still say something useful
            s.proc = None
            s.start()
        c = s.client()
        try:
            c.flushall()
        finally:
            c.close()
    yield


@pytest.fixture
def r(server):
    c = server.client(decode_responses=False)
    yield c
    c.close()


@pytest.fixture
def make_server():
    servers = []

    def factory(extra_args=None, config_file=None, start=True, port=None):
        s = Server(extra_args=extra_args, config_file=config_file, port=port)
        servers.append(s)
        if start:
            s.start()
        return s

    yield factory
    for s in servers:
        s.cleanup()


@pytest.fixture
def c(server):
    """A raw RESP connection to the module server (errors come back as
    RespError values carrying the server's full error text)."""
    conn = server.conn()
    yield conn
    conn.close()
