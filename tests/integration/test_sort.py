"""SORT and SORT_RO on lists, sets and sorted sets with Redis 7 semantics and error texts
(checked against redis-server 7.0): numeric and ALPHA order, DESC, LIMIT, BY patterns (string
keys, hash fields, nosort), GET patterns (#, keys, hash fields) and STORE."""

import pytest

from helpers import wrong_args

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_DOUBLE = "ERR One or more scores can't be converted into double"


# ---------------------------------------------------------------- numeric / ALPHA / DESC

def test_sort_list_numeric(r, c):
    r.rpush("l", "3", "1", "2", "10", "-5", "1.5")
    assert c.call("SORT", "l") == [b"-5", b"1", b"1.5", b"2", b"3", b"10"]
    assert c.call("SORT", "l", "ASC") == [b"-5", b"1", b"1.5", b"2", b"3", b"10"]
    assert c.call("SORT", "l", "DESC") == [b"10", b"3", b"2", b"1.5", b"1", b"-5"]
    assert c.call("SORT", "l", "desc") == [b"10", b"3", b"2", b"1.5", b"1", b"-5"]
    # the list itself is not changed
    assert r.lrange("l", 0, -1) == [b"3", b"1", b"2", b"10", b"-5", b"1.5"]
    assert r.sort("l") == [b"-5", b"1", b"1.5", b"2", b"3", b"10"]
    assert r.sort("l", desc=True)[:2] == [b"10", b"3"]


def test_sort_numeric_forms_and_ties(r, c):
    r.rpush("n", "1e2", "-inf", "inf", "+5", "3", "03", "3.0")
    # equal numbers are ordered by their bytes
    assert c.call("SORT", "n") == [b"-inf", b"03", b"3", b"3.0", b"+5", b"1e2", b"inf"]
    assert c.call("SORT", "n", "DESC") == [b"inf", b"1e2", b"+5", b"3.0", b"3", b"03", b"-inf"]
    # an empty string counts as 0
    r.rpush("e", "", "1", "-1")
    assert c.call("SORT", "e") == [b"-1", b"", b"1"]


def test_sort_weights_read_as_redis_reads_them(r, c):
    """As strtod reads them: leading spaces pass, numbers out of a double's range do not.
    (Redis does not clear errno before it reads a weight: these checks come last.)"""
    r.rpush("sp", " 3", "2", "\t1", "1e308")
    assert c.call("SORT", "sp") == [b"\t1", b"2", b" 3", b"1e308"]
    for weight in ("1e309", "-1e309", "1e-400", "1e-310"):
        r.delete("l")
        r.rpush("l", "1", weight)
        assert c.call("SORT", "l") == NOT_DOUBLE
        assert c.call("SORT", "l", "ALPHA") == sorted([b"1", weight.encode()])


def test_sort_alpha(r, c):
    r.rpush("l", "banana", "apple", "cherry", "10", "9", "apple2", "b")
    assert c.call("SORT", "l", "ALPHA") == [b"10", b"9", b"apple", b"apple2", b"b", b"banana", b"cherry"]
    assert c.call("SORT", "l", "ALPHA", "DESC") == [b"cherry", b"banana", b"b", b"apple2", b"apple", b"9", b"10"]
    assert c.call("SORT", "l", "alpha", "limit", "1", "2") == [b"9", b"apple"]
    assert r.sort("l", alpha=True, start=0, num=1) == [b"10"]
    # ALPHA accepts what numeric sorting rejects
    assert c.call("SORT", "l") == NOT_DOUBLE
    r.rpush("mix", "1", "x", "2")
    assert c.call("SORT", "mix") == NOT_DOUBLE
    assert c.call("SORT", "mix", "ALPHA") == [b"1", b"2", b"x"]
    r.rpush("nanl", "nan", "1")
    assert c.call("SORT", "nanl") == NOT_DOUBLE


