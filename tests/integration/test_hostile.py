"""Regressions for what hostile clients found (issue 7, "Found by hostile
clients"): each test is named after what it guards and drives plaza the way
the finding did, with raw sockets (rawws.py) where a well-behaved WebSocket
library would not misbehave on purpose.
"""

import asyncio
import json
import os
import signal
import socket
import time

import pytest

from plaza_client import (CHAT, E_NOT_FOUND, E_SESSION_EXPIRED, ERROR, JOINED, LEFT, PONG, ROOM,
                          WELCOME, WHISPER, Client, async_test, http_get, http_json, pack,
                          room_on_shard, ws_frame)
from rawws import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, RawClosed, RawWS



async def expect_resume_refused(srv, token, label="resumer"):
    """A HELLO resuming `token` on a new socket gets ERROR 9 and a fresh
    session (resumed false): the old session is over."""
    __tracebackhide__ = True
    c = await Client.connect(srv, label=label)
    await c.send(1, 1, None, None, token, None)
    w = await c.wait_for(WELCOME, keep=True)
    assert w[5] is False, f"{label}: the session was resumed (WELCOME {w!r}); seen: {c.history()}"
    assert any(m[0] == ERROR and m[1] == E_SESSION_EXPIRED for m in c.seen), \
        f"{label}: no ERROR 9 before the fresh WELCOME; seen: {c.history()}"
    return c


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- heap overflow: an HTTP answer the socket does not take at once ---------

