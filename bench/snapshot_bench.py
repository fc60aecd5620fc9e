"""Driver of bench/run_snapshot.sh (needs redis-py: run it with /usr/bin/python3).
  load PORT N            load N keys of mixed types (deterministic, the same on any server)
  snapshot PORT FORMAT   read everything with SNAPSHOT CREATE + SNAPSHOT READ COUNT 1000
  scan PORT              read everything with SCAN + GET/HGETALL/SMEMBERS/ZRANGE/LRANGE
Each read prints one line: `<what> keys <k> elements <e> in <s> s`; a string is one element,
a hash field, set/zset member or list item is one."""

import json
import sys
import time

import redis

BATCH = 1000
TYPES = ("string", "hash", "set", "zset", "list")


def size_of(i):
    """Elements of key i's collection: a few to a few dozen (3 … 34)."""
    return 3 + (i * 7919) % 32


def load(r, n):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        kind = TYPES[i % 5]
        key = "%s:%d" % (kind, i)
        m = size_of(i)
        if kind == "string":
            pipe.set(key, "v%015d" % i)
        elif kind == "hash":
            pipe.hset(key, mapping={"f%d" % j: "v%d" % (i + j) for j in range(m)})
        elif kind == "set":
            pipe.sadd(key, *("m%d" % j for j in range(m)))
        elif kind == "zset":
            pipe.zadd(key, {"m%d" % j: j * 1.5 for j in range(m)})
        else:
            pipe.rpush(key, *("i%d" % j for j in range(m)))
        if i % BATCH == BATCH - 1:
            pipe.execute()
    pipe.execute()


def as_map(reply):
    if isinstance(reply, dict):
        return reply
    return {reply[k]: reply[k + 1] for k in range(0, len(reply), 2)}


def count_commands(commands, tally):
    for cmd in commands:
        name = cmd[0].upper() if isinstance(cmd[0], str) else cmd[0].decode().upper()
        if name == "DEL":
            tally[0] += 1
        elif name == "SET":
            tally[1] += 1
        elif name in ("HSET", "ZADD"):
            tally[1] += (len(cmd) - 2) // 2
        elif name in ("SADD", "RPUSH"):
            tally[1] += len(cmd) - 2


def read_snapshot(r, fmt):
    snap = as_map(r.execute_command("SNAPSHOT", "CREATE"))
    sid = snap[b"id"]
    tally = [0, 0]
    cursor = b"0"
    start = time.perf_counter()
    while True:
        reply = as_map(r.execute_command("SNAPSHOT", "READ", sid, cursor, "COUNT", 1000,
                                         "FORMAT", fmt))
        for entry in reply[b"entries"]:
            if fmt == "JSON":
                count_commands(json.loads(entry)["commands"], tally)
            else:
                count_commands(as_map(entry)[b"commands"], tally)
        cursor = reply[b"cursor"]
        if cursor == b"0":
            break
    secs = time.perf_counter() - start
    r.execute_command("SNAPSHOT", "RELEASE", sid)
    return tally, secs


def read_scan(r):
    tally = [0, 0]
    cursor = 0
    start = time.perf_counter()
    while True:
        cursor, keys = r.scan(cursor, count=1000)
        pipe = r.pipeline(transaction=False)
        for k in keys:
            pipe.type(k)
        kinds = pipe.execute()
        pipe = r.pipeline(transaction=False)
        for k, kind in zip(keys, kinds):
            if kind == b"string":
                pipe.get(k)
            elif kind == b"hash":
                pipe.hgetall(k)
            elif kind == b"set":
                pipe.smembers(k)
            elif kind == b"zset":
                pipe.zrange(k, 0, -1, withscores=True)
            elif kind == b"list":
                pipe.lrange(k, 0, -1)
        for v in pipe.execute():
            tally[0] += 1
            tally[1] += 1 if isinstance(v, bytes) else len(v)
        if cursor == 0:
            break
    return tally, time.perf_counter() - start


def main():
    what, port = sys.argv[1], int(sys.argv[2])
    r = redis.Redis(port=port, socket_timeout=600)
    if what == "load":
        load(r, int(sys.argv[3]))
        return
    if what == "snapshot":
        tally, secs = read_snapshot(r, sys.argv[3])
        what = "snapshot-" + sys.argv[3]
    else:
        tally, secs = read_scan(r)
    print("%s keys %d elements %d in %.3f s" % (what, tally[0], tally[1], secs))


if __name__ == "__main__":
    main()
