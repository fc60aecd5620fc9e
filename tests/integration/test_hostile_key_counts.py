"""Hostile tests of the exact key counts (DBSIZE, INFO keyspace: storage/keycount.c): sequences of
writes chosen to make the counts drift from what a walk of the keyspace finds (KEYS, SCAN,
PTTL, in one MULTI: test_key_counts.check_counts). Every step is followed by that check.

Steps where no key expires by the passing of time run on Redis too (Redis counts an expired
key until it reclaims it, so those that wait for expiries are tidekv-only)."""

import random
import threading
import time

import pytest
import redis

from conftest import IS_REDIS, encode_command, soak, tidekv_only
from helpers import META_CF, forge, ns, started_server, string_meta
from test_cdc_helpers import poll_all
from test_key_counts import check_counts, keyspace_line, scan_count, transaction

DBS = (0, 1)
DAY_MS = 86400000


def check(s, context="", dbs=DBS):
    for db in dbs:
        check_counts(s, db, context)


def run_steps(s, steps, dbs=DBS, check_after=lambda cmd: True):
    """Runs (command, expected reply) steps on one connection (None: any reply), checking the
    counts after each (for which check_after is true). A command is a tuple; ("SELECT", n)
    switches the database."""
    with s.conn() as c:
        for i, (cmd, expected) in enumerate(steps):
            got = c.call(*cmd)
            if expected is not None:
                assert got == expected, (i, cmd, got)
            if check_after(cmd):
                check(s, "step %d %r" % (i, cmd), dbs)


def big(n, fill=b"x"):
    return fill * n


# ----------------------------------------------------------------------
# RENAME, RENAMENX, COPY over keys of every type, with and without a TTL
# ----------------------------------------------------------------------

MAKERS = {
    "string": lambda k: [("SET", k, "v")],
    "hash": lambda k: [("HSET", k, "f", "v", "g", "w")],
    "list": lambda k: [("RPUSH", k, "a", "b")],
    "set": lambda k: [("SADD", k, "m", "n")],
    "zset": lambda k: [("ZADD", k, "1", "m")],
    "bitmap": lambda k: [("SETBIT", k, "70000", "1")],
}


def make(c, type_name, key, ttl_ms=None, db=0):
    c.call("SELECT", db)
    for cmd in MAKERS[type_name](key):
        c.call(*cmd)
    if ttl_ms:
        assert c.call("PEXPIRE", key, ttl_ms) == 1


def test_rename_and_copy_over_keys_of_other_types(server):
    types = sorted(MAKERS)
    with server.conn() as c:
        for i, src_type in enumerate(types):
            for j, dst_type in enumerate(types):
                ctx = "%s over %s" % (src_type, dst_type)
                c.call("FLUSHALL")
                make(c, src_type, "src", 500000 if (i + j) % 2 else None)
                make(c, dst_type, "dst", 300000 if j % 2 else None)
                make(c, dst_type, "dst", 200000 if i % 2 else None, db=1)
                c.call("SELECT", 0)
                assert c.call("RENAMENX", "src", "dst") == 0
                check(server, ctx + ": RENAMENX refused")
                assert c.call("RENAME", "src", "dst") == "OK"
                check(server, ctx + ": RENAME")
                assert c.call("RENAMENX", "dst", "src") == 1
                check(server, ctx + ": RENAMENX")
                assert c.call("COPY", "src", "dst", "DB", 1) == 0
                assert c.call("COPY", "src", "dst", "DB", 1, "REPLACE") == 1
                check(server, ctx + ": COPY DB 1 REPLACE")
                make(c, dst_type, "dst", 100000 if j % 2 else None)
                c.call("SELECT", 0)
                assert c.call("COPY", "dst", "src", "REPLACE") == 1
                check(server, ctx + ": COPY REPLACE")
                assert c.call("RENAME", "src", "src") == "OK"  # onto itself: nothing changes
                assert c.call("EXISTS", "src") == 1
                assert c.call("RENAMENX", "src", "src") == 0
                assert str(c.call("COPY", "src", "src")).startswith("ERR")
                check(server, ctx + ": onto itself")
                c.call("SELECT", 1)
                assert c.call("RENAME", "dst", "moved") == "OK"
                assert str(c.call("RENAME", "missing", "moved")).startswith("ERR no such key")
                check(server, ctx + ": in db 1")


# ----------------------------------------------------------------------
# commands that store a result: an empty one deletes the destination
# ----------------------------------------------------------------------

def test_store_commands_with_empty_results_delete_the_destination(server):
    fill = [(("SADD", "s1", "a", "b"), 2), (("SADD", "s2", "c"), 1), (("ZADD", "z1", "1", "a", "2", "b"), 2),
            (("RPUSH", "l1", "3", "1", "2"), 3)]
    dest = [(("HSET", "dst", "f", "v"), None), (("PEXPIRE", "dst", "600000"), 1)]
    empties = [
        ("SINTERSTORE", "dst", "s1", "s2"), ("SINTERSTORE", "dst", "s1", "missing"),
        ("SUNIONSTORE", "dst", "missing", "missing2"), ("SDIFFSTORE", "dst", "s1", "s1"),
        ("ZUNIONSTORE", "dst", "1", "missing"), ("ZINTERSTORE", "dst", "2", "z1", "missing"),
        ("ZDIFFSTORE", "dst", "2", "z1", "z1"), ("ZRANGESTORE", "dst", "z1", "5", "10"),
        ("ZRANGESTORE", "dst", "missing", "0", "-1"), ("SORT", "missing", "STORE", "dst"),
        ("SORT", "l1", "LIMIT", "5", "5", "STORE", "dst"),
    ]
    steps = list(fill)
    for cmd in empties:
        steps += dest + [(cmd, 0), (("EXISTS", "dst"), 0)]
    # a destination that is also a source, emptied or not
    steps += [
        (("SDIFFSTORE", "s2", "s2", "s2"), 0), (("SADD", "s2", "c"), 1),
        (("SINTERSTORE", "s1", "s1", "s1"), 2), (("SUNIONSTORE", "s1", "s1", "s2"), 3),
        (("ZUNIONSTORE", "z1", "2", "z1", "missing"), 2), (("ZINTERSTORE", "z1", "2", "z1", "missing"), 0),
        (("ZADD", "z1", "1", "a"), 1), (("PEXPIRE", "z1", "400000"), 1),
        (("ZRANGESTORE", "z1", "z1", "0", "-1"), 1),  # rewritten: it loses its TTL
        (("ZRANGESTORE", "z1", "z1", "3", "4"), 0),
        (("SORT", "l1", "STORE", "l1"), 3), (("PEXPIRE", "l1", "300000"), 1), (("SORT", "l1", "STORE", "l1"), 3),
        (("SORT", "l1", "LIMIT", "9", "1", "STORE", "l1"), 0),
        (("SMOVE", "s1", "s1", "a"), 1), (("SMOVE", "s2", "s1", "c"), 1),  # s2 emptied
        (("SET", "str", "v"), "OK"), (("SINTERSTORE", "str", "missing"), 0),  # over a string
    ]
    run_steps(server, steps)


