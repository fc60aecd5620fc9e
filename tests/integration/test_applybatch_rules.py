"""APPLYBATCH trusts no change record it is given: the server writes its own, made from what
the batch's writes do, so the stream never claims what a batch did not do. And it refuses
batches that write outside what tidekv writes: unconfigured namespaces, column families
tidekv does not use, unreadable metadata, malformed subkeys, operations tidekv never writes."""

import struct
import threading
import time

import pytest
import redis

from conftest import tidekv_only
from helpers import NS, bitmap_meta, ns, string_meta, subkey
from stream_replay import snapshot
from test_cdc_helpers import (RedisServer, build_batch, encode_slice, parse_batch, poll, poll_all, record, replay,
                              seq)

pytestmark = tidekv_only

FORGED = record([b"FLUSHALL"], [b"CONFIG", b"SET", b"dir", b"/tmp"], [b"SET", b"admin", b"pwned"])


def put_string(key, value, db=0):
    return ("PUT", 1, ns(db) + key, string_meta(value))


def commands(updates):
    return [u["commands"] for u in updates]


# ----------------------------------------------------------------------
# the change record is the server's own
# ----------------------------------------------------------------------

def test_forged_change_record_is_not_shown(server, r):
    base = seq(r)
    r.set("admin", "secret")
    data = build_batch([("LOGDATA", 0, FORGED, None), put_string(b"x", b"1")])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert r.get("x") == b"1" and r.get("admin") == b"secret"
    after = poll(r, base + 1, "FORMAT", "RESP")["updates"]
    assert commands(after) == [[[b"SET", b"x", b"1"]]]
    assert [u["db"] for u in after] == [0]
    j = poll(r, base + 1, "FORMAT", "JSON")["updates"]
    assert commands(j) == [[[b"SET", b"x", b"1"]]]


def test_kvrocks_batch_applies(server, r):
    """A batch from Apache Kvrocks: its own LogData (type and arguments as text), no tidekv record."""
    base = seq(r)
    data = build_batch([("LOGDATA", 0, b"1 SET", None), put_string(b"from-kvrocks", b"v")])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert r.get("from-kvrocks") == b"v"
    assert commands(poll(r, base, "FORMAT", "RESP")["updates"]) == [[[b"SET", b"from-kvrocks", b"v"]]]


def test_logdata_only_batch_is_a_no_op(server, r):
    """Kvrocks writes batches of a LogData record and nothing else (count 0)."""
    base = seq(r)
    data = build_batch([("LOGDATA", 0, b"1 SET", None)])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert seq(r) == base
    assert poll(r, base)["updates"] == []


def test_member_changes_are_recorded_member_by_member(make_server):
    """A hash, set or sorted set that keeps its version changes by HSET/HDEL, SADD/SREM,
    ZADD/ZREM, PEXPIREAT/PERSIST, a list changed at its ends by pushes and pops, not by a
    rebuild of the whole key (one command for the members a write adds, one for those it
    removes); a big new key comes in commands of 256 members."""
    a, b = make_server(), make_server()
    ra, rb = a.client(), b.client()
    ra.hset("h", mapping={"f%d" % i: i for i in range(50)})
    ra.sadd("s", *range(50))
    ra.zadd("z", {"m%d" % i: i for i in range(50)})
    mark = seq(ra)
    ra.hset("h", "f1", "new")
    ra.hdel("h", "f2")
    ra.hset("h", mapping={"f5": "x", "new": "y"})
    ra.hdel("h", "f6", "f7", "nope")
    ra.zadd("z", {"m5": 0.5, "m6": 1e-7})
    ra.srem("s", 7)
    ra.zadd("z", {"m3": 2.5})
    ra.zrem("z", "m4")
    ra.execute_command("PEXPIREAT", "h", 4102444800000)
    ra.persist("h")
    ra.rpush("l", "a", "b")
    ra.rpush("l", "c", "d")
    ra.lpush("l", "y", "z")
    ra.lpop("l")
    ra.rpop("l", 2)
    ra.hset("big", mapping={"f%03d" % i: i for i in range(600)})
    for u in poll_all(ra, 0, "RAW"):
        data = bytes.fromhex(u.decode())
        assert rb.execute_command("APPLYBATCH", data) == len(data)
    got = commands(poll_all(rb, mark, "RESP"))
    assert got == [
        [[b"HSET", b"h", b"f1", b"new"]],
        [[b"HDEL", b"h", b"f2"]],
        [[b"HSET", b"h", b"f5", b"x", b"new", b"y"]],
        [[b"HDEL", b"h", b"f6", b"f7"]],
        [[b"ZADD", b"z", b"0.5", b"m5", b"9.9999999999999995e-08", b"m6"]],
        [[b"SREM", b"s", b"7"]],
        [[b"ZADD", b"z", b"2.5", b"m3"]],
        [[b"ZREM", b"z", b"m4"]],
        [[b"PEXPIREAT", b"h", b"4102444800000"]],
        [[b"PERSIST", b"h"]],
        [[b"RPUSH", b"l", b"a", b"b"]],
        [[b"RPUSH", b"l", b"c", b"d"]],
        [[b"LPUSH", b"l", b"y", b"z"]],
        [[b"LPOP", b"l", b"1"]],
        [[b"RPOP", b"l", b"2"]],
        [[b"HSET", b"big"] + [x for i in range(j, min(j + 256, 600)) for x in (b"f%03d" % i, b"%d" % i)]
         for j in (0, 256, 512)],
    ]
    assert rb.lrange("l", 0, -1) == [b"y", b"a", b"b"]
    ra.close()
    rb.close()


