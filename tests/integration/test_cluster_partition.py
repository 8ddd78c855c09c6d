"""A node cut off from Redis without a reset keeps serving its local
members, says so on /healthz (503) within a few seconds, is reaped by the
others (LEFT for its members within 10 s), and when the link returns
restores its subscriptions, presence and heartbeat.

redis-server runs in a network namespace of its own, reached by each node
over its own veth pair with link-local /30 addresses; taking one pair's
far end down drops that node's packets silently (no RST, no FIN). The
namespace and links are removed at teardown, whatever happened.
"""

import asyncio
import os
import random
import shutil
import subprocess
import time

import pytest

from cluster_util import RedisServer, wait_until
from plaza_client import (CHAT, CHAT_C, E_OVERLOADED, ERROR, JOINED, LEFT, MOVE,
                          STATE, Client, async_test, http_get, rooms_list)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_unusable():
    """Why network namespaces cannot be made here, or None. A missing `ip`
    is a missing tool (make test-deps installs iproute2: under CI=true the
    skip fails); no root, or no permission, is the machine's ("machine:",
    conftest.py: a skip even under CI=true)."""
    if not shutil.which("ip"):
        return "`ip` (iproute2) is not installed (make test-deps installs it)"
    if os.geteuid() != 0:
        return "machine: network namespaces (ip netns) need root"
    name = f"pzchk{os.getpid() % 100000}"
    r = ip("netns", "add", name, check=False)
    ip("netns", "del", name, check=False)
    if r.returncode != 0:
        return f"machine: `ip netns add` is not permitted here: {r.stderr.strip()}"
    return None


UNUSABLE = netns_unusable()
pytestmark = pytest.mark.skipif(UNUSABLE is not None, reason=UNUSABLE or "")


class Cage:
    """A namespace holding redis-server, and one veth pair per node."""

    def __init__(self, pairs):
        tag = f"{os.getpid() % 10000}{random.randrange(100)}"
        self.ns = f"pzr{tag}"
        self.links = []
        self.addrs = []
        third = random.randrange(1, 250)
        if third == 169:
            third = 170
        ip("netns", "add", self.ns)
        ip("-n", self.ns, "link", "set", "lo", "up")
        for k in range(pairs):
            host, far = f"pz{tag}h{k}", f"pz{tag}r{k}"
            base = 4 * k
            ip("link", "add", host, "type", "veth", "peer", "name", far)
            self.links.append((host, far))
            ip("link", "set", far, "netns", self.ns)
            ip("addr", "add", f"169.254.{third}.{base + 2}/30", "dev", host)
            ip("link", "set", host, "up")
            ip("-n", self.ns, "addr", "add", f"169.254.{third}.{base + 1}/30", "dev", far)
            ip("-n", self.ns, "link", "set", far, "up")
            self.addrs.append(f"169.254.{third}.{base + 1}")

    def cut(self, k):
        ip("-n", self.ns, "link", "set", self.links[k][1], "down")

    def mend(self, k):
        ip("-n", self.ns, "link", "set", self.links[k][1], "up")

    def remove(self):
        for host, _ in self.links:
            ip("link", "del", host, check=False)
        ip("netns", "del", self.ns, check=False)


@pytest.fixture
def cage():
    c = Cage(2)
    redis = RedisServer(host=c.addrs[0])
    try:
        redis.start(netns=c.ns, bind="0.0.0.0")
        yield c, redis
    finally:
        redis.kill()
        c.remove()


def url(cage, redis, k):
    return f"redis://{cage.addrs[k]}:{redis.port}"


@async_test
async def test_cut_off_node_serves_locally_and_recovers(plaza, cage):
    c, redis = cage
    a = plaza("--redis", url(c, redis, 0), max_speed=0)
    b = plaza("--redis", url(c, redis, 1), max_speed=0)
    alice = await Client.joined(a, "island", name="alice")
    bob = await Client.joined(b, "island", name="bob")
    bea = await Client.joined(b, "island", name="bea")
    await alice.wait_for(JOINED, lambda m: m[1] == bea.id)

    c.cut(1)
    t0 = time.monotonic()
    seq = 0
    # A chat sent into the silence is refused once the link is found down
    # (ERROR 10 on CHAT), never numbered on b alone.
    await bea.send(CHAT_C, "into the void")

    async def bob_walks(seconds):
        nonlocal seq
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seq += 1
            await bob.send(MOVE, seq, seq * 0.01, 0.0, 0.0, 0.0)
            await asyncio.sleep(0.05)
    walk = asyncio.ensure_future(bob_walks(4))
    # b's own members keep their tick: bea sees bob's moves, tick after tick.
    frames = await bea.collect(3)
    await walk
    states = [f for f in frames if f[0] == STATE and any(e[0] == bob.id for e in f[2])]
    assert len(states) >= 30, f"only {len(states)} STATEs with bob in 3 s"
    # /healthz tells within 5 s (the probe gives up after 2 s of silence).
    wait_until(lambda: http_get(b, "/healthz")[0] == 503, 5 - (time.monotonic() - t0),
               "b's /healthz 503")
    assert http_get(a, "/healthz")[0] == 200
    errs = [m for m in bea.seen if m[0] == ERROR and m[1] == E_OVERLOADED]
    assert errs and errs[0][3] == CHAT_C, bea.history()
    assert not [m for m in bea.seen + bob.seen if m[0] == CHAT], bea.history()
    # The others reap b: LEFT for its members within 10 s of the cut.
    left_deadline = 10 - (time.monotonic() - t0)
    for sid in (bob.id, bea.id):
        await alice.wait_for(LEFT, lambda m, sid=sid: m[1] == sid,
                             timeout=max(left_deadline, 0.1), keep=True)
    assert {r["room"]: r["members"] for r in rooms_list(a)} == {"island": 1}

    c.mend(1)
    wait_until(lambda: http_get(b, "/healthz")[0] == 200, 15, "b relinked")
    # Presence restored: alice sees them join again, and bob's moves.
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id, timeout=5, keep=True)
    await alice.wait_for(JOINED, lambda m: m[1] == bea.id, timeout=5, keep=True)
    walk = asyncio.ensure_future(bob_walks(2))
    await alice.wait_for(STATE, lambda m: any(e[0] == bob.id for e in m[2]), timeout=3)
    await walk
    wait_until(lambda: {r["room"]: r["members"] for r in rooms_list(a)} == {"island": 3},
               5, "/rooms counts b's members again")
    carol = await Client.joined(a, "island", name="carol")
    assert sorted(m[0] for m in carol.room_msg[2]) == sorted(
        [alice.id, bob.id, bea.id, carol.id])
