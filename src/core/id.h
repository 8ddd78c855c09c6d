/*
 * Session ids and tokens. An id is unique across the cluster and below
 * 2^53: [node:15][home worker:6][counter:32]. The home worker is where the
 * session was created; it keeps the directory of where the session lives
 * now, so any worker can route to an id without shared state. The node
 * part lets a later Redis back end route across nodes the same way.
 *
 * A session token is "<id>.<128 random bits in hex>": the id routes the
 * resume, the secret proves it.
 */
#ifndef PZ_ID_H
#define PZ_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PZ_NODE_BITS 15
#define PZ_WORKER_BITS 6
#define PZ_COUNTER_BITS 32

static inline uint64_t pz_id_make(uint32_t node, uint32_t worker,
                                  uint32_t counter) {
  return ((uint64_t)node << (PZ_WORKER_BITS + PZ_COUNTER_BITS)) |
         ((uint64_t)worker << PZ_COUNTER_BITS) | counter;
}
static inline uint32_t pz_id_node(uint64_t id) {
  return (uint32_t)(id >> (PZ_WORKER_BITS + PZ_COUNTER_BITS));
}
static inline uint32_t pz_id_worker(uint64_t id) {
  return (uint32_t)(id >> PZ_COUNTER_BITS) & ((1u << PZ_WORKER_BITS) - 1);
}

#define PZ_TOKEN_SECRET_HEX 32
#define PZ_TOKEN_SECRET_BYTES (PZ_TOKEN_SECRET_HEX / 2)

/* A fresh secret from the CSPRNG: 0, or PZ_EIO when it failed. */
int pz_token_secret_new(uint8_t secret[PZ_TOKEN_SECRET_BYTES]);
/* Writes "<id>.<secret in lowercase hex>" into out (size >= 64): the token
 * is kept as its id and secret in binary and made when sent. Returns its
 * length. */
int pz_token_format(uint64_t id, const uint8_t secret[PZ_TOKEN_SECRET_BYTES],
                    char *out, size_t size);
/* A fresh token for id into out (size >= 64). Returns its length, or
 * PZ_EIO when the random source failed. */
int pz_token_make(uint64_t id, char *out, size_t size);
/* Reads the id of a token. Returns false when it is not of our form. */
bool pz_token_parse(const char *token, size_t len, uint64_t *id);
/* Reads the id and the secret (NULL: not wanted) of a token. Returns false
 * when it is not of our form. */
bool pz_token_read(const char *token, size_t len, uint64_t *id,
                   uint8_t secret[PZ_TOKEN_SECRET_BYTES]);
/* Constant-time comparison of two tokens. */
bool pz_token_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
