"""tidekv-cdc's jsonl:PATH sink (CDC.md "tidekv-cdc"): an audit log with one line per batch,
as a user runs it against a real tidekv. Every batch of the source's POLLUPDATES FORMAT JSON
stream appears exactly once, in order, byte for byte, across kill -9 at any moment, torn last
lines, rotation (and a crash in the middle of one), --fsync always, and snapshot copies
(--snapshot) killed midway or whose snapshot vanished; bad paths are clear errors."""

import base64
import json
import os
import random
import signal
import threading
import time

import pytest

from conftest import soak, tidekv_only
from test_cdc_helpers import RedisServer, json_arg, pairs, replay, seq, wait_until
from test_tidekv_cdc import (assert_same_data, consumer_info, fill_every_type, load_strings,
                             rpush_heavy_writer, run_tool, tools)  # noqa: F401 (tools: a fixture)

CONSUMER = "audit"


def jsonl_args(src, path, *extra):
    return ["--source", "127.0.0.1:%d" % src.port, "--consumer", CONSUMER, "--sink", "jsonl:%s" % path,
            "--progress", "0"] + list(extra)


def log_files(path):
    """The log's files, oldest first: PATH.n … PATH.1, PATH."""
    n = 0
    while os.path.exists("%s.%d" % (path, n + 1)):
        n += 1
    return ["%s.%d" % (path, i) for i in range(n, 0, -1)] + ([str(path)] if os.path.exists(path) else [])


def log_lines(path, complete_only=False):
    """Every line of the log, oldest first. A line without its '\\n' is an error unless
    complete_only (the program may be writing it), which leaves it out."""
    lines = []
    for f in log_files(path):
        with open(f, "rb") as fh:
            data = fh.read()
        if not complete_only:
            assert data == b"" or data.endswith(b"\n"), "%s ends in a torn line" % f
        lines.extend(data.split(b"\n")[:-1])
    return [line.decode("utf-8") for line in lines]


def log_position(path):
    """What the log holds: sequence + count - 1 of its last complete batch line, else None."""
    try:
        lines = log_lines(path, complete_only=True)
    except FileNotFoundError:
        return None  # renamed under us by a rotation: ask again
    for line in reversed(lines):
        obj = json.loads(line)
        if "count" in obj:
            return obj["sequence"] + obj["count"] - 1
    return None


def source_batches(client, start):
    """The source's POLLUPDATES FORMAT JSON batches after start, as the strings it sends."""
    out, pos = [], start
    while True:
        d = dict(pairs(client.execute_command("POLLUPDATES", pos, "MAX", 1000, "FORMAT", "JSON")))
        out.extend(u.decode("utf-8") for u in d["updates"])
        pos = d["next_sequence"]
        if pos >= d["latest_sequence"]:
            return out


def assert_same_lines(got, want):
    """The log's batch lines are exactly the source's batches: none lost, none twice, in order."""
    for line in got:
        json.loads(line)  # each one valid JSON
    if got != want:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise AssertionError("%d lines, %d batches; they first differ at %d:\n  log:    %s\n  source: %s" % (
            len(got), len(want), first, got[first][:200] if first < len(got) else "(none)",
            want[first][:200] if first < len(want) else "(none)"))


def create_consumer(src):
    """The consumer, created here so that the test knows where the log starts (the program
    takes over a consumer it finds never acknowledged)."""
    return dict(pairs(src.client().execute_command("CDC", "CREATE", CONSUMER)))["sequence"]


def write_some(src, n, prefix="w", db=0):
    c = src.client(db=db)
    for i in range(n):
        if i % 3 == 0:
            c.rpush("%s:list" % prefix, *["item-%d-%d" % (i, j) for j in range(3)])
        elif i % 3 == 1:
            c.set("%s:%d" % (prefix, i), ("value \u00e9 \n %d " % i) + "x" * 80)
        else:
            c.hset("%s:h" % prefix, "f%d" % i, b"\xff\x00 binary")
    c.close()


# ---------------------------------------------------------------- arguments and bad paths

def test_help_documents_the_jsonl_flags():
    rc, out, err = run_tool("--help")
    assert rc == 0, err
    for text in ["jsonl:PATH", "--fsync MODE", "always", "everysec", "--rotate-mb MB", "--snapshot"]:
        assert text in out, text


BASE = ["--source", "127.0.0.1:1", "--consumer", "c", "--sink", "jsonl:/tmp/x.log"]


