/*
 * The bus: what crosses nodes. Inside one process, workers reach each
 * other through their inboxes; the bus carries what must leave it. The
 * server reaches a back end only through this interface, the way redis
 * reaches TCP and TLS through one connection vtable: no call goes around
 * it. Back ends:
 *   - "local" (bus_local.c), the embedded default: this node is the whole
 *     cluster, nothing is remote, every call is a no-op or "not here";
 *   - "redis" (src/cluster/): N nodes sharing one Redis behave as one
 *     server (rooms across nodes, sessions resumable on any node, the
 *     whisper directory).
 *
 * Down-calls are the vtable's, through the pz_bus_* functions below; each
 * says its thread. A back end that has per-worker parts starts them on
 * each worker's thread (worker_start) and speaks up through the up-calls
 * the server lends it there (pz_bus_up_t), always on that worker's thread.
 * What a shard does that other nodes must know (joins, leaves, chat,
 * positions) reaches the back end through the shard's hooks, which
 * worker_start sets (shards/shard.h).
 */
#ifndef PZ_BUS_H
#define PZ_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "plaza/codec.h"
#include "redis_url.h"
#include "session.h"
#include "shard.h"

typedef struct pz_bus pz_bus_t;

/* A message for one session id, wherever it lives. Between nodes the kind
 * is on the wire: add, never renumber. */
enum pz_deliver_kind {
  PZ_DELIVER_WHISPER,    /* text from `from` */
  PZ_DELIVER_ERROR,      /* an ERROR for `to` (code, op, text) */
  PZ_DELIVER_KICK,       /* the admin API's: close 4003, or end if detached */
  PZ_DELIVER_KICK_REPLY, /* between nodes only: a kick's answer (code) */
  PZ_DELIVER_SIGNAL,     /* an app's SIGNAL: text the kind, data the value */
  PZ_DELIVER_SIGNAL_ACK, /* this node only: a signal was delivered or not */
  PZ_DELIVER_CONFLICT,   /* this node only: ERROR 12 (text the key, version) */
  PZ_DELIVER_TAKEN,      /* a resume on another node took session `to`
                            (generation gen): its copy here goes quietly */
  PZ_DELIVER_KIND_MAX = PZ_DELIVER_TAKEN
};

/* What a delivery carries, as the bus reads and writes it (borrowed: the
 * receiver copies what it keeps). */
typedef struct pz_delivery {
  int kind;
  uint64_t to, from, ts_ms;
  pz_str_t name;       /* the sender's */
  pz_str_t text;       /* a whisper's text, an error's message, a signal's kind,
                          a conflict's key */
  pz_raw_t data;       /* a signal's data: one MessagePack value */
  int code, op;        /* an ERROR's code and op; a kick answer's status */
  uint32_t reply_node; /* KICK and its answer: where the request waits */
  uint32_t reply_worker;
  uint64_t reply_req;
  uint32_t gen;     /* TAKEN */
  uint64_t version; /* CONFLICT */
  bool back_here;   /* a kick for a detached copy here: unless the directory
                       lists the session elsewhere, come back to this node */
} pz_delivery_t;

/* A session's record in the cluster (borrowed views). */
typedef struct pz_bus_record {
  uint64_t id;
  uint32_t gen; /* +1 at each resume on another node */
  pz_str_t name, room, sub, addr;
  pz_raw_t state; /* the member state map (ptr NULL: empty) */
  pz_pos_t pos;
  uint64_t seq;
  bool has_seq, placed;
  bool has_view; /* its VIEW (view.h) when it had one */
  bool view_compact;
  double view_radius;
} pz_bus_record_t;

/* One key of a room's state, as the bus holds it (borrowed). */
typedef struct pz_bus_rkey {
  pz_str_t key;
  pz_raw_t value; /* ptr NULL: deleted */
  uint64_t version, by;
} pz_bus_rkey_t;

/* Up-calls: the server's side, on the worker the back end runs them on;
 * `ctx` is pz_bus_worker_t's. Each borrows what it is given. */
