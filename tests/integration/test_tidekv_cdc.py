"""tidekv-cdc (CDC.md "tidekv-cdc") with its redis:// sink, as a user runs it: a real tidekv
source, a real redis-server target and the program as a subprocess. Arguments and --help; a copy
of every type; filters; resuming after kill -9 during the copy and while following; a snapshot
lost in the middle of a copy; the target and the source restarted under it; wrong passwords;
unreachable servers; a consumer dropped under it; a target that refuses writes; and a migration
under RPUSH-heavy load with the program killed again and again."""

import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis

from conftest import REPO_ROOT, _die_with_parent, free_port, soak, tidekv_only
from test_cdc_helpers import RedisServer, seq, to_dict, wait_until


def tool_binary():
    if os.environ.get("TIDEKV_CDC"):
        return os.environ["TIDEKV_CDC"]
    server = os.environ.get("TIDEKV_SERVER") or str(REPO_ROOT / "build" / "tidekv-server")
    return str(Path(server).parent / "tidekv-cdc")


TOOL = tool_binary()
POSITION = b"tidekv-cdc:mig"
DBS = (0, 1)


class Tool:
    """tidekv-cdc as a subprocess; its stderr goes to a file (read with log())."""

    def __init__(self, *args):
        self.args = [str(a) for a in args]
        fd, self.logpath = tempfile.mkstemp(prefix="tidekv-cdc-test-", suffix=".log")
        os.close(fd)
        self.proc = None

    def start(self):
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen([TOOL] + self.args, stdout=subprocess.DEVNULL, stderr=log,
                                         stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        return self

    def wait(self, timeout=60):
        return self.proc.wait(timeout)

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.kill9()
        os.unlink(self.logpath)


@pytest.fixture
def tools():
    """Starts tidekv-cdc processes; each is killed and its log removed after the test."""
    started = []

    def start(*args):
        t = Tool(*args).start()
        started.append(t)
        return t

    yield start
    for t in started:
        t.cleanup()


def run_tool(*args, timeout=120):
    """Runs tidekv-cdc to its end: (exit code, stdout, stderr)."""
    p = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, timeout=timeout,
                       preexec_fn=_die_with_parent)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def args_for(src, dst, *extra, consumer="mig"):
    return ["--source", "127.0.0.1:%d" % src.port, "--consumer", consumer,
            "--sink", "redis://127.0.0.1:%d" % dst.port, "--progress", "0"] + list(extra)


@pytest.fixture
def target():
    """A redis-server whose data survives restart() (append-only file)."""
    t = RedisServer(["--appendonly", "yes"]).start()
    yield t
    t.stop()


def read_values(c, keys):
    """(type, value, PEXPIRETIME) of each key, pipelined; values read as stream_replay.snapshot
    reads them, so that dumps of tidekv and of redis-server compare."""
    p = c.pipeline(transaction=False)
    for k in keys:
        p.type(k)
    types = p.execute()
    readers = {b"list": lambda k: p.lrange(k, 0, -1), b"hash": p.hgetall, b"set": p.smembers,
               b"zset": lambda k: p.execute_command("ZRANGE", k, 0, -1, "WITHSCORES")}
    for k, t in zip(keys, types):
        readers.get(t, p.get)(k)
        p.execute_command("PEXPIRETIME", k)
    values = p.execute()
    return [(t, values[2 * i], values[2 * i + 1]) for i, t in enumerate(types)]


def user_data(server):
    """Every key of databases 0 and 1 but tidekv-cdc's own: type, value, PEXPIRETIME."""
    out = {}
    for db in DBS:
        c = server.client(db=db)
        keys = [k for k in c.scan_iter(count=1000) if not k.startswith(b"tidekv-cdc:")]
        for i in range(0, len(keys), 1000):
            part = keys[i:i + 1000]
            out.update(((db, k), v) for k, v in zip(part, read_values(c, part)) if v[0] != b"none")
        c.close()
    return out


