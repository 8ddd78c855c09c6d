"""docker/compose.yml's topology as local processes: Debian's haproxy running
docker/haproxy.cfg (rewritten for loopback by topology.loopback_haproxy_cfg:
ports substituted, the DNS server-template replaced by three `server` lines
that connect from 127.0.0.2), three plaza nodes behind it taking its PROXY v2
header from that address, and, once plaza has the Redis bus (`--redis` in
`build/plaza --help`), a real redis-server they all use.

Without the bus the tests check what works without clustering: health checks,
leastconn spreading, the WebSocket upgrade and HELLO/JOIN/CHAT through
haproxy, and a killed node taken out of rotation. The cross-node tests are
written already and start running the day `--redis` exists.
"""

import collections
import json
import time

import pytest

from conftest import PlazaServer
from plaza_client import CHAT, JOINED, Client, async_test
from topology import (Haproxy, RedisServer, http_get, node_flags, plaza_supports,
                      wait_until)

try:
    CLUSTERED = plaza_supports("--redis")
except OSError:  # no binary yet: the fixture reports that
    CLUSTERED = False
NO_BUS = ("build/plaza --help lists no --redis: the Redis bus has not landed, so "
          "nodes cannot share rooms yet")

NODES = 3
# haproxy.cfg checks every 2 s and, after a failure, every 500 ms; fall 2,
# rise 2. A dead node is DOWN within 2.5 s; allow for a loaded machine.
DOWN_WITHIN = 6.0


def node_of(client):
    """The plaza node a client landed on: ids carry the node in bits 38+
    (docs/protocol.md), and node i runs with --node-id i."""
    return client.id >> 38


class Cluster:
    def __init__(self, n=NODES):
        self.n = n
        self.redis = None
        self.nodes = []
        self.haproxy = None
        self.killed = set()

    def start(self):
        if CLUSTERED:
            self.redis = RedisServer()
        for i in range(1, self.n + 1):
            flags = ["--node-id", str(i), "--workers", "1"] + node_flags()
            if CLUSTERED:
                flags += ["--redis", self.redis.url]
            srv = PlazaServer(flags)
            self.nodes.append(srv)
            srv.start()
        self.haproxy = Haproxy([n.port for n in self.nodes])
        # haproxy assumes servers up until a check says otherwise: wait for
        # a real check of each.
        self.haproxy.wait_statuses({self.server(i): "UP" for i in range(1, self.n + 1)}, 10)

    @staticmethod
    def server(i):
        return f"plaza-{i}"  # how the server-template names its slots

    def node(self, i):
        return self.nodes[i - 1]

    def kill(self, i):
        srv = self.node(i)
        srv.proc.kill()
        srv.proc.wait()
        self.killed.add(i)

    def stop(self):
        """Stop everything, whatever state the test left; returns problems."""
        problems = []
        if self.haproxy is not None:
            self.haproxy.stop()
        for i, srv in enumerate(self.nodes, 1):
            rc = srv.stop()
            if i not in self.killed and rc != 0:
                problems.append(f"plaza node {i} exited with {rc} on SIGTERM, wanted 0")
        if self.redis is not None:
            self.redis.stop()
        return problems

    def logs(self):
        out = []
        for p in (self.haproxy, self.redis):
            if p is not None:
                out.append(f"--- {p.name} ---\n{p.log()[-4000:]}")
                p.cleanup()
        return "\n".join(out)


def run_cluster(request, n=NODES):
    """A started Cluster of n nodes for a fixture to yield, stopped (every
    node must exit 0) when the test is done."""
    c = Cluster(n)
    request.node._plaza_servers = c.nodes  # conftest attaches their logs on failure
    try:
        c.start()
        yield c
    finally:
        problems = c.stop()
        print(c.logs())  # shown by pytest when the test failed
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def cluster(request):
    yield from run_cluster(request)


async def connect_many(lb, n, prefix="c"):
    """n clients through haproxy, one after another (each holds its
    connection before the next starts, so leastconn sees every count)."""
    return [await Client.joined(lb, name=f"{prefix}{i}") for i in range(n)]


def spread(clients):
    return dict(sorted(collections.Counter(node_of(c) for c in clients).items()))


# --- what works without clustering ---------------------------------------------

def test_haproxy_checks_every_node_and_proxies_http(cluster):
    lb = cluster.haproxy
    got = lb.statuses()
    assert {n: s for n, (s, _) in got.items()} == {f"plaza-{i}": "UP" for i in (1, 2, 3)}, got
    assert all(chk == "L7OK" for _, chk in got.values()), f"health checks not passing: {got}"
    # Plain HTTP through the load balancer reaches a node's /healthz.
    status, body = http_get(lb.http_url("/healthz"))
    assert status == 200, body
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["node"] in {"plaza-1", "plaza-2", "plaza-3"}, doc
    # haproxy's own exporter (scraped by docker/prometheus.yml) sees the three.
    status, text = http_get(f"http://127.0.0.1:{lb.stats_port}/metrics")
    assert status == 200
    assert 'haproxy_backend_active_servers{proxy="plaza"} 3' in text, \
        [ln for ln in text.splitlines() if "active_servers" in ln]


