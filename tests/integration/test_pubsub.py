"""Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH SSUBSCRIBE SUNSUBSCRIBE SPUBLISH
and PUBSUB, with Redis 7's replies and errors; RESP2's subscribed mode and RESP3's push messages;
patterns with Redis's glob rules; RESET; CLIENT LIST and INFO; delivery across worker threads,
complete and in order; a subscriber that does not read cut at client-output-buffer-limit pubsub
while the others keep receiving; subscribers that go while messages are on their way to them.

The server runs two workers and hands connections to them in turn: of several connections opened
one after the other, some land on each."""

import socket
import threading
import time

import pytest
import redis

from conftest import IS_REDIS, Push, RespError, encode_command, soak, tidekv_only
from helpers import gone_within, rss_mb, rss_test, wrong_args
from test_blocking import not_answered


def subscribed_error(cmd):
    return RespError("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                     "allowed in this context" % cmd)


def read_n(conn, n):
    return [conn.read_reply() for _ in range(n)]


def message_bytes(channel, payload):
    """A RESP2 "message" frame as the server sends it."""
    return b"".join([b"*3\r\n$7\r\nmessage\r\n", b"$%d\r\n%s\r\n" % (len(channel), channel),
                     b"$%d\r\n%s\r\n" % (len(payload), payload)])


def recv_exactly(sock, n, timeout=30.0):
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(1 << 20, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def fresh(make_server):
    """A server of its own, for tests that count every channel and pattern."""
    return make_server()


# ---------------------------------------------------------------- subscribing and its replies

def test_subscribe_and_unsubscribe_replies(server):
    with server.conn() as c:
        c.send(encode_command("SUBSCRIBE", "a", "b", "a"))
        assert read_n(c, 3) == [[b"subscribe", b"a", 1], [b"subscribe", b"b", 2], [b"subscribe", b"a", 2]]
        # patterns count with channels; shard channels alone
        assert c.call("PSUBSCRIBE", "p*") == [b"psubscribe", b"p*", 3]
        assert c.call("SSUBSCRIBE", "s1") == [b"ssubscribe", b"s1", 1]
        assert c.call("UNSUBSCRIBE", "never") == [b"unsubscribe", b"never", 3]
        c.send(encode_command("UNSUBSCRIBE"))
        got = read_n(c, 2)
        assert sorted(x[1] for x in got) == [b"a", b"b"]
        assert [x[0] for x in got] == [b"unsubscribe"] * 2 and [x[2] for x in got] == [2, 1]
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 1]
        assert c.call("PUNSUBSCRIBE") == [b"punsubscribe", b"p*", 0]
        assert c.call("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]
        assert c.call("PUNSUBSCRIBE", "q*") == [b"punsubscribe", b"q*", 0]
        # still subscribed to a shard channel: still in subscribed mode
        assert c.call("GET", "k") == subscribed_error("get")
        assert c.call("SUNSUBSCRIBE", "other") == [b"sunsubscribe", b"other", 1]
        assert c.call("SUNSUBSCRIBE") == [b"sunsubscribe", b"s1", 0]
        assert c.call("SUNSUBSCRIBE") == [b"sunsubscribe", None, 0]
        assert c.call("GET", "k") is None
        assert c.call("PING") == "PONG"


def test_argument_errors(server):
    with server.conn() as c:
        for cmd in ("subscribe", "psubscribe", "ssubscribe", "publish", "spublish", "pubsub"):
            assert c.call(cmd.upper()) == RespError(wrong_args(cmd))
        assert c.call("PUBLISH", "ch") == RespError(wrong_args("publish"))
        assert c.call("PUBLISH", "ch", "m", "x") == RespError(wrong_args("publish"))
        assert c.call("SPUBLISH", "ch", "m", "x") == RespError(wrong_args("spublish"))
        assert c.call("PUBSUB", "FOO") == RespError("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
        assert c.call("PUBSUB", "NUMPAT", "x") == RespError(wrong_args("pubsub|numpat"))
        # Redis 7.0 checks these two in the command: another error
        assert c.call("PUBSUB", "CHANNELS", "a", "b") == RespError(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.")
        assert c.call("PUBSUB", "shardchannels", "a", "b") == RespError(
            "ERR unknown subcommand or wrong number of arguments for 'shardchannels'. Try PUBSUB HELP.")
        assert c.call("PUBSUB", "HELP", "x") == RespError(wrong_args("pubsub|help"))
        assert c.call("PING") == "PONG"  # none of them subscribed it


def test_resp2_subscribed_mode_rules(server):
    with server.conn() as c:
        assert c.call("SUBSCRIBE", "rules") == [b"subscribe", b"rules", 1]
        assert c.call("GET", "k") == subscribed_error("get")
        assert c.call("SET", "k", "v") == subscribed_error("set")
        assert c.call("PUBLISH", "rules", "x") == subscribed_error("publish")
        assert c.call("CLIENT", "LIST") == subscribed_error("client|list")
        assert c.call("MULTI") == subscribed_error("multi")
        assert c.call("HELLO", "2") == subscribed_error("hello")
        # checked before subscribed mode, as in Redis: unknown commands and arity
        assert c.call("NOSUCH").startswith("ERR unknown command 'NOSUCH'")
        assert c.call("GET") == RespError(wrong_args("get"))
        # PING answers in the shape of a message
        assert c.call("PING") == [b"pong", b""]
        assert c.call("PING", "hi") == [b"pong", b"hi"]
        assert c.call("PSUBSCRIBE", "r*") == [b"psubscribe", b"r*", 2]
        assert c.call("QUIT") == "OK"
        assert c.is_closed()
    with server.conn() as probe:
        assert probe.call("PUBLISH", "rules", "after") == 0


def test_reset_leaves_subscribed_mode(server, r):
    with server.conn() as c:
        c.send(encode_command("SUBSCRIBE", "rs1", "rs2"))
        read_n(c, 2)
        assert c.call("PSUBSCRIBE", "rs*") == [b"psubscribe", b"rs*", 3]
        assert c.call("SSUBSCRIBE", "rs1") == [b"ssubscribe", b"rs1", 1]
        assert c.call("RESET") == "RESET"
        assert r.publish("rs1", "x") == 0
        assert r.execute_command("SPUBLISH", "rs1", "x") == 0
        assert r.pubsub_numsub("rs1", "rs2") == [(b"rs1", 0), (b"rs2", 0)]
        assert not_answered(c)  # no reply per subscription, no message
        assert c.call("GET", "k") is None
        assert c.call("PING") == "PONG"
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]


# ---------------------------------------------------------------- messages

def test_messages_in_resp2(server, r):
    with server.conn() as sub:
        sub.send(encode_command("SUBSCRIBE", "news", "bin"))
        read_n(sub, 2)
        assert sub.call("PSUBSCRIBE", "n*") == [b"psubscribe", b"n*", 3]
        assert sub.call("SSUBSCRIBE", "news") == [b"ssubscribe", b"news", 1]
        # the channel's message first, then the pattern's; shard subscribers do not hear PUBLISH
        assert r.publish("news", "hello") == 2
        assert sub.read_raw() == message_bytes(b"news", b"hello")
        assert sub.read_reply() == [b"pmessage", b"n*", b"news", b"hello"]
        assert r.execute_command("SPUBLISH", "news", "shard") == 1
        assert sub.read_reply() == [b"smessage", b"news", b"shard"]
        assert r.execute_command("SPUBLISH", "bin", "x") == 0  # a channel, not a shard channel
        payload = b"\x00\r\n\xff" * 1000
        assert r.publish("bin", payload) == 1
        assert sub.read_reply() == [b"message", b"bin", payload]
        assert r.publish("bin", b"") == 1
        assert sub.read_reply() == [b"message", b"bin", b""]
        assert r.publish("nobody", "x") == 1  # n* only
        assert sub.read_reply() == [b"pmessage", b"n*", b"nobody", b"x"]
        assert not_answered(sub)


def test_patterns_follow_redis_glob_rules(server, r):
    patterns = ["h?llo", "h[^e]llo", "h[a-b]llo", "x\\*", "*"]
    expected = {
        "hello": ["h?llo", "*"],
        "hallo": ["h?llo", "h[^e]llo", "h[a-b]llo", "*"],
        "hxllo": ["h?llo", "h[^e]llo", "*"],
        "x*": ["x\\*", "*"],
        "xy": ["*"],
        "": [],  # Redis's matcher: an empty channel matches no pattern, not even "*"
    }
    with server.conn() as sub:
        sub.send(encode_command("PSUBSCRIBE", *patterns))
        assert [x[2] for x in read_n(sub, len(patterns))] == [1, 2, 3, 4, 5]
        for channel, matching in expected.items():
            assert r.publish(channel, "m") == len(matching)
            got = read_n(sub, len(matching))
            assert sorted(x[1].decode() for x in got) == sorted(matching), channel
            assert all(x[0] == b"pmessage" and x[2] == channel.encode() for x in got)
        # a client subscribed twice to one pattern hears it once
        assert sub.call("PSUBSCRIBE", "*") == [b"psubscribe", b"*", 5]
        assert r.publish("xy", "once") == 1
        assert sub.read_reply() == [b"pmessage", b"*", b"xy", b"once"]
        assert not_answered(sub)


def test_resp3_push_on_a_raw_socket(server):
    with server.conn() as sub, server.conn() as pub:
        assert sub.call("HELLO", "3")[b"proto"] == 3
        assert sub.call_raw("SUBSCRIBE", "r3") == b">3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n"
        assert sub.call_raw("PSUBSCRIBE", "r*") == b">3\r\n$10\r\npsubscribe\r\n$2\r\nr*\r\n:2\r\n"
        assert pub.call("PUBLISH", "r3", "hello") == 2
        assert sub.read_raw() == b">3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$5\r\nhello\r\n"
        assert sub.read_raw() == b">4\r\n$8\r\npmessage\r\n$2\r\nr*\r\n$2\r\nr3\r\n$5\r\nhello\r\n"
        # any command runs while subscribed, its reply a plain reply among the pushes
        assert sub.call("PING") == "PONG"
        assert sub.call("SET", "r3key", "v") == "OK"
        for i in range(20):
            assert pub.call("PUBLISH", "r3", str(i)) == 2
            sub.send(encode_command("GET", "r3key"))
            got = read_n(sub, 3)
            assert got.count(b"v") == 1, got
            assert Push([b"message", b"r3", str(i).encode()]) in got
            assert Push([b"pmessage", b"r*", b"r3", str(i).encode()]) in got
        assert sub.call_raw("UNSUBSCRIBE") == b">3\r\n$11\r\nunsubscribe\r\n$2\r\nr3\r\n:1\r\n"
        assert sub.call_raw("UNSUBSCRIBE") == b">3\r\n$11\r\nunsubscribe\r\n_\r\n:1\r\n"
        assert sub.call("PUNSUBSCRIBE") == Push([b"punsubscribe", b"r*", 0])
        assert pub.call("PUBLISH", "r3", "gone") == 0
        assert not_answered(sub)


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
def test_no_message_after_its_unsubscribe_reply(server):
    """A message already on its way when the client unsubscribes is not delivered after the
    UNSUBSCRIBE reply: a RESP2 client out of subscribed mode would take it for a reply."""
    stop = threading.Event()

    def flood(port):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            while not stop.is_set():
                s.sendall(encode_command("PUBLISH", "flood", "x" * 100) * 50)
                s.recv(1 << 20)

    with server.conn() as sub:
        # Two publishers, the first on the other worker than the subscriber (connections go to
        # the workers in turn), the second on its own: both ways of delivery race the UNSUBSCRIBE.
        publishers = [threading.Thread(target=flood, args=(server.port,), daemon=True) for _ in range(2)]
        for p in publishers:
            p.start()
            time.sleep(0.05)
        try:
            for _ in range(300):
                assert sub.call("SUBSCRIBE", "flood") == [b"subscribe", b"flood", 1]
                first = sub.read_reply()
                assert first[0] == b"message"
                sub.send(encode_command("UNSUBSCRIBE", "flood") + encode_command("PING"))
                while True:
                    frame = sub.read_reply()
                    if frame[0] == b"unsubscribe":
                        break
                    assert frame[0] == b"message"
                assert frame == [b"unsubscribe", b"flood", 0]
                assert sub.read_reply() == "PONG"
        finally:
            stop.set()
            for p in publishers:
                p.join()


def test_publish_is_not_a_change(server, r):
    with server.conn() as sub:
        sub.call("SUBSCRIBE", "cdc")
        if not IS_REDIS:
            before = r.execute_command("SEQUENCE")
        assert r.publish("cdc", "x") == 1
        assert r.execute_command("SPUBLISH", "cdc", "x") == 0
        if not IS_REDIS:
            assert r.execute_command("SEQUENCE") == before
        assert sub.read_reply() == [b"message", b"cdc", b"x"]


# ---- messages from EXEC and scripts ----

class Heard:
    """A subscriber to channel ch and to every keyevent of db 0, with keyspace events on."""

    def __init__(self, server, r):
        self.r = r
        r.config_set("notify-keyspace-events", "KEA")
        self.sub = server.client().pubsub()
        self.sub.psubscribe("__keyevent@0__:*")
        self.sub.subscribe("ch")
        for _ in range(2):
            assert self.sub.get_message(timeout=5)["type"] in ("psubscribe", "subscribe")

    def take(self):
        """(channel, data) of what came, up to a marker message published now."""
        self.r.publish("ch", "end")
        out, deadline = [], time.time() + 10
        while time.time() < deadline:
            m = self.sub.get_message(timeout=0.5)
            if not m or m["type"] not in ("message", "pmessage"):
                continue
            if m["channel"] == b"ch" and m["data"] == b"end":
                return out
            out.append((m["channel"], m["data"]))
        raise AssertionError("no marker; got %r" % out)

    def close(self):
        self.sub.close()
        self.r.config_set("notify-keyspace-events", "")


@pytest.fixture
def heard(server, r):
    h = Heard(server, r)
    yield h
    h.close()


def test_publish_in_exec_interleaves_with_keyspace_events(heard, r):
    """Messages and events go out in the order the queued commands ran, after the commit."""
    p = r.pipeline(transaction=True)
    p.set("a", "1").publish("ch", "m1").set("b", "2").incr("a").publish("ch", "m2")
    assert p.execute() == [True, 1, True, 2, 1]  # PUBLISH counts its receiver
    assert heard.take() == [(b"__keyevent@0__:set", b"a"), (b"ch", b"m1"), (b"__keyevent@0__:set", b"b"),
                            (b"__keyevent@0__:incrby", b"a"), (b"ch", b"m2")]


def test_publish_in_exec_and_scripts_that_write_nothing(heard, r):
    p = r.pipeline(transaction=True)
    p.publish("ch", "m1").get("a")
    assert p.execute() == [1, None]
    assert r.eval("return redis.call('PUBLISH', 'ch', 'm2')", 0) == 1
    assert heard.take() == [(b"ch", b"m1"), (b"ch", b"m2")]


def test_a_script_that_publishes_then_fails_sends_its_messages(heard, r):
    """As in Redis: a script's error keeps the effects of the commands before it, its messages
    too (tidekv sends them with its commit)."""
    script = "redis.call('SET', 'a', '1') redis.call('PUBLISH', 'ch', 'm1') redis.call('SET', 'b', '2') error('boom')"
    with pytest.raises(redis.ResponseError, match="boom"):
        r.eval(script, 0)
    assert heard.take() == [(b"__keyevent@0__:set", b"a"), (b"ch", b"m1"), (b"__keyevent@0__:set", b"b")]
    assert r.mget("a", "b") == [b"1", b"2"]


def test_a_script_run_again_alone_publishes_once_and_counts_its_receivers(heard, r):
    """KEYS needs every key: in tidekv the script's first run is dropped and it runs again alone."""
    script = ("local n = redis.call('PUBLISH', 'ch', 'm1') redis.call('SET', KEYS[1], '1') "
              "redis.call('KEYS', '*') return n")
    assert r.eval(script, 1, "a") == 1
    assert heard.take() == [(b"ch", b"m1"), (b"__keyevent@0__:set", b"a")]


def test_redis_py_pubsub(server, r):
    p = r.pubsub()
    p.subscribe("py1")
    p.psubscribe("py*")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    assert r.publish("py1", "hi") == 2
    got = [p.get_message(timeout=2) for _ in range(2)]
    assert [(m["type"], m["channel"], m["data"]) for m in got] == [("message", b"py1", b"hi"),
                                                                  ("pmessage", b"py1", b"hi")]
    p.unsubscribe()
    p.punsubscribe()
    p.close()


# ---------------------------------------------------------------- introspection

def test_pubsub_introspection(fresh):
    r = fresh.client()
    with fresh.conn() as a, fresh.conn() as b:
        a.send(encode_command("SUBSCRIBE", "ch1", "ch2", "other"))
        read_n(a, 3)
        assert b.call("SUBSCRIBE", "ch1") == [b"subscribe", b"ch1", 1]
        a.send(encode_command("PSUBSCRIBE", "p1*", "p2*"))
        read_n(a, 2)
        assert b.call("PSUBSCRIBE", "p1*") == [b"psubscribe", b"p1*", 2]
        a.send(encode_command("SSUBSCRIBE", "s1", "s2"))
        read_n(a, 2)
        assert sorted(r.pubsub_channels()) == [b"ch1", b"ch2", b"other"]
        assert sorted(r.pubsub_channels("ch*")) == [b"ch1", b"ch2"]
        assert r.execute_command("PUBSUB", "NUMSUB", "ch1", "ch2", "nope") == [b"ch1", 2, b"ch2", 1, b"nope", 0]
        assert r.execute_command("PUBSUB", "NUMSUB") == []
        assert r.execute_command("PUBSUB", "NUMPAT") == 2  # unique patterns
        assert sorted(r.execute_command("PUBSUB", "SHARDCHANNELS")) == [b"s1", b"s2"]
        assert r.execute_command("PUBSUB", "SHARDCHANNELS", "*2") == [b"s2"]
        assert r.execute_command("PUBSUB", "SHARDNUMSUB", "s1", "ch1") == [b"s1", 1, b"ch1", 0]
        stats = r.info("stats")
        assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (3, 2, 2)
        a.close()
        # a client that goes leaves the registry
        assert wait_for(lambda: r.execute_command("PUBSUB", "NUMPAT") == 1)
        assert r.pubsub_channels() == [b"ch1"]
        assert r.execute_command("PUBSUB", "SHARDCHANNELS") == []
        stats = r.info("stats")
        assert (stats["pubsub_channels"], stats["pubsub_patterns"], stats["pubsubshard_channels"]) == (1, 1, 0)
    r.close()


def test_pubsub_help(server):
    with server.conn() as c:
        assert c.call("PUBSUB", "HELP") == [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ]


def test_client_list_shows_subscriptions(server, r):
    with server.conn() as c:
        cid = c.call("CLIENT", "ID")
        c.send(encode_command("SUBSCRIBE", "cl1", "cl2"))
        read_n(c, 2)
        c.call("PSUBSCRIBE", "cl*")
        c.call("SSUBSCRIBE", "cl1")
        line = r.execute_command("CLIENT", "LIST", "ID", cid).decode()
        fields = dict(f.split("=", 1) for f in line.split())
        assert (fields["sub"], fields["psub"], fields["ssub"], fields["flags"], fields["cmd"]) == (
            "2", "1", "1", "P", "ssubscribe")
        c.call("RESET")
        line = r.execute_command("CLIENT", "LIST", "ID", cid).decode()
        fields = dict(f.split("=", 1) for f in line.split())
        assert (fields["sub"], fields["psub"], fields["ssub"], fields["flags"]) == ("0", "0", "0", "N")


def test_command_info_and_docs(server):
    with server.conn() as c:
        for name in ("subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "ssubscribe",
                     "sunsubscribe", "spublish"):
            info = c.call("COMMAND", "INFO", name)[0]
            assert info[0] == name.encode() and "pubsub" in info[2]
            assert name.encode() in c.call("COMMAND", "DOCS", name)
        assert c.call("COMMAND", "INFO", "pubsub")[0][0] == b"pubsub"


# ---------------------------------------------------------------- across workers, at volume

def test_across_workers_in_order(server):
    """Subscribers on both workers hear two publishers on both workers, each publisher's
    messages in the order it sent them."""
    subs = [server.conn() for _ in range(6)]
    pubs = [server.conn() for _ in range(2)]
    try:
        for s in subs:
            assert s.call("SUBSCRIBE", "xw") == [b"subscribe", b"xw", 1]
        n = 300
        for p, tag in zip(pubs, (b"a", b"b")):
            p.send(b"".join(encode_command("PUBLISH", "xw", tag + b"%d" % i) for i in range(n)))
        for p in pubs:
            assert read_n(p, n) == [6] * n
        for s in subs:
            got = [m[2] for m in read_n(s, 2 * n)]
            for tag in (b"a", b"b"):
                assert [m for m in got if m.startswith(tag)] == [tag + b"%d" % i for i in range(n)]
            assert not_answered(s)
    finally:
        for conn in subs + pubs:
            conn.close()


def test_100_subscribers_1000_messages_each(server):
    socks = []
    try:
        for _ in range(100):
            s = socket.create_connection((server.host, server.port))
            s.sendall(encode_command("SUBSCRIBE", "bulk"))
            socks.append(s)
        for s in socks:
            assert recv_exactly(s, len(b"*3\r\n$9\r\nsubscribe\r\n$4\r\nbulk\r\n:1\r\n")).endswith(b":1\r\n")
        with server.conn(timeout=30) as pub:
            pub.send(b"".join(encode_command("PUBLISH", "bulk", "m%d" % i) for i in range(1000)))
            expected = b"".join(message_bytes(b"bulk", b"m%d" % i) for i in range(1000))
            for s in socks:
                assert recv_exactly(s, len(expected)) == expected
            assert read_n(pub, 1000) == [100] * 1000
    finally:
        for s in socks:
            s.close()


def start_reader(sock, total, done):
    """Reads `total` bytes from sock on a thread; done[0] gets what it read."""
    def run():
        done[0] = recv_exactly(sock, total, timeout=60)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
@rss_test
def test_slow_subscriber_cut_at_the_pubsub_limit(fresh):
    r = fresh.client()
    limits = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    assert "pubsub 33554432 8388608 60" in limits
    slow = socket.create_connection((fresh.host, fresh.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode_command("CLIENT", "ID") + encode_command("SUBSCRIBE", "firehose"))
    slow_id = int(slow.recv(64).split(b"\r\n")[0][1:])
    with fresh.conn(timeout=30) as fast:
        assert fast.call("SUBSCRIBE", "firehose") == [b"subscribe", b"firehose", 1]
        assert wait_for(lambda: r.execute_command("PUBSUB", "NUMSUB", "firehose")[1] == 2)
        payload = b"z" * 65536
        count = 1000  # 64 MB: twice the hard limit
        done = [None]
        reader = start_reader(fast.sock, count * len(message_bytes(b"firehose", payload)), done)
        rss_before = rss_mb(fresh)
        receivers = [r.publish("firehose", payload) for _ in range(count)]
        reader.join(60)
        assert done[0] == message_bytes(b"firehose", payload) * count  # the fast one got all, in order
        assert receivers[0] == 2 and receivers[-1] == 1  # the slow one was cut on the way
        assert gone_within(r, slow_id, 5)
        assert r.execute_command("PUBSUB", "NUMSUB", "firehose") == [b"firehose", 1]
        assert rss_mb(fresh) - rss_before < 100
    if not IS_REDIS:
        assert "closed for overcoming of output buffer limits" in fresh.log()
    slow.close()
    r.close()


def test_slow_subscriber_cut_at_the_soft_limit(fresh):
    r = fresh.client()
    r.config_set("client-output-buffer-limit", "pubsub 0 1mb 1")
    slow = socket.create_connection((fresh.host, fresh.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode_command("SUBSCRIBE", "soft"))
    assert wait_for(lambda: r.execute_command("PUBSUB", "NUMSUB", "soft")[1] == 1)
    payload = b"s" * 65536
    for _ in range(128):  # 8 MB: over the soft limit beyond what the sockets hold, and no hard limit
        r.publish("soft", payload)
    assert r.execute_command("PUBSUB", "NUMSUB", "soft")[1] == 1  # not at once
    # Cut once it has stayed over the soft limit for its second (Redis checks when output grows).
    assert wait_for(lambda: r.publish("soft", "tick") == 0, 10)
    slow.close()
    r.close()


def test_subscribers_leave_while_messages_fly(server, r):
    """Subscribers on both workers subscribe and vanish, some mid-message, while two
    publishers keep publishing to them: the server stays whole and forgets every one."""
    stop = threading.Event()
    published = [0, 0]

    def publish(slot):
        with server.conn(timeout=30) as p:
            while not stop.is_set():
                p.send(encode_command("PUBLISH", "churn", "x" * 2000) * 20)
                assert all(isinstance(n, int) for n in read_n(p, 20))
                published[slot] += 20

    threads = [threading.Thread(target=publish, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    try:
        for round_ in range(40):
            socks = []
            for i in range(6):
                s = socket.create_connection((server.host, server.port))
                s.sendall(encode_command("SUBSCRIBE", "churn", "c%d" % i) + encode_command("PSUBSCRIBE", "ch*"))
                socks.append(s)
            time.sleep(0.01)
            for i, s in enumerate(socks):
                if i % 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()  # half of them reset, with unread messages
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert min(published) > 0
    assert wait_for(lambda: r.execute_command("PUBSUB", "NUMSUB", "churn") == [b"churn", 0]
                    and r.execute_command("PUBSUB", "NUMPAT") == 0, 10)
    assert r.ping()


@soak
def test_soak_many_publishers_and_subscribers(server):
    """Ten publishers and fifty subscribers for 10,000 messages each publisher: all delivered,
    each publisher's in order."""
    subs = [server.conn(timeout=60) for _ in range(50)]
    pubs = [server.conn(timeout=60) for _ in range(10)]
    try:
        for s in subs:
            s.call("SUBSCRIBE", "soak")
        n = 10000
        for i, p in enumerate(pubs):
            p.send(b"".join(encode_command("PUBLISH", "soak", "%d:%d" % (i, j)) for j in range(n)))
        for s in subs:
            got = [m[2].split(b":") for m in read_n(s, n * len(pubs))]
            for i in range(len(pubs)):
                assert [int(j) for k, j in got if int(k) == i] == list(range(n))
        for p in pubs:
            assert read_n(p, n) == [50] * n
    finally:
        for conn in subs + pubs:
            conn.close()
