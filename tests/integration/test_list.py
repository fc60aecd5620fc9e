"""List commands with Redis 7 semantics and error texts (checked against redis-server 7.0),
lists in the generic key commands, OBJECT ENCODING, persistence and transactions, and
(tidekv only) the change stream of list writes."""

import time

import pytest

from conftest import RespError, encode_command
from helpers import model_range, wrong_args
from stream_replay import batches_between, make_step, read_changes, replay, snapshot

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS = "ERR numkeys should be greater than 0"
COUNT_GT0 = "ERR count should be greater than 0"
NO_SUCH_KEY = "ERR no such key"
INDEX_RANGE = "ERR index out of range"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")


# ---------------------------------------------------------------- LPUSH / RPUSH / LPUSHX / RPUSHX

def test_lpush_rpush_order_and_length(r, c):
    assert c.call("RPUSH", "l", "a", "b", "c") == 3
    assert c.call("LPUSH", "l", "x", "y") == 5  # pushed one by one: y ends up first
    assert r.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b", b"c"]
    assert c.call("RPUSH", "l", "z") == 6
    assert r.llen("l") == 6
    assert r.lrange("l", 0, -1) == [b"y", b"x", b"a", b"b", b"c", b"z"]
    # duplicates and empty strings are kept
    assert c.call("LPUSH", "d", "a", "a", "", "a") == 4
    assert r.lrange("d", 0, -1) == [b"a", b"", b"a", b"a"]
    assert c.call_raw("RPUSH", "d", "q") == b":5\r\n"
    assert r.type("l") == b"list"
    assert c.call_raw("TYPE", "d") == b"+list\r\n"


def test_push_arity(c):
    for cmd in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        assert c.call(cmd, "l") == wrong_args(cmd.lower())
        assert c.call(cmd) == wrong_args(cmd.lower())
    assert c.call("EXISTS", "l") == 0


def test_pushx_only_on_existing_lists(r, c):
    assert c.call("LPUSHX", "l", "a") == 0
    assert c.call("RPUSHX", "l", "a", "b") == 0
    assert r.exists("l") == 0
    r.rpush("l", "m")
    assert c.call("LPUSHX", "l", "a", "b") == 3
    assert c.call("RPUSHX", "l", "y", "z") == 5
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"m", b"y", b"z"]
    r.set("s", "v")
    assert c.call("LPUSHX", "s", "a") == WRONGTYPE
    assert c.call("RPUSHX", "s", "a") == WRONGTYPE
    assert r.get("s") == b"v"


# ---------------------------------------------------------------- LPOP / RPOP

def test_lpop_rpop_single(r, c):
    r.rpush("l", "a", "b", "c", "d")
    assert c.call("LPOP", "l") == b"a"
    assert c.call("RPOP", "l") == b"d"
    assert r.lrange("l", 0, -1) == [b"b", b"c"]
    assert c.call_raw("LPOP", "nokey") == b"$-1\r\n"
    assert c.call_raw("RPOP", "nokey") == b"$-1\r\n"


def test_pop_with_count(r, c):
    r.rpush("l", *"abcdefg")
    assert c.call("LPOP", "l", "2") == [b"a", b"b"]
    assert c.call("RPOP", "l", "2") == [b"g", b"f"]  # from the tail, in pop order
    assert c.call("LPOP", "l", "1") == [b"c"]  # a count always gives an array
    assert r.lrange("l", 0, -1) == [b"d", b"e"]
    assert r.lpop("l", 1) == [b"d"]
    # a count larger than the list pops everything and deletes the key
    assert c.call("RPOP", "l", "10") == [b"e"]
    assert r.exists("l") == 0
    r.rpush("m", "1", "2", "3")
    assert c.call("LPOP", "m", "3") == [b"1", b"2", b"3"]
    assert r.exists("m") == 0


def test_pop_count_zero_missing_key_and_errors(r, c):
    r.rpush("l", "a", "b")
    assert c.call_raw("LPOP", "l", "0") == b"*0\r\n"
    assert c.call_raw("RPOP", "l", "0") == b"*0\r\n"
    # a missing key with a count is a null array (not an empty one)
    assert c.call_raw("LPOP", "nokey", "0") == b"*-1\r\n"
    assert c.call_raw("LPOP", "nokey", "2") == b"*-1\r\n"
    assert c.call_raw("RPOP", "nokey", "2") == b"*-1\r\n"
    assert c.call("LPOP", "l", "-1") == NOT_POSITIVE
    assert c.call("RPOP", "l", "-5") == NOT_POSITIVE
    assert c.call("LPOP", "l", "abc") == NOT_POSITIVE
    assert c.call("LPOP", "l", "1", "2") == wrong_args("lpop")
    assert c.call("RPOP") == wrong_args("rpop")
    assert r.lrange("l", 0, -1) == [b"a", b"b"]


def test_list_emptied_by_pops_disappears(r, c):
    r.rpush("l", "a", "b")
    assert r.lpop("l") == b"a"
    assert r.exists("l") == 1
    assert r.rpop("l") == b"b"
    assert r.exists("l") == 0
    assert c.call_raw("TYPE", "l") == b"+none\r\n"
    assert r.llen("l") == 0
    assert r.dbsize() == 0
    # the name can hold any type now; a new list starts empty
    r.set("l", "string")
    assert r.get("l") == b"string"
    r.delete("l")
    assert r.rpush("l", "new") == 1
    assert r.lrange("l", 0, -1) == [b"new"]


def test_recreated_list_does_not_see_old_items(r):
    r.rpush("l", "a", "b", "c")
    r.delete("l")
    assert r.lpush("l", "x") == 1
    assert r.lrange("l", 0, -1) == [b"x"]
    assert r.lindex("l", 1) is None
    assert r.llen("l") == 1
    # emptied by LTRIM, then pushed again
    r.rpush("l", "y", "z")
    r.ltrim("l", 5, 10)
    assert r.exists("l") == 0
    r.rpush("l", "q")
    assert r.lrange("l", 0, -1) == [b"q"]
    assert r.lindex("l", -1) == b"q"


