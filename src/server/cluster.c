/*
 * The clustered bus (see cluster.h): creating it, each worker's link and
 * timer, the node heartbeat, what arrives on a link, and the counters.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "scripts.h"
#include "worker.h"

#define TIMER_MS 250
#define ROOM_PREFIX "plaza:room:"

/* ---- the bus interface -------------------------------------------------- */

static int link_state(pz_bus_t *bus) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  for (int i = 0; i < cl->srv->n_workers; i++) {
    pz_cwork_t *cw = atomic_load_explicit(&cl->cw[i], memory_order_acquire);
    if (!cw || !atomic_load_explicit(&cw->stats.up, memory_order_relaxed))
      return 0;
  }
  return 1;
}

static void stats(pz_bus_t *bus, pz_bus_stats_t *out) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  memset(out, 0, sizeof(*out));
  for (int i = 0; i < cl->srv->n_workers; i++) {
    pz_cwork_t *cw = atomic_load_explicit(&cl->cw[i], memory_order_acquire);
    if (!cw)
      continue;
    pz_rlink_stats_t *s = &cw->stats;
    out->reconnects +=
        atomic_load_explicit(&s->reconnects, memory_order_relaxed);
    out->publishes += atomic_load_explicit(&s->publishes, memory_order_relaxed);
    out->received += atomic_load_explicit(&s->received, memory_order_relaxed);
  }
  out->bad = atomic_load_explicit(&cl->bad, memory_order_relaxed);
}

static void destroy(pz_bus_t *bus) {
  pz_cluster_t *cl = (pz_cluster_t *)bus;
  for (int i = 0; i < cl->srv->n_workers; i++) {
    pz_cwork_t *cw = atomic_load(&cl->cw[i]);
    if (!cw)
      continue;
    msgpack_sbuffer_destroy(&cw->sb);
    free(cw->loads);
    free(cw);
  }
  free(cl->cw);
  free(cl);
}

static const struct pz_bus_vtbl redis_vtbl = {
    "redis", pz_cluster_deliver_remote, link_state, destroy,
    stats,   pz_cluster_rooms};

pz_cluster_t *pz_cluster_create(pz_server_t *srv, const pz_redis_url_t *url,
                                const char *nonce) {
  pz_cluster_t *cl = pz_xcalloc(1, sizeof(*cl));
  cl->bus.vt = &redis_vtbl;
  cl->srv = srv;
  cl->url = *url;
  snprintf(cl->nonce, sizeof(cl->nonce), "%s", nonce);
  cl->cw = pz_xcalloc((size_t)srv->n_workers, sizeof(*cl->cw));
  return cl;
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

/* ---- heartbeat (worker 0) ----------------------------------------------- */

static void on_heartbeat(redisAsyncContext *ac, void *reply, void *pd) {
  pz_cwork_t *cw = pd;
  redisReply *r = reply;
  if (!r)
    return;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
      r->element[0]->type != REDIS_REPLY_INTEGER) {
    pz_warn("redis: heartbeat failed: %s",
            r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    return;
  }
  long long status = r->element[0]->integer;
  long long reaped =
      r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer : 0;
  if (status == 0)
    pz_error("redis: node id %u is now held by another process: ids may "
             "collide; restart this node",
             cw->cl->srv->node_id);
  else if (status == 2)
    pz_info("redis: node id %u taken again after it had expired",
            cw->cl->srv->node_id);
  if (reaped)
    pz_info("redis: %lld members of dead nodes removed", reaped);
}

static void heartbeat(pz_cwork_t *cw) {
  char node[16], ttl[16], now[24];
  snprintf(node, sizeof(node), "%u", cw->cl->srv->node_id);
  snprintf(ttl, sizeof(ttl), "%u", PZ_CLUSTER_NODE_TTL_MS);
  snprintf(now, sizeof(now), "%llu", (unsigned long long)pz_wall_ms());
  pz_rlink_command(cw->link, on_heartbeat, cw, "EVAL %s 0 %s %s %s %s",
                   pz_script_heartbeat, node, cw->cl->nonce, ttl, now);
}

static void on_timer(uv_timer_t *t) {
  pz_cwork_t *cw = t->data;
  uint64_t now = uv_now(t->loop);
  if (cw->w->index == 0 && now >= cw->next_heartbeat_ms &&
      pz_rlink_up(cw->link)) {
    cw->next_heartbeat_ms = now + PZ_CLUSTER_HEARTBEAT_MS;
    heartbeat(cw);
  }
  pz_cluster_loads_sweep(cw, now);
}

/* ---- link events -------------------------------------------------------- */

static void on_up(pz_rlink_t *l, void *data) {
  pz_cwork_t *cw = data;
  pz_info("redis: worker %d linked", cw->w->index);
  if (cw->w->index == 0) {
    cw->next_heartbeat_ms = uv_now(&cw->w->loop) + PZ_CLUSTER_HEARTBEAT_MS;
    heartbeat(cw);
  }
  pz_cluster_rooms_relink(cw);
}

static void on_down(pz_rlink_t *l, void *data) {
  pz_cwork_t *cw = data;
  pz_warn("redis: worker %d unlinked: serving its local members only",
          cw->w->index);
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
    pz_cluster_room_subscribed(cw, room);
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
      pz_cluster_room_message(cw, room, &m);
  } else {
    pz_cluster_node_message(cw, &m);
  }
}

