"""Full sync, the replica's side (REPL-CONTEXT.md, README "Replication"): a replica whose master
cannot continue from its sequence downloads the master's checkpoint over the link (FULLSYNC
FILES / READ), swaps it in as its store in-process, and follows the master from there.

FakeMaster stands in front of a real tidekv master: it answers PSYNC with +FULLRESYNC and
serves FULLSYNC from a copy of the master's database taken while it was stopped (a
checkpoint as the master makes one), and passes every other command to the master. It also
plays hostile masters (wrong sizes, truncated files, a wrong sequence). All tidekv-only.
"""
import os
import re
import shutil
import threading
import time

import pytest
import redis

from conftest import ConnectionClosed, encode_command, RespConn, soak, tidekv_only
from helpers import LoopbackServer, read_command, wait_until, write_every_type

pytestmark = tidekv_only

CHECKPOINT_ID = "c" * 40
# tidekv's own files beside RocksDB's, which the master's checkpoint does not hold (it adds
# the expiry index's marker).
NOT_IN_CHECKPOINT = {"replication-id", "store-location", "cdc-consumers", "LOCK"}


def take_checkpoint(master, into):
    """Stops the master, copies its database files (flat, as a checkpoint is) into `into` and
    starts it again. Returns the sequence the copy holds."""
    seq = master.client().execute_command("SEQUENCE")
    master.stop()
    os.makedirs(into)
    for name in os.listdir(master.datadir):
        path = os.path.join(master.datadir, name)
        if os.path.isfile(path) and name not in NOT_IN_CHECKPOINT and not name.endswith(".tmp"):
            shutil.copyfile(path, os.path.join(into, name))
    master.start()
    assert master.client().execute_command("SEQUENCE") == seq
    return seq


class FakeMaster(LoopbackServer):
    """A master in front of a real one (`backend`): PSYNC answers +FULLRESYNC with the
    checkpoint in `files_dir`; FULLSYNC FILES/READ/DONE serve it; the rest is passed on.
    `sizes` overrides announced sizes, `read_hook(name, offset, data) -> data` changes what READ
    returns, `sequence` the sequence announced, `read_delay` slows every READ."""

    def __init__(self, backend, files_dir, sequence, replid):
        self.backend, self.files_dir, self.sequence, self.replid = backend, files_dir, sequence, replid
        self.sizes, self.read_hook, self.read_delay = {}, None, 0.0
        self.fullresyncs = 0
        self.done = []
        self.reads = 0
        super().__init__()

    def files(self):
        out = []
        for name in sorted(os.listdir(self.files_dir)):
            out += [name, self.sizes.get(name, os.path.getsize(os.path.join(self.files_dir, name)))]
        return out

    def answer(self, args, up):
        name = args[0].upper()
        sub = args[1].upper() if len(args) > 1 else b""
        if name == b"PSYNC":
            self.fullresyncs += 1
            return b"+FULLRESYNC %s %d %s\r\n" % (self.replid.encode(), self.sequence, CHECKPOINT_ID.encode())
        if name == b"FULLSYNC" and sub == b"FILES":
            items = self.files()
            out = [b"*%d\r\n" % len(items)]
            for i, v in enumerate(items):
                out.append(encode_command(v)[4:] if i % 2 == 0 else b":%d\r\n" % v)
            return b"".join(out)
        if name == b"FULLSYNC" and sub == b"READ":
            self.reads += 1
            time.sleep(self.read_delay)
            fname, offset, count = args[3].decode(), int(args[4]), int(args[5])
            with open(os.path.join(self.files_dir, fname), "rb") as f:
                f.seek(offset)
                data = f.read(count)
            if self.read_hook:
                data = self.read_hook(fname, offset, data)
            return b"$%d\r\n%s\r\n" % (len(data), data)
        if name == b"FULLSYNC" and sub == b"DONE":
            self.done.append(args[2].decode())
            return b"+OK\r\n"
        up.send(encode_command(*args))
        return up.read_raw()

    def handle(self, s, conn_no):
        f = s.makefile("rb")
        up = RespConn(port=self.backend.port, timeout=30)
        try:
            while True:
                args = read_command(f)
                if args is None:
                    return
                s.sendall(self.answer(args, up))
        except (OSError, ValueError, ConnectionClosed):
            pass
        finally:
            up.close()
            s.close()


