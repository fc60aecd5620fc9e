"""Reproductions of problems found in the review of the big-request offload, record v2, blob
files and the merged branches (each marked xfail(strict=True) until it is fixed: a fix makes
its test pass, and strict turns that into a failure that asks for the marker to go)."""

import os
import socket
import time

import pytest

from conftest import encode_command, tidekv_only
from helpers import peak_rss_mb, reset_peak_rss, rss_mb, rss_test

MB = 1024 * 1024


def _client_id_running(r, command, deadline_s=30):
    """The id of the client whose CLIENT LIST line shows cmd=<command>, once there is one."""
    deadline = time.monotonic() + deadline_s
    while True:
        for line in r.execute_command("CLIENT", "LIST").decode().splitlines():
            if " cmd=%s " % command in line:
                return int(line.split()[0][3:])
        assert time.monotonic() < deadline, "%s never started" % command
        time.sleep(0.01)


@pytest.mark.soak  # long: runs under make soak
@tidekv_only
def test_big_requests_waiting_for_the_offload_thread_count_against_maxmemory_clients(make_server):
    s = make_server(["--maxmemory-clients", "32mb"])
    r = s.client(socket_timeout=120)
    members = [b"m%07d" % i for i in range(300_000)]
    busy = socket.create_connection(("127.0.0.1", s.port))
    busy.sendall(encode_command("SADD", "set", *members))  # keeps the offload thread busy a while
    _client_id_running(r, "sadd")
    waiting = []
    for i in range(5):  # 5 x 9 MiB queued behind it: 45 MiB, over the 32 MiB limit
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(encode_command("SET", "k%d" % i, b"x" * (9 * MB)))
        waiting.append(sock)
    time.sleep(0.5)  # all have arrived; the SADD still runs
    counted = r.info("memory")["mem_clients_normal"]
    evicted = r.info("stats")["evicted_clients"]
    for sock in waiting + [busy]:
        sock.close()
    assert evicted > 0 or counted >= 45 * MB, (counted, evicted)


def test_scan_pages_stay_small_when_keys_share_a_long_prefix(r):
    prefix = b"p" * 1500
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(prefix + b"%05d" % i, 1)
    pipe.execute()
    started = time.monotonic()
    cursor, keys = r.scan(0, count=10)
    took = time.monotonic() - started
    assert cursor != 0 and len(keys) < 100, (cursor, len(keys))
    assert took < 1, took


@tidekv_only
def test_info_disk_size_counts_the_values_in_blob_files(make_server):
    s = make_server(["--rocksdb.write_buffer_size", "4"])  # small memtables: the values are flushed soon
    r = s.client(socket_timeout=60)
    for i in range(6):
        r.set("k%d" % i, b"v" * (3 * MB))  # over rocksdb.min_blob_size (1mb): they go to blob files
    deadline = time.monotonic() + 30
    while r.info("persistence")["disk_size"] < 12 * MB:
        assert time.monotonic() < deadline, r.info("persistence")["disk_size"]
        time.sleep(0.1)


@tidekv_only
@rss_test
@pytest.mark.xfail(strict=True, reason="the expiry compaction filter of the metadata column family makes RocksDB "
                                       "read every blob value its compactions meet (the C API cannot filter a "
                                       "blob by its key): a 300 MB string costs ~600 MB at each compaction")
@pytest.mark.soak  # long: runs under make soak
def test_compactions_do_not_read_big_values_back_into_memory(make_server):
    s = make_server(["--rocksdb.write_buffer_size", "4"])  # small memtables: flushes and compactions soon
    r = s.client(socket_timeout=120)
    r.set("big", b"x" * (300 * MB))  # a blob file's value; its metadata record is in a table
    time.sleep(3)  # flushed
    reset_peak_rss(s)
    before = rss_mb(s)
    for round in range(12):  # small writes: flushes, then compactions of the tables, the big key's too
        p = r.pipeline(transaction=False)
        for i in range(600):
            p.set("s%d_%d" % (round, i), os.urandom(8 << 10))
        p.execute()
        time.sleep(0.3)
    time.sleep(2)
    assert peak_rss_mb(s) - before < 150, (before, peak_rss_mb(s))
