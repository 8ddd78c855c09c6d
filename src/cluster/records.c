/*
 * Sessions that outlive their node. Every session of this node has a
 * record in Redis, plaza:session:<id>, from its HELLO on: a hash of its
 * owner node (o), generation (g), the SHA-256 of its session token (t) and
 * the SESSION message (r: name, room, position, seq, member state, last
 * chat seq, JWT user, address, VIEW). So a client resumes on any node, after a
 * drain and after a kill -9 alike.
 *
 * Cost: records are written in batches, one EVAL per worker per timer
 * turn carrying every session that changed: at once for what matters to a
 * resume (a new session, a room, state, attach or detach), at most every
 * PZ_CLUSTER_RECORD_MS for a position, and at least every
 * PZ_CLUSTER_RECORD_TTL_MS / 2 for an attached session whose record would
 * otherwise expire. Only the writes at once list the session in its node's
 * set (the reaper's index): a position or a refresh costs three commands. A
 * detached session's record expires with its grace period; a dead node's
 * records are cut to the grace period by the reaper (heartbeat.c).
 *
 * A resume on another node takes the record in one script: it checks the
 * token's hash, makes the record the taker's with the next generation,
 * and tells the old owner (a TAKEN delivery), whose copy then goes
 * quietly; its room hears of the session again through the taker's QUIET
 * JOIN, whose generation wins over the old copy's everywhere.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"
#include "error.h"
#include "id.h"
#include "log.h"
#include "scripts.h"
#include "view.h"

/* Lowercase hex SHA-256 of a session token: what a record keeps instead
 * of the token. out holds 65 bytes. */
static void token_hash(const char *tok, size_t len, char *out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(tok, len, md, &n, EVP_sha256(), NULL))
    n = 0; /* no digest: an empty hash, which no resume can match */
  for (unsigned i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  out[2 * n] = 0;
}

/* ---- writing ------------------------------------------------------------ */

/* Per record in the script's ARGV: id, generation, token hash, TTL,
 * "1" to list it in the node's set, the SESSION message ("" to delete). */
#define RECORD_ARGS 6

typedef struct batch {
  pz_cwork_t *cw;
  int n;
  /* Per entry: offsets of its RECORD_ARGS arguments in cw->sb, and the
   * end. */
  size_t offs[PZ_CLUSTER_RECORD_BATCH * RECORD_ARGS + 1];
} batch_t;

static void put(batch_t *b, const void *data, size_t len) {
  b->offs[b->n++] = b->cw->sb.size;
  msgpack_sbuffer_write(&b->cw->sb, data, len);
}

static void put_u64(batch_t *b, uint64_t v) {
  char s[24];
  put(b, s, (size_t)snprintf(s, sizeof(s), "%llu", (unsigned long long)v));
}

static void on_written(redisAsyncContext *ac, void *reply, void *pd) {
  redisReply *r = reply;
  if (r && r->type == REDIS_REPLY_ERROR)
    pz_warn("redis: session records: %s", r->str);
}

static void send_batch(batch_t *b) {
  pz_cwork_t *cw = b->cw;
  if (b->n == 0)
    return;
  int argc = 1 + b->n;
  const char **args = pz_xmalloc((size_t)argc * sizeof(*args));
  size_t *lens = pz_xmalloc((size_t)argc * sizeof(*lens));
  char node[16];
  args[0] = node;
  lens[0] = (size_t)snprintf(node, sizeof(node), "%u", cw->cl->node);
  b->offs[b->n] = cw->sb.size;
  for (int i = 0; i < b->n; i++) {
    args[1 + i] = cw->sb.data + b->offs[i];
    lens[1 + i] = b->offs[i + 1] - b->offs[i];
  }
  pz_cluster_eval(cw, on_written, NULL, pz_script_records, argc, args, lens);
  free(args);
  free(lens);
  b->n = 0;
  cw->sb.size = 0;
}

