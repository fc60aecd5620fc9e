"""Snapshots (CDC.md "Snapshots"): SNAPSHOT CREATE / READ / RELEASE / LIST and CDC CREATE ...
SNAPSHOT: reply shapes in RESP2, RESP3 and FORMAT JSON, every error, idle expiry and renewal,
the cap, restart, filters, paging of big collections within COUNT, and the contract: a snapshot
read then the stream after its sequence, replayed into a real redis-server while writes go on,
rebuild the data exactly."""

import random
import threading
import time

import pytest
import redis

from conftest import RespError, soak, tidekv_only
from helpers import rss_mb, rss_test
from stream_replay import snapshot as full_dump
from test_cdc_helpers import RedisServer, json_update, poll, replay, resp_update, seq, to_dict

pytestmark = tidekv_only


def snap(r, *args):
    return r.execute_command("SNAPSHOT", *args)


def create(r, *args):
    d = to_dict(snap(r, "CREATE", *args))
    return d["id"].decode(), d["sequence"]


def error_of(r, *args):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    return str(ei.value)


def read_page(r, sid, cursor, *opts):
    """One SNAPSHOT READ: (cursor, entries as dicts with db and commands as bytes)."""
    d = to_dict(snap(r, "READ", sid, cursor, *opts))
    assert isinstance(d["cursor"], bytes), d
    fmt = "JSON" if "JSON" in [str(o).upper() for o in opts] else "RESP"
    entries = [json_update(e) if fmt == "JSON" else resp_update(e) for e in d["entries"]]
    for e in entries:
        assert set(e) == {"db", "commands"}, e
    return d["cursor"].decode(), entries


def read_all(r, sid, *opts, on_page=None):
    """Every entry of a snapshot, paging from cursor 0 until it comes back."""
    out, cursor = [], "0"
    for _ in range(1000000):
        cursor, entries = read_page(r, sid, cursor, *opts)
        if on_page:
            on_page(entries)
        out.extend(entries)
        if cursor == "0":
            return out
    raise AssertionError("the snapshot did not end")


def elements(entries):
    """How many elements entries carry: a SET is one, fields/members/items one each."""
    n = 0
    for e in entries:
        for c in e["commands"]:
            name = c[0].upper()
            if name == b"SET":
                n += 1
            elif name in (b"HSET", b"ZADD"):
                n += (len(c) - 2) // 2
            elif name in (b"SADD", b"RPUSH"):
                n += len(c) - 2
    return n


def fill_every_type(r):
    r.set("s", "v")
    r.set("sx", "v2", px=100000)
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.rpush("l", "x", "y", "z")
    r.sadd("st", "m1", "m2")
    r.zadd("z", {"a": 1.5, "b": 0.1})
    r.setbit("bm", 9, 1)
    r.pexpire("h", 100000)


# ---------------------------------------------------------------- shapes

def test_create_and_read_resp2(r):
    fill_every_type(r)
    sid, sequence = create(r)
    assert sequence == seq(r)
    r.set("after", "1")  # not in the snapshot
    r.hset("h", "c", "3")
    entries = read_all(r, sid)
    by_key = {e["commands"][0][1]: e for e in entries}
    assert set(by_key) == {b"s", b"sx", b"h", b"l", b"st", b"z", b"bm"}
    assert all(e["db"] == 0 for e in entries)
    assert by_key[b"s"]["commands"] == [[b"DEL", b"s"], [b"SET", b"s", b"v"]]
    sx = by_key[b"sx"]["commands"][1]
    assert sx[:4] == [b"SET", b"sx", b"v2", b"PXAT"] and int(sx[4]) == r.execute_command("PEXPIRETIME", "sx")
    h = by_key[b"h"]["commands"]
    assert h[:2] == [[b"DEL", b"h"], [b"HSET", b"h", b"a", b"1", b"b", b"2"]]
    assert h[2][:2] == [b"PEXPIREAT", b"h"] and int(h[2][2]) == r.execute_command("PEXPIRETIME", "h")
    assert by_key[b"l"]["commands"][1] == [b"RPUSH", b"l", b"x", b"y", b"z"]
    assert sorted(by_key[b"st"]["commands"][1][2:]) == [b"m1", b"m2"]
    assert by_key[b"z"]["commands"][1] == [b"ZADD", b"z", b"1.5", b"a", b"0.10000000000000001", b"b"]
    assert by_key[b"bm"]["commands"][1] == [b"SET", b"bm", b"\x00\x40"]


