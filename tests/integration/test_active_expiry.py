"""Active expiry: keys whose TTL passes are removed without anybody reading them, within a
few seconds, for every type, recorded as DEL in their database's change stream, with
bounded work (clients keep being served) and without ever removing a key a client has just
given a new life (another TTL, PERSIST, a SET without TTL)."""

import os
import random
import threading
import time

import pytest

from conftest import IS_REDIS, tidekv_only
from helpers import META_CF, forge, ns, string_meta, wait_until
from test_cdc_helpers import poll_all, seq


def expired_keys(c):
    return int(c.info("stats")["expired_keys"])


def deleted(c, since):
    """The (db, key) of every DEL recorded after sequence `since` (tidekv only)."""
    if IS_REDIS:
        return None
    return {(u["db"], cmd[1]) for u in poll_all(c, since, "RESP")
            for cmd in u["commands"] if cmd[0] == b"DEL"}


def make_one_of_each_type(c, prefix, px):
    """A key of each type with a TTL of px ms; their names."""
    names = [prefix + t for t in ("str", "hash", "list", "set", "zset", "bits")]
    p = c.pipeline(transaction=False)
    p.set(names[0], "v", px=px)
    p.hset(names[1], mapping={"f1": "a", "f2": "b"})
    p.rpush(names[2], "a", "b", "c")
    p.sadd(names[3], "a", "b")
    p.zadd(names[4], {"a": 1, "b": 2})
    p.setbit(names[5], 100, 1)
    for n in names[1:]:
        p.pexpire(n, px)
    p.execute()
    return names


@pytest.mark.soak  # long: runs under make soak
def test_untouched_keys_of_every_type_go(server):
    """Keys nobody reads again disappear (DBSIZE, INFO keyspace, KEYS, SCAN) and each is
    recorded as DEL in its own database."""
    c0 = server.client(db=0)
    c3 = server.client(db=3)
    c0.flushall()
    base = expired_keys(c0)
    since = None if IS_REDIS else seq(c0)
    names0 = make_one_of_each_type(c0, "a:", 300)
    names3 = make_one_of_each_type(c3, "b:", 300)
    c0.set("forever", "v")
    total = len(names0) + len(names3)
    assert wait_until(lambda: expired_keys(c0) - base >= total, timeout=8), (expired_keys(c0) - base, total)
    assert expired_keys(c0) - base == total
    assert c0.dbsize() == 1 and c3.dbsize() == 0
    assert c0.keys("*") == [b"forever"] and c3.keys("*") == []
    assert c3.scan(0, count=100) == (0, [])
    ks = c0.info("keyspace")
    assert ks["db0"]["keys"] == 1 and "db3" not in ks
    if not IS_REDIS:
        dels = deleted(c0, since)
        assert {(0, n.encode()) for n in names0} <= dels
        assert {(3, n.encode()) for n in names3} <= dels
    c0.close()
    c3.close()


@pytest.mark.soak  # long: runs under make soak
def test_keys_given_a_new_life_stay(server):
    """A key whose TTL was extended, removed (PERSIST) or that was re-SET without one after it
    was given a short TTL is not removed when the short TTL passes; nor is a key re-created
    after FLUSHDB under the name of one that had a TTL."""
    c = server.client()
    c.flushall()
    base = expired_keys(c)
    since = None if IS_REDIS else seq(c)
    c.set("flushed", "v", px=300)
    c.flushdb()
    c.set("flushed", "new")
    for k in ("extended", "persisted", "reset", "control"):
        c.set(k, "v", px=300)
    c.hset("hpersisted", "f", "v")
    c.pexpire("hpersisted", 300)
    c.pexpire("extended", 60000)
    c.persist("persisted")
    c.persist("hpersisted")
    c.set("reset", "w")
    # the control key's removal shows the cycle went past the others' first expiry
    assert wait_until(lambda: expired_keys(c) - base >= 1, timeout=8)
    time.sleep(0.3)
    assert c.exists("control") == 0
    assert (c.get("extended"), c.get("persisted"), c.get("reset")) == (b"v", b"v", b"w")
    assert c.hgetall("hpersisted") == {b"f": b"v"}
    assert c.get("flushed") == b"new"
    assert expired_keys(c) - base == 1
    if not IS_REDIS:
        assert deleted(c, since) == {(0, b"control")}
    c.close()


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_keys_on_disk_at_restart_go(make_server):
    """Keys that expired while the server was down (after a kill -9) are removed after the
    restart, each recorded as DEL."""
    s = make_server()
    c = s.client()
    names = make_one_of_each_type(c, "r:", 400)
    c.set("forever", "v")
    c.close()
    s.kill9()
    time.sleep(0.6)
    s.start()
    c = s.client()
    since = 0
    assert wait_until(lambda: expired_keys(c) >= len(names), timeout=8), expired_keys(c)
    assert {(0, n.encode()) for n in names} <= deleted(c, since)
    assert c.keys("*") == [b"forever"]
    c.close()


