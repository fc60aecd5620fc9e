"""Durable CDC consumers under replication (REPLICATION.md, README "Replication"): a replica
takes its master's consumers within a second, keeps them over a restart, pins its own WAL for
them, and after a failover a consumer, a BLOCKed follower and tidekv-cdc continue on the
promoted replica from where they were, nothing lost or repeated."""

import os
import threading
import time

import pytest
import redis

from conftest import tidekv_only
from test_cdc_consumers import PURGE_ARGS, as_dict, cdc, error_of, info, oldest, write_round
from test_cdc_helpers import poll, seq, wait_until
from test_replication import FakeMaster, poll_reply, start_pair, wait_synced
from test_tidekv_cdc import args_for, assert_same_data, position, run_tool

pytestmark = tidekv_only

SHOWN = ("name", "sequence", "state", "created", "acked")  # what the replica takes from its master


def consumers(s):
    """Each consumer's replicated fields, in CDC INFO's order."""
    return [tuple(as_dict(c)[k] for k in SHOWN) for c in cdc(s.client(), "INFO")]


def wait_same_consumers(master, replica, within=1.5):
    """Waits until the replica lists the master's consumers; returns how long that took."""
    start = time.monotonic()
    want = consumers(master)
    wait_until(lambda: consumers(replica) == want, timeout=within + 3,
               msg="the replica lists %r, the master %r" % (consumers(replica), want))
    took = time.monotonic() - start
    assert took <= within, "the replica took %.2f s to take the master's consumers" % took
    return took


def position_of(s, name):
    """A consumer's position on s, or None while s has no such consumer."""
    try:
        return info(s.client(), name)["sequence"]
    except redis.ResponseError:
        return None


def file_identity(s):
    st = os.stat(os.path.join(s.datadir, "cdc-consumers"))
    return st.st_ino, st.st_mtime_ns


@pytest.mark.soak  # long: runs under make soak
def test_create_ack_drop_reach_the_replica_within_a_second(make_server):
    master, replica = start_pair(make_server)
    m, r = master.client(), replica.client()
    m.set("k", "v")
    cdc(m, "CREATE", "a")
    cdc(m, "CREATE", "b", "FROM", 0)
    wait_same_consumers(master, replica)
    m.set("k", "w")
    wait_synced(master, replica)
    assert cdc(m, "ACK", "b", seq(m)) == b"OK"
    wait_same_consumers(master, replica)
    assert info(r, "b")["acked"] > 0 and info(r, "b")["lag"] == 0
    assert info(r, "a")["lag"] == 1  # the replica's own latest counts
    # nothing changes: the file is not written again
    before = file_identity(replica)
    time.sleep(2.2)
    assert file_identity(replica) == before
    # the master drops one: gone from the replica; dropped and created again: the new one
    assert cdc(m, "DROP", "a") == 1
    cdc(m, "DROP", "b")
    cdc(m, "CREATE", "b")
    wait_same_consumers(master, replica)
    assert [c[0] for c in consumers(replica)] == ["b"] and info(r, "b")["acked"] == 0
    assert error_of(r, "CDC", "INFO", "a") == "no such consumer"
    assert r.info("keyspace")["cdc_consumers"] == 1


@pytest.mark.soak  # long: runs under make soak
def test_a_restarted_replica_keeps_the_consumers(make_server):
    master, replica = start_pair(make_server)
    m = master.client()
    m.set("k", "v")
    cdc(m, "CREATE", "c", "FROM", 0)
    cdc(m, "ACK", "c", 1)
    wait_same_consumers(master, replica)
    want = consumers(master)
    master.stop()  # what the replica lists now comes from its own file
    replica.kill9()
    replica.start()
    assert consumers(replica) == want
    replica.stop()
    replica.start()
    assert consumers(replica) == want
    assert info(replica.client(), "c")["state"] == "active"


def set_position(s, name, sequence):
    """Rewrites a stopped server's consumers file with name at sequence."""
    path = os.path.join(s.datadir, "cdc-consumers")
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        words = line.split(" ")
        if words[:2] == ["consumer", name]:
            words[2] = str(sequence)
            lines[i] = " ".join(words)
    with open(path, "w") as f:
        f.write("\n".join(lines))


