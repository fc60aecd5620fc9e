"""Hostile tests of CDC snapshots (CDC.md "Snapshots", "Consumers"): junk arguments and cursors,
COUNT bounds, filter combinations, binary data through FORMAT JSON, huge values, a snapshot that
must not change while its keys are rewritten, flushed, renamed or expire, RELEASE racing reads,
the full consumer flow with a writer running, and kill -9 while a snapshot is held."""

import os
import random
import threading
import time

import pytest
import redis

from conftest import tidekv_only
from helpers import rss_mb, rss_test
from stream_replay import snapshot as full_dump
from test_cdc_helpers import RedisServer, poll, replay, seq, to_dict, wait_until
from test_cdc_snapshots import create, error_of, fill_every_type, read_all, read_page, same_key, snap

pytestmark = tidekv_only


def release_all(r):
    for d in snap(r, "LIST"):
        snap(r, "RELEASE", to_dict(d)["id"])


@pytest.fixture(autouse=True)
def _release_leftovers(request):
    """A failed test must not leave snapshots behind on the shared server."""
    yield
    if "server" in request.fixturenames:
        c = request.getfixturevalue("server").client()
        try:
            release_all(c)
        finally:
            c.close()


def merged(entries):
    """{(db, key): commands} with a key's pieces joined, so that reads cut into pages of
    different sizes compare equal when they carry the same data."""
    out = {}
    for e in entries:
        for c in e["commands"]:
            cmds = out.setdefault((e["db"], c[1]), [])
            if cmds and cmds[-1][0] == c[0] and c[0] in (b"HSET", b"SADD", b"RPUSH", b"ZADD"):
                cmds[-1] = cmds[-1] + c[2:]
            else:
                cmds.append(list(c))
    return out


@pytest.mark.parametrize("args,err", [
    (("TTL", "0"), "out of numeric range"),
    (("TTL", "86401"), "out of numeric range"),
    (("TTL", "-1"), "out of numeric range"),
    (("TTL", "9223372036854775808"), "value is not an integer or out of range"),
    (("TTL", "1.5"), "value is not an integer or out of range"),
    (("TTL", ""), "value is not an integer or out of range"),
    (("TTL",), "syntax error"),
    (("junk",), "syntax error"),
])
def test_create_rejects_junk(r, args, err):
    assert error_of(r, "SNAPSHOT", "CREATE", *args) == err
    assert snap(r, "LIST") == []


def test_create_ttl_bounds_accepted(r):
    for ttl in ("1", "86400"):
        sid, _ = create(r, "TTL", ttl)
        snap(r, "RELEASE", sid)
    assert snap(r, "LIST") == []


def test_junk_cursors(r):
    for i in range(20):
        r.set("k%02d" % i, "v")
    r.hset("h", mapping={"f%02d" % i: "x" for i in range(30)})
    sid, _ = create(r)
    cursor, _ = read_page(r, sid, "0", "COUNT", "5")
    assert cursor != "0"
    for bad in ["zz", "-1", "00", "0000", "1", "F" * 64, "0" * 200, "4D", "53", cursor[:-1],
                "FD" + cursor[2:], "4DFFFFFFFF" + cursor[10:], "4D" + "FF" * 40, "0x10", " 0"]:
        assert error_of(r, "SNAPSHOT", "READ", sid, bad) == "invalid cursor", bad
    assert error_of(r, "SNAPSHOT", "READ", sid, "") == "invalid cursor"
    # the cursor holds no state: another snapshot of the same data resumes at the same place
    other, _ = create(r)
    assert read_page(r, other, cursor, "COUNT", "5") == read_page(r, sid, cursor, "COUNT", "5")
    snap(r, "RELEASE", sid)
    assert error_of(r, "SNAPSHOT", "READ", sid, cursor) == "no such snapshot"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0") == "no such snapshot"
    assert error_of(r, "SNAPSHOT", "RELEASE", sid) == "no such snapshot"
    assert error_of(r, "SNAPSHOT", "READ", "", "0") == "no such snapshot"
    assert error_of(r, "SNAPSHOT", "READ", "x" * 100000, "0") == "no such snapshot"
    snap(r, "RELEASE", other)
    assert r.ping()


