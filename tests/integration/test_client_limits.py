"""Per-client limits. client-output-buffer-limit: a client that does not read its replies is
disconnected (hard limit at once, soft limit after its seconds) instead of growing server
memory; the option's syntax and errors follow Redis. client-query-buffer-limit: a client
whose unparsed input grows past it is disconnected."""

import socket

import pytest

from conftest import encode_command, tidekv_only
from helpers import SlowReader, gone_within

BIG_ITEMS = 100_000
ITEM = "x" * 100  # LRANGE of the whole list is about 11 MB


@pytest.fixture
def big_list(server):
    r = server.client()
    p = r.pipeline(transaction=False)
    for i in range(0, BIG_ITEMS, 10_000):
        p.rpush("big", *[ITEM] * 10_000)
    p.execute()
    yield r
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    r.close()


@pytest.mark.parametrize("limit, commands", [
    ("normal 1mb 0 0", [("LRANGE", "big", 0, -1)]),
    # Each reply is 1.1 MB, under the limit alone; fifty pipelined ones are not.
    ("normal 5mb 0 0", [("LRANGE", "big", 0, 9_999)] * 50),
], ids=["one-big-reply", "pipelined-replies"])
def test_hard_limit_closes_a_client_at_once(server, big_list, limit, commands):
    r = big_list
    r.config_set("client-output-buffer-limit", limit)
    slow = SlowReader(server, *commands)
    try:
        assert gone_within(r, slow.id, 5)
    finally:
        slow.close()
    assert r.ping()  # everyone else is served
    assert r.llen("big") == BIG_ITEMS


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
def test_soft_limit_closes_after_its_seconds(server, big_list):
    r = big_list
    r.config_set("client-output-buffer-limit", "normal 0 1mb 1")
    slow = SlowReader(server, ("LRANGE", "big", 0, -1))
    try:
        assert not gone_within(r, slow.id, 0.5)  # over the soft limit, but not for long yet
        assert gone_within(r, slow.id, 3.5)
    finally:
        slow.close()
    assert r.ping()


def test_within_limits_a_big_reply_is_delivered(server, big_list):
    r = big_list
    r.config_set("client-output-buffer-limit", "normal 64mb 32mb 10")
    assert len(r.lrange("big", 0, -1)) == BIG_ITEMS


def test_config_syntax_and_errors(server):
    r = server.client()
    try:
        r.config_set("client-output-buffer-limit", "normal 10mb 5mb 30")
        got = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        assert got.startswith("normal 10485760 5242880 30 ")
        for bad, why in [
            ("normal 1mb 1mb", "Wrong number of arguments in buffer limit configuration."),
            ("nobody 1mb 1mb 1", "Invalid client class specified in buffer limit configuration."),
            ("normal lots 1mb 1", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
        ]:
            with pytest.raises(Exception) as e:
                r.config_set("client-output-buffer-limit", bad)
            assert why in str(e.value), str(e.value)
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == got
        r.config_set("client-output-buffer-limit", "normal 0 0 0")
    finally:
        r.close()


def output_limits_of(server):
    r = server.client()
    try:
        return r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    finally:
        r.close()


@tidekv_only
def test_normal_clients_are_bounded_by_default(make_server):
    got = output_limits_of(make_server())
    assert got == "normal 1073741824 268435456 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


@tidekv_only
def test_limit_in_a_config_file(make_server, tmp_path):
    conf = tmp_path / "t.conf"
    conf.write_text("client-output-buffer-limit normal 2mb 1mb 5 pubsub 1mb 1mb 1\n")
    got = output_limits_of(make_server(config_file=conf))
    assert got == "normal 2097152 1048576 5 slave 268435456 67108864 60 pubsub 1048576 1048576 1"


def test_query_buffer_limit_closes_a_client(server):
    r = server.client()
    try:
        r.config_set("client-query-buffer-limit", "1mb")
        assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": "1048576"}
        conn = SlowReader(server)
        # A 3 MB bulk string that never ends: the unparsed input passes the limit.
        try:
            conn.sock.sendall(b"*2\r\n$3\r\nSET\r\n$3000000\r\n" + b"x" * 2_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert gone_within(r, conn.id, 2)
        conn.close()
        assert r.ping()
    finally:
        r.config_set("client-query-buffer-limit", "1gb")
        r.close()


def test_writes_before_a_reply_over_the_limit_are_kept(server, big_list):
    """Pipelined writes run in the same write group as a read whose reply trips the hard
    limit: the client is closed, and the writes it sent before are still written."""
    r = big_list
    r.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    writes = [("SET", "kept%d" % i, "v") for i in range(20)]
    with socket.create_connection((server.host, server.port)) as s:
        s.sendall(b"".join(encode_command(*w) for w in writes) + encode_command("LRANGE", "big", 0, -1))
        s.settimeout(5)
        received = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            received += chunk
    assert len(received) < 1 << 20, "the big reply was not sent"
    assert r.mget(["kept%d" % i for i in range(20)]) == [b"v"] * 20
