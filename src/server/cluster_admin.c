/*
 * The admin API across the cluster (see admin.h and cluster.h). A
 * broadcast is one EVAL of the cast script: a server chat numbered, kept
 * and published in each room like any chat, so every node's members get
 * it in the room's order and late joiners find it in the history. The
 * session list adds the other nodes' members from the rooms' presence
 * hashes (one EVAL). A kick needs nothing here: it is routed to its
 * session like a whisper (cluster_node.c) and answered back on the bus.
 * Each answer goes to the admin request waiting on this worker.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "cluster.h"
#include "error.h"
#include "scripts.h"
#include "worker.h"

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
  pz_admin_reply(cw->w, cw->w->index, req_of(pd), ok ? 200 : 503,
                 ok ? (uint32_t)r->integer : 0, NULL);
}

int pz_cluster_admin_cast(pz_cwork_t *cw, pz_str_t room, pz_str_t text,
                          uint64_t ts_ms, uint64_t req) {
  if (!pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  static const char name[] = "server";
  char node[16], ts[24];
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->srv->node_id);
  int tl = snprintf(ts, sizeof(ts), "%llu", (unsigned long long)ts_ms);
  const char *argv[] = {
      "EVAL", pz_script_cast, "0",      room.ptr ? room.ptr : "",
      node,   name,           text.ptr, ts};
  size_t lens[] = {4,          strlen(pz_script_cast), 1,        room.len,
                   (size_t)nl, sizeof(name) - 1,       text.len, (size_t)tl};
  return pz_rlink_command_argv(cw->link, on_cast, (void *)(uintptr_t)req, 8,
                               argv, lens);
}

static void on_members(redisAsyncContext *ac, void *reply, void *pd) {
  pz_cwork_t *cw = pz_rlink_context_data(ac);
  redisReply *r = reply;
  if (!cw || cw->closing)
    return;
  json_t *list = json_array();
  uint32_t me = cw->cl->srv->node_id;
  for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements;
       i++) {
    redisReply *v = r->element[i];
    pz_busmsg_t m;
    if (v->type != REDIS_REPLY_STRING ||
        pz_busmsg_decode((const uint8_t *)v->str, v->len, &m) != 0 ||
        m.type != PZ_BUS_JOIN) {
      pz_cluster_bad(cw, "presence entry");
      continue;
    }
    if (m.node == me) /* the workers tell ours, in more detail */
      continue;
    json_array_append_new(
        list,
        json_pack("{sI ss# ss# si sn sn sn}", "id", (json_int_t)m.u.join.m.id,
                  "name", m.u.join.m.name.ptr, (int)m.u.join.m.name.len, "room",
                  m.room.ptr, (int)m.room.len, "node", (int)m.node, "connected",
                  "user", "worker"));
  }
  char *text = json_dumps(list, JSON_COMPACT);
  json_decref(list);
  pz_admin_reply(cw->w, cw->w->index, req_of(pd), 200, 0, text ? text : "[]");
  free(text);
}

int pz_cluster_admin_members(pz_cwork_t *cw, pz_str_t room, uint64_t req) {
  if (!pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  const char *argv[] = {"EVAL", pz_script_members, "0",
                        room.ptr ? room.ptr : ""};
  size_t lens[] = {4, strlen(pz_script_members), 1, room.len};
  return pz_rlink_command_argv(cw->link, on_members, (void *)(uintptr_t)req, 4,
                               argv, lens);
}
