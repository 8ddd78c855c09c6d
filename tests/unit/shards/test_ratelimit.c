/*
 * Guards shards/ratelimit.c, the protocol's rate limits (60 MOVE/s, 5 CHAT/s
 * with a burst of 10) and the abuse window behind close 4003: a bucket
 * starts full, refills at its rate without losing fractions, never holds
 * more than its burst, and gains nothing when the clock steps back; a
 * window counts events until window_ms has passed, then starts again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ratelimit.h"

#define T0 1000000ull /* a monotonic clock is far from 0 */

/* Takes until refused at now_ms; returns how many were allowed. */
static int drain(pz_bucket_t *b, double rate, double burst, uint64_t now_ms) {
  int n = 0;
  while (pz_bucket_take(b, rate, burst, now_ms)) {
    n++;
    if (n > 1000000)
      fail_msg("bucket never runs dry");
  }
  return n;
}

static void test_bucket_starts_full_with_burst(void **state) {
  pz_bucket_t b;
  pz_bucket_init(&b, 10, T0);
  assert_int_equal(drain(&b, 5, 10, T0), 10);
  assert_false(pz_bucket_take(&b, 5, 10, T0));
}

static void test_bucket_refills_at_rate(void **state) {
  pz_bucket_t b;
  pz_bucket_init(&b, 10, T0);
  drain(&b, 5, 10, T0);
  /* 5/s: one token every 200 ms, not before. */
  assert_false(pz_bucket_take(&b, 5, 10, T0 + 100));
  assert_false(pz_bucket_take(&b, 5, 10, T0 + 199));
  assert_true(pz_bucket_take(&b, 5, 10, T0 + 200));
  assert_false(pz_bucket_take(&b, 5, 10, T0 + 200));
  /* One second: five more. */
  assert_int_equal(drain(&b, 5, 10, T0 + 1200), 5);
}

static void test_bucket_keeps_fractions_of_small_steps(void **state) {
  /* 125/s is 0.125 token per ms, exact in binary: polled every millisecond
   * for a second, exactly 125 events pass (no fraction lost per call). */
  pz_bucket_t b;
  pz_bucket_init(&b, 200, T0);
  drain(&b, 125, 200, T0);
  int allowed = 0;
  for (uint64_t t = 1; t <= 1000; t++)
    allowed += pz_bucket_take(&b, 125, 200, T0 + t);
  assert_int_equal(allowed, 125);
}

static void test_bucket_steady_rate_passes(void **state) {
  /* MOVE at exactly 60/s (one every 16-17 ms on a millisecond clock) for
   * a minute: a client at the limit is never refused. */
  pz_bucket_t b;
  pz_bucket_init(&b, 60, T0);
  uint64_t t = T0;
  for (int i = 0; i < 60 * 60; i++) {
    t = T0 + (uint64_t)i * 1000 / 60;
    if (!pz_bucket_take(&b, 60, 60, t))
      fail_msg("move %d at +%llu ms refused", i, (unsigned long long)(t - T0));
  }
}

static void test_bucket_never_above_burst(void **state) {
  pz_bucket_t b;
  pz_bucket_init(&b, 10, T0);
  drain(&b, 5, 10, T0);
  /* An hour idle still gives only the burst. */
  assert_int_equal(drain(&b, 5, 10, T0 + 3600 * 1000), 10);
  assert_true(b.tokens <= 10.0f);
  /* Taking at a time with a full bucket does not bank beyond it either. */
  pz_bucket_init(&b, 10, T0);
  for (uint64_t t = 1; t <= 10; t++)
    assert_true(pz_bucket_take(&b, 5, 10, T0 + t * 10000));
  assert_true(b.tokens <= 10.0f);
  assert_int_equal(drain(&b, 5, 10, T0 + 100000), 9);
}

static void test_bucket_time_going_backwards(void **state) {
  pz_bucket_t b;
  pz_bucket_init(&b, 10, T0 + 10000);
  drain(&b, 5, 10, T0 + 10000);
  /* An earlier time gives nothing and must not crash or wrap around. */
  assert_false(pz_bucket_take(&b, 5, 10, T0 + 5000));
  assert_false(pz_bucket_take(&b, 5, 10, 0));
  /* Back to the present: only the time really elapsed since the drain
   * counts (200 ms at 5/s = one token), not the time since the past. */
  assert_false(pz_bucket_take(&b, 5, 10, T0 + 10100));
  assert_true(pz_bucket_take(&b, 5, 10, T0 + 10200));
  assert_false(pz_bucket_take(&b, 5, 10, T0 + 10200));
}

static void test_bucket_zero_burst_refuses(void **state) {
  pz_bucket_t b;
  pz_bucket_init(&b, 0, T0);
  assert_false(pz_bucket_take(&b, 5, 0, T0));
  assert_false(pz_bucket_take(&b, 5, 0, T0 + 100000));
}

static void test_window_counts_within_window(void **state) {
  pz_window_t w = {0};
  assert_int_equal(pz_window_hit(&w, 10000, T0), 1);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 1), 2);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 5000), 3);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 9999), 4);
  /* Many at once. */
  for (uint32_t i = 5; i < 105; i++)
    assert_int_equal(pz_window_hit(&w, 10000, T0 + 9999), i);
}

static void test_window_resets_after(void **state) {
  pz_window_t w = {0};
  assert_int_equal(pz_window_hit(&w, 10000, T0), 1);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 100), 2);
  /* The window that began at T0 has passed at T0 + 10000. */
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 10000), 1);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 19999), 2);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 20000), 1);
  /* Long idle. */
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 10000000), 1);
}

static void test_window_time_going_backwards(void **state) {
  pz_window_t w = {0};
  assert_int_equal(pz_window_hit(&w, 10000, T0), 1);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 1), 2);
  /* An earlier clock must not underflow into a huge elapsed time that
   * keeps counting forever, nor into a window that never ends. */
  uint32_t n = pz_window_hit(&w, 10000, T0 - 1);
  assert_in_range(n, 1, 3);
  assert_int_equal(pz_window_hit(&w, 10000, T0 + 20000), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bucket_starts_full_with_burst),
      cmocka_unit_test(test_bucket_refills_at_rate),
      cmocka_unit_test(test_bucket_keeps_fractions_of_small_steps),
      cmocka_unit_test(test_bucket_steady_rate_passes),
      cmocka_unit_test(test_bucket_never_above_burst),
      cmocka_unit_test(test_bucket_time_going_backwards),
      cmocka_unit_test(test_bucket_zero_burst_refuses),
      cmocka_unit_test(test_window_counts_within_window),
      cmocka_unit_test(test_window_resets_after),
      cmocka_unit_test(test_window_time_going_backwards),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
