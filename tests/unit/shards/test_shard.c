/*
 * Guards shards/shard.c, the protocol's room semantics seen from the
 * clients: every session gets a recording outlet that decodes each payload
 * with pz_decode_server and keeps op, fields and the `shared` pointer.
 * Checked: JOIN (ROOM with members and history to the joiner, JOINED to
 * the others), room full, LEAVE (LEFT to the others, to self when asked),
 * empty rooms freed, swap-removal keeping membership right, MOVE (stale seq
 * ignored, a rejected move acknowledged at the old position, the first
 * move after a JOIN a spawn held only to the bounds, a resume not), the tick
 * (one STATE per room with only changed members, one payload shared by every
 * recipient: encode once), detached members (receive nothing, stay
 * members), CHAT (per-room seq, sender included, history in ROOM) and the
 * resume replay of pz_shard_send_room. The clustered part (remote.c and
 * the hooks) is in test_shard_cluster.c.
 */
#include "shard_fixture.h"

static void test_join_sends_room_and_joined(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);

  join(f, a, "lobby");
  const pz_smsg_t *m = only(f, 0, PZ_S_ROOM);
  assert_str_equal(m->u.room.room, "lobby");
  assert_int_equal(m->u.room.n_members, 1);
  assert_int_equal(m->u.room.members[0].id, 100);
  assert_str_equal(m->u.room.members[0].name, "ana");
  assert_int_equal(m->u.room.n_history, 0);
  assert_int_equal(f->rec[0].msgs[0].kind, PZ_PAYLOAD_RELIABLE);
  assert_ptr_equal(a->room, find_room(f, "lobby"));
  assert_int_equal(f->sh.n_rooms, 1);
  clear_all(f);

  join(f, b, "lobby");
  m = only(f, 1, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_members, 2);
  assert_non_null(room_member(m, 100));
  assert_non_null(room_member(m, 101)); /* the joiner included */
  assert_str_equal(room_member(m, 101)->name, "bob");
  m = only(f, 0, PZ_S_JOINED);
  assert_int_equal(m->u.joined.id, 101);
  assert_str_equal(m->u.joined.name, "bob");
  assert_int_equal(f->rec[0].msgs[0].kind, PZ_PAYLOAD_RELIABLE);
  clear_all(f);

  join(f, c, "lobby");
  m = only(f, 2, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_members, 3);
  for (uint64_t id = 100; id <= 102; id++)
    assert_non_null(room_member(m, id));
  assert_int_equal(only(f, 0, PZ_S_JOINED)->u.joined.id, 102);
  assert_int_equal(only(f, 1, PZ_S_JOINED)->u.joined.id, 102);
  /* JOINED encoded once for both. */
  assert_non_null(f->rec[0].msgs[0].shared);
  assert_ptr_equal(f->rec[0].msgs[0].shared, f->rec[1].msgs[0].shared);
  assert_int_equal(f->sh.n_rooms, 1);
  assert_int_equal(find_room(f, "lobby")->n_members, 3);
}

static void test_join_carries_positions(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  pz_pos_t p = {1.5f, -2, 3.25f, 0.5f};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &p, 0), 0);
  pz_shard_tick(&f->sh);
  clear_all(f);
  join(f, b, "lobby");
  const pz_member_t *ma = room_member(only(f, 1, PZ_S_ROOM), 100);
  assert_non_null(ma);
  assert_float_equal(ma->pos.x, 1.5f, 0);
  assert_float_equal(ma->pos.y, -2, 0);
  assert_float_equal(ma->pos.z, 3.25f, 0);
  assert_float_equal(ma->pos.yaw, 0.5f, 0);
}

static void test_room_full(void **state) {
  fx_t *f = *state; /* rooms of 2 */
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, a, "tiny");
  join(f, b, "tiny");
  clear_all(f);
  assert_int_equal(pz_shard_join(&f->sh, c, pz_str_c("tiny")),
                   PZ_SHARD_ROOM_FULL);
  assert_null(c->room);
  assert_int_equal(find_room(f, "tiny")->n_members, 2);
  for (int i = 0; i < 3; i++)
    assert_nothing(f, i);
  /* Another room still takes c; a place freed in the full one too. */
  join(f, c, "other");
  assert_int_equal(f->sh.n_rooms, 2);
  pz_shard_leave(&f->sh, c, false);
  pz_shard_leave(&f->sh, b, false);
  clear_all(f);
  join(f, c, "tiny");
  assert_int_equal(only(f, 2, PZ_S_ROOM)->u.room.n_members, 2);
}

