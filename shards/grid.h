/*
 * Interest management's map of a room (protocol 1.1 VIEW): every member,
 * local or on another node, as a *body* with a short id (its index here,
 * what STATE_C names it by) and a place in a grid of square cells on the
 * horizontal (x, z) plane.
 *
 * Why cells: a client with a view radius r needs the members within r of
 * it; looking only in the cells that the square of side 2r around it
 * touches makes that cost grow with the members near it, not with the
 * room. The cell side is a flag (--view-cell, default 32): about the
 * common radius, so that a view of radius 40 looks at 3 to 4 cells a side
 * (9 to 16 cells, about 2.5 times the members of its disc), which balances
 * cells looked up (a hash probe each) against members looked at (a few
 * subtractions each); much smaller cells would mean many more probes for
 * few members, much larger ones many members outside the disc.
 *
 * Cells live in an open-addressing table by their coordinates (a
 * multiplicative hash, linear probing, deletion by backward shift: a
 * probe is a few nanoseconds, and the tick makes hundreds of thousands a
 * second) and exist while they hold someone, so a room spread over the
 * whole ±10,000 bounds costs what its members do. Bodies are kept in an
 * array by short id with a free list: a short id is reused after its
 * member leaves (clients learn the new binding from the full entry that
 * introduces it). Each body's horizontal place as of the tick is kept
 * apart too, in a dense array (`xz`), so the scans of the tick read one
 * cache line for several members instead of following each member to its
 * session.
 *
 * A grid exists only while its room has members with a VIEW; rooms without
 * one pay nothing. Owned by the room's worker; no locks.
 */
#ifndef PZ_GRID_H
#define PZ_GRID_H

#include <stdbool.h>
#include <stdint.h>

#include "plaza/codec.h"

#define PZ_GRID_NONE UINT32_MAX

struct pz_session;
struct pz_remote;

typedef struct pz_cell {
  int32_t cx, cz;
  uint32_t *ids; /* short ids of its bodies */
  uint32_t n, cap;
  uint32_t *movers; /* of those, the ones that moved this tick */
  uint32_t n_movers, cap_movers;
  uint64_t movers_tick; /* n_movers counts for this tick only */
} pz_cell_t;

/* What the tick encoded of a body, once for every client: offsets into
 * the shard's entry buffer, valid while etick is the tick. */
enum { PZ_ENT_PLAIN, PZ_ENT_DELTA, PZ_ENT_FULL, PZ_ENT_N };

typedef struct pz_body {
  struct pz_session *s; /* the member: local ... */
  struct pz_remote *rm; /* ... or on another node; both NULL: free */
  pz_cell_t *cell;
  uint32_t cell_pos;  /* in cell->ids */
  uint32_t next_free; /* free list */
  bool fresh;         /* added or replaced since the last tick */
  bool based;         /* base is what its last compact entry left */
  pz_compact_q_t base;
  uint64_t etick;
  uint32_t off[PZ_ENT_N];
  uint16_t len[PZ_ENT_N];
} pz_body_t;

/* A body's horizontal place, as of the last tick that placed it. */
typedef struct pz_xz {
  float x, z;
} pz_xz_t;

typedef struct pz_grid {
  double side; /* of a cell */
  pz_body_t *bodies;
  pz_xz_t *xz;       /* [cap], beside bodies */
  uint64_t *moved;   /* [cap / 64]: moved this tick (set by the tick) */
  uint32_t n_bodies; /* high-water mark of short ids */
  uint32_t cap;
  uint32_t free_head;
  pz_cell_t **slots; /* the cell table: [n_slots], NULL where empty */
  uint32_t n_slots, n_cells;
  uint32_t *fresh; /* bodies added or replaced since the last tick */
  uint32_t n_fresh, cap_fresh;
} pz_grid_t;

/* A grid of cells of `side` units (> 0). */
pz_grid_t *pz_grid_create(double side);
void pz_grid_destroy(pz_grid_t *g);

/* A new body for a local (s) or remote (rm) member at pos; returns its
 * short id, or PZ_GRID_NONE when PZ_COMPACT_IDX_MAX are taken. It counts
 * as fresh at the next tick. */
uint32_t pz_grid_add(pz_grid_t *g, struct pz_session *s, struct pz_remote *rm,
                     const pz_pos_t *pos);
/* Frees short id i (its cell forgets it). */
void pz_grid_remove(pz_grid_t *g, uint32_t i);
/* Body i now stands for another record of the same member (a remote one
 * that became local): fresh again, with no compact baseline. */
void pz_grid_replace(pz_grid_t *g, uint32_t i, struct pz_session *s,
                     struct pz_remote *rm);
/* Puts body i in the cell of pos (nothing when it is there already) and
 * notes pos as its place. */
void pz_grid_place(pz_grid_t *g, uint32_t i, const pz_pos_t *pos);
/* Notes body i as having moved in tick `tick`, in its cell's movers. */
void pz_grid_moved(pz_grid_t *g, uint32_t i, uint64_t tick);

/* The cell (cx, cz), or NULL when nobody is there. */
pz_cell_t *pz_grid_cell(const pz_grid_t *g, int32_t cx, int32_t cz);
/* The cell coordinate of v (clamped to 32 bits). */
int32_t pz_grid_coord(const pz_grid_t *g, double v);

static inline bool pz_grid_has_moved(const pz_grid_t *g, uint32_t i) {
  return g->moved[i / 64] >> (i % 64) & 1;
}

static inline void pz_grid_set_moved(pz_grid_t *g, uint32_t i, bool on) {
  if (on)
    g->moved[i / 64] |= 1ull << (i % 64);
  else
    g->moved[i / 64] &= ~(1ull << (i % 64));
}

static inline bool pz_grid_used(const pz_grid_t *g, uint32_t i) {
  return g->bodies[i].s != NULL || g->bodies[i].rm != NULL;
}

#endif
