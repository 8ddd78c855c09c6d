"""CHAT: delivery, per-room seq, history, text limits, WHISPER."""

import asyncio
import time

from plaza_client import (CHAT, E_INVALID_ARGUMENT, E_NOT_FOUND, E_NOT_IN_ROOM, ERROR, WHISPER,
                          Client, async_test, rooms_list, shard_of)

FAST_CHAT = dict(chat_rate=1000, chat_burst=1000, abuse_limit=100000)


def chat_with(text):
    return lambda m: m[4] == text


@async_test
async def test_chat_reaches_every_member_with_increasing_seq(plaza):
    srv = plaza()
    a = await Client.joined(srv, "chat", name="alice")
    b = await Client.joined(srv, "chat", name="bob")
    now = time.time() * 1000
    await a.send(5, "hi")
    got = [await c.wait_for(CHAT, chat_with("hi")) for c in (a, b)]
    await b.send(5, "yo ☃")
    got2 = [await c.wait_for(CHAT, chat_with("yo ☃")) for c in (a, b)]
    for m in got + got2:
        assert len(m) >= 6, f"CHAT {m!r}"
        assert isinstance(m[1], int), f"CHAT seq {m!r}"
        assert abs(m[5] - now) < 10000, f"CHAT ts_ms {m[5]!r} not near now {now:.0f}"
    assert got[0][1] == got[1][1] and got2[0][1] == got2[1][1], (got, got2)
    assert got2[0][1] > got[0][1], f"seq did not increase: {got!r} then {got2!r}"
    assert got[0][2:4] == [a.id, "alice"] and got2[0][2:4] == [b.id, "bob"], (got, got2)
    await a.close()
    await b.close()


@async_test
async def test_chat_seq_is_per_room(plaza):
    srv = plaza()
    a = await Client.joined(srv, "chat-one")
    b = await Client.joined(srv, "chat-two")
    seqs = []
    for c, text in ((a, "1a"), (a, "1b"), (b, "2a"), (a, "1c")):
        await c.send(5, text)
        seqs.append((text, (await c.wait_for(CHAT, chat_with(text)))[1]))
    s = dict(seqs)
    assert s["1a"] < s["1b"] < s["1c"], seqs
    await a.close()
    await b.close()


@async_test
async def test_room_history_keeps_last_50_oldest_first(plaza):
    srv = plaza(**FAST_CHAT)
    a = await Client.joined(srv, "history", name="alice")
    sent = {}
    for i in range(55):
        await a.send(5, f"m{i}")
    for i in range(55):
        m = await a.wait_for(CHAT, chat_with(f"m{i}"))
        sent[f"m{i}"] = m[1]
    b = await Client.joined(srv, "history")
    hist = b.room_msg[3]
    assert len(hist) == 50, f"history holds {len(hist)}: {[h[3] for h in hist]}"
    assert [h[3] for h in hist] == [f"m{i}" for i in range(5, 55)], [h[3] for h in hist]
    assert [h[0] for h in hist] == [sent[f"m{i}"] for i in range(5, 55)], hist
    for h in hist:
        assert len(h) >= 5 and h[1] == a.id and h[2] == "alice", h
    await a.close()
    await b.close()


@async_test
async def test_chat_text_length_limits(plaza):
    srv = plaza()
    a = await Client.joined(srv, "chat")
    for bad in ("", "x" * 501, "é" * 251):
        await a.send(5, bad)
        e = await a.wait_for(ERROR)
        assert e[1] == E_INVALID_ARGUMENT, f"CHAT of {len(bad.encode())} bytes answered {e!r}"
    ok = "y" * 500
    await a.send(5, ok)
    await a.wait_for(CHAT, chat_with(ok))
    await a.close()


@async_test
async def test_chat_with_invalid_utf8_is_rejected_not_relayed(plaza):
    srv = plaza()
    a = await Client.joined(srv, "chat")
    b = await Client.joined(srv, "chat")
    await a.send_raw(b"\x92\x05\xa2\xff\xfe")  # [5, str(0xff 0xfe)]
    e = await a.wait_for(ERROR)
    assert e[1] == E_INVALID_ARGUMENT, f"CHAT with invalid UTF-8 answered {e!r}"
    await b.collect(0.3)
    assert not any(m[0] == CHAT for m in b.seen), f"relayed: {b.history()}"
    await a.close()
    await b.close()


