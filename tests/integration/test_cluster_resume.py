"""Resume on any node: a session dropped on node A continues on node B with
its id, name, room and position, its missed CHAT replayed after ROOM, and
the other members see no LEFT/JOINED. The same after a drain: SIGTERM
closes every client with 1001, exits 0, and the sessions resume on the
survivors, silently, within the grace period.
"""

import asyncio

from cluster_util import nodes, redis_server, wait_until  # noqa: F401
from plaza_client import (CHAT, CHAT_C, JOINED, LEFT, MOVE, ROOM, STATE, WHISPER, E_NOT_FOUND,
                          WHISPER_C, E_SESSION_EXPIRED, Client, async_test)


def noise_about(c, sid, since=0):
    return [m for m in c.seen[since:] if m[0] in (LEFT, JOINED) and m[1] == sid]


def refused(c):
    """The HELLO's resume was refused: ERROR 9 came (before WELCOME)."""
    return any(m[0] == 9 and m[1] == E_SESSION_EXPIRED for m in c.seen)


@async_test
async def test_resume_on_the_other_node_after_a_drop(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, resume_grace_ms=10000, max_speed=0, bounds=0)
    alice = await Client.joined(a, "roam", name="alice")
    bob = await Client.joined(b, "roam", name="bob")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    await alice.send(MOVE, 1, 3.0, 0.0, -4.0, 1.0)
    await bob.wait_for(STATE, lambda m: any(e[0] == alice.id for e in m[2]))
    await alice.send(CHAT_C, "before")
    seq_before = (await alice.wait_for(CHAT, lambda m: m[4] == "before"))[1]
    alice.drop()
    await asyncio.sleep(0.5)
    await bob.send(CHAT_C, "missed")
    await bob.wait_for(CHAT, lambda m: m[4] == "missed")

    back = await Client.connect(b, label="alice-on-b")
    w = await back.hello(resume=alice.session, last_chat_seq=seq_before)
    assert w[1] == alice.id and w[5] is True, w
    r = await back.wait_for(ROOM, keep=True)
    assert r[1] == "roam"
    me = [m for m in r[2] if m[0] == alice.id]
    assert me and me[0][1] == "alice", r
    assert [round(v, 3) for v in me[0][2:6]] == [3.0, 0.0, -4.0, 1.0], me
    replay = await back.wait_for(CHAT, lambda m: m[4] == "missed")
    assert replay[1] > seq_before
    # It works on its new node, and bob saw nothing of the move.
    await back.send(CHAT_C, "back")
    await bob.wait_for(CHAT, lambda m: m[4] == "back" and m[2] == alice.id)
    await back.send(MOVE, 2, 3.5, 0.0, -4.0, 1.0)
    await bob.wait_for(STATE, lambda m: any(e[0] == alice.id and e[1] == 2 for e in m[2]))
    await bob.collect(0.5)
    assert not noise_about(bob, alice.id), bob.history(30)
    # Its old node let it go: the token does not work twice.
    again = await Client.connect(a, label="again")
    w = await again.hello(resume=alice.session)
    assert w[5] is False and w[1] != alice.id and refused(again), again.history()


@async_test
async def test_wrong_token_keeps_the_record(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, resume_grace_ms=10000)
    alice = await Client.joined(a, "safe", name="alice")
    alice.drop()
    await asyncio.sleep(0.5)
    forged = alice.session[:-4] + ("0000" if not alice.session.endswith("0000") else "1111")
    thief = await Client.connect(b, label="thief")
    w = await thief.hello(resume=forged)
    assert w[5] is False and refused(thief), thief.history()
    owner = await Client.connect(b, label="owner")
    w = await owner.hello(resume=alice.session)
    assert w[1] == alice.id and w[5] is True


