"""Loader of bench/run_snapshot.sh (needs redis-py: run it with /usr/bin/python3).
  load PORT N            load N keys of mixed types (deterministic, the same on any server)
The reads are bench/snapshot_read_bench.c (C), so that the client is not what is measured."""

import sys

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


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "load":
        sys.exit("usage: snapshot_bench.py load PORT N")
    load(redis.Redis(port=int(sys.argv[2]), socket_timeout=600), int(sys.argv[3]))


if __name__ == "__main__":
    main()
