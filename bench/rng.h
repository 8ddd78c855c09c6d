/*
 * Small fast random numbers for the load model (xorshift64*): a client's
 * walk, its chat schedule and the masks of its frames. Not for anything
 * secret; one state per owner, never shared between threads.
 */
#ifndef PZ_BENCH_RNG_H
#define PZ_BENCH_RNG_H

#include <stdint.h>

/* Never returns 0 for a state that is not 0 (seeds are forced odd). */
static inline uint64_t pz_rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* A state from any seed (splitmix64 of it, made non-zero). */
static inline uint64_t pz_rng_seed(uint64_t seed) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) | 1;
}

/* Uniform in [0, 1). */
static inline double pz_rng_unit(uint64_t *s) {
  return (double)(pz_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [lo, hi). */
static inline double pz_rng_range(uint64_t *s, double lo, double hi) {
  return lo + (hi - lo) * pz_rng_unit(s);
}

#endif
