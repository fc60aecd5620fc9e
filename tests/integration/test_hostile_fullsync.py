"""Full sync's master side attacked as a careless or malicious replica would, and as an unlucky
operator would run it (test_fullsync_master.py has the protocol itself)."""
import os
import threading
import time

import pytest
import redis

from conftest import RespError, encode_command, soak, tidekv_only
from test_cdc_helpers import wait_until
from test_fullsync_master import checkpoint_ids, download, files_of, full_resync, link
from test_replication import info_repl, start_pair, wait_synced

pytestmark = tidekv_only

READ_MAX = 8 << 20


@soak  # repl-timeout is 1 s at least, checked once a second: 2 s
def test_a_silent_link_loses_its_checkpoint_after_repl_timeout(make_server):
    """A replica that stops (SIGSTOP, a cut without a reset) would pin its checkpoint's files and
    the WAL after it for good: its link goes after repl-timeout, as Redis drops such a replica."""
    s = make_server({"repl-timeout": 1})
    s.client().set("k", "v")
    c = link(s)
    full_resync(c)
    assert len(checkpoint_ids(s)) == 1
    wait_until(lambda: checkpoint_ids(s) == [], timeout=3, interval=0.02, msg="the checkpoint removed")
    assert "silent for repl-timeout" in s.log()
    assert info_repl(s)["connected_slaves"] == 0


# The replica holds the swap with a script of this long, while the master's repl-timeout is 1 s.
BUSY_SCRIPT = """local t = redis.call('TIME')
while true do
  local n = redis.call('TIME')
  if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) >= 3000000 then return 1 end
end"""


@soak  # long: runs under make soak (a 3 s script holds the swap)
def test_a_replica_silent_while_it_swaps_the_copy_in_keeps_its_link(make_server):
    """After its last read a replica swaps the copy in, silent for about a second per million
    keys: the master keeps its link past repl-timeout (else the checkpoint would go and the full
    sync start over, for ever past some size). Here a script on the replica holds the swap
    (which waits for the global lock) for 3 s; a proxy slows the download so that the script
    starts during it."""
    from test_hostile_replication import Proxy
    master = make_server({"repl-timeout": 1})
    for i in range(6):  # a checkpoint of a few MiB: a download of half a second through the proxy
        master.client().set("big%d" % i, os.urandom(1 << 20))
    slow = Proxy(master.port)
    slow.mangle = lambda conn_no, offset, chunk: (time.sleep(0.005), chunk)[1]
    try:
        replica = make_server()
        replica.client().set("own", "1")  # another history: a full sync
        replica.client().execute_command("REPLICAOF", "127.0.0.1", slow.port)
        wait_until(lambda: info_repl(replica)["master_sync_in_progress"] == 1, timeout=10, interval=0.01,
                   msg="the download started")
        busy = threading.Thread(target=lambda: replica.client(socket_timeout=30).eval(BUSY_SCRIPT, 0))
        busy.start()
        busy.join()
        wait_synced(master, replica)
        stats = master.client().info("stats")
        assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 0
        assert "silent for repl-timeout" not in master.log()
        assert replica.client().get("big5") == master.client().get("big5")
        wait_until(lambda: checkpoint_ids(master) == [], timeout=3, msg="the checkpoint released by the first poll")
    finally:
        slow.close()


@soak  # repl-timeout of 1 s plus a second of grace, checked once a second: 3 s
def test_a_replica_hung_after_its_download_is_still_dropped(make_server, tmp_path):
    """A replica that read all of its checkpoint gets longer than repl-timeout to swap it in (a
    second per MB of copy), not for ever: one hung then must not pin the files and the WAL."""
    s = make_server({"repl-timeout": 1})
    s.client().set("k", "v")
    c = link(s)
    _, _, cid = full_resync(c)
    download(c, cid, str(tmp_path))
    assert checkpoint_ids(s) == [cid]
    start = time.monotonic()
    wait_until(lambda: checkpoint_ids(s) == [], timeout=6, interval=0.05, msg="the checkpoint removed")
    assert time.monotonic() - start > 1.5  # not at repl-timeout: the grace came on top
    assert "silent for repl-timeout" in s.log()
    assert info_repl(s)["connected_slaves"] == 0


