"""A hostile user's look at stream consumer groups and blocking stream reads (README
"Streams"), with redis-server 7.0.15 as the reference: error texts and numbers at their edges,
binary names (0x00 is escaped in the records' keys), a stream's name reused after DEL / RENAME /
expiry, WATCH against group commands, blocked readers woken, killed, timed out and left behind
by a destroyed group or a flushed database, many consumers of one group, and kill -9.

Everything not marked tidekv_only holds on redis-server too (TIDEKV_TEST_TARGET=redis)."""

import threading
import time

import pytest

from conftest import RespError, encode_command, soak, tidekv_only

U64_MAX = 2 ** 64 - 1
MAX_ID = "%d-%d" % (U64_MAX, U64_MAX)
UNBLOCKED_GONE = "UNBLOCKED the stream key no longer exists"
NOGROUP_BLOCKED = "NOGROUP the consumer group this client was blocked on no longer exists"
NOT_INT = "ERR value is not an integer or out of range"


def fill(c, key, n):
    c.send(b"".join(encode_command("XADD", key, "%d-0" % i, "f", str(i)) for i in range(1, n + 1)))
    for i in range(1, n + 1):
        assert c.read_reply() == b"%d-0" % i


def as_dict(flat):
    return dict(zip(flat[::2], flat[1::2]))


def consumer_names(c, key, group):
    return [as_dict(x)[b"name"] for x in c.call("XINFO", "CONSUMERS", key, group)]


def block_group_read(server, key="s", group="g", consumer="c", ms=1000):
    """A connection whose XREADGROUP … BLOCK ms on key waits (sent, reply not read)."""
    b = server.conn(timeout=ms / 1000 + 5)
    b.send(encode_command("XREADGROUP", "GROUP", group, consumer, "BLOCK", ms, "STREAMS", key, ">"))
    wait_blocked(server, 1)
    return b


def wait_blocked(server, n):
    """Waits until n clients are blocked (INFO clients)."""
    with server.conn() as c:
        for _ in range(200):
            info = c.call("INFO", "clients")
            if b"blocked_clients:%d\r\n" % n in info:
                return
            time.sleep(0.01)
    raise AssertionError("%d clients never blocked: %r" % (n, info))


def full_without_times(c, key):
    """XINFO STREAM FULL without radix-tree counts (README) and without delivery/seen times."""
    d = as_dict(c.call("XINFO", "STREAM", key, "FULL"))
    del d[b"radix-tree-keys"], d[b"radix-tree-nodes"]
    groups = []
    for g in d[b"groups"]:
        g = as_dict(g)
        g[b"pending"] = [[p[0], p[1], p[3]] for p in g[b"pending"]]
        g[b"consumers"] = [{k: v for k, v in as_dict(x).items() if k not in (b"seen-time", b"pending")}
                           for x in g[b"consumers"]]
        groups.append(g)
    d[b"groups"] = groups
    return d


# ---------------------------------------------------------------- blocked readers (defects)

def test_blocked_xreadgroup_is_unblocked_when_its_key_expires(server, c):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "$")
    b = block_group_read(server, ms=1200)
    try:
        # Not 1 ms: PEXPIRE itself wakes the reader, which must still find the key then.
        assert c.call("PEXPIRE", "s", "100") == 1
        assert b.read_reply() == UNBLOCKED_GONE  # Redis: at an active expiry cycle after 100 ms
    finally:
        b.close()


@pytest.mark.parametrize("flush", [("FLUSHALL",), ("FLUSHDB",)])
def test_blocked_xreadgroup_is_unblocked_by_a_flush(server, c, flush):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "$")
    b = block_group_read(server, ms=1200)
    try:
        assert c.call(*flush) == "OK"
        c.call("XADD", "s", "2-0", "f", "2")  # the name reused at once: still no group
        assert b.read_reply() == UNBLOCKED_GONE
    finally:
        b.close()


