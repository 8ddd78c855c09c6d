"""Whispers reach a session while it moves between workers. A JOIN of a room
on another shard hands the connection to that shard's worker; whispers that
arrive meanwhile must wait at the session's home worker and be delivered,
never answered with a false ERROR 7."""

import asyncio

from plaza_client import (ERROR, ROOM, WHISPER, Client, async_test, shard_of)

N_WHISPERS = 200


def rooms_on_both_shards(workers=2):
    by_shard = {}
    i = 0
    while len(by_shard) < workers:
        name = f"hop-{i}"
        by_shard.setdefault(shard_of(name, workers), name)
        i += 1
    return [by_shard[s] for s in range(workers)]


@async_test
async def test_whispers_to_a_session_hopping_shards_all_arrive(plaza):
    srv = plaza(chat_rate=10000, chat_burst=10000, workers=2)
    r0, r1 = rooms_on_both_shards()
    sender = await Client.joined(srv, r0, name="sender")
    mover = await Client.joined(srv, r0, name="mover")

    async def hop():
        for i in range(40):
            await mover.send(2, r1 if i % 2 == 0 else r0)
            await asyncio.sleep(0.005)

    async def whisper():
        for i in range(N_WHISPERS):
            await sender.send(6, mover.id, f"w{i}")
            if i % 10 == 0:
                await asyncio.sleep(0.002)

    await asyncio.gather(hop(), whisper())
    texts = []
    while len(texts) < N_WHISPERS:
        m = await mover.wait_for(WHISPER)
        texts.append(m[3])
    # Every whisper arrives exactly once; order is not promised while the
    # target moves (one bounced back from the worker it left may land
    # behind one held at the home).
    assert sorted(texts) == sorted(f"w{i}" for i in range(N_WHISPERS)), texts[:20]
    errors = [m for m in sender.seen if m[0] == ERROR]
    assert not errors, f"sender got errors: {errors[:5]}"
