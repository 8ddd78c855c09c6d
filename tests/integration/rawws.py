"""A raw WebSocket client on a plain socket, for what the websockets library
will not do: stop reading for good with a small receive buffer, send frames
that break RFC 6455, never answer a close frame, pipeline anything.

Async on the running loop (sock_recv / sock_sendall), so it mixes with the
`Client`s of plaza_client.py in one test. Reading happens only when the test
asks for it: a RawWS that is not read from is a client that stopped reading,
and with a small SO_RCVBUF the kernel buffers fill after a few KiB.
Frames out are built with plaza_client.ws_frame (masked by default).
"""

import asyncio
import base64
import os
import socket
import time

import plaza_client
from plaza_client import (NO_CLOSE, OP_NAMES, TIMEOUT, WELCOME, fmt, pack, unpack,
                          ws_frame)

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class RawClosed(Exception):
    """The server sent a close frame (code) or dropped the TCP (NO_CLOSE)."""

    def __init__(self, code, reason=b""):
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class _Closer:
    """Stands in a plaza_client Client list entry (c.ws.transport.abort()), so
    that async_test closes every RawWS socket when the test ends."""

    def __init__(self, raw):
        self.ws = self
        self.transport = self
        self._raw = raw

    def abort(self):
        self._raw.close()


class RawWS:
    def __init__(self, sock, label):
        self.sock = sock
        self.label = label
        plaza_client._clients.append(_Closer(self))
        self.buf = b""
        self.seen = []           # decoded binary messages, in order
        self.close_code = None   # set once a close frame (or a drop) is read
        self.id = None
        self.session = None

    @classmethod
    async def connect(cls, server, *, rcvbuf=None, label="raw"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect: it also sets the window scale
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(s, (server.host, server.port)), TIMEOUT)
        c = cls(s, label)
        key = base64.b64encode(os.urandom(16)).decode()
        await c.write((f"GET /ws HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                       f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                       ).encode())
        deadline = time.monotonic() + TIMEOUT
        while b"\r\n\r\n" not in c.buf:
            if not await c._fill(deadline):
                raise AssertionError(f"{label}: connection closed during the upgrade: {c.buf!r}")
        head, c.buf = c.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), f"{label}: upgrade answered {head!r}"
        return c

    @classmethod
    async def joined(cls, server, room=None, *, name=None, rcvbuf=None, label=None):
        c = await cls.connect(server, rcvbuf=rcvbuf, label=label or name or "raw")
        await c.hello(name)
        if room is not None:
            await c.send(2, room)
            await c.wait_for(2, lambda m: m[1] == room)
        return c

    # --- sending ----------------------------------------------------------

    async def write(self, data, timeout=TIMEOUT):
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(self.sock, data), timeout)

    async def send(self, *arr):
        await self.write(ws_frame(OP_BINARY, pack(list(arr))))

    # --- receiving --------------------------------------------------------

    async def _fill(self, deadline):
        """Read more into buf; False on EOF/reset. TimeoutError past deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError
        loop = asyncio.get_running_loop()
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), left)
        except (ConnectionResetError, BrokenPipeError):
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _parse(self):
        """(fin, opcode, payload) of the first whole frame in buf, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        fin, opcode, n = bool(b[0] & 0x80), b[0] & 0x0F, b[1] & 0x7F
        assert not b[1] & 0x80, f"{self.label}: the server sent a masked frame"
        off = 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = int.from_bytes(b[2:4], "big"), 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = int.from_bytes(b[2:10], "big"), 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return fin, opcode, b[off:off + n]

    async def frame(self, timeout=TIMEOUT):
        """Next raw frame (fin, opcode, payload); RawClosed(NO_CLOSE) on a drop."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            try:
                ok = await self._fill(deadline)
            except asyncio.TimeoutError:
                raise AssertionError(f"{self.label}: no frame within {timeout}s; "
                                     f"seen: {self.history()}") from None
            if not ok:
                self.close_code = NO_CLOSE
                raise RawClosed(NO_CLOSE)

    async def recv(self, timeout=TIMEOUT):
        """Next decoded binary message; pings and pongs are skipped; a close
        frame raises RawClosed(code) (and is not answered)."""
        deadline = time.monotonic() + timeout
        while True:
            fin, opcode, payload = await self.frame(max(0.0, deadline - time.monotonic()))
            if opcode == OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.close_code = code
                raise RawClosed(code, payload[2:])
            if opcode == OP_BINARY:
                assert fin, f"{self.label}: the server fragmented a message"
                msg = unpack(payload)
                self.seen.append(msg)
                return msg
            assert opcode in (OP_PING, OP_PONG), \
                f"{self.label}: unexpected frame opcode {opcode:#x} {payload[:40]!r}"

    async def wait_for(self, op, pred=None, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                m = await self.recv(max(0.0, deadline - time.monotonic()))
            except RawClosed as c:
                raise AssertionError(f"{self.label}: closed ({c.code}) while waiting for "
                                     f"{OP_NAMES.get(op, op)}; seen: {self.history()}") from None
            if m[0] == op and (pred is None or pred(m)):
                return m

    async def expect_close(self, code, timeout=TIMEOUT):
        """Read until the server's close frame; assert its code. Returns the
        messages read meanwhile. The close is not answered."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            try:
                frames.append(await self.recv(max(0.0, deadline - time.monotonic())))
            except RawClosed as c:
                assert c.code == code, (f"{self.label}: closed with {c.code} {c.reason!r}, "
                                        f"wanted {code}; seen: {self.history()}")
                return frames

    async def hello(self, name=None, resume=None):
        arr = [1, 1, None, name]
        if resume is not None:
            arr += [resume, None]
        await self.send(*arr)
        w = await self.wait_for(WELCOME)
        self.id, self.session = w[1], w[2]
        return w

    def history(self, n=15):
        tail = self.seen[-n:]
        return "[" + ", ".join(fmt(m) for m in tail) + "]" + (
            f" (last {n} of {len(self.seen)})" if len(self.seen) > n else "")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
