/*
 * Latency histogram of the bench: HDR-style log-linear buckets over
 * microseconds, fixed size, no allocation per sample.
 *
 * Values below 2048 us get a bucket each; above, every power of two is cut
 * into 1024 buckets, so a bucket is at most 1/1024 of its value wide (under
 * 0.1 ms up to 131 ms, 32 us at 50 ms). Values past
 * PZ_HIST_MAX_US (35 minutes) land in the last bucket; the exact maximum is
 * kept beside. Recording is a few instructions (the bench records about a
 * million samples a second); percentiles walk the buckets once. Sans-I/O:
 * one owner at a time, merged by the caller.
 */
#ifndef PZ_BENCH_HIST_H
#define PZ_BENCH_HIST_H

#include <stdint.h>

#define PZ_HIST_SUB_BITS 11 /* 2048 exact values, then 1024 per octave */
#define PZ_HIST_HALF (1u << (PZ_HIST_SUB_BITS - 1))
#define PZ_HIST_MAX_SHIFT (31 - PZ_HIST_SUB_BITS) /* octaves up to 2^31 us */
#define PZ_HIST_BUCKETS                                                        \
  ((1u << PZ_HIST_SUB_BITS) + PZ_HIST_MAX_SHIFT * PZ_HIST_HALF)
#define PZ_HIST_MAX_US ((1ull << 31) - 1)

typedef struct pz_hist {
  uint64_t count;
  uint64_t sum; /* of the recorded values, for the mean */
  uint64_t min, max;
  uint64_t b[PZ_HIST_BUCKETS];
} pz_hist_t;

/* Bucket index of a value in us. */
static inline uint32_t pz_hist_index(uint64_t us) {
  if (us < (1u << PZ_HIST_SUB_BITS))
    return (uint32_t)us;
  if (us > PZ_HIST_MAX_US)
    us = PZ_HIST_MAX_US;
  unsigned msb = 63u - (unsigned)__builtin_clzll(us);
  unsigned shift = msb - (PZ_HIST_SUB_BITS - 1);
  return (1u << PZ_HIST_SUB_BITS) + (shift - 1) * PZ_HIST_HALF +
         (uint32_t)((us >> shift) - PZ_HIST_HALF);
}

static inline void pz_hist_record(pz_hist_t *h, uint64_t us) {
  h->b[pz_hist_index(us)]++;
  h->count++;
  h->sum += us;
  if (us > h->max)
    h->max = us;
  if (us < h->min)
    h->min = us;
}

/* Empties h. */
void pz_hist_reset(pz_hist_t *h);

/* Adds every sample of src to dst. */
void pz_hist_merge(pz_hist_t *dst, const pz_hist_t *src);

/* Lowest and highest value (us) a bucket holds. */
void pz_hist_bucket_range(uint32_t idx, uint64_t *lo, uint64_t *hi);

/* The value (us) below or at which p percent (0 < p <= 100) of the samples
 * lie: the midpoint of the bucket holding that rank, clamped to the exact
 * min and max. 0 when the histogram is empty. */
double pz_hist_percentile(const pz_hist_t *h, double p);

#endif
