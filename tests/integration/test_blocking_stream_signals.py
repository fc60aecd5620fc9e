"""Which writes serve a blocked stream reader, as Redis 7.0 decides: a new entry (XADD) or a
stream put under the key's name (RENAME, COPY) signals the key, and a reader whose stream's
last id then passed its id is served, even with nothing left to read (the entry trimmed or
deleted at once: [[key, []]], and XREADGROUP makes its consumer). Other writes (XDEL, XTRIM,
XSETID, XGROUP SETID, an XADD refused) signal nothing: the reader waits on. On one worker and
on three; pipelined, in MULTI and in scripts.

Everything here holds on redis-server too (TIDEKV_TEST_TARGET=redis)."""

import pytest

from conftest import encode_command
from test_blocking_served_at_write import block, pipeline, srv, w  # noqa: F401 (fixtures)

READERS = {
    "xread": ("XREAD", "BLOCK", "{ms}", "STREAMS", "s", "$"),
    "xreadgroup": ("XREADGROUP", "GROUP", "g", "c", "BLOCK", "{ms}", "STREAMS", "s", ">"),
}


def start_reader(srv, w, reader, ms):
    """A stream s with entry 1-0 and group g at its end, and a reader blocked on it."""
    assert w.call("XADD", "s", "1-0", "f", "1") == b"1-0"
    assert w.call("XGROUP", "CREATE", "s", "g", "$") == "OK"
    return block(srv, *[a.format(ms=ms) for a in READERS[reader]])


def consumers(w):
    return [c[1] for c in w.call("XINFO", "CONSUMERS", "s", "g")]


SIGNALS = {
    "maxlen0": [("XADD", "s", "MAXLEN", "0", "2-0", "f", "2")],
    "multi_xdel": [("MULTI",), ("XADD", "s", "2-0", "f", "2"), ("XDEL", "s", "2-0"), ("EXEC",)],
    "script_xdel": [("EVAL", "redis.call('XADD', KEYS[1], '2-0', 'f', '2') return redis.call('XDEL', KEYS[1], '2-0')",
                     "1", "s")],
    "rename_emptied": [("XADD", "t", "9-0", "f", "9"), ("XDEL", "t", "9-0"), ("XGROUP", "CREATE", "t", "g", "0"),
                       ("RENAME", "t", "s")],
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("signal", list(SIGNALS))
def test_a_signalled_reader_is_served_with_nothing(srv, w, reader, signal):
    r = start_reader(srv, w, reader, 5000)
    try:
        pipeline(w, *SIGNALS[signal])  # one write: served before anything else runs
        assert r.read_reply() == [[b"s", []]]
    finally:
        r.close()
    if reader == "xreadgroup" and signal != "rename_emptied":
        assert consumers(w) == [b"c"]


@pytest.mark.parametrize("reader", list(READERS))
def test_served_at_the_signal_before_the_next_command(srv, w, reader):
    """Served right after the XADD MAXLEN 0: the pipelined XADD after it is not in the reply."""
    r = start_reader(srv, w, reader, 5000)
    try:
        got = pipeline(w, ("XADD", "s", "MAXLEN", "0", "2-0", "f", "2"), ("XADD", "s", "3-0", "f", "3"))
        assert got == [b"2-0", b"3-0"]
        assert r.read_reply() == [[b"s", []]]
    finally:
        r.close()


NO_SIGNALS = {
    "xsetid": [("XSETID", "s", "5-0")],
    "xdel": [("XDEL", "s", "1-0")],
    "xtrim": [("XTRIM", "s", "MAXLEN", "0")],
    "xadd_refused": [("XADD", "s", "1-0", "f", "x")],
    "setid_back": [("MULTI",), ("XADD", "s", "2-0", "f", "2"), ("XGROUP", "SETID", "s", "g", "2-0"), ("EXEC",)],
}


# XREAD has no group to set back: the XADD of setid_back serves it its entry.
@pytest.mark.parametrize("reader,writes", [(r, ws) for r in READERS for ws in NO_SIGNALS
                                           if (r, ws) != ("xread", "setid_back")])
def test_other_writes_leave_the_reader_waiting(srv, w, reader, writes):
    r = start_reader(srv, w, reader, 150)
    try:
        w.send(b"".join(encode_command(*cmd) for cmd in NO_SIGNALS[writes]))
        for _ in NO_SIGNALS[writes]:
            w.read_reply()
        # A write after the signal's wake found nothing serves nothing either: the signal
        # is not kept for a later wake.
        w.call("XDEL", "s", "1-0")
        assert r.read_reply() is None  # its timeout
    finally:
        r.close()


def test_a_reader_served_nothing_reads_the_next_entry(srv, w):
    r = start_reader(srv, w, "xreadgroup", 5000)
    try:
        w.call("XADD", "s", "MAXLEN", "0", "2-0", "f", "2")
        assert r.read_reply() == [[b"s", []]]
        w.call("XADD", "s", "3-0", "f", "3")
        r.send(encode_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">"))
        assert r.read_reply() == [[b"s", [[b"3-0", [b"f", b"3"]]]]]
    finally:
        r.close()


def test_every_reader_of_a_group_is_served_nothing(srv, w):
    """Nothing was delivered: the group's last id stays behind the stream's for each reader."""
    first = start_reader(srv, w, "xreadgroup", 5000)
    second = block(srv, "XREADGROUP", "GROUP", "g", "d", "BLOCK", "5000", "STREAMS", "s", ">", already=1)
    try:
        w.call("XADD", "s", "MAXLEN", "0", "2-0", "f", "2")
        assert [first.read_reply(), second.read_reply()] == [[[b"s", []]]] * 2
    finally:
        first.close()
        second.close()
    assert sorted(consumers(w)) == [b"c", b"d"]
