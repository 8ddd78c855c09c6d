#!/usr/bin/python3
"""An outside load generator for `social`: plain Python sockets with their
own WebSocket framing and msgpack, sharing no code with plaza-bench, the C
client library or plaza's codec, so that plaza / floor ratios do not rest on
our own load generator alone.

    bench/run/outside_load.py [--server plaza=build/plaza ...] [--runs 3]
                              [--clients 1000] [--ramp 5] [--duration 15]

For each run and each server (interleaved run by run): the server alone on
CPU 0 (plaza with `--workers 1`; `floor` is build/plaza-floor), this script
on CPU 1. N clients connect over --ramp seconds, HELLO and JOIN rooms of 50
(client i in room i // 50), then each sends MOVE 20 times a second
([4, seq, x, y, z, yaw], float32, walking 1 m/s) and a CHAT every 30 s, and
reads everything. Five clients per room decode every STATE and time each
other member's MOVE to the STATE entry carrying its seq (the tick alone
accounts for up to 33 ms). The server's CPU (utime + stime from
/proc/PID/stat) is read at the start and the end of the --duration window.
If this script falls more than 10 % behind its send schedule the run says
so (`limited`): the server was then not the limit.

Prints a Markdown table of medians (min-max), the ratios to the floor, and
writes every run to bench/results/<date>-outside/.
"""

import argparse
import datetime
import heapq
import json
import math
import os
import random
import selectors
import socket
import statistics
import subprocess
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port, healthy  # noqa: E402
from rawws import after_upgrade, cpu_s, frame, split_frames, upgrade_request  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO, JOIN, MOVE, CHAT_C = 1, 2, 4, 5
WELCOME, ROOM, STATE = 1, 2, 5


class Client:
    __slots__ = ("i", "sock", "state", "buf", "id", "seq", "x", "z", "sample", "next_move",
                 "next_chat", "sent", "out")

    def __init__(self, i, sock, sample):
        self.i, self.sock, self.sample = i, sock, sample
        self.state, self.buf, self.id, self.seq = "upgrade", b"", None, 0
        self.x, self.z = random.uniform(-20, 20), random.uniform(-20, 20)
        self.sent = {}  # seq -> send time (sampled rooms' members)
        self.out = b""


