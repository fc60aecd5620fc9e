"""The size of a POLLUPDATES reply and of the CDC cache.

A reply stops taking batches once its updates reach cdc-poll-max-bytes (one batch at least,
whatever its size; next_sequence says where to continue), it counts against the client's
output limit while it is built, and no batch, however big, takes the CDC cache past
cdc-cache-mb."""

import json
import re
import time

import pytest

from conftest import encode_command, tidekv_only
from helpers import MB, SANITIZED, SlowReader, peak_rss_mb, reset_peak_rss
from test_cdc_helpers import pairs, seq, wait_until

pytestmark = tidekv_only

FORMATS = ["RAW", "RESP", "JSON", "BINARY"]


def poll_reply(r, start, *opts):
    """POLLUPDATES start *opts as a dict; updates as the server sent them."""
    return dict(pairs(r.execute_command("POLLUPDATES", start, *opts)))


def update_bytes(u):
    """A lower bound of what an update takes in a reply: its payload's bytes."""
    if isinstance(u, (bytes, bytearray)):
        return len(u)
    return sum(len(a) for cmd in dict(pairs(u))["commands"] for a in cmd)


def update_key(u, fmt):
    """What identifies an update across replies: its sequence, or for RAW and BINARY the batch
    itself."""
    if fmt in ("RAW", "BINARY"):
        return bytes(u)
    if fmt == "JSON":
        return json.loads(u)["sequence"]
    return dict(pairs(u))["sequence"]


def follow(r, start, fmt, *extra):
    """Every reply of a consumer following from start until it is caught up."""
    replies = []
    pos = start
    while True:
        d = poll_reply(r, pos, "MAX", 1000, "FORMAT", fmt, *extra)
        if d["next_sequence"] == pos:
            return replies
        assert d["first_sequence"] == pos + 1, "a gap after %d: %r" % (pos, d["first_sequence"])
        replies.append(d)
        pos = d["next_sequence"]


def write_big_values(r, n, size):
    for i in range(n):
        r.set("big%d" % i, bytes([65 + i % 26]) * size)


# Shared renderings in the CDC cache, a poll's own rendering (filters need a decoded format),
# and the WAL.
READ_PATHS = [(f, p) for p in ["shared", "filtered", "wal"] for f in FORMATS
              if (f, p) not in (("RAW", "filtered"), ("BINARY", "filtered"))]