def source_workload(s):
    """Writes of every type: new, changed member by member, recreated, retyped, expired,
    renamed, copied, flushed, across databases."""
    c = [s.client(db=i) for i in range(3)]
    r0, r1, r2 = c
    far = 4102444800000
    r0.set("str", "v")
    r0.set("str-ttl", "v", pxat=far)
    r0.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    r0.hset("h", "a", "10")
    r0.hdel("h", "b")
    r0.hincrby("h", "n", 5)
    r0.sadd("s", "x", "y", "z", b"\x00\xff")
    r0.srem("s", "y")
    r0.spop("s")
    r0.zadd("z", {"a": 1, "b": 2.5, "c": -3, "d": 1e300})
    r0.zincrby("z", 0.25, "a")
    r0.zrem("z", "c")
    r0.zpopmin("z")
    r0.rpush("l", "a", "b", "c")
    r0.lpush("l", "z")
    r0.lset("l", 1, "A")
    r0.lrem("l", 1, "b")
    r0.linsert("l", "BEFORE", "c", "ins")
    r0.lpop("l")
    r0.rpush("l2", *range(10))
    r0.ltrim("l2", 2, 6)
    r0.execute_command("PEXPIREAT", "l2", far)
    r0.execute_command("PEXPIREAT", "z", far)
    r0.persist("z")
    r0.delete("h")
    r0.hset("h", "fresh", "1")  # recreated: a new version
    r0.delete("str")
    r0.sadd("str", "now-a-set")  # retyped
    r0.rename("s", "s-renamed")
    r0.copy("z", "z-copy", destination_db=1)
    r0.sunionstore("u", ["s-renamed", "str"])
    r0.execute_command("SORT", "l2", "STORE", "sorted")
    r1.hset("h1", "f", "v")
    r1.rpush("l1", "1")
    r2.set("gone", "x")
    r2.zadd("gone-z", {"m": 1})
    r2.flushdb()
    r2.sadd("after-flush", "m")
    with s.conn() as t:
        for cmd in (("MULTI",), ("HSET", "h", "tx", "1"), ("SELECT", "1"), ("RPUSH", "l1", "2"),
                    ("SADD", "s1", "a"), ("SELECT", "2"), ("DEL", "after-flush"), ("EXEC",)):
            t.call(*cmd)
    for x in c:
        x.close()


def bitmap_workload(s):
    """Strings kept as bitmaps (SETBIT on a missing key, edits of strings over 64 KiB): grown,
    cleared, with an expiry, recreated, retyped both ways."""
    r = s.client()
    far = 4102444800000
    r.setbit("b", 7, 1)
    r.setbit("b", 100000, 1)  # a new fragment, and the length
    r.setbit("b", 8 * 5000 + 1, 0)  # grows by a clear bit: no fragment written
    r.setbit("b", 7, 0)  # its fragment emptied, so deleted
    r.setbit("mid", 8 * 1024 * 1024 - 1, 1)  # 1 MiB, one fragment
    r.set("big", b"x" * 70000)
    r.setrange("big", 69990, b"hello")  # over 64 KiB: now a bitmap
    r.setrange("big", 200000, b"tail")
    r.append("big", b"more")
    r.setrange("new-big", 100000, b"z")  # a new long string is a bitmap
    r.setbit("ttl", 5, 1)
    r.execute_command("PEXPIREAT", "ttl", far)
    r.setbit("ttl", 9000, 1)
    r.setbit("persisted", 5, 1)
    r.execute_command("PEXPIREAT", "persisted", far)
    r.persist("persisted")
    r.setbit("re", 3, 1)
    r.setbit("re", 20000, 1)
    r.delete("re")
    r.setbit("re", 4000, 1)  # recreated: a new version, fewer fragments
    r.set("re-ttl", "v", pxat=far)
    r.delete("re-ttl")
    r.setbit("re-ttl", 2 ** 20, 1)
    r.execute_command("PEXPIREAT", "re-ttl", far)
    r.set("s2b", "abc")
    r.setbit("s2b", 1000000, 1)  # a string edited past 64 KiB: retyped
    r.setbit("b2s", 1, 1)
    r.set("b2s", "plain")
    r.setbit("gone", 1, 1)
    r.delete("gone")
    with s.conn() as t:
        for cmd in (("MULTI",), ("SETBIT", "tx", "10", "1"), ("SETRANGE", "tx", "70000", "abc"),
                    ("SETBIT", "tx", "10", "0"), ("APPEND", "b", "!"), ("EXEC",)):
            t.call(*cmd)
    r.close()


def copy_by_applybatch(src, dst):
    rs, rd = src.client(), dst.client()
    for u in poll_all(rs, 0, "RAW"):
        data = bytes.fromhex(u.decode())
        assert rd.execute_command("APPLYBATCH", data) == len(data)
    rs.close()
    rd.close()


def string_facts(s, keys):
    cl = s.client()
    try:
        return {k: (cl.get(k), cl.strlen(k), cl.bitcount(k), cl.execute_command("PEXPIRETIME", k)) for k in keys}
    finally:
        cl.close()


def test_bitmaps_copy_and_replay_exactly_on_redis(make_server):
    """A tidekv copy made by APPLYBATCH holds the same strings, and its change stream (the
    bitmaps recorded as SETRANGEs) replays on Redis 7 to the same data."""
    src, dst = make_server(), make_server()
    bitmap_workload(src)
    copy_by_applybatch(src, dst)
    expected = snapshot(src, dbs=(0,))
    assert snapshot(dst, dbs=(0,)) == expected
    keys = sorted(k for _, k in expected)
    assert string_facts(dst, keys) == string_facts(src, keys)
    updates = poll_all(dst.client(), 0, "RESP")
    redis_server = RedisServer().start()
    try:
        with redis_server.conn() as conn:
            assert replay(conn, updates) == []
        assert snapshot(redis_server, dbs=(0,)) == expected
        assert string_facts(redis_server, keys) == string_facts(src, keys)
    finally:
        redis_server.stop()


