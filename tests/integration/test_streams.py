"""Stream commands with Redis 7 semantics and error texts (checked against redis-server 7.0):
XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, streams in the generic key commands, keyspace
events, persistence, and (tidekv only) change records that replay on redis-server."""

import random
import re
import time

import pytest

from conftest import soak, tidekv_only
from helpers import wrong_args
from test_cdc_helpers import RedisServer, poll_all, replay, replayed_on_redis, snapshot_commands
from test_keyspace_events import Events

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
TOO_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
ZERO_ID = "ERR The ID specified in XADD must be greater than 0-0"
EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
BOTH_STRATEGIES = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
LIMIT_NO_STRATEGY = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
LIMIT_NO_TILDE = "ERR syntax error, LIMIT cannot be used without the special ~ option"
XTRIM_NO_STRATEGY = "ERR syntax error, XTRIM must be called with a trimming strategy"
U64_MAX = 2 ** 64 - 1
MAX_ID = "%d-%d" % (U64_MAX, U64_MAX)


def fill(c, key, n, start=1):
    """Adds entries start-0 … start+n-1-0, each with field f = its number."""
    for i in range(start, start + n):
        assert c.call("XADD", key, "%d-0" % i, "f", str(i)) == b"%d-0" % i


def ids(entries):
    return [e[0] for e in entries]


# ---------------------------------------------------------------- XADD

def test_xadd_explicit_and_partial_ids(c):
    assert c.call("XADD", "s", "5-1", "f", "v") == b"5-1"
    assert c.call("XADD", "s", "5-*", "f", "v") == b"5-2"
    assert c.call("XADD", "s", "6-*", "f", "v") == b"6-0"
    assert c.call("XADD", "s", "7", "f", "v") == b"7-0"  # ms alone: seq 0
    assert c.call("XADD", "s", "007-010", "f", "v") == b"7-10"  # leading zeros
    assert c.call("XADD", "new", "0-*", "f", "v") == b"0-1"
    assert c.call("XADD", "new2", "0-1", "f", "v") == b"0-1"
    assert c.call("XLEN", "s") == 5


def test_xadd_auto_ids_increase(c):
    got = [c.call("XADD", "s", "*", "f", str(i)) for i in range(20)]
    for g in got:
        assert re.fullmatch(rb"\d+-\d+", g), g
    parsed = [tuple(int(x) for x in g.split(b"-")) for g in got]
    assert parsed == sorted(parsed) and len(set(parsed)) == 20
    # a last id in the future: "*" goes on from it
    future = "%d-5" % (parsed[-1][0] + 10 ** 9)
    assert c.call("XADD", "s", future, "f", "v") == future.encode()
    assert c.call("XADD", "s", "*", "f", "v") == ("%d-6" % (parsed[-1][0] + 10 ** 9)).encode()


def test_xadd_id_errors(c):
    assert c.call("XADD", "s", "0-0", "f", "v") == ZERO_ID
    assert c.call("XADD", "s", "0", "f", "v") == ZERO_ID
    assert c.call("EXISTS", "s") == 0  # not created
    c.call("XADD", "s", "5-5", "f", "v")
    for id_ in ("5-5", "5-4", "4-9", "5", "4-*"):
        assert c.call("XADD", "s", id_, "f", "v") == TOO_SMALL, id_
    for id_ in ("-", "+", "5-", "-5", "a", "5-a", "1-2-3", "18446744073709551616", "1-18446744073709551616",
                "5-**", "1.5", "x" * 200):
        assert c.call("XADD", "s", id_, "f", "v") == INVALID_ID, id_
    assert c.call("XLEN", "s") == 1
    # the greatest id: nothing more can be added
    assert c.call("XADD", "top", MAX_ID, "f", "v") == MAX_ID.encode()
    assert c.call("XADD", "top", "*", "f", "v") == EXHAUSTED
    assert c.call("XADD", "top", "%d-*" % U64_MAX, "f", "v") == EXHAUSTED
    # seq at its greatest, ms not: "*" moves to the next ms, "10-*" cannot (Redis 7.0's reply)
    c.call("XADD", "s2", "%d-%d" % (10, U64_MAX), "f", "v")
    assert c.call("XADD", "s2", "10-*", "f", "v") == "ERR Elements are too large to be stored"
    assert c.call("XADD", "s2", "11-*", "f", "v") == b"11-0"


def test_xadd_zero_id_checked_before_the_key(c):
    c.call("SET", "str", "x")
    assert c.call("XADD", "str", "0-0", "f", "v") == ZERO_ID
    assert c.call("XADD", "str", "*", "f", "v") == WRONGTYPE
    assert c.call("XADD", "str", "NOMKSTREAM", "*", "f", "v") == WRONGTYPE


def test_xadd_arity(c):
    for args in (("s",), ("s", "*"), ("s", "*", "f"), ("s", "*", "f", "v", "g"), ("s", "MAXLEN", "5", "*", "f"),
                 ("s", "NOMKSTREAM", "MAXLEN", "5")):
        assert c.call("XADD", *args) == wrong_args("xadd"), args
    assert c.call("XADD", "s", "f", "v", "w") == INVALID_ID  # "f" read as the id
    assert c.call("EXISTS", "s") == 0


