"""Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT (Redis 7 semantics and texts).

Everything not marked tidekv_only also holds against redis-server 7.0
(TIDEKV_TEST_TARGET=redis)."""

import hashlib
import threading

import pytest
import redis

from conftest import RespError, Simple, tidekv_only


def sha1(body):
    return hashlib.sha1(body.encode() if isinstance(body, str) else body).hexdigest()


def ev(c, body, *keys_and_args, numkeys=0):
    return c.call("EVAL", body, numkeys, *keys_and_args)


# ---- results: Lua → reply (RESP2) ----

@pytest.mark.parametrize("body,expected", [
    ("return 'hello'", b"hello"),
    ("return 42", 42),
    ("return 3.99", 3),
    ("return -3.99", -3),
    ("return true", 1),
    ("return false", None),
    ("return nil", None),
    ("return {1, 2, 'three'}", [1, 2, b"three"]),
    ("return {1, 2, nil, 4}", [1, 2]),
    ("return {1, {2, {3}}, 'x'}", [1, [2, [3]], b"x"]),
    ("return {}", []),
    ("return {ok='fine'}", Simple("fine")),
    ("return redis.status_reply('FINE')", Simple("FINE")),
    ("return {double=3.5}", b"3.5"),
    ("return {map={a=1}}", [b"a", 1]),
    ("return {set={a=true}}", [b"a"]),
    ("return {big_number='12345678901234567890'}", b"12345678901234567890"),
])
def test_result_conversion_resp2(c, body, expected):
    assert ev(c, body) == expected


@pytest.mark.parametrize("body,expected", [
    ("return {err='My Error'}", "My Error"),
    ("return redis.error_reply('My Error')", "My Error"),
    ("return redis.error_reply('oops')", "ERR oops"),
    ("return redis.pcall('INCR', KEYS[1])", "ERR value is not an integer or out of range"),
])
def test_error_results(c, body, expected):
    c.call("SET", "str", "abc")
    assert ev(c, body, "str", numkeys=1) == RespError(expected)


# ---- commands' replies: reply → Lua ----

@pytest.mark.parametrize("body,expected", [
    ("return type(redis.call('GET', 'missing'))", b"boolean"),
    ("return tostring(redis.call('GET', 'missing'))", b"false"),
    ("return type(redis.call('INCR', 'n'))", b"number"),
    ("return redis.call('SET', 'k', 'v').ok", b"OK"),
    ("return type(redis.call('SET', 'k', 'v'))", b"table"),
    ("redis.call('SET', 'k', 'v'); return redis.pcall('HSET', 'k', 'f', 'v').err",
     b"WRONGTYPE Operation against a key holding the wrong kind of value"),
    ("redis.call('RPUSH', 'l', 'a', 'b'); return #redis.call('LRANGE', 'l', 0, -1)", 2),
    ("return redis.call('SET', 'k', 3.5) and redis.call('GET', 'k')", b"3.5"),
    ("return redis.call('SET', 'k', 1/3) and redis.call('GET', 'k')", b"0.33333333333333331"),
])
def test_reply_conversion_resp2(c, body, expected):
    assert ev(c, body) == expected


def hello3(c):
    c.call("HELLO", "3")


def test_resp3_results(c):
    hello3(c)
    assert ev(c, "return {map={a=1}}") == {b"a": 1}
    assert ev(c, "return {set={a=true}}") == [b"a"]
    assert ev(c, "return {double=3.5}") == 3.5
    assert ev(c, "return nil") is None
    assert ev(c, "return {big_number='12345678901234567890'}") == 12345678901234567890
    assert ev(c, "return {verbatim_string={format='txt', string='abc'}}") == b"abc"


@pytest.mark.parametrize("body,resp3,resp2", [
    # Booleans follow the script's protocol (redis.setresp), then the caller's.
    ("return true", b":1\r\n", b":1\r\n"),
    ("return false", b"_\r\n", b"$-1\r\n"),
    ("redis.setresp(3); return true", b"#t\r\n", b":1\r\n"),
    ("redis.setresp(3); return false", b"#f\r\n", b":0\r\n"),
    ("return nil", b"_\r\n", b"$-1\r\n"),
    ("return {double=3.5}", b",3.5\r\n", b"$3\r\n3.5\r\n"),
    ("return {verbatim_string={format='txt', string='abc'}}", b"=7\r\ntxt:abc\r\n", b"$3\r\nabc\r\n"),
])
def test_raw_encodings(c, body, resp3, resp2):
    def raw_eval():
        c.send(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body.encode()))
        return c.read_raw()
    assert raw_eval() == resp2
    hello3(c)
    assert raw_eval() == resp3


