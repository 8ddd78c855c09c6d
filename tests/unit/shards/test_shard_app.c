/*
 * Guards shards/shard_app.c and room_state.c, protocol 1.1 as the clients
 * of one shard see it (the fixture's recording outlets decode every
 * payload): SET (MEMBER to everyone with the patch as sent, one payload;
 * silent outside a room; the size bound changes nothing), ROOM and JOINED
 * carrying member state, SIGNAL to the others only, ROOM_SET (versions
 * that go on past deletes, compare-and-set, limits, tombstones bounded,
 * ROOM_STATE to everyone), a room's state parked when it empties, taken
 * back, expired by the sweep and bounded, and the cluster's side: the
 * hooks, pz_shard_room_state_apply, remote members' state and signals.
 * The fixture's limits: member state 64 bytes, room values 32, 4 keys, 96
 * bytes, lifetime 1000 ms, parked 4096.
 */
#include "shard_fixture.h"

/* A patch or value packed into a static buffer (one at a time). */
static pz_raw_t mp(const char *bytes, size_t n) {
  return (pz_raw_t){bytes, (uint32_t)n};
}
#define MP(lit) mp(lit, sizeof(lit) - 1)

static void assert_raw_eq(pz_raw_t got, pz_raw_t want) {
  assert_non_null(got.ptr);
  assert_int_equal(got.len, want.len);
  assert_memory_equal(got.ptr, want.ptr, want.len);
}

/* ---- member state --------------------------------------------------------
 */

static void test_set_sends_member_to_everyone(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, a, "x");
  join(f, b, "x");
  join(f, c, "y");
  clear_all(f);
  pz_raw_t patch = MP("\x82\xa5"
                      "color\xa3red\xa1k\xc0"); /* color, k: nil */
  assert_int_equal(pz_shard_set_state(&f->sh, a, patch), PZ_SHARD_OK);
  for (int i = 0; i < 2; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_MEMBER);
    assert_int_equal(m->u.member.id, 100);
    assert_raw_eq(m->u.member.patch, patch); /* as sent, nil included */
  }
  assert_ptr_equal(f->rec[0].msgs[0].shared, f->rec[1].msgs[0].shared);
  assert_nothing(f, 2);
  /* The state kept: nil not stored. */
  assert_raw_eq(pz_session_state(a), MP("\x81\xa5"
                                        "color\xa3red"));
  clear_all(f);
  /* A newcomer's ROOM, the others' JOINED carry states. */
  pz_session_t *d = mk(f, 3);
  pz_shard_session_set_state(d, MP("\x81\xa1n\x07"));
  join(f, d, "x");
  const pz_smsg_t *room = only(f, 3, PZ_S_ROOM);
  for (size_t i = 0; i < room->u.room.n_members; i++) {
    uint64_t id = room->u.room.members[i].id;
    pz_raw_t st = room->u.room.member_states[i];
    if (id == 100)
      assert_raw_eq(st, MP("\x81\xa5"
                           "color\xa3red"));
    else if (id == 101)
      assert_raw_eq(st, MP("\x80"));
    else
      assert_raw_eq(st, MP("\x81\xa1n\x07"));
  }
  assert_raw_eq(only(f, 0, PZ_S_JOINED)->u.joined_state, MP("\x81\xa1n\x07"));
}

static void test_set_outside_a_room_and_the_bound(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  assert_int_equal(pz_shard_set_state(&f->sh, a, MP("\x81\xa1k\x01")),
                   PZ_SHARD_OK);
  assert_nothing(f, 0);
  assert_raw_eq(pz_session_state(a), MP("\x81\xa1k\x01"));
  join(f, a, "x");
  join(f, b, "x");
  clear_all(f);
  /* 64 bytes at most: a 70-byte value does not fit, nothing changes. */
  char big[80] = "\x81\xa1v\xd9\x46";
  memset(big + 5, 'z', 70);
  assert_int_equal(pz_shard_set_state(&f->sh, a, mp(big, 75)), PZ_SHARD_LIMIT);
  assert_nothing(f, 0);
  assert_nothing(f, 1);
  assert_raw_eq(pz_session_state(a), MP("\x81\xa1k\x01"));
  /* Deleting everything: the state is empty again ({} on the wire). */
  assert_int_equal(pz_shard_set_state(&f->sh, a, MP("\x81\xa1k\xc0")),
                   PZ_SHARD_OK);
  assert_null(a->state);
  assert_int_equal(a->state_len, 0);
}

