/*
 * Worker threads (see worker.h): the inbox, the tick and housekeeping
 * timers, and the orderly stop. The modules are wired here: each makes
 * its state, and the connection layer's and the bus's up-calls go to them.
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "alloc.h"
#include "clock.h"
#include "bus.h"
#include "dispatch.h"
#include "endpoints.h"
#include "joins.h"
#include "log.h"
#include "requests.h"
#include "routing.h"
#include "sessions.h"

#define INBOX_BOUND 65536
#define HOUSEKEEPING_MS 50

/* What the bus says to this worker's modules. */
static const pz_bus_up_t bus_up = {
    .deliver = pz_routing_from_bus,
    .member_moved = pz_sessions_member_moved,
    .resumed = pz_sessions_resumed,
    .admin_reply = pz_admin_from_bus,
    .admin_room_state = pz_admin_room_state_from_bus,
};

static const pz_conn_events_t conn_events = {
    .on_upgrade = pz_requests_on_upgrade,
    .on_request = pz_requests_on_request,
    .on_request_gone = pz_requests_on_request_gone,
    .on_message = pz_dispatch,
    .on_gone = pz_sessions_on_gone,
};

void pz_worker_post(pz_worker_t *to, pz_msg_t *msg) {
  pz_mailbox_post_force(&to->inbox, msg);
}

int pz_worker_try_post(pz_worker_t *to, pz_msg_t *msg) {
  return pz_mailbox_post(&to->inbox, msg);
}

/* ---- tick --------------------------------------------------------------- */

static void schedule_tick(pz_worker_t *w);

static void on_tick(uv_timer_t *t) {
  pz_worker_t *w = t->data;
  uint64_t t0 = pz_mono_us();
  atomic_store_explicit(&w->last_tick_ms, t0 / 1000, memory_order_relaxed);
  pz_shard_tick(&w->shard);
  pz_metrics_tick(&w->metrics, pz_mono_us() - t0);
  PZ_ADD(w->metrics.state_frames,
         w->shard.stats.state_frames - PZ_GET(w->metrics.state_frames));
  PZ_ADD(w->metrics.state_entries,
         w->shard.stats.state_entries - PZ_GET(w->metrics.state_entries));
  PZ_ADD(w->metrics.state_resyncs,
         w->shard.stats.state_resyncs - PZ_GET(w->metrics.state_resyncs));
  PZ_ADD(w->metrics.state_c_frames,
         w->shard.stats.state_c_frames - PZ_GET(w->metrics.state_c_frames));
  PZ_ADD(w->metrics.state_c_entries,
         w->shard.stats.state_c_entries - PZ_GET(w->metrics.state_c_entries));
  PZ_ADD(w->metrics.state_c_bytes,
         w->shard.stats.state_c_bytes - PZ_GET(w->metrics.state_c_bytes));
  PZ_ADD(w->metrics.aways, w->shard.stats.aways - PZ_GET(w->metrics.aways));
  atomic_store_explicit(&w->metrics.rooms, w->shard.n_rooms,
                        memory_order_relaxed);
  schedule_tick(w);
}

/* Ticks keep to the configured rate on average: each is scheduled against
 * an ideal timeline rather than "period after the last one", so rounding to
 * milliseconds and slow ticks do not make the rate drift. */
static void schedule_tick(pz_worker_t *w) {
  uint64_t period_us = 1000000 / (uint64_t)w->cfg->tick_hz;
  uint64_t due = w->tick_epoch_us + (w->shard.tick + 1) * period_us;
  uint64_t now = pz_mono_us();
  uint64_t wait_ms = due > now ? (due - now + 999) / 1000 : 0;
  if (due + 10 * period_us < now) /* far behind: start a new timeline */
    w->tick_epoch_us = now - (w->shard.tick + 1) * period_us;
  uv_timer_start(&w->tick_timer, on_tick, wait_ms, 0);
}

/* ---- housekeeping and stop ---------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {}

static void finish_stop(pz_worker_t *w) {
  uv_close((uv_handle_t *)&w->tick_timer, on_handle_closed);
  uv_close((uv_handle_t *)&w->house_timer, on_handle_closed);
  pz_conn_host_close(&w->conns);
  pz_mailbox_close(&w->inbox, on_handle_closed);
  pz_bus_worker_stop(w->srv->bus, w->index);
}

/* Stopping: once its own connections are gone a worker says so, and it
 * closes its handles (its inbox among them) only when every worker has:
 * until then another worker may still send it a connection (a JOIN) or a
 * word about a session. A post that comes after all waits in the closed
 * inbox for pz_worker_destroy. */
static void on_housekeeping(uv_timer_t *t) {
  pz_worker_t *w = t->data;
  uint64_t now = pz_worker_now(w);
  pz_conn_sweep(&w->conns, now);
  if (!w->stopping) /* draining: the cluster keeps them resumable */
    pz_sessions_sweep(w, now);
  pz_shard_sweep(&w->shard, now);
  atomic_store_explicit(&w->metrics.room_states_parked,
                        (int64_t)w->shard.stats.parked, memory_order_relaxed);
  atomic_store_explicit(&w->metrics.room_states_evicted,
                        w->shard.stats.parked_evicted, memory_order_relaxed);
  pz_admin_sweep(w, now);
  if (!w->stopping || !pz_conn_host_empty(&w->conns))
    return;
  if (!w->quiet) {
    w->quiet = true;
    atomic_fetch_sub(&w->srv->workers_busy, 1);
  }
  if (atomic_load(&w->srv->workers_busy) == 0)
    finish_stop(w);
}

/* ---- inbox -------------------------------------------------------------- */

