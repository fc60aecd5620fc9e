"""requirepass / AUTH / HELLO AUTH."""

import pytest
import redis

from conftest import IS_REDIS, RespError

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


@pytest.fixture(scope="module")
def auth_server():
    from conftest import Server
    s = Server(["--requirepass", "secret"])
    try:
        s.start()
        yield s
    finally:
        s.cleanup()


def test_commands_before_auth_are_refused(auth_server):
    with auth_server.conn() as c:
        assert c.call("PING") == NOAUTH
        assert c.call("GET", "a") == NOAUTH
        assert c.call("SET", "a", "1") == NOAUTH
        assert c.call("SELECT", "1") == NOAUTH
        assert c.call("CLIENT", "ID") == NOAUTH
        assert c.call("MULTI") == NOAUTH
        assert c.call("CONFIG", "GET", "requirepass") == NOAUTH
        # unknown commands are reported as such even before AUTH
        assert c.call("NOSUCHCMD") == "ERR unknown command 'NOSUCHCMD', with args beginning with: "
        # the connection stays open
        assert c.call("AUTH", "secret") == "OK"
        assert c.call("PING") == "PONG"
        assert c.call("GET", "a") is None


def test_wrong_password(auth_server):
    with auth_server.conn() as c:
        assert c.call("AUTH", "wrong") == WRONGPASS
        assert c.call("AUTH", "default", "wrong") == WRONGPASS
        assert c.call("AUTH", "nosuchuser", "secret") == WRONGPASS
        assert c.call("AUTH", "") == WRONGPASS
        assert c.call("GET", "a") == NOAUTH
        assert c.call("AUTH") == "ERR wrong number of arguments for 'auth' command"
        assert c.call("AUTH", "a", "b", "c") == "ERR syntax error"
        # many failures do not lock the connection
        for _ in range(20):
            assert c.call("AUTH", "nope") == WRONGPASS
        assert c.call("AUTH", "secret") == "OK"


def test_auth_default_user(auth_server):
    with auth_server.conn() as c:
        assert c.call("AUTH", "default", "secret") == "OK"
        assert c.call("SET", "k", "v") == "OK"
        assert c.call("GET", "k") == b"v"


def test_auth_is_per_connection(auth_server):
    with auth_server.conn() as a, auth_server.conn() as b:
        assert a.call("AUTH", "secret") == "OK"
        assert a.call("PING") == "PONG"
        assert b.call("PING") == NOAUTH


def test_quit_allowed_before_auth(auth_server):
    with auth_server.conn() as c:
        c.send(b"QUIT\r\n")
        assert c.read_raw() == b"+OK\r\n"
        assert c.is_closed()


def test_hello_requires_auth(auth_server):
    with auth_server.conn() as c:
        reply = c.call("HELLO", "3")
        assert isinstance(reply, RespError)
        assert reply.startswith("NOAUTH HELLO must be called with the client already authenticated")
        # still RESP2, still unauthenticated
        assert c.call_raw("GET", "a") == b"-NOAUTH Authentication required.\r\n"


def test_hello_3_auth(auth_server):
    with auth_server.conn() as c:
        assert c.call("HELLO", "3", "AUTH", "default", "wrong") == WRONGPASS
        d = c.call("HELLO", "3", "AUTH", "default", "secret")
        assert isinstance(d, dict)
        assert d[b"proto"] == 3
        assert c.call_raw("GET", "nokey") == b"_\r\n"
    with auth_server.conn() as c:
        d = c.call("HELLO", "2", "AUTH", "default", "secret", "SETNAME", "authed")
        assert isinstance(d, list)
        assert c.call("CLIENT", "GETNAME") == b"authed"
        assert c.call("PING") == "PONG"


def test_hello_auth_after_authenticated(auth_server):
    with auth_server.conn() as c:
        assert c.call("AUTH", "secret") == "OK"
        d = c.call("HELLO", "3")
        assert d[b"proto"] == 3


def test_redis_py_password(auth_server):
    cl = auth_server.client(password="secret")
    try:
        assert cl.ping() is True
        cl.set("py", "1")
        assert cl.get("py") == b"1"
    finally:
        cl.close()
    cl = auth_server.client(username="default", password="secret")
    try:
        assert cl.get("py") == b"1"
    finally:
        cl.close()
    cl = auth_server.client()
    try:
        with pytest.raises(redis.AuthenticationError, match="^Authentication required.$"):
            cl.get("py")
    finally:
        cl.close()
    cl = auth_server.client(password="bad")
    try:
        with pytest.raises(redis.RedisError, match="WRONGPASS|invalid username-password"):
            cl.get("py")
    finally:
        cl.close()


def test_config_get_requirepass(auth_server):
    with auth_server.conn() as c:
        assert c.call("AUTH", "secret") == "OK"
        assert c.call("CONFIG", "GET", "requirepass") == [b"requirepass", b"secret"]


# Commands a client may send before AUTH, as in Redis.
NOAUTH_ALLOWED = {"auth", "hello", "quit", "reset"}


def test_every_command_needs_auth_first(auth_server):
    with auth_server.conn() as c:
        assert c.call("AUTH", "secret") == "OK"
        infos = c.call("COMMAND", "INFO")
    arity = {}
    for info in infos:
        name = info[0].decode() if isinstance(info[0], bytes) else info[0]
        arity[name] = int(info[1])
    with auth_server.conn() as c:
        for name, n in sorted(arity.items()):
            if name in NOAUTH_ALLOWED:
                continue
            args = ["x"] * ((n if n > 0 else -n) - 1)
            reply = c.call(name, *args)
            # Redis checks a container command's subcommand (and DEBUG's permission) before AUTH;
            # nothing runs either way.
            refused = isinstance(reply, RespError) and ("unknown subcommand" in reply or "not allowed" in reply)
            # A refused EXEC ends its transaction: EXECABORT with the reason, as Redis answers.
            execabort = name == "exec" and reply == "EXECABORT Transaction discarded because of: " + NOAUTH
            assert reply == NOAUTH or execabort or (IS_REDIS and "NOAUTH" in reply) or refused, (name, reply)


def test_unauthenticated_requests_must_be_small(auth_server):
    # As in Redis: before AUTH, at most 10 arguments and 16 KiB per argument.
    with auth_server.conn() as c:
        assert c.call(*["x"] * 11) == "ERR Protocol error: unauthenticated multibulk length"
    with auth_server.conn() as c:
        assert c.call("AUTH", "y" * 16385) == "ERR Protocol error: unauthenticated bulk length"
    with auth_server.conn() as c:
        assert c.call("AUTH", "y" * 16384) == WRONGPASS
        assert c.call("AUTH", "secret") == "OK"
        assert c.call("SET", "big", "v" * 100_000) == "OK"
        assert c.call("DEL", *["k%d" % i for i in range(20)]) == 0
        c.call("DEL", "big")
