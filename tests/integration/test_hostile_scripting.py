"""Scripting as a hostile or careless user drives it: sandbox escapes that outlive the script
(each worker keeps one Lua state for every client it serves), precompiled bytecode, SCRIPT
KILL while other clients wait on the script's keys, and atomicity under concurrent writers.

Everything not marked tidekv_only also holds against redis-server 7.0
(TIDEKV_TEST_TARGET=redis)."""

import threading
import time

import pytest
import redis

from conftest import RespError, Simple, tidekv_only
from test_scripting import start_script_and_writers

READONLY = "Attempt to modify a readonly table"


def ev(conn, body, *keys_and_args, numkeys=0):
    return conn.call("EVAL", body, numkeys, *keys_and_args)


# ---- sandbox: what one script does must not reach the next (one connection: one worker) ----

@pytest.mark.parametrize("attack", [
    "rawset(redis, 'call', function() return 'pwned' end)",
    "rawset(_G, 'redis', {call = function() return 'pwned' end})",
    "loadstring('redis = {call = function() return \"pwned\" end}')()",
    "local once = false load(function() if once then return nil end once = true return 'redis = nil' end)()",
])
def test_script_cannot_replace_redis_call_for_later_scripts(make_server, attack):
    s = make_server()
    with s.conn() as conn:
        err = ev(conn, attack)
        assert isinstance(err, RespError) and READONLY in err, err
        assert ev(conn, "return redis.call('PING')") == Simple("PONG")


def test_loadstring_cannot_create_globals(make_server):
    s = make_server()
    with s.conn() as conn:
        err = ev(conn, "loadstring('leaked = 5')()")
        assert isinstance(err, RespError) and READONLY in err, err
        err = ev(conn, "return leaked")
        assert isinstance(err, RespError) and "nonexistent global variable 'leaked'" in err, err


def test_string_metatable_cannot_hijack_string_library(make_server):
    s = make_server()
    with s.conn() as conn:
        err = ev(conn, "getmetatable('').__index.upper = function() return 'hacked' end")
        assert isinstance(err, RespError) and READONLY in err, err
        assert ev(conn, "return string.upper('a')") == b"A"
        assert ev(conn, "return ('a'):upper()") == b"A"
        assert ev(conn, "return tostring(getmetatable('').__index == string)") == b"true"
        err = ev(conn, "getmetatable('').__index = {upper = function() return 'hacked' end}")
        assert isinstance(err, RespError) and READONLY in err, err
        assert ev(conn, "return ('a'):upper()") == b"A"


def test_table_library_cannot_write_into_protected_tables(make_server):
    s = make_server()
    with s.conn() as conn:
        err = ev(conn, "table.insert(redis, 'x')")
        assert isinstance(err, RespError) and READONLY in err, err
        assert ev(conn, "return redis[1]") is None


def test_protected_libraries_are_still_plain_tables(server):
    """Scripts may read and walk the libraries: rawget and pairs see their functions."""
    with server.conn() as conn:
        assert ev(conn, "return type(rawget(redis, 'call'))") == b"function"
        assert ev(conn, "local n = 0 for _ in pairs(string) do n = n + 1 end return n > 10") == 1


def test_precompiled_bytecode_is_refused(server):
    """Lua 5.1 bytecode is not verified enough to be safe (CVE-2015-4335): Redis parses every
    chunk as text, so neither EVAL nor loadstring runs a string.dump."""
    with server.conn() as conn:
        dump = ev(conn, "return string.dump(function() return 7 end)")
        assert dump.startswith(b"\x1bLua")
        err = conn.call("EVAL", dump, 0)
        assert isinstance(err, RespError), err
        assert err.startswith("ERR Error compiling script (new function): user_script:1: "
                              "unexpected symbol near 'char(27)'"), err
        assert ev(conn, "return type(loadstring(ARGV[1]))", dump) == b"nil"
        assert ev(conn, "local f, e = loadstring(ARGV[1]) return e", dump).endswith(
            b"unexpected symbol near 'char(27)'")


# ---- SCRIPT KILL stays reachable ----

