"""Helpers shared by the change-data-capture tests (test_cdc_*.py).

This module holds no tests; the CDC test modules import it the same way the
other tests import ``conftest``.
"""

import base64
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

import redis

from conftest import RespConn, RespError, _die_with_parent, encode_command, free_port

REDIS_SERVER_BIN = "/usr/bin/redis-server"
REPLY_KEYS = ["latest_sequence", "next_sequence", "first_sequence", "updates"]
UPDATE_KEYS = ["sequence", "count", "timestamp", "db", "commands"]


def now_ms():
    return int(time.time() * 1000)


def seq(client):
    """SEQUENCE as an int."""
    return int(client.execute_command("SEQUENCE"))


def _s(x):
    return x.decode() if isinstance(x, (bytes, bytearray)) else x


def pairs(flat):
    """A RESP2 flat key/value list (or a RESP3 dict) as an ordered list of (str, value)."""
    if isinstance(flat, dict):
        return [(_s(k), v) for k, v in flat.items()]
    assert isinstance(flat, list) and len(flat) % 2 == 0, "not a key/value list: %r" % (flat,)
    return [(_s(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]


def to_dict(flat):
    return dict(pairs(flat))


def resp_update(u):
    """One FORMAT RESP update (map or flat list) as a dict with str keys."""
    d = to_dict(u)
    d["commands"] = [[bytes(a) for a in cmd] for cmd in d["commands"]]
    return d


def json_arg(a):
    if isinstance(a, str):
        return a.encode("utf-8")
    assert isinstance(a, dict) and set(a) == {"base64"}, "bad JSON argument %r" % (a,)
    return base64.b64decode(a["base64"], validate=True)


def json_update(bulk):
    """One FORMAT JSON update (a bulk string) as a dict; arguments decoded to bytes."""
    assert isinstance(bulk, (bytes, bytearray)), "JSON update is not a bulk string: %r" % (bulk,)
    d = json.loads(bulk.decode("utf-8"))
    d["commands"] = [[json_arg(a) for a in cmd] for cmd in d["commands"]]
    return d


def raw_header(hexstr):
    """(sequence, count) from the 12-byte little-endian header of a RAW update."""
    if isinstance(hexstr, (bytes, bytearray)):
        hexstr = hexstr.decode("ascii")
    data = bytes.fromhex(hexstr)
    assert len(data) >= 12
    s, c = struct.unpack("<QI", data[:12])
    return s, c


def poll(client, start, *opts):
    """POLLUPDATES start *opts → dict with str keys; updates decoded by FORMAT."""
    reply = client.execute_command("POLLUPDATES", start, *opts)
    items = pairs(reply)
    d = dict(items)
    d["_keys"] = [k for k, _ in items]
    fmt = "RAW"
    up = [str(o).upper() for o in opts]
    if "FORMAT" in up:
        fmt = up[up.index("FORMAT") + 1]
    if fmt == "RESP":
        d["updates"] = [resp_update(u) for u in d["updates"]]
    elif fmt == "JSON":
        d["updates"] = [json_update(u) for u in d["updates"]]
    else:
        d["updates"] = [bytes(u) for u in d["updates"]]
    return d


def poll_all(client, start=0, fmt="RESP", page=1000, extra=()):
    """Every update after start, paging until next_sequence reaches latest_sequence."""
    out = []
    pos = start
    for _ in range(100000):
        d = poll(client, pos, "MAX", page, "FORMAT", fmt, *extra)
        out.extend(d["updates"])
        assert d["next_sequence"] >= pos
        if d["next_sequence"] >= d["latest_sequence"]:
            return out
        assert d["next_sequence"] > pos, "no progress at %d: %r" % (pos, d)
        pos = d["next_sequence"]
    raise AssertionError("paging did not end")


def commands_after(client, start, fmt="RESP"):
    """The command lists of every batch after start (one list per batch)."""
    return [u["commands"] for u in poll_all(client, start, fmt)]


def wait_until(fn, timeout=10.0, interval=0.05, msg="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last=%r)" % (msg, last))


def decode_arg(a):
    return a if isinstance(a, bytes) else str(a).encode()


# ----------------------------------------------------------------------
# A real redis-server to replay changes into
# ----------------------------------------------------------------------

class ExternalServer:
    """A server program the tests start (start() in each subclass) in its own temporary
    directory, self.dir, as self.proc: stopping and restarting are the same for all."""

    def terminate(self):
        """SIGTERM (redis-server writes its AOF out) and wait; the directory stays."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def restart(self):
        self.terminate()
        return self.start()

    def stop(self):
        self.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer(ExternalServer):
    """A redis-server on a free port and a temporary directory; extra_args are appended to its
    command line (e.g. ["--appendonly", "yes"] to keep its data across restart())."""

    def __init__(self, extra_args=()):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tidekv-cdc-redis-")
        self.proc = None
        self.extra_args = [str(a) for a in extra_args]

    def start(self):
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER_BIN, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--databases", "16"] + self.extra_args,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
            preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.log())
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2).ping():
                    return self
            except redis.exceptions.AuthenticationError:
                return self  # it answers: a password is required (--requirepass in extra_args)
            except redis.RedisError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, db=0):
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=10)

    def conn(self):
        return RespConn("127.0.0.1", self.port, timeout=10)



def snapshot_commands(conn, sid, count):
    """Every command of SNAPSHOT READ sid, read page by page (COUNT count) on a RespConn."""
    cursor, commands = "0", []
    while True:
        d = to_dict(conn.call("SNAPSHOT", "READ", sid, cursor, "COUNT", str(count)))
        for entry in d["entries"]:
            commands.extend(to_dict(entry)["commands"])
        cursor = _s(d["cursor"])
        if cursor == "0":
            return commands


def replayed_on_redis(commands, keys, state):
    """Runs commands one by one on a fresh redis-server (each must succeed) and returns
    {key: state(client, key)} of what it then holds."""
    rs = RedisServer()
    try:
        rs.start()
        with rs.conn() as rc:
            for cmd in commands:
                rep = rc.call(*cmd)
                assert not isinstance(rep, RespError), (cmd, rep)
        theirs = rs.client()
        try:
            return {k: state(theirs, k) for k in keys}
        finally:
            theirs.close()
    finally:
        rs.stop()


def replay(conn, updates, chunk=400):
    """Sends every update's commands (after SELECT of the batch's db) on a RespConn.
    Returns a list of (command, error) for commands that failed."""
    cmds = []
    for u in updates:
        cmds.append([b"SELECT", str(u["db"]).encode()])
        cmds.extend(u["commands"])
    errors = []
    for i in range(0, len(cmds), chunk):
        part = cmds[i:i + chunk]
        conn.send(b"".join(encode_command(*c) for c in part))
        for c in part:
            rep = conn.read_reply()
            if isinstance(rep, RespError):
                errors.append((c, str(rep)))
    return errors


def dump_db(client):
    """{key: (type, value, pttl)} of every key of the client's database."""
    out = {}
    for k in client.keys("*"):
        t = client.type(k)
        t = t.decode() if isinstance(t, bytes) else t
        if t == "none":
            continue
        v = client.get(k) if t == "string" else None
        out[bytes(k)] = (t, v, client.pttl(k))
    return out


def compare_dumps(a, b, ttl_slack_ms=1000, what=""):
    """Assert two dump_db results agree: same keys, types, values; TTLs within slack."""
    problems = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            problems.append("%s key %r only in %s: %r" % (what, k, "first" if k in a else "second",
                                                           a.get(k, b.get(k))))
            continue
        ta, va, pa = a[k]
        tb, vb, pb = b[k]
        if ta != tb or va != vb:
            problems.append("%s key %r differs: %r vs %r" % (what, k, a[k], b[k]))
        elif (pa < 0 or pb < 0) and pa != pb:
            problems.append("%s key %r TTL differs: %r vs %r" % (what, k, pa, pb))
        elif pa >= 0 and abs(pa - pb) > ttl_slack_ms:
            problems.append("%s key %r TTL differs by more than %d ms: %r vs %r"
                            % (what, k, ttl_slack_ms, pa, pb))
    assert not problems, "%d differences:\n%s" % (len(problems), "\n".join(problems[:40]))


def socket_has_data(sock, timeout=0.0):
    import select
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


# ----------------------------------------------------------------------
# RocksDB write batches (the RAW format)
# ----------------------------------------------------------------------

def _varint(data, pos):
    shift = 0
    out = 0
    while True:
        b = data[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7


def _slice(data, pos):
    n, pos = _varint(data, pos)
    return data[pos:pos + n], pos + n


TAG_NAMES = {0x00: "DEL", 0x01: "PUT", 0x03: "LOGDATA", 0x04: "DEL", 0x05: "PUT",
             0x0E: "DELRANGE", 0x0F: "DELRANGE", 0x07: "SDEL", 0x08: "SDEL", 0x0D: "NOOP"}


def parse_batch(data):
    """(sequence, count, [(tag, cf, key, value)]) of a raw RocksDB write batch (the tags
    tidekv writes: values, deletions, range deletions, LogData)."""
    if isinstance(data, str):
        data = bytes.fromhex(data)
    sequence, count = struct.unpack("<QI", data[:12])
    pos = 12
    recs = []
    while pos < len(data):
        tag = data[pos]
        pos += 1
        cf = 0
        if tag in (0x04, 0x05, 0x06, 0x08, 0x0E):
            cf, pos = _varint(data, pos)
        if tag == 0x03:
            blob, pos = _slice(data, pos)
            recs.append(("LOGDATA", cf, blob, None))
        elif tag in (0x00, 0x04, 0x07, 0x08):
            k, pos = _slice(data, pos)
            recs.append(("DEL", cf, k, None))
        elif tag in (0x01, 0x05, 0x0E, 0x0F):
            k, pos = _slice(data, pos)
            v, pos = _slice(data, pos)
            recs.append(("DELRANGE" if tag in (0x0E, 0x0F) else "PUT", cf, k, v))
        elif tag == 0x0D:
            recs.append(("NOOP", 0, None, None))
        else:
            raise ValueError("tag 0x%02x not handled" % tag)
    return sequence, count, recs


def encode_slice(b):
    n = len(b)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + b


def record(*cmds, db=0, time_ms=1):
    """A tidekv change record (CDC.md) holding the given commands."""
    out = b"TK\x01" + struct.pack(">Q", time_ms) + bytes([db, len(cmds)])  # varints below 128
    for c in cmds:
        out += b"\x00" + bytes([len(c)]) + b"".join(encode_slice(a) for a in c)
    return out


def build_batch(recs, count=None, sequence=0):
    """A raw batch from (tag, cf, key, value) records as parse_batch returns them."""
    body = bytearray()
    n = 0
    for tag, cf, k, v in recs:
        if tag == "LOGDATA":
            body += b"\x03" + encode_slice(k)
        elif tag == "PUT":
            body += (b"\x05" + bytes([cf]) if cf else b"\x01")
            body += encode_slice(k) + encode_slice(v)
            n += 1
        elif tag == "DEL":
            body += (b"\x04" + bytes([cf]) if cf else b"\x00") + encode_slice(k)
            n += 1
        elif tag == "DELRANGE":
            body += (b"\x0e" + bytes([cf]) if cf else b"\x0f") + encode_slice(k) + encode_slice(v)
            n += 1
        else:
            raise ValueError(tag)
    return struct.pack("<QI", sequence, n if count is None else count) + bytes(body)
