"""A hostile user's look at streams (README "Streams"), with redis-server 7.0.15 as the
reference: ids at the edges and as Redis reads them, numbers as Redis reads them, trims across
tidekv's delete batches, emptied and lowered streams, expiry, the generic key commands,
MULTI/EVAL/WATCH, XADD * from many connections, kill -9, and (tidekv only) change records and
snapshots replayed on redis-server.

Everything not marked tidekv_only holds on redis-server too (TIDEKV_TEST_TARGET=redis). Known
bugs are xfail(strict=True) tests that say what is wrong, so that they flip when it is fixed."""

import random
import threading
import time

import pytest

from conftest import RespError, encode_command, tidekv_only
from test_cdc_helpers import RedisServer, poll_all, replay, snapshot_commands

U64_MAX = 2 ** 64 - 1
MAX_ID = "%d-%d" % (U64_MAX, U64_MAX)
INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
NOT_INT = "ERR value is not an integer or out of range"


def pipeline_fill(c, key, n):
    """XADD key 1-0 … n-0 (field f = the number), pipelined."""
    c.send(b"".join(encode_command("XADD", key, "%d-0" % i, "f", str(i)) for i in range(1, n + 1)))
    for i in range(1, n + 1):
        assert c.read_reply() == b"%d-0" % i


def info(c, key):
    """XINFO STREAM without radix-tree-keys/-nodes (tidekv has no radix tree: README)."""
    reply = c.call("XINFO", "STREAM", key)
    if isinstance(reply, RespError):
        return reply
    d = dict(zip(reply[::2], reply[1::2]))
    del d[b"radix-tree-keys"], d[b"radix-tree-nodes"]
    return d


def first_ids(c, key):
    d = info(c, key)
    return d[b"length"], d[b"recorded-first-entry-id"], d[b"first-entry"][0], d[b"last-entry"][0]


# ---------------------------------------------------------------- ids as Redis reads them

def test_ids_are_read_as_strtoull_reads_them(c):
    """Redis reads each part of an id with strtoull (after string2ll has refused a strictly
    written negative): ' 5-0' is 5-0, '7-+1' is 7-1, '9- -3' is 9-(2^64-3)."""
    assert c.call("XADD", "s", " 5-0", "f", "v") == b"5-0"
    assert c.call("XADD", "s", "+6-0", "f", "v") == b"6-0"
    assert c.call("XADD", "s", "7-+1", "f", "v") == b"7-1"
    assert c.call("XADD", "s", "8-\t2", "f", "v") == b"8-2"
    assert c.call("XADD", "s", "9- -3", "f", "v") == b"9-%d" % (U64_MAX - 2)
    assert [e[0] for e in c.call("XRANGE", "s", " 6", "+8")] == [b"6-0", b"7-1", b"8-2"]


def test_ids_that_stay_invalid(c):
    c.call("XADD", "s", "5-0", "f", "v")
    for id_ in ("5-0 ", "0x5", "5-1e2", "-5-0", "5--1", "5-", "-", "+", "5-*-1", " ", "\t-5"):
        assert c.call("XADD", "s", id_, "f", "v") == INVALID_ID, id_
    assert c.call("XLEN", "s") == 1


@pytest.mark.parametrize("value", ["007", "00", "-0", "+5", " 5", "5 ", "5.0", "", "9223372036854775808"])
def test_numbers_are_read_as_string2ll_reads_them(c, value):
    """COUNT, MAXLEN, LIMIT and ENTRIESADDED are integers as Redis's string2ll reads them: no
    leading zero, sign '+', space or fraction (unlike the parts of a stream id)."""
    for i in range(1, 10):
        c.call("XADD", "s", "%d-0" % i, "f", "v")
    for cmd in (("XRANGE", "s", "-", "+", "COUNT", value), ("XREAD", "COUNT", value, "STREAMS", "s", "0"),
                ("XTRIM", "s", "MAXLEN", "~", "100", "LIMIT", value), ("XSETID", "s", "99-0", "ENTRIESADDED", value),
                ("XTRIM", "s", "MAXLEN", value), ("XADD", "s", "MAXLEN", value, "*", "f", "v")):
        assert c.call(*cmd) == NOT_INT, cmd
    assert c.call("XLEN", "s") == 9


# ---------------------------------------------------------------- edges

