/*
 * The Redis back end of the bus, private to src/cluster (the server sees
 * only bus.h). N plaza processes sharing one Redis behave as one server.
 * Each worker owns its own Redis link (a command and a subscriber context
 * on its loop, rlink.h) and subscribes to
 *   - plaza:room:<name> for each room of its shard that has local members,
 *   - plaza:node:<node>:w<k>, its own channel: deliveries for the sessions
 *     whose home it is, and the link's probe.
 * So what Redis says about a room arrives on the worker that owns the
 * room, and is handled there like a client's message: no lock, no hop.
 * Worker 0's link also carries the node's duties: the heartbeat that keeps
 * plaza:node:<node> alive and reaps dead nodes.
 *
 * Files: bus_redis.c (life, links, timers, the vtable), room_sync.c (a
 * room's events in offset order: load, gap repair, new epochs),
 * presence.c (the shard hooks: what local members do; the journal of
 * what happened while unlinked), records.c (session records, resume on
 * any node), heartbeat.c (node key, reaping), deliver.c (deliveries
 * between nodes, /rooms, the admin API).
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
#include "shard.h"

/* Node key expiry and how often it is renewed (and dead nodes reaped). */
#define PZ_CLUSTER_NODE_TTL_MS 5000
#define PZ_CLUSTER_HEARTBEAT_MS 2000
/* Members and records of a dead node handled per heartbeat. */
#define PZ_CLUSTER_REAP_BATCH 200
/* How long a joiner's ROOM waits for Redis before it is served with the
 * local members only. */
#define PZ_CLUSTER_LOAD_MS 2000
/* Session records: written at most this often for a position change;
 * at once for the rest (a new session, a room, state, attach/detach). A
 * resumed client sends its position again with its next MOVE; the record
 * only places an avatar that stood still since, so seconds are enough,
 * and a position a second would cost Redis more than the rest together. */
#define PZ_CLUSTER_RECORD_MS 10000
/* An attached session's record lives this long unless refreshed (it is
 * rewritten at least every half of it), so records outlive no cluster for
 * long; a dead node's are cut to the grace period by the reaper. */
#define PZ_CLUSTER_RECORD_TTL_MS 600000
/* Records per EVAL. */
#define PZ_CLUSTER_RECORD_BATCH 256
/* After a new epoch, the room is read whole again this much later, when
 * every node has told Redis again who is there. */
#define PZ_CLUSTER_RESEED_MS 3000
/* Room events held while a gap is repaired, before the room is read whole
 * instead. */
#define PZ_CLUSTER_PENDING_MAX 4096
/* Changes kept while unlinked, per worker. */
#define PZ_CLUSTER_JOURNAL_MAX 65536

typedef struct pz_cluster {
  pz_bus_t bus; /* first: the server holds &bus */
  pz_redis_url_t url;
  uint32_t node;
  int n_workers;
  uint32_t grace_ms, room_ttl_ms;
  struct {
    uint32_t value_max, keys_max, bytes_max;
  } limits;       /* of a room's state */
  char nonce[33]; /* proves plaza:node:<node> is ours */
  /* Per worker, created by the worker on its loop, freed with the bus
   * (after every worker has stopped: /metrics may read them until then). */
  _Atomic(struct pz_cwork *) *cw;
  _Atomic uint64_t bad;    /* payloads refused */
  _Atomic uint64_t retake; /* +1 when the node key had to be taken again:
                              every worker tells Redis again who is here */
  _Atomic uint64_t gaps, reloads, journalled, chat_lost;
} pz_cluster_t;

typedef struct pz_room_load {
  char name[PZ_ROOM_NAME_MAX + 1];
  uint8_t len;
  uint32_t gen;
  uint64_t deadline_ms;
} pz_room_load_t;

struct pz_journal_entry;
struct pz_room_sync;

/* A session that ended: its record goes with the next batch. */
typedef struct pz_record_end {
  uint64_t id;
  uint32_t gen;
} pz_record_end_t;

/* One worker's part (its thread only, but for the stats). */
typedef struct pz_cwork {
  pz_cluster_t *cl;
  pz_bus_worker_t bw; /* the worker's loop, shard and up-calls */
  pz_rlink_t *link;
  pz_rlink_stats_t stats; /* the link's counters, read by any thread */
  char channel[48];       /* plaza:node:<node>:w<k> */
  uv_timer_t timer;
  uint64_t next_heartbeat_ms;
  uint64_t retake_seen;
  msgpack_sbuffer sb; /* scratch for bus messages */
  msgpack_packer pk;
  struct pz_room_sync *syncs; /* room_sync.c: every open room's */
  pz_room_load_t *loads;      /* rooms whose snapshot is awaited for a ROOM */
  uint32_t n_loads, cap_loads;
  /* presence.c: what could not be told while unlinked, in order */
  struct pz_journal_entry *journal, **journal_tail;
  uint32_t n_journal;
  uint64_t chat_counter;
  char idem[48]; /* "<nonce>:<worker>": this worker's chat idempotency */
  /* records.c */
  pz_record_end_t *ended;
  uint32_t n_ended, cap_ended;
  bool closing;
} pz_cwork_t;