@pytest.fixture
def fake_master(make_server, tmp_path):
    made = []

    def factory(master):
        replid = master.client().info("replication")["master_replid"]
        seq = take_checkpoint(master, str(tmp_path / ("checkpoint%d" % len(made))))
        fm = FakeMaster(master, str(tmp_path / ("checkpoint%d" % len(made))), seq, replid)
        made.append(fm)
        return fm

    yield factory
    for fm in made:
        fm.close()


def fill(c, tag="", n=200):
    """Keys of every type, in two databases, with and without expiries."""
    write_every_type(c, n, tag, dbs=(0, 3), volatile=True)


LIB = "#!lua name=fslib\nredis.register_function('fsget', function(k) return redis.call('GET', k[1]) end)"


def snapshot(s):
    """Everything a replica must hold alike: every key of dbs 0 and 3 with its type, value and
    whether it has a TTL, DBSIZE, the function libraries and the latest sequence."""
    out = {}
    for db in (0, 3):
        c = redis.Redis(port=s.port, db=db)
        keys = {}
        for key in c.scan_iter(count=1000):
            t = c.type(key).decode()
            value = {"string": lambda: c.get(key), "hash": lambda: c.hgetall(key),
                     "list": lambda: c.lrange(key, 0, -1), "set": lambda: c.smembers(key),
                     "zset": lambda: c.zrange(key, 0, -1, withscores=True)}[t]()
            keys[key] = (t, value, c.pttl(key) > 0)
        out[db] = (keys, c.dbsize())
    c = s.client()
    out["functions"] = sorted(lib[b"library_name"] if isinstance(lib, dict) else lib[1]
                              for lib in c.execute_command("FUNCTION", "LIST"))
    out["sequence"] = c.execute_command("SEQUENCE")
    return out


def wait_following(replica, timeout=20):
    wait_until(lambda: replica.client().info("replication").get("master_link_status") == "up", timeout=timeout)


def test_a_replica_with_other_data_takes_the_masters_data_whole(make_server, fake_master):
    master = make_server()
    c = master.client()
    fill(c)
    c.execute_command("FUNCTION", "LOAD", LIB)
    fm = fake_master(master)
    replica = make_server()
    fill(replica.client(), tag="old", n=50)
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_following(replica)
    assert snapshot(replica) == snapshot(master)
    assert replica.client().execute_command("FCALL", "fsget", 1, "s5") == b"v5"
    # It follows from there. A master releases its checkpoint at the first poll: no DONE.
    c.set("after", "1")
    wait_until(lambda: replica.client().get("after") == b"1")
    assert fm.done == []
    print("the swap paused clients %d us" % swap_pause_us(replica))
    info = replica.client().info("replication")
    assert info["master_replid"] == c.info("replication")["master_replid"]
    assert str(info["master_replid2"]).strip("0") == "" and info["master_sync_in_progress"] == 0
    # The pointer file names the new store; the old one is gone from the data directory.
    location = open(os.path.join(replica.datadir, "store-location")).read().strip()
    assert location.startswith("store-") and not os.path.exists(os.path.join(replica.datadir, "CURRENT"))
    assert not [n for n in os.listdir(replica.datadir) if n.startswith("sync-")]
    # A restart opens the new store and continues from there by partial sync (with the real
    # master: the fake one would answer FULLRESYNC again).
    replica.stop()
    replica.start({"replicaof": ["127.0.0.1", master.port]})
    wait_following(replica)
    assert master.client().info("stats")["sync_partial_ok"] == 1
    assert snapshot(replica) == snapshot(master)


