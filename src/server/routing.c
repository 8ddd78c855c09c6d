/* Routing whispers, signals and errors to session ids (see routing.h). */
#include "routing.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "alloc.h"
#include "bus.h"
#include "id.h"
#include "idmap.h"
#include "log.h"
#include "replies.h"
#include "sessions.h"
#include "signals.h"

/* A guard against a routing bug, not a limit on moving targets: a message
 * misses only when its target moved meanwhile, and moves are bounded by
 * the JOIN rate. */
#define DELIVER_MAX_HOPS 256

typedef struct pz_dir_entry {
  uint64_t id;
  pz_msg_deliver_t *waiting; /* held while moving, in arrival order */
  int worker;
} pz_dir_entry_t;

/* This module's state, per worker: the directory of its home's sessions,
 * one entry per session (by id: idmap.h). */
struct pz_routing {
  pz_idmap_t dir;
};

/* To a session's home: it lives on `worker` now (or moves), or is gone. */
typedef struct pz_msg_dir {
  pz_msg_t hdr;
  uint64_t id;
  int worker;
  bool gone;
} pz_msg_dir_t;

static void on_deliver(void *receiver, pz_msg_t *msg);
static const pz_msg_kind_t deliver_kind = {on_deliver, NULL};

pz_msg_deliver_t *pz_deliver_new(int kind, uint64_t to, uint64_t from,
                                 pz_str_t name, pz_str_t text) {
  pz_msg_deliver_t *d = pz_xcalloc(1, sizeof(*d) + text.len + 1);
  d->hdr.kind = &deliver_kind;
  d->kind = kind;
  d->to = to;
  d->from = from;
  if (name.ptr) {
    d->name_len = (uint8_t)(name.len > PZ_NAME_MAX ? PZ_NAME_MAX : name.len);
    memcpy(d->name, name.ptr, d->name_len);
  }
  d->text_len = text.len;
  if (text.len && text.ptr) /* ptr NULL: the caller fills it */
    memcpy(d->text, text.ptr, text.len);
  return d;
}

pz_msg_deliver_t *pz_deliver_signal(uint64_t to, uint64_t from, pz_str_t name,
                                    pz_str_t kind, pz_raw_t data,
                                    uint64_t ts_ms) {
  pz_msg_deliver_t *d = pz_deliver_new(PZ_DELIVER_SIGNAL, to, from, name,
                                       (pz_str_t){NULL, kind.len + data.len});
  memcpy(d->text, kind.ptr, kind.len);
  memcpy(d->text + kind.len, data.ptr, data.len);
  d->kind_len = (uint8_t)kind.len;
  d->ts_ms = ts_ms;
  return d;
}

static bool to_bus(pz_worker_t *w, pz_msg_deliver_t *d);

pz_msg_deliver_t *pz_deliver_conflict(uint64_t to, pz_str_t key,
                                      uint64_t version) {
  pz_msg_deliver_t *d =
      pz_deliver_new(PZ_DELIVER_CONFLICT, to, 0, (pz_str_t){NULL, 0}, key);
  d->version = version;
  return d;
}

void pz_routing_kick_answer(pz_worker_t *w, pz_msg_deliver_t *d, int status) {
  if (d->reply_node == w->srv->node_id) {
    pz_admin_reply(w, d->reply_worker, d->reply_req, status, 0, NULL);
    free(d);
    return;
  }
  /* The admin request waits on another node: the answer goes back as a
   * delivery to its worker's channel. */
  d->kind = PZ_DELIVER_KICK_REPLY;
  d->error_code = status;
  d->text_len = d->kind_len = 0; /* the answer is the status */
  if (!to_bus(w, d))
    free(d); /* unlinked: the asker times out */
}

/* The acknowledgement of a signal from session `from` (signals.h). It
 * concerns this node only (a session of another node's id resumed here
 * included), so it is routed as what came from the bus is. */
