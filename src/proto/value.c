/*
 * App values of protocol 1.1 (member state, SIGNAL data, room state): the
 * checks a value passes before anyone else sees it, and walks over the
 * bytes of arrays and maps.
 *
 * A decoder has both the object tree msgpack_unpack built and the bytes it
 * came from. The checks read the tree (types, depth); what is handed out is
 * where a value lies in the bytes, found by stepping over elements with
 * pz_mp_object_len, so that the server forwards the bytes as the client
 * wrote them. Walks stop at the first malformed byte: they are safe on
 * bytes nobody checked (a client library reading a server it does not
 * trust), not only on what a decoder accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

/* Reads an array (map false) or map (map true) header: its element count
 * (keys and values counted apart for a map) and the header's length. */
static bool container(const unsigned char *p, size_t len, bool map, uint64_t *n,
                      size_t *hdr) {
  if (len == 0)
    return false;
  unsigned b = p[0];
  unsigned fix = map ? 0x80 : 0x90;
  unsigned w16 = map ? 0xde : 0xdc, w32 = map ? 0xdf : 0xdd;
  uint64_t count;
  if ((b & 0xf0) == fix) {
    count = b & 0x0f;
    *hdr = 1;
  } else if (b == w16 && len >= 3) {
    count = (uint64_t)p[1] << 8 | p[2];
    *hdr = 3;
  } else if (b == w32 && len >= 5) {
    count = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 |
            p[4];
    *hdr = 5;
  } else {
    return false;
  }
  *n = map ? 2 * count : count;
  return true;
}

static bool iter_init(pz_map_iter_t *it, pz_raw_t v, bool map) {
  size_t hdr;
  if (!container((const unsigned char *)v.ptr, v.len, map, &it->values, &hdr))
    return false;
  it->p = v.ptr + hdr;
  it->left = v.len - hdr;
  it->bad = false;
  return true;
}

/* The bytes of the next element, or false (at the end, or bytes that end
 * early: the walk stops there for good). */
static bool iter_next(pz_map_iter_t *it, pz_raw_t *out) {
  if (it->values == 0)
    return false;
  ptrdiff_t n = pz_mp_object_len(it->p, it->left);
  if (n < 0 || (uint64_t)n > UINT32_MAX) {
    it->values = 0;
    it->bad = true;
    return false;
  }
  *out = (pz_raw_t){it->p, (uint32_t)n};
  it->p += n;
  it->left -= (size_t)n;
  it->values--;
  return true;
}

bool pz_mp_elems(pz_raw_t a, pz_raw_t *out, uint32_t n) {
  pz_map_iter_t it;
  if (!iter_init(&it, a, false))
    return false;
  for (uint32_t i = 0; i < n; i++) {
    if (it.values == 0)
      out[i] = (pz_raw_t){NULL, 0};
    else if (!iter_next(&it, &out[i]))
      return false;
  }
  return true;
}

bool pz_mp_array_iter(pz_map_iter_t *it, pz_raw_t a) {
  return iter_init(it, a, false);
}

bool pz_mp_iter_next(pz_map_iter_t *it, pz_raw_t *out) {
  return iter_next(it, out);
}

bool pz_map_iter_init(pz_map_iter_t *it, pz_raw_t m) {
  if (m.ptr == NULL) {
    *it = (pz_map_iter_t){NULL, 0, 0, false};
    return true;
  }
  return iter_init(it, m, true);
}

/* The bytes of a str value (header stripped), or false. */
static bool str_body(pz_raw_t v, pz_str_t *s) {
  const unsigned char *p = (const unsigned char *)v.ptr;
  size_t hdr, n;
  if (v.len == 0)
    return false;
  if (p[0] >= 0xa0 && p[0] <= 0xbf) {
    hdr = 1, n = p[0] & 0x1f;
  } else if (p[0] == 0xd9 && v.len >= 2) {
    hdr = 2, n = p[1];
  } else if (p[0] == 0xda && v.len >= 3) {
    hdr = 3, n = (size_t)p[1] << 8 | p[2];
  } else if (p[0] == 0xdb && v.len >= 5) {
    hdr = 5,
    n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
  } else {
    return false;
  }
  if (hdr + n != v.len) /* the walk measured this value: it must agree */
    return false;
  *s = (pz_str_t){v.ptr + hdr, (uint32_t)n};
  return true;
}

bool pz_map_next(pz_map_iter_t *it, pz_str_t *key, pz_raw_t *value) {
  pz_raw_t k;
  if (it->values == 0)
    return false;
  if (it->values < 2 || !iter_next(it, &k) || !str_body(k, key) ||
      !iter_next(it, value)) {
    it->values = 0;
    it->bad = true;
    return false;
  }
  return true;
}

bool pz_mp_value_ok(const msgpack_object *o, int depth) {
  switch (o->type) {
  case MSGPACK_OBJECT_ARRAY:
    if (depth == 0)
      return false;
    for (uint32_t i = 0; i < o->via.array.size; i++)
      if (!pz_mp_value_ok(&o->via.array.ptr[i], depth - 1))
        return false;
    return true;
  case MSGPACK_OBJECT_MAP:
    if (depth == 0)
      return false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      msgpack_object_type kt = o->via.map.ptr[i].key.type;
      if (kt != MSGPACK_OBJECT_STR && kt != MSGPACK_OBJECT_POSITIVE_INTEGER &&
          kt != MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return false;
      if (!pz_mp_value_ok(&o->via.map.ptr[i].val, depth - 1))
        return false;
    }
    return true;
  default:
    return true;
  }
}

int pz_mp_key_cmp(const void *a, const void *b) {
  const pz_str_t *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  return x->len ? memcmp(x->ptr, y->ptr, x->len) : 0;
}

const char *pz_mp_patch_check(const msgpack_object *o, msgpack_zone *zone,
                              int *code) {
  *code = PZ_ERR_BAD_MESSAGE;
  if (o->type != MSGPACK_OBJECT_MAP)
    return "state must be a map";
  uint32_t n = o->via.map.size;
  if (n == 0)
    return NULL;
  /* n is below the message's length (the unpack bound): no overflow. */
  pz_str_t *keys = msgpack_zone_malloc(zone, n * sizeof(*keys));
  if (keys == NULL)
    return "out of memory";
  for (uint32_t i = 0; i < n; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    if (!pz_mp_str(&kv->key, &keys[i]))
      return "state keys must be strings";
    *code = PZ_ERR_INVALID_ARGUMENT;
    if (keys[i].len < 1 || keys[i].len > PZ_STATE_KEY_MAX ||
        !pz_utf8_valid(keys[i].ptr, keys[i].len))
      return "state keys must be 1-32 bytes of UTF-8";
    if (!pz_mp_value_ok(&kv->val, PZ_VALUE_DEPTH_MAX))
      return "state values may nest 16 deep, with string or integer map keys";
    *code = PZ_ERR_BAD_MESSAGE;
  }
  qsort(keys, n, sizeof(*keys), pz_mp_key_cmp);
  for (uint32_t i = 1; i < n; i++)
    if (pz_mp_key_cmp(&keys[i - 1], &keys[i]) == 0) {
      *code = PZ_ERR_INVALID_ARGUMENT;
      return "state key given twice";
    }
  return NULL;
}
