/*
 * What local members do, told to the cluster: the shard's hooks (see
 * shard.h) and what keeps them exact when the link to Redis drops.
 *
 * Per join: EVAL join (the presence entry, the JOIN event). The first
 * local member of a room also subscribes its channel; its ROOM waits for
 * the room's snapshot (room_sync.c). Per leave: EVAL leave. Per chat: EVAL
 * chat (numbered in Redis; it reaches the local members through the room's
 * events like everyone's, so every member sees one order). Per tick: one
 * PUBLISH per room with local changes while another node has members
 * there.
 *
 * The journal. A LEAVE (or a session's end) that cannot reach Redis, and
 * a command whose answer a dropped link lost, is kept, in order, and sent
 * again when the link is back, before the node announces its members
 * again: so a member who left while the node was unlinked does not stay
 * listed anywhere (no ghosts). A chat is kept the same way when its
 * answer was lost: its idempotency key makes the script number it once
 * whether or not the first attempt had reached Redis. A chat asked for
 * while unlinked is refused (ERROR 10): numbering it here would fork the
 * room's order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cluster.h"
#include "room_state.h"
#include "log.h"
#include "scripts.h"

#define ARGS_MAX 12

struct pz_journal_entry;
/* What Redis answered (never NULL) means for the one who asked. */
typedef void (*answer_fn)(pz_cwork_t *cw, struct pz_journal_entry *e,
                          redisReply *r);

/* A command kept until Redis has answered it. */
typedef struct pz_journal_entry {
  struct pz_journal_entry *next;
  pz_cwork_t *cw;
  const char *script;
  answer_fn answer; /* NULL: nobody waits */
  uint64_t sender;  /* who asked (a chat, a ROOM_SET) */
  int argc;
  size_t lens[ARGS_MAX];
  char data[]; /* the arguments, one after another */
} pz_journal_entry_t;

static pz_str_t room_str(const pz_room_t *r) {
  return (pz_str_t){r->name, r->name_len};
}

static pz_journal_entry_t *entry_new(pz_cwork_t *cw, const char *script,
                                     int argc, const char **args,
                                     const size_t *lens, answer_fn answer,
                                     uint64_t sender) {
  size_t total = 0;
  for (int i = 0; i < argc; i++)
    total += lens[i];
  pz_journal_entry_t *e = pz_xmalloc(sizeof(*e) + total);
  e->next = NULL;
  e->cw = cw;
  e->script = script;
  e->answer = answer;
  e->argc = argc;
  e->sender = sender;
  char *p = e->data;
  for (int i = 0; i < argc; i++) {
    e->lens[i] = lens[i];
    if (lens[i])
      memcpy(p, args[i], lens[i]);
    p += lens[i];
  }
  return e;
}

static void keep(pz_cwork_t *cw, pz_journal_entry_t *e) {
  if (cw->n_journal >= PZ_CLUSTER_JOURNAL_MAX) {
    pz_warn("redis: worker %d: journal full (%u changes while unlinked); "
            "one is lost",
            cw->bw.index, cw->n_journal);
    free(e);
    return;
  }
  e->next = NULL;
  *cw->journal_tail = e;
  cw->journal_tail = &e->next;
  cw->n_journal++;
  atomic_fetch_add_explicit(&cw->cl->journalled, 1, memory_order_relaxed);
}

/* An ERROR for session `id`, routed on this node. */
static void tell(pz_cwork_t *cw, uint64_t id, int code, int op,
                 const char *msg) {
  pz_delivery_t d = {.kind = PZ_DELIVER_ERROR,
                     .to = id,
                     .text = {msg, (uint32_t)strlen(msg)},
                     .code = code,
                     .op = op};
  cw->bw.up->deliver(cw->bw.ctx, &d);
}

/* A chat Redis refused (a script error) was not numbered: the client may
 * send it again. */
static void chat_answer(pz_cwork_t *cw, pz_journal_entry_t *e, redisReply *r) {
  if (r->type == REDIS_REPLY_ERROR)
    tell(cw, e->sender, PZ_ERR_OVERLOADED, PZ_C_CHAT,
         "chat unavailable: the cluster refused it, try again");
}

static void send_entry(pz_cwork_t *cw, pz_journal_entry_t *e);