def test_history_read_from_the_maximum_id(c):
    """Redis 7.0 holds `>` as the greatest id: naming that id reads new entries, not history."""
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert c.call("XREADGROUP", "GROUP", "g", "newbie", "STREAMS", "s", MAX_ID) is None
    assert consumer_names(c, "s", "g") == [b"c"]
    c.call("XADD", "s", "5-0", "f", "5")
    assert c.call("XREADGROUP", "GROUP", "g", "newbie", "STREAMS", "s", MAX_ID) == [[b"s", [[b"5-0", [b"f", b"5"]]]]]
    assert c.call("XPENDING", "s", "g")[0] == 2


@pytest.mark.parametrize("writes", [[("XADD", "s", "MAXLEN", "0", "2-0", "f", "2")],
                                    [("MULTI",), ("XADD", "s", "2-0", "f", "2"), ("XDEL", "s", "2-0"), ("EXEC",)]],
                         ids=["maxlen0", "multi_xdel"])
def test_blocked_xreadgroup_woken_by_an_entry_gone_at_once(server, c, writes):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "$")
    b = block_group_read(server, ms=700)
    try:
        for cmd in writes:
            c.call(*cmd)
        assert b.read_reply() == [[b"s", []]]
    finally:
        b.close()
    assert consumer_names(c, "s", "g") == [b"c"]


@pytest.mark.parametrize("after", [
    [("XGROUP", "DESTROY", "s", "g"), ("XGROUP", "CREATE", "s", "g", "0"), ("XADD", "s", "2-0", "f", "2")],
    [("DEL", "s"), ("XADD", "s", "2-0", "f", "2"), ("XGROUP", "CREATE", "s", "g", "0")],
], ids=["destroy_recreate_xadd", "del_recreate"])
def test_blocked_xreadgroup_answered_when_its_group_goes(server, c, after):
    wrong = []
    for _ in range(30):
        c.call("DEL", "s")
        fill(c, "s", 1)
        c.call("XGROUP", "CREATE", "s", "g", "$")
        b = block_group_read(server)
        try:
            c.send(b"".join(encode_command(*cmd) for cmd in after))  # one write: back to back
            for _ in after:
                c.read_reply()
            want = NOGROUP_BLOCKED if after[0][0] != "DEL" else UNBLOCKED_GONE
            got = b.read_reply()
            if got != want:
                wrong.append(got)
        finally:
            b.close()
    assert wrong == []


def pipelined(c, commands):
    """Sends the commands in one write, then reads their replies."""
    c.send(b"".join(encode_command(*cmd) for cmd in commands))
    for _ in commands:
        c.read_reply()


@pytest.mark.parametrize("after", [
    [("DEL", "s")],
    [("XTRIM", "s", "MAXLEN", "0")],
    [("XADD", "s", "3-0", "f", "3")],
], ids=["del", "xtrim", "xadd"])
def test_blocked_xread_gets_the_entry_that_woke_it(server, c, after):
    fill(c, "s", 1)
    b = server.conn()
    try:
        b.send(encode_command("XREAD", "BLOCK", "400", "STREAMS", "s", "$"))
        wait_blocked(server, 1)
        pipelined(c, [("XADD", "s", "2-0", "f", "2")] + after)
        assert b.read_reply() == [[b"s", [[b"2-0", [b"f", b"2"]]]]]
    finally:
        b.close()


@pytest.mark.parametrize("after", [
    [("XGROUP", "SETID", "s", "g", "$")],
    [("XDEL", "s", "2-0")],
], ids=["setid", "xdel"])
def test_blocked_xreadgroup_gets_the_entry_that_woke_it(server, c, after):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "$")
    b = block_group_read(server, ms=400)
    try:
        pipelined(c, [("XADD", "s", "2-0", "f", "2")] + after)
        assert b.read_reply() == [[b"s", [[b"2-0", [b"f", b"2"]]]]]
    finally:
        b.close()
    assert c.call("XPENDING", "s", "g")[3] == [[b"c", b"1"]]


