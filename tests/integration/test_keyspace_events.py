"""Keyspace notifications (notify-keyspace-events): Redis's event names, classes and channels.

Every expectation here also holds against redis-server (TIDEKV_TEST_TARGET=redis): the event
lists were checked there. A subscriber takes the events of a command list up to a marker write,
so no test waits on a timer."""

import threading
import time

import pytest

MARKER = "kse:end"


class Events:
    """A subscriber to every keyevent channel of every database."""

    def __init__(self, server, flags="KEA", pattern="__keyevent@*__:*"):
        self.admin = server.client(decode_responses=True)
        self.admin.set(MARKER, "1")  # before any event: with n on, a marker write is one event
        self.admin.config_set("notify-keyspace-events", flags)
        self.sub = server.client(decode_responses=True).pubsub()
        self.sub.psubscribe(pattern)
        first = self.sub.get_message(timeout=5)
        assert first and first["type"] == "psubscribe"

    def take(self, marker=("SET", MARKER, "1"), timeout=5):
        """Events up to the marker write (by default SET kse:end in db 0: its class must be
        enabled), as (db, event, key) or, for keyspace channels, (db, key, event)."""
        self.admin.execute_command(*marker)
        out, deadline = [], time.time() + timeout
        while time.time() < deadline:
            m = self.sub.get_message(timeout=0.5)
            if not m or m["type"] != "pmessage":
                continue
            kind, _, rest = m["channel"].partition("@")
            db, _, name = rest.partition("__:")
            if name.startswith(MARKER) or m["data"].startswith(MARKER):
                return out
            out.append((int(db), name, m["data"]))
        raise AssertionError("no marker event; got %r" % out)

    def close(self):
        self.sub.close()
        self.admin.config_set("notify-keyspace-events", "")
        self.admin.close()


@pytest.fixture
def events(server):
    e = Events(server)
    yield e
    e.close()


def run(r, *commands):
    for c in commands:
        r.execute_command(*c)


def names(evs):
    return [(event, key) for _, event, key in evs]


