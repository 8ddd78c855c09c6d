"""TLS: wss:// and https:// on the same port (--tls-cert / --tls-key).

Each test makes its own certificate with the openssl command line, starts
plaza with it and talks to it with real clients: Python's websockets over
ssl, urllib over https, and `openssl s_client`. Guards: the protocol works
unchanged over TLS, TLS 1.3 is accepted and 1.1 refused, ALPN picks
http/1.1, a connection that moves between workers keeps its TLS session,
SIGHUP swaps the certificate for new connections without dropping open
ones (and a broken renewal keeps the old), and bad files stop the start
with exit code 2.
"""

import asyncio
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from conftest import PLAZA_BIN, ROOT, PlazaServer, flags_from
from plaza_client import CHAT, TIMEOUT, Client, async_test, shard_of

FAST_CHAT = dict(chat_rate=1000, chat_burst=1000, abuse_limit=100000)


def make_cert(dirpath, cn="plaza-test"):
    """A self-signed P-256 certificate for 127.0.0.1; (cert, key) paths."""
    os.makedirs(dirpath, exist_ok=True)
    cert, key = os.path.join(dirpath, "cert.pem"), os.path.join(dirpath, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def fingerprint(pem_path):
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def client_ctx(cafile=None):
    """Verifies against cafile; without one, accepts any certificate (the
    tests that compare fingerprints look at what was presented)."""
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TlsPlaza(PlazaServer):
    def __init__(self, flags, cert, key):
        super().__init__(flags + ["--tls-cert", cert, "--tls-key", key])
        self.cert, self.key = cert, key

    def ws_url(self, path="/ws"):
        return f"wss://{self.host}:{self.port}{path}"

    def http_url(self, path):
        return f"https://{self.host}:{self.port}{path}"

    def ctx(self):
        return client_ctx(self.cert)

    def _wait_healthy(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _ = https_get(self, "/healthz", ctx=client_ctx(), timeout=1)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False


def https_get(srv, path, ctx=None, timeout=TIMEOUT):
    with urllib.request.urlopen(srv.http_url(path), context=ctx or srv.ctx(),
                                timeout=timeout) as r:
        return r.status, r.read().decode()


def presented_fingerprint(srv):
    with socket.create_connection((srv.host, srv.port), timeout=TIMEOUT) as raw:
        with client_ctx().wrap_socket(raw) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()


@pytest.fixture
def tls_plaza(plaza, request, tmp_path):
    """Like `plaza`, with a fresh certificate; the plaza fixture's teardown
    stops these servers too (exit 0 wanted)."""
    def factory(*args, **kwargs):
        cert, key = make_cert(str(tmp_path / f"cert{len(request.node._plaza_servers)}"))
        srv = TlsPlaza(flags_from(args, kwargs), cert, key)
        request.node._plaza_servers.append(srv)
        return srv.start()
    return factory


async def wss(srv, room=None, name=None):
    return await Client.joined(srv, room, name=name, ssl=srv.ctx())


def rooms_on_both_shards(workers=2):
    names, i = {}, 0
    while len(names) < workers:
        names.setdefault(shard_of(f"tls-room-{i}", workers), f"tls-room-{i}")
        i += 1
    return names[0], names[1]


@async_test
async def test_wss_hello_join_chat(tls_plaza):
    srv = tls_plaza(**FAST_CHAT)
    a = await wss(srv, "lounge", name="alice")
    b = await wss(srv, "lounge", name="bob")
    await a.send(5, "over tls")
    for c in (a, b):
        m = await c.wait_for(CHAT, lambda m: m[4] == "over tls")
        assert m[2:4] == [a.id, "alice"], f"CHAT {m!r}"
    # A burst larger than TLS records (16 KiB) arrives whole and in order.
    texts = [f"{i:03d}" + "x" * 470 for i in range(80)]
    for t in texts:
        await b.send(5, t)
    for t in texts:
        m = await a.wait_for(CHAT, keep=True)
        assert m[4] == t, f"CHAT {m[4][:8]!r}, wanted {t[:8]!r}"
    await a.ping()
    await a.close()
    await b.close()


def test_https_endpoints_and_plain_http_refused(tls_plaza):
    srv = tls_plaza()
    status, body = https_get(srv, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    status, body = https_get(srv, "/metrics")
    assert status == 200 and "plaza_connections" in body, body[:200]
    # Plain HTTP on the TLS port gets no HTTP answer.
    with socket.create_connection((srv.host, srv.port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
    assert b"HTTP/1.1" not in data, data[:200]


def s_client(srv, *flags):
    r = subprocess.run(["openssl", "s_client", "-connect", f"{srv.host}:{srv.port}",
                        "-servername", "localhost", *flags],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout + r.stderr


def test_tls13_accepted_tls11_refused_alpn_http11(tls_plaza):
    srv = tls_plaza()
    rc, out = s_client(srv, "-tls1_3", "-alpn", "h2,http/1.1")
    assert rc == 0, out
    assert "TLSv1.3" in out and "ALPN protocol: http/1.1" in out, out
    rc, out = s_client(srv, "-tls1_2")
    assert rc == 0 and "TLSv1.2" in out, out
    # SECLEVEL=0 so that the client really offers TLS 1.1: the server refuses.
    rc, out = s_client(srv, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert rc != 0 and "alert protocol version" in out, out
    # The same from Python's ssl: ALPN picks http/1.1 among the offers.
    ctx = srv.ctx()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((srv.host, srv.port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() == "TLSv1.3", s.version()
            assert s.selected_alpn_protocol() == "http/1.1"
            assert s.compression() is None


@async_test
async def test_wss_client_moving_between_workers_keeps_working(tls_plaza):
    srv = tls_plaza(workers=2, **FAST_CHAT)
    r0, r1 = rooms_on_both_shards()
    a = await wss(srv, r0, name="mover")
    b0 = await wss(srv, r0, name="stay0")
    b1 = await wss(srv, r1, name="stay1")
    for hop in range(6):
        room, peer = (r1, b1) if hop % 2 == 0 else (r0, b0)
        # Chat arriving while the move is under way must not be lost.
        await peer.send(5, f"before {hop}")
        await a.join(room)
        await peer.send(5, f"after {hop}")
        await a.wait_for(CHAT, lambda m, h=hop: m[4] == f"after {h}")
        await a.send(5, f"from mover {hop}")
        await peer.wait_for(CHAT, lambda m, h=hop: m[4] == f"from mover {h}")
    await a.ping()
    for c in (a, b0, b1):
        await c.close()


async def log_says(srv, text):
    deadline = time.monotonic() + TIMEOUT
    while text not in srv.read_log():
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{srv.log_tail()}"
        await asyncio.sleep(0.05)


@async_test
async def test_sighup_reloads_certificate_without_dropping_clients(tls_plaza):
    srv = tls_plaza(**FAST_CHAT)
    old_fp = fingerprint(srv.cert)
    assert presented_fingerprint(srv) == old_fp
    a = await Client.joined(srv, "renew", name="a", ssl=client_ctx())
    b = await Client.joined(srv, "renew", name="b", ssl=client_ctx())

    # certbot-style renewal: new files in place, then SIGHUP.
    new_cert, new_key = make_cert(os.path.dirname(srv.cert) + "-next", cn="renewed")
    os.replace(new_key, srv.key)
    os.replace(new_cert, srv.cert)
    new_fp = fingerprint(srv.cert)
    assert new_fp != old_fp
    srv.signal(signal.SIGHUP)
    await log_says(srv, "TLS certificate reloaded")

    assert presented_fingerprint(srv) == new_fp
    await a.send(5, "still here")
    await b.wait_for(CHAT, lambda m: m[4] == "still here")
    c = await Client.joined(srv, "renew", name="c", ssl=client_ctx())
    await c.send(5, "new cert")
    for x in (a, b):
        await x.wait_for(CHAT, lambda m: m[4] == "new cert")

    # A broken renewal (a truncated certificate) keeps the current one.
    with open(srv.cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnope\n")
    srv.signal(signal.SIGHUP)
    await log_says(srv, "TLS reload failed")
    assert presented_fingerprint(srv) == new_fp
    await b.send(5, "after the failed reload")
    await a.wait_for(CHAT, lambda m: m[4] == "after the failed reload")
    for x in (a, b, c):
        await x.close()


def run_plaza(*flags):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAZA_")}
    return subprocess.run([PLAZA_BIN, "--host", "127.0.0.1", "--port", "0", *flags],
                          capture_output=True, text=True, timeout=10, env=env)


def test_refuses_to_start_with_bad_files(tmp_path):
    cert, key = make_cert(str(tmp_path / "a"))
    _, other_key = make_cert(str(tmp_path / "b"))
    cases = [
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", key], "missing.pem"),
        (["--tls-cert", cert, "--tls-key", other_key], "does not match"),
        (["--tls-cert", key, "--tls-key", key], "not a PEM certificate"),
        (["--tls-cert", cert], "go together"),
    ]
    unreadable = tmp_path / "unreadable.pem"
    unreadable.write_text(open(key).read())
    unreadable.chmod(0)
    if os.geteuid() != 0:  # root reads anything
        cases.append((["--tls-cert", cert, "--tls-key", str(unreadable)], "Permission denied"))
    for flags, said in cases:
        r = run_plaza(*flags)
        assert r.returncode == 2, f"{flags}: exit {r.returncode}\n{r.stderr}"
        assert said in r.stderr, f"{flags}: {r.stderr!r}"


# --- issue 15: a TLS 1.3 KeyUpdate flood from a client that never reads -----

def key_update_flood(srv, seconds):
    """Runs build/tests/integration/c_keyupdate against srv for `seconds`:
    KeyUpdates asking for one in return, a pong now and then, no reads.
    Returns its counts: key_updates, pongs, closed (1: plaza ended it)."""
    exe = os.path.join(ROOT, "build", "tests", "integration", "c_keyupdate")
    assert os.access(exe, os.X_OK), f"{exe} is missing: run `make integration`"
    p = subprocess.run([exe, srv.host, str(srv.port), str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 15)
    assert p.returncode == 0, p.stdout + p.stderr
    return {k: float(v) for k, v in (kv.split("=") for kv in p.stdout.split())}


def https_metric(srv, line_start):
    _, body = https_get(srv, "/metrics", ctx=client_ctx())
    for line in body.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"/metrics has no {line_start}")


@pytest.mark.parametrize("limit", ["key_update_limit", "held_bound"])
@async_test
async def test_key_update_flood_from_non_reader_keeps_memory_bounded(tls_plaza, monkeypatch,
                                                                      limit):
    """Each KeyUpdate (update_requested) makes OpenSSL write an answer; the
    TLS stream held every answer a client never read (+134 MiB in 150 s with
    --max-outbound 1024) and moved all of it on every write. Now: more than
    --tls-key-updates within 10 s closes 4003; without that limit, what TLS
    holds counts against --max-outbound and passing it closes 4004. Either
    way plaza's memory stays flat and it serves the others meanwhile."""
    from test_hostile import vm_rss_kb
    # ASan's quarantine of freed blocks would look like growth.
    monkeypatch.setenv("ASAN_OPTIONS",
                       (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0").lstrip(":"))
    flags = dict(max_outbound=1024, sndbuf=4096, workers=1)
    if limit == "held_bound":
        flags["tls_key_updates"] = 0
    srv = tls_plaza(**flags)
    other = await wss(srv, "lounge", name="other")
    before = vm_rss_kb(srv.proc.pid)
    got = key_update_flood(srv, 6)
    grown_kb = vm_rss_kb(srv.proc.pid) - before
    assert got["closed"] == 1, f"plaza kept the flooding connection open: {got}"
    code = "4003" if limit == "key_update_limit" else "4004"
    assert https_metric(srv, f'plaza_closes_total{{code="{code}"}}') == 1
    # Unfixed, 5 s of this grew plaza by 8 MB (release build) and kept going.
    assert grown_kb < 3 * 1024, \
        f"plaza's RSS grew by {grown_kb / 1024:.1f} MB under {got}"
    await other.ping()
    await other.close()
