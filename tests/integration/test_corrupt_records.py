"""Records that contradict themselves (disk corruption, a bug or an older version could leave
them): every reader answers a clear error for the key, never crashes, loops or pads its reply,
and DEL/UNLINK/FLUSHDB remove the key whatever it holds.

APPLYBATCH refuses most such records, so they are forged by writing them straight into the
stopped server's database with tidekv-rawwrite (tests/tools/rawwrite.c), then restarting it.

Sizes that lie are moderate (2^20) where a regression would pad the reply or loop by the
size, so that a regression fails the test instead of exhausting the machine's memory; the
connections have socket timeouts, so a hang fails too."""
import random
import struct

import pytest
import redis

import helpers
from conftest import tidekv_only
from helpers import DEFAULT_CF, META_CF, NS, SCORE_CF, corrupt, forge, inject
from test_cdc_helpers import build_batch, parse_batch, poll_all, seq

pytestmark = tidekv_only

TYPES = {"string": 1, "hash": 2, "list": 3, "set": 4, "zset": 5, "bitmap": 6}
VERSION = 0x0005DEADBEEF0001
LIST_START = 0x7FFFFFFFFFFFFFFF
LYING_SIZE = 1 << 20
CORRUPT = corrupt()


class ForgingConn:
    """A RESP connection to the module server that can also forge records (which restarts the
    server, and so reconnects)."""

    def __init__(self, server):
        self.server = server
        self.conn = server.conn()

    def call(self, *args):
        return self.conn.call(*args)

    def forge(self, records):
        """Writes (cf, key, value) records as one batch of puts."""
        self.conn.close()
        forge(self.server, records)
        self.conn = self.server.conn()

    def close(self):
        self.conn.close()


@pytest.fixture
def c(server):
    conn = ForgingConn(server)
    yield conn
    conn.close()


def compound_meta(kind, size, head=None, tail=None):
    value = struct.pack(">BQQQ", 0x80 | TYPES[kind], 0, VERSION, size)
    if kind == "list":
        value += struct.pack(">QQ", head, tail)
    return value


def subkey(sub, key=b"k"):
    return helpers.subkey(key, VERSION, sub)


def ordered_double(v):
    bits = struct.unpack(">Q", struct.pack(">d", v))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return struct.pack(">Q", bits)


def list_records(size, items=(b"a", b"b"), head=LIST_START, tail=None, key=b"k"):
    """A list whose metadata says `size` items (head..tail) while `items` are stored from head."""
    tail = head + size if tail is None else tail
    recs = [(META_CF, NS + key, compound_meta("list", size, head, tail))]
    return recs + [(DEFAULT_CF, subkey(struct.pack(">Q", head + i), key), v) for i, v in enumerate(items)]


def member_records(kind, size, members=(b"m1", b"m2"), key=b"k"):
    """A hash or set whose metadata says `size` members while `members` are stored."""
    recs = [(META_CF, NS + key, compound_meta(kind, size))]
    return recs + [(DEFAULT_CF, subkey(m, key), b"v" if kind == "hash" else b"") for m in members]


def zset_records(size, members, key=b"k"):
    """A zset of (member, stored score value, score for the index) entries."""
    recs = [(META_CF, NS + key, compound_meta("zset", size))]
    for m, value, score in members:
        recs.append((DEFAULT_CF, subkey(m, key), value))
        recs.append((SCORE_CF, subkey(ordered_double(score) + m, key), b""))
    return recs


def assert_removed_by(c, command, key="k"):
    assert c.call(command, key) == 1
    assert c.call("EXISTS", key) == 0
    assert c.call("PING") == "PONG"


# ---- sizes that lie ----

def test_sort_of_a_size_that_lies_is_an_error_not_an_abort(c):
    scores = [(b"m1", ordered_double(1), 1), (b"m2", ordered_double(2), 2)]
    c.forge(list_records(1 << 62, key=b"list") + member_records("set", 1 << 62, key=b"set") +
            zset_records(1 << 62, scores, key=b"zset"))
    for key in ("list", "set", "zset"):
        assert c.call("SORT", key, "ALPHA") == corrupt(key)
        assert c.call("SORT_RO", key, "ALPHA", "STORE", "x") == "ERR syntax error"
        assert c.call("SORT", key, "ALPHA", "STORE", "dst") == corrupt(key)
        assert c.call("EXISTS", "dst") == 0
        assert_removed_by(c, "DEL", key)


