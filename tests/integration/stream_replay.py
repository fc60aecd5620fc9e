"""Shared by the per-type tests: reading the change stream, replaying it into another
server and comparing what the two hold."""
from conftest import RespError


def _pairs(flat):
    if isinstance(flat, dict):
        return {(k.decode() if isinstance(k, bytes) else k): v for k, v in flat.items()}
    assert isinstance(flat, list) and len(flat) % 2 == 0, flat
    return {(flat[i].decode() if isinstance(flat[i], bytes) else flat[i]): flat[i + 1]
            for i in range(0, len(flat), 2)}


def read_changes(cl):
    """POLLUPDATES 0 FORMAT RESP MAX 1000 -> list of update dicts (all of them)."""
    rep = _pairs(cl.execute_command("POLLUPDATES", 0, "FORMAT", "RESP", "MAX", 1000))
    assert rep["next_sequence"] == rep["latest_sequence"], "more than one page: %r" % (rep,)
    updates = []
    for u in rep["updates"]:
        d = _pairs(u)
        assert set(d) == {"sequence", "count", "timestamp", "db", "commands"}, d
        d["commands"] = [[bytes(a) for a in cmd] for cmd in d["commands"]]
        updates.append(d)
    return updates


def batches_between(updates, before, after):
    return [u for u in updates if before < u["sequence"] <= after]


def commands_between(updates, before, after):
    return [cmd for u in batches_between(updates, before, after) for cmd in u["commands"]]


def replay(updates, dst):
    with dst.conn() as t:
        for u in updates:
            assert t.call("SELECT", str(u["db"])) == "OK"
            for cmd in u["commands"]:
                rep = t.call(*cmd)
                assert not isinstance(rep, RespError), (cmd, rep)


def snapshot(s, dbs=(0, 1)):
    """Every key of the given databases: type, value and PEXPIRETIME."""
    out = {}
    for db in dbs:
        cl = s.client(db=db)
        try:
            for k in cl.scan_iter(count=100):
                t = cl.type(k)
                if t == b"list":
                    v = cl.lrange(k, 0, -1)
                elif t == b"zset":
                    v = cl.execute_command("ZRANGE", k, 0, -1, "WITHSCORES")  # scores as bytes
                elif t == b"hash":
                    v = cl.hgetall(k)
                elif t == b"set":
                    v = cl.smembers(k)
                else:
                    v = cl.get(k)
                out[(db, k)] = (t, v, cl.execute_command("PEXPIRETIME", k))
        finally:
            cl.close()
    return out


def make_step(cl):
    """step(name, fn) runs fn and remembers the sequences before and after it in seqs[name]."""
    seqs = {}

    def step(name, fn):
        before = int(cl.execute_command("SEQUENCE"))
        result = fn()
        seqs[name] = (before, int(cl.execute_command("SEQUENCE")))
        return result

    return step, seqs
