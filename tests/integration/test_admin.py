"""The admin API (--admin-token): broadcast, kick and the session list, with
JSON in and out; 404 without a token configured, 401 with a wrong or missing
one, 429 after repeated failures from one address; bad calls get their
documented answers and never disturb the clients being served."""

import http.client
import json
import time

import jwt

from plaza_client import (CHAT, ROOM, Client, E_SESSION_EXPIRED, async_test,
                          shard_of)

TOKEN = "admin-t0ken-for-tests"


def call(srv, method, path, body=None, token=TOKEN, raw=None, headers=None):
    """(status, headers, parsed JSON or text) of one request."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = text
    return r.status, {k.lower(): v for k, v in r.getheaders()}, doc


def admin_server(plaza, **kw):
    return plaza(admin_token=TOKEN, **kw)


def test_no_token_configured_admin_is_404(plaza):
    srv = plaza()
    assert call(srv, "GET", "/admin/sessions")[0] == 404
    assert call(srv, "POST", "/admin/kick", {"id": 1})[0] == 404
    assert call(srv, "POST", "/admin/broadcast", {"text": "x"}, token=None)[0] == 404


def test_wrong_or_missing_token_is_401_with_bearer_challenge(plaza):
    srv = admin_server(plaza)
    for tok in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        st, h, doc = call(srv, "GET", "/admin/sessions", token=tok)
        assert st == 401, (tok, st, doc)
        assert h.get("www-authenticate", "").startswith("Bearer"), h
        assert "access-control-allow-origin" not in h
    st, _, _ = call(srv, "GET", "/admin/sessions", token=None,
                    headers={"Authorization": "Basic " + TOKEN})
    assert st == 401
    log = srv.read_log()
    assert "wrong" in log and "refused" in log
    assert TOKEN not in "\n".join(l for l in log.splitlines() if not l.startswith("$ "))


def test_failed_attempts_rate_limited_per_address(plaza):
    srv = admin_server(plaza)
    statuses = [call(srv, "GET", "/admin/sessions", token=f"guess{i}")[0] for i in range(7)]
    assert statuses[:5] == [401] * 5, statuses
    assert statuses[5:] == [429, 429], statuses
    # while limited, even the right token waits
    st, h, _ = call(srv, "GET", "/admin/sessions")
    assert st == 429 and "retry-after" in h, (st, h)
    # the rest of the port is untouched
    assert call(srv, "GET", "/healthz", token=None)[0] == 200


@async_test
async def test_broadcast_to_one_room_is_a_server_chat_kept_in_history(plaza):
    srv = admin_server(plaza)
    a = await Client.joined(srv, "lobby", name="a")
    b = await Client.joined(srv, "elsewhere", name="b")
    await a.send(5, "hello")
    first = await a.wait_for(CHAT)
    st, _, doc = call(srv, "POST", "/admin/broadcast", {"text": "maintenance at 5",
                                                        "room": "lobby"})
    assert st == 200 and doc == {"rooms": 1}, (st, doc)
    chat = await a.wait_for(CHAT, lambda m: m[3] == "server")
    assert chat[2] == 0 and chat[4] == "maintenance at 5", chat
    assert chat[1] == first[1] + 1, (first, chat)  # the room's next seq
    assert not [m for m in await b.collect(0.3) if m[0] == CHAT], b.history()
    c = await Client.joined(srv, "lobby", name="late")
    history = c.room_msg[3]
    assert [h[1:4] for h in history][-1] == [0, "server", "maintenance at 5"], history


@async_test
async def test_broadcast_to_every_room_on_every_worker(plaza):
    srv = admin_server(plaza, workers=2)
    rooms = ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert {shard_of(r, 2) for r in rooms} == {0, 1}
    clients = [await Client.joined(srv, r, name=r) for r in rooms]
    st, _, doc = call(srv, "POST", "/admin/broadcast", {"text": "everyone"})
    assert st == 200 and doc == {"rooms": len(rooms)}, (st, doc)
    for c in clients:
        m = await c.wait_for(CHAT)
        assert m[2:5] == [0, "server", "everyone"], m


def test_broadcast_bad_calls(plaza):
    srv = admin_server(plaza)
    assert call(srv, "POST", "/admin/broadcast", {"text": "x", "room": "nobody"})[0] == 404
    assert call(srv, "POST", "/admin/broadcast", {"room": "lobby"})[0] == 400
    assert call(srv, "POST", "/admin/broadcast", {"text": ""})[0] == 400
    assert call(srv, "POST", "/admin/broadcast", {"text": "x" * 501})[0] == 400
    assert call(srv, "POST", "/admin/broadcast", {"text": "x", "room": "bad room"})[0] == 400
    assert call(srv, "POST", "/admin/broadcast", raw=b"{not json")[0] == 400
    assert call(srv, "POST", "/admin/broadcast", raw=b"[1]")[0] == 400
    assert call(srv, "POST", "/admin/broadcast")[0] == 400
    st, _, _ = call(srv, "POST", "/admin/broadcast", raw=b" " * (64 * 1024 + 1))
    assert st == 413
    st, h, _ = call(srv, "GET", "/admin/broadcast")
    assert st == 405 and "POST" in h.get("allow", ""), h
    assert call(srv, "GET", "/admin/nothing")[0] == 404


@async_test
async def test_kick_closes_4003_on_whichever_worker(plaza):
    srv = admin_server(plaza, workers=2)
    victims = [await Client.joined(srv, r, name=r) for r in ("r0", "r1", "r2", "r3")]
    other = await Client.joined(srv, "r0", name="other")
    for v in victims:
        st, _, doc = call(srv, "POST", "/admin/kick", {"id": v.id})
        assert st == 200 and doc == {"kicked": True}, (st, doc)
        await v.expect_close(4003)
    # kicked sessions are gone: the same id is now unknown, and resume fails
    st, _, doc = call(srv, "POST", "/admin/kick", {"id": victims[0].id})
    assert st == 404 and "error" in doc, (st, doc)
    again = await Client.connect(srv)
    await again.hello(resume=victims[0].session, expect_welcome=False)
    await again.wait_error(E_SESSION_EXPIRED)
    await other.ping()


@async_test
async def test_kick_of_a_session_in_its_grace_period_ends_it(plaza):
    srv = admin_server(plaza)
    a = await Client.joined(srv, "lobby", name="a")
    a.drop()
    time.sleep(0.2)
    assert call(srv, "POST", "/admin/kick", {"id": a.id})[0] == 200
    b = await Client.connect(srv)
    await b.hello(resume=a.session, expect_welcome=False)
    await b.wait_error(E_SESSION_EXPIRED)


def test_kick_bad_calls(plaza):
    srv = admin_server(plaza)
    assert call(srv, "POST", "/admin/kick", {"id": 123456789})[0] == 404
    assert call(srv, "POST", "/admin/kick", {"id": "1"})[0] == 400
    assert call(srv, "POST", "/admin/kick", {"id": -1})[0] == 400
    assert call(srv, "POST", "/admin/kick", {"id": 2 ** 53})[0] == 400
    assert call(srv, "POST", "/admin/kick", {})[0] == 400
    assert call(srv, "GET", "/admin/kick")[0] == 405


@async_test
async def test_sessions_lists_who_is_where(plaza):
    secret = "s" * 40
    srv = admin_server(plaza, workers=2, jwt_secret=secret)
    tok = jwt.encode({"sub": "user-7", "name": "Seven", "exp": int(time.time()) + 300},
                     secret, algorithm="HS256")
    a = await Client.connect(srv)
    await a.hello(token=tok)
    await a.join("lobby")
    b = await Client.connect(srv)
    await b.hello(token=jwt.encode({"sub": "user-8", "exp": int(time.time()) + 300},
                                   secret, algorithm="HS256"))
    await b.join("r1")
    c = await Client.connect(srv)
    await c.hello(token=tok)  # in no room
    st, _, doc = call(srv, "GET", "/admin/sessions")
    assert st == 200, doc
    by_id = {s["id"]: s for s in doc["sessions"]}
    assert set(by_id) == {a.id, b.id, c.id}, doc
    assert by_id[a.id]["room"] == "lobby" and by_id[a.id]["user"] == "user-7"
    assert by_id[a.id]["name"] == "Seven" and by_id[a.id]["connected"] is True
    assert by_id[c.id]["room"] is None
    st, _, doc = call(srv, "GET", "/admin/sessions?room=lobby")
    assert [s["id"] for s in doc["sessions"]] == [a.id], doc
    st, _, doc = call(srv, "GET", "/admin/sessions?room=empty")
    assert st == 200 and doc == {"sessions": []}
    assert call(srv, "GET", "/admin/sessions?room=bad%20room")[0] == 400
    assert call(srv, "POST", "/admin/sessions", {})[0] == 405


@async_test
async def test_bad_admin_calls_do_not_disturb_clients(plaza):
    srv = admin_server(plaza)
    a = await Client.joined(srv, "lobby", name="a")
    for i in range(20):
        call(srv, "POST", "/admin/kick", raw=b"\x00\xff garbage", token=f"bad{i}")
        call(srv, "POST", "/admin/broadcast", raw=b"{" * 1000)
        t0 = time.monotonic()
        await a.ping(float(i))
        assert time.monotonic() - t0 < 1.0
    assert call(srv, "GET", "/healthz", token=None)[0] == 200
