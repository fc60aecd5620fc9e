"""Storage read errors (DEBUG READ-ERROR-AFTER, a test-only fault injection): a command whose
read fails answers the storage error alone, leaves none of its writes and no change record
behind, and the commands after it work. Each test fails the 1st, 2nd, 3rd ... read of the
command in turn, until the command has fewer reads than that and succeeds."""

import pytest
import redis

from conftest import encode_command, tidekv_only
from helpers import started_server
from test_cdc_helpers import poll_all, seq

pytestmark = tidekv_only

STORAGE_ERROR = "storage error, see the server log"
MAX_READS = 80


@pytest.fixture(scope="module")
def fserver():
    yield from started_server(["--debug-fault-injection", "yes"])


@pytest.fixture
def fr(fserver):
    c = fserver.client(decode_responses=False)
    c.flushall()
    yield c
    c.execute_command("DEBUG", "READ-ERROR-AFTER", 0)
    c.close()


def state(r):
    """Every key's type and content, read with no fault pending."""
    out = {}
    for k in r.scan_iter(count=1000):
        t = r.type(k)
        if t == b"string":
            out[k] = (t, r.get(k))
        elif t == b"hash":
            out[k] = (t, r.hgetall(k))
        elif t == b"list":
            out[k] = (t, r.lrange(k, 0, -1))
        elif t == b"set":
            out[k] = (t, sorted(r.smembers(k)))
        elif t == b"zset":
            out[k] = (t, r.zrange(k, 0, -1, withscores=True))
    return out


def written_commands(r, base):
    return [c for u in poll_all(r, base, "RESP") for c in u["commands"]]


def fail_each_read(r, *command):
    """Runs command with its n-th read failing, n = 1, 2, ...: each failure must be the storage
    error alone with nothing written; returns (reads that failed it, its reply once it ran)."""
    failed = []
    for n in range(1, MAX_READS):
        before, base = state(r), seq(r)
        r.execute_command("DEBUG", "READ-ERROR-AFTER", n)
        try:
            reply = r.execute_command(*command)
        except redis.ResponseError as e:
            assert str(e) == STORAGE_ERROR, (n, str(e))
            r.execute_command("DEBUG", "READ-ERROR-AFTER", 0)
            assert state(r) == before, n
            assert seq(r) == base and written_commands(r, base) == [], n
            failed.append(n)
            continue
        r.execute_command("DEBUG", "READ-ERROR-AFTER", 0)
        return failed, reply
    raise AssertionError("%r never succeeded" % (command,))


def test_debug_is_refused_without_the_option(r):
    with pytest.raises(redis.ResponseError, match="for tests only"):
        r.execute_command("DEBUG", "READ-ERROR-AFTER", 1)


def fill(r):
    r.hset("h", mapping={"f%02d" % i: "v%d" % i for i in range(8)})
    r.sadd("s", *["m%02d" % i for i in range(8)])
    r.rpush("l", *["i%d" % i for i in range(8)])
    r.zadd("z", {"z%02d" % i: i for i in range(8)})
    for i in range(5):
        r.set("k%d" % i, i)


@pytest.mark.parametrize("command", [
    ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HMGET", "h", "f01", "f05"),
    ("SMEMBERS", "s"), ("SISMEMBER", "s", "m03"), ("SMISMEMBER", "s", "m01", "zz"), ("SINTER", "s", "s"),
    ("LRANGE", "l", 0, -1), ("ZRANGE", "z", 0, -1, "WITHSCORES"), ("ZRANGEBYSCORE", "z", 2, 6),
    ("ZRANK", "z", "z06"), ("ZCOUNT", "z", "-inf", "+inf"), ("SCAN", 0, "COUNT", 100), ("KEYS", "*"),
    ("HSCAN", "h", 0), ("SRANDMEMBER", "s", -20), ("SORT", "l", "ALPHA"),  # (DBSIZE reads no storage)
])
def test_reads(fr, command):
    fill(fr)
    expected = fr.execute_command(*command)
    failed, reply = fail_each_read(fr, *command)
    if command[0] == "SRANDMEMBER":  # random picks: 20 of the members
        assert len(reply) == 20 and set(reply) <= fr.smembers("s")
    else:
        assert reply == expected
    assert failed and failed == list(range(1, len(failed) + 1))
    if command[0] in ("HGETALL", "SMEMBERS", "LRANGE", "ZRANGE", "SCAN", "KEYS"):
        assert len(failed) >= 4, failed  # the walk failed midway too, not only at its start