# ---------------------------------------------------------------- WATCH

# In Redis 7.0 no group command touches a watched stream: the EXEC still runs.
GROUP_COMMANDS_UNDER_WATCH = [
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"),
    ("XACK", "s", "g", "1-0"),
    ("XGROUP", "CREATECONSUMER", "s", "g", "new"),
    ("XGROUP", "DELCONSUMER", "s", "g", "c"),
    ("XGROUP", "SETID", "s", "g", "0"),
    ("XCLAIM", "s", "g", "d", "0", "1-0"),
    ("XAUTOCLAIM", "s", "g", "d", "0", "0"),
]


def exec_after(server, c, *command):
    """WATCH s, run command on another connection, then MULTI/PING/EXEC: EXEC's reply."""
    fill(c, "s", 2)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    assert c.call("WATCH", "s") == "OK"
    with server.conn() as other:
        assert not isinstance(other.call(*command), RespError)
    c.call("MULTI")
    c.call("PING")
    return c.call("EXEC")


@pytest.mark.parametrize("command", GROUP_COMMANDS_UNDER_WATCH, ids=lambda cmd: "_".join(cmd[:2]))
def test_group_commands_leave_a_watched_stream_untouched(server, c, command):
    assert exec_after(server, c, *command) == ["PONG"]


@pytest.mark.parametrize("command", [("XGROUP", "CREATE", "s", "g2", "0"), ("XGROUP", "DESTROY", "s", "g")],
                         ids=["CREATE", "DESTROY"])
def test_xgroup_create_destroy_leave_a_watched_stream_untouched(server, c, command):
    assert exec_after(server, c, *command) == ["PONG"]


# ---------------------------------------------------------------- edges that hold (keep)

