"""The recorded effect of every write command, in FORMAT RESP and FORMAT JSON (CDC.md:
deterministic commands that reproduce the change on a Redis 7 server)."""

import base64
import json
import time

import pytest
import redis

from conftest import tidekv_only
from test_cdc_helpers import now_ms, poll, poll_all, seq

pytestmark = tidekv_only


def effects(r, fn, *, fmt="RESP"):
    """Runs fn() and returns (updates after it, wall-clock window in ms) checking RESP == JSON."""
    base = seq(r)
    t0 = now_ms()
    fn()
    t1 = now_ms()
    resp = poll_all(r, base, "RESP")
    js = poll_all(r, base, "JSON")
    assert resp == js, "RESP and JSON disagree:\n%r\n%r" % (resp, js)
    for u in resp:
        assert t0 - 5 <= u["timestamp"] <= t1 + 5, (u, t0, t1)
    return resp


def cmds(r, fn):
    """The command lists of the batches fn() wrote."""
    return [u["commands"] for u in effects(r, fn)]


def one(r, fn):
    """fn() must write exactly one batch; its commands."""
    c = cmds(r, fn)
    assert len(c) == 1, c
    return c[0]


def pxat_of(cmd):
    assert cmd[0] == b"SET" and cmd[3] == b"PXAT" and len(cmd) == 5, cmd
    return int(cmd[4])


# ----------------------------------------------------------------------
# strings
# ----------------------------------------------------------------------

def test_set_plain(r):
    assert one(r, lambda: r.set("k", "v")) == [[b"SET", b"k", b"v"]]


