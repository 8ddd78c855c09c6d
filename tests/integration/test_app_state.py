"""Protocol 1.1 on one node: member state (HELLO state, SET, MEMBER, ROOM and
JOINED carrying it), signals (to the room, to a session on any worker, in
order), room state (ROOM_SET, ROOM_STATE, versions, compare-and-set, ERROR
12, its life after the room empties), their limits and bad input, the
shared rate limit, the admin endpoints and the metrics.
"""

import asyncio
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from plaza_client import (E_BAD_MESSAGE, E_CONFLICT, E_INVALID_ARGUMENT, E_NOT_FOUND,
                          E_NOT_IN_ROOM, E_RATE_LIMITED, E_SESSION_EXPIRED, ERROR, JOIN,
                          JOINED, LEAVE, LEFT, MEMBER, ROOM, ROOM_SET, ROOM_STATE, SET,
                          SIGNAL, SIGNAL_C, WELCOME, Client, async_test, http_get, metric,
                          shard_of)

FAST = dict(app_rate=1000, app_burst=1000, malformed_limit=1000)
ADMIN = "test-admin-token"


def member(room_msg, cid):
    for m in room_msg[2]:
        if m[0] == cid:
            return m
    raise AssertionError(f"{cid} not in ROOM {room_msg!r}")


def nested(depth):
    """A value with `depth` arrays nested: [[...[1]...]]."""
    v = 1
    for _ in range(depth):
        v = [v]
    return v


async def room_seen(srv, room):
    """The ROOM a newcomer gets: what the server holds now."""
    c = await Client.joined(srv, room, name="peek")
    msg = c.room_msg
    await c.close()
    return msg


async def no_frame(client, op, duration=0.3):
    got = [m for m in await client.collect(duration) if m[0] == op]
    assert not got, f"{client.label}: unexpected {got!r}"


def rooms_on(workers, shard, n=1, prefix="r"):
    out, i = [], 0
    while len(out) < n:
        name = f"{prefix}{i}"
        if shard_of(name, workers) == shard:
            out.append(name)
        i += 1
    return out


# ---- WELCOME and member state ---------------------------------------------


@async_test
async def test_welcome_lists_the_features(plaza):
    srv = plaza()
    c = await Client.connect(srv)
    w = await c.hello("ana")
    assert w[6] == ["state", "signal", "room_state", "view", "compact"], w
    await c.close()


@async_test
async def test_hello_state_in_room_and_joined(plaza):
    srv = plaza()
    a = await Client.connect(srv, label="a")
    await a.hello("ana", state={"color": "red", "model": {"hat": 3}})
    ra = await a.join("lobby")
    assert member(ra, a.id)[6] == {"color": "red", "model": {"hat": 3}}, ra
    b = await Client.joined(srv, "lobby", name="bob")
    assert member(b.room_msg, a.id)[6] == {"color": "red", "model": {"hat": 3}}
    assert member(b.room_msg, b.id)[6] == {}, "no state is an empty map"
    j = await a.wait_for(JOINED)
    assert j[1] == b.id and j[7] == {}, j
    # A newcomer with a state: JOINED carries it.
    c = await Client.connect(srv, label="c")
    await c.hello("cy", state={"emote": None, "n": 1})  # nil: not kept
    await c.join("lobby")
    j = await a.wait_for(JOINED, lambda m: m[1] == c.id)
    assert j[7] == {"n": 1}, j


@async_test
async def test_set_reaches_everyone_with_the_patch_as_applied(plaza):
    srv = plaza(**FAST)
    a = await Client.connect(srv, label="a")
    await a.hello("ana", state={"color": "red", "seat": 4})
    await a.join("lobby")
    b = await Client.joined(srv, "lobby", name="bob")
    other = await Client.joined(srv, "elsewhere", name="oz")
    patch = {"color": "blue", "seat": None, "pose": [1, 2.5, {"k": "v"}]}
    await a.send(SET, patch)
    for c in (a, b):
        m = await c.wait_for(MEMBER)
        assert m == [MEMBER, a.id, patch], m
    await no_frame(other, MEMBER)
    seen = await room_seen(srv, "lobby")
    assert member(seen, a.id)[6] == {"color": "blue", "pose": [1, 2.5, {"k": "v"}]}


