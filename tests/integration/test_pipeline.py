"""Pipelining: many commands in flight, answered in order."""

import socket
import time

import pytest
import redis

from conftest import encode_command, raw, tidekv_only

def test_redis_py_pipeline_10000_commands(r):
    pipe = r.pipeline(transaction=False)
    n = 10000
    for i in range(n):
        if i % 3 == 0:
            pipe.set("p%d" % i, i)
        elif i % 3 == 1:
            pipe.incr("pctr")
        else:
            pipe.get("p%d" % (i - 2))
    res = pipe.execute()
    assert len(res) == n
    ctr = 0
    for i, v in enumerate(res):
        if i % 3 == 0:
            assert v is True
        elif i % 3 == 1:
            ctr += 1
            assert v == ctr
        else:
            assert v == str(i - 2).encode()


def test_raw_pipeline_ordering(server):
    n = 5000
    data = b"".join(encode_command("ECHO", "msg-%d" % i) for i in range(n))
    with server.conn(timeout=10) as c:
        c.send(data)
        for i in range(n):
            assert c.read_reply() == b"msg-%d" % i


def test_pipeline_errors_do_not_stop_the_batch(r):
    r.set("str", "abc")
    pipe = r.pipeline(transaction=False)
    pipe.set("a", 1)
    pipe.incr("str")
    pipe.execute_command("NOSUCHCMD")
    pipe.incr("a")
    pipe.get("a")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True
    assert isinstance(res[1], redis.ResponseError)
    assert str(res[1]) == "value is not an integer or out of range"
    assert isinstance(res[2], redis.ResponseError)
    assert str(res[2]).startswith("unknown command 'NOSUCHCMD'")
    assert res[3] == 2
    assert res[4] == b"2"


def test_pipeline_with_large_replies_read_slowly(server, r):
    """The server must buffer big outputs for a slow reader and deliver them
    completely and in order."""
    value = b"x" * 100000
    r.set("big", value)
    n = 150
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(encode_command("GET", "big") * n + encode_command("PING"))
        time.sleep(0.5)  # let the server fill its output buffer
        one = b"$100000\r\n" + value + b"\r\n"
        want = one * n + b"+PONG\r\n"
        buf = bytearray()
        while len(buf) < len(want):
            chunk = s.recv(65536)
            assert chunk, "connection closed after %d bytes" % len(buf)
            buf += chunk
        assert bytes(buf) == want
    assert r.ping() is True


def test_pipeline_interleaved_clients(server):
    """Two connections pipelining at the same time get their own replies."""
    a = server.conn(timeout=10)
    b = server.conn(timeout=10)
    try:
        a.send(b"".join(encode_command("ECHO", "a%d" % i) for i in range(2000)))
        b.send(b"".join(encode_command("ECHO", "b%d" % i) for i in range(2000)))
        for i in range(2000):
            assert a.read_reply() == b"a%d" % i
            assert b.read_reply() == b"b%d" % i
    finally:
        a.close()
        b.close()


# ---- pipelines run as groups: one write, one commit per command ----

def send_pipeline(server, *commands):
    """Sends the commands in one write and returns one reply per command."""
    with server.conn(timeout=10) as c:
        c.send(b"".join(encode_command(*cmd) for cmd in commands))
        return [c.read_reply() for _ in commands]


def test_pipelined_commands_see_each_others_writes(server):
    replies = send_pipeline(
        server,
        ("SET", "pk", "1"), ("INCR", "pk"), ("GET", "pk"),
        ("RPUSH", "pl", "a", "b", "c"), ("LPOP", "pl"), ("LRANGE", "pl", 0, -1),
        ("SADD", "ps", "x", "y"), ("SREM", "ps", "x"), ("SMEMBERS", "ps"),
        ("ZADD", "pz", 1, "m"), ("ZINCRBY", "pz", 2, "m"), ("ZSCORE", "pz", "m"),
        ("HSET", "ph", "f", "v"), ("DEL", "ph"), ("EXISTS", "ph"),
        ("HSET", "ph", "g", "w"), ("HGETALL", "ph"),
        ("SET", "pe", "x", "PX", 100000), ("PTTL", "pe"), ("INCR", "ph"), ("GET", "pk"),
    )
    assert replies[:3] == ["OK", 2, b"2"]
    assert replies[3:6] == [3, b"a", [b"b", b"c"]]
    assert replies[6:9] == [2, 1, [b"y"]]
    assert replies[9:12] == [1, b"3", b"3"]
    assert replies[12:17] == [1, 1, 0, 1, [b"g", b"w"]]
    assert replies[17] == "OK" and 99000 < replies[18] <= 100000
    assert replies[19].startswith("WRONGTYPE") and replies[20] == b"2"