def slow_http_get(srv, path, rcvbuf=1024, chunk=512):
    """GET path on a socket with a tiny receive buffer that starts reading
    only after a pause and then reads in small bites: plaza must queue most
    of the answer. Returns (status line, headers dict, body bytes)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((srv.host, srv.port))
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.3)  # the answer meets full buffers
        data = b""
        while True:
            part = s.recv(chunk)
            if not part:
                break
            data += part
            time.sleep(0.002)
    finally:
        s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"GET {path}: no complete HTTP head in {len(data)} bytes: {data[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


@async_test
async def test_large_http_answer_to_slow_reader_is_whole_and_server_survives(plaza):
    """Heap overflow: an HTTP answer the socket did not take in one write was
    queued by copying its ~95-byte head into a 10-byte frame-header slot
    (ASan: heap-buffer-overflow in the queue; release: abort in free())."""
    srv = plaza(sndbuf=4096)
    n_rooms = 300
    clients = []
    for start in range(0, n_rooms, 50):
        clients += await asyncio.gather(*(
            Client.joined(srv, f"heap-room-{i:03d}", label=f"c{i}")
            for i in range(start, min(start + 50, n_rooms))))
    loop = asyncio.get_running_loop()
    for path in ("/metrics", "/rooms"):
        status, headers, body = await loop.run_in_executor(None, slow_http_get, srv, path)
        assert status.startswith("HTTP/1.1 200"), f"GET {path}: {status}"
        assert int(headers.get("content-length", -1)) == len(body), \
            f"GET {path}: Content-Length {headers.get('content-length')}, body {len(body)}"
        if path == "/rooms":
            doc = json.loads(body)
            rooms = doc["rooms"] if isinstance(doc, dict) else doc
            names = {r.get("room", r.get("name")) if isinstance(r, dict) else r for r in rooms}
            assert {f"heap-room-{i:03d}" for i in range(n_rooms)} <= names, \
                f"/rooms lists {len(names)} rooms"
        else:
            text = body.decode()
            assert text.endswith("\n") and "plaza" in text, f"/metrics: {text[-200:]!r}"
    # Still serving: HTTP, old clients, new clients.
    assert http_json(srv, "/healthz")["status"] == "ok"
    await clients[0].ping()
    fresh = await Client.joined(srv, "after-heap", label="fresh")
    await fresh.ping()


# --- a connection stuck between workers -------------------------------------

LINGER_S = 3.0          # a closing socket waits this long for its peer (docs)
SHUTDOWN_SLACK_S = 1.0  # the rest of a shutdown


@async_test
async def test_client_not_reading_while_moving_shards_is_not_stuck(plaza):
    """A connection stuck between workers: a JOIN to another shard waited for
    a write in flight that a client not reading never lets finish; the
    session was in no worker (resume: ERROR 9, whispers held) and SIGTERM
    waited for the client to go away."""
    srv = plaza(workers=2, sndbuf=4096, chat_rate=100000, chat_burst=100000,
                abuse_limit=1000000)
    old = room_on_shard(0, "stuck-old")
    new = room_on_shard(1, "stuck-new")
    talker = await Client.joined(srv, old, name="talker")
    whisperer = await Client.joined(srv, name="whisperer")
    # 50 chats of 500 bytes: the old room's ROOM message carries them all
    # (~26 KB), more than the kernel buffers of a client with a 4 KB receive
    # buffer and plaza's --sndbuf 4096 hold (~12 KB).
    for i in range(50):
        await talker.send(5, f"{i:02d} " + "h" * 497)
    await talker.wait_for(CHAT, lambda m: m[4].startswith("49 "))

    async def stuck_member(name):
        """A member that JOINs the old room without reading its ROOM (so
        plaza has a write in flight that cannot finish), then JOINs a room
        on the other shard."""
        c = await RawWS.connect(srv, rcvbuf=4096, label=name)
        await c.hello(name)
        await c.send(2, old)
        await talker.wait_for(JOINED, lambda m: m[1] == c.id, timeout=10)
        await c.send(2, new)
        await talker.wait_for(LEFT, lambda m: m[1] == c.id, timeout=10)
        return c

    reader = await stuck_member("reader")
    owner = await stuck_member("owner")
    for i in range(5):
        await whisperer.send(6, reader.id, f"held-{i}")

    # The owner gives up on its socket and resumes on a new one: the session
    # must be found (in the new room), not lost in transit (ERROR 9).
    again = await Client.connect(srv, label="owner-again")
    await again.send(1, 1, None, None, owner.session, None)
    w = await again.wait_for(WELCOME, keep=True)
    assert w[5] is True and w[1] == owner.id, \
        f"resume of a session that moved shards while not reading: {again.history()}"
    r = await again.wait_for(ROOM)
    assert r[1] == new, f"resumed into {r!r}, wanted ROOM of {new}"

    # The reader reads again: ROOM of the old room, ROOM of the new one (or
    # a 4004 close) and the whispers (held during the move, they may come
    # before the new ROOM or after it).
    frames = []
    try:
        while not (any(m[0] == ROOM and m[1] == new for m in frames)
                   and len([m for m in frames if m[0] == WHISPER]) == 5):
            frames.append(await reader.recv(10))
    except RawClosed as c:
        assert c.code == 4004, f"reader closed with {c.code}; seen: {reader.history()}"
    else:
        whispers = sorted(m[3] for m in frames if m[0] == WHISPER)
        assert whispers == [f"held-{i}" for i in range(5)], whispers
    assert not [m for m in whisperer.seen if m[0] == ERROR], whisperer.history()

    # One more stuck the same way, then SIGTERM: plaza closes it 1001 and
    # may wait out the linger of that close, no longer.
    await stuck_member("third")
    t0 = time.monotonic()
    srv.signal(signal.SIGTERM)
    rc = await asyncio.get_running_loop().run_in_executor(None, srv.wait_exit, 10.0)
    took = time.monotonic() - t0
    bound = LINGER_S + SHUTDOWN_SLACK_S
    assert rc == 0 and took <= bound, \
        f"SIGTERM with a client not reading: exit {rc} after {took:.2f}s " \
        f"(None: still running; wanted 0 within {bound}s)"


# --- kicked sessions end at once --------------------------------------------

KICKS = {
    4002: dict(flags=dict(malformed_limit=3)),
    4003: dict(flags=dict(chat_rate=1, chat_burst=1, abuse_limit=5)),
    1003: dict(flags={}),
    1009: dict(flags=dict(max_message=1024)),
}


async def provoke(code, k):
    if code == 4002:
        for _ in range(8):
            await k.send(99)
    elif code == 4003:
        for i in range(40):
            await k.send(5, f"spam{i}")
    elif code == 1003:
        await k.write(ws_frame(OP_TEXT, b"[7, 1]"))
    elif code == 1009:
        await k.write(ws_frame(OP_BINARY, pack([7, 1.0, b"z" * 2000])))


@pytest.mark.parametrize("code", sorted(KICKS))
@async_test
async def test_kicked_session_cannot_be_resumed(plaza, code):
    """Kicked sessions came back: after 4002, 4003, 1003 or 1009 the session
    stayed attached until the close handshake ended, and a resume on a new
    socket took it over. Those closes end the session at once."""
    srv = plaza(**KICKS[code]["flags"])
    k = await RawWS.joined(srv, "kick-room", name="kicked")
    member = await Client.joined(srv, "kick-room", name="member")
    await k.wait_for(3, lambda m: m[1] == member.id)
    try:
        await provoke(code, k)
    except (BrokenPipeError, ConnectionResetError):
        pass
    await k.expect_close(code)
    # The kicked client never answers the close frame nor closes its socket.
    fresh = await expect_resume_refused(srv, k.session, label=f"resume-after-{code}")
    assert fresh.id != k.id
    # The member saw LEFT of the kicked id, before a ping sent now is answered.
    await member.send(7, 42)
    await member.wait_for(PONG, lambda m: m[1] == 42, keep=True)
    assert any(m[0] == LEFT and m[1] == k.id for m in member.seen), \
        f"member saw no LEFT of the kicked session; seen: {member.history()}"


# --- memory past --max-outbound ---------------------------------------------

def metrics_value(srv, name):
    status, _, body = http_get(srv, "/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"/metrics has no {name}")


@async_test
async def test_ping_flood_from_non_reader_keeps_memory_bounded(plaza, monkeypatch):
    """Memory past --max-outbound: only payload bytes counted against the
    bound, so empty pings from a client that never reads queued ~41 MB of
    pongs before 4004. One pending pong is enough (RFC 6455)."""
    # ASan keeps freed blocks in a quarantine (256 MB): allocations that are
    # freed again would look like growth. Only ASan reads this variable.
    monkeypatch.setenv("ASAN_OPTIONS",
                       (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0").lstrip(":"))
    srv = plaza(sndbuf=4096)
    flooder = await RawWS.joined(srv, "pings", name="flooder", rcvbuf=4096)
    other = await Client.joined(srv, "pings", name="other")
    await other.ping()
    before = vm_rss_kb(srv.proc.pid)
    in_before = metrics_value(srv, "plaza_bytes_received_total")

    n_pings, batch = 200_000, 10_000
    ping = ws_frame(OP_PING, b"")
    sent = 0
    try:
        for _ in range(n_pings // batch):
            await flooder.write(ping * batch, timeout=2)
            sent += len(ping) * batch
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed (4004): fine, memory is what matters
    except asyncio.TimeoutError:
        pass  # plaza stopped reading it (back-pressure): fine too
    # Wait until plaza has read what it will read: all that was sent, or
    # nothing more for half a second (stopped reading, or closed).
    last, still = None, 0
    while still < 5:
        got = metrics_value(srv, "plaza_bytes_received_total") - in_before
        if got >= sent:
            break
        still = still + 1 if got == last else 0
        last = got
        await asyncio.sleep(0.1)
    await other.ping()
    grown_kb = vm_rss_kb(srv.proc.pid) - before
    # Without a pong queue the read path costs ~0.1 MB here (1.4 MB under
    # TSan); today every ping queues a pong entry: ~15 MB (60 MB under TSan).
    assert grown_kb < 8 * 1024, \
        f"plaza's RSS grew by {grown_kb / 1024:.1f} MB for {sent // len(ping)} pings " \
        f"from a client that does not read"


# --- no false ERROR 7 for a target pipelining JOINs --------------------------

@async_test
async def test_whisper_to_client_pipelining_cross_shard_joins_is_delivered(plaza):
    """False ERROR 7: a whisper chasing a target that pipelines JOINs across
    shards ran out of delivery hops, though the target never left."""
    srv = plaza(workers=2, chat_rate=100000, chat_burst=100000, join_rate=100000,
                join_burst=100000, abuse_limit=1000000)
    r0, r1 = room_on_shard(0, "pipe"), room_on_shard(1, "pipe")
    target = await Client.joined(srv, r0, name="target")
    sender = await Client.joined(srv, name="sender")
    n_whispers = 200

    async def hop():  # 40 JOINs, ten per TCP write, never waiting for ROOM
        for burst in range(4):
            target.ws.transport.write(b"".join(
                ws_frame(OP_BINARY, pack([2, r1 if i % 2 == 0 else r0])) for i in range(10)))
            await asyncio.sleep(0.005)

    async def whisper():  # meanwhile, whispers twenty at a time
        for i in range(n_whispers):
            await sender.send(6, target.id, f"w{i}")
            if i % 20 == 0:
                await asyncio.sleep(0.001)

    await asyncio.gather(hop(), whisper())
    await sender.ping()
    got = []
    try:
        while len(got) < n_whispers:
            got.append((await target.wait_for(WHISPER, timeout=5))[3])
    finally:
        errors = [m for m in sender.seen if m[0] == ERROR]
        assert not [e for e in errors if e[1] == E_NOT_FOUND], \
            f"{len([e for e in errors if e[1] == E_NOT_FOUND])} false ERROR 7 for a " \
            f"target that never left: {errors[:3]}; target got {len(got)} of {n_whispers}"
    assert sorted(got) == sorted(f"w{i}" for i in range(n_whispers))
    assert not errors, errors[:5]


# --- protocol errors are closed with 1002 and end the session ---------------

MASK = b"\x11\x22\x33\x44"
BAD_FRAMES = {
    "control_frame_over_125_bytes": ws_frame(OP_PING, b"p" * 126),
    "fragmented_control_frame": ws_frame(OP_PING, b"frag", fin=False),
    "non_minimal_length": bytes([0x82, 0x80 | 126, 0, 5]) + MASK
    + bytes(b ^ MASK[i % 4] for i, b in enumerate(pack([7, 1]) + b"xxx")),
    "length_with_top_bit_set": bytes([0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5]) + MASK
    + b"\x00" * 5,
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
@async_test
async def test_protocol_error_gets_close_1002_and_ends_session(plaza, case):
    """Protocol errors without a close frame: these dropped the TCP with no
    close frame and kept the session for resume, unlike the other 1002s."""
    srv = plaza()
    c = await RawWS.joined(srv, "proto", name="breaker")
    await c.write(BAD_FRAMES[case])
    await c.expect_close(1002)
    await expect_resume_refused(srv, c.session, label=f"resume-after-{case}")


@async_test
async def test_close_frame_with_one_byte_payload_gets_close_1002(plaza):
    """A close payload of one byte is invalid (RFC 6455 5.5.1); it was
    answered with an empty close instead of 1002."""
    srv = plaza()
    c = await RawWS.joined(srv, "proto", name="closer")
    await c.write(ws_frame(OP_CLOSE, b"\x03"))
    await c.expect_close(1002)


# --- issue 15: a message in endless frames -----------------------------------

@async_test
async def test_message_in_too_many_frames_closes_1009_and_ends_session(plaza):
    """100,000 zero-length continuation frames kept a connection open with
    no close: wslay bounds a message's bytes, not its frames. A message may
    come in at most 1,024 frames; one in more closes with 1009 and ends the
    session, as a message over --max-message does."""
    from rawws import OP_CONT
    srv = plaza()
    ok = await RawWS.joined(srv, "frag", name="patient")
    ping = pack([7, 42])  # PING split into 1,024 frames, 1,022 of them empty
    await ok.write(ws_frame(OP_BINARY, ping[:1], fin=False)
                   + ws_frame(OP_CONT, b"", fin=False) * 1022
                   + ws_frame(OP_CONT, ping[1:]))
    await ok.wait_for(PONG, lambda m: m[1] == 42)
    flooder = await RawWS.joined(srv, "frag", name="flooder")
    await flooder.write(ws_frame(OP_BINARY, b"", fin=False)
                        + ws_frame(OP_CONT, b"", fin=False) * 100_000, timeout=10)
    await flooder.expect_close(1009)
    await expect_resume_refused(srv, flooder.session, label="resume-after-1009")
    await ok.send(7, 43)
    await ok.wait_for(PONG, lambda m: m[1] == 43)