@async_test
async def test_set_outside_a_room_is_silent_and_joins_along(plaza):
    srv = plaza(workers=2, **FAST)
    r0, r1 = rooms_on(2, 0)[0], rooms_on(2, 1)[0]
    a = await Client.joined(srv, name="ana")
    await a.send(SET, {"color": "green"})
    await no_frame(a, MEMBER)
    ra = await a.join(r0)
    assert member(ra, a.id)[6] == {"color": "green"}
    # Into a room of the other worker: the state goes with the session.
    await a.send(SET, {"hat": 1})
    await a.wait_for(MEMBER)
    ra = await a.join(r1)
    assert member(ra, a.id)[6] == {"color": "green", "hat": 1}, ra


@async_test
async def test_resume_on_the_same_node_keeps_member_state(plaza):
    srv = plaza(**FAST)
    a = await Client.connect(srv, label="a")
    await a.hello("ana", state={"color": "red"})
    await a.join("lobby")
    await a.send(SET, {"emote": "wave"})
    await a.wait_for(MEMBER)
    b = await Client.joined(srv, "lobby", name="bob")
    token, aid = a.session, a.id
    a.drop()
    a2 = await Client.connect(srv, label="a2")
    # A resume keeps the session's state: a HELLO state is for new ones.
    w = await a2.hello("ana", resume=token, state={"color": "black"})
    assert w[5] is True and w[1] == aid, w
    room = await a2.wait_for(ROOM)
    assert member(room, aid)[6] == {"color": "red", "emote": "wave"}, room
    await no_frame(b, MEMBER)
    # A resume that fails makes a fresh session: with the HELLO's state.
    a3 = await Client.connect(srv, label="a3")
    await a3.send(1, 1, None, "ann", "1.0000", None, {"color": "white"})
    await a3.wait_error(E_SESSION_EXPIRED)
    w3 = await a3.wait_for(WELCOME)
    assert w3[5] is False, w3
    r3 = await a3.join("lobby")
    assert member(r3, w3[1])[6] == {"color": "white"}, r3


@async_test
async def test_member_state_refusals_change_nothing(plaza):
    srv = plaza(member_state_max=64, **FAST)
    a = await Client.connect(srv, label="a")
    await a.hello("ana", state={"k": "v"})
    await a.join("lobby")
    b = await Client.joined(srv, "lobby", name="bob")
    bad = [
        ([SET, {"big": "x" * 80}], E_INVALID_ARGUMENT, "state too large"),
        ([SET, [1, 2]], E_BAD_MESSAGE, "state must be a map"),
        ([SET, "x"], E_BAD_MESSAGE, "state must be a map"),
        ([SET], E_BAD_MESSAGE, "SET needs a patch"),
        ([SET, {1: "x"}], E_BAD_MESSAGE, "state keys must be strings"),
        ([SET, {b"k": "x"}], E_BAD_MESSAGE, "state keys must be strings"),
        ([SET, {"": 1}], E_INVALID_ARGUMENT, "state keys must be 1-32 bytes of UTF-8"),
        ([SET, {"k" * 33: 1}], E_INVALID_ARGUMENT, "state keys must be 1-32 bytes of UTF-8"),
        ([SET, {"d": nested(17)}], E_INVALID_ARGUMENT, "state values may nest 16 deep"),
    ]
    for msg, code, why in bad:
        await a.send(*msg)
        e = await a.wait_for(ERROR)
        assert e[1] == code and e[3] == SET, (msg, e)
        assert e[2].startswith(why), (msg, e)
    # A map key that is neither a string nor an integer, inside a value.
    raw = bytes([0x92, 0x08, 0x81, 0xa1, ord("d"), 0x81, 0xc3, 0x01])  # [8, {"d": {true: 1}}]
    await a.send_raw(raw)
    e = await a.wait_for(ERROR)
    assert e[1] == E_INVALID_ARGUMENT and e[3] == SET, e
    # A key given twice (hand-packed: msgpack-python will not).
    raw = bytes([0x92, 0x08, 0x82, 0xa1, ord("k"), 0x01, 0xa1, ord("k"), 0x02])
    await a.send_raw(raw)
    e = await a.wait_for(ERROR)
    assert e[1] == E_INVALID_ARGUMENT and "twice" in e[2], e
    await no_frame(b, MEMBER)
    seen = await room_seen(srv, "lobby")
    assert member(seen, a.id)[6] == {"k": "v"}, "a refused SET changed the state"
    # 16 deep is allowed.
    await a.send(SET, {"d": nested(16)})
    assert (await b.wait_for(MEMBER))[2] == {"d": nested(16)}
    # A HELLO past the limit: ERROR 6, no session, close 4000.
    c = await Client.connect(srv, label="c")
    await c.send(1, 1, None, "cy", None, None, {"big": "x" * 80})
    e = await c.wait_for(ERROR)
    assert e[1] == E_INVALID_ARGUMENT and e[3] == 1, e
    await c.expect_close(4000)