static void on_closed_handle(uv_handle_t *h) {
  pz_cwork_t *cw = h->data;
  cw->open--;
}

static void on_link_closed(pz_rlink_t *l, void *data) {
  pz_cwork_t *cw = data;
  cw->link = NULL;
  cw->open--;
}

static const pz_rlink_events_t link_events = {
    .up = on_up,
    .down = on_down,
    .subscribed = on_subscribed,
    .message = on_message,
    .closed = on_link_closed,
};

/* ---- worker life -------------------------------------------------------- */

void pz_cluster_worker_start(pz_worker_t *w) {
  pz_cluster_t *cl = w->srv->cluster;
  pz_cwork_t *cw = pz_xcalloc(1, sizeof(*cw));
  cw->cl = cl;
  cw->w = w;
  msgpack_sbuffer_init(&cw->sb);
  msgpack_packer_init(&cw->pk, &cw->sb, msgpack_sbuffer_write);
  snprintf(cw->channel, sizeof(cw->channel), "plaza:node:%u:w%d",
           w->srv->node_id, w->index);
  uv_timer_init(&w->loop, &cw->timer);
  cw->timer.data = cw;
  uv_timer_start(&cw->timer, on_timer, TIMER_MS, TIMER_MS);
  /* The probe: a PROBE message only this link sends. */
  uint64_t nonce = ((uint64_t)pz_mono_us() << 8) ^ (uint64_t)w->index;
  pz_busmsg_probe(pz_cluster_begin(cw), w->srv->node_id, (uint32_t)w->index,
                  nonce);
  cw->w->cw = cw;
  w->shard.hooks = &pz_cluster_room_hooks;
  w->shard.hooks_ctx = cw;
  cw->open = 2; /* the timer and the link */
  cw->link = pz_rlink_create(&w->loop, &cl->url, cw->channel,
                             (const uint8_t *)cw->sb.data, cw->sb.size,
                             &link_events, cw, &cw->stats);
  atomic_store_explicit(&cl->cw[w->index], cw, memory_order_release);
}

void pz_cluster_worker_stop(pz_worker_t *w) {
  pz_cwork_t *cw = w->cw;
  if (!cw || cw->closing)
    return;
  cw->closing = true;
  if (w->index == 0 && pz_rlink_up(cw->link))
    pz_cluster_park(cw);
  uv_close((uv_handle_t *)&cw->timer, on_closed_handle);
  pz_rlink_close(cw->link);
}