# ---------------------------------------------------------------- LLEN / LINDEX / LRANGE

def test_llen_lindex(r, c):
    assert r.llen("nokey") == 0
    r.rpush("l", "a", "b", "c", "d")
    assert r.llen("l") == 4
    assert c.call("LINDEX", "l", "0") == b"a"
    assert c.call("LINDEX", "l", "3") == b"d"
    assert c.call("LINDEX", "l", "-1") == b"d"
    assert c.call("LINDEX", "l", "-4") == b"a"
    assert c.call_raw("LINDEX", "l", "4") == b"$-1\r\n"
    assert c.call_raw("LINDEX", "l", "-5") == b"$-1\r\n"
    assert c.call_raw("LINDEX", "l", "1000000") == b"$-1\r\n"
    assert c.call_raw("LINDEX", "nokey", "0") == b"$-1\r\n"
    assert c.call("LINDEX", "l", "abc") == NOT_INT
    assert c.call("LINDEX", "l", "1.5") == NOT_INT
    assert c.call("LINDEX", "l") == wrong_args("lindex")
    assert c.call("LLEN", "l", "m") == wrong_args("llen")


def test_lrange_every_index_combination(r, c):
    items = [b"i%d" % i for i in range(5)]
    r.rpush("l", *items)
    for start in range(-7, 8):
        for stop in range(-7, 8):
            assert c.call("LRANGE", "l", str(start), str(stop)) == model_range(items, start, stop), \
                (start, stop)
    assert c.call("LRANGE", "l", "-100", "100") == items
    assert c.call("LRANGE", "l", "0", "9223372036854775807") == items
    assert c.call("LRANGE", "l", "-9223372036854775808", "0") == items[:1]
    assert c.call_raw("LRANGE", "l", "3", "1") == b"*0\r\n"
    assert c.call_raw("LRANGE", "nokey", "0", "-1") == b"*0\r\n"
    assert c.call("LRANGE", "l", "a", "1") == NOT_INT
    assert c.call("LRANGE", "l", "0", "x") == NOT_INT
    assert c.call("LRANGE", "l", "0") == wrong_args("lrange")


# ---------------------------------------------------------------- LSET

def test_lset(r, c):
    r.rpush("l", "a", "b", "c")
    assert c.call_raw("LSET", "l", "0", "A") == b"+OK\r\n"
    assert c.call("LSET", "l", "-1", "C") == "OK"
    assert c.call("LSET", "l", "1", "") == "OK"
    assert r.lrange("l", 0, -1) == [b"A", b"", b"C"]
    assert c.call("LSET", "l", "3", "x") == INDEX_RANGE
    assert c.call("LSET", "l", "-4", "x") == INDEX_RANGE
    assert c.call("LSET", "nokey", "0", "x") == NO_SUCH_KEY
    assert c.call("LSET", "l", "abc", "x") == NOT_INT
    assert c.call("LSET", "l", "0") == wrong_args("lset")
    assert r.lrange("l", 0, -1) == [b"A", b"", b"C"]
    assert r.exists("nokey") == 0


# ---------------------------------------------------------------- LINSERT

def test_linsert(r, c):
    r.rpush("l", "a", "b", "c", "b")
    assert c.call("LINSERT", "l", "BEFORE", "b", "x") == 5  # the first matching pivot
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"b", b"c", b"b"]
    assert c.call("LINSERT", "l", "AFTER", "b", "y") == 6
    assert r.lrange("l", 0, -1) == [b"a", b"x", b"b", b"y", b"c", b"b"]
    assert c.call("LINSERT", "l", "after", "b", "z") == 7  # case-insensitive
    assert c.call("LINSERT", "l", "BEFORE", "a", "first") == 8
    assert c.call("LINSERT", "l", "AFTER", "c", "last?") == 9
    assert r.lrange("l", 0, -1) == [b"first", b"a", b"x", b"b", b"z", b"y", b"c", b"last?", b"b"]
    assert r.linsert("l", "AFTER", "b", "end") == 10
    assert r.lindex("l", 4) == b"end"
    # pivot missing: -1; key missing: 0 (and nothing is created)
    assert c.call("LINSERT", "l", "BEFORE", "nope", "x") == -1
    assert c.call("LINSERT", "nokey", "BEFORE", "a", "x") == 0
    assert r.exists("nokey") == 0
    assert r.llen("l") == 10
    assert c.call("LINSERT", "l", "MIDDLE", "a", "x") == SYNTAX
    assert c.call("LINSERT", "l", "BEFORE", "a") == wrong_args("linsert")


# ---------------------------------------------------------------- LREM

def test_lrem_counts(r, c):
    r.rpush("l", *"abcabcab")
    assert c.call("LREM", "l", "2", "a") == 2  # the first two from the head
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"b", b"c", b"a", b"b"]
    assert c.call("LREM", "l", "-2", "b") == 2  # the last two from the tail
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"c", b"a"]
    assert c.call("LREM", "l", "0", "c") == 2  # all of them
    assert r.lrange("l", 0, -1) == [b"b", b"a"]
    assert c.call("LREM", "l", "100", "b") == 1
    assert c.call("LREM", "l", "0", "zz") == 0
    assert c.call("LREM", "nokey", "0", "a") == 0
    assert c.call("LREM", "l", "abc", "a") == NOT_INT
    assert c.call("LREM", "l", "1") == wrong_args("lrem")
    assert r.lrange("l", 0, -1) == [b"a"]
    # removing the last item deletes the key
    assert c.call("LREM", "l", "-1", "a") == 1
    assert r.exists("l") == 0


