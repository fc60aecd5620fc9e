"""Collections after many deletions: pops and walks seek past remembered bounds of the live
members (so they do not step over every tombstone), random picks seek to random points, and
ranges full of tombstones get compacted. These tests check the answers stay exact while that
happens: members added below (or above) an old bound, in transactions, and through APPLYBATCH.
They hold for redis-server too."""

from collections import Counter

import pytest

from conftest import tidekv_only
from test_cdc_helpers import poll_all, seq


def test_zpopmin_then_a_lower_score_is_seen(r):
    r.zadd("z", {"m%03d" % i: i for i in range(200)})
    for i in range(150):
        assert r.zpopmin("z") == [(b"m%03d" % i, float(i))]
    r.zadd("z", {"low": -1})
    assert r.zrange("z", 0, 0, withscores=True) == [(b"low", -1.0)]
    assert r.zrank("z", "m150") == 1
    assert r.zpopmin("z", 2) == [(b"low", -1.0), (b"m150", 150.0)]
    assert r.zcard("z") == 49


def test_zpopmax_then_a_higher_score_is_seen(r):
    r.zadd("z", {"m%03d" % i: i for i in range(200)})
    for i in range(199, 49, -1):
        assert r.zpopmax("z") == [(b"m%03d" % i, float(i))]
    assert r.zrevrange("z", 0, 0) == [b"m049"]
    r.zadd("z", {"high": 1000})
    assert r.zrevrange("z", 0, 1) == [b"high", b"m049"]
    assert r.zrange("z", -1, -1) == [b"high"]
    assert r.zrangebyscore("z", 40, "+inf") == [b"m%03d" % i for i in range(40, 50)] + [b"high"]


