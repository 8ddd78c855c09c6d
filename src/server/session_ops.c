/* Session life across workers (see session_ops.h). */
#include "session_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "clock.h"
#include "id.h"
#include "log.h"

#define RESUME_MAX_HOPS 4

/* Tells the id's home worker where the session is: `worker` (ours, or
 * PZ_DIR_MOVING) or gone. Locally when we are the home. */
static void dir_send(pz_worker_t *w, uint64_t id, int type, int worker) {
  int home = (int)pz_id_worker(id);
  if (home >= w->srv->n_workers)
    return;
  if (home == w->index) {
    pz_dir_update(w, id, worker, type == PZ_MSG_DIR_DEL);
    return;
  }
  pz_msg_dir_t *m = pz_xmalloc(sizeof(*m));
  m->hdr.type = type;
  m->id = id;
  m->worker = worker;
  pz_worker_post(w->srv->workers[home], &m->hdr);
}

static void send_welcome(pz_worker_t *w, pz_conn_t *c, pz_session_t *s,
                         bool resumed) {
  pz_enc_welcome(pz_wire_begin(&w->shard.wire), s->id,
                 (pz_str_t){s->token, s->token_len}, (uint32_t)w->cfg->tick_hz,
                 pz_wall_ms(), resumed);
  pz_conn_send(c, pz_wire_data(&w->shard.wire), pz_wire_len(&w->shard.wire),
               PZ_PAYLOAD_RELIABLE, NULL);
}

pz_session_t *pz_worker_session_new(pz_worker_t *w, pz_str_t name) {
  uint64_t id =
      pz_id_make(w->srv->node_id, (uint32_t)w->index, ++w->id_counter);
  char token[PZ_SESSION_TOKEN_MAX + 1];
  int tlen = pz_token_make(id, token, sizeof(token));
  if (tlen < 0)
    return NULL;
  char guest[PZ_NAME_MAX + 1];
  if (!name.ptr) {
    int n =
        snprintf(guest, sizeof(guest), "guest-%llu", (unsigned long long)id);
    name = (pz_str_t){guest, (uint32_t)n};
  }
  pz_session_t *s = pz_shard_session_create(
      &w->shard, id, name, (pz_str_t){token, (uint32_t)tlen}, pz_worker_now(w));
  atomic_fetch_add(&w->srv->sessions, 1);
  PZ_ADD(w->metrics.sessions, 1);
  dir_send(w, id, PZ_MSG_DIR_SET, w->index);
  return s;
}

void pz_session_welcome_new(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                            bool after_failed_resume) {
  pz_session_t *s = pz_worker_session_new(w, name);
  if (!s) {
    pz_conn_close(c, PZ_CLOSE_INTERNAL_ERROR, "no randomness for a token");
    return;
  }
  pz_shard_session_attach(&w->shard, s, &c->outlet);
  pz_conn_attach(c, s);
  send_welcome(w, c, s, false);
  pz_debug("session %llu (%.*s) on worker %d%s", (unsigned long long)s->id,
           s->name_len, s->name, w->index,
           after_failed_resume ? " after a failed resume" : "");
}

void pz_worker_session_end(pz_worker_t *w, pz_session_t *s) {
  if (!s->outlet && s->expires_ms)
    DL_DELETE2(w->detached, s, dprev, dnext);
  uint64_t id = s->id;
  pz_shard_session_destroy(&w->shard, s);
  atomic_fetch_sub(&w->srv->sessions, 1);
  PZ_ADD(w->metrics.sessions, -1);
  dir_send(w, id, PZ_MSG_DIR_DEL, w->index);
}

void pz_worker_session_detach(pz_worker_t *w, pz_session_t *s) {
  pz_shard_session_detach(&w->shard, s,
                          pz_worker_now(w) + w->cfg->resume_grace_ms);
  DL_APPEND2(w->detached, s, dprev, dnext);
}

void pz_session_sweep(pz_worker_t *w, uint64_t now_ms) {
  while (w->detached && w->detached->expires_ms <= now_ms)
    pz_worker_session_end(w, w->detached);
}

void pz_session_unhost(pz_worker_t *w, pz_session_t *s) {
  pz_shard_session_remove(&w->shard, s);
  PZ_ADD(w->metrics.sessions, -1);
  /* Posted before the session itself, so the home hears it first. */
  dir_send(w, s->id, PZ_MSG_DIR_SET, PZ_DIR_MOVING);
}

void pz_session_host(pz_worker_t *w, pz_session_t *s) {
  pz_shard_session_add(&w->shard, s);
  PZ_ADD(w->metrics.sessions, 1);
  dir_send(w, s->id, PZ_MSG_DIR_SET, w->index);
}

/* The session is here and the token proves it: c takes it over. */
static void resume_here(pz_worker_t *w, pz_conn_t *c, pz_session_t *s,
                        const pz_msg_adopt_t *a) {
  if (s->outlet) {
    /* Still attached to an older socket the client gave up on. */
    pz_conn_t *old = (pz_conn_t *)s->outlet;
    old->session = NULL;
    pz_shard_session_detach(&w->shard, s, 0);
    pz_conn_close(old, PZ_CLOSE_NORMAL, "session resumed elsewhere");
  } else {
    DL_DELETE2(w->detached, s, dprev, dnext);
  }
  pz_shard_session_attach(&w->shard, s, &c->outlet);
  pz_conn_attach(c, s);
  send_welcome(w, c, s, true);
  pz_shard_send_room(&w->shard, s, a->has_last_chat_seq, a->last_chat_seq);
  pz_debug("session %llu resumed on worker %d", (unsigned long long)s->id,
           w->index);
}

void pz_session_resume(pz_worker_t *w, pz_conn_t *c, pz_msg_adopt_t *a) {
  if (a->token_len) {
    pz_session_t *s = pz_shard_session_find(&w->shard, a->id);
    if (s) {
      if (pz_token_equal(s->token, s->token_len, a->token, a->token_len)) {
        resume_here(w, c, s, a);
        free(a);
        return;
      }
    } else if (a->hops < RESUME_MAX_HOPS &&
               pz_id_node(a->id) == w->srv->node_id) {
      /* Ask the home worker, or go where its directory points. */
      int next = (int)pz_id_worker(a->id);
      if (next == w->index) {
        pz_dir_entry_t *e;
        HASH_FIND(hh, w->dir, &a->id, sizeof(a->id), e);
        /* In transit (a JOIN moving it) it cannot be caught: fail. */
        next = e && e->worker >= 0 ? e->worker : w->index;
      }
      if (next != w->index && next < w->srv->n_workers) {
        a->hops++;
        pz_conn_migrate(c, a, next);
        return;
      }
    }
  }
  pz_conn_error(c, PZ_ERR_SESSION_EXPIRED, "session unknown or expired",
                PZ_C_HELLO);
  pz_session_welcome_new(w, c,
                         a->name_len ? (pz_str_t){a->name, a->name_len}
                                     : (pz_str_t){NULL, 0},
                         true);
  free(a);
}
