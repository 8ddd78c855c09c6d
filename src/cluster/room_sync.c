/*
 * A room's events in offset order (see scripts.h for how Redis numbers
 * them). Per room with local members this worker keeps where it stands:
 * the epoch and the last offset applied.
 *
 *   - Loading: once the room's channel is subscribed, one script returns
 *     the room's snapshot (presence, chat history) with its epoch and
 *     offset in one step, so nothing said between the subscription and the
 *     snapshot is missed or applied twice: events at or below the offset
 *     are in the snapshot, later ones follow it. Events that arrive before
 *     the snapshot wait.
 *   - Gaps: an event past the next offset waits, and the missing ones are
 *     read from the room's log (XRANGE). A log that no longer reaches back
 *     that far (trimmed, or expired) means reading the room whole again.
 *   - A new epoch (Redis lost the room: a restart without data, a flush):
 *     this node tells Redis again what it holds of the room (its members,
 *     its chat seq and history), reads the snapshot without dropping
 *     anyone, and reads it whole once more PZ_CLUSTER_RESEED_MS later,
 *     when every node has re-announced, dropping then (with LEFT) whoever
 *     no node holds any more.
 *
 * A node's own JOIN and LEAVE were applied when its members acted; their
 * events only move the offset on. Everyone's CHAT is applied here, the
 * node's own included, so every member sees one order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "cluster.h"
#include "error.h"
#include "log.h"
#include "remote.h"
#include "scripts.h"

typedef struct held {
  uint64_t off;
  uint32_t len;
  uint8_t data[]; /* the inner message */
} held_t;

typedef struct pz_room_sync {
  struct pz_room_sync *prev, *next; /* the worker's, for disposal */
  uint64_t epoch, off;
  bool synced;        /* epoch and off are known (a snapshot was applied) */
  bool fetching;      /* an XRANGE or a snapshot is on its way */
  bool quiet_sweep;   /* the next snapshot must not drop anyone: a new epoch */
  uint64_t reload_at; /* a new epoch: read the room whole again then */
  held_t **held;      /* events past a gap, by offset */
  uint32_t n_held, cap_held;
} pz_room_sync_t;

/* What an asynchronous reply needs to find its room again (the room may
 * have closed, or closed and opened again, meanwhile). */
typedef struct room_ref {
  pz_cwork_t *cw;
  uint32_t gen;
  uint8_t len;
  char name[PZ_ROOM_NAME_MAX + 1];
} room_ref_t;

static pz_str_t room_str(const pz_room_t *r) {
  return (pz_str_t){r->name, r->name_len};
}

static room_ref_t *ref_new(pz_cwork_t *cw, const pz_room_t *r) {
  room_ref_t *q = pz_xmalloc(sizeof(*q));
  q->cw = cw;
  q->gen = r->gen;
  q->len = r->name_len;
  memcpy(q->name, r->name, r->name_len);
  return q;
}

static pz_room_t *ref_room(const room_ref_t *q) {
  pz_room_t *r =
      pz_shard_room_find(pz_cluster_shard(q->cw), (pz_str_t){q->name, q->len});
  return r && r->gen == q->gen && r->sync ? r : NULL;
}

/* A read for the room answered: the room (NULL when the node is closing
 * or the room went meanwhile), no longer fetching. Frees q. */
static pz_room_t *fetched(room_ref_t *q) {
  pz_room_t *r = q->cw->closing ? NULL : ref_room(q);
  free(q);
  if (r)
    r->sync->fetching = false;
  return r;
}

static void held_clear(pz_room_sync_t *y) {
  for (uint32_t i = 0; i < y->n_held; i++)
    free(y->held[i]);
  y->n_held = 0;
}

/* ---- open, close, ROOM waiting for the snapshot ---------------------------
 */

static pz_room_sync_t **list_of(pz_cwork_t *cw) {
  return (pz_room_sync_t **)&cw->syncs;
}

void pz_room_sync_open(pz_cwork_t *cw, pz_room_t *r) {
  pz_room_sync_t *y = pz_xcalloc(1, sizeof(*y));
  r->sync = y;
  DL_APPEND(*list_of(cw), y);
}

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

void pz_room_sync_wait(pz_cwork_t *cw, pz_room_t *r) {
  if (cw->n_loads == cw->cap_loads) {
    cw->cap_loads = cw->cap_loads ? cw->cap_loads * 2 : 8;
    cw->loads = pz_xrealloc(cw->loads, cw->cap_loads * sizeof(*cw->loads));
  }
  pz_room_load_t *l = &cw->loads[cw->n_loads++];
  memcpy(l->name, r->name, r->name_len);
  l->len = r->name_len;
  l->gen = r->gen;
  l->deadline_ms = pz_cluster_now(cw) + PZ_CLUSTER_LOAD_MS;
}

