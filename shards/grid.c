/* A room's bodies and cells (see grid.h). */
#include "grid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

pz_grid_t *pz_grid_create(double side) {
  pz_grid_t *g = pz_xcalloc(1, sizeof(*g));
  g->side = side;
  g->free_head = PZ_GRID_NONE;
  return g;
}

static void cell_free(pz_cell_t *c) {
  free(c->ids);
  free(c->movers);
  free(c);
}

void pz_grid_destroy(pz_grid_t *g) {
  if (g == NULL)
    return;
  for (uint32_t k = 0; k < g->n_slots; k++)
    if (g->slots[k])
      cell_free(g->slots[k]);
  free(g->slots);
  free(g->bodies);
  free(g->xz);
  free(g->moved);
  free(g->fresh);
  free(g);
}

int32_t pz_grid_coord(const pz_grid_t *g, double v) {
  double c = floor(v / g->side);
  if (c < INT32_MIN)
    return INT32_MIN;
  if (c > INT32_MAX)
    return INT32_MAX;
  return (int32_t)c;
}

/* ---- the cell table ------------------------------------------------------ */

static uint32_t home(const pz_grid_t *g, int32_t cx, int32_t cz) {
  uint64_t h = ((uint64_t)(uint32_t)cx << 32 | (uint32_t)cz) *
               0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
  return (uint32_t)(h >> 32) & (g->n_slots - 1);
}

pz_cell_t *pz_grid_cell(const pz_grid_t *g, int32_t cx, int32_t cz) {
  if (g->n_slots == 0)
    return NULL;
  for (uint32_t k = home(g, cx, cz);; k = (k + 1) & (g->n_slots - 1)) {
    pz_cell_t *c = g->slots[k];
    if (c == NULL || (c->cx == cx && c->cz == cz))
      return c;
  }
}

static void slot_put(pz_grid_t *g, pz_cell_t *c) {
  uint32_t k = home(g, c->cx, c->cz);
  while (g->slots[k])
    k = (k + 1) & (g->n_slots - 1);
  g->slots[k] = c;
}

/* Keeps the table at most half full. */
static void table_fit(pz_grid_t *g) {
  if ((g->n_cells + 1) * 2 <= g->n_slots)
    return;
  pz_cell_t **old = g->slots;
  uint32_t n_old = g->n_slots;
  g->n_slots = n_old ? n_old * 2 : 64;
  g->slots = pz_xcalloc(g->n_slots, sizeof(*g->slots));
  for (uint32_t k = 0; k < n_old; k++)
    if (old[k])
      slot_put(g, old[k]);
  free(old);
}

/* Takes c out of the table, moving back the entries after it that would
 * no longer be found (linear probing's deletion, no tombstones). */
static void slot_del(pz_grid_t *g, pz_cell_t *c) {
  uint32_t mask = g->n_slots - 1, k = home(g, c->cx, c->cz);
  while (g->slots[k] != c)
    k = (k + 1) & mask;
  for (uint32_t j = (k + 1) & mask; g->slots[j]; j = (j + 1) & mask) {
    uint32_t h = home(g, g->slots[j]->cx, g->slots[j]->cz);
    /* j may move to k when its home is not in (k, j], cyclically */
    if ((j > k && (h <= k || h > j)) || (j < k && h <= k && h > j)) {
      g->slots[k] = g->slots[j];
      k = j;
    }
  }
  g->slots[k] = NULL;
}

/* ---- bodies in cells ------------------------------------------------------
 */

static void push(uint32_t **v, uint32_t *n, uint32_t *cap, uint32_t x) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    *v = pz_xrealloc(*v, *cap * sizeof(**v));
  }
  (*v)[(*n)++] = x;
}

static void cell_enter(pz_grid_t *g, uint32_t i, int32_t cx, int32_t cz) {
  pz_cell_t *c = pz_grid_cell(g, cx, cz);
  if (c == NULL) {
    table_fit(g);
    c = pz_xcalloc(1, sizeof(*c));
    c->cx = cx;
    c->cz = cz;
    slot_put(g, c);
    g->n_cells++;
  }
  pz_body_t *b = &g->bodies[i];
  b->cell = c;
  b->cell_pos = c->n;
  push(&c->ids, &c->n, &c->cap, i);
}

