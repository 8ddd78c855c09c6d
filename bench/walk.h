/*
 * A plausible walk for a simulated player, sans-I/O.
 *
 * Heading and speed change smoothly: the turn rate drifts (bounded), the
 * speed eases toward a target picked anew every few seconds, and near the
 * edge of the world the walker turns back toward the centre. What the
 * server sees is a player strolling and jogging around, never faster than
 * PZ_WALK_MAX_SPEED (under plaza's default --max-speed of 50 units/s) and
 * never outside +-PZ_WALK_HARD_BOUND (inside plaza's default --bounds of
 * 10000), whatever the step length.
 */
#ifndef PZ_BENCH_WALK_H
#define PZ_BENCH_WALK_H

#include <stdint.h>

#include "plaza/codec.h"

#define PZ_WALK_MIN_SPEED 4.0   /* units/s */
#define PZ_WALK_MAX_SPEED 40.0  /* units/s, plaza allows 50 */
#define PZ_WALK_ACCEL 20.0      /* units/s^2 toward the target speed */
#define PZ_WALK_MAX_TURN 1.5    /* rad/s */
#define PZ_WALK_SOFT_BOUND 9000 /* past it, steer home */
#define PZ_WALK_HARD_BOUND 9990 /* never past it */

typedef struct pz_walk {
  double x, y;
  double heading; /* rad, (-pi, pi] */
  double turn;    /* rad/s */
  double speed, target_speed;
  double soft, hard; /* past soft, steer home; never past hard */
  uint64_t rng;
} pz_walk_t;

/* Starts a walk at (x, y) (clamped into the hard bound) with a heading,
 * speed and turn drawn from seed. */
void pz_walk_init(pz_walk_t *w, uint64_t seed, double x, double y);

/* Keeps the walk within the square of half side `half` around the origin
 * (steering home past 90 % of it), instead of the whole world. */
void pz_walk_set_area(pz_walk_t *w, double half);

/* Advances dt seconds (clamped to [0, 1]) and returns the new position:
 * x, y on the ground, z 0, yaw the heading. */
pz_pos_t pz_walk_step(pz_walk_t *w, double dt);

#endif
