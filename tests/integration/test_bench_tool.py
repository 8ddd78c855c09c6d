"""Functional checks of the load generator (not timings).

build/plaza-bench runs for a few seconds against a real plaza (the `plaza`
fixture of conftest.py) and must report that every client connected, every
move reached every sampled member of its room, and nothing errored or
closed unexpectedly. A second check drives build/plaza-floor the same way,
so `make bench` can rely on the floor answering the bench.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import ROOT, free_port

BENCH_BIN = os.environ.get("PLAZA_BENCH_BIN", os.path.join(ROOT, "build", "plaza-bench"))
FLOOR_BIN = os.path.join(ROOT, "build", "plaza-floor")
CLIENTS = 100

# Close codes a run may end with on its own: the bench closing its clients
# normally when the duration is over.
EXPECTED_CLOSES = {"1000"}


def need_bench():
    if not os.access(BENCH_BIN, os.X_OK):
        pytest.fail(f"{BENCH_BIN} is missing: run `make -C {ROOT}` first", pytrace=False)


def run_bench(url, tmp_path, *extra):
    out = tmp_path / "bench.json"
    argv = [BENCH_BIN, "--url", url, "--scenario", "social", "--duration", "3", "--ramp", "1",
            "--clients", str(CLIENTS), "--json", str(out), *extra]
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    report = f"$ {' '.join(argv)}\nexit {r.returncode}\n--- stdout ---\n{r.stdout[-4000:]}" \
             f"\n--- stderr ---\n{r.stderr[-4000:]}"
    assert r.returncode == 0, report
    assert out.exists(), "no JSON written\n" + report
    with open(out) as f:
        return json.load(f), report


def check_clean_run(d, report):
    conn = d["connections"]
    assert conn["attempted"] == CLIENTS, report
    assert conn["made"] == conn["attempted"], f"connections {conn}\n{report}"
    assert conn["failed"] == 0, report
    assert d["moves_sent"] > 0, report
    assert d["state_entries_received"] > 0, report
    # The bench counts several moves coalesced into one tick's STATE entry
    # (latest wins) as delivered, so the ratio is exactly 1.0 when nothing
    # is lost. Allow 0.999 only for a move sent in the last instant of the
    # window whose STATE arrives after it closes.
    assert d["moves_delivered_ratio"] >= 0.999, f"delivered {d['moves_delivered_ratio']}\n{report}"
    assert d["moves_delivered_ratio"] <= 1.0001, report
    errors = {k: v for k, v in (d.get("errors_by_code") or {}).items() if v}
    assert not errors, f"errors by code {errors}\n{report}"
    closes = {k: v for k, v in (d.get("closes_by_code") or {}).items()
              if v and k not in EXPECTED_CLOSES}
    assert not closes, f"unexpected closes {closes}\n{report}"
    assert d["latency_ms"]["move"]["samples"] > 0, report


def test_bench_against_plaza(plaza, tmp_path):
    need_bench()
    srv = plaza(workers=1)
    d, report = run_bench(srv.ws_url(), tmp_path)
    assert d["tool"] == "plaza-bench" and d["proto"] == "plaza", report
    check_clean_run(d, report)


def test_bench_event_with_views_against_plaza(plaza, tmp_path):
    """The event scenario: one room, VIEW radius and STATE_C; every move a
    sampled member was sure to see (well inside its view) reached it, the
    compact entries were read (a few bytes each) and members came and
    went from views (AWAY)."""
    need_bench()
    srv = plaza(workers=1)
    d, report = run_bench(srv.ws_url(), tmp_path, "--scenario", "event", "--area", "100",
                          "--view-radius", "20")
    assert d["scenario"] == "event" and d["params"]["compact"] is True, report
    assert d["params"]["room_size"] == CLIENTS, report
    check_clean_run(d, report)
    assert d["decode_errors"] == 0, report
    assert 2 <= d["state_bytes_per_entry"] < 10, report
    assert d["aways"] > 0, report


def test_bench_against_floor(tmp_path):
    need_bench()
    if not os.access(FLOOR_BIN, os.X_OK):
        pytest.fail(f"{FLOOR_BIN} is missing: run `make -C {ROOT}` first", pytrace=False)
    port = free_port()
    log = tmp_path / "floor.log"
    with open(log, "wb") as lf:
        floor = subprocess.Popen([FLOOR_BIN, "--host", "127.0.0.1", "--port", str(port),
                                  "--tick-hz", "30", "--room-size", "50"],
                                 stdout=lf, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 5
        while True:
            assert floor.poll() is None, "plaza-floor exited at start:\n" + log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "plaza-floor does not listen"
                time.sleep(0.05)
        d, report = run_bench(f"ws://127.0.0.1:{port}/ws", tmp_path, "--server-pid",
                              str(floor.pid))
        report += "\n--- floor log ---\n" + log.read_text(errors="replace")
        assert floor.poll() is None, "plaza-floor died during the run\n" + report
        check_clean_run(d, report)
        assert d["server"]["cpu_s"] >= 0, report
    finally:
        if floor.poll() is None:
            floor.terminate()
        try:
            rc = floor.wait(5)
        except subprocess.TimeoutExpired:
            floor.kill()
            floor.wait()
            rc = "hang"
    assert rc == 0, f"plaza-floor exited with {rc} on SIGTERM"
