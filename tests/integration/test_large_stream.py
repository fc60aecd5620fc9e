"""A stream of ten million entries works with bounded server memory: XADD appends without
reading the stream, ranges read a window, a trim walks only what it removes, and nothing holds
the stream in memory."""
import shutil
import subprocess
import time

from conftest import soak, tidekv_only
from helpers import rss_mb

ENTRIES = 10_000_000
KEPT = 1_000_000
# The server's memory is its block cache and memtables, bounded by these options, plus what
# the CDC cache keeps (cdc-cache-mb), one command's transaction and the process itself. Worst
# case: the 64 MB cache, two 16 MB memtables (one being written, one being flushed) in each of
# the 9 column families (288 MB, though these commands write only two of them), 64 MB of CDC
# cache, some 25 MB for an XTRIM of TRIM_STEP entries (its deletes staged, some 240 bytes
# each) and some 100 MB for the process, its buffers and the allocator's slack: 541 MB.
# Measured: 156 MB after the fill, 444 MB at the end of the trims (caches and memtables full);
# 502 MB once on a CI machine, which a 500 MB bound failed. Memory that grew with the stream
# would pass the bound long before ten million.
OPTIONS = ["--rocksdb.block_cache_size", "64", "--rocksdb.write_buffer_size", "16", "--cdc-cache-mb", "64"]
RSS_BOUND_MB = 600
TRIM_STEP = 100_000


def fill_with_redis_benchmark(s, key, n, sample):
    """XADD key * f v n times (redis-benchmark, pipelined); sample() runs every half second meanwhile."""
    cmd = [shutil.which("redis-benchmark"), "-h", "127.0.0.1", "-p", str(s.port), "-c", "2", "-P", "200",
           "-n", str(n), "-q", "XADD", key, "*", "f", "v"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while proc.poll() is None:
        sample()
        time.sleep(0.5)
    assert proc.returncode == 0, proc.stderr.read()


def entry_ids(entries):
    return [e[0] for e in entries]


def id_order(entry_id):
    """An entry id's place in the stream: compared as numbers, not as bytes (b"-15" < b"-9")."""
    return tuple(map(int, entry_id.split(b"-")))


@soak  # long: runs under make soak
@tidekv_only
def test_ten_million_entry_stream_with_bounded_memory(make_server):
    s = make_server(OPTIONS)
    r = s.client(socket_timeout=120)
    peak = [0.0]

    def sample():
        peak[0] = max(peak[0], rss_mb(s))

    started = time.monotonic()
    fill_with_redis_benchmark(s, "big", ENTRIES, sample)
    filled = time.monotonic() - started
    fill_peak = peak[0]
    assert r.xlen("big") == ENTRIES
    info = r.xinfo_stream("big")
    assert info["length"] == ENTRIES and info["entries-added"] == ENTRIES
    first, last = info["first-entry"][0], info["last-entry"][0]
    assert info["last-generated-id"] == last
    assert entry_ids(r.xrange("big", "-", "+", count=1)) == [first]
    # a slice from the middle, found by seeking: the entries from an id on, in order
    mid_ms = (int(first.split(b"-")[0]) + int(last.split(b"-")[0])) // 2
    window = entry_ids(r.xrange("big", mid_ms, "+", count=100))
    assert len(window) == 100 and window == sorted(window, key=id_order)
    assert int(window[0].split(b"-")[0]) >= mid_ms
    before = r.xrevrange("big", "(" + window[0].decode(), "-", count=1)
    assert before and int(before[0][0].split(b"-")[0]) <= mid_ms
    tail = r.xrevrange("big", "+", "-", count=10)
    assert len(tail) == 10 and tail[0][0] == last
    assert entry_ids(tail) == sorted(entry_ids(tail), key=id_order, reverse=True)
    sample()
    # XTRIM to a million, TRIM_STEP entries a command: one command's removals are staged in
    # its transaction (some 240 bytes each), so an exact XTRIM of nine million at once would
    # take some 2 GB; an approximate trim with a LIMIT removes exactly up to it here.
    trimmed_at = time.monotonic()
    removed = 0
    while removed < ENTRIES - KEPT:
        n = r.execute_command("XTRIM", "big", "MAXLEN", "~", KEPT, "LIMIT", TRIM_STEP)
        assert n == min(TRIM_STEP, ENTRIES - KEPT - removed)
        removed += n
        sample()
    trim_seconds = time.monotonic() - trimmed_at
    assert r.xlen("big") == KEPT
    info = r.xinfo_stream("big")
    assert info["length"] == KEPT and info["entries-added"] == ENTRIES and info["last-entry"][0] == last
    new_first = info["first-entry"][0]
    window = r.xrange("big", new_first, "+", count=1000)
    assert len(window) == 1000 and window[0][0] == new_first
    middle = window[500][0]
    assert entry_ids(r.xrange("big", middle, "+", count=10)) == entry_ids(window[500:510])
    assert r.xrange("big", "-", first, count=1) == []  # the old first entry is gone
    after = rss_mb(s)
    sample()
    print("filled %d entries in %.0f s (RSS peak %.0f MB), trimmed in %.0f s; RSS peak %.0f MB, after %.0f MB"
          % (ENTRIES, filled, fill_peak, trim_seconds, peak[0], after))
    assert peak[0] < RSS_BOUND_MB, "RSS peaked at %.0f MB" % peak[0]
    assert after < RSS_BOUND_MB, "RSS %.0f MB after the trim" % after
    r.close()
