#!/usr/bin/python3
"""plaza's memory per connection, measured by an independent raw-socket
client: plain Python sockets, its own WebSocket framing and msgpack (not
plaza-bench, not the C client library, not plaza's codec).

    bench/run/memory.py [--plaza BIN ...] [--clients 10000,19000]
                        [--mode hello|rooms ...] [--runs 3] [--settle 6]

For each binary, mode and count, interleaved run by run: a fresh plaza on
CPU 0 (`--workers 1`, as `make bench`), its RSS (VmRSS) read before the
first connection; N connections open the WebSocket and send HELLO
(`hello`), or HELLO and JOIN of rooms of 50 (`rooms`: room i // 50), each
reading until its WELCOME (and ROOM) came; then every socket is read dry
for --settle seconds (plaza lets a quiet connection's buffers go after
2 s) and the RSS is read again. Per connection = growth / N. The sockets
stay open, idle, until the RSS is read. Prints a Markdown table of medians
(min-max) and writes every run to bench/results/<date>-memory/.
"""

import argparse
import datetime
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port, healthy  # noqa: E402
from rawws import after_upgrade, frame, rss_kb, split_frames, upgrade_request  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO, JOIN = 1, 2
WELCOME, ROOM = 1, 2


class Conn:
    __slots__ = ("sock", "i", "state", "buf")

    def __init__(self, sock, i):
        self.sock, self.i, self.state, self.buf = sock, i, "upgrade", b""


def run_once(binary, n, mode, settle):
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0", binary, "--host", "127.0.0.1", "--port",
                            str(port), "--workers", "1", "--log-level", "warn"],
                           stdout=subprocess.DEVNULL)
    try:
        if not healthy(port, srv):
            raise RuntimeError(f"{binary} did not start")
        time.sleep(0.5)
        before = rss_kb(srv.pid)
        sel = selectors.DefaultSelector()
        conns, done, t0 = [], 0, time.monotonic()
        want = "room" if mode == "rooms" else "welcome"
        pending = 0
        for i in range(n):
            # open in batches so the listen backlog never overflows
            while pending >= 500:
                done, pending = pump(sel, mode, done, pending, 0.05)
            s = socket.socket()
            s.bind((f"127.0.0.{1 + i % 8}", 0))
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            c = Conn(s, i)
            c.buf = upgrade_request(port)
            sel.register(s, selectors.EVENT_WRITE, c)
            conns.append(c)
            pending += 1
        while done < n and time.monotonic() - t0 < 300:
            done, pending = pump(sel, mode, done, pending, 0.2)
        if done < n:
            raise RuntimeError(f"{done} of {n} connections reached {want}")
        ramp_s = time.monotonic() - t0
        end = time.monotonic() + settle
        while time.monotonic() < end:
            pump(sel, mode, done, pending, 0.2)
        after = rss_kb(srv.pid)
        for c in conns:
            c.sock.close()
        return {"binary": binary, "mode": mode, "clients": n, "rss_kb_before": before,
                "rss_kb_after": after, "ramp_s": round(ramp_s, 1), "settle_s": settle,
                "kib_per_conn": round((after - before) / n, 3)}
    finally:
        srv.terminate()
        srv.wait(timeout=20)


def pump(sel, mode, done, pending, timeout):
    for key, ev in sel.select(timeout):
        c = key.data
        if ev & selectors.EVENT_WRITE and c.state == "upgrade":
            try:
                c.sock.send(c.buf)
            except BlockingIOError:
                continue
            c.buf, c.state = b"", "head"
            sel.modify(c.sock, selectors.EVENT_READ, c)
            continue
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        if not data:
            raise RuntimeError(f"connection {c.i} closed by plaza in state {c.state}")
        if c.state in ("idle",):
            continue  # read dry: nothing waits in plaza for this client
        c.buf += data
        if c.state == "head":
            rest = after_upgrade(c.buf)
            if rest is None:
                continue
            c.buf = rest
            c.sock.send(frame(msgpack.packb([HELLO, 1, None, f"m{c.i}"])))
            c.state = "welcome"
        msgs, c.buf = split_frames(c.buf)
        for op, payload in msgs:
            if op != 2:
                continue
            m = msgpack.unpackb(payload, raw=False)
            if c.state == "welcome" and m[0] == WELCOME:
                if mode == "rooms":
                    c.sock.send(frame(msgpack.packb([JOIN, f"r{c.i // 50}"])))
                    c.state = "room"
                else:
                    c.state, c.buf = "idle", b""
                    done, pending = done + 1, pending - 1
            elif c.state == "room" and m[0] == ROOM:
                c.state, c.buf = "idle", b""
                done, pending = done + 1, pending - 1
    return done, pending


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plaza", action="append", help="plaza binaries (build/plaza)")
    ap.add_argument("--clients", default="10000,19000")
    ap.add_argument("--mode", action="append", choices=["hello", "rooms"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=6.0)
    args = ap.parse_args()
    binaries = args.plaza or [os.path.join(ROOT, "build", "plaza")]
    modes = args.mode or ["hello", "rooms"]
    counts = [int(x) for x in args.clients.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if max(counts) + 100 > hard:
        sys.exit(f"open files limit {hard} < {max(counts) + 100}")
    outdir = os.path.join(ROOT, "bench", "results",
                          datetime.datetime.now().strftime("%Y-%m-%d-%H%M") + "-memory")
    os.makedirs(outdir, exist_ok=True)
    results = []
    for r in range(1, args.runs + 1):
        for mode in modes:
            for n in counts:
                for b in binaries:
                    res = run_once(b, n, mode, args.settle)
                    res["run"] = r
                    res["loadavg"] = [round(x, 2) for x in os.getloadavg()]
                    results.append(res)
                    print(f"{os.path.relpath(b, ROOT)} {mode} {n}: "
                          f"{res['rss_kb_before']} -> {res['rss_kb_after']} KiB, "
                          f"{res['kib_per_conn']:.3f} KiB per connection", flush=True)
    with open(os.path.join(outdir, "runs.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n`/usr/bin/python3 bench/run/memory.py {' '.join(sys.argv[1:])}`\n")
    print("| plaza | connections | mode | KiB per connection, median (min–max) | runs |")
    print("| --- | --- | --- | --- | --- |")
    for mode in modes:
        for n in counts:
            for b in binaries:
                v = [x["kib_per_conn"] for x in results
                     if x["binary"] == b and x["mode"] == mode and x["clients"] == n]
                print(f"| `{os.path.relpath(b, ROOT)}` | {n:,} | {mode} | "
                      f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f}) | {len(v)} |")
    print(f"\nruns: {os.path.relpath(outdir, ROOT)}/runs.json")


if __name__ == "__main__":
    main()