# ---------------------------------------------------------------- LTRIM

def test_ltrim_every_index_combination(r, c):
    items = [b"i%d" % i for i in range(5)]
    for start in range(-7, 8):
        for stop in range(-7, 8):
            r.delete("l")
            r.rpush("l", *items)
            assert c.call_raw("LTRIM", "l", str(start), str(stop)) == b"+OK\r\n"
            expected = model_range(items, start, stop)
            assert r.lrange("l", 0, -1) == expected, (start, stop)
            assert r.exists("l") == (1 if expected else 0), (start, stop)


def test_ltrim_errors_and_missing_key(r, c):
    assert c.call("LTRIM", "nokey", "0", "1") == "OK"
    assert r.exists("nokey") == 0
    r.rpush("l", "a", "b", "c")
    assert c.call("LTRIM", "l", "a", "1") == NOT_INT
    assert c.call("LTRIM", "l", "0") == wrong_args("ltrim")
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert c.call("LTRIM", "l", "1", "-1") == "OK"
    assert r.lrange("l", 0, -1) == [b"b", b"c"]
    # emptying the list deletes the key
    assert c.call("LTRIM", "l", "1", "0") == "OK"
    assert r.exists("l") == 0
    assert c.call_raw("TYPE", "l") == b"+none\r\n"


# ---------------------------------------------------------------- LPOS

def test_lpos(r, c):
    r.rpush("l", *"abcabca")  # a at 0, 3, 6
    assert c.call("LPOS", "l", "a") == 0
    assert c.call("LPOS", "l", "c") == 2
    assert c.call_raw("LPOS", "l", "zz") == b"$-1\r\n"
    assert c.call_raw("LPOS", "nokey", "a") == b"$-1\r\n"
    assert c.call("LPOS", "l", "a", "RANK", "2") == 3
    assert c.call("LPOS", "l", "a", "RANK", "3") == 6
    assert c.call_raw("LPOS", "l", "a", "RANK", "4") == b"$-1\r\n"
    assert c.call("LPOS", "l", "a", "RANK", "-1") == 6  # negative rank searches from the tail
    assert c.call("LPOS", "l", "a", "RANK", "-3") == 0
    assert c.call_raw("LPOS", "l", "a", "RANK", "-4") == b"$-1\r\n"
    assert c.call("LPOS", "l", "a", "RANK", "1", "RANK", "2") == 3  # the last option wins
    assert r.lpos("l", "b") == 1
    assert r.lpos("l", "a", rank=-2) == 3


def test_lpos_count_and_maxlen(r, c):
    r.rpush("l", *"abcabca")
    assert c.call("LPOS", "l", "a", "COUNT", "0") == [0, 3, 6]  # 0 means all
    assert c.call("LPOS", "l", "a", "COUNT", "2") == [0, 3]
    assert c.call("LPOS", "l", "a", "COUNT", "100") == [0, 3, 6]
    assert c.call("LPOS", "l", "a", "COUNT", "1") == [0]
    assert c.call("LPOS", "l", "a", "COUNT", "2", "RANK", "2") == [3, 6]
    assert c.call("LPOS", "l", "a", "COUNT", "0", "RANK", "-1") == [6, 3, 0]
    assert c.call("LPOS", "l", "a", "RANK", "-2", "COUNT", "5") == [3, 0]
    assert c.call_raw("LPOS", "l", "zz", "COUNT", "0") == b"*0\r\n"
    assert c.call_raw("LPOS", "nokey", "a", "COUNT", "2") == b"*0\r\n"
    # MAXLEN bounds the number of items compared
    assert c.call("LPOS", "l", "a", "MAXLEN", "3") == 0
    assert c.call("LPOS", "l", "a", "MAXLEN", "3", "COUNT", "0") == [0]
    assert c.call("LPOS", "l", "a", "MAXLEN", "4", "COUNT", "0") == [0, 3]
    assert c.call_raw("LPOS", "l", "c", "MAXLEN", "2") == b"$-1\r\n"
    assert c.call("LPOS", "l", "a", "RANK", "-1", "MAXLEN", "2", "COUNT", "0") == [6]
    assert c.call("LPOS", "l", "a", "MAXLEN", "0", "COUNT", "0") == [0, 3, 6]  # 0 = no limit
    assert r.lpos("l", "a", count=0, maxlen=4) == [0, 3]


def test_lpos_errors(r, c):
    r.rpush("l", "a", "b")
    assert c.call("LPOS", "l", "a", "RANK", "0") == RANK_ZERO
    assert c.call("LPOS", "l", "a", "COUNT", "-1") == "ERR COUNT can't be negative"
    assert c.call("LPOS", "l", "a", "MAXLEN", "-1") == "ERR MAXLEN can't be negative"
    assert c.call("LPOS", "l", "a", "RANK", "abc") == NOT_INT
    assert c.call("LPOS", "l", "a", "RANK") == SYNTAX
    assert c.call("LPOS", "l", "a", "FOO", "1") == SYNTAX
    assert c.call("LPOS", "l", "a", "FOO") == SYNTAX
    assert c.call("LPOS", "l") == wrong_args("lpos")


# ---------------------------------------------------------------- LMOVE / RPOPLPUSH

@pytest.mark.parametrize("wherefrom,whereto,moved,src,dst", [
    ("LEFT", "LEFT", b"a", [b"b", b"c"], [b"a", b"x", b"y"]),
    ("LEFT", "RIGHT", b"a", [b"b", b"c"], [b"x", b"y", b"a"]),
    ("RIGHT", "LEFT", b"c", [b"a", b"b"], [b"c", b"x", b"y"]),
    ("RIGHT", "RIGHT", b"c", [b"a", b"b"], [b"x", b"y", b"c"]),
])
def test_lmove_directions(r, c, wherefrom, whereto, moved, src, dst):
    r.rpush("src", "a", "b", "c")
    r.rpush("dst", "x", "y")
    assert c.call("LMOVE", "src", "dst", wherefrom, whereto) == moved
    assert r.lrange("src", 0, -1) == src
    assert r.lrange("dst", 0, -1) == dst


