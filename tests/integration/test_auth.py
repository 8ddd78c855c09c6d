"""JWT at HELLO (--jwt-secret): tokens from an independent implementation
(python3-jwt) are accepted or refused with 4001, the name and rooms claims
are used, a resume needs the same user, --max-sessions-per-user holds, and
refused tokens never stall the server for the clients it serves."""

import asyncio
import time

import jwt
import pytest

from plaza_client import (Client, ERROR, WELCOME, CHAT, CHAT_C, ROOM, async_test,
                          http_json)

SECRET = "integration-secret-0123456789abcdef"
FORBIDDEN = 8


def token(sub="alice", name="Alice", key=SECRET, alg="HS256", headers=None,
          exp_in=300, **claims):
    body = {"sub": sub, "exp": int(time.time()) + exp_in}
    if name is not None:
        body["name"] = name
    body.update(claims)
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header_json: bytes, payload_json: bytes, key=SECRET) -> str:
    """A token whose parts we write by hand, correctly signed with HS256."""
    import hashlib
    import hmac
    head = b64(header_json) + "." + b64(payload_json)
    sig = hmac.new(key.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(sig)


def auth_server(plaza, **kw):
    return plaza(jwt_secret=SECRET, **kw)


async def hello_refused(srv, tok, **kw):
    c = await Client.connect(srv, label="refused")
    await c.hello(token=tok, expect_welcome=False, **kw)
    await c.expect_close(4001)
    return c


@async_test
async def test_valid_token_welcomes_with_the_name_claim(plaza):
    srv = auth_server(plaza)
    c = await Client.connect(srv)
    await c.hello(name="ignored-name", token=token(name="Alice"))
    room = await c.join("lobby")
    members = room[2]
    assert [m[1] for m in members if m[0] == c.id] == ["Alice"], members
    sessions = http_json(srv, "/healthz")["sessions"]
    assert sessions == 1


@async_test
async def test_missing_or_bad_name_claim_gives_guest_name(plaza):
    srv = auth_server(plaza)
    for name in (None, "", "x" * 33, 7):
        c = await Client.connect(srv)
        await c.hello(name="ignored", token=token(name=name))
        room = await c.join("lobby")
        me = [m for m in room[2] if m[0] == c.id][0]
        assert me[1] == f"guest-{c.id}", (name, me)
        await c.close()


BAD_TOKENS = {
    "missing": lambda: None,
    "expired": lambda: token(exp_in=-120),
    "nbf_in_future": lambda: token(nbf=int(time.time()) + 600),
    "wrong_signature": lambda: token(key="another-secret-0123456789abcdefgh"),
    "alg_none": lambda: jwt.encode({"sub": "a", "exp": int(time.time()) + 300}, None,
                                   algorithm="none"),
    "hs512": lambda: token(alg="HS512"),
    "rs256_header": lambda: signed(b'{"alg":"RS256","typ":"JWT"}',
                                   b'{"sub":"a","exp":4102444800}'),
    "malformed_base64url": lambda: token()[:10] + "*" + token()[11:],
    "padded_base64": lambda: token().split(".")[0] + "=." + ".".join(token().split(".")[1:]),
    "bad_json": lambda: signed(b'{"alg":"HS256"}', b'{"sub":"a","exp":'),
    "missing_exp": lambda: jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"),
    "missing_sub": lambda: jwt.encode({"exp": int(time.time()) + 300}, SECRET,
                                      algorithm="HS256"),
    "oversized": lambda: token(pad="x" * 5000),
    "not_a_jwt": lambda: "hello",
    "unexpected_audience": lambda: token(aud="someone"),
    # Issue 15: signed, but never expiring; and longer than the default day.
    "exp_1e300": lambda: signed(b'{"alg":"HS256","typ":"JWT"}', b'{"sub":"a","exp":1e300}'),
    "lifetime_over_a_day": lambda: token(exp_in=2 * 86400),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
@async_test
async def test_bad_token_closes_4001_without_saying_why(plaza, kind):
    srv = auth_server(plaza)
    bystander = await Client.connect(srv, label="bystander")
    await bystander.hello(token=token(sub="bob", name="Bob"))
    await bystander.join("lobby")
    c = await Client.connect(srv, label=kind)
    await c.hello(token=BAD_TOKENS[kind](), expect_welcome=False)
    await c.expect_close(4001)
    reason = c.ws.close_reason
    assert reason == "unauthorized", f"{kind}: reason {reason!r} tells too much"
    assert not [m for m in c.seen if m[0] == WELCOME], c.history()
    # the server still serves the others, at once
    t0 = time.monotonic()
    await bystander.ping(2.5)
    assert time.monotonic() - t0 < 1.0
    log = "\n".join(l for l in srv.read_log().splitlines() if not l.startswith("$ "))
    assert SECRET not in log


@async_test
async def test_secret_from_file_and_issuer_audience(plaza, tmp_path):
    key = tmp_path / "key"
    key.write_text(SECRET + "\n")
    srv = plaza("--jwt-secret-file", str(key), jwt_issuer="https://app.example",
                jwt_audience="plaza")
    c = await Client.connect(srv)
    await c.hello(token=token(iss="https://app.example", aud=["web", "plaza"]))
    await hello_refused(srv, token(iss="https://evil.example", aud="plaza"))
    await hello_refused(srv, token(iss="https://app.example", aud="web"))
    await hello_refused(srv, token(aud="plaza"))  # no iss
    c2 = await Client.connect(srv)
    await c2.hello(token=token(iss="https://app.example", aud="plaza"))


@async_test
async def test_leeway_allows_small_clock_skew(plaza):
    srv = auth_server(plaza, jwt_leeway_s=60)
    c = await Client.connect(srv)
    await c.hello(token=token(exp_in=-20))  # expired 20 s ago, within 60 s
    await hello_refused(srv, token(exp_in=-90))
    c2 = await Client.connect(srv)
    await c2.hello(token=token(nbf=int(time.time()) + 20))


@async_test
async def test_rooms_claim_limits_join(plaza):
    srv = auth_server(plaza)
    c = await Client.connect(srv)
    await c.hello(token=token(rooms=["lobby", "team-*"]))
    await c.join("lobby")
    await c.join("team-red")
    await c.send(2, "staff")
    err = await c.wait_error(FORBIDDEN)
    assert err[3] == 2, err
    # refused: still in team-red, where chat works
    await c.send(CHAT_C, "still here")
    chat = await c.wait_for(CHAT)
    assert chat[4] == "still here"
    rooms = {r["room"] for r in http_json(srv, "/rooms")["rooms"]}
    assert "staff" not in rooms and "team-red" in rooms, rooms
    # a token without the claim may go anywhere
    d = await Client.connect(srv)
    await d.hello(token=token(sub="dora"))
    await d.join("staff")


@async_test
async def test_resume_needs_the_same_user(plaza):
    srv = auth_server(plaza)
    a = await Client.connect(srv, label="alice")
    await a.hello(token=token(sub="alice"))
    await a.join("lobby")
    session = a.session
    a.drop()
    # mallory holds alice's session token but her own JWT
    m = await Client.connect(srv, label="mallory")
    await m.hello(token=token(sub="mallory"), resume=session, expect_welcome=False)
    await m.expect_close(4001)
    # alice herself resumes it
    a2 = await Client.connect(srv, label="alice again")
    w = await a2.hello(token=token(sub="alice"), resume=session)
    assert w[5] is True and w[1] == a.id, w
    await a2.wait_for(ROOM)


@async_test
async def test_same_user_twice_allowed_and_max_sessions_per_user(plaza):
    srv = auth_server(plaza, max_sessions_per_user=2, resume_grace_ms=0)
    tabs = []
    for i in range(2):
        c = await Client.connect(srv, label=f"tab{i}")
        await c.hello(token=token(sub="alice"))
        tabs.append(c)
    assert tabs[0].id != tabs[1].id
    third = await Client.connect(srv, label="tab3")
    await third.hello(token=token(sub="alice"), expect_welcome=False)
    frames = await third.expect_close(4001)
    assert [m for m in frames if m[0] == ERROR and m[1] == FORBIDDEN], third.history()
    # another user is not affected
    b = await Client.connect(srv, label="bob")
    await b.hello(token=token(sub="bob"))
    # a session that ends frees its place
    await tabs[0].close()
    deadline = time.monotonic() + 5
    while True:
        c = await Client.connect(srv, label="tab3 again")
        await c.hello(token=token(sub="alice"), expect_welcome=False)
        m = await c.recv()
        if m[0] == WELCOME:
            break
        assert time.monotonic() < deadline, c.history()
        await asyncio.sleep(0.1)


@async_test
async def test_without_secret_token_is_ignored(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    await c.hello(name="free", token="not-a-jwt")
    room = await c.join("lobby")
    assert [m[1] for m in room[2] if m[0] == c.id] == ["free"]


@async_test
async def test_flood_of_bad_tokens_does_not_stall_others(plaza):
    srv = auth_server(plaza)
    watcher = await Client.connect(srv, label="watcher")
    await watcher.hello(token=token(sub="w"))
    await watcher.join("lobby")

    async def bad(i):
        c = await Client.connect(srv, label=f"bad{i}")
        await c.hello(token=token(pad="y" * 3000, key="wrong-" * 8), expect_welcome=False)
        await c.expect_close(4001)

    start = time.monotonic()
    tasks = [asyncio.create_task(bad(i)) for i in range(40)]
    worst = 0.0
    while not all(t.done() for t in tasks):
        t0 = time.monotonic()
        await watcher.ping(time.monotonic())
        worst = max(worst, time.monotonic() - t0)
    await asyncio.gather(*tasks)
    assert worst < 1.0, f"a ping took {worst:.2f}s during the flood"
    assert time.monotonic() - start < 30


@async_test
async def test_jwt_max_lifetime_counts_from_iat_or_now(plaza):
    """--jwt-max-lifetime-s: exp - iat (or exp - now without iat) longer
    than the bound closes 4001; 0 accepts any exp (the old behaviour)."""
    now = int(time.time())
    srv = auth_server(plaza, jwt_max_lifetime_s=600)
    ok = await Client.connect(srv, label="fresh")
    await ok.hello(token=token(iat=now - 60, exp_in=500))
    await hello_refused(srv, token(iat=now - 3600, exp_in=300))  # issued for 65 min
    await hello_refused(srv, token(exp_in=1200))                  # 20 min from now
    await hello_refused(srv, token(iat=now + 3000, exp_in=3300))  # iat ahead: from now
    open_ = auth_server(plaza, jwt_max_lifetime_s=0)
    c = await Client.connect(open_, label="forever")
    await c.hello(token=signed(b'{"alg":"HS256","typ":"JWT"}', b'{"sub":"a","exp":1e300}'))
    await c.ping()


@async_test
async def test_resume_with_a_narrower_token_is_kept_out_of_the_room(plaza):
    """Issue 15: a session joined `secret` under a token allowing it,
    dropped, and resumed with a new token of the same user allowing only
    `lobby`: it got ROOM of `secret` with its history and kept reading and
    writing its chat. The new token's rooms apply: the session resumes
    outside any room, with ERROR 8 naming the room, and the room sees it
    leave."""
    from plaza_client import LEFT, E_NOT_IN_ROOM
    srv = auth_server(plaza, workers=2)
    bob = await Client.connect(srv, label="bob")
    await bob.hello(token=token(sub="bob"))
    await bob.join("secret")
    alice = await Client.connect(srv, label="alice")
    await alice.hello(token=token(sub="alice", rooms=["secret", "lobby"]))
    await alice.join("secret")
    await alice.send(CHAT_C, "before")
    await bob.wait_for(CHAT, lambda m: m[4] == "before")
    alice.drop()

    back = await Client.connect(srv, label="alice back")
    w = await back.hello(token=token(sub="alice", rooms=["lobby"]), resume=alice.session)
    assert w[5] is True and w[1] == alice.id, w
    err = await back.wait_error(FORBIDDEN)
    assert "secret" in err[2] and err[3] == 1, err
    await bob.wait_for(LEFT, lambda m: m[1] == alice.id)
    # Outside any room: no ROOM, no history, no chat of `secret`.
    await bob.send(CHAT_C, "after")
    await bob.wait_for(CHAT, lambda m: m[4] == "after")
    await back.send(CHAT_C, "sneaking")
    nir = await back.wait_error(E_NOT_IN_ROOM)
    assert nir[3] == CHAT_C, nir
    await back.ping()
    assert not [m for m in back.seen if m[0] in (ROOM, CHAT)], back.history()
    rooms = {r["room"]: r["members"] for r in http_json(srv, "/rooms")["rooms"]}
    assert rooms.get("secret") == 1, rooms
    # What the token allows still works, and `secret` stays refused.
    await back.join("lobby")
    await back.send(2, "secret")
    assert (await back.wait_error(FORBIDDEN))[3] == 2
    # A resume the token allows goes back into the room, as before.
    back.drop()
    again = await Client.connect(srv, label="alice again")
    w = await again.hello(token=token(sub="alice", rooms=["lobby"]), resume=alice.session)
    assert w[5] is True
    assert (await again.wait_for(ROOM))[1] == "lobby"
