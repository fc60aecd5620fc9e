"""Set commands with Redis 7 semantics and error texts (checked against redis-server 7.0),
sets in the generic key commands, persistence and transactions, and (tidekv only) the
change stream of set writes."""

import time
from collections import Counter

import pytest

from conftest import RespError
from helpers import wrong_args
from stream_replay import batches_between, commands_between, make_step, read_changes, replay, snapshot

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"


# ---------------------------------------------------------------- SADD / SREM / SCARD / SISMEMBER / SMEMBERS

def test_sadd_returns_added_count(r, c):
    assert r.sadd("s", "a", "b", "c") == 3
    assert r.sadd("s", "a", "d") == 1
    assert r.sadd("s", "a") == 0
    assert c.call("SADD", "s", "e", "e", "f", "e") == 2  # duplicates in one call count once
    assert r.smembers("s") == {b"a", b"b", b"c", b"d", b"e", b"f"}
    assert r.scard("s") == 6
    assert c.call("SADD", "s") == wrong_args("sadd")
    assert c.call("SADD") == wrong_args("sadd")


def test_srem(r, c):
    r.sadd("s", "a", "b", "c", "d")
    assert r.srem("s", "a", "nomember", "b") == 2
    assert r.srem("s", "a") == 0
    assert c.call("SREM", "s", "c", "c") == 1
    assert r.smembers("s") == {b"d"}
    assert r.srem("nokey", "a") == 0
    assert c.call("SREM", "s") == wrong_args("srem")


def test_scard_sismember_smismember(r, c):
    assert r.scard("nokey") == 0
    r.sadd("s", "a", "b", "")
    assert r.scard("s") == 3
    assert c.call("SISMEMBER", "s", "a") == 1
    assert c.call("SISMEMBER", "s", "") == 1
    assert c.call("SISMEMBER", "s", "z") == 0
    assert c.call("SISMEMBER", "nokey", "a") == 0
    assert c.call("SMISMEMBER", "s", "a", "z", "b", "a") == [1, 0, 1, 1]
    assert c.call("SMISMEMBER", "nokey", "a", "b") == [0, 0]
    assert r.smismember("s", ["b", "q"]) == [1, 0]
    assert c.call("SMISMEMBER", "s") == wrong_args("smismember")
    assert c.call("SISMEMBER", "s") == wrong_args("sismember")
    assert c.call("SCARD", "s", "t") == wrong_args("scard")


def test_smembers(r, c):
    assert r.smembers("nokey") == set()
    assert c.call_raw("SMEMBERS", "nokey") == b"*0\r\n"
    members = {b"m%d" % i for i in range(100)} | {b"1", b"22", b"-3", b""}
    r.sadd("s", *members)
    got = c.call("SMEMBERS", "s")
    assert len(got) == len(members)
    assert set(got) == members
    # a set of integers
    r.sadd("ints", *range(50))
    assert r.smembers("ints") == {b"%d" % i for i in range(50)}
    assert c.call("SMEMBERS", "s", "x") == wrong_args("smembers")


def test_set_emptied_by_srem_disappears(r, c):
    r.sadd("s", "a", "b")
    assert r.srem("s", "a", "b") == 2
    assert r.exists("s") == 0
    assert c.call_raw("TYPE", "s") == b"+none\r\n"
    assert r.scard("s") == 0
    assert r.dbsize() == 0
    r.set("s", "now a string")
    assert r.get("s") == b"now a string"


def test_set_emptied_by_spop_disappears(r, c):
    r.sadd("s", "a", "b", "c")
    assert r.spop("s") in (b"a", b"b", b"c")
    assert len(r.spop("s", 2)) == 2
    assert r.exists("s") == 0
    assert c.call_raw("TYPE", "s") == b"+none\r\n"
    r.sadd("t", "x", "y")
    assert sorted(r.spop("t", 10)) == [b"x", b"y"]
    assert r.exists("t") == 0
    assert r.dbsize() == 0


def test_recreated_set_does_not_see_old_members(r):
    r.sadd("s", "a", "b", "c")
    r.delete("s")
    assert r.sadd("s", "d", "a") == 2
    assert r.smembers("s") == {b"a", b"d"}
    assert r.scard("s") == 2
    assert r.sismember("s", "b") is False
    r.set("s", "plain")
    r.delete("s")
    r.sadd("s", "z")
    assert r.smembers("s") == {b"z"}


# ---------------------------------------------------------------- SPOP

def test_spop_without_count(r, c):
    assert c.call_raw("SPOP", "nokey") == b"$-1\r\n"
    members = {b"a", b"b", b"c", b"d"}
    r.sadd("s", *members)
    popped = set()
    for _ in range(4):
        m = c.call("SPOP", "s")
        assert m in members and m not in popped
        popped.add(m)
        assert r.sismember("s", m) is False
    assert popped == members
    assert c.call_raw("SPOP", "s") == b"$-1\r\n"
    assert r.exists("s") == 0


