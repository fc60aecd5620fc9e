"""Hash commands with Redis 7 semantics and error texts (checked against redis-server 7.0),
hashes in the generic key commands, persistence and transactions, and (tidekv only) the
change stream of hash writes."""

import time

import pytest

from conftest import RespError, tidekv_only
from helpers import wrong_args
from stream_replay import batches_between, make_step, read_changes, replay, snapshot

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
HASH_NOT_INT = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63


def flat_pairs(flat):
    """[f1, v1, f2, v2, ...] -> [(f1, v1), (f2, v2), ...]"""
    assert len(flat) % 2 == 0, flat
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


# ---------------------------------------------------------------- HSET / HGET / HSETNX / HMSET / HMGET

def test_hset_multiple_pairs_returns_number_added(r, c):
    assert r.hset("h", mapping={"f1": "v1", "f2": "v2"}) == 2
    assert c.call("HSET", "h", "f1", "new", "f3", "v3") == 1  # f1 updated, f3 added
    assert c.call("HSET", "h", "f1", "again") == 0
    assert r.hget("h", "f1") == b"again"
    assert r.hget("h", "f2") == b"v2"
    assert r.hget("h", "f3") == b"v3"
    assert r.hget("h", "nofield") is None
    assert r.hget("nokey", "f1") is None
    assert r.hlen("h") == 3
    # a field given twice in one HSET counts once, the last value wins
    assert c.call("HSET", "h2", "a", "1", "a", "2", "b", "3") == 2
    assert r.hgetall("h2") == {b"a": b"2", b"b": b"3"}
    assert c.call_raw("HGET", "h2", "a") == b"$1\r\n2\r\n"
    assert c.call_raw("HGET", "h2", "zz") == b"$-1\r\n"


def test_hset_arity(c):
    for args in (("h",), ("h", "f"), ("h", "f", "v", "g")):
        assert c.call("HSET", *args) == wrong_args("hset")
    assert c.call("HSET") == wrong_args("hset")
    assert c.call("HMSET", "h", "f") == wrong_args("hmset")
    assert c.call("HMSET", "h", "f", "v", "g") == wrong_args("hmset")
    assert c.call("HSETNX", "h", "f") == wrong_args("hsetnx")
    assert c.call("HGET", "h") == wrong_args("hget")
    assert c.call("HGET", "h", "f", "g") == wrong_args("hget")
    assert c.call("HMGET", "h") == wrong_args("hmget")
    assert c.call("HDEL", "h") == wrong_args("hdel")
    assert c.call("HLEN") == wrong_args("hlen")
    assert c.call("HSTRLEN", "h") == wrong_args("hstrlen")
    assert c.call("HEXISTS", "h") == wrong_args("hexists")
    assert c.call("HKEYS") == wrong_args("hkeys")
    assert c.call("HVALS", "h", "x") == wrong_args("hvals")
    assert c.call("HGETALL") == wrong_args("hgetall")
    assert c.call("HINCRBY", "h", "f") == wrong_args("hincrby")
    assert c.call("HINCRBYFLOAT", "h", "f") == wrong_args("hincrbyfloat")
    assert c.call("HSCAN", "h") == wrong_args("hscan")
    assert c.call("HRANDFIELD") == wrong_args("hrandfield")
    # nothing was created by the failed commands
    assert c.call("EXISTS", "h") == 0


def test_hsetnx(r, c):
    assert r.hsetnx("h", "f", "v1") == 1
    assert r.hsetnx("h", "f", "v2") == 0
    assert r.hget("h", "f") == b"v1"
    assert c.call("HSETNX", "h", "g", "w") == 1
    assert r.hgetall("h") == {b"f": b"v1", b"g": b"w"}


def test_hmset_and_hmget(r, c):
    assert c.call_raw("HMSET", "h", "a", "1", "b", "2", "c", "3") == b"+OK\r\n"
    assert c.call_raw("HMSET", "h", "a", "10") == b"+OK\r\n"
    assert r.hmget("h", ["a", "nofield", "c", "a"]) == [b"10", None, b"3", b"10"]
    assert r.hmget("nokey", ["a", "b"]) == [None, None]
    assert c.call_raw("HMGET", "h", "b", "x") == b"*2\r\n$1\r\n2\r\n$-1\r\n"


def test_hset_empty_field_and_value(r, c):
    assert c.call("HSET", "h", "", "") == 1
    assert r.hexists("h", "") is True
    assert r.hget("h", "") == b""
    assert r.hstrlen("h", "") == 0
    assert r.hlen("h") == 1
    assert r.exists("h") == 1
    assert r.hgetall("h") == {b"": b""}


# ---------------------------------------------------------------- HDEL / HLEN / HSTRLEN / HEXISTS

def test_hdel_multiple_returns_count(r, c):
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3", "d": "4"})
    assert r.hdel("h", "a", "nofield", "b") == 2
    assert r.hdel("h", "a") == 0
    assert c.call("HDEL", "h", "c", "c") == 1  # a field given twice is removed once
    assert r.hgetall("h") == {b"d": b"4"}
    assert r.hdel("nokey", "a") == 0
    assert r.hlen("h") == 1


