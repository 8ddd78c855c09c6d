/*
 * A refcounted, immutable message payload: the MessagePack bytes of one
 * server message, shared by every recipient of a broadcast ("encode once,
 * write many"). The count is not atomic: a payload belongs to one worker
 * thread and never crosses threads; a connection that moves to another
 * worker takes private copies of what it still holds (pz_payload_own).
 *
 * Room for a frame header sits right before the bytes: a header depends
 * only on the length, so every recipient of a broadcast writes the same
 * one, set once (pz_payload_set_head), and a queued frame is one buffer.
 */
#ifndef PZ_PAYLOAD_H
#define PZ_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

enum pz_payload_kind {
  PZ_PAYLOAD_RELIABLE = 0,   /* never dropped nor reordered */
  PZ_PAYLOAD_STATE = 1,      /* latest wins over an unsent older STATE */
  PZ_PAYLOAD_STATE_FULL = 2, /* a STATE of every member: latest wins too, and
                              * what it replaces loses nothing */
};

#define PZ_PAYLOAD_HEAD_MAX 14 /* a WebSocket frame header, at most */

typedef struct pz_payload {
  uint32_t refs;
  uint32_t len;
  uint8_t kind;
  uint8_t head_len; /* header bytes at the end of head[], 0 until set */
  uint8_t head[PZ_PAYLOAD_HEAD_MAX];
  uint8_t data[]; /* right after head[]: head + head_len .. data + len */
} pz_payload_t;

/* A payload of len bytes for the caller to fill (refs 1). */
pz_payload_t *pz_payload_alloc(size_t len, int kind);
/* A payload holding a copy of data. */
pz_payload_t *pz_payload_create(const void *data, size_t len, int kind);
static inline pz_payload_t *pz_payload_ref(pz_payload_t *p) {
  p->refs++;
  return p;
}
void pz_payload_unref(pz_payload_t *p);

/* Sets the header that goes before the bytes (hlen <= PZ_PAYLOAD_HEAD_MAX).
 * Once set it is never changed: every later call must give the same. */
static inline void pz_payload_set_head(pz_payload_t *p, const uint8_t *hdr,
                                       size_t hlen) {
  if (p->head_len == 0 && hlen) {
    for (size_t i = 0; i < hlen; i++)
      p->data[(ptrdiff_t)i - (ptrdiff_t)hlen] = hdr[i];
    p->head_len = (uint8_t)hlen;
  }
}
/* The header and the bytes, contiguous. */
static inline const uint8_t *pz_payload_wire(const pz_payload_t *p) {
  return p->data - p->head_len;
}
static inline size_t pz_payload_wire_len(const pz_payload_t *p) {
  return (size_t)p->head_len + p->len;
}

/* Returns p itself when this is its only reference, else a private copy
 * (dropping one reference to p), header included. */
pz_payload_t *pz_payload_own(pz_payload_t *p);

#endif
