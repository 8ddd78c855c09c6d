/*
 * Guards the rule that keeps positions exact for slow readers (shards/
 * shard.c, outlet.h): a STATE carries only the members that moved in its
 * tick, so when a member's outlet drops an unsent STATE for a newer one
 * (PZ_OUTLET_LOST) that member's next tick brings a full STATE instead:
 * every member, local and remote, with its current seq and position (but
 * local ones that never moved: ROOM and JOINED said where they are), even
 * when nothing moved; one payload per room and tick for every member owed
 * it (encode once); the others keep getting the changes. ROOM (a JOIN, a
 * resume) settles what is owed, and so does losing the outlet.
 *
 * The recording outlets of shard_fixture.h play a client that stopped
 * reading (`stalled`): one STATE stays unsent, and a partial STATE that
 * replaces it is reported lost, as src/net/outq.c does.
 */
#include "shard_fixture.h"

static const pz_pos_t at[4] = {
    {1, 0, 1, 0}, {2, 0, 2, 0.5f}, {3, 1, 3, 0}, {4, 0, 4, 1}};

static void move(fx_t *f, pz_session_t *s, uint64_t seq, int where) {
  assert_int_equal(pz_shard_move(&f->sh, s, seq, &at[where], 0), 0);
}

/* Asserts that STATE m holds id at seq and position `where`. */
static void assert_entry(const pz_smsg_t *m, uint64_t id, uint64_t seq,
                         int where) {
  const pz_state_entry_t *e = state_entry(m, id);
  if (!e)
    fail_msg("STATE of tick %llu lacks member %llu",
             (unsigned long long)m->u.state.tick, (unsigned long long)id);
  assert_int_equal(e->seq, seq);
  assert_float_equal(e->pos.x, at[where].x, 0);
  assert_float_equal(e->pos.y, at[where].y, 0);
  assert_float_equal(e->pos.z, at[where].z, 0);
  assert_float_equal(e->pos.yaw, at[where].yaw, 0);
}

/* a stalls; b then c move, each in its own tick (seq `seq`): c's STATE
 * replaces b's unsent one at a, which is now owed a full STATE. */
static void stall_and_lose(fx_t *f, pz_session_t *a, pz_session_t *b,
                           pz_session_t *c, uint64_t seq) {
  f->rec[a->id - 100].stalled = true;
  f->rec[a->id - 100].holds_state = false;
  move(f, b, seq, 0);
  pz_shard_tick(&f->sh);
  move(f, c, seq, 1);
  pz_shard_tick(&f->sh);
  assert_true(a->behind);
}

/* Sessions 0, 1, 2 in "lobby", a (0) owed a full STATE. */
static void three_with_a_behind(fx_t *f, pz_session_t **a, pz_session_t **b,
                                pz_session_t **c) {
  *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, *a, "lobby");
  join(f, *b, "lobby");
  join(f, *c, "lobby");
  stall_and_lose(f, *a, *b, *c, 1);
}

static void test_lost_state_brings_a_full_one_next_tick(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2), *d = mk(f, 3);
  join(f, a, "lobby");
  join(f, b, "lobby");
  join(f, c, "lobby");
  join(f, d, "lobby");
  clear_all(f);
  f->rec[0].stalled = true; /* a stops reading */

  move(f, b, 1, 0);
  pz_shard_tick(&f->sh); /* STATE{b}: a's queue holds it, unsent */
  assert_int_equal(f->rec[0].lost, 0);
  move(f, c, 1, 1);
  pz_shard_tick(&f->sh); /* STATE{c} replaces STATE{b} at a: b is lost */
  assert_int_equal(f->rec[0].lost, 1);
  assert_true(a->behind);
  assert_int_equal(find_room(f, "lobby")->n_behind, 1);
  clear_all(f);

  /* Nothing moves, yet a gets a full STATE; nobody else gets anything. */
  uint64_t resyncs = f->sh.stats.state_resyncs;
  pz_shard_tick(&f->sh);
  const pz_smsg_t *m = only(f, 0, PZ_S_STATE);
  assert_int_equal(f->rec[0].msgs[0].kind, PZ_PAYLOAD_STATE_FULL);
  assert_int_equal(m->u.state.tick, f->sh.tick);
  assert_int_equal(m->u.state.n, 2);
  assert_entry(m, 101, 1, 0);
  assert_entry(m, 102, 1, 1);
  /* Those that never moved are where ROOM and JOINED put them. */
  assert_null(state_entry(m, 100));
  assert_null(state_entry(m, 103));
  for (int i = 1; i < 4; i++)
    assert_nothing(f, i);
  assert_false(a->behind);
  assert_int_equal(find_room(f, "lobby")->n_behind, 0);
  assert_int_equal(f->sh.stats.state_resyncs - resyncs, 1);
  /* The full STATE replaced the unsent partial one without a loss. */
  assert_int_equal(f->rec[0].lost, 1);
  clear_all(f);

  /* Settled: quiet ticks send nothing to anyone. */
  pz_shard_tick(&f->sh);
  for (int i = 0; i < 4; i++)
    assert_nothing(f, i);
}