def test_xadd_option_errors(c):
    cases = [
        (("MAXLEN", "1", "MINID", "2"), BOTH_STRATEGIES),
        (("MINID", "2", "MAXLEN", "1"), BOTH_STRATEGIES),
        (("LIMIT", "5"), LIMIT_NO_STRATEGY),
        (("MAXLEN", "5", "LIMIT", "5"), LIMIT_NO_TILDE),
        (("MAXLEN", "=", "5", "LIMIT", "5"), LIMIT_NO_TILDE),
        (("MAXLEN", "~", "5", "LIMIT", "-1"), "ERR The LIMIT argument must be >= 0."),
        (("MAXLEN", "~", "5", "LIMIT", "x"), NOT_INT),
        (("MAXLEN", "-1"), "ERR The MAXLEN argument must be >= 0."),
        (("MAXLEN", "1.5"), NOT_INT),
        (("MAXLEN", "~", "x"), NOT_INT),
        (("MINID", "-"), INVALID_ID),
        (("MINID", "+"), INVALID_ID),
        (("MINID", "~", "x"), INVALID_ID),
    ]
    for opts, err in cases:
        assert c.call("XADD", "s", *opts, "*", "f", "v") == err, opts
    assert c.call("EXISTS", "s") == 0


def test_xadd_nomkstream(c):
    assert c.call("XADD", "s", "NOMKSTREAM", "*", "f", "v") is None
    assert c.call_raw("XADD", "s", "NOMKSTREAM", "1-1", "f", "v") == b"$-1\r\n"
    assert c.call("EXISTS", "s") == 0
    c.call("XADD", "s", "1-1", "f", "v")
    assert c.call("XADD", "s", "nomkstream", "2-1", "f", "v") == b"2-1"
    assert c.call("XLEN", "s") == 2


def test_xadd_options_in_any_order_and_case(c):
    assert c.call("XADD", "s", "maxlen", "=", "2", "nomkstream", "1-1", "f", "v") is None
    fill(c, "s", 3)
    assert c.call("XADD", "s", "nomkstream", "MaxLen", "=", "2", "4-0", "f", "v") == b"4-0"
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"3-0", b"4-0"]


def test_xadd_exact_trims(c):
    fill(c, "s", 5)
    assert c.call("XADD", "s", "MAXLEN", "3", "6-0", "f", "6") == b"6-0"
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"4-0", b"5-0", b"6-0"]
    assert c.call("XADD", "s", "MINID", "=", "6", "7-0", "f", "7") == b"7-0"
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"6-0", b"7-0"]
    # MAXLEN 0 removes the entry just added: the stream stays, empty, with its last id
    assert c.call("XADD", "s", "MAXLEN", "0", "8-0", "f", "8") == b"8-0"
    assert c.call("XLEN", "s") == 0
    assert c.call("TYPE", "s") == "stream"
    assert c.call("XADD", "s", "8-0", "f", "v") == TOO_SMALL
    assert c.call("XADD", "s", "MINID", "100", "9-0", "f", "9") == b"9-0"
    assert c.call("XLEN", "s") == 0


def test_xadd_approximate_trim_keeps_at_least_the_threshold(c):
    fill(c, "s", 300)
    c.call("XADD", "s", "MAXLEN", "~", "10", "301-0", "f", "v")
    n = c.call("XLEN", "s")
    assert 10 <= n <= 301
    assert c.call("XRANGE", "s", "-", "+")[-1][0] == b"301-0"
    c.call("XADD", "s", "MAXLEN", "~", "10", "LIMIT", "0", "302-0", "f", "v")  # LIMIT 0: no bound
    assert 10 <= c.call("XLEN", "s") <= n + 1


# ---------------------------------------------------------------- XLEN / XRANGE / XREVRANGE

def test_xlen(c):
    assert c.call("XLEN", "nokey") == 0
    fill(c, "s", 3)
    assert c.call("XLEN", "s") == 3
    assert c.call("XLEN") == wrong_args("xlen")
    assert c.call("XLEN", "s", "x") == wrong_args("xlen")


def test_xrange_reply_shape(c):
    c.call("XADD", "s", "1-1", "a", "1", "b", "2")
    c.call("XADD", "s", "2-1", "c", "")
    assert c.call("XRANGE", "s", "-", "+") == [[b"1-1", [b"a", b"1", b"b", b"2"]], [b"2-1", [b"c", b""]]]
    assert c.call_raw("XRANGE", "s", "2-1", "+") == b"*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nc\r\n$0\r\n\r\n"
    assert c.call("XREVRANGE", "s", "+", "-") == [[b"2-1", [b"c", b""]], [b"1-1", [b"a", b"1", b"b", b"2"]]]
    assert c.call("XRANGE", "nokey", "-", "+") == []
    assert c.call("XREVRANGE", "nokey", "+", "-") == []


