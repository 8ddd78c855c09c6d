"""MOVE and STATE: delivery, seq ordering, argument checks, room rules."""

import math

from plaza_client import (E_INVALID_ARGUMENT, E_MOVE_REJECTED, E_NOT_IN_ROOM, ERROR, STATE,
                          Client, approx_eq, async_test)

FREE = dict(max_speed=0, bounds=0)  # rules off: tests that are not about them


def entry_of(state, ident):
    for e in state[2]:
        if e[0] == ident:
            return e
    return None


async def wait_entry(client, ident, pred=lambda e: True, timeout=5.0):
    """The first STATE entry for `ident` satisfying pred."""
    def match(m):
        e = entry_of(m, ident)
        return e is not None and pred(e)
    m = await client.wait_for(STATE, match, timeout=timeout)
    assert isinstance(m[1], int), f"STATE tick {m[1]!r}"
    e = entry_of(m, ident)
    assert len(e) >= 6, f"STATE entry {e!r}"
    return e


def assert_pos(e, x, y, z, yaw):
    assert all(approx_eq(a, b) for a, b in zip(e[2:6], (x, y, z, yaw))), \
        f"STATE entry {e!r}, wanted position {(x, y, z, yaw)}"


@async_test
async def test_state_reaches_every_member_with_last_seq(plaza):
    srv = plaza(**FREE)
    a = await Client.joined(srv, "moves")
    b = await Client.joined(srv, "moves")
    for seq in (1, 2, 3):
        await a.send(4, seq, 1.0 * seq, 2.5, -3.25, 0.5)
    for who in (a, b):
        e = await wait_entry(who, a.id, lambda e: e[1] == 3)
        assert_pos(e, 3.0, 2.5, -3.25, 0.5)
    await a.close()
    await b.close()


@async_test
async def test_state_holds_only_members_that_moved(plaza):
    srv = plaza(**FREE)
    a = await Client.joined(srv, "moves")
    b = await Client.joined(srv, "moves")
    await b.send(4, 1, 7.0, 0.0, 0.0, 0.0)
    await wait_entry(a, b.id, lambda e: e[1] == 1)
    await a.collect(0.3)  # let b's change go by
    await a.send(4, 1, 1.0, 0.0, 0.0, 0.0)
    await wait_entry(b, a.id, lambda e: e[1] == 1)
    await b.collect(0.3)
    later = [m for m in b.seen[-20:] if m[0] == STATE and entry_of(m, a.id)]
    for m in later:
        assert entry_of(m, b.id) is None, f"STATE lists b, which did not move: {m!r}"
    await a.close()
    await b.close()


@async_test
async def test_older_move_seq_is_ignored(plaza):
    srv = plaza(**FREE)
    a = await Client.joined(srv, "moves")
    b = await Client.joined(srv, "moves")
    await a.send(4, 5, 10.0, 0.0, 0.0, 0.0)
    await a.send(4, 3, 20.0, 0.0, 0.0, 0.0)
    e = await wait_entry(b, a.id, lambda e: e[1] == 5)
    assert_pos(e, 10.0, 0.0, 0.0, 0.0)
    # Let a few ticks pass: seq 3 must never show up.
    await b.collect(0.5)
    stale = [m for m in b.seen if m[0] == STATE and (entry_of(m, a.id) or [0, 0])[1] == 3]
    assert not stale, f"seq 3 applied after seq 5: {stale!r}"
    # A later joiner sees the position of seq 5.
    c = await Client.joined(srv, "moves")
    pos = [m for m in c.room_msg[2] if m[0] == a.id]
    assert pos and approx_eq(pos[0][2], 10.0), f"ROOM members {c.room_msg[2]!r}"
    await a.close()
    await b.close()
    await c.close()


@async_test
async def test_move_outside_room_is_not_in_room(plaza):
    srv = plaza(**FREE)
    a = await Client.joined(srv)
    await a.send(4, 1, 1.0, 1.0, 1.0, 0.0)
    e = await a.wait_for(ERROR)
    assert e[1] == E_NOT_IN_ROOM, f"MOVE outside a room answered {e!r}"
    await a.close()


@async_test
async def test_non_finite_coordinate_is_invalid_argument(plaza):
    srv = plaza(**FREE)
    a = await Client.joined(srv, "moves")
    b = await Client.joined(srv, "moves")
    for seq, bad in ((1, math.nan), (2, math.inf), (3, -math.inf)):
        await a.send(4, seq, bad, 0.0, 0.0, 0.0)
        e = await a.wait_for(ERROR)
        assert e[1] == E_INVALID_ARGUMENT, f"MOVE x={bad} answered {e!r}"
    await a.send(4, 4, 0.0, 0.0, 0.0, math.nan)
    e = await a.wait_for(ERROR)
    assert e[1] == E_INVALID_ARGUMENT, f"MOVE yaw=nan answered {e!r}"
    await b.collect(0.3)
    for m in b.seen:
        if m[0] == STATE and entry_of(m, a.id):
            assert all(math.isfinite(v) for v in entry_of(m, a.id)[2:6]), m
    await a.close()
    await b.close()


