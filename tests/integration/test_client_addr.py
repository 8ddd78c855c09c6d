"""Client addresses behind proxies (--proxy-protocol, --trusted-proxies).

A "proxy" here is this test, connecting from 127.0.0.2 (the trusted proxy
address of these servers) and writing a real PROXY protocol header, v1 or
v2, before HTTP or TLS; "clients" are the addresses it names. Guards:

- the header names the client for the admin API's session list (`addr`),
  the logs, the admin lockout and the upgrade rate (--connect-rate);
- a trusted address without the header is refused (and counted); an
  untrusted one cannot send a header (400) nor an X-Forwarded-For that
  counts; a LOCAL header (a proxy's health check) keeps the proxy's own
  address; a header that never completes is closed at the HELLO timeout;
- the header works in front of TLS (--tls-cert);
- X-Forwarded-For from a trusted proxy names the rightmost untrusted entry.

Addresses inside headers are data only: nothing is sent to them.
"""

import http.client
import json
import socket
import ssl
import struct
import time

import websockets

from plaza_client import Client, async_test, http_get
from test_tls import tls_plaza  # noqa: F401 - the fixture

TOKEN = "admin-t0ken-for-addresses"
PROXY = "127.0.0.2"  # the trusted proxy of these tests
OTHER = "127.0.0.3"  # an untrusted neighbour


def proxied(**kw):
    return dict(proxy_protocol="on", trusted_proxies=f"{PROXY}/32", admin_token=TOKEN, **kw)


def v1(client, port=40001, dst_port=8080):
    fam = "TCP6" if ":" in client else "TCP4"
    dst = "::1" if fam == "TCP6" else "127.0.0.1"
    return f"PROXY {fam} {client} {dst} {port} {dst_port}\r\n".encode()


SIG_V2 = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(client, port=40002, dst_port=8080, tlvs=b""):
    if ":" in client:
        addrs = socket.inet_pton(socket.AF_INET6, client) + socket.inet_pton(
            socket.AF_INET6, "::1")
        fam = 0x21
    else:
        addrs = socket.inet_aton(client) + socket.inet_aton("127.0.0.1")
        fam = 0x11
    body = addrs + struct.pack("!HH", port, dst_port) + tlvs
    return SIG_V2 + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


V2_LOCAL = SIG_V2 + bytes([0x20, 0x00, 0, 0])


def connect_from(srv, src, header=b""):
    s = socket.create_connection((srv.host, srv.port), source_address=(src, 0), timeout=5)
    if header:
        s.sendall(header)
    return s


def exchange(sock, request):
    """Send one HTTP request on sock; (status or None when closed, body)."""
    sock.sendall(request)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    sock.close()
    if not data:
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def get(path, token=None, extra=""):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: plaza\r\n{auth}{extra}\r\n".encode()