static void on_kept_reply(redisAsyncContext *ac, void *reply, void *pd) {
  pz_journal_entry_t *e = pd;
  pz_cwork_t *cw = e->cw;
  redisReply *r = reply;
  if (!r) { /* the link went down with it on the way: again on relink */
    if (cw->closing)
      free(e);
    else
      keep(cw, e);
    return;
  }
  if (r->type == REDIS_REPLY_ERROR)
    pz_warn("redis: script failed: %s", r->str);
  if (e->answer && !cw->closing)
    e->answer(cw, e, r);
  free(e);
}

static void send_entry(pz_cwork_t *cw, pz_journal_entry_t *e) {
  const char *args[ARGS_MAX];
  const char *p = e->data;
  for (int i = 0; i < e->argc; i++) {
    args[i] = p;
    p += e->lens[i];
  }
  if (pz_cluster_eval(cw, on_kept_reply, e, e->script, e->argc, args,
                      e->lens) != 0)
    keep(cw, e);
}

/* Runs a script whose effect must not be lost: now, or on relink. */
static void eval_kept(pz_cwork_t *cw, const char *script, int argc,
                      const char **args, const size_t *lens, answer_fn answer,
                      uint64_t sender) {
  pz_journal_entry_t *e =
      entry_new(cw, script, argc, args, lens, answer, sender);
  if (pz_rlink_up(cw->link))
    send_entry(cw, e);
  else
    keep(cw, e);
}

static void journal_replay(pz_cwork_t *cw) {
  pz_journal_entry_t *e = cw->journal;
  uint32_t n = cw->n_journal;
  cw->journal = NULL;
  cw->journal_tail = &cw->journal;
  cw->n_journal = 0;
  if (n)
    pz_info("redis: worker %d: sending %u changes made while unlinked",
            cw->bw.index, n);
  while (e) {
    pz_journal_entry_t *next = e->next;
    send_entry(cw, e); /* a failure keeps it again, in order */
    e = next;
  }
}

void pz_presence_dispose(pz_cwork_t *cw) {
  pz_journal_entry_t *e = cw->journal;
  while (e) {
    pz_journal_entry_t *next = e->next;
    free(e);
    e = next;
  }
  cw->journal = NULL;
  cw->journal_tail = &cw->journal;
  cw->n_journal = 0;
}

/* ---- announcing --------------------------------------------------------- */

static void on_script(redisAsyncContext *ac, void *reply, void *pd) {
  redisReply *r = reply;
  if (r && r->type == REDIS_REPLY_ERROR)
    pz_warn("redis: script failed: %s", r->str);
}

pz_str_t pz_cluster_addr(const pz_session_t *s, char *buf) {
  if (!s->addr.family)
    return (pz_str_t){"", 0};
  pz_ip_format(&s->addr, buf, PZ_ADDR_MAX);
  return (pz_str_t){buf, strlen(buf)};
}

void pz_presence_announce(pz_cwork_t *cw, pz_room_t *r, pz_session_t *s,
                          uint32_t flags) {
  pz_member_t m = {s->id, pz_session_name(s), s->pos};
  char addr[PZ_ADDR_MAX];
  pz_busmsg_join(pz_cluster_begin(cw), cw->cl->node, room_str(r), &m, flags,
                 s->gen, pz_session_state(s), pz_cluster_addr(s, addr));
  char ids[24], node[16], gen[16], ttl[16];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)s->id);
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->node);
  int gl = snprintf(gen, sizeof(gen), "%u", s->gen);
  int tl = snprintf(ttl, sizeof(ttl), "%u", cw->cl->room_ttl_ms);
  const char *args[] = {r->name, ids, node, gen, cw->sb.data, ttl};
  size_t lens[] = {r->name_len, (size_t)il,  (size_t)nl,
                   (size_t)gl,  cw->sb.size, (size_t)tl};
  /* Unlinked, nothing is kept: the relink announces whoever is here. */
  pz_cluster_eval(cw, on_script, NULL, pz_script_join, 6, args, lens);
}

void pz_presence_relink(pz_cwork_t *cw) {
  journal_replay(cw);
  pz_shard_t *sh = pz_cluster_shard(cw);
  pz_room_t *r, *tmp;
  HASH_ITER(hh, sh->rooms, r, tmp) {
    /* Not QUIET: a member that came while unlinked is new to the others
     * (JOINED there); those who know it already hear nothing. */
    for (uint32_t i = 0; i < r->n_members; i++)
      pz_presence_announce(cw, r, r->members[i], 0);
    r->publish_all = true;
  }
}

