"""Blocked clients are served right after the command that made their keys ready, with the data
as that command left it, before any later command runs, as Redis 7 does (README "Blocking pops"):
pops (BLPOP, BLMOVE, BZPOPMIN) and stream readers woken by a write pipelined with commands that
would take the data away, chains (BLMOVE into a list another client waits on), MULTI/EXEC and
scripts (served after them), many waiters on different connections (so on different workers),
with one worker and with three; and stress tests where producers and blocked consumers (with
timeouts and CLIENT UNBLOCK racing the serving) deliver every element exactly once.

Everything here holds on redis-server too (TIDEKV_TEST_TARGET=redis)."""

import random
import threading
import time

import pytest

from conftest import IS_REDIS, RespError, encode_command, soak
from helpers import started_server

WORKERS = [None] if IS_REDIS else [1, 3]


@pytest.fixture(scope="module", params=WORKERS, ids=lambda n: "redis" if n is None else "workers%d" % n)
def srv(request):
    yield from started_server(None if request.param is None else ["--workers", str(request.param)])


@pytest.fixture
def w(srv):
    """A raw connection to a flushed server: the writer."""
    conn = srv.conn()
    assert conn.call("FLUSHALL") == "OK"
    yield conn
    conn.close()


def blocked_count(srv):
    with srv.conn() as c:
        info = c.call("INFO", "clients").decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def wait_blocked(srv, n, within=5.0):
    deadline = time.monotonic() + within
    while blocked_count(srv) != n:
        assert time.monotonic() < deadline, "%d clients never blocked" % n
        time.sleep(0.005)


def block(srv, *cmd, already=0):
    """A connection whose blocking command waits (sent, reply not read)."""
    b = srv.conn(timeout=10.0)
    b.send(encode_command(*cmd))
    wait_blocked(srv, already + 1)
    return b


def pipeline(conn, *cmds):
    """Sends cmds in one write (back to back) and returns their replies."""
    conn.send(b"".join(encode_command(*cmd) for cmd in cmds))
    return [conn.read_reply() for _ in cmds]


def closing(*conns):
    for conn in conns:
        conn.close()


# ---------------------------------------------------------------- pops

def test_blpop_gets_the_element_before_a_pipelined_rpop(srv, w):
    b = block(srv, "BLPOP", "q", "5")
    try:
        assert pipeline(w, ("LPUSH", "q", "x"), ("RPOP", "q")) == [1, None]
        assert b.read_reply() == [b"q", b"x"]
    finally:
        b.close()


def test_blmove_moves_before_the_next_command(srv, w):
    b = block(srv, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "5")
    try:
        got = pipeline(w, ("LPUSH", "src", "x"), ("RPOP", "src"), ("LRANGE", "dst", "0", "-1"))
        assert got == [1, None, [b"x"]]
        assert b.read_reply() == b"x"
    finally:
        b.close()


def test_bzpopmin_gets_the_member_before_a_pipelined_zpopmin(srv, w):
    b = block(srv, "BZPOPMIN", "z", "5")
    try:
        assert pipeline(w, ("ZADD", "z", "1", "m"), ("ZPOPMIN", "z")) == [1, []]
        assert b.read_reply() == [b"z", b"m", b"1"]
    finally:
        b.close()


def test_a_blmove_serves_the_client_waiting_on_its_destination(srv, w):
    mover = block(srv, "BLMOVE", "a", "b", "LEFT", "RIGHT", "5")
    popper = block(srv, "BLPOP", "b", "5", already=1)
    try:
        assert pipeline(w, ("LPUSH", "a", "x"), ("RPOP", "b"), ("EXISTS", "a", "b")) == [1, None, 0]
        assert mover.read_reply() == b"x"
        assert popper.read_reply() == [b"b", b"x"]
    finally:
        closing(mover, popper)


def test_many_waiters_are_served_oldest_first_before_the_next_command(srv, w):
    waiters = []
    try:
        for i in range(6):
            waiters.append(block(srv, "BLPOP", "q", "5", already=i))
        got = pipeline(w, ("RPUSH", "q", "1", "2", "3", "4", "5", "6", "7"), ("LRANGE", "q", "0", "-1"))
        assert got == [7, [b"7"]]
        assert [b.read_reply() for b in waiters] == [[b"q", b"%d" % i] for i in range(1, 7)]
    finally:
        closing(*waiters)