def test_exclusive_bounds_at_the_edges(c):
    c.call("XADD", "s", "0-1", "f", "v")
    c.call("XADD", "s", "%d-%d" % (U64_MAX, U64_MAX - 1), "f", "v")
    ids = [b"0-1", b"%d-%d" % (U64_MAX, U64_MAX - 1)]
    assert [e[0] for e in c.call("XRANGE", "s", "(0-0", "+")] == ids
    assert [e[0] for e in c.call("XRANGE", "s", "-", "(" + MAX_ID)] == ids
    assert [e[0] for e in c.call("XRANGE", "s", "(0-1", "(" + MAX_ID)] == ids[1:]
    assert [e[0] for e in c.call("XREVRANGE", "s", "(%d-%d" % (U64_MAX, U64_MAX - 1), "(0-0")] == ids[:1]
    assert c.call("XRANGE", "s", "(" + MAX_ID, "+") == "ERR invalid start ID for the interval"
    assert c.call("XRANGE", "s", "-", "(0-0") == "ERR invalid end ID for the interval"
    assert c.call("XREVRANGE", "s", "(0-0", "-") == "ERR invalid end ID for the interval"
    assert c.call("XRANGE", "s", "(-", "+") == INVALID_ID
    assert c.call("XRANGE", "s", "-", "(+") == INVALID_ID
    assert c.call("XRANGE", "s", "((1", "+") == INVALID_ID
    assert c.call("XRANGE", "s", "(1-*", "+") == INVALID_ID
    assert c.call("XRANGE", "s", "(", "+") == INVALID_ID  # "(" alone is an id with no digits
    assert c.call("XREVRANGE", "s", "-", "+") == []  # the bounds the wrong way round


def test_the_seq_after_the_last_one_of_a_ms(c):
    assert c.call("XADD", "s", "5-%d" % U64_MAX, "f", "v") == b"5-%d" % U64_MAX
    assert c.call("XADD", "s", "5-*", "f", "v") == "ERR Elements are too large to be stored"
    assert c.call("XADD", "s", "5", "f", "v") == TOO_SMALL
    assert c.call("XADD", "s", "6-*", "f", "v") == b"6-0"
    assert c.call("XADD", "t", "%d-%d" % (U64_MAX, U64_MAX - 1), "f", "v") == b"%d-%d" % (U64_MAX, U64_MAX - 1)
    assert c.call("XADD", "t", "*", "f", "v") == MAX_ID.encode()
    assert c.call("XADD", "t", "*", "f", "v") == EXHAUSTED
    assert c.call("XDEL", "t", MAX_ID, MAX_ID) == 1
    assert c.call("XADD", "u", "0-%d" % U64_MAX, "f", "v") == b"0-%d" % U64_MAX
    assert c.call("XADD", "u", "0-*", "f", "v") == "ERR Elements are too large to be stored"
    assert c.call("XADD", "u", "1-*", "f", "v") == b"1-0"
    d = info(c, "t")
    assert (d[b"length"], d[b"last-generated-id"], d[b"max-deleted-entry-id"], d[b"entries-added"]) == \
        (1, MAX_ID.encode(), MAX_ID.encode(), 2)


def test_trims_across_delete_batches(c):
    """tidekv deletes a trim's entries 256 at a time: trims that end on, just before and just
    after a batch's end leave the right entries and first ids."""
    pipeline_fill(c, "s", 800)
    assert c.call("XTRIM", "s", "MAXLEN", "544") == 256  # exactly one batch
    assert first_ids(c, "s") == (544, b"257-0", b"257-0", b"800-0")
    assert c.call("XTRIM", "s", "MAXLEN", "31") == 513  # two batches and one
    assert first_ids(c, "s") == (31, b"770-0", b"770-0", b"800-0")
    pipeline_fill(c, "m", 600)
    assert c.call("XTRIM", "m", "MINID", "513") == 512  # two batches, the next entry kept
    assert first_ids(c, "m") == (88, b"513-0", b"513-0", b"600-0")
    assert c.call("XADD", "m", "MAXLEN", "0", "601-0", "f", "v") == b"601-0"
    d = info(c, "m")
    assert (d[b"length"], d[b"recorded-first-entry-id"], d[b"first-entry"], d[b"entries-added"]) == \
        (0, b"0-0", None, 601)


