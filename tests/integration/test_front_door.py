"""The front door of docker/compose.yml, as local processes: Debian's haproxy
running docker/haproxy.cfg (PROXY v2 to the nodes, checks on /readyz, a TLS
bind with a certificate of the test's), two plaza nodes trusting haproxy's
address for the header, and a real redis-server.

Guards what issue 17 asked of the front door:
- Redis killed: both nodes stay in rotation, and new clients still connect
  through haproxy and are served;
- a client bound to 127.0.0.9 (through plain and TLS haproxy alike) is
  listed with that address in /admin/sessions, and logged with it;
- rate limits apply per client address through the one proxy: upgrades past
  --connect-rate and the admin lockout hit the address that earned them,
  not its neighbours;
- a drained node is out of haproxy's rotation before its clients are
  closed, and they resume on the other node.
"""

import http.client
import json
import signal
import ssl
import time

import pytest
import websockets

from conftest import PlazaServer
from plaza_client import Client, async_test
from test_tls import make_cert
from topology import Haproxy, RedisServer, http_get, node_flags, wait_until

TOKEN = "front-door-admin-t0ken"
DRAIN_MS = 3000  # as docker/compose.yml sets PLAZA_DRAIN_DELAY_MS
DOWN_WITHIN = 6.0


def node_of(client):
    return client.id >> 38


class FrontDoor:
    def __init__(self, tmp_path, *flags):
        self.redis = RedisServer()
        self.nodes = []
        for i in (1, 2):
            srv = PlazaServer(["--node-id", str(i), "--workers", "2", "--redis",
                               self.redis.url, "--admin-token", TOKEN,
                               "--drain-delay-ms", str(DRAIN_MS)] + node_flags() + list(flags))
            self.nodes.append(srv)
            srv.start()
        cert, key = make_cert(str(tmp_path / "tls"))
        self.pem = str(tmp_path / "tls" / "haproxy.pem")
        with open(self.pem, "w") as f:
            f.write(open(cert).read() + open(key).read())
        self.cert = cert
        self.lb = Haproxy([n.port for n in self.nodes], tls_pem=self.pem)
        self.lb.wait_statuses({"plaza-1": "UP", "plaza-2": "UP"}, 10)

    def node(self, i):
        return self.nodes[i - 1]

    def stop(self):
        problems = []
        self.lb.stop()
        for i, srv in enumerate(self.nodes, 1):
            rc = srv.stop()
            if rc != 0:
                problems.append(f"plaza node {i} exited with {rc}, wanted 0")
        self.redis.stop()
        return problems


