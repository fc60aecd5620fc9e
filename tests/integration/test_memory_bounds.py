"""Memory a client can make the server hold: binary-safe passwords, a request's parsed
arguments counted against client-query-buffer-limit, the unread replies of a client that has
not authenticated, and maxmemory-clients (all clients' buffers together, biggest closed first).
Small limits show each bound with a few MB."""

import socket
import time

import pytest
import redis

from conftest import IS_REDIS, encode_command, tidekv_only
from helpers import SlowReader, client_ids, closed_within, gone_within, rss_mb, send_ignoring_close, unread
from test_cdc_helpers import wait_until
from test_client_limits import BIG_ITEMS, ITEM


def info_field(r, section, name):
    return int(r.info(section)[name])


# ---- passwords hold any byte ----

PASSWORD = b"ab\x00cd"


def auth_result(server, *args):
    r = server.client()
    try:
        return r.execute_command(*args)
    except redis.ResponseError as e:
        return str(e)
    finally:
        r.close()


def check_only_whole_password_accepted(server):
    assert auth_result(server, "AUTH", b"ab").startswith("WRONGPASS")
    assert auth_result(server, "AUTH", b"ab\x00c").startswith("WRONGPASS")
    assert auth_result(server, "AUTH", PASSWORD + b"x").startswith("WRONGPASS")
    assert auth_result(server, "AUTH", PASSWORD) is True
    assert auth_result(server, "HELLO", 2, "AUTH", "default", b"ab").startswith("WRONGPASS")
    assert auth_result(server, "HELLO", 2, "AUTH", "default", PASSWORD)[:2] == [b"server", b"redis"]
    r = server.client(password=PASSWORD)
    try:
        assert r.execute_command("CONFIG", "GET", "requirepass") == [b"requirepass", PASSWORD]
    finally:
        r.close()


def test_password_with_a_nul_byte_set_by_config_set(server):
    r = server.client()
    assert r.config_set("requirepass", PASSWORD)
    try:
        check_only_whole_password_accepted(server)
    finally:
        r.config_set("requirepass", "")  # r authenticated before the password was set
        r.close()


def test_password_with_a_nul_byte_in_the_config_file(make_server, tmp_path):
    conf = tmp_path / "t.conf"
    conf.write_text('requirepass "ab\\x00cd"\n')
    check_only_whole_password_accepted(make_server(config_file=conf))


@tidekv_only
def test_other_options_refuse_a_nul_byte(server):
    r = server.client()
    try:
        with pytest.raises(redis.ResponseError, match="NUL"):
            r.config_set("timeout", b"5\x00junk")
        assert r.config_get("timeout") == {"timeout": "0"}
    finally:
        r.close()


# ---- a request's parsed arguments count against client-query-buffer-limit ----

@tidekv_only
def test_parsed_arguments_count_against_the_query_buffer_limit(server):
    r = server.client()
    r.config_set("client-query-buffer-limit", "1mb")
    try:
        rss_before = rss_mb(server)
        with socket.create_connection((server.host, server.port)) as s:
            # 1.8 MB of empty arguments of a request that never ends: every one costs the
            # server far more than its 6 bytes, and none is left unparsed in the buffer.
            send_ignoring_close(s, b"*100000000\r\n" + b"$0\r\n\r\n" * 300_000)
            assert closed_within(s, 3)
        assert r.ping()  # others are served
        assert rss_mb(server) - rss_before < 8
    finally:
        r.config_set("client-query-buffer-limit", "1gb")
        r.close()


def test_multibulk_length_over_the_limit_is_refused(server):
    reply = b""
    with socket.create_connection((server.host, server.port)) as s:
        s.sendall(b"*4294967296\r\n")
        s.settimeout(3)
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(100)
            if not chunk:
                break
            reply += chunk
    assert reply == b"-ERR Protocol error: invalid multibulk length\r\n"


# ---- a client that has not authenticated cannot leave many replies unread ----

@pytest.fixture
def auth_server(make_server):
    return make_server({"requirepass": "secret"})


def unread_pings(server, password=None, count=500_000):
    """A connection that pipelines count PINGs (after AUTH if a password is given) and reads
    nothing; the server's replies pile up far past the kernel's socket buffers."""
    sock = unread(server)
    if password:
        sock.sendall(encode_command("AUTH", password))
    send_ignoring_close(sock, b"PING\r\n" * count)
    return sock


@tidekv_only
def test_unauthenticated_client_with_unread_replies_is_closed(auth_server):
    sock = unread_pings(auth_server)
    try:
        # Its 17 MB of NOAUTH errors pass the 64 KB an unauthenticated client may leave unread.
        assert closed_within(sock, 5)
    finally:
        sock.close()
    r = auth_server.client(password="secret")
    try:
        assert r.ping()
    finally:
        r.close()


def test_authenticated_client_with_unread_replies_stays(auth_server):
    sock = unread_pings(auth_server, password="secret")
    try:
        assert not closed_within(sock, 1)  # bounded by client-output-buffer-limit only
    finally:
        sock.close()


# ---- maxmemory-clients ----

