"""Replication (../shared/REPLICATION.md): replicas follow their master by sequence number.

Everything not about sequence numbers also runs against redis-server (TIDEKV_TEST_TARGET=redis):
the same data on the replica, READONLY, ROLE and INFO replication's shape, REPLICAOF NO ONE.
"""
import hashlib
import threading
import time

import pytest
import redis

from conftest import IS_REDIS, RespError, Simple, tidekv_only
from helpers import LoopbackServer, read_command, write_every_type

READONLY = "You can't write against a read only replica."


def info_repl(s):
    return s.client().info("replication")


def wait_synced(master, replica, timeout=15):
    """Waits until the replica holds everything the master wrote (offsets agree, link up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m, r = info_repl(master), info_repl(replica)
        if r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m["master_repl_offset"]:
            return
        time.sleep(0.05)
    raise AssertionError("replica did not catch up: master %r, replica %r" % (info_repl(master), info_repl(replica)))


def start_pair(make_server, **replica_args):
    master = make_server()
    replica = make_server({"replicaof": ["127.0.0.1", master.port], **replica_args})
    return master, replica


def dataset(s):
    """Every key of db 0 with its type, value and whether it has a TTL."""
    c = s.client()
    out = {}
    for key in c.scan_iter(count=1000):
        t = c.type(key).decode()
        value = {"string": lambda: c.get(key), "hash": lambda: c.hgetall(key),
                 "list": lambda: c.lrange(key, 0, -1), "set": lambda: c.smembers(key),
                 "zset": lambda: c.zrange(key, 0, -1, withscores=True)}[t]()
        out[key] = (t, value, c.pttl(key) > 0)
    return out


def test_a_replica_holds_the_masters_data(make_server):
    master, replica = start_pair(make_server)
    write_every_type(master.client())
    wait_synced(master, replica)
    assert dataset(replica) == dataset(master)
    assert len(dataset(master)) > 50


def test_a_replica_refuses_writes(make_server):
    master, replica = start_pair(make_server)
    r = replica.client()
    for call in (lambda: r.set("k", "v"), lambda: r.hset("h", "f", "v"), lambda: r.delete("k"),
                 lambda: r.flushall()):
        with pytest.raises(redis.exceptions.ReadOnlyError, match=READONLY):
            call()
    with pytest.raises(redis.exceptions.ResponseError, match=READONLY):
        r.eval("return redis.call('SET', 'k', 'v')", 0)
    assert r.get("k") is None  # reads still work
    with replica.conn() as conn:  # refused when queued: the transaction is discarded
        assert conn.call("MULTI") == Simple("OK")
        assert conn.call("SET", "k", "v") == RespError("READONLY " + READONLY)
        assert conn.call("EXEC") == RespError("EXECABORT Transaction discarded because of previous errors.")


def test_role_and_info_replication(make_server):
    master, replica = start_pair(make_server)
    master.client().set("a", 1)
    wait_synced(master, replica)
    role = master.client().execute_command("ROLE")
    assert role[0] == b"master" and isinstance(role[1], int)
    assert [(ip, int(port)) for ip, port, _ in role[2]] == [(b"127.0.0.1", replica.port)]
    r_role = replica.client().execute_command("ROLE")
    assert r_role[:3] == [b"slave", b"127.0.0.1", master.port] and r_role[3] == b"connected"
    m, r = info_repl(master), info_repl(replica)
    assert m["role"] == "master" and m["connected_slaves"] == 1
    assert m["slave0"]["ip"] == "127.0.0.1" and m["slave0"]["port"] == replica.port
    assert m["slave0"]["state"] == "online"
    assert len(m["master_replid"]) == 40
    assert r["role"] == "slave" and r["master_port"] == master.port and r["master_link_status"] == "up"
    for field in ("master_last_io_seconds_ago", "master_sync_in_progress", "slave_repl_offset", "slave_priority",
                  "slave_read_only", "master_replid", "master_repl_offset", "second_repl_offset"):
        assert field in r, field
    assert r["master_replid"] == m["master_replid"]  # the replica belongs to its master's history


def test_replicaof_errors(make_server):
    s = make_server()
    c = s.client()
    with pytest.raises(redis.exceptions.ResponseError, match="Invalid master port"):
        c.execute_command("REPLICAOF", "127.0.0.1", "notaport")
    with pytest.raises(redis.exceptions.ResponseError, match="wrong number of arguments"):
        c.execute_command("REPLICAOF", "127.0.0.1")
    assert c.execute_command("REPLICAOF", "NO", "ONE") in (b"OK", True)  # already a master
    assert info_repl(s)["role"] == "master"


def test_replicaof_no_one_promotes(make_server):
    master, replica = start_pair(make_server)
    master.client().set("before", 1)
    wait_synced(master, replica)
    r = replica.client()
    assert r.execute_command("REPLICAOF", "NO", "ONE") in (b"OK", True)
    assert r.set("after", 2)
    assert r.get("before") == b"1" and r.get("after") == b"2"
    assert info_repl(replica)["role"] == "master"


def test_watch_on_a_replica_sees_replicated_writes(make_server):
    master, replica = start_pair(make_server)
    master.client().set("w", 1)
    wait_synced(master, replica)
    r = replica.client()
    p = r.pipeline(transaction=True)
    p.watch("w")
    master.client().set("w", 2)
    wait_synced(master, replica)
    p.multi()
    p.get("w")
    with pytest.raises(redis.exceptions.WatchError):
        p.execute()


# ---- tidekv: the same sequence numbers everywhere ----

def raw_batches(s):
    """Every retained batch, raw: what POLLUPDATES FORMAT RAW returns from 0; and the sequence after."""
    c, seq, out = s.client(), 0, []
    while True:
        reply = c.execute_command("POLLUPDATES", seq, "MAX", 1000, "FORMAT", "RAW")
        reply = dict(zip(reply[::2], reply[1::2]))
        out += reply[b"updates"]
        if reply[b"next_sequence"] == seq:
            return out, seq
        seq = reply[b"next_sequence"]


def raw_history(s):
    out, seq = raw_batches(s)
    return hashlib.sha1(b"".join(out)).hexdigest(), seq


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
@tidekv_only
def test_two_replicas_have_the_masters_sequences_and_batches(make_server):
    master = make_server()
    replicas = [make_server({"replicaof": ["127.0.0.1", master.port]}) for _ in range(2)]
    c = master.client()
    c.eval("redis.call('SET', 'script', 'x') redis.call('SPOP', 'set0')", 0)
    write_every_type(c)
    threads = [threading.Thread(target=write_every_type, args=(master.client(), 100, "t%d" % i)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in replicas:
        wait_synced(master, r)
    want = raw_history(master)
    for r in replicas:
        assert r.client().execute_command("SEQUENCE") == c.execute_command("SEQUENCE")
        assert raw_history(r) == want
        assert dataset(r) == dataset(master)
        assert r.client().dbsize() == c.dbsize()


@pytest.mark.soak  # long: runs under make soak (1.4 s or more)
@tidekv_only
def test_a_killed_replica_continues_partially(make_server):
    master, replica = start_pair(make_server)
    c = master.client()
    write_every_type(c, tag="a")
    wait_synced(master, replica)
    stop = threading.Event()

    def load():
        cl = master.client()
        i = 0
        while not stop.is_set():
            cl.incr("counter")
            cl.rpush("log", i)
            i += 1

    t = threading.Thread(target=load)
    t.start()
    try:
        time.sleep(0.3)
        replica.kill9()
        time.sleep(0.3)
        replica.start()
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    wait_synced(master, replica)
    assert dataset(replica) == dataset(master)
    assert raw_history(replica) == raw_history(master)
    stats = master.client().info("stats")
    assert stats["sync_partial_ok"] == 2 and stats["sync_full"] == 0


@pytest.mark.soak  # long: runs under make soak
def test_client_kill_type_replica_and_master(make_server):
    """CLIENT KILL TYPE replica on the master and TYPE master on the replica cut the link, and the
    replica comes back; Sentinel's TYPE normal and TYPE pubsub spare it."""
    master, replica = start_pair(make_server)
    wait_synced(master, replica)
    m = master.client()
    links = m.client_list(_type="replica")
    assert len(links) == 1 and links[0]["flags"] == "S"
    time.sleep(0.2)  # tidekv's link waits in a POLLUPDATES BLOCK now: still no blocked client
    assert m.client_list(_type="replica")[0]["flags"] == "S" and m.info("clients")["blocked_clients"] == 0
    assert m.client_list(_type="master") == []
    m.execute_command("CLIENT", "KILL", "TYPE", "normal")
    m.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    assert [link["id"] for link in m.client_list(_type="replica")] == [links[0]["id"]]
    assert m.execute_command("CLIENT", "KILL", "TYPE", "slave") == 1
    m.set("after-replica-kill", 1)
    wait_synced(master, replica)  # it came back
    assert [link["id"] for link in m.client_list(_type="replica")] != [links[0]["id"]]
    links = m.client_list(_type="replica")
    r = replica.client()
    assert r.execute_command("CLIENT", "KILL", "TYPE", "master") == 1
    if not IS_REDIS:  # Redis connects again at once, tidekv after a second
        assert info_repl(replica)["master_link_status"] == "down"
        assert r.execute_command("CLIENT", "KILL", "TYPE", "master") == 0  # already gone
    m.set("after-master-kill", 1)
    wait_synced(master, replica)
    assert r.get("after-master-kill") == b"1"
    assert [link["id"] for link in m.client_list(_type="replica")] != [links[0]["id"]]  # a new link