CASES = {
    "set": ([("SET", "k", "v")], [("set", "k")]),
    "set_ex": ([("SET", "k", "v", "EX", "100")], [("set", "k"), ("expire", "k")]),
    "set_keepttl": ([("SET", "k", "v", "EX", "100"), ("SET", "k", "w", "KEEPTTL")],
                    [("set", "k"), ("expire", "k"), ("set", "k")]),
    "set_nx_not_applied": ([("SET", "k", "v"), ("SET", "k", "w", "NX"), ("SETNX", "k", "x")], [("set", "k")]),
    "setex": ([("SETEX", "k", "100", "v"), ("PSETEX", "p", "100000", "v")],
              [("set", "k"), ("expire", "k"), ("set", "p"), ("expire", "p")]),
    "getset": ([("GETSET", "k", "v")], [("set", "k")]),
    "mset": ([("MSET", "a", "1", "b", "2"), ("MSETNX", "a", "3", "c", "4"), ("MSETNX", "c", "5", "d", "6")],
             [("set", "a"), ("set", "b"), ("set", "c"), ("set", "d")]),
    "incr": ([("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", "5"), ("DECRBY", "n", "2"), ("INCRBYFLOAT", "n", "1.5")],
             [("incrby", "n")] * 4 + [("incrbyfloat", "n")]),
    "edits": ([("APPEND", "s", "ab"), ("SETRANGE", "s", "1", "xy"), ("SETBIT", "b", "7", "1")],
              [("append", "s"), ("setrange", "s"), ("setbit", "b")]),
    "getdel_getex": ([("SET", "k", "v"), ("GETEX", "k", "EX", "100"), ("GETEX", "k", "PERSIST"), ("GETEX", "k"),
                      ("GETDEL", "k"), ("GETDEL", "k")],
                     [("set", "k"), ("expire", "k"), ("persist", "k"), ("del", "k")]),
    "del": ([("SET", "a", "1"), ("SET", "b", "2"), ("DEL", "a", "missing", "b"), ("UNLINK", "a")],
            [("set", "a"), ("set", "b"), ("del", "a"), ("del", "b")]),
    "expire": ([("SET", "k", "v"), ("EXPIRE", "k", "100"), ("PEXPIRE", "k", "100000", "XX"), ("EXPIRE", "k", "5", "GT"),
                ("PERSIST", "k"), ("PERSIST", "k"), ("EXPIRE", "k", "-1"), ("EXPIRE", "k", "10")],
               [("set", "k"), ("expire", "k"), ("expire", "k"), ("persist", "k"), ("del", "k")]),
    "rename_copy": ([("SET", "a", "v"), ("RENAME", "a", "b"), ("RENAMENX", "b", "c"), ("COPY", "c", "d"),
                     ("COPY", "c", "d")],
                    [("set", "a"), ("rename_from", "a"), ("rename_to", "b"), ("rename_from", "b"),
                     ("rename_to", "c"), ("copy_to", "d")]),
    "lists": ([("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "z"), ("LPUSHX", "nol", "x"), ("LSET", "l", "0", "y"),
               ("LINSERT", "l", "BEFORE", "a", "q"), ("LINSERT", "l", "BEFORE", "nope", "q"), ("LREM", "l", "0", "q"),
               ("LTRIM", "l", "0", "1"), ("LPOP", "l"), ("RPOP", "l")],
              [("rpush", "l"), ("lpush", "l"), ("lset", "l"), ("linsert", "l"), ("lrem", "l"), ("ltrim", "l"),
               ("lpop", "l"), ("rpop", "l"), ("del", "l")]),
    "list_pop_count": ([("RPUSH", "l", "a", "b"), ("LPOP", "l", "5")], [("rpush", "l"), ("lpop", "l"), ("del", "l")]),
    "ltrim_empties": ([("RPUSH", "l", "a"), ("LTRIM", "l", "5", "10")], [("rpush", "l"), ("ltrim", "l"), ("del", "l")]),
    "lmove": ([("RPUSH", "src", "a"), ("LMOVE", "src", "dst", "LEFT", "RIGHT"), ("RPOPLPUSH", "dst", "dst")],
              [("rpush", "src"), ("rpush", "dst"), ("lpop", "src"), ("del", "src"), ("lpush", "dst"),
               ("rpop", "dst")]),
    "lmpop": ([("RPUSH", "l", "a", "b"), ("LMPOP", "2", "none", "l", "RIGHT", "COUNT", "1")],
              [("rpush", "l"), ("rpop", "l")]),
    "sort_store": ([("RPUSH", "l", "3", "1"), ("SORT", "l", "STORE", "out"), ("SORT", "nothing", "STORE", "out"),
                    ("SORT", "nothing", "STORE", "out")],
                   [("rpush", "l"), ("sortstore", "out"), ("del", "out")]),
    "hashes": ([("HSET", "h", "f", "1", "g", "2"), ("HSET", "h", "f", "1"), ("HSETNX", "h", "f", "x"),
                ("HSETNX", "h", "n", "x"), ("HMSET", "h", "m", "1"), ("HINCRBY", "h", "f", "2"),
                ("HINCRBYFLOAT", "h", "f", "0.5"), ("HDEL", "h", "nope"), ("HDEL", "h", "f", "g", "n"),
                ("HDEL", "h", "m")],
               [("hset", "h"), ("hset", "h"), ("hset", "h"), ("hset", "h"), ("hincrby", "h"), ("hincrbyfloat", "h"),
                ("hdel", "h"), ("hdel", "h"), ("del", "h")]),
    "sets": ([("SADD", "s", "a", "b"), ("SADD", "s", "a"), ("SREM", "s", "nope"), ("SREM", "s", "a"),
              ("SMOVE", "s", "t", "b"), ("SADD", "u", "b"), ("SMOVE", "t", "u", "b"), ("SPOP", "u")],
             [("sadd", "s"), ("srem", "s"), ("srem", "s"), ("del", "s"), ("sadd", "t"), ("sadd", "u"),
              ("srem", "t"), ("del", "t"), ("spop", "u"), ("del", "u")]),
    "set_stores": ([("SADD", "a", "1", "2"), ("SADD", "b", "2"), ("SINTERSTORE", "i", "a", "b"),
                    ("SUNIONSTORE", "un", "a", "b"), ("SDIFFSTORE", "d", "a", "b"), ("SDIFFSTORE", "i", "b", "a"),
                    ("SDIFFSTORE", "none", "b", "a")],
                   [("sadd", "a"), ("sadd", "b"), ("sinterstore", "i"), ("sunionstore", "un"), ("sdiffstore", "d"),
                    ("del", "i")]),
    "zsets": ([("ZADD", "z", "1", "a", "2", "b"), ("ZADD", "z", "1", "a"), ("ZADD", "z", "5", "a"),
               ("ZINCRBY", "z", "1", "a"), ("ZADD", "z", "INCR", "1", "b"), ("ZADD", "z", "XX", "INCR", "1", "c"),
               ("ZREM", "z", "nope"), ("ZREM", "z", "a"), ("ZPOPMIN", "z")],
              [("zadd", "z"), ("zadd", "z"), ("zincr", "z"), ("zincr", "z"), ("zrem", "z"), ("zpopmin", "z"),
               ("del", "z")]),
    "zset_ranges": ([("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("ZREMRANGEBYSCORE", "z", "9", "10"),
                     ("ZREMRANGEBYSCORE", "z", "1", "1"), ("ZREMRANGEBYRANK", "z", "0", "0"),
                     ("ZREMRANGEBYLEX", "z", "-", "+"), ("ZPOPMAX", "z")],
                    [("zadd", "z"), ("zremrangebyscore", "z"), ("zremrangebyrank", "z"), ("zremrangebylex", "z"),
                     ("del", "z")]),
    "zset_stores": ([("ZADD", "a", "1", "x"), ("ZADD", "b", "2", "x"), ("ZUNIONSTORE", "u", "2", "a", "b"),
                     ("ZINTERSTORE", "i", "2", "a", "b"), ("ZDIFFSTORE", "d", "1", "a"),
                     ("ZRANGESTORE", "r", "a", "0", "-1"), ("ZDIFFSTORE", "u", "2", "a", "b")],
                    [("zadd", "a"), ("zadd", "b"), ("zunionstore", "u"), ("zinterstore", "i"), ("zdiffstore", "d"),
                     ("zrangestore", "r"), ("del", "u")]),
    "bzpop_served_at_once": ([("ZADD", "z", "1", "a"), ("BZPOPMIN", "z", "1")], [("zadd", "z"), ("zpopmin", "z"),
                                                                                ("del", "z")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_events_of_each_command(r, events, case):
    commands, expected = CASES[case]
    run(r, *commands)
    assert names(events.take()) == expected


def test_keyspace_channel_gets_the_event_name(server, r):
    e = Events(server, flags="KEA", pattern="__keyspace@0__:*")
    try:
        r.set("k", "v")
        r.lpush("l", "x")
        assert e.take() == [(0, "k", "set"), (0, "l", "lpush")]
    finally:
        e.close()


def test_classes_select_the_events(server, r):
    e = Events(server, flags="E$")  # string events only, on keyevent channels
    try:
        run(r, ("SET", "k", "v", "EX", "100"), ("LPUSH", "l", "x"), ("DEL", "k"))
        assert names(e.take()) == [("set", "k")]
        e.admin.config_set("notify-keyspace-events", "Egl")
        run(r, ("SET", "k", "v", "EX", "100"), ("LPUSH", "l", "x"), ("DEL", "k"))
        assert names(e.take(marker=("RPUSH", MARKER + ":list", "1"))) == [("expire", "k"), ("lpush", "l"), ("del", "k")]
    finally:
        e.close()


def test_no_k_or_e_means_no_events(server, r):
    e = Events(server, flags="A")  # classes without K or E: nothing is published
    try:
        r.set("k", "v")
        e.admin.config_set("notify-keyspace-events", "E$")  # the marker itself needs E
        assert e.take() == []
    finally:
        e.close()


def test_events_carry_the_database(r, events):
    r.execute_command("SELECT", "3")
    r.set("k", "v")
    r.execute_command("SELECT", "0")
    assert events.take() == [(3, "set", "k")]


def test_multi_failed_command_leaves_no_event(r, events):
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.lpush("a", "x")  # WRONGTYPE inside EXEC: it changes nothing
    p.hset("h", "f", "v")
    p.execute(raise_on_error=False)
    assert names(events.take()) == [("set", "a"), ("hset", "h")]


def test_discarded_multi_notifies_nothing(r, events):
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.reset()
    assert events.take() == []


def test_expired_key_read_notifies_expired(r, events):
    r.set("k", "v", px=30)
    time.sleep(0.1)
    assert r.get("k") is None
    assert names(events.take()) == [("set", "k"), ("expire", "k"), ("expired", "k")]


def test_events_reach_subscribers_on_other_connections_concurrently(server, r, events):
    """Writers on several connections (several workers); each writer's events arrive in its order."""
    def writer(i):
        c = server.client(decode_responses=True)
        for j in range(50):
            c.rpush("w%d" % i, j)
        c.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = names(events.take())
    for i in range(4):
        assert [e for e in got if e[1] == "w%d" % i] == [("rpush", "w%d" % i)] * 50


def _frames(conn, n):
    """The next n replies and pushes of a raw connection, split into (replies, pushes)."""
    from conftest import Push

    replies, pushes = [], []
    for _ in range(n):
        f = conn.read_reply()
        (pushes if isinstance(f, Push) else replies).append(f)
    return replies, pushes


def test_resp3_subscriber_gets_events_of_its_own_pipelined_writes(server, r):
    """The subscriber's own writes run in a write group; their events are published at its
    commit, to a client whose replies wait in that very group (held until they are final)."""
    from conftest import encode_command

    r.config_set("notify-keyspace-events", "KEA")
    try:
        with server.conn() as c:
            c.call("HELLO", "3")
            assert c.call("PSUBSCRIBE", "__keyevent@0__:*")[0] == b"psubscribe"
            c.send(b"".join(encode_command("SET", "own%d" % i, "v") for i in range(20)))
            replies, pushes = _frames(c, 40)
            assert replies == ["OK"] * 20
            assert [(p[0], p[2], p[3]) for p in pushes] == [
                (b"pmessage", b"__keyevent@0__:set", b"own%d" % i) for i in range(20)]
            assert c.call("PING") == "PONG"
    finally:
        r.config_set("notify-keyspace-events", "")


def test_script_publish_to_a_resp3_subscriber_in_the_same_pass(server, r):
    """A script's PUBLISH reaches a RESP3 subscriber whose own writes wait in the group."""
    from conftest import encode_command

    with server.conn() as sub, server.conn() as pub:
        sub.call("HELLO", "3")
        assert sub.call("SUBSCRIBE", "ch")[0] == b"subscribe"
        sub.send(b"".join(encode_command("INCR", "n") for _ in range(10)))
        script = "redis.call('INCR', KEYS[1]); return redis.call('PUBLISH', 'ch', ARGV[1])"
        for i in range(10):
            assert pub.call("EVAL", script, "1", "m", "x%d" % i) == 1
        replies, pushes = _frames(sub, 20)
        assert replies == list(range(1, 11))
        assert [p[2] for p in pushes] == [b"x%d" % i for i in range(10)]
        assert r.get("m") == b"10"


# Key misses (m: "keymiss", for each key a read looks up and does not find, as Redis's read
# lookups do; its write lookups notify none) and new keys (n: "new", for each key added to a
# database, before the command's own event). (setup, commands, events) as Redis 7.0 has them.
MISS_NEW_CASES = {
    "get": ([], [("GET", "m")], [("keymiss", "m")]),
    "mget_each_missing_key": ([("SET", "s", "v")], [("MGET", "m", "s", "m2")], [("keymiss", "m"), ("keymiss", "m2")]),
    "generic_reads": ([], [("EXISTS", "m", "m2"), ("TYPE", "m"), ("TTL", "m"), ("PTTL", "m"), ("TOUCH", "m")],
                      [("keymiss", "m"), ("keymiss", "m2")] + [("keymiss", "m")] * 4),
    "string_reads": ([], [("STRLEN", "m"), ("GETRANGE", "m", "0", "1"), ("GETBIT", "m", "1"), ("BITCOUNT", "m"),
                          ("BITPOS", "m", "1")], [("keymiss", "m")] * 5),
    "hash_reads": ([("HSET", "h", "a", "1")],
                   [("HGET", "m", "f"), ("HGET", "h", "f"), ("HMGET", "m", "f", "g"), ("HLEN", "m"),
                    ("HEXISTS", "m", "f"), ("HGETALL", "m"), ("HSCAN", "m", "0"), ("HRANDFIELD", "m")],
                   [("keymiss", "m")] * 7),
    "list_reads": ([], [("LLEN", "m"), ("LINDEX", "m", "0"), ("LRANGE", "m", "0", "-1"), ("LPOS", "m", "a")],
                   [("keymiss", "m")] * 4),
    "set_reads": ([], [("SCARD", "m"), ("SISMEMBER", "m", "a"), ("SMISMEMBER", "m", "a"), ("SMEMBERS", "m"),
                       ("SRANDMEMBER", "m"), ("SSCAN", "m", "0")], [("keymiss", "m")] * 6),
    "set_combines_look_up_every_key": ([("SADD", "a", "1")],
                                       [("SINTER", "a", "m", "m2"), ("SUNION", "m", "a"), ("SDIFF", "a", "m"),
                                        ("SINTERCARD", "2", "m", "a")],
                                       [("keymiss", "m"), ("keymiss", "m2"), ("keymiss", "m"), ("keymiss", "m"),
                                        ("keymiss", "m")]),
    "zset_reads": ([], [("ZCARD", "m"), ("ZCOUNT", "m", "0", "1"), ("ZSCORE", "m", "a"), ("ZMSCORE", "m", "a"),
                        ("ZRANK", "m", "a"), ("ZRANGE", "m", "0", "-1"), ("ZRANGEBYLEX", "m", "-", "+"),
                        ("ZRANDMEMBER", "m"), ("ZSCAN", "m", "0")], [("keymiss", "m")] * 9),
    "zset_combines": ([("ZADD", "a", "1", "x")],
                      [("ZUNION", "2", "m", "a"), ("ZINTER", "2", "a", "m"), ("ZDIFF", "2", "a", "m"),
                       ("ZINTERCARD", "2", "m", "m2")],
                      [("keymiss", "m")] * 3 + [("keymiss", "m"), ("keymiss", "m2")]),
    "sort_patterns": ([("RPUSH", "l", "2", "1")],
                      [("SORT", "m"), ("SORT_RO", "m"), ("SORT", "l", "BY", "w_*", "GET", "o_*")],
                      [("keymiss", "m"), ("keymiss", "m"), ("keymiss", "w_2"), ("keymiss", "w_1"), ("keymiss", "o_1"),
                       ("keymiss", "o_2")]),
    "writes_object_and_keyspace_walks_miss_nothing": (
        [], [("OBJECT", "ENCODING", "m"), ("RANDOMKEY",), ("SCAN", "0"), ("DBSIZE",), ("DEL", "m"),
             ("EXPIRE", "m", "10"), ("PERSIST", "m"), ("LPOP", "m"), ("LPUSHX", "m", "a"), ("SPOP", "m"),
             ("SREM", "m", "a"), ("HDEL", "m", "f"), ("ZPOPMIN", "m"), ("ZREM", "m", "a"),
             ("LMOVE", "m", "x", "LEFT", "LEFT"), ("SMOVE", "m", "x", "a"), ("LMPOP", "1", "m", "LEFT"),
             ("SET", "m", "v", "XX"), ("ZADD", "m", "XX", "1", "a")], []),
    "writes_that_read_the_old_value": ([], [("GETDEL", "m"), ("GETEX", "m", "EX", "10"), ("SET", "m", "v", "GET")],
                                       [("keymiss", "m"), ("keymiss", "m"), ("keymiss", "m"), ("new", "m"),
                                        ("set", "m")]),
    "copy_reads_its_source": ([], [("COPY", "m", "x")], [("keymiss", "m")]),
    "stores_read_their_sources": ([("SADD", "a", "1", "2"), ("ZADD", "z", "1", "x"), ("SET", "e", "x")],
                                  [("SUNIONSTORE", "d", "a", "m"), ("SINTERSTORE", "i", "a", "m"),
                                   ("ZUNIONSTORE", "zd", "2", "z", "m"), ("ZRANGESTORE", "r", "m", "0", "-1"),
                                   ("SDIFFSTORE", "e", "m", "a")],
                                  [("keymiss", "m"), ("new", "d"), ("sunionstore", "d"), ("keymiss", "m"),
                                   ("keymiss", "m"), ("new", "zd"), ("zunionstore", "zd"), ("keymiss", "m"),
                                   ("keymiss", "m"), ("del", "e")]),
    "sort_store": ([("RPUSH", "l", "2", "1"), ("SET", "e", "x")],
                   [("SORT", "l", "BY", "w_*", "STORE", "out"), ("SORT", "m", "STORE", "e")],
                   [("keymiss", "w_2"), ("keymiss", "w_1"), ("new", "out"), ("sortstore", "out"), ("keymiss", "m"),
                    ("del", "e")]),
    "script_and_transaction": ([], [("EVAL", "return redis.call('GET', KEYS[1])", "1", "m"),
                                    ("EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", "m")],
                               [("keymiss", "m"), ("new", "m"), ("set", "m")]),
    "strings_new": ([("SET", "old", "v")],
                    [("SET", "k", "v"), ("SET", "k", "w"), ("SET", "old", "w"), ("SET", "e", "v", "EX", "100"),
                     ("SETNX", "k", "x"), ("SETNX", "n", "x"), ("MSET", "a", "1", "k", "2", "a", "3"),
                     ("GETSET", "g", "v")],
                    [("new", "k"), ("set", "k"), ("set", "k"), ("set", "old"), ("new", "e"), ("set", "e"),
                     ("expire", "e"), ("new", "n"), ("set", "n"), ("new", "a"), ("set", "a"), ("set", "k"),
                     ("set", "a"), ("keymiss", "g"), ("new", "g"), ("set", "g")]),
    "string_edits_new": ([], [("INCR", "i"), ("INCRBYFLOAT", "f", "1.5"), ("APPEND", "s", "ab"),
                              ("SETRANGE", "r", "1", "xy"), ("SETRANGE", "none", "0", ""), ("SETBIT", "b", "7", "0")],
                         [("new", "i"), ("incrby", "i"), ("new", "f"), ("incrbyfloat", "f"), ("new", "s"),
                          ("append", "s"), ("new", "r"), ("setrange", "r"), ("new", "b"), ("setbit", "b")]),
    "collections_new": ([], [("HSET", "h", "f", "1"), ("HSET", "h", "g", "1"), ("HINCRBY", "h2", "f", "1"),
                             ("LPUSH", "l", "a"), ("LPUSH", "l", "b"), ("RPUSH", "l2", "a"), ("SADD", "s", "a"),
                             ("ZADD", "z", "1", "a"), ("ZINCRBY", "z2", "1", "a")],
                        [("new", "h"), ("hset", "h"), ("hset", "h"), ("new", "h2"), ("hincrby", "h2"), ("new", "l"),
                         ("lpush", "l"), ("lpush", "l"), ("new", "l2"), ("rpush", "l2"), ("new", "s"), ("sadd", "s"),
                         ("new", "z"), ("zadd", "z"), ("new", "z2"), ("zincr", "z2")]),
    "moves_new": ([("RPUSH", "src", "a", "b"), ("SADD", "s", "a"), ("SADD", "u", "b")],
                  [("LMOVE", "src", "dst", "LEFT", "RIGHT"), ("RPOPLPUSH", "src", "src"), ("SMOVE", "s", "t", "a"),
                   ("SMOVE", "u", "t", "b")],
                  [("new", "dst"), ("rpush", "dst"), ("lpop", "src"), ("lpush", "src"), ("rpop", "src"),
                   ("srem", "s"), ("del", "s"), ("new", "t"), ("sadd", "t"), ("srem", "u"), ("del", "u"),
                   ("sadd", "t")]),
    "rename_and_copy_add_their_target_anew": ([("SET", "a", "v"), ("SET", "b", "w"), ("SET", "c", "v")],
                                               [("RENAME", "a", "b"), ("COPY", "b", "x"), ("COPY", "b", "c", "REPLACE"),
                                                ("COPY", "b", "c"), ("RENAMENX", "c", "y")],
                                               [("new", "b"), ("rename_from", "a"), ("rename_to", "b"), ("new", "x"),
                                                ("copy_to", "x"), ("new", "c"), ("copy_to", "c"), ("new", "y"),
                                                ("rename_from", "c"), ("rename_to", "y")]),
}


@pytest.mark.parametrize("case", sorted(MISS_NEW_CASES))
def test_keymiss_and_new_events(server, r, case):
    setup, commands, expected = MISS_NEW_CASES[case]
    run(r, *setup)
    e = Events(server, flags="KEAmn")
    try:
        with server.conn() as c:  # raw replies: OBJECT's too
            for command in commands:
                c.call(*command)
        assert names(e.take()) == expected
    finally:
        e.close()


def test_keymiss_and_new_in_a_transaction(server, r):
    e = Events(server, flags="KEAmn")
    try:
        p = r.pipeline(transaction=True)
        p.get("m")
        p.set("m", "v")
        p.execute()
        assert names(e.take()) == [("keymiss", "m"), ("new", "m"), ("set", "m")]
    finally:
        e.close()


def test_new_key_in_another_database(server, r):
    r.set("a", "v")
    e = Events(server, flags="KEAn")
    try:
        r.execute_command("COPY", "a", "b", "DB", "1")
        assert e.take() == [(1, "new", "b"), (1, "copy_to", "b")]
    finally:
        e.close()


def test_expired_key_misses_then_is_new_again(server, r):
    e = Events(server, flags="KEAmn")
    try:
        r.set("k", "v", px=20)
        time.sleep(0.1)
        assert r.get("k") is None
        r.set("k", "w")
        # "expired" comes from the lookup or, before it, from the active expiry: the same list.
        assert names(e.take()) == [("new", "k"), ("set", "k"), ("expire", "k"), ("expired", "k"), ("keymiss", "k"),
                                   ("new", "k"), ("set", "k")]
    finally:
        e.close()


def test_m_and_n_are_classes_of_their_own(server, r):
    e = Events(server, flags="E$m")
    try:
        run(r, ("GET", "m"), ("SET", "k", "v"), ("LRANGE", "m", "0", "-1"))
        assert names(e.take()) == [("keymiss", "m"), ("set", "k"), ("keymiss", "m")]
        e.admin.config_set("notify-keyspace-events", "E$n")
        run(r, ("GET", "m"), ("SET", "k2", "v"))
        assert names(e.take()) == [("new", "k2"), ("set", "k2")]
    finally:
        e.close()
