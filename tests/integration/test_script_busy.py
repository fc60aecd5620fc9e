"""BUSY, SCRIPT KILL, FUNCTION KILL and SHUTDOWN NOSAVE while a script runs, for the clients of
the script's own worker thread: with `workers 1` every client is one (tidekv once read none of
them until the script ended, so an endless script hung the server for good).

Everything not marked tidekv_only also holds against redis-server 7.0
(TIDEKV_TEST_TARGET=redis), where `workers` is not passed."""

import socket
import struct
import time

import pytest

from conftest import IS_REDIS, ConnectionClosed, RespError, Simple, encode_command, raw
from test_functions import BUSY_EVAL, BUSY_FUNCTION, SPIN, as_dict, lib_code, run_in_thread
from test_scripting import start_script

KILLED = "Script killed by user with SCRIPT KILL..."
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either "
              "wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")


def busy_server(make_server, workers=1):
    """A server (with that many worker threads: tidekv) where a script is busy after 200 ms."""
    s = make_server(None if IS_REDIS else ["--workers", str(workers)])
    with s.conn() as c:
        assert c.call("CONFIG", "SET", "busy-reply-threshold", 200) == Simple("OK")
    return s


def wait_busy(s, busy):
    """Waits until PING gets the busy error (at most 10 s)."""
    deadline = time.monotonic() + 10
    with s.conn() as c:
        while c.call("PING") != RespError(busy):
            assert time.monotonic() < deadline, "the script never got busy"
            time.sleep(0.05)


def spin_eval(s, *keys, body=SPIN):
    """Starts an endless EVAL and waits until it is busy; returns its thread and result."""
    result = {}
    t = start_script(s, body, result, *keys)
    wait_busy(s, BUSY_EVAL)
    return t, result


def test_endless_script_is_killed_by_a_client_of_its_own_worker(make_server):
    s = busy_server(make_server)
    idle = s.conn()
    assert idle.call("PING") == Simple("PONG")  # connected before the script
    t, result = spin_eval(s)
    try:
        fresh = s.conn()  # connected while it is busy
        assert fresh.call("PING") == RespError(BUSY_EVAL)
        assert fresh.call("GET", "x") == RespError(BUSY_EVAL)
        assert idle.call("GET", "x") == RespError(BUSY_EVAL)
        assert idle.call("PING") == RespError(BUSY_EVAL)
        assert fresh.call("FUNCTION", "KILL") == RespError(BUSY_EVAL)  # not a function
        assert idle.call("SCRIPT", "KILL") == Simple("OK")
    finally:
        t.join(20)
    assert not t.is_alive()
    assert result["error"].startswith(KILLED)
    assert fresh.call("PING") == Simple("PONG")
    assert idle.call("SET", "x", "1") == Simple("OK")
    assert fresh.call("GET", "x") == b"1"
    assert idle.call("SCRIPT", "KILL") == RespError("NOTBUSY No scripts in execution right now.")


def test_endless_function_is_killed_by_a_client_of_its_own_worker(make_server):
    s = busy_server(make_server)
    idle = s.conn()
    spin = lib_code("slow", "redis.register_function{function_name='spin', flags={'no-writes'}, "
                            "callback=function() %s end}" % SPIN)
    assert idle.call("FUNCTION", "LOAD", spin) == b"slow"
    t, failure = run_in_thread(s, "FCALL", "spin", "0")
    wait_busy(s, BUSY_FUNCTION)
    try:
        fresh = s.conn()
        assert fresh.call("GET", "x") == RespError(BUSY_FUNCTION)
        for conn in (fresh, idle):
            running = as_dict(as_dict(conn.call("FUNCTION", "STATS"))["running_script"])
            assert running["name"] == b"spin"
            assert running["command"] == [b"FCALL", b"spin", b"0"]
            assert running["duration_ms"] >= 200
        assert idle.call("SCRIPT", "KILL") == RespError(BUSY_FUNCTION)  # SCRIPT KILL does not stop a function
        assert fresh.call("FUNCTION", "KILL") == Simple("OK")
    finally:
        t.join(20)
    assert not t.is_alive()
    assert len(failure) == 1 and failure[0].startswith(KILLED), failure
    assert as_dict(idle.call("FUNCTION", "STATS"))["running_script"] is None
    assert fresh.call("PING") == Simple("PONG")


@pytest.mark.parametrize("workers", [1, 2])
def test_shutdown_nosave_stops_an_unkillable_script_and_keeps_nothing_of_it(make_server, workers):
    """With 2 workers (tidekv), connections are handed to the workers in turn: after the
    script's and wait_busy's, the malformed request lands on the script's worker and the
    SHUTDOWN comes from the other one."""
    s = busy_server(make_server, workers)
    t, result = spin_eval(s, "x", body="redis.call('SET', KEYS[1], 'partial') " + SPIN)
    try:
        # Answered and closed, while the script's write waits, uncommitted, in its worker's
        # write group (the script declared its key: it runs in the group).
        assert raw(s, b"*1\r\n$x\r\n").startswith(b"-ERR Protocol error")
        other = s.conn()
        assert other.call("GET", "x") == RespError(BUSY_EVAL)
        assert other.call("SCRIPT", "KILL") == RespError(UNKILLABLE)
        assert other.call("SHUTDOWN") == RespError(BUSY_EVAL)  # only SHUTDOWN NOSAVE, as the error says
        with pytest.raises(ConnectionClosed):
            other.call("SHUTDOWN", "NOSAVE")  # no reply: the server goes
        assert s.wait_exit(10) == 0
    finally:
        if s.running:
            s.kill9()
        t.join(20)
    assert not t.is_alive()
    s.start()
    with s.conn() as c:
        assert c.call("GET", "x") is None  # the script never ended: nothing of it was written