@tidekv_only
def test_the_old_master_follows_the_promoted_replica(make_server):
    master, replica = start_pair(make_server)
    write_every_type(master.client(), tag="a")
    wait_synced(master, replica)
    old_seq = master.client().execute_command("SEQUENCE")
    r = replica.client()
    r.execute_command("REPLICAOF", "NO", "ONE")
    info = info_repl(replica)
    assert info["master_replid2"] == info_repl(master)["master_replid"]
    assert info["second_repl_offset"] == old_seq + 1
    r.set("new", "1")
    assert r.execute_command("SEQUENCE") == old_seq + 1  # the next sequence: no jump back, no gap
    m = master.client()
    m.execute_command("REPLICAOF", "127.0.0.1", replica.port)
    wait_synced(replica, master)
    assert m.get("new") == b"1"
    assert raw_history(master) == raw_history(replica)
    assert replica.client().info("stats")["sync_partial_ok"] == 1


@tidekv_only
def test_a_diverged_replica_is_replaced_by_a_full_sync(make_server):
    master = make_server()
    other = make_server()
    master.client().set("a", 1)
    o = other.client()
    for i in range(5):
        o.set("mine%d" % i, i)  # another history, ahead of the master
    o.execute_command("REPLICAOF", "127.0.0.1", master.port)
    wait_synced(master, other)
    stats = master.client().info("stats")
    assert stats["sync_partial_err"] >= 1 and stats["sync_full"] >= 1
    assert o.get("mine4") is None and o.get("a") == b"1"