static void send_ack(pz_worker_t *w, uint64_t from, int code,
                     const char *message) {
  pz_str_t m = message ? (pz_str_t){message, (uint32_t)strlen(message)}
                       : (pz_str_t){NULL, 0};
  pz_msg_deliver_t *ack =
      pz_deliver_new(PZ_DELIVER_SIGNAL_ACK, from, 0, (pz_str_t){NULL, 0}, m);
  ack->error_code = code;
  ack->error_op = PZ_C_SIGNAL;
  ack->from_bus = true;
  pz_routing_deliver(w, ack);
}

/* A SIGNAL is done with (delivered: code 0, or not): its sender hears it
 * through the acknowledgement its next signals wait for, the admin API
 * through its request. Takes d. */
static void signal_done(pz_worker_t *w, pz_msg_deliver_t *d, int code,
                        const char *message) {
  if (d->from == 0) {
    pz_routing_kick_answer(w, d,
                           code == 0                   ? 200
                           : code == PZ_ERR_OVERLOADED ? 503
                                                       : 404);
    return;
  }
  uint64_t from = d->from;
  if (d->from_bus) {
    /* From a session of another node: its node acknowledged the signal
     * when its bus took it; an error goes back as a whisper's does. */
    free(d);
    if (code) {
      pz_msg_deliver_t *e =
          pz_deliver_new(PZ_DELIVER_ERROR, from, 0, (pz_str_t){NULL, 0},
                         (pz_str_t){message, (uint32_t)strlen(message)});
      e->error_code = code;
      e->error_op = PZ_C_SIGNAL;
      pz_routing_deliver(w, e);
    }
    return;
  }
  free(d);
  send_ack(w, from, code, message);
}

static void answer_error(pz_worker_t *w, pz_msg_deliver_t *d, int code,
                         const char *message) {
  if (d->kind == PZ_DELIVER_KICK) {
    pz_routing_kick_answer(w, d, code == PZ_ERR_OVERLOADED ? 503 : 404);
    return;
  }
  if (d->kind == PZ_DELIVER_SIGNAL) {
    signal_done(w, d, code, message);
    return;
  }
  if (d->kind == PZ_DELIVER_WHISPER) {
    pz_msg_deliver_t *e =
        pz_deliver_new(PZ_DELIVER_ERROR, d->from, 0, (pz_str_t){NULL, 0},
                       (pz_str_t){message, (uint32_t)strlen(message)});
    e->error_code = code;
    e->error_op = PZ_C_WHISPER;
    pz_routing_deliver(w, e);
  }
  free(d);
}

/* The target is unknown: the sender of a whisper hears ERROR 7. */
static void not_found(pz_worker_t *w, pz_msg_deliver_t *d) {
  answer_error(w, d, PZ_ERR_NOT_FOUND, "no session with that id");
}

static void kick_here(pz_worker_t *w, pz_session_t *s, pz_msg_deliver_t *d) {
  pz_info("admin: session %llu kicked", (unsigned long long)s->id);
  if (s->outlet) {
    pz_conn_close(pz_conn_from_outlet(s->outlet), PZ_CLOSE_KICKED,
                  "kicked by the server");
  } else {
    pz_sessions_end(w, s); /* in its grace period: no resume, anywhere */
  }
  pz_routing_kick_answer(w, d, 200);
}

/* Hands d to the bus for another node; true when the bus took it (d is
 * freed: the bus copied what it sends), false when it could not (d is
 * still the caller's). A signal's sender is acknowledged then: past this
 * node the order is the bus's, which carries one worker's messages in the
 * order sent. */
