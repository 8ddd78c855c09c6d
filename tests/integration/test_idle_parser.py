"""Idle connections give their WebSocket parser back (after ~2 s of quiet at
a message boundary) and get a new one on their next byte. Guards that the
release never loses input: a message split across the quiet time, messages
after it, and a partial frame header left hanging over it."""

import asyncio

from plaza_client import CHAT, PONG, ROOM, Client, async_test, pack, ws_frame

QUIET = 3.0  # longer than the server's 2 s release delay plus a sweep


@async_test
async def test_messages_after_idle_period_are_handled(plaza):
    srv = plaza()
    c = await Client.joined(srv, "quiet", name="sleeper")
    await asyncio.sleep(QUIET)
    await c.ping()                     # PING -> PONG on a fresh parser
    await c.send(5, "awake")
    msg = await c.wait_for(CHAT)
    assert msg[4] == "awake", msg
    await asyncio.sleep(QUIET)
    await c.ping()
    await c.close()


@async_test
async def test_fragmented_message_spanning_idle_period_is_reassembled(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    msg = pack([2, "patient-room"])
    c.ws.transport.write(ws_frame(0x2, msg[:4], fin=False))
    await asyncio.sleep(QUIET)         # parser must be kept: a message is open
    c.ws.transport.write(ws_frame(0x0, msg[4:], fin=True))
    r = await c.wait_for(ROOM)
    assert r[1] == "patient-room", r
    await c.close()


@async_test
async def test_frame_header_split_across_idle_period(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    frame = ws_frame(0x2, pack([7, 12345]))
    c.ws.transport.write(frame[:3])    # inside the header (mask key)
    await asyncio.sleep(QUIET)
    c.ws.transport.write(frame[3:])
    pong = await c.wait_for(PONG)
    assert pong[1] == 12345, pong
    await c.close()
