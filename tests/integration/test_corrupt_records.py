"""Records that contradict themselves (forged here with APPLYBATCH; disk corruption or a bug
could leave the same): every reader answers a clear error for the key, never crashes, loops or
pads its reply, and DEL/UNLINK/FLUSHDB remove the key whatever it holds.

Sizes that lie are moderate (2^20) where a regression would pad the reply or loop by the
size, so that a regression fails the test instead of exhausting the machine's memory; the
connections have socket timeouts, so a hang fails too."""
import random
import struct

import pytest
import redis

from conftest import RespError, tidekv_only
from test_cdc_helpers import build_batch, parse_batch, poll_all, seq

pytestmark = tidekv_only

NS = b"\x0b__namespace"
DEFAULT_CF, META_CF, SCORE_CF = 0, 1, 2
TYPES = {"string": 1, "hash": 2, "list": 3, "set": 4, "zset": 5}
VERSION = 0x0005DEADBEEF0001
LIST_START = 0x7FFFFFFFFFFFFFFF
LYING_SIZE = 1 << 20
CORRUPT = "ERR corrupt value stored at key 'k', see the server log"


def compound_meta(kind, size, head=None, tail=None):
    value = struct.pack(">BQQQ", 0x80 | TYPES[kind], 0, VERSION, size)
    if kind == "list":
        value += struct.pack(">QQ", head, tail)
    return value


def subkey(sub, key=b"k"):
    return NS + struct.pack(">I", len(key)) + key + struct.pack(">Q", VERSION) + sub


def ordered_double(v):
    bits = struct.unpack(">Q", struct.pack(">d", v))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return struct.pack(">Q", bits)


def apply(c, records):
    return c.call("APPLYBATCH", build_batch([("PUT", cf, k, v) for cf, k, v in records]))


def forge_list(c, size, items=(b"a", b"b"), head=LIST_START, tail=None):
    """A list whose metadata says `size` items (head..tail) while `items` are stored from head."""
    tail = head + size if tail is None else tail
    recs = [(META_CF, NS + b"k", compound_meta("list", size, head, tail))]
    recs += [(DEFAULT_CF, subkey(struct.pack(">Q", head + i)), v) for i, v in enumerate(items)]
    assert apply(c, recs) > 0


def forge_members(c, kind, size, members=(b"m1", b"m2")):
    """A hash or set whose metadata says `size` members while `members` are stored."""
    recs = [(META_CF, NS + b"k", compound_meta(kind, size))]
    recs += [(DEFAULT_CF, subkey(m), b"v" if kind == "hash" else b"") for m in members]
    assert apply(c, recs) > 0


def forge_zset(c, size, members):
    """A zset of (member, stored score value, score for the index) entries."""
    recs = [(META_CF, NS + b"k", compound_meta("zset", size))]
    for m, value, score in members:
        recs.append((DEFAULT_CF, subkey(m), value))
        recs.append((SCORE_CF, subkey(ordered_double(score) + m), b""))
    assert apply(c, recs) > 0


def assert_removed_by(c, command):
    assert c.call(command, "k") == 1
    assert c.call("EXISTS", "k") == 0
    assert c.call("PING") == "PONG"


# ---- sizes that lie ----

@pytest.mark.parametrize("kind", ["list", "set", "zset"])
def test_sort_of_a_size_that_lies_is_an_error_not_an_abort(c, kind):
    if kind == "list":
        forge_list(c, 1 << 62)
    elif kind == "set":
        forge_members(c, "set", 1 << 62)
    else:
        forge_zset(c, 1 << 62, [(b"m1", ordered_double(1), 1), (b"m2", ordered_double(2), 2)])
    assert c.call("SORT", "k", "ALPHA") == CORRUPT
    assert c.call("SORT_RO", "k", "ALPHA", "STORE", "x") == "ERR syntax error"
    assert c.call("SORT", "k", "ALPHA", "STORE", "dst") == CORRUPT
    assert c.call("EXISTS", "dst") == 0
    assert_removed_by(c, "DEL")


@pytest.mark.parametrize("kind,command", [
    ("hash", "HGETALL"), ("hash", "HKEYS"), ("hash", "HVALS"), ("set", "SMEMBERS"),
])
@pytest.mark.parametrize("size", [LYING_SIZE, 1 << 62, 1])
def test_whole_reads_answer_an_error_instead_of_padding(c, kind, command, size):
    forge_members(c, kind, size)
    assert c.call(command, "k") == CORRUPT
    assert c.call("PING") == "PONG"
    assert_removed_by(c, "UNLINK")


