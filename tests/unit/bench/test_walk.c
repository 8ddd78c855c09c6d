/*
 * Unit tests of the simulated walk (bench/walk.c): never faster than
 * plaza's default speed limit, never out of its default bounds, heading
 * changes bounded per step (smooth), deterministic per seed.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../bench/walk.c"

static double angle_diff(double a, double b) {
  double d = a - b;
  while (d > M_PI)
    d -= 2 * M_PI;
  while (d <= -M_PI)
    d += 2 * M_PI;
  return fabs(d);
}

static void walk_checks(uint64_t seed, double x0, double y0, double dt,
                        int steps) {
  pz_walk_t w;
  pz_walk_init(&w, seed, x0, y0);
  double px = w.x, py = w.y, ph = w.heading;
  for (int i = 0; i < steps; i++) {
    pz_pos_t p = pz_walk_step(&w, dt);
    assert_true(isfinite(p.x) && isfinite(p.y) && isfinite(p.yaw));
    assert_true(fabs(p.x) <= PZ_WALK_HARD_BOUND);
    assert_true(fabs(p.y) <= PZ_WALK_HARD_BOUND);
    assert_true(p.z == 0);
    double dist = hypot(w.x - px, w.y - py);
    /* plaza's rule: 50 units/s (float32 rounding aside) */
    assert_true(dist <= 50.0 * dt + 1e-3);
    assert_true(dist <= PZ_WALK_MAX_SPEED * dt + 1e-6);
    assert_true(angle_diff(w.heading, ph) <= PZ_WALK_MAX_TURN * dt + 1e-9);
    px = w.x;
    py = w.y;
    ph = w.heading;
  }
}

static void test_speed_and_bounds_at_20hz(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 20; seed++)
    walk_checks(seed, 0, 0, 0.05, 20000);
}

static void test_starting_at_the_edge_turns_back(void **state) {
  (void)state;
  walk_checks(7, 9989, -9989, 0.05, 5000);
  walk_checks(8, 1e9, 1e9, 0.05, 100); /* clamped at init */
  pz_walk_t w;
  pz_walk_init(&w, 3, 9900, 9900);
  for (int i = 0; i < 4000; i++) /* 200 s */
    pz_walk_step(&w, 0.05);
  assert_true(fabs(w.x) < PZ_WALK_HARD_BOUND && fabs(w.y) < PZ_WALK_HARD_BOUND);
}

static void test_long_and_odd_steps(void **state) {
  (void)state;
  walk_checks(5, 100, 100, 1.0, 2000);   /* 1 Hz */
  walk_checks(6, 100, 100, 0.001, 2000); /* 1 kHz */
  pz_walk_t w;
  pz_walk_init(&w, 9, 0, 0);
  pz_pos_t p = pz_walk_step(&w, 0); /* no time, no motion */
  assert_true(p.x == 0 && p.y == 0);
  pz_walk_step(&w, 50); /* clamped to 1 s */
  assert_true(hypot(w.x, w.y) <= PZ_WALK_MAX_SPEED + 1e-6);
}

static void test_the_walker_actually_walks(void **state) {
  (void)state;
  pz_walk_t w;
  pz_walk_init(&w, 11, 0, 0);
  double travelled = 0, px = 0, py = 0;
  for (int i = 0; i < 1200; i++) { /* 60 s at 20 Hz */
    pz_walk_step(&w, 0.05);
    travelled += hypot(w.x - px, w.y - py);
    px = w.x;
    py = w.y;
  }
  assert_true(travelled > 60 * PZ_WALK_MIN_SPEED * 0.5);
}

static void test_same_seed_same_walk(void **state) {
  (void)state;
  pz_walk_t a, b;
  pz_walk_init(&a, 42, 1, 2);
  pz_walk_init(&b, 42, 1, 2);
  for (int i = 0; i < 1000; i++) {
    pz_pos_t pa = pz_walk_step(&a, 0.05), pb = pz_walk_step(&b, 0.05);
    assert_true(pa.x == pb.x && pa.y == pb.y && pa.yaw == pb.yaw);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_speed_and_bounds_at_20hz),
      cmocka_unit_test(test_starting_at_the_edge_turns_back),
      cmocka_unit_test(test_long_and_odd_steps),
      cmocka_unit_test(test_the_walker_actually_walks),
      cmocka_unit_test(test_same_seed_same_walk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
