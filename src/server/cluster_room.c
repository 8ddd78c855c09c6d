/*
 * Rooms across nodes (see cluster.h): the shard hooks that tell Redis what
 * local members do, and what Redis tells a room's worker about the others.
 *
 * Per join: EVAL join (HSET presence, PUBLISH JOIN). The first local
 * member also subscribes the room's channel and, once Redis confirms,
 * reads the presence hash (HGETALL) and the chat list (LRANGE); its ROOM
 * waits for those (at most PZ_CLUSTER_LOAD_MS, then local members only).
 * Per tick: one PUBLISH per room with local changes while another node
 * has members there. Per chat: EVAL chat (INCR, RPUSH, LTRIM, PUBLISH),
 * and the chat reaches the local members through the subscription, like
 * everyone else's, so every member sees one order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"
#include "log.h"
#include "remote.h"
#include "routing.h"
#include "scripts.h"
#include "sessions.h"
#include "worker.h"

#define CH_MAX (sizeof("plaza:room:") + PZ_ROOM_NAME_MAX + 8)

static int room_key(char *out, const pz_room_t *r, const char *suffix) {
  return snprintf(out, CH_MAX, "plaza:room:%.*s%s", r->name_len, r->name,
                  suffix);
}

static pz_str_t room_str(const pz_room_t *r) {
  return (pz_str_t){r->name, r->name_len};
}

/* ---- loading a room: presence and history -------------------------------- */

typedef struct load_req {
  pz_cwork_t *cw;
  uint32_t gen;
  uint8_t len;
  char name[PZ_ROOM_NAME_MAX + 1];
} load_req_t;

static void loads_remove(pz_cwork_t *cw, pz_str_t name, uint32_t gen) {
  for (uint32_t i = 0; i < cw->n_loads; i++) {
    pz_room_load_t *l = &cw->loads[i];
    if (l->gen == gen && l->len == name.len &&
        memcmp(l->name, name.ptr, name.len) == 0) {
      cw->loads[i] = cw->loads[--cw->n_loads];
      return;
    }
  }
}

/* Element i of a reply holding bus messages, if it is one of `type`;
 * otherwise counted bad. */
static bool stored(pz_cwork_t *cw, redisReply *rep, size_t i, int type,
                   pz_busmsg_t *m) {
  redisReply *v = rep->element[i];
  if (v->type == REDIS_REPLY_STRING &&
      pz_busmsg_decode((const uint8_t *)v->str, v->len, m) == 0 &&
      m->type == type)
    return true;
  pz_cluster_bad(cw, type == PZ_BUS_JOIN ? "presence entry" : "history entry");
  return false;
}

/* The room a reply is about, if it is still the one that asked. */
static pz_room_t *req_room(load_req_t *q) {
  pz_room_t *r =
      pz_shard_room_find(&q->cw->w->shard, (pz_str_t){q->name, q->len});
  return r && r->gen == q->gen ? r : NULL;
}

static void on_presence(redisAsyncContext *ac, void *reply, void *pd) {
  load_req_t *q = pd;
  redisReply *rep = reply;
  pz_room_t *r = req_room(q);
  if (!r || !rep || rep->type != REDIS_REPLY_ARRAY)
    return; /* the history reply frees q */
  pz_cwork_t *cw = q->cw;
  pz_shard_t *sh = &cw->w->shard;
  uint32_t me = cw->cl->srv->node_id;
  for (size_t i = 0; i + 1 < rep->elements; i += 2) {
    pz_busmsg_t m;
    /* Our own members are the shard's already. */
    if (stored(cw, rep, i + 1, PZ_BUS_JOIN, &m) && m.node != me)
      pz_shard_remote_join(sh, r, &m.u.join.m, m.node, true);
  }
  /* Members the snapshot no longer holds left while we were not looking
   * (a relink). */
  pz_shard_remote_sweep(sh, r);
}