@soak  # 3 s of following
def test_a_following_replica_is_not_silent(make_server):
    """Its polls wait on the master (BLOCK): a link that has nothing to apply stays up."""
    master, replica = start_pair(make_server)
    master.client().config_set("repl-timeout", 1)
    master.client().set("k", "v")
    wait_synced(master, replica)
    time.sleep(3)
    master.client().set("k2", "v")
    wait_synced(master, replica)
    assert "silent for repl-timeout" not in master.log()
    assert replica.client().get("k2") == b"v"


def test_pipelined_reads_do_not_pile_up_in_the_master(make_server):
    """A replica that pipelines reads and never reads the replies would have the master keep
    every chunk (8 MiB each) in its output: past one chunk unread, a read is refused."""
    s = make_server()
    s.client().set("big", os.urandom(3 << 20))
    with s.conn() as c:
        reply = c.call("PSYNC", "f" * 40, 1, "0" * 40)
        cid = str(reply).split()[3]
        sizes = dict(zip(*[iter(c.call("FULLSYNC", "FILES", cid))] * 2))
        name = max(sizes, key=sizes.get)
        size = sizes[name]
        assert size > 3 << 20
        c.send(encode_command("FULLSYNC", "READ", cid, name, 0, size) * 8)
        replies = [c.read_reply() for _ in range(8)]
    data = [r for r in replies if not isinstance(r, RespError)]
    assert all(len(d) == size for d in data)
    assert len(data) * size <= READ_MAX + size  # what the master held for it at most
    assert str(replies[-1]) == "ERR too many FULLSYNC READ replies unread"


def test_reads_one_after_another_are_never_refused(make_server):
    s = make_server()
    s.client().set("big", os.urandom(3 << 20))
    c = link(s)
    _, _, cid = full_resync(c)
    name, size = max(files_of(c, cid).items(), key=lambda kv: kv[1])
    for _ in range(5):
        assert len(c.execute_command("FULLSYNC", "READ", cid, name, 0, size)) == size


# ---- what held up: kept as regression tests ----

def psync_request():
    return encode_command("PSYNC", "f" * 40, 1, "0" * 40)


def test_many_links_psync_at_once_and_half_hang_up(make_server):
    s = make_server()
    s.client().set("k", "v")
    conns = [s.conn() for _ in range(16)]
    for c in conns:
        c.send(psync_request())
    for c in conns[::2]:  # gone while their checkpoints are made, or before
        c.close()
    replies = [str(c.read_reply()) for c in conns[1::2]]
    made = [r for r in replies if r.startswith("FULLRESYNC")]
    assert len(made) <= 4  # those that hung up may have held the slots while theirs were made
    assert all(r.startswith("ERR too many full synchronizations") for r in replies if r not in made)
    for c in conns[1::2]:
        c.close()
    fresh = link(s)

    def resyncs():  # once the slots are given back
        try:
            return full_resync(fresh)
        except redis.ResponseError:
            return None
    cid = wait_until(resyncs, timeout=3, msg="a slot given back")[2]
    wait_until(lambda: checkpoint_ids(s) == [cid], timeout=3, msg="every other checkpoint removed")


def test_shutdown_while_checkpoints_are_made(make_server):
    s = make_server()
    p = s.client().pipeline(transaction=False)
    for i in range(2000):
        p.set("k%d" % i, "v" * 100)
    p.execute()
    conns = [s.conn() for _ in range(6)]
    for c in conns:
        c.send(psync_request())
    assert s.stop() == 0
    assert checkpoint_ids(s) == []
    for c in conns:
        c.close()


def test_reads_at_extreme_offsets_and_counts(make_server):
    s = make_server()
    s.client().set("k", "v")
    c = link(s)
    _, _, cid = full_resync(c)
    name = next(iter(files_of(c, cid)))
    cases = [(2 ** 63 - 1, 1, "offset out of range"), (-2 ** 63, 1, "offset out of range"),
             (2 ** 63, 1, "value is not an integer or out of range"),
             (2 ** 64 + 1, 1, "value is not an integer or out of range"),
             (0, 2 ** 63 - 1, "count out of range"), (0, -2 ** 63, "count out of range"),
             (0, 2 ** 64, "value is not an integer or out of range")]
    for offset, count, error in cases:
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command("FULLSYNC", "READ", cid, name, offset, count)
        assert str(e.value) == error, (offset, count)
    assert c.ping()