static void sync_free(pz_room_sync_t *y) {
  held_clear(y);
  free(y->held);
  free(y);
}

void pz_room_sync_close(pz_cwork_t *cw, pz_room_t *r) {
  pz_room_sync_t *y = r->sync;
  loads_remove(cw, room_str(r), r->gen);
  if (!y)
    return;
  DL_DELETE(*list_of(cw), y);
  sync_free(y);
  r->sync = NULL;
}

void pz_room_sync_dispose(pz_cwork_t *cw) {
  pz_room_sync_t *y, *tmp;
  DL_FOREACH_SAFE(*list_of(cw), y, tmp) {
    DL_DELETE(*list_of(cw), y);
    sync_free(y);
  }
  free(cw->loads);
  cw->loads = NULL;
}

/* ---- applying one event ---------------------------------------------------
 */

bool pz_presence_value(pz_cwork_t *cw, const char *v, size_t len,
                       pz_busmsg_t *m) {
  const char *bar = memchr(v, '|', len < 32 ? len : 32);
  if (bar &&
      pz_busmsg_decode((const uint8_t *)bar + 1, len - (size_t)(bar + 1 - v),
                       m) == 0 &&
      m->type == PZ_BUS_JOIN)
    return true;
  pz_cluster_bad(cw, "presence entry");
  return false;
}

/* A member of another node is in the room (a JOIN, or a snapshot's entry).
 * Its copy here, if this node held an older generation of the session,
 * goes without LEFT: the session went on there. */
static void remote_member(pz_cwork_t *cw, pz_room_t *r, const pz_busmsg_t *m) {
  pz_shard_t *sh = pz_cluster_shard(cw);
  const pz_member_t *jm = &m->u.join.m;
  bool was_local = false;
  pz_session_t *s = pz_shard_session_find(sh, jm->id);
  if (s && s->room == r) {
    if (s->gen >= m->u.join.gen)
      return; /* an older generation announced late: ours is newer */
    cw->bw.up->member_moved(cw->bw.ctx, s);
    was_local = true;
    r = pz_shard_room_find(sh, (pz_str_t){m->room.ptr, m->room.len});
    if (!r || !r->sync)
      return; /* it was the last one here: the room closed */
  }
  pz_remote_t *known = pz_shard_remote_find(r, jm->id);
  if (known && known->gen > m->u.join.gen)
    return;
  /* A QUIET join continues a member every node of the room has seen (a
   * resume elsewhere): never JOINED, even where its old copy is already
   * gone. Otherwise JOINED where it is new. */
  bool quiet = m->u.join.flags & PZ_BUS_JOIN_QUIET;
  pz_shard_remote_join_state(sh, r, jm, m->u.join.state, m->node,
                             !quiet && !was_local);
  pz_remote_t *rm = pz_shard_remote_find(r, jm->id);
  if (rm)
    rm->gen = m->u.join.gen;
}

static void apply(pz_cwork_t *cw, pz_room_t *r, const uint8_t *data,
                  size_t len) {
  pz_busmsg_t m;
  if (pz_busmsg_decode(data, len, &m) != 0 || m.room.len != r->name_len ||
      memcmp(m.room.ptr, r->name, r->name_len) != 0) {
    pz_cluster_bad(cw, "room event");
    return;
  }
  bool mine = m.node == cw->cl->node;
  pz_shard_t *sh = pz_cluster_shard(cw);
  switch (m.type) {
  case PZ_BUS_JOIN:
    if (!mine)
      remote_member(cw, r, &m);
    break;
  case PZ_BUS_LEAVE: {
    pz_remote_t *rm = mine ? NULL : pz_shard_remote_find(r, m.u.leave.id);
    if (rm && rm->node == m.node) /* not a late one from a former node */
      pz_shard_remote_leave(sh, r, m.u.leave.id, true);
    break;
  }
  case PZ_BUS_CHAT:
    pz_shard_remote_chat(sh, r, &m.u.chat);
    break;
  case PZ_BUS_MEMBER: {
    /* This node's own members had their MEMBER when they set. */
    pz_remote_t *rm = mine ? NULL : pz_shard_remote_find(r, m.u.member.id);
    if (rm && rm->node == m.node &&
        !pz_shard_remote_member_state(sh, r, m.u.member.id, m.u.member.patch))
      pz_cluster_bad(cw, "member state patch");
    break;
  }
  case PZ_BUS_ROOM_STATE: /* everyone's, this node's own sets included */
    pz_shard_room_state_apply(sh, r, m.u.room_state.key, m.u.room_state.value,
                              m.u.room_state.version, m.u.room_state.by);
    break;
  default:
    pz_cluster_bad(cw, "event type");
  }
}