static void on_history(redisAsyncContext *ac, void *reply, void *pd) {
  load_req_t *q = pd;
  redisReply *rep = reply;
  pz_room_t *r = req_room(q);
  pz_cwork_t *cw = q->cw;
  if (r && rep && rep->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < rep->elements; i++) {
      pz_busmsg_t m;
      if (stored(cw, rep, i, PZ_BUS_CHAT, &m))
        pz_shard_remote_chat(&cw->w->shard, r, &m.u.chat);
    }
  }
  if (r) {
    loads_remove(cw, room_str(r), r->gen);
    pz_shard_room_ready(&cw->w->shard, r);
  }
  free(q);
}

/* Reads the room's presence and history (after its subscription is
 * confirmed, so nothing said in between is missed). */
static void load(pz_cwork_t *cw, pz_room_t *r) {
  load_req_t *q = pz_xcalloc(1, sizeof(*q));
  q->cw = cw;
  q->gen = r->gen;
  q->len = r->name_len;
  memcpy(q->name, r->name, r->name_len);
  char key[CH_MAX];
  pz_shard_remote_unmark(r);
  room_key(key, r, ":members");
  if (pz_rlink_command(cw->link, on_presence, q, "HGETALL %s", key) != 0) {
    free(q);
    return;
  }
  room_key(key, r, ":chat");
  if (pz_rlink_command(cw->link, on_history, q, "LRANGE %s 0 -1", key) != 0)
    free(q); /* not reached: the link was up a line above */
}

void pz_cluster_room_subscribed(pz_cwork_t *cw, pz_str_t room) {
  pz_room_t *r = pz_shard_room_find(&cw->w->shard, room);
  if (r)
    load(cw, r);
}

void pz_cluster_loads_sweep(pz_cwork_t *cw, uint64_t now_ms) {
  for (uint32_t i = 0; i < cw->n_loads;) {
    pz_room_load_t *l = &cw->loads[i];
    if (l->deadline_ms > now_ms) {
      i++;
      continue;
    }
    pz_room_t *r =
        pz_shard_room_find(&cw->w->shard, (pz_str_t){l->name, l->len});
    if (r && r->gen == l->gen && r->loading) {
      pz_warn("redis: room %.*s: no answer within %d ms; ROOM lists this "
              "node's members only",
              l->len, l->name, PZ_CLUSTER_LOAD_MS);
      pz_shard_room_ready(&cw->w->shard, r);
    }
    cw->loads[i] = cw->loads[--cw->n_loads];
  }
}

/* ---- hooks: local members ----------------------------------------------- */

static bool hook_room_open(void *ctx, pz_room_t *r) {
  pz_cwork_t *cw = ctx;
  char ch[CH_MAX];
  int n = room_key(ch, r, "");
  pz_rlink_subscribe(cw->link, ch, (size_t)n);
  if (!pz_rlink_up(cw->link))
    return false; /* local members only; the relink reads the rest */
  if (cw->n_loads == cw->cap_loads) {
    cw->cap_loads = cw->cap_loads ? cw->cap_loads * 2 : 8;
    cw->loads = pz_xrealloc(cw->loads, cw->cap_loads * sizeof(*cw->loads));
  }
  pz_room_load_t *l = &cw->loads[cw->n_loads++];
  memcpy(l->name, r->name, r->name_len);
  l->len = r->name_len;
  l->gen = r->gen;
  l->deadline_ms = uv_now(&cw->w->loop) + PZ_CLUSTER_LOAD_MS;
  return true;
}

static void hook_room_close(void *ctx, pz_room_t *r) {
  pz_cwork_t *cw = ctx;
  char ch[CH_MAX];
  int n = room_key(ch, r, "");
  pz_rlink_unsubscribe(cw->link, ch, (size_t)n);
  loads_remove(cw, room_str(r), r->gen);
}

static void on_script(redisAsyncContext *ac, void *reply, void *pd) {
  redisReply *r = reply;
  if (r && r->type == REDIS_REPLY_ERROR)
    pz_warn("redis: script failed: %s", r->str);
}