def test_hlen_hstrlen_hexists(r, c):
    assert r.hlen("nokey") == 0
    r.hset("h", mapping={"short": "ab", "long": "x" * 1000, "num": 12345})
    assert r.hlen("h") == 3
    assert r.hstrlen("h", "short") == 2
    assert r.hstrlen("h", "long") == 1000
    assert r.hstrlen("h", "num") == 5
    assert r.hstrlen("h", "nofield") == 0
    assert r.hstrlen("nokey", "f") == 0
    assert c.call("HEXISTS", "h", "short") == 1
    assert c.call("HEXISTS", "h", "nofield") == 0
    assert c.call("HEXISTS", "nokey", "short") == 0


def test_last_field_deleted_removes_the_key(r, c):
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hdel("h", "a") == 1
    assert r.exists("h") == 1
    assert r.hdel("h", "b") == 1
    assert r.exists("h") == 0
    assert c.call_raw("TYPE", "h") == b"+none\r\n"
    assert r.hgetall("h") == {}
    assert r.hlen("h") == 0
    assert r.dbsize() == 0
    assert r.keys("*") == []
    # the key can now hold any type, and a new hash starts empty
    r.set("h", "string")
    assert r.get("h") == b"string"
    r.delete("h")
    assert r.hset("h", "c", "3") == 1
    assert r.hgetall("h") == {b"c": b"3"}


def test_recreated_hash_does_not_see_old_fields(r):
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.delete("h") == 1
    assert r.hset("h", "d", "4") == 1
    assert r.hgetall("h") == {b"d": b"4"}
    assert r.hlen("h") == 1
    assert r.hget("h", "a") is None
    assert r.hexists("h", "b") is False
    # overwritten by SET, then a hash again
    r.hset("g", mapping={"x": "1", "y": "2"})
    r.set("g", "plain")
    assert r.type("g") == b"string"
    r.delete("g")
    r.hset("g", "z", "3")
    assert r.hgetall("g") == {b"z": b"3"}
    assert r.hkeys("g") == [b"z"]


# ---------------------------------------------------------------- HKEYS / HVALS / HGETALL

def test_hkeys_hvals_hgetall(r, c):
    assert r.hkeys("nokey") == []
    assert r.hvals("nokey") == []
    assert r.hgetall("nokey") == {}
    assert c.call_raw("HGETALL", "nokey") == b"*0\r\n"
    data = {b"f%d" % i: b"v%d" % i for i in range(50)}
    r.hset("h", mapping=data)
    keys = r.hkeys("h")
    vals = r.hvals("h")
    assert sorted(keys) == sorted(data)
    assert sorted(vals) == sorted(data.values())
    assert r.hgetall("h") == data
    # HKEYS and HVALS walk the hash in the same order as HGETALL
    flat = c.call("HGETALL", "h")
    assert len(flat) == 100
    assert [k for k, _ in flat_pairs(flat)] == keys
    assert [v for _, v in flat_pairs(flat)] == vals
    assert dict(zip(keys, vals)) == data


# ---------------------------------------------------------------- HINCRBY

def test_hincrby(r, c):
    assert r.hincrby("h", "n", 5) == 5  # new key, new field
    assert r.hincrby("h", "n", -8) == -3
    assert r.hget("h", "n") == b"-3"
    assert c.call("HINCRBY", "h", "n", "0") == -3
    r.hset("h", "m", "100")
    assert r.hincrby("h", "m", 1) == 101
    assert r.hincrby("h", "other", -1) == -1
    assert r.hgetall("h") == {b"n": b"-3", b"m": b"101", b"other": b"-1"}


def test_hincrby_overflow(r, c):
    r.hset("h", "max", str(INT64_MAX))
    r.hset("h", "min", str(INT64_MIN))
    assert c.call("HINCRBY", "h", "max", "1") == OVERFLOW
    assert c.call("HINCRBY", "h", "min", "-1") == OVERFLOW
    assert c.call("HINCRBY", "h", "max", str(INT64_MIN)) == -1
    r.hset("h", "max", str(INT64_MAX))
    assert r.hget("h", "max") == b"9223372036854775807"
    assert r.hget("h", "min") == b"-9223372036854775808"
    r.hset("h", "big", "5")
    assert c.call("HINCRBY", "h", "big", str(INT64_MAX)) == OVERFLOW
    assert r.hget("h", "big") == b"5"
    assert c.call("HINCRBY", "h", "big", str(INT64_MAX - 5)) == INT64_MAX


def test_hincrby_errors(r, c):
    r.hset("h", mapping={"s": "abc", "f": "1.5", "sp": " 1", "e": "", "ok": "7"})
    for field in ("s", "f", "sp", "e"):
        assert c.call("HINCRBY", "h", field, "1") == HASH_NOT_INT, field
    for incr in ("abc", "1.5", "", "9223372036854775808", " 1"):
        assert c.call("HINCRBY", "h", "ok", incr) == NOT_INT, incr
    assert r.hget("h", "ok") == b"7"
    assert r.hget("h", "s") == b"abc"