def test_whole_reads_answer_an_error_instead_of_padding(c):
    reads = {"HGETALL": "hash", "HKEYS": "hash", "HVALS": "hash", "SMEMBERS": "set"}
    sizes = [LYING_SIZE, 1 << 62, 1]
    keys = {(command, size): "%s-%d" % (command, size) for command in reads for size in sizes}
    c.forge([rec for (command, size), key in keys.items()
             for rec in member_records(reads[command], size, key=key.encode())])
    for (command, _), key in keys.items():
        assert c.call(command, key) == corrupt(key)
        assert c.call("PING") == "PONG"
        assert_removed_by(c, "UNLINK", key)


def test_whole_reads_pad_nothing_in_resp3(c):
    c.forge(member_records("hash", LYING_SIZE, key=b"hash") + member_records("set", LYING_SIZE, key=b"set"))
    assert isinstance(c.call("HELLO", 3), dict)
    assert c.call("HGETALL", "hash") == corrupt("hash")
    assert c.call("SMEMBERS", "set") == corrupt("set")
    assert c.call("PING") == "PONG"


def test_lrange_answers_an_error_instead_of_padding(c):
    c.forge(list_records(LYING_SIZE))
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
    c.forge(recs)
    assert c.call("LRANGE", "k", 0, -1) == CORRUPT
    assert c.call("LINDEX", "k", 1) == CORRUPT
    assert c.call("LINDEX", "k", 2) == b"c"
    assert c.call("LINDEX", "k", 3) is None


def test_ltrim_of_a_size_that_lies_ends(c):
    c.forge(list_records(LYING_SIZE))
    assert c.call("LTRIM", "k", 0, 0) == CORRUPT
    assert c.call("LTRIM", "k", 5, 1) == CORRUPT  # keeps nothing: everything is checked
    assert c.call("LLEN", "k") == LYING_SIZE       # nothing was changed
    assert_removed_by(c, "DEL")


def test_list_pops_of_a_size_that_lies_pop_nothing(c):
    c.forge(list_records(LYING_SIZE))
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


def test_zset_pops_of_a_size_that_lies_pop_nothing(c):
    """As the list pops: a pop that finds fewer members than the size promises answers the
    corrupt-key error (blocking ones never wait on it) and pops nothing; one within the members
    that are there works."""
    c.forge(zset_records(LYING_SIZE, [(b"m1", ordered_double(1), 1), (b"m2", ordered_double(2), 2)]))
    for command in (("ZPOPMIN", "k", 3), ("ZPOPMAX", "k", 10 ** 9), ("ZMPOP", 1, "k", "MIN", "COUNT", 5),
                    ("BZMPOP", 0, 1, "k", "MAX", "COUNT", 3)):
        assert c.call(*command) == CORRUPT, command
    assert c.call("ZCARD", "k") == LYING_SIZE
    assert c.call("ZPOPMIN", "k", 2) == [b"m1", b"1", b"m2", b"2"]
    for command in (("ZPOPMIN", "k"), ("ZPOPMAX", "k"), ("BZPOPMIN", "k", 0), ("BZPOPMAX", "k", 0),
                    ("ZMPOP", 1, "k", "MAX"), ("BZMPOP", 0, 1, "k", "MIN")):
        assert c.call(*command) == CORRUPT, command
    assert c.call("ZCARD", "k") == LYING_SIZE - 2
    assert_removed_by(c, "DEL")


