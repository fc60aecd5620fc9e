"""Blocking list and sorted-set pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
BZMPOP) with Redis 7 semantics (checked against redis-server 7.0): immediate answers, clients
served by pushes from other clients in arrival order, timeouts, MULTI, closed connections and
timeout errors."""

import socket
import struct
import threading
import time

from conftest import IS_REDIS, RespError, encode_command

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
SETTLE = 0.1  # time for a sent blocking command to reach the server and block


def block(server, *args):
    """Open a connection, send a blocking command and give it time to block."""
    conn = server.conn(timeout=5.0)
    conn.send(encode_command(*args))
    time.sleep(SETTLE)
    return conn


def reply_within(conn, seconds):
    """Read one reply and check it arrived within ``seconds``."""
    start = time.monotonic()
    rep = conn.read_reply()
    assert time.monotonic() - start < seconds, "reply took too long"
    return rep


def not_answered(conn, wait=0.2):
    """True if nothing arrives on conn for ``wait`` seconds."""
    conn.sock.settimeout(wait)
    try:
        data = conn.sock.recv(65536)
    except OSError:
        return True
    finally:
        conn.sock.settimeout(5.0)
    conn.buf += data
    return False


def blocked_clients(r):
    return r.info("clients")["blocked_clients"]


def wait_blocked_clients(r, n, within=3.0):
    """Waits until INFO reports n blocked clients (as test suites do); returns the last count."""
    deadline = time.monotonic() + within
    while blocked_clients(r) != n and time.monotonic() < deadline:
        time.sleep(0.01)
    return blocked_clients(r)


def client_flags(r, client_id):
    listing = r.execute_command("CLIENT", "LIST", "ID", client_id).decode()
    fields = dict(f.split("=", 1) for f in listing.split())
    return fields["flags"]


# ---------------------------------------------------------------- immediate answers

def test_blpop_brpop_return_immediately_when_data_exists(r, c):
    r.rpush("l", "a", "b", "c")
    start = time.monotonic()
    assert c.call("BLPOP", "l", "0") == [b"l", b"a"]
    assert c.call("BRPOP", "l", "0") == [b"l", b"c"]
    assert c.call("BLPOP", "l", "5") == [b"l", b"b"]
    assert time.monotonic() - start < 1.0
    assert r.exists("l") == 0  # emptied by the blocking pops
    r.rpush("l", "x")
    assert r.blpop(["l"], timeout=1) == (b"l", b"x")


def test_first_non_empty_key_wins(r, c):
    r.rpush("k2", "two")
    r.rpush("k3", "three")
    assert c.call("BLPOP", "nokey", "k3", "k2", "0") == [b"k3", b"three"]
    assert c.call("BRPOP", "k1", "k2", "k3", "0") == [b"k2", b"two"]
    r.zadd("z2", {"m": 1})
    r.zadd("z3", {"n": 2})
    assert c.call("BZPOPMIN", "nokey", "z3", "z2", "0") == [b"z3", b"n", b"2"]
    r.rpush("k2", "a", "b", "c")
    assert c.call("BLMPOP", "0", "3", "k1", "k2", "k3", "RIGHT", "COUNT", "2") == [b"k2", [b"c", b"b"]]


def test_other_blocking_commands_return_immediately(r, c):
    r.rpush("src", "a", "b", "c")
    assert c.call("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0") == b"a"
    assert c.call("BRPOPLPUSH", "src", "dst", "0") == b"c"
    assert r.lrange("src", 0, -1) == [b"b"]
    assert r.lrange("dst", 0, -1) == [b"c", b"a"]
    assert c.call("BLMPOP", "0", "2", "nokey", "dst", "LEFT", "COUNT", "5") == [b"dst", [b"c", b"a"]]
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert c.call("BZPOPMIN", "z", "0") == [b"z", b"a", b"1"]
    assert c.call("BZPOPMAX", "z", "0") == [b"z", b"d", b"4"]
    assert c.call("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5") == [b"z", [[b"c", b"3"], [b"b", b"2"]]]
    assert r.exists("z", "dst") == 0
    assert r.lrange("src", 0, -1) == [b"b"]


