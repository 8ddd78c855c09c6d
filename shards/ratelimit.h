/*
 * Token bucket (rate per second, burst) and a sliding count of events in a
 * window, for the protocol's rate limits and abuse detection. Pure data:
 * the caller passes the time in milliseconds (a monotonic clock).
 */
#ifndef PZ_RATELIMIT_H
#define PZ_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Packed to 12 bytes (the time unaligned, which x86 and arm64 read at no
 * cost): a session holds four buckets and two windows, and a server one
 * session per client. */
#define PZ_PACKED4 __attribute__((packed, aligned(4)))

typedef struct PZ_PACKED4 pz_bucket {
  float tokens;
  uint64_t last_ms;
} pz_bucket_t;

/* A full bucket at now_ms. */
void pz_bucket_init(pz_bucket_t *b, double burst, uint64_t now_ms);
/* Refills at `rate` per second up to `burst`, then takes one token if there
 * is one. True when the event is allowed. */
bool pz_bucket_take(pz_bucket_t *b, double rate, double burst, uint64_t now_ms);

/* Counts events in a fixed window restarted when it has passed: cheap and
 * good enough to tell sustained abuse from a burst. */
typedef struct PZ_PACKED4 pz_window {
  uint32_t count;
  uint64_t start_ms;
} pz_window_t;

/* Adds one event; returns the events counted in the current window. */
uint32_t pz_window_hit(pz_window_t *w, uint64_t window_ms, uint64_t now_ms);

#endif
