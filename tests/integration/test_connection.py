"""Connection and server commands: PING ECHO HELLO AUTH SELECT QUIT CLIENT
INFO DBSIZE FLUSHDB FLUSHALL CONFIG COMMAND TIME SHUTDOWN."""

import fnmatch
import re
import time

import pytest
import redis

from conftest import IS_REDIS, RespError, call, encode_command, raw, tidekv_only


def pairs_to_dict(flat):
    assert isinstance(flat, list) and len(flat) % 2 == 0, flat
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


# ---------------------------------------------------------------- PING / ECHO

def test_ping(r, server):
    assert r.ping() is True
    with server.conn() as c:
        assert c.call_raw("PING") == b"+PONG\r\n"
        # PING with an argument is a bulk reply, not a status
        assert c.call_raw("PING", "hi there") == b"$8\r\nhi there\r\n"
        assert c.call("PING", "a", "b") == "ERR wrong number of arguments for 'ping' command"


def test_echo(r, server):
    assert r.echo(b"hello") == b"hello"
    assert r.echo(b"\x00\xff\r\nbin") == b"\x00\xff\r\nbin"
    assert r.echo(b"") == b""
    assert call(server, "ECHO") == "ERR wrong number of arguments for 'echo' command"
    assert call(server, "ECHO", "a", "b") == "ERR wrong number of arguments for 'echo' command"


# ---------------------------------------------------------------- HELLO

HELLO_KEYS = {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}


def test_hello_2(server):
    with server.conn() as c:
        reply = c.call("HELLO", "2")
        assert isinstance(reply, list)  # RESP2: flat array of key/value
        d = pairs_to_dict(reply)
        assert HELLO_KEYS <= set(d)
        assert d[b"proto"] == 2
        assert isinstance(d[b"id"], int)
        assert d[b"id"] == c.call("CLIENT", "ID")
        assert d[b"mode"] == b"standalone"
        assert d[b"role"] == b"master"
        assert d[b"modules"] == []
        assert re.match(rb"^\d+\.\d+\.\d+", d[b"version"])


def test_hello_without_args_reports_current_protocol(server):
    with server.conn() as c:
        d = pairs_to_dict(c.call("HELLO"))
        assert d[b"proto"] == 2


def test_hello_3(server):
    with server.conn() as c:
        c.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        raw_reply = c.read_raw()
        assert raw_reply.startswith(b"%7\r\n"), raw_reply
    with server.conn() as c:
        d = c.call("HELLO", "3")
        assert isinstance(d, dict)
        assert HELLO_KEYS <= set(d)
        assert d[b"proto"] == 3
        assert d[b"id"] == c.call("CLIENT", "ID")
        # the connection now speaks RESP3; HELLO without args says so
        assert c.call("HELLO")[b"proto"] == 3
        # and can go back to RESP2
        assert isinstance(c.call("HELLO", "2"), list)
        assert c.call_raw("GET", "nosuchkey") == b"$-1\r\n"


def test_hello_bad_protocol(server):
    with server.conn() as c:
        reply = c.call("HELLO", "4")
        assert isinstance(reply, RespError)
        assert reply == "NOPROTO unsupported protocol version"
        assert c.call("HELLO", "1") == "NOPROTO unsupported protocol version"
        assert c.call("HELLO", "abc") == "ERR Protocol version is not an integer or out of range"
        # the connection is still usable and still RESP2
        assert c.call_raw("PING") == b"+PONG\r\n"


def test_hello_setname(server):
    with server.conn() as c:
        d = c.call("HELLO", "3", "SETNAME", "myconn")
        assert d[b"proto"] == 3
        assert c.call("CLIENT", "GETNAME") == b"myconn"
    with server.conn() as c:
        d = pairs_to_dict(c.call("HELLO", "2", "SETNAME", "other"))
        assert d[b"proto"] == 2
        assert c.call("CLIENT", "GETNAME") == b"other"


def test_hello_auth_without_password_configured(server):
    # The default user has no password: any password is accepted for it.
    with server.conn() as c:
        d = c.call("HELLO", "3", "AUTH", "default", "whatever")
        assert isinstance(d, dict) and d[b"proto"] == 3