@async_test
async def test_drain_then_resume_elsewhere_without_left(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, resume_grace_ms=20000)
    alice = await Client.joined(a, "rolling", name="alice")
    bob = await Client.joined(b, "rolling", name="bob")
    carol = await Client.joined(a, "rolling", name="carol")
    await bob.wait_for(JOINED, lambda m: m[1] == carol.id)
    await alice.send(CHAT_C, "hi")
    await bob.wait_for(CHAT, lambda m: m[4] == "hi")
    mark = len(bob.seen)
    a.signal()
    await alice.expect_close(1001)
    await carol.expect_close(1001)
    assert a.wait_exit(10) == 0, a.log_tail()
    # The clients come back on the survivor.
    back = []
    for old in (alice, carol):
        c = await Client.connect(b, label=old.label + "-back")
        w = await c.hello(resume=old.session)
        assert w[1] == old.id and w[5] is True, (old.label, w)
        r = await c.wait_for(ROOM)
        assert sorted(m[0] for m in r[2]) == sorted([alice.id, bob.id, carol.id]), r
        back.append(c)
    # bob saw no LEFT for them, even past the dead node's reaping (> 7 s).
    await bob.collect(9)
    assert not noise_about(bob, alice.id, mark) and \
        not noise_about(bob, carol.id, mark), bob.history(30)
    await back[0].send(WHISPER_C, bob.id, "still here")
    await bob.wait_for(WHISPER, lambda m: m[1] == alice.id)


@async_test
async def test_drained_sessions_not_resumed_leave_after_grace(plaza, redis_server):
    a, b = nodes(plaza, redis_server, 2, resume_grace_ms=3000)
    alice = await Client.joined(a, "gone", name="alice")
    bob = await Client.joined(b, "gone", name="bob")
    assert alice.id in [m[0] for m in bob.room_msg[2]]
    a.signal()
    assert a.wait_exit(10) == 0
    await bob.wait_for(LEFT, lambda m: m[1] == alice.id, timeout=15)


def node_of(srv):
    from plaza_client import http_json
    return int(http_json(srv, "/healthz")["node"].split("-", 1)[1])


@async_test
async def test_whisper_reaches_a_session_resumed_on_another_node(plaza, redis_server):
    # Node A has two workers and B one: the id's worker bits name a worker B
    # does not have, so B must find its own home for it.
    a = plaza("--redis", redis_server.url(), workers=2, resume_grace_ms=10000)
    b = plaza("--redis", redis_server.url(), workers=1, resume_grace_ms=10000)
    alices = [await Client.joined(a, r, name="alice" + r) for r in ("r0", "r1", "r2", "r3")]
    bob = await Client.joined(b, "r0", name="bob")
    carol = await Client.joined(a, "elsewhere", name="carol")
    for alice in alices:
        alice.drop()
    await asyncio.sleep(0.3)
    back = []
    for alice in alices:
        c = await Client.connect(b, label=alice.label + "-on-b")
        w = await c.hello(resume=alice.session)
        assert w[1] == alice.id and w[5] is True, w
        await c.wait_for(ROOM)
        back.append(c)
    for alice, c in zip(alices, back):
        # From the node it now lives on, and from the node its id names.
        await bob.send(WHISPER_C, alice.id, "from b")
        got = await c.wait_for(WHISPER, lambda m: m[3] == "from b")
        assert got[1] == bob.id, got
        await carol.send(WHISPER_C, alice.id, "from a")
        got = await c.wait_for(WHISPER, lambda m: m[3] == "from a")
        assert got[1] == carol.id, got
    assert not [m for m in bob.seen + carol.seen if m[0] == 9], \
        (bob.history(), carol.history())
    # In its grace period on B, a whisper gets today's answer: ERROR 7.
    back[0].drop()
    await asyncio.sleep(0.3)
    await carol.send(WHISPER_C, alices[0].id, "gone?")
    await carol.wait_error(E_NOT_FOUND)
    # And it resumes back on its first node, where whispers find it again.
    home = await Client.connect(a, label="alice-home")
    w = await home.hello(resume=back[0].session)
    assert w[1] == alices[0].id and w[5] is True, (w, home.history())
    await bob.send(WHISPER_C, alices[0].id, "welcome home")
    await home.wait_for(WHISPER, lambda m: m[3] == "welcome home")