/* Takes body i out of its cell; a cell left empty goes. */
static void cell_leave(pz_grid_t *g, uint32_t i) {
  pz_body_t *b = &g->bodies[i];
  pz_cell_t *c = b->cell;
  if (c == NULL)
    return;
  uint32_t last = c->ids[--c->n];
  c->ids[b->cell_pos] = last;
  g->bodies[last].cell_pos = b->cell_pos;
  b->cell = NULL;
  if (c->n == 0) {
    slot_del(g, c);
    g->n_cells--;
    cell_free(c);
  }
}

uint32_t pz_grid_add(pz_grid_t *g, struct pz_session *s, struct pz_remote *rm,
                     const pz_pos_t *pos) {
  uint32_t i = g->free_head;
  if (i != PZ_GRID_NONE) {
    g->free_head = g->bodies[i].next_free;
  } else {
    if (g->n_bodies == PZ_COMPACT_IDX_MAX)
      return PZ_GRID_NONE;
    if (g->n_bodies == g->cap) {
      uint32_t old = g->cap / 64;
      g->cap = g->cap ? g->cap * 2 : 64;
      g->bodies = pz_xrealloc(g->bodies, g->cap * sizeof(*g->bodies));
      g->xz = pz_xrealloc(g->xz, g->cap * sizeof(*g->xz));
      g->moved = pz_xrealloc(g->moved, g->cap / 64 * sizeof(*g->moved));
      memset(g->moved + old, 0, (g->cap / 64 - old) * sizeof(*g->moved));
    }
    i = g->n_bodies++;
  }
  pz_body_t *b = &g->bodies[i];
  memset(b, 0, sizeof(*b));
  b->s = s;
  b->rm = rm;
  b->next_free = PZ_GRID_NONE;
  g->xz[i] = (pz_xz_t){pos->x, pos->z};
  cell_enter(g, i, pz_grid_coord(g, pos->x), pz_grid_coord(g, pos->z));
  b->fresh = true;
  push(&g->fresh, &g->n_fresh, &g->cap_fresh, i);
  return i;
}

void pz_grid_remove(pz_grid_t *g, uint32_t i) {
  pz_body_t *b = &g->bodies[i];
  cell_leave(g, i);
  if (b->fresh) { /* not yet seen by a tick */
    for (uint32_t k = 0; k < g->n_fresh; k++)
      if (g->fresh[k] == i) {
        g->fresh[k] = g->fresh[--g->n_fresh];
        break;
      }
  }
  memset(b, 0, sizeof(*b));
  pz_grid_set_moved(g, i, false);
  b->next_free = g->free_head;
  g->free_head = i;
}

void pz_grid_replace(pz_grid_t *g, uint32_t i, struct pz_session *s,
                     struct pz_remote *rm) {
  pz_body_t *b = &g->bodies[i];
  b->s = s;
  b->rm = rm;
  b->based = false;
  if (!b->fresh) {
    b->fresh = true;
    push(&g->fresh, &g->n_fresh, &g->cap_fresh, i);
  }
}

void pz_grid_place(pz_grid_t *g, uint32_t i, const pz_pos_t *pos) {
  pz_body_t *b = &g->bodies[i];
  g->xz[i] = (pz_xz_t){pos->x, pos->z};
  int32_t cx = pz_grid_coord(g, pos->x), cz = pz_grid_coord(g, pos->z);
  if (b->cell && b->cell->cx == cx && b->cell->cz == cz)
    return;
  cell_leave(g, i);
  cell_enter(g, i, cx, cz);
}

void pz_grid_moved(pz_grid_t *g, uint32_t i, uint64_t tick) {
  pz_cell_t *c = g->bodies[i].cell;
  if (c->movers_tick != tick) {
    c->movers_tick = tick;
    c->n_movers = 0;
  }
  push(&c->movers, &c->n_movers, &c->cap_movers, i);
}
