"""A connection moving to another worker must not take payloads it shares
with its old worker along (issue 7).

Chat is encoded once per room and every member's outbound queue holds a
reference to the same refcounted payload, not a copy. When a member that
has a queue (it stopped reading) JOINs a room of another shard, its
connection moves to that worker. If the queue still referenced the shared
payloads, the two workers would unref (and free) them concurrently while
the other slow member's queue still writes them: a data race under
ThreadSanitizer (make integration-tsan), a use-after-free or double free
under ASan, garbled or lost chat otherwise. After the move, both slow
members must get every chat, in seq order, and plaza must exit 0.
"""

import asyncio

from plaza_client import CHAT, JOINED, LEFT, ROOM, Client, async_test, room_on_shard
from rawws import RawWS

N_CHATS = 300
PAD = "x" * 200          # ~230-byte chat frames: 300 of them are ~70 KB per member,
MAX_OUTBOUND = 1 << 20   # far beyond the kernel buffers (~16 KB), far below this
RCVBUF = 4096



async def read_until(c, op, pred, timeout=20):
    """Every message c receives up to and including the first (op, pred)."""
    out = []
    while True:
        m = await c.recv(timeout)
        out.append(m)
        if m[0] == op and pred(m):
            return out


def chat_seqs(frames):
    return [m[1] for m in frames if m[0] == CHAT]


@async_test
async def test_moving_connection_with_queued_shared_chat(plaza):
    srv = plaza(workers=2, sndbuf=4096, max_outbound=MAX_OUTBOUND, chat_rate=100000,
                chat_burst=100000, abuse_limit=1000000)
    old = room_on_shard(0, "race-old")
    new = room_on_shard(1, "race-new")

    mover = await RawWS.joined(srv, old, name="mover", rcvbuf=RCVBUF)
    stayer = await RawWS.joined(srv, old, name="stayer", rcvbuf=RCVBUF)
    talker = await Client.joined(srv, old, name="talker")
    # Read what came before the flood; from here on the two do not read.
    await mover.wait_for(JOINED, lambda m: m[1] == talker.id)
    await stayer.wait_for(JOINED, lambda m: m[1] == talker.id)

    texts = [f"{i:04d} {PAD}" for i in range(N_CHATS)]
    for start in range(0, N_CHATS, 20):
        for t in texts[start:start + 20]:
            await talker.send(5, t)
        # The talker reads its echoes: every chat is broadcast before the JOIN.
        for t in texts[start:start + 20]:
            await talker.wait_for(CHAT, lambda m, t=t: m[4] == t)

    # The mover leaves for the other shard while its queue is full of chat
    # it shares with the stayer; the talker's LEFT says the JOIN was handled.
    await mover.send(2, new)
    await talker.wait_for(LEFT, lambda m: m[1] == mover.id, timeout=10)

    # Both read again, at the same time: the two workers now write (and
    # release) what the two queues held.
    got_mover, got_stayer = await asyncio.gather(
        read_until(mover, ROOM, lambda m: m[1] == new),
        read_until(stayer, LEFT, lambda m: m[1] == mover.id))

    want = list(range(1, N_CHATS + 1))
    assert chat_seqs(got_stayer) == want, \
        f"stayer's chat seqs: {chat_seqs(got_stayer)[:10]}... ({len(chat_seqs(got_stayer))})"
    assert [m[4] for m in got_stayer if m[0] == CHAT] == texts, "stayer: chat texts differ"
    assert chat_seqs(got_mover) == want, \
        f"mover's chat seqs: {chat_seqs(got_mover)[:10]}... ({len(chat_seqs(got_mover))})"
    assert [m[4] for m in got_mover if m[0] == CHAT] == texts, "mover: chat texts differ"
    room = got_mover[-1]
    assert [m[0] for m in room[2]] == [mover.id], f"ROOM of {new}: {room!r}"

    # Both still work after the move.
    await talker.send(5, "after")
    await stayer.wait_for(CHAT, lambda m: m[4] == "after")
    await mover.send(5, "moved")
    await mover.wait_for(CHAT, lambda m: m[4] == "moved")
