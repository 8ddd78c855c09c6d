/*
 * Between nodes, by session id, and the cluster-wide views (/rooms, the
 * admin API).
 *
 * A whisper, an error, an admin kick (or its answer) or a TAKEN notice
 * for a session this node does not hold goes through the cluster's
 * directory, plaza:where (session id -> "<node>:w<k>", the node and home
 * worker it lives on when that is not its id's own node): one EVAL reads
 * the entry and PUBLISHes to that worker's channel, or, when there is
 * none, to the channel of the id's own node and home worker,
 * plaza:node:<node>:w<k>. The home's directory then routes it as any local
 * delivery. PUBLISH answers how many listened: none means the node is gone
 * (a stale entry is dropped on the way), and the sender hears ERROR 7 as
 * for an unknown id, an admin kick 404.
 *
 * The entry is written by the script that takes a session's record at a
 * resume on another node (records.c), and removed (if still ours) when
 * the session ends there, or by the reaper with its dead node: nothing per
 * message.
 *
 * The admin API: a broadcast is one EVAL of the cast script, a server chat
 * numbered, kept and emitted in each room like any chat; the session list
 * adds the other nodes' members from the rooms' presence hashes (one EVAL).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"
#include "error.h"
#include "id.h"
#include "log.h"
#include "scripts.h"

static pz_cwork_t *cwork(pz_bus_t *bus, int worker) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  return atomic_load_explicit(&cl->cw[worker], memory_order_acquire);
}

/* ---- deliveries --------------------------------------------------------- */

typedef struct sent {
  pz_cwork_t *cw;
  int kind;
  uint64_t from;
  uint32_t reply_node, reply_worker;
  uint64_t reply_req;
} sent_t;

static void on_published(redisAsyncContext *ac, void *reply, void *pd) {
  sent_t *s = pd;
  pz_cwork_t *cw = s->cw;
  redisReply *r = reply;
  bool heard = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
  if (!heard && !cw->closing) {
    if (s->kind == PZ_DELIVER_WHISPER) {
      static const char msg[] = "no session with that id";
      pz_delivery_t e = {.kind = PZ_DELIVER_ERROR,
                         .to = s->from,
                         .text = {msg, sizeof(msg) - 1},
                         .code = PZ_ERR_NOT_FOUND,
                         .op = PZ_C_WHISPER};
      cw->bw.up->deliver(cw->bw.ctx, &e);
    } else if (s->kind == PZ_DELIVER_KICK && s->reply_node == cw->cl->node &&
               s->reply_worker == (uint32_t)cw->bw.index) {
      cw->bw.up->admin_reply(cw->bw.ctx, s->reply_req, r ? 404 : 503, 0, NULL);
    }
  }
  free(s);
}

int pz_cluster_where(pz_cwork_t *cw, uint64_t id, char *out, size_t size) {
  return snprintf(out, size, "%u:w%d", cw->cl->node,
                  pz_cluster_home(cw->cl, id));
}

int pz_deliver_remote(pz_bus_t *bus, int worker, const pz_delivery_t *d) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  pz_busmsg_deliver(pz_cluster_begin(cw), cw->cl->node, d);
  char ids[24], dflt[48], self[32];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)d->to);
  int dl = 0, sl = pz_cluster_where(cw, d->to, self, sizeof(self));
  if (d->kind == PZ_DELIVER_KICK_REPLY) /* to the asking worker itself */
    dl = snprintf(dflt, sizeof(dflt), "plaza:node:%u:w%u", d->reply_node,
                  d->reply_worker);
  else if (d->back_here)
    dl = snprintf(dflt, sizeof(dflt), "plaza:node:%s", self);
  else if (pz_id_node(d->to) != cw->cl->node) /* else: only if it moved */
    dl = snprintf(dflt, sizeof(dflt), "plaza:node:%u:w%u", pz_id_node(d->to),
                  pz_id_worker(d->to));
  const char *args[] = {ids, dflt, self, cw->sb.data};
  size_t lens[] = {(size_t)il, (size_t)dl, (size_t)sl, cw->sb.size};
  if (d->kind == PZ_DELIVER_KICK_REPLY) { /* no directory: straight there */
    args[0] = "0";
    lens[0] = 1;
  }
  sent_t *s = pz_xmalloc(sizeof(*s));
  *s = (sent_t){cw,          d->kind, d->from, d->reply_node, d->reply_worker,
                d->reply_req};
  int r = pz_cluster_eval(cw, on_published, s, pz_script_route, 4, args, lens);
  if (r != 0) {
    free(s);
    return r;
  }
  atomic_fetch_add_explicit(&cw->stats.publishes, 1, memory_order_relaxed);
  return 0;
}