@pytest.mark.parametrize("opt,ms", [("ex", 100_000), ("px", 250_000)])
def test_set_relative_expiry_becomes_pxat(r, opt, ms):
    t0 = now_ms()
    c = one(r, lambda: r.set("k", "v", **{opt: ms // 1000 if opt == "ex" else ms}))
    t1 = now_ms()
    assert c[0][:3] == [b"SET", b"k", b"v"]
    at = pxat_of(c[0])
    assert t0 + ms - 5 <= at <= t1 + ms + 5
    assert r.execute_command("PEXPIRETIME", "k") == at


def test_set_absolute_expiry(r):
    at_s = int(time.time()) + 1000
    assert one(r, lambda: r.execute_command("SET", "k", "v", "EXAT", at_s)) == \
        [[b"SET", b"k", b"v", b"PXAT", b"%d" % (at_s * 1000)]]
    at_ms = now_ms() + 123456
    assert one(r, lambda: r.execute_command("SET", "k", "w", "PXAT", at_ms)) == \
        [[b"SET", b"k", b"w", b"PXAT", b"%d" % at_ms]]


def test_setex_psetex(r):
    t0 = now_ms()
    c = one(r, lambda: r.setex("k", 100, "v"))
    assert t0 + 100_000 - 5 <= pxat_of(c[0]) <= now_ms() + 100_000 + 5
    t0 = now_ms()
    c = one(r, lambda: r.psetex("k2", 50_000, "v"))
    assert c[0][:3] == [b"SET", b"k2", b"v"]
    assert t0 + 50_000 - 5 <= pxat_of(c[0]) <= now_ms() + 50_000 + 5


def test_set_keepttl_records_the_kept_expiry(r):
    r.set("k", "v", px=200_000)
    at = r.execute_command("PEXPIRETIME", "k")
    assert one(r, lambda: r.set("k", "w", keepttl=True)) == [[b"SET", b"k", b"w", b"PXAT", b"%d" % at]]
    r.set("p", "v")
    assert one(r, lambda: r.set("p", "w", keepttl=True)) == [[b"SET", b"p", b"w"]]


def test_set_nx_xx_get(r):
    assert one(r, lambda: r.set("k", "v", nx=True)) == [[b"SET", b"k", b"v"]]
    assert cmds(r, lambda: r.set("k", "w", nx=True)) == []  # not applied: nothing written
    assert one(r, lambda: r.set("k", "w", xx=True)) == [[b"SET", b"k", b"w"]]
    assert cmds(r, lambda: r.set("nope", "w", xx=True)) == []
    assert one(r, lambda: r.set("k", "z", get=True)) == [[b"SET", b"k", b"z"]]


def test_setnx_getset(r):
    assert one(r, lambda: r.setnx("k", "1")) == [[b"SET", b"k", b"1"]]
    assert cmds(r, lambda: r.setnx("k", "2")) == []
    assert one(r, lambda: r.getset("k", "3")) == [[b"SET", b"k", b"3"]]


def test_getset_clears_ttl(r):
    r.set("k", "v", ex=1000)
    assert one(r, lambda: r.getset("k", "w")) == [[b"SET", b"k", b"w"]]
    assert r.ttl("k") == -1


@pytest.mark.parametrize("cmd,args,result", [
    ("INCR", (), b"11"),
    ("DECR", (), b"9"),
    ("INCRBY", ("5",), b"15"),
    ("DECRBY", ("7",), b"3"),
    ("INCRBYFLOAT", ("0.5",), b"10.5"),
])
def test_value_changing_commands_record_the_result(r, cmd, args, result):
    r.set("k", "10")
    assert one(r, lambda: r.execute_command(cmd, "k", *args)) == [[b"SET", b"k", result]]
    assert r.get("k") == result


@pytest.mark.parametrize("cmd,args", [
    ("INCR", ()), ("DECR", ()), ("INCRBY", ("5",)), ("DECRBY", ("7",)), ("INCRBYFLOAT", ("0.5",)),
])
def test_value_changing_commands_keep_the_expiry(r, cmd, args):
    r.set("k", "10", px=300_000)
    at = r.execute_command("PEXPIRETIME", "k")
    c = one(r, lambda: r.execute_command(cmd, "k", *args))
    assert c == [[b"SET", b"k", r.get("k"), b"PXAT", b"%d" % at]]
    assert r.execute_command("PEXPIRETIME", "k") == at


@pytest.mark.parametrize("cmd,args,result", [
    ("APPEND", ("xy",), b"10xy"),
    ("SETRANGE", ("1", "Z"), b"1Z"),
    ("SETBIT", ("1", "1"), b"q0"),
])
def test_edits_record_themselves(r, cmd, args, result):
    r.set("k", "10")
    assert one(r, lambda: r.execute_command(cmd, "k", *args)) == [[cmd.encode(), b"k"] + [a.encode() for a in args]]
    assert r.get("k") == result


@pytest.mark.parametrize("cmd,args", [("APPEND", ("xy",)), ("SETRANGE", ("1", "Z")), ("SETBIT", ("3", "1"))])
def test_edits_of_a_key_with_expiry_record_it_after_themselves(r, cmd, args):
    """Replayed after the key expired, the edit makes a new key: the PEXPIREAT removes it."""
    r.set("k", "10", px=300_000)
    at = r.execute_command("PEXPIRETIME", "k")
    c = one(r, lambda: r.execute_command(cmd, "k", *args))
    assert c == [[cmd.encode(), b"k"] + [a.encode() for a in args], [b"PEXPIREAT", b"k", b"%d" % at]]
    assert r.execute_command("PEXPIRETIME", "k") == at


def test_incr_on_missing_key(r):
    assert one(r, lambda: r.incr("n")) == [[b"SET", b"n", b"1"]]
    assert one(r, lambda: r.incrbyfloat("f", "2.25")) == [[b"SET", b"f", b"2.25"]]
    assert one(r, lambda: r.append("s", "abc")) == [[b"APPEND", b"s", b"abc"]]
    assert one(r, lambda: r.setrange("g", 3, "x")) == [[b"SETRANGE", b"g", b"3", b"x"]]


def test_setbit_records_itself(r):
    assert one(r, lambda: r.setbit("b", 7, 1)) == [[b"SETBIT", b"b", b"7", b"1"]]
    assert one(r, lambda: r.setbit("b", 17, 0)) == [[b"SETBIT", b"b", b"17", b"0"]]
    assert r.get("b") == b"\x01\x00\x00"


def test_failed_writes_record_nothing(r):
    r.set("s", "abc")
    assert cmds(r, lambda: pytest.raises(redis.ResponseError, r.incr, "s")) == []
    assert cmds(r, lambda: pytest.raises(redis.ResponseError, r.incrbyfloat, "s", 1)) == []
    assert cmds(r, lambda: pytest.raises(redis.ResponseError, r.execute_command,
                                         "SETRANGE", "s", "-1", "x")) == []


def test_mset_msetnx(r):
    assert one(r, lambda: r.mset({"a": "1", "b": "2"})) == [[b"MSET", b"a", b"1", b"b", b"2"]]
    assert one(r, lambda: r.msetnx({"c": "3", "d": "4"})) == [[b"MSET", b"c", b"3", b"d", b"4"]]
    assert cmds(r, lambda: r.msetnx({"d": "5", "e": "6"})) == []


def test_getdel(r):
    r.set("k", "v")
    assert one(r, lambda: r.getdel("k")) == [[b"DEL", b"k"]]
    assert cmds(r, lambda: r.getdel("k")) == []


def test_getex(r):
    r.set("k", "v")
    t0 = now_ms()
    c = one(r, lambda: r.getex("k", ex=500))
    at = r.execute_command("PEXPIRETIME", "k")
    assert t0 + 500_000 - 5 <= at <= now_ms() + 500_000 + 5
    assert c in ([[b"SET", b"k", b"v", b"PXAT", b"%d" % at]], [[b"PEXPIREAT", b"k", b"%d" % at]])
    c = one(r, lambda: r.getex("k", persist=True))
    assert c in ([[b"SET", b"k", b"v"]], [[b"PERSIST", b"k"]])
    assert cmds(r, lambda: r.getex("k")) == []


# ----------------------------------------------------------------------
# keys
# ----------------------------------------------------------------------

def test_del_one_command_per_deleted_key(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert one(r, lambda: r.delete("a", "missing", "b")) == [[b"DEL", b"a"], [b"DEL", b"b"]]
    assert one(r, lambda: r.unlink("c")) == [[b"DEL", b"c"]]
    assert cmds(r, lambda: r.delete("a", "b")) == []


@pytest.mark.parametrize("cmd,arg", [("EXPIRE", 100), ("PEXPIRE", 100_000)])
def test_relative_expire_becomes_pexpireat(r, cmd, arg):
    r.set("k", "v")
    t0 = now_ms()
    c = one(r, lambda: r.execute_command(cmd, "k", arg))
    t1 = now_ms()
    assert c[0][:2] == [b"PEXPIREAT", b"k"] and len(c[0]) == 3
    at = int(c[0][2])
    assert t0 + 100_000 - 5 <= at <= t1 + 100_000 + 5
    assert r.execute_command("PEXPIRETIME", "k") == at


def test_absolute_expire(r):
    r.set("k", "v")
    s = int(time.time()) + 500
    assert one(r, lambda: r.execute_command("EXPIREAT", "k", s)) == [[b"PEXPIREAT", b"k", b"%d" % (s * 1000)]]
    ms = now_ms() + 400_000
    assert one(r, lambda: r.execute_command("PEXPIREAT", "k", ms)) == [[b"PEXPIREAT", b"k", b"%d" % ms]]


@pytest.mark.parametrize("cmd,arg", [("EXPIRE", -1), ("PEXPIRE", 0), ("EXPIREAT", 1), ("PEXPIREAT", 1000)])
def test_expire_in_the_past_becomes_del(r, cmd, arg):
    r.set("k", "v")
    assert one(r, lambda: r.execute_command(cmd, "k", arg)) == [[b"DEL", b"k"]]
    assert r.exists("k") == 0


def test_expire_conditions_not_met_record_nothing(r):
    r.set("k", "v")
    assert cmds(r, lambda: r.execute_command("EXPIRE", "k", 100, "XX")) == []
    assert cmds(r, lambda: r.execute_command("EXPIRE", "missing", 100)) == []
    r.expire("k", 100)
    assert cmds(r, lambda: r.execute_command("EXPIRE", "k", 200, "NX")) == []
    assert cmds(r, lambda: r.execute_command("EXPIRE", "k", 50, "GT")) == []
    c = one(r, lambda: r.execute_command("EXPIRE", "k", 50, "LT"))
    assert c[0][:2] == [b"PEXPIREAT", b"k"]


def test_persist(r):
    r.set("k", "v", ex=100)
    assert one(r, lambda: r.persist("k")) == [[b"PERSIST", b"k"]]
    assert cmds(r, lambda: r.persist("k")) == []


def test_rename_renamenx(r):
    r.set("a", "1")
    assert one(r, lambda: r.rename("a", "b")) == [[b"RENAME", b"a", b"b"]]
    r.set("c", "2")
    assert one(r, lambda: r.renamenx("b", "d")) == [[b"RENAMENX", b"b", b"d"]]
    assert cmds(r, lambda: r.renamenx("d", "c")) == []
    assert cmds(r, lambda: pytest.raises(redis.ResponseError, r.rename, "missing", "x")) == []


def test_copy_always_names_the_db(r):
    r.set("a", "1")
    assert one(r, lambda: r.copy("a", "b")) == [[b"COPY", b"a", b"b", b"DB", b"0"]]
    assert one(r, lambda: r.copy("a", "b", replace=True)) == [[b"COPY", b"a", b"b", b"DB", b"0", b"REPLACE"]]
    assert one(r, lambda: r.copy("a", "b", destination_db=3)) == [[b"COPY", b"a", b"b", b"DB", b"3"]]
    assert cmds(r, lambda: r.copy("a", "b")) == []


def test_copy_from_another_db_records_both_dbs(server, r):
    c5 = server.client(db=5)
    try:
        c5.set("src", "v")
        updates = effects(r, lambda: c5.copy("src", "dst", destination_db=2))
        assert len(updates) == 1
        assert updates[0]["db"] == 5
        assert updates[0]["commands"] == [[b"COPY", b"src", b"dst", b"DB", b"2"]]
    finally:
        c5.close()


def test_flushdb_flushall(server, r):
    c2 = server.client(db=2)
    try:
        c2.set("x", "1")
        u = effects(r, lambda: c2.flushdb())
        assert [x["commands"] for x in u] == [[[b"FLUSHDB"]]]
        assert u[0]["db"] == 2
        u = effects(r, lambda: r.flushall())
        assert [x["commands"] for x in u] == [[[b"FLUSHALL"]]]
    finally:
        c2.close()


def test_key_found_expired_is_recorded_as_del(make_server):
    """What a lookup does with a key it finds expired: the active expiry, which would remove
    the key first, is paused (as Redis's own tests do)."""
    s = make_server(["--debug-fault-injection", "yes"])
    r = s.client()
    assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    r.set("e", "v", px=30)
    time.sleep(0.1)
    base = seq(r)
    assert r.get("e") is None
    after = poll_all(r, base, "RESP")
    assert [u["commands"] for u in after] == [[[b"DEL", b"e"]]]
    assert seq(r) == base + 1
    # only once: it is gone now
    assert r.get("e") is None
    assert seq(r) == base + 1
    r.close()


def test_expired_key_overwritten_records_del_then_set(r):
    r.set("e", "old", px=30)
    time.sleep(0.1)
    c = one(r, lambda: r.set("e", "new", nx=True))
    assert c[-1] == [b"SET", b"e", b"new"]
    assert c[:-1] in ([], [[b"DEL", b"e"]])


def test_write_in_another_db(server, r):
    c3 = server.client(db=3)
    try:
        u = effects(r, lambda: c3.set("k", "v"))
        assert len(u) == 1 and u[0]["db"] == 3 and u[0]["commands"] == [[b"SET", b"k", b"v"]]
    finally:
        c3.close()


# ----------------------------------------------------------------------
# transactions
# ----------------------------------------------------------------------

def test_multi_exec_is_one_batch(r):
    def tx():
        p = r.pipeline(transaction=True)
        p.set("a", "1")
        p.incr("n")
        p.delete("a")
        p.get("n")
        p.execute()
    u = effects(r, tx)
    assert len(u) == 1
    assert u[0]["commands"] == [[b"SET", b"a", b"1"], [b"SET", b"n", b"1"], [b"DEL", b"a"]]
    assert u[0]["count"] == 3


def test_multi_across_databases_contains_select(server):
    r = server.client()
    with server.conn() as c:
        base = seq(r)
        for cmd in (("MULTI",), ("SET", "a", "1"), ("SELECT", "1"), ("SET", "b", "2"), ("SELECT", "0"),
                    ("SET", "c", "3")):
            c.call(*cmd)
        res = c.call("EXEC")
        assert len(res) == 5
        u = poll_all(r, base, "RESP")
        assert len(u) == 1
        assert u[0]["db"] == 0
        assert u[0]["commands"] == [[b"SET", b"a", b"1"], [b"SELECT", b"1"], [b"SET", b"b", b"2"],
                                    [b"SELECT", b"0"], [b"SET", b"c", b"3"]]
        assert u[0]["count"] == 3
        assert poll_all(r, base, "JSON") == u
    r.close()


def test_multi_starting_with_select(server):
    r = server.client()
    with server.conn() as c:
        base = seq(r)
        for cmd in (("MULTI",), ("SELECT", "4"), ("SET", "x", "1"), ("SELECT", "6"), ("SET", "y", "2")):
            c.call(*cmd)
        c.call("EXEC")
        u = poll_all(r, base, "RESP")
        assert len(u) == 1
        assert u[0]["db"] == 4
        assert u[0]["commands"] == [[b"SET", b"x", b"1"], [b"SELECT", b"6"], [b"SET", b"y", b"2"]]
    r.close()


def test_multi_with_only_reads_writes_nothing(r):
    def tx():
        p = r.pipeline(transaction=True)
        p.get("a")
        p.exists("b")
        p.execute()
    assert cmds(r, tx) == []


# ----------------------------------------------------------------------
# binary safety and JSON encoding
# ----------------------------------------------------------------------

def test_binary_key_and_value_resp(r):
    key = b"k\x00\xff\r\n"
    val = b"\xff\xfe\x00\x01binary"
    assert one(r, lambda: r.set(key, val)) == [[b"SET", key, val]]
    assert one(r, lambda: r.delete(key)) == [[b"DEL", key]]


def json_commands(r, base):
    d = r.execute_command("POLLUPDATES", base, "FORMAT", "JSON", "MAX", 1000)
    ups = dict(zip([x.decode() for x in d[0::2]], d[1::2]))["updates"]
    return [json.loads(u.decode("utf-8"))["commands"] for u in ups]


def test_json_invalid_utf8_is_base64(r):
    base = seq(r)
    key = b"bin\xff"
    val = b"\xff\xfe\x00"
    r.set(key, val)
    c = json_commands(r, base)
    assert c == [[["SET", {"base64": base64.b64encode(key).decode()}, {"base64": base64.b64encode(val).decode()}]]]


@pytest.mark.parametrize("bad", [b"\xc3", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf",
                                 b"\xf4\x90\x80\x80", b"\x80", b"ok\xf0\x9f\x98"])
def test_json_invalid_utf8_sequences_are_base64(r, bad):
    base = seq(r)
    r.set("k", bad)
    c = json_commands(r, base)
    assert c == [[["SET", "k", {"base64": base64.b64encode(bad).decode()}]]]


def test_json_valid_utf8_is_a_string(r):
    base = seq(r)
    key = "ключ-é-€-😀"
    val = "значение \"quoted\" back\\slash\nnewline\ttab"
    r.set(key.encode(), val.encode())
    c = json_commands(r, base)
    assert c == [[["SET", key, val]]]


def test_json_nul_byte_round_trips(r):
    """\\x00 alone is valid UTF-8: a JSON string with \\u0000 (or base64) must give the bytes back."""
    base = seq(r)
    r.set(b"a\x00b", b"\x00")
    d = poll(r, base, "FORMAT", "JSON")
    assert d["updates"][0]["commands"] == [[b"SET", b"a\x00b", b"\x00"]]
    c = json_commands(r, base)
    assert c[0][0][1] in ("a\x00b", {"base64": base64.b64encode(b"a\x00b").decode()})


def test_json_update_fields(r):
    base = seq(r)
    t0 = now_ms()
    r.mset({"a": "1", "b": "2"})
    t1 = now_ms()
    d = r.execute_command("POLLUPDATES", base, "FORMAT", "JSON")
    bulk = dict(zip([x.decode() for x in d[0::2]], d[1::2]))["updates"][0]
    obj = json.loads(bulk)
    assert list(obj.keys())[:5] == ["sequence", "count", "timestamp", "db", "commands"]
    assert obj["sequence"] == base + 1
    assert obj["count"] == 2
    assert t0 <= obj["timestamp"] <= t1
    assert obj["db"] == 0
    assert obj["commands"] == [["MSET", "a", "1", "b", "2"]]


def test_large_value(r):
    val = bytes(range(256)) * 4096  # 1 MiB, not UTF-8
    c = one(r, lambda: r.set("big", val))
    assert c == [[b"SET", b"big", val]]


@pytest.mark.parametrize("flush", ["FLUSHDB", "FLUSHALL"])
def test_storage_matches_stream_for_flush_inside_multi(r, flush):
    """A transaction's commands apply in order: SET a; FLUSHDB; SET b leaves b (as the
    change stream, replayed on Redis, says)."""
    base = seq(r)
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.execute_command(flush)
    p.set("b", "2")
    p.execute()
    u = poll_all(r, base, "RESP")
    assert u[0]["commands"] == [[b"SET", b"a", b"1"], [flush.encode()], [b"SET", b"b", b"2"]]
    assert r.get("a") is None
    assert r.get("b") == b"2", "SET after %s in the same MULTI was lost" % flush


def test_json_control_characters(r):
    base = seq(r)
    val = b"\x01\x1f\x7f\"\\\x08\x0c/"
    r.set("ctl", val)
    c = json_commands(r, base)
    assert c == [[["SET", "ctl", val.decode()]]]
    raw = r.execute_command("POLLUPDATES", base, "FORMAT", "JSON")
    bulk = dict(zip([x.decode() for x in raw[0::2]], raw[1::2]))["updates"][0]
    assert b"\x01" not in bulk and b"\x1f" not in bulk  # control characters are escaped
