"""A small plaza test client on an independent stack (websockets + msgpack).

It speaks the wire contract of /work/shared/protocol.md and nothing more:
connect, send one MessagePack array per binary message, receive and decode
with a timeout, wait for an op, expect a close code. Every frame received is
kept in `seen` so that a failing assertion can show what the server sent.
"""

import asyncio
import json
import math
import socket
import time
import urllib.error
import urllib.request

import msgpack
import websockets
import websockets.exceptions

# Client -> server ops.
HELLO, JOIN, LEAVE, MOVE, CHAT_C, WHISPER_C, PING = 1, 2, 3, 4, 5, 6, 7
SET, SIGNAL_C, ROOM_SET = 8, 9, 10  # protocol 1.1
# Server -> client ops.
WELCOME, ROOM, JOINED, LEFT, STATE, CHAT, WHISPER, PONG, ERROR = range(1, 10)
MEMBER, SIGNAL, ROOM_STATE = 10, 11, 12  # protocol 1.1

OP_NAMES = {1: "WELCOME", 2: "ROOM", 3: "JOINED", 4: "LEFT", 5: "STATE",
            6: "CHAT", 7: "WHISPER", 8: "PONG", 9: "ERROR", 10: "MEMBER",
            11: "SIGNAL", 12: "ROOM_STATE"}

# Error codes.
E_BAD_MESSAGE, E_UNKNOWN_OP, E_NOT_IN_ROOM, E_RATE_LIMITED = 1, 2, 3, 4
E_ROOM_FULL, E_INVALID_ARGUMENT, E_NOT_FOUND = 5, 6, 7
E_SESSION_EXPIRED, E_OVERLOADED, E_MOVE_REJECTED = 9, 10, 11
E_CONFLICT = 12

TIMEOUT = 5.0          # generous wait for anything the server should send
NO_CLOSE = 1006        # what we report when the TCP dropped without a close frame


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    # unpackb refuses trailing bytes: one message must hold exactly one array.
    return msgpack.unpackb(data, raw=False)


def fnv1a64(data: bytes) -> int:
    h = 14695981039346656037
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def shard_of(room: str, workers: int) -> int:
    return fnv1a64(room.encode()) % workers


def room_on_shard(shard, prefix, workers=2):
    """The first room name `<prefix>-<i>` that lives on worker `shard`."""
    i = 0
    while shard_of(f"{prefix}-{i}", workers) != shard:
        i += 1
    return f"{prefix}-{i}"


def approx_eq(a, b, tol=1e-3):
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=tol)


def _short(v):
    if isinstance(v, (str, bytes)) and len(v) > 40:
        return v[:24] + (f"...<{len(v)}>" if isinstance(v, str) else b"...")
    if isinstance(v, list):
        return [_short(x) for x in v[:12]] + (["..."] if len(v) > 12 else [])
    return v


def fmt(msg):
    """Short printable form of a decoded frame for assertion messages."""
    if isinstance(msg, list) and msg and isinstance(msg[0], int):
        name = OP_NAMES.get(msg[0], str(msg[0]))
        s = f"{name}{_short(msg[1:])!r}"
    else:
        s = repr(_short(msg))
    return s if len(s) <= 300 else s[:300] + "..."


_clients = []  # every Client of the running test, aborted when it ends