def test_spop_with_count(r, c):
    members = {b"m%d" % i for i in range(20)}
    r.sadd("s", *members)
    got = c.call("SPOP", "s", "5")
    assert len(got) == 5 and len(set(got)) == 5
    assert set(got) <= members
    assert r.scard("s") == 15
    assert r.smembers("s") == members - set(got)
    got2 = c.call("SPOP", "s", "1")
    assert len(got2) == 1 and got2[0] not in got
    # a count larger than the set pops everything and deletes the key
    rest = c.call("SPOP", "s", "100")
    assert len(rest) == 14
    assert set(got) | set(got2) | set(rest) == members
    assert r.exists("s") == 0
    # count equal to the size
    r.sadd("t", "x", "y", "z")
    assert sorted(c.call("SPOP", "t", "3")) == [b"x", b"y", b"z"]
    assert r.exists("t") == 0
    # missing key with a count: empty array
    assert c.call_raw("SPOP", "nokey", "3") == b"*0\r\n"


def test_spop_count_zero_and_errors(r, c):
    r.sadd("s", "a", "b")
    assert c.call_raw("SPOP", "s", "0") == b"*0\r\n"
    assert c.call_raw("SPOP", "nokey", "0") == b"*0\r\n"
    assert r.scard("s") == 2
    assert c.call("SPOP", "s", "-1") == NOT_POSITIVE
    assert c.call("SPOP", "s", "-100") == NOT_POSITIVE
    assert c.call("SPOP", "s", "abc") == NOT_POSITIVE
    assert c.call("SPOP", "s", "1", "2") == SYNTAX
    assert c.call("SPOP") == wrong_args("spop")
    assert r.scard("s") == 2


def test_spop_large_set(r):
    members = {b"%d" % i for i in range(1000)} | {b"x%d" % i for i in range(1000)}
    pipe = r.pipeline(transaction=False)
    for i in range(0, 2000, 500):
        pipe.sadd("s", *sorted(members)[i:i + 500])
    pipe.execute()
    got = r.spop("s", 700)
    assert len(got) == len(set(got)) == 700
    assert r.scard("s") == 1300
    assert r.smembers("s") | set(got) == members
    assert r.smembers("s") & set(got) == set()


# ---------------------------------------------------------------- SRANDMEMBER

def test_srandmember_missing_key(c):
    assert c.call_raw("SRANDMEMBER", "nokey") == b"$-1\r\n"
    assert c.call_raw("SRANDMEMBER", "nokey", "5") == b"*0\r\n"
    assert c.call_raw("SRANDMEMBER", "nokey", "-5") == b"*0\r\n"
    assert c.call_raw("SRANDMEMBER", "nokey", "0") == b"*0\r\n"


def test_srandmember(r, c):
    members = {b"m%d" % i for i in range(10)}
    r.sadd("s", *members)
    for _ in range(10):
        assert c.call("SRANDMEMBER", "s") in members
    for count in (1, 4, 9, 10):
        got = c.call("SRANDMEMBER", "s", str(count))
        assert len(got) == len(set(got)) == count
        assert set(got) <= members
    for count in (11, 1000):
        assert sorted(c.call("SRANDMEMBER", "s", str(count))) == sorted(members)
    assert c.call_raw("SRANDMEMBER", "s", "0") == b"*0\r\n"
    got = c.call("SRANDMEMBER", "s", "-50")
    assert len(got) == 50
    assert set(got) <= members
    assert len(set(got)) < 50
    got = c.call("SRANDMEMBER", "s", "-3")
    assert len(got) == 3 and set(got) <= members
    # SRANDMEMBER does not change the set
    assert r.smembers("s") == members
    r.sadd("one", "only")
    assert c.call("SRANDMEMBER", "one", "-4") == [b"only"] * 4
    assert c.call("SRANDMEMBER", "one", "4") == [b"only"]
    assert c.call("SRANDMEMBER", "s", "abc") == NOT_INT
    assert c.call("SRANDMEMBER", "s", "1", "2") == SYNTAX
    # a bigger set: distinct members for a positive count
    r.sadd("big", *range(300))
    got = c.call("SRANDMEMBER", "big", "120")
    assert len(got) == len(set(got)) == 120
    assert r.srandmember("big") is not None


# ---------------------------------------------------------------- SMOVE

def test_smove_to_new_and_existing_set(r, c):
    r.sadd("src", "a", "b", "c")
    assert r.smove("src", "dst", "a") is True
    assert r.smembers("src") == {b"b", b"c"}
    assert r.smembers("dst") == {b"a"}
    assert r.type("dst") == b"set"
    r.sadd("dst", "b")
    assert c.call("SMOVE", "src", "dst", "b") == 1  # already in dst: removed from src only
    assert r.smembers("src") == {b"c"}
    assert r.smembers("dst") == {b"a", b"b"}
    # member missing from the source
    assert c.call("SMOVE", "src", "dst", "zz") == 0
    assert c.call("SMOVE", "nokey", "dst", "a") == 0
    assert r.smembers("dst") == {b"a", b"b"}
    # moving the last member deletes the source key
    assert c.call("SMOVE", "src", "dst", "c") == 1
    assert r.exists("src") == 0
    assert r.smembers("dst") == {b"a", b"b", b"c"}
    assert c.call("SMOVE", "src", "dst") == wrong_args("smove")


