/*
 * Movement rules of a room: a speed limit and world bounds. Speed is
 * checked against a distance budget that refills at max_speed per second
 * up to PZ_RULES_BURST_S seconds' worth, so moves bunched by network or
 * server stalls pass while teleports and sustained speeding do not. Pure
 * data; time in milliseconds.
 */
#ifndef PZ_RULES_H
#define PZ_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "plaza/codec.h"
#include "ratelimit.h" /* PZ_PACKED4 */

/* Seconds of travel at max_speed the budget holds. Moves of a client
 * walking at speed v pass however they are bunched as long as the delay
 * from its send to our read varies by at most BURST_S * max_speed / v
 * seconds: a stall of 3 s at max speed, 3.75 s at 80% of it. One second
 * (what it was) let a 1.5 s stall of a loaded server reject steady
 * walkers. The price: after standing still for 3 s a client may jump as
 * far as it could have walked in them, and a client at twice the limit
 * is stopped after 3 s, at 1.2x after 15 s. */
#define PZ_RULES_BURST_S 3.0

typedef struct pz_rules {
  double max_speed; /* units per second; 0: no limit */
  double bounds;    /* |x|, |y|, |z| limit; 0: no limit */
} pz_rules_t;

typedef struct PZ_PACKED4 pz_motion { /* packed as a pz_bucket_t */
  float budget; /* distance the session may still travel now */
  uint64_t last_ms;
} pz_motion_t;

/* A full budget at now_ms. */
void pz_motion_init(pz_motion_t *m, const pz_rules_t *r, uint64_t now_ms);
/* True when p is inside the bounds. */
bool pz_rules_in_bounds(const pz_rules_t *r, const pz_pos_t *p);
/* True when moving from `from` to `to` at now_ms keeps the rules; then the
 * budget is spent. False leaves the budget as it was. */
bool pz_rules_check(const pz_rules_t *r, pz_motion_t *m, const pz_pos_t *from,
                    const pz_pos_t *to, uint64_t now_ms);

#endif