def test_read_resp3_and_json(server, r):
    r.hset("h", mapping={"f": "v"})
    r.set("bin", b"\xff\x00")
    sid, _ = create(r)
    with server.conn() as c:
        c.call("HELLO", 3)
        rep = c.call("SNAPSHOT", "READ", sid, "0")
        assert isinstance(rep, dict) and list(rep) == [b"cursor", b"entries"], rep
        assert rep[b"cursor"] == b"0"
        first = rep[b"entries"][0]
        assert isinstance(first, dict) and list(first) == [b"db", b"commands"], first
        created = c.call("SNAPSHOT", "CREATE")
        assert isinstance(created, dict) and list(created) == [b"id", b"sequence"]
        lst = c.call("SNAPSHOT", "LIST")
        assert isinstance(lst[0], dict) and list(lst[0]) == [b"id", b"sequence", b"created", b"idle"]
    d = to_dict(snap(r, "READ", sid, "0", "FORMAT", "JSON"))
    raw = [bytes(e) for e in d["entries"]]
    assert raw[0].startswith(b'{"db":0,"commands":[["DEL","bin"],["SET","bin",{"base64":"/wA="}]]}'), raw
    _, entries = read_page(r, sid, "0", "FORMAT", "json")
    assert entries[1]["commands"] == [[b"DEL", b"h"], [b"HSET", b"h", b"f", b"v"]]


def test_list_release_and_info(r):
    before = r.info("keyspace")["cdc_snapshots"]
    sid, sequence = create(r)
    created = int(time.time() * 1000)
    listed = [to_dict(x) for x in snap(r, "LIST")]
    mine = [x for x in listed if x["id"].decode() == sid]
    assert len(mine) == 1
    assert mine[0]["sequence"] == sequence and abs(mine[0]["created"] - created) < 5000 and mine[0]["idle"] == 0
    assert r.info("keyspace")["cdc_snapshots"] == before + 1
    assert snap(r, "RELEASE", sid) == b"OK"
    assert r.info("keyspace")["cdc_snapshots"] == before
    assert error_of(r, "SNAPSHOT", "RELEASE", sid) == "no such snapshot"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0") == "no such snapshot"


def test_errors(r):
    sid, _ = create(r)
    assert error_of(r, "SNAPSHOT", "CREATE", "TTL", "0") == "out of numeric range"
    assert error_of(r, "SNAPSHOT", "CREATE", "TTL", "86401") == "out of numeric range"
    assert error_of(r, "SNAPSHOT", "CREATE", "TTL", "x") == "value is not an integer or out of range"
    assert error_of(r, "SNAPSHOT", "CREATE", "FOO", "1") == "syntax error"
    assert error_of(r, "SNAPSHOT", "READ", "nope", "0") == "no such snapshot"
    for bad in ("zz", "1", "00", "4D", "4D0000000000000001", "5300000000000000000000", "53000000FF00000000"):
        assert error_of(r, "SNAPSHOT", "READ", sid, bad) == "invalid cursor", bad
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "COUNT", "0") == "out of numeric range"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "COUNT", "10001") == "out of numeric range"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "FORMAT", "RAW") == \
        "invalid FORMAT option 'RAW', expected RESP or JSON"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "COUNT") == "syntax error"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "BLOCK", "1") == "syntax error"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "TYPE", "nosuch") == "syntax error"
    assert error_of(r, "SNAPSHOT", "READ", sid, "0", "DB", "16") == "DB index is out of range"
    assert error_of(r, "SNAPSHOT", "RELEASE", "nope") == "no such snapshot"
    assert error_of(r, "SNAPSHOT", "NOPE").startswith("unknown subcommand 'NOPE'")
    assert error_of(r, "SNAPSHOT", "LIST", "x") == "wrong number of arguments for 'snapshot|list' command"
    assert r.ping()