/* ---- signals -------------------------------------------------------------
 */

static void test_signal_goes_to_the_others(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2), *d = mk(f, 3);
  join(f, a, "x");
  join(f, b, "x");
  join(f, c, "x");
  join(f, d, "y");
  pz_shard_session_detach(&f->sh, c, 1);
  clear_all(f);
  pz_shard_signal(&f->sh, a, pz_str_c("wave"), MP("\x91\x01"), 77);
  assert_nothing(f, 0);
  assert_nothing(f, 2); /* detached */
  assert_nothing(f, 3); /* another room */
  const pz_smsg_t *m = only(f, 1, PZ_S_SIGNAL);
  assert_int_equal(m->u.signal.from, 100);
  assert_str_equal(m->u.signal.name, "ana");
  assert_str_equal(m->u.signal.kind, "wave");
  assert_raw_eq(m->u.signal.data, MP("\x91\x01"));
  assert_int_equal(m->u.signal.ts_ms, 77);
  clear_all(f);
  /* From the server: every attached member, the count returned. */
  assert_int_equal(pz_shard_system_signal(&f->sh, pz_str_c("x"),
                                          pz_str_c("server"), pz_str_c("k"),
                                          MP("\xc0"), 5),
                   2);
  assert_int_equal(only(f, 0, PZ_S_SIGNAL)->u.signal.from, 0);
  assert_int_equal(only(f, 1, PZ_S_SIGNAL)->u.signal.from, 0);
  assert_int_equal(pz_shard_system_signal(&f->sh, pz_str_c("none"),
                                          pz_str_c("server"), pz_str_c("k"),
                                          MP("\xc0"), 5),
                   -1);
}

/* ---- room state ----------------------------------------------------------
 */

static pz_shard_result_t rset(fx_t *f, pz_session_t *s, const char *key,
                              pz_raw_t v, int if_version, uint64_t *cur) {
  uint64_t ignored;
  return pz_shard_room_set(&f->sh, s, pz_str_c(key), v, if_version >= 0,
                           if_version >= 0 ? (uint64_t)if_version : 0,
                           cur ? cur : &ignored);
}

/* The ROOM_STATE rec i got last. */
static const pz_smsg_t *last_rs(fx_t *f, int i) {
  assert_true(f->rec[i].n > 0);
  const pz_smsg_t *m = &f->rec[i].msgs[f->rec[i].n - 1].m;
  assert_int_equal(m->op, PZ_S_ROOM_STATE);
  return m;
}

