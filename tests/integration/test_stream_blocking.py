"""XREAD BLOCK and XREADGROUP BLOCK with Redis 7.0 semantics (checked against redis-server
7.0.15): timeouts, "$" as the last id when the command first ran, several keys, keys that do not
exist yet or change type while a reader waits, MULTI and scripts, CLIENT UNBLOCK, every reader
of a stream woken by one XADD (readers on different connections, so on different workers), and
a group's entry going to one of its waiting consumers."""

import random
import threading
import time

import pytest

from conftest import RespError, encode_command, soak
from test_blocking import block, client_flags, not_answered, reply_within, wait_blocked_clients

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def entry(i):
    """The entry XADD s i-0 f i adds, as XREAD replies it."""
    return [b"%d-0" % i, [b"f", b"%d" % i]]


def xadd(r, key, i):
    assert r.execute_command("XADD", key, "%d-0" % i, "f", str(i)) == b"%d-0" % i


# ---------------------------------------------------------------- answers and timeouts

def test_block_answers_at_once_when_there_are_entries(r, c):
    xadd(r, "s", 1)
    start = time.monotonic()
    assert c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "0") == [[b"s", [entry(1)]]]
    assert time.monotonic() - start < 1.0


def test_block_times_out_with_a_null_array(server, c):
    start = time.monotonic()
    assert c.call_raw("XREAD", "BLOCK", "150", "STREAMS", "s", "$") == b"*-1\r\n"
    assert 0.14 < time.monotonic() - start < 2.0
    with server.conn() as c3:
        c3.call("HELLO", "3")
        assert c3.call_raw("XREAD", "BLOCK", "50", "STREAMS", "s", "0") == b"_\r\n"


