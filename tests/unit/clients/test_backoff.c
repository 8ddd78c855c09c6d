/*
 * Unit tests of the reconnect delays (clients/c/backoff.c): the same numbers
 * as plaza-client's backoff.ts: exponential from the initial delay, capped,
 * the jitter taking off at most its fraction, out-of-range inputs clamped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static const pz_backoff_t defaults = {250, 5000, 2, 0.5};

static void test_grows_and_caps_without_randomness(void **state) {
  static const uint32_t want[] = {250, 500, 1000, 2000, 4000, 5000, 5000};
  (void)state;
  for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    assert_int_equal(pz_backoff_delay(&defaults, i, 0), want[i]);
  assert_int_equal(pz_backoff_delay(&defaults, 4000, 0), 5000); /* overflow */
}

static void test_jitter_takes_off_up_to_its_fraction(void **state) {
  (void)state;
  assert_int_equal(pz_backoff_delay(&defaults, 0, 0.5), 188); /* 250*.75 */
  assert_int_equal(pz_backoff_delay(&defaults, 3, 0.999999), 1000);
  for (double r = 0; r < 1; r += 0.01) {
    uint32_t d = pz_backoff_delay(&defaults, 2, r);
    assert_true(d >= 500 && d <= 1000);
  }
}

static void test_inputs_clamped(void **state) {
  pz_backoff_t b = {100, 1000, 0.5, 3}; /* factor < 1, jitter > 1 */
  (void)state;
  assert_int_equal(pz_backoff_delay(&b, 5, 0), 100);
  assert_int_equal(pz_backoff_delay(&b, 0, 0.5), 50);
  assert_int_equal(pz_backoff_delay(&defaults, 0, 1.5), 250); /* r out */
  assert_int_equal(pz_backoff_delay(&defaults, 0, -1), 250);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grows_and_caps_without_randomness),
      cmocka_unit_test(test_jitter_takes_off_up_to_its_fraction),
      cmocka_unit_test(test_inputs_clamped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
