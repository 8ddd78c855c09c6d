"""What the outside measurements share (bench/run/memory.py,
outside_load.py): a WebSocket client's framing written here, with no code
of plaza's, plaza-bench's or the C client library's, and readings of a
process from /proc. Python 3 standard library only."""

import os

HZ = os.sysconf("SC_CLK_TCK")


def frame(payload):
    """A masked binary frame; the mask key is random, as RFC 6455 asks."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x82, 0x80 | n])
    else:
        head = bytes([0x82, 0x80 | 126, n >> 8, n & 255])
    mask = (key * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + key + body


def split_frames(buf):
    """The complete server frames at the start of buf, as (opcode, payload),
    and the rest."""
    out, off = [], 0
    while len(buf) - off >= 2:
        n, h = buf[off + 1] & 0x7f, 2
        if n == 126:
            if len(buf) - off < 4:
                break
            n, h = int.from_bytes(buf[off + 2:off + 4], "big"), 4
        elif n == 127:
            if len(buf) - off < 10:
                break
            n, h = int.from_bytes(buf[off + 2:off + 10], "big"), 10
        if len(buf) - off < h + n:
            break
        out.append((buf[off] & 0x0f, buf[off + h:off + h + n]))
        off += h + n
    return out, buf[off:]


def upgrade_request(port):
    key = __import__("base64").b64encode(os.urandom(16)).decode()
    return (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


def after_upgrade(buf):
    """What follows a complete 101 answer in buf, or None while the head is
    incomplete; raises on any other answer."""
    if b"\r\n\r\n" not in buf:
        return None
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"upgrade answered {head[:40]!r}")
    return rest


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_s(pid):
    """(utime + stime, utime, stime) of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    u, s = int(fields[11]) / HZ, int(fields[12]) / HZ
    return u + s, u, s