def _kill_within(server, seconds):
    """SCRIPT KILL on fresh connections until one answers; its reply, or None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            cl = server.client(socket_timeout=1.5)
            try:
                return cl.script_kill()
            finally:
                cl.close()
        except redis.exceptions.TimeoutError:
            continue
    return None


@pytest.mark.soak  # long: runs under make soak
@pytest.mark.parametrize("first_call", ["redis.call('GET', KEYS[1])", "redis.call('DBSIZE')"])
def test_script_kill_reachable_while_clients_wait_on_the_scripts_keys(make_server, first_call):
    """Writers of the script's key that arrive before busy-reply-threshold must not wedge
    every worker: SCRIPT KILL (from any new connection) still stops the looping script."""
    s = make_server()
    admin = s.client()
    admin.config_set("busy-reply-threshold", 500)
    admin.close()
    result = {}
    threads = start_script_and_writers(s, first_call + " local i = 0 while true do i = i + 1 end", result, 0.2)
    try:
        time.sleep(1.0)
        assert _kill_within(s, 8) is True
        threads[0].join(10)
        assert "Script killed by user with SCRIPT KILL" in result["script"]
    finally:
        if threads[0].is_alive():
            s.kill9()
        for t in threads:
            t.join(35)


# ---- what held up: atomicity against concurrent writers of undeclared keys ----

def test_scripts_on_undeclared_keys_lose_no_write_and_tear_nothing(server):
    main = server.client()
    main.mset({"a": 1000, "b": 1000})
    rounds = 300
    bad = []

    def incr_direct():
        cl = server.client(socket_timeout=30)
        for _ in range(rounds):
            cl.incr("cnt")

    def incr_script():
        cl = server.client(socket_timeout=30)
        for i in range(rounds):
            cl.eval("redis.call('INCR', 'cnt') redis.call('INCR', 'other' .. (ARGV[1] % 3))", 0, i)

    def transfer(body):
        cl = server.client(socket_timeout=30)
        for _ in range(rounds):
            cl.eval(body, 0)

    def read_sums():
        cl = server.client(socket_timeout=30)
        for _ in range(rounds):
            a, b = cl.mget("a", "b")
            if int(a) + int(b) != 2000:
                bad.append(("mget", a, b))
            total = cl.eval("return redis.call('GET', 'a') + redis.call('GET', 'b')", 0)
            if total != 2000:
                bad.append(("script", total))

    workers = [threading.Thread(target=f) for f in (incr_direct, incr_direct, incr_script, incr_script, read_sums)]
    workers.append(threading.Thread(target=transfer, args=(
        "redis.call('DECRBY', 'a', 7) redis.call('INCRBY', 'b', 7)",)))
    workers.append(threading.Thread(target=transfer, args=(
        "redis.call('RANDOMKEY') redis.call('DECRBY', 'b', 3) redis.call('INCRBY', 'a', 3)",)))
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert bad == []
    assert int(main.get("cnt")) == 4 * rounds
    assert int(main.get("a")) + int(main.get("b")) == 2000
    assert sum(int(main.get("other%d" % i)) for i in range(3)) == 2 * rounds


@tidekv_only
def test_change_stream_of_racing_scripts_replays_to_the_same_data(server):
    """Scripts on undeclared keys race plain writers (some run again holding every key): the
    change stream, replayed into redis-server, gives the same data as tidekv holds."""
    from test_cdc_helpers import RedisServer, poll_all, replay, seq
    from test_scripting_cdc import dump_all
    main = server.client()
    start = seq(main)
    rounds = 150
    scripts = [
        "local m = redis.call('SPOP', 'pool') if m then redis.call('RPUSH', 'out', m) end "
        "return redis.call('INCR', 'n')",
        "redis.call('SADD', 'pool', ARGV[1], ARGV[1] .. 'x') return redis.call('HINCRBYFLOAT', 'h', 'f', '0.5')",
        "redis.call('RANDOMKEY') local m = redis.call('SRANDMEMBER', 'pool') "
        "if m then redis.call('SMOVE', 'pool', 'moved', m) end return redis.call('INCR', 'n')",
    ]

    def run_script(body):
        cl = server.client(socket_timeout=30)
        for i in range(rounds):
            cl.eval(body, 0, "m%d" % i)

    def plain():
        cl = server.client(socket_timeout=30)
        for i in range(rounds):
            cl.sadd("pool", "p%d" % i)
            cl.incr("n")
            cl.lpush("out", "direct")

    threads = [threading.Thread(target=run_script, args=(b,)) for b in scripts]
    threads.append(threading.Thread(target=plain))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert int(main.get("n")) == 3 * rounds
    peer = RedisServer().start()
    try:
        updates = poll_all(main, start)
        with peer.conn() as pc:
            assert replay(pc, updates) == []
        assert dump_all(server.client()) == dump_all(peer.client())
    finally:
        peer.stop()


@tidekv_only
def test_change_stream_of_keyspace_wide_scripts_replays_to_the_same_data(server):
    """Scripts that flush, rename and copy keys they never declared, across
    databases, record effects that redis-server replays to the same data."""
    from test_cdc_helpers import RedisServer, poll_all, replay, seq
    from test_scripting_cdc import dump_all
    main = server.client()
    start = seq(main)
    bodies = [
        "redis.call('SET', 'x', '1') redis.call('SET', 'y', '2') return redis.call('FLUSHALL')",
        "redis.call('SET', 'gone', '1') redis.call('FLUSHDB') redis.call('SET', 'kept', '2')",
        "redis.call('RPUSH', 'l', 'a', 'b') redis.call('RENAME', 'l', 'l2') redis.call('COPY', 'l2', 'l3')",
        "redis.call('SET', 'mv', 'x') redis.call('COPY', 'mv', 'mv', 'DB', 3) redis.call('DEL', 'mv') "
        "redis.call('SELECT', 3) redis.call('APPEND', 'mv', 'y')",
        "redis.call('SELECT', 4) redis.call('SET', 'in4', 'v') redis.call('FLUSHDB') "
        "redis.call('SELECT', 5) redis.call('INCR', 'n5')",
        "redis.call('HSET', 'h', 'a', '1') redis.call('EXPIRE', 'h', 100) redis.call('PERSIST', 'h') "
        "redis.call('SET', 'ttl', 'v', 'EX', 500) redis.call('RENAME', 'ttl', 'ttl2')",
        "redis.call('SADD', 's1', 'a', 'b', 'c') redis.call('SADD', 's2', 'b') "
        "redis.call('SDIFFSTORE', 's3', 's1', 's2') redis.call('DEL', 's1')",
        "redis.call('SET', 'after', '1') redis.call('SELECT', 6) redis.call('ZADD', 'z', 1, 'm')",
    ]
    for body in bodies:
        main.eval(body, 0)
    assert main.lrange("l3", 0, -1) == [b"a", b"b"] and server.client(db=5).get("n5") == b"1"
    peer = RedisServer().start()
    try:
        updates = poll_all(main, start)
        with peer.conn() as pc:
            assert replay(pc, updates) == []
        for db in range(7):
            assert dump_all(server.client(db=db)) == dump_all(peer.client(db=db)), db
    finally:
        peer.stop()


def test_binary_keys_args_and_replies(c):
    key, val = b"k\x00ey\r\n", b"\x00v\xff\r\n\x00"
    assert ev(c, "redis.call('SET', KEYS[1], ARGV[1]) return {redis.call('GET', KEYS[1]), #ARGV[1]}",
              key, val, numkeys=1) == [val, len(val)]
    assert c.call("GET", key) == val


# ---- parity of what scripts may call, and what they get back ----

@pytest.mark.parametrize("command", [
    ("CONFIG", "SET", "busy-reply-threshold", "1234"),
    ("CONFIG", "GET", "busy-reply-threshold"),
    ("CLIENT", "ID"),
    ("CLIENT", "KILL", "ID", "999999"),
    ("CLIENT", "SETNAME", "fromscript"),
])
def test_admin_and_connection_commands_are_refused_in_scripts(c, command):
    """Redis 7 flags every CONFIG and CLIENT subcommand noscript: a script may not change the
    server's configuration or act on connections."""
    body = "return redis.call(%s)" % ", ".join("'%s'" % a for a in command)
    err = ev(c, body)
    assert isinstance(err, RespError) and err.startswith(
        "ERR This Redis command is not allowed from script script: "), err
    assert c.call("CONFIG", "GET", "busy-reply-threshold") == [b"busy-reply-threshold", b"5000"]


def test_pcall_of_redis_call_catches_the_error_text(c):
    """Redis 7.0 raises a failed redis.call's error as its text: the common
    `local ok, err = pcall(redis.call, …)` idiom gets a string it can match or pass on."""
    c.call("SET", "str", "abc")
    assert ev(c, "local ok, e = pcall(redis.call, 'INCR', 'str') return {tostring(ok), type(e), e}") == [
        b"false", b"string", b"ERR value is not an integer or out of range"]
    assert ev(c, "local ok, e = pcall(redis.call, 'NOSUCH') return e") == b"ERR Unknown Redis command called from script"
    assert ev(c, "local ok, e = pcall(redis.call, 'INCR', 'str') return redis.error_reply(e)") == RespError(
        "ERR value is not an integer or out of range")
    # Uncaught, or rethrown, it ends the script as before.
    assert ev(c, "redis.call('INCR', 'str')").startswith("ERR value is not an integer or out of range script: ")
    assert ev(c, "local ok, e = pcall(redis.call, 'INCR', 'str') error(e)").startswith(
        "ERR user_script:1: ERR value is not an integer or out of range script: ")
