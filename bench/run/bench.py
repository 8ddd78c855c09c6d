#!/usr/bin/python3
"""plaza against the Socket.io peer and the floor, on this machine.

    bench/run/bench.py --full     what `make bench` runs (< 30 min)
    bench/run/bench.py --quick    what `make bench-quick` runs (< 3 min)
    bench/run/bench.py --scaleout [--plaza-redis-bin PATH]
                                  issue 8: the same social load on one plaza
                                  node, two plaza nodes + redis-server, the
                                  Socket.io peer on one node and on two with
                                  its Redis adapter; 3 runs each (< 10 min)
    bench/run/bench.py --issue7 LABEL [--compare DIR]
                                  issue 7's before/after: social and crowd at
                                  1,000 clients, plaza and the floor, 3 runs
                                  each (< 5 min)
    bench/run/bench.py --ab OLD_PLAZA [--runs N]
                                  build/plaza against another plaza binary
                                  (an older build) at social-1000, the two
                                  interleaved run by run, N runs each (5),
                                  medians (< 5 min)

The server under test runs pinned to CPU 0 (`taskset -c 0`; plaza with
`--workers 1`), build/plaza-bench pinned to CPU 1 with `--threads 1` and
`--server-pid`, so server CPU and RSS come from /proc. Every run starts a
fresh server and stops it afterwards. Servers are interleaved run by run
(plaza, peer, floor, plaza, ...) so that the noise of a shared machine falls
on all of them alike; figures are medians of the runs.

--full writes every run's JSON and summary.json under bench/results/<date>/,
draws docs/bench-cpu.svg and docs/bench-latency.svg with gnuplot, and
regenerates docs/benchmarks.md. --quick writes under
bench/results/<date>-quick/ and prints a table; it leaves docs/ alone.
--issue7 writes under bench/results/<date>-issue7-LABEL/ with a README.md
of the runs and their medians (and, given --compare with an earlier
--issue7 directory, the two side by side); it leaves docs/ alone.

Every process started here is stopped on exit, on failure and on Ctrl-C or
SIGTERM (and, should this script be killed outright, by PR_SET_PDEATHSIG).
Python 3 standard library only.
"""

import argparse
import ctypes
import datetime
import json
import math
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
BENCH_BIN = os.environ.get("PLAZA_BENCH_BIN", os.path.join(BUILD, "plaza-bench"))
PLAZA_BIN = os.path.join(BUILD, "plaza")
AB_OLD_BIN = None  # --ab: the other plaza binary, server kind "plaza-old"
FLOOR_BIN = os.path.join(BUILD, "plaza-floor")
PEER_DIR = os.path.join(ROOT, "bench", "peers", "socketio")
DOCS = os.path.join(ROOT, "docs")
RESULTS = os.path.join(ROOT, "bench", "results")

SERVER_CPU, BENCH_CPU = "0", "1"
TICK_HZ = 30
NOFILE = 250000          # file descriptors for the server and the bench
FULL_BUDGET_S = 28 * 60  # `make bench` must end within 30 minutes
LABEL = {"plaza": "plaza", "peer": "Socket.io peer", "floor": "floor",
         "plaza-old": "plaza (other build)"}

# ---------------------------------------------------------------------------
# what runs: the plans of --quick and --full

# One "step" = one scenario at one load, for several servers, `runs` times.
QUICK_PLAN = [
    dict(key="social-1000", scenario="social", clients=1000, room_size=50,
         servers=["plaza", "peer", "floor"], runs=1, ramp=3, duration=8),
]

FULL_PLAN = [
    dict(key="social-1000", scenario="social", clients=1000, room_size=50,
         servers=["plaza", "peer", "floor"], runs=3, ramp=5, duration=15),
    dict(key="social-1500", scenario="social", clients=1500, room_size=50,
         servers=["plaza", "peer", "floor"], runs=3, ramp=5, duration=15),
    dict(key="crowd", scenario="crowd", clients=1000, room_size=1000,
         servers=["plaza", "peer", "floor"], runs=3, ramp=5, duration=10),
    # idle: memory per connection, RSS growth from before the ramp to the
    # end of an 8 s idle window (plaza frees a quiet connection's WebSocket
    # parser after a few seconds). The peer gets fewer connections: Node
    # accepts them slowly on one core. Capped at the open files limit.
    dict(key="idle", scenario="idle", room_size=50,
         clients_by_server={"plaza": 50000, "floor": 50000, "peer": 20000},
         servers=["plaza", "peer", "floor"], runs=3, ramp=20, duration=8,
         local_ips=8),
    # capacity at p99 <= 50 ms (one search each: it is already many runs;
    # each step adds clients to the connected ones: ramp 3 s, 10 s window)
    dict(key="capacity", scenario="social", room_size=50, capacity=True,
         servers=["plaza", "peer"], runs=1, ramp=3, duration=10, local_ips=8,
         search={"plaza": (500, 500, 40000), "peer": (250, 250, 6000)}),
]


# issue 7 (one write per connection per loop turn): the write syscalls, CPU
# and latency of plaza against the floor in `social` and in a `crowd` join
# ramp, the same steps as --full's, before and after the change.
ISSUE7_PLAN = [
    dict(key="social-1000", scenario="social", clients=1000, room_size=50,
         servers=["plaza", "floor"], runs=3, ramp=5, duration=15),
    dict(key="crowd", scenario="crowd", clients=1000, room_size=1000,
         servers=["plaza", "floor"], runs=3, ramp=5, duration=10),
]


# ---------------------------------------------------------------------------
# processes

_children = []  # every Popen started, stopped in stop_all()


def _pdeathsig():
    """In the child before exec: die with SIGTERM if this script dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(argv, *, cwd=None, env=None, log=None):
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, preexec_fn=_pdeathsig)
    finally:
        if log:
            out.close()
    _children.append(p)
    return p


def stop(p, timeout=10.0):
    """SIGTERM the process group, then SIGKILL; returns the exit code."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:  # anything left in its group (it was started as a session leader)
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if p.poll() is None:
        p.wait()
    if p in _children:
        _children.remove(p)
    return p.returncode


