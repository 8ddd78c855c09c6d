/* Latency histogram of the bench (see hist.h). */
#include "hist.h"

#include <math.h>
#include <string.h>

void pz_hist_reset(pz_hist_t *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

void pz_hist_merge(pz_hist_t *dst, const pz_hist_t *src) {
  if (src->count == 0)
    return;
  for (uint32_t i = 0; i < PZ_HIST_BUCKETS; i++)
    dst->b[i] += src->b[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->max > dst->max)
    dst->max = src->max;
  if (src->min < dst->min)
    dst->min = src->min;
}

void pz_hist_bucket_range(uint32_t idx, uint64_t *lo, uint64_t *hi) {
  if (idx < (1u << PZ_HIST_SUB_BITS)) {
    *lo = *hi = idx;
    return;
  }
  uint32_t k = idx - (1u << PZ_HIST_SUB_BITS);
  unsigned shift = k / PZ_HIST_HALF + 1;
  uint64_t sub = PZ_HIST_HALF + k % PZ_HIST_HALF;
  *lo = sub << shift;
  *hi = ((sub + 1) << shift) - 1;
}

double pz_hist_percentile(const pz_hist_t *h, double p) {
  if (h->count == 0)
    return 0;
  if (p > 100)
    p = 100;
  /* Rank of the sample wanted, 1-based: at least the first. */
  uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
  if (rank < 1)
    rank = 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < PZ_HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t lo, hi;
      pz_hist_bucket_range(i, &lo, &hi);
      double v = ((double)lo + (double)hi) / 2.0;
      if (v > (double)h->max)
        v = (double)h->max;
      if (v < (double)h->min)
        v = (double)h->min;
      return v;
    }
  }
  return (double)h->max;
}