# ---------------------------------------------------------------- served by another client

def test_blpop_served_by_lpush_from_another_client(server, r):
    conn = block(server, "BLPOP", "l", "0")
    try:
        assert not_answered(conn, 0.1)
        assert r.lpush("l", "x") == 1  # the length right after the push, before serving
        assert reply_within(conn, 1.0) == [b"l", b"x"]
        assert r.exists("l") == 0
        # the connection is usable again
        assert conn.call("PING") == "PONG"
    finally:
        conn.close()


def test_brpop_served_by_rpush_of_several(server, r):
    conn = block(server, "BRPOP", "l", "5")
    try:
        assert r.rpush("l", "a", "b", "c") == 3
        assert reply_within(conn, 1.0) == [b"l", b"c"]
        assert r.lrange("l", 0, -1) == [b"a", b"b"]
    finally:
        conn.close()


def test_blocked_on_several_keys_served_by_push_to_any(server, r):
    conn = block(server, "BLPOP", "k1", "k2", "k3", "0")
    try:
        r.rpush("k3", "v3")
        assert reply_within(conn, 1.0) == [b"k3", b"v3"]
        assert r.exists("k1", "k2", "k3") == 0
    finally:
        conn.close()


def test_blocked_clients_served_in_arrival_order(server, r):
    conns = [block(server, "BLPOP", "q", "0") for _ in range(3)]
    try:
        # successive pushes: one element each, first blocked first served
        for i, conn in enumerate(conns):
            assert r.rpush("q", "item%d" % i) == 1
            assert reply_within(conn, 1.0) == [b"q", b"item%d" % i]
            for later in conns[i + 1:]:
                assert not_answered(later, 0.05)
        # one push of several elements serves every waiting client in order
        for conn in conns:
            conn.send(encode_command("BLPOP", "q", "0"))
            time.sleep(SETTLE)
        assert r.rpush("q", "x", "y", "z", "extra") == 4
        assert [reply_within(conn, 1.0) for conn in conns] == [[b"q", b"x"], [b"q", b"y"], [b"q", b"z"]]
        assert r.lrange("q", 0, -1) == [b"extra"]
    finally:
        for conn in conns:
            conn.close()


def test_zset_blocked_clients_served_in_arrival_order(server, r):
    conns = [block(server, "BZPOPMIN", "z", "0") for _ in range(3)]
    try:
        assert r.zadd("z", {"c": 3, "a": 1, "b": 2, "d": 4}) == 4
        assert [reply_within(conn, 1.0) for conn in conns] == [
            [b"z", b"a", b"1"], [b"z", b"b", b"2"], [b"z", b"c", b"3"]]
        assert r.zrange("z", 0, -1) == [b"d"]
    finally:
        for conn in conns:
            conn.close()