def assert_same_data(src, dst, keep=lambda db, key, kind: True):
    """The target holds exactly the source's keys (those `keep` selects): types and values
    equal, expiry times within a second."""
    a = {k: v for k, v in user_data(src).items() if keep(k[0], k[1], v[0])}
    b = user_data(dst)
    problems = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if x is None or y is None:
            problems.append("%r only in the %s: %r" % (k, "source" if y is None else "target", x or y))
        elif x[:2] != y[:2]:
            problems.append("%r differs: %r vs %r" % (k, x, y))
        elif (x[2] < 0) != (y[2] < 0) or abs(x[2] - y[2]) > 1000:
            problems.append("%r expiry differs: %r vs %r" % (k, x[2], y[2]))
    assert not problems, "%d differences:\n%s" % (len(problems), "\n".join(p[:300] for p in problems[:30]))
    return a


def position(dst):
    v = dst.client().get(POSITION)
    return int(v) if v is not None else None


def consumer_info(src, name="mig"):
    return to_dict(src.client().execute_command("CDC", "INFO", name))


def fill_every_type(src, n=100):
    """Every type in two databases, with and without TTLs, small and spanning many snapshot
    pages, binary names and values; and keys already dead, which must not be copied."""
    expired_before = int(src.client().info("stats")["expired_keys"])
    for db in DBS:
        c = src.client(db=db)
        p = c.pipeline(transaction=False)
        for i in range(n):
            p.set("s:%d" % i, "v%d" % i)
            p.set("sx:%d" % i, "x%d" % i, px=300000 + i)
            p.hset("h:%d" % i, mapping={"f%d" % j: j for j in range(i % 6 + 1)})
            p.rpush("l:%d" % i, *range(i % 7 + 1))
            p.sadd("st:%d" % i, *["m%d" % j for j in range(i % 5 + 1)])
            p.zadd("z:%d" % i, {"m%d" % j: j * 0.1 for j in range(i % 4 + 1)})
            if i % 3 == 0:
                p.pexpire(random.choice(["h:%d", "l:%d", "st:%d", "z:%d"]) % i, 200000 + i)
            p.set("dead:%d" % i, "gone", px=1)
        p.hset("bighash", mapping={"f%d" % j: "v" * (j % 50) for j in range(2500)})
        p.rpush("biglist", *range(4000))
        p.sadd("bigset", *range(2500))
        p.zadd("bigzset", {"m%d" % j: j / 7 for j in range(2500)})
        p.set(b"bin\xff\x00key", b"\x00\xff\xfe")
        p.setbit("bits", 1000, 1)
        p.execute()
        c.close()
    # The dead keys' time is up, and the active expiry has removed them: its DELs come before
    # whatever a test reads from the change stream next.
    c = src.client()
    deadline = time.monotonic() + 15
    while int(c.info("stats")["expired_keys"]) < expired_before + n * len(DBS) and time.monotonic() < deadline:
        time.sleep(0.05)
    c.close()


def load_strings(src, n, prefix="k"):
    c = src.client()
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (prefix, i), "value-%d" % i)
        if i % 1000 == 999:
            p.execute()
    p.execute()
    c.close()


# ---------------------------------------------------------------- arguments

def test_help_documents_every_flag():
    rc, out, err = run_tool("--help")
    assert rc == 0 and err == ""
    for flag in ["--source HOST:PORT", "--password", "--consumer NAME", "--sink URL", "--match GLOB",
                 "--type T", "--db N", "--batch N", "--once", "--progress SECONDS", "--position-key K",
                 "--retry SECONDS", "redis://", "Exit codes", "SIGTERM"]:
        assert flag in out, flag


BASE = ["--source", "127.0.0.1:1", "--consumer", "c", "--sink", "redis://127.0.0.1:2"]


def replaced(flag, value):
    out = list(BASE)
    out[out.index(flag) + 1] = value
    return out


