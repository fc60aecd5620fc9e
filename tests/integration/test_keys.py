"""Generic key-space commands."""

import time

import pytest
import redis

from conftest import tidekv_only
from helpers import wrong_args

SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
INCOMPAT_NX = "ERR NX and XX, GT or LT options at the same time are not compatible"
INCOMPAT_GT = "ERR GT and LT options at the same time are not compatible"


# ---------------------------------------------------------------- DEL / UNLINK / EXISTS / TYPE

def test_del(r, c):
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.delete("a") == 1
    assert r.delete("a") == 0
    assert r.delete("b", "c", "nokey") == 2
    assert r.dbsize() == 0
    r.set("d", 1)
    # a key given twice is deleted once
    assert c.call("DEL", "d", "d") == 1
    assert c.call("DEL") == wrong_args("del")


def test_unlink(r, c):
    r.mset({"a": 1, "b": 2})
    assert r.unlink("a", "b", "x") == 2
    assert r.exists("a", "b") == 0
    assert c.call("UNLINK") == wrong_args("unlink")


def test_exists_counts_duplicates(r, c):
    r.set("a", 1)
    r.set("b", 2)
    assert r.exists("a") == 1
    assert r.exists("nokey") == 0
    assert r.exists("a", "b", "nokey") == 2
    assert r.exists("a", "a", "a") == 3
    assert c.call("EXISTS", "a", "a", "nokey", "b") == 3
    assert c.call("EXISTS") == wrong_args("exists")


def test_type(r, c):
    r.set("s", "v")
    assert c.call_raw("TYPE", "s") == b"+string\r\n"
    assert c.call_raw("TYPE", "nokey") == b"+none\r\n"
    r.incr("n")
    assert r.type("n") == b"string"


def test_binary_keys_round_trip(r, c):
    keys = [b"\x00", b"a\x00b", b"\xff\xfe", b"line\r\nbreak", b"\r\n", b"sp ace", b"\x00\xff\r\n\t",
            "üñí©ødé".encode("utf-8")]
    for i, k in enumerate(keys):
        assert r.set(k, b"v%d" % i) is True
    for i, k in enumerate(keys):
        assert r.get(k) == b"v%d" % i
        assert r.exists(k) == 1
        assert r.type(k) == b"string"
    assert sorted(r.keys("*")) == sorted(keys)
    assert sorted(r.scan_iter()) == sorted(keys)
    assert r.dbsize() == len(keys)
    assert r.rename(b"\x00", b"\xff\x00") is True
    assert r.get(b"\xff\x00") == b"v0"
    assert r.expire(b"line\r\nbreak", 100) is True
    assert r.ttl(b"line\r\nbreak") > 0
    assert r.delete(*keys[1:]) == len(keys) - 1
    assert r.keys() == [b"\xff\x00"]
    # a key that is a prefix of another key is a different key
    r.set(b"ab", b"1")
    r.set(b"ab\x00", b"2")
    r.set(b"a", b"3")
    assert r.get(b"ab") == b"1"
    assert r.get(b"ab\x00") == b"2"
    r.delete(b"ab")
    assert r.get(b"ab\x00") == b"2"
    assert r.get(b"a") == b"3"


def test_empty_key(r):
    assert r.set(b"", b"empty-key") is True
    assert r.get(b"") == b"empty-key"
    assert r.exists(b"") == 1
    assert r.keys() == [b""]
    assert r.delete(b"") == 1


# ---------------------------------------------------------------- EXPIRE family

def test_expire_ttl_pttl(r, c):
    assert r.ttl("nokey") == -2
    assert r.pttl("nokey") == -2
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99000 <= r.pttl("k") <= 100000
    assert r.pexpire("k", 200000) is True
    assert 199 <= r.ttl("k") <= 200
    assert r.expire("nokey", 100) is False
    assert r.pexpire("nokey", 100) is False
    assert c.call("EXPIRE", "k", "abc") == NOT_INT
    assert c.call("EXPIRE", "k", "1.5") == NOT_INT
    assert c.call("EXPIRE", "k") == wrong_args("expire")
    assert c.call("EXPIRE", "k", "10", "BOGUS") == "ERR Unsupported option BOGUS"
    assert c.call("EXPIRE", "k", "9223372036854775807") == "ERR invalid expire time in 'expire' command"
    assert c.call("PEXPIRE", "k", "9223372036854775807") == "ERR invalid expire time in 'pexpire' command"
    assert c.call("EXPIREAT", "k", "9223372036854775807") == "ERR invalid expire time in 'expireat' command"
    assert 199 <= r.ttl("k") <= 200


