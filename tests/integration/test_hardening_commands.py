"""Command arguments at the edges of their ranges, with Redis 7 semantics and error texts
(checked against redis-server 7.0): the counts of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER, whose
repeated picks stream until client-output-buffer-limit closes the client."""

import time

import pytest

from conftest import ConnectionClosed, tidekv_only
from helpers import peak_rss_mb

LLONG_MAX = 2**63 - 1
NOT_INT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
OUT_OF_RANGE = "ERR value is out of range"
OUT_OF_LONG_RANGE = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"

# (command, key, the option that adds each member's value)
RANDOM_COMMANDS = [("SRANDMEMBER", "st", None), ("HRANDFIELD", "h", "WITHVALUES"), ("ZRANDMEMBER", "z", "WITHSCORES")]
MEMBERS = [b"a", b"b", b"c"]


def fill(r):
    r.sadd("st", *MEMBERS)
    r.hset("h", mapping={m: m + b"v" for m in MEMBERS})
    r.zadd("z", {m: i for i, m in enumerate(MEMBERS)})


def pairs(flat):
    return list(zip(flat[::2], flat[1::2]))


def test_random_member_counts_at_the_ends_of_the_range(r, c):
    fill(r)
    r.set("str", "x")
    for cmd, key, with_values in RANDOM_COMMANDS:
        # every count but LLONG_MIN (which has no positive twin) is taken
        assert c.call(cmd, key, str(-2**63)) == OUT_OF_LONG_RANGE
        assert c.call(cmd, "nokey", str(-2**63)) == OUT_OF_LONG_RANGE
        assert c.call(cmd, key, str(2**63)) == NOT_INT
        # a positive count is bounded by the size
        assert sorted(c.call(cmd, key, str(LLONG_MAX))) == MEMBERS
        assert c.call(cmd, "nokey", str(LLONG_MAX)) == []
        assert c.call(cmd, "nokey", str(-LLONG_MAX)) == []
        assert c.call(cmd, "str", str(-LLONG_MAX)) == WRONGTYPE
        if not with_values:
            continue
        # with values, half the range (a pick is two replies); checked before the key's type
        for count in (2**62, -2**62, LLONG_MAX, -LLONG_MAX):
            assert c.call(cmd, key, str(count), with_values) == OUT_OF_RANGE
            assert c.call(cmd, "str", str(count), with_values) == OUT_OF_RANGE
        got = pairs(c.call(cmd, key, str(2**62 - 1), with_values))
        assert sorted(m for m, _ in got) == MEMBERS
        # the count is read before the option
        assert c.call(cmd, key, str(-2**63), "FOO") == OUT_OF_LONG_RANGE
        assert c.call(cmd, key, str(LLONG_MAX), "FOO") == SYNTAX
    # SPOP takes any positive count, too
    assert sorted(c.call("SPOP", "st", str(LLONG_MAX))) == MEMBERS
    assert r.exists("st") == 0


def test_repeated_picks_from_a_medium_collection(r, c):
    members = [b"m%04d" % i for i in range(1000)]
    r.sadd("s", *members)
    r.hset("h", mapping={m: m + b"v" for m in members})
    r.zadd("z", {m: i for i, m in enumerate(members)})
    # a few picks seek, many come from one copy of the collection
    for count in (5, 100, 5000):
        got = c.call("SRANDMEMBER", "s", str(-count))
        assert len(got) == count and set(got) <= set(members)
        got = pairs(c.call("HRANDFIELD", "h", str(-count), "WITHVALUES"))
        assert len(got) == count and all(v == f + b"v" for f, v in got)
        got = pairs(c.call("ZRANDMEMBER", "z", str(-count), "WITHSCORES"))
        assert len(got) == count and all(int(s) == members.index(m) for m, s in got)
    # uniform picks: 20000 of 1000 members miss none but by a fluke
    assert len(set(c.call("SRANDMEMBER", "s", "-20000"))) > 990


def test_huge_negative_counts_end_at_the_output_limit(make_server):
    """Repeated picks are streamed: a huge negative count must neither allocate per pick (an
    abort for -2147483648, gigabytes for -200000000) nor run on once the client's output is
    past its hard limit, which closes the client."""
    s = make_server()
    r = s.client()
    fill(r)
    r.config_set("client-output-buffer-limit", "normal 1mb 1mb 0")
    peak_before = peak_rss_mb(s)
    cases = []
    for cmd, key, with_values in RANDOM_COMMANDS:
        cases += [(cmd, key, count) for count in (str(-2**31), "-200000000", str(-LLONG_MAX))]
        if with_values:
            cases += [(cmd, key, count, with_values) for count in (str(-2**31), str(-(2**62 - 1)))]
    for args in cases:
        started = time.monotonic()
        with s.conn(timeout=30) as conn:
            with pytest.raises(ConnectionClosed):
                conn.call(*args)
        assert time.monotonic() - started < 10, args
        assert r.ping()
    assert peak_rss_mb(s) - peak_before < 100
    # a client within the limit still gets its whole reply
    assert len(r.srandmember("st", -1000)) == 1000


