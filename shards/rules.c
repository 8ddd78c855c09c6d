/* Speed and bounds rules (see rules.h). */
#include "rules.h"

#include <math.h>

static double budget_cap(const pz_rules_t *r) {
  return r->max_speed * PZ_RULES_BURST_S;
}

void pz_motion_init(pz_motion_t *m, const pz_rules_t *r, uint64_t now_ms) {
  m->budget = (float)budget_cap(r);
  m->last_ms = now_ms;
}

bool pz_rules_in_bounds(const pz_rules_t *r, const pz_pos_t *p) {
  return r->bounds <= 0 || (fabs(p->x) <= r->bounds &&
                            fabs(p->y) <= r->bounds && fabs(p->z) <= r->bounds);
}

bool pz_rules_check(const pz_rules_t *r, pz_motion_t *m, const pz_pos_t *from,
                    const pz_pos_t *to, uint64_t now_ms) {
  if (!pz_rules_in_bounds(r, to))
    return false;
  if (r->max_speed <= 0)
    return true;
  double budget = m->budget, cap = budget_cap(r);
  if (now_ms > m->last_ms) {
    budget += (double)(now_ms - m->last_ms) * r->max_speed / 1000.0;
    if (budget > cap)
      budget = cap;
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
