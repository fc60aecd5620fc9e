import pytest
"""Data survives restarts (SIGTERM) and kill -9."""

import os
import threading
import time


def fill(cl, n=500):
    pipe = cl.pipeline(transaction=False)
    for i in range(n):
        pipe.set("key:%d" % i, "value:%d" % i)
    pipe.execute()


def check_filled(cl, n=500):
    vals = cl.mget(["key:%d" % i for i in range(n)])
    missing = [i for i, v in enumerate(vals) if v != b"value:%d" % i]
    assert not missing, "missing/wrong keys after restart: %r" % missing[:20]


def test_restart_keeps_data_and_ttls(make_server):
    s = make_server()
    cl = s.client()
    fill(cl)
    cl.set(b"bin\x00\xff\r\n", b"\x00\x01\x02\xff" * 100)
    cl.set("ttl-long", "v", ex=1000)
    cl.set("ttl-px", "v", px=500000)
    now = int(time.time())
    cl.set("ttl-at", "v", exat=now + 3000)
    cl.set("short", "v", px=300)
    cl.incr("counter")
    cl.incrby("counter", 41)
    cl.append("app", "hello")
    cl.append("app", " world")
    cl.setrange("range", 3, "abc")
    cl.setbit("bits", 9, 1)
    cl.set("deleted", "x")
    cl.delete("deleted")
    cl.set("persisted", "v", ex=100)
    cl.persist("persisted")
    cl.set("empty", "")
    r2 = s.client(db=2)
    r2.set("in-db2", "yes")
    r15 = s.client(db=15)
    r15.set("in-db15", "yes", ex=1000)
    cl.close()
    r2.close()
    r15.close()
    dbsize_before = s.client().dbsize()

    assert s.stop() == 0, s.log()
    time.sleep(0.35)  # "short" expires while the server is down
    s.start()

    cl = s.client()
    check_filled(cl)
    assert cl.get(b"bin\x00\xff\r\n") == b"\x00\x01\x02\xff" * 100
    assert 990 <= cl.ttl("ttl-long") <= 1000
    assert 490 <= cl.ttl("ttl-px") <= 500
    assert cl.execute_command("EXPIRETIME", "ttl-at") == now + 3000
    assert cl.get("short") is None
    assert cl.get("counter") == b"42"
    assert cl.get("app") == b"hello world"
    assert cl.get("range") == b"\x00\x00\x00abc"
    assert cl.getbit("bits", 9) == 1
    assert cl.exists("deleted") == 0
    assert cl.ttl("persisted") == -1
    assert cl.get("empty") == b""
    assert cl.exists("empty") == 1
    assert s.client(db=2).get("in-db2") == b"yes"
    assert s.client(db=15).get("in-db15") == b"yes"
    assert 990 <= s.client(db=15).ttl("in-db15") <= 1000
    assert s.client(db=1).dbsize() == 0
    assert cl.dbsize() in (dbsize_before, dbsize_before - 1)  # "short" may be counted before
    cl.close()


def test_data_dir_is_used(make_server):
    s = make_server()
    cl = s.client()
    fill(cl, 100)
    cl.close()
    s.stop()
    found = []
    for root, dirs, files in os.walk(s.datadir):
        found += files
    assert found, "nothing written to --dir %s" % s.datadir


def test_kill9_keeps_acknowledged_writes(make_server):
    s = make_server()
    cl = s.client()
    for i in range(300):
        assert cl.set("k9:%d" % i, "v%d" % i) is True
    for _ in range(200):
        cl.incr("k9:counter")
    fill(cl, 500)
    cl.set("k9:ttl", "v", ex=1000)
    cl.delete("k9:0")
    cl.expire("k9:1", 2000)
    cl.mset({"k9:m1": "a", "k9:m2": "b"})
    p = cl.pipeline(transaction=True)
    p.set("k9:tx1", "1").set("k9:tx2", "2")
    p.execute()
    cl.close()

    s.kill9()
    s.start()

    cl = s.client()
    vals = cl.mget(["k9:%d" % i for i in range(1, 300)])
    assert vals == [b"v%d" % i for i in range(1, 300)]
    assert cl.exists("k9:0") == 0
    assert cl.get("k9:counter") == b"200"
    check_filled(cl, 500)
    assert 990 <= cl.ttl("k9:ttl") <= 1000
    assert 1990 <= cl.ttl("k9:1") <= 2000
    assert cl.mget("k9:m1", "k9:m2", "k9:tx1", "k9:tx2") == [b"a", b"b", b"1", b"2"]
    cl.close()


def test_kill9_under_write_load(make_server):
    """Kill -9 while a client is writing: every acknowledged write survives."""
    s = make_server()
    acked = []
    stop = threading.Event()

    def writer():
        cl = s.client(socket_timeout=5)
        i = 0
        try:
            while not stop.is_set():
                cl.set("load:%d" % i, "v%d" % i)
                acked.append(i)
                i += 1
        except Exception:
            pass  # the server went away
        finally:
            cl.close()

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 2000 and time.monotonic() < deadline:
        time.sleep(0.02)
    s.kill9()
    stop.set()
    t.join(30)
    assert len(acked) >= 100
    s.start()
    cl = s.client()
    n = len(acked)
    vals = cl.mget(["load:%d" % i for i in range(n)])
    lost = [i for i, v in enumerate(vals) if v != b"v%d" % i]
    assert not lost, "acknowledged writes lost after kill -9: %d of %d (first %r)" % (
        len(lost), n, lost[:10])
    cl.close()


def test_flush_survives_restart(make_server):
    s = make_server()
    cl = s.client()
    fill(cl, 200)
    cl.flushall()
    cl.set("after-flush", "1")
    cl.close()
    s.restart()
    cl = s.client()
    assert cl.dbsize() == 1
    assert cl.get("after-flush") == b"1"
    cl.flushdb()
    cl.close()
    s.kill9()
    s.start()
    cl = s.client()
    assert cl.dbsize() == 0
    cl.close()


@pytest.mark.soak  # long: runs under make soak
def test_expiry_continues_after_restart(make_server):
    s = make_server()
    cl = s.client()
    cl.set("soon", "v", px=1500)
    cl.close()
    s.restart()
    cl = s.client()
    pttl = cl.pttl("soon")
    assert 0 < pttl <= 1500
    time.sleep(pttl / 1000.0 + 0.2)
    assert cl.get("soon") is None
    cl.close()


def test_repeated_restarts(make_server):
    s = make_server()
    for round_ in range(3):
        cl = s.client()
        cl.set("round:%d" % round_, round_)
        cl.incr("restarts")
        cl.close()
        if round_ % 2:
            s.kill9()
            s.start()
        else:
            s.restart()
    cl = s.client()
    assert cl.get("restarts") == b"3"
    assert cl.mget("round:0", "round:1", "round:2") == [b"0", b"1", b"2"]
    cl.close()


def test_large_values_survive_restart(make_server):
    s = make_server()
    cl = s.client()
    big = os.urandom(1024 * 1024)
    cl.set("big", big)
    for i in range(20):
        cl.set("mid:%d" % i, os.urandom(10000) + b"%d" % i)
    expect = cl.mget(["mid:%d" % i for i in range(20)])
    cl.close()
    s.kill9()
    s.start()
    cl = s.client()
    assert cl.get("big") == big
    assert cl.mget(["mid:%d" % i for i in range(20)]) == expect
    cl.close()
