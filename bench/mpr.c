/* pz_mpr_skip (see mpr.h): the only reader that needs a loop over types. */
#include "mpr.h"

#define PZ_MPR_MAX_DEPTH 32

static int skip_value(pz_mpr_t *r, int depth) {
  if (r->p >= r->end || depth > PZ_MPR_MAX_DEPTH)
    return -1;
  uint8_t b = *r->p;
  size_t left = pz_mpr_left(r);
  uint64_t n = 0;  /* container elements (maps: twice the pairs) */
  size_t hdr = 1;  /* header bytes */
  size_t body = 0; /* payload bytes after the header */
  bool container = false;

  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
    /* fixint, nil, bool */
  } else if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
    n = (uint64_t)(b & 0x0f) * ((b & 0xf0) == 0x80 ? 2 : 1);
    container = true;
  } else if ((b & 0xe0) == 0xa0) {
    body = b & 0x1f;
  } else {
    switch (b) {
    case 0xcc:
    case 0xd0:
      body = 1;
      break;
    case 0xcd:
    case 0xd1:
      body = 2;
      break;
    case 0xca:
    case 0xce:
    case 0xd2:
      body = 4;
      break;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      body = 8;
      break;
    case 0xd4:
      body = 2;
      break; /* fixext 1: type + 1 */
    case 0xd5:
      body = 3;
      break;
    case 0xd6:
      body = 5;
      break;
    case 0xd7:
      body = 9;
      break;
    case 0xd8:
      body = 17;
      break;
    case 0xc4:
    case 0xd9: /* bin8, str8 */
    case 0xc5:
    case 0xda:
    case 0xc6:
    case 0xdb: {
      unsigned w = (b == 0xc4 || b == 0xd9)   ? 1
                   : (b == 0xc5 || b == 0xda) ? 2
                                              : 4;
      if (left < 1 + w)
        return -1;
      hdr = 1 + w;
      body = (size_t)pz_mpr_be(r->p + 1, w);
      break;
    }
    case 0xc7:
    case 0xc8:
    case 0xc9: { /* ext 8/16/32: len, type, data */
      unsigned w = 1u << (b - 0xc7);
      if (left < 1 + w)
        return -1;
      hdr = 1 + w;
      body = (size_t)pz_mpr_be(r->p + 1, w) + 1;
      break;
    }
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf: {
      unsigned w = (b == 0xdc || b == 0xde) ? 2 : 4;
      if (left < 1 + w)
        return -1;
      hdr = 1 + w;
      n = pz_mpr_be(r->p + 1, w) * ((b == 0xde || b == 0xdf) ? 2 : 1);
      container = true;
      break;
    }
    default:
      return -1; /* 0xc1, never used */
    }
  }
  if (left < hdr || left - hdr < body)
    return -1;
  if (container && n > left - hdr) /* each element takes a byte at least */
    return -1;
  r->p += hdr + body;
  for (uint64_t i = 0; i < n; i++)
    if (skip_value(r, depth + 1) != 0)
      return -1;
  return 0;
}

int pz_mpr_skip(pz_mpr_t *r) {
  const uint8_t *save = r->p;
  if (skip_value(r, 0) != 0) {
    r->p = save;
    return -1;
  }
  return 0;
}