/* ---- leave ---------------------------------------------------------------
 */

static void test_leave_sends_left(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, a, "lobby");
  join(f, b, "lobby");
  join(f, c, "lobby");
  clear_all(f);

  pz_shard_leave(&f->sh, b, false);
  assert_null(b->room);
  assert_int_equal(only(f, 0, PZ_S_LEFT)->u.left.id, 101);
  assert_int_equal(only(f, 2, PZ_S_LEFT)->u.left.id, 101);
  assert_ptr_equal(f->rec[0].msgs[0].shared, f->rec[2].msgs[0].shared);
  assert_nothing(f, 1);
  assert_int_equal(find_room(f, "lobby")->n_members, 2);
  clear_all(f);

  pz_shard_leave(&f->sh, c, true);
  assert_int_equal(only(f, 0, PZ_S_LEFT)->u.left.id, 102);
  assert_int_equal(only(f, 2, PZ_S_LEFT)->u.left.id, 102); /* asked */
  assert_nothing(f, 1);
  clear_all(f);

  /* The last one leaving with notify_self still hears its LEFT. */
  pz_shard_leave(&f->sh, a, true);
  assert_int_equal(only(f, 0, PZ_S_LEFT)->u.left.id, 100);
  assert_int_equal(f->sh.n_rooms, 0);
  clear_all(f);

  /* Leaving outside a room is a no-op. */
  pz_shard_leave(&f->sh, a, true);
  assert_nothing(f, 0);
}

static void test_empty_rooms_freed(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, a, "r1");
  join(f, b, "r1");
  join(f, c, "r2");
  assert_int_equal(f->sh.n_rooms, 2);
  pz_shard_leave(&f->sh, c, false);
  assert_int_equal(f->sh.n_rooms, 1);
  assert_null(find_room(f, "r2"));
  pz_shard_leave(&f->sh, a, false);
  assert_int_equal(f->sh.n_rooms, 1);
  /* Destroying the last member frees the room too. */
  pz_shard_session_destroy(&f->sh, b);
  assert_int_equal(f->sh.n_rooms, 0);
  assert_null(find_room(f, "r1"));
  assert_int_equal(f->sh.n_sessions, 2);
  /* A room of that name can be created again, fresh. */
  clear_all(f);
  join(f, a, "r1");
  const pz_smsg_t *m = only(f, 0, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_members, 1);
  assert_int_equal(m->u.room.n_history, 0);
}

static void test_destroy_sends_left(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  pz_pos_t p = {1, 1, 1, 0};
  assert_int_equal(pz_shard_move(&f->sh, b, 1, &p, 0), 0);
  clear_all(f);
  pz_shard_session_destroy(&f->sh, b); /* dirty when it goes */
  assert_int_equal(only(f, 0, PZ_S_LEFT)->u.left.id, 101);
  assert_nothing(f, 1);
  assert_null(pz_shard_session_find(&f->sh, 101));
  assert_int_equal(f->sh.n_sessions, 1);
  clear_all(f);
  /* The tick does not reach for the freed session. */
  pz_shard_tick(&f->sh);
  assert_nothing(f, 0);
}

static void test_swap_remove_keeps_membership(void **state) {
  fx_t *f = *state;
  pz_session_t *s[6];
  for (int i = 0; i < 6; i++) {
    s[i] = mk(f, i);
    join(f, s[i], "lobby");
  }
  /* Remove first, last, middle, and whoever was swapped in. */
  pz_shard_leave(&f->sh, s[0], false);
  pz_shard_leave(&f->sh, s[5], false);
  pz_shard_leave(&f->sh, s[2], false);
  pz_shard_leave(&f->sh, s[4], false);
  pz_room_t *r = find_room(f, "lobby");
  assert_int_equal(r->n_members, 2);
  for (uint32_t i = 0; i < r->n_members; i++)
    assert_int_equal(r->members[i]->member_index, i);
  clear_all(f);
  pz_session_t *g = mk(f, 6);
  join(f, g, "lobby");
  const pz_smsg_t *m = only(f, 6, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_members, 3);
  assert_non_null(room_member(m, 101));
  assert_non_null(room_member(m, 103));
  assert_non_null(room_member(m, 106));
  /* Only the remaining members heard JOINED. */
  assert_int_equal(only(f, 1, PZ_S_JOINED)->u.joined.id, 106);
  assert_int_equal(only(f, 3, PZ_S_JOINED)->u.joined.id, 106);
  assert_nothing(f, 0);
  assert_nothing(f, 2);
  assert_nothing(f, 4);
  assert_nothing(f, 5);
}