def test_served_after_exec_not_inside_it(srv, w):
    b = block(srv, "BLPOP", "q", "5")
    try:
        got = pipeline(w, ("MULTI",), ("LPUSH", "q", "x", "y"), ("RPOP", "q"), ("EXEC",), ("RPOP", "q"))
        assert got[3] == [2, b"x"] and got[4] is None
        assert b.read_reply() == [b"q", b"y"]
    finally:
        b.close()


def test_served_after_the_script(srv, w):
    script = "redis.call('lpush', KEYS[1], 'a') redis.call('lpush', KEYS[1], 'b') return redis.call('rpop', KEYS[1])"
    b = block(srv, "BLPOP", "q", "5")
    try:
        assert pipeline(w, ("EVAL", script, "1", "q"), ("RPOP", "q")) == [b"a", None]
        assert b.read_reply() == [b"q", b"b"]
    finally:
        b.close()


def test_a_client_unblocked_in_the_transaction_is_passed_over(srv, w):
    first = srv.conn(timeout=10.0)
    second = None
    try:
        first_id = first.call("CLIENT", "ID")
        first.send(encode_command("BLPOP", "q", "5"))
        wait_blocked(srv, 1)
        second = block(srv, "BLPOP", "q", "5", already=1)
        got = pipeline(w, ("MULTI",), ("RPUSH", "q", "x"), ("CLIENT", "UNBLOCK", first_id), ("EXEC",))
        assert got[3] == [1, 1]
        assert first.read_reply() is None
        assert second.read_reply() == [b"q", b"x"]
    finally:
        closing(*[x for x in (first, second) if x])


# ---------------------------------------------------------------- streams

