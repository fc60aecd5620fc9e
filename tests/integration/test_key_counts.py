"""DBSIZE and INFO keyspace read counts that commits keep (storage/keycount.c): they must agree
exactly with a walk of the keyspace (KEYS, SCAN, PTTL) after any sequence of writes, and after
a restart or a kill -9."""

import random
import re
import time

import pytest
import redis

from conftest import IS_REDIS, tidekv_only
from test_cdc_helpers import poll_all

DBS = (0, 1)
KEYS = ["k%d" % i for i in range(12)]


def keyspace_line(info, db):
    """(keys, expires, avg_ttl) of one database from INFO keyspace text, zeros if absent."""
    if isinstance(info, dict):  # redis-py parses it
        d = info.get("db%d" % db)
        return (d["keys"], d["expires"], d["avg_ttl"]) if d else (0, 0, 0)
    text = info.decode() if isinstance(info, (bytes, bytearray)) else str(info)
    m = re.search(r"^db%d:keys=(\d+),expires=(\d+),avg_ttl=(-?\d+)\r?$" % db, text, re.M)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def transaction(s, db, *cmds):
    """The replies of commands run in one MULTI/EXEC: they all see one clock."""
    with s.conn() as c:
        assert c.call("SELECT", db) == "OK"
        assert c.call("MULTI") == "OK"
        for cmd in cmds:
            assert c.call(*cmd) == "QUEUED"
        return c.call("EXEC")


def check_counts(s, db, context=""):
    """DBSIZE and INFO keyspace against KEYS, then against the PTTL of every key listed."""
    dbsize, keys, info = transaction(s, db, ("DBSIZE",), ("KEYS", "*"), ("INFO", "keyspace"))
    assert dbsize == len(keys) == keyspace_line(info, db)[0], (context, dbsize, keys, info)
    # At a later time (some keys may have expired since): the state of each key listed then.
    *ttls, dbsize, info = transaction(s, db, *[("PTTL", k) for k in keys], ("DBSIZE",), ("INFO", "keyspace"))
    alive = [t for t in ttls if t != -2]
    with_ttl = [t for t in ttls if t >= 0]
    n, expires, avg_ttl = keyspace_line(info, db)
    assert dbsize == n == len(alive), (context, dbsize, ttls, info)
    assert expires == len(with_ttl), (context, ttls, info)
    if IS_REDIS:
        return  # Redis estimates avg_ttl from its expiry cycle's samples
    if with_ttl:
        assert abs(avg_ttl - sum(with_ttl) / len(with_ttl)) <= 1, (context, ttls, info)
    else:
        assert avg_ttl == 0


def check_all(s, context=""):
    for db in DBS:
        check_counts(s, db, context)


def scan_count(cl):
    return sum(1 for _ in cl.scan_iter(count=7))


# ----------------------------------------------------------------------
# what each kind of write does (no key expires here: the same on Redis)
# ----------------------------------------------------------------------

def test_counts_follow_writes_of_every_type(server, r):
    r1 = server.client(db=1)
    try:
        steps = [
            lambda: r.set("s", "v"),
            lambda: r.set("s", "w", ex=1000),  # an overwrite adds an expiry, not a key
            lambda: r.setex("s2", 500, "v"),
            lambda: r.mset({"m1": "1", "m2": "2", "s": "plain again"}),
            lambda: r.hset("h", mapping={"a": "1", "b": "2"}),
            lambda: r.hdel("h", "a", "b"),  # emptied: gone
            lambda: r.rpush("l", "a", "b", "c"),
            lambda: r.lpop("l", 3),
            lambda: r.sadd("set", "x", "y"),
            lambda: r.spop("set", 2),
            lambda: r.zadd("z", {"a": 1, "b": 2}),
            lambda: r.zpopmin("z", 2),
            lambda: r.setbit("bits", 100000, 1),
            lambda: r.append("m1", "more"),
            lambda: r.incr("n"),
            lambda: r.expire("n", 300),
            lambda: r.persist("n"),
            lambda: r.expire("m2", 200),
            lambda: r.rename("m2", "m3"),  # the expiry moves with it
            lambda: r.rename("m3", "s"),  # over an existing key
            lambda: r.copy("s", "c1"),
            lambda: r.copy("s", "c1", replace=True),
            lambda: r.copy("s", "s", destination_db=1),
            lambda: r1.copy("s", "c1", destination_db=0, replace=True),
            lambda: r.getdel("c1"),
            lambda: r.delete("s2", "missing", "bits"),
            lambda: r1.hset("h1", "f", "v"),
            # one commit writing a key several times (a transaction), and a pipeline of them
            lambda: transaction(server, 0, ("SET", "t", "1"), ("DEL", "t"), ("SET", "t", "2", "EX", "100"),
                                ("PERSIST", "t"), ("EXPIRE", "t", "50"), ("HSET", "t2", "f", "v"), ("DEL", "t2")),
            lambda: r.pipeline(transaction=False).set("p", "1").delete("p").set("p", "2", ex=60).rpush("pl", "a")
            .lpop("pl").sadd("ps", "m").expire("ps", 70).rename("ps", "p").execute(),
            lambda: r.flushdb(),
            lambda: r.set("after", "flush", px=900000),
            lambda: r.flushall(),
            lambda: r.set("last", "1"),
        ]
        for i, step in enumerate(steps):
            step()
            check_all(server, "step %d" % i)
            assert scan_count(r) == r.dbsize() and scan_count(r1) == r1.dbsize()
    finally:
        r1.close()


