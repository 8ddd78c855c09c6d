/*
 * Guards the /livez verdict in src/server/probes.c: a worker is stalled
 * once its last tick is more than the allowance behind, the first such
 * worker is named, and a clock that reads a tick "from the future" (a
 * worker that ticked after the reader took the time) is not stalled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "probes.h"

static void test_stalled_worker_found(void **state) {
  uint64_t ticks[4] = {10000, 10000, 10000, 10000};
  assert_int_equal(pz_probe_stalled(ticks, 4, 10000, 5000), -1);
  assert_int_equal(pz_probe_stalled(ticks, 4, 15000, 5000), -1);
  assert_int_equal(pz_probe_stalled(ticks, 4, 15001, 5000), 0);
  ticks[0] = 14000;
  ticks[3] = 9000;
  assert_int_equal(pz_probe_stalled(ticks, 4, 15000, 5000), 3);
  ticks[1] = 2000;
  assert_int_equal(pz_probe_stalled(ticks, 4, 15000, 5000), 1);
  uint64_t later[2] = {20000, 20001};
  assert_int_equal(pz_probe_stalled(later, 2, 20000, 5000), -1);
  assert_int_equal(pz_probe_stalled(later, 0, 99999, 5000), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stalled_worker_found),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
