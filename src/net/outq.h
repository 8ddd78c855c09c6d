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
 *
 * Memory: entries sit in an array ring (a power of two, grown by
 * doubling), not one allocation each: a broadcast to a thousand clients
 * allocates nothing per client, and the frame header lives in the shared
 * payload (the same for every recipient), so an entry is 16 bytes and a
 * queued frame is one buffer for writev. A queue that never holds more
 * than one entry at a time (a quiet client's occasional message) needs no
 * ring at all; an empty queue keeps its ring for the next tick until the
 * owner lets it go (pz_outq_shrink).
 */
#ifndef PZ_OUTQ_H
#define PZ_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "payload.h"

#define PZ_OUTQ_HDR_MAX PZ_PAYLOAD_HEAD_MAX

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
  pz_payload_t *payload; /* its head holds the frame header */
  uint32_t off;          /* bytes of header + payload already written */
  uint8_t kind;
} pz_outq_entry_t;

/* What an entry costs beyond its bytes, as counted against the bound. */
#define PZ_OUTQ_ENTRY_COST (sizeof(pz_outq_entry_t) + sizeof(pz_payload_t))

/* The latest-wins slots: STATE (both kinds) and PONG. */
enum { PZ_OUTQ_SLOT_STATE, PZ_OUTQ_SLOT_PONG, PZ_OUTQ_SLOTS };

typedef struct pz_outq {
  pz_outq_entry_t *ring; /* cap entries, malloc'd; NULL: `one` holds one */
  pz_outq_entry_t one;   /* a queue of one entry needs no ring */
  uint32_t cap;          /* of ring: 0 or a power of two */
  uint32_t first;        /* position of the head entry (ring[first & cap-1]) */
  uint32_t count;
  uint32_t unsent[PZ_OUTQ_SLOTS]; /* position + 1 of a slot's unsent entry */
  uint32_t limit;                 /* 32-bit fields together: one queue per */
  size_t bytes;                   /* client; bytes as counted against limit */
  uint32_t replaced; /* latest-wins entries dropped for newer ones */
  uint32_t lost;     /* of them, STATEs replaced by a partial one (both
                      * for tests and debugging: they wrap) */
} pz_outq_t;

void pz_outq_init(pz_outq_t *q, uint32_t limit);
/* Frees every entry and the ring. */
void pz_outq_dispose(pz_outq_t *q);
/* Frees the ring when the queue is empty (an idle connection's). */
void pz_outq_shrink(pz_outq_t *q);

/* Queues [hdr][p]; takes a reference to p (the caller keeps its own).
 * The header is kept in p (pz_payload_set_head): every push of one payload
 * must give the same header, as a frame header depending only on the
 * length does.
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
  return q->count == 0;
}
/* The i-th entry from the head (i < count), valid until the next change. */
static inline const pz_outq_entry_t *pz_outq_at(const pz_outq_t *q,
                                                uint32_t i) {
  return q->ring ? &q->ring[(q->first + i) & (q->cap - 1)] : &q->one;
}
/* Fills at most n buffers with the unsent bytes from the head, in order,
 * one per entry; returns how many. The buffers point into the queued
 * payloads: valid until the next change to the queue. */
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
