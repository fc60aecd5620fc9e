"""Server options: command line, config file, timeout, maxclients."""

import re
import socket
import subprocess
import time

import pytest

from conftest import Server, free_port, tidekv_only


def write_conf(tmp_path, text, name="tidekv.conf"):
    p = tmp_path / name
    p.write_text(text)
    return p


def cfg(c, name):
    reply = c.call("CONFIG", "GET", name)
    assert len(reply) == 2, reply
    return reply[1].decode()


# ---------------------------------------------------------------- command line

def test_command_line_options(make_server):
    s = make_server(["--timeout", "5", "--maxclients", "100", "--databases", "8",
                     "--loglevel", "warning"])
    with s.conn() as c:
        assert cfg(c, "timeout") == "5"
        assert cfg(c, "maxclients") == "100"
        assert cfg(c, "databases") == "8"
        assert cfg(c, "loglevel") == "warning"
        assert cfg(c, "port") == str(s.port)
        assert cfg(c, "bind") == "127.0.0.1"
        assert c.call("SELECT", "7") == "OK"
        assert c.call("SELECT", "8") == "ERR DB index is out of range"


# ---------------------------------------------------------------- config file

def test_config_file_honoured_and_cli_port_overrides(make_server, tmp_path):
    other_port = free_port()
    conf = write_conf(tmp_path, "\n".join([
        "# tidekv test configuration",
        "",
        "   # an indented comment",
        "port %d" % other_port,
        "timeout 7",
        "maxclients 42",
        "databases 4",
        "loglevel warning",
        "",
    ]))
    s = make_server(config_file=conf)
    assert s.port != other_port
    with s.conn() as c:
        assert cfg(c, "port") == str(s.port)
        assert cfg(c, "timeout") == "7"
        assert cfg(c, "maxclients") == "42"
        assert cfg(c, "databases") == "4"
        assert cfg(c, "loglevel") == "warning"
        assert c.call("SELECT", "3") == "OK"
        assert c.call("SELECT", "4") == "ERR DB index is out of range"
    # nothing listens on the port named in the file
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", other_port), timeout=1).close()


def test_config_file_quoted_value(make_server, tmp_path):
    conf = write_conf(tmp_path, 'requirepass "two words"\n')
    s = make_server(config_file=conf)
    with s.conn() as c:
        assert c.call("GET", "a") == "NOAUTH Authentication required."
        assert c.call("AUTH", "two words") == "OK"
        assert c.call("PING") == "PONG"


def test_config_file_keywords_case_insensitive(make_server, tmp_path):
    conf = write_conf(tmp_path, "TIMEOUT 9\nMaxClients 33\n")
    s = make_server(config_file=conf)
    with s.conn() as c:
        assert cfg(c, "timeout") == "9"
        assert cfg(c, "maxclients") == "33"


def test_command_line_overrides_config_file(make_server, tmp_path):
    conf = write_conf(tmp_path, "timeout 7\nmaxclients 42\n")
    s = make_server(["--timeout", "11"], config_file=conf)
    with s.conn() as c:
        assert cfg(c, "timeout") == "11"
        assert cfg(c, "maxclients") == "42"


# ---------------------------------------------------------------- bad configuration (tidekv only)

def run_expect_failure(cmd, timeout=15):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail("server did not exit on a bad configuration; output:\n%s"
                    % out.decode("utf-8", "replace"))
    text = out.decode("utf-8", "replace")
    assert proc.returncode != 0, "server exited 0 on bad configuration:\n" + text
    return text


def mentions_line(text, n):
    return re.search(r"line\D{0,6}%d\b" % n, text, re.I) or re.search(r":%d\b" % n, text)


@tidekv_only
def test_unknown_option_in_config_file(tmp_path):
    conf = write_conf(tmp_path, "# comment\ntimeout 5\nnosuchoption 1\n")
    s = Server(config_file=conf)
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "nosuchoption" in text, text
    assert mentions_line(text, 3), "line number not reported:\n" + text


@tidekv_only
def test_malformed_value_in_config_file(tmp_path):
    conf = write_conf(tmp_path, "\n\ntimeout abc\n")
    s = Server(config_file=conf)
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "timeout" in text, text
    assert mentions_line(text, 3), "line number not reported:\n" + text


@tidekv_only
def test_malformed_maxclients_in_config_file(tmp_path):
    conf = write_conf(tmp_path, "maxclients lots\n")
    s = Server(config_file=conf)
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "maxclients" in text, text
    assert mentions_line(text, 1), "line number not reported:\n" + text


@tidekv_only
def test_unknown_option_on_command_line():
    s = Server(["--nosuchoption", "1"])
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "nosuchoption" in text, text


@tidekv_only
def test_malformed_value_on_command_line():
    s = Server(["--databases", "many"])
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "databases" in text, text


@tidekv_only
def test_missing_config_file(tmp_path):
    s = Server(config_file=tmp_path / "does-not-exist.conf")
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "does-not-exist.conf" in text, text


# ---------------------------------------------------------------- timeout

def test_timeout_closes_idle_client(make_server):
    s = make_server(["--timeout", "1"])
    with s.conn() as c:
        assert c.call("PING") == "PONG"
        time.sleep(0.6)
        assert c.call("PING") == "PONG"  # activity resets the idle clock
        t0 = time.monotonic()
        assert c.is_closed(timeout=5), "idle client not closed with timeout 1"
        elapsed = time.monotonic() - t0
        assert 0.9 <= elapsed <= 3.0, elapsed


def test_timeout_spares_active_client(make_server):
    s = make_server(["--timeout", "1"])
    with s.conn() as c:
        for _ in range(8):
            assert c.call("PING") == "PONG"
            time.sleep(0.3)
        assert c.call("SET", "k", "v") == "OK"


def test_timeout_zero_never_closes(make_server):
    s = make_server(["--timeout", "0"])
    with s.conn() as c:
        c.call("PING")
        assert not c.is_closed(timeout=2.2)
        assert c.call("PING") == "PONG"


def test_config_set_timeout_applies(make_server):
    s = make_server()
    with s.conn() as admin:
        assert admin.call("CONFIG", "SET", "timeout", "1") == "OK"
    with s.conn() as c:
        c.call("PING")
        assert c.is_closed(timeout=5)


# ---------------------------------------------------------------- maxclients

def open_pinged(s):
    c = s.conn()
    assert c.call("PING") == "PONG"
    return c


def test_maxclients(make_server):
    s = make_server(["--maxclients", "3"])
    conns = [open_pinged(s) for _ in range(3)]
    try:
        with s.conn() as extra:
            # the server sends the error without waiting for a command
            assert extra.read_raw() == b"-ERR max number of clients reached\r\n"
            assert extra.is_closed(timeout=3)
        # the existing clients are unaffected
        for c in conns:
            assert c.call("PING") == "PONG"
        conns.pop().close()
        time.sleep(0.3)
        conns.append(open_pinged(s))
    finally:
        for c in conns:
            c.close()


def test_maxclients_redis_py_error(make_server):
    import redis
    s = make_server(["--maxclients", "1"])
    first = s.conn()
    try:
        assert first.call("PING") == "PONG"
        cl = s.client()
        with pytest.raises(redis.ConnectionError):
            cl.ping()
        cl.close()
    finally:
        first.close()


def test_config_set_maxclients(make_server):
    s = make_server()
    admin = open_pinged(s)
    try:
        assert admin.call("CONFIG", "SET", "maxclients", "2") == "OK"
        second = open_pinged(s)
        with s.conn() as extra:
            assert extra.read_raw() == b"-ERR max number of clients reached\r\n"
        second.close()
    finally:
        admin.close()
