"""Shared renderings and pacing of POLLUPDATES.

Polls without filters read renderings that the tail cache keeps per batch and format, shared
by every consumer: they must be byte for byte what the WAL path renders. A consumer that keeps
up with a busy stream is answered at most once per cdc-poll-pace-ms (CDC.md, "Cost and
speed"); on a quiet stream a write still wakes it at once."""

import time

import pytest

from conftest import encode_command, tidekv_only
from test_cdc_helpers import pairs, seq, socket_has_data

pytestmark = tidekv_only

FORMATS = ["RAW", "RESP", "JSON"]


def write_mixed(server, r):
    """Writes that make every kind of batch: write groups from a pipeline (several commits in
    one RocksDB write), a transaction, another database, binary values, deletions."""
    p = r.pipeline(transaction=False)
    for i in range(40):
        p.set("k%d" % i, b"\x00\xff" * i)
    p.execute()
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.rpush("l", "x", "y")
    t = r.pipeline(transaction=True)
    t.incr("n")
    t.delete("k1")
    t.execute()
    with server.conn() as c:
        c.call("SELECT", 3)
        c.call("SET", "other", "db")
    r.set("ttl", "v", px=100000)
    r.sadd("s", "m")


def poll_raw_bytes(server, start, fmt, protocol, max_=7):
    """Every reply (exact bytes) of a paged poll from start to the end."""
    replies = []
    with server.conn(timeout=10) as c:
        if protocol == 3:
            c.call("HELLO", 3)
        while True:
            c.send(encode_command("POLLUPDATES", start, "MAX", max_, "FORMAT", fmt))
            raw = c.read_raw()
            replies.append(raw)
            c.send(encode_command("POLLUPDATES", start, "MAX", max_, "FORMAT", fmt))
            rep = dict(pairs(c.read_reply()))
            if rep["next_sequence"] == start:
                return replies
            start = rep["next_sequence"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_shared_renderings_match_the_wal(server, r, protocol):
    start = seq(r)
    write_mixed(server, r)
    from_cache = {f: poll_raw_bytes(server, start, f, protocol) for f in FORMATS}
    assert r.info("memory")["used_memory_cdc_renderings"] > 0, "the polls did not use shared renderings"
    again = {f: poll_raw_bytes(server, start, f, protocol) for f in FORMATS}
    assert again == from_cache, "a second reader of the shared renderings saw something else"
    server.restart()  # the tail cache starts empty: every poll now reads the WAL
    from_wal = {f: poll_raw_bytes(server, start, f, protocol) for f in FORMATS}
    for f in FORMATS:
        assert len(from_cache[f]) > 5, f
        assert from_cache[f] == from_wal[f], f


def test_filtered_polls_beside_shared_ones(server, r):
    """A filtered poll renders for itself; it must not see or disturb the shared renderings."""
    start = seq(r)
    write_mixed(server, r)
    plain = poll_raw_bytes(server, start, "RESP", 2, max_=1000)
    with server.conn(timeout=10) as c:
        rep = dict(pairs(c.call("POLLUPDATES", start, "MAX", 1000, "FORMAT", "RESP", "MATCH", "k3*")))
    keys = {bytes(dict(pairs(u))["commands"][0][1]) for u in rep["updates"]}
    assert keys == {b"k3"} | {b"k3%d" % i for i in range(10)}
    assert poll_raw_bytes(server, start, "RESP", 2, max_=1000) == plain


def test_renderings_stay_within_the_cache_budget(make_server):
    """cdc-cache-mb bounds batches and renderings together; renderings take half at most."""
    s = make_server(["--cdc-cache-mb", "1"])
    r = s.client()
    start = seq(r)
    p = r.pipeline(transaction=False)
    for i in range(20000):
        p.set("key:%d" % i, "v" * 20)
    p.execute()
    for fmt in FORMATS:
        pos = max(start, seq(r) - 3000)  # followers near the head: served from the cache
        while pos < seq(r):
            pos = dict(pairs(r.execute_command("POLLUPDATES", pos, "MAX", 1000, "FORMAT", fmt)))["next_sequence"]
    mem = r.info("memory")
    assert 0 < mem["used_memory_cdc_renderings"] <= 512 * 1024, mem
    assert mem["used_memory_cdc_cache"] + mem["used_memory_cdc_renderings"] <= 1024 * 1024, mem


# ---- pacing ----

PACE_MS = 1000


def busy_reply(r, c, extra=0):
    """Makes the connection's last reply a busy one: three polls of 1000 updates each, sent
    at once, so the client's own speed cannot make the stream look quiet (the first has no
    reply before it to measure a rate against). Writes `extra` more changes after them.
    Returns the position after the three replies and when the last one arrived."""
    n = 3000 + extra
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("busy:%d" % i, i)
    p.execute()
    pos = seq(r) - n  # one sequence and one update per SET
    c.send(b"".join(encode_command("POLLUPDATES", pos + k * 1000, "MAX", 1000) for k in range(3)))
    for k in range(1, 4):
        rep = dict(pairs(c.read_reply()))
        assert len(rep["updates"]) == 1000
        assert rep["next_sequence"] == pos + k * 1000
    return pos + 3000, time.monotonic()


def busy_then_wait(r, c, max_=1000, block_ms=10000):
    """Sends a busy consumer's next poll, with BLOCK; returns its position and when it went."""
    end, _ = busy_reply(r, c)
    c.send(encode_command("POLLUPDATES", end, "MAX", max_, "BLOCK", block_ms))
    return end, time.monotonic()


def read_poll(c):
    rep = dict(pairs(c.read_reply()))
    return rep, time.monotonic()


@pytest.fixture
def paced(server, r):
    r.config_set("cdc-poll-pace-ms", PACE_MS)
    yield
    r.config_set("cdc-poll-pace-ms", 5)


def test_a_busy_consumer_with_max_already_filled_is_answered_at_once(server, r, paced):
    with server.conn(timeout=10) as c:
        pos, _ = busy_reply(r, c, extra=1000)
        t0 = time.monotonic()
        rep = dict(pairs(c.call("POLLUPDATES", pos, "MAX", 1000, "BLOCK", 10000)))
    assert time.monotonic() - t0 < PACE_MS / 1000 / 2
    assert len(rep["updates"]) == 1000


def test_a_paced_wait_ends_when_max_fills(server, r, paced):
    r.config_set("cdc-poll-pace-ms", 10000)
    with server.conn(timeout=20) as c:
        end, _ = busy_then_wait(r, c, max_=5, block_ms=20000)
        r.set("m0", "0")  # wakes the wait, which now lingers for its pace
        time.sleep(0.2)
        assert not socket_has_data(c.sock), "a paced consumer was answered at the first write"
        t0 = time.monotonic()
        for i in range(1, 5):
            r.set("m%d" % i, i)
        rep, got = read_poll(c)
    assert got - t0 < 3, got - t0
    assert len(rep["updates"]) == 5
    assert rep["next_sequence"] == end + 5


def test_a_busy_consumer_woken_by_a_write_waits_for_its_pace(server, r, paced):
    with server.conn(timeout=10) as c:
        end, asked = busy_then_wait(r, c)
        r.set("w1", "1")
        time.sleep(0.1)
        assert not socket_has_data(c.sock), "a paced consumer was answered at the first write"
        r.set("w2", "2")
        rep, got = read_poll(c)
    assert got - asked >= PACE_MS / 1000 * 0.6, got - asked
    assert got - asked < 5
    assert len(rep["updates"]) == 2, "the wait gathered every write meanwhile"
    assert rep["next_sequence"] == end + 2


def test_a_busy_consumer_with_changes_waiting_is_paced_too(server, r, paced):
    with server.conn(timeout=10) as c:
        end, last_at = busy_reply(r, c)
        r.set("ready", "1")
        c.send(encode_command("POLLUPDATES", end, "MAX", 1000, "BLOCK", 10000))
        rep, got = read_poll(c)
    assert got - last_at >= PACE_MS / 1000 * 0.6, got - last_at
    assert len(rep["updates"]) == 1


def test_block_timeout_sooner_than_the_pace_ends_the_wait(server, r, paced):
    r.config_set("cdc-poll-pace-ms", 5000)
    with server.conn(timeout=10) as c:
        _, asked = busy_then_wait(r, c, block_ms=300)
        r.set("w", "1")
        rep, got = read_poll(c)
    assert 0.2 <= got - asked < 2.5, got - asked
    assert len(rep["updates"]) == 1


def test_a_quiet_consumer_is_not_paced(server, r, paced):
    """After a reply of a few updates (a quiet stream), a write wakes the consumer at once."""
    with server.conn(timeout=10) as c:
        end, _ = busy_reply(r, c)
        time.sleep(PACE_MS / 1000)
        r.set("q1", "1")
        rep = dict(pairs(c.call("POLLUPDATES", end, "MAX", 1000)))
        assert len(rep["updates"]) == 1  # one update after a pause: the stream is quiet
        c.send(encode_command("POLLUPDATES", rep["next_sequence"], "MAX", 1000, "BLOCK", 10000))
        time.sleep(0.05)
        t0 = time.monotonic()
        r.set("q2", "2")
        rep, got = read_poll(c)
    assert got - t0 < PACE_MS / 1000 / 2, got - t0
    assert len(rep["updates"]) == 1


def test_pace_zero_answers_at_the_first_write(server, r, paced):
    r.config_set("cdc-poll-pace-ms", 0)
    assert r.config_get("cdc-poll-pace-ms") == {"cdc-poll-pace-ms": "0"}
    with server.conn(timeout=10) as c:
        busy_then_wait(r, c)
        time.sleep(0.05)
        t0 = time.monotonic()
        r.set("now", "1")
        rep, got = read_poll(c)
    assert got - t0 < 0.2, got - t0
    assert len(rep["updates"]) == 1


def test_pace_option_bounds(r):
    assert r.config_get("cdc-poll-pace-ms") == {"cdc-poll-pace-ms": "5"}
    for bad in ["-1", "60001", "soon"]:
        with pytest.raises(Exception):
            r.config_set("cdc-poll-pace-ms", bad)
    assert r.config_get("cdc-poll-pace-ms") == {"cdc-poll-pace-ms": "5"}


# ---- replies sent without a copy ----


def write_big_values(r, count, transaction):
    value = b"v" * 65536
    p = r.pipeline(transaction=transaction)
    for i in range(count):
        p.set("big:%d" % i, value)
    p.execute()
    return value.hex().upper().encode()


def read_big_reply(c, start, value_hex):
    time.sleep(0.5)  # the reply (tens of MB in hex) fills the socket's buffers meanwhile
    rep = dict(pairs(c.read_reply()))
    assert c.read_reply() == "PONG"
    assert rep["first_sequence"] == start + 1
    assert rep["next_sequence"] == start + 300
    for u in rep["updates"]:
        assert value_hex in u
    return rep


def test_a_large_reply_that_the_socket_cannot_take_at_once_arrives_whole(server, r):
    """A poll's reply goes straight to the socket when nothing is pending; what the socket
    does not take stays queued, in order, before the replies of later commands."""
    start = seq(r)
    value_hex = write_big_values(r, 300, transaction=False)
    r.config_set("cdc-poll-max-bytes", "1gb")  # one reply of it all (cdc-poll-max-bytes)
    try:
        with server.conn(timeout=30) as c:
            c.send(encode_command("POLLUPDATES", start, "MAX", 1000) + encode_command("PING"))
            rep = read_big_reply(c, start, value_hex)
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")
    assert len(rep["updates"]) == 300


@pytest.mark.soak  # long: runs under make soak
def test_a_large_woken_reply_arrives_whole(server, r):
    start = seq(r)
    with server.conn(timeout=30) as c:
        c.send(encode_command("POLLUPDATES", start, "BLOCK", 10000, "MAX", 1000) + encode_command("PING"))
        time.sleep(0.2)
        value_hex = write_big_values(r, 300, transaction=True)  # one commit: one reply of it all
        rep = read_big_reply(c, start, value_hex)
    assert len(rep["updates"]) == 1
    assert rep["updates"][0].count(value_hex) == 300  # in the puts (the change record refers to them)
