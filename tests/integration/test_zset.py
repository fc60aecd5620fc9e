"""Sorted-set commands with Redis 7 semantics and error texts (checked against redis-server 7.0),
score formatting, sorted sets in the generic key commands, persistence and transactions, and
(tidekv only) the change stream of sorted-set writes."""

import time
from collections import Counter

import pytest
import redis

from conftest import RespError, encode_command
from helpers import model_range, wrong_args
from stream_replay import batches_between, make_step, read_changes, replay, snapshot

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
NOT_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
COUNT_GT0 = "ERR count should be greater than 0"
XX_NX = "ERR XX and NX options at the same time are not compatible"
GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
INCR_PAIR = "ERR INCR option supports a single increment-element pair"
NAN_RESULT = "ERR resulting score is not a number (NaN)"
MINMAX_FLOAT = "ERR min or max is not a float"
MINMAX_LEX = "ERR min or max not valid string range item"
WEIGHT_FLOAT = "ERR weight value is not a float"
LIMIT_NEEDS_BY = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"


def need_key(cmd):
    return "ERR at least 1 input key is needed for '%s' command" % cmd


def pairs(flat):
    """[m1, s1, m2, s2, ...] -> [(m1, s1), (m2, s2), ...]"""
    assert isinstance(flat, list) and len(flat) % 2 == 0, flat
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


# ---------------------------------------------------------------- ZADD

def test_zadd_adds_and_updates(r, c):
    assert c.call("ZADD", "z", "1", "a", "2", "b", "3", "c") == 3
    assert c.call("ZADD", "z", "10", "a", "4", "d") == 1  # a updated, d added
    assert c.call("ZADD", "z", "10", "a") == 0
    assert c.call_raw("ZSCORE", "z", "a") == b"$2\r\n10\r\n"
    assert c.call("ZCARD", "z") == 4
    assert c.call("ZRANGE", "z", "0", "-1") == [b"b", b"c", b"d", b"a"]
    # a member given twice in one call is added once; the last score wins
    assert c.call("ZADD", "y", "1", "m", "2", "m") == 1
    assert c.call("ZSCORE", "y", "m") == b"2"
    assert r.zadd("x", {"p": 1.5, "q": -2}) == 2
    assert r.zrange("x", 0, -1, withscores=True) == [(b"q", -2.0), (b"p", 1.5)]
    assert r.type("z") == b"zset"
    assert c.call_raw("TYPE", "z") == b"+zset\r\n"
    assert c.call("ZCARD", "nokey") == 0


def test_zadd_arity_and_syntax(r, c):
    assert c.call("ZADD", "z") == wrong_args("zadd")
    assert c.call("ZADD", "z", "1") == wrong_args("zadd")
    assert c.call("ZADD") == wrong_args("zadd")
    assert c.call("ZADD", "z", "1", "a", "2") == SYNTAX
    assert c.call("ZADD", "z", "NX", "1") == SYNTAX
    assert c.call("ZADD", "z", "INCR", "1") == SYNTAX
    assert c.call("ZADD", "z", "1", "a", "XX") == SYNTAX  # options come before the pairs
    assert r.exists("z") == 0


def test_zadd_nx_xx(r, c):
    r.zadd("z", {"a": 1, "b": 2})
    assert c.call("ZADD", "z", "NX", "10", "a", "3", "c") == 1  # only c added; a untouched
    assert r.zscore("z", "a") == 1.0
    assert r.zscore("z", "c") == 3.0
    assert c.call("ZADD", "z", "XX", "20", "b", "4", "d") == 0  # b updated; d not added
    assert r.zscore("z", "b") == 20.0
    assert r.zscore("z", "d") is None
    assert c.call("ZADD", "z", "XX", "CH", "21", "b", "5", "e") == 1
    assert c.call("ZADD", "nokey", "XX", "1", "a") == 0
    assert r.exists("nokey") == 0
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"c", 3.0), (b"b", 21.0)]


def test_zadd_gt_lt(r, c):
    r.zadd("z", {"a": 5, "b": 5})
    assert c.call("ZADD", "z", "GT", "CH", "3", "a", "7", "b") == 1  # only b raised
    assert c.call("ZADD", "z", "LT", "CH", "3", "a", "9", "b") == 1  # only a lowered
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 3.0), (b"b", 7.0)]
    # GT / LT do not prevent adding new members
    assert c.call("ZADD", "z", "GT", "1", "new1") == 1
    assert c.call("ZADD", "z", "LT", "100", "new2") == 1
    # with XX: update only, and only in one direction
    assert c.call("ZADD", "z", "XX", "GT", "CH", "100", "a", "5", "nope") == 1
    assert c.call("ZADD", "z", "XX", "LT", "CH", "200", "a") == 0
    assert r.zscore("z", "a") == 100.0
    assert r.zscore("z", "nope") is None
    # an equal score is not a change
    assert c.call("ZADD", "z", "GT", "CH", "100", "a") == 0
    assert r.zadd("z", {"b": 8}, gt=True, ch=True) == 1


def test_zadd_ch(r, c):
    r.zadd("z", {"a": 1, "b": 2})
    assert c.call("ZADD", "z", "CH", "1", "a", "3", "b", "4", "c") == 2  # b changed, c added
    assert c.call("ZADD", "z", "CH", "1", "a") == 0
    assert c.call("ZADD", "z", "ch", "1.5", "a") == 1  # options are case-insensitive
    assert c.call("ZADD", "z", "3", "b", "9", "d") == 1  # without CH only additions count


def test_zadd_incr(r, c):
    assert c.call("ZADD", "z", "INCR", "2.5", "a") == b"2.5"
    assert c.call("ZADD", "z", "INCR", "-1", "a") == b"1.5"
    assert c.call("ZADD", "z", "CH", "INCR", "1", "a") == b"2.5"
    # NX / XX / GT / LT: nil when nothing happens
    assert c.call_raw("ZADD", "z", "NX", "INCR", "1", "a") == b"$-1\r\n"
    assert c.call_raw("ZADD", "z", "XX", "INCR", "1", "newm") == b"$-1\r\n"
    assert c.call_raw("ZADD", "z", "GT", "INCR", "-1", "a") == b"$-1\r\n"
    assert c.call_raw("ZADD", "z", "LT", "INCR", "1", "a") == b"$-1\r\n"
    assert c.call("ZADD", "z", "GT", "INCR", "1", "a") == b"3.5"
    assert c.call("ZADD", "z", "LT", "INCR", "-0.5", "a") == b"3"
    assert c.call("ZADD", "z", "NX", "INCR", "7", "b") == b"7"
    assert c.call("ZADD", "z", "XX", "INCR", "1", "b") == b"8"
    assert r.exists("nokey") == 0
    assert c.call_raw("ZADD", "nokey", "XX", "INCR", "1", "a") == b"$-1\r\n"
    assert r.exists("nokey") == 0
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 3.0), (b"b", 8.0)]
    assert r.zadd("z", {"a": 2}, incr=True) == 5.0


def test_zadd_option_errors(r, c):
    r.zadd("z", {"a": 1})
    assert c.call("ZADD", "z", "NX", "XX", "1", "a") == XX_NX
    assert c.call("ZADD", "z", "XX", "NX", "1", "a") == XX_NX
    assert c.call("ZADD", "z", "GT", "LT", "1", "a") == GT_LT_NX
    assert c.call("ZADD", "z", "GT", "NX", "1", "a") == GT_LT_NX
    assert c.call("ZADD", "z", "NX", "LT", "1", "a") == GT_LT_NX
    assert c.call("ZADD", "z", "INCR", "1", "a", "2", "b") == INCR_PAIR
    assert c.call("ZADD", "z", "abc", "a") == NOT_FLOAT
    assert c.call("ZADD", "z", "nan", "a") == NOT_FLOAT
    assert c.call("ZADD", "z", "NaN", "a") == NOT_FLOAT
    assert c.call("ZADD", "z", "", "a") == NOT_FLOAT
    assert c.call("ZADD", "z", "1.5x", "a") == NOT_FLOAT
    assert c.call("ZADD", "z", "1e", "a") == NOT_FLOAT
    # a bad score anywhere rejects the whole command
    assert c.call("ZADD", "z", "1", "b", "x", "c") == NOT_FLOAT
    assert c.call("ZADD", "new", "1", "b", "nan", "c") == NOT_FLOAT
    assert c.call("ZADD", "z", "INCR", "nan", "a") == NOT_FLOAT
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0)]
    assert r.exists("new") == 0


def test_zadd_accepted_score_forms(r, c):
    assert c.call("ZADD", "z", "inf", "a", "-inf", "b", "+inf", "c", "+1", "d", ".5", "e", "1.", "f",
                  "1e3", "g", "-1E-1", "h", "Infinity", "i", "-infinity", "j") == 10
    assert pairs(c.call("ZRANGE", "z", "0", "-1", "WITHSCORES")) == [
        (b"b", b"-inf"), (b"j", b"-inf"), (b"h", b"-0.10000000000000001"), (b"e", b"0.5"),
        (b"d", b"1"), (b"f", b"1"), (b"g", b"1000"), (b"a", b"inf"), (b"c", b"inf"), (b"i", b"inf")]


# ---------------------------------------------------------------- score formatting

@pytest.mark.parametrize("score,expected", [
    ("1.5", b"1.5"), ("10", b"10"), ("-0.5", b"-0.5"), ("inf", b"inf"), ("-inf", b"-inf"),
    ("1e20", b"1e+20"), ("-1e20", b"-1e+20"), ("3.0", b"3"), ("0", b"0"), ("0.25", b"0.25"),
    ("100000", b"100000"), ("1e15", b"1000000000000000"), ("1e16", b"10000000000000000"),
    ("1e17", b"1e+17"), ("123456789012345678", b"1.2345678901234568e+17"),
    ("9007199254740993", b"9007199254740992"), ("1.7976931348623157e308", b"1.7976931348623157e+308"),
    ("-12345.125", b"-12345.125"), ("0.5e1", b"5"),
])
def test_score_formatting(r, c, score, expected):
    assert c.call("ZADD", "z", score, "m") == 1
    assert c.call("ZSCORE", "z", "m") == expected
    assert c.call("ZMSCORE", "z", "m") == [expected]
    assert c.call("ZRANGE", "z", "0", "-1", "WITHSCORES") == [b"m", expected]
    assert c.call("ZRANDMEMBER", "z", "1", "WITHSCORES") == [b"m", expected]
    assert c.call("ZPOPMIN", "z") == [b"m", expected]


