"""APPLYBATCH of streams' consumer groups (README "Change data capture", src/cdc/apply_groups.h):
a random workload of group commands migrates from one tidekv to another batch by batch
(POLLUPDATES FORMAT RAW + APPLYBATCH) to the same XINFO STREAM FULL, and the copy's change
stream replays on redis-server to it too; forged batches that would leave group records that
contradict each other are refused whole, the data unchanged and the server alive."""

import random
import struct

import pytest
import redis

from conftest import soak, tidekv_only
from helpers import NS, subkey
from test_applybatch_rules import SV, assert_refused, entry, hash_meta, put_stream, sid, stream_meta
from test_cdc_helpers import RedisServer, build_batch, poll_all, replay, seq
from test_stream_groups import normalised_full

pytestmark = tidekv_only

CF_GROUP = 8
KEYS = ("s1", "s2", "s3")


# ---------------------------------------------------------------- a workload, migrated

def random_command(rnd, r):
    """One group command (or a MULTI of a few) on a random stream; ids it needs are read first."""
    k = rnd.choice(KEYS[:2])
    g = rnd.choice(["g1", "g2"])
    cons = rnd.choice(["c1", "c2", "c3"])
    op = rnd.randrange(20)

    def pending(n=2):
        try:
            ps = [p["message_id"] for p in r.xpending_range(k, g, "-", "+", 20)]
        except redis.ResponseError:
            return []
        return rnd.sample(ps, min(len(ps), n))

    if op < 4:
        return [("XADD", k, "*", "f", str(rnd.randint(0, 99)))]
    if op == 4:
        return [("XGROUP", "CREATE", k, g, rnd.choice(["$", "0"]), "MKSTREAM")]
    if op < 8:
        return [("XREADGROUP", "GROUP", g, cons, "COUNT", str(rnd.randint(1, 3))) +
                (("NOACK",) if rnd.random() < 0.15 else ()) + ("STREAMS", k, ">")]
    if op == 8:
        return [("XREADGROUP", "GROUP", g, cons, "STREAMS", k, "0")]
    if op == 9:
        return [("XACK", k, g) + tuple(pending()) + ("1-1",)]
    if op == 10:
        return [("XAUTOCLAIM", k, g, cons, "0", "0", "COUNT", str(rnd.randint(1, 3)))]
    if op == 11:
        return [("XCLAIM", k, g, cons, "0") + tuple(pending() or ["1-1"]) +
                rnd.choice([(), ("TIME", "1000", "RETRYCOUNT", "7"), ("IDLE", "5")])]
    if op == 12:
        return [rnd.choice([("XTRIM", k, "MAXLEN", str(rnd.randint(1, 6))), ("XDEL", k) + tuple(pending(1)) + ("1-1",)])]
    if op == 13:
        return [rnd.choice([("XGROUP", "SETID", k, g, "$"), ("XGROUP", "SETID", k, g, "0", "ENTRIESREAD", "0"),
                            ("XGROUP", "CREATECONSUMER", k, g, cons)])]
    if op == 14:
        return [("XGROUP", "DELCONSUMER", k, g, cons)]
    if op == 15:
        return [("XGROUP", "DESTROY", k, g)]
    if op == 16:  # one commit that reads, then removes what it read
        return [("MULTI",), ("XADD", k, "*", "f", "m"), ("XREADGROUP", "GROUP", g, cons, "STREAMS", k, ">"),
                ("XACK", k, g) + tuple(pending(1)) + ("1-1",), ("EXEC",)]
    if op == 17:  # a stream made anew with its groups in one commit: recorded whole
        return [("MULTI",), ("DEL", "s3"), ("XADD", "s3", "*", "f", "1"), ("XADD", "s3", "*", "f", "2"),
                ("XGROUP", "CREATE", "s3", g, "0"), ("XREADGROUP", "GROUP", g, cons, "COUNT", "1", "STREAMS", "s3", ">"),
                ("XGROUP", "CREATECONSUMER", "s3", g, "idle"), ("EXEC",)]
    if op == 18:
        return [("XREADGROUP", "GROUP", g, cons, "COUNT", "1", "STREAMS", "s3", ">")]
    return [("XPENDING", k, g)]


def run(r, cmds):
    if cmds[0][0] == "MULTI":
        pipe = r.pipeline(transaction=True)
        for cmd in cmds[1:-1]:
            pipe.execute_command(*cmd)
        try:
            pipe.execute(raise_on_error=False)
        except redis.ResponseError:
            pass
        return
    try:
        r.execute_command(*cmds[0])
    except redis.ResponseError as e:  # a missing group, a group there already: wrote nothing
        assert any(w in str(e) for w in ("NOGROUP", "BUSYGROUP", "requires the key", "no such key")), (cmds, e)