/* ---- order ----------------------------------------------------------------
 */

static void fetch(pz_cwork_t *cw, pz_room_t *r);
static void load(pz_cwork_t *cw, pz_room_t *r);

static void hold(pz_room_sync_t *y, uint64_t off, const uint8_t *data,
                 size_t len) {
  uint32_t i = y->n_held;
  while (i > 0 && y->held[i - 1]->off > off)
    i--;
  if (i > 0 && y->held[i - 1]->off == off)
    return; /* held already */
  if (y->n_held == y->cap_held) {
    y->cap_held = y->cap_held ? y->cap_held * 2 : 8;
    y->held = pz_xrealloc(y->held, y->cap_held * sizeof(*y->held));
  }
  held_t *h = pz_xmalloc(sizeof(*h) + len);
  h->off = off;
  h->len = (uint32_t)len;
  memcpy(h->data, data, len);
  memmove(y->held + i + 1, y->held + i, (y->n_held - i) * sizeof(*y->held));
  y->held[i] = h;
  y->n_held++;
}

/* Applies what is held and now in order; the room may close meanwhile
 * (returns it, or NULL). */
static pz_room_t *drain_held(pz_cwork_t *cw, pz_room_t *r) {
  pz_str_t name = room_str(r);
  uint32_t gen = r->gen;
  char keep[PZ_ROOM_NAME_MAX];
  memcpy(keep, name.ptr, name.len);
  name.ptr = keep;
  while (r && r->sync->n_held) {
    pz_room_sync_t *y = r->sync;
    held_t *h = y->held[0];
    if (h->off > y->off + 1)
      break;
    memmove(y->held, y->held + 1, (y->n_held - 1) * sizeof(*y->held));
    y->n_held--;
    if (h->off == y->off + 1) {
      y->off = h->off;
      apply(cw, r, h->data, h->len);
    }
    free(h);
    r = pz_shard_room_find(pz_cluster_shard(cw), name);
    if (r && (r->gen != gen || !r->sync))
      r = NULL;
  }
  return r;
}

/* One event of the room at (epoch, off): applied in order, held past a
 * gap, dropped when already applied. */
static void event(pz_cwork_t *cw, pz_room_t *r, uint64_t epoch, uint64_t off,
                  const uint8_t *data, size_t len) {
  pz_room_sync_t *y = r->sync;
  /* What is not ours does not move the order on: only the script numbers
   * events, and it logs each; a bad one published by hand is dropped. (A
   * bad one the log holds is passed over by the repair, in apply.) */
  pz_busmsg_t in;
  if (pz_busmsg_decode(data, len, &in) != 0 || in.room.len != r->name_len ||
      memcmp(in.room.ptr, r->name, r->name_len) != 0) {
    pz_cluster_bad(cw, "room event");
    return;
  }
  if (!y->synced || y->fetching) {
    if (y->n_held < PZ_CLUSTER_PENDING_MAX)
      hold(y, off, data, len); /* (past the bound the snapshot says it) */
    return;
  }
  if (epoch != y->epoch) {
    pz_info("redis: room %.*s starts over (epoch %llu, was %llu): Redis "
            "lost it; telling it again what this node holds",
            r->name_len, r->name, (unsigned long long)epoch,
            (unsigned long long)y->epoch);
    held_clear(y);
    pz_presence_reseed(cw, r);
    y->quiet_sweep = true;
    y->reload_at = pz_cluster_now(cw) + PZ_CLUSTER_RESEED_MS;
    load(cw, r);
    return;
  }
  if (off <= y->off)
    return; /* had it (a snapshot or the log brought it first) */
  if (off > y->off + 1) {
    if (y->n_held >= PZ_CLUSTER_PENDING_MAX) {
      held_clear(y);
      load(cw, r);
      return;
    }
    hold(y, off, data, len);
    fetch(cw, r);
    return;
  }
  y->off = off;
  pz_str_t name = room_str(r);
  uint32_t gen = r->gen;
  apply(cw, r, data, len);
  r = pz_shard_room_find(pz_cluster_shard(cw), name);
  if (r && r->gen == gen && r->sync && r->sync->n_held)
    drain_held(cw, r);
}