def test_xrange_bounds(c):
    for ms in (1, 2, 3):
        for seq in (0, 1, 2):
            c.call("XADD", "s", "%d-%d" % (ms, seq), "f", "v")
    assert ids(c.call("XRANGE", "s", "2", "2")) == [b"2-0", b"2-1", b"2-2"]  # ms alone: the whole ms
    assert ids(c.call("XRANGE", "s", "2-1", "3-0")) == [b"2-1", b"2-2", b"3-0"]
    assert ids(c.call("XRANGE", "s", "(2-1", "(3-0")) == [b"2-2"]
    assert ids(c.call("XRANGE", "s", "(2", "2")) == [b"2-1", b"2-2"]
    assert ids(c.call("XRANGE", "s", "-", "(2-0")) == [b"1-0", b"1-1", b"1-2"]
    assert ids(c.call("XREVRANGE", "s", "(3-1", "(1-2")) == [b"3-0", b"2-2", b"2-1", b"2-0"]
    assert ids(c.call("XREVRANGE", "s", "2", "2")) == [b"2-2", b"2-1", b"2-0"]
    assert c.call("XRANGE", "s", "3", "2") == []
    assert c.call("XREVRANGE", "s", "2", "3") == []
    assert ids(c.call("XRANGE", "s", "0", MAX_ID)) == ids(c.call("XRANGE", "s", "-", "+"))


def test_xrange_count(c):
    fill(c, "s", 10)
    assert ids(c.call("XRANGE", "s", "-", "+", "COUNT", "3")) == [b"1-0", b"2-0", b"3-0"]
    assert ids(c.call("XREVRANGE", "s", "+", "-", "count", "2")) == [b"10-0", b"9-0"]
    assert len(c.call("XRANGE", "s", "-", "+", "COUNT", "100")) == 10
    assert ids(c.call("XRANGE", "s", "-", "+", "COUNT", "5", "COUNT", "1")) == [b"1-0"]  # the last one counts
    # COUNT 0 (or negative) is a null array for a stream, an empty one for a missing key
    assert c.call_raw("XRANGE", "s", "-", "+", "COUNT", "0") == b"*-1\r\n"
    assert c.call_raw("XREVRANGE", "s", "+", "-", "COUNT", "-5") == b"*-1\r\n"
    assert c.call_raw("XRANGE", "nokey", "-", "+", "COUNT", "0") == b"*0\r\n"


def test_xrange_errors(c):
    fill(c, "s", 2)
    for bad in ("(", "(-", "(+", "x", "1-x", "--"):
        assert c.call("XRANGE", "s", bad, "+") == INVALID_ID, bad
        assert c.call("XRANGE", "s", "-", bad) == INVALID_ID, bad
    assert c.call("XRANGE", "s", "(" + MAX_ID, "+") == "ERR invalid start ID for the interval"
    assert c.call("XRANGE", "s", "-", "(0-0") == "ERR invalid end ID for the interval"
    assert c.call("XREVRANGE", "s", "(0-0", "-") == "ERR invalid end ID for the interval"
    assert c.call("XRANGE", "s", "-", "+", "COUNT") == SYNTAX
    assert c.call("XRANGE", "s", "-", "+", "LIMIT", "1") == SYNTAX
    assert c.call("XRANGE", "s", "-", "+", "COUNT", "x") == NOT_INT
    assert c.call("XRANGE", "s", "-") == wrong_args("xrange")
    assert c.call("XREVRANGE", "s", "+") == wrong_args("xrevrange")
    # ids are checked before the key
    c.call("SET", "str", "x")
    assert c.call("XRANGE", "str", "x", "+") == INVALID_ID
    assert c.call("XRANGE", "str", "-", "+") == WRONGTYPE


def test_binary_fields_and_values(r):
    fields = {b"\x00\xff": b"\r\n", b"": b"empty field", b"big": b"x" * 100000}
    eid = r.xadd(b"bin\x00key", fields, id="1-1")
    assert eid == b"1-1"
    assert r.xrange(b"bin\x00key") == [(b"1-1", fields)]


# ---------------------------------------------------------------- XDEL

def test_xdel(c):
    fill(c, "s", 5)
    assert c.call("XDEL", "s", "2-0", "2-0", "4", "9-9") == 2  # a duplicate and a missing id count once / not
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"1-0", b"3-0", b"5-0"]
    assert c.call("XDEL", "s", "1-0", "3-0", "5-0") == 3
    assert c.call("XLEN", "s") == 0
    assert c.call("EXISTS", "s") == 1  # an empty stream stays
    assert c.call("TYPE", "s") == "stream"
    assert c.call("XADD", "s", "5-0", "f", "v") == TOO_SMALL  # it keeps its last id
    assert c.call("XADD", "s", "6-0", "f", "v") == b"6-0"


def test_xdel_errors(c):
    fill(c, "s", 3)
    # an invalid id anywhere fails the whole command: nothing is deleted
    assert c.call("XDEL", "s", "1-0", "bad") == INVALID_ID
    assert c.call("XDEL", "s", "1-0", "-") == INVALID_ID
    assert c.call("XLEN", "s") == 3
    assert c.call("XDEL", "nokey", "bad") == 0  # the key is looked up first
    c.call("SET", "str", "x")
    assert c.call("XDEL", "str", "1-0") == WRONGTYPE
    assert c.call("XDEL", "s") == wrong_args("xdel")


