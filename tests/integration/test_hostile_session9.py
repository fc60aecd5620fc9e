"""A hostile second author's look at four changes (redis-server 7.0.15 as the reference where the
behaviour is Redis's):

1. reply formatting: integers two digits a step, stream ids without printf, one reservation per
   bulk string, and the path near a reply's bound (client-output-buffer-limit);
2. SNAPSHOT READ paging a stream's consumer groups (a place among the groups kept in the cursor);
3. XGROUP DESTROY / DELCONSUMER deleting by prefix without reading each pending entry;
4. XREADGROUP with the greatest id meaning `>`.

It found two bugs, both fixed: a stream entry whose id bytes read as a place among the groups
resumed a snapshot page there (losing the rest of the stream), and a page among big names
passed the client's room (its cursor and the names a command repeats were not counted)."""

import threading
import time

import pytest

from conftest import RespError, encode_command, raw, tidekv_only
from test_cdc_helpers import RedisServer, json_update, poll_all, replay, replayed_on_redis, to_dict
from test_stream_groups import normalised_full
from test_tidekv_cdc import args_for, run_tool


U64_MAX = 2 ** 64 - 1
MAX_ID = "%d-%d" % (U64_MAX, U64_MAX)
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
# names that are prefixes of one another, empty, 0x00 (escaped in the records' keys) and 0xFF
ODD_NAMES = [b"", b"a", b"a\x00", b"ab", b"\x00", b"\xff", b"a\xff", b"a\x00\x01"]


def pipeline(c, commands):
    c.send(b"".join(encode_command(*cmd) for cmd in commands))
    return [c.read_reply() for _ in commands]


def digit_edges():
    """0, 1, and 10^k - 1, 10^k for every k that fits an unsigned 64-bit integer, and its top."""
    vals = {0, 1, U64_MAX - 1, U64_MAX}
    for k in range(1, 20):
        vals.update((10 ** k - 1, 10 ** k))
    return sorted(vals)


# ---------------------------------------------------------------- 1. reply formatting

def test_integers_at_every_digit_count_and_the_int64_ends(c):
    vals = [v for v in digit_edges() if v <= INT64_MAX]
    vals += [-v for v in vals if v] + [INT64_MAX, INT64_MIN, INT64_MIN + 1]
    replies = pipeline(c, [cmd for i, v in enumerate(vals)
                           for cmd in (("SET", "n%d" % i, str(v)), ("INCRBY", "n%d" % i, "0"),
                                       ("STRLEN", "n%d" % i))])
    for i, v in enumerate(vals):
        assert replies[3 * i + 1:3 * i + 3] == [v, len(str(v))], v
    assert c.call("SET", "m", str(INT64_MIN)) == "OK"
    assert c.call("DECRBY", "m", "1") == RespError("ERR increment or decrement would overflow")
    assert c.call("INCRBY", "m", str(INT64_MAX)) == -1
    assert c.call("HINCRBY", "h", "f", str(INT64_MIN)) == INT64_MIN
    assert c.call("HGET", "h", "f") == str(INT64_MIN).encode()


def test_exact_bytes_of_replies_at_the_edges(server):
    out = raw(server, b"".join(encode_command(*cmd) for cmd in [
        ("SET", "e", ""), ("GET", "e"), ("SET", "n", str(INT64_MIN)), ("INCRBY", "n", "0"),
        ("GET", "n"), ("RPUSH", "l", "", "x" * 10, "y" * 100), ("LRANGE", "l", "0", "-1"),
        ("XADD", "s", MAX_ID, "", ""), ("XRANGE", "s", "-", "+"), ("XLEN", "s")]), idle=0.2)
    assert out == (b"+OK\r\n$0\r\n\r\n+OK\r\n:-9223372036854775808\r\n$20\r\n-9223372036854775808\r\n"
                   b":3\r\n*3\r\n$0\r\n\r\n$10\r\n" + b"x" * 10 + b"\r\n$100\r\n" + b"y" * 100 + b"\r\n"
                   b"$41\r\n" + MAX_ID.encode() + b"\r\n"
                   b"*1\r\n*2\r\n$41\r\n" + MAX_ID.encode() + b"\r\n*2\r\n$0\r\n\r\n$0\r\n\r\n:1\r\n")


def test_stream_ids_at_every_digit_count(c):
    edges = digit_edges()
    ids = sorted({(ms, seq) for ms in edges for seq in (0, 9, 10, U64_MAX) if ms or seq})
    added = pipeline(c, [("XADD", "s", "%d-%d" % i, "f", "v") for i in ids])
    assert added == [("%d-%d" % i).encode() for i in ids]
    got = [e[0] for e in c.call("XRANGE", "s", "-", "+")]
    assert got == [("%d-%d" % i).encode() for i in ids]
    assert [e[0] for e in c.call("XREVRANGE", "s", "+", "-", "COUNT", "1")] == [MAX_ID.encode()]
    assert c.call("XADD", "s", "*", "f", "v") == RespError(
        "ERR The stream has exhausted the last possible ID, unable to add more items")
    info = dict(zip(*[iter(c.call("XINFO", "STREAM", "s"))] * 2))
    assert info[b"last-generated-id"] == MAX_ID.encode() and info[b"length"] == len(ids)
    # a group at the greatest id, its last-delivered-id formatted the same way
    c.call("XGROUP", "CREATE", "s", "g", "$")
    assert dict(zip(*[iter(c.call("XINFO", "GROUPS", "s")[0])] * 2))[b"last-delivered-id"] == MAX_ID.encode()


