"""Several plaza nodes sharing one Redis behave as one server: members of a
room on different nodes see each other (ROOM, JOINED/LEFT, STATE within a
tick of local ones), share one chat order and history, whisper across
nodes, and /rooms counts the whole cluster.
"""

import asyncio

from cluster_util import nodes, redis_server, wait_until  # noqa: F401
from plaza_client import (CHAT, CHAT_C, ERROR, JOINED, LEFT, LEAVE, MOVE,
                          ROOM, STATE, WHISPER, WHISPER_C, E_NOT_FOUND, Client,
                          async_test, rooms_list, http_json)


def member_ids(room_msg):
    return sorted(m[0] for m in room_msg[2])


@async_test
async def test_room_lists_members_of_other_nodes(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2)
    alice = await Client.joined(a, "hall", name="alice")
    bob = await Client.joined(b, "hall", name="bob")
    assert member_ids(bob.room_msg) == sorted([alice.id, bob.id]), bob.room_msg
    names = {m[0]: m[1] for m in bob.room_msg[2]}
    assert names[alice.id] == "alice"
    j = await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    assert j[2] == "bob"
    await bob.send(LEAVE)
    await alice.wait_for(LEFT, lambda m: m[1] == bob.id)


@async_test
async def test_three_nodes_distinct_ids_and_one_room(plaza, redis_server):
    srvs = nodes(plaza, redis_server, 3)
    nodes_seen = {http_json(s, "/healthz")["node"] for s in srvs}
    assert len(nodes_seen) == 3, nodes_seen
    clients = []
    for i, s in enumerate(srvs):
        clients.append(await Client.joined(s, "plaza3", name=f"c{i}"))
    ids = [c.id for c in clients]
    assert len(set(ids)) == 3
    assert member_ids(clients[2].room_msg) == sorted(ids)
    for c in clients[:2]:
        await c.wait_for(JOINED, lambda m: m[1] == clients[2].id)


@async_test
async def test_state_carries_remote_moves(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, max_speed=0)
    alice = await Client.joined(a, "yard", name="alice")
    bob = await Client.joined(b, "yard", name="bob")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    await bob.send(MOVE, 1, 5.0, 0.0, 7.0, 0.5)

    def has_bob(m):
        return any(e[0] == bob.id and e[1] == 1 for e in m[2])
    st = await alice.wait_for(STATE, has_bob, timeout=2)
    e = [e for e in st[2] if e[0] == bob.id][0]
    assert (e[2], e[4]) == (5.0, 7.0)
    # Local and remote moves of one tick share one STATE per client.
    await alice.send(MOVE, 1, 1.0, 0.0, 1.0, 0.0)
    await bob.send(MOVE, 2, 6.0, 0.0, 7.0, 0.5)
    frames = await alice.collect(1.0)
    states = [f for f in frames if f[0] == STATE]
    ticks = [f[1] for f in states]
    assert len(ticks) == len(set(ticks)), f"two STATEs in one tick: {states}"


@async_test
async def test_chat_one_order_and_shared_history(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2)
    alice = await Client.joined(a, "talk", name="alice")
    bob = await Client.joined(b, "talk", name="bob")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    for i in range(3):
        await alice.send(CHAT_C, f"a{i}")
        await bob.send(CHAT_C, f"b{i}")
    seen = {}
    for c in (alice, bob):
        got = []
        while len(got) < 6:
            m = await c.wait_for(CHAT)
            got.append((m[1], m[4]))
        seen[c.label] = got
    assert seen["alice"] == seen["bob"], seen
    seqs = [s for s, _ in seen["alice"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6
    # A late joiner on a third node gets the same history.
    c = b if False else nodes(plaza, redis_server, 1)[0]
    carol = await Client.joined(c, "talk", name="carol")
    hist = [(h[0], h[3]) for h in carol.room_msg[3]]
    assert hist == seen["alice"], carol.room_msg


@async_test
async def test_whisper_across_nodes(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2)
    alice = await Client.joined(a, "w1", name="alice")
    bob = await Client.joined(b, "w2", name="bob")
    await alice.send(WHISPER_C, bob.id, "psst")
    w = await bob.wait_for(WHISPER)
    assert (w[1], w[2], w[3]) == (alice.id, "alice", "psst")
    # An id of a node that does not exist: ERROR 7.
    ghost = (12345 << 38) | 1
    await alice.send(WHISPER_C, ghost, "anyone?")
    await alice.wait_error(E_NOT_FOUND)


@async_test
async def test_rooms_is_cluster_wide(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2)
    c1 = await Client.joined(a, "big", name="x")
    c2 = await Client.joined(b, "big", name="y")
    c3 = await Client.joined(b, "small", name="z")

    def counts():
        return {r["room"]: r["members"] for r in rooms_list(a)}
    wait_until(lambda: counts() == {"big": 2, "small": 1}, 5, f"/rooms: {counts()}")
    assert {r["room"]: r["members"] for r in rooms_list(b)} == {"big": 2, "small": 1}
    await c3.send(LEAVE)
    await c3.wait_for(LEFT)
    wait_until(lambda: counts() == {"big": 2}, 5, f"/rooms: {counts()}")
    del c1, c2