static void test_room_set_versions_and_compare_and_set(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "x");
  join(f, b, "x");
  clear_all(f);
  uint64_t cur = 99;
  assert_int_equal(rset(f, a, "seat",
                        MP("\xa3"
                           "ana"),
                        0, NULL),
                   PZ_SHARD_OK);
  for (int i = 0; i < 2; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_ROOM_STATE);
    assert_str_equal(m->u.room_state.key, "seat");
    assert_raw_eq(m->u.room_state.value, MP("\xa3"
                                            "ana"));
    assert_int_equal(m->u.room_state.version, 1);
    assert_int_equal(m->u.room_state.by, 100);
  }
  assert_ptr_equal(f->rec[0].msgs[0].shared, f->rec[1].msgs[0].shared);
  clear_all(f);
  /* Stale: the current version back, nothing sent, nothing changed. */
  assert_int_equal(rset(f, b, "seat",
                        MP("\xa3"
                           "bob"),
                        0, &cur),
                   PZ_SHARD_CONFLICT);
  assert_int_equal(cur, 1);
  assert_int_equal(rset(f, b, "none", MP("\x01"), 2, &cur), PZ_SHARD_CONFLICT);
  assert_int_equal(cur, 0);
  assert_nothing(f, 0);
  assert_nothing(f, 1);
  assert_int_equal(rset(f, b, "seat",
                        MP("\xa3"
                           "bob"),
                        1, NULL),
                   PZ_SHARD_OK);
  assert_int_equal(last_rs(f, 0)->u.room_state.version, 2);
  /* A delete is a set (version 3); the key is then absent (0), and its
   * next set goes on at 4, not back to 1. */
  assert_int_equal(rset(f, a, "seat", MP("\xc0"), -1, NULL), PZ_SHARD_OK);
  assert_true(pz_raw_is_nil(last_rs(f, 1)->u.room_state.value));
  assert_int_equal(last_rs(f, 1)->u.room_state.version, 3);
  assert_int_equal(rset(f, a, "seat", MP("\x01"), 3, &cur), PZ_SHARD_CONFLICT);
  assert_int_equal(cur, 0);
  assert_int_equal(rset(f, a, "seat", MP("\x01"), 0, NULL), PZ_SHARD_OK);
  assert_int_equal(last_rs(f, 1)->u.room_state.version, 4);
  assert_int_equal(rset(f, a, "lamp", MP("\xc3"), -1, NULL), PZ_SHARD_OK);
  /* A newcomer's ROOM: live keys, in the order first set. */
  clear_all(f);
  pz_session_t *c = mk(f, 2);
  join(f, c, "x");
  const pz_smsg_t *room = only(f, 2, PZ_S_ROOM);
  assert_int_equal(room->u.room.n_room_state, 2);
  assert_str_equal(room->u.room.room_state[0].key, "seat");
  assert_int_equal(room->u.room.room_state[0].version, 4);
  assert_str_equal(room->u.room.room_state[1].key, "lamp");
  assert_raw_eq(room->u.room.room_state[1].value, MP("\xc3"));
}

static void test_room_set_limits_and_tombstones(void **state) {
  fx_t *f = *state; /* values 32, 4 keys, 96 bytes */
  pz_session_t *a = mk(f, 0);
  join(f, a, "x");
  char v[40];
  memset(v, 'v', sizeof v);
  v[0] = (char)0xa0 | 31;
  assert_int_equal(rset(f, a, "k1", mp(v, 32), -1, NULL), PZ_SHARD_OK);
  v[0] = (char)0xa0 | 31;
  assert_int_equal(rset(f, a, "k2", mp(v, 33), -1, NULL), PZ_SHARD_LIMIT);
  assert_int_equal(rset(f, a, "k2", mp(v, 32), -1, NULL), PZ_SHARD_OK);
  /* 2 x (2 + 32) = 68; a third 34 would make 102 > 96. */
  assert_int_equal(rset(f, a, "k3", mp(v, 32), -1, NULL), PZ_SHARD_LIMIT);
  assert_int_equal(rset(f, a, "k3", MP("\x01"), -1, NULL), PZ_SHARD_OK);
  assert_int_equal(rset(f, a, "k4", MP("\x01"), -1, NULL), PZ_SHARD_OK);
  assert_int_equal(rset(f, a, "k5", MP("\x01"), -1, NULL), PZ_SHARD_LIMIT);
  /* Replacing a key is no new key; a delete always fits. */
  assert_int_equal(rset(f, a, "k4", MP("\x02"), -1, NULL), PZ_SHARD_OK);
  assert_int_equal(rset(f, a, "k5", MP("\xc0"), -1, NULL), PZ_SHARD_OK);
  pz_rstate_t *st = a->room->rstate;
  assert_int_equal(st->n_live, 4);
  assert_int_equal(st->bytes, 2 * 34 + 3 + 3);
  /* Deletes leave tombstones, at most 4 (the live-key limit): the oldest
   * is forgotten, and that key would start again at 1. */
  for (int i = 1; i <= 4; i++) {
    char k[4] = {'k', (char)('0' + i), 0};
    assert_int_equal(rset(f, a, k, MP("\xc0"), -1, NULL), PZ_SHARD_OK);
  }
  assert_int_equal(st->n_live, 0);
  assert_int_equal(st->bytes, 0);
  assert_int_equal(st->n_tomb, 4);
  assert_null(pz_rstate_find(st, pz_str_c("k5"))); /* deleted first: gone */
  assert_int_equal(pz_rstate_next_version(st, pz_str_c("k1")), 3);
  assert_int_equal(pz_rstate_next_version(st, pz_str_c("k5")), 1);
}