/* ---- sessions ------------------------------------------------------------
 */

static void test_session_table(void **state) {
  fx_t *f = *state;
  char long_name[64];
  memset(long_name, 'n', sizeof(long_name));
  uint8_t secret[PZ_TOKEN_SECRET_BYTES];
  for (int i = 0; i < PZ_TOKEN_SECRET_BYTES; i++)
    secret[i] = (uint8_t)(0xf0 + i);
  pz_session_t *s =
      pz_shard_session_create(&f->sh, 7, (pz_str_t){long_name, 64}, secret, 0);
  assert_int_equal(f->sh.n_sessions, 1);
  assert_ptr_equal(pz_shard_session_find(&f->sh, 7), s);
  assert_null(pz_shard_session_find(&f->sh, 8));
  assert_int_equal(s->name_len, PZ_NAME_MAX); /* capped */
  char token[PZ_SESSION_TOKEN_MAX + 1];
  assert_int_equal(pz_session_token(s, token), 34);
  assert_string_equal(token, "7.f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  assert_null(s->room);
  assert_null(s->outlet);
  pz_shard_session_remove(&f->sh, s);
  assert_int_equal(f->sh.n_sessions, 0);
  assert_null(pz_shard_session_find(&f->sh, 7));
  pz_shard_session_add(&f->sh, s);
  assert_ptr_equal(pz_shard_session_find(&f->sh, 7), s);
  assert_int_equal(f->sh.n_sessions, 1);
  pz_shard_session_destroy(&f->sh, s);
  assert_int_equal(f->sh.n_sessions, 0);
}

/* ---- move and tick -------------------------------------------------------
 */

static void test_move_ignores_stale_seq(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  pz_pos_t p0 = {0, 0, 0, 0}, p5 = {5, 0, 0, 0}, p4 = {4, 0, 0, 0},
           p6 = {6, 0, 0, 0};
  /* The first seq is taken whatever it is, 0 included. */
  assert_int_equal(pz_shard_move(&f->sh, a, 0, &p0, 0), 0);
  assert_int_equal(pz_shard_move(&f->sh, a, 5, &p5, 0), 0);
  assert_int_equal(pz_shard_move(&f->sh, a, 5, &p6, 0), PZ_SHARD_STALE);
  assert_int_equal(pz_shard_move(&f->sh, a, 4, &p4, 0), 1);
  assert_int_equal(pz_shard_move(&f->sh, a, 0, &p4, 0), 1);
  assert_int_equal(a->seq, 5);
  assert_float_equal(a->pos.x, 5, 0);
  clear_all(f);
  pz_shard_tick(&f->sh);
  const pz_state_entry_t *e = state_entry(only(f, 1, PZ_S_STATE), 100);
  assert_non_null(e);
  assert_int_equal(e->seq, 5);
  assert_float_equal(e->pos.x, 5, 0);
  clear_all(f);

  /* Only stale moves since: no STATE at all. */
  assert_int_equal(pz_shard_move(&f->sh, a, 3, &p6, 0), 1);
  pz_shard_tick(&f->sh);
  assert_nothing(f, 0);
  assert_nothing(f, 1);

  assert_int_equal(pz_shard_move(&f->sh, a, 6, &p6, 0), 0);
  pz_shard_tick(&f->sh);
  e = state_entry(only(f, 1, PZ_S_STATE), 100);
  assert_int_equal(e->seq, 6);
  assert_float_equal(e->pos.x, 6, 0);
}

static void test_move_rejected_acknowledged_at_old_position(void **state) {
  fx_t *f = *state; /* max speed 10, bounds 100 */
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  pz_pos_t ok = {3, 4, 0, 1}, out = {500, 0, 0, 0}, fast = {3, 4, 90, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &ok, 0), 0);
  pz_shard_tick(&f->sh);
  clear_all(f);

  assert_int_equal(pz_shard_move(&f->sh, a, 2, &out, 100),
                   PZ_SHARD_MOVE_REJECTED);
  assert_float_equal(a->pos.x, 3, 0);
  pz_shard_tick(&f->sh);
  for (int i = 0; i < 2; i++) { /* the mover and the others alike */
    const pz_state_entry_t *e = state_entry(only(f, i, PZ_S_STATE), 100);
    assert_non_null(e);
    assert_int_equal(e->seq, 2);
    assert_float_equal(e->pos.x, 3, 0);
    assert_float_equal(e->pos.y, 4, 0);
    assert_float_equal(e->pos.z, 0, 0);
    assert_float_equal(e->pos.yaw, 1, 0);
  }
  clear_all(f);

  /* Speed: a teleport inside the bounds. */
  assert_int_equal(pz_shard_move(&f->sh, a, 3, &fast, 200),
                   PZ_SHARD_MOVE_REJECTED);
  /* A rejected seq is consumed: resending it is stale. */
  assert_int_equal(pz_shard_move(&f->sh, a, 3, &ok, 200), 1);
  pz_shard_tick(&f->sh);
  const pz_state_entry_t *e = state_entry(only(f, 1, PZ_S_STATE), 100);
  assert_int_equal(e->seq, 3);
  assert_float_equal(e->pos.z, 0, 0);
}