@tidekv_only
def test_psync_and_replconf_errors(server):
    c = server.client()
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        c.execute_command("PSYNC", "?", "x")
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        c.execute_command("PSYNC", "?", "-1")
    assert c.execute_command("PSYNC", "?", 10 ** 15).startswith(b"FULLRESYNC ")  # test_fullsync_master.py
    with pytest.raises(redis.exceptions.ResponseError, match="syntax error"):
        c.execute_command("REPLCONF", "listening-port")
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        c.execute_command("REPLCONF", "listening-port", "99999")
    assert c.execute_command("REPLCONF", "capa", "eof", "capa", "psync2") in (b"OK", True)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_a_replica_with_smaller_limits_is_refused_at_the_handshake(make_server):
    """A replica whose databases or proto-max-bulk-len is below its master's would refuse some of
    its batches: the master refuses it at the handshake, it logs why and shows the link down,
    and it follows once its limit is raised."""
    master = make_server({"databases": 32})
    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    time.sleep(1.5)
    assert info_repl(replica)["master_link_status"] == "down"
    assert info_repl(master)["connected_slaves"] == 0
    assert "the replica's databases (16) is smaller than the master's (32)" in replica.log()

    master = make_server({"proto-max-bulk-len": "1gb"})
    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    master.client().set("k", "v")
    time.sleep(1.5)
    assert info_repl(replica)["master_link_status"] == "down"
    log = replica.log()
    assert "the replica's proto-max-bulk-len (536870912) is smaller than the master's (1073741824)" in log
    replica.client().config_set("proto-max-bulk-len", "1gb")
    wait_synced(master, replica)  # the next attempt, a second later, succeeds
    assert replica.client().get("k") == b"v"


