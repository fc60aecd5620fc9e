"""The libraries Redis bundles for scripts: cmsgpack and struct (exact bytes, round trips,
hostile input), and the protected library tables, which scripts read and walk as plain tables
(pairs, next, rawget) but cannot write.

Everything not marked tidekv_only also holds against redis-server 7.0
(TIDEKV_TEST_TARGET=redis)."""

import pytest

from conftest import RespError, tidekv_only

READONLY = "Attempt to modify a readonly table"

# hex(s): a string's bytes as lowercase hex, for exact comparisons.
HEX = ("local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end ")


def ev(c, body, *args):
    return c.call("EVAL", HEX + body, 0, *args)


def error_text(reply):
    """The message of a script's error reply, without Redis's ' script: <sha>, on …' tail."""
    assert isinstance(reply, RespError), reply
    return reply.split(" script: ")[0]


# ---- cmsgpack.pack: the exact bytes ----

@pytest.mark.parametrize("args,packed", [
    ("nil, true, false", "c0c3c2"),
    ("0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296",
     "00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000"),
    ("-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649",
     "ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffff"),
    ("2^53, -2^53, 2^63, -2^63, 2^64",
     "cf0020000000000000d3ffe0000000000000ca5f000000d38000000000000000ca5f800000"),
    ("0.5, 1.5, 0.1, -0.25, 1e300, 1/0, -1/0, 3.4028234663852886e+38, 1e39",
     "ca3f000000ca3fc00000cb3fb999999999999acabe800000cb7e37e43c8800759cca7f800000caff800000ca7f7fffffcb48078287f49c4a1d"),
    ("-0.0", "00"),
    ("'', 'a', string.rep('x', 31)", "a0a161bf" + "78" * 31),
    ("string.rep('x', 32)", "d920" + "78" * 32),
    ("{}", "90"),
    ("{1, 2, 3}, {a = 1}, {1, nil, 3}, {[1.5] = 1}, {[0] = 1}, {[2] = 2}",
     "93010203" "81a16101" "8201010303" "81ca3fc0000001" "810001" "810202"),
    ("{a = {1, {b = true}}}", "81a161920181a162c3"),
    # functions, coroutines and cjson.null pack as nil
    ("function() end, coroutine.create(function() end), cjson.null", "c0c0c0"),
])
def test_pack_gives_redis_bytes(c, args, packed):
    assert ev(c, "return hex(cmsgpack.pack(%s))" % args) == packed.encode()


@pytest.mark.parametrize("expr,prefix", [
    ("string.rep('x', 255)", "d9ff78"),
    ("string.rep('x', 256)", "da010078"),
    ("string.rep('x', 65536)", "db0001000078"),
    ("(function() local t = {} for i = 1, 16 do t[i] = i end return t end)()", "dc001001"),
    ("(function() local t = {} for i = 1, 65536 do t[i] = 0 end return t end)()", "dd0001000000"),
    ("(function() local t = {} for i = 1, 16 do t['k' .. i] = 1 end return t end)()", "de0010"),
])
def test_pack_length_formats(c, expr, prefix):
    assert ev(c, "return hex(cmsgpack.pack(%s)):sub(1, %d)" % (expr, len(prefix))) == prefix.encode()


def test_pack_stops_self_reference_16_levels_down(c):
    assert ev(c, "local t = {} t[1] = t return hex(cmsgpack.pack(t))") == b"91" * 16 + b"c0"
    assert ev(c, "local t = {} t.a = t return hex(cmsgpack.pack(t))") == b"81a161" * 16 + b"c0"


def test_pack_of_a_protected_library_packs_its_entries(c):
    # struct: a map of its three functions (nil values): 83, then "pack", "size", "unpack" and a c0 each
    assert ev(c, "local p = cmsgpack.pack(struct) return {hex(p:sub(1, 1)), #p}") == [b"83", 21]


def test_pack_needs_input(c):
    assert error_text(ev(c, "return cmsgpack.pack()")) == (
        "ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)")


# ---- cmsgpack.unpack ----

