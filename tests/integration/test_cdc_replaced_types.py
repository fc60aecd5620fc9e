"""A write that replaces a key of another type (README "Change data capture", TYPE): the change
stream holds a DEL of the key typed with its old type just before the write, so a consumer that
filters POLLUPDATES by the old type sees the key go, one that filters by the new type sees the
write, and the unfiltered stream replays on redis-server to the same data.

Each case checks, against a redis-server mirror, that replaying everything gives tidekv's data
and that replaying the TYPE t stream gives exactly tidekv's keys of type t, for the old and the
new type."""

import pytest

from conftest import RespError, tidekv_only
from test_cdc_helpers import RedisServer, poll_all, replay, seq
from test_replication import start_pair, wait_synced

pytestmark = tidekv_only

TYPES = ["string", "hash", "list", "set", "zset", "stream"]

# Commands making `key` a key of each type.
MAKE = {
    "string": lambda key: [("SET", key, "old")],
    "hash": lambda key: [("HSET", key, "f", "v", "g", "w")],
    "list": lambda key: [("RPUSH", key, "a", "b")],
    "set": lambda key: [("SADD", key, "m", "n")],
    "zset": lambda key: [("ZADD", key, "1", "m", "2", "n")],
    "stream": lambda key: [("XADD", key, "1-1", "f", "v")],
}

# Writes of a string over k, and what they answer.
STRING_WRITES = [
    (("SET", "k", "x"), "OK"),
    (("SET", "k", "x", "XX"), "OK"),
    (("SET", "k", "x", "PX", "500000"), "OK"),
    (("SET", "k", "x", "KEEPTTL"), "OK"),
    (("SETEX", "k", "500", "x"), "OK"),
    (("PSETEX", "k", "500000", "x"), "OK"),
    (("MSET", "a", "1", "k", "x", "b", "2"), "OK"),
]

# Writes of another key's type over k (the source key "src" is made first), what they answer and
# how they are recorded.
OTHER_WRITES = [
    (("RENAME", "src", "k"), "OK", ("RENAME", "src", "k")),
    (("COPY", "src", "k", "REPLACE"), 1, ("COPY", "src", "k", "DB", "0", "REPLACE")),
]

# The STORE commands, which recorded the destination's DEL already: (source type, command, new type).
STORES = [
    ("set", ("SUNIONSTORE", "k", "src"), "set"),
    ("zset", ("ZUNIONSTORE", "k", "1", "src"), "zset"),
    ("list", ("SORT", "src", "ALPHA", "STORE", "k"), "list"),
]


@pytest.fixture(scope="module")
def mirror():
    """One redis-server for the module, emptied by each use."""
    rs = RedisServer()
    rs.start()
    yield rs
    rs.stop()


def contents(c, dbs=(0, 1)):
    """{(db, key): (type, value, has a TTL)} of every key of the databases, on a RespConn."""
    out = {}
    read = {"string": ("GET",), "hash": ("HGETALL",), "list": ("LRANGE", 0, -1), "set": ("SMEMBERS",),
            "zset": ("ZRANGE", 0, -1, "WITHSCORES"), "stream": ("XRANGE", "-", "+")}
    for db in dbs:
        c.call("SELECT", db)
        for key in c.call("KEYS", "*"):
            t = c.call("TYPE", key)
            t = t.decode() if isinstance(t, bytes) else str(t)
            value = c.call(read[t][0], key, *read[t][1:])
            if t in ("hash", "set"):
                value = sorted(value) if t == "set" else sorted(zip(value[::2], value[1::2]))
            out[(db, key)] = (t, value, c.call("PTTL", key) > 0)
    c.call("SELECT", 0)
    return out


def replayed(r, mirror, start, *flt):
    """What redis-server holds after the (filtered) change stream from start, where tidekv was
    empty, is replayed on it."""
    with mirror.conn() as m:
        m.call("FLUSHALL")
        assert replay(m, poll_all(r, start, "RESP", extra=flt)) == []
        return contents(m)