@pytest.mark.parametrize("fmt, path", READ_PATHS)
def test_a_reply_stops_at_the_byte_budget(server, r, fmt, path):
    budget = 3 * MB
    start = seq(r)
    write_big_values(r, 12, MB)
    if path == "wal":
        server.restart()  # the CDC cache starts empty: the WAL answers
        r.connection_pool.disconnect()
    extra = ("MATCH", "big*") if path == "filtered" else ()
    r.config_set("cdc-poll-max-bytes", "1gb")
    unbounded = follow(r, start, fmt, *extra)
    assert len(unbounded) == 1 and len(unbounded[0]["updates"]) == 12
    r.config_set("cdc-poll-max-bytes", budget)
    try:
        bounded = follow(r, start, fmt, *extra)
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")
    assert len(bounded) > 2
    for d in bounded:
        sizes = [update_bytes(u) for u in d["updates"]]
        assert sizes, d
        # Batches are added while the body is under the budget: all but the last fit in it.
        assert sum(sizes[:-1]) < budget, sizes
    got = [update_key(u, fmt) for d in bounded for u in d["updates"]]
    assert got == [update_key(u, fmt) for u in unbounded[0]["updates"]]  # each batch once, in order
    assert bounded[-1]["next_sequence"] == unbounded[0]["next_sequence"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_batch_over_the_budget_comes_alone(server, r, fmt):
    start = seq(r)
    write_big_values(r, 3, 10000)
    r.config_set("cdc-poll-max-bytes", 1000)
    try:
        replies = follow(r, start, fmt)
        # Already there, a BLOCK poll answers at once, alone too.
        blocked = poll_reply(r, start, "MAX", 1000, "FORMAT", fmt, "BLOCK", 1000)
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")
    assert [len(d["updates"]) for d in replies] == [1, 1, 1]
    assert replies[-1]["next_sequence"] == seq(r)
    assert len(blocked["updates"]) == 1
    assert blocked["next_sequence"] == replies[0]["next_sequence"]


def test_a_woken_poll_stops_at_the_budget(server, r):
    """Commits of one write group wake a waiting poll: it answers with what fits."""
    start = seq(r)
    r.config_set("cdc-poll-max-bytes", 1000)
    try:
        with server.conn(timeout=10) as c:
            c.send(encode_command("POLLUPDATES", start, "MAX", 1000, "FORMAT", "RESP", "BLOCK", 5000))
            time.sleep(0.2)
            p = r.pipeline(transaction=False)  # one read on the server: one group, one WAL record
            for i in range(3):
                p.set("w%d" % i, "v" * 4000)
            p.execute()
            woken = dict(pairs(c.read_reply()))
        rest = follow(r, woken["next_sequence"], "RESP")
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")
    assert len(woken["updates"]) == 1
    assert [len(d["updates"]) for d in rest] == [1] * (3 - 1)


def test_budget_config(server, r):
    r.config_set("cdc-poll-max-bytes", "2mb")
    try:
        assert r.config_get("cdc-poll-max-bytes")["cdc-poll-max-bytes"] == str(2 * MB)
        with pytest.raises(Exception):
            r.config_set("cdc-poll-max-bytes", 0)
    finally:
        r.config_set("cdc-poll-max-bytes", "16mb")
    assert r.config_get("cdc-poll-max-bytes")["cdc-poll-max-bytes"] == str(16 * MB)


def cdc_memory(r):
    info = r.info("memory")
    return info["used_memory_cdc_cache"], info["used_memory_cdc_renderings"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_big_batch_never_takes_the_cache_past_its_cap(make_server, fmt):
    server = make_server(["--cdc-cache-mb", 1])
    r = server.client()
    start = seq(r)
    r.set("small", "x")
    # A batch holds the value once (its change record refers to the put): about 400 KB, kept
    # (at most half the cache); its RAW rendering, twice that, is not.
    r.set("half", b"h" * 400_000)
    assert [len(d["updates"]) for d in follow(r, start, fmt)] == [2]
    batches, renderings = cdc_memory(r)
    assert batches > 400_000 and batches + renderings <= MB, (batches, renderings)
    r.set("big", b"b" * (3 * MB))  # over the whole cache
    batches, renderings = cdc_memory(r)
    assert batches + renderings <= MB, (batches, renderings)
    got = [u for d in follow(r, start, fmt) for u in d["updates"]]
    batches, renderings = cdc_memory(r)
    assert batches + renderings <= MB, (batches, renderings)
    assert len(got) == 3
    assert update_bytes(got[2]) >= 3 * MB  # read whole, from the WAL
    r.set("after", "y")  # the cache serves what follows
    assert len(follow(r, seq(r) - 1, fmt)) == 1
    assert cdc_memory(r)[0] > 0


@pytest.mark.parametrize("limits", [
    ["--client-output-buffer-limit", "normal 4mb 0 0", "--cdc-poll-max-bytes", "1gb"],
    ["--cdc-poll-max-bytes", "4mb"],
], ids=["output-limit", "budget"])
def test_pollers_that_do_not_read_hold_one_bounded_reply_each(make_server, limits):
    """MAX 1000 over big values: the reply stops at the budget, or at what the client's output
    limit lets in (the batch that would take it past is left for the next poll), so pollers
    that do not read hold a few megabytes each, not all that MAX 1000 would gather, and are
    not closed for it."""
    server = make_server(limits)
    r = server.client()
    write_big_values(r, 64, MB)  # 128 MB of RAW updates
    reset_peak_rss(server)
    before = peak_rss_mb(server)
    pollers = [SlowReader(server, ("POLLUPDATES", 0, "MAX", 1000, "FORMAT", "RAW")) for _ in range(3)]
    try:
        def answered():  # the reply waits in the client's output
            lines = r.execute_command("CLIENT", "LIST").decode().splitlines()
            return sum(1 for p in pollers for line in lines
                       if line.startswith("id=%d " % p.id) and " omem=0 " not in line)
        wait_until(lambda: answered() == 3, timeout=20, msg="the polls to be answered")
        grown_mb = peak_rss_mb(server) - before
    finally:
        for p in pollers:
            p.close()
    # ASan's quarantine keeps freed memory a while: the margin doubles under sanitizers
    assert grown_mb < 48 * (2 if SANITIZED else 1), "peak RSS grew by %d MB" % grown_mb
    assert "closed for overcoming of output buffer limits" not in server.log()
    assert r.ping()


OVER_LIMIT = re.compile(r"ERR batch at sequence (\d+) is (\d+) bytes, "
                        r"over this client's output buffer limit \(([a-z-]+)\)$")


def check_refused(reply, sequence, option):
    """reply is the error of a poll whose batch at sequence is too big for the client's limit."""
    m = OVER_LIMIT.match(reply)
    assert m, reply
    assert int(m[1]) == sequence and int(m[2]) > 2 * MB and m[3] == option, reply


@pytest.mark.parametrize("fmt, path", READ_PATHS)
def test_a_batch_over_the_output_limit_is_refused_with_an_error(server, r, fmt, path):
    """A batch too big for the client's output limit alone could never be sent: a reply stops
    before it, a poll that would start with it errs (the client is not closed, and is told
    why), and once the limit is raised the batch comes."""
    start = seq(r)
    r.set("small", "x")
    big = seq(r) + 1
    r.set("big", b"b" * (2 * MB))
    r.set("after", "y")
    if path == "wal":
        server.restart()  # the CDC cache starts empty: the WAL answers
        r.connection_pool.disconnect()
    extra = ("MATCH", "*") if path == "filtered" else ()
    limit = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    r.config_set("client-output-buffer-limit", "normal 1mb 0 0")
    try:
        with server.conn() as c:
            before = dict(pairs(c.call("POLLUPDATES", start, "MAX", 1000, "FORMAT", fmt, *extra)))
            assert len(before["updates"]) == 1 and before["next_sequence"] == big - 1
            check_refused(c.call("POLLUPDATES", big - 1, "MAX", 1000, "FORMAT", fmt, *extra), big,
                          "client-output-buffer-limit")
            assert c.call("PING") == "PONG"
            assert server.log().count("the batch at sequence %d is" % big) == 1
            r.config_set("client-output-buffer-limit", "normal 64mb 0 0")
            got = dict(pairs(c.call("POLLUPDATES", big - 1, "MAX", 1000, "FORMAT", fmt, *extra)))
    finally:
        r.config_set("client-output-buffer-limit", limit)
    assert len(got["updates"]) == 2 and update_bytes(got["updates"][0]) >= 2 * MB
    assert got["next_sequence"] == seq(r)


def test_a_woken_poll_over_maxmemory_clients_is_refused_with_an_error(server, r):
    """A waiting poll woken by a batch too big for maxmemory-clients errs, naming it."""
    limit = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    r.set("big", b"b" * (2 * MB))
    r.config_set("maxmemory-clients", "1mb")
    try:
        with server.conn(timeout=10) as c:
            start = seq(r)
            c.send(encode_command("POLLUPDATES", start, "FORMAT", "RAW", "BLOCK", 5000))
            time.sleep(0.2)
            r.copy("big", "copy")  # a small request for a batch of 2 MB, twice that in RAW
            check_refused(c.read_reply(), start + 1, "maxmemory-clients")
            assert c.call("PING") == "PONG"
    finally:
        r.config_set("maxmemory-clients", "0")
        r.config_set("client-output-buffer-limit", limit)
