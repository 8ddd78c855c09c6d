/*
 * Sessions that outlive their node (see cluster.h). A detached session's
 * record, plaza:session:<id> (a SESSION message: token, name, room,
 * position, seq, placed, last chat seq), lives in Redis for the grace
 * period; a HELLO with its token on any node takes it (a script checks the
 * token and deletes the record in one step, so only one node can) and the
 * session continues there, quietly: the new node's JOIN carries the QUIET
 * flag, and the old node, seeing its own member announced elsewhere, drops
 * it without LEFT. On drain the node's members are parked for the grace
 * period, so the survivors' reaper leaves them alone that long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "cluster.h"
#include "error.h"
#include "id.h"
#include "log.h"
#include "scripts.h"
#include "sessions.h"
#include "worker.h"

static int session_key(char *out, size_t size, uint64_t id) {
  return snprintf(out, size, "plaza:session:%llu", (unsigned long long)id);
}

void pz_cluster_session_save(pz_cwork_t *cw, const pz_session_t *s) {
  const pz_room_t *r = s->room;
  pz_str_t room = r ? (pz_str_t){r->name, r->name_len} : (pz_str_t){"", 0};
  pz_busmsg_session(pz_cluster_begin(cw), cw->cl->srv->node_id, s->id,
                    (pz_str_t){s->token, s->token_len}, pz_session_name(s),
                    room, &s->pos, s->seq, s->has_seq, s->placed,
                    r ? r->chat_seq : 0,
                    s->grant ? (pz_str_t){s->grant->sub, s->grant->sub_len}
                             : (pz_str_t){"", 0});
  char key[40];
  int kl = session_key(key, sizeof(key), s->id);
  char ttl[16];
  int tl = snprintf(ttl, sizeof(ttl), "%u", cw->w->cfg->resume_grace_ms);
  const char *argv[] = {"SET", key, cw->sb.data, "PX", ttl};
  size_t lens[] = {3, (size_t)kl, cw->sb.size, 2, (size_t)tl};
  if (pz_rlink_command_argv(cw->link, NULL, NULL, 5, argv, lens) != 0)
    pz_debug("redis: session %llu resumable on this node only",
             (unsigned long long)s->id);
}

void pz_cluster_session_forget(pz_cwork_t *cw, uint64_t id) {
  char key[40];
  session_key(key, sizeof(key), id);
  pz_rlink_command(cw->link, NULL, NULL, "DEL %s", key);
}

void pz_cluster_session_unlist(pz_cwork_t *cw, uint64_t id) {
  char ids[24], where[32];
  snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
  pz_cluster_where(cw, id, where, sizeof(where));
  pz_rlink_command(cw->link, NULL, NULL, "EVAL %s 0 %s %s", pz_script_unlist,
                   ids, where);
}

typedef struct resume_req {
  pz_conn_t *conn; /* first: cleared when the connection goes meanwhile */
  pz_cwork_t *cw;
  uint64_t id;
  bool has_last;
  uint64_t last;
  uint8_t name_len;
  char name[PZ_NAME_MAX + 1];
  pz_grant_t *grant; /* the HELLO's JWT (owned), or NULL */
} resume_req_t;

static void req_free(resume_req_t *q) {
  free(q->grant);
  free(q);
}

static void on_taken(redisAsyncContext *ac, void *reply, void *pd) {
  resume_req_t *q = pd;
  redisReply *r = reply;
  pz_conn_t *c = q->conn;
  if (!c || q->cw->closing || pz_conn_session(c)) {
    req_free(q); /* the client went (its record is gone with it) */
    return;
  }
  pz_grant_t *grant = q->grant;
  q->grant = NULL;
  pz_conn_hold(c, NULL);
  pz_worker_t *w = q->cw->w;
  pz_busmsg_t m;
  pz_str_t name = {q->name_len ? q->name : NULL, q->name_len};
  if (!r || r->type != REDIS_REPLY_STRING ||
      pz_busmsg_decode((const uint8_t *)r->str, r->len, &m) != 0 ||
      m.type != PZ_BUS_SESSION || m.u.session.id != q->id) {
    if (r && r->type == REDIS_REPLY_STRING)
      pz_cluster_bad(q->cw, "session record");
    pz_sessions_resume_failed(w, c, name, grant);
    free(q);
    return;
  }
  pz_restore_t rs = {
      .id = q->id,
      .token = m.u.session.token,
      .name = m.u.session.name,
      .room = m.room.len == 0 ? (pz_str_t){NULL, 0} : m.room,
      .pos = m.u.session.pos,
      .seq = m.u.session.seq,
      .has_seq = m.u.session.has_seq,
      .placed = m.u.session.placed,
      .replay = q->has_last,
      .replay_after = q->last,
      .sub = m.u.session.sub,
      .listed = pz_id_node(q->id) != w->srv->node_id,
  };
  pz_sessions_restore(w, c, &rs, grant);
  free(q);
}

int pz_cluster_resume(pz_cwork_t *cw, pz_conn_t *c, uint64_t id, pz_str_t token,
                      pz_str_t name, bool has_last, uint64_t last,
                      pz_grant_t *grant) {
  if (!pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  resume_req_t *q = pz_xcalloc(1, sizeof(*q));
  *q = (resume_req_t){c, cw, id, has_last, last, 0, {0}, grant};
  if (name.ptr) {
    q->name_len = (uint8_t)name.len;
    memcpy(q->name, name.ptr, name.len);
  }
  char key[40], ids[24], where[32] = "";
  int kl = session_key(key, sizeof(key), id);
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
  /* Back on its own node the id finds it: no directory entry. */
  int wl = pz_id_node(id) == cw->cl->srv->node_id
               ? 0
               : pz_cluster_where(cw, id, where, sizeof(where));
  const char *argv[] = {"EVAL", pz_script_take, "0", key, token.ptr,
                        ids,    where};
  size_t lens[] = {
      4,         strlen(pz_script_take), 1, (size_t)kl, token.len, (size_t)il,
      (size_t)wl};
  int r = pz_rlink_command_argv(cw->link, on_taken, q, 7, argv, lens);
  if (r != 0) {
    free(q); /* the grant stays the caller's */
    return r;
  }
  pz_conn_hold(c, q);
  return 0;
}

static void on_parked(redisAsyncContext *ac, void *reply, void *pd) {
  redisReply *r = reply;
  if (r && r->type == REDIS_REPLY_INTEGER)
    pz_info("redis: %lld members parked for a resume elsewhere", r->integer);
}

void pz_cluster_park(pz_cwork_t *cw) {
  char node[16], until[24];
  snprintf(node, sizeof(node), "%u", cw->cl->srv->node_id);
  snprintf(until, sizeof(until), "%llu",
           (unsigned long long)(pz_wall_ms() + cw->w->cfg->resume_grace_ms));
  pz_rlink_command(cw->link, on_parked, NULL, "EVAL %s 0 %s %s", pz_script_park,
                   node, until);
}
