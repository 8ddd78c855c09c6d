/* Counters a worker keeps (see metrics.h). */
#include "metrics.h"

static const uint64_t tick_bounds[PZ_TICK_BUCKETS] = PZ_TICK_BOUNDS_US;
static const int close_codes[PZ_N_CLOSE_CODES] = PZ_CLOSE_CODES;

void pz_metrics_tick(pz_metrics_t *m, uint64_t us) {
  int b = 0;
  while (b < PZ_TICK_BUCKETS && us > tick_bounds[b])
    b++;
  PZ_ADD(m->tick_buckets[b], 1);
  PZ_ADD(m->tick_sum_us, us);
  PZ_ADD(m->tick_count, 1);
}

void pz_metrics_close(pz_metrics_t *m, int code) {
  for (int i = 0; i < PZ_N_CLOSE_CODES; i++)
    if (close_codes[i] == code)
      PZ_ADD(m->closes[i], 1);
}
