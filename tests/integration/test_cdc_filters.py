"""POLLUPDATES MATCH / TYPE / DB filters (CDC.md: keep only changes to matching keys /
types / databases; filtered-out batches still advance next_sequence)."""

import threading
import time

import pytest

from conftest import tidekv_only
from helpers import inject, ns, string_meta
from test_cdc_helpers import build_batch, poll, poll_all, record, seq

pytestmark = tidekv_only


def run(server, script):
    """Runs commands on one raw connection (so SELECT and MULTI behave as written)."""
    with server.conn() as c:
        for cmd in script:
            rep = c.call(*cmd)
            assert not (isinstance(rep, str) and rep.startswith("ERR")), (cmd, rep)


def filtered(r, start, *flt, fmt="RESP"):
    out = poll_all(r, start, fmt, extra=flt)
    if fmt == "RESP":
        assert out == poll_all(r, start, "JSON", extra=flt), "RESP and JSON filters disagree"
    return out


def test_match_keeps_commands_with_a_matching_key(server, r):
    base = seq(r)
    r.set("user:1", "a")
    r.set("order:1", "b")
    r.set("user:2", "c")
    r.mset({"order:2": "x", "user:3": "y"})
    r.mset({"order:3": "x", "order:4": "y"})
    r.delete("user:1", "order:1")
    r.incr("user:counter")
    u = filtered(r, base, "MATCH", "user:*")
    got = [x["commands"] for x in u]
    assert got == [
        [[b"SET", b"user:1", b"a"]],
        [[b"SET", b"user:2", b"c"]],
        [[b"MSET", b"order:2", b"x", b"user:3", b"y"]],
        [[b"DEL", b"user:1"]],
        [[b"SET", b"user:counter", b"1"]],
    ]
    # batch identity is kept
    all_u = {x["sequence"]: x for x in poll_all(r, base, "RESP")}
    for x in u:
        assert x["sequence"] in all_u
        assert x["count"] == all_u[x["sequence"]]["count"]
        assert x["timestamp"] == all_u[x["sequence"]]["timestamp"]


def test_match_glob_forms(r):
    base = seq(r)
    for k in ("a1", "a2", "ab", "b1", "a[", "x*y"):
        r.set(k, "v")
    keys = lambda pat: [x["commands"][0][1] for x in filtered(r, base, "MATCH", pat)]
    assert keys("a?") == [b"a1", b"a2", b"ab", b"a["]
    assert keys("a[0-9]") == [b"a1", b"a2"]
    assert keys("a[^0-9]") == [b"ab", b"a["]
    assert keys("a\\[") == [b"a["]
    assert keys("x\\*y") == [b"x*y"]
    assert keys("*") == [b"a1", b"a2", b"ab", b"b1", b"a[", b"x*y"]
    assert keys("nomatch") == []


def test_match_on_rename_and_copy_destinations(r):
    r.set("src", "v")
    base = seq(r)
    r.rename("src", "user:new")
    r.copy("user:new", "plain")
    r.copy("user:new", "user:copy")
    got = [x["commands"] for x in filtered(r, base, "MATCH", "user:*")]
    assert got == [[[b"RENAME", b"src", b"user:new"]],
                   [[b"COPY", b"user:new", b"plain", b"DB", b"0"]],
                   [[b"COPY", b"user:new", b"user:copy", b"DB", b"0"]]]
    got = [x["commands"] for x in filtered(r, base, "MATCH", "plain")]
    assert got == [[[b"COPY", b"user:new", b"plain", b"DB", b"0"]]]


def cmds(updates):
    return [u["commands"] for u in updates]


def test_match_finds_every_key_of_multi_key_commands(r):
    """MATCH looks for keys where the command's descriptor says they are, and nowhere else
    (values, members, counts and options are no keys)."""
    r.set("a", "1")
    r.sadd("s1", "m")
    r.rpush("l1", "x")
    base = seq(r)
    r.rename("a", "b")
    r.mset({"k1": "v1", "k2": "v2"})
    r.copy("b", "c")
    r.smove("s1", "s2", "m")
    r.lmove("l1", "l2", "LEFT", "RIGHT")
    rename = [[b"RENAME", b"a", b"b"]]
    copy = [[b"COPY", b"b", b"c", b"DB", b"0"]]
    want = {
        "a": [rename], "b": [rename, copy], "c": [copy],
        "k1": [[[b"MSET", b"k1", b"v1", b"k2", b"v2"]]], "k2": [[[b"MSET", b"k1", b"v1", b"k2", b"v2"]]],
        "s1": [[[b"SMOVE", b"s1", b"s2", b"m"]]], "s2": [[[b"SMOVE", b"s1", b"s2", b"m"]]],
        "l1": [[[b"LMOVE", b"l1", b"l2", b"LEFT", b"RIGHT"]]], "l2": [[[b"LMOVE", b"l1", b"l2", b"LEFT", b"RIGHT"]]],
        "v2": [], "m": [], "LEFT": [], "DB": [], "0": [],
    }
    for pattern, commands in want.items():
        assert cmds(filtered(r, base, "MATCH", pattern)) == commands, pattern


