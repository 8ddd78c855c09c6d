/*
 * Guards shards/places.c, what counts against --room-max-members: the
 * room's members here, its members on other nodes (but a member that was
 * listed through another node and now joins here only once), and places
 * held for sessions on their way from another worker (a JOIN's first
 * step). A held place is refused when the room is full, keeps the room
 * from filling meanwhile, is the arriving session's (join_held), and
 * frees the room when given back. Rooms of 2 throughout.
 */
#include "shard_fixture.h"

static void remote(fx_t *f, const char *room, uint64_t id) {
  pz_member_t m = {id, pz_str_c("far"), {0, 0, 0, 0}};
  pz_shard_remote_join(&f->sh, find_room(f, room), &m, 9, true);
}

static void test_members_of_other_nodes_count(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1);
  join(f, a, "tiny");
  remote(f, "tiny", 900);
  assert_int_equal(pz_shard_room_count(&f->sh, pz_str_c("tiny"), b->id), 2);
  assert_false(pz_shard_room_has_place(&f->sh, pz_str_c("tiny"), b->id));
  clear_all(f);
  assert_int_equal(pz_shard_join(&f->sh, b, pz_str_c("tiny")),
                   PZ_SHARD_ROOM_FULL);
  assert_null(b->room);
  assert_nothing(f, 0);
  assert_nothing(f, 1);
  /* The remote member goes: there is room again. */
  pz_shard_remote_leave(&f->sh, find_room(f, "tiny"), 900, true);
  join(f, b, "tiny");
}

static void test_a_member_coming_from_another_node_counts_once(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *c = mk(f, 2);
  join(f, a, "tiny");
  /* Listed through another node, it resumes here (a handoff). */
  remote(f, "tiny", c->id);
  assert_true(pz_shard_room_has_place(&f->sh, pz_str_c("tiny"), c->id));
  c->handoff = true;
  join(f, c, "tiny");
  assert_int_equal(find_room(f, "tiny")->n_members, 2);
  assert_int_equal(find_room(f, "tiny")->n_remote, 0);
}

static void test_held_place_keeps_the_room_from_filling(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  join(f, a, "tiny");
  /* A session on its way from another worker holds the second place. */
  assert_true(pz_shard_place_hold(&f->sh, pz_str_c("tiny"), 700));
  assert_false(pz_shard_room_has_place(&f->sh, pz_str_c("tiny"), b->id));
  assert_int_equal(pz_shard_join(&f->sh, b, pz_str_c("tiny")),
                   PZ_SHARD_ROOM_FULL);
  assert_false(pz_shard_place_hold(&f->sh, pz_str_c("tiny"), 701));
  /* It arrives: the place is its own, the room is full, not over. */
  clear_all(f);
  pz_shard_join_held(&f->sh, c, pz_str_c("tiny"));
  assert_int_equal(only(f, 2, PZ_S_ROOM)->u.room.n_members, 2);
  assert_int_equal(only(f, 0, PZ_S_JOINED)->u.joined.id, c->id);
  assert_int_equal(pz_shard_room_count(&f->sh, pz_str_c("tiny"), b->id), 2);
  assert_null(f->sh.holds);
}

static void test_place_given_back_frees_the_room(void **state) {
  fx_t *f = *state;
  pz_session_t *b = mk(f, 1), *c = mk(f, 2);
  /* Held in a room that does not exist yet: both places. */
  assert_true(pz_shard_place_hold(&f->sh, pz_str_c("new"), 700));
  assert_true(pz_shard_place_hold(&f->sh, pz_str_c("new"), 701));
  assert_int_equal(f->sh.n_rooms, 0);
  assert_int_equal(pz_shard_join(&f->sh, b, pz_str_c("new")),
                   PZ_SHARD_ROOM_FULL);
  assert_int_equal(f->sh.n_rooms, 0);
  /* Neither comes: both given back, and the room takes anyone again. */
  pz_shard_place_release(&f->sh, pz_str_c("new"));
  pz_shard_place_release(&f->sh, pz_str_c("new"));
  pz_shard_place_release(&f->sh, pz_str_c("new")); /* nothing held: no-op */
  assert_null(f->sh.holds);
  join(f, b, "new");
  join(f, c, "new");
  /* Held at dispose time: freed with the shard (the sanitizers watch). */
  assert_true(pz_shard_place_hold(&f->sh, pz_str_c("other"), 702));
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name)                                                                \
  cmocka_unit_test_setup_teardown(name, setup_small_rooms, teardown)
      T(test_members_of_other_nodes_count),
      T(test_a_member_coming_from_another_node_counts_once),
      T(test_held_place_keeps_the_room_from_filling),
      T(test_place_given_back_frees_the_room),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
