"""A hostile second author's look at session 10's changes (redis-server 7 as the reference where
the behaviour is Redis's):

1. POLLUPDATES FORMAT BINARY: arguments, pipelining with the other formats, every data type,
   byte budgets, APPLYBATCH of its batches into a second server;
2. replicas following in BINARY under mixed writes, a replica killed and restarted mid-load;
3. reads inside one write group looking at the txn's newest writes first: pipelines on one key
   that write then read, compared reply for reply with a redis-server the test starts;
4. XREAD / XREADGROUP replies written in place: many keys, COUNT edges, missing and wrong-type
   keys in the middle, RESP3, a small output limit."""

import random
import threading
import time

import pytest
import redis

from conftest import IS_REDIS, RespError, encode_command, tidekv_only
from test_cdc_helpers import RedisServer, pairs, poll, seq

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def pipeline(c, commands):
    c.send(b"".join(encode_command(*cmd) for cmd in commands))
    return [c.read_reply() for _ in commands]


@pytest.fixture(scope="module")
def peer():
    """A redis-server of the test's own: the reference every pipeline's replies are compared to."""
    rs = RedisServer().start()
    yield rs
    rs.stop()


def same_replies(server, peer, commands):
    """Runs commands as one pipeline on a flushed server and on the flushed peer; asserts that
    every reply is the same, and returns them."""
    with server.conn() as ours, peer.conn() as theirs:
        assert ours.call("FLUSHALL") == theirs.call("FLUSHALL") == "OK"
        got, want = pipeline(ours, commands), pipeline(theirs, commands)
    diffs = [(i, commands[i], g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not diffs, "first differences (index, command, ours, redis):\n%s" % "\n".join(
        repr(d) for d in diffs[:8])
    return got


# ---------------------------------------------------------------- 3. reads of the newest writes

SCRIPTED = {
    "hash": [("HSET", "k", "f", "1"), ("HGET", "k", "f"), ("HDEL", "k", "f"), ("HGET", "k", "f"),
             ("HEXISTS", "k", "f"), ("HSET", "k", "f", "2", "g", "3"), ("HINCRBY", "k", "f", "5"),
             ("HGET", "k", "f"), ("HLEN", "k"), ("HDEL", "k", "f", "g"), ("EXISTS", "k"), ("HLEN", "k"),
             ("HSETNX", "k", "f", "x"), ("HSETNX", "k", "f", "y"), ("HGET", "k", "f")],
    "string": [("INCR", "k"), ("GET", "k"), ("DEL", "k"), ("GET", "k"), ("SET", "k", "7"),
               ("INCRBY", "k", "3"), ("GETDEL", "k"), ("GETDEL", "k"), ("INCR", "k"), ("APPEND", "k", "0"),
               ("GET", "k"), ("SETRANGE", "k", "5", "z"), ("GET", "k"), ("STRLEN", "k"),
               ("GETSET", "k", "9"), ("DECR", "k"), ("GET", "k"), ("SETNX", "k", "1"), ("GET", "k")],
    "stream": [("XADD", "k", "1-1", "f", "a"), ("XADD", "k", "1-2", "f", "b"), ("XLEN", "k"),
               ("XDEL", "k", "1-1"), ("XRANGE", "k", "-", "+"), ("XADD", "k", "2-0", "f", "c"),
               ("XTRIM", "k", "MAXLEN", "1"), ("XRANGE", "k", "-", "+"), ("XLEN", "k"),
               ("XDEL", "k", "2-0"), ("XLEN", "k"), ("XADD", "k", "2-0", "f", "d"),
               ("XADD", "k", "3-0", "f", "e"), ("XREVRANGE", "k", "+", "-", "COUNT", "1"),
               ("XINFO", "STREAM", "k")],
    "list": [("LPUSH", "k", "a", "b"), ("LPOP", "k"), ("RPOPLPUSH", "k", "k"), ("LRANGE", "k", "0", "-1"),
             ("LPOP", "k"), ("LPOP", "k"), ("EXISTS", "k"), ("RPUSH", "k", "x", "y", "z"),
             ("RPOPLPUSH", "k", "k"), ("LRANGE", "k", "0", "-1"), ("LMOVE", "k", "k", "LEFT", "RIGHT"),
             ("LINDEX", "k", "0"), ("LSET", "k", "0", "q"), ("LRANGE", "k", "0", "-1"), ("LLEN", "k")],
    "expiry": [("SET", "k", "v"), ("EXPIRE", "k", "100"), ("TTL", "k"), ("PERSIST", "k"), ("TTL", "k"),
               ("SET", "k", "v", "EX", "50"), ("TTL", "k"), ("SET", "k", "w", "KEEPTTL"), ("TTL", "k"),
               ("EXPIRE", "k", "0"), ("EXISTS", "k"), ("GET", "k"), ("SET", "k", "v", "PX", "1"),
               ("PERSIST", "k"), ("TTL", "k")],
    "rename": [("SET", "a", "1"), ("RENAME", "a", "b"), ("GET", "b"), ("GET", "a"), ("RENAME", "a", "b"),
               ("HSET", "a", "f", "v"), ("RENAME", "a", "b"), ("HGET", "b", "f"), ("TYPE", "b"),
               ("RENAMENX", "b", "a"), ("EXISTS", "b"), ("HGET", "a", "f"), ("RENAME", "a", "a"),
               ("HGET", "a", "f")],
    "multi": [("SET", "k", "1"), ("MULTI",), ("INCR", "k"), ("GET", "k"), ("DEL", "k"), ("GET", "k"),
              ("EXEC",), ("GET", "k"), ("MULTI",), ("HSET", "k", "f", "v"), ("INCR", "k"), ("HGET", "k", "f"),
              ("EXEC",), ("TYPE", "k")],
    "wrongtype": [("SET", "k", "1"), ("HSET", "k", "f", "v"), ("INCR", "k"), ("LPUSH", "k", "x"),
                  ("GET", "k"), ("DEL", "k"), ("LPUSH", "k", "x"), ("INCR", "k"), ("LPOP", "k"),
                  ("XADD", "k", "1-0", "f", "v"), ("GET", "k"), ("XADD", "k", "1-0", "f", "v"),
                  ("XLEN", "k"), ("SADD", "k", "m"), ("XRANGE", "k", "-", "+")],
    "select": [("SET", "k", "db0"), ("SELECT", "1"), ("GET", "k"), ("SET", "k", "db1"), ("SELECT", "0"),
               ("GET", "k"), ("DEL", "k"), ("SELECT", "1"), ("GET", "k"), ("INCR", "k"), ("SELECT", "0"),
               ("INCR", "k"), ("GET", "k"), ("SELECT", "1"), ("GET", "k"), ("SELECT", "0")],
}


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_one_key_pipeline_answers_as_redis(server, peer, name):
    same_replies(server, peer, SCRIPTED[name])


class Generator:
    """Random commands on two keys (and a third now and then) that write and read back, each
    answered the same by any Redis: explicit stream ids, no order-free replies."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.stream_ms = 0

    def key(self):
        return self.rnd.choice(["a", "a", "a", "b", "b", "c"])

    def val(self):
        return self.rnd.choice(["1", "2", "-3", "x", "", "10"])

    def command(self):
        r, k, v = self.rnd, self.key(), self.val()
        self.stream_ms += 1
        choices = [
            ("SET", k, v), ("GET", k), ("INCR", k), ("DEL", k), ("GETDEL", k), ("APPEND", k, v),
            ("STRLEN", k), ("SETRANGE", k, str(r.randint(0, 3)), v),
            ("HSET", k, r.choice("fg"), v), ("HDEL", k, r.choice("fg")), ("HGET", k, r.choice("fg")),
            ("HLEN", k), ("HINCRBY", k, "f", "2"),
            ("LPUSH", k, v), ("RPUSH", k, v, v), ("LPOP", k), ("RPOP", k), ("LLEN", k),
            ("RPOPLPUSH", k, self.key()), ("LRANGE", k, "0", "-1"), ("LINDEX", k, "-1"),
            ("XADD", k, "%d-0" % self.stream_ms, "f", v), ("XDEL", k, "%d-0" % r.randint(1, self.stream_ms)),
            ("XTRIM", k, "MAXLEN", str(r.randint(0, 2))), ("XRANGE", k, "-", "+"), ("XLEN", k),
            ("SADD", k, v), ("SREM", k, v), ("SCARD", k), ("SISMEMBER", k, v),
            ("ZADD", k, str(r.randint(0, 5)), v), ("ZSCORE", k, v), ("ZCARD", k), ("ZINCRBY", k, "1", v),
            ("EXPIRE", k, "100"), ("TTL", k), ("PERSIST", k), ("TYPE", k), ("EXISTS", k, self.key()),
            ("RENAME", k, self.key()), ("RENAMENX", k, self.key()), ("DBSIZE",), ("DEL", k, self.key()),
            # more writes than the four a read looks through first
            ("HSET", k, "f", v, "g", v, "h", v, "i", v, "j", v), ("HMGET", k, "f", "g", "j"),
            ("RPUSH", k, "1", "2", "3", "4", "5", "6"), ("SADD", k, "1", "2", "3", "4", "5", "6"),
        ]
        return r.choice(choices)

    def pipeline(self, n):
        out = []
        while len(out) < n:
            roll = self.rnd.random()
            if roll < 0.05:
                out += [("MULTI",)] + [self.command() for _ in range(self.rnd.randint(0, 4))] + [("EXEC",)]
            elif roll < 0.08:
                out += [("SELECT", "1"), self.command(), self.command(), ("SELECT", "0")]
            else:
                out.append(self.command())
        return out


@pytest.mark.parametrize("seed", range(12))
def test_random_pipelines_answer_as_redis(server, peer, seed):
    gen = Generator(random.Random(seed))
    for _ in range(4):
        same_replies(server, peer, gen.pipeline(120) + [("TYPE", "a"), ("TYPE", "b"), ("TYPE", "c")])