def test_every_xread_waiter_gets_the_entry_before_a_pipelined_del(srv, w):
    waiters = []
    try:
        for i in range(4):
            waiters.append(block(srv, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$", already=i))
        assert pipeline(w, ("XADD", "s", "1-0", "f", "v"), ("DEL", "s")) == [b"1-0", 1]
        for b in waiters:
            assert b.read_reply() == [[b"s", [[b"1-0", [b"f", b"v"]]]]]
    finally:
        closing(*waiters)


def test_one_consumer_gets_the_entry_before_a_pipelined_setid(srv, w):
    w.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    waiters = []
    try:
        for i in range(3):
            waiters.append(block(srv, "XREADGROUP", "GROUP", "g", "c%d" % i, "BLOCK", "5000", "STREAMS", "s", ">",
                                 already=i))
        assert pipeline(w, ("XADD", "s", "1-0", "f", "v"), ("XGROUP", "SETID", "s", "g", "$")) == [b"1-0", "OK"]
        assert waiters[0].read_reply() == [[b"s", [[b"1-0", [b"f", b"v"]]]]]
        assert w.call("XPENDING", "s", "g")[3] == [[b"c0", b"1"]]
        assert blocked_count(srv) == 2  # the others wait on
    finally:
        closing(*waiters)


# ---------------------------------------------------------------- stress

def run_stress(srv, consumers, producers, stop, settle, blocked_first=0):
    """Starts the consumers (and other background threads), waits until blocked_first clients
    are blocked, runs the producers to their end, lets the consumers take what is left for
    settle seconds, then stops them (stop) and waits for them."""
    for t in consumers:
        t.start()
    if blocked_first:
        wait_blocked(srv, blocked_first)
    for t in producers:
        t.start()
    for t in producers:
        t.join(60)
    time.sleep(settle)
    stop.set()
    for t in consumers:
        t.join(60)


def producer(srv, key, items, popped, errors):
    try:
        with srv.conn(timeout=20.0) as p:
            for i in range(0, len(items), 5):
                # Pushes, each followed by a pipelined pop: a waiting consumer is served first.
                got = pipeline(p, ("RPUSH", key) + tuple(items[i:i + 5]), ("RPOP", key))
                if got[1] is not None:
                    popped.append(got[1])
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


def pop_stress(srv, nproducers, nconsumers, per_producer):
    """Producers push unique items (each batch followed by a pipelined RPOP); consumers BLPOP
    with short timeouts while another thread CLIENT UNBLOCKs them at random. Every item must end
    up exactly once: with a consumer, popped by a producer, or left in the lists."""
    keys = ["q%d" % i for i in range(3)]
    got, moves, popped, errors, stop = [], [], [], [], threading.Event()
    ids = []

    def consumer(n):
        try:
            with srv.conn(timeout=20.0) as c:
                ids.append(c.call("CLIENT", "ID"))
                while not stop.is_set():
                    cmd = ("BLPOP",) + tuple(random.sample(keys, 2)) + ("0.05",) if n % 2 else \
                        ("BLMOVE", random.choice(keys), "moved", "LEFT", "RIGHT", "0.05")
                    reply = c.call(*cmd)
                    if isinstance(reply, list):
                        got.append(reply[1])
                    elif isinstance(reply, bytes):
                        moves.append(reply)
                    elif reply is not None and reply != RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK"):
                        errors.append(reply)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def unblocker():
        with srv.conn(timeout=20.0) as u:
            while not stop.is_set():
                if ids:
                    u.call("CLIENT", "UNBLOCK", random.choice(ids), random.choice(["TIMEOUT", "ERROR"]))
                time.sleep(0.002)

    consumers = [threading.Thread(target=consumer, args=(n,)) for n in range(nconsumers)]
    items = [["p%d-%d" % (p, i) for i in range(per_producer)] for p in range(nproducers)]
    producers = [threading.Thread(target=producer, args=(srv, keys[p % 3], items[p], popped, errors))
                 for p in range(nproducers)]
    run_stress(srv, consumers + [threading.Thread(target=unblocker)], producers, stop, 0.3)
    assert errors == []
    with srv.conn() as c:
        left = [x for k in keys for x in c.call("LRANGE", k, "0", "-1")]
        moved = c.call("LRANGE", "moved", "0", "-1")
    assert sorted(moved) == sorted(moves)  # each BLMOVE that replied moved its element, once
    assert sorted(got + moves + popped + left) == sorted(x.encode() for batch in items for x in batch)
    assert len(got) + len(moves) > 0
    wait_blocked(srv, 0)


def test_pops_deliver_every_element_exactly_once(srv, w):
    pop_stress(srv, nproducers=3, nconsumers=4, per_producer=100)


@soak  # long: runs under make soak
def test_pops_deliver_every_element_exactly_once_long(srv, w):
    pop_stress(srv, nproducers=6, nconsumers=12, per_producer=5000)


def group_stress(srv, w, nproducers, nconsumers, per_producer):
    """Producers XADD (each followed by a pipelined XTRIM that keeps the stream short) while
    consumers of one group read with XREADGROUP BLOCK and short timeouts: every entry goes to
    exactly one consumer (the trim cannot take an entry from a waiting consumer: it is served
    at the XADD). Some entries are read by none: added while no consumer waited, and trimmed."""
    w.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    got, errors, stop = [], [], threading.Event()

    def consumer(n):
        try:
            with srv.conn(timeout=20.0) as c:
                while not stop.is_set():
                    reply = c.call("XREADGROUP", "GROUP", "g", "c%d" % n, "COUNT", "1000", "BLOCK", "50",
                                   "STREAMS", "s", ">")
                    if reply is not None:
                        got.extend(entry[0] for entry in reply[0][1])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def produce(p):
        try:
            with srv.conn(timeout=20.0) as c:
                for i in range(per_producer):
                    pipeline(c, ("XADD", "s", "*", "p", p, "i", i), ("XTRIM", "s", "MAXLEN", "0"))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    consumers = [threading.Thread(target=consumer, args=(n,)) for n in range(nconsumers)]
    producers = [threading.Thread(target=produce, args=(p,)) for p in range(nproducers)]
    run_stress(srv, consumers, producers, stop, 0.2, blocked_first=nconsumers)
    assert errors == []
    assert len(got) == len(set(got))
    pending = w.call("XPENDING", "s", "g")
    assert pending[0] == len(got)
    assert len(got) > 0
    wait_blocked(srv, 0)


def test_group_entries_go_to_one_consumer_each(srv, w):
    group_stress(srv, w, nproducers=2, nconsumers=4, per_producer=100)


@soak  # long: runs under make soak
def test_group_entries_go_to_one_consumer_each_long(srv, w):
    group_stress(srv, w, nproducers=4, nconsumers=10, per_producer=1500)
