#!/usr/bin/python3
"""plaza's memory per idle TLS connection: N wss:// connections (Python's
ssl module, its own WebSocket framing and msgpack) each complete the TLS
handshake, the WebSocket upgrade and HELLO, read their WELCOME and then
stay open, idle; plaza's RSS growth / N after a settle (plaza lets a quiet
connection's buffers go after 2 s).

    bench/run/tls_memory.py [--plaza BIN ...] [--clients 2000] [--runs 3]
                            [--settle 6]

A fresh plaza per run on CPU 0 (`--workers 1`, TLS with a P-256
certificate made for the run); binaries interleaved run by run. Prints
medians (min-max) per binary and writes every run to
bench/results/<date>-tls-memory/runs.json.
"""

import argparse
import datetime
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port  # noqa: E402
from tls_cost import self_signed  # noqa: E402
from rawws import after_upgrade, frame, rss_kb, split_frames, upgrade_request  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO, WELCOME = 1, 1


def wait_tls(port, ctx, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=1)):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no TLS on {port}")


def open_one(port, ctx, i):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    s.sendall(upgrade_request(port))
    buf = b""
    while (rest := after_upgrade(buf)) is None:
        buf += s.recv(65536)
    s.sendall(frame(msgpack.packb([HELLO, 1, None, f"m{i}"])))
    buf = rest
    while True:
        msgs, buf = split_frames(buf)
        if any(op == 2 and msgpack.unpackb(p, raw=False)[0] == WELCOME for op, p in msgs):
            return s
        data = s.recv(65536)
        if not data:
            raise RuntimeError(f"connection {i} closed before WELCOME")
        buf += data


def run_once(binary, n, settle, cert, key):
    port = free_port()
    srv = subprocess.Popen(["taskset", "-c", "0", binary, "--host", "127.0.0.1", "--port",
                            str(port), "--workers", "1", "--log-level", "warn",
                            "--tls-cert", cert, "--tls-key", key], stdout=subprocess.DEVNULL)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    socks = []
    try:
        wait_tls(port, ctx)
        time.sleep(0.5)
        before = rss_kb(srv.pid)
        for i in range(n):
            socks.append(open_one(port, ctx, i))
        time.sleep(settle)
        after = rss_kb(srv.pid)
        return {"binary": binary, "clients": n, "rss_kb_before": before, "rss_kb_after": after,
                "settle_s": settle, "kib_per_conn": round((after - before) / n, 3),
                "loadavg": os.getloadavg()}
    finally:
        for s in socks:
            s.close()
        srv.terminate()
        srv.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plaza", action="append")
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=6)
    args = ap.parse_args()
    binaries = args.plaza or [os.path.join(ROOT, "build", "plaza")]
    out = os.path.join(ROOT, "bench", "results",
                       datetime.datetime.now().strftime("%Y-%m-%d-%H%M") + "-tls-memory")
    os.makedirs(out, exist_ok=True)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(tmp)
        for r in range(args.runs):
            for b in binaries:
                res = run_once(b, args.clients, args.settle, cert, key)
                res["run"] = r + 1
                print(f"{b} r{r + 1}: {res['kib_per_conn']:.2f} KiB per idle TLS connection "
                      f"(load {res['loadavg'][0]:.2f})", flush=True)
                runs.append(res)
    with open(os.path.join(out, "runs.json"), "w") as f:
        json.dump(runs, f, indent=1)
    print(f"\n| plaza | idle TLS connections | KiB each, median (min-max) |\n| --- | --- | --- |")
    for b in binaries:
        v = [x["kib_per_conn"] for x in runs if x["binary"] == b]
        print(f"| `{b}` | {args.clients} | {statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f}) |")
    print(f"runs: {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
