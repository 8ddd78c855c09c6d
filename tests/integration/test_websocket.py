"""WebSocket framing rules (RFC 6455) as plaza applies them."""

import asyncio

import websockets.exceptions

from plaza_client import (CHAT, NO_CLOSE, PONG, ROOM, Client, async_test, pack, ws_frame)
from rawws import OP_CLOSE, OP_PING, OP_TEXT, RawClosed, RawWS


@async_test
async def test_websocket_ping_frame_gets_pong(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    waiter = await c.ws.ping(b"are you there")
    await asyncio.wait_for(waiter, 5)
    await c.close()


@async_test
async def test_client_close_is_answered_with_close(plaza):
    srv = plaza()
    c = await Client.joined(srv, "bye")
    await c.ws.close(1000, "done")
    assert c.ws.close_rcvd is not None, "server did not answer the close frame"
    assert c.ws.close_rcvd.code == 1000, f"server answered close with {c.ws.close_rcvd}"


@async_test
async def test_unmasked_client_frame_closes_1002(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    c.ws.transport.write(ws_frame(0x2, pack([7, 1.0]), masked=False))
    await c.expect_close(1002)


@async_test
async def test_control_frame_between_fragments_is_handled(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    msg = pack([2, "interleaved"])
    c.ws.transport.write(ws_frame(0x2, msg[:3], fin=False) + ws_frame(0x9, b"mid")
                         + ws_frame(0x0, msg[3:], fin=True))
    r = await c.wait_for(ROOM)
    assert r[1] == "interleaved", r
    await c.ping()
    await c.close()


@async_test
async def test_message_of_exactly_max_message_is_accepted(plaza):
    srv = plaza(max_message=1024)
    c = await Client.joined(srv)
    base = len(pack([7, 1.0, b""]))
    pad = 1024 - base - 1  # bin 16 header is 2 bytes more than bin 8 past 255
    data = pack([7, 1.0, b"p" * pad])
    while len(data) < 1024:
        pad += 1
        data = pack([7, 1.0, b"p" * pad])
    assert len(data) == 1024, len(data)
    await c.send_raw(data)
    await c.wait_for(PONG)
    data = pack([7, 2.0, b"p" * (pad + 1)])
    assert len(data) == 1025
    await c.send_raw(data)
    await c.expect_close(1009)


@async_test
async def test_fragmented_message_above_max_message_closes_1009(plaza):
    srv = plaza(max_message=1024)
    c = await Client.joined(srv)
    data = pack([7, 1.0, b"q" * 3000])
    try:
        await c.ws.send([data[i:i + 500] for i in range(0, len(data), 500)])
    except websockets.exceptions.ConnectionClosed:
        pass  # the server may fail the connection before the last fragment
    await c.expect_close(1009)


@async_test
async def test_fragmented_text_message_closes_1003(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    await c.ws.send(["[7,", " 1]"])
    await c.expect_close(1003)


@async_test
async def test_many_messages_in_one_tcp_write_are_all_handled(plaza):
    srv = plaza(chat_rate=1000, chat_burst=1000)
    c = await Client.joined(srv, "pipelined")
    blob = b"".join(ws_frame(0x2, pack([5, f"p{i}"])) for i in range(30))
    c.ws.transport.write(blob)
    for i in range(30):
        await c.wait_for(CHAT, lambda m, t=f"p{i}": m[4] == t)
    await c.close()


@async_test
async def test_nothing_follows_the_servers_close_frame(plaza):
    """RFC 6455 5.5.1: after its close frame an endpoint sends nothing more.
    A ping the client sends while the server waits for its close answer
    gets no pong; the client's close then ends the connection."""
    srv = plaza()
    c = await RawWS.joined(srv, "closing", name="pinger")
    await c.write(ws_frame(OP_TEXT, b"text is refused"))
    await c.expect_close(1003)
    await c.write(ws_frame(OP_PING, b"late"))
    await c.write(ws_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
    after = []
    try:
        while True:
            after.append(await c.frame(timeout=5))
    except RawClosed as e:
        assert e.code == NO_CLOSE  # the server's FIN
    assert after == [], f"frames after the server's close: {after}"
