/*
 * Reconnect delays, sans-I/O: capped exponential backoff with jitter, so a
 * thousand clients dropped by one node do not come back in the same
 * millisecond (plaza-client's clients/ts/src/backoff.ts, the same numbers).
 */
#ifndef PZ_CLIENT_BACKOFF_H
#define PZ_CLIENT_BACKOFF_H

#include <stdint.h>

typedef struct pz_backoff {
  uint32_t initial_ms, max_ms;
  double factor; /* growth per attempt, >= 1 */
  double jitter; /* fraction of the delay that is random, 0..1 */
} pz_backoff_t;

/* The delay before attempt `attempt` (0-based): base = min(max, initial *
 * factor^attempt), minus up to jitter * base: base * (1 - jitter * r) for
 * r in [0, 1) from the caller's randomness, rounded. */
uint32_t pz_backoff_delay(const pz_backoff_t *b, unsigned attempt, double r);

#endif
