"""Acceptance: a seeded random workload over every write command on tidekv, its change
stream (FORMAT RESP / JSON) replayed on a real redis-server, and the two compared key by
key (type, value, TTL within 1 s)."""

import random
import time

import pytest

from conftest import RespError, tidekv_only
from test_cdc_helpers import RedisServer, compare_dumps, dump_db, now_ms, poll_all, replay

pytestmark = tidekv_only

NDBS = 4          # databases the workload uses
N_OPS = 3000
SHORT_MS = (40, 1200)  # short TTLs: expire during the workload
LONG_S = (200, 100000)  # long TTLs: still there at the comparison


class Workload:
    """Random commands. Keys 'p…' only ever get long TTLs (or none) and are the only ones
    renamed/copied; keys 's…' get short TTLs. Every recorded effect of an 's' key is
    either independent of the previous state (SET/MSET/DEL) or a short expiry, so replaying
    after those keys expired still converges once every short TTL has passed."""

    def __init__(self, rng):
        self.rng = rng
        self.p_keys = [b"p%d" % i for i in range(20)] + [b"p\x00bin", b"p\xffbin", "pä€".encode()]
        self.s_keys = [b"s%d" % i for i in range(12)] + [b"s\xfe\x00"]
        self.last_short = 0

    def value(self):
        rng = self.rng
        k = rng.random()
        if k < 0.35:
            return str(rng.randint(-1000, 1000)).encode()
        if k < 0.45:
            return ("%.3f" % rng.uniform(-100, 100)).encode()
        if k < 0.75:
            return "".join(rng.choice("abcdefgh") for _ in range(rng.randint(0, 12))).encode()
        if k < 0.9:
            return bytes(rng.randrange(256) for _ in range(rng.randint(1, 10)))
        return "välue-€-😀".encode()

    def any_key(self):
        return self.rng.choice(self.p_keys + self.s_keys)

    def p(self):
        return self.rng.choice(self.p_keys)

    def s(self):
        return self.rng.choice(self.s_keys)

    def long_s(self):
        return self.rng.randint(*LONG_S)

    def short_ms(self):
        ms = self.rng.randint(*SHORT_MS)
        self.last_short = max(self.last_short, now_ms() + ms)
        return ms

    def set_opts(self):
        rng = self.rng
        c = rng.randrange(12)
        if c == 0:
            return [b"EX", b"%d" % self.long_s()]
        if c == 1:
            return [b"PX", b"%d" % (self.long_s() * 1000 + rng.randint(0, 999))]
        if c == 2:
            return [b"EXAT", b"%d" % (int(time.time()) + self.long_s())]
        if c == 3:
            return [b"PXAT", b"%d" % (now_ms() + self.long_s() * 1000)]
        if c == 4:
            return [b"KEEPTTL"]
        if c == 5:
            return [b"NX"]
        if c == 6:
            return [b"XX"]
        if c == 7:
            return [b"GET"]
        if c == 8:
            return [b"XX", b"KEEPTTL", b"GET"]
        if c == 9:
            return [b"NX", b"EX", b"%d" % self.long_s()]
        return []

    def command(self, db):
        """One random command (argv) for a connection in database db."""
        rng = self.rng
        v = self.value
        c = rng.randrange(100)
        if c < 10:
            return [b"SET", self.p(), v()] + self.set_opts()
        if c < 14:
            return [b"SET", self.s(), v(), b"PX", b"%d" % self.short_ms()]
        if c < 16:
            return [b"SET", self.s(), v()] + rng.choice([[], [b"KEEPTTL"], [b"NX"], [b"XX"], [b"GET"]])
        if c < 18:
            return [b"SETNX", self.any_key(), v()]
        if c < 19:
            return [b"SETEX", self.p(), b"%d" % self.long_s(), v()]
        if c < 20:
            return [b"PSETEX", self.s(), b"%d" % self.short_ms(), v()]
        if c < 22:
            return [b"GETSET", self.any_key(), v()]
        if c < 23:
            return [b"GETDEL", self.any_key()]
        if c < 25:
            o = rng.choice([[b"EX", b"%d" % self.long_s()], [b"PXAT", b"%d" % (now_ms() + self.long_s() * 1000)],
                            [b"PERSIST"], []])
            return [b"GETEX", self.p()] + o
        if c < 26:
            return [b"GETEX", self.s()] + rng.choice([[b"PX", b"%d" % self.short_ms()], [b"PERSIST"], []])
        if c < 29:
            n = rng.randint(1, 4)
            args = []
            for _ in range(n):
                args += [self.any_key(), v()]
            return [rng.choice([b"MSET", b"MSETNX"])] + args
        if c < 35:
            return [rng.choice([b"INCR", b"DECR"]), self.any_key()]
        if c < 38:
            return [rng.choice([b"INCRBY", b"DECRBY"]), self.any_key(), b"%d" % rng.randint(-50, 50)]
        if c < 40:
            return [b"INCRBYFLOAT", self.any_key(), ("%.2f" % rng.uniform(-10, 10)).encode()]
        if c < 43:
            return [b"APPEND", self.any_key(), v()]
        if c < 45:
            return [b"SETRANGE", self.any_key(), b"%d" % rng.randint(0, 20), v()]
        if c < 47:
            return [b"SETBIT", self.any_key(), b"%d" % rng.randint(0, 90), rng.choice([b"0", b"1"])]
        if c < 50:
            return [rng.choice([b"DEL", b"UNLINK"])] + [self.any_key() for _ in range(rng.randint(1, 3))]
        if c < 54:
            cmd = rng.choice([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
            t = self.long_s()
            arg = {b"EXPIRE": t, b"PEXPIRE": t * 1000, b"EXPIREAT": int(time.time()) + t,
                   b"PEXPIREAT": now_ms() + t * 1000}[cmd]
            if rng.random() < 0.1:
                arg = rng.choice([-1, 0, 1])  # in the past: deletes
            flags = rng.choice([[], [], [b"NX"], [b"XX"], [b"GT"], [b"LT"]])
            return [cmd, self.p(), b"%d" % arg] + flags
        if c < 56:
            return [b"PEXPIRE", self.s(), b"%d" % self.short_ms()]
        if c < 58:
            return [b"PERSIST", self.p()]
        if c < 61:
            return [rng.choice([b"RENAME", b"RENAMENX"]), self.p(), self.p()]
        if c < 64:
            args = [b"COPY", self.p(), self.p()]
            if rng.random() < 0.6:
                args += [b"DB", b"%d" % rng.randrange(NDBS)]
            if rng.random() < 0.5:
                args.append(b"REPLACE")
            return args
        if c < 75:
            return rng.choice([[b"GET", self.any_key()], [b"MGET", self.any_key(), self.any_key()],
                               [b"EXISTS", self.any_key()], [b"TTL", self.any_key()], [b"STRLEN", self.any_key()],
                               [b"TYPE", self.any_key()], [b"PTTL", self.any_key()],
                               [b"GETRANGE", self.any_key(), b"0", b"3"]])
        return None  # the caller makes a transaction


def run_workload(server, seed, n_ops=N_OPS):
    rng = random.Random(seed)
    w = Workload(rng)
    conns = [server.conn(timeout=10) for _ in range(NDBS)]
    counts = {"ok": 0, "err": 0, "multi": 0, "flushdb": 0}
    try:
        for db, c in enumerate(conns):
            assert c.call("SELECT", db) == "OK"
        for _ in range(n_ops):
            db = rng.randrange(NDBS)
            c = conns[db]
            if rng.random() < 0.003:
                assert c.call("FLUSHDB") == "OK"
                counts["flushdb"] += 1
                continue
            cmd = w.command(db)
            if cmd is not None:
                rep = c.call(*cmd)
                counts["err" if isinstance(rep, RespError) else "ok"] += 1
                continue
            # MULTI/EXEC of 2..6 commands, possibly in several databases
            counts["multi"] += 1
            assert c.call("MULTI") == "OK"
            cur = db
            for _ in range(rng.randint(2, 6)):
                if rng.random() < 0.3:
                    cur = rng.randrange(NDBS)
                    assert c.call("SELECT", cur) == "QUEUED"
                sub = w.command(cur) or [b"SET", w.p(), w.value()]
                assert c.call(*sub) == "QUEUED", sub
            if cur != db:
                assert c.call("SELECT", db) == "QUEUED"
            res = c.call("EXEC")
            assert isinstance(res, list), res
    finally:
        for c in conns:
            c.close()
    return w, counts


def dump_dbs(client_factory, n=16):
    out = {}
    for db in range(n):
        cl = client_factory(db)
        try:
            out[db] = dump_db(cl)
        finally:
            cl.close()
    return out


def wait_until_quiet(client, quiet_s=1.5, timeout_s=15):
    """Waits until SEQUENCE stays put for quiet_s: the active expiry removes (and records the DEL
    of) keys about a second after they expire, which would otherwise land between reading the
    stream and reading SEQUENCE."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        seq = int(client.execute_command("SEQUENCE"))
        if seq != last:
            last, since = seq, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)
    raise AssertionError("the server kept writing")


@pytest.mark.parametrize("fmt,seed", [("RESP", 20240601), pytest.param("JSON", 777, marks=pytest.mark.soak)])
def test_replaying_the_change_stream_on_redis_reproduces_the_data(make_server, fmt, seed):
    tk = make_server()
    rs = RedisServer()
    try:
        rs.start()
        w, counts = run_workload(tk, seed)
        assert counts["multi"] > 100 and counts["ok"] > 1500, counts
        # every short TTL has passed: both sides agree on what expired
        wait = (w.last_short + 300 - now_ms()) / 1000.0
        if wait > 0:
            time.sleep(wait)
        rt = tk.client()
        wait_until_quiet(rt)
        updates = poll_all(rt, 0, fmt)
        # the stream is complete and in order
        assert updates[0]["sequence"] == 1
        for a, b in zip(updates, updates[1:]):
            assert b["sequence"] == a["sequence"] + a["count"]
            assert b["timestamp"] >= a["timestamp"]
        assert updates[-1]["sequence"] + updates[-1]["count"] - 1 == int(rt.execute_command("SEQUENCE"))
        names = {cmd[0] for u in updates for cmd in u["commands"]}
        for expected in (b"SET", b"MSET", b"DEL", b"PEXPIREAT", b"PERSIST", b"RENAME", b"RENAMENX", b"COPY",
                         b"FLUSHDB", b"SELECT"):
            assert expected in names, "workload produced no %r" % expected
        with rs.conn() as rc:
            errors = replay(rc, updates)
        assert not errors, "replay errors on redis-server: %r" % errors[:10]
        tk_dump = dump_dbs(lambda db: tk.client(db=db))
        rs_dump = dump_dbs(lambda db: rs.client(db=db))
        for db in range(16):
            compare_dumps(tk_dump[db], rs_dump[db], what="db%d" % db)
        assert sum(len(d) for d in tk_dump.values()) > 20
        assert any(p >= 0 for d in tk_dump.values() for (_, _, p) in d.values()), "no TTL left to compare"
        rt.close()
    finally:
        rs.stop()
