"""COMMAND DOCS / INFO / GETKEYS / GETKEYSANDFLAGS: tidekv's command descriptors next to a
real redis-server 7.0's, for every command both have (redis-cli builds its hints from DOCS,
client libraries route and check keys with INFO's key specs and GETKEYS)."""

import pytest

from conftest import IS_REDIS, RespError, tidekv_only
from test_cdc_helpers import RedisServer

# Where tidekv knowingly differs from Redis 7.0, and why.
DOCS_DIFFERENCES = {
    "client": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "config": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "command": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "object": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "xinfo": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "xgroup": "container command: tidekv documents 'subcommand key [argument]...', Redis each subcommand",
    "script": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "pubsub": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "psubscribe": "Redis 7.0 wraps the pattern in a block of that one argument; tidekv documents the pattern",
    "function": "container command: tidekv documents 'subcommand [argument]...', Redis each subcommand",
    "debug": "tidekv's DEBUG is a test-only tool (READ-ERROR-AFTER); Redis documents no arguments",
}
INFO_DIFFERENCES = {
    # Redis gives container commands no flags, categories or keys of their own (their
    # subcommands have them); tidekv has one descriptor for all of OBJECT's subcommands.
    "client": {"flags", "categories"},
    "config": {"flags", "categories"},
    "script": {"flags", "categories"},
    "function": {"flags", "categories"},
    "command": {"categories"},
    "pubsub": {"categories"},
    "object": {"flags", "categories", "range", "key_specs"},
    "xinfo": {"flags", "categories", "range", "key_specs"},
    "xgroup": {"flags", "categories", "range", "key_specs"},
    # XREAD's and XREADGROUP's keys (after STREAMS) are found by a getkeys function, which
    # COMMAND INFO shows as unknown.
    "xread": {"key_specs"},
    "xreadgroup": {"key_specs"},
    # tidekv's DEBUG has one test-only subcommand (READ-ERROR-AFTER), none of Redis's.
    "debug": {"flags", "categories"},
    # tidekv runs SHUTDOWN at once inside MULTI (it is never queued) rather than refusing it.
    "shutdown": {"flags"},
}


def _s(x):
    return x.decode() if isinstance(x, (bytes, bytearray)) else x


