"""Stream consumer groups with Redis 7.0 semantics and error texts (checked against
redis-server 7.0): XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO GROUPS /
CONSUMERS / STREAM FULL, groups under DEL / RENAME / COPY / EXPIRE, a consumer crash and claim,
and (tidekv only) persistence and change records that replay on redis-server."""

import random
import time

from conftest import RespError, soak, tidekv_only
from helpers import wrong_args
from test_cdc_helpers import RedisServer, poll_all, replay, replayed_on_redis, snapshot_commands, to_dict

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
NO_KEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
          "the MKSTREAM option to create an empty stream automatically.")
BUSYGROUP = "BUSYGROUP Consumer Group name already exists"


def nogroup_for_key(group, key):
    return "NOGROUP No such consumer group '%s' for key name '%s'" % (group, key)


def nogroup(key, group):
    return "NOGROUP No such key '%s' or consumer group '%s'" % (key, group)


def nogroup_read(key, group):
    return "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option" % (key, group)


def fill(c, key, n, start=1):
    for i in range(start, start + n):
        assert c.call("XADD", key, "%d-0" % i, "f", str(i)) == b"%d-0" % i


def as_dict(flat):
    if isinstance(flat, dict):
        return flat
    return dict(zip(flat[::2], flat[1::2]))


def groups(c, key):
    return [as_dict(g) for g in c.call("XINFO", "GROUPS", key)]


def group(c, key, name):
    return next(g for g in groups(c, key) if g[b"name"] == name.encode())


def consumers(c, key, grp):
    return [as_dict(x) for x in c.call("XINFO", "CONSUMERS", key, grp)]


def ids(entries):
    return [e[0] for e in entries]


def read(c, grp, consumer, key, id=">", *opts):
    return c.call("XREADGROUP", "GROUP", grp, consumer, *opts, "STREAMS", key, id)


# ---------------------------------------------------------------- XGROUP

def test_xgroup_create_and_info(c):
    fill(c, "s", 3)
    assert c.call("XGROUP", "CREATE", "s", "g1", "$") == "OK"
    assert c.call("XGROUP", "CREATE", "s", "g2", "0") == "OK"
    assert c.call("XGROUP", "CREATE", "s", "g3", "0", "ENTRIESREAD", "1") == "OK"
    assert c.call("XGROUP", "CREATE", "s", "g1", "0") == BUSYGROUP
    got = groups(c, "s")
    assert [g[b"name"] for g in got] == [b"g1", b"g2", b"g3"]
    assert got[0] == {b"name": b"g1", b"consumers": 0, b"pending": 0, b"last-delivered-id": b"3-0",
                      b"entries-read": None, b"lag": 0}
    assert (got[1][b"entries-read"], got[1][b"lag"]) == (None, 3)
    assert (got[2][b"entries-read"], got[2][b"lag"]) == (1, 2)
    assert as_dict(c.call("XINFO", "STREAM", "s"))[b"groups"] == 3


def test_xgroup_create_mkstream_and_errors(c):
    assert c.call("XGROUP", "CREATE", "m", "g", "$") == NO_KEY
    assert c.call("XGROUP", "CREATE", "m", "g", "bad", "MKSTREAM") == INVALID_ID
    assert c.call("EXISTS", "m") == 0
    assert c.call("XGROUP", "CREATE", "m", "g", "$", "MKSTREAM") == "OK"
    assert c.call("TYPE", "m") == "stream" and c.call("XLEN", "m") == 0
    assert group(c, "m", "g")[b"last-delivered-id"] == b"0-0"
    assert c.call("XGROUP", "CREATE", "m", "g2", "bad") == INVALID_ID
    assert c.call("XGROUP", "CREATE", "m", "g2", "-") == INVALID_ID  # strict
    assert c.call("XGROUP", "CREATE", "m", "g2", "0", "ENTRIESREAD", "-2") == \
        "ERR value for ENTRIESREAD must be positive or -1"
    assert c.call("XGROUP", "CREATE", "m", "g2", "0", "ENTRIESREAD", "x") == NOT_INT
    assert c.call("XGROUP", "CREATE", "m", "g2", "0", "FOO") == \
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."
    assert c.call("XGROUP", "create", "m", "g2", "0", "ENTRIESREAD", "5", "MKSTREAM", "MKSTREAM") == \
        "ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP."
    assert c.call("XGROUP", "CREATE", "m") == wrong_args("xgroup|create")
    assert c.call("XGROUP", "DESTROY", "m") == wrong_args("xgroup|destroy")
    assert c.call("XGROUP", "FOO") == "ERR unknown subcommand 'FOO'. Try XGROUP HELP."
    c.call("SET", "str", "x")
    assert c.call("XGROUP", "CREATE", "str", "g", "$") == WRONGTYPE
    assert c.call("XGROUP", "CREATE", "str", "g", "$", "MKSTREAM") == WRONGTYPE


