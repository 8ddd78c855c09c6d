/* The simulated player's walk (see walk.h). */
#include "walk.h"

#include <math.h>

#include "rng.h"

static double clampd(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static double wrap_angle(double a) {
  while (a > M_PI)
    a -= 2 * M_PI;
  while (a <= -M_PI)
    a += 2 * M_PI;
  return a;
}

void pz_walk_init(pz_walk_t *w, uint64_t seed, double x, double y) {
  w->rng = pz_rng_seed(seed);
  w->x = clampd(isfinite(x) ? x : 0, -PZ_WALK_HARD_BOUND, PZ_WALK_HARD_BOUND);
  w->y = clampd(isfinite(y) ? y : 0, -PZ_WALK_HARD_BOUND, PZ_WALK_HARD_BOUND);
  w->heading = pz_rng_range(&w->rng, -M_PI, M_PI);
  w->turn = pz_rng_range(&w->rng, -0.5, 0.5);
  w->target_speed = pz_rng_range(&w->rng, PZ_WALK_MIN_SPEED, PZ_WALK_MAX_SPEED);
  w->speed = w->target_speed;
  w->soft = PZ_WALK_SOFT_BOUND;
  w->hard = PZ_WALK_HARD_BOUND;
}

void pz_walk_set_area(pz_walk_t *w, double half) {
  if (!(half > 0) || half > PZ_WALK_HARD_BOUND)
    return;
  w->hard = half;
  w->soft = 0.9 * half;
  w->x = clampd(w->x, -half, half);
  w->y = clampd(w->y, -half, half);
}

pz_pos_t pz_walk_step(pz_walk_t *w, double dt) {
  dt = clampd(dt, 0, 1);

  /* Speed: ease toward a target that changes every ~3 s on average. */
  if (pz_rng_unit(&w->rng) < dt / 3.0)
    w->target_speed =
        pz_rng_range(&w->rng, PZ_WALK_MIN_SPEED, PZ_WALK_MAX_SPEED);
  double dv = w->target_speed - w->speed;
  double maxdv = PZ_WALK_ACCEL * dt;
  w->speed += clampd(dv, -maxdv, maxdv);
  w->speed = clampd(w->speed, 0, PZ_WALK_MAX_SPEED);

  /* Turn rate: a damped random drift, so the heading bends smoothly. */
  w->turn += pz_rng_range(&w->rng, -1.0, 1.0) * 2.0 * dt;
  w->turn *= 1.0 - clampd(0.5 * dt, 0, 1);
  w->turn = clampd(w->turn, -PZ_WALK_MAX_TURN, PZ_WALK_MAX_TURN);

  /* Near the edge, turn toward the centre as fast as allowed. */
  if (fabs(w->x) > w->soft || fabs(w->y) > w->soft) {
    double home = atan2(-w->y, -w->x);
    double diff = wrap_angle(home - w->heading);
    w->turn =
        clampd(diff / (dt > 0 ? dt : 1), -PZ_WALK_MAX_TURN, PZ_WALK_MAX_TURN);
  }
  w->heading = wrap_angle(w->heading + w->turn * dt);

  double step = w->speed * dt;
  w->x = clampd(w->x + cos(w->heading) * step, -w->hard, w->hard);
  w->y = clampd(w->y + sin(w->heading) * step, -w->hard, w->hard);
  return (pz_pos_t){(float)w->x, (float)w->y, 0.0f, (float)w->heading};
}