typedef struct pz_bus_up {
  /* A delivery from another node: route it within this node only.
   * Returns false when this node holds no session by that id (the
   * delivery is answered all the same; the bus counts it as stray). */
  bool (*deliver)(void *ctx, const pz_delivery_t *d);
  /* Local member s of a room went on on another node (a resume there):
   * it goes from here without LEFT, its socket closed, its session ended
   * quietly (no record or directory change: they are the new node's). */
  void (*member_moved)(void *ctx, pz_session_t *s);
  /* The lookup a resume asked for ended: rec is the session's record, or
   * NULL (unknown, expired, another token, or the cluster unreachable).
   * `hold` is what pz_bus_resume was given. */
  void (*resumed)(void *ctx, void *hold, const pz_bus_record_t *rec);
  /* A part of the answer to the admin request `req` of this worker
   * (admin.h: pz_admin_reply). */
  void (*admin_reply)(void *ctx, uint64_t req, int status, uint32_t count,
                      const char *json);
  /* The answer to admin_room_state: the room's keys (n < 0: Redis could
   * not be asked), its members cluster-wide, and how long the state has
   * left (-1: kept while the room has members). */
  void (*admin_room_state)(void *ctx, uint64_t req, pz_str_t room,
                           const pz_bus_rkey_t *keys, int n, int64_t members,
                           int64_t ttl_ms);
} pz_bus_up_t;

/* What the server lends the bus for one worker. */
typedef struct pz_bus_worker {
  int index;
  uv_loop_t *loop;
  pz_shard_t *shard;
  const pz_bus_up_t *up;
  void *ctx;
} pz_bus_worker_t;

/* Counters for /metrics, summed over every link of the node. */
typedef struct pz_bus_stats {
  uint64_t reconnects, publishes, received, bad;
  uint64_t gaps_repaired; /* room events fetched again from the log */
  uint64_t reloads;       /* rooms read whole again (log trimmed, epoch) */
  uint64_t journalled;    /* changes kept while unlinked, sent on relink */
  uint64_t chat_lost;     /* chats a reload could not bring back */
} pz_bus_stats_t;

/* The cluster's rooms for /rooms: names[i] has counts[i] members (both
 * borrowed for the call), or n < 0 when the bus could not answer (the
 * caller falls back to this node's rooms). */
typedef void (*pz_bus_rooms_cb)(void *arg, const pz_str_t *names,
                                const int64_t *counts, int n);

struct pz_bus_vtbl {
  const char *name;
  /* Worker thread, as the worker starts: its part of the bus (links,
   * timers) and the shard's hooks. */
  void (*worker_start)(pz_bus_t *bus, const pz_bus_worker_t *bw);
  /* Worker thread, stopping (the node drains: its members are kept
   * resumable on other nodes for the grace period): what was sent is
   * flushed and the back end's handles on the loop close. */
  void (*worker_stop)(pz_bus_t *bus, int worker);
  /* Worker thread: carries d to the node of d->to (0), or a negative
   * error when it cannot (the caller answers as for an unknown id). */
  int (*deliver)(pz_bus_t *bus, int worker, const pz_delivery_t *d);
  /* Worker thread: s ends on this worker; went_on: it continues on
   * another node (leave what the cluster holds of it alone). */
  void (*session_ended)(pz_bus_t *bus, int worker, const pz_session_t *s,
                        bool went_on);
  /* Worker thread: looks up session id in the cluster for a resume with
   * `token`; 0 when under way (the `resumed` up-call comes, once, with
   * hold), else an error and nothing will come. */
  int (*resume)(pz_bus_t *bus, int worker, void *hold, uint64_t id,
                pz_str_t token);
  /* Worker thread, admin API: a server chat to `room` (ptr NULL: every
   * room of the cluster) through each room's chat order; the members of
   * the other nodes as a JSON array. Each answers through admin_reply
   * (0 when under way; an error when it cannot be done). */
  int (*admin_cast)(pz_bus_t *bus, int worker, pz_str_t room, pz_str_t text,
                    uint64_t ts_ms, uint64_t req);
  int (*admin_members)(pz_bus_t *bus, int worker, pz_str_t room, uint64_t req);
  /* Worker thread, admin API: a SIGNAL from the server (id 0) to every
   * member of `room` on every node (answered through admin_reply with the
   * room's members cluster-wide, 404 when it has none); the room's state
   * as the cluster holds it (answered through admin_room_state). */
  int (*admin_room_signal)(pz_bus_t *bus, int worker, pz_str_t room,
                           pz_str_t kind, pz_raw_t data, uint64_t ts_ms,
                           uint64_t req);
  int (*admin_room_state)(pz_bus_t *bus, int worker, pz_str_t room,
                          uint64_t req);
  /* Worker thread: the cluster's rooms; 0 when cb will run (once on this
   * worker), or an error (cb will not). */
  int (*rooms)(pz_bus_t *bus, int worker, pz_bus_rooms_cb cb, void *arg);
  /* Any thread: 1 every link up, 0 a link down, -1 no link (embedded). */
  int (*link_state)(pz_bus_t *bus);
  /* Any thread. */
  void (*stats)(pz_bus_t *bus, pz_bus_stats_t *out);
  /* Main thread, after every worker has stopped and been joined. */
  void (*destroy)(pz_bus_t *bus);
};