/* A socket from the acceptor. */
typedef struct msg_socket {
  pz_msg_t hdr;
  uv_os_sock_t fd;
} msg_socket_t;

static void on_new_socket(void *receiver, pz_msg_t *m) {
  pz_worker_t *w = receiver;
  msg_socket_t *s = (msg_socket_t *)m;
  if (w->stopping)
    close(s->fd);
  else
    pz_conn_accept(&w->conns, s->fd);
  free(s);
}

static void drop_new_socket(void *receiver, pz_msg_t *m) {
  close(((msg_socket_t *)m)->fd);
  free(m);
}

static const pz_msg_kind_t new_socket = {on_new_socket, drop_new_socket};

void pz_worker_give_socket(pz_worker_t *w, uv_os_sock_t fd) {
  msg_socket_t *m = pz_xmalloc(sizeof(*m));
  m->hdr.kind = &new_socket;
  m->fd = fd;
  pz_worker_post(w, &m->hdr);
}

static void on_stop(void *receiver, pz_msg_t *m) {
  pz_worker_t *w = receiver;
  free(m);
  if (!w->stopping) {
    w->stopping = true;
    pz_conn_close_all(&w->conns, PZ_CLOSE_GOING_AWAY);
  }
}

static const pz_msg_kind_t stop = {on_stop, NULL};

static void on_inbox(pz_mailbox_t *mb, pz_msg_t *batch) {
  pz_worker_t *w = mb->data;
  while (batch) {
    pz_msg_t *m = batch;
    batch = m->next;
    m->kind->handle(w, m);
  }
}

/* ---- thread ------------------------------------------------------------- */

static void worker_main(void *arg) {
  pz_worker_t *w = arg;
  w->tick_epoch_us = pz_mono_us();
  pz_bus_worker_t bw = {w->index, &w->loop, &w->shard, &bus_up, w};
  pz_bus_worker_start(w->srv->bus, &bw);
  schedule_tick(w);
  pz_shard_sweep(&w->shard, pz_worker_now(w)); /* the shard's clock */
  uv_timer_start(&w->house_timer, on_housekeeping, HOUSEKEEPING_MS,
                 HOUSEKEEPING_MS);
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

pz_worker_t *pz_worker_create(pz_server_t *srv, int index) {
  pz_worker_t *w = pz_xcalloc(1, sizeof(*w));
  w->index = index;
  w->srv = srv;
  w->cfg = srv->cfg;
  /* Alive from creation: /livez may be asked before the first tick. */
  atomic_store(&w->last_tick_ms, pz_mono_us() / 1000);
  if (uv_loop_init(&w->loop))
    goto fail_loop;
  if (pz_mailbox_init(&w->inbox, &w->loop, INBOX_BOUND, on_inbox, w))
    goto fail_inbox;
  uv_timer_init(&w->loop, &w->tick_timer);
  uv_timer_init(&w->loop, &w->house_timer);
  w->tick_timer.data = w->house_timer.data = w;
  pz_conn_host_init(&w->conns, &w->loop, w->cfg, &w->metrics, &conn_events, w);
  w->conns.tls = srv->tls;
  pz_shard_config_t sc = {
      .room_max_members = w->cfg->room_max_members,
      .rules = {w->cfg->max_speed, w->cfg->bounds},
      .move_rate = w->cfg->move_rate,
      .chat_rate = w->cfg->chat_rate,
      .chat_burst = w->cfg->chat_burst,
      .join_burst = w->cfg->join_burst,
      .app_burst = w->cfg->app_burst,
      .member_state_max = w->cfg->member_state_max,
      .room = {w->cfg->room_value_max, w->cfg->room_keys_max,
               w->cfg->room_state_max},
      .room_state_ttl_ms = w->cfg->room_state_ttl_ms,
      /* the node's bound, shared out: rooms spread over the shards */
      .parked_max = w->cfg->room_state_parked_max / (uint64_t)srv->n_workers,
      .view_cell = w->cfg->view_cell,
  };
  pz_shard_init(&w->shard, index, &sc);
  msgpack_zone_init(&w->zone, 4096);
  w->routing = pz_routing_create();
  w->sessions = pz_sessions_create();
  w->admin = pz_admin_create();
  return w;
fail_inbox:
  uv_loop_close(&w->loop);
fail_loop:
  free(w);
  return NULL;
}

int pz_worker_start(pz_worker_t *w) {
  return uv_thread_create(&w->thread, worker_main, w);
}

void pz_worker_stop(pz_worker_t *w) {
  pz_msg_t *m = pz_xcalloc(1, sizeof(*m));
  m->kind = &stop;
  pz_worker_post(w, m);
}

void pz_worker_join(pz_worker_t *w) {
  uv_thread_join(&w->thread);
}

void pz_worker_destroy(pz_worker_t *w) {
  /* Messages that arrived after the inbox closed: a late socket, a
   * connection in transit, news of a session. */
  pz_msg_t *m = pz_mailbox_take(&w->inbox);
  while (m) {
    pz_msg_t *next = m->next;
    if (m->kind->drop)
      m->kind->drop(w, m);
    else
      free(m);
    m = next;
  }
  int r = uv_loop_close(&w->loop);
  if (r)
    pz_error("worker %d: loop closed with handles open: %s", w->index,
             uv_strerror(r));
  pz_routing_destroy(w->routing);
  pz_sessions_destroy(w->sessions);
  pz_admin_destroy(w->admin);
  pz_shard_dispose(&w->shard);
  msgpack_zone_destroy(&w->zone);
  uv_mutex_destroy(&w->inbox.lock);
  free(w);
}
