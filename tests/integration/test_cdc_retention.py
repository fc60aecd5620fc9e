"""Change history retention (wal-ttl-seconds / wal-size-limit-mb), lost history (STRICT,
first_sequence, SEQUENCE TIME), and the change stream across restarts and kill -9."""

import threading
import time

import pytest
import redis

from conftest import tidekv_only
from test_cdc_helpers import now_ms, poll, poll_all, raw_header, seq

pytestmark = tidekv_only

BIG = b"x" * 8192


def write_round(r, tag, n=200, val=BIG):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (tag, i), val)
    p.execute()


def oldest(r):
    return r.info("keyspace")["oldest_sequence"]


def strict_error(r, start):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command("POLLUPDATES", start, "STRICT")
    return str(ei.value)


PURGE_ARGS = ["--wal-ttl-seconds", "1", "--wal-size-limit-mb", "0", "--rocksdb.write_buffer_size", "1"]


def purge_history(s):
    """Writes on a server with a 1 s WAL TTL until the oldest changes are purged.
    Returns (client, a time before the first write)."""
    r = s.client(socket_timeout=30)
    t_old = now_ms()
    time.sleep(0.01)
    r.set("first", "1")
    assert seq(r) == 1
    deadline = time.monotonic() + 30
    rounds = 0
    while oldest(r) <= 1:
        if time.monotonic() > deadline:
            pytest.fail("history was not purged within 30 s (sequence %d, oldest %d, %d rounds)"
                        % (seq(r), oldest(r), rounds))
        write_round(r, "r%d" % rounds)
        rounds += 1
        time.sleep(0.05 if rounds < 20 else 0.3)
    return r, t_old