def test_blmove_served(server, r):
    r.rpush("dst", "old")
    conn = block(server, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    try:
        r.rpush("src", "a", "b")
        assert reply_within(conn, 1.0) == b"b"
        assert r.lrange("src", 0, -1) == [b"a"]
        assert r.lrange("dst", 0, -1) == [b"b", b"old"]
    finally:
        conn.close()


def test_brpoplpush_served(server, r):
    conn = block(server, "BRPOPLPUSH", "src", "dst", "0")
    try:
        r.lpush("src", "x")
        assert reply_within(conn, 1.0) == b"x"
        assert r.exists("src") == 0
        assert r.lrange("dst", 0, -1) == [b"x"]
    finally:
        conn.close()


def test_blmove_chain_serves_the_next_blocked_client(server, r):
    mover = block(server, "BLMOVE", "a", "b", "LEFT", "LEFT", "0")
    popper = block(server, "BLPOP", "b", "0")
    try:
        r.rpush("a", "x")
        assert reply_within(mover, 1.0) == b"x"
        assert reply_within(popper, 1.0) == [b"b", b"x"]
        assert r.exists("a", "b") == 0
    finally:
        mover.close()
        popper.close()


def test_lmove_into_a_watched_key_serves(server, r):
    r.rpush("src", "1", "2")
    conn = block(server, "BRPOP", "dst", "0")
    try:
        assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"1"
        assert reply_within(conn, 1.0) == [b"dst", b"1"]
        assert r.exists("dst") == 0
        assert r.lrange("src", 0, -1) == [b"2"]
    finally:
        conn.close()


def test_blmpop_served(server, r):
    conn = block(server, "BLMPOP", "0", "2", "k1", "k2", "LEFT", "COUNT", "2")
    try:
        r.rpush("k2", "a", "b", "c")
        assert reply_within(conn, 1.0) == [b"k2", [b"a", b"b"]]
        assert r.lrange("k2", 0, -1) == [b"c"]
    finally:
        conn.close()


def test_bzpopmin_bzpopmax_served(server, r):
    conn = block(server, "BZPOPMIN", "z1", "z2", "0")
    try:
        r.zadd("z2", {"m": 5, "n": 3})
        assert reply_within(conn, 1.0) == [b"z2", b"n", b"3"]
        conn.send(encode_command("BZPOPMAX", "z1", "z3", "0"))
        time.sleep(SETTLE)
        r.zadd("z3", {"p": 1.5, "q": 2.5})
        assert reply_within(conn, 1.0) == [b"z3", b"q", b"2.5"]
        assert r.zrange("z2", 0, -1) == [b"m"]
        assert r.zrange("z3", 0, -1) == [b"p"]
    finally:
        conn.close()


def test_bzpopmin_served_by_zincrby(server, r):
    conn = block(server, "BZPOPMIN", "z", "0")
    try:
        assert r.zincrby("z", 2.5, "m") == 2.5
        assert reply_within(conn, 1.0) == [b"z", b"m", b"2.5"]
        assert r.exists("z") == 0
    finally:
        conn.close()


def test_bzmpop_served(server, r):
    conn = block(server, "BZMPOP", "0", "1", "z", "MAX", "COUNT", "2")
    try:
        r.zadd("z", {"a": 1, "b": 2, "c": 3})
        assert reply_within(conn, 1.0) == [b"z", [[b"c", b"3"], [b"b", b"2"]]]
        assert r.zrange("z", 0, -1) == [b"a"]
    finally:
        conn.close()


def test_push_in_another_db_does_not_serve(server, r):
    conn = block(server, "BLPOP", "l", "0")
    other = server.client(db=1)
    try:
        assert other.rpush("l", "db1") == 1
        assert not_answered(conn, 0.2)
        assert other.lrange("l", 0, -1) == [b"db1"]
        r.rpush("l", "db0")
        assert reply_within(conn, 1.0) == [b"l", b"db0"]
    finally:
        other.close()
        conn.close()


def test_blocked_client_with_select(server, r):
    conn = server.conn()
    try:
        assert conn.call("SELECT", "2") == "OK"
        conn.send(encode_command("BRPOP", "l", "0"))
        time.sleep(SETTLE)
        other = server.client(db=2)
        try:
            other.rpush("l", "in-db2")
            assert reply_within(conn, 1.0) == [b"l", b"in-db2"]
            assert other.exists("l") == 0
        finally:
            other.close()
    finally:
        conn.close()


# ---------------------------------------------------------------- transactions and serving order

def test_push_and_pop_in_one_transaction_leaves_client_blocked(server, r, c):
    conn = block(server, "BLPOP", "l", "0.6")
    try:
        assert c.call("MULTI") == "OK"
        assert c.call("RPUSH", "l", "a") == "QUEUED"
        assert c.call("LPOP", "l") == "QUEUED"
        assert c.call("EXEC") == [1, b"a"]
        # nothing was left to serve after the transaction: the client times out
        start = time.monotonic()
        assert conn.read_reply() is None
        assert time.monotonic() - start < 1.5
    finally:
        conn.close()


def test_push_in_transaction_serves_after_exec(server, r, c):
    conn = block(server, "BLPOP", "l", "0")
    try:
        assert c.call("MULTI") == "OK"
        assert c.call("RPUSH", "l", "a", "b") == "QUEUED"
        assert c.call("LLEN", "l") == "QUEUED"
        assert c.call("EXEC") == [2, 2]  # the client is served only after the transaction
        assert reply_within(conn, 1.0) == [b"l", b"a"]
        assert r.lrange("l", 0, -1) == [b"b"]
    finally:
        conn.close()


def test_blocking_pops_inside_multi_do_not_block(r, c):
    assert c.call("MULTI") == "OK"
    for cmd in (("BLPOP", "nokey", "0"), ("BRPOP", "nokey", "0"), ("BLMOVE", "nokey", "dst", "LEFT", "LEFT", "0"),
                ("BRPOPLPUSH", "nokey", "dst", "0"), ("BLMPOP", "0", "1", "nokey", "LEFT"),
                ("BZPOPMIN", "nokey", "0"), ("BZPOPMAX", "nokey", "0"), ("BZMPOP", "0", "1", "nokey", "MIN")):
        assert c.call(*cmd) == "QUEUED"
    start = time.monotonic()
    c.send(encode_command("EXEC"))
    raw = c.read_raw()
    assert time.monotonic() - start < 1.0
    # inside MULTI an empty blocking pop answers nil at once (BLMOVE/BRPOPLPUSH as a null bulk)
    assert raw == b"*8\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n*-1\r\n*-1\r\n*-1\r\n"
    assert r.exists("dst") == 0
    # with data they pop as usual
    r.rpush("l", "a", "b")
    r.zadd("z", {"m": 1})
    assert c.call("MULTI") == "OK"
    c.call("BLPOP", "l", "0")
    c.call("BLMOVE", "l", "dst", "LEFT", "LEFT", "0")
    c.call("BZPOPMAX", "z", "0")
    c.call("BLPOP", "l", "0")
    assert c.call("EXEC") == [[b"l", b"a"], b"b", [b"z", b"m", b"1"], None]
    assert r.lrange("dst", 0, -1) == [b"b"]


# ---------------------------------------------------------------- timeouts

def test_timeout_returns_nil_after_the_timeout(server, r, c):
    start = time.monotonic()
    assert c.call_raw("BLPOP", "nokey", "0.3") == b"*-1\r\n"
    elapsed = time.monotonic() - start
    assert 0.28 <= elapsed < 1.3, elapsed
    assert c.call("PING") == "PONG"
    # redis-py gives None
    start = time.monotonic()
    assert r.brpop(["nokey"], timeout=0.2) is None
    assert 0.18 <= time.monotonic() - start < 1.2


def test_timeout_reply_of_every_blocking_command(server):
    cmds = [("BLPOP", "n1", "0.25"), ("BRPOP", "n1", "n2", "0.25"),
            ("BLMOVE", "n1", "n2", "LEFT", "RIGHT", "0.25"), ("BRPOPLPUSH", "n1", "n2", "0.25"),
            ("BLMPOP", "0.25", "2", "n1", "n2", "LEFT", "COUNT", "3"), ("BZPOPMIN", "n1", "0.25"),
            ("BZPOPMAX", "n1", "n2", "0.25"), ("BZMPOP", "0.25", "1", "n1", "MAX")]
    conns = []
    try:
        start = time.monotonic()
        for cmd in cmds:
            conn = server.conn(timeout=5.0)
            conns.append(conn)
            conn.send(encode_command(*cmd))
        # a timed-out blocking command answers a null array, whatever its normal reply
        for cmd, conn in zip(cmds, conns):
            assert conn.read_raw() == b"*-1\r\n", cmd
        elapsed = time.monotonic() - start
        assert 0.23 <= elapsed < 1.5, elapsed
        for conn in conns:
            assert conn.call("PING") == "PONG"
    finally:
        for conn in conns:
            conn.close()


def test_element_pushed_after_a_timeout_stays(server, r):
    conn = block(server, "BLPOP", "l", "0.2")
    try:
        assert conn.read_reply() is None
        r.rpush("l", "late")
        assert r.lrange("l", 0, -1) == [b"late"]
    finally:
        conn.close()


def test_timeout_errors(c):
    for cmd in (("BLPOP", "l", "{t}"), ("BRPOP", "l", "{t}"), ("BLMOVE", "a", "b", "LEFT", "LEFT", "{t}"),
                ("BRPOPLPUSH", "a", "b", "{t}"), ("BLMPOP", "{t}", "1", "l", "LEFT"), ("BZPOPMIN", "z", "{t}"),
                ("BZPOPMAX", "z", "{t}"), ("BZMPOP", "{t}", "1", "z", "MIN")):
        for t, err in (("-1", TIMEOUT_NEGATIVE), ("-0.5", TIMEOUT_NEGATIVE), ("abc", TIMEOUT_NOT_FLOAT),
                       ("0.1x", TIMEOUT_NOT_FLOAT), ("", TIMEOUT_NOT_FLOAT), ("nan", TIMEOUT_NOT_FLOAT)):
            args = [t if a == "{t}" else a for a in cmd]
            assert c.call(*args) == err, (args, err)


def test_blocking_command_errors(r, c):
    assert c.call("BLPOP", "l") == "ERR wrong number of arguments for 'blpop' command"
    assert c.call("BZPOPMIN", "z") == "ERR wrong number of arguments for 'bzpopmin' command"
    assert c.call("BLMOVE", "a", "b", "UP", "LEFT", "0") == "ERR syntax error"
    assert c.call("BLMPOP", "0", "0", "l", "LEFT") == "ERR numkeys should be greater than 0"
    assert c.call("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0") == "ERR count should be greater than 0"
    assert c.call("BZMPOP", "0", "1", "z", "LEFT") == "ERR syntax error"
    assert c.call("BZMPOP", "0", "2", "z", "MIN") == "ERR syntax error"
    r.set("str", "v")
    assert c.call("BLPOP", "nokey", "str", "0") == WRONGTYPE
    assert c.call("BZPOPMAX", "str", "0") == WRONGTYPE
    assert c.call("BLMOVE", "str", "dst", "LEFT", "LEFT", "0") == WRONGTYPE
    r.rpush("l", "a")
    assert c.call("BLMOVE", "l", "str", "LEFT", "LEFT", "0") == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"a"]


