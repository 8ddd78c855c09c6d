"""JOIN, LEAVE, room names, room switching, full rooms."""

from plaza_client import (E_INVALID_ARGUMENT, E_ROOM_FULL, JOINED, LEFT, ROOM, Client,
                          async_test)


def member_ids(room_msg):
    return sorted(m[0] for m in room_msg[2])


@async_test
async def test_join_lists_members_and_announces_joined(plaza):
    srv = plaza()
    a = await Client.joined(srv, "lobby", name="alice")
    r = a.room_msg
    assert len(r) >= 4 and r[1] == "lobby", f"ROOM {r!r}"
    assert member_ids(r) == [a.id], f"ROOM members {r[2]!r}, wanted only {a.id}"
    assert all(len(m) >= 6 for m in r[2]), f"member entries {r[2]!r}"
    assert isinstance(r[3], list), f"history {r[3]!r}"

    b = await Client.joined(srv, "lobby", name="bob")
    assert member_ids(b.room_msg) == sorted([a.id, b.id]), f"ROOM {b.room_msg!r}"
    names = {m[0]: m[1] for m in b.room_msg[2]}
    assert names[a.id] == "alice" and names[b.id] == "bob", names
    j = await a.wait_for(JOINED, lambda m: m[1] == b.id)
    assert len(j) >= 7 and j[2] == "bob", f"JOINED {j!r}"
    assert all(isinstance(v, (int, float)) for v in j[3:7]), f"JOINED position {j!r}"
    await a.close()
    await b.close()


@async_test
async def test_joiner_gets_no_joined_for_itself(plaza):
    srv = plaza()
    a = await Client.joined(srv, "lobby")
    frames = await a.collect(0.5)
    assert not any(f[0] == JOINED and f[1] == a.id for f in frames), frames
    await a.close()


@async_test
async def test_bad_room_names_are_invalid_argument(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    for bad in ("", "x" * 65, "a b", "a/b", "café"):
        await c.send(2, bad)
        e = await c.wait_for(9)
        assert e[1] == E_INVALID_ARGUMENT, f"JOIN {bad!r} answered {e!r}"
    frames = await c.collect(0.3)
    assert not any(f[0] == ROOM for f in frames), f"a bad name was joined: {frames!r}"
    await c.close()


@async_test
async def test_room_names_of_all_allowed_chars_and_64_bytes_are_accepted(plaza):
    srv = plaza()
    c = await Client.joined(srv)
    for good in ("Az09._:-", "r" * 64):
        await c.join(good)
    await c.close()


@async_test
async def test_join_another_room_leaves_the_first(plaza):
    srv = plaza()
    a = await Client.joined(srv, "first")
    b = await Client.joined(srv, "first")
    c = await Client.joined(srv, "second")
    await a.wait_for(JOINED, lambda m: m[1] == b.id)

    r = await a.join("second")
    assert member_ids(r) == sorted([a.id, c.id]), f"ROOM second {r!r}"
    await b.wait_for(LEFT, lambda m: m[1] == a.id)
    await c.wait_for(JOINED, lambda m: m[1] == a.id)

    # a no longer hears the first room.
    await b.send(5, "only in first")
    await b.wait_for(6, lambda m: m[4] == "only in first")
    await a.ping()
    await a.collect(0.3)
    assert not any(f[0] == 6 and f[4] == "only in first" for f in a.seen), \
        f"a still receives the first room's chat: {a.history()}"
    await a.close()
    await b.close()
    await c.close()


@async_test
async def test_full_room_is_room_full(plaza):
    srv = plaza(room_max_members=1)
    a = await Client.joined(srv, "tiny")
    b = await Client.joined(srv)
    await b.send(2, "tiny")
    e = await b.wait_for(9)
    assert e[1] == E_ROOM_FULL, f"JOIN of a full room answered {e!r}"
    # Another room still works for b.
    await b.join("other")
    await a.close()
    await b.close()


@async_test
async def test_leave_sends_left_to_members_and_leaver(plaza):
    srv = plaza()
    a = await Client.joined(srv, "lobby")
    b = await Client.joined(srv, "lobby")
    await a.wait_for(JOINED, lambda m: m[1] == b.id)
    await a.send(3)
    await a.wait_for(LEFT, lambda m: m[1] == a.id)
    await b.wait_for(LEFT, lambda m: m[1] == a.id)
    # After LEAVE, a is outside any room.
    await a.send(5, "nobody hears this")
    e = await a.wait_for(9)
    assert e[1] == 3, f"CHAT after LEAVE answered {e!r}"
    await a.close()
    await b.close()
