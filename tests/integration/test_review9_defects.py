"""Defects found by review9 (blocked clients served at the waking commit), each checked against
redis-server 7.0 too (TIDEKV_TEST_TARGET=redis). Fixed: pops that starved beside a list with
elements (older than the serving), and two the serving brought (the output bound of when the
client blocked, and a subscribed client's own event before its reply). Still a strict xfail:
CLIENT UNBLOCK of a client the command before already served answers 1."""

import pytest

from conftest import IS_REDIS, encode_command
from helpers import started_server
from test_blocking_served_at_write import block, pipeline, srv, w, wait_blocked  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def srv1():
    """One worker: the waiter's reply goes out only after the writer's pipeline has run."""
    yield from started_server(None if IS_REDIS else ["--workers", "1"])


def test_a_pop_answering_an_error_hands_its_wake_on(srv, w):
    w.call("SET", "dst", "not a list")
    mover = block(srv, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0.5")
    popper = block(srv, "BLPOP", "src", "0.5", already=1)
    try:
        assert w.call("RPUSH", "src", "x") == 1
        assert str(mover.read_reply()).startswith("WRONGTYPE")
        assert popper.read_reply() == [b"src", b"x"]
    finally:
        mover.close()
        popper.close()


def test_no_pop_waits_on_a_list_left_with_elements(srv, w):
    both = block(srv, "BLPOP", "a", "b", "0.5")
    only_b = block(srv, "BLPOP", "b", "0.5", already=1)
    try:
        got = pipeline(w, ("MULTI",), ("RPUSH", "b", "1"), ("RPUSH", "a", "2"), ("EXEC",))
        assert got[3] == [1, 1]
        both.read_reply()
        # Redis 7.0 serves both from b (a keeps 2); 7.2 gives a to the first, b to the second.
        # Either way no client is left waiting on b while b holds an element.
        assert only_b.read_reply() is not None or w.call("LLEN", "b") == 0
    finally:
        both.close()
        only_b.close()


@pytest.mark.parametrize("how", [(), ("ERROR",)], ids=["timeout", "error"])
def test_unblocking_a_client_served_by_the_command_before(srv1, how):
    srv, w = srv1, srv1.conn()
    waiter = srv.conn(timeout=5.0)
    try:
        assert w.call("FLUSHALL") == "OK"
        wid = waiter.call("CLIENT", "ID")
        waiter.send(encode_command("BLPOP", "k", "0"))
        wait_blocked(srv, 1)
        got = pipeline(w, ("RPUSH", "k", "x"), ("CLIENT", "UNBLOCK", wid, *how), ("INFO", "clients"))
        assert waiter.read_reply() == [b"k", b"x"]
        assert got[:2] == [1, 0]
        assert b"blocked_clients:0\r\n" in got[2]
    finally:
        waiter.close()
        w.close()


# How a waiter gets served, each by one pipelined write: (setup, the blocking command, the
# commands that serve it, what it is served).
SERVINGS = {
    "lpush": ((), ("BLPOP", "k", "0"), [("LPUSH", "k", "x")], [b"k", b"x"]),
    "multi": ((), ("BLPOP", "k", "0"), [("MULTI",), ("LPUSH", "k", "x"), ("EXEC",)], [b"k", b"x"]),
    "script": ((), ("BLPOP", "k", "0"), [("EVAL", "return redis.call('LPUSH', KEYS[1], 'x')", "1", "k")],
               [b"k", b"x"]),
    "xread": ((), ("XREAD", "BLOCK", "0", "STREAMS", "k", "$"), [("XADD", "k", "1-1", "f", "v")],
              [[b"k", [[b"1-1", [b"f", b"v"]]]]]),
    "xreadgroup": ([("XGROUP", "CREATE", "k", "g", "$", "MKSTREAM")],
                   ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "k", ">"),
                   [("XADD", "k", "1-1", "f", "v")], [[b"k", [[b"1-1", [b"f", b"v"]]]]]),
}


@pytest.mark.parametrize("serving", list(SERVINGS))
def test_a_served_client_is_no_longer_blocked_to_the_next_command(srv, w, serving):
    """On one worker and on three: served by whatever woke it, it is unblocked at once (no b in
    CLIENT LIST, not counted, CLIENT UNBLOCK finds nothing to end), its reply on its way."""
    setup, blocking, serve, served = SERVINGS[serving]
    for cmd in setup:
        w.call(*cmd)
    waiter = srv.conn(timeout=5.0)
    try:
        wid = waiter.call("CLIENT", "ID")
        waiter.send(encode_command(*blocking))
        wait_blocked(srv, 1)
        got = pipeline(w, *serve, ("CLIENT", "UNBLOCK", wid, "ERROR"), ("CLIENT", "LIST", "ID", wid),
                       ("INFO", "clients"))
        assert waiter.read_reply() == served
        assert got[len(serve)] == 0
        assert b"b" not in got[len(serve) + 1].split(b" flags=")[1].split(b" ")[0]
        assert b"blocked_clients:0\r\n" in got[-1]
    finally:
        waiter.close()


def test_a_served_pops_own_event_follows_its_reply(srv, w):
    waiter = srv.conn(timeout=5.0)
    try:
        assert w.call("CONFIG", "SET", "notify-keyspace-events", "El") == "OK"
        waiter.call("HELLO", "3")
        waiter.send(encode_command("SUBSCRIBE", "__keyevent@0__:lpop"))
        assert waiter.read_reply()[0] == b"subscribe"
        waiter.send(encode_command("BLPOP", "k", "0"))
        wait_blocked(srv, 1)
        assert w.call("LPUSH", "k", "x") == 1
        got = [waiter.read_reply() for _ in range(2)]
        assert got == [[b"k", b"x"], [b"message", b"__keyevent@0__:lpop", b"k"]]
    finally:
        w.call("CONFIG", "SET", "notify-keyspace-events", "")
        waiter.close()


def test_a_waiter_is_served_within_the_output_limit_of_now(srv, w):
    assert w.call("CONFIG", "SET", "client-output-buffer-limit", "normal 1000 0 0") == "OK"
    waiter = None
    try:
        waiter = block(srv, "BLPOP", "k", "5")
        assert w.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0") == "OK"
        assert w.call("LPUSH", "k", "v" * 100000) == 1
        assert waiter.read_reply() == [b"k", b"v" * 100000]
    finally:
        w.call("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
        if waiter:
            waiter.close()
