"""Many clients at once."""

import threading

import pytest
import redis


def run_threads(n, target):
    errors = []

    def wrap(i):
        try:
            target(i)
        except Exception as e:  # reported by the assertion below
            errors.append(repr(e))

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "threads hung"
    assert not errors, errors[:5]


@pytest.mark.soak  # long: runs under make soak
def test_16_threads_incr_same_key(server, r):
    def work(i):
        cl = server.client()
        try:
            for _ in range(1000):
                cl.incr("counter")
        finally:
            cl.close()

    run_threads(16, work)
    assert r.get("counter") == b"16000"


def test_incrby_and_incrbyfloat_from_threads(server, r):
    def work(i):
        cl = server.client()
        try:
            for _ in range(200):
                cl.incrby("ib", 3)
                cl.decrby("ib", 1)
                cl.incrbyfloat("fl", "0.5")
        finally:
            cl.close()

    run_threads(8, work)
    assert r.get("ib") == b"3200"
    assert r.get("fl") == b"800"


def test_concurrent_mset_get_consistency(server, r):
    """MSET is atomic: readers never see a mix of two MSETs."""
    keys = ["ca", "cb", "cc", "cd"]
    r.mset({k: "w0-0" for k in keys})
    stop = threading.Event()
    bad = []

    def writer(i):
        cl = server.client()
        try:
            for n in range(400):
                v = "w%d-%d" % (i, n)
                cl.mset({k: v for k in keys})
        finally:
            cl.close()

    def reader(i):
        cl = server.client()
        try:
            while not stop.is_set():
                vals = cl.mget(keys)
                if len(set(vals)) != 1:
                    bad.append(vals)
        finally:
            cl.close()

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in readers:
        t.start()
    try:
        run_threads(3, writer)
    finally:
        stop.set()
        for t in readers:
            t.join(60)
    assert not bad, bad[:5]
    vals = r.mget(keys)
    assert len(set(vals)) == 1


def test_msetnx_race_single_winner(server, r):
    wins = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def work(i):
        cl = server.client()
        try:
            cl.ping()
            barrier.wait(30)
            if cl.msetnx({"race-a": i, "race-b": i}):
                with lock:
                    wins.append(i)
        finally:
            cl.close()

    run_threads(16, work)
    assert len(wins) == 1
    assert r.mget("race-a", "race-b") == [str(wins[0]).encode()] * 2


def test_setnx_race_single_winner(server, r):
    for round_ in range(5):
        key = "lock:%d" % round_
        wins = []
        lock = threading.Lock()
        barrier = threading.Barrier(12)

        def work(i):
            cl = server.client()
            try:
                cl.ping()
                barrier.wait(30)
                if cl.set(key, i, nx=True):
                    with lock:
                        wins.append(i)
            finally:
                cl.close()

        run_threads(12, work)
        assert len(wins) == 1
        assert r.get(key) == str(wins[0]).encode()


def test_many_clients_private_keys(server, r):
    def work(i):
        cl = server.client()
        try:
            pipe = cl.pipeline(transaction=False)
            for j in range(300):
                pipe.set("c%d:%d" % (i, j), "%d-%d" % (i, j))
            pipe.execute()
            vals = cl.mget(["c%d:%d" % (i, j) for j in range(300)])
            assert vals == [b"%d-%d" % (i, j) for j in range(300)]
            assert cl.delete(*["c%d:%d" % (i, j) for j in range(0, 300, 2)]) == 150
        finally:
            cl.close()

    run_threads(20, work)
    assert r.dbsize() == 20 * 150


def test_append_from_threads(server, r):
    def work(i):
        cl = server.client()
        try:
            for _ in range(200):
                cl.append("log", b"%c" % (ord("a") + i))
        finally:
            cl.close()

    run_threads(8, work)
    v = r.get("log")
    assert len(v) == 1600
    for i in range(8):
        assert v.count(b"%c" % (ord("a") + i)) == 200


def test_connection_churn(server, r):
    def work(i):
        for j in range(50):
            cl = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)
            try:
                cl.incr("churn")
            finally:
                cl.close()

    run_threads(8, work)
    assert r.get("churn") == b"400"


def test_config_set_while_clients_run_and_list(make_server):
    """CONFIG SET of the options every worker reads (limits, timeouts, output buffer limits),
    in a loop, while other clients run commands and CLIENT LIST: every reply stays right. Under
    ThreadSanitizer (a -fsanitize=thread build) the server's log must hold no race report."""
    s = make_server()
    settings = [
        ("timeout", "3600", "0"),
        ("maxclients", "5000", "10000"),
        ("proto-max-bulk-len", "64mb", "512mb"),
        ("client-query-buffer-limit", "512mb", "1gb"),
        ("client-output-buffer-limit", "normal 512mb 128mb 30", "normal 1gb 256mb 60"),
        ("maxmemory-clients", "1gb", "2gb"),
        ("loglevel", "warning", "notice"),
        ("appendfsync", "no", "everysec"),
    ]
    stop = threading.Event()
    setter_errors = []

    def setter():
        cl = s.client()
        try:
            n = 0
            while not stop.is_set():
                name, a, b = settings[n % len(settings)]
                assert cl.config_set(name, a if (n // len(settings)) % 2 == 0 else b) is True
                n += 1
        except Exception as e:  # reported by the assertion below
            setter_errors.append(repr(e))
        finally:
            cl.close()

    def worker(i):
        cl = s.client()
        try:
            if i == 0:
                for _ in range(300):
                    assert any(c["id"] for c in cl.client_list())
            else:
                for j in range(600):
                    assert cl.set("k%d" % i, j) is True
                    assert cl.get("k%d" % i) == str(j).encode()
        finally:
            cl.close()

    t = threading.Thread(target=setter)
    t.start()
    try:
        run_threads(4, worker)
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive() and not setter_errors, setter_errors
    assert s.client().ping()
    assert "ThreadSanitizer" not in s.log(), s.log()[-6000:]