def test_zscan_score_formatting(r, c):
    r.zadd("z", {"a": 1.5, "b": 10, "c": -0.5, "d": float("inf"), "e": 1e20, "f": 0.25, "g": -1e20,
                 "h": float("-inf"), "i": 0})
    rep = c.call("ZSCAN", "z", "0", "COUNT", "100")
    assert rep[0] == b"0"
    assert dict(pairs(rep[1])) == {b"a": b"1.5", b"b": b"10", b"c": b"-0.5", b"d": b"inf", b"e": b"1e+20",
                                   b"f": b"0.25", b"g": b"-1e+20", b"h": b"-inf", b"i": b"0"}


def test_score_formatting_uses_17_significant_digits(r, c):
    # Redis 7.0 prints scores with "%.17g": values that are not exact binary fractions
    # show their full double value
    assert c.call("ZADD", "z", "0.1", "a", "1e-5", "b", "2.5e-5", "c", "-0.1", "d") == 4
    assert c.call("ZSCORE", "z", "a") == b"0.10000000000000001"
    assert c.call("ZSCORE", "z", "b") == b"1.0000000000000001e-05"
    assert c.call("ZSCORE", "z", "c") == b"2.5000000000000001e-05"
    assert c.call("ZSCORE", "z", "d") == b"-0.10000000000000001"
    assert c.call("ZINCRBY", "z", "0.1", "a") == b"0.20000000000000001"
    assert c.call("ZADD", "z", "INCR", "0.1", "a") == b"0.30000000000000004"
    assert c.call("ZADD", "y", "0.7", "m") == 1
    assert c.call("ZSCORE", "y", "m") == b"0.69999999999999996"
    # redis-py turns them back into the same floats
    assert r.zscore("z", "a") == 0.1 + 0.1 + 0.1
    assert r.zscore("y", "m") == 0.7


def test_negative_zero(r, c):
    # -0 and 0 are the same score (ties ordered by member), printed as "0"
    assert c.call("ZADD", "z", "-0", "b", "0", "a", "-0.0", "c", "0.0", "d") == 4
    assert c.call("ZRANGE", "z", "0", "-1", "WITHSCORES") == [b"a", b"0", b"b", b"0", b"c", b"0", b"d", b"0"]
    assert c.call("ZSCORE", "z", "b") == b"0"
    assert c.call("ZCOUNT", "z", "0", "0") == 4
    assert c.call("ZCOUNT", "z", "-0", "-0") == 4
    assert c.call("ZCOUNT", "z", "(0", "+inf") == 0
    assert c.call("ZCOUNT", "z", "-inf", "(-0") == 0
    assert c.call("ZADD", "z", "GT", "CH", "0", "b") == 0
    assert c.call("ZADD", "z", "LT", "CH", "-0", "a") == 0
    assert c.call("ZADD", "w", "1", "x") == 1
    assert c.call("ZINCRBY", "w", "-1", "x") == b"0"
    assert c.call("ZINCRBY", "w", "-0", "x") == b"0"
    assert c.call("ZSCORE", "w", "x") == b"0"


def test_equal_scores_ordered_by_member_bytes(r, c):
    members = [b"b", b"a", b"ab", b"", b"B", b"A", b"\xff", b"\x00", b"a\x00", b"aa", b"10", b"9"]
    r.zadd("z", {m: 1 for m in members})
    r.zadd("z", {"low": 0, "high": 2})
    expected = [b"low"] + sorted(members) + [b"high"]
    assert c.call("ZRANGE", "z", "0", "-1") == expected
    assert c.call("ZREVRANGE", "z", "0", "-1") == expected[::-1]
    assert c.call("ZRANGEBYSCORE", "z", "1", "1") == sorted(members)
    assert c.call("ZRANK", "z", "\x00") == 2
    assert c.call("ZRANK", "z", "high") == len(members) + 1
    assert c.call("ZREVRANK", "z", b"\xff") == 1
    # a member keeps its place by score; among equal scores by bytes
    r.zadd("z", {"a": 0})
    assert c.call("ZRANGE", "z", "0", "1") == [b"a", b"low"]


# ---------------------------------------------------------------- ZINCRBY

def test_zincrby(r, c):
    assert c.call("ZINCRBY", "z", "2.5", "m") == b"2.5"  # new key and member
    assert c.call("ZINCRBY", "z", "-5", "m") == b"-2.5"
    assert c.call("ZINCRBY", "z", "1", "n") == b"1"
    assert c.call("ZINCRBY", "z", "10", "m") == b"7.5"
    assert r.zincrby("z", 0.5, "n") == 1.5
    assert r.zrange("z", 0, -1, withscores=True) == [(b"n", 1.5), (b"m", 7.5)]
    assert c.call("ZINCRBY", "z", "inf", "m") == b"inf"
    assert c.call("ZINCRBY", "z", "1", "m") == b"inf"
    assert c.call("ZINCRBY", "z", "-inf", "m") == NAN_RESULT
    assert c.call("ZADD", "z", "INCR", "-inf", "m") == NAN_RESULT
    assert c.call("ZSCORE", "z", "m") == b"inf"
    assert c.call("ZINCRBY", "z", "abc", "m") == NOT_FLOAT
    assert c.call("ZINCRBY", "z", "nan", "m") == NOT_FLOAT
    assert c.call("ZINCRBY", "z", "1") == wrong_args("zincrby")
    assert c.call("ZCARD", "z") == 2


# ---------------------------------------------------------------- ZREM / ZCARD / emptied sets