def test_expireat_pexpireat(r):
    r.set("k", "v")
    now = int(time.time())
    assert r.expireat("k", now + 100) is True
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("EXPIRETIME", "k") == now + 100
    assert r.execute_command("PEXPIRETIME", "k") == (now + 100) * 1000
    assert r.pexpireat("k", now * 1000 + 200123) is True
    assert r.execute_command("PEXPIRETIME", "k") == now * 1000 + 200123
    assert r.execute_command("EXPIRETIME", "k") == now + 200
    assert r.expireat("nokey", now + 100) is False


def test_expiretime_special_values(r):
    assert r.execute_command("EXPIRETIME", "nokey") == -2
    assert r.execute_command("PEXPIRETIME", "nokey") == -2
    r.set("k", "v")
    assert r.execute_command("EXPIRETIME", "k") == -1
    assert r.execute_command("PEXPIRETIME", "k") == -1


def test_expire_nx_xx_gt_lt(r, c):
    r.set("k", "v")
    # XX: only when the key has a TTL
    assert c.call("EXPIRE", "k", "100", "XX") == 0
    assert r.ttl("k") == -1
    # GT: no TTL counts as infinite, so GT never applies
    assert c.call("EXPIRE", "k", "100", "GT") == 0
    assert r.ttl("k") == -1
    # LT: no TTL = infinite, so any TTL is lower
    assert c.call("EXPIRE", "k", "100", "LT") == 1
    assert 99 <= r.ttl("k") <= 100
    # NX: only when no TTL
    assert c.call("EXPIRE", "k", "200", "NX") == 0
    assert 99 <= r.ttl("k") <= 100
    assert c.call("EXPIRE", "k", "200", "XX") == 1
    assert 199 <= r.ttl("k") <= 200
    assert c.call("EXPIRE", "k", "100", "GT") == 0
    assert c.call("EXPIRE", "k", "300", "GT") == 1
    assert 299 <= r.ttl("k") <= 300
    assert c.call("EXPIRE", "k", "400", "LT") == 0
    assert c.call("EXPIRE", "k", "50", "LT") == 1
    assert 49 <= r.ttl("k") <= 50
    assert c.call("EXPIRE", "k", "60", "XX", "GT") == 1
    assert 59 <= r.ttl("k") <= 60
    r.persist("k")
    assert c.call("EXPIRE", "k", "200", "NX") == 1
    assert 199 <= r.ttl("k") <= 200
    # redis-py keyword arguments
    assert r.expire("k", 500, gt=True) is True
    assert r.expire("k", 100, nx=True) is False
    assert r.pexpire("k", 1000000, xx=True) is True
    assert r.pexpire("k", 2000000, lt=True) is False
    # options are case-insensitive
    assert c.call("PEXPIRE", "k", "10000", "lt") == 1


def test_expire_options_incompatible(r, c):
    r.set("k", "v")
    for cmd, t in (("EXPIRE", "100"), ("PEXPIRE", "100000"),
                   ("EXPIREAT", str(int(time.time()) + 100)),
                   ("PEXPIREAT", str(int(time.time() * 1000) + 100000))):
        assert c.call(cmd, "k", t, "NX", "XX") == INCOMPAT_NX
        assert c.call(cmd, "k", t, "NX", "GT") == INCOMPAT_NX
        assert c.call(cmd, "k", t, "NX", "LT") == INCOMPAT_NX
        assert c.call(cmd, "k", t, "GT", "LT") == INCOMPAT_GT
    assert r.ttl("k") == -1
    with pytest.raises(redis.ResponseError,
                       match="^NX and XX, GT or LT options at the same time are not compatible$"):
        r.expire("k", 10, nx=True, xx=True)


def test_expireat_options(r, c):
    r.set("k", "v")
    now = int(time.time())
    assert c.call("EXPIREAT", "k", str(now + 100), "XX") == 0
    assert c.call("EXPIREAT", "k", str(now + 100), "NX") == 1
    assert c.call("EXPIREAT", "k", str(now + 50), "GT") == 0
    assert c.call("EXPIREAT", "k", str(now + 150), "GT") == 1
    assert c.call("PEXPIREAT", "k", str(now * 1000 + 120000), "LT") == 1
    assert r.execute_command("PEXPIRETIME", "k") == now * 1000 + 120000