# ---------------------------------------------------------------- HINCRBYFLOAT

@pytest.mark.parametrize("start,incr,result", [
    ("10.5", "0.1", b"10.6"),
    ("0.1", "0.2", b"0.3"),
    ("5.0e3", "2.0e2", b"5200"),
    ("3", "1.5", b"4.5"),
    ("1.5", "1.5", b"3"),
    ("1", "-1", b"0"),
    ("10", "-20.25", b"-10.25"),
    ("-0.5", "1e1", b"9.5"),
])
def test_hincrbyfloat_result_formatting(r, c, start, incr, result):
    r.hset("h", "f", start)
    assert c.call("HINCRBYFLOAT", "h", "f", incr) == result
    assert r.hget("h", "f") == result


def test_hincrbyfloat_new_key_and_field(r, c):
    assert c.call("HINCRBYFLOAT", "h", "f", "2.5") == b"2.5"
    assert c.call("HINCRBYFLOAT", "h", "g", "3") == b"3"
    assert r.hincrbyfloat("h", "f", 0.25) == 2.75
    assert r.hgetall("h") == {b"f": b"2.75", b"g": b"3"}


def test_hincrbyfloat_errors(r, c):
    r.hset("h", mapping={"s": "abc", "sp": " 1", "e": "", "ok": "1.5"})
    for field in ("s", "sp", "e"):
        assert c.call("HINCRBYFLOAT", "h", field, "1") == HASH_NOT_FLOAT, field
    for incr in ("abc", "", "1.5x", "nan"):
        assert c.call("HINCRBYFLOAT", "h", "ok", incr) == NOT_FLOAT, incr
    assert r.hget("h", "ok") == b"1.5"
    assert r.hget("h", "s") == b"abc"


# ---------------------------------------------------------------- HSCAN

def test_hscan_iter_500_fields_each_once(r):
    data = {b"f:%d" % i: b"v:%d" % i for i in range(500)}
    r.hset("h", mapping=data)
    seen = []
    for field, value in r.hscan_iter("h", count=20):
        seen.append(field)
        assert value == data[field]
    assert len(seen) == len(set(seen)) == 500
    assert set(seen) == set(data)
    assert dict(r.hscan_iter("h")) == data


def test_hscan_count(r, c):
    # 1000 fields: more than Redis keeps in a listpack, where COUNT is not honoured
    data = {b"f:%d" % i: b"v:%d" % i for i in range(1000)}
    r.hset("h", mapping=data)
    cursor, first = r.hscan("h", 0, count=10)
    assert cursor != 0
    assert 0 < len(first) < 100
    seen = dict(first)
    calls = 1
    while cursor != 0:
        cursor, part = r.hscan("h", cursor, count=10)
        for k, v in part.items():
            assert k not in seen
            seen[k] = v
        calls += 1
        assert calls < 1000
    assert seen == data
    assert calls > 5
    # a COUNT larger than the hash returns everything at once
    cursor, everything = r.hscan("h", 0, count=5000)
    assert cursor == 0
    assert everything == data
    # the raw reply: [cursor bulk, flat field/value array]
    rep = c.call("HSCAN", "h", "0", "COUNT", "5000")
    assert rep[0] == b"0"
    assert dict(flat_pairs(rep[1])) == data


def test_hscan_match(r):
    r.hset("h", mapping={b"f:%d" % i: b"v:%d" % i for i in range(500)})
    got = dict(r.hscan_iter("h", match="f:1*", count=50))
    expected = {b"f:1"} | {b"f:1%d" % i for i in range(10)} | {b"f:1%02d" % i for i in range(100)}
    assert set(got) == expected
    assert len(got) == 111
    assert all(got[k] == b"v:" + k[2:] for k in got)
    assert dict(r.hscan_iter("h", match="f:4?9")) == {b"f:4%d9" % i: b"v:4%d9" % i for i in range(10)}
    assert dict(r.hscan_iter("h", match="nothing*")) == {}


def test_hscan_small_hash_missing_key_and_errors(r, c):
    assert c.call("HSCAN", "nokey", "0") == [b"0", []]
    r.hset("h", mapping={"a": "1", "b": "2"})
    rep = c.call("HSCAN", "h", "0")
    assert rep[0] == b"0"
    assert dict(flat_pairs(rep[1])) == {b"a": b"1", b"b": b"2"}
    rep = c.call("HSCAN", "h", "0", "MATCH", "a")
    assert rep == [b"0", [b"a", b"1"]]
    assert c.call("HSCAN", "h", "abc") == "ERR invalid cursor"
    assert c.call("HSCAN", "h", "0", "COUNT", "0") == SYNTAX
    assert c.call("HSCAN", "h", "0", "COUNT", "x") == NOT_INT
    assert c.call("HSCAN", "h", "0", "FOO", "bar") == SYNTAX
    assert c.call("HSCAN", "h", "0", "MATCH") == SYNTAX