def test_setresp3_command_replies(c):
    c.call("HSET", "h", "f", "v")
    c.call("SADD", "s", "m")
    c.call("ZADD", "z", "1.5", "m")
    assert ev(c, "redis.setresp(3); return redis.call('HGETALL', 'h').map.f") == b"v"
    assert ev(c, "redis.setresp(3); return tostring(redis.call('SMEMBERS', 's').set.m)") == b"true"
    assert ev(c, "redis.setresp(3); return type(redis.call('GET', 'missing'))") == b"nil"
    assert ev(c, "redis.setresp(3); return redis.call('ZSCORE', 'z', 'm').double * 2") == 3
    # Without setresp(3) the same replies are RESP2's.
    assert ev(c, "return redis.call('HGETALL', 'h')") == [b"f", b"v"]
    assert ev(c, "return redis.call('ZSCORE', 'z', 'm')") == b"1.5"


def test_setresp_errors(c):
    assert "RESP version must be 2 or 3." in ev(c, "redis.setresp(4)")
    assert "redis.setresp() requires one argument." in ev(c, "redis.setresp()")


# ---- KEYS, ARGV, numkeys ----

def test_keys_and_argv(c):
    assert ev(c, "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "k1", "k2", "a1", "a2", numkeys=2) == \
        [b"k1", b"k2", b"a1", 2]
    assert ev(c, "return #KEYS") == 0


def test_numkeys_errors(c):
    assert ev(c, "return 1", "k", numkeys=2) == RespError("ERR Number of keys can't be greater than number of args")
    assert ev(c, "return 1", numkeys=-1) == RespError("ERR Number of keys can't be negative")
    assert c.call("EVAL", "return 1", "x") == RespError("ERR value is not an integer or out of range")
    assert c.call("EVAL", "return 1") == RespError("ERR wrong number of arguments for 'eval' command")


# ---- errors ----

def test_compile_error(c):
    err = ev(c, "return +")
    assert isinstance(err, RespError)
    assert err.startswith("ERR Error compiling script (new function): user_script:1: ")


def test_runtime_error_names_script_and_line(c):
    body = "local a = 1\nerror('boom')"
    assert ev(c, body) == RespError(
        "ERR user_script:2: boom script: %s, on @user_script:2." % sha1(body))


def test_call_error_raises_with_script_location(c):
    c.call("SET", "str", "abc")
    body = "return redis.call('INCR', KEYS[1])"
    assert ev(c, body, "str", numkeys=1) == RespError(
        "ERR value is not an integer or out of range script: %s, on @user_script:1." % sha1(body))


@pytest.mark.parametrize("body,message", [
    ("return redis.call('NOSUCHCOMMAND')", "Unknown Redis command called from script"),
    ("return redis.call('GET')", "Wrong number of args calling Redis command from script"),
    ("return redis.call('MULTI')", "This Redis command is not allowed from script"),
    ("return redis.call('EVAL', 'return 1', 0)", "This Redis command is not allowed from script"),
    ("return redis.call()", "Please specify at least one argument for this redis lib call"),
    ("return redis.call('GET', {})", "Lua redis lib command arguments must be strings or integers"),
])
def test_refused_calls(c, body, message):
    assert ev(c, body) == RespError("ERR %s script: %s, on @user_script:1." % (message, sha1(body)))


def test_pcall_returns_refusal_as_table(c):
    assert ev(c, "return redis.pcall('NOSUCHCOMMAND').err") == b"ERR Unknown Redis command called from script"


def test_noscript(c):
    assert c.call("EVALSHA", "a" * 40, 0) == RespError("NOSCRIPT No matching script. Please use EVAL.")
    assert c.call("EVALSHA", "short", 0) == RespError("NOSCRIPT No matching script. Please use EVAL.")


def test_error_keeps_earlier_writes(c):
    c.call("SET", "str", "abc")
    err = ev(c, "redis.call('SET', 'a', '1'); redis.call('INCR', 'str'); redis.call('SET', 'b', '2')")
    assert isinstance(err, RespError)
    assert c.call("GET", "a") == b"1"
    assert c.call("GET", "b") is None


# ---- sandbox ----

def test_nonexistent_global(c):
    body = "return undefined_thing"
    assert ev(c, body) == RespError(
        "ERR user_script:1: Script attempted to access nonexistent global variable 'undefined_thing' "
        "script: %s, on @user_script:1." % sha1(body))


@pytest.mark.parametrize("body", ["x = 5", "redis = nil", "string.foo = 1", "KEYS = {}", "_G.y = 1"])
def test_globals_are_read_only(c, body):
    err = ev(c, body)
    assert isinstance(err, RespError)
    assert "Attempt to modify a readonly table" in err


@tidekv_only
def test_os_clock_only(c):
    assert ev(c, "return type(os.clock())") == b"number"
    assert ev(c, "return os.execute == nil and os.exit == nil and os.getenv == nil") == 1


def test_sandbox_libraries(c):
    for name in ("io", "loadfile", "dofile", "print", "getfenv", "setfenv", "require", "module", "debug",
                 "package", "newproxy"):
        err = ev(c, "return %s" % name)
        assert "nonexistent global variable '%s'" % name in err
    assert ev(c, "return cjson.encode({1, 2})") == b"[1,2]"
    assert ev(c, "return cjson.decode('{\"a\":[5]}').a[1]") == 5
    assert ev(c, "return bit.band(12, 10)") == 8
    assert ev(c, "return bit.tohex(255)") == b"000000ff"
    assert ev(c, "return string.format('%d-%s', 7, 'x')") == b"7-x"
    assert ev(c, "return math.floor(7.5)") == 7
    assert ev(c, "return table.concat({'a', 'b'}, ',')") == b"a,b"
    assert ev(c, "local ok = pcall(error, 'x'); return ok") is None


def test_math_random_ranges(c):
    for _ in range(20):
        v = ev(c, "return {math.random(1000), math.random(5, 9), math.random() * 1000}")
        assert 1 <= v[0] <= 1000 and 5 <= v[1] <= 9 and 0 <= v[2] < 1000
    assert "interval is empty" in ev(c, "return math.random(0)")


def test_math_random_matches_redis(make_server):
    # Redis's own rand48 seeded with 0 at start-up: a fresh server's first numbers are Redis's.
    s = make_server()
    with s.conn() as fresh:
        assert ev(fresh, "return {math.random(1000000), math.random(1000000), math.random(1000000)}") == \
            [396465, 840486, 353337]


def test_redis_library(c):
    assert ev(c, "return redis.sha1hex('')") == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert ev(c, "return redis.sha1hex('abc')") == sha1("abc").encode()
    assert ev(c, "return type(redis.REDIS_VERSION)") == b"string"
    assert ev(c, "return redis.REDIS_VERSION_NUM >= 0x070000") == 1
    assert ev(c, "return redis.replicate_commands()") == 1
    assert ev(c, "return redis.acl_check_cmd('SET', 'k', 'v')") == 1
    assert "Invalid command passed to redis.acl_check_cmd()" in ev(c, "return redis.acl_check_cmd('NOPE')")
    assert ev(c, "redis.set_repl(redis.REPL_ALL); redis.set_repl(redis.REPL_NONE); return 1") == 1
    assert "Invalid replication flags" in ev(c, "redis.set_repl(8)")
    assert ev(c, "redis.log(redis.LOG_WARNING, 'from', 'a script'); return 1") == 1
    assert "Invalid debug level." in ev(c, "redis.log(9, 'x')")
    assert "redis.log() requires two arguments or more." in ev(c, "redis.log(1)")
    assert ev(c, "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}") == [0, 1, 2, 3]


def test_select_inside_script_keeps_clients_db(c):
    assert ev(c, "redis.call('SELECT', 3); redis.call('SET', 'in3', 'x'); return 1") == 1
    assert c.call("GET", "in3") is None
    c.call("SELECT", "3")
    assert c.call("GET", "in3") == b"x"


def test_blocking_commands_are_refused(c):
    body = "return redis.call('BLPOP', 'nolist', 0)"
    assert ev(c, body) == RespError(
        "ERR This Redis command is not allowed from script script: %s, on @user_script:1." % sha1(body))


# ---- SCRIPT ----

def test_script_load_exists_flush(c):
    body = "return 'loaded'"
    sha = sha1(body)
    assert c.call("SCRIPT", "LOAD", body) == sha.encode()
    assert c.call("SCRIPT", "EXISTS", sha, "b" * 40, sha.upper()) == [1, 0, 1]
    assert c.call("EVALSHA", sha, 0) == b"loaded"
    assert c.call("EVALSHA", sha.upper(), 0) == b"loaded"
    assert c.call("SCRIPT", "FLUSH") == Simple("OK")
    assert c.call("SCRIPT", "EXISTS", sha) == [0]
    assert c.call("EVALSHA", sha, 0) == RespError("NOSCRIPT No matching script. Please use EVAL.")
    assert c.call("SCRIPT", "LOAD", body) == sha.encode()
    assert c.call("SCRIPT", "FLUSH", "ASYNC") == Simple("OK")
    assert c.call("SCRIPT", "FLUSH", "SYNC") == Simple("OK")
    assert c.call("SCRIPT", "FLUSH", "NOW") == RespError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")


def test_eval_caches_script(c):
    body = "return 'cached'"
    assert ev(c, body) == b"cached"
    assert c.call("SCRIPT", "EXISTS", sha1(body)) == [1]
    assert c.call("EVALSHA", sha1(body), 0) == b"cached"


def test_script_load_compile_error(c):
    err = c.call("SCRIPT", "LOAD", "return +")
    assert err.startswith("ERR Error compiling script (new function): user_script:1: ")
    assert c.call("SCRIPT", "EXISTS", sha1("return +")) == [0]


def test_script_loaded_on_one_connection_runs_on_all(server):
    # Scripts are shared by every worker: load on one connection, run on many others.
    body = "return 'everywhere'"
    conns = [server.conn() for _ in range(6)]
    try:
        assert conns[0].call("SCRIPT", "LOAD", body) == sha1(body).encode()
        for x in conns:
            assert x.call("EVALSHA", sha1(body), 0) == b"everywhere"
        conns[1].call("SCRIPT", "FLUSH")
        for x in conns:
            assert x.call("EVALSHA", sha1(body), 0) == RespError("NOSCRIPT No matching script. Please use EVAL.")
    finally:
        for x in conns:
            x.close()


def test_script_subcommand_errors(c):
    assert c.call("SCRIPT", "NOPE") == RespError("ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.")
    assert c.call("SCRIPT", "KILL") == RespError("NOTBUSY No scripts in execution right now.")
    help_lines = [str(line) for line in c.call("SCRIPT", "HELP")]
    assert help_lines[0] == "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    for line in ("EXISTS <sha1> [<sha1> ...]", "FLUSH [ASYNC|SYNC]", "KILL", "LOAD <script>", "HELP"):
        assert line in help_lines
    assert c.call("SCRIPT", "LOAD") == RespError("ERR wrong number of arguments for 'script|load' command")


# ---- read-only scripts and shebangs ----

def test_eval_ro_refuses_writes(c):
    c.call("SET", "k", "v")
    assert c.call("EVAL_RO", "return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    body = "return redis.call('SET', KEYS[1], 'x')"
    assert c.call("EVAL_RO", body, 1, "k") == RespError(
        "ERR Write commands are not allowed from read-only scripts. script: %s, on @user_script:1." % sha1(body))
    sha = c.call("SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])").decode()
    assert c.call("EVALSHA_RO", sha, 1, "k") == b"v"
    assert c.call("GET", "k") == b"v"


def test_read_only_scripts_refuse_publish(c, r):
    """PUBLISH writes no key but reaches other clients: as Redis's may-replicate commands, a
    read-only script may not run it, and nothing is delivered."""
    sub = r.pubsub()
    sub.subscribe("ch")
    assert sub.get_message(timeout=2)["type"] == "subscribe"
    for command in ("PUBLISH", "SPUBLISH"):
        body = "return redis.call('%s', 'ch', 'x')" % command
        assert c.call("EVAL_RO", body, 0) == RespError(
            "ERR Write commands are not allowed from read-only scripts. script: %s, on @user_script:1." % sha1(body))
        err = ev(c, "#!lua flags=no-writes\n" + body)
        assert "Write commands are not allowed from read-only scripts." in err
    assert c.call("EVAL", "return redis.call('PUBLISH', 'ch', 'y')", 0) == 1
    message = sub.get_message(timeout=2)
    assert message["type"] == "message" and message["data"] == b"y"  # the refused ones never came
    sub.close()


def test_shebang_flags(c):
    c.call("SET", "k", "v")
    assert ev(c, "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", "k", numkeys=1) == b"v"
    err = ev(c, "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')", "k", numkeys=1)
    assert "Write commands are not allowed from read-only scripts." in err
    assert ev(c, "#!lua\nreturn redis.call('SET', KEYS[1], 'y')", "k", numkeys=1) == Simple("OK")
    assert c.call("EVAL_RO", "#!lua\nreturn 1", 0) == RespError(
        "ERR Can not execute a script with write flag using *_ro command.")
    assert c.call("EVAL_RO", "#!lua flags=no-writes,allow-oom\nreturn 1", 0) == 1


@pytest.mark.parametrize("body,message", [
    ("#!lua flags=bogus\nreturn 1", "ERR Unexpected flag in script shebang: bogus"),
    ("#!python\nreturn 1", "ERR Unexpected engine in script shebang: #!python"),
    ("#!lua name=x\nreturn 1", "ERR Unknown lua shebang option: name=x"),
    ("#!lua", "ERR Invalid script shebang"),
])
def test_shebang_errors(c, body, message):
    assert ev(c, body) == RespError(message)


def test_shebang_keeps_line_numbers(c):
    body = "#!lua\nerror('here')"
    assert ev(c, body) == RespError("ERR user_script:2: here script: %s, on @user_script:2." % sha1(body))


# ---- atomicity ----

INCR_SCRIPT = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], v + 1)
local w = tonumber(redis.call('GET', 'undeclared:' .. KEYS[1]) or '0')
redis.call('SET', 'undeclared:' .. KEYS[1], w + 1)
return v + 1
"""


def test_read_modify_write_scripts_are_atomic(server):
    """Many clients run a script that reads and writes a declared and an undeclared key, while
    others INCR the same keys: no update is lost."""
    threads, per_thread, keys = 8, 150, ["ctr:a", "ctr:b"]
    errors = []

    def scripted(i):
        cl = server.client()
        try:
            script = cl.register_script(INCR_SCRIPT)
            for n in range(per_thread):
                script(keys=[keys[(i + n) % 2]])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            cl.close()

    def plain(i):
        cl = server.client()
        try:
            for n in range(per_thread):
                cl.incr(keys[(i + n) % 2])
                cl.incr("undeclared:" + keys[(i + n) % 2])
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            cl.close()

    ts = [threading.Thread(target=scripted, args=(i,)) for i in range(threads)]
    ts += [threading.Thread(target=plain, args=(i,)) for i in range(threads // 2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    cl = server.client()
    try:
        total = sum(int(cl.get(k)) for k in keys)
        undeclared = sum(int(cl.get("undeclared:" + k)) for k in keys)
    finally:
        cl.close()
    expected = threads * per_thread + (threads // 2) * per_thread
    assert total == expected
    assert undeclared == expected


def test_redis_py_lock_mutual_exclusion(server):
    holders, max_holders, errors = [0], [0], []
    guard = threading.Lock()

    def worker():
        cl = server.client()
        try:
            for _ in range(15):
                with cl.lock("resource", timeout=10, blocking_timeout=30, sleep=0.001):
                    with guard:
                        holders[0] += 1
                        max_holders[0] = max(max_holders[0], holders[0])
                    cl.incr("inside")
                    with guard:
                        holders[0] -= 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            cl.close()

    ts = [threading.Thread(target=worker) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert max_holders[0] == 1
    cl = server.client()
    try:
        assert int(cl.get("inside")) == 90
        assert cl.get("resource") is None
    finally:
        cl.close()


def test_register_script(r):
    script = r.register_script("return {KEYS[1], ARGV[1]}")
    assert script(keys=["k"], args=["a"]) == [b"k", b"a"]
    r.script_flush()
    assert script(keys=["k2"], args=["b"]) == [b"k2", b"b"]  # reloaded after NOSCRIPT


def test_script_inside_multi(c):
    assert c.call("MULTI") == Simple("OK")
    assert c.call("EVAL", "return redis.call('INCR', KEYS[1])", 1, "m") == Simple("QUEUED")
    assert c.call("EVAL", "return redis.call('INCR', 'other')", 0) == Simple("QUEUED")
    assert c.call("EXEC") == [1, 1]


# ---- BUSY and SCRIPT KILL ----

BUSY = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."


def start_script(server, body, result, *keys):
    """Runs EVAL body with keys on a client of its own, in a thread; its reply or error goes
    into result. The client connects before the thread starts, so the connections made after
    this returns come after it (tidekv hands connections to its workers in turn)."""
    cl = server.client(socket_timeout=60)
    cl.ping()

    def run():
        try:
            result["reply"] = cl.eval(body, len(keys), *keys)
        except redis.RedisError as e:
            result["error"] = str(e)
        finally:
            cl.close()
    t = threading.Thread(target=run)
    t.start()
    return t


def busy_connection(server):
    """A fresh connection and its answer to PING while a script runs (any connection answers,
    on whichever worker thread it lands)."""
    conn = server.conn(timeout=5)
    return conn, conn.call("PING")


def test_busy_then_script_kill(server):
    import time
    admin = server.client()
    admin.config_set("busy-reply-threshold", 200)
    try:
        result = {}
        t = start_script(server, "local i = 0 while true do i = i + 1 end", result)
        time.sleep(0.6)
        conn, reply = busy_connection(server)
        try:
            assert reply == RespError(BUSY)
            assert conn.call("GET", "x") == RespError(BUSY)
            assert conn.call("SCRIPT", "KILL") == Simple("OK")
        finally:
            conn.close()
        t.join(20)
        assert not t.is_alive()
        assert result["error"].startswith("Script killed by user with SCRIPT KILL...")
        assert admin.ping()
        with server.conn() as after:
            assert after.call("SCRIPT", "KILL") == RespError("NOTBUSY No scripts in execution right now.")
    finally:
        admin.config_set("busy-reply-threshold", 5000)
        admin.close()


def start_script_and_writers(server, body, result, delay, writers=4):
    """Starts EVAL body with key k, then after delay seconds `writers` clients that SET k, each in a
    thread of its own; the script's reply or error goes to result["script"], writer i's to result[i].
    Returns the threads, the script's first."""
    import time

    def run(name, call):
        try:
            result[name] = call()
        except redis.RedisError as e:
            result[name] = str(e)

    threads = [threading.Thread(target=run, args=("script", lambda: server.client(socket_timeout=30).eval(body, 1, "k")))]
    threads[0].start()
    time.sleep(delay)
    threads += [threading.Thread(target=run, args=(i, lambda: server.client(socket_timeout=30).set("k", "v")))
                for i in range(writers)]
    for t in threads[1:]:
        t.start()
    return threads


