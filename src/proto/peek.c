/*
 * pz_peek_op: the op of a message from its first bytes, without unpacking
 * (the bench counts replies by op at full rate). It reads the array header
 * and element 0 only, so it says nothing about the rest being well formed.
 */
#include <limits.h>

#include "plaza/codec.h"

int pz_peek_op(const char *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  size_t off, n;

  if (len == 0)
    return -1;
  /* Array header with at least one element. */
  if ((p[0] & 0xf0) == 0x90) {
    n = p[0] & 0x0f;
    off = 1;
  } else if (p[0] == 0xdc && len >= 3) {
    n = (size_t)p[1] << 8 | p[2];
    off = 3;
  } else if (p[0] == 0xdd && len >= 5) {
    n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    off = 5;
  } else {
    return -1;
  }
  if (n == 0 || off >= len)
    return -1;

  /* A positive integer in any width, signed types included, as msgpack-c
   * accepts them; values beyond INT_MAX cannot be returned as an op. */
  unsigned b = p[off++];
  size_t w;
  bool is_signed = false;
  if (b <= 0x7f)
    return b > 0 ? (int)b : -1;
  switch (b) {
  case 0xcc:
  case 0xcd:
  case 0xce:
  case 0xcf:
    w = (size_t)1 << (b - 0xcc);
    break;
  case 0xd0:
  case 0xd1:
  case 0xd2:
  case 0xd3:
    w = (size_t)1 << (b - 0xd0);
    is_signed = true;
    break;
  default:
    return -1;
  }
  if (len - off < w)
    return -1;
  if (is_signed && (p[off] & 0x80))
    return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < w; i++)
    v = v << 8 | p[off + i];
  return v > 0 && v <= INT_MAX ? (int)v : -1;
}
