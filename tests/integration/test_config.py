"""Server options: command line, config file, timeout, maxclients."""

import re
import socket
import subprocess
import time

import pytest
import redis

from conftest import IS_REDIS, Server, free_port, tidekv_only


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

@pytest.mark.soak  # long: runs under make soak
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


@pytest.mark.soak  # long: runs under make soak
def test_timeout_spares_active_client(make_server):
    s = make_server(["--timeout", "1"])
    with s.conn() as c:
        for _ in range(8):
            assert c.call("PING") == "PONG"
            time.sleep(0.3)
        assert c.call("SET", "k", "v") == "OK"


@pytest.mark.soak  # long: runs under make soak
def test_timeout_zero_never_closes(make_server):
    s = make_server(["--timeout", "0"])
    with s.conn() as c:
        c.call("PING")
        assert not c.is_closed(timeout=2.2)
        assert c.call("PING") == "PONG"


@pytest.mark.soak  # long: runs under make soak
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


# ---------------------------------------------------------------- Redis's options with no meaning here

def config_map(c, pattern):
    reply = c.call("CONFIG", "GET", pattern)
    return {reply[i].decode(): reply[i + 1].decode() for i in range(0, len(reply), 2)}


def test_redis_tuning_options_set_and_get(make_server):
    """A tool tuning Redis sets its encoding, eviction and background options: each is taken and
    CONFIG GET answers what Redis would."""
    s = make_server()
    with s.conn() as c:
        for name, value, shown in [("hash-max-ziplist-value", "10", "10"),
                                   ("list-compress-depth", "2", "2"),
                                   ("zset-max-listpack-entries", "3", "3"),
                                   ("set-max-intset-entries", "1000", "1000"),
                                   ("stream-node-max-entries", "50", "50"),
                                   ("stream-node-max-bytes", "8kb", "8192"),
                                   ("maxmemory", "1gb", "1073741824"),
                                   ("maxmemory-policy", "ALLKEYS-LRU", "allkeys-lru"),
                                   ("lazyfree-lazy-user-del", "yes", "yes"),
                                   ("active-defrag-cycle-max", "50", "50"),
                                   ("hz", "1000", "500")]:
            assert c.call("CONFIG", "SET", name, value) == "OK", name
            assert cfg(c, name) == shown, name
        # the old ziplist names and the listpack names are one option
        assert cfg(c, "hash-max-listpack-value") == "10"
        assert cfg(c, "zset-max-ziplist-entries") == "3"
        assert c.call("CONFIG", "SET", "list-max-ziplist-size", "-3", "slave-lazy-flush", "yes") == "OK"
        assert cfg(c, "list-max-listpack-size") == "-3"
        assert cfg(c, "replica-lazy-flush") == "yes"
        assert c.call("SET", "k", "v") == "OK" and c.call("GET", "k") == b"v"


def test_redis_options_config_get_globs(make_server):
    s = make_server()
    with s.conn() as c:
        assert config_map(c, "*ziplist*") == {
            "hash-max-ziplist-entries": "512", "hash-max-ziplist-value": "64",
            "zset-max-ziplist-entries": "128", "zset-max-ziplist-value": "64",
            "list-max-ziplist-size": "-2"}
        assert config_map(c, "lazyfree-*") == {
            "lazyfree-lazy-eviction": "no", "lazyfree-lazy-expire": "no", "lazyfree-lazy-server-del": "no",
            "lazyfree-lazy-user-del": "no", "lazyfree-lazy-user-flush": "no"}
        assert config_map(c, "active-defrag-*") == {
            "active-defrag-ignore-bytes": "104857600", "active-defrag-threshold-lower": "10",
            "active-defrag-threshold-upper": "100", "active-defrag-cycle-min": "1",
            "active-defrag-cycle-max": "25", "active-defrag-max-scan-fields": "1000"}
        memory = config_map(c, "maxmemory*")
        assert set(memory) == {"maxmemory", "maxmemory-clients", "maxmemory-policy", "maxmemory-samples",
                               "maxmemory-eviction-tenacity"}
        assert (memory["maxmemory"], memory["maxmemory-policy"], memory["maxmemory-samples"]) == \
            ("0", "noeviction", "5")
        assert config_map(c, "H[Z]") == {"hz": "10"}


