"""VIEW across two plaza nodes sharing a real redis-server: members on the
other node take part in views exactly as local ones (they enter at <=
radius with their current position, leave past 1.25 x radius with one
AWAY), and the views are the same as on one node: the same script run
against one node and against two gives every viewer the same members in
view, the same AWAYs and the same positions.
"""

import asyncio
import signal

from cluster_util import nodes, redis_server  # noqa: F401
from compact import STATE, STATE_C, View
from plaza_client import JOINED, MOVE, ROOM, Client, async_test

VIEW_OP = 11
R = 10.0
Q = 1 / 128 + 1e-6

# (x, z) of the members: within R of viewer A at (0, 0), within R of viewer
# B at (40, 0), or past 1.25 R of both.
SPOTS = [(3, 0), (0, 7), (-6, -6), (45, 2), (33, 0), (20, 0), (-30, 5),
         (100, 100), (9, 3), (40, -9)]


def within(p, q, r):
    return (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 <= r * r


async def pump(client, view, duration):
    for m in await client.collect(duration):
        view.feed(m)


async def script(servers, room, compact):
    """Viewers A (at 0, 0) and B (at 40, 0) and the members of SPOTS, spread
    round robin over the servers; then three members move. Returns, per
    viewer, (members in view, AWAYs of the moves, positions of those in
    view), by the members' index (ids differ from run to run)."""
    n = len(servers)
    va = await Client.joined(servers[0], room, name="va")
    vb = await Client.joined(servers[1 % n], room, name="vb")
    members = []
    for i, _ in enumerate(SPOTS):
        members.append(await Client.joined(servers[(i + 1) % n], room, name=f"m{i}"))
    # everyone is known everywhere before views start
    await asyncio.sleep(0.5 if n > 1 else 0.1)
    views = {}
    for v, at in ((va, (0, 0)), (vb, (40, 0))):
        await v.send(VIEW_OP, {"radius": R, "compact": compact})
        await v.send(MOVE, 1, float(at[0]), 0.0, float(at[1]), 0.0)
        views[v] = View()
        views[v].feed(v.room_msg)
    for i, (x, z) in enumerate(SPOTS):
        await members[i].send(MOVE, 1, float(x), 0.0, float(z), 0.1 * i)
    for v in views:
        await pump(v, views[v], 0.6)
    # m7 (far) comes to A; m0 (near A) walks off; m8 (near A) to 11.5 from
    # A: between R and 1.25 R, it stays.
    settled = {v: len(views[v].aways) for v in views}
    moves = {7: (2, 2), 0: (-60, 0), 8: (11.5, 0)}
    for i, (x, z) in moves.items():
        await members[i].send(MOVE, 2, float(x), 0.0, float(z), 1.0)
    for v in views:
        await pump(v, views[v], 0.6)
    ids = [m.id for m in members]
    out = []
    for v in (va, vb):
        view = views[v]
        seen = sorted(ids.index(i) for i in view.in_view if i in ids)
        # the AWAYs of the moves: while views settle, a member of the other
        # node may still stand where JOIN put it for a tick, and go and
        # come back
        aways = sorted(ids.index(i) for i in view.aways[settled[v]:] if i in ids)
        places = {ids.index(i): tuple(round(c, 4) for c in view.pos[i])
                  for i in view.in_view if i in ids}
        out.append((seen, aways, places))
    return out


def expected():
    """What radius and hysteresis make of the script."""
    final = dict(enumerate(SPOTS))
    final.update({7: (2, 2), 0: (-60, 0), 8: (11.5, 0)})
    res = []
    for at in ((0, 0), (40, 0)):
        first = {i for i, p in enumerate(SPOTS) if within(p, at, R)}
        kept = {i for i in first if within(final[i], at, 1.25 * R)}
        entered = {i for i, p in final.items() if within(p, at, R)}
        res.append(sorted(kept | entered))
    return res


def check(result, want_seen):
    for (seen, aways, places), want in zip(result, want_seen):
        assert seen == want, f"in view {seen}, wanted {want}"
        assert len(aways) == len(set(aways)), f"an AWAY twice: {aways}"
        assert not set(aways) & set(seen), f"AWAY for one in view: {aways}"
        for i in seen:
            assert i in places


@async_test
async def test_two_nodes_give_the_views_of_one(plaza, redis_server):
    one = plaza(max_speed=0)
    single = await script([one], "v-one", True)
    check(single, expected())
    a, b = nodes(plaza, redis_server, 2, max_speed=0)
    double = await script([a, b], "v-two", True)
    check(double, expected())
    # the same members in view, the same AWAYs, the same places
    assert double == single, f"two nodes {double}\none node {single}"
    # m0 walked away from A: named once; m8 stayed; m7 entered at its place
    seen_a, aways_a, places_a = double[0]
    assert aways_a.count(0) == 1 and 8 not in aways_a
    assert abs(places_a[7][1] - 2) <= Q and abs(places_a[7][3] - 2) <= Q
    assert places_a[7][0] == 2


@async_test
async def test_remote_member_enters_and_leaves_a_plain_view(plaza, redis_server):
    """STATE (not compact) across nodes: the entering remote member is
    carried where it stands, with its seq; past 1.25 R it is AWAY once."""
    a, b = nodes(plaza, redis_server, 2, max_speed=0)
    viewer = await Client.joined(a, "v-plain", name="viewer")
    other = await Client.joined(b, "v-plain", name="other")
    await viewer.wait_for(JOINED, lambda m: m[1] == other.id)
    await other.send(MOVE, 1, 50.0, 0.0, 0.0, 0.0)
    await asyncio.sleep(0.3)
    await viewer.send(VIEW_OP, {"radius": R})
    await viewer.send(MOVE, 1, 0.0, 0.0, 0.0, 0.0)
    view = View()
    view.feed(viewer.room_msg)
    await pump(viewer, view, 0.4)
    assert other.id not in view.in_view and view.aways.count(other.id) == 1
    await other.send(MOVE, 2, 4.0, 0.0, 3.0, 0.5)
    await pump(viewer, view, 0.5)
    assert other.id in view.in_view
    assert view.pos[other.id] == (2, 4.0, 0.0, 3.0, 0.5)
    await other.send(MOVE, 3, 13.0, 0.0, 0.0, 0.5)
    await pump(viewer, view, 0.5)
    assert other.id not in view.in_view and view.aways.count(other.id) == 2


@async_test
async def test_view_holds_across_a_resume_on_another_node_after_a_crash(
        plaza, redis_server):
    """VIEW belongs to the session, whose record in Redis carries it: after
    its node is killed -9, the session resumes on the other node and, with
    no VIEW sent again, gets STATE_C of the members within the radius (its
    own entry among them) and nothing of the far one."""
    a, b = nodes(plaza, redis_server, 2, max_speed=0, resume_grace_ms=10000)
    near = await Client.joined(b, "v-crash", name="near")
    far = await Client.joined(b, "v-crash", name="far")
    await near.send(MOVE, 1, 3.0, 0.0, 0.0, 0.0)
    await far.send(MOVE, 1, 50.0, 0.0, 0.0, 0.0)
    viewer = await Client.joined(a, "v-crash", name="viewer")
    await viewer.send(VIEW_OP, {"radius": R, "compact": True})
    await viewer.send(MOVE, 1, 0.0, 0.0, 0.0, 0.0)
    view = View()
    view.feed(viewer.room_msg)
    await pump(viewer, view, 0.5)  # the record is written at once for a VIEW
    assert near.id in view.in_view and far.id not in view.in_view
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    a.proc = None

    back = await Client.connect(b, label="viewer-on-b")
    w = await back.hello("viewer", resume=viewer.session)
    assert w[1] == viewer.id and w[5] is True, w
    view = View()
    view.feed(await back.wait_for(ROOM))
    await far.send(MOVE, 2, 51.0, 0.0, 0.0, 0.0)
    frames = await back.collect(0.6)
    for m in frames:
        view.feed(m)
    states = [m for m in frames if m[0] in (STATE, STATE_C)]
    assert states and all(m[0] == STATE_C for m in states), states
    assert view.in_view == {near.id, viewer.id}, (view.in_view, near.id)
    assert view.pos[viewer.id][1:4] == (0.0, 0.0, 0.0)
