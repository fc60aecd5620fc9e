"""Pipelining: many commands in flight, answered in order."""

import socket
import time

import redis

from conftest import encode_command

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