def test_expire_in_the_past_deletes(r, c):
    r.mset({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert r.expire("a", -1) is True
    assert r.exists("a") == 0
    assert r.pexpire("b", 0) is True
    assert r.exists("b") == 0
    assert r.expireat("c", 1) is True
    assert r.exists("c") == 0
    assert r.pexpireat("d", int(time.time() * 1000) - 1000) is True
    assert r.exists("d") == 0
    assert c.call("PEXPIRE", "e", "-9223372036854775808") == 1
    assert r.exists("e") == 0
    assert r.dbsize() == 0
    assert r.expire("a", -1) is False


def test_persist(r):
    r.set("k", "v")
    assert r.persist("k") is False
    r.expire("k", 100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.persist("nokey") is False
    assert r.get("k") == b"v"


# ---------------------------------------------------------------- KEYS

def test_keys_patterns(r, c):
    names = ["hello", "hallo", "hxllo", "hllo", "heeeello", "hillo", "hbllo", "h*llo", "h?llo",
             "foo", "foo:bar", "foo:baz", "x[y]", "back\\slash"]
    for n in names:
        r.set(n, 1)

    def keys(p):
        return sorted(k.decode() for k in r.keys(p))

    assert keys("*") == sorted(names)
    assert keys("h?llo") == sorted(["hello", "hallo", "hxllo", "hillo", "hbllo", "h*llo", "h?llo"])
    assert keys("h*llo") == sorted(["hello", "hallo", "hxllo", "hllo", "heeeello", "hillo", "hbllo",
                                    "h*llo", "h?llo"])
    assert keys("h[ae]llo") == ["hallo", "hello"]
    assert keys("h[^e]llo") == sorted(["hallo", "hxllo", "hillo", "hbllo", "h*llo", "h?llo"])
    # only '^' negates a class in Redis globs; '!' is an ordinary member
    assert keys("h[!e]llo") == ["hello"]
    assert keys("h[a-b]llo") == ["hallo", "hbllo"]
    assert keys(r"h\*llo") == ["h*llo"]
    assert keys(r"h\?llo") == ["h?llo"]
    assert keys(r"x\[y\]") == ["x[y]"]
    assert keys("back\\\\slash") == ["back\\slash"]
    assert keys("foo:*") == ["foo:bar", "foo:baz"]
    assert keys("foo") == ["foo"]
    assert keys("nomatch*") == []
    assert keys("*o") == sorted(["hello", "hallo", "hxllo", "hllo", "heeeello", "hillo", "hbllo",
                                 "h*llo", "h?llo", "foo"])
    assert c.call("KEYS") == wrong_args("keys")


def test_keys_skips_other_databases_and_expired(r, server):
    r.set("a", 1)
    r.set("b", 1, px=1)
    r1 = server.client(db=1)
    try:
        r1.set("c", 1)
        time.sleep(0.05)
        assert r.keys("*") == [b"a"]
        assert r1.keys("*") == [b"c"]
    finally:
        r1.close()


# ---------------------------------------------------------------- SCAN

def test_scan_iter_1000_keys_each_once(r):
    expected = {b"key:%d" % i for i in range(1000)}
    pipe = r.pipeline(transaction=False)
    for k in expected:
        pipe.set(k, b"v")
    pipe.execute()
    seen = []
    for k in r.scan_iter(count=50):
        seen.append(k)
    assert len(seen) == 1000
    assert set(seen) == expected
    # default COUNT as well
    assert sorted(r.scan_iter()) == sorted(expected)


def test_scan_with_concurrent_modification(r, server):
    """Keys present for the whole iteration are returned at least once even
    while other keys are added and removed."""
    stable = {b"stable:%d" % i for i in range(500)}
    pipe = r.pipeline(transaction=False)
    for k in stable:
        pipe.set(k, 1)
    for i in range(500):
        pipe.set(b"volatile:%d" % i, 1)
    pipe.execute()
    other = server.client()
    seen = set()
    try:
        n = 0
        for k in r.scan_iter(count=25):
            seen.add(k)
            n += 1
            if n % 10 == 0:
                other.delete(b"volatile:%d" % (n // 10))
                other.set(b"new:%d" % n, 1)
    finally:
        other.close()
    assert stable <= seen, sorted(stable - seen)[:10]


def test_scan_cursor_protocol(r, c):
    for i in range(100):
        r.set("k%d" % i, i)
    cursor = b"0"
    seen = []
    rounds = 0
    while True:
        reply = c.call("SCAN", cursor, "COUNT", "10")
        assert isinstance(reply, list) and len(reply) == 2
        cursor, batch = reply
        assert isinstance(cursor, bytes) and cursor.isdigit()
        seen.extend(batch)
        rounds += 1
        if cursor == b"0":
            break
        assert rounds < 1000
    assert len(seen) == 100 and len(set(seen)) == 100
    assert rounds > 1


def test_scan_match(r):
    for i in range(200):
        r.set("user:%d" % i, i)
        r.set("item:%d" % i, i)
    users = set(r.scan_iter(match="user:*", count=20))
    assert users == {b"user:%d" % i for i in range(200)}
    assert set(r.scan_iter(match="item:1?", count=20)) == {b"item:1%d" % i for i in range(10)}
    assert list(r.scan_iter(match="nothing*")) == []


def test_scan_type(r, c):
    for i in range(50):
        r.set("s%d" % i, i)
    assert len(set(r.scan_iter(_type="string", count=10))) == 50
    assert set(r.scan_iter(_type="string", match="s1*")) == {b"s1"} | {b"s1%d" % i for i in range(10)}
    assert list(r.scan_iter(_type="list")) == []
    assert list(r.scan_iter(_type="hash")) == []


def test_scan_errors(c):
    assert c.call("SCAN", "abc") == "ERR invalid cursor"
    assert c.call("SCAN", "0", "COUNT", "0") == SYNTAX
    assert c.call("SCAN", "0", "COUNT", "abc") == NOT_INT
    assert c.call("SCAN", "0", "BOGUS", "1") == SYNTAX
    assert c.call("SCAN", "0", "MATCH") == SYNTAX
    assert c.call("SCAN") == wrong_args("scan")


def test_scan_empty_db(r, c):
    assert c.call("SCAN", "0") == [b"0", []]


def full_scan(r, cursor=0, count=10, **kw):
    """Every key a scan from cursor returns (duplicates kept) and how many calls it took."""
    seen, calls = [], 0
    while True:
        cursor, keys = r.scan(cursor, count=count, **kw)
        seen += keys
        calls += 1
        if cursor == 0:
            return seen, calls


def test_scan_accepts_any_unsigned_64_bit_cursor(r, c):
    """Redis never refuses a number as a cursor (strtoul: a sign is allowed, -1 wraps); a
    made-up one resumes somewhere. Only what is not a number is refused."""
    for i in range(50):
        r.set("k%d" % i, i)
    for cursor in ("18446744073709551615", "9223372036854775808", "12345678901234567", "1", "-1", "+7",
                   "00012", ""):
        reply = c.call("SCAN", cursor, "COUNT", "5")
        assert isinstance(reply, list) and len(reply) == 2, (cursor, reply)
        assert reply[0].isdigit() and 0 <= int(reply[0]) < 2 ** 64, (cursor, reply)
        assert set(reply[1]) <= {b"k%d" % i for i in range(50)}
    for cursor in ("18446744073709551616", "1.5", " 1", "1 ", "0x10", "abc", "99999999999999999999999"):
        assert c.call("SCAN", cursor) == "ERR invalid cursor", cursor


@pytest.mark.soak  # long: runs under make soak
def test_scan_cursor_is_not_forgotten_after_many_other_scans(r):
    """A cursor still resumes after many thousands of other scans have handed out cursors."""
    keys = {b"key:%04d" % i for i in range(300)}
    r.mset({k: 1 for k in keys})
    cursor, first = r.scan(0, count=100)
    assert cursor != 0
    pipe = r.pipeline(transaction=False)
    for i in range(6000):
        pipe.scan(0, count=1 + i % 5)
    assert all(rep[0] != 0 for rep in pipe.execute())
    rest, _ = full_scan(r, cursor, count=100)
    assert set(first) | set(rest) == keys


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
def test_interleaved_scans_each_see_every_key(r):
    keys = {b"user:%d" % i for i in range(1500)}
    r.mset({k: 1 for k in keys})
    scans = [{"cursor": 0, "seen": set(), "count": 3 + i % 20} for i in range(40)]
    active = list(scans)
    while active:
        for scan in list(active):
            scan["cursor"], got = r.scan(scan["cursor"], count=scan["count"])
            scan["seen"].update(got)
            if scan["cursor"] == 0:
                active.remove(scan)
    assert all(scan["seen"] == keys for scan in scans)


@tidekv_only
def test_scan_cursor_survives_a_restart(make_server):
    server = make_server()
    r = server.client()
    keys = {b"session:%08x" % (i * 2654435761 % 2 ** 32) for i in range(2000)}
    r.mset({k: 1 for k in keys})
    seen = set()
    cursor = 0
    for _ in range(50):
        cursor, got = r.scan(cursor, count=10)
        seen.update(got)
    assert cursor != 0 and len(seen) < len(keys)
    r.close()
    server.restart()
    r = server.client()
    rest, _ = full_scan(r, cursor)
    assert seen | set(rest) == keys
    r.close()


def test_scan_keys_with_long_shared_prefixes(r):
    """Keys sharing long prefixes still come a page at a time, each once; keys sharing a prefix
    longer than a cursor can tell apart all come in one page (Redis allows that)."""
    long_prefix = "tenant:%s:" % ("x" * 300)
    keys = {(long_prefix + "user:%d" % i).encode() for i in range(1000)}
    keys |= {(long_prefix + "order:%d" % i).encode() for i in range(1000)}
    r.mset({k: 1 for k in keys})
    seen, calls = full_scan(r, count=20)
    assert len(seen) == len(keys) and set(seen) == keys
    assert calls >= 80
    r.flushall()
    huge_prefix = "y" * 3000
    keys = {(huge_prefix + "%d" % i).encode() for i in range(30)}
    r.mset({k: 1 for k in keys})
    seen, _ = full_scan(r, count=5)
    assert set(seen) == keys


def test_scan_with_writes_under_the_same_long_prefixes(r, server):
    """Keys present for the whole scan are all returned while keys sharing their prefixes come
    and go around them (the cursor is coded against the keys' shared prefixes)."""
    stable = {b"app:cache:entry:%05d:stable" % i for i in range(1200)}
    volatile = [b"app:cache:entry:%05d:volatile" % i for i in range(1200)]
    r.mset({k: 1 for k in stable})
    r.mset({k: 1 for k in volatile})
    other = server.client()
    seen = set()
    try:
        cursor, step = 0, 0
        while True:
            cursor, got = r.scan(cursor, count=15)
            seen.update(got)
            step += 1
            gone = volatile[step * 7:step * 7 + 7]
            if gone:
                other.delete(*gone)
            other.set(b"app:cache:entry:%05d:new" % (step * 13 % 1200), 1)
            other.set(b"app:%d" % step, 1)
            other.set(b"zzz:%d" % step, 1)
            other.set(b"a%d" % step, 1)
            if cursor == 0:
                break
    finally:
        other.close()
    assert stable <= seen, sorted(stable - seen)[:5]


# ---------------------------------------------------------------- RANDOMKEY

def test_randomkey(r, c):
    assert r.randomkey() is None
    assert c.call_raw("RANDOMKEY") == b"$-1\r\n"
    r.set("only", 1)
    assert r.randomkey() == b"only"
    for i in range(10):
        r.set("k%d" % i, 1)
    names = set(r.keys())
    for _ in range(20):
        assert r.randomkey() in names


def test_randomkey_spreads_over_keys_sharing_a_prefix(r):
    keys = {b"prefix:%d" % i for i in range(100)}
    r.mset({k: 1 for k in keys})
    picks = [r.randomkey() for _ in range(200)]
    assert set(picks) <= keys
    assert len(set(picks)) >= 40, len(set(picks))
    r.flushall()
    keys = {b"session:%032x" % (i * 0x9E3779B97F4A7C15 % 2 ** 128) for i in range(100)}
    r.mset({k: 1 for k in keys})
    picks = [r.randomkey() for _ in range(200)]
    assert set(picks) <= keys and len(set(picks)) >= 40, len(set(picks))


def test_randomkey_skips_expired_keys(r):
    for i in range(30):
        r.set(b"gone:%d" % i, 1, px=50)
    r.set(b"kept", 1)
    r.set(b"zzz", 1)
    time.sleep(0.15)
    assert {r.randomkey() for _ in range(50)} <= {b"kept", b"zzz"}
    r.delete(b"kept", b"zzz")
    r.set(b"last", 1, px=30)
    time.sleep(0.1)
    assert r.randomkey() is None


# ---------------------------------------------------------------- RENAME / RENAMENX

def test_rename(r, c):
    r.set("a", "1", ex=100)
    assert r.rename("a", "b") is True
    assert r.exists("a") == 0
    assert r.get("b") == b"1"
    assert 99 <= r.ttl("b") <= 100  # TTL moves with the key
    r.set("c", "3")
    assert r.rename("c", "b") is True  # overwrites, including the TTL
    assert r.get("b") == b"3"
    assert r.ttl("b") == -1
    assert c.call("RENAME", "nokey", "x") == "ERR no such key"
    # renaming a key onto itself is fine
    assert c.call("RENAME", "b", "b") == "OK"
    assert r.get("b") == b"3"
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.rename("nokey", "x")


def test_renamenx(r, c):
    r.set("a", "1")
    r.set("b", "2")
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1" and r.get("b") == b"2"
    assert r.renamenx("a", "c") is True
    assert r.exists("a") == 0 and r.get("c") == b"1"
    assert c.call("RENAMENX", "nokey", "x") == "ERR no such key"
    assert c.call("RENAMENX", "c", "c") == 0


# ---------------------------------------------------------------- COPY

def test_copy(r, c, server):
    r.set("src", "v", ex=100)
    assert r.copy("src", "dst") is True
    assert r.get("dst") == b"v"
    assert 99 <= r.ttl("dst") <= 100  # TTL is copied
    assert r.get("src") == b"v"
    r.set("src", "v2")
    assert r.copy("src", "dst") is False  # destination exists
    assert r.get("dst") == b"v"
    assert r.copy("src", "dst", replace=True) is True
    assert r.get("dst") == b"v2"
    assert r.ttl("dst") == -1
    assert r.copy("nokey", "x") is False
    assert r.exists("x") == 0
    # independent copies
    r.append("dst", "!")
    assert r.get("src") == b"v2"


def test_copy_db(r, c, server):
    r.set("src", "v")
    assert c.call("COPY", "src", "src", "DB", "2") == 1
    r2 = server.client(db=2)
    try:
        assert r2.get("src") == b"v"
        assert c.call("COPY", "src", "src", "DB", "2") == 0
        r.set("src", "new")
        assert c.call("COPY", "src", "src", "DB", "2", "REPLACE") == 1
        assert r2.get("src") == b"new"
        assert r.copy("src", "other", destination_db=2) is True
        assert r2.get("other") == b"new"
    finally:
        r2.close()


def test_copy_errors(r, c):
    r.set("k", "v")
    assert c.call("COPY", "k", "k") == "ERR source and destination objects are the same"
    assert c.call("COPY", "k", "k2", "DB", "99") == "ERR DB index is out of range"
    assert c.call("COPY", "k", "k2", "DB", "abc") == NOT_INT
    assert c.call("COPY", "k", "k2", "BOGUS") == SYNTAX
    assert c.call("COPY", "k") == wrong_args("copy")


@pytest.mark.parametrize("transaction", [False, True])
def test_rename_and_copy_see_writes_earlier_in_the_same_batch(r, transaction):
    """A pipeline (one write batch) or MULTI that writes members and then renames or copies
    the key moves the members written just before too."""
    p = r.pipeline(transaction=transaction)
    p.hset("h", mapping={"f1": "v1", "f2": "v2"}).rename("h", "h2")
    p.rpush("l", "a", "b").copy("l", "l2")
    p.zadd("z", {"m1": 1, "m2": 2}).rename("z", "z2")
    p.sadd("s", "x").sadd("s", "y").srem("s", "x").copy("s", "s2")
    p.execute()
    assert r.hgetall("h2") == {b"f1": b"v1", b"f2": b"v2"}
    assert r.lrange("l2", 0, -1) == [b"a", b"b"]
    assert r.zrange("z2", 0, -1, withscores=True) == [(b"m1", 1.0), (b"m2", 2.0)]
    assert r.smembers("s2") == {b"y"}


# ---------------------------------------------------------------- TOUCH

def test_touch(r, c):
    r.mset({"a": 1, "b": 2})
    assert r.touch("a", "b", "nokey") == 2
    assert c.call("TOUCH", "a", "a") == 2
    assert c.call("TOUCH", "nokey") == 0
    assert c.call("TOUCH") == wrong_args("touch")


# ---------------------------------------------------------------- cross-db isolation

def test_move_between_dbs_isolated(r, server):
    r.set("shared", "db0")
    r5 = server.client(db=5)
    try:
        assert r5.get("shared") is None
        r5.set("shared", "db5")
        assert r.get("shared") == b"db0"
        r.delete("shared")
        assert r5.get("shared") == b"db5"
        assert r.dbsize() == 0 and r5.dbsize() == 1
    finally:
        r5.close()