def test_score_change_below_the_bound_is_seen(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zpopmin("z") == [(b"a", 1.0)]
    r.zadd("z", {"d": 0})  # an existing member moves below every popped score
    assert r.zrange("z", 0, -1) == [b"d", b"b", b"c"]
    r.zincrby("z", 10, "d")
    assert r.zrange("z", 0, -1) == [b"b", b"c", b"d"]
    assert r.zrevrange("z", 0, 0) == [b"d"]


def test_pop_and_add_lower_in_one_transaction(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    p = r.pipeline(transaction=True)
    p.zpopmin("z")
    p.zadd("z", {"new": 0})
    p.zrange("z", 0, -1)
    p.zpopmin("z")
    assert p.execute() == [[(b"a", 1.0)], 1, [b"new", b"b", b"c"], [(b"new", 0.0)]]
    assert r.zrange("z", 0, -1) == [b"b", b"c"]


def test_rename_and_copy_after_pops(r):
    r.zadd("z", {"m%03d" % i: i for i in range(100)})
    r.zpopmin("z", 90)
    r.zpopmax("z", 5)
    r.rename("z", "z2")
    assert r.zrange("z2", 0, -1) == [b"m%03d" % i for i in range(90, 95)]
    r.zadd("z2", {"low": -1, "high": 1000})
    assert r.copy("z2", "z3")
    r.zpopmin("z2", 3)
    assert r.zrange("z3", 0, -1) == [b"low"] + [b"m%03d" % i for i in range(90, 95)] + [b"high"]
    assert r.zrange("z2", 0, -1) == [b"m092", b"m093", b"m094", b"high"]
    r.sadd("s", *["m%03d" % i for i in range(100)])
    r.srem("s", *["m%03d" % i for i in range(95)])
    r.rename("s", "s2")
    r.sadd("s2", "a")
    assert sorted(r.smembers("s2")) == [b"a"] + [b"m%03d" % i for i in range(95, 100)]


def test_walk_then_add_lower_in_one_transaction(r):
    # The walk finds "b" first; the add below it later in the same transaction must win.
    r.zadd("z", {"b": 2, "c": 3})
    r.sadd("s", "m", "n")
    p = r.pipeline(transaction=True)
    p.zrange("z", 0, 0)
    p.zadd("z", {"a": 1})
    p.smembers("s")
    p.sadd("s", "a")
    p.execute()
    assert r.zrange("z", 0, 0) == [b"a"]
    assert r.zpopmin("z") == [(b"a", 1.0)]
    assert sorted(r.smembers("s")) == [b"a", b"m", b"n"]


def test_recreated_key_starts_afresh(r):
    r.zadd("z", {"m%03d" % i: i for i in range(100)})
    r.zpopmin("z", 90)
    r.delete("z")
    r.zadd("z", {"x": 5, "y": 500})
    assert r.zrange("z", 0, -1) == [b"x", b"y"]
    r.sadd("s", *["m%03d" % i for i in range(100)])
    r.spop("s", 100)
    assert r.exists("s") == 0
    r.sadd("s", "a", "zz")
    assert sorted(r.smembers("s")) == [b"a", b"zz"]


def test_set_walks_after_removing_the_first_members(r):
    members = ["m%04d" % i for i in range(500)]
    r.sadd("s", *members)
    r.srem("s", *members[:400])
    assert sorted(r.smembers("s")) == [m.encode() for m in members[400:]]
    r.sadd("s", "a", "zzz")
    assert sorted(r.smembers("s")) == [b"a"] + [m.encode() for m in members[400:]] + [b"zzz"]
    cursor, seen = 0, set()
    while True:
        cursor, batch = r.sscan("s", cursor, count=7)
        seen.update(batch)
        if cursor == 0:
            break
    assert b"a" in seen and b"zzz" in seen and len(seen) == 102


def test_hash_walks_after_deleting_the_first_fields(r):
    r.hset("h", mapping={"f%04d" % i: i for i in range(300)})
    r.hdel("h", *["f%04d" % i for i in range(299)])
    assert r.hgetall("h") == {b"f0299": b"299"}
    r.hset("h", "a", "first")
    assert r.hgetall("h") == {b"a": b"first", b"f0299": b"299"}
    assert sorted(r.hkeys("h")) == [b"a", b"f0299"]
    assert r.hrandfield("h", 5) and set(r.hrandfield("h", 5)) == {b"a", b"f0299"}


def test_list_pops_and_pushes_back(r):
    r.rpush("l", *range(300))
    for i in range(250):
        assert r.lpop("l") == str(i).encode()
    r.lpush("l", "head")
    assert r.lrange("l", 0, 2) == [b"head", b"250", b"251"]
    assert r.lindex("l", 0) == b"head"
    assert r.llen("l") == 51


def test_spop_drains_every_member_exactly_once(r):
    # Unpadded numbers: members of several lengths, the hardest shape for random seeks.
    r.sadd("s", *range(1, 3001))
    popped = []
    while True:
        got = r.spop("s", 7)
        if not got:
            break
        popped.extend(got)
    assert len(popped) == 3000
    assert sorted(int(m) for m in popped) == list(range(1, 3001))
    assert r.exists("s") == 0


def test_spop_interleaved_with_sadd(r):
    live = set()
    for round_ in range(40):
        new = ["r%02d-%03d" % (round_, i) for i in range(50)]
        r.sadd("s", *new)
        live.update(x.encode() for x in new)
        for m in r.spop("s", 40):
            assert m in live
            live.remove(m)
        assert r.scard("s") == len(live)
    assert r.smembers("s") == live


def test_srandmember_counts_on_a_large_set(r):
    r.sadd("s", *["id:%08d" % i for i in range(5000)])
    distinct = r.srandmember("s", 300)
    assert len(distinct) == 300 and len(set(distinct)) == 300
    repeats = r.srandmember("s", -300)
    assert len(repeats) == 300
    assert set(repeats) <= r.smembers("s")
    assert len(r.srandmember("s", 5000)) == 5000
    assert r.scard("s") == 5000


def test_random_picks_reach_every_member_of_a_padded_set(r):
    # Zero-padded ids are picked near uniformly: 20 draws per member on average.
    r.sadd("s", *["element:%012d" % i for i in range(500)])
    counts = Counter(r.srandmember("s") for _ in range(10000))
    assert len(counts) == 500
    assert max(counts.values()) < 80


def test_zrandmember_on_a_large_zset(r):
    r.zadd("z", {"m%05d" % i: i for i in range(2000)})
    got = r.zrandmember("z", 50, withscores=True)
    assert len(got) == 100
    members = got[0::2]
    assert len(set(members)) == 50
    for m, s in zip(got[0::2], got[1::2]):
        assert float(s) == float(int(m[1:]))


def test_heavy_pops_with_compactions_lose_nothing(r):
    # Enough tombstones to ask for compactions of the key's range while it changes.
    r.zadd("z", {"m%06d" % i: i for i in range(20000)})
    r.sadd("s", *["m%06d" % i for i in range(20000)])
    for _ in range(40):
        assert len(r.zpopmin("z", 400)) == 400
        assert len(r.spop("s", 300)) == 300
        r.zadd("z", {"back%d" % _: -_})
    assert r.zcard("z") == 20000 - 16000 + 40
    assert r.zrange("z", 0, 0) == [b"back39"]
    assert r.scard("s") == 20000 - 12000
    assert len(r.smembers("s")) == 8000


@tidekv_only
def test_applybatch_below_a_bound_is_seen(make_server):
    # A replica that applies the source's batches must see members written below a bound it
    # has remembered from its own reads.
    src, dst = make_server(), make_server()
    a, b = src.client(), dst.client()
    try:
        start = seq(a)
        a.zadd("z", {"m%02d" % i: i for i in range(10, 50)})
        a.sadd("s", *["m%02d" % i for i in range(10, 50)])
        for u in poll_all(a, start, fmt="RAW"):
            b.execute_command("APPLYBATCH", bytes.fromhex(u.decode()))
        assert b.zrange("z", 0, 0) == [b"m10"]
        assert b.zrevrange("z", 0, 0) == [b"m49"]
        assert min(b.smembers("s")) == b"m10"
        start = seq(a)
        a.zadd("z", {"low": 1, "high": 99})
        a.sadd("s", "a")
        for u in poll_all(a, start, fmt="RAW"):
            b.execute_command("APPLYBATCH", bytes.fromhex(u.decode()))
        assert b.zrange("z", 0, 0) == [b"low"]
        assert b.zrevrange("z", 0, 0) == [b"high"]
        assert b"a" in b.smembers("s")
        assert b.zrange("z", 0, -1) == a.zrange("z", 0, -1)
    finally:
        a.close()
        b.close()


@tidekv_only
def test_pops_and_adds_after_a_restart(server):
    r = server.client()
    r.zadd("z", {"m%03d" % i: i for i in range(100)})
    r.zpopmin("z", 60)
    r.close()
    server.restart()
    r = server.client()
    try:
        assert r.zrange("z", 0, 0) == [b"m060"]
        r.zadd("z", {"low": 0})
        assert r.zpopmin("z") == [(b"low", 0.0)]
        assert r.zcard("z") == 40
    finally:
        r.close()