def test_lmove_same_list_rotates(r, c):
    r.rpush("l", "a", "b", "c")
    assert c.call("LMOVE", "l", "l", "LEFT", "RIGHT") == b"a"
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a"]
    assert c.call("LMOVE", "l", "l", "RIGHT", "LEFT") == b"a"
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert c.call("LMOVE", "l", "l", "LEFT", "LEFT") == b"a"
    assert c.call("LMOVE", "l", "l", "right", "right") == b"c"
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert c.call("RPOPLPUSH", "l", "l") == b"c"
    assert r.lrange("l", 0, -1) == [b"c", b"a", b"b"]
    r.rpush("one", "x")
    assert c.call("LMOVE", "one", "one", "LEFT", "RIGHT") == b"x"
    assert r.lrange("one", 0, -1) == [b"x"]


def test_lmove_creates_destination_and_deletes_empty_source(r, c):
    r.rpush("src", "a", "b")
    assert c.call("LMOVE", "src", "new", "LEFT", "LEFT") == b"a"
    assert r.type("new") == b"list"
    assert r.lrange("new", 0, -1) == [b"a"]
    assert c.call("LMOVE", "src", "new", "RIGHT", "RIGHT") == b"b"
    assert r.exists("src") == 0
    assert r.lrange("new", 0, -1) == [b"a", b"b"]
    assert c.call_raw("LMOVE", "src", "new", "LEFT", "RIGHT") == b"$-1\r\n"
    assert r.lmove("new", "other", "RIGHT", "LEFT") == b"b"
    assert r.lrange("other", 0, -1) == [b"b"]


def test_lmove_errors_and_wrongtype(r, c):
    r.rpush("l", "a", "b", "c")
    r.set("str", "v")
    assert c.call("LMOVE", "l", "m", "UP", "LEFT") == SYNTAX
    assert c.call("LMOVE", "l", "m", "LEFT", "DOWN") == SYNTAX
    assert c.call("LMOVE", "l", "m", "LEFT") == wrong_args("lmove")
    assert c.call("LMOVE", "l", "str", "LEFT", "RIGHT") == WRONGTYPE
    assert c.call("LMOVE", "str", "l", "LEFT", "RIGHT") == WRONGTYPE
    assert c.call("RPOPLPUSH", "l", "str") == WRONGTYPE
    assert c.call("RPOPLPUSH", "str", "l") == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]  # nothing was popped
    assert r.get("str") == b"v"
    # a missing source answers nil before the destination type is looked at
    assert c.call_raw("LMOVE", "nokey", "str", "LEFT", "RIGHT") == b"$-1\r\n"
    assert c.call_raw("RPOPLPUSH", "nokey", "str") == b"$-1\r\n"
    assert c.call("RPOPLPUSH", "l") == wrong_args("rpoplpush")


def test_rpoplpush(r, c):
    r.rpush("src", "a", "b", "c")
    r.rpush("dst", "x")
    assert c.call("RPOPLPUSH", "src", "dst") == b"c"
    assert c.call("RPOPLPUSH", "src", "dst") == b"b"
    assert r.lrange("src", 0, -1) == [b"a"]
    assert r.lrange("dst", 0, -1) == [b"b", b"c", b"x"]
    assert r.rpoplpush("src", "dst") == b"a"
    assert r.exists("src") == 0
    assert c.call_raw("RPOPLPUSH", "src", "dst") == b"$-1\r\n"
    assert r.lrange("dst", 0, -1) == [b"a", b"b", b"c", b"x"]


# ---------------------------------------------------------------- LMPOP

def test_lmpop(r, c):
    r.rpush("a", "1", "2", "3")
    r.rpush("b", "x", "y")
    assert c.call("LMPOP", "1", "a", "LEFT") == [b"a", [b"1"]]
    assert c.call("LMPOP", "1", "a", "RIGHT") == [b"a", [b"3"]]
    # the first non-empty key is used
    assert c.call("LMPOP", "3", "nokey", "b", "a", "RIGHT", "COUNT", "5") == [b"b", [b"y", b"x"]]
    assert r.exists("b") == 0
    assert c.call("LMPOP", "2", "b", "a", "left", "count", "1") == [b"a", [b"2"]]
    assert r.exists("a") == 0
    assert c.call_raw("LMPOP", "2", "a", "b", "LEFT") == b"*-1\r\n"
    r.rpush("c", *"abcdef")
    assert c.call("LMPOP", "1", "c", "LEFT", "COUNT", "4") == [b"c", [b"a", b"b", b"c", b"d"]]
    assert r.lrange("c", 0, -1) == [b"e", b"f"]


def test_lmpop_errors(r, c):
    r.rpush("l", "a")
    assert c.call("LMPOP", "0", "l", "LEFT") == NUMKEYS
    assert c.call("LMPOP", "-1", "l", "LEFT") == NUMKEYS
    assert c.call("LMPOP", "abc", "l", "LEFT") == NUMKEYS
    assert c.call("LMPOP", "2", "l", "LEFT") == SYNTAX  # numkeys larger than the keys given
    assert c.call("LMPOP", "1", "l", "MIDDLE") == SYNTAX
    assert c.call("LMPOP", "1", "l", "LEFT", "COUNT", "0") == COUNT_GT0
    assert c.call("LMPOP", "1", "l", "LEFT", "COUNT", "-1") == COUNT_GT0
    assert c.call("LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "2") == SYNTAX
    assert c.call("LMPOP", "1", "l", "LEFT", "FOO") == SYNTAX
    assert c.call("LMPOP", "1", "l") == wrong_args("lmpop")
    assert r.lrange("l", 0, -1) == [b"a"]
    r.zadd("z", {"m": 1})
    assert c.call("LMPOP", "2", "z", "l", "LEFT") == WRONGTYPE
    assert c.call("LMPOP", "2", "nokey", "z", "LEFT") == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"a"]


