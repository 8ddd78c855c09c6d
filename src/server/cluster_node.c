/*
 * Between nodes, by session id (see cluster.h). A whisper, an error or an
 * admin kick for a session this node does not hold goes through the
 * cluster's directory, plaza:where (session id -> "<node>:w<k>", the node
 * and home worker it lives on when that is not its id's own node): one
 * EVAL reads the entry and PUBLISHes to that worker's channel, or, when
 * there is none, to the channel of the id's own node and home worker,
 * plaza:node:<node>:w<k>. The home's directory then routes it as any
 * local delivery. PUBLISH answers how many listened: none means the node
 * is gone (a stale entry is dropped on the way), and the sender hears
 * ERROR 7 as for an unknown id, an admin kick 404.
 *
 * The entry is written by the script that takes a session's record at a
 * resume on another node, and removed (if still ours) when the session
 * ends there, or by the reaper with its dead node: nothing per message.
 * Also /rooms for the whole cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
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
  int kind;
  uint64_t from;
  uint32_t reply_node;
  int reply_worker;
  uint64_t reply_req;
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
  if (!heard && !s->cw->closing) {
    if (s->kind == PZ_DELIVER_WHISPER)
      not_reached(s->cw, s->from);
    else if (s->kind == PZ_DELIVER_KICK &&
             s->reply_node == s->cw->cl->srv->node_id)
      pz_admin_reply(s->cw->w, s->reply_worker, s->reply_req, r ? 404 : 503, 0,
                     NULL);
  }
  free(s);
}

int pz_cluster_where(pz_cwork_t *cw, uint64_t id, char *out, size_t size) {
  pz_server_t *srv = cw->cl->srv;
  return snprintf(out, size, "%u:w%d", srv->node_id, pz_routing_home(srv, id));
}

int pz_cluster_deliver_remote(pz_bus_t *bus, pz_worker_t *w,
                              pz_msg_deliver_t *d) {
  pz_cwork_t *cw = w->cw;
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  pz_busmsg_deliver(pz_cluster_begin(cw), w->srv->node_id, d->kind, d->to,
                    d->from, (pz_str_t){d->name, d->name_len},
                    (pz_str_t){d->text, d->text_len}, d->ts_ms, d->error_code,
                    d->error_op, d->reply_node, (uint32_t)d->reply_worker,
                    d->reply_req);
  char ids[24], dflt[48], self[32];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)d->to);
  int dl = 0, sl = pz_cluster_where(cw, d->to, self, sizeof(self));
  if (d->kind == PZ_DELIVER_KICK_REPLY) /* to the asking worker itself */
    dl = snprintf(dflt, sizeof(dflt), "plaza:node:%u:w%d", d->reply_node,
                  d->reply_worker);
  else if (d->back_here)
    dl = snprintf(dflt, sizeof(dflt), "plaza:node:%s", self);
  else if (pz_id_node(d->to) != w->srv->node_id) /* else: only if it moved */
    dl = snprintf(dflt, sizeof(dflt), "plaza:node:%u:w%u", pz_id_node(d->to),
                  pz_id_worker(d->to));
  const char *argv[] = {"EVAL", pz_script_route, "0", ids, dflt,
                        self,   cw->sb.data};
  size_t lens[] = {4,          strlen(pz_script_route),
                   1,          (size_t)il,
                   (size_t)dl, (size_t)sl,
                   cw->sb.size};
  if (d->kind == PZ_DELIVER_KICK_REPLY) { /* no directory: straight there */
    argv[3] = "0";
    lens[3] = 1;
  }
  sent_t *s = pz_xmalloc(sizeof(*s));
  *s = (sent_t){cw,          d->kind, d->from, d->reply_node, d->reply_worker,
                d->reply_req};
  int r = pz_rlink_command_argv(cw->link, on_published, s, 7, argv, lens);
  if (r != 0) {
    free(s);
    return r;
  }
  atomic_fetch_add_explicit(&cw->stats.publishes, 1, memory_order_relaxed);
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
  if (m->u.deliver.kind == PZ_DELIVER_KICK_REPLY) {
    if (m->u.deliver.reply_node != w->srv->node_id ||
        m->u.deliver.reply_worker != (uint32_t)w->index)
      pz_cluster_bad(cw, "kick answer for another worker");
    else
      pz_admin_reply(w, w->index, m->u.deliver.reply_req, m->u.deliver.code, 0,
                     NULL);
    return;
  }
  uint64_t to = m->u.deliver.to;
  if (pz_id_node(to) != w->srv->node_id &&
      !pz_shard_session_find(&w->shard, to) &&
      pz_routing_dir_lookup(w, to) == -2)
    /* Not resumed here (or gone meanwhile): counted, and the sender told. */
    pz_cluster_bad(cw, "delivery for a session not here");
  pz_msg_deliver_t *d = pz_deliver_new(m->u.deliver.kind, to, m->u.deliver.from,
                                       m->u.deliver.name, m->u.deliver.text);
  d->ts_ms = m->u.deliver.ts_ms;
  d->error_code = m->u.deliver.code;
  d->error_op = m->u.deliver.op;
  d->from_bus = true; /* never sent back out: no loops between nodes */
  d->reply_node = m->u.deliver.reply_node;
  d->reply_worker = (int)m->u.deliver.reply_worker;
  d->reply_req = m->u.deliver.reply_req;
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