void pz_deliver_node_message(pz_cwork_t *cw, const pz_busmsg_t *m) {
  if (m->type != PZ_BUS_DELIVER) {
    if (m->type != PZ_BUS_PROBE) /* another link's probe: not ours */
      pz_cluster_bad(cw, "type not for a node channel");
    return;
  }
  if (m->u.deliver.kind == PZ_DELIVER_KICK_REPLY) {
    if (m->u.deliver.reply_node != cw->cl->node ||
        m->u.deliver.reply_worker != (uint32_t)cw->bw.index)
      pz_cluster_bad(cw, "kick answer for another worker");
    else
      cw->bw.up->admin_reply(cw->bw.ctx, m->u.deliver.reply_req,
                             m->u.deliver.code, 0, NULL);
    return;
  }
  pz_delivery_t d = {
      .kind = m->u.deliver.kind,
      .to = m->u.deliver.to,
      .from = m->u.deliver.from,
      .ts_ms = m->u.deliver.ts_ms,
      .name = m->u.deliver.name,
      .text = m->u.deliver.text,
      .code = m->u.deliver.code,
      .op = m->u.deliver.op,
      .reply_node = m->u.deliver.reply_node,
      .reply_worker = m->u.deliver.reply_worker,
      .reply_req = m->u.deliver.reply_req,
      .gen = m->u.deliver.gen,
      .data = {m->u.deliver.data.ptr, m->u.deliver.data.len},
      .version = m->u.deliver.version,
  };
  /* A TAKEN may find its session gone already: not stray. */
  if (!cw->bw.up->deliver(cw->bw.ctx, &d) && d.kind != PZ_DELIVER_TAKEN)
    pz_cluster_bad(cw, "delivery for a session not here");
}

/* ---- /rooms ------------------------------------------------------------- */

typedef struct rooms_req {
  pz_bus_rooms_cb cb;
  void *arg;
} rooms_req_t;

static void on_rooms(redisAsyncContext *ac, void *reply, void *pd) {
  rooms_req_t *q = pd;
  redisReply *r = reply;
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    q->cb(q->arg, NULL, NULL, -1);
    free(q);
    return;
  }
  size_t cap = r->elements / 2 + 1;
  pz_str_t *names = pz_xmalloc(cap * sizeof(*names));
  int64_t *counts = pz_xmalloc(cap * sizeof(*counts));
  int n = 0;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    redisReply *name = r->element[i], *count = r->element[i + 1];
    if (name->type != REDIS_REPLY_STRING ||
        count->type != REDIS_REPLY_INTEGER ||
        !pz_room_name_valid(name->str, name->len))
      continue; /* not something we wrote: never echoed */
    names[n] = (pz_str_t){name->str, (uint32_t)name->len};
    counts[n++] = count->integer;
  }
  q->cb(q->arg, names, counts, n);
  free(names);
  free(counts);
  free(q);
}

int pz_cluster_rooms(pz_bus_t *bus, int worker, pz_bus_rooms_cb cb, void *arg) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  rooms_req_t *q = pz_xmalloc(sizeof(*q));
  *q = (rooms_req_t){cb, arg};
  int r = pz_cluster_eval(cw, on_rooms, q, pz_script_rooms, 0, NULL, NULL);
  if (r != 0)
    free(q);
  return r;
}

/* ---- the admin API ------------------------------------------------------ */

/* The request id travels as the callback's private data: no allocation. */
static uint64_t req_of(void *pd) {
  return (uint64_t)(uintptr_t)pd;
}

static void on_cast(redisAsyncContext *ac, void *reply, void *pd) {
  pz_cwork_t *cw = pz_rlink_context_data(ac);
  redisReply *r = reply;
  if (!cw || cw->closing)
    return;
  bool ok = r && r->type == REDIS_REPLY_INTEGER;
  cw->bw.up->admin_reply(cw->bw.ctx, req_of(pd), ok ? 200 : 503,
                         ok ? (uint32_t)r->integer : 0, NULL);
}

int pz_cluster_admin_cast(pz_bus_t *bus, int worker, pz_str_t room,
                          pz_str_t text, uint64_t ts_ms, uint64_t req) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  static const char name[] = "server";
  char node[16], ts[24];
  const char *args[] = {room.ptr ? room.ptr : "", node, name, text.ptr, ts};
  size_t lens[] = {
      room.len, (size_t)snprintf(node, sizeof(node), "%u", cw->cl->node),
      sizeof(name) - 1, text.len,
      (size_t)snprintf(ts, sizeof(ts), "%llu", (unsigned long long)ts_ms)};
  return pz_cluster_eval(cw, on_cast, (void *)(uintptr_t)req, pz_script_cast, 5,
                         args, lens);
}

static void on_members(redisAsyncContext *ac, void *reply, void *pd) {
  pz_cwork_t *cw = pz_rlink_context_data(ac);
  redisReply *r = reply;
  if (!cw || cw->closing)
    return;
  json_t *list = json_array();
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements;
       i++) {
    redisReply *v = r->element[i];
    pz_busmsg_t m;
    if (v->type != REDIS_REPLY_STRING ||
        !pz_presence_value(cw, v->str, v->len, &m))
      continue;
    if (m.node == cw->cl->node) /* the workers tell ours, in more detail */
      continue;
    json_t *o = json_pack(
        "{sI ss# ss# si sn sn sn so}", "id", (json_int_t)m.u.join.m.id, "name",
        m.u.join.m.name.ptr, (int)m.u.join.m.name.len, "room", m.room.ptr,
        (int)m.room.len, "node", (int)m.node, "connected", "user", "worker",
        "addr",
        m.u.join.addr.len ? json_stringn(m.u.join.addr.ptr, m.u.join.addr.len)
                          : json_null());
    json_array_append_new(list, o);
  }
  char *text = json_dumps(list, JSON_COMPACT);
  json_decref(list);
  cw->bw.up->admin_reply(cw->bw.ctx, req_of(pd), 200, 0, text ? text : "[]");
  free(text);
}

