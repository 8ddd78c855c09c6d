/*
 * A connection's outbound queue: what was produced for one client and not
 * yet written, as [frame header][payload reference] entries in send order.
 *
 * Policy, per entry kind:
 * - RELIABLE entries (chat, presence, answers) are never dropped nor
 *   reordered;
 * - a latest-wins kind (STATE: positions; PONG: RFC 6455 lets a pong
 *   answer only the latest ping) keeps at most one unsent entry: a newer
 *   one removes the older and joins the tail, so it still follows
 *   everything queued before it.
 *
 * A STATE holds only the members that moved in its tick, so a STATE that
 * replaces an unsent one loses the positions only the older one held: the
 * push says so (PZ_OUTQ_LOST), and the sender owes that client a full
 * STATE (every member), which replaces whatever STATE is unsent without
 * losing anything. The queue itself never reads payloads.
 *
 * The bound counts what the queue really holds: unsent bytes plus each
 * entry's bookkeeping. Passing it is reported, not enforced here: the
 * connection closes with 4004.
 *
 * Payloads may be shared with other queues of the same worker; before a
 * queue crosses threads pz_outq_privatize() gives it its own copies.
 */
#ifndef PZ_OUTQ_H
#define PZ_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "payload.h"

#define PZ_OUTQ_HDR_MAX 14

enum pz_out_kind {
  PZ_OUT_RELIABLE = PZ_PAYLOAD_RELIABLE,
  PZ_OUT_STATE = PZ_PAYLOAD_STATE,           /* the members that moved */
  PZ_OUT_STATE_FULL = PZ_PAYLOAD_STATE_FULL, /* every member; STATE's slot */
  PZ_OUT_PONG,
  PZ_OUT_KINDS
};

/* What pz_outq_push reports besides 0 and PZ_EFULL. */
#define PZ_OUTQ_LOST 1

typedef struct pz_outq_entry {
  struct pz_outq_entry *prev, *next;
  pz_payload_t *payload;
  uint32_t off; /* bytes of header + payload already written */
  uint8_t kind;
  uint8_t hdr_len;
  uint8_t hdr[PZ_OUTQ_HDR_MAX];
} pz_outq_entry_t;

/* What an entry costs beyond its bytes, as counted against the bound. */
#define PZ_OUTQ_ENTRY_COST (sizeof(pz_outq_entry_t) + sizeof(pz_payload_t))

typedef struct pz_outq {
  pz_outq_entry_t *head;                 /* utlist DL: head->prev is the tail */
  pz_outq_entry_t *unsent[PZ_OUT_KINDS]; /* latest-wins slots only */
  size_t bytes;                          /* as counted against limit */
  size_t limit;
  uint32_t count;
  uint64_t replaced; /* latest-wins entries dropped for newer ones */
  uint64_t lost;     /* of them, STATEs replaced by a partial one */
} pz_outq_t;

void pz_outq_init(pz_outq_t *q, size_t limit);
/* Frees every entry. */
void pz_outq_dispose(pz_outq_t *q);

/* Queues [hdr][p]; takes a reference to p (the caller keeps its own).
 * Returns 0; PZ_OUTQ_LOST when p is a PZ_OUT_STATE that replaced an unsent
 * STATE (of either kind), whose positions p may not all carry; or
 * PZ_EFULL when the queue now holds more than its limit (the entry is
 * queued all the same; the connection closes, which is a loss of its
 * own). hlen <= PZ_OUTQ_HDR_MAX. */
int pz_outq_push(pz_outq_t *q, const uint8_t *hdr, size_t hlen, pz_payload_t *p,
                 int kind);
/* The same for borrowed bytes: copies them. */
int pz_outq_push_copy(pz_outq_t *q, const uint8_t *hdr, size_t hlen,
                      const void *data, size_t len, int kind);

static inline bool pz_outq_empty(const pz_outq_t *q) {
  return q->head == NULL;
}
/* Fills at most n buffers with the unsent bytes from the head, in order;
 * returns how many. The buffers point into the queue: valid until the
 * next change to it. */
unsigned pz_outq_bufs(const pz_outq_t *q, uv_buf_t *bufs, unsigned n);
/* Removes n written bytes from the head. */
void pz_outq_consume(pz_outq_t *q, size_t n);
/* Drops every entry but a partly written head (its frame must be ended
 * before anything else can follow). Returns how many were dropped. */
uint32_t pz_outq_drop_unsent(pz_outq_t *q);
/* Makes every payload this queue holds its own (before it moves to
 * another thread). */
void pz_outq_privatize(pz_outq_t *q);

#endif