def assert_mirrors_agree(server, r, mirror, start, types):
    """The whole stream replays to tidekv's data, and each TYPE t stream to its keys of type t."""
    with server.conn() as c:
        data = contents(c)
    assert replayed(r, mirror, start) == data
    for t in types:
        assert replayed(r, mirror, start, "TYPE", t) == {k: v for k, v in data.items() if v[0] == t}, t


def commands_after(r, base, *flt):
    """The commands of every batch after base, with the batch's database: [(db, command), …]."""
    return [(u["db"], cmd) for u in poll_all(r, base, "RESP", extra=flt) for cmd in u["commands"]]


def run_all(c, commands):
    for cmd in commands:
        assert not isinstance(c.call(*cmd), RespError), cmd


def old_key_with_ttl(c, old):
    run_all(c, MAKE[old]("k") + [("PEXPIRE", "k", "900000")])


@pytest.mark.parametrize("old", TYPES)
@pytest.mark.parametrize("write,reply", STRING_WRITES, ids=[" ".join(w[0][:1] + w[0][3:]) for w in STRING_WRITES])
def test_a_string_written_over_a_key(server, r, mirror, old, write, reply):
    start = seq(r)
    with server.conn() as c:
        old_key_with_ttl(c, old)
        base = seq(r)
        assert c.call(*write) == reply
    del_k = [(0, [b"DEL", b"k"])]
    if old != "string":
        assert commands_after(r, base, "TYPE", old) == del_k
        assert del_k[0] not in commands_after(r, base, "TYPE", "string")
        assert commands_after(r, base)[0] == del_k[0]  # just before the write
    else:
        assert del_k[0] not in commands_after(r, base)
    assert len(commands_after(r, base, "TYPE", "string")) >= 1
    assert_mirrors_agree(server, r, mirror, start, {old, "string"})


@pytest.mark.parametrize("old", TYPES)
@pytest.mark.parametrize("new", TYPES)
@pytest.mark.parametrize("write,reply,recorded", OTHER_WRITES, ids=["RENAME", "COPY"])
def test_a_key_renamed_or_copied_over_a_key(server, r, mirror, old, new, write, reply, recorded):
    start = seq(r)
    with server.conn() as c:
        old_key_with_ttl(c, old)
        run_all(c, MAKE[new]("src"))
        base = seq(r)
        assert c.call(*write) == reply
    written = [(0, [w.encode() for w in recorded])]
    if old != new:
        assert commands_after(r, base, "TYPE", old) == [(0, [b"DEL", b"k"])]
        assert commands_after(r, base, "TYPE", new) == written
    else:
        assert commands_after(r, base) == written
    assert_mirrors_agree(server, r, mirror, start, {old, new})


@pytest.mark.parametrize("old", TYPES)
def test_a_copy_into_another_database_deletes_there(server, r, mirror, old):
    start = seq(r)
    with server.conn() as c:
        c.call("SELECT", 1)
        old_key_with_ttl(c, old)
        c.call("SELECT", 0)
        run_all(c, [("SET", "src", "x")])
        base = seq(r)
        assert c.call("COPY", "src", "k", "DB", "1", "REPLACE") == 1
    if old != "string":
        assert commands_after(r, base, "TYPE", old) == [(1, [b"DEL", b"k"])]
        assert commands_after(r, base, "TYPE", old, "DB", 1) == [(1, [b"DEL", b"k"])]
        assert commands_after(r, base, "TYPE", old, "DB", 0) == []
    assert commands_after(r, base, "TYPE", "string") == [(0, [b"COPY", b"src", b"k", b"DB", b"1", b"REPLACE"])]
    assert_mirrors_agree(server, r, mirror, start, {old, "string"})


