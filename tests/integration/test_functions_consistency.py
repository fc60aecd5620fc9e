"""FUNCTION libraries kept consistent between memory and disk, and carried everywhere the data
goes: concurrent changes on several workers reach memory in the order they reach the disk, a
failed commit changes nothing, snapshots (SNAPSHOT READ, tidekv-cdc's copy) carry the libraries,
and APPLYBATCH applies library records and keeps the registry in step."""

import os
import random
import threading
import time

import pytest
import redis

from conftest import tidekv_only
from test_cdc_helpers import RedisServer, build_batch, poll, poll_all, replay, seq
from test_cdc_snapshots import create, read_all
from test_functions import as_dict, lib_code
from test_storage_errors import fill_until_error, small_disk  # noqa: F401 (a fixture)
from test_tidekv_cdc import args_for, run_tool, target  # noqa: F401 (a fixture)


def libraries(cl):
    """{name: code} of FUNCTION LIST WITHCODE."""
    out = {}
    for lib in cl.execute_command("FUNCTION", "LIST", "WITHCODE"):
        d = as_dict(lib)
        out[d["library_name"]] = d["library_code"]
    return out


def versioned(name, version, padding=0):
    """A library whose one function returns its version; padding makes its record bigger."""
    return lib_code(name, "-- %s\nredis.register_function('%s_fn', function() return %d end)"
                    % ("x" * padding, name, version))


# ---------------------------------------------------------------- memory and disk agree

SPIN = "for i = 1, 2000000 do end return 1"  # a few milliseconds