# ----------------------------------------------------------------------
# pops and removals that empty a key, and moves of a list's last item
# ----------------------------------------------------------------------

def test_writes_that_empty_a_key(server):
    steps = [
        (("RPUSH", "l", "only"), 1), (("PEXPIRE", "l", "500000"), 1),
        (("LMOVE", "l", "l", "LEFT", "RIGHT"), b"only"),  # onto itself: still one item
        (("LMOVE", "l", "l2", "LEFT", "RIGHT"), b"only"),  # l emptied, l2 created
        (("RPOPLPUSH", "l2", "l"), b"only"), (("RPOPLPUSH", "l", "l"), b"only"),
        (("RPUSH", "l", "x"), 2), (("LREM", "l", "0", "only"), 1), (("LREM", "l", "0", "x"), 1),
        (("RPUSH", "l", "a", "b"), 2), (("LTRIM", "l", "1", "0"), "OK"),
        (("RPUSH", "l", "a", "b"), 2), (("LMPOP", "1", "l", "LEFT", "COUNT", "9"), [b"l", [b"a", b"b"]]),
        (("RPUSH", "l", "a"), 1), (("BLPOP", "l", "0"), [b"l", b"a"]),
        (("SADD", "s", "a", "b"), 2), (("PEXPIRE", "s", "400000"), 1), (("SPOP", "s", "5"), None),
        (("SADD", "s", "a"), 1), (("SREM", "s", "a", "zz"), 1), (("SADD", "s", "a"), 1),
        (("SMOVE", "s", "s3", "a"), 1),
        (("ZADD", "z", "1", "a", "2", "b"), 2), (("ZPOPMIN", "z"), [b"a", b"1"]), (("ZPOPMAX", "z", "3"), [b"b", b"2"]),
        (("ZADD", "z", "1", "a", "2", "b"), 2), (("ZREMRANGEBYRANK", "z", "0", "-1"), 2),
        (("ZADD", "z", "1", "a", "2", "b"), 2), (("ZREMRANGEBYSCORE", "z", "-inf", "+inf"), 2),
        (("ZADD", "z", "0", "a", "0", "b"), 2), (("ZREMRANGEBYLEX", "z", "-", "+"), 2),
        (("ZADD", "z", "1", "a"), 1), (("ZMPOP", "1", "z", "MIN", "COUNT", "5"), [b"z", [[b"a", b"1"]]]),
        (("ZADD", "z", "1", "a"), 1), (("ZREM", "z", "a", "b"), 1),
        (("ZADD", "z", "XX", "1", "a"), 0), (("ZADD", "z", "XX", "INCR", "1", "a"), None),  # no key made
        (("HSET", "h", "a", "1", "b", "2"), 2), (("PEXPIRE", "h", "300000"), 1), (("HDEL", "h", "a", "b", "c"), 2),
        (("LPUSHX", "nolist", "a"), 0), (("RPUSHX", "nolist", "a"), 0),
        (("LINSERT", "nolist", "BEFORE", "a", "b"), 0),
    ]
    run_steps(server, steps)


# ----------------------------------------------------------------------
# string writes and their TTL options
# ----------------------------------------------------------------------

def test_string_writes_and_their_ttl_options(server):
    steps = [
        (("SET", "a", "1", "GET"), None), (("SET", "a", "2", "GET"), b"1"),
        (("SET", "a", "3", "PX", "600000", "GET"), b"2"), (("SET", "a", "4", "KEEPTTL"), "OK"),
        (("SET", "a", "5", "NX", "PX", "1000"), None), (("SET", "b", "1", "XX"), None),
        (("SET", "a", "6", "XX", "PX", "500000"), "OK"), (("SET", "a", "7", "KEEPTTL", "GET"), b"6"),
        (("SET", "a", "8"), "OK"),  # drops the TTL
        (("SET", "c", "1", "EX", "100000"), "OK"), (("SET", "c", "2", "XX", "KEEPTTL"), "OK"),
        (("GETEX", "c", "PERSIST"), b"2"), (("GETEX", "c", "PX", "100000"), b"2"),
        (("GETEX", "c", "PXAT", str(int(time.time() * 1000) + 9 * DAY_MS)), b"2"), (("GETEX", "c"), b"2"),
        (("GETEX", "missing", "PX", "100"), None),
        (("GETDEL", "c"), b"2"), (("GETDEL", "c"), None),
        (("INCR", "n"), 1), (("INCRBYFLOAT", "f", "1.5"), b"1.5"), (("DECRBY", "d", "3"), -3),
        (("PEXPIRE", "n", "900000"), 1), (("INCR", "n"), 2),  # keeps its TTL
        (("SETRANGE", "sr", "3", "x"), 4), (("SETRANGE", "e1", "0", ""), 0), (("SETRANGE", "e2", "5", ""), 0),
        (("SETRANGE", "sr", "0", ""), 4),
        (("APPEND", "ap", "x"), 1), (("APPEND", "ap0", ""), 0),  # Redis makes an empty string of it
        (("STRLEN", "ap0"), 0), (("EXISTS", "ap0"), 1),
        (("SET", "es", ""), "OK"), (("SETRANGE", "es", "0", ""), 0), (("SETRANGE", "es", "100000", ""), 0),
        (("APPEND", "es", ""), 0), (("EXISTS", "es"), 1), (("SETBIT", "es", "0", "0"), 0), (("SETRANGE", "es", "0", ""), 1),
        (("SETBIT", "sb", "7", "0"), 0), (("SETBIT", "sb2", "100000", "1"), 0), (("PEXPIRE", "sb2", "700000"), 1),
        (("SETBIT", "sb2", "3", "1"), 0), (("APPEND", "sb2", "tail"), 12505),
        (("MSETNX", "m1", "1", "m2", "2"), 1), (("MSETNX", "m1", "x", "m3", "3"), 0),
        (("SETNX", "m3", "3"), 1), (("SETNX", "m3", "4"), 0),
        (("PSETEX", "ps", "100000", "v"), "OK"), (("GETSET", "ps", "w"), b"v"),  # drops the TTL
        (("SETEX", "se", "200", "v"), "OK"), (("MSET", "se", "1", "ps", "2", "new", "3"), "OK"),
        (("SET", "", "empty key", "PX", "300000"), "OK"), (("SET", "", "again"), "OK"), (("DEL", ""), 1),
    ]
    run_steps(server, steps)