def test_numbers_at_their_edges(c):
    fill(c, "s", 2)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert c.call("XPENDING", "s", "g", "-", "+", "9223372036854775808") == NOT_INT
    assert len(c.call("XPENDING", "s", "g", "-", "+", "9223372036854775807")) == 2
    assert c.call("XPENDING", "s", "g", "IDLE", "9223372036854775807", "-", "+", "10") == []
    assert c.call("XAUTOCLAIM", "s", "g", "e", "0", "0", "COUNT", "2305843009213693952") == \
        "ERR COUNT must be > 0"
    assert c.call("XCLAIM", "s", "g", "d", "0", "1-0", "RETRYCOUNT", "9223372036854775807", "JUSTID") == [b"1-0"]
    assert c.call("XPENDING", "s", "g", "-", "(2-0", "1")[0][3] == 9223372036854775807
    assert c.call("XCLAIM", "s", "g", "d", "9223372036854775807", "2-0") == []
    assert c.call("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "9223372036854775807") == "OK"
    g2 = as_dict(c.call("XINFO", "GROUPS", "s")[1])
    # Redis 7.0 takes the claim as given: lag = entries added - entries read, below zero
    assert (g2[b"entries-read"], g2[b"lag"]) == (9223372036854775807, 2 - 9223372036854775807)
    assert c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0.5", "STREAMS", "s", "0") == \
        "ERR timeout is not an integer or out of range"


NAMES = [b"", b"\x00", b"\x00\x00", b"\x00\xff", b"\xff", b"\xff\x00", b"a", b"a\x00", b"a\x00\x01",
         b"a\x01", b"\x00\x01", b"\x01"]


def test_names_that_look_like_the_escapes(c):
    """0x00 is written 0x00 0xFF and a name ends 0x00 0x01: names made of those bytes stay apart
    and sort bytewise, as Redis's radix tree sorts them."""
    fill(c, "s", 2)
    for name in NAMES:
        assert c.call("XGROUP", "CREATE", "s", name, "0") == "OK"
        for consumer in NAMES:
            assert c.call("XGROUP", "CREATECONSUMER", "s", name, consumer) == 1
    assert [as_dict(g)[b"name"] for g in c.call("XINFO", "GROUPS", "s")] == sorted(NAMES)
    for name in NAMES:
        assert consumer_names(c, "s", name) == sorted(NAMES)
        got = c.call("XREADGROUP", "GROUP", name, name, "COUNT", "1", "STREAMS", "s", ">")
        assert got[0][1][0][0] == b"1-0"
        assert c.call("XPENDING", "s", name)[3] == [[name, b"1"]]
    for name in NAMES[::2]:
        assert c.call("XGROUP", "DELCONSUMER", "s", name, name) == 1
        assert c.call("XGROUP", "DESTROY", "s", name) == 1
    for name in NAMES[1::2]:
        assert c.call("XPENDING", "s", name)[3] == [[name, b"1"]]
        assert consumer_names(c, "s", name) == sorted(NAMES)


@pytest.mark.parametrize("how", ["DEL", "RENAME", "expiry", "SET"])
def test_a_reused_name_has_no_stale_groups(c, how):
    fill(c, "s", 3)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    if how == "DEL":
        c.call("DEL", "s")
    elif how == "RENAME":
        c.call("RENAME", "s", "t")
    elif how == "expiry":
        c.call("PEXPIRE", "s", "1")
        time.sleep(0.05)
    else:
        c.call("SET", "s", "x")
        c.call("DEL", "s")
    fill(c, "s", 3)
    assert c.call("XINFO", "GROUPS", "s") == []
    assert c.call("XGROUP", "CREATE", "s", "g", "0") == "OK"
    assert c.call("XPENDING", "s", "g") == [0, None, None, None]
    assert c.call("XINFO", "CONSUMERS", "s", "g") == []
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [[b"s", []]]
    if how == "RENAME":
        assert c.call("XPENDING", "t", "g")[0] == 3


def test_rename_over_a_stream_with_groups_drops_its_groups(c):
    fill(c, "s", 2)
    c.call("XGROUP", "CREATE", "s", "old", "0")
    c.call("XREADGROUP", "GROUP", "old", "c", "STREAMS", "s", ">")
    fill(c, "u", 1)
    c.call("XGROUP", "CREATE", "u", "new", "0")
    assert c.call("RENAME", "u", "s") == "OK"
    assert [as_dict(g)[b"name"] for g in c.call("XINFO", "GROUPS", "s")] == [b"new"]
    assert c.call("XPENDING", "s", "old") == "NOGROUP No such key 's' or consumer group 'old'"
    assert c.call("COPY", "s", "s") == "ERR source and destination objects are the same"


@pytest.mark.parametrize("after", [
    [("XGROUP", "DESTROY", "s", "g")],
    [("MULTI",), ("XADD", "s", "2-0", "f", "2"), ("XGROUP", "DESTROY", "s", "g"), ("EXEC",)],
    [("DEL", "s")],
    [("DEL", "s"), ("SET", "s", "x")],
], ids=["destroy", "multi_xadd_destroy", "del", "del_set"])
def test_blocked_xreadgroup_whose_group_goes(server, c, after):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "$")
    b = block_group_read(server)
    try:
        for cmd in after:
            c.call(*cmd)
        want = NOGROUP_BLOCKED if after[0][0] != "DEL" else UNBLOCKED_GONE
        assert b.read_reply() == want
    finally:
        b.close()
    if c.call("TYPE", "s") == "stream" and c.call("XINFO", "GROUPS", "s"):
        assert c.call("XPENDING", "s", "g")[0] == 0  # nothing was delivered to it