def test_transaction_counts_its_own_writes(server, r):
    r.mset({"a": "1", "b": "2"})
    replies = transaction(server, 0, ("DBSIZE",), ("SET", "c", "3", "EX", "100"), ("DEL", "a"), ("DBSIZE",),
                          ("INFO", "keyspace"), ("FLUSHDB",), ("DBSIZE",), ("HSET", "h", "f", "v"), ("DBSIZE",))
    assert replies[0] == 2 and replies[3] == 2
    assert keyspace_line(replies[4], 0)[:2] == (2, 1)
    assert replies[6] == 0 and replies[8] == 1
    assert r.dbsize() == 1


@tidekv_only
def test_avg_ttl_is_the_mean_time_left(server, r):
    """Redis estimates avg_ttl from samples its expiry cycle takes; tidekv's is exact."""
    r.set("a", "1", px=100000)
    r.set("b", "1", px=300000)
    r.set("c", "1")
    ttl_a, ttl_b, info = transaction(server, 0, ("PTTL", "a"), ("PTTL", "b"), ("INFO", "keyspace"))
    keys, expires, avg_ttl = keyspace_line(info, 0)
    assert (keys, expires) == (3, 2)
    assert 190000 < avg_ttl <= 200000
    assert abs(avg_ttl - (ttl_a + ttl_b) / 2) <= 1


# ----------------------------------------------------------------------
# a random workload, keys expiring as it runs
# ----------------------------------------------------------------------

def random_step(rng, clients):
    """One random write (or a read that reclaims an expired key) on a random database."""
    db = rng.choice(DBS)
    cl = clients[db]
    k, k2 = rng.choice(KEYS), rng.choice(KEYS)
    ttl_ms = rng.choice([25, 60, 150, 600000])
    ops = [
        lambda: cl.set(k, "v"),
        lambda: cl.set(k, "v", px=ttl_ms),
        lambda: cl.set(k, "v", keepttl=True),
        lambda: cl.set(k, "v", nx=True, px=ttl_ms),
        lambda: cl.mset({k: "1", k2: "2"}),
        lambda: cl.pexpire(k, ttl_ms),
        lambda: cl.persist(k),
        lambda: cl.delete(k, k2),
        lambda: cl.getdel(k),
        lambda: cl.get(k),
        lambda: cl.exists(k),
        lambda: cl.rename(k, k2),
        lambda: cl.copy(k, k2, replace=rng.random() < 0.5),
        lambda: cl.copy(k, k2, destination_db=1 - db, replace=rng.random() < 0.5),
        lambda: cl.hset(k, "f%d" % rng.randrange(3), "v"),
        lambda: cl.hdel(k, "f0", "f1"),
        lambda: cl.rpush(k, "a", "b"),
        lambda: cl.lpop(k, rng.randrange(1, 4)),
        lambda: cl.sadd(k, "x", "y"),
        lambda: cl.spop(k, rng.randrange(1, 3)),
        lambda: cl.zadd(k, {"a": 1, "b": 2}),
        lambda: cl.zpopmin(k, rng.randrange(1, 3)),
        lambda: cl.setbit(k, rng.choice([3, 70000]), 1),
        lambda: cl.append(k, "x"),
        lambda: cl.incr(k),
        lambda: time.sleep(0.08),  # lets the shortest expiries pass
    ]
    rare = [lambda: cl.flushdb(), lambda: cl.flushall()]
    op = rng.choice(rare) if rng.random() < 0.02 else rng.choice(ops)
    try:
        op()
    except redis.ResponseError:
        pass  # WRONGTYPE, no such key for RENAME …: no write