# ---------------------------------------------------------------- XTRIM

def test_xtrim(c):
    fill(c, "s", 10)
    assert c.call("XTRIM", "s", "MAXLEN", "20") == 0
    assert c.call("XTRIM", "s", "MAXLEN", "8") == 2
    assert c.call("XTRIM", "s", "maxlen", "=", "6") == 2
    assert ids(c.call("XRANGE", "s", "-", "+"))[0] == b"5-0"
    assert c.call("XTRIM", "s", "MINID", "7") == 2
    assert c.call("XTRIM", "s", "MINID", "=", "7-0") == 0
    assert c.call("XTRIM", "s", "MINID", "8-1") == 2
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"9-0", b"10-0"]
    assert c.call("XTRIM", "s", "MAXLEN", "0") == 2
    assert c.call("XLEN", "s") == 0 and c.call("EXISTS", "s") == 1
    assert c.call("XTRIM", "nokey", "MAXLEN", "0") == 0
    assert c.call("EXISTS", "nokey") == 0


def test_xtrim_approximate_with_limit(c):
    fill(c, "s", 500)
    removed = c.call("XTRIM", "s", "MAXLEN", "~", "100", "LIMIT", "150")
    assert 0 <= removed <= 150
    assert c.call("XLEN", "s") == 500 - removed
    removed = c.call("XTRIM", "s", "MINID", "~", "450")
    assert c.call("XLEN", "s") >= 51


def test_xtrim_errors(c):
    fill(c, "s", 3)
    cases = [
        (("MAXLEN",), wrong_args("xtrim")),
        (("FOO", "1"), SYNTAX),
        (("MAXLEN", "1", "FOO"), SYNTAX),
        (("MAXLEN", "1", "LIMIT"), SYNTAX),
        (("MAXLEN", "1", "NOMKSTREAM"), SYNTAX),
        (("MAXLEN", "1", "MINID", "1"), BOTH_STRATEGIES),
        (("LIMIT", "1", "MAXLEN", "1"), LIMIT_NO_TILDE),
        (("MAXLEN", "1", "LIMIT", "0"), LIMIT_NO_TILDE),
        (("LIMIT", "1", "LIMIT", "1"), LIMIT_NO_STRATEGY),
        (("MAXLEN", "-1"), "ERR The MAXLEN argument must be >= 0."),
        (("MAXLEN", "~"), NOT_INT),
        (("MINID", "-"), INVALID_ID),
        (("MINID", "x"), INVALID_ID),
        (("MAXLEN", "~", "1", "LIMIT", "-1"), "ERR The LIMIT argument must be >= 0."),
    ]
    for opts, err in cases:
        assert c.call("XTRIM", "s", *opts) == err, opts
    assert c.call("XTRIM", "s", "LIMIT", "0", "x", "y") == SYNTAX
    assert c.call("XLEN", "s") == 3
    c.call("SET", "str", "x")
    assert c.call("XTRIM", "str", "MAXLEN", "0") == WRONGTYPE
    assert c.call("XTRIM", "str", "MAXLEN", "-1") == "ERR The MAXLEN argument must be >= 0."  # options first


# ---------------------------------------------------------------- XREAD

def test_xread(c):
    fill(c, "a", 3)
    fill(c, "b", 2, start=10)
    assert c.call("XREAD", "STREAMS", "a", "b", "1-0", "10") == [
        [b"a", [[b"2-0", [b"f", b"2"]], [b"3-0", [b"f", b"3"]]]], [b"b", [[b"11-0", [b"f", b"11"]]]]]
    assert c.call("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0") == [
        [b"a", [[b"1-0", [b"f", b"1"]]]], [b"b", [[b"10-0", [b"f", b"10"]]]]]
    # only the keys that have something after their id
    assert c.call("XREAD", "STREAMS", "a", "nokey", "b", "0-0", "0-0", "11") == [[b"a", ids_entries(c, "a")]]
    assert c.call("XREAD", "count", "0", "streams", "a", "2") == [[b"a", [[b"3-0", [b"f", b"3"]]]]]
    assert c.call("XREAD", "COUNT", "-3", "STREAMS", "a", "2") == [[b"a", [[b"3-0", [b"f", b"3"]]]]]
    assert c.call_raw("XREAD", "STREAMS", "a", "3-0") == b"*-1\r\n"
    # $: only what is added later, which a read without BLOCK never sees
    assert c.call_raw("XREAD", "STREAMS", "a", "b", "$", "$") == b"*-1\r\n"
    assert c.call("XREAD", "STREAMS", "nokey", "$") is None
    c.call("XDEL", "a", "3-0")
    assert c.call("XREAD", "STREAMS", "a", "2-0") is None


def ids_entries(c, key):
    return c.call("XRANGE", key, "-", "+")


def test_xread_resp3(server):
    with server.conn() as c:
        c.call("HELLO", "3")
        fill(c, "a", 2)
        assert c.call("XREAD", "STREAMS", "a", "1") == {b"a": [[b"2-0", [b"f", b"2"]]]}
        assert c.call("XREAD", "STREAMS", "a", "2") is None