# ---- signals ---------------------------------------------------------------


@async_test
async def test_signal_to_the_room_reaches_the_others_only(plaza):
    srv = plaza(**FAST)
    a = await Client.joined(srv, "lobby", name="ana")
    b = await Client.joined(srv, "lobby", name="bob")
    c = await Client.joined(srv, "lobby", name="cy")
    other = await Client.joined(srv, "elsewhere", name="oz")
    now = time.time() * 1000
    await a.send(SIGNAL_C, None, "emote", {"id": "wave", "n": [1, 2]})
    for r in (b, c):
        m = await r.wait_for(SIGNAL)
        assert m[:5] == [SIGNAL, a.id, "ana", "emote", {"id": "wave", "n": [1, 2]}], m
        assert abs(m[5] - now) < 10000, m
    await no_frame(a, SIGNAL)
    await no_frame(other, SIGNAL)
    # Data may be absent (nil) or any value.
    await a.send(SIGNAL_C, None, "ping")
    assert (await b.wait_for(SIGNAL))[4] is None
    await a.send(SIGNAL_C, None, "bin", b"\x00\x01")
    assert (await b.wait_for(SIGNAL))[4] == b"\x00\x01"


@async_test
async def test_signal_errors(plaza):
    srv = plaza(signal_max=64, **FAST)
    a = await Client.joined(srv, name="ana")  # in no room
    await a.send(SIGNAL_C, None, "wave", 1)
    e = await a.wait_error(E_NOT_IN_ROOM)
    assert e[3] == SIGNAL_C, e
    await a.send(SIGNAL_C, 123456789, "dm", 1)
    e = await a.wait_error(E_NOT_FOUND)
    assert e[3] == SIGNAL_C, e
    await a.join("lobby")
    bad = [
        ([SIGNAL_C, None, "k", "x" * 70], E_INVALID_ARGUMENT),
        ([SIGNAL_C, None, "", 1], E_INVALID_ARGUMENT),
        ([SIGNAL_C, None, "k" * 33, 1], E_INVALID_ARGUMENT),
        ([SIGNAL_C, None, 5, 1], E_BAD_MESSAGE),
        ([SIGNAL_C, None], E_BAD_MESSAGE),
        ([SIGNAL_C, "someone", "k", 1], E_BAD_MESSAGE),
        ([SIGNAL_C, -1, "k", 1], E_BAD_MESSAGE),
        ([SIGNAL_C, None, "k", nested(17)], E_INVALID_ARGUMENT),
    ]
    b = await Client.joined(srv, "lobby", name="bob")
    for msg, code in bad:
        await a.send(*msg)
        e = await a.wait_for(ERROR)
        assert e[1] == code and e[3] == SIGNAL_C, (msg, e)
    await no_frame(b, SIGNAL)
    # A session in its grace period is not signalled (not kept for it).
    bid = b.id
    b.drop()
    await asyncio.sleep(0.2)
    await a.send(SIGNAL_C, bid, "dm", 1)
    e = await a.wait_error(E_NOT_FOUND)
    assert e[2] == "that session is disconnected", e