/* ---- repairing a gap from the log ---------------------------------------- */

static void on_range(redisAsyncContext *ac, void *reply, void *pd) {
  room_ref_t *q = pd;
  redisReply *rep = reply;
  pz_cwork_t *cw = q->cw;
  pz_room_t *r = fetched(q);
  if (!r)
    return;
  pz_room_sync_t *y = r->sync;
  if (!rep || rep->type != REDIS_REPLY_ARRAY)
    return; /* the link went down: the relink reads the room again */
  uint64_t want = y->off + 1;
  bool reaches = false;
  for (size_t i = 0; i < rep->elements; i++) {
    redisReply *e = rep->element[i];
    pz_busmsg_t m;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[1]->elements < 2 ||
        e->element[1]->element[1]->type != REDIS_REPLY_STRING ||
        pz_busmsg_decode((const uint8_t *)e->element[1]->element[1]->str,
                         e->element[1]->element[1]->len, &m) != 0 ||
        m.type != PZ_BUS_EVENT) {
      pz_cluster_bad(cw, "log entry");
      continue;
    }
    if (i == 0 && m.u.event.off <= want && m.u.event.epoch == y->epoch)
      reaches = true;
    if (m.u.event.epoch == y->epoch && m.u.event.off > y->off)
      hold(y, m.u.event.off, m.u.event.inner, m.u.event.inner_len);
  }
  atomic_fetch_add_explicit(&cw->cl->gaps, 1, memory_order_relaxed);
  if (!reaches) {
    pz_warn("redis: room %.*s: the log no longer reaches offset %llu; "
            "reading the room whole",
            r->name_len, r->name, (unsigned long long)want);
    held_clear(y);
    load(cw, r);
    return;
  }
  r = drain_held(cw, r);
  if (r && r->sync->n_held)
    fetch(cw, r); /* published meanwhile past what the log said */
}

static void fetch(pz_cwork_t *cw, pz_room_t *r) {
  pz_room_sync_t *y = r->sync;
  if (y->fetching)
    return;
  char key[PZ_CLUSTER_KEY_MAX], from[32];
  pz_cluster_room_key(key, room_str(r), ":log");
  snprintf(from, sizeof(from), "%llu-0", (unsigned long long)y->off + 1);
  room_ref_t *q = ref_new(cw, r);
  if (pz_rlink_command(cw->link, on_range, q, "XRANGE %s %s + COUNT %d", key,
                       from, PZ_ROOM_LOG_MAX) != 0) {
    free(q); /* unlinked: the relink reads the room again */
    return;
  }
  y->fetching = true;
}

/* ---- the snapshot ---------------------------------------------------------
 */

static void ready(pz_cwork_t *cw, pz_room_t *r) {
  loads_remove(cw, room_str(r), r->gen);
  pz_shard_room_ready(pz_cluster_shard(cw), r);
}

/* Chat the snapshot holds: what is newer than this node's history is
 * delivered in order; a first seq past the next one means chat was lost
 * (more missed than the history keeps): counted and logged. */
static void snapshot_chat(pz_cwork_t *cw, pz_room_t *r, redisReply *list) {
  pz_shard_t *sh = pz_cluster_shard(cw);
  uint64_t had = r->chat_seq;
  for (size_t i = 0; i < list->elements; i++) {
    pz_busmsg_t m;
    redisReply *v = list->element[i];
    if (v->type != REDIS_REPLY_STRING ||
        pz_busmsg_decode((const uint8_t *)v->str, v->len, &m) != 0 ||
        m.type != PZ_BUS_CHAT) {
      pz_cluster_bad(cw, "history entry");
      continue;
    }
    if (had && m.u.chat.seq > had + 1 && r->chat_seq == had) {
      uint64_t lost = m.u.chat.seq - had - 1;
      atomic_fetch_add_explicit(&cw->cl->chat_lost, lost, memory_order_relaxed);
      pz_warn("redis: room %.*s: %llu chat messages (seq %llu-%llu) are "
              "beyond the history and were not delivered here",
              r->name_len, r->name, (unsigned long long)lost,
              (unsigned long long)had + 1,
              (unsigned long long)m.u.chat.seq - 1);
    }
    pz_shard_remote_chat(sh, r, &m.u.chat);
  }
}