def test_zrem(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert c.call("ZREM", "z", "a", "nope", "b") == 2
    assert c.call("ZREM", "z", "a") == 0
    assert c.call("ZREM", "z", "c", "c") == 1
    assert c.call("ZREM", "nokey", "a") == 0
    assert c.call("ZREM", "z") == wrong_args("zrem")
    assert r.zrange("z", 0, -1) == [b"d"]
    assert c.call("ZCARD", "z") == 1
    assert c.call("ZREM", "z", "d") == 1
    assert r.exists("z") == 0
    assert c.call_raw("TYPE", "z") == b"+none\r\n"
    assert c.call("ZCARD", "z", "x") == wrong_args("zcard")


def test_zset_emptied_by_any_removal_disappears(r, c):
    for cmd in (("ZPOPMIN", "z", "5"), ("ZPOPMAX", "z", "2"), ("ZREMRANGEBYRANK", "z", "0", "-1"),
                ("ZREMRANGEBYSCORE", "z", "-inf", "+inf"), ("ZREMRANGEBYLEX", "z", "-", "+"),
                ("ZMPOP", "1", "z", "MIN", "COUNT", "10"), ("ZREM", "z", "a", "b")):
        r.zadd("z", {"a": 0, "b": 0})
        c.call(*cmd)
        assert r.exists("z") == 0, cmd
        assert r.dbsize() == 0, cmd
    r.set("z", "now a string")
    assert r.get("z") == b"now a string"


def test_recreated_zset_does_not_see_old_members(r):
    r.zadd("z", {"a": 1, "b": 2})
    r.delete("z")
    assert r.zadd("z", {"c": 3}) == 1
    assert r.zrange("z", 0, -1, withscores=True) == [(b"c", 3.0)]
    assert r.zscore("z", "a") is None
    assert r.zrank("z", "b") is None
    assert r.zcard("z") == 1
    assert r.zcount("z", "-inf", "+inf") == 1


# ---------------------------------------------------------------- ZCOUNT / ZSCORE / ZMSCORE / ZRANK

def test_zcount(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZCOUNT", "z", "2", "4") == 3
    assert c.call("ZCOUNT", "z", "(2", "4") == 2
    assert c.call("ZCOUNT", "z", "2", "(4") == 2
    assert c.call("ZCOUNT", "z", "(1", "(3") == 1
    assert c.call("ZCOUNT", "z", "-inf", "+inf") == 5
    assert c.call("ZCOUNT", "z", "(-inf", "(inf") == 5
    assert c.call("ZCOUNT", "z", "-inf", "2.5") == 2
    assert c.call("ZCOUNT", "z", "3", "1") == 0
    assert c.call("ZCOUNT", "z", "(3", "3") == 0
    assert c.call("ZCOUNT", "z", "6", "+inf") == 0
    assert c.call("ZCOUNT", "nokey", "-inf", "+inf") == 0
    assert c.call("ZCOUNT", "z", "abc", "1") == MINMAX_FLOAT
    assert c.call("ZCOUNT", "z", "1", "abc") == MINMAX_FLOAT
    assert c.call("ZCOUNT", "z", "nan", "3") == MINMAX_FLOAT
    assert c.call("ZCOUNT", "z", "[1", "3") == MINMAX_FLOAT
    assert c.call("ZCOUNT", "z", "1") == wrong_args("zcount")


def test_zscore_zmscore(r, c):
    r.zadd("z", {"a": 1.5, "b": -3})
    assert c.call("ZSCORE", "z", "a") == b"1.5"
    assert c.call_raw("ZSCORE", "z", "nope") == b"$-1\r\n"
    assert c.call_raw("ZSCORE", "nokey", "a") == b"$-1\r\n"
    assert c.call_raw("ZMSCORE", "z", "b", "nope", "a") == b"*3\r\n$2\r\n-3\r\n$-1\r\n$3\r\n1.5\r\n"
    assert c.call_raw("ZMSCORE", "nokey", "a", "b") == b"*2\r\n$-1\r\n$-1\r\n"
    assert r.zmscore("z", ["a", "b", "x"]) == [1.5, -3.0, None]
    assert c.call("ZMSCORE", "z") == wrong_args("zmscore")
    assert c.call("ZSCORE", "z") == wrong_args("zscore")


def test_zrank_zrevrank(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZRANK", "z", "a") == 0
    assert c.call("ZRANK", "z", "c") == 2
    assert c.call("ZREVRANK", "z", "a") == 4
    assert c.call("ZREVRANK", "z", "e") == 0
    assert c.call_raw("ZRANK", "z", "zz") == b"$-1\r\n"
    assert c.call_raw("ZREVRANK", "z", "zz") == b"$-1\r\n"
    assert c.call_raw("ZRANK", "nokey", "a") == b"$-1\r\n"
    assert c.call("ZRANK", "z") == wrong_args("zrank")
    assert c.call("ZREVRANK", "z") == wrong_args("zrevrank")


# ---------------------------------------------------------------- ZRANGE by index

def test_zrange_by_index_every_combination(r, c):
    members = [b"m%d" % i for i in range(5)]
    r.zadd("z", {m: i for i, m in enumerate(members)})
    for start in range(-7, 8):
        for stop in range(-7, 8):
            assert c.call("ZRANGE", "z", str(start), str(stop)) == model_range(members, start, stop), \
                (start, stop)
            assert c.call("ZREVRANGE", "z", str(start), str(stop)) == \
                model_range(members[::-1], start, stop), (start, stop)
    assert c.call_raw("ZRANGE", "nokey", "0", "-1") == b"*0\r\n"


def test_zrange_by_index_options(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZRANGE", "z", "0", "1", "WITHSCORES") == [b"a", b"1", b"b", b"2"]
    assert c.call("ZRANGE", "z", "0", "1", "withscores") == [b"a", b"1", b"b", b"2"]
    assert c.call("ZRANGE", "z", "0", "1", "WITHSCORES", "WITHSCORES") == [b"a", b"1", b"b", b"2"]
    assert c.call("ZRANGE", "z", "0", "-1", "REV", "WITHSCORES") == [
        b"e", b"5", b"d", b"4", b"c", b"3", b"b", b"2", b"a", b"1"]
    assert c.call("ZRANGE", "z", "0", "1", "REV") == [b"e", b"d"]
    assert c.call("ZRANGE", "z", "-2", "-1") == [b"d", b"e"]
    assert c.call("ZREVRANGE", "z", "0", "1", "WITHSCORES") == [b"e", b"5", b"d", b"4"]
    assert c.call("ZRANGE", "z", "a", "b") == NOT_INT
    assert c.call("ZRANGE", "z", "0", "-1", "FOO") == SYNTAX
    assert c.call("ZRANGE", "z", "0", "1", "LIMIT", "0", "1") == LIMIT_NEEDS_BY
    assert c.call("ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1") == LIMIT_NEEDS_BY
    assert c.call("ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX") == SYNTAX
    assert c.call("ZRANGE", "z", "0") == wrong_args("zrange")
    assert r.zrange("z", 0, 1, desc=True, withscores=True) == [(b"e", 5.0), (b"d", 4.0)]


# ---------------------------------------------------------------- ZRANGE BYSCORE / ZRANGEBYSCORE / ZREVRANGEBYSCORE

def test_zrange_byscore(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZRANGE", "z", "2", "4", "BYSCORE") == [b"b", b"c", b"d"]
    assert c.call("ZRANGE", "z", "(2", "4", "BYSCORE") == [b"c", b"d"]
    assert c.call("ZRANGE", "z", "(2", "(4", "BYSCORE") == [b"c"]
    assert c.call("ZRANGE", "z", "-inf", "+inf", "BYSCORE") == [b"a", b"b", b"c", b"d", b"e"]
    assert c.call("ZRANGE", "z", "-inf", "1.5", "BYSCORE", "WITHSCORES") == [b"a", b"1"]
    assert c.call("ZRANGE", "z", "4", "2", "BYSCORE") == []
    assert c.call("ZRANGE", "z", "(1", "5", "BYSCORE", "LIMIT", "1", "2", "WITHSCORES") == [
        b"c", b"3", b"d", b"4"]
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "0", "-1") == [b"a", b"b", b"c", b"d", b"e"]
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "0", "-5") == [b"a", b"b", b"c", b"d", b"e"]
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "-1", "2") == []
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "10", "2") == []
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "0", "0") == []
    # REV takes max first
    assert c.call("ZRANGE", "z", "5", "(1", "BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES") == [
        b"d", b"4", b"c", b"3"]
    assert c.call("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV") == [b"e", b"d", b"c", b"b", b"a"]
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "REV") == []
    assert c.call("ZRANGE", "z", "a", "5", "BYSCORE") == MINMAX_FLOAT
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "0") == SYNTAX
    assert c.call("ZRANGE", "z", "1", "5", "BYSCORE", "LIMIT", "a", "1") == NOT_INT
    assert c.call_raw("ZRANGE", "nokey", "-inf", "+inf", "BYSCORE") == b"*0\r\n"
    assert r.zrange("z", 2, 3, byscore=True, withscores=True) == [(b"b", 2.0), (b"c", 3.0)]


def test_zrangebyscore_and_zrevrangebyscore(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "2") == [
        b"b", b"2", b"c", b"3"]
    assert c.call("ZRANGEBYSCORE", "z", "(1", "3") == [b"b", b"c"]
    assert c.call("ZRANGEBYSCORE", "z", "3", "1") == []
    assert c.call("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "0", "2", "WITHSCORES") == [
        b"e", b"5", b"d", b"4"]
    assert c.call("ZREVRANGEBYSCORE", "z", "(5", "(1") == [b"d", b"c", b"b"]
    assert c.call("ZREVRANGEBYSCORE", "z", "1", "5") == []
    assert c.call("ZRANGEBYSCORE", "z", "1", "5", "LIMIT", "1") == SYNTAX
    assert c.call("ZRANGEBYSCORE", "z", "1", "5", "BYLEX") == SYNTAX
    assert c.call("ZRANGEBYSCORE", "z", "1", "5", "REV") == SYNTAX
    assert c.call("ZRANGEBYSCORE", "z", "x", "5") == MINMAX_FLOAT
    assert c.call("ZREVRANGEBYSCORE", "z", "5", "x") == MINMAX_FLOAT
    assert c.call("ZRANGEBYSCORE", "z", "1") == wrong_args("zrangebyscore")
    assert r.zrangebyscore("z", 2, 3) == [b"b", b"c"]
    assert r.zrevrangebyscore("z", 3, 2, withscores=True) == [(b"c", 3.0), (b"b", 2.0)]


# ---------------------------------------------------------------- BYLEX