class Closed(Exception):
    def __init__(self, code, reason=""):
        super().__init__(f"connection closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class Client:
    """One WebSocket connection to plaza."""

    def __init__(self, ws, label="client"):
        self.ws = ws
        self.label = label
        self.seen = []          # every decoded frame, in order
        self.pending = []       # frames received but not yet consumed by wait_for
        self.id = None
        self.session = None
        self.welcome = None
        self.close_code = None
        self.close_reason = None
        _clients.append(self)

    # --- connection -------------------------------------------------------

    @classmethod
    async def connect(cls, server, *, label="client", path="/ws", subprotocols=None,
                      sock=None, compression=None, **kw):
        url = server.ws_url(path) if hasattr(server, "ws_url") else server
        kwargs = dict(subprotocols=subprotocols, compression=compression,
                      ping_interval=None, close_timeout=2, open_timeout=TIMEOUT,
                      max_size=None)
        kwargs.update(kw)
        if sock is not None:
            kwargs["sock"] = sock
        ws = await websockets.connect(url, **kwargs)
        return cls(ws, label)

    @classmethod
    async def joined(cls, server, room=None, *, name=None, label=None, **kw):
        """Connect, HELLO (expect WELCOME) and, if room is given, JOIN it."""
        __tracebackhide__ = True
        c = await cls.connect(server, label=label or name or "client", **kw)
        await c.hello(name=name)
        if room is not None:
            c.room_msg = await c.join(room)
        return c

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            self.ws.transport.abort()

    def drop(self):
        """Vanish: the TCP connection goes away without a close frame."""
        self.ws.transport.abort()

    # --- sending ----------------------------------------------------------

    async def send(self, *arr):
        await self.ws.send(pack(list(arr)))

    async def send_raw(self, data):
        await self.ws.send(data)

    # --- receiving --------------------------------------------------------

    def _record(self, data):
        __tracebackhide__ = True
        if isinstance(data, str):
            raise AssertionError(f"{self.label}: server sent a text message: {data[:200]!r}")
        try:
            msg = unpack(data)
        except Exception as e:  # noqa: BLE001 - report any decode failure
            raise AssertionError(f"{self.label}: undecodable frame {data[:64]!r}: {e}")
        assert isinstance(msg, list) and msg and isinstance(msg[0], int), \
            f"{self.label}: frame is not an array with an op: {msg!r}"
        self.seen.append(msg)
        return msg

    async def _recv_frame(self, timeout):
        __tracebackhide__ = True
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else NO_CLOSE
            reason = e.rcvd.reason if e.rcvd is not None else ""
            self.close_code = code
            self.close_reason = reason
            raise Closed(code, reason) from None
        return self._record(data)

    async def recv(self, timeout=TIMEOUT):
        """Next frame (pending ones first); AssertionError on timeout."""
        __tracebackhide__ = True
        if self.pending:
            return self.pending.pop(0)
        try:
            return await self._recv_frame(timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"{self.label}: nothing received within {timeout}s; seen: {self.history()}"
            ) from None

    async def wait_for(self, op, pred=None, timeout=TIMEOUT, keep=False):
        """Return the first frame with this op (and pred true); others are skipped
        (kept in `pending` when keep=True). Fails on timeout or close."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self.pending):
            if m[0] == op and (pred is None or pred(m)):
                del self.pending[i]
                return m
        if not keep:
            self.pending.clear()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.label}: no {OP_NAMES.get(op, op)} within {timeout}s; "
                    f"seen: {self.history()}")
            try:
                m = await self._recv_frame(left)
            except asyncio.TimeoutError:
                continue
            except Closed as c:
                raise AssertionError(
                    f"{self.label}: closed ({c.code} {c.reason!r}) while waiting for "
                    f"{OP_NAMES.get(op, op)}; seen: {self.history()}") from None
            if m[0] == op and (pred is None or pred(m)):
                return m
            if keep:
                self.pending.append(m)

    async def wait_error(self, code, timeout=TIMEOUT):
        __tracebackhide__ = True
        return await self.wait_for(ERROR, lambda m: m[1] == code, timeout)

    async def collect(self, duration):
        """Every frame received during `duration` seconds (no close expected)."""
        out = list(self.pending)
        self.pending.clear()
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                out.append(await self._recv_frame(left))
            except asyncio.TimeoutError:
                return out

    async def expect_close(self, code, timeout=TIMEOUT):
        """Read until the server closes; assert the close code. Returns frames seen."""
        __tracebackhide__ = True
        frames = list(self.pending)
        self.pending.clear()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.label}: not closed within {timeout}s (wanted {code}); "
                    f"seen: {self.history()}")
            try:
                frames.append(await self._recv_frame(left))
            except asyncio.TimeoutError:
                continue
            except Closed as c:
                assert c.code == code, (
                    f"{self.label}: closed with {c.code} {c.reason!r}, wanted {code}; "
                    f"seen: {self.history()}")
                return frames

    def history(self, n=15):
        tail = self.seen[-n:]
        return "[" + ", ".join(fmt(m) for m in tail) + "]" + (
            f" (last {n} of {len(self.seen)})" if len(self.seen) > n else "")

    # --- protocol steps ---------------------------------------------------

    async def hello(self, name=None, *, version=1, token=None, resume=None,
                    last_chat_seq=None, state=None, expect_welcome=True):
        __tracebackhide__ = True
        arr = [HELLO, version, token, name]
        if resume is not None or last_chat_seq is not None or state is not None:
            arr += [resume, last_chat_seq]
        if state is not None:
            arr.append(state)
        await self.send(*arr)
        if not expect_welcome:
            return None
        w = await self.wait_for(WELCOME)
        self.welcome = w
        self.id = w[1]
        self.session = w[2]
        return w

    async def join(self, room):
        __tracebackhide__ = True
        await self.send(JOIN, room)
        return await self.wait_for(ROOM, lambda m: m[1] == room)

    async def ping(self, t=1.5):
        __tracebackhide__ = True
        await self.send(PING, t)
        return await self.wait_for(PONG, lambda m: m[1] == t)


# --- plain HTTP ---------------------------------------------------------

def http_get(server, path, timeout=TIMEOUT):
    """(status, headers, body text) of GET path; never raises on HTTP errors."""
    req = urllib.request.Request(server.http_url(path))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


def metric(server, name):
    """The value of an unlabelled series of GET /metrics."""
    _, _, text = http_get(server, "/metrics")
    for ln in text.splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def http_json(server, path):
    status, _, body = http_get(server, path)
    assert status == 200, f"GET {path}: {status} {body[:500]!r}"
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError(f"GET {path}: not JSON: {body[:500]!r}") from None


def rooms_list(server):
    """The /rooms answer as a list of dicts (accepts a bare list or {"rooms": [...]})."""
    doc = http_json(server, "/rooms")
    if isinstance(doc, dict):
        assert "rooms" in doc, f"/rooms object without 'rooms': {doc!r}"
        doc = doc["rooms"]
    assert isinstance(doc, list), f"/rooms is not a list: {doc!r}"
    return doc


def http_raw(server, request, *later):
    """Sends a raw request (bytes) on a new connection, and each of `later`
    in a write of its own after a pause; returns every byte of the answer,
    read until the server closes."""
    s = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    s.sendall(request)
    for part in later:
        time.sleep(0.1)  # the server reads what came before on its own
        s.sendall(part)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def raw_socket(server, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(TIMEOUT)
    s.connect((server.host, server.port))
    return s


# --- running async tests without pytest-asyncio --------------------------

TEST_TIMEOUT = 60.0


def async_test(fn):
    """Run an `async def test_...(plaza, ...)` with asyncio.run and an overall
    timeout, so a test that hangs fails instead of stalling the suite."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        async def main():
            _clients.clear()
            try:
                return await asyncio.wait_for(fn(*args, **kwargs), TEST_TIMEOUT)
            except asyncio.TimeoutError:
                raise AssertionError(f"test did not finish within {TEST_TIMEOUT}s") from None
            finally:
                for c in _clients:
                    if c.ws.transport is not None:
                        c.ws.transport.abort()
                _clients.clear()
                await asyncio.sleep(0)
        return asyncio.run(main())

    return wrapper


def ws_frame(opcode, payload=b"", fin=True, masked=True, mask=b"\x11\x22\x33\x44"):
    """One raw client WebSocket frame (RFC 6455), for tests that write to the
    transport directly to build what the websockets library will not."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    body = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + body
