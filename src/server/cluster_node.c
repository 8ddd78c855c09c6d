/*
 * Between nodes, by session id (see cluster.h): a whisper or an error for
 * a session of another node goes to that node's channel for the id's home
 * worker, plaza:node:<node>:w<k>, where the home's directory routes it as
 * any local whisper. PUBLISH answers how many listened: none means the
 * node is gone, and the sender hears ERROR 7 as for an unknown id.
 * Also /rooms for the whole cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"
#include "error.h"
#include "id.h"
#include "log.h"
#include "routing.h"
#include "scripts.h"
#include "worker.h"

typedef struct sent {
  pz_cwork_t *cw;
  uint64_t from;
  int kind;
} sent_t;

static void not_reached(pz_cwork_t *cw, uint64_t from) {
  static const char msg[] = "no session with that id";
  pz_msg_deliver_t *e =
      pz_deliver_new(PZ_DELIVER_ERROR, from, 0, (pz_str_t){NULL, 0},
                     (pz_str_t){msg, sizeof(msg) - 1});
  e->error_code = PZ_ERR_NOT_FOUND;
  e->error_op = PZ_C_WHISPER;
  pz_routing_deliver(cw->w, e);
}

static void on_published(redisAsyncContext *ac, void *reply, void *pd) {
  sent_t *s = pd;
  redisReply *r = reply;
  bool heard = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
  if (!heard && s->kind == PZ_DELIVER_WHISPER && !s->cw->closing)
    not_reached(s->cw, s->from);
  free(s);
}

int pz_cluster_deliver_remote(pz_bus_t *bus, pz_worker_t *w,
                              pz_msg_deliver_t *d) {
  pz_cwork_t *cw = w->cw;
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  pz_busmsg_deliver(pz_cluster_begin(cw), w->srv->node_id, d->kind, d->to,
                    d->from, (pz_str_t){d->name, d->name_len},
                    (pz_str_t){d->text, d->text_len}, d->ts_ms, d->error_code,
                    d->error_op);
  char ch[48];
  int n = snprintf(ch, sizeof(ch), "plaza:node:%u:w%u", pz_id_node(d->to),
                   pz_id_worker(d->to));
  sent_t *s = pz_xmalloc(sizeof(*s));
  *s = (sent_t){cw, d->from, d->kind};
  int r = pz_rlink_publish(cw->link, ch, (size_t)n, cw->sb.data, cw->sb.size,
                           on_published, s);
  if (r != 0) {
    free(s);
    return r;
  }
  free(d);
  return 0;
}

void pz_cluster_node_message(pz_cwork_t *cw, const pz_busmsg_t *m) {
  pz_worker_t *w = cw->w;
  if (m->type != PZ_BUS_DELIVER) {
    if (m->type != PZ_BUS_PROBE) /* another link's probe: not ours */
      pz_cluster_bad(cw, "type not for a node channel");
    return;
  }
  uint64_t to = m->u.deliver.to;
  if (pz_id_node(to) != w->srv->node_id &&
      !pz_shard_session_find(&w->shard, to)) {
    /* Not ours to route: sending it back out could loop. */
    pz_cluster_bad(cw, "delivery for another node");
    return;
  }
  pz_msg_deliver_t *d = pz_deliver_new(m->u.deliver.kind, to, m->u.deliver.from,
                                       m->u.deliver.name, m->u.deliver.text);
  d->ts_ms = m->u.deliver.ts_ms;
  d->error_code = m->u.deliver.code;
  d->error_op = m->u.deliver.op;
  pz_routing_deliver(w, d);
}

/* ---- /rooms ------------------------------------------------------------- */

typedef struct rooms_req {
  pz_bus_rooms_cb cb;
  void *arg;
  int workers;
} rooms_req_t;

static void on_rooms(redisAsyncContext *ac, void *reply, void *pd) {
  rooms_req_t *q = pd;
  redisReply *r = reply;
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    q->cb(q->arg, NULL, 0);
    free(q);
    return;
  }
  size_t cap = 64 + r->elements * 100, len = 0;
  char *json = pz_xmalloc(cap);
  json[0] = 0;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    redisReply *name = r->element[i], *count = r->element[i + 1];
    if (name->type != REDIS_REPLY_STRING ||
        count->type != REDIS_REPLY_INTEGER ||
        !pz_room_name_valid(name->str, name->len))
      continue; /* not something we wrote: never echoed into JSON */
    len += (size_t)snprintf(json + len, cap - len,
                            "%s{\"room\":\"%.*s\",\"members\":%lld,"
                            "\"shard\":%d}",
                            len ? "," : "", (int)name->len, name->str,
                            count->integer,
                            pz_room_shard(name->str, name->len, q->workers));
  }
  q->cb(q->arg, json, len);
  free(q);
}

int pz_cluster_rooms(pz_bus_t *bus, pz_worker_t *w, pz_bus_rooms_cb cb,
                     void *arg) {
  pz_cwork_t *cw = w->cw;
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  rooms_req_t *q = pz_xmalloc(sizeof(*q));
  *q = (rooms_req_t){cb, arg, w->srv->n_workers};
  int r = pz_rlink_command(cw->link, on_rooms, q, "EVAL %s 0", pz_script_rooms);
  if (r != 0)
    free(q);
  return r;
}