@pytest.mark.parametrize("kind,command", [("hash", "HGETALL"), ("set", "SMEMBERS")])
def test_whole_reads_pad_nothing_in_resp3(server, kind, command):
    with server.conn() as c:
        assert isinstance(c.call("HELLO", 3), dict)
        forge_members(c, kind, LYING_SIZE)
        assert c.call(command, "k") == CORRUPT
        assert c.call("PING") == "PONG"


def test_lrange_answers_an_error_instead_of_padding(c):
    forge_list(c, LYING_SIZE)
    assert c.call("LLEN", "k") == LYING_SIZE  # what the metadata says, nothing to walk
    assert c.call("LRANGE", "k", 0, 1) == [b"a", b"b"]  # the items that are there read fine
    assert c.call("LRANGE", "k", 0, -1) == CORRUPT
    assert c.call("LRANGE", "k", 1, 2) == CORRUPT
    assert_removed_by(c, "DEL")


def test_lrange_finds_a_gap_in_the_middle(c):
    head = LIST_START
    recs = [(META_CF, NS + b"k", compound_meta("list", 3, head, head + 3)),
            (DEFAULT_CF, subkey(struct.pack(">Q", head)), b"a"),
            (DEFAULT_CF, subkey(struct.pack(">Q", head + 2)), b"c")]
    assert apply(c, recs) > 0
    assert c.call("LRANGE", "k", 0, -1) == CORRUPT
    assert c.call("LINDEX", "k", 1) == CORRUPT
    assert c.call("LINDEX", "k", 2) == b"c"
    assert c.call("LINDEX", "k", 3) is None


def test_ltrim_of_a_size_that_lies_ends(c):
    forge_list(c, LYING_SIZE)
    assert c.call("LTRIM", "k", 0, 0) == CORRUPT
    assert c.call("LTRIM", "k", 5, 1) == CORRUPT  # keeps nothing: everything is checked
    assert c.call("LLEN", "k") == LYING_SIZE       # nothing was changed
    assert_removed_by(c, "DEL")


def test_list_pops_of_a_size_that_lies_pop_nothing(c):
    forge_list(c, LYING_SIZE)
    assert c.call("LPOP", "k", 5) == CORRUPT
    assert c.call("RPOP", "k") == CORRUPT
    assert c.call("LMPOP", 1, "k", "LEFT", "COUNT", 3) == CORRUPT
    assert c.call("BLMPOP", 0, 1, "k", "RIGHT") == CORRUPT
    assert c.call("BRPOP", "k", 0) == CORRUPT
    assert c.call("RPOPLPUSH", "k", "dst") == CORRUPT
    assert c.call("BLMOVE", "k", "dst", "RIGHT", "LEFT", 0) == CORRUPT
    assert c.call("LLEN", "k") == LYING_SIZE
    assert c.call("EXISTS", "dst") == 0
    # from the left the items are there: a pop within them works
    assert c.call("LPOP", "k", 2) == [b"a", b"b"]
    assert c.call("LPOP", "k") == CORRUPT


def test_list_scans_of_a_size_that_lies_end(c):
    forge_list(c, LYING_SIZE)
    assert c.call("LREM", "k", 0, "zzz") == CORRUPT
    assert c.call("LREM", "k", -1, "a") == CORRUPT
    assert c.call("LREM", "k", 1, "a") == CORRUPT  # found at once, but the rest must move
    assert c.call("LPOS", "k", "zzz") == CORRUPT
    assert c.call("LPOS", "k", "a", "RANK", -1) == CORRUPT
    assert c.call("LPOS", "k", "b") == 1
    assert c.call("LINSERT", "k", "BEFORE", "zzz", "x") == CORRUPT
    assert c.call("LINSERT", "k", "AFTER", "a", "x") == LYING_SIZE + 1  # the short side moves
    assert c.call("LINDEX", "k", 100) == CORRUPT
    assert c.call("LLEN", "k") == LYING_SIZE + 1
    assert_removed_by(c, "DEL")


