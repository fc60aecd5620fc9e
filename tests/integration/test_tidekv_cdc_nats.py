"""tidekv-cdc's nats:// sink (CDC.md "tidekv-cdc") against a real nats-server -js started here:
every batch of the source's stream exactly once in the JetStream stream, in order, as the
POLLUPDATES FORMAT JSON object, through kill -9 of the program and a restart of nats-server;
the position read back from the stream; and the errors: malformed URLs, an unreachable server,
a server without JetStream, a missing stream, a stream or subject it cannot use."""

import base64
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import _die_with_parent, free_port, tidekv_only
from test_cdc_helpers import ExternalServer, seq, to_dict, wait_until
from test_tidekv_cdc import rpush_heavy_writer, run_tool, tools  # noqa: F401 (tools: a fixture)

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
pytestmark = [tidekv_only,
              pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="nats-server is not installed")]
SUBJECT = "cdc.events"


class NatsClient:
    """A minimal NATS client over a raw socket (PyPI, and so nats-py, is out of reach): requests
    to the JetStream API and their replies, headers included."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        assert self._line().startswith(b"INFO ")
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
                          b"SUB _INBOX.test 1\r\nPING\r\n")
        while self._line() != b"PONG":
            pass

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("nats-server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def request(self, subject, payload=b"", headers=None):
        """(status line of the reply's headers or None, headers dict, payload)."""
        if isinstance(payload, str):
            payload = payload.encode()
        if headers:
            h = ("NATS/1.0\r\n" + "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n").encode()
            self.sock.sendall(b"HPUB %s _INBOX.test %d %d\r\n%s%s\r\n"
                              % (subject.encode(), len(h), len(h) + len(payload), h, payload))
        else:
            self.sock.sendall(b"PUB %s _INBOX.test %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG "):
                return None, {}, self._bytes(int(line.split()[-1]))
            elif line.startswith(b"HMSG "):
                parts = line.split()
                data = self._bytes(int(parts[-1]))
                status, hdrs = parse_headers(data[:int(parts[-2])])
                return status, hdrs, data[int(parts[-2]):]
            elif line.startswith(b"-ERR"):
                raise AssertionError(line)

    def api(self, what, body=None):
        status, _, data = self.request("$JS.API." + what, json.dumps(body) if body is not None else b"")
        assert status is None, status  # 503: no JetStream
        return json.loads(data)

    def messages(self, stream):
        """Every message of the stream, in order: (headers, payload)."""
        state = self.api("STREAM.INFO." + stream)["state"]
        out = []
        for n in range(state["first_seq"], state["last_seq"] + 1):
            m = self.api("STREAM.MSG.GET." + stream, {"seq": n})["message"]
            out.append((parse_headers(base64.b64decode(m.get("hdrs", "")))[1], base64.b64decode(m.get("data", ""))))
        return out


def parse_headers(block):
    lines = block.decode().split("\r\n")
    status = lines[0][len("NATS/1.0"):].strip() or None if lines[0].startswith("NATS/1.0") else None
    return status, dict(line.split(": ", 1) for line in lines[1:] if line)


class NatsServer(ExternalServer):
    """nats-server on a free port with JetStream (unless jetstream=False) in a temp store."""

    def __init__(self, jetstream=True):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tidekv-cdc-nats-")
        self.jetstream = jetstream
        self.proc = None

    def start(self):
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.jetstream:
            args += ["-js", "-sd", os.path.join(self.dir, "store")]
        with open(os.path.join(self.dir, "nats.log"), "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                c = NatsClient(self.port)
                if self.jetstream:
                    c.api("INFO")  # JetStream has recovered its streams
                c.close()
                return self
            except (OSError, AssertionError, ValueError):
                assert self.proc.poll() is None, "nats-server exited"
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def client(self):
        return NatsClient(self.port)


@pytest.fixture
def nats():
    n = NatsServer().start()
    yield n
    n.stop()


def nats_args(src, nats, *extra, consumer="feed", subject=SUBJECT):
    return ["--source", "127.0.0.1:%d" % src.port, "--consumer", consumer,
            "--sink", "nats://127.0.0.1:%d/%s" % (nats.port, subject), "--progress", "0"] + list(extra)


def source_batches(src, start):
    """The source's POLLUPDATES FORMAT JSON batches after start, as it sends them."""
    c = src.client()
    out, pos = [], start
    while True:
        d = to_dict(c.execute_command("POLLUPDATES", pos, "MAX", 1000, "FORMAT", "JSON"))
        out += [bytes(u) for u in d["updates"]]
        pos = d["next_sequence"]
        if pos >= d["latest_sequence"]:
            return out


def assert_stream_holds(nats, src, start, stream="CDC", consumer="feed"):
    """Every batch after start once, in order, with its headers; returns the messages."""
    msgs = nats.client().messages(stream)
    expected = source_batches(src, start)
    got = [data for _, data in msgs]
    assert len(got) == len(expected) and got == expected, \
        "stream: %d messages, source: %d batches; first difference at %r" % (
            len(got), len(expected), next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None))
    for i, (headers, data) in enumerate(msgs):
        assert headers["Nats-Msg-Id"] == "%s:%d" % (consumer, json.loads(data)["sequence"])
        if i + 1 < len(msgs):
            assert int(headers["Tidekv-Cdc-Position"]) == json.loads(msgs[i + 1][1])["sequence"] - 1
    return msgs


def last_position(nats, stream="CDC"):
    msgs = nats.client().messages(stream)
    return int(msgs[-1][0]["Tidekv-Cdc-Position"]) if msgs else None


def consumer_sequence(src, name="feed"):
    return to_dict(src.client().execute_command("CDC", "INFO", name))["sequence"]


# ---------------------------------------------------------------- arguments and errors

def test_help_documents_the_nats_sink():
    rc, out, _ = run_tool("--help")
    assert rc == 0
    for text in ["nats://HOST[:PORT]/SUBJECT", "--create-stream NAME", "Nats-Msg-Id", "No snapshot"]:
        assert text in out, text


BASE = ["--source", "127.0.0.1:1", "--consumer", "c", "--sink"]


@pytest.mark.parametrize("args,message", [
    (BASE + ["nats:/h:1/s"], "expected nats://HOST[:PORT]/SUBJECT"),
    (BASE + ["nats://h:1"], "the subject is missing"),
    (BASE + ["nats://h:1/"], "the subject is missing"),
    (BASE + ["nats://h:1/a.*"], "'a.*' is not a subject to publish to"),
    (BASE + ["nats://h:1/a.>"], "is not a subject to publish to"),
    (BASE + ["nats://h:1/a..b"], "is not a subject to publish to"),
    (BASE + ["nats://h:1/a b"], "is not a subject to publish to"),
    (BASE + ["nats://u:p@h:1/s"], "takes no user or password"),
    (BASE + ["nats://h:x/s"], "the port must be a number"),
    (BASE + ["nats:///s"], "missing host name"),
    (BASE + ["nats://h/s", "--create-stream", "a.b"], "--create-stream 'a.b': a stream name has no"),
    (BASE + ["redis://h:1", "--create-stream", "S"], "--create-stream is for a nats:// sink"),
])
def test_bad_arguments_exit_2(args, message):
    rc, out, err = run_tool(*args, timeout=10)
    assert (rc, out) == (2, ""), err
    assert err.startswith("tidekv-cdc: ") and message in err, err


def test_unreachable_server(make_server):
    src = make_server()
    port = free_port()
    start = time.monotonic()
    rc, _, err = run_tool("--source", "127.0.0.1:%d" % src.port, "--consumer", "c",
                          "--sink", "nats://127.0.0.1:%d/x" % port)
    assert rc == 1 and "cannot connect to the sink 127.0.0.1:%d" % port in err, err
    assert time.monotonic() - start < 20
    assert src.client().execute_command("CDC", "INFO") == []


def test_server_without_jetstream(make_server):
    src, plain = make_server(), NatsServer(jetstream=False).start()
    try:
        rc, _, err = run_tool(*nats_args(src, plain))
        assert rc == 1 and "JetStream did not answer (is nats-server running with -js?)" in err, err
    finally:
        plain.stop()


def test_missing_stream_without_create_stream(make_server, nats):
    src = make_server()
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 1 and "no JetStream stream holds subject 'cdc.events': create one, or pass --create-stream" in err
    assert src.client().execute_command("CDC", "INFO") == []


def test_stream_that_deletes_consumed_messages(make_server, nats):
    src = make_server()
    reply = nats.client().api("STREAM.CREATE.WQ", {"name": "WQ", "subjects": [SUBJECT], "retention": "workqueue",
                                                   "storage": "file"})
    assert "error" not in reply, reply
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 1 and "stream WQ deletes messages once consumed" in err, err


def test_subject_of_someone_else(make_server, nats):
    src = make_server()
    c = nats.client()
    c.api("STREAM.CREATE.CDC", {"name": "CDC", "subjects": [SUBJECT], "storage": "file"})
    _, _, ack = c.request(SUBJECT, "not ours")
    assert b'"seq":1' in ack, ack
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 1 and "was not published by tidekv-cdc: give tidekv-cdc a subject of its own" in err, err
    src.client().set("k", "v")
    _, _, ack = c.request(SUBJECT, "{}", headers={"Nats-Msg-Id": "other:5", "Tidekv-Cdc-Position": "5"})
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 1 and "'other:5', not from consumer 'feed'" in err, err


def test_refused_message(make_server, nats):
    """A batch larger than the stream's max_msg_size: a clear error, nothing after it sent."""
    src = make_server()
    nats.client().api("STREAM.CREATE.CDC", {"name": "CDC", "subjects": [SUBJECT], "storage": "file",
                                            "max_msg_size": 1000})
    assert run_tool(*nats_args(src, nats, "--once"))[0] == 0
    s = src.client()
    s.set("small", "v")
    s.set("big", "x" * 2000)
    s.set("after", "v")
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 1 and "more than stream CDC's max_msg_size (1000)" in err, err
    assert [json.loads(d)["commands"][0][1] for _, d in nats.client().messages("CDC")] == ["small"]


# ---------------------------------------------------------------- delivering

def test_delivers_every_batch_once_and_resumes(make_server, nats):
    src = make_server()
    s = src.client()
    rc, _, err = run_tool(*nats_args(src, nats, "--once", "--create-stream", "CDC"))
    assert rc == 0 and "created JetStream stream CDC for subject cdc.events" in err, err
    start = consumer_sequence(src)
    s.set("a", "1")
    s.rpush("l", "x", "y")
    s.hset("h", mapping={"f": "v", "g": b"\xff\x00"})  # a binary value: {"base64": …}
    with src.conn() as c:  # a transaction over two databases
        for cmd in (["MULTI"], ["SET", "m", "1"], ["SELECT", 1], ["SADD", "st", "1"], ["EXEC"]):
            c.call(*cmd)
    s.expire("a", 100)
    rc, _, err = run_tool(*nats_args(src, nats, "--once", "--create-stream", "CDC"))
    assert rc == 0, err
    msgs = assert_stream_holds(nats, src, start)
    assert len(msgs) == 5
    assert last_position(nats) == seq(s) == consumer_sequence(src)
    # resumes after the last message, once the stream exists without --create-stream
    s.delete("l")
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 0 and "created" not in err, err
    assert len(assert_stream_holds(nats, src, start)) == 6


def test_filtered_batches_move_the_position(make_server, nats):
    src = make_server()
    assert run_tool(*nats_args(src, nats, "--once", "--create-stream", "CDC", "--match", "user:*"))[0] == 0
    s = src.client()
    s.set("user:1", "a")
    s.set("order:1", "b")
    s.set("order:2", "c")
    rc, _, err = run_tool(*nats_args(src, nats, "--once", "--match", "user:*"))
    assert rc == 0, err
    msgs = nats.client().messages("CDC")
    assert [json.loads(d)["commands"] for _, d in msgs] == [[["SET", "user:1", "a"]]]
    assert int(msgs[0][0]["Tidekv-Cdc-Position"]) == seq(s) == consumer_sequence(src)


@pytest.mark.soak  # long: runs under make soak
def test_killed_before_its_first_message(make_server, nats, tools):
    """A new consumer that has published nothing is not acknowledged, so the next run takes it
    over instead of taking it for another sink's."""
    src = make_server()
    t = tools(*nats_args(src, nats, "--create-stream", "CDC"))
    wait_until(lambda: src.client().execute_command("CDC", "INFO") != [], msg="the consumer")
    start = consumer_sequence(src)
    time.sleep(1.5)  # past the first acknowledgement's time
    assert t.proc.poll() is None, t.log()
    assert to_dict(src.client().execute_command("CDC", "INFO", "feed"))["acked"] == 0
    t.kill9()
    src.client().set("k", "v")
    rc, _, err = run_tool(*nats_args(src, nats, "--once"))
    assert rc == 0, err
    assert len(assert_stream_holds(nats, src, start)) == 1


@pytest.mark.soak  # long: runs under make soak
@pytest.mark.parametrize("dedup", [True, False], ids=["dedup", "no-dedup"])
def test_kill9_and_nats_restart_under_load(make_server, nats, tools, dedup):
    """With JetStream's duplicate window (--create-stream: 2 minutes) and with the shortest one (100 ms),
    where only the position read back from the stream keeps each batch once."""
    src = make_server()
    if not dedup:
        reply = nats.client().api("STREAM.CREATE.CDC", {"name": "CDC", "subjects": [SUBJECT], "storage": "file",
                                                        "duplicate_window": 100000000})
        assert "error" not in reply, reply
    t = tools(*nats_args(src, nats, "--create-stream", "CDC"))
    wait_until(lambda: src.client().execute_command("CDC", "INFO") != [], msg="the consumer")
    start = consumer_sequence(src)
    stop = threading.Event()
    writer = threading.Thread(target=rpush_heavy_writer, args=(src, stop, 7))
    writer.start()
    rnd = random.Random(7)
    try:
        for i in range(5):
            time.sleep(rnd.uniform(0.3, 1.0))
            if i == 2:
                nats.restart()  # under the running program, which reconnects
                wait_until(lambda: "reconnecting" in t.log() and last_position(nats) > start, timeout=30,
                           msg="the program back after nats-server's restart")
            t.kill9()
            t = tools(*nats_args(src, nats))
        time.sleep(1)
    finally:
        stop.set()
        writer.join()
    s = src.client()
    wait_until(lambda: last_position(nats) == seq(s), timeout=60, msg="lag 0")
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait(10) == 0, t.log()
    assert consumer_sequence(src) == seq(s)
    msgs = assert_stream_holds(nats, src, start)
    assert len(msgs) > 500