# ---------------------------------------------------------------- binary safety / size

def test_binary_items(r, c):
    key = b"list\x00\xff\r\n"
    items = [b"\x00", b"\xff\xfe", b"", b"line\r\nbreak", bytes(range(256)), b"\x00"]
    assert r.rpush(key, *items) == 6
    assert r.lrange(key, 0, -1) == items
    assert r.lindex(key, 4) == bytes(range(256))
    assert r.lpos(key, b"\x00", count=0) == [0, 5]
    assert r.lrem(key, 0, b"\x00") == 2
    assert r.lrange(key, 0, -1) == items[1:5]
    assert r.linsert(key, "BEFORE", b"", b"\r\n") == 5
    assert r.lrange(key, 0, 2) == [b"\xff\xfe", b"\r\n", b""]
    # a list key that is a prefix of another list key keeps its own items
    r.rpush(b"k", b"1")
    r.rpush(b"k\x00", b"2")
    r.rpush(b"kk", b"3")
    assert r.lrange(b"k", 0, -1) == [b"1"]
    assert r.lrange(b"k\x00", 0, -1) == [b"2"]
    assert r.lrange(b"kk", 0, -1) == [b"3"]


def test_large_list_100000_items(r, c):
    n = 100_000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        pipe.rpush("big", *[b"item:%d" % j for j in range(i, i + 1000)])
    assert pipe.execute() == list(range(1000, n + 1, 1000))
    assert r.llen("big") == n
    assert r.lindex("big", 0) == b"item:0"
    assert r.lindex("big", -1) == b"item:99999"
    assert r.lindex("big", n // 2) == b"item:50000"
    assert r.lindex("big", -n) == b"item:0"
    assert r.lindex("big", n) is None
    assert r.lrange("big", 50000, 50099) == [b"item:%d" % j for j in range(50000, 50100)]
    assert r.lrange("big", -100, -1) == [b"item:%d" % j for j in range(n - 100, n)]
    assert c.call("LPOS", "big", "item:99990") == 99990
    assert r.lset("big", 70000, "changed") is True
    assert r.lindex("big", 70000) == b"changed"
    # pushes and pops at both ends of a long list
    assert r.lpush("big", "head") == n + 1
    assert r.lindex("big", 50001) == b"item:50000"
    assert r.lpop("big", 3) == [b"head", b"item:0", b"item:1"]
    assert r.rpop("big", 2) == [b"item:99999", b"item:99998"]
    assert r.llen("big") == n - 4
    assert r.lindex("big", 0) == b"item:2"
    assert r.lindex("big", -1) == b"item:99997"
    assert r.delete("big") == 1
    assert r.exists("big") == 0


# ---------------------------------------------------------------- OBJECT ENCODING

def test_object_encoding_each_type(r, c):
    r.set("str", "abc")
    r.set("num", "12")
    r.rpush("list", "a", "b")
    r.sadd("set", "a")
    r.hset("hash", "f", "v")
    r.zadd("zset", {"m": 1})
    for key in ("str", "num", "list", "set", "hash", "zset"):
        rep = c.call("OBJECT", "ENCODING", key)
        assert isinstance(rep, bytes) and not isinstance(rep, RespError), (key, rep)
        assert len(rep) > 0, key
        raw = c.call_raw("OBJECT", "ENCODING", key)
        assert raw.startswith(b"$"), (key, raw)
    assert r.object("encoding", "list")  # redis-py helper
    assert c.call_raw("OBJECT", "ENCODING", "nokey") == b"$-1\r\n"
    assert c.call("OBJECT", "ENCODING") == wrong_args("object|encoding")
    assert c.call("OBJECT", "ENCODING", "list", "extra") == wrong_args("object|encoding")
    assert c.call("OBJECT") == wrong_args("object")


# ---------------------------------------------------------------- wrong type

LIST_COMMANDS = [
    ("LPUSH", "k", "a"),
    ("RPUSH", "k", "a"),
    ("LPUSHX", "k", "a"),
    ("RPUSHX", "k", "a"),
    ("LPOP", "k"),
    ("RPOP", "k"),
    ("LPOP", "k", "2"),
    ("RPOP", "k", "0"),
    ("LLEN", "k"),
    ("LINDEX", "k", "0"),
    ("LRANGE", "k", "0", "-1"),
    ("LSET", "k", "0", "x"),
    ("LINSERT", "k", "BEFORE", "a", "x"),
    ("LREM", "k", "0", "a"),
    ("LTRIM", "k", "0", "1"),
    ("LPOS", "k", "a"),
    ("LMOVE", "k", "list", "LEFT", "RIGHT"),
    ("LMOVE", "list", "k", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "k", "list"),
    ("RPOPLPUSH", "list", "k"),
    ("LMPOP", "1", "k", "LEFT"),
    ("LMPOP", "2", "nokey", "k", "RIGHT"),
    ("BLPOP", "k", "0"),
    ("BRPOP", "nokey", "k", "0"),
    ("BLMOVE", "k", "list", "LEFT", "LEFT", "0"),
    ("BRPOPLPUSH", "list", "k", "0"),
    ("BLMPOP", "0", "1", "k", "LEFT"),
]


@pytest.mark.parametrize("cmd", LIST_COMMANDS, ids=lambda c: " ".join(c))
def test_list_commands_on_a_string_key(r, c, cmd):
    r.set("k", "string value")
    r.rpush("list", "a", "b")
    assert c.call(*cmd) == WRONGTYPE
    assert r.get("k") == b"string value"
    assert r.lrange("list", 0, -1) == [b"a", b"b"]


@pytest.mark.parametrize("cmd", LIST_COMMANDS, ids=lambda c: " ".join(c))
def test_list_commands_on_a_zset_key(r, c, cmd):
    r.zadd("k", {"a": 1})
    r.rpush("list", "a", "b")
    assert c.call(*cmd) == WRONGTYPE
    assert r.zrange("k", 0, -1, withscores=True) == [(b"a", 1.0)]
    assert r.lrange("list", 0, -1) == [b"a", b"b"]


@pytest.mark.parametrize("cmd", [
    ("GET", "l"), ("APPEND", "l", "x"), ("INCR", "l"), ("STRLEN", "l"), ("GETDEL", "l"),
    ("SETRANGE", "l", "0", "x"), ("HSET", "l", "f", "v"), ("HGETALL", "l"), ("SADD", "l", "m"),
    ("SMEMBERS", "l"), ("SCARD", "l"), ("ZADD", "l", "1", "m"), ("ZRANGE", "l", "0", "-1"),
    ("ZCARD", "l"), ("ZSCORE", "l", "a"), ("ZPOPMIN", "l"), ("ZINCRBY", "l", "1", "a"),
], ids=lambda c: " ".join(c))
def test_other_commands_on_a_list_key(r, c, cmd):
    r.rpush("l", "a", "b")
    assert c.call(*cmd) == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"a", b"b"]


