"""MULTI / EXEC / DISCARD / WATCH / UNWATCH."""

import threading
import time

import pytest
import redis

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def test_multi_exec_basic(r, c):
    assert c.call_raw("MULTI") == b"+OK\r\n"
    assert c.call_raw("SET", "a", "1") == b"+QUEUED\r\n"
    assert c.call_raw("INCR", "a") == b"+QUEUED\r\n"
    assert c.call_raw("GET", "a") == b"+QUEUED\r\n"
    assert c.call_raw("GET", "missing") == b"+QUEUED\r\n"
    # nothing is applied before EXEC
    assert r.get("a") is None
    assert c.call("EXEC") == ["OK", 2, b"2", None]
    assert r.get("a") == b"2"


def test_exec_empty_transaction(c):
    assert c.call("MULTI") == "OK"
    assert c.call_raw("EXEC") == b"*0\r\n"


def test_discard(r, c):
    assert c.call("MULTI") == "OK"
    assert c.call("SET", "a", "1") == "QUEUED"
    assert c.call("DISCARD") == "OK"
    assert r.exists("a") == 0
    # back to normal mode
    assert c.call("SET", "b", "2") == "OK"
    assert c.call("EXEC") == "ERR EXEC without MULTI"


def test_errors_outside_and_nested(c):
    assert c.call("EXEC") == "ERR EXEC without MULTI"
    assert c.call("DISCARD") == "ERR DISCARD without MULTI"
    assert c.call("MULTI") == "OK"
    assert c.call("MULTI") == "ERR MULTI calls can not be nested"
    # the nested MULTI does not abort the transaction
    assert c.call("SET", "x", "1") == "QUEUED"
    assert c.call("EXEC") == ["OK"]
    assert c.call("GET", "x") == b"1"


def test_unknown_command_aborts_exec(r, c):
    assert c.call("MULTI") == "OK"
    assert c.call("SET", "a", "1") == "QUEUED"
    reply = c.call("NOSUCHCMD", "x")
    assert reply == "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' "
    assert c.call("SET", "b", "2") == "QUEUED"
    assert c.call("EXEC") == EXECABORT
    assert r.exists("a", "b") == 0
    # the connection has left MULTI state
    assert c.call("EXEC") == "ERR EXEC without MULTI"


def test_wrong_arity_aborts_exec(r, c):
    assert c.call("MULTI") == "OK"
    assert c.call("SET", "a", "1") == "QUEUED"
    assert c.call("GET") == "ERR wrong number of arguments for 'get' command"
    assert c.call("EXEC") == EXECABORT
    assert r.exists("a") == 0


def test_execabort_redis_py(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1")
    pipe.execute_command("NOSUCHCMD")
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    assert r.exists("a") == 0


def test_runtime_error_does_not_abort(r, c):
    r.set("str", "abc")
    assert c.call("MULTI") == "OK"
    assert c.call("SET", "a", "1") == "QUEUED"
    assert c.call("INCR", "str") == "QUEUED"
    assert c.call("INCR", "a") == "QUEUED"
    reply = c.call("EXEC")
    assert reply[0] == "OK"
    assert reply[1] == "ERR value is not an integer or out of range"
    assert reply[2] == 2
    assert r.get("a") == b"2"
    assert r.get("str") == b"abc"


def test_runtime_error_redis_py(r):
    r.set("str", "abc")
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1).incr("str").incr("a")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True
    assert isinstance(res[1], redis.ResponseError)
    assert "not an integer" in str(res[1])
    assert res[2] == 2


def test_watch_inside_multi(c):
    assert c.call("MULTI") == "OK"
    assert c.call("WATCH", "a") == "ERR WATCH inside MULTI is not allowed"
    assert c.call("EXEC") == []


def test_watch_modified_by_other_client(r, server):
    r.set("w", "1")
    with server.conn() as c:
        assert c.call("WATCH", "w") == "OK"
        r.set("w", "2")  # another client
        assert c.call("MULTI") == "OK"
        assert c.call("SET", "w", "3") == "QUEUED"
        assert c.call_raw("EXEC") == b"*-1\r\n"
    assert r.get("w") == b"2"


def test_watch_missing_key_created_by_other(r, server):
    with server.conn() as c:
        assert c.call("WATCH", "new") == "OK"
        r.set("new", "x")
        assert c.call("MULTI") == "OK"
        c.call("SET", "new", "y")
        assert c.call("EXEC") is None
    assert r.get("new") == b"x"


