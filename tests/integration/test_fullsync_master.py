"""Full sync, the master's side (README, "Replication", wire protocol): a PSYNC that cannot
continue gets +FULLRESYNC <replid> <sequence> <id> and a RocksDB checkpoint that the client
downloads with FULLSYNC FILES / READ and releases with its first POLLUPDATES from the sequence
(or FULLSYNC DONE). redis-py plays the replica.
"""
import os
import re
import shutil
import socket
import tempfile
import threading
import time

import pytest
import redis

from conftest import soak, tidekv_only
from test_cdc_helpers import poll, seq, wait_until
from helpers import write_every_type
from test_replication import dataset, info_repl

pytestmark = tidekv_only

CHUNK = 1 << 18  # the replica reads 4 MiB at a time; smaller here, so that files span chunks
PURGE_ARGS = ["--wal-ttl-seconds", "1", "--wal-size-limit-mb", "0"]


def link(s):
    """One connection, as a replica's link is: a checkpoint belongs to it."""
    return s.client(single_connection_client=True)


def hang_up(c):
    c.connection.disconnect()
    c.close()


def full_resync(c, replid="f" * 40, sequence=1):
    reply = c.execute_command("PSYNC", replid, sequence, "0" * 40).decode()
    m = re.fullmatch(r"FULLRESYNC ([0-9a-f]{40}) (\d+) ([0-9a-f]{40})", reply)
    assert m, reply
    return m.group(1), int(m.group(2)), m.group(3)


def checkpoints_dir(s):
    return os.path.join(s.datadir, "repl-checkpoints")


def checkpoint_ids(s):
    d = checkpoints_dir(s)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def files_of(c, cid):
    flat = c.execute_command("FULLSYNC", "FILES", cid)
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def download(c, cid, into):
    """FILES, then every file READ in chunks; checks the sizes."""
    files = files_of(c, cid)
    for name, size in files.items():
        with open(os.path.join(into, name), "wb") as f:
            offset = 0
            while True:
                data = c.execute_command("FULLSYNC", "READ", cid, name, offset, CHUNK)
                if not data:
                    break
                assert len(data) <= CHUNK
                f.write(data)
                offset += len(data)
        assert offset == size, name
    return files


def test_psync_that_cannot_continue_gets_a_checkpoint(make_server):
    s = make_server()
    m = s.client()
    write_every_type(m)
    c = link(s)
    replid, sequence, cid = full_resync(c, "f" * 40, 1)  # another history
    assert replid == info_repl(s)["master_replid"]
    assert sequence == seq(m)
    assert checkpoint_ids(s) == [cid]
    slave = info_repl(s)["slave0"]
    assert slave["state"] == "send_bulk" and slave["offset"] == 0
    assert m.execute_command("ROLE")[2] == []  # as Redis: only online replicas
    assert m.execute_command("WAIT", 0, 0) == 0  # a syncing replica acknowledges nothing
    m.set("after", "1")
    _, ahead, cid2 = full_resync(c, replid, 10 ** 12)  # ahead of the master
    assert ahead == sequence + 1
    assert checkpoint_ids(s) == [cid2]  # the client's first checkpoint was replaced
    stats = m.info("stats")
    assert stats["sync_full"] == 2 and stats["sync_partial_err"] == 2
    c.execute_command("POLLUPDATES", ahead, "MAX", 1)  # its first poll: it has the copy
    assert info_repl(s)["slave0"]["state"] == "online"
    assert checkpoint_ids(s) == []  # released by that poll


def test_a_replica_that_never_says_done_releases_its_checkpoint_by_polling(make_server):
    """A replica that swapped the copy in and polls from its sequence on no longer needs it
    (nor the WAL it pins), whether or not it ever sends FULLSYNC DONE."""
    s = make_server()
    m = s.client()
    m.set("k", "v")
    c = link(s)
    _, sequence, cid = full_resync(c)
    c.execute_command("POLLUPDATES", sequence - 1, "MAX", 1)  # behind it: still needed
    assert checkpoint_ids(s) == [cid]
    m.set("after", "1")
    c.execute_command("POLLUPDATES", sequence, "MAX", 1)
    assert checkpoint_ids(s) == []
    assert "checkpoint %s removed, its replica holds its sequence" % cid in s.log()
    with pytest.raises(redis.ResponseError, match="^no such checkpoint$"):
        c.execute_command("FULLSYNC", "DONE", cid)
    # A poll that is no replica's (no PSYNC on its link) releases nothing.
    other = link(s)
    _, sequence, cid = full_resync(other)
    s.client().execute_command("POLLUPDATES", sequence, "MAX", 1)
    assert checkpoint_ids(s) == [cid]