@pytest.mark.parametrize("old", TYPES)
@pytest.mark.parametrize("source,write,new", STORES, ids=[s[1][0] for s in STORES])
def test_a_store_deletes_its_destination_once(server, r, mirror, old, source, write, new):
    start = seq(r)
    with server.conn() as c:
        old_key_with_ttl(c, old)
        run_all(c, MAKE[source]("src"))
        base = seq(r)
        assert c.call(*write) == 2
    dels = [cmd for _, cmd in commands_after(r, base) if cmd == [b"DEL", b"k"]]
    assert len(dels) == 1
    assert commands_after(r, base, "TYPE", old)[0] == (0, [b"DEL", b"k"])
    assert_mirrors_agree(server, r, mirror, start, {old, new})


@pytest.mark.parametrize("old", [t for t in TYPES if t != "string"])
@pytest.mark.parametrize("write", [("GETSET", "k", "x"), ("SET", "k", "x", "GET"), ("SET", "k", "x", "NX")],
                         ids=["GETSET", "SET GET", "SET NX"])
def test_a_write_that_does_not_replace_records_nothing(server, r, old, write):
    with server.conn() as c:
        run_all(c, MAKE[old]("k"))
        base = seq(r)
        reply = c.call(*write)
        assert reply is None or reply.startswith("WRONGTYPE")
        assert c.call("TYPE", "k") == old
    assert seq(r) == base


def test_a_transaction_deletes_before_each_command_that_replaces(server, r, mirror):
    """Inside one commit the DEL goes where its command begins: after the commands before it,
    which may have made the key it replaces; in the database the key is in."""
    start = seq(r)
    with server.conn() as c:
        run_all(c, [("HSET", "h", "f", "v"), ("SELECT", 1), ("RPUSH", "l", "a"), ("SELECT", 0)])
        base = seq(r)
        assert c.call("MULTI") == "OK"
        for cmd in [("SET", "h", "x"), ("HSET", "h2", "f", "v"), ("RENAME", "h2", "h"), ("SET", "h", "y"),
                    ("SELECT", 1), ("SET", "l", "z"), ("SELECT", 0), ("SET", "plain", "1")]:
            assert c.call(*cmd) == "QUEUED"
        assert len(c.call("EXEC")) == 8
    (update,) = poll_all(r, base, "RESP")
    assert update["commands"] == [
        [b"DEL", b"h"], [b"SET", b"h", b"x"], [b"HSET", b"h2", b"f", b"v"],
        [b"DEL", b"h"], [b"RENAME", b"h2", b"h"], [b"DEL", b"h"], [b"SET", b"h", b"y"],
        [b"SELECT", b"1"], [b"DEL", b"l"], [b"SET", b"l", b"z"], [b"SELECT", b"0"], [b"SET", b"plain", b"1"]]
    assert commands_after(r, base, "TYPE", "hash") == [
        (0, [b"DEL", b"h"]), (0, [b"HSET", b"h2", b"f", b"v"]), (0, [b"RENAME", b"h2", b"h"]), (0, [b"DEL", b"h"])]
    assert commands_after(r, base, "TYPE", "list") == [(1, [b"DEL", b"l"])]
    assert_mirrors_agree(server, r, mirror, start, {"string", "hash", "list"})


def test_a_script_deletes_before_its_call_that_replaces(server, r, mirror):
    script = "redis.call('HSET', KEYS[1], 'f', 'v') redis.call('SET', KEYS[1], 'x') " \
             "redis.call('ZADD', KEYS[2], 1, 'm') redis.call('SET', KEYS[2], 'y') return 1"
    start = base = seq(r)
    assert r.eval(script, 2, "h", "z") == 1
    assert commands_after(r, base) == [
        (0, [b"HSET", b"h", b"f", b"v"]), (0, [b"DEL", b"h"]), (0, [b"SET", b"h", b"x"]),
        (0, [b"ZADD", b"z", b"1", b"m"]), (0, [b"DEL", b"z"]), (0, [b"SET", b"z", b"y"])]
    assert commands_after(r, base, "TYPE", "hash") == [(0, [b"HSET", b"h", b"f", b"v"]), (0, [b"DEL", b"h"])]
    assert_mirrors_agree(server, r, mirror, start, {"string", "hash", "zset"})