/* The STATE entry of session `id` in the only message rec i got. */
static const pz_state_entry_t *only_entry(fx_t *f, int i, uint64_t id) {
  const pz_state_entry_t *e = state_entry(only(f, i, PZ_S_STATE), id);
  assert_non_null(e);
  return e;
}

static void test_first_move_after_join_spawns(void **state) {
  fx_t *f = *state; /* max speed 10, bounds 100 */
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  /* 60 units from the origin at once: six seconds' worth, yet a spawn. */
  pz_pos_t spawn = {60, 0, -20, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &spawn, 1000), 0);
  clear_all(f);
  pz_shard_tick(&f->sh);
  for (int i = 0; i < 2; i++) {
    const pz_state_entry_t *e = only_entry(f, i, 100);
    assert_int_equal(e->seq, 1);
    assert_float_equal(e->pos.x, 60, 0);
    assert_float_equal(e->pos.z, -20, 0);
  }
  /* From there on speed counts: walking on passes, a jump back fails. */
  pz_pos_t walk = {63, 0, -20, 0}, back = {0, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 2, &walk, 1100), 0);
  assert_int_equal(pz_shard_move(&f->sh, a, 3, &back, 1200),
                   PZ_SHARD_MOVE_REJECTED);
  assert_float_equal(a->pos.x, 63, 0);
  /* The other member's first move is its own spawn. */
  pz_pos_t far = {-90, 90, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, b, 1, &far, 1200), 0);
  assert_float_equal(b->pos.x, -90, 0);
}

static void test_spawn_keeps_the_bounds(void **state) {
  fx_t *f = *state; /* max speed 10, bounds 100 */
  pz_session_t *a = mk(f, 0);
  join(f, a, "lobby");
  pz_pos_t out = {0, 101, 0, 0}, in = {0, 95, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &out, 0),
                   PZ_SHARD_MOVE_REJECTED);
  assert_float_equal(a->pos.y, 0, 0);
  /* Refused, the spawn is still to come: the next move may land far. */
  assert_int_equal(pz_shard_move(&f->sh, a, 2, &in, 0), 0);
  assert_float_equal(a->pos.y, 95, 0);
}

/* Session 0 in "lobby", spawned by its MOVE seq 1 at (50, 0, 0) at 0 ms. */
static pz_session_t *spawned_at_50(fx_t *f) {
  pz_session_t *a = mk(f, 0);
  join(f, a, "lobby");
  pz_pos_t p = {50, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &p, 0), 0);
  return a;
}