def test_big_and_empty_bulk_strings(c):
    sizes = [0, 1, 9, 10, 99, 100, 16 * 1024 - 30, 16 * 1024, 65536, 1 << 20, 3 * (1 << 20) + 7]
    values = [bytes([65 + i % 26]) * n for i, n in enumerate(sizes)]
    pipeline(c, [("SET", "k%d" % i, v) for i, v in enumerate(values)])
    assert pipeline(c, [("GET", "k%d" % i) for i in range(len(sizes))]) == values
    assert c.call("MGET", *["k%d" % i for i in range(len(sizes))]) == values
    c.call("HSET", "h", "", "", "big", values[-1])
    assert sorted(c.call("HGETALL", "h")) == sorted([b"", b"", b"big", values[-1]])


def test_resp3_numbers_and_bulks(server):
    with server.conn() as c:
        c.call("HELLO", "3")
        assert c.call("SET", "n", str(INT64_MIN)) == "OK"
        assert c.call("INCRBY", "n", "0") == INT64_MIN
        assert c.call("GET", "n") == str(INT64_MIN).encode()
        c.call("XADD", "s", MAX_ID, "f", "")
        assert c.call("XRANGE", "s", "-", "+") == [[MAX_ID.encode(), [b"f", b""]]]
        c.call("HSET", "h", "", "x" * 70000)
        assert c.call("HGETALL", "h") == {b"": b"x" * 70000}
        assert c.call("GET", "nokey") is None


def bulk_reply_len(n):
    return 1 + len(str(n)) + 2 + n + 2


@tidekv_only
@pytest.mark.parametrize("cmd,fixed", [
    (("GET", "v"), 0),
    (("LRANGE", "l", "0", "-1"), len(b"*1\r\n")),
    (("HGETALL", "h"), len(b"*2\r\n$1\r\nf\r\n")),
    (("XRANGE", "s", "-", "+"), len(b"*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n")),
], ids=["get", "lrange", "hgetall", "xrange"])
def test_a_reply_exactly_at_the_bound_goes_whole_and_one_byte_past_is_cut(server, r, cmd, fixed):
    """The bound is the hard limit plus the 16 KB not counted (README): a reply of exactly that
    many bytes goes out whole on a fresh connection, one a byte longer closes it."""
    bound = 1000 + 16 * 1024
    r.config_set("client-output-buffer-limit", "normal 1000 0 0")
    try:
        for extra in (-1, 0, 1):
            n = bound - fixed - bulk_reply_len(17000) + 17000 + extra
            assert fixed + bulk_reply_len(n) == bound + extra
            value = b"z" * n
            r.delete("v", "l", "h", "s")
            r.set("v", value)
            r.rpush("l", value)
            r.hset("h", "f", value)
            r.xadd("s", {"f": value}, id="1-0")
            want = {"GET": value, "LRANGE": [value], "HGETALL": [b"f", value],
                    "XRANGE": [[b"1-0", [b"f", value]]]}[cmd[0]]
            with server.conn() as c:
                try:
                    got = c.call(*cmd)
                except Exception as e:  # closed: the reply passed the bound
                    got = e
            if extra <= 0:
                assert got == want, extra
            else:
                assert not isinstance(got, (bytes, list)), extra
            assert r.ping()
    finally:
        r.config_set("client-output-buffer-limit", "normal 1gb 256mb 60")


# ---------------------------------------------------------------- 2. SNAPSHOT READ pages groups

def snapshot_pages(c, sid, count, *opts):
    """[(db, command) of a page] of SNAPSHOT READ sid, page by page."""
    cursor, pages = "0", []
    while True:
        d = to_dict(c.call("SNAPSHOT", "READ", sid, cursor, "COUNT", str(count), *opts))
        assert not isinstance(d, RespError), d
        entries = [json_update(e) if "JSON" in opts else to_dict(e) for e in d["entries"]]
        pages.append([(e["db"], tuple(cmd)) for e in entries for cmd in e["commands"]])
        cursor = d["cursor"].decode() if isinstance(d["cursor"], bytes) else d["cursor"]
        if cursor == "0":
            return pages
        assert len(pages) < 10000


def snapshot_commands(c, sid, count, *opts):
    return [list(cmd) for p in snapshot_pages(c, sid, count, *opts) for _, cmd in p]


def odd_groups(c, key, deleted_pending=True):
    """A stream whose groups and consumers have names that are prefixes of one another, 0x00 and
    0xFF in them; a group with no consumers, consumers with nothing pending, and (optionally)
    pending entries whose entries were deleted since."""
    pipeline(c, [("XADD", key, "%d-1" % i, "f", "v%d" % i) for i in range(1, 13)])
    for gi, g in enumerate(ODD_NAMES[:4]):
        c.call("XGROUP", "CREATE", key, g, "0")
        for ci, cons in enumerate(ODD_NAMES[:3 + gi % 2]):
            if (gi + ci) % 3 == 2:
                c.call("XGROUP", "CREATECONSUMER", key, g, cons)  # nothing pending
            else:
                c.call("XREADGROUP", "GROUP", g, cons, "COUNT", str(1 + ci), "STREAMS", key, ">")
    c.call("XGROUP", "CREATE", key, b"\xff", "$", "ENTRIESREAD", "5")  # no consumers
    if deleted_pending:
        c.call("XDEL", key, "1-1", "4-1")