def test_set_and_getex_with_a_time_in_the_past(server):
    """An absolute time already past: the key is gone (Redis 7.0 counts it until a lookup
    reclaims it, so the counts are checked after EXISTS)."""
    past = str(int(time.time() * 1000) - 5000)
    steps = [
        (("SET", "k", "v"), "OK"), (("SET", "k", "w", "PXAT", past), "OK"), (("EXISTS", "k"), 0),
        (("SET", "k", "v", "PX", "600000"), "OK"), (("SET", "k", "w", "EXAT", "1"), "OK"), (("EXISTS", "k"), 0),
        (("SET", "k", "v"), "OK"), (("GETEX", "k", "PXAT", past), b"v"), (("EXISTS", "k"), 0),
        (("SET", "k", "v", "PX", "600000"), "OK"), (("GETEX", "k", "EXAT", "1"), b"v"), (("EXISTS", "k"), 0),
    ]
    run_steps(server, steps, check_after=lambda cmd: not IS_REDIS or cmd[0] == "EXISTS")


# ----------------------------------------------------------------------
# EXPIRE in all its forms
# ----------------------------------------------------------------------

def test_expire_variants(server):
    far = str(int(time.time() * 1000) + 30 * DAY_MS)
    steps = [
        (("SET", "k", "v"), "OK"), (("EXPIRE", "k", "-1"), 1), (("EXISTS", "k"), 0),
        (("SET", "k", "v"), "OK"), (("PEXPIRE", "k", "0"), 1), (("EXISTS", "k"), 0),
        (("SET", "k", "v"), "OK"), (("PEXPIREAT", "k", "0"), 1), (("EXISTS", "k"), 0),
        (("HSET", "h", "f", "v"), 1), (("EXPIREAT", "h", "1"), 1), (("EXISTS", "h"), 0),
        (("RPUSH", "l", "a"), 1), (("PEXPIRE", "l", "-99999"), 1),
        (("EXPIRE", "missing", "10"), 0), (("PERSIST", "missing"), 0),
        (("SET", "k", "v"), "OK"), (("PERSIST", "k"), 0),
        (("EXPIRE", "k", "100", "XX"), 0), (("EXPIRE", "k", "100", "GT"), 0), (("EXPIRE", "k", "100", "LT"), 1),
        (("EXPIRE", "k", "200", "NX"), 0), (("EXPIRE", "k", "50", "GT"), 0), (("EXPIRE", "k", "300", "GT"), 1),
        (("EXPIRE", "k", "400", "LT"), 0), (("EXPIRE", "k", "10", "LT"), 1), (("EXPIRE", "k", "20", "XX"), 1),
        (("PERSIST", "k"), 1), (("EXPIRE", "k", "30", "NX"), 1), (("PEXPIREAT", "k", far), 1),
        (("SADD", "s", "m"), 1), (("PEXPIREAT", "s", far), 1),  # the same ms as k
        (("ZADD", "z", "1", "m"), 1), (("PEXPIREAT", "z", far, "NX"), 1), (("PERSIST", "s"), 1),
        (("EXPIRE", "z", "-5", "XX"), 1), (("EXISTS", "z"), 0),
        (("EXPIRE", "k", "99999999999999999"), None),  # out of range: an error, nothing changes
        (("PEXPIRE", "k", "9223372036854775807"), None),
    ]
    run_steps(server, steps)


# ----------------------------------------------------------------------
# many keys expiring at the same ms, and at distinct ones
# ----------------------------------------------------------------------

def test_many_keys_with_the_same_and_distinct_expiry_times(server, r):
    at = int(time.time() * 1000) + 20 * DAY_MS
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.set("same%d" % i, "v", pxat=at)
        pipe.set("dist%d" % i, "v", pxat=at + i)
        pipe.hset("hsame%d" % i, "f", "v")
        pipe.pexpireat("hsame%d" % i, at)
    pipe.execute()
    check(server, "set up")
    pipe = r.pipeline(transaction=False)
    for i in range(0, 300, 3):
        pipe.delete("same%d" % i)
        pipe.persist("dist%d" % i)
        pipe.rename("same%d" % (i + 1), "dist%d" % (i + 2))  # takes the same time over a distinct one
        pipe.pexpireat("hsame%d" % i, at + 1)
        pipe.hdel("hsame%d" % (i + 1), "f")  # emptied
        pipe.copy("dist%d" % (i + 1), "same%d" % i, destination_db=1)
    pipe.execute()
    check(server, "after changes")
    r.flushdb()
    check(server, "db 0 flushed")