@tidekv_only
def test_replconf_checks_the_replicas_limits(server):
    c = server.client()
    with pytest.raises(redis.exceptions.ResponseError,
                       match=r"^the replica's databases \(8\) is smaller than the master's \(16\)$"):
        c.execute_command("REPLCONF", "databases", 8)
    with pytest.raises(redis.exceptions.ResponseError, match="proto-max-bulk-len .1024. is smaller"):
        c.execute_command("REPLCONF", "listening-port", 1, "proto-max-bulk-len", 1024)
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        c.execute_command("REPLCONF", "databases", "many")
    assert c.execute_command("REPLCONF", "databases", 16, "proto-max-bulk-len", 2 ** 32, "capa", "psync2") in (b"OK", True)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_two_servers_following_each_other_are_refused(make_server):
    """A follows B while B follows A: B refuses the PSYNC of its own master, whose run id it
    learnt at its handshake; A logs why and shows its link down until the loop is broken."""
    a = make_server()
    b = make_server({"replicaof": ["127.0.0.1", a.port]})
    a.client().set("k", 1)
    wait_synced(a, b)
    a.client().execute_command("REPLICAOF", "127.0.0.1", b.port)
    time.sleep(2.5)  # two attempts
    assert info_repl(a)["master_link_status"] == "down"
    assert info_repl(b)["master_link_status"] == "up"  # b still follows a
    assert "replication loop: the server asking to follow this one is its own master" in a.log()
    b.client().execute_command("REPLICAOF", "NO", "ONE")  # the loop is broken: a follows b
    b.client().set("k", 2)
    wait_synced(b, a)
    assert a.client().get("k") == b"2"


@tidekv_only
def test_replconf_capa_run_id_answers_the_run_id(server):
    c = server.client()
    run_id = c.info("server")["run_id"]
    assert c.execute_command("REPLCONF", "capa", "eof", "capa", "run-id") in ("OK %s" % run_id,
                                                                              ("OK %s" % run_id).encode())
    assert c.execute_command("REPLCONF", "capa", "eof") in (b"OK", True)


@tidekv_only
def test_a_blocked_poller_on_the_replica_sees_replicated_batches(make_server):
    master, replica = start_pair(make_server)
    wait_synced(master, replica)
    seq = replica.client().execute_command("SEQUENCE")
    result = {}

    def poll():
        reply = replica.client(socket_timeout=10).execute_command("POLLUPDATES", seq, "BLOCK", 5000, "FORMAT", "RESP")
        result["reply"] = dict(zip(reply[::2], reply[1::2]))

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    master.client().set("woken", "yes")
    t.join(10)
    assert time.monotonic() - started < 2
    commands = [cmd for u in result["reply"][b"updates"] for cmd in dict(zip(u[::2], u[1::2]))[b"commands"]]
    assert [b"SET", b"woken", b"yes"] in commands


