/*
 * A room's shared state (protocol 1.1 ROOM_SET / ROOM_STATE): keys of 1-64
 * bytes of UTF-8 to app values (their MessagePack bytes), each with a
 * version. Pure data, no messages: shard_app.c decides who hears what.
 *
 * Versions never go back, a delete included: a deleted key stays behind as
 * a tombstone holding its last version, so that a key deleted and set
 * again continues its sequence (1 when first set, +1 at every set) and a
 * compare-and-set against a version read before the delete fails instead
 * of matching the new incarnation's. For compare-and-set a tombstone is an
 * absent key (version 0). Tombstones are not counted against the key
 * limit, but at most as many as live keys are allowed are kept: past that
 * the oldest is forgotten (that key would then start again at 1).
 *
 * A state outlives its room struct: the shard keeps it, "parked", for the
 * configured lifetime after the room empties, and gives it back to the
 * room when someone joins again (shard_app.c).
 */
#ifndef PZ_ROOM_STATE_H
#define PZ_ROOM_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "plaza/codec.h"
#include "plaza/protocol.h"

typedef struct pz_rkey {
  UT_hash_handle hh; /* the state's table, by key */
  uint64_t version;
  uint64_t by;      /* the session that set it (0: unknown) */
  uint64_t deleted; /* tombstone: its rank among deletes; 0 while live */
  char *value;      /* MessagePack bytes; NULL for a tombstone */
  uint32_t value_len;
  uint8_t key_len;
  char key[PZ_ROOM_KEY_MAX + 1];
} pz_rkey_t;

typedef struct pz_rstate {
  UT_hash_handle hh; /* the shard's table, by room name */
  char name[PZ_ROOM_NAME_MAX + 1];
  uint8_t name_len;
  pz_rkey_t *keys; /* live keys (in the order first set) and tombstones */
  uint32_t n_live, n_tomb;
  uint64_t deletes; /* counts deletes, to rank tombstones */
  uint32_t bytes;   /* live keys' and values' bytes: the size limit */
  /* Parked (no room struct): when it goes, and the shard's list of parked
   * states in the order their rooms emptied. */
  bool parked;
  uint64_t expires_ms;
  struct pz_rstate *pprev, *pnext;
} pz_rstate_t;

/* The limits of the protocol's "room state" paragraph (flags). */
typedef struct pz_rstate_limits {
  uint32_t value_max; /* bytes of one value */
  uint32_t keys_max;  /* live keys */
  uint32_t bytes_max; /* keys' and values' bytes */
} pz_rstate_limits_t;

/* A new, empty state for room `name` (copied). Aborts on out of memory,
 * as server code does (alloc.h). */
pz_rstate_t *pz_rstate_create(pz_str_t name);
/* Frees st and every key. */
void pz_rstate_destroy(pz_rstate_t *st);

/* The entry of key (live or tombstone), or NULL. */
pz_rkey_t *pz_rstate_find(pz_rstate_t *st, pz_str_t key);
/* The version compare-and-set compares with: a live key's, else 0. */
uint64_t pz_rstate_version(pz_rstate_t *st, pz_str_t key);
/* The version the next set of key gets: one above the last it had (a
 * tombstone's included), 1 for a key never seen. */
uint64_t pz_rstate_next_version(pz_rstate_t *st, pz_str_t key);

/* Whether setting key to value (nil: delete) keeps st within `lim`: false
 * when the value is too large, or a new key would pass the key count or
 * the bytes. A delete always fits. */
bool pz_rstate_fits(pz_rstate_t *st, pz_str_t key, pz_raw_t value,
                    const pz_rstate_limits_t *lim);
/* Sets key to value (copied; nil makes a tombstone) at `version` by
 * session `by`. tomb_max bounds the tombstones kept (the oldest go). */
void pz_rstate_put(pz_rstate_t *st, pz_str_t key, pz_raw_t value,
                   uint64_t version, uint64_t by, uint32_t tomb_max);
/* Forgets every key, tombstones included (a cluster reload). */
void pz_rstate_clear(pz_rstate_t *st);

/* What st holds in memory, roughly: its bytes and a fixed cost per entry
 * (the bound on parked states counts this). */
uint64_t pz_rstate_cost(const pz_rstate_t *st);

static inline pz_str_t pz_rkey_name(const pz_rkey_t *k) {
  return (pz_str_t){k->key, k->key_len};
}
static inline pz_raw_t pz_rkey_value(const pz_rkey_t *k) {
  return (pz_raw_t){k->value, k->value_len};
}

#endif
