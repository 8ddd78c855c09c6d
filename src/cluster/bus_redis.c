/*
 * The Redis back end of the bus (see cluster.h): making it (claiming the
 * node id), the vtable the server calls, each worker's link and timer, and
 * dispatching what arrives on a link.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "cluster.h"
#include "error.h"
#include "id.h"
#include "log.h"
#include "node_claim.h"
#include "scripts.h"

#define TIMER_MS 250
#define ROOM_PREFIX "plaza:room:"

static pz_cwork_t *cwork(pz_bus_t *bus, int worker) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  return atomic_load_explicit(&cl->cw[worker], memory_order_acquire);
}

/* ---- helpers ------------------------------------------------------------ */

msgpack_packer *pz_cluster_begin(pz_cwork_t *cw) {
  cw->sb.size = 0;
  return &cw->pk;
}

void pz_cluster_bad(pz_cwork_t *cw, const char *what) {
  atomic_fetch_add_explicit(&cw->cl->bad, 1, memory_order_relaxed);
  pz_debug("redis: payload refused (%s)", what);
}

int pz_cluster_room_key(char *out, pz_str_t room, const char *suffix) {
  return snprintf(out, PZ_CLUSTER_KEY_MAX, ROOM_PREFIX "%.*s%s", (int)room.len,
                  room.ptr, suffix);
}

int pz_cluster_home(const pz_cluster_t *cl, uint64_t id) {
  uint32_t k = pz_id_worker(id);
  if (pz_id_node(id) != cl->node)
    return (int)(k % (uint32_t)cl->n_workers);
  return k < (uint32_t)cl->n_workers ? (int)k : 0;
}

int pz_cluster_eval(pz_cwork_t *cw, redisCallbackFn *cb, void *pd,
                    const char *script, int argc, const char **args,
                    const size_t *lens) {
  enum { INLINE = 16 };
  const char *argv_in[INLINE];
  size_t argl_in[INLINE];
  const char **argv = argv_in;
  size_t *argl = argl_in;
  if (argc + 3 > INLINE) {
    argv = pz_xmalloc((size_t)(argc + 3) * sizeof(*argv));
    argl = pz_xmalloc((size_t)(argc + 3) * sizeof(*argl));
  }
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
  int r = cw->link
              ? pz_rlink_command_argv(cw->link, cb, pd, argc + 3, argv, argl)
              : PZ_ECLOSED;
  if (argv != argv_in) {
    free(argv);
    free(argl);
  }
  return r;
}

/* ---- the vtable --------------------------------------------------------- */

static int link_state(pz_bus_t *bus) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  for (int i = 0; i < cl->n_workers; i++) {
    pz_cwork_t *cw = cwork(bus, i);
    if (!cw || !atomic_load_explicit(&cw->stats.up, memory_order_relaxed))
      return 0;
  }
  return 1;
}

static void stats(pz_bus_t *bus, pz_bus_stats_t *out) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  memset(out, 0, sizeof(*out));
  for (int i = 0; i < cl->n_workers; i++) {
    pz_cwork_t *cw = cwork(bus, i);
    if (!cw)
      continue;
    pz_rlink_stats_t *s = &cw->stats;
    out->reconnects +=
        atomic_load_explicit(&s->reconnects, memory_order_relaxed);
    out->publishes += atomic_load_explicit(&s->publishes, memory_order_relaxed);
    out->received += atomic_load_explicit(&s->received, memory_order_relaxed);
  }
  out->bad = atomic_load_explicit(&cl->bad, memory_order_relaxed);
  out->gaps_repaired = atomic_load_explicit(&cl->gaps, memory_order_relaxed);
  out->reloads = atomic_load_explicit(&cl->reloads, memory_order_relaxed);
  out->journalled = atomic_load_explicit(&cl->journalled, memory_order_relaxed);
  out->chat_lost = atomic_load_explicit(&cl->chat_lost, memory_order_relaxed);
}

static void destroy(pz_bus_t *bus) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  for (int i = 0; i < cl->n_workers; i++) {
    pz_cwork_t *cw = atomic_load(&cl->cw[i]);
    if (!cw)
      continue;
    pz_room_sync_dispose(cw);
    pz_presence_dispose(cw);
    msgpack_sbuffer_destroy(&cw->sb);
    free(cw->ended);
    free(cw);
  }
  free(cl->cw);
  free(cl);
}