@tidekv_only
def test_huge_negative_counts_without_output_limits_end_at_maxmemory_clients(make_server):
    """With Redis's normal 0 0 0 (no output limit), the reply being written is bounded by
    maxmemory-clients: before, it grew until the server was killed for memory."""
    s = make_server()
    r = s.client()
    fill(r)
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    r.config_set("maxmemory-clients", "4mb")
    peak_before = peak_rss_mb(s)
    for cmd, key, _ in RANDOM_COMMANDS:
        started = time.monotonic()
        with s.conn(timeout=30) as conn:
            with pytest.raises(ConnectionClosed):
                conn.call(cmd, key, str(-LLONG_MAX))
        assert time.monotonic() - started < 10, cmd
        assert r.ping()
    assert peak_rss_mb(s) - peak_before < 100


# ---------------------------------------------------------------- scores out of a double's range

NOT_FLOAT = "ERR value is not a valid float"
WEIGHT_FLOAT = "ERR weight value is not a float"
NOT_DOUBLE = "ERR One or more scores can't be converted into double"


@pytest.mark.parametrize("score", ["1e309", "-1e309", "1e-400"])
def test_a_score_out_of_a_doubles_range_is_no_float(r, c, score):
    r.zadd("z", {"a": 1})
    assert c.call("ZADD", "z", score, "b") == NOT_FLOAT
    assert c.call("ZADD", "z", "INCR", score, "a") == NOT_FLOAT
    assert c.call("ZINCRBY", "z", score, "a") == NOT_FLOAT
    assert c.call("ZUNIONSTORE", "d", "1", "z", "WEIGHTS", score) == WEIGHT_FLOAT
    assert r.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0)]
    r.rpush("l", score)
    assert c.call("SORT", "l") == NOT_DOUBLE


def test_written_infinities_and_tiny_scores(r, c):
    assert c.call("ZADD", "z", "inf", "i", "-inf", "j", "1e-310", "k", "1", "a") == 4
    assert c.call("ZSCORE", "z", "i") == b"inf"
    assert c.call("ZSCORE", "z", "k") == b"9.9999999999999694e-311"
    assert c.call("ZINCRBY", "z", "-inf", "j") == b"-inf"


def test_score_range_bounds_take_out_of_range_numbers(r, c):
    """Range bounds are read as strtod reads them: out of range as inf or 0, even "" as 0."""
    r.zadd("z", {"i": float("inf"), "j": float("-inf"), "k": 1e-310, "a": 1})
    assert c.call("ZRANGEBYSCORE", "z", "1e309", "1e309") == [b"i"]
    assert c.call("ZRANGEBYSCORE", "z", "-1e309", "(1e-400") == [b"j"]
    assert c.call("ZCOUNT", "z", "(1e-400", "1e400") == 3
    assert c.call("ZRANGE", "z", "1e309", "-1e309", "BYSCORE", "REV") == [b"i", b"a", b"k", b"j"]
    assert c.call("ZRANGEBYSCORE", "z", " 1", "1") == [b"a"]
    assert c.call("ZRANGEBYSCORE", "z", "", "1") == [b"k", b"a"]
    assert c.call("ZRANGEBYSCORE", "z", "(", "1") == [b"k", b"a"]
    assert c.call("ZREMRANGEBYSCORE", "z", "1e309", "1e309") == 1
    assert c.call("ZRANGEBYSCORE", "z", "nan", "1") == "ERR min or max is not a float"


def test_zincrby_minus_zero_on_a_new_member_answers_minus_zero(r, c):
    assert c.call("ZINCRBY", "z", "-0.0", "a") == b"-0"
    assert c.call("ZADD", "z", "INCR", "-0", "b") == b"-0"
    assert c.call("ZADD", "z", "NX", "INCR", "-0", "c") == b"-0"
    # stored as 0, so that a further -0 makes 0 and ZSCORE shows 0, as Redis does
    assert c.call("ZSCORE", "z", "a") == b"0"
    assert c.call("ZINCRBY", "z", "-0.0", "a") == b"0"
    assert c.call("ZADD", "z", "-0.0", "d") == 1
    assert c.call("ZSCORE", "z", "d") == b"0"
    assert c.call("ZRANGEBYSCORE", "z", "0", "0") == [b"a", b"b", b"c", b"d"]


def test_incrbyfloat_takes_what_a_long_double_holds(r, c):
    for cmd, key in (("INCRBYFLOAT", ["s"]), ("HINCRBYFLOAT", ["h", "f"])):
        assert c.call(cmd, *key, "1e4933") == NOT_FLOAT
        assert c.call(cmd, *key, "1e-5000") == NOT_FLOAT
        got = c.call(cmd, *key, "1e309")
        assert len(got) == 309 and got.startswith(b"99999999999999999998634942")
    assert c.call("INCRBYFLOAT", "n", "-0.0") == b"0"
