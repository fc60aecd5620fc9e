"""Requests big enough to run off their worker thread (8 MiB of arguments or more, see
src/cmd/offload.h): their replies and effects are those of any other request — in order in a
pipeline, in the right database and protocol, in the change stream, woken pops and WATCH —
and a client that goes away, a kill -9 or a shutdown while one runs leaves the key whole or
untouched. Against redis-server the same expectations hold, but the ones about other clients
being served meanwhile (tidekv-only)."""

import os
import signal
import socket
import threading
import time

import pytest

from conftest import IS_REDIS, encode_command, tidekv_only
from test_cdc_helpers import poll_all, replay, seq

MB = 1024 * 1024
BIG = 9 * MB  # over the 8 MiB from which a request runs on a thread of its own


def big_value(tag=b"v"):
    return tag * 16 + os.urandom(BIG)


@pytest.mark.soak  # long: runs under make soak
def test_a_pipeline_around_big_writes_answers_in_order(server, c):
    first, second = big_value(b"a"), big_value(b"b")
    commands = [("SET", "big", first), ("GET", "small"), ("SET", "small", "1"), ("APPEND", "big", "!"),
                ("STRLEN", "big"), ("SET", "big", second, "GET"), ("INCR", "small"), ("GETRANGE", "big", 0, 15)]
    c.send(b"".join(encode_command(*cmd) for cmd in commands))
    replies = [c.read_reply() for _ in commands]
    assert replies == ["OK", None, "OK", len(first) + 1, len(first) + 1, first + b"!", 2, second[:16]]
    assert c.call("GET", "big") == second


def test_big_writes_land_in_the_selected_database_and_speak_resp3(server):
    value = big_value()
    with server.conn(timeout=30) as conn:
        assert isinstance(conn.call("HELLO", 3), dict)
        assert conn.call("SELECT", 3) == "OK"
        assert conn.call("HSET", "h", "f", value, "g", "x") == 2
        assert conn.call("HGETALL", "h") == {b"f": value, b"g": b"x"}
        assert conn.call("SET", "s", value, "GET") is None
        assert conn.call("SET", "s", "short", "GET") == value
    with server.conn() as conn:
        assert conn.call("EXISTS", "h") == 0  # database 0


@pytest.mark.soak  # long: runs under make soak
def test_big_writes_reach_the_change_stream_whole(server, r):
    if IS_REDIS:
        pytest.skip("POLLUPDATES is tidekv's")
    value, field = big_value(b"s"), big_value(b"h")
    start = seq(r)
    r.set("s", value)
    r.hset("h", mapping={"f": field, "g": "x"})
    r.rpush("l", value, "tail")
    p = r.pipeline(transaction=True)
    p.set("t1", "small")
    p.set("t2", value)
    p.execute()
    expected = [[[b"SET", b"s", value]], [[b"HSET", b"h", b"f", field, b"g", b"x"]],
                [[b"RPUSH", b"l", value, b"tail"]], [[b"SET", b"t1", b"small"], [b"SET", b"t2", value]]]
    for fmt in ("RESP", "JSON"):
        assert [u["commands"] for u in poll_all(r, start, fmt)] == expected, fmt


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_a_replay_of_big_writes_rebuilds_them(server, make_server, r):
    start = seq(r)
    value = big_value()
    r.set("s", value)
    r.lpush("l", value)
    r.set("s2", value[:100])  # small, after big ones in the stream
    other = make_server()
    with other.conn(timeout=30) as conn:
        assert replay(conn, poll_all(r, start, "RESP")) == []
    o = other.client()
    assert o.get("s") == value and o.lrange("l", 0, -1) == [value] and o.get("s2") == value[:100]


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_other_clients_are_served_while_a_big_write_runs(server, r):
    """A SADD of 300k members takes the offload thread a while; a PING sent after it by
    another client of the same worker is answered before it."""
    members = [b"m%07d" % i for i in range(300_000)]
    with server.conn(timeout=60) as writer, server.conn(timeout=60) as pinger:
        writer.send(encode_command("SADD", "set", *members))
        time.sleep(0.2)  # the request has arrived and runs
        pinger.send(encode_command("PING"))
        assert pinger.read_reply() == "PONG"
        assert not _has_reply(writer), "the SADD was done before the PING could be answered"
        assert writer.read_reply() == len(members)
    assert r.scard("set") == len(members)


def _has_reply(conn):
    timeout = conn.sock.gettimeout()
    conn.sock.setblocking(False)
    try:
        return len(conn.sock.recv(1, socket.MSG_PEEK)) > 0
    except BlockingIOError:
        return False
    finally:
        conn.sock.settimeout(timeout)