# ---------------------------------------------------------------- closed connections

def test_closed_blocked_client_does_not_lose_a_pushed_element(server, r):
    conn = block(server, "BLPOP", "l", "0")
    conn.close()
    time.sleep(SETTLE)
    assert r.rpush("l", "kept") == 1
    time.sleep(0.1)
    assert r.lrange("l", 0, -1) == [b"kept"]
    zconn = block(server, "BZPOPMIN", "z", "0")
    zconn.close()
    time.sleep(SETTLE)
    assert r.zadd("z", {"m": 1}) == 1
    time.sleep(0.1)
    assert r.zrange("z", 0, -1) == [b"m"]
    mconn = block(server, "BLMOVE", "src", "dst", "LEFT", "LEFT", "0")
    mconn.close()
    time.sleep(SETTLE)
    r.rpush("src", "x")
    time.sleep(0.1)
    assert r.lrange("src", 0, -1) == [b"x"]
    assert r.exists("dst") == 0


def test_closed_blocked_client_is_skipped_for_the_next_one(server, r):
    first = block(server, "BLPOP", "l", "0")
    second = block(server, "BLPOP", "l", "0")
    try:
        first.close()
        time.sleep(SETTLE)
        r.rpush("l", "a")
        assert reply_within(second, 1.0) == [b"l", b"a"]
        assert r.exists("l") == 0
    finally:
        second.close()


