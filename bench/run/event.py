#!/usr/bin/python3
"""Issue 18's numbers: crowds with interest management (VIEW) and compact
positions (STATE_C), on this machine.

    bench/run/event.py [--runs N] [--configs a,b]   (< 20 min)
    bench/run/event.py --report DIR [--docs]        rebuild DIR/README.md
                                                    (and the docs section)

The `event` scenario of plaza-bench: N walkers in one room, spread over a
400 × 400 square, 20 moves/s, each with a VIEW of radius 40 (compact on or
off), against the same crowd without VIEW (the whole room, as v1), the
Socket.io peer with its `view` event, and `social` at 1,000 clients as the
yardstick of CPU and latency; then the same 1,000 walkers on two plaza
nodes sharing a redis-server. Every server process on CPU 0 (plaza with
--workers 2, the node setup the issue names), the bench on CPU 1; fresh
processes every run, configurations interleaved run by run, medians.

Writes bench/results/<date>-event/ (every run's JSON, summary.json,
README.md) and, unless --no-docs, the event section of docs/benchmarks.md
(between its markers, which `make bench` keeps) and docs/bench-event.svg
(gnuplot). Every process started is stopped on exit. Reuses bench.py's
machinery (processes, figures, machine description).
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

RAMP, DURATION, RUNS = 5, 15, 3
WORKERS = 2
AREA, RADIUS = 400, 40

# name -> (server, nodes, scenario, clients, view radius, compact)
CONFIGS = {
    "plaza-300-whole": ("plaza", 1, "event", 300, 0, False),
    "plaza-300-view": ("plaza", 1, "event", 300, RADIUS, False),
    "plaza-300-compact": ("plaza", 1, "event", 300, RADIUS, True),
    "peer-300-whole": ("peer", 1, "event", 300, 0, False),
    "peer-300-view": ("peer", 1, "event", 300, RADIUS, False),
    "plaza-1000-compact": ("plaza", 1, "event", 1000, RADIUS, True),
    "plaza-1000-social": ("plaza", 1, "social", 1000, 0, False),
    "peer-1000-view": ("peer", 1, "event", 1000, RADIUS, False),
    "plaza-1000-compact-2-redis": ("plaza", 2, "event", 1000, RADIUS, True),
    "plaza-1000-compact-2-redis-half": ("plaza", 2, "event", 1000, RADIUS, True),
}
# Two nodes: node 2 starts this long after node 1 answers /healthz. A node
# ticks on a timeline of its own from its start, so this sets the phase
# between the nodes' ticks, which a move crossing nodes waits out: a whole
# number of ticks puts them in phase (the worst case: a move published at
# node 1's tick reaches node 2 just after its tick), half a tick more
# puts them half a tick apart.
NODE2_DELAY = {"plaza-1000-compact-2-redis": 1.0,
               "plaza-1000-compact-2-redis-half": 1.0 + 0.5 / B.TICK_HZ}
LABEL = {
    "plaza-300-whole": "plaza, 300, whole room (no VIEW)",
    "plaza-300-view": "plaza, 300, radius 40",
    "plaza-300-compact": "plaza, 300, radius 40 + compact",
    "peer-300-whole": "Socket.io peer, 300, whole room",
    "peer-300-view": "Socket.io peer, 300, radius 40",
    "plaza-1000-compact": "plaza, 1,000, radius 40 + compact",
    "plaza-1000-social": "plaza, social 1,000 (rooms of 50, no VIEW)",
    "peer-1000-view": "Socket.io peer, 1,000, radius 40",
    "plaza-1000-compact-2-redis": "plaza, 1,000 on two nodes + Redis, radius 40 + compact, ticks in phase",
    "plaza-1000-compact-2-redis-half": "plaza, 1,000 on two nodes + Redis, radius 40 + compact, ticks half a tick apart",
}
MARK_BEGIN = "<!-- event:begin (bench/run/event.py; kept by --full) -->"
MARK_END = "<!-- event:end -->"
TICK_MS = 1000.0 / B.TICK_HZ


def healthy_fast(port, proc, timeout=20.0):
    """/healthz answered, polled every 5 ms (the next node's start time
    counts from here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with B.urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.005)
    return False