/* The room's state as Redis holds it: every key newer than this node's
 * copy is applied (ROOM_STATE to the local members, or ROOM carries it). */
static void snapshot_state(pz_cwork_t *cw, pz_room_t *r, redisReply *h) {
  for (size_t i = 0; i + 1 < h->elements; i += 2) {
    redisReply *k = h->element[i], *v = h->element[i + 1];
    char *bar1 =
        v->type == REDIS_REPLY_STRING ? memchr(v->str, '|', v->len) : NULL;
    char *bar2 =
        bar1 ? memchr(bar1 + 1, '|', v->len - (size_t)(bar1 + 1 - v->str))
             : NULL;
    pz_raw_t value = {NULL, 0};
    if (bar2 && (size_t)(bar2 + 1 - v->str) < v->len)
      value = (pz_raw_t){bar2 + 1,
                         (uint32_t)(v->len - (size_t)(bar2 + 1 - v->str))};
    if (k->type != REDIS_REPLY_STRING || k->len == 0 ||
        k->len > PZ_ROOM_KEY_MAX || !pz_utf8_valid(k->str, k->len) || !bar2 ||
        (value.ptr && !pz_busmsg_value_ok(value))) {
      pz_cluster_bad(cw, "room state entry");
      continue;
    }
    uint64_t version = strtoull(v->str, NULL, 10);
    uint64_t by = strtoull(bar1 + 1, NULL, 10);
    if (version)
      pz_shard_room_state_apply(pz_cluster_shard(cw), r,
                                (pz_str_t){k->str, (uint32_t)k->len}, value,
                                version, by);
  }
}

static void on_snapshot(redisAsyncContext *ac, void *reply, void *pd) {
  room_ref_t *q = pd;
  redisReply *rep = reply;
  pz_cwork_t *cw = q->cw;
  pz_room_t *r = fetched(q);
  if (!r)
    return;
  pz_room_sync_t *y = r->sync;
  if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 4 ||
      rep->element[0]->type != REDIS_REPLY_STRING ||
      rep->element[1]->type != REDIS_REPLY_STRING ||
      rep->element[2]->type != REDIS_REPLY_ARRAY ||
      rep->element[3]->type != REDIS_REPLY_ARRAY) {
    if (rep)
      pz_warn("redis: room %.*s: snapshot failed%s%s", r->name_len, r->name,
              rep->type == REDIS_REPLY_ERROR ? ": " : "",
              rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    return; /* unlinked: the relink reads it again; ROOM waits its time */
  }
  uint64_t epoch = strtoull(rep->element[0]->str, NULL, 10);
  uint64_t off = strtoull(rep->element[1]->str, NULL, 10);
  pz_shard_t *sh = pz_cluster_shard(cw);
  if (y->epoch && epoch != y->epoch && !y->quiet_sweep) {
    /* Found at a relink: Redis lost the room while we were away. */
    pz_info("redis: room %.*s starts over (epoch %llu, was %llu): telling "
            "Redis again what this node holds",
            r->name_len, r->name, (unsigned long long)epoch,
            (unsigned long long)y->epoch);
    y->epoch = epoch;
    y->quiet_sweep = true;
    y->reload_at = pz_cluster_now(cw) + PZ_CLUSTER_RESEED_MS;
    pz_presence_reseed(cw, r);
    load(cw, r);
    return;
  }
  bool sweep = !y->quiet_sweep;
  y->quiet_sweep = false;
  pz_shard_remote_unmark(r);
  redisReply *pres = rep->element[2];
  uint32_t gen = r->gen;
  char name[PZ_ROOM_NAME_MAX];
  uint8_t nlen = r->name_len;
  memcpy(name, r->name, nlen);
  for (size_t i = 0; r && i + 1 < pres->elements; i += 2) {
    pz_busmsg_t m;
    redisReply *v = pres->element[i + 1];
    if (v->type == REDIS_REPLY_STRING &&
        pz_presence_value(cw, v->str, v->len, &m) &&
        m.node != cw->cl->node) { /* our own are the shard's already */
      remote_member(cw, r, &m);
      r = pz_shard_room_find(sh, (pz_str_t){name, nlen});
      if (r && (r->gen != gen || !r->sync))
        r = NULL;
    }
  }
  if (!r)
    return; /* its last local member went on elsewhere */
  /* Members the snapshot no longer holds left while we were not looking. */
  if (sweep)
    pz_shard_remote_sweep(sh, r);
  snapshot_chat(cw, r, rep->element[3]);
  if (rep->elements > 4 && rep->element[4]->type == REDIS_REPLY_ARRAY)
    snapshot_state(cw, r, rep->element[4]);
  y = r->sync;
  y->epoch = epoch;
  y->off = off;
  y->synced = true;
  atomic_fetch_add_explicit(&cw->cl->reloads, 1, memory_order_relaxed);
  /* What waited: the part past the snapshot, in order. */
  uint32_t k = 0;
  while (k < y->n_held && y->held[k]->off <= off)
    free(y->held[k++]);
  if (k) { /* held is NULL until something was held */
    memmove(y->held, y->held + k, (y->n_held - k) * sizeof(*y->held));
    y->n_held -= k;
  }
  ready(cw, r);
  r = pz_shard_room_find(sh, (pz_str_t){name, nlen});
  if (r && r->gen == gen && r->sync) {
    r = drain_held(cw, r);
    if (r && r->sync->n_held)
      fetch(cw, r);
  }
}