def test_xread_errors(c):
    fill(c, "a", 2)
    c.call("SET", "str", "x")
    unbalanced = "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
    cases = [
        (("STREAMS", "a", "b", "0"), unbalanced),
        (("COUNT", "x", "STREAMS", "a", "0", "1"), NOT_INT),  # options first, as Redis reads them
        (("BLOCK", "x", "STREAMS", "a", "0"), "ERR timeout is not an integer or out of range"),
        (("BLOCK", "-1", "STREAMS", "a", "0"), "ERR timeout is negative"),
        (("FOO", "STREAMS", "a", "0"), SYNTAX),
        (("COUNT", "1", "a", "0"), SYNTAX),
        (("STREAMS", "a", ">"), "ERR The > ID can be specified only when calling XREADGROUP using the GROUP "
                                "<group> <consumer> option."),
        (("STREAMS", "a", "bad"), INVALID_ID),
        (("STREAMS", "nokey", "bad"), INVALID_ID),
        (("STREAMS", "a", "-"), INVALID_ID),
        (("STREAMS", "a", "+"), INVALID_ID),  # Redis 7.4's "+" is no id in 7.0
        (("BLOCK", "0", "STREAMS", "a", "+"), INVALID_ID),
        (("BLOCK", "0", "STREAMS", "str", "$"), WRONGTYPE),
        (("STREAMS", "str", "0"), WRONGTYPE),
        (("STREAMS", "str", "bad"), WRONGTYPE),  # the key's type first
    ]
    for args, err in cases:
        assert c.call("XREAD", *args) == err, args
    assert c.call("XREAD", "STREAMS", "a") == wrong_args("xread")
    assert c.call("XREAD", "COUNT", "1") == wrong_args("xread")


def test_xread_keys_for_command_getkeys(c):
    assert c.call("COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0") == [b"a", b"b"]


# ---------------------------------------------------------------- XINFO STREAM

def xinfo(c, key):
    info = c.call("XINFO", "STREAM", key)
    return dict(zip(info[::2], info[1::2]))


def test_xinfo_stream(c):
    c.call("XADD", "s", "1-1", "a", "1")
    c.call("XADD", "s", "2-1", "b", "2")
    c.call("XADD", "s", "3-1", "c", "3")
    c.call("XDEL", "s", "2-1")
    d = xinfo(c, "s")
    assert list(d) == [b"length", b"radix-tree-keys", b"radix-tree-nodes", b"last-generated-id",
                       b"max-deleted-entry-id", b"entries-added", b"recorded-first-entry-id", b"groups",
                       b"first-entry", b"last-entry"]
    assert (d[b"length"], d[b"last-generated-id"], d[b"max-deleted-entry-id"], d[b"entries-added"],
            d[b"recorded-first-entry-id"], d[b"groups"]) == (2, b"3-1", b"2-1", 3, b"1-1", 0)
    assert d[b"first-entry"] == [b"1-1", [b"a", b"1"]]
    assert d[b"last-entry"] == [b"3-1", [b"c", b"3"]]
    c.call("XDEL", "s", "1-1")
    assert xinfo(c, "s")[b"recorded-first-entry-id"] == b"3-1"
    c.call("XTRIM", "s", "MAXLEN", "0")
    d = xinfo(c, "s")
    assert (d[b"length"], d[b"last-generated-id"], d[b"max-deleted-entry-id"], d[b"entries-added"],
            d[b"recorded-first-entry-id"], d[b"first-entry"], d[b"last-entry"]) == (
        0, b"3-1", b"2-1", 3, b"0-0", None, None)


def test_xinfo_stream_resp3_is_a_map(server):
    with server.conn() as c:
        c.call("HELLO", "3")
        c.call("XADD", "s", "1-1", "a", "1")
        d = c.call("XINFO", "STREAM", "s")
        assert isinstance(d, dict) and d[b"length"] == 1 and d[b"first-entry"] == [b"1-1", [b"a", b"1"]]


def test_xinfo_errors(c):
    c.call("XADD", "s", "1-1", "a", "1")
    c.call("SET", "str", "x")
    assert c.call("XINFO", "STREAM", "nokey") == "ERR no such key"
    assert c.call("XINFO", "STREAM", "nokey", "foo") == "ERR no such key"  # the key first
    assert c.call("XINFO", "STREAM", "str") == WRONGTYPE
    assert c.call("XINFO", "STREAM", "s", "foo") == \
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    assert c.call("XINFO", "STREAM") == "ERR wrong number of arguments for 'xinfo|stream' command"
    assert c.call("XINFO", "FOO", "s") == "ERR unknown subcommand 'FOO'. Try XINFO HELP."


# ---------------------------------------------------------------- types and generic commands

@pytest.mark.parametrize("cmd", [
    ("XADD", "str", "*", "f", "v"), ("XLEN", "str"), ("XRANGE", "str", "-", "+"), ("XREVRANGE", "str", "+", "-"),
    ("XDEL", "str", "1-1"), ("XTRIM", "str", "MAXLEN", "1"), ("XREAD", "STREAMS", "str", "0"),
    ("XINFO", "STREAM", "str"),
])
def test_stream_commands_on_a_string_key(c, cmd):
    c.call("SET", "str", "x")
    assert c.call(*cmd) == WRONGTYPE


