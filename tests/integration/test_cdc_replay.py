"""APPLYBATCH: tidekv-to-tidekv copies from RAW updates (CDC.md), and decoding of batches
that carry no change record (or more than one)."""

import struct
import time

import pytest
import redis

from conftest import encode_command, tidekv_only
from test_cdc_helpers import (RedisServer, build_batch, compare_dumps, dump_db, pairs, parse_batch, poll, poll_all,
                              replay, seq)

pytestmark = tidekv_only

NDB = 16


def mixed_workload(s):
    """Writes strings, TTLs, MSET, DEL, EXPIRE, RENAME, COPY, FLUSHDB in db 2, MULTI across dbs."""
    c = [s.client(db=i) for i in range(4)]
    try:
        r0, r1, r2, r3 = c
        r0.set("plain", "v")
        r0.set(b"bin\x00\xff", b"\x00\x01\xfe\xff")
        r0.set("ttl-ex", "v", ex=1000)
        r0.set("ttl-px", "v", px=500_000)
        r0.setex("setex", 2000, "v")
        r0.mset({"m1": "1", "m2": "2", "m3": "3"})
        r0.delete("m2", "nope")
        r0.expire("m1", 3000)
        r0.pexpire("m3", 10)
        r0.incr("counter")
        r0.incrby("counter", 41)
        r0.incrbyfloat("float", "2.5")
        r0.append("plain", "++")
        r0.setrange("plain", 1, "X")
        r0.setbit("bits", 9, 1)
        r0.rename("plain", "renamed")
        r0.set("keep", "a", ex=5000)
        r0.persist("keep")
        r0.copy("renamed", "copied", destination_db=3)
        r1.set("one", "1")
        r1.msetnx({"n1": "a", "n2": "b"})
        r2.set("doomed1", "x")
        r2.set("doomed2", "x", ex=100)
        r2.flushdb()
        r2.set("survivor", "y")
        r3.set("three", "3", px=900_000)
        r3.getdel("copied")
        with s.conn() as t:
            for cmd in (("MULTI",), ("SET", "tx0", "a"), ("SELECT", "1"), ("SET", "tx1", "b", "EX", "700"),
                        ("INCR", "one"), ("SELECT", "3"), ("DEL", "three"), ("SET", "tx3", "c"), ("SELECT", "0"),
                        ("EXPIRE", "counter", "4000"), ("EXEC",)):
                t.call(*cmd)
        time.sleep(0.05)
        r0.get("m3")  # found expired: recorded as DEL
        r0.getex("renamed", px=600_000)
    finally:
        for x in c:
            x.close()


def dump_all(s):
    out = {}
    for db in range(NDB):
        cl = s.client(db=db)
        try:
            out[db] = dump_db(cl)
        finally:
            cl.close()
    return out


def apply_all(dst, raw_updates):
    r = dst.client()
    try:
        for u in raw_updates:
            data = bytes.fromhex(u.decode())
            assert r.execute_command("APPLYBATCH", data) == len(data)
    finally:
        r.close()


def test_applybatch_copies_a_server(make_server):
    a = make_server()
    b = make_server()
    mixed_workload(a)
    ra, rb = a.client(), b.client()
    raw = poll_all(ra, 0, "RAW")
    assert len(raw) > 20
    apply_all(b, raw)
    da, db_ = dump_all(a), dump_all(b)
    for n in range(NDB):
        compare_dumps(da[n], db_[n], what="db%d" % n)
    assert da[0][b"bin\x00\xff"][1] == b"\x00\x01\xfe\xff"
    assert da[2].keys() == {b"survivor"}
    assert b"tx1" in da[1] and da[1][b"tx1"][2] > 600_000
    # the copy's change stream has records of its own (APPLYBATCH trusts none it is given),
    # with the same batches, and replayed into Redis it rebuilds the same data
    ua = poll_all(ra, 0, "RESP")
    ub = poll_all(rb, 0, "RESP")
    assert [(u["sequence"], u["count"]) for u in ub] == [(u["sequence"], u["count"]) for u in ua]
    assert seq(rb) == seq(ra)
    assert [strip_logdata(u.decode()) for u in poll_all(rb, 0, "RAW")] == [strip_logdata(u.decode()) for u in raw]
    rs = RedisServer().start()
    try:
        with rs.conn() as conn:
            assert replay(conn, ub) == []
        for n in range(NDB):
            cr, cb = rs.client(db=n), b.client(db=n)
            compare_dumps(dump_db(cb), dump_db(cr), what="replayed db%d" % n)
            cr.close()
            cb.close()
    finally:
        rs.stop()
    ra.close()
    rb.close()