def test_count_bounds(r):
    r.hset("h", mapping={"f%03d" % i: "x" for i in range(25)})
    r.set("s", "v")
    sid, _ = create(r)
    for bad in ("0", "10001", "-1"):
        assert error_of(r, "SNAPSHOT", "READ", sid, "0", "COUNT", bad) == "out of numeric range"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "COUNT", "x") == \
        "value is not an integer or out of range"
    pages = []
    read_all(r, sid, "COUNT", "1", on_page=lambda e: pages.append(e))
    from test_cdc_snapshots import elements
    counts = [elements(p) for p in pages]
    if counts[-1] == 0:  # a last, empty page that only says "done" is fine
        counts.pop()
    assert counts == [1] * 26
    cursor, entries = read_page(r, sid, "0", "COUNT", "10000")
    assert cursor == "0" and elements(entries) == 26
    snap(r, "RELEASE", sid)


def test_filter_combinations(server, r):
    fill_every_type(r)
    r1 = server.client(db=1)
    fill_every_type(r1)
    r1.set("only1", "x")
    sid, _ = create(r)
    everything = read_all(r, sid, "COUNT", "2")
    def key_of(e):
        return e["commands"][0][1]
    types = {b"s": "string", b"sx": "string", b"h": "hash", b"l": "list", b"st": "set",
             b"z": "zset", b"bm": "string", b"only1": "string"}
    for match, typ, db in [("s*", "string", 0), ("s*", "set", 1), ("*", "hash", 1),
                           ("nomatch*", None, None), ("only1", None, 0), ("only1", "string", 1)]:
        opts = ["COUNT", "3"] + (["MATCH", match]) + (["TYPE", typ] if typ else []) + \
            (["DB", db] if db is not None else [])
        got = read_all(r, sid, *opts)
        import fnmatch
        want = [e for e in everything
                if fnmatch.fnmatchcase(key_of(e).decode(), match)
                and (typ is None or types[key_of(e)] == typ) and (db is None or e["db"] == db)]
        assert merged(got) == merged(want), opts
    r1.close()
    snap(r, "RELEASE", sid)


def test_json_binary_keys_and_values_replay_exactly(r):
    rnd = random.Random(5)
    r.set(bytes(range(256)), bytes(range(255, -1, -1)))
    r.set(b"\xc3\x28bad-utf8", b"\x00\x00\xff")
    r.set("uni\u2603", "h\u00e9llo \u2603 \"quoted\" \\ back\n")
    r.hset(b"h\xff", mapping={b"\xc3\x28": b"\x00", b"": b"", b"\x7f": rnd.randbytes(300)})
    r.rpush(b"l\x00", b"", b"\x00", b"\xff\xfe")
    r.sadd(b"s\x01", b"\xe2\x82", b"ok")
    r.zadd(b"z\x80", {b"\xf0\x9f\x98\x80": -0.5, b"\xff": 1e300})
    r.set(b"ttl\xff", b"\xfe", px=100000)
    # overlong, surrogate, beyond U+10FFFF, 5-byte: not UTF-8, so they must come as base64
    for i, v in enumerate([b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                           b"\xf8\x88\x80\x80\x80", b"\xe0\x80\xaf", b"\x01\x1f\x7f",
                           "\u2028".encode(), b"\xef\xbf\xbf", b"\xf0\x90\x80\x80"]):
        r.set(b"u%d" % i, v)
    sid, _ = create(r)
    for bulk in to_dict(snap(r, "READ", sid, "0", "FORMAT", "JSON", "COUNT", "10000"))["entries"]:
        bulk.decode("utf-8")  # every JSON reply is valid UTF-8 (json_update also parses it)
    entries = read_all(r, sid, "FORMAT", "JSON", "COUNT", "1")
    dst = RedisServer().start()
    try:
        with dst.conn() as conn:
            assert replay(conn, entries) == []
        a, b = full_dump_of(r), full_dump_of(dst.client())
        assert set(a) == set(b)
        for k in a:
            assert same_key(a[k], b[k]), (k, a[k], b[k])
    finally:
        dst.stop()
    snap(r, "RELEASE", sid)


def full_dump_of(cl):
    class One:
        def client(self, db=0):
            return redis.Redis(connection_pool=cl.connection_pool) if db == 0 else None
    return full_dump(One(), dbs=(0,))


@pytest.mark.soak  # long: runs under make soak
@rss_test
def test_huge_values_are_paged_with_bounded_memory(server, r):
    r.set("big", b"x" * (20 << 20))
    r.hset("bh", "big", b"y" * (5 << 20))
    r.hset("bh", mapping={"f%d" % i: "v" for i in range(10)})
    sid, _ = create(r)
    before = rss_mb(server)
    for fmt in ("RESP", "JSON"):
        cursor, seen = "0", []
        while True:
            d = to_dict(snap(r, "READ", sid, cursor, "COUNT", "1", "FORMAT", fmt))
            size = sum(len(e) for e in d["entries"]) if fmt == "JSON" else \
                sum(len(a) for e in d["entries"] for c in to_dict(e)["commands"] for a in c)
            assert size < (20 << 20) * 4 / 3 + 4096, "a reply of %d bytes" % size
            seen.append(size)
            cursor = d["cursor"].decode()
            if cursor == "0":
                break
        if seen[-1] == 0:
            seen.pop()
        assert len(seen) == 12, seen  # 11 fields of bh, one at a time, then the string
    growth = rss_mb(server) - before
    assert growth < 120, "RSS grew by %.1f MB" % growth
    snap(r, "RELEASE", sid)


