"""POLLUPDATES FORMAT BINARY: RAW's batches as binary-safe bulk strings (no hex), which tidekv
replicas ask their master for; an older master's refusal makes a replica fall back to RAW."""

import select
import socket
import struct
import threading
import time

import pytest
import redis

from conftest import encode_command, tidekv_only
from helpers import LoopbackServer
from test_cdc_helpers import pairs, poll, raw_header, seq
from test_replication import FakeMaster, poll_reply, wait_synced

pytestmark = tidekv_only


def err(r, *args):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    return str(ei.value)


def assert_same_as_raw(r, start, *opts):
    """A BINARY poll answers as the RAW poll does, each update the RAW one hex-decoded."""
    raw = poll(r, start, "FORMAT", "RAW", *opts)
    binary = poll(r, start, "FORMAT", "BINARY", *opts)
    assert binary["_keys"] == raw["_keys"]
    for k in ("latest_sequence", "next_sequence", "first_sequence"):
        assert binary[k] == raw[k], k
    assert binary["updates"] == [bytes.fromhex(u.decode()) for u in raw["updates"]]
    return binary


def all_batches_same_as_raw(r, page=1000):
    """Pages through the whole history in both formats; returns the BINARY updates."""
    pos, out = 0, []
    while True:
        d = assert_same_as_raw(r, pos, "MAX", page, "STRICT")
        out += d["updates"]
        if d["next_sequence"] >= d["latest_sequence"]:
            return out
        pos = d["next_sequence"]


def varied_writes(r):
    """Writes whose batches hold every byte value, CR LF inside values, a large value, a
    transaction, expiries and several databases."""
    r.set(b"bin\r\n\x00", bytes(range(256)) * 4)
    r.set("crlf", b"$5\r\nhello\r\n*1\r\n")
    r.set("big", b"\xff\x00" * 150000)
    with r.pipeline(transaction=True) as p:
        p.incr("n").hset("h", mapping={"f": b"\x00\x01", "g": "x"}).rpush("l", 1, 2, 3)
        p.execute()
    r.set("ttl", "v", px=100000)
    r.execute_command("SELECT", 3)
    r.set("in3", "v")
    r.execute_command("SELECT", 0)
    r.delete("crlf")


def test_every_batch_is_raw_decoded(r):
    varied_writes(r)
    updates = all_batches_same_as_raw(r)
    assert any(bytes(range(256)) * 4 in u for u in updates)
    assert any(b"\xff\x00" * 150000 in u for u in updates)


def test_batches_written_together_come_one_commit_each(server, r):
    """Concurrent writers share a RocksDB write: BINARY splits it into commits as RAW does."""
    base = seq(r)

    def writer(i):
        c = server.client()
        for j in range(150):
            c.set("w%d:%d" % (i, j), j)
        c.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    d = assert_same_as_raw(r, base, "MAX", 1000)
    assert len(d["updates"]) == 900
    assert [raw_header(u.hex())[0] for u in d["updates"]] == list(range(base + 1, base + 901))


def test_read_from_the_log_after_a_restart(make_server):
    """Batches older than the cache holds come from the WAL: the same bytes."""
    s = make_server()
    r = s.client()
    varied_writes(r)
    before = all_batches_same_as_raw(r)
    r.close()
    s.restart()
    r = s.client()
    assert all_batches_same_as_raw(r) == before
    r.close()


def test_resp3_client_gets_the_same_bytes(server, r):
    varied_writes(r)
    with server.conn() as c:
        c.call("HELLO", "3")
        raw = c.call("POLLUPDATES", 0, "MAX", 1000, "FORMAT", "RAW")
        binary = c.call("POLLUPDATES", 0, "MAX", 1000, "FORMAT", "BINARY")
    assert isinstance(binary, dict) and list(binary) == list(raw)
    assert len(binary[b"updates"]) > 5
    assert binary[b"updates"] == [bytes.fromhex(u.decode()) for u in raw[b"updates"]]


def test_max_pages_as_raw(r):
    base = seq(r)
    for i in range(10):
        r.set("k%d" % i, i)
    d = assert_same_as_raw(r, base, "MAX", 3)
    assert len(d["updates"]) == 3 and d["next_sequence"] == base + 3
    assert_same_as_raw(r, base + 3, "MAX", 1)


def test_strict_errs_as_raw_on_a_position_ahead(r):
    s = seq(r)
    assert err(r, "POLLUPDATES", s + 1, "STRICT", "FORMAT", "BINARY") == "next sequence is out of range"
    assert poll(r, s, "STRICT", "FORMAT", "BINARY")["updates"] == []