@tidekv_only
def test_keys_of_one_ms_expire_together_and_avg_ttl_is_exact(server, r):
    """avg_ttl is the exact integer part of the mean PTTL, and a whole ms worth of keys stops
    counting at once."""
    at = int(time.time() * 1000) + 600
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set("same%d" % i, "v", pxat=at)
        pipe.set("later%d" % i, "v", pxat=at + 60000 + 7 * i)
    pipe.execute()
    *ttls, info = transaction(server, 0, *[("PTTL", "same%d" % i) for i in range(200)],
                              *[("PTTL", "later%d" % i) for i in range(200)], ("INFO", "keyspace"))
    assert keyspace_line(info, 0)[:2] == (400, 400)
    assert keyspace_line(info, 0)[2] == sum(ttls) // len(ttls)
    time.sleep(max(0, at - time.time() * 1000) / 1000 + 0.05)
    check(server, "the same-ms keys expired")
    assert r.dbsize() == 200
    ttls = transaction(server, 0, *[("PTTL", "later%d" % i) for i in range(200)], ("INFO", "keyspace"))
    assert keyspace_line(ttls[-1], 0)[2] == sum(ttls[:-1]) // 200


# ----------------------------------------------------------------------
# transactions: FLUSH inside, runtime errors, WATCH aborts
# ----------------------------------------------------------------------

def test_flushes_inside_a_transaction_followed_by_writes(server):
    replies = transaction(server, 0, ("SET", "a", "1"), ("SET", "t", "1", "PX", "500000"), ("SELECT", "1"),
                          ("SET", "b", "1"), ("FLUSHALL", "ASYNC"), ("DBSIZE",), ("SET", "c", "1", "PX", "400000"),
                          ("SELECT", "0"), ("DBSIZE",), ("SET", "d", "1"), ("FLUSHDB", "ASYNC"), ("HSET", "e", "f", "v"),
                          ("DBSIZE",), ("INFO", "keyspace"), ("SELECT", "1"), ("FLUSHDB",), ("SET", "c", "2", "PX", "300000"),
                          ("COPY", "c", "c2", "DB", "0"), ("INFO", "keyspace"))
    assert replies[5] == 0 and replies[8] == 0 and replies[12] == 1
    assert keyspace_line(replies[13], 0)[:2] == (1, 0) and keyspace_line(replies[13], 1)[:2] == (1, 1)
    assert keyspace_line(replies[18], 0)[:2] == (2, 1) and keyspace_line(replies[18], 1)[:2] == (1, 1)
    check(server, "after the transaction")
    with server.client() as cl:
        assert cl.dbsize() == 2 and sorted(cl.keys()) == [b"c2", b"e"]


def test_transaction_whose_middle_command_fails(server):
    with server.client() as cl:
        cl.set("str", "v")
        cl.rpush("lst", "a")
    replies = transaction(server, 0, ("SET", "a", "1", "PX", "100000"), ("LPUSH", "str", "x"),
                          ("RENAME", "missing", "x"), ("DEL", "lst"), ("INCR", "str"), ("SADD", "lst", "m"),
                          ("HSET", "str", "f", "v"), ("SET", "b", "1"), ("DBSIZE",), ("KEYS", "*"))
    assert str(replies[1]).startswith("WRONGTYPE") and str(replies[2]).startswith("ERR no such key")
    assert str(replies[4]).startswith("ERR") and str(replies[6]).startswith("WRONGTYPE")
    assert replies[8] == len(replies[9]) == 4
    check(server, "after EXEC")
    with server.conn() as c:  # a command refused while queued: EXECABORT, nothing written
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "never", "1") == "QUEUED"
        assert str(c.call("SET", "x")).startswith("ERR wrong number")
        assert str(c.call("EXEC")).startswith("EXECABORT")
    check(server, "after EXECABORT")


def test_exec_aborted_by_watch_writes_nothing(server):
    with server.client() as cl, server.client() as other:
        cl.set("w", "1", px=600000)
        pipe = cl.pipeline(transaction=True)
        pipe.watch("w")
        other.set("w", "2")  # drops the TTL, aborts the EXEC
        pipe.multi()
        pipe.set("x", "1").delete("w").set("y", "2", px=300000).flushall()
        with pytest.raises(redis.WatchError):
            pipe.execute()
        assert cl.dbsize() == 1
    check(server, "after the aborted EXEC")


@tidekv_only
def test_keys_expiring_while_a_transaction_is_queued(server):
    """The commands of a transaction see one clock, taken when EXEC runs."""
    with server.client() as cl:
        for i in range(20):
            cl.set("k%d" % i, "v", px=100 + 10 * i)
        cl.set("p", "v")
    with server.conn() as c:
        assert c.call("MULTI") == "OK"
        for cmd in [("DBSIZE",), ("SET", "n", "1", "PX", "150"), ("KEYS", "*"), ("INFO", "keyspace"), ("DBSIZE",)]:
            assert c.call(*cmd) == "QUEUED"
        time.sleep(0.2)
        dbsize, _, keys, info, dbsize2 = c.call("EXEC")
    assert dbsize + 1 == dbsize2 == len(keys) == keyspace_line(info, 0)[0]
    check(server, "after EXEC")


# ----------------------------------------------------------------------
# storage read errors make commands fail midway: nothing they wrote may count
# ----------------------------------------------------------------------

# The n-th read fails, for n every few reads (the transaction makes about 150).
FAILING_READS = range(1, 400, 3)


@pytest.fixture(scope="module")
def fserver():
    if IS_REDIS:
        pytest.skip("tidekv-only: DEBUG READ-ERROR-AFTER")
    yield from started_server(["--debug-fault-injection", "yes"])


