"""appendfsync always / everysec / no: when acknowledged writes are synced to disk, group
commit across clients, and protected mode (no listening beyond loopback without a password).
The power-loss half of durability cannot be shown by a test; what can be shown is when the
server syncs relative to its replies, which INFO persistence reports."""

import threading
import time

import pytest

from conftest import Server, tidekv_only
from test_cdc_helpers import seq
from test_config import run_expect_failure

pytestmark = tidekv_only


def persistence(client):
    return client.info("persistence")


def test_default_mode_is_everysec_and_settable(server):
    r = server.client()
    try:
        assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
        for mode in ("always", "no", "EVERYSEC"):
            assert r.config_set("appendfsync", mode)
            assert r.config_get("appendfsync")["appendfsync"] == mode.lower()
            assert persistence(r)["appendfsync"] == mode.lower()
        with pytest.raises(Exception) as e:
            r.config_set("appendfsync", "sometimes")
        assert "argument(s) must be one of the following: always, everysec, no" in str(e.value)
        assert r.config_get("appendfsync")["appendfsync"] == "everysec"
    finally:
        r.close()


def test_always_replies_only_after_the_sync(make_server):
    s = make_server(["--appendfsync", "always"])
    r = s.client()
    try:
        for i in range(50):
            r.set("k%d" % i, i)
            written = seq(r)
            # The reply came after a sync covering the write.
            assert persistence(r)["wal_synced"] >= written
        r.rpush("l", 1, 2)
        r.lpop("l")
        assert persistence(r)["wal_synced"] >= seq(r)
    finally:
        r.close()


def test_always_groups_concurrent_writers_into_few_syncs(make_server):
    s = make_server(["--appendfsync", "always"])
    errors = []

    def writer(n):
        c = s.client()
        try:
            for i in range(100):
                assert c.incr("counter-%d" % n) == i + 1
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
        finally:
            c.close()

    r = s.client()
    try:
        before = persistence(r)["wal_syncs"]
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert persistence(r)["wal_syncs"] > before
        # A pipeline of writes is covered by one sync or very few.
        before = persistence(r)["wal_syncs"]
        p = r.pipeline(transaction=False)
        for i in range(200):
            p.set("p%d" % i, i)
        assert p.execute() == [True] * 200
        assert persistence(r)["wal_syncs"] - before <= 10
        assert persistence(r)["wal_synced"] >= seq(r)
    finally:
        r.close()


def test_everysec_syncs_within_about_a_second(make_server):
    s = make_server(["--appendfsync", "everysec"])
    r = s.client()
    try:
        for i in range(100):
            r.set("k%d" % i, i)
        written = seq(r)
        deadline = time.time() + 3
        while persistence(r)["wal_synced"] < written:
            assert time.time() < deadline, "no sync within 3 seconds"
            time.sleep(0.05)
    finally:
        r.close()


@pytest.mark.soak  # long: runs under make soak
def test_no_never_syncs_but_a_crash_loses_nothing(make_server):
    s = make_server(["--appendfsync", "no"])
    r = s.client()
    try:
        for i in range(100):
            r.set("k%d" % i, i)
        time.sleep(1.5)
        info = persistence(r)
        assert info["wal_syncs"] == 0
        assert info["wal_synced"] < seq(r)
    finally:
        r.close()
    s.kill9()  # the OS still has the WAL writes: a process crash loses nothing
    s.start()
    r = s.client()
    try:
        assert [r.get("k%d" % i) for i in range(100)] == [str(i).encode() for i in range(100)]
    finally:
        r.close()


def test_switching_away_from_always_releases_held_replies(make_server):
    s = make_server(["--appendfsync", "always"])
    r = s.client()
    try:
        r.set("a", 1)
        r.config_set("appendfsync", "no")
        r.set("b", 2)  # not held: no sync needed
        r.config_set("appendfsync", "always")
        r.set("c", 3)
        assert persistence(r)["wal_synced"] >= seq(r)
        assert r.mget("a", "b", "c") == [b"1", b"2", b"3"]
    finally:
        r.close()


def test_protected_mode_refuses_a_public_bind_without_password(tmp_path):
    # The check runs before any socket is opened: nothing listens beyond loopback.
    s = Server(extra_args=["--bind", "0.0.0.0"])
    try:
        text = run_expect_failure(s.command_line() + ["--logfile", ""])
    finally:
        s.cleanup()
    assert "protected-mode" in text, text


def test_protected_mode_is_reported(server):
    r = server.client()
    try:
        assert r.config_get("protected-mode") == {"protected-mode": "yes"}
    finally:
        r.close()
