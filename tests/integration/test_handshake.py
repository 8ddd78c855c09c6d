"""Upgrade, HELLO/WELCOME, names, the HELLO-first rule, PING/PONG."""

import time

from plaza_client import (E_BAD_MESSAGE, E_INVALID_ARGUMENT, JOINED, PONG, ROOM, Client, async_test,
                          http_raw, pack, raw_socket, unpack, ws_frame)


@async_test
async def test_subprotocol_plaza_v1_selected_when_offered(plaza):
    srv = plaza()
    c = await Client.connect(srv, subprotocols=["plaza.v1"])
    assert c.ws.subprotocol == "plaza.v1", f"selected {c.ws.subprotocol!r}"
    await c.hello()
    await c.ping()
    await c.close()


@async_test
async def test_subprotocol_case_differs_is_not_echoed(plaza):
    """Subprotocol tokens are case-sensitive (RFC 6455): an offer of PLAZA.V1
    must not get plaza.v1 back, which websockets (like Node's ws) rejects."""
    srv = plaza()
    c = await Client.connect(srv, subprotocols=["PLAZA.V1"])
    assert c.ws.subprotocol is None, f"selected {c.ws.subprotocol!r}"
    await c.hello()
    await c.ping()
    await c.close()
    # plaza.v1 among others is selected, alone.
    c = await Client.connect(srv, subprotocols=["chat", "plaza.v1"])
    assert c.ws.subprotocol == "plaza.v1", f"selected {c.ws.subprotocol!r}"
    await c.close()


