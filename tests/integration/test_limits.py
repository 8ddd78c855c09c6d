"""Rate limits, malformed input, frame rules, overload and slow consumers."""

import asyncio

import websockets.exceptions

from plaza_client import (CHAT, E_BAD_MESSAGE, E_INVALID_ARGUMENT, E_OVERLOADED,
                          E_RATE_LIMITED, E_SESSION_EXPIRED, E_UNKNOWN_OP,
                          ERROR, PONG, ROOM, WELCOME, Client, async_test, http_json,
                          pack, raw_socket)
from cluster_util import wait_until
from rawws import RawClosed, RawWS


async def send_ignoring_close(c, *arr):
    try:
        await c.send(*arr)
        return True
    except websockets.exceptions.ConnectionClosed:
        return False


# --- rate limits -----------------------------------------------------------

@async_test
async def test_chat_beyond_burst_is_rate_limited_and_dropped(plaza):
    srv = plaza(chat_rate=1, chat_burst=3, abuse_limit=1000)
    a = await Client.joined(srv, "rl")
    for i in range(10):
        await a.send(5, f"c{i}")
    await a.wait_for(ERROR, lambda m: m[1] == E_RATE_LIMITED, keep=True)
    await a.collect(1.0)
    echoed = [m for m in a.seen if m[0] == CHAT]
    assert 3 <= len(echoed) < 10, \
        f"{len(echoed)} of 10 chats delivered with burst 3: {a.history(30)}"
    assert a.close_code is None
    await a.close()


@async_test
async def test_sustained_abuse_closes_4003(plaza):
    srv = plaza(chat_rate=1, chat_burst=1, abuse_limit=5)
    a = await Client.joined(srv, "rl")
    for i in range(40):
        if not await send_ignoring_close(a, 5, f"spam{i}"):
            break
    frames = await a.expect_close(4003)
    assert any(f[0] == ERROR and f[1] == E_RATE_LIMITED for f in a.seen), \
        f"no ERROR 4 before the kick: {frames!r}"


@async_test
async def test_move_flood_is_rate_limited(plaza):
    srv = plaza(move_rate=5, max_speed=0, bounds=0, abuse_limit=1000)
    a = await Client.joined(srv, "rl")
    for seq in range(1, 41):
        await a.send(4, seq, float(seq), 0.0, 0.0, 0.0)
    await a.wait_for(ERROR, lambda m: m[1] == E_RATE_LIMITED)
    await a.ping()
    await a.close()


# --- malformed input -------------------------------------------------------

@async_test
async def test_not_an_array_is_bad_message(plaza):
    srv = plaza()
    a = await Client.joined(srv)
    for data in (pack({"op": 7}), pack(7), pack("hello"), b"\xc1", pack([])):
        await a.send_raw(data)
        e = await a.wait_for(ERROR)
        assert e[1] == E_BAD_MESSAGE, f"{data!r} answered {e!r}"
    await a.ping()
    await a.close()


@async_test
async def test_unknown_op_is_unknown_op_with_op(plaza):
    srv = plaza()
    a = await Client.joined(srv)
    await a.send(99, "x")
    e = await a.wait_for(ERROR)
    assert e[1] == E_UNKNOWN_OP and len(e) >= 4 and e[3] == 99, f"op 99 answered {e!r}"
    await a.ping()
    await a.close()


@async_test
async def test_wrong_field_types_are_bad_message(plaza):
    srv = plaza()
    a = await Client.joined(srv, "types")
    cases = ([2, 123], [4, "one", 1.0, 2.0, 3.0, 0.0], [4, 1, "x", 2.0, 3.0, 0.0],
             [5, 7], [6, "bob", "hi"], [2], [5])
    for arr in cases:
        await a.send(*arr)
        e = await a.wait_for(ERROR)
        assert e[1] == E_BAD_MESSAGE, f"{arr!r} answered {e!r}"
    await a.ping()
    await a.close()