def test_set_overwrites_a_list_and_mget_is_nil(r):
    r.rpush("l", "a", "b")
    assert r.mget("l") == [None]
    assert r.set("l", "now a string") is True
    assert r.type("l") == b"string"
    assert r.get("l") == b"now a string"
    r.delete("l")
    assert r.rpush("l", "x") == 1
    assert r.lrange("l", 0, -1) == [b"x"]


# ---------------------------------------------------------------- generic key commands

def test_type_del_unlink_exists(r, c):
    r.rpush("l1", "a")
    r.rpush("l2", "a", "b")
    assert c.call_raw("TYPE", "l1") == b"+list\r\n"
    assert r.exists("l1", "l2", "nokey") == 2
    assert r.delete("l1", "nokey") == 1
    assert r.unlink("l2") == 1
    assert r.exists("l1", "l2") == 0
    assert r.lrange("l2", 0, -1) == []
    assert r.dbsize() == 0


def test_expire_ttl_and_expiry(r, c):
    r.rpush("l", "a", "b", "c")
    r.rpush("keep", "x")
    assert r.ttl("l") == -1
    assert r.expire("l", 100) is True
    # item writes keep the TTL
    r.rpush("l", "d")
    r.lpop("l")
    r.lset("l", 0, "B")
    r.linsert("l", "AFTER", "B", "x")
    r.lrem("l", 0, "x")
    r.ltrim("l", 0, 10)
    r.lmove("l", "l", "LEFT", "RIGHT")
    assert 98 <= r.ttl("l") <= 100
    assert r.lrange("l", 0, -1) == [b"c", b"d", b"B"]
    assert r.persist("l") is True
    assert r.ttl("l") == -1
    assert r.pexpire("l", 80) is True
    time.sleep(0.25)
    assert r.exists("l") == 0
    assert c.call_raw("TYPE", "l") == b"+none\r\n"
    assert r.lrange("l", 0, -1) == []
    assert r.llen("l") == 0
    assert r.lindex("l", 0) is None
    assert r.lpop("l") is None
    assert r.keys("*") == [b"keep"]
    # a list created after expiry starts empty and has no TTL
    assert r.rpush("l", "new") == 1
    assert r.lrange("l", 0, -1) == [b"new"]
    assert r.ttl("l") == -1


def test_lmove_into_an_expired_list_starts_fresh(r):
    r.rpush("src", "a")
    r.rpush("dst", "old1", "old2")
    r.pexpire("dst", 50)
    time.sleep(0.2)
    assert r.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert r.lrange("dst", 0, -1) == [b"a"]
    assert r.ttl("dst") == -1


def test_lmove_keeps_destination_ttl(r):
    r.rpush("src", "a", "b")
    r.rpush("dst", "x")
    r.expire("dst", 1000)
    r.expire("src", 2000)
    assert r.lmove("src", "dst", "LEFT", "LEFT") == b"a"
    assert 990 <= r.ttl("dst") <= 1000
    assert 1990 <= r.ttl("src") <= 2000


def test_rename_list(r):
    r.rpush("src", "a", "b", "c")
    r.expire("src", 1000)
    assert r.rename("src", "dst") is True
    assert r.exists("src") == 0
    assert r.lrange("dst", 0, -1) == [b"a", b"b", b"c"]
    assert 990 <= r.ttl("dst") <= 1000
    # over an existing list, a string and a zset: replaced completely
    r.rpush("other", "x", "y", "z", "w")
    assert r.rename("dst", "other") is True
    assert r.lrange("other", 0, -1) == [b"a", b"b", b"c"]
    assert r.llen("other") == 3
    r.set("str", "v")
    r.rename("other", "str")
    assert r.type("str") == b"list"
    r.zadd("zs", {"m": 1})
    r.rename("str", "zs")
    assert r.type("zs") == b"list"
    assert r.lrange("zs", 0, -1) == [b"a", b"b", b"c"]
    # the old name starts fresh
    r.rpush("src", "new")
    assert r.lrange("src", 0, -1) == [b"new"]
    assert r.renamenx("src", "zs") is False
    assert r.renamenx("src", "fresh") is True
    assert r.lrange("fresh", 0, -1) == [b"new"]