/* EVAL of a script with string arguments (binary-safe). */
static int eval(pz_cwork_t *cw, const char *script, int argc, const char **args,
                const size_t *lens) {
  const char *argv[12];
  size_t argl[12];
  argv[0] = "EVAL";
  argl[0] = 4;
  argv[1] = script;
  argl[1] = strlen(script);
  argv[2] = "0";
  argl[2] = 1;
  for (int i = 0; i < argc; i++) {
    argv[3 + i] = args[i];
    argl[3 + i] = lens[i];
  }
  return pz_rlink_command_argv(cw->link, on_script, NULL, argc + 3, argv, argl);
}

/* EVAL of a presence script: ARGV room, id, node, the message just
 * encoded in cw's scratch. */
static void eval_presence(pz_cwork_t *cw, const char *script, pz_room_t *r,
                          uint64_t id) {
  char ids[24], node[16];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->srv->node_id);
  const char *args[] = {r->name, ids, node, cw->sb.data};
  size_t lens[] = {r->name_len, (size_t)il, (size_t)nl, cw->sb.size};
  eval(cw, script, 4, args, lens);
}

/* Tells the cluster a local member is in the room (also on relink). */
static void announce(pz_cwork_t *cw, pz_room_t *r, pz_session_t *s,
                     uint32_t flags) {
  pz_member_t m = {s->id, pz_session_name(s), s->pos};
  pz_busmsg_join(pz_cluster_begin(cw), cw->cl->srv->node_id, room_str(r), &m,
                 flags);
  eval_presence(cw, pz_script_join, r, s->id);
}

static void hook_joined(void *ctx, pz_room_t *r, pz_session_t *s) {
  announce(ctx, r, s, s->handoff ? PZ_BUS_JOIN_QUIET : 0);
}

static void hook_left(void *ctx, pz_room_t *r, pz_session_t *s) {
  pz_cwork_t *cw = ctx;
  pz_busmsg_leave(pz_cluster_begin(cw), cw->cl->srv->node_id, room_str(r),
                  s->id, 0);
  eval_presence(cw, pz_script_leave, r, s->id);
}

/* A chat's EVAL went unanswered (the link went down meanwhile): its
 * sender is told, as if refused at once. */
static void on_chat_done(redisAsyncContext *ac, void *reply, void *pd) {
  redisReply *rep = reply;
  pz_cwork_t *cw = pz_rlink_context_data(ac);
  if (rep && rep->type != REDIS_REPLY_ERROR)
    return;
  if (rep)
    pz_warn("redis: chat script failed: %s", rep->str);
  if (!cw || cw->closing)
    return;
  static const char msg[] = "chat unavailable: this node lost the cluster, "
                            "try again";
  pz_msg_deliver_t *e =
      pz_deliver_new(PZ_DELIVER_ERROR, (uint64_t)(uintptr_t)pd, 0,
                     (pz_str_t){NULL, 0}, (pz_str_t){msg, sizeof(msg) - 1});
  e->error_code = PZ_ERR_OVERLOADED;
  e->error_op = PZ_C_CHAT;
  pz_routing_deliver(cw->w, e);
}

static pz_shard_result_t hook_chat(void *ctx, pz_room_t *r, pz_session_t *s,
                                   pz_str_t text, uint64_t ts_ms) {
  pz_cwork_t *cw = ctx;
  /* Unlinked, the room's seq cannot be had: a chat numbered here would
   * fork the order and never reach the history in Redis. Refused, the
   * client may send it again. While the room loads (its subscription just
   * confirmed or not yet), the chat is numbered in Redis too: the history
   * read that follows, or the subscription, brings it back. */
  if (!pz_rlink_up(cw->link))
    return PZ_SHARD_UNAVAILABLE;
  char node[16], id[24], ts[24], floor[24];
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->srv->node_id);
  int il = snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
  int tl = snprintf(ts, sizeof(ts), "%llu", (unsigned long long)ts_ms);
  int fl =
      snprintf(floor, sizeof(floor), "%llu", (unsigned long long)r->chat_seq);
  const char *args[] = {r->name, node, id, s->name, text.ptr, ts, floor};
  size_t lens[] = {r->name_len, (size_t)nl, (size_t)il, s->name_len,
                   text.len,    (size_t)tl, (size_t)fl};
  const char *argv[10] = {"EVAL", pz_script_chat, "0"};
  size_t argl[10] = {4, strlen(pz_script_chat), 1};
  memcpy(argv + 3, args, sizeof(args));
  memcpy(argl + 3, lens, sizeof(lens));
  if (pz_rlink_command_argv(cw->link, on_chat_done, (void *)(uintptr_t)s->id,
                            10, argv, argl) != 0)
    return PZ_SHARD_UNAVAILABLE; /* too many commands waiting */
  return PZ_SHARD_OK;
}