def test_zrange_bylex(r, c):
    r.zadd("z", {m: 0 for m in ("a", "b", "c", "d", "e")})
    assert c.call("ZRANGE", "z", "-", "+", "BYLEX") == [b"a", b"b", b"c", b"d", b"e"]
    assert c.call("ZRANGE", "z", "[b", "[d", "BYLEX") == [b"b", b"c", b"d"]
    assert c.call("ZRANGE", "z", "(b", "[d", "BYLEX") == [b"c", b"d"]
    assert c.call("ZRANGE", "z", "(b", "(d", "BYLEX") == [b"c"]
    assert c.call("ZRANGE", "z", "-", "(c", "BYLEX") == [b"a", b"b"]
    assert c.call("ZRANGE", "z", "[c", "+", "BYLEX") == [b"c", b"d", b"e"]
    assert c.call("ZRANGE", "z", "[bb", "[dd", "BYLEX") == [b"c", b"d"]
    assert c.call("ZRANGE", "z", "+", "-", "BYLEX") == []
    assert c.call("ZRANGE", "z", "[d", "[b", "BYLEX") == []
    assert c.call("ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "1", "2") == [b"b", b"c"]
    assert c.call("ZRANGE", "z", "+", "-", "BYLEX", "REV") == [b"e", b"d", b"c", b"b", b"a"]
    assert c.call("ZRANGE", "z", "+", "-", "BYLEX", "REV", "LIMIT", "1", "2") == [b"d", b"c"]
    assert c.call("ZRANGE", "z", "[d", "(a", "BYLEX", "REV") == [b"d", b"c", b"b"]
    assert c.call("ZRANGE", "z", "0", "-1", "BYLEX") == MINMAX_LEX
    assert c.call("ZRANGE", "z", "a", "c", "BYLEX") == MINMAX_LEX
    assert c.call("ZRANGE", "z", "[a", "c", "BYLEX") == MINMAX_LEX
    assert c.call("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES") == WITHSCORES_BYLEX
    assert c.call_raw("ZRANGE", "nokey", "-", "+", "BYLEX") == b"*0\r\n"
    assert r.zrange("z", "[a", "(c", bylex=True) == [b"a", b"b"]


def test_bylex_empty_string_and_byte_order(r, c):
    r.zadd("z", {m: 0 for m in ("a", "B", "b", "ab", "", "A")})
    assert c.call("ZRANGE", "z", "0", "-1") == [b"", b"A", b"B", b"a", b"ab", b"b"]
    assert c.call("ZRANGEBYLEX", "z", "-", "(b") == [b"", b"A", b"B", b"a", b"ab"]
    assert c.call("ZRANGEBYLEX", "z", "[", "[a") == [b"", b"A", b"B", b"a"]  # "[" is the empty string
    assert c.call("ZRANGEBYLEX", "z", "(", "(a") == [b"A", b"B"]
    assert c.call("ZRANGEBYLEX", "z", "[a", "(b") == [b"a", b"ab"]
    assert c.call("ZLEXCOUNT", "z", "[", "+") == 6
    assert c.call("ZLEXCOUNT", "z", "(", "+") == 5


def test_zrangebylex_zrevrangebylex_zlexcount(r, c):
    r.zadd("z", {m: 0 for m in ("a", "b", "c", "d", "e")})
    assert c.call("ZRANGEBYLEX", "z", "[a", "(c") == [b"a", b"b"]
    assert c.call("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "2", "10") == [b"c", b"d", b"e"]
    assert c.call("ZRANGEBYLEX", "z", "+", "-") == []
    assert c.call("ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "1", "2") == [b"d", b"c"]
    assert c.call("ZREVRANGEBYLEX", "z", "[c", "-") == [b"c", b"b", b"a"]
    assert c.call("ZREVRANGEBYLEX", "z", "-", "+") == []
    assert c.call("ZRANGEBYLEX", "z", "a", "c") == MINMAX_LEX
    assert c.call("ZREVRANGEBYLEX", "z", "+", "a") == MINMAX_LEX
    assert c.call("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES") == WITHSCORES_BYLEX
    assert c.call("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0") == SYNTAX
    assert c.call("ZLEXCOUNT", "z", "-", "+") == 5
    assert c.call("ZLEXCOUNT", "z", "[b", "(d") == 2
    assert c.call("ZLEXCOUNT", "z", "(e", "+") == 0
    assert c.call("ZLEXCOUNT", "nokey", "-", "+") == 0
    assert c.call("ZLEXCOUNT", "z", "b", "d") == MINMAX_LEX
    assert c.call("ZLEXCOUNT", "z", "-") == wrong_args("zlexcount")
    assert r.zrangebylex("z", "(a", "[c") == [b"b", b"c"]
    assert r.zrevrangebylex("z", "[c", "(a") == [b"c", b"b"]
    assert r.zlexcount("z", "-", "+") == 5


# ---------------------------------------------------------------- ZRANGESTORE

def test_zrangestore(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZRANGESTORE", "dst", "z", "1", "2") == 2
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert c.call("ZRANGESTORE", "dst", "z", "(1", "4", "BYSCORE", "LIMIT", "1", "5") == 2
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"c", b"3", b"d", b"4"]
    assert c.call("ZRANGESTORE", "dst", "z", "0", "1", "REV") == 2
    assert c.call("ZRANGE", "dst", "0", "-1") == [b"d", b"e"]
    assert c.call("ZRANGESTORE", "dst", "z", "+inf", "(3", "BYSCORE", "REV") == 2
    assert c.call("ZRANGE", "dst", "0", "-1") == [b"d", b"e"]
    r.zadd("lex", {m: 0 for m in "abcde"})
    assert c.call("ZRANGESTORE", "dst", "lex", "[a", "[c", "BYLEX") == 3
    assert c.call("ZRANGE", "dst", "0", "-1") == [b"a", b"b", b"c"]
    # the destination is replaced (TTL too); an empty result deletes it
    r.expire("dst", 1000)
    assert c.call("ZRANGESTORE", "dst", "z", "0", "0") == 1
    assert r.ttl("dst") == -1
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"a", b"1"]
    assert c.call("ZRANGESTORE", "dst", "z", "10", "20") == 0
    assert r.exists("dst") == 0
    r.set("dst", "string")
    assert c.call("ZRANGESTORE", "dst", "nokey", "0", "-1") == 0
    assert r.exists("dst") == 0
    # the source may be the destination
    assert c.call("ZRANGESTORE", "z", "z", "0", "1") == 2
    assert r.zrange("z", 0, -1) == [b"a", b"b"]
    assert c.call("ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES") == SYNTAX
    assert c.call("ZRANGESTORE", "dst", "z", "0") == wrong_args("zrangestore")
    r.set("str", "v")
    assert c.call("ZRANGESTORE", "dst", "str", "0", "-1") == WRONGTYPE


# ---------------------------------------------------------------- ZPOPMIN / ZPOPMAX / ZMPOP

def test_zpopmin_zpopmax(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZPOPMIN", "z") == [b"a", b"1"]
    assert c.call("ZPOPMAX", "z") == [b"e", b"5"]
    assert c.call("ZPOPMIN", "z", "2") == [b"b", b"2", b"c", b"3"]
    assert c.call_raw("ZPOPMIN", "z", "0") == b"*0\r\n"
    assert c.call("ZPOPMAX", "z", "10") == [b"d", b"4"]
    assert r.exists("z") == 0
    assert c.call_raw("ZPOPMIN", "nokey") == b"*0\r\n"
    assert c.call_raw("ZPOPMAX", "nokey", "3") == b"*0\r\n"
    r.zadd("z", {"x": 1, "y": 1, "w": 1})
    assert c.call("ZPOPMAX", "z", "2") == [b"y", b"1", b"x", b"1"]  # ties by member, reversed
    assert c.call("ZPOPMIN", "z", "-1") == NOT_POSITIVE
    assert c.call("ZPOPMAX", "z", "-5") == NOT_POSITIVE
    assert c.call("ZPOPMIN", "z", "abc") == NOT_POSITIVE
    assert c.call("ZPOPMIN", "z", "1", "2") == SYNTAX
    assert c.call("ZPOPMIN") == wrong_args("zpopmin")
    assert r.zrange("z", 0, -1) == [b"w"]
    assert r.zpopmin("z") == [(b"w", 1.0)]


def test_zmpop(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZMPOP", "1", "z", "MIN") == [b"z", [[b"a", b"1"]]]
    assert c.call("ZMPOP", "1", "z", "MAX", "COUNT", "2") == [b"z", [[b"e", b"5"], [b"d", b"4"]]]
    assert c.call("ZMPOP", "2", "nokey", "z", "min", "count", "10") == [b"z", [[b"b", b"2"], [b"c", b"3"]]]
    assert r.exists("z") == 0
    assert c.call_raw("ZMPOP", "1", "z", "MIN") == b"*-1\r\n"
    r.zadd("z1", {"x": 1})
    r.zadd("z2", {"y": 2})
    assert c.call("ZMPOP", "2", "z1", "z2", "MAX") == [b"z1", [[b"x", b"1"]]]
    assert c.call("ZMPOP", "2", "z1", "z2", "MAX") == [b"z2", [[b"y", b"2"]]]


def test_zmpop_errors(r, c):
    r.zadd("z", {"a": 1})
    assert c.call("ZMPOP", "0", "z", "MIN") == NUMKEYS
    assert c.call("ZMPOP", "-1", "z", "MIN") == NUMKEYS
    assert c.call("ZMPOP", "1", "z", "LEFT") == SYNTAX
    assert c.call("ZMPOP", "2", "z", "MIN") == SYNTAX
    assert c.call("ZMPOP", "1", "z", "MIN", "COUNT", "0") == COUNT_GT0
    assert c.call("ZMPOP", "1", "z", "MIN", "COUNT", "-1") == COUNT_GT0
    assert c.call("ZMPOP", "1", "z", "MIN", "FOO") == SYNTAX
    assert c.call("ZMPOP", "1", "z") == wrong_args("zmpop")
    r.rpush("l", "a")
    assert c.call("ZMPOP", "2", "l", "z", "MIN") == WRONGTYPE
    assert c.call("ZMPOP", "2", "nokey", "l", "MIN") == WRONGTYPE
    assert r.zrange("z", 0, -1) == [b"a"]


# ---------------------------------------------------------------- ZREMRANGEBY*

def test_zremrangebyrank(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZREMRANGEBYRANK", "z", "0", "1") == 2
    assert c.call("ZREMRANGEBYRANK", "z", "-1", "-1") == 1
    assert c.call("ZREMRANGEBYRANK", "z", "5", "10") == 0
    assert c.call("ZREMRANGEBYRANK", "z", "1", "0") == 0
    assert c.call("ZREMRANGEBYRANK", "nokey", "0", "-1") == 0
    assert c.call("ZREMRANGEBYRANK", "z", "a", "1") == NOT_INT
    assert r.zrange("z", 0, -1) == [b"c", b"d"]
    assert c.call("ZREMRANGEBYRANK", "z", "-100", "100") == 2
    assert r.exists("z") == 0


def test_zremrangebyscore(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert c.call("ZREMRANGEBYSCORE", "z", "(3", "+inf") == 2
    assert c.call("ZREMRANGEBYSCORE", "z", "2", "2") == 1
    assert c.call("ZREMRANGEBYSCORE", "z", "10", "20") == 0
    assert c.call("ZREMRANGEBYSCORE", "z", "a", "b") == MINMAX_FLOAT
    assert r.zrange("z", 0, -1) == [b"a", b"c"]
    assert c.call("ZREMRANGEBYSCORE", "z", "-inf", "(3") == 1
    assert c.call("ZREMRANGEBYSCORE", "z", "3", "3") == 1
    assert r.exists("z") == 0


def test_zremrangebylex(r, c):
    r.zadd("z", {m: 0 for m in "abcde"})
    assert c.call("ZREMRANGEBYLEX", "z", "[b", "(d") == 2
    assert c.call("ZREMRANGEBYLEX", "z", "(e", "+") == 0
    assert c.call("ZREMRANGEBYLEX", "z", "x", "y") == MINMAX_LEX
    assert r.zrange("z", 0, -1) == [b"a", b"d", b"e"]
    assert c.call("ZREMRANGEBYLEX", "z", "-", "[a") == 1
    assert c.call("ZREMRANGEBYLEX", "z", "-", "+") == 2
    assert r.exists("z") == 0
    assert c.call("ZREMRANGEBYLEX", "z", "-") == wrong_args("zremrangebylex")


# ---------------------------------------------------------------- ZUNION / ZINTER / ZDIFF (+STORE, ZINTERCARD)

@pytest.fixture
def zsets(r):
    r.zadd("z1", {"a": 1, "b": 2, "c": 3})
    r.zadd("z2", {"b": 10, "c": 20, "d": 30})
    r.sadd("s", "c", "d", "e")  # a plain set counts with score 1 per member


def test_zunion(zsets, c):
    assert pairs(c.call("ZUNION", "2", "z1", "z2", "WITHSCORES")) == [
        (b"a", b"1"), (b"b", b"12"), (b"c", b"23"), (b"d", b"30")]
    assert c.call("ZUNION", "2", "z1", "z2") == [b"a", b"b", b"c", b"d"]
    assert pairs(c.call("ZUNION", "3", "z1", "z2", "s", "WITHSCORES")) == [
        (b"a", b"1"), (b"e", b"1"), (b"b", b"12"), (b"c", b"24"), (b"d", b"31")]
    assert pairs(c.call("ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "0.5", "WITHSCORES")) == [
        (b"a", b"2"), (b"b", b"9"), (b"d", b"15"), (b"c", b"16")]
    assert pairs(c.call("ZUNION", "2", "z1", "z2", "AGGREGATE", "MIN", "WITHSCORES")) == [
        (b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"30")]
    assert pairs(c.call("ZUNION", "2", "z1", "z2", "AGGREGATE", "MAX", "WITHSCORES")) == [
        (b"a", b"1"), (b"b", b"10"), (b"c", b"20"), (b"d", b"30")]
    assert pairs(c.call("ZUNION", "2", "z1", "s", "WEIGHTS", "1", "5", "AGGREGATE", "SUM", "WITHSCORES")) == [
        (b"a", b"1"), (b"b", b"2"), (b"d", b"5"), (b"e", b"5"), (b"c", b"8")]
    assert c.call("ZUNION", "2", "z1", "nokey") == [b"a", b"b", b"c"]
    assert c.call_raw("ZUNION", "1", "nokey") == b"*0\r\n"
    assert pairs(c.call("ZUNION", "1", "s", "WITHSCORES")) == [(b"c", b"1"), (b"d", b"1"), (b"e", b"1")]


def test_zinter(zsets, c):
    assert pairs(c.call("ZINTER", "2", "z1", "z2", "WITHSCORES")) == [(b"b", b"12"), (b"c", b"23")]
    assert c.call("ZINTER", "2", "z1", "z2") == [b"b", b"c"]
    assert pairs(c.call("ZINTER", "3", "z1", "z2", "s", "WITHSCORES")) == [(b"c", b"24")]
    assert pairs(c.call("ZINTER", "2", "z1", "z2", "WEIGHTS", "1", "-1", "WITHSCORES")) == [
        (b"c", b"-17"), (b"b", b"-8")]
    assert pairs(c.call("ZINTER", "2", "z1", "z2", "AGGREGATE", "MIN", "WITHSCORES")) == [
        (b"b", b"2"), (b"c", b"3")]
    assert pairs(c.call("ZINTER", "2", "z2", "z1", "AGGREGATE", "MAX", "WITHSCORES")) == [
        (b"b", b"10"), (b"c", b"20")]
    assert c.call_raw("ZINTER", "2", "z1", "nokey") == b"*0\r\n"
    assert c.call("ZINTER", "1", "z1") == [b"a", b"b", b"c"]


def test_zintercard(zsets, c):
    assert c.call("ZINTERCARD", "2", "z1", "z2") == 2
    assert c.call("ZINTERCARD", "3", "z1", "z2", "s") == 1
    assert c.call("ZINTERCARD", "2", "z1", "z2", "LIMIT", "1") == 1
    assert c.call("ZINTERCARD", "2", "z1", "z2", "LIMIT", "0") == 2  # 0 = no limit
    assert c.call("ZINTERCARD", "2", "z1", "z2", "LIMIT", "100") == 2
    assert c.call("ZINTERCARD", "2", "z1", "nokey") == 0
    assert c.call("ZINTERCARD", "1", "z1") == 3
    assert c.call("ZINTERCARD", "2", "z1", "z2", "LIMIT", "-1") == "ERR LIMIT can't be negative"
    assert c.call("ZINTERCARD", "0", "z1") == need_key("zintercard")
    assert c.call("ZINTERCARD", "2", "z1", "z2", "WEIGHTS", "1", "1") == SYNTAX
    assert c.call("ZINTERCARD", "3", "z1", "z2") == SYNTAX
    assert c.call("ZINTERCARD", "1") == wrong_args("zintercard")


def test_zdiff(zsets, c):
    assert pairs(c.call("ZDIFF", "2", "z1", "z2", "WITHSCORES")) == [(b"a", b"1")]
    assert pairs(c.call("ZDIFF", "2", "z2", "s", "WITHSCORES")) == [(b"b", b"10")]
    assert c.call("ZDIFF", "1", "z1") == [b"a", b"b", b"c"]
    assert c.call("ZDIFF", "2", "z1", "nokey") == [b"a", b"b", b"c"]
    assert c.call_raw("ZDIFF", "2", "nokey", "z1") == b"*0\r\n"
    assert c.call_raw("ZDIFF", "2", "z1", "z1") == b"*0\r\n"
    assert c.call("ZDIFF", "3", "z2", "z1", "s") == []
    assert c.call("ZDIFF", "2", "z1", "z2", "WEIGHTS", "1", "1") == SYNTAX
    assert c.call("ZDIFF", "2", "z1", "z2", "AGGREGATE", "MIN") == SYNTAX


def test_zunion_family_errors(zsets, r, c):
    for cmd in ("ZUNION", "ZINTER", "ZDIFF"):
        assert c.call(cmd, "0", "z1") == need_key(cmd.lower()), cmd
        assert c.call(cmd, "-1", "z1") == need_key(cmd.lower()), cmd
        assert c.call(cmd, "abc", "z1") == NOT_INT, cmd
        assert c.call(cmd, "3", "z1", "z2") == SYNTAX, cmd
        assert c.call(cmd, "1") == wrong_args(cmd.lower()), cmd
    for cmd in ("ZUNION", "ZINTER"):
        assert c.call(cmd, "2", "z1", "z2", "AGGREGATE", "FOO") == SYNTAX
        assert c.call(cmd, "2", "z1", "z2", "WEIGHTS", "1") == SYNTAX
        assert c.call(cmd, "2", "z1", "z2", "WEIGHTS", "1", "x") == WEIGHT_FLOAT
        assert c.call(cmd, "2", "z1", "z2", "FOO") == SYNTAX
    for cmd in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"):
        assert c.call(cmd, "dst", "0", "z1") == need_key(cmd.lower()), cmd
        assert c.call(cmd, "dst", "2", "z1", "z2", "WITHSCORES") == SYNTAX, cmd
        assert c.call(cmd, "dst", "1") == wrong_args(cmd.lower()), cmd
    r.set("str", "v")
    for cmd in (("ZUNION", "2", "z1", "str"), ("ZINTER", "2", "nokey", "str"), ("ZDIFF", "2", "z1", "str"),
                ("ZINTERCARD", "2", "z1", "str"), ("ZUNIONSTORE", "dst", "2", "str", "z1"),
                ("ZINTERSTORE", "dst", "1", "str"), ("ZDIFFSTORE", "dst", "2", "z1", "str")):
        assert c.call(*cmd) == WRONGTYPE, cmd
    assert r.exists("dst") == 0


def test_infinite_scores_in_aggregation(r, c):
    r.zadd("p", {"x": float("inf")})
    r.zadd("n", {"x": float("-inf")})
    # inf + -inf would be NaN: Redis makes it 0
    assert c.call("ZUNION", "2", "p", "n", "WITHSCORES") == [b"x", b"0"]
    assert c.call("ZUNION", "2", "p", "n", "WEIGHTS", "0", "1", "WITHSCORES") == [b"x", b"-inf"]
    assert c.call("ZINTER", "2", "p", "p", "WEIGHTS", "0", "0", "WITHSCORES") == [b"x", b"0"]
    assert c.call("ZINTER", "2", "p", "n", "AGGREGATE", "MAX", "WITHSCORES") == [b"x", b"inf"]


def test_store_variants(zsets, r, c):
    assert c.call("ZUNIONSTORE", "dst", "2", "z1", "z2") == 4
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [
        b"a", b"1", b"b", b"12", b"c", b"23", b"d", b"30"]
    assert c.call("ZINTERSTORE", "dst", "2", "z1", "z2", "WEIGHTS", "1", "-1", "AGGREGATE", "SUM") == 2
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"c", b"-17", b"b", b"-8"]
    assert c.call("ZINTERSTORE", "dst", "3", "z1", "z2", "s", "AGGREGATE", "MAX") == 1
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"c", b"20"]
    assert c.call("ZDIFFSTORE", "dst", "2", "z1", "z2") == 1
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"a", b"1"]
    assert c.call("ZUNIONSTORE", "dst", "1", "s") == 3
    assert c.call("ZRANGE", "dst", "0", "-1", "WITHSCORES") == [b"c", b"1", b"d", b"1", b"e", b"1"]
    assert r.type("dst") == b"zset"
    assert r.zunionstore("dst2", {"z1": 2, "z2": 1}, aggregate="MIN") == 4
    assert r.zrange("dst2", 0, -1, withscores=True) == [
        (b"a", 2.0), (b"b", 4.0), (b"c", 6.0), (b"d", 30.0)]


def test_store_replaces_destination_and_ttl(zsets, r, c):
    r.rpush("dst", "a list")
    r.expire("dst", 1000)
    assert c.call("ZUNIONSTORE", "dst", "1", "z1") == 3
    assert r.type("dst") == b"zset"
    assert r.ttl("dst") == -1
    r.zadd("dst", {"stale": 100})
    r.expire("dst", 1000)
    assert c.call("ZINTERSTORE", "dst", "2", "z1", "z2") == 2
    assert r.zrange("dst", 0, -1) == [b"b", b"c"]
    assert r.ttl("dst") == -1
    # an empty result deletes the destination
    for cmd in (("ZINTERSTORE", "dst", "2", "z1", "nokey"), ("ZDIFFSTORE", "dst", "2", "z1", "z1"),
                ("ZUNIONSTORE", "dst", "1", "nokey"), ("ZDIFFSTORE", "dst", "2", "nokey", "z1")):
        r.zadd("dst", {"old": 1})
        assert c.call(*cmd) == 0, cmd
        assert r.exists("dst") == 0, cmd


def test_store_destination_is_a_source(zsets, r, c):
    assert c.call("ZUNIONSTORE", "z1", "2", "z1", "z2") == 4
    assert c.call("ZRANGE", "z1", "0", "-1", "WITHSCORES") == [
        b"a", b"1", b"b", b"12", b"c", b"23", b"d", b"30"]
    assert c.call("ZINTERSTORE", "z2", "2", "z2", "s") == 2
    assert c.call("ZRANGE", "z2", "0", "-1", "WITHSCORES") == [b"c", b"21", b"d", b"31"]
    assert c.call("ZDIFFSTORE", "z1", "2", "z1", "z2") == 2
    assert r.zrange("z1", 0, -1) == [b"a", b"b"]
    # a set source replaced by its own zset result
    assert c.call("ZUNIONSTORE", "s", "1", "s", "WEIGHTS", "3") == 3
    assert r.type("s") == b"zset"
    assert c.call("ZRANGE", "s", "0", "-1", "WITHSCORES") == [b"c", b"3", b"d", b"3", b"e", b"3"]


# ---------------------------------------------------------------- ZRANDMEMBER

def test_zrandmember_missing_key(c):
    assert c.call_raw("ZRANDMEMBER", "nokey") == b"$-1\r\n"
    assert c.call_raw("ZRANDMEMBER", "nokey", "3") == b"*0\r\n"
    assert c.call_raw("ZRANDMEMBER", "nokey", "-3", "WITHSCORES") == b"*0\r\n"


def test_zrandmember(r, c):
    data = {b"m%d" % i: i for i in range(10)}
    r.zadd("z", data)
    for _ in range(10):
        assert c.call("ZRANDMEMBER", "z") in data
    for count in (1, 4, 9, 10):
        got = c.call("ZRANDMEMBER", "z", str(count))
        assert len(got) == len(set(got)) == count
        assert set(got) <= set(data)
    for count in (11, 1000):
        assert sorted(c.call("ZRANDMEMBER", "z", str(count))) == sorted(data)
    assert c.call_raw("ZRANDMEMBER", "z", "0") == b"*0\r\n"
    got = c.call("ZRANDMEMBER", "z", "-50")
    assert len(got) == 50 and set(got) <= set(data)
    assert len(set(got)) < 50  # repeats allowed for a negative count
    got = pairs(c.call("ZRANDMEMBER", "z", "5", "WITHSCORES"))
    assert len(got) == 5 and len({m for m, _ in got}) == 5
    for m, s in got:
        assert s == b"%d" % data[m]
    got = pairs(c.call("ZRANDMEMBER", "z", "-30", "withscores"))
    assert len(got) == 30
    for m, s in got:
        assert s == b"%d" % data[m]
    assert len(pairs(c.call("ZRANDMEMBER", "z", "100", "WITHSCORES"))) == 10
    r.zadd("one", {"only": 2.5})
    assert c.call("ZRANDMEMBER", "one", "-3", "WITHSCORES") == [b"only", b"2.5"] * 3
    assert c.call("ZRANDMEMBER", "z", "abc") == NOT_INT
    assert c.call("ZRANDMEMBER", "z", "WITHSCORES") == NOT_INT
    assert c.call("ZRANDMEMBER", "z", "1", "FOO") == SYNTAX
    assert c.call("ZRANDMEMBER", "z", "1", "WITHSCORES", "FOO") == SYNTAX
    # ZRANDMEMBER does not change the set
    assert r.zcard("z") == 10
    big = {b"b%d" % i: i for i in range(300)}
    r.zadd("big", big)
    got = c.call("ZRANDMEMBER", "big", "120")
    assert len(got) == len(set(got)) == 120


# ---------------------------------------------------------------- ZSCAN

def test_zscan_each_member_once(r):
    data = {b"m:%d" % i: float(i) / 4 for i in range(1000)}
    r.zadd("z", data)
    seen = Counter()
    for m, s in r.zscan_iter("z", count=25):
        seen[m] += 1
        assert s == data[m]
    assert set(seen) == set(data)
    assert all(v == 1 for v in seen.values())
    got = dict(r.zscan_iter("z", match="m:99*"))
    assert set(got) == {b"m:99"} | {b"m:99%d" % i for i in range(10)}


def test_zscan_accepts_any_unsigned_64_bit_cursor(r, c):
    r.zadd("z", {b"m:%d" % i: i for i in range(300)})
    for cursor in ("18446744073709551615", "-1", ""):
        rep = c.call("ZSCAN", "z", cursor, "COUNT", "5")
        assert rep[0].isdigit() and len(rep[1]) % 2 == 0, (cursor, rep)
        assert set(rep[1][::2]) <= {b"m:%d" % i for i in range(300)}
    assert c.call("ZSCAN", "z", "18446744073709551616") == "ERR invalid cursor"


def test_zscan_small_sets_and_errors(r, c):
    assert c.call("ZSCAN", "nokey", "0") == [b"0", []]
    r.zadd("z", {"a": 1, "b": 2.5})
    rep = c.call("ZSCAN", "z", "0")
    assert rep[0] == b"0"
    assert sorted(pairs(rep[1])) == [(b"a", b"1"), (b"b", b"2.5")]
    assert c.call("ZSCAN", "z", "0", "MATCH", "a") == [b"0", [b"a", b"1"]]
    assert c.call("ZSCAN", "z", "abc") == "ERR invalid cursor"
    assert c.call("ZSCAN", "z", "0", "COUNT", "0") == SYNTAX
    assert c.call("ZSCAN", "z", "0", "COUNT", "x") == NOT_INT
    assert c.call("ZSCAN", "z", "0", "FOO", "bar") == SYNTAX
    assert c.call("ZSCAN", "z") == wrong_args("zscan")


# ---------------------------------------------------------------- binary safety / size

def test_binary_members(r, c):
    key = b"zset\x00\xff\r\n"
    members = [b"\x00", b"\xff\xfe", b"", b"line\r\nbreak", bytes(range(256)), b"a\x00b"]
    r.zadd(key, {m: i for i, m in enumerate(members)})
    assert r.zrange(key, 0, -1) == members
    for i, m in enumerate(members):
        assert r.zscore(key, m) == float(i)
        assert r.zrank(key, m) == i
    assert r.zrem(key, b"a") == 0
    assert r.zrem(key, b"a\x00b") == 1
    assert r.zcard(key) == 5
    # keys that are prefixes of each other keep their own members
    r.zadd(b"k", {b"1": 1})
    r.zadd(b"k\x00", {b"2": 2})
    r.zadd(b"kk", {b"3": 3})
    assert r.zrange(b"k", 0, -1) == [b"1"]
    assert r.zrange(b"k\x00", 0, -1) == [b"2"]
    assert r.zrange(b"kk", 0, -1) == [b"3"]


def test_large_zset_10000_members(r, c):
    n = 10000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 500):
        pipe.zadd("big", {b"m%05d" % j: j * 2 for j in range(i, i + 500)})
    assert pipe.execute() == [500] * (n // 500)
    assert r.zcard("big") == n
    assert r.zrank("big", "m05000") == 5000
    assert r.zrevrank("big", "m05000") == n - 5001
    assert r.zrange("big", 5000, 5099) == [b"m%05d" % j for j in range(5000, 5100)]
    assert r.zrange("big", -3, -1) == [b"m09997", b"m09998", b"m09999"]
    assert r.zcount("big", 1000, "(2000") == 500
    assert r.zrangebyscore("big", "(100", "+inf", start=10, num=3) == [b"m00061", b"m00062", b"m00063"]
    assert r.zrevrangebyscore("big", "+inf", "-inf", start=0, num=2) == [b"m09999", b"m09998"]
    assert r.zincrby("big", -1, "m09999") == 19997.0
    assert r.zrank("big", "m09999") == n - 1
    assert r.zincrby("big", -19998, "m09999") == -1.0
    assert r.zrank("big", "m09999") == 0
    assert r.zremrangebyrank("big", 0, 99) == 100
    assert r.zremrangebyscore("big", "-inf", 499) == 151
    assert r.zcard("big") == n - 251
    assert r.zrange("big", 0, 0, withscores=True) == [(b"m00250", 500.0)]
    assert len(r.zpopmax("big", 1000)) == 1000
    assert r.zcard("big") == n - 1251
    assert r.delete("big") == 1


# ---------------------------------------------------------------- wrong type

ZSET_COMMANDS = [
    ("ZADD", "k", "1", "a"),
    ("ZADD", "k", "INCR", "1", "a"),
    ("ZINCRBY", "k", "1", "a"),
    ("ZREM", "k", "a"),
    ("ZCARD", "k"),
    ("ZCOUNT", "k", "-inf", "+inf"),
    ("ZSCORE", "k", "a"),
    ("ZMSCORE", "k", "a"),
    ("ZRANK", "k", "a"),
    ("ZREVRANK", "k", "a"),
    ("ZRANGE", "k", "0", "-1"),
    ("ZRANGE", "k", "-inf", "+inf", "BYSCORE"),
    ("ZRANGE", "k", "-", "+", "BYLEX"),
    ("ZRANGEBYSCORE", "k", "-inf", "+inf"),
    ("ZREVRANGEBYSCORE", "k", "+inf", "-inf"),
    ("ZRANGEBYLEX", "k", "-", "+"),
    ("ZREVRANGEBYLEX", "k", "+", "-"),
    ("ZREVRANGE", "k", "0", "-1"),
    ("ZLEXCOUNT", "k", "-", "+"),
    ("ZRANGESTORE", "dst", "k", "0", "-1"),
    ("ZPOPMIN", "k"),
    ("ZPOPMAX", "k", "2"),
    ("ZMPOP", "1", "k", "MIN"),
    ("ZREMRANGEBYRANK", "k", "0", "-1"),
    ("ZREMRANGEBYSCORE", "k", "-inf", "+inf"),
    ("ZREMRANGEBYLEX", "k", "-", "+"),
    ("ZUNION", "2", "zset", "k"),
    ("ZUNIONSTORE", "dst", "2", "zset", "k"),
    ("ZINTER", "2", "zset", "k"),
    ("ZINTERSTORE", "dst", "2", "k", "zset"),
    ("ZINTERCARD", "2", "zset", "k"),
    ("ZDIFF", "2", "zset", "k"),
    ("ZDIFFSTORE", "dst", "2", "zset", "k"),
    ("ZRANDMEMBER", "k"),
    ("ZRANDMEMBER", "k", "-2", "WITHSCORES"),
    ("ZSCAN", "k", "0"),
    ("BZPOPMIN", "k", "0"),
    ("BZPOPMAX", "nokey", "k", "0"),
    ("BZMPOP", "0", "1", "k", "MAX"),
]


@pytest.mark.parametrize("cmd", ZSET_COMMANDS, ids=lambda c: " ".join(c))
def test_zset_commands_on_a_string_key(r, c, cmd):
    r.set("k", "string value")
    r.zadd("zset", {"a": 1})
    r.zadd("dst", {"old": 1})
    assert c.call(*cmd) == WRONGTYPE
    assert r.get("k") == b"string value"
    assert r.zrange("dst", 0, -1) == [b"old"]  # a failed *STORE leaves its destination alone


@pytest.mark.parametrize("cmd", ZSET_COMMANDS, ids=lambda c: " ".join(c))
def test_zset_commands_on_a_list_key(r, c, cmd):
    r.rpush("k", "a", "b")
    r.zadd("zset", {"a": 1})
    assert c.call(*cmd) == WRONGTYPE
    assert r.lrange("k", 0, -1) == [b"a", b"b"]


def test_range_bounds_are_checked_before_the_key_type(r, c):
    """As in Redis, a range command's malformed bounds are its error whatever the key holds."""
    r.set("str", "v")
    for cmd, error in ((("ZRANGEBYSCORE", "str", "a", "1"), MINMAX_FLOAT), (("ZCOUNT", "str", "1", "x"), MINMAX_FLOAT),
                       (("ZRANGE", "str", "a", "b", "BYSCORE"), MINMAX_FLOAT),
                       (("ZREMRANGEBYSCORE", "str", "(x", "1"), MINMAX_FLOAT),
                       (("ZRANGEBYLEX", "str", "a", "b"), MINMAX_LEX), (("ZLEXCOUNT", "str", "a", "+"), MINMAX_LEX),
                       (("ZREMRANGEBYLEX", "str", "-", "b"), MINMAX_LEX), (("ZRANGE", "str", "x", "1"), NOT_INT),
                       (("ZREMRANGEBYRANK", "str", "0", "x"), NOT_INT),
                       (("ZRANGESTORE", "dst", "str", "0", "x"), NOT_INT)):
        assert c.call(*cmd) == error, cmd
    assert c.call("ZRANGEBYSCORE", "str", "0", "1") == WRONGTYPE


@pytest.mark.parametrize("cmd", [
    ("GET", "z"), ("APPEND", "z", "x"), ("INCR", "z"), ("STRLEN", "z"), ("GETDEL", "z"),
    ("HSET", "z", "f", "v"), ("HGETALL", "z"), ("SADD", "z", "m"), ("SMEMBERS", "z"), ("SCARD", "z"),
    ("SINTER", "z"), ("LPUSH", "z", "a"), ("RPOP", "z"), ("LRANGE", "z", "0", "-1"), ("LLEN", "z"),
], ids=lambda c: " ".join(c))
def test_other_commands_on_a_zset_key(r, c, cmd):
    r.zadd("z", {"a": 1, "b": 2})
    assert c.call(*cmd) == WRONGTYPE
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]


def test_set_overwrites_a_zset_and_mget_is_nil(r):
    r.zadd("z", {"a": 1})
    assert r.mget("z") == [None]
    assert r.set("z", "str") is True
    assert r.type("z") == b"string"
    r.delete("z")
    assert r.zadd("z", {"b": 2}) == 1
    assert r.zrange("z", 0, -1) == [b"b"]


# ---------------------------------------------------------------- generic key commands

def test_type_del_unlink(r, c):
    r.zadd("z1", {"a": 1})
    r.zadd("z2", {"a": 1, "b": 2})
    assert c.call_raw("TYPE", "z1") == b"+zset\r\n"
    assert r.exists("z1", "z2") == 2
    assert r.delete("z1", "nokey") == 1
    assert r.unlink("z2") == 1
    assert r.exists("z1", "z2") == 0
    assert r.zrange("z2", 0, -1) == []
    assert r.dbsize() == 0


def test_expire_ttl_and_expiry(r, c):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    r.zadd("keep", {"x": 1})
    assert r.expire("z", 100) is True
    # member writes keep the TTL
    r.zadd("z", {"d": 4})
    r.zincrby("z", 1, "a")
    r.zrem("z", "b")
    r.zpopmax("z")
    r.zremrangebyscore("z", 100, 200)
    assert 98 <= r.ttl("z") <= 100
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 2.0), (b"c", 3.0)]
    assert r.persist("z") is True
    assert r.ttl("z") == -1
    assert r.pexpire("z", 80) is True
    time.sleep(0.25)
    assert r.exists("z") == 0
    assert c.call_raw("TYPE", "z") == b"+none\r\n"
    assert r.zrange("z", 0, -1) == []
    assert r.zcard("z") == 0
    assert r.zscore("z", "a") is None
    assert c.call_raw("ZPOPMIN", "z") == b"*0\r\n"
    assert r.keys("*") == [b"keep"]
    # a zset created after expiry starts empty without a TTL
    assert r.zincrby("z", 5, "a") == 5.0
    assert r.zrange("z", 0, -1) == [b"a"]
    assert r.ttl("z") == -1


def test_expired_zsets_in_set_operations(r):
    r.zadd("a", {"1": 1, "2": 2})
    r.zadd("b", {"2": 20, "3": 30})
    r.pexpire("b", 50)
    time.sleep(0.2)
    assert r.zinter(["a", "b"]) == []
    assert r.zunion(["a", "b"], withscores=True) == [(b"1", 1.0), (b"2", 2.0)]
    assert r.zdiff(["a", "b"]) == [b"1", b"2"]


def test_rename_zset(r):
    r.zadd("src", {"a": 1, "b": 2})
    r.expire("src", 1000)
    assert r.rename("src", "dst") is True
    assert r.exists("src") == 0
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert 990 <= r.ttl("dst") <= 1000
    # over an existing zset and a list: replaced completely
    r.zadd("other", {"x": 9, "a": 100})
    assert r.rename("dst", "other") is True
    assert r.zrange("other", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert r.zscore("other", "x") is None
    r.rpush("l", "v")
    r.rename("other", "l")
    assert r.type("l") == b"zset"
    assert r.zcard("l") == 2
    r.zadd("src", {"new": 1})
    assert r.zrange("src", 0, -1) == [b"new"]
    assert r.renamenx("src", "l") is False
    assert r.renamenx("src", "fresh") is True
    assert r.zrange("fresh", 0, -1) == [b"new"]


def test_copy_zset(r, server):
    r.zadd("src", {"a": 1, b"\x00\xff": 2.5})
    r.pexpire("src", 900_000)
    assert r.copy("src", "dst") is True
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"a", 1.0), (b"\x00\xff", 2.5)]
    assert r.execute_command("PEXPIRETIME", "dst") == r.execute_command("PEXPIRETIME", "src")
    # independent of the source
    r.zincrby("dst", 10, "a")
    r.zrem("src", b"\x00\xff")
    assert r.zrange("src", 0, -1, withscores=True) == [(b"a", 1.0)]
    assert r.zrange("dst", 0, -1, withscores=True) == [(b"\x00\xff", 2.5), (b"a", 11.0)]
    assert r.zrank("dst", "a") == 1
    r.zadd("other", {"z": 26})
    assert r.copy("src", "other") is False
    assert r.copy("src", "other", replace=True) is True
    assert r.zrange("other", 0, -1) == [b"a"]
    assert r.copy("src", "src", destination_db=6) is True
    r6 = server.client(db=6)
    try:
        assert r6.zrange("src", 0, -1, withscores=True) == [(b"a", 1.0)]
        assert r6.ttl("src") > 0
    finally:
        r6.close()


