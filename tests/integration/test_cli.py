"""The stock redis-cli and redis-benchmark work against the server."""

import re
import shutil
import subprocess

import pytest

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def cli(server, *args, stdin=None, timeout=30):
    cmd = [REDIS_CLI, "-h", "127.0.0.1", "-p", str(server.port)] + [str(a) for a in args]
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


@pytest.fixture(autouse=True)
def need_tools():
    for tool in (REDIS_CLI, REDIS_BENCHMARK):
        if not shutil.which(tool):
            pytest.skip("%s not installed" % tool)


def test_cli_set_get(server, r):
    assert cli(server, "set", "a", "b") == (0, "OK\n", "")
    assert cli(server, "get", "a") == (0, "b\n", "")
    assert r.get("a") == b"b"
    rc, out, _ = cli(server, "get", "missing")
    assert rc == 0 and out == "\n"
    assert cli(server, "ping") == (0, "PONG\n", "")
    assert cli(server, "incr", "n")[1] == "1\n"
    assert cli(server, "dbsize")[1] == "2\n"


def test_cli_errors_are_printed(server):
    rc, out, err = cli(server, "nosuchcommand")
    assert "ERR unknown command 'nosuchcommand'" in out + err
    rc, out, err = cli(server, "get")
    assert "ERR wrong number of arguments for 'get' command" in out + err


def test_cli_stdin(server, r):
    script = b"set x 1\nincr x\nincrby x 10\nget x\nset y \"hello world\"\nget y\nmget x y nokey\n"
    rc, out, err = cli(server, stdin=script)
    assert rc == 0, err
    assert out.splitlines() == ["OK", "2", "12", "12", "OK", "hello world", "12", "hello world", ""]
    assert r.get("y") == b"hello world"


def test_cli_db_select(server, r):
    assert cli(server, "-n", "3", "set", "k", "in3")[1] == "OK\n"
    assert cli(server, "-n", "3", "get", "k")[1] == "in3\n"
    assert r.get("k") is None


def test_cli_pipe_mode(server, r):
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k)
                       for k in (b"pipe:%d" % i for i in range(1000)))
    rc, out, err = cli(server, "--pipe", stdin=payload, timeout=60)
    assert rc == 0, out + err
    assert "errors: 0, replies: 1000" in out + err
    assert r.dbsize() == 1000


def test_cli_scan_and_info(server, r):
    for i in range(30):
        r.set("scan:%d" % i, i)
    r.set("other", 1)
    rc, out, _ = cli(server, "--scan", "--pattern", "scan:*")
    assert rc == 0
    assert sorted(out.split()) == sorted("scan:%d" % i for i in range(30))
    rc, out, _ = cli(server, "info", "server")
    assert rc == 0
    assert re.search(r"^redis_version:\d+\.\d+\.\d+", out, re.M)
    assert "tcp_port:%d" % server.port in out


def test_cli_resp3(server, r):
    r.set("k", "v")
    rc, out, err = cli(server, "-3", "get", "k")
    assert rc == 0 and out == "v\n", out + err
    rc, out, err = cli(server, "-3", "config", "get", "port")
    assert rc == 0 and out.split() == ["port", str(server.port)], out + err


def test_cli_auth(make_server):
    s = make_server(["--requirepass", "secret"])
    rc, out, err = cli(s, "--no-auth-warning", "-a", "secret", "set", "k", "v")
    assert (rc, out) == (0, "OK\n"), err
    rc, out, err = cli(s, "get", "k")
    assert "NOAUTH Authentication required." in out + err


def run_benchmark(server, *extra):
    cmd = [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(server.port), "-t", "set,get,incr",
           "-n", "2000", "-q"] + list(extra)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_redis_benchmark(server, r):
    rc, out, err = run_benchmark(server)
    assert rc == 0, out + err
    text = out + err
    assert "ERR" not in text and "rror" not in text, text
    for name in ("SET", "GET", "INCR"):
        assert re.search(r"^\s*%s: [\d.]+ requests per second" % name, out.replace("\r", "\n"), re.M), out
    assert int(r.get("counter:__rand_int__")) == 2000


def test_redis_benchmark_pipelined(server, r):
    rc, out, err = run_benchmark(server, "-P", "16", "-c", "4")
    assert rc == 0, out + err
    assert "ERR" not in out + err and "rror" not in out + err, out + err


def test_redis_benchmark_reads_server_config(server):
    """redis-benchmark asks CONFIG GET save/appendonly; a server that cannot
    answer makes it print a warning."""
    rc, out, err = run_benchmark(server)
    assert rc == 0
    assert "Could not fetch server CONFIG" not in out + err, out + err