def test_commands_sent_before_the_threshold_get_busy_once_it_passes(make_server):
    """A command that came in while the script was young, and waits for the script's key, gets
    BUSY once the script passes the threshold (Redis reads it then and refuses it): it does not
    wait for the script's end, and its worker is free again to read SCRIPT KILL."""
    s = make_server()
    admin = s.client()
    admin.config_set("busy-reply-threshold", 300)
    result = {}
    threads = start_script_and_writers(s, "redis.call('GET', KEYS[1]) local i = 0 while true do i = i + 1 end",
                                       result, 0.1)
    try:
        for t in threads[1:]:
            t.join(5)
        assert [result.get(i) for i in range(4)] == [BUSY] * 4
        with s.conn() as conn:
            assert conn.call("SCRIPT", "KILL") == Simple("OK")
        threads[0].join(10)
        assert result["script"].startswith("Script killed by user with SCRIPT KILL...")
        assert admin.get("k") is None
    finally:
        if threads[0].is_alive():
            s.kill9()
        for t in threads:
            t.join(10)


def test_script_that_wrote_is_unkillable(make_server):
    import time
    s = make_server()
    admin = s.client()
    admin.config_set("lua-time-limit", 200)
    assert admin.config_get("busy-reply-threshold") == {"busy-reply-threshold": "200"}
    result = {}
    t = start_script(s, "redis.call('SET', 'x', '1') local i = 0 while true do i = i + 1 end", result)
    time.sleep(0.6)
    conn, reply = busy_connection(s)
    try:
        assert reply == RespError(BUSY)
        assert conn.call("SCRIPT", "KILL") == RespError(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait "
            "the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
    finally:
        conn.close()
    s.kill9()
    t.join(20)


def test_busy_threshold_config(r):
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "5000"}
    assert r.config_get("lua-time-limit") == {"lua-time-limit": "5000"}