def test_a_list_whose_positions_disagree_with_its_size_is_corrupt(c):
    # size 2^62, head/tail of a two-item list: refused when decoded
    forge_list(c, 1 << 62, tail=LIST_START + 2)
    for command in (("LLEN", "k"), ("LRANGE", "k", 0, -1), ("LTRIM", "k", 0, 0), ("LPUSH", "k", "x"),
                    ("TYPE", "k"), ("GET", "k"), ("TTL", "k"), ("EXPIRE", "k", 100), ("RENAME", "k", "k2"),
                    ("COPY", "k", "k2"), ("OBJECT", "ENCODING", "k"), ("SORT", "k")):
        assert c.call(*command) == CORRUPT, command
    assert c.call("EXISTS", "k") == 1
    assert c.call("KEYS", "*") == [b"k"]  # so it can be found, and deleted
    assert c.call("SCAN", 0) == [b"0", [b"k"]]
    assert_removed_by(c, "DEL")


def test_random_picks_of_a_size_that_lies_end(c):
    forge_members(c, "set", LYING_SIZE)
    assert c.call("SRANDMEMBER", "k", 5) == CORRUPT
    assert c.call("SPOP", "k", 5) == CORRUPT
    assert c.call("SCARD", "k") == LYING_SIZE  # nothing was popped
    c.call("DEL", "k")
    forge_members(c, "hash", LYING_SIZE)
    assert c.call("HRANDFIELD", "k", 3, "WITHVALUES") == CORRUPT
    assert c.call("PING") == "PONG"


@pytest.mark.parametrize("kind", ["hash", "set", "list"])
def test_rename_and_copy_do_not_spread_a_size_that_lies(c, kind):
    if kind == "list":
        forge_list(c, LYING_SIZE)
    else:
        forge_members(c, kind, LYING_SIZE)
    assert c.call("RENAME", "k", "k2") == CORRUPT
    assert c.call("COPY", "k", "k2") == CORRUPT
    assert c.call("EXISTS", "k", "k2") == 1  # the key stays where it was, nothing was written
    assert_removed_by(c, "DEL")


# ---- zset scores that are not 8 bytes ----

@pytest.mark.parametrize("bad", [b"", b"\x01", b"0123456789"])
def test_zset_score_of_the_wrong_length_is_an_error_not_a_crash(c, bad):
    forge_zset(c, 2, [(b"m1", ordered_double(1), 1), (b"m2", bad, 2)])
    assert c.call("ZRANDMEMBER", "k", 2, "WITHSCORES") == CORRUPT
    assert c.call("ZRANDMEMBER", "k", -64, "WITHSCORES") == CORRUPT  # m2 is picked (but for 2^-64)
    assert c.call("ZSCORE", "k", "m2") == CORRUPT
    assert c.call("ZSCORE", "k", "m1") == b"1"
    assert c.call("ZMSCORE", "k", "m1", "m2") == CORRUPT
    assert c.call("ZRANK", "k", "m2") == CORRUPT
    assert c.call("ZSCAN", "k", 0) == CORRUPT
    assert c.call("ZUNION", 1, "k", "WITHSCORES") == CORRUPT
    assert c.call("ZINTERSTORE", "dst", 1, "k") == CORRUPT
    assert c.call("SORT", "k") == CORRUPT
    assert c.call("ZADD", "k", 5, "m2") == CORRUPT
    assert c.call("ZADD", "k", 5, "m1", 6, "m2") == CORRUPT
    assert c.call("ZREM", "k", "m1", "m2") == CORRUPT
    assert c.call("ZSCORE", "k", "m1") == b"1"  # the failed writes changed nothing
    assert c.call("ZCARD", "k") == 2
    assert c.call("EXISTS", "dst") == 0
    assert_removed_by(c, "DEL")


# ---- metadata records too short to decode ----

def forge_short(c, value):
    """Writes an undecodable metadata record; False if APPLYBATCH refuses it (stricter checks)."""
    reply = apply(c, [(META_CF, NS + b"k", value)])
    if isinstance(reply, RespError):
        assert "invalid write batch" in reply
        return False
    return True


SHORT_RECORDS = [b"\x82" + b"\x00" * 8, b"\x83" + b"\x00" * 30, b"\x81\x00\x00", b"\x05"]


