"""Redis 7 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/STATS/KILL/DUMP/RESTORE, FCALL and
FCALL_RO, their error texts and reply shapes (as redis-server 7.0 gives them), libraries kept
across restarts, and FUNCTION commands in the change stream."""

import threading
import time

import pytest
import redis

from conftest import RespError, tidekv_only
from test_cdc_helpers import RedisServer, commands_after, poll_all, replay, seq
from test_scripting import busy_connection

SETTER = """#!lua name=setter
redis.register_function('set_it', function(keys, args) return redis.call('SET', keys[1], args[1]) end)
redis.register_function{function_name='get_it', callback=function(keys, args) return redis.call('GET', keys[1]) end,
                        flags={'no-writes'}, description='reads a key'}
"""

ECHO = """#!lua name=echo
redis.register_function('echo_all', function(keys, args) return {keys, args} end)
"""


@pytest.fixture
def f(server):
    c = server.client(decode_responses=False)
    c.function_flush()
    yield c
    c.function_flush()
    c.close()


def error_of(cl, *args):
    with pytest.raises(redis.ResponseError) as e:
        cl.execute_command(*args)
    return str(e.value)


def as_dict(flat):
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def lib_code(name, body):
    return "#!lua name=%s\n%s" % (name, body)


def test_load_and_fcall_with_keys_and_args(f):
    assert f.function_load(SETTER) == b"setter"
    assert f.function_load(ECHO) == b"echo"
    assert f.fcall("set_it", 1, "k", "v") == b"OK"
    assert f.fcall("get_it", 1, "k") == b"v"
    assert f.fcall_ro("get_it", 1, "k") == b"v"
    assert f.fcall("echo_all", 2, "a", "b", "x", "y", "z") == [[b"a", b"b"], [b"x", b"y", b"z"]]
    assert f.fcall("echo_all", 0) == [[], []]


