/*
 * plaza: the process. Reads the configuration, binds the port, starts the
 * workers and the acceptor, and on SIGINT/SIGTERM drains: /readyz turns
 * 503 at once, clients are still served for --drain-delay-ms (for load
 * balancers and Kubernetes to stop sending new ones), then the node stops
 * accepting, closes every client with 1001 and exits 0 once the workers
 * have drained. With TLS, SIGHUP reloads the certificate and key
 * (tls_ctx.h).
 */
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "acceptor.h"
#include "alloc.h"
#include "auth.h"
#include "bus.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "id.h"
#include "log.h"
#include "server.h"
#include "tls_ctx.h"
#include "worker.h"

typedef struct {
  pz_server_t *srv;
  pz_acceptor_t *acceptor;
  unsigned next_worker; /* acceptor thread only */
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t drain_timer; /* --drain-delay-ms */
} pz_main_t;

/* Acceptor thread: sockets go to the workers round robin. */
static void on_socket(void *data, uv_os_sock_t fd) {
  pz_main_t *m = data;
  pz_worker_give_socket(m->srv->workers[m->next_worker++ % m->srv->n_workers],
                        fd);
}

static void on_handle_closed(uv_handle_t *h) {}

/* The end of a drain: no more connections, every client closed 1001. */
static void stop_now(pz_main_t *m) {
  atomic_store(&m->srv->stopping, 1);
  pz_acceptor_stop(m->acceptor);
  for (int i = 0; i < m->srv->n_workers; i++)
    pz_worker_stop(m->srv->workers[i]);
  uv_close((uv_handle_t *)&m->sigint, on_handle_closed);
  uv_close((uv_handle_t *)&m->sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&m->drain_timer, on_handle_closed);
  if (m->srv->tls)
    uv_close((uv_handle_t *)&m->sighup, on_handle_closed);
  /* Closing the handles gave SIGTERM its default action back: one more
   * (an orchestrator's, after a preStop hook that began this drain) must
   * not cut the closing short. SIGINT still does, for an impatient user. */
  signal(SIGTERM, SIG_IGN);
}

static void on_drain_timer(uv_timer_t *t) {
  pz_main_t *m = t->data;
  pz_info("drain: closing clients with 1001 and stopping");
  stop_now(m);
}

/* The first signal drains: /readyz 503 at once (srv->draining), clients
 * served on for --drain-delay-ms. During that delay another SIGTERM
 * changes nothing, and SIGINT stops at once. */
static void on_signal(uv_signal_t *sig, int signum) {
  pz_main_t *m = sig->data;
  /* /admin/drain asks by raising SIGTERM (admin.c): name what asked. */
  const char *name = signum == SIGINT                    ? "SIGINT"
                     : atomic_load(&m->srv->drain_asked) ? "POST /admin/drain"
                                                         : "SIGTERM";
  uint32_t delay = m->srv->cfg->drain_delay_ms;
  if (atomic_exchange(&m->srv->draining, 1)) {
    if (signum == SIGINT && uv_is_active((uv_handle_t *)&m->drain_timer)) {
      pz_info("SIGINT again: closing clients with 1001 and stopping now");
      stop_now(m);
    }
    return;
  }
  if (!delay) {
    pz_info("%s: closing clients with 1001 and stopping", name);
    stop_now(m);
    return;
  }
  pz_info("%s: draining: /readyz answers 503; clients are closed with 1001 "
          "in %u ms",
          name, delay);
  uv_timer_start(&m->drain_timer, on_drain_timer, delay, 0);
}

/* New connections get the new certificate, open ones keep theirs; a
 * failed reload keeps the old one (renewal tools retry). */
static void on_sighup(uv_signal_t *sig, int signum) {
  pz_main_t *m = sig->data;
  char msg[512];
  if (pz_tls_ctx_reload(m->srv->tls, msg, sizeof(msg)) != 0) {
    pz_error("SIGHUP: TLS reload failed, keeping the current certificate: %s",
             msg);
    return;
  }
  pz_tls_ctx_describe(m->srv->tls, msg, sizeof(msg));
  pz_info("SIGHUP: TLS certificate reloaded: %s", msg);
}

/* Each client is a descriptor: lift the soft limit to the hard one, as
 * servers that hold many sockets do, and say what we got. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  pz_info("open file limit: %llu", (unsigned long long)rl.rlim_cur);
}

static uint32_t random_node_id(void) {
  uint32_t v = 0;
  if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
    v = (uint32_t)pz_mono_us();
  return v & ((1u << PZ_NODE_BITS) - 1);
}

/* --redis: the URL checked, the node id claimed in Redis, the clustered
 * bus. Returns 0, or the exit code: 2 for a bad URL or a node id a live
 * node holds (configuration), 1 when Redis cannot be reached. */
