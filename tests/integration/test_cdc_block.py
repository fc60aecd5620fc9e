"""POLLUPDATES … BLOCK: waiting for commits (CDC.md: "Wake-up is driven by commits, not by
a polling timer")."""

import socket
import struct
import threading
import time

import pytest

from conftest import RespConn, RespError, encode_command, tidekv_only
from test_cdc_helpers import pairs, parse_batch, poll, poll_all, resp_update, seq, socket_has_data

pytestmark = tidekv_only


def reply_dict(rep):
    assert not isinstance(rep, RespError), rep
    d = dict(pairs(rep))
    d["updates"] = [resp_update(u) if isinstance(u, (list, dict)) else u for u in d["updates"]]
    return d


def send_poll(c, start, *opts):
    c.send(encode_command("POLLUPDATES", start, *opts))


def test_blocked_poller_wakes_quickly_on_a_write(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        send_poll(c, s, "BLOCK", 10000, "FORMAT", "RESP")
        time.sleep(0.3)
        assert not socket_has_data(c.sock), "replied before any write"
        t0 = time.monotonic()
        r.set("wake", "1")
        rep = reply_dict(c.read_reply())
        dt = time.monotonic() - t0
    assert dt < 0.5, "woke %.3fs after the write" % dt
    assert [u["commands"] for u in rep["updates"]] == [[[b"SET", b"wake", b"1"]]]
    assert rep["next_sequence"] == s + 1
    assert rep["first_sequence"] == s + 1


def test_wake_latency_is_small_over_many_rounds(server, r):
    """Commit-driven wake-ups: the median latency over several rounds stays far below a
    polling interval."""
    lat = []
    with server.conn(timeout=10) as c:
        for i in range(10):
            s = seq(r)
            send_poll(c, s, "BLOCK", 5000)
            time.sleep(0.05)
            t0 = time.monotonic()
            r.set("k", i)
            rep = reply_dict(c.read_reply())
            lat.append(time.monotonic() - t0)
            assert len(rep["updates"]) == 1
    lat.sort()
    assert lat[len(lat) // 2] < 0.1, lat
    assert lat[-1] < 0.5, lat


def test_block_timeout_returns_empty_updates(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        t0 = time.monotonic()
        rep = reply_dict(c.call("POLLUPDATES", s, "BLOCK", 400, "FORMAT", "RESP"))
        dt = time.monotonic() - t0
    assert 0.35 <= dt <= 1.5, dt
    assert rep["updates"] == []
    assert rep["next_sequence"] == s
    assert rep["first_sequence"] == s + 1
    assert rep["latest_sequence"] == s


def test_block_returns_at_once_when_data_exists(server, r):
    s = seq(r)
    r.set("a", "1")
    t0 = time.monotonic()
    d = poll(r, s, "BLOCK", 5000, "FORMAT", "RESP")
    assert time.monotonic() - t0 < 0.3
    assert d["updates"][0]["commands"] == [[b"SET", b"a", b"1"]]


def test_block_0_waits_until_a_write(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        send_poll(c, s, "BLOCK", 0, "FORMAT", "RESP")
        assert not socket_has_data(c.sock, 1.2), "BLOCK 0 replied without a write"
        t0 = time.monotonic()
        r.set("zero", "1")
        rep = reply_dict(c.read_reply())
        assert time.monotonic() - t0 < 0.5
    assert rep["updates"][0]["commands"] == [[b"SET", b"zero", b"1"]]


def test_block_raw_format(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        send_poll(c, s, "BLOCK", 3000)
        time.sleep(0.1)
        r.set("raw", "1")
        rep = reply_dict(c.read_reply())
    assert len(rep["updates"]) == 1
    assert struct.unpack("<QI", bytes.fromhex(rep["updates"][0].decode())[:12]) == (s + 1, 1)


def test_block_wakes_on_multi_and_flushall(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        send_poll(c, s, "BLOCK", 5000, "FORMAT", "RESP")
        time.sleep(0.1)
        p = r.pipeline(transaction=True)
        p.set("a", 1)
        p.set("b", 2)
        p.execute()
        rep = reply_dict(c.read_reply())
        assert rep["updates"][0]["commands"] == [[b"SET", b"a", b"1"], [b"SET", b"b", b"2"]]
        s = rep["next_sequence"]
        send_poll(c, s, "BLOCK", 5000, "FORMAT", "RESP")
        time.sleep(0.1)
        r.flushall()
        rep = reply_dict(c.read_reply())
        assert rep["updates"][0]["commands"] == [[b"FLUSHALL"]]


def test_block_with_filter_wakes_only_for_matches(server, r):
    """Non-matching writes never make a filtered poller reply with updates; it may reply
    empty with next_sequence advanced. Every matching write is delivered, once, in order."""
    start = seq(r)
    expected = [b"want:%d" % i for i in range(3)]
    stop = threading.Event()

    def writer():
        w = server.client()
        try:
            for i in range(3):
                for j in range(4):
                    w.set("other:%d:%d" % (i, j), "x")
                    time.sleep(0.03)
                w.set("want:%d" % i, "y")
                time.sleep(0.05)
        finally:
            w.close()
            stop.set()

    got = []
    empties = 0
    th = threading.Thread(target=writer)
    with server.conn(timeout=10) as c:
        pos = start
        th.start()
        deadline = time.monotonic() + 15
        while len(got) < 3 and time.monotonic() < deadline:
            rep = reply_dict(c.call("POLLUPDATES", pos, "BLOCK", 3000, "FORMAT", "RESP", "MATCH", "want:*"))
            assert rep["next_sequence"] >= pos
            if not rep["updates"]:
                empties += 1
            for u in rep["updates"]:
                for cmd in u["commands"]:
                    assert cmd[1].startswith(b"want:"), "non-matching command delivered: %r" % (cmd,)
                    got.append(cmd[1])
            pos = rep["next_sequence"]
        th.join(10)
    assert got == expected
    # nothing matching was skipped: an unfiltered read of the same range agrees
    all_wants = [cmd[1] for u in poll_all(r, start, "RESP") for cmd in u["commands"]
                 if cmd[1].startswith(b"want:")]
    assert all_wants == expected


def test_block_with_filter_times_out_past_nonmatching_writes(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        send_poll(c, s, "BLOCK", 800, "FORMAT", "RESP", "MATCH", "nomatch:*")
        time.sleep(0.1)
        r.set("other", "1")
        r.set("other2", "1")
        t0 = time.monotonic()
        rep = reply_dict(c.read_reply())
    assert rep["updates"] == []
    # the filtered batches were scanned: next_sequence moves past them (CDC.md)
    assert s + 1 <= rep["next_sequence"] <= s + 2
    assert time.monotonic() - t0 < 1.5


def test_block_with_db_filter_wakes_on_that_db(server, r):
    s = seq(r)
    c7 = server.client(db=7)
    try:
        with server.conn(timeout=10) as c:
            send_poll(c, s, "BLOCK", 5000, "FORMAT", "RESP", "DB", 7)
            time.sleep(0.1)
            r.set("db0", "x")
            time.sleep(0.2)
            t0 = time.monotonic()
            c7.set("db7", "y")
            while True:
                rep = reply_dict(c.read_reply())
                if rep["updates"]:
                    break
                send_poll(c, rep["next_sequence"], "BLOCK", 5000, "FORMAT", "RESP", "DB", 7)
            assert time.monotonic() - t0 < 0.5
            assert rep["updates"][0]["db"] == 7
            assert rep["updates"][0]["commands"] == [[b"SET", b"db7", b"y"]]
    finally:
        c7.close()


def test_fifty_blocked_pollers_all_wake(server, r):
    s = seq(r)
    conns = [RespConn(server.host, server.port, timeout=10) for _ in range(50)]
    try:
        for c in conns:
            send_poll(c, s, "BLOCK", 10000, "FORMAT", "RESP")
        time.sleep(0.5)
        for c in conns:
            assert not socket_has_data(c.sock)
        t0 = time.monotonic()
        r.set("all", "wake")
        for c in conns:
            rep = reply_dict(c.read_reply())
            assert rep["updates"][0]["commands"] == [[b"SET", b"all", b"wake"]]
        dt = time.monotonic() - t0
        assert dt < 1.0, "50 pollers took %.3fs" % dt
    finally:
        for c in conns:
            c.close()
    assert r.ping()


def client_tot_mem(r, client_id):
    line = r.execute_command("CLIENT", "LIST", "ID", client_id)
    if isinstance(line, bytes):
        line = line.decode()
    return int(dict(f.split("=", 1) for f in line.split() if "=" in f)["tot-mem"])


@pytest.mark.soak  # long: runs under make soak
def test_a_consumer_keeps_its_reply_buffer_but_not_while_it_waits(server, r):
    """Replies reuse a buffer kept by the client; a poll waiting for commits lets it go, and
    so does a client that stays quiet."""
    s = seq(r)
    r.mset({"k%d" % i: "v" * 200 for i in range(300)})
    with RespConn(server.host, server.port, timeout=10) as c:
        client_id = c.call("CLIENT", "ID")
        idle = client_tot_mem(r, client_id)
        rep = reply_dict(c.call("POLLUPDATES", s, "MAX", 1000, "FORMAT", "RAW"))
        assert len(rep["updates"]) == 1
        body = len(rep["updates"][0])
        assert client_tot_mem(r, client_id) >= idle + body
        # The wait lets the large buffer go; the small reply it ends with is what is kept.
        send_poll(c, rep["next_sequence"], "BLOCK", 10000)
        time.sleep(0.2)
        r.set("wake", "up")
        assert len(reply_dict(c.read_reply())["updates"]) == 1
        assert client_tot_mem(r, client_id) < idle + body // 2
        # A buffer kept by a client that then goes quiet is let go after a few seconds.
        c.call("POLLUPDATES", s, "MAX", 1000, "FORMAT", "RAW")
        assert client_tot_mem(r, client_id) >= idle + body
        deadline = time.monotonic() + 10
        while client_tot_mem(r, client_id) >= idle + body and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client_tot_mem(r, client_id) < idle + body // 2


def test_closing_a_blocked_connection_is_harmless(server, r):
    s = seq(r)
    conns = [RespConn(server.host, server.port, timeout=10) for _ in range(6)]
    for c in conns:
        send_poll(c, s, "BLOCK", 0, "FORMAT", "RESP")
    time.sleep(0.3)
    # close half of them: one politely, the others with a reset
    conns[0].close()
    for c in conns[1:3]:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    time.sleep(0.3)
    assert r.ping()
    r.set("after-close", "1")
    for c in conns[3:]:
        rep = reply_dict(c.read_reply())
        assert rep["updates"][0]["commands"] == [[b"SET", b"after-close", b"1"]]
        c.close()
    # a blocked poller whose connection closes right when a write arrives
    for _ in range(5):
        c = RespConn(server.host, server.port, timeout=10)
        send_poll(c, seq(r), "BLOCK", 0)
        time.sleep(0.02)
        c.close()
        r.set("race", "1")
    assert r.ping()
    d = poll(r, s, "FORMAT", "RESP")
    assert d["updates"][0]["commands"] == [[b"SET", b"after-close", b"1"]]
    # a blocked poller killed with CLIENT KILL
    victim = RespConn(server.host, server.port, timeout=10)
    vid = victim.call("CLIENT", "ID")
    send_poll(victim, seq(r), "BLOCK", 0)
    time.sleep(0.1)
    assert r.execute_command("CLIENT", "KILL", "ID", vid) == 1
    assert victim.is_closed(2)
    victim.close()
    r.set("after-kill", "1")
    assert r.ping()
    assert server.running
    wait_blocked = time.monotonic() + 2
    while r.info("clients").get("blocked_clients", 0) and time.monotonic() < wait_blocked:
        time.sleep(0.05)
    assert r.info("clients").get("blocked_clients", 0) == 0


def test_pipelined_commands_after_blocked_poll_answer_in_order(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        c.send(encode_command("POLLUPDATES", s, "BLOCK", 5000, "FORMAT", "RESP")
               + encode_command("PING")
               + encode_command("ECHO", "hi")
               + encode_command("SET", "mine", "1")
               + encode_command("GET", "mine"))
        time.sleep(0.3)
        assert not socket_has_data(c.sock), "something answered before the blocked poll"
        r.set("theirs", "1")
        rep = reply_dict(c.read_reply())
        assert [u["commands"] for u in rep["updates"]] == [[[b"SET", b"theirs", b"1"]]]
        assert c.read_reply() == "PONG"
        assert c.read_reply() == b"hi"
        assert c.read_reply() == "OK"
        assert c.read_reply() == b"1"


def test_pipelined_commands_after_timed_out_poll(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        c.send(encode_command("POLLUPDATES", s, "BLOCK", 300) + encode_command("PING")
               + encode_command("SEQUENCE"))
        rep = reply_dict(c.read_reply())
        assert rep["updates"] == []
        assert c.read_reply() == "PONG"
        assert c.read_reply() == s


def test_block_inside_multi_does_not_block(server, r):
    s = seq(r)
    with server.conn(timeout=10) as c:
        assert c.call("MULTI") == "OK"
        assert c.call("POLLUPDATES", s, "BLOCK", 0) == "QUEUED"
        t0 = time.monotonic()
        res = c.call("EXEC")
        assert time.monotonic() - t0 < 1.0
        d = reply_dict(res[0])
        assert d["updates"] == []
        assert d["next_sequence"] == s


def test_concurrent_writers_and_a_blocking_consumer_see_everything(server, r):
    """4 writers, 1 consumer looping BLOCK polls: every batch exactly once, contiguous."""
    start = seq(r)
    n_per = 150
    errors = []

    def writer(w):
        cl = server.client()
        try:
            for i in range(n_per):
                if i % 10 == 0:
                    p = cl.pipeline(transaction=True)
                    p.set("w%d:%d" % (w, i), i)
                    p.set("w%d:%d:b" % (w, i), i)
                    p.execute()
                else:
                    cl.set("w%d:%d" % (w, i), i)
        except Exception as e:  # pragma: no cover
            errors.append(e)
        finally:
            cl.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    seen = []
    with server.conn(timeout=10) as c:
        for t in threads:
            t.start()
        pos = start
        deadline = time.monotonic() + 30
        expected_total = 4 * (n_per + n_per // 10)
        while time.monotonic() < deadline:
            rep = reply_dict(c.call("POLLUPDATES", pos, "BLOCK", 500, "MAX", 50, "FORMAT", "RESP"))
            for u in rep["updates"]:
                seen.append(u)
            pos = rep["next_sequence"]
            if not any(t.is_alive() for t in threads) and pos == seq(r):
                break
        for t in threads:
            t.join()
    assert not errors
    for a, b in zip(seen, seen[1:]):
        assert b["sequence"] == a["sequence"] + a["count"]
    assert seen[0]["sequence"] == start + 1
    assert seen[-1]["sequence"] + seen[-1]["count"] - 1 == start + expected_total
    # every write is a SET of its own key: each batch must show one SET per sequence
    raw = poll_all(r, start, "RAW")
    assert len(raw) == len(seen)
    short = []
    for u, rb in zip(seen, raw):
        sets = [cmd for cmd in u["commands"] if cmd[0] == b"SET"]
        if len(sets) != u["count"]:
            _, _, recs = parse_batch(rb.decode())
            short.append("batch %d: count %d, %d change records in RAW, %d SETs shown"
                         % (u["sequence"], u["count"], sum(1 for x in recs if x[0] == "LOGDATA"), len(sets)))
    keys = [cmd[1] for u in seen for cmd in u["commands"]]
    assert not short, "decoded batches lose writes (%d of %d keys shown):\n%s" % (
        len(set(keys)), expected_total, "\n".join(short[:10]))
    assert len(keys) == expected_total
    assert len(set(keys)) == expected_total


def wait_blocked_clients(r, n, within=3.0):
    deadline = time.monotonic() + within
    while r.info("clients")["blocked_clients"] != n and time.monotonic() < deadline:
        time.sleep(0.01)
    return r.info("clients")["blocked_clients"]


def client_flags(r, client_id):
    listing = r.execute_command("CLIENT", "LIST", "ID", client_id).decode()
    return dict(f.split("=", 1) for f in listing.split())["flags"]


def test_a_blocked_poll_is_a_blocked_client(server, r):
    """INFO blocked_clients and CLIENT LIST flag b while POLLUPDATES … BLOCK waits; back to 0
    and N after a commit wakes it, after its timeout and after its connection closes."""
    assert wait_blocked_clients(r, 0) == 0
    with server.conn(timeout=10) as c:
        cid = c.call("CLIENT", "ID")
        send_poll(c, seq(r), "BLOCK", 0)
        assert wait_blocked_clients(r, 1) == 1
        assert client_flags(r, cid) == "b"
        r.set("wake", "1")
        assert len(reply_dict(c.read_reply())["updates"]) == 1
        assert wait_blocked_clients(r, 0) == 0
        assert client_flags(r, cid) == "N"
        send_poll(c, seq(r), "BLOCK", 300)
        assert wait_blocked_clients(r, 1) == 1
        assert reply_dict(c.read_reply())["updates"] == []
        assert wait_blocked_clients(r, 0) == 0
    others = [RespConn(server.host, server.port, timeout=10) for _ in range(3)]
    for c in others:
        send_poll(c, seq(r), "BLOCK", 0)
    assert wait_blocked_clients(r, 3) == 3
    for c in others:
        c.close()
    assert wait_blocked_clients(r, 0) == 0


def test_client_unblock_ends_a_blocked_poll(server, r):
    s = seq(r)
    with server.conn(timeout=10) as a, server.conn(timeout=10) as b:
        ids = [a.call("CLIENT", "ID"), b.call("CLIENT", "ID")]
        send_poll(a, s, "BLOCK", 0, "FORMAT", "RESP")
        send_poll(b, s, "BLOCK", 0)
        assert wait_blocked_clients(r, 2) == 2
        assert r.execute_command("CLIENT", "UNBLOCK", ids[0], "TIMEOUT") == 1
        rep = reply_dict(a.read_reply())  # as its timeout would have answered
        assert rep["updates"] == [] and rep["next_sequence"] == s
        assert r.execute_command("CLIENT", "UNBLOCK", ids[1], "ERROR") == 1
        assert b.read_reply() == RespError("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        assert wait_blocked_clients(r, 0) == 0
        assert a.call("PING") == "PONG" and b.call("PING") == "PONG"
        assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 0