@tidekv_only
def test_snapshot_pages_split_among_groups_at_every_point(server, c, r):
    """Whatever COUNT (or cdc-poll-max-bytes of 1) cuts the pages, they hold the same commands in
    the same order as one page does: no command lost or repeated where a page ends among the
    groups, consumers or pending entries, across streams (one empty, one with a TTL, one in
    db 1) and other keys, with and without filters."""
    odd_groups(c, "s")
    odd_groups(c, "t", deleted_pending=False)
    c.call("PEXPIRE", "t", "100000")
    c.call("XGROUP", "CREATE", "e", b"", "$", "MKSTREAM")
    c.call("XGROUP", "CREATE", "e", b"\x00", "$")
    c.call("XGROUP", "CREATECONSUMER", "e", b"\x00", b"")
    c.call("SET", "str", "x")
    c.call("SELECT", "1")
    odd_groups(c, "u", deleted_pending=False)
    c.call("SELECT", "0")
    sid = c.call("SNAPSHOT", "CREATE")[1].decode()
    whole = snapshot_pages(c, sid, 10000)
    assert len(whole) == 1
    whole = whole[0]
    assert sum(cmd[:2] == (b"XGROUP", b"CREATECONSUMER") for _, cmd in whole) >= 30
    assert sum(cmd[0] == b"XCLAIM" for _, cmd in whole) >= 20
    assert {db for db, _ in whole} == {0, 1}
    for count in range(1, len(whole) + 2):
        pages = snapshot_pages(c, sid, count)
        assert [x for p in pages for x in p] == whole, count
        # a page holds COUNT elements at most, plus each stream's DEL, XSETID and PEXPIREAT
        assert max(len(p) for p in pages) <= count + 3 * 4 + 1, count
    for opts, keys in ((("MATCH", "[su]"), {b"s", b"u"}), (("TYPE", "stream"), {b"s", b"t", b"e", b"u"}),
                       (("DB", "0", "MATCH", "[et]"), {b"e", b"t"}), (("DB", "1",), {b"u"})):
        want = snapshot_pages(c, sid, 10000, *opts)[0]
        assert {cmd[2] if cmd[0] == b"XGROUP" else cmd[1] for _, cmd in want} == keys, opts
        for count in (1, 2, 3, 7):
            assert [x for p in snapshot_pages(c, sid, count, *opts) for x in p] == want, (opts, count)
    for count in (1, 2, 5):  # names of any bytes, base64 in JSON
        assert [x for p in snapshot_pages(c, sid, count, "FORMAT", "JSON") for x in p] == whole, count
    r.config_set("cdc-poll-max-bytes", "1")
    try:
        pages = snapshot_pages(c, sid, 1000)
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")
    assert [x for p in pages for x in p] == whole


@tidekv_only
def test_snapshot_pages_of_odd_groups_replay_on_redis(server, c, r):
    odd_groups(c, "s", deleted_pending=False)
    sid = c.call("SNAPSHOT", "CREATE")[1].decode()
    before = normalised_full(r, "s")
    commands = snapshot_commands(c, sid, 2)
    assert replayed_on_redis(commands, ("s",), normalised_full) == {"s": before}


def copied_by_tidekv_cdc(server, c, keys, consumer):
    """{key: normalised_full} of what tidekv-cdc --once copies into a fresh redis-server."""
    target = RedisServer().start()
    try:
        rc, _, err = run_tool(*args_for(server, target, "--once", consumer=consumer))
        assert rc == 0, err
        theirs = target.client()
        try:
            return {k: normalised_full(theirs, k) for k in keys}
        finally:
            theirs.close()
    finally:
        target.stop()
        c.call("CDC", "DROP", consumer)


TOOL_PAGE = 1000  # tidekv-cdc's SNAPSHOT READ COUNT (tools/tidekv-cdc/source.c)


@tidekv_only
@pytest.mark.parametrize("kind", [b"CREATE", b"CREATECONSUMER", b"XCLAIM"])
def test_tidekv_cdc_copies_a_stream_whose_page_ends_among_its_groups(server, c, r, kind):
    """tidekv-cdc copies the snapshot in pages of 1000 elements: entries are added after the
    groups' ones until the page ends just before the second command of the kind (a group, a
    consumer, a pending entry of odd names); the copy's groups equal the source's."""
    pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(1, 301)])
    for g in ODD_NAMES[:4]:
        c.call("XGROUP", "CREATE", "s", g, "0")
        pipeline(c, [("XREADGROUP", "GROUP", g, cons, "COUNT", "3", "STREAMS", "s", ">") for cons in ODD_NAMES])
    sid = c.call("SNAPSHOT", "CREATE")[1].decode()
    whole = snapshot_commands(c, sid, 10000)
    c.call("SNAPSHOT", "RELEASE", sid)
    groups = whole[[cmd[0] for cmd in whole].index(b"XSETID") + 1:]
    j = [i for i, cmd in enumerate(groups) if (cmd[1] if cmd[0] == b"XGROUP" else cmd[0]) == kind][1]
    # entries 1 … n, then groups[0 … j-1]: n + j elements, so the page of 1000 ends before groups[j]
    n = TOOL_PAGE - j
    pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(301, n + 1)])
    before = normalised_full(r, "s")
    assert copied_by_tidekv_cdc(server, c, ("s",), "h9-" + kind.decode()) == {"s": before}