static int join_cluster(pz_server_t *srv, const pz_config_t *cfg) {
  pz_bus_redis_options_t opt = {
      .want_node = cfg->node_id,
      .n_workers = cfg->workers,
      .grace_ms = cfg->resume_grace_ms,
      .room_ttl_ms = cfg->room_state_ttl_ms,
      .room_value_max = cfg->room_value_max,
      .room_keys_max = cfg->room_keys_max,
      .room_state_max = cfg->room_state_max,
  };
  const char *why;
  if (pz_redis_url_parse(cfg->redis, &opt.url, &why) != 0)
    return 2; /* not reached: the configuration checked it */
  char safe[300], err[200];
  pz_redis_url_safe(&opt.url, safe, sizeof(safe));
  uint32_t node;
  int r = pz_bus_redis_create(&opt, &srv->bus, &node, err, sizeof(err));
  if (r == PZ_EFULL && cfg->node_id != UINT32_MAX) {
    fprintf(stderr,
            "plaza: --node-id %u is in use by a live node of the cluster "
            "at redis %s; pick another, or leave it out for a random one\n",
            cfg->node_id, safe);
    return 2;
  }
  if (r != 0) {
    pz_error("redis %s: %s", safe, err);
    return 1;
  }
  srv->node_id = node;
  pz_info("redis %s: node id %u claimed", safe, node);
  return 0;
}

int main(int argc, char **argv) {
  static pz_config_t cfg;
  int r = pz_config_load(&cfg, argc, argv);
  if (r != PZ_CONFIG_OK)
    return r == PZ_CONFIG_EXIT ? 0 : 2;
  pz_log_set_level(cfg.log_level);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  pz_server_t srv = {0};
  srv.cfg = &cfg;
  if (cfg.tls_cert[0]) {
    char msg[512];
    if (pz_tls_ctx_create(cfg.tls_cert, cfg.tls_key, &srv.tls, msg,
                          sizeof(msg)) != 0) {
      fprintf(stderr, "plaza: TLS: %s\n", msg);
      return 2;
    }
    pz_tls_ctx_describe(srv.tls, msg, sizeof(msg));
    pz_info("TLS certificate: %s", msg);
  }
  srv.node_id = cfg.node_id == UINT32_MAX ? random_node_id() : cfg.node_id;
  srv.n_workers = cfg.workers;
  if (cfg.redis[0]) {
    r = join_cluster(&srv, &cfg);
    if (r)
      return r;
  }
  snprintf(srv.node_name, sizeof(srv.node_name), "plaza-%u", srv.node_id);
  srv.started_ms = pz_wall_ms();
  if (!srv.bus)
    srv.bus = pz_bus_local_create();
  srv.auth = pz_auth_create(&cfg);
  srv.workers = pz_xcalloc((size_t)cfg.workers, sizeof(*srv.workers));
  atomic_init(&srv.workers_busy, cfg.workers);

  pz_main_t m = {.srv = &srv};
  m.acceptor = pz_acceptor_create(cfg.host, cfg.port, on_socket, &m);
  if (!m.acceptor)
    return 1;
  for (int i = 0; i < cfg.workers; i++) {
    srv.workers[i] = pz_worker_create(&srv, i);
    if (!srv.workers[i]) {
      pz_error("cannot create worker %d", i);
      return 1;
    }
  }
  for (int i = 0; i < cfg.workers; i++)
    if (pz_worker_start(srv.workers[i])) {
      pz_error("cannot start worker thread %d", i);
      return 1;
    }
  if (pz_acceptor_start(m.acceptor)) {
    pz_error("cannot start the acceptor thread");
    return 1;
  }
  pz_info("plaza %s node %u: listening on %s:%d, %d workers, %d Hz tick, "
          "bus %s",
          PZ_VERSION, srv.node_id, cfg.host, pz_acceptor_port(m.acceptor),
          cfg.workers, cfg.tick_hz, srv.bus->vt->name);

  uv_loop_t *loop = uv_default_loop();
  uv_signal_init(loop, &m.sigint);
  uv_signal_init(loop, &m.sigterm);
  uv_timer_init(loop, &m.drain_timer);
  m.sigint.data = m.sigterm.data = m.drain_timer.data = &m;
  uv_signal_start(&m.sigint, on_signal, SIGINT);
  uv_signal_start(&m.sigterm, on_signal, SIGTERM);
  if (srv.tls) {
    uv_signal_init(loop, &m.sighup);
    m.sighup.data = &m;
    uv_signal_start(&m.sighup, on_sighup, SIGHUP);
  }
  uv_run(loop, UV_RUN_DEFAULT);

  /* libuv's rule: stop every loop and join every thread before freeing
   * anything. A worker posts to the others until its own loop ends. */
  pz_acceptor_destroy(m.acceptor);
  for (int i = 0; i < cfg.workers; i++)
    pz_worker_join(srv.workers[i]);
  for (int i = 0; i < cfg.workers; i++)
    pz_worker_destroy(srv.workers[i]);
  free(srv.workers);
  srv.bus->vt->destroy(srv.bus);
  pz_auth_destroy(srv.auth);
  pz_tls_ctx_destroy(srv.tls);
  int closed = uv_loop_close(loop);
  pz_info("stopped");
  return closed == 0 ? 0 : 1;
}