def test_far_bit_is_copied_with_a_small_record(make_server):
    """SETBIT at 2^32-1 makes a 512 MB string of one fragment: its copy records one SETRANGE
    of that fragment's bytes, not the whole string."""
    src, dst = make_server(), make_server()
    rs, rd = src.client(), dst.client()
    rs.setbit("far", 2 ** 32 - 1, 1)
    rs.setbit("far", 12, 1)
    base = seq(rd)
    copy_by_applybatch(src, dst)
    raw = [bytes.fromhex(u.decode()) for u in poll_all(rd, base, "RAW")]
    assert len(raw) == 2 and all(len(x) < 4096 for x in raw)
    got = commands(poll_all(rd, base, "RESP"))
    last = 2 ** 29 - 1
    assert got == [[[b"SETRANGE", b"far", b"%d" % (last - 1023), b"\x00" * 1023 + b"\x01"]],
                   [[b"SETRANGE", b"far", b"0", b"\x00\x08" + b"\x00" * 1022]]]
    for cl in (rs, rd):
        assert cl.strlen("far") == 2 ** 29
        assert cl.bitcount("far") == 2
        assert cl.getbit("far", 2 ** 32 - 1) == 1 and cl.getbit("far", 12) == 1
        assert cl.getrange("far", last - 1, last) == b"\x00\x01"
    rs.close()
    rd.close()


def with_record(data, mode, i):
    """The batch with its change record kept, dropped, or replaced by a forged one."""
    _, count, recs = parse_batch(data)
    if mode == "genuine":
        return data
    writes = [x for x in recs if x[0] != "LOGDATA"]
    if mode == "stripped":
        return build_batch(writes, count=count)
    forged = record([b"FLUSHALL"], [b"SET", b"forged", b"%d" % i], [b"HSET", b"h", b"evil", b"1"])
    return build_batch([("LOGDATA", 0, forged, None)] + writes, count=count)


def test_stream_of_applied_batches_replays_exactly_on_redis(make_server):
    """Genuine, stripped and forged batches applied to a copy: the copy's change stream,
    replayed on a Redis 7 server, gives exactly the copy's data."""
    src, dst = make_server(), make_server()
    source_workload(src)
    rs, rd = src.client(), dst.client()
    raw = [bytes.fromhex(u.decode()) for u in poll_all(rs, 0, "RAW")]
    modes = ("genuine", "stripped", "forged")
    for i, data in enumerate(raw):
        batch = with_record(data, modes[i % 3], i)
        assert rd.execute_command("APPLYBATCH", batch) == len(batch)
    updates = poll_all(rd, 0, "RESP")
    names = {c[0] for u in updates for c in u["commands"]}
    assert b"FLUSHALL" not in names and b"CONFIG" not in names
    assert not any(c[:2] == [b"SET", b"forged"] for u in updates for c in u["commands"])
    expected = snapshot(src, dbs=(0, 1, 2))
    assert snapshot(dst, dbs=(0, 1, 2)) == expected
    redis_server = RedisServer().start()
    try:
        with redis_server.conn() as conn:
            assert replay(conn, updates) == []
        assert snapshot(redis_server, dbs=(0, 1, 2)) == expected
    finally:
        redis_server.stop()
    rs.close()
    rd.close()


def test_batch_of_several_commits_keeps_them_apart(server, r):
    """A LogData record after writes starts the next commit (as in a group-committed WAL
    record): each gets its own record, with its own sequence range."""
    base = seq(r)
    data = build_batch([("LOGDATA", 0, FORGED, None), put_string(b"c1", b"1"),
                        ("LOGDATA", 0, FORGED, None), put_string(b"c2", b"2", db=3), put_string(b"c3", b"3", db=3)])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    ups = poll(r, base, "FORMAT", "RESP")["updates"]
    assert [(u["sequence"] - base, u["count"], u["db"]) for u in ups] == [(1, 1, 0), (2, 2, 3)]
    assert commands(ups) == [[[b"SET", b"c1", b"1"]], [[b"SET", b"c2", b"2"], [b"SET", b"c3", b"3"]]]


# ----------------------------------------------------------------------
# what tidekv never writes is refused
# ----------------------------------------------------------------------

def whole_db_range(cf, db=0):
    begin = ns(db)
    return ("DELRANGE", cf, begin, begin[:-1] + bytes([begin[-1] + 1]))


def hash_meta(version, size):
    return b"\x82" + struct.pack(">QQQ", 0, version, size)


SV = 777  # the version of the streams the forged batches make


def sid(ms, seq):
    return struct.pack(">QQ", ms, seq)


def stream_meta(size, last, first=None, end=None, added=None, max_deleted=(0, 0), recorded=None, groups=0,
                version=SV, expire=0):
    """A stream's metadata record: size entries from first to end (0-0 when empty), its last
    generated id, entries added (size unless given), max deleted id, consumer groups."""
    first = first or ((0, 0) if size == 0 else last)
    end = end or ((0, 0) if size == 0 else last)
    ids = [last, recorded or first, max_deleted, first, end]
    return (b"\x88" + struct.pack(">QQQ", expire, version, size) + b"".join(sid(*i) for i in ids)
            + struct.pack(">QQ", size if added is None else added, groups))


def entry(ms, seq, value=b"\x01f\x01v", key=b"k", version=SV):
    return ("PUT", 5, subkey(key, version, sid(ms, seq)), value)


def put_stream(meta, key=b"k"):
    return ("PUT", 1, NS + key, meta)


