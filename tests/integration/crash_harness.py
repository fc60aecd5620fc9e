"""A crash harness: writer connections, kill -9 of the server at random moments, restart,
then check that every acknowledged write is there and that the change stream (POLLUPDATES
from the oldest sequence) has no holes and no repeats.

Used by test_crash.py (a few rounds in `make test`) and by bench/crash.sh (many rounds):
    /usr/bin/python3 tests/integration/crash_harness.py --rounds 200
"""

import argparse
import random
import threading
import time

import redis

from test_cdc_helpers import poll_all

WRITERS = 4


class Writer(threading.Thread):
    """Writes until its connection breaks, remembering what was acknowledged. Each write is
    unique (writer id and counter), so the change stream can be checked for repeats too."""

    def __init__(self, server, wid, start_at):
        super().__init__(daemon=True)
        self.server = server
        self.wid = wid
        self.next = start_at
        self.acked = []  # (kind, n): acknowledged writes
        self.in_flight = None

    def one_write(self, c, n):
        w = self.wid
        kind = n % 4
        if kind == 0:
            assert c.set("w%d:s%d" % (w, n), n) is True
        elif kind == 1:
            c.rpush("w%d:list" % w, n)
        elif kind == 2:
            c.hset("w%d:hash" % w, "f%d" % n, n)
        else:
            p = c.pipeline(transaction=True)
            p.set("w%d:t%d" % (w, n), n)
            p.sadd("w%d:set" % w, n)
            p.execute()
        return kind

    def run(self):
        try:
            c = self.server.client(socket_timeout=5)
        except redis.RedisError:
            return
        try:
            while True:
                n = self.next
                self.in_flight = n
                kind = self.one_write(c, n)
                self.acked.append((kind, n))
                self.in_flight = None
                self.next += 1
        except (redis.RedisError, OSError):
            pass  # the server was killed
        finally:
            c.close()


def verify_acked(c, writers):
    """Every acknowledged write is present."""
    for wr in writers:
        w = wr.wid
        lst = set(int(x) for x in c.lrange("w%d:list" % w, 0, -1))
        hsh = c.hgetall("w%d:hash" % w)
        st = set(int(x) for x in c.smembers("w%d:set" % w))
        for kind, n in wr.acked:
            if kind == 0:
                assert c.get("w%d:s%d" % (w, n)) == str(n).encode(), (w, n)
            elif kind == 1:
                assert n in lst, ("list", w, n)
            elif kind == 2:
                assert hsh.get(b"f%d" % n) == str(n).encode(), ("hash", w, n)
            else:
                assert c.get("w%d:t%d" % (w, n)) == str(n).encode() and n in st, ("txn", w, n)


def verify_stream(c, start, writers):
    """No holes (each batch starts where the previous one ended), no repeats (no write
    appears twice), and every acknowledged write is in the stream."""
    batches = poll_all(c, start, fmt="RESP", extra=("STRICT",))  # STRICT errs on any gap
    seen = set()
    expected_next = None
    for b in batches:
        if expected_next is not None:
            assert b["sequence"] == expected_next, "hole or repeat at %d (expected %d)" % (b["sequence"], expected_next)
        expected_next = b["sequence"] + b["count"]
        for cmd in b["commands"]:
            cmd = [bytes(a) for a in cmd]
            if cmd[0].upper() in (b"SET", b"RPUSH", b"HSET", b"SADD") and cmd[1].startswith(b"w"):
                ident = tuple(cmd[:3]) if cmd[0].upper() != b"SET" else (cmd[0], cmd[1])
                assert ident not in seen, "repeated in the stream: %r" % (ident,)
                seen.add(ident)
    for wr in writers:
        w = wr.wid
        for kind, n in wr.acked:
            ident = {
                0: (b"SET", b"w%d:s%d" % (w, n)),
                1: (b"RPUSH", b"w%d:list" % w, str(n).encode()),
                2: (b"HSET", b"w%d:hash" % w, b"f%d" % n),
                3: (b"SET", b"w%d:t%d" % (w, n)),
            }[kind]
            assert ident in seen, "acknowledged but not in the stream: %r" % (ident,)
    return len(batches)


def run_rounds(server, rounds, seed=None, log=print):
    """Kills and restarts the (started) server `rounds` times; raises AssertionError on a loss."""
    rng = random.Random(seed)
    c = server.client()
    start = int(c.execute_command("SEQUENCE"))
    c.close()
    all_writers = []
    next_n = [0] * WRITERS
    for rnd in range(rounds):
        writers = [Writer(server, w, next_n[w]) for w in range(WRITERS)]
        for wr in writers:
            wr.start()
        time.sleep(rng.uniform(0.05, 0.6))
        server.kill9()
        for wr in writers:
            wr.join(10)
            assert not wr.is_alive(), "a writer hung after the kill"
            # An unacknowledged write may or may not have landed: skip its number.
            next_n[wr.wid] = wr.next + 1
        all_writers.extend(writers)
        server.start()
        c = server.client()
        try:
            verify_acked(c, all_writers)
            nbatches = verify_stream(c, start, all_writers)
        finally:
            c.close()
        acked = sum(len(w.acked) for w in writers)
        log("round %d: %d writes acknowledged, all present; %d batches, no holes or repeats" % (rnd + 1, acked, nbatches))
    return sum(len(w.acked) for w in all_writers)


def main():
    from conftest import Server  # the test helpers start the server (this file's folder is on the path)

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--appendfsync", default="everysec")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    s = Server(extra_args=["--appendfsync", args.appendfsync])
    try:
        s.start()
        total = run_rounds(s, args.rounds, args.seed)
        print("%d rounds, %d acknowledged writes, none lost" % (args.rounds, total))
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