def test_snapshot_does_not_change_while_read(server, r):
    fill_every_type(r)
    r.set("soon", "gone", px=600)
    r.hset("hsoon", "f", "v")
    r.pexpire("hsoon", 600)
    r.rpush("biglist", *range(500))
    r.hset("bighash", mapping={"f%d" % i: i for i in range(300)})
    r.zadd("bigz", {"m%d" % i: i for i in range(300)})
    r1 = server.client(db=1)
    r1.set("one", "1")
    sid, sequence = create(r)
    before = read_all(r, sid, "COUNT", "1000")
    # read in small pages, disturbing the data between pages
    rnd = random.Random(3)
    mutations = [
        lambda: r.delete("s"), lambda: r.rename("h", "h2"), lambda: r.set("st", "now a string"),
        lambda: r.lpop("biglist", 200), lambda: r.rpush("biglist", "new"),
        lambda: r.hdel("bighash", *["f%d" % i for i in range(0, 300, 2)]),
        lambda: r.zremrangebyrank("bigz", 0, 100), lambda: r.expire("l", 1),
        lambda: r.set("fresh", "x"), lambda: r1.flushdb(), lambda: r.flushall(),
        lambda: r.hset("bighash", "f1", "changed"), lambda: r.set("soon", "back"),
    ]
    during, cursor, i = [], "0", 0
    while True:
        cursor, entries = read_page(r, sid, cursor, "COUNT", "37")
        during.extend(entries)
        if i < len(mutations):
            mutations[i]()
        i += 1
        if cursor == "0":
            break
    time.sleep(1.2)  # "soon", "hsoon" and "l" are past their time now
    after = read_all(r, sid, "COUNT", "1000")
    assert merged(during) == merged(before)
    assert merged(after) == merged(before)
    assert seq(r) > sequence
    assert (0, b"soon") in merged(after) and (1, b"one") in merged(after)
    r1.close()
    snap(r, "RELEASE", sid)


@pytest.mark.soak  # long: runs under make soak
def test_release_and_expiry_race_reads(server, r):
    r.hset("h", mapping={"f%04d" % i: "x" for i in range(3000)})
    for i in range(300):
        r.set("k%d" % i, "v")
    errors, stop = [], threading.Event()
    def reader(sid):
        c = server.client()
        try:
            cursor = "0"
            while not stop.is_set():
                try:
                    cursor, _ = read_page(c, sid, cursor, "COUNT", "7")
                except redis.ResponseError as e:
                    if str(e) != "no such snapshot":
                        errors.append(str(e))
                    return
        except Exception as e:  # a dropped connection or a bad reply
            errors.append(repr(e))
        finally:
            c.close()
    for round_ in range(15):
        sids = [create(r, "TTL", "1")[0] for _ in range(4)]
        threads = [threading.Thread(target=reader, args=(s,)) for s in sids for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.01 * round_)
        for s in sids[:2]:
            snap(r, "RELEASE", s)
        for s in sids[2:]:
            try:
                snap(r, "RELEASE", s)
            except redis.ResponseError as e:
                assert str(e) == "no such snapshot"
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads)
    stop.set()
    assert errors == []
    assert snap(r, "LIST") == []
    assert r.info("keyspace")["cdc_snapshots"] == 0
    assert r.hlen("h") == 3000


def test_many_snapshots_and_the_cap(r):
    r.set("k", "v")
    assert error_of(r, "CONFIG", "SET", "cdc-max-snapshots", "10001").startswith("CONFIG SET failed")
    r.config_set("cdc-max-snapshots", 300)
    try:
        sids = [create(r, "TTL", "60")[0] for _ in range(300)]
        assert len(set(sids)) == 300
        assert error_of(r, "SNAPSHOT", "CREATE") == "too many snapshots"
        r.config_set("cdc-max-snapshots", 5)  # lowering the cap keeps what exists
        assert read_page(r, sids[123], "0")[1]
        assert len(snap(r, "LIST")) == 300
        for s in sids[:295]:  # five left: at the cap
            snap(r, "RELEASE", s)
        assert error_of(r, "SNAPSHOT", "CREATE") == "too many snapshots"
        snap(r, "RELEASE", sids[295])
        sids.append(create(r)[0])
        r.config_set("cdc-max-snapshots", 0)
        assert error_of(r, "SNAPSHOT", "CREATE") == "too many snapshots"
        assert error_of(r, "CDC", "CREATE", "x", "SNAPSHOT") == "too many snapshots"
    finally:
        r.config_set("cdc-max-snapshots", 16)
        release_all(r)
    assert r.info("keyspace")["cdc_snapshots"] == 0