def test_dollar_is_the_last_id_when_the_command_first_ran(server, r):
    xadd(r, "s", 1)
    conn = block(server, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    try:
        assert not_answered(conn, 0.1)  # the entry added before is not returned
        xadd(r, "s", 2)  # the one added after is
        assert reply_within(conn, 2.0) == [[b"s", [entry(2)]]]
    finally:
        conn.close()


def test_a_stream_that_does_not_exist_yet(server, r):
    conn = block(server, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$")
    try:
        xadd(r, "s", 1)
        assert reply_within(conn, 2.0) == [[b"s", [entry(1)]]]
    finally:
        conn.close()


def test_an_emptied_stream_waits_after_its_last_generated_id(server, r):
    xadd(r, "s", 1)
    r.execute_command("XDEL", "s", "1-0")
    conn = block(server, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    try:
        xadd(r, "s", 2)
        assert reply_within(conn, 2.0) == [[b"s", [entry(2)]]]
    finally:
        conn.close()


def test_count_bounds_what_a_woken_reader_gets(server, r):
    conn = block(server, "XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "$")
    try:
        pipe = r.pipeline(transaction=True)
        for i in (1, 2, 3):
            pipe.execute_command("XADD", "s", "%d-0" % i, "f", str(i))
        pipe.execute()
        assert reply_within(conn, 2.0) == [[b"s", [entry(1), entry(2)]]]
    finally:
        conn.close()


def test_several_keys_reply_only_those_with_new_entries(server, r):
    xadd(r, "a", 1)
    conn = block(server, "XREAD", "BLOCK", "0", "STREAMS", "a", "b", "c", "$", "$", "0")
    try:
        xadd(r, "b", 7)
        assert reply_within(conn, 2.0) == [[b"b", [entry(7)]]]
    finally:
        conn.close()


def test_pipelined_after_writes(server, r):
    # it runs alone, not in the write group of the commands pipelined before it
    conn = server.conn(timeout=5.0)
    try:
        conn.send(encode_command("SET", "x", "1") + encode_command("XADD", "s", "1-0", "f", "1") +
                  encode_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$") + encode_command("PING"))
        assert conn.read_reply() == "OK"
        assert conn.read_reply() == b"1-0"
        assert not_answered(conn, 0.2)
        xadd(r, "s", 2)
        assert reply_within(conn, 2.0) == [[b"s", [entry(2)]]]
        assert conn.read_reply() == "PONG"
    finally:
        conn.close()


def test_wrongtype_at_the_first_run(r, c):
    r.set("str", "x")
    assert c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "str", "$", "$") == RespError(WRONGTYPE)


# ---------------------------------------------------------------- every reader is woken

def test_one_xadd_wakes_every_reader_of_the_stream(server, r):
    conns = [server.conn(timeout=5.0) for _ in range(20)]
    try:
        for conn in conns:
            conn.send(encode_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
        assert wait_blocked_clients(r, 20) == 20
        xadd(r, "s", 1)
        for conn in conns:
            assert reply_within(conn, 3.0) == [[b"s", [entry(1)]]]
        assert wait_blocked_clients(r, 0) == 0
    finally:
        for conn in conns:
            conn.close()


def test_readers_and_pops_on_one_key_keep_their_own_semantics(server, r):
    # the reader waits first: a push still serves the pop, one at a time, oldest first
    reader = block(server, "XREAD", "BLOCK", "0", "STREAMS", "k", "$")
    pops = [block(server, "BLPOP", "k", "0") for _ in range(2)]
    try:
        r.rpush("k", "a")
        assert reply_within(pops[0], 2.0) == [b"k", b"a"]
        assert not_answered(pops[1], 0.1) and not_answered(reader, 0.1)
        r.rpush("k", "b")
        assert reply_within(pops[1], 2.0) == [b"k", b"b"]
        assert not_answered(reader, 0.1)
        xadd(r, "k", 1)  # the list is gone: the key is a stream now
        assert reply_within(reader, 2.0) == [[b"k", [entry(1)]]]
    finally:
        for conn in [reader] + pops:
            conn.close()


# ---------------------------------------------------------------- the key changes while waiting

def test_a_deleted_or_retyped_key_keeps_the_reader_waiting(server, r):
    xadd(r, "s", 5)
    conn = block(server, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    try:
        r.delete("s")
        assert not_answered(conn, 0.1)
        r.set("s", "x")
        r.lpush("other", "y")
        assert not_answered(conn, 0.1)
        r.delete("s")
        xadd(r, "s", 3)  # recreated, but not after the id "$" stood for (5-0)
        assert not_answered(conn, 0.1)
        xadd(r, "s", 6)
        assert reply_within(conn, 2.0) == [[b"s", [entry(6)]]]
    finally:
        conn.close()


def test_a_retyped_key_does_not_stop_the_others(server, r):
    conn = block(server, "XREAD", "BLOCK", "0", "STREAMS", "a", "b", "$", "$")
    try:
        r.lpush("a", "x")
        assert not_answered(conn, 0.1)
        xadd(r, "b", 1)
        assert reply_within(conn, 2.0) == [[b"b", [entry(1)]]]
    finally:
        conn.close()


# ---------------------------------------------------------------- never blocking, unblocking

def test_multi_never_blocks(r, c):
    assert c.call("MULTI") == "OK"
    assert c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$") == "QUEUED"
    assert c.call("XADD", "s", "1-0", "f", "1") == "QUEUED"
    assert c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "0") == "QUEUED"
    assert c.call("EXEC") == [None, b"1-0", [[b"s", [entry(1)]]]]


def test_scripts_refuse_block(r, c):
    xadd(r, "s", 1)
    for script in ["return redis.call('xread', 'block', '0', 'streams', KEYS[1], '$')",
                   "return redis.call('xread', 'block', '0', 'streams', KEYS[1], '0')"]:
        start = time.monotonic()
        rep = c.call("EVAL", script, "1", "s")
        assert isinstance(rep, RespError)
        assert rep.startswith("ERR xread command is not allowed with BLOCK option from scripts")
        assert time.monotonic() - start < 1.0
    assert c.call("EVAL", "return redis.call('xread', 'streams', KEYS[1], '0')", "1", "s") == [[b"s", [entry(1)]]]


def test_client_unblock_info_and_client_list(server, r):
    conns = [server.conn(timeout=5.0) for _ in range(2)]
    try:
        ids = [conn.call("CLIENT", "ID") for conn in conns]
        for conn in conns:
            conn.send(encode_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
        assert wait_blocked_clients(r, 2) == 2
        assert "b" in client_flags(r, ids[0])
        assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 1
        assert conns[0].read_raw() == b"*-1\r\n"
        assert r.execute_command("CLIENT", "UNBLOCK", ids[1], "ERROR") == 1
        assert conns[1].read_reply() == RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        assert wait_blocked_clients(r, 0) == 0
        assert "b" not in client_flags(r, ids[0])
        for conn in conns:
            assert conn.call("PING") == "PONG"
    finally:
        for conn in conns:
            conn.close()


# ---------------------------------------------------------------- no reader misses an entry

def readers_see_every_entry(server, r, nreaders, nentries):
    """Readers loop on XREAD BLOCK from the last id they got while a writer adds entries with
    pauses of random length: each reader must get every entry, in order."""
    seen = [[] for _ in range(nreaders)]
    errors = []

    def read(k):
        try:
            with server.conn(timeout=10.0) as conn:
                last = "0"
                while len(seen[k]) < nentries:
                    rep = conn.call("XREAD", "COUNT", str(random.randint(1, 4)), "BLOCK", "5000",
                                    "STREAMS", "s", last)
                    assert rep is not None, "a reader timed out: it missed a wake-up"
                    for eid, _ in rep[0][1]:
                        seen[k].append(eid)
                    last = seen[k][-1].decode()
        except Exception as e:  # noqa: BLE001 -- reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=read, args=(k,)) for k in range(nreaders)]
    for t in threads:
        t.start()
    rnd = random.Random(17)
    for i in range(1, nentries + 1):
        xadd(r, "s", i)
        if rnd.random() < 0.3:
            time.sleep(rnd.random() * 0.004)
    for t in threads:
        t.join(20)
    assert not errors, errors
    assert all(s == [b"%d-0" % i for i in range(1, nentries + 1)] for s in seen)


def test_readers_see_every_entry(server, r):
    readers_see_every_entry(server, r, 4, 100)


@soak  # long: runs under make soak
def test_readers_see_every_entry_long(server, r):
    readers_see_every_entry(server, r, 12, 1500)


# ---------------------------------------------------------------- XREADGROUP BLOCK

def group_entry(i):
    return [[b"s", [entry(i)]]]


def test_xreadgroup_block_is_served_by_the_next_xadd(server, r, c):
    r.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    conn = block(server, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
    try:
        assert not_answered(conn, 0.1)
        xadd(r, "s", 1)
        assert reply_within(conn, 2.0) == group_entry(1)
        pending = r.xpending("s", "g")
        assert pending["pending"] == 1 and pending["consumers"] == [{"name": b"alice", "pending": 1}]
    finally:
        conn.close()
    start = time.monotonic()
    assert c.call_raw("XREADGROUP", "GROUP", "g", "bob", "BLOCK", "100", "STREAMS", "s", ">") == b"*-1\r\n"
    assert 0.09 < time.monotonic() - start < 2.0


def test_one_entry_goes_to_one_consumer_of_a_group_and_to_each_group(server, r):
    r.execute_command("XGROUP", "CREATE", "s", "g1", "$", "MKSTREAM")
    r.execute_command("XGROUP", "CREATE", "s", "g2", "$")
    same = [block(server, "XREADGROUP", "GROUP", "g1", "c%d" % i, "BLOCK", "0", "STREAMS", "s", ">")
            for i in range(3)]
    other = block(server, "XREADGROUP", "GROUP", "g2", "x", "BLOCK", "0", "STREAMS", "s", ">")
    try:
        assert wait_blocked_clients(r, 4) == 4
        xadd(r, "s", 1)
        assert reply_within(other, 2.0) == group_entry(1)
        # exactly one of g1's consumers gets the entry; the others keep waiting
        assert wait_blocked_clients(r, 2) == 2
        got = [conn for conn in same if not not_answered(conn, 0.05)]
        assert len(got) == 1 and got[0].read_reply() == group_entry(1)
        xadd(r, "s", 2)
        assert wait_blocked_clients(r, 1) == 1
        assert r.xpending("s", "g1")["pending"] == 2
    finally:
        for conn in same + [other]:
            conn.close()


def test_xreadgroup_waiting_on_a_destroyed_group_or_deleted_key(server, r):
    r.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    conn = block(server, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    try:
        assert r.execute_command("XGROUP", "DESTROY", "s", "g") == 1
        rep = reply_within(conn, 2.0)
        assert isinstance(rep, RespError)
        assert rep == "NOGROUP the consumer group this client was blocked on no longer exists"
    finally:
        conn.close()
    r.execute_command("XGROUP", "CREATE", "s", "g", "$")
    conn = block(server, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    try:
        r.delete("s")
        rep = reply_within(conn, 2.0)
        assert isinstance(rep, RespError) and rep == "UNBLOCKED the stream key no longer exists"
    finally:
        conn.close()


def test_xreadgroup_block_in_multi_and_scripts(r, c):
    r.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    assert c.call("MULTI") == "OK"
    assert c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">") == "QUEUED"
    assert c.call("EXEC") == [None]
    rep = c.call("EVAL", "return redis.call('xReadGroup', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', KEYS[1], '>')",
                 "1", "s")
    assert isinstance(rep, RespError)
    assert rep.startswith("ERR xReadGroup command is not allowed with BLOCK option from scripts")
    rep = c.call("EVAL", "return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')", "1", "s")
    assert isinstance(rep, RespError)
    assert rep.startswith("ERR XREAD command is not allowed with BLOCK option from scripts")