@pytest.mark.parametrize("code,error", [
    ("return 1", "Missing library metadata"),
    ("#!lua", "Invalid library metadata"),
    ("#!lua foo=bar\n", "Invalid metadata value given: foo=bar"),
    ("#!luax name=x\n", "Engine 'luax' not found"),
    ("#!lua\nreturn 1", "Library name was not given"),
    ("#!lua name=a name=b\n", "Invalid metadata value, name argument was given multiple times"),
    ("#!lua name=x-y\n", "Library names can only contain letters, numbers, or underscores(_) and must be at "
                         "least one character long"),
    ("#!lua name=\n", "Library names can only contain letters, numbers, or underscores(_) and must be at "
                      "least one character long"),
    ("#!lua name=x\nreturn 1", "No functions registered"),
    ("#!lua name=x\nlocal a = ", "Error compiling function: user_function:2:"),
    ("#!lua name=x\nredis.register_function('a-b', function() end)",
     "Error registering functions: ERR Library names can only contain letters"),
    ("#!lua name=x\nredis.register_function('a', function() end)\nredis.register_function('a', function() end)",
     "Error registering functions: ERR Function already exists in the library"),
    ("#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags={'bad'}}",
     "Error registering functions: ERR unknown flag given"),
    ("#!lua name=x\nredis.register_function{function_name='a'}",
     "Error registering functions: ERR redis.register_function must get a callback argument"),
    ("#!lua name=x\nredis.register_function{function_name='a', callback=function() end, foo=1}",
     "Error registering functions: ERR unknown argument given to redis.register_function"),
    ("#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags='no-writes'}",
     "Error registering functions: ERR flags argument to redis.register_function must be a table"),
    ("#!lua name=x\nredis.register_function('a')",
     "Error registering functions: ERR calling redis.register_function with a single argument is only "
     "applicable to Lua table (representing named arguments)."),
    ("#!lua name=x\nredis.register_function('a', 'b')",
     "Error registering functions: ERR second argument to redis.register_function must be a function"),
    ("#!lua name=x\nredis.register_function('a', 'b', 'c')",
     "Error registering functions: ERR wrong number of arguments to redis.register_function"),
    ("#!lua name=x\nfoo = 1\nredis.register_function('a', function() end)",
     "Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
])
def test_load_errors(f, code, error):
    text = error_of(f, "FUNCTION", "LOAD", code)
    assert text.startswith(error), text
    assert f.function_list() == []


def test_load_exists_replace_and_function_clash(f):
    f.function_load(SETTER)
    assert error_of(f, "FUNCTION", "LOAD", SETTER) == "Library 'setter' already exists"
    replaced = lib_code("setter", "redis.register_function('set_it', function() return 'new' end)")
    assert f.function_load(replaced, replace=True) == b"setter"
    assert f.fcall("set_it", 0) == b"new"
    assert error_of(f, "FCALL", "get_it", "0") == "Function not found"  # gone with the old code
    clash = lib_code("other", "redis.register_function('set_it', function() end)")
    assert error_of(f, "FUNCTION", "LOAD", clash) == "Function set_it already exists"
    assert error_of(f, "FUNCTION", "LOAD", "REPLACE", clash) == "Function set_it already exists"
    assert error_of(f, "FUNCTION", "LOAD", "nope", clash) == "Unknown option given: nope"
    assert error_of(f, "FUNCTION", "LOAD") == "wrong number of arguments for 'function|load' command"


def test_fcall_errors(f):
    f.function_load(SETTER)
    assert error_of(f, "FCALL", "nope", "0") == "Function not found"
    assert error_of(f, "FCALL", "set_it", "x") == "Bad number of keys provided"
    assert error_of(f, "FCALL", "set_it", "-1") == "Number of keys can't be negative"
    assert error_of(f, "FCALL", "set_it", "2", "k") == "Number of keys can't be greater than number of args"
    assert error_of(f, "FCALL", "set_it") == "wrong number of arguments for 'fcall' command"


def test_function_runtime_errors_name_the_function(f):
    f.function_load(lib_code("errs", "redis.register_function('bad_cmd', function() return redis.call('nosuch') end)\n"
                                     "redis.register_function('raises', function() error('boom') end)"))
    assert error_of(f, "FCALL", "bad_cmd", "0") == \
        "Unknown Redis command called from script script: bad_cmd, on @user_function:2."
    assert error_of(f, "FCALL", "raises", "0") == "user_function:3: boom script: raises, on @user_function:3."


def test_functions_see_no_keys_argv_globals_and_scripts_cannot_manage_them(f):
    f.function_load(lib_code("globs", "redis.register_function('globs', function() return KEYS end)"))
    f.eval("return 1", 1, "stale")  # an EVAL before leaves no KEYS behind for functions
    text = error_of(f, "FCALL", "globs", "1", "k")
    assert "Script attempted to access nonexistent global variable 'KEYS'" in text, text
    for cmd in ("'FUNCTION', 'FLUSH'", "'FCALL', 'globs', 0"):
        text = error_of(f, "EVAL", "return redis.call(%s)" % cmd, "0")
        assert text.startswith("This Redis command is not allowed from script"), text
    assert len(f.function_list()) == 1


def test_fcall_ro_rules(f):
    f.function_load(SETTER)
    f.function_load(lib_code("ro", "redis.register_function{function_name='ro_writes', flags={'no-writes'}, "
                                   "callback=function(keys) return redis.call('SET', keys[1], 'x') end}"))
    assert error_of(f, "FCALL_RO", "set_it", "1", "k", "v") == \
        "Can not execute a script with write flag using *_ro command."
    assert f.exists("k") == 0
    text = error_of(f, "FCALL", "ro_writes", "1", "k")
    assert text.startswith("Write commands are not allowed from read-only scripts."), text
    text = error_of(f, "FCALL_RO", "ro_writes", "1", "k")
    assert text.startswith("Write commands are not allowed from read-only scripts."), text
    assert f.exists("k") == 0


def test_function_list_shape_and_filters(f):
    f.function_load(SETTER)
    f.function_load(ECHO)
    libs = {as_dict(lib)["library_name"]: as_dict(lib) for lib in f.execute_command("FUNCTION", "LIST")}
    assert sorted(libs) == [b"echo", b"setter"]
    setter = libs[b"setter"]
    assert sorted(setter) == ["engine", "functions", "library_name"]
    assert setter["engine"] == b"LUA"
    fns = {as_dict(fn)["name"]: as_dict(fn) for fn in setter["functions"]}
    assert fns[b"set_it"] == {"name": b"set_it", "description": None, "flags": []}
    assert fns[b"get_it"] == {"name": b"get_it", "description": b"reads a key", "flags": [b"no-writes"]}
    only = f.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "set*", "WITHCODE")
    assert len(only) == 1
    assert as_dict(only[0])["library_code"] == SETTER.encode()
    assert f.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "zz*") == []
    assert error_of(f, "FUNCTION", "LIST", "foo") == "Unknown argument foo"
    assert error_of(f, "FUNCTION", "LIST", "LIBRARYNAME") == "library name argument was not given"
    assert error_of(f, "FUNCTION", "LIST", "WITHCODE", "WITHCODE") == "Unknown argument WITHCODE"
    assert error_of(f, "FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b") == "Unknown argument LIBRARYNAME"