def test_smove_same_source_and_destination(r, c):
    r.sadd("s", "a", "b")
    assert c.call("SMOVE", "s", "s", "a") == 1
    assert c.call("SMOVE", "s", "s", "zz") == 0
    assert r.smembers("s") == {b"a", b"b"}


def test_smove_wrong_type(r, c):
    r.sadd("s", "a", "b")
    r.hset("h", "f", "v")
    r.set("str", "v")
    assert c.call("SMOVE", "s", "h", "a") == WRONGTYPE
    assert c.call("SMOVE", "s", "str", "a") == WRONGTYPE
    # the destination type is checked even when the member is not in the source
    assert c.call("SMOVE", "s", "str", "zz") == WRONGTYPE
    assert c.call("SMOVE", "h", "s", "f") == WRONGTYPE
    assert c.call("SMOVE", "str", "s", "v") == WRONGTYPE
    assert r.smembers("s") == {b"a", b"b"}
    assert r.hgetall("h") == {b"f": b"v"}
    assert r.get("str") == b"v"
    # Redis 7.0 answers 0 for a missing source before it looks at the destination's type
    assert c.call("SMOVE", "nokey", "str", "a") == 0


def test_smove_keeps_destination_ttl(r):
    r.sadd("src", "a", "b")
    r.sadd("dst", "x")
    r.expire("dst", 1000)
    r.expire("src", 2000)
    assert r.smove("src", "dst", "a") is True
    assert 990 <= r.ttl("dst") <= 1000
    assert 1990 <= r.ttl("src") <= 2000


# ---------------------------------------------------------------- SINTER / SUNION / SDIFF

def test_sinter(r, c):
    r.sadd("a", "1", "2", "3", "x")
    r.sadd("b", "2", "3", "4", "y")
    r.sadd("c", "3", "2", "z")
    assert set(c.call("SINTER", "a", "b")) == {b"2", b"3"}
    assert set(c.call("SINTER", "a", "b", "c")) == {b"2", b"3"}
    assert set(c.call("SINTER", "a")) == {b"1", b"2", b"3", b"x"}
    assert set(c.call("SINTER", "a", "a")) == {b"1", b"2", b"3", b"x"}
    assert c.call_raw("SINTER", "a", "nokey") == b"*0\r\n"
    assert c.call_raw("SINTER", "nokey", "a") == b"*0\r\n"
    r.sadd("d", "q")
    assert c.call_raw("SINTER", "a", "d") == b"*0\r\n"
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert c.call("SINTER") == wrong_args("sinter")


