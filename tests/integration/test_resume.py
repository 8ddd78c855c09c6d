"""Session resume after a dropped connection, and expiry after the grace period."""

import asyncio

from plaza_client import (CHAT, ERROR, E_MOVE_REJECTED, E_SESSION_EXPIRED, JOINED, LEFT, ROOM,
                          STATE, WELCOME, Client, async_test)


async def drop_and_settle(c):
    """The client vanishes without a close frame; give the server a moment to see it."""
    c.drop()
    await asyncio.sleep(0.3)


@async_test
async def test_resume_keeps_id_and_room_and_others_see_nothing(plaza):
    srv = plaza(resume_grace_ms=10000, max_speed=0, bounds=0)
    a = await Client.joined(srv, "resume-room", name="alice", label="a")
    b = await Client.joined(srv, "resume-room", name="bob", label="b")
    await a.wait_for(JOINED, lambda m: m[1] == b.id)
    await a.send(4, 1, 3.0, 0.0, -4.0, 1.0)
    await b.wait_for(STATE, lambda m: any(e[0] == a.id and e[1] == 1 for e in m[2]))
    old_id, token = a.id, a.session
    await drop_and_settle(a)

    a2 = await Client.connect(srv, label="a2")
    w = await a2.hello(resume=token)
    assert w[1] == old_id, f"resumed with id {w[1]}, wanted {old_id}: {w!r}"
    assert w[5] is True, f"WELCOME resumed {w[5]!r}: {w!r}"
    r = await a2.wait_for(ROOM)
    assert r[1] == "resume-room", r
    names = {m[0]: m[1] for m in r[2]}
    assert names.get(old_id) == "alice" and b.id in names, f"ROOM members {r[2]!r}"
    me = [m for m in r[2] if m[0] == old_id][0]
    assert [round(v, 3) for v in me[2:6]] == [3.0, 0.0, -4.0, 1.0], \
        f"position not restored: {me!r}"

    # The session works again, and b saw no LEFT/JOINED for it.
    await a2.send(5, "back")
    await b.wait_for(CHAT, lambda m: m[4] == "back" and m[2] == old_id)
    await b.collect(0.3)
    noise = [m for m in b.seen if m[0] in (LEFT, JOINED) and m[1] == old_id]
    assert not noise, f"b saw {noise!r} around the resume; b: {b.history(30)}"
    await a2.close()
    await b.close()


@async_test
async def test_resume_replays_missed_chat_after_room(plaza):
    srv = plaza(resume_grace_ms=10000)
    a = await Client.joined(srv, "replay", label="a")
    b = await Client.joined(srv, "replay", label="b")
    await a.send(5, "before")
    s1 = (await a.wait_for(CHAT, lambda m: m[4] == "before"))[1]
    await b.wait_for(CHAT, lambda m: m[4] == "before")
    await drop_and_settle(a)

    missed = []
    for text in ("missed-1", "missed-2"):
        await b.send(5, text)
        missed.append((await b.wait_for(CHAT, lambda m, t=text: m[4] == t))[1])

    a2 = await Client.connect(srv, label="a2")
    w = await a2.hello(resume=a.session, last_chat_seq=s1)
    assert w[5] is True, f"not resumed: {w!r}"
    r = await a2.wait_for(ROOM, keep=True)
    assert r[1] == "replay", r
    after = await a2.collect(1.0)
    chats = [m for m in after if m[0] == CHAT]
    assert [m[1] for m in chats[:2]] == missed, \
        f"wanted CHAT seqs {missed} right after ROOM; got {after!r}"
    assert [m[4] for m in chats[:2]] == ["missed-1", "missed-2"], chats
    assert not any(m[1] <= s1 for m in chats), f"replayed seq <= {s1}: {chats!r}"
    assert len(chats) == 2, f"replayed more than the missed chats: {chats!r}"
    # ROOM came before the replayed chats.
    idx_room = next(i for i, m in enumerate(a2.seen) if m[0] == ROOM)
    idx_chat = next(i for i, m in enumerate(a2.seen) if m[0] == CHAT)
    assert idx_room < idx_chat, a2.history()
    await a2.close()
    await b.close()


