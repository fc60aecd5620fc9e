"""Big values do not cost their size several times over, nor keep memory after they are done
(tidekv only: the figures come from INFO and CLIENT LIST). bench/run_bigstrings.sh measures
the whole path at 500 MB."""

import os
import socket
import time

import pytest

from conftest import tidekv_only
from helpers import MB, peak_rss_mb, reset_peak_rss, rss_mb, rss_test
from test_cdc_helpers import poll, seq

pytestmark = tidekv_only


def info_memory(r):
    return r.info("memory")


def test_a_batch_bigger_than_the_cdc_cache_is_not_copied_into_it(make_server):
    """The cache keeps its newest batch whatever its size; one bigger than the whole budget is
    read from the WAL instead of being copied (a 500 MB SET would hold 1 GB more)."""
    s = make_server(["--cdc-cache-mb", "1"])
    r = s.client()
    base = seq(r)
    value = b"v" * (3 * MB)
    r.set("big", value)
    assert info_memory(r)["used_memory_cdc_cache"] < MB
    [u] = poll(r, base, "FORMAT", "RESP")["updates"]
    assert u["commands"] == [[b"SET", b"big", value]]
    # what follows is cached again, and polls from before the big batch still see it all
    r.set("small", "x")
    assert 0 < info_memory(r)["used_memory_cdc_cache"] < MB
    updates = poll(r, base, "FORMAT", "RESP")["updates"]
    assert [c for u in updates for c in u["commands"]] == [[b"SET", b"big", value], [b"SET", b"small", b"x"]]
    r.close()


def client_qbuf(r, name):
    for c in r.client_list():
        if c.get("name") == name:
            return int(c["qbuf"])
    raise AssertionError("no client %r" % name)


def test_a_big_value_arriving_is_not_held_in_the_input_buffer_too(server, r):
    """A big bulk is gathered in its own buffer as it arrives: the input buffer stays small."""
    size = 8 * MB
    head = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$6\r\nloader\r\n")
        assert s.recv(100) == b"+OK\r\n"
        s.sendall(head + b"x" * (size // 2))
        deadline = time.monotonic() + 10
        while r.info("stats")["total_net_input_bytes"] < size // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client_qbuf(r, "loader") < MB
        s.sendall(b"x" * (size - size // 2) + b"\r\n")
        s.settimeout(30)
        assert s.recv(100) == b"+OK\r\n"
    assert r.strlen("big") == size
    assert r.getrange("big", size - 3, -1) == b"xxx"


@pytest.mark.soak  # long: runs under make soak
@rss_test
def test_a_big_set_peaks_at_a_few_times_its_size_and_gives_it_back(make_server):
    """A 100 MB SET: its bytes gathered once, the write and its change record built as the
    batch itself, no copy in the CDC cache, the txn's buffers freed after it (it peaked at
    14x the value and kept 5x after DEL before)."""
    s = make_server()
    pid = s.proc.pid
    r = s.client(socket_timeout=120)
    start = rss_mb(pid)
    size = 100
    value = os.urandom(size * MB)
    r.set("big", value)
    del value
    peak = peak_rss_mb(pid) - start
    assert peak < 6 * size, peak
    assert r.strlen("big") == size * MB
    r.delete("big")
    r.set("after", "x")  # a write after the DEL lets RocksDB switch and flush the memtable
    deadline = time.monotonic() + 20
    while rss_mb(pid) - start > size / 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    kept = rss_mb(pid) - start
    assert kept < size / 2, (peak, kept)
    r.close()


@rss_test
def test_commands_that_need_no_value_do_not_copy_a_big_one(make_server):
    """DEL, EXISTS, TYPE, TTL … of a big string read its type and expiry only: before, each
    copied the whole value twice (a 500 MB DEL took 17 s)."""
    s = make_server()
    r = s.client(socket_timeout=120)
    size = 32
    r.set("big", os.urandom(size * MB))
    pid = s.proc.pid
    reset_peak_rss(pid)
    before = peak_rss_mb(pid)
    for _ in range(3):
        assert r.exists("big") == 1
        assert r.type("big") == b"string"
        assert r.ttl("big") == -1
        assert r.pexpiretime("big") == -1
        assert r.renamenx("big", "big") == 0
    # inside a transaction the lookups see its own writes (and read the value in place too)
    p = r.pipeline(transaction=True)
    p.set("small", "s").exists("big", "small").type("big").delete("small").exists("small")
    assert p.execute() == [True, 2, b"string", 1, 0]
    assert r.delete("big") == 1
    grown = peak_rss_mb(pid) - before
    assert grown < size / 4, grown
    assert r.exists("big") == 0
    r.close()