def churn_writer(server, stop, seed, done):
    """Random writes including RENAME, EXPIRE, DEL, PERSIST and overwrites of another type."""
    rnd = random.Random(seed)
    cl = [server.client(db=0), server.client(db=1)]
    n = 0
    while not stop.is_set() or n < 200:
        c = rnd.choice(cl)
        k = "k%d" % rnd.randrange(40)
        k2 = "k%d" % rnd.randrange(40)
        op = rnd.randrange(12)
        try:
            if op == 0:
                c.set(k, "v%d" % n, px=rnd.choice([None, 50000]))
            elif op == 1:
                c.hset(k, mapping={"f%d" % rnd.randrange(10): n})
            elif op == 2:
                c.rpush(k, n, n + 1)
            elif op == 3:
                c.sadd(k, "m%d" % rnd.randrange(20))
            elif op == 4:
                c.zadd(k, {"m%d" % rnd.randrange(20): rnd.uniform(-3, 3)})
            elif op == 5:
                c.rename(k, k2)
            elif op == 6:
                c.delete(k)
            elif op == 7:
                c.pexpire(k, rnd.choice([40000, 70000]))
            elif op == 8:
                c.persist(k)
            elif op == 9:
                c.append(k, "a")
            elif op == 10:
                c.incrbyfloat(k, 0.5)
            else:
                c.copy(k, k2, replace=True)
        except redis.ResponseError:
            pass
        n += 1
    for c in cl:
        c.close()
    done.append(n)


@pytest.mark.soak  # long: runs under make soak
@pytest.mark.parametrize("fmt", ["RESP", "JSON"])
def test_consumer_flow_with_a_writer(make_server, fmt):
    src = make_server()
    dst = RedisServer().start()
    stop, done = threading.Event(), []
    writer = threading.Thread(target=churn_writer, args=(src, stop, 11, done))
    writer.start()
    c = src.client()
    try:
        time.sleep(0.7)
        d = to_dict(c.execute_command("CDC", "CREATE", "sink", "SNAPSHOT"))
        sid, pos = d["snapshot"].decode(), d["sequence"]
        entries = read_all(c, sid, "COUNT", "5", "FORMAT", fmt)
        snap(c, "RELEASE", sid)
        with dst.conn() as conn:
            assert replay(conn, entries) == []
            for _ in range(3):  # follow while the writer runs, acknowledging as we go
                time.sleep(0.3)
                d = poll(c, pos, "MAX", 200, "FORMAT", fmt)
                assert d["first_sequence"] == pos + 1
                assert replay(conn, d["updates"]) == []
                pos = d["next_sequence"]
                assert c.execute_command("CDC", "ACK", "sink", pos) == b"OK"
            stop.set()
            writer.join()
            while pos < seq(c):
                d = poll(c, pos, "MAX", 500, "FORMAT", fmt)
                assert d["first_sequence"] == pos + 1
                assert replay(conn, d["updates"]) == []
                pos = d["next_sequence"]
            c.execute_command("CDC", "ACK", "sink", pos)
        info = to_dict(c.execute_command("CDC", "INFO", "sink"))
        assert info["lag"] == 0 and info["state"] == b"active"
        a, b = full_dump(src, dbs=(0, 1)), full_dump(dst, dbs=(0, 1))
        assert len(a) > 20
        problems = [(k, a.get(k), b.get(k)) for k in set(a) | set(b)
                    if not same_key(a.get(k), b.get(k))]
        assert not problems, problems[:10]
    finally:
        stop.set()
        writer.join()
        c.close()
        dst.stop()


