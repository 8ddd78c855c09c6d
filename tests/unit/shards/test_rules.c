/*
 * Guards shards/rules.c, the movement rules behind ERROR 11: bounds on
 * |x|, |y|, |z| (0 turns them off); a speed budget that refills at
 * max_speed per second up to PZ_RULES_BURST_S (3) seconds' worth, so a
 * steady walk at max speed passes, moves bunched by a stall pass up to
 * three seconds of travel (the tolerance rules.h states, checked for
 * walkers at several speeds), sustained speeding and teleports fail, and
 * a refused move spends nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rules.h"

#define T0 5000000ull

static pz_pos_t at(float x, float y, float z) {
  return (pz_pos_t){x, y, z, 0};
}

static void test_no_limits_when_zero(void **state) {
  pz_rules_t r = {0, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t o = at(0, 0, 0), far = at(1e30f, -1e30f, 1e30f);
  assert_true(pz_rules_check(&r, &m, &o, &far, T0));
  assert_true(pz_rules_check(&r, &m, &far, &o, T0));
}

static void test_bounds(void **state) {
  pz_rules_t r = {0, 100};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t o = at(0, 0, 0);
  const pz_pos_t ok[] = {at(100, 0, 0),     at(-100, 0, 0), at(0, 100, 0),
                         at(0, -100, 0),    at(0, 0, 100),  at(0, 0, -100),
                         at(100, -100, 100)};
  const pz_pos_t out[] = {
      at(100.5f, 0, 0), at(-100.5f, 0, 0), at(0, 100.5f, 0), at(0, -100.5f, 0),
      at(0, 0, 100.5f), at(0, 0, -100.5f), at(1e30f, 0, 0)};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    if (!pz_rules_check(&r, &m, &o, &ok[i], T0))
      fail_msg("ok[%zu] refused", i);
  for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
    if (pz_rules_check(&r, &m, &o, &out[i], T0))
      fail_msg("out[%zu] accepted", i);
  /* Yaw is an angle, not a coordinate: not bounded. */
  pz_pos_t turned = {0, 0, 0, 1000};
  assert_true(pz_rules_check(&r, &m, &o, &turned, T0));
}

static void test_out_of_bounds_spends_nothing(void **state) {
  pz_rules_t r = {10, 100};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t from = at(95, 0, 0), out = at(101, 0, 0), back = at(65, 0, 0);
  assert_false(pz_rules_check(&r, &m, &from, &out, T0));
  /* The whole budget, three seconds' worth, is still there. */
  assert_true(pz_rules_check(&r, &m, &from, &back, T0));
}