def sessions(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    conn.request("GET", "/admin/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    r = conn.getresponse()
    doc = json.loads(r.read())
    conn.close()
    assert r.status == 200, doc
    return {s["name"]: s for s in doc["sessions"]}


async def ws_through(srv, header, name, src=PROXY, ssl_ctx=None, **kw):
    """A client whose proxy sent `header`: connected, HELLO done."""
    sock = connect_from(srv, src, header)
    sock.setblocking(False)
    c = await Client.connect(srv, sock=sock, label=name, ssl=ssl_ctx,
                             server_hostname="127.0.0.1" if ssl_ctx else None, **kw)
    await c.hello(name=name)
    return c


def metric_line(srv, text):
    _, _, body = http_get(srv, "/metrics")
    for line in body.splitlines():
        if line.startswith(text):
            return float(line.split()[-1])
    raise AssertionError(f"{text} not in /metrics")


@async_test
async def test_proxy_header_names_the_client_in_sessions_and_logs(plaza):
    srv = plaza(**proxied(log_level="debug"))
    a = await ws_through(srv, v1("127.0.0.77", 51001), "via-v1")
    b = await ws_through(srv, v2("127.0.0.78", 51002, tlvs=b"\x01\x00\x02h2"), "via-v2")
    c = await ws_through(srv, v2("2001:db8::7", 51003), "via-v2-ipv6")
    d = await Client.joined(srv, name="direct")  # from 127.0.0.1: untrusted, no header
    await a.join("square")
    got = sessions(srv)
    assert got["via-v1"]["addr"] == "127.0.0.77", got
    assert got["via-v2"]["addr"] == "127.0.0.78", got
    assert got["via-v2-ipv6"]["addr"] == "2001:db8::7", got
    assert got["direct"]["addr"] == "127.0.0.1", got
    # The session keeps its address while it waits for a resume.
    await a.close()
    time.sleep(0.2)
    got = sessions(srv)
    assert got["via-v1"]["connected"] is False and got["via-v1"]["addr"] == "127.0.0.77"
    log = srv.read_log()
    assert "connection from 127.0.0.77:51001 through proxy 127.0.0.2:" in log, log
    assert "connection from [2001:db8::7]:51003 through proxy" in log
    for x in (b, c, d):
        await x.close()


def test_a_trusted_proxy_without_the_header_is_refused(plaza):
    srv = plaza(**proxied())
    for req in (get("/healthz"), b"\x16\x03\x01\x00\x05hello"):
        status, _ = exchange(connect_from(srv, PROXY), req)
        assert status is None, "a trusted address was served without a PROXY header"
    assert metric_line(srv, 'plaza_connections_refused_total{reason="proxy_header"}') == 2
    assert "must begin with a PROXY protocol header" in srv.read_log()
    # Clients elsewhere are served as they are (the harness's own /healthz
    # came from 127.0.0.1 already), and they cannot send a header: it is
    # not HTTP.
    status, _ = exchange(connect_from(srv, OTHER, v1("127.0.0.99")), get("/healthz"))
    assert status == 400
    status, _ = exchange(connect_from(srv, OTHER), get("/healthz"))
    assert status == 200


def test_local_header_keeps_the_proxy_address_and_a_slow_header_is_read(plaza):
    srv = plaza(**proxied(hello_timeout_ms=800))
    # LOCAL: the proxy's own health check, with the proxy's address.
    status, body = exchange(connect_from(srv, PROXY, V2_LOCAL), get("/readyz"))
    assert status == 200 and json.loads(body)["status"] == "ready"
    status, _ = exchange(connect_from(srv, PROXY, V2_LOCAL),
                         get("/admin/sessions", token="wrong"))
    assert status == 401
    assert "wrong token from 127.0.0.2 refused" in srv.read_log()
    # A header arriving a few bytes at a time, the request in the same
    # segment as its end.
    s = connect_from(srv, PROXY)
    hdr = v1("127.0.0.80")
    head, tail = hdr[:-3], hdr[-3:]
    for i in range(0, len(head), 5):
        s.sendall(head[i:i + 5])
        time.sleep(0.01)
    status, _ = exchange(s, tail + get("/admin/sessions", token="wrong"))
    assert status == 401
    assert "wrong token from 127.0.0.80 refused" in srv.read_log()
    # Half a header, then silence: closed at the HELLO timeout.
    s = connect_from(srv, PROXY, hdr[:10])
    t0 = time.monotonic()
    status, _ = exchange(s, b"")
    assert status is None and 0.5 < time.monotonic() - t0 < 4


@async_test
async def test_proxy_header_in_front_of_tls(tls_plaza):
    srv = tls_plaza(**proxied())
    ctx = srv.ctx()
    c = await ws_through(srv, v2("127.0.0.81", 52000), "tls-behind-proxy", ssl_ctx=ctx)
    await c.join("secure")
    await c.ping()
    # The admin API over https, directly (untrusted peer, no header).
    conn = http.client.HTTPSConnection(srv.host, srv.port, timeout=5, context=ctx)
    conn.request("GET", "/admin/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    got = {s["name"]: s for s in json.loads(conn.getresponse().read())["sessions"]}
    conn.close()
    assert got["tls-behind-proxy"]["addr"] == "127.0.0.81", got
    await c.close()
    # TLS from the proxy without the header is refused like plain text.
    s = connect_from(srv, PROXY)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    try:
        tls.wrap_socket(s, server_hostname="127.0.0.1").close()
        refused = False
    except (ssl.SSLError, OSError):
        refused = True
    assert refused


@async_test
async def test_x_forwarded_for_counts_from_trusted_proxies_only(plaza):
    srv = plaza(trusted_proxies=f"{PROXY}/32,127.0.0.4/32", admin_token=TOKEN)
    xff = "X-Forwarded-For: 127.0.0.66, 127.0.0.88, 127.0.0.4\r\n"
    # From the trusted proxy: the rightmost entry that is not a proxy.
    status, _ = exchange(connect_from(srv, PROXY), get("/admin/kick", token="x", extra=xff))
    assert status == 401
    assert "wrong token from 127.0.0.88 refused" in srv.read_log()
    # From anyone else the header is ignored.
    status, _ = exchange(connect_from(srv, OTHER), get("/admin/kick", token="x", extra=xff))
    assert "wrong token from 127.0.0.3 refused" in srv.read_log()
    # The WebSocket upgrade is a request like any other.
    sock = connect_from(srv, PROXY)
    sock.setblocking(False)
    c = await Client.connect(srv, sock=sock, label="xff",
                             extra_headers={"X-Forwarded-For": "127.0.0.90"})
    await c.hello(name="xff")
    sock2 = connect_from(srv, OTHER)
    sock2.setblocking(False)
    d = await Client.connect(srv, sock=sock2, label="spoof",
                             extra_headers={"X-Forwarded-For": "127.0.0.91"})
    await d.hello(name="spoof")
    got = sessions(srv)
    assert got["xff"]["addr"] == "127.0.0.90" and got["spoof"]["addr"] == OTHER, got
    await c.close()
    await d.close()


def test_admin_lockout_is_per_client_address(plaza):
    srv = plaza(**proxied())
    for _ in range(5):
        status, _ = exchange(connect_from(srv, PROXY, v1("127.0.0.60")),
                             get("/admin/sessions", token="guess"))
        assert status == 401
    status, _ = exchange(connect_from(srv, PROXY, v1("127.0.0.60")),
                         get("/admin/sessions", token=TOKEN))
    assert status == 429, "the guessing address is not locked out"
    # Another client behind the same proxy is not punished for it.
    status, _ = exchange(connect_from(srv, PROXY, v2("127.0.0.61")),
                         get("/admin/sessions", token=TOKEN))
    assert status == 200


@async_test
async def test_connect_rate_is_per_client_address(plaza):
    srv = plaza(**proxied(connect_rate=0.2, connect_burst=2))
    ok = [await ws_through(srv, v1("127.0.0.70"), f"a{i}") for i in range(2)]
    sock = connect_from(srv, PROXY, v1("127.0.0.70"))
    sock.setblocking(False)
    try:
        await Client.connect(srv, sock=sock, label="a-third")
        refused = None
    except websockets.exceptions.InvalidStatusCode as e:
        refused = e.status_code
    assert refused == 429, "the third upgrade from one address within its burst passed"
    # Its neighbour behind the same proxy still gets in.
    b = await ws_through(srv, v1("127.0.0.71"), "b")
    await b.ping()
    assert metric_line(srv, 'plaza_connections_refused_total{reason="rate_limit"}') == 1
    # The refusal carries Retry-After.
    status, _ = None, None
    s = connect_from(srv, PROXY, v1("127.0.0.70"))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = s.recv(4096)
    s.close()
    assert head.startswith(b"HTTP/1.1 429") and b"Retry-After: 1\r\n" in head, head
    for c in ok + [b]:
        await c.close()


def test_tls_client_hello_in_the_same_segment_as_the_header(tls_plaza):
    """The proxy's first segment carries the header and the ClientHello
    together: the bytes behind the header are the TLS stream's first."""
    srv = tls_plaza(**proxied())
    ctx = srv.ctx()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s = connect_from(srv, PROXY)
    s.sendall(v2("127.0.0.82") + outgoing.read())  # one write, one segment
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if outgoing.pending:
                s.sendall(outgoing.read())
            data = s.recv(65536)
            assert data, "closed during the handshake"
            incoming.write(data)
    if outgoing.pending:
        s.sendall(outgoing.read())
    tls.write(get("/admin/sessions", token="wrong"))
    s.sendall(outgoing.read())
    reply = b""
    while b"\r\n\r\n" not in reply:
        try:
            reply += tls.read(65536)
        except ssl.SSLWantReadError:
            data = s.recv(65536)
            assert data, f"closed before the answer: {reply!r}"
            incoming.write(data)
    s.close()
    assert reply.startswith(b"HTTP/1.1 401"), reply
    assert "wrong token from 127.0.0.82 refused" in srv.read_log()
