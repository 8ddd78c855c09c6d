/*
 * Routing a whisper (or an error answering one) to a session id, wherever
 * it lives: the worker holding the session delivers; otherwise the id's
 * home worker forwards along its directory. A message that misses while
 * its target moves is bounced back to the home a few times before the
 * sender hears ERROR 7.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bus.h"
#include "conn.h"
#include "id.h"
#include "log.h"

#define DELIVER_MAX_HOPS 6

pz_msg_deliver_t *pz_deliver_new(int kind, uint64_t to, uint64_t from,
                                 pz_str_t name, pz_str_t text) {
  pz_msg_deliver_t *d = pz_xcalloc(1, sizeof(*d) + text.len + 1);
  d->hdr.type = PZ_MSG_DELIVER;
  d->kind = kind;
  d->to = to;
  d->from = from;
  if (name.ptr) {
    d->name_len = (uint8_t)(name.len > PZ_NAME_MAX ? PZ_NAME_MAX : name.len);
    memcpy(d->name, name.ptr, d->name_len);
  }
  d->text_len = text.len;
  if (text.len)
    memcpy(d->text, text.ptr, text.len);
  return d;
}

/* The target is unknown: the sender of a whisper hears ERROR 7. */
static void not_found(pz_worker_t *w, pz_msg_deliver_t *d) {
  if (d->kind == PZ_DELIVER_WHISPER) {
    static const char msg[] = "no session with that id";
    pz_msg_deliver_t *e =
        pz_deliver_new(PZ_DELIVER_ERROR, d->from, 0, (pz_str_t){NULL, 0},
                       (pz_str_t){msg, sizeof(msg) - 1});
    e->error_code = PZ_ERR_NOT_FOUND;
    e->error_op = PZ_C_WHISPER;
    pz_worker_deliver(w, e);
  }
  free(d);
}

static void deliver_here(pz_worker_t *w, pz_session_t *s, pz_msg_deliver_t *d) {
  pz_conn_t *c = (pz_conn_t *)s->outlet;
  if (c) {
    if (d->kind == PZ_DELIVER_WHISPER) {
      pz_wire_t *wire = &w->shard.wire;
      pz_enc_whisper_msg(pz_wire_begin(wire), d->from,
                         (pz_str_t){d->name, d->name_len},
                         (pz_str_t){d->text, d->text_len}, d->ts_ms);
      pz_conn_send(c, pz_wire_data(wire), pz_wire_len(wire),
                   PZ_PAYLOAD_RELIABLE, NULL);
    } else {
      pz_conn_error(c, d->error_code, d->text, d->error_op);
    }
  }
  /* A detached session (grace period) misses whispers: they are not kept. */
  free(d);
}

static void forward(pz_worker_t *w, int to, pz_msg_deliver_t *d) {
  d->hops++;
  if (pz_worker_try_post(w->srv->workers[to], &d->hdr) != 0) {
    PZ_ADD(w->metrics.dropped_frames, 1);
    pz_warn("worker %d inbox full: whisper dropped", to);
    if (d->kind == PZ_DELIVER_WHISPER) {
      /* Tell the sender when it is here; otherwise the drop is silent. */
      pz_session_t *from = pz_shard_session_find(&w->shard, d->from);
      if (from && from->outlet)
        pz_conn_error((pz_conn_t *)from->outlet, PZ_ERR_OVERLOADED,
                      "server overloaded: whisper dropped", PZ_C_WHISPER);
    }
    free(d);
  }
}

void pz_worker_deliver(pz_worker_t *w, pz_msg_deliver_t *d) {
  pz_session_t *s = pz_shard_session_find(&w->shard, d->to);
  if (s) {
    deliver_here(w, s, d);
    return;
  }
  if (d->hops >= DELIVER_MAX_HOPS) {
    not_found(w, d);
    return;
  }
  if (pz_id_node(d->to) != w->srv->node_id) {
    if (w->srv->bus->vt->deliver_remote(w->srv->bus, w, d) != 0)
      not_found(w, d);
    return;
  }
  int home = (int)pz_id_worker(d->to);
  if (home >= w->srv->n_workers) {
    not_found(w, d);
    return;
  }
  if (home != w->index) {
    forward(w, home, d);
    return;
  }
  pz_dir_entry_t *e;
  HASH_FIND(hh, w->dir, &d->to, sizeof(d->to), e);
  if (!e) {
    not_found(w, d);
    return;
  }
  if (e->worker == PZ_DIR_MOVING) { /* held until it lands */
    pz_msg_deliver_t **tail = &e->waiting;
    while (*tail)
      tail = (pz_msg_deliver_t **)&(*tail)->hdr.next;
    d->hdr.next = NULL;
    *tail = d;
    return;
  }
  if (e->worker == w->index) { /* ours, yet not here: gone meanwhile */
    not_found(w, d);
    return;
  }
  forward(w, e->worker, d);
}

void pz_dir_update(pz_worker_t *w, uint64_t id, int worker, bool gone) {
  pz_dir_entry_t *e;
  HASH_FIND(hh, w->dir, &id, sizeof(id), e);
  if (!e && gone)
    return;
  if (!e) {
    e = pz_xcalloc(1, sizeof(*e));
    e->id = id;
    HASH_ADD(hh, w->dir, id, sizeof(e->id), e);
  }
  pz_msg_deliver_t *held = NULL;
  if (worker != PZ_DIR_MOVING || gone) {
    held = e->waiting;
    e->waiting = NULL;
  }
  if (gone) {
    HASH_DEL(w->dir, e);
    free(e);
  } else {
    e->worker = worker;
  }
  while (held) { /* routed again with what the directory knows now */
    pz_msg_deliver_t *d = held;
    held = (pz_msg_deliver_t *)d->hdr.next;
    pz_worker_deliver(w, d);
  }
}
