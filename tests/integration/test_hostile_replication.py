"""Hostile tests for replication: a proxy that cuts, stalls or mangles the link, kills of either
side, chained replicas, careless REPLICAOF calls and wrong credentials.

A replica follows its master by sequence number; full sync does not exist yet, so every test
starts its replicas before (or with) the master's first write. What is not about sequence
numbers also runs against redis-server (TIDEKV_TEST_TARGET=redis).
"""
import random
import re
import struct
import select
import socket
import threading
import time

import pytest
import redis

from conftest import IS_REDIS, free_port, soak, tidekv_only
from helpers import LoopbackServer, wait_until
from test_replication import info_repl, wait_synced

pytestmark = pytest.mark.soak  # the whole file runs under make soak (about 30 s)


class Proxy(LoopbackServer):
    """A TCP proxy on 127.0.0.1 between a replica and its master. The master's bytes pass
    through `mangle(conn_no, offset, chunk)` -> chunk to forward, or None to cut the link."""

    def __init__(self, target_port, mangle=None):
        self.target_port = target_port
        self.mangle = mangle
        self.stalled = threading.Event()
        self.upstream = []
        super().__init__()

    def handle(self, down, conn_no):
        try:
            up = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            down.close()
            return
        self.upstream.append(up)
        self.pump(down, up, conn_no)

    def pump(self, down, up, conn_no):
        offset = 0
        try:
            while not self.stop.is_set():
                if self.stalled.is_set():
                    time.sleep(0.02)
                    continue
                ready, _, _ = select.select([down, up], [], [], 0.1)
                for s in ready:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    if s is up:
                        if self.mangle:
                            chunk = self.mangle(conn_no, offset, chunk)
                            if chunk is None:
                                return
                        offset += len(chunk)
                        down.sendall(chunk)
                    else:
                        up.sendall(chunk)
        except OSError:
            pass
        finally:
            down.close()
            up.close()

    def cut_all(self):
        super().cut_all()
        for up in list(self.upstream):
            try:
                up.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def proxies():
    made = []

    def factory(port, mangle=None):
        p = Proxy(port, mangle)
        made.append(p)
        return p

    yield factory
    for p in made:
        p.close()


# mixed_writes' short expiries (PX 50, PEXPIRE under 80 ms, SETEX 1 s) are all over this long
# after its last write; its long ones (PX 100000) outlast any test.
SHORT_EXPIRIES_S = 1.0

CODE = "#!lua name=hlib\nredis.register_function('hset2', function(k, a) return redis.call('SET', k[1], a[1]) end)"


def mixed_writes(c, rnd, rounds, big=0):
    """Writes of every kind: types, expiries, scripts, functions, MULTI/EXEC, SPOP, INCRBYFLOAT,
    FLUSHDB now and then, and `big` values of 2 MB."""
    for i in range(rounds):
        k = rnd.randrange(40)
        op = rnd.randrange(14)
        if op == 0:
            c.set("s%d" % k, "v%d" % i, px=rnd.choice([None, 50, 100000]))
        elif op == 1:
            c.hset("h%d" % (k % 5), mapping={"f%d" % i: i, "g": "x" * rnd.randrange(300)})
        elif op == 2:
            c.rpush("l%d" % (k % 5), *range(rnd.randrange(1, 20)))
            c.lpop("l%d" % (k % 5))
        elif op == 3:
            c.sadd("set%d" % (k % 4), *range(rnd.randrange(1, 30)))
            c.spop("set%d" % (k % 4), 3)
        elif op == 4:
            c.zadd("z%d" % (k % 4), {"m%d" % i: rnd.random()})
        elif op == 5:
            c.incrbyfloat("float", 0.1)
        elif op == 6:
            c.eval("redis.call('INCR', KEYS[1]) redis.call('SPOP', KEYS[2])", 2, "n", "set0")
        elif op == 7:
            p = c.pipeline(transaction=True)
            p.incr("tx")
            p.hincrby("h0", "tx", 1)
            p.pexpire("s%d" % k, rnd.randrange(1, 80))
            p.execute()
        elif op == 8 and i % 7 == 0:
            c.function_load(CODE, replace=True)
            c.fcall("hset2", 1, "fk", i)
        elif op == 9 and rnd.random() < 0.05:
            c.flushdb()
        elif op == 10 and big > 0:
            big -= 1
            c.set("big%d" % (big % 2), bytes([65 + big]) * (2 << 20))
        elif op == 11:
            c.delete("s%d" % k, "h%d" % (k % 5))
        elif op == 12:
            c.setex("ex%d" % k, 1, i)
        else:
            c.getdel("s%d" % k)