def test_the_cap(r):
    r.config_set("cdc-max-snapshots", 2)
    try:
        for sid in [x for x in (to_dict(y)["id"] for y in snap(r, "LIST"))]:
            snap(r, "RELEASE", sid)
        a, _ = create(r)
        create(r)
        assert error_of(r, "SNAPSHOT", "CREATE") == "too many snapshots"
        assert error_of(r, "CDC", "CREATE", "c1", "SNAPSHOT") == "too many snapshots"
        assert error_of(r, "CDC", "INFO", "c1") == "no such consumer"  # nothing left behind
        snap(r, "RELEASE", a)
        create(r)
        assert r.config_get("cdc-max-snapshots") == {"cdc-max-snapshots": "2"}
    finally:
        r.config_set("cdc-max-snapshots", 16)
        for sid in [to_dict(y)["id"] for y in snap(r, "LIST")]:
            snap(r, "RELEASE", sid)


@pytest.mark.soak  # long: runs under make soak
def test_idle_expiry_and_renewal(r):
    r.set("k", "v")
    sid, _ = create(r, "TTL", "1")
    for _ in range(3):  # each read renews: it outlives its TTL while read
        time.sleep(0.6)
        assert read_page(r, sid, "0")[1]
    time.sleep(2.2)  # the retention thread's sweep runs every second
    assert sid not in [to_dict(y)["id"].decode() for y in snap(r, "LIST")]
    assert error_of(r, "SNAPSHOT", "READ", sid, "0") == "no such snapshot"


def test_needs_auth(make_server):
    s = make_server(["--requirepass", "pw"])
    with s.conn() as c:
        assert c.call("SNAPSHOT", "CREATE").startswith("NOAUTH")
        assert c.call("SNAPSHOT", "LIST").startswith("NOAUTH")
        assert c.call("AUTH", "pw") == "OK"
        assert c.call("SNAPSHOT", "LIST") == []


def test_read_error_is_reported(make_server):
    s = make_server(["--debug-fault-injection", "yes"])
    c = s.client()
    c.hset("h", mapping={"f%d" % i: i for i in range(50)})
    sid, _ = create(c)
    for n in (1, 2, 5):
        c.execute_command("DEBUG", "READ-ERROR-AFTER", n)
        assert error_of(c, "SNAPSHOT", "READ", sid, "0") == "reading the snapshot failed (see the server log)"
    c.execute_command("DEBUG", "READ-ERROR-AFTER", 0)
    assert elements(read_all(c, sid)) == 50
    c.close()


def test_restart_drops_snapshots(make_server):
    s = make_server()
    c = s.client()
    c.set("k", "v")
    sid, _ = create(c)
    c.close()
    s.restart()
    c = s.client()
    assert snap(c, "LIST") == []
    assert error_of(c, "SNAPSHOT", "READ", sid, "0") == "no such snapshot"
    assert c.info("keyspace")["cdc_snapshots"] == 0
    c.close()