@pytest.mark.soak  # long: runs under make soak
def test_hostile_masters_leave_the_old_data_and_no_download(make_server, fake_master):
    master = make_server()
    fill(master.client(), n=50)
    fm = fake_master(master)
    replica = make_server()
    fill(replica.client(), tag="mine", n=30)
    before = snapshot(replica)
    biggest = max(os.listdir(fm.files_dir), key=lambda n: os.path.getsize(os.path.join(fm.files_dir, n)))
    wrongs = [
        ("sizes", {biggest: os.path.getsize(os.path.join(fm.files_dir, biggest)) + 10}),  # announced too long
        ("sizes", {biggest: os.path.getsize(os.path.join(fm.files_dir, biggest)) - 10}),  # announced too short
        ("read_hook", lambda name, off, data: data[:len(data) // 2] if name == biggest else data),  # truncated
        ("read_hook", lambda name, off, data: data + b"x" if name == biggest else data),  # more than asked
        ("read_hook", lambda name, off, data: bytes(len(data)) if name == biggest else data),  # garbage
        ("sequence", fm.sequence + 5),  # a sequence the copy does not hold
    ]
    good_sequence = fm.sequence
    for attr, value in wrongs:
        fm.sizes, fm.read_hook, fm.sequence = {}, None, good_sequence
        setattr(fm, attr, value)
        tries = fm.fullresyncs
        replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
        assert wait_until(lambda: fm.fullresyncs >= tries + 2, timeout=20)  # one failed, the next began
        replica.client().execute_command("REPLICAOF", "NO", "ONE")  # ends the attempt under way
    after = snapshot(replica)
    assert after[0] == before[0] and after[3] == before[3] and after["sequence"] == before["sequence"]
    assert not [n for n in os.listdir(replica.datadir) if n.startswith(("sync-", "store-"))]
    assert fm.done == []


@pytest.mark.soak  # long: runs under make soak
def test_reads_during_the_sync_see_the_old_data_then_the_new(make_server, fake_master):
    master = make_server()
    fill(master.client(), tag="new", n=300)
    master.client().set("k", "new")
    fm = fake_master(master)
    fm.read_delay = 0.05
    replica = make_server()
    replica.client().set("k", "old")
    errors, seen = [], []
    stop = threading.Event()

    def reader():
        c = redis.Redis(port=replica.port)
        while not stop.is_set():
            try:
                p = c.pipeline(transaction=False)
                p.get("k")
                p.dbsize()
                p.execute_command("SEQUENCE")
                v, _, _ = p.execute()
                if not seen or seen[-1] != v:
                    seen.append(v)
            except redis.RedisError as e:
                errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_until(lambda: replica.client().info("replication")["master_sync_in_progress"] == 1, timeout=10)
    info = replica.client().info("replication")
    assert info["master_sync_total_bytes"] > 0 and info["master_sync_left_bytes"] >= 0
    assert 0 <= info["master_sync_perc"] <= 100 and info["master_link_status"] == "down"
    assert replica.client().execute_command("ROLE")[3] == b"sync"
    assert replica.client().get("k") == b"old"
    wait_following(replica)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert seen[0] == b"old" and seen[-1] == b"new" and seen.count(b"old") + seen.count(b"new") == len(seen)
    assert snapshot(replica) == snapshot(master)


@soak  # long: runs under make soak
def test_blocked_pollers_and_snapshots_of_the_old_history_end(make_server, fake_master):
    master = make_server()
    fill(master.client(), n=20)
    fm = fake_master(master)
    replica = make_server()
    rc = replica.client()
    p = rc.pipeline(transaction=False)
    for i in range(1000):  # further than the master's sequence: the new history will reach it
        p.set("mine%d" % i, i)
    p.execute()
    latest = rc.execute_command("SEQUENCE")
    assert latest > fm.sequence
    snap = rc.execute_command("SNAPSHOT", "CREATE")
    snap_id = snap[1] if isinstance(snap, list) else snap[b"id"]
    poller = RespConn(port=replica.port, timeout=20)
    poller.send(encode_command("POLLUPDATES", latest, "STRICT", "BLOCK", 0))
    time.sleep(0.2)
    rc.execute_command("REPLICAOF", "127.0.0.1", fm.port)
    reply = poller.read_reply()
    assert str(reply).startswith("ERR mismatched sequence number")
    wait_following(replica)
    with pytest.raises(redis.ResponseError):
        rc.execute_command("SNAPSHOT", "READ", snap_id, "0")


def leftovers(s):
    """Downloads and stores in the data directory other than the one in use."""
    in_use = ""
    path = os.path.join(s.datadir, "store-location")
    if os.path.exists(path):
        in_use = open(path).read().strip()
    return [n for n in os.listdir(s.datadir) if n.startswith(("sync-", "store-")) and n not in (in_use, "store-location")]


@pytest.mark.soak  # long: runs under make soak
def test_writes_on_the_master_during_the_sync_all_arrive(make_server, fake_master):
    master = make_server()
    fill(master.client(), n=100)
    fm = fake_master(master)
    fm.read_delay = 0.05
    replica = make_server()
    stop = threading.Event()

    def writer():
        c = redis.Redis(port=master.port)
        i = 0
        while not stop.is_set():
            c.set("during%d" % i, i)
            c.hset("hd", i, i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_following(replica)
    stop.set()
    t.join()
    wait_until(lambda: replica.client().execute_command("SEQUENCE") == master.client().execute_command("SEQUENCE"))
    assert snapshot(replica) == snapshot(master)


@soak  # long: runs under make soak
def test_kill9_of_the_replica_mid_download_keeps_the_old_data(make_server, fake_master):
    master = make_server()
    fill(master.client(), n=100)
    fm = fake_master(master)
    fm.read_delay = 0.2
    replica = make_server()
    fill(replica.client(), tag="mine", n=30)
    before = snapshot(replica)
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_until(lambda: fm.reads >= 2, timeout=10)
    replica.kill9()
    assert [n for n in os.listdir(replica.datadir) if n.startswith("sync-")]  # a download was under way
    replica.start()
    assert leftovers(replica) == []
    assert snapshot(replica) == before
    fm.read_delay = 0
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_following(replica)
    assert snapshot(replica) == snapshot(master)


@pytest.mark.soak  # long: runs under make soak
def test_kill9_of_the_replica_mid_swap_leaves_one_store_whole(make_server, fake_master):
    """Killed at random moments once the download is complete: the restarted replica holds its
    old data or the master's, whole, with nothing else left in its data directory."""
    import random
    rnd = random.Random(16)
    master = make_server()
    fill(master.client(), n=100)
    master.client().execute_command("FUNCTION", "LOAD", LIB)
    fm = fake_master(master)
    want = snapshot(master)
    replica = make_server()
    fill(replica.client(), tag="mine", n=30)
    before = snapshot(replica)
    outcomes = set()
    for _ in range(8):
        swaps = replica.log().count("swapping the store")
        replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
        assert wait_until(lambda: replica.log().count("swapping the store") > swaps, timeout=20, interval=0.001)
        time.sleep(rnd.random() * 0.03)
        replica.kill9()
        replica.start()
        assert leftovers(replica) == []
        now = snapshot(replica)
        assert now in (before, want)
        outcomes.add("new" if now == want else "old")
        if now == want:  # the next rounds swap a store in a subdirectory for another
            before = want
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_following(replica)
    assert snapshot(replica) == want and leftovers(replica) == []


@pytest.mark.soak  # long: runs under make soak
def test_link_cuts_during_the_download_then_it_completes(make_server, fake_master):
    from test_hostile_replication import Proxy
    import random
    rnd = random.Random(7)
    master = make_server()
    fill(master.client(), n=300)
    fm = fake_master(master)
    cut_at = {n: rnd.randrange(1, 40000) for n in range(1, 5)}  # the first four links are cut

    def cut(conn_no, offset, chunk):
        at = cut_at.get(conn_no)
        return None if at is not None and offset + len(chunk) >= at else chunk

    proxy = Proxy(fm.port, cut)
    try:
        replica = make_server()
        fill(replica.client(), tag="mine", n=30)
        replica.client().execute_command("REPLICAOF", "127.0.0.1", proxy.port)
        wait_following(replica, timeout=40)
        assert proxy.connections >= 5
        assert snapshot(replica) == snapshot(master) and leftovers(replica) == []
    finally:
        proxy.close()


def swap_pause_us(s):
    """The last swap's pause, as the replica logged it."""
    line = [l for l in s.log().splitlines() if "clients waited" in l][-1]
    return int(line.rsplit("waited ", 1)[1].split()[0])


@soak
def test_a_fresh_replica_of_a_million_keys(make_server, fake_master, monkeypatch):
    import conftest
    monkeypatch.setattr(conftest, "START_TIMEOUT", 180.0)  # the master restarts with a million keys
    master = make_server()
    c = master.client()
    for start in range(0, 1000000, 10000):
        p = c.pipeline(transaction=False)
        for i in range(start, start + 10000, 100):
            p.mset({"key:%d" % j: "value-%d" % j for j in range(i, i + 100)})
        p.execute()
    c.hset("h", mapping={"f%d" % i: i for i in range(1000)})
    fm = fake_master(master)
    replica = make_server()
    replica.client().set("old", "1")
    began = time.monotonic()
    replica.client().execute_command("REPLICAOF", "127.0.0.1", fm.port)
    wait_following(replica, timeout=300)
    took = time.monotonic() - began
    rc = replica.client()
    assert rc.dbsize() == 1000001 and rc.get("old") is None
    assert rc.get("key:999999") == b"value-999999" and rc.hlen("h") == 1000
    assert rc.execute_command("SEQUENCE") == c.execute_command("SEQUENCE")
    pause = swap_pause_us(replica)
    print("1M keys: full sync in %.1f s, the swap paused clients %.1f ms" % (took, pause / 1000))
    print("\n".join(l for l in replica.log().splitlines() if "opened" in l or "counted" in l or "swap" in l))
    assert pause < 10 * 1000000


# ---- with a real master (the master's side: repl/checkpoints.c) ----

PURGE_ARGS = ["--wal-ttl-seconds", "1", "--wal-size-limit-mb", "0", "--rocksdb.write_buffer_size", "1"]


def age_out_history(master):
    """Writes data of every kind until the master's WAL no longer holds sequence 1."""
    c = master.client(socket_timeout=30)
    fill(c)
    c.execute_command("FUNCTION", "LOAD", LIB)
    deadline = time.monotonic() + 30
    rounds = 0
    while c.info("keyspace")["oldest_sequence"] <= 1:
        assert time.monotonic() < deadline, "the master's history was not purged"
        p = c.pipeline(transaction=False)
        for i in range(200):
            p.set("pad%d:%d" % (rounds, i), b"x" * 8192)
        p.execute()
        rounds += 1
        time.sleep(0.05 if rounds < 20 else 0.3)
    return c


@pytest.mark.soak  # long: runs under make soak
def test_a_new_replica_of_a_master_whose_history_aged_out(make_server):
    master = make_server(PURGE_ARGS)
    c = age_out_history(master)
    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    wait_following(replica, timeout=30)
    wait_until(lambda: replica.client().execute_command("SEQUENCE") == c.execute_command("SEQUENCE"), timeout=10)
    assert snapshot(replica) == snapshot(master)
    assert replica.client().execute_command("FCALL", "fsget", 1, "s5") == b"v5"
    stats = c.info("stats")
    assert stats["sync_full"] == 1
    c.set("after", "1")
    c.expire("s2", 1000)
    wait_until(lambda: replica.client().get("after") == b"1")
    assert snapshot(replica) == snapshot(master)
    assert replica.client().info("replication")["master_replid"] == c.info("replication")["master_replid"]
    # The checkpoint was released once the replica polled.
    assert wait_until(lambda: not os.listdir(os.path.join(master.datadir, "repl-checkpoints"))
                      if os.path.exists(os.path.join(master.datadir, "repl-checkpoints")) else True)


@pytest.mark.soak  # long: runs under make soak
def test_a_replica_of_another_history_is_replaced(make_server):
    master = make_server(PURGE_ARGS)
    c = age_out_history(master)
    other = make_server()
    fill(other.client(), tag="other", n=100)
    other.client().set("only-here", "1")
    other.client().execute_command("REPLICAOF", "127.0.0.1", master.port)
    wait_following(other, timeout=30)
    wait_until(lambda: other.client().execute_command("SEQUENCE") == c.execute_command("SEQUENCE"), timeout=10)
    assert other.client().get("only-here") is None
    assert snapshot(other) == snapshot(master)


@pytest.mark.soak  # long: runs under make soak
def test_kill9_of_the_master_mid_download(make_server):
    """The master dies while the replica downloads its checkpoint: the replica keeps its data,
    and once the master is back, syncs in full (its checkpoints went with the restart)."""
    from test_hostile_replication import Proxy
    master = make_server(PURGE_ARGS)
    c = age_out_history(master)
    for i in range(40):  # a bigger checkpoint, for a download that takes a while through the proxy
        c.set("big%d" % i, os.urandom(1 << 20))
    slow = Proxy(master.port)
    slow.mangle = lambda conn_no, offset, chunk: (time.sleep(0.01), chunk)[1]
    try:
        replica = make_server()
        replica.client().set("mine", "1")
        replica.client().execute_command("REPLICAOF", "127.0.0.1", slow.port)
        assert wait_until(lambda: replica.client().info("replication")["master_sync_in_progress"] == 1, timeout=20)
        master.kill9()
        time.sleep(0.5)
        assert replica.client().get("mine") == b"1"
        assert replica.client().info("replication")["master_sync_in_progress"] == 0
        assert leftovers(replica) == []
        slow.mangle = None
        master.start()
        wait_following(replica, timeout=60)
        wait_until(lambda: replica.client().execute_command("SEQUENCE") == master.client().execute_command("SEQUENCE"))
        assert snapshot(replica) == snapshot(master)
    finally:
        slow.close()


def test_a_pointer_file_naming_a_missing_store_stops_the_start(make_server):
    """A pointer file that names a store no longer there (a swap whose pointer write failed after
    its rename, a hand-made copy) must not start an empty store and remove the data in place."""
    s = make_server()
    fill(s.client(), tag="root", n=10)
    before = snapshot(s)
    s.stop()
    with open(os.path.join(s.datadir, "store-location"), "w") as f:
        f.write("store-999\n")
    with pytest.raises(RuntimeError):
        s.start()
    assert "store-999" in s.log()
    os.remove(os.path.join(s.datadir, "store-location"))
    s.start()
    assert snapshot(s) == before


ROCKSDB_FILE = re.compile(r"CURRENT|IDENTITY|MANIFEST-\d+|OPTIONS-\d+|\d+\.(log|sst|blob)")


def test_a_half_removed_old_store_is_removed_at_start_up(make_server):
    """After a full sync the old store in the data directory itself is removed; a crash during
    that may leave its files without CURRENT (which goes first): the next start-up removes them."""
    s = make_server()
    fill(s.client(), tag="root", n=10)
    before = snapshot(s)
    s.stop()
    d = s.datadir
    os.mkdir(os.path.join(d, "store-1"))  # the store a full sync swapped in, as named below
    for name in os.listdir(d):
        if os.path.isfile(os.path.join(d, name)) and name != "replication-id":
            shutil.copy2(os.path.join(d, name), os.path.join(d, "store-1", name))
    with open(os.path.join(d, "store-location"), "w") as f:
        f.write("store-1\n")
    os.remove(os.path.join(d, "CURRENT"))
    assert [n for n in os.listdir(d) if ROCKSDB_FILE.fullmatch(n)]
    s.start()
    assert snapshot(s) == before
    assert [n for n in os.listdir(d) if ROCKSDB_FILE.fullmatch(n)] == []
