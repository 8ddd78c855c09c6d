/*
 * A minimal MessagePack reader for the bench's hot paths, sans-I/O.
 *
 * The shared codec (plaza/codec.h) unpacks into msgpack-c object trees: right
 * for the server and for rare messages, too slow for the bench, whose
 * sampled clients read about a million STATE entries a second. This cursor
 * reads values in place, one at a time, with no allocation: the caller
 * knows the shape it expects and asks for each field. Every reader returns
 * 0 and advances, or -1 and leaves the cursor where it was (wrong type or
 * truncated input).
 */
#ifndef PZ_BENCH_MPR_H
#define PZ_BENCH_MPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct pz_mpr {
  const uint8_t *p, *end;
} pz_mpr_t;

static inline void pz_mpr_init(pz_mpr_t *r, const void *data, size_t len) {
  r->p = data;
  r->end = r->p + len;
}

static inline size_t pz_mpr_left(const pz_mpr_t *r) {
  return (size_t)(r->end - r->p);
}

/* Big-endian unsigned of w bytes at p. */
static inline uint64_t pz_mpr_be(const uint8_t *p, unsigned w) {
  uint64_t v = 0;
  for (unsigned i = 0; i < w; i++)
    v = v << 8 | p[i];
  return v;
}

/* Container header: array (is_map false) or map. */
static inline int pz_mpr_container(pz_mpr_t *r, bool is_map, uint32_t *n) {
  if (r->p >= r->end)
    return -1;
  uint8_t b = *r->p;
  uint8_t fix = is_map ? 0x80 : 0x90, b16 = is_map ? 0xde : 0xdc;
  if ((b & 0xf0) == fix) {
    *n = b & 0x0f;
    r->p++;
    return 0;
  }
  unsigned w = b == b16 ? 2 : b == b16 + 1 ? 4 : 0;
  if (w == 0 || pz_mpr_left(r) < 1 + w)
    return -1;
  *n = (uint32_t)pz_mpr_be(r->p + 1, w);
  r->p += 1 + w;
  return 0;
}

static inline int pz_mpr_array(pz_mpr_t *r, uint32_t *n) {
  return pz_mpr_container(r, false, n);
}

static inline int pz_mpr_map(pz_mpr_t *r, uint32_t *n) {
  return pz_mpr_container(r, true, n);
}

/* Any integer; *neg tells a negative one (then *v is its two's
 * complement). */
static inline int pz_mpr_int_raw(pz_mpr_t *r, uint64_t *v, bool *neg) {
  if (r->p >= r->end)
    return -1;
  uint8_t b = *r->p;
  if (b <= 0x7f || b >= 0xe0) {
    *v = b <= 0x7f ? b : (uint64_t)(int64_t)(int8_t)b;
    *neg = b >= 0xe0;
    r->p++;
    return 0;
  }
  unsigned w;
  bool sgn;
  if (b >= 0xcc && b <= 0xcf) {
    w = 1u << (b - 0xcc);
    sgn = false;
  } else if (b >= 0xd0 && b <= 0xd3) {
    w = 1u << (b - 0xd0);
    sgn = true;
  } else {
    return -1;
  }
  if (pz_mpr_left(r) < 1 + w)
    return -1;
  uint64_t u = pz_mpr_be(r->p + 1, w);
  *neg = false;
  if (sgn && (u >> (8 * w - 1)) & 1) {
    *neg = true;
    if (w < 8)
      u |= ~0ull << (8 * w); /* sign-extend */
  }
  *v = u;
  r->p += 1 + w;
  return 0;
}

/* A non-negative integer, in any width or signedness. */
static inline int pz_mpr_uint(pz_mpr_t *r, uint64_t *v) {
  const uint8_t *save = r->p;
  bool neg = false; /* set on success; gcc -O1 (sanitizer builds) cannot tell */
  if (pz_mpr_int_raw(r, v, &neg) != 0)
    return -1;
  if (neg) {
    r->p = save;
    return -1;
  }
  return 0;
}

/* Any number: integer, float32 or float64. */
static inline int pz_mpr_num(pz_mpr_t *r, double *d) {
  if (r->p >= r->end)
    return -1;
  uint8_t b = *r->p;
  if (b == 0xca || b == 0xcb) {
    unsigned w = b == 0xca ? 4 : 8;
    if (pz_mpr_left(r) < 1 + w)
      return -1;
    uint64_t u = pz_mpr_be(r->p + 1, w);
    if (w == 4) {
      uint32_t u32 = (uint32_t)u;
      float f;
      memcpy(&f, &u32, 4);
      *d = f;
    } else {
      memcpy(d, &u, 8);
    }
    r->p += 1 + w;
    return 0;
  }
  uint64_t v;
  bool neg;
  if (pz_mpr_int_raw(r, &v, &neg) != 0)
    return -1;
  *d = neg ? (double)(int64_t)v : (double)v;
  return 0;
}

/* A str (never bin): *s points into the input. */
static inline int pz_mpr_str(pz_mpr_t *r, const char **s, uint32_t *len) {
  if (r->p >= r->end)
    return -1;
  uint8_t b = *r->p;
  unsigned w;
  uint32_t n;
  if ((b & 0xe0) == 0xa0) {
    w = 0;
    n = b & 0x1f;
  } else if (b >= 0xd9 && b <= 0xdb) {
    w = 1u << (b - 0xd9);
    if (pz_mpr_left(r) < 1 + w)
      return -1;
    n = (uint32_t)pz_mpr_be(r->p + 1, w);
  } else {
    return -1;
  }
  if (pz_mpr_left(r) - 1 - w < n)
    return -1;
  *s = (const char *)r->p + 1 + w;
  *len = n;
  r->p += 1 + w + n;
  return 0;
}

/* True (and advances) when the next value is str `lit`. */
static inline bool pz_mpr_str_eq(pz_mpr_t *r, const char *lit) {
  const char *s;
  uint32_t n;
  pz_mpr_t save = *r;
  if (pz_mpr_str(r, &s, &n) == 0 && n == strlen(lit) && memcmp(s, lit, n) == 0)
    return true;
  *r = save;
  return false;
}

/* Skips one value of any type (nested containers included, ext and the
 * JavaScript `undefined` fixext d4 00 00 too). Refuses nesting deeper
 * than 32 and containers claiming more elements than bytes left. */
int pz_mpr_skip(pz_mpr_t *r);

#endif