def test_cdc_create_with_snapshot(r):
    r.set("k", "v")
    d = to_dict(r.execute_command("CDC", "CREATE", "withsnap", "SNAPSHOT"))
    sid = d["snapshot"].decode()
    assert d["sequence"] == seq(r)
    listed = {to_dict(x)["id"].decode(): to_dict(x)["sequence"] for x in snap(r, "LIST")}
    assert listed[sid] == d["sequence"]
    assert read_page(r, sid, "0")[1][0]["commands"] == [[b"DEL", b"k"], [b"SET", b"k", b"v"]]
    assert error_of(r, "CDC", "CREATE", "withsnap", "SNAPSHOT") == "consumer already exists"
    assert len(listed) == len(snap(r, "LIST"))  # the failed one's snapshot is gone again
    r.set("k2", "v")
    assert error_of(r, "CDC", "CREATE", "other", "FROM", "1", "SNAPSHOT").startswith("SNAPSHOT is taken at")
    d2 = to_dict(r.execute_command("CDC", "CREATE", "other", "FROM", seq(r), "SNAPSHOT"))
    assert d2["sequence"] == seq(r) and d2["snapshot"]
    assert to_dict(r.execute_command("CDC", "CREATE", "plain"))["snapshot"] is None
    for name in ("withsnap", "other", "plain"):
        r.execute_command("CDC", "DROP", name)
    snap(r, "RELEASE", sid)
    snap(r, "RELEASE", d2["snapshot"])


# ---------------------------------------------------------------- contents

def test_expired_and_deleted_keys(r):
    r.set("gone", "v", px=50)
    r.hset("big", mapping={"f%d" % i: "v" for i in range(50)})
    time.sleep(0.1)  # 'gone' is dead at the snapshot although nothing removed it yet
    sid, _ = create(r)
    r.delete("big")
    r.execute_command("FLUSHALL")
    entries = read_all(r, sid, "COUNT", "7")
    keys = {e["commands"][0][1] for e in entries if e["commands"][0][0] == b"DEL"}
    assert keys == {b"big"}
    assert elements(entries) == 50


def test_reads_past_pops_after_the_snapshot(r):
    """Pops after the snapshot move the remembered bounds of the live items past items the
    snapshot still holds: its walks must not start from them."""
    r.rpush("l", *[str(i) for i in range(100)])
    r.zadd("z", {"m%03d" % i: i for i in range(100)})
    r.hset("h", mapping={"f%03d" % i: i for i in range(100)})
    sid, _ = create(r)
    r.lpop("l", 60)
    r.rpop("l", 20)
    r.zpopmin("z", 60)
    r.hdel("h", *["f%03d" % i for i in range(60)])
    for _ in range(3):  # walks of the latest data publish the bounds
        r.lrange("l", 0, 0), r.zrange("z", 0, 0), r.hgetall("h")
    entries = read_all(r, sid, "COUNT", "30")
    items = [a for e in entries for c in e["commands"] if c[0] == b"RPUSH" for a in c[2:]]
    assert items == [str(i).encode() for i in range(100)]
    assert elements(entries) == 300


def test_filters(server, r):
    r.set("a:1", "x")
    r.hset("a:h", "f", "v")
    r.set("b:1", "y")
    c1 = server.client(db=3)
    c1.set("a:2", "z")
    c1.close()
    sid, _ = create(r)

    def keys(*opts):
        return sorted((e["db"], e["commands"][0][1]) for e in read_all(r, sid, *opts))

    assert keys("MATCH", "a:*") == [(0, b"a:1"), (0, b"a:h"), (3, b"a:2")]
    assert keys("TYPE", "hash") == [(0, b"a:h")]
    assert keys("DB", "3") == [(3, b"a:2")]
    assert keys("DB", "3", "MATCH", "b*") == []
    assert keys("TYPE", "string", "DB", "0", "COUNT", "1") == [(0, b"a:1"), (0, b"b:1")]


def test_pages_resume_inside_keys(r):
    r.rpush("l", *[str(i) for i in range(25)])
    r.lpush("l", "head")
    r.zadd("z", {"m%d" % i: i / 3 for i in range(25)})
    r.hset("h", mapping={"f%d" % i: str(i) for i in range(25)})
    r.expire("z", 1000)
    sid, _ = create(r)
    pages = []
    entries = read_all(r, sid, "COUNT", "4", on_page=lambda e: pages.append(e))
    assert all(elements(p) <= 4 for p in pages) and elements(entries) == 76
    # Applying them rebuilds each key in a scratch database of the same server.
    scratch = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=9)
    for e in entries:
        for cmd in e["commands"]:
            scratch.execute_command(*cmd)
    assert scratch.lrange("l", 0, -1) == r.lrange("l", 0, -1)
    assert scratch.zrange("z", 0, -1, withscores=True) == r.zrange("z", 0, -1, withscores=True)
    assert scratch.hgetall("h") == r.hgetall("h")
    assert abs(scratch.ttl("z") - 1000) <= 1
    scratch.close()