void pz_presence_reseed(pz_cwork_t *cw, pz_room_t *r) {
  for (uint32_t i = 0; i < r->n_members; i++)
    pz_presence_announce(cw, r, r->members[i], 0);
  r->publish_all = true;
  /* The chat seq never goes backwards, and the history and room state
   * this node holds seed the room's when Redis has none: one argument
   * per message, per key and per value, encoded one after another into
   * the scratch (offsets, since it grows). */
  pz_rstate_t *st = pz_shard_room_state_find(pz_cluster_shard(cw), room_str(r));
  uint32_t n = r->chat.count;
  uint32_t nk = st ? HASH_COUNT(st->keys) : 0;
  uint32_t argc = 3 + n + 2 * nk;
  const char **args = pz_xmalloc(argc * sizeof(*args));
  size_t *lens = pz_xmalloc(argc * sizeof(*lens));
  size_t *offs = pz_xmalloc((argc + 1) * sizeof(*offs));
  msgpack_packer *pk = pz_cluster_begin(cw);
  char head[24];
  uint32_t k = 0;
  offs[k++] = cw->sb.size;
  msgpack_sbuffer_write(&cw->sb, r->name, r->name_len);
  offs[k++] = cw->sb.size;
  msgpack_sbuffer_write(&cw->sb, head,
                        (size_t)snprintf(head, sizeof(head), "%llu",
                                         (unsigned long long)r->chat_seq));
  offs[k++] = cw->sb.size;
  msgpack_sbuffer_write(&cw->sb, head,
                        (size_t)snprintf(head, sizeof(head), "%u", n));
  for (uint32_t i = 0; i < n; i++) {
    offs[k++] = cw->sb.size;
    pz_busmsg_chat(pk, cw->cl->node, room_str(r),
                   pz_chat_history_at(&r->chat, i));
  }
  pz_rkey_t *key, *tmp;
  if (st)
    HASH_ITER(hh, st->keys, key, tmp) {
      offs[k++] = cw->sb.size;
      msgpack_sbuffer_write(&cw->sb, key->key, key->key_len);
      offs[k++] = cw->sb.size;
      int hl = snprintf(head, sizeof(head), "%llu|%llu|",
                        (unsigned long long)key->version,
                        (unsigned long long)key->by);
      msgpack_sbuffer_write(&cw->sb, head, (size_t)hl);
      if (key->value)
        msgpack_sbuffer_write(&cw->sb, key->value, key->value_len);
    }
  offs[k] = cw->sb.size;
  for (uint32_t i = 0; i < argc; i++) {
    args[i] = cw->sb.data + offs[i];
    lens[i] = offs[i + 1] - offs[i];
  }
  pz_cluster_eval(cw, on_script, NULL, pz_script_reseed, (int)argc, args, lens);
  free(args);
  free(lens);
  free(offs);
}

/* ---- hooks: local members ----------------------------------------------- */

static bool hook_room_open(void *ctx, pz_room_t *r) {
  pz_cwork_t *cw = ctx;
  char ch[PZ_CLUSTER_KEY_MAX];
  int n = pz_cluster_room_key(ch, room_str(r), "");
  pz_room_sync_open(cw, r);
  pz_rlink_subscribe(cw->link, ch, (size_t)n);
  if (!pz_rlink_up(cw->link))
    return false; /* local members only; the relink reads the rest */
  pz_room_sync_wait(cw, r);
  return true;
}

static void hook_room_close(void *ctx, pz_room_t *r) {
  pz_cwork_t *cw = ctx;
  char ch[PZ_CLUSTER_KEY_MAX];
  int n = pz_cluster_room_key(ch, room_str(r), "");
  pz_rlink_unsubscribe(cw->link, ch, (size_t)n);
  pz_room_sync_close(cw, r);
}

static void hook_joined(void *ctx, pz_room_t *r, pz_session_t *s) {
  pz_presence_announce(ctx, r, s, s->handoff ? PZ_BUS_JOIN_QUIET : 0);
}

