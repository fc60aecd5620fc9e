"""Collections of a million members work with bounded server memory: commands that reply a
window or a single item do not load the collection, and DEL of one is O(1)."""
import time

from conftest import soak, tidekv_only
from helpers import peak_rss_mb

MILLION = 1_000_000
BATCH = 2000


@soak
@tidekv_only
def test_million_member_list_and_zset_with_bounded_memory(make_server):
    s = make_server(["--rocksdb.block_cache_size", "64", "--rocksdb.write_buffer_size", "16"])
    r = s.client(socket_timeout=60)
    p = r.pipeline(transaction=False)
    for start in range(0, MILLION, BATCH):
        p.rpush("big:list", *range(start, start + BATCH))
        p.zadd("big:zset", {"m%07d" % i: i for i in range(start, start + BATCH)})
        if start % 50_000 == 0:
            p.execute()
    p.execute()
    assert r.llen("big:list") == MILLION
    assert r.zcard("big:zset") == MILLION
    # single items and windows, anywhere
    assert r.lindex("big:list", MILLION // 2) == b"%d" % (MILLION // 2)
    assert r.lindex("big:list", -1) == b"%d" % (MILLION - 1)
    assert r.lrange("big:list", 500_000, 500_099) == [b"%d" % i for i in range(500_000, 500_100)]
    assert r.lset("big:list", 700_000, "x") is True
    assert r.lindex("big:list", 700_000) == b"x"
    assert r.zrangebyscore("big:zset", 600_000, 600_009) == [b"m%07d" % i for i in range(600_000, 600_010)]
    assert r.zrange("big:zset", -3, -1) == [b"m%07d" % i for i in range(MILLION - 3, MILLION)]
    assert r.zscore("big:zset", "m0999999") == MILLION - 1
    assert r.zcount("big:zset", 10, 19) == 10
    assert r.lpop("big:list") == b"0" and r.rpop("big:list") == b"%d" % (MILLION - 1)
    # deleting a huge collection is O(1): its subkeys are collected later, in compaction
    started = time.monotonic()
    assert r.delete("big:list", "big:zset") == 2
    assert time.monotonic() - started < 0.5
    assert r.exists("big:list", "big:zset") == 0
    # about 140 MB measured here: block cache and memtables are bounded, nothing holds a collection
    assert peak_rss_mb(s) < 700, "peak RSS %.0f MB" % peak_rss_mb(s)
    r.close()
