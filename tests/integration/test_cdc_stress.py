"""Adversarial concurrency tests of the CDC machinery: the tail cache and its shared renderings
(evicted while read with a tiny --cdc-cache-mb), pacing changed at run time, filtered polls
beside shared ones, replies written straight to the socket or queued, and consumers that go
away in the middle of a wait or of a large reply.

Every consumer checks each reply as it comes (next_sequence chaining, batch sequence + count,
MAX), and at the end its whole stream must be byte for byte what a fresh non-blocking read
returns in the same format and protocol (and, where the server is restarted, what the WAL alone
returns). The writers put a unique token (@w<writer>#<n>@) in every value they create, so the
decoded stream must show each writer's tokens exactly once and in order: lost, duplicated or
reordered changes fail a test, not just wrong counts. The last test probes BLOCK polls that
arrive while a large commit is on its way into the tail cache.

About 30 s on a 2-core machine (about a minute against the sanitizer build)."""

import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections import defaultdict

from conftest import RespError, encode_command, soak, tidekv_only
from test_cdc_helpers import REPLY_KEYS, json_update, resp_update

pytestmark = [tidekv_only, soak]

# Deadlines only (nothing here asserts on timing): a sanitized server is several times slower.
SLOW = 4 if os.environ.get("TIDEKV_SANITIZED") else 1
FOLLOW_DEADLINE = 120 * SLOW  # the most a follower may take in all
CATCH_UP_DEADLINE = 40 * SLOW  # after the last write, to reach the end

TOKEN_RE = re.compile(rb"@w(\d+)#(\d+)@")
HEX_DIGITS = b"0123456789ABCDEF"
# The recorded commands whose value arguments carry the writers' tokens (each token is created
# by exactly one of them, and nothing else repeats it).
TOKEN_CMDS = {b"SET", b"HSET", b"RPUSH", b"SADD", b"ZADD"}
KEY_TYPES = {b"str": "string", b"big": "string", b"huge": "string", b"hash": "hash", b"list": "list",
             b"set": "set", b"zset": "zset"}


# ----------------------------------------------------------------------
# A RESP2/RESP3 connection that keeps the exact bytes of every update
# ----------------------------------------------------------------------

class ServerError(Exception):
    pass


