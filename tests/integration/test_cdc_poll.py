"""SEQUENCE, INFO fields and POLLUPDATES options, errors, paging (CDC.md)."""

import time

import pytest
import redis

from conftest import encode_command, tidekv_only
from test_cdc_helpers import (REPLY_KEYS, UPDATE_KEYS, json_update, pairs, poll, poll_all, raw_header,
                              resp_update, seq, to_dict)

pytestmark = tidekv_only


def err(r, *args):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    return str(ei.value)


# ----------------------------------------------------------------------
# SEQUENCE and INFO
# ----------------------------------------------------------------------

def test_sequence_is_an_integer_and_matches_info(r):
    s = seq(r)
    assert isinstance(r.execute_command("SEQUENCE"), int)
    info = r.info("keyspace")
    assert info["sequence"] == s
    assert "oldest_sequence" in info
    assert 1 <= info["oldest_sequence"] <= s
    # With no write in flight, every commit has been announced to blocked pollers.
    assert info["readable_sequence"] == s


def test_sequence_increases_by_one_per_simple_write(r):
    """One sequence number per write; a write that gives a key an expiry also writes its
    expiry index entry, and one that replaces an expiry deletes the old entry."""
    base = seq(r)
    writes = [
        (("SET", "a", "1"), 1),
        (("SET", "a", "2"), 1),
        (("SET", "b", "x", "EX", "100"), 2),
        (("INCR", "n"), 1),
        (("INCRBY", "n", "5"), 1),
        (("DECR", "n"), 1),
        (("APPEND", "a", "z"), 1),
        (("SETRANGE", "a", "0", "Q"), 1),
        (("SETBIT", "a", "3", "1"), 1),  # on a string (a new key would be a bitmap: 2 writes)
        (("INCRBYFLOAT", "f", "1.5"), 1),
        (("EXPIRE", "a", "100"), 2),
        (("PERSIST", "a"), 2),
        (("GETSET", "a", "new"), 1),
        (("SETNX", "fresh", "1"), 1),
        (("DEL", "fresh"), 1),
        (("GETDEL", "n"), 1),
    ]
    want = base
    for cmd, writes_of_it in writes:
        r.execute_command(*cmd)
        want += writes_of_it
        assert seq(r) == want, "after %r" % (cmd,)


def test_sequence_does_not_change_on_reads(r):
    r.set("a", "hello")
    r.set("t", "v", ex=1000)
    base = seq(r)
    reads = [("GET", "a"), ("MGET", "a", "b", "c"), ("EXISTS", "a", "zz"), ("TTL", "t"), ("PTTL", "a"),
             ("STRLEN", "a"), ("GETRANGE", "a", "0", "2"), ("GETBIT", "a", "1"), ("BITCOUNT", "a"),
             ("TYPE", "a"), ("KEYS", "*"), ("SCAN", "0"), ("DBSIZE",), ("EXPIRETIME", "t"),
             ("PING",), ("ECHO", "x"), ("INFO",), ("SEQUENCE",), ("POLLUPDATES", base),
             ("POLLUPDATES", 0, "FORMAT", "RESP"), ("TIME",), ("GET", "missing"), ("TOUCH", "a")]
    for cmd in reads:
        r.execute_command(*cmd)
        assert seq(r) == base, "after %r" % (cmd,)


def test_info_keyspace_sequence_follows_writes(r):
    for i in range(5):
        r.set("k%d" % i, i)
        info = r.info("keyspace")
        assert info["sequence"] == seq(r)
    assert info["oldest_sequence"] == 1  # nothing purged on this server


def test_sequence_counts_operations_of_a_batch(r):
    base = seq(r)
    r.mset({"a": 1, "b": 2, "c": 3})
    assert seq(r) == base + 3
    p = r.pipeline(transaction=True)
    p.set("x", 1)
    p.set("y", 2)
    p.execute()
    assert seq(r) == base + 5


def test_sequence_argument_errors(r):
    assert "syntax error" in err(r, "SEQUENCE", "FOO")
    assert "syntax error" in err(r, "SEQUENCE", "TIME")
    assert "not an integer" in err(r, "SEQUENCE", "TIME", "abc")


# ----------------------------------------------------------------------
# Reply shape
# ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["RAW", "RESP", "JSON"])
def test_reply_keys_in_order(r, fmt):
    base = seq(r)
    r.set("a", "1")
    d = poll(r, base, "FORMAT", fmt)
    assert d["_keys"] == REPLY_KEYS
    assert d["latest_sequence"] == base + 1
    assert d["next_sequence"] == base + 1
    assert d["first_sequence"] == base + 1
    assert len(d["updates"]) == 1


def test_resp_update_keys_in_order(r):
    base = seq(r)
    r.set("a", "1")
    raw = r.execute_command("POLLUPDATES", base, "FORMAT", "RESP")
    upd = to_dict(raw)["updates"]
    keys = [k.decode() for k in upd[0][0::2]]
    assert keys == UPDATE_KEYS


