"""HTTP on the WebSocket port: /healthz, /metrics, /rooms, 404, /ws without upgrade."""

import json
import os
import re
import time

from plaza_client import Client, async_test, http_get, http_json, http_raw, rooms_list


def wait_until(check, timeout=5.0):
    """Poll check() until it returns a true value; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.05)


@async_test
async def test_healthz_reports_status_node_connections_rooms(plaza):
    srv = plaza()
    doc = http_json(srv, "/healthz")
    for field in ("status", "node", "connections", "rooms"):
        assert field in doc, f"/healthz lacks {field!r}: {doc!r}"
    assert doc["status"] == "ok", doc
    assert isinstance(doc["connections"], int) and isinstance(doc["rooms"], int), doc

    c = await Client.joined(srv, "health-room")
    last = {}

    def counted():
        last.update(http_json(srv, "/healthz"))
        return last["connections"] >= 1 and last["rooms"] >= 1

    assert wait_until(counted), f"/healthz does not count our connection and room: {last!r}"
    await c.close()


METRIC_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+'
    r'([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|NaN|[-+]?Inf))(\s+-?[0-9]+)?$')


def parse_metrics(text):
    """{family: type} and [(name, labels, value)] of a Prometheus text exposition;
    AssertionError on a line that is not valid exposition syntax."""
    types, samples = {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = METRIC_LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}\n--- /metrics ---\n{text}"
        samples.append((m.group(1), m.group(2) or "", m.group(3)))
    return types, samples


@async_test
async def test_metrics_exposes_prometheus_families(plaza):
    srv = plaza()
    # Some traffic so that per-op message counters exist.
    a = await Client.joined(srv, "metrics-room")
    b = await Client.joined(srv, "metrics-room")
    await a.ping(3.0)
    await a.send(5, "hello metrics")
    await b.wait_for(6)

    status, headers, text = http_get(srv, "/metrics")
    assert status == 200, f"/metrics: {status}\n{text}"
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert ctype.startswith("text/plain"), f"/metrics content-type {ctype!r}"
    types, samples = parse_metrics(text)
    names = {n for n, _, _ in samples} | set(types)
    plaza_names = sorted(n for n in names if n.startswith("plaza_"))
    ctx = f"\nplaza_ families: {plaza_names}\n--- /metrics ---\n{text}"
    assert plaza_names, "no plaza_ metrics" + ctx

    def has(sub):
        return any(sub in n for n in plaza_names)

    assert has("connection"), "no connections metric" + ctx
    assert has("room"), "no rooms metric" + ctx
    assert has("byte"), "no bytes metric" + ctx
    assert has("drop"), "no dropped frames metric" + ctx
    assert has("redis"), "no redis link state metric" + ctx

    msg = [(n, l) for n, l, _ in samples if n.startswith("plaza_") and "message" in n]
    assert msg, "no messages metric" + ctx
    assert any('op="' in l for _, l in msg), "messages metrics carry no op label" + ctx
    inbound = re.compile(r'(_in(_|$)|received|inbound|direction="in")')
    outbound = re.compile(r'(_out(_|$)|sent|outbound|direction="out")')
    assert any(inbound.search(n + l) for n, l in msg), "no inbound messages metric" + ctx
    assert any(outbound.search(n + l) for n, l in msg), "no outbound messages metric" + ctx

    hist = [f for f, t in types.items() if f.startswith("plaza_") and "tick" in f
            and t == "histogram"]
    assert hist, "no tick duration histogram (# TYPE ... histogram)" + ctx
    fam = hist[0]
    assert any(n == fam + "_bucket" and 'le="+Inf"' in l for n, l, _ in samples), \
        f"{fam}_bucket with le=\"+Inf\" missing" + ctx
    assert any(n == fam + "_sum" for n, _, _ in samples), f"{fam}_sum missing" + ctx
    assert any(n == fam + "_count" for n, _, _ in samples), f"{fam}_count missing" + ctx
    await a.close()
    await b.close()


@async_test
async def test_rooms_lists_joined_room_with_member_count(plaza):
    srv = plaza()
    a = await Client.joined(srv, "lobby")
    b = await Client.joined(srv, "lobby")
    last = []

    def listed():
        last[:] = rooms_list(srv)
        return any(r.get("room") == "lobby" and r.get("members") == 2 for r in last)

    assert wait_until(listed), f"/rooms does not list lobby with 2 members: {last!r}"
    await a.close()
    await b.close()


def test_unknown_path_is_404(plaza):
    srv = plaza()
    status, _, body = http_get(srv, "/no/such/thing")
    assert status == 404, f"GET /no/such/thing: {status} {body[:200]!r}"


def test_ws_without_upgrade_headers_is_400_or_426(plaza):
    srv = plaza()
    status, _, body = http_get(srv, "/ws")
    assert status in (400, 426), f"GET /ws without upgrade: {status} {body[:200]!r}"


def test_http_keeps_serving_after_many_requests(plaza):
    """Guards against a leak or a stuck parser in the HTTP path."""
    srv = plaza()
    for _ in range(50):
        data = http_raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"), data[:200]


def protocol_doc_http_rows():
    """(method, path, status, answer) of the table under "## HTTP endpoints"
    in docs/protocol.md's second part."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "protocol.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert "\n## HTTP endpoints\n" in text, "docs/protocol.md has no HTTP endpoints section"
    section = text.split("\n## HTTP endpoints\n", 1)[1]
    rows = []
    for line in section.splitlines():
        m = re.match(r"^\| `(GET|POST|HEAD) (/\S*)` \| (\d{3}) \|(.*)\|$", line)
        if m:
            rows.append((m[1], m[2], int(m[3]), m[4].strip()))
    assert len(rows) >= 4, f"too few rows in docs/protocol.md's HTTP table: {rows!r}"
    return rows


