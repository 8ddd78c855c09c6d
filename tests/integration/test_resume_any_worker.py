"""Resume finds the session whichever worker the new socket lands on. The
acceptor hands sockets out round robin, so an extra idle connection before
the reconnect shifts which worker gets it; both parities are tried, with
rooms on both shards, so the resume is served locally, through the home
worker's directory, and for a session living away from its home."""

import asyncio

import pytest

from plaza_client import (JOINED, LEFT, ROOM, WELCOME, Client, async_test,
                          shard_of)


def room_on(shard, workers=2):
    i = 0
    while shard_of(f"r-{i}", workers) != shard:
        i += 1
    return f"r-{i}"


@pytest.mark.parametrize("room_shard", [0, 1])
@pytest.mark.parametrize("shift", [0, 1])
@async_test
async def test_resume_from_either_worker(plaza, room_shard, shift):
    srv = plaza(workers=2)
    room = room_on(room_shard)
    other = await Client.joined(srv, room, name="witness")
    c = await Client.joined(srv, room, name="traveller")
    old_id, token = c.id, c.session
    await other.wait_for(JOINED, lambda m: m[1] == old_id)
    before = len(other.seen)
    c.drop()
    await asyncio.sleep(0.2)
    extras = [await Client.connect(srv) for _ in range(shift)]
    r = await Client.connect(srv, label="back")
    await r.hello(name="traveller", resume=token)
    assert r.welcome[1] == old_id and r.welcome[5] is True, r.welcome
    room_msg = await r.wait_for(ROOM)
    assert room_msg[1] == room, room_msg
    assert old_id in [m[0] for m in room_msg[2]], room_msg
    await other.ping()
    seen = [m for m in other.seen[before:]
            if m[0] in (LEFT, JOINED) and m[1] == old_id]
    assert not seen, f"witness saw {seen}"
    for e in extras:
        await e.close()
    await r.close()
    await other.close()