def test_round_trips_of_every_type(c):
    body = """
    local cases = {0, 1, -1, 127, -32, 200, -200, 70000, -70000, 2^40, -2^40, 2^53, 0.5, -1.25, 0.1, 1e300,
                   '', 'x', string.rep('y', 40), string.rep('z', 300), string.rep('w', 70000), '\\0\\1\\255'}
    for i, v in ipairs(cases) do
      local back = cmsgpack.unpack(cmsgpack.pack(v))
      if back ~= v then return 'changed: ' .. tostring(v) .. ' -> ' .. tostring(back) end
    end
    local a, b, c2, d = cmsgpack.unpack(cmsgpack.pack(true, false, nil, 7))
    if not (a == true and b == false and c2 == nil and d == 7) then return 'scalars' end
    local t = cmsgpack.unpack(cmsgpack.pack({list = {1, 'two', {3}}, map = {x = 1, [5] = 'five'}, yes = true}))
    if not (t.list[2] == 'two' and t.list[3][1] == 3 and t.map.x == 1 and t.map[5] == 'five' and t.yes) then
      return 'tables'
    end
    local big = {} for i = 1, 70000 do big[i] = i end
    local back = cmsgpack.unpack(cmsgpack.pack(big))
    if #back ~= 70000 or back[70000] ~= 70000 then return 'array 32' end
    return 'ok'
    """
    assert ev(c, body) == b"ok"
    assert ev(c, "return cjson.encode({cmsgpack.unpack(cmsgpack.pack({a = {1, 2, {b = true}}, c = 'x'}))})") == (
        b'[{"a":[1,2,{"b":true}],"c":"x"}]')


@pytest.mark.parametrize("packed,expected", [
    ("'\\202\\63\\128\\0\\0'", b"1"),                                   # float 32
    ("'\\203\\63\\185\\153\\153\\153\\153\\153\\154'", b"0.1"),         # float 64
    ("'\\204\\255'", b"255"),
    ("'\\205\\255\\255'", b"65535"),
    ("'\\206\\255\\255\\255\\255'", b"4294967295"),
    ("'\\207\\255\\255\\255\\255\\255\\255\\255\\255'", b"-1"),          # uint 64 reads as int 64
    ("'\\208\\128'", b"-128"),
    ("'\\210\\255\\255\\255\\255'", b"-1"),
    ("'\\211\\128\\0\\0\\0\\0\\0\\0\\0'", b"-9.2233720368548e+18"),
    ("'\\217\\3abc'", b"abc"),                                           # str 8
    ("'\\218\\0\\2ab'", b"ab"),                                          # str 16
    ("'\\219\\0\\0\\0\\1z'", b"z"),                                      # str 32
    ("'\\147\\1\\192\\3'", b"table 1"),                                  # a nil makes a hole
])
def test_unpack_formats(c, packed, expected):
    body = "local v = cmsgpack.unpack(%s) if type(v) == 'table' then return 'table ' .. #v end return tostring(v)"
    assert ev(c, body % packed) == expected


@pytest.mark.parametrize("data,error", [
    ("'\\146\\1'", "Missing bytes in input."),                 # an array one short
    ("'\\221\\255\\255\\255\\255'", "Missing bytes in input."),  # array 32 of 2^32-1, nothing after
    ("'\\223\\255\\255\\255\\255\\1'", "Missing bytes in input."),
    ("'\\219\\255\\255\\255\\255ab'", "Missing bytes in input."),  # str 32 far past the input
    ("'\\203\\1\\2'", "Missing bytes in input."),
    ("'\\205\\1'", "Missing bytes in input."),
    ("'\\193'", "Bad data format in input."),                  # never used
    ("'\\146\\193'", "Bad data format in input."),
    ("'\\196\\2ab'", "Bad data format in input."),             # bin: not in Redis's cmsgpack
    ("'\\199\\1\\1x'", "Bad data format in input."),           # ext
    ("'\\212\\1x'", "Bad data format in input."),              # fixext
])
def test_unpack_of_truncated_or_garbage_input_is_an_error(c, data, error):
    assert error_text(ev(c, "return cmsgpack.unpack(%s)" % data)) == "ERR user_script:1: " + error
    assert ev(c, "return {pcall(cmsgpack.unpack, %s)}" % data) == [None, error.encode()]


def test_unpack_of_nil_or_nan_map_key_is_an_error(c):
    assert error_text(ev(c, "return cmsgpack.unpack('\\129\\192\\1')")) == "ERR table index is nil"
    assert error_text(ev(c, "return cmsgpack.unpack('\\129\\203\\255\\248\\0\\0\\0\\0\\0\\0\\1')")) == (
        "ERR table index is NaN")


