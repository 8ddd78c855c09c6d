/*
 * Movement rules of a room: a speed limit and world bounds. Speed is
 * checked against a distance budget that refills at max_speed per second
 * up to one second's worth, so moves bunched by network jitter pass while
 * sustained teleporting does not. Pure data; time in milliseconds.
 */
#ifndef PZ_RULES_H
#define PZ_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "plaza/codec.h"

typedef struct pz_rules {
  double max_speed; /* units per second; 0: no limit */
  double bounds;    /* |x|, |y|, |z| limit; 0: no limit */
} pz_rules_t;

typedef struct pz_motion {
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