def test_xsetid_on_an_emptied_stream(c):
    """Redis 7.0 lets XSETID lower an empty stream's last id to anything, even 0-0 or below its
    max deleted id; XADD goes on from there."""
    c.call("XADD", "s", "1-0", "f", "v")
    c.call("XADD", "s", "2-0", "f", "v")
    assert c.call("XDEL", "s", "2-0", "2-0", "1-0") == 2
    assert c.call("XSETID", "s", "0-0") == "OK"
    d = info(c, "s")
    assert (d[b"last-generated-id"], d[b"max-deleted-entry-id"], d[b"entries-added"]) == (b"0-0", b"2-0", 2)
    assert c.call("XADD", "s", "0-*", "f", "v") == b"0-1"
    assert c.call("XSETID", "s", "0-0") == "ERR The ID specified in XSETID is smaller than the target stream top item"
    assert c.call("XSETID", "s", "0-5", "ENTRIESADDED", "0") == \
        "ERR The entries_added specified in XSETID is smaller than the target stream length"
    assert c.call("XSETID", "s", "0-5", "ENTRIESADDED", "1", "MAXDELETEDID", "0-0") == "OK"
    d = info(c, "s")
    assert (d[b"last-generated-id"], d[b"max-deleted-entry-id"], d[b"entries-added"]) == (b"0-5", b"2-0", 1)
    assert c.call("XADD", "s", "0-*", "f", "v") == b"0-6"


def test_empty_and_zero_fields(c):
    assert c.call("XADD", "s", "1-1", "", "") == b"1-1"
    assert c.call("XADD", "s", "1-2", "f", "v", "f", "w") == b"1-2"  # a field twice stays twice
    assert c.call("XRANGE", "s", "-", "+") == [[b"1-1", [b"", b""]], [b"1-2", [b"f", b"v", b"f", b"w"]]]
    for args in (("1-3",), ("1-3", "f"), ("1-3", "f", "v", "g"), ("NOMKSTREAM",), ("MAXLEN", "1")):
        assert c.call("XADD", "s", *args) == "ERR wrong number of arguments for 'xadd' command", args
    assert c.call("XADD", "", "1-1", "f", "v") == b"1-1"  # an empty key name
    assert c.call("XLEN", "") == 1


def test_xadd_with_many_fields(c):
    fields = [x for i in range(20000) for x in (b"f%d" % i, bytes([i % 256]) * (i % 7))]
    assert c.call("XADD", "s", "1-1", *fields) == b"1-1"
    assert c.call("XRANGE", "s", "-", "+") == [[b"1-1", fields]]
    assert c.call("XREVRANGE", "s", "+", "-", "COUNT", "1") == [[b"1-1", fields]]


# ---------------------------------------------------------------- the key, expiry, transactions, scripts

def test_expired_stream_is_gone_for_every_command(c):
    c.call("XADD", "s", "5-0", "f", "v")
    c.call("XSETID", "s", "9-0", "ENTRIESADDED", "7", "MAXDELETEDID", "8-0")
    assert c.call("PEXPIRE", "s", "30") == 1
    time.sleep(0.1)
    assert c.call("XLEN", "s") == 0
    assert c.call("XRANGE", "s", "-", "+") == []
    assert c.call("XREAD", "STREAMS", "s", "0") is None
    assert c.call("XINFO", "STREAM", "s") == "ERR no such key"
    assert c.call("XSETID", "s", "10-0") == "ERR no such key"
    assert c.call("XADD", "s", "NOMKSTREAM", "*", "f", "v") is None
    assert c.call("XADD", "s", "1-0", "f", "v") == b"1-0"  # a new stream: the old last id is gone
    d = info(c, "s")
    assert (d[b"last-generated-id"], d[b"max-deleted-entry-id"], d[b"entries-added"]) == (b"1-0", b"0-0", 1)
    assert c.call("PTTL", "s") == -1