@tidekv_only
def test_pipelined_writes_are_one_commit_each(server, r):
    from test_cdc_helpers import poll_all, seq

    start = seq(r)
    before = r.info("stats")
    cmds = [("SET", "c%d" % i, "v%d" % i) for i in range(100)]
    cmds[50:50] = [("GET", "c0"), ("INCR", "c0"), ("HSET", "h", "a", "1", "b", "2")]
    replies = send_pipeline(server, *cmds)
    after = r.info("stats")
    assert after["grouped_writes"] - before["grouped_writes"] == 101
    assert after["write_groups"] - before["write_groups"] <= 10, "the pipeline was written in a few RocksDB writes"
    assert replies[50] == b"v0" and replies[51].startswith("ERR value is not an integer")
    assert replies[52] == 2 and replies.count("OK") == 100
    updates = poll_all(r, start, extra=("STRICT",))
    written = [c for c in cmds if c[0] in ("SET", "HSET")]
    assert len(updates) == len(written)
    expected_seq = start + 1
    for u, cmd in zip(updates, written):
        assert u["commands"] == [[str(a).encode() for a in cmd]]
        assert u["sequence"] == expected_seq, "each command is a commit with its own sequences"
        expected_seq += u["count"]
    assert expected_seq - 1 == seq(r)


def test_pipeline_stops_at_a_blocking_command(server, r):
    with server.conn(timeout=10) as c:
        c.send(encode_command("SET", "before", "1") + encode_command("BLPOP", "waited", 0)
               + encode_command("GET", "before") + encode_command("SET", "after", "2"))
        assert c.read_reply() == "OK"
        time.sleep(0.3)
        assert r.get("after") is None, "the commands after BLPOP wait for it"
        r.rpush("waited", "x")
        assert c.read_reply() == [b"waited", b"x"]
        assert c.read_reply() == b"1" and c.read_reply() == "OK"
    assert r.get("after") == b"2"


def test_pipeline_with_transaction_and_protocol_error(server, r):
    reply = raw(server, encode_command("SET", "t1", "1") + encode_command("MULTI")
                + encode_command("INCR", "t1") + encode_command("EXEC") + encode_command("GET", "t1")
                + encode_command("SET", "t2", "2") + b"*1\r\n$x\r\n" + encode_command("SET", "t3", "3"))
    assert reply == (b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:2\r\n$1\r\n2\r\n+OK\r\n"
                     b"-ERR Protocol error: invalid bulk length\r\n")
    assert r.get("t2") == b"2" and r.get("t3") is None


def test_pipelined_writes_invalidate_watch(server, r):
    watcher = server.client()
    pipe = watcher.pipeline()
    pipe.watch("w")
    pipe.multi()
    pipe.set("w", "mine")
    send_pipeline(server, ("SET", "x", "1"), ("SET", "w", "theirs"), ("SET", "y", "1"))
    with pytest.raises(redis.WatchError):
        pipe.execute()
    assert r.get("w") == b"theirs"


@tidekv_only
def test_concurrent_pipelines_commit_each_command(server, r):
    """Many clients pipelining at once share write groups; every command is still its own
    commit, INCR replies are all distinct, and nothing is lost or repeated."""
    import threading

    from test_cdc_helpers import poll_all, seq

    start = seq(r)
    clients, per_client = 16, 60
    replies = {}

    def work(n):
        cmds = []
        for i in range(per_client):
            cmds.append(("INCR", "shared") if i % 2 else ("SET", "k%d-%d" % (n, i), "v"))
        replies[n] = send_pipeline(server, *cmds)

    before = r.info("stats")
    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = r.info("stats")
    writes = after["grouped_writes"] - before["grouped_writes"]
    assert writes == clients * per_client
    assert after["write_groups"] - before["write_groups"] < writes / 4, "writes share RocksDB writes"
    incrs = sorted(v for rs in replies.values() for v in rs if isinstance(v, int))
    assert incrs == list(range(1, clients * per_client // 2 + 1))
    assert all(rs.count("OK") == per_client // 2 for rs in replies.values())
    updates = poll_all(r, start, extra=("STRICT",))
    assert len(updates) == clients * per_client
    assert all(len(u["commands"]) == 1 for u in updates)
    sets = {u["commands"][0][1] for u in updates if u["commands"][0][0] == b"SET" and u["commands"][0][1] != b"shared"}
    assert len(sets) == clients * per_client // 2
    expected = start + 1
    for u in updates:
        assert u["sequence"] == expected
        expected += u["count"]