@tidekv_only
def test_a_replica_writes_a_reply_of_many_commits_at_once_keeping_each_commit(make_server):
    """A replica that starts behind gets the master's commits a thousand to a reply, and writes
    each reply as one RocksDB write (INFO stats counts them as write groups); its history still
    holds the master's commits one by one, with their sequences, libraries included."""
    master = make_server()
    c = master.client()
    for i in range(300):
        c.set("single%d" % i, i)
    write_every_type(c, 100)
    with c.pipeline(transaction=True) as p:
        p.set("multi", 1).incr("multi").rpush("multilist", "a", "b")
        p.execute()
    c.eval("redis.call('SET', 'script', 'x') redis.call('DEL', 'single0')", 0)
    lib = "#!lua name=%s\nredis.register_function('%s', function() return '%s' end)"
    c.function_load(lib % ("a", "fa", "1"))
    c.function_load(lib % ("b", "fb", "1"))
    c.function_delete("a")
    c.function_load(lib % ("b", "fb", "2"), replace=True)
    c.flushdb()
    write_every_type(c, 50, "after")
    batches, _ = raw_batches(master)
    assert len(batches) > 1000

    replica = make_server({"replicaof": ["127.0.0.1", master.port]})
    wait_synced(master, replica)
    r = replica.client()
    assert raw_history(replica) == raw_history(master)
    assert dataset(replica) == dataset(master)
    assert r.function_list(withcode=True) == c.function_list(withcode=True)
    assert r.fcall("fb", 0) == b"2"
    stats = r.info("stats")
    assert stats["grouped_writes"] == len(batches)
    assert stats["write_groups"] <= 10, "each reply's commits went in one write"


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_a_replicas_polls_are_not_paced(make_server):
    """A consumer that keeps up with a busy stream is answered at most once per cdc-poll-pace-ms;
    a replica's link is answered at once (its lag is what WAIT and its readers wait for)."""
    master = make_server({"cdc-poll-pace-ms": 3000})
    c = master.client()

    def seconds_to_see_a_write_after_a_busy_stream(poller):
        seq = c.execute_command("SEQUENCE")
        with c.pipeline(transaction=False) as p:
            for i in range(3000):
                p.set("k%d" % i, i)
            p.execute()
        while True:  # full replies in quick succession: the stream is busy for this consumer
            reply = poller.execute_command("POLLUPDATES", seq, "MAX", 1000, "FORMAT", "RAW")
            reply = dict(zip(reply[::2], reply[1::2]))
            seq = reply[b"next_sequence"]
            if seq == c.execute_command("SEQUENCE"):
                break
        threading.Timer(0.2, lambda: c.set("marker", 1)).start()
        started = time.monotonic()
        reply = poller.execute_command("POLLUPDATES", seq, "MAX", 1000, "BLOCK", 10000, "FORMAT", "RAW")
        assert len(dict(zip(reply[::2], reply[1::2]))[b"updates"]) == 1
        return time.monotonic() - started

    consumer = master.client(socket_timeout=15)
    assert seconds_to_see_a_write_after_a_busy_stream(consumer) > 2  # the setup makes the stream busy
    replica_link = master.client(socket_timeout=15)
    replid = info_repl(master)["master_replid"]
    assert replica_link.execute_command("PSYNC", replid, c.execute_command("SEQUENCE")).startswith(b"CONTINUE")
    assert seconds_to_see_a_write_after_a_busy_stream(replica_link) < 1.5


def test_wait_counts_the_replicas_that_have_the_write(make_server):
    master = make_server()
    replicas = [make_server({"replicaof": ["127.0.0.1", master.port]}) for _ in range(2)]
    for r in replicas:
        wait_synced(master, r)
    c = master.client()
    c.set("k", "v")
    started = time.monotonic()
    assert c.execute_command("WAIT", 2, 5000) == 2
    assert time.monotonic() - started < 2
    c.set("k", "w")
    started = time.monotonic()
    assert c.execute_command("WAIT", 3, 300) == 2  # only two exist: the timeout ends it
    assert 0.25 < time.monotonic() - started < 3
    assert c.execute_command("WAIT", 0, 0) == 2
    with pytest.raises(redis.exceptions.ResponseError, match="timeout is negative"):
        c.execute_command("WAIT", 1, -1)
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        c.execute_command("WAIT", "x", 0)
    with pytest.raises(redis.exceptions.ResponseError, match="WAIT cannot be used with replica instances"):
        replicas[0].client().execute_command("WAIT", 1, 0)
    for r in replicas:
        assert r.client().get("k") == b"w"


def test_wait_inside_multi_answers_at_once(make_server):
    master, replica = start_pair(make_server)
    wait_synced(master, replica)
    p = master.client().pipeline(transaction=True)
    p.set("k", "v")
    p.execute_command("WAIT", 5, 0)
    assert p.execute()[1] in (0, 1)


# ---- a hostile master ----

