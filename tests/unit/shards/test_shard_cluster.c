/*
 * Guards the clustered part of shards/shard.c (remote.c and the hooks a
 * bus sets): members of other nodes in ROOM, JOINED/LEFT for them, their
 * moves merged into the next local STATE (one per tick), a publish only
 * while another node has members there (everyone after a newcomer), a
 * loading room owing ROOM until ready, chat taken by the bus and kept once
 * per seq, and a session handed off or continuing quietly.
 */
#include "shard_fixture.h"

/* ---- members on other nodes (clustered: remote.c and the hooks) ----------
 */

typedef struct hook_log {
  int opens, closes, joins, leaves, chats, states;
  uint32_t last_state_n;
  bool take_chat, wait_room;
} hook_log_t;

static bool h_open(void *ctx, pz_room_t *r) {
  hook_log_t *h = ctx;
  h->opens++;
  return h->wait_room;
}
static void h_close(void *ctx, pz_room_t *r) {
  ((hook_log_t *)ctx)->closes++;
}
static void h_joined(void *ctx, pz_room_t *r, pz_session_t *s) {
  ((hook_log_t *)ctx)->joins++;
}
static void h_left(void *ctx, pz_room_t *r, pz_session_t *s) {
  ((hook_log_t *)ctx)->leaves++;
}
static pz_shard_result_t h_chat(void *ctx, pz_room_t *r, pz_session_t *s,
                                pz_str_t text, uint64_t ts) {
  hook_log_t *h = ctx;
  h->chats++;
  return h->take_chat ? PZ_SHARD_OK : PZ_SHARD_UNAVAILABLE;
}
static void h_state(void *ctx, pz_room_t *r, uint64_t tick) {
  hook_log_t *h = ctx;
  h->states++;
  h->last_state_n = r->publish_all ? r->n_members : r->n_dirty;
  r->publish_all = false;
}
static const pz_shard_hooks_t test_hooks = {.room_open = h_open,
                                            .room_close = h_close,
                                            .joined = h_joined,
                                            .left = h_left,
                                            .chat = h_chat,
                                            .state = h_state};

/* The shard reports to h from here on, as a clustered one would. */
static void with_hooks(fx_t *f, hook_log_t *h) {
  f->sh.hooks = &test_hooks;
  f->sh.hooks_ctx = h;
}

static void test_remote_members_in_room_joined_left(void **state) {
  fx_t *f = *state;
  hook_log_t h = {0};
  with_hooks(f, &h);
  pz_session_t *a = mk(f, 0);
  join(f, a, "x");
  assert_int_equal(h.opens, 1);
  assert_int_equal(h.joins, 1);
  pz_room_t *r = find_room(f, "x");
  clear_all(f);
  pz_member_t zed = {900, pz_str_c("zed"), {1, 2, 3, 0}};
  assert_true(pz_shard_remote_join(&f->sh, r, &zed, 7, true));
  assert_int_equal(only(f, 0, PZ_S_JOINED)->u.joined.id, 900);
  clear_all(f);
  /* Known already: updated quietly (a resume on another node). */
  assert_false(pz_shard_remote_join(&f->sh, r, &zed, 8, true));
  assert_nothing(f, 0);
  assert_int_equal(pz_shard_remote_find(r, 900)->node, 8);
  /* ROOM lists it. */
  pz_session_t *b = mk(f, 1);
  join(f, b, "x");
  const pz_smsg_t *room = &f->rec[1].msgs[0].m;
  assert_int_equal(room->op, PZ_S_ROOM);
  assert_int_equal(room->u.room.n_members, 3);
  assert_non_null(room_member(room, 900));
  assert_float_equal(room_member(room, 900)->pos.z, 3, 0);
  clear_all(f);
  pz_shard_remote_leave(&f->sh, r, 900, true);
  assert_int_equal(only(f, 0, PZ_S_LEFT)->u.left.id, 900);
  assert_int_equal(r->n_remote, 0);
  pz_shard_leave(&f->sh, a, false);
  pz_shard_leave(&f->sh, b, false);
  assert_int_equal(h.leaves, 2);
  assert_int_equal(h.closes, 1);
}