@pytest.mark.parametrize("fmt", ["RAW", "RESP", "JSON"])
def test_nothing_new(r, fmt):
    r.set("a", "1")
    s = seq(r)
    d = poll(r, s, "FORMAT", fmt)
    assert d["updates"] == []
    assert d["next_sequence"] == s
    assert d["first_sequence"] == s + 1
    assert d["latest_sequence"] == s


def test_default_format_is_raw(r):
    base = seq(r)
    r.set("a", "1")
    d = poll(r, base)
    assert len(d["updates"]) == 1
    u = d["updates"][0].decode()
    assert all(c in "0123456789ABCDEF" for c in u), u
    assert raw_header(u) == (base + 1, 1)


def test_default_max_is_16(r):
    base = seq(r)
    for i in range(20):
        r.set("k%d" % i, i)
    d = poll(r, base, "FORMAT", "RESP")
    assert len(d["updates"]) == 16
    assert d["next_sequence"] == base + 16
    assert [u["sequence"] for u in d["updates"]] == list(range(base + 1, base + 17))


def test_format_keyword_case_insensitive(r):
    base = seq(r)
    r.set("a", "1")
    d = poll(r, base, "format", "resp")
    assert d["updates"][0]["commands"] == [[b"SET", b"a", b"1"]]


# ----------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------

def test_seq_beyond_latest_is_out_of_range(r):
    s = seq(r)
    assert err(r, "POLLUPDATES", s + 1) == "next sequence is out of range"
    assert err(r, "POLLUPDATES", s + 1000, "FORMAT", "RESP") == "next sequence is out of range"
    poll(r, s)  # the latest itself is fine


def test_max_range(r):
    r.set("a", 1)
    for bad in (0, -1, 1001, 100000):
        assert err(r, "POLLUPDATES", 0, "MAX", bad) == "out of numeric range", bad
    assert len(poll(r, 0, "MAX", 1)["updates"]) == 1
    poll(r, 0, "MAX", 1000)
    assert "not an integer" in err(r, "POLLUPDATES", 0, "MAX", "many")


def test_bad_format(r):
    e = err(r, "POLLUPDATES", 0, "FORMAT", "XML")
    assert e.startswith("invalid FORMAT option"), e


@pytest.mark.parametrize("args", [("FOO",), ("MAX",), ("FORMAT",), ("BLOCK",), ("MATCH",), ("TYPE",),
                                  ("DB",), ("FORMAT", "RESP", "BOGUS", "1")])
def test_unknown_or_incomplete_option_is_syntax_error(r, args):
    assert err(r, "POLLUPDATES", 0, *args) == "syntax error"


@pytest.mark.parametrize("flt", [("MATCH", "a*"), ("TYPE", "string"), ("DB", "0")])
def test_filters_need_decoded_format(r, flt):
    r.set("a", 1)
    with pytest.raises(redis.ResponseError):
        r.execute_command("POLLUPDATES", 0, *flt)
    with pytest.raises(redis.ResponseError):
        r.execute_command("POLLUPDATES", 0, "FORMAT", "RAW", *flt)
    poll(r, 0, "FORMAT", "RESP", *flt)
    poll(r, 0, "FORMAT", "JSON", *flt)


def test_unknown_type_is_syntax_error(r):
    assert err(r, "POLLUPDATES", 0, "FORMAT", "RESP", "TYPE", "bogus") == "syntax error"


def test_db_out_of_range(r):
    assert err(r, "POLLUPDATES", 0, "FORMAT", "RESP", "DB", "16") == "DB index is out of range"
    assert err(r, "POLLUPDATES", 0, "FORMAT", "RESP", "DB", "-1") == "DB index is out of range"


def test_bad_sequence_argument(r):
    assert "not an integer" in err(r, "POLLUPDATES", "abc")
    assert "not an integer" in err(r, "POLLUPDATES", -1)
    assert "wrong number of arguments" in err(r, "POLLUPDATES")


def test_negative_block_is_an_error(r):
    with pytest.raises(redis.ResponseError):
        r.execute_command("POLLUPDATES", 0, "BLOCK", -1)


# ----------------------------------------------------------------------
# Paging
# ----------------------------------------------------------------------