@pytest.mark.parametrize("args,message", [
    ([], "--source is required"),
    (BASE[:2] + BASE[4:], "--consumer is required"),
    (BASE[:4], "--sink is required"),
    (replaced("--source", "localhost"), "'localhost': expected HOST:PORT"),
    (replaced("--source", "h:0"), "the port must be a number from 1 to 65535"),
    (replaced("--source", "h:99999"), "the port must be a number from 1 to 65535"),
    (replaced("--source", "::1:6666"), "write an IPv6 address in brackets"),
    (replaced("--source", "[::1"), "missing ']'"),
    (replaced("--consumer", "bad name"), "a name is 1 to 128 of"),
    (replaced("--consumer", "x" * 129), "a name is 1 to 128 of"),
    (replaced("--sink", "http://h:1"), "unknown sink"),
    (replaced("--sink", "nowhere"), "unknown sink"),
    (replaced("--sink", "redis:/h:1"), "expected redis://"),
    (replaced("--sink", "redis://secret@h:1"), "write the password as redis://:PASSWORD@HOST:PORT"),
    (replaced("--sink", "redis://:a%zzb@h:1"), "two hex digits"),
    (replaced("--sink", "redis://h:1/3"), "nothing may follow HOST:PORT"),
    (replaced("--sink", "redis://h:x"), "the port must be a number"),
    (replaced("--sink", "redis://:pw@"), "missing host name"),
    (BASE + ["--batch", "0"], "--batch '0': expected a number from 1 to 1000"),
    (BASE + ["--batch", "1001"], "--batch '1001'"),
    (BASE + ["--batch", "2.5"], "--batch '2.5'"),
    (BASE + ["--type", "nosuch"], "--type 'nosuch': expected string, hash, list, set, zset or stream"),
    (BASE + ["--db", "-1"], "--db '-1'"),
    (BASE + ["--progress", "soon"], "--progress 'soon'"),
    (BASE + ["--retry", "-3"], "--retry '-3'"),
    (BASE + ["--position-key", ""], "--position-key: the key name is empty"),
    (BASE + ["--frobnicate", "1"], "unknown option '--frobnicate'"),
    (BASE + ["extra"], "unexpected argument 'extra'"),
    (BASE + ["--match"], "--match needs a value"),
])
def test_bad_arguments_exit_2(args, message):
    rc, out, err = run_tool(*args, timeout=10)
    assert (rc, out) == (2, ""), err
    assert err.startswith("tidekv-cdc: ") and message in err, err


def test_flag_equals_value_form():
    """--flag=value is accepted (and still checked)."""
    rc, _, err = run_tool("--source=127.0.0.1:1", "--consumer=c", "--sink=redis://127.0.0.1:2", "--batch=0")
    assert rc == 2 and "--batch '0'" in err


# ---------------------------------------------------------------- unreachable, passwords

@tidekv_only
def test_unreachable_source_and_sink(make_server, target):
    start = time.monotonic()
    rc, _, err = run_tool("--source", "127.0.0.1:%d" % free_port(), "--consumer", "c", "--sink",
                          "redis://127.0.0.1:%d" % target.port)
    assert rc == 1 and "cannot connect to the source 127.0.0.1:" in err, err
    src = make_server()
    rc, _, err = run_tool("--source", "127.0.0.1:%d" % src.port, "--consumer", "c", "--sink",
                          "redis://127.0.0.1:%d" % free_port())
    assert rc == 1 and "cannot connect to the sink 127.0.0.1:" in err, err
    assert time.monotonic() - start < 20  # never reachable: no retrying
    assert src.client().execute_command("CDC", "INFO") == []  # nothing created


@tidekv_only
def test_source_not_tidekv(target):
    other = RedisServer().start()
    try:
        rc, _, err = run_tool(*args_for(other, target))
        assert rc == 1 and "is no tidekv" in err, err
    finally:
        other.stop()


@tidekv_only
def test_wrong_passwords(make_server):
    src = make_server({"requirepass": "src-secret"})
    dst = RedisServer(["--requirepass", "dst secret@:"]).start()
    try:
        src.client(password="src-secret").set("k", "v")
        sink_ok = "redis://:dst%%20secret%%40%%3A@127.0.0.1:%d" % dst.port
        common = ["--source", "127.0.0.1:%d" % src.port, "--consumer", "mig", "--once", "--progress", "0"]
        rc, _, err = run_tool(*common, "--sink", sink_ok)
        assert rc == 1 and "the source 127.0.0.1:%d requires a password (--password)" % src.port in err, err
        rc, _, err = run_tool(*common, "--password", "wrong", "--sink", sink_ok)
        assert rc == 1 and "authentication to the source 127.0.0.1:%d failed: WRONGPASS" % src.port in err, err
        common += ["--password", "src-secret"]
        rc, _, err = run_tool(*common, "--sink", "redis://127.0.0.1:%d" % dst.port)
        assert rc == 1 and "the sink 127.0.0.1:%d requires a password" % dst.port in err, err
        rc, _, err = run_tool(*common, "--sink", "redis://:wrong@127.0.0.1:%d" % dst.port)
        assert rc == 1 and "authentication to the sink 127.0.0.1:%d failed: WRONGPASS" % dst.port in err, err
        rc, _, err = run_tool(*common, "--sink", sink_ok)
        assert rc == 0, err
        authed = redis.Redis(host="127.0.0.1", port=dst.port, password="dst secret@:")
        assert authed.get("k") == b"v"
        authed.close()
    finally:
        dst.stop()