def test_sort_sets_and_zsets(r, c):
    r.sadd("s", "5", "3", "9", "1", "20")
    assert c.call("SORT", "s") == [b"1", b"3", b"5", b"9", b"20"]
    assert c.call("SORT", "s", "DESC", "LIMIT", "0", "2") == [b"20", b"9"]
    assert c.call("SORT", "s", "ALPHA") == [b"1", b"20", b"3", b"5", b"9"]
    r.sadd("words", "pear", "fig", "apple")
    assert c.call("SORT", "words", "ALPHA") == [b"apple", b"fig", b"pear"]
    assert c.call("SORT", "words") == NOT_DOUBLE
    # a sorted set is sorted by its members, not its scores
    r.zadd("z", {"30": 1, "4": 2, "100": 3})
    assert c.call("SORT", "z") == [b"4", b"30", b"100"]
    assert c.call("SORT", "z", "ALPHA") == [b"100", b"30", b"4"]
    r.zadd("zw", {"x": 3, "y": 1, "w": 2})
    assert c.call("SORT", "zw", "ALPHA") == [b"w", b"x", b"y"]
    assert c.call("SORT", "zw", "ALPHA", "DESC") == [b"y", b"x", b"w"]


def test_sort_missing_key_and_wrong_type(r, c):
    assert c.call_raw("SORT", "nokey") == b"*0\r\n"
    assert c.call_raw("SORT", "nokey", "ALPHA", "DESC", "LIMIT", "0", "5") == b"*0\r\n"
    r.set("str", "abc")
    r.hset("h", "f", "v")
    assert c.call("SORT", "str") == WRONGTYPE
    assert c.call("SORT", "h") == WRONGTYPE
    assert c.call("SORT_RO", "str") == WRONGTYPE


# ---------------------------------------------------------------- LIMIT

def test_sort_limit(r, c):
    r.rpush("l", *[str(i) for i in (5, 3, 8, 1, 9, 2)])
    assert c.call("SORT", "l", "LIMIT", "0", "3") == [b"1", b"2", b"3"]
    assert c.call("SORT", "l", "LIMIT", "1", "2") == [b"2", b"3"]
    assert c.call("SORT", "l", "LIMIT", "4", "10") == [b"8", b"9"]
    assert c.call("SORT", "l", "LIMIT", "0", "-1") == [b"1", b"2", b"3", b"5", b"8", b"9"]
    assert c.call("SORT", "l", "LIMIT", "-1", "2") == [b"1", b"2"]  # a negative offset counts as 0
    assert c.call_raw("SORT", "l", "LIMIT", "10", "2") == b"*0\r\n"
    assert c.call_raw("SORT", "l", "LIMIT", "0", "0") == b"*0\r\n"
    assert c.call("SORT", "l", "DESC", "LIMIT", "1", "2") == [b"8", b"5"]
    assert c.call("SORT", "l", "LIMIT", "0", "1", "LIMIT", "1", "1") == [b"2"]  # the last LIMIT wins
    assert c.call("SORT", "l", "LIMIT", "1") == SYNTAX
    assert c.call("SORT", "l", "LIMIT", "a", "2") == NOT_INT
    assert c.call("SORT", "l", "LIMIT", "0", "b") == NOT_INT


LLONG_MAX = "9223372036854775807"
HALF_LLONG = "4611686018427387904"


@pytest.mark.parametrize("limit", [("1", LLONG_MAX), (LLONG_MAX, LLONG_MAX), (HALF_LLONG, HALF_LLONG),
                                   ("0", LLONG_MAX), ("-" + LLONG_MAX, LLONG_MAX), (LLONG_MAX, "-1")])
