"""Every write is recorded (DESIGN.md): the tests run servers with --debug-check-recording yes,
under which a command that wrote without adding a change record stops the server with a
message naming it. DEBUG DROP-RECORD-AFTER plays the command that forgot to record."""

import pytest
import redis

from conftest import tidekv_only
from test_cdc_helpers import poll, seq

pytestmark = tidekv_only

BUG = "BUG: command '%s' wrote without a change record"


def faulty_server(make_server, *extra):
    return make_server(["--debug-fault-injection", "yes", *extra])


def expect_stopped(server, command):
    assert server.wait_exit(10) not in (None, 0), "the server went on"
    assert BUG % command in server.log()


def test_a_write_without_a_record_stops_the_server(make_server):
    s = faulty_server(make_server)
    c = s.client()
    c.set("recorded", "1")  # recorded: passes
    assert c.execute_command("DEBUG", "DROP-RECORD-AFTER", 1) in (b"OK", "OK")
    with pytest.raises(redis.ConnectionError):
        c.set("k", "v")
    expect_stopped(s, "set")


def test_the_check_covers_each_command_of_a_transaction(make_server):
    s = faulty_server(make_server)
    c = s.client()
    c.execute_command("DEBUG", "DROP-RECORD-AFTER", 2)  # the second command's record
    p = c.pipeline(transaction=True)
    p.set("a", "1").rpush("l", "x").set("b", "2")
    with pytest.raises(redis.ConnectionError):
        p.execute()
    expect_stopped(s, "rpush")


def test_the_check_covers_pipelined_commands(make_server):
    s = faulty_server(make_server)
    c = s.client()
    c.execute_command("DEBUG", "DROP-RECORD-AFTER", 3)
    p = c.pipeline(transaction=False)
    p.set("a", "1").incr("n").hset("h", "f", "v").set("b", "2")
    with pytest.raises(redis.ConnectionError):
        p.execute()
    expect_stopped(s, "hset")


def test_without_the_check_the_write_stands_unrecorded(make_server):
    """What the check guards against: the change stream misses the write."""
    s = faulty_server(make_server, "--debug-check-recording", "no")
    c = s.client(decode_responses=False)
    base = seq(c)
    c.execute_command("DEBUG", "DROP-RECORD-AFTER", 1)
    c.set("k", "v")
    assert c.get("k") == b"v"
    assert [u["commands"] for u in poll(c, base, "FORMAT", "RESP")["updates"]] == [[]]
    assert BUG % "set" not in s.log()