def test_unpack_of_deep_nesting(c):
    assert ev(c, "return type(cmsgpack.unpack(string.rep('\\145', 3000) .. '\\1'))") == b"table"
    err = ev(c, "return cmsgpack.unpack(string.rep('\\145', 100000) .. '\\1')")
    assert isinstance(err, RespError), err
    assert ev(c, "return redis.call('PING')") == "PONG"


@tidekv_only
def test_unpack_nesting_limit_text(c):
    assert error_text(ev(c, "return cmsgpack.unpack(string.rep('\\145', 3001) .. '\\1')")) == (
        "ERR user_script:1: MessagePack input nested too deep (more than 3000 levels)")


def test_unpack_of_too_many_values(c):
    assert ev(c, "return select('#', cmsgpack.unpack(string.rep('\\0', 7000)))") == 7000
    assert error_text(ev(c, "return cmsgpack.unpack(string.rep('\\0', 10000))")) == (
        "ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit "
        "instead.)")


@pytest.mark.parametrize("call,expected", [
    ("cmsgpack.unpack('')", []),
    ("cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))", [1, 1]),
    ("cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)", [-1, 3]),
    ("cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)", [-1]),
    ("cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)", [2, 1, 2]),
    ("cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)", [1, 2, 3]),
    ("cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)", [1]),
    ("cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)", [-1, 2, 3]),
    ("cmsgpack.unpack(1)", [49]),
])
def test_unpack_one_and_limit(c, call, expected):
    assert ev(c, "return {%s}" % call) == expected


@pytest.mark.parametrize("call,error", [
    ("cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)", "Start offset 4 greater than input length 3."),
    ("cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)", "Invalid request to unpack with offset of -1 and limit of 3."),
    ("cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)", "Invalid request to unpack with offset of 0 and limit of 3."),
    ("cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))", "bad argument #2 to 'unpack_limit' (number expected, got no value)"),
    ("cmsgpack.unpack()", "bad argument #1 to 'unpack' (string expected, got no value)"),
])
def test_unpack_argument_errors(c, call, error):
    assert error_text(ev(c, "return {%s}" % call)) == "ERR user_script:1: " + error


def test_cmsgpack_table_fields(c):
    body = "local t = {} for k in pairs(cmsgpack) do t[#t + 1] = k end table.sort(t) return t"
    assert ev(c, body) == [b"_COPYRIGHT", b"_DESCRIPTION", b"_NAME", b"_VERSION", b"pack", b"unpack",
                           b"unpack_limit", b"unpack_one"]
    assert ev(c, "return cmsgpack._VERSION") == b"lua-cmsgpack 0.4.0"


# ---- struct ----

@pytest.mark.parametrize("call,packed", [
    ("'b', -1", "ff"), ("'B', 255", "ff"), ("'h', -2", "feff"), ("'>h', 258", "0102"), ("'<H', 258", "0201"),
    ("'l', -3", "fdffffffffffffff"), ("'L', 3", "0300000000000000"), ("'T', 5", "0500000000000000"),
    ("'i', -1", "ffffffff"), ("'>I', 1", "00000001"), ("'i1', 5", "05"), ("'>i3', 65537", "010001"),
    ("'<i10', -1", "ffffffffffffffff0000"), ("'>I16', 7", "00" * 15 + "07"), ("'i0', 5", ""),
    ("'f', 1.5", "0000c03f"), ("'>f', 1.5", "3fc00000"), ("'d', 0.1", "9a9999999999b93f"),
    ("'>d', 0.1", "3fb999999999999a"),
    ("'s', 'ab'", "616200"), ("'s', 'a\\0b'", "61006200"), ("'c3', 'abcd'", "616263"),
    ("'c0', 'hello'", "68656c6c6f"), ("'c', 'xy'", "78"), ("'x'", "00"), ("'bxb', 1, 2", "010002"),
    ("'!bi', 1, 2", "0100000002000000"), ("'!4bd', 1, 2", "010000000000000000000040"),
    ("'!2bi', 1, 2", "010002000000"), ("'!bh', 1, 2", "01000200"), ("'! b d', 1, 2", "01" + "00" * 13 + "0040"),
    ("'!i3', 1", "0000010000"), ("'!bi3', 1, 2", "010000020000"),
    ("'i', '12'", "0c000000"), ("'B', 256", "00"), ("'b', 200", "c8"), ("'i', 2^32 + 5", "05000000"),
    ("'i', 1.7", "01000000"), ("'i', -1.7", "ffffffff"),
    ("'>i8', 2^63", "8000000000000000"), ("'>I8', 2^64 + 4096", "0000000000000000"),
    ("'>i8', -2^63", "8000000000000000"),
])
def test_struct_pack_gives_redis_bytes(c, call, packed):
    assert ev(c, "return hex(struct.pack(%s))" % call) == packed.encode()