class Wire:
    def __init__(self, port, protocol=2, timeout=30.0, rcvbuf=None, slow_read=False):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            raise
        self.sock = s
        self.buf = bytearray()
        self.pos = 0
        self.protocol = protocol
        self.chunk = 16384 if slow_read else 1 << 20
        self.slow_read = slow_read
        if protocol == 3:
            self.send("HELLO", 3)
            rep = self.read_value()
            assert isinstance(rep, dict), "HELLO 3 answered %r" % (rep,)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *args):
        self.sock.sendall(encode_command(*args))

    def _fill(self):
        if self.slow_read:
            time.sleep(0.0005)
        chunk = self.sock.recv(self.chunk)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _bulk(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise AssertionError("bulk of %d bytes not followed by CRLF" % n)
        self.pos += n + 2
        return data

    def _value(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._bulk(n)
        if t in (b":", b"("):
            return int(rest)
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return ServerError(rest.decode("utf-8", "replace"))
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self._value() for _ in range(n)]
        if t == b"%":
            d = {}
            for _ in range(int(rest)):
                k = self._value()
                d[k] = self._value()
            return d
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t == b"=":
            return self._bulk(int(rest))[4:]
        if t == b"!":
            return ServerError(self._bulk(int(rest)).decode("utf-8", "replace"))
        if t == b"|":
            for _ in range(2 * int(rest)):
                self._value()
            return self._value()
        raise AssertionError("unknown reply type in line %r" % line)

    def _compact(self):
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0

    def read_value(self):
        self._compact()
        return self._value()

    def call(self, *args):
        self.send(*args)
        return self.read_value()

    def read_poll(self, pipelined=False):
        """One POLLUPDATES reply as a dict; 'updates' is a list of (exact bytes, value)."""
        self._compact()
        line = self._line()
        t = line[:1]
        if t == b"-":
            raise ServerError(line[1:].decode("utf-8", "replace"))
        n = int(line[1:])
        if self.protocol == 3:
            assert t == b"%", "a RESP3 poll reply is not a map: %r" % line
            npairs = n
        else:
            assert t == b"*" and n % 2 == 0, "a RESP2 poll reply is not a flat map: %r" % line
            npairs = n // 2
        rep = {"_keys": []}
        for _ in range(npairs):
            k = self._value()
            k = k.decode() if isinstance(k, bytes) else k
            rep["_keys"].append(k)
            if k == "updates":
                h = self._line()
                assert h[:1] == b"*", "updates is not an array: %r" % h
                ups = []
                for _ in range(int(h[1:])):
                    start = self.pos
                    v = self._value()
                    ups.append((bytes(self.buf[start:self.pos]), v))
                rep[k] = ups
            else:
                rep[k] = self._value()
        if not pipelined and len(self.buf) != self.pos:
            raise AssertionError("%d unexpected bytes after a poll reply: %r"
                                 % (len(self.buf) - self.pos, bytes(self.buf[self.pos:self.pos + 200])))
        return rep


def decode_update(fmt, v):
    if fmt == "RAW":
        assert isinstance(v, bytes) and len(v) >= 24 and len(v) % 2 == 0 and not v.translate(None, HEX_DIGITS), \
            "bad RAW update %r" % (v[:100],)
        s, c = struct.unpack("<QI", bytes.fromhex(v[:24].decode()))
        return {"sequence": s, "count": c}
    d = resp_update(v) if fmt == "RESP" else json_update(v)
    assert list(d)[:5] == ["sequence", "count", "timestamp", "db", "commands"], d
    return d


def check_reply(rep, pos, fmt, max_, filtered, what):
    """What every reply must satisfy; returns the decoded updates."""
    assert rep["_keys"] == REPLY_KEYS, "%s: reply keys %r" % (what, rep["_keys"])
    latest, nxt, first = rep["latest_sequence"], rep["next_sequence"], rep["first_sequence"]
    ups = [decode_update(fmt, v) for _, v in rep["updates"]]
    ctx = "%s: poll from %d: latest %d next %d first %d, updates %r" % (
        what, pos, latest, nxt, first, [(u["sequence"], u["count"]) for u in ups][:20])
    assert latest >= nxt >= pos, ctx
    assert first == pos + 1, "history lost or misreported: " + ctx
    assert len(ups) <= max_, ctx
    if not filtered:
        if ups:
            assert ups[0]["sequence"] == pos + 1, "not contiguous with the previous reply: " + ctx
            for a, b in zip(ups, ups[1:]):
                assert b["sequence"] == a["sequence"] + a["count"], "gap or overlap inside a reply: " + ctx
            assert nxt == ups[-1]["sequence"] + ups[-1]["count"] - 1, "next_sequence off: " + ctx
        else:
            assert nxt == pos, "an empty unfiltered reply moved next_sequence: " + ctx
    else:
        prev_end = pos
        for u in ups:
            assert u["sequence"] > prev_end and u["count"] >= 1, "overlap or reorder: " + ctx
            assert u["commands"], "a filtered reply holds a batch without commands: " + ctx
            prev_end = u["sequence"] + u["count"] - 1
        assert prev_end <= nxt, "next_sequence behind the updates: " + ctx
    return ups


# ----------------------------------------------------------------------
# Followers (blocking consumers) and fresh reads
# ----------------------------------------------------------------------

class World:
    """What the followers of one test share."""

    def __init__(self, server):
        self.server = server
        self.disconnect_ok = threading.Event()  # set around a deliberate restart
        self.started = time.monotonic()


class Follower(threading.Thread):
    def __init__(self, world, name, start, fmt, max_, protocol, block=200, extra=(),
                 rcvbuf=None, slow_read=False, delay=0.0, filtered=False):
        super().__init__(name=name, daemon=True)
        self.world, self.start_pos, self.pos = world, start, start
        self.fmt, self.max, self.protocol, self.block = fmt, max_, protocol, block
        self.extra = tuple(extra)
        self.rcvbuf, self.slow_read, self.delay = rcvbuf, slow_read, delay
        self.filtered = filtered
        self.updates = []  # (exact bytes, decoded)
        self.target = None  # set once the writes are over
        self.target_set_at = None
        self.error = None
        self.reconnects = 0
        self.polls = 0
        self.last = None

    def describe(self):
        return "%s (FORMAT %s MAX %d RESP%d BLOCK %d %s)" % (
            self.name, self.fmt, self.max, self.protocol, self.block, " ".join(map(str, self.extra)))

    def set_target(self, target):
        self.target_set_at = time.monotonic()
        self.target = target

    def _connect(self):
        deadline = time.monotonic() + 20 * SLOW
        while True:
            try:
                return Wire(self.world.server.port, self.protocol, rcvbuf=self.rcvbuf, slow_read=self.slow_read)
            except OSError:
                if not self.world.disconnect_ok.is_set() or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def run(self):
        conn = None
        try:
            while True:
                if self.target is not None and self.pos >= self.target:
                    return
                now = time.monotonic()
                if now - self.world.started > FOLLOW_DEADLINE or (
                        self.target_set_at and now - self.target_set_at > CATCH_UP_DEADLINE):
                    raise AssertionError("stuck at %d (target %s) after %d polls; last reply: %r"
                                         % (self.pos, self.target, self.polls, self.last))
                if conn is None:
                    conn = self._connect()
                try:
                    conn.send("POLLUPDATES", self.pos, "BLOCK", self.block, "MAX", self.max,
                              "FORMAT", self.fmt, *self.extra)
                    rep = conn.read_poll()
                except (ConnectionError, OSError):
                    if not self.world.disconnect_ok.is_set():
                        raise
                    conn.close()
                    conn = None
                    self.reconnects += 1
                    continue
                self.polls += 1
                self.last = {k: v for k, v in rep.items() if k != "updates"}
                self.last["updates"] = len(rep["updates"])
                ups = check_reply(rep, self.pos, self.fmt, self.max, self.filtered, self.describe())
                self.updates.extend(zip((b for b, _ in rep["updates"]), ups))
                self.pos = rep["next_sequence"]
                if self.delay:
                    time.sleep(self.delay)
        except BaseException as e:  # reported by the test
            self.error = "%s: %s\n%s" % (self.describe(), e, traceback.format_exc())
        finally:
            if conn is not None:
                conn.close()


class EdgeChaser(threading.Thread):
    """Polls from where the oldest batches of a 1 MB cache are (found from the batch sizes a RAW
    follower has seen), in a decoded format with a small MAX, so that renderings are made of
    batches that are being evicted. Every reply is kept, to be checked against fresh reads."""

    def __init__(self, world, name, index_of, protocol, seed, cache_bytes=1 << 20):
        super().__init__(name=name, daemon=True)
        self.world, self.index_of, self.protocol = world, index_of, protocol
        self.rnd = random.Random(seed)
        self.cache_bytes = cache_bytes
        self.stop = threading.Event()
        self.results = []  # (fmt, [(exact bytes, decoded)])
        self.error = None
        self.polls = 0

    def run(self):
        conn = None
        try:
            while not self.stop.is_set():
                ups = self.index_of()
                n = len(ups)
                if n < 5:
                    time.sleep(0.01)
                    continue
                target, acc, i = self.rnd.uniform(0.5, 1.3) * self.cache_bytes, 0, n - 1
                while i > 0 and acc < target:
                    acc += len(ups[i][0]) // 2
                    i -= 1
                u = ups[i][1]
                pos = u["sequence"] + u["count"] - 1
                fmt, max_ = self.rnd.choice(["JSON", "RESP"]), self.rnd.choice([1, 2, 3])
                try:
                    if conn is None:
                        conn = Wire(self.world.server.port, self.protocol)
                    conn.send("POLLUPDATES", pos, "MAX", max_, "FORMAT", fmt)
                    rep = conn.read_poll()
                except (ConnectionError, OSError):
                    if not self.world.disconnect_ok.is_set():
                        raise
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.05)
                    continue
                self.polls += 1
                got = check_reply(rep, pos, fmt, max_, False, "%s at %d" % (self.name, pos))
                self.results.append((fmt, list(zip((b for b, _ in rep["updates"]), got))))
                time.sleep(0.002)
        except BaseException as e:
            self.error = "%s: %s\n%s" % (self.name, e, traceback.format_exc())
        finally:
            if conn is not None:
                conn.close()

    def check(self, fresh):
        """Every update it got is the one a fresh read in its format and protocol has there."""
        by_seq = {fmt: {u["sequence"]: b for b, u in fresh[(fmt, self.protocol if fmt == "RESP" else 0)]}
                  for fmt in ("JSON", "RESP")}
        assert self.polls >= 20, "%s: only %d polls" % (self.name, self.polls)
        for fmt, ups in self.results:
            for b, u in ups:
                assert b == by_seq[fmt].get(u["sequence"]), "%s: the %s update at %d differs from a fresh read" % (
                    self.name, fmt, u["sequence"])