def test_hscan_accepts_any_unsigned_64_bit_cursor(r, c):
    r.hset("h", mapping={b"f:%d" % i: b"v" for i in range(300)})
    for cursor in ("18446744073709551615", "12345678901234567", "-1", "+3", ""):
        rep = c.call("HSCAN", "h", cursor, "COUNT", "5")
        assert rep[0].isdigit() and 0 <= int(rep[0]) < 2 ** 64, (cursor, rep)
        assert set(flat_pairs(rep[1])) <= {(b"f:%d" % i, b"v") for i in range(300)}
    for cursor in ("18446744073709551616", "1.5", " 1", "x"):
        assert c.call("HSCAN", "h", cursor) == "ERR invalid cursor", cursor
    # the cursor is read first, as Redis does
    r.set("str", "x")
    assert c.call("HSCAN", "str", "x") == "ERR invalid cursor"


def test_hscan_fields_with_long_shared_prefixes_and_writes_during_the_scan(r, server):
    """Fields present for the whole scan are all returned, a page at a time, while fields
    sharing their long prefixes come and go."""
    prefix = b"field:" + b"p" * 200 + b":"
    stable = {prefix + b"%05d:stable" % i for i in range(1500)}
    volatile = [prefix + b"%05d:volatile" % i for i in range(1500)]
    r.hset("h", mapping={f: b"1" for f in stable})
    r.hset("h", mapping={f: b"1" for f in volatile})
    other = server.client()
    seen, calls, cursor = set(), 0, 0
    try:
        while True:
            cursor, got = r.hscan("h", cursor, count=20)
            seen.update(got)
            calls += 1
            gone = volatile[calls * 9:calls * 9 + 9]
            if gone:
                other.hdel("h", *gone)
            other.hset("h", prefix + b"%05d:new" % (calls * 11 % 1500), b"1")
            other.hset("h", b"a:%d" % calls, b"1")
            if cursor == 0:
                break
    finally:
        other.close()
    assert stable <= seen, sorted(stable - seen)[:3]
    assert calls > 50


@tidekv_only
def test_member_scan_cursors_survive_a_restart(make_server):
    server = make_server()
    r = server.client()
    fields = {b"f:%08x" % (i * 2654435761 % 2 ** 32): b"v" for i in range(1000)}
    members = set(fields)
    r.hset("h", mapping=fields)
    r.sadd("s", *members)
    r.zadd("z", {m: 1 for m in members})
    cursors = {}
    firsts = {}
    cursors["h"], got = r.hscan("h", 0, count=50)
    firsts["h"] = set(got)
    cursors["s"], got = r.sscan("s", 0, count=50)
    firsts["s"] = set(got)
    cursors["z"], got = r.zscan("z", 0, count=50)
    firsts["z"] = {m for m, _ in got}
    assert all(cursor != 0 for cursor in cursors.values())
    r.close()
    server.restart()
    r = server.client()
    seen = {"h": set(firsts["h"]), "s": set(firsts["s"]), "z": set(firsts["z"])}
    for key, scan in (("h", r.hscan), ("s", r.sscan), ("z", r.zscan)):
        cursor = cursors[key]
        while cursor != 0:
            cursor, got = scan(key, cursor, count=50)
            seen[key].update(m if isinstance(m, bytes) else m[0] for m in got)
    assert seen == {"h": members, "s": members, "z": members}
    r.close()


# ---------------------------------------------------------------- HRANDFIELD

def test_hrandfield_missing_key(c):
    assert c.call_raw("HRANDFIELD", "nokey") == b"$-1\r\n"
    assert c.call_raw("HRANDFIELD", "nokey", "3") == b"*0\r\n"
    assert c.call_raw("HRANDFIELD", "nokey", "-3") == b"*0\r\n"
    assert c.call_raw("HRANDFIELD", "nokey", "3", "WITHVALUES") == b"*0\r\n"


def test_hrandfield_single(r, c):
    data = {b"f%d" % i: b"v%d" % i for i in range(10)}
    r.hset("h", mapping=data)
    for _ in range(20):
        assert c.call("HRANDFIELD", "h") in data
    r.hset("one", "only", "x")
    assert c.call("HRANDFIELD", "one") == b"only"


def test_hrandfield_positive_count_distinct(r, c):
    data = {b"f%d" % i: b"v%d" % i for i in range(10)}
    r.hset("h", mapping=data)
    for count in (1, 3, 9, 10):
        got = c.call("HRANDFIELD", "h", str(count))
        assert len(got) == count
        assert len(set(got)) == count
        assert set(got) <= set(data)
    # a count larger than the hash returns every field once
    for count in (11, 1000):
        got = c.call("HRANDFIELD", "h", str(count))
        assert sorted(got) == sorted(data)
    assert c.call_raw("HRANDFIELD", "h", "0") == b"*0\r\n"
    # a larger hash, too
    big = {b"g%d" % i: b"%d" % i for i in range(300)}
    r.hset("big", mapping=big)
    got = c.call("HRANDFIELD", "big", "100")
    assert len(got) == len(set(got)) == 100
    assert set(got) <= set(big)