def test_paging_with_max_7_chains_exactly(r):
    for i in range(100):
        r.set("page:%03d" % i, "v%d" % i)
    latest = seq(r)
    pos = 0
    raw_batches = []
    resp_batches = []
    for _ in range(1000):
        d = poll(r, pos, "MAX", 7)
        e = poll(r, pos, "MAX", 7, "FORMAT", "RESP")
        assert d["next_sequence"] == e["next_sequence"]
        assert d["first_sequence"] == e["first_sequence"]
        assert len(d["updates"]) <= 7
        if pos == 0:
            assert d["first_sequence"] == r.info("keyspace")["oldest_sequence"]
        else:
            assert d["first_sequence"] == pos + 1, "gap after %d" % pos
        if d["updates"]:
            hdrs = [raw_header(u) for u in d["updates"]]
            assert hdrs[0][0] == d["first_sequence"]
            last_s, last_c = hdrs[-1]
            assert d["next_sequence"] == last_s + last_c - 1
            assert [h[0] for h in hdrs] == [u["sequence"] for u in e["updates"]]
            assert [h[1] for h in hdrs] == [u["count"] for u in e["updates"]]
        raw_batches.extend(raw_header(u) for u in d["updates"])
        resp_batches.extend(e["updates"])
        if d["next_sequence"] == latest:
            break
        assert d["next_sequence"] > pos
        pos = d["next_sequence"]
    else:
        pytest.fail("paging did not finish")
    # consecutive batches, each seen once, nothing skipped
    for (s1, c1), (s2, _) in zip(raw_batches, raw_batches[1:]):
        assert s2 == s1 + c1, "batch at %d (count %d) followed by %d" % (s1, c1, s2)
    assert raw_batches[-1][0] + raw_batches[-1][1] - 1 == latest
    sets = [c[1] for u in resp_batches for c in u["commands"]
            if c[0] == b"SET" and c[1].startswith(b"page:")]
    assert sets == [b"page:%03d" % i for i in range(100)]


def test_paging_max_1_one_batch_each(r):
    base = seq(r)
    for i in range(10):
        r.set("k%d" % i, i)
    pos = base
    got = []
    while pos < base + 10:
        d = poll(r, pos, "MAX", 1, "FORMAT", "RESP")
        assert len(d["updates"]) == 1
        got.append(d["updates"][0]["commands"])
        assert d["next_sequence"] == pos + 1
        pos = d["next_sequence"]
    assert got == [[[b"SET", b"k%d" % i, b"%d" % i]] for i in range(10)]


def test_batch_returned_whole_when_seq_points_into_it(r):
    r.set("before", "0")
    p = r.pipeline(transaction=True)
    p.set("m1", "a")
    p.set("m2", "b")
    p.set("m3", "c")
    p.execute()
    s = seq(r) - 2  # first sequence of the MULTI batch
    r.set("after", "1")
    expected = [[b"SET", b"m1", b"a"], [b"SET", b"m2", b"b"], [b"SET", b"m3", b"c"]]
    for start in (s - 1, s, s + 1):
        d = poll(r, start, "FORMAT", "RESP")
        first = d["updates"][0]
        assert first["sequence"] == s, "poll from %d" % start
        assert first["count"] == 3
        assert first["commands"] == expected, "poll from %d" % start
        assert d["next_sequence"] == s + 3
        assert d["updates"][1]["commands"] == [[b"SET", b"after", b"1"]]
        raw = poll(r, start, "MAX", 1)
        assert raw_header(raw["updates"][0]) == (s, 3)
    d = poll(r, s + 2, "FORMAT", "RESP")
    assert [u["commands"] for u in d["updates"]] == [[[b"SET", b"after", b"1"]]]
    assert d["first_sequence"] == s + 3


def test_raw_header_matches_resp(r):
    base = seq(r)
    r.mset({"a": "1", "b": "2", "c": "3"})
    r.set("d", "4")
    raw = poll(r, base)["updates"]
    resp = poll(r, base, "FORMAT", "RESP")["updates"]
    assert [raw_header(u) for u in raw] == [(u["sequence"], u["count"]) for u in resp]
    assert [raw_header(u) for u in raw] == [(base + 1, 3), (base + 4, 1)]
    for u in raw:
        text = u.decode()
        assert text == text.upper() and len(text) % 2 == 0


def test_strict_without_lost_history(r):
    base = seq(r)
    for i in range(5):
        r.set("k%d" % i, i)
    a = poll(r, base, "FORMAT", "RESP")
    b = poll(r, base, "STRICT", "FORMAT", "RESP")
    assert a["updates"] == b["updates"]
    assert b["first_sequence"] == base + 1
    c = poll(r, 0, "STRICT", "MAX", 1000)
    assert c["first_sequence"] == r.info("keyspace")["oldest_sequence"]
    d = poll(r, base + 5, "STRICT")
    assert d["updates"] == [] and d["next_sequence"] == base + 5


def test_seq_zero_starts_at_oldest(r):
    r.set("a", 1)
    d = poll(r, 0, "MAX", 1)
    assert d["first_sequence"] == r.info("keyspace")["oldest_sequence"] == 1
    assert raw_header(d["updates"][0])[0] == 1