@tidekv_only
def test_snapshot_page_among_big_group_names_keeps_within_the_clients_room(server, c, r):
    """Elements of about 4 KB, a room of 17 KB (client-output-buffer-limit normal 1000 plus the
    16 KB not counted): README says a reply stops taking elements once it holds the room left,
    so COUNT 10000 gives pages of a few elements; none may close the client."""
    c.call("XADD", "s", "1-0", "f", "v")
    group = b"G" * 2000
    c.call("XGROUP", "CREATE", "s", group, "0")
    for i in range(8):
        c.call("XGROUP", "CREATECONSUMER", "s", group, b"%02d" % i + b"C" * 1998)
    sid = c.call("SNAPSHOT", "CREATE")[1].decode()
    before = normalised_full(r, "s")
    r.config_set("client-output-buffer-limit", "normal 1000 0 0")
    try:
        with server.conn() as fresh:
            commands = snapshot_commands(fresh, sid, 10000)
    finally:
        r.config_set("client-output-buffer-limit", "normal 1gb 256mb 60")
    assert replayed_on_redis(commands, ("s",), normalised_full) == {"s": before}


@tidekv_only
@pytest.mark.parametrize("ms", [0x63 << 56, (0x67 << 56) | (11 << 24)], ids=["c_consumers", "g_create"])
def test_snapshot_entry_id_that_reads_like_a_group_place(server, c, ms):
    c.call("XADD", "s", "1-1", "f", "a")
    c.call("XADD", "s", "%d-0" % ms, "f", "b")
    c.call("XADD", "s", "%d-1" % ms, "f", "c")
    sid = c.call("SNAPSHOT", "CREATE")[1].decode()
    commands = snapshot_commands(c, sid, 1)
    assert [cmd[2] for cmd in commands if cmd[0] == b"XADD"] == [b"1-1", b"%d-0" % ms, b"%d-1" % ms]
    assert any(cmd[0] == b"XSETID" for cmd in commands)


@tidekv_only
def test_tidekv_cdc_copy_of_entries_whose_ids_read_like_a_group_place(server, c, r):
    ms = 0x63 << 56
    pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(1, TOOL_PAGE)])
    pipeline(c, [("XADD", "s", "%d-%d" % (ms, i), "f", "v") for i in range(5)])
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    before = normalised_full(r, "s")
    assert copied_by_tidekv_cdc(server, c, ("s",), "h9-ambiguous") == {"s": before}


# ---------------------------------------------------------------- 3. DESTROY / DELCONSUMER

def full_state(c, r, key):
    """XINFO STREAM FULL (seen times zeroed: they differ between runs) and every group's
    XPENDING extended form."""
    full = normalised_full(r, key)
    pend = {}
    for g in c.call("XINFO", "GROUPS", key):
        name = dict(zip(*[iter(g)] * 2))[b"name"]
        pend[name] = [p[:2] + [p[3]] for p in c.call("XPENDING", key, name, "-", "+", "1000")]
    return full, pend


def assert_changes_replay(r, base, key):
    """The change records from sequence base on, replayed into a fresh redis-server, leave the
    key's groups as tidekv holds them."""
    rs = RedisServer()
    try:
        rs.start()
        with rs.conn() as rc:
            assert replay(rc, poll_all(r, base, "RESP")) == []
        theirs = rs.client()
        try:
            assert normalised_full(theirs, key) == normalised_full(r, key)
        finally:
            theirs.close()
    finally:
        rs.stop()


def prefix_workload(c, key):
    pipeline(c, [("XADD", key, "%d-0" % i, "f", "%d" % i) for i in range(1, 41)])
    for g in ODD_NAMES:
        c.call("XGROUP", "CREATE", key, g, "0")
        for ci, cons in enumerate(ODD_NAMES):
            c.call("XREADGROUP", "GROUP", g, cons, "COUNT", str(1 + ci % 3), "STREAMS", key, ">")
    c.call("XACK", key, b"a", "2-0", "5-0")
    c.call("XDEL", key, "3-0")  # pending, its entry gone