static void put_record(batch_t *b, pz_session_t *s, uint64_t now, bool list) {
  pz_cwork_t *cw = b->cw;
  char hash[65], token[PZ_SESSION_TOKEN_MAX + 1];
  token_hash(token, (size_t)pz_session_token(s, token), hash);
  put_u64(b, s->id);
  put_u64(b, s->gen);
  put(b, hash, strlen(hash));
  uint64_t ttl = PZ_CLUSTER_RECORD_TTL_MS;
  if (!s->outlet) /* detached: resumable until its grace period ends */
    ttl = s->expires_ms > now ? s->expires_ms - now : 1;
  put_u64(b, ttl);
  put(b, list ? "1" : "", list ? 1 : 0);
  /* The SESSION message itself, encoded in place. */
  const pz_room_t *r = s->room;
  char addr[PZ_ADDR_MAX];
  pz_busmsg_record_t rec = {
      .id = s->id,
      .token_hash = {"", 0},
      .name = pz_session_name(s),
      .room = r ? (pz_str_t){r->name, r->name_len} : (pz_str_t){"", 0},
      .sub = s->grant ? (pz_str_t){s->grant->sub, s->grant->sub_len}
                      : (pz_str_t){"", 0},
      .addr = pz_cluster_addr(s, addr),
      .pos = s->pos,
      .seq = s->seq,
      .chat_seq = r ? r->chat_seq : 0,
      .has_seq = s->has_seq,
      .placed = s->placed,
      .gen = s->gen,
      .state = pz_session_state(s),
      .has_view = s->view != NULL,
      .view_compact = s->view && s->view->compact,
      .view_radius = s->view ? s->view->radius : 0,
  };
  b->offs[b->n++] = cw->sb.size;
  pz_busmsg_session(&cw->pk, cw->cl->node, &rec);
  if (b->n == PZ_CLUSTER_RECORD_BATCH * RECORD_ARGS)
    send_batch(b);
}

/* The records of sessions that ended go. */
static void put_ended(batch_t *b) {
  pz_cwork_t *cw = b->cw;
  for (uint32_t i = 0; i < cw->n_ended; i++) {
    put_u64(b, cw->ended[i].id);
    put_u64(b, cw->ended[i].gen);
    put(b, "", 0);
    put(b, "0", 1);
    put(b, "", 0);
    put(b, "", 0);
    if (b->n == PZ_CLUSTER_RECORD_BATCH * RECORD_ARGS)
      send_batch(b);
  }
  cw->n_ended = 0;
}

static batch_t *batch_new(pz_cwork_t *cw) {
  batch_t *b = pz_xmalloc(sizeof(*b));
  b->cw = cw;
  b->n = 0;
  cw->sb.size = 0;
  return b;
}

void pz_records_flush(pz_cwork_t *cw, uint64_t now, bool all) {
  if (!pz_rlink_up(cw->link))
    return; /* what changed waits: the relink writes every record */
  batch_t *b = batch_new(cw);
  put_ended(b);
  pz_session_t *s;
  uint32_t pos = 0;
  while ((s = pz_idmap_next(&pz_cluster_shard(cw)->sessions, &pos))) {
    bool full = all || (s->changed & PZ_SESSION_CHANGED);
    bool due = full ||
               ((s->changed & PZ_SESSION_MOVED) &&
                now - s->bus_ms >= PZ_CLUSTER_RECORD_MS) ||
               (s->outlet && now - s->bus_ms >= PZ_CLUSTER_RECORD_TTL_MS / 2);
    if (!due)
      continue;
    put_record(b, s, now, full);
    s->changed = 0;
    s->bus_ms = now;
  }
  send_batch(b);
  free(b);
}