static void test_join_again_spawns_again(void **state) {
  fx_t *f = *state; /* max speed 10, bounds 100 */
  pz_session_t *a = spawned_at_50(f);
  pz_pos_t p = {50, 0, 0, 0}, q = {-50, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 2, &q, 100),
                   PZ_SHARD_MOVE_REJECTED);
  pz_shard_leave(&f->sh, a, false);
  join(f, a, "plaza");
  assert_int_equal(pz_shard_move(&f->sh, a, 3, &q, 200), 0);
  assert_float_equal(a->pos.x, -50, 0);
  /* ... and only that first move. */
  assert_int_equal(pz_shard_move(&f->sh, a, 4, &p, 300),
                   PZ_SHARD_MOVE_REJECTED);
}

static void test_resume_is_not_a_spawn(void **state) {
  fx_t *f = *state; /* max speed 10, bounds 100 */
  pz_session_t *a = spawned_at_50(f);
  pz_pos_t q = {-50, 0, 0, 0};
  pz_shard_session_detach(&f->sh, a, 30000);
  pz_shard_session_attach(&f->sh, a, &f->rec[0].outlet);
  /* Back at its place, still moving at walking speed, ten seconds on. */
  assert_int_equal(pz_shard_move(&f->sh, a, 2, &q, 10000),
                   PZ_SHARD_MOVE_REJECTED);
  assert_float_equal(a->pos.x, 50, 0);
  pz_pos_t near = {45, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 3, &near, 10000), 0);
}

static void test_tick_one_shared_state_per_room(void **state) {
  fx_t *f = *state;
  pz_session_t *s[5];
  for (int i = 0; i < 5; i++)
    s[i] = mk(f, i);
  join(f, s[0], "r1");
  join(f, s[1], "r1");
  join(f, s[2], "r1");
  join(f, s[3], "r2");
  join(f, s[4], "r2");
  join(f, mk(f, 5), "r3"); /* a room where nothing moves */
  clear_all(f);

  pz_pos_t p = {1, 2, 3, 0}, q = {7, 8, 9, 0.25f};
  assert_int_equal(pz_shard_move(&f->sh, s[0], 1, &p, 0), 0);
  assert_int_equal(pz_shard_move(&f->sh, s[0], 2, &q, 0), 0); /* latest */
  assert_int_equal(pz_shard_move(&f->sh, s[2], 10, &p, 0), 0);
  assert_int_equal(pz_shard_move(&f->sh, s[3], 1, &q, 0), 0);
  uint64_t frames = f->sh.stats.state_frames;
  uint64_t entries = f->sh.stats.state_entries;
  pz_shard_tick(&f->sh);
  uint64_t tick = f->sh.tick;

  /* r1: a, b, c each get one STATE with a and c only. */
  pz_payload_t *shared = f->rec[0].msgs[0].shared;
  assert_non_null(shared);
  for (int i = 0; i < 3; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_STATE);
    assert_int_equal(f->rec[i].msgs[0].kind, PZ_PAYLOAD_STATE);
    assert_ptr_equal(f->rec[i].msgs[0].shared, shared); /* encoded once */
    assert_int_equal(m->u.state.tick, tick);
    assert_int_equal(m->u.state.n, 2);
    const pz_state_entry_t *ea = state_entry(m, 100), *ec = state_entry(m, 102);
    assert_non_null(ea);
    assert_non_null(ec);
    assert_null(state_entry(m, 101));
    assert_int_equal(ea->seq, 2);
    assert_float_equal(ea->pos.x, 7, 0);
    assert_float_equal(ea->pos.yaw, 0.25f, 0);
    assert_int_equal(ec->seq, 10);
    assert_float_equal(ec->pos.z, 3, 0);
  }
  /* r2: d and e get one STATE with d only, one payload. */
  for (int i = 3; i < 5; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_STATE);
    assert_int_equal(f->rec[i].msgs[0].kind, PZ_PAYLOAD_STATE);
    assert_int_equal(m->u.state.n, 1);
    assert_int_equal(m->u.state.entries[0].id, 103);
    assert_int_equal(m->u.state.entries[0].seq, 1);
  }
  assert_non_null(f->rec[3].msgs[0].shared);
  assert_ptr_equal(f->rec[3].msgs[0].shared, f->rec[4].msgs[0].shared);
  /* r3: nothing. */
  assert_nothing(f, 5);
  assert_int_equal(f->sh.stats.state_frames - frames, 2);
  assert_int_equal(f->sh.stats.state_entries - entries, 3);
  clear_all(f);

  /* Nothing moved since: no STATE anywhere, but the tick advances. */
  pz_shard_tick(&f->sh);
  assert_int_equal(f->sh.tick, tick + 1);
  for (int i = 0; i < 6; i++)
    assert_nothing(f, i);
  assert_int_equal(f->sh.stats.state_frames - frames, 2);

  /* The next change carries the new tick number. */
  assert_int_equal(pz_shard_move(&f->sh, s[1], 1, &p, 0), 0);
  pz_shard_tick(&f->sh);
  const pz_smsg_t *m = only(f, 0, PZ_S_STATE);
  assert_int_equal(m->u.state.tick, tick + 2);
  assert_int_equal(m->u.state.n, 1);
  assert_int_equal(m->u.state.entries[0].id, 101);
}