def test_blocked_readers_that_went_away_take_nothing(server, c):
    c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    for i in range(10):
        b = server.conn()
        b.send(encode_command("XREADGROUP", "GROUP", "g", "gone%d" % i, "BLOCK", "0", "STREAMS", "s", ">"))
        time.sleep(0.02)
        b.close()
    killed = []
    for i in range(5):
        b = server.conn()
        killed.append((b, b.call("CLIENT", "ID")))
        b.send(encode_command("XREADGROUP", "GROUP", "g", "killed%d" % i, "BLOCK", "0", "STREAMS", "s", ">"))
    time.sleep(0.2)
    for b, cid in killed:
        assert c.call("CLIENT", "KILL", "ID", cid) == 1
        b.close()
    time.sleep(0.1)
    c.call("XADD", "s", "1-0", "f", "v")
    time.sleep(0.1)
    assert c.call("XPENDING", "s", "g") == [0, None, None, None]
    assert c.call("XINFO", "CONSUMERS", "s", "g") == []
    assert c.call("PING") == "PONG"


@soak  # long: runs under make soak
def test_many_blocked_consumers_get_each_entry_once(server, c):
    c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    got, lock, stop = {}, threading.Lock(), threading.Event()

    def consumer(i):
        with server.conn(timeout=30) as b:
            while True:
                rep = b.call("XREADGROUP", "GROUP", "g", "c%d" % i, "COUNT", "1", "BLOCK", "300",
                             "STREAMS", "s", ">")
                if rep is None:
                    if stop.is_set():
                        return
                    continue
                with lock:
                    for entry in rep[0][1]:
                        got.setdefault(entry[0], []).append(i)

    def producer():
        with server.conn() as p:
            for _ in range(200):
                p.call("XADD", "s", "*", "f", "v")

    readers = [threading.Thread(target=consumer, args=(i,)) for i in range(10)]
    for t in readers:
        t.start()
    time.sleep(0.2)
    writers = [threading.Thread(target=producer) for _ in range(3)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    time.sleep(1)
    stop.set()
    for t in readers:
        t.join()
    assert len(got) == 600 and all(len(v) == 1 for v in got.values())
    assert c.call("XPENDING", "s", "g")[0] == 600
    assert sum(int(n) for _, n in c.call("XPENDING", "s", "g")[3]) == 600


@tidekv_only
def test_pel_after_kill9_is_what_was_acknowledged(make_server):
    s = make_server()
    with s.conn() as c:
        fill(c, "s", 200)
        c.call("XGROUP", "CREATE", "s", "g", "0")
        for i in range(60):
            c.call("XREADGROUP", "GROUP", "g", "c%d" % (i % 3), "COUNT", "3", "STREAMS", "s", ">")
            c.call("XACK", "s", "g", "%d-0" % (i * 3 + 1))
            c.call("XCLAIM", "s", "g", b"\x00%d" % (i % 2), "0", "%d-0" % (i * 3 + 2))
            c.call("XGROUP", "CREATE", "s", b"g\x00%d" % i, "%d-0" % i)
        before = full_without_times(c, "s")
        pel = c.call("XPENDING", "s", "g", "-", "+", "1000")
    s.kill9()
    s.start()
    with s.conn() as c:
        assert full_without_times(c, "s") == before
        assert [p[:2] + p[3:] for p in c.call("XPENDING", "s", "g", "-", "+", "1000")] == \
            [p[:2] + p[3:] for p in pel]
    assert "rror" not in s.log().split("=== starting")[-1]


@tidekv_only
def test_deliveries_to_blocked_readers_survive_kill9(make_server):
    s = make_server()
    with s.conn() as c:
        c.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        readers = []
        for i in range(8):
            b = s.conn()
            b.send(encode_command("XREADGROUP", "GROUP", "g", "c%d" % i, "COUNT", "1", "BLOCK", "0",
                                  "STREAMS", "s", ">"))
            readers.append(b)
        wait_blocked(s, 8)
        c.send(b"".join(encode_command("XADD", "s", "*", "f", str(i)) for i in range(8)))
        for _ in range(8):
            c.read_reply()
        served = {}
        for i, b in enumerate(readers):
            served[b.read_reply()[0][1][0][0]] = b"c%d" % i
            b.close()
    s.kill9()
    s.start()
    with s.conn() as c:
        assert {p[0]: p[1] for p in c.call("XPENDING", "s", "g", "-", "+", "100")} == served