def fill(cl):
    cl.flushall()
    cl.hset("h", mapping={"f%02d" % i: "v" for i in range(10)})
    cl.rpush("l", *["i%d" % i for i in range(10)])
    cl.sadd("s", *["m%d" % i for i in range(10)])
    cl.zadd("z", {"m%d" % i: i for i in range(10)})
    cl.set("str", "v", px=600000)
    cl.pexpire("h", 500000)


FAULTED_WRITES = [("RENAME", "h", "h2"), ("COPY", "l", "l2", "DB", "1", "REPLACE"), ("SUNIONSTORE", "s2", "s", "s"),
                  ("DEL", "z"), ("SET", "t", "1", "PX", "100000"), ("ZUNIONSTORE", "zz", "1", "z"),
                  ("GETDEL", "str"), ("LMOVE", "l", "l3", "LEFT", "RIGHT"), ("SINTERSTORE", "s", "s", "none"),
                  ("SORT", "l", "ALPHA", "STORE", "l4"), ("HDEL", "h2", *["f%02d" % i for i in range(10)])]


def check_then_write_again(s, cl, n):
    """Checks the counts, then writes keys the failed commands wrote, blind: what the counts
    remember of those keys (recent shares, big records) must be what their records hold."""
    check(s, "read %d failed" % n)
    cl.set("h2", "x")
    cl.set("zz", "x", px=300000)
    cl.set("t", "x")
    cl.set("l4", big(20000))
    check(s, "read %d failed, keys written again" % n)


@tidekv_only
def test_commands_failing_midway_in_a_transaction_leave_no_count(fserver):
    with fserver.client() as cl:
        for n in FAILING_READS:
            fill(cl)
            cl.execute_command("DEBUG", "READ-ERROR-AFTER", n)
            cmds = FAULTED_WRITES[:5] + [("DBSIZE",), ("KEYS", "*")] + FAULTED_WRITES[5:] + [("INFO", "keyspace")]
            p = cl.pipeline(transaction=True)
            for cmd in cmds:
                p.execute_command(*cmd)
            replies = p.execute(raise_on_error=False)
            cl.execute_command("DEBUG", "READ-ERROR-AFTER", 0)
            dbsize, keys = replies[5], replies[6]
            if not isinstance(dbsize, Exception) and not isinstance(keys, Exception):
                assert dbsize == len(keys), (n, replies)
            check_then_write_again(fserver, cl, n)
            if not any(isinstance(x, redis.ResponseError) for x in replies):
                return
    raise AssertionError("the transaction never succeeded")


@tidekv_only
def test_commands_failing_midway_in_a_pipeline_leave_no_count(fserver):
    """A pipeline's commands are committed as one write group."""
    with fserver.client() as cl:
        for n in FAILING_READS:
            fill(cl)
            with fserver.conn() as c:
                c.send(encode_command("DEBUG", "READ-ERROR-AFTER", n)
                       + b"".join(encode_command(*w) for w in FAULTED_WRITES) + encode_command("PING"))
                assert c.read_reply() == "OK"
                replies = [c.read_reply() for _ in FAULTED_WRITES]
                assert c.read_reply() == "PONG"
                c.call("DEBUG", "READ-ERROR-AFTER", 0)
            check_then_write_again(fserver, cl, n)
            if not any(isinstance(x, str) and x.startswith("ERR") for x in replies):
                return
    raise AssertionError("the pipeline never succeeded")


# ----------------------------------------------------------------------
# APPLYBATCH of another tidekv's RAW batches: deletes, overwrites, flushes, big values
# ----------------------------------------------------------------------

def source_workload(s):
    """Writes on s whose batches delete, overwrite, rename, flush and expire keys."""
    with s.client() as cl, s.client(db=1) as c1:
        cl.set("a", "1")
        cl.set("a", "2", px=600000)
        cl.set("a", big(20000))  # big, no TTL
        cl.set("a", "small", px=500000)
        cl.hset("h", mapping={"f": "1", "g": "2"})
        cl.hdel("h", "f", "g")
        cl.rpush("l", "x")
        cl.lmove("l", "l2", "LEFT", "RIGHT")
        cl.rename("l2", "a")  # over a string
        cl.copy("a", "a", destination_db=1)
        c1.set("b", big(30000), px=400000)
        c1.set("b", "x", keepttl=True)
        cl.set("gone", "v", px=20)
        time.sleep(0.05)
        cl.get("gone")  # reclaimed: a DEL batch
        cl.sadd("s", "m")
        cl.sinterstore("s", ["s", "missing"])
        cl.mset({"m%d" % i: "v" for i in range(30)})
        c1.flushdb()
        c1.set("after", "flush")
        cl.delete(*["m%d" % i for i in range(0, 30, 2)])
        cl.zadd("z", {"a": 1})
        cl.zpopmin("z")
        cl.set("e", "v", px=600000)
        cl.persist("e")
        cl.getdel("e")
        cl.flushall()
        cl.set("last", big(20000))
        cl.set("last", "small")


@tidekv_only
def test_applybatch_of_deleting_and_overwriting_batches(make_server):
    src, dst = make_server(), make_server()
    source_workload(src)
    with src.client() as rs, dst.client() as rd:
        batches = [bytes.fromhex(raw.decode()) for raw in poll_all(rs, 0, "RAW")]
        rd.set("last", "before")  # keys the batches overwrite or delete exist on dst too
        rd.set("a", big(20000), px=700000)
        rd.hset("h", "x", "y")
        for i, data in enumerate(batches):
            assert rd.execute_command("APPLYBATCH", data) == len(data)
            check(dst, "batch %d" % i)
        for i, data in enumerate(batches):  # once more: every write finds what it wrote before
            assert rd.execute_command("APPLYBATCH", data) == len(data)
            check(dst, "batch %d again" % i)
        assert rd.get("last") == b"small" and rd.dbsize() == 1
    dst.kill9()
    dst.start()
    check(dst, "killed and restarted")


# ----------------------------------------------------------------------
# many clients writing the same keys at once (write groups on several workers)
# ----------------------------------------------------------------------