static void session_ended(pz_bus_t *bus, int worker, const pz_session_t *s,
                          bool went_on) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (cw && !went_on)
    pz_records_session_ended(cw, s);
}

static int resume(pz_bus_t *bus, int worker, void *hold, uint64_t id,
                  pz_str_t token) {
  pz_cwork_t *cw = cwork(bus, worker);
  return cw ? pz_records_resume(cw, hold, id, token) : PZ_ECLOSED;
}

static void worker_start(pz_bus_t *bus, const pz_bus_worker_t *bw);
static void worker_stop(pz_bus_t *bus, int worker);

static const struct pz_bus_vtbl redis_vtbl = {
    .name = "redis",
    .worker_start = worker_start,
    .worker_stop = worker_stop,
    .deliver = pz_deliver_remote,
    .session_ended = session_ended,
    .resume = resume,
    .admin_cast = pz_cluster_admin_cast,
    .admin_members = pz_cluster_admin_members,
    .admin_room_signal = pz_cluster_admin_room_signal,
    .admin_room_state = pz_cluster_admin_room_state,
    .rooms = pz_cluster_rooms,
    .link_state = link_state,
    .stats = stats,
    .destroy = destroy,
};

static uint32_t random_node_id(void) {
  uint32_t v = 0;
  if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
    v = (uint32_t)pz_mono_us();
  return v & ((1u << PZ_NODE_BITS) - 1);
}

int pz_bus_redis_create(const pz_bus_redis_options_t *opt, pz_bus_t **out,
                        uint32_t *node, char *why, size_t why_size) {
  unsigned char raw[16];
  char nonce[33];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    snprintf(why, why_size, "no randomness for the node nonce");
    return PZ_EIO;
  }
  for (int i = 0; i < 16; i++)
    snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
  int r = pz_node_claim(&opt->url, opt->want_node, random_node_id, nonce,
                        PZ_CLUSTER_NODE_TTL_MS, node, why, why_size);
  if (r != 0)
    return r;
  pz_cluster_t *cl = pz_xcalloc(1, sizeof(*cl));
  cl->bus.vt = &redis_vtbl;
  cl->url = opt->url;
  cl->node = *node;
  cl->n_workers = opt->n_workers;
  cl->grace_ms = opt->grace_ms;
  cl->room_ttl_ms = opt->room_ttl_ms ? opt->room_ttl_ms : 1;
  cl->limits.value_max = opt->room_value_max;
  cl->limits.keys_max = opt->room_keys_max;
  cl->limits.bytes_max = opt->room_state_max;
  memcpy(cl->nonce, nonce, sizeof(nonce));
  cl->cw = pz_xcalloc((size_t)opt->n_workers, sizeof(*cl->cw));
  *out = &cl->bus;
  return 0;
}

/* ---- link events -------------------------------------------------------- */

/* Tells Redis again everything this worker holds (a relink, or the node
 * key taken again after it expired). */
static void retell(pz_cwork_t *cw) {
  pz_presence_relink(cw);
  pz_records_flush(cw, pz_cluster_now(cw), true);
}

static void on_up(pz_rlink_t *l, void *data) {
  pz_cwork_t *cw = data;
  pz_info("redis: worker %d linked", cw->bw.index);
  if (cw->bw.index == 0) {
    cw->next_heartbeat_ms = pz_cluster_now(cw) + PZ_CLUSTER_HEARTBEAT_MS;
    pz_heartbeat(cw);
  }
  retell(cw);
}

static void on_down(pz_rlink_t *l, void *data) {
  pz_cwork_t *cw = data;
  pz_warn("redis: worker %d unlinked: serving its local members only, "
          "keeping what it cannot tell",
          cw->bw.index);
}

static bool room_of(const char *ch, size_t len, pz_str_t *room) {
  size_t n = sizeof(ROOM_PREFIX) - 1;
  if (len <= n || memcmp(ch, ROOM_PREFIX, n) != 0)
    return false;
  *room = (pz_str_t){ch + n, (uint32_t)(len - n)};
  return true;
}

static void on_subscribed(pz_rlink_t *l, void *data, const char *ch,
                          size_t len) {
  pz_cwork_t *cw = data;
  pz_str_t room;
  if (room_of(ch, len, &room))
    pz_room_sync_subscribed(cw, room);
}