def test_copy_and_rename_keep_the_counters(c):
    c.call("XADD", "s", "1-0", "f", "v")
    c.call("XADD", "s", "2-0", "f", "v")
    c.call("XDEL", "s", "2-0")
    c.call("SET", "str", "x")
    want = info(c, "s")
    assert c.call("COPY", "s", "str") == 0
    assert c.call("COPY", "s", "str", "REPLACE") == 1
    assert c.call("COPY", "s", "o", "DB", "1") == 1
    assert c.call("RENAME", "s", "str") == "OK"
    assert info(c, "str") == want
    assert c.call("XADD", "str", "2-0", "f", "v") == TOO_SMALL  # the last id came along
    c.call("SELECT", "1")
    assert info(c, "o") == want
    assert c.call("XADD", "o", "*", "f", "v") != TOO_SMALL
    c.call("SELECT", "0")
    assert info(c, "str") == want  # the copy's XADD left it alone


def test_a_script_keeps_the_xadds_before_its_error(c):
    script = "redis.call('XADD', KEYS[1], '5-0', 'f', 'v'); return redis.call('XADD', KEYS[1], '4-0', 'f', 'v')"
    reply = c.call("EVAL", script, "1", "s")
    assert isinstance(reply, RespError) and reply.startswith(TOO_SMALL), reply
    assert c.call("XRANGE", "s", "-", "+") == [[b"5-0", [b"f", b"v"]]]
    got = c.call("EVAL", "local a = redis.call('XADD', KEYS[1], '*', 'f', 'v') "
                         "local b = redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'f', 'w') "
                         "return {a, b, redis.call('XLEN', KEYS[1])}", "1", "s")
    assert got[2] == 1 and got[0] != got[1], got
    assert [e[0] for e in c.call("XRANGE", "s", "-", "+")] == [got[1]]
    assert c.call("EVAL", "return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 0)", "1", "s") is None


def test_watch_sees_only_the_stream_writes_that_change_it(server):
    """EXEC fails after another client changed the watched stream, not after a write that
    changed nothing (a refused XADD, an XDEL of no entry, a trim of nothing)."""
    changes = {
        ("XADD", "w", "9-0", "f", "v"): True,
        ("XADD", "w", "1-0", "f", "v"): False,
        ("XADD", "nk", "NOMKSTREAM", "*", "f", "v"): False,
        ("XTRIM", "w", "MAXLEN", "5"): False,
        ("XTRIM", "w", "MINID", "0"): False,
        ("XDEL", "w", "7-7"): False,
        ("XDEL", "w", "2-0"): True,
        ("XADD", "w", "MAXLEN", "0", "60-0", "f", "v"): True,
        ("XRANGE", "w", "-", "+"): False,
    }
    for cmd, changed in changes.items():
        with server.conn() as a, server.conn() as b:
            a.call("DEL", "w", "nk")
            a.call("XADD", "w", "2-0", "f", "v")
            a.call("XADD", "w", "3-0", "f", "v")
            assert a.call("WATCH", "w", "nk") == "OK"
            a.call("MULTI")
            a.call("PING")
            b.call(*cmd)
            assert a.call("EXEC") == (None if changed else ["PONG"]), cmd


def test_xadd_auto_ids_from_many_connections(server):
    """Concurrent XADD *: every id acknowledged, strictly increasing per connection, all
    different, and all of them in the stream."""
    got = {}

    def writer(i):
        with server.conn() as c:
            got[i] = [c.call("XADD", "s", "*", "w", str(i)) for _ in range(150)]

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def key(id_):
        ms, seq = id_.split(b"-")
        return int(ms), int(seq)

    for ids in got.values():
        assert [key(i) for i in ids] == sorted(key(i) for i in ids) and len(set(ids)) == len(ids)
    acked = sorted((i for ids in got.values() for i in ids), key=key)
    assert len(set(acked)) == 16 * 150
    with server.conn() as c:
        assert [e[0] for e in c.call("XRANGE", "s", "-", "+")] == acked
        d = info(c, "s")
        assert (d[b"entries-added"], d[b"last-generated-id"]) == (16 * 150, acked[-1])


# ---------------------------------------------------------------- restart, change records, snapshots (tidekv only)