def test_sintercard(r, c):
    r.sadd("a", "1", "2", "3", "x")
    r.sadd("b", "2", "3", "4", "x", "y")
    assert c.call("SINTERCARD", "2", "a", "b") == 3
    assert c.call("SINTERCARD", "1", "a") == 4
    assert c.call("SINTERCARD", "2", "a", "nokey") == 0
    assert c.call("SINTERCARD", "1", "nokey") == 0
    assert c.call("SINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert c.call("SINTERCARD", "2", "a", "b", "limit", "1") == 1
    assert c.call("SINTERCARD", "2", "a", "b", "LIMIT", "0") == 3  # 0 means no limit
    assert c.call("SINTERCARD", "2", "a", "b", "LIMIT", "100") == 3
    assert c.call("SINTERCARD", "0", "a") == NUMKEYS
    assert c.call("SINTERCARD", "-1", "a") == NUMKEYS
    assert c.call("SINTERCARD", "abc", "a") == NUMKEYS
    assert c.call("SINTERCARD", "3", "a", "b") == "ERR Number of keys can't be greater than number of args"
    assert c.call("SINTERCARD", "1", "a", "LIMIT", "-1") == "ERR LIMIT can't be negative"
    assert c.call("SINTERCARD", "1", "a", "LIMIT") == SYNTAX
    assert c.call("SINTERCARD", "1", "a", "b") == SYNTAX
    assert c.call("SINTERCARD", "1") == wrong_args("sintercard")


def test_sunion(r, c):
    r.sadd("a", "1", "2")
    r.sadd("b", "2", "3")
    assert set(c.call("SUNION", "a", "b")) == {b"1", b"2", b"3"}
    assert len(c.call("SUNION", "a", "b", "a")) == 3
    assert set(c.call("SUNION", "a", "nokey")) == {b"1", b"2"}
    assert c.call_raw("SUNION", "nokey", "nokey2") == b"*0\r\n"
    assert r.sunion("b") == {b"2", b"3"}
    assert c.call("SUNION") == wrong_args("sunion")


def test_sdiff(r, c):
    r.sadd("a", "1", "2", "3", "4")
    r.sadd("b", "2")
    r.sadd("c", "3", "5")
    assert set(c.call("SDIFF", "a", "b", "c")) == {b"1", b"4"}
    assert set(c.call("SDIFF", "a")) == {b"1", b"2", b"3", b"4"}
    assert set(c.call("SDIFF", "a", "nokey")) == {b"1", b"2", b"3", b"4"}
    assert c.call_raw("SDIFF", "nokey", "a") == b"*0\r\n"
    assert c.call_raw("SDIFF", "a", "a") == b"*0\r\n"
    assert set(c.call("SDIFF", "c", "a")) == {b"5"}
    assert c.call("SDIFF") == wrong_args("sdiff")


# ---------------------------------------------------------------- *STORE

@pytest.mark.parametrize("cmd,expected", [
    ("SINTERSTORE", {b"2", b"3"}),
    ("SUNIONSTORE", {b"1", b"2", b"3", b"4"}),
    ("SDIFFSTORE", {b"1"}),
])
def test_store_commands(r, c, cmd, expected):
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    # a new destination
    assert c.call(cmd, "new", "a", "b") == len(expected)
    assert r.smembers("new") == expected
    assert r.type("new") == b"set"
    # an existing set destination is replaced, not merged, and loses its TTL
    r.sadd("dst", "old1", "old2", "2")
    r.expire("dst", 1000)
    assert c.call(cmd, "dst", "a", "b") == len(expected)
    assert r.smembers("dst") == expected
    assert r.ttl("dst") == -1
    # a destination of another type is replaced too
    r.set("str", "v")
    assert c.call(cmd, "str", "a", "b") == len(expected)
    assert r.type("str") == b"set"
    assert r.smembers("str") == expected
    r.hset("h", mapping={"f": "v", "2": "x"})
    assert c.call(cmd, "h", "a", "b") == len(expected)
    assert r.type("h") == b"set"
    assert r.smembers("h") == expected
    # the sources are untouched
    assert r.smembers("a") == {b"1", b"2", b"3"}
    assert r.smembers("b") == {b"2", b"3", b"4"}


@pytest.mark.parametrize("cmd,sources", [
    ("SINTERSTORE", ("a", "nokey")),
    ("SINTERSTORE", ("a", "z")),
    ("SUNIONSTORE", ("nokey", "nokey2")),
    ("SDIFFSTORE", ("a", "a")),
    ("SDIFFSTORE", ("nokey", "a")),
])
def test_store_empty_result_deletes_destination(r, c, cmd, sources):
    r.sadd("a", "1", "2")
    r.sadd("z", "9")
    r.sadd("dst", "old")
    assert c.call(cmd, "dst", *sources) == 0
    assert r.exists("dst") == 0
    r.set("dst", "string")
    assert c.call(cmd, "dst", *sources) == 0
    assert r.exists("dst") == 0
    assert c.call(cmd, "neverexisted", *sources) == 0
    assert r.exists("neverexisted") == 0
    assert r.smembers("a") == {b"1", b"2"}


def test_store_destination_is_a_source(r, c):
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    assert c.call("SUNIONSTORE", "a", "a", "b") == 4
    assert r.smembers("a") == {b"1", b"2", b"3", b"4"}
    assert c.call("SDIFFSTORE", "a", "a", "b") == 1
    assert r.smembers("a") == {b"1"}
    assert c.call("SINTERSTORE", "b", "b", "b") == 3
    assert r.smembers("b") == {b"2", b"3", b"4"}
    assert c.call("SINTERSTORE", "b", "b", "a") == 0
    assert r.exists("b") == 0
    # a new member set under the old name does not resurrect old members
    r.sadd("b", "new")
    assert r.smembers("b") == {b"new"}


def test_store_arity(c):
    for cmd in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        assert c.call(cmd, "dst") == wrong_args(cmd.lower())


# ---------------------------------------------------------------- SSCAN

def test_sscan_iter_each_member_once(r):
    members = {b"m:%d" % i for i in range(1000)}
    r.sadd("s", *members)
    seen = list(r.sscan_iter("s", count=25))
    assert len(seen) == len(set(seen)) == 1000
    assert set(seen) == members
    # with COUNT, a big set is not returned in one go
    cursor, first = r.sscan("s", 0, count=10)
    assert cursor != 0
    assert 0 < len(first) < 100
    cursor, everything = r.sscan("s", 0, count=5000)
    assert cursor == 0 and set(everything) == members


def test_sscan_accepts_any_unsigned_64_bit_cursor(r, c):
    r.sadd("s", *[b"m:%d" % i for i in range(300)])
    for cursor in ("18446744073709551615", "-1", ""):
        rep = c.call("SSCAN", "s", cursor, "COUNT", "5")
        assert rep[0].isdigit() and set(rep[1]) <= {b"m:%d" % i for i in range(300)}, (cursor, rep)
    assert c.call("SSCAN", "s", "18446744073709551616") == "ERR invalid cursor"


def test_sscan_match_and_small_sets(r, c):
    r.sadd("s", *[b"m:%d" % i for i in range(500)])
    assert set(r.sscan_iter("s", match="m:4?", count=30)) == {b"m:4%d" % i for i in range(10)}
    assert list(r.sscan_iter("s", match="zzz*")) == []
    assert c.call("SSCAN", "nokey", "0") == [b"0", []]
    r.sadd("small", "a", "b")
    rep = c.call("SSCAN", "small", "0")
    assert rep[0] == b"0" and sorted(rep[1]) == [b"a", b"b"]
    assert c.call("SSCAN", "small", "0", "MATCH", "a") == [b"0", [b"a"]]
    r.sadd("ints", *range(100))
    assert sorted(int(x) for x in r.sscan_iter("ints")) == list(range(100))
    assert c.call("SSCAN", "small", "abc") == "ERR invalid cursor"
    assert c.call("SSCAN", "small", "0", "COUNT", "0") == SYNTAX
    assert c.call("SSCAN", "small", "0", "COUNT", "x") == NOT_INT
    assert c.call("SSCAN", "small", "0", "FOO", "bar") == SYNTAX
    assert c.call("SSCAN", "small") == wrong_args("sscan")


# ---------------------------------------------------------------- binary safety / size

def test_binary_members(r, c):
    key = b"set\x00\xff\r\n"
    members = {b"\x00", b"\xff", b"a\x00b", b"\r\n", b"", b"\x00\xff\x00", bytes(range(256)), b"a"}
    assert r.sadd(key, *members) == len(members)
    assert r.smembers(key) == members
    assert r.scard(key) == len(members)
    for m in members:
        assert r.sismember(key, m) is True
    assert r.sismember(key, b"a\x00") is False
    assert r.sismember(key, b"\x00\x00") is False
    assert set(r.sscan_iter(key)) == members
    assert r.srem(key, b"a\x00b", b"a") == 2
    assert r.smembers(key) == members - {b"a\x00b", b"a"}
    r.sadd(b"other", b"\x00", b"zz")
    assert r.sinter(key, b"other") == {b"\x00"}
    assert r.smove(key, b"other", b"\xff") is True
    assert r.smembers(b"other") == {b"\x00", b"zz", b"\xff"}
    # set keys that are prefixes of each other are different sets
    r.sadd(b"k", b"1")
    r.sadd(b"k\x00", b"2")
    r.sadd(b"kk", b"3")
    assert r.smembers(b"k") == {b"1"}
    assert r.smembers(b"k\x00") == {b"2"}
    assert r.smembers(b"kk") == {b"3"}


def test_large_set_10000_members(r):
    n = 10000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        pipe.sadd("big", *[b"member:%d" % j for j in range(i, i + 1000)])
    assert pipe.execute() == [1000] * (n // 1000)
    assert r.scard("big") == n
    members = r.smembers("big")
    assert members == {b"member:%d" % j for j in range(n)}
    seen = list(r.sscan_iter("big", count=1000))
    assert len(seen) == len(set(seen)) == n
    assert r.sismember("big", "member:9999") is True
    assert r.smismember("big", ["member:0", "member:10000"]) == [1, 0]
    r.sadd("odd", *[b"member:%d" % j for j in range(1, n, 2)])
    assert r.sinterstore("inter", "big", "odd") == n // 2
    assert r.sdiffstore("diff", "big", "odd") == n // 2
    assert r.sunionstore("union", "diff", "odd") == n
    assert r.sintercard(2, ["big", "odd"]) == n // 2
    assert r.srem("big", *[b"member:%d" % j for j in range(0, n, 2)]) == n // 2
    assert r.smembers("big") == r.smembers("odd")
    assert r.delete("big", "odd", "inter", "diff", "union") == 5
    assert r.dbsize() == 0


# ---------------------------------------------------------------- wrong type

SET_COMMANDS = [
    ("SADD", "k", "m"),
    ("SREM", "k", "m"),
    ("SCARD", "k"),
    ("SISMEMBER", "k", "m"),
    ("SMISMEMBER", "k", "m", "n"),
    ("SMEMBERS", "k"),
    ("SPOP", "k"),
    ("SPOP", "k", "2"),
    ("SRANDMEMBER", "k"),
    ("SRANDMEMBER", "k", "-2"),
    ("SMOVE", "k", "set", "a"),
    ("SMOVE", "set", "k", "a"),
    ("SINTER", "k"),
    ("SINTER", "set", "k"),
    ("SINTER", "nokey", "k"),
    ("SINTERCARD", "2", "set", "k"),
    ("SINTERCARD", "2", "nokey", "k"),
    ("SINTERSTORE", "dst", "set", "k"),
    ("SUNION", "set", "k"),
    ("SUNIONSTORE", "dst", "k", "set"),
    ("SDIFF", "set", "k"),
    ("SDIFF", "nokey", "k"),
    ("SDIFFSTORE", "dst", "set", "k"),
    ("SSCAN", "k", "0"),
]


@pytest.mark.parametrize("cmd", SET_COMMANDS, ids=lambda c: " ".join(c))
def test_set_commands_on_a_hash_key(r, c, cmd):
    r.hset("k", "f", "v")
    r.sadd("set", "a", "b")
    r.sadd("dst", "old")
    assert c.call(*cmd) == WRONGTYPE
    assert r.hgetall("k") == {b"f": b"v"}
    assert r.smembers("set") == {b"a", b"b"}
    assert r.smembers("dst") == {b"old"}  # a failed *STORE leaves its destination alone


@pytest.mark.parametrize("cmd", SET_COMMANDS, ids=lambda c: " ".join(c))
def test_set_commands_on_a_string_key(r, c, cmd):
    r.set("k", "v")
    r.sadd("set", "a", "b")
    assert c.call(*cmd) == WRONGTYPE
    assert r.get("k") == b"v"


@pytest.mark.parametrize("cmd", [
    ("GET", "s"), ("GETDEL", "s"), ("GETEX", "s"), ("STRLEN", "s"), ("APPEND", "s", "x"), ("INCR", "s"),
    ("DECRBY", "s", "2"), ("INCRBYFLOAT", "s", "1"), ("SETRANGE", "s", "0", "x"), ("GETRANGE", "s", "0", "1"),
    ("GETSET", "s", "x"), ("SETBIT", "s", "1", "1"), ("HGET", "s", "f"), ("HSET", "s", "f", "v"),
    ("HGETALL", "s"), ("HLEN", "s"),
], ids=lambda c: " ".join(c))
def test_other_commands_on_a_set_key(r, c, cmd):
    r.sadd("s", "a")
    assert c.call(*cmd) == WRONGTYPE
    assert r.smembers("s") == {b"a"}


def test_set_overwrites_a_set_and_mget_is_nil(r):
    r.sadd("s", "a", "b")
    assert r.mget("s") == [None]
    assert r.set("s", "str") is True
    assert r.type("s") == b"string"
    assert r.get("s") == b"str"


# ---------------------------------------------------------------- generic key commands

def test_type_del_unlink(r, c):
    r.sadd("s1", "a")
    r.sadd("s2", "a", "b")
    assert c.call_raw("TYPE", "s1") == b"+set\r\n"
    assert r.type("s2") == b"set"
    assert r.delete("s1", "nokey") == 1
    assert r.unlink("s2") == 1
    assert r.exists("s1", "s2") == 0
    assert r.smembers("s2") == set()
    assert r.dbsize() == 0


def test_expire_ttl_and_expiry(r, c):
    r.sadd("s", "a", "b")
    r.sadd("keep", "x")
    assert r.ttl("s") == -1
    assert r.expire("s", 100) is True
    r.sadd("s", "c")
    r.srem("s", "a")
    assert 98 <= r.ttl("s") <= 100
    assert r.persist("s") is True
    assert r.ttl("s") == -1
    assert r.pexpire("s", 80) is True
    time.sleep(0.25)
    assert r.exists("s") == 0
    assert c.call_raw("TYPE", "s") == b"+none\r\n"
    assert r.smembers("s") == set()
    assert r.scard("s") == 0
    assert r.sismember("s", "b") is False
    assert r.keys("*") == [b"keep"]
    assert list(r.scan_iter(_type="set")) == [b"keep"]
    # a set created after expiry starts empty, without a TTL
    assert r.sadd("s", "b", "z") == 2
    assert r.smembers("s") == {b"b", b"z"}
    assert r.ttl("s") == -1


def test_expired_sets_in_set_operations(r):
    r.sadd("a", "1", "2")
    r.sadd("b", "2", "3")
    r.pexpire("b", 50)
    time.sleep(0.2)
    assert r.sinter("a", "b") == set()
    assert r.sunion("a", "b") == {b"1", b"2"}
    assert r.sdiff("a", "b") == {b"1", b"2"}
    assert r.smove("b", "a", "3") is False
    assert r.smembers("a") == {b"1", b"2"}


def test_rename_set(r):
    r.sadd("src", "a", "b")
    r.expire("src", 1000)
    assert r.rename("src", "dst") is True
    assert r.exists("src") == 0
    assert r.smembers("dst") == {b"a", b"b"}
    assert 990 <= r.ttl("dst") <= 1000
    r.sadd("other", "x", "a")
    assert r.rename("dst", "other") is True
    assert r.smembers("other") == {b"a", b"b"}
    r.hset("h", "f", "v")
    assert r.rename("other", "h") is True
    assert r.type("h") == b"set"
    assert r.smembers("h") == {b"a", b"b"}
    r.sadd("src", "new")
    assert r.smembers("src") == {b"new"}


def test_copy_set(r, server):
    r.sadd("src", "a", b"\x00\xff")
    r.pexpire("src", 900_000)
    assert r.copy("src", "dst") is True
    assert r.smembers("dst") == {b"a", b"\x00\xff"}
    assert r.execute_command("PEXPIRETIME", "dst") == r.execute_command("PEXPIRETIME", "src")
    r.sadd("dst", "only-in-copy")
    r.srem("src", "a")
    assert r.smembers("src") == {b"\x00\xff"}
    assert r.smembers("dst") == {b"a", b"\x00\xff", b"only-in-copy"}
    r.sadd("other", "z")
    assert r.copy("src", "other") is False
    assert r.smembers("other") == {b"z"}
    assert r.copy("src", "other", replace=True) is True
    assert r.smembers("other") == {b"\x00\xff"}
    assert r.copy("src", "src", destination_db=4) is True
    r4 = server.client(db=4)
    try:
        assert r4.smembers("src") == {b"\x00\xff"}
        assert r4.ttl("src") > 0
    finally:
        r4.close()


def test_scan_type_filters(r):
    r.set("str", "v")
    for i in range(20):
        r.sadd("set:%d" % i, "m")
        r.hset("hash:%d" % i, "f", "v")
    assert sorted(r.scan_iter(_type="set", count=5)) == sorted(b"set:%d" % i for i in range(20))
    assert sorted(r.scan_iter(_type="hash", count=5)) == sorted(b"hash:%d" % i for i in range(20))
    assert sorted(r.scan_iter(_type="string")) == [b"str"]
    assert sorted(r.scan_iter(match="set:1*", _type="set")) == sorted(
        [b"set:1"] + [b"set:1%d" % i for i in range(10)])
    assert list(r.scan_iter(match="hash:*", _type="set")) == []
    assert r.dbsize() == 41


def test_sets_survive_restart(make_server):
    s = make_server()
    cl = s.client()
    cl.sadd("small", "a", "b", "c")
    cl.srem("small", "b")
    cl.sadd(b"bin\x00", b"\x00\xff", b"")
    cl.sadd("ttl", "x")
    cl.expire("ttl", 1000)
    cl.sadd("big", *[b"m%d" % i for i in range(3000)])
    cl.sadd("ints", *range(100))
    cl.sadd("popped", "1", "2", "3")
    popped = cl.spop("popped", 2)
    cl.sadd("other", "q")
    cl.smove("small", "other", "c")
    cl.sadd("x1", "1", "2")
    cl.sadd("x2", "2", "3")
    cl.sunionstore("union", "x1", "x2")
    cl.sadd("gone", "a")
    cl.srem("gone", "a")
    cl.sadd("short", "a")
    cl.pexpire("short", 200)
    cl.hset("h", mapping={"f": "v"})
    r3 = s.client(db=3)
    r3.sadd("in-db3", "yes")
    r3.close()
    cl.close()

    assert s.stop() == 0, s.log()
    time.sleep(0.3)
    s.start()

    cl = s.client()
    try:
        assert cl.smembers("small") == {b"a"}
        assert cl.smembers(b"bin\x00") == {b"\x00\xff", b""}
        assert cl.smembers("ttl") == {b"x"}
        assert 990 <= cl.ttl("ttl") <= 1000
        assert cl.smembers("big") == {b"m%d" % i for i in range(3000)}
        assert cl.scard("big") == 3000
        assert cl.smembers("ints") == {b"%d" % i for i in range(100)}
        assert cl.smembers("popped") == {b"1", b"2", b"3"} - set(popped)
        assert cl.smembers("other") == {b"q", b"c"}
        assert cl.smembers("union") == {b"1", b"2", b"3"}
        assert cl.exists("gone", "short") == 0
        assert cl.type("small") == b"set"
        assert cl.hgetall("h") == {b"f": b"v"}
        r3 = s.client(db=3)
        assert r3.smembers("in-db3") == {b"yes"}
        r3.close()
        assert cl.sadd("small", "a", "new") == 1
    finally:
        cl.close()


# ---------------------------------------------------------------- transactions

def test_multi_exec_set_and_hash(r, c):
    r.sadd("a", "1", "2", "3")
    assert c.call("MULTI") == "OK"
    for cmd in (("SADD", "b", "2", "3", "4"), ("HSET", "h", "f", "1"), ("SINTERSTORE", "i", "a", "b"),
                ("SMOVE", "a", "b", "1"), ("HINCRBY", "h", "f", "9"), ("SPOP", "a", "10"), ("SCARD", "b"),
                ("EXISTS", "a"), ("HGET", "h", "f")):
        assert c.call(*cmd) == "QUEUED"
    rep = c.call("EXEC")
    assert rep[:5] == [3, 1, 2, 1, 10]
    assert sorted(rep[5]) == [b"2", b"3"]
    assert rep[6:] == [4, 0, b"10"]
    assert r.smembers("i") == {b"2", b"3"}
    assert r.smembers("b") == {b"1", b"2", b"3", b"4"}
    # a WRONGTYPE inside EXEC fails alone
    assert c.call("MULTI") == "OK"
    c.call("SADD", "h", "x")
    c.call("SADD", "c", "x")
    rep = c.call("EXEC")
    assert isinstance(rep[0], RespError) and rep[0] == WRONGTYPE
    assert rep[1] == 1
    # a queue-time error aborts everything
    assert c.call("MULTI") == "OK"
    assert c.call("SADD", "d", "x") == "QUEUED"
    assert c.call("SADD", "d") == wrong_args("sadd")
    assert c.call("EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert r.exists("d") == 0


def test_redis_py_transaction_pipeline(r):
    pipe = r.pipeline(transaction=True)
    pipe.sadd("s", "a", "b", "c")
    pipe.hset("h", mapping={"x": "1"})
    pipe.srem("s", "a")
    pipe.sismember("s", "b")
    pipe.smembers("s")
    pipe.hgetall("h")
    assert pipe.execute() == [3, 1, 1, True, {b"b", b"c"}, {b"x": b"1"}]


# ---------------------------------------------------------------- change stream (tidekv only)

def assert_srem_of(cmds, key, popped, whole_set=False):
    """The commands remove exactly the popped members from key (SREMs; DEL if the set was emptied)."""
    if whole_set and cmds == [[b"DEL", key]]:
        return
    assert cmds, "SPOP recorded nothing"
    removed = Counter()
    for cmd in cmds:
        assert cmd[0].upper() == b"SREM" and cmd[1] == key and len(cmd) > 2, cmds
        removed.update(cmd[2:])
    assert removed == Counter(popped), (cmds, popped)


@pytest.mark.tidekv_only
def test_change_stream_of_set_writes_replays_identically(make_server):
    src = make_server()
    cl = src.client()
    step, seqs = make_step(cl)

    step("sadd1", lambda: cl.sadd("s1", *"abcdefghij"))
    step("sadd2", lambda: cl.sadd("s2", "c", "d", "e", "x", "y"))
    one = step("spop1", lambda: cl.spop("s1"))
    two = step("spop2", lambda: cl.spop("s1", 2))
    step("sadd3", lambda: cl.sadd("s3", "p", "q", "r"))
    step("expire3", lambda: cl.expire("s3", 3000))
    all3 = step("spop-all", lambda: cl.spop("s3", 10))
    mover = sorted(cl.smembers("s1") - cl.smembers("s2"))[0]
    step("smove1", lambda: cl.smove("s1", "s2", mover))
    step("smove2", lambda: cl.smove("s2", "snew", "x"))
    step("sinterstore", lambda: cl.sinterstore("inter", ["s1", "s2"]))
    step("sunionstore", lambda: cl.sunionstore("union", ["s1", "s2", "snew"]))
    cl.sadd("diff", "stale1", "stale2")
    cl.expire("diff", 4000)
    step("sdiffstore", lambda: cl.sdiffstore("diff", ["s2", "s1"]))
    cl.sadd("emptied", "z")
    step("store-empty", lambda: cl.sinterstore("emptied", ["s1", "nokey"]))
    step("srem", lambda: cl.srem("s2", "y"))
    step("hset", lambda: cl.hset("h", mapping={"n": "10.5", "i": "1"}))
    step("hincrbyfloat", lambda: cl.hincrbyfloat("h", "n", "0.1"))
    step("bin", lambda: cl.sadd(b"bin\x00", b"\x00\xff", b""))
    step("copy", lambda: cl.copy("union", "union", destination_db=1))
    step("sadd-ttl", lambda: (cl.sadd("ttlset", "m"), cl.pexpire("ttlset", 600_000)))
    step("reads", lambda: (cl.smembers("s1"), cl.srandmember("s1", -5), cl.sinter("s1", "s2"),
                           cl.sintercard(2, ["s1", "s2"]), list(cl.sscan_iter("s2"))))
    popped3 = step("spop-multi", lambda: cl.spop("union", 3))

    updates = read_changes(cl)

    # (a) SPOP is recorded as SREM of the popped members
    assert_srem_of(commands_between(updates, *seqs["spop1"]), b"s1", [one])
    assert_srem_of(commands_between(updates, *seqs["spop2"]), b"s1", two)
    assert_srem_of(commands_between(updates, *seqs["spop-multi"]), b"union", popped3)
    assert_srem_of(commands_between(updates, *seqs["spop-all"]), b"s3", all3, whole_set=True)
    for name in ("spop1", "spop2", "spop-multi", "spop-all"):
        assert all(cmd[0].upper() != b"SPOP" for cmd in commands_between(updates, *seqs[name]))
    # (b) HINCRBYFLOAT is recorded as HSET of the resulting value
    assert commands_between(updates, *seqs["hincrbyfloat"]) == [[b"HSET", b"h", b"n", b"10.6"]]
    # reads record nothing, writes record something
    assert batches_between(updates, *seqs["reads"]) == []
    for name in ("sadd1", "sadd2", "smove1", "smove2", "sinterstore", "sunionstore", "sdiffstore",
                 "store-empty", "srem", "hset", "bin", "copy", "sadd-ttl"):
        assert batches_between(updates, *seqs[name]), name
    assert {u["db"] for u in updates} <= {0, 1}

    before = snapshot(src)
    assert before[(0, b"diff")][0] == b"set"
    assert before[(0, b"diff")][2] == -1  # the *STORE replaced the key and its TTL
    assert (0, b"emptied") not in before and (0, b"s3") not in before
    assert before[(0, b"h")][1] == {b"n": b"10.6", b"i": b"1"}
    assert before[(1, b"union")][0] == b"set"

    # (c) replaying every recorded command into a fresh server gives the same data
    dst = make_server()
    replay(updates, dst)
    after = snapshot(dst)
    assert after == before
    cl.close()