@pytest.mark.parametrize("value", SHORT_RECORDS)
@pytest.mark.parametrize("command", ["DEL", "UNLINK"])
def test_del_removes_a_record_too_short_to_decode(c, value, command):
    if forge_short(c, value):
        assert c.call("TYPE", "k") == CORRUPT
        assert c.call("GET", "k") == CORRUPT
        assert c.call("HGETALL", "k") == CORRUPT
        assert_removed_by(c, command)
    assert c.call("SET", "k", "v") == "OK"
    assert c.call("GET", "k") == b"v"


@pytest.mark.parametrize("value", SHORT_RECORDS[:2])
def test_flushdb_removes_a_record_too_short_to_decode(c, value):
    forge_short(c, value)
    assert c.call("FLUSHDB") == "OK"
    assert c.call("EXISTS", "k") == 0
    assert c.call("DBSIZE") == 0


def test_writes_that_replace_a_key_replace_a_corrupt_one(c):
    if not forge_short(c, SHORT_RECORDS[0]):
        pytest.skip("APPLYBATCH refuses undecodable records")
    assert c.call("SET", "k", "v") == "OK"
    assert c.call("GET", "k") == b"v"
    forge_short(c, SHORT_RECORDS[0])
    c.call("RPUSH", "src", "x")
    assert c.call("SORT", "src", "ALPHA", "STORE", "k") == 1
    assert c.call("LRANGE", "k", 0, -1) == [b"x"]


# ---- real batches, mutated ----

READS = [
    ("TYPE", "l"), ("LLEN", "l"), ("LRANGE", "l", 0, -1), ("LINDEX", "l", -1), ("LPOS", "l", "c"),
    ("SORT", "l", "ALPHA"), ("LTRIM", "l", 0, 1), ("LPOP", "l", 2),
    ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HRANDFIELD", "h", -3, "WITHVALUES"), ("HSCAN", "h", 0),
    ("SMEMBERS", "s"), ("SRANDMEMBER", "s", -3), ("SPOP", "s", 2), ("SORT", "s", "ALPHA"),
    ("ZRANGE", "z", 0, -1, "WITHSCORES"), ("ZRANDMEMBER", "z", 3, "WITHSCORES"), ("ZRANDMEMBER", "z", -3, "WITHSCORES"),
    ("ZSCAN", "z", 0), ("ZSCORE", "z", "b"), ("ZUNION", 1, "z", "WITHSCORES"), ("SORT", "z", "ALPHA"), ("ZPOPMIN", "z"),
]


def mutate(value, rnd):
    """The value cut short, one byte changed, or one byte added."""
    how = rnd.randrange(3)
    if how == 0 or not value:
        return value[:rnd.randrange(len(value) + 1)] if value else b"\x00"
    if how == 1:
        i = rnd.randrange(len(value))
        return value[:i] + bytes([rnd.randrange(256)]) + value[i + 1:]
    return value + bytes([rnd.randrange(256)])


def test_mutated_real_batches_never_crash_or_hang(server):
    """Real RAW batches of list/hash/set/zset writes, one value mutated at random, applied;
    then every reader answers (a value or an error) and DEL removes every key."""
    r = server.client(decode_responses=False, socket_timeout=10)
    start = seq(r)
    r.rpush("l", "a", "b", "c")
    r.hset("h", mapping={"f1": "v1", "f2": "v2"})
    r.sadd("s", "x", "y", "z")
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    batches = [parse_batch(u.decode())[2] for u in poll_all(r, start, "RAW")]
    rnd = random.Random(20261204)
    for _ in range(150):
        r.flushall()
        recs = [list(rec) for rec in rnd.choice(batches)]
        puts = [rec for rec in recs if rec[0] == "PUT"]
        victim = rnd.choice(puts)
        victim[3] = mutate(victim[3], rnd)
        try:
            r.execute_command("APPLYBATCH", build_batch([tuple(rec) for rec in recs]))
        except redis.ResponseError as e:
            assert "invalid write batch" in str(e)
            continue
        for command in READS:
            try:
                r.execute_command(*command)
            except redis.ResponseError as e:
                assert "WRONGTYPE" in str(e) or "corrupt value stored at key" in str(e), (command, e)
        assert r.delete("l", "h", "s", "z") in (0, 1)
        assert r.exists("l", "h", "s", "z") == 0
    assert r.ping()
