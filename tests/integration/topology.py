"""The docker/compose.yml topology as local processes: a real redis-server,
Debian's haproxy running docker/haproxy.cfg rewritten for loopback, and plaza
nodes. Used by test_cluster_topology.py and test_docker_files.py.

Every process is started with its output in a temp file and must be stopped
with .stop() (the fixtures do it in teardown, pass or fail).
"""

import base64
import csv
import functools
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import PLAZA_BIN, ROOT, free_port

HAPROXY_CFG = os.path.join(ROOT, "docker", "haproxy.cfg")
# haproxy connects to the plaza nodes from this address, which the nodes
# trust for its PROXY header (PLAZA_TRUSTED_PROXIES); the tests' own
# clients come from 127.0.0.1 and elsewhere in 127/8.
PROXY_SOURCE = "127.0.0.2"
STATS_USER, STATS_PASSWORD = "admin", "stats-pa55-for-tests"


def node_flags():
    """What a plaza node behind docker/haproxy.cfg runs with (as the compose
    file's PLAZA_PROXY_PROTOCOL and PLAZA_TRUSTED_PROXIES say)."""
    return ["--proxy-protocol", "on", "--trusted-proxies", f"{PROXY_SOURCE}/32"]


@functools.lru_cache(maxsize=None)
def plaza_help():
    r = subprocess.run([PLAZA_BIN, "--help"], capture_output=True, text=True, timeout=10)
    return r.stdout + r.stderr


def plaza_supports(flag):
    """True when `plaza --help` lists this flag (e.g. --redis, once the Redis
    bus lands)."""
    return re.search(r"(^|\s)" + re.escape(flag) + r"(\s|$)", plaza_help(), re.M) is not None


def need(exe):
    path = shutil.which(exe) or (f"/usr/sbin/{exe}" if os.access(f"/usr/sbin/{exe}", os.X_OK)
                                 else None)
    if path is None:
        pytest.skip(f"{exe} is not installed (make test-deps installs it)")
    return path


class Process:
    """A child process with its output in a temp file."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        fd, self.log_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        with os.fdopen(fd, "wb") as log:
            log.write(("$ " + " ".join(argv) + "\n").encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=ROOT,
                                         env=dict(os.environ, **(env or {})))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"<cannot read log: {e}>"

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cleanup(self):
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


def wait_until(pred, timeout, what, every=0.05):
    """Poll pred() until it returns something true; fail with `what` after
    timeout seconds. Returns pred's value."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})",
                pytrace=False)


# --- redis -----------------------------------------------------------------