def test_strict_errs_on_lost_history(make_server):
    s = make_server(["--wal-ttl-seconds", "1", "--wal-size-limit-mb", "0", "--rocksdb.write_buffer_size", "1"])
    r = s.client(socket_timeout=30)
    r.set("first", "1")
    deadline = time.monotonic() + 30
    while r.info("keyspace")["oldest_sequence"] <= 2:
        assert time.monotonic() < deadline, "history was not purged"
        with r.pipeline(transaction=False) as p:
            for i in range(200):
                p.set("k%d" % i, b"x" * 8192)
            p.execute()
        time.sleep(0.3)
    e_raw = err(r, "POLLUPDATES", 1, "STRICT", "FORMAT", "RAW")
    e_bin = err(r, "POLLUPDATES", 1, "STRICT", "FORMAT", "BINARY")
    assert e_bin.startswith("mismatched sequence number, expected 2 but got ")
    assert e_raw == e_bin
    r.close()


test_strict_errs_on_lost_history = pytest.mark.soak(test_strict_errs_on_lost_history)  # long: make soak


def test_block_wakes_with_the_binary_batch(server, r):
    base = seq(r)
    with server.conn(timeout=10) as c:
        c.send(encode_command("POLLUPDATES", base, "FORMAT", "BINARY", "BLOCK", 5000))
        time.sleep(0.1)
        r.set("woke", b"\r\n\x00")
        d = dict(pairs(c.read_reply()))
    assert len(d["updates"]) == 1
    assert d["updates"][0] == bytes.fromhex(poll(r, base, "FORMAT", "RAW")["updates"][0].decode())
    assert raw_header(d["updates"][0].hex()) == (base + 1, 1)


def test_block_times_out_empty(r):
    s = seq(r)
    d = poll(r, s, "FORMAT", "BINARY", "BLOCK", 50)
    assert d["updates"] == [] and d["next_sequence"] == s


def test_format_name_is_case_insensitive(r):
    base = seq(r)
    r.set("a", "1")
    assert poll(r, base, "format", "binary")["updates"] == poll(r, base, "FORMAT", "BINARY")["updates"]


@pytest.mark.parametrize("flt", [("MATCH", "a*"), ("TYPE", "string"), ("DB", "0")])
def test_filters_are_refused(r, flt):
    assert err(r, "POLLUPDATES", 0, "FORMAT", "BINARY", *flt) == "MATCH, TYPE and DB filters need FORMAT RESP or JSON"
    assert err(r, "POLLUPDATES", 0, *flt, "FORMAT", "BINARY") == "MATCH, TYPE and DB filters need FORMAT RESP or JSON"


def test_bad_arguments(r):
    assert err(r, "POLLUPDATES", 0, "FORMAT", "BINARIES") == (
        "invalid FORMAT option 'BINARIES', expected RAW, RESP, JSON or BINARY")
    assert err(r, "POLLUPDATES", 0, "FORMAT") == "syntax error"
    assert err(r, "POLLUPDATES", 0, "FORMAT", "BINARY", "MAX", 0) == "out of numeric range"
    assert "not an integer" in err(r, "POLLUPDATES", 0, "FORMAT", "BINARY", "BLOCK", "soon")
    assert err(r, "POLLUPDATES", 0, "FORMAT", "BINARY", "BLOCK", -1) == "timeout is negative"
    assert "not an integer" in err(r, "POLLUPDATES", "x", "FORMAT", "BINARY")


def test_snapshot_read_has_no_binary_format(r):
    r.set("a", "1")
    sid = r.execute_command("SNAPSHOT", "CREATE")
    sid = dict(pairs(sid))["id"] if isinstance(sid, (list, dict)) else sid
    e = err(r, "SNAPSHOT", "READ", sid, "0", "FORMAT", "BINARY")
    assert e.startswith("invalid FORMAT option 'BINARY'"), e
    r.execute_command("SNAPSHOT", "RELEASE", sid)


# ---- the replica's link ----

BINARY_ARG, RAW_ARG = b"FORMAT\r\n$6\r\nBINARY\r\n", b"FORMAT\r\n$3\r\nRAW\r\n"


class LinkWatcher(LoopbackServer):
    """A proxy between a replica and its master that counts the replica's polls in each format;
    with rename, it renames FORMAT BINARY to BINARX, which the master refuses as a tidekv without
    BINARY would."""

    def __init__(self, target_port, rename=False):
        self.target_port = target_port
        self.rename = rename
        self.binary_polls = self.raw_polls = 0
        super().__init__()

    def handle(self, down, conn_no):
        up = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        try:
            while not self.stop.is_set():
                ready, _, _ = select.select([down, up], [], [], 0.1)
                for s in ready:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    if s is down:
                        self.binary_polls += chunk.count(BINARY_ARG)
                        self.raw_polls += chunk.count(RAW_ARG)
                        if self.rename:
                            chunk = chunk.replace(BINARY_ARG, b"FORMAT\r\n$6\r\nBINARX\r\n")
                    (up if s is down else down).sendall(chunk)
        except OSError:
            pass
        finally:
            down.close()
            up.close()