def test_all_formats_agree(r):
    base = seq(r)
    r.set("a", "1")
    r.mset({"b": "2", "c": "3"})
    r.delete("a", "b")
    raw = poll(r, base, "FORMAT", "RAW")
    resp = poll(r, base, "FORMAT", "RESP")
    js = poll(r, base, "FORMAT", "JSON")
    for k in ("latest_sequence", "next_sequence", "first_sequence"):
        assert raw[k] == resp[k] == js[k]
    assert resp["updates"] == js["updates"]
    assert [raw_header(u) for u in raw["updates"]] == [(u["sequence"], u["count"]) for u in resp["updates"]]


def test_resp3_reply_is_a_map(server, r):
    base = seq(r)
    r.set("a", "1")
    with server.conn() as c:
        hello = c.call("HELLO", "3")
        assert isinstance(hello, dict)
        data = c.call_raw("POLLUPDATES", base, "FORMAT", "RESP")
        assert data.startswith(b"%4\r\n"), data[:40]
        # the update itself is a map too
        assert b"*1\r\n%5\r\n$8\r\nsequence\r\n" in data, data
        reply = c.call("POLLUPDATES", base, "FORMAT", "RESP")
        assert list(reply.keys()) == [k.encode() for k in REPLY_KEYS]
        u = reply[b"updates"][0]
        assert list(u.keys()) == [k.encode() for k in UPDATE_KEYS]
        assert u[b"commands"] == [[b"SET", b"a", b"1"]]
        assert u[b"sequence"] == base + 1
        empty = c.call_raw("POLLUPDATES", seq(r))
        assert empty.startswith(b"%4\r\n")
        js = c.call("POLLUPDATES", base, "FORMAT", "JSON")
        assert resp_update(u) == json_update(js[b"updates"][0])


def test_resp2_reply_is_a_flat_array(server, r):
    base = seq(r)
    r.set("a", "1")
    with server.conn() as c:
        data = c.call_raw("POLLUPDATES", base, "FORMAT", "RESP")
        assert data.startswith(b"*8\r\n$15\r\nlatest_sequence\r\n"), data[:60]
        assert b"*1\r\n*10\r\n$8\r\nsequence\r\n" in data


def test_pollupdates_inside_multi(r):
    base = seq(r)
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.execute_command("POLLUPDATES", base, "FORMAT", "RESP")
    res = p.execute()
    d = to_dict(res[1])
    # the transaction's own write is not committed yet while it runs
    assert d["updates"] == []
    assert d["next_sequence"] == base
    after = poll(r, base, "FORMAT", "RESP")
    assert after["updates"][0]["commands"] == [[b"SET", b"a", b"1"]]


def test_cursor_continuation_across_many_polls(r):
    """Polls that continue where the last ended (the cursor pool) interleaved with polls
    from other positions and with new writes still see every batch once."""
    base = seq(r)
    pos_a = base
    pos_b = base
    seen_a, seen_b = [], []
    for round_ in range(30):
        for i in range(3):
            r.set("c:%d:%d" % (round_, i), "x")
        d = poll(r, pos_a, "MAX", 2, "FORMAT", "RESP")
        seen_a.extend(u["sequence"] for u in d["updates"])
        pos_a = d["next_sequence"]
        if round_ % 3 == 0:
            e = poll(r, pos_b, "MAX", 5, "FORMAT", "RESP")
            seen_b.extend(u["sequence"] for u in e["updates"])
            pos_b = e["next_sequence"]
        poll(r, base, "MAX", 1)  # an unrelated poll from elsewhere
    for u in poll_all(r, pos_a):
        seen_a.append(u["sequence"])
    for u in poll_all(r, pos_b):
        seen_b.append(u["sequence"])
    expected = list(range(base + 1, base + 91))
    assert seen_a == expected
    assert seen_b == expected


def test_empty_server(make_server):
    s = make_server()
    r = s.client()
    assert seq(r) == 0
    assert r.info("keyspace")["sequence"] == 0
    for fmt in ("RAW", "RESP", "JSON"):
        d = poll(r, 0, "FORMAT", fmt)
        assert d["updates"] == [] and d["next_sequence"] == 0 and d["first_sequence"] == 1
        assert d["latest_sequence"] == 0
    assert poll(r, 0, "STRICT")["updates"] == []
    with pytest.raises(redis.ResponseError, match="next sequence is out of range"):
        r.execute_command("POLLUPDATES", 1)
    # a BLOCK poll on an empty server wakes on the first write
    with s.conn(timeout=10) as c:
        c.send(encode_command("POLLUPDATES", 0, "BLOCK", 5000, "FORMAT", "RESP"))
        time.sleep(0.2)
        r.set("first", "1")
        rep = dict(pairs(c.read_reply()))
        assert [resp_update(u)["commands"] for u in rep["updates"]] == [[[b"SET", b"first", b"1"]]]
    r.close()
