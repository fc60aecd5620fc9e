"""Regression tests for defects found in review: each failed (or crashed the server) before
its fix."""
import socket
import time

import pytest
import redis

from conftest import RespError, tidekv_only
from helpers import META_CF, NS, string_meta
from test_cdc_helpers import build_batch, poll, seq


@tidekv_only
def test_setrange_huge_offset_is_refused_not_fatal(c):
    assert c.call("SETRANGE", "k", "9223372036854775807", "x") == \
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    assert c.call("PING") == "PONG"


@tidekv_only
def test_applybatch_refuses_a_reversed_range_and_writes_go_on(r):
    bad = build_batch([("DELRANGE", META_CF, NS + b"z", NS + b"a")])
    with pytest.raises(redis.ResponseError, match="a range deletion must cover one whole database"):
        r.execute_command("APPLYBATCH", bad)
    assert r.set("after", "1") is True


@tidekv_only
def test_applybatch_replaces_an_unreadable_change_record(r):
    """A record consumers could not decode would stop them at this batch: APPLYBATCH drops
    every record it is given and writes its own."""
    bad = build_batch([("LOGDATA", 0, b"TK\x09garbage", None), ("PUT", META_CF, NS + b"k", string_meta(b"v"))])
    assert r.execute_command("APPLYBATCH", bad) == len(bad)
    r.set("k2", "v")
    assert [u["commands"] for u in poll(r, 0, "FORMAT", "RESP")["updates"][-2:]] == [
        [[b"SET", b"k", b"v"]], [[b"SET", b"k2", b"v"]]]


@tidekv_only
def test_applybatch_is_refused_inside_multi(c):
    assert c.call("MULTI") == "OK"
    assert c.call("SET", "x", "1") == "QUEUED"
    assert c.call("APPLYBATCH", "whatever") == "ERR Command not allowed inside a transaction"
    assert c.call("EXEC") == "EXECABORT Transaction discarded because of previous errors."


@tidekv_only
def test_db_filter_keeps_flushall_and_copy_into_that_db(r):
    start = seq(r)
    r.set("src", "v")
    r.execute_command("COPY", "src", "dst", "DB", 5)
    r.flushall()
    cmds = [c for u in poll(r, start, "FORMAT", "RESP", "DB", 5)["updates"] for c in u["commands"]]
    assert cmds == [[b"COPY", b"src", b"dst", b"DB", b"5"], [b"FLUSHALL"]]


@tidekv_only
def test_huge_block_timeout_is_an_error(r):
    with pytest.raises(redis.ResponseError, match="timeout is out of range"):
        r.execute_command("POLLUPDATES", seq(r), "BLOCK", 9223372036854775807)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_idle_timeout_spares_blocked_pollers(make_server):
    s = make_server(["--timeout", "1"])
    r = s.client(socket_timeout=10)
    started = time.monotonic()
    reply = r.execute_command("POLLUPDATES", seq(r), "BLOCK", 2500)
    assert time.monotonic() - started >= 2.4
    assert b"updates" in reply


def test_hello_setname_is_validated(c):
    reply = c.call("HELLO", "2", "SETNAME", "x\nid=999 fake")
    assert isinstance(reply, RespError)
    assert "Client names cannot contain spaces" in reply


def test_long_password_is_compared_whole(make_server):
    password = "p" * 600
    s = make_server(["--requirepass", password])
    with s.conn() as c:
        assert c.call("AUTH", password[:511]).startswith("WRONGPASS")
        assert c.call("AUTH", password) == "OK"


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_polls_after_the_whole_wal_is_gone(make_server):
    """Restarts after the WAL TTL leave committed sequences with no log at all: polls must not
    crash the server, and the loss must show (STRICT errs, next_sequence moves on)."""
    s = make_server(["--wal-ttl-seconds", "1", "--wal-size-limit-mb", "0"])
    r = s.client()
    for i in range(20):
        r.set("k%d" % i, i)
    latest = seq(r)
    r.close()
    s.restart()
    time.sleep(2.2)
    s.restart()
    r = s.client()
    info = r.info("keyspace")
    if info.get("oldest_sequence", 0) != 0:
        pytest.skip("the WAL was not purged on this machine in time")
    for _ in range(2):
        p = poll(r, 5)
        assert p["next_sequence"] == latest and p["first_sequence"] == latest + 1
    with pytest.raises(redis.ResponseError, match="mismatched sequence number"):
        r.execute_command("POLLUPDATES", 5, "STRICT")
    assert r.ping() is True
    r.close()


def test_keyspace_commands_inside_multi_see_its_writes(c):
    assert c.call("MULTI") == "OK"
    for cmd in (("SET", "a", "1"), ("KEYS", "*"), ("DBSIZE",), ("SCAN", "0")):
        assert c.call(*cmd) == "QUEUED"
    assert c.call("EXEC") == ["OK", [b"a"], 1, [b"0", [b"a"]]]