def test_hrandfield_negative_count_may_repeat(r, c):
    data = {b"f%d" % i: b"v%d" % i for i in range(3)}
    r.hset("h", mapping=data)
    got = c.call("HRANDFIELD", "h", "-20")
    assert len(got) == 20
    assert set(got) <= set(data)
    assert len(set(got)) < 20  # only 3 fields, so there must be repeats
    got = c.call("HRANDFIELD", "h", "-2")
    assert len(got) == 2 and set(got) <= set(data)
    r.hset("one", "only", "x")
    assert c.call("HRANDFIELD", "one", "-5") == [b"only"] * 5


def test_hrandfield_withvalues(r, c):
    data = {b"f%d" % i: b"v%d" % i for i in range(10)}
    r.hset("h", mapping=data)
    got = flat_pairs(c.call("HRANDFIELD", "h", "4", "WITHVALUES"))
    assert len(got) == 4
    assert len({f for f, _ in got}) == 4
    for f, v in got:
        assert data[f] == v
    got = flat_pairs(c.call("HRANDFIELD", "h", "100", "WITHVALUES"))
    assert dict(got) == data and len(got) == 10
    got = flat_pairs(c.call("HRANDFIELD", "h", "-30", "WITHVALUES"))
    assert len(got) == 30
    for f, v in got:
        assert data[f] == v
    assert len(c.call("HRANDFIELD", "h", "3", "withvalues")) == 6  # the option is case-insensitive
    assert c.call("HRANDFIELD", "h", "WITHVALUES") == NOT_INT
    assert c.call("HRANDFIELD", "h", "abc") == NOT_INT
    assert c.call("HRANDFIELD", "h", "3", "FOO") == SYNTAX
    assert c.call("HRANDFIELD", "h", "3", "WITHVALUES", "FOO") == SYNTAX


