#!/usr/bin/python3
"""A flame graph of plaza in the `social` scenario.

    bench/run/flame.py OUT.svg [--plaza BUILD/plaza] [--clients 1000] [--seconds 8]

Starts the plaza binary alone on CPU 0 (`--workers 1`, as `make bench`),
build/plaza-bench on CPU 1 (`--scenario social`), and once the ramp is over
records plaza for --seconds with `perf record --call-graph dwarf` (plaza is
built without frame pointers; DWARF unwinding sees through libc, libuv and
wslay too). `perf script` output is rendered to SVG by the npm package
`flamegraph` (pinned in bench/flame/package.json; `npm ci` there), and the
folded stacks are kept beside the SVG (OUT.folded.txt) for a text diff.
Everything started here is stopped on exit.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAME_DIR = os.path.join(ROOT, "bench", "flame")
FLAMEGRAPH = os.path.join(FLAME_DIR, "node_modules", ".bin", "flamegraph")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port, healthy  # noqa: E402


def fold(script_out):
    """perf script text -> {"frame;frame;...": samples}, root first."""
    stacks, frames = {}, []

    def flush():
        if frames:
            key = ";".join(reversed(frames))
            stacks[key] = stacks.get(key, 0) + 1
        frames.clear()

    for line in script_out.splitlines():
        if not line.strip():
            flush()
        elif line[0] in " \t":
            parts = line.split(None, 2)
            sym = parts[1] if len(parts) > 1 else "?"
            sym = sym.split("+0x")[0]
            if sym == "[unknown]" and len(parts) > 2:
                sym = os.path.basename(parts[2].strip("()"))
            frames.append(sym)
    flush()
    return stacks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--plaza", default=os.path.join(ROOT, "build", "plaza"))
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--ramp", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--freq", type=int, default=997)
    args = ap.parse_args()
    if not os.access(FLAMEGRAPH, os.X_OK):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FLAME_DIR, check=True)
    port = free_port()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            plaza = subprocess.Popen(["taskset", "-c", "0", args.plaza, "--host", "127.0.0.1",
                                      "--port", str(port), "--workers", "1", "--tick-hz", "30",
                                      "--log-level", "warn"], start_new_session=True)
            procs.append(plaza)
            if not healthy(port, plaza):
                sys.exit("plaza did not answer /healthz")
            bench = subprocess.Popen(["taskset", "-c", "1", os.path.join(ROOT, "build", "plaza-bench"),
                                      "--url", f"ws://127.0.0.1:{port}/ws", "--scenario", "social",
                                      "--threads", "1", "--clients", str(args.clients),
                                      "--ramp", str(args.ramp),
                                      "--duration", str(args.seconds + 4)],
                                     stdout=subprocess.DEVNULL, start_new_session=True)
            procs.append(bench)
            time.sleep(args.ramp + 2)
            data = os.path.join(tmp, "perf.data")
            subprocess.run(["perf", "record", "-q", "-F", str(args.freq), "--call-graph",
                            "dwarf,16384", "-p", str(plaza.pid), "-o", data, "--", "sleep",
                            str(args.seconds)], check=True)
            bench.wait(timeout=args.seconds + 60)
            script = subprocess.run(["perf", "script", "-i", data], check=True,
                                    capture_output=True, text=True).stdout
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=10)
        raw = os.path.join(tmp, "perf.txt")
        with open(raw, "w") as f:
            f.write(script)
        with open(raw) as inp, open(args.out, "w") as f:
            subprocess.run([FLAMEGRAPH, "-t", "perf", "--titletext",
                            f"plaza, social, {args.clients} clients ({os.path.basename(args.out)})"],
                           stdin=inp, stdout=f, check=True)
    stacks = fold(script)
    total = sum(stacks.values())
    folded = os.path.splitext(args.out)[0] + ".folded.txt"
    with open(folded, "w") as f:
        for k, v in sorted(stacks.items(), key=lambda kv: -kv[1]):
            f.write(f"{k} {v}\n")
    # the leaf functions with the most samples, for the commit message
    leaves = {}
    for k, v in stacks.items():
        leaf = k.rsplit(";", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + v
    print(f"{total} samples; {args.out}, {folded}")
    for leaf, v in sorted(leaves.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {100.0 * v / total:5.1f}%  {leaf}")


if __name__ == "__main__":
    main()
