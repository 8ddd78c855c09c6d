"""A node's life in a cluster: its id is claimed in Redis (an explicit one a
live node holds is refused at start), /healthz and /metrics tell the Redis
link's state, Redis traffic stays within its per-tick bound and reaches
only the nodes with members in a room, a node killed with -9 has its
members announced LEFT within 10 s, and a Redis restart under movement is
survived: local service throughout, cross-node service restored.
"""

import asyncio
import os
import shutil
import signal
import subprocess
import time

import pytest

from cluster_util import (metric, nodes, redis_server, two_nodes_sharing,  # noqa: F401
                          wait_until)
from conftest import PLAZA_BIN, ROOT
from plaza_client import (JOINED, LEFT, MOVE, STATE, Client, async_test,
                          http_get, http_json, rooms_list)

REDIS_METRICS = ["plaza_redis_link_up", "plaza_redis_reconnects_total",
                 "plaza_redis_publishes_total", "plaza_redis_messages_received_total",
                 "plaza_redis_bad_messages_total"]


def test_explicit_node_id_held_by_a_live_node_is_refused(plaza, redis_server):
    plaza("--redis", redis_server.url(), node_id=4242)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    p = subprocess.run([PLAZA_BIN, "--port", "0", "--redis", redis_server.url(),
                        "--node-id", "4242"], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=15)
    assert p.returncode == 2, p.stderr
    assert "4242" in p.stderr and "in use" in p.stderr, p.stderr


def test_random_ids_are_unique_and_claimed(plaza, redis_server):
    srvs = nodes(plaza, redis_server, 3)
    names = [http_json(s, "/healthz")["node"] for s in srvs]
    assert len(set(names)) == 3
    for n in names:
        key = "plaza:node:" + n.split("-", 1)[1]
        assert redis_server.cmd("EXISTS", key) == 1, key
        assert 0 < redis_server.cmd("PTTL", key) <= 5000


def test_password_never_shown(plaza, redis_server):
    from cluster_util import RedisServer
    r = RedisServer(password="pa55-w0rd-xyz").start()
    try:
        s = plaza("--redis", r.url(db=2))
        for path in ("/healthz", "/metrics", "/rooms"):
            _, _, body = http_get(s, path)
            assert "pa55" not in body, path
        assert http_json(s, "/healthz")["redis"] == "up"
        # The keys went to db 2.
        assert r.cmd("SELECT", "2") == "OK"
    finally:
        r.kill()
    wait_until(lambda: http_get(s, "/healthz")[0] == 503, 5, "unlinked")
    # The harness writes the command line ("$ ...") first; plaza never.
    logged = [ln for ln in s.read_log().splitlines() if not ln.startswith("$ ")]
    assert not [ln for ln in logged if "pa55" in ln]
    assert any("link down" in ln for ln in logged)


