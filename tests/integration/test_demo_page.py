"""The demo page plaza embeds (src/static_assets.c): GET / and its script,
content types, caching headers, 304, HEAD, and nothing else reachable."""

import os
import re
import socket

from plaza_client import http_get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "clients", "ts", "demo")


def raw(srv, head):
    """Sends a raw request head; returns (status, headers dict, body bytes)."""
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        s.sendall(head.encode())
        with s.makefile("rb") as f:
            data = f.read()  # plaza closes after one answer
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return status, headers, body


def script_path(srv):
    _, _, body = http_get(srv, "/")
    m = re.search(r'<script src="(/demo\.[0-9a-f]{16}\.js)">', body)
    assert m, "the page names a content-hashed script"
    return m.group(1)


def test_index_is_the_demo_page_revalidated_by_etag(plaza):
    srv = plaza()
    status, headers, body = http_get(srv, "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{16}"', headers["ETag"])
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert '<canvas id="view"' in body
    with open(os.path.join(DEMO, "index.html")) as f:
        source = f.read()
    assert body == source.replace('src="/demo.js"', f'src="{script_path(srv)}"')
    # A query string is the page's business (?room=, ?name=), not a new path.
    assert http_get(srv, "/?room=x&name=y")[2] == body


def test_script_is_the_committed_bundle_cached_for_good(plaza):
    srv = plaza()
    status, headers, body = raw(srv, f"GET {script_path(srv)} HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    with open(os.path.join(DEMO, "bundle", "demo.js"), "rb") as f:
        assert body == f.read()
    assert int(headers["content-length"]) == len(body)


def test_if_none_match_gives_304_and_head_gives_no_body(plaza):
    srv = plaza()
    _, headers, body = raw(srv, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    etag = headers["etag"]
    for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, h, b = raw(srv, f"GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: {inm}\r\n\r\n")
        assert (status, b) == (304, b""), inm
        assert h["etag"] == etag
    status, _, b = raw(srv, 'GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: "stale"\r\n\r\n')
    assert status == 200 and b == body
    status, h, b = raw(srv, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and b == b""
    assert int(h["content-length"]) == len(body)


def test_nothing_else_is_served(plaza):
    srv = plaza()
    for path in ("/index.html", "/demo.js", "/../../etc/passwd", "/%2e%2e/etc/passwd",
                 "//etc/passwd", "/clients/ts/demo/index.html", "/demo.0000000000000000.js"):
        status, _, _ = raw(srv, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 404, path
    status, _, _ = raw(srv, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status == 405