static void test_room_state_parked_taken_back_and_expired(void **state) {
  fx_t *f = *state; /* lifetime 1000 ms */
  pz_shard_sweep(&f->sh, 5000);
  pz_session_t *a = mk(f, 0);
  join(f, a, "x");
  assert_int_equal(rset(f, a, "lamp", MP("\xc3"), -1, NULL), PZ_SHARD_OK);
  pz_shard_leave(&f->sh, a, false);
  assert_null(find_room(f, "x"));
  pz_rstate_t *st = pz_shard_room_state_find(&f->sh, pz_str_c("x"));
  assert_non_null(st);
  assert_true(st->parked);
  assert_int_equal(st->expires_ms, 6000);
  assert_int_equal(f->sh.stats.parked, 1);
  /* Back within the lifetime: the room takes it again. */
  pz_shard_sweep(&f->sh, 5999);
  clear_all(f);
  join(f, a, "x");
  const pz_smsg_t *room = only(f, 0, PZ_S_ROOM);
  assert_int_equal(room->u.room.n_room_state, 1);
  assert_int_equal(f->sh.stats.parked, 0);
  assert_false(st->parked);
  /* Empty again (at 5999): its lifetime starts over, then it is gone. */
  pz_shard_leave(&f->sh, a, false);
  pz_shard_sweep(&f->sh, 6998);
  assert_non_null(pz_shard_room_state_find(&f->sh, pz_str_c("x")));
  pz_shard_sweep(&f->sh, 6999);
  assert_null(pz_shard_room_state_find(&f->sh, pz_str_c("x")));
  assert_int_equal(f->sh.stats.parked, 0);
  assert_int_equal(f->sh.parked_cost, 0);
  clear_all(f);
  join(f, a, "x");
  assert_int_equal(only(f, 0, PZ_S_ROOM)->u.room.n_room_state, 0);
  /* A state with only tombstones is not kept. */
  assert_int_equal(rset(f, a, "k", MP("\x01"), -1, NULL), PZ_SHARD_OK);
  assert_int_equal(rset(f, a, "k", MP("\xc0"), -1, NULL), PZ_SHARD_OK);
  pz_shard_leave(&f->sh, a, false);
  assert_null(pz_shard_room_state_find(&f->sh, pz_str_c("x")));
}

static void test_parked_states_are_bounded(void **state) {
  fx_t *f = *state; /* parked 4096 */
  pz_session_t *a = mk(f, 0);
  char v[33];
  memset(v, 'v', sizeof v);
  v[0] = (char)0xa0 | 31;
  char room[8];
  for (int i = 0; i < 40; i++) {
    snprintf(room, sizeof room, "r%d", i);
    join(f, a, room);
    for (int k = 0; k < 2; k++) {
      char key[3] = {'k', (char)('0' + k), 0};
      assert_int_equal(rset(f, a, key, mp(v, 32), -1, NULL), PZ_SHARD_OK);
    }
    pz_shard_leave(&f->sh, a, false);
    assert_true(f->sh.parked_cost <= 4096);
  }
  assert_true(f->sh.stats.parked_evicted > 0);
  assert_int_equal(f->sh.stats.parked + f->sh.stats.parked_evicted, 40);
  /* The oldest went first: the newest is there, the first is not. */
  assert_null(pz_shard_room_state_find(&f->sh, pz_str_c("r0")));
  assert_non_null(pz_shard_room_state_find(&f->sh, pz_str_c("r39")));
}