@pytest.mark.parametrize("args,message", [
    (BASE[:5] + ["jsonl:"], "--sink 'jsonl:': expected jsonl:PATH"),
    (BASE + ["--fsync", "sometimes"], "--fsync 'sometimes': expected always or everysec"),
    (BASE + ["--rotate-mb", "-1"], "--rotate-mb '-1': expected megabytes"),
    (BASE + ["--rotate-mb", "lots"], "--rotate-mb 'lots'"),
])
def test_bad_jsonl_arguments_exit_2(args, message):
    rc, out, err = run_tool(*args, timeout=10)
    assert rc == 2 and message in err, err


@tidekv_only
def test_bad_paths_exit_1(make_server, tmp_path):
    src = make_server()
    (tmp_path / "file").write_text("x")
    (tmp_path / "foreign.log").write_text("hello\n")
    for path, message in [
        (tmp_path, "sink: %s is not a regular file" % tmp_path),
        (tmp_path / "missing" / "a.log", "cannot open the directory %s/missing: No such file" % tmp_path),
        (tmp_path / "file" / "a.log", "cannot open the directory %s/file: Not a directory" % tmp_path),
        ("/proc/tidekv-cdc-test.log", "sink: cannot open /proc/tidekv-cdc-test.log"),  # root may write anywhere else
        (tmp_path / "foreign.log", "is not one tidekv-cdc writes (it begins 'hello'): is it another file?"),
    ]:
        rc, _, err = run_tool(*jsonl_args(src, path, "--once"), timeout=20)
        assert rc == 1 and message in err, err
    assert (tmp_path / "foreign.log").read_text() == "hello\n"


# ---------------------------------------------------------------- following

@tidekv_only
def test_lines_are_the_source_batches(make_server, tmp_path):
    """Starts at the latest change; each line is the batch as FORMAT JSON sends it, binary
    arguments in base64; the consumer is acknowledged with what the log holds."""
    src = make_server()
    write_some(src, 10, prefix="before")  # before the consumer: not in the log
    path = tmp_path / "audit.log"
    rc, _, err = run_tool(*jsonl_args(src, path, "--once"))
    assert rc == 0, err
    start = consumer_info(src, CONSUMER)["sequence"]
    assert log_lines(path) == [] and consumer_info(src, CONSUMER)["acked"] == 0
    write_some(src, 30)
    write_some(src, 5, db=1)
    rc, _, err = run_tool(*jsonl_args(src, path, "--once"))
    assert rc == 0, err
    lines = log_lines(path)
    assert_same_lines(lines, source_batches(src.client(), start))
    first = json.loads(lines[0])
    assert list(first) == ["sequence", "count", "timestamp", "db", "commands"] and first["sequence"] == start + 1
    binary = {"base64": base64.b64encode(b"\xff\x00 binary").decode()}
    assert binary in json.loads(lines[2])["commands"][0]
    assert json.loads(lines[-1])["db"] == 1
    assert consumer_info(src, CONSUMER)["sequence"] == seq(src.client()) == log_position(path)


@tidekv_only
def test_torn_line_is_cut_and_delivered_again(make_server, tmp_path):
    """As if killed while writing a line: the log ends in the first half of the next batch's
    line (the consumer is acknowledged only up to the last whole one)."""
    src = make_server()
    path = tmp_path / "audit.log"
    start = create_consumer(src)
    write_some(src, 20)
    rc, _, err = run_tool(*jsonl_args(src, path, "--once"))
    assert rc == 0, err
    write_some(src, 5, prefix="next")
    held = log_position(path)
    torn = source_batches(src.client(), held)[0].encode()[:60]
    with open(path, "ab") as f:
        f.write(torn)
    rc, _, err = run_tool(*jsonl_args(src, path, "--once"))
    assert rc == 0, err
    assert "cut a torn last line of 60 bytes" in err
    assert_same_lines(log_lines(path), source_batches(src.client(), start))


def kill_while_writing(src, tmp_path, tools, kills, extra):
    """A writer does mixed writes while the program is killed (kill -9) again and again and
    restarted; at the end the log holds every batch exactly once, in order."""
    path = tmp_path / "audit.log"
    start = create_consumer(src)
    stop = threading.Event()
    writer = threading.Thread(target=rpush_heavy_writer, args=(src, stop, kills))
    writer.start()
    rnd = random.Random(kills)
    try:
        t = tools(*jsonl_args(src, path, *extra))
        for _ in range(kills):
            time.sleep(rnd.uniform(0.1, 0.7))
            t.kill9()
            acked = consumer_info(src, CONSUMER)["sequence"]
            held = log_position(path)
            assert acked == start or acked <= held, "acknowledged %d, the log holds %s" % (acked, held)
            t = tools(*jsonl_args(src, path, *extra))
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join()
    s = src.client()
    wait_until(lambda: log_position(path) == seq(s), timeout=60, msg="lag 0")
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait(10) == 0, t.log()
    assert_same_lines(log_lines(path), source_batches(s, start))
    assert consumer_info(src, CONSUMER)["sequence"] == seq(s)
    return path


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_kill9_while_writing(make_server, tmp_path, tools):
    kill_while_writing(make_server(), tmp_path, tools, kills=5, extra=["--batch", "7"])


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_kill9_while_writing_fsync_always_and_rotating(make_server, tmp_path, tools):
    path = kill_while_writing(make_server(), tmp_path, tools, kills=5,
                              extra=["--fsync", "always", "--rotate-mb", "0.02", "--batch", "5"])
    assert len(log_files(path)) >= 3


