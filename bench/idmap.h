/*
 * Server id -> client of one worker: how a sampled receiver finds the
 * sender of a STATE entry. Open addressing with linear probing and
 * backward-shift deletion (no tombstones, so churn does not slow lookups);
 * kept at most half full. Id 0 is never stored (servers give ids >= 1).
 */
#ifndef PZ_BENCH_IDMAP_H
#define PZ_BENCH_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pz_idmap_slot {
  uint64_t id;
  void *val;
} pz_idmap_slot_t;

typedef struct pz_idmap {
  pz_idmap_slot_t *s;
  size_t cap, n; /* cap: a power of two, or 0 */
} pz_idmap_t;

void pz_idmap_init(pz_idmap_t *m);
void pz_idmap_dispose(pz_idmap_t *m);
/* Inserts or replaces. Returns 0, or -1 (out of memory, or id 0). */
int pz_idmap_put(pz_idmap_t *m, uint64_t id, void *val);
/* Removes id when it maps to val (a later owner of the id is kept). */
void pz_idmap_del(pz_idmap_t *m, uint64_t id, const void *val);

static inline void *pz_idmap_get(const pz_idmap_t *m, uint64_t id) {
  if (m->cap == 0 || id == 0)
    return NULL;
  size_t mask = m->cap - 1;
  size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & mask;
  for (;; i = (i + 1) & mask) {
    if (m->s[i].id == id)
      return m->s[i].val;
    if (m->s[i].id == 0)
      return NULL;
  }
}

#endif
