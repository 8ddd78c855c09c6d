"""What plaza keeps in Redis lives no longer than it must (issue 15, item
4): a room's keys (its events and their log, chat seq and history, state,
idempotency keys) get the room TTL (--room-state-ttl-ms) once the room
empties, are kept for good again while it has members, and are gone after
it; a node's records and member lists go with its sessions. The chat seq
never goes backwards while a room lives: a room that emptied and came back
within its TTL goes on from where it was.
"""

import asyncio
import time

from cluster_util import nodes, redis_server, wait_until  # noqa: F401
from plaza_client import (CHAT, CHAT_C, LEAVE, LEFT, ROOM_SET, ROOM_STATE, Client,
                          async_test)


def room_keys(redis):
    return sorted(k.decode() for k in redis.cmd("KEYS", "plaza:room:*"))


@async_test
async def test_a_walk_through_rooms_leaves_nothing_forever(plaza, redis_server):
    a, = nodes(plaza, redis_server, 1, room_state_ttl_ms=1500, chat_rate=100,
               chat_burst=100, app_rate=100, app_burst=100, join_rate=100,
               join_burst=100)
    walker = await Client.joined(a, name="walker")
    for i in range(20):
        await walker.join(f"walk-{i}")
        await walker.send(CHAT_C, f"hello {i}")
        await walker.wait_for(CHAT, lambda m, i=i: m[4] == f"hello {i}")
        await walker.send(ROOM_SET, "sign", i)
        await walker.wait_for(ROOM_STATE)
    await walker.send(LEAVE)
    await walker.wait_for(LEFT)
    await asyncio.sleep(0.3)
    keys = room_keys(redis_server)
    assert any(k.endswith(":chat") for k in keys), keys
    for k in keys:
        if k.endswith(":members"):
            continue
        ttl = redis_server.cmd("PTTL", k)
        assert 0 < ttl <= 1500, (k, ttl)
    wait_until(lambda: not room_keys(redis_server), 5, "the rooms' keys expired")


@async_test
async def test_a_room_that_comes_back_keeps_its_order(plaza, redis_server):
    a, = nodes(plaza, redis_server, 1, room_state_ttl_ms=60000)
    ana = await Client.joined(a, "back", name="ana")
    for i in range(3):
        await ana.send(CHAT_C, f"c{i}")
        await ana.wait_for(CHAT, lambda m, i=i: m[4] == f"c{i}")
    await ana.send(LEAVE)
    await ana.wait_for(LEFT)
    wait_until(lambda: redis_server.cmd("PTTL", "plaza:room:back:seq") > 0, 3,
               "the emptied room's keys have a TTL")
    # Back within the TTL: kept for good again, and the seq goes on.
    room = await ana.join("back")
    assert [h[0] for h in room[3]] == [1, 2, 3], room
    assert redis_server.cmd("PTTL", "plaza:room:back:seq") == -1
    await ana.send(CHAT_C, "again")
    m = await ana.wait_for(CHAT, lambda m: m[4] == "again")
    assert m[1] == 4, m


@async_test
async def test_records_and_node_lists_go_with_the_sessions(plaza, redis_server):
    a, = nodes(plaza, redis_server, 1, resume_grace_ms=500)
    c = await Client.joined(a, "r", name="c")
    wait_until(lambda: redis_server.cmd("EXISTS", f"plaza:session:{c.id}") == 1, 3,
               "the session's record is written")
    await c.close()
    wait_until(lambda: redis_server.cmd("EXISTS", f"plaza:session:{c.id}") == 0, 5,
               "the record goes with the session")
    def node_lists():
        return [k.decode() for k in redis_server.cmd("KEYS", "plaza:node:*")
                if k.endswith(b":members") or k.endswith(b":sessions")]
    wait_until(lambda: not node_lists(), 3, "the node's lists emptied")
