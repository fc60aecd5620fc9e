"""Redis Sentinel (Debian's redis-sentinel) fails a master over: three sentinels watch a master
with two replicas; after kill -9 of the master one replica is promoted, the other follows it,
and every write acknowledged by WAIT 1 before the kill is on the new master. Runs against
redis-server too (TIDEKV_TEST_TARGET=redis)."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import free_port

SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"


class Sentinel:
    def __init__(self, master_port, quorum=2):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="tidekv-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s/log\n"
                    "sentinel monitor mymaster 127.0.0.1 %d %d\n"
                    "sentinel down-after-milliseconds mymaster 1000\n"
                    "sentinel failover-timeout mymaster 10000\n"
                    "sentinel parallel-syncs mymaster 1\n" % (self.port, self.dir, self.dir, master_port, quorum))
        self.proc = subprocess.Popen([SENTINEL, self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("sentinel did not start")

    def master_port(self):
        return int(self.client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")[1])

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.exceptions.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


@pytest.mark.soak  # ~15 s: runs under make soak
@pytest.mark.skipif(not os.path.exists(SENTINEL), reason="redis-sentinel is not installed")
def test_sentinel_fails_a_master_over(make_server):
    master = make_server()
    replicas = [make_server({"replicaof": ["127.0.0.1", master.port]}) for _ in range(2)]
    m = master.client()
    wait_for(lambda: m.info("replication")["connected_slaves"] == 2, 15, "two replicas")
    sentinels = [Sentinel(master.port) for _ in range(3)]
    try:
        # Sentinels find the replicas from INFO and each other over pub/sub.
        wait_for(lambda: all(len(s.client.execute_command("SENTINEL", "REPLICAS", "mymaster")) == 2 and
                             len(s.client.execute_command("SENTINEL", "SENTINELS", "mymaster")) == 2
                             for s in sentinels), 20, "sentinels to know the replicas and each other")
        m.set("warm-up", 1)
        assert m.execute_command("WAIT", 2, 10000) == 2  # both links up and acknowledging
        acknowledged = []
        for i in range(200):
            m.set("k%d" % i, i)
            if m.execute_command("WAIT", 1, 1000) >= 1:
                acknowledged.append(i)
        assert len(acknowledged) == 200
        master.kill9()
        ports = {r.port: r for r in replicas}
        wait_for(lambda: sentinels[0].master_port() in ports, 30, "a replica to be promoted")
        promoted = ports[sentinels[0].master_port()]
        other = next(r for r in replicas if r is not promoted)
        p = promoted.client()
        wait_for(lambda: p.info("replication")["role"] == "master", 10, "the promoted replica to be a master")
        wait_for(lambda: other.client().info("replication").get("master_port") == promoted.port and
                 other.client().info("replication")["master_link_status"] == "up", 30, "the other replica to follow")
        for i in acknowledged:
            assert p.get("k%d" % i) == str(i).encode()
        p.set("after", "failover")
        assert p.execute_command("WAIT", 1, 5000) == 1
        assert other.client().get("after") == b"failover"
    finally:
        for s in sentinels:
            s.stop()
