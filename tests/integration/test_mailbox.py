"""The workers' mailboxes (net/mailbox.c): how any thread hands a client on any worker a
message. Blocked clients woken by a push made on the other worker, CLIENT KILL and CLIENT
UNBLOCK across workers (these hold against Redis too), and push messages posted with the
test-only DEBUG PUSH: a RESP3 push frame, a plain array in RESP2, in the order posted, after the
client's pending replies, counted against its output limits, dropped for a client that has gone.

The server runs two workers and hands connections to them in turn, so two connections opened
one after the other, with no other connection made in between, are on different workers."""

import time

import pytest

from conftest import IS_REDIS, Push, RespError, Server, encode_command, tidekv_only
from helpers import closed_within, gone_within, started_server
from test_blocking import not_answered, reply_within, wait_blocked_clients


@pytest.fixture(scope="module")
def mserver():
    yield from started_server(None if IS_REDIS else ["--workers", "2", "--debug-fault-injection", "yes"])


@pytest.fixture
def mr(mserver):
    c = mserver.client(decode_responses=False)
    c.flushall()
    c.config_set("client-output-buffer-limit", "normal 0 0 0")
    yield c
    c.close()


@pytest.fixture
def pair(mserver, mr):
    """Two raw connections, on different workers."""
    mr.ping()  # the pool's connection is made before the pair: it does not come between them
    a, b = mserver.conn(timeout=5.0), mserver.conn(timeout=5.0)
    yield a, b
    a.close()
    b.close()


# ---------------------------------------------------------------- wake-ups, CLIENT KILL and UNBLOCK

def test_blocked_client_woken_by_a_push_on_the_other_worker(pair, mr):
    a, b = pair
    for waiter, pusher in ((a, b), (b, a)):
        waiter.send(encode_command("BLPOP", "q", "0"))
        assert wait_blocked_clients(mr, 1) == 1
        assert pusher.call("RPUSH", "q", "x") == 1
        assert reply_within(waiter, 2.0) == [b"q", b"x"]
        assert wait_blocked_clients(mr, 0) == 0
    # many wakes in a row, each served once and in turn
    for i in range(50):
        a.send(encode_command("BRPOP", "q", "0"))
        assert b.call("LPUSH", "q", str(i)) == 1
        assert reply_within(a, 2.0) == [b"q", str(i).encode()]
    assert mr.exists("q") == 0


def test_client_kill_across_workers(pair, mr):
    a, b = pair
    a_id = a.call("CLIENT", "ID")
    a.send(encode_command("BLPOP", "q", "0"))  # blocked: the kill must reach it anyway
    assert wait_blocked_clients(mr, 1) == 1
    assert b.call("CLIENT", "KILL", "ID", a_id) == 1
    assert closed_within(a.sock, 2.0)
    assert gone_within(mr, a_id, 2.0)
    assert wait_blocked_clients(mr, 0) == 0
    assert b.call("CLIENT", "KILL", "ID", a_id) == 0
    assert b.call("PING") == "PONG"


def test_client_unblock_across_workers(pair, mr):
    a, b = pair
    ids = {a: a.call("CLIENT", "ID"), b: b.call("CLIENT", "ID")}
    for waiter, other in ((a, b), (b, a)):
        waiter.send(encode_command("BLPOP", "q", "0"))
        assert wait_blocked_clients(mr, 1) == 1
        assert other.call("CLIENT", "UNBLOCK", ids[waiter]) == 1
        assert reply_within(waiter, 2.0) is None
        waiter.send(encode_command("BZPOPMIN", "z", "0"))
        assert wait_blocked_clients(mr, 1) == 1
        # asked twice at once (the second may come before its worker acts): unblocked once
        other.send(encode_command("CLIENT", "UNBLOCK", ids[waiter], "ERROR") * 2)
        assert other.read_reply() == 1
        assert other.read_reply() in (0, 1)
        assert reply_within(waiter, 2.0) == RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        assert waiter.call("PING") == "PONG"
        assert other.call("CLIENT", "UNBLOCK", ids[waiter], "ERROR") == 0
    assert wait_blocked_clients(mr, 0) == 0


# ---------------------------------------------------------------- push messages (DEBUG PUSH)