def test_delconsumer_and_destroy_among_names_that_prefix_each_other(c, r):
    prefix_workload(c, "s")
    full, pend = full_state(c, r, "s")
    # DELCONSUMER "a" of group "a": the consumers "a\x00", "a\xff", "ab", ... keep theirs
    mine = [p for p in pend[b"a"] if p[1] == b"a"]
    assert c.call("XGROUP", "DELCONSUMER", "s", b"a", b"a") == len(mine)
    pend[b"a"] = [p for p in pend[b"a"] if p[1] != b"a"]
    ga = full[b"groups"][[g[b"name"] for g in full[b"groups"]].index(b"a")]
    ga[b"consumers"] = [x for x in ga[b"consumers"] if x[b"name"] != b"a"]
    ga[b"pel-count"] -= len(mine)
    ga[b"pending"] = [p for p in ga[b"pending"] if p[1] != b"a"]
    assert full_state(c, r, "s") == (full, pend)
    assert c.call("XPENDING", "s", b"a", "-", "+", "100", b"a") == []
    # DESTROY "a": the groups "a\x00", "a\xff", "a\x00\x01", "ab" keep everything
    assert c.call("XGROUP", "DESTROY", "s", b"a") == 1
    del pend[b"a"]
    full[b"groups"] = [g for g in full[b"groups"] if g[b"name"] != b"a"]
    assert full_state(c, r, "s") == (full, pend)
    # the group made again under the name starts empty, and reads everything afresh
    c.call("XGROUP", "CREATE", "s", b"a", "0")
    assert c.call("XPENDING", "s", b"a") == [0, None, None, None]
    assert c.call("XINFO", "CONSUMERS", "s", b"a") == []
    got = c.call("XREADGROUP", "GROUP", b"a", b"a", "STREAMS", "s", "0")
    assert got == [[b"s", []]]
    assert len(c.call("XREADGROUP", "GROUP", b"a", b"a", "STREAMS", "s", ">")[0][1]) == 39
    # a consumer deleted and made again has no history
    c.call("XGROUP", "DELCONSUMER", "s", b"a\x00", b"a\x00")
    assert c.call("XREADGROUP", "GROUP", b"a\x00", b"a\x00", "STREAMS", "s", "0") == [[b"s", []]]
    # the others' history, claims and autoclaims still work
    hist = c.call("XREADGROUP", "GROUP", b"a\x00", b"ab", "STREAMS", "s", "0")[0][1]
    assert [e[0] for e in hist] == [p[0] for p in pend[b"a\x00"] if p[1] == b"ab"]
    ids = [p[0] for p in pend[b"ab"]]
    claimed = c.call("XCLAIM", "s", b"ab", b"new", "0", *ids, "JUSTID")
    assert claimed == [i for i in ids if i != b"3-0"]  # the deleted entry's is dropped
    assert c.call("XAUTOCLAIM", "s", b"a\x00\x01", b"a", "0", "0", "COUNT", "100", "JUSTID")[1] == \
        [p[0] for p in pend[b"a\x00\x01"] if p[0] != b"3-0"]


def test_destroy_and_delconsumer_after_claims_moved_pending_entries(c, r):
    """Pending entries moved between consumers by XCLAIM, XAUTOCLAIM and a history read leave
    each consumer's index naming only its own: DELCONSUMER of the one that lost them deletes
    none of the winner's, DESTROY then leaves nothing a group of the same name could see."""
    prefix_workload(c, "s")
    _, pend = full_state(c, r, "s")
    g = b"a\x00"
    a_ids = [p[0] for p in pend[g] if p[1] == b"a"]
    ab_ids = [p[0] for p in pend[g] if p[1] == b"ab"]
    c.call("XCLAIM", "s", g, b"a\x00", "0", *a_ids, "JUSTID")  # a's all go to a\x00
    c.call("XAUTOCLAIM", "s", g, b"", "0", ab_ids[0], "COUNT", "1", "JUSTID")  # one of ab's to ""
    assert c.call("XGROUP", "DELCONSUMER", "s", g, b"a") == 0
    moved = c.call("XGROUP", "DELCONSUMER", "s", g, b"ab")
    assert moved == len(ab_ids) - 1
    left = c.call("XPENDING", "s", g, "-", "+", "100")
    assert [p[1] for p in left if p[1] in (b"a", b"ab")] == []
    # XCLAIM dropped the pending entry whose entry was deleted (3-0) if it was a's
    assert {p[0] for p in left} == {p[0] for p in pend[g] if (p[1] != b"ab" or p[0] == ab_ids[0]) and
                                    not (p[1] == b"a" and p[0] == b"3-0")}
    assert c.call("XPENDING", "s", g)[0] == len(left)
    got = c.call("XREADGROUP", "GROUP", g, b"a\x00", "STREAMS", "s", "0")[0][1]
    assert sorted(e[0] for e in got) == sorted(p[0] for p in left if p[1] == b"a\x00")
    assert c.call("XGROUP", "DESTROY", "s", g) == 1
    c.call("XGROUP", "CREATE", "s", g, "$")
    for cons in ODD_NAMES:
        assert c.call("XREADGROUP", "GROUP", g, cons, "STREAMS", "s", "0") == [[b"s", []]]
    assert c.call("XPENDING", "s", g) == [0, None, None, None]
    assert [x[1] for x in c.call("XINFO", "CONSUMERS", "s", g)] == sorted(ODD_NAMES)