def test_copy_list(r, server):
    r.rpush("src", "a", b"\x00\xff", "c")
    r.pexpire("src", 900_000)
    assert r.copy("src", "dst") is True
    assert r.lrange("dst", 0, -1) == [b"a", b"\x00\xff", b"c"]
    assert r.execute_command("PEXPIRETIME", "dst") == r.execute_command("PEXPIRETIME", "src")
    # the copy is independent of the source
    r.rpush("dst", "only-in-copy")
    r.lpop("src")
    r.lset("src", 0, "changed")
    assert r.lrange("src", 0, -1) == [b"changed", b"c"]
    assert r.lrange("dst", 0, -1) == [b"a", b"\x00\xff", b"c", b"only-in-copy"]
    r.rpush("other", "z")
    assert r.copy("src", "other") is False
    assert r.lrange("other", 0, -1) == [b"z"]
    assert r.copy("src", "other", replace=True) is True
    assert r.lrange("other", 0, -1) == [b"changed", b"c"]
    assert r.copy("src", "src", destination_db=5) is True
    r5 = server.client(db=5)
    try:
        assert r5.lrange("src", 0, -1) == [b"changed", b"c"]
        assert r5.ttl("src") > 0
    finally:
        r5.close()


def test_scan_type_list(r):
    r.set("str", "v")
    r.zadd("zs", {"a": 1})
    for i in range(20):
        r.rpush("list:%d" % i, "x")
    assert sorted(r.scan_iter(_type="list", count=5)) == sorted(b"list:%d" % i for i in range(20))
    assert sorted(r.scan_iter(_type="zset")) == [b"zs"]
    assert sorted(r.scan_iter(match="list:1*", _type="list")) == sorted(
        [b"list:1"] + [b"list:1%d" % i for i in range(10)])
    assert list(r.scan_iter(match="list:*", _type="string")) == []


def test_lists_survive_restart(make_server):
    s = make_server()
    cl = s.client()
    cl.rpush("small", "a", "b", "c", "d", "e")
    cl.lpop("small")
    cl.rpop("small")
    cl.lset("small", 0, "B")
    cl.linsert("small", "AFTER", "B", "ins")
    cl.rpush(b"bin\x00", b"\x00\xff", b"")
    cl.rpush("ttl", "x")
    cl.expire("ttl", 1000)
    cl.rpush("big", *[b"i%d" % i for i in range(5000)])
    cl.ltrim("big", 100, 4899)
    cl.lpush("big", "front")
    cl.rpush("rot", "1", "2", "3")
    cl.lmove("rot", "rot", "LEFT", "RIGHT")
    cl.rpush("rem", "x", "y", "x", "y")
    cl.lrem("rem", 0, "x")
    cl.rpush("gone", "a")
    cl.lpop("gone")
    cl.rpush("short", "a")
    cl.pexpire("short", 200)
    cl.zadd("z", {"m": 1.5})
    r2 = s.client(db=2)
    r2.rpush("in-db2", "yes")
    r2.close()
    cl.close()

    assert s.stop() == 0, s.log()
    time.sleep(0.3)
    s.start()

    cl = s.client()
    try:
        assert cl.lrange("small", 0, -1) == [b"B", b"ins", b"c", b"d"]
        assert cl.lrange(b"bin\x00", 0, -1) == [b"\x00\xff", b""]
        assert cl.lrange("ttl", 0, -1) == [b"x"]
        assert 990 <= cl.ttl("ttl") <= 1000
        assert cl.llen("big") == 4801
        assert cl.lrange("big", 0, 2) == [b"front", b"i100", b"i101"]
        assert cl.lindex("big", -1) == b"i4899"
        assert cl.lrange("rot", 0, -1) == [b"2", b"3", b"1"]
        assert cl.lrange("rem", 0, -1) == [b"y", b"y"]
        assert cl.exists("gone", "short") == 0
        assert cl.type("small") == b"list"
        assert cl.zscore("z", "m") == 1.5
        r2 = s.client(db=2)
        assert r2.lrange("in-db2", 0, -1) == [b"yes"]
        r2.close()
        # pushes and pops continue at the right ends
        assert cl.lpush("small", "first") == 5
        assert cl.rpush("small", "last") == 6
        assert cl.lrange("small", 0, -1) == [b"first", b"B", b"ins", b"c", b"d", b"last"]
    finally:
        cl.close()


# ---------------------------------------------------------------- transactions

def test_multi_exec_list_and_zset(r, c):
    r.rpush("l", "a", "b")
    assert c.call("MULTI") == "OK"
    for cmd in (("RPUSH", "l", "c", "d"), ("LPOP", "l"), ("ZADD", "z", "1", "x", "2", "y"),
                ("LMOVE", "l", "m", "RIGHT", "LEFT"), ("ZINCRBY", "z", "5", "x"), ("LRANGE", "l", "0", "-1"),
                ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("LLEN", "m"), ("RPOP", "l", "5"), ("EXISTS", "l")):
        assert c.call(*cmd) == "QUEUED"
    rep = c.call("EXEC")
    assert rep == [4, b"a", 2, b"d", b"6", [b"b", b"c"], [b"y", b"2", b"x", b"6"], 1, [b"c", b"b"], 0]
    assert r.lrange("m", 0, -1) == [b"d"]
    # a WRONGTYPE inside EXEC fails alone
    assert c.call("MULTI") == "OK"
    c.call("LPUSH", "z", "x")
    c.call("RPUSH", "n", "1")
    c.call("ZADD", "m", "1", "a")
    rep = c.call("EXEC")
    assert isinstance(rep[0], RespError) and rep[0] == WRONGTYPE
    assert rep[1] == 1
    assert isinstance(rep[2], RespError) and rep[2] == WRONGTYPE
    # a queue-time error aborts everything
    assert c.call("MULTI") == "OK"
    assert c.call("RPUSH", "q", "x") == "QUEUED"
    assert c.call("RPUSH", "q") == wrong_args("rpush")
    assert c.call("EXEC") == "EXECABORT Transaction discarded because of previous errors."
    assert r.exists("q") == 0