static void test_budget_starts_at_three_seconds(void **state) {
  pz_rules_t r = {10, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t o = at(0, 0, 0), a = at(30.01f, 0, 0), b = at(18, 24, 0);
  assert_false(pz_rules_check(&r, &m, &o, &a, T0));
  assert_true(pz_rules_check(&r, &m, &o, &b, T0)); /* 3-4-5: 30 units */
  pz_pos_t c = at(18.5f, 24, 0);
  assert_false(pz_rules_check(&r, &m, &b, &c, T0)); /* spent */
}

static void test_steady_walk_at_max_speed_passes(void **state) {
  /* Default max speed, a 30 Hz client on a millisecond clock, walking
   * diagonally at exactly max speed for five minutes, inside the bounds. */
  pz_rules_t r = {50, 10000};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t prev = at(-5000, 0, -5000);
  for (int i = 1; i <= 30 * 300; i++) {
    uint64_t dt = (uint64_t)i * 1000 / 30;
    float d = (float)(50.0 * (double)dt / 1000.0 / 1.41421356237);
    pz_pos_t next = at(-5000 + d, 0, -5000 + d);
    if (!pz_rules_check(&r, &m, &prev, &next, T0 + dt))
      fail_msg("step %d at +%llu ms refused", i, (unsigned long long)dt);
    prev = next;
  }
}

static void test_steady_walk_from_empty_budget_passes(void **state) {
  /* After a sprint emptied the budget, walking at max speed still passes:
   * each step spends exactly what the elapsed time refilled. */
  pz_rules_t r = {10, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t prev = at(0, 0, 0), next = at(30, 0, 0);
  assert_true(pz_rules_check(&r, &m, &prev, &next, T0));
  prev = next;
  for (int i = 1; i <= 100; i++) {
    next = at(30 + (float)i, 0, 0);
    if (!pz_rules_check(&r, &m, &prev, &next, T0 + (uint64_t)i * 100))
      fail_msg("step %d refused", i);
    prev = next;
  }
}

static void test_teleport_fails_and_spends_nothing(void **state) {
  pz_rules_t r = {10, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t o = at(0, 0, 0), far = at(1000, 0, 0), near = at(30, 0, 0);
  assert_false(pz_rules_check(&r, &m, &o, &far, T0 + 5000));
  assert_false(pz_rules_check(&r, &m, &o, &far, T0 + 5000));
  /* The budget is intact: three full seconds of travel still pass. */
  assert_true(pz_rules_check(&r, &m, &o, &near, T0 + 5000));
  pz_pos_t more = at(30.5f, 0, 0);
  assert_false(pz_rules_check(&r, &m, &near, &more, T0 + 5000));
}

static void test_bunched_moves_after_pause(void **state) {
  /* Five seconds without a move, then thirty moves arriving together:
   * they pass up to three seconds of budget (30 units), not five. */
  pz_rules_t r = {10, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t prev = at(0, 0, 0);
  for (int i = 1; i <= 30; i++) {
    pz_pos_t next = at(0, 0, (float)i);
    if (!pz_rules_check(&r, &m, &prev, &next, T0 + 5000))
      fail_msg("bunched move %d refused", i);
    prev = next;
  }
  pz_pos_t next = at(0, 0, 31);
  assert_false(pz_rules_check(&r, &m, &prev, &next, T0 + 5000));
  /* 100 ms later one more unit has come back. */
  assert_true(pz_rules_check(&r, &m, &prev, &next, T0 + 5100));
}

static void test_sustained_speeding_fails(void **state) {
  /* 20% over the limit: the three-second reserve lasts about fifteen. */
  pz_rules_t r = {10, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t prev = at(0, 0, 0);
  int first_refused = 0;
  for (int i = 1; i <= 300 && !first_refused; i++) {
    pz_pos_t next = at(1.2f * (float)i, 0, 0);
    if (pz_rules_check(&r, &m, &prev, &next, T0 + (uint64_t)i * 100))
      prev = next;
    else
      first_refused = i;
  }
  assert_in_range(first_refused, 145, 155);
}

/* A walker at `speed` units/s along x, one MOVE every 50 ms of its own
 * clock, for 2 s, then `n_stalls` times: a stall of `stall_ms` during which
 * nothing reaches the server, whose moves all arrive at its end, and 2 s
 * more of prompt delivery. Returns the send time (ms from the start) of
 * the first move refused, or -1 when all passed. */
static long walk_through_stalls(const pz_rules_t *r, double speed,
                                uint64_t stall_ms, int n_stalls) {
  pz_motion_t m;
  pz_motion_init(&m, r, T0);
  pz_pos_t prev = at(0, 0, 0);
  uint64_t t = 0, end = 2000 + (uint64_t)n_stalls * (stall_ms + 2000);
  for (t = 50; t <= end; t += 50) {
    uint64_t read = t, period = stall_ms + 2000;
    if (t > 2000 && (t - 2000) % period < stall_ms) /* sent in a stall */
      read = t - (t - 2000) % period + stall_ms;
    pz_pos_t next = at((float)(speed * (double)t / 1000.0), 0, 0);
    if (!pz_rules_check(r, &m, &prev, &next, T0 + read))
      return (long)t;
    prev = next;
  }
  return -1;
}

static void test_walk_at_80_percent_through_stalls_of_1500_ms(void **state) {
  /* The bench's fastest walker (40 of 50 units/s) on a server that stalls
   * for 1.5 s now and then: each stall's 30 moves arrive at once. */
  pz_rules_t r = {50, 0};
  long refused = walk_through_stalls(&r, 40, 1500, 3);
  if (refused >= 0)
    fail_msg("move sent at %ld ms refused", refused);
}

static void test_stall_tolerance_is_burst_times_max_over_speed(void **state) {
  /* rules.h: moves pass when their delivery delay varies by at most
   * PZ_RULES_BURST_S * max_speed / speed; a longer stall is refused (the
   * budget is bounded), at the end of that stall. */
  pz_rules_t r = {50, 0};
  const double speeds[] = {50, 40, 25};
  for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++) {
    double limit_ms = PZ_RULES_BURST_S * 1000 * r.max_speed / speeds[i];
    uint64_t within = (uint64_t)(limit_ms * 0.95);
    uint64_t beyond = (uint64_t)(limit_ms * 1.05);
    long refused = walk_through_stalls(&r, speeds[i], within, 3);
    if (refused >= 0)
      fail_msg("%.0f units/s, stalls of %llu ms: move at %ld ms refused",
               speeds[i], (unsigned long long)within, refused);
    refused = walk_through_stalls(&r, speeds[i], beyond, 1);
    if (refused < 2000 || refused > 2000 + (long)beyond)
      fail_msg("%.0f units/s, a stall of %llu ms: refused at %ld ms", speeds[i],
               (unsigned long long)beyond, refused);
  }
}

static void test_twice_the_limit_is_stopped_after_the_burst(void **state) {
  /* A client at 2x max speed, every move delivered on time: the reserve
   * of PZ_RULES_BURST_S seconds drains at max_speed per second. */
  pz_rules_t r = {50, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t prev = at(0, 0, 0);
  long first_refused = -1;
  for (uint64_t t = 50; t <= 10000 && first_refused < 0; t += 50) {
    pz_pos_t next = at((float)(100.0 * (double)t / 1000.0), 0, 0);
    if (pz_rules_check(&r, &m, &prev, &next, T0 + t))
      prev = next;
    else
      first_refused = (long)t;
  }
  long burst_ms = (long)(PZ_RULES_BURST_S * 1000);
  assert_in_range(first_refused, burst_ms - 100, burst_ms + 100);
  assert_in_range(first_refused, 1000, 5000); /* "a few seconds" */
}

static void test_clock_behind_grants_no_budget(void **state) {
  /* A session moving between workers meets a loop clock a little behind
   * (uv_now is per loop). A move stamped earlier than the last one must
   * not make the next one refill again over the same interval. */
  pz_rules_t r = {10, 0};
  pz_motion_t m;
  pz_motion_init(&m, &r, T0);
  pz_pos_t o = at(0, 0, 0), a = at(30, 0, 0), b = at(31, 0, 0);
  pz_pos_t turn = {30, 0, 0, 1.5f};
  assert_true(pz_rules_check(&r, &m, &o, &a, T0 + 1000));   /* budget: 0 */
  assert_true(pz_rules_check(&r, &m, &a, &turn, T0 + 900)); /* no travel */
  /* No time has passed since the budget was emptied at T0 + 1000. */
  assert_false(pz_rules_check(&r, &m, &turn, &b, T0 + 1000));
  /* 100 ms after it, one unit. */
  assert_true(pz_rules_check(&r, &m, &turn, &b, T0 + 1100));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_limits_when_zero),
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_out_of_bounds_spends_nothing),
      cmocka_unit_test(test_budget_starts_at_three_seconds),
      cmocka_unit_test(test_steady_walk_at_max_speed_passes),
      cmocka_unit_test(test_steady_walk_from_empty_budget_passes),
      cmocka_unit_test(test_teleport_fails_and_spends_nothing),
      cmocka_unit_test(test_bunched_moves_after_pause),
      cmocka_unit_test(test_sustained_speeding_fails),
      cmocka_unit_test(test_clock_behind_grants_no_budget),
      cmocka_unit_test(test_walk_at_80_percent_through_stalls_of_1500_ms),
      cmocka_unit_test(test_stall_tolerance_is_burst_times_max_over_speed),
      cmocka_unit_test(test_twice_the_limit_is_stopped_after_the_burst),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