@soak  # two servers and a download: 3 s or more
def test_a_downloaded_checkpoint_is_the_database_at_its_sequence(make_server, tmp_path):
    s = make_server()
    m = s.client()
    write_every_type(m, n=20)
    m.set("big", os.urandom(2 * CHUNK + 5))  # read in several chunks
    stop = threading.Event()
    pushed = []

    def writer():  # commits land right up to the checkpoint and after it: one element each
        w = s.client()
        while not stop.is_set():
            pushed.append(w.rpush("pushed", len(pushed)))

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_until(lambda: len(pushed) > 10, msg="pushes")
        c = link(s)
        _, sequence, cid = full_resync(c)
        n = len(pushed)
        wait_until(lambda: len(pushed) > n + 10, msg="pushes")
    finally:
        stop.set()
        t.join()
    download(c, cid, str(tmp_path))
    copy = make_server(start=False)
    os.rmdir(copy.datadir)
    shutil.copytree(str(tmp_path), copy.datadir)
    copy.start()
    r = copy.client()
    assert seq(r) == sequence
    # The pushes up to the checkpoint, none after it
    kept = r.llen("pushed")
    assert 10 < kept < len(pushed)
    expected = dataset(s)
    expected[b"pushed"] = ("list", [str(i).encode() for i in range(kept)], False)
    assert dataset(copy) == expected  # "big" too
    assert r.get("big") == m.get("big")


@soak  # the WAL's TTL counts whole seconds: 4 s or so
def test_the_wal_after_the_checkpoint_stays_until_done(make_server):
    s = make_server(PURGE_ARGS)
    m = s.client()
    m.set("before", "1")
    c = link(s)
    _, sequence, cid = full_resync(c)
    m.set("after", "1")
    other = link(s)
    full_resync(other)  # its flush moves the WAL holding "after" to the archive
    hang_up(other)
    time.sleep(2.5)  # older than the TTL, and a retention pass since
    d = poll(m, sequence, "STRICT", "MAX", 1, "FORMAT", "RESP")
    assert d["first_sequence"] == sequence + 1
    assert d["updates"][0]["commands"][0][1] == b"after"
    assert c.execute_command("FULLSYNC", "DONE", cid) == b"OK"
    m.set("later", "1")
    full_resync(link(s))  # another flush: the files before "later" are archived, unpinned
    wait_until(lambda: m.info("keyspace")["oldest_sequence"] > sequence + 1, timeout=5, msg="the WAL purged")
    with pytest.raises(redis.ResponseError, match="mismatched sequence"):
        m.execute_command("POLLUPDATES", sequence, "STRICT")


def test_done_and_disconnection_remove_checkpoints(make_server):
    s = make_server()
    s.client().set("k", "v")
    c = link(s)
    _, _, cid = full_resync(c)
    assert c.execute_command("FULLSYNC", "DONE", cid) == b"OK"
    assert checkpoint_ids(s) == []
    with pytest.raises(redis.ResponseError, match="^no such checkpoint$"):
        c.execute_command("FULLSYNC", "DONE", cid)
    full_resync(c)
    hang_up(c)
    wait_until(lambda: checkpoint_ids(s) == [], timeout=3, msg="the checkpoint removed")
    wait_until(lambda: info_repl(s)["connected_slaves"] == 0, timeout=3, msg="the replica gone")
    with socket.create_connection(("127.0.0.1", s.port)) as sock:  # gone while it is made
        sock.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$1\r\n9\r\n")
    wait_until(lambda: s.log().count("full sync: checkpoint ") == 6 and checkpoint_ids(s) == [], timeout=3,
               msg="the third checkpoint made and removed")


@soak  # two restarts
def test_restart_and_shutdown_remove_checkpoints(make_server):
    s = make_server()
    s.client().set("k", "v")
    kept = link(s)
    full_resync(kept)
    s.kill9()
    assert len(checkpoint_ids(s)) == 1
    s.start()
    assert not os.path.exists(checkpoints_dir(s))
    kept = link(s)
    full_resync(kept)
    assert len(checkpoint_ids(s)) == 1
    s.stop()
    assert not os.path.exists(checkpoints_dir(s))