@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_concurrent_changes_agree_with_disk_after_restart(make_server):
    """Threads on two workers load, replace, delete and flush the same libraries; what the
    server shows afterwards is what it reads back from disk on restart. appendfsync always
    makes each commit slow, and some changes are made in a MULTI whose script runs a while
    before its commit, so the changes of two workers overlap."""
    s = make_server(["--workers", "2", "--appendfsync", "always"])
    names = ["lib%d" % i for i in range(3)]
    errors = []

    def worker(seed):
        rnd = random.Random(seed)
        cl = s.client()
        try:
            for i in range(120):
                op = rnd.random()
                name = rnd.choice(names)
                try:
                    if op < 0.3:
                        p = cl.pipeline(transaction=True)
                        p.function_load(versioned(name, seed * 1000 + i), replace=True)
                        p.eval(SPIN, 0)
                        p.execute()
                    elif op < 0.6:
                        cl.function_load(versioned(name, seed * 1000 + i, padding=rnd.randrange(20000)),
                                         replace=True)
                    elif op < 0.75:
                        cl.function_load(versioned(name, seed * 1000 + i))
                    elif op < 0.97:
                        cl.function_delete(name)
                    else:
                        cl.function_flush()
                except redis.ResponseError as e:  # taken or missing: a lost race, as in Redis
                    if "already exists" not in str(e) and "Library not found" not in str(e):
                        raise
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
        finally:
            cl.close()

    for round_ in range(3):
        threads = [threading.Thread(target=worker, args=(round_ * 10 + i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        before = libraries(s.client())
        s.restart()
        after = libraries(s.client())
        assert after == before, "memory and disk disagreed (round %d)" % round_
        cl = s.client()
        for name, code in after.items():  # and every worker runs the libraries it lists
            version = int(code.split(b"return ")[1].split()[0])
            assert cl.fcall("%s_fn" % name.decode(), 0) == version


def slow_exec(cl, *first):
    """Starts a MULTI of the commands `first` then a SUNIONSTORE of a 200k-member set (slow to
    run and to commit, on the server only); returns the thread that runs its EXEC."""
    p = cl.pipeline(transaction=True)
    for cmd in first:
        p.execute_command(*cmd)
    p.sunionstore("copy", "big")
    t = threading.Thread(target=p.execute)
    t.start()
    return t


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_change_during_a_slow_exec_waits_for_its_commit(make_server):
    """A MULTI loads a library, then runs a slow command before EXEC commits; meanwhile a
    client of the other worker replaces the library. The replacement reaches memory after the
    EXEC's, as it reaches the disk after it: what the server shows is what a restart reads."""
    s = make_server(["--workers", "2"])
    a = s.client()
    for i in range(0, 200000, 10000):
        a.sadd("big", *range(i, i + 10000))
    others = [s.client() for _ in range(4)]
    for c in others:
        c.ping()
    # the clients of the other worker answer while a's worker runs the EXEC
    running = slow_exec(a)
    time.sleep(0.05)
    answered = []
    probes = [threading.Thread(target=lambda c=c: (c.ping(), answered.append((time.monotonic(), c))))
              for c in others]
    for t in probes:
        t.start()
    for t in probes:
        t.join()
    running.join()
    ended = time.monotonic()
    other_worker = [c for when, c in answered if when < ended - 0.02]
    if not other_worker:
        pytest.skip("the EXEC was too quick to tell the workers apart")
    a.function_load(versioned("lib", 0))
    running = slow_exec(a, ["FUNCTION", "LOAD", "REPLACE", versioned("lib", 1)])
    time.sleep(0.05)
    for i, c in enumerate(other_worker):
        c.function_load(versioned("lib", 10 + i), replace=True)
    running.join()
    shown = libraries(a)
    assert shown[b"lib"] == versioned("lib", 9 + len(other_worker)).encode()
    s.restart()
    assert libraries(s.client()) == shown


def test_multi_sees_its_own_function_changes(server):
    """Inside MULTI each FUNCTION command sees the ones before it; a refused one changes
    nothing and the others stand."""
    cl = server.client()
    cl.function_flush()
    p = cl.pipeline(transaction=True)
    p.function_load(versioned("a", 1))
    p.function_load(versioned("a", 2))  # refused: a exists (loaded just before)
    p.function_load(versioned("b", 3))
    p.fcall("a_fn", 0)
    p.function_delete("a")
    p.fcall("b_fn", 0)
    p.function_delete("a")  # refused: gone
    replies = p.execute(raise_on_error=False)
    assert replies[0] == b"a" and replies[2] == b"b" and replies[3] == 1
    assert isinstance(replies[1], redis.ResponseError) and "already exists" in str(replies[1])
    assert replies[4] is True and replies[5] == 3
    assert isinstance(replies[6], redis.ResponseError) and "Library not found" in str(replies[6])
    assert list(libraries(cl)) == [b"b"]
    cl.function_flush()


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_failed_commit_changes_no_library(small_disk):  # noqa: F811 (the fixture)
    from conftest import Server
    with open(os.path.join(small_disk, "filler"), "wb") as f:
        f.write(b"\0" * (24 << 20))
    s = Server(extra_args=["--rocksdb.write_buffer_size", "4"])
    s.datadir = os.path.join(small_disk, "data")
    try:
        s.start()
        cl = s.client()
        cl.function_load(versioned("kept", 1))
        cl.function_load(versioned("gone", 1))
        fill_until_error(cl)
        before = libraries(cl)
        for args in (["LOAD", versioned("new", 1)], ["LOAD", "REPLACE", versioned("kept", 2)],
                     ["DELETE", "gone"], ["FLUSH"], ["RESTORE", cl.function_dump(), "FLUSH"]):
            with pytest.raises(redis.ResponseError) as e:
                cl.execute_command("FUNCTION", *args)
            assert str(e.value).startswith("write failed:"), (args, e.value)
            assert libraries(cl) == before, args
            assert cl.fcall("kept_fn", 0) == 1
        with pytest.raises(redis.ResponseError, match="Function not found"):
            cl.fcall("new_fn", 0)
    finally:
        s.cleanup()


# ---------------------------------------------------------------- snapshots carry the libraries

def snapshot_libraries(entries):
    return [e["commands"] for e in entries if e["commands"][0][0] == b"FUNCTION"]


@tidekv_only
def test_snapshot_read_begins_with_the_libraries(server):
    cl = server.client()
    cl.function_flush()
    cl.set("k", "v")
    codes = {name: versioned(name, 1).encode() for name in ("b_lib", "a_lib", "c_lib")}
    for code in codes.values():
        cl.function_load(code)
    sid, _ = create(cl)
    cl.function_delete("a_lib")  # after the snapshot: not in it
    cl.function_load(versioned("later", 1))
    try:
        want = [[[b"FUNCTION", b"LOAD", b"REPLACE", codes[n]]] for n in sorted(codes)]
        for fmt in ("RESP", "JSON"):
            entries = read_all(cl, sid, "FORMAT", fmt)
            assert snapshot_libraries(entries) == want, fmt
            assert entries[:3] == [{"db": 0, "commands": c} for c in want]
            assert {"db": 0, "commands": [[b"DEL", b"k"], [b"SET", b"k", b"v"]]} in entries
        # a page of one element at a time resumes among the libraries
        pages = []
        read_all(cl, sid, "COUNT", 1, on_page=pages.append)
        assert [p for p in pages[:3]] == [[{"db": 0, "commands": c}] for c in want]
        # filters keep the libraries, as they keep FUNCTION's records in the stream
        for opts in (["MATCH", "nothing*"], ["TYPE", "hash"], ["DB", "5"]):
            assert snapshot_libraries(read_all(cl, sid, *opts)) == want, opts
    finally:
        cl.execute_command("SNAPSHOT", "RELEASE", sid)
        cl.function_flush()


@tidekv_only
def test_snapshot_then_stream_rebuild_the_libraries_in_redis(server):
    cl = server.client()
    cl.function_flush()
    cl.function_load(versioned("one", 1))
    cl.function_load(versioned("two", 2))
    sid, at = create(cl)
    cl.function_load(versioned("one", 10), replace=True)
    cl.function_delete("two")
    cl.function_load(versioned("three", 3))
    peer = RedisServer().start()
    try:
        with peer.conn() as pc:
            assert replay(pc, read_all(cl, sid)) == []
            assert replay(pc, poll_all(cl, at)) == []
        theirs = peer.client()
        assert libraries(theirs) == libraries(cl)
        assert theirs.fcall("one_fn", 0) == 10
    finally:
        peer.stop()
        cl.execute_command("SNAPSHOT", "RELEASE", sid)
        cl.function_flush()


@tidekv_only
def test_tidekv_cdc_copies_and_follows_the_libraries(make_server, target):  # noqa: F811 (the fixture)
    src = make_server()
    s = src.client()
    s.set("k", "v")
    s.function_load(versioned("copied", 1))
    s.function_load(versioned("deleted", 1))
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    t = target.client()
    assert libraries(t) == libraries(s)
    assert t.get("LOAD") is None and t.exists(b"tidekv-cdc:mig:copied") == 0
    s.function_load(versioned("copied", 2), replace=True)
    s.function_delete("deleted")
    s.function_load(versioned("new", 3))
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    assert libraries(t) == libraries(s) and t.fcall("copied_fn", 0) == 2


@tidekv_only
def test_unfinished_copy_of_libraries_is_undone(make_server, target):  # noqa: F811 (the fixture)
    """An unfinished copy (its snapshot gone) had loaded a library that the source has since
    deleted: the next copy deletes it from the target first, as it deletes the keys it wrote."""
    src = make_server()
    s = src.client()
    s.function_load(versioned("kept", 1))
    t = target.client()
    t.function_load(versioned("old", 1))  # what the unfinished copy loaded
    t.set("stale", "x")
    t.hset(b"tidekv-cdc:mig:copy", mapping={"snapshot": "gone", "sequence": 1, "cursor": "4C0000000000000001"})
    t.sadd(b"tidekv-cdc:mig:copied", "function:old", "0:stale")
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    assert libraries(t) == libraries(s) and t.exists("stale") == 0
    assert "refused" not in err, err


# ---------------------------------------------------------------- APPLYBATCH

def raw_batches(cl, start):
    return [bytes.fromhex(u.decode()) for u in poll(cl, start, "FORMAT", "RAW", "MAX", 1000)["updates"]]


@tidekv_only
def test_applybatch_applies_library_records(make_server):
    a, b = make_server(), make_server()
    ra, rb = a.client(), b.client()
    start = seq(ra)
    ra.function_load(versioned("one", 1))
    ra.function_load(versioned("two", 2))
    ra.function_load(versioned("one", 11), replace=True)
    ra.function_restore(ra.function_dump(), "FLUSH")
    ra.function_delete("two")
    # A payload whose library 'moved' has one_fn, then restored over 'one', which has it: the
    # batch puts 'moved' before it deletes 'one'
    ra.function_delete("one")
    ra.function_load(lib_code("moved", "redis.register_function('one_fn', function() return 'moved' end)"))
    payload = ra.function_dump()
    ra.function_delete("moved")
    ra.function_load(versioned("one", 11))
    ra.function_restore(payload, "FLUSH")
    mark = seq(rb)
    for batch in raw_batches(ra, start):
        assert rb.execute_command("APPLYBATCH", batch) == len(batch)
    assert libraries(rb) == libraries(ra) and rb.fcall("one_fn", 0) == b"moved"
    # the target's stream tells what the batches did to its libraries
    cmds = [c for u in poll_all(rb, mark) for c in u["commands"]]
    assert [b"FUNCTION", b"LOAD", b"REPLACE", versioned("one", 11).encode()] in cmds
    assert [b"FUNCTION", b"DELETE", b"two"] in cmds
    b.restart()
    rb = b.client()
    assert libraries(rb) == libraries(ra) and rb.fcall("one_fn", 0) == b"moved"


LIB_KEY = b"function-lib:"


@tidekv_only
@pytest.mark.parametrize("recs,message", [
    ([("PUT", 4, LIB_KEY + b"bad", lib_code("bad", "this is not lua").encode())],
     "function library 'bad' does not load: Error compiling function"),
    ([("PUT", 4, LIB_KEY + b"other", versioned("named", 1).encode())],
     "the record of function library 'other' holds library 'named'"),
    ([("PUT", 4, LIB_KEY + b"twin", lib_code("twin", "redis.register_function('kept_fn', function() end)").encode())],
     "Function kept_fn already exists"),
    ([("PUT", 4, b"lua_f_0123", b"return 1")], "column family 4 holds only function libraries"),
], ids=["no-lua", "wrong-name", "function-taken", "other-record"])
def test_applybatch_refuses_bad_library_records(server, recs, message):
    cl = server.client()
    cl.function_flush()
    cl.function_load(versioned("kept", 1))
    before, base = libraries(cl), seq(cl)
    with pytest.raises(redis.ResponseError) as e:
        cl.execute_command("APPLYBATCH", build_batch(recs))
    assert str(e.value).startswith("APPLYBATCH: " + message), str(e.value)
    assert seq(cl) == base and libraries(cl) == before
    # the change lock is free again: FUNCTION commands go on
    cl.function_load(versioned("after", 1))
    cl.function_flush()


@tidekv_only
def test_applybatch_deleting_a_missing_library_records_nothing(server):
    cl = server.client()
    cl.function_flush()
    base = seq(cl)
    batch = build_batch([("DEL", 4, LIB_KEY + b"never", None)])
    assert cl.execute_command("APPLYBATCH", batch) == len(batch)
    assert [c for u in poll_all(cl, base) for c in u["commands"]] == []
    assert libraries(cl) == {}
