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
#include "log.h"
#include "scripts.h"

#define ARGS_MAX 10

/* A command kept until Redis has answered it. */
typedef struct pz_journal_entry {
  struct pz_journal_entry *next;
  pz_cwork_t *cw;
  const char *script;
  int argc;
  size_t lens[ARGS_MAX];
  uint64_t sender; /* a chat's sender: told when Redis refuses it */
  char data[];     /* the arguments, one after another */
} pz_journal_entry_t;

static pz_str_t room_str(const pz_room_t *r) {
  return (pz_str_t){r->name, r->name_len};
}

static pz_journal_entry_t *entry_new(pz_cwork_t *cw, const char *script,
                                     int argc, const char **args,
                                     const size_t *lens, uint64_t sender) {
  size_t total = 0;
  for (int i = 0; i < argc; i++)
    total += lens[i];
  pz_journal_entry_t *e = pz_xmalloc(sizeof(*e) + total);
  e->next = NULL;
  e->cw = cw;
  e->script = script;
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

static void tell_sender(pz_cwork_t *cw, uint64_t id) {
  static const char msg[] = "chat unavailable: the cluster refused it, try "
                            "again";
  pz_delivery_t d = {.kind = PZ_DELIVER_ERROR,
                     .to = id,
                     .text = {msg, sizeof(msg) - 1},
                     .code = PZ_ERR_OVERLOADED,
                     .op = PZ_C_CHAT};
  cw->bw.up->deliver(cw->bw.ctx, &d);
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
  if (r->type == REDIS_REPLY_ERROR) {
    pz_warn("redis: script failed: %s", r->str);
    if (e->sender && !cw->closing)
      tell_sender(cw, e->sender); /* not numbered: the client may retry */
  }
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
                      const char **args, const size_t *lens, uint64_t sender) {
  pz_journal_entry_t *e = entry_new(cw, script, argc, args, lens, sender);
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

void pz_presence_announce(pz_cwork_t *cw, pz_room_t *r, pz_session_t *s,
                          uint32_t flags) {
  pz_member_t m = {s->id, pz_session_name(s), s->pos};
  pz_busmsg_join(pz_cluster_begin(cw), cw->cl->node, room_str(r), &m, flags,
                 s->gen, (pz_raw_t){NULL, 0}, (pz_str_t){"", 0});
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
  /* The chat seq never goes backwards, and the history we hold seeds an
   * empty one: one argument per message, encoded one after another. */
  uint32_t n = r->chat.count;
  const char **args = pz_xmalloc((2 + n) * sizeof(*args));
  size_t *lens = pz_xmalloc((2 + n) * sizeof(*lens));
  size_t *offs = pz_xmalloc((n + 1) * sizeof(*offs));
  char floor[24];
  msgpack_packer *pk = pz_cluster_begin(cw);
  for (uint32_t i = 0; i < n; i++) {
    offs[i] = cw->sb.size;
    pz_busmsg_chat(pk, cw->cl->node, room_str(r),
                   pz_chat_history_at(&r->chat, i));
  }
  offs[n] = cw->sb.size;
  args[0] = r->name;
  lens[0] = r->name_len;
  lens[1] = (size_t)snprintf(floor, sizeof(floor), "%llu",
                             (unsigned long long)r->chat_seq);
  args[1] = floor;
  for (uint32_t i = 0; i < n; i++) {
    args[2 + i] = cw->sb.data + offs[i];
    lens[2 + i] = offs[i + 1] - offs[i];
  }
  pz_cluster_eval(cw, on_script, NULL, pz_script_reseed, (int)(2 + n), args,
                  lens);
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
  eval_kept(cw, pz_script_leave, 5, args, lens, 0);
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
  eval_kept(cw, pz_script_chat, 9, args, lens, s->id);
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

const pz_shard_hooks_t pz_cluster_hooks = {
    .room_open = hook_room_open,
    .room_close = hook_room_close,
    .joined = hook_joined,
    .left = hook_left,
    .chat = hook_chat,
    .state = hook_state,
};