def test_match_reads_key_specs_of_recorded_commands(server):
    """Keys that a first/last/step range cannot find: after a numkeys count (ZUNIONSTORE,
    LMPOP) or an option (SORT … STORE). Such records come from other writers of the stream
    (here written into the database directly)."""
    recorded = [[b"ZUNIONSTORE", b"dst", b"2", b"za", b"zb"],
                [b"LMPOP", b"2", b"la", b"lb", b"LEFT"],
                [b"SORT", b"src", b"STORE", b"sorted"]]
    c = server.client(decode_responses=False)
    base = seq(c)
    c.close()
    inject(server, [build_batch([("LOGDATA", 0, record(cmd), None), ("PUT", 1, ns() + b"x", string_meta(b"v"))])
                    for cmd in recorded])
    r = server.client(decode_responses=False)
    zunion, lmpop, sort = ([cmd] for cmd in recorded)
    for pattern, commands in (("dst", [zunion]), ("zb", [zunion]), ("z*", [zunion]), ("la", [lmpop]),
                              ("lb", [lmpop]), ("src", [sort]), ("sorted", [sort]), ("2", []),
                              ("LEFT", []), ("STORE", []), ("nomatch", [])):
        assert cmds(filtered(r, base, "MATCH", pattern)) == commands, pattern
    r.close()


def test_db_and_match_judge_the_same_key(r):
    """COPY … DB n changes a key of database n: DB n with MATCH keeps it when that key matches,
    not when only its source in another database does."""
    r.set("user:1", "v")
    base = seq(r)
    r.copy("user:1", "other", destination_db=1)
    copy = [[[b"COPY", b"user:1", b"other", b"DB", b"1"]]]
    assert cmds(filtered(r, base, "DB", 1)) == copy
    assert cmds(filtered(r, base, "DB", 1, "MATCH", "other")) == copy
    assert cmds(filtered(r, base, "DB", 0, "MATCH", "user:*")) == copy
    assert cmds(filtered(r, base, "DB", 1, "MATCH", "user:*")) == []
    assert cmds(filtered(r, base, "DB", 2)) == []


@pytest.mark.parametrize("fmt", ["RESP", "JSON"])
def test_block_with_match_wakes_on_any_key_of_a_command(server, r, fmt):
    """A blocked poll with MATCH wakes for a command whose second key matches, not before."""
    r.set("a", "1")
    base = seq(r)
    got = {}
    poller = server.client(decode_responses=False)
    waiting = threading.Thread(target=lambda: got.update(
        poll(poller, base, "BLOCK", 5000, "FORMAT", fmt, "MATCH", "dest:*")))
    waiting.start()
    time.sleep(0.2)
    r.set("other", "x")
    time.sleep(0.2)
    assert waiting.is_alive(), "woke for a command without a matching key"
    r.rename("a", "dest:a")
    waiting.join(10)
    poller.close()
    assert cmds(got["updates"]) == [[[b"RENAME", b"a", b"dest:a"]]]


def test_match_keeps_flush_commands(server, r):
    base = seq(r)
    r.set("x", "1")
    r.flushdb()
    r.set("user:1", "1")
    r.flushall()
    got = [x["commands"] for x in filtered(r, base, "MATCH", "user:*")]
    assert got == [[[b"FLUSHDB"]], [[b"SET", b"user:1", b"1"]], [[b"FLUSHALL"]]]