@pytest.fixture
def front(request, tmp_path):
    made = []
    request.node._plaza_servers = []

    def factory(*flags):
        fd = FrontDoor(tmp_path, *flags)
        made.append(fd)
        request.node._plaza_servers.extend(fd.nodes)
        return fd
    yield factory
    problems = []
    for fd in made:
        problems += fd.stop()
        print(f"--- haproxy ---\n{fd.lb.log()[-4000:]}")
        fd.lb.cleanup()
        fd.redis.cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def admin(url_host, port, path, token=TOKEN, source=None, method="GET"):
    conn = http.client.HTTPConnection(url_host, port, timeout=5,
                                      source_address=(source, 0) if source else None)
    conn.request(method, path, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    try:
        return r.status, json.loads(body)
    except ValueError:
        return r.status, body


def local_sessions(srv):
    """The node's own sessions (asked of it directly), by name."""
    st, doc = admin(srv.host, srv.port, "/admin/sessions")
    assert st == 200, doc
    return {s["name"]: s for s in doc["sessions"] if s["node"] == int(srv.flags[1])}


@async_test
async def test_redis_down_new_clients_still_get_in_through_haproxy(front):
    fd = front()
    fd.redis.stop()
    for n in fd.nodes:
        wait_until(lambda: http_get(n.http_url("/healthz"))[0] == 503, 10,
                   "a node's /healthz to say degraded")
    time.sleep(3)  # several health checks
    got = fd.lb.statuses()
    assert {k: v[0] for k, v in got.items()} == {"plaza-1": "UP", "plaza-2": "UP"}, got
    clients = [await Client.joined(fd.lb, "during-outage", name=f"n{i}", local_addr=(
        f"127.0.0.{20 + i}", 0)) for i in range(4)]
    assert sorted(node_of(c) for c in clients) == [1, 1, 2, 2]
    for c in clients:
        await c.ping()
    # Two clients of one node see each other move: the node serves its room.
    a, b = [c for c in clients if node_of(c) == 1]
    await a.send(4, 1, 1.0, 0.0, 2.0, 0.0)  # MOVE
    await b.wait_for(5, lambda m: any(e[0] == a.id for e in m[2]))  # STATE
    for c in clients:
        await c.close()


@async_test
async def test_client_address_reaches_sessions_and_logs_through_plain_and_tls(front):
    fd = front("--log-level", "debug")
    c = await Client.joined(fd.lb, "square", name="bound-9", local_addr=("127.0.0.9", 0))
    ctx = ssl.create_default_context(cafile=fd.cert)
    t = await Client.joined(fd.lb.wss_url(), "square", name="tls-10", ssl=ctx,
                            local_addr=("127.0.0.10", 0))
    holder = {c: fd.node(node_of(c)), t: fd.node(node_of(t))}
    got = local_sessions(holder[c])
    assert got["bound-9"]["addr"] == "127.0.0.9", got
    got = local_sessions(holder[t])
    assert got["tls-10"]["addr"] == "127.0.0.10", got
    log = holder[c].read_log()
    assert "connection from 127.0.0.9:" in log and "through proxy 127.0.0.2:" in log
    await c.close()
    await t.close()


@async_test
async def test_rate_limits_apply_per_client_address_through_one_proxy(front):
    # Per node: 2 upgrades at once, then one every 10 s.
    fd = front("--connect-rate", "0.1", "--connect-burst", "2")
    noisy, quiet = ("127.0.0.9", 0), ("127.0.0.12", 0)
    held = []
    refused = None
    for i in range(6):
        try:
            held.append(await Client.joined(fd.lb, name=f"noisy{i}", local_addr=noisy))
        except websockets.exceptions.InvalidStatusCode as e:
            refused = (i, e.status_code)
            break
    # Two per node, four in all, then 429.
    assert refused == (4, 429), (refused, [node_of(c) for c in held])
    # The neighbour behind the same haproxy is not limited for it.
    q = await Client.joined(fd.lb, name="quiet", local_addr=quiet)
    await q.ping()

    # The admin lockout, the same way: the guessing address is locked out on
    # every node it tried, the right token from elsewhere still works.
    lb = fd.lb
    statuses = [admin("127.0.0.1", lb.port, "/admin/sessions", token="guess",
                      source="127.0.0.9")[0] for _ in range(12)]
    assert statuses[:5] == [401] * 5 and 429 in statuses, statuses
    for _ in range(4):
        assert admin("127.0.0.1", lb.port, "/admin/sessions", source="127.0.0.12")[0] == 200
    for x in held + [q]:
        await x.close()


@async_test
async def test_a_drained_node_leaves_rotation_before_its_clients_are_closed(front):
    fd = front()
    clients = [await Client.joined(fd.lb, "hall", name=f"r{i}") for i in range(4)]
    on1 = [c for c in clients if node_of(c) == 1]
    assert len(on1) == 2
    t0 = time.monotonic()
    fd.node(1).signal(signal.SIGTERM)
    fd.lb.wait_statuses({"plaza-1": "DOWN", "plaza-2": "UP"}, DOWN_WITHIN)
    out_after = time.monotonic() - t0
    # Out of rotation within the drain delay: nobody closed yet.
    assert out_after < DRAIN_MS / 1000, out_after
    for c in on1:
        await c.ping()
    for c in on1:
        await c.expect_close(1001, timeout=DRAIN_MS / 1000 + 5)
    # They come back through haproxy and resume on node 2: same ids.
    back = []
    for c in on1:
        again = await Client.connect(fd.lb, label=f"{c.label}-again")
        w = await again.hello(name=c.label, resume=c.session)
        assert w[1] == c.id and w[5] is True, w
        back.append(again)
    assert fd.node(1).wait_exit(5) == 0
    # Node 2 holds them now (asked of it directly).
    st, doc = admin(fd.node(2).host, fd.node(2).port, "/admin/sessions")
    mine = {s["id"]: s for s in doc["sessions"] if s["node"] == 2}
    assert all(c.id in mine and mine[c.id]["connected"] for c in on1), doc
    for again in back:
        await again.close()
    for c in clients:
        if c not in on1:
            await c.close()