@async_test
async def test_too_many_malformed_messages_close_4002(plaza):
    srv = plaza(malformed_limit=3)
    a = await Client.joined(srv)
    for _ in range(8):
        if not await send_ignoring_close(a, 99):
            break
    frames = await a.expect_close(4002)
    errors = [f for f in frames if f[0] == ERROR]
    assert len(errors) >= 3, f"closed before the limit of 3 was used: {frames!r}"


@async_test
async def test_malformed_within_limit_keeps_connection(plaza):
    srv = plaza(malformed_limit=3)
    a = await Client.joined(srv)
    for _ in range(3):
        await a.send(99)
        await a.wait_for(ERROR)
    await a.ping()
    assert a.close_code is None
    await a.close()


@async_test
async def test_text_message_closes_1003(plaza):
    srv = plaza()
    a = await Client.joined(srv)
    await a.send_raw("[7, 1]")
    await a.expect_close(1003)


@async_test
async def test_message_above_max_message_closes_1009(plaza):
    srv = plaza(max_message=1024)
    a = await Client.joined(srv)
    # Just under the limit works (the padding is an ignored trailing element).
    await a.send(7, 1.0, b"p" * 900)
    await a.wait_for(PONG)
    await a.send_raw(pack([7, 2.0, b"p" * 2000]))
    await a.expect_close(1009)


@async_test
async def test_fragmented_message_is_reassembled(plaza):
    srv = plaza()
    a = await Client.connect(srv)
    hello = pack([1, 1, None, "frag"])
    await a.ws.send([hello[i:i + 1] for i in range(len(hello))])  # one byte per frame
    await a.wait_for(1)
    join = pack([2, "fragmented-room"])
    await a.ws.send([join[:2], join[2:5], join[5:]])
    r = await a.wait_for(ROOM)
    assert r[1] == "fragmented-room", r
    await a.ping()
    await a.close()


# --- overload and slow consumers -------------------------------------------

@async_test
async def test_hello_beyond_max_connections_is_overloaded_then_1001(plaza):
    srv = plaza(max_connections=1)
    a = await Client.joined(srv)
    b = await Client.connect(srv, label="second")
    await b.send(1, 1)
    frames = await b.expect_close(1001)
    assert any(f[0] == ERROR and f[1] == E_OVERLOADED for f in frames), \
        f"no ERROR 10 before close 1001: {frames!r}"
    assert not any(f[0] == 1 for f in frames), f"second session welcomed: {frames!r}"
    await a.ping()
    await a.close()


@async_test
async def test_resume_at_max_connections_is_let_through(plaza):
    """A resume adds no session: it must not be refused as overload."""
    srv = plaza(max_connections=1)
    a = await Client.joined(srv, "full-house", name="a")
    a.drop()
    await asyncio.sleep(0.3)  # the server sees the drop: a is in its grace period
    back = await Client.connect(srv, label="a-again")
    w = await back.hello(resume=a.session, last_chat_seq=0)
    assert w[5] is True and w[1] == a.id, f"resume refused: {back.history()}"
    assert not [m for m in back.seen if m[0] == ERROR], back.history()


@async_test
async def test_failed_resume_at_max_connections_is_refused_too(plaza):
    """A resume whose token is unknown gives a fresh session instead: that
    one must fit like any other (it used to be let over the limit)."""
    srv = plaza(max_connections=1, resume_grace_ms=0)
    a = await Client.joined(srv, name="a")
    b = await Client.connect(srv, label="b")
    await b.send(1, 1, None, "b", "123.not-a-session", None)
    frames = await b.expect_close(1001)
    errors = [f[1] for f in frames if f[0] == ERROR]
    assert errors == [E_SESSION_EXPIRED, E_OVERLOADED], frames
    assert not [f for f in frames if f[0] == WELCOME], frames
    await a.ping()
    # b's refusal gave its place back: once a is gone, c gets it.
    await a.close()
    wait_until(lambda: http_json(srv, "/healthz")["sessions"] == 0, 5, "a's session ends")
    c = await Client.connect(srv, label="c")
    await c.hello(name="c")