def test_hello_syntax_error(server):
    with server.conn() as c:
        reply = c.call("HELLO", "3", "BOGUS")
        assert isinstance(reply, RespError)
        assert reply.startswith("ERR Syntax error in HELLO option 'BOGUS'")


# ---------------------------------------------------------------- AUTH (no password set)

def test_auth_without_password_configured(server):
    with server.conn() as c:
        assert c.call("AUTH", "foo") == (
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?")
        # two-argument form for the default user works (nopass)
        assert c.call("AUTH", "default", "foo") == "OK"
        assert c.call("AUTH", "a", "b", "c") == "ERR syntax error"


# ---------------------------------------------------------------- SELECT

def test_select(r, server):
    with server.conn() as c:
        assert c.call("SET", "k", "db0") == "OK"
        assert c.call("SELECT", "1") == "OK"
        assert c.call("GET", "k") is None
        assert c.call("SET", "k", "db1") == "OK"
        assert c.call("DBSIZE") == 1
        assert c.call("SELECT", "15") == "OK"
        assert c.call("EXISTS", "k") == 0
        assert c.call("SELECT", "0") == "OK"
        assert c.call("GET", "k") == b"db0"
    r1 = server.client(db=1)
    try:
        assert r1.get("k") == b"db1"
    finally:
        r1.close()
    assert r.get("k") == b"db0"


def test_select_errors(server):
    with server.conn() as c:
        assert c.call("SELECT", "16") == "ERR DB index is out of range"
        assert c.call("SELECT", "-1") == "ERR DB index is out of range"
        assert c.call("SELECT", "abc") == "ERR value is not an integer or out of range"
        assert c.call("SELECT", "1.5") == "ERR value is not an integer or out of range"
        assert c.call("SELECT") == "ERR wrong number of arguments for 'select' command"
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        server.client(db=16).ping()


def test_select_with_more_databases(make_server):
    s = make_server(["--databases", "32"])
    with s.conn() as c:
        assert c.call("SELECT", "31") == "OK"
        assert c.call("SELECT", "32") == "ERR DB index is out of range"


# ---------------------------------------------------------------- QUIT

def test_quit(server):
    with server.conn() as c:
        assert c.call("SET", "q", "1") == "OK"
        c.send(b"*1\r\n$4\r\nQUIT\r\n")
        assert c.read_raw() == b"+OK\r\n"
        assert c.is_closed(timeout=3)
    # inline QUIT as well
    out = raw(server, b"PING\r\nQUIT\r\n")
    assert out == b"+PONG\r\n+OK\r\n"


def test_quit_drops_commands_after_it(server):
    out = raw(server, b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
    assert out == b"+OK\r\n"


# ---------------------------------------------------------------- CLIENT

def test_client_id(server):
    with server.conn() as a, server.conn() as b:
        ida = a.call("CLIENT", "ID")
        idb = b.call("CLIENT", "ID")
        assert isinstance(ida, int) and isinstance(idb, int)
        assert ida > 0 and idb > 0 and ida != idb
        assert a.call("CLIENT", "ID") == ida
    with server.conn() as c:
        # ids are never reused: a new connection gets a larger id
        assert c.call("CLIENT", "ID") > max(ida, idb)


def test_client_setname_getname(server):
    with server.conn() as c:
        assert c.call("CLIENT", "GETNAME") is None
        assert c.call("CLIENT", "SETNAME", "worker-1") == "OK"
        assert c.call("CLIENT", "GETNAME") == b"worker-1"
        assert c.call("CLIENT", "SETNAME", "bad name") == (
            "ERR Client names cannot contain spaces, newlines or special characters.")
        assert c.call("CLIENT", "GETNAME") == b"worker-1"
        # empty name clears it
        assert c.call("CLIENT", "SETNAME", "") == "OK"
        assert c.call("CLIENT", "GETNAME") is None


def test_client_setname_redis_py(r):
    assert r.client_setname("pyclient") is True
    assert r.client_getname() in ("pyclient", b"pyclient")


def parse_client_list(text):
    out = []
    for line in text.strip().splitlines():
        fields = {}
        for tok in line.split(" "):
            k, _, v = tok.partition("=")
            fields[k] = v
        out.append(fields)
    return out


def test_client_list(server):
    with server.conn() as a, server.conn() as b:
        ida = a.call("CLIENT", "ID")
        idb = b.call("CLIENT", "ID")
        assert b.call("CLIENT", "SETNAME", "bob") == "OK"
        listing = a.call("CLIENT", "LIST")
        assert isinstance(listing, bytes)
        assert listing.endswith(b"\n")
        clients = parse_client_list(listing.decode())
        by_id = {int(c["id"]): c for c in clients}
        assert ida in by_id and idb in by_id
        assert by_id[idb]["name"] == "bob"
        assert by_id[ida]["name"] == ""
        local_port = a.sock.getsockname()[1]
        assert by_id[ida]["addr"] == "127.0.0.1:%d" % local_port
        assert by_id[ida]["db"] == "0"
        assert by_id[ida]["cmd"] == "client|list"
        # CLIENT LIST ID filter
        only = parse_client_list(a.call("CLIENT", "LIST", "ID", str(idb)).decode())
        assert [int(c["id"]) for c in only] == [idb]


def test_client_list_shows_other_clients_state(server):
    """CLIENT LIST shows another client's db, MULTI state, last command and buffers as its worker
    left them (the clients may be on different workers)."""
    with server.conn() as a, server.conn() as b:
        idb = b.call("CLIENT", "ID")
        assert b.call("SELECT", "3") == "OK"
        assert b.call("MULTI") == "OK"
        assert b.call("SET", "x", "1") == "QUEUED"
        assert b.call("SET", "y", "2") == "QUEUED"
        shown = parse_client_list(a.call("CLIENT", "LIST", "ID", str(idb)).decode())
        assert len(shown) == 1
        assert (shown[0]["db"], shown[0]["flags"], shown[0]["multi"], shown[0]["cmd"]) == ("3", "x", "2", "set")
        assert int(shown[0]["qbuf"]) == 0 and int(shown[0]["rbs"]) >= 0
        assert b.call("EXEC") == ["OK", "OK"]
        shown = parse_client_list(a.call("CLIENT", "LIST", "ID", str(idb)).decode())
        assert (shown[0]["db"], shown[0]["flags"], shown[0]["multi"], shown[0]["cmd"]) == ("3", "N", "-1", "exec")


def test_client_kill_by_id(server):
    with server.conn() as killer, server.conn() as victim:
        vid = victim.call("CLIENT", "ID")
        assert victim.call("PING") == "PONG"
        assert killer.call("CLIENT", "KILL", "ID", str(vid)) == 1
        assert victim.is_closed(timeout=3)
        # killing an id that does not exist kills nobody
        assert killer.call("CLIENT", "KILL", "ID", str(vid)) == 0
        assert killer.call("CLIENT", "KILL", "ID", "abc") == RespError(
            "ERR client-id should be greater than 0")
        assert killer.call("PING") == "PONG"


def test_client_kill_by_addr(server):
    with server.conn() as killer, server.conn() as victim:
        assert victim.call("PING") == "PONG"
        addr = "127.0.0.1:%d" % victim.sock.getsockname()[1]
        assert killer.call("CLIENT", "KILL", "ADDR", addr) == 1
        assert victim.is_closed(timeout=3)
        assert killer.call("CLIENT", "KILL", "ADDR", addr) == 0
    with server.conn() as killer, server.conn() as victim:
        assert victim.call("PING") == "PONG"
        addr = "127.0.0.1:%d" % victim.sock.getsockname()[1]
        # old form: CLIENT KILL ip:port
        assert killer.call("CLIENT", "KILL", addr) == "OK"
        assert victim.is_closed(timeout=3)
        assert killer.call("CLIENT", "KILL", addr) == "ERR No such client"


def test_client_kill_self(server):
    with server.conn() as c:
        myid = c.call("CLIENT", "ID")
        # the new form skips the calling client by default (SKIPME yes)
        assert c.call("CLIENT", "KILL", "ID", str(myid)) == 0
        assert c.call("PING") == "PONG"
        c.send(encode_command("CLIENT", "KILL", "ID", str(myid), "SKIPME", "no") + b"PING\r\n")
        assert c.read_reply() == 1
        assert c.is_closed(timeout=3)
        assert bytes(c.buf) == b""


def test_client_kill_redis_py(server):
    a = server.client()
    b = server.client()
    try:
        b.ping()
        bid = b.client_id()
        assert a.client_kill_filter(_id=bid) == 1
        ids = [c["id"] for c in a.client_list()]
        assert str(bid) not in ids
    finally:
        a.close()
        b.close()


def ids_of_type(conn, kind):
    return sorted(int(c["id"]) for c in parse_client_list(conn.call("CLIENT", "LIST", "TYPE", kind).decode()))


def test_client_list_and_kill_by_type(make_server):
    s = make_server()
    with s.conn() as admin, s.conn() as normal, s.conn() as sub, s.conn() as psub, s.conn() as left:
        ids = {name: c.call("CLIENT", "ID") for name, c in
               (("admin", admin), ("normal", normal), ("sub", sub), ("psub", psub), ("left", left))}
        assert sub.call("SUBSCRIBE", "ch")[0] == b"subscribe"
        assert psub.call("PSUBSCRIBE", "p*")[0] == b"psubscribe"
        assert left.call("SUBSCRIBE", "ch")[0] == b"subscribe"
        assert left.call("UNSUBSCRIBE", "ch")[0] == b"unsubscribe"  # no subscription left: normal again
        assert ids_of_type(admin, "pubsub") == sorted([ids["sub"], ids["psub"]])
        assert ids_of_type(admin, "normal") == sorted([ids["admin"], ids["normal"], ids["left"]])
        for kind in ("replica", "slave", "master", "MASTER"):
            assert admin.call("CLIENT", "LIST", "TYPE", kind) == b""
        flags = {int(c["id"]): c["flags"] for c in parse_client_list(admin.call("CLIENT", "LIST").decode())}
        assert (flags[ids["sub"]], flags[ids["normal"]]) == ("P", "N")
        assert admin.call("CLIENT", "LIST", "TYPE", "bogus") == RespError("ERR Unknown client type 'bogus'")
        assert admin.call("CLIENT", "LIST", "TYPE") == RespError("ERR syntax error")
        assert admin.call("CLIENT", "KILL", "TYPE", "bogus") == RespError("ERR Unknown client type 'bogus'")
        assert admin.call("CLIENT", "KILL", "TYPE", "master") == 0
        assert admin.call("CLIENT", "KILL", "TYPE", "replica") == 0
        assert admin.call("CLIENT", "KILL", "TYPE", "pubsub") == 2
        assert sub.is_closed(timeout=3) and psub.is_closed(timeout=3)
        assert admin.call("CLIENT", "KILL", "TYPE", "normal") == 2  # not the caller (SKIPME yes)
        assert normal.is_closed(timeout=3) and left.is_closed(timeout=3)
        assert admin.call("PING") == "PONG"
        assert ids_of_type(admin, "normal") == [ids["admin"]]


def test_client_kill_filters_all_apply(make_server):
    s = make_server()
    with s.conn() as admin, s.conn() as a, s.conn() as b:
        ida, idb = a.call("CLIENT", "ID"), b.call("CLIENT", "ID")
        assert b.call("SUBSCRIBE", "ch")[0] == b"subscribe"
        addr_a = "127.0.0.1:%d" % a.sock.getsockname()[1]
        laddr = "127.0.0.1:%d" % s.port
        # a filter that does not match spares the client the others match
        assert admin.call("CLIENT", "KILL", "ADDR", addr_a, "TYPE", "pubsub") == 0
        assert admin.call("CLIENT", "KILL", "ID", str(ida), "TYPE", "pubsub") == 0
        assert admin.call("CLIENT", "KILL", "ID", str(ida), "LADDR", "127.0.0.1:1") == 0
        assert admin.call("CLIENT", "KILL", "ID", str(idb), "ADDR", addr_a) == 0
        # the last of each kind counts
        assert admin.call("CLIENT", "KILL", "TYPE", "pubsub", "TYPE", "normal", "ID", str(idb)) == 0
        assert admin.call("PING") == "PONG"
        assert admin.call("CLIENT", "KILL", "ID", str(ida), "USER", "default", "LADDR", laddr, "TYPE", "normal",
                          "ADDR", addr_a, "SKIPME", "yes") == 1
        assert a.is_closed(timeout=3)
        assert admin.call("CLIENT", "KILL", "LADDR", laddr, "TYPE", "pubsub") == 1
        assert b.is_closed(timeout=3)
        for args, error in [(("USER", "nobody"), "ERR No such user 'nobody'"),
                            (("USER", "DEFAULT"), "ERR No such user 'DEFAULT'"),
                            (("TYPE", "normal", "SKIPME", "maybe"), "ERR syntax error"),
                            (("TYPE", "normal", "ID"), "ERR syntax error"),
                            (("NOPE", "x"), "ERR syntax error"),
                            (("TYPE", "normal", "ID", "0"), "ERR client-id should be greater than 0"),
                            (("ID", "-3", "TYPE", "bogus"), "ERR client-id should be greater than 0"),
                            (("TYPE",), "ERR No such client")]:  # one argument: the old form's address
            assert admin.call("CLIENT", "KILL", *args) == RespError(error), args
        # SKIPME no: the caller too, after its reply
        admin.send(encode_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no") + b"PING\r\n")
        assert admin.read_reply() == 1
        assert admin.is_closed(timeout=3)


def test_client_list_of_several_ids(server):
    with server.conn() as a, server.conn() as b:
        ida, idb = a.call("CLIENT", "ID"), b.call("CLIENT", "ID")
        listed = parse_client_list(a.call("CLIENT", "LIST", "ID", str(idb), "0", "-5", "99999999", str(ida)).decode())
        assert [int(c["id"]) for c in listed] == [idb, ida]  # in the order asked, unknown ids left out
        assert a.call("CLIENT", "LIST", "ID", "0") == b""
        assert a.call("CLIENT", "LIST", "ID", str(ida), "x") == RespError("ERR Invalid client ID")
        assert a.call("CLIENT", "LIST", "ID") == RespError("ERR syntax error")


def test_client_kill_by_type_inside_multi_as_sentinel_sends_it(make_server):
    """After a failover Sentinel sends REPLICAOF, CONFIG REWRITE, CLIENT KILL TYPE normal and
    CLIENT KILL TYPE pubsub in one MULTI: the clients go, Sentinel's own link stays."""
    s = make_server()
    with s.conn() as sentinel, s.conn() as normal, s.conn() as sub:
        # Each link answered once, so the server holds it (an accepted socket it has not taken
        # in yet is no client for CLIENT KILL).
        assert normal.call("PING") == "PONG"
        assert sub.call("SUBSCRIBE", "ch")[0] == b"subscribe"
        assert sentinel.call("MULTI") == "OK"
        for command in (("REPLICAOF", "NO", "ONE"), ("CLIENT", "KILL", "TYPE", "normal"),
                        ("CLIENT", "KILL", "TYPE", "pubsub")):
            assert sentinel.call(*command) == "QUEUED"
        assert sentinel.call("EXEC") == ["OK", 1, 1]
        assert normal.is_closed(timeout=3) and sub.is_closed(timeout=3)
        assert sentinel.call("PING") == "PONG"


# ---------------------------------------------------------------- INFO

def info_sections(text):
    return re.findall(r"^# (\w+)", text, re.M)


def test_info_default_sections(server):
    with server.conn() as c:
        text = c.call("INFO").decode()
    sections = info_sections(text)
    for s in ("Server", "Clients", "Memory", "Persistence", "Stats", "Keyspace"):
        assert s in sections, sections
    assert "\r\n" in text


def test_info_server_section(server):
    with server.conn() as c:
        text = c.call("INFO", "server").decode()
    assert info_sections(text) == ["Server"]
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))
    assert re.match(r"^\d+\.\d+\.\d+$", fields["redis_version"])
    assert fields["tcp_port"] == str(server.port)
    assert int(fields["process_id"]) > 0
    assert int(fields["uptime_in_seconds"]) >= 0


def test_info_redis_py(r, server):
    info = r.info()
    assert info["tcp_port"] == server.port
    assert "redis_version" in info
    assert "connected_clients" in info
    assert "used_memory" in info
    assert "total_commands_processed" in info
    clients = r.info("clients")
    assert clients["connected_clients"] >= 1
    assert "redis_version" not in clients
    mem = r.info("memory")
    assert mem["used_memory"] > 0
    persistence = r.info("persistence")
    assert persistence["loading"] == 0
    stats = r.info("stats")
    assert stats["total_connections_received"] >= 1


def test_info_section_case_insensitive_and_multiple(server):
    with server.conn() as c:
        text = c.call("INFO", "SERVER", "clients").decode()
    assert info_sections(text) == ["Server", "Clients"]


def test_info_keyspace(r, server):
    # on an empty server the section lists no database; tidekv adds its change
    # stream positions there (sequence, oldest_sequence, readable_sequence) and its durable
    # consumers (cdc_consumers, cdc_consumers_lost) and snapshots (cdc_snapshots), as its INFO
    # contract says
    extra = set() if IS_REDIS else {"sequence", "oldest_sequence", "readable_sequence", "cdc_consumers",
                                    "cdc_consumers_lost", "cdc_snapshots"}
    assert set(r.info("keyspace")) <= extra
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.set("c", "3")
    r.execute_command("SELECT", "0")
    r3 = server.client(db=3)
    r3.set("x", "y")
    r3.close()
    with server.conn() as c:
        text = c.call("INFO", "keyspace").decode()
    assert "# Keyspace" in text
    assert re.search(r"^db0:keys=3,expires=1,avg_ttl=\d+\r?$", text, re.M), text
    assert re.search(r"^db3:keys=1,expires=0,avg_ttl=0\r?$", text, re.M), text
    assert "db1:" not in text
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 3 and ks["db0"]["expires"] == 1


def test_info_clients_counts_connections(r, server):
    def snapshot():
        ids = {int(cl["id"]) for cl in parse_client_list(r.execute_command("CLIENT", "LIST").decode())}
        return r.info("clients")["connected_clients"], ids

    def wait_for(pred):
        deadline = time.monotonic() + 3
        while True:
            n, ids = snapshot()
            # connected_clients agrees with CLIENT LIST (the INFO call
            # happens on the same connection right after it)
            if pred(ids) and n == len(ids):
                return n, ids
            if time.monotonic() > deadline:
                return n, ids
            time.sleep(0.02)

    received = r.info("stats")["total_connections_received"]
    conns = [server.conn() for _ in range(3)]
    try:
        mine = {cn.call("CLIENT", "ID") for cn in conns}
        n, ids = wait_for(lambda ids: mine <= ids)
        assert mine <= ids
        assert n == len(ids)
        assert r.info("stats")["total_connections_received"] >= received + 3
    finally:
        for cn in conns:
            cn.close()
    n, ids = wait_for(lambda ids: not (mine & ids))
    assert not (mine & ids), "closed connections still listed"
    assert n == len(ids)


def test_info_all(server):
    with server.conn() as c:
        text = c.call("INFO", "all").decode()
        assert {"Server", "Clients", "Stats", "Keyspace"} <= set(info_sections(text))
        text = c.call("INFO", "everything").decode()
        assert {"Server", "Clients", "Stats", "Keyspace"} <= set(info_sections(text))
        # an unknown section gives an empty string, not an error
        assert c.call("INFO", "nosuchsection") == b""


def test_info_commandstats_counts(r):
    before = r.info("stats")["total_commands_processed"]
    for _ in range(10):
        r.ping()
    after = r.info("stats")["total_commands_processed"]
    assert after >= before + 10


@tidekv_only
def test_info_sequence_increases_after_write(r, server):
    def seq():
        with server.conn() as c:
            text = c.call("INFO").decode()
        m = re.search(r"sequence:(\d+)", text)
        assert m, "INFO has no 'sequence:<int>' field:\n" + text
        return int(m.group(1))

    s1 = seq()
    r.set("seqkey", "v")
    s2 = seq()
    assert s2 > s1
    r.incr("seqctr")
    r.delete("seqkey")
    s3 = seq()
    assert s3 > s2


# ---------------------------------------------------------------- DBSIZE / FLUSH*

def test_dbsize_flushdb_flushall(r, server):
    assert r.dbsize() == 0
    r.mset({"a": 1, "b": 2, "c": 3})
    assert r.dbsize() == 3
    r1 = server.client(db=1)
    try:
        r1.set("z", 1)
        assert r1.dbsize() == 1
        assert r.flushdb() is True
        assert r.dbsize() == 0
        assert r1.dbsize() == 1  # FLUSHDB only touches the selected db
        r.set("a", 1)
        assert r.flushall() is True
        assert r.dbsize() == 0
        assert r1.dbsize() == 0
    finally:
        r1.close()


def test_flush_options(server):
    with server.conn() as c:
        c.call("SET", "a", "1")
        assert c.call("FLUSHDB", "SYNC") == "OK"
        c.call("SET", "a", "1")
        assert c.call("FLUSHDB", "ASYNC") == "OK"
        assert c.call("DBSIZE") == 0
        c.call("SET", "a", "1")
        assert c.call("FLUSHALL", "SYNC") == "OK"
        assert c.call("DBSIZE") == 0
        assert c.call("FLUSHALL", "foo") == "ERR syntax error"
        assert c.call("DBSIZE", "x") == "ERR wrong number of arguments for 'dbsize' command"


# ---------------------------------------------------------------- CONFIG

def test_config_get_port(r, server):
    assert r.config_get("port") == {"port": str(server.port)}
    with server.conn() as c:
        assert c.call("CONFIG", "GET", "port") == [b"port", str(server.port).encode()]
        assert c.call("CONFIG", "GET", "nosuchoption-xyz") == []


def test_config_get_glob(r):
    got = r.config_get("*max*")
    assert "maxclients" in got
    assert len(got) >= 2
    for k in got:
        assert fnmatch.fnmatchcase(k, "*max*"), k
    assert int(got["maxclients"]) > 0
    # glob with ? and multiple patterns (Redis 7)
    got = pairs_to_dict(r.execute_command("CONFIG", "GET", "por?", "timeout"))
    assert got == {b"port": r.config_get("port")["port"].encode(),
                   b"timeout": r.config_get("timeout")["timeout"].encode()}
    assert set(r.config_get("*")) >= {"port", "timeout", "maxclients", "dir", "databases", "loglevel", "bind"}


def test_config_get_dir_and_databases(r, server):
    import os
    got = r.config_get("dir")["dir"]
    assert os.path.realpath(got) == os.path.realpath(server.datadir)
    assert r.config_get("databases") == {"databases": "16"}


def test_config_set_timeout_maxclients_loglevel(r, server):
    old = r.config_get("timeout")["timeout"]
    old_max = r.config_get("maxclients")["maxclients"]
    old_level = r.config_get("loglevel")["loglevel"]
    try:
        assert r.config_set("timeout", 300) is True
        assert r.config_get("timeout") == {"timeout": "300"}
        assert r.config_set("maxclients", 77) is True
        assert r.config_get("maxclients") == {"maxclients": "77"}
        assert r.config_set("loglevel", "warning") is True
        assert r.config_get("loglevel") == {"loglevel": "warning"}
        # names are case-insensitive
        assert r.execute_command("CONFIG", "SET", "TIMEOUT", "301") in (True, b"OK", "OK")
        assert r.config_get("timeout") == {"timeout": "301"}
    finally:
        r.config_set("timeout", old)
        r.config_set("maxclients", old_max)
        r.config_set("loglevel", old_level)


def test_config_set_multiple(server):
    with server.conn() as c:
        old_t = cfg_get(c, "timeout")
        old_m = cfg_get(c, "maxclients")
        try:
            assert c.call("CONFIG", "SET", "timeout", "10", "maxclients", "50") == "OK"
            assert cfg_get(c, "timeout") == b"10"
            assert cfg_get(c, "maxclients") == b"50"
            # all-or-nothing: one bad parameter and nothing changes
            reply = c.call("CONFIG", "SET", "timeout", "20", "nosuch", "1")
            assert reply == "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
            assert cfg_get(c, "timeout") == b"10"
            reply = c.call("CONFIG", "SET", "timeout", "5", "timeout", "6")
            assert isinstance(reply, RespError) and "duplicate parameter" in reply
        finally:
            c.call("CONFIG", "SET", "timeout", old_t, "maxclients", old_m)


def cfg_get(c, name):
    reply = c.call("CONFIG", "GET", name)
    assert len(reply) == 2, reply
    return reply[1]


def test_config_set_errors(server):
    with server.conn() as c:
        assert c.call("CONFIG", "SET", "nosuchoption", "1") == (
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuchoption'")
        reply = c.call("CONFIG", "SET", "maxclients", "abc")
        assert isinstance(reply, RespError)
        assert reply.startswith("ERR CONFIG SET failed (possibly related to argument 'maxclients')")
        reply = c.call("CONFIG", "SET", "timeout", "-1")
        assert isinstance(reply, RespError)
        assert reply.startswith("ERR CONFIG SET failed (possibly related to argument 'timeout')")
        reply = c.call("CONFIG", "SET", "loglevel", "loud")
        assert isinstance(reply, RespError)
        assert reply.startswith("ERR CONFIG SET failed (possibly related to argument 'loglevel')")
        assert c.call("CONFIG", "SET", "timeout") == "ERR wrong number of arguments for 'config|set' command"
        assert c.call("CONFIG", "BOGUS") == RespError(
            "ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.")


def test_config_resetstat(r):
    for _ in range(20):
        r.ping()
    before = r.info("stats")["total_commands_processed"]
    assert before >= 20
    assert r.config_resetstat() is True
    after = r.info("stats")["total_commands_processed"]
    assert after < before
    assert after <= 3


# ---------------------------------------------------------------- COMMAND

def test_command_count(server):
    n = call(server, "COMMAND", "COUNT")
    assert isinstance(n, int) and n > 50


def test_command_lists_all_commands(server):
    with server.conn() as c:
        everything = c.call("COMMAND")
        assert len(everything) == c.call("COMMAND", "COUNT")
        names = {entry[0] for entry in everything}
        assert {b"get", b"set", b"incr", b"multi", b"exec", b"scan", b"hello"} <= names


def test_command_info(server):
    with server.conn() as c:
        reply = c.call("COMMAND", "INFO", "get", "set", "nosuchcommand")
        assert len(reply) == 3
        get, set_, missing = reply
        assert get[0] == b"get" and get[1] == 2
        assert set_[0] == b"set" and set_[1] == -3
        assert missing is None
        # first key, last key, step
        assert get[3:6] == [1, 1, 1]
        assert set_[3:6] == [1, 1, 1]
        assert "readonly" in get[2]
        assert "write" in set_[2]
        # names are case-insensitive
        assert c.call("COMMAND", "INFO", "GET")[0][0] == b"get"


def test_command_docs(server):
    with server.conn() as c:
        reply = c.call("COMMAND", "DOCS", "get")
        assert isinstance(reply, list) and len(reply) == 2
        assert reply[0] == b"get"
        doc = pairs_to_dict(reply[1])
        assert doc, reply
        assert b"summary" in doc
        assert len(doc[b"summary"]) > 0


# ---------------------------------------------------------------- TIME

def test_time(server, r):
    with server.conn() as c:
        reply = c.call("TIME")
    assert isinstance(reply, list) and len(reply) == 2
    secs, usecs = int(reply[0]), int(reply[1])
    assert abs(secs - time.time()) < 5
    assert 0 <= usecs < 1000000
    t = r.time()
    assert abs(t[0] - time.time()) < 5


# ---------------------------------------------------------------- SHUTDOWN

def test_shutdown(make_server):
    s = make_server()
    r = s.client()
    r.set("before-shutdown", "yes")
    r.set("with-ttl", "v", ex=1000)
    r.mset({"k%d" % i: i for i in range(100)})
    with s.conn() as c:
        c.send(b"*1\r\n$8\r\nSHUTDOWN\r\n")
        # no reply on success: the connection is simply closed
        assert c.is_closed(timeout=10)
    assert s.wait_exit(15) == 0, s.log()
    s.start()
    r = s.client()
    assert r.get("before-shutdown") == b"yes"
    assert 900 < r.ttl("with-ttl") <= 1000
    assert r.get("k99") == b"99"
    assert r.dbsize() == 102
