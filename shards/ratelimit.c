/* Token bucket and event window (see ratelimit.h). */
#include "ratelimit.h"

void pz_bucket_init(pz_bucket_t *b, double burst, uint64_t now_ms) {
  b->tokens = (float)burst;
  b->last_ms = now_ms;
}

bool pz_bucket_take(pz_bucket_t *b, double rate, double burst,
                    uint64_t now_ms) {
  if (now_ms > b->last_ms) {
    double t = b->tokens + (double)(now_ms - b->last_ms) * rate / 1000.0;
    b->tokens = (float)(t > burst ? burst : t);
    b->last_ms = now_ms;
  }
  if (b->tokens >= 1.0f) {
    b->tokens -= 1.0f;
    return true;
  }
  return false;
}

uint32_t pz_window_hit(pz_window_t *w, uint64_t window_ms, uint64_t now_ms) {
  if (now_ms - w->start_ms >= window_ms || now_ms < w->start_ms) {
    w->start_ms = now_ms;
    w->count = 0;
  }
  return ++w->count;
}