@pytest.mark.parametrize("drop", [
    ("XCLAIM", "s", "g", "b", "0", "2-0", "4-0", "JUSTID"),
    ("XCLAIM", "s", "g", "a", "0", "2-0", "4-0"),
    ("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "10"),
    ("XAUTOCLAIM", "s", "g", "a", "0", "0", "COUNT", "1", "JUSTID"),
    ("XACK", "s", "g", "2-0"),
], ids=["xclaim_other", "xclaim_self", "xautoclaim_other", "xautoclaim_self_count1", "xack"])
def test_delconsumer_after_pending_entries_of_deleted_entries_were_dropped(c, drop):
    """XCLAIM / XAUTOCLAIM drop a pending entry whose entry was deleted: the owner's index must
    lose it too, or DELCONSUMER (which now trusts that index) miscounts the group."""
    pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(1, 6)])
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "a", "COUNT", "4", "STREAMS", "s", ">")
    c.call("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
    c.call("XDEL", "s", "2-0", "3-0")
    c.call(*drop)
    pend = c.call("XPENDING", "s", "g", "-", "+", "100")
    a_had = sum(p[1] == b"a" for p in pend)
    assert c.call("XGROUP", "DELCONSUMER", "s", "g", "a") == a_had
    left = c.call("XPENDING", "s", "g", "-", "+", "100")
    assert [p[:2] + p[3:] for p in left] == [p[:2] + p[3:] for p in pend if p[1] != b"a"]
    summary = c.call("XPENDING", "s", "g")
    assert summary[0] == len(left)
    info = dict(zip(*[iter(c.call("XINFO", "GROUPS", "s")[0])] * 2))
    assert info[b"pending"] == len(left) and info[b"consumers"] == len({p[1] for p in left} | {b"b"})
    assert c.call("XGROUP", "DESTROY", "s", "g") == 1
    c.call("XGROUP", "CREATE", "s", "g", "0")
    assert c.call("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "0") == [[b"s", []]]
    assert c.call("XPENDING", "s", "g") == [0, None, None, None]


@pytest.mark.parametrize("how", ["copy", "rename"])
def test_destroy_and_delconsumer_of_a_copied_or_renamed_stream(c, r, how):
    prefix_workload(c, "s")
    full, pend = full_state(c, r, "s")
    if how == "copy":
        assert c.call("COPY", "s", "d") == 1
    else:
        assert c.call("RENAME", "s", "d") == "OK"
    assert full_state(c, r, "d") == (full, pend)
    n = len([p for p in pend[b"ab"] if p[1] == b"a\x00"])
    assert c.call("XGROUP", "DELCONSUMER", "d", b"ab", b"a\x00") == n
    assert c.call("XGROUP", "DESTROY", "d", b"a") == 1
    got_full, got_pend = full_state(c, r, "d")
    assert set(got_pend) == set(pend) - {b"a"}
    assert got_pend[b"ab"] == [p for p in pend[b"ab"] if p[1] != b"a\x00"]
    assert all(got_pend[g] == pend[g] for g in got_pend if g != b"ab")
    c.call("XGROUP", "CREATE", "d", b"a", "0")
    assert c.call("XREADGROUP", "GROUP", b"a", b"a", "STREAMS", "d", "0") == [[b"d", []]]
    if how == "copy":  # the original keeps everything
        assert full_state(c, r, "s") == (full, pend)


def test_destroy_and_delconsumer_in_the_multi_that_made_the_pending_entries(c):
    pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(1, 11)])
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XGROUP", "CREATE", "s", "g\x00", "0")
    c.call("MULTI")
    c.call("XREADGROUP", "GROUP", "g", "x", "COUNT", "3", "STREAMS", "s", ">")
    c.call("XREADGROUP", "GROUP", "g", "x\x00", "COUNT", "2", "STREAMS", "s", ">")
    c.call("XREADGROUP", "GROUP", "g\x00", "x", "COUNT", "4", "STREAMS", "s", ">")
    c.call("XGROUP", "DELCONSUMER", "s", "g", "x")
    c.call("XPENDING", "s", "g")
    c.call("XGROUP", "DESTROY", "s", "g")
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "x\x00", "STREAMS", "s", "0")
    c.call("XPENDING", "s", "g\x00")
    got = c.call("EXEC")
    assert got[3:] == [3, [2, b"4-0", b"5-0", [[b"x\x00", b"2"]]], 1, "OK", [[b"s", []]],
                       [4, b"1-0", b"4-0", [[b"x", b"4"]]]]


def test_destroy_of_a_group_of_many_consumers(c):
    pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(1, 401)])
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XGROUP", "CREATE", "s", "g2", "0")
    names = ["c%d" % i for i in range(200)] + ["c%d\x00" % i for i in range(200)]
    pipeline(c, [("XREADGROUP", "GROUP", g, n, "COUNT", "1", "STREAMS", "s", ">") for n in names
                 for g in ("g", "g2")])
    assert c.call("XPENDING", "s", "g")[0] == 400
    assert c.call("XGROUP", "DELCONSUMER", "s", "g", "c1") == 1
    assert c.call("XGROUP", "DESTROY", "s", "g") == 1
    c.call("XGROUP", "CREATE", "s", "g", "0")
    assert pipeline(c, [("XREADGROUP", "GROUP", "g", n, "STREAMS", "s", "0") for n in names[::37]]) == \
        [[[b"s", []]]] * len(names[::37])
    # the history reads made their consumers anew, with nothing pending
    assert [(x[1], x[3]) for x in c.call("XINFO", "CONSUMERS", "s", "g")] == \
        sorted((n.encode(), 0) for n in names[::37])
    assert c.call("XPENDING", "s", "g2")[0] == 400
    assert len(c.call("XINFO", "CONSUMERS", "s", "g2")) == 400