def stop_all():
    for p in list(_children):
        stop(p, timeout=5.0)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthy(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------
# servers under test

def server_argv(kind, port, room_size):
    """argv, cwd, env, url, proto of one server under test on CPU 0."""
    pin = ["taskset", "-c", SERVER_CPU]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    if kind in ("plaza", "plaza-old"):
        binary = AB_OLD_BIN if kind == "plaza-old" else PLAZA_BIN
        argv = pin + [binary, "--host", "127.0.0.1", "--port", str(port),
                      "--workers", "1", "--tick-hz", str(TICK_HZ), "--log-level", "warn"]
        return argv, ROOT, env, f"ws://127.0.0.1:{port}/ws", "plaza"
    if kind == "floor":
        argv = pin + [FLOOR_BIN, "--host", "127.0.0.1", "--port", str(port),
                      "--tick-hz", str(TICK_HZ), "--room-size", str(room_size)]
        return argv, ROOT, env, f"ws://127.0.0.1:{port}/ws", "plaza"
    if kind == "peer":
        env = dict(env, PORT=str(port), HOST="127.0.0.1", TICK_HZ=str(TICK_HZ))
        env.pop("REDIS_URL", None)
        argv = pin + ["node", "server.js"]
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        return argv, PEER_DIR, env, url, "socketio"
    raise ValueError(kind)


def show_cmd(argv, env=None, cwd=None):
    s = " ".join(shlex.quote(a) for a in argv).replace(ROOT + "/", "")
    if env is not None and "TICK_HZ" in env and "PORT" in env:
        s = f"PORT={env['PORT']} HOST=127.0.0.1 TICK_HZ={env['TICK_HZ']} " + s
    if cwd and os.path.abspath(cwd) != ROOT:
        s = f"(cd {os.path.relpath(cwd, ROOT)} && {s})"
    return s


def proc_times(pid):
    """utime, stime of a process in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        hz = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / hz, int(fields[12]) / hz
    except (OSError, IndexError, ValueError):
        return None


def sample_split(srv, bench, t_a, t_b):
    """Server user and system CPU seconds between monotonic t_a and t_b."""
    def until(t):
        while time.monotonic() < t:
            if bench.poll() is not None or srv.poll() is not None:
                return False
            time.sleep(min(0.2, max(0.0, t - time.monotonic())))
        return True
    if t_b - t_a < 2 or not until(t_a):
        return None
    a, ta = proc_times(srv.pid), time.monotonic()
    if a is None or not until(t_b):
        return None
    b, tb = proc_times(srv.pid), time.monotonic()
    if b is None:
        return None
    return {"user_s": round(b[0] - a[0], 3), "sys_s": round(b[1] - a[1], 3),
            "window_s": round(tb - ta, 3)}


# ---------------------------------------------------------------------------
# one run

def attach_run(json_path, log_path, rc, rec):
    """The bench's JSON with this script's record of the run (`run`) added,
    written back; None when the bench left no readable JSON."""
    try:
        with open(json_path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"  !! no JSON from the bench (exit {rc}): {e}; "
              f"see {os.path.relpath(log_path, ROOT)}.bench.log", flush=True)
        return None
    data["run"] = rec
    with open(json_path, "w") as f:
        json.dump(data, f, indent=1)
    return data


class Runner:
    def __init__(self, outdir, budget_s):
        self.outdir = outdir
        self.t0 = time.monotonic()
        self.budget_s = budget_s
        self.commands = []  # (what, server command, bench command)
        self.skipped = []

    def elapsed(self):
        return time.monotonic() - self.t0

    def run(self, kind, step, clients, rep, capacity=False):
        """Starts the server, runs the bench, stops the server; the JSON
        (with our own "run" record added) or None."""
        name = f"{step['key']}-{kind}" + ("" if capacity else f"-{clients}-r{rep}")
        json_path = os.path.join(self.outdir, name + ".json")
        log_path = os.path.join(self.outdir, "logs", name)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        port = free_port()
        argv, cwd, env, url, proto = server_argv(kind, port, step["room_size"])
        srv = spawn(argv, cwd=cwd, env=env, log=log_path + ".server.log")
        rec = {"server_kind": kind, "rep": rep,
               "server_cmd": show_cmd(argv, env if kind == "peer" else None, cwd),
               "loadavg": [round(x, 2) for x in os.getloadavg()]}  # 1, 5, 15 min, at the start
        try:
            if not healthy(port, srv):
                print(f"  !! {kind} did not start (see {os.path.relpath(log_path, ROOT)}.server.log)",
                      flush=True)
                return None
            bargv = ["taskset", "-c", BENCH_CPU, BENCH_BIN, "--url", url, "--proto", proto,
                     "--scenario", step["scenario"], "--threads", "1",
                     "--ramp", str(step["ramp"]), "--duration", str(step["duration"]),
                     "--server-pid", str(srv.pid), "--json", json_path]
            if step.get("local_ips"):
                bargv += ["--local-ips", str(step["local_ips"])]
            if capacity:
                start, stp, mx = step["search"][kind]
                bargv += ["--find-capacity", "--p99-ms", "50", "--start", str(start),
                          "--step", str(stp), "--max", str(mx)]
                n_steps = (mx - start) // stp + 1
                timeout = n_steps * (step["ramp"] + step["duration"] + 30) + 60
            else:
                bargv += ["--clients", str(clients)]
                timeout = step["ramp"] + step["duration"] + 90 + clients / 1000
            rec["bench_cmd"] = show_cmd(bargv)
            self.commands.append({"step": step["key"], "server": kind,
                                  "server_cmd": rec["server_cmd"], "bench_cmd": rec["bench_cmd"]})
            t = time.monotonic()
            b = spawn(bargv, cwd=ROOT, log=log_path + ".bench.log")
            try:
                if not capacity:
                    # our own look at the server's user vs system CPU time,
                    # inside the bench's measured window
                    split = sample_split(srv, b, t + step["ramp"] + 1.0,
                                         t + step["ramp"] + step["duration"] - 0.5)
                    if split:
                        rec["server_cpu_split"] = split
                rc = b.wait(timeout - (time.monotonic() - t))
            except subprocess.TimeoutExpired:
                print(f"  !! bench timed out after {timeout:.0f} s", flush=True)
                stop(b)
                return None
            finally:
                if b in _children:
                    _children.remove(b)
            rec["wall_s"] = round(time.monotonic() - t, 1)
            rec["bench_exit"] = rc
            if srv.poll() is not None:
                print(f"  !! {kind} exited during the run (code {srv.returncode})", flush=True)
                rec["server_died"] = srv.returncode
            return attach_run(json_path, log_path, rc, rec)
        finally:
            code = stop(srv)
            rec["server_exit"] = code

    def over_budget(self, need_s):
        return self.budget_s and self.elapsed() + need_s > self.budget_s


# ---------------------------------------------------------------------------
# figures of a run

def g(d, *path, default=None):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def figures(d):
    """The numbers of one run that the tables use."""
    clients = g(d, "connections", "made") or g(d, "params", "clients") or 0
    attempted = g(d, "connections", "attempted") or g(d, "params", "clients") or 0
    measured = g(d, "measured_s") or g(d, "params", "duration_s") or 0
    cpu_pct = g(d, "server", "cpu_pct")
    cpu_s = g(d, "server", "cpu_s")
    f = {
        "clients": clients, "attempted": attempted,
        "cpu_pct": cpu_pct,
        "cpu_pct_per_1000": (cpu_pct * 1000.0 / clients) if cpu_pct is not None and clients else None,
        # CPU seconds the server spent per client-second, in microseconds
        "cpu_us_per_client_s": (cpu_s * 1e6 / (clients * measured))
        if cpu_s is not None and clients and measured else None,
        "p50": g(d, "latency_ms", "move", "p50"),
        "p99": g(d, "latency_ms", "move", "p99"),
        "p999": g(d, "latency_ms", "move", "p999"),
        "chat_p99": g(d, "latency_ms", "chat", "p99"),
        "bytes_in": g(d, "bytes_per_client_per_s", "in"),
        "bytes_out": g(d, "bytes_per_client_per_s", "out"),
        "delivered": g(d, "moves_delivered_ratio"),
        "errors": sum((g(d, "errors_by_code") or {}).values()),
        "error11": (g(d, "errors_by_code") or {}).get("11", 0),
        # the server's write syscalls (/proc/PID/io syscw) per client-second
        # of the window, and over the ramp per client that joined
        "syscw_per_client_s": g(d, "server_write_syscalls_per_client_s"),
        "syscw_ramp_per_client": (g(d, "server", "syscw_ramp") / clients)
        if g(d, "server", "syscw_ramp") is not None and clients else None,
        "loadavg": (g(d, "run", "loadavg") or [None])[0],
        "closes": sum(v for k, v in (g(d, "closes_by_code") or {}).items() if k != "1000"),
        "failed": g(d, "connections", "failed") or 0,
        "bench_limited": bool(g(d, "bench", "limited")),
        "bench_note": g(d, "bench", "note") or "",
        "bench_cpu_pct": g(d, "bench", "cpu_pct"),
    }
    split = g(d, "run", "server_cpu_split")
    f["user_pct"] = f["sys_pct"] = f["user_us_per_client_s"] = None
    if split and split.get("window_s"):
        f["user_pct"] = 100.0 * split["user_s"] / split["window_s"]
        f["sys_pct"] = 100.0 * split["sys_s"] / split["window_s"]
        if clients:
            f["user_us_per_client_s"] = split["user_s"] * 1e6 / (clients * split["window_s"])
    before, after = g(d, "server", "rss_kb_before"), g(d, "server", "rss_kb_after_connect")
    f["rss_kb_before"], f["rss_kb_after_connect"] = before, after
    f["rss_kb_end"] = g(d, "server", "rss_kb_end")
    end = f["rss_kb_end"]
    # growth per connection: at the end of the window (idle: the steady
    # state) and right after the ramp
    f["rss_kib_per_conn"] = ((end - before) / clients) if before is not None and end is not None and clients else None
    f["rss_kib_per_conn_connect"] = ((after - before) / clients) if before is not None and after is not None and clients else None
    return f


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    if not vals:
        return None
    if isinstance(vals[0], bool):
        return any(vals)
    return statistics.median(vals)


def summarize(runs):
    """Medians over the runs of one server at one step."""
    fs = [figures(d) for d in runs]
    s = {k: med(fs, k) for k in fs[0] if k != "bench_note"} if fs else {}
    s["runs"] = len(fs)
    s["bench_limited"] = any(f["bench_limited"] for f in fs)
    s["bench_notes"] = sorted({f["bench_note"] for f in fs if f["bench_note"]})
    s["errors_max"] = max((f["errors"] for f in fs), default=None)
    return s


def ratio(a, b):
    return (a / b) if a is not None and b else None


# ---------------------------------------------------------------------------
# the plan

def run_plan(plan, runner, quick):
    results = {}  # key -> kind -> [json]
    capacity = {}
    for step in plan:
        key = step["key"]
        if not step.get("capacity"):
            results.setdefault(key, {k: [] for k in step["servers"]})
        if step.get("capacity"):
            for kind in step["servers"]:
                est = 8 * (step["ramp"] + step["duration"] + 8)
                if runner.over_budget(est):
                    runner.skipped.append(f"{key} {kind}: skipped, the time budget was spent")
                    print(f"== {key} {kind}: skipped (time budget)", flush=True)
                    continue
                print(f"== capacity at p99 <= 50 ms: {kind} (t={runner.elapsed():.0f}s)", flush=True)
                d = runner.run(kind, step, None, 1, capacity=True)
                if d:
                    capacity[kind] = d
                    print(f"   {kind}: capacity {d.get('capacity')} (limited by {d.get('limited_by')})",
                          flush=True)
            continue
        for rep in range(1, step["runs"] + 1):
            for kind in step["servers"]:
                clients = step.get("clients") or step["clients_by_server"][kind]
                est = step["ramp"] + step["duration"] + 8 + clients / 5000
                if runner.over_budget(est):
                    runner.skipped.append(f"{key} {kind} run {rep}: skipped, the time budget was spent")
                    continue
                d = runner.run(kind, step, clients, rep)
                if d is None:
                    continue
                results[key][kind].append(d)
                f = figures(d)
                print(f"== {key:<12} {kind:<6} run {rep}: {fmt(f['clients'], 0)} clients, "
                      f"cpu {fmt(f['cpu_pct'])}%, p50 {fmt(f['p50'])} ms, p99 {fmt(f['p99'])} ms, "
                      f"delivered {fmt(f['delivered'], 4)}, errors {f['errors']}"
                      + (f", RSS/conn {fmt(f['rss_kib_per_conn'], 2)} KiB" if step['scenario'] == 'idle' else "")
                      + (" [bench limited]" if f["bench_limited"] else "")
                      + f"  (t={runner.elapsed():.0f}s)", flush=True)
    return results, capacity


def fmt(v, nd=1, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "–"
    if nd == 0:
        return f"{int(round(v)):,}{unit}"
    return f"{v:,.{nd}f}{unit}"


def fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}×"


# ---------------------------------------------------------------------------
# machine

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def rd(p):
        try:
            with open(p) as f:
                return f.read().strip()
        except OSError:
            return "?"

    mem_kb = 0
    for line in rd("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    node = "?"
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    os_name = "?"
    for line in rd("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_name = line.split("=", 1)[1].strip('"')
    return {
        "cpu_model": model, "nproc": os.cpu_count(), "kernel": platform.release(),
        "os": os_name, "mem_gib": round(mem_kb / 1048576, 1), "node": node,
        "ip_local_port_range": rd("/proc/sys/net/ipv4/ip_local_port_range").replace("\t", " "),
        "somaxconn": rd("/proc/sys/net/core/somaxconn"),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def prepare_limits(max_clients, local_ips):
    """Raises the descriptor limit (children inherit it) and checks the
    ephemeral ports against the largest load of the plan."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(NOFILE, 2 * max_clients + 1000)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            except (ValueError, OSError):
                pass
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < max_clients + 100:
        print(f"warning: open files limit {soft} < {max_clients} clients (not root?)", flush=True)
    try:
        lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        per_ip = hi - lo + 1
        if max_clients / max(local_ips, 1) > per_ip * 0.8:
            print(f"warning: {max_clients} clients over {local_ips} source addresses need more than "
                  f"the {per_ip} ephemeral ports of net.ipv4.ip_local_port_range", flush=True)
    except (OSError, ValueError):
        pass


def fit_plan(plan, limit):
    """Caps every load at what one process may open (server and bench each
    hold one descriptor per client); returns notes on what was lowered."""
    cap = (limit - 600) // 1000 * 1000
    notes = []
    for st in plan:
        for kind, n in list(st.get("clients_by_server", {}).items()):
            if n > cap:
                st["clients_by_server"][kind] = cap
                notes.append(f"{st['key']} {kind}: {cap:,} connections instead of {n:,}: the open "
                             f"files limit of one process is {limit:,} here and cannot be raised "
                             "(no CAP_SYS_RESOURCE)")
        for kind, (start, step, mx) in list(st.get("search", {}).items()):
            if mx > cap:
                st["search"][kind] = (start, step, max(start, start + (cap - start) // step * step))
                print(f"note: capacity {kind}: the search stops at {st['search'][kind][2]:,} "
                      f"clients (open files limit {limit:,})", flush=True)
        if st.get("clients") and st["clients"] > cap:
            notes.append(f"{st['key']}: {st['clients']:,} clients exceed the open files limit")
    return notes


def check_tools(quick, peer=True):
    missing = [p for p in (BENCH_BIN, PLAZA_BIN, FLOOR_BIN) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit("missing: " + ", ".join(missing) + " (run `make all`)")
    if peer and not os.path.isdir(os.path.join(PEER_DIR, "node_modules")):
        sys.exit("the Socket.io peer is not installed (run `make peer-socketio-install`)")
    for tool in ["taskset"] + (["node"] if peer else []) + ([] if quick else ["gnuplot"]):
        if shutil.which(tool) is None:
            sys.exit(f"missing tool: {tool}")
    if (os.cpu_count() or 1) < 2:
        sys.exit("needs 2 CPUs: the server on CPU 0, the bench on CPU 1")


# ---------------------------------------------------------------------------
# report

def build_summary(results, capacity, runner, mach, date, quick, argv):
    scen = {}
    for key, by_kind in results.items():
        scen[key] = {k: summarize(v) for k, v in by_kind.items() if v}
    cap = {}
    for kind, d in capacity.items():
        steps = []
        for st in d.get("steps") or []:
            f = figures(st)
            steps.append({k: f[k] for k in ("clients", "cpu_pct", "p50", "p99", "delivered",
                                             "errors", "bench_limited", "bench_cpu_pct")})
        cap[kind] = {"capacity": d.get("capacity"), "limited_by": d.get("limited_by"),
                     "p99_budget_ms": d.get("p99_budget_ms", 50), "steps": steps}
    ratios = {}
    for key, s in scen.items():
        r = {}
        pl, pe, fl = s.get("plaza"), s.get("peer"), s.get("floor")
        idle = key == "idle"
        if pl and pe:
            if idle:
                r["rss_plaza_over_peer"] = ratio(pl["rss_kib_per_conn"], pe["rss_kib_per_conn"])
            else:
                r["cpu_plaza_over_peer"] = ratio(pl["cpu_pct_per_1000"], pe["cpu_pct_per_1000"])
                r["p99_plaza_over_peer"] = ratio(pl["p99"], pe["p99"])
        if pl and fl:
            if idle:
                r["rss_plaza_over_floor"] = ratio(pl["rss_kib_per_conn"], fl["rss_kib_per_conn"])
            else:
                r["cpu_client_s_plaza_over_floor"] = ratio(pl["cpu_us_per_client_s"], fl["cpu_us_per_client_s"])
                r["user_cpu_client_s_plaza_over_floor"] = ratio(pl["user_us_per_client_s"],
                                                                fl["user_us_per_client_s"])
        if r:
            ratios[key] = r
    if "plaza" in cap and "peer" in cap and cap["plaza"]["capacity"] and cap["peer"]["capacity"]:
        ratios["capacity"] = {"plaza_over_peer": cap["plaza"]["capacity"] / cap["peer"]["capacity"]}
    return {
        "tool": "bench/run/bench.py", "schema": 1, "mode": "quick" if quick else "full",
        "date": date, "machine": mach, "command": "make " + ("bench-quick" if quick else "bench"),
        "script": "/usr/bin/python3 bench/run/bench.py " + " ".join(argv),
        "elapsed_s": round(runner.elapsed()), "scenarios": scen, "capacity": cap,
        "ratios": ratios, "skipped": runner.skipped, "commands": runner.commands,
    }


def limited_mark(s):
    return " ⚠" if s and s.get("bench_limited") else ""


def print_table(summary):
    print()
    print(f"{'step':<13}{'server':<8}{'clients':>8}{'cpu %':>8}{'user %':>8}{'%/1k cl':>9}{'µs/cl·s':>9}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'in B/s':>9}{'out B/s':>9}{'deliv.':>8}{'wr/cl·s':>9}{'err':>7}")
    for key, by in summary["scenarios"].items():
        for kind, s in by.items():
            print(f"{key:<13}{kind:<8}{fmt(s['clients'], 0):>8}{fmt(s['cpu_pct']):>8}{fmt(s['user_pct']):>8}"
                  f"{fmt(s['cpu_pct_per_1000'], 2):>9}{fmt(s['cpu_us_per_client_s'], 1):>9}"
                  f"{fmt(s['p50']):>8}{fmt(s['p99']):>8}{fmt(s['bytes_in'], 0):>9}"
                  f"{fmt(s['bytes_out'], 0):>9}{fmt(s['delivered'], 4):>8}"
                  f"{fmt(s['syscw_per_client_s'], 2):>9}{fmt(s['errors_max'], 0):>7}{'  bench limited' if s['bench_limited'] else ''}")
    for key, r in summary["ratios"].items():
        print(f"{key}: " + ", ".join(f"{k} {fmt_ratio(v)}" for k, v in r.items()))
    for kind, c in summary["capacity"].items():
        print(f"capacity {kind}: {c['capacity']} (limited by {c['limited_by']})")
    print()


def write_plots(summary, outdir):
    """docs/bench-cpu.svg and docs/bench-latency.svg from the capacity steps."""
    cap = summary["capacity"]
    series = [(k, cap[k]["steps"]) for k in ("plaza", "peer") if k in cap and cap[k]["steps"]]
    if not series:
        return []
    files = {}
    for kind, steps in series:
        p = os.path.join(outdir, f"curve-{kind}.dat")
        with open(p, "w") as f:
            f.write("# clients cpu_pct p99_ms\n")
            for st in sorted(steps, key=lambda s: s["clients"] or 0):
                if st["clients"]:
                    f.write(f"{st['clients']} {st['cpu_pct'] if st['cpu_pct'] is not None else 'NaN'} "
                            f"{st['p99'] if st['p99'] is not None else 'NaN'}\n")
        files[kind] = p
    out = []
    m = summary["machine"]
    sub = f"social scenario, server on 1 core of {m['cpu_model']} ({summary['date']})"
    for name, col, ylabel, extra in (
            ("bench-cpu.svg", 2, "server CPU (% of one core)", ""),
            ("bench-latency.svg", 3, "p99 move-to-STATE latency (ms)",
             "set arrow from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb '#888888'\n"
             "set label 'budget 50 ms' at graph 0.02, first 52 tc rgb '#666666'\n")):
        path = os.path.join(DOCS, name)
        plots = ", ".join(
            f"'{files[k]}' using 1:{col} with linespoints lw 2 pt 7 ps 0.7 "
            f"lc rgb '{'#1f77b4' if k == 'plaza' else '#d62728'}' title '{LABEL[k]}'"
            for k, _ in series)
        script = (
            "set terminal svg size 760,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'\n"
            f"set output '{path}'\n"
            f"set title \"{ylabel} vs clients\\n{{/*0.8 {sub}}}\"\n"
            "set xlabel 'clients'\n"
            f"set ylabel '{ylabel}'\n"
            "set grid\nset key bottom right box opaque\nset xrange [0:*]\nset yrange [0:*]\n"
            f"{extra}plot {plots}\n")
        with open(os.path.join(outdir, name + ".gp"), "w") as f:
            f.write(script)
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode == 0:
            out.append(name)
        else:
            print(f"gnuplot failed for {name}: {r.stderr.strip()}", flush=True)
    return out


def write_markdown(summary, outdir, plots):
    m, sc, cap, ra = summary["machine"], summary["scenarios"], summary["capacity"], summary["ratios"]
    rel = os.path.relpath(outdir, ROOT)
    L = []
    w = L.append
    w("# Benchmarks: plaza, the Socket.io design it replaces, and the floor")
    w("")
    w("<!-- Generated by `make bench` (bench/run/bench.py): edits here are overwritten. -->")
    w("")
    w(f"Measured on {summary['date']} by `{summary['command']}` ({summary['elapsed_s'] // 60} min "
      f"{summary['elapsed_s'] % 60} s). Every run's JSON: [`{rel}/`](../{rel}/).")
    w("")
    w("## Machine")
    w("")
    w(f"- CPU: {m['cpu_model']}, {m['nproc']} cores (`nproc`); {m['mem_gib']} GiB RAM; a shared, "
      "noisy virtual machine, so read ratios and medians rather than absolute numbers")
    w(f"- Kernel {m['kernel']}, {m['os']}; Node.js {m['node']} for the peer")
    w(f"- `net.ipv4.ip_local_port_range` = {m['ip_local_port_range']}, "
      f"`net.core.somaxconn` = {m['somaxconn']}, open files limit raised to {m['nofile']}")
    w("")
    w("## How")
    w("")
    w("- The server under test runs alone on CPU 0 (`taskset -c 0`): plaza with `--workers 1`, "
      "the Socket.io peer (`bench/peers/socketio`, Node.js + Express + Socket.io 4.8 + msgpack parser), "
      "or the floor (`build/plaza-floor`: epoll, the same reads and writes, no protocol work; see "
      "the comment at the top of `bench/floor/floor.c`). All tick at 30 Hz.")
    w("- The load generator `build/plaza-bench` runs on CPU 1 (`taskset -c 1 … --threads 1`). "
      "It reads the server's CPU time (utime+stime) and RSS from `/proc/<pid>` over the measured "
      "window (`--server-pid`). Only 127.0.0.1 traffic.")
    w("- A fresh server for every run; servers interleaved run by run; three runs per server and "
      "load, figures are **medians** (the capacity search is one search per server).")
    w("- Latency: time from a client's MOVE to the STATE entry carrying that id/seq at every "
      "other sampled member of the room (the 30 Hz tick alone accounts for up to 33 ms).")
    w("- *CPU per 1,000 clients*: server CPU (% of one core) × 1000 / clients. "
      "*CPU per client-second*: server CPU time / (clients × measured seconds), in µs. "
      "*Bytes per client per second*: from the client's side (in = received).")
    w("- *Write syscalls per client-second*: the server's `syscw` from `/proc/<pid>/io` over the "
      "measured window / (clients × seconds). ¹ The kernel does not count send(2)/sendmsg(2) there "
      "and the floor writes with send(2), so its figure is not comparable (the peer writes with "
      "write/writev; plaza too until issue 19, with sendmsg(2) since: ≈0 from then on).")
    w("- *user / kernel*: the server's utime and stime from `/proc/<pid>/stat`, sampled by the "
      "script inside the measured window. On loopback the kernel's TCP work of a write (the "
      "sender's and much of the receiver's) is charged to the writing process, which is why "
      "even the floor spends a good part of a core: compare the user-space shares to see "
      "what the server's own code costs.")
    w("")
    w("Commands (ports are picked free at run time; every run's exact command is in "
      f"`{rel}/summary.json`):")
    w("")
    w("```sh")
    w(summary["command"] + "      # = " + summary["script"])
    seen = set()
    for c in summary["commands"]:
        k = (c["step"], c["server"])
        if k in seen:
            continue
        seen.add(k)
        w(f"# {c['step']}, {c['server']}")
        w(c["server_cmd"] + " &")
        w(c["bench_cmd"])
    w("```")
    w("")

    def row(cells):
        w("| " + " | ".join(cells) + " |")

    notes = []
    notes_fail = []

    def lim(kind, s):
        if s and s.get("bench_limited"):
            notes.append(f"{kind}: the bench reported itself as the limit"
                         + (f" ({'; '.join(s['bench_notes'])})" if s.get("bench_notes") else ""))
            return " ⚠"
        return ""

    w("## Headline")
    w("")
    row(["", "plaza", "Socket.io peer", "plaza / peer", "floor", "plaza / floor"])
    row(["---"] * 6)
    if cap:
        pc, ec = cap.get("plaza", {}), cap.get("peer", {})
        row(["capacity at p99 ≤ 50 ms (clients, social, one core)",
             f"{fmt(pc.get('capacity'), 0)}" + (f" (stopped by: {pc.get('limited_by')})" if pc else ""),
             f"{fmt(ec.get('capacity'), 0)}" + (f" (stopped by: {ec.get('limited_by')})" if ec else ""),
             fmt_ratio(ra.get("capacity", {}).get("plaza_over_peer")), "", ""])
    for key in ("social-1000", "social-1500"):
        s = sc.get(key)
        if not s:
            continue
        pl, pe, fl = s.get("plaza"), s.get("peer"), s.get("floor")
        r = ra.get(key, {})
        row([f"CPU per 1,000 clients ({key}), % of a core",
             fmt(g(pl, "cpu_pct_per_1000"), 1), fmt(g(pe, "cpu_pct_per_1000"), 1),
             fmt_ratio(r.get("cpu_plaza_over_peer")), fmt(g(fl, "cpu_pct_per_1000"), 1),
             fmt_ratio(r.get("cpu_client_s_plaza_over_floor"))])
        row([f"p99 move latency ({key}), ms", fmt(g(pl, "p99")), fmt(g(pe, "p99")),
             fmt_ratio(r.get("p99_plaza_over_peer")), fmt(g(fl, "p99")), ""])
    s = sc.get("idle")
    if s:
        pl, pe, fl = s.get("plaza"), s.get("peer"), s.get("floor")
        r = ra.get("idle", {})
        row([f"memory per idle connection (RSS growth over {fmt(g(pl, 'clients'), 0)} "
             "connections, end of window), KiB", fmt(g(pl, "rss_kib_per_conn"), 2),
             fmt(g(pe, "rss_kib_per_conn"), 2), fmt_ratio(r.get("rss_plaza_over_peer")),
             fmt(g(fl, "rss_kib_per_conn"), 2), fmt_ratio(r.get("rss_plaza_over_floor"))])
    w("")

    titles = {
        "social-1000": "social, 1,000 clients (rooms of 50, 20 moves/s, 2 chats/min)",
        "social-1500": "social, 1,500 clients",
        "crowd": "crowd (one room of 1,000, 20 moves/s)",
        "idle": "idle (connections that HELLO and JOIN, then nothing): memory per connection",
    }
    for key, by in sc.items():
        w(f"## {titles.get(key, key)}")
        w("")
        if key == "idle":
            w("RSS is sampled before the ramp, right after it and at the end of the 8 s idle "
              "window; *per connection* = growth / connections.")
            w("")
            row(["server", "connections", "RSS before (KiB)", "after the ramp (KiB)",
                 "end of window (KiB)", "per connection, after the ramp (KiB)",
                 "**per idle connection, end of window (KiB)**", "server CPU %", "runs"])
            row(["---"] * 9)
            for kind in ("plaza", "peer", "floor"):
                s = by.get(kind)
                if s:
                    row([LABEL[kind] + lim(f"idle {kind}", s), fmt(s["clients"], 0),
                         fmt(s["rss_kb_before"], 0), fmt(s["rss_kb_after_connect"], 0),
                         fmt(s["rss_kb_end"], 0), fmt(s["rss_kib_per_conn_connect"], 2),
                         f"**{fmt(s['rss_kib_per_conn'], 2)}**", fmt(s["cpu_pct"]), str(s["runs"])])
        else:
            row(["server", "clients", "server CPU % of a core", "of which user / kernel %",
                 "CPU per 1,000 clients", "CPU µs per client-second", "p50 ms", "p99 ms", "p99.9 ms",
                 "bytes/client/s in", "bytes/client/s out", "moves delivered",
                 "server write syscalls per client-second", "errors", "runs"])
            row(["---"] * 15)
            for kind in ("plaza", "peer", "floor"):
                s = by.get(kind)
                if s:
                    made = fmt(s["clients"], 0)
                    if s.get("attempted") and s["clients"] is not None and s["clients"] < s["attempted"]:
                        made += f" of {fmt(s['attempted'], 0)}"
                        notes_fail.append(f"{key}, {LABEL[kind]}: only {made} clients connected "
                                          "(median of the runs); the others failed (close 1006), "
                                          "the server being saturated; its figures are per connected client")
                    row([LABEL[kind] + lim(f"{key} {kind}", s), made, fmt(s["cpu_pct"]),
                         f"{fmt(s['user_pct'])} / {fmt(s['sys_pct'])}",
                         fmt(s["cpu_pct_per_1000"], 2), fmt(s["cpu_us_per_client_s"], 1),
                         fmt(s["p50"]), fmt(s["p99"]), fmt(s["p999"]), fmt(s["bytes_in"], 0),
                         fmt(s["bytes_out"], 0), fmt(s["delivered"], 4),
                         fmt(s["syscw_per_client_s"], 2) + ("¹" if kind == "floor" else ""),
                         fmt(s["errors_max"], 0), str(s["runs"])])
        r = ra.get(key)
        if r:
            w("")
            parts = []
            r = {k: v for k, v in r.items() if v is not None}
            if "cpu_plaza_over_peer" in r:
                parts.append(f"plaza / peer CPU per client: **{fmt_ratio(r['cpu_plaza_over_peer'])}**")
            if "p99_plaza_over_peer" in r:
                parts.append(f"p99 plaza / peer: {fmt_ratio(r['p99_plaza_over_peer'])}")
            if "cpu_client_s_plaza_over_floor" in r:
                parts.append("plaza / floor CPU per client-second: "
                             f"**{fmt_ratio(r['cpu_client_s_plaza_over_floor'])}**")
            if "user_cpu_client_s_plaza_over_floor" in r:
                parts.append("user-space CPU only, plaza / floor: "
                             f"{fmt_ratio(r['user_cpu_client_s_plaza_over_floor'])}")
            if "rss_plaza_over_peer" in r:
                parts.append(f"memory per connection plaza / peer: **{fmt_ratio(r['rss_plaza_over_peer'])}**")
            if "rss_plaza_over_floor" in r:
                parts.append(f"plaza / floor: {fmt_ratio(r['rss_plaza_over_floor'])}")
            if parts:
                w("Ratios (medians): " + "; ".join(parts) + ".")
        w("")

    if cap:
        w("## Capacity at p99 ≤ 50 ms (social)")
        w("")
        w("`--find-capacity --p99-ms 50` raises the number of clients step by step until p99 "
          "move latency passes 50 ms or errors appear; the capacity is the largest step that held.")
        w("")
        for kind in ("plaza", "peer"):
            c = cap.get(kind)
            if not c:
                continue
            w(f"**{LABEL[kind]}**: {fmt(c['capacity'], 0)} clients (stopped by: {c['limited_by']}).")
            w("")
            row(["clients", "server CPU %", "p50 ms", "p99 ms", "moves delivered", "errors", "bench CPU %"])
            row(["---"] * 7)
            for st in c["steps"]:
                row([fmt(st["clients"], 0), fmt(st["cpu_pct"]), fmt(st["p50"]), fmt(st["p99"]),
                     fmt(st["delivered"], 4), fmt(st["errors"], 0),
                     fmt(st["bench_cpu_pct"]) + (" ⚠ bench limited" if st["bench_limited"] else "")])
            w("")
            if c["limited_by"] == "bench":
                notes.append(f"capacity {kind}: the search stopped because the bench (one core) "
                             "was the limit, so the server's capacity is at least that")
            if c["limited_by"] == "max":
                notes_fail.append(f"capacity {LABEL[kind]}: the search reached its largest step "
                                  "(bounded by the open files limit) and held: the capacity is at least that")
    if plots:
        w("## Curves")
        w("")
        w("The capacity-search steps, plaza and the peer on the same axes.")
        w("")
        for p in plots:
            w(f"![{p}]({p})")
            w("")
    if notes or notes_fail or summary["skipped"]:
        w("## Notes")
        w("")
        for n in notes:
            w(f"- ⚠ bench limited — {n}.")
        for n in notes_fail:
            w(f"- {n}.")
        for n in summary["skipped"]:
            w(f"- {n}.")
        w("")
    # Sections measured by other tools (bench/run/tls_cost.py, and
    # --scaleout's section) follow a marker; they are kept when this report
    # is written again.
    path, kept = os.path.join(DOCS, "benchmarks.md"), ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if KEPT_MARKER in old:
            kept = old[old.index(KEPT_MARKER):]
    with open(path, "w") as f:
        f.write("\n".join(L) + ("\n" + kept if kept else ""))


KEPT_MARKER = "<!-- Not generated: kept by `make bench`. -->"


# ---------------------------------------------------------------------------
# --report DIR: the summary, the plots and docs/benchmarks.md again from the
# run JSON files of an earlier --full (e.g. after changing this report)

ORDER = {"plaza": 0, "peer": 1, "floor": 2}


def load_dir(outdir):
    results, capacity, commands = {}, {}, []
    for fn in sorted(os.listdir(outdir)):
        if not fn.endswith(".json") or fn == "summary.json":
            continue
        with open(os.path.join(outdir, fn)) as f:
            d = json.load(f)
        base = fn[:-5]
        if d.get("mode") == "capacity":
            key, kind = "capacity", base[len("capacity-"):]
            capacity[kind] = d
        else:
            key, kind, _clients, _rep = base.rsplit("-", 3)
            results.setdefault(key, {}).setdefault(kind, []).append(d)
        run = d.get("run") or {}
        if run.get("bench_cmd"):
            commands.append({"step": key, "server": kind, "server_cmd": run.get("server_cmd", ""),
                             "bench_cmd": run["bench_cmd"]})
    keys = [st["key"] for st in FULL_PLAN]
    rank = lambda k: keys.index(k) if k in keys else len(keys)
    results = {k: dict(sorted(results[k].items(), key=lambda kv: ORDER.get(kv[0], 9)))
               for k in sorted(results, key=rank)}
    commands.sort(key=lambda c: (rank(c["step"]), ORDER.get(c["server"], 9)))
    return results, capacity, commands


def regenerate(outdir):
    old = {}
    try:
        with open(os.path.join(outdir, "summary.json")) as f:
            old = json.load(f)
    except (OSError, ValueError):
        pass
    results, capacity, commands = load_dir(outdir)
    runner = Runner(outdir, None)
    runner.commands = commands
    runner.skipped = old.get("skipped", [])
    runner.t0 = time.monotonic() - old.get("elapsed_s", 0)
    mach = old.get("machine") or machine()
    date = old.get("date") or os.path.basename(outdir)
    summary = build_summary(results, capacity, runner, mach, date, False, ["--full"])
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print_table(summary)
    plots = write_plots(summary, outdir)
    write_markdown(summary, outdir, plots)
    print("wrote docs/benchmarks.md" + "".join(f", docs/{p}" for p in plots), flush=True)


# ---------------------------------------------------------------------------
# --issue7 LABEL: README.md of the runs, their medians and the spread

def spread(fs, key, nd=1):
    """median (min–max) of one figure over the runs."""
    vals = [f[key] for f in fs if f.get(key) is not None]
    if not vals:
        return "–"
    m = fmt(statistics.median(vals), nd)
    return m if len(vals) == 1 else f"{m} ({fmt(min(vals), nd)}–{fmt(max(vals), nd)})"


def issue7_runs(outdir):
    """step -> kind -> [(rep, json)], and the commands, of an --issue7 directory."""
    results, _cap, cmds = load_dir(outdir)
    out = {}
    for key, by in results.items():
        for kind, ds in by.items():
            out.setdefault(key, {})[kind] = sorted(
                ((g(d, "run", "rep") or i + 1, d) for i, d in enumerate(ds)), key=lambda t: t[0])
    return out, cmds


def issue7_write(outdir, summary, compare=None):
    rel = os.path.relpath(outdir, ROOT)
    m = summary["machine"]
    runs, cmds = issue7_runs(outdir)
    figs = {k: {kind: [figures(d) for _r, d in v] for kind, v in by.items()} for k, by in runs.items()}
    L = []
    w = L.append

    def row(cells):
        w("| " + " | ".join(str(c) for c in cells) + " |")

    w(f"# Issue 7, {summary.get('label', '')}: write syscalls, CPU and p99 of plaza and the floor")
    w("")
    w("<!-- Generated by bench/run/bench.py --issue7 (rebuilt by --issue7-report DIR). -->")
    w("")
    # the directory to compare a re-run with: this one, its own --compare,
    # or one named by hand in summary.json ("rerun_compare")
    target = summary.get("rerun_compare") or summary.get("compare") or rel
    w("Re-run the same steps (from the repository root, after `make all`), compared with "
      + ("this directory:" if target == rel else f"`{target}`:"))
    w("")
    w("```sh")
    w("/usr/bin/python3 bench/run/bench.py --issue7 after --compare " + target)
    w("```")
    w("")
    w(f"This run: `{summary['command']}` on {summary['date']}, in a tree at commit "
      f"{summary.get('commit', '?')}; the servers' sources (src/, shards/, include/, "
      f"bench/floor/) last changed in {summary.get('server_commit', '?')}; "
      f"{summary['elapsed_s'] // 60} min {summary['elapsed_s'] % 60} s.")
    w("")
    w(f"Machine: {m['cpu_model']}, {m['nproc']} cores (`nproc`), {m['mem_gib']} GiB, kernel "
      f"{m['kernel']}, {m['os']}; shared with other engineers' jobs (the load average at the start "
      "of each run is in the last table). The server runs on CPU 0 (`taskset -c 0`; plaza with "
      "`--workers 1`), `plaza-bench --threads 1` on CPU 1; a fresh server per run; plaza and the "
      f"floor interleaved run by run, {max((len(v) for by in figs.values() for v in by.values()), default=0)} "
      "runs each; figures are medians with the (min–max) of the runs.")
    w("")
    w("- *write syscalls per client-second*: the server's `syscw` (`/proc/PID/io`) over the "
      "measured window / (clients × seconds) (`server_write_syscalls_per_client_s`).")
    w("- *ramp writes per client*: `syscw` from before the first connect to the start of the "
      "window, / clients (`server.syscw_ramp`): the join ramp, i.e. handshakes, WELCOME/ROOM, "
      "JOINED to everyone already in the room, and the STATEs and chats of those already in.")
    w("- *CPU*: % of one core over the window; user / kernel from `/proc/PID/stat`; "
      "*µs per client-second* = server CPU time / (clients × seconds).")
    w("- *p99*: MOVE → STATE at the other sampled members, over the window. *ERROR 11*: "
      "`errors_by_code[\"11\"]`, as the clients counted them over the whole run (ramp included).")
    w("- The floor writes with send(2), which `/proc/PID/io` does not count (¹): its syscw "
      "figures are ≈0 and not comparable with plaza's, which wrote with writev until issue 19 "
      "and writes with sendmsg(2) since (≈0 too from then on).")
    w("")
    w("## Medians")
    w("")
    row(["step", "server", "server CPU %", "user / kernel %", "CPU µs per client-second",
         "write syscalls per client-second", "ramp writes per client", "p99 ms", "p99.9 ms",
         "ERROR 11 (max)", "errors (max)", "runs"])
    row(["---"] * 12)
    for key, by in figs.items():
        for kind in ("plaza", "floor"):
            fs = by.get(kind)
            if not fs:
                continue
            one = " ¹" if kind == "floor" else ""
            row([key, kind, spread(fs, "cpu_pct"),
                 f"{spread(fs, 'user_pct')} / {spread(fs, 'sys_pct')}",
                 spread(fs, "cpu_us_per_client_s"),
                 spread(fs, "syscw_per_client_s", 2) + one,
                 spread(fs, "syscw_ramp_per_client", 0) + one,
                 spread(fs, "p99"), spread(fs, "p999"),
                 fmt(max(f["error11"] for f in fs), 0), fmt(max(f["errors"] for f in fs), 0),
                 len(fs)])
    w("")
    parts = []
    for key, by in figs.items():
        pl, fl = by.get("plaza"), by.get("floor")
        if pl and fl:
            parts.append(f"{key}: p99 plaza / floor **{fmt_ratio(ratio(med(pl, 'p99'), med(fl, 'p99')))}**, "
                         "CPU per client-second plaza / floor "
                         f"{fmt_ratio(ratio(med(pl, 'cpu_us_per_client_s'), med(fl, 'cpu_us_per_client_s')))}")
    if parts:
        w("Ratios of the medians: " + "; ".join(parts) + ".")
        w("")

    if compare:
        bruns, _ = issue7_runs(compare)
        bfigs = {k: {kind: [figures(d) for _r, d in v] for kind, v in by.items()}
                 for k, by in bruns.items()}
        w(f"## Against `{os.path.relpath(compare, ROOT)}` (the issue's \"Done when\")")
        w("")
        row(["figure", "before", "now", "now / before"])
        row(["---"] * 4)

        def cmp(name, key, fig, nd=1, kind="plaza"):
            b = med(bfigs.get(key, {}).get(kind) or [], fig)
            a = med(figs.get(key, {}).get(kind) or [], fig)
            row([name, fmt(b, nd), fmt(a, nd), fmt_ratio(ratio(a, b))])

        cmp("social, plaza: CPU µs per client-second (no worse)", "social-1000", "cpu_us_per_client_s")
        sr = [ratio(med(src.get("social-1000", {}).get("plaza") or [], "cpu_us_per_client_s"),
                    med(src.get("social-1000", {}).get("floor") or [], "cpu_us_per_client_s"))
              for src in (bfigs, figs)]
        row(["social: CPU per client-second plaza / floor, same pass (no worse; steadier than "
             "the absolute figure on a shared machine)", fmt_ratio(sr[0]), fmt_ratio(sr[1]),
             fmt_ratio(ratio(sr[1], sr[0]))])
        cmp("social, plaza: write syscalls per client-second (fewer)", "social-1000",
            "syscw_per_client_s", 2)
        cmp("crowd, plaza: write syscalls per client-second (fewer)", "crowd", "syscw_per_client_s", 2)
        cmp("crowd, plaza: ramp writes per client (fewer)", "crowd", "syscw_ramp_per_client", 0)
        cmp("crowd, plaza: p99 ms", "crowd", "p99")
        cmp("crowd, floor: p99 ms", "crowd", "p99", kind="floor")
        cr = [ratio(med(src.get("crowd", {}).get("plaza") or [], "p99"),
                    med(src.get("crowd", {}).get("floor") or [], "p99")) for src in (bfigs, figs)]
        row(["crowd: p99 plaza / floor (≤ 1.30×)", fmt_ratio(cr[0]), fmt_ratio(cr[1]), ""])
        for key in ("social-1000", "crowd"):
            e = [max((f["error11"] for f in src.get(key, {}).get("plaza") or []), default=None)
                 for src in (bfigs, figs)]
            row([f"{key}, plaza: ERROR 11, most in a run (0)", fmt(e[0], 0), fmt(e[1], 0), ""])
        w("")

    if summary.get("notes"):
        w("## Notes")
        w("")
        for n in summary["notes"]:
            w(f"- {n}")
        w("")

    w("## Every run")
    w("")
    row(["step", "run", "server", "load avg 1/5/15 min at start", "server CPU %", "user / kernel %",
         "CPU µs per client-second", "write syscalls per client-second", "syscw window / ramp",
         "p99 ms", "ERROR 11", "errors", "clients", "bench limited"])
    row(["---"] * 14)
    for key, by in runs.items():
        order = sorted(((rep, ORDER.get(kind, 9), kind, d) for kind, v in by.items() for rep, d in v),
                       key=lambda t: t[:2])
        for rep, _o, kind, d in order:
            f = figures(d)
            la = g(d, "run", "loadavg")
            row([key, rep, kind, " / ".join(f"{x:.2f}" for x in la) if la else "–",
                 fmt(f["cpu_pct"]), f"{fmt(f['user_pct'])} / {fmt(f['sys_pct'])}",
                 fmt(f["cpu_us_per_client_s"]), fmt(f["syscw_per_client_s"], 2),
                 f"{fmt(g(d, 'server', 'syscw_window'), 0)} / {fmt(g(d, 'server', 'syscw_ramp'), 0)}",
                 fmt(f["p99"]), fmt(f["error11"], 0), fmt(f["errors"], 0),
                 f"{fmt(f['clients'], 0)} of {fmt(f['attempted'], 0)}",
                 ("yes: " + f["bench_note"]) if f["bench_limited"] else "no"])
    w("")
    w("## Commands")
    w("")
    w("Ports and pids are picked at run time; every run's own commands are in its JSON (`run`).")
    w("")
    w("```sh")
    seen = set()
    for c in cmds:
        k = (c["step"], c["server"])
        if k in seen:
            continue
        seen.add(k)
        w(f"# {c['step']}, {c['server']}")
        w(c["server_cmd"] + " &")
        w(c["bench_cmd"])
    w("```")
    w("")
    with open(os.path.join(outdir, "README.md"), "w") as fh:
        fh.write("\n".join(L))


def issue7_regenerate(outdir, compare):
    """README.md again from the runs and summary.json (whose "notes", a list
    of lines written by hand, become a Notes section)."""
    with open(os.path.join(outdir, "summary.json")) as f:
        summary = json.load(f)
    if compare is None and summary.get("compare"):
        compare = os.path.join(ROOT, summary["compare"])
    issue7_write(outdir, summary, compare)
    print(f"wrote {os.path.relpath(outdir, ROOT)}/README.md", flush=True)


def git_head(*paths):
    """HEAD (with -dirty when the tree has changes), or the last commit that
    changed paths (with -dirty when they have uncommitted changes)."""
    try:
        if not paths:
            r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                               capture_output=True, text=True)
            return r.stdout.strip() or "?"
        r = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h", "--", *paths],
                           capture_output=True, text=True)
        d = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", *paths],
                           capture_output=True, text=True)
        return (r.stdout.strip() or "?") + ("-dirty" if d.stdout.strip() else "")
    except OSError:
        return "?"


# ---------------------------------------------------------------------------
# --ab: build/plaza against another plaza binary, same load, interleaved run
# by run (old, new, old, new, ...) so that a shared machine's noise falls on
# both alike; medians. For "does this change cost CPU": build the commit
# before it into another directory and give its build/plaza.

AB_STEP = dict(key="social-1000", scenario="social", clients=1000, room_size=50,
               servers=["plaza-old", "plaza"], runs=5, ramp=5, duration=15)


def ab_main(args):
    global AB_OLD_BIN
    AB_OLD_BIN = os.path.abspath(args.ab)
    if not os.access(AB_OLD_BIN, os.X_OK):
        sys.exit(f"--ab {args.ab}: not an executable")
    step = dict(AB_STEP, runs=args.runs or AB_STEP["runs"])
    check_tools(True, peer=False)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    prepare_limits(step["clients"], 1)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M") + "-ab"
    outdir = os.path.join(RESULTS, stamp)
    os.makedirs(outdir, exist_ok=True)
    mach = machine()
    print(f"plaza bench (ab): {mach['cpu_model']}, {mach['nproc']} cores; "
          f"results in {os.path.relpath(outdir, ROOT)}/", flush=True)
    runner = Runner(outdir, None)
    try:
        results, _ = run_plan([step], runner, True)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e or 'Ctrl-C'}): stopping every process started", flush=True)
        stop_all()
        sys.exit(130)
    finally:
        stop_all()
    by = results[step["key"]]
    fs = {k: [figures(d) for d in sorted(by[k], key=lambda d: g(d, "run", "rep") or 0)]
          for k in step["servers"]}
    sm = {k: summarize(by[k]) if by[k] else {} for k in step["servers"]}
    bins = {"plaza-old": (AB_OLD_BIN, binary_commit(AB_OLD_BIN)),
            "plaza": (PLAZA_BIN, binary_commit(PLAZA_BIN))}
    lines = [f"# A/B: {step['key']}, two plaza builds, interleaved", "",
             f"`/usr/bin/python3 bench/run/bench.py {' '.join(sys.argv[1:])}`, "
             f"{datetime.datetime.now():%Y-%m-%d %H:%M}; {mach['cpu_model']}, "
             f"{mach['nproc']} cores. Each run: a fresh server on CPU 0 "
             f"(`--workers 1`), build/plaza-bench on CPU 1, {step['clients']} clients, "
             f"ramp {step['ramp']} s, {step['duration']} s measured; the two builds "
             "alternate run by run. Figures: median (min–max).", ""]
    for k in step["servers"]:
        path = bins[k][0]
        shown = os.path.relpath(path, ROOT) if path.startswith(ROOT + "/") else path
        lines.append(f"- {LABEL[k]}: `{shown}`, built from {bins[k][1]}")
    lines += ["", "| build | runs | CPU % of a core | user % | kernel % | p99 move ms | "
              "delivered | errors |", "|---|---|---|---|---|---|---|---|"]
    for k in step["servers"]:
        lines.append(f"| {LABEL[k]} | {len(fs[k])} | {spread(fs[k], 'cpu_pct')} | "
                     f"{spread(fs[k], 'user_pct')} | {spread(fs[k], 'sys_pct')} | "
                     f"{spread(fs[k], 'p99')} | {spread(fs[k], 'delivered', 4)} | "
                     f"{sm[k].get('errors_max')} |")
    r = ratio(sm["plaza"].get("cpu_pct"), sm["plaza-old"].get("cpu_pct"))
    lines += ["", f"CPU, this build / the other: **{fmt_ratio(r)}** (medians).", "",
              "Per run (CPU %, in the order run):", ""]
    for k in step["servers"]:
        lines.append(f"- {LABEL[k]}: " + ", ".join(fmt(f["cpu_pct"]) for f in fs[k]))
    lines += ["", "Commands of the first run of each:", "", "```sh"]
    seen = set()
    for c in runner.commands:
        if c["server"] not in seen:
            seen.add(c["server"])
            lines += [c["server_cmd"] + " &", c["bench_cmd"]]
    lines += ["```", ""]
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines), flush=True)
    if any(not by[k] for k in step["servers"]):
        sys.exit(1)


