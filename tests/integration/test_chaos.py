"""The cluster by its invariants under faults, the way Jepsen tests
databases: three plaza nodes and one redis-server under steady moves and
chat, then, in turn,

  1. Redis paused past the link's probe; meanwhile one member LEAVEs (and
     stays connected) and one closes for good (its session ends within the
     pause);
  2. Redis killed and restarted empty;
  3. a node killed -9 (its members resume on the others);
  4. a node drained (SIGTERM; its members resume on the last one).

Then, on every client: presence equals the live members (and Redis' presence
hash agrees); every chat anyone saw reached every member present
throughout, once, under one seq, and no seq names two messages; the crashed
and drained members kept their ids; positions converged to each member's
last move.
"""

import asyncio
import signal
import time

from avatar import Avatar, walk
from cluster_util import nodes, redis_server  # noqa: F401 (fixture)
from plaza_client import async_test

ROOM_NAME = "square"
GRACE_MS = 2000


def live_ids(avatars):
    return {a.id for a in avatars if a.want and a.in_room}


async def settle(avatars, seconds):
    """Moves and chat go on for `seconds`."""
    await walk(avatars, seconds)


def check_presence(avatars, redis):
    want = live_ids(avatars)
    label = {a.id: a.label for a in avatars}
    for a in avatars:
        if a.want and a.in_room:
            wrong = set(a.members) ^ want
            if wrong:
                for b in avatars:
                    print("AVATAR", b.label, b.node, sorted(b.ids), b.closes, b.errors[-5:],
                          b.resumes)
                print("PRESENCE", a.label, [(op, label.get(i, i) if isinstance(i, int) else
                                             [label.get(j, j) for j in i])
                                            for op, i in a.presence_log])
            assert not wrong, (
                a.label, "sees", sorted(label.get(i, i) for i in a.members),
                "live", sorted(label.get(i, i) for i in want),
                "its presence log", [(op, label.get(i, i) if isinstance(i, int) else i)
                                     for op, i in a.presence_log[-30:]])
    held = {int(k) for k in redis.cmd("HKEYS", f"plaza:room:{ROOM_NAME}:members")}
    assert held == want, ("redis lists", sorted(held), "live", sorted(want))


def check_chat(throughout):
    every = {}
    for a in throughout:
        for seq, (sid, text) in a.chats.items():
            every.setdefault(seq, set()).add((sid, text))
    twice = {seq: v for seq, v in every.items() if len(v) > 1}
    assert not twice, f"a seq names two messages: {twice}"
    by_text = {}
    for seq, v in every.items():
        (sid, text), = v
        by_text.setdefault(text, []).append(seq)
    assert not {t: s for t, s in by_text.items() if len(s) > 1}, \
        "a message numbered twice"
    for a in throughout:
        missing = sorted(set(every) - set(a.chats))
        assert not missing, f"{a.label} missed chat seqs {missing}"
        seqs = [f[0] for f in a.chat_frames]
        dup = sorted({s for s in seqs if seqs.count(s) > 1})
        assert not dup, f"{a.label} got chat seqs {dup} twice"
        assert seqs == sorted(seqs), f"{a.label} got chat out of order: {seqs}"
    return len(every)


def check_positions(avatars):
    live = [a for a in avatars if a.want and a.in_room]
    for a in live:
        for b in live:
            if b.last_move is None:
                continue
            got = a.pos.get(b.id)
            assert got is not None and got[0] == b.last_move[0], \
                (a.label, "has", got, "for", b.label, "whose last move is", b.last_move)
            assert all(abs(g - w) < 1e-3 for g, w in zip(got[1:], b.last_move[1:])), \
                (a.label, got, b.label, b.last_move)


@async_test
async def test_cluster_keeps_its_promises_under_faults(plaza, redis_server):
    servers = nodes(plaza, redis_server, 3, resume_grace_ms=GRACE_MS,
                    max_speed=0, bounds=0, chat_rate=20, chat_burst=40)
    avatars = [Avatar(f"m{i}", servers, ROOM_NAME, i % 3) for i in range(9)]
    leaver = Avatar("leaver", servers, ROOM_NAME, 0)
    closer = Avatar("closer", servers, ROOM_NAME, 1)
    everyone = avatars + [leaver, closer]
    for a in everyone:
        await a.start()
    await settle(everyone, 2)

    # 1. Redis paused past the probe (2 s): the links go down; a member
    #    leaves and another goes for good while they are down.
    redis_server.proc.send_signal(signal.SIGSTOP)
    await settle(everyone, 2.5)
    await leaver.leave()
    await leaver.wait(lambda: not leaver.in_room, 3, "its LEFT")
    closer.vanish()
    await settle(avatars + [leaver], 2)  # past the closer's grace period
    redis_server.proc.send_signal(signal.SIGCONT)
    await settle(avatars + [leaver], 6)
    check_presence(avatars, redis_server)

    # 2. Redis killed and started again, empty.
    redis_server.kill()
    await settle(avatars, 1)
    redis_server.start()
    await settle(avatars, 8)
    check_presence(avatars, redis_server)

    # 3. A node killed -9: its members resume on the others, as themselves.
    dead = servers[2]
    dead.proc.send_signal(signal.SIGKILL)
    dead.proc.wait()
    dead.proc = None
    # Past the dead node's key, a heartbeat, the grace and a heartbeat: a
    # member nobody resumed would be LEFT by then.
    await settle(avatars, 5 + 2 + GRACE_MS / 1000 + 2 + 1)
    assert all(a.node != 2 for a in avatars)
    check_presence(avatars, redis_server)

    # 4. A node drained: its members resume on the last one.
    servers[1].signal(signal.SIGTERM)
    for _ in range(200):  # the clients must keep reading meanwhile
        if servers[1].proc.poll() is not None:
            break
        await asyncio.sleep(0.05)
    assert servers[1].wait_exit(0.1) == 0, servers[1].log_tail()
    await settle(avatars, 5 + 2 + GRACE_MS / 1000 + 2 + 1)
    assert all(a.node == 0 for a in avatars)

    # Quiet: the last moves and chats arrive.
    await asyncio.sleep(2)
    check_presence(avatars, redis_server)
    numbered = check_chat(avatars)
    assert numbered > 20, f"only {numbered} chats numbered: not a steady load"
    for a in avatars:
        assert len(a.ids) == 1, f"{a.label} changed id: {a.ids}"
        assert a.refused_resumes == 0, (a.label, a.errors)
    assert sum(a.resumes for a in avatars) >= 6  # the dead and drained nodes'
    check_positions(avatars)
    for a in everyone:
        await a.stop()