/* ---- the cluster's side --------------------------------------------------
 */

typedef struct app_log {
  int member_states, signals, room_sets;
  pz_raw_t last_patch;
  pz_shard_result_t answer;
} app_log_t;

static void h_member_state(void *ctx, pz_room_t *r, pz_session_t *s,
                           pz_raw_t patch) {
  app_log_t *h = ctx;
  h->member_states++;
  h->last_patch = patch;
}
static pz_shard_result_t h_room_set(void *ctx, pz_room_t *r, pz_session_t *s,
                                    pz_str_t key, pz_raw_t value, bool has_if,
                                    uint64_t if_version) {
  app_log_t *h = ctx;
  h->room_sets++;
  return h->answer;
}
static void h_signal(void *ctx, pz_room_t *r, pz_session_t *s, pz_str_t kind,
                     pz_raw_t data, uint64_t ts) {
  ((app_log_t *)ctx)->signals++;
}
static bool h_open(void *ctx, pz_room_t *r) {
  return false;
}
static void h_noop(void *ctx, pz_room_t *r, pz_session_t *s) {}
static void h_close(void *ctx, pz_room_t *r) {}
static void h_state(void *ctx, pz_room_t *r, uint64_t tick) {}
static const pz_shard_hooks_t app_hooks = {
    .room_open = h_open,
    .room_close = h_close,
    .joined = h_noop,
    .left = h_noop,
    .state = h_state,
    .member_state = h_member_state,
    .room_set = h_room_set,
    .signal = h_signal,
};

static void test_hooks_take_what_crosses_nodes(void **state) {
  fx_t *f = *state;
  app_log_t h = {.answer = PZ_SHARD_OK};
  f->sh.hooks = &app_hooks;
  f->sh.hooks_ctx = &h;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  pz_shard_set_state(&f->sh, a, MP("\x81\xa1k\x01")); /* outside: no hook */
  assert_int_equal(h.member_states, 0);
  join(f, a, "x");
  join(f, b, "x");
  clear_all(f);
  pz_raw_t patch = MP("\x81\xa1k\x02");
  assert_int_equal(pz_shard_set_state(&f->sh, a, patch), PZ_SHARD_OK);
  assert_int_equal(h.member_states, 1);
  assert_raw_eq(h.last_patch, patch);
  assert_int_equal(only(f, 1, PZ_S_MEMBER)->u.member.id, 100); /* locals too */
  pz_shard_signal(&f->sh, a, pz_str_c("k"), MP("\xc0"), 1);
  assert_int_equal(h.signals, 1);
  clear_all(f);
  /* ROOM_SET goes to the bus: nothing here until it comes back numbered. */
  assert_int_equal(rset(f, a, "seat", MP("\x01"), 0, NULL), PZ_SHARD_OK);
  assert_int_equal(h.room_sets, 1);
  assert_nothing(f, 0);
  assert_nothing(f, 1);
  pz_room_t *r = find_room(f, "x");
  pz_shard_room_state_apply(&f->sh, r, pz_str_c("seat"), MP("\x01"), 7, 100);
  assert_int_equal(only(f, 0, PZ_S_ROOM_STATE)->u.room_state.version, 7);
  assert_int_equal(only(f, 1, PZ_S_ROOM_STATE)->u.room_state.by, 100);
  clear_all(f);
  /* Held already (an older or the same version): ignored. */
  pz_shard_room_state_apply(&f->sh, r, pz_str_c("seat"), MP("\x02"), 7, 101);
  pz_shard_room_state_apply(&f->sh, r, pz_str_c("seat"), MP("\x02"), 5, 101);
  assert_nothing(f, 0);
  /* The local check still refuses a stale if_version. */
  uint64_t cur;
  assert_int_equal(rset(f, b, "seat", MP("\x02"), 0, &cur), PZ_SHARD_CONFLICT);
  assert_int_equal(cur, 7);
  h.answer = PZ_SHARD_UNAVAILABLE;
  assert_int_equal(rset(f, b, "seat", MP("\x02"), 7, NULL),
                   PZ_SHARD_UNAVAILABLE);
  /* The bus keeps a clustered room's state: not parked here. */
  pz_shard_leave(&f->sh, a, false);
  pz_shard_leave(&f->sh, b, false);
  assert_null(pz_shard_room_state_find(&f->sh, pz_str_c("x")));
  assert_int_equal(f->sh.stats.parked, 0);
}