class FakeMaster(LoopbackServer):
    """A master that answers the handshake and then every POLLUPDATES with one scripted reply
    (bytes, sent raw), or closes the connection when the reply is None. It refuses FORMAT BINARY
    as a tidekv older than it does, so that the replica asks RAW (hex updates); with binary, it
    answers BINARY polls too (the reply's updates then being the batches' bytes)."""

    def __init__(self, poll_reply, binary=False):
        self.poll_reply = poll_reply
        self.binary = binary
        super().__init__()

    def handle(self, conn, conn_no):
        f = conn.makefile("rb")
        try:
            while True:
                args = read_command(f)
                if not args:
                    return
                name = args[0].upper()
                if name == b"PSYNC":
                    conn.sendall(b"+CONTINUE " + b"ab" * 20 + b"\r\n")
                elif name == b"POLLUPDATES" and b"BINARY" in args and not self.binary:
                    conn.sendall(b"-ERR invalid FORMAT option 'BINARY', expected RAW, RESP or JSON\r\n")
                elif name == b"POLLUPDATES":
                    if self.poll_reply is None:
                        return
                    conn.sendall(self.poll_reply)
                    time.sleep(0.05)
                else:
                    conn.sendall(self.answer(args))
        except OSError:
            pass
        finally:
            conn.close()

    def answer(self, args):
        """The reply to any other command."""
        return b"+OK\r\n"


def poll_reply(*updates):
    """A RESP2 POLLUPDATES reply (a flat map) carrying the given raw updates (bytes)."""
    out = b"*8\r\n$15\r\nlatest_sequence\r\n:1\r\n$13\r\nnext_sequence\r\n:1\r\n$14\r\nfirst_sequence\r\n:1\r\n"
    out += b"$7\r\nupdates\r\n*%d\r\n" % len(updates)
    for u in updates:
        out += b"$%d\r\n%s\r\n" % (len(u), u)
    return out


def batch_hex(sequence, count, body=b""):
    import struct
    return (struct.pack("<QI", sequence, count) + body).hex().upper().encode()


@tidekv_only
@pytest.mark.parametrize("reply", [
    poll_reply(b"nothex!"),
    pytest.param(poll_reply(batch_hex(1, 1)), marks=pytest.mark.soak),  # a count with no record
    poll_reply(batch_hex(7, 1, b"\x01\x01a\x01b")),    # not the next sequence
    pytest.param(poll_reply(batch_hex(1, 1, b"\x05\x63\x01a\x01b")), marks=pytest.mark.soak),  # a column family tidekv does not have
    pytest.param(poll_reply(batch_hex(1, 1, b"\x01\x01a\x01b")), marks=pytest.mark.soak),  # a key of no database (no namespace)
    pytest.param(b"*3\r\n:1\r\n", marks=pytest.mark.soak),  # truncated
    pytest.param(b"$5\r\nhello\r\n", marks=pytest.mark.soak),  # not a map
    pytest.param(b"-ERR mismatched sequence number\r\n", marks=pytest.mark.soak),
    None,                                               # the link drops
], ids=["not-hex", "empty-batch", "wrong-sequence", "unknown-cf", "no-namespace", "truncated", "not-a-map",
        "error", "dropped"])
def test_a_hostile_master_never_corrupts_a_replica(make_server, reply):
    fake = FakeMaster(reply)
    try:
        replica = make_server({"repl-timeout": 2})
        c = replica.client()
        c.set("mine", "kept")
        seq = c.execute_command("SEQUENCE")
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        deadline = time.monotonic() + 8
        while fake.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.connections >= 2  # it logged, dropped the link and came back
        assert c.get("mine") == b"kept"
        assert c.execute_command("SEQUENCE") == seq
        assert c.dbsize() == 1
        assert "replica:" in replica.log()
    finally:
        fake.close()


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_a_refused_batch_in_the_middle_of_a_reply_stops_after_the_batches_before_it(make_server):
    """The batches of a reply are written as one, yet a refused one leaves the ones before it
    written, and nothing of itself or after it."""
    source = make_server()
    s = source.client()
    s.set("k1", "v1")
    s.set("k2", "v2")
    reply = s.execute_command("POLLUPDATES", 0, "MAX", 10, "FORMAT", "RAW")
    good = dict(zip(reply[::2], reply[1::2]))[b"updates"]
    assert len(good) == 2
    after = s.execute_command("SEQUENCE") + 1
    unknown_cf = batch_hex(after, 1, b"\x05\x63\x01a\x01b")
    fake = FakeMaster(poll_reply(*good, unknown_cf, batch_hex(after + 1, 1, b"\x01\x01a\x01b")))
    try:
        replica = make_server({"repl-timeout": 2})
        c = replica.client()
        assert c.execute_command("SEQUENCE") == bytes.fromhex(good[0].decode())[0] - 1 == 0
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        deadline = time.monotonic() + 8
        while fake.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.connections >= 2  # it logged, dropped the link and came back
        assert c.execute_command("SEQUENCE") == after - 1
        assert c.mget("k1", "k2") == [b"v1", b"v2"]
        assert c.dbsize() == 2
        assert "column family 99 is not one tidekv writes" in replica.log()
        assert c.execute_command("POLLUPDATES", 0, "MAX", 10, "FORMAT", "RAW") == reply
    finally:
        fake.close()