@pytest.mark.parametrize("cmd", [
    ("GET", "s"), ("HGET", "s", "f"), ("LPUSH", "s", "x"), ("SADD", "s", "x"), ("ZADD", "s", "1", "x"),
    ("APPEND", "s", "x"), ("INCR", "s"), ("LLEN", "s"), ("HSET", "s", "f", "v"), ("SCARD", "s"),
])
def test_other_commands_on_a_stream_key(c, cmd):
    c.call("XADD", "s", "1-1", "f", "v")
    assert c.call(*cmd) == WRONGTYPE


def test_generic_commands(r, c):
    fill(c, "s", 3)
    assert c.call("TYPE", "s") == "stream"
    assert c.call("OBJECT", "ENCODING", "s") == b"stream"
    assert c.call("EXISTS", "s") == 1
    assert c.call("DBSIZE") == 1
    assert c.call("SCAN", "0", "TYPE", "stream") == [b"0", [b"s"]]
    assert c.call("SCAN", "0", "TYPE", "hash") == [b"0", []]
    assert c.call("COPY", "s", "s2") == 1
    assert c.call("XADD", "s2", "4-0", "f", "v") == b"4-0"  # the copy has its own entries and last id
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"1-0", b"2-0", b"3-0"]
    assert ids(c.call("XRANGE", "s2", "-", "+")) == [b"1-0", b"2-0", b"3-0", b"4-0"]
    assert c.call("XADD", "s2", "3-5", "f", "v") == TOO_SMALL
    assert c.call("RENAME", "s2", "s3") == "OK"
    assert c.call("EXISTS", "s2") == 0
    assert c.call("XLEN", "s3") == 4
    assert c.call("XADD", "s3", "4-0", "f", "v") == TOO_SMALL
    assert c.call("EXPIRE", "s3", "100") == 1
    assert 0 < c.call("TTL", "s3") <= 100
    assert c.call("PERSIST", "s3") == 1
    assert c.call("DEL", "s", "s3") == 2
    assert c.call("XLEN", "s") == 0 and c.call("EXISTS", "s") == 0
    assert c.call("XADD", "s", "1-0", "f", "v") == b"1-0"  # a new stream: its old last id is gone
    # an empty stream is a key for the generic commands too
    c.call("XDEL", "s", "1-0")
    assert c.call("DBSIZE") == 1
    assert c.call("SCAN", "0", "TYPE", "stream") == [b"0", [b"s"]]
    assert c.call("COPY", "s", "e") == 1 and c.call("TYPE", "e") == "stream"
    assert c.call("XADD", "e", "1-0", "f", "v") == TOO_SMALL


def test_stream_expires(r, c):
    fill(c, "s", 2)
    assert c.call("PEXPIRE", "s", "50") == 1
    time.sleep(0.15)
    assert c.call("EXISTS", "s") == 0
    assert c.call("XLEN", "s") == 0
    assert c.call("XADD", "s", "1-0", "f", "v") == b"1-0"


def test_recreated_stream_does_not_see_old_entries(c):
    fill(c, "s", 3)
    c.call("DEL", "s")
    c.call("XADD", "s", "2-5", "f", "v")
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"2-5"]
    c.call("SET", "s", "x")
    c.call("DEL", "s")
    c.call("XADD", "s", "1-0", "f", "v")
    assert ids(c.call("XRANGE", "s", "-", "+")) == [b"1-0"]


def test_transaction_with_stream_commands(c):
    assert c.call("MULTI") == "OK"
    c.call("XADD", "s", "1-0", "f", "v")
    c.call("XADD", "s", "1-0", "f", "v")  # fails inside EXEC
    c.call("XLEN", "s")
    assert c.call("EXEC") == [b"1-0", TOO_SMALL, 1]


@soak  # a restart takes over a second
def test_streams_survive_a_restart(make_server):
    s = make_server()
    with s.conn() as c:
        fill(c, "s", 3)
        c.call("XDEL", "s", "2-0")
        c.call("XADD", "e", "9-9", "f", "v")
        c.call("XDEL", "e", "9-9")
    s.restart()
    with s.conn() as c:
        assert ids(c.call("XRANGE", "s", "-", "+")) == [b"1-0", b"3-0"]
        assert c.call("XADD", "s", "3-0", "f", "v") == TOO_SMALL
        assert c.call("TYPE", "e") == "stream" and c.call("XLEN", "e") == 0
        assert c.call("XADD", "e", "9-9", "f", "v") == TOO_SMALL


# ---------------------------------------------------------------- keyspace events