def test_fullsync_errors(make_server):
    s = make_server()
    s.client().set("k", "v")
    c = link(s)
    _, _, cid = full_resync(c)
    name, size = next(iter(files_of(c, cid).items()))
    assert c.execute_command("FULLSYNC", "READ", cid, name, size, 10) == b""  # the end
    assert c.execute_command("FULLSYNC", "READ", cid, name, 0, 0) == b""
    assert len(c.execute_command("FULLSYNC", "READ", cid, name, 0, 8388608)) == size
    cases = [
        (("FULLSYNC",), "wrong number of arguments for 'fullsync' command"),
        (("FULLSYNC", "FILES"), "wrong number of arguments for 'fullsync|files' command"),
        (("FULLSYNC", "READ", cid, name, 0), "wrong number of arguments for 'fullsync|read' command"),
        (("FULLSYNC", "DONE", cid, "x"), "wrong number of arguments for 'fullsync|done' command"),
        (("FULLSYNC", "NOPE", cid), "unknown subcommand 'NOPE'. Try FULLSYNC HELP."),
        (("FULLSYNC", "READ", cid, name, "x", 1), "value is not an integer or out of range"),
        (("FULLSYNC", "READ", cid, name, 0, "1.5"), "value is not an integer or out of range"),
        (("FULLSYNC", "READ", cid, name, -1, 1), "offset out of range"),
        (("FULLSYNC", "READ", cid, name, size + 1, 1), "offset out of range"),
        (("FULLSYNC", "READ", cid, name, 0, -1), "count out of range"),
        (("FULLSYNC", "READ", cid, name, 0, 8388609), "count out of range"),
        (("FULLSYNC", "FILES", "0" * 40), "no such checkpoint"),
        (("FULLSYNC", "FILES", cid[:-1]), "no such checkpoint"),
        (("FULLSYNC", "READ", "x", name, 0, 1), "no such checkpoint"),
        (("FULLSYNC", "DONE", cid.upper()), "no such checkpoint"),
    ]
    for bad in ["../" + name, name + "/..", "..", ".", "", "/etc/passwd", "../../server.log", name + "\0",
                "repl-checkpoints/%s/%s" % (cid, name)]:
        cases.append((("FULLSYNC", "READ", cid, bad, 0, 1), "no such file"))
    for args, error in cases:
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command(*args)
        assert str(e.value) == error, args
    # Another client sees nothing of it, nor removes it
    other = link(s)
    for args in [("FILES", cid), ("READ", cid, name, 0, 1), ("DONE", cid)]:
        with pytest.raises(redis.ResponseError, match="^no such checkpoint$"):
            other.execute_command("FULLSYNC", *args)
    assert checkpoint_ids(s) == [cid]
    # Not inside MULTI, not from a script
    p = other.pipeline(transaction=True)
    p.execute_command("FULLSYNC", "FILES", cid)
    with pytest.raises(redis.ResponseError, match="not allowed inside a transaction"):
        p.execute()
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        other.eval("return redis.call('FULLSYNC', 'FILES', KEYS[1])", 1, cid)


@soak  # five checkpoints, each after a flush: 2 s under load
def test_checkpoints_are_capped(make_server):
    s = make_server()
    s.client().set("k", "v")
    links = [link(s) for _ in range(5)]
    for c in links[:4]:
        full_resync(c)
    with pytest.raises(redis.ResponseError, match="^too many full synchronizations in progress"):
        links[4].execute_command("PSYNC", "f" * 40, 1)
    full_resync(links[0])  # a client's second one replaces its first: still 4
    assert len(checkpoint_ids(s)) == 4
    hang_up(links[1])
    wait_until(lambda: len(checkpoint_ids(s)) == 3, timeout=3, msg="a checkpoint removed")
    full_resync(links[4])
    assert len(checkpoint_ids(s)) == 4
    assert s.client().info("stats")["sync_full"] == 6


def test_fullsync_needs_auth(make_server):
    s = make_server({"requirepass": "secret"})
    c = s.client()
    for args in [("PSYNC", "f" * 40, 1), ("FULLSYNC", "FILES", "0" * 40)]:
        with pytest.raises(redis.exceptions.AuthenticationError):
            c.execute_command(*args)