@async_test
async def test_max_connections_holds_across_workers_at_once(plaza):
    """Forty HELLOs at once on two workers for five places: exactly five
    sessions, the others ERROR 10 and close 1001 (a check, then an add,
    let several take the last place)."""
    srv = plaza(workers=2, max_connections=5)
    clients = [await RawWS.connect(srv, label=f"c{i}") for i in range(40)]
    await asyncio.gather(*(c.send(1, 1, None, c.label) for c in clients))

    async def outcome(c):
        try:
            while True:
                m = await c.recv()
                if m[0] == WELCOME:
                    return "welcome"
                if m[0] == ERROR:
                    assert m[1] == E_OVERLOADED, m
        except RawClosed as e:
            assert e.code == 1001, e
            return "refused"
    got = await asyncio.gather(*(outcome(c) for c in clients))
    assert got.count("welcome") == 5, got
    assert got.count("refused") == 35, got


@async_test
async def test_join_of_the_current_room_is_refused_without_a_snapshot(plaza):
    srv = plaza()
    c = await Client.joined(srv, "here", name="c")
    await c.send(2, "here")
    err = await c.wait_for(ERROR, lambda m: m[1] == E_INVALID_ARGUMENT, keep=True)
    assert "already" in err[2]
    await c.ping()
    rooms = [m for m in c.seen if m[0] == ROOM]
    assert len(rooms) == 1, f"ROOM sent again: {c.history()}"


@async_test
async def test_join_is_rate_limited(plaza):
    srv = plaza(join_rate=1, join_burst=3)
    c = await Client.joined(srv, name="hopper")
    for i in range(6):
        await c.send(2, f"hop-{i}")
    frames = await c.collect(1.0)
    rooms = [m for m in frames if m[0] == ROOM]
    limited = [m for m in frames if m[0] == ERROR and m[1] == E_RATE_LIMITED]
    assert len(rooms) == 3, [m[:2] for m in frames]
    assert len(limited) == 3 and all(m[3] == 2 for m in limited), limited


@async_test
async def test_slow_consumer_closed_4004_flooder_undisturbed(plaza):
    srv = plaza(max_outbound=16384, sndbuf=4096, chat_rate=100000, chat_burst=100000,
                move_rate=100000, abuse_limit=1000000, max_speed=0, bounds=0)
    sock = raw_socket(srv, rcvbuf=4096)
    sock.setblocking(False)
    slow = await Client.connect(srv, sock=sock, label="slow")
    await slow.hello(name="slow")
    await slow.join("flood")
    fast = await Client.joined(srv, "flood", name="fast", label="fast")
    await slow.wait_for(3, lambda m: m[1] == fast.id)
    slow.ws.transport.pause_reading()  # stop reading: the kernel buffers fill up

    pad = "x" * 400
    seq = 0
    n = 0
    for batch in range(25):
        for i in range(20):
            seq += 1
            await fast.send(4, seq, float(seq % 100), 0.0, 0.0, 0.0)
            await fast.send(5, f"{batch}.{i} {pad}")
        for i in range(20):
            await fast.wait_for(CHAT, lambda m, t=f"{batch}.{i} {pad}": m[4] == t)
            n += 1
    assert n == 500
    await fast.ping()

    slow.ws.transport.resume_reading()
    await slow.expect_close(4004, timeout=15)
    assert fast.close_code is None
    await fast.send(5, "still here")
    await fast.wait_for(CHAT, lambda m: m[4] == "still here")
    await fast.ping()
    await fast.close()


@async_test
async def test_hello_storm_does_not_break_server(plaza):
    """Many connections at once; every one is welcomed."""
    srv = plaza()
    clients = await asyncio.gather(*(Client.connect(srv, label=f"c{i}") for i in range(50)))
    await asyncio.gather(*(c.hello() for c in clients))
    assert len({c.id for c in clients}) == 50
    await asyncio.gather(*(c.close() for c in clients))