@async_test
async def test_signal_to_a_session_on_another_worker_keeps_order(plaza):
    """Signals by id cross workers, and one sender's signals to one receiver
    arrive in the order sent: also when the sender moves to the receiver's
    worker in the middle of a stream (pipelined, the later signals would
    have the shorter way), when the receiver moves, and with room signals
    mixed in."""
    srv = plaza(workers=2, **FAST)
    home = rooms_on(2, 0, 4, "s")  # the sender's rooms, on worker 0
    there = rooms_on(2, 1, 2, "t")  # the target's rooms, on worker 1
    t = await Client.joined(srv, there[0], name="target")
    s = await Client.joined(srv, home[0], name="sender")
    lone = await Client.joined(srv, name="lone")  # in no room
    await s.send(SIGNAL_C, lone.id, "hi", 0)
    m = await lone.wait_for(SIGNAL)
    assert m[1:5] == [s.id, "sender", "hi", 0], m

    async def stream(rnd, mid):
        for i in range(40):
            await s.send(SIGNAL_C, t.id, "seq", [rnd, i])
            if i % 7 == 0:
                await s.send(SIGNAL_C, None, "room", i)
            if i == 20:
                await mid()
        got = []
        while len(got) < 40:
            m = await t.wait_for(SIGNAL, lambda m: m[3] == "seq", keep=True)
            assert m[4][0] == rnd, m
            got.append(m[4][1])
        assert got == list(range(40)), f"round {rnd}: out of order: {got}"

    # The sender joins the target's room mid-stream, then goes back.
    await stream(0, lambda: s.send(JOIN, there[0]))
    await s.wait_for(ROOM, lambda m: m[1] == there[0])
    await s.join(home[1])
    # The sender joins another room of the target's worker mid-stream.
    await stream(1, lambda: s.send(JOIN, there[1]))
    await s.wait_for(ROOM, lambda m: m[1] == there[1])
    await s.join(home[2])
    # The target moves to the sender's worker mid-stream.
    await stream(2, lambda: t.send(JOIN, home[3]))
    await t.wait_for(ROOM, lambda m: m[1] == home[3], keep=True)
    # To oneself works too.
    await t.send(SIGNAL_C, t.id, "self", None)
    assert (await t.wait_for(SIGNAL, lambda m: m[3] == "self"))[1] == t.id


@async_test
async def test_signal_rate_is_shared_with_set_and_room_set(plaza):
    srv = plaza(app_rate=0.5, app_burst=3)
    a = await Client.joined(srv, "lobby", name="ana")
    await a.send(SET, {"a": 1})
    await a.send(SIGNAL_C, None, "k", 1)
    await a.send(ROOM_SET, "k", 1)
    await a.send(SET, {"a": 2})
    e = await a.wait_error(E_RATE_LIMITED)
    assert e[3] == SET, e
    await a.send(ROOM_SET, "k", 2)
    e = await a.wait_error(E_RATE_LIMITED)
    assert e[3] == ROOM_SET, e
    seen = await room_seen(srv, "lobby")
    assert member(seen, a.id)[6] == {"a": 1}
    assert seen[4] == {"k": [1, 1]}, seen


# ---- room state ------------------------------------------------------------