@pytest.mark.soak  # long: runs under make soak
def test_a_consumer_ahead_of_a_replica_is_kept_and_lost_when_promoted(make_server):
    """A replica that lags holds positions past its latest: it catches up. Promoted before it
    does, the changes the consumer has seen are not there: it is lost, never silently active."""
    master, replica = start_pair(make_server)
    m = master.client()
    m.set("k", "v")
    cdc(m, "CREATE", "c")
    wait_same_consumers(master, replica)
    latest = seq(replica.client())
    master.stop()
    replica.stop()
    set_position(replica, "c", latest + 5)  # acknowledged on the master, not yet replicated
    replica.start()
    r = replica.client()
    d = info(r, "c")
    assert d["state"] == "active" and d["sequence"] == latest + 5
    assert d["lag"] == 0 and d["retained_bytes"] >= 0
    assert "lost its history" not in replica.log()
    r.execute_command("REPLICAOF", "NO", "ONE")
    assert info(r, "c")["state"] == "lost"
    assert error_of(r, "CDC", "ACK", "c", latest) == "consumer lost its history"
    assert "CDC consumer 'c' lost its history" in replica.log()
    r.set("new", 1)  # the promoted replica writes on
    assert info(r, "c")["lag"] == 0


@pytest.mark.soak  # long: runs under make soak
def test_the_replica_keeps_the_history_a_consumer_needs(make_server):
    master = make_server(PURGE_ARGS)
    replica = make_server(PURGE_ARGS + ["--replicaof", "127.0.0.1", str(master.port)])
    m, r = master.client(socket_timeout=30), replica.client(socket_timeout=30)
    m.set("first", "1")
    start = seq(m)
    cdc(m, "CREATE", "c", "FROM", start)
    wait_same_consumers(master, replica)
    for i in range(30):
        write_round(m, "r%d" % i)
    wait_synced(master, replica)
    time.sleep(2.5)  # well past the TTL: several retention passes on both
    assert oldest(r) <= start + 1
    assert poll(r, start, "STRICT", "MAX", 1)["first_sequence"] == start + 1
    # acknowledged on the master: the replica releases what is behind it
    mid = seq(m) - 10
    cdc(m, "ACK", "c", mid)
    wait_until(lambda: oldest(r) > start + 1, timeout=15, msg="the replica released the acknowledged history")
    assert oldest(r) <= mid + 1
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    assert poll(r, mid, "STRICT", "MAX", 1)["first_sequence"] == mid + 1
    assert cdc(r, "ACK", "c", mid + 1) == b"OK"


@pytest.mark.soak  # long: runs under make soak
def test_a_consumer_the_replica_has_no_history_for_is_lost_there_until_it_has(make_server):
    master = make_server()  # keeps its whole history
    replica = make_server(PURGE_ARGS + ["--replicaof", "127.0.0.1", str(master.port)])
    m, r = master.client(socket_timeout=30), replica.client(socket_timeout=30)
    m.set("first", "1")
    start = seq(m)
    wait_synced(master, replica)
    for i in range(30):
        write_round(m, "r%d" % i)
    wait_synced(master, replica)
    wait_until(lambda: oldest(r) > start + 1, timeout=15, msg="the replica kept its history")
    cdc(m, "CREATE", "c", "FROM", start)
    wait_until(lambda: position_of(replica, "c") == start, timeout=3, msg="the consumer did not reach the replica")
    assert info(r, "c")["state"] == "lost" and info(m, "c")["state"] == "active"
    assert "CDC consumer 'c' of the master is lost here (the changes after its position are gone)" in replica.log()
    time.sleep(1.2)
    assert replica.log().count("CDC consumer 'c' of the master is lost here") == 1  # judged once
    # acknowledged into the history the replica holds: active there too, and it pins it
    latest = seq(m)
    cdc(m, "ACK", "c", latest)
    wait_until(lambda: info(r, "c")["state"] == "active", timeout=3, msg="the consumer stayed lost")
    assert info(r, "c")["sequence"] == latest
    write_round(m, "after")
    wait_synced(master, replica)
    time.sleep(2.5)
    assert oldest(r) <= latest + 1


