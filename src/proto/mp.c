/*
 * Bounded unpacking of one message. msgpack_unpack allocates each array's
 * element vector (16 bytes an element) as soon as it reads the header, so a
 * 5-byte array32 header claiming 2^32 elements asks the zone for 64 GiB. A
 * header-only walk first checks that every claimed element could fit in the
 * bytes that remain (each element takes at least one byte), and that the
 * whole object is present: only then is it unpacked, so the zone grows by
 * at most about 16 bytes per input byte. The walk keeps one
 * counter of elements still owed instead of a stack, so nesting depth costs
 * nothing here (msgpack-c enforces its own depth limit).
 */
#include "mp.h"

/* Big-endian unsigned of n bytes at p. */
static uint64_t pz_mp_be(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

ptrdiff_t pz_mp_object_len(const char *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  size_t off = 0;
  uint64_t owed = 1; /* elements still to read, always <= len - off */

  while (owed > 0) {
    if (off >= len)
      return -1;
    unsigned b = p[off++];
    owed--;
    /* Per type: width of the length field, then a fixed payload, and
     * whether the length counts bytes to skip or elements (x2 for maps). */
    size_t lenw = 0, fixed = 0, mult = 0;
    uint64_t n = 0;
    if (b <= 0x7f || b >= 0xe0) {
      /* positive or negative fixint */
    } else if (b <= 0x8f) {
      n = 2 * (uint64_t)(b & 0x0f);
    } else if (b <= 0x9f) {
      n = b & 0x0f;
    } else if (b <= 0xbf) {
      fixed = b & 0x1f; /* fixstr */
    } else {
      switch (b) {
      case 0xc0: /* nil */
      case 0xc2: /* false */
      case 0xc3: /* true */
        break;
      case 0xc4: /* bin 8/16/32 */
      case 0xd9: /* str 8 */
        lenw = 1;
        break;
      case 0xc5:
      case 0xda:
        lenw = 2;
        break;
      case 0xc6:
      case 0xdb:
        lenw = 4;
        break;
      case 0xc7: /* ext 8/16/32: length, then a type byte, then the data */
        lenw = 1, fixed = 1;
        break;
      case 0xc8:
        lenw = 2, fixed = 1;
        break;
      case 0xc9:
        lenw = 4, fixed = 1;
        break;
      case 0xcc:
      case 0xd0:
        fixed = 1;
        break;
      case 0xcd:
      case 0xd1:
        fixed = 2;
        break;
      case 0xca:
      case 0xce:
      case 0xd2:
        fixed = 4;
        break;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        fixed = 8;
        break;
      case 0xd4: /* fixext 1/2/4/8/16: type byte and data */
        fixed = 2;
        break;
      case 0xd5:
        fixed = 3;
        break;
      case 0xd6:
        fixed = 5;
        break;
      case 0xd7:
        fixed = 9;
        break;
      case 0xd8:
        fixed = 17;
        break;
      case 0xdc: /* array 16/32 */
        lenw = 2, mult = 1;
        break;
      case 0xdd:
        lenw = 4, mult = 1;
        break;
      case 0xde: /* map 16/32 */
        lenw = 2, mult = 2;
        break;
      case 0xdf:
        lenw = 4, mult = 2;
        break;
      default: /* 0xc1 is never used */
        return -1;
      }
    }
    if (lenw > 0) {
      if (len - off < lenw)
        return -1;
      uint64_t v = pz_mp_be(p + off, lenw);
      off += lenw;
      if (mult > 0)
        n = v * mult; /* v < 2^32, no overflow */
      else if (v > len - off)
        return -1;
      else
        fixed += (size_t)v;
    }
    if (fixed > len - off)
      return -1;
    off += fixed;
    owed += n;
    /* Running out of bytes would refuse a lying header anyway; this
     * refuses it at the header instead of after walking the rest. */
    if (owed > len - off)
      return -1;
  }
  return (ptrdiff_t)off;
}

const char *pz_mp_unpack_array(const char *data, size_t len, msgpack_zone *zone,
                               msgpack_object_array *out) {
  if (len == 0)
    return "empty message";
  unsigned b = (unsigned char)data[0];
  /* Refuse a non-array before any work: fixarray, array16, array32. */
  if ((b & 0xf0) != 0x90 && b != 0xdc && b != 0xdd)
    return "message must be an array";
  ptrdiff_t n = pz_mp_object_len(data, len);
  if (n < 0)
    return "malformed or truncated messagepack";
  if ((size_t)n != len)
    return "trailing bytes after the array";
  size_t off = 0;
  msgpack_object obj;
  if (msgpack_unpack(data, len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS)
    return "malformed messagepack";
  *out = obj.via.array;
  return NULL;
}