static void test_lone_member_gets_own_state(void **state) {
  /* The mover's own entry is included: it is how it reconciles. */
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0);
  join(f, a, "solo");
  clear_all(f);
  pz_pos_t p = {1, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 9, &p, 0), 0);
  pz_shard_tick(&f->sh);
  const pz_smsg_t *m = only(f, 0, PZ_S_STATE);
  assert_int_equal(m->u.state.n, 1);
  assert_int_equal(m->u.state.entries[0].id, 100);
  assert_int_equal(m->u.state.entries[0].seq, 9);
}

static void test_leaver_not_in_state(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  pz_pos_t p = {1, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &p, 0), 0);
  assert_int_equal(pz_shard_move(&f->sh, b, 1, &p, 0), 0);
  pz_shard_leave(&f->sh, a, false);
  join(f, a, "elsewhere");
  clear_all(f);
  pz_shard_tick(&f->sh);
  const pz_smsg_t *m = only(f, 1, PZ_S_STATE);
  assert_int_equal(m->u.state.n, 1);
  assert_int_equal(m->u.state.entries[0].id, 101);
  /* a moved before leaving: nothing to say about it in its new room. */
  assert_nothing(f, 0);
}

/* ---- detached members ----------------------------------------------------
 */

static void test_detached_member_gets_nothing_but_stays(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, a, "lobby");
  join(f, b, "lobby");
  join(f, c, "lobby");
  pz_shard_session_detach(&f->sh, b, 30000);
  assert_null(b->outlet);
  assert_int_equal(b->expires_ms, 30000);
  assert_ptr_equal(b->room, find_room(f, "lobby"));
  clear_all(f);

  pz_pos_t p = {1, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &p, 0), 0);
  pz_shard_tick(&f->sh);
  pz_shard_chat(&f->sh, a, pz_str_c("hi"), 1);
  pz_session_t *d = mk(f, 3);
  join(f, d, "lobby");
  pz_shard_leave(&f->sh, c, false);
  assert_nothing(f, 1);
  /* Still a member: the newcomer sees it. */
  const pz_smsg_t *m = &f->rec[3].msgs[0].m;
  assert_int_equal(m->op, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_members, 4);
  assert_non_null(room_member(m, 101));
  assert_int_equal(find_room(f, "lobby")->n_members, 3);
  /* Its own moves still reach the others. */
  clear_all(f);
  assert_int_equal(pz_shard_move(&f->sh, b, 1, &p, 0), 0);
  pz_shard_tick(&f->sh);
  assert_non_null(state_entry(only(f, 0, PZ_S_STATE), 101));
  assert_non_null(state_entry(only(f, 3, PZ_S_STATE), 101));
  assert_nothing(f, 1);
  clear_all(f);

  /* Attached again (resume): it hears the room again. */
  pz_shard_session_attach(&f->sh, b, &f->rec[1].outlet);
  assert_int_equal(b->expires_ms, 0);
  pz_shard_chat(&f->sh, d, pz_str_c("welcome back"), 2);
  assert_int_equal(only(f, 1, PZ_S_CHAT)->u.chat.seq, 2);
  assert_ptr_equal(f->rec[1].msgs[0].shared, f->rec[0].msgs[0].shared);
  assert_ptr_equal(f->rec[1].msgs[0].shared, f->rec[3].msgs[0].shared);
}