class EventRunner(B.Runner):
    def run_config(self, config, rep):
        kind, n_nodes, scenario, clients, radius, compact = CONFIGS[config]
        name = f"event-{config}-r{rep}"
        json_path = os.path.join(self.outdir, name + ".json")
        log_path = os.path.join(self.outdir, "logs", name)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        rec = {"config": config, "server_kind": kind, "nodes": n_nodes, "rep": rep,
               "server_cmds": [], "loadavg": [round(x, 2) for x in os.getloadavg()]}
        procs = []
        try:
            redis_url, redis_proc = None, None
            if n_nodes > 1:
                rport = B.free_port()
                rargv = ["taskset", "-c", B.SERVER_CPU, "redis-server", "--port", str(rport),
                         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--daemonize", "no"]
                redis_proc = B.spawn(rargv, log=log_path + ".redis.log")
                procs.append(redis_proc)
                rec["server_cmds"].append(B.show_cmd(rargv).replace("--save ''", '--save ""'))
                if not B.redis_ping(rport, redis_proc):
                    print("  !! redis-server did not start", flush=True)
                    return None
                redis_url = f"redis://127.0.0.1:{rport}"
            urls, pids = [], []
            for i in range(n_nodes):
                if i > 0:
                    time.sleep(NODE2_DELAY.get(config, 0))
                port = B.free_port()
                argv, cwd, env, url, proto = B.server_argv(kind, port, clients)
                if kind == "plaza":
                    argv[argv.index("--workers") + 1] = str(WORKERS)
                    if redis_url:
                        argv += ["--redis", redis_url]
                srv = B.spawn(argv, cwd=cwd, env=env, log=f"{log_path}.node{i + 1}.log")
                procs.append(srv)
                rec["server_cmds"].append(B.show_cmd(argv, env if kind == "peer" else None, cwd))
                if not (B.healthy(port, srv) if i + 1 == n_nodes else
                        healthy_fast(port, srv)):
                    print(f"  !! {config} node {i + 1} did not start (see "
                          f"{os.path.relpath(log_path, B.ROOT)}.node{i + 1}.log)", flush=True)
                    return None
                urls.append(url)
                pids.append(srv.pid)
            pid_arg = ",".join(str(p) for p in pids)
            if redis_proc is not None:
                pid_arg += f",redis={redis_proc.pid}"
            bargv = ["taskset", "-c", B.BENCH_CPU, B.BENCH_BIN, "--url", ",".join(urls),
                     "--proto", "socketio" if kind == "peer" else "plaza",
                     "--scenario", scenario, "--threads", "1", "--ramp", str(RAMP),
                     "--duration", str(DURATION), "--clients", str(clients),
                     "--server-pid", pid_arg, "--json", json_path]
            if scenario == "event":
                bargv += ["--view-radius", str(radius), "--compact", "on" if compact else "off",
                          "--area", str(AREA)]
            if redis_url:
                bargv += ["--redis-url", redis_url]
            rec["bench_cmd"] = B.show_cmd(bargv)
            self.commands.append({"config": config, "server_cmd": " &\n".join(rec["server_cmds"]),
                                  "bench_cmd": rec["bench_cmd"]})
            timeout = RAMP + DURATION + 90
            t = time.monotonic()
            b = B.spawn(bargv, cwd=B.ROOT, log=log_path + ".bench.log")
            try:
                if n_nodes == 1:
                    split = B.sample_split(procs[-1], b, t + RAMP + 1.0, t + RAMP + DURATION - 0.5)
                    if split:
                        rec["server_cpu_split"] = split
                rc = b.wait(max(1.0, timeout - (time.monotonic() - t)))
            except subprocess.TimeoutExpired:
                print(f"  !! bench timed out after {timeout:.0f} s", flush=True)
                B.stop(b)
                return None
            finally:
                if b in B._children:
                    B._children.remove(b)
            rec["wall_s"] = round(time.monotonic() - t, 1)
            rec["bench_exit"] = rc
            if any(p.poll() is not None for p in procs):
                print(f"  !! {config}: a server process exited during the run", flush=True)
                rec["server_died"] = True
            return B.attach_run(json_path, log_path, rc, rec)
        finally:
            for p in reversed(procs):
                B.stop(p)


def figures(d):
    f = B.figures(d)
    f["entries_per_state"] = B.g(d, "state_entries_per_msg")
    f["bytes_per_entry"] = B.g(d, "state_bytes_per_entry")
    f["aways_per_client_s"] = B.g(d, "aways_per_client_s")
    f["p99_same"] = B.g(d, "latency_ms", "move_same_node", "p99")
    f["p99_cross"] = B.g(d, "latency_ms", "move_cross_node", "p99")
    f["cross_samples"] = B.g(d, "latency_ms", "move_cross_node", "samples") or 0
    per = B.g(d, "server", "per_pid") or []
    f["redis_cpu_pct"] = next((p.get("cpu_pct") for p in per if p.get("label") == "redis"), None)
    return f


def run_all(runner, configs, runs):
    results = {c: [] for c in configs}
    failures = {c: [] for c in configs}
    for rep in range(1, runs + 1):
        for c in configs:
            d = runner.run_config(c, rep)
            if d is None:
                failures[c].append(f"run {rep}: no result (see the logs)")
                continue
            results[c].append(d)
            f = figures(d)
            print(f"== {c:<27} run {rep}: cpu {B.fmt(f['cpu_pct'])}%, "
                  f"{B.fmt(f['cpu_us_per_client_s'])} us/client-s, p99 {B.fmt(f['p99'])} ms, "
                  f"in {B.fmt(f['bytes_in'], 0)} B/client/s, {B.fmt(f['entries_per_state'])} "
                  f"entries/STATE, {B.fmt(f['bytes_per_entry'], 2)} B/entry, delivered "
                  f"{B.fmt(f['delivered'], 4)}, errors {f['errors']}  (t={runner.elapsed():.0f}s)",
                  flush=True)
    return results, failures


def medf(figs, c, key):
    return B.med(figs.get(c) or [], key)


def verdicts(figs):
    out = []
    whole = medf(figs, "plaza-300-whole", "bytes_in")
    view = medf(figs, "plaza-300-view", "bytes_in")
    comp = medf(figs, "plaza-300-compact", "bytes_in")

    def met(ok):
        return "met" if ok else "**not met**"
    if whole and view and comp:
        out.append(f"300 walkers: bytes per client per second with radius 40 are "
                   f"**1/{whole / view:.0f}** of the whole room's (goal ≤ 1/5: {met(view * 5 <= whole)}), "
                   f"with compact too **1/{whole / comp:.0f}** (goal ≤ 1/12: {met(comp * 12 <= whole)}).")
    bpe = [medf(figs, c, "bytes_per_entry") for c in ("plaza-300-compact", "plaza-1000-compact")]
    if all(b is not None for b in bpe):
        out.append(f"STATE_C: **{bpe[0]:.2f}** bytes per carried member at 300 and **{bpe[1]:.2f}** at "
                   f"1,000, message framing included (goal ≤ 8: {met(max(bpe) <= 8)}); STATE "
                   f"with a radius: {B.fmt(medf(figs, 'plaza-300-view', 'bytes_per_entry'), 2)}.")
    ev, so = figs.get("plaza-1000-compact") or [], figs.get("plaza-1000-social") or []
    if ev and so:
        p_ev, p_so = B.med(ev, "p99"), B.med(so, "p99")
        c_ev, c_so = B.med(ev, "cpu_us_per_client_s"), B.med(so, "cpu_us_per_client_s")
        errs = max(f["errors"] for f in ev)
        out.append(f"1,000 walkers in one room, one node (`--workers {WORKERS}`), view + compact: "
                   f"p99 {B.fmt(p_ev)} ms against social's {B.fmt(p_so)} ms (goal ≤: "
                   f"{met(p_ev <= p_so)}); CPU **{B.fmt(c_ev)}** µs per client-second against "
                   f"social's {B.fmt(c_so)}, **{c_ev / c_so:.2f}×** (goal ≤ 1.2×: "
                   f"{met(c_ev <= 1.2 * c_so)}); errors {errs} (goal 0: {met(errs == 0)}).")
    for c, how in (("plaza-1000-compact-2-redis", "with the two nodes' ticks in phase"),
                   ("plaza-1000-compact-2-redis-half", "with them half a tick apart")):
        two = figs.get(c) or []
        gaps = [f["p99_cross"] - f["p99_same"] for f in two
                if f["p99_cross"] is not None and f["p99_same"] is not None]
        if gaps:
            gap = statistics.median(gaps)
            out.append(f"Two nodes + Redis, 1,000 walkers split over them, {how}: cross-node p99 "
                       f"is {B.fmt(gap)} ms above same-node p99 (goal: within one "
                       f"{TICK_MS:.1f} ms tick: {met(gap <= TICK_MS)}).")
    if figs.get("plaza-1000-compact-2-redis") or figs.get("plaza-1000-compact-2-redis-half"):
        out.append("Why the phase matters: a move that crosses nodes is published at its node's "
                   "tick and waits on the other node for that node's next tick. Each node ticks "
                   "on its own timeline from its start, so that wait is the phase between the "
                   "two timelines in one direction and a tick minus it in the other: over both "
                   "directions between half a tick (timelines half a tick apart) and a whole "
                   "tick plus the trip through Redis (in phase, the worst case). The views are "
                   "the same as on one node (tests/integration/test_cluster_view.py).")
    return out


def table(figs, failures, w):
    def row(cells):
        w("| " + " | ".join(str(x) for x in cells) + " |")
    row(["configuration", "clients", "server CPU % of a core", "CPU µs per client-second",
         "p50 ms", "p99 ms", "bytes/client/s in", "entries per STATE", "bytes per entry",
         "AWAY per client-s", "moves delivered", "errors (max)", "runs"])
    row(["---"] * 13)
    for c in CONFIGS:
        fs = figs.get(c) or []
        if not fs:
            why = "; ".join(sorted(set(failures.get(c) or []))) or "not run"
            row([LABEL[c], f"**not measured**: {why}"] + [""] * 11)
            continue
        p99 = B.spread(fs, "p99")
        if fs[0]["cross_samples"]:
            p99 += f" (same node {B.fmt(B.med(fs, 'p99_same'))}, cross {B.fmt(B.med(fs, 'p99_cross'))})"
        row([LABEL[c], B.fmt(B.med(fs, "clients"), 0), B.spread(fs, "cpu_pct"),
             B.spread(fs, "cpu_us_per_client_s"), B.fmt(B.med(fs, "p50")), p99,
             B.spread(fs, "bytes_in", 0), B.fmt(B.med(fs, "entries_per_state")),
             B.fmt(B.med(fs, "bytes_per_entry"), 2),
             B.fmt(B.med(fs, "aways_per_client_s"), 2) if CONFIGS[c][4] else "–",
             B.spread(fs, "delivered", 4), B.fmt(max(f["errors"] for f in fs), 0), len(fs)])


def plot(figs, outdir, summary):
    """docs/bench-event.svg: bytes per client per second of the 300-walker
    configurations, on a log scale."""
    keys = ["plaza-300-whole", "plaza-300-view", "plaza-300-compact", "peer-300-whole",
            "peer-300-view"]
    names = ["plaza, whole room", "plaza, r 40", "plaza, r 40 + compact",
             "Socket.io, whole room", "Socket.io, r 40"]
    data = os.path.join(outdir, "event-bytes.dat")
    with open(data, "w") as f:
        f.write("# configuration bytes_per_client_per_s\n")
        for i, (k, n) in enumerate(zip(keys, names)):
            v = medf(figs, k, "bytes_in")
            f.write(f'{i} "{n}" {v if v is not None else "NaN"}\n')
    path = os.path.join(B.DOCS, "bench-event.svg")
    m = summary["machine"]
    script = (
        "set terminal svg size 760,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'\n"
        f"set output '{path}'\n"
        "set title \"bytes each client receives per second, 300 walkers in one room\\n"
        f"{{/*0.8 400 x 400, 20 moves/s, 30 Hz tick; {m['cpu_model']} ({summary['date']})}}\"\n"
        "set ylabel 'bytes per client per second (log scale)'\n"
        "set logscale y\nset yrange [500:*]\nset grid ytics\nset style fill solid 0.8\n"
        "set boxwidth 0.6\nset xtics rotate by -20 nomirror\nunset key\nset xrange [-0.6:4.6]\n"
        f"plot '{data}' using 1:3:xtic(2) with boxes lc rgb '#1f77b4', "
        f"'' using 1:3:(sprintf('%.0f', $3)) with labels offset 0,0.8 notitle\n")
    with open(os.path.join(outdir, "bench-event.svg.gp"), "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        print(f"gnuplot failed: {r.stderr.strip()}", flush=True)
        return False
    return True


def write(outdir, summary, results, failures, commands, docs=True):
    rel = os.path.relpath(outdir, B.ROOT)
    figs = {c: [figures(d) for d in ds] for c, ds in results.items()}
    m = summary["machine"]
    L = []
    w = L.append
    w("# Crowds: interest management and compact positions (issue 18)")
    w("")
    w("<!-- Generated by bench/run/event.py. -->")
    w("")
    w(f"Measured on {summary['date']} ({summary['elapsed_s'] // 60} min {summary['elapsed_s'] % 60} s), "
      f"tree at {summary['commit']}.")
    w("")
    w("## Machine and method")
    w("")
    w(f"- {m['cpu_model']}, {m['nproc']} cores, {m['mem_gib']} GiB, kernel {m['kernel']}, {m['os']}, "
      f"Node.js {m['node']}; a shared, noisy virtual machine (`run.loadavg` in each JSON).")
    w(f"- `plaza-bench --scenario event`: every client in one room, spread over a {AREA} × {AREA} "
      "square and walking (20 moves/s, up to 40 units/s, on the (x, z) plane), no chat; VIEW radius "
      f"{RADIUS} (entering at ≤ 40, leaving past 50) with compact on or off, or no VIEW (the whole "
      "room, v1). The Socket.io peer gets its `view` event instead (`bench/peers/socketio`: every "
      "player looked at each tick, the usual way). `social` (rooms of 50, 20 moves/s, 2 chats/min) "
      "is the yardstick for CPU and latency.")
    w(f"- Every server process on CPU 0 (`taskset -c 0`; plaza with `--workers {WORKERS}`), the "
      "bench on CPU 1 (`--threads 1`), 30 Hz tick; ramp 5 s, measured window 15 s; "
      f"{summary['runs']} runs per configuration, interleaved, fresh processes; medians, (min–max).")
    w("- *bytes/client/s in*: what each client received (WebSocket frames included). *entries per "
      "STATE*: per STATE or STATE_C message, every client. *bytes per entry*: the MessagePack bytes "
      "of the STATE / STATE_C messages the sampled clients read, over their entries (header "
      "included). *CPU µs per client-second*: server CPU time / (clients × window). *p99*: MOVE → "
      "STATE latency at sampled members (20 per room with a VIEW) that were well inside the "
      "mover's view; *moves delivered* counts those moves (bench/CONTRACT.md).")
    w("")
    w("## Results")
    w("")
    table(figs, failures, w)
    w("")
    for v in verdicts(figs):
        w(f"- {v}")
    for n in summary.get("notes") or []:
        w(f"- {n}")
    w("")
    w("## Commands")
    w("")
    w("```sh")
    w("make all peer-socketio-install")
    w("/usr/bin/python3 bench/run/event.py " + " ".join(summary["argv"]))
    w("```")
    w("")
    w("```sh")
    seen = set()
    for cmd in commands:
        if cmd["config"] in seen:
            continue
        seen.add(cmd["config"])
        w(f"# {LABEL[cmd['config']]}")
        w("\n".join(B.shell_env_fix(x) for x in cmd["server_cmd"].split("\n")) + " &")
        w(cmd["bench_cmd"])
    w("```")
    w("")
    with open(os.path.join(outdir, "README.md"), "w") as fh:
        fh.write("\n".join(L))
    if not docs:
        return
    has_plot = plot(figs, outdir, summary)
    D = [MARK_BEGIN, "", "## Crowds: a room of walkers with views and compact positions (issue 18)", ""]
    D.append(f"Measured on {summary['date']} by `bench/run/event.py` (`make bench-event`); every "
             f"run's JSON, the commands and the method: [`{rel}/`](../{rel}/README.md). "
             f"`plaza-bench --scenario event`: every client in one room, spread over {AREA} × {AREA}, "
             f"walking at 20 moves/s, VIEW radius {RADIUS} (compact on or off) or none (the whole "
             f"room); `social` 1,000 as the yardstick. Server processes on CPU 0 (plaza "
             f"`--workers {WORKERS}`), the bench on CPU 1. Medians of {summary['runs']} interleaved "
             "runs, (min–max).")
    D.append("")
    L.clear()
    table(figs, failures, w)
    D += L
    D.append("")
    for v in verdicts(figs):
        D.append(f"- {v}")
    for n in summary.get("notes") or []:
        D.append(f"- {n}")
    if has_plot:
        D += ["", "![bench-event.svg](bench-event.svg)"]
    D += ["", MARK_END, ""]
    block = "\n".join(D)
    path = os.path.join(B.DOCS, "benchmarks.md")
    with open(path) as fh:
        text = fh.read()
    a, b = text.find(MARK_BEGIN), text.find(MARK_END)
    if a >= 0 and b > a:
        text = text[:a] + block + text[b + len(MARK_END):].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as fh:
        fh.write(text)


def regenerate(outdir, docs):
    with open(os.path.join(outdir, "summary.json")) as f:
        summary = json.load(f)
    results = {c: [] for c in CONFIGS}
    for fn in sorted(os.listdir(outdir)):
        if fn.startswith("event-") and fn.endswith(".json"):
            with open(os.path.join(outdir, fn)) as f:
                d = json.load(f)
            c = B.g(d, "run", "config")
            if c in results:
                results[c].append(d)
    write(outdir, summary, results, summary.get("failures") or {}, summary.get("commands") or [],
          docs=docs)
    print(f"wrote {os.path.relpath(outdir, B.ROOT)}/README.md" + (" and docs/" if docs else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=RUNS, help="runs per configuration (3)")
    ap.add_argument("--configs", help="comma-separated configurations (all): " + ", ".join(CONFIGS))
    ap.add_argument("--report", metavar="DIR", help="rebuild DIR/README.md from its runs")
    ap.add_argument("--docs", action="store_true", help="--report: the docs section too")
    ap.add_argument("--no-docs", action="store_true", help="leave docs/ alone")
    args = ap.parse_args()
    if args.report:
        regenerate(os.path.abspath(args.report), args.docs)
        return
    configs = args.configs.split(",") if args.configs else list(CONFIGS)
    for c in configs:
        if c not in CONFIGS:
            sys.exit(f"--configs: unknown {c}")
    if any(CONFIGS[c][1] > 1 for c in configs) and shutil.which("redis-server") is None:
        sys.exit("missing tool: redis-server")
    B.check_tools(args.no_docs, peer=any(CONFIGS[c][0] == "peer" for c in configs))
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, B._on_signal)
    B.prepare_limits(1000, 1)
    now = datetime.datetime.now()
    outdir = os.path.join(B.RESULTS, now.strftime("%Y-%m-%d-%H%M") + "-event")
    os.makedirs(outdir, exist_ok=True)
    mach = B.machine()
    runner = EventRunner(outdir, None)
    print(f"plaza bench (event): {mach['cpu_model']}, {mach['nproc']} cores; results in "
          f"{os.path.relpath(outdir, B.ROOT)}/", flush=True)
    try:
        results, failures = run_all(runner, configs, args.runs)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e or 'Ctrl-C'}): stopping every process started", flush=True)
        B.stop_all()
        sys.exit(130)
    finally:
        B.stop_all()
    summary = {"mode": "event", "date": now.strftime("%Y-%m-%d %H:%M"), "machine": mach,
               "argv": sys.argv[1:], "elapsed_s": int(runner.elapsed()), "commit": B.git_head(),
               "runs": args.runs, "configs": configs, "failures": failures,
               "commands": runner.commands,
               "medians": {c: ({k: v for k, v in B.summarize(ds).items()} if ds else None)
                           for c, ds in results.items()}}
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    write(outdir, summary, results, failures, runner.commands, docs=not args.no_docs)
    print(open(os.path.join(outdir, "README.md")).read().split("## Results", 1)[1]
          .split("## Commands")[0])
    if any(not results.get(c) for c in configs):
        sys.exit(1)


if __name__ == "__main__":
    main()