def test_redis_py_transaction_pipeline(r):
    pipe = r.pipeline(transaction=True)
    pipe.rpush("l", "a", "b", "c")
    pipe.lrem("l", 1, "b")
    pipe.linsert("l", "BEFORE", "c", "B")
    pipe.lrange("l", 0, -1)
    pipe.zadd("z", {"m": 2, "n": 1})
    pipe.zrange("z", 0, -1)
    assert pipe.execute() == [3, 1, 3, [b"a", b"B", b"c"], 2, [b"n", b"m"]]


def test_watch_list_key(r, server):
    r.rpush("l", "a")
    with server.conn() as t:
        assert t.call("WATCH", "l") == "OK"
        r.lpop("l")  # touched by another client (and deleted)
        t.call("MULTI")
        t.call("RPUSH", "l", "mine")
        assert t.call("EXEC") is None
    assert r.exists("l") == 0


# ---------------------------------------------------------------- change stream (tidekv only)

@pytest.mark.tidekv_only
def test_change_stream_of_list_writes_replays_identically(make_server):
    src = make_server()
    cl = src.client()
    step, seqs = make_step(cl)

    step("rpush", lambda: cl.rpush("l", *"abcdefghij"))
    step("lpush", lambda: cl.lpush("l", "x", "y"))
    step("lpushx-miss", lambda: cl.lpushx("nolist", "a"))
    assert step("lpop-count", lambda: cl.lpop("l", 3)) == [b"y", b"x", b"a"]
    assert step("rpop-count", lambda: cl.rpop("l", 2)) == [b"j", b"i"]
    assert step("lpop", lambda: cl.lpop("l")) == b"b"
    step("lset", lambda: cl.lset("l", 1, "D"))
    step("linsert", lambda: cl.linsert("l", "BEFORE", "D", "ins"))
    step("rpush-dups", lambda: cl.rpush("l", "c", "e", "c"))
    step("lrem", lambda: cl.lrem("l", -1, "c"))
    step("ltrim", lambda: cl.ltrim("l", 1, -2))
    step("lmove", lambda: cl.lmove("l", "l2", "LEFT", "RIGHT"))
    step("lmove-rotate", lambda: cl.lmove("l", "l", "RIGHT", "LEFT"))
    step("rpoplpush", lambda: cl.rpoplpush("l", "l2"))
    step("lmpop", lambda: cl.execute_command("LMPOP", 2, "nolist", "l", "RIGHT", "COUNT", 1))
    step("expire", lambda: cl.expire("l2", 5000))
    step("rpushx", lambda: cl.rpushx("l2", "tail"))
    cl.rpush("trim-all", "1", "2")
    step("ltrim-empty", lambda: cl.ltrim("trim-all", 5, 10))
    cl.rpush("pop-all", "1", "2")
    step("pop-all", lambda: cl.rpop("pop-all", 5))
    step("bin", lambda: cl.rpush(b"bin\x00\xff", b"\x00", b"", b"\r\n"))
    step("copy", lambda: cl.copy("l", "lcopy", destination_db=1))
    step("rename", lambda: cl.rename(b"bin\x00\xff", "renamed"))
    step("sort-store", lambda: cl.sort("l2", alpha=True, store="sorted"))
    step("reads", lambda: (cl.lrange("l", 0, -1), cl.lindex("l", 0), cl.llen("l"), cl.lpos("l", "e"),
                           cl.sort("l2", alpha=True), cl.lpop("nolist"), cl.lmove("nolist", "l", "LEFT", "LEFT")))

    # a blocking pop served by a push from another client
    with src.conn() as blocker:
        blocker.send(encode_command("BLPOP", "waitq", "0"))
        time.sleep(0.15)
        before = int(cl.execute_command("SEQUENCE"))
        assert cl.rpush("waitq", "w1", "w2") == 2
        assert blocker.read_reply() == [b"waitq", b"w1"]
        blocker.send(encode_command("BLMOVE", "waitq2", "l2", "LEFT", "LEFT", "0"))
        time.sleep(0.15)
        assert cl.lpush("waitq2", "m1") == 1
        assert blocker.read_reply() == b"m1"
        seqs["blocking"] = (before, int(cl.execute_command("SEQUENCE")))

    updates = read_changes(cl)
    assert updates, "nothing recorded"
    # reads and no-op writes record nothing; writes record something
    assert batches_between(updates, *seqs["reads"]) == []
    assert batches_between(updates, *seqs["lpushx-miss"]) == []
    for name in ("rpush", "lpush", "lpop-count", "rpop-count", "lpop", "lset", "linsert", "lrem", "ltrim",
                 "lmove", "lmove-rotate", "rpoplpush", "lmpop", "expire", "rpushx", "ltrim-empty", "pop-all",
                 "bin", "copy", "rename", "sort-store", "blocking"):
        assert batches_between(updates, *seqs[name]), name
    assert {u["db"] for u in updates} <= {0, 1}

    before = snapshot(src)
    assert before[(0, b"l")][1] == [b"c", b"D", b"e", b"f"]
    assert before[(0, b"l2")][0] == b"list"
    assert before[(0, b"l2")][1] == [b"m1", b"h", b"ins", b"tail"]
    assert before[(0, b"l2")][2] > 0
    assert before[(0, b"waitq")][1] == [b"w2"]
    assert before[(0, b"renamed")][1] == [b"\x00", b"", b"\r\n"]
    assert before[(0, b"sorted")][1] == [b"h", b"ins", b"tail"]
    assert before[(1, b"lcopy")][1] == before[(0, b"l")][1]
    assert (0, b"trim-all") not in before and (0, b"pop-all") not in before
    assert (0, b"waitq2") not in before

    dst = make_server()
    replay(updates, dst)
    assert snapshot(dst) == before
    cl.close()