def test_zset_pops_stop_at_a_size_that_lies_low(c):
    """A size below the members stored: a pop takes at most the size, so it never drops below
    zero (which would make a size no reader takes); the key is then gone, as an empty one is."""
    c.forge(zset_records(1, [(b"m1", ordered_double(1), 1), (b"m2", ordered_double(2), 2)]))
    assert c.call("ZPOPMAX", "k", 5) == [b"m2", b"2"]
    assert c.call("EXISTS", "k") == 0
    assert c.call("ZADD", "k", 3, "m3") == 1
    assert c.call("ZRANGE", "k", 0, -1, "WITHSCORES") == [b"m3", b"3"]


def test_list_scans_of_a_size_that_lies_end(c):
    c.forge(list_records(LYING_SIZE))
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
    c.forge(list_records(1 << 62, tail=LIST_START + 2))
    for command in (("LLEN", "k"), ("LRANGE", "k", 0, -1), ("LTRIM", "k", 0, 0), ("LPUSH", "k", "x"),
                    ("TYPE", "k"), ("GET", "k"), ("TTL", "k"), ("EXPIRE", "k", 100), ("RENAME", "k", "k2"),
                    ("COPY", "k", "k2"), ("OBJECT", "ENCODING", "k"), ("SORT", "k")):
        assert c.call(*command) == CORRUPT, command
    assert c.call("EXISTS", "k") == 1
    assert c.call("KEYS", "*") == [b"k"]  # so it can be found, and deleted
    assert c.call("SCAN", 0) == [b"0", [b"k"]]
    assert_removed_by(c, "DEL")


def test_random_picks_of_a_size_that_lies_end(c):
    c.forge(member_records("set", LYING_SIZE) + member_records("hash", LYING_SIZE, key=b"k2"))
    assert c.call("SRANDMEMBER", "k", 5) == CORRUPT
    assert c.call("SPOP", "k", 5) == CORRUPT
    assert c.call("SCARD", "k") == LYING_SIZE  # nothing was popped
    assert c.call("HRANDFIELD", "k2", 3, "WITHVALUES") == corrupt("k2")
    assert c.call("PING") == "PONG"


def test_random_picks_of_a_huge_size_that_lies_take_no_memory_for_it(c):
    """A size of 2^62 with 2 members stored: a count of 10^8 (under that size) must neither
    allocate a slot per pick asked for (4.8 GB) nor seek 4 * 10^8 times."""
    huge = 1 << 62
    c.forge(member_records("set", huge) + member_records("hash", huge, key=b"k2") +
            zset_records(huge, [(b"m1", ordered_double(1), 1), (b"m2", ordered_double(2), 2)], key=b"k3"))
    count = 10 ** 8
    for command in (("SRANDMEMBER", "k", count), ("SPOP", "k", count), ("SRANDMEMBER", "k", 1000)):
        assert c.call(*command) == CORRUPT, command
    assert c.call("HRANDFIELD", "k2", count, "WITHVALUES") == corrupt("k2")
    assert c.call("ZRANDMEMBER", "k3", count, "WITHSCORES") == corrupt("k3")
    assert c.call("PING") == "PONG"


def test_rename_and_copy_do_not_spread_a_size_that_lies(c):
    c.forge(member_records("hash", LYING_SIZE, key=b"hash") + member_records("set", LYING_SIZE, key=b"set") +
            list_records(LYING_SIZE, key=b"list"))
    for key in ("hash", "set", "list"):
        assert c.call("RENAME", key, "k2") == corrupt(key)
        assert c.call("COPY", key, "k2") == corrupt(key)
        assert c.call("EXISTS", key, "k2") == 1  # the key stays where it was, nothing was written
        assert_removed_by(c, "DEL", key)


# ---- zset scores that are not 8 bytes ----