@pytest.mark.parametrize("call,expected", [
    ("'b', '\\255'", [-1, 2]), ("'B', '\\255'", [255, 2]), ("'>h', '\\255\\254'", [-2, 3]),
    ("'<H', '\\255\\254'", [65279, 3]), ("'<i3', '\\255\\255\\255'", [-1, 4]),
    ("'<I3', '\\255\\255\\255'", [16777215, 4]), ("'<i10', string.rep('\\255', 10)", [-1, 11]),
    ("'<i10', '\\1\\0\\0\\0\\0\\0\\0\\0\\0\\1'", [1, 11]), ("'<i0', 'a'", [0, 1]),
    ("'s', 'ab\\0cd'", [b"ab", 4]), ("'bc0', '\\3abcd'", [b"abc", 5]), ("'c2', 'abcd'", [b"ab", 3]),
    ("'bxb', '\\1\\2\\3'", [1, 3, 4]), ("'b', '\\1\\2\\3', 2", [2, 3]), ("'b', '\\1\\2\\3', 3", [3, 4]),
    ("'', '\\1\\2\\3', 10", [10]), ("'!bi', '\\1\\0\\0\\0\\2\\0\\0\\0'", [1, 2, 9]),
    ("'>i', '\\0\\0\\0\\1', 1", [1, 5]),
])
def test_struct_unpack(c, call, expected):
    assert ev(c, "return {struct.unpack(%s)}" % call) == expected


def test_struct_round_trips_and_size(c):
    assert ev(c, "return {tostring(struct.unpack('f', struct.pack('f', 1.5))), "
                 "tostring(struct.unpack('>d', struct.pack('>d', 0.1))), "
                 "tostring(struct.unpack('<i8', '\\0\\0\\0\\0\\0\\0\\0\\128')), "
                 "tostring(struct.unpack('<I8', string.rep('\\255', 8)))}") == [
        b"1.5", b"0.1", b"-9.2233720368548e+18", b"1.844674407371e+19"]
    assert ev(c, "return {struct.size('bhilfdT'), struct.size('!bhilfdT'), struct.size('c10x'), struct.size(''), "
                 "struct.size('!4bd'), struct.size('!')}") == [35, 40, 11, 0, 12, 0]


@pytest.mark.parametrize("call,error", [
    ("struct.pack('!3i', 1)", "alignment 3 is not a power of 2"),
    ("struct.size('!0')", "alignment 0 is not a power of 2"),
    ("struct.pack('c5', 'abc')", "bad argument #3 to 'pack' (string too short)"),
    ("struct.pack('i33', 1)", "integral size 33 is larger than limit of 32"),
    ("struct.size('i40')", "integral size 40 is larger than limit of 32"),
    ("struct.pack('i99999999999', 1)", "integral size overflow"),
    ("struct.pack('y', 1)", "bad argument #1 to 'pack' (invalid format option 'y')"),
    ("struct.unpack('y', 'a')", "bad argument #1 to 'unpack' (invalid format option 'y')"),
    ("struct.pack('i')", "bad argument #2 to 'pack' (number expected, got nil)"),
    ("struct.pack('i', 'x')", "bad argument #2 to 'pack' (number expected, got string)"),
    ("struct.unpack('s', 'abcd')", "unfinished string in data"),
    ("struct.unpack('c0', '3abcd')", "format 'c0' needs a previous size"),
    ("struct.unpack('bc0', '\\9abcd')", "bad argument #2 to 'unpack' (data string too short)"),
    ("struct.unpack('c2', 'a')", "bad argument #2 to 'unpack' (data string too short)"),
    ("struct.unpack('i', 'abc')", "bad argument #2 to 'unpack' (data string too short)"),
    ("struct.unpack('b', '\\1\\2\\3', 4)", "bad argument #2 to 'unpack' (data string too short)"),
    ("struct.unpack('b', '\\1\\2\\3', 0)", "bad argument #3 to 'unpack' (offset must be 1 or greater)"),
    ("struct.unpack('!bi', '\\1\\0\\0\\0\\2\\0\\0')", "bad argument #2 to 'unpack' (data string too short)"),
    ("struct.unpack('b')", "bad argument #2 to 'unpack' (string expected, got no value)"),
    ("struct.unpack(string.rep('b', 9000), string.rep('\\1', 9000))", "stack overflow (too many results)"),
    ("struct.size('s')", "bad argument #1 to 'size' (option 's' has no fixed size)"),
    ("struct.size('bc0')", "bad argument #1 to 'size' (option 'c0' has no fixed size)"),
])
def test_struct_errors(c, call, error):
    assert error_text(ev(c, "return {%s}" % call)) == "ERR user_script:1: " + error