def ttl_state(pttl):
    return {-1: "no ttl", -2: "expired while read"}.get(pttl, "ttl")


def dataset(s):
    """Every key of db 0 with its type, value and TTL state (a key that expired before its TYPE
    is left out)."""
    c = s.client()
    out = {}
    for key in c.scan_iter(count=1000):
        t = c.type(key).decode()
        read = {"string": c.get, "hash": c.hgetall, "list": lambda k: c.lrange(k, 0, -1), "set": c.smembers,
                "zset": lambda k: c.zrange(k, 0, -1, withscores=True)}.get(t)
        if read:
            out[key] = (t, read(key), ttl_state(c.pttl(key)))
    return out


def assert_same(master, *replicas, timeout=15, context=""):
    """Each replica holds exactly the master's keys, values, TTL states and DBSIZE. Compared
    once mixed_writes' short expiries are over: a key that expires while the two sides are read
    (between a TYPE and a PTTL, or between the two DBSIZEs) would look like a difference."""
    time.sleep(SHORT_EXPIRIES_S + 0.1)
    for r in replicas:
        try:
            wait_synced(master, r, timeout)
        except AssertionError as e:
            raise AssertionError("%s; %s" % (e, context)) from None
    want = dataset(master)
    for r in replicas:
        got = dataset(r)
        diff = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
        assert not diff, "%d keys differ, as (master, replica) at SEQUENCE %d: %r; %s" % (
            len(diff), master.client().execute_command("SEQUENCE"), dict(list(diff.items())[:10]), context)
        sizes = (master.client().dbsize(), r.client().dbsize())
        assert sizes[0] == sizes[1], "DBSIZE master %d, replica %d; %s" % (*sizes, context)


def raw_updates(s):
    c, seq, out = s.client(), 0, []
    while True:
        reply = c.execute_command("POLLUPDATES", seq, "MAX", 1000, "FORMAT", "RAW")
        reply = dict(zip(reply[::2], reply[1::2]))
        out += reply[b"updates"]
        if reply[b"next_sequence"] == seq:
            return out
        seq = reply[b"next_sequence"]


