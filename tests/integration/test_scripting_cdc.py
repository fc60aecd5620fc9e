"""What scripts leave in the change stream: one batch per script holding the effects of the
commands it ran (never the script), replayable into a real redis-server; and that a script's
writes are all durable once it has replied."""

import pytest

from conftest import tidekv_only
from test_cdc_helpers import RedisServer, commands_after, poll_all, replay, seq

pytestmark = tidekv_only


def test_script_is_one_batch_of_its_effects(r):
    r.sadd("s", "only")
    before = seq(r)
    r.eval("redis.call('SET', 'a', '1'); redis.call('INCRBYFLOAT', 'f', '1.5'); "
           "redis.call('SPOP', 's'); redis.call('GET', 'a'); return 1", 0)
    batches = commands_after(r, before)
    assert len(batches) == 1, batches
    cmds = batches[0]
    assert [c[0] for c in cmds][0] == b"SET"
    assert all(c[0] not in (b"EVAL", b"EVALSHA", b"SPOP", b"INCRBYFLOAT") for c in cmds), cmds
    assert cmds[0] == [b"SET", b"a", b"1"]
    assert [b"SET", b"f", b"1.5"] in cmds
    assert any(c[0] == b"SREM" and c[1] == b"s" for c in cmds) or [b"DEL", b"s"] in cmds, cmds


def test_failed_command_in_script_leaves_no_record(r):
    r.set("str", "abc")
    before = seq(r)
    r.eval("redis.call('SET', 'a', '1'); redis.pcall('INCR', 'str'); redis.call('SET', 'b', '2')", 0)
    assert commands_after(r, before) == [[[b"SET", b"a", b"1"], [b"SET", b"b", b"2"]]]


def test_script_that_writes_nothing_records_nothing(r):
    before = seq(r)
    assert r.eval("return redis.call('GET', 'nothing')", 0) is None
    assert commands_after(r, before) == []


def test_script_error_keeps_earlier_effects_in_stream(r):
    r.set("str", "abc")
    before = seq(r)
    with pytest.raises(Exception):
        r.eval("redis.call('SET', 'a', '1'); redis.call('INCR', 'str')", 0)
    assert commands_after(r, before) == [[[b"SET", b"a", b"1"]]]


WORKLOAD = [
    ("redis.call('SADD', 'pool', 'a', 'b', 'c', 'd', 'e'); return 1", []),
    ("local m = redis.call('SPOP', 'pool'); redis.call('RPUSH', 'popped', m); return m", []),
    ("local t = redis.call('TIME'); redis.call('SET', 'when', t[1] .. '.' .. t[2]); return 1", []),
    ("return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])", ["flt", "0.1"]),
    ("return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])", ["flt", "2.25"]),
    ("redis.call('SET', 'ttl', 'v'); return redis.call('EXPIRE', 'ttl', 1000)", []),
    ("redis.call('HSET', 'h', 'x', '1'); return redis.call('HINCRBYFLOAT', 'h', 'x', '0.5')", []),
    ("local v = redis.call('SPOP', 'pool', 2); for _, m in ipairs(v) do redis.call('SADD', 'moved', m) end "
     "return #v", []),
    ("redis.call('ZADD', 'z', math.random(100), 'm'); return redis.call('ZINCRBY', 'z', 1.5, 'm')", []),
    ("redis.call('SELECT', 2); redis.call('SET', 'in2', redis.call('TIME')[2]); return 1", []),
]


def dump_all(cl):
    """Every key of the client's db with its type and full value (TTL present or not)."""
    out = {}
    for k in cl.keys("*"):
        t = cl.type(k).decode()
        if t == "string":
            v = cl.get(k)
        elif t == "list":
            v = cl.lrange(k, 0, -1)
        elif t == "set":
            v = sorted(cl.smembers(k))
        elif t == "hash":
            v = sorted(cl.hgetall(k).items())
        elif t == "zset":
            v = cl.zrange(k, 0, -1, withscores=True)
        else:
            v = None
        out[k] = (t, v, cl.ttl(k) > 0)
    return out


def test_script_effects_replay_into_redis(server):
    cl = server.client()
    peer = RedisServer().start()
    try:
        start = seq(cl)
        for body, args in WORKLOAD:
            keys = [a for a in args if not a.replace(".", "").isdigit()]
            argv = [a for a in args if a not in keys]
            cl.eval(body, len(keys), *keys, *argv)
        updates = poll_all(cl, start)
        assert len(updates) == len(WORKLOAD)
        for u in updates:
            assert all(c[0] not in (b"EVAL", b"EVALSHA") for c in u["commands"])
        with peer.conn() as pc:
            assert replay(pc, updates) == []
        for db in (0, 2):
            ours = dump_all(server.client(db=db))
            theirs = dump_all(peer.client(db=db))
            assert ours == theirs, (db, ours, theirs)
    finally:
        cl.close()
        peer.stop()


def test_script_writes_survive_kill9(make_server):
    s = make_server()
    cl = s.client()
    assert cl.eval("for i = 1, 300 do redis.call('SET', 'k' .. i, i) end return 300", 0) == 300
    s.kill9()
    s.start()
    cl = s.client()
    assert cl.mget(["k%d" % i for i in range(1, 301)]) == [str(i).encode() for i in range(1, 301)]


@pytest.mark.soak  # long: runs under make soak
def test_script_killed_midway_leaves_nothing(make_server):
    """A script's writes are one batch written when it ends: killed before that, none remain."""
    import threading
    import time
    s = make_server()
    cl = s.client()
    cl.set("before", "1")
    body = ("for i = 1, 100 do redis.call('SET', 'mid' .. i, i) end "
            "local x = 0 for i = 1, 3000000000 do x = x + 1 end return x")
    t = threading.Thread(target=lambda: _ignore_errors(lambda: s.client(socket_timeout=30).eval(body, 0)))
    t.start()
    time.sleep(1.0)
    s.kill9()
    t.join()
    s.start()
    cl = s.client()
    assert cl.get("before") == b"1"
    assert cl.exists(*["mid%d" % i for i in range(1, 101)]) == 0


def _ignore_errors(fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 - the server is killed under it
        pass