def start_followers(followers):
    for f in followers:
        f.start()


def finish_followers(followers, target, beyond=False):
    """Lets the followers reach target and checks they did. With beyond, they may have read
    further (writes made after target to wake them): that part is cut off."""
    for f in followers:
        f.set_target(target)
    for f in followers:
        f.join(CATCH_UP_DEADLINE + 30)
    hung = [f.describe() for f in followers if f.is_alive()]
    assert not hung, "followers still running (a read hung): %s" % hung
    errors = [f.error for f in followers if f.error]
    assert not errors, "\n\n".join(errors)
    for f in followers:
        if beyond and f.pos > target:
            f.updates = [(b, u) for b, u in f.updates if u["sequence"] <= target]
            assert not f.updates or f.updates[-1][1]["sequence"] + f.updates[-1][1]["count"] - 1 == target
            f.pos = target
        assert f.pos == target, "%s ended at %d, not %d" % (f.describe(), f.pos, target)


def fresh_read(server, start, fmt, protocol, max_=1000, extra=(), filtered=False):
    """Every update after start, paged without BLOCK: [(exact bytes, decoded)]."""
    w = Wire(server.port, protocol, timeout=60)
    try:
        out, pos = [], start
        deadline = time.monotonic() + 60 * SLOW
        while True:
            assert time.monotonic() < deadline, "a fresh read is stuck at %d" % pos
            w.send("POLLUPDATES", pos, "MAX", max_, "FORMAT", fmt, *extra)
            rep = w.read_poll()
            ups = check_reply(rep, pos, fmt, max_, filtered, "fresh read %s RESP%d %r" % (fmt, protocol, extra))
            out.extend(zip((b for b, _ in rep["updates"]), ups))
            if rep["next_sequence"] >= rep["latest_sequence"]:
                return out
            pos = rep["next_sequence"]
    finally:
        w.close()


def short(x, n=300):
    s = repr(x)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def assert_same_stream(got, want, what):
    """Two update lists are identical; names the first difference (pytest's own diff of lists
    this size would take minutes)."""
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            raise AssertionError("%s: update %d differs:\n  got  %s\n  want %s"
                                 % (what, i, short(a), short(b)))
    assert len(got) == len(want), "%s: %d updates, expected %d (next expected: %s)" % (
        what, len(got), len(want), short(want[len(got)] if len(want) > len(got) else got[len(want)]))


def raws(updates):
    return [b for b, _ in updates]


def decoded(updates):
    return [d for _, d in updates]


def check_contiguous(updates, start, end, what):
    assert updates, "%s: no updates" % what
    expected = start + 1
    for i, u in enumerate(decoded(updates)):
        assert u["sequence"] == expected, "%s: update %d at %d, expected %d" % (what, i, u["sequence"], expected)
        expected += u["count"]
    assert expected - 1 == end, "%s: ends at %d, expected %d" % (what, expected - 1, end)


def check_tokens(updates, produced, what):
    """Each writer's tokens appear once each, in the order it wrote them."""
    seen = defaultdict(list)
    for u in decoded(updates):
        for cmd in u["commands"]:
            if cmd[0] in TOKEN_CMDS:
                for a in cmd[2:]:
                    for m in TOKEN_RE.finditer(a):
                        seen[int(m.group(1))].append(int(m.group(2)))
    assert set(seen) == set(produced), "%s: writers %r seen, %r wrote" % (what, sorted(seen), sorted(produced))
    for wid, n in produced.items():
        got = seen[wid]
        if got != list(range(n)):
            dup = sorted({t for t in got if got.count(t) > 1})[:10]
            missing = sorted(set(range(n)) - set(got))[:10]
            bad = next((i for i, t in enumerate(got) if t != i), None)
            raise AssertionError("%s: writer %d wrote %d tokens, the stream shows %d; duplicated %r, "
                                 "missing %r, first out of place at %r"
                                 % (what, wid, n, len(got), dup, missing, bad))


def check_cross_formats(followers, what):
    """Every unfiltered follower saw the same batches; the decoded formats the same content."""
    ref = followers[0]
    ref_ids = [(u["sequence"], u["count"]) for u in decoded(ref.updates)]
    content = None
    for f in followers:
        ids = [(u["sequence"], u["count"]) for u in decoded(f.updates)]
        assert_same_stream(ids, ref_ids, "%s: batches of %s vs %s" % (what, f.describe(), ref.describe()))
        if f.fmt != "RAW":
            if content is None:
                content, cname = decoded(f.updates), f.describe()
            else:
                assert_same_stream(decoded(f.updates), content, "%s: decoded %s vs %s" % (what, f.describe(), cname))
    return content


# ----------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------