@tidekv_only
@soak
def test_kill9_while_writing_long(make_server, tmp_path, tools):
    kill_while_writing(make_server(), tmp_path, tools, kills=40,
                       extra=["--rotate-mb", "0.05", "--batch", "3"])


# ---------------------------------------------------------------- rotation

@tidekv_only
def test_rotation(make_server, tmp_path):
    src = make_server()
    path = tmp_path / "audit.log"
    start = create_consumer(src)
    write_some(src, 300)
    limit = 0.005 * 1024 * 1024
    rc, _, err = run_tool(*jsonl_args(src, path, "--once", "--rotate-mb", "0.005", "--batch", "4"))
    assert rc == 0, err
    files = log_files(path)
    assert len(files) >= 5 and files[-1] == str(path) and files[-2] == "%s.1" % path
    assert all(os.path.getsize(f) >= limit for f in files[:-1])  # PATH.n filled before renamed
    assert all(os.path.getsize(f) < limit + 4 * 1000 for f in files)  # rotated between polls of 4
    assert_same_lines(log_lines(path), source_batches(src.client(), start))


@tidekv_only
def test_recovery_after_interrupted_rotation(make_server, tmp_path):
    """Killed in the middle of a rotation's renames (PATH.n to PATH.n+1 … PATH.2 to PATH.3
    done, PATH.1 to PATH.2 and PATH to PATH.1 not): the next run finishes the rotation. Then killed right after a rotation, with a torn line
    in the new PATH: the position comes from PATH.1."""
    src = make_server()
    path = tmp_path / "audit.log"
    start = create_consumer(src)
    write_some(src, 100)
    rc, _, err = run_tool(*jsonl_args(src, path, "--once", "--rotate-mb", "0.004", "--batch", "4"))
    assert rc == 0, err
    before = log_lines(path)
    rotated = len(log_files(path)) - 1
    assert rotated >= 2
    for i in range(rotated, 1, -1):  # the renames down to PATH.2 → PATH.3: a gap at PATH.2
        os.rename("%s.%d" % (path, i), "%s.%d" % (path, i + 1))
    write_some(src, 10, prefix="second")
    rc, _, err = run_tool(*jsonl_args(src, path, "--once"))
    assert rc == 0, err
    assert "finished the rotation of %s" % path in err
    assert log_lines(path)[:len(before)] == before
    assert_same_lines(log_lines(path), source_batches(src.client(), start))
    # a rotation that just happened: PATH renamed to PATH.1, and the new PATH holds a torn line
    for i in range(len(log_files(path)) - 1, 0, -1):
        os.rename("%s.%d" % (path, i), "%s.%d" % (path, i + 1))
    os.rename(path, "%s.1" % path)
    path.write_bytes(b'{"sequence":')
    write_some(src, 10, prefix="third")
    rc, _, err = run_tool(*jsonl_args(src, path, "--once"))
    assert rc == 0, err
    assert "cut a torn last line" in err
    assert_same_lines(log_lines(path), source_batches(src.client(), start))


# ---------------------------------------------------------------- --snapshot

def snapshot_and_batches(path):
    """The log's lines as (snapshot entries, batch lines), checking the copy's shape: a
    begin line, the snapshot's line, pages of one snapshot, the last with cursor "0"."""
    objs = [json.loads(line) for line in log_lines(path)]
    copy = [o for o in objs if "snapshot" in o]
    assert objs[:len(copy)] == copy, "copy lines after batch lines"
    assert copy[0] == {"snapshot": "", "sequence": 0}
    sid, sequence = copy[1]["snapshot"], copy[1]["sequence"]
    assert copy[1] == {"snapshot": sid, "sequence": sequence} and sid
    pages = copy[2:]
    assert pages and all(set(p) == {"snapshot", "sequence", "cursor", "entries"} for p in pages)
    assert all((p["snapshot"], p["sequence"]) == (sid, sequence) for p in pages)
    assert pages[-1]["cursor"] == "0" and all(p["cursor"] != "0" for p in pages[:-1])
    entries = [e for p in pages for e in p["entries"]]
    batches = [line for line, o in zip(log_lines(path), objs) if "snapshot" not in o]
    return sequence, entries, batches


