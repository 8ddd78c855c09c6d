/* WebSocket frame parser and builder for the bench (see wsf.h). */
#include "wsf.h"

#include <string.h>

/* Header bytes needed once the first two are known. */
static unsigned hdr_need(const uint8_t *h) {
  unsigned len7 = h[1] & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

/* Checks a complete header and starts its payload. */
static int start_frame(pz_wsf_t *f, const pz_wsf_cbs_t *cbs, void *u) {
  const uint8_t *h = f->hdr;
  int opcode = h[0] & 0x0f;
  bool fin = (h[0] & 0x80) != 0;
  unsigned len7 = h[1] & 0x7f;
  uint64_t len;

  if (h[0] & 0x70)
    return PZ_WSF_EPROTO; /* no extension was negotiated */
  if (h[1] & 0x80)
    return PZ_WSF_EMASK;
  if (len7 == 126)
    len = (uint64_t)h[2] << 8 | h[3];
  else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = len << 8 | h[2 + i];
    if (len >> 63)
      return PZ_WSF_ELEN;
  } else
    len = len7;
  switch (opcode) {
  case PZ_WSF_CONT:
  case PZ_WSF_TEXT:
  case PZ_WSF_BINARY:
    break;
  case PZ_WSF_CLOSE:
  case PZ_WSF_PING:
  case PZ_WSF_PONG:
    if (!fin || len > 125)
      return PZ_WSF_EPROTO;
    break;
  default:
    return PZ_WSF_EPROTO;
  }
  f->opcode = (uint8_t)opcode;
  f->fin = fin;
  f->left = len;
  f->hlen = 0;
  f->in_payload = true;
  int r = cbs->on_frame(u, opcode, fin, len);
  if (r != 0)
    return r;
  if (len == 0) {
    f->in_payload = false;
    return cbs->on_data(u, NULL, 0, true);
  }
  return 0;
}

int pz_wsf_feed(pz_wsf_t *f, const uint8_t *data, size_t len,
                const pz_wsf_cbs_t *cbs, void *u) {
  int r;

  while (len > 0) {
    if (f->in_payload) {
      size_t n = len < f->left ? len : (size_t)f->left;
      f->left -= n;
      bool last = f->left == 0;
      if (last)
        f->in_payload = false;
      if ((r = cbs->on_data(u, data, n, last)) != 0)
        return r;
      data += n;
      len -= n;
      continue;
    }
    /* Fast path: a whole header in this chunk, nothing gathered yet. */
    if (f->hlen == 0 && len >= 2) {
      if (data[1] & 0x80)
        return PZ_WSF_EMASK;
      unsigned need = hdr_need(data); /* at most 10 unmasked */
      if (len >= need) {
        memcpy(f->hdr, data, need);
        data += need;
        len -= need;
        if ((r = start_frame(f, cbs, u)) != 0)
          return r;
        continue;
      }
    }
    /* Gather a header split across chunks, byte by byte. */
    f->hdr[f->hlen++] = *data++;
    len--;
    if (f->hlen >= 2) {
      unsigned need = hdr_need(f->hdr);
      if (f->hdr[1] & 0x80)
        return PZ_WSF_EMASK;
      if (f->hlen == need && (r = start_frame(f, cbs, u)) != 0)
        return r;
    }
  }
  return 0;
}

void pz_wsf_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off) {
  for (size_t i = 0; i < n; i++)
    p[i] ^= mask[(off + i) & 3];
}

size_t pz_wsf_build(uint8_t *out, int opcode, const uint8_t *payload,
                    size_t len, const uint8_t mask[4]) {
  size_t h = 0;
  out[h++] = (uint8_t)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    out[h++] = (uint8_t)(0x80 | len);
  } else if (len <= 0xffff) {
    out[h++] = 0x80 | 126;
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(out + h, mask, 4);
  h += 4;
  if (len > 0) { /* payload may be NULL then */
    memcpy(out + h, payload, len);
    pz_wsf_mask(out + h, len, mask, 0);
  }
  return h + len;
}
