"""Durable consumers (CDC.md "Consumers"): CDC CREATE / ACK / INFO / DROP, their replies in
RESP2 and RESP3, every error, positions that survive restart and kill -9, history they pin
whatever wal-ttl-seconds says, the cdc-consumer-max-wal-mb cap, and the change stream they
never disturb."""

import os
import threading
import time

import pytest
import redis

from conftest import RespError, tidekv_only
from test_cdc_helpers import poll, seq, wait_until

pytestmark = tidekv_only

INFO_KEYS = ["name", "sequence", "lag", "retained_bytes", "state", "created", "acked"]
# A 1 s WAL TTL and no size limit, 1 MiB memtables: history goes within seconds unless pinned.
PURGE_ARGS = ["--wal-ttl-seconds", "1", "--wal-size-limit-mb", "0", "--rocksdb.write_buffer_size", "1"]
BIG = b"x" * 8192


def cdc(r, *args):
    return r.execute_command("CDC", *args)


def as_dict(reply):
    """A map reply (RESP3 dict or RESP2 flat list) as a dict with str keys."""
    if isinstance(reply, dict):
        items = list(reply.items())
    else:
        assert isinstance(reply, list) and len(reply) % 2 == 0, reply
        items = [(reply[i], reply[i + 1]) for i in range(0, len(reply), 2)]
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in items}


def info(r, name):
    return as_dict(cdc(r, "INFO", name))


def error_of(r, *args):
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    return str(ei.value)


def write_round(r, tag, n=100):
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (tag, i), BIG)
    p.execute()


def oldest(r):
    return r.info("keyspace")["oldest_sequence"]


def test_create_info_ack_drop_resp2(server):
    with server.conn() as c:
        c.call("SET", "k", "v")
        latest = c.call("SEQUENCE")
        before = int(time.time() * 1000)
        # CREATE: a map, flat in RESP2, snapshot nil
        assert c.call_raw("CDC", "CREATE", "c1") == (
            b"*6\r\n$4\r\nname\r\n$2\r\nc1\r\n$8\r\nsequence\r\n:%d\r\n$8\r\nsnapshot\r\n$-1\r\n" % latest)
        assert c.call("CDC", "CREATE", "c0", "FROM", 0) == [b"name", b"c0", b"sequence", 0, b"snapshot", None]
        c.call("SET", "k", "w")
        one = c.call("CDC", "INFO", "c1")
        assert one[0::2] == [k.encode() for k in INFO_KEYS]
        d = as_dict(one)
        assert d["name"] == "c1" and d["sequence"] == latest and d["lag"] == 1 and d["state"] == "active"
        assert d["acked"] == 0 and before - 1000 <= d["created"] <= time.time() * 1000 + 1000
        assert d["retained_bytes"] > 0
        # ACK: OK, INFO follows
        assert c.call("CDC", "ACK", "c1", latest + 1) == "OK"
        d = as_dict(c.call("CDC", "INFO", "c1"))
        assert d["sequence"] == latest + 1 and d["lag"] == 0 and d["acked"] >= before
        # INFO without a name: an array of maps, in creation order
        all_ = c.call("CDC", "INFO")
        assert [as_dict(m)["name"] for m in all_] == ["c1", "c0"]
        # DROP: 1, then 0
        assert c.call("CDC", "DROP", "c1") == 1
        assert c.call("CDC", "DROP", "c1") == 0
        assert c.call("CDC", "DROP", "c0") == 1
        assert c.call("CDC", "INFO") == []


def test_create_info_ack_drop_resp3(server):
    with server.conn() as c:
        c.call("HELLO", 3)
        c.call("SET", "k", "v")
        latest = c.call("SEQUENCE")
        assert c.call_raw("CDC", "CREATE", "c1") == (
            b"%%3\r\n$4\r\nname\r\n$2\r\nc1\r\n$8\r\nsequence\r\n:%d\r\n$8\r\nsnapshot\r\n_\r\n" % latest)
        one = c.call("CDC", "INFO", "c1")
        assert isinstance(one, dict) and list(one) == [k.encode() for k in INFO_KEYS]
        assert one[b"state"] == b"active" and one[b"sequence"] == latest
        all_ = c.call("CDC", "INFO")
        assert isinstance(all_, list) and len(all_) == 1 and all_[0] == c.call("CDC", "INFO", "c1")
        assert c.call("CDC", "ACK", "c1", latest) == "OK"
        assert c.call("CDC", "DROP", "c1") == 1