def test_zsets_survive_restart(make_server):
    s = make_server()
    cl = s.client()
    cl.zadd("small", {"a": 1, "b": 2.5, "c": -3, "d": float("inf")})
    cl.zrem("small", "b")
    cl.zincrby("small", 0.5, "a")
    cl.zadd(b"bin\x00", {b"\x00\xff": 1, b"": 0})
    cl.zadd("ttl", {"x": 1})
    cl.expire("ttl", 1000)
    cl.zadd("big", {b"m%d" % i: i for i in range(3000)})
    cl.zremrangebyrank("big", 0, 99)
    cl.zpopmax("big", 100)
    cl.zadd("lex", {m: 0 for m in "abcdef"})
    cl.zremrangebylex("lex", "[b", "[c")
    cl.zunionstore("union", ["small", "lex"])
    cl.zadd("gone", {"a": 1})
    cl.zpopmin("gone")
    cl.zadd("short", {"a": 1})
    cl.pexpire("short", 200)
    cl.zadd("fmt", {"p": 0.1, "q": 1e20})
    r2 = s.client(db=2)
    r2.zadd("in-db2", {"yes": 7})
    r2.close()
    cl.close()

    assert s.stop() == 0, s.log()
    time.sleep(0.3)
    s.start()

    cl = s.client()
    try:
        assert cl.zrange("small", 0, -1, withscores=True) == [(b"c", -3.0), (b"a", 1.5), (b"d", float("inf"))]
        assert cl.zrange(b"bin\x00", 0, -1) == [b"", b"\x00\xff"]
        assert cl.zrange("ttl", 0, -1) == [b"x"]
        assert 990 <= cl.ttl("ttl") <= 1000
        assert cl.zcard("big") == 2800
        assert cl.zrange("big", 0, 0) == [b"m100"]
        assert cl.zrange("big", -1, -1) == [b"m2899"]
        assert cl.zrank("big", "m1000") == 900
        assert cl.zrange("lex", 0, -1) == [b"a", b"d", b"e", b"f"]
        assert cl.execute_command("ZRANGE", "union", 0, -1, "WITHSCORES") == [
            b"c", b"-3", b"e", b"0", b"f", b"0", b"a", b"1.5", b"d", b"inf"]
        with s.conn() as t:
            assert t.call("ZSCORE", "fmt", "p") == b"0.10000000000000001"
            assert t.call("ZSCORE", "fmt", "q") == b"1e+20"
        assert cl.exists("gone", "short") == 0
        assert cl.type("small") == b"zset"
        r2 = s.client(db=2)
        assert r2.zscore("in-db2", "yes") == 7.0
        r2.close()
        assert cl.zadd("small", {"e": 0}) == 1
        assert cl.zrange("small", 0, -1) == [b"c", b"e", b"a", b"d"]
    finally:
        cl.close()