def test_zset_score_of_the_wrong_length_is_an_error_not_a_crash(c):
    bad_scores = {"k0": b"", "k1": b"\x01", "k2": b"0123456789"}
    c.forge([rec for k, bad in bad_scores.items()
             for rec in zset_records(2, [(b"m1", ordered_double(1), 1), (b"m2", bad, 2)], key=k.encode())])
    for k in bad_scores:
        assert c.call("ZRANDMEMBER", k, 2, "WITHSCORES") == corrupt(k)
        assert c.call("ZRANDMEMBER", k, -64, "WITHSCORES") == corrupt(k)  # m2 is picked (but for 2^-64)
        assert c.call("ZSCORE", k, "m2") == corrupt(k)
        assert c.call("ZSCORE", k, "m1") == b"1"
        assert c.call("ZMSCORE", k, "m1", "m2") == corrupt(k)
        assert c.call("ZRANK", k, "m2") == corrupt(k)
        assert c.call("ZSCAN", k, 0) == corrupt(k)
        assert c.call("ZUNION", 1, k, "WITHSCORES") == corrupt(k)
        assert c.call("ZINTERSTORE", "dst", 1, k) == corrupt(k)
        assert c.call("SORT", k) == corrupt(k)
        assert c.call("ZADD", k, 5, "m2") == corrupt(k)
        assert c.call("ZADD", k, 5, "m1", 6, "m2") == corrupt(k)
        assert c.call("ZREM", k, "m1", "m2") == corrupt(k)
        assert c.call("ZSCORE", k, "m1") == b"1"  # the failed writes changed nothing
        assert c.call("ZCARD", k) == 2
        assert c.call("EXISTS", "dst") == 0
        assert_removed_by(c, "DEL", k)


# ---- metadata records too short to decode ----

SHORT_RECORDS = {"k0": b"\x82" + b"\x00" * 8, "k1": b"\x83" + b"\x00" * 30, "k2": b"\x81\x00\x00", "k3": b"\x05"}


def short_records():
    """Metadata records too short to decode, of the keys of SHORT_RECORDS."""
    return [(META_CF, NS + key.encode(), value) for key, value in SHORT_RECORDS.items()]


@pytest.mark.parametrize("command", ["DEL", "UNLINK"])
def test_del_removes_a_record_too_short_to_decode(c, command):
    c.forge(short_records())
    for key in SHORT_RECORDS:
        assert c.call("TYPE", key) == corrupt(key)
        assert c.call("GET", key) == corrupt(key)
        assert c.call("HGETALL", key) == corrupt(key)
        assert_removed_by(c, command, key)
        assert c.call("SET", key, "v") == "OK"
        assert c.call("GET", key) == b"v"


def test_flushdb_removes_records_too_short_to_decode(c):
    c.forge(short_records())
    assert c.call("DBSIZE") == len(SHORT_RECORDS)
    assert c.call("FLUSHDB") == "OK"
    assert c.call("EXISTS", *SHORT_RECORDS) == 0
    assert c.call("DBSIZE") == 0


def test_writes_that_replace_a_key_replace_a_corrupt_one(c):
    c.forge(short_records())
    assert c.call("SET", "k0", "v") == "OK"
    assert c.call("GET", "k0") == b"v"
    c.call("RPUSH", "src", "x")
    assert c.call("SORT", "src", "ALPHA", "STORE", "k1") == 1
    assert c.call("LRANGE", "k1", 0, -1) == [b"x"]


# ---- bitmaps: strings kept in 1 KiB fragments (types/bitmap.h) ----

TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def bitmap_records(size, fragments, key=b"k"):
    """A bitmap of `size` bytes with the given {subkey: stored bytes} fragments."""
    return [(META_CF, NS + key, compound_meta("bitmap", size))] + [
        (DEFAULT_CF, subkey(name, key), value) for name, value in fragments.items()]


def bitmap_reads(key):
    return [("GET", key), ("GETRANGE", key, 0, -1), ("GETRANGE", key, 0, 10), ("BITCOUNT", key),
            ("BITCOUNT", key, 0, -1, "BIT"), ("BITPOS", key, 1), ("GETBIT", key, 3), ("SETBIT", key, 3, 1),
            ("SETRANGE", key, 1, "x"), ("GETDEL", key), ("GETEX", key, "PERSIST"), ("SET", key, "v", "GET")]


def test_bitmap_fragment_longer_than_a_fragment_is_corrupt(c):
    c.forge(bitmap_records(3000, {b"0": b"\xff" * 2000, b"2048": b"\x01"}))
    for command in bitmap_reads("k"):
        assert c.call(*command) == CORRUPT, command
    assert c.call("GETRANGE", "k", 2048, 2048) == b"\x80"  # a sound fragment reads fine
    assert c.call("STRLEN", "k") == 3000
    assert_removed_by(c, "DEL")