def as_dict(reply):
    """A RESP3 map or a RESP2 flat list of pairs, as a dict with str keys."""
    if isinstance(reply, dict):
        return {_s(k): v for k, v in reply.items()}
    return {_s(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}


def names(reply):
    return sorted(_s(x) for x in reply)


def argument_tree(args):
    """The parts of a DOCS argument list that make redis-cli's hints, comparable."""
    out = []
    for a in args:
        a = as_dict(a)
        node = {"name": _s(a["name"]), "type": _s(a["type"])}
        for field in ("token", "key_spec_index"):
            if field in a:
                node[field] = _s(a[field])
        if "flags" in a:
            node["flags"] = names(a["flags"])
        if "arguments" in a:
            node["arguments"] = argument_tree(a["arguments"])
        out.append(node)
    return out


def docs_of(conn, name):
    reply = conn.call("COMMAND", "DOCS", name)
    docs = as_dict(reply)
    return as_dict(docs[name]) if name in docs else None


def key_specs(specs):
    out = []
    for spec in specs:
        spec = as_dict(spec)
        out.append({
            "flags": names(spec["flags"]),
            "begin_search": repr(as_dict_deep(spec["begin_search"])),
            "find_keys": repr(as_dict_deep(spec["find_keys"])),
        })
    return out


def as_dict_deep(x):
    d = as_dict(x)
    return {k: as_dict_deep(v) if isinstance(v, (list, dict)) else _s(v) for k, v in sorted(d.items())}


def info_of(conn, name):
    entry = conn.call("COMMAND", "INFO", name)[0]
    if entry is None:
        return None
    return {
        "arity": entry[1],
        "flags": names(entry[2]),
        "range": entry[3:6],
        "categories": names(entry[6]),
        "key_specs": key_specs(entry[8]),
    }


@pytest.fixture(scope="module")
def redis_conn():
    rs = RedisServer().start()
    try:
        with rs.conn() as c:
            yield c
    finally:
        rs.stop()


def common_commands(server, redis_conn):
    with server.conn() as c:
        ours = {_s(n) for n in c.call("COMMAND", "LIST")}
    theirs = {_s(n) for n in redis_conn.call("COMMAND", "LIST")}
    both = sorted(ours & theirs)
    assert len(both) > 150
    return both


@tidekv_only
def test_docs_arguments_match_redis(server, redis_conn):
    mismatches = []
    with server.conn() as c:
        for name in common_commands(server, redis_conn):
            if name in DOCS_DIFFERENCES:
                continue
            ours = argument_tree(docs_of(c, name).get("arguments", []))
            theirs = argument_tree(docs_of(redis_conn, name).get("arguments", []))
            if ours != theirs:
                mismatches.append("%s:\n  tidekv %s\n  redis  %s" % (name, ours, theirs))
    assert not mismatches, "\n".join(mismatches)


@tidekv_only
def test_info_matches_redis(server, redis_conn):
    mismatches = []
    with server.conn() as c:
        for name in common_commands(server, redis_conn):
            ours, theirs = info_of(c, name), info_of(redis_conn, name)
            for field in ours:
                if field in INFO_DIFFERENCES.get(name, ()):
                    continue
                if ours[field] != theirs[field]:
                    mismatches.append("%s %s: tidekv %s, redis %s" % (name, field, ours[field], theirs[field]))
    assert not mismatches, "\n".join(mismatches)


def test_docs_choice_and_repeats(server):
    """The two shapes the old syntax strings got wrong: a oneof cut to its first choice, and
    repeats nested into themselves."""
    with server.conn() as c:
        blmove = argument_tree(docs_of(c, "blmove")["arguments"])
        assert blmove[2] == {"name": "wherefrom", "type": "oneof", "arguments": [
            {"name": "left", "type": "pure-token", "token": "LEFT"},
            {"name": "right", "type": "pure-token", "token": "RIGHT"}]}
        assert blmove[4] == {"name": "timeout", "type": "double"}
        assert argument_tree(docs_of(c, "del")["arguments"]) == [
            {"name": "key", "type": "key", "key_spec_index": 0, "flags": ["multiple"]}]
        mset = argument_tree(docs_of(c, "mset")["arguments"])
        assert mset == [{"name": "key_value", "type": "block", "flags": ["multiple"], "arguments": [
            {"name": "key", "type": "key", "key_spec_index": 0}, {"name": "value", "type": "string"}]}]


GETKEYS_CASES = [
    ("SORT", "src", "BY", "w_*", "LIMIT", "0", "5", "GET", "store", "STORE", "dst"),
    ("SORT", "src", "STORE", "first", "STORE", "second"),
    ("SORT_RO", "src", "BY", "w_*"),
    ("COPY", "a", "b", "DB", "3", "REPLACE"),
    ("ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"),
    ("ZDIFFSTORE", "dst", "1", "a"),
    ("LMPOP", "2", "l1", "l2", "LEFT", "COUNT", "3"),
    ("BLMPOP", "0", "1", "l1", "RIGHT"),
    ("ZINTERCARD", "2", "z1", "z2"),
    ("SINTERCARD", "3", "s1", "s2", "s3", "LIMIT", "1"),
    ("MSET", "a", "1", "b", "2"),
    ("SET", "k", "v"),
    ("SET", "k", "v", "GET"),
    ("LMOVE", "from", "to", "LEFT", "RIGHT"),
    ("BLPOP", "a", "b", "0"),
    ("SINTERSTORE", "dst", "a", "b"),
    ("GETDEL", "k"),
    ("OBJECT", "ENCODING", "k"),
]

# The replies expected (Redis 7.0's): keys, each with its flags.
GETKEYS_EXPECTED = [
    [["src", ["RO", "access"]], ["dst", ["OW", "update"]]],
    [["src", ["RO", "access"]], ["second", ["OW", "update"]]],
    [["src", ["RO", "access"]]],
    [["a", ["RO", "access"]], ["b", ["OW", "update"]]],
    [["dst", ["OW", "update"]], ["a", ["RO", "access"]], ["b", ["RO", "access"]]],
    [["dst", ["OW", "update"]], ["a", ["RO", "access"]]],
    [["l1", ["RW", "access", "delete"]], ["l2", ["RW", "access", "delete"]]],
    [["l1", ["RW", "access", "delete"]]],
    [["z1", ["RO", "access"]], ["z2", ["RO", "access"]]],
    [["s1", ["RO", "access"]], ["s2", ["RO", "access"]], ["s3", ["RO", "access"]]],
    [["a", ["OW", "update"]], ["b", ["OW", "update"]]],
    [["k", ["OW", "update"]]],
    [["k", ["RW", "access", "update"]]],
    [["from", ["RW", "access", "delete"]], ["to", ["RW", "insert"]]],
    [["a", ["RW", "access", "delete"]], ["b", ["RW", "access", "delete"]]],
    [["dst", ["RW", "update"]], ["a", ["RO", "access"]], ["b", ["RO", "access"]]],
    [["k", ["RW", "access", "delete"]]],
    [["k", ["RO"]]],
]


@pytest.mark.parametrize("case,expected", list(zip(GETKEYS_CASES, GETKEYS_EXPECTED)),
                         ids=[" ".join(c[:1]) + str(i) for i, c in enumerate(GETKEYS_CASES)])
def test_getkeys(server, case, expected):
    with server.conn() as c:
        assert [_s(k) for k in c.call("COMMAND", "GETKEYS", *case)] == [k for k, _ in expected]
        got = c.call("COMMAND", "GETKEYSANDFLAGS", *case)
        assert [[_s(k), names(f)] for k, f in got] == [[k, sorted(f)] for k, f in expected]


def test_getkeys_errors(server):
    with server.conn() as c:
        assert c.call("COMMAND", "GETKEYS", "get") == \
            "ERR wrong number of arguments for 'command|getkeys' command"
        assert c.call("COMMAND", "GETKEYS", "nosuch", "a") == "ERR Invalid command specified"
        assert c.call("COMMAND", "GETKEYS", "get", "a", "b") == \
            "ERR Invalid number of arguments specified for command"
        assert c.call("COMMAND", "GETKEYS", "ping", "x") == "ERR The command has no key arguments"
        for bad in (["LMPOP", "5", "a", "b", "LEFT"], ["LMPOP", "x", "a", "LEFT"],
                    ["ZUNIONSTORE", "d", "0", "a"]):
            reply = c.call("COMMAND", "GETKEYSANDFLAGS", *bad)
            assert isinstance(reply, RespError) and reply == "ERR Invalid arguments specified for command", bad



@tidekv_only
def test_docs_of_tidekv_commands(server):
    """Commands Redis lacks are documented in the same shape."""
    with server.conn() as c:
        poll = argument_tree(docs_of(c, "pollupdates")["arguments"])
        assert poll[0] == {"name": "sequence", "type": "integer"}
        assert {"name": "format", "type": "oneof", "token": "FORMAT", "flags": ["optional"], "arguments": [
            {"name": "raw", "type": "pure-token", "token": "RAW"},
            {"name": "resp", "type": "pure-token", "token": "RESP"},
            {"name": "json", "type": "pure-token", "token": "JSON"},
            {"name": "binary", "type": "pure-token", "token": "BINARY"}]} in poll
        for name in ("sequence", "applybatch"):
            assert docs_of(c, name)["group"] == b"cdc"
