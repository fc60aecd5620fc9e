"""Defects found by review8: each test asserts Redis 7.0's (or tidekv's own documented)
behaviour and is marked xfail strict on tidekv until the defect is fixed."""

import pytest

from conftest import IS_REDIS, RespError, tidekv_only
from test_applybatch_rules import entry, put_stream, stream_meta
from test_blocking import block, reply_within
from test_cdc_helpers import build_batch

tidekv_defect = pytest.mark.xfail(not IS_REDIS, strict=True, reason="review8 defect, see the test's docstring")


@tidekv_defect
@pytest.mark.parametrize("removal", ["flushall", "flushdb", "expiry"])
def test_xreadgroup_waiter_ends_when_its_stream_goes_without_a_key_commit(server, r, removal):
    """Redis 7.0.15 ends a waiting XREADGROUP with UNBLOCKED when FLUSHALL/FLUSHDB empties the
    database or the stream expires; tidekv's flush (txn_touch_db) and active expiry
    (ks_remove_expired) touch no key, so blocking_notify never runs and the client waits on
    until its timeout."""
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
@pytest.mark.xfail(strict=True, reason="review8: APPLYBATCH rewrites a stream's groups count under its groups")
def test_applybatch_cannot_zero_the_groups_count_of_a_stream_with_groups(server, r):
    """check_stream_meta refuses a stream metadata record that *says* it has groups, but not one
    that says 0 for a stream (same version) whose group records exist: the groups stay, XINFO
    STREAM says 0, SNAPSHOT READ drops them (dump_stream_groups trusts the count) and the
    change record (nothing about groups) replays to a stream that still has them."""
    batch = build_batch([put_stream(stream_meta(1, (1, 1))), entry(1, 1)])
    assert r.execute_command("APPLYBATCH", batch) == len(batch)
    assert r.execute_command("XGROUP", "CREATE", "k", "g", "0") == b"OK"
    zero = build_batch([put_stream(stream_meta(1, (1, 1), groups=0))])
    try:
        r.execute_command("APPLYBATCH", zero)
    except Exception:
        return  # refused: the defect is fixed
    groups = r.execute_command("XINFO", "GROUPS", "k")
    info = r.execute_command("XINFO", "STREAM", "k")
    count = info[info.index(b"groups") + 1]
    assert count == len(groups)