@pytest.mark.parametrize("name", [b"abc", b"1000", b"01024", b"-1024", b""])
def test_bitmap_fragment_under_a_name_that_is_no_offset_is_corrupt(c, name):
    c.forge(bitmap_records(100000, {b"0": b"\x01", name: b"\xff"}))
    for command in (("GET", "k"), ("GETRANGE", "k", 0, -1), ("GETRANGE", "k", 50000, 99999), ("BITCOUNT", "k"),
                    ("BITPOS", "k", 1, 1)):
        assert c.call(*command) == CORRUPT, command
    assert c.call("GETBIT", "k", 0) == 1  # a read of one fragment meets no other
    assert_removed_by(c, "UNLINK")


def test_bitmap_bytes_past_its_size_are_no_part_of_it(c):
    """Kvrocks pads fragments with zeros past the size: what is stored there is never read,
    and never comes back when the string grows."""
    c.forge(bitmap_records(10, {b"0": b"\xff" * 1024, b"1024": b"\xff"}))
    assert c.call("GET", "k") == b"\xff" * 10
    assert c.call("BITCOUNT", "k") == 80
    assert c.call("GETRANGE", "k", 0, 20000) == b"\xff" * 10
    assert c.call("APPEND", "k", "z") == 11
    assert c.call("SETBIT", "k", 8 * 15, 1) == 0
    assert c.call("SETBIT", "k", 8 * 1024, 1) == 0
    assert c.call("GET", "k") == b"\xff" * 10 + b"z" + b"\x00" * 4 + b"\x80" + b"\x00" * 1008 + b"\x80"
    assert c.call("BITCOUNT", "k") == 80 + 5 + 2  # "z" has 5 bits set


def test_bitmap_of_a_size_that_lies_is_never_allocated(c):
    """A size of 2^62: what would assemble it answers an error, what reads a range or counts
    walks the fragments that exist."""
    c.forge(bitmap_records(1 << 62, {b"0": b"\x01", b"%d" % (1 << 40): b"\x03"}))
    for command in (("GET", "k"), ("GETRANGE", "k", 0, -1), ("BITCOUNT", "k", 0, -1, "BIT"), ("BITPOS", "k", 1),
                    ("GETDEL", "k"), ("SET", "k", "v", "GET"), ("APPEND", "k", "x")):
        assert c.call(*command) == TOO_BIG, command
    # no number is that long: INCR answers so without reading it
    assert c.call("INCR", "k") == "ERR value is not an integer or out of range"
    assert c.call("INCRBYFLOAT", "k", 1) == "ERR value is not a valid float"
    assert c.call("STRLEN", "k") == 1 << 62
    assert c.call("BITCOUNT", "k") == 3
    assert c.call("BITCOUNT", "k", 1 << 40, 1 << 41) == 2
    assert c.call("GETRANGE", "k", 0, 1000000) == b"\x80" + b"\x00" * 1000000
    assert c.call("GETRANGE", "k", (1 << 40) - 1, (1 << 40) + 1000000) == b"\x00\xc0" + b"\x00" * 1000000
    assert c.call("GETBIT", "k", 0) == 1
    assert c.call("SETBIT", "k", 8, 1) == 0
    assert_removed_by(c, "DEL")


def test_string_readers_and_edits_of_a_record_too_short_to_decode(c):
    c.forge(short_records())
    for key in SHORT_RECORDS:
        for command in (("STRLEN", key), ("GETRANGE", key, 0, 1), ("BITCOUNT", key), ("GETBIT", key, 1),
                        ("SETBIT", key, 1, 1), ("SETRANGE", key, 0, "x"), ("APPEND", key, "x")):
            assert c.call(*command) == corrupt(key), command
    assert c.call("DBSIZE") == len(SHORT_RECORDS)


# ---- real batches, mutated ----

