/* Server id -> client map (see idmap.h). */
#include "idmap.h"

#include <stdbool.h>
#include <stdlib.h>

static size_t home(const pz_idmap_t *m, uint64_t id) {
  return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (m->cap - 1);
}

void pz_idmap_init(pz_idmap_t *m) {
  m->s = NULL;
  m->cap = m->n = 0;
}

void pz_idmap_dispose(pz_idmap_t *m) {
  free(m->s);
  pz_idmap_init(m);
}

static void place(pz_idmap_t *m, uint64_t id, void *val) {
  size_t i = home(m, id);
  while (m->s[i].id != 0 && m->s[i].id != id)
    i = (i + 1) & (m->cap - 1);
  if (m->s[i].id == 0)
    m->n++;
  m->s[i].id = id;
  m->s[i].val = val;
}

static int grow(pz_idmap_t *m) {
  pz_idmap_t old = *m;
  size_t cap = old.cap ? old.cap * 2 : 1024;
  pz_idmap_slot_t *s = calloc(cap, sizeof(*s));
  if (s == NULL)
    return -1;
  m->s = s;
  m->cap = cap;
  m->n = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.s[i].id != 0)
      place(m, old.s[i].id, old.s[i].val);
  free(old.s);
  return 0;
}

int pz_idmap_put(pz_idmap_t *m, uint64_t id, void *val) {
  if (id == 0)
    return -1;
  if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
    return -1;
  place(m, id, val);
  return 0;
}

void pz_idmap_del(pz_idmap_t *m, uint64_t id, const void *val) {
  if (m->cap == 0 || id == 0)
    return;
  size_t mask = m->cap - 1, i = home(m, id);
  while (m->s[i].id != id) {
    if (m->s[i].id == 0)
      return;
    i = (i + 1) & mask;
  }
  if (m->s[i].val != val)
    return;
  /* Backward shift: move later entries of the run into the hole when
   * their home does not lie cyclically in (hole, j]. */
  size_t hole = i, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (m->s[j].id == 0)
      break;
    size_t h = home(m, m->s[j].id);
    bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (!stays) {
      m->s[hole] = m->s[j];
      hole = j;
    }
  }
  m->s[hole].id = 0;
  m->s[hole].val = NULL;
  m->n--;
}
