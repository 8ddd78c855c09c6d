/*
 * Unit tests of the bench's latency histogram (bench/hist.c): bucket
 * bounds, resolution, percentiles against exact ones, merging, extremes.
 * The unit test binaries do not link the bench objects, so the source is
 * included.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../../bench/hist.c"

static pz_hist_t *new_hist(void) {
  pz_hist_t *h = malloc(sizeof(*h));
  assert_non_null(h);
  pz_hist_reset(h);
  return h;
}

static void test_buckets_cover_every_value_once(void **state) {
  (void)state;
  /* Consecutive buckets tile the range: hi + 1 of one is lo of the next. */
  uint64_t prev_hi = 0;
  for (uint32_t i = 0; i < PZ_HIST_BUCKETS; i++) {
    uint64_t lo, hi;
    pz_hist_bucket_range(i, &lo, &hi);
    if (i > 0)
      assert_int_equal(lo, prev_hi + 1);
    assert_true(hi >= lo);
    assert_int_equal(pz_hist_index(lo), i);
    assert_int_equal(pz_hist_index(hi), i);
    prev_hi = hi;
  }
  assert_int_equal(prev_hi, PZ_HIST_MAX_US);
  assert_int_equal(pz_hist_index(PZ_HIST_MAX_US + 12345), PZ_HIST_BUCKETS - 1);
}

static void test_resolution_under_a_tenth_of_a_ms_to_100ms(void **state) {
  (void)state;
  for (uint64_t v = 1; v <= 100000; v += 7) {
    uint64_t lo, hi;
    pz_hist_bucket_range(pz_hist_index(v), &lo, &hi);
    assert_true(hi - lo < 100); /* 0.1 ms */
  }
  /* relative precision 1/512 beyond */
  uint64_t lo, hi;
  pz_hist_bucket_range(pz_hist_index(10000000), &lo, &hi);
  assert_true((double)(hi - lo) / (double)lo < 1.0 / 500);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_percentiles_match_exact_ones(void **state) {
  (void)state;
  enum { N = 20000 };
  uint64_t *v = malloc(N * sizeof(*v));
  pz_hist_t *h = new_hist();
  uint64_t s = 12345;
  for (int i = 0; i < N; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    /* latency-like: mostly 0-40 ms, a tail to 2 s */
    v[i] = (s >> 33) % 40000 + ((s >> 20) % 100 == 0 ? (s >> 40) % 2000000 : 0);
    pz_hist_record(h, v[i]);
  }
  qsort(v, N, sizeof(*v), cmp_u64);
  const double ps[] = {50, 90, 99, 99.9, 100};
  for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
    size_t rank = (size_t)ceil(ps[k] / 100 * N);
    double exact = (double)v[rank - 1];
    double got = pz_hist_percentile(h, ps[k]);
    /* within half a bucket: 1/1024 relative, or 1 us */
    assert_true(fabs(got - exact) <= exact / 1000 + 1);
  }
  assert_int_equal(h->count, N);
  assert_int_equal(h->max, v[N - 1]);
  assert_int_equal(h->min, v[0]);
  free(v);
  free(h);
}

static void test_merge_adds_counts_and_extremes(void **state) {
  (void)state;
  pz_hist_t *a = new_hist(), *b = new_hist(), *c = new_hist();
  for (uint64_t i = 0; i < 1000; i++) {
    pz_hist_record(a, i);
    pz_hist_record(c, i);
  }
  for (uint64_t i = 5000; i < 6000; i++) {
    pz_hist_record(b, i);
    pz_hist_record(c, i);
  }
  pz_hist_merge(a, b);
  assert_int_equal(a->count, c->count);
  assert_int_equal(a->sum, c->sum);
  assert_int_equal(a->min, 0);
  assert_int_equal(a->max, 5999);
  assert_true(pz_hist_percentile(a, 50) == pz_hist_percentile(c, 50));
  assert_true(pz_hist_percentile(a, 99) == pz_hist_percentile(c, 99));
  free(a);
  free(b);
  free(c);
}

static void test_empty_and_single_value(void **state) {
  (void)state;
  pz_hist_t *h = new_hist();
  assert_true(pz_hist_percentile(h, 99) == 0);
  pz_hist_record(h, 33333);
  /* one sample: every percentile is that value (clamped to min/max) */
  assert_true(pz_hist_percentile(h, 1) == 33333);
  assert_true(pz_hist_percentile(h, 99.9) == 33333);
  pz_hist_record(h, 5000000000ull); /* past the range: last bucket */
  assert_int_equal(h->max, 5000000000ull);
  assert_true(pz_hist_percentile(h, 100) <= 5000000000.0);
  free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets_cover_every_value_once),
      cmocka_unit_test(test_resolution_under_a_tenth_of_a_ms_to_100ms),
      cmocka_unit_test(test_percentiles_match_exact_ones),
      cmocka_unit_test(test_merge_adds_counts_and_extremes),
      cmocka_unit_test(test_empty_and_single_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
