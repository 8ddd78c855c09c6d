/* Reconnect delays (see backoff.h). */
#include "backoff.h"

#include <math.h>

uint32_t pz_backoff_delay(const pz_backoff_t *b, unsigned attempt, double r) {
  double jitter = b->jitter < 0 ? 0 : b->jitter > 1 ? 1 : b->jitter;
  double factor = b->factor < 1 ? 1 : b->factor;
  double base = b->initial_ms * pow(factor, attempt);
  if (!(base < b->max_ms)) /* also when pow overflowed */
    base = b->max_ms;
  if (r < 0 || !(r < 1))
    r = 0;
  return (uint32_t)lround(base * (1 - jitter * r));
}