@tidekv_only
def test_delconsumer_and_destroy_failing_at_every_read_leave_the_group_whole(make_server):
    """A storage read failing at any point of DELCONSUMER or DESTROY (the consumers' walk, each
    deletion walk, every batch) answers the storage error and leaves every group as it was
    (README: the command's writes roll back); then the command goes through."""
    server = make_server(["--debug-fault-injection", "yes"])
    r = server.client(decode_responses=False)
    with server.conn() as c:
        pipeline(c, [("XADD", "s", "%d-0" % i, "f", "v") for i in range(1, 13)])
        for g in (b"a", b"a\x00", b"ab"):
            c.call("XGROUP", "CREATE", "s", g, "0")
            for cons in (b"", b"a", b"a\x00", b"ab"):
                c.call("XREADGROUP", "GROUP", g, cons, "COUNT", "2", "STREAMS", "s", ">")
        for cmd, want in ((("XGROUP", "DELCONSUMER", "s", b"a", b"a"), 2), (("XGROUP", "DESTROY", "s", b"a"), 1),
                          (("XGROUP", "DESTROY", "s", b"a\x00"), 1)):
            before = full_state(c, r, "s")
            for n in range(1, 500):
                c.call("DEBUG", "READ-ERROR-AFTER", str(n))
                got = c.call(*cmd)
                c.call("DEBUG", "READ-ERROR-AFTER", "0")
                if got == want:
                    break
                assert got == RespError("ERR storage error, see the server log"), (cmd, n, got)
                assert full_state(c, r, "s") == before, (cmd, n)
            assert n > 1 and got == want, cmd
    r.close()


def test_delconsumer_and_destroy_inside_multi_and_under_watch(server, c, r):
    prefix_workload(c, "s")
    _, pend = full_state(c, r, "s")
    assert c.call("MULTI") == "OK"
    c.call("XGROUP", "DELCONSUMER", "s", b"ab", b"a")
    c.call("XPENDING", "s", b"ab")
    c.call("XGROUP", "DESTROY", "s", b"ab")
    c.call("XGROUP", "DESTROY", "s", b"ab")
    c.call("XGROUP", "CREATE", "s", b"ab", "0")
    c.call("XPENDING", "s", b"ab")
    got = c.call("EXEC")
    left = [p for p in pend[b"ab"] if p[1] != b"a"]
    assert got[0] == len(pend[b"ab"]) - len(left)
    assert got[1][0] == len(left)
    assert got[2:] == [1, 0, "OK", [0, None, None, None]]
    # as in Redis 7.0, neither touches a watched key (the stream's entries are the same)
    for cmd, aborted in ((("XGROUP", "DELCONSUMER", "s", b"a\x00", b"ab"), False),
                         (("XGROUP", "DESTROY", "s", b"a\xff"), False)):
        with server.conn() as w:
            w.call("WATCH", "s")
            c.call(*cmd)
            w.call("MULTI")
            w.call("XLEN", "s")
            assert w.call("EXEC") == (None if aborted else [39]), cmd


@tidekv_only
def test_delconsumer_and_destroy_change_records_replay_on_redis(server, c, r):
    base = int(c.call("SEQUENCE"))
    prefix_workload(c, "s")
    c.call("XGROUP", "DELCONSUMER", "s", b"a", b"a")
    c.call("XGROUP", "DELCONSUMER", "s", b"a\x00", b"a\x00\x01")
    c.call("XGROUP", "DESTROY", "s", b"ab")
    c.call("XGROUP", "DESTROY", "s", b"\x00")
    c.call("MULTI")
    c.call("XGROUP", "DELCONSUMER", "s", b"a\xff", b"ab")
    c.call("XGROUP", "DESTROY", "s", b"a\x00\x01")
    c.call("XGROUP", "CREATE", "s", b"a\x00\x01", "0")
    c.call("XREADGROUP", "GROUP", b"a\x00\x01", b"a", "COUNT", "3", "STREAMS", "s", ">")
    c.call("EXEC")
    assert_changes_replay(r, base, "s")


# ---------------------------------------------------------------- 4. the greatest id as >

def test_greatest_id_mixed_with_gt_and_real_ids_over_several_streams(c):
    for k in ("s1", "s2", "s3"):
        pipeline(c, [("XADD", k, "%d-0" % i, "f", k) for i in (1, 2)])
        c.call("XGROUP", "CREATE", k, "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s3", ">")
    got = c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", "s2", "s3", MAX_ID, ">", "0")
    assert got == [[b"s1", [[b"1-0", [b"f", b"s1"]], [b"2-0", [b"f", b"s1"]]]],
                   [b"s2", [[b"1-0", [b"f", b"s2"]], [b"2-0", [b"f", b"s2"]]]],
                   [b"s3", [[b"1-0", [b"f", b"s3"]]]]]
    # nothing new anywhere, and the history read by the greatest id is none: a null reply
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", "s2", MAX_ID, MAX_ID) is None
    # one below the greatest is history from there: empty, not new entries
    below = "%d-%d" % (U64_MAX, U64_MAX - 1)
    c.call("XADD", "s1", "3-0", "f", "new")
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", below) == [[b"s1", []]]
    assert c.call("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s1", MAX_ID) == \
        [[b"s1", [[b"3-0", [b"f", b"new"]]]]]
    assert c.call("XPENDING", "s1", "g")[0] == 2  # NOACK: 3-0 not pending
    assert c.call("XREADGROUP", "GROUP", "g", "fresh", "STREAMS", "s1", MAX_ID) is None
    assert [x[1] for x in c.call("XINFO", "CONSUMERS", "s1", "g")] == [b"c"]  # none made