static bool to_bus(pz_worker_t *w, pz_msg_deliver_t *d) {
  if (!pz_routing_bus_carries(d))
    return false;
  bool signal = d->kind == PZ_DELIVER_SIGNAL;
  uint32_t head = signal ? d->kind_len : d->text_len;
  pz_delivery_t v = {
      .kind = d->kind,
      .to = d->to,
      .from = d->from,
      .ts_ms = d->ts_ms,
      .name = {d->name, d->name_len},
      .text = {d->text, head},
      .data = {signal ? d->text + head : NULL, signal ? d->text_len - head : 0},
      .code = d->error_code,
      .op = d->error_op,
      .reply_node = d->reply_node,
      .reply_worker = (uint32_t)d->reply_worker,
      .reply_req = d->reply_req,
      .gen = d->gen,
      .version = d->version,
      .back_here = d->back_here,
  };
  uint64_t from = signal ? d->from : 0;
  if (pz_bus_deliver(w->srv->bus, w->index, &v) != 0)
    return false;
  free(d);
  if (from)
    send_ack(w, from, 0, NULL);
  return true;
}

bool pz_routing_from_bus(void *worker, const pz_delivery_t *v) {
  pz_worker_t *w = worker;
  bool known = pz_id_node(v->to) == w->srv->node_id ||
               pz_shard_session_find(&w->shard, v->to) ||
               pz_routing_dir_lookup(w, v->to) != -2;
  pz_msg_deliver_t *d;
  if (v->kind == PZ_DELIVER_SIGNAL)
    d = pz_deliver_signal(v->to, v->from, v->name, v->text, v->data, v->ts_ms);
  else
    d = pz_deliver_new(v->kind, v->to, v->from, v->name, v->text);
  d->ts_ms = v->ts_ms;
  d->error_code = v->code;
  d->error_op = v->op;
  d->from_bus = true; /* never sent back out: no loops between nodes */
  d->reply_node = v->reply_node;
  d->reply_worker = (int)v->reply_worker;
  d->reply_req = v->reply_req;
  d->gen = v->gen;
  d->version = v->version;
  pz_routing_deliver(w, d);
  return known;
}

/* Clustered, and d did not come from the bus: the cluster's directory may
 * know where the session went. True when the bus took d. */
static bool ask_cluster(pz_worker_t *w, pz_msg_deliver_t *d) {
  return !d->from_bus && to_bus(w, d);
}

bool pz_routing_bus_carries(const pz_msg_deliver_t *d) {
  /* Acknowledgements and conflicts concern this node's own sessions
   * only. */
  return d->kind != PZ_DELIVER_SIGNAL_ACK && d->kind != PZ_DELIVER_CONFLICT;
}

static void deliver_here(pz_worker_t *w, pz_session_t *s, pz_msg_deliver_t *d) {
  if (d->kind == PZ_DELIVER_TAKEN) {
    /* A resume on another node took a newer generation of it: this copy
     * goes without a word (the new node announces it quietly). */
    if (s->gen < d->gen)
      pz_sessions_drop(w, s);
    free(d);
    return;
  }
  if (d->kind == PZ_DELIVER_SIGNAL_ACK) { /* detached or not */
    pz_signals_acked(w, s, d->error_code, (pz_str_t){d->text, d->text_len});
    free(d);
    return;
  }
  if (d->kind == PZ_DELIVER_SIGNAL) {
    if (!s->outlet) { /* not kept for a resume, like a whisper */
      signal_done(w, d, PZ_ERR_NOT_FOUND, "that session is disconnected");
      return;
    }
    pz_reply_signal(
        w, s->outlet, d->from, (pz_str_t){d->name, d->name_len},
        (pz_str_t){d->text, d->kind_len},
        (pz_raw_t){d->text + d->kind_len, d->text_len - d->kind_len}, d->ts_ms);
    signal_done(w, d, 0, NULL);
    return;
  }
  if (d->kind == PZ_DELIVER_CONFLICT) {
    pz_reply_conflict(w, s->outlet, (pz_str_t){d->text, d->text_len},
                      d->version);
    free(d);
    return;
  }
  if (d->kind == PZ_DELIVER_KICK) {
    /* A detached copy may be what a resume on another node left behind
     * (its room has not heard yet): the directory decides, and sends the
     * kick back here if it lists the session nowhere else. */
    d->back_here = !s->outlet;
    if (!s->outlet && ask_cluster(w, d))
      return;
    kick_here(w, s, d);
    return;
  }
  if (!s->outlet) {
    /* In its grace period: a whisper is not kept for a later resume (the
     * sender is told, as for an unknown id); an error for it is moot.
     * Clustered, this may be the copy a resume on another node left
     * behind (a session outside any room): the directory knows. */
    if (d->kind == PZ_DELIVER_WHISPER) {
      if (ask_cluster(w, d))
        return;
      answer_error(w, d, PZ_ERR_NOT_FOUND, "that session is disconnected");
      return;
    }
  } else if (d->kind == PZ_DELIVER_WHISPER) {
    pz_reply_whisper(w, s->outlet, d->from, (pz_str_t){d->name, d->name_len},
                     (pz_str_t){d->text, d->text_len}, d->ts_ms);
  } else {
    pz_reply_error(w, s->outlet, d->error_code, d->text, d->error_op);
  }
  free(d);
}