def test_redis_options_bad_values_refused(make_server):
    s = make_server()
    with s.conn() as c:
        for name, value, why in [
                ("maxmemory-policy", "lru", "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                 "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
                ("activedefrag", "maybe", "argument must be 'yes' or 'no'"),
                ("lazyfree-lazy-eviction", "1", "argument must be 'yes' or 'no'"),
                ("maxmemory", "1xb", "argument must be a memory value"),
                ("hash-max-listpack-entries", "1kb", "argument couldn't be parsed into an integer"),
                ("hz", "12abc", "argument couldn't be parsed into an integer"),
                ("active-defrag-cycle-max", "100", "argument must be between 1 and 99 inclusive"),
                ("list-compress-depth", "-1", "argument must be between 0 and 2147483647 inclusive")]:
            assert c.call("CONFIG", "SET", name, value) == \
                "ERR CONFIG SET failed (possibly related to argument '%s') - %s" % (name, why)
        # all or nothing: the good pair before the bad one is not applied either
        assert c.call("CONFIG", "SET", "hz", "20", "maxmemory-policy", "lru").startswith("ERR CONFIG SET failed")
        assert (cfg(c, "hz"), cfg(c, "maxmemory-policy"), cfg(c, "list-compress-depth")) == ("10", "noeviction", "0")


def test_unknown_names_still_refused(make_server):
    s = make_server()
    with s.conn() as c:
        for name in ("hash-max-ziplist-whatever", "nosuch-option", "maxmemory-policies"):
            assert c.call("CONFIG", "SET", name, "1") == \
                "ERR Unknown option or number of arguments for CONFIG SET - '%s'" % name
            assert c.call("CONFIG", "GET", name) == []


def test_redis_conf_lines_start_the_server(make_server, tmp_path):
    """Lines of Debian's redis.conf that mean nothing on RocksDB do not stop start-up; their
    values are kept."""
    conf = write_conf(tmp_path, "\n".join([
        "stop-writes-on-bgsave-error yes",
        "rdbcompression yes",
        "rdbchecksum yes",
        'dbfilename "dump.rdb"',
        "rdb-del-sync-files no",
        "lazyfree-lazy-eviction no",
        "lazyfree-lazy-expire yes",
        "replica-lazy-flush no",
        'appendfilename "appendonly.aof"',
        'appenddirname "appendonlydir"',
        "no-appendfsync-on-rewrite no",
        "auto-aof-rewrite-percentage 100",
        "auto-aof-rewrite-min-size 64mb",
        "aof-load-truncated yes",
        "aof-use-rdb-preamble yes",
        "aof-timestamp-enabled no",
        "hash-max-listpack-entries 256",
        "hash-max-ziplist-value 10",
        "list-max-listpack-size -2",
        "list-compress-depth 1",
        "set-max-intset-entries 512",
        "zset-max-listpack-entries 128",
        "zset-max-listpack-value 64",
        "hll-sparse-max-bytes 3000",
        "stream-node-max-bytes 4096",
        "stream-node-max-entries 100",
        "activerehashing yes",
        "maxmemory 2gb",
        "maxmemory-policy volatile-ttl",
        "hz 20",
        "dynamic-hz yes",
        "aof-rewrite-incremental-fsync yes",
        "rdb-save-incremental-fsync yes",
        "jemalloc-bg-thread yes",
        "",
    ]))
    s = make_server(config_file=conf)
    with s.conn() as c:
        assert cfg(c, "hash-max-listpack-entries") == "256"
        assert cfg(c, "hash-max-listpack-value") == "10"
        assert cfg(c, "list-compress-depth") == "1"
        assert cfg(c, "lazyfree-lazy-expire") == "yes"
        assert cfg(c, "maxmemory") == str(2 * 1024 ** 3)
        assert cfg(c, "maxmemory-policy") == "volatile-ttl"
        assert cfg(c, "hz") == "20"
        assert cfg(c, "dbfilename") == "dump.rdb"
        assert c.call("SET", "k", "v") == "OK" and c.call("GET", "k") == b"v"


@tidekv_only
def test_bad_redis_option_value_in_config_file(tmp_path):
    conf = write_conf(tmp_path, "hz 10\nmaxmemory-policy lru\n")
    s = Server(config_file=conf)
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "maxmemory-policy" in text and "allkeys-lru" in text, text
    assert mentions_line(text, 2), "line number not reported:\n" + text


# ---------------------------------------------------------------- redis.conf's process options

def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def reachable(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, port))
            s.sendall(b"PING\r\n")
            return s.recv(64) == b"+PONG\r\n"
    except OSError:
        return False


