/* Objects by id (see idmap.h): linear probing, deletion by shifting back
 * the entries behind the hole, so there are no tombstones to sweep. */
#include "idmap.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define MIN_CAP 16

static uint64_t key_of(const pz_idmap_t *m, const void *obj) {
  uint64_t id;
  memcpy(&id, (const char *)obj + m->key_off, sizeof(id));
  return id;
}

/* Fibonacci hashing: ids are mostly sequential counters, which this
 * spreads over the table. */
static uint32_t home(const pz_idmap_t *m, uint64_t id) {
  return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (m->cap - 1);
}

void pz_idmap_init(pz_idmap_t *m, size_t key_off) {
  memset(m, 0, sizeof(*m));
  m->key_off = key_off;
}

void pz_idmap_dispose(pz_idmap_t *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = m->count = 0;
}

static void place(pz_idmap_t *m, void *obj) {
  uint32_t i = home(m, key_of(m, obj));
  while (m->slots[i])
    i = (i + 1) & (m->cap - 1);
  m->slots[i] = obj;
}

static void resize(pz_idmap_t *m, uint32_t cap) {
  void **old = m->slots;
  uint32_t old_cap = m->cap;
  m->slots = pz_xcalloc(cap, sizeof(void *));
  m->cap = cap;
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i])
      place(m, old[i]);
  free(old);
}

void *pz_idmap_find(const pz_idmap_t *m, uint64_t id) {
  if (!m->count)
    return NULL;
  for (uint32_t i = home(m, id); m->slots[i]; i = (i + 1) & (m->cap - 1))
    if (key_of(m, m->slots[i]) == id)
      return m->slots[i];
  return NULL;
}

void pz_idmap_put(pz_idmap_t *m, void *obj) {
  if ((uint64_t)(m->count + 1) * 4 > (uint64_t)m->cap * 3)
    resize(m, m->cap ? m->cap * 2 : MIN_CAP);
  place(m, obj);
  m->count++;
}

void *pz_idmap_del(pz_idmap_t *m, uint64_t id) {
  if (!m->count)
    return NULL;
  uint32_t mask = m->cap - 1, i = home(m, id);
  while (m->slots[i] && key_of(m, m->slots[i]) != id)
    i = (i + 1) & mask;
  void *obj = m->slots[i];
  if (!obj)
    return NULL;
  /* Shift back each later entry of the run that the hole at i would cut
   * off from its home slot. */
  for (uint32_t j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
    uint32_t h = home(m, key_of(m, m->slots[j]));
    if (((j - h) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i] = NULL;
  m->count--;
  /* Give memory back after a crowd has left (from 1/8 full to 1/4). */
  if (m->cap > MIN_CAP && m->count * 8 < m->cap)
    resize(m, m->cap / 2);
  return obj;
}

void *pz_idmap_next(const pz_idmap_t *m, uint32_t *pos) {
  while (*pos < m->cap) {
    void *obj = m->slots[(*pos)++];
    if (obj)
      return obj;
  }
  return NULL;
}
