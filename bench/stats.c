/* Counters and results of the bench (see stats.h). */
#include "stats.h"

#include <stddef.h>
#include <string.h>

#define N_FIELDS (sizeof(pz_bench_counters_t) / sizeof(uint64_t))
_Static_assert(sizeof(pz_bench_counters_t) % sizeof(uint64_t) == 0,
               "counters are uint64_t only");

void pz_counters_sub(pz_bench_counters_t *d, const pz_bench_counters_t *a,
                     const pz_bench_counters_t *b) {
  uint64_t *dp = (uint64_t *)d;
  const uint64_t *ap = (const uint64_t *)a, *bp = (const uint64_t *)b;
  for (size_t i = 0; i < N_FIELDS; i++)
    dp[i] = ap[i] - bp[i];
  d->lag_max_us = a->lag_max_us; /* not a sum: keep the later maximum */
}

void pz_counters_add(pz_bench_counters_t *d, const pz_bench_counters_t *a) {
  uint64_t lag_max =
      d->lag_max_us > a->lag_max_us ? d->lag_max_us : a->lag_max_us;
  uint64_t *dp = (uint64_t *)d;
  const uint64_t *ap = (const uint64_t *)a;
  for (size_t i = 0; i < N_FIELDS; i++)
    dp[i] += ap[i];
  d->lag_max_us = lag_max;
}

int pz_errk_of_code(int code) {
  return code >= 1 && code <= PZ_ERRK_PROTO_MAX ? code : PZ_ERRK_OTHER;
}

int pz_closek_of_code(int code) {
  if (code >= 1000 && code <= 1015)
    return code - 1000;
  if (code >= 4000 && code <= 4015)
    return 16 + code - 4000;
  return PZ_CLOSEK_OTHER;
}

int pz_closek_code(int k) {
  if (k < 16)
    return 1000 + k;
  if (k < 32)
    return 4000 + k - 16;
  return -1;
}

void pz_result_reset(pz_bench_result_t *r) {
  memset(r, 0, offsetof(pz_bench_result_t, move));
  pz_hist_reset(&r->move);
  pz_hist_reset(&r->move_same);
  pz_hist_reset(&r->move_cross);
  pz_hist_reset(&r->chat);
  pz_hist_reset(&r->setup);
  pz_hist_reset(&r->lag);
}

void pz_result_merge(pz_bench_result_t *dst, const pz_bench_result_t *src) {
  pz_counters_add(&dst->step, &src->step);
  pz_counters_add(&dst->win, &src->win);
  dst->expected += src->expected;
  dst->delivered += src->delivered;
  dst->carried += src->carried;
  dst->present += src->present;
  dst->threads += src->threads;
  if (src->wall_s > dst->wall_s)
    dst->wall_s = src->wall_s;
  dst->cpu_s += src->cpu_s;
  if (src->busy_max > dst->busy_max)
    dst->busy_max = src->busy_max;
  if (src->cpu_max > dst->cpu_max)
    dst->cpu_max = src->cpu_max;
  pz_hist_merge(&dst->move, &src->move);
  pz_hist_merge(&dst->move_same, &src->move_same);
  pz_hist_merge(&dst->move_cross, &src->move_cross);
  pz_hist_merge(&dst->chat, &src->chat);
  pz_hist_merge(&dst->setup, &src->setup);
  pz_hist_merge(&dst->lag, &src->lag);
}