def test_sort_limit_as_large_as_integers_go(r, c, limit):
    """LIMIT's offset and count are clamped to the sorted items: the sum of the two must not
    overflow (a SIGSEGV, an abort on STORE, or a '*-5' reply before)."""
    offset, count = limit
    r.rpush("l", "3", "1", "2")
    r.sadd("s", "3", "1", "2")
    r.zadd("z", {"3": 1, "1": 2, "2": 3})
    r.mset({"w_1": "30", "w_2": "20", "w_3": "10", "g_1": "one", "g_2": "two", "g_3": "three"})
    skip = max(int(offset), 0)
    rows = [b"1", b"2", b"3"][skip:]
    by_weight = [b"3", b"2", b"1"][skip:]
    for key in ("l", "s", "z"):
        for cmd in ("SORT", "SORT_RO"):
            assert c.call(cmd, key, "LIMIT", offset, count) == rows
            assert c.call(cmd, key, "ALPHA", "LIMIT", offset, count) == rows
            assert c.call(cmd, key, "DESC", "ALPHA", "LIMIT", offset, count) == by_weight
            assert c.call(cmd, key, "BY", "w_*", "LIMIT", offset, count) == by_weight
            assert c.call(cmd, key, "BY", "w_*", "ALPHA", "LIMIT", offset, count) == by_weight
            assert c.call(cmd, key, "GET", "g_*", "GET", "#", "LIMIT", offset, count) == [
                v for m in rows for v in (r.get("g_" + m.decode()), m)]
            assert len(c.call(cmd, key, "BY", "nosort", "LIMIT", offset, count)) == len(rows)
        assert c.call("SORT", key, "LIMIT", offset, count, "STORE", "dst") == len(rows)
        assert r.lrange("dst", 0, -1) == rows
        assert c.call("SORT", key, "ALPHA", "BY", "w_*", "GET", "#", "LIMIT", offset, count, "STORE", "dst") == \
            len(rows)
        assert r.lrange("dst", 0, -1) == by_weight
    assert r.ping()


def test_sort_syntax_errors(r, c):
    r.rpush("l", "1", "2")
    assert c.call("SORT", "l", "FOO") == SYNTAX
    assert c.call("SORT", "l", "BY") == SYNTAX
    assert c.call("SORT", "l", "GET") == SYNTAX
    assert c.call("SORT", "l", "STORE") == SYNTAX
    assert c.call("SORT") == wrong_args("sort")
    assert c.call("SORT_RO") == wrong_args("sort_ro")
    assert c.call("SORT_RO", "l", "STORE", "dst") == SYNTAX
    assert r.exists("dst") == 0
    # repeated and conflicting flags: the last one counts
    r.rpush("m", "3", "1", "2")
    assert c.call("SORT", "m", "DESC", "ASC") == [b"1", b"2", b"3"]
    assert c.call("SORT", "m", "ALPHA", "ALPHA") == [b"1", b"2", b"3"]


# ---------------------------------------------------------------- BY

def test_sort_by_nosort(r, c):
    r.rpush("l", "3", "1", "2", "10", "-5", "x")
    # a list keeps its order (non-numbers are fine, nothing is compared)
    assert c.call("SORT", "l", "BY", "nosort") == [b"3", b"1", b"2", b"10", b"-5", b"x"]
    assert c.call("SORT", "l", "BY", "nosort", "LIMIT", "1", "2") == [b"1", b"2"]
    # with DESC the list is walked from the tail
    assert c.call("SORT", "l", "BY", "nosort", "DESC") == [b"x", b"-5", b"10", b"2", b"1", b"3"]
    # a pattern without '*' does not sort either
    assert c.call("SORT", "l", "BY", "constant") == [b"3", b"1", b"2", b"10", b"-5", b"x"]
    # a sorted set keeps its score order
    r.zadd("z", {"x": 3, "y": 1, "w": 2})
    assert c.call("SORT", "z", "BY", "nosort") == [b"y", b"w", b"x"]
    assert c.call("SORT", "z", "BY", "nosort", "DESC") == [b"x", b"w", b"y"]
    assert c.call("SORT", "z", "BY", "nosort", "LIMIT", "1", "1") == [b"w"]
    # a set: every member once, in some order
    r.sadd("s", "b", "a", "c")
    assert sorted(c.call("SORT", "s", "BY", "nosort")) == [b"a", b"b", b"c"]
    assert r.sort("l", by="nosort", start=0, num=2) == [b"3", b"1"]


