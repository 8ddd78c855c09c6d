"""A member that lives through faults: one WebSocket client (websockets +
msgpack, independent of plaza's codec) that keeps what the protocol tells
it and comes back on its own.

An Avatar joins a room, keeps the room's members as ROOM, JOINED and LEFT
say, every member's latest position from STATE, and every chat by seq. When
its socket closes (1001 from a drain, a dead node, anything but a kick) it
resumes on the next live node of the list with its session token and the
last chat seq it has, as plaza-client does. What it saw is kept for the
test to check against the truth: presence equal to the live members, chat
once and in one order, ids kept across resumes, positions converged.
"""

import asyncio
import random
import time

import websockets
import websockets.exceptions

from plaza_client import (CHAT, CHAT_C, ERROR, HELLO, JOIN, JOINED, LEAVE, LEFT, MOVE,
                          ROOM, STATE, WELCOME, pack, unpack)


class Avatar:
    def __init__(self, label, servers, room, home):
        self.label = label
        self.servers = servers      # every node, in order; dead ones are skipped
        self.room = room
        self.node = home            # index of the node it is on
        self.ws = None
        self.id = None
        self.session = None
        self.ids = set()            # every id a WELCOME gave it
        self.resumes = 0            # WELCOMEs with resumed true
        self.refused_resumes = 0    # ERROR 9 to a resume
        self.members = {}           # id -> name, as the room said
        self.pos = {}               # id -> (seq, x, y, z, yaw)
        self.chats = {}             # seq -> (id, text)
        self.chat_frames = []       # (seq, id, text) of every CHAT frame, in order
        self.presence_log = []      # (op, id) of ROOM/JOINED/LEFT, in order
        self.errors = []            # ERROR frames
        self.closes = []            # (code, reason) of each close
        self.in_room = False
        self.want = True            # reconnect when the socket goes
        self.move_seq = 0
        self.last_move = None       # (seq, x, y, z, yaw) last sent
        self.sent = 0
        self.reader = None
        self.rng = random.Random(label)

    # --- life -----------------------------------------------------------------

    async def start(self):
        await self._open(resume=False)
        await self.ws.send(pack([JOIN, self.room]))
        await self.wait(lambda: self.in_room, 5, "ROOM")

    async def _open(self, resume):
        srv = self.servers[self.node]
        self.ws = await websockets.connect(srv.ws_url(), ping_interval=None,
                                           close_timeout=2, open_timeout=5,
                                           max_size=None)
        hello = [HELLO, 1, None, self.label]
        if resume:
            hello += [self.session, max(self.chats) if self.chats else None]
        await self.ws.send(pack(hello))
        self.reader = asyncio.ensure_future(self._read(self.ws))

    async def _read(self, ws):
        try:
            async for data in ws:
                self._frame(unpack(data))
        except websockets.exceptions.ConnectionClosed:
            pass
        rc = ws.close_rcvd
        self.closes.append((rc.code, rc.reason) if rc else (1006, ""))
        if self.want and ws is self.ws:
            asyncio.ensure_future(self._come_back())

    async def _come_back(self):
        """Resume on a live node: the one it was on when it still answers
        (a dropped socket), else the next ones in turn."""
        order = [(self.node + k) % len(self.servers) for k in range(len(self.servers))]
        if self.closes and self.closes[-1][0] == 1001:
            order = order[1:] + order[:1]  # its node is going away
        for attempt in range(40):
            i = order[attempt % len(order)]
            srv = self.servers[i]
            if srv.proc is None or srv.proc.poll() is not None:
                continue
            await asyncio.sleep(0.05 + 0.1 * self.rng.random())
            try:
                self.node = i
                await self._open(resume=True)
                return
            except (OSError, websockets.exceptions.WebSocketException,
                    asyncio.TimeoutError):
                continue
        raise AssertionError(f"{self.label}: found no live node to resume on")

    async def stop(self):
        self.want = False
        if self.ws:
            await self.ws.close()
        if self.reader:
            await asyncio.wait([self.reader], timeout=3)

    def vanish(self):
        """The client goes for good, without a close frame."""
        self.want = False
        self.ws.transport.abort()

    # --- what the server says ---------------------------------------------------

    def _frame(self, m):
        op = m[0]
        if op == WELCOME:
            if self.id is not None and m[1] != self.id:
                self.ids.add(m[1])
            self.id = m[1]
            self.ids.add(m[1])
            self.session = m[2]
            self.resumes += bool(m[5])
        elif op == ROOM:
            self.presence_log.append(("ROOM", sorted(e[0] for e in m[2])))
            self.in_room = True
            self.members = {e[0]: e[1] for e in m[2]}
            for e in m[2]:
                self.pos.setdefault(e[0], (-1,) + tuple(e[2:6]))
            for h in m[3]:
                self.chats.setdefault(h[0], (h[1], h[3]))
        elif op == JOINED:
            self.presence_log.append(("JOINED", m[1]))
            self.members[m[1]] = m[2]
        elif op == LEFT:
            self.presence_log.append(("LEFT", m[1]))
            self.members.pop(m[1], None)
            if m[1] == self.id:
                self.in_room = False
        elif op == STATE:
            for e in m[2]:
                self.pos[e[0]] = (e[1],) + tuple(e[2:6])
        elif op == CHAT:
            self.chat_frames.append((m[1], m[2], m[4]))
            self.chats.setdefault(m[1], (m[2], m[4]))
        elif op == ERROR:
            self.errors.append(m)
            if m[1] == 9:
                self.refused_resumes += 1

    # --- what it does -------------------------------------------------------------

    async def move(self):
        if not self.in_room:
            return
        self.move_seq += 1
        p = self.last_move[1:] if self.last_move else (0.0, 0.0, 0.0, 0.0)
        x = p[0] + self.rng.uniform(-1, 1)
        z = p[2] + self.rng.uniform(-1, 1)
        yaw = self.rng.uniform(-3, 3)
        try:
            await self.ws.send(pack([MOVE, self.move_seq, x, 0.0, z, yaw]))
            self.last_move = (self.move_seq, x, 0.0, z, yaw)
        except websockets.exceptions.ConnectionClosed:
            pass

    async def chat(self):
        if not self.in_room:
            return
        self.sent += 1
        try:
            await self.ws.send(pack([CHAT_C, f"{self.label}:{self.sent}"]))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def leave(self):
        await self.ws.send(pack([LEAVE]))

    async def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.label}: no {what} within {timeout}s")
            await asyncio.sleep(0.02)


async def walk(avatars, seconds, move_hz=10, chat_every=0.8):
    """Every avatar moves at move_hz and chats about every chat_every s."""
    end = time.monotonic() + seconds
    next_chat = {a.label: time.monotonic() + random.random() * chat_every
                 for a in avatars}
    while time.monotonic() < end:
        now = time.monotonic()
        for a in avatars:
            if not a.want:
                continue
            await a.move()
            if now >= next_chat[a.label]:
                next_chat[a.label] = now + chat_every * (0.5 + random.random())
                await a.chat()
        await asyncio.sleep(1 / move_hz)