def test_maxmemory_clients_takes_sizes(server):
    r = server.client()
    try:
        r.config_set("maxmemory-clients", "64mb")
        assert r.config_get("maxmemory-clients") == {"maxmemory-clients": str(64 << 20)}
        with pytest.raises(redis.ResponseError):
            r.config_set("maxmemory-clients", "lots")
        assert r.config_get("maxmemory-clients") == {"maxmemory-clients": str(64 << 20)}
    finally:
        r.config_set("maxmemory-clients", "0")
        r.close()


@tidekv_only
def test_maxmemory_clients_default(make_server):
    r = make_server().client()
    try:
        assert r.config_get("maxmemory-clients") == {"maxmemory-clients": str(2 << 30)}
        assert info_field(r, "memory", "maxmemory_clients") == 2 << 30
        assert 0 < info_field(r, "memory", "mem_clients_normal") < 1 << 20
    finally:
        r.close()


@pytest.fixture
def limited(server):
    """The module server with only maxmemory-clients to bound clients (set by the test)."""
    r = server.client()
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    yield r
    r.config_set("maxmemory-clients", "0")
    r.config_set("client-output-buffer-limit", "normal 0 0 0")
    r.close()


def test_maxmemory_clients_closes_a_slow_reader(server, limited):
    r = limited
    p = r.pipeline(transaction=False)
    for i in range(0, BIG_ITEMS, 10_000):
        p.rpush("big", *[ITEM] * 10_000)
    p.execute()
    evicted = info_field(r, "stats", "evicted_clients")
    r.config_set("maxmemory-clients", "8mb")
    slow = SlowReader(server, ("LRANGE", "big", 0, -1))  # an 11 MB reply it never reads
    try:
        assert gone_within(r, slow.id, 5)
    finally:
        slow.close()
    assert r.ping()  # the small clients stay
    assert info_field(r, "stats", "evicted_clients") > evicted
    assert info_field(r, "memory", "mem_clients_normal") < 8 << 20


def partial_bulk(server, size):
    """A connection in the middle of sending a SET whose value is size bytes of a larger one."""
    conn = SlowReader(server)
    send_ignoring_close(conn.sock, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (size * 2) + b"x" * size)
    return conn


def test_maxmemory_clients_closes_the_biggest_client_first(server, limited):
    r = limited
    small = partial_bulk(server, 1_500_000)
    time.sleep(0.3)  # its input is in before the big one grows the total
    r.config_set("maxmemory-clients", "5mb")
    big = partial_bulk(server, 4_000_000)
    try:
        assert gone_within(r, big.id, 5)
        assert small.id in client_ids(r)
    finally:
        small.close()
        big.close()
    assert r.ping()


def client_memory(r):
    """Each client's memory (CLIENT LIST tot-mem), by id."""
    return {int(c["id"]): int(c["tot-mem"]) for c in r.client_list()}


def test_maxmemory_clients_closes_as_many_of_the_biggest_as_needed_at_once(server, limited):
    """When closing the biggest client is not enough, the next biggest goes too, and no other."""
    r = limited
    sizes = (3_000_000, 1_200_000, 300_000)
    conns = [partial_bulk(server, size) for size in sizes]
    biggest, second, third = conns
    try:
        wait_until(lambda: all(client_memory(r).get(c.id, 0) >= size for c, size in zip(conns, sizes)),
                   msg="the partial requests to arrive")
        mem = client_memory(r)
        # Closing the biggest leaves the total over by half the second's memory; closing both,
        # under by as much.
        limit = sum(mem.values()) - mem[biggest.id] - mem[second.id] // 2
        evictions = server.log().count("over maxmemory-clients")
        r.config_set("maxmemory-clients", limit)
        assert gone_within(r, biggest.id, 5)
        assert gone_within(r, second.id, 5)
        assert third.id in client_ids(r)
        if not IS_REDIS:  # one line for each, with what it used
            assert server.log().count("over maxmemory-clients") == evictions + 2
            assert "over maxmemory-clients; it used %d" % mem[biggest.id] in server.log()
    finally:
        for c in conns:
            c.close()
    assert r.ping()


def test_lowering_maxmemory_clients_closes_clients_over_it(server, limited):
    r = limited
    big = partial_bulk(server, 3_000_000)
    try:
        time.sleep(0.3)
        assert big.id in client_ids(r)
        r.config_set("maxmemory-clients", "2mb")
        assert gone_within(r, big.id, 3)
    finally:
        big.close()
    assert r.ping()


@tidekv_only
def test_maxmemory_clients_counts_parsed_arguments(server, limited):
    r = limited
    r.config_set("maxmemory-clients", "4mb")
    with socket.create_connection((server.host, server.port)) as s:
        # 1.2 MB sent, ten times that in parsed arguments, under client-query-buffer-limit (1gb).
        send_ignoring_close(s, b"*100000000\r\n" + b"$0\r\n\r\n" * 200_000)
        assert closed_within(s, 3)
    assert r.ping()


def test_maxmemory_clients_counts_queued_commands(server, limited):
    r = limited
    r.config_set("maxmemory-clients", "4mb")
    with socket.create_connection((server.host, server.port)) as s:
        queued = encode_command("SET", "key", "v" * 100) * 40_000  # 5 MB queued in MULTI
        send_ignoring_close(s, encode_command("MULTI") + queued)
        assert closed_within(s, 5)
    assert r.ping()
    assert r.get("key") is None
