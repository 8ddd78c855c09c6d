"""Protocol 1.1 across nodes: member state in ROOM, JOINED and MEMBER on
every node, kept by a resume on another node (after a drop and after a
crash); SIGNAL to the room on every node and to one session wherever it
lives (a session resumed elsewhere included), in order; room state
numbered in Redis, compare-and-set across nodes (ERROR 12 with the version
another node set), ROOM_STATE to every member in version order, read by a
node that opens the room later, the state surviving a node's death; the
admin API's room state and room signal cluster-wide.
"""

import asyncio
import json
import signal
import urllib.error
import urllib.request

from cluster_util import nodes, redis_server, two_nodes_sharing  # noqa: F401
from plaza_client import (E_CONFLICT, E_NOT_FOUND, ERROR, JOINED, LEAVE, LEFT, MEMBER, ROOM,
                          ROOM_SET, ROOM_STATE, SET, SIGNAL, SIGNAL_C, Client,
                          async_test)

FAST = dict(app_rate=1000, app_burst=1000, resume_grace_ms=10000)
ADMIN = "test-admin-token"


def member(room_msg, cid):
    for m in room_msg[2]:
        if m[0] == cid:
            return m
    raise AssertionError(f"{cid} not in ROOM {room_msg!r}")


def admin(srv, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(srv.http_url(path), data=data, method=method,
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@async_test
async def test_member_state_crosses_nodes(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, **FAST)
    ana = await Client.connect(a, label="ana")
    await ana.hello("ana", state={"color": "red"})
    await ana.join("hall")
    bob = await Client.joined(b, "hall", name="bob")
    assert member(bob.room_msg, ana.id)[6] == {"color": "red"}, bob.room_msg
    j = await ana.wait_for(JOINED, lambda m: m[1] == bob.id)
    assert j[7] == {}, j
    await ana.send(SET, {"color": "blue", "emote": "wave"})
    m = await bob.wait_for(MEMBER)
    assert m == [MEMBER, ana.id, {"color": "blue", "emote": "wave"}], m
    await ana.wait_for(MEMBER)
    # A node that opens the room later reads it from the presence in Redis.
    c = plaza("--redis", redis_server.url(), **FAST)
    cat = await Client.joined(c, "hall", name="cat")
    assert member(cat.room_msg, ana.id)[6] == {"color": "blue", "emote": "wave"}


@async_test
async def test_member_state_goes_along_a_resume_on_another_node(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, **FAST)
    ana = await Client.connect(a, label="ana")
    await ana.hello("ana", state={"color": "red"})
    await ana.join("hall")
    bob = await Client.joined(b, "hall", name="bob")
    await ana.send(SET, {"hat": 2})
    await bob.wait_for(MEMBER)
    ana.drop()
    await asyncio.sleep(0.3)
    back = await Client.connect(b, label="ana-on-b")
    w = await back.hello("ana", resume=ana.session, state={"color": "ignored"})
    assert w[1] == ana.id and w[5] is True, w
    room = await back.wait_for(ROOM)
    assert member(room, ana.id)[6] == {"color": "red", "hat": 2}, room


@async_test
async def test_member_state_survives_a_crash(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, **FAST)
    ana = await Client.connect(a, label="ana")
    await ana.hello("ana", state={"color": "red"})
    await ana.join("hall")
    bob = await Client.joined(b, "hall", name="bob")
    await ana.send(SET, {"hat": 3})
    await bob.wait_for(MEMBER)
    await asyncio.sleep(0.4)  # the record is written at once for a state
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    a.proc = None
    back = await Client.connect(b, label="ana-on-b")
    w = await back.hello("ana", resume=ana.session)
    assert w[1] == ana.id and w[5] is True, w
    room = await back.wait_for(ROOM)
    assert member(room, ana.id)[6] == {"color": "red", "hat": 3}, room
    frames = await bob.collect(0.5)
    assert not [f for f in frames if f[0] in (JOINED, 4) and f[1] == ana.id], frames


@async_test
async def test_signal_to_the_room_reaches_every_node_in_order(plaza, redis_server):
    a, b, ana, bob = await two_nodes_sharing(plaza, redis_server, "hall", **FAST)
    cat = await Client.joined(a, "hall", name="cat")
    await bob.wait_for(JOINED, lambda m: m[1] == cat.id)
    for i in range(20):
        await ana.send(SIGNAL_C, None, "step", i)
    for c in (bob, cat):
        got = [(await c.wait_for(SIGNAL))[4] for _ in range(20)]
        assert got == list(range(20)), (c.label, got)
    frames = await ana.collect(0.3)
    assert not [f for f in frames if f[0] == SIGNAL], "the sender got its own"


@async_test
async def test_signal_to_a_session_on_another_node_and_after_its_resume(plaza,
                                                                         redis_server):
    a, b = nodes(plaza, redis_server, 2, **FAST)
    ana = await Client.joined(a, name="ana")
    bob = await Client.joined(b, name="bob")
    for i in range(10):
        await ana.send(SIGNAL_C, bob.id, "offer", {"sdp": i})
    got = [(await bob.wait_for(SIGNAL))[4]["sdp"] for _ in range(10)]
    assert got == list(range(10)), got
    m = bob.seen[-1]
    assert m[1:4] == [ana.id, "ana", "offer"], m
    # bob resumes on a (his id names b): the signal finds him there.
    bob.drop()
    await asyncio.sleep(0.3)
    bob2 = await Client.connect(a, label="bob-on-a")
    w = await bob2.hello("bob", resume=bob.session)
    assert w[5] is True
    await ana.send(SIGNAL_C, bob.id, "answer", "ok")
    m = await bob2.wait_for(SIGNAL)
    assert m[1] == ana.id and m[3:5] == ["answer", "ok"], m
    # An unknown id: ERROR 7 from wherever it is asked.
    await bob2.send(SIGNAL_C, (bob.id | 0xfffff) + 1, "x", 1)
    e = await bob2.wait_for(ERROR)
    assert e[1] == E_NOT_FOUND, e


@async_test
async def test_room_state_is_one_sequence_across_nodes(plaza, redis_server):
    a, b, ana, bob = await two_nodes_sharing(plaza, redis_server, "hall", **FAST)
    await ana.send(ROOM_SET, "seat", {"by": "ana"}, 0)
    for c in (ana, bob):
        m = await c.wait_for(ROOM_STATE)
        assert m == [ROOM_STATE, "seat", {"by": "ana"}, 1, ana.id], (c.label, m)
    # bob read version 0 before: his compare-and-set loses, on his node.
    await bob.send(ROOM_SET, "seat", {"by": "bob"}, 0)
    e = await bob.wait_for(ERROR)
    assert e[1] == E_CONFLICT and e[3:] == [ROOM_SET, "seat", 1], e
    await bob.send(ROOM_SET, "seat", {"by": "bob"}, 1)
    for c in (ana, bob):
        assert (await c.wait_for(ROOM_STATE))[2:] == [{"by": "bob"}, 2, bob.id]
    # Racing sets from both nodes: one order, the same on both.
    for k in range(15):
        await ana.send(ROOM_SET, "n", ("a", k))
        await bob.send(ROOM_SET, "n", ("b", k))
    seqs = {}
    for c in (ana, bob):
        got = []
        while len(got) < 30:
            m = await c.wait_for(ROOM_STATE, lambda m: m[1] == "n")
            got.append((m[3], tuple(m[2])))
        assert [v for v, _ in got] == list(range(1, 31)), (c.label, got)
        seqs[c.label] = got
    assert seqs[ana.label] == seqs[bob.label]
    # A node that opens the room later, and the room's keys' life in Redis.
    c = plaza("--redis", redis_server.url(), **FAST)
    cat = await Client.joined(c, "hall", name="cat")
    last = list(seqs[ana.label][-1][1])  # whichever node's set came last
    assert cat.room_msg[4] == {"seat": [{"by": "bob"}, 2], "n": [last, 30]}, \
        cat.room_msg[4]


@async_test
async def test_room_state_survives_its_nodes(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, room_state_ttl_ms=60000, **FAST)
    ana = await Client.joined(a, "kept", name="ana")
    await ana.send(ROOM_SET, "lamp", True)
    await ana.wait_for(ROOM_STATE)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    a.proc = None
    bob = await Client.joined(b, "kept", name="bob")
    assert bob.room_msg[4] == {"lamp": [True, 1]}, bob.room_msg
    # And it goes on from there: one sequence, whoever holds the room.
    await bob.send(ROOM_SET, "lamp", False, 1)
    assert (await bob.wait_for(ROOM_STATE))[2:4] == [False, 2]


@async_test
async def test_admin_room_state_and_signal_cluster_wide(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, admin_token=ADMIN, **FAST)
    ana = await Client.joined(a, "hall", name="ana")
    bob = await Client.joined(b, "hall", name="bob")
    await ana.wait_for(JOINED, lambda m: m[1] == bob.id)
    await bob.send(ROOM_SET, "obj", {"n": 1})
    await ana.wait_for(ROOM_STATE)
    # Asked on a node with no member in the room: Redis answers.
    c = plaza("--redis", redis_server.url(), admin_token=ADMIN, **FAST)
    st, body = admin(c, "GET", "/admin/room-state?room=hall")
    assert st == 200, body
    assert body["members"] == 2 and body["state"]["obj"] == {
        "value": {"n": 1}, "version": 1, "by": bob.id}, body
    assert admin(c, "GET", "/admin/room-state?room=nope")[0] == 404
    st, body = admin(c, "POST", "/admin/signal",
                     {"room": "hall", "kind": "announce", "data": "hi"})
    assert st == 200 and body == {"delivered": 2}, body
    for who in (ana, bob):
        m = await who.wait_for(SIGNAL)
        assert m[1:5] == [0, "server", "announce", "hi"], m
    assert admin(c, "POST", "/admin/signal", {"room": "nope", "kind": "x"})[0] == 404
    st, body = admin(a, "POST", "/admin/signal", {"id": bob.id, "kind": "dm"})
    assert st == 200, body
    m = await bob.wait_for(SIGNAL)
    assert m[1:4] == [0, "server", "dm"], m