def wait_running(r, client_id, command):
    """Waits until the client's request has been handed to its command (CLIENT LIST cmd=)."""
    deadline = time.monotonic() + 30
    while "cmd=%s " % command not in r.execute_command("CLIENT", "LIST", "ID", client_id).decode():
        assert time.monotonic() < deadline, "%s never started" % command
        time.sleep(0.01)


def test_a_big_push_wakes_a_blocked_pop(server, r):
    value = big_value()
    result = {}

    def pop():
        with server.conn(timeout=30) as conn:
            result["got"] = conn.call("BLPOP", "q", 20)

    t = threading.Thread(target=pop)
    t.start()
    time.sleep(0.3)
    assert r.lpush("q", value) == 1
    t.join(30)
    assert result["got"] == [b"q", value]


def test_a_big_write_aborts_a_transaction_watching_its_key(server, r):
    with server.conn() as watcher:
        assert watcher.call("WATCH", "k") == "OK"
        r.set("k", big_value())
        assert watcher.call("MULTI") == "OK"
        assert watcher.call("SET", "k", "mine") == "QUEUED"
        assert watcher.call("EXEC") is None
    assert len(r.get("k")) == BIG + 16


def test_a_big_write_inside_multi(server, r):
    value = big_value()
    p = r.pipeline(transaction=True)
    p.set("k", value)
    p.strlen("k")
    assert p.execute() == [True, len(value)]


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
def test_a_client_gone_while_its_big_write_runs_leaves_the_key_whole(server, r):
    for round in range(6):
        value = big_value(b"%d" % round)
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(encode_command("SET", "k", value))
        time.sleep(0.05 * round)
        sock.close()
        got = r.get("k")
        assert got is None or len(got) == len(value)
        assert r.ping()


@tidekv_only
def test_a_client_killed_while_its_big_write_runs_gets_it_done_whole(server, r):
    members = [b"m%07d" % i for i in range(300_000)]
    with server.conn(timeout=60) as conn:
        my_id = conn.call("CLIENT", "ID")
        conn.send(encode_command("SADD", "set", *members) + encode_command("SET", "after", "1"))
        wait_running(r, my_id, "sadd")
        assert r.client_kill_filter(_id=my_id) == 1
    # A command on the key waits for the SADD once the big-request thread holds the key (before
    # that, on a busy machine, it runs first and finds no set): it sees the set whole or not at all.
    reader = server.client(socket_timeout=120)
    deadline = time.monotonic() + 60
    while (card := reader.scard("set")) != len(members):
        assert card == 0 and time.monotonic() < deadline, card
        time.sleep(0.01)
    assert r.get("after") is None  # never run: its client was gone
    assert r.ping()


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
@pytest.mark.parametrize("stop", ["kill9", "sigterm"])
def test_a_server_stopped_while_a_big_write_runs_keeps_the_key_whole_or_untouched(make_server, stop):
    s = make_server(["--appendfsync", "always"])
    r = s.client()
    r.set("k", "old")
    value = big_value()
    sock = socket.create_connection(("127.0.0.1", s.port))
    sock.sendall(encode_command("CLIENT", "ID"))
    client_id = int(sock.recv(100)[1:-2])
    sock.sendall(encode_command("SET", "k", value))
    wait_running(r, client_id, "set")
    if stop == "kill9":
        s.kill9()
    else:
        s.proc.send_signal(signal.SIGTERM)
        assert s.wait_exit(30) == 0
    sock.close()
    s.start()
    got = s.client().get("k")
    assert got in (b"old", value), (len(got) if got else got)


@tidekv_only
def test_an_acknowledged_big_write_survives_kill9_with_appendfsync_always(make_server):
    s = make_server(["--appendfsync", "always"])
    r = s.client()
    value = big_value()
    assert r.set("k", value)
    s.kill9()
    s.start()
    assert s.client().get("k") == value


@tidekv_only
def test_a_big_reply_of_a_big_write_is_cut_at_the_output_limit(server, r):
    """SET … GET of a big value over a big value: the old value is over the client's output
    limit, so the client is closed without it, as when the command runs on its worker; the
    write itself is done."""
    old, new = big_value(b"o"), big_value(b"n")
    r.set("k", old)
    r.config_set("client-output-buffer-limit", "normal 4mb 4mb 0")
    try:
        with server.conn(timeout=30) as conn:
            conn.send(encode_command("SET", "k", new, "GET"))
            assert conn.is_closed(timeout=30)
    finally:
        r.config_set("client-output-buffer-limit", "normal 1gb 256mb 60")
    assert r.get("k") == new