def test_function_list_resp3(f, c):
    f.function_load(SETTER)
    c.call("HELLO", "3")
    [lib] = c.call("FUNCTION", "LIST", "LIBRARYNAME", "setter")
    assert lib[b"library_name"] == b"setter"
    fns = {fn[b"name"]: fn for fn in lib[b"functions"]}
    assert fns[b"get_it"][b"flags"] == ["no-writes"]
    assert fns[b"set_it"][b"description"] is None
    stats = c.call("FUNCTION", "STATS")
    assert stats[b"running_script"] is None
    assert stats[b"engines"] == {b"LUA": {b"libraries_count": 1, b"functions_count": 2}}


def test_delete_and_flush(f):
    f.function_load(SETTER)
    f.function_load(ECHO)
    assert f.execute_command("FUNCTION", "DELETE", "setter") == b"OK"
    assert error_of(f, "FCALL", "set_it", "0") == "Function not found"
    assert error_of(f, "FUNCTION", "DELETE", "setter") == "Library not found"
    assert error_of(f, "FUNCTION", "DELETE") == "wrong number of arguments for 'function|delete' command"
    assert f.fcall("echo_all", 0) == [[], []]
    assert error_of(f, "FUNCTION", "FLUSH", "bad") == "FUNCTION FLUSH only supports SYNC|ASYNC option"
    assert f.execute_command("FUNCTION", "FLUSH", "SYNC") == b"OK"
    assert f.function_list() == []
    f.function_load(ECHO)
    assert f.execute_command("FUNCTION", "FLUSH", "ASYNC") == b"OK"
    assert f.function_list() == []
    # FLUSHALL leaves the libraries alone
    f.function_load(ECHO)
    f.flushall()
    assert f.fcall("echo_all", 0) == [[], []]


def test_stats_kill_and_help(f):
    f.function_load(SETTER)
    f.function_load(ECHO)
    stats = as_dict(f.execute_command("FUNCTION", "STATS"))
    assert stats["running_script"] is None
    assert as_dict(as_dict(stats["engines"])["LUA"]) == {"libraries_count": 2, "functions_count": 3}
    assert error_of(f, "FUNCTION", "KILL") == "NOTBUSY No scripts in execution right now."
    assert f.execute_command("FUNCTION", "HELP")[0].startswith(b"FUNCTION <subcommand>")
    assert error_of(f, "FUNCTION", "nope") == "unknown subcommand 'nope'. Try FUNCTION HELP."


BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
SPIN = "local x = 0 while true do x = x + 1 end"


@pytest.fixture
def quick_busy(server):
    """busy-reply-threshold 200 ms while the test runs."""
    c = server.client()
    c.config_set("busy-reply-threshold", 200)
    yield
    c.config_set("busy-reply-threshold", 5000)
    c.close()


def run_in_thread(server, *command):
    """Runs a command that spins on a client of its own; returns the thread and its error list."""
    failure = []

    def run():
        cl = server.client(socket_timeout=60)
        try:
            failure.append(error_of(cl, *command))
        finally:
            cl.close()
    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.6)
    return t, failure


def test_function_kill_stops_a_running_function(f, server, quick_busy):
    f.function_load(lib_code("slow", "redis.register_function{function_name='spin', flags={'no-writes'}, "
                                     "callback=function() %s end}" % SPIN))
    t, failure = run_in_thread(server, "FCALL", "spin", "0")
    conn, reply = busy_connection(server)
    try:
        assert reply == RespError(BUSY_FUNCTION)
        running = as_dict(as_dict(conn.call("FUNCTION", "STATS"))["running_script"])
        assert running["name"] == b"spin"
        assert running["command"] == [b"FCALL", b"spin", b"0"]
        assert running["duration_ms"] >= 200
        assert conn.call("SCRIPT", "KILL") == RespError(BUSY_FUNCTION)  # SCRIPT KILL does not stop a function
        assert conn.call("FUNCTION", "KILL") == "OK"
    finally:
        conn.close()
        t.join(20)
    assert not t.is_alive()
    assert len(failure) == 1 and failure[0].startswith("Script killed by user with SCRIPT KILL..."), failure
    assert error_of(f, "FUNCTION", "KILL") == "NOTBUSY No scripts in execution right now."