# ---- the protected tables read as plain tables ----

def test_pairs_next_rawget_see_the_libraries(c):
    assert ev(c, "local t = {} for k in pairs(struct) do t[#t + 1] = k end table.sort(t) return t") == [
        b"pack", b"size", b"unpack"]
    assert ev(c, "local t = {} for k in pairs(bit) do t[#t + 1] = k end table.sort(t) return t") == [
        b"arshift", b"band", b"bnot", b"bor", b"bswap", b"bxor", b"lshift", b"rol", b"ror", b"rshift",
        b"tobit", b"tohex"]
    assert ev(c, "local n = 0 for k, v in pairs(redis) do n = n + 1 end return n > 20") == 1
    assert ev(c, "return tostring(next(redis) ~= nil)") == b"true"
    assert ev(c, "return tostring(redis.call == rawget(redis, 'call'))") == b"true"
    assert ev(c, "return type(rawget(redis, 'call')) .. type(rawget(_G, 'redis')) .. tostring(rawget(_G, 'nope'))") == (
        b"functiontablenil")
    assert ev(c, "local n = 0 table.foreach(math, function() n = n + 1 end) return n") == 31
    assert ev(c, "local n = 0 for _ in ipairs(redis) do n = n + 1 end return n + #redis") == 0
    assert ev(c, "local k, v = next(getmetatable('')) return {k, tostring(v == string)}") == [b"__index", b"true"]
    assert ev(c, "local t = {} for k, v in pairs(getmetatable(_G)) do t[#t + 1] = k .. '=' .. type(v) end "
                 "return t") == [b"__index=function"]
    assert ev(c, "return {type(_G), tostring(_G._G == _G), tostring(rawequal(_G, _G._G)), "
                 "tostring(getmetatable(redis)), type(getmetatable(getmetatable(_G)))}") == [
        b"table", b"true", b"true", b"nil", b"nil"]


def test_global_names_seen_by_pairs(c):
    body = "local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return table.concat(t, ' ')"
    names = set(ev(c, body).decode().split())
    # Redis 7.0 adds its error handler; tidekv has os.clock (Redis 7.2's os)
    names -= {"__redis__err__handler", "os"}
    assert names == set(
        "ARGV KEYS _G _VERSION assert bit cjson cmsgpack collectgarbage coroutine error gcinfo getmetatable ipairs "
        "load loadstring math next pairs pcall rawequal rawget rawset redis select setmetatable string struct table "
        "tonumber tostring type unpack xpcall".split())


@pytest.mark.parametrize("body,error", [
    ("redis.x = 1", "ERR user_script:1: " + READONLY),
    ("redis.call = nil", "ERR user_script:1: " + READONLY),
    ("cmsgpack.pack = nil", "ERR user_script:1: " + READONLY),
    ("struct.x = 1", "ERR user_script:1: " + READONLY),
    ("coroutine.x = 1", "ERR user_script:1: " + READONLY),
    ("x = 1", "ERR user_script:1: " + READONLY),
    ("_G.foo = 1", "ERR user_script:1: " + READONLY),
    ("KEYS = {}", "ERR user_script:1: " + READONLY),
    ("getmetatable('').__index = 1", "ERR user_script:1: " + READONLY),
    ("getmetatable(_G).__index = nil", "ERR user_script:1: " + READONLY),
    ("rawset(redis, 'x', 1)", "ERR " + READONLY),
    ("rawset(cmsgpack, 'pack', 1)", "ERR " + READONLY),
    ("table.insert(string, 'x')", "ERR " + READONLY),
    ("rawset(getmetatable(''), '__index', 1)", "ERR " + READONLY),
    ("setmetatable(redis, {})", "ERR " + READONLY),
    ("setmetatable(_G, {})", "ERR " + READONLY),
    ("setmetatable(getmetatable(''), {})", "ERR " + READONLY),
    ("return nope", "ERR user_script:1: Script attempted to access nonexistent global variable 'nope'"),
])
def test_writes_are_still_refused(c, body, error):
    assert error_text(ev(c, body)) == error