def test_many_blocked_clients_all_served(server, r):
    n = 20
    conns = [server.conn(timeout=5.0) for _ in range(n)]
    try:
        for i, conn in enumerate(conns):
            conn.send(encode_command("BRPOP", "key%d" % (i % 4), "0"))
        time.sleep(0.3)
        pipe = r.pipeline(transaction=False)
        for i in range(n):
            pipe.lpush("key%d" % (i % 4), "v%d" % i)
        pipe.execute()
        got = sorted(reply_within(conn, 2.0)[1] for conn in conns)
        assert got == sorted(b"v%d" % i for i in range(n))
        assert r.exists("key0", "key1", "key2", "key3") == 0
    finally:
        for conn in conns:
            conn.close()


def test_stress_every_pushed_element_reaches_a_blocked_client(server):
    """Many clients looping on BLPOP, clients taking elements with LPOP (so that woken
    clients often find nothing) and several pushers, on both workers: every element is popped
    and no BLPOP times out while elements wait. A lost wake-up leaves an element in the list
    with every consumer blocked, until their timeout."""
    consumers, stealers, pushers, per_pusher = 16, 2, 4, 600
    total = pushers * per_pusher
    timeout = 5
    popped, timeouts, errors = [], [], []
    lock = threading.Lock()

    def consume():
        client = server.client(socket_timeout=timeout + 10)
        try:
            while True:
                got = client.blpop(["q1", "q2"], timeout=timeout)
                if got is None:
                    with lock:
                        timeouts.append(client.llen("q1") + client.llen("q2"))
                    continue
                if got[1] == b"stop":
                    return
                with lock:
                    popped.append(got[1])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            client.close()

    def steal():
        client = server.client()
        try:
            while len(popped) < total and not errors:
                for key in ("q1", "q2"):
                    got = client.lpop(key)
                    if got == b"stop":  # for a consumer: the stealing is over
                        client.rpush(key, got)
                        return
                    if got is not None:
                        with lock:
                            popped.append(got)
        finally:
            client.close()

    def push(p):
        client = server.client()
        try:
            for i in range(0, per_pusher, 3):
                items = [b"%d:%d" % (p, j) for j in range(i, min(i + 3, per_pusher))]
                client.rpush("q%d" % (1 + i % 2), *items)
        finally:
            client.close()

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    threads += [threading.Thread(target=steal) for _ in range(stealers)]
    for t in threads:
        t.start()
    pushing = [threading.Thread(target=push, args=(p,)) for p in range(pushers)]
    for t in pushing:
        t.start()
    for t in pushing:
        t.join()
    deadline = time.monotonic() + 60
    while len(popped) < total and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    stopper = server.client()
    stopper.rpush("q1", *([b"stop"] * consumers))
    for t in threads:
        t.join(timeout + 20)
    stopper.close()
    assert errors == []
    assert timeouts == [], "BLPOP timed out with elements waiting: a lost wake-up"
    assert sorted(popped) == sorted(b"%d:%d" % (p, j) for p in range(pushers) for j in range(per_pusher))


