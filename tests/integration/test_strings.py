"""String commands with Redis 7 semantics and error texts."""

import time

import pytest
import redis

from helpers import wrong_args

SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"


# ---------------------------------------------------------------- GET / SET

def test_get_set_basic(r, c):
    assert r.get("missing") is None
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "v2") is True
    assert r.get("k") == b"v2"
    assert c.call_raw("SET", "x", "y") == b"+OK\r\n"
    assert c.call_raw("GET", "x") == b"$1\r\ny\r\n"
    assert c.call_raw("GET", "nokey") == b"$-1\r\n"


def test_set_binary_and_empty_values(r):
    blob = bytes(range(256)) * 4
    r.set(b"bin", blob)
    assert r.get(b"bin") == blob
    r.set("empty", b"")
    assert r.get("empty") == b""
    assert r.exists("empty") == 1
    assert r.strlen("empty") == 0


def test_set_large_value(r):
    big = b"x" * (2 * 1024 * 1024 + 7)
    r.set("big", big)
    assert r.get("big") == big
    assert r.strlen("big") == len(big)


def test_get_set_arity(c):
    assert c.call("GET") == wrong_args("get")
    assert c.call("GET", "a", "b") == wrong_args("get")
    assert c.call("SET", "a") == wrong_args("set")


def test_set_nx_xx(r, c):
    assert r.set("k", "1", nx=True) is True
    assert r.set("k", "2", nx=True) is None
    assert r.get("k") == b"1"
    assert r.set("k", "3", xx=True) is True
    assert r.get("k") == b"3"
    assert r.set("other", "1", xx=True) is None
    assert r.exists("other") == 0
    # nil reply, not an error
    assert c.call_raw("SET", "k", "x", "NX") == b"$-1\r\n"
    assert c.call("SET", "k", "x", "NX", "XX") == SYNTAX
    assert c.call("SET", "k", "x", "XX", "NX") == SYNTAX
    # options are case-insensitive
    assert c.call("SET", "lower", "x", "nx") == "OK"


def test_set_get_option(r, c):
    assert r.set("k", "old") is True
    assert r.set("k", "new", get=True) == b"old"
    assert r.get("k") == b"new"
    assert r.set("fresh", "v", get=True) is None
    assert r.get("fresh") == b"v"
    # GET combined with NX / XX (allowed since Redis 7.0)
    assert c.call("SET", "k", "nx-val", "NX", "GET") == b"new"
    assert r.get("k") == b"new"
    assert c.call("SET", "k", "xx-val", "XX", "GET") == b"new"
    assert r.get("k") == b"xx-val"
    assert c.call("SET", "nokey", "v", "XX", "GET") is None
    assert r.exists("nokey") == 0


def test_set_ex_px(r):
    r.set("k", "v", ex=100)
    assert 99 <= r.ttl("k") <= 100
    r.set("k", "v", px=50000)
    assert 49000 <= r.pttl("k") <= 50000
    assert 49 <= r.ttl("k") <= 50


def test_set_exat_pxat(r):
    now = int(time.time())
    r.set("k", "v", exat=now + 100)
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("EXPIRETIME", "k") == now + 100
    r.set("k2", "v", pxat=now * 1000 + 100500)
    assert r.execute_command("PEXPIRETIME", "k2") == now * 1000 + 100500
    assert 98 <= r.ttl("k2") <= 101


def test_set_exat_in_the_past_deletes(r, c):
    r.set("k", "old")
    assert c.call("SET", "k", "v", "EXAT", "1") == "OK"
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert c.call("SET", "k", "v", "PXAT", "1") == "OK"
    assert r.exists("k") == 0


def test_set_keepttl(r, c):
    r.set("k", "v", ex=100)
    assert r.set("k", "v2", keepttl=True) is True
    assert r.get("k") == b"v2"
    assert 98 <= r.ttl("k") <= 100
    # a plain SET clears the TTL
    r.set("k", "v3")
    assert r.ttl("k") == -1
    assert c.call("SET", "k", "v", "KEEPTTL", "EX", "10") == SYNTAX
    assert c.call("SET", "k", "v", "EX", "10", "KEEPTTL") == SYNTAX
    assert c.call("SET", "k", "v", "PX", "10", "KEEPTTL") == SYNTAX


