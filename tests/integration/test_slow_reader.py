"""Positions are latest-wins and exact for every reader (issue 14).

A STATE holds only the members that moved in its tick, and a client's
outbound queue replaces an unsent STATE with the newer one. Before the fix,
a client that stopped reading while ten members each moved once (each in
its own tick) got back only the last STATE: nine members stayed at their
old place for good. Now the queue reports what it dropped, and that
client's next tick brings a full STATE (every member's current position),
even though nothing moves any more.

The slow reader is a raw socket with a small receive buffer that reads
nothing while a talker's chat fills the kernel buffers (chat is reliable:
it waits in plaza's queue, in order, ahead of the STATEs).
"""

from cluster_util import metric
from plaza_client import CHAT, JOINED, MOVE, ROOM, STATE, Client, approx_eq, async_test
from rawws import RawWS

N_MOVERS = 10
N_CHATS = 300
PAD = "x" * 200          # ~230-byte chat frames: ~70 KB, far beyond the kernel
RCVBUF = 4096            # buffers (~16 KB) and far below --max-outbound


def positions(frames):
    """Each member's position as a client applying ROOM, JOINED and STATE in
    order would hold it."""
    pos = {}
    for m in frames:
        if m[0] == ROOM:
            pos = {e[0]: tuple(e[2:6]) for e in m[2]}
        elif m[0] == JOINED:
            pos[m[1]] = tuple(m[3:7])
        elif m[0] == STATE:
            for e in m[2]:
                pos[e[0]] = tuple(e[2:6])
    return pos


@async_test
async def test_slow_reader_ends_with_every_members_last_position(plaza):
    srv = plaza(workers=1, sndbuf=4096, max_outbound=1 << 20, chat_rate=100000,
                chat_burst=100000, abuse_limit=1000000)
    slow = await RawWS.joined(srv, "square", name="slow", rcvbuf=RCVBUF)
    talker = await Client.joined(srv, "square", name="talker")
    movers = [await Client.joined(srv, "square", name=f"m{i}") for i in range(N_MOVERS)]
    # The slow client reads up to the last JOINED, then stops reading.
    await slow.wait_for(JOINED, lambda m: m[1] == movers[-1].id)
    mark = len(slow.seen)

    texts = [f"{i:04d} {PAD}" for i in range(N_CHATS)]
    for start in range(0, N_CHATS, 20):
        for t in texts[start:start + 20]:
            await talker.send(5, t)
        for t in texts[start:start + 20]:  # broadcast: queued for slow too
            await talker.wait_for(CHAT, lambda m, t=t: m[4] == t)

    # Each mover moves once, in a tick of its own: the next one moves only
    # once the previous one has seen the STATE that carried its move.
    want = {}
    for i, m in enumerate(movers):
        want[m.id] = (10.0 + i, 0.5, -3.0 - i, 0.25 * i)
        await m.send(MOVE, 1, *want[m.id])
        await m.wait_for(STATE, lambda s, m=m: any(e[0] == m.id for e in s[2]))

    # Reading again: all the chat, in order, then what positions remain.
    frames = []
    while len([f for f in frames if f[0] == CHAT]) < N_CHATS:
        frames.append(await slow.recv(timeout=10))
    try:
        while True:
            frames.append(await slow.recv(timeout=1.0))
    except AssertionError:
        pass  # a second without anything: the queue is empty

    assert [f[4] for f in frames if f[0] == CHAT] == texts, "chat lost or reordered"
    states = [f for f in frames if f[0] == STATE]
    # The STATEs of the ten moves were queued behind the chat, so the queue
    # kept replacing them: this test is about what it dropped.
    assert len(states) < N_MOVERS, f"no STATE was replaced: {len(states)} arrived"
    got = positions(slow.seen[:mark] + frames)
    for m in movers:
        assert m.id in got, f"{m.label} unknown to the slow reader"
        assert all(approx_eq(a, b) for a, b in zip(got[m.id], want[m.id])), \
            f"{m.label} at {got[m.id]}, moved to {want[m.id]}; STATEs read: {states}"
    assert metric(srv, "plaza_state_resyncs_total") >= 1

    # Caught up: what moves next reaches it as to everyone else.
    await movers[0].send(MOVE, 2, 1.0, 0.0, 1.0, 0.0)
    s = await slow.wait_for(STATE, lambda s: any(e[0] == movers[0].id for e in s[2]))
    assert [e[1] for e in s[2] if e[0] == movers[0].id] == [2], s