@tidekv_only
def test_keys_from_before_the_index_are_indexed_at_start(make_server):
    """A database written before the expiry index existed (records with an expiry, no index
    entry: forged here, the file saying the index is complete removed) is indexed at start-up,
    and its expired keys then go like any other."""
    s = make_server()
    s.stop()
    os.remove(os.path.join(s.datadir, "expire-index"))
    past = int(time.time() * 1000) - 1000
    forge(s, [(META_CF, ns(0) + b"old%d" % i, string_meta(b"v", past)) for i in range(3)] +
          [(META_CF, ns(0) + b"kept", string_meta(b"v", 0))])
    c = s.client()
    assert wait_until(lambda: expired_keys(c) >= 3, timeout=8), expired_keys(c)
    assert {(0, b"old%d" % i) for i in range(3)} <= deleted(c, 0)
    assert c.keys("*") == [b"kept"]
    assert os.path.exists(os.path.join(s.datadir, "expire-index"))
    c.close()


@pytest.mark.soak  # long: runs under make soak
def test_many_keys_go_while_clients_are_served(server):
    """200k keys expiring within a second or two are all removed, by work spread over time:
    a client's PING keeps answering promptly meanwhile."""
    c = server.client()
    c.flushall()
    base = expired_keys(c)
    n = 200_000
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("many:%d" % i, "v", px=1000)
        if i % 5000 == 4999:
            p.execute()
    p.execute()
    latencies = []
    pinger = server.client()
    deadline = time.monotonic() + 60
    while expired_keys(c) - base < n and time.monotonic() < deadline:
        t0 = time.monotonic()
        pinger.ping()
        latencies.append(time.monotonic() - t0)
        time.sleep(0.01)
    assert expired_keys(c) - base == n
    assert c.dbsize() == 0
    latencies.sort()
    assert latencies, "the keys went before the first PING"
    p99 = latencies[int(len(latencies) * 0.99)]
    assert p99 < 0.1, "PING p99 %.1f ms while keys expired" % (p99 * 1000)
    pinger.close()
    c.close()


@pytest.mark.soak  # long: runs under make soak
def test_keys_rewritten_at_their_expiry_keep_acknowledged_writes(server):
    """Writers re-SET or PERSIST keys right around their expiry while the cycle removes
    expired ones: every acknowledged value and every successful PERSIST stands."""
    c = server.client()
    c.flushall()
    errors = []
    finals = {}
    lock = threading.Lock()

    def writer(w):
        cl = server.client()
        rnd = random.Random(w)
        try:
            for i in range(150):
                key = "race:%d:%d" % (w, i % 8)
                cl.set(key, "short", px=rnd.randint(5, 30))
                time.sleep(rnd.randint(0, 35) / 1000)
                if rnd.random() < 0.5:
                    value = "final:%d" % i
                    cl.set(key, value)
                    if cl.get(key) != value.encode():
                        errors.append((key, value))
                elif cl.persist(key):
                    value = "short"
                else:
                    value = None  # expired before the PERSIST: gone, or removed soon
                with lock:
                    finals[key] = value
        finally:
            cl.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    time.sleep(0.5)  # any key left to expire has gone by now
    for key, value in finals.items():
        assert c.get(key) == (value.encode() if value else None), key
    c.close()


def test_effort_and_hz_are_settings(r):
    assert r.config_get("active-expire-effort") == {"active-expire-effort": "1"}
    assert r.config_set("active-expire-effort", 10)
    assert r.config_get("active-expire-effort") == {"active-expire-effort": "10"}
    with pytest.raises(Exception, match="must be between 1 and 10"):
        r.config_set("active-expire-effort", 11)
    r.config_set("active-expire-effort", 1)
    assert "expire_cycle_cpu_milliseconds" in r.info("stats")