static void forward(pz_worker_t *w, int to, pz_msg_deliver_t *d) {
  d->hops++;
  if (d->kind == PZ_DELIVER_SIGNAL_ACK) {
    /* Never dropped: its sender's next signals wait for it (one per
     * sender at most, so the inbox's bound still holds in practice). */
    pz_worker_post(w->srv->workers[to], &d->hdr);
    return;
  }
  if (pz_worker_try_post(w->srv->workers[to], &d->hdr) != 0) {
    PZ_ADD(w->metrics.dropped_frames, 1);
    pz_warn("worker %d inbox full: message for a session dropped", to);
    if (d->kind == PZ_DELIVER_KICK) {
      pz_routing_kick_answer(w, d, 503);
      return;
    }
    if (d->kind == PZ_DELIVER_SIGNAL) {
      signal_done(w, d, PZ_ERR_OVERLOADED, "server overloaded: signal dropped");
      return;
    }
    if (d->kind == PZ_DELIVER_WHISPER) {
      /* Tell the sender when it is here; otherwise the drop is silent. */
      pz_session_t *from = pz_shard_session_find(&w->shard, d->from);
      if (from && from->outlet)
        pz_reply_error(w, from->outlet, PZ_ERR_OVERLOADED,
                       "server overloaded: whisper dropped", PZ_C_WHISPER);
    }
    free(d);
  }
}

int pz_routing_home(const pz_server_t *srv, uint64_t id) {
  uint32_t k = pz_id_worker(id);
  if (pz_id_node(id) != srv->node_id)
    return (int)(k % (uint32_t)srv->n_workers);
  return k < (uint32_t)srv->n_workers ? (int)k : -1;
}

