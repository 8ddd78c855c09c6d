/* A room's shared state (see room_state.h). */
#include "room_state.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* Memory of one entry beyond its key and value bytes: the struct, the
 * hash handle, malloc's overhead. What the parked bound counts. */
#define ENTRY_COST 192

pz_rstate_t *pz_rstate_create(pz_str_t name) {
  pz_rstate_t *st = pz_xcalloc(1, sizeof(*st));
  st->name_len =
      (uint8_t)(name.len > PZ_ROOM_NAME_MAX ? PZ_ROOM_NAME_MAX : name.len);
  memcpy(st->name, name.ptr, st->name_len);
  return st;
}

static void key_free(pz_rkey_t *k) {
  free(k->value);
  free(k);
}

void pz_rstate_clear(pz_rstate_t *st) {
  pz_rkey_t *k, *tmp;
  HASH_ITER(hh, st->keys, k, tmp) {
    HASH_DEL(st->keys, k);
    key_free(k);
  }
  st->n_live = st->n_tomb = 0;
  st->bytes = 0;
}

void pz_rstate_destroy(pz_rstate_t *st) {
  pz_rstate_clear(st);
  free(st);
}

pz_rkey_t *pz_rstate_find(pz_rstate_t *st, pz_str_t key) {
  pz_rkey_t *k;
  HASH_FIND(hh, st->keys, key.ptr, key.len, k);
  return k;
}

uint64_t pz_rstate_version(pz_rstate_t *st, pz_str_t key) {
  pz_rkey_t *k = pz_rstate_find(st, key);
  return k && k->value ? k->version : 0;
}

uint64_t pz_rstate_next_version(pz_rstate_t *st, pz_str_t key) {
  pz_rkey_t *k = pz_rstate_find(st, key);
  return k ? k->version + 1 : 1;
}

bool pz_rstate_fits(pz_rstate_t *st, pz_str_t key, pz_raw_t value,
                    const pz_rstate_limits_t *lim) {
  if (pz_raw_is_nil(value))
    return true;
  if (value.len > lim->value_max)
    return false;
  pz_rkey_t *k = pz_rstate_find(st, key);
  bool live = k && k->value;
  if (!live && st->n_live >= lim->keys_max)
    return false;
  uint64_t bytes = (uint64_t)st->bytes + key.len + value.len;
  if (live)
    bytes -= (uint64_t)k->key_len + k->value_len;
  return bytes <= lim->bytes_max;
}

/* Forgets the tombstone deleted longest ago. */
static void drop_oldest_tomb(pz_rstate_t *st) {
  pz_rkey_t *k, *tmp, *oldest = NULL;
  HASH_ITER(hh, st->keys, k, tmp) {
    if (!k->value && (!oldest || k->deleted < oldest->deleted))
      oldest = k;
  }
  if (oldest) {
    HASH_DEL(st->keys, oldest);
    key_free(oldest);
    st->n_tomb--;
  }
}

void pz_rstate_put(pz_rstate_t *st, pz_str_t key, pz_raw_t value,
                   uint64_t version, uint64_t by, uint32_t tomb_max) {
  if (key.len > PZ_ROOM_KEY_MAX)
    return; /* the codec refuses such keys: never stored */
  pz_rkey_t *k = pz_rstate_find(st, key);
  if (!k) {
    k = pz_xcalloc(1, sizeof(*k));
    k->key_len = (uint8_t)key.len;
    memcpy(k->key, key.ptr, key.len);
    HASH_ADD_KEYPTR(hh, st->keys, k->key, k->key_len, k);
    st->n_tomb++; /* born a tombstone: made live below if it is one */
  }
  if (k->value) { /* out with the old value */
    st->bytes -= k->key_len + k->value_len;
    free(k->value);
    k->value = NULL;
    k->value_len = 0;
    st->n_live--;
    st->n_tomb++;
  }
  k->version = version;
  k->by = by;
  if (pz_raw_is_nil(value)) {
    k->deleted = ++st->deletes;
    while (st->n_tomb > tomb_max)
      drop_oldest_tomb(st);
    return;
  }
  k->value = pz_xmalloc(value.len);
  memcpy(k->value, value.ptr, value.len);
  k->value_len = value.len;
  k->deleted = 0;
  st->bytes += k->key_len + k->value_len;
  st->n_tomb--;
  st->n_live++;
}

uint64_t pz_rstate_cost(const pz_rstate_t *st) {
  return sizeof(*st) + st->bytes +
         (uint64_t)(st->n_live + st->n_tomb) * ENTRY_COST;
}
