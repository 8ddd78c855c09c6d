/*
 * A session's member state (protocol 1.1), as its app wants it: a
 * MessagePack map's bytes, patched with pz_state_apply (the server's own
 * function, so both ends write the same bytes), and compared with what a
 * ROOM says the server holds. Private to the client library (session.c).
 */
#ifndef PZ_CLIENT_MEMBER_STATE_H
#define PZ_CLIENT_MEMBER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "plaza/codec.h"

typedef struct pz_mstate {
  char *bytes; /* a map; NULL before init */
  size_t len;
  uint32_t max; /* the largest state kept, encoded */
} pz_mstate_t;

/* Starts with `initial` (a map, or ptr NULL: empty) applied to the empty
 * state; max 0 means 1024. 0, PZ_CLIENT_EINVAL or PZ_CLIENT_ENOMEM. */
int pz_mstate_init(pz_mstate_t *ms, pz_raw_t initial, uint32_t max);
void pz_mstate_dispose(pz_mstate_t *ms);

/* The state (borrowed until the next change). */
pz_raw_t pz_mstate_get(const pz_mstate_t *ms);
/* True when the state has no key. */
bool pz_mstate_empty(const pz_mstate_t *ms);

/* Applies `patch` (a map: its keys replace the state's, nil deletes) to
 * the state. 0, or PZ_CLIENT_EINVAL (not a map of string keys, a key
 * twice, or a state past max) or PZ_CLIENT_ENOMEM, and then the state is
 * unchanged. */
int pz_mstate_apply(pz_mstate_t *ms, pz_raw_t patch);
/* Replaces the state with `server` (a map as a ROOM carries it). */
int pz_mstate_adopt(pz_mstate_t *ms, pz_raw_t server);

/* The patch that makes `server` into the state: its keys that `server`
 * lacks or holds otherwise, and nil for the keys only `server` has,
 * appended to *out as one map. Returns the number of keys (0: the two are
 * the same, and nothing is appended). */
uint32_t pz_mstate_diff(const pz_mstate_t *ms, pz_raw_t server,
                        msgpack_sbuffer *out);

#endif
