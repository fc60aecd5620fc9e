"""RESP3 replies after HELLO 3 (raw sockets: redis-py 4.3 has no RESP3)."""

import pytest

from conftest import Verbatim


@pytest.fixture
def c3(server):
    conn = server.conn()
    hello = conn.call("HELLO", "3")
    assert isinstance(hello, dict) and hello[b"proto"] == 3
    yield conn
    conn.close()


def test_null_is_underscore(c3):
    assert c3.call_raw("GET", "missing") == b"_\r\n"
    assert c3.call_raw("SET", "a", "1", "XX") == b"_\r\n"
    assert c3.call_raw("GETDEL", "missing") == b"_\r\n"
    assert c3.call_raw("RANDOMKEY") == b"_\r\n"
    assert c3.call_raw("CLIENT", "GETNAME") == b"_\r\n"


def test_mget_with_missing_key(c3):
    assert c3.call("SET", "a", "v") == "OK"
    assert c3.call_raw("MGET", "a", "nokey") == b"*2\r\n$1\r\nv\r\n_\r\n"


def test_config_get_is_a_map(c3, server):
    port = str(server.port).encode()
    assert c3.call_raw("CONFIG", "GET", "port") == (
        b"%1\r\n$4\r\nport\r\n$" + str(len(port)).encode() + b"\r\n" + port + b"\r\n")
    d = c3.call("CONFIG", "GET", "*max*")
    assert isinstance(d, dict) and b"maxclients" in d
    assert c3.call_raw("CONFIG", "GET", "nosuchoption") == b"%0\r\n"


def test_info_is_a_string(c3):
    raw_reply = c3.call_raw("INFO", "server")
    assert raw_reply[:1] in (b"$", b"=")
    c3.send(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
    v = c3.read_reply()
    assert isinstance(v, bytes)
    if isinstance(v, Verbatim):
        assert v.fmt == b"txt"
    assert b"# Server" in v and b"redis_version:" in v


def test_simple_types_unchanged(c3):
    assert c3.call_raw("PING") == b"+PONG\r\n"
    assert c3.call_raw("SET", "k", "v") == b"+OK\r\n"
    assert c3.call_raw("GET", "k") == b"$1\r\nv\r\n"
    assert c3.call_raw("EXISTS", "k") == b":1\r\n"
    assert c3.call_raw("INCR", "n") == b":1\r\n"
    assert c3.call_raw("INCRBYFLOAT", "f", "1.5") == b"$3\r\n1.5\r\n"
    assert c3.call_raw("GET", ) == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c3.call_raw("TTL", "k") == b":-1\r\n"


def test_arrays(c3):
    c3.call("SET", "only", "1")
    assert c3.call_raw("SCAN", "0") == b"*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"
    assert c3.call_raw("KEYS", "*") == b"*1\r\n$4\r\nonly\r\n"
    t = c3.call("TIME")
    assert isinstance(t, list) and len(t) == 2


def test_hello_reply_is_map(server):
    with server.conn() as c:
        c.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        raw_reply = c.read_raw()
    assert raw_reply.startswith(b"%7\r\n")
    assert b"$5\r\nproto\r\n:3\r\n" in raw_reply


def test_exec_aborted_by_watch_is_null(c3, server):
    assert c3.call("WATCH", "w") == "OK"
    cl = server.client()
    cl.set("w", "changed")
    cl.close()
    assert c3.call("MULTI") == "OK"
    assert c3.call("GET", "w") == "QUEUED"
    assert c3.call_raw("EXEC") == b"_\r\n"


def test_exec_in_resp3(c3):
    assert c3.call("MULTI") == "OK"
    c3.call("SET", "a", "1")
    c3.call("GET", "nokey")
    assert c3.call_raw("EXEC") == b"*2\r\n+OK\r\n_\r\n"


def test_back_to_resp2(c3):
    assert c3.call_raw("GET", "missing") == b"_\r\n"
    assert isinstance(c3.call("HELLO", "2"), list)
    assert c3.call_raw("GET", "missing") == b"$-1\r\n"
    assert c3.call_raw("CONFIG", "GET", "nosuchoption") == b"*0\r\n"