@async_test
async def test_leastconn_spreads_websockets_and_chat_works_through_haproxy(cluster):
    lb = cluster.haproxy
    clients = await connect_many(lb, 6)
    # leastconn with every connection held open: 2 per node, exactly.
    assert spread(clients) == {1: 2, 2: 2, 3: 2}, spread(clients)
    for i in (1, 2, 3):  # and the nodes agree
        status, body = http_get(cluster.node(i).http_url("/healthz"))
        assert status == 200 and json.loads(body)["sessions"] == 2, (i, body)
    # Round-robin would give the same 2/2/2; leastconn shows when counts
    # differ: empty node 1, and the next two clients both go there.
    for c in [c for c in clients if node_of(c) == 1]:
        await c.close()
        clients.remove(c)
    wait_until(lambda: lb.stats()["plaza-1"]["scur"] == "0", 5,
               "haproxy to count node 1's connections closed")
    clients += await connect_many(lb, 2, prefix="late")
    assert spread(clients) == {1: 2, 2: 2, 3: 2}, f"late clients did not fill node 1: " \
        f"{spread(clients)}"

    # HELLO/JOIN/CHAT through haproxy, between two clients on one node (the
    # only way they can meet without the Redis bus).
    a, b = [c for c in clients if node_of(c) == 2]
    await a.join("square")
    room = await b.join("square")
    assert a.id in [m[0] for m in room[2]], f"ROOM without alice: {room!r}"
    await a.wait_for(JOINED, lambda m: m[1] == b.id)
    await a.send(5, "through haproxy")
    m = await b.wait_for(CHAT, lambda m: m[4] == "through haproxy")
    assert m[2] == a.id, m
    for c in clients:
        await c.close()


@async_test
async def test_a_dead_node_is_taken_out_and_its_clients_land_on_the_others(cluster):
    lb = cluster.haproxy
    clients = await connect_many(lb, 6)
    assert spread(clients) == {1: 2, 2: 2, 3: 2}, spread(clients)
    victims = [c for c in clients if node_of(c) == 2]
    survivors = [c for c in clients if node_of(c) != 2]

    cluster.kill(2)
    # haproxy passes the node's end on to its clients at once (timeout tunnel
    # is an hour: nothing else would close them)...
    for c in victims:
        await c.expect_close(1006, timeout=3)
    # ...and the health check takes the node out.
    lb.wait_statuses({"plaza-2": "DOWN", "plaza-1": "UP", "plaza-3": "UP"}, DOWN_WITHIN)

    # The others' clients did not notice.
    for c in survivors:
        await c.ping()
    # The victims reconnect through the same address and land on 1 and 3;
    # leastconn would have preferred the empty node 2 if it were still in.
    back = await connect_many(lb, len(victims), prefix="again")
    assert all(node_of(c) != 2 for c in back), spread(back)
    assert spread(survivors + back) == {1: 3, 3: 3}, spread(survivors + back)
    for _ in range(5):
        status, body = http_get(lb.http_url("/healthz"))
        assert status == 200 and json.loads(body)["node"] != "plaza-2", (status, body)
    for c in survivors + back:
        await c.close()


# --- across nodes: needs the Redis bus ------------------------------------------

@pytest.mark.skipif(not CLUSTERED, reason=NO_BUS)
@async_test
async def test_clients_on_different_nodes_meet_in_one_room(cluster):
    lb = cluster.haproxy
    a = await Client.joined(lb, name="alice")
    b = await Client.joined(lb, name="bob")
    assert node_of(a) != node_of(b), "leastconn put both on one node"
    await a.join("plaza-square")
    room = await b.join("plaza-square")
    assert a.id in [m[0] for m in room[2]], f"bob's ROOM lacks alice (other node): {room!r}"
    joined = await a.wait_for(JOINED, lambda m: m[1] == b.id)
    assert joined[2] == "bob", joined
    await a.send(5, "hello from the other node")
    m = await b.wait_for(CHAT, lambda m: m[4] == "hello from the other node")
    assert m[2:4] == [a.id, "alice"], m
    await a.close()
    await b.close()


@pytest.mark.skipif(not CLUSTERED, reason=NO_BUS)
@async_test
async def test_nodes_cut_off_from_redis_stay_in_rotation_and_take_new_clients(cluster):
    """A Redis outage must not close the front door: haproxy checks /readyz,
    which Redis does not enter into, so every node stays UP and new clients
    are served; /healthz says "degraded" with its 503."""
    lb = cluster.haproxy
    port = cluster.redis.port
    cluster.redis.stop()
    cluster.redis.cleanup()
    for i in (1, 2, 3):
        wait_until(lambda: http_get(cluster.node(i).http_url("/healthz"))[0] == 503, 10,
                   f"node {i}'s /healthz to answer 503 without Redis")
        status, body = http_get(cluster.node(i).http_url("/healthz"))
        assert json.loads(body)["status"] == "degraded", body
    # Several health checks later, every node is still in.
    time.sleep(3)
    got = lb.statuses()
    assert {n: st for n, (st, _) in got.items()} == {f"plaza-{i}": "UP" for i in (1, 2, 3)}, got
    clients = [await Client.joined(lb, "outage", name=f"new{i}") for i in range(3)]
    assert spread(clients) == {1: 1, 2: 1, 3: 1}, spread(clients)
    for c in clients:
        await c.ping()
    cluster.redis = RedisServer(port)
    for i in (1, 2, 3):
        wait_until(lambda: http_get(cluster.node(i).http_url("/healthz"))[0] == 200, 20,
                   f"node {i} relinked")
    c = await Client.joined(lb, "after-redis", name="carol")
    for x in clients + [c]:
        await x.close()