def migrate(src, dst, pos):
    """Applies every batch of src after pos to dst, one APPLYBATCH each; returns the new position."""
    end = seq(src)
    for u in poll_all(src, pos, "RAW"):
        data = bytes.fromhex(u.decode())
        assert dst.execute_command("APPLYBATCH", data) == len(data)
    return end


def full(cl, key):
    return cl.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0") if cl.exists(key) else None


@pytest.mark.parametrize("steps,seed", [(250, 20261205), pytest.param(3000, 7, marks=soak)], ids=["short", "long"])
def test_group_workload_migrates_and_replays_on_redis(make_server, steps, seed):
    src, dst = make_server(), make_server()
    rs, rd = src.client(), dst.client()
    rnd = random.Random(seed)
    pos, applied = seq(rs), seq(rd)
    for step in range(steps):
        run(rs, random_command(rnd, rs))
        if step % 7 == 0:
            pos = migrate(rs, rd, pos)
    pos = migrate(rs, rd, pos)
    with_groups = 0
    for k in KEYS:
        assert full(rd, k) == full(rs, k), k
        with_groups += bool(full(rs, k) and normalised_full(rs, k)[b"groups"])
    assert with_groups >= 2  # the workload reached groups
    recorded = [c[0] for u in poll_all(rd, applied, "RESP") for c in u["commands"]]
    for name in (b"XCLAIM", b"XACK", b"XGROUP"):
        assert name in recorded
    redis_server = RedisServer().start()
    try:
        with redis_server.conn() as conn:
            assert replay(conn, poll_all(rd, applied, "RESP")) == []
        theirs = redis_server.client()
        for k in KEYS:
            assert normalised_full(theirs, k) == normalised_full(rd, k), k
        theirs.close()
    finally:
        redis_server.stop()
    rs.close()
    rd.close()


def recorded_commands(r, after):
    return [[bytes(a) for a in c] for u in poll_all(r, after, "RESP") for c in u["commands"]]


def test_group_changes_are_recorded_as_the_group_commands_record_them(make_server):
    src, dst = make_server(), make_server()
    rs, rd = src.client(), dst.client()
    for i in range(1, 4):
        rs.execute_command("XADD", "s", "%d-0" % i, "f", str(i))
    rs.execute_command("XGROUP", "CREATE", "s", "g", "0")
    pos = migrate(rs, rd, 0)
    base = seq(rd)
    with src.conn() as c:
        c.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
        assert c.call("XCLAIM", "s", "g", "d", "0", "2-0", "TIME", "1000", "RETRYCOUNT", "7", "JUSTID") == [b"2-0"]
        assert c.call("XACK", "s", "g", "1-0") == 1
        assert c.call("XGROUP", "DELCONSUMER", "s", "g", "d") == 1
        assert c.call("XGROUP", "DESTROY", "s", "g") == 1
    migrate(rs, rd, pos)
    got = recorded_commands(rd, base)
    claims = [c for c in got if c[0] == b"XCLAIM"]
    assert [c[:6] for c in claims] == [[b"XCLAIM", b"s", b"g", b"c", b"0", b"1-0"],
                                       [b"XCLAIM", b"s", b"g", b"c", b"0", b"2-0"],
                                       [b"XCLAIM", b"s", b"g", b"d", b"0", b"2-0"]]
    assert claims[2][6:] == [b"TIME", b"1000", b"RETRYCOUNT", b"7", b"FORCE", b"JUSTID"]
    assert [c for c in got if c[0] != b"XCLAIM"] == [
        [b"XGROUP", b"SETID", b"s", b"g", b"2-0", b"ENTRIESREAD", b"2"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"d"],
        [b"XACK", b"s", b"g", b"1-0"],
        [b"XACK", b"s", b"g", b"2-0"],  # DELCONSUMER drops what d held
        [b"XGROUP", b"DELCONSUMER", b"s", b"g", b"d"],
        [b"XGROUP", b"DESTROY", b"s", b"g"],
    ]
    assert full(rd, "s") == full(rs, "s")
    rs.close()
    rd.close()