# ---------------------------------------------------------------------------
# --scaleout (issue 8, "Numbers"): the same total load on one plaza node, on
# two plaza nodes sharing a redis-server, and on the Socket.io peer with its
# Redis adapter on two nodes (and, for the adapter's own ratio, the peer on
# one node). plaza-bench spreads the clients over the nodes' URLs round
# robin, so every room of 50 has 25 members on each node.

SCALEOUT_STEP = dict(key="scaleout", scenario="social", clients=1000, room_size=50,
                     runs=3, ramp=5, duration=15)
# config -> (server kind, nodes, with redis)
SCALEOUT_CONFIGS = {
    "plaza-1": ("plaza", 1, False),
    "plaza-2-redis": ("plaza", 2, True),
    # --base-bin PATH: an earlier build, run interleaved with this one.
    "plaza-1-base": ("plaza", 1, False),
    "plaza-2-redis-base": ("plaza", 2, True),
    "peer-1": ("peer", 1, False),
    "peer-2-redis": ("peer", 2, True),
}
SCALEOUT_LABEL = {
    "plaza-1": "(a) plaza, one node",
    "plaza-2-redis": "(b) plaza, two nodes + Redis",
    "plaza-1-base": "(a0) plaza --base-bin, one node",
    "plaza-2-redis-base": "(b0) plaza --base-bin, two nodes + Redis",
    "peer-1": "Socket.io peer, one node",
    "peer-2-redis": "(c) Socket.io peer + Redis adapter, two nodes",
}
SCALEOUT_MARK_BEGIN = "<!-- scaleout:begin (bench/run/bench.py --scaleout; kept by --full) -->"
SCALEOUT_MARK_END = "<!-- scaleout:end -->"