def test_transaction_and_connection_commands_while_busy(make_server):
    s = busy_server(make_server)
    tx = s.conn()
    t, result = spin_eval(s)
    try:
        assert tx.call("WATCH", "w") == Simple("OK")
        assert tx.call("MULTI") == Simple("OK")
        assert tx.call("SET", "k", "v") == RespError(BUSY_EVAL)
        with s.conn() as c:
            assert c.call("MULTI") == Simple("OK")
            assert c.call("EXEC") == RespError("EXECABORT Transaction discarded because of: " + BUSY_EVAL)
            assert c.call("EXEC") == RespError("EXECABORT Transaction discarded because of: " + BUSY_EVAL)
            assert c.call("MULTI") == Simple("OK")
            assert c.call("DISCARD") == Simple("OK")
            assert c.call("UNWATCH") == Simple("OK")
            assert c.call("AUTH", "pw") == RespError(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure "
                "your configuration is correct?")
            assert c.call("HELLO", "3")[b"proto"] == 3
            assert c.call("RESET") == Simple("RESET")
            assert c.call("QUIT") == Simple("OK")
            assert c.is_closed()
        with s.conn() as c:
            assert c.call("SCRIPT", "KILL") == Simple("OK")
    finally:
        t.join(20)
    assert result["error"].startswith(KILLED)
    assert tx.call("EXEC") == RespError("EXECABORT Transaction discarded because of previous errors.")
    assert tx.call("GET", "k") is None


def reset_on_close(sock):
    """Makes close() send a reset: the connection is gone at once, whatever it had unread."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_clients_that_misbehave_while_busy(make_server):
    s = busy_server(make_server)
    with s.conn() as c:
        assert c.call("CONFIG", "SET", "client-query-buffer-limit", "1mb") == Simple("OK")
    t, result = spin_eval(s)
    try:
        # gone before their replies, some mid-request
        for i in range(20):
            sock = socket.create_connection((s.host, s.port))
            sock.sendall(encode_command("GET", "x") * 50 + (b"*2\r\n$3\r\nGET\r\n$10\r\nab" if i % 2 else b""))
            reset_on_close(sock)
            sock.close()
        # a pipeline, and a request that arrives in pieces: every reply, in order
        with s.conn() as c:
            c.send(encode_command("PING") * 500)
            assert [c.read_reply() for _ in range(500)] == [RespError(BUSY_EVAL)] * 500
            c.send(b"*2\r\n$3\r\nGET\r\n$5\r\nab")
            time.sleep(0.05)
            c.send(b"cde\r\n")
            assert c.read_reply() == RespError(BUSY_EVAL)
        # a malformed request: its error, then closed
        assert raw(s, b"*1\r\n$x\r\n").startswith(b"-ERR Protocol error")
        # a request past client-query-buffer-limit: closed
        with s.conn() as c:
            c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
            try:
                c.send(b"v" * 2000000)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert c.is_closed(timeout=5)
        with s.conn() as c:
            assert c.call("SCRIPT", "KILL") == Simple("OK")
    finally:
        t.join(20)
    assert result["error"].startswith(KILLED)
    with s.conn() as c:
        assert c.call("PING") == Simple("PONG")
        assert c.call("SET", "k", "v") == Simple("OK")


def test_unknown_wrong_arity_and_unauthenticated_requests_keep_their_errors_while_busy(make_server):
    """Redis checks the command, its arity and AUTH before BUSY."""
    import threading
    import redis
    s = busy_server(make_server)
    s.client().config_set("requirepass", "secret")
    fresh = s.conn()  # connected before the script, not authenticated
    runner = s.client(password="secret", socket_timeout=60)
    runner.ping()
    result = {}

    def run():
        try:
            runner.eval(SPIN, 0)
        except redis.RedisError as e:
            result["error"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    try:
        deadline = time.monotonic() + 10
        with s.conn() as c:
            assert c.call("AUTH", "secret") == Simple("OK")
            while c.call("PING") != RespError(BUSY_EVAL):
                assert time.monotonic() < deadline, "the script never got busy"
                time.sleep(0.05)
        assert fresh.call("GET", "x") == RespError("NOAUTH Authentication required.")
        assert fresh.call("AUTH", "secret") == Simple("OK")
        assert fresh.call("NOSUCHCOMMAND").startswith("ERR unknown command 'NOSUCHCOMMAND'")
        assert fresh.call("GET") == RespError("ERR wrong number of arguments for 'get' command")
        assert fresh.call("GET", "x") == RespError(BUSY_EVAL)
        assert fresh.call("SCRIPT", "KILL") == Simple("OK")
        t.join(10)
        assert result["error"].startswith(KILLED)
    finally:
        t.join(10)
        fresh.close()
