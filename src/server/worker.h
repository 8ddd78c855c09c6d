/*
 * A worker: one thread, one libuv loop, its inbox, its shard of rooms and
 * sessions, the connections living on it, its tick and housekeeping
 * timers. Other threads reach it only by posting to its inbox.
 *
 * Sessions may move: a JOIN of a room on another shard, or a resume of a
 * session living elsewhere, hands the connection (and session) to the
 * worker that owns it. The session's home worker (in its id) keeps a
 * directory of where each of its sessions lives, for whispers and resumes.
 */
#ifndef PZ_WORKER_H
#define PZ_WORKER_H

#include <msgpack.h>
#include <stdbool.h>
#include <uthash.h>
#include <uv.h>

#include "mailbox.h"
#include "metrics.h"
#include "server.h"
#include "shard.h"

struct pz_conn;

enum pz_msg_type {
  PZ_MSG_NEW_SOCKET,  /* from the acceptor: a socket to serve */
  PZ_MSG_ADOPT,       /* a connection (and maybe session) in transit */
  PZ_MSG_DIR_SET,     /* to the home worker: session id lives on w (or moves) */
  PZ_MSG_DIR_DEL,     /* to the home worker: session id is gone */
  PZ_MSG_DELIVER,     /* a whisper or error for a session id */
  PZ_MSG_GATHER,      /* /rooms: report your rooms to the requester */
  PZ_MSG_GATHER_PART, /* a worker's part of a /rooms answer */
  PZ_MSG_STOP,        /* drain and stop */
};

typedef struct pz_msg_socket {
  pz_msg_t hdr;
  uv_os_sock_t fd;
} pz_msg_socket_t;

enum pz_adopt_purpose { PZ_ADOPT_JOIN, PZ_ADOPT_RESUME };

typedef struct pz_msg_adopt {
  pz_msg_t hdr;
  struct pz_conn *conn;
  pz_session_t *session; /* JOIN: the session moving with it */
  int purpose;
  int hops;
  /* JOIN */
  char room[PZ_ROOM_NAME_MAX + 1];
  uint8_t room_len;
  /* RESUME */
  uint64_t id;
  char token[PZ_SESSION_TOKEN_MAX + 1];
  uint8_t token_len;
  bool has_last_chat_seq;
  uint64_t last_chat_seq;
  char name[PZ_NAME_MAX + 1]; /* for the fresh session if resume fails */
  uint8_t name_len;
} pz_msg_adopt_t;

typedef struct pz_msg_dir {
  pz_msg_t hdr;
  uint64_t id;
  int worker;
} pz_msg_dir_t;

enum pz_deliver_kind { PZ_DELIVER_WHISPER, PZ_DELIVER_ERROR };

typedef struct pz_msg_deliver {
  pz_msg_t hdr;
  int kind;
  int hops;
  uint64_t to;
  uint64_t from;
  uint64_t ts_ms;
  int error_code; /* ERROR */
  int error_op;
  uint8_t name_len;
  char name[PZ_NAME_MAX + 1];
  uint32_t text_len;
  char text[]; /* whisper text, or the error message */
} pz_msg_deliver_t;

struct pz_gather;
typedef struct pz_msg_gather {
  pz_msg_t hdr;
  struct pz_gather *gather;
  int reply_to;
  size_t len;
  char *json; /* GATHER_PART: the worker's rooms as JSON objects, malloc'd */
} pz_msg_gather_t;

/* A home worker's record of where one of its sessions lives. While the
 * session moves between workers it is "in transit" (PZ_DIR_MOVING) and
 * whispers for it wait here until its new worker reports in. */
#define PZ_DIR_MOVING (-1)
typedef struct pz_dir_entry {
  uint64_t id;
  int worker;
  struct pz_msg_deliver *waiting; /* held while moving, in arrival order */
  UT_hash_handle hh;
} pz_dir_entry_t;

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
  pz_shard_t shard;
  pz_dir_entry_t *dir;
  uint32_t id_counter;
  msgpack_zone zone; /* decoding scratch, cleared after each message */
  /* Connections by state; each list is ordered by its deadline because
   * every member got the same timeout when it was appended. */
  struct pz_conn *waiting; /* HTTP head or HELLO not yet received */
  struct pz_conn *active;  /* by last input, oldest first */
  struct pz_conn *idle;    /* quiet ones whose parser was released */
  struct pz_conn *closing;
  pz_session_t *detached;    /* sessions in their grace period, by expiry */
  uint32_t released_parsers; /* idle parsers freed since the last trim */
  uint64_t last_trim_ms;
  pz_metrics_t metrics;
  bool stopping;
  char readbuf[64 * 1024];
} pz_worker_t;

/* Creates worker `index` (its loop and inbox) without starting it. */
pz_worker_t *pz_worker_create(pz_server_t *srv, int index);
int pz_worker_start(pz_worker_t *w);
/* Any thread: asks the worker to close its clients with 1001 and stop. */
void pz_worker_stop(pz_worker_t *w);
/* Joins the thread and frees the worker (after its loop has ended). */
void pz_worker_destroy(pz_worker_t *w);

/* Any thread: hands a connection to worker `to`; never fails (force). */
void pz_worker_post(pz_worker_t *to, pz_msg_t *msg);
/* Any thread: posts a droppable message; PZ_EFULL when the inbox is full. */
int pz_worker_try_post(pz_worker_t *to, pz_msg_t *msg);

/* Worker thread: the session services the dispatcher uses. */
pz_session_t *pz_worker_session_new(pz_worker_t *w, pz_str_t name);
/* Ends a session for good: leaves its room (LEFT), frees it. */
void pz_worker_session_end(pz_worker_t *w, pz_session_t *s);
/* Its socket is gone: keeps it (in its room) for the grace period. */
void pz_worker_session_detach(pz_worker_t *w, pz_session_t *s);
/* Routes a whisper or error to session `to` wherever it lives (takes msg). */
void pz_worker_deliver(pz_worker_t *w, pz_msg_deliver_t *msg);
pz_msg_deliver_t *pz_deliver_new(int kind, uint64_t to, uint64_t from,
                                 pz_str_t name, pz_str_t text);
/* Home worker thread: the directory learns that session `id` lives on
 * `worker` (PZ_DIR_MOVING while in transit) or is gone (`gone`); held
 * whispers are routed again. */
void pz_dir_update(pz_worker_t *w, uint64_t id, int worker, bool gone);

static inline uint64_t pz_worker_now(pz_worker_t *w) {
  return uv_now(&w->loop);
}

#endif
