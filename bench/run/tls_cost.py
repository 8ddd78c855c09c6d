#!/usr/bin/python3
"""What TLS costs plaza: its CPU per 1,000 clients in the `social` scenario
with and without TLS, at the same load.

plaza-bench speaks only ws://, so Debian's haproxy (mode tcp) stands in front
of plaza on the client side: bench -> haproxy (plain) -> plaza, where
haproxy's leg to plaza is plain TCP ("proxy") or TLS 1.3 with ALPN http/1.1
("proxy-tls"). Both go through the same proxy so that the only difference
is TLS; "direct" (bench -> plaza, as `make bench` runs) is there for
reference. Only plaza's CPU is measured (--server-pid), pinned alone on
CPU 0 with --workers 1; bench and haproxy share CPU 1. Runs are
interleaved, three each; figures are medians.

    /usr/bin/python3 bench/run/tls_cost.py [--clients 1000] [--runs 3]
                                           [--plaza BUILD/plaza] [--modes proxy,proxy-tls]

Prints a Markdown table and the commands; run JSON goes under
bench/results/tls-<date>/.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAZA = os.path.join(ROOT, "build", "plaza")
BENCH = os.path.join(ROOT, "build", "plaza-bench")
MODES = ["direct", "proxy", "proxy-tls"]
TICKS = os.sysconf("SC_CLK_TCK")


def self_signed(tmp):
    """A throwaway P-256 certificate and key in tmp: (cert path, key path)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=bench"], check=True, capture_output=True)
    return cert, key


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])  # utime, stime


def haproxy_cfg(path, listen, target, tls):
    with open(path, "w") as f:
        f.write(f"""global
    maxconn 8000
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen ws
    bind 127.0.0.1:{listen}
    server plaza 127.0.0.1:{target}{" ssl verify none alpn http/1.1" if tls else ""}
""")


