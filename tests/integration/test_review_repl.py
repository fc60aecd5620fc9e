"""Review of issue 16's first part (replication): defects found by reading the code, each shown
by a test. A still-present bug is an xfail(strict=True) whose reason says what goes wrong."""
import time

import pytest
import redis

from conftest import RespError, Simple, tidekv_only
from test_replication import dataset, info_repl, start_pair, wait_synced

pytestmark = pytest.mark.soak  # the whole file runs under make soak (about 30 s)


def wait_link(s, status, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if info_repl(s).get("master_link_status") == status:
            return True
        time.sleep(0.05)
    return False


@tidekv_only
def test_a_former_replica_that_wrote_is_not_continued_silently(make_server):
    master = make_server()
    replica = make_server()
    rc = replica.client()
    rc.execute_command("REPLICAOF", "127.0.0.1", master.port)  # not in its config: gone on restart
    m = master.client()
    m.set("a", 1)
    wait_synced(master, replica)
    replica.restart()
    rc = replica.client()
    assert info_repl(replica)["role"] == "master"
    rc.set("mine", "local")  # the same sequence as the master's next write
    m.set("b", 2)
    assert rc.execute_command("SEQUENCE") == m.execute_command("SEQUENCE")
    rc.execute_command("REPLICAOF", "127.0.0.1", master.port)
    if not wait_link(replica, "up", timeout=3):
        return  # refused (the fix): the histories differ
    m.set("c", 3)
    wait_synced(master, replica)
    assert dataset(replica) == dataset(master)  # offsets agree; the data does not


@tidekv_only
def test_wait_counts_a_replica_only_once_it_synced_with_appendfsync_always(make_server):
    master, replica = start_pair(make_server, appendfsync="always")
    wait_synced(master, replica)
    m, r = master.client(), replica.client()
    for i in range(10):
        m.set("k%d" % i, i)
        assert m.execute_command("WAIT", 1, 5000) == 1
        synced = r.info("persistence")["wal_synced"]
        assert synced >= m.execute_command("SEQUENCE"), "iteration %d: replica synced to %d" % (i, synced)
        time.sleep(0.13)


@tidekv_only
def test_a_chained_replica_continues_after_its_master_follows_the_promoted_one(make_server):
    master, replica = start_pair(make_server)
    chained = make_server({"replicaof": ["127.0.0.1", master.port]})
    master.client().set("a", 1)
    wait_synced(master, replica)
    wait_synced(master, chained)
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    replica.client().set("b", 2)
    master.client().execute_command("REPLICAOF", "127.0.0.1", replica.port)
    wait_synced(replica, master)
    chained.restart()  # reconnects to the old master with PSYNC <history A> <seq>
    wait_synced(master, chained, timeout=5)
    assert chained.client().get("b") == b"2"


@tidekv_only
def test_a_transaction_that_makes_a_replica_does_not_report_failure_yet_take_effect(make_server):
    """MULTI; SET; REPLICAOF host port; EXEC: Redis runs both. tidekv's EXEC commits after REPLICAOF has
    refused local writes, so the commit fails: the SET is lost and every reply becomes an error, yet the
    node does follow the master."""
    master = make_server()
    node = make_server()
    with node.conn() as conn:
        assert conn.call("MULTI") == Simple("OK")
        assert conn.call("SET", "k", "v") == Simple("QUEUED")
        assert conn.call("REPLICAOF", "127.0.0.1", str(master.port)) == Simple("QUEUED")
        reply = conn.call("EXEC")
    became_replica = info_repl(node)["role"] == "slave"
    replicaof_ok = isinstance(reply, list) and reply[1] == Simple("OK")
    assert became_replica == replicaof_ok, "EXEC answered %r, role %s" % (reply, info_repl(node)["role"])


def test_flushall_and_function_flush_reach_the_replica(make_server):
    master, replica = start_pair(make_server)
    m = master.client()
    for i in range(20):
        m.set("t%d" % i, i, ex=1000)
        m.hset("h%d" % i, "f", i)
    code = "#!lua name=lib\nredis.register_function('f', function() return 1 end)"
    m.function_load(code)
    wait_synced(master, replica)
    m.flushall()
    m.function_flush()
    m.set("after", 1, ex=1000)
    wait_synced(master, replica)
    r = replica.client()
    assert r.dbsize() == 1 and r.function_list() == []
    assert dataset(replica) == dataset(master)


def test_wait_sees_writes_of_exec_and_scripts(make_server):
    master, replica = start_pair(make_server)
    wait_synced(master, replica)
    m = master.client()
    p = m.pipeline(transaction=True)
    p.set("x", 1)
    p.incr("x")
    p.execute()
    assert m.execute_command("WAIT", 1, 3000) == 1
    m.eval("return redis.call('SET', KEYS[1], 'v')", 1, "y")
    assert m.execute_command("WAIT", 1, 3000) == 1
    wait_synced(master, replica)
    assert replica.client().get("y") == b"v" and replica.client().get("x") == b"2"



def thread_count(s):
    import os
    return len(os.listdir("/proc/%d/task" % s.proc.pid))


@tidekv_only
def test_concurrent_replicaof_leaves_one_replication_thread(make_server):
    import threading
    m1, m2 = make_server(), make_server()
    node = make_server()
    base = thread_count(node)
    node.client().execute_command("REPLICAOF", "127.0.0.1", m1.port)
    wait_synced(m1, node)
    one_thread = thread_count(node)
    assert one_thread == base + 1
    for i in range(30):
        target = (m2 if i % 2 == 0 else m1).port
        clients = [node.client(socket_timeout=8) for _ in range(4)]
        for cl in clients:
            cl.ping()  # connected (and spread over the workers) before the race
        barrier = threading.Barrier(len(clients))

        errors = []

        def send(cl):
            barrier.wait()
            try:
                cl.execute_command("REPLICAOF", "127.0.0.1", target)
            except redis.exceptions.RedisError as e:
                errors.append(e)

        ts = [threading.Thread(target=send, args=(cl,)) for cl in clients]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        time.sleep(0.05)
        assert not errors, "iteration %d: REPLICAOF got %r (a worker hangs in pthread_join)" % (i, errors)
        assert node.running, "the server died"
        assert thread_count(node) == one_thread, "iteration %d: %d threads" % (i, thread_count(node))


def test_config_rewrite_round_trips_odd_values(make_server, tmp_path):
    conf = tmp_path / "server.conf"
    conf.write_text("# odd values\nmasterauth \"a b\"\n")
    s = make_server(config_file=conf)
    c = s.client()
    odd = {"masterauth": 'p"a ss\\w#\'x\t\xe9', "masteruser": "#user",
           "notify-keyspace-events": "", "save": ""}
    for name, value in odd.items():
        c.config_set(name, value)
    assert c.config_rewrite()
    s.restart()
    c = s.client()
    for name, value in odd.items():
        assert c.config_get(name) == {name: value}, (name, conf.read_text())


def test_wait_in_the_same_pipeline_as_the_writes(make_server):
    master, replica = start_pair(make_server)
    wait_synced(master, replica)
    m, r = master.client(), replica.client()
    for i in range(20):
        p = m.pipeline(transaction=False)
        for j in range(10):
            p.rpush("l%d" % i, j)
        p.execute_command("WAIT", 1, 5000)
        assert p.execute()[-1] == 1
        assert r.llen("l%d" % i) == 10, i