@tidekv_only
def test_push_is_a_push_frame_in_resp3_and_an_array_in_resp2(pair, mr):
    target, sender = pair
    tid = target.call("CLIENT", "ID")
    assert sender.call("DEBUG", "PUSH", tid, "message", "news", "hello") == 1
    assert target.read_raw() == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    target.call("HELLO", "3")
    assert sender.call("DEBUG", "PUSH", tid, "message", "news", "") == 1
    assert target.read_raw() == b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$0\r\n\r\n"
    # pushed to itself, through its own worker's mailbox: after its reply
    target.send(encode_command("DEBUG", "PUSH", tid, "self"))
    assert target.read_reply() == 1
    assert target.read_reply() == Push([b"self"])
    assert target.call("PING") == "PONG"


@tidekv_only
def test_pushes_arrive_in_the_order_posted(pair, mr):
    target, sender = pair
    tid = target.call("CLIENT", "ID")
    target.call("HELLO", "3")
    n = 2000
    sender.send(b"".join(encode_command("DEBUG", "PUSH", tid, "seq", str(i)) for i in range(n)))
    for i in range(n):
        assert target.read_reply() == Push([b"seq", str(i).encode()])
    assert [sender.read_reply() for _ in range(n)] == [1] * n
    assert not_answered(target)


@tidekv_only
def test_push_reaches_a_blocked_client_which_stays_blocked(pair, mr):
    target, sender = pair
    tid = target.call("CLIENT", "ID")
    target.call("HELLO", "3")
    target.send(encode_command("BLPOP", "q", "0"))
    assert wait_blocked_clients(mr, 1) == 1
    assert sender.call("DEBUG", "PUSH", tid, "while", "blocked") == 1
    assert reply_within(target, 2.0) == Push([b"while", b"blocked"])
    assert mr.info("clients")["blocked_clients"] == 1
    assert sender.call("RPUSH", "q", "x") == 1
    assert reply_within(target, 2.0) == [b"q", b"x"]


@tidekv_only
def test_push_to_a_client_that_has_gone(pair, mr):
    target, sender = pair
    tid = target.call("CLIENT", "ID")
    # posted while it goes: the mail for it is dropped, nothing else is hurt
    sender.send(b"".join(encode_command("DEBUG", "PUSH", tid, "w" * 100) for _ in range(500)))
    target.close()
    replies = [sender.read_reply() for _ in range(500)]
    assert all(rep == 1 or rep == RespError("ERR No such client") for rep in replies), set(map(str, replies))
    assert gone_within(mr, tid, 2.0)
    assert sender.call("DEBUG", "PUSH", tid, "late") == RespError("ERR No such client")
    assert sender.call("DEBUG", "PUSH", 0, "x") == RespError("ERR No such client")
    assert sender.call("PING") == "PONG"


@tidekv_only
def test_pushes_count_against_the_output_limit(pair, mr, mserver):
    target, sender = pair
    tid = target.call("CLIENT", "ID")
    target.call("HELLO", "3")
    mr.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    word = "x" * 65536
    sent = 0
    # The target reads nothing: once the socket's buffers are full, its output grows to the
    # limit and it is closed, as a subscriber that does not keep up is.
    while sent < 2000:
        rep = sender.call("DEBUG", "PUSH", tid, word)
        if rep != 1:
            assert rep == RespError("ERR No such client")
            break
        sent += 1
    assert sent < 2000, "the target was never closed"
    assert gone_within(mr, tid, 2.0)
    assert closed_within(target.sock, 5.0)
    assert "closed for overcoming of output buffer limits" in mserver.log()
    assert sender.call("PING") == "PONG"


@tidekv_only
def test_debug_push_errors(mserver, mr):
    with mserver.conn() as c:
        assert c.call("DEBUG", "PUSH", "abc", "x") == RespError("ERR value is not an integer or out of range")
        assert c.call("DEBUG", "PUSH", c.call("CLIENT", "ID")).startswith("ERR wrong number of arguments")
    s = Server()  # without --debug-fault-injection yes
    try:
        s.start()
        with s.conn() as c:
            assert c.call("DEBUG", "PUSH", c.call("CLIENT", "ID"), "x") == RespError(
                "ERR DEBUG is for tests only: start the server with --debug-fault-injection yes")
    finally:
        s.cleanup()