@pytest.mark.parametrize("body,error", [
    ("return next()", "bad argument #1 to 'next' (table expected, got no value)"),
    ("return rawget(1, 2)", "bad argument #1 to 'rawget' (table expected, got number)"),
    ("return rawget(redis)", "bad argument #2 to 'rawget' (value expected)"),
    ("return pairs(nil)", "bad argument #1 to 'pairs' (table expected, got nil)"),
    ("return ipairs(nil)", "bad argument #1 to 'ipairs' (table expected, got nil)"),
    ("return setmetatable(1, {})", "bad argument #1 to 'setmetatable' (table expected, got number)"),
    ("return setmetatable({}, 1)", "bad argument #2 to 'setmetatable' (nil or table expected)"),
    ("return getmetatable()", "bad argument #1 to 'getmetatable' (value expected)"),
    ("return table.foreach(redis)", "bad argument #2 to 'foreach' (function expected, got no value)"),
    ("setmetatable(setmetatable({}, {__metatable = 1}), {})", "cannot change a protected metatable"),
])
def test_readers_keep_lua_argument_errors(c, body, error):
    assert error_text(ev(c, body)) == "ERR user_script:1: " + error


def test_readers_on_plain_tables_are_lua_s(c):
    assert ev(c, "local t = setmetatable({}, {__metatable = 'x'}) return getmetatable(t)") == b"x"
    assert ev(c, "local mt = {} local t = setmetatable({}, mt) return tostring(getmetatable(t) == mt)") == b"true"
    assert ev(c, "local t = {1, 2, 3, x = 4} local n = 0 for k, v in pairs(t) do n = n + v end "
                 "for i, v in ipairs(t) do n = n + v end return {n, rawget(t, 'x'), next({})}") == [16, 4]


def test_walking_every_reachable_table_finds_nothing_writable_but_keys_and_argv(make_server):
    """Walks every table a script can reach through pairs and getmetatable, trying to write into
    each: only the script's own KEYS and ARGV take a write, and the next script finds every
    library as it was."""
    walk = """
    local seen, writable = {}, {}
    local function try(t, path)
      if pcall(rawset, t, '__probe', 1) then writable[#writable + 1] = path end
      if pcall(function() t.__probe2 = 1 end) then writable[#writable + 1] = path .. '=' end
      if pcall(setmetatable, t, {__index = function() return 'pwned' end}) then writable[#writable + 1] = path .. '<mt>' end
    end
    local function walk(t, path)
      if seen[t] then return end
      seen[t] = true
      local mt = getmetatable(t)
      if type(mt) == 'table' then walk(mt, path .. '<mt>') end
      for k, v in pairs(t) do if type(v) == 'table' then walk(v, path .. '.' .. tostring(k)) end end
      try(t, path)
    end
    walk(_G, '_G')
    walk(getmetatable(''), "getmetatable('')")
    table.sort(writable)
    return writable
    """
    s = make_server()
    with s.conn() as conn:
        assert conn.call("EVAL", walk, 0) == [b"_G.ARGV", b"_G.ARGV<mt>", b"_G.ARGV=", b"_G.KEYS", b"_G.KEYS<mt>",
                                              b"_G.KEYS="]
        check = ("local n = 0 for _, lib in ipairs({redis, cjson, bit, struct, cmsgpack, string, table, math, "
                 "coroutine}) do if rawget(lib, '__probe') ~= nil or lib.anything ~= nil then n = n + 1 end end "
                 "return {n, redis.call('PING').ok, cmsgpack.unpack(cmsgpack.pack(5)), tostring(rawget(_G, '__probe'))}")
        assert conn.call("EVAL", check, 0) == [0, b"PONG", 5, b"nil"]


def test_pairs_hands_out_the_view_not_the_table_behind(c):
    assert ev(c, "local f, s, k = pairs(redis) return {tostring(rawequal(s, redis)), tostring(k)}") == [
        b"true", b"nil"]
    assert ev(c, "local f, s, k = ipairs(struct) return {tostring(rawequal(s, struct)), k}") == [b"true", 0]
    # the iterator pairs gives is a function of its own, as in Lua 5.1
    assert ev(c, "return tostring(pairs({}) == next)") == b"false"
