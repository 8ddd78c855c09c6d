/* The outbound queue (see outq.h). */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

#define RING_MIN 4

static pz_outq_entry_t *at(pz_outq_t *q, uint32_t pos) {
  return q->ring ? &q->ring[pos & (q->cap - 1)] : &q->one;
}

static size_t left(const pz_outq_entry_t *e) {
  return pz_payload_wire_len(e->payload) - e->off;
}

static size_t entry_bytes(const pz_outq_entry_t *e) {
  return left(e) + PZ_OUTQ_ENTRY_COST;
}

/* The latest-wins slot of a kind, or -1: both STATE kinds share one. */
static int slot(int kind) {
  if (kind == PZ_OUT_STATE || kind == PZ_OUT_STATE_FULL)
    return PZ_OUTQ_SLOT_STATE;
  return kind == PZ_OUT_PONG ? PZ_OUTQ_SLOT_PONG : -1;
}

void pz_outq_init(pz_outq_t *q, uint32_t limit) {
  memset(q, 0, sizeof(*q));
  q->limit = limit;
}

/* Removes the entry at pos (the head or an unsent one further on): what
 * follows moves up one place, and a slot pointing past it with it. */
static void remove_at(pz_outq_t *q, uint32_t pos) {
  pz_outq_entry_t *e = at(q, pos);
  q->bytes -= entry_bytes(e);
  pz_payload_unref(e->payload);
  bool head = pos == q->first; /* else what follows moves up one place */
  for (int s = 0; s < PZ_OUTQ_SLOTS; s++) {
    if (q->unsent[s] == pos + 1)
      q->unsent[s] = 0;
    else if (!head && q->unsent[s] > pos + 1)
      q->unsent[s]--;
  }
  if (head) {
    q->first++;
    if (q->first >= 1u << 31) { /* rebase by a multiple of cap: same slots */
      uint32_t d = q->first & ~(q->cap ? q->cap - 1 : 0);
      q->first -= d;
      for (int s = 0; s < PZ_OUTQ_SLOTS; s++)
        if (q->unsent[s])
          q->unsent[s] -= d;
    }
  } else {
    uint32_t end = q->first + q->count - 1;
    for (uint32_t p = pos; p != end; p++)
      *at(q, p) = *at(q, p + 1);
  }
  q->count--;
  if (q->count == 0) /* positions restart: the slots hold none */
    q->first = 0;
}

void pz_outq_dispose(pz_outq_t *q) {
  while (q->count)
    remove_at(q, q->first);
  pz_outq_shrink(q);
}

void pz_outq_shrink(pz_outq_t *q) {
  if (q->count == 0 && q->ring) {
    free(q->ring);
    q->ring = NULL;
    q->cap = 0;
    q->first = 0;
  }
}

/* Doubles the ring (or makes one for what `one` holds), keeping every
 * entry at its position. */
static void grow(pz_outq_t *q) {
  uint32_t cap = q->cap ? q->cap * 2 : RING_MIN;
  pz_outq_entry_t *ring = pz_xmalloc(cap * sizeof(*ring));
  for (uint32_t p = q->first; p != q->first + q->count; p++)
    ring[p & (cap - 1)] = *at(q, p);
  free(q->ring);
  q->ring = ring;
  q->cap = cap;
}

int pz_outq_push(pz_outq_t *q, const uint8_t *hdr, size_t hlen, pz_payload_t *p,
                 int kind) {
  bool lost = false;
  int s = slot(kind);
  if (s >= 0 && q->unsent[s]) {
    remove_at(q, q->unsent[s] - 1);
    q->replaced++;
    /* A full STATE carries all the replaced one did; a partial may not. */
    lost = kind == PZ_OUT_STATE;
    q->lost += lost;
  }
  if (q->count == (q->ring ? q->cap : 1))
    grow(q);
  pz_payload_set_head(p, hdr, hlen);
  uint32_t pos = q->first + q->count++;
  pz_outq_entry_t *e = at(q, pos);
  e->payload = pz_payload_ref(p);
  e->off = 0;
  e->kind = (uint8_t)kind;
  q->bytes += entry_bytes(e);
  if (s >= 0)
    q->unsent[s] = pos + 1;
  if (q->bytes > q->limit)
    return PZ_EFULL;
  return lost ? PZ_OUTQ_LOST : 0;
}

int pz_outq_push_copy(pz_outq_t *q, const uint8_t *hdr, size_t hlen,
                      const void *data, size_t len, int kind) {
  pz_payload_t *p = pz_payload_create(data, len, kind);
  int r = pz_outq_push(q, hdr, hlen, p, kind);
  pz_payload_unref(p);
  return r;
}

unsigned pz_outq_bufs(const pz_outq_t *q, uv_buf_t *bufs, unsigned n) {
  unsigned k = 0;
  for (uint32_t i = 0; i < q->count && k < n; i++) {
    const pz_outq_entry_t *e = pz_outq_at(q, i);
    if (left(e))
      bufs[k++] = uv_buf_init((char *)pz_payload_wire(e->payload) + e->off,
                              (unsigned)left(e));
  }
  return k;
}

void pz_outq_consume(pz_outq_t *q, size_t n) {
  while (q->count) {
    pz_outq_entry_t *e = at(q, q->first);
    size_t l = left(e);
    if (n < l) {
      if (n == 0)
        return;
      /* Partly written: no longer replaceable, its frame has begun. */
      int s = slot(e->kind);
      if (s >= 0 && q->unsent[s] == q->first + 1)
        q->unsent[s] = 0;
      e->off += (uint32_t)n;
      q->bytes -= n;
      return;
    }
    n -= l;
    remove_at(q, q->first);
  }
}

uint32_t pz_outq_drop_unsent(pz_outq_t *q) {
  uint32_t dropped = 0;
  uint32_t keep = q->count && at(q, q->first)->off > 0 ? 1 : 0;
  while (q->count > keep) {
    remove_at(q, q->first + q->count - 1);
    dropped++;
  }
  return dropped;
}

void pz_outq_privatize(pz_outq_t *q) {
  for (uint32_t i = 0; i < q->count; i++) {
    pz_outq_entry_t *e = at(q, q->first + i);
    e->payload = pz_payload_own(e->payload);
  }
}