def one_run(mode, r, args, tmp, outdir, cert, key, plaza=PLAZA, tag=""):
    port = free_port()
    argv = ["taskset", "-c", "0", plaza, "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--tick-hz", "30", "--log-level", "warn"]
    if mode == "proxy-tls":
        argv += ["--tls-cert", cert, "--tls-key", key]
    plaza = subprocess.Popen(argv)
    proxy = None
    cmds = {"plaza": " ".join(argv)}
    try:
        wait_port(port)
        url_port = port
        # The machine is shared: another process may take a free port
        # before haproxy binds it; then haproxy exits and we try another.
        for attempt in range(5 if mode != "direct" else 0):
            url_port = free_port()
            cfg = os.path.join(tmp, f"haproxy-{mode}.cfg")
            haproxy_cfg(cfg, url_port, port, mode == "proxy-tls")
            pargv = ["taskset", "-c", "1", "haproxy", "-db", "-f", cfg]
            proxy = subprocess.Popen(pargv, stdout=subprocess.DEVNULL)
            try:
                wait_port(url_port)
                break
            except RuntimeError:
                if proxy.poll() is None or attempt == 4:
                    raise
        if proxy:
            cmds["haproxy"] = " ".join(pargv)
            cmds["haproxy_server_line"] = open(cfg).read().strip().splitlines()[-1].strip()
        out = os.path.join(outdir, f"social-{args.clients}-{tag}{mode}-r{r}.json")
        bargv = ["taskset", "-c", "1", BENCH, "--url", f"ws://127.0.0.1:{url_port}/ws",
                 "--proto", "plaza", "--scenario", "social", "--threads", "1",
                 "--ramp", str(args.ramp), "--duration", str(args.duration),
                 "--server-pid", str(plaza.pid), "--json", out, "--clients", str(args.clients)]
        cmds["bench"] = " ".join(bargv)
        load = os.getloadavg()
        bench = subprocess.Popen(bargv, stdout=subprocess.DEVNULL)
        # user/kernel split of plaza over the measured window, sampled here
        time.sleep(args.ramp + 0.5)
        u0, s0 = cpu_ticks(plaza.pid)
        hp0 = sum(cpu_ticks(proxy.pid)) if proxy else 0
        t0 = time.monotonic()
        time.sleep(args.duration - 1.0)
        u1, s1 = cpu_ticks(plaza.pid)
        hp1 = sum(cpu_ticks(proxy.pid)) if proxy else 0
        window = time.monotonic() - t0
        bench.wait(timeout=args.ramp + args.duration + 60)
        with open(out) as f:
            d = json.load(f)
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait()
        plaza.send_signal(signal.SIGTERM)
        plaza.wait(timeout=10)
    made = d["connections"]["made"]
    cpu = d["server"]["cpu_pct"]
    return {
        "mode": mode, "run": r, "clients": made, "cpu_pct": cpu,
        "cpu_per_1000": cpu * 1000.0 / made,
        "user_pct": 100.0 * (u1 - u0) / TICKS / window,
        "sys_pct": 100.0 * (s1 - s0) / TICKS / window,
        "haproxy_pct": 100.0 * (hp1 - hp0) / TICKS / window if proxy else None,
        "p99": d["latency_ms"]["move"]["p99"],
        "delivered": d["moves_delivered_ratio"],
        "bench_cpu_pct": d.get("bench", {}).get("cpu_pct"),
        "loadavg_at_start": load,
        "commands": cmds,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ramp", type=int, default=5)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--plaza", action="append",
                    help="plaza binaries (build/plaza); several are interleaved run by run")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="paths to run, of " + ",".join(MODES))
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m in MODES]
    binaries = [os.path.abspath(b) for b in (args.plaza or [PLAZA])]
    tags = {b: (f"b{i}-" if len(binaries) > 1 else "") for i, b in enumerate(binaries)}
    name = lambda b: os.path.relpath(b, ROOT)
    outdir = os.path.join(ROOT, "bench", "results", "tls-" + time.strftime("%Y-%m-%d-%H%M"))
    os.makedirs(outdir, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(tmp)
        for r in range(1, args.runs + 1):
            for b in binaries:
                for mode in modes:
                    res = one_run(mode, r, args, tmp, outdir, cert, key, b, tags[b])
                    res["plaza"] = name(b)
                    print(f"{name(b)} {mode:<10} r{r}: plaza {res['cpu_pct']:.1f}% "
                          f"({res['user_pct']:.1f} user, {res['sys_pct']:.1f} kernel), "
                          f"{res['cpu_per_1000']:.1f}/1000 clients, p99 {res['p99']:.1f} ms, "
                          f"delivered {res['delivered']:.4f}, "
                          f"load {res['loadavg_at_start'][0]:.2f}", flush=True)
                    results.append(res)
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(results, f, indent=1)

    def med(b, mode, k):
        return statistics.median(x[k] for x in results if x["mode"] == mode and x["plaza"] == b)

    print("\n| plaza | path | plaza CPU per 1,000 clients, % of a core | user / kernel % | "
          "p99 move latency, ms | moves delivered | haproxy CPU % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for b in map(name, binaries):
        for mode in modes:
            hp = "" if mode == "direct" else f"{med(b, mode, 'haproxy_pct'):.1f}"
            print(f"| `{b}` | {mode} | {med(b, mode, 'cpu_per_1000'):.1f} | "
                  f"{med(b, mode, 'user_pct'):.1f} / {med(b, mode, 'sys_pct'):.1f} | "
                  f"{med(b, mode, 'p99'):.1f} | {med(b, mode, 'delivered'):.4f} | {hp} |")
    if "proxy" in modes and "proxy-tls" in modes:
        for b in map(name, binaries):
            print(f"\n`{b}`: TLS / plain through the same proxy: "
                  f"{med(b, 'proxy-tls', 'cpu_per_1000') / med(b, 'proxy', 'cpu_per_1000'):.2f}x; "
                  f"user time alone: {med(b, 'proxy-tls', 'user_pct'):.1f} vs "
                  f"{med(b, 'proxy', 'user_pct'):.1f} % of a core")
    print(f"results: {os.path.relpath(outdir, ROOT)}")


if __name__ == "__main__":
    main()