def test_match_inside_a_transaction_keeps_only_matching_commands(server, r):
    base = seq(r)
    run(server, [("MULTI",), ("SET", "user:1", "a"), ("SET", "other", "b"), ("DEL", "other"),
                 ("SET", "user:2", "c"), ("EXEC",)])
    u = filtered(r, base, "MATCH", "user:*")
    assert len(u) == 1
    assert u[0]["commands"] == [[b"SET", b"user:1", b"a"], [b"SET", b"user:2", b"c"]]
    assert u[0]["count"] == 4  # the batch's real size


def test_type_string_keeps_string_commands(server, r):
    r.set("gone", "x")
    base = seq(r)
    r.set("a", "1")
    r.incr("n")
    r.expire("a", 100)
    r.persist("a")
    r.delete("gone")
    r.flushall()
    all_cmds = [x["commands"] for x in poll_all(r, base, "RESP")]
    assert [x["commands"] for x in filtered(r, base, "TYPE", "string")] == all_cmds


@pytest.mark.parametrize("typ", ["hash", "list", "set", "zset", "stream"])
def test_type_other_keeps_only_flushes(r, typ):
    base = seq(r)
    r.set("a", "1")
    r.incr("n")
    r.delete("a")
    r.flushdb()
    r.set("b", "2")
    d = poll(r, base, "FORMAT", "RESP", "TYPE", typ)
    assert [x["commands"] for x in d["updates"]] == [[[b"FLUSHDB"]]]
    assert d["next_sequence"] == seq(r)
    assert d["first_sequence"] == base + 1


def test_type_name_is_case_insensitive(r):
    base = seq(r)
    r.set("a", "1")
    assert len(poll(r, base, "FORMAT", "RESP", "TYPE", "STRING")["updates"]) == 1


def test_db_filter(server, r):
    base = seq(r)
    run(server, [("SET", "a0", "0"), ("SELECT", "1"), ("SET", "a1", "1"), ("SELECT", "2"), ("SET", "a2", "2"),
                 ("SELECT", "1"), ("DEL", "a1")])
    for db, want in ((0, [[[b"SET", b"a0", b"0"]]]), (1, [[[b"SET", b"a1", b"1"]], [[b"DEL", b"a1"]]]),
                     (2, [[[b"SET", b"a2", b"2"]]]), (3, [])):
        u = filtered(r, base, "DB", db)
        assert [x["commands"] for x in u] == want, db
        assert all(x["db"] == db for x in u)


def test_db_filter_on_cross_db_transaction(server, r):
    base = seq(r)
    run(server, [("MULTI",), ("SET", "a", "0"), ("SELECT", "1"), ("SET", "b", "1"), ("SELECT", "2"),
                 ("SET", "c", "2"), ("SELECT", "1"), ("SET", "d", "1"), ("SELECT", "0"), ("SET", "e", "0"),
                 ("EXEC",)])
    full = poll_all(r, base, "RESP")
    assert full[0]["commands"] == [[b"SET", b"a", b"0"], [b"SELECT", b"1"], [b"SET", b"b", b"1"],
                                   [b"SELECT", b"2"], [b"SET", b"c", b"2"], [b"SELECT", b"1"],
                                   [b"SET", b"d", b"1"], [b"SELECT", b"0"], [b"SET", b"e", b"0"]]
    u1 = filtered(r, base, "DB", 1)
    assert len(u1) == 1
    assert u1[0]["db"] == 1
    assert u1[0]["commands"] == [[b"SET", b"b", b"1"], [b"SET", b"d", b"1"]]
    assert u1[0]["sequence"] == full[0]["sequence"] and u1[0]["count"] == 5
    u0 = filtered(r, base, "DB", 0)
    assert u0[0]["db"] == 0
    assert u0[0]["commands"] == [[b"SET", b"a", b"0"], [b"SET", b"e", b"0"]]
    u2 = filtered(r, base, "DB", 2)
    assert u2[0]["db"] == 2 and u2[0]["commands"] == [[b"SET", b"c", b"2"]]
    assert filtered(r, base, "DB", 3) == []
    # MATCH across databases: the kept commands come with the SELECTs they need
    um = filtered(r, base, "MATCH", "[ac]")
    assert um[0]["db"] == 0
    assert um[0]["commands"] == [[b"SET", b"a", b"0"], [b"SELECT", b"2"], [b"SET", b"c", b"2"]]
    um = filtered(r, base, "MATCH", "[cd]")
    assert um[0]["db"] == 2
    assert um[0]["commands"] == [[b"SET", b"c", b"2"], [b"SELECT", b"1"], [b"SET", b"d", b"1"]]


