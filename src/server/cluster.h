/*
 * The clustered back end of the bus: N plaza processes sharing one Redis
 * behave as one server. Each worker owns its own Redis link (a command
 * and a subscriber context on its loop, rlink.h) and subscribes to
 *   - plaza:room:<name> for each room of its shard that has local members,
 *   - plaza:node:<node>:w<k>, its own channel: whispers and errors for the
 *     sessions whose home it is, and the link's probe.
 * So what Redis says about a room arrives on the worker that owns the
 * room, and is handled there like a client's message: no lock, no hop.
 * Worker 0's link also carries the node's duties: the heartbeat that keeps
 * plaza:node:<node> alive and reaps dead nodes' members.
 *
 * Files: cluster.c (this: life, links, heartbeat, metrics, dispatch of
 * what arrives), cluster_room.c (the shard hooks: presence, STATE, chat,
 * loading a room), cluster_node.c (whispers between nodes),
 * cluster_session.c (records for resume on any node, drain).
 */
#ifndef PZ_CLUSTER_H
#define PZ_CLUSTER_H

#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "busmsg.h"
#include "redis_url.h"
#include "rlink.h"
#include "server.h"
#include "conn.h"
#include "jwt.h"
#include "shard.h"

/* Node key expiry and how often it is renewed (and dead nodes reaped):
 * a dead node's members get LEFT within NODE_TTL + HEARTBEAT (+ a tick). */
#define PZ_CLUSTER_NODE_TTL_MS 5000
#define PZ_CLUSTER_HEARTBEAT_MS 2000
/* How long a joiner's ROOM waits for Redis before it is served with the
 * local members only. */
#define PZ_CLUSTER_LOAD_MS 2000

typedef struct pz_cluster {
  pz_bus_t bus; /* first: srv->bus points here */
  pz_server_t *srv;
  pz_redis_url_t url;
  char nonce[33]; /* proves plaza:node:<node> is ours */
  /* Per worker, created by the worker on its loop, freed with the bus
   * (after every worker has stopped: /metrics may read them until then). */
  _Atomic(struct pz_cwork *) *cw;
  _Atomic uint64_t bad; /* payloads refused */
} pz_cluster_t;

typedef struct pz_room_load {
  char name[PZ_ROOM_NAME_MAX + 1];
  uint8_t len;
  uint32_t gen;
  uint64_t deadline_ms;
} pz_room_load_t;

/* One worker's part (its thread only). */
typedef struct pz_cwork {
  pz_cluster_t *cl;
  struct pz_worker *w;
  pz_rlink_t *link;
  pz_rlink_stats_t stats; /* the link's counters, read by any thread */
  char channel[48];       /* plaza:node:<node>:w<k> */
  uv_timer_t timer;
  uint64_t next_heartbeat_ms;
  msgpack_sbuffer sb; /* scratch for bus messages */
  msgpack_packer pk;
  pz_room_load_t *loads; /* rooms whose presence is being read */
  uint32_t n_loads, cap_loads;
  bool closing;
  int open; /* handles and link still to close */
} pz_cwork_t;

/* Main thread, before the workers start: the bus for srv (url copied). */
pz_cluster_t *pz_cluster_create(pz_server_t *srv, const pz_redis_url_t *url,
                                const char *nonce);

/* Worker thread: start (link, hooks) and stop (what was sent is flushed,
 * the link closed; the loop ends once it has). */
void pz_cluster_worker_start(struct pz_worker *w);
void pz_cluster_worker_stop(struct pz_worker *w);

/* Begins a scratch bus message (the packer of cw). */
msgpack_packer *pz_cluster_begin(pz_cwork_t *cw);
/* Counts a refused payload (logged at debug). */
void pz_cluster_bad(pz_cwork_t *cw, const char *what);

/* cluster_room.c */
extern const pz_shard_hooks_t pz_cluster_room_hooks;
void pz_cluster_room_message(pz_cwork_t *cw, pz_str_t room,
                             const pz_busmsg_t *m);
void pz_cluster_room_subscribed(pz_cwork_t *cw, pz_str_t room);
void pz_cluster_rooms_relink(pz_cwork_t *cw);
void pz_cluster_loads_sweep(pz_cwork_t *cw, uint64_t now_ms);

/* cluster_node.c */
/* This node's entry in the cluster's directory for session id:
 * "<node>:w<home>" into out; returns its length. */
int pz_cluster_where(pz_cwork_t *cw, uint64_t id, char *out, size_t size);
void pz_cluster_node_message(pz_cwork_t *cw, const pz_busmsg_t *m);
int pz_cluster_deliver_remote(pz_bus_t *bus, struct pz_worker *w,
                              struct pz_msg_deliver *d);
int pz_cluster_rooms(pz_bus_t *bus, struct pz_worker *w, pz_bus_rooms_cb cb,
                     void *arg);

/* cluster_admin.c: the admin API across the cluster. Each answers the
 * admin request `req` waiting on this worker (pz_admin_reply) once Redis
 * has; 0 when under way, PZ_ECLOSED unlinked (nothing will come). */
/* A server chat to `room` (ptr NULL: every room of the cluster) through
 * the rooms' chat order: the answer counts the rooms (status 503 when
 * the link went down meanwhile). */
int pz_cluster_admin_cast(pz_cwork_t *cw, pz_str_t room, pz_str_t text,
                          uint64_t ts_ms, uint64_t req);
/* The other nodes' members of `room` (ptr NULL: of every room), from the
 * presence hashes: the answer is a JSON array of sessions. */
int pz_cluster_admin_members(pz_cwork_t *cw, pz_str_t room, uint64_t req);

/* cluster_session.c */
/* s was detached: its record, for a resume on any node within the grace
 * period. */
void pz_cluster_session_save(pz_cwork_t *cw, const pz_session_t *s);
/* s was resumed here: its record goes. */
void pz_cluster_session_forget(pz_cwork_t *cw, uint64_t id);
/* A session of another node that was resumed here ends: its entry in the
 * cluster's directory goes, if it still names this node. */
void pz_cluster_session_unlist(pz_cwork_t *cw, uint64_t id);
/* HELLO with a token of another node's session: takes its record from
 * Redis (atomically, if the token matches) and restores it on c, or fails
 * the resume. 0 when under way (c is held meanwhile), else an error and
 * nothing was done. With auth, grant (the HELLO's JWT) is taken when under
 * way, and must be the record's user's. */
int pz_cluster_resume(pz_cwork_t *cw, pz_conn_t *c, uint64_t id, pz_str_t token,
                      pz_str_t name, bool has_last, uint64_t last,
                      pz_grant_t *grant);
/* Drain (worker 0, at stop): the node's members are parked for the grace
 * period instead of being reaped with the node. */
void pz_cluster_park(pz_cwork_t *cw);

#endif