# ---------------------------------------------------------------- blocked clients seen from outside

BLOCKING_COMMANDS = [
    (("BLPOP", "l", "0"), ("RPUSH", "l", "a")),
    (("BRPOP", "x", "l", "0"), ("RPUSH", "l", "a")),
    (("BLMOVE", "l", "d", "LEFT", "RIGHT", "0"), ("RPUSH", "l", "a")),
    (("BRPOPLPUSH", "l", "d", "0"), ("RPUSH", "l", "a")),
    (("BLMPOP", "0", "1", "l", "LEFT"), ("RPUSH", "l", "a")),
    (("BZPOPMIN", "z", "0"), ("ZADD", "z", "1", "m")),
    (("BZPOPMAX", "z", "0"), ("ZADD", "z", "1", "m")),
    (("BZMPOP", "0", "1", "z", "MIN"), ("ZADD", "z", "1", "m")),
]


def test_every_blocking_command_is_a_blocked_client_until_served(server, r):
    assert blocked_clients(r) == 0
    for cmd, serve in BLOCKING_COMMANDS:
        conn = server.conn(timeout=5.0)
        try:
            cid = conn.call("CLIENT", "ID")
            assert client_flags(r, cid) == "N"
            conn.send(encode_command(*cmd))
            assert wait_blocked_clients(r, 1) == 1, cmd
            assert client_flags(r, cid) == "b", cmd
            r.execute_command(*serve)
            assert not isinstance(reply_within(conn, 2.0), RespError)
            assert wait_blocked_clients(r, 0) == 0, cmd
            assert client_flags(r, cid) == "N"
        finally:
            conn.close()