void pz_routing_deliver(pz_worker_t *w, pz_msg_deliver_t *d) {
  pz_session_t *s = pz_shard_session_find(&w->shard, d->to);
  if (s) {
    deliver_here(w, s, d);
    return;
  }
  if (d->hops >= DELIVER_MAX_HOPS) {
    pz_warn("message for session %llu dropped after %d hops",
            (unsigned long long)d->to, d->hops);
    not_found(w, d);
    return;
  }
  if (pz_id_node(d->to) != w->srv->node_id && !d->from_bus &&
      pz_routing_bus_carries(d)) {
    if (!to_bus(w, d))
      not_found(w, d);
    return;
  }
  /* This node's id, or another node's that the bus brought here (it was
   * resumed here): the home's directory knows where it is. */
  int home = pz_routing_home(w->srv, d->to);
  if (home < 0) {
    not_found(w, d);
    return;
  }
  if (home != w->index) {
    forward(w, home, d);
    return;
  }
  pz_dir_entry_t *e = pz_idmap_find(&w->routing->dir, d->to);
  if (!e) {
    if (!ask_cluster(w, d)) /* resumed on another node? */
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
  forward(w, e->worker, d); /* never here: dir_update keeps no such entry */
}

/* Home worker: the directory learns where session id lives, or that it is
 * gone; messages held for it are routed again. A session that lives on its
 * home worker has no entry: that worker's shard holds it, and an idle
 * server would otherwise keep one entry per client for nothing. */
static void dir_update(pz_worker_t *w, uint64_t id, int worker, bool gone) {
  pz_dir_entry_t *e = pz_idmap_find(&w->routing->dir, id);
  bool drop = gone || worker == w->index;
  if (!e && drop)
    return;
  if (!e) {
    e = pz_xcalloc(1, sizeof(*e));
    e->id = id;
    pz_idmap_put(&w->routing->dir, e);
  }
  pz_msg_deliver_t *held = NULL;
  if (worker != PZ_DIR_MOVING || gone) {
    held = e->waiting;
    e->waiting = NULL;
  }
  if (drop) {
    pz_idmap_del(&w->routing->dir, id);
    free(e);
  } else {
    e->worker = worker;
  }
  while (held) { /* routed again with what the directory knows now */
    pz_msg_deliver_t *d = held;
    held = (pz_msg_deliver_t *)d->hdr.next;
    pz_routing_deliver(w, d);
  }
}

static void on_dir(void *receiver, pz_msg_t *msg);
static const pz_msg_kind_t dir_kind = {on_dir, NULL};

/* Tells the id's home where the session is: locally when we are it. */
static void dir_send(pz_worker_t *w, uint64_t id, bool gone, int worker) {
  int home = pz_routing_home(w->srv, id);
  if (home < 0)
    return;
  if (home == w->index) {
    dir_update(w, id, worker, gone);
    return;
  }
  pz_msg_dir_t *m = pz_xmalloc(sizeof(*m));
  m->hdr.kind = &dir_kind;
  m->id = id;
  m->worker = worker;
  m->gone = gone;
  pz_worker_post(w->srv->workers[home], &m->hdr);
}

void pz_routing_dir_set(pz_worker_t *w, uint64_t id, int worker) {
  dir_send(w, id, false, worker);
}

void pz_routing_dir_gone(pz_worker_t *w, uint64_t id) {
  dir_send(w, id, true, w->index);
}

int pz_routing_dir_lookup(pz_worker_t *w, uint64_t id) {
  pz_dir_entry_t *e = pz_idmap_find(&w->routing->dir, id);
  if (e)
    return e->worker;
  /* No entry: here if the shard has it (see dir_update), else unknown. */
  return pz_routing_home(w->srv, id) == w->index &&
                 pz_shard_session_find(&w->shard, id)
             ? w->index
             : -2;
}

static void on_dir(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_dir_t *m = (pz_msg_dir_t *)msg;
  /* "Gone" counts only from the worker the entry points at: a late one
   * from a worker the session already left must not remove it. */
  if (m->gone) {
    if (pz_routing_dir_lookup(w, m->id) == m->worker)
      dir_update(w, m->id, m->worker, true);
  } else {
    dir_update(w, m->id, m->worker, false);
  }
  free(m);
}

static void on_deliver(void *receiver, pz_msg_t *msg) {
  pz_routing_deliver(receiver, (pz_msg_deliver_t *)msg);
}

pz_routing_t *pz_routing_create(void) {
  pz_routing_t *rt = pz_xcalloc(1, sizeof(pz_routing_t));
  pz_idmap_init(&rt->dir, offsetof(pz_dir_entry_t, id));
  return rt;
}

void pz_routing_destroy(pz_routing_t *rt) {
  pz_dir_entry_t *e;
  uint32_t pos = 0;
  while ((e = pz_idmap_next(&rt->dir, &pos))) {
    while (e->waiting) {
      pz_msg_deliver_t *d = e->waiting;
      e->waiting = (pz_msg_deliver_t *)d->hdr.next;
      free(d);
    }
    free(e);
  }
  pz_idmap_dispose(&rt->dir);
  free(rt);
}