static void hook_left(void *ctx, pz_room_t *r, pz_session_t *s) {
  pz_cwork_t *cw = ctx;
  pz_busmsg_leave(pz_cluster_begin(cw), cw->cl->node, room_str(r), s->id, 0);
  char ids[24], node[16], ttl[16];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)s->id);
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->node);
  int tl = snprintf(ttl, sizeof(ttl), "%u", cw->cl->room_ttl_ms);
  const char *args[] = {r->name, ids, node, cw->sb.data, ttl};
  size_t lens[] = {r->name_len, (size_t)il, (size_t)nl, cw->sb.size,
                   (size_t)tl};
  eval_kept(cw, pz_script_leave, 5, args, lens, NULL, 0);
}

static pz_shard_result_t hook_chat(void *ctx, pz_room_t *r, pz_session_t *s,
                                   pz_str_t text, uint64_t ts_ms) {
  pz_cwork_t *cw = ctx;
  /* Unlinked, the room's seq cannot be had: a chat numbered here would
   * fork the order and never reach the history in Redis. Refused, the
   * client may send it again. While the room loads (its subscription just
   * confirmed or not yet), the chat is numbered in Redis too: the
   * snapshot that follows, or the events, bring it back. */
  if (!pz_rlink_up(cw->link))
    return PZ_SHARD_UNAVAILABLE;
  char node[16], id[24], ts[24], floor[24], counter[24];
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->node);
  int il = snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
  int tl = snprintf(ts, sizeof(ts), "%llu", (unsigned long long)ts_ms);
  int fl =
      snprintf(floor, sizeof(floor), "%llu", (unsigned long long)r->chat_seq);
  int cl = snprintf(counter, sizeof(counter), "%llu",
                    (unsigned long long)++cw->chat_counter);
  const char *args[] = {r->name, node,  id,       s->name, text.ptr,
                        ts,      floor, cw->idem, counter};
  size_t lens[] = {r->name_len, (size_t)nl,       (size_t)il,
                   s->name_len, text.len,         (size_t)tl,
                   (size_t)fl,  strlen(cw->idem), (size_t)cl};
  eval_kept(cw, pz_script_chat, 9, args, lens, chat_answer, s->id);
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
  pz_busmsg_state_begin(pk, cw->cl->node, room_str(r), n);
  for (uint32_t i = 0; i < n; i++) {
    pz_state_entry_t e = {list[i]->id, list[i]->seq, list[i]->pos};
    pz_busmsg_state_entry(pk, &e);
  }
  char ch[PZ_CLUSTER_KEY_MAX];
  int cl = pz_cluster_room_key(ch, room_str(r), "");
  pz_rlink_publish(cw->link, ch, (size_t)cl, cw->sb.data, cw->sb.size, NULL,
                   NULL);
}

/* ---- hooks: protocol 1.1 ------------------------------------------------ */

/* A member's SET: its presence entry takes the new state (so a node that
 * opens the room later lists it) and the MEMBER event carries the patch.
 * Kept while unlinked: the others apply it in order on the relink. */
static void hook_member_state(void *ctx, pz_room_t *r, pz_session_t *s,
                              pz_raw_t patch) {
  pz_cwork_t *cw = ctx;
  pz_member_t m = {s->id, pz_session_name(s), s->pos};
  char addr[PZ_ADDR_MAX];
  msgpack_packer *pk = pz_cluster_begin(cw);
  pz_busmsg_join(pk, cw->cl->node, room_str(r), &m, 0, s->gen,
                 pz_session_state(s), pz_cluster_addr(s, addr));
  size_t join_len = cw->sb.size;
  pz_busmsg_member(pk, cw->cl->node, room_str(r), s->id, patch);
  char ids[24], node[16], gen[16];
  int il = snprintf(ids, sizeof(ids), "%llu", (unsigned long long)s->id);
  int nl = snprintf(node, sizeof(node), "%u", cw->cl->node);
  int gl = snprintf(gen, sizeof(gen), "%u", s->gen);
  const char *args[] = {r->name, ids,         node,
                        gen,     cw->sb.data, cw->sb.data + join_len};
  size_t lens[] = {r->name_len, (size_t)il, (size_t)nl,
                   (size_t)gl,  join_len,   cw->sb.size - join_len};
  eval_kept(cw, pz_script_member, 6, args, lens, NULL, 0);
}

/* What Redis said to a ROOM_SET, for the member who asked (the key is the
 * entry's second argument). An applied set reaches everyone, the setter
 * included, as a ROOM_STATE event. */