def test_hrandfield_redis_py(r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.hrandfield("h") in (b"a", b"b")
    assert sorted(r.hrandfield("h", 5)) == [b"a", b"b"]
    assert len(r.hrandfield("h", -5)) == 5


# ---------------------------------------------------------------- binary safety / size

def test_binary_fields_and_values(r, c):
    key = b"hash\x00\xff\r\n"
    data = {
        b"\x00": b"\xff",
        b"a\x00b": b"\x00\x01\x02",
        b"\xff\xfe": b"",
        b"\r\n": b"line\r\nbreak",
        b"f": bytes(range(256)),
    }
    assert r.hset(key, mapping=data) == 5
    assert r.hgetall(key) == data
    for f, v in data.items():
        assert r.hget(key, f) == v
        assert r.hstrlen(key, f) == len(v)
        assert r.hexists(key, f) is True
    assert r.hexists(key, b"a") is False
    assert r.hexists(key, b"a\x00") is False
    assert sorted(r.hkeys(key)) == sorted(data)
    assert dict(r.hscan_iter(key)) == data
    assert r.type(key) == b"hash"
    # fields that are prefixes of each other stay distinct
    r.hset(b"p", mapping={b"ab": b"1", b"ab\x00": b"2", b"a": b"3", b"": b"4"})
    assert r.hgetall(b"p") == {b"ab": b"1", b"ab\x00": b"2", b"a": b"3", b"": b"4"}
    assert r.hdel(b"p", b"ab") == 1
    assert r.hgetall(b"p") == {b"ab\x00": b"2", b"a": b"3", b"": b"4"}
    # a hash key that is a prefix of another hash key keeps its own fields
    r.hset(b"k", b"x", b"1")
    r.hset(b"k\x00", b"y", b"2")
    r.hset(b"kk", b"z", b"3")
    assert r.hgetall(b"k") == {b"x": b"1"}
    assert r.hgetall(b"k\x00") == {b"y": b"2"}
    assert r.hgetall(b"kk") == {b"z": b"3"}


def test_large_hash_10000_fields(r):
    n = 10000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 500):
        pipe.hset("big", mapping={b"field:%d" % j: b"value:%d" % j for j in range(i, i + 500)})
    assert pipe.execute() == [500] * (n // 500)
    assert r.hlen("big") == n
    all_ = r.hgetall("big")
    assert len(all_) == n
    assert all(all_[b"field:%d" % j] == b"value:%d" % j for j in range(n))
    fields = [f for f, _ in r.hscan_iter("big", count=1000)]
    assert len(fields) == len(set(fields)) == n
    assert r.hget("big", "field:9999") == b"value:9999"
    assert r.hmget("big", ["field:0", "field:5000", "nope"]) == [b"value:0", b"value:5000", None]
    assert len(r.hkeys("big")) == n
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 2):
        pipe.hdel("big", b"field:%d" % i)
    assert pipe.execute() == [1] * (n // 2)
    assert r.hlen("big") == n // 2
    assert r.delete("big") == 1
    assert r.exists("big") == 0


# ---------------------------------------------------------------- wrong type

HASH_COMMANDS = [
    ("HSET", "k", "f", "v"),
    ("HSETNX", "k", "f", "v"),
    ("HGET", "k", "f"),
    ("HMGET", "k", "f", "g"),
    ("HMSET", "k", "f", "v"),
    ("HDEL", "k", "f"),
    ("HLEN", "k"),
    ("HSTRLEN", "k", "f"),
    ("HEXISTS", "k", "f"),
    ("HKEYS", "k"),
    ("HVALS", "k"),
    ("HGETALL", "k"),
    ("HINCRBY", "k", "f", "1"),
    ("HINCRBYFLOAT", "k", "f", "1.5"),
    ("HSCAN", "k", "0"),
    ("HRANDFIELD", "k"),
    ("HRANDFIELD", "k", "2"),
    ("HRANDFIELD", "k", "-2", "WITHVALUES"),
]


@pytest.mark.parametrize("cmd", HASH_COMMANDS, ids=lambda c: " ".join(c))
def test_hash_commands_on_a_string_key(r, c, cmd):
    r.set("k", "string value")
    assert c.call(*cmd) == WRONGTYPE
    assert r.get("k") == b"string value"
    assert r.type("k") == b"string"


@pytest.mark.parametrize("cmd", HASH_COMMANDS, ids=lambda c: " ".join(c))
def test_hash_commands_on_a_set_key(r, c, cmd):
    r.sadd("k", "member")
    assert c.call(*cmd) == WRONGTYPE
    assert r.smembers("k") == {b"member"}


@pytest.mark.parametrize("cmd", [
    ("GET", "h"), ("APPEND", "h", "x"), ("INCR", "h"), ("STRLEN", "h"), ("GETRANGE", "h", "0", "1"),
    ("GETDEL", "h"), ("SETRANGE", "h", "0", "x"), ("INCRBYFLOAT", "h", "1"), ("GETSET", "h", "x"),
    ("SADD", "h", "m"), ("SMEMBERS", "h"), ("SCARD", "h"),
], ids=lambda c: " ".join(c))
def test_other_commands_on_a_hash_key(r, c, cmd):
    r.hset("h", "f", "v")
    assert c.call(*cmd) == WRONGTYPE
    assert r.hgetall("h") == {b"f": b"v"}


def test_mget_on_a_hash_key_is_nil(r):
    r.hset("h", "f", "v")
    r.set("s", "x")
    assert r.mget("h", "s") == [None, b"x"]


def test_set_overwrites_a_hash(r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.set("h", "now a string") is True
    assert r.type("h") == b"string"
    assert r.get("h") == b"now a string"
    assert r.set("h", "again", nx=True) is None


# ---------------------------------------------------------------- generic key commands

def test_type_and_del_unlink(r, c):
    r.hset("h1", "f", "v")
    r.hset("h2", mapping={"a": "1", "b": "2"})
    assert c.call_raw("TYPE", "h1") == b"+hash\r\n"
    assert r.exists("h1", "h2") == 2
    assert r.delete("h1") == 1
    assert r.unlink("h2", "nokey") == 1
    assert r.exists("h1", "h2") == 0
    assert r.hgetall("h2") == {}
    assert r.dbsize() == 0


def test_expire_ttl_persist(r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    assert r.ttl("h") == -1
    assert r.expire("h", 100) is True
    assert 98 <= r.ttl("h") <= 100
    # field writes keep the TTL
    r.hset("h", "c", "3")
    r.hdel("h", "a")
    r.hincrby("h", "n", 1)
    r.hincrbyfloat("h", "x", 1.5)
    assert 98 <= r.ttl("h") <= 100
    assert r.persist("h") is True
    assert r.ttl("h") == -1
    assert r.pexpire("h", 500_000) is True
    assert 498_000 <= r.pttl("h") <= 500_000
    assert r.ttl("nokey") == -2


def test_hash_with_ttl_expires(r, c):
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.hset("keep", "a", "1")
    assert r.pexpire("h", 80) is True
    time.sleep(0.25)
    assert r.exists("h") == 0
    assert c.call_raw("TYPE", "h") == b"+none\r\n"
    assert r.hgetall("h") == {}
    assert r.hget("h", "a") is None
    assert r.hlen("h") == 0
    assert r.ttl("h") == -2
    assert r.keys("*") == [b"keep"]
    # a hash created after expiry does not see the old fields and has no TTL
    assert r.hset("h", "c", "3") == 1
    assert r.hgetall("h") == {b"c": b"3"}
    assert r.ttl("h") == -1


def test_write_to_expired_hash_starts_fresh(r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.pexpire("h", 50)
    time.sleep(0.2)
    assert r.hincrby("h", "a", 5) == 5  # not 6: the old field is gone
    assert r.hsetnx("h", "b", "new") == 1
    assert r.hgetall("h") == {b"a": b"5", b"b": b"new"}


def test_rename_hash(r):
    r.hset("src", mapping={"a": "1", "b": "2"})
    r.expire("src", 1000)
    assert r.rename("src", "dst") is True
    assert r.exists("src") == 0
    assert r.hgetall("src") == {}
    assert r.hgetall("dst") == {b"a": b"1", b"b": b"2"}
    assert 990 <= r.ttl("dst") <= 1000
    # renaming over an existing hash replaces it completely
    r.hset("other", mapping={"x": "9", "a": "old"})
    assert r.rename("dst", "other") is True
    assert r.hgetall("other") == {b"a": b"1", b"b": b"2"}
    assert r.hlen("other") == 2
    # over a string and a set
    r.set("str", "v")
    r.rename("other", "str")
    assert r.type("str") == b"hash"
    assert r.hgetall("str") == {b"a": b"1", b"b": b"2"}
    r.sadd("aset", "m")
    r.rename("str", "aset")
    assert r.type("aset") == b"hash"
    assert r.hgetall("aset") == {b"a": b"1", b"b": b"2"}
    # the source name can be reused without seeing old fields
    r.hset("src", "new", "1")
    assert r.hgetall("src") == {b"new": b"1"}
    assert r.renamenx("src", "aset") is False
    assert r.renamenx("src", "fresh") is True
    assert r.hgetall("fresh") == {b"new": b"1"}


def test_copy_hash(r, server):
    r.hset("src", mapping={"a": "1", b"\x00": b"\xff"})
    r.pexpire("src", 900_000)
    assert r.copy("src", "dst") is True
    assert r.hgetall("dst") == {b"a": b"1", b"\x00": b"\xff"}
    assert 890_000 <= r.pttl("dst") <= 900_000
    assert r.execute_command("PEXPIRETIME", "dst") == r.execute_command("PEXPIRETIME", "src")
    # the copy is independent of the source
    r.hset("dst", "a", "changed")
    r.hdel("src", "\x00")
    assert r.hgetall("src") == {b"a": b"1"}
    assert r.hgetall("dst") == {b"a": b"changed", b"\x00": b"\xff"}
    # an existing destination needs REPLACE
    r.hset("other", mapping={"z": "26"})
    assert r.copy("src", "other") is False
    assert r.hgetall("other") == {b"z": b"26"}
    assert r.copy("src", "other", replace=True) is True
    assert r.hgetall("other") == {b"a": b"1"}
    assert r.copy("nokey", "x") is False
    # into another database
    assert r.copy("src", "src", destination_db=3) is True
    r3 = server.client(db=3)
    try:
        assert r3.hgetall("src") == {b"a": b"1"}
        assert r3.ttl("src") > 0
    finally:
        r3.close()


def test_scan_type_hash(r, c):
    r.set("str1", "v")
    r.sadd("set1", "a")
    for i in range(30):
        r.hset("hash:%d" % i, "f", i)
    assert sorted(r.scan_iter(_type="hash", count=7)) == sorted(b"hash:%d" % i for i in range(30))
    assert list(r.scan_iter(_type="HASH")) != []
    assert sorted(r.scan_iter(_type="string")) == [b"str1"]
    assert sorted(r.scan_iter(match="hash:1*", _type="hash")) == sorted(
        [b"hash:1"] + [b"hash:1%d" % i for i in range(10)])
    assert list(r.scan_iter(match="str*", _type="hash")) == []
    assert sorted(r.keys("hash:2?")) == [b"hash:2%d" % i for i in range(10)]


def test_hashes_survive_restart(make_server):
    s = make_server()
    cl = s.client()
    cl.hset("small", mapping={"a": "1", "b": "2"})
    cl.hset(b"bin\x00", mapping={b"\x00\xff": b"\xff\x00", b"": b""})
    cl.hset("ttl", mapping={"x": "1"})
    cl.expire("ttl", 1000)
    big = {b"f%d" % i: b"v%d" % i for i in range(2000)}
    cl.hset("big", mapping=big)
    cl.hdel("big", "f0", "f1")
    cl.hincrby("small", "n", 41)
    cl.hincrbyfloat("small", "fl", "1.25")
    cl.hset("gone", "a", "1")
    cl.hdel("gone", "a")
    cl.hset("deleted", "a", "1")
    cl.delete("deleted")
    cl.hset("short", "a", "1")
    cl.pexpire("short", 200)
    r2 = s.client(db=2)
    r2.hset("in-db2", "f", "v")
    r2.close()
    cl.close()

    assert s.stop() == 0, s.log()
    time.sleep(0.3)
    s.start()

    cl = s.client()
    try:
        assert cl.hgetall("small") == {b"a": b"1", b"b": b"2", b"n": b"41", b"fl": b"1.25"}
        assert cl.hgetall(b"bin\x00") == {b"\x00\xff": b"\xff\x00", b"": b""}
        assert cl.hgetall("ttl") == {b"x": b"1"}
        assert 990 <= cl.ttl("ttl") <= 1000
        del big[b"f0"], big[b"f1"]
        assert cl.hgetall("big") == big
        assert cl.hlen("big") == 1998
        assert cl.exists("gone", "deleted", "short") == 0
        assert cl.type("small") == b"hash"
        assert cl.hincrby("small", "n", 1) == 42
        r2 = s.client(db=2)
        assert r2.hgetall("in-db2") == {b"f": b"v"}
        r2.close()
    finally:
        cl.close()


# ---------------------------------------------------------------- transactions

def test_multi_exec_hash_and_set(r):
    r.hset("h", "n", "10")
    pipe = r.pipeline(transaction=True)
    pipe.hset("h", mapping={"a": "1", "b": "2"})
    pipe.sadd("s", "x", "y", "z")
    pipe.hincrby("h", "n", 5)
    pipe.hget("h", "a")
    pipe.srem("s", "y")
    pipe.hdel("h", "b")
    pipe.scard("s")
    pipe.hgetall("h")
    pipe.smembers("s")
    assert pipe.execute() == [2, 3, 15, b"1", 1, 1, 2, {b"a": b"1", b"n": b"15"}, {b"x", b"z"}]


def test_multi_exec_wrongtype_inside_and_arity_abort(r, c):
    assert c.call("MULTI") == "OK"
    assert c.call("HSET", "h", "f", "v") == "QUEUED"
    assert c.call("SADD", "h", "m") == "QUEUED"
    assert c.call("SADD", "s", "a", "b") == "QUEUED"
    assert c.call("HGET", "h", "f") == "QUEUED"
    rep = c.call("EXEC")
    assert rep[0] == 1
    assert isinstance(rep[1], RespError) and rep[1] == WRONGTYPE
    assert rep[2:] == [2, b"v"]
    # an arity error while queueing discards the whole transaction
    assert c.call("MULTI") == "OK"
    assert c.call("HSET", "h", "g", "w") == "QUEUED"
    assert c.call("HSET", "h", "odd") == wrong_args("hset")
    assert c.call("EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert r.hgetall("h") == {b"f": b"v"}


def test_watch_hash_key(r, server):
    r.hset("h", "f", "1")
    with server.conn() as t:
        assert t.call("WATCH", "h") == "OK"
        r.hset("h", "f", "2")  # touched by another client
        t.call("MULTI")
        t.call("HSET", "h", "f", "mine")
        assert t.call("EXEC") is None
    assert r.hget("h", "f") == b"2"


# ---------------------------------------------------------------- change stream (tidekv only)

@pytest.mark.tidekv_only
def test_change_stream_of_hash_writes_replays_identically(make_server):
    src = make_server()
    cl = src.client()
    step, seqs = make_step(cl)

    step("hset", lambda: cl.hset("h", mapping={"a": "1", "b": "2", "c": "3"}))
    step("hsetnx", lambda: cl.hsetnx("h", "d", "4"))
    step("hmset", lambda: cl.execute_command("HMSET", "h2", "x", "1", "y", "2"))
    step("hdel", lambda: cl.hdel("h", "b", "nofield"))
    step("hincrby", lambda: cl.hincrby("h", "a", 41))
    step("hincrbyfloat1", lambda: cl.execute_command("HINCRBYFLOAT", "h", "fl", "10.5"))
    assert step("hincrbyfloat2", lambda: cl.hincrbyfloat("h", "fl", "0.1")) == 10.6
    step("bin", lambda: cl.hset(b"bin\x00\xff", mapping={b"\x00": b"\xff", b"f\r\n": b""}))
    step("hdel-last", lambda: cl.hdel("h2", "x", "y"))
    step("expire", lambda: cl.expire("h", 5000))
    step("copy", lambda: cl.copy("h", "hcopy", destination_db=1))
    step("rename", lambda: cl.rename(b"bin\x00\xff", "renamed"))
    step("hset-ttl", lambda: cl.hset("h", "late", "x"))
    step("reads", lambda: (cl.hgetall("h"), cl.hrandfield("h", -5), list(cl.hscan_iter("h"))))
    cl.hset("tmp", "f", "v")
    step("del", lambda: cl.delete("tmp"))

    updates = read_changes(cl)
    assert updates, "nothing recorded"
    # HINCRBYFLOAT is recorded as an HSET of the resulting value
    b = batches_between(updates, *seqs["hincrbyfloat2"])
    assert [u["commands"] for u in b] == [[[b"HSET", b"h", b"fl", b"10.6"]]]
    b = batches_between(updates, *seqs["hincrbyfloat1"])
    assert [u["commands"] for u in b] == [[[b"HSET", b"h", b"fl", b"10.5"]]]
    # reads record nothing; writes record something
    assert batches_between(updates, *seqs["reads"]) == []
    for name in ("hset", "hsetnx", "hmset", "hdel", "hincrby", "bin", "hdel-last", "expire", "copy",
                 "rename", "hset-ttl", "del"):
        assert batches_between(updates, *seqs[name]), name
    assert {u["db"] for u in updates} <= {0, 1}

    before = snapshot(src)
    assert before[(0, b"h")][0] == b"hash"
    assert before[(0, b"h")][1] == {b"a": b"42", b"c": b"3", b"d": b"4", b"fl": b"10.6", b"late": b"x"}
    assert (0, b"h2") not in before
    assert before[(1, b"hcopy")][2] == before[(0, b"h")][2] > 0

    dst = make_server()
    replay(updates, dst)
    assert snapshot(dst) == before
    cl.close()
