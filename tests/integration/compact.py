"""A reference decoder of STATE_C, written from docs/protocol.md ("Compact
positions (STATE_C)") and nothing else: the independent check of what the
server writes. A View follows one connection the way a client must: its
table of short ids (reset at each ROOM), the members in view (carried since
the ROOM or the VIEW, minus AWAY and LEFT), and every member's latest
position and seq.
"""

import struct

STATE, ROOM, LEFT, AWAY, STATE_C = 5, 2, 4, 13, 14
POS_SCALE = 64
YAW_SCALE = 256


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.i = 0

    def u8(self):
        if self.i >= len(self.data):
            raise DecodeError("entries end early")
        b = self.data[self.i]
        self.i += 1
        return b

    def uvar(self):
        v, shift = 0, 0
        while True:
            b = self.u8()
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 63:
                raise DecodeError("varint too long")

    def zigzag(self):
        u = self.uvar()
        return (u >> 1) ^ -(u & 1)

    def fixed(self, fmt):
        n = struct.calcsize(fmt)
        if self.i + n > len(self.data):
            raise DecodeError("entries end early")
        v = struct.unpack_from(fmt, self.data, self.i)[0]
        self.i += n
        return v


class Table:
    """What each short id stands for on one connection."""

    def __init__(self):
        self.slots = {}  # idx -> dict(id, seq, q=[x, y, z, yaw] or None)

    def reset(self):
        self.slots.clear()

    def decode(self, msg):
        """[14, tick, n, entries] -> [(id, seq, x, y, z, yaw), ...]."""
        assert msg[0] == STATE_C and len(msg) >= 4, msg
        n, data = msg[2], msg[3]
        if not isinstance(data, bytes):
            raise DecodeError("entries must be a bin")
        r = Reader(data)
        out = []
        for _ in range(n):
            head = r.u8()
            idx = r.uvar()
            if head & 0x80:  # full
                if head & 0x3F:
                    raise DecodeError("reserved bits set")
                mid = r.uvar()
                seq = r.uvar()
                if head & 0x40:  # raw float32
                    pos = [r.fixed(">f") for _ in range(4)]
                    q = None
                else:
                    q = [r.zigzag() for _ in range(4)]
                    pos = [q[0] / POS_SCALE, q[1] / POS_SCALE, q[2] / POS_SCALE,
                           q[3] / YAW_SCALE]
                self.slots[idx] = {"id": mid, "seq": seq, "q": q}
            else:
                if head & 0x01:
                    raise DecodeError("reserved bit set")
                s = self.slots.get(idx)
                if s is None or s["q"] is None:
                    raise DecodeError(f"delta for idx {idx} with no baseline")
                if head & 0x40:
                    s["seq"] += r.zigzag()
                else:
                    s["seq"] += 1
                wide = head & 0x02
                for axis, bit in enumerate((0x20, 0x10, 0x08, 0x04)):
                    if head & bit:
                        s["q"][axis] += r.fixed(">h") if wide else r.fixed(">b")
                q = s["q"]
                mid, seq = s["id"], s["seq"]
                pos = [q[0] / POS_SCALE, q[1] / POS_SCALE, q[2] / POS_SCALE,
                       q[3] / YAW_SCALE]
            out.append((mid, seq, *pos))
        if r.i != len(data):
            raise DecodeError("bytes after the last entry")
        return out


class View:
    """One client's picture of its room, fed every frame it receives."""

    def __init__(self):
        self.table = Table()
        self.pos = {}        # id -> (seq, x, y, z, yaw): the latest carried
        self.in_view = set()
        self.aways = []      # every id named in an AWAY, in order
        self.entries = 0     # STATE / STATE_C entries seen
        self.state_bytes = 0  # bytes of STATE_C messages seen (their msgpack)

    def feed(self, msg, raw_len=0):
        op = msg[0]
        if op == ROOM:
            self.table.reset()
            self.in_view.clear()
            for m in msg[2]:
                self.pos[m[0]] = (0, *m[2:6])
        elif op == LEFT:
            self.in_view.discard(msg[1])
            self.pos.pop(msg[1], None)
        elif op == AWAY:
            for mid in msg[1]:
                self.aways.append(mid)
                self.in_view.discard(mid)
        elif op in (STATE, STATE_C):
            entries = self.table.decode(msg) if op == STATE_C else \
                [tuple(e[:6]) for e in msg[2]]
            self.entries += len(entries)
            self.state_bytes += raw_len
            for mid, seq, x, y, z, yaw in entries:
                self.pos[mid] = (seq, x, y, z, yaw)
                self.in_view.add(mid)
            return entries
        return None