def test_pipelined_writes_over_every_type(server, r, mirror):
    """A pipeline is one write of many commits (a write group): each gets its own DEL."""
    start = seq(r)
    with server.conn() as c:
        for t in TYPES:
            run_all(c, MAKE[t]("k" + t))
        base = seq(r)
        c.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%s\r\n$1\r\nx\r\n" % (len(t) + 1, t.encode()) for t in TYPES))
        assert [c.read_reply() for _ in TYPES] == ["OK"] * len(TYPES)
    updates = poll_all(r, base, "RESP")
    assert len(updates) == len(TYPES)
    for t, u in zip(TYPES, updates):
        key = b"k" + t.encode()
        assert u["commands"] == ([[b"DEL", key]] if t != "string" else []) + [[b"SET", key, b"x"]]
    assert_mirrors_agree(server, r, mirror, start, TYPES)


def test_big_values_written_over_other_types(server, r, mirror):
    """Values of 256 bytes or more are recorded as references to the write that stores them: the
    DEL put before their command leaves them naming the right bytes."""
    start = seq(r)
    small, big = b"s" * 300, b"b" * 40000  # big: over the 16 kB of a big record too
    with server.conn() as c:
        run_all(c, [("HSET", "h", "f", "v"), ("RPUSH", "l", "a"), ("SADD", "s", "m")])
        base = seq(r)
        assert c.call("SET", "h", big) == "OK"
        assert c.call("MULTI") == "OK"
        for cmd in [("SET", "l", small), ("SET", "plain", small), ("SET", "s", big)]:
            assert c.call(*cmd) == "QUEUED"
        assert c.call("EXEC") == ["OK"] * 3
    assert [cmd for _, cmd in commands_after(r, base)] == [
        [b"DEL", b"h"], [b"SET", b"h", big],
        [b"DEL", b"l"], [b"SET", b"l", small], [b"SET", b"plain", small], [b"DEL", b"s"], [b"SET", b"s", big]]
    assert_mirrors_agree(server, r, mirror, start, {"string", "hash", "list", "set"})


def test_applybatch_tells_a_string_over_another_type(server, r, make_server):
    """APPLYBATCH describes each key from its state before and after: a string over a hash is
    a DEL typed hash, then the SET."""
    source = make_server()
    source.client().set("k", "x")
    raw = source.client().execute_command("POLLUPDATES", 0, "FORMAT", "RAW")
    batch = bytes.fromhex(dict(zip(raw[::2], raw[1::2]))[b"updates"][-1].decode())
    r.hset("k", "f", "v")
    base = seq(r)
    r.execute_command("APPLYBATCH", batch)
    assert commands_after(r, base, "TYPE", "hash") == [(0, [b"DEL", b"k"])]
    assert commands_after(r, base) == [(0, [b"DEL", b"k"]), (0, [b"SET", b"k", b"x"])]


def test_a_replica_shows_the_masters_deletes(make_server):
    master, replica = start_pair(make_server)
    m = master.client()
    for t in TYPES:
        for cmd in MAKE[t]("k" + t):
            m.execute_command(*cmd)
    for t in TYPES:
        m.set("k" + t, "x")
    m.eval("redis.call('HSET', 'h', 'f', 'v') redis.call('SET', 'h', 'x')", 0)
    wait_synced(master, replica)
    for flt in [(), ("TYPE", "hash"), ("TYPE", "stream")]:
        want = poll_all(m, 0, "RESP", extra=flt)
        assert want and poll_all(replica.client(), 0, "RESP", extra=flt) == want
    assert [cmd for u in poll_all(m, 0, "RESP", extra=("TYPE", "hash")) for cmd in u["commands"]][-3:] == [
        [b"DEL", b"khash"], [b"HSET", b"h", b"f", b"v"], [b"DEL", b"h"]]