def plaza_has_redis(binary):
    """True when `binary --help` lists --redis."""
    try:
        r = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--redis" in (r.stdout + r.stderr)


def binary_commit(binary):
    """The commit a plaza binary was built from, as far as we can tell: the
    HEAD of the git tree it lives in (-dirty when that tree has changes)."""
    d = os.path.dirname(os.path.dirname(os.path.abspath(binary)))
    try:
        r = subprocess.run(["git", "-C", d, "describe", "--always", "--dirty"],
                           capture_output=True, text=True)
        b = subprocess.run(["git", "-C", d, "rev-parse", "--abbrev-ref", "HEAD"],
                           capture_output=True, text=True)
        return f"{r.stdout.strip() or '?'} ({b.stdout.strip() or '?'}, {d})"
    except OSError:
        return "?"


def shell_env_fix(cmd):
    """"A=1 B=2 (cd DIR && rest)" is not shell: move the assignments inside."""
    import re
    m = re.match(r"^((?:[A-Z_]+=\S+ )+)\((cd \S+ && )(.*)$", cmd)
    return f"({m.group(2)}{m.group(1)}{m.group(3)}" if m else cmd


def redis_ping(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


class ScaleoutRunner(Runner):
    def __init__(self, outdir, plaza_redis_bin, base_bin=None):
        super().__init__(outdir, None)
        self.plaza_redis_bin = plaza_redis_bin
        self.base_bin = base_bin

    def run_config(self, config, rep):
        step = SCALEOUT_STEP
        kind, n_nodes, with_redis = SCALEOUT_CONFIGS[config]
        name = f"scaleout-{config}-{step['clients']}-r{rep}"
        json_path = os.path.join(self.outdir, name + ".json")
        log_path = os.path.join(self.outdir, "logs", name)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        rec = {"config": config, "server_kind": kind, "nodes": n_nodes, "redis": with_redis,
               "rep": rep, "server_cmds": [],
               "loadavg": [round(x, 2) for x in os.getloadavg()]}
        procs = []
        try:
            redis_url, redis_proc = None, None
            if with_redis:
                rport = free_port()
                rargv = ["taskset", "-c", SERVER_CPU, "redis-server", "--port", str(rport),
                         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--daemonize", "no"]
                redis_proc = spawn(rargv, log=log_path + ".redis.log")
                procs.append(redis_proc)
                rec["server_cmds"].append(show_cmd(rargv).replace("--save ''", "--save \"\""))
                if not redis_ping(rport, redis_proc):
                    print(f"  !! redis-server did not start (see {os.path.relpath(log_path, ROOT)}.redis.log)",
                          flush=True)
                    return None
                redis_url = f"redis://127.0.0.1:{rport}"
            urls, pids = [], []
            for i in range(n_nodes):
                port = free_port()
                argv, cwd, env, url, proto = server_argv(kind, port, step["room_size"])
                if kind == "plaza" and config.endswith("-base"):
                    argv = [a if a != PLAZA_BIN else self.base_bin for a in argv]
                elif kind == "plaza" and with_redis:
                    argv = [a if a != PLAZA_BIN else self.plaza_redis_bin for a in argv]
                if kind == "plaza" and with_redis:
                    argv += ["--redis", redis_url]
                if kind == "peer" and with_redis:
                    env = dict(env, REDIS_URL=redis_url, NODE_ID=f"peer{i + 1}")
                srv = spawn(argv, cwd=cwd, env=env, log=f"{log_path}.node{i + 1}.log")
                procs.append(srv)
                cmd = show_cmd(argv, env if kind == "peer" else None, cwd)
                if kind == "peer" and with_redis:
                    cmd = shell_env_fix(f"REDIS_URL={redis_url} NODE_ID=peer{i + 1} " + cmd)
                rec["server_cmds"].append(cmd)
                if not healthy(port, srv):
                    print(f"  !! {config} node {i + 1} did not start (see "
                          f"{os.path.relpath(log_path, ROOT)}.node{i + 1}.log)", flush=True)
                    return None
                urls.append(url)
                pids.append(srv.pid)
            pid_arg = ",".join(str(p) for p in pids)
            if redis_proc is not None:
                pid_arg += f",redis={redis_proc.pid}"
            bargv = ["taskset", "-c", BENCH_CPU, BENCH_BIN, "--url", ",".join(urls),
                     "--proto", "socketio" if kind == "peer" else "plaza",
                     "--scenario", step["scenario"], "--threads", "1",
                     "--ramp", str(step["ramp"]), "--duration", str(step["duration"]),
                     "--clients", str(step["clients"]), "--server-pid", pid_arg,
                     "--json", json_path]
            if redis_url:
                bargv += ["--redis-url", redis_url]
            rec["bench_cmd"] = show_cmd(bargv)
            self.commands.append({"step": "scaleout", "server": config,
                                  "server_cmd": " &\n".join(rec["server_cmds"]),
                                  "bench_cmd": rec["bench_cmd"]})
            timeout = step["ramp"] + step["duration"] + 90
            t = time.monotonic()
            b = spawn(bargv, cwd=ROOT, log=log_path + ".bench.log")
            try:
                rc = b.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  !! bench timed out after {timeout:.0f} s", flush=True)
                stop(b)
                return None
            finally:
                if b in _children:
                    _children.remove(b)
            rec["wall_s"] = round(time.monotonic() - t, 1)
            rec["bench_exit"] = rc
            dead = [i for i, p in enumerate(procs) if p.poll() is not None]
            if dead:
                print(f"  !! {config}: a server process exited during the run", flush=True)
                rec["server_died"] = dead
            return attach_run(json_path, log_path, rc, rec)
        finally:
            for p in reversed(procs):
                stop(p)


def scaleout_figures(d):
    """The numbers of one --scaleout run."""
    f = figures(d)
    per = g(d, "server", "per_pid") or []
    f["redis_cpu_pct"] = next((p.get("cpu_pct") for p in per if p.get("label") == "redis"), None)
    nodes = [p.get("cpu_pct") for p in per if p.get("label") != "redis"]
    f["nodes_cpu_pct"] = sum(nodes) if nodes and None not in nodes else None
    f["p99_same"] = g(d, "latency_ms", "move_same_node", "p99")
    f["p99_cross"] = g(d, "latency_ms", "move_cross_node", "p99")
    f["p50_cross"] = g(d, "latency_ms", "move_cross_node", "p50")
    f["cross_samples"] = g(d, "latency_ms", "move_cross_node", "samples") or 0
    f["redis_cmds_per_s"] = g(d, "redis", "commands_per_s")
    f["redis_net_out_per_s"] = g(d, "redis", "net_out_bytes_per_s")
    top = g(d, "redis", "top") or []
    f["redis_top"] = ", ".join(f"{t['cmd']} {t['per_s']:,.0f}/s" for t in top[:4])
    f["rss_kb_end"] = g(d, "server", "rss_kb_end")
    return f


def scaleout_run_all(runner, runs, configs):
    results = {c: [] for c in configs}
    failures = {c: [] for c in configs}
    for rep in range(1, runs + 1):
        for config in configs:
            reason = runner.skip.get(config)
            if reason:
                failures[config].append(reason)
                continue
            d = runner.run_config(config, rep)
            if d is None:
                failures[config].append(f"run {rep}: no result (see the logs)")
                continue
            f = scaleout_figures(d)
            kind, n_nodes, with_redis = SCALEOUT_CONFIGS[config]
            if n_nodes > 1 and f["cross_samples"] == 0:
                msg = (f"run {rep}: no move crossed nodes (0 cross-node samples, delivered "
                       f"{fmt(f['delivered'], 4)}): the nodes do not share rooms through Redis")
                print(f"  !! {config} {msg}", flush=True)
                failures[config].append(msg)
                d["run"]["not_clustered"] = True
            elif (f["delivered"] or 0) < 0.99:
                print(f"  !! {config} run {rep}: only {fmt(f['delivered'], 4)} of the moves "
                      "reached every sampled member (overloaded?)", flush=True)
            results[config].append(d)
            print(f"== {config:<14} run {rep}: cpu {fmt(f['cpu_pct'])}% (redis {fmt(f['redis_cpu_pct'])}%), "
                  f"p99 {fmt(f['p99'])} ms (same {fmt(f['p99_same'])}, cross {fmt(f['p99_cross'])}), "
                  f"redis {fmt(f['redis_cmds_per_s'], 0)} cmd/s, delivered {fmt(f['delivered'], 4)}, "
                  f"errors {f['errors']}  (t={runner.elapsed():.0f}s)", flush=True)
    return results, failures


def scaleout_write(outdir, summary, results, failures, commands, docs=True):
    rel = os.path.relpath(outdir, ROOT)
    m = summary["machine"]
    figs = {c: [scaleout_figures(d) for d in ds if not g(d, "run", "not_clustered")]
            for c, ds in results.items()}
    L = []
    w = L.append

    def row(cells):
        w("| " + " | ".join(str(c) for c in cells) + " |")

    base = med(figs.get("plaza-1") or [], "cpu_pct")
    pbase = med(figs.get("peer-1") or [], "cpu_pct")
    bbase = med(figs.get("plaza-1-base") or [], "cpu_pct")
    tick_ms = 1000.0 / TICK_HZ

    def table():
        row(["configuration", "server CPU % of a core, all processes", "of which Redis %",
             "CPU / one node", "p99 ms", "p99 same node ms", "p99 cross node ms",
             "cross − same ms", "Redis commands/s", "Redis top commands (median run)",
             "moves delivered", "errors (max)", "runs"])
        row(["---"] * 13)
        for c in SCALEOUT_CONFIGS:
            fs = figs.get(c) or []
            if not fs:
                why = "; ".join(sorted(set(failures.get(c) or []))) or "not run"
                row([SCALEOUT_LABEL[c], f"**not measured**: {why}"] + [""] * 11)
                continue
            one = (bbase if c.endswith("-base") else base) if c.startswith("plaza") else pbase
            cpu = med(fs, "cpu_pct")
            gap = [f["p99_cross"] - f["p99_same"] for f in fs
                   if f["p99_cross"] is not None and f["p99_same"] is not None]
            mid = sorted(fs, key=lambda f: f["cpu_pct"] or 0)[len(fs) // 2]
            row([SCALEOUT_LABEL[c], spread(fs, "cpu_pct"),
                 spread(fs, "redis_cpu_pct") if fs[0]["redis_cpu_pct"] is not None else "–",
                 "1.00×" if c.endswith("-1") else fmt_ratio(ratio(cpu, one)) if one else "–",
                 spread(fs, "p99"), spread(fs, "p99_same"),
                 spread(fs, "p99_cross") if fs[0]["cross_samples"] else "–",
                 fmt(statistics.median(gap)) if gap and fs[0]["cross_samples"] else "–",
                 spread(fs, "redis_cmds_per_s", 0) if fs[0]["redis_cmds_per_s"] is not None else "–",
                 mid["redis_top"] or "–",
                 spread(fs, "delivered", 4), fmt(max(f["errors"] for f in fs), 0), len(fs)])

    def verdict():
        out = []
        b = figs.get("plaza-2-redis") or []
        if b and base:
            r = ratio(med(b, "cpu_pct"), base)
            gap = statistics.median([f["p99_cross"] - f["p99_same"] for f in b
                                     if f["p99_cross"] is not None and f["p99_same"] is not None] or [float("nan")])
            out.append(f"two plaza nodes + Redis cost **{fmt_ratio(r)}** one node's CPU "
                       f"(goal ≤ 1.30×: {'met' if r is not None and r <= 1.3 else 'not met'}); cross-node "
                       f"p99 is {fmt(gap)} ms above same-node p99 (goal: within one {tick_ms:.1f} ms "
                       f"tick: {'met' if gap == gap and gap <= tick_ms else 'not met'}).")
        else:
            out.append("(b) two plaza nodes + Redis: **not measured** — "
                       + ("; ".join(sorted(set(failures.get("plaza-2-redis") or []))) or "no run")
                       + ". The goal (≤ 1.30× one node's CPU, cross-node p99 within one tick of "
                       "local) is therefore not yet checked.")
        c = figs.get("peer-2-redis") or []
        if c and pbase:
            out.append(f"The Socket.io peer with its Redis adapter on two nodes costs "
                       f"**{fmt_ratio(ratio(med(c, 'cpu_pct'), pbase))}** the peer on one node "
                       f"(the issue quotes 1.7×), and "
                       f"{fmt_ratio(ratio(med(c, 'cpu_pct'), base))} plaza on one node.")
        b0 = figs.get("plaza-2-redis-base") or []
        if b and b0:
            cmds = ratio(med(b, "redis_cmds_per_s"), med(b0, "redis_cmds_per_s"))
            out.append(f"Against the --base-bin build in the same run: Redis commands/s "
                       f"**{fmt_ratio(cmds)}** (issue 14's bound ≤ 1.5×: "
                       f"{'met' if cmds is not None and cmds <= 1.5 else 'not met'}); "
                       f"CPU one node {fmt_ratio(ratio(base, bbase))}, two nodes + Redis "
                       f"{fmt_ratio(ratio(med(b, 'cpu_pct'), med(b0, 'cpu_pct')))}.")
        return out

    def saturation_notes():
        out = []
        for c in SCALEOUT_CONFIGS:
            fs = figs.get(c) or []
            cpu = med(fs, "cpu_pct")
            if cpu is not None and cpu >= 90:
                out.append(f"⚠ {SCALEOUT_LABEL[c]}: the server processes took {fmt(cpu)} % of CPU 0 "
                           "(median): the core they share is saturated, so this CPU figure is "
                           "capped (the work did not fit) and its latency is queueing; compare at a "
                           "load where every configuration fits (`--clients`).")
            dl = med(fs, "delivered")
            if dl is not None and dl < 0.99:
                out.append(f"⚠ {SCALEOUT_LABEL[c]}: only {fmt(dl, 4)} of the moves reached every "
                           "sampled member within the run (median).")
        return out

    w("# Scale-out: one plaza node, two plaza nodes + Redis, the Socket.io peer + Redis adapter")
    w("")
    w("<!-- Generated by bench/run/bench.py --scaleout. -->")
    w("")
    w(f"Measured on {summary['date']} ({summary['elapsed_s'] // 60} min {summary['elapsed_s'] % 60} s), "
      f"tree at {summary['commit']}. plaza for (a): `build/plaza` of this tree; plaza for (b): "
      f"`{summary['plaza_redis_bin']}`, built from {summary['plaza_redis_commit']}"
      f"{'' if summary['plaza_redis_ok'] else ' — its `--help` has no `--redis`'}.")
    w("")
    w("## Machine and method")
    w("")
    w(f"- {m['cpu_model']}, {m['nproc']} cores (`nproc`), {m['mem_gib']} GiB, kernel {m['kernel']}, "
      f"{m['os']}, Node.js {m['node']}, redis-server {summary.get('redis_version', '?')}; a shared, "
      "noisy virtual machine (load average at the start of each run in the JSON, `run.loadavg`).")
    w(f"- Load: `social`, {SCALEOUT_STEP['clients']:,} clients in rooms of {SCALEOUT_STEP['room_size']} "
      f"(20 moves/s, 2 chats/min each), ramp {SCALEOUT_STEP['ramp']} s, measured window "
      f"{SCALEOUT_STEP['duration']} s, ticks at {TICK_HZ} Hz. The same total load in every "
      "configuration: with two nodes plaza-bench gets both URLs (`--url A,B`) and client *i* "
      "connects to URL *i* mod 2, so each room of 50 has 25 members on each node and its 5 sampled "
      "members on both (rooms spanning the nodes).")
    w("- **Pinning**: with 2 cores not everything can be pinned apart. Every server process — "
      "each node and redis-server — runs on CPU 0 (`taskset -c 0`), the bench on CPU 1 "
      "(`taskset -c 1 … --threads 1`), as `make bench` does. So two nodes + Redis share one "
      "core: their CPU figures add up on that core, and their latency includes waiting for each "
      "other (which flatters neither two-node configuration).")
    w("- *server CPU*: utime+stime from `/proc/PID/stat` over the measured window, summed over "
      "every server process (both nodes and redis-server), % of one core "
      "(`plaza-bench --server-pid A,B,redis=R`; per pid in the JSON, `server.per_pid`). "
      "*CPU / one node*: the median against the same server on one node "
      "(plaza: (a); the peer: the peer on one node, no Redis).")
    w("- *p99*: MOVE → STATE latency at every other sampled member; *same node* / *cross node*: "
      "sender and receiver connected to the same node or to different ones "
      "(`latency_ms.move_same_node` / `move_cross_node`; one clock, the bench's). *cross − same*: "
      "median over the runs of each run's difference.")
    w("- *Redis commands/s*: `INFO commandstats` calls over the window (`plaza-bench --redis-url`), "
      "the bench's own INFO left out; commands inside Lua scripts count too.")
    w(f"- {SCALEOUT_STEP['runs']} runs per configuration, configurations interleaved run by run, "
      "fresh processes every run; figures are medians with the (min–max) of the runs.")
    w("")
    w("## Results")
    w("")
    table()
    w("")
    for v in verdict():
        w(f"- {v}")
    for n in saturation_notes():
        w(f"- {n}")
    for n in summary.get("notes") or []:  # written by hand into summary.json
        w(f"- {n}")
    w("")
    fails = sorted({(c, x) for c, xs in failures.items() for x in xs},
                   key=lambda t: list(SCALEOUT_CONFIGS).index(t[0]))
    if fails:
        w("## What did not run")
        w("")
        for c, x in fails:
            w(f"- {SCALEOUT_LABEL[c]}: {x}")
        w("")
    w("## Commands")
    w("")
    w("```sh")
    w("make all peer-socketio-install")
    w("/usr/bin/python3 bench/run/bench.py " + " ".join(summary["argv"]))
    w("```")
    w("")
    w("What it starts per run (ports and pids are picked at run time; every run's own commands "
      "are in its JSON, `run`):")
    w("")
    w("```sh")
    seen = set()
    for cmd in commands:
        if cmd["server"] in seen:
            continue
        seen.add(cmd["server"])
        w(f"# {SCALEOUT_LABEL[cmd['server']]}")
        w("\n".join(shell_env_fix(x) for x in cmd["server_cmd"].split("\n")) + " &")
        w(cmd["bench_cmd"])
    w("```")
    w("")
    readme = "\n".join(L)
    with open(os.path.join(outdir, "README.md"), "w") as fh:
        fh.write(readme)
    if not docs:
        return

    # docs/benchmarks.md: the same table in a marked block that --full keeps
    D = [SCALEOUT_MARK_BEGIN, "", "## Scale-out: two nodes + Redis against one node (issue 8)", ""]
    D.append(f"Measured on {summary['date']} by `bench/run/bench.py --scaleout`; every run's JSON, "
             f"the commands and the method: [`{rel}/`](../{rel}/README.md). `social`, "
             f"{SCALEOUT_STEP['clients']:,} clients, rooms of 50 spread over the nodes (client *i* on "
             "node *i* mod 2). All server processes (nodes and redis-server) on CPU 0, the bench on "
             "CPU 1: two cores cannot pin them apart. CPU is summed over every server process, "
             f"Redis included. Medians of {SCALEOUT_STEP['runs']} interleaved runs, (min–max).")
    D.append("")
    L.clear()
    table()
    D += L
    D.append("")
    for v in verdict():
        D.append(f"- {v}")
    for n in saturation_notes():
        D.append(f"- {n}")
    for n in summary.get("notes") or []:
        D.append(f"- {n}")
    D += ["", SCALEOUT_MARK_END, ""]
    block = "\n".join(D)
    path = os.path.join(DOCS, "benchmarks.md")
    with open(path) as fh:
        text = fh.read()
    a, b = text.find(SCALEOUT_MARK_BEGIN), text.find(SCALEOUT_MARK_END)
    if a >= 0 and b > a:
        text = text[:a] + block + text[b + len(SCALEOUT_MARK_END):].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as fh:
        fh.write(text)


def scaleout_regenerate(outdir, docs):
    with open(os.path.join(outdir, "summary.json")) as f:
        summary = json.load(f)
    SCALEOUT_STEP.update(summary.get("step") or {})
    results = {c: [] for c in SCALEOUT_CONFIGS}
    failures = {c: [x for x in (summary.get("failures") or {}).get(c, [])
                    if "crossed nodes" in x or "--redis" in x or "no result" in x]
                for c in SCALEOUT_CONFIGS}
    for fn in sorted(os.listdir(outdir)):
        if not (fn.startswith("scaleout-") and fn.endswith(".json")):
            continue
        with open(os.path.join(outdir, fn)) as f:
            d = json.load(f)
        c = g(d, "run", "config")
        if c in results:
            d["run"].pop("not_clustered", None)
            if SCALEOUT_CONFIGS[c][1] > 1 and not g(d, "latency_ms", "move_cross_node", "samples"):
                d["run"]["not_clustered"] = True
            results[c].append(d)
    results = {c: v for c, v in results.items() if v or failures.get(c)}
    scaleout_write(outdir, summary, results, failures, summary.get("commands") or [], docs=docs)
    print(f"wrote {os.path.relpath(outdir, ROOT)}/README.md" + (" and docs/benchmarks.md" if docs else ""))


def scaleout_main(args):
    if shutil.which("redis-server") is None:
        sys.exit("missing tool: redis-server (apt-get install redis-server)")
    check_tools(True, peer=True)
    plaza_redis_bin = os.path.abspath(args.plaza_redis_bin or PLAZA_BIN)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    if args.clients:
        SCALEOUT_STEP["clients"] = args.clients
    if args.runs:
        SCALEOUT_STEP["runs"] = args.runs
    prepare_limits(SCALEOUT_STEP["clients"], 1)
    now = datetime.datetime.now()
    outdir = os.path.join(RESULTS, now.strftime("%Y-%m-%d-%H%M") + "-scaleout")
    os.makedirs(outdir, exist_ok=True)
    mach = machine()
    base_bin = os.path.abspath(args.base_bin) if args.base_bin else None
    runner = ScaleoutRunner(outdir, plaza_redis_bin, base_bin)
    runner.skip = {}
    ok = os.access(plaza_redis_bin, os.X_OK) and plaza_has_redis(plaza_redis_bin)
    if not ok:
        runner.skip["plaza-2-redis"] = (
            f"`{os.path.relpath(plaza_redis_bin, ROOT) if plaza_redis_bin.startswith(ROOT) else plaza_redis_bin} "
            f"--help` (built from {binary_commit(plaza_redis_bin)}) lists no `--redis`: plaza's "
            "Redis bus is not in that build, so two plaza nodes cannot share rooms (build plaza "
            "from a `redis-bus` commit that has it and pass it with `--plaza-redis-bin`)")
        print("!! (b) two plaza nodes + Redis will not run: " + runner.skip["plaza-2-redis"], flush=True)
    configs = [c for c in (args.configs.split(",") if args.configs else
                           [c for c in SCALEOUT_CONFIGS if not c.endswith("-base")])]
    for c in configs:
        if c not in SCALEOUT_CONFIGS:
            sys.exit(f"--configs: unknown {c} (one of {', '.join(SCALEOUT_CONFIGS)})")
        if c.endswith("-base") and not base_bin:
            sys.exit(f"--configs {c} needs --base-bin PATH")
    print(f"plaza bench (scaleout): {mach['cpu_model']}, {mach['nproc']} cores; "
          f"results in {os.path.relpath(outdir, ROOT)}/", flush=True)
    try:
        results, failures = scaleout_run_all(runner, SCALEOUT_STEP["runs"], configs)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e or 'Ctrl-C'}): stopping every process started", flush=True)
        stop_all()
        sys.exit(130)
    finally:
        stop_all()
    rv = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    summary = {
        "mode": "scaleout", "date": now.strftime("%Y-%m-%d %H:%M"), "machine": mach,
        "argv": sys.argv[1:], "elapsed_s": int(runner.elapsed()), "commit": git_head(),
        "plaza_redis_bin": os.path.relpath(plaza_redis_bin, ROOT) if plaza_redis_bin.startswith(ROOT)
        else plaza_redis_bin,
        "plaza_redis_commit": binary_commit(plaza_redis_bin), "plaza_redis_ok": ok,
        "redis_version": next((x.split("=", 1)[1] for x in rv if x.startswith("v=")), "?"),
        "step": SCALEOUT_STEP, "tick_hz": TICK_HZ,
        "medians": {c: ({k: v for k, v in summarize(ds).items()} if ds else None)
                    for c, ds in results.items()},
        "medians_scaleout": {c: {k: med([scaleout_figures(d) for d in ds], k)
                                 for k in ("cpu_pct", "redis_cpu_pct", "nodes_cpu_pct", "p99",
                                           "p99_same", "p99_cross", "redis_cmds_per_s",
                                           "delivered")} if ds else None
                             for c, ds in results.items()},
        "failures": failures, "commands": runner.commands,
    }
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    scaleout_write(outdir, summary, results, failures, runner.commands)
    print(f"wrote {os.path.relpath(outdir, ROOT)}/README.md and the scale-out section of "
          "docs/benchmarks.md", flush=True)
    print(open(os.path.join(outdir, "README.md")).read().split("## Results", 1)[1].split("## Commands")[0])
    if any(not results.get(c) for c in configs):
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="rough side-by-side, < 3 min")
    mode.add_argument("--full", action="store_true", help="the full comparison, < 30 min")
    mode.add_argument("--issue7", metavar="LABEL",
                      help="issue 7's steps (social, crowd; plaza and floor), e.g. LABEL=before")
    mode.add_argument("--issue7-report", metavar="DIR",
                      help="rebuild DIR/README.md of an earlier --issue7 from its runs")
    ap.add_argument("--compare", metavar="DIR",
                    help="--issue7: an earlier --issue7 directory to compare with")
    mode.add_argument("--report", metavar="DIR",
                      help="rebuild summary.json, the SVGs and docs/benchmarks.md from DIR's runs")
    mode.add_argument("--scaleout", action="store_true",
                      help="issue 8: one plaza node vs two + Redis vs the Socket.io peer + its "
                           "Redis adapter on two nodes, same total load (< 10 min)")
    ap.add_argument("--base-bin", metavar="PATH",
                    help="--scaleout: an earlier plaza build for the -base configurations "
                         "(plaza-1-base, plaza-2-redis-base), run interleaved with this one")
    ap.add_argument("--plaza-redis-bin", metavar="PATH",
                    help="--scaleout: the plaza binary with --redis for two nodes (build/plaza)")
    ap.add_argument("--configs", help="--scaleout: comma-separated configurations to run "
                    "(plaza-1, plaza-2-redis, peer-1, peer-2-redis; all)")
    mode.add_argument("--scaleout-report", metavar="DIR",
                      help="rebuild DIR/README.md of an earlier --scaleout from its runs "
                           "(and, with --docs, its docs/benchmarks.md section)")
    ap.add_argument("--docs", action="store_true", help="--scaleout-report: update docs/ too")
    ap.add_argument("--clients", type=int, help="--scaleout: total clients (1000)")
    mode.add_argument("--ab", metavar="OLD_PLAZA",
                      help="build/plaza against this plaza binary at social-1000, "
                           "interleaved, medians (< 5 min)")
    ap.add_argument("--runs", type=int, help="--scaleout: runs per configuration (3); "
                    "--ab: runs per build (5)")
    ap.add_argument("--only", help="comma-separated step keys of the plan to run (debugging)")
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/ (full mode)")
    args = ap.parse_args()
    if args.ab:
        ab_main(args)
        return
    if args.scaleout:
        scaleout_main(args)
        return
    if args.scaleout_report:
        scaleout_regenerate(os.path.abspath(args.scaleout_report), args.docs)
        return
    if args.report:
        regenerate(os.path.abspath(args.report))
        return
    compare = os.path.abspath(args.compare) if args.compare else None
    if compare and not os.path.isfile(os.path.join(compare, "summary.json")):
        sys.exit(f"--compare {args.compare}: no summary.json there")
    if args.issue7_report:
        issue7_regenerate(os.path.abspath(args.issue7_report), compare)
        return
    issue7 = args.issue7
    if issue7 is not None and not issue7.replace("-", "").replace("_", "").isalnum():
        sys.exit("--issue7 LABEL: letters, digits, - and _ only")
    quick = args.quick or bool(issue7)  # issue7: no docs, no gnuplot
    plan = ISSUE7_PLAN if issue7 else QUICK_PLAN if args.quick else FULL_PLAN
    if args.only:
        keep = set(args.only.split(","))
        plan = [s for s in plan if s["key"] in keep]

    check_tools(quick, peer=not issue7)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    max_clients = max([s.get("clients") or 0 for s in plan] +
                      [max(s.get("clients_by_server", {}).values() or [0]) for s in plan] +
                      [max((v[2] for v in s.get("search", {}).values()), default=0) for s in plan])
    prepare_limits(max_clients, max([s.get("local_ips", 1) for s in plan]))
    limit_notes = fit_plan(plan, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    for n in limit_notes:
        print("note: " + n, flush=True)

    now = datetime.datetime.now()
    date = now.strftime("%Y-%m-%d %H:%M")
    stamp = now.strftime("%Y-%m-%d-%H%M") + (f"-issue7-{issue7}" if issue7 else
                                              "-quick" if quick else "")
    outdir = os.path.join(RESULTS, stamp)
    os.makedirs(outdir, exist_ok=True)
    mach = machine()
    print(f"plaza bench ({'issue7 ' + issue7 if issue7 else 'quick' if quick else 'full'}): {mach['cpu_model']}, {mach['nproc']} cores, "
          f"kernel {mach['kernel']}; results in {os.path.relpath(outdir, ROOT)}/", flush=True)
    runner = Runner(outdir, None if quick else FULL_BUDGET_S)
    runner.skipped += limit_notes
    try:
        results, capacity = run_plan(plan, runner, quick)
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e or 'Ctrl-C'}): stopping every process started", flush=True)
        stop_all()
        sys.exit(130)
    finally:
        stop_all()
    summary = build_summary(results, capacity, runner, mach, date, quick, sys.argv[1:])
    if issue7:
        summary.update(mode="issue7", label=issue7, commit=git_head(),
                       server_commit=git_head("src", "shards", "include", "bench/floor"),
                       command="/usr/bin/python3 bench/run/bench.py " + " ".join(sys.argv[1:]),
                       compare=compare and os.path.relpath(compare, ROOT))
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print_table(summary)
    if issue7:
        issue7_write(outdir, summary, compare)
        print(f"wrote {os.path.relpath(outdir, ROOT)}/README.md", flush=True)
    if not quick and not args.no_docs:
        plots = write_plots(summary, outdir)
        write_markdown(summary, outdir, plots)
        print(f"wrote docs/benchmarks.md" + "".join(f", docs/{p}" for p in plots), flush=True)
    print(f"results: {os.path.relpath(outdir, ROOT)}/summary.json", flush=True)
    bad = [f"{k} {kind}" for k, by in results.items() for kind, v in by.items() if not v]
    bad += [f"capacity {kind}" for s in plan if s.get("capacity") for kind in s["servers"]
            if kind not in capacity]
    if bad:
        print("some steps produced no result: " + ", ".join(sorted(set(bad))), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