static void room_set_answer(pz_cwork_t *cw, pz_journal_entry_t *e,
                            redisReply *r) {
  if (r->type == REDIS_REPLY_ERROR) {
    tell(cw, e->sender, PZ_ERR_OVERLOADED, PZ_C_ROOM_SET,
         "room state unavailable: the cluster refused it, try again");
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      r->element[0]->type != REDIS_REPLY_INTEGER)
    return;
  long long what = r->element[0]->integer;
  if (what == 0 && r->elements == 2 &&
      r->element[1]->type == REDIS_REPLY_INTEGER) {
    pz_delivery_t d = {.kind = PZ_DELIVER_CONFLICT,
                       .to = e->sender,
                       .text = {e->data + e->lens[0], (uint32_t)e->lens[1]},
                       .version = (uint64_t)r->element[1]->integer};
    cw->bw.up->deliver(cw->bw.ctx, &d);
  } else if (what == -2) {
    tell(cw, e->sender, PZ_ERR_INVALID_ARGUMENT, PZ_C_ROOM_SET,
         "room state limit: value, key count or total size");
  }
}

static pz_shard_result_t hook_room_set(void *ctx, pz_room_t *r, pz_session_t *s,
                                       pz_str_t key, pz_raw_t value,
                                       bool has_if, uint64_t if_version) {
  pz_cwork_t *cw = ctx;
  /* Unlinked, no version can be had: refused, as a chat is. */
  if (!pz_rlink_up(cw->link))
    return PZ_SHARD_UNAVAILABLE;
  pz_cluster_t *cl = cw->cl;
  char ifv[24] = "", by[24], node[16], counter[24], vmax[16], kmax[16],
       bmax[16];
  int fl = has_if ? snprintf(ifv, sizeof(ifv), "%llu",
                             (unsigned long long)if_version)
                  : 0;
  bool del = pz_raw_is_nil(value);
  const char *args[] = {r->name, key.ptr, ifv,      del ? "" : value.ptr,
                        by,      node,    cw->idem, counter,
                        vmax,    kmax,    bmax};
  size_t lens[] = {
      r->name_len,
      key.len,
      (size_t)fl,
      del ? 0 : value.len,
      (size_t)snprintf(by, sizeof(by), "%llu", (unsigned long long)s->id),
      (size_t)snprintf(node, sizeof(node), "%u", cl->node),
      strlen(cw->idem),
      (size_t)snprintf(counter, sizeof(counter), "%llu",
                       (unsigned long long)++cw->chat_counter),
      (size_t)snprintf(vmax, sizeof(vmax), "%u", cl->limits.value_max),
      (size_t)snprintf(kmax, sizeof(kmax), "%u", cl->limits.keys_max),
      (size_t)snprintf(bmax, sizeof(bmax), "%u", cl->limits.bytes_max)};
  eval_kept(cw, pz_script_room_set, 11, args, lens, room_set_answer, s->id);
  return PZ_SHARD_OK;
}

/* A SIGNAL to the room reaches the other nodes' members through the
 * room's channel, bare: never stored, and what one sender sends arrives in
 * order (one connection, one channel). Unlinked, it reaches this node's
 * members only. */
static void hook_signal(void *ctx, pz_room_t *r, pz_session_t *s, pz_str_t kind,
                        pz_raw_t data, uint64_t ts_ms) {
  pz_cwork_t *cw = ctx;
  if (!pz_rlink_up(cw->link) || r->n_remote == 0)
    return;
  pz_busmsg_signal(pz_cluster_begin(cw), cw->cl->node, room_str(r), s->id,
                   pz_session_name(s), kind, data, ts_ms);
  char ch[PZ_CLUSTER_KEY_MAX];
  int cl = pz_cluster_room_key(ch, room_str(r), "");
  pz_rlink_publish(cw->link, ch, (size_t)cl, cw->sb.data, cw->sb.size, NULL,
                   NULL);
}

const pz_shard_hooks_t pz_cluster_hooks = {
    .room_open = hook_room_open,
    .room_close = hook_room_close,
    .joined = hook_joined,
    .left = hook_left,
    .chat = hook_chat,
    .state = hook_state,
    .member_state = hook_member_state,
    .room_set = hook_room_set,
    .signal = hook_signal,
};