CONTRADICTS = "the metadata of stream 'k' contradicts itself"
FORGED_STREAMS = {
    "entry-truncated": ([put_stream(stream_meta(1, (1, 1))), entry(1, 1, b"\x01f\x05v")],
                        "malformed entry of stream 'k'"),
    "entry-odd-strings": ([put_stream(stream_meta(1, (1, 1))), entry(1, 1, b"\x01f")], "malformed entry of stream 'k'"),
    "entry-empty": ([put_stream(stream_meta(1, (1, 1))), entry(1, 1, b"")], "malformed entry of stream 'k'"),
    "entry-trailing-byte": ([put_stream(stream_meta(1, (1, 1))), entry(1, 1, b"\x01f\x01v\x01")],
                            "malformed entry of stream 'k'"),
    "entry-id-0-0": ([put_stream(stream_meta(1, (1, 1), first=(0, 0))), entry(0, 0)], CONTRADICTS),
    "entry-alone-id-0-0": ([entry(0, 0)], "malformed entry of stream 'k'"),
    "meta-short": ([put_stream(stream_meta(1, (1, 1))[:-17])], "malformed metadata for key 'k'"),
    "meta-empty-with-edges": ([put_stream(stream_meta(0, (5, 5), first=(5, 5), end=(5, 5)))], CONTRADICTS),
    "meta-entries-without-edges": ([put_stream(stream_meta(1, (5, 5), first=(0, 0), end=(0, 0))), entry(5, 5)],
                                   CONTRADICTS),
    "meta-last-above-last-generated": ([put_stream(stream_meta(1, (5, 5), end=(6, 0))), entry(6, 0)], CONTRADICTS),
    "meta-first-above-last": ([put_stream(stream_meta(2, (9, 9), first=(8, 0), end=(7, 0)))], CONTRADICTS),
    "meta-one-entry-two-edges": ([put_stream(stream_meta(1, (9, 9), first=(8, 0))), entry(8, 0)], CONTRADICTS),
    "meta-two-entries-one-edge": ([put_stream(stream_meta(2, (9, 9))), entry(9, 9)], CONTRADICTS),
    "meta-recorded-first-differs": ([put_stream(stream_meta(1, (9, 9), recorded=(1, 1))), entry(9, 9)], CONTRADICTS),
    "meta-fewer-added-than-held": ([put_stream(stream_meta(2, (9, 9), first=(1, 1), added=1)), entry(1, 1),
                                    entry(9, 9)], CONTRADICTS),
    "meta-added-over-int64": ([put_stream(stream_meta(1, (9, 9), added=2 ** 63)), entry(9, 9)], CONTRADICTS),
    "meta-consumer-groups": ([put_stream(stream_meta(1, (9, 9), groups=1)), entry(9, 9)],
                             "stream 'k' would say 1 consumer groups but hold 0"),
    "size-over-entries": ([put_stream(stream_meta(2, (9, 9), first=(1, 1))), entry(9, 9)],
                          "stream 'k' would say 2 entries but hold 1"),
    "size-under-entries": ([put_stream(stream_meta(1, (9, 9))), entry(9, 9), entry(1, 1)],
                           "stream 'k' would say 1 entries but hold 2"),
    "edges-not-the-entries": ([put_stream(stream_meta(2, (9, 9), first=(2, 2))), entry(9, 9), entry(1, 1)],
                              "the first and last entries of stream 'k' are not those its metadata names"),
    "entry-under-a-hash": ([("PUT", 1, NS + b"k", hash_meta(SV, 1)), ("PUT", 0, subkey(b"k", SV, b"f"), b"v"),
                            entry(1, 1)], "stream entries under key 'k', which is no stream"),
}

REFUSED = {
    "unconfigured-db": ([put_string(b"k", b"v", db=99)], "namespace '__db99' is not a configured database"),
    "named-namespace": ([("PUT", 1, b"\x03foo" + b"k", string_meta(b"v"))],
                        "namespace 'foo' is not a configured database"),
    "db0-by-number": ([("PUT", 1, b"\x05__db0" + b"k", string_meta(b"v"))],
                      "namespace '__db0' is not a configured database"),
    "no-namespace": ([("PUT", 1, b"\x20k", string_meta(b"v"))], "a key without a namespace"),
    "pubsub-cf": ([("PUT", 3, NS + b"k", b"v")], "column family 3 is not one tidekv writes"),
    "propagate-cf": ([("PUT", 4, NS + b"k", b"v")],
                     "column family 4 holds only function libraries (function-lib:<name>)"),
    "propagate-cf-delete": ([("DEL", 4, b"lua_f_abc", None)],
                            "column family 4 holds only function libraries (function-lib:<name>)"),
    "propagate-cf-range": ([("DELRANGE", 4, b"function-lib:", b"function-lib;")],
                           "column family 4 is not one tidekv writes"),
    "stream-cf-short": ([("PUT", 5, subkey(b"k", 1, b"e"), b"v")], "malformed subkey in column family 5"),
    "stream-cf-long-id": ([("PUT", 5, subkey(b"k", 1, b"\x00" * 15 + b"\x01\x00"), b"\x01f\x01v")],
                          "malformed subkey in column family 5"),
    **{"stream-" + name: (recs, message) for name, (recs, message) in FORGED_STREAMS.items()},
    "search-cf": ([("DEL", 6, NS + b"k", None)], "column family 6 is not one tidekv writes"),
    "unknown-cf": ([("PUT", 9, NS + b"k", b"v")], "column family 9 is not one tidekv writes"),
    "metadata-garbage": ([("PUT", 1, NS + b"k", b"\x82\x00")], "malformed metadata for key 'k'"),
    "metadata-empty": ([("PUT", 1, NS + b"k", b"")], "malformed metadata for key 'k'"),
    "metadata-sortedint": ([("PUT", 1, NS + b"k", b"\x87" + struct.pack(">QQQ", 0, 1, 1))],
                           "metadata of type 7, which tidekv does not have, for key 'k'"),
    "metadata-list-short": ([("PUT", 1, NS + b"k", b"\x83" + struct.pack(">QQQ", 0, 1, 1))],
                            "malformed metadata for key 'k'"),
    "subkey-key-len-too-long": ([("PUT", 0, NS + struct.pack(">I", 100) + b"k" + b"\x00" * 8 + b"f", b"v")],
                                "malformed subkey in column family 0"),
    "subkey-no-version": ([("PUT", 0, NS + struct.pack(">I", 1) + b"k" + b"\x00" * 3, b"v")],
                          "malformed subkey in column family 0"),
    "score-index-short": ([("PUT", 2, subkey(b"z", 1, b"\x00\x01"), b"")], "malformed subkey in column family 2"),
    "partial-range": ([("DELRANGE", 1, NS + b"a", NS + b"m")], "a range deletion must cover one whole database"),
    "range-over-all-namespaces": ([("DELRANGE", 1, b"\x00", b"\xff")],
                                  "namespace '' is not a configured database"),
    "range-of-unconfigured-db": ([whole_db_range(1, db=42)], "namespace '__db42' is not a configured database"),
    "subkey-range-alone": ([whole_db_range(0)], "a range deletion of subkeys without the metadata of db 0"),
    "second-write-bad": ([put_string(b"ok", b"v"), put_string(b"k", b"v", db=20)],
                         "namespace '__db20' is not a configured database"),
}


