#!/usr/bin/python3
"""Issue 19's before/after: plaza as it was (another build), plaza now and
the floor side by side in one run, with plaza-bench.

    bench/run/efficiency.py --before OLD_PLAZA [--before-commit C] [--runs 5] [--idle]

social (1,000 clients in rooms of 50) and crowd (one room of 1,000), each
server a fresh process on CPU 0 (plaza with `--workers 1`), plaza-bench on
CPU 1, the three servers interleaved run by run (old, new, floor, old, ...)
so that a shared machine's noise falls on all of them alike; figures are
medians with the (min-max) of the runs. --idle adds plaza-bench's idle
scenario (HELLO and JOIN, then nothing) at 10,000 and 19,000 connections,
RSS growth per connection. Writes every run's JSON and a README.md with
the tables and the commands under bench/results/<date>-efficiency/.
The machinery (processes, pinning, the figures of a run) is bench.py's.
"""

import argparse
import datetime
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import (ROOT, Runner, binary_commit, check_tools, fmt, fmt_ratio, machine,  # noqa: E402
                   med, prepare_limits, ratio, run_plan, spread, stop_all)

KINDS = ["plaza-old", "plaza", "floor"]
NAMES = {"plaza-old": "plaza before", "plaza": "plaza after", "floor": "floor"}


def plan(runs, idle):
    p = [dict(key="social-1000", scenario="social", clients=1000, room_size=50,
              servers=KINDS, runs=runs, ramp=5, duration=15),
         dict(key="crowd", scenario="crowd", clients=1000, room_size=1000,
              servers=KINDS, runs=runs, ramp=5, duration=10)]
    if idle:
        for n in (10000, 19000):
            p.append(dict(key=f"idle-{n}", scenario="idle", clients=n, room_size=50,
                          servers=KINDS, runs=max(1, runs // 2 + 1), ramp=10, duration=8,
                          local_ips=8))
    return p


def write(outdir, results, runner, args, mach, started):
    figs = {k: {kind: [bench.figures(d) for d in by.get(kind, [])] for kind in KINDS}
            for k, by in results.items()}
    L = [f"# Issue 19: plaza before and after, and the floor, side by side", "",
         f"`/usr/bin/python3 bench/run/efficiency.py {' '.join(sys.argv[1:])}` on "
         f"{started:%Y-%m-%d %H:%M}; {mach['cpu_model']}, {mach['nproc']} cores, kernel "
         f"{mach['kernel']}; a machine shared with other engineers' jobs (the load average "
         "at the start of each run is in its JSON, `run.loadavg`). Each run: a fresh server on "
         "CPU 0, build/plaza-bench `--threads 1` on CPU 1; the servers interleaved run by run; "
         "figures are medians with the (min–max) of the runs.", ""]
    for k in ("plaza-old", "plaza"):
        path = bench.AB_OLD_BIN if k == "plaza-old" else bench.PLAZA_BIN
        shown = os.path.relpath(path, ROOT) if path.startswith(ROOT + "/") else path
        built = args.before_commit if k == "plaza-old" and args.before_commit else binary_commit(path)
        L.append(f"- {NAMES[k]}: `{shown}`, built from {built}")
    L.append("")
    L += ["| step | server | runs | CPU % of a core | user / kernel % | CPU µs per client-second "
          "| p50 ms | p99 ms | delivered | errors (max) | RSS per connection, KiB |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, by in figs.items():
        for kind in KINDS:
            fs = by[kind]
            if not fs:
                continue
            idle = key.startswith("idle")
            L.append(f"| {key} | {NAMES[kind]} | {len(fs)} | {spread(fs, 'cpu_pct')} | "
                     f"{spread(fs, 'user_pct')} / {spread(fs, 'sys_pct')} | "
                     f"{spread(fs, 'cpu_us_per_client_s')} | "
                     f"{spread(fs, 'p50') if not idle else '–'} | "
                     f"{spread(fs, 'p99') if not idle else '–'} | "
                     f"{spread(fs, 'delivered', 4) if not idle else '–'} | "
                     f"{max(f['errors'] for f in fs)} | "
                     f"{spread(fs, 'rss_kib_per_conn', 2) if idle else '–'} |")
    L.append("")
    for key, by in figs.items():
        old, new, fl = by["plaza-old"], by["plaza"], by["floor"]
        if key.startswith("idle"):
            L.append(f"- {key}: RSS per connection after / before "
                     f"**{fmt_ratio(ratio(med(new, 'rss_kib_per_conn'), med(old, 'rss_kib_per_conn')))}**"
                     f" ({fmt(med(new, 'rss_kib_per_conn'), 2)} vs {fmt(med(old, 'rss_kib_per_conn'), 2)} KiB)")
            continue
        c = lambda fs: med(fs, "cpu_us_per_client_s")
        p = lambda fs: med(fs, "p99")
        L.append(f"- {key}: CPU per client-second, after / floor **{fmt_ratio(ratio(c(new), c(fl)))}**, "
                 f"before / floor {fmt_ratio(ratio(c(old), c(fl)))}, after / before "
                 f"{fmt_ratio(ratio(c(new), c(old)))}; p99 after / floor "
                 f"**{fmt_ratio(ratio(p(new), p(fl)))}** (before / floor {fmt_ratio(ratio(p(old), p(fl)))})")
    L += ["", "Per run, CPU % in the order run:", ""]
    for key, by in figs.items():
        for kind in KINDS:
            L.append(f"- {key}, {NAMES[kind]}: " + ", ".join(fmt(f["cpu_pct"]) for f in by[kind]))
    L += ["", "Commands of the first run of each:", "", "```sh"]
    seen = set()
    for c in runner.commands:
        if (c["step"], c["server"]) not in seen:
            seen.add((c["step"], c["server"]))
            L += [f"# {c['step']}, {NAMES[c['server']]}", c["server_cmd"] + " &", c["bench_cmd"]]
    L += ["```", ""]
    text = "\n".join(L)
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write(text)
    print(text, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="the plaza binary to compare with")
    ap.add_argument("--before-commit", help="what --before was built from, for the report")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", action="store_true")
    args = ap.parse_args()
    bench.AB_OLD_BIN = os.path.abspath(args.before)
    if not os.access(bench.AB_OLD_BIN, os.X_OK):
        sys.exit(f"--before {args.before}: not an executable")
    bench.LABEL.update(NAMES)
    check_tools(True, peer=False)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._on_signal)
    steps = plan(args.runs, args.idle)
    prepare_limits(max(s["clients"] for s in steps), 8 if args.idle else 1)
    started = datetime.datetime.now()
    outdir = os.path.join(bench.RESULTS, started.strftime("%Y-%m-%d-%H%M") + "-efficiency")
    os.makedirs(outdir, exist_ok=True)
    mach = machine()
    print(f"efficiency: results in {os.path.relpath(outdir, ROOT)}/", flush=True)
    runner = Runner(outdir, None)
    try:
        results, _ = run_plan(steps, runner, True)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e or 'Ctrl-C'}): stopping every process started", flush=True)
        stop_all()
        sys.exit(130)
    finally:
        stop_all()
    write(outdir, results, runner, args, mach, started)


if __name__ == "__main__":
    main()