def test_sort_by_string_weights(r, c):
    r.rpush("l", "a", "b", "c", "d")
    r.mset({"w_a": "3", "w_b": "1", "w_c": "2"})  # w_d is missing: weight 0
    assert c.call("SORT", "l", "BY", "w_*") == [b"d", b"b", b"c", b"a"]
    assert c.call("SORT", "l", "BY", "w_*", "DESC") == [b"a", b"c", b"b", b"d"]
    assert c.call("SORT", "l", "BY", "w_*", "LIMIT", "1", "2") == [b"b", b"c"]
    assert r.sort("l", by="w_*") == [b"d", b"b", b"c", b"a"]
    # equal weights (all missing) fall back to the elements themselves
    r.rpush("m", "c", "a", "b")
    assert c.call("SORT", "m", "BY", "nokey_*") == [b"a", b"b", b"c"]
    assert c.call("SORT", "m", "BY", "nokey_*", "DESC") == [b"c", b"b", b"a"]
    # weights with fractions and negative numbers
    r.mset({"f_a": "-1.5", "f_b": "-2", "f_c": "0.25"})
    assert c.call("SORT", "m", "BY", "f_*") == [b"b", b"a", b"c"]


def test_sort_by_alpha_weights_and_bad_weights(r, c):
    r.rpush("l", "1", "2", "3", "4")
    r.mset({"name_1": "delta", "name_2": "alpha", "name_3": "charlie", "name_4": "bravo"})
    assert c.call("SORT", "l", "BY", "name_*", "ALPHA") == [b"2", b"4", b"3", b"1"]
    assert c.call("SORT", "l", "BY", "name_*", "ALPHA", "DESC") == [b"1", b"3", b"4", b"2"]
    # numeric sort by weights that are not numbers
    assert c.call("SORT", "l", "BY", "name_*") == NOT_DOUBLE
    r.mset({"x_1": "1", "x_2": "foo", "x_3": "2", "x_4": "3"})
    assert c.call("SORT", "l", "BY", "x_*") == NOT_DOUBLE
    assert c.call("SORT", "l", "BY", "x_*", "ALPHA") == [b"1", b"3", b"4", b"2"]


def test_sort_by_hash_field(r, c):
    r.rpush("l", "a", "b", "c", "d")
    r.hset("h_a", mapping={"f": "30", "name": "alice"})
    r.hset("h_b", mapping={"f": "10", "name": "bob"})
    r.hset("h_c", mapping={"f": "20"})
    r.hset("h_d", mapping={"f": "5", "name": "dan"})
    assert c.call("SORT", "l", "BY", "h_*->f") == [b"d", b"b", b"c", b"a"]
    assert c.call("SORT", "l", "BY", "h_*->f", "DESC") == [b"a", b"c", b"b", b"d"]
    # a missing field (or hash) weighs 0
    assert c.call("SORT", "l", "BY", "h_*->name", "ALPHA") == [b"c", b"a", b"b", b"d"]
    assert c.call("SORT", "l", "BY", "h_*->nofield") == [b"a", b"b", b"c", b"d"]
    assert r.sort("l", by="h_*->f", desc=True) == [b"a", b"c", b"b", b"d"]


def test_sort_set_by_weights(r, c):
    r.sadd("s", "x", "y", "z")
    r.mset({"rank_x": "2", "rank_y": "3", "rank_z": "1"})
    assert c.call("SORT", "s", "BY", "rank_*") == [b"z", b"x", b"y"]
    r.zadd("zs", {"x": 1, "y": 2, "z": 3})
    assert c.call("SORT", "zs", "BY", "rank_*", "DESC") == [b"y", b"x", b"z"]


# ---------------------------------------------------------------- GET