def upgrade_answer(srv, target="/ws", version="HTTP/1.1", key="dGhlIHNhbXBsZSBub25jZQ==",
                   extra=""):
    """The status line and headers the server answers a raw upgrade with."""
    s = raw_socket(srv)
    s.sendall((f"GET {target} {version}\r\nHost: {srv.host}:{srv.port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"{extra}\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    return s, head


def test_only_unknown_subprotocols_get_101_without_header(plaza):
    """As docs/protocol.md says: the upgrade succeeds with no
    Sec-WebSocket-Protocol; a client that requires its protocol fails it."""
    srv = plaza()
    for offer in ("chat, superchat", "PLAZA.V1", "plaza.v2"):
        s, head = upgrade_answer(srv, extra=f"Sec-WebSocket-Protocol: {offer}\r\n")
        s.close()
        assert head.startswith("HTTP/1.1 101 "), f"offer {offer!r}: {head!r}"
        assert "sec-websocket-protocol" not in head.lower(), f"offer {offer!r}: {head!r}"


def test_key_that_is_not_base64_of_16_bytes_is_400(plaza):
    srv = plaza()
    for key in ("abcdefghijklmnopqrstuvwx", "dGhlIHNhbXBsZSBub25j!A==",
                "dGhlIHNhbXBsZSBub25jZQ=A"):
        assert len(key) == 24
        s, head = upgrade_answer(srv, key=key)
        s.close()
        assert head.startswith("HTTP/1.1 400 "), f"key {key!r}: {head!r}"
    s, head = upgrade_answer(srv)
    s.close()
    assert head.startswith("HTTP/1.1 101 "), head


def test_http10_upgrade_is_refused(plaza):
    srv = plaza()
    s, head = upgrade_answer(srv, version="HTTP/1.0")
    s.close()
    status = head.split(" ")[1] if " " in head else head
    assert status in ("400", "505"), f"HTTP/1.0 upgrade answered {head!r}"


def test_absolute_form_target_is_served_by_path(plaza):
    srv = plaza()
    s, head = upgrade_answer(srv, target=f"http://{srv.host}:{srv.port}/ws")
    assert head.startswith("HTTP/1.1 101 "), head
    # The upgraded connection works: HELLO gets WELCOME (op 1).
    s.sendall(ws_frame(2, pack([1, 1, None, "abs"])))
    frame = s.recv(4096)
    assert frame[0] == 0x82 and frame[1] < 126, f"not one short binary frame: {frame[:16]!r}"
    msg = unpack(frame[2:2 + frame[1]])
    assert msg[0] == 1, f"first message {msg!r}, wanted WELCOME"
    s.close()
    data = http_raw(srv, f"GET http://{srv.host}:{srv.port}/healthz HTTP/1.1\r\n"
                         "Host: x\r\n\r\n".encode())
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    assert b'"status"' in data, data[:400]


@async_test
async def test_upgrade_without_subprotocol_works(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    assert c.ws.subprotocol is None
    await c.hello()
    await c.ping()
    await c.close()


@async_test
async def test_upgrade_with_permessage_deflate_offer_works(plaza):
    """Browsers offer permessage-deflate; the server may decline it but must work."""
    srv = plaza()
    c = await Client.connect(srv, compression="deflate", subprotocols=["plaza.v1"])
    await c.hello()
    await c.join("deflate-room")
    await c.ping()
    await c.close()


@async_test
async def test_welcome_fields(plaza):
    srv = plaza(tick_hz=20)
    c = await Client.connect(srv)
    before = time.time() * 1000
    w = await c.hello()
    after = time.time() * 1000
    assert len(w) >= 6, f"WELCOME too short: {w!r}"
    _, ident, session, tick_hz, server_time_ms, resumed = w[:6]
    assert isinstance(ident, int) and 0 <= ident < 2**53, f"id {ident!r}"
    assert isinstance(session, str) and session, f"session {session!r}"
    assert tick_hz == 20, f"tick_hz {tick_hz!r}, configured 20"
    assert isinstance(server_time_ms, (int, float)), f"server_time_ms {server_time_ms!r}"
    assert before - 5000 <= server_time_ms <= after + 5000, \
        f"server_time_ms {server_time_ms} not near now ({before:.0f}..{after:.0f})"
    assert resumed is False, f"resumed {resumed!r}"
    await c.close()


@async_test
async def test_ids_and_sessions_are_unique(plaza):
    srv = plaza()
    cs = [await Client.connect(srv) for _ in range(5)]
    for c in cs:
        await c.hello()
    assert len({c.id for c in cs}) == 5, [c.id for c in cs]
    assert len({c.session for c in cs}) == 5, [c.session for c in cs]
    for c in cs:
        await c.close()


@async_test
async def test_guest_name_defaults_to_guest_id(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.hello()
    room = await c.join("guests")
    members = room[2]
    me = [m for m in members if m[0] == c.id]
    assert me, f"joiner {c.id} not in members {members!r}"
    assert me[0][1] == f"guest-{c.id}", f"name {me[0][1]!r}, wanted guest-{c.id}"
    await c.close()


@async_test
async def test_given_name_is_used(plaza):
    srv = plaza()
    a = await Client.joined(srv, "names", name="alice")
    me = [m for m in a.room_msg[2] if m[0] == a.id]
    assert me and me[0][1] == "alice", f"members {a.room_msg[2]!r}"
    b = await Client.joined(srv, "names", name="bob")
    j = await a.wait_for(JOINED, lambda m: m[1] == b.id)
    assert j[2] == "bob", f"JOINED {j!r}"
    await a.close()
    await b.close()


@async_test
async def test_name_of_32_utf8_bytes_is_accepted(plaza):
    srv = plaza()
    name = "é" * 16  # 32 bytes of UTF-8
    a = await Client.joined(srv, "names", name=name)
    me = [m for m in a.room_msg[2] if m[0] == a.id]
    assert me and me[0][1] == name, f"members {a.room_msg[2]!r}"
    await a.close()


@async_test
async def test_bad_version_is_invalid_argument(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.send(1, 2)
    await c.wait_error(E_INVALID_ARGUMENT)
    await c.close()


@async_test
async def test_name_of_33_bytes_is_invalid_argument(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.send(1, 1, None, "x" * 33)
    await c.wait_error(E_INVALID_ARGUMENT)
    await c.close()


@async_test
async def test_name_with_invalid_utf8_is_invalid_argument(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    # [1, 1, nil, str(0xff 0xfe)]: a MessagePack str holding invalid UTF-8.
    await c.send_raw(b"\x94\x01\x01\xc0\xa2\xff\xfe")
    await c.wait_error(E_INVALID_ARGUMENT)
    await c.close()


@async_test
async def test_first_message_not_hello_closes_4000(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.send(7, 1.0)
    frames = await c.expect_close(4000)
    assert not any(f[0] == PONG for f in frames), f"answered a PING before HELLO: {frames!r}"


@async_test
async def test_join_before_hello_closes_4000(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.send(2, "lobby")
    frames = await c.expect_close(4000)
    assert not any(f[0] == ROOM for f in frames), f"joined before HELLO: {frames!r}"


@async_test
async def test_no_hello_within_timeout_closes_4000(plaza):
    srv = plaza(hello_timeout_ms=500)
    c = await Client.connect(srv)
    await c.expect_close(4000, timeout=5)


@async_test
async def test_hello_in_time_is_not_closed_by_hello_timeout(plaza):
    srv = plaza(hello_timeout_ms=500)
    c = await Client.connect(srv)
    await c.hello()
    frames = await c.collect(1.0)
    assert c.close_code is None, f"closed {c.close_code} after HELLO; frames {frames!r}"
    await c.ping()
    await c.close()


@async_test
async def test_ping_answers_pong_with_same_t(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.hello()
    for t in (123456.789, 1.5, 42, 0, 2**40 + 3):
        await c.send(7, t)
        p = await c.wait_for(PONG)
        assert p[1] == t, f"PING t={t!r} answered {p!r}"
        assert isinstance(p[2], (int, float)) and abs(p[2] - time.time() * 1000) < 10000, \
            f"PONG server_time_ms {p[2]!r}"
    await c.close()


@async_test
async def test_trailing_elements_are_ignored(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    # Past protocol 1.1's state (element 6, nil here).
    await c.send(1, 1, None, "fwd", None, None, None, "future", 7)
    await c.wait_for(1)
    await c.send(7, 2.5, "extra", [1, 2])
    p = await c.wait_for(PONG)
    assert p[1] == 2.5, p
    await c.send(2, "fwd-room", {"future": True})
    await c.wait_for(ROOM, lambda m: m[1] == "fwd-room")
    await c.close()



@async_test
async def test_ill_typed_hello_is_bad_message_naming_the_field(plaza):
    srv = plaza()
    for arr, field in (([1, 1, None, 42], "name"), ([1, "1", None, "s"], "version"),
                       ([1], "version")):
        c = await Client.connect(srv)
        await c.send(*arr)
        err = await c.wait_error(E_BAD_MESSAGE)
        assert field in err[2], f"{arr!r}: {err!r}"
        await c.expect_close(4000)
        assert "HELLO" in c.close_reason and "expected first" not in c.close_reason, \
            f"{arr!r}: close reason {c.close_reason!r}"


@async_test
async def test_refused_hello_then_pipelined_join_says_why(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.send(1, 1, None, "x" * 33)
    await c.send(2, "lobby")
    await c.wait_error(E_INVALID_ARGUMENT)
    frames = await c.expect_close(4000)
    assert not any(f[0] == ROOM for f in frames), frames
    assert "name" in c.close_reason, f"close reason {c.close_reason!r}"