static void load(pz_cwork_t *cw, pz_room_t *r) {
  pz_room_sync_t *y = r->sync;
  room_ref_t *q = ref_new(cw, r);
  const char *args[] = {r->name};
  size_t lens[] = {r->name_len};
  if (pz_cluster_eval(cw, on_snapshot, q, pz_script_load, 1, args, lens) != 0) {
    free(q);
    return; /* unlinked: the relink reads it */
  }
  y->fetching = true;
}

void pz_room_sync_subscribed(pz_cwork_t *cw, pz_str_t room) {
  pz_room_t *r = pz_shard_room_find(pz_cluster_shard(cw), room);
  if (r && r->sync) {
    r->sync->synced = false; /* events wait for the snapshot */
    load(cw, r);
  }
}

/* ---- what arrives on a room's channel -------------------------------------
 */

void pz_room_sync_message(pz_cwork_t *cw, pz_str_t name, const pz_busmsg_t *m) {
  pz_room_t *r = pz_shard_room_find(pz_cluster_shard(cw), name);
  if (!r || !r->sync)
    return; /* its last local member left meanwhile */
  switch (m->type) {
  case PZ_BUS_EVENT:
    event(cw, r, m->u.event.epoch, m->u.event.off, m->u.event.inner,
          m->u.event.inner_len);
    break;
  case PZ_BUS_SIGNAL:
    /* A member's reached this node's members when it was sent; the
     * server's (from 0, the admin API) reaches every node this way. */
    if (m->node != cw->cl->node || m->u.signal.from == 0)
      pz_shard_remote_signal(pz_cluster_shard(cw), r, m->u.signal.from,
                             m->u.signal.name, m->u.signal.kind,
                             m->u.signal.data, m->u.signal.ts_ms);
    break;
  case PZ_BUS_STATE: {
    if (m->node == cw->cl->node)
      return;
    pz_bus_state_it_t it = m->u.state.it;
    pz_state_entry_t e;
    while (pz_busmsg_state_next(&it, &e))
      pz_shard_remote_state(pz_cluster_shard(cw), r, &e);
    break;
  }
  default:
    pz_cluster_bad(cw, "type not for a room channel");
  }
}

void pz_room_sync_sweep(pz_cwork_t *cw, uint64_t now_ms) {
  pz_shard_t *sh = pz_cluster_shard(cw);
  for (uint32_t i = 0; i < cw->n_loads;) {
    pz_room_load_t *l = &cw->loads[i];
    if (l->deadline_ms > now_ms) {
      i++;
      continue;
    }
    pz_room_t *r = pz_shard_room_find(sh, (pz_str_t){l->name, l->len});
    if (r && r->gen == l->gen && r->loading) {
      pz_warn("redis: room %.*s: no answer within %d ms; ROOM lists this "
              "node's members only",
              l->len, l->name, PZ_CLUSTER_LOAD_MS);
      pz_shard_room_ready(sh, r);
    }
    cw->loads[i] = cw->loads[--cw->n_loads];
  }
  pz_room_sync_t *y;
  DL_FOREACH(*list_of(cw), y) {
    if (!y->reload_at || y->reload_at > now_ms || y->fetching)
      continue;
    y->reload_at = 0;
    /* The room owning y: look it up by walking the shard's rooms (rare). */
    pz_room_t *r, *tmp;
    HASH_ITER(hh, sh->rooms, r, tmp) {
      if (r->sync == y) {
        load(cw, r);
        break;
      }
    }
  }
}
