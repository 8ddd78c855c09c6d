"""pytest harness: start the real build/plaza on 127.0.0.1 for each test.

`plaza` is a factory fixture: `srv = plaza("--tick-hz", "60")` or
`srv = plaza(tick_hz=60, max_speed=0)` starts a server on a free port with
--workers 2 (overridable) plus the given flags, and waits until GET /healthz
answers 200. At teardown every server started gets SIGTERM and must exit 0
within 5 s: a crash or a hang fails the test. The server's output is kept in
a temp file and attached to the report of a failing test.

Under CI=true a skipped test fails instead: `make test` installs every tool
the suite uses (the Makefile's TEST_DEBS), so a skip for a missing tool
there means a broken install step, not a test to pass over. A skip that is
about the machine rather than a tool (no root for network namespaces) says
so with a reason starting "machine:" and stays a skip.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLAZA_BIN = os.environ.get("PLAZA_BIN", os.path.join(ROOT, "build", "plaza"))

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
SANITIZER_MARKS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                   "ERROR: LeakSanitizer", "runtime error:")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def flags_from(args, kwargs):
    out = [str(a) for a in args]
    for k, v in kwargs.items():
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


class PlazaServer:
    """One running build/plaza process."""

    def __init__(self, flags):
        self.host = "127.0.0.1"
        self.flags = flags
        self.proc = None
        self.port = None
        fd, self.log_path = tempfile.mkstemp(prefix="plaza-", suffix=".log")
        os.close(fd)
        self.returncode = None
        self._final_log = None

    # URLs
    def ws_url(self, path="/ws"):
        return f"ws://{self.host}:{self.port}{path}"

    def http_url(self, path):
        return f"http://{self.host}:{self.port}{path}"

    def read_log(self):
        if self._final_log is not None:
            return self._final_log
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"<cannot read log: {e}>"

    def log_tail(self, n=60):
        lines = self.read_log().splitlines()
        return "\n".join(lines[-n:])

    def sanitizer_report(self, n=200):
        """The first sanitizer report in the log (TSan, ASan, UBSan), or None.
        A report can be longer than the log tail and is the part that matters."""
        lines = self.read_log().splitlines()
        for i, line in enumerate(lines):
            if any(mark in line for mark in SANITIZER_MARKS):
                return "\n".join(lines[i:i + n])
        return None

    def start(self):
        if not os.access(PLAZA_BIN, os.X_OK):
            pytest.fail(f"{PLAZA_BIN} is missing: run `make -C {ROOT} build/plaza` first",
                        pytrace=False)
        for _attempt in range(3):
            self.port = free_port()
            argv = [PLAZA_BIN, "--host", self.host, "--port", str(self.port)]
            if "--workers" not in self.flags:
                argv += ["--workers", "2"]
            argv += self.flags
            self.argv = argv
            with open(self.log_path, "ab") as log:
                log.write(("$ " + " ".join(argv) + "\n").encode())
                log.flush()
                # The flags say everything: no PLAZA_* from the caller's environment.
                env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=ROOT, env=env)
            if self._wait_healthy():
                return self
            if self.proc.poll() is not None and "in use" in self.read_log().lower():
                continue  # lost the race for the free port: try another one
            break
        rc = self.proc.poll()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        pytest.fail(f"plaza did not become healthy within {START_TIMEOUT}s "
                    f"(exit {rc}); argv: {' '.join(self.argv)}\n--- log ---\n{self.log_tail()}",
                    pytrace=False)

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.http_url("/healthz"), timeout=1) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.05)
        return False

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit; returns its code or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self):
        """SIGTERM (if still running) and the exit code; kills on a hang."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(STOP_TIMEOUT)
        if rc is None:
            self.proc.kill()
            self.proc.wait()
            return "hang"
        return rc


MACHINE_SKIP = "machine:"


def skip_reason(rep):
    """The reason of a skipped report (skip() and skipif() alike)."""
    text = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    return text[len("Skipped: "):] if text.startswith("Skipped: ") else text


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if (rep.skipped and not hasattr(rep, "wasxfail") and os.environ.get("CI") == "true"
            and not skip_reason(rep).startswith(MACHINE_SKIP)):
        rep.outcome = "failed"
        rep.longrepr = (f"skipped under CI=true: {skip_reason(rep)}\n"
                        "`make test` installs every tool this suite needs (the Makefile's "
                        "TEST_DEBS): a skip here hides a broken install step")
    if rep.failed:
        for srv in getattr(item, "_plaza_servers", []):
            rep.sections.append((f"plaza log (port {srv.port})", srv.read_log()))


@pytest.fixture
def plaza(request):
    servers = []
    request.node._plaza_servers = servers

    def factory(*args, **kwargs):
        srv = PlazaServer(flags_from(args, kwargs))
        servers.append(srv)
        return srv.start()

    yield factory

    problems = []
    for srv in servers:
        rc = srv.stop()
        if rc == "hang":
            problems.append(f"plaza (port {srv.port}) did not exit within {STOP_TIMEOUT}s "
                            f"of SIGTERM (killed)")
        elif rc != 0:
            what = f"signal {-rc}" if isinstance(rc, int) and rc < 0 else f"code {rc}"
            problems.append(f"plaza (port {srv.port}) exited with {what}, wanted 0")
    for srv in servers:
        srv._final_log = srv.read_log()
        try:
            os.unlink(srv.log_path)
        except OSError:
            pass
    if problems:
        pytest.fail("\n".join(problems) + "\n--- log tail (or sanitizer report) ---\n" +
                    "\n\n".join(s.sanitizer_report() or s.log_tail() for s in servers),
                    pytrace=False)