def test_sort_get_patterns(r, c):
    r.rpush("l", "a", "b", "c", "d")
    r.mset({"w_a": "3", "w_b": "1", "w_c": "2", "w_d": "4"})
    r.mset({"obj_a": "A", "obj_b": "B", "obj_d": "D"})  # obj_c missing
    assert c.call("SORT", "l", "BY", "w_*", "GET", "obj_*") == [b"B", None, b"A", b"D"]
    assert c.call("SORT", "l", "BY", "w_*", "GET", "#") == [b"b", b"c", b"a", b"d"]
    assert c.call("SORT", "l", "BY", "w_*", "GET", "#", "GET", "obj_*") == [
        b"b", b"B", b"c", None, b"a", b"A", b"d", b"D"]
    assert c.call("SORT", "l", "BY", "w_*", "GET", "obj_*", "GET", "#", "GET", "w_*", "LIMIT", "0", "2") == [
        b"B", b"b", b"1", None, b"c", b"2"]
    assert c.call("SORT", "l", "ALPHA", "DESC", "GET", "obj_*") == [b"D", None, b"B", b"A"]
    assert c.call_raw("SORT", "l", "BY", "w_*", "GET", "obj_*", "LIMIT", "1", "1") == b"*1\r\n$-1\r\n"
    assert r.sort("l", by="w_*", get=["#", "obj_*"]) == [b"b", b"B", b"c", None, b"a", b"A", b"d", b"D"]
    # GET patterns of a key that is not a string give nil
    r.rpush("obj_a_list", "x")
    r.rpush("g", "a_list")
    assert c.call("SORT", "g", "ALPHA", "GET", "obj_*") == [None]


def test_sort_get_hash_fields(r, c):
    r.rpush("ids", "3", "1", "2")
    r.hset("user:1", mapping={"name": "ann", "age": "31"})
    r.hset("user:2", mapping={"name": "ben"})
    r.hset("user:3", mapping={"name": "cid", "age": "25"})
    assert c.call("SORT", "ids", "GET", "user:*->name") == [b"ann", b"ben", b"cid"]
    assert c.call("SORT", "ids", "GET", "#", "GET", "user:*->age") == [b"1", b"31", b"2", None, b"3", b"25"]
    assert c.call("SORT", "ids", "BY", "user:*->age", "GET", "user:*->name") == [b"ben", b"cid", b"ann"]
    assert c.call("SORT", "ids", "BY", "user:*->name", "ALPHA", "DESC", "GET", "user:*->name") == [
        b"cid", b"ben", b"ann"]
    assert c.call("SORT", "ids", "GET", "user:*->nofield") == [None, None, None]
    assert c.call("SORT", "ids", "GET", "nouser:*->name") == [None, None, None]
    # a '->' pattern on a string key gives nil
    r.set("user:9", "plain")
    r.rpush("one", "9")
    assert c.call("SORT", "one", "GET", "user:*->name") == [None]


# ---------------------------------------------------------------- STORE

def test_sort_store(r, c):
    r.rpush("l", "3", "1", "2")
    assert c.call("SORT", "l", "STORE", "dst") == 3
    assert r.type("dst") == b"list"
    assert r.lrange("dst", 0, -1) == [b"1", b"2", b"3"]
    assert c.call("SORT", "l", "DESC", "LIMIT", "0", "2", "STORE", "dst") == 2
    assert r.lrange("dst", 0, -1) == [b"3", b"2"]
    assert r.sort("l", store="dst2") == 3
    assert r.lrange("dst2", 0, -1) == [b"1", b"2", b"3"]
    # from a set and a sorted set
    r.sadd("s", "b", "a", "c")
    assert c.call("SORT", "s", "ALPHA", "STORE", "ds") == 3
    assert r.lrange("ds", 0, -1) == [b"a", b"b", b"c"]
    r.zadd("z", {"10": 1, "2": 2})
    assert c.call("SORT", "z", "STORE", "dz") == 2
    assert r.lrange("dz", 0, -1) == [b"2", b"10"]
    # the source itself can be the destination
    assert c.call("SORT", "l", "STORE", "l") == 3
    assert r.lrange("l", 0, -1) == [b"1", b"2", b"3"]