def test_replicaof_inside_multi_as_sentinel_sends_it(make_server):
    master, replica = start_pair(make_server)
    stop = threading.Event()

    def load():
        cl = master.client()
        while not stop.is_set():
            cl.incr("n")

    t = threading.Thread(target=load)
    t.start()
    try:
        time.sleep(0.2)
        with replica.conn() as conn:
            assert conn.call("MULTI") == Simple("OK")
            assert conn.call("REPLICAOF", "NO", "ONE") == Simple("QUEUED")
            assert conn.call("CLIENT", "LIST") == Simple("QUEUED")
            reply = conn.call("EXEC")
            assert reply[0] == Simple("OK") and isinstance(reply[1], bytes)
    finally:
        stop.set()
        t.join()
    assert info_repl(replica)["role"] == "master"
    assert replica.client().set("own", 1)


def test_config_rewrite_remembers_the_master(make_server, tmp_path):
    master = make_server()
    conf = tmp_path / "replica.conf"
    conf.write_text("# a replica\n")
    replica = make_server(config_file=conf)
    r = replica.client()
    r.execute_command("REPLICAOF", "127.0.0.1", master.port)
    assert r.config_rewrite()
    master.client().set("k", "v")
    replica.kill9()  # (redis-server's SIGTERM may wait on its AOF rewrite after the sync)
    replica.start()
    wait_synced(master, replica)
    assert info_repl(replica)["master_port"] == master.port
    assert replica.client().get("k") == b"v"
    r = replica.client()
    r.execute_command("REPLICAOF", "NO", "ONE")
    assert r.config_rewrite()
    replica.kill9()
    replica.start()
    assert info_repl(replica)["role"] == "master"


def test_functions_reach_the_replica(make_server):
    master, replica = start_pair(make_server)
    m = master.client()
    code = "#!lua name=lib\nredis.register_function{function_name='get', callback=function(k) " \
           "return redis.call('GET', k[1]) end, flags={'no-writes'}}"
    m.function_load(code)
    m.set("k", "v")
    wait_synced(master, replica)
    r = replica.client()
    assert r.fcall_ro("get", 1, "k") == b"v"
    assert r.function_list(withcode=True) == m.function_list(withcode=True)
    with pytest.raises(redis.exceptions.ReadOnlyError, match=READONLY):
        r.function_load(code.replace("name=lib", "name=other"))
    m.function_delete("lib")
    wait_synced(master, replica)
    assert r.function_list() == []


@tidekv_only
def test_durable_consumers_are_created_on_the_master(make_server):
    master, replica = start_pair(make_server)
    r = replica.client()
    for args in (("CDC", "CREATE", "c1"), ("CDC", "ACK", "c1", 1), ("CDC", "DROP", "c1")):
        with pytest.raises(redis.exceptions.ReadOnlyError, match=READONLY):
            r.execute_command(*args)
    assert r.execute_command("SEQUENCE") >= 0  # reads go on


def test_a_replica_without_its_master_refuses_psync(make_server):
    """As Redis: a replica whose own link is down (its master gone, or mid full sync) answers
    PSYNC with NOMASTERLINK, before looking at the arguments; once the link is up it serves."""
    from conftest import free_port
    master_port = free_port()
    replica = make_server({"replicaof": ["127.0.0.1", master_port]})
    c = replica.client()
    with pytest.raises(redis.ResponseError) as refused:
        c.execute_command("PSYNC", "?", "-1")
    assert str(refused.value) == "NOMASTERLINK Can't SYNC while not connected with my master"
    c.execute_command("REPLICAOF", "NO", "ONE")
    if not IS_REDIS:  # a master answers a tidekv PSYNC (redis-server would start an RDB transfer)
        reply = c.execute_command("PSYNC", "0" * 40, "0")
        assert reply.startswith(b"CONTINUE ") or reply.startswith(b"FULLRESYNC "), reply