def decoded(item):
    return {"db": item["db"], "commands": [[json_arg(a) for a in cmd] for cmd in item["commands"]]}


def assert_log_rebuilds_source(src, path):
    """The snapshot entries then the batches, replayed into an empty redis-server, give the
    source's data; each key is copied once."""
    sequence, entries, batches = snapshot_and_batches(path)
    keys = [(e["db"], json.dumps(e["commands"][0][1])) for e in entries if e["commands"][0][0] == "DEL"]
    assert len(keys) == len(set(keys)), "a key copied twice"
    assert_same_lines(batches, source_batches(src.client(), sequence))
    target = RedisServer().start()
    try:
        conn = target.conn()
        errors = replay(conn, [decoded(e) for e in entries] + [decoded(json.loads(b)) for b in batches])
        assert errors == []
        conn.close()
        assert_same_data(src, target)
    finally:
        target.stop()
    return entries


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_snapshot_copy_then_follow(make_server, tmp_path):
    src = make_server()
    fill_every_type(src, n=20)
    path = tmp_path / "audit.log"
    rc, _, err = run_tool(*jsonl_args(src, path, "--once", "--snapshot"))
    assert rc == 0, err
    assert src.client().execute_command("SNAPSHOT", "LIST") == []  # released once copied
    write_some(src, 20)
    write_some(src, 5, db=1)
    rc, _, err = run_tool(*jsonl_args(src, path, "--once", "--snapshot"))
    assert rc == 0 and "copying" not in err, err
    assert len(assert_log_rebuilds_source(src, path)) > 200
    assert consumer_info(src, CONSUMER)["sequence"] == seq(src.client())


# Enough keys that a copy takes a while: with fewer, a fast machine finished the copy before
# wait_for_copy_page saw it midway.
COPY_KEYS = 60000


def fill_for_a_long_copy(src):
    """COPY_KEYS strings, copied in pages of 4 KB (cdc-poll-max-bytes): some 400 pages, where the
    default (pages of up to 1000 keys) made 60, which a fresh CI machine once wrote between two
    looks of wait_for_copy_page."""
    load_strings(src, COPY_KEYS)
    src.client().config_set("cdc-poll-max-bytes", 4096)


def wait_for_copy_page(path):
    """Waits until the copy has written a page, but not its last one."""
    def midway():
        data = path.read_bytes() if path.exists() else b""
        return b'"entries":[' in data and b'"cursor":"0","entries"' not in data
    wait_until(midway, timeout=30, interval=0.002, msg="a copy page")


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_kill_during_copy_continues_it(make_server, tmp_path, tools):
    src = make_server()
    fill_for_a_long_copy(src)
    fill_every_type(src, n=10)
    path = tmp_path / "audit.log"
    t = tools(*jsonl_args(src, path, "--snapshot"))
    wait_for_copy_page(path)
    t.kill9()
    snapshot = json.loads(log_lines(path, complete_only=True)[1])["snapshot"]
    write_some(src, 30)
    rc, _, err = run_tool(*jsonl_args(src, path, "--once", "--snapshot"))
    assert rc == 0, err
    assert "continuing the copy of snapshot %s" % snapshot in err
    assert len(assert_log_rebuilds_source(src, path)) > COPY_KEYS


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_snapshot_lost_during_copy_copies_again(make_server, tmp_path, tools):
    """Killed mid-copy, and the snapshot is gone (released here; a restart of the source or its
    TTL do the same) while keys are deleted: the unfinished copy is removed and a new one made."""
    src = make_server()
    fill_for_a_long_copy(src)
    path = tmp_path / "audit.log"
    t = tools(*jsonl_args(src, path, "--snapshot", "--rotate-mb", "0.5"))
    wait_for_copy_page(path)
    t.kill9()
    s = src.client()
    snapshot = json.loads(log_lines(path, complete_only=True)[1])["snapshot"]
    assert s.execute_command("SNAPSHOT", "RELEASE", snapshot) == b"OK"
    s.delete(*["k:%d" % i for i in range(100)])
    rc, _, err = run_tool(*jsonl_args(src, path, "--once", "--snapshot", "--rotate-mb", "0.5"))
    assert rc == 0, err
    assert "no longer exists" in err and "removed the unfinished copy" in err, err
    entries = assert_log_rebuilds_source(src, path)
    assert len(entries) == COPY_KEYS - 100