static void
test_full_state_encoded_once_and_changes_for_the_rest(void **state) {
  fx_t *f = *state;
  pz_session_t *s[5];
  for (int i = 0; i < 5; i++) {
    s[i] = mk(f, i);
    join(f, s[i], "lobby");
  }
  move(f, s[0], 1, 3);
  pz_shard_tick(&f->sh);
  clear_all(f);
  f->rec[0].stalled = f->rec[1].stalled = true;
  move(f, s[2], 1, 0);
  pz_shard_tick(&f->sh);
  move(f, s[3], 1, 1);
  pz_shard_tick(&f->sh);
  assert_int_equal(find_room(f, "lobby")->n_behind, 2);
  clear_all(f);

  /* Someone moves in the repairing tick: the two owed one get the same
   * full payload (which has the move); the others the changes only. */
  move(f, s[4], 1, 2);
  uint64_t frames = f->sh.stats.state_frames;
  pz_shard_tick(&f->sh);
  assert_int_equal(f->sh.stats.state_frames - frames, 2); /* full + changes */
  const pz_smsg_t *full = only(f, 0, PZ_S_STATE);
  assert_int_equal(f->rec[0].msgs[0].kind, PZ_PAYLOAD_STATE_FULL);
  assert_non_null(f->rec[0].msgs[0].shared);
  assert_ptr_equal(f->rec[0].msgs[0].shared, f->rec[1].msgs[0].shared);
  assert_int_equal(only(f, 1, PZ_S_STATE)->u.state.n, 4);
  assert_int_equal(full->u.state.n, 4); /* not s[1]: it never moved */
  assert_entry(full, 100, 1, 3);
  assert_entry(full, 102, 1, 0);
  assert_entry(full, 103, 1, 1);
  assert_entry(full, 104, 1, 2);
  for (int i = 2; i < 5; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_STATE);
    assert_int_equal(f->rec[i].msgs[0].kind, PZ_PAYLOAD_STATE);
    assert_int_equal(m->u.state.n, 1);
    assert_entry(m, 104, 1, 2);
  }
  assert_ptr_equal(f->rec[2].msgs[0].shared, f->rec[4].msgs[0].shared);
  assert_ptr_not_equal(f->rec[2].msgs[0].shared, f->rec[0].msgs[0].shared);
  clear_all(f);

  /* Still stalled: the next partial STATE replaces the full one (a loss
   * again), and the tick after repairs it again, with the latest. */
  move(f, s[2], 2, 3);
  pz_shard_tick(&f->sh);
  assert_int_equal(find_room(f, "lobby")->n_behind, 2);
  clear_all(f);
  f->rec[0].stalled = f->rec[1].stalled = false;
  pz_shard_tick(&f->sh);
  for (int i = 0; i < 2; i++) {
    const pz_smsg_t *m = only(f, i, PZ_S_STATE);
    assert_int_equal(f->rec[i].msgs[0].kind, PZ_PAYLOAD_STATE_FULL);
    assert_entry(m, 102, 2, 3);
  }
  for (int i = 2; i < 5; i++)
    assert_nothing(f, i);
}

static void test_full_state_carries_other_nodes_members(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "lobby");
  join(f, b, "lobby");
  pz_room_t *r = find_room(f, "lobby");
  pz_member_t far = {900, pz_str_c("far"), at[0]};
  assert_true(pz_shard_remote_join(&f->sh, r, &far, 7, true));
  clear_all(f);
  f->rec[0].stalled = true;
  pz_state_entry_t e1 = {900, 5, at[2]};
  pz_shard_remote_state(&f->sh, r, &e1);
  pz_shard_tick(&f->sh);
  move(f, b, 1, 1);
  pz_shard_tick(&f->sh); /* the remote member's move is lost at a */
  assert_true(a->behind);
  clear_all(f);
  pz_shard_tick(&f->sh);
  const pz_smsg_t *m = only(f, 0, PZ_S_STATE);
  assert_int_equal(m->u.state.n, 2);
  assert_entry(m, 900, 5, 2);
  assert_entry(m, 101, 1, 1);
  assert_nothing(f, 1);
}

static void test_room_settles_what_is_owed(void **state) {
  fx_t *f = *state;
  pz_session_t *a, *b, *c;
  three_with_a_behind(f, &a, &b, &c);

  /* A resume's ROOM holds every position: nothing more is owed. */
  f->rec[0].stalled = false;
  pz_shard_send_room(&f->sh, a, false, 0);
  assert_false(a->behind);
  assert_int_equal(find_room(f, "lobby")->n_behind, 0);
  clear_all(f);
  pz_shard_tick(&f->sh);
  assert_nothing(f, 0);

  /* Owed, then leaving for another room: the JOIN's ROOM is all it needs,
   * and the old room owes nothing. */
  stall_and_lose(f, a, b, c, 2);
  pz_shard_leave(&f->sh, a, false);
  assert_false(a->behind);
  assert_int_equal(find_room(f, "lobby")->n_behind, 0);
  join(f, a, "elsewhere");
  clear_all(f);
  pz_shard_tick(&f->sh);
  for (int i = 0; i < 3; i++)
    assert_nothing(f, i);
}

static void test_detached_member_is_owed_nothing(void **state) {
  fx_t *f = *state;
  pz_session_t *a, *b, *c;
  three_with_a_behind(f, &a, &b, &c);
  /* Its connection is gone: a resume will send ROOM. */
  pz_shard_session_detach(&f->sh, a, 30000);
  assert_false(a->behind);
  assert_int_equal(find_room(f, "lobby")->n_behind, 0);
  clear_all(f);
  pz_shard_tick(&f->sh);
  for (int i = 0; i < 3; i++)
    assert_nothing(f, i);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
      T(test_lost_state_brings_a_full_one_next_tick),
      T(test_full_state_encoded_once_and_changes_for_the_rest),
      T(test_full_state_carries_other_nodes_members),
      T(test_room_settles_what_is_owed),
      T(test_detached_member_is_owed_nothing),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