def check_lost_history(r, t_old):
    # let purging settle: the oldest retained change no longer moves across a retention pass
    # (tidekv deletes the WAL files past the TTL once a second, until none is left to age), and
    # the change cache has dropped what the purge removed (a pass behind on a busy machine)
    for _ in range(30):
        o1 = oldest(r)
        time.sleep(1.2)
        d = poll(r, 1, "MAX", 3)
        z = poll(r, 0, "MAX", 3)
        o2 = oldest(r)
        if o1 == o2 and z["first_sequence"] == d["first_sequence"] == o2:
            break
    first = o2
    assert first > 2
    # POLLUPDATES agrees with INFO about where the retained history starts
    assert z["first_sequence"] == first, (
        "POLLUPDATES 0 starts at %d but INFO oldest_sequence is %d" % (z["first_sequence"], first))
    assert d["first_sequence"] == first, (
        "POLLUPDATES 1 starts at %d but INFO oldest_sequence is %d" % (d["first_sequence"], first))
    assert raw_header(d["updates"][0])[0] == first
    assert strict_error(r, 1) == "mismatched sequence number, expected 2 but got %d" % first
    # from the oldest retained change on, STRICT is happy
    e = poll(r, 0, "STRICT", "MAX", 3)
    assert e["first_sequence"] == first
    f = poll(r, first - 1, "STRICT", "MAX", 3)
    assert f["first_sequence"] == first
    # polls in the lost range report where they really start
    m = poll(r, first // 2, "MAX", 1)
    assert m["first_sequence"] == first
    assert strict_error(r, first // 2) == "mismatched sequence number, expected %d but got %d" % (
        first // 2 + 1, first)
    # SEQUENCE TIME before the retained history is an error
    with pytest.raises(redis.ResponseError, match="^the time is older than the retained history$"):
        r.execute_command("SEQUENCE", "TIME", t_old)
    assert int(r.execute_command("SEQUENCE", "TIME", now_ms() + 1000)) == seq(r)


@pytest.mark.soak  # long: runs under make soak
def test_history_purged_by_ttl(make_server):
    s = make_server(PURGE_ARGS)
    r, t_old = purge_history(s)
    check_lost_history(r, t_old)
    r.close()


@pytest.mark.soak  # long: runs under make soak
def test_history_purged_by_ttl_after_restart(make_server):
    s = make_server(PURGE_ARGS)
    r, t_old = purge_history(s)
    r.close()
    s.restart()
    r = s.client(socket_timeout=30)
    # The restart flushed the recovered log, which then ages out within seconds like the rest:
    # a write keeps some history for the checks (the whole log gone is test_review_regressions's).
    r.set("after", "restart")
    check_lost_history(r, t_old)
    r.close()


def test_history_kept_across_wal_files_and_restart(make_server):
    """With the default retention, small memtables (many WAL files) lose nothing: the
    whole history pages through STRICT from 1, also after a restart."""
    s = make_server(["--rocksdb.write_buffer_size", "1"])
    r = s.client(socket_timeout=30)
    pos = 0
    seen = []

    def drain():
        nonlocal pos
        while True:
            d = poll(r, pos, "STRICT", "MAX", 300)
            seen.extend(raw_header(u) for u in d["updates"])
            pos = d["next_sequence"]
            if pos == d["latest_sequence"]:
                return

    for rnd in range(6):
        write_round(r, "w%d" % rnd, n=150)
        drain()  # continue where the last poll ended, across new WAL files
    latest = seq(r)
    assert oldest(r) == 1
    assert [x[0] for x in seen] == list(range(1, latest + 1))
    r.close()
    s.restart()
    r = s.client(socket_timeout=30)
    assert seq(r) == latest
    assert oldest(r) == 1
    again = [raw_header(u) for u in poll_all(r, 0, "RAW", extra=("STRICT",))]
    assert again == seen
    r.close()


def test_stream_survives_clean_restart(make_server):
    s = make_server()
    r = s.client()
    c1 = s.client(db=1)
    r.set("a", "1")
    r.set("t", "v", ex=1000)
    r.mset({"m1": "x", "m2": "y"})
    c1.set("one", "1")
    c1.flushdb()
    p = r.pipeline(transaction=True)
    p.incr("n")
    p.delete("a")
    p.execute()
    r.expire("m1", 500)
    c1.close()
    raw_before = poll_all(r, 0, "RAW")
    resp_before = poll_all(r, 0, "RESP")
    latest = seq(r)
    r.close()
    assert s.stop() == 0
    s.start()
    r = s.client()
    assert seq(r) == latest
    assert r.info("keyspace")["sequence"] == latest
    assert poll_all(r, 0, "RAW") == raw_before
    assert poll_all(r, 0, "RESP") == resp_before
    r.set("after", "1")
    assert seq(r) == latest + 1
    d = poll(r, latest, "FORMAT", "RESP")
    assert [u["commands"] for u in d["updates"]] == [[[b"SET", b"after", b"1"]]]
    assert d["updates"][0]["sequence"] == latest + 1
    for i in range(5):
        r.set("more%d" % i, i)
    # old history (from the log) and new (recent) join up without gap or repeat
    whole = poll_all(r, 0, "RESP")
    assert whole[:len(resp_before)] == resp_before
    assert [u["commands"] for u in whole[len(resp_before):]] == \
        [[[b"SET", b"after", b"1"]]] + [[[b"SET", b"more%d" % i, b"%d" % i]] for i in range(5)]
    for a, b in zip(whole, whole[1:]):
        assert b["sequence"] == a["sequence"] + a["count"]
    r.close()


@pytest.mark.soak  # long: runs under make soak
def test_every_acknowledged_write_survives_kill9(make_server):
    s = make_server()
    r = s.client()
    r.set("start", "1")
    acked = []
    stop = threading.Event()

    def writer():
        w = s.client(socket_timeout=5)
        i = 0
        try:
            while not stop.is_set():
                if i % 7 == 0:
                    p = w.pipeline(transaction=True)
                    p.set("k%d" % i, i)
                    p.set("k%d:b" % i, i)
                    p.execute()
                else:
                    w.set("k%d" % i, i)
                acked.append(i)
                i += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        finally:
            w.close()

    th = threading.Thread(target=writer)
    th.start()
    time.sleep(0.7)
    r.close()
    s.kill9()
    stop.set()
    th.join(10)
    assert len(acked) > 50
    s.start()
    r = s.client()
    ups = poll_all(r, 0, "RESP")
    for a, b in zip(ups, ups[1:]):
        assert b["sequence"] == a["sequence"] + a["count"]
    assert ups[-1]["sequence"] + ups[-1]["count"] - 1 == seq(r)
    keys = [cmd[1] for u in ups for cmd in u["commands"] if cmd[0] == b"SET"]
    want = []
    for i in acked:
        want.append(b"k%d" % i)
        if i % 7 == 0:
            want.append(b"k%d:b" % i)
    # every acknowledged write is in the stream, in order (one more may have committed
    # without its reply reaching the client)
    assert keys[1:1 + len(want)] == want
    assert len(keys) - 1 - len(want) in (0, 1, 2)
    for i in acked[-20:]:
        assert r.get("k%d" % i) == b"%d" % i
    r.close()


def test_concurrent_writes_fully_decoded_from_the_wal(make_server):
    """Concurrent clients' commits may share one WAL record (RocksDB group commit). Read
    back from the WAL (after a restart, nothing is cached), every write must still be in
    the decoded stream, once."""
    s = make_server()
    r = s.client()
    n_writers, n_per = 6, 300

    def writer(w):
        cl = s.client()
        try:
            for i in range(n_per):
                cl.set("w%d:%d" % (w, i), i)
        finally:
            cl.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(n_writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latest = seq(r)
    assert latest == n_writers * n_per
    r.close()
    s.restart()
    r = s.client()
    ups = poll_all(r, 0, "RESP")
    raw = poll_all(r, 0, "RAW")
    keys = [cmd[1] for u in ups for cmd in u["commands"]]
    merged = [(u["sequence"], u["count"], len(u["commands"])) for u in ups if u["count"] != len(u["commands"])]
    assert not merged, ("%d batches hold more writes than they show (sequence, count, commands shown): %r; "
                        "%d of %d writes decoded" % (len(merged), merged[:8], len(set(keys)), latest))
    assert sorted(keys) == sorted(b"w%d:%d" % (w, i) for w in range(n_writers) for i in range(n_per))
    assert len(raw) == len(ups)
    # one commit per poll: pages that stop inside a shared WAL record chain exactly
    position, seen = 0, []
    while position < latest:
        rep = poll(r, position, "MAX", 1, "FORMAT", "RESP")
        (u,) = rep["updates"]
        assert u["sequence"] == position + 1
        seen.append(u["commands"][0][1])
        position = rep["next_sequence"]
    assert seen == keys
    r.close()


def test_small_recent_change_cache_hands_over_to_the_log(make_server):
    """With a 1 MiB cache of recent changes (cdc-cache-mb), older positions come from the
    WAL: paging through several MiB from 0 (STRICT) sees every batch once, in order, and a
    consumer keeping up concurrently sees the same."""
    s = make_server(["--cdc-cache-mb", "1"])
    r = s.client(socket_timeout=30)
    follower = []
    done = threading.Event()

    def follow():
        c = s.client(socket_timeout=30)
        pos = 0
        try:
            while True:
                # Read before the poll: a poll answered just before the last write, checked
                # after done was set, would end the follower one batch short.
                writer_done = done.is_set()
                d = poll(c, pos, "STRICT", "MAX", 7, "BLOCK", 200)
                follower.extend(raw_header(u) for u in d["updates"])
                pos = d["next_sequence"]
                if writer_done and pos == d["latest_sequence"]:
                    return
        finally:
            c.close()

    th = threading.Thread(target=follow)
    th.start()
    for rnd in range(12):
        write_round(r, "c%d" % rnd, n=40)
        r.mset({"m%d:a" % rnd: "1", "m%d:b" % rnd: "2"})
    done.set()
    th.join(30)
    latest = seq(r)
    everything = [raw_header(u) for u in poll_all(r, 0, "RAW", page=50, extra=("STRICT",))]
    assert everything[0][0] == 1
    for (s1, c1), (s2, _) in zip(everything, everything[1:]):
        assert s2 == s1 + c1
    assert everything[-1][0] + everything[-1][1] - 1 == latest
    assert follower == everything
    # and from positions in the middle
    for start in (1, latest // 3, latest // 2, latest - 5):
        d = poll(r, start, "STRICT", "MAX", 3)
        s0, c0 = raw_header(d["updates"][0])
        assert d["first_sequence"] == s0 and s0 <= start + 1 < s0 + c0
    r.close()