def random_commands(rng, n):
    """Random writes on two keys, so that one commit writes a key several times."""
    k, k2 = rng.choice(KEYS), rng.choice(KEYS)
    pool = [("SET", k, "v"), ("SET", k, "v", "PX", "40"), ("SET", k2, "v", "EX", "100"), ("DEL", k),
            ("HSET", k, "f", "v"), ("HDEL", k, "f"), ("PEXPIRE", k, "30"), ("EXPIRE", k2, "300"), ("RPUSH", k, "a"),
            ("LPOP", k), ("PERSIST", k), ("RENAME", k, k2), ("COPY", k2, k, "REPLACE"), ("GET", k)]
    return [rng.choice(pool) for _ in range(n)] + ([("FLUSHDB",)] if rng.random() < 0.1 else [])


def random_multi(rng, s):
    """A transaction of random writes, with DBSIZE and KEYS at its end (its own clock)."""
    cmds = random_commands(rng, rng.randrange(1, 8))
    rng.shuffle(cmds)
    *_, dbsize, keys = transaction(s, 0, *cmds, ("DBSIZE",), ("KEYS", "*"))
    assert dbsize == len(keys), (cmds, dbsize, keys)


def random_pipeline(rng, cl):
    """Random writes sent at once: the server commits them as one write group."""
    pipe = cl.pipeline(transaction=False)
    for cmd in random_commands(rng, rng.randrange(2, 10)):
        pipe.execute_command(*cmd)
    pipe.execute(raise_on_error=False)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
@pytest.mark.parametrize("seed", [1, 2])
def test_random_workload_counts_exactly(make_server, seed):
    """tidekv-only: Redis's DBSIZE counts an expired key until it is reclaimed, tidekv's stops
    at its expiry time, as KEYS does (storage/keycount.c says why)."""
    rng = random.Random(seed)
    s = make_server()
    clients = {db: s.client(db=db) for db in DBS}
    for step in range(250):
        if rng.random() < 0.05:
            random_multi(rng, s)
        elif rng.random() < 0.05:
            random_pipeline(rng, clients[0])
        else:
            random_step(rng, clients)
        check_all(s, "seed %d step %d" % (seed, step))
    # SCAN and DBSIZE run at two clocks: let the short TTLs (150 ms at most) pass first, or a key
    # expiring in between is counted by one and not the other.
    time.sleep(0.3)
    for cl in clients.values():
        assert scan_count(cl) == cl.dbsize()
        cl.close()

    s.restart()
    check_all(s, "after a restart")
    with s.client() as cl:
        cl.set("k0", "v", px=600000)
        cl.delete("k1", "k2")
        cl.hset("k1", "f", "v")
    s.kill9()
    s.start()
    check_all(s, "after kill -9")


@tidekv_only
def test_applybatch_counts_exactly(make_server):
    """Every batch of a random workload applied to a second server: its counts agree with its
    keys after each batch."""
    rng = random.Random(7)
    src, dst = make_server(), make_server()
    clients = {db: src.client(db=db) for db in DBS}
    for _ in range(200):
        random_step(rng, clients)
    for cl in clients.values():
        cl.close()
    with src.client() as rs, dst.client() as rd:
        for i, raw in enumerate(poll_all(rs, 0, "RAW")):
            data = bytes.fromhex(raw.decode())
            assert rd.execute_command("APPLYBATCH", data) == len(data)
            check_all(dst, "batch %d" % i)
    dst.restart()
    check_all(dst, "applied, restarted")


# ----------------------------------------------------------------------
# blind writes of big records (16 kB or more: their keys' shares are kept aside, never read back)
# ----------------------------------------------------------------------

def test_big_strings_written_blind_count_once(server, r):
    big = "x" * 20000
    for value in (big, "small", big, big):
        r.set("big", value)
        assert r.dbsize() == 1
    r.set("big2", big, px=600000)
    assert r.dbsize() == 2
    check_counts(server, 0)
    r.delete("big")
    assert r.dbsize() == 1
    r.flushdb()
    r.set("big2", "small")
    assert r.dbsize() == 1


@tidekv_only
def test_big_records_are_known_after_a_restart(make_server):
    """The walk at start-up finds the big records again."""
    s = make_server()
    with s.client() as cl:
        cl.set("big", "x" * 20000)
        cl.set("big2", "y" * 20000, px=600000)
    s.restart()
    with s.client() as cl:
        cl.set("big", "small")
        cl.set("big2", "z" * 20000)
        cl.set("new", "z" * 20000)
        assert cl.dbsize() == 3
    check_all(s, "after a restart")