int pz_cluster_admin_members(pz_bus_t *bus, int worker, pz_str_t room,
                             uint64_t req) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  const char *args[] = {room.ptr ? room.ptr : ""};
  size_t lens[] = {room.len};
  return pz_cluster_eval(cw, on_members, (void *)(uintptr_t)req,
                         pz_script_members, 1, args, lens);
}

static void on_room_signal(redisAsyncContext *ac, void *reply, void *pd) {
  pz_cwork_t *cw = pz_rlink_context_data(ac);
  redisReply *r = reply;
  if (!cw || cw->closing)
    return;
  bool ok = r && r->type == REDIS_REPLY_INTEGER;
  cw->bw.up->admin_reply(cw->bw.ctx, req_of(pd),
                         !ok              ? 503
                         : r->integer > 0 ? 200
                                          : 404,
                         ok ? (uint32_t)r->integer : 0, NULL);
}

int pz_cluster_admin_room_signal(pz_bus_t *bus, int worker, pz_str_t room,
                                 pz_str_t kind, pz_raw_t data, uint64_t ts_ms,
                                 uint64_t req) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  static const char name[] = "server";
  pz_busmsg_signal(pz_cluster_begin(cw), cw->cl->node, room, 0,
                   (pz_str_t){name, sizeof(name) - 1}, kind, data, ts_ms);
  const char *args[] = {room.ptr, cw->sb.data};
  size_t lens[] = {room.len, cw->sb.size};
  return pz_cluster_eval(cw, on_room_signal, (void *)(uintptr_t)req,
                         pz_script_room_signal, 2, args, lens);
}

typedef struct state_req {
  pz_cwork_t *cw;
  uint64_t req;
  uint8_t len;
  char room[PZ_ROOM_NAME_MAX];
} state_req_t;

static void on_room_state(redisAsyncContext *ac, void *reply, void *pd) {
  state_req_t *q = pd;
  pz_cwork_t *cw = q->cw;
  redisReply *r = reply;
  pz_str_t room = {q->room, q->len};
  if (cw->closing) {
    free(q);
    return;
  }
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
      r->element[0]->type != REDIS_REPLY_INTEGER ||
      r->element[1]->type != REDIS_REPLY_INTEGER ||
      r->element[2]->type != REDIS_REPLY_ARRAY) {
    cw->bw.up->admin_room_state(cw->bw.ctx, q->req, room, NULL, -1, 0, -1);
    free(q);
    return;
  }
  redisReply *h = r->element[2];
  pz_bus_rkey_t *keys = pz_xcalloc(h->elements / 2 + 1, sizeof(*keys));
  int n = 0;
  for (size_t i = 0; i + 1 < h->elements; i += 2) {
    redisReply *k = h->element[i], *v = h->element[i + 1];
    char *b1 =
        v->type == REDIS_REPLY_STRING ? memchr(v->str, '|', v->len) : NULL;
    char *b2 =
        b1 ? memchr(b1 + 1, '|', v->len - (size_t)(b1 + 1 - v->str)) : NULL;
    if (k->type != REDIS_REPLY_STRING || !b2 || k->len == 0 ||
        k->len > PZ_ROOM_KEY_MAX || !pz_utf8_valid(k->str, k->len)) {
      pz_cluster_bad(cw, "room state entry");
      continue;
    }
    size_t vl = v->len - (size_t)(b2 + 1 - v->str);
    pz_raw_t value = {vl ? b2 + 1 : NULL, (uint32_t)vl};
    if (value.ptr && !pz_busmsg_value_ok(value)) {
      pz_cluster_bad(cw, "room state entry");
      continue;
    }
    keys[n++] =
        (pz_bus_rkey_t){(pz_str_t){k->str, (uint32_t)k->len}, value,
                        strtoull(v->str, NULL, 10), strtoull(b1 + 1, NULL, 10)};
  }
  long long ttl = r->element[1]->integer;
  cw->bw.up->admin_room_state(cw->bw.ctx, q->req, room, keys, n,
                              r->element[0]->integer, ttl >= 0 ? ttl : -1);
  free(keys);
  free(q);
}

int pz_cluster_admin_room_state(pz_bus_t *bus, int worker, pz_str_t room,
                                uint64_t req) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || !pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  state_req_t *q = pz_xmalloc(sizeof(*q));
  q->cw = cw;
  q->req = req;
  q->len = (uint8_t)room.len;
  memcpy(q->room, room.ptr, room.len);
  const char *args[] = {room.ptr};
  size_t lens[] = {room.len};
  int r = pz_cluster_eval(cw, on_room_state, q, pz_script_room_state, 1, args,
                          lens);
  if (r != 0)
    free(q);
  return r;
}