def test_keyspace_events(server, r):
    e = Events(server)
    try:
        for cmd in (("XADD", "s", "1-0", "f", "v"), ("XADD", "s", "2-0", "f", "v"),
                    ("XADD", "s", "MAXLEN", "1", "3-0", "f", "v"), ("XDEL", "s", "3-0", "9-9"),
                    ("XDEL", "s", "9-9"), ("XTRIM", "s", "MAXLEN", "0"), ("XADD", "s", "4-0", "f", "v"),
                    ("XTRIM", "s", "MAXLEN", "0"), ("XTRIM", "s", "MAXLEN", "0"),
                    ("XADD", "s", "NOMKSTREAM", "5-0", "f", "v"), ("XADD", "n", "NOMKSTREAM", "*", "f", "v"),
                    ("DEL", "s")):
            r.execute_command(*cmd)
        got = [(ev, key) for _, ev, key in e.take()]
    finally:
        e.close()
    assert got == [("xadd", "s"), ("xadd", "s"), ("xadd", "s"), ("xtrim", "s"), ("xdel", "s"),
                   ("xadd", "s"), ("xtrim", "s"), ("xadd", "s"), ("del", "s")]


# ---------------------------------------------------------------- change records (tidekv only)

def stream_state(cl, key):
    """What a replay must reproduce: the entries and the stream's own counters."""
    if not cl.exists(key):
        return None
    info = cl.execute_command("XINFO", "STREAM", key)
    d = dict(zip(info[::2], info[1::2]))
    counters = {k: d[k] for k in (b"length", b"last-generated-id", b"max-deleted-entry-id", b"entries-added",
                                  b"recorded-first-entry-id", b"groups", b"first-entry", b"last-entry")}
    return cl.execute_command("XRANGE", key, "-", "+"), cl.xlen(key), cl.type(key), counters, cl.pttl(key) > 0


def random_stream_workload(rnd, n):
    """Stream writes of every kind over a few keys, ids mostly automatic."""
    out = []
    for _ in range(n):
        k = rnd.choice(["s1", "s2", "s3"])
        fields = [x for i in range(rnd.randint(1, 3)) for x in ("f%d" % i, str(rnd.randint(0, 99)))]
        op = rnd.randrange(10)
        if op < 4:
            out.append(("XADD", k, "*") + tuple(fields))
        elif op == 4:
            out.append(("XADD", k, "%d-*" % rnd.randint(0, 3)) + tuple(fields))
        elif op == 5:
            trim = rnd.choice([("MAXLEN", str(rnd.randint(0, 8))), ("MAXLEN", "~", str(rnd.randint(0, 8))),
                               ("MINID", "%d" % rnd.randint(0, 2 * 10 ** 12))])
            out.append(("XADD", k) + trim + ("*",) + tuple(fields))
        elif op == 6:
            out.append(("XTRIM", k, "MAXLEN", "~", str(rnd.randint(0, 6)), "LIMIT", "3")
                       if rnd.random() < 0.3 else ("XTRIM", k, "MAXLEN", str(rnd.randint(0, 6))))
        elif op == 7:
            out.append(("XDEL-SOME", k))
        elif op == 8:
            out.append(rnd.choice([("DEL", k), ("EXPIRE", k, "1000"), ("COPY", k, "s4", "REPLACE"),
                                   ("XADD", k, "NOMKSTREAM", "*") + tuple(fields),
                                   ("XSETID", k, "%d-5" % (3 * 10 ** 12), "ENTRIESADDED", "1000")]))
        else:
            out.append(("XTRIM", k, "MINID", "=", "0"))
    return out


def recorded_commands(r, base):
    return [[bytes(a) for a in cmd] for u in poll_all(r, base, "RESP") for cmd in u["commands"]]


@tidekv_only
def test_change_records_replay_on_redis(server, r):
    rs = RedisServer()
    try:
        rs.start()
        base = int(r.execute_command("SEQUENCE"))
        rnd = random.Random(20261205)
        for cmd in random_stream_workload(rnd, 600):
            if cmd[0] == "XDEL-SOME":
                present = [e[0] for e in r.xrange(cmd[1])]
                cmd = ("XDEL", cmd[1]) + tuple(rnd.sample(present, min(len(present), 2))) + (b"1-1",)
            try:
                r.execute_command(*cmd)
            except Exception as e:  # an ms-* below the last id, XSETID of a missing key: recorded nothing
                assert "smaller" in str(e) or "no such key" in str(e), (cmd, e)
        updates = poll_all(r, base, "RESP")
        with rs.conn() as rc:
            assert replay(rc, updates) == []
        theirs = rs.client()
        for k in ("s1", "s2", "s3", "s4"):
            mine = stream_state(r, k)
            assert mine is not None and mine[3][b"entries-added"] > 0, k  # the workload reached it
            assert stream_state(theirs, k) == mine, k
        theirs.close()
        for cmd in recorded_commands(r, base):
            assert cmd[0] != b"XADD" or re.fullmatch(rb"\d+-\d+", cmd[2]), cmd  # never * or ms-*
    finally:
        rs.stop()