# ---------------------------------------------------------------- copying and resuming

@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_copy_every_type_then_resume(make_server, target):
    src = make_server()
    fill_every_type(src)
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    s = src.client()
    latest = seq(s)  # read before the dumps below, whose reads may find keys expired (a DEL each)
    assert position(target) == latest and consumer_info(src)["sequence"] == latest
    copied = assert_same_data(src, target)
    assert len(copied) > 1000 and not [k for k in copied if k[1].startswith(b"dead:")]
    assert target.client().exists(b"tidekv-cdc:mig:copy", b"tidekv-cdc:mig:copied") == 0
    assert s.execute_command("SNAPSHOT", "LIST") == []  # released once copied
    # changes since: the second run follows the stream from the target's position, no copy
    s.rpush("l:1", "after")
    s.lpop("biglist")
    s.delete("h:2")
    s.pexpire("s:3", 100000)
    s.hset("bighash", "f1", "changed")
    s1 = src.client(db=1)
    s1.zincrby("z:5", 2.5, "m0")
    s1.set("s:7", "new", px=50000)
    with src.conn() as c:  # a transaction over two databases: its record SELECTs
        replies = [c.call(*cmd) for cmd in (["MULTI"], ["SET", "s:8", "in-multi"], ["SELECT", 1],
                                            ["RPUSH", "l:9", "in-multi"], ["EXEC"])]
        assert replies[-1][:2] == ["OK", "OK"], replies
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    assert "copying" not in err
    assert position(target) == seq(s) == consumer_info(src)["sequence"]
    assert_same_data(src, target)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_copy_into_another_tidekv(make_server):
    src, dst = make_server(), make_server()
    fill_every_type(src, n=30)
    rc, _, err = run_tool(*args_for(src, dst, "--once"))
    assert rc == 0, err
    src.client(db=1).rpush("l:1", "more")
    rc, _, err = run_tool(*args_for(src, dst, "--once"))
    assert rc == 0, err
    assert position(dst) == seq(src.client())
    assert_same_data(src, dst)


@tidekv_only
@pytest.mark.parametrize("flags,keep", [
    (["--match", "user:*"], lambda db, key, kind: key.startswith(b"user:")),
    (["--type", "hash"], lambda db, key, kind: kind == b"hash"),
    (["--db", "1"], lambda db, key, kind: db == 1),
], ids=["match", "type", "db"])
def test_filters(make_server, target, flags, keep):
    src = make_server()
    for db in DBS:
        c = src.client(db=db)
        c.set("user:1", "a")
        c.hset("user:2", "f", "v")
        c.hset("order:1", "f", "v")
        c.rpush("order:2", "x")
    rc, _, err = run_tool(*args_for(src, target, "--once", *flags))
    assert rc == 0, err
    assert_same_data(src, target, keep)
    for db in DBS:  # the stream is filtered alike
        c = src.client(db=db)
        c.set("user:3", "b")
        c.hset("order:3", "f", "v")
        c.hset("user:2", "g", "w")
    rc, _, err = run_tool(*args_for(src, target, "--once", *flags))
    assert rc == 0, err
    assert position(target) == seq(src.client())
    kept = assert_same_data(src, target, keep)
    assert 0 < len(kept) < len(user_data(src))