struct pz_bus {
  const struct pz_bus_vtbl *vt;
};

/* The embedded back end: one node, no Redis. */
pz_bus_t *pz_bus_local_create(void);

/* The Redis back end (src/cluster/). Main thread, before the workers
 * start: claims the node id in Redis (want: an id, or UINT32_MAX for a
 * random one) and makes the bus for n_workers workers; grace_ms is
 * --resume-grace-ms, room_ttl_ms how long an emptied room's keys stay
 * (--room-state-ttl-ms), and the room state's limits.
 * Returns 0 with *out and *node set; PZ_EFULL when the explicit id is held
 * by a live node; PZ_EIO when Redis cannot be reached or refuses us (why
 * says how, never with the password). */
typedef struct pz_bus_redis_options {
  pz_redis_url_t url;
  uint32_t want_node;
  int n_workers;
  uint32_t grace_ms;
  uint32_t room_ttl_ms;
  /* A room's state: what Redis checks a ROOM_SET against. */
  uint32_t room_value_max, room_keys_max, room_state_max;
} pz_bus_redis_options_t;
int pz_bus_redis_create(const pz_bus_redis_options_t *opt, pz_bus_t **out,
                        uint32_t *node, char *why, size_t why_size);

/* ---- calls -------------------------------------------------------------- */

static inline void pz_bus_worker_start(pz_bus_t *b, const pz_bus_worker_t *bw) {
  b->vt->worker_start(b, bw);
}
static inline void pz_bus_worker_stop(pz_bus_t *b, int worker) {
  b->vt->worker_stop(b, worker);
}
static inline int pz_bus_deliver(pz_bus_t *b, int worker,
                                 const pz_delivery_t *d) {
  return b->vt->deliver(b, worker, d);
}
static inline void pz_bus_session_ended(pz_bus_t *b, int worker,
                                        const pz_session_t *s, bool went_on) {
  b->vt->session_ended(b, worker, s, went_on);
}
static inline int pz_bus_resume(pz_bus_t *b, int worker, void *hold,
                                uint64_t id, pz_str_t token) {
  return b->vt->resume(b, worker, hold, id, token);
}
static inline int pz_bus_admin_cast(pz_bus_t *b, int worker, pz_str_t room,
                                    pz_str_t text, uint64_t ts_ms,
                                    uint64_t req) {
  return b->vt->admin_cast(b, worker, room, text, ts_ms, req);
}
static inline int pz_bus_admin_members(pz_bus_t *b, int worker, pz_str_t room,
                                       uint64_t req) {
  return b->vt->admin_members(b, worker, room, req);
}
static inline int pz_bus_admin_room_signal(pz_bus_t *b, int worker,
                                           pz_str_t room, pz_str_t kind,
                                           pz_raw_t data, uint64_t ts_ms,
                                           uint64_t req) {
  return b->vt->admin_room_signal(b, worker, room, kind, data, ts_ms, req);
}
static inline int pz_bus_admin_room_state(pz_bus_t *b, int worker,
                                          pz_str_t room, uint64_t req) {
  return b->vt->admin_room_state(b, worker, room, req);
}
static inline int pz_bus_rooms(pz_bus_t *b, int worker, pz_bus_rooms_cb cb,
                               void *arg) {
  return b->vt->rooms(b, worker, cb, arg);
}
static inline int pz_bus_link_state(pz_bus_t *b) {
  return b->vt->link_state(b);
}
static inline void pz_bus_stats(pz_bus_t *b, pz_bus_stats_t *out) {
  b->vt->stats(b, out);
}
static inline bool pz_bus_clustered(const pz_bus_t *b) {
  return b->vt->link_state((pz_bus_t *)b) >= 0;
}

#endif