def test_every_error(server):
    r = server.client()
    r.set("k", "v")
    latest = seq(r)
    for bad in ["", "a b", "a/b", "é", "x" * 129, "a\x00b"]:
        assert error_of(r, "CDC", "CREATE", bad) == "invalid consumer name", bad
    good = "Az09_.:-" + "y" * 120
    assert as_dict(cdc(r, "CREATE", good))["name"] == good
    assert error_of(r, "CDC", "CREATE", good) == "consumer already exists"
    assert error_of(r, "CDC", "CREATE", "c", "FROM", latest + 1) == "next sequence is out of range"
    assert error_of(r, "CDC", "CREATE", "c", "FROM", -1) == "value is not an integer or out of range"
    assert error_of(r, "CDC", "CREATE", "c", "FROM", "x") == "value is not an integer or out of range"
    assert error_of(r, "CDC", "CREATE", "c", "FROM") == "syntax error"
    assert error_of(r, "CDC", "CREATE", "c", "BOGUS") == "syntax error"
    assert error_of(r, "CDC", "CREATE", "c", "FROM", 0, "SNAPSHOT") == \
        "SNAPSHOT is taken at the latest sequence: FROM must be omitted or name it"
    assert error_of(r, "CDC", "CREATE", "bad name", "SNAPSHOT") == "invalid consumer name"
    assert r.execute_command("SNAPSHOT", "LIST") == []  # the refused ones left no snapshot
    assert error_of(r, "CDC", "ACK", "nope", 1) == "no such consumer"
    assert error_of(r, "CDC", "ACK", "bad name", 1) == "no such consumer"
    assert error_of(r, "CDC", "ACK", good, latest + 1) == "next sequence is out of range"
    assert error_of(r, "CDC", "ACK", good, "x") == "value is not an integer or out of range"
    assert error_of(r, "CDC", "ACK", good, -1) == "value is not an integer or out of range"
    assert error_of(r, "CDC", "INFO", "nope") == "no such consumer"
    assert cdc(r, "DROP", "nope") == 0
    assert error_of(r, "CDC", "ACK", good) == "wrong number of arguments for 'cdc|ack' command"
    assert error_of(r, "CDC", "INFO", "a", "b") == "wrong number of arguments for 'cdc|info' command"
    assert error_of(r, "CDC", "CREATE") == "wrong number of arguments for 'cdc|create' command"
    assert error_of(r, "CDC", "DROP") == "wrong number of arguments for 'cdc|drop' command"
    assert error_of(r, "CDC", "NOPE").startswith("unknown subcommand 'NOPE'. Try CDC HELP.")
    assert error_of(r, "CDC") == "wrong number of arguments for 'cdc' command"
    # too many: the cap counts existing consumers
    r.config_set("cdc-max-consumers", 2)
    try:
        cdc(r, "CREATE", "second")
        assert error_of(r, "CDC", "CREATE", "third") == "too many consumers"
    finally:
        r.config_set("cdc-max-consumers", 64)
    cdc(r, "CREATE", "third")
    for name in [good, "second", "third"]:
        assert cdc(r, "DROP", name) == 1
    r.close()


def test_config_options(server):
    r = server.client()
    assert r.config_get("cdc-max-consumers") == {"cdc-max-consumers": "64"}
    assert r.config_get("cdc-consumer-max-wal-mb") == {"cdc-consumer-max-wal-mb": "65536"}
    r.config_set("cdc-consumer-max-wal-mb", 0)
    assert r.config_get("cdc-consumer-max-wal-mb") == {"cdc-consumer-max-wal-mb": "0"}
    r.config_set("cdc-consumer-max-wal-mb", 65536)
    with pytest.raises(redis.ResponseError):
        r.config_set("cdc-max-consumers", -1)
    r.close()


def test_ack_never_moves_back(server):
    r = server.client()
    for i in range(5):
        r.set("k%d" % i, i)
    cdc(r, "CREATE", "c", "FROM", 1)
    assert cdc(r, "ACK", "c", 4) == b"OK"
    assert cdc(r, "ACK", "c", 2) == b"OK"
    assert info(r, "c")["sequence"] == 4
    assert cdc(r, "ACK", "c", 0) == b"OK"
    assert info(r, "c")["sequence"] == 4
    cdc(r, "DROP", "c")
    r.close()


def test_info_counts_consumers(server):
    r = server.client()
    assert r.info("keyspace")["cdc_consumers"] == 0
    cdc(r, "CREATE", "a")
    cdc(r, "CREATE", "b")
    ks = r.info("keyspace")
    assert ks["cdc_consumers"] == 2 and ks["cdc_consumers_lost"] == 0
    cdc(r, "DROP", "a")
    cdc(r, "DROP", "b")
    assert r.info("keyspace")["cdc_consumers"] == 0
    r.close()