def test_xgroup_setid_destroy_consumers(c):
    fill(c, "s", 3)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    assert c.call("XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "2") == "OK"
    assert (group(c, "s", "g")[b"last-delivered-id"], group(c, "s", "g")[b"entries-read"]) == (b"2-0", 2)
    assert c.call("XGROUP", "SETID", "s", "g", "$") == "OK"
    g = group(c, "s", "g")
    assert (g[b"last-delivered-id"], g[b"entries-read"], g[b"lag"]) == (b"3-0", None, 0)
    assert c.call("XGROUP", "SETID", "s", "g", "-") == "OK"  # SETID takes - and + (Redis 7.0)
    assert c.call("XGROUP", "SETID", "s", "nog", "0") == nogroup_for_key("nog", "s")
    assert c.call("XGROUP", "SETID", "nokey", "g", "0") == NO_KEY
    assert c.call("XGROUP", "SETID", "s", "g", "1", "ENTRIESREAD") == \
        "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP."
    assert c.call("XGROUP", "SETID", "s", "g", "1", "MKSTREAM") == \
        "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP."
    assert c.call("XGROUP", "CREATECONSUMER", "s", "g", "alice") == 1
    assert c.call("XGROUP", "CREATECONSUMER", "s", "g", "alice") == 0
    assert c.call("XGROUP", "CREATECONSUMER", "s", "nog", "alice") == nogroup_for_key("nog", "s")
    assert [x[b"name"] for x in consumers(c, "s", "g")] == [b"alice"]
    assert group(c, "s", "g")[b"consumers"] == 1
    read(c, "g", "bob", "s")
    assert c.call("XGROUP", "DELCONSUMER", "s", "g", "bob") == 3  # its pending entries go with it
    assert c.call("XGROUP", "DELCONSUMER", "s", "g", "bob") == 0
    assert c.call("XPENDING", "s", "g")[0] == 0
    assert c.call("XGROUP", "DESTROY", "s", "g") == 1
    assert c.call("XGROUP", "DESTROY", "s", "g") == 0
    assert c.call("XINFO", "GROUPS", "s") == []
    assert as_dict(c.call("XINFO", "STREAM", "s"))[b"groups"] == 0
    assert c.call("XGROUP", "DESTROY", "nokey", "g") == NO_KEY


def test_delconsumer_and_destroy_of_many_pending_leave_nothing_behind(c):
    """Past one batch of deletions (256): the group's counts, XPENDING and a group made again
    under the same name show nothing of what was removed."""
    fill(c, "s", 1200)
    for g in ("g", "h"):
        c.call("XGROUP", "CREATE", "s", g, "0")
        read(c, g, "a\x00b", "s", ">", "COUNT", "700")
        read(c, g, "z", "s", ">", "COUNT", "500")
    assert c.call("XGROUP", "DELCONSUMER", "s", "g", "a\x00b") == 700
    assert c.call("XPENDING", "s", "g")[:3] == [500, b"701-0", b"1200-0"]
    assert [x[b"name"] for x in consumers(c, "s", "g")] == [b"z"]
    assert c.call("XACK", "s", "g", "1-0", "700-0") == 0  # gone from the group's PEL
    assert c.call("XGROUP", "DESTROY", "s", "g") == 1
    assert c.call("XGROUP", "CREATE", "s", "g", "0") == "OK"
    assert c.call("XPENDING", "s", "g") == [0, None, None, None]
    assert consumers(c, "s", "g") == []
    assert c.call("XPENDING", "s", "h")[0] == 1200  # the other group keeps its own
    assert [x[b"pending"] for x in consumers(c, "s", "h")] == [700, 500]


def test_entries_read_wraps_past_the_int64_max(c):
    """Redis 7.0's counter wraps to the int64 minimum; tidekv's too, without signed overflow (a
    sanitized build aborted on it)."""
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "$", "ENTRIESREAD", "9223372036854775807")
    c.call("XADD", "s", "2-0", "f", "v")
    assert read(c, "g", "c", "s") == [[b"s", [[b"2-0", [b"f", b"v"]]]]]
    assert group(c, "s", "g")[b"entries-read"] == -2 ** 63


def test_xgroup_help(c):
    lines = c.call("XGROUP", "HELP")
    assert lines[0] == "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]" in lines
    assert lines[-2:] == ["HELP", "    Prints this help."]


def test_names_with_odd_bytes(r):
    r.xadd("s", {"f": "v"}, id="1-0")
    for name in (b"a\x00b", b"a", b"\x00", b"\xff\x00\x01"):
        r.xgroup_create("s", name, "0")
        r.xgroup_createconsumer("s", name, name + b"\x00c")
    got = [g["name"] for g in r.xinfo_groups("s")]
    assert got == sorted([b"a\x00b", b"a", b"\x00", b"\xff\x00\x01"])
    assert r.xinfo_consumers("s", b"a\x00b")[0]["name"] == b"a\x00b\x00c"


# ---------------------------------------------------------------- XREADGROUP

def test_xreadgroup_new_and_history(c):
    fill(c, "s", 3)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    assert read(c, "g", "c1", "s", ">", "COUNT", "2") == [[b"s", [[b"1-0", [b"f", b"1"]], [b"2-0", [b"f", b"2"]]]]]
    g = group(c, "s", "g")
    assert (g[b"last-delivered-id"], g[b"entries-read"], g[b"lag"], g[b"pending"], g[b"consumers"]) == \
        (b"2-0", 2, 1, 2, 1)
    assert read(c, "g", "c2", "s") == [[b"s", [[b"3-0", [b"f", b"3"]]]]]
    assert read(c, "g", "c2", "s") is None  # nothing new: a null array
    assert [x[b"name"] for x in consumers(c, "s", "g")] == [b"c1", b"c2"]
    # History: the consumer's own pending entries after the id, delivered once more.
    assert read(c, "g", "c1", "s", "0") == [[b"s", [[b"1-0", [b"f", b"1"]], [b"2-0", [b"f", b"2"]]]]]
    assert read(c, "g", "c1", "s", "1-0") == [[b"s", [[b"2-0", [b"f", b"2"]]]]]
    assert read(c, "g", "nobody", "s", "0") == [[b"s", []]]
    c.call("XDEL", "s", "1-0")
    assert read(c, "g", "c1", "s", "0", "COUNT", "1") == [[b"s", [[b"1-0", None]]]]
    pend = c.call("XPENDING", "s", "g", "-", "+", "10")
    assert [(p[0], p[1], p[3]) for p in pend] == [(b"1-0", b"c1", 2), (b"2-0", b"c1", 3), (b"3-0", b"c2", 1)]


