/*
 * pz_state_apply: a member's state patched, as bytes in and bytes out (see
 * codec.h). The server applies each SET with it and a client library each
 * MEMBER, so both ends hold the same state byte for byte.
 *
 * The patch's keys are indexed once (sorted in the caller's zone), so a
 * patch of n keys on a state of m costs O((n + m) log n), whatever an app
 * sends. The new state is measured before it is written: the map header's
 * width depends on the count, and a state past `cap` is refused before a
 * byte of it is written.
 */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

typedef struct ent {
  pz_str_t key; /* first: pz_mp_key_cmp reads an ent as its key */
  pz_raw_t value;
  bool placed; /* the state had the key: written in its place */
} ent_t;

typedef struct writer {
  char *out; /* NULL: measure only */
  size_t cap, len;
} writer_t;

static void put(writer_t *w, const void *p, size_t n) {
  if (w->out && w->len + n <= w->cap)
    memcpy(w->out + w->len, p, n);
  w->len += n;
}

/* A str or map header of the smallest width, as msgpack-c writes it. */
static void put_header(writer_t *w, size_t n, bool map) {
  unsigned char h[5];
  size_t hl;
  if (n < (map ? 16u : 32u)) {
    h[0] = (unsigned char)((map ? 0x80 : 0xa0) | n);
    hl = 1;
  } else if (!map && n < 256) {
    h[0] = 0xd9, h[1] = (unsigned char)n;
    hl = 2;
  } else if (n < 65536) {
    h[0] = map ? 0xde : 0xda;
    h[1] = (unsigned char)(n >> 8), h[2] = (unsigned char)n;
    hl = 3;
  } else {
    h[0] = map ? 0xdf : 0xdb;
    for (int i = 0; i < 4; i++)
      h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
    hl = 5;
  }
  put(w, h, hl);
}

static void put_entry(writer_t *w, pz_str_t key, pz_raw_t value) {
  put_header(w, key.len, false);
  put(w, key.ptr, key.len);
  put(w, value.ptr, value.len);
}

static int ent_ptr_cmp(const void *a, const void *b) {
  return pz_mp_key_cmp(*(const ent_t *const *)a, *(const ent_t *const *)b);
}

/* The entries of the new state, after its header: the state's entries
 * (replaced or deleted by the patch), then the patch's new keys. Returns
 * how many, or -1 when the state's bytes are not a map of string keys. */
static int64_t body(pz_raw_t state, ent_t *ents, ent_t **idx, uint64_t n,
                    writer_t *w) {
  int64_t count = 0;
  pz_map_iter_t it;
  pz_str_t key;
  pz_raw_t value;
  for (uint64_t i = 0; i < n; i++)
    ents[i].placed = false;
  if (!pz_map_iter_init(&it, state))
    return -1;
  while (pz_map_next(&it, &key, &value)) {
    ent_t probe = {key, {NULL, 0}, false}, *pp = &probe;
    ent_t **hit = n ? bsearch(&pp, idx, n, sizeof(*idx), ent_ptr_cmp) : NULL;
    if (hit) {
      (*hit)->placed = true;
      value = (*hit)->value;
    }
    if (!pz_raw_is_nil(value)) {
      put_entry(w, key, value);
      count++;
    }
  }
  if (it.bad)
    return -1;
  for (uint64_t i = 0; i < n; i++)
    if (!ents[i].placed && !pz_raw_is_nil(ents[i].value)) {
      put_entry(w, ents[i].key, ents[i].value);
      count++;
    }
  return count;
}

int pz_state_apply(pz_raw_t state, pz_raw_t patch, msgpack_zone *zone,
                   char *out, size_t cap, size_t *out_len) {
  pz_map_iter_t it;
  if (patch.ptr == NULL || !pz_map_iter_init(&it, patch))
    return PZ_STATE_BAD;
  /* Each entry takes at least two bytes: n is bounded by the patch. */
  uint64_t n = it.values / 2;
  if (n > patch.len)
    return PZ_STATE_BAD;
  ent_t *ents = NULL, **idx = NULL;
  if (n > 0) {
    ents = msgpack_zone_malloc(zone, n * sizeof(*ents));
    idx = msgpack_zone_malloc(zone, n * sizeof(*idx));
    if (ents == NULL || idx == NULL)
      return PZ_STATE_NOMEM;
  }
  for (uint64_t i = 0; i < n; i++) {
    if (!pz_map_next(&it, &ents[i].key, &ents[i].value))
      return PZ_STATE_BAD;
    idx[i] = &ents[i];
  }
  if (n > 1)
    qsort(idx, n, sizeof(*idx), ent_ptr_cmp);
  for (uint64_t i = 1; i < n; i++)
    if (ent_ptr_cmp(&idx[i - 1], &idx[i]) == 0)
      return PZ_STATE_BAD;

  writer_t w = {NULL, 0, 0};
  int64_t count = body(state, ents, idx, n, &w);
  if (count < 0)
    return PZ_STATE_BAD;
  size_t hdr = count < 16 ? 1 : count < 65536 ? 3 : 5;
  if (hdr + w.len > cap)
    return PZ_STATE_TOO_LARGE;
  w = (writer_t){out, cap, 0};
  put_header(&w, (size_t)count, true);
  body(state, ents, idx, n, &w);
  *out_len = w.len;
  return PZ_STATE_OK;
}