def test_a_commit_that_delivers_then_deletes_replays_on_redis(make_server):
    """MULTI of XREADGROUP and XDEL (or XTRIM) of what it delivered: the copy records the
    delivery before the removal, so Redis makes the entry pending while it is still there."""
    src, dst = make_server(), make_server()
    rs, rd = src.client(), dst.client()
    with src.conn() as c:
        for i in range(1, 6):
            c.call("XADD", "s", "%d-0" % i, "f", str(i))
        c.call("XGROUP", "CREATE", "s", "g", "0")
        for cmds in ([("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">"), ("XDEL", "s", "2-0")],
                     [("XREADGROUP", "GROUP", "g", "b", "COUNT", "2", "STREAMS", "s", ">"),
                      ("XTRIM", "s", "MINID", "5-0")],
                     [("XGROUP", "DELCONSUMER", "s", "g", "b"), ("XADD", "s", "6-0", "f", "6"),
                      ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")]):
            c.call("MULTI")
            for cmd in cmds:
                c.call(*cmd)
            assert not any(isinstance(x, Exception) for x in c.call("EXEC"))
    migrate(rs, rd, 0)
    assert full(rd, "s") == full(rs, "s")
    pending = normalised_full(rs, "s")[b"groups"][0][b"pending"]
    # a keeps the entries it was given though they are gone; b, made again, holds the new ones
    assert [p[:2] for p in pending] == [[b"1-0", b"a"], [b"2-0", b"a"], [b"5-0", b"b"], [b"6-0", b"b"]]
    redis_server = RedisServer().start()
    try:
        with redis_server.conn() as conn:
            assert replay(conn, poll_all(rd, 0, "RESP")) == []
        theirs = redis_server.client()
        assert normalised_full(theirs, "s") == normalised_full(rd, "s")
        theirs.close()
    finally:
        redis_server.stop()
    rs.close()
    rd.close()


def test_an_xack_in_a_big_group_is_recorded_as_one(make_server):
    """A batch that removes one pending entry of many is checked by what it changed."""
    src, dst = make_server(), make_server()
    rs, rd = src.client(), dst.client()
    pipe = rs.pipeline(transaction=False)
    for i in range(1, 601):
        pipe.execute_command("XADD", "s", "%d-0" % i, "f", "v")
    pipe.execute()
    rs.execute_command("XGROUP", "CREATE", "s", "g", "0")
    rs.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    pos = migrate(rs, rd, 0)
    base = seq(rd)
    rs.execute_command("XACK", "s", "g", "300-0")
    migrate(rs, rd, pos)
    assert recorded_commands(rd, base) == [[b"XACK", b"s", b"g", b"300-0"]]
    assert full(rd, "s") == full(rs, "s")
    rs.close()
    rd.close()


# ---------------------------------------------------------------- forged batches

def esc(name):
    return name.replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def group_value(last=(2, 0), read=2, pending=1, consumers=1):
    return struct.pack(">QQqQQ", last[0], last[1], read, pending, consumers)


def consumer_value(pending=1, seen=1000):
    return struct.pack(">qQ", seen, pending)


def nack_value(owner=b"c", when=1000, count=1):
    return struct.pack(">qQ", when, count) + owner


def rec(tag, group, consumer=None, id=None, value=b"", key=b"k", version=SV, op="PUT"):
    sub = tag + esc(group) + (esc(consumer) if consumer is not None else b"") + (sid(*id) if id else b"")
    return (op, CF_GROUP, subkey(key, version, sub), value if op == "PUT" else None)


def G(value=None, group=b"g", **kw):
    return rec(b"G", group, value=group_value() if value is None else value, **kw)


def C(consumer=b"c", value=None, group=b"g", **kw):
    return rec(b"C", group, consumer, value=consumer_value() if value is None else value, **kw)


def P(id=(1, 0), value=None, group=b"g", **kw):
    return rec(b"P", group, id=id, value=nack_value() if value is None else value, **kw)


def O(consumer=b"c", id=(1, 0), group=b"g", **kw):  # noqa: E743
    return rec(b"O", group, consumer, id, **kw)


def gone(record):
    return ("DEL", record[1], record[2], None)


def stream_with_group(groups=1):
    """A stream of entries 1-0 and 2-0 whose group g delivered both; c holds 1-0."""
    return [put_stream(stream_meta(2, (2, 0), first=(1, 0), groups=groups)), entry(1, 0), entry(2, 0),
            G(), C(), P(), O()]


def test_a_forged_stream_with_a_group_applies_and_replays(server, r):
    base = seq(r)
    data = build_batch(stream_with_group())
    assert r.execute_command("APPLYBATCH", data) == len(data)
    assert r.xpending("k", "g") == {"pending": 1, "min": b"1-0", "max": b"1-0",
                                    "consumers": [{"name": b"c", "pending": 1}]}
    got = recorded_commands(r, base)
    assert got[-3:] == [[b"XGROUP", b"CREATE", b"k", b"g", b"2-0", b"ENTRIESREAD", b"2"],
                        [b"XGROUP", b"CREATECONSUMER", b"k", b"g", b"c"],
                        [b"XCLAIM", b"k", b"g", b"c", b"0", b"1-0", b"TIME", b"1000", b"RETRYCOUNT", b"1", b"FORCE",
                         b"JUSTID"]]
    redis_server = RedisServer().start()
    try:
        with redis_server.conn() as conn:
            assert replay(conn, poll_all(r, base, "RESP")) == []
        theirs = redis_server.client()
        assert normalised_full(theirs, "k") == normalised_full(r, "k")
        theirs.close()
    finally:
        redis_server.stop()


MALFORMED = "malformed consumer group record of stream 'k'"
PENDING = "the consumer groups of stream 'k' disagree with their records: a group's pending count"
CONSUMERS = "the consumer groups of stream 'k' disagree with their records: a group's consumer count"
OWNED = "the consumer groups of stream 'k' disagree with their records: a consumer's pending count"
OWNER = "the consumer groups of stream 'k' disagree with their records: a pending entry's owner"

# Each changes the stream of stream_with_group() in one way the server cannot take.
FORGED_CHANGES = {
    "group-short": ([G(group_value()[:-1])], MALFORMED),
    "group-entries-read-below-minus-1": ([G(group_value(read=-2))], MALFORMED),
    "consumer-seen-before-1970": ([C(value=consumer_value(seen=-1))], MALFORMED),
    "consumer-long": ([C(value=consumer_value() + b"x")], MALFORMED),
    "nack-short": ([P(value=b"\x00" * 15)], MALFORMED),
    "nack-delivered-before-1970": ([P(value=nack_value(when=-1))], MALFORMED),
    "nack-count-over-int64": ([P(value=nack_value(count=2 ** 63))], MALFORMED),
    "nack-id-0-0": ([P(id=(0, 0)), O(id=(0, 0)), C(value=consumer_value(2)), G(group_value(pending=2))], MALFORMED),
    "owned-with-a-value": ([O(value=b"x")], MALFORMED),
    "unknown-tag": ([(("PUT", CF_GROUP, subkey(b"k", SV, b"X" + esc(b"g")), b""))], MALFORMED),
    "name-without-end": ([(("PUT", CF_GROUP, subkey(b"k", SV, b"G" + b"g\x00"), group_value()))], MALFORMED),
    "name-bad-escape": ([(("PUT", CF_GROUP, subkey(b"k", SV, b"G" + b"g\x00\x07\x00\x01"), group_value()))],
                        MALFORMED),
    "nack-without-count": ([P(id=(2, 0)), O(id=(2, 0)), C(value=consumer_value(2))], PENDING),
    "nack-without-owned": ([P(id=(2, 0)), G(group_value(pending=2))], OWNER),
    "nack-of-no-consumer": ([P(id=(2, 0), value=nack_value(b"x")), O(b"x", (2, 0)), G(group_value(pending=2))],
                            OWNED),
    "owned-without-consumer-count": ([P(id=(2, 0)), O(id=(2, 0)), G(group_value(pending=2))], OWNED),
    "owned-alone": ([O(id=(2, 0)), C(value=consumer_value(2))], OWNER),
    "nack-owner-moved-alone": ([P(value=nack_value(b"d")), C(b"d", consumer_value(0)),
                                G(group_value(consumers=2))], OWNER),
    "nack-removed-alone": ([gone(P()), G(group_value(pending=0))], OWNER),
    "consumer-removed-with-its-entries-held": ([gone(C()), G(group_value(consumers=0))], OWNED),
    "consumer-without-count": ([C(b"d", consumer_value(0))], CONSUMERS),
    "consumer-count-alone": ([C(value=consumer_value(5))], OWNED),
    "group-without-stream-count": ([G(group_value(pending=0, consumers=0), group=b"h")],
                                   "stream 'k' would say 1 consumer groups but hold 2"),
    "stream-count-without-group": ([put_stream(stream_meta(2, (2, 0), first=(1, 0), groups=2))],
                                   "stream 'k' would say 2 consumer groups but hold 1"),
    "group-destroyed-alone": ([gone(G()), put_stream(stream_meta(2, (2, 0), first=(1, 0), groups=0))], CONSUMERS),
    "records-of-no-group": ([C(b"x", consumer_value(0), group=b"h")], CONSUMERS),
    "group-counts-lie": ([G(group_value(pending=7))], PENDING),
    "records-under-a-hash": ([("PUT", 1, NS + b"h", hash_meta(SV, 1)), ("PUT", 0, subkey(b"h", SV, b"f"), b"v"),
                              C(b"d", consumer_value(0), key=b"h")],
                             "consumer group records under key 'h', which is no stream"),
    "retyped-at-its-version": ([("PUT", 1, NS + b"k", hash_meta(SV, 1)), ("PUT", 0, subkey(b"k", SV, b"f"), b"v")],
                               "stream 'k' has consumer groups, which a key of another type would leave behind"),
}


@pytest.mark.parametrize("name", sorted(FORGED_CHANGES))
def test_forged_group_changes_are_refused(server, r, name):
    records, message = FORGED_CHANGES[name]
    good = build_batch(stream_with_group())
    assert r.execute_command("APPLYBATCH", good) == len(good)
    before, base = full(r, "k"), seq(r)
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command("APPLYBATCH", build_batch(records))
    assert str(ei.value) == "APPLYBATCH: " + message
    assert seq(r) == base and full(r, "k") == before and not r.exists("h")
    assert r.ping()


# Streams made by the batch (checked by walking every record): one thing wrong each.
FORGED_STREAMS = {
    "more-groups-said": ([put_stream(stream_meta(1, (1, 0), groups=2)), entry(1, 0), G(group_value((1, 0), 1, 0, 0))],
                         "stream 'k' would say 2 consumer groups but hold 1"),
    "pending-said-none-held": ([put_stream(stream_meta(1, (1, 0), groups=1)), entry(1, 0),
                                G(group_value((1, 0), 1, 1, 0))], PENDING),
    "consumer-of-no-group": ([put_stream(stream_meta(1, (1, 0), groups=0)), entry(1, 0), C(value=consumer_value(0))],
                             "the consumer groups of stream 'k' disagree with their records: a record of no group"),
    "owned-of-no-consumer": ([put_stream(stream_meta(1, (1, 0), groups=1)), entry(1, 0),
                              G(group_value((1, 0), 1, 1, 0)), P(), O()],
                             "the consumer groups of stream 'k' disagree with their records: "
                             "a pending entry of no consumer"),
    "nack-without-owned": ([put_stream(stream_meta(1, (1, 0), groups=1)), entry(1, 0),
                            G(group_value((1, 0), 1, 1, 1)), C(value=consumer_value(0)), P()], OWNER),
    "owned-of-another": ([put_stream(stream_meta(1, (1, 0), groups=1)), entry(1, 0), G(group_value((1, 0), 1, 1, 2)),
                          C(value=consumer_value(0)), C(b"d", consumer_value(1)), P(), O(b"d")], OWNER),
    "consumer-counts-more": ([put_stream(stream_meta(1, (1, 0), groups=1)), entry(1, 0),
                              G(group_value((1, 0), 1, 1, 1)), C(value=consumer_value(2)), P(), O()], OWNED),
    "group-counts-huge": ([put_stream(stream_meta(1, (1, 0), groups=2)), entry(1, 0),
                           G(group_value((1, 0), 1, 2 ** 63, 0)), G(group_value((1, 0), 1, 2 ** 63, 0), group=b"h")],
                          "the consumer groups of stream 'k' disagree with their records: a group's counts"),
}


@pytest.mark.parametrize("name", sorted(FORGED_STREAMS))
def test_forged_streams_with_groups_are_refused(server, r, name):
    assert_refused(r, *FORGED_STREAMS[name])
    assert r.ping()


def test_a_forged_change_that_keeps_the_groups_true_applies(server, r):
    """An XACK written by hand: the pending entry, its owner's record, both counts."""
    good = build_batch(stream_with_group())
    assert r.execute_command("APPLYBATCH", good) == len(good)
    base = seq(r)
    ack = build_batch([gone(P()), gone(O()), C(value=consumer_value(0)), G(group_value(pending=0))])
    assert r.execute_command("APPLYBATCH", ack) == len(ack)
    assert recorded_commands(r, base) == [[b"XACK", b"k", b"g", b"1-0"]]
    assert r.xpending("k", "g")["pending"] == 0