def test_kill9_while_a_snapshot_is_held(make_server):
    s = make_server()
    c = s.client()
    fill_every_type(c)
    for i in range(2000):
        c.set("k%d" % i, "v%d" % i)
    sid, _ = create(c)
    d = to_dict(c.execute_command("CDC", "CREATE", "held", "SNAPSHOT"))
    read_page(c, sid, "0", "COUNT", "50")
    for i in range(0, 2000, 2):
        c.delete("k%d" % i)
    c.hset("h", "late", "1")
    want = full_dump(s, dbs=(0,))
    latest = seq(c)
    c.close()
    s.kill9()
    s.start()
    c = s.client()
    assert snap(c, "LIST") == []
    assert error_of(c, "SNAPSHOT", "READ", sid, "0") == "no such snapshot"
    assert error_of(c, "SNAPSHOT", "READ", d["snapshot"].decode(), "0") == "no such snapshot"
    assert full_dump(s, dbs=(0,)) == want
    assert seq(c) == latest
    info = to_dict(c.execute_command("CDC", "INFO", "held"))
    assert info["sequence"] == d["sequence"]
    # a new snapshot after the crash reads the current data
    sid2, _ = create(c)
    keys = {e["commands"][0][1] for e in read_all(c, sid2, "COUNT", "1000")}
    assert keys == {k for (_, k) in want}
    c.close()


@pytest.mark.soak  # long: runs under make soak
def test_expired_keys_go_after_release(make_server):
    """Keys that expire while a snapshot is held stay readable through it, and are gone (to
    readers, and to a new snapshot) after it is released and data is rewritten/compacted."""
    s = make_server()
    c = s.client()
    # Pipelined, with time to spare: on a loaded machine 3000 round trips can outlast a
    # short TTL, and keys dead before the snapshot is taken are rightly not in it.
    pipe = c.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("e%d" % i, "x" * 200, px=1500)
    pipe.execute()
    c.hset("keep", "f", "v")
    sid, _ = create(c)
    time.sleep(1.8)
    # many writes and deletes (the README says a walk over tombstones schedules a compaction)
    for i in range(3000):
        c.set("t%d" % i, "y" * 200)
    c.delete(*["t%d" % i for i in range(3000)])
    assert c.dbsize() <= 3001
    held = {e["commands"][0][1] for e in read_all(c, sid, "COUNT", "1000")}
    assert len(held) == 3001
    snap(c, "RELEASE", sid)
    assert c.keys("e*") == []
    sid2, _ = create(c)
    assert [e["commands"][0][1] for e in read_all(c, sid2, "COUNT", "1000")] == [b"keep"]
    snap(c, "RELEASE", sid2)
    c.close()


@pytest.mark.soak  # long: runs under make soak
def test_compaction_while_held_keeps_the_snapshot_and_release_frees_it(make_server):
    """FLUSHALL compacts the deleted range in the background: a held snapshot still reads
    a deleted hash's fields and keys that expired since, and after RELEASE the next
    compaction frees their space."""
    s = make_server()
    c = s.client()
    big = b"v" * 10000
    for i in range(0, 2000, 200):
        c.hset("h", mapping={"f%04d" % j: big for j in range(i, i + 200)})
    p = c.pipeline(transaction=False)
    for i in range(2000):
        p.set("e%04d" % i, big, px=1500)
    p.execute()
    sid, _ = create(c)
    c.delete("h")
    time.sleep(1.6)  # every e* key is past its time
    c.flushall()
    time.sleep(3)  # the background compaction of the flushed range
    held = merged(read_all(c, sid, "COUNT", "500"))
    assert len(held) == 2001
    assert sum(len(x) for x in held[(0, b"h")][1][3::2]) == 2000 * len(big)
    assert all(len(cmds[1][2]) == len(big) for k, cmds in held.items() if k[1] != b"h")
    disk_held = c.info()["disk_size"]
    snap(c, "RELEASE", sid)
    c.set("x", "y")
    c.flushall()  # compacts again, with nothing pinning the old data now
    wait_until(lambda: c.info()["disk_size"] < disk_held / 4, timeout=30,
               msg="space freed after release (held %d)" % disk_held)
    c.close()


@pytest.mark.soak  # long: runs under make soak
def test_read_reply_is_bounded_in_bytes(make_server):
    s = make_server()
    c = s.client()
    for i in range(40):
        c.hset("fat", "f%03d" % i, b"z" * (1 << 20))
    sid, _ = create(c)
    c.config_set("client-output-buffer-limit", "normal 24mb 24mb 60")
    reader = s.client()
    cursor, total, pages = "0", 0, 0
    while True:
        d = to_dict(snap(reader, "READ", sid, cursor, "COUNT", "10000"))
        size = sum(len(a) for e in d["entries"] for cmd in to_dict(e)["commands"] for a in cmd)
        assert size <= (16 << 20) + (2 << 20), "a reply of %d bytes" % size
        total += size
        pages += 1
        cursor = d["cursor"].decode()
        if cursor == "0":
            break
    assert total >= 40 << 20 and pages >= 3
    reader.close()
    c.close()