void pz_records_session_ended(pz_cwork_t *cw, const pz_session_t *s) {
  if (cw->n_ended == cw->cap_ended) {
    cw->cap_ended = cw->cap_ended ? cw->cap_ended * 2 : 16;
    cw->ended = pz_xrealloc(cw->ended, cw->cap_ended * sizeof(*cw->ended));
  }
  cw->ended[cw->n_ended++] = (pz_record_end_t){s->id, s->gen};
  /* At once: a session that ended (a kick, its grace over) must not be
   * resumed anywhere a moment later. Unlinked, it waits for the relink. */
  if (pz_rlink_up(cw->link)) {
    batch_t *b = batch_new(cw);
    put_ended(b);
    send_batch(b);
    free(b);
  }
  /* A session of another node that lived here: its directory entry goes,
   * if it still names this node. */
  if (pz_id_node(s->id) != cw->cl->node) {
    char ids[24], where[32];
    int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)s->id);
    int wl = pz_cluster_where(cw, s->id, where, sizeof(where));
    const char *args[] = {ids, where};
    size_t lens[] = {(size_t)il, (size_t)wl};
    pz_cluster_eval(cw, NULL, NULL, pz_script_unlist, 2, args, lens);
  }
}

/* ---- taking a record: resume on this node ------------------------------- */

typedef struct take_req {
  pz_cwork_t *cw;
  void *hold;
} take_req_t;

static void on_taken(redisAsyncContext *ac, void *reply, void *pd) {
  take_req_t *q = pd;
  pz_cwork_t *cw = q->cw;
  redisReply *r = reply;
  pz_busmsg_t m;
  bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_INTEGER &&
            pz_busmsg_decode((const uint8_t *)r->element[0]->str,
                             r->element[0]->len, &m) == 0 &&
            m.type == PZ_BUS_SESSION;
  if (r && r->type == REDIS_REPLY_ARRAY && !ok)
    pz_cluster_bad(cw, "session record");
  if (r && r->type == REDIS_REPLY_ERROR)
    pz_warn("redis: resume: %s", r->str);
  if (!ok) {
    cw->bw.up->resumed(cw->bw.ctx, q->hold, NULL);
    free(q);
    return;
  }
  pz_bus_record_t rec = {
      .id = m.u.session.id,
      .gen = (uint32_t)r->element[1]->integer,
      .name = m.u.session.name,
      .room = m.room,
      .sub = m.u.session.sub,
      .addr = m.u.session.addr,
      .state = m.u.session.state,
      .pos = m.u.session.pos,
      .seq = m.u.session.seq,
      .has_seq = m.u.session.has_seq,
      .placed = m.u.session.placed,
      .has_view = m.u.session.has_view,
      .view_compact = m.u.session.view_compact,
      .view_radius = m.u.session.view_radius,
  };
  cw->bw.up->resumed(cw->bw.ctx, q->hold, &rec);
  free(q);
}

int pz_records_resume(pz_cwork_t *cw, void *hold, uint64_t id, pz_str_t token) {
  if (!pz_rlink_up(cw->link))
    return PZ_ECLOSED;
  char ids[24], hash[65], node[16], where[32] = "", dflt[48], ttl[16];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
  token_hash(token.ptr, token.len, hash);
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->node);
  /* Back on its own node the id finds it: no directory entry. */
  int wl = pz_id_node(id) == cw->cl->node
               ? 0
               : pz_cluster_where(cw, id, where, sizeof(where));
  int dl = snprintf(dflt, sizeof(dflt), "plaza:node:%u:w%u", pz_id_node(id),
                    pz_id_worker(id));
  int tl = snprintf(ttl, sizeof(ttl), "%u", PZ_CLUSTER_RECORD_TTL_MS);
  const char *args[] = {ids, hash, node, where, dflt, ttl};
  size_t lens[] = {(size_t)il, strlen(hash), (size_t)nl,
                   (size_t)wl, (size_t)dl,   (size_t)tl};
  take_req_t *q = pz_xmalloc(sizeof(*q));
  *q = (take_req_t){cw, hold};
  int r = pz_cluster_eval(cw, on_taken, q, pz_script_take, 6, args, lens);
  if (r != 0)
    free(q);
  return r;
}