def test_needs_auth(make_server):
    s = make_server(["--requirepass", "pw"])
    with s.conn() as c:
        assert c.call("CDC", "CREATE", "c").startswith("NOAUTH")
        assert c.call("CDC", "INFO").startswith("NOAUTH")
        assert c.call("AUTH", "pw") == "OK"
        assert c.call("CDC", "INFO") == []


@pytest.mark.soak  # long: runs under make soak
def test_consumers_never_touch_the_change_stream(server):
    """Creating, acknowledging and dropping consumers write no batch: SEQUENCE does not move,
    POLLUPDATES shows nothing new, and a BLOCKed poll is not woken."""
    r = server.client(socket_timeout=20)
    r.set("k", "v")
    latest = seq(r)
    result = {}

    def blocked_poll():
        c = server.client(socket_timeout=20)
        t0 = time.monotonic()
        result["reply"] = poll(c, latest, "BLOCK", 1500)
        result["waited"] = time.monotonic() - t0
        c.close()

    t = threading.Thread(target=blocked_poll)
    t.start()
    time.sleep(0.3)
    for i in range(20):
        cdc(r, "CREATE", "c%d" % i)
        cdc(r, "ACK", "c%d" % i, latest)
        cdc(r, "INFO")
        cdc(r, "DROP", "c%d" % i)
    time.sleep(1.2)  # the background write of acknowledgements happened meanwhile
    cdc(r, "CREATE", "last")
    cdc(r, "ACK", "last", latest)
    t.join()
    assert result["reply"]["updates"] == [] and result["reply"]["next_sequence"] == latest
    assert result["waited"] >= 1.3, "a consumer operation woke a blocked POLLUPDATES"
    assert seq(r) == latest
    assert poll(r, latest - 1)["next_sequence"] == latest
    cdc(r, "DROP", "last")
    assert seq(r) == latest
    r.close()


@pytest.mark.soak  # long: runs under make soak
def test_positions_survive_restart_and_kill9(make_server):
    s = make_server()
    r = s.client()
    for i in range(10):
        r.set("k%d" % i, i)
    cdc(r, "CREATE", "a", "FROM", 2)
    cdc(r, "CREATE", "b")
    cdc(r, "CREATE", "gone")
    cdc(r, "DROP", "gone")
    cdc(r, "ACK", "a", 5)
    r.close()
    s.restart()  # a clean stop writes the latest acknowledgements
    r = s.client()
    assert [as_dict(m)["name"] for m in cdc(r, "INFO")] == ["a", "b"]
    assert info(r, "a")["sequence"] == 5 and info(r, "b")["sequence"] == 10
    assert info(r, "a")["acked"] > 0 and info(r, "b")["acked"] == 0
    # kill -9 right after CREATE / DROP: they are on disk before their reply
    cdc(r, "CREATE", "c", "FROM", 7)
    cdc(r, "DROP", "b")
    # and an acknowledgement a second old is too
    cdc(r, "ACK", "a", 8)
    time.sleep(2.2)
    cdc(r, "ACK", "a", 9)  # this one may be forgotten, never moved past
    r.close()
    s.kill9()
    s.start()
    r = s.client()
    assert [as_dict(m)["name"] for m in cdc(r, "INFO")] == ["a", "c"]
    assert info(r, "c")["sequence"] == 7
    assert info(r, "a")["sequence"] in (8, 9)
    assert seq(r) == 10
    r.close()


def test_corrupt_consumers_file_stops_the_start(make_server):
    s = make_server()
    r = s.client()
    cdc(r, "CREATE", "a")
    r.close()
    s.stop()
    path = os.path.join(s.datadir, "cdc-consumers")
    with open(path, "rb") as f:
        text = f.read()
    with open(path, "wb") as f:
        f.write(text[:-3])  # cut short: the end line is gone
    with pytest.raises(RuntimeError, match="corrupt consumers file"):
        s.start()


def write_until_purged(control, pinned, tag="r"):
    """Writes the same rounds to both servers until the control server has purged the oldest
    changes (and WAL files have rolled several times); returns the rounds written."""
    deadline = time.monotonic() + 60
    rounds = 0
    while oldest(control) <= 1 or rounds < 30:
        if time.monotonic() > deadline:
            pytest.fail("the control server kept its history for 60 s (oldest %d)" % oldest(control))
        write_round(control, "%s%d" % (tag, rounds))
        write_round(pinned, "%s%d" % (tag, rounds))
        rounds += 1
        time.sleep(0.05)
    return rounds