def assert_refused(r, recs, message):
    """A batch of recs is refused with message, and nothing of it (or of anything) changes."""
    r.set("ok", "before")
    base = seq(r)
    data = build_batch(recs)
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command("APPLYBATCH", data)
    assert str(ei.value) == "APPLYBATCH: " + message
    assert seq(r) == base
    assert r.get("ok") == b"before"
    assert r.dbsize() == 1


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_applybatch_refuses_what_tidekv_never_writes(server, r, name):
    assert_refused(r, *REFUSED[name])


def test_applybatch_refuses_a_merge(server, r):
    data = struct.pack("<QI", 0, 1) + b"\x06\x01" + encode_slice(NS + b"k") + encode_slice(string_meta(b"v"))
    with pytest.raises(redis.ResponseError, match="^APPLYBATCH: merge operations are not written by tidekv$"):
        r.execute_command("APPLYBATCH", data)


def test_namespaces_of_configured_databases_apply(make_server):
    """The last configured database is accepted, the first beyond it refused."""
    s = make_server(["--databases", "4"])
    r = s.client()
    data = build_batch([put_string(b"k", b"v", db=3)])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert s.client(db=3).get("k") == b"v"
    with pytest.raises(redis.ResponseError, match="'__db4' is not a configured database"):
        r.execute_command("APPLYBATCH", build_batch([put_string(b"k", b"v", db=4)]))


def test_whole_database_range_with_members_is_flushdb(server, r):
    c5 = server.client(db=5)
    c5.hset("h", "f", "v")
    c5.set("s", "v")
    base = seq(r)
    data = build_batch([whole_db_range(1, db=5), whole_db_range(0, db=5), whole_db_range(2, db=5),
                        whole_db_range(5, db=5)])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert c5.dbsize() == 0
    ups = poll(r, base, "FORMAT", "RESP")["updates"]
    assert commands(ups) == [[[b"FLUSHDB"]]] and ups[0]["db"] == 5
    c5.close()


BV = 4321  # the version of the bitmaps the fragment tests make


BAD_FRAGMENTS = {
    "not-a-number": b"abc",
    "not-a-multiple": b"1000",
    "leading-zero": b"01024",
    "sign": b"+1024",
    "empty": b"",
    "too-big-a-number": b"99999999999999999999999",
}


@pytest.mark.parametrize("name", sorted(BAD_FRAGMENTS))
def test_malformed_bitmap_fragment_is_refused(server, r, name):
    """A bitmap's fragment must be under its decimal byte offset, a multiple of 1024, as
    types/bitmap.c names them: no other subkey has a SETRANGE form."""
    data = build_batch([("PUT", 1, NS + b"bm", bitmap_meta(4096, BV)),
                        ("PUT", 0, subkey(b"bm", BV, BAD_FRAGMENTS[name]), b"\x01")])
    with pytest.raises(redis.ResponseError, match="^APPLYBATCH: malformed fragment of bitmap 'bm'$"):
        r.execute_command("APPLYBATCH", data)
    assert r.exists("bm") == 0


def test_oversized_bitmap_fragment_is_refused(server, r):
    """A fragment holds at most 1024 bytes, in a new bitmap as in one that keeps its version."""
    good = build_batch([("PUT", 1, NS + b"bm", bitmap_meta(4096, BV)), ("PUT", 0, subkey(b"bm", BV, b"1024"), b"\x80")])
    assert r.execute_command("APPLYBATCH", good) == len(good)
    before = seq(r)
    for recs in ([("PUT", 0, subkey(b"bm", BV, b"2048"), b"\x01" * 1025)],
                 [("PUT", 1, NS + b"bm2", bitmap_meta(4096, BV)),
                  ("PUT", 0, subkey(b"bm2", BV, b"0"), b"\x01" * 1025)]):
        with pytest.raises(redis.ResponseError, match="^APPLYBATCH: malformed fragment of bitmap 'bm2?'$"):
            r.execute_command("APPLYBATCH", build_batch(recs))
    assert seq(r) == before
    assert r.strlen("bm") == 4096 and r.bitcount("bm") == 1 and r.getbit("bm", 8 * 1024 + 7) == 1
    assert r.exists("bm2") == 0