def wait_for_copy_page(dst, key=b"tidekv-cdc:mig:copy"):
    """Waits until a copy has written at least one page but not finished."""
    c = dst.client()
    wait_until(lambda: c.hget(key, "cursor") not in (None, b"0"), timeout=30, interval=0.002,
               msg="a copy page")
    assert c.get(POSITION) is None


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_kill_during_copy_resumes_it(make_server, target, tools):
    src = make_server()
    load_strings(src, 60000)
    fill_every_type(src, n=20)
    t = tools(*args_for(src, target))
    wait_for_copy_page(target)
    t.kill9()
    snapshot = target.client().hget(b"tidekv-cdc:mig:copy", "snapshot").decode()
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    assert "continuing the copy of snapshot %s" % snapshot in err
    assert_same_data(src, target)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_sigterm_during_copy_ends_the_page_and_exits_0(make_server, target, tools):
    src = make_server()
    load_strings(src, 60000)
    t = tools(*args_for(src, target))
    wait_for_copy_page(target)
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait(10) == 0, t.log()
    assert "error" not in t.log()
    dst = target.client()
    cursor = dst.hget(b"tidekv-cdc:mig:copy", "cursor")
    assert cursor != b"0" and dst.get(POSITION) is None  # stopped mid-copy, at a page's end
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0 and "continuing the copy" in err, err
    assert_same_data(src, target)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_snapshot_lost_during_copy_copies_again_exactly(make_server, target, tools):
    """The program is down mid-copy while its snapshot goes (released here; a restart of the
    source or the snapshot's TTL do the same), and keys it had copied are deleted at the source:
    the next run removes what the unfinished copy wrote, copies a new snapshot, and the target
    holds exactly the source's keys."""
    src = make_server()
    load_strings(src, 60000)
    t = tools(*args_for(src, target))
    wait_for_copy_page(target)
    t.kill9()
    dst = target.client()
    copied = dst.smembers(b"tidekv-cdc:mig:copied")
    assert copied, "the copy journal is empty"
    gone = [m.split(b":", 1)[1] for m in list(copied)[:50]]
    s = src.client()
    assert s.delete(*gone) == len(gone)
    s.set("new-key", "v")
    snapshot = dst.hget(b"tidekv-cdc:mig:copy", "snapshot")
    assert s.execute_command("SNAPSHOT", "RELEASE", snapshot) == b"OK"
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 0, err
    assert position(target) == seq(s) and consumer_info(src)["sequence"] == seq(s)
    assert_same_data(src, target)
    assert dst.exists(*gone) == 0
    assert "no longer exists" in err and "keys of an unfinished copy" in err, err


# ---------------------------------------------------------------- refusing to guess

@tidekv_only
def test_target_behind_the_consumer_is_an_error(make_server, target):
    src = make_server()
    src.client().set("a", "1")
    assert run_tool(*args_for(src, target, "--once"))[0] == 0
    src.client().set("b", "2")
    assert run_tool(*args_for(src, target, "--once"))[0] == 0
    target.client().set(POSITION, position(target) - 1)  # as if restored from an older backup
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 1 and "behind consumer 'mig'" in err, err


@tidekv_only
def test_foreign_consumer_is_not_taken_over(make_server, target):
    src = make_server()
    src.client().execute_command("CDC", "CREATE", "mig")
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 1 and "consumer 'mig' already exists at the source, but the sink holds no position" in err, err
    assert target.client().dbsize() == 0


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_consumer_dropped(make_server, target, tools):
    src = make_server()
    s = src.client()
    s.set("a", "1")
    t = tools(*args_for(src, target))
    wait_until(lambda: position(target) == seq(s), msg="caught up")
    assert s.execute_command("CDC", "DROP", "mig") == 1
    assert t.wait(10) == 1
    assert "consumer 'mig' was dropped at the source while tidekv-cdc followed it" in t.log()
    # and while it was not running
    rc, _, err = run_tool(*args_for(src, target, "--once"))
    assert rc == 1 and "consumer 'mig' does not exist at the source" in err, err