def test_watch_deleted_and_expired_by_other(r, server):
    r.set("d", "1")
    r.set("e", "1", ex=100)
    with server.conn() as c:
        assert c.call("WATCH", "d") == "OK"
        r.delete("d")
        c.call("MULTI")
        c.call("SET", "d", "mine")
        assert c.call("EXEC") is None
    with server.conn() as c:
        assert c.call("WATCH", "e") == "OK"
        r.expire("e", 200)  # touching the TTL also counts as a modification
        c.call("MULTI")
        c.call("SET", "e", "mine")
        assert c.call("EXEC") is None


def test_watch_flushall_invalidates(r, server):
    r.set("f", "1")
    with server.conn() as c:
        c.call("WATCH", "f")
        r.flushall()
        c.call("MULTI")
        c.call("SET", "f", "2")
        assert c.call("EXEC") is None


def test_watch_unmodified_succeeds(r, server):
    r.set("w", "1")
    with server.conn() as c:
        assert c.call("WATCH", "w", "other") == "OK"
        r.set("unrelated", "x")
        r.get("w")  # reads do not invalidate
        assert c.call("MULTI") == "OK"
        c.call("INCR", "w")
        assert c.call("EXEC") == [2]
    assert r.get("w") == b"2"


def test_watch_same_key_other_db_not_affected(r, server):
    r.set("w", "1")
    r1 = server.client(db=1)
    try:
        with server.conn() as c:
            c.call("WATCH", "w")
            r1.set("w", "other-db")
            c.call("MULTI")
            c.call("SET", "w", "2")
            assert c.call("EXEC") == ["OK"]
    finally:
        r1.close()
    assert r.get("w") == b"2"


def test_unwatch(r, server):
    r.set("w", "1")
    with server.conn() as c:
        c.call("WATCH", "w")
        r.set("w", "2")
        assert c.call("UNWATCH") == "OK"
        c.call("MULTI")
        c.call("SET", "w", "3")
        assert c.call("EXEC") == ["OK"]
    assert r.get("w") == b"3"


def test_exec_and_discard_clear_watches(r, server):
    r.set("w", "1")
    with server.conn() as c:
        c.call("WATCH", "w")
        r.set("w", "2")
        c.call("MULTI")
        assert c.call("EXEC") is None
        # the failed EXEC unwatched everything: this one succeeds
        r.set("w", "3")
        c.call("MULTI")
        c.call("SET", "w", "4")
        assert c.call("EXEC") == ["OK"]
    with server.conn() as c:
        c.call("WATCH", "w")
        c.call("MULTI")
        assert c.call("DISCARD") == "OK"
        r.set("w", "5")
        c.call("MULTI")
        c.call("SET", "w", "6")
        assert c.call("EXEC") == ["OK"]
    assert r.get("w") == b"6"


def test_redis_py_watch_pipeline(r, server):
    r.set("counter", "10")
    other = server.client()
    try:
        with r.pipeline() as pipe:
            pipe.watch("counter")
            value = int(pipe.get("counter"))
            other.set("counter", "100")
            pipe.multi()
            pipe.set("counter", value + 1)
            with pytest.raises(redis.WatchError):
                pipe.execute()
        assert r.get("counter") == b"100"
        with r.pipeline() as pipe:
            pipe.watch("counter")
            value = int(pipe.get("counter"))
            pipe.multi()
            pipe.set("counter", value + 1)
            assert pipe.execute() == [True]
        assert r.get("counter") == b"101"
    finally:
        other.close()


def test_redis_py_transaction_helper_concurrent(server):
    """Optimistic-locking increments from several threads never lose updates."""
    main = server.client()
    main.set("tx", 0)
    errors = []

    def worker():
        cl = server.client()
        try:
            for _ in range(50):
                def incr(pipe):
                    v = int(pipe.get("tx"))
                    pipe.multi()
                    pipe.set("tx", v + 1)
                cl.transaction(incr, "tx")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            cl.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert main.get("tx") == b"200"
    main.close()


def test_pipeline_transaction_batch(r):
    pipe = r.pipeline(transaction=True)
    for i in range(100):
        pipe.set("k%d" % i, i)
    pipe.incr("k5")
    pipe.get("k5")
    pipe.mget("k0", "k99", "nokey")
    res = pipe.execute()
    assert res[:100] == [True] * 100
    assert res[100] == 6
    assert res[101] == b"6"
    assert res[102] == [b"0", b"99", None]
    assert r.dbsize() == 100


