/* Signals from sessions, in order (see signals.h). */
#include "signals.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "replies.h"
#include "routing.h"

/* Signals one sender may have waiting behind the one in flight. The rate
 * limit (a burst of 40 by default) keeps it far from this in practice. */
#define SIGNAL_QUEUE_MAX 64

/* A signal waiting in its sender's queue (session.h's pz_sigq). */
typedef struct sig {
  pz_sigq_t q; /* first: the session's list frees it as a pz_sigq_t */
  bool to_room;
  uint64_t to;
  uint64_t ts_ms;
  uint32_t room_gen; /* to_room: the room it was sent in */
  uint8_t room_len;
  char room[PZ_ROOM_NAME_MAX];
  uint8_t kind_len;
  uint32_t data_len;
  char bytes[]; /* the kind, then the data's MessagePack bytes */
} pz_sig_t;

static void send_now(pz_worker_t *w, pz_session_t *s, bool to_room, uint64_t to,
                     pz_str_t kind, pz_raw_t data, uint64_t ts_ms) {
  if (to_room) {
    pz_shard_signal(&w->shard, s, kind, data, ts_ms);
    return;
  }
  pz_session_t *t = pz_shard_session_find(&w->shard, to);
  if (t) { /* here: at once, as a whisper is */
    if (t->outlet)
      pz_reply_signal(w, t->outlet, s->id, pz_session_name(s), kind, data,
                      ts_ms);
    else
      pz_reply_error(w, s->outlet, PZ_ERR_NOT_FOUND,
                     "that session is disconnected", PZ_C_SIGNAL);
    return;
  }
  /* Set first: the acknowledgement may come back before this returns. */
  s->signal_in_flight = true;
  pz_routing_deliver(
      w, pz_deliver_signal(to, s->id, pz_session_name(s), kind, data, ts_ms));
}

/* The room a waiting signal was sent in is still the sender's. */
static bool same_room(const pz_session_t *s, const pz_sig_t *g) {
  const pz_room_t *r = s->room;
  return r && r->gen == g->room_gen && r->name_len == g->room_len &&
         memcmp(r->name, g->room, g->room_len) == 0;
}

/* Sends what waits until one is in flight again or none is left. A send
 * may be acknowledged at once and drain the rest itself: each signal is
 * taken off the queue before it is sent, so the order holds either way. */
static void drain(pz_worker_t *w, pz_session_t *s) {
  while (!s->signal_in_flight && s->sigq) {
    pz_sig_t *g = (pz_sig_t *)s->sigq;
    s->sigq = g->q.next;
    pz_str_t kind = {g->bytes, g->kind_len};
    pz_raw_t data = {g->bytes + g->kind_len, g->data_len};
    if (g->to_room && !same_room(s, g))
      pz_reply_error(w, s->outlet, PZ_ERR_NOT_IN_ROOM,
                     "left the room before the signal could go", PZ_C_SIGNAL);
    else
      send_now(w, s, g->to_room, g->to, kind, data, g->ts_ms);
    free(g);
  }
}

void pz_signals_send(pz_worker_t *w, pz_session_t *s, const pz_cmsg_t *m,
                     uint64_t ts_ms) {
  bool to_room = m->u.signal.to_room;
  pz_str_t kind = m->u.signal.kind;
  pz_raw_t data = m->u.signal.data;
  if (!s->signal_in_flight && !s->sigq) {
    send_now(w, s, to_room, m->u.signal.to, kind, data, ts_ms);
    return;
  }
  /* The tail, and how many wait (a short list: a walk costs nothing). */
  pz_sigq_t **tail = &s->sigq;
  uint32_t waiting = 0;
  while (*tail) {
    tail = &(*tail)->next;
    waiting++;
  }
  if (waiting >= SIGNAL_QUEUE_MAX) {
    PZ_ADD(w->metrics.dropped_frames, 1);
    pz_reply_error(w, s->outlet, PZ_ERR_OVERLOADED,
                   "too many signals waiting: signal dropped", PZ_C_SIGNAL);
    return;
  }
  pz_sig_t *g = pz_xcalloc(1, sizeof(*g) + kind.len + data.len);
  g->to_room = to_room;
  g->to = m->u.signal.to;
  g->ts_ms = ts_ms;
  if (to_room) {
    g->room_gen = s->room->gen;
    g->room_len = s->room->name_len;
    memcpy(g->room, s->room->name, s->room->name_len);
  }
  g->kind_len = (uint8_t)kind.len;
  g->data_len = data.len;
  memcpy(g->bytes, kind.ptr, kind.len);
  memcpy(g->bytes + kind.len, data.ptr, data.len);
  *tail = &g->q;
}

void pz_signals_acked(pz_worker_t *w, pz_session_t *s, int error_code,
                      pz_str_t message) {
  s->signal_in_flight = false;
  if (error_code) {
    char text[128];
    size_t n = message.len < sizeof(text) - 1 ? message.len : sizeof(text) - 1;
    memcpy(text, message.ptr ? message.ptr : "", n);
    text[n] = 0;
    pz_reply_error(w, s->outlet, error_code, text, PZ_C_SIGNAL);
  }
  drain(w, s);
}