def test_xreadgroup_noack_and_many_keys(c):
    fill(c, "a", 2)
    fill(c, "b", 1)
    c.call("XGROUP", "CREATE", "a", "g", "0")
    c.call("XGROUP", "CREATE", "b", "g", "$")
    got = c.call("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "a", "b", ">", ">")
    assert got == [[b"a", [[b"1-0", [b"f", b"1"]], [b"2-0", [b"f", b"2"]]]]]  # b has nothing new
    assert c.call("XPENDING", "a", "g") == [0, None, None, None]
    assert group(c, "a", "g")[b"entries-read"] == 2
    # The last GROUP option counts, as in Redis.
    fill(c, "b", 1, start=5)
    assert c.call("XREADGROUP", "GROUP", "g", "x", "GROUP", "g", "y", "STREAMS", "b", ">")[0][0] == b"b"
    assert [x[b"name"] for x in consumers(c, "b", "g")] == [b"y"]


def test_xreadgroup_errors(c):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("SET", "str", "x")
    cases = [
        (("GROUP", "g", "c", "STREAMS", "s", "$"),
         "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer "
         "by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty "
         "result set."),
        (("GROUP", "nog", "c", "STREAMS", "s", ">"), nogroup_read("s", "nog")),
        (("GROUP", "g", "c", "STREAMS", "nokey", ">"), nogroup_read("nokey", "g")),
        (("GROUP", "g", "c", "STREAMS", "str", ">"), WRONGTYPE),
        (("COUNT", "1", "STREAMS", "s", ">", "x", "y"), "ERR Missing GROUP option for XREADGROUP"),
        (("GROUP", "g", "c", "STREAMS", "s", "t", ">"),
         "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."),
        (("GROUP", "g", "c", "FOO", "STREAMS", "s", ">"), SYNTAX),
        (("GROUP", "g", "c", "BLOCK", "x", "STREAMS", "s", ">"), "ERR timeout is not an integer or out of range"),
        (("GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">"), "ERR timeout is negative"),
        (("GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">"), NOT_INT),
        (("GROUP", "g", "c", "STREAMS", "s", "bad"), INVALID_ID),
        (("GROUP", "g", "c", "STREAMS", "s", "+"), INVALID_ID),
    ]
    for args, err in cases:
        assert c.call("XREADGROUP", *args) == err, args
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s") == wrong_args("xreadgroup")
    # A failing key leaves the others unread.
    c.call("XGROUP", "CREATE", "s", "h", "0")
    assert c.call("XREADGROUP", "GROUP", "h", "c", "STREAMS", "s", "nokey", ">", ">") == nogroup_read("nokey", "h")
    assert group(c, "s", "h")[b"pending"] == 0


def test_xreadgroup_block_waits_only_when_nothing_to_serve(c):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    assert read(c, "g", "c", "s", ">", "BLOCK", "10")[0][0] == b"s"  # something to serve: no wait
    assert read(c, "g", "c", "s", ">", "BLOCK", "10") is None  # (test_stream_blocking.py: the wait)


def test_xreadgroup_redelivers_an_entry_another_consumer_held(c):
    fill(c, "s", 2)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c1", "s")
    c.call("XGROUP", "SETID", "s", "g", "0")
    assert ids(read(c, "g", "c2", "s")[0][1]) == [b"1-0", b"2-0"]
    summary = c.call("XPENDING", "s", "g")
    assert summary == [2, b"1-0", b"2-0", [[b"c2", b"2"]]]
    assert [(x[b"name"], x[b"pending"]) for x in consumers(c, "s", "g")] == [(b"c1", 0), (b"c2", 2)]


# ---------------------------------------------------------------- XACK / XPENDING

def test_xack(c):
    fill(c, "s", 3)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c", "s")
    assert c.call("XACK", "s", "g", "1-0", "9-0", "1-0") == 1
    assert c.call("XACK", "s", "g", "2-0", "bad") == INVALID_ID  # all or nothing
    assert c.call("XPENDING", "s", "g")[0] == 2
    assert c.call("XACK", "s", "nog", "2-0") == 0
    assert c.call("XACK", "nokey", "g", "2-0") == 0
    c.call("SET", "str", "x")
    assert c.call("XACK", "str", "g", "bad") == WRONGTYPE
    assert c.call("XACK", "s", "g") == wrong_args("xack")
    assert consumers(c, "s", "g")[0][b"pending"] == 2


def test_xpending_forms_and_errors(c):
    fill(c, "s", 4)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "b", "s", ">", "COUNT", "2")
    read(c, "g", "a", "s", ">", "COUNT", "1")
    assert c.call("XPENDING", "s", "g") == [3, b"1-0", b"3-0", [[b"a", b"1"], [b"b", b"2"]]]
    got = c.call("XPENDING", "s", "g", "-", "+", "10")
    assert [(p[0], p[1], p[3]) for p in got] == [(b"1-0", b"b", 1), (b"2-0", b"b", 1), (b"3-0", b"a", 1)]
    assert all(isinstance(p[2], int) and p[2] >= 0 for p in got)
    assert [p[0] for p in c.call("XPENDING", "s", "g", "(1-0", "+", "10")] == [b"2-0", b"3-0"]
    assert [p[0] for p in c.call("XPENDING", "s", "g", "-", "(3-0", "1")] == [b"1-0"]
    assert [p[0] for p in c.call("XPENDING", "s", "g", "-", "+", "10", "a")] == [b"3-0"]
    assert c.call("XPENDING", "s", "g", "-", "+", "10", "nobody") == []
    assert c.call("XPENDING", "s", "g", "-", "+", "-1") == []
    assert c.call("XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "b")[1][0] == b"2-0"
    assert c.call("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10") == []
    cases = [
        (("nog",), nogroup("s", "nog")),
        (("g", "-", "+"), SYNTAX),
        (("g", "IDLE", "5", "-", "+"), SYNTAX),
        (("g", "-", "+", "x"), NOT_INT),
        (("g", "IDLE", "x", "-", "+", "1"), NOT_INT),
        (("g", "(", "+", "1"), INVALID_ID),
        (("g", "-", "+", "1", "c", "extra", "more", "most"), SYNTAX),
    ]
    for args, err in cases:
        assert c.call("XPENDING", "s", *args) == err, args
    assert c.call("XPENDING", "nokey", "g") == nogroup("nokey", "g")
    c.call("SET", "str", "x")
    assert c.call("XPENDING", "str", "g") == WRONGTYPE
    c.call("XGROUP", "CREATE", "s", "empty", "$")
    assert c.call("XPENDING", "s", "empty") == [0, None, None, None]


# ---------------------------------------------------------------- XCLAIM / XAUTOCLAIM

def test_xclaim(c):
    fill(c, "s", 3)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c1", "s")
    assert c.call("XCLAIM", "s", "g", "c2", "0", "1-0", "2-0", "9-0") == \
        [[b"1-0", [b"f", b"1"]], [b"2-0", [b"f", b"2"]]]
    got = c.call("XPENDING", "s", "g", "-", "+", "10")
    assert [(p[0], p[1], p[3]) for p in got] == [(b"1-0", b"c2", 2), (b"2-0", b"c2", 2), (b"3-0", b"c1", 1)]
    # JUSTID leaves the count; RETRYCOUNT sets it; a min idle not reached claims nothing.
    assert c.call("XCLAIM", "s", "g", "c3", "0", "3-0", "JUSTID") == [b"3-0"]
    assert c.call("XCLAIM", "s", "g", "c1", "1000000", "3-0") == []
    assert c.call("XCLAIM", "s", "g", "c1", "0", "3-0", "RETRYCOUNT", "7", "IDLE", "5000", "JUSTID") == [b"3-0"]
    p = c.call("XPENDING", "s", "g", "3-0", "3-0", "1")[0]
    assert (p[1], p[3]) == (b"c1", 7) and p[2] >= 5000
    c.call("XADD", "s", "4-0", "f", "4")
    assert c.call("XCLAIM", "s", "g", "c4", "0", "4-0") == []  # not pending, no FORCE
    assert c.call("XCLAIM", "s", "g", "c4", "0", "4-0", "FORCE", "TIME", "1000", "JUSTID") == [b"4-0"]
    p = c.call("XPENDING", "s", "g", "4-0", "4-0", "1")[0]
    assert (p[1], p[3]) == (b"c4", 1)  # made at 1, JUSTID leaves it
    # A deleted entry leaves the PEL.
    c.call("XDEL", "s", "1-0")
    assert c.call("XCLAIM", "s", "g", "c2", "0", "1-0") == []
    assert [p[0] for p in c.call("XPENDING", "s", "g", "-", "+", "10")] == [b"2-0", b"3-0", b"4-0"]
    assert c.call("XCLAIM", "s", "g", "c2", "0", "2-0", "LASTID", "9-0", "JUSTID") == [b"2-0"]
    assert group(c, "s", "g")[b"last-delivered-id"] == b"9-0"


def test_xclaim_errors(c):
    fill(c, "s", 1)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c1", "s")
    cases = [
        (("x", "1-0"), "ERR Invalid min-idle-time argument for XCLAIM"),
        (("0", "1-0", "foo"), "ERR Unrecognized XCLAIM option 'foo'"),
        (("0", "1-0", "IDLE", "x"), "ERR Invalid IDLE option argument for XCLAIM"),
        (("0", "1-0", "TIME", "x"), "ERR Invalid TIME option argument for XCLAIM"),
        (("0", "1-0", "RETRYCOUNT", "x"), "ERR Invalid RETRYCOUNT option argument for XCLAIM"),
        (("0", "1-0", "LASTID", "x"), INVALID_ID),
        (("0", "bad"), "ERR Unrecognized XCLAIM option 'bad'"),
    ]
    for args, err in cases:
        assert c.call("XCLAIM", "s", "g", "c2", *args) == err, args
    assert c.call("XCLAIM", "nokey", "g", "c", "0", "1-0") == nogroup("nokey", "g")
    assert c.call("XCLAIM", "s", "nog", "c", "x", "1-0") == nogroup("s", "nog")  # before the arguments
    c.call("SET", "str", "x")
    assert c.call("XCLAIM", "str", "g", "c", "0", "1-0") == WRONGTYPE
    assert c.call("XPENDING", "s", "g", "-", "+", "1")[0][1] == b"c1"


def test_xautoclaim(c):
    fill(c, "s", 5)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c1", "s")
    c.call("XDEL", "s", "2-0")
    got = c.call("XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "2")
    assert got == [b"3-0", [[b"1-0", [b"f", b"1"]]], [b"2-0"]]  # a deleted entry counts too
    got = c.call("XAUTOCLAIM", "s", "g", "c2", "0", "3-0", "JUSTID")
    assert got == [b"0-0", [b"3-0", b"4-0", b"5-0"], []]
    assert c.call("XPENDING", "s", "g") == [4, b"1-0", b"5-0", [[b"c2", b"4"]]]
    assert c.call("XAUTOCLAIM", "s", "g", "c3", "100000", "-") == [b"0-0", [], []]
    cases = [
        (("0", "0", "COUNT", "0"), "ERR COUNT must be > 0"),
        (("x", "0"), "ERR Invalid min-idle-time argument for XAUTOCLAIM"),
        (("0", "x"), INVALID_ID),
        (("0", "0", "foo"), SYNTAX),
        (("0", "(18446744073709551615-18446744073709551615"), "ERR invalid start ID for the interval"),
    ]
    for args, err in cases:
        assert c.call("XAUTOCLAIM", "s", "g", "c", *args) == err, args
    assert c.call("XAUTOCLAIM", "nokey", "g", "c", "0", "0") == nogroup("nokey", "g")
    assert c.call("XAUTOCLAIM", "nokey", "g", "c", "0", "0", "COUNT", "0") == "ERR COUNT must be > 0"


def test_consumer_crash_and_claim(c):
    """A consumer reads and dies; another takes its entries once they are idle long enough."""
    fill(c, "jobs", 3)
    c.call("XGROUP", "CREATE", "jobs", "workers", "0")
    assert len(read(c, "workers", "w1", "jobs", ">", "COUNT", "2")[0][1]) == 2
    assert c.call("XACK", "jobs", "workers", "1-0") == 1
    # w1 dies holding 2-0. Too soon for w2:
    assert c.call("XAUTOCLAIM", "jobs", "workers", "w2", "200", "0") == [b"0-0", [], []]
    time.sleep(0.25)
    assert c.call("XAUTOCLAIM", "jobs", "workers", "w2", "200", "0") == [b"0-0", [[b"2-0", [b"f", b"2"]]], []]
    assert c.call("XACK", "jobs", "workers", "2-0") == 1
    assert ids(read(c, "workers", "w2", "jobs")[0][1]) == [b"3-0"]
    assert c.call("XPENDING", "jobs", "workers") == [1, b"3-0", b"3-0", [[b"w2", b"1"]]]


# ---------------------------------------------------------------- XINFO

def test_xinfo_consumers_and_errors(c):
    fill(c, "s", 2)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "bob", "s", ">", "COUNT", "1")
    c.call("XGROUP", "CREATECONSUMER", "s", "g", "alice")
    got = consumers(c, "s", "g")
    assert [(x[b"name"], x[b"pending"]) for x in got] == [(b"alice", 0), (b"bob", 1)]
    assert all(0 <= x[b"idle"] < 10000 for x in got) and set(got[0]) == {b"name", b"pending", b"idle"}
    assert c.call("XINFO", "CONSUMERS", "s", "nog") == nogroup_for_key("nog", "s")
    assert c.call("XINFO", "CONSUMERS", "nokey", "g") == "ERR no such key"
    assert c.call("XINFO", "GROUPS", "nokey") == "ERR no such key"
    assert c.call("XINFO", "GROUPS") == wrong_args("xinfo|groups")
    assert c.call("XINFO", "CONSUMERS", "s") == wrong_args("xinfo|consumers")
    c.call("SET", "str", "x")
    assert c.call("XINFO", "GROUPS", "str") == WRONGTYPE


def test_xinfo_stream_full(c):
    fill(c, "s", 3)
    c.call("XDEL", "s", "1-0")
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c4", "s")
    c.call("XGROUP", "CREATECONSUMER", "s", "g", "c1")
    full = as_dict(c.call("XINFO", "STREAM", "s", "FULL", "COUNT", "1"))
    assert list(full) == [b"length", b"radix-tree-keys", b"radix-tree-nodes", b"last-generated-id",
                          b"max-deleted-entry-id", b"entries-added", b"recorded-first-entry-id", b"entries",
                          b"groups"]
    assert full[b"entries"] == [[b"2-0", [b"f", b"2"]]]
    (g,) = [as_dict(x) for x in full[b"groups"]]
    assert list(g) == [b"name", b"last-delivered-id", b"entries-read", b"lag", b"pel-count", b"pending",
                       b"consumers"]
    assert (g[b"last-delivered-id"], g[b"entries-read"], g[b"lag"], g[b"pel-count"]) == (b"3-0", 3, 0, 2)
    assert [(p[0], p[1], p[3]) for p in g[b"pending"]] == [(b"2-0", b"c4", 1)]
    cons = [as_dict(x) for x in g[b"consumers"]]
    assert [(x[b"name"], x[b"pel-count"]) for x in cons] == [(b"c1", 0), (b"c4", 2)]
    assert list(cons[1]) == [b"name", b"seen-time", b"pel-count", b"pending"]
    assert [(p[0], p[2]) for p in cons[1][b"pending"]] == [(b"2-0", 1)]
    everything = as_dict(c.call("XINFO", "STREAM", "s", "FULL", "COUNT", "0"))
    assert len(everything[b"entries"]) == 2
    assert len(as_dict(everything[b"groups"][0])[b"pending"]) == 2
    assert c.call("XINFO", "STREAM", "s", "FULL", "COUNT", "x") == NOT_INT
    assert c.call("XINFO", "STREAM", "s", "FULL", "FOO", "1") == \
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."


def test_xinfo_resp3_maps(server):
    with server.conn() as c:
        c.call("HELLO", "3")
        fill(c, "s", 1)
        c.call("XGROUP", "CREATE", "s", "g", "0")
        assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == {b"s": [[b"1-0", [b"f", b"1"]]]}
        assert c.call("XINFO", "GROUPS", "s")[0][b"pending"] == 1
        assert c.call("XINFO", "CONSUMERS", "s", "g")[0][b"name"] == b"c"
        assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") is None


# ---------------------------------------------------------------- generic commands

def test_groups_follow_their_stream(c):
    fill(c, "s", 2)
    c.call("XGROUP", "CREATE", "s", "g", "0")
    read(c, "g", "c", "s", ">", "COUNT", "1")
    assert c.call("COPY", "s", "t") == 1  # COPY copies groups, as in Redis
    assert c.call("XPENDING", "t", "g") == [1, b"1-0", b"1-0", [[b"c", b"1"]]]
    assert c.call("RENAME", "t", "u") == "OK"
    assert group(c, "u", "g")[b"pending"] == 1
    assert c.call("XINFO", "GROUPS", "t") == "ERR no such key"
    assert c.call("EXPIRE", "s", "100") == 1
    assert group(c, "s", "g")[b"pending"] == 1
    c.call("DEL", "s")
    fill(c, "s", 1)
    assert c.call("XINFO", "GROUPS", "s") == []  # a new stream has no groups
    assert as_dict(c.call("XINFO", "STREAM", "s"))[b"groups"] == 0
    assert c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == nogroup_read("s", "g")


def test_in_a_transaction(c):
    fill(c, "s", 1)
    c.call("MULTI")
    c.call("XGROUP", "CREATE", "s", "g", "0")
    c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    c.call("XACK", "s", "g", "1-0")
    assert c.call("EXEC") == ["OK", [[b"s", [[b"1-0", [b"f", b"1"]]]]], 1]


# ---------------------------------------------------------------- persistence (tidekv only)

@soak  # a restart takes over a second
@tidekv_only
def test_groups_survive_a_restart(make_server):
    s = make_server()
    with s.conn() as c:
        fill(c, "s", 3)
        c.call("XGROUP", "CREATE", "s", "g", "0")
        read(c, "g", "c1", "s", ">", "COUNT", "2")
        c.call("XACK", "s", "g", "1-0")
        before = c.call("XINFO", "STREAM", "s", "FULL")
    s.restart()
    with s.conn() as c:
        assert c.call("XINFO", "STREAM", "s", "FULL") == before
        assert ids(read(c, "g", "c2", "s")[0][1]) == [b"3-0"]
        assert c.call("XPENDING", "s", "g") == [2, b"2-0", b"3-0", [[b"c1", b"1"], [b"c2", b"1"]]]


# ---------------------------------------------------------------- change records (tidekv only)

def normalised_full(cl, key):
    """XINFO STREAM FULL with what a replay cannot reproduce made equal: consumers' seen times
    (Redis sets them to when the replayed command ran)."""
    if not cl.exists(key):
        return None
    full = as_dict(cl.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0"))
    out = {k: v for k, v in full.items() if k not in (b"radix-tree-keys", b"radix-tree-nodes", b"groups")}
    gs = []
    for g in full[b"groups"]:
        g = as_dict(g)
        cons = []
        for x in g[b"consumers"]:
            x = as_dict(x)
            x[b"seen-time"] = 0
            cons.append(x)
        g[b"consumers"] = cons
        gs.append(g)
    out[b"groups"] = gs
    return out


def random_group_workload(rnd, n):
    out = []
    for _ in range(n):
        k = rnd.choice(["s1", "s2"])
        g = rnd.choice(["g1", "g2"])
        cons = rnd.choice(["c1", "c2", "c3"])
        op = rnd.randrange(14)
        if op < 3:
            out.append(("XADD", k, "*", "f", str(rnd.randint(0, 99))))
        elif op == 3:
            out.append(("XGROUP", "CREATE", k, g, rnd.choice(["$", "0"]), "MKSTREAM"))
        elif op < 6:
            out.append(("XREADGROUP", "GROUP", g, cons, "COUNT", str(rnd.randint(1, 3))) +
                       (("NOACK",) if rnd.random() < 0.2 else ()) + ("STREAMS", k, ">"))
        elif op == 6:
            out.append(("XREADGROUP", "GROUP", g, cons, "STREAMS", k, "0"))
        elif op == 7:
            out.append(("XACK-SOME", k, g))
        elif op == 8:
            out.append(("XAUTOCLAIM", k, g, cons, "0", "0", "COUNT", str(rnd.randint(1, 3))))
        elif op == 9:
            out.append(("XCLAIM-SOME", k, g, cons))
        elif op == 10:
            out.append(rnd.choice([("XDEL-SOME", k), ("XTRIM", k, "MAXLEN", str(rnd.randint(2, 8)))]))
        elif op == 11:
            out.append(rnd.choice([("XGROUP", "SETID", k, g, "$"), ("XGROUP", "CREATECONSUMER", k, g, cons),
                                   ("XGROUP", "DELCONSUMER", k, g, cons)]))
        elif op == 12:
            out.append(rnd.choice([("XGROUP", "DESTROY", k, g), ("COPY", k, "s3", "REPLACE")]))
        else:
            out.append(("XPENDING", k, g))
    return out


def run_group_workload(r, rnd, n):
    for cmd in random_group_workload(rnd, n):
        if cmd[0] in ("XACK-SOME", "XCLAIM-SOME"):
            try:
                pend = [p[0] for p in r.execute_command("XPENDING", cmd[1], cmd[2], "-", "+", "10")]
            except Exception:
                continue
            picked = tuple(rnd.sample(pend, min(len(pend), 2))) + (b"1-1",)
            cmd = (("XACK",) + cmd[1:3] + picked if cmd[0] == "XACK-SOME"
                   else ("XCLAIM",) + cmd[1:4] + ("0",) + picked)
        elif cmd[0] == "XDEL-SOME":
            present = [e[0] for e in r.xrange(cmd[1])]
            cmd = ("XDEL", cmd[1]) + tuple(rnd.sample(present, min(len(present), 2))) + (b"1-1",)
        try:
            r.execute_command(*cmd)
        except Exception as e:  # a missing group, a group there already: recorded nothing
            assert "NOGROUP" in str(e) or "BUSYGROUP" in str(e) or "requires the key" in str(e), (cmd, e)


@tidekv_only
def test_change_records_replay_on_redis(server, r):
    rs = RedisServer()
    try:
        rs.start()
        base = int(r.execute_command("SEQUENCE"))
        run_group_workload(r, random.Random(20261205), 400)
        updates = poll_all(r, base, "RESP")
        with rs.conn() as rc:
            assert replay(rc, updates) == []
        theirs = rs.client()
        checked = 0
        for k in ("s1", "s2", "s3"):
            mine = normalised_full(r, k)
            assert normalised_full(theirs, k) == mine, k
            checked += bool(mine and mine[b"groups"])
        assert checked >= 2  # the workload reached groups
        theirs.close()
    finally:
        rs.stop()


@tidekv_only
def test_recorded_forms(server, r):
    r.execute_command("XADD", "s", "1-0", "f", "v")
    r.execute_command("XADD", "s", "2-0", "f", "v")
    base = int(r.execute_command("SEQUENCE"))
    r.execute_command("XGROUP", "CREATE", "s", "g", "$")
    r.execute_command("XGROUP", "SETID", "s", "g", "0")
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">")
    r.execute_command("XACK", "s", "g", "1-0", "5-0")
    r.execute_command("XACK", "s", "g", "1-0")  # acks nothing: no record
    got = [[bytes(a) for a in cmd] for u in poll_all(r, base, "RESP") for cmd in u["commands"]]
    delivered = [cmd for cmd in got if cmd[0] == b"XCLAIM"]
    assert len(delivered) == 1 and delivered[0][:6] == [b"XCLAIM", b"s", b"g", b"c", b"0", b"1-0"]
    assert delivered[0][6:] == [b"TIME", delivered[0][7], b"RETRYCOUNT", b"1", b"FORCE", b"JUSTID",
                                b"LASTID", b"1-0"]
    assert [cmd for cmd in got if cmd[0] != b"XCLAIM"] == [
        [b"XGROUP", b"CREATE", b"s", b"g", b"2-0", b"ENTRIESREAD", b"-1"],
        [b"XGROUP", b"SETID", b"s", b"g", b"0-0", b"ENTRIESREAD", b"-1"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"],
        [b"XGROUP", b"SETID", b"s", b"g", b"1-0", b"ENTRIESREAD", b"1"],
        [b"XGROUP", b"SETID", b"s", b"g", b"2-0", b"ENTRIESREAD", b"2"],  # NOACK: the move only
        [b"XACK", b"s", b"g", b"1-0", b"5-0"],
    ]


# ---------------------------------------------------------------- snapshots (tidekv only)

@tidekv_only
def test_snapshot_read_rebuilds_groups(server, r):
    with server.conn() as c:
        fill(c, "s", 6)
        c.call("XGROUP", "CREATE", "s", "g", "0")
        c.call("XGROUP", "CREATE", "s", "h", "$", "ENTRIESREAD", "3")
        read(c, "g", "c1", "s", ">", "COUNT", "3")
        read(c, "g", "c2", "s", ">", "COUNT", "1")
        c.call("XCLAIM", "s", "g", "c2", "0", "2-0", "RETRYCOUNT", "5", "TIME", "1000", "JUSTID")
        c.call("XACK", "s", "g", "1-0")
        c.call("XGROUP", "CREATECONSUMER", "s", "h", "idle")
        c.call("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM")
        sid = c.call("SNAPSHOT", "CREATE")[1].decode()
        before = {k: normalised_full(r, k) for k in ("s", "e")}
        read(c, "g", "c3", "s")  # after the snapshot: not in it
        commands = snapshot_commands(c, sid, 2)
    assert [b"XGROUP", b"CREATE", b"s", b"h", b"6-0", b"ENTRIESREAD", b"3"] in commands
    assert replayed_on_redis(commands, ("s", "e"), normalised_full) == before


@tidekv_only
def test_snapshot_read_pages_through_big_groups(server, r):
    """A group's consumers and pending entries are elements as a stream's entries are: pages of
    COUNT n hold about n commands however many are pending, and the pages replay to the same
    groups."""
    with server.conn() as c:
        fill(c, "s", 300)
        for group in ("a", "b\x00z", "c"):
            c.call("XGROUP", "CREATE", "s", group, "0")
        for i in range(12):  # 12 consumers of a, 25 pending each
            read(c, "a", "consumer%02d" % i, "s", ">", "COUNT", "25")
        read(c, "b\x00z", "only", "s", ">", "COUNT", "7")
        c.call("XGROUP", "CREATECONSUMER", "s", "c", "idle")
        c.call("XACK", "s", "a", "3-0", "40-0", "299-0")
        sid = c.call("SNAPSHOT", "CREATE")[1].decode()
        before = normalised_full(r, "s")
        cursor, commands, pages = "0", [], 0
        while True:
            d = to_dict(c.call("SNAPSHOT", "READ", sid, cursor, "COUNT", "20"))
            page = [cmd for e in d["entries"] for cmd in to_dict(e)["commands"]]
            # 20 elements, plus the stream's DEL and its XSETID on the pages that have them
            assert len(page) <= 22, (pages, len(page))
            commands += page
            pages += 1
            cursor = d["cursor"].decode() if isinstance(d["cursor"], bytes) else d["cursor"]
            if cursor == "0":
                break
    assert pages >= (300 + 3 + 13 + 297 + 7) // 20
    assert sum(cmd[0] == b"XCLAIM" for cmd in commands) == 297 + 7
    assert replayed_on_redis(commands, ("s",), normalised_full) == {"s": before}


@tidekv_only
def test_snapshot_read_pages_through_entries_whose_ids_look_like_group_places(server, r):
    """A page ending at an entry names the entry's 16 id bytes: ids whose first bytes are a
    group place's phase and a short name's length must still resume at that entry."""
    with server.conn() as c:
        for first in (b"c", b"e", b"g", b"p"):  # in id order
            top = int.from_bytes(first + b"\x00\x00\x00\x0b\x00\x00\x00", "big")
            for seq in range(3):
                entry_id = "%d-%d" % (top, seq)
                assert c.call("XADD", "s", entry_id, "f", "%s%d" % (first.decode(), seq)) == entry_id.encode()
        c.call("XGROUP", "CREATE", "s", "g", "0")
        read(c, "g", "c1", "s", ">", "COUNT", "5")
        sid = c.call("SNAPSHOT", "CREATE")[1].decode()
        before = normalised_full(r, "s")
        for count in (1, 2, 3):
            commands = snapshot_commands(c, sid, count)
            assert sum(cmd[0] == b"XADD" for cmd in commands) == 12, count
            assert replayed_on_redis(commands, ("s",), normalised_full) == {"s": before}


@tidekv_only
def test_snapshot_read_survives_forged_places_in_a_stream(server):
    """A cursor names a place inside a stream (an entry id, or a group, phase and consumer or
    id): forged ones read from somewhere or fail, never crash the server."""
    import struct
    with server.conn() as c:
        fill(c, "s", 5)
        c.call("XGROUP", "CREATE", "s", "g", "0")
        read(c, "g", "c1", "s", ">", "COUNT", "3")
        sid = c.call("SNAPSHOT", "CREATE")[1].decode()
        rnd = random.Random(7)
        members = [b"", b"p", b"c\xff\xff\xff\xff", b"g" + struct.pack(">I", 1) + b"g", b"p" + struct.pack(">I", 1) + b"g" + b"\x00" * 16,
                   b"c" + struct.pack(">I", 1) + b"gc1", b"x" + struct.pack(">I", 0)]
        members += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(30))) for _ in range(40)]
        for m in members:
            cursor = (b"M" + struct.pack(">II", 0, 1) + b"s" + m).hex()
            rep = c.call("SNAPSHOT", "READ", sid, cursor, "COUNT", "2")
            assert isinstance(rep, (list, dict, RespError)), rep
        assert c.call("PING") == "PONG"


# ---------------------------------------------------------------- replicas (tidekv only)

@soak  # two servers and a sync: over a second
@tidekv_only
def test_a_replica_holds_the_masters_groups(make_server):
    from test_replication import start_pair, wait_synced
    master, replica = start_pair(make_server)
    with master.conn() as c:
        fill(c, "s", 5)
        c.call("XGROUP", "CREATE", "s", "g", "0")
        read(c, "g", "c1", "s", ">", "COUNT", "3")
        c.call("XACK", "s", "g", "2-0")
        c.call("XCLAIM", "s", "g", "c2", "0", "3-0")
        c.call("XGROUP", "CREATE", "s", "h", "$")
        c.call("XGROUP", "DESTROY", "s", "h")
    wait_synced(master, replica)
    mine, theirs = master.client(), replica.client()
    assert theirs.execute_command("XINFO", "STREAM", "s", "FULL") == mine.execute_command("XINFO", "STREAM", "s", "FULL")
    mine.close()
    theirs.close()


def test_groups_bigger_than_a_batch(server, r):
    """Walks of a PEL go batch by batch (256 ids): each command crosses a few."""
    pipe = r.pipeline(transaction=False)
    for i in range(1, 701):
        pipe.execute_command("XADD", "s", "%d-0" % i, "f", "v")
    pipe.execute()
    with server.conn() as c:
        c.call("XGROUP", "CREATE", "s", "g", "0")
        assert len(read(c, "g", "c1", "s", ">", "COUNT", "600")[0][1]) == 600
        assert len(read(c, "g", "c2", "s")[0][1]) == 100
        assert len(read(c, "g", "c1", "s", "0", "COUNT", "550")[0][1]) == 550
        assert len(c.call("XPENDING", "s", "g", "IDLE", "0", "-", "+", "1000", "c1")) == 600
        c.call("XDEL", "s", "300-0")
        got = c.call("XAUTOCLAIM", "s", "g", "c3", "0", "0", "COUNT", "650", "JUSTID")
        assert (got[0], len(got[1]), got[2]) == (b"651-0", 649, [b"300-0"])
        assert c.call("XGROUP", "DELCONSUMER", "s", "g", "c3") == 649
        assert c.call("XPENDING", "s", "g")[0] == 50
        assert c.call("XGROUP", "DESTROY", "s", "g") == 1
        c.call("XGROUP", "CREATE", "s", "g", "0")
        assert group(c, "s", "g")[b"pending"] == 0  # nothing left of the old one
        assert c.call("XPENDING", "s", "g") == [0, None, None, None]
        assert read(c, "g", "c1", "s", "0") == [[b"s", []]]


def test_keyspace_events(server, r):
    from test_keyspace_events import Events
    e = Events(server)
    try:
        for cmd in (("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"), ("XADD", "s", "1-0", "f", "v"),
                    ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"),
                    ("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"),
                    ("XCLAIM", "s", "g", "c2", "0", "1-0"), ("XAUTOCLAIM", "s", "g", "c3", "0", "0"),
                    ("XACK", "s", "g", "1-0"), ("XGROUP", "CREATECONSUMER", "s", "g", "c4"),
                    ("XGROUP", "CREATECONSUMER", "s", "g", "c4"), ("XGROUP", "DELCONSUMER", "s", "g", "c4"),
                    ("XGROUP", "SETID", "s", "g", "0"), ("XGROUP", "DESTROY", "s", "g")):
            r.execute_command(*cmd)
        got = [(ev, key) for _, ev, key in e.take()]
    finally:
        e.close()
    assert got == [("xgroup-create", "s"), ("xadd", "s"), ("xgroup-createconsumer", "s"),
                   ("xgroup-createconsumer", "s"), ("xgroup-createconsumer", "s"), ("xgroup-createconsumer", "s"),
                   ("xgroup-delconsumer", "s"), ("xgroup-setid", "s"), ("xgroup-destroy", "s")]
