/*
 * Guards the grid of interest management (shards/grid.c): short ids
 * handed out and reused, every body findable in the cell of its place
 * through the open-addressing table while bodies come, move and go in
 * their thousands over many cells (growth, and deletion by backward
 * shift, which must never lose a cell further down a probe chain), empty
 * cells gone, and the fresh list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grid.h"

static uint64_t rng = 42;
static double rnd(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng >> 11) / 9007199254740992.0;
}

/* Every live body sits in the cell of its place, found by lookup, at its
 * recorded position there; the cells found are exactly the occupied ones. */
static void check(pz_grid_t *g, const bool *live, const pz_pos_t *at,
                  uint32_t n) {
  uint32_t occupied = 0;
  for (uint32_t k = 0; k < g->n_slots; k++)
    if (g->slots[k]) {
      assert_true(g->slots[k]->n > 0);
      occupied++;
    }
  assert_int_equal(occupied, g->n_cells);
  for (uint32_t i = 0; i < n; i++) {
    if (!live[i])
      continue;
    const pz_body_t *b = &g->bodies[i];
    pz_cell_t *c =
        pz_grid_cell(g, pz_grid_coord(g, at[i].x), pz_grid_coord(g, at[i].z));
    assert_non_null(c);
    assert_ptr_equal(c, b->cell);
    assert_int_equal(c->ids[b->cell_pos], i);
    assert_float_equal(g->xz[i].x, at[i].x, 0);
    assert_float_equal(g->xz[i].z, at[i].z, 0);
  }
}

static void test_bodies_come_move_and_go(void **state) {
  (void)state;
  enum { N = 3000 };
  static bool live[N];
  static pz_pos_t at[N];
  memset(live, 0, sizeof live);
  uint32_t n_live = 0;
  pz_grid_t *g = pz_grid_create(10);
  struct pz_session *dummy = (struct pz_session *)&rng; /* never read */
  for (int round = 0; round < 30000; round++) {
    double u = rnd();
    uint32_t i = (uint32_t)(rnd() * N);
    pz_pos_t p = {(float)(rnd() * 2000 - 1000), 0, (float)(rnd() * 2000 - 1000),
                  0};
    if (u < 0.4 && n_live < N) { /* a newcomer: a free id */
      uint32_t id = pz_grid_add(g, dummy, NULL, &p);
      assert_true(id < N);
      assert_false(live[id]);
      live[id] = true;
      at[id] = p;
      n_live++;
    } else if (live[i] && u < 0.8) { /* a step, often to another cell */
      p = (pz_pos_t){at[i].x + (float)(rnd() * 30 - 15), 0,
                     at[i].z + (float)(rnd() * 30 - 15), 0};
      pz_grid_place(g, i, &p);
      at[i] = p;
    } else if (live[i]) {
      pz_grid_remove(g, i);
      live[i] = false;
      n_live--;
    }
    if (round % 1000 == 0)
      check(g, live, at, N);
  }
  check(g, live, at, N);
  /* Ids are reused: after freeing everything, the next add takes one of
   * the freed ids, not a new one. */
  uint32_t high = g->n_bodies;
  for (uint32_t i = 0; i < N; i++)
    if (live[i])
      pz_grid_remove(g, i);
  assert_int_equal(g->n_cells, 0);
  pz_pos_t o = {0, 0, 0, 0};
  assert_true(pz_grid_add(g, dummy, NULL, &o) < high);
  assert_int_equal(g->n_bodies, high);
  pz_grid_destroy(g);
}

static void test_fresh_list(void **state) {
  (void)state;
  pz_grid_t *g = pz_grid_create(32);
  struct pz_session *dummy = (struct pz_session *)&rng;
  pz_pos_t o = {1, 0, 1, 0};
  uint32_t a = pz_grid_add(g, dummy, NULL, &o);
  uint32_t b = pz_grid_add(g, dummy, NULL, &o);
  assert_int_equal(g->n_fresh, 2);
  pz_grid_remove(g, a); /* gone before any tick saw it */
  assert_int_equal(g->n_fresh, 1);
  assert_int_equal(g->fresh[0], b);
  /* a replaced body (a remote member turned local) is fresh again, with
   * no compact baseline */
  g->n_fresh = 0;
  g->bodies[b].fresh = false;
  g->bodies[b].based = true;
  pz_grid_replace(g, b, dummy, NULL);
  assert_int_equal(g->n_fresh, 1);
  assert_false(g->bodies[b].based);
  pz_grid_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bodies_come_move_and_go),
      cmocka_unit_test(test_fresh_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
