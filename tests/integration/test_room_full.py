"""A JOIN refused as room full changes nothing (issue 14).

Before the fix the session had already left its old room when the full
one refused it: it ended in no room, and its old room's members saw it
leave. Now a room on the session's own worker is checked first, and a room
on another worker holds a place for it before it leaves (the connection
moves only once the place is granted; a place whose session does not come
is given back). Members of the room on other nodes count too.

One node with --workers 2 and rooms placed on purpose on each worker
(pz_room_shard: FNV-1a-64 of the name modulo the workers).
"""

import asyncio

from cluster_util import nodes, redis_server  # noqa: F401
from plaza_client import (CHAT, E_ROOM_FULL, ERROR, JOINED, LEFT, ROOM, Client,
                          async_test, pack, room_on_shard, ws_frame)
from rawws import OP_BINARY, RawWS

NOISE = (JOINED, LEFT)


async def full_room(srv, shard, tag):
    """A room on worker `shard` holding its two members: (room, members)."""
    room = room_on_shard(shard, f"full-{tag}")
    a = await Client.joined(srv, room, name=f"{tag}-a")
    b = await Client.joined(srv, room, name=f"{tag}-b")
    await a.wait_for(JOINED, lambda m: m[1] == b.id)
    return room, [a, b]


async def refused_and_unchanged(x, watcher, room, members, home):
    """x (in `home` with watcher) JOINs the full `room`: ERROR 5, and x is
    still in its room, which nobody saw it leave; the full room's members
    saw nobody come."""
    await x.send(2, room)
    e = await x.wait_for(ERROR)
    assert e[1] == E_ROOM_FULL and e[3] == 2, e
    await x.send(5, "still here")
    m = await watcher.wait_for(CHAT, lambda m: m[4] == "still here")
    assert m[2] == x.id, m
    await x.wait_for(CHAT, lambda m: m[4] == "still here")
    assert not [f for f in x.seen if f[0] == ROOM and f[1] != home], x.history()
    assert not [f for f in watcher.seen if f[0] == LEFT and f[1] == x.id], watcher.history()
    for c in members:
        await c.ping()
        assert not [f for f in c.seen if f[0] == JOINED and f[1] == x.id], c.history()


async def refused_from(srv, home_shard):
    """x, in a room on worker `home_shard`, is refused the full room on
    worker 0: (x, watcher, room, its members)."""
    room, members = await full_room(srv, 0, f"from{home_shard}")
    home = room_on_shard(home_shard, "home")
    x = await Client.joined(srv, home, name="x")
    watcher = await Client.joined(srv, home, name="watcher")
    await refused_and_unchanged(x, watcher, room, members, home)
    return x, watcher, room, members


@async_test
async def test_full_room_on_the_same_worker_changes_nothing(plaza):
    await refused_from(plaza(workers=2, room_max_members=2), 0)


@async_test
async def test_full_room_on_another_worker_changes_nothing(plaza):
    x, watcher, room, members = await refused_from(plaza(workers=2, room_max_members=2), 1)
    # A place freed there: the same JOIN now moves x, as before.
    await members[1].send(3)
    await members[0].wait_for(LEFT, lambda m: m[1] == members[1].id)
    r = await x.join(room)
    assert sorted(m[0] for m in r[2]) == sorted([members[0].id, x.id]), r
    await watcher.wait_for(LEFT, lambda m: m[1] == x.id)


@async_test
async def test_messages_after_a_join_elsewhere_go_to_the_new_room(plaza):
    """The connection's input waits while the room's worker is asked:
    a CHAT pipelined right behind the JOIN is said in the room joined."""
    srv = plaza(workers=2)
    home, there = room_on_shard(1, "home"), room_on_shard(0, "there")
    x = await RawWS.joined(srv, home, name="x")
    watcher = await Client.joined(srv, home, name="watcher")
    member = await Client.joined(srv, there, name="member")
    # Both frames in one write: plaza reads them together.
    await x.write(ws_frame(OP_BINARY, pack([2, there])) +
                  ws_frame(OP_BINARY, pack([5, "right behind"])))
    r = await x.wait_for(ROOM, lambda m: m[1] == there)
    m = await x.recv()
    while m[0] != CHAT:  # JOINED of nobody, STATE...: nothing else between
        assert m[0] not in (ERROR, ROOM), x.history()
        m = await x.recv()
    assert m[2] == x.id and m[4] == "right behind", m
    await member.wait_for(JOINED, lambda m: m[1] == x.id)
    await member.wait_for(CHAT, lambda m: m[4] == "right behind")
    await watcher.wait_for(LEFT, lambda m: m[1] == x.id)
    await watcher.collect(0.2)
    assert not [f for f in watcher.seen if f[0] == CHAT], watcher.history()


async def next_room_or_error(c):
    while True:
        m = await c.recv()
        if m[0] in (ROOM, ERROR):
            return m


@async_test
async def test_place_given_back_when_the_joiner_vanishes(plaza):
    """x asks for the last place of a room on the other worker and drops
    its connection at once: whether or not it got in, that place is free
    again (its session ends: no grace period), never held for nobody."""
    srv = plaza(workers=2, room_max_members=2, resume_grace_ms=0)
    room = room_on_shard(0, "last-place")
    a = await Client.joined(srv, room, name="a")
    for i in range(5):
        x = await Client.joined(srv, room_on_shard(1, "home"), name=f"x{i}")
        await x.send(2, room)
        x.drop()
        # Someone else takes the place: at once or, while x's JOIN is
        # still settling, a moment later.
        b = await Client.joined(srv, name=f"b{i}")
        for _ in range(8):  # within the JOIN burst (10)
            await b.send(2, room)
            got = await next_room_or_error(b)
            if got[0] == ROOM:
                break
            assert got[1] == E_ROOM_FULL, got
            await asyncio.sleep(0.2)
        assert got[0] == ROOM, f"the place x{i} asked for stayed held: {b.history()}"
        await b.send(3)
        await a.wait_for(LEFT, lambda m, b=b: m[1] == b.id)


@async_test
async def test_members_of_other_nodes_count(plaza, redis_server):  # noqa: F811
    a, b = nodes(plaza, redis_server, 2, room_max_members=2)
    alice = await Client.joined(a, "shared", name="alice")
    bob = await Client.joined(b, "shared", name="bob")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    carol = await Client.joined(a, "carols", name="carol")
    friend = await Client.joined(a, "carols", name="friend")
    await refused_and_unchanged(carol, friend, "shared", [alice], "carols")