@tidekv_only
@pytest.mark.parametrize("refusal", ["READONLY", "OOM"])
def test_sink_refusing_writes(make_server, refusal):
    src = make_server()
    c = src.client()
    for i in range(100):
        c.set("big:%d" % i, "x" * 100000)
    args = ["--replicaof", "127.0.0.1", str(free_port())] if refusal == "READONLY" else \
        ["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]
    dst = RedisServer(args).start()
    try:
        rc, _, err = run_tool(*args_for(src, dst, "--once"))
        assert rc == 1 and "sink: " in err and refusal in err, err
    finally:
        dst.stop()


# ---------------------------------------------------------------- running: progress, signals, restarts

@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_progress_lines_and_sigterm(make_server, target, tools):
    src = make_server()
    s = src.client()
    t = tools(*args_for(src, target)[:-2], "--progress", "0.2")
    for i in range(50):
        s.rpush("q", i)
    wait_until(lambda: position(target) == seq(s), msg="caught up")
    wait_until(lambda: "position=%d lag=0 batches/s=" % seq(s) in t.log(), msg="a progress line")
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait(5) == 0
    assert "error" not in t.log()
    assert consumer_info(src)["sequence"] == seq(s)  # acknowledged on the way out
    assert target.client().lrange("q", 0, -1) == [str(i).encode() for i in range(50)]


@tidekv_only
def test_target_and_source_restarts(make_server, target, tools):
    src = make_server()
    s = src.client()
    t = tools(*args_for(src, target))
    s.rpush("q", "before")
    wait_until(lambda: position(target) == seq(s), msg="caught up")
    target.restart()
    s.rpush("q", "during target restart")
    wait_until(lambda: position(target) == seq(s), timeout=20, msg="caught up after the target's restart")
    s.close()
    src.restart()
    s = src.client()
    s.rpush("q", "after source restart")
    wait_until(lambda: position(target) == seq(s), timeout=20, msg="caught up after the source's restart")
    assert t.proc.poll() is None
    assert "reconnecting" in t.log()
    assert_same_data(src, target)


# ---------------------------------------------------------------- migration under load

def rpush_heavy_writer(src, stop, seed):
    """Mixed writes over two databases, mostly RPUSH of items never pushed before (RPUSH is
    not idempotent: a batch applied twice shows as a duplicate), until stop is set."""
    rnd = random.Random(seed)
    clients = [src.client(db=0), src.client(db=1)]
    n = 0
    while not stop.is_set():
        c = rnd.choice(clients)
        k = rnd.randrange(40)
        op = rnd.random()
        n += 1
        try:
            if op < 0.6:
                c.rpush("q:%d" % k, *["%d.%d" % (n, j) for j in range(rnd.randint(1, 3))])
            elif op < 0.65:
                c.lpop("q:%d" % k)
            elif op < 0.72:
                c.set("s:%d" % k, n, px=rnd.choice([None, 60000]))
            elif op < 0.8:
                c.hset("h:%d" % k, "f%d" % rnd.randrange(10), n)
            elif op < 0.86:
                c.sadd("set:%d" % k, n)
            elif op < 0.92:
                c.zadd("z:%d" % k, {"m%d" % rnd.randrange(20): n})
            elif op < 0.95:
                c.incr("n:%d" % k)
            elif op < 0.97:
                c.delete("q:%d" % k)
            else:
                c.pexpire("h:%d" % k, 60000)
        except redis.ResponseError:
            pass  # a type clash: nothing written
        except redis.ConnectionError:
            time.sleep(0.05)  # the source restarting
    for c in clients:
        c.close()


def migrate_under_load(src, target, tools, kills, restart_source):
    fill_every_type(src, n=50)
    load_strings(src, 20000)
    stop = threading.Event()
    writer = threading.Thread(target=rpush_heavy_writer, args=(src, stop, kills))
    writer.start()
    rnd = random.Random(kills)
    try:
        t = tools(*args_for(src, target))
        for i in range(kills):
            time.sleep(rnd.uniform(0.2, 1.2))
            if i == kills // 2:
                target.restart()  # under the running program, which reconnects
            if restart_source and i == kills // 3:
                src.restart()
            t.kill9()
            t = tools(*args_for(src, target))
        time.sleep(1)
    finally:
        stop.set()
        writer.join()
    s = src.client()
    wait_until(lambda: position(target) == seq(s), timeout=120, msg="lag 0")
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait(10) == 0, t.log()
    assert consumer_info(src)["sequence"] == seq(s)
    data = assert_same_data(src, target)
    lists = [v[1] for v in data.values() if v[0] == b"list"]
    assert lists and all(len(items) == len(set(items)) for items in lists)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_migration_under_load(make_server, target, tools):
    migrate_under_load(make_server(), target, tools, kills=4, restart_source=False)


@tidekv_only
@soak
def test_migration_under_load_long(make_server, target, tools):
    migrate_under_load(make_server(), target, tools, kills=40, restart_source=True)
