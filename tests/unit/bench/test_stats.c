/*
 * Unit tests of the bench's counters (bench/stats.c): window differences
 * and merges field by field, error and close code buckets, result merge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../bench/hist.c"
#include "../../../bench/stats.c"

static void test_sub_and_add(void **state) {
  (void)state;
  pz_bench_counters_t a, b, d, sum;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.moves_sent = 100;
  b.moves_sent = 40;
  a.closes[pz_closek_of_code(1000)] = 7;
  b.closes[pz_closek_of_code(1000)] = 2;
  a.lag_max_us = 5;
  b.lag_max_us = 9;
  pz_counters_sub(&d, &a, &b);
  assert_int_equal(d.moves_sent, 60);
  assert_int_equal(d.closes[0], 5);
  assert_int_equal(d.lag_max_us, 5); /* the later maximum, not a difference */
  memset(&sum, 0, sizeof(sum));
  pz_counters_add(&sum, &a);
  pz_counters_add(&sum, &b);
  assert_int_equal(sum.moves_sent, 140);
  assert_int_equal(sum.lag_max_us, 9);
}

static void test_code_buckets(void **state) {
  (void)state;
  assert_int_equal(pz_errk_of_code(4), 4);
  assert_int_equal(pz_errk_of_code(11), 11);
  assert_int_equal(pz_errk_of_code(0), PZ_ERRK_OTHER);
  assert_int_equal(pz_errk_of_code(99), PZ_ERRK_OTHER);
  const int codes[] = {1000, 1001, 1006, 1009, 1011, 4000, 4004, 4015};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
    assert_int_equal(pz_closek_code(pz_closek_of_code(codes[i])), codes[i]);
  assert_int_equal(pz_closek_of_code(3000), PZ_CLOSEK_OTHER);
  assert_int_equal(pz_closek_of_code(4999), PZ_CLOSEK_OTHER);
  assert_int_equal(pz_closek_code(PZ_CLOSEK_OTHER), -1);
}

static void test_result_merge(void **state) {
  (void)state;
  pz_bench_result_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
  pz_result_reset(a);
  pz_result_reset(b);
  a->expected = 10;
  a->delivered = 9;
  a->busy_max = 0.5;
  a->wall_s = 10;
  a->threads = 1;
  pz_hist_record(&a->move, 1000);
  b->expected = 5;
  b->delivered = 5;
  b->busy_max = 0.9;
  b->wall_s = 10.01;
  b->threads = 1;
  pz_hist_record(&b->move, 3000);
  pz_result_merge(a, b);
  assert_int_equal(a->expected, 15);
  assert_int_equal(a->delivered, 14);
  assert_int_equal(a->threads, 2);
  assert_true(a->busy_max == 0.9);
  assert_true(a->wall_s == 10.01);
  assert_int_equal(a->move.count, 2);
  assert_int_equal(a->move.max, 3000);
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sub_and_add),
      cmocka_unit_test(test_code_buckets),
      cmocka_unit_test(test_result_merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