static void on_message(pz_rlink_t *l, void *data, const char *ch, size_t chlen,
                       const uint8_t *msg, size_t len) {
  pz_cwork_t *cw = data;
  pz_busmsg_t m;
  if (pz_busmsg_decode(msg, len, &m) != 0) {
    pz_cluster_bad(cw, "undecodable");
    return;
  }
  pz_str_t room;
  if (room_of(ch, chlen, &room)) {
    if (m.room.len != room.len || memcmp(m.room.ptr, room.ptr, room.len) != 0)
      pz_cluster_bad(cw, "room differs from its channel");
    else
      pz_room_sync_message(cw, room, &m);
  } else {
    pz_deliver_node_message(cw, &m);
  }
}

static void on_closed_handle(uv_handle_t *h) {}

static void on_link_closed(pz_rlink_t *l, void *data) {
  pz_cwork_t *cw = data;
  cw->link = NULL;
}

static const pz_rlink_events_t link_events = {
    .up = on_up,
    .down = on_down,
    .subscribed = on_subscribed,
    .message = on_message,
    .closed = on_link_closed,
};

/* ---- the worker's timer ------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  pz_cwork_t *cw = t->data;
  uint64_t now = uv_now(t->loop);
  bool up = pz_rlink_up(cw->link);
  if (cw->bw.index == 0 && up && now >= cw->next_heartbeat_ms) {
    cw->next_heartbeat_ms = now + PZ_CLUSTER_HEARTBEAT_MS;
    pz_heartbeat(cw);
  }
  uint64_t retake = atomic_load_explicit(&cw->cl->retake, memory_order_acquire);
  if (retake != cw->retake_seen && up) {
    cw->retake_seen = retake;
    retell(cw);
  }
  pz_room_sync_sweep(cw, now);
  pz_records_flush(cw, now, false);
}

/* ---- worker life -------------------------------------------------------- */

static void worker_start(pz_bus_t *bus, const pz_bus_worker_t *bw) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  pz_cwork_t *cw = pz_xcalloc(1, sizeof(*cw));
  cw->cl = cl;
  cw->bw = *bw;
  cw->journal_tail = &cw->journal;
  msgpack_sbuffer_init(&cw->sb);
  msgpack_packer_init(&cw->pk, &cw->sb, msgpack_sbuffer_write);
  snprintf(cw->channel, sizeof(cw->channel), "plaza:node:%u:w%d", cl->node,
           bw->index);
  /* Chats of this worker of this process are numbered once by this key. */
  snprintf(cw->idem, sizeof(cw->idem), "%.16s:%d", cl->nonce, bw->index);
  cw->retake_seen = atomic_load(&cl->retake);
  uv_timer_init(bw->loop, &cw->timer);
  cw->timer.data = cw;
  uv_timer_start(&cw->timer, on_timer, TIMER_MS, TIMER_MS);
  /* The probe: a PROBE message only this link sends. */
  uint64_t nonce = ((uint64_t)pz_mono_us() << 8) ^ (uint64_t)bw->index;
  pz_busmsg_probe(pz_cluster_begin(cw), cl->node, (uint32_t)bw->index, nonce);
  bw->shard->hooks = &pz_cluster_hooks;
  bw->shard->hooks_ctx = cw;
  cw->link = pz_rlink_create(bw->loop, &cl->url, cw->channel,
                             (const uint8_t *)cw->sb.data, cw->sb.size,
                             &link_events, cw, &cw->stats);
  atomic_store_explicit(&cl->cw[bw->index], cw, memory_order_release);
}

static void worker_stop(pz_bus_t *bus, int worker) {
  pz_cwork_t *cw = cwork(bus, worker);
  if (!cw || cw->closing)
    return;
  /* What the sessions look like now (detached: resumable elsewhere for
   * their grace period) goes before the link closes; worker 0 lets go of
   * the node key, so the others park its members at once. */
  if (pz_rlink_up(cw->link)) {
    pz_records_flush(cw, pz_cluster_now(cw), false);
    if (cw->bw.index == 0)
      pz_heartbeat_release(cw);
  }
  cw->closing = true;
  cw->bw.shard->hooks = NULL;
  uv_close((uv_handle_t *)&cw->timer, on_closed_handle);
  pz_rlink_close(cw->link);
}