class Reader:
    """Polls one server (FORMAT RESP, STRICT) from a position, recording every batch it sees as
    (sequence, count, commands); with consumer, acknowledges each poll."""

    def __init__(self, server, position, consumer=None):
        self.server, self.position, self.consumer = server, position, consumer
        self.seen = []

    def poll_once(self, block_ms=200):
        c = self.server.client(socket_timeout=10)
        try:
            reply = poll(c, self.position, "STRICT", "MAX", 100, "FORMAT", "RESP", "BLOCK", block_ms)
            self.seen += [(u["sequence"], u["count"], [tuple(cmd) for cmd in u["commands"]]) for u in reply["updates"]]
            self.position = reply["next_sequence"]
            if self.consumer and reply["updates"]:
                assert cdc(c, "ACK", self.consumer, self.position) == b"OK"
        finally:
            c.close()

    def until(self, sequence):
        deadline = time.monotonic() + 20
        while self.position < sequence:
            assert time.monotonic() < deadline, "stuck at %d, want %d" % (self.position, sequence)
            self.poll_once()


def history(s, start):
    """Every batch after start on s, as Reader records them."""
    h = Reader(s, start)
    h.until(seq(s.client()))
    return h.seen


@pytest.mark.soak  # long: runs under make soak
def test_a_consumer_and_a_blocked_follower_move_to_the_promoted_replica(make_server):
    master, replica = start_pair(make_server)
    m = master.client()
    m.set("before", 1)
    wait_synced(master, replica)
    start = seq(m)
    cdc(m, "CREATE", "c", "FROM", start)
    stop_writer, stop_follower = threading.Event(), threading.Event()
    sent = []

    def writer():
        c = master.client(socket_timeout=2)
        while not stop_writer.is_set():
            sent.append(len(sent))
            try:
                c.set("k%d" % sent[-1], sent[-1])
            except redis.exceptions.ConnectionError:
                return  # the master is gone
            time.sleep(0.001)

    follower = Reader(replica, start)
    follower_errors = []

    def follow():
        try:
            while not stop_follower.is_set():
                follower.poll_once(block_ms=5000)
        except Exception as e:  # noqa: BLE001 (reported below)
            follower_errors.append(e)

    threads = [threading.Thread(target=writer), threading.Thread(target=follow)]
    for t in threads:
        t.start()
    consumer = Reader(master, start, consumer="c")
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # the consumer follows the master and acknowledges
            consumer.poll_once()
        acked = consumer.position
        # its last acknowledgement and the batches before it reach the replica
        wait_until(lambda: position_of(replica, "c") == acked, timeout=3,
                   msg="the acknowledgement did not reach the replica")
        wait_until(lambda: seq(replica.client()) >= acked, timeout=5, msg="the replica did not catch up")
        master.kill9()
        threads[0].join(10)
        r = replica.client()
        wait_until(lambda: follower.position == seq(r), timeout=5, msg="the follower did not catch up")
        time.sleep(0.3)  # its poll BLOCKs across the promotion
        assert r.execute_command("REPLICAOF", "NO", "ONE") in (b"OK", True)
        promoted_at = seq(r)
        for i in range(50):  # the writes go on on the new master
            r.set("after%d" % i, i)
        end = seq(r)
        # the consumer continues on the promoted replica from its acknowledged position
        assert info(r, "c")["sequence"] == acked and info(r, "c")["state"] == "active"
        consumer.server = replica
        consumer.until(end)
        wait_until(lambda: follower.position == end, timeout=10, msg="the follower stopped")
    finally:
        stop_writer.set()
        stop_follower.set()
        for t in threads:
            t.join(15)
    assert not follower_errors, follower_errors
    want = history(replica, start)
    assert [b[0] for b in want] == [start + 1] + [b[0] + b[1] for b in want[:-1]]  # the whole history
    assert want[-1][0] + want[-1][1] - 1 == end
    assert consumer.seen == want  # no gap, nothing twice
    assert follower.seen == want
    assert info(replica.client(), "c")["sequence"] == end
    # what the replica got: a prefix of the master's writes, then the new master's
    keys = [cmd[1] for b in want for cmd in b[2]]
    got = [int(k[1:]) for k in keys if k.startswith(b"k")]
    assert got == sent[:len(got)] and len(got) > 0
    assert keys[len(got):] == [b"after%d" % i for i in range(50)]
    assert promoted_at == want[len(got) - 1][0] + want[len(got) - 1][1] - 1