@tidekv_only
def test_kill9_keeps_every_acknowledged_entry_and_the_ids(make_server):
    s = make_server()
    with s.conn() as c:
        pipeline_fill(c, "s", 300)
        c.call("XDEL", "s", "300-0", "7-0")
        c.call("XTRIM", "s", "MAXLEN", "100")
        c.call("XADD", "e", "MAXLEN", "0", "9-9", "f", "v")
        c.call("XSETID", "e", "0-3", "ENTRIESADDED", "40")
        c.call("XADD", "x", "%d-%d" % (U64_MAX, U64_MAX - 1), "f", "v")
        before = {k: (info(c, k), c.call("XRANGE", k, "-", "+")) for k in ("s", "e", "x")}
    s.kill9()
    s.start()
    with s.conn() as c:
        assert {k: (info(c, k), c.call("XRANGE", k, "-", "+")) for k in ("s", "e", "x")} == before
        assert c.call("XADD", "s", "300-*", "f", "v") == b"300-1"  # above the deleted last entry
        assert c.call("XADD", "e", "0-*", "f", "v") == b"0-4"
        assert c.call("XADD", "x", "*", "f", "v") == MAX_ID.encode()


def edge_workload():
    """Stream writes at the edges of the id space, on emptied and lowered streams."""
    top = "%d" % U64_MAX
    return [
        ("XADD", "a", top + "-" + str(U64_MAX - 2), "f", "1"), ("XADD", "a", top + "-*", "f", "2"),
        ("XADD", "a", "*", "f", "3"), ("XTRIM", "a", "MAXLEN", "1"),
        ("XADD", "b", "0-*", "f", "1"), ("XADD", "b", "0-" + str(U64_MAX), "f", "2"), ("XADD", "b", "1-*", "f", "3"),
        ("XDEL", "b", "1-0", "1-0", "0-1"), ("XSETID", "b", "1-0"), ("XTRIM", "b", "MINID", top),
        ("XSETID", "b", "0-0", "ENTRIESADDED", "9"), ("XADD", "b", "*", "f", "4"),
        ("XADD", "c", "MINID", top, "5-5", "f", "v"), ("XADD", "c", "NOMKSTREAM", "MAXLEN", "0", "6-*", "f", "v"),
        ("XSETID", "c", "2-2", "MAXDELETEDID", "1-1"), ("COPY", "c", "d", "DB", "1"), ("RENAME", "b", "c"),
        ("XADD", "e", "1-1", "", ""), ("PEXPIRE", "e", "100000"), ("COPY", "e", "a", "REPLACE"),
    ]


@tidekv_only
def test_change_records_at_the_edges_replay_on_redis(server, r):
    base = int(r.execute_command("SEQUENCE"))
    with server.conn() as c:
        for cmd in edge_workload():
            reply = c.call(*cmd)
            assert not isinstance(reply, RespError), (cmd, reply)
    rs = RedisServer()
    try:
        rs.start()
        with rs.conn() as rc:
            assert replay(rc, poll_all(r, base, "RESP")) == []
            with server.conn() as c:
                for db, key in ((0, "a"), (0, "b"), (0, "c"), (0, "e"), (1, "d")):
                    c.call("SELECT", str(db))
                    rc.call("SELECT", str(db))
                    mine = (info(c, key), c.call("XRANGE", key, "-", "+"), c.call("PEXPIRETIME", key))
                    assert (info(rc, key), rc.call("XRANGE", key, "-", "+"), rc.call("PEXPIRETIME", key)) == mine, key
    finally:
        rs.stop()


def concurrent_stream_writer(server, i, keys, rounds):
    """XADD (with and without trims), XDEL, XTRIM, XSETID, RENAME, COPY and MULTI over a few keys."""
    rnd = random.Random(i)
    with server.conn() as c:
        for j in range(rounds):
            k, k2 = rnd.choice(keys), rnd.choice(keys)
            op = rnd.randrange(8)
            if op < 3:
                cmd = ("XADD", k) + rnd.choice([(), ("MAXLEN", "5"), ("MINID", "0")]) + ("*", "w", "%d.%d" % (i, j))
            elif op == 3:
                oldest = c.call("XRANGE", k, "-", "+", "COUNT", "2")  # WRONGTYPE never: only streams here
                cmd = ("XDEL", k, "0-1") + tuple(e[0] for e in oldest)
            elif op == 4:
                cmd = ("XTRIM", k, "MAXLEN", "3")
            elif op == 5:
                cmd = rnd.choice([("RENAME", k, k2), ("COPY", k, k2, "REPLACE")])
            elif op == 6:
                cmd = ("XSETID", k, "%d-0" % (int(time.time() * 1000) + 1))
            else:
                c.call("MULTI")
                c.call("XADD", k, "*", "m", "1")
                c.call("XTRIM", k, "MAXLEN", "2")
                c.call("XADD", k2, "*", "m", "2")
                cmd = ("EXEC",)
            reply = c.call(*cmd)
            assert not isinstance(reply, RespError) or any(
                w in reply for w in ("no such key", "smaller", "same")), (cmd, reply)