def test_bitmap_longer_than_proto_max_bulk_len_is_refused(server, r):
    """A bitmap is a string: its size may not pass proto-max-bulk-len (no command could read or
    make it), as the setting stands when the batch comes; with nothing written then."""
    too_long = "^APPLYBATCH: bitmap 'bm' of %d bytes is longer than proto-max-bulk-len$"
    with pytest.raises(redis.ResponseError, match=too_long % (512 * 1024 * 1024 + 1)):
        r.execute_command("APPLYBATCH", build_batch([("PUT", 1, NS + b"bm", bitmap_meta(512 * 1024 * 1024 + 1, BV))]))
    r.config_set("proto-max-bulk-len", "1mb")
    try:
        base = seq(r)
        for size in (1024 * 1024 + 1, 1 << 40):
            recs = [("PUT", 1, NS + b"bm", bitmap_meta(size, BV)), ("PUT", 0, subkey(b"bm", BV, b"0"), b"\x01")]
            with pytest.raises(redis.ResponseError, match=too_long % size):
                r.execute_command("APPLYBATCH", build_batch(recs))
        assert seq(r) == base and r.exists("bm") == 0
        data = build_batch([("PUT", 1, NS + b"bm", bitmap_meta(1024 * 1024, BV))])
        assert r.execute_command("APPLYBATCH", data) == len(data)
        assert r.strlen("bm") == 1024 * 1024
    finally:
        r.config_set("proto-max-bulk-len", "512mb")


def test_bitmap_fragments_are_recorded_as_setranges(server, r):
    """A bitmap applied whole: DEL of what was there, SETRANGE of each fragment (bytes past the
    size left out), the last byte when no fragment reaches it, then its expiry; a later write
    of one fragment, one SETRANGE (a deleted fragment, its zeros)."""
    r.set("bm", "old")
    base = seq(r)
    meta = b"\x86" + struct.pack(">QQQ", 4102444800000, BV, 3000)
    data = build_batch([("PUT", 1, NS + b"bm", meta), ("PUT", 0, subkey(b"bm", BV, b"0"), b"\x80\x01"),
                        ("PUT", 0, subkey(b"bm", BV, b"1024"), b"\x03")])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert commands(poll(r, base, "FORMAT", "RESP")["updates"]) == [[
        [b"DEL", b"bm"], [b"SETRANGE", b"bm", b"0", b"\x01\x80" + b"\x00" * 1022],
        [b"SETRANGE", b"bm", b"1024", b"\xc0" + b"\x00" * 1023],
        [b"SETRANGE", b"bm", b"2999", b"\x00"], [b"PEXPIREAT", b"bm", b"4102444800000"]]]
    assert r.get("bm") == b"\x01\x80" + b"\x00" * 1022 + b"\xc0" + b"\x00" * 1975
    base = seq(r)
    data = build_batch([("DEL", 0, subkey(b"bm", BV, b"0"), None)])
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert commands(poll(r, base, "FORMAT", "RESP")["updates"]) == [[[b"SETRANGE", b"bm", b"0", b"\x00" * 1024]]]
    assert r.bitcount("bm") == 2


def test_malformed_zset_score_is_refused(server, r):
    """A member of a sorted set whose score is not 8 bytes has no ZADD form."""
    version = 7
    meta = b"\x85" + struct.pack(">QQQ", 0, version, 1)
    data = build_batch([("PUT", 1, NS + b"z", meta), ("PUT", 0, subkey(b"z", version, b"m"), b"\x01")])
    with pytest.raises(redis.ResponseError, match="^APPLYBATCH: malformed score of a sorted set member$"):
        r.execute_command("APPLYBATCH", data)
    assert r.exists("z") == 0


def test_applybatch_wakes_clients_blocked_on_its_keys(make_server):
    """A key APPLYBATCH writes counts as touched, as by any command: BLPOP on it wakes."""
    src, dst = make_server(), make_server()
    rs = src.client()
    base = seq(rs)
    rs.rpush("q", "job")
    data = bytes.fromhex(poll(rs, base)["updates"][0].decode())
    got = []
    waiter = dst.client(socket_timeout=20)
    t = threading.Thread(target=lambda: got.append(waiter.blpop("q", timeout=10)))
    t.start()
    rd = dst.client()
    for _ in range(100):  # until the BLPOP waits
        if any(c.get("cmd") == "blpop" for c in rd.client_list()):
            break
        time.sleep(0.02)
    started = time.monotonic()
    assert rd.execute_command("APPLYBATCH", data) == len(data)
    t.join(15)
    assert got == [(b"q", b"job")]
    assert time.monotonic() - started < 3
    rs.close()
    rd.close()
    waiter.close()


def ordered(score):
    bits = struct.unpack(">Q", struct.pack(">d", score))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return struct.pack(">Q", bits)


ZV = 12345  # the version of the sorted set the score index tests make


def zset_batch(*members, size=None):
    """Metadata of sorted set z (version ZV) and, per (member, score), its member and index entry."""
    recs = [("PUT", 1, NS + b"z", b"\x85" + struct.pack(">QQQ", 0, ZV, size or len(members)))]
    for m, sc in members:
        recs += [("PUT", 0, subkey(b"z", ZV, m), ordered(sc)), ("PUT", 2, subkey(b"z", ZV, ordered(sc) + m), b"")]
    return build_batch(recs)


