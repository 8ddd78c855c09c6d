"""Cluster test support: a real redis-server on a free loopback port, a
tiny RESP client to look inside it, and helpers to start plaza nodes that
share it.

`redis_server` is a fixture: a fresh redis-server (no persistence) per
test, killed at teardown. `RedisServer.cmd("INFO", "commandstats")` sends
one command and returns the decoded reply. `nodes(plaza, redis, 2)` starts
two plaza processes with --redis pointing at it.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import free_port

REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"


class RespError(Exception):
    pass


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_read_reply(f) for _ in range(n)]
    raise RespError(f"unexpected reply {line!r}")


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RedisServer:
    def __init__(self, host="127.0.0.1", port=None, password=None):
        self.host = host
        self.port = port or free_port()
        self.password = password
        self.proc = None
        fd, self.log_path = tempfile.mkstemp(prefix="redis-", suffix=".log")
        os.close(fd)

    def url(self, db=None):
        auth = f":{self.password}@" if self.password else ""
        tail = f"/{db}" if db is not None else ""
        return f"redis://{auth}{self.host}:{self.port}{tail}"

    def start(self, netns=None, bind=None):
        argv = [REDIS_BIN, "--port", str(self.port), "--bind", bind or self.host,
                "--save", "", "--appendonly", "no", "--protected-mode", "no",
                "--logfile", self.log_path]
        if self.password:
            argv += ["--requirepass", self.password]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.cmd("PING") == "PONG":
                    return self
            except (OSError, RespError, ConnectionError):
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on {self.port}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def cmd(self, *args, timeout=5):
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            pre = [["AUTH", self.password]] if self.password else []
            for a in pre + [list(args)]:
                s.sendall(_encode(a))
            reply = None
            for _ in pre + [args]:
                reply = _read_reply(f)
            return reply

    def commandstats(self):
        """{command: calls} from INFO commandstats."""
        info = self.cmd("INFO", "commandstats").decode()
        out = {}
        for line in info.splitlines():
            if line.startswith("cmdstat_"):
                name, rest = line[len("cmdstat_"):].split(":", 1)
                fields = dict(kv.split("=") for kv in rest.split(","))
                out[name] = int(fields["calls"])
        return out


@pytest.fixture
def redis_server():
    r = RedisServer()
    r.start()
    yield r
    r.kill()
    try:
        os.unlink(r.log_path)
    except OSError:
        pass


def nodes(plaza, redis, n, *args, **kwargs):
    """n plaza nodes sharing `redis` (--redis URL), each with the flags given."""
    return [plaza("--redis", redis.url(), *args, **kwargs) for _ in range(n)]


def wait_until(pred, timeout, what, step=0.05):
    """Polls pred() until true; fails with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"not within {timeout}s: {what}")


def metric(server, name):
    """Value of an unlabelled metric from /metrics."""
    from plaza_client import http_get
    status, _, body = http_get(server, "/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def two_nodes_sharing(plaza, redis, room, *args, **kwargs):
    """Two nodes, alice on the first and bob on the second, both in `room`,
    alice having seen bob join: (a, b, alice, bob)."""
    from plaza_client import JOINED, Client
    a, b = nodes(plaza, redis, 2, *args, **kwargs)
    alice = await Client.joined(a, room, name="alice")
    bob = await Client.joined(b, room, name="bob")
    await alice.wait_for(JOINED, lambda m: m[1] == bob.id)
    return a, b, alice, bob