@async_test
async def test_integer_coordinates_are_accepted(plaza):
    srv = plaza(**FREE)
    a = await Client.joined(srv, "moves")
    b = await Client.joined(srv, "moves")
    await a.send(4, 1, 1, -2, 3, 0)
    e = await wait_entry(b, a.id, lambda e: e[1] == 1)
    assert_pos(e, 1.0, -2.0, 3.0, 0.0)
    assert not any(m[0] == ERROR for m in a.seen), a.history()
    await a.close()
    await b.close()


@async_test
async def test_float32_coordinates_are_accepted(plaza):
    import msgpack
    srv = plaza(**FREE)
    a = await Client.joined(srv, "moves")
    # [4, 1, f32 1.5, f32 -0.25, f32 8.0, f32 0.125]
    data = b"\x96\x04\x01" + b"".join(
        msgpack.packb(v, use_single_float=True) for v in (1.5, -0.25, 8.0, 0.125))
    assert data[3] == 0xCA
    await a.send_raw(data)
    e = await wait_entry(a, a.id, lambda e: e[1] == 1)
    assert_pos(e, 1.5, -0.25, 8.0, 0.125)
    await a.close()


@async_test
async def test_move_beyond_max_speed_is_rejected_with_server_position(plaza):
    srv = plaza(max_speed=10, bounds=0)
    a = await Client.joined(srv, "rules")
    me = [m for m in a.room_msg[2] if m[0] == a.id][0]
    x0 = me[2]
    # The first move after JOIN is the spawn (bounds only); speed counts after.
    await a.send(4, 1, x0, me[3], me[4], 0.0)
    await wait_entry(a, a.id, lambda e: e[1] == 1)
    target = x0 + 1000.0
    await a.send(4, 2, target, me[3], me[4], 0.0)
    e = await a.wait_for(ERROR, keep=True)
    assert e[1] == E_MOVE_REJECTED, f"teleport answered {e!r}"
    st = await wait_entry(a, a.id, lambda e: e[1] == 2)
    assert abs(st[2] - target) > 100, \
        f"STATE shows the rejected position {st!r} (spawn x {x0}, target {target})"
    await a.close()


@async_test
async def test_first_move_after_join_spawns_far_from_origin(plaza):
    srv = plaza()  # the default rules: --max-speed 50, --bounds 10000
    a = await Client.joined(srv, "spawn")
    # A new user's client puts its avatar at x=60, more than one second's
    # travel from the origin, and idles there (no time between moves).
    for seq in range(1, 41):
        await a.send(4, seq, 60.0 + 0.01 * seq, 0.0, 5.0, 0.0)
    st = await wait_entry(a, a.id, lambda e: e[1] == 40)
    assert_pos(st, 60.4, 0.0, 5.0, 0.0)
    await a.collect(0.2)
    errors = [m for m in a.seen if m[0] == ERROR]
    assert not errors, f"the spawn and the moves after it answered {errors!r}"
    # Placed, it is speed-checked like everyone: a far jump is refused.
    await a.send(4, 41, 2060.0, 0.0, 5.0, 0.0)
    e = await a.wait_for(ERROR, keep=True)
    assert e[1] == E_MOVE_REJECTED, f"a 2000-unit jump answered {e!r}"
    st = await wait_entry(a, a.id, lambda e: e[1] == 41)
    assert_pos(st, 60.4, 0.0, 5.0, 0.0)
    await a.close()


@async_test
async def test_move_outside_bounds_is_rejected_with_server_position(plaza):
    srv = plaza(max_speed=0, bounds=100)
    a = await Client.joined(srv, "rules")
    await a.send(4, 1, 500.0, 0.0, 0.0, 0.0)
    e = await a.wait_for(ERROR, keep=True)
    assert e[1] == E_MOVE_REJECTED, f"out-of-bounds MOVE answered {e!r}"
    st = await wait_entry(a, a.id)
    assert all(abs(v) <= 100 for v in st[2:5]), f"STATE outside bounds {st!r}"
    # A move inside the bounds is still accepted.
    await a.send(4, 2, 50.0, 0.0, -50.0, 0.0)
    st = await wait_entry(a, a.id, lambda e: e[1] == 2)
    assert_pos(st, 50.0, 0.0, -50.0, 0.0)
    await a.close()