def test_applybatch_incrementally_while_source_changes(make_server):
    """A consumer loop: poll RAW from where it left off, apply, repeat."""
    a = make_server()
    b = make_server()
    ra, rb = a.client(), b.client()
    pos = 0
    for round_ in range(5):
        for i in range(20):
            ra.set("k%d" % (i % 7), "%d-%d" % (round_, i))
            if i % 5 == 0:
                ra.expire("k%d" % (i % 7), 1000 + i)
        ra.delete("k%d" % round_)
        while True:
            d = poll(ra, pos, "MAX", 7)
            for u in d["updates"]:
                data = bytes.fromhex(u.decode())
                assert rb.execute_command("APPLYBATCH", data) == len(data)
            pos = d["next_sequence"]
            if pos == d["latest_sequence"]:
                break
        compare_dumps(dump_db(ra), dump_db(rb), what="round %d" % round_)
    ra.close()
    rb.close()


def test_applybatch_wakes_blocked_pollers(make_server):
    a = make_server()
    b = make_server()
    ra, rb = a.client(), b.client()
    ra.set("x", "1")
    data = bytes.fromhex(poll(ra, 0)["updates"][0].decode())
    with b.conn(timeout=10) as c:
        c.send(encode_command("POLLUPDATES", seq(rb), "BLOCK", 5000, "FORMAT", "RESP"))
        time.sleep(0.2)
        t0 = time.monotonic()
        rb.execute_command("APPLYBATCH", data)
        rep = dict(pairs(c.read_reply()))
        assert time.monotonic() - t0 < 0.5
        assert len(rep["updates"]) == 1
    ra.close()
    rb.close()


def test_applybatch_invalidates_watch(make_server):
    a = make_server()
    b = make_server()
    ra, rb = a.client(), b.client()
    ra.set("w", "new")
    data = bytes.fromhex(poll(ra, 0)["updates"][0].decode())
    with b.conn() as c:
        c.call("WATCH", "w")
        rb.execute_command("APPLYBATCH", data)
        c.call("MULTI")
        c.call("SET", "w", "mine")
        assert c.call("EXEC") is None
    assert rb.get("w") == b"new"
    ra.close()
    rb.close()


# ----------------------------------------------------------------------
# invalid input
# ----------------------------------------------------------------------

def sample_batch(server):
    r = server.client()
    try:
        base = seq(r)
        r.set("sample", "value")
        return bytes.fromhex(poll(r, base, "MAX", 1)["updates"][0].decode())
    finally:
        r.close()


def invalid_inputs(good):
    hdr = struct.pack("<QI", 0, 1)
    return {
        "empty": b"",
        "short": b"abc",
        "header-only-count-0": struct.pack("<QI", 0, 0),
        "header-count-1-no-records": hdr,
        "count-too-high": good[:8] + struct.pack("<I", struct.unpack("<I", good[8:12])[0] + 1) + good[12:],
        "count-too-low": good[:8] + struct.pack("<I", 0) + good[12:],
        "truncated": good[:-1],
        "trailing-garbage": good + b"\x05",
        "unknown-tag": hdr + b"\x7f\x01a\x01b",
        "hex-text-not-decoded": good.hex().upper().encode(),
        "oversized-length": hdr + b"\x01\xff\xff\xff\xff\x0fkey",
    }


def test_applybatch_rejects_invalid_batches(server, r):
    good = sample_batch(server)
    for name, data in invalid_inputs(good).items():
        before = seq(r)
        with pytest.raises(redis.ResponseError) as ei:
            r.execute_command("APPLYBATCH", data)
        assert str(ei.value) == "invalid write batch", name
        assert seq(r) == before, name
        assert r.ping()
    assert r.execute_command("APPLYBATCH", good) == len(good)