@tidekv_only
@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
def test_bind_listens_on_every_address(make_server):
    """redis.conf's `bind 127.0.0.1 -::1`: both loopbacks answer."""
    s = make_server(["--bind", "127.0.0.1 -::1"])
    assert reachable("127.0.0.1", s.port) and reachable("::1", s.port)
    with s.conn() as c:
        assert cfg(c, "bind") == "127.0.0.1 -::1"


@tidekv_only
def test_bind_skips_an_optional_address_it_cannot_listen_on(make_server):
    # 192.0.2.1 (TEST-NET-1) is on no interface of this machine
    s = make_server(["--bind", "127.0.0.1 -192.0.2.1", "--protected-mode", "no"])
    assert reachable("127.0.0.1", s.port)
    assert "192.0.2.1" in s.log() and "skipped" in s.log()


@tidekv_only
def test_bind_fails_on_an_address_it_must_listen_on():
    s = Server(["--bind", "127.0.0.1 192.0.2.1", "--protected-mode", "no"])
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "could not listen on 192.0.2.1" in text, text


@tidekv_only
@pytest.mark.parametrize("value, why", [("127.0.0.1 nonsense", "'nonsense' is not an IPv4 or IPv6 address"),
                                        (" ".join(["127.0.0.1"] * 17), "Too many bind addresses specified.")])
def test_bind_refuses_what_is_not_an_address(value, why):
    s = Server(["--bind", value])
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "bind" in text and why in text, text


@tidekv_only
def test_protected_mode_counts_every_bind_address():
    s = Server(["--bind", "127.0.0.1 *"])
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "protected-mode" in text, text


def test_pidfile_holds_the_pid_while_running(make_server, tmp_path):
    pidfile = tmp_path / "server.pid"
    s = make_server(["--pidfile", str(pidfile)])
    assert pidfile.read_text().strip() == str(s.proc.pid)
    with s.conn() as c:
        assert cfg(c, "pidfile") == str(pidfile)
    s.stop()
    assert not pidfile.exists()


def test_accepted_connections_get_tcp_keepalive(make_server):
    s = make_server(["--tcp-keepalive", "100"])
    with s.conn() as c:
        assert cfg(c, "tcp-keepalive") == "100"
        out = subprocess.run(["ss", "-tno", "state", "established", "( sport = :%d )" % s.port],
                             capture_output=True, text=True, check=True).stdout
        assert "keepalive" in out, out
        assert c.call("CONFIG", "SET", "tcp-keepalive", "0") == "OK"
    with s.conn() as c:
        out = subprocess.run(["ss", "-tno", "state", "established", "( sport = :%d )" % s.port],
                             capture_output=True, text=True, check=True).stdout
        assert "keepalive" not in out, out