@async_test
async def test_password_with_reserved_characters_is_percent_decoded(plaza):
    """Issue 15: the URL's password was not percent-decoded, so one holding
    `/` could not be written at all and %3A / %40 reached AUTH as is (AUTH
    refused, exit 1). Against a real `redis-server --requirepass` whose
    password holds `/`, `:`, `@` and `%`, the encoded URL links two nodes
    that then serve a room together; the password is never logged, in
    either form; a bad escape stops the start with exit 2, unquoted."""
    import urllib.parse
    from cluster_util import RedisServer
    password = "p/ss:w@rd%42-x"
    encoded = urllib.parse.quote(password, safe="")
    assert "/" not in encoded and "@" not in encoded
    r = RedisServer(password=password).start()
    try:
        url = f"redis://:{encoded}@{r.host}:{r.port}/3"
        a = plaza("--redis", url)
        b = plaza("--redis", url)
        for s in (a, b):
            assert http_json(s, "/healthz")["redis"] == "up"
        alice = await Client.joined(a, "pw-room", name="alice")
        bob = await Client.joined(b, "pw-room", name="bob")
        await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
        assert r.cmd("SELECT", "3") == "OK"
        # Raw ':' and '@' in the password work as before.
        c = plaza("--redis", f"redis://:{password.replace('/', '%2F').replace('%42', '%2542')}"
                             f"@{r.host}:{r.port}/3")
        assert http_json(c, "/healthz")["redis"] == "up"
        for s in (a, b, c):
            logged = [ln for ln in s.read_log().splitlines() if not ln.startswith("$ ")]
            leaks = [ln for ln in logged if "ss:w" in ln or "ss%3Aw" in ln]
            assert not leaks, leaks
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
        p = subprocess.run([PLAZA_BIN, "--port", "0", "--redis",
                            f"redis://:secret%zz@{r.host}:{r.port}"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=15)
        assert p.returncode == 2, p.stderr
        assert "escape" in p.stderr and "secret" not in p.stderr, p.stderr
    finally:
        r.kill()


def test_health_and_metrics_follow_the_link(plaza, redis_server):
    s = plaza("--redis", redis_server.url())
    doc = http_json(s, "/healthz")
    assert doc["bus"] == "redis" and doc["redis"] == "up", doc
    _, _, body = http_get(s, "/metrics")
    for name in REDIS_METRICS:
        assert f"\n{name} " in body, name
    assert metric(s, "plaza_redis_link_up") == 1
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=body,
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
    redis_server.kill()
    t0 = time.monotonic()
    wait_until(lambda: http_get(s, "/healthz")[0] == 503, 5, "/healthz 503")
    # Detected by the probe (2 s silence), well within the documented 5 s.
    assert time.monotonic() - t0 < 5
    status, _, body = http_get(s, "/healthz")
    assert '"redis":"down"' in body
    assert metric(s, "plaza_redis_link_up") == 0
    redis_server.start()
    wait_until(lambda: http_get(s, "/healthz")[0] == 200, 15, "/healthz 200 again")
    assert metric(s, "plaza_redis_reconnects_total") >= 1


def embedded_server_has_no_redis(plaza):
    s = plaza()
    doc = http_json(s, "/healthz")
    assert doc["bus"] == "local" and "redis" not in doc


def test_embedded_default_unchanged(plaza):
    embedded_server_has_no_redis(plaza)


async def mover(c, seconds, hz=20, x0=0.0):
    seq = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seq += 1
        await c.send(MOVE, seq, x0 + seq * 0.01, 0.0, 0.0, 0.0)
        await asyncio.sleep(1 / hz)


@async_test
async def test_commands_per_tick_are_bounded(plaza, redis_server):
    tick_hz = 30
    a, b, c = nodes(plaza, redis_server, 3, tick_hz=tick_hz)
    alice = await Client.joined(a, "arena", name="alice")
    bob = await Client.joined(b, "arena", name="bob")
    carol = await Client.joined(c, "elsewhere", name="carol")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    await asyncio.sleep(0.5)
    rx_c0 = metric(c, "plaza_redis_messages_received_total")
    redis_server.cmd("CONFIG", "RESETSTAT")
    t0 = time.monotonic()
    await asyncio.gather(mover(alice, 3), mover(bob, 3), carol.collect(3))
    elapsed = time.monotonic() - t0
    stats = redis_server.commandstats()
    # Probes: each worker link (2 per node) publishes one every 500 ms.
    probes = 3 * 2 * (elapsed / 0.5 + 1)
    # STATE: at most one PUBLISH per tick per room with changes per node.
    state_bound = 2 * tick_hz * (elapsed + 0.2)
    publishes = stats.get("publish", 0)
    assert publishes <= state_bound + probes, (publishes, state_bound, probes, stats)
    assert publishes >= tick_hz * elapsed, f"no STATE published? {stats}"
    others = {k: v for k, v in stats.items() if k not in ("publish", "eval", "info",
                                                          "config|resetstat")}
    # Nothing else runs per tick: the node heartbeats (an EVAL every 2 s,
    # whose own few GET/PEXPIRE/SMEMBERS/EXISTS calls commandstats counts
    # too) are all.
    evals = stats.get("eval", 0)
    assert evals <= 3 * (elapsed / 2 + 1), stats
    assert sum(others.values()) <= evals * (3 + 3 * 2), stats
    # Only the nodes with members in "arena" are subscribed to it; carol's
    # node received none of its messages.
    print(f"commands in {elapsed:.2f}s at {tick_hz} Hz, 2 nodes moving: {stats}")
    numsub = redis_server.cmd("PUBSUB", "NUMSUB", "plaza:room:arena")
    assert numsub[1] == 2, numsub
    assert metric(c, "plaza_redis_messages_received_total") == rx_c0
    assert metric(a, "plaza_redis_messages_received_total") > tick_hz


@async_test
async def test_no_publish_for_a_room_only_one_node_has(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, tick_hz=30)
    alice = await Client.joined(a, "solo", name="alice")
    await asyncio.sleep(0.3)
    redis_server.cmd("CONFIG", "RESETSTAT")
    t0 = time.monotonic()
    await mover(alice, 2)
    elapsed = time.monotonic() - t0
    probes = 2 * 2 * (elapsed / 0.5 + 1)
    assert redis_server.commandstats().get("publish", 0) <= probes


@async_test
async def test_killed_node_members_left_within_10s(plaza, redis_server):
    a, b, alice, bob = await two_nodes_sharing(plaza, redis_server, "fragile")
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait()
    t0 = time.monotonic()
    await alice.wait_for(LEFT, lambda m: m[1] == bob.id, timeout=10)
    assert time.monotonic() - t0 <= 10
    assert {r["room"]: r["members"] for r in rooms_list(a)} == {"fragile": 1}
    b.proc = None  # already gone: nothing to stop at teardown
    # A late joiner does not see the dead node's member.
    carol = await Client.joined(a, "fragile", name="carol")
    assert sorted(m[0] for m in carol.room_msg[2]) == sorted([alice.id, carol.id])


@async_test
async def test_redis_restart_under_movement(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, max_speed=0)
    alice = await Client.joined(a, "storm", name="alice")
    bob = await Client.joined(b, "storm", name="bob")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    redis_server.kill()
    # Local service goes on: alice's own moves come back in her STATE.
    for seq in range(1, 40):
        await alice.send(MOVE, seq, seq * 0.1, 0.0, 0.0, 0.0)
        await asyncio.sleep(0.05)
    await alice.wait_for(STATE, lambda m: any(e[0] == alice.id and e[1] == 39
                                              for e in m[2]), timeout=2)
    wait_until(lambda: http_get(a, "/healthz")[0] == 503, 5, "503 while unlinked")
    redis_server.start()
    wait_until(lambda: http_get(a, "/healthz")[0] == 200 and
               http_get(b, "/healthz")[0] == 200, 15, "both relinked")
    # Cross-node service is back: bob's moves reach alice.
    seq = 100

    async def bob_moves():
        nonlocal seq
        for _ in range(40):
            seq += 1
            await bob.send(MOVE, seq, 1.0, 0.0, seq * 0.01, 0.0)
            await asyncio.sleep(0.05)
    mv = asyncio.ensure_future(bob_moves())
    await alice.wait_for(STATE, lambda m: any(e[0] == bob.id and e[1] > 100
                                              for e in m[2]), timeout=5)
    await mv
    # And the presence is back in Redis for late joiners.
    carol = await Client.joined(a, "storm", name="carol")
    assert bob.id in [m[0] for m in carol.room_msg[2]]


@async_test
async def test_bad_data_from_redis_is_counted_and_dropped(plaza, redis_server):
    import msgpack
    a, = nodes(plaza, redis_server, 1)
    alice = await Client.joined(a, "guarded", name="alice")
    node = int(http_json(a, "/healthz")["node"].split("-")[1])
    bad0 = metric(a, "plaza_redis_bad_messages_total")
    junk = [
        b"\xc1not msgpack",
        msgpack.packb([2, 1, 2, "guarded", 5, "x", 0, 0, 0, 0, 0]),  # version 2
        msgpack.packb([1, 1, 2, "other", 5, "x", 0, 0, 0, 0, 0]),    # room != channel
        msgpack.packb([1, 1, 2, "guarded", 5, "\udcff".encode("utf-8", "surrogatepass"),
                       0, 0, 0, 0, 0]),                              # a bin name
        msgpack.packb([1, 1, 1, "guarded", [[5, 1, float("nan"), 0, 0, 0]]]),
        msgpack.packb([1, 1, 2, "guarded", 2 ** 60, "x", 0, 0, 0, 0, 0]),
    ]
    for j in junk:
        assert redis_server.cmd("PUBLISH", "plaza:room:guarded", j) == 1
    # A delivery for a session of another node, on this node's channel.
    d = msgpack.packb([1, 1, 5, 0, (node + 1) << 38, 1, "n", "t", 0, 0, 0])
    redis_server.cmd("PUBLISH", f"plaza:node:{node}:w0", d)
    wait_until(lambda: metric(a, "plaza_redis_bad_messages_total") - bad0 >= len(junk) + 1,
               3, "every bad payload counted")
    frames = await alice.collect(0.5)
    assert not [f for f in frames if f[0] == JOINED], frames
    # Still in service.
    assert http_get(a, "/healthz")[0] == 200
    ok = msgpack.packb([1, 1, 2, "guarded", 77, "zed", 0.0, 0.0, 0.0, 0.0, 0])
    redis_server.cmd("PUBLISH", "plaza:room:guarded", ok)
    await alice.wait_for(JOINED, lambda m: m[1] == 77 and m[2] == "zed")


@async_test
async def test_chat_while_unlinked_is_refused_not_forked(plaza, redis_server):
    from plaza_client import CHAT, CHAT_C, E_OVERLOADED
    a, b, alice, bob = await two_nodes_sharing(plaza, redis_server, "talk")
    await alice.send(CHAT_C, "before")
    seq0 = (await bob.wait_for(CHAT, lambda m: m[4] == "before"))[1]
    redis_server.kill()
    # Sent before the node noticed: refused once the link is found down.
    await alice.send(CHAT_C, "in flight")
    err = await alice.wait_for(9, lambda m: m[1] == E_OVERLOADED, timeout=6)
    assert err[3] == 5, err  # the op that failed: CHAT
    wait_until(lambda: http_get(a, "/healthz")[0] == 503, 5, "503 while unlinked")
    # Unlinked: refused at once, nothing numbered or sent locally.
    mark = len(alice.seen)
    await alice.send(CHAT_C, "unlinked")
    err = await alice.wait_for(9, lambda m: m[1] == E_OVERLOADED, timeout=2)
    assert err[3] == 5, err
    assert not [m for m in alice.seen[mark:] if m[0] == CHAT], alice.history()
    redis_server.start()
    wait_until(lambda: http_get(a, "/healthz")[0] == 200 and
               http_get(b, "/healthz")[0] == 200, 15, "both relinked")
    # The cluster's order goes on: nothing was numbered while unlinked.
    await asyncio.sleep(0.5)
    await alice.send(CHAT_C, "after")
    got = await bob.wait_for(CHAT, lambda m: m[4] == "after")
    mine = await alice.wait_for(CHAT, lambda m: m[4] == "after")
    assert got[1] == mine[1], (got, mine)
    assert not [m for m in alice.seen + bob.seen
                if m[0] == CHAT and m[4] in ("in flight", "unlinked")]
    # Redis restarted empty here, so the history holds what came after.
    carol = await Client.joined(b, "talk", name="carol")
    texts = [h[3] for h in carol.room_msg[3]]
    assert "after" in texts and "unlinked" not in texts, carol.room_msg
    assert got[1] >= 1 and seq0 >= 1