def test_function_kill_does_not_stop_an_eval_script(f, server, quick_busy):
    t, failure = run_in_thread(server, "EVAL", SPIN, "0")
    conn, reply = busy_connection(server)
    try:
        assert reply == RespError(BUSY_EVAL)
        assert conn.call("FUNCTION", "KILL") == RespError(BUSY_EVAL)
        assert conn.call("SCRIPT", "KILL") == "OK"
    finally:
        conn.close()
        t.join(20)
    assert not t.is_alive()
    assert len(failure) == 1 and failure[0].startswith("Script killed by user with SCRIPT KILL..."), failure


def test_dump_restore(f):
    f.function_load(SETTER)
    f.function_load(ECHO)
    payload = f.function_dump()
    # the first library of the payload that is taken (Redis's payload order is its own)
    assert error_of(f, "FUNCTION", "RESTORE", payload) in ("Library echo already exists",
                                                           "Library setter already exists")
    assert error_of(f, "FUNCTION", "RESTORE", payload, "bad") == \
        "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    assert f.execute_command("FUNCTION", "RESTORE", payload, "REPLACE") == b"OK"
    f.function_flush()
    assert f.execute_command("FUNCTION", "RESTORE", payload) == b"OK"
    assert f.fcall("set_it", 1, "k", "v") == b"OK"
    assert sorted(as_dict(lib)["library_name"] for lib in f.function_list()) == [b"echo", b"setter"]
    # FLUSH drops the libraries the payload lacks
    f.function_delete("echo")
    single = f.function_dump()
    f.function_load(ECHO)
    f.function_load(lib_code("extra", "redis.register_function('extra_fn', function() return 1 end)"))
    assert f.execute_command("FUNCTION", "RESTORE", single, "FLUSH") == b"OK"
    assert [as_dict(lib)["library_name"] for lib in f.function_list()] == [b"setter"]
    # A function name another library has refuses the whole restore
    f.function_flush()
    f.function_load(lib_code("taken", "redis.register_function('set_it', function() return 1 end)"))
    assert error_of(f, "FUNCTION", "RESTORE", single) == "Function set_it already exists"
    assert [as_dict(lib)["library_name"] for lib in f.function_list()] == [b"taken"]


@pytest.mark.parametrize("payload", [b"", b"garbage", b"TKFN\x01", b"\xf5\xc3@\\"])
def test_restore_rejects_garbage(f, payload):
    assert error_of(f, "FUNCTION", "RESTORE", payload) == "DUMP payload version or checksum are wrong"
    assert f.function_list() == []


def test_function_load_in_multi(f):
    p = f.pipeline(transaction=True)
    p.function_load(ECHO)
    p.fcall("echo_all", 1, "k", "a")
    assert p.execute() == [b"echo", [[b"k"], [b"a"]]]


@tidekv_only
def test_restore_rejects_corrupted_tidekv_payload(f):
    f.function_load(SETTER)
    payload = bytearray(f.function_dump())
    for i in range(len(payload)):
        bad = bytes(payload[:i]) + bytes([payload[i] ^ 0x01]) + bytes(payload[i + 1:])
        assert error_of(f, "FUNCTION", "RESTORE", bad, "REPLACE") == "DUMP payload version or checksum are wrong"
    assert error_of(f, "FUNCTION", "RESTORE", bytes(payload[:-1])) == "DUMP payload version or checksum are wrong"


@tidekv_only
def test_libraries_survive_restart_and_kill9(make_server):
    s = make_server()
    cl = s.client()
    cl.function_load(SETTER)
    cl.function_load(ECHO)
    cl.function_load(lib_code("gone", "redis.register_function('gone_fn', function() return 1 end)"))
    cl.function_delete("gone")
    s.restart()
    cl = s.client()
    assert cl.fcall("set_it", 1, "k", "v") == b"OK"
    assert sorted(as_dict(lib)["library_name"] for lib in cl.function_list()) == [b"echo", b"setter"]
    cl.function_load(lib_code("setter", "redis.register_function('set_it', function() return 'v2' end)"),
                     replace=True)
    s.kill9()
    s.start()
    cl = s.client()
    assert cl.fcall("set_it", 0) == b"v2"
    assert sorted(as_dict(lib)["library_name"] for lib in cl.function_list()) == [b"echo", b"setter"]
    cl.function_flush()
    s.kill9()
    s.start()
    assert s.client().function_list() == []


