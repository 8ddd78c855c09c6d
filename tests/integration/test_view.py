"""VIEW, AWAY and STATE_C on one node (protocol 1.1, docs/protocol.md):
members enter a view at <= radius with their current position (moved or
not), leave past 1.25 x radius with one AWAY, the client's own entry is
always carried, the view holds across JOIN (to a room on another worker
too) and resume, bad options are ERROR 6 and change nothing, clients
without a VIEW still get every mover, STATE_C read by the reference decoder
of compact.py (written from the docs) gives the exact positions, and a slow
reader with view + compact ends with every position exact.
"""

import asyncio
import math

import pytest

from compact import View
from plaza_client import (ERROR, JOIN, MOVE, ROOM, STATE, WELCOME,
                          E_INVALID_ARGUMENT, E_RATE_LIMITED, Client, async_test, http_get, metric,
                          room_on_shard)
from rawws import RawWS

VIEW_OP, AWAY_OP, STATE_C = 11, 13, 14
Q = 1 / 128 + 1e-6   # half of 1/64: the compact precision of a coordinate
QYAW = 1 / 512 + 1e-6


class Viewer:
    """A Client and the picture compact.View keeps of what it received."""

    def __init__(self, client, room=None):
        self.c = client
        self.v = View()
        self.v.feed(room or client.room_msg)

    async def pump(self, duration=0.25):
        for m in await self.c.collect(duration):
            self.v.feed(m)

    def sees(self, cid):
        return cid in self.v.in_view

    def at(self, cid):
        return self.v.pos[cid]


async def place(c, seq, x, z, yaw=0.0):
    await c.send(MOVE, seq, float(x), 0.0, float(z), float(yaw))


def exact(got, seq, x, z, yaw=0.0, compact=True):
    tol, tyaw = (Q, QYAW) if compact else (1e-4, 1e-4)
    assert got[0] == seq, f"seq {got[0]} != {seq}"
    assert abs(got[1] - x) <= tol and abs(got[3] - z) <= tol, f"{got} not at {(x, z)}"
    assert abs(got[4] - yaw) <= tyaw, f"{got} yaw not {yaw}"


async def crowd(srv, room, xs, name="m"):
    """Members placed on the x axis at xs (seq 1); returns them."""
    out = []
    for i, x in enumerate(xs):
        c = await Client.joined(srv, room, name=f"{name}{i}")
        await place(c, 1, x, 0)
        out.append(c)
    return out


@pytest.mark.parametrize("compact", [True, False])
@async_test
async def test_radius_and_hysteresis(plaza, compact):
    srv = plaza(max_speed=0)
    a, b, c, d = await crowd(srv, "hyst", [5, 11, 30, 60])
    viewer = await Client.joined(srv, "hyst", name="viewer")
    await place(viewer, 1, 0, 0)
    await viewer.collect(0.2)
    await viewer.send(VIEW_OP, {"radius": 10, "compact": compact})
    v = Viewer(viewer)
    await v.pump()
    # It had the whole room: 5 and 11 (<= 12.5) stay, 30 and 60 are away.
    assert v.sees(a.id) and v.sees(b.id) and v.sees(viewer.id)
    assert not v.sees(c.id) and not v.sees(d.id)
    assert v.v.aways.count(c.id) == 1 and v.v.aways.count(d.id) == 1
    exact(v.at(b.id), 1, 11, 0, compact=compact)
    # 30 comes to 9 (<= r): enters with its current place.
    await place(c, 2, 9, 1, 0.5)
    await v.pump()
    assert v.sees(c.id)
    exact(v.at(c.id), 2, 9, 1, 0.5, compact)
    # 11 wanders to 12.4 and back: never past 12.5, no AWAY.
    await place(b, 2, 12.4, 0)
    await v.pump(0.15)
    await place(b, 3, 10.5, 0)
    await v.pump()
    assert v.sees(b.id) and b.id not in v.v.aways
    exact(v.at(b.id), 3, 10.5, 0, compact=compact)
    # Past 12.5: one AWAY; walking about between r and 1.25 r after it
    # brings nothing; at <= r it is back.
    await place(b, 4, 12.6, 0)
    await v.pump(0.15)
    await place(b, 5, 20, 0)
    await v.pump(0.15)
    await place(b, 6, 11, 0)
    await v.pump()
    assert not v.sees(b.id) and v.v.aways.count(b.id) == 1
    assert v.at(b.id)[0] == 3, "nothing of it was carried while it was out"
    await place(b, 7, 9.5, 0)
    await v.pump()
    assert v.sees(b.id)
    exact(v.at(b.id), 7, 9.5, 0, compact=compact)