static void test_remote_moves_join_the_next_local_state(void **state) {
  fx_t *f = *state;
  hook_log_t h = {0};
  with_hooks(f, &h);
  pz_session_t *a = mk(f, 0);
  join(f, a, "x");
  pz_room_t *r = find_room(f, "x");
  pz_pos_t p = {1, 0, 0, 0};
  /* Alone on this node and nobody elsewhere: nothing to publish. */
  pz_shard_move(&f->sh, a, 1, &p, 0);
  pz_shard_tick(&f->sh);
  assert_int_equal(h.states, 0);
  pz_member_t zed = {900, pz_str_c("zed"), {0, 0, 0, 0}};
  pz_shard_remote_join(&f->sh, r, &zed, 7, true);
  clear_all(f);
  /* A newcomer node: the next publish carries every local member. */
  pz_shard_tick(&f->sh);
  assert_int_equal(h.states, 1);
  assert_int_equal(h.last_state_n, 1);
  /* One tick with a local and a remote move: one STATE with both. */
  pz_pos_t q = {2, 0, 0, 0};
  pz_shard_move(&f->sh, a, 2, &q, 0);
  pz_state_entry_t e = {900, 5, {9, 9, 9, 0}};
  pz_shard_remote_state(&f->sh, r, &e);
  e.seq = 6; /* a later one in the same tick: latest wins, one entry */
  pz_shard_remote_state(&f->sh, r, &e);
  pz_state_entry_t stranger = {901, 1, {0, 0, 0, 0}};
  pz_shard_remote_state(&f->sh, r, &stranger); /* unknown: ignored */
  pz_shard_tick(&f->sh);
  assert_int_equal(h.states, 2);
  const pz_smsg_t *m = only(f, 0, PZ_S_STATE);
  assert_int_equal(m->u.state.n, 2);
  assert_int_equal(state_entry(m, 900)->seq, 6);
  assert_int_equal(state_entry(m, 100)->seq, 2);
  assert_null(state_entry(m, 901));
  clear_all(f);
  /* A remote move alone still makes a STATE; nothing to publish. */
  e.seq = 7;
  pz_shard_remote_state(&f->sh, r, &e);
  pz_shard_tick(&f->sh);
  assert_int_equal(h.states, 2);
  assert_int_equal(only(f, 0, PZ_S_STATE)->u.state.n, 1);
}

static void test_loading_room_owes_room_then_sends_it(void **state) {
  fx_t *f = *state;
  hook_log_t h = {.wait_room = true, .take_chat = true};
  with_hooks(f, &h);
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "x");
  join(f, b, "x");
  pz_room_t *r = find_room(f, "x");
  assert_true(r->loading);
  assert_nothing(f, 0); /* no ROOM, no JOINED yet */
  assert_nothing(f, 1);
  pz_member_t zed = {900, pz_str_c("zed"), {0, 0, 0, 0}};
  pz_shard_remote_join(&f->sh, r, &zed, 7, true);
  pz_chat_entry_t c = {41, 900, pz_str_c("zed"), pz_str_c("old"), 5};
  pz_shard_remote_chat(&f->sh, r, &c);
  assert_nothing(f, 0);
  pz_shard_room_ready(&f->sh, r);
  for (int i = 0; i < 2; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_ROOM);
    assert_int_equal(m->u.room.n_members, 3);
    assert_int_equal(m->u.room.n_history, 1);
    assert_int_equal(m->u.room.history[0].seq, 41);
  }
  clear_all(f);
  /* Chat taken by the bus: nothing local until it comes back numbered. */
  assert_int_equal(pz_shard_chat(&f->sh, a, pz_str_c("hi"), 6), PZ_SHARD_OK);
  assert_int_equal(h.chats, 1);
  assert_nothing(f, 0);
  /* Refused by the bus (unlinked): nothing numbered, nothing sent. */
  h.take_chat = false;
  assert_int_equal(pz_shard_chat(&f->sh, a, pz_str_c("lost"), 6),
                   PZ_SHARD_UNAVAILABLE);
  assert_nothing(f, 0);
  assert_int_equal(r->chat_seq, 41);
  h.take_chat = true;
  pz_chat_entry_t back = {42, 100, pz_str_c("ana"), pz_str_c("hi"), 6};
  pz_shard_remote_chat(&f->sh, r, &back);
  pz_shard_remote_chat(&f->sh, r, &back); /* twice: kept once */
  assert_int_equal(only(f, 1, PZ_S_CHAT)->u.chat.seq, 42);
  assert_int_equal(r->chat_seq, 42);
  assert_int_equal(r->chat.count, 2);
}

static void test_handoff_and_quiet_join(void **state) {
  fx_t *f = *state;
  hook_log_t h = {0};
  with_hooks(f, &h);
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "x");
  join(f, b, "x");
  pz_room_t *r = find_room(f, "x");
  clear_all(f);
  /* b's session goes on on another node: gone here without LEFT. */
  pz_shard_handoff(&f->sh, b);
  assert_null(b->room);
  assert_int_equal(r->n_members, 1);
  assert_nothing(f, 0);
  assert_int_equal(h.leaves, 0);
  /* A member known through another node joins here quietly: a resume. */
  pz_member_t cy = {102, pz_str_c("cy"), {0, 0, 0, 0}};
  pz_shard_remote_join(&f->sh, r, &cy, 7, true);
  clear_all(f);
  pz_session_t *c = mk(f, 2);
  c->handoff = true;
  c->placed = true;
  join(f, c, "x");
  assert_nothing(f, 0); /* no JOINED: a knew it */
  assert_int_equal(r->n_remote, 0);
  assert_false(c->handoff);
  assert_true(c->placed); /* not a spawn */
  assert_int_equal(only(f, 2, PZ_S_ROOM)->u.room.n_members, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_remote_members_in_room_joined_left),
      T(test_remote_moves_join_the_next_local_state),
      T(test_loading_room_owes_room_then_sends_it),
      T(test_handoff_and_quiet_join),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