def test_greatest_id_spelt_otherwise_and_blocking_mixed_with_history(c):
    c.call("XADD", "s", "1-0", "f", "v")
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    c.call("XADD", "s", "2-0", "f", "w")
    # the greatest ms alone is history from ms-0, not new entries
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", str(U64_MAX)) == [[b"s", []]]
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$") == RespError(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "
        "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would "
        "just return an empty result set.")
    assert isinstance(c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "%d-%d" % (U64_MAX, 2 ** 64)),
                      RespError)
    # BLOCK with the greatest id and a history id: served at once, the history and the new entry
    t0 = time.monotonic()
    got = c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "2000", "STREAMS", "s", "s", MAX_ID, "0")
    assert time.monotonic() - t0 < 1.5
    assert got == [[b"s", [[b"2-0", [b"f", b"w"]]]], [b"s", [[b"1-0", [b"f", b"v"]], [b"2-0", [b"f", b"w"]]]]]
    # nothing new: the history alone, at once
    t0 = time.monotonic()
    got = c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "2000", "STREAMS", "s", "s", MAX_ID, "1-0")
    assert time.monotonic() - t0 < 1.5
    assert got == [[b"s", [[b"2-0", [b"f", b"w"]]]]]


@pytest.mark.parametrize("new_id", [">", MAX_ID])
def test_new_entries_all_deleted_since_the_groups_last_id(c, new_id):
    """The stream's last id is past the group's, but XDEL took every entry after it: Redis 7.0
    answers a null array, makes no consumer and leaves the group's id; `>` and the greatest id
    alike."""
    c.call("XADD", "s", "1-0", "f", "v")
    c.call("XGROUP", "CREATE", "s", "g", "$")
    c.call("XADD", "s", "2-0", "f", "v")
    c.call("XDEL", "s", "2-0")
    got = c.call("XREADGROUP", "GROUP", "g", "fresh", "STREAMS", "s", new_id)
    consumers = [x[1] for x in c.call("XINFO", "CONSUMERS", "s", "g")]
    group = dict(zip(*[iter(c.call("XINFO", "GROUPS", "s")[0])] * 2))
    assert (got, consumers, group[b"last-delivered-id"]) == (None, [], b"1-0")


def blocked_read(server, c, consumer, write):
    """XREADGROUP GROUP g <consumer> BLOCK 5000 STREAMS s <greatest id> on its own connection,
    once it waits: `write` on c; returns the blocked read's reply."""
    got = {}

    def blocked():
        with server.conn() as b:
            got["r"] = b.call("XREADGROUP", "GROUP", "g", consumer, "BLOCK", "5000", "STREAMS", "s", MAX_ID)

    t = threading.Thread(target=blocked)
    t.start()
    deadline = time.monotonic() + 3
    while b"cmd=xreadgroup" not in c.call("CLIENT", "LIST") and time.monotonic() < deadline:
        time.sleep(0.02)
    c.call(*write)
    t.join(6)
    return got.get("r")


def test_block_with_the_greatest_id_waits_for_a_new_entry(server, c):
    c.call("XADD", "s", "1-0", "f", "old")
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert blocked_read(server, c, "c", ("XADD", "s", "2-0", "f", "new")) == [[b"s", [[b"2-0", [b"f", b"new"]]]]]
    assert c.call("XPENDING", "s", "g")[0] == 2
    # BLOCK with the greatest id times out with a null reply when nothing comes
    assert c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", MAX_ID) is None


@tidekv_only
def test_greatest_id_reads_record_as_gt_reads_do(server, c, r):
    base = int(c.call("SEQUENCE"))
    c.call("XADD", "s", "1-0", "f", "a")
    c.call("XADD", "s", "2-0", "f", "b")
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", MAX_ID)
    c.call("XREADGROUP", "GROUP", "g", "d", "NOACK", "STREAMS", "s", MAX_ID)
    c.call("XREADGROUP", "GROUP", "g", "e", "STREAMS", "s", MAX_ID)  # nothing: no consumer, no record
    # in MULTI, BLOCK does not wait: nothing new, a null
    c.call("MULTI")
    c.call("XREADGROUP", "GROUP", "g", "f", "BLOCK", "1000", "STREAMS", "s", MAX_ID)
    assert c.call("EXEC") == [None]
    # a blocked read woken by a new entry records as a served one does
    assert blocked_read(server, c, "w", ("XADD", "s", "3-0", "f", "c")) == [[b"s", [[b"3-0", [b"f", b"c"]]]]]
    assert_changes_replay(r, base, "s")