@pytest.mark.parametrize("command", [
    ("HSET", "h", "f03", "new", "added", "1", "f06", "new"),
    ("SADD", "s", "m01", "new1", "m05", "new2"),
    ("SREM", "s", "m01", "m05", "none"),
    ("RPUSH", "l", "a", "b"),
    ("LINSERT", "l", "BEFORE", "i6", "x"),
    ("LINSERT", "l", "AFTER", "i1", "x"),
    ("LREM", "l", 0, "i3"),
    ("ZADD", "z", 1.5, "new", 3.5, "z01", 9, "z07", 10, "other"),
    ("ZREM", "z", "z01", "z05"),
    ("ZPOPMIN", "z", 3),
    ("ZREMRANGEBYRANK", "z", 1, 3),
    ("SUNIONSTORE", "dst", "s", "s"),
    ("ZUNIONSTORE", "dst", 1, "z"),
    ("HDEL", "h", "f01", "f02"),
    ("COPY", "h", "hcopy"),
])
def test_writes_are_all_or_nothing(fr, command):
    fill(fr)
    failed, _ = fail_each_read(fr, *command)
    assert failed
    # It ran once, as one change record of its own, and later commands work.
    assert fr.ping() and fr.set("after", "1") and fr.get("after") == b"1"


def test_zadd_failing_midway_keeps_nothing(fr):
    """ZADD reads each member's score before it writes it: a failure midway rolls the whole command back."""
    fill(fr)
    pairs = []
    for i in range(20):
        pairs += [i + 0.5, "n%02d" % i]
    failed, reply = fail_each_read(fr, "ZADD", "z", *pairs)
    assert reply == 20 and len(failed) > 20  # failures inside the writing loop too
    assert fr.zcard("z") == 28


def assert_only_successes_stand(fr, base, ok, n):
    """After commands of which only `ok` succeeded: the change records since base are theirs, in
    order, and their writes are all there (running them again on a fresh fill gives the same)."""
    assert [[a.decode() for a in cmd[:2]] for cmd in written_commands(fr, base)] == [list(w[:2]) for w in ok], n
    got = state(fr)
    fr.flushall()
    fill(fr)
    for w in ok:
        fr.execute_command(*w)
    assert state(fr) == got, n


def test_pipeline_keeps_the_other_commands(fserver, fr):
    fill(fr)
    writes = [("SET", "p1", "1"), ("HSET", "h", "f01", "x", "g", "y"), ("RPUSH", "l", "a"),
              ("SADD", "s", "new", "m01"), ("MSET", "q1", "1", "q2", "2"), ("ZADD", "z", 5, "n", 6, "z01")]
    for n in range(1, MAX_READS):
        fr.flushall()
        fill(fr)
        base = seq(fr)
        with fserver.conn() as c:
            c.send(encode_command("DEBUG", "READ-ERROR-AFTER", n)
                   + b"".join(encode_command(*w) for w in writes) + encode_command("PING"))
            assert c.read_reply() == "OK"
            replies = [c.read_reply() for _ in writes]
            assert c.read_reply() == "PONG"
            c.call("DEBUG", "READ-ERROR-AFTER", 0)
        ok = [w for w, rep in zip(writes, replies) if not (isinstance(rep, str) and rep.startswith("ERR"))]
        for w, rep in zip(writes, replies):
            if w not in ok:
                assert rep == "ERR " + STORAGE_ERROR, (n, w, rep)
        assert_only_successes_stand(fr, base, ok, n)
        if len(ok) == len(writes):
            return
    raise AssertionError("the pipeline never succeeded")


def test_multi_exec_drops_only_the_failed_command(fr):
    fill(fr)
    writes = [("SET", "x", "1"), ("HSET", "h", "f01", "x", "g", "y"), ("SADD", "s", "new"),
              ("LINSERT", "l", "BEFORE", "i5", "x"), ("SET", "y", "2")]
    for n in range(1, MAX_READS):
        fr.flushall()
        fill(fr)
        base = seq(fr)
        fr.execute_command("DEBUG", "READ-ERROR-AFTER", n)
        p = fr.pipeline(transaction=True)
        for w in writes:
            p.execute_command(*w)
        replies = p.execute(raise_on_error=False)
        fr.execute_command("DEBUG", "READ-ERROR-AFTER", 0)
        ok = [w for w, rep in zip(writes, replies) if not isinstance(rep, redis.ResponseError)]
        for w, rep in zip(writes, replies):
            if w not in ok:
                assert str(rep) == STORAGE_ERROR, (n, w, rep)
        assert_only_successes_stand(fr, base, ok, n)
        if len(ok) == len(writes):
            return
    raise AssertionError("the transaction never succeeded")