def test_set_keepttl_over_another_type_keeps_its_ttl(r):
    r.hset("h", "f", "v")
    r.expire("h", 100)
    assert r.set("h", "x", keepttl=True) is True
    assert r.get("h") == b"x"
    assert 98 <= r.ttl("h") <= 100
    r.rpush("l", "a")
    assert r.set("l", "x", keepttl=True, xx=True) is True
    assert r.ttl("l") == -1


def test_set_expire_errors(c):
    invalid = "ERR invalid expire time in 'set' command"
    assert c.call("SET", "k", "v", "EX", "0") == invalid
    assert c.call("SET", "k", "v", "EX", "-1") == invalid
    assert c.call("SET", "k", "v", "PX", "0") == invalid
    assert c.call("SET", "k", "v", "PX", "-100") == invalid
    assert c.call("SET", "k", "v", "EXAT", "0") == invalid
    assert c.call("SET", "k", "v", "PXAT", "-5") == invalid
    assert c.call("SET", "k", "v", "EX", "9999999999999999") == invalid
    assert c.call("SET", "k", "v", "EX", "abc") == NOT_INT
    assert c.call("SET", "k", "v", "PX", "1.5") == NOT_INT
    assert c.call("SET", "k", "v", "EX") == SYNTAX
    assert c.call("SET", "k", "v", "EX", "10", "PX", "100") == SYNTAX
    assert c.call("SET", "k", "v", "EX", "10", "EXAT", "99999999999") == SYNTAX
    assert c.call("SET", "k", "v", "BOGUS") == SYNTAX
    assert c.call("EXISTS", "k") == 0
    with pytest.raises(redis.ResponseError, match="^invalid expire time in 'set' command$"):
        c2 = redis.Redis(host="127.0.0.1", port=c.sock.getpeername()[1])
        try:
            c2.set("k", "v", ex=0)
        finally:
            c2.close()


def test_set_ex_combined_with_nx_xx_get(r, c):
    assert c.call("SET", "k", "v", "NX", "EX", "100") == "OK"
    assert 99 <= r.ttl("k") <= 100
    assert c.call("SET", "k", "v2", "XX", "PX", "200000", "GET") == b"v"
    assert 199 <= r.ttl("k") <= 200
    assert c.call("SET", "k", "v3", "NX", "EX", "5") is None
    assert 199 <= r.ttl("k") <= 200


# ---------------------------------------------------------------- SETNX / SETEX / PSETEX

def test_setnx(r, c):
    assert r.setnx("k", "1") is True
    assert r.setnx("k", "2") is False
    assert r.get("k") == b"1"
    assert c.call("SETNX", "k2", "x") == 1
    assert c.call("SETNX", "k2", "y") == 0
    assert c.call("SETNX", "k") == wrong_args("setnx")


def test_setex_psetex(r, c):
    assert r.setex("k", 100, "v") is True
    assert r.get("k") == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.psetex("p", 100000, "v") is True
    assert 99000 <= r.pttl("p") <= 100000
    assert c.call("SETEX", "k", "0", "v") == "ERR invalid expire time in 'setex' command"
    assert c.call("SETEX", "k", "-10", "v") == "ERR invalid expire time in 'setex' command"
    assert c.call("PSETEX", "k", "0", "v") == "ERR invalid expire time in 'psetex' command"
    assert c.call("SETEX", "k", "abc", "v") == NOT_INT
    assert c.call("SETEX", "k", "10") == wrong_args("setex")


# ---------------------------------------------------------------- MGET / MSET / MSETNX

def test_mget_mset(r, c):
    assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert r.mget("a", "b", "missing", "c") == [b"1", b"2", None, b"3"]
    assert r.mget(["a"]) == [b"1"]
    # later pairs win
    assert c.call("MSET", "d", "1", "d", "2") == "OK"
    assert r.get("d") == b"2"
    assert c.call("MSET", "a") == wrong_args("mset")
    assert c.call("MSET", "a", "1", "b") == wrong_args("mset")
    assert c.call("MGET") == wrong_args("mget")