static void test_all_detached(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  pz_shard_session_detach(&f->sh, a, 1);
  pz_shard_session_detach(&f->sh, b, 1);
  assert_int_equal(find_room(f, "lobby")->n_attached, 0);
  clear_all(f);
  pz_pos_t p = {1, 0, 0, 0};
  assert_int_equal(pz_shard_move(&f->sh, a, 1, &p, 0), 0);
  pz_shard_tick(&f->sh);
  pz_shard_chat(&f->sh, b, pz_str_c("anyone?"), 1);
  pz_shard_leave(&f->sh, a, true);
  assert_nothing(f, 0);
  assert_nothing(f, 1);
  /* The chat was kept for the resume. */
  assert_int_equal(find_room(f, "lobby")->chat.count, 1);
  pz_shard_session_attach(&f->sh, b, &f->rec[1].outlet);
  assert_int_equal(find_room(f, "lobby")->n_attached, 1);
  pz_shard_send_room(&f->sh, b, true, 0);
  assert_int_equal(f->rec[1].n, 2);
  assert_int_equal(f->rec[1].msgs[0].m.op, PZ_S_ROOM);
  assert_int_equal(f->rec[1].msgs[0].m.u.room.n_history, 0);
  assert_int_equal(f->rec[1].msgs[1].m.op, PZ_S_CHAT);
}

static void test_detached_joiner(void **state) {
  /* A session joining while detached (moved between workers) gets no
   * ROOM, and the others still hear JOINED. */
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  pz_shard_session_detach(&f->sh, b, 1);
  clear_all(f);
  join(f, b, "lobby");
  assert_nothing(f, 1);
  assert_int_equal(only(f, 0, PZ_S_JOINED)->u.joined.id, 101);
  assert_int_equal(find_room(f, "lobby")->n_attached, 1);
}

/* ---- chat ----------------------------------------------------------------
 */

static void test_chat_seq_per_room_and_history_in_room(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2), *d = mk(f, 3);
  join(f, a, "r1");
  join(f, b, "r1");
  join(f, c, "r2");
  clear_all(f);

  pz_shard_chat(&f->sh, a, pz_str_c("hi"), 1000);
  pz_shard_chat(&f->sh, b, pz_str_c("yo \xf0\x9f\x91\x8b"), 1001);
  pz_shard_chat(&f->sh, c, pz_str_c("alone"), 1002);
  for (int i = 0; i < 2; i++) { /* sender included */
    assert_int_equal(f->rec[i].n, 2);
    const pz_smsg_t *m0 = &f->rec[i].msgs[0].m, *m1 = &f->rec[i].msgs[1].m;
    assert_int_equal(m0->op, PZ_S_CHAT);
    assert_int_equal(m0->u.chat.seq, 1);
    assert_int_equal(m0->u.chat.id, 100);
    assert_str_equal(m0->u.chat.name, "ana");
    assert_str_equal(m0->u.chat.text, "hi");
    assert_int_equal(m0->u.chat.ts_ms, 1000);
    assert_int_equal(m1->op, PZ_S_CHAT);
    assert_int_equal(m1->u.chat.seq, 2);
    assert_int_equal(m1->u.chat.id, 101);
    assert_str_equal(m1->u.chat.text, "yo \xf0\x9f\x91\x8b");
    assert_int_equal(f->rec[i].msgs[0].kind, PZ_PAYLOAD_RELIABLE);
  }
  assert_ptr_equal(f->rec[0].msgs[1].shared, f->rec[1].msgs[1].shared);
  /* Another room counts on its own. */
  assert_int_equal(only(f, 2, PZ_S_CHAT)->u.chat.seq, 1);
  clear_all(f);

  join(f, d, "r1");
  const pz_smsg_t *m = only(f, 3, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_history, 2);
  const pz_chat_entry_t *h = m->u.room.history;
  assert_int_equal(h[0].seq, 1);
  assert_int_equal(h[0].id, 100);
  assert_str_equal(h[0].name, "ana");
  assert_str_equal(h[0].text, "hi");
  assert_int_equal(h[0].ts_ms, 1000);
  assert_int_equal(h[1].seq, 2);
  assert_str_equal(h[1].name, "bob");
  assert_int_equal(h[1].ts_ms, 1001);
}