def test_http_answers_are_what_protocol_doc_says(plaza):
    """docs/protocol.md says what each endpoint answers today, the admin
    paths included (404 while no admin token is configured), and that
    /rooms is an object holding the list."""
    srv = plaza()
    for method, path, status, answer in protocol_doc_http_rows():
        data = http_raw(srv, f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 0\r\n\r\n".encode())
        got = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
        assert got == status, f"{method} {path}: {data[:200]!r}, docs say {status}"
        if path == "/rooms":
            body = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert isinstance(body, dict) and isinstance(body.get("rooms"), list), body
            assert '{"rooms":[' in answer, f"docs row for /rooms: {answer!r}"


def test_head_answers_headers_without_a_body(plaza):
    srv = plaza()
    for path in ("/healthz", "/rooms", "/metrics"):
        raw = http_raw(srv, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
        assert length and int(length[0].split(b":")[1]) > 0, head
        assert body == b"", f"HEAD {path} sent a body: {body[:80]!r}"


# --- issue 15: what a hostile client found in the HTTP phase ----------------

UPGRADE_HEAD = ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")


def test_upgrade_with_a_body_is_400_and_leaks_nothing(plaza, monkeypatch):
    """12,000 upgrades each with `Content-Length: 7800` and the body in the
    same write got 101 and leaked their bodies (+89 MiB; LeakSanitizer:
    on_body). An upgrade carrying a body is refused with 400 however it
    arrives; the ASan run's exit check finds nothing leaked, and the RSS of
    a plain build stays flat."""
    from test_hostile import vm_rss_kb
    monkeypatch.setenv("ASAN_OPTIONS",
                       (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0").lstrip(":"))
    srv = plaza()
    body = b"x" * 7800
    with_length = (UPGRADE_HEAD + "Content-Length: 7800\r\n\r\n").encode()
    chunked = (UPGRADE_HEAD + "Transfer-Encoding: chunked\r\n\r\n").encode()
    chunked_body = b"1e78\r\n" + body + b"\r\n0\r\n\r\n"
    for parts in ([with_length + body], [with_length, body], [chunked + chunked_body],
                  [chunked, chunked_body]):
        data = http_raw(srv, *parts)
        assert data.startswith(b"HTTP/1.1 400 "), data[:200]
        assert b"Upgrade: websocket" not in data.split(b"\r\n\r\n")[0], data[:300]
    # Elsewhere an Upgrade with a body is ignored (RFC 9110), as curl's h2c
    # upgrade of a POST would be: the request is served.
    data = http_raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
                         b"Connection: Upgrade\r\nContent-Length: 3\r\n\r\nabc")
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    before = vm_rss_kb(srv.proc.pid)
    for _ in range(1500):
        assert http_raw(srv, with_length + body).startswith(b"HTTP/1.1 400 ")
    grown_kb = vm_rss_kb(srv.proc.pid) - before
    # Leaking each body grew plaza by over 11 MB here.
    assert grown_kb < 4 * 1024, f"plaza's RSS grew by {grown_kb / 1024:.1f} MB"
    # Upgrades without a body still work.
    data = http_raw(srv, (UPGRADE_HEAD + "\r\n").encode() + b"\x88\x80\0\0\0\0")
    assert data.startswith(b"HTTP/1.1 101 "), data[:200]


def test_head_over_8_kib_gets_431_however_it_arrives(plaza):
    """docs/operations.md: a head over 8 KiB gets 431. A head that arrived
    complete (in one write, or completed by a second) got 413."""
    srv = plaza()
    for target in ("/healthz", "/ws"):
        head = (f"GET {target} HTTP/1.1\r\nHost: x\r\nX-Pad: {'a' * 9000}\r\n\r\n").encode()
        for parts in ([head], [head[:5000], head[5000:]], [head[:-2]]):
            data = http_raw(srv, *parts)
            assert data.startswith(b"HTTP/1.1 431 "), (target, len(parts), data[:200])
    # A body too large is still 413.
    data = http_raw(srv, b"POST /admin/broadcast HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 100000\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]