@pytest.mark.soak  # long: runs under make soak
def test_consumer_pins_history_past_the_ttl(make_server):
    control = make_server(PURGE_ARGS).client(socket_timeout=30)
    s = make_server(PURGE_ARGS)
    r = s.client(socket_timeout=30)
    control.set("first", "1")
    r.set("first", "1")
    assert as_dict(cdc(r, "CREATE", "c", "FROM", 0))["sequence"] == 0
    write_until_purged(control, r)
    time.sleep(2.5)  # well past the TTL, several retention passes
    # the control server lost the start of its history
    with pytest.raises(redis.ResponseError, match="mismatched sequence number, expected 2"):
        control.execute_command("POLLUPDATES", 1, "STRICT", "MAX", 1)
    assert error_of(control, "CDC", "CREATE", "late", "FROM", 1) == "sequence is no longer retained"
    # the pinned one kept all of it, archived files included
    assert oldest(r) == 1
    assert os.listdir(os.path.join(s.datadir, "archive"))
    p = poll(r, 1, "STRICT", "MAX", 5)
    assert p["first_sequence"] == 2 and len(p["updates"]) == 5
    assert poll(r, 0, "MAX", 1)["first_sequence"] == 1
    retained = info(r, "c")["retained_bytes"]
    assert retained > 2 * 1024 * 1024
    # a consumer may start anywhere in the pinned history
    cdc(r, "CREATE", "other", "FROM", 1)
    cdc(r, "DROP", "other")
    # acknowledging releases what is behind the position (once written, within a second or so)
    mid = seq(r) // 2
    cdc(r, "ACK", "c", mid)
    wait_until(lambda: oldest(r) > 1, timeout=15, msg="history before the acknowledged position released")
    assert oldest(r) <= mid + 1
    p = poll(r, mid, "STRICT", "MAX", 1)
    assert p["first_sequence"] == mid + 1
    assert info(r, "c")["retained_bytes"] < retained
    # dropping releases the rest
    cdc(r, "DROP", "c")
    write_round(r, "after")
    wait_until(lambda: oldest(r) > mid + 1, timeout=15, msg="history released by DROP")
    with pytest.raises(redis.ResponseError, match="mismatched sequence number"):
        r.execute_command("POLLUPDATES", mid, "STRICT", "MAX", 1)
    r.close()
    control.close()


@pytest.mark.soak  # long: runs under make soak
def test_pins_survive_restart(make_server):
    s = make_server(PURGE_ARGS)
    r = s.client(socket_timeout=30)
    r.set("first", "1")
    cdc(r, "CREATE", "c", "FROM", 0)
    for i in range(30):
        write_round(r, "a%d" % i)
    r.close()
    s.kill9()
    s.start()
    r = s.client(socket_timeout=30)
    for i in range(30):
        write_round(r, "b%d" % i)
    time.sleep(2.5)
    assert oldest(r) == 1
    assert poll(r, 1, "STRICT", "MAX", 1)["first_sequence"] == 2
    assert info(r, "c")["state"] == "active"
    r.close()


@pytest.mark.soak  # long: runs under make soak
def test_cap_turns_a_consumer_lost(make_server):
    s = make_server(PURGE_ARGS + ["--cdc-consumer-max-wal-mb", "4"])
    r = s.client(socket_timeout=30)
    r.set("first", "1")
    cdc(r, "CREATE", "slow", "FROM", 0)
    cdc(r, "CREATE", "fast")
    deadline = time.monotonic() + 60
    i = 0
    while info(r, "slow")["state"] != "lost":
        if time.monotonic() > deadline:
            pytest.fail("the consumer was not lost: %r" % info(r, "slow"))
        write_round(r, "w%d" % i)  # writes go on whatever the consumer pins
        cdc(r, "ACK", "fast", seq(r))
        i += 1
        time.sleep(0.02)
    assert error_of(r, "CDC", "ACK", "slow", seq(r)) == "consumer lost its history"
    d = info(r, "slow")
    assert d["retained_bytes"] == 0 and d["sequence"] == 0
    assert info(r, "fast")["state"] == "active"
    ks = r.info("keyspace")
    assert ks["cdc_consumers"] == 2 and ks["cdc_consumers_lost"] == 1
    assert "CDC consumer 'slow' lost its history" in s.log()
    # its history is released, the writes went on, and the state is kept across a restart
    wait_until(lambda: oldest(r) > 1, timeout=15, msg="the lost consumer's history released")
    r.set("still", "writing")
    r.close()
    s.restart()
    r = s.client()
    assert info(r, "slow")["state"] == "lost"
    assert cdc(r, "DROP", "slow") == 1
    assert r.info("keyspace")["cdc_consumers_lost"] == 0
    r.close()