@tidekv_only
def test_function_commands_in_change_stream(f):
    before = seq(f)
    f.function_load(ECHO)
    f.function_load(SETTER, replace=True)
    f.fcall("set_it", 1, "k", "v")
    f.function_delete("echo")
    f.function_flush()
    f.function_flush()  # nothing to flush: no change
    assert commands_after(f, before) == [
        [[b"FUNCTION", b"LOAD", b"REPLACE", ECHO.encode()]],
        [[b"FUNCTION", b"LOAD", b"REPLACE", SETTER.encode()]],
        [[b"SET", b"k", b"v"]],
        [[b"FUNCTION", b"DELETE", b"echo"]],
        [[b"FUNCTION", b"FLUSH"]],
    ]
    # RESTORE: the FLUSH its policy implies, then a LOAD REPLACE per library, in one batch
    f.function_load(ECHO)
    payload = f.function_dump()
    before = seq(f)
    f.function_restore(payload, "FLUSH")
    assert commands_after(f, before) == [
        [[b"FUNCTION", b"FLUSH"], [b"FUNCTION", b"LOAD", b"REPLACE", ECHO.encode()]],
    ]
    # Refused changes leave nothing
    f.function_flush()
    f.function_load(ECHO)
    before = seq(f)
    with pytest.raises(redis.ResponseError):
        f.function_load(ECHO)
    with pytest.raises(redis.ResponseError):
        f.function_delete("nope")
    assert commands_after(f, before) == []


@tidekv_only
def test_function_commands_pass_cdc_filters(f):
    before = seq(f)
    f.function_load(ECHO)
    f.set("other", "1")
    for opts in (["MATCH", "k*"], ["TYPE", "hash"], ["DB", "3"]):
        updates = poll_all(f, before, extra=opts)
        cmds = [c for u in updates for c in u["commands"]]
        assert [b"FUNCTION", b"LOAD", b"REPLACE", ECHO.encode()] in cmds, (opts, cmds)
        assert [b"SET", b"other", b"1"] not in cmds, (opts, cmds)


@tidekv_only
def test_functions_and_effects_replay_into_redis(server):
    cl = server.client()
    cl.function_flush()
    peer = RedisServer().start()
    try:
        start = seq(cl)
        # over RECORD_REF_MIN_BYTES: the change record refers to the stored code
        cl.function_load(lib_code("work", "-- " + "x" * 1000 + """
redis.register_function('work', function(keys, args)
  redis.call('SADD', keys[1], 'a', 'b', 'c', 'd')
  local m = redis.call('SPOP', keys[1])
  redis.call('RPUSH', keys[2], m)
  local t = redis.call('TIME')
  redis.call('SET', keys[3], t[1] .. '.' .. t[2])
  return redis.call('INCRBYFLOAT', keys[4], args[1])
end)"""))
        for i in range(5):
            cl.fcall("work", 4, "pool", "popped", "when", "flt", "0.%d" % (i + 1))
        cl.function_load(lib_code("extra", "redis.register_function('extra_fn', function() return 1 end)"))
        cl.function_delete("extra")
        updates = poll_all(cl, start)
        for u in updates:
            assert all(c[0] not in (b"FCALL", b"FCALL_RO") for c in u["commands"]), u
        with peer.conn() as pc:
            assert replay(pc, updates) == []
        theirs = peer.client()
        assert sorted(cl.smembers("pool")) == sorted(theirs.smembers("pool"))
        assert cl.lrange("popped", 0, -1) == theirs.lrange("popped", 0, -1)
        assert cl.get("when") == theirs.get("when")
        assert cl.get("flt") == theirs.get("flt")
        assert [as_dict(lib)["library_name"] for lib in theirs.function_list()] == [b"work"]
        assert theirs.fcall("work", 4, "p2", "l2", "w2", "f2", "1") == b"1"
    finally:
        cl.function_flush()
        cl.close()
        peer.stop()


@tidekv_only
def test_tidekv_cdc_applies_function_changes_to_redis(make_server):
    """tidekv-cdc applies each batch in MULTI/EXEC: FUNCTION LOAD REPLACE and DELETE run there too."""
    from test_tidekv_cdc import args_for, run_tool
    src = make_server()
    target = RedisServer(["--appendonly", "yes"]).start()
    try:
        rc, _, err = run_tool(*args_for(src, target, "--once"))  # the copy of nothing: then the stream
        assert rc == 0, err
        s = src.client()
        s.function_load(SETTER)
        s.function_load(ECHO)
        s.fcall("set_it", 1, "k", "v")
        s.function_delete("echo")
        rc, _, err = run_tool(*args_for(src, target, "--once"))
        assert rc == 0, err
        t = target.client()
        assert t.get("k") == b"v"
        assert [as_dict(lib)["library_name"] for lib in t.function_list()] == [b"setter"]
        assert t.fcall_ro("get_it", 1, "k") == b"v"
    finally:
        target.stop()