static void hook_state(void *ctx, pz_room_t *r, uint64_t tick) {
  pz_cwork_t *cw = ctx;
  if (!pz_rlink_up(cw->link))
    return;
  bool all = r->publish_all;
  r->publish_all = false;
  uint32_t n = all ? r->n_members : r->n_dirty;
  pz_session_t **list = all ? r->members : r->dirty;
  msgpack_packer *pk = pz_cluster_begin(cw);
  pz_busmsg_state_begin(pk, cw->cl->srv->node_id, room_str(r), n);
  for (uint32_t i = 0; i < n; i++) {
    pz_state_entry_t e = {list[i]->id, list[i]->seq, list[i]->pos};
    pz_busmsg_state_entry(pk, &e);
  }
  char ch[CH_MAX];
  int cl = room_key(ch, r, "");
  pz_rlink_publish(cw->link, ch, (size_t)cl, cw->sb.data, cw->sb.size, NULL,
                   NULL);
}

const pz_shard_hooks_t pz_cluster_room_hooks = {
    .room_open = hook_room_open,
    .room_close = hook_room_close,
    .joined = hook_joined,
    .left = hook_left,
    .chat = hook_chat,
    .state = hook_state,
};

/* The link is back: tell the cluster again who is here (a node that was
 * cut off was reaped meanwhile; QUIET spares those who still know). The
 * subscriptions come back on their own and reload each room. */
void pz_cluster_rooms_relink(pz_cwork_t *cw) {
  pz_room_t *r, *tmp;
  HASH_ITER(hh, cw->w->shard.rooms, r, tmp) {
    for (uint32_t i = 0; i < r->n_members; i++)
      announce(cw, r, r->members[i], PZ_BUS_JOIN_QUIET);
    r->publish_all = true;
  }
}

/* ---- what other nodes say about a room ----------------------------------- */

void pz_cluster_room_message(pz_cwork_t *cw, pz_str_t name,
                             const pz_busmsg_t *m) {
  pz_shard_t *sh = &cw->w->shard;
  pz_room_t *r = pz_shard_room_find(sh, name);
  if (!r)
    return; /* its last local member left meanwhile */
  bool mine = m->node == cw->cl->srv->node_id;
  switch (m->type) {
  case PZ_BUS_STATE: {
    if (mine)
      return;
    pz_bus_state_it_t it = m->u.state.it;
    pz_state_entry_t e;
    while (pz_busmsg_state_next(&it, &e))
      pz_shard_remote_state(sh, r, &e);
    break;
  }
  case PZ_BUS_JOIN: {
    if (mine)
      return;
    /* A member of ours turned up on another node: its session continues
     * there (a resume). It goes from here without LEFT. */
    pz_session_t *s = pz_shard_session_find(sh, m->u.join.m.id);
    if (s && s->room == r) {
      pz_sessions_drop(cw->w, s);
      r = pz_shard_room_find(sh, name);
      if (!r)
        return; /* it was the last one here: the room closed */
    }
    pz_shard_remote_join(sh, r, &m->u.join.m, m->node, true);
    break;
  }
  case PZ_BUS_LEAVE:
    pz_shard_remote_leave(sh, r, m->u.leave.id,
                          !(m->u.leave.flags & PZ_BUS_LEAVE_HANDOFF));
    break;
  case PZ_BUS_CHAT:
    pz_shard_remote_chat(sh, r, &m->u.chat);
    break;
  default:
    pz_cluster_bad(cw, "type not for a room channel");
  }
}