@async_test
async def test_resume_sends_each_missed_chat_once(plaza):
    """ROOM's history stops at last_chat_seq; the rest comes once as CHAT."""
    srv = plaza(resume_grace_ms=10000)
    a = await Client.joined(srv, "once", label="a")
    b = await Client.joined(srv, "once", label="b")
    await a.send(5, "seen-1")
    await a.wait_for(CHAT, lambda m: m[4] == "seen-1")
    await b.wait_for(CHAT, lambda m: m[4] == "seen-1")
    await drop_and_settle(a)
    for text in ("missed-2", "missed-3"):
        await b.send(5, text)
        await b.wait_for(CHAT, lambda m, t=text: m[4] == t)

    a2 = await Client.connect(srv, label="a2")
    await a2.hello(resume=a.session, last_chat_seq=1)
    r = await a2.wait_for(ROOM, keep=True)
    assert [h[0] for h in r[3]] == [1], f"ROOM history after last_chat_seq=1: {r[3]!r}"
    after = await a2.collect(1.0)
    seqs = [m[1] for m in after if m[0] == CHAT]
    assert seqs == [2, 3], f"replayed CHAT seqs {seqs}, wanted [2, 3]; {a2.history()}"

    # Without last_chat_seq a resume keeps today's answer: the whole history
    # in ROOM and no replay.
    await drop_and_settle(a2)
    a3 = await Client.connect(srv, label="a3")
    await a3.hello(resume=a.session)
    r = await a3.wait_for(ROOM, keep=True)
    assert [h[0] for h in r[3]] == [1, 2, 3], f"ROOM history {r[3]!r}"
    after = await a3.collect(1.0)
    assert not [m for m in after if m[0] == CHAT], a3.history()
    await a3.close()
    await b.close()


@async_test
async def test_resume_with_unknown_token_is_session_expired_and_fresh(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.send(1, 1, None, "fresh", "no-such-session-token")
    e = await c.wait_for(ERROR, keep=True)
    assert e[1] == E_SESSION_EXPIRED, f"unknown resume token answered {e!r}"
    w = await c.wait_for(WELCOME)
    assert w[5] is False, f"WELCOME {w!r}"
    assert isinstance(w[1], int) and w[2], w
    await c.join("after-expired")
    await c.close()


@async_test
async def test_session_expires_after_grace_and_others_get_left(plaza):
    srv = plaza(resume_grace_ms=300)
    a = await Client.joined(srv, "grace", label="a")
    b = await Client.joined(srv, "grace", label="b")
    await a.wait_for(JOINED, lambda m: m[1] == b.id)
    a.drop()
    await b.wait_for(LEFT, lambda m: m[1] == a.id)
    # Resuming now is too late.
    a2 = await Client.connect(srv, label="a2")
    await a2.send(1, 1, None, None, a.session)
    e = await a2.wait_for(ERROR, keep=True)
    assert e[1] == E_SESSION_EXPIRED, f"expired resume answered {e!r}"
    w = await a2.wait_for(WELCOME)
    assert w[5] is False and w[1] != a.id, f"WELCOME {w!r} (old id {a.id})"
    await a2.close()
    await b.close()


@async_test
async def test_clean_close_within_grace_can_resume(plaza):
    """A client that closes normally (e.g. a page reload) may resume too."""
    srv = plaza(resume_grace_ms=10000)
    a = await Client.joined(srv, "reload", label="a")
    await a.close()
    a2 = await Client.connect(srv, label="a2")
    w = await a2.hello(resume=a.session)
    assert w[1] == a.id and w[5] is True, f"WELCOME {w!r}"
    r = await a2.wait_for(ROOM)
    assert r[1] == "reload", r
    await a2.close()


@async_test
async def test_resume_is_not_a_new_spawn(plaza):
    """The first move after JOIN may land anywhere (a spawn); the first move
    after a resume is held to the speed limit from the restored position."""
    srv = plaza(resume_grace_ms=10000)  # the default rules: max speed 50
    a = await Client.joined(srv, "respawn", label="a")
    await a.send(4, 1, 300.0, 0.0, 0.0, 0.0)
    await a.wait_for(STATE, lambda m: any(e[0] == a.id and e[1] == 1 for e in m[2]))
    assert not any(m[0] == ERROR for m in a.seen), a.history()
    old_id, token = a.id, a.session
    await drop_and_settle(a)

    for attempt in range(4):  # the new socket lands on either worker
        a2 = await Client.connect(srv, label=f"a2-{attempt}")
        w = await a2.hello(resume=token)
        assert w[1] == old_id and w[5] is True, f"resume failed: {w!r}"
        await a2.wait_for(ROOM)
        seq = 2 + attempt
        await a2.send(4, seq, -300.0, 0.0, 0.0, 0.0)
        e = await a2.wait_for(ERROR)
        assert e[1] == E_MOVE_REJECTED, f"600-unit jump after resume answered {e!r}"
        st = await a2.wait_for(STATE, lambda m: any(e[0] == old_id and e[1] == seq
                                                    for e in m[2]))
        x = [e for e in st[2] if e[0] == old_id][0][2]
        assert abs(x - 300.0) < 1e-3, f"STATE after the refused jump: {st!r}"
        token = w[2]
        await drop_and_settle(a2)
