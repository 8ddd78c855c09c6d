"""Browsers (--allowed-origins): an upgrade from an Origin not listed gets 403
before any 101, one without Origin (not a browser) is served, one from the
server's own origin (its page at /: same host and port as the Host it asks)
is served whatever the list says, the default is open with one warning when
a JWT is required; /healthz and /rooms answer CORS for allowed origins (and
preflights), admin paths never."""

import socket

from plaza_client import Client, async_test, raw_socket

APP = "https://app.example"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def raw_request(srv, head):
    """Send a raw request head; return (status, headers dict, body)."""
    s = raw_socket(srv)
    s.sendall(head.encode())
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and data.startswith(b"HTTP/1.1 101"):
                break
    except socket.timeout:
        pass
    s.close()
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def upgrade(srv, origin=None, host="x"):
    extra = f"Origin: {origin}\r\n" if origin is not None else ""
    return raw_request(srv, f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                            f"Sec-WebSocket-Key: {KEY}\r\n{extra}\r\n")


def get(srv, path, origin=None, method="GET", extra=""):
    o = f"Origin: {origin}\r\n" if origin is not None else ""
    return raw_request(srv, f"{method} {path} HTTP/1.1\r\nHost: x\r\n{o}{extra}\r\n")


def test_unlisted_origin_gets_403_listed_and_absent_upgrade(plaza):
    srv = plaza(allowed_origins=f"{APP}, http://localhost:3000")
    assert upgrade(srv, "https://evil.example")[0] == 403
    assert upgrade(srv, "https://app.example.evil.com")[0] == 403
    assert upgrade(srv, "null")[0] == 403
    assert upgrade(srv, APP)[0] == 101
    assert upgrade(srv, "http://localhost:3000")[0] == 101
    assert upgrade(srv, None)[0] == 101  # no Origin: not a browser


def test_own_origin_upgrades_with_a_restricted_list(plaza):
    """The demo page plaza serves at / opens its socket with Origin
    http://HOST:PORT and Host HOST:PORT: the server's own page, served
    although only APP is listed. Another port, another name for the same
    address, or a different scheme's default port is another origin."""
    srv = plaza(allowed_origins=APP)
    own = f"127.0.0.1:{srv.port}"
    assert upgrade(srv, f"http://{own}", host=own)[0] == 101
    assert upgrade(srv, f"http://{own}/", host=own)[0] == 101
    assert upgrade(srv, f"http://localhost:{srv.port}", host=f"localhost:{srv.port}")[0] == 101
    # Behind a TLS proxy on the default port: https://name and Host name.
    assert upgrade(srv, "https://play.example", host="play.example")[0] == 101
    assert upgrade(srv, f"http://127.0.0.1:{srv.port + 1}", host=own)[0] == 403
    assert upgrade(srv, f"http://localhost:{srv.port}", host=own)[0] == 403
    assert upgrade(srv, "https://play.example", host="play.example:80")[0] == 403
    assert upgrade(srv, "null", host="null")[0] == 403
    # The page itself still gets no CORS: it does not need it.
    status, headers, _ = get(srv, "/rooms", origin=f"http://{own}")
    assert status == 200 and "access-control-allow-origin" not in headers, headers


@async_test
async def test_real_client_with_origin(plaza):
    srv = plaza(allowed_origins=APP)
    c = await Client.connect(srv, origin=APP)
    await c.hello(name="web")
    try:
        await Client.connect(srv, origin="https://evil.example")
    except Exception as e:  # websockets' InvalidStatus / InvalidStatusCode
        assert "403" in str(e), e
    else:
        raise AssertionError("an evil origin was upgraded")
    await c.ping()  # still served


def test_default_is_open_and_warns_once_with_a_jwt(plaza):
    srv = plaza()
    assert upgrade(srv, "https://anything.example")[0] == 101
    assert "Origin" not in srv.read_log()
    srv2 = plaza(jwt_secret="k" * 40)
    assert upgrade(srv2, "https://anything.example")[0] == 101
    warnings = [l for l in srv2.read_log().splitlines() if "Origin" in l and "warn" in l]
    assert len(warnings) == 1, srv2.read_log()
    srv3 = plaza(jwt_secret="k" * 40, allowed_origins=APP)
    assert not [l for l in srv3.read_log().splitlines() if "Origin" in l and "warn" in l]


def test_cors_on_json_endpoints_for_allowed_origins(plaza):
    srv = plaza(allowed_origins=APP)
    for path in ("/healthz", "/rooms"):
        st, h, _ = get(srv, path, APP)
        assert st == 200 and h.get("access-control-allow-origin") == APP, (path, h)
        assert "origin" in h.get("vary", "").lower(), h
        st, h, _ = get(srv, path, "https://evil.example")
        assert st == 200 and "access-control-allow-origin" not in h, (path, h)
        st, h, _ = get(srv, path)
        assert "access-control-allow-origin" not in h, h
    # /metrics is not for browsers
    st, h, _ = get(srv, "/metrics", APP)
    assert st == 200 and "access-control-allow-origin" not in h, h


def test_preflight_answered_204(plaza):
    srv = plaza(allowed_origins=APP)
    st, h, _ = get(srv, "/rooms", APP, method="OPTIONS",
                   extra="Access-Control-Request-Method: GET\r\n")
    assert st == 204, (st, h)
    assert h.get("access-control-allow-origin") == APP
    assert "GET" in h.get("access-control-allow-methods", "")
    assert h.get("access-control-allow-headers")
    st, h, _ = get(srv, "/healthz", "https://evil.example", method="OPTIONS")
    assert st == 204 and "access-control-allow-origin" not in h, h


def test_open_origins_echo_the_origin(plaza):
    srv = plaza(allowed_origins="*")
    st, h, _ = get(srv, "/healthz", "https://any.example")
    assert h.get("access-control-allow-origin") == "https://any.example", h


def test_admin_paths_never_answer_cors(plaza):
    srv = plaza(allowed_origins="*", admin_token="t0ken-for-tests")
    st, h, _ = get(srv, "/admin/sessions", APP,
                   extra="Authorization: Bearer t0ken-for-tests\r\n")
    assert st == 200 and "access-control-allow-origin" not in h, (st, h)
    st, h, _ = get(srv, "/admin/sessions", APP, method="OPTIONS")
    assert st == 401 and "access-control-allow-origin" not in h, (st, h)