@async_test
async def test_room_set_versions_and_compare_and_set(plaza):
    srv = plaza(**FAST)
    a = await Client.joined(srv, "lobby", name="ana")
    b = await Client.joined(srv, "lobby", name="bob")
    assert b.room_msg[4] == {}, b.room_msg
    await a.send(ROOM_SET, "seat", {"by": "ana"}, 0)
    for c in (a, b):
        m = await c.wait_for(ROOM_STATE)
        assert m == [ROOM_STATE, "seat", {"by": "ana"}, 1, a.id], m
    # Stale: ERROR 12 with the current version, and nothing changes.
    await b.send(ROOM_SET, "seat", {"by": "bob"}, 0)
    e = await b.wait_for(ERROR)
    assert e[1] == E_CONFLICT and e[3:] == [ROOM_SET, "seat", 1], e
    await no_frame(a, ROOM_STATE)
    await b.send(ROOM_SET, "nothing", 1, 3)
    e = await b.wait_for(ERROR)
    assert e[1] == E_CONFLICT and e[3:] == [ROOM_SET, "nothing", 0], e
    await b.send(ROOM_SET, "seat", {"by": "bob"}, 1)
    for c in (a, b):
        assert (await c.wait_for(ROOM_STATE))[2:] == [{"by": "bob"}, 2, b.id]
    # Without if_version: applies; nil deletes; versions go on after it.
    await a.send(ROOM_SET, "seat", None)
    for c in (a, b):
        assert (await c.wait_for(ROOM_STATE))[1:] == ["seat", None, 3, a.id]
    await b.send(ROOM_SET, "seat", 7, 3)  # deleted: its version is 0 now
    e = await b.wait_for(ERROR)
    assert e[1] == E_CONFLICT and e[5] == 0, e
    await b.send(ROOM_SET, "seat", 7, 0)
    for c in (a, b):
        assert (await c.wait_for(ROOM_STATE))[1:] == ["seat", 7, 4, b.id]
    await a.send(ROOM_SET, "lamp", True)
    await a.wait_for(ROOM_STATE, lambda m: m[1] == "lamp")
    seen = await room_seen(srv, "lobby")
    assert seen[4] == {"seat": [7, 4], "lamp": [True, 1]}, seen


@async_test
async def test_room_state_reaches_members_in_version_order(plaza):
    srv = plaza(**FAST)
    cs = [await Client.joined(srv, "race", name=f"c{i}") for i in range(3)]
    for k in range(30):
        for c in cs:
            await c.send(ROOM_SET, "n", k)
    for c in cs:
        versions = []
        while len(versions) < 90:
            versions.append((await c.wait_for(ROOM_STATE))[3])
        assert versions == list(range(1, 91)), versions


@async_test
async def test_room_set_refusals_change_nothing(plaza):
    srv = plaza(room_value_max=32, room_keys_max=3, room_state_max=60, **FAST)
    a = await Client.joined(srv, name="ana")
    await a.send(ROOM_SET, "k", 1)
    e = await a.wait_error(E_NOT_IN_ROOM)
    assert e[3] == ROOM_SET, e
    await a.join("lobby")
    b = await Client.joined(srv, "lobby", name="bob")
    for k in ("a", "b"):
        await a.send(ROOM_SET, k, 1)
        await b.wait_for(ROOM_STATE)
    bad = [
        ([ROOM_SET, "c", "x" * 40], E_INVALID_ARGUMENT),  # value > 32
        ([ROOM_SET, "", 1], E_INVALID_ARGUMENT),
        ([ROOM_SET, "k" * 65, 1], E_INVALID_ARGUMENT),
        ([ROOM_SET, 1, 1], E_BAD_MESSAGE),
        ([ROOM_SET, "c"], E_BAD_MESSAGE),
        ([ROOM_SET, "c", 1, "0"], E_BAD_MESSAGE),
        ([ROOM_SET, "c", nested(17)], E_INVALID_ARGUMENT),
    ]
    for msg, code in bad:
        await a.send(*msg)
        e = await a.wait_for(ERROR)
        assert e[1] == code and e[3] == ROOM_SET, (msg, e)
    await a.send(ROOM_SET, "c", "y" * 30)  # 3 keys, 2+2+1+31 = 36 bytes: fits
    await b.wait_for(ROOM_STATE)
    await a.send(ROOM_SET, "d", 1)  # a 4th key
    e = await a.wait_error(E_INVALID_ARGUMENT)
    assert "room state full" in e[2], e
    await a.send(ROOM_SET, "a", "z" * 30)  # 36 - 2 + 32 = 66 bytes: past 60
    e = await a.wait_error(E_INVALID_ARGUMENT)
    await a.send(ROOM_SET, "a", "z" * 20)  # replaces: fits
    await b.wait_for(ROOM_STATE)
    await no_frame(b, ROOM_STATE)
    seen = await room_seen(srv, "lobby")
    assert seen[4] == {"a": ["z" * 20, 2], "b": [1, 1], "c": ["y" * 30, 1]}, seen