@tidekv_only
def test_concurrent_stream_writes_replay_on_redis(server, r):
    """The change records of stream writes racing on shared keys from 8 connections replay
    on redis-server to the same streams, and every stream's counters agree with its entries."""
    keys = ["a", "b", "c"]
    base = int(r.execute_command("SEQUENCE"))
    threads = [threading.Thread(target=concurrent_stream_writer, args=(server, i, keys, 60)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rs = RedisServer()
    try:
        rs.start()
        with rs.conn() as rc, server.conn() as c:
            assert replay(rc, poll_all(r, base, "RESP")) == []
            for k in keys:
                mine = (info(c, k), c.call("XRANGE", k, "-", "+"))
                assert (info(rc, k), rc.call("XRANGE", k, "-", "+")) == mine, k
                if isinstance(mine[0], dict):
                    assert mine[0][b"length"] == len(mine[1])
    finally:
        rs.stop()


def whole_snapshot(c):
    sid = c.call("SNAPSHOT", "CREATE")[1].decode()
    try:
        return snapshot_commands(c, sid, 3)
    finally:
        c.call("SNAPSHOT", "RELEASE", sid)


def assert_snapshot_replays(server, keys):
    with server.conn() as c:
        want = {k: (info(c, k), c.call("XRANGE", k, "-", "+")) for k in keys}
        commands = whole_snapshot(c)
    rs = RedisServer()
    try:
        rs.start()
        with rs.conn() as rc:
            errors = [(cmd, rep) for cmd in commands for rep in [rc.call(*cmd)] if isinstance(rep, RespError)]
            got = {k: (info(rc, k), rc.call("XRANGE", k, "-", "+")) for k in keys}
        assert errors == []
        assert got == want
    finally:
        rs.stop()


@tidekv_only
def test_snapshot_of_streams_at_the_edges_replays_on_redis(server):
    with server.conn() as c:
        for cmd in edge_workload()[:13]:
            c.call(*cmd)
    assert_snapshot_replays(server, ("a", "b"))


@tidekv_only
def test_snapshot_of_a_stream_whose_last_id_is_below_its_max_deleted_id(server):
    with server.conn() as c:
        c.call("XADD", "s", "1-0", "f", "v")
        c.call("XADD", "s", "2-0", "f", "v")
        c.call("XDEL", "s", "2-0")
        assert c.call("XSETID", "s", "1-5") == "OK"
        c.call("XADD", "e", "1-0", "f", "v")
        c.call("XDEL", "e", "1-0")
        assert c.call("XSETID", "e", "0-3", "ENTRIESADDED", "7") == "OK"
    assert_snapshot_replays(server, ("s", "e"))


@tidekv_only
def test_snapshot_of_an_empty_stream_at_0_0(server):
    with server.conn() as c:
        c.call("XADD", "z", "MAXLEN", "0", "5-5", "f", "v")
        assert c.call("XSETID", "z", "0-0") == "OK"
    assert_snapshot_replays(server, ("z",))


@tidekv_only
def test_a_type_stream_consumer_hears_of_streams_replaced_by_other_types(server, r):
    base = int(r.execute_command("SEQUENCE"))
    with server.conn() as c:
        for key in ("s1", "s2", "s3", "s4"):
            c.call("XADD", key, "1-1", "f", "v")
        c.call("SET", "str", "x")
        c.call("HSET", "h", "a", "b")
        assert c.call("SET", "s1", "x") == "OK"
        assert c.call("MSET", "s2", "x") == "OK"
        assert c.call("COPY", "str", "s3", "REPLACE") == 1
        assert c.call("RENAME", "h", "s4") == "OK"
    rs = RedisServer()
    try:
        rs.start()
        with rs.conn() as rc:
            assert replay(rc, poll_all(r, base, "RESP", extra=("TYPE", "stream"))) == []
            assert [k for k in ("s1", "s2", "s3", "s4") if rc.call("TYPE", k) == "stream"] == []
    finally:
        rs.stop()
