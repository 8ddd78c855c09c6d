/* The outbound queue (see outq.h). */
#include "outq.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "error.h"

static size_t entry_bytes(const pz_outq_entry_t *e) {
  return e->hdr_len + e->payload->len - e->off + PZ_OUTQ_ENTRY_COST;
}

static bool latest_wins(int kind) {
  return kind == PZ_OUT_STATE || kind == PZ_OUT_STATE_FULL ||
         kind == PZ_OUT_PONG;
}

/* The unsent slot of a latest-wins kind: both STATE kinds share one. */
static int slot(int kind) {
  return kind == PZ_OUT_STATE_FULL ? PZ_OUT_STATE : kind;
}

/* Forgets e as its slot's unsent entry (it goes, or its frame began). */
static void unslot(pz_outq_t *q, const pz_outq_entry_t *e) {
  if (latest_wins(e->kind) && q->unsent[slot(e->kind)] == e)
    q->unsent[slot(e->kind)] = NULL;
}

static void entry_free(pz_outq_t *q, pz_outq_entry_t *e) {
  q->bytes -= entry_bytes(e);
  q->count--;
  unslot(q, e);
  DL_DELETE(q->head, e);
  pz_payload_unref(e->payload);
  free(e);
}

void pz_outq_init(pz_outq_t *q, size_t limit) {
  memset(q, 0, sizeof(*q));
  q->limit = limit;
}

void pz_outq_dispose(pz_outq_t *q) {
  while (q->head)
    entry_free(q, q->head);
}

int pz_outq_push(pz_outq_t *q, const uint8_t *hdr, size_t hlen, pz_payload_t *p,
                 int kind) {
  bool lost = false;
  if (latest_wins(kind) && q->unsent[slot(kind)]) {
    entry_free(q, q->unsent[slot(kind)]);
    q->replaced++;
    /* A full STATE carries all the replaced one did; a partial may not. */
    lost = kind == PZ_OUT_STATE;
    q->lost += lost;
  }
  pz_outq_entry_t *e = pz_xmalloc(sizeof(*e));
  e->payload = pz_payload_ref(p);
  e->off = 0;
  e->kind = (uint8_t)kind;
  e->hdr_len = (uint8_t)hlen;
  if (hlen)
    memcpy(e->hdr, hdr, hlen);
  DL_APPEND(q->head, e);
  q->bytes += entry_bytes(e);
  q->count++;
  if (latest_wins(kind))
    q->unsent[slot(kind)] = e;
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
  for (const pz_outq_entry_t *e = q->head; e && k + 2 <= n; e = e->next) {
    uint32_t off = e->off;
    if (off < e->hdr_len) {
      bufs[k++] = uv_buf_init((char *)e->hdr + off, e->hdr_len - off);
      off = e->hdr_len;
    }
    off -= e->hdr_len;
    if (off < e->payload->len)
      bufs[k++] =
          uv_buf_init((char *)e->payload->data + off, e->payload->len - off);
  }
  return k;
}

void pz_outq_consume(pz_outq_t *q, size_t n) {
  while (n && q->head) {
    pz_outq_entry_t *e = q->head;
    size_t left = e->hdr_len + e->payload->len - e->off;
    if (n < left) {
      /* Partly written: no longer replaceable, its frame has begun. */
      unslot(q, e);
      e->off += (uint32_t)n;
      q->bytes -= n;
      return;
    }
    n -= left;
    entry_free(q, e);
  }
}

uint32_t pz_outq_drop_unsent(pz_outq_t *q) {
  uint32_t dropped = 0;
  pz_outq_entry_t *e = q->head;
  if (e && e->off > 0)
    e = e->next;
  while (e) {
    pz_outq_entry_t *next = e->next;
    entry_free(q, e);
    dropped++;
    e = next;
  }
  return dropped;
}

void pz_outq_privatize(pz_outq_t *q) {
  pz_outq_entry_t *e;
  DL_FOREACH(q->head, e) e->payload = pz_payload_own(e->payload);
}
