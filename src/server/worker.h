/*
 * A worker: one thread, one libuv loop, its inbox, its shard of rooms and
 * sessions, the connections living on it, its tick and housekeeping
 * timers. Other threads reach it only by posting to its inbox. The worker
 * knows loops, inboxes and timers, not the modules: each message carries
 * its kind (mailbox.h), defined by the module that sends and handles it;
 * each module keeps its per-worker state behind its own pointer here,
 * created and freed by the module (routing.h, sessions.h, admin.h).
 *
 * Sessions may move: a JOIN of a room on another shard, or a resume of a
 * session living elsewhere, hands the connection (and session) to the
 * worker that owns it. The session's home worker (in its id) keeps a
 * directory of where each of its sessions lives (routing.h).
 */
#ifndef PZ_WORKER_H
#define PZ_WORKER_H

#include <msgpack.h>
#include <stdbool.h>
#include <uv.h>

#include "conn.h"
#include "mailbox.h"
#include "metrics.h"
#include "server.h"
#include "shard.h"

struct pz_routing;
struct pz_sessions;
struct pz_admin;

typedef struct pz_worker {
  int index;
  pz_server_t *srv;
  const pz_config_t *cfg;
  uv_thread_t thread;
  uv_loop_t loop;
  pz_mailbox_t inbox;
  uv_timer_t tick_timer;
  uv_timer_t house_timer;
  uint64_t tick_epoch_us; /* the tick timeline's origin */
  /* Monotonic ms of the last tick: any thread reads it (/livez). */
  _Atomic uint64_t last_tick_ms;
  pz_shard_t shard;
  pz_conn_host_t conns;
  /* Each module's own state (opaque here). */
  struct pz_routing *routing;   /* the directory of this home's sessions */
  struct pz_sessions *sessions; /* ids made here, sessions in their grace */
  struct pz_admin *admin;       /* admin requests awaiting their parts */
  msgpack_zone zone; /* decoding scratch, cleared after each message */
  pz_metrics_t metrics;
  bool stopping;
  bool quiet; /* stopping, and its connections are gone (srv->workers_busy) */
} pz_worker_t;

/* Creates worker `index` (its loop and inbox) without starting it. */
pz_worker_t *pz_worker_create(pz_server_t *srv, int index);
int pz_worker_start(pz_worker_t *w);
/* Any thread: asks the worker to close its clients with 1001 and stop. A
 * worker whose clients are gone keeps its inbox open (other workers may
 * still hand it a connection or a word about a session) until every
 * worker's clients are gone (srv->workers_busy reaches 0); then it closes
 * its handles and its loop ends. */
void pz_worker_stop(pz_worker_t *w);
/* Joins the thread (its loop has ended). */
void pz_worker_join(pz_worker_t *w);
/* Frees the worker, and whatever its inbox still holds. Only once every
 * thread that could post to it has been joined: libuv's rule, stop every
 * loop and join every thread before freeing anything. */
void pz_worker_destroy(pz_worker_t *w);

/* Any thread (the acceptor's): hands the worker a socket (owns fd from
 * here on, closed when the worker cannot take it). */
void pz_worker_give_socket(pz_worker_t *w, uv_os_sock_t fd);
/* Any thread: posts a message that must not be dropped (it carries
 * ownership: a connection, a stop). */
void pz_worker_post(pz_worker_t *to, pz_msg_t *msg);
/* Any thread: posts a droppable message; PZ_EFULL when the inbox is full
 * (msg stays the caller's). */
int pz_worker_try_post(pz_worker_t *to, pz_msg_t *msg);

static inline uint64_t pz_worker_now(pz_worker_t *w) {
  return uv_now(&w->loop);
}

#endif