@pytest.mark.soak  # long: runs under make soak
def test_tidekv_cdc_resumes_on_the_promoted_replica(make_server):
    master, replica = start_pair(make_server)
    target = make_server()
    m = master.client()
    for i in range(100):
        m.set("k%d" % i, i)
    rc, _, err = run_tool(*args_for(master, target, "--once"))
    assert rc == 0, err
    acked = position(target)
    assert info(m, "mig")["sequence"] == acked
    wait_until(lambda: position_of(replica, "mig") == acked, timeout=3,
               msg="the acknowledgement did not reach the replica")
    wait_synced(master, replica)
    master.kill9()
    r = replica.client()
    r.execute_command("REPLICAOF", "NO", "ONE")
    for i in range(100, 150):
        r.set("k%d" % i, i)
    r.delete("k0")
    rc, _, err = run_tool(*args_for(replica, target, "--once"))
    assert rc == 0, err
    assert position(target) == seq(r) == info(r, "mig")["sequence"]
    assert_same_data(replica, target)


def resp(value):
    """RESP2 encoding of str, int, list (None: an error)."""
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(resp(v) for v in value)
    value = value.encode()
    return b"$%d\r\n%s\r\n" % (len(value), value)


def consumer_map(name, sequence=1, state="active", created=1, acked=0):
    return ["name", name, "sequence", sequence, "lag", 0, "retained_bytes", 0, "state", state,
            "created", created, "acked", acked]


class ConsumersMaster(FakeMaster):
    """A master whose batches are none and whose CDC INFO is the given reply."""

    def __init__(self, info_reply):
        self.info_reply = info_reply
        super().__init__(poll_reply())

    def answer(self, args):
        return self.info_reply if args[:2] == [b"CDC", b"INFO"] else b"+OK\r\n"


@pytest.mark.parametrize("reply", [
    b"+OK\r\n",
    pytest.param(b"-ERR unknown subcommand\r\n", marks=pytest.mark.soak),
    resp([consumer_map("a b")]),
    resp([consumer_map("a"), consumer_map("a", sequence=2)]),
    pytest.param(resp([consumer_map("a", state="sleepy")]), marks=pytest.mark.soak),
    pytest.param(resp([consumer_map("a", sequence=-1)]), marks=pytest.mark.soak),
    pytest.param(resp([consumer_map("a")[:6]]), marks=pytest.mark.soak),
    pytest.param(resp([consumer_map("x" * 129)]), marks=pytest.mark.soak),
], ids=["status", "error", "bad-name", "name-twice", "bad-state", "negative", "fields-missing", "long-name"])
def test_a_hostile_consumers_list_changes_nothing(make_server, reply):
    fake = ConsumersMaster(reply)
    try:
        s = make_server({"repl-timeout": 2})
        c = s.client()
        cdc(c, "CREATE", "mine")
        want = consumers(s)
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        wait_until(lambda: fake.connections >= 2, timeout=8, msg="the replica did not reconnect")
        assert consumers(s) == want
        assert "replica: can't take the master's CDC consumers" in s.log()
    finally:
        fake.close()


def test_a_replica_takes_a_lost_consumer_and_one_ahead_of_it(make_server):
    fake = ConsumersMaster(resp([consumer_map("gone", state="lost", created=5, acked=6),
                                 consumer_map("ahead", sequence=10 ** 6, created=7)]))
    try:
        s = make_server()
        c = s.client()
        cdc(c, "CREATE", "mine")  # a node that becomes a replica takes its master's consumers
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        wait_until(lambda: len(consumers(s)) == 2 and consumers(s)[0][0] == "gone", timeout=5,
                   msg="the replica did not take the consumers: %r" % consumers(s))
        assert consumers(s) == [("gone", 1, "lost", 5, 6), ("ahead", 10 ** 6, "active", 7, 0)]
        assert info(c, "ahead")["lag"] == 0
        with open(os.path.join(s.datadir, "cdc-consumers")) as f:
            assert "consumer ahead 1000000 active 7 0" in f.read()
    finally:
        fake.close()