def test_sort_store_replaces_destination(r, c):
    r.rpush("l", "2", "1")
    for setup in (lambda: r.set("dst", "string"), lambda: r.zadd("dst", {"m": 1}),
                  lambda: r.rpush("dst", "old1", "old2", "old3"), lambda: r.hset("dst", "f", "v")):
        r.delete("dst")
        setup()
        r.expire("dst", 1000)
        assert c.call("SORT", "l", "STORE", "dst") == 2
        assert r.type("dst") == b"list"
        assert r.lrange("dst", 0, -1) == [b"1", b"2"]
        assert r.ttl("dst") == -1


def test_sort_store_empty_result_deletes_destination(r, c):
    r.rpush("dst", "old")
    assert c.call("SORT", "nokey", "STORE", "dst") == 0
    assert r.exists("dst") == 0
    r.rpush("l", "1", "2")
    r.set("dst", "x")
    assert c.call("SORT", "l", "LIMIT", "5", "5", "STORE", "dst") == 0
    assert r.exists("dst") == 0


def test_sort_store_with_get(r, c):
    r.rpush("l", "a", "b", "c")
    r.mset({"w_a": "3", "w_b": "1", "w_c": "2", "obj_a": "A", "obj_b": "B"})
    # a missing GET value is stored as an empty string
    assert c.call("SORT", "l", "BY", "w_*", "GET", "obj_*", "STORE", "dst") == 3
    assert r.lrange("dst", 0, -1) == [b"B", b"", b"A"]
    assert c.call("SORT", "l", "BY", "w_*", "GET", "#", "GET", "obj_*", "STORE", "dst") == 6
    assert r.lrange("dst", 0, -1) == [b"b", b"B", b"c", b"", b"a", b"A"]
    assert c.call("SORT", "l", "BY", "nosort", "STORE", "dst") == 3
    assert r.lrange("dst", 0, -1) == [b"a", b"b", b"c"]


def test_sort_store_errors_leave_destination(r, c):
    r.rpush("bad", "1", "x")
    r.rpush("dst", "keep")
    assert c.call("SORT", "bad", "STORE", "dst") == NOT_DOUBLE
    assert r.lrange("dst", 0, -1) == [b"keep"]
    r.set("str", "v")
    assert c.call("SORT", "str", "STORE", "dst") == WRONGTYPE
    assert r.lrange("dst", 0, -1) == [b"keep"]


# ---------------------------------------------------------------- SORT_RO / transactions

def test_sort_ro(r, c):
    r.rpush("l", "3", "1", "2")
    r.mset({"w_1": "9", "w_2": "8", "w_3": "7"})
    assert c.call("SORT_RO", "l") == [b"1", b"2", b"3"]
    assert c.call("SORT_RO", "l", "BY", "w_*", "GET", "#", "GET", "w_*", "DESC", "LIMIT", "0", "2") == [
        b"1", b"9", b"2", b"8"]
    assert c.call("SORT_RO", "l", "ALPHA", "LIMIT", "1", "5") == [b"2", b"3"]
    assert c.call_raw("SORT_RO", "nokey") == b"*0\r\n"


def test_sort_in_multi(r, c):
    r.rpush("l", "2", "3", "1")
    assert c.call("MULTI") == "OK"
    assert c.call("RPUSH", "l", "0") == "QUEUED"
    assert c.call("SORT", "l", "STORE", "dst") == "QUEUED"
    assert c.call("LRANGE", "dst", "0", "-1") == "QUEUED"
    assert c.call("SORT", "l", "DESC", "LIMIT", "0", "1") == "QUEUED"
    assert c.call("EXEC") == [4, 4, [b"0", b"1", b"2", b"3"], [b"3"]]