def test_applybatch_arity(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("APPLYBATCH")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("APPLYBATCH", b"a", b"b")


META_KEY = b"\x0b__namespace" + b"evil"
META_VAL = b"\x81" + b"\x00" * 8 + b"value"  # a string, no expiry


def put_meta():
    return b"\x05\x01" + bytes([len(META_KEY)]) + META_KEY + bytes([len(META_VAL)]) + META_VAL


MARKER_BATCHES = {
    # a transaction COMMIT marker after an ordinary put
    "commit-marker": struct.pack("<QI", 0, 1) + put_meta() + b"\x0b\x03xid",
    # a two-phase-commit PREPARE section
    "prepare-section": struct.pack("<QI", 0, 1) + b"\x09" + put_meta() + b"\x0a\x03xid",
}


@pytest.mark.parametrize("name", sorted(MARKER_BATCHES))
def test_applybatch_rejects_transaction_markers(make_server, name):
    """Markers of RocksDB's two-phase commit are not write-batch data tidekv produces:
    APPLYBATCH must refuse them without harming the server or its data directory."""
    data = MARKER_BATCHES[name]
    s = make_server()
    r = s.client()
    r.set("before", "1")
    try:
        res = r.execute_command("APPLYBATCH", data)
        outcome = "accepted (%r)" % (res,)
    except redis.ResponseError as e:
        outcome = "error %s" % e
    except redis.ConnectionError as e:
        outcome = "connection lost (%s)" % e
    r.close()
    try:
        alive = s.client(socket_timeout=3).ping()
    except redis.RedisError:
        alive = False
    time.sleep(0.2)
    alive = alive and s.running
    restart_ok = True
    restart_err = ""
    if alive:
        try:
            s.stop()
        except RuntimeError as e:
            restart_ok, restart_err = False, str(e)
    try:
        s.proc = None
        s.start()
    except RuntimeError as e:
        restart_ok, restart_err = False, str(e)[-600:]
    assert alive, "server died on APPLYBATCH with a %s: %s\n%s" % (name, outcome, s.log()[-800:])
    assert restart_ok, "after APPLYBATCH with a %s (%s) the server cannot restart:\n%s" % (
        name, outcome, restart_err)
    r = s.client()
    assert r.get("before") == b"1"
    r.close()
    assert outcome == "error APPLYBATCH: transaction markers are not written by tidekv", outcome


REFUSED_BATCHES = {
    "unknown-column-family": struct.pack("<QI", 0, 1) + b"\x05\x63" + put_meta()[2:],
    "merge-operand": struct.pack("<QI", 0, 1) + b"\x06\x01" + put_meta()[2:],
}


@pytest.mark.parametrize("name", sorted(REFUSED_BATCHES))
def test_applybatch_refused_write_does_not_break_later_writes(make_server, name):
    """A batch RocksDB refuses is an error for that APPLYBATCH only."""
    s = make_server()
    r = s.client()
    r.set("before", "1")
    with pytest.raises(redis.ResponseError):
        r.execute_command("APPLYBATCH", REFUSED_BATCHES[name])
    try:
        r.set("after", "1")
    except redis.ResponseError as e:
        pytest.fail("after a refused APPLYBATCH (%s) every write fails: %s" % (name, e))
    assert r.get("after") == b"1"
    r.close()


@pytest.mark.parametrize("name", sorted(REFUSED_BATCHES))
def test_applybatch_refused_write_leaves_no_trace(make_server, name):
    """A batch RocksDB refuses must not show up in the change stream (nor move SEQUENCE),
    before or after a restart."""
    s = make_server()
    r = s.client()
    r.set("before", "1")
    base = seq(r)
    with pytest.raises(redis.ResponseError):
        r.execute_command("APPLYBATCH", REFUSED_BATCHES[name])
    assert r.ping()
    after = poll(r, base, "FORMAT", "RESP")
    assert seq(r) == base, "a refused APPLYBATCH moved SEQUENCE from %d to %d" % (base, seq(r))
    assert after["updates"] == [], "a refused APPLYBATCH appears in the change stream: %r" % after["updates"]
    r.close()
    s.restart()
    r = s.client()
    r.set("after-restart", "1")
    ups = poll_all(r, 0, "RESP")
    assert [u["commands"] for u in ups] == [[[b"SET", b"before", b"1"]], [[b"SET", b"after-restart", b"1"]]]
    r.close()


# ----------------------------------------------------------------------
# batches without a change record, or with several
# ----------------------------------------------------------------------

def strip_logdata(data):
    s, c, recs = parse_batch(data)
    return build_batch([x for x in recs if x[0] != "LOGDATA"], count=c)


def test_batches_without_record_are_rebuilt_from_operations(make_server):
    a = make_server()
    b = make_server()
    ra, rb = a.client(), b.client()
    c2 = a.client(db=2)
    ra.set("k", "v")
    at = int(time.time() * 1000) + 500_000
    ra.execute_command("SET", "t", b"\x00\xff", "PXAT", at)
    ra.mset({"m1": "1", "m2": "2"})
    ra.delete("k")
    c2.set("in2", "x")
    c2.flushdb()
    with a.conn() as t:
        for cmd in (("MULTI",), ("SET", "x0", "0"), ("SELECT", "2"), ("SET", "x2", "2"), ("EXEC",)):
            t.call(*cmd)
    c2.close()
    raw = poll_all(ra, 0, "RAW")
    for u in raw:
        data = strip_logdata(u.decode())
        assert rb.execute_command("APPLYBATCH", data) == len(data)
    got = poll_all(rb, 0, "RESP")
    assert [u["commands"] for u in got] == [
        [[b"SET", b"k", b"v"]],
        [[b"SET", b"t", b"\x00\xff", b"PXAT", b"%d" % at]],
        [[b"SET", b"m1", b"1"], [b"SET", b"m2", b"2"]],
        [[b"DEL", b"k"]],
        [[b"SET", b"in2", b"x"]],
        [[b"FLUSHDB"]],
        [[b"SET", b"x0", b"0"], [b"SELECT", b"2"], [b"SET", b"x2", b"2"]],
    ]
    assert [u["db"] for u in got] == [0, 0, 0, 0, 2, 2, 0]
    assert all("raw" not in u for u in got)
    assert poll_all(rb, 0, "JSON") == got
    for n in range(4):
        ca, cb = a.client(db=n), b.client(db=n)
        compare_dumps(dump_db(ca), dump_db(cb), what="db%d" % n)
        ca.close()
        cb.close()
    ra.close()
    rb.close()


def test_batch_without_visible_effect_has_an_empty_record(make_server):
    """A member of a key that does not exist changes nothing a client can see: the change
    record APPLYBATCH writes for it has no commands (before, a batch without a record that
    could not be expressed was shown raw)."""
    s = make_server()
    r = s.client()
    subkey = b"\x0b__namespace" + b"\x00\x00\x00\x04hash" + b"\x00" * 7 + b"\x01" + b"field"
    data = build_batch([("PUT", 0, subkey, b"v")])
    base = seq(r)
    assert r.execute_command("APPLYBATCH", data) == len(data)
    d = poll(r, base, "FORMAT", "RESP")
    assert len(d["updates"]) == 1
    u = d["updates"][0]
    assert u["commands"] == [] and "raw" not in u, u
    assert r.exists("hash") == 0


def test_batch_with_two_change_records_shows_both(make_server):
    """RocksDB's group commit can write several clients' batches as one WAL record, so a
    batch may hold several change records; each is reported as the commit it was, with
    its own sequence range (simulated here with APPLYBATCH of two concatenated batches)."""
    a = make_server()
    b = make_server()
    ra, rb = a.client(), b.client()
    ra.set("first", "1")
    a3 = a.client(db=3)
    a3.set("second", "2")
    a3.close()
    raw = [bytes.fromhex(u.decode()) for u in poll_all(ra, 0, "RAW")]
    assert len(raw) == 2
    merged = struct.pack("<QI", 0, 2) + raw[0][12:] + raw[1][12:]
    assert rb.execute_command("APPLYBATCH", merged) == len(merged)
    assert rb.get("first") == b"1"
    assert b.client(db=3).get("second") == b"2"
    u = poll_all(rb, 0, "RESP")
    assert [(x["sequence"], x["count"], x["db"]) for x in u] == [(1, 1, 0), (2, 1, 3)]
    assert u[0]["commands"] == [[b"SET", b"first", b"1"]]
    assert u[1]["commands"] == [[b"SET", b"second", b"2"]]
    # the same from the WAL after a restart, and in RAW each commit has its own header (and
    # its own change record, made when it was applied)
    b.restart()
    rb = b.client()
    assert [x["commands"] for x in poll_all(rb, 0, "RESP")] == [u[0]["commands"], u[1]["commands"]]
    copied = [bytes.fromhex(x.decode()) for x in poll_all(rb, 0, "RAW")]
    assert [strip_logdata(x)[12:] for x in copied] == [strip_logdata(x)[12:] for x in raw]
    assert [parse_batch(x)[2][0][0] for x in copied] == ["LOGDATA", "LOGDATA"]
    ra.close()
    rb.close()