SHARED = ["k%d" % i for i in range(10)] + ["x" * 39, "y" * 39, "z" * 38]  # around 50 bytes with the namespace


def pipelined_writer(s, seed, rounds, ttls, errors):
    rng = random.Random(seed)
    try:
        clients = [s.client(db=db) for db in DBS]
        for _ in range(rounds):
            cl = rng.choice(clients)
            pipe = cl.pipeline(transaction=rng.random() < 0.2)
            for _ in range(rng.randrange(1, 25)):
                k, k2 = rng.choice(SHARED), rng.choice(SHARED)
                op = rng.randrange(16)
                if op == 0: pipe.set(k, "v")
                elif op == 1: pipe.set(k, "v", px=rng.choice(ttls))
                elif op == 2: pipe.set(k, big(rng.choice([10, 20000])), keepttl=True)
                elif op == 3: pipe.delete(k, k2)
                elif op == 4: pipe.pexpire(k, rng.choice(ttls))
                elif op == 5: pipe.persist(k)
                elif op == 6: pipe.hset(k, "f%d" % rng.randrange(2), "v")
                elif op == 7: pipe.hdel(k, "f0", "f1")
                elif op == 8: pipe.rpush(k, "a")
                elif op == 9: pipe.lpop(k)
                elif op == 10: pipe.rename(k, k2)
                elif op == 11: pipe.copy(k, k2, destination_db=rng.choice(DBS), replace=True)
                elif op == 12: pipe.getdel(k)
                elif op == 13: pipe.mset({k: "1", k2: "2"})
                elif op == 14: pipe.append(k, "x")
                else: pipe.get(k)
            try:
                pipe.execute(raise_on_error=False)
            except redis.ResponseError:
                pass  # an EXEC of a transaction with errors
        for cl in clients:
            cl.close()
    except Exception as e:  # reported by the test
        errors.append(e)