# ---------------------------------------------------------------- the contract

def mixed_writer(server, stop, seed):
    """Random writes over every type and two databases, with TTLs, until stop is set. TTLs are
    long: replayed later, a key whose time ran out in between would take writes that its
    original took while still alive (lazy expiry records no DEL until the key is touched)."""
    rnd = random.Random(seed)
    cl = [server.client(db=0), server.client(db=1)]
    n = 0
    while not stop.is_set() or n < 300:
        c = rnd.choice(cl)
        k = "k%d" % rnd.randrange(60)
        op = rnd.randrange(14)
        try:
            if op == 0:
                c.set(k, "v%d" % n, px=rnd.choice([None, 40000, 60000]))
            elif op == 1:
                c.hset("h" + k, mapping={"f%d" % rnd.randrange(20): n for _ in range(3)})
            elif op == 2:
                c.hdel("h" + k, "f%d" % rnd.randrange(20))
            elif op == 3:
                c.rpush("l" + k, *[n, n + 1])
            elif op == 4:
                c.lpop("l" + k)
            elif op == 5:
                c.sadd("s" + k, *["m%d" % rnd.randrange(30) for _ in range(3)])
            elif op == 6:
                c.srem("s" + k, "m%d" % rnd.randrange(30))
            elif op == 7:
                c.zadd("z" + k, {"m%d" % rnd.randrange(30): rnd.uniform(-5, 5)})
            elif op == 8:
                c.zincrby("z" + k, 0.25, "m%d" % rnd.randrange(30))
            elif op == 9:
                c.delete(rnd.choice(["", "h", "l", "s", "z"]) + k)
            elif op == 10:
                c.pexpire(rnd.choice(["", "h", "l", "s", "z"]) + k, rnd.choice([30000, 50000]))
            elif op == 11:
                c.setbit("b" + k, rnd.randrange(200), 1)
            elif op == 12:
                c.persist(rnd.choice(["", "h", "l", "s", "z"]) + k)
            else:
                c.incrbyfloat("f" + k, 0.5)
        except redis.ResponseError:
            pass  # a type clash: nothing written
        n += 1
    for c in cl:
        c.close()


@pytest.mark.soak  # long: runs under make soak
@pytest.mark.parametrize("fmt", ["RESP", "JSON"])
def test_contract_snapshot_then_stream(make_server, fmt):
    src = make_server()
    dst = RedisServer().start()
    pre = src.client()
    for i in range(50):  # dead when the snapshot is taken: no part of it
        pre.set("dead%d" % i, "v", px=100)
        pre.hset("hdead%d" % i, "f", "v")
        pre.pexpire("hdead%d" % i, 100)
    pre.close()
    stop = threading.Event()
    writer = threading.Thread(target=mixed_writer, args=(src, stop, 7))
    writer.start()
    try:
        time.sleep(1.0)
        c = src.client()
        sid, sequence = create(c)
        time.sleep(0.5)
        entries = read_all(c, sid, "COUNT", "7", "FORMAT", fmt)
        assert not [e for e in entries if b"dead" in e["commands"][0][1]]
        with dst.conn() as conn:
            assert replay(conn, entries) == []
            time.sleep(0.5)
            stop.set()
            writer.join()
            pos = sequence
            while pos < seq(c):
                d = poll(c, pos, "MAX", 500, "FORMAT", fmt)
                assert d["first_sequence"] == pos + 1, "history was lost"
                assert replay(conn, d["updates"]) == []
                pos = d["next_sequence"]
        a, b = full_dump(src, dbs=(0, 1)), full_dump(dst, dbs=(0, 1))
        assert len(a) > 50
        problems = [(k, a.get(k), b.get(k)) for k in set(a) | set(b) if not same_key(a.get(k), b.get(k))]
        assert not problems, problems[:10]
        c.close()
    finally:
        stop.set()
        writer.join()
        dst.stop()