# ---------------------------------------------------------------- transactions

def test_multi_exec_zset_mix(r, c):
    r.zadd("z", {"a": 1, "b": 2})
    assert c.call("MULTI") == "OK"
    for cmd in (("ZADD", "z", "3", "c"), ("ZINCRBY", "z", "10", "a"), ("ZPOPMIN", "z"), ("RPUSH", "l", "x"),
                ("ZUNIONSTORE", "u", "1", "z"), ("ZRANGE", "u", "0", "-1", "WITHSCORES"), ("ZCARD", "z"),
                ("ZREM", "z", "c", "a"), ("EXISTS", "z")):
        assert c.call(*cmd) == "QUEUED"
    rep = c.call("EXEC")
    assert rep == [1, b"11", [b"b", b"2"], 1, 2, [b"c", b"3", b"a", b"11"], 2, 2, 0]
    # a WRONGTYPE inside EXEC fails alone
    assert c.call("MULTI") == "OK"
    c.call("ZADD", "l", "1", "x")
    c.call("ZADD", "n", "1", "x")
    rep = c.call("EXEC")
    assert isinstance(rep[0], RespError) and rep[0] == WRONGTYPE
    assert rep[1] == 1
    # errors at queue time abort everything
    assert c.call("MULTI") == "OK"
    assert c.call("ZADD", "q", "1", "x") == "QUEUED"
    assert c.call("ZADD", "q", "1") == wrong_args("zadd")
    assert c.call("EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert r.exists("q") == 0
    # an option error at run time fails alone
    assert c.call("MULTI") == "OK"
    assert c.call("ZADD", "q", "NX", "XX", "1", "x") == "QUEUED"
    assert c.call("ZADD", "q", "2", "y") == "QUEUED"
    rep = c.call("EXEC")
    assert rep[0] == XX_NX and rep[1] == 1


def test_watch_zset_key(r, server):
    r.zadd("z", {"a": 1})
    with server.conn() as t:
        assert t.call("WATCH", "z") == "OK"
        r.zincrby("z", 1, "a")
        t.call("MULTI")
        t.call("ZADD", "z", "100", "a")
        assert t.call("EXEC") is None
    assert r.zscore("z", "a") == 2.0


# ---------------------------------------------------------------- change stream (tidekv only)

@pytest.mark.tidekv_only
def test_change_stream_of_zset_writes_replays_identically(make_server):
    src = make_server()
    cl = src.client()
    step, seqs = make_step(cl)

    step("zadd", lambda: cl.zadd("z", {"a": 1, "b": 5, "c": 2, "d": 0, "e": 0.5, "f": 6, "g": 7, "h": 8,
                                      "i": 9, "j": 10}))
    step("zadd-opts", lambda: cl.zadd("z", {"a": 100, "k": 11}, gt=True, ch=True))
    step("zadd-nx-miss", lambda: cl.zadd("z", {"a": -5}, nx=True))
    step("zadd-incr", lambda: cl.zadd("z", {"b": 0.1}, incr=True))
    step("zincrby", lambda: cl.zincrby("z", 0.1, "b"))
    step("zincrby-new", lambda: cl.zincrby("z", 2.5, "new"))
    step("zrem", lambda: cl.zrem("z", "c", "nope"))
    assert step("zpopmin", lambda: cl.zpopmin("z", 2)) == [(b"d", 0.0), (b"e", 0.5)]
    assert step("zpopmax", lambda: cl.zpopmax("z")) == [(b"a", 100.0)]
    assert step("zmpop", lambda: cl.execute_command("ZMPOP", 1, "z", "MAX", "COUNT", 1)) == \
        [b"z", [[b"k", b"11"]]]
    step("zadd-lex", lambda: cl.zadd("lex", {m: 0 for m in "abcdefg"}))
    step("zremrangebylex", lambda: cl.zremrangebylex("lex", "[b", "(d"))
    step("zremrangebyrank", lambda: cl.zremrangebyrank("lex", -2, -1))
    step("zremrangebyscore", lambda: cl.zremrangebyscore("z", "(6", 8))
    step("expire", lambda: cl.expire("z", 5000))
    step("zadd-ttl", lambda: cl.zadd("z", {"late": -1}))
    step("zunionstore", lambda: cl.zunionstore("u", {"z": 2, "lex": 1}, aggregate="MAX"))
    step("zinterstore", lambda: cl.zinterstore("i", ["z", "u"]))
    step("zdiffstore", lambda: cl.zdiffstore("d", ["u", "z"]))
    step("zrangestore", lambda: cl.execute_command("ZRANGESTORE", "rs", "z", 0, 2))
    cl.zadd("emptied", {"x": 1})
    cl.expire("emptied", 3000)
    step("store-empty", lambda: cl.zinterstore("emptied", ["z", "nokey"]))
    cl.zadd("pop-all", {"p": 1, "q": 2})
    step("pop-all", lambda: cl.zpopmin("pop-all", 5))
    step("inf", lambda: cl.zadd("inf", {"p": float("inf"), "n": float("-inf"), "z": 0, "f": 1e20}))
    step("bin", lambda: cl.zadd(b"bin\x00\xff", {b"\x00": 1, b"": 2, b"\r\n": 3}))
    step("copy", lambda: cl.copy("z", "zcopy", destination_db=1))
    step("rename", lambda: cl.rename(b"bin\x00\xff", "renamed"))
    step("reads", lambda: (cl.zrange("z", 0, -1), cl.zscore("z", "b"), cl.zrandmember("z", -5),
                           cl.zunion(["z", "u"]), list(cl.zscan_iter("z")), cl.zcount("z", "-inf", "+inf"),
                           cl.zpopmin("nokey"), cl.zremrangebyscore("z", 1000, 2000)))

    # blocking pops served by a push from another client
    with src.conn() as blocker:
        blocker.send(encode_command("BZPOPMIN", "waitz", "0"))
        time.sleep(0.15)
        before = int(cl.execute_command("SEQUENCE"))
        assert cl.zadd("waitz", {"w1": 1, "w2": 2}) == 2
        assert blocker.read_reply() == [b"waitz", b"w1", b"1"]
        blocker.send(encode_command("BZMPOP", "0", "1", "waitz2", "MAX", "COUNT", "2"))
        time.sleep(0.15)
        assert cl.zadd("waitz2", {"x": 1, "y": 2, "q": 3}) == 3
        assert blocker.read_reply() == [b"waitz2", [[b"q", b"3"], [b"y", b"2"]]]
        seqs["blocking"] = (before, int(cl.execute_command("SEQUENCE")))

    updates = read_changes(cl)
    assert updates, "nothing recorded"
    assert batches_between(updates, *seqs["reads"]) == []
    assert batches_between(updates, *seqs["zadd-nx-miss"]) == []
    for name in ("zadd", "zadd-opts", "zadd-incr", "zincrby", "zincrby-new", "zrem", "zpopmin", "zpopmax",
                 "zmpop", "zadd-lex", "zremrangebylex", "zremrangebyrank", "zremrangebyscore", "expire",
                 "zadd-ttl", "zunionstore", "zinterstore", "zdiffstore", "zrangestore", "store-empty",
                 "pop-all", "inf", "bin", "copy", "rename", "blocking"):
        assert batches_between(updates, *seqs[name]), name
    assert {u["db"] for u in updates} <= {0, 1}

    before = snapshot(src)
    assert before[(0, b"z")][0] == b"zset"
    b_score = ("%.17g" % (5 + 0.1 + 0.1)).encode()
    assert before[(0, b"z")][1] == [b"late", b"-1", b"new", b"2.5", b"b", b_score, b"f", b"6", b"i", b"9",
                                    b"j", b"10"]
    assert before[(0, b"rs")][1] == [b"late", b"-1", b"new", b"2.5", b"b", b_score]
    assert before[(0, b"d")][1] == [b"a", b"0", b"d", b"0", b"e", b"0"]
    assert before[(0, b"z")][2] > 0
    assert before[(0, b"lex")][1] == [b"a", b"0", b"d", b"0", b"e", b"0"]
    assert before[(0, b"waitz")][1] == [b"w2", b"2"]
    assert before[(0, b"waitz2")][1] == [b"x", b"1"]
    assert before[(1, b"zcopy")][1] == before[(0, b"z")][1]
    assert before[(0, b"inf")][1] == [b"n", b"-inf", b"z", b"0", b"f", b"1e+20", b"p", b"inf"]
    assert (0, b"emptied") not in before and (0, b"pop-all") not in before

    dst = make_server()
    replay(updates, dst)
    assert snapshot(dst) == before
    cl.close()


def test_scores_of_any_length(r):
    """Redis reads a score with strtod whatever its length: 6,000 characters are a score."""
    assert r.zadd("z", {"m": "1." + "0" * 6000}) == 1
    assert r.zscore("z", "m") == 1.0
    assert r.zincrby("z", "0" * 6000 + "1", "m") == 2.0
    assert r.zrangebyscore("z", "1." + "0" * 6000, "+inf") == [b"m"]
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.zadd("z", {"m": "1" * 400})  # past a double's range
