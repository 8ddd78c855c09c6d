"""The probes, each meaning one thing (docs/operations.md, "Probes"):

- /livez: the loops are alive (every worker ticked lately);
- /readyz: new sessions are welcome here: 503 while draining or stopping and
  at --max-connections, never because of Redis;
- /healthz: the detailed report: "degraded" and 503 while Redis is down (its
  body says so), "draining" and 503 during a drain.

And the drain itself: SIGTERM (or POST /admin/drain) turns /readyz 503 at
once, keeps serving the clients for --drain-delay-ms, and only then closes
them with 1001; /readyz was 503 before the first close frame left. A second
SIGTERM during the drain changes nothing (an orchestrator's, after its
preStop hook began the drain); SIGINT during it stops at once.
"""

import asyncio
import json
import signal
import time

from cluster_util import redis_server  # noqa: F401 - the fixture
from cluster_util import wait_until
from plaza_client import Client, async_test, http_get

TOKEN = "admin-t0ken-for-probes"


def probe(srv, path):
    status, _, body = http_get(srv, path)
    return status, json.loads(body)


def test_probes_of_a_serving_node(plaza):
    srv = plaza()
    assert probe(srv, "/livez") == (200, {"status": "ok", "workers": 2})
    st, doc = probe(srv, "/readyz")
    assert st == 200 and doc["status"] == "ready", doc
    st, doc = probe(srv, "/healthz")
    assert st == 200 and doc["status"] == "ok" and doc["ready"] is True, doc
    # HEAD answers with the status alone, as health checkers may ask.
    import http.client
    for path in ("/livez", "/readyz", "/healthz"):
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
        conn.request("HEAD", path)
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b"", path
        conn.close()


@async_test
async def test_readyz_is_503_at_max_connections_and_healthz_stays_ok(plaza):
    srv = plaza(max_connections=2, resume_grace_ms=0)  # a closed session ends
    a = await Client.joined(srv, name="a")
    b = await Client.joined(srv, name="b")
    st, doc = probe(srv, "/readyz")
    assert st == 503 and doc == {"status": "full", "sessions": 2, "max_connections": 2}, doc
    # A full node is not a sick one: /healthz and /livez stay 200.
    st, doc = probe(srv, "/healthz")
    assert st == 200 and doc["status"] == "ok" and doc["ready"] is False, doc
    assert probe(srv, "/livez")[0] == 200
    await a.close()
    wait_until(lambda: probe(srv, "/readyz")[0] == 200, 5, "/readyz 200 once a session ended")
    await b.close()


@async_test
async def test_redis_down_is_degraded_but_ready_and_live(plaza, redis_server):  # noqa: F811
    srv = plaza("--redis", redis_server.url())
    assert probe(srv, "/healthz")[1]["redis"] == "up"
    redis_server.kill()
    wait_until(lambda: probe(srv, "/healthz")[0] == 503, 6, "/healthz 503 without Redis")
    st, doc = probe(srv, "/healthz")
    # The body tells the truth with the 503.
    assert doc["status"] == "degraded" and doc["redis"] == "down" and doc["ready"] is True, doc
    # The node still serves: ready and live, and a new client is welcome.
    assert probe(srv, "/readyz") == (200, probe(srv, "/readyz")[1])
    assert probe(srv, "/readyz")[1]["status"] == "ready"
    assert probe(srv, "/livez")[0] == 200
    c = await Client.joined(srv, name="while-redis-is-down")
    await c.ping()
    await c.close()
    redis_server.start()
    wait_until(lambda: probe(srv, "/healthz")[0] == 200, 15, "/healthz 200 with Redis back")
    assert probe(srv, "/healthz")[1]["status"] == "ok"


async def watch_readyz_until_close(srv, clients, how):
    """Start a drain with how(), then poll /readyz until the clients are
    closed. Returns (time /readyz was first seen 503, times of each close,
    close codes)."""
    closes = {}

    async def wait_close(c):
        try:
            while True:
                await c._recv_frame(10)
        except Exception as e:  # noqa: BLE001 - Closed, or a timeout to report
            closes[c.label] = (time.monotonic(), getattr(e, "code", repr(e)))

    waiters = [asyncio.ensure_future(wait_close(c)) for c in clients]
    loop = asyncio.get_running_loop()
    t_start = time.monotonic()
    await loop.run_in_executor(None, how)
    first_503 = None
    while not all(w.done() for w in waiters) and time.monotonic() - t_start < 10:
        try:
            st, doc = await loop.run_in_executor(None, probe, srv, "/readyz")
        except (OSError, ValueError):
            st = None  # the listener has closed: the drain is ending
        if st == 503 and first_503 is None:
            first_503 = time.monotonic()
            assert doc["status"] == "draining", doc
            # And at that moment nobody has been closed yet.
            assert not closes, f"a client was closed before /readyz said 503: {closes}"
        await asyncio.sleep(0.02)
    await asyncio.gather(*waiters)
    return first_503, closes