static void test_remote_members_state_and_signals(void **state) {
  fx_t *f = *state;
  app_log_t h = {.answer = PZ_SHARD_OK};
  f->sh.hooks = &app_hooks;
  f->sh.hooks_ctx = &h;
  pz_session_t *a = mk(f, 0);
  join(f, a, "x");
  pz_room_t *r = find_room(f, "x");
  clear_all(f);
  pz_member_t zed = {900, pz_str_c("zed"), {1, 2, 3, 0}};
  assert_true(pz_shard_remote_join_state(&f->sh, r, &zed, MP("\x81\xa1k\x01"),
                                         7, true));
  assert_raw_eq(only(f, 0, PZ_S_JOINED)->u.joined_state, MP("\x81\xa1k\x01"));
  clear_all(f);
  /* Its SET, from its node: applied to its copy, MEMBER to the locals. */
  assert_true(
      pz_shard_remote_member_state(&f->sh, r, 900, MP("\x81\xa1j\x02")));
  const pz_smsg_t *m = only(f, 0, PZ_S_MEMBER);
  assert_int_equal(m->u.member.id, 900);
  assert_raw_eq(m->u.member.patch, MP("\x81\xa1j\x02"));
  clear_all(f);
  /* Not a map of string keys: refused, nothing changes or is sent. */
  assert_false(pz_shard_remote_member_state(&f->sh, r, 900, MP("\x91\x01")));
  assert_false(
      pz_shard_remote_member_state(&f->sh, r, 900, MP("\x81\x01\x02")));
  assert_true(pz_shard_remote_member_state(&f->sh, r, 901, MP("\x80")));
  assert_nothing(f, 0);
  /* ROOM lists its state. */
  pz_session_t *b = mk(f, 1);
  join(f, b, "x");
  const pz_smsg_t *room = only(f, 1, PZ_S_ROOM);
  bool seen = false;
  for (size_t i = 0; i < room->u.room.n_members; i++)
    if (room->u.room.members[i].id == 900) {
      assert_raw_eq(room->u.room.member_states[i],
                    MP("\x82\xa1k\x01\xa1j\x02"));
      seen = true;
    }
  assert_true(seen);
  clear_all(f);
  /* Known already (a resume elsewhere): quietly updated, state too. */
  assert_false(
      pz_shard_remote_join_state(&f->sh, r, &zed, MP("\x80"), 8, true));
  assert_nothing(f, 0);
  assert_null(pz_shard_remote_find(r, 900)->state);
  /* A signal to the room from another node reaches every local member. */
  pz_shard_remote_signal(&f->sh, r, 900, pz_str_c("zed"), pz_str_c("wave"),
                         MP("\x01"), 3);
  assert_int_equal(only(f, 0, PZ_S_SIGNAL)->u.signal.from, 900);
  assert_int_equal(only(f, 1, PZ_S_SIGNAL)->u.signal.from, 900);
  pz_shard_remote_leave(&f->sh, r, 900, true);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_set_sends_member_to_everyone),
      T(test_set_outside_a_room_and_the_bound),
      T(test_signal_goes_to_the_others),
      T(test_room_set_versions_and_compare_and_set),
      T(test_room_set_limits_and_tombstones),
      T(test_room_state_parked_taken_back_and_expired),
      T(test_parked_states_are_bounded),
      T(test_hooks_take_what_crosses_nodes),
      T(test_remote_members_state_and_signals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