def test_mset_clears_ttl(r):
    r.set("a", "1", ex=100)
    r.mset({"a": "2"})
    assert r.ttl("a") == -1


def test_msetnx(r, c):
    assert r.msetnx({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b") == [b"1", b"2"]
    # one existing key: nothing is set
    assert r.msetnx({"b": "x", "c": "3"}) is False
    assert r.get("b") == b"2"
    assert r.exists("c") == 0
    assert c.call("MSETNX", "x", "1", "y") == wrong_args("msetnx")


# ---------------------------------------------------------------- GETSET / GETDEL / GETEX

def test_getset(r):
    assert r.getset("k", "1") is None
    assert r.get("k") == b"1"
    r.expire("k", 100)
    assert r.getset("k", "2") == b"1"
    assert r.get("k") == b"2"
    assert r.ttl("k") == -1


def test_getdel(r, c):
    r.set("k", "v")
    assert r.getdel("k") == b"v"
    assert r.exists("k") == 0
    assert r.getdel("k") is None
    assert c.call("GETDEL", "a", "b") == wrong_args("getdel")


def test_getex(r, c):
    assert r.getex("missing", ex=10) is None
    assert r.exists("missing") == 0
    r.set("k", "v")
    assert r.getex("k") == b"v"
    assert r.ttl("k") == -1
    assert r.getex("k", ex=100) == b"v"
    assert 99 <= r.ttl("k") <= 100
    assert r.getex("k", px=200000) == b"v"
    assert 199 <= r.ttl("k") <= 200
    now = int(time.time())
    assert r.getex("k", exat=now + 300) == b"v"
    assert 298 <= r.ttl("k") <= 300
    assert r.getex("k", pxat=now * 1000 + 400000) == b"v"
    assert 398 <= r.ttl("k") <= 400
    # no option: TTL untouched
    assert r.getex("k") == b"v"
    assert 398 <= r.ttl("k") <= 400
    assert r.getex("k", persist=True) == b"v"
    assert r.ttl("k") == -1


def test_getex_errors_and_past_time(r, c):
    r.set("k", "v")
    assert c.call("GETEX", "k", "EX", "0") == "ERR invalid expire time in 'getex' command"
    assert c.call("GETEX", "k", "PX", "-1") == "ERR invalid expire time in 'getex' command"
    assert c.call("GETEX", "k", "EX", "abc") == NOT_INT
    assert c.call("GETEX", "k", "EX", "10", "PX", "10") == SYNTAX
    assert c.call("GETEX", "k", "EX", "10", "PERSIST") == SYNTAX
    assert c.call("GETEX", "k", "EX") == SYNTAX
    assert c.call("GETEX", "k", "BOGUS") == SYNTAX
    assert r.ttl("k") == -1
    # an absolute time in the past returns the value and deletes the key
    assert c.call("GETEX", "k", "EXAT", "1") == b"v"
    assert r.exists("k") == 0


# ---------------------------------------------------------------- APPEND / STRLEN

def test_append_strlen(r, c):
    assert r.append("k", "Hello") == 5
    assert r.append("k", " World") == 11
    assert r.get("k") == b"Hello World"
    assert r.strlen("k") == 11
    assert r.strlen("missing") == 0
    assert r.append("k", b"\x00\xff") == 13
    assert r.get("k") == b"Hello World\x00\xff"
    assert r.append("k", "") == 13
    assert r.append("e", "") == 0
    assert r.exists("e") == 1
    # APPEND keeps an existing TTL
    r.set("t", "a", ex=100)
    r.append("t", "b")
    assert 99 <= r.ttl("t") <= 100
    assert c.call("APPEND", "k") == wrong_args("append")


def test_append_to_integer(r):
    r.set("n", 10)
    assert r.append("n", "5") == 3
    assert r.incr("n") == 106


# ---------------------------------------------------------------- INCR family

def test_incr_decr(r, c):
    assert r.incr("n") == 1
    assert r.incr("n") == 2
    assert r.decr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decrby("n", 20) == -9
    assert r.incrby("n", -1) == -10
    assert r.decr("fresh") == -1
    assert r.get("n") == b"-10"
    r.set("s", "  7")
    assert c.call("INCR", "s") == NOT_INT
    r.set("neg", "-5")
    assert r.incr("neg") == -4
    assert c.call("INCRBY", "n") == wrong_args("incrby")


def test_incr_keeps_ttl(r):
    r.set("n", "1", ex=100)
    assert r.incr("n") == 2
    assert 99 <= r.ttl("n") <= 100


def test_incr_not_integer(r, c):
    for bad in ["abc", "1.5", "1.0", " 1", "1 ", "", "0x10", "1e3", "99999999999999999999"]:
        r.set("k", bad)
        assert c.call("INCR", "k") == NOT_INT, "INCR on %r" % bad
        assert c.call("DECR", "k") == NOT_INT, "DECR on %r" % bad
        assert c.call("INCRBY", "k", "1") == NOT_INT, "INCRBY on %r" % bad
        assert r.get("k") == bad.encode()
    r.set("k", "1")
    assert c.call("INCRBY", "k", "abc") == NOT_INT
    assert c.call("INCRBY", "k", "1.5") == NOT_INT
    assert c.call("DECRBY", "k", "") == NOT_INT
    assert c.call("INCRBY", "k", "9223372036854775808") == NOT_INT
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.set("k", "x")
        r.incr("k")


def test_incr_overflow(r, c):
    r.set("max", "9223372036854775807")
    assert c.call("INCR", "max") == OVERFLOW
    assert c.call("INCRBY", "max", "1") == OVERFLOW
    assert r.get("max") == b"9223372036854775807"
    assert r.decr("max") == 9223372036854775806
    r.set("min", "-9223372036854775808")
    assert c.call("DECR", "min") == OVERFLOW
    assert c.call("DECRBY", "min", "1") == OVERFLOW
    assert c.call("INCRBY", "min", "-1") == OVERFLOW
    assert r.get("min") == b"-9223372036854775808"
    r.set("z", "0")
    assert r.incrby("z", 9223372036854775807) == 9223372036854775807
    r.set("z", "0")
    assert r.incrby("z", -9223372036854775808) == -9223372036854775808
    r.set("one", "1")
    assert c.call("INCRBY", "one", "9223372036854775807") == OVERFLOW
    r.set("max", "9223372036854775807")
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.incr("max")


def test_incrbyfloat(r, c):
    r.set("f", "10.50")
    assert c.call("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert c.call("INCRBYFLOAT", "f", "-5") == b"5.6"
    r.set("e", "5.0e3")
    assert c.call("INCRBYFLOAT", "e", "2.0e2") == b"5200"
    assert r.get("e") == b"5200"
    assert c.call("INCRBYFLOAT", "new", "1.5") == b"1.5"
    assert c.call("INCRBYFLOAT", "new", "1.5") == b"3"
    r.set("i", "3")
    assert c.call("INCRBYFLOAT", "i", "1.5e3") == b"1503"
    assert c.call("INCRBYFLOAT", "i", "0") == b"1503"
    assert c.call("INCRBYFLOAT", "i", "-1503") == b"0"
    r.set("n", "-1")
    assert c.call("INCRBYFLOAT", "n", "0.25") == b"-0.75"
    assert r.incrbyfloat("n", 1) == 0.25


def test_incrbyfloat_errors(r, c):
    r.set("f", "1")
    assert c.call("INCRBYFLOAT", "f", "abc") == NOT_FLOAT
    assert c.call("INCRBYFLOAT", "f", "nan") == NOT_FLOAT
    assert c.call("INCRBYFLOAT", "f", "") == NOT_FLOAT
    assert c.call("INCRBYFLOAT", "f", "inf") == "ERR increment would produce NaN or Infinity"
    assert c.call("INCRBYFLOAT", "f", "-inf") == "ERR increment would produce NaN or Infinity"
    assert r.get("f") == b"1"
    r.set("s", "abc")
    assert c.call("INCRBYFLOAT", "s", "1") == NOT_FLOAT
    r.set("s", "1.5.5")
    assert c.call("INCRBYFLOAT", "s", "1") == NOT_FLOAT
    assert c.call("INCRBYFLOAT", "s") == wrong_args("incrbyfloat")


def test_incrbyfloat_keeps_ttl(r, c):
    r.set("f", "1", ex=100)
    assert c.call("INCRBYFLOAT", "f", "1.5") == b"2.5"
    assert 99 <= r.ttl("f") <= 100


# ---------------------------------------------------------------- GETRANGE / SETRANGE

def test_getrange(r, c):
    r.set("k", "This is a string")
    assert r.getrange("k", 0, 3) == b"This"
    assert r.getrange("k", -3, -1) == b"ing"
    assert r.getrange("k", 0, -1) == b"This is a string"
    assert r.getrange("k", 10, 100) == b"string"
    assert r.getrange("k", 5, 3) == b""
    assert r.getrange("k", 100, 200) == b""
    assert r.getrange("k", -1, -1) == b"g"
    assert r.getrange("k", -100, 3) == b"This"
    assert r.getrange("missing", 0, -1) == b""
    assert c.call_raw("GETRANGE", "missing", "0", "10") == b"$0\r\n\r\n"
    assert c.call("GETRANGE", "k", "a", "1") == NOT_INT
    assert c.call("GETRANGE", "k", "0") == wrong_args("getrange")
    # SUBSTR is the old name
    assert c.call("SUBSTR", "k", "0", "3") == b"This"


def test_getrange_integer_value(r):
    r.set("n", 12345)
    r.incr("n")
    assert r.getrange("n", 1, 2) == b"23"


def test_setrange(r, c):
    r.set("k", "Hello World")
    assert r.setrange("k", 6, "Redis") == 11
    assert r.get("k") == b"Hello Redis"
    assert r.setrange("k", 11, "!!") == 13
    assert r.get("k") == b"Hello Redis!!"
    # padding with zero bytes
    assert r.setrange("pad", 5, "hi") == 7
    assert r.get("pad") == b"\x00\x00\x00\x00\x00hi"
    assert r.setrange("k2", 0, "abc") == 3
    assert r.get("k2") == b"abc"
    r.set("short", "ab")
    assert r.setrange("short", 4, "x") == 5
    assert r.get("short") == b"ab\x00\x00x"
    # empty value: no key creation, length returned for existing keys
    assert r.setrange("nokey", 10, "") == 0
    assert r.exists("nokey") == 0
    assert r.setrange("k", 100, "") == 13
    assert r.get("k") == b"Hello Redis!!"


def test_setrange_errors(r, c):
    r.set("k", "v")
    assert c.call("SETRANGE", "k", "-1", "x") == "ERR offset is out of range"
    assert c.call("SETRANGE", "k", "abc", "x") == NOT_INT
    reply = c.call("SETRANGE", "k", "536870912", "x")
    assert isinstance(reply, str) and reply.startswith("ERR string exceeds maximum allowed size")
    assert r.get("k") == b"v"
    assert c.call("SETRANGE", "k", "0") == wrong_args("setrange")


# ---------------------------------------------------------------- SETBIT / GETBIT

def test_setbit_getbit(r, c):
    assert r.setbit("b", 7, 1) == 0
    assert r.get("b") == b"\x01"
    assert r.setbit("b", 7, 1) == 1
    assert r.setbit("b", 0, 1) == 0
    assert r.get("b") == b"\x81"
    assert r.getbit("b", 0) == 1
    assert r.getbit("b", 1) == 0
    assert r.getbit("b", 7) == 1
    assert r.getbit("b", 100) == 0
    assert r.getbit("missing", 0) == 0
    # grows with zero bytes
    assert r.setbit("b", 23, 1) == 0
    assert r.get("b") == b"\x81\x00\x01"
    assert r.setbit("b", 0, 0) == 1
    assert r.get("b") == b"\x01\x00\x01"
    r.set("s", "`")  # 0110 0000
    assert [r.getbit("s", i) for i in range(8)] == [0, 1, 1, 0, 0, 0, 0, 0]


def test_setbit_errors(r, c):
    off = "ERR bit offset is not an integer or out of range"
    bit = "ERR bit is not an integer or out of range"
    assert c.call("SETBIT", "b", "-1", "1") == off
    assert c.call("SETBIT", "b", "4294967296", "1") == off
    assert c.call("SETBIT", "b", "abc", "1") == off
    assert c.call("SETBIT", "b", "0", "2") == bit
    assert c.call("SETBIT", "b", "0", "-1") == bit
    assert c.call("SETBIT", "b", "0", "abc") == bit
    assert c.call("GETBIT", "b", "-1") == off
    assert c.call("GETBIT", "b", "4294967296") == off
    assert c.call("GETBIT", "b", "x") == off
    assert r.exists("b") == 0
    # the largest offset is accepted by GETBIT (no allocation)
    assert c.call("GETBIT", "b", "4294967295") == 0


# ---------------------------------------------------------------- BITCOUNT

def test_bitcount(r, c):
    r.set("k", "foobar")
    assert r.bitcount("k") == 26
    assert r.bitcount("k", 0, 0) == 4
    assert r.bitcount("k", 1, 1) == 6
    assert r.bitcount("k", 0, -1) == 26
    assert r.bitcount("k", -2, -1) == 7  # "ar"
    assert r.bitcount("k", 5, 2) == 0
    assert r.bitcount("k", 100, 200) == 0
    assert c.call("BITCOUNT", "k", "1", "1", "BYTE") == 6
    assert c.call("BITCOUNT", "k", "5", "30", "BIT") == 17
    assert c.call("BITCOUNT", "k", "0", "-1", "BIT") == 26
    assert c.call("BITCOUNT", "k", "-8", "-1", "BIT") == 4  # last byte 'r' = 0111 0010
    assert c.call("BITCOUNT", "k", "0", "0", "bit") == 0
    assert r.bitcount("missing") == 0
    assert c.call("BITCOUNT", "missing", "0", "10", "BIT") == 0
    r.set("ones", b"\xff" * 10)
    assert r.bitcount("ones") == 80


def test_bitcount_errors(r, c):
    r.set("k", "foobar")
    assert c.call("BITCOUNT", "k", "0") == SYNTAX
    assert c.call("BITCOUNT", "k", "0", "1", "BOGUS") == SYNTAX
    assert c.call("BITCOUNT", "k", "a", "1") == NOT_INT
    assert c.call("BITCOUNT", "k", "0", "1", "BIT", "x") == SYNTAX
    assert c.call("BITCOUNT") == wrong_args("bitcount")


# ---------------------------------------------------------------- BITPOS

def test_bitpos(r, c):
    r.set("k", b"\xff\xf0\x00")
    assert r.bitpos("k", 0) == 12
    r.set("k", b"\x00\xff\xf0")
    assert r.bitpos("k", 1, 0) == 8
    assert r.bitpos("k", 1, 2) == 16
    assert c.call("BITPOS", "k", "1", "2", "-1", "BYTE") == 16
    assert c.call("BITPOS", "k", "1", "7", "15", "BIT") == 8
    assert c.call("BITPOS", "k", "0", "8", "-1", "BIT") == 20
    assert r.bitpos("k", 0) == 0
    r.set("z", b"\x00\x00\x00")
    assert r.bitpos("z", 1) == -1
    assert c.call("BITPOS", "z", "1", "7", "-3", "BIT") == -1
    assert r.bitpos("z", 0) == 0


def test_bitpos_clear_bit_on_all_ones(r, c):
    r.set("ones", b"\xff\xff\xff")
    # no range: the string is considered padded with zeros on the right
    assert r.bitpos("ones", 0) == 24
    assert r.bitpos("ones", 0, 1) == 24
    # an explicit end means "not found"
    assert r.bitpos("ones", 0, 0, -1) == -1
    assert c.call("BITPOS", "ones", "0", "0", "23", "BIT") == -1
    assert r.bitpos("ones", 1) == 0


def test_bitpos_missing_key_and_errors(r, c):
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    r.set("k", "a")
    assert c.call("BITPOS", "k", "2") == "ERR The bit argument must be 1 or 0."
    assert c.call("BITPOS", "k", "1", "x") == NOT_INT
    assert c.call("BITPOS", "k", "1", "0", "1", "BOGUS") == SYNTAX
    assert c.call("BITPOS", "k") == wrong_args("bitpos")