@async_test
async def test_entering_member_is_carried_where_it_stands(plaza):
    srv = plaza(max_speed=0)
    (still,) = await crowd(srv, "still", [40])
    viewer = await Client.joined(srv, "still", name="viewer")
    await place(viewer, 1, 0, 0)
    await viewer.send(VIEW_OP, {"radius": 15, "compact": True})
    v = Viewer(viewer)
    await v.pump()
    assert not v.sees(still.id)
    # The viewer walks up to it; it does not move, and is carried once in.
    for i, x in enumerate([10, 20, 26]):
        await place(viewer, 2 + i, x, 0)
        await v.pump(0.1)
    await v.pump()
    assert v.sees(still.id)
    exact(v.at(still.id), 1, 40, 0)
    # Its own entry comes with each of its moves, wherever the others are.
    for seq in range(5, 9):
        await place(viewer, seq, 26 + seq, 3)
        await v.pump(0.1)
    exact(v.at(viewer.id), 8, 34, 3)


@async_test
async def test_own_entry_always_carried(plaza):
    srv = plaza(max_speed=0)
    others = await crowd(srv, "alone", [500, 600])
    viewer = await Client.joined(srv, "alone", name="viewer")
    await viewer.send(VIEW_OP, {"radius": 5})
    v = Viewer(viewer)
    for seq in range(1, 6):
        await place(viewer, seq, -200 - seq, 0, 0.25)
        await v.pump(0.1)
        exact(v.at(viewer.id), seq, -200 - seq, 0, 0.25, compact=False)
    assert not any(v.sees(o.id) for o in others)


@async_test
async def test_own_entry_carried_before_it_moves(plaza):
    """A VIEW sent before any MOVE: the first STATE_C after it carries the
    client's own entry where ROOM put it (seq 0), like any member in view."""
    srv = plaza(max_speed=0)
    (far,) = await crowd(srv, "unmoved", [500])
    viewer = await Client.joined(srv, "unmoved", name="viewer")
    mine = next(m for m in viewer.room_msg[2] if m[0] == viewer.id)
    await viewer.send(VIEW_OP, {"radius": 5, "compact": True})
    v = Viewer(viewer)
    await v.pump(0.3)
    assert v.sees(viewer.id) and not v.sees(far.id)
    exact(v.at(viewer.id), 0, mine[2], mine[4], mine[5])


@async_test
async def test_clients_without_view_get_every_mover(plaza):
    srv = plaza(max_speed=0)
    far, near = await crowd(srv, "mixed", [300, 2])
    viewer = await Client.joined(srv, "mixed", name="viewer")
    plain = await Client.joined(srv, "mixed", name="plain")
    await viewer.send(VIEW_OP, {"radius": 10, "compact": True})
    await viewer.collect(0.2)
    await plain.collect(0.2)
    await place(far, 2, 301, 0)
    await place(near, 2, 3, 0)

    def both(m):
        ids = {e[0] for e in m[2]}
        return far.id in ids and near.id in ids
    await plain.wait_for(STATE, both, timeout=2)
    got = [m for m in await viewer.collect(0.3) if m[0] in (STATE, STATE_C)]
    assert got and all(m[0] == STATE_C for m in got), got


@async_test
async def test_view_across_join_and_resume(plaza):
    srv = plaza(max_speed=0, resume_grace_ms=5000)
    r0, r1 = room_on_shard(0, "vj"), room_on_shard(1, "vj")
    (m0,) = await crowd(srv, r0, [3], name="p")
    (m1,) = await crowd(srv, r1, [4], name="q")
    (far1,) = await crowd(srv, r1, [100], name="f")
    viewer = await Client.connect(srv, label="viewer")
    await viewer.hello("viewer")
    await viewer.send(VIEW_OP, {"radius": 10, "compact": True})  # before a room
    viewer.room_msg = await viewer.join(r0)
    v = Viewer(viewer)
    await place(viewer, 1, 0, 0)
    await v.pump()
    assert v.sees(m0.id)
    exact(v.at(m0.id), 1, 3, 0)
    # JOIN a room of the other worker: the view goes along, starting empty.
    await viewer.send(JOIN, r1)
    room = await viewer.wait_for(ROOM, lambda m: m[1] == r1)
    v.v.feed(room)
    await place(viewer, 2, 0, 0)
    await place(m1, 2, 4.5, 0)
    await v.pump()
    assert v.sees(m1.id) and not v.sees(far1.id)
    exact(v.at(m1.id), 2, 4.5, 0)
    # Drop the socket and resume: same VIEW, a new ROOM, STATE_C again.
    viewer.drop()
    back = await Client.connect(srv, label="back")
    w = await back.hello("viewer", resume=viewer.session)
    assert w[5] is True, w
    room = await back.wait_for(ROOM, lambda m: m[1] == r1)
    v = Viewer(back, room)
    await place(m1, 3, 5, 0)
    await v.pump()
    assert v.sees(m1.id) and not v.sees(far1.id)
    exact(v.at(m1.id), 3, 5, 0)
    assert any(m[0] == STATE_C for m in back.seen)


