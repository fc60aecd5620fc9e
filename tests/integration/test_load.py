"""1,000 concurrent clients with a mixed read/write load for a minute (TIDEKV_LOAD_SECONDS to
change it): no errors, every reply what that client's own history says it must be, and the
server's memory bounded throughout."""

import asyncio
import os
import resource
import time

from conftest import encode_command, soak, tidekv_only
from helpers import SANITIZED, rss_mb

CLIENTS = 1000
SECONDS = float(os.environ.get("TIDEKV_LOAD_SECONDS", "60"))
# About 140 MB measured (the block cache and memtables are mostly empty); ASan's shadow memory
# and quarantine take about five times that.
RSS_LIMIT_MB = 512 * (5 if SANITIZED else 1)


async def read_reply(reader):
    line = await reader.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b":"):
        return int(rest) if kind == b":" else rest
    if kind == b"-":
        raise AssertionError("error reply: %r" % rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else (await reader.readexactly(n + 2))[:-2]
    if kind == b"*":
        return [await read_reply(reader) for _ in range(int(rest))]
    raise AssertionError("unexpected reply line %r" % line)


async def call(reader, writer, *args):
    writer.write(encode_command(*args))
    return await read_reply(reader)


async def one_client(port, n, deadline, counts):
    """Works on keys only this client touches, so every reply can be predicted."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key, counter, lst, hsh = b"load:%d" % n, b"load:%d:n" % n, b"load:%d:l" % n, b"load:%d:h" % n
    i = 0
    try:
        while time.monotonic() < deadline:
            i += 1
            value = b"v%d-%d" % (n, i)
            assert await call(reader, writer, "SET", key, value) == b"OK"
            assert await call(reader, writer, "GET", key) == value
            assert await call(reader, writer, "INCR", counter) == i
            assert await call(reader, writer, "RPUSH", lst, value) == 1
            assert await call(reader, writer, "HSET", hsh, "f%d" % (i % 10), value) in (0, 1)
            assert await call(reader, writer, "LPOP", lst) == value
            if i % 10 == 0:
                assert await call(reader, writer, "HLEN", hsh) == 10
                assert await call(reader, writer, "EXISTS", key, counter, "load:none") == 2
            counts[n] = i
    finally:
        writer.close()


async def run_load(port, pid):
    deadline = time.monotonic() + SECONDS
    counts = [0] * CLIENTS
    peak = [0.0]

    async def watch_memory():
        while time.monotonic() < deadline:
            peak[0] = max(peak[0], rss_mb(pid))
            await asyncio.sleep(0.5)

    tasks = [one_client(port, n, deadline, counts) for n in range(CLIENTS)]
    await asyncio.gather(watch_memory(), *tasks)
    return counts, peak[0]


@soak
@tidekv_only
def test_thousand_clients_for_a_minute(make_server):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CLIENTS + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    s = make_server()
    counts, peak = asyncio.run(run_load(s.port, s.proc.pid))
    assert all(c > 0 for c in counts), "some clients never completed a round"
    assert peak < RSS_LIMIT_MB, "server RSS peaked at %.0f MB" % peak
    r = s.client()
    try:
        deadline = time.time() + 10  # the server sees the 1,000 disconnections soon, not at once
        while int(r.info("clients")["connected_clients"]) > 1:
            assert time.time() < deadline, "clients still connected after the load"
            time.sleep(0.1)
        for n in (0, CLIENTS // 2, CLIENTS - 1):
            assert int(r.get("load:%d:n" % n)) == counts[n]
            assert r.llen("load:%d:l" % n) == 0
    finally:
        r.close()
