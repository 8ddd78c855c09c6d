/* Speed and bounds rules (see rules.h). */
#include "rules.h"

#include <math.h>

void pz_motion_init(pz_motion_t *m, const pz_rules_t *r, uint64_t now_ms) {
  m->budget = (float)r->max_speed;
  m->last_ms = now_ms;
}

bool pz_rules_check(const pz_rules_t *r, pz_motion_t *m, const pz_pos_t *from,
                    const pz_pos_t *to, uint64_t now_ms) {
  if (r->bounds > 0 && (fabs(to->x) > r->bounds || fabs(to->y) > r->bounds ||
                        fabs(to->z) > r->bounds))
    return false;
  if (r->max_speed <= 0)
    return true;
  double budget = m->budget;
  if (now_ms > m->last_ms) {
    budget += (double)(now_ms - m->last_ms) * r->max_speed / 1000.0;
    if (budget > r->max_speed)
      budget = r->max_speed;
  }
  double dx = to->x - from->x, dy = to->y - from->y, dz = to->z - from->z;
  double dist = sqrt(dx * dx + dy * dy + dz * dz);
  if (dist > budget)
    return false;
  m->budget = (float)(budget - dist);
  if (now_ms > m->last_ms) /* a clock behind (another loop's) grants nothing */
    m->last_ms = now_ms;
  return true;
}