def hammer(s, threads, rounds, ttls):
    errors = []
    stop = threading.Event()

    def reader():
        try:
            with s.client() as cl:
                while not stop.is_set():
                    assert cl.dbsize() >= 0
        except Exception as e:
            errors.append(e)

    workers = [threading.Thread(target=pipelined_writer, args=(s, seed, rounds, ttls, errors)) for seed in range(threads)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in workers + readers:
        t.start()
    for t in workers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors


def workers_args(n):
    return None if IS_REDIS else ["--workers", str(n)]


def test_concurrent_pipelines_on_the_same_keys(make_server):
    s = make_server(workers_args(4))
    hammer(s, threads=6, rounds=60, ttls=[600000, 900000])
    check(s, "after the writers")
    for db in DBS:
        with s.client(db=db) as cl:
            assert scan_count(cl) == cl.dbsize()


@tidekv_only
def test_concurrent_pipelines_with_keys_expiring(make_server):
    s = make_server(workers_args(4))
    hammer(s, threads=6, rounds=60, ttls=[1, 5, 30, 600000])
    check(s, "after the writers")
    time.sleep(0.05)
    check(s, "the short TTLs passed")


# ----------------------------------------------------------------------
# big values: the big-record table and the big-request thread
# ----------------------------------------------------------------------

def test_big_values_overwritten_blind_renamed_and_deleted(server):
    mb9 = big(9 * 1024 * 1024, b"n")  # 8 MiB or more: the big-request thread
    steps = [
        (("SET", "b", big(20000)), "OK"), (("SET", "b", "small"), "OK"), (("SET", "b", big(2 << 20), "PX", "600000"), "OK"),
        (("SET", "b", big(20000, b"y"), "KEEPTTL"), "OK"), (("SET", "b", "s"), "OK"), (("SET", "b", big(16384)), "OK"),
        (("SET", "b", big(16383)), "OK"),
        (("SET", "h", mb9, "PX", "500000"), "OK"), (("SET", "h", mb9), "OK"), (("SET", "h", "tiny", "PX", "400000"), "OK"),
        (("SET", "h", mb9, "KEEPTTL"), "OK"), (("RENAME", "h", "h2"), "OK"), (("COPY", "h2", "h3", "DB", "1"), 1),
        (("SET", "h2", "x"), "OK"), (("SELECT", "1"), "OK"), (("SET", "h3", "x", "PX", "300000"), "OK"),
        (("SET", "h3", big(20000)), "OK"), (("DEL", "h3"), 1), (("SET", "h3", "x"), "OK"), (("SELECT", "0"), "OK"),
        (("APPEND", "ap", "x"), 1), (("APPEND", "ap", big(20000)), 20001), (("SET", "ap", "x"), "OK"),
        (("MSET", "m1", big(20000), "m2", "s", "b", big(20000)), "OK"), (("GETDEL", "m1"), None),
        (("SET", "m1", "small"), "OK"), (("SETRANGE", "sr", "20000", "x"), 20001), (("SET", "sr", "x"), "OK"),
        (("FLUSHDB",), "OK"), (("SET", "b", "after"), "OK"), (("SET", "h2", big(20000)), "OK"),
        (("FLUSHALL",), "OK"), (("SET", "h3", "x"), "OK"),
    ]
    run_steps(server, steps)


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
@tidekv_only
def test_expired_big_values_written_again(make_server):
    s = make_server()
    with s.client() as cl:
        cl.set("b1", big(20000), px=150)
        cl.set("b2", big(9 * 1024 * 1024), px=150)
        cl.set("b3", big(20000), px=600000)
        time.sleep(0.25)
        check(s, "expired, not reclaimed")
        cl.set("b1", "small")  # blind over an expired big record
        cl.set("b2", big(20000), px=600000)
        check(s, "written again")
        cl.set("b4", big(20000), px=200)
    s.restart()
    check(s, "restarted")
    time.sleep(0.25)
    with s.client() as cl:
        cl.set("b4", "x")
        cl.set("b3", "x", keepttl=True)
    check(s, "written after the restart")


# ----------------------------------------------------------------------
# restarts: kill -9 under load, and after a compaction dropped expired keys
# ----------------------------------------------------------------------

@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_kill9_under_load_then_restart(make_server):
    s = make_server(workers_args(4))
    errors = []
    threads = [threading.Thread(target=pipelined_writer, args=(s, 100 + seed, 100000, [20, 600000], errors))
               for seed in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    s.kill9()
    for t in threads:
        t.join()
    assert errors  # the writers lost their server
    s.start()
    check(s, "restarted after kill -9")
    hammer(s, threads=3, rounds=20, ttls=[20, 600000])
    check(s, "written after the restart")


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_restart_after_a_compaction_dropped_expired_keys(make_server):
    """A FLUSHDB of databases 1 and 10 in one transaction compacts the metadata of 2..9 too,
    whose expired records the compaction filter drops (no count is told)."""
    s = make_server()
    with s.client(db=5) as c5:
        pipe = c5.pipeline(transaction=False)
        for i in range(3000):
            pipe.set("e%d" % i, big(20000) if i % 500 == 0 else "v", px=100)
            if i % 10 == 0:
                pipe.set("p%d" % i, "v")
        pipe.execute()
        c5.set("e_long", "v", px=600000)
        time.sleep(0.2)
        assert c5.dbsize() == 301
        transaction(s, 1, ("FLUSHDB",), ("SELECT", "10"), ("FLUSHDB",))
        time.sleep(1.5)  # the compaction runs in the background
        check(s, "compacted", dbs=(5,))
        c5.set("e0", "again")  # keys the tables may still know as big or recent
        c5.set("e1", "again", px=600000)
        c5.set("e500", big(20000))
        check(s, "written again", dbs=(5,))
    s.restart()
    check(s, "restarted", dbs=(5,))
    with s.client(db=5) as c5:
        assert c5.dbsize() == 304


# ----------------------------------------------------------------------
# the databases option
# ----------------------------------------------------------------------

def test_one_database(make_server):
    s = make_server(["--databases", "1"])
    with s.client() as cl:
        cl.set("a", "1", px=600000)
        cl.hset("h", "f", "v")
        with pytest.raises(redis.ResponseError):
            cl.execute_command("SELECT", 1)
        with pytest.raises(redis.ResponseError):
            cl.copy("a", "b", destination_db=1)
        check(s, "one database", dbs=(0,))
        cl.flushall()
        cl.set("b", "1")
        check(s, "after FLUSHALL", dbs=(0,))


def test_the_last_of_twenty_databases(make_server):
    s = make_server(["--databases", "20"])
    with s.client(db=19) as c19, s.client(db=15) as c15:
        c19.set("a", "1", px=600000)
        c15.set("a", "1")
        c15.copy("a", "b", destination_db=19)
        c15.copy("a", "a", destination_db=19, replace=True)
        c19.rename("a", "c")
        info = c19.execute_command("INFO", "keyspace")
        assert keyspace_line(info, 19)[:2] == (2, 0) and keyspace_line(info, 15)[:2] == (1, 0)
        check(s, "databases 15 and 19", dbs=(15, 19))
        c19.flushall()
        check(s, "flushed", dbs=(15, 19))
        c19.set("kept", "1", px=600000)
    if IS_REDIS:
        return
    s.restart(["--databases", "16"])  # fewer: database 19's key is out of every count
    with s.client(db=15) as c15:
        c15.set("x", "1")
        c15.flushall()
        c15.set("y", "1")
    check(s, "restarted with 16", dbs=(0, 15))
    s.restart(["--databases", "20"])  # its key is back
    check(s, "restarted with 20", dbs=(0, 15, 19))
    with s.client(db=19) as c19:
        assert c19.dbsize() == 1


# ----------------------------------------------------------------------
# lazy expiry on one worker while another writes the key
# ----------------------------------------------------------------------

@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_lazy_expiry_racing_a_writer(make_server):
    s = make_server(workers_args(4))
    keys = ["race%d" % i for i in range(8)]
    stop = threading.Event()
    errors = []

    def reader():
        try:
            with s.client() as cl:
                while not stop.is_set():
                    for k in keys:
                        cl.get(k)
                        cl.exists(k)
        except Exception as e:
            errors.append(e)

    def writer(seed):
        rng = random.Random(seed)
        try:
            with s.client() as cl:
                while not stop.is_set():
                    k = rng.choice(keys)
                    op = rng.randrange(4)
                    if op == 0: cl.set(k, "v", px=rng.choice([1, 2, 3]))
                    elif op == 1: cl.set(k, "v")
                    elif op == 2: cl.set(k, big(20000), px=2)
                    else: cl.delete(k)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer, args=(i,))
                                                                       for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    check(s, "after the race", dbs=(0,))
    time.sleep(0.01)
    with s.client() as cl:
        for k in keys:
            cl.get(k)
    check(s, "all reclaimed", dbs=(0,))


# ----------------------------------------------------------------------
# key names: empty, binary, around the 50 bytes the recent shares keep; many keys
# ----------------------------------------------------------------------

def test_key_lengths_and_many_keys_written_blind(server, r):
    r1 = server.client(db=15)
    try:
        names = [b"", b"\x00", b"\xff" * 3] + [b"n" * n for n in range(35, 45)]
        for ttl in (None, 600000, None, 500000):
            for cl in (r, r1):
                pipe = cl.pipeline(transaction=False)
                for name in names:
                    pipe.set(name, "v", px=ttl)
                pipe.execute()
            check(server, "ttl %s" % ttl, dbs=(0, 15))
        r.delete(*names[::2])
        r1.persist(names[1])
        check(server, "some deleted", dbs=(0, 15))
        # enough keys that the 64k slots of recent shares collide, written twice blind
        for round_ in range(2):
            pipe = r.pipeline(transaction=False)
            for i in range(6000):
                pipe.set("many%d" % i, "v", px=600000 if (i + round_) % 3 else None)
            pipe.execute()
            check(server, "many keys, round %d" % round_, dbs=(0,))
    finally:
        r1.close()


# ----------------------------------------------------------------------
# records forged into the database: corrupt, legacy, empty collections
# ----------------------------------------------------------------------

def legacy_string_meta(value, expire_s=0):
    """The old form: flags without the 64-bit bit, the expiry in seconds (u32)."""
    return b"\x01" + expire_s.to_bytes(4, "big") + value


def compound_meta(type_id, size, expire_ms=0, version=1):
    return bytes([0x80 | type_id]) + expire_ms.to_bytes(8, "big") + version.to_bytes(8, "big") + size.to_bytes(8, "big")


@tidekv_only
def test_forged_records_count_as_the_walk_lists_them(make_server):
    s = make_server()
    now = int(time.time())
    forge(s, [(META_CF, ns(0) + b"bad", b"\x81\x00"),  # too short: corrupt, listed so it can be deleted
              (META_CF, ns(0) + b"legacy", legacy_string_meta(b"v", now + 3600)),
              (META_CF, ns(0) + b"legacy_past", legacy_string_meta(b"v", now - 3600)),
              (META_CF, ns(0) + b"past", string_meta(b"v", now * 1000 - 1000)),
              (META_CF, ns(0) + b"emptyhash", compound_meta(2, 0)),
              (META_CF, ns(1) + b"emptyset", compound_meta(4, 0, expire_ms=now * 1000 + 600000)),
              (META_CF, ns(1) + b"ok", string_meta(b"v", now * 1000 + 500000))])
    dbsize, keys = transaction(s, 0, ("DBSIZE",), ("KEYS", "*"))
    assert dbsize == len(keys) == 2 and sorted(keys) == [b"bad", b"legacy"]
    check(s, "forged", dbs=(1,))
    with s.client() as cl:
        cl.delete("bad")
        check(s, "the corrupt key deleted")
        for k in ("legacy", "legacy_past", "past", "emptyhash"):
            cl.set(k, "v")  # blind over each kind
        with s.client(db=1) as c1:
            c1.sadd("emptyset", "m")
            c1.set("ok", "w", keepttl=True)
        check(s, "written over")
        cl.set("bad", "v")
    s.restart()
    check(s, "restarted")


# ----------------------------------------------------------------------
# races between a reader's clock and another client's
# ----------------------------------------------------------------------

@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_dbsize_in_a_transaction_agrees_with_its_keys_while_others_read_counts(make_server):
    """KEYS and DBSIZE in one MULTI see one clock, also while clients on other workers read
    the counts (each read takes the keys expired by its own clock out of the counts)."""
    s = make_server(workers_args(4))
    with s.client() as cl:
        pipe = cl.pipeline(transaction=False)
        for i in range(3000):
            pipe.set("e%d" % i, "v", px=300 + i)  # one key expiring every ms for 3 s
        pipe.execute()
    stop = threading.Event()

    def reader():
        with s.client() as cl:
            while not stop.is_set():
                cl.dbsize()

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()
    mismatches = []
    try:
        with s.conn() as c:
            deadline = time.time() + 2.5
            while time.time() < deadline and len(mismatches) < 3:
                assert c.call("MULTI") == "OK"
                assert c.call("KEYS", "*") == "QUEUED"
                assert c.call("DBSIZE") == "QUEUED"
                keys, dbsize = c.call("EXEC")
                if dbsize != len(keys):
                    mismatches.append((len(keys), dbsize))
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not mismatches, mismatches


def sort_racing_a_writer(s, n, writer_delay):
    """SORT BY/GET of weights that all expired, while another client SETs them: (the weights
    whose acknowledged SET is undone, DBSIZE, how many keys KEYS lists)."""
    with s.client() as cl:
        cl.flushall()
        cl.rpush("list", *range(n))
        pipe = cl.pipeline(transaction=False)
        for i in range(n):
            pipe.set("w_%d" % i, i, px=50)
        pipe.execute()
        time.sleep(0.15)  # every weight expired, none reclaimed (on tidekv)
    written = []

    def writer():
        with s.client() as cl:
            for start in range(0, n, 200):
                pipe = cl.pipeline(transaction=False)
                for i in range(start, start + 200):
                    pipe.set("w_%d" % i, "new")
                pipe.execute()
                written.extend(range(start, start + 200))

    with s.client() as cl:
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(writer_delay)
        cl.sort("list", by="w_*", get=["#", "w_*"], alpha=True, store="dst")
        t.join()
        values = cl.mget(["w_%d" % i for i in written])
    dbsize, keys = transaction(s, 0, ("DBSIZE",), ("KEYS", "*"))
    return [i for i, v in zip(written, values) if v != b"new"], dbsize, len(keys)


@pytest.mark.soak  # long: runs under make soak
def test_sort_by_pattern_does_not_undo_writes_of_the_keys_it_reads(make_server):
    """SORT ... BY/GET pattern reads keys its arguments do not name (so it takes no lock on
    them); reading one that expired must not delete a value another client wrote since. The
    race is tried a few times, with the writer starting at different moments."""
    s = make_server(workers_args(4))
    for delay in (0.002, 0, 0.005, 0.001, 0.01, 0.003):
        lost, dbsize, nkeys = sort_racing_a_writer(s, 10000, delay)
        assert (lost, dbsize) == ([], nkeys), "%d acknowledged SETs undone, DBSIZE %d for %d keys" % (
            len(lost), dbsize, nkeys)


# ----------------------------------------------------------------------
# long variants
# ----------------------------------------------------------------------

@soak
@tidekv_only
def test_long_concurrent_pipelines_with_expiries_and_restarts(make_server):
    s = make_server(workers_args(4))
    for round_ in range(5):
        hammer(s, threads=8, rounds=300, ttls=[1, 5, 30, 600000])
        check(s, "round %d" % round_)
        if round_ % 2:
            s.kill9()
            s.start()
        else:
            s.restart()
        check(s, "round %d restarted" % round_)