def test_process_and_replication_options_set_and_get(make_server):
    s = make_server()
    with s.conn() as c:
        assert config_map(c, "repl-diskless-*") == {
            "repl-diskless-sync": "yes", "repl-diskless-sync-delay": "5", "repl-diskless-sync-max-replicas": "0",
            "repl-diskless-load": "disabled"}
        for name, value in [("replica-read-only", "no"), ("slave-priority", "10"), ("slowlog-log-slower-than", "-1"),
                            ("slowlog-max-len", "1000"), ("latency-monitor-threshold", "100"),
                            ("oom-score-adj", "absolute"), ("oom-score-adj-values", "0 100 900"),
                            ("repl-diskless-load", "swapdb"), ("acllog-max-len", "10")]:
            assert c.call("CONFIG", "SET", name, value) == "OK", name
            assert cfg(c, name) == value, name
        assert cfg(c, "replica-priority") == "10"
        for name, value, why in [
                ("oom-score-adj-values", "0 2001 800", "Invalid oom-score-adj-values, elements must be between -2000 and 2000."),
                ("oom-score-adj-values", "0 200", "wrong number of arguments"),
                ("repl-diskless-load", "maybe", "argument(s) must be one of the following: disabled, on-empty-db, swapdb"),
                ("notify-keyspace-events", "q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
                ("save", "900", "Invalid save parameters")]:
            assert c.call("CONFIG", "SET", name, value) == \
                "ERR CONFIG SET failed (possibly related to argument '%s') - %s" % (name, why)
        for name in ("daemonize", "tcp-backlog", "disable-thp", "always-show-logo", "set-proc-title"):
            assert c.call("CONFIG", "SET", name, cfg(c, name)).startswith("ERR CONFIG SET failed"), name


@pytest.mark.parametrize("value, shown", [("KEA", "AKE"), ("Kx", "xK"), ("", ""), ("A", "A"),
                                          ("g$lshzxetd", "A"), ("g$lshzxet", "g$lshzxet"), ("AmnKE", "AKEm"),
                                          ("En", "nE"), ("KEnm", "nKEm"), ("e$", "$e")])
def test_notify_keyspace_events_shown_as_redis_shows_them(server, r, value, shown):
    try:
        r.config_set("notify-keyspace-events", value)
        assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}
    finally:
        r.config_set("notify-keyspace-events", "")


@tidekv_only
def test_save_lines_of_a_file_add_up(make_server, tmp_path):
    conf = write_conf(tmp_path, "save 900 1\nsave 300 10\nsave 60 10000\n")
    s = make_server(config_file=conf)
    with s.conn() as c:
        assert cfg(c, "save") == "900 1 300 10 60 10000"
    conf = write_conf(tmp_path, "save 900 1\nsave \"\"\n", name="reset.conf")
    s = make_server(config_file=conf)
    with s.conn() as c:
        assert cfg(c, "save") == ""


@tidekv_only
def test_daemonize_yes_is_refused_with_a_reason(tmp_path):
    s = Server(config_file=write_conf(tmp_path, "daemonize yes\n"))
    try:
        text = run_expect_failure(s.command_line())
    finally:
        s.cleanup()
    assert "daemonize" in text and "foreground" in text and mentions_line(text, 1), text


@pytest.mark.parametrize("command, one_of_them", [("CONFIG", "GET"), ("CLIENT", "KILL")])
def test_subcommand_help_lists_the_subcommands(r, command, one_of_them):
    """The unknown-subcommand error says 'Try <COMMAND> HELP.': HELP answers, as in Redis."""
    lines = r.execute_command(command, "HELP")
    header = lines[0].decode() if isinstance(lines[0], bytes) else lines[0]
    assert header == "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % command
    words = [(x.decode() if isinstance(x, bytes) else x).split()[0] for x in lines[1:] if x.strip()]
    assert "HELP" in words and one_of_them in words, words


def test_config_rewrite_keeps_what_was_set(make_server, tmp_path):
    conf = tmp_path / "server.conf"
    conf.write_text("# my settings\nmaxclients 100\nsave 900 1\nsave 300 10\n\n# the end\ntimeout 7\n")
    s = make_server(config_file=conf)
    c = s.client()
    c.config_set("maxclients", 200)
    c.config_set("notify-keyspace-events", "KEA")
    c.config_set("save", "60 5")
    assert c.config_rewrite()
    text = conf.read_text()
    assert "# my settings" in text and "# the end" in text
    s.restart()
    c = s.client()
    assert c.config_get("maxclients") == {"maxclients": "200"}
    assert c.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
    if not IS_REDIS:  # the redis harness passes --save "" on its command line
        assert c.config_get("save") == {"save": "60 5"}
    assert c.config_get("timeout") == {"timeout": "7"}


def test_config_rewrite_without_a_file(r):
    with pytest.raises(redis.exceptions.ResponseError, match="The server is running without a config file"):
        r.config_rewrite()