def test_transaction_is_atomic_to_other_clients(server):
    """While one client runs big transactions, another never sees a
    half-applied one."""
    writer = server.client()
    reader = server.client()
    stop = threading.Event()
    bad = []
    writer.mset({"ta": 0, "tb": 0})

    def read_loop():
        while not stop.is_set():
            a, b = reader.mget("ta", "tb")
            if a != b:
                bad.append((a, b))

    t = threading.Thread(target=read_loop)
    t.start()
    try:
        for i in range(1, 300):
            pipe = writer.pipeline(transaction=True)
            pipe.set("ta", i)
            pipe.set("tb", i)
            pipe.execute()
    finally:
        stop.set()
        t.join(30)
    assert not bad, bad[:5]
    writer.close()
    reader.close()


def test_select_inside_multi(r, server):
    with server.conn() as c:
        c.call("MULTI")
        c.call("SELECT", "2")
        c.call("SET", "k", "in-db2")
        assert c.call("EXEC") == ["OK", "OK"]
        # the SELECT stays in effect after EXEC
        assert c.call("GET", "k") == b"in-db2"
    assert r.get("k") is None


def _exec_after_watch(c, key, between):
    """WATCH key, run between(), then EXEC a transaction that sets another key."""
    assert c.call("WATCH", key) == "OK"
    between()
    assert c.call("MULTI") == "OK"
    c.call("SET", "tx-probe", "1")
    return c.call("EXEC")


@pytest.mark.soak  # long: runs under make soak
def test_watched_key_expiring_before_exec_aborts(r, server):
    """Redis 7: a key alive at WATCH that has expired by EXEC aborts it, whether or not
    anything has reclaimed it since."""
    with server.conn() as c:
        r.set("k", "v", px=800)
        assert _exec_after_watch(c, "k", lambda: time.sleep(1)) is None
    with server.conn() as c:
        r.set("k", "v", px=800)
        assert _exec_after_watch(c, "k", lambda: (time.sleep(1), r.get("k"))) is None
    with server.conn() as c:
        r.set("k", "v", px=60000)  # far from expiring: no abort
        assert _exec_after_watch(c, "k", lambda: None) == ["OK"]


def test_watched_key_already_expired_is_no_change(r, server):
    """A key already expired at WATCH: its reclamation is no change, a new value is."""
    def expired_key():
        r.set("k", "v", px=20)
        time.sleep(0.1)

    with server.conn() as c:
        expired_key()
        assert _exec_after_watch(c, "k", lambda: None) == ["OK"]
    with server.conn() as c:
        expired_key()
        assert _exec_after_watch(c, "k", lambda: r.get("k")) == ["OK"]
    with server.conn() as c:
        expired_key()
        assert _exec_after_watch(c, "k", lambda: r.flushdb()) == ["OK"]
    with server.conn() as c:
        expired_key()
        assert _exec_after_watch(c, "k", lambda: (r.get("k"), r.set("k", "new"))) is None


def test_flushdb_aborts_only_watches_of_its_existing_keys(r, server):
    r1 = server.client(db=1)
    try:
        with server.conn() as c:
            r.set("k", "v")
            assert _exec_after_watch(c, "k", lambda: r1.flushdb()) == ["OK"]
        with server.conn() as c:
            r.set("k", "v")
            assert _exec_after_watch(c, "k", lambda: r.flushdb()) is None
        with server.conn() as c:
            r.delete("k")
            r.set("other", "v")
            assert _exec_after_watch(c, "k", lambda: r.flushdb()) == ["OK"]
        with server.conn() as c:
            r1.set("k", "v")  # the same name in another database: FLUSHALL empties that one
            assert _exec_after_watch(c, "k", lambda: r.flushall()) == ["OK"]
        with server.conn() as c:
            r.set("k", "v")
            assert _exec_after_watch(c, "k", lambda: r.flushall()) is None
    finally:
        r1.close()


def test_walks_inside_multi_see_an_earlier_flushdb(r, server):
    r.mset({"a": "1", "b": "2"})
    with server.conn() as c:
        c.call("MULTI")
        for cmd in (("FLUSHDB",), ("KEYS", "*"), ("DBSIZE",), ("SCAN", "0"), ("RANDOMKEY",), ("SET", "c", "3"),
                    ("KEYS", "*"), ("SCAN", "0"), ("DBSIZE",)):
            assert c.call(*cmd) == "QUEUED"
        assert c.call("EXEC") == ["OK", [], 0, [b"0", []], None, "OK", [b"c"], [b"0", [b"c"]], 1]
    assert r.keys("*") == [b"c"]