@async_test
async def test_sigterm_drain_turns_readyz_503_before_the_first_close(plaza):
    srv = plaza(drain_delay_ms=1500)
    clients = [await Client.joined(srv, "lobby", name=f"c{i}", label=f"c{i}")
               for i in range(3)]
    first_503, closes = await watch_readyz_until_close(
        srv, clients, lambda: srv.signal(signal.SIGTERM))
    assert first_503 is not None, "/readyz never said 503 during the drain"
    assert {code for _, code in closes.values()} == {1001}, closes
    first_close = min(t for t, _ in closes.values())
    # The drain delay separates them: the balancer had its 1.5 s to notice.
    assert first_close - first_503 > 1.0, (first_503, closes)
    assert srv.wait_exit(5) == 0
    log = srv.read_log()
    assert "draining" in log and "in 1500 ms" in log, log


@async_test
async def test_clients_are_served_during_the_drain_delay(plaza):
    srv = plaza(drain_delay_ms=2000)
    a = await Client.joined(srv, "hall", name="a")
    srv.signal(signal.SIGTERM)
    wait_until(lambda: probe(srv, "/readyz")[0] == 503, 2, "/readyz 503")
    st, doc = probe(srv, "/healthz")
    assert st == 503 and doc["status"] == "draining" and doc["ready"] is False, doc
    # Still served: pings, and a newcomer the balancer sent before it noticed.
    await a.ping()
    b = await Client.joined(srv, "hall", name="late")
    await a.wait_for(3, lambda m: m[1] == b.id)  # JOINED
    await a.expect_close(1001, timeout=5)
    await b.expect_close(1001, timeout=5)
    assert srv.wait_exit(5) == 0


@async_test
async def test_admin_drain_turns_readyz_503_before_the_first_close(plaza):
    import http.client

    srv = plaza(drain_delay_ms=1000, admin_token=TOKEN)
    clients = [await Client.joined(srv, name=f"d{i}", label=f"d{i}") for i in range(2)]

    def drain():
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
        conn.request("POST", "/admin/drain", headers={"Authorization": f"Bearer {TOKEN}"})
        assert conn.getresponse().status == 202
        conn.close()

    first_503, closes = await watch_readyz_until_close(srv, clients, drain)
    assert first_503 is not None and {c for _, c in closes.values()} == {1001}, closes
    assert min(t for t, _ in closes.values()) > first_503
    assert srv.wait_exit(5) == 0


@async_test
async def test_second_sigterm_does_not_cut_the_drain_short_and_sigint_does(plaza):
    srv = plaza(drain_delay_ms=1500)
    c = await Client.joined(srv, name="stays")
    srv.signal(signal.SIGTERM)
    wait_until(lambda: probe(srv, "/readyz")[0] == 503, 2, "/readyz 503")
    srv.signal(signal.SIGTERM)  # the kubelet's, after a preStop hook
    await asyncio.sleep(0.3)
    assert srv.proc.poll() is None, "a second SIGTERM ended the drain"
    await c.ping()
    t0 = time.monotonic()
    await c.expect_close(1001, timeout=5)
    assert time.monotonic() - t0 > 0.5, "closed before the drain delay was over"
    assert srv.wait_exit(5) == 0

    srv2 = plaza(drain_delay_ms=60000)
    d = await Client.joined(srv2, name="impatient")
    srv2.signal(signal.SIGTERM)
    wait_until(lambda: probe(srv2, "/readyz")[0] == 503, 2, "/readyz 503")
    srv2.signal(signal.SIGINT)  # Ctrl-C again: now
    await d.expect_close(1001, timeout=5)
    assert srv2.wait_exit(5) == 0
    assert "SIGINT again" in srv2.read_log()


def test_probes_are_listed_in_the_docs():
    import os

    from conftest import ROOT
    doc = open(os.path.join(ROOT, "docs", "operations.md")).read()
    for path in ("/livez", "/readyz", "/healthz"):
        assert f"`GET {path}`" in doc, path
    assert "degraded" in doc and "--drain-delay-ms" in doc
