"""Storage errors: the data directory on a small tmpfs fills up. Writes then get a clear
error, reads keep working, nothing acknowledged is lost, the server does not crash, and
writes work again once space is freed. Needs root (to mount the tmpfs), as CI runs."""

import os
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import Server, encode_command, tidekv_only

pytestmark = [
    tidekv_only,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
]

VALUE = os.urandom(64 * 1024)


@pytest.fixture
def small_disk():
    mountpoint = tempfile.mkdtemp(prefix="tidekv-smallfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mountpoint], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", mountpoint], check=False)
        os.rmdir(mountpoint)


def fill_until_error(r):
    """SETs 64 KiB values until one fails; returns (acknowledged keys, error text). With
    appendfsync always, a write that reached the WAL but whose sync failed is never
    acknowledged: the server closes that connection instead (redis-py reconnects)."""
    acked = []
    for i in range(2000):
        try:
            r.set("k%d" % i, VALUE)
        except redis.ConnectionError:
            continue
        except redis.ResponseError as e:
            return acked, str(e)
        acked.append("k%d" % i)
    raise AssertionError("the disk never filled up")


@pytest.mark.parametrize("mode", ["everysec", "always", "no"])
@pytest.mark.soak  # long: runs under make soak
def test_disk_full_then_recovery(small_disk, mode):
    filler = os.path.join(small_disk, "filler")
    # Half the disk: once it is removed, RocksDB's first compaction after the recovery rewrites
    # the tables written until the disk was full, and the space freed must hold them; with a
    # third of the disk (~15 MB of tables since record v2) it failed for space again and writes
    # stayed refused.
    with open(filler, "wb") as f:
        f.write(b"\0" * (24 << 20))
    s = Server(extra_args=["--appendfsync", mode, "--rocksdb.write_buffer_size", "4"])
    s.datadir = os.path.join(small_disk, "data")
    try:
        s.start()
        r = s.client()
        r.zadd("z", {"m%02d" % i: i for i in range(20)})
        assert r.zrange("z", 0, 0) == [b"m00"]  # the walk remembers where the live members start
        acked, error = fill_until_error(r)
        assert len(acked) > 10
        assert error.startswith("write failed:") and "No space left on device" in error, error
        # Writes keep failing cleanly; reads keep working; the server stays up.
        for _ in range(3):
            with pytest.raises(redis.ResponseError):
                r.set("more", "x")
        assert r.get(acked[0]) == VALUE and r.get(acked[-1]) == VALUE
        # A pipeline runs as one write: the replies before its first write stand, and from
        # that write on all are errors (a later read may have seen what failed).
        with s.conn() as c:
            c.send(encode_command("GET", acked[0]) + encode_command("SET", "more", "x")
                   + encode_command("GET", acked[0]) + encode_command("PING"))
            assert c.read_reply() == VALUE
            assert c.read_reply().startswith("ERR write failed") and c.read_reply().startswith("ERR write failed")
            assert c.read_reply() == "PONG"
        # A pop whose commit fails must not leave a remembered bound past live members.
        with pytest.raises(redis.ResponseError):
            r.zpopmin("z", 5)
        assert r.zrange("z", 0, 1) == [b"m00", b"m01"]
        assert r.dbsize() >= len(acked)
        time.sleep(1.5)  # let the background sync (everysec) run into the error too
        assert r.ping()
        # Space comes back: writes work again without a restart.
        os.remove(filler)
        deadline = time.time() + 30
        while True:
            try:
                r.set("after", "1")
                break
            except (redis.ResponseError, redis.ConnectionError):  # see fill_until_error
                assert time.time() < deadline, "writes did not recover"
                time.sleep(0.25)
        assert r.get("after") == b"1"
        assert r.zcard("z") == 20 and r.zrange("z", 0, 0) == [b"m00"]
        r.close()
        # Nothing acknowledged was lost, across a restart too.
        s.stop()
        s.start()
        r = s.client()
        assert all(v == VALUE for v in r.mget(acked))
        assert r.get("after") == b"1"
        assert r.zcard("z") == 20 and r.zrange("z", 0, 0) == [b"m00"]
        r.close()
    finally:
        s.cleanup()
