"""Hostile or broken peers must not hurt the server or other clients; shutdown."""

import asyncio
import os
import signal
import socket

from plaza_client import CHAT, Client, async_test, http_json, raw_socket


def drain(sock, limit=65536):
    """Read what the server answers until it closes or goes quiet."""
    data = b""
    try:
        while len(data) < limit:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionError):
        pass
    return data


async def assert_still_serving(srv, bystander):
    await bystander.ping(9.25)
    assert http_json(srv, "/healthz")["status"] == "ok"
    fresh = await Client.joined(srv, "after", label="fresh")
    await fresh.ping()
    await fresh.close()


@async_test
async def test_garbage_instead_of_http_keeps_server_up(plaza):
    srv = plaza()
    bystander = await Client.joined(srv, "calm", label="bystander")
    for junk in (b"\x00\xff\x13\x37" * 64, os.urandom(4096), b"\r\n\r\n\r\n",
                 b"GET /ws HTTP/9.9\r\n\x00\x00\r\n\r\n",
                 b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
                 b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: !!notbase64!!\r\n\r\n"):
        s = raw_socket(srv)
        s.settimeout(2)
        try:
            s.sendall(junk)
        except ConnectionError:
            pass
        drain(s)
        s.close()
    await assert_still_serving(srv, bystander)
    await bystander.close()


@async_test
async def test_half_sent_request_then_close_keeps_server_up(plaza):
    srv = plaza()
    bystander = await Client.joined(srv, "calm", label="bystander")
    for part in (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpg", b"G", b"GET /healthz HTTP/1.1\r\n"):
        s = raw_socket(srv)
        s.sendall(part)
        s.close()
    # A half-sent request that stays open must not block anyone either.
    lingering = raw_socket(srv)
    lingering.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
    await assert_still_serving(srv, bystander)
    lingering.close()
    await bystander.close()


@async_test
async def test_client_vanishing_mid_frame_keeps_server_up(plaza):
    srv = plaza()
    bystander = await Client.joined(srv, "calm", label="bystander")
    for announced in (200, 70000):
        v = await Client.joined(srv, "calm", label="vanisher")
        # A masked binary frame announcing `announced` bytes, cut short.
        if announced < 65536:
            header = bytes([0x82, 0x80 | 126]) + announced.to_bytes(2, "big")
        else:
            header = bytes([0x82, 0x80 | 127]) + announced.to_bytes(8, "big")
        v.ws.transport.write(header + b"\x01\x02\x03\x04" + b"\x95\x05" + b"z" * 50)
        await asyncio.sleep(0.05)
        v.drop()
    # Also vanish in the middle of a frame header.
    v = await Client.joined(srv, "calm", label="vanisher2")
    v.ws.transport.write(b"\x82")
    await asyncio.sleep(0.05)
    v.drop()
    await assert_still_serving(srv, bystander)
    await bystander.send(5, "still talking")
    await bystander.wait_for(CHAT, lambda m: m[4] == "still talking")
    await bystander.close()


@async_test
async def test_sigterm_closes_clients_1001_and_exits_0(plaza):
    srv = plaza()
    in_room = await Client.joined(srv, "bye", label="in-room")
    lobby = await Client.joined(srv, label="no-room")
    await in_room.ping()
    srv.signal(signal.SIGTERM)
    await in_room.expect_close(1001)
    await lobby.expect_close(1001)
    rc = await asyncio.get_running_loop().run_in_executor(None, srv.wait_exit, 5.0)
    assert rc == 0, f"plaza exit status {rc} after SIGTERM (None = still running)"


@async_test
async def test_sigterm_with_pending_upgrade_and_idle_http_exits_0(plaza):
    srv = plaza()
    pre_hello = await Client.connect(srv, label="pre-hello")
    idle = raw_socket(srv)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
    srv.signal(signal.SIGTERM)
    await pre_hello.expect_close(1001)
    rc = await asyncio.get_running_loop().run_in_executor(None, srv.wait_exit, 5.0)
    assert rc == 0, f"plaza exit status {rc} after SIGTERM (None = still running)"
    idle.close()


@async_test
async def test_debug_log_shows_client_closes_and_grace_expiry(plaza):
    """docs/operations.md: --log-level debug shows every close and a session's
    end; closes started by the client and grace-period expiries were missing."""
    srv = plaza(log_level="debug", resume_grace_ms=300)
    a = await Client.joined(srv, "logs", name="closer")
    await a.close()  # the client's close frame, 1000
    b = await Client.joined(srv, "logs", name="dropper")
    b.drop()  # no close frame: 1006
    await asyncio.sleep(1.0)  # both grace periods pass
    log = srv.read_log()
    assert f"closed with 1000" in log, log[-2000:]
    assert "dropped the connection (1006)" in log, log[-2000:]
    for c in (a, b):
        assert f"session {c.id} detached" in log, log[-2000:]
        assert f"session {c.id}: grace period over" in log, log[-2000:]