@async_test
async def test_bad_view_options_error_6_and_change_nothing(plaza):
    srv = plaza(max_speed=0, malformed_limit=100)
    far, near = await crowd(srv, "bad", [300, 2])
    viewer = await Client.joined(srv, "bad", name="viewer")
    await viewer.send(VIEW_OP, {"radius": 10})
    await viewer.collect(0.2)
    bad = [{"radius": -1}, {"radius": "10"}, {"radius": float("nan")},
           {"radius": float("inf")}, {"compact": 1}, {"radios": 10}, {1: 2},
           [], None, "radius"]
    for opts in bad:
        await viewer.send(VIEW_OP, opts)
        e = await viewer.wait_error(E_INVALID_ARGUMENT)
        assert e[3] == VIEW_OP, e
    await viewer.send(VIEW_OP)
    e = await viewer.wait_error(E_INVALID_ARGUMENT)
    assert e[3] == VIEW_OP
    # The view of radius 10, STATE (not compact), still holds.
    await place(far, 2, 301, 0)
    await place(near, 2, 3, 0)
    got = [m for m in await viewer.collect(0.3) if m[0] in (STATE, STATE_C)]
    ids = {e[0] for m in got for e in m[2]}
    assert got and all(m[0] == STATE for m in got) and near.id in ids and far.id not in ids


@async_test
async def test_view_shares_the_app_rate_limit(plaza):
    srv = plaza(max_speed=0, app_rate=1, app_burst=3)
    c = await Client.joined(srv, "rate", name="slider")
    for r in range(6):  # a radius slider dragged
        await c.send(VIEW_OP, {"radius": 10 + r})
    e = await c.wait_error(E_RATE_LIMITED)
    assert e[3] == VIEW_OP, e


@async_test
async def test_welcome_and_metrics_name_views(plaza):
    srv = plaza(max_speed=0)
    c = await Client.connect(srv)
    w = await c.hello("ana")
    assert "view" in w[6] and "compact" in w[6], w
    status, _, body = http_get(srv, "/metrics")
    assert status == 200
    for family in ("plaza_state_c_frames_total", "plaza_state_c_bytes_total",
                   "plaza_view_aways_total", 'plaza_messages_in_total{op="view"}',
                   'plaza_messages_out_total{op="state_c"}'):
        assert family in body, family


@async_test
async def test_slow_reader_with_view_and_compact_ends_exact(plaza):
    """A client that stops reading while its neighbours walk: its queue
    drops STATE_Cs, and each time it is sent a full one of its view instead,
    so when it reads again the reference decoder never meets a delta it
    cannot place, and it ends with every position exact."""
    srv = plaza(max_speed=0, sndbuf=4096)
    walkers = await crowd(srv, "slow", [2 + i * 0.5 for i in range(30)])
    slow = await RawWS.joined(srv, "slow", name="slow", rcvbuf=2048)
    room = next(m for m in slow.seen if m[0] == ROOM)
    await slow.send(VIEW_OP, {"radius": 30, "compact": True})
    await slow.send(MOVE, 1, 0.0, 0.0, 0.0, 0.0)
    before = metric(srv, "plaza_state_resyncs_total")
    # 4 s of 30 walkers striding to and fro while slow reads nothing.
    last = {}
    for step in range(120):
        for i, w in enumerate(walkers):
            x, z = 2 + i * 0.5 + 10 * (step % 2), math.sin(step / 7 + i)
            await place(w, 2 + step, x, z, 0.01 * step)
            last[w.id] = (2 + step, x, z, 0.01 * step)
        await asyncio.sleep(1 / 30)
    assert metric(srv, "plaza_state_resyncs_total") > before, \
        "the slow reader's queue never replaced a STATE_C: make it slower"
    # Read everything: decode all of it (a delta with no ground would raise).
    view = View()
    view.feed(room)
    try:
        while True:
            view.feed(await slow.recv(timeout=1.0))
    except AssertionError:
        pass  # nothing more within a second: it has read it all
    for wid, (seq, x, z, yaw) in last.items():
        got = view.pos[wid]
        exact(got, seq, x, z, yaw)
        assert wid in view.in_view