static void test_chat_history_in_room_is_last_50(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  char text[16];
  for (int i = 1; i <= 60; i++) {
    snprintf(text, sizeof(text), "m%d", i);
    pz_shard_chat(&f->sh, a, pz_str_c(text), (uint64_t)i);
  }
  clear_all(f);
  join(f, b, "lobby");
  const pz_smsg_t *m = only(f, 1, PZ_S_ROOM);
  assert_int_equal(m->u.room.n_history, 50);
  for (size_t i = 0; i < 50; i++) {
    snprintf(text, sizeof(text), "m%zu", i + 11);
    assert_int_equal(m->u.room.history[i].seq, i + 11);
    assert_str_equal(m->u.room.history[i].text, text);
  }
}

static void test_send_room_replay(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0);
  join(f, a, "lobby");
  char text[16];
  for (int i = 1; i <= 5; i++) {
    snprintf(text, sizeof(text), "c%d", i);
    pz_shard_chat(&f->sh, a, pz_str_c(text), (uint64_t)i);
  }
  struct {
    bool replay;
    uint64_t after;
    uint64_t first; /* first seq replayed; 0: none */
  } cases[] = {{false, 0, 0}, {true, 3, 4},  {true, 0, 1},
               {true, 5, 0},  {true, 99, 0}, {false, 2, 0}};
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    clear_all(f);
    pz_shard_send_room(&f->sh, a, cases[k].replay, cases[k].after);
    size_t want = 1 + (cases[k].first ? 5 - cases[k].first + 1 : 0);
    if (f->rec[0].n != want)
      fail_msg("case %zu: %zu messages, want %zu", k, f->rec[0].n, want);
    const pz_smsg_t *room = &f->rec[0].msgs[0].m;
    assert_int_equal(room->op, PZ_S_ROOM);
    /* A replay's ROOM history stops where the replayed CHATs begin: every
     * chat reaches the client exactly once. */
    size_t want_hist = !cases[k].replay ? 5
                       : cases[k].first ? cases[k].first - 1
                                        : 5;
    if (room->u.room.n_history != want_hist)
      fail_msg("case %zu: ROOM history of %zu, want %zu", k,
               (size_t)room->u.room.n_history, want_hist);
    for (size_t i = 0; i < want_hist; i++)
      assert_int_equal(room->u.room.history[i].seq, i + 1);
    for (size_t i = 1; i < want; i++) {
      const pz_smsg_t *m = &f->rec[0].msgs[i].m;
      uint64_t seq = cases[k].first + i - 1;
      snprintf(text, sizeof(text), "c%llu", (unsigned long long)seq);
      assert_int_equal(m->op, PZ_S_CHAT);
      assert_int_equal(m->u.chat.seq, seq);
      assert_str_equal(m->u.chat.text, text);
      assert_int_equal(m->u.chat.ts_ms, seq);
      assert_int_equal(f->rec[0].msgs[i].kind, PZ_PAYLOAD_RELIABLE);
    }
  }
  /* Outside a room or detached: nothing. */
  clear_all(f);
  pz_shard_session_detach(&f->sh, a, 1);
  pz_shard_send_room(&f->sh, a, true, 0);
  pz_shard_session_attach(&f->sh, a, &f->rec[0].outlet);
  pz_shard_leave(&f->sh, a, false);
  pz_shard_send_room(&f->sh, a, true, 0);
  assert_nothing(f, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_join_sends_room_and_joined),
      T(test_join_carries_positions),
      cmocka_unit_test_setup_teardown(test_room_full, setup_small_rooms,
                                      teardown),
      T(test_leave_sends_left),
      T(test_empty_rooms_freed),
      T(test_destroy_sends_left),
      T(test_swap_remove_keeps_membership),
      T(test_session_table),
      T(test_move_ignores_stale_seq),
      cmocka_unit_test_setup_teardown(
          test_move_rejected_acknowledged_at_old_position, setup_rules,
          teardown),
#define R(name) cmocka_unit_test_setup_teardown(name, setup_rules, teardown)
      R(test_first_move_after_join_spawns),
      R(test_spawn_keeps_the_bounds),
      R(test_join_again_spawns_again),
      R(test_resume_is_not_a_spawn),
#undef R
      T(test_tick_one_shared_state_per_room),
      T(test_lone_member_gets_own_state),
      T(test_leaver_not_in_state),
      T(test_detached_member_gets_nothing_but_stays),
      T(test_all_detached),
      T(test_detached_joiner),
      T(test_chat_seq_per_room_and_history_in_room),
      T(test_chat_history_in_room_is_last_50),
      T(test_send_room_replay),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