@async_test
async def test_room_state_outlives_its_room_for_the_lifetime(plaza):
    srv = plaza(room_state_ttl_ms=1500, admin_token=ADMIN, **FAST)
    a = await Client.joined(srv, "den", name="ana")
    await a.send(ROOM_SET, "lamp", "on")
    await a.wait_for(ROOM_STATE)
    await a.send(LEAVE)
    await a.wait_for(LEFT)
    st, body = admin(srv, "GET", "/admin/room-state?room=den")
    assert st == 200 and body["members"] == 0, body
    assert body["state"] == {"lamp": {"value": "on", "version": 1, "by": a.id}}, body
    assert 0 < body["expires_in_ms"] <= 1500, body
    r = await a.join("den")  # within the lifetime: the state is back
    assert r[4] == {"lamp": ["on", 1]}, r
    await a.send(ROOM_SET, "lamp", "off", 1)
    await a.wait_for(ROOM_STATE)
    await a.send(LEAVE)
    await a.wait_for(LEFT)
    await asyncio.sleep(2.0)  # past the lifetime
    st, body = admin(srv, "GET", "/admin/room-state?room=den")
    assert st == 404, body
    r = await a.join("den")
    assert r[4] == {}, r
    # An emptied room whose state is empty keeps nothing.
    await a.send(LEAVE)
    await a.wait_for(LEFT)
    st, _ = admin(srv, "GET", "/admin/room-state?room=den")
    assert st == 404


@async_test
async def test_parked_room_states_are_bounded(plaza):
    # A parked state costs its bytes, ~200 per key and ~200 of its own:
    # 1200 bytes hold two of these.
    srv = plaza(workers=1, room_state_parked_max=1200, **FAST)
    a = await Client.joined(srv, name="ana")
    for i in range(6):
        await a.join(f"p{i}")
        await a.send(ROOM_SET, "k", "v" * 100)
        await a.wait_for(ROOM_STATE)
    await a.send(LEAVE)
    await a.wait_for(LEFT)
    r = await a.join("p0")  # the first to empty went first
    assert r[4] == {}, r
    # Published by the worker's housekeeping, every 50 ms.
    deadline = time.monotonic() + 3
    while metric(srv, "plaza_room_states_evicted_total") < 2:
        assert time.monotonic() < deadline, "no eviction counted"
        await asyncio.sleep(0.05)
    r = await a.join("p5")  # the last is kept
    assert r[4] == {"k": ["v" * 100, 1]}, r


# ---- admin and metrics -----------------------------------------------------