SCORE_INDEX_LIES = {
    "index-entry-without-member": [("PUT", 2, subkey(b"z", ZV, ordered(5) + b"ghost"), b"")],
    "index-entry-with-another-score": [("PUT", 2, subkey(b"z", ZV, ordered(7) + b"a"), b"")],
    "index-entry-of-a-member-deleted": [("DEL", 2, subkey(b"z", ZV, ordered(1) + b"a"), None)],
    "member-without-index-entry": [("PUT", 0, subkey(b"z", ZV, b"new"), ordered(3)),
                                   ("PUT", 1, NS + b"z", b"\x85" + struct.pack(">QQQ", 0, ZV, 2))],
    "score-changed-old-entry-kept": [("PUT", 0, subkey(b"z", ZV, b"a"), ordered(2)),
                                     ("PUT", 2, subkey(b"z", ZV, ordered(2) + b"a"), b"")],
}


@pytest.mark.parametrize("name", sorted(SCORE_INDEX_LIES))
def test_sorted_set_score_index_must_agree_with_members(server, r, name):
    """ZRANGE reads the score index and ZSCORE the members: a batch that makes them disagree
    has no true change record, and is refused."""
    base = seq(r)
    good = zset_batch((b"a", 1.0))
    assert r.execute_command("APPLYBATCH", good) == len(good)
    assert commands(poll(r, base, "FORMAT", "RESP")["updates"]) == [[[b"ZADD", b"z", b"1", b"a"]]]
    changed = build_batch([("PUT", 0, subkey(b"z", ZV, b"a"), ordered(2)),
                           ("DEL", 2, subkey(b"z", ZV, ordered(1) + b"a"), None),
                           ("PUT", 2, subkey(b"z", ZV, ordered(2) + b"a"), b"")])
    assert r.execute_command("APPLYBATCH", changed) == len(changed)
    assert commands(poll(r, base + 3, "FORMAT", "RESP")["updates"]) == [[[b"ZADD", b"z", b"2", b"a"]]]
    back = build_batch([("PUT", 0, subkey(b"z", ZV, b"a"), ordered(1)),
                        ("DEL", 2, subkey(b"z", ZV, ordered(2) + b"a"), None),
                        ("PUT", 2, subkey(b"z", ZV, ordered(1) + b"a"), b"")])
    assert r.execute_command("APPLYBATCH", back) == len(back)
    before = seq(r)
    with pytest.raises(redis.ResponseError,
                       match="^APPLYBATCH: the score index of sorted set 'z' disagrees with its members$"):
        r.execute_command("APPLYBATCH", build_batch(SCORE_INDEX_LIES[name]))
    assert seq(r) == before
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0)]


# ----------------------------------------------------------------------
# streams
# ----------------------------------------------------------------------

def stream_workload(s):
    """Stream writes of every kind: random ones over a few keys (test_streams's), then XADD,
    XDEL, XTRIM, XSETID, DEL, EXPIRE, PERSIST, an empty stream, and several in one MULTI."""
    from test_streams import random_stream_workload
    import random
    r = s.client()
    rnd = random.Random(20261205)
    for cmd in random_stream_workload(rnd, 300):
        if cmd[0] == "XDEL-SOME":
            present = [e[0] for e in r.xrange(cmd[1])]
            cmd = ("XDEL", cmd[1]) + tuple(rnd.sample(present, min(len(present), 2))) + (b"1-1",)
        try:
            r.execute_command(*cmd)
        except redis.ResponseError as e:  # an ms-* below the last id, XSETID of a missing key
            assert "smaller" in str(e) or "no such key" in str(e), (cmd, e)
    for i in range(1, 21):
        r.xadd("x", {"f": i, "g": "v" * i}, id="%d-%d" % (i, i))
    r.xdel("x", "3-3", "10-10", "20-20")
    r.xtrim("x", maxlen=15, approximate=False)
    r.xtrim("x", minid="6-0", approximate=False)
    r.xadd("x", {"f": "capped"}, id="30-0", maxlen=12, approximate=False)
    r.execute_command("XSETID", "x", "100-0", "ENTRIESADDED", "50", "MAXDELETEDID", "40-0")
    r.xadd("x", {"after": "setid"}, id="100-5")
    r.xadd("low", {"f": "v"}, id="1-1")
    r.xadd("low", {"f": "v"}, id="9-9")
    r.xdel("low", "9-9")
    r.execute_command("XSETID", "low", "2-0")  # the max deleted id stays above the last id
    r.execute_command("XADD", "e", "MAXLEN", "0", "*", "f", "v")  # an empty stream keeps its ids
    r.xadd("emptied", {"f": "v"}, id="5-5")
    r.xdel("emptied", "5-5")
    r.xadd("ttl", {"f": "v"}, id="1-1")
    r.expire("ttl", 1000)
    r.xadd("ttl", {"f": "w"}, id="2-2")
    r.xadd("persisted", {"f": "v"})
    r.expire("persisted", 1000)
    r.persist("persisted")
    r.xadd("gone", {"f": "v"})
    r.delete("gone")
    r.xadd("re", {"old": "1"}, id="50-0")
    r.delete("re")
    r.xadd("re", {"new": "1"}, id="1-0")  # recreated: a new version, ids from nothing
    r.set("retyped", "string")
    r.delete("retyped")
    r.xadd("retyped", {"f": "v"}, id="1-1")
    with s.conn() as t:
        for cmd in (("MULTI",), ("XADD", "m", "1-1", "a", "1"), ("XADD", "m", "2-2", "b", "2"),
                    ("XDEL", "m", "1-1"), ("XADD", "x", "*", "in", "multi"), ("EXEC",)):
            t.call(*cmd)
    r.close()


STREAM_KEYS = ("low", "s1", "s2", "s3", "s4", "x", "e", "emptied", "ttl", "persisted", "gone", "re", "retyped", "m")