def test_blocked_clients_count_every_worker_and_drops_on_timeout_and_close(server, r):
    conns = [server.conn(timeout=5.0) for _ in range(4)]
    try:
        for conn in conns:  # the connections are spread over both workers
            conn.send(encode_command("BLPOP", "nothing", "0"))
        assert wait_blocked_clients(r, 4) == 4
        conns[0].close()
        conns[1].sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conns[1].close()
        assert wait_blocked_clients(r, 2) == 2
        timing_out = server.conn(timeout=5.0)
        timing_out.send(encode_command("BZPOPMIN", "nothing", "0.3"))
        assert wait_blocked_clients(r, 3) == 3
        assert timing_out.read_reply() is None
        assert blocked_clients(r) == 2
        timing_out.close()
        r.rpush("nothing", "a", "b")
        # (sent one after the other, the two BLPOPs may reach their workers in either order)
        assert sorted(reply_within(conn, 2.0)[1] for conn in conns[2:]) == [b"a", b"b"]
        assert wait_blocked_clients(r, 0) == 0
    finally:
        for conn in conns:
            conn.close()


def test_client_unblock_as_a_timeout_or_an_error(server, r):
    cmds = [cmd for cmd, _ in BLOCKING_COMMANDS]
    conns = [server.conn(timeout=5.0) for _ in cmds]
    try:
        ids = [conn.call("CLIENT", "ID") for conn in conns]
        for cmd, conn in zip(cmds, conns):
            conn.send(encode_command(*cmd))
        assert wait_blocked_clients(r, len(cmds)) == len(cmds)
        # the unblocking client is on one worker, the blocked ones on both
        for i, (cmd, conn) in enumerate(zip(cmds, conns)):
            if i % 2 == 0:
                assert r.execute_command("CLIENT", "UNBLOCK", ids[i]) == 1
                assert conn.read_raw() == b"*-1\r\n", cmd  # as a timeout answers
            else:
                assert r.execute_command("CLIENT", "UNBLOCK", ids[i], "ERROR") == 1
                assert conn.read_reply() == RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK"), cmd
            assert conn.call("PING") == "PONG"
        assert wait_blocked_clients(r, 0) == 0
        # an unblocked command took nothing: what comes later stays
        r.rpush("l", "kept")
        assert r.lrange("l", 0, -1) == [b"kept"]
        # a client that is not blocked, or not there, is not unblocked
        assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 0
        assert r.execute_command("CLIENT", "UNBLOCK", 999999999, "TIMEOUT") == 0
        assert r.execute_command("CLIENT", "UNBLOCK", r.client_id()) == 0
    finally:
        for conn in conns:
            conn.close()


def test_client_unblock_errors(c):
    assert c.call("CLIENT", "UNBLOCK", "abc") == RespError("ERR value is not an integer or out of range")
    assert c.call("CLIENT", "UNBLOCK", "1", "LATER") == RespError(
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    assert c.call("CLIENT", "UNBLOCK", "1", "ERROR", "x").startswith("ERR ")
    assert c.call("CLIENT", "UNBLOCK", "0", "timeout") == 0
    assert c.call("CLIENT", "UNBLOCK", "-5") == 0


def test_a_wake_for_an_unblocked_client_goes_to_the_next(make_server):
    """The element pushed in the same transaction that unblocks the first waiter serves the
    second: the wake-up the first one got is not lost with it. (One worker makes the order
    certain: the unblocking is handled after the commit's wake-up.)"""
    server = make_server({"workers": 1} if not IS_REDIS else None)
    r = server.client()
    first, second = server.conn(timeout=5.0), server.conn(timeout=5.0)
    try:
        first_id = first.call("CLIENT", "ID")
        first.send(encode_command("BLPOP", "q", "0"))
        assert wait_blocked_clients(r, 1) == 1
        second.send(encode_command("BLPOP", "q", "0"))
        assert wait_blocked_clients(r, 2) == 2
        pipe = r.pipeline(transaction=True)
        pipe.rpush("q", "x")
        pipe.execute_command("CLIENT", "UNBLOCK", first_id)
        assert pipe.execute() == [1, 1]
        assert first.read_reply() is None
        assert reply_within(second, 2.0) == [b"q", b"x"]
        assert r.exists("q") == 0
    finally:
        first.close()
        second.close()
        r.close()