class Load:
    def __init__(self, port, n, room_size, move_hz, chat_every_s, sample):
        self.port, self.n, self.room_size = port, n, room_size
        self.move_every = 1.0 / move_hz
        self.chat_moves = int(chat_every_s * move_hz)
        self.due = []  # heap of (next move time, client index)
        self.sample = sample
        self.sel = selectors.DefaultSelector()
        self.clients, self.by_id = [], {}
        self.ready = 0
        self.lat = []
        self.measuring = False
        self.moves_due = self.moves_sent = 0
        self.bytes_in = 0
        self.errors = 0

    def connect(self, i):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        c = Client(i, s, i % self.room_size < self.sample)
        c.out = upgrade_request(self.port)
        self.sel.register(s, selectors.EVENT_WRITE, c)
        self.clients.append(c)

    def send(self, c, payload):
        try:
            c.sock.send(frame(msgpack.packb(payload, use_single_float=True)))
        except (BlockingIOError, InterruptedError):
            self.errors += 1

    def on_readable(self, c, now):
        try:
            data = c.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            raise RuntimeError(f"client {c.i}: the server closed the connection")
        if self.measuring:
            self.bytes_in += len(data)
        if c.state == "moving" and not c.sample:
            return  # counted, not decoded
        c.buf += data
        if c.state == "head":
            rest = after_upgrade(c.buf)
            if rest is None:
                return
            c.buf = rest
            self.send(c, [HELLO, 1, None, f"o{c.i}"])
            c.state = "welcome"
        frames, c.buf = split_frames(c.buf)
        for op, payload in frames:
            if op != 2:
                continue
            m = msgpack.unpackb(payload, raw=False)
            if m[0] == WELCOME and c.state == "welcome":
                c.id = m[1]
                self.by_id[c.id] = c
                self.send(c, [JOIN, f"o{c.i // self.room_size}"])
                c.state = "joining"
            elif m[0] == ROOM and c.state == "joining":
                self.start_moving(c, now)
            elif m[0] == STATE and self.measuring:
                for e in m[2]:
                    sender = self.by_id.get(e[0])
                    if sender is not None and sender is not c:
                        t = sender.sent.get(e[1])
                        if t is not None:
                            self.lat.append(now - t)

    def start_moving(self, c, now):
        c.state = "moving"
        c.next_move = now + random.uniform(0, self.move_every)
        c.next_chat = random.randrange(self.chat_moves)  # moves until its chat
        heapq.heappush(self.due, (c.next_move, c.i))
        self.ready += 1

    def step(self, now):
        """Sends every MOVE (and CHAT) that is due; returns how many
        moves, and how late the schedule's head is after sending."""
        sent = 0
        while self.due and self.due[0][0] <= now:
            t, i = heapq.heappop(self.due)
            c = self.clients[i]
            sent += 1
            c.seq += 1
            c.x += 0.05 * math.cos(c.seq / 40.0)
            c.z += 0.05 * math.sin(c.seq / 40.0)
            if self.measuring:
                c.sent[c.seq] = now
                c.sent.pop(c.seq - 64, None)
            self.send(c, [MOVE, c.seq, c.x, 0.0, c.z, 0.0])
            c.next_chat -= 1
            if c.next_chat <= 0:
                self.send(c, [CHAT_C, "hello from the outside"])
                c.next_chat = self.chat_moves
            c.next_move = t + self.move_every
            heapq.heappush(self.due, (c.next_move, i))
        return sent

    def poll(self, timeout):
        now = time.monotonic()
        for key, ev in self.sel.select(timeout):
            c = key.data
            if ev & selectors.EVENT_WRITE and c.state == "upgrade":
                try:
                    c.sock.send(c.out)
                except (BlockingIOError, InterruptedError):
                    continue
                c.out, c.state = b"", "head"
                self.sel.modify(c.sock, selectors.EVENT_READ, c)
            elif ev & selectors.EVENT_READ:
                self.on_readable(c, now)


