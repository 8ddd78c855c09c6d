/*
 * Bounded unpacking of one message. msgpack_unpack allocates each array's
 * element vector (16 bytes an element) as soon as it reads the header, so a
 * 5-byte array32 header claiming 2^32 elements asks the zone for 64 GiB. A
 * header-only walk with the cursor (mpr.h) first checks that the whole
 * object is present, every claimed element with it (each takes at least
 * one byte), nested no deeper than msgpack-c unpacks: only then is it
 * unpacked, so the zone grows by at most about 16 bytes per input byte.
 */
#include "mp.h"

#include "mpr.h"

ptrdiff_t pz_mp_object_len(const char *data, size_t len) {
  pz_mpr_t r;
  pz_mpr_init(&r, data, len);
  if (pz_mpr_skip(&r) != 0)
    return -1;
  return (ptrdiff_t)(r.p - (const uint8_t *)data);
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