/* bus_redis.c */
msgpack_packer *pz_cluster_begin(pz_cwork_t *cw);
/* Counts a refused payload (logged at debug). */
void pz_cluster_bad(pz_cwork_t *cw, const char *what);
/* EVAL of `script` with binary-safe arguments. */
int pz_cluster_eval(pz_cwork_t *cw, redisCallbackFn *cb, void *pd,
                    const char *script, int argc, const char **args,
                    const size_t *lens);
static inline pz_shard_t *pz_cluster_shard(pz_cwork_t *cw) {
  return cw->bw.shard;
}
static inline uint64_t pz_cluster_now(pz_cwork_t *cw) {
  return uv_now(cw->bw.loop);
}
/* "plaza:room:<name><suffix>" into out (size >= PZ_CLUSTER_KEY_MAX). */
#define PZ_CLUSTER_KEY_MAX (sizeof("plaza:room:") + PZ_ROOM_NAME_MAX + 16)
int pz_cluster_room_key(char *out, pz_str_t room, const char *suffix);
/* This node's entry in the cluster's directory for session id:
 * "<node>:w<home>" into out; returns its length. */
int pz_cluster_where(pz_cwork_t *cw, uint64_t id, char *out, size_t size);
/* The client's address of session s as the presence and records carry it
 * (pz_ip_format into buf, at least PZ_ADDR_MAX bytes): "" when unknown. */
pz_str_t pz_cluster_addr(const pz_session_t *s, char *buf);
/* The home worker of session id on this node. */
int pz_cluster_home(const pz_cluster_t *cl, uint64_t id);

/* room_sync.c */
/* A room was opened here (its first local member): its sync state. */
void pz_room_sync_open(pz_cwork_t *cw, pz_room_t *r);
void pz_room_sync_close(pz_cwork_t *cw, pz_room_t *r);
/* ROOM for r's joiners waits for its snapshot (at most PZ_CLUSTER_LOAD_MS). */
void pz_room_sync_wait(pz_cwork_t *cw, pz_room_t *r);
/* Frees every room's sync state (the worker stopped). */
void pz_room_sync_dispose(pz_cwork_t *cw);
/* The room's channel is subscribed (again): read its snapshot. */
void pz_room_sync_subscribed(pz_cwork_t *cw, pz_str_t room);
/* A message on a room's channel. */
void pz_room_sync_message(pz_cwork_t *cw, pz_str_t room, const pz_busmsg_t *m);
/* Rooms whose ROOM waits too long for Redis are served; new epochs'
 * delayed reloads run. */
void pz_room_sync_sweep(pz_cwork_t *cw, uint64_t now_ms);
/* A presence value "<node>:<gen>|<JOIN>": the JOIN decoded. */
bool pz_presence_value(pz_cwork_t *cw, const char *v, size_t len,
                       pz_busmsg_t *m);

/* presence.c */
extern const pz_shard_hooks_t pz_cluster_hooks;
/* Tells Redis again who is here: the journal first, then every local
 * member (QUIET), and chats of unknown outcome (relink, node key taken
 * again). */
void pz_presence_relink(pz_cwork_t *cw);
/* A room's events start over in a new epoch: its local members are
 * announced again and what the node holds of its chat seeds Redis. */
void pz_presence_reseed(pz_cwork_t *cw, pz_room_t *r);
/* Announces local member s of r (flags: PZ_BUS_JOIN_QUIET). */
void pz_presence_announce(pz_cwork_t *cw, pz_room_t *r, pz_session_t *s,
                          uint32_t flags);
void pz_presence_dispose(pz_cwork_t *cw);

/* records.c */
/* Writes the records of sessions that changed (the worker's timer). */
void pz_records_flush(pz_cwork_t *cw, uint64_t now_ms, bool all);
void pz_records_session_ended(pz_cwork_t *cw, const pz_session_t *s);
int pz_records_resume(pz_cwork_t *cw, void *hold, uint64_t id, pz_str_t token);

/* heartbeat.c (worker 0) */
void pz_heartbeat(pz_cwork_t *cw);
/* A draining node lets go of its key. */
void pz_heartbeat_release(pz_cwork_t *cw);

/* deliver.c */
int pz_deliver_remote(pz_bus_t *bus, int worker, const pz_delivery_t *d);
void pz_deliver_node_message(pz_cwork_t *cw, const pz_busmsg_t *m);
int pz_cluster_rooms(pz_bus_t *bus, int worker, pz_bus_rooms_cb cb, void *arg);
int pz_cluster_admin_cast(pz_bus_t *bus, int worker, pz_str_t room,
                          pz_str_t text, uint64_t ts_ms, uint64_t req);
int pz_cluster_admin_members(pz_bus_t *bus, int worker, pz_str_t room,
                             uint64_t req);
int pz_cluster_admin_room_signal(pz_bus_t *bus, int worker, pz_str_t room,
                                 pz_str_t kind, pz_raw_t data, uint64_t ts_ms,
                                 uint64_t req);
int pz_cluster_admin_room_state(pz_bus_t *bus, int worker, pz_str_t room,
                                uint64_t req);

#endif