class RedisServer(Process):
    def __init__(self, port=None):
        self.port = port or free_port()
        super().__init__("redis", [need("redis-server"), "--port", str(self.port),
                                   "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        wait_until(self.ping, 10, f"redis-server on port {self.port} to answer PING")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def ping(self):
        if not self.alive():
            pytest.fail(f"redis-server exited ({self.proc.returncode}):\n{self.log()}",
                        pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False


# --- haproxy ---------------------------------------------------------------

def loopback_haproxy_cfg(text, frontend_port, stats_port, server_ports, tls_port=None):
    """docker/haproxy.cfg rewritten to run on this machine, and nothing else
    changed (timeouts, checks, balance, PROXY v2 stay as shipped):

    - `bind :8080` (clients), `bind :8443` (TLS, when HAPROXY_TLS_CERT is
      set) and `bind :8404` (stats) become 127.0.0.1 on the given free ports;
    - the `resolvers docker` section goes: Docker's DNS at 127.0.0.11 does not
      exist here;
    - the `server-template` line becomes one `server` line per local plaza,
      named as the template would name them (plaza-1, plaza-2, ...) and with
      the template's options minus `resolvers X` and `init-addr X`, which only
      concern DNS, plus `source 127.0.0.2`: the address the nodes trust for
      the PROXY header, as compose's nodes trust haproxy's.

    Each rewrite must match exactly once, so a change to the shipped file that
    this function does not understand fails loudly instead of testing
    something else.
    """
    def sub_once(pattern, repl, s, flags=re.M):
        out, n = re.subn(pattern, repl, s, flags=flags)
        assert n == 1, f"haproxy.cfg: expected exactly one match of {pattern!r}, got {n}"
        return out

    text = sub_once(r"^(\s*bind\s+):8080\b", rf"\g<1>127.0.0.1:{frontend_port}", text)
    text = sub_once(r"^(\s*bind\s+):8443\b", rf"\g<1>127.0.0.1:{tls_port or free_port()}",
                    text)
    text = sub_once(r"^(\s*bind\s+):8404\b", rf"\g<1>127.0.0.1:{stats_port}", text)
    # The resolvers section: its header line and the indented lines after it.
    text = sub_once(r"^resolvers docker\n(?:[ \t]+.*\n|[ \t]*\n)*", "", text)

    m = re.search(r'^(\s*)server-template\s+(\S+)\s+"\$\{HAPROXY_SLOTS-(\d+)\}"\s+'
                  r"(\S+):(\d+)\s*(.*)$", text, re.M)
    assert m, "haproxy.cfg: no server-template line sized by HAPROXY_SLOTS"
    indent, prefix, count, _host, _port, opts = m.groups()
    assert len(server_ports) <= int(count), "more servers than the template's slots"
    words = opts.split()
    kept = []
    i = 0
    while i < len(words):
        if words[i] in ("resolvers", "init-addr"):
            i += 2  # the keyword and its argument
            continue
        kept.append(words[i])
        i += 1
    kept += ["source", PROXY_SOURCE]
    lines = [f"{indent}server {prefix}{n} 127.0.0.1:{p} {' '.join(kept)}".rstrip()
             for n, p in enumerate(server_ports, 1)]
    text = text[:m.start()] + "\n".join(lines) + text[m.end():]
    assert "resolvers" not in text and "127.0.0.11" not in text
    return text


class Haproxy(Process):
    """docker/haproxy.cfg on loopback, with the environment compose gives it
    (a stats password; a TLS certificate when tls_pem is given)."""

    def __init__(self, server_ports, tls_pem=None):
        exe = need("haproxy")
        self.port = free_port()
        self.stats_port = free_port()
        self.tls_port = free_port() if tls_pem else None
        fd, self.cfg_path = tempfile.mkstemp(prefix="haproxy-", suffix=".cfg")
        with os.fdopen(fd, "w") as f:
            f.write(loopback_haproxy_cfg(open(HAPROXY_CFG).read(), self.port,
                                         self.stats_port, server_ports, self.tls_port))
        env = {"HAPROXY_STATS_USER": STATS_USER, "HAPROXY_STATS_PASSWORD": STATS_PASSWORD,
               "HAPROXY_TLS_CERT": tls_pem or ""}
        r = subprocess.run([exe, "-c", "-f", self.cfg_path], capture_output=True, text=True,
                           env=dict(os.environ, **env))
        assert r.returncode == 0, f"rewritten haproxy.cfg is invalid:\n{r.stdout}{r.stderr}"
        # -db: stay in the foreground, so the process is ours to stop.
        super().__init__("haproxy", [exe, "-db", "-f", self.cfg_path], env=env)
        wait_until(self._stats_answer, 10, "haproxy's stats page")

    def cleanup(self):
        super().cleanup()
        try:
            os.unlink(self.cfg_path)
        except OSError:
            pass

    def ws_url(self, path="/ws"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def http_url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def wss_url(self, path="/ws"):
        return f"wss://127.0.0.1:{self.tls_port}{path}"

    def _stats_answer(self):
        if not self.alive():
            pytest.fail(f"haproxy exited ({self.proc.returncode}):\n{self.log()}", pytrace=False)
        try:
            self.stats()
            return True
        except (OSError, urllib.error.URLError):
            return False

    def stats(self):
        """The stats page as CSV: {server name: row} for backend `plaza`."""
        url = f"http://127.0.0.1:{self.stats_port}/;csv"
        req = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(
            f"{STATS_USER}:{STATS_PASSWORD}".encode()).decode()})
        with urllib.request.urlopen(req, timeout=2) as r:
            body = r.read().decode()
        rows = csv.DictReader(io.StringIO(body.lstrip("# ")))
        return {row["svname"]: row for row in rows
                if row["pxname"] == "plaza" and row["svname"] not in ("BACKEND", "FRONTEND")}

    def statuses(self):
        """{server name: (status, last check)}, e.g. {'plaza-1': ('UP', 'L7OK')};
        status is 'UP 1/2' while going down, 'DOWN 1/2' while coming back."""
        return {name: (row["status"], row["check_status"]) for name, row in self.stats().items()}

    def wait_statuses(self, want, timeout, every=0.1):
        """Wait until every server in `want` ({name: 'UP'|'DOWN'}) has exactly
        that status, decided by a completed health check (not the initial
        state haproxy assumes before its first check)."""
        seen = {}

        def ok():
            seen.update(self.statuses())
            good = all(n in seen and seen[n][0] == st and seen[n][1] not in ("", "INI")
                       for n, st in want.items())
            return dict(seen) if good else False
        try:
            return wait_until(ok, timeout, f"haproxy to see {want}", every=every)
        except pytest.fail.Exception:
            pytest.fail(f"haproxy did not see {want} within {timeout}s; it sees {seen}",
                        pytrace=False)


def http_get(url, timeout=5):
    """(status, body) of GET url; never raises on HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