@async_test
async def test_whisper_text_length_limits(plaza):
    srv = plaza()
    a = await Client.joined(srv, "w")
    b = await Client.joined(srv, "w")
    for bad in ("", "x" * 501):
        await a.send(6, b.id, bad)
        e = await a.wait_for(ERROR)
        assert e[1] == E_INVALID_ARGUMENT, f"WHISPER of {len(bad)} bytes answered {e!r}"
    await b.collect(0.3)
    assert not any(m[0] == WHISPER for m in b.seen), f"delivered: {b.history()}"
    await a.close()
    await b.close()


@async_test
async def test_chat_outside_room_is_not_in_room(plaza):
    srv = plaza()
    a = await Client.joined(srv)
    await a.send(5, "anyone?")
    e = await a.wait_for(ERROR)
    assert e[1] == E_NOT_IN_ROOM, f"CHAT outside a room answered {e!r}"
    await a.close()


@async_test
async def test_whisper_delivered_with_sender_id_and_name(plaza):
    srv = plaza()
    a = await Client.joined(srv, "w", name="alice")
    b = await Client.joined(srv, "w", name="bob")
    c = await Client.joined(srv, "w", name="carol")
    await a.send(6, b.id, "psst")
    w = await b.wait_for(WHISPER)
    assert len(w) >= 5 and w[1:4] == [a.id, "alice", "psst"], f"WHISPER {w!r}"
    assert isinstance(w[4], (int, float)) and abs(w[4] - time.time() * 1000) < 10000, w
    await c.ping()
    await c.collect(0.3)
    assert not any(m[0] == WHISPER for m in c.seen), f"third party got it: {c.history()}"
    await a.close()
    await b.close()
    await c.close()


@async_test
async def test_whisper_outside_rooms_is_delivered(plaza):
    srv = plaza()
    a = await Client.joined(srv, name="alice")
    b = await Client.joined(srv, name="bob")
    await a.send(6, b.id, "no room needed")
    w = await b.wait_for(WHISPER)
    assert w[1:4] == [a.id, "alice", "no room needed"], f"WHISPER {w!r}"
    await a.close()
    await b.close()


@async_test
async def test_whisper_to_unknown_id_is_not_found(plaza):
    srv = plaza()
    a = await Client.joined(srv, "w")
    await a.send(6, 2**53 - 1, "hello?")
    e = await a.wait_for(ERROR)
    assert e[1] == E_NOT_FOUND, f"WHISPER to an unknown id answered {e!r}"
    await a.close()


def rooms_on_both_shards(workers=2):
    names = {}
    i = 0
    while len(names) < workers:
        name = f"shard-room-{i}"
        names.setdefault(shard_of(name, workers), name)
        i += 1
    return names[0], names[1]


@async_test
async def test_whisper_across_shards_both_ways(plaza):
    srv = plaza(workers=2)
    r0, r1 = rooms_on_both_shards()
    a = await Client.joined(srv, r0, name="alice")
    b = await Client.joined(srv, r1, name="bob")
    rooms = {r["room"]: r for r in rooms_list(srv)}
    assert r0 in rooms and r1 in rooms, f"/rooms: {rooms!r}"
    assert rooms[r0].get("shard") != rooms[r1].get("shard"), \
        f"{r0} and {r1} on the same shard: {rooms!r}"
    assert (rooms[r0].get("shard"), rooms[r1].get("shard")) == (0, 1), \
        f"/rooms shards {rooms!r} disagree with fnv1a64(name) % 2 = ({r0}: 0, {r1}: 1)"

    await a.send(6, b.id, "to shard 1")
    w = await b.wait_for(WHISPER)
    assert w[1:4] == [a.id, "alice", "to shard 1"], f"WHISPER {w!r}"
    await b.send(6, a.id, "to shard 0")
    w = await a.wait_for(WHISPER)
    assert w[1:4] == [b.id, "bob", "to shard 0"], f"WHISPER {w!r}"
    await a.close()
    await b.close()



@async_test
async def test_whisper_to_a_session_in_its_grace_period_is_not_found(plaza):
    """A whisper to a member that dropped (resumable, not connected) used to
    vanish: the sender heard nothing. It gets ERROR 7 now, and the whisper is
    not replayed when the target resumes."""
    srv = plaza(workers=2, **FAST_CHAT)
    target = await Client.joined(srv, "grace-whisper", name="target")
    sender = await Client.joined(srv, "grace-whisper", name="sender")
    target.drop()
    await asyncio.sleep(0.3)  # the server has seen the drop
    await sender.send(6, target.id, "are you there?")
    err = await sender.wait_error(E_NOT_FOUND)
    assert err[3] == 6, err
    back = await Client.connect(srv, label="target-again")
    w = await back.hello(resume=target.session, last_chat_seq=0)
    assert w[5] is True
    frames = await back.collect(0.5)
    assert not [m for m in frames if m[0] == WHISPER], frames