@async_test
async def test_whisper_after_drain_reaches_the_survivor(plaza, redis_server):
    a, b, c = nodes(plaza, redis_server, 3, resume_grace_ms=20000)
    alice = await Client.joined(a, "moving", name="alice")
    dave = await Client.joined(c, "other", name="dave")
    a.signal()
    await alice.expect_close(1001)
    assert a.wait_exit(10) == 0, a.log_tail()
    back = await Client.connect(b, label="alice-on-b")
    w = await back.hello(resume=alice.session)
    assert w[1] == alice.id and w[5] is True
    await back.wait_for(ROOM)
    await dave.send(WHISPER_C, alice.id, "found you")
    got = await back.wait_for(WHISPER, lambda m: m[3] == "found you")
    assert got[1] == dave.id


@async_test
async def test_resume_elsewhere_with_a_narrower_token_is_kept_out_of_the_room(plaza,
                                                                              redis_server):
    """Issue 15, across nodes: sessions in `secret` drop on node A and
    resume on node B with a token of the same user that allows only
    `lobby`. Each resumes outside any room with ERROR 8 naming `secret`;
    the room's members on both nodes see it leave, node A lets go of its
    copy, Redis lists it no more. Two sessions resume one after the other,
    so that one of them lands on the room's worker of B and the other
    does not (connections are dealt round robin)."""
    from plaza_client import E_NOT_IN_ROOM, ERROR, http_json
    from test_auth import FORBIDDEN, SECRET, token
    a, b = nodes(plaza, redis_server, 2, jwt_secret=SECRET, resume_grace_ms=10000, workers=2)
    carol = await Client.connect(a, label="carol")
    await carol.hello(token=token(sub="carol"))
    await carol.join("secret")
    bob = await Client.connect(b, label="bob")
    await bob.hello(token=token(sub="bob"))
    await bob.join("secret")
    alices = []
    for i in range(2):
        c = await Client.connect(a, label=f"alice{i}")
        await c.hello(token=token(sub="alice", rooms=["secret", "lobby"]))
        await c.join("secret")
        await bob.wait_for(JOINED, lambda m, c=c: m[1] == c.id)
        alices.append(c)
    for c in alices:
        c.drop()
    await asyncio.sleep(0.5)  # node A saves their records

    backs = []
    for c in alices:
        back = await Client.connect(b, label=f"{c.label} on b")
        w = await back.hello(token=token(sub="alice", rooms=["lobby"]), resume=c.session)
        assert w[5] is True and w[1] == c.id, w
        err = await back.wait_error(FORBIDDEN)
        assert "secret" in err[2] and err[3] == 1, err
        backs.append(back)
    for c in alices:
        await bob.wait_for(LEFT, lambda m, c=c: m[1] == c.id)
        await carol.wait_for(LEFT, lambda m, c=c: m[1] == c.id)
    members = {int(k) for k in redis_server.cmd("HKEYS", "plaza:room:secret:members")}
    assert members == {bob.id, carol.id}, members
    wait_until(lambda: http_json(a, "/healthz")["sessions"] == 1, 5,
               "node A let go of the resumed sessions")
    await bob.send(CHAT_C, "after")
    await carol.wait_for(CHAT, lambda m: m[4] == "after")
    for back in backs:
        await back.send(CHAT_C, "sneaking")
        assert (await back.wait_error(E_NOT_IN_ROOM))[3] == CHAT_C
        await back.ping()
        assert not [m for m in back.seen if m[0] in (ROOM, CHAT)], back.history()
        assert not [m for m in back.seen if m[0] == ERROR and m[1] == E_SESSION_EXPIRED]
        await back.join("lobby")
    await bob.collect(0.3)
    assert len([m for m in bob.seen if m[0] == LEFT]) == 2, bob.history(30)