def same_key(x, y):
    """Type and value equal, expiry times within a second (a key expiring in between may be
    missing on one side only if its time is up)."""
    x, y = (None if v is None or v[0] == b"none" else v for v in (x, y))
    if x is None and y is None:
        return True
    if x is None or y is None:
        z = x or y
        return z[2] > 0 and z[2] - time.time() * 1000 < 1000
    if x[0] != y[0]:
        return False
    vx, vy = x[1], y[1]
    if x[0] in (b"set",):
        vx, vy = set(vx), set(vy)
    return vx == vy and (x[2] == y[2] or (x[2] > 0 and y[2] > 0 and abs(x[2] - y[2]) <= 1000))


# ---------------------------------------------------------------- paging big collections

def load(r, n, key, kind):
    batch = 20000
    for i in range(0, n, batch):
        part = range(i, min(n, i + batch))
        if kind == "zset":
            r.zadd(key, {"member:%08d" % j: j * 1.25 for j in part})
        else:
            r.rpush(key, *["item:%08d" % j for j in part])


def page_big(server, r, n):
    load(r, n, "bigz", "zset")
    load(r, n, "bigl", "list")
    sid, _ = create(r)
    before = rss_mb(server)
    seen = {"bigz": 0, "bigl": 0}
    last_item = [-1]
    cursor, pages = "0", 0
    while True:
        cursor, entries = read_page(r, sid, cursor, "COUNT", "1000")
        assert elements(entries) <= 1000
        pages += 1
        for e in entries:
            for cmd in e["commands"]:
                if cmd[0] == b"ZADD":
                    seen["bigz"] += (len(cmd) - 2) // 2
                elif cmd[0] == b"RPUSH":
                    for item in cmd[2:]:  # in order, each once
                        j = int(item.split(b":")[1])
                        assert j == last_item[0] + 1
                        last_item[0] = j
                    seen["bigl"] += len(cmd) - 2
        if cursor == "0":
            break
    assert seen == {"bigz": n, "bigl": n}
    assert pages >= 2 * n // 1000
    growth = rss_mb(server) - before
    assert growth < 64, "RSS grew by %.1f MB reading the snapshot" % growth
    snap(r, "RELEASE", sid)


@pytest.mark.soak  # long: runs under make soak
@rss_test
def test_paging_200k(server, r):
    page_big(server, r, 200000)


@soak
@rss_test
def test_paging_1m(server, r):
    page_big(server, r, 1000000)


def test_big_values_split_replies_by_size(r):
    """COUNT bounds elements, and a reply also ends once it holds cdc-poll-max-bytes: fields of
    1 MB must not come back in one reply of them all (nor 10000 of 512 MB in one of 5 TB)."""
    r.config_set("cdc-poll-max-bytes", "4mb")
    try:
        split_replies_by_size(r)
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")


def split_replies_by_size(r):
    big = b"x" * (1 << 20)
    r.hset("h", mapping={"f%d" % i: big for i in range(10)})
    r.set("s1", big)
    r.set("s2", big)
    sid, _ = create(r)
    pages = []
    entries = read_all(r, sid, "COUNT", "100", on_page=lambda e: pages.append(e))
    assert elements(entries) == 12
    assert len(pages) >= 3 and all(elements(p) <= 5 for p in pages), [elements(p) for p in pages]
    fields = {}
    for e in entries:
        for c in e["commands"]:
            if c[0] == b"HSET":
                fields.update(zip(c[2::2], c[3::2]))
    assert fields == r.hgetall("h")