def streams_of(s):
    from test_streams import stream_state
    cl = s.client()
    try:
        return {k: stream_state(cl, k) for k in STREAM_KEYS}
    finally:
        cl.close()


def test_streams_copy_and_replay_exactly_on_redis(make_server):
    """POLLUPDATES RAW of stream writes applied to another tidekv (genuine, stripped and forged
    batches) gives the same streams (XRANGE, XINFO STREAM's counters, TTL), and the copy's
    change stream replays on Redis 7 to them too."""
    src, dst = make_server(), make_server()
    stream_workload(src)
    rs, rd = src.client(), dst.client()
    modes = ("genuine", "stripped", "forged")
    for i, u in enumerate(poll_all(rs, 0, "RAW")):
        batch = with_record(bytes.fromhex(u.decode()), modes[i % 3], i)
        assert rd.execute_command("APPLYBATCH", batch) == len(batch)
    expected = streams_of(src)
    assert expected["x"] is not None and expected["gone"] is None and expected["e"][1] == 0
    assert streams_of(dst) == expected
    updates = poll_all(rd, 0, "RESP")
    assert not any(c[:2] == [b"SET", b"forged"] for u in updates for c in u["commands"])
    redis_server = RedisServer().start()
    try:
        with redis_server.conn() as conn:
            assert replay(conn, updates) == []
        assert streams_of(redis_server) == expected
    finally:
        redis_server.stop()
    rs.close()
    rd.close()


def test_stream_changes_are_recorded_entry_by_entry(make_server):
    """A stream that keeps its version changes by XADD, XDEL, XTRIM and XSETID, as its own
    commands record it; a new one comes whole: its entries, then XSETID of its counters."""
    a, b = make_server(), make_server()
    ra, rb = a.client(), b.client()
    ra.xadd("s", {"f": "1"}, id="1-1")
    ra.xadd("s", {"f": "2", "g": "x"}, id="2-2")
    for i in range(3, 8):
        ra.xadd("s", {"f": i}, id="%d-0" % i)
    ra.xdel("s", "4-0", "9-9")
    ra.xtrim("s", maxlen=3, approximate=False)
    ra.execute_command("XSETID", "s", "50-0", "ENTRIESADDED", "30", "MAXDELETEDID", "40-0")
    ra.execute_command("XADD", "s", "MAXLEN", "0", "60-0", "f", "capped")
    ra.expire("s", 1000)
    ra.persist("s")
    for u in poll_all(ra, 0, "RAW"):
        data = bytes.fromhex(u.decode())
        assert rb.execute_command("APPLYBATCH", data) == len(data)
    got = commands(poll_all(rb, 0, "RESP"))
    assert got[:2] == [[[b"XADD", b"s", b"1-1", b"f", b"1"]], [[b"XADD", b"s", b"2-2", b"f", b"2", b"g", b"x"]]]
    assert got[2:-2] == [[[b"XADD", b"s", b"%d-0" % i, b"f", b"%d" % i]] for i in range(3, 8)] + [
        [[b"XDEL", b"s", b"4-0"]],
        [[b"XTRIM", b"s", b"MINID", b"5-0"]],
        [[b"XSETID", b"s", b"50-0", b"ENTRIESADDED", b"30", b"MAXDELETEDID", b"40-0"]],
        [[b"XTRIM", b"s", b"MAXLEN", b"0"], [b"XSETID", b"s", b"60-0", b"ENTRIESADDED", b"31", b"MAXDELETEDID", b"40-0"]],
    ]
    assert [c[:2] for c in got[-2]] == [[b"PEXPIREAT", b"s"]] and got[-1] == [[b"PERSIST", b"s"]]
    ra.close()
    rb.close()


def test_forged_entry_in_a_stream_there_is_refused(server, r):
    """An entry put into a stream that keeps its version and metadata: the stream would hold
    one more entry than it says; one that replaces an entry is recorded by a rebuild."""
    good = build_batch([put_stream(stream_meta(1, (1, 1))), entry(1, 1)])
    assert r.execute_command("APPLYBATCH", good) == len(good)
    before = seq(r)
    with pytest.raises(redis.ResponseError, match="^APPLYBATCH: stream 'k' would say 1 entries but hold 2$"):
        r.execute_command("APPLYBATCH", build_batch([entry(5, 5)]))
    with pytest.raises(redis.ResponseError, match="^APPLYBATCH: malformed entry of stream 'k'$"):
        r.execute_command("APPLYBATCH", build_batch([entry(1, 1, b"\x03abc")]))
    assert seq(r) == before
    assert r.xrange("k") == [(b"1-1", {b"f": b"v"})]
    replaced = build_batch([entry(1, 1, b"\x01f\x01w")])
    assert r.execute_command("APPLYBATCH", replaced) == len(replaced)
    assert commands(poll(r, before, "FORMAT", "RESP")["updates"]) == [[[b"DEL", b"k"], [b"XADD", b"k", b"1-1", b"f", b"w"]]]


def test_applybatch_of_a_stream_touches_watched_keys(make_server):
    """WATCH on a stream sees APPLYBATCH's write of it, as any command's."""
    src, dst = make_server(), make_server()
    rs, rd = src.client(), dst.client()
    base = seq(rs)
    rs.xadd("s", {"f": "v"}, id="1-1")
    data = bytes.fromhex(poll(rs, base)["updates"][0].decode())
    with dst.conn() as t:
        assert t.call("WATCH", "s") == "OK"
        assert rd.execute_command("APPLYBATCH", data) == len(data)
        t.call("MULTI")
        t.call("XADD", "s", "2-2", "f", "w")
        assert t.call("EXEC") is None
    assert rd.xrange("s") == [(b"1-1", {b"f": b"v"})]
    rs.close()
    rd.close()