def test_a_replica_follows_in_binary(make_server):
    master = make_server()
    proxy = LinkWatcher(master.port)
    try:
        replica = make_server({"replicaof": ["127.0.0.1", proxy.port]})
        m = master.client()
        varied_writes(m)
        wait_synced(master, replica)
        assert proxy.binary_polls > 0 and proxy.raw_polls == 0
        assert all_batches_same_as_raw(replica.client()) == all_batches_same_as_raw(m)
    finally:
        proxy.close()


def test_a_replica_of_a_master_without_binary_follows_in_raw(make_server):
    master = make_server()
    proxy = LinkWatcher(master.port, rename=True)
    try:
        replica = make_server({"replicaof": ["127.0.0.1", proxy.port]})
        m = master.client()
        varied_writes(m)
        wait_synced(master, replica)
        assert proxy.binary_polls == 1 and proxy.raw_polls > 0  # once refused, the link asks RAW
        assert "does not know FORMAT BINARY" in replica.log()
        assert all_batches_same_as_raw(replica.client()) == all_batches_same_as_raw(m)
        assert replica.client().get("big") == b"\xff\x00" * 150000
    finally:
        proxy.close()


# ---- a hostile master answering in BINARY ----

def batch(sequence, count, body=b""):
    return struct.pack("<QI", sequence, count) + body


def replica_of_fake(make_server, reply):
    """A replica with a key of its own that follows a FakeMaster answering BINARY polls with
    reply, until it has dropped the link once."""
    fake = FakeMaster(reply, binary=True)
    try:
        replica = make_server({"repl-timeout": 2})
        c = replica.client()
        c.set("mine", "kept")
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        deadline = time.monotonic() + 8
        while fake.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.connections >= 2  # it logged, dropped the link and came back
    except BaseException:
        fake.close()
        raise
    return fake, replica, c


@pytest.mark.soak  # long: runs under make soak
@pytest.mark.parametrize("reply", [
    poll_reply(batch(7, 1, b"\x01\x01a\x01b")),  # not the next sequence
    poll_reply(batch(2, 1, b"\x05\x63\x01a\x01b")),  # a column family tidekv does not have
    poll_reply(batch(2, 1)),  # a count with no record
    poll_reply(b"\x02\x00\x00"),  # shorter than a header
    poll_reply(batch(2, 1, b"\x01\x01a\x01b")[:-1] + b"\r\n")[:-4],  # truncated
    poll_reply().replace(b"*0\r\n", b"*1\r\n:17\r\n"),  # not a string
], ids=["wrong-sequence", "unknown-cf", "empty-batch", "short", "truncated", "not-a-string"])
def test_a_hostile_binary_reply_never_corrupts_a_replica(make_server, reply):
    fake, replica, c = replica_of_fake(make_server, reply)
    try:
        assert c.get("mine") == b"kept"
        assert c.execute_command("SEQUENCE") == 1
        assert c.dbsize() == 1
        assert "replica:" in replica.log()
    finally:
        fake.close()


@pytest.mark.soak  # long: runs under make soak
def test_a_refused_binary_batch_stops_after_the_batches_before_it(make_server):
    """The batches of a reply are staged together; one refused in the middle leaves the ones
    before it written, and nothing of itself or after it."""
    source = make_server()
    s = source.client()
    for i in range(5):
        s.set("k%d" % i, "v%d" % i)
    good = poll(s, 0, "MAX", 10, "FORMAT", "BINARY")["updates"]
    assert len(good) == 5
    after = seq(s) + 1
    reply = poll_reply(*good, batch(after, 1, b"\x05\x63\x01a\x01b"), batch(after + 1, 1, b"\x01\x01a\x01b"))
    fake = FakeMaster(reply, binary=True)
    try:
        replica = make_server({"repl-timeout": 2})
        c = replica.client()
        c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        deadline = time.monotonic() + 8
        while fake.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.connections >= 2
        assert seq(c) == after - 1
        assert c.mget(*("k%d" % i for i in range(5))) == [b"v%d" % i for i in range(5)]
        assert c.dbsize() == 5
        assert "column family 99 is not one tidekv writes" in replica.log()
        assert poll(c, 0, "MAX", 10, "FORMAT", "BINARY")["updates"] == good
    finally:
        fake.close()
