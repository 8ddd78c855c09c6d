/*
 * A worker: one thread, one libuv loop, its inbox, its shard of rooms and
 * sessions, the connections living on it, its tick and housekeeping
 * timers. Other threads reach it only by posting to its inbox. Each module
 * registers the handler of its own message types (h2o's receivers), but
 * the types themselves are one enum here, naming every module's messages,
 * and the struct below carries state that belongs to the modules (the
 * routing directory, admin's pending requests, the detached sessions, the
 * cluster's side): worker.c includes every module to wire them. That is
 * the debt of this file, not its design; keep new state in its module.
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

/* Inbox message types; each is handled by the module named. */
enum pz_msg_type {
  PZ_MSG_NEW_SOCKET,  /* worker: a socket from the acceptor */
  PZ_MSG_STOP,        /* worker: close clients with 1001, then stop */
  PZ_MSG_ADOPT,       /* sessions: a connection (and session) in transit */
  PZ_MSG_DIR_SET,     /* routing: session id lives on a worker (or moves) */
  PZ_MSG_DIR_DEL,     /* routing: session id is gone */
  PZ_MSG_DELIVER,     /* routing: a whisper or error for a session id */
  PZ_MSG_GATHER,      /* endpoints: report your rooms for /rooms */
  PZ_MSG_GATHER_PART, /* endpoints: a worker's part of a /rooms answer */
  PZ_MSG_ADMIN_CAST,  /* admin: a server CHAT for your rooms */
  PZ_MSG_ADMIN_LIST,  /* admin: report your sessions */
  PZ_MSG_ADMIN_REPLY, /* admin: a worker's part of an admin answer */
  PZ_MSG_PLACE,       /* joins: hold (or give back) a place in a room */
  PZ_MSG_PLACE_REPLY, /* joins: the place was granted or refused */
  PZ_MSG_ADMIN_ROOM,  /* admin: a room's state, or a SIGNAL to a room */
  PZ_MSG_COUNT
};

typedef struct pz_msg_socket {
  pz_msg_t hdr;
  uv_os_sock_t fd;
} pz_msg_socket_t;

struct pz_worker;
/* Handles one message on the worker's thread; owns it. Also the type of a
 * message's dropper: what frees a message left in the inbox at shutdown
 * (after every thread has been joined), closing what it owns. */
typedef void (*pz_msg_handler)(struct pz_worker *w, pz_msg_t *msg);

struct pz_dir_entry;
struct pz_cwork;
struct pz_admin_req;

typedef struct pz_worker {
  int index;
  pz_server_t *srv;
  const pz_config_t *cfg;
  uv_thread_t thread;
  uv_loop_t loop;
  pz_mailbox_t inbox;
  pz_msg_handler handlers[PZ_MSG_COUNT];
  pz_msg_handler droppers[PZ_MSG_COUNT]; /* NULL: free() is enough */
  uv_timer_t tick_timer;
  uv_timer_t house_timer;
  uint64_t tick_epoch_us; /* the tick timeline's origin */
  /* Monotonic ms of the last tick: any thread reads it (/livez). */
  _Atomic uint64_t last_tick_ms;
  pz_shard_t shard;
  pz_conn_host_t conns;
  struct pz_dir_entry *dir; /* routing: where this home's sessions live */
  struct pz_admin_req *admin_reqs; /* admin: requests awaiting parts */
  uint64_t admin_next_req;
  uint32_t id_counter;
  msgpack_zone zone;      /* decoding scratch, cleared after each message */
  pz_session_t *detached; /* sessions in their grace period, by expiry */
  pz_metrics_t metrics;
  struct pz_cwork *cw; /* clustered: this worker's Redis side, else NULL */
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

/* Registers the handler of a message type (at creation, before start). */
void pz_worker_on(pz_worker_t *w, int type, pz_msg_handler handler);
/* Registers how a message of that type left in the inbox at shutdown is
 * freed (default: free()), for messages that own more than their memory. */
void pz_worker_on_drop(pz_worker_t *w, int type, pz_msg_handler dropper);
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