def one_run(kind, binary, args, outdir, r):
    port = free_port()
    if kind == "floor":
        argv = [binary, "--host", "127.0.0.1", "--port", str(port), "--tick-hz", "30",
                "--room-size", "50"]
    else:
        argv = [binary, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--tick-hz", "30", "--log-level", "warn"]
    srv = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL)
    try:
        if not healthy(port, srv):
            raise RuntimeError(f"{binary} did not start")
        load = Load(port, args.clients, 50, 20, 30, 5)
        t0 = time.monotonic()
        while len(load.clients) < args.clients or load.ready < args.clients:
            now = time.monotonic()
            want = min(args.clients, int((now - t0) / args.ramp * args.clients) + 1)
            while len(load.clients) < want:
                load.connect(len(load.clients))
            load.step(now)
            load.poll(0.005)
            if now - t0 > args.ramp + 60:
                raise RuntimeError(f"{kind}: {load.ready} of {args.clients} joined")
        settle_end = time.monotonic() + 2
        while time.monotonic() < settle_end:
            load.step(time.monotonic())
            load.poll(0.002)
        load.measuring = True
        c0, u0, s0 = cpu_s(srv.pid)
        own0 = time.process_time()
        w0 = time.monotonic()
        end = w0 + args.duration
        due = 0
        late = 0.0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due += load.step(now)
            load.poll(0.002)
            if load.due:  # how far behind its schedule the send loop is
                late = max(late, time.monotonic() - load.due[0][0])
        c1, u1, s1 = cpu_s(srv.pid)
        window = time.monotonic() - w0
        own = time.process_time() - own0
        lat = sorted(load.lat)
        pct = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None
        res = {"server": kind, "binary": os.path.relpath(binary, ROOT), "run": r,
               "clients": args.clients, "window_s": round(window, 2),
               "cpu_pct": round(100 * (c1 - c0) / window, 2),
               "user_pct": round(100 * (u1 - u0) / window, 2),
               "sys_pct": round(100 * (s1 - s0) / window, 2),
               "moves_per_s": round(due / window), "latency_samples": len(lat),
               "p50_ms": pct(0.5), "p99_ms": pct(0.99),
               "bytes_in_per_client_s": round(load.bytes_in / window / args.clients),
               "loadgen_cpu_pct": round(100 * own / window, 1),
               "limited": late > 0.05 or own / window > 0.95,
               "send_errors": load.errors, "max_late_ms": round(1000 * late, 1),
               "loadavg": [round(x, 2) for x in os.getloadavg()],
               "server_cmd": "taskset -c 0 " + " ".join(argv)}
        with open(os.path.join(outdir, f"{kind}-r{r}.json"), "w") as f:
            json.dump(res, f, indent=1)
        for c in load.clients:
            c.sock.close()
        return res
    finally:
        srv.terminate()
        srv.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", action="append",
                    help="NAME=BINARY (plaza=build/plaza, floor=build/plaza-floor); "
                         "a name starting with 'floor' runs as the floor")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--ramp", type=float, default=5)
    ap.add_argument("--duration", type=float, default=15)
    args = ap.parse_args()
    servers = [s.split("=", 1) for s in (args.server or [
        f"plaza={os.path.join(ROOT, 'build', 'plaza')}",
        f"floor={os.path.join(ROOT, 'build', 'plaza-floor')}"])]
    os.sched_setaffinity(0, {1})
    outdir = os.path.join(ROOT, "bench", "results",
                          datetime.datetime.now().strftime("%Y-%m-%d-%H%M") + "-outside")
    os.makedirs(outdir, exist_ok=True)
    results = []
    for r in range(1, args.runs + 1):
        for name, binary in servers:
            kind = "floor" if name.startswith("floor") else name
            res = one_run(name if kind != "floor" else "floor", os.path.abspath(binary), args,
                          outdir, r)
            res["server"] = name
            results.append(res)
            print(f"{name:<14} r{r}: cpu {res['cpu_pct']:.1f}% ({res['user_pct']:.1f} user, "
                  f"{res['sys_pct']:.1f} kernel), p99 {res['p99_ms']} ms, "
                  f"{res['moves_per_s']} moves/s, loadgen {res['loadgen_cpu_pct']}%"
                  f"{', LIMITED' if res['limited'] else ''}", flush=True)
    med = lambda name, k: statistics.median(x[k] for x in results if x["server"] == name)
    rng = lambda name, k: (min(x[k] for x in results if x["server"] == name),
                           max(x[k] for x in results if x["server"] == name))
    print(f"\n`/usr/bin/python3 bench/run/outside_load.py {' '.join(sys.argv[1:])}`\n")
    print("| server | runs | CPU % of a core | user / kernel % | p50 ms | p99 ms | moves/s sent "
          "| loadgen CPU % | limited runs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, _ in servers:
        lo, hi = rng(name, "cpu_pct")
        lim = sum(1 for x in results if x["server"] == name and x["limited"])
        print(f"| {name} | {args.runs} | {med(name, 'cpu_pct'):.1f} ({lo:.1f}–{hi:.1f}) | "
              f"{med(name, 'user_pct'):.1f} / {med(name, 'sys_pct'):.1f} | "
              f"{med(name, 'p50_ms')} | {med(name, 'p99_ms')} | {med(name, 'moves_per_s')} | "
              f"{med(name, 'loadgen_cpu_pct')} | {lim} |")
    floors = [n for n, _ in servers if n.startswith("floor")]
    if floors:
        f = med(floors[0], "cpu_pct")
        for name, _ in servers:
            if name not in floors:
                print(f"\n{name} / {floors[0]} CPU: **{med(name, 'cpu_pct') / f:.2f}×** (medians)")
    print(f"\nruns: {os.path.relpath(outdir, ROOT)}/")


if __name__ == "__main__":
    main()