@tidekv_only
def test_recorded_forms(server, r):
    base = int(r.execute_command("SEQUENCE"))
    r.execute_command("XADD", "s", "5-*", "f", "v")
    r.execute_command("XADD", "s", "5-*", "g", "w")
    auto = r.execute_command("XADD", "s", "MAXLEN", "1", "*", "h", "x")
    r.execute_command("XDEL", "s", "1-1", auto)
    r.execute_command("XTRIM", "s", "MAXLEN", "0")  # removes nothing: no record
    r.execute_command("XADD", "t", MAX_ID, "f", "v")
    r.execute_command("XTRIM", "t", "MAXLEN", "0")
    r.execute_command("XADD", "u", "MINID", "7", "6-0", "f", "v")
    assert recorded_commands(r, base) == [
        [b"XADD", b"s", b"5-0", b"f", b"v"],
        [b"XADD", b"s", b"5-1", b"g", b"w"],
        [b"XADD", b"s", auto, b"h", b"x"],
        [b"XTRIM", b"s", b"MINID", b"5-2"],  # exact: just past the last entry removed
        [b"XDEL", b"s", auto],  # only what was deleted
        [b"XADD", b"t", MAX_ID.encode(), b"f", b"v"],
        [b"XTRIM", b"t", b"MAXLEN", b"0"],  # past the greatest id there is nothing: all of it
        [b"XADD", b"u", b"6-0", b"f", b"v"],
        [b"XTRIM", b"u", b"MINID", b"6-1"],
    ]


# ---------------------------------------------------------------- replicas and APPLYBATCH (tidekv only)

@soak  # two servers and a sync: over a second
@tidekv_only
def test_a_replica_holds_the_masters_streams(make_server):
    from test_replication import start_pair, wait_synced
    master, replica = start_pair(make_server)
    with master.conn() as c:
        fill(c, "s", 20)
        c.call("XDEL", "s", "3-0", "20-0")
        c.call("XTRIM", "s", "MAXLEN", "10")
        c.call("XADD", "e", "MAXLEN", "0", "*", "f", "v")
        c.call("XADD", "x", "1-1", "f", "v")
        c.call("EXPIRE", "x", "1000")
    wait_synced(master, replica)
    mine, theirs = master.client(), replica.client()
    for k in ("s", "e", "x"):
        assert stream_state(theirs, k) == stream_state(mine, k), k
    mine.close()
    theirs.close()


# ---------------------------------------------------------------- XSETID

def test_xsetid(c):
    assert c.call("XSETID", "s", "5-5") == "ERR no such key"
    c.call("XADD", "s", "3-3", "f", "v")
    assert c.call("XSETID", "s", "9-9", "ENTRIESADDED", "5", "MAXDELETEDID", "4-0") == "OK"
    d = xinfo(c, "s")
    assert (d[b"last-generated-id"], d[b"entries-added"], d[b"max-deleted-entry-id"]) == (b"9-9", 5, b"4-0")
    assert c.call("XADD", "s", "9-9", "f", "v") == TOO_SMALL
    assert c.call("XSETID", "s", "3-9") == "OK"  # lower again, still above the last entry
    assert c.call("XADD", "s", "4-0", "f", "v") == b"4-0"
    cases = [
        (("2-2",), "ERR The ID specified in XSETID is smaller than the target stream top item"),
        (("9-9", "ENTRIESADDED", "1"), "ERR The entries_added specified in XSETID is smaller than the target "
                                       "stream length"),
        (("9-9", "MAXDELETEDID", "10-0"), "ERR The ID specified in XSETID is smaller than the provided "
                                          "max_deleted_entry_id"),
        (("9-9", "ENTRIESADDED", "-1"), "ERR entries_added must be positive"),
        (("9-9", "ENTRIESADDED", "x"), NOT_INT),
        (("9-9", "FOO"), SYNTAX),
        (("9-9", "ENTRIESADDED"), SYNTAX),
        (("bad",), INVALID_ID),
        (("9-9", "MAXDELETEDID", "+"), INVALID_ID),
    ]
    for args, err in cases:
        assert c.call("XSETID", "s", *args) == err, args
    c.call("SET", "str", "x")
    assert c.call("XSETID", "str", "1-1") == WRONGTYPE
    assert c.call("XSETID", "s") == wrong_args("xsetid")


# ---------------------------------------------------------------- snapshots (tidekv only)

def make_streams(c):
    fill(c, "s", 10)
    c.call("XDEL", "s", "2-0", "7-0")
    c.call("XTRIM", "s", "MAXLEN", "6")
    c.call("XADD", "e", "MAXLEN", "0", "5-5", "f", "v")  # empty, with its last id
    c.call("XADD", "x", "1-1", "a", "1", "b", "")
    c.call("XSETID", "x", "8-8", "ENTRIESADDED", "4", "MAXDELETEDID", "2-0")
    c.call("PEXPIRE", "x", "100000")


@tidekv_only
def test_snapshot_read_rebuilds_streams(server, r):
    with server.conn() as c:
        make_streams(c)
        sid = c.call("SNAPSHOT", "CREATE")[1].decode()
        before = {k: stream_state(r, k) for k in ("s", "e", "x")}
        c.call("XADD", "s", "99-0", "late", "x")  # after the snapshot: not in it
        commands = snapshot_commands(c, sid, 2)  # pages resume inside "s"
    assert [b"XADD", b"s", b"5-0", b"f", b"5"] in commands
    assert replayed_on_redis(commands, ("s", "e", "x"), stream_state) == before