def reads(l, h, s, z):
    """Every reader of a list l, a hash h, a set s and a zset z."""
    return [
        ("TYPE", l), ("LLEN", l), ("LRANGE", l, 0, -1), ("LINDEX", l, -1), ("LPOS", l, "c"),
        ("SORT", l, "ALPHA"), ("LTRIM", l, 0, 1), ("LPOP", l, 2),
        ("HGETALL", h), ("HKEYS", h), ("HVALS", h), ("HRANDFIELD", h, -3, "WITHVALUES"), ("HSCAN", h, 0),
        ("SMEMBERS", s), ("SRANDMEMBER", s, -3), ("SPOP", s, 2), ("SORT", s, "ALPHA"),
        ("ZRANGE", z, 0, -1, "WITHSCORES"), ("ZRANDMEMBER", z, 3, "WITHSCORES"),
        ("ZRANDMEMBER", z, -3, "WITHSCORES"), ("ZSCAN", z, 0), ("ZSCORE", z, "b"),
        ("ZUNION", 1, z, "WITHSCORES"), ("SORT", z, "ALPHA"), ("ZPOPMIN", z),
    ]


def with_key_suffix(cf, key, suffix):
    """The metadata key or subkey (ENCODING.md's layout) of the same record for its user key
    with suffix appended."""
    if cf == META_CF:
        return key + suffix
    if cf in (DEFAULT_CF, SCORE_CF):
        user_start = len(NS) + 4
        user_end = user_start + struct.unpack(">I", key[len(NS):user_start])[0]
        user_key = key[user_start:user_end] + suffix
        return NS + struct.pack(">I", len(user_key)) + user_key + key[user_end:]
    return key


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
    """Real RAW batches of list/hash/set/zset writes, one value mutated at random, each round
    on keys of its own: APPLYBATCH takes or refuses each (never crashes), those it refuses are
    forged in one restart; then every reader answers (a value or an error) and DEL removes
    every key."""
    r = server.client(decode_responses=False, socket_timeout=10)
    start = seq(r)
    r.rpush("l", "a", "b", "c")
    r.hset("h", mapping={"f1": "v1", "f2": "v2"})
    r.sadd("s", "x", "y", "z")
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    batches = [parse_batch(u.decode())[2] for u in poll_all(r, start, "RAW")]
    r.flushall()
    rnd = random.Random(20261204)
    rounds = range(150)
    refused = []
    for i in rounds:
        recs = [list(rec) for rec in rnd.choice(batches)]
        puts = [rec for rec in recs if rec[0] == "PUT"]
        victim = rnd.choice(puts)
        victim[3] = mutate(victim[3], rnd)
        for rec in puts:
            rec[2] = with_key_suffix(rec[1], rec[2], b"%d" % i)
        batch = build_batch([tuple(rec) for rec in recs])
        try:
            r.execute_command("APPLYBATCH", batch)
        except redis.ResponseError as e:
            assert str(e).startswith(("APPLYBATCH: ", "invalid write batch")), e
            refused.append(batch)
    assert refused
    r.close()
    inject(server, refused)
    r = server.client(decode_responses=False, socket_timeout=10)
    for i in rounds:
        keys = ["%s%d" % (k, i) for k in "lhsz"]
        for command in reads(*keys):
            try:
                r.execute_command(*command)
            except redis.ResponseError as e:
                assert "WRONGTYPE" in str(e) or "corrupt value stored at key" in str(e), (command, e)
        assert r.delete(*keys) in (0, 1)
        assert r.exists(*keys) == 0
    assert r.ping()


@pytest.mark.parametrize("options", [(), ("COUNT", "5")])
def test_xread_names_the_corrupt_stream(c, options):
    """XREAD's error names the key, not the argument at the place of a one-key command's key."""
    c.forge([(META_CF, NS + b"ks", b"\x87" + b"\x00" * 5)])
    assert c.call("XREAD", *options, "STREAMS", "ks", "0") == corrupt("ks")
    assert c.call("XREAD", *options, "STREAMS", "none", "ks", "0", "0") == corrupt("ks")