def admin(srv, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(srv.http_url(path), data=data, method=method,
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@async_test
async def test_admin_reads_room_state_and_sends_signals(plaza):
    srv = plaza(workers=2, admin_token=ADMIN, **FAST)
    a = await Client.joined(srv, "lobby", name="ana")
    b = await Client.joined(srv, "lobby", name="bob")
    lone = await Client.joined(srv, name="lone")
    await a.send(ROOM_SET, "obj", {"n": [1, 2.5, None, True], "b": b"\x01\x02"})
    await b.wait_for(ROOM_STATE)
    st, body = admin(srv, "GET", "/admin/room-state?room=lobby")
    assert st == 200, body
    assert body["room"] == "lobby" and body["members"] == 2, body
    assert body["expires_in_ms"] is None, body
    assert body["state"]["obj"] == {
        "value": {"n": [1, 2.5, None, True], "b": {"$bin": "AQI="}},
        "version": 1, "by": a.id}, body
    assert admin(srv, "GET", "/admin/room-state?room=nope")[0] == 404
    assert admin(srv, "GET", "/admin/room-state?room=bad%20name")[0] == 400
    assert admin(srv, "POST", "/admin/room-state", {})[0] == 405

    st, body = admin(srv, "POST", "/admin/signal",
                     {"room": "lobby", "kind": "announce", "data": {"text": "hi"}})
    assert st == 200 and body == {"delivered": 2}, body
    for c in (a, b):
        m = await c.wait_for(SIGNAL)
        assert m[1:5] == [0, "server", "announce", {"text": "hi"}], m
    st, body = admin(srv, "POST", "/admin/signal",
                     {"id": lone.id, "kind": "invite", "data": ["lobby"]})
    assert st == 200 and body == {"delivered": 1}, body
    m = await lone.wait_for(SIGNAL)
    assert m[1:5] == [0, "server", "invite", ["lobby"]], m
    st, body = admin(srv, "POST", "/admin/signal", {"id": lone.id + 1000, "kind": "x"})
    assert st == 404, body
    assert admin(srv, "POST", "/admin/signal", {"room": "nope", "kind": "x"})[0] == 404
    for bad in ({"kind": "x"}, {"kind": "", "room": "lobby"}, {"kind": 1, "room": "lobby"},
                {"kind": "x", "room": "lobby", "id": a.id},
                {"kind": "x", "room": "lobby", "data": "y" * 5000},
                {"kind": "x", "id": "12"}):
        assert admin(srv, "POST", "/admin/signal", bad)[0] == 400, bad
    await no_frame(a, SIGNAL)


@async_test
async def test_metrics_count_the_new_ops(plaza):
    srv = plaza(**FAST)
    a = await Client.joined(srv, "lobby", name="ana")
    b = await Client.joined(srv, "lobby", name="bob")
    await a.send(SET, {"x": 1})
    await b.wait_for(MEMBER)
    await a.send(SIGNAL_C, None, "k", 1)
    await b.wait_for(SIGNAL)
    await a.send(ROOM_SET, "k", 1, 0)
    await b.wait_for(ROOM_STATE)
    await a.send(ROOM_SET, "k", 1, 0)
    await a.wait_error(E_CONFLICT)
    _, _, text = http_get(srv, "/metrics")
    vals = {}
    for ln in text.splitlines():
        if not ln.startswith("#"):
            k, v = ln.rsplit(" ", 1)
            vals[k] = float(v)
    assert vals['plaza_messages_in_total{op="set"}'] == 1
    assert vals['plaza_messages_in_total{op="signal"}'] == 1
    assert vals['plaza_messages_in_total{op="room_set"}'] == 2
    assert vals['plaza_messages_out_total{op="member"}'] == 2
    assert vals['plaza_messages_out_total{op="signal"}'] == 1
    assert vals['plaza_messages_out_total{op="room_state"}'] == 2
    assert vals['plaza_errors_total{code="12",name="conflict"}'] == 1
    assert vals["plaza_room_states_parked"] == 0
    # make test installs prometheus: promtool must be there.
    assert shutil.which("promtool"), "promtool missing (Debian's prometheus)"
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