def test_db_filter_and_flushdb_flushall(server, r):
    base = seq(r)
    run(server, [("SELECT", "3"), ("SET", "x", "1"), ("FLUSHDB",), ("SELECT", "4"), ("FLUSHDB",)])
    assert [x["commands"] for x in filtered(r, base, "DB", 3)] == [[[b"SET", b"x", b"1"]], [[b"FLUSHDB"]]]
    assert [x["commands"] for x in filtered(r, base, "DB", 4)] == [[[b"FLUSHDB"]]]


def test_combined_filters(server, r):
    base = seq(r)
    run(server, [("SET", "user:1", "a"), ("SET", "x", "b"), ("SELECT", "1"), ("SET", "user:2", "c"),
                 ("SET", "y", "d")])
    u = filtered(r, base, "DB", 1, "MATCH", "user:*", "TYPE", "string")
    assert [x["commands"] for x in u] == [[[b"SET", b"user:2", b"c"]]]


def test_filtered_batches_advance_next_sequence(r):
    base = seq(r)
    for i in range(10):
        r.set("other:%d" % i, "x")
    d = poll(r, base, "FORMAT", "RESP", "MATCH", "user:*")
    assert d["updates"] == []
    assert d["next_sequence"] == base + 10
    assert d["first_sequence"] == base + 1
    r.set("user:1", "y")
    d2 = poll(r, d["next_sequence"], "FORMAT", "RESP", "MATCH", "user:*")
    assert [x["commands"] for x in d2["updates"]] == [[[b"SET", b"user:1", b"y"]]]
    assert d2["next_sequence"] == base + 11


def test_filter_paging_with_max(r):
    base = seq(r)
    expected = []
    for i in range(40):
        r.set("other:%d" % i, "x")
        if i % 4 == 0:
            r.set("user:%d" % i, "y")
            expected.append(b"user:%d" % i)
    latest = seq(r)
    pos = base
    got = []
    for _ in range(100):
        d = poll(r, pos, "MAX", 3, "FORMAT", "JSON", "MATCH", "user:*")
        assert len(d["updates"]) <= 3
        assert d["first_sequence"] == pos + 1
        got.extend(c[1] for x in d["updates"] for c in x["commands"])
        if len(d["updates"]) == 3:  # a full page ends with its last batch
            last = d["updates"][-1]
            assert d["next_sequence"] == last["sequence"] + last["count"] - 1
        else:  # a short page scanned everything
            assert d["next_sequence"] == latest
        assert d["next_sequence"] > pos
        pos = d["next_sequence"]
        if pos == latest:
            break
    assert got == expected


def test_filter_with_binary_glob(r):
    base = seq(r)
    r.set(b"\xffbin\x00key", "1")
    r.set(b"text", "2")
    u = poll_all(r, base, "RESP", extra=("MATCH", b"\xff*"))
    assert [x["commands"] for x in u] == [[[b"SET", b"\xffbin\x00key", b"1"]]]


def test_expired_del_matches_by_key_and_type(r):
    """The DEL of an expired key, whether the active expiry or the GET removed it."""
    import time
    r.set("user:e", "v", px=20)
    base = seq(r)
    time.sleep(0.08)
    assert r.get("user:e") is None
    assert [x["commands"] for x in filtered(r, base, "MATCH", "user:*", "TYPE", "string")] == [[[b"DEL", b"user:e"]]]
    assert filtered(r, base, "TYPE", "hash") == []


def test_long_filtered_stretch_pages_without_waiting(r):
    """Many batches that a filter drops: polls make progress (next_sequence moves on) and
    a BLOCK poll with a filter does not sleep while there is more to scan."""
    import time
    base = seq(r)
    p = r.pipeline(transaction=False)
    for i in range(12000):
        p.set("skip:%d" % (i % 100), "x")
    p.execute()
    r.set("user:wanted", "1")
    latest = seq(r)
    pos = base
    got = []
    for _ in range(50):
        t0 = time.monotonic()
        d = poll(r, pos, "FORMAT", "RESP", "MATCH", "user:*", "BLOCK", 2000)
        assert time.monotonic() - t0 < 1.5, "a filtered poll with more to scan waited"
        got.extend(u["commands"] for u in d["updates"])
        assert d["next_sequence"] > pos
        pos = d["next_sequence"]
        if pos == latest:
            break
    assert pos == latest
    assert got == [[[b"SET", b"user:wanted", b"1"]]]