class Tokens:
    def __init__(self, wid):
        self.wid, self.n = wid, 0

    def __call__(self):
        t = b"@w%d#%d@" % (self.wid, self.n)
        self.n += 1
        return t


def payload(rnd, lo, hi):
    """Binary, escaped ASCII or multibyte UTF-8 (JSON shows each differently); never '@'."""
    n = rnd.randint(lo, hi)
    kind = rnd.randrange(3)
    if kind == 0:
        return rnd.randbytes(n).replace(b"@", b"\x00")
    if kind == 1:
        return bytes(rnd.choice(b'ab"\\\n\t\x01\x1f/ ') for _ in range(n)) if n < 2000 else \
            (b'q"\\\n\x01' * (n // 5 + 1))[:n]
    return ("\u00e9\u2713z" * (n // 6 + 1)).encode()[:max(0, n - n % 6)]


def run_writers(specs):
    """Runs writer functions in threads; returns {writer id: tokens written}."""
    results, errors = {}, []

    def wrap(fn, wid, args):
        try:
            results[wid] = fn(wid, *args)
        except BaseException as e:
            errors.append("writer %d: %s\n%s" % (wid, e, traceback.format_exc()))

    threads = [threading.Thread(target=wrap, args=(fn, wid, args), daemon=True) for fn, wid, args in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * SLOW)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert not errors, "\n".join(errors)
    return results


def mixed_command(tok, rnd, wid, i, db_suffix=b""):
    """One writing command with a token (most) or without (counter, pop, expiry, delete)."""
    k = lambda t, n: b"%s:%d:%s%d" % (t, wid, db_suffix, n)  # noqa: E731
    op = i % 10
    if op < 3:
        return ["SET", k(b"str", i % 40), tok() + payload(rnd, 0, 300)]
    if op == 3:
        return ["HSET", k(b"hash", i % 6), b"f%d" % (i % 9), tok()]
    if op == 4:
        a = tok()
        return ["RPUSH", k(b"list", i % 4), a, tok()]
    if op == 5:
        return ["SADD", k(b"set", i % 4), tok()]
    if op == 6:
        return ["ZADD", k(b"zset", i % 4), i, tok()]
    if op == 7:
        return ["INCR", k(b"str", 99)]
    if op == 8:
        return ["LPOP", k(b"list", i % 4)]
    if i % 20 == 9:
        return ["EXPIRE", k(b"str", (i + 1) % 40), 100000]
    return ["DEL", k(b"str", (i + 7) % 40)]


def writer_mixed(wid, server, n_ops, pipeline, seed):
    """Mixed commands, pipelined (pipeline > 1: many commits per write group) or not."""
    rnd = random.Random(seed)
    tok = Tokens(wid)
    r = server.client(socket_timeout=60 * SLOW)
    try:
        p = r.pipeline(transaction=False) if pipeline > 1 else None
        for i in range(n_ops):
            cmd = mixed_command(tok, rnd, wid, i)
            if p is None:
                r.execute_command(*cmd)
            else:
                p.execute_command(*cmd)
                if len(p) >= pipeline:
                    p.execute()
        if p is not None and len(p):
            p.execute()
    finally:
        r.close()
    return tok.n


def writer_tx(wid, server, n_ops, seed, db=2):
    """Single commands and MULTI/EXEC transactions, some of them switching to another database."""
    rnd = random.Random(seed)
    tok = Tokens(wid)
    with server.conn(timeout=60 * SLOW) as c:
        for i in range(n_ops):
            if i % 2 == 0:
                rep = c.call(*mixed_command(tok, rnd, wid, i))
                assert not isinstance(rep, RespError), rep
                continue
            assert c.call("MULTI") == "OK"
            for j in range(rnd.randint(2, 4)):
                assert c.call(*mixed_command(tok, rnd, wid, rnd.randrange(7))) == "QUEUED"
            if i % 3 == 1:
                assert c.call("SELECT", db) == "QUEUED"
                for j in range(2):
                    assert c.call(*mixed_command(tok, rnd, wid, rnd.randrange(7), b"db%d:" % db)) == "QUEUED"
                assert c.call("SELECT", 0) == "QUEUED"
            rep = c.call("EXEC")
            assert isinstance(rep, list) and not any(isinstance(x, RespError) for x in rep), rep
    return tok.n


def writer_large(wid, server, n, seed, lo=100_000, hi=160_000):
    """Large values (a RAW update of one is twice its size): sockets fill, renderings and
    batches leave the 1 MB cache at every write. Every fifth round, three in one write group."""
    rnd = random.Random(seed)
    tok = Tokens(wid)
    r = server.client(socket_timeout=60 * SLOW)
    try:
        for i in range(n):
            if i % 5 == 4:
                p = r.pipeline(transaction=False)
                for j in range(3):
                    p.set(b"big:%d:%d" % (wid, j), tok() + payload(rnd, lo, hi))
                p.execute()
            else:
                r.set(b"big:%d:%d" % (wid, i % 5), tok() + payload(rnd, lo, hi))
    finally:
        r.close()
    return tok.n


FAST_WRITER = r"""
import random, socket, sys, time
port, wid, n_ops, pipeline, seed, rate, vsize = map(int, sys.argv[1:])
t0 = time.monotonic()
rnd = random.Random(seed)
def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
tokens = 0
with socket.create_connection(("127.0.0.1", port), timeout=120) as x:
    for base in range(0, n_ops, pipeline):
        cmds = []
        for i in range(base, min(n_ops, base + pipeline)):
            tok = b"@w%d#%d@" % (wid, tokens)
            tokens += 1
            if i % 2:
                cmds.append(enc(b"HSET", b"hash:%d:%d" % (wid, i % 50), b"f%d" % (i % 7), tok))
            else:
                cmds.append(enc(b"SET", b"str:%d:%d" % (wid, i % 500), tok + rnd.randbytes(vsize).hex().encode()))
        x.sendall(b"".join(cmds))
        data = bytearray()
        while data.count(b"\r\n") < len(cmds):
            chunk = x.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            data += chunk
        if data.count(b"\r\n") != len(cmds) or b"-" in data:
            sys.exit("bad replies: %r" % bytes(data[:300]))
        ahead = t0 + (base + len(cmds)) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
print(tokens)
"""


def writer_fast(wid, server, n_ops, pipeline, seed, rate=10 ** 9, vsize=8):
    """A busy stream: SET and HSET with small values, pipelined on a plain socket from another
    process (so that it does not share the followers' interpreter lock), at most rate a second."""
    out = subprocess.run([sys.executable, "-c", FAST_WRITER, str(server.port), str(wid), str(n_ops),
                          str(pipeline), str(seed), str(rate), str(vsize)], capture_output=True, timeout=120 * SLOW)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return int(out.stdout)


def writer_huge(wid, server, n, seed, followers):
    """Values of megabytes, each written while the followers wait at the head and followed at
    once by small writes from another connection: the followers' waits, woken by the huge commit,
    render it (for milliseconds) while the small commits evict it from the 1 MB cache, which
    keeps only the newest batch whatever its size."""
    rnd = random.Random(seed)
    tok = Tokens(wid)
    big = server.client(socket_timeout=60 * SLOW)
    small = server.client(socket_timeout=60 * SLOW)
    try:
        for i in range(n):
            deadline = time.monotonic() + 5 * SLOW
            while time.monotonic() < deadline and any(f.pos < sequence(server) for f in followers):
                time.sleep(0.01)
            time.sleep(0.05)
            big.set(b"huge:%d:%d" % (wid, i % 2), tok() + payload(rnd, 800_000, 2_000_000))
            for j in range(10):
                time.sleep(0.001)  # the first lands while the waits render the huge batch
                small.set(b"str:%d:%d" % (wid, j), tok())
    finally:
        big.close()
        small.close()
    return tok.n


def check_followers(server, followers, start, end, produced):
    """Each follower's stream runs from start to end without a gap, all formats decode alike
    with every writer's tokens once and in order, and each stream is byte for byte a fresh read
    of start..end in its format. Returns the fresh reads by (format, protocol)."""
    for f in followers:
        check_contiguous(f.updates, start, end, f.describe())
    content = check_cross_formats(followers, "followers")
    check_tokens([(None, u) for u in content], produced, "decoded stream")
    fresh = {}
    for f in followers:
        key = (f.fmt, f.protocol if f.fmt == "RESP" else 0)
        if key not in fresh:
            fresh[key] = [x for x in fresh_read(server, start, f.fmt, f.protocol) if x[1]["sequence"] <= end]
        assert_same_stream(raws(f.updates), raws(fresh[key]), "%s vs a fresh read" % f.describe())
    return fresh


def sequence(server):
    with server.conn() as c:
        return int(c.call("SEQUENCE"))


# ----------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------

def test_followers_in_every_format_see_one_stream_through_evictions_and_restarts(make_server):
    """Eight blocking followers (RAW, RESP and JSON; MAX 1, 7 and 1000; RESP2 and RESP3; STRICT;
    one reading slowly through a small receive buffer, so that its replies are queued) follow
    four writers (pipelined and not, MULTI/EXEC with SELECT, 20-150 KB values) through a 1 MB
    cache, then megabyte values that followers waiting at the head render while small commits
    evict them; a restart in the middle (the cache starts empty: followers go from the WAL back
    to the cache) and the same again. Two more consumers keep polling, with MAX 1-3 in decoded
    formats, where the oldest cached batches are being evicted. Every stream must equal fresh
    reads in the same format and protocol, and, after another restart, what the WAL alone
    gives."""
    s = make_server(["--cdc-cache-mb", "1"])
    start = sequence(s)
    world = World(s)
    followers = [
        Follower(world, "raw-1", start, "RAW", 1, 2),
        Follower(world, "raw-1000", start, "RAW", 1000, 3, extra=("STRICT",)),
        Follower(world, "resp2-7", start, "RESP", 7, 2),
        Follower(world, "resp3-1000", start, "RESP", 1000, 3),
        Follower(world, "json-7", start, "JSON", 7, 3),
        Follower(world, "json-1000", start, "JSON", 1000, 2, extra=("STRICT",)),
        Follower(world, "resp3-1", start, "RESP", 1, 3),
        Follower(world, "resp2-1000-slow", start, "RESP", 1000, 2, rcvbuf=4096, slow_read=True, delay=0.01),
    ]
    start_followers(followers)
    raw_follower = followers[1]
    chasers = [EdgeChaser(world, "chaser-resp%d" % p, lambda: raw_follower.updates, p, p) for p in (2, 3)]
    for c in chasers:
        c.start()

    def phase(base):
        produced = run_writers([
            (writer_mixed, base + 1, (s, 1500, 25, base + 1)),
            (writer_mixed, base + 2, (s, 300, 1, base + 2)),
            (writer_tx, base + 3, (s, 200, base + 3)),
            (writer_large, base + 4, (s, 40, base + 4, 20_000, 150_000)),
        ])
        # then megabyte values written to followers waiting at the head
        produced.update(run_writers([(writer_huge, base + 5, (s, 4, base + 5, followers))]))
        return produced

    produced = phase(0)
    # Restart while followers are mid-stream (at least the slow one): each must resume where it was.
    world.disconnect_ok.set()
    s.restart()
    deadline = time.monotonic() + 20 * SLOW
    while any(f.reconnects == 0 and f.error is None and f.is_alive() for f in followers):
        assert time.monotonic() < deadline, "followers did not notice the restart: %r" % [
            (f.name, f.reconnects) for f in followers]
        time.sleep(0.05)
    world.disconnect_ok.clear()
    produced.update(phase(5))
    for c in chasers:
        c.stop.set()
        c.join(30 * SLOW)
    assert not any(c.is_alive() for c in chasers), "a chaser hung"
    end = sequence(s)
    finish_followers(followers, end)
    errors = [c.error for c in chasers if c.error]
    assert not errors, "\n\n".join(errors)

    fresh = check_followers(s, followers, start, end, produced)
    for c in chasers:
        c.check(fresh)

    s.restart()  # nothing in the cache: every poll reads the WAL
    for (fmt, protocol), want in fresh.items():
        got = fresh_read(s, start, fmt, protocol or 2, max_=333)
        assert_same_stream(raws(got), raws(want), "%s RESP%d from the WAL after a restart" % (fmt, protocol or 2))
    assert s.running


def test_pacing_changed_while_busy_followers_linger(make_server):
    """Writers in other processes keep the stream busy (24,000 commands/s: followers near the
    head are paced and linger) while cdc-poll-pace-ms flips between 0, 1, 5, 10, 20 and 50 at
    run time. Followers with BLOCK 0, 1, 50 and 200 and MAX 500 and 1000 (few, and mostly RAW,
    so that they keep up and count as busy) must each see exactly the stream. There are more
    than 65536 sequences in the cache, so the fresh reads from the start skip the shared
    renderings."""
    s = make_server(["--cdc-cache-mb", "16"])
    start = sequence(s)
    world = World(s)
    followers = [
        Follower(world, "raw-1000-forever", start, "RAW", 1000, 2, block=0),
        Follower(world, "raw-1000-strict", start, "RAW", 1000, 3, extra=("STRICT",)),
        Follower(world, "resp3-1000-block50", start, "RESP", 1000, 3, block=50),
        Follower(world, "raw-500-block1", start, "RAW", 500, 2, block=1),
    ]
    stop_flipping = threading.Event()
    flips, flip_errors = [], []

    def flipper():
        rnd = random.Random(7)
        try:
            with s.conn() as c:
                while not stop_flipping.is_set():
                    v = rnd.choice([5, 5, 10, 20, 0, 1, 5, 50])
                    assert c.call("CONFIG", "SET", "cdc-poll-pace-ms", v) == "OK"
                    flips.append(v)
                    time.sleep(rnd.uniform(0.05, 0.2))
        except BaseException as e:
            flip_errors.append(repr(e))

    ft = threading.Thread(target=flipper, daemon=True)
    ft.start()
    result = {}

    def writers():
        try:
            result["produced"] = run_writers([
                (writer_fast, 1, (s, 36000, 100, 1, 12000)),
                (writer_fast, 2, (s, 36000, 100, 2, 12000)),
                (writer_tx, 4, (s, 100, 4)),
            ])
        except BaseException as e:
            result["error"] = "%s\n%s" % (e, traceback.format_exc())

    wt = threading.Thread(target=writers, daemon=True)
    try:
        start_followers(followers)
        wt.start()
        wt.join(180 * SLOW)
    finally:
        stop_flipping.set()
        ft.join(10)
    assert not wt.is_alive(), "the writers hung"
    assert "error" not in result, result["error"]
    produced = result["produced"]
    assert not flip_errors, flip_errors
    assert len(set(flips)) >= 3, flips
    with s.conn() as c:
        assert c.call("CONFIG", "SET", "cdc-poll-pace-ms", 5) == "OK"
    end = sequence(s)
    assert end - start > 65536
    # Followers waiting with BLOCK 0 at the end need a write to answer: nudge them with writes
    # to another database (after `end`, cut off below) until every follower is there.
    for f in followers:
        f.set_target(end)
    deadline = time.monotonic() + CATCH_UP_DEADLINE
    with s.conn() as c:
        c.call("SELECT", 9)
        while any(f.is_alive() for f in followers) and time.monotonic() < deadline:
            c.call("SET", "nudge", "x")
            time.sleep(0.1)
    finish_followers(followers, end, beyond=True)

    check_followers(s, followers, start, end, produced)
    assert s.running


def client_side_filter(u, keep):
    """What a filtered poll shows of an unfiltered batch (CDC.md): the kept commands, a SELECT
    where the database changes between two of them, db = the first one's; None if none kept."""
    db, kept = u["db"], []
    for cmd in u["commands"]:
        if cmd[0] == b"SELECT" and len(cmd) == 2:
            db = int(cmd[1])
            continue
        if keep(db, cmd):
            kept.append((db, cmd))
    if not kept:
        return None
    cmds = []
    for i, (d, cmd) in enumerate(kept):
        if i and d != kept[i - 1][0]:
            cmds.append([b"SELECT", b"%d" % d])
        cmds.append(cmd)
    out = dict(u)
    out["db"] = kept[0][0]
    out["commands"] = cmds
    return out


def key_type(cmd):
    return KEY_TYPES[cmd[1].split(b":")[0]]


FILTERS = [
    # name, options, predicate(db, command) — every command here has one key, argv[1]
    ("match-hash", ("MATCH", "hash:*"), lambda db, c: c[1].startswith(b"hash:")),
    ("type-set", ("TYPE", "set"), lambda db, c: key_type(c) == "set"),
    ("writer1-strings", ("MATCH", "*:1:*", "TYPE", "string"),
     lambda db, c: b":1:" in c[1] and key_type(c) == "string"),
    ("db2", ("DB", 2), lambda db, c: db == 2),
    ("nothing", ("MATCH", "nomatch:*"), lambda db, c: False),
    ("zset-2-db0", ("TYPE", "zset", "MATCH", "zset:2:*", "DB", 0),
     lambda db, c: db == 0 and c[1].startswith(b"zset:2:")),
]


def test_filtered_followers_beside_unfiltered_ones(make_server):
    """Filtered followers (MATCH, TYPE, DB and combinations, one matching nothing) read beside
    unfiltered ones through a 1 MB cache: each filtered stream must be the unfiltered stream
    filtered client-side, and every next_sequence must reach the end."""
    s = make_server(["--cdc-cache-mb", "1"])
    start = sequence(s)
    world = World(s)
    plain = [
        Follower(world, "plain-resp3", start, "RESP", 1000, 3),
        Follower(world, "plain-json-7", start, "JSON", 7, 2),
    ]
    setups = [("RESP", 7, 2), ("JSON", 1000, 3), ("RESP", 1, 3), ("JSON", 5, 2), ("RESP", 3, 2), ("RESP", 1000, 2)]
    filtered = [Follower(world, name, start, fmt, max_, proto, extra=opts, filtered=True)
                for (name, opts, _), (fmt, max_, proto) in zip(FILTERS, setups)]
    start_followers(plain + filtered)
    produced = run_writers([
        (writer_mixed, 1, (s, 1500, 30, 1)),
        (writer_mixed, 2, (s, 400, 1, 2)),
        (writer_tx, 3, (s, 250, 3)),
        (writer_large, 4, (s, 10, 4)),
    ])
    end = sequence(s)
    finish_followers(plain + filtered, end)

    for f in plain:
        check_contiguous(f.updates, start, end, f.describe())
    content = check_cross_formats(plain, "unfiltered followers")
    check_tokens([(None, u) for u in content], produced, "decoded stream")
    assert any(cmd[0] == b"SELECT" for u in content for cmd in u["commands"]), "no database switch"
    for f, (name, opts, keep) in zip(filtered, FILTERS):
        want = [x for x in (client_side_filter(u, keep) for u in content) if x is not None]
        if name != "nothing":
            assert len(want) > 20, "%s: the writes gave the filter too little to keep" % name
        assert_same_stream(decoded(f.updates), want, "%s vs the unfiltered stream filtered here" % f.describe())
        again = fresh_read(s, start, f.fmt, f.protocol, max_=f.max, extra=opts, filtered=True)
        assert_same_stream(raws(f.updates), raws(again), "%s vs a fresh filtered read" % f.describe())
    assert s.running


def rude_consumer(server, start, rnd, stop, counts, errors, at_least=15):
    """Consumers that leave abruptly: in the middle of a BLOCK wait or a lingering one, of a
    large reply, of a pipeline of polls, or killed by CLIENT KILL while blocked."""
    port = server.port

    def sock(rcvbuf=None):
        x = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            x.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        x.settimeout(30)
        x.connect(("127.0.0.1", port))
        return x

    def rst_close(x):
        x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        x.close()

    def head():
        return sequence(server)

    try:
        done = 0
        while not stop.is_set() or done < at_least:
            done += 1
            action = rnd.randrange(7)
            counts[action] += 1
            fmt = rnd.choice(["RAW", "RESP", "JSON"])
            if action == 0:  # blocked at the head, then gone (FIN or RST)
                x = sock()
                x.sendall(encode_command("POLLUPDATES", head(), "BLOCK", 5000, "FORMAT", fmt))
                time.sleep(rnd.uniform(0, 0.03))
                rst_close(x) if rnd.random() < 0.5 else x.close()
            elif action == 1:  # a large reply read a little, then RST
                x = sock(rcvbuf=4096)
                x.sendall(encode_command("POLLUPDATES", start, "MAX", 1000, "FORMAT", fmt))
                x.recv(rnd.choice([1, 100, 5000]))
                rst_close(x)
            elif action == 2:  # a pipeline of polls never read
                x = sock(rcvbuf=4096)
                h = head()
                x.sendall(b"".join(encode_command("POLLUPDATES", p, "MAX", 1000, "BLOCK", 100, "FORMAT", fmt)
                                   for p in (start, max(start, h - 500), h, h)))
                time.sleep(rnd.uniform(0, 0.02))
                x.close()
            elif action == 3:  # CLIENT KILL of a blocked poller
                w = Wire(port, rnd.choice([2, 3]))
                cid = w.call("CLIENT", "ID")
                w.send("POLLUPDATES", head(), "BLOCK", 5000, "FORMAT", fmt)
                time.sleep(rnd.uniform(0, 0.02))
                with server.conn() as k:
                    assert k.call("CLIENT", "KILL", "ID", cid) == 1
                w.sock.settimeout(10 * SLOW)
                try:  # closed, possibly after the poll's answer
                    while w.sock.recv(65536):
                        pass
                except TimeoutError:
                    raise AssertionError("CLIENT KILL did not close a blocked poller")
                except (ConnectionError, OSError):
                    pass
                w.close()
            elif action == 4:  # made busy (paced), then gone while lingering
                w = Wire(port, 2)
                h = head()
                if h - start >= 3000:
                    p0 = h - 3000
                    w.sock.sendall(b"".join(encode_command("POLLUPDATES", p0 + 1000 * k, "MAX", 1000)
                                            for k in range(3)))
                    for _ in range(3):
                        w.read_poll(pipelined=True)
                    w.send("POLLUPDATES", p0 + 3000, "MAX", 1000, "BLOCK", 2000, "FORMAT", fmt)
                    time.sleep(rnd.uniform(0, 0.03))
                rst_close(w.sock)
            elif action == 5:  # POLLUPDATES … BLOCK inside MULTI answers at once
                w = Wire(port, rnd.choice([2, 3]))
                assert w.call("MULTI") == "OK"
                assert w.call("POLLUPDATES", head(), "BLOCK", 10000, "MAX", 5, "FORMAT", fmt) == "QUEUED"
                rep = w.call("EXEC")
                assert isinstance(rep, list) and len(rep) == 1 and not isinstance(rep[0], ServerError), rep
                w.close()
            else:  # half-close in the middle of a wait
                x = sock()
                x.sendall(encode_command("POLLUPDATES", head(), "BLOCK", 3000, "FORMAT", fmt))
                x.shutdown(socket.SHUT_WR)
                time.sleep(rnd.uniform(0, 0.02))
                x.close()
    except BaseException as e:
        errors.append("%s\n%s" % (e, traceback.format_exc()))


def test_consumers_leaving_abruptly_leave_the_others_unharmed(make_server):
    """While writers run (large values among them) and pacing is on, consumers keep leaving in
    the middle of waits, lingering waits and large replies, or are killed while blocked. The
    server stays up, its connections go back to what remains, and the well-behaved followers'
    streams are exact."""
    s = make_server(["--cdc-cache-mb", "1"])
    with s.conn() as c:
        assert c.call("CONFIG", "SET", "cdc-poll-pace-ms", 20) == "OK"
        baseline = int(dict(
            line.split(":", 1) for line in c.call("INFO", "clients").decode().split("\r\n") if ":" in line
        )["connected_clients"])
    start = sequence(s)
    world = World(s)
    followers = [
        Follower(world, "raw-1000", start, "RAW", 1000, 3),
        Follower(world, "resp2-7", start, "RESP", 7, 2),
        Follower(world, "json-1000-slow", start, "JSON", 1000, 2, rcvbuf=4096, slow_read=True),
    ]
    start_followers(followers)
    stop = threading.Event()
    counts, errors = defaultdict(int), []
    rude = [threading.Thread(target=rude_consumer, args=(s, start, random.Random(i), stop, counts, errors),
                             daemon=True) for i in range(3)]
    for t in rude:
        t.start()
    try:
        produced = run_writers([
            (writer_mixed, 1, (s, 4000, 50, 1)),
            (writer_mixed, 2, (s, 300, 1, 2)),
            (writer_large, 3, (s, 20, 3)),
        ])
    finally:
        stop.set()
        for t in rude:
            t.join(30 * SLOW)
    assert not any(t.is_alive() for t in rude), "a rude consumer hung"
    assert not errors, "\n".join(errors)
    assert s.running, "the server died:\n" + s.log()[-3000:]
    assert len(counts) == 7 and sum(counts.values()) >= 30, dict(counts)
    end = sequence(s)
    finish_followers(followers, end)

    for f in followers:
        check_contiguous(f.updates, start, end, f.describe())
    content = check_cross_formats(followers, "followers")
    check_tokens([(None, u) for u in content], produced, "decoded stream")
    for f in followers:
        want = fresh_read(s, start, f.fmt, f.protocol)
        assert_same_stream(raws(f.updates), raws(want), "%s vs a fresh read" % f.describe())

    def connected():
        with s.conn() as c:
            info = c.call("INFO", "clients").decode()
        return int(dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)["connected_clients"])

    deadline = time.monotonic() + 10 * SLOW
    while connected() > baseline:
        assert time.monotonic() < deadline, "connections left behind: %d, expected %d" % (connected(), baseline)
        time.sleep(0.1)
    with s.conn() as c:
        assert c.call("CONFIG", "SET", "cdc-poll-pace-ms", 5) == "OK"
        assert c.call("PING") == "PONG"
    assert s.running


def test_block_polls_arriving_while_a_commit_reaches_the_cache_wait_for_it(make_server):
    """CDC.md: a BLOCK poll that finds nothing waits, and replies empty only on timeout. A
    commit counts in RocksDB's latest sequence (and is in the WAL) a little before the tail
    cache holds it: for a batch of megabytes, for the milliseconds it takes to copy it in. Polls
    at the head arriving in between must wait for it (or read it from the WAL), not answer at
    once with nothing and next_sequence unchanged. Probes (mostly filtered, so that their
    replies stay small) go out every millisecond while an 8 MB SET is being committed. Nothing
    here depends on timing: a reply without progress is wrong whenever the probe's BLOCK could
    not have run out before the SET was acknowledged (by then the cache holds the commit)."""
    s = make_server()
    with s.conn() as c:
        # A small first batch: the oldest batch in the WAL is read again every second (to know
        # what is retained), and an 8 MB one there would stall the probes for tens of ms.
        assert c.call("SET", "first", "x") == "OK"
    block_ms = 1000 * SLOW
    rnd = random.Random(5)
    wrong, probes_sent = [], 0
    for round_ in range(3):
        head = sequence(s)
        value = rnd.randbytes(8 << 20)
        idle = [Wire(s.port, 3 if i % 2 else 2, timeout=60 * SLOW) for i in range(100)]
        probes, acked = [], []

        def write():
            with socket.create_connection(("127.0.0.1", s.port), timeout=60 * SLOW) as x:
                x.sendall(encode_command("SET", "huge", value))
                reply = x.recv(100)
                acked.append((reply, time.monotonic()))

        wt = threading.Thread(target=write, daemon=True)
        wt.start()
        while not acked or time.monotonic() - acked[0][1] < 0.02:
            assert wt.is_alive() or acked, "the SET failed"
            unfiltered = len(probes) % 5 == 2  # odd and even: on either worker
            w = idle.pop() if idle else Wire(s.port, 2, timeout=60 * SLOW)
            w.send("POLLUPDATES", head, "BLOCK", block_ms,
                   *(("FORMAT", "RESP") if unfiltered else ("FORMAT", "RESP", "MATCH", "nomatch:*")))
            probes.append((w, time.monotonic(), unfiltered))
            time.sleep(0.001)
        wt.join(60 * SLOW)
        assert acked and acked[0][0] == b"+OK\r\n", acked
        done = acked[0][1]
        for w in idle:
            w.close()
        for w, sent_at, unfiltered in probes:
            rep = w.read_poll()
            check_reply(rep, head, "RESP", 16, not unfiltered, "probe")
            if rep["next_sequence"] == head and sent_at + block_ms / 1000 > done:
                wrong.append("round %d: %s poll sent %.1f ms before the SET's reply: latest_sequence %d, "
                             "next_sequence %d, %d updates"
                             % (round_, "an unfiltered" if unfiltered else "a filtered", (done - sent_at) * 1000,
                                rep["latest_sequence"], rep["next_sequence"], len(rep["updates"])))
            w.close()
        probes_sent += len(probes)
    assert not wrong, ("%d of %d BLOCK polls were answered at once with nothing although a commit was "
                       "under way (in RocksDB's latest sequence, not yet in the tail cache):\n%s"
                       % (len(wrong), probes_sent, "\n".join(wrong)))
    assert s.running
