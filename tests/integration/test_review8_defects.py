"""Defects found by a review (review8), fixed: each test asserts Redis 7.0's behaviour, or
tidekv's own documented one."""

import pytest

from conftest import RespError, tidekv_only
from test_applybatch_rules import entry, put_stream, stream_meta
from test_blocking import block, reply_within
from test_cdc_helpers import build_batch

@pytest.mark.parametrize("removal", ["flushall", "flushdb", "expiry"])
def test_xreadgroup_waiter_ends_when_its_stream_goes_without_a_key_commit(server, r, removal):
    """Redis 7.0.15 ends a waiting XREADGROUP with UNBLOCKED when FLUSHALL/FLUSHDB empties the
    database or the stream expires. A flush touches no key and an expiry does not count as a
    change for WATCH: both must still wake the stream's readers."""
    r.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    if removal == "expiry":
        r.pexpire("s", 300)
    conn = block(server, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "4000", "STREAMS", "s", ">")
    try:
        if removal != "expiry":
            r.execute_command(removal.upper())
        rep = reply_within(conn, 2.5)
        assert rep == RespError("UNBLOCKED the stream key no longer exists")
    finally:
        conn.close()


@tidekv_only
def test_applybatch_cannot_zero_the_groups_count_of_a_stream_with_groups(server, r):
    """A batch that rewrites, at its version, the metadata of a stream that has groups here
    (saying 0 groups) is refused: else the groups would stay under a count of 0, which XINFO
    STREAM and SNAPSHOT READ go by."""
    batch = build_batch([put_stream(stream_meta(1, (1, 1))), entry(1, 1)])
    assert r.execute_command("APPLYBATCH", batch) == len(batch)
    assert r.execute_command("XGROUP", "CREATE", "k", "g", "0") == b"OK"
    zero = build_batch([put_stream(stream_meta(1, (1, 1), groups=0))])
    with pytest.raises(Exception, match="stream 'k' would say 0 consumer groups but hold 1"):
        r.execute_command("APPLYBATCH", zero)
    info = r.execute_command("XINFO", "STREAM", "k")
    assert info[info.index(b"groups") + 1] == 1 == len(r.execute_command("XINFO", "GROUPS", "k"))