def answers(port):
    try:
        return redis.Redis(port=port, socket_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        return False


def batch_header(update):
    """(first sequence, count) of a RAW update (hex)."""
    return struct.unpack("<QI", bytes.fromhex(update[:24].decode()))


def history_through(s, end):
    """The raw batches that hold the sequences up to end."""
    c, seq, kept = s.client(), 0, []
    while seq < end:
        reply = c.execute_command("POLLUPDATES", seq, "MAX", 1000, "FORMAT", "RAW")
        updates = dict(zip(reply[::2], reply[1::2]))[b"updates"]
        if not updates:
            break
        for u in updates:
            first, count = batch_header(u)
            if first <= end:
                kept.append(u)
            seq = first + count - 1
    return kept


def first_difference(want, got):
    """Where the replica's history parts from the master's."""
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return "batch %d: (first sequence, count) %r on the master, %r on the replica; master %s…, replica %s…" % (
                i, batch_header(a), batch_header(b), a[:160], b[:160])
    return "the master has %d batches, the replica %d" % (len(want), len(got))


def assert_same_history(master, *replicas, context=""):
    """Up to one sequence of the master (its active expiry may add DELs meanwhile), every
    replica holds the very same batches."""
    end = master.client().execute_command("SEQUENCE")
    want = history_through(master, end)
    for r in replicas:
        # The master's active expiry may have written a DEL just before `end`: it may take the
        # replica a moment to apply it.
        caught_up = wait_until(lambda: r.client().execute_command("SEQUENCE") >= end, timeout=15)
        assert caught_up, "replica at SEQUENCE %d, master at %d; %s" % (r.client().execute_command("SEQUENCE"), end, context)
        got = history_through(r, end)
        assert got == want, "histories differ at %s; %s" % (first_difference(want, got), context)


# ---- a mangled link ----

def link_cut_at_random_points(make_server, proxies, n_cuts, seconds):
    """The first n_cuts links are cut (or end with a truncated reply) at a random byte, while the
    master takes mixed writes; then the replica must hold exactly the master's data."""
    rnd = random.Random(n_cuts)
    master = make_server()
    cuts = {}

    def cut_somewhere(conn_no, offset, chunk):
        at = cuts.setdefault(conn_no, rnd.randrange(1, 3000) if conn_no <= n_cuts else 1 << 60)
        if offset + len(chunk) > at:
            return None if rnd.random() < 0.5 else chunk[:max(0, at - offset)] or None
        return chunk

    proxy = proxies(master.port, cut_somewhere)
    # A reply cut short with the link left open (the handshake's, or one that nothing follows)
    # is only noticed at repl-timeout: a short one lets every such cut heal within the test.
    replica = make_server({"replicaof": ["127.0.0.1", proxy.port], "repl-timeout": 3})
    c = master.client()
    c.set("big", b"B" * (3 << 20))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        mixed_writes(c, rnd, 40, big=int(rnd.random() < 0.05))
    assert_same(master, replica, timeout=90)
    if not IS_REDIS:
        assert proxy.connections > n_cuts  # every cut link came back
        assert_same_history(master, replica)
        assert master.client().info("stats")["sync_full"] == 0


def test_a_link_cut_at_random_points_under_mixed_load(make_server, proxies):
    link_cut_at_random_points(make_server, proxies, 1, 0.4)


@soak
def test_a_link_cut_many_times_under_mixed_load(make_server, proxies):
    link_cut_at_random_points(make_server, proxies, 15, 10.0)


@tidekv_only
def test_a_duplicated_byte_never_reaches_the_data(make_server, proxies):
    master = make_server()
    state = {"done": False}

    def duplicate_in_value(conn_no, offset, chunk):
        i = chunk.find(b"ABCDEFGH")  # the value below, as FORMAT BINARY carries it
        if i < 0 or state["done"]:
            return chunk
        state["done"] = True
        return chunk[:i + 3] + chunk[i + 2:i + 3] + chunk[i + 3:]

    proxy = proxies(master.port, duplicate_in_value)
    replica = make_server({"replicaof": ["127.0.0.1", proxy.port]})
    wait_synced(master, replica)
    master.client().set("k", "ABCDEFGH" * 4)
    master.client().set("after", 1)
    wait_synced(master, replica)
    assert state["done"]
    assert replica.client().get("k") == b"ABCDEFGH" * 4


def test_a_stalled_link_goes_down_after_repl_timeout_set_at_runtime(make_server, proxies):
    master = make_server()
    proxy = proxies(master.port)
    replica = make_server({"replicaof": ["127.0.0.1", proxy.port]})
    master.client().set("a", 1)
    wait_synced(master, replica)
    replica.client().config_set("repl-timeout", 1)
    proxy.stalled.set()
    assert wait_until(lambda: info_repl(replica)["master_link_status"] == "down", timeout=4)
    proxy.stalled.clear()
    proxy.cut_all()
    master.client().set("b", 2)
    wait_synced(master, replica)
    assert replica.client().get("b") == b"2"


@tidekv_only  # redis-server's link flaps too: its master pings every repl-ping-replica-period (10 s)
def test_a_small_repl_timeout_keeps_an_idle_link_up(make_server):
    master = make_server()
    replica = make_server({"replicaof": ["127.0.0.1", master.port], "repl-timeout": 1})
    master.client().set("a", 1)
    wait_synced(master, replica)
    before = master.client().info("stats")["sync_partial_ok"]
    downs = 0
    for _ in range(25):
        downs += info_repl(replica)["master_link_status"] != "up"
        time.sleep(0.1)
    assert downs == 0 and master.client().info("stats")["sync_partial_ok"] == before


# ---- kills ----

def recovered_sequence(s):
    """The latest sequence the server found in its WAL at its last start (its log says)."""
    return int(re.findall(r"database opened in .*, latest sequence (\d+)", s.log())[-1])


def kill9_at_random_moments(make_server, kill_seed, load_seed):
    """Three kills -9 of a side the kill seed picks, at moments it picks, under mixed writes.
    A kill -9 loses nothing RocksDB has written, whatever appendfsync is: each commit hands its
    WAL record to the OS (only the OS's crash loses what is not synced yet). So every sequence
    a side had before its kill is there after it, every write the master acknowledged stays,
    and the replica ends with the master's data and history, byte for byte."""
    rnd = random.Random(kill_seed)
    master = make_server()
    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    names = {master: "master", replica: "replica"}
    stop = threading.Event()
    acked = []  # the numbers the master acknowledged pushing onto "acked" in db 1
    began, events = time.monotonic(), []

    def note(what):
        events.append("%.2fs: %s" % (time.monotonic() - began, what))

    def story():
        return "seeds: kills %d, load %d; %s" % (kill_seed, load_seed, "; ".join(events))

    def load():
        lr = random.Random(load_seed)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                mixed_writes(master.client(socket_timeout=2), lr, 20)
                master.client(db=1, socket_timeout=2).rpush("acked", n)  # db 1: out of FLUSHDB's reach
                acked.append(n)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                time.sleep(0.05)

    t = threading.Thread(target=load)
    t.start()
    try:
        for _ in range(3):
            time.sleep(rnd.uniform(0.05, 0.3))
            victim = rnd.choice([master, replica])
            had = victim.client().execute_command("SEQUENCE")
            victim.kill9()
            down = rnd.uniform(0, 0.2)
            note("kill -9 of the %s at SEQUENCE %d or later, down %.3fs, %d writes acknowledged"
                 % (names[victim], had, down, len(acked)))
            time.sleep(down)
            victim.start()
            note("%s back with SEQUENCE %d" % (names[victim], recovered_sequence(victim)))
            assert recovered_sequence(victim) >= had, "the %s lost sequences in its kill -9; %s" % (names[victim], story())
    finally:
        stop.set()
        t.join()
    note("load stopped, %d writes acknowledged" % len(acked))
    assert_same(master, replica, context=story())
    assert_same_history(master, replica, context=story())
    for s in (master, replica):
        kept = {int(n) for n in s.client(db=1).lrange("acked", 0, -1)}
        lost = sorted(set(acked) - kept)
        assert acked and not lost, "the %s lost acknowledged writes %r; %s" % (names[s], lost[:20], story())


@tidekv_only
def test_kill9_of_master_and_replica_at_random_moments(make_server):
    kill9_at_random_moments(make_server, kill_seed=3, load_seed=5)  # the master twice, then the replica


@tidekv_only
def test_chained_replicas_with_the_middle_killed(make_server):
    master = make_server()
    middle = make_server({"replicaof": ["127.0.0.1", master.port]})
    leaf = make_server({"replicaof": ["127.0.0.1", middle.port]})
    rnd = random.Random(11)
    c = master.client()
    mixed_writes(c, rnd, 200)
    middle.kill9()
    mixed_writes(c, rnd, 200)
    middle.start()
    mixed_writes(c, rnd, 100)
    assert_same(master, middle)
    assert_same(middle, leaf)
    assert_same_history(master, middle, leaf)
    assert info_repl(leaf)["master_replid"] == info_repl(master)["master_replid"]


# ---- careless REPLICAOF ----

def repl_calls(s, ports, clients, per_client, errors):
    def switch(k):
        c = s.client(socket_timeout=3)
        for j in range(per_client):
            try:
                c.execute_command("REPLICAOF", "127.0.0.1", ports[(j + k) % len(ports)])
            except redis.exceptions.RedisError as e:
                errors.append(repr(e))
                return

    threads = [threading.Thread(target=switch, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_replicaof_from_several_clients_at_once(make_server):
    master = make_server()
    s = make_server()
    errors = []
    try:
        repl_calls(s, [master.port, free_port()], 2, 20, errors)
        assert errors == []
        assert s.client(socket_timeout=3).ping()
        s.client(socket_timeout=3).execute_command("REPLICAOF", "NO", "ONE")
        assert s.client(socket_timeout=3).set("own", 1)
    finally:
        s.kill9()  # a hung server would make the fixture wait for SIGTERM


def test_replicaof_itself_is_not_reported_as_connected(make_server):
    s = make_server()
    s.client().set("a", 1)
    c = s.client()
    c.execute_command("REPLICAOF", "127.0.0.1", s.port)
    time.sleep(1.5)
    assert info_repl(s)["master_link_status"] == "down"
    assert c.get("a") == b"1"


@tidekv_only
def test_replicaof_a_redis_server_or_a_garbage_port_keeps_the_data(make_server, tmp_path):
    import subprocess
    port = free_port()
    rs = subprocess.Popen(["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    garbage = socket.socket()
    garbage.bind(("127.0.0.1", 0))
    garbage.listen(4)

    def spew():
        garbage.settimeout(0.1)
        while True:
            try:
                conn, _ = garbage.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad\r\n\r\n*3\r\n$99999999999\r\n" + bytes(range(256)))
            conn.close()

    threading.Thread(target=spew, daemon=True).start()
    try:
        wait_until(lambda: answers(port), timeout=5)
        redis.Redis(port=port).set("theirs", 1)
        s = make_server()
        c = s.client()
        c.set("mine", "kept")
        seq = c.execute_command("SEQUENCE")
        for target in (port, garbage.getsockname()[1]):
            c.execute_command("REPLICAOF", "127.0.0.1", target)
            time.sleep(1.2)
            assert info_repl(s)["master_link_status"] == "down"
            assert c.get("mine") == b"kept" and c.get("theirs") is None
            assert c.execute_command("SEQUENCE") == seq and c.dbsize() == 1
        assert redis.Redis(port=port).get("theirs") == b"1"  # nor does it harm the other server
    finally:
        rs.terminate()
        rs.wait()
        garbage.close()


@tidekv_only
def test_replicaof_no_one_under_heavy_load_then_writes(make_server):
    master = make_server()
    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    stop = threading.Event()

    def load():
        lr = random.Random(9)
        c = master.client()
        while not stop.is_set():
            mixed_writes(c, lr, 10)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        r = replica.client()
        assert r.execute_command("REPLICAOF", "NO", "ONE") in (b"OK", True)
        promoted_at = r.execute_command("SEQUENCE")
        r.set("own", 1)
        assert r.execute_command("SEQUENCE") == promoted_at + 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    # What the promoted replica holds up to its promotion is the master's history, byte for byte.
    m, p = raw_updates(master), raw_updates(replica)
    assert len(p) > 10 and p[:-1] == m[:len(p) - 1]
    assert info_repl(replica)["second_repl_offset"] == promoted_at + 1


# ---- expiry on a replica ----

def test_a_replica_reports_expired_keys_missing_but_never_deletes_them(make_server):
    master = make_server()
    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    c = master.client()
    c.set("s", "v", px=300)
    c.hset("h", "f", "v")
    c.pexpire("h", 300)
    c.rpush("l", 1, 2)
    c.pexpire("l", 300)
    c.set("keep", 1)
    wait_synced(master, replica)
    master.kill9()  # no DEL will come
    time.sleep(0.5)
    r = replica.client()
    seq = None if IS_REDIS else r.execute_command("SEQUENCE")
    assert r.get("s") is None and r.exists("s", "h", "l") == 0 and r.ttl("s") == -2
    assert r.hgetall("h") == {} and r.lrange("l", 0, -1) == [] and r.type("h") == b"none"
    assert r.eval("return redis.call('GET', 's')", 0) is None
    assert sorted(r.keys("*")) == [b"keep"]
    if not IS_REDIS:
        assert r.execute_command("SEQUENCE") == seq  # nothing deleted locally
    master.start()
    wait_until(lambda: master.client().dbsize() == 1, timeout=5)  # the master's expiry deletes them ...
    wait_synced(master, replica)
    assert sorted(r.keys("*")) == [b"keep"]  # ... and the DELs reach the replica


# ---- WAIT, credentials, INFO ----

def test_wait_while_replicas_die(make_server):
    master = make_server()
    replicas = [make_server({"replicaof": ["127.0.0.1", master.port]}) for _ in range(2)]
    c = master.client()
    c.set("k", 1)
    for r in replicas:
        wait_synced(master, r)
    assert c.execute_command("WAIT", 2, 2000) == 2
    replicas[0].kill9()
    c.set("k", 2)
    started = time.monotonic()
    assert c.execute_command("WAIT", 2, 400) == 1
    assert time.monotonic() - started < 2
    replicas[1].kill9()
    c.set("k", 3)
    assert c.execute_command("WAIT", 1, 300) == 0
    assert wait_until(lambda: info_repl(master)["connected_slaves"] == 0, timeout=3)
    assert master.client().execute_command("ROLE")[2] == []


def test_masterauth_wrong_then_right(make_server):
    master = make_server({"requirepass": "sesame"})
    replica = make_server({"replicaof": ["127.0.0.1", master.port], "masterauth": "wrong"})
    master.client(password="sesame").set("k", "v")
    time.sleep(1.2)
    assert info_repl(replica)["master_link_status"] == "down"
    assert replica.client().get("k") is None
    assert master.client(password="sesame").info("replication")["connected_slaves"] == 0
    replica.client().config_set("masterauth", "sesame")
    wait_until(lambda: info_repl(replica)["master_link_status"] == "up", timeout=8)
    m = master.client(password="sesame")
    wait_until(lambda: replica.client().get("k") == b"v", timeout=5)
    assert m.info("replication")["connected_slaves"] == 1
