/*
 * A table of objects by their 64-bit id, the id read from the object
 * itself (at key_off): open addressing with linear probing over an array
 * of pointers. 8 bytes a slot (kept at most 3/4 full) and nothing in the
 * object, where uthash puts a 56-byte handle in each: the sessions and the
 * home worker's directory hold one object per client, so the handle was a
 * tenth of an idle connection's memory (docs/architecture.md). Not thread
 * safe: one owner, like everything a worker holds.
 */
#ifndef PZ_IDMAP_H
#define PZ_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pz_idmap {
  void **slots;   /* NULL: empty */
  uint32_t cap;   /* slots: a power of two, or 0 before the first put */
  uint32_t count; /* objects held */
  size_t key_off; /* where an object keeps its uint64_t id */
} pz_idmap_t;

/* An empty map of objects whose id is the uint64_t at key_off. */
void pz_idmap_init(pz_idmap_t *m, size_t key_off);
/* Frees the slots; the objects are the caller's. */
void pz_idmap_dispose(pz_idmap_t *m);
/* The object with this id, or NULL. */
void *pz_idmap_find(const pz_idmap_t *m, uint64_t id);
/* Adds obj (borrowed: it stays the caller's), whose id the map must not
 * hold yet. Aborts when out of memory, like pz_xmalloc. */
void pz_idmap_put(pz_idmap_t *m, void *obj);
/* Removes the object with this id; returns it, or NULL if none. */
void *pz_idmap_del(pz_idmap_t *m, uint64_t id);
/* Iteration: the next object from slot *pos on (start with *pos = 0), or
 * NULL at the end. The map must not change during an iteration. */
void *pz_idmap_next(const pz_idmap_t *m, uint32_t *pos);

#endif
