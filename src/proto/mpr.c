/* The cursor's readers that need the header table (see mpr.h). */
#include "mpr.h"

int pz_mpr_head(pz_mpr_t *r, pz_mpr_head_t *h) {
  size_t left = pz_mpr_left(r);
  if (left == 0)
    return -1;
  uint8_t b = *r->p;
  *h = (pz_mpr_head_t){.type = b};
  size_t hdr = 1;
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
    /* fixint, nil, bool */
  } else if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
    h->is_map = (b & 0xf0) == 0x80;
    h->is_array = !h->is_map;
    h->items = (uint64_t)(b & 0x0f) * (h->is_map ? 2 : 1);
  } else if ((b & 0xe0) == 0xa0) {
    h->body = b & 0x1f;
  } else {
    switch (b) {
    case 0xcc:
    case 0xd0:
      h->body = 1;
      break;
    case 0xcd:
    case 0xd1:
      h->body = 2;
      break;
    case 0xca:
    case 0xce:
    case 0xd2:
      h->body = 4;
      break;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      h->body = 8;
      break;
    case 0xd4: /* fixext 1/2/4/8/16: a type byte and the data */
      h->body = 2;
      break;
    case 0xd5:
      h->body = 3;
      break;
    case 0xd6:
      h->body = 5;
      break;
    case 0xd7:
      h->body = 9;
      break;
    case 0xd8:
      h->body = 17;
      break;
    case 0xc4: /* bin 8/16/32 and str 8/16/32: a length, then the bytes */
    case 0xd9:
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
      h->body = pz_mpr_be(r->p + 1, w);
      break;
    }
    case 0xc7: /* ext 8/16/32: a length, a type byte, the data */
    case 0xc8:
    case 0xc9: {
      unsigned w = 1u << (b - 0xc7);
      if (left < 1 + w)
        return -1;
      hdr = 1 + w;
      h->body = pz_mpr_be(r->p + 1, w) + 1;
      break;
    }
    case 0xdc: /* array 16/32, map 16/32 */
    case 0xdd:
    case 0xde:
    case 0xdf: {
      unsigned w = (b == 0xdc || b == 0xde) ? 2 : 4;
      if (left < 1 + w)
        return -1;
      hdr = 1 + w;
      h->is_map = b >= 0xde;
      h->is_array = !h->is_map;
      h->items = pz_mpr_be(r->p + 1, w) * (h->is_map ? 2 : 1);
      break;
    }
    default:
      return -1; /* 0xc1, never used */
    }
  }
  if (left < hdr || left - hdr < h->body || h->items > left - hdr)
    return -1; /* each element takes a byte at least */
  r->p += hdr;
  return 0;
}

int pz_mpr_bin(pz_mpr_t *r, const uint8_t **b, uint32_t *len) {
  pz_mpr_t save = *r;
  pz_mpr_head_t h;
  if (r->p >= r->end || *r->p < 0xc4 || *r->p > 0xc6 || pz_mpr_head(r, &h))
    return -1;
  if (h.body > UINT32_MAX) {
    *r = save;
    return -1;
  }
  *b = r->p;
  *len = (uint32_t)h.body;
  r->p += h.body;
  return 0;
}

int pz_mpr_skip_depth(pz_mpr_t *r, int max_depth) {
  const uint8_t *save = r->p;
  /* owed[d]: elements still to read in the container open at depth d. */
  uint64_t owed[PZ_MPR_MAX_DEPTH + 2];
  int depth = 0;
  if (max_depth > PZ_MPR_MAX_DEPTH)
    max_depth = PZ_MPR_MAX_DEPTH;
  owed[0] = 1;
  while (depth >= 0) {
    if (owed[depth] == 0) {
      depth--;
      continue;
    }
    owed[depth]--;
    pz_mpr_head_t h;
    if (pz_mpr_head(r, &h) != 0)
      goto fail;
    r->p += h.body;
    if (h.items > 0) {
      if (depth + 1 > max_depth)
        goto fail;
      owed[++depth] = h.items;
    } else if (depth == 0 && owed[0] == 0) {
      break;
    }
  }
  return 0;
fail:
  r->p = save;
  return -1;
}
