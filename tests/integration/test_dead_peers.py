"""Dead peers: a client that vanishes without a FIN (a phone losing its
network) must not hold its connection and place for ever. After
--ping-interval-ms of silence the server pings; after --idle-timeout-ms of
silence it closes 1001 and the session waits for a resume, as for any drop.
A client whose stack answers pings stays connected however quiet it is."""

import asyncio
import socket
import struct
import threading
import time

from plaza_client import (HELLO, JOIN, LEFT, MOVE, ROOM, WELCOME, Client,
                          async_test, pack, raw_socket, unpack, ws_frame)

UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


class RawPeer:
    """A WebSocket client that reads but never answers a ping."""

    def __init__(self, server):
        self.s = raw_socket(server)
        self.s.sendall(UPGRADE)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, *arr):
        self.s.sendall(ws_frame(2, pack(list(arr))))

    def frame(self, deadline):
        """Next server frame (opcode, payload), or None at the deadline."""
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                off = 2
                if n == 126:
                    n, off = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127:
                    n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
                if len(self.buf) >= off + n:
                    f = (self.buf[0] & 0x0F, self.buf[off:off + n])
                    self.buf = self.buf[off + n:]
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def wait_opcode(self, opcode, timeout):
        deadline = time.monotonic() + timeout
        while True:
            f = self.frame(deadline)
            if f is None or f[0] == opcode:
                return f


@async_test
async def test_silent_peer_is_pinged_then_closed_and_its_session_kept(plaza):
    srv = plaza(ping_interval_ms=500, idle_timeout_ms=4000)
    watcher = await Client.joined(srv, "dead-peer-room", name="watcher")
    peer = RawPeer(srv)
    peer.send(HELLO, 1, None, "ghost")
    op, payload = peer.wait_opcode(2, 5)
    welcome = unpack(payload)
    assert welcome[0] == WELCOME
    peer.send(JOIN, "dead-peer-room")
    await watcher.wait_for(3)  # JOINED ghost
    ping = await asyncio.to_thread(peer.wait_opcode, 9, 6)
    assert ping is not None, "no WebSocket ping after the ping interval"
    t0 = time.monotonic()
    close = await asyncio.to_thread(peer.wait_opcode, 8, 8)
    assert close is not None, "a silent peer was never closed"
    code = struct.unpack(">H", close[1][:2])[0]
    assert code == 1001, f"close code {code}"
    assert b"idle" in close[1][2:]
    assert time.monotonic() - t0 < 6
    # The session is resumable: nobody saw LEFT, and its token brings it back.
    frames = await watcher.collect(0.5)
    assert not [m for m in frames if m[0] == LEFT], frames
    back = await Client.connect(srv, label="ghost-again")
    w = await back.hello(resume=welcome[2], last_chat_seq=0)
    assert w[5] is True and w[1] == welcome[1]
    room = await back.wait_for(ROOM)
    assert room[1] == "dead-peer-room"
    peer.s.close()


@async_test
async def test_quiet_client_that_answers_pings_stays(plaza):
    srv = plaza(ping_interval_ms=300, idle_timeout_ms=2500)
    c = await Client.joined(srv, "quiet-room", name="quiet")
    await asyncio.sleep(5.5)  # twice the idle timeout, sending nothing
    pong = await c.ping(t=7)
    assert pong[1] == 7


@async_test
async def test_silent_peer_behind_a_busy_one_is_still_closed(plaza):
    """A busy connection keeps its place in the order of silence only to
    within relist_ms (it is not moved on every input): one that joined
    first and sends without pause must still let the silent one behind it
    be found, and must itself never be taken for silent."""
    srv = plaza(ping_interval_ms=500, idle_timeout_ms=3000)
    busy = RawPeer(srv)
    busy.send(HELLO, 1, None, "busy")
    assert unpack(busy.wait_opcode(2, 5)[1])[0] == WELCOME
    busy.send(JOIN, "busy-room")
    silent = RawPeer(srv)  # behind the busy one in the order of silence
    silent.send(HELLO, 1, None, "silent")
    assert unpack(silent.wait_opcode(2, 5)[1])[0] == WELCOME

    stop = threading.Event()

    def keep_moving():  # 20 MOVEs a second, in place
        seq = 0
        while not stop.is_set():
            seq += 1
            busy.send(MOVE, seq, 1.0, 0.0, 1.0, 0.0)
            time.sleep(0.05)

    mover = threading.Thread(target=keep_moving)
    mover.start()
    try:
        ping = await asyncio.to_thread(silent.wait_opcode, 9, 6)
        assert ping is not None, "the silent peer behind a busy one was never pinged"
        close = await asyncio.to_thread(silent.wait_opcode, 8, 8)
        assert close is not None, "the silent peer behind a busy one was never closed"
        assert struct.unpack(">H", close[1][:2])[0] == 1001
    finally:
        stop.set()
        await asyncio.to_thread(mover.join)
    # The busy one saw neither a ping nor a close the whole time.
    seen = []
    while (f := busy.frame(time.monotonic() + 0.3)) is not None:
        seen.append(f[0])
    assert 9 not in seen and 8 not in seen, seen
    assert 2 in seen  # its STATEs came
    busy.s.close()
    silent.s.close()
