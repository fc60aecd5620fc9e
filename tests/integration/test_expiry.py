"""Keys with a TTL really expire."""

import time

from helpers import wait_until


def test_key_with_100ms_ttl_disappears(r, c):
    r.set("short", "v", px=100)
    r.set("untouched", "v", px=100)
    r.set("forever", "v")
    assert r.get("short") == b"v"
    assert r.exists("short") == 1
    assert 0 < r.pttl("short") <= 100
    time.sleep(0.25)
    assert r.get("short") is None
    assert c.call_raw("GET", "short") == b"$-1\r\n"
    assert r.exists("short") == 0
    assert r.ttl("short") == -2
    assert r.pttl("short") == -2
    assert r.keys("*") == [b"forever"]
    assert r.exists("untouched") == 0
    # keys that are never touched again are reclaimed in the background
    assert wait_until(lambda: r.dbsize() == 1, timeout=2.0), r.dbsize()
    assert r.get("forever") == b"v"


def test_expired_keys_not_counted_by_dbsize(r):
    for i in range(50):
        r.set("tmp:%d" % i, i, px=100)
    r.set("keep", 1)
    assert r.dbsize() == 51
    time.sleep(0.2)
    assert wait_until(lambda: r.dbsize() == 1, timeout=2.0), r.dbsize()
    assert r.keys() == [b"keep"]


def test_expire_seconds(r):
    r.set("k", "v")
    r.expire("k", 1)
    assert r.ttl("k") == 1
    time.sleep(1.15)
    assert r.get("k") is None
    assert r.exists("k") == 0


def test_expired_key_hidden_from_everything(r, c):
    r.mset({"a": "1", "b": "2"})
    r.pexpire("a", 100)
    time.sleep(0.2)
    assert r.mget("a", "b") == [None, b"2"]
    assert r.exists("a", "b") == 1
    assert r.type("a") == b"none"
    assert list(r.scan_iter()) == [b"b"]
    assert r.strlen("a") == 0
    assert r.getrange("a", 0, -1) == b""
    assert c.call("RENAME", "a", "z") == "ERR no such key"
    assert r.persist("a") is False
    assert r.expire("a", 100) is False
    assert r.execute_command("EXPIRETIME", "a") == -2
    assert r.copy("a", "z") is False
    assert r.randomkey() == b"b"


def test_write_to_expired_key_starts_fresh(r):
    r.set("n", "10", px=100)
    r.set("s", "abc", px=100)
    r.set("x", "old", px=100)
    r.set("g", "old", px=100)
    time.sleep(0.2)
    assert r.incr("n") == 1
    assert r.ttl("n") == -1
    assert r.append("s", "d") == 1
    assert r.get("s") == b"d"
    assert r.setnx("x", "new") is True
    assert r.ttl("x") == -1
    assert r.set("g", "v", get=True) is None


def test_expire_negative_or_past_deletes(r):
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.expire("a", -10) is True
    assert r.pexpireat("b", 1) is True
    assert r.expireat("c", int(time.time()) - 5) is True
    assert r.exists("a", "b", "c") == 0
    assert r.dbsize() == 0


def test_set_without_keepttl_clears_ttl(r):
    r.set("k", "v", px=200)
    r.set("k", "v2")
    assert r.ttl("k") == -1
    time.sleep(0.3)
    assert r.get("k") == b"v2"


def test_keepttl_still_expires(r):
    r.set("k", "v", px=150)
    r.set("k", "v2", keepttl=True)
    time.sleep(0.3)
    assert r.get("k") is None


def test_persist_prevents_expiry(r):
    r.set("k", "v", px=100)
    assert r.persist("k") is True
    time.sleep(0.2)
    assert r.get("k") == b"v"


def test_getex_px_then_expires(r):
    r.set("k", "v")
    assert r.getex("k", px=100) == b"v"
    time.sleep(0.2)
    assert r.get("k") is None


def test_rename_keeps_deadline(r):
    r.set("a", "v", px=150)
    r.rename("a", "b")
    assert 0 < r.pttl("b") <= 150
    time.sleep(0.3)
    assert r.exists("a", "b") == 0


def test_ttl_counts_down(r):
    r.set("k", "v", px=2000)
    p1 = r.pttl("k")
    time.sleep(0.2)
    p2 = r.pttl("k")
    assert p1 - p2 >= 150
    assert p2 > 0


def test_expiry_in_other_db(server):
    r3 = server.client(db=3)
    try:
        r3.set("k", "v", px=100)
        time.sleep(0.2)
        assert r3.get("k") is None
        assert wait_until(lambda: r3.dbsize() == 0)
    finally:
        r3.close()


def test_info_keyspace_expires(r):
    r.set("a", 1, ex=100)
    r.set("b", 1, ex=100)
    r.set("c", 1)
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 3
    assert ks["db0"]["expires"] == 2
    r.persist("a")
    assert r.info("keyspace")["db0"]["expires"] == 1
