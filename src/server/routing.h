/*
 * Routing a whisper or a signal (or an error answering one) to a session
 * id, wherever it lives. The worker holding the session delivers it; otherwise
 * the id's home worker (in the id) forwards it along its directory of where
 * each of its sessions lives now. While a session moves between workers the
 * home holds its messages until the new worker reports in, so a move never
 * turns into a false ERROR 7. Ids of other nodes go to the bus, and so,
 * when clustered, does an id of this node that is not here: a session
 * resumed on another node is found through the cluster's directory. What
 * arrives from the bus is routed here only, never sent back out.
 */
#ifndef PZ_ROUTING_H
#define PZ_ROUTING_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "worker.h"

/* Kinds: enum pz_deliver_kind (bus.h). KICK: the admin API's; closes the
 * session with 4003 (ends it when it is detached) and answers the request
 * at (reply_worker, reply_req). SIGNAL (protocol 1.1): text holds the kind
 * (kind_len bytes) then the data's MessagePack bytes. From a session (from
 * != 0), whoever delivers it or finds no one sends SIGNAL_ACK back to
 * `from` (signals.h); from the admin API (from 0), the request at
 * (reply_worker, reply_req) is answered as a kick's. CONFLICT: ERROR 12
 * for a ROOM_SET, text the key and `version` the key's current one (from
 * the cluster, which numbers room state). TAKEN lets a session go quietly
 * when a resume on another node took a newer generation of it. */

typedef struct pz_msg_deliver {
  pz_msg_t hdr;
  int kind;
  int hops;
  uint64_t to;
  uint64_t from;
  uint64_t ts_ms;
  int error_code; /* ERROR */
  int error_op;
  bool from_bus;       /* arrived from another node: route locally only */
  bool back_here;      /* to the bus: unless the directory lists the session
                          elsewhere, come back to this node */
  uint32_t reply_node; /* KICK: where the admin request waits */
  int reply_worker;
  uint64_t reply_req;
  uint8_t name_len;
  char name[PZ_NAME_MAX + 1];
  uint8_t kind_len; /* SIGNAL: the kind's part of text */
  uint64_t version; /* CONFLICT */
  uint32_t gen;     /* TAKEN */
  uint32_t text_len;
  char text[]; /* whisper text, the error message, a signal, a key */
} pz_msg_deliver_t;

/* A home worker's record of where one of its sessions lives, kept for the
 * sessions away from it (the home's own shard holds the others). While the
 * session moves between workers it is "in transit" (PZ_DIR_MOVING) and
 * whispers for it wait here until its new worker reports in. */
#define PZ_DIR_MOVING (-1)

/* The module's state of one worker (its directory), made and freed with
 * the worker. */
typedef struct pz_routing pz_routing_t;
pz_routing_t *pz_routing_create(void);
void pz_routing_destroy(pz_routing_t *rt);

/* A whisper or error for session `to` (copies name and text). */
pz_msg_deliver_t *pz_deliver_new(int kind, uint64_t to, uint64_t from,
                                 pz_str_t name, pz_str_t text);
/* A SIGNAL for session `to` (copies name, kind and data). */
pz_msg_deliver_t *pz_deliver_signal(uint64_t to, uint64_t from, pz_str_t name,
                                    pz_str_t kind, pz_raw_t data,
                                    uint64_t ts_ms);
/* ERROR 12 for session `to`: key (copied) is at `version` now. For the
 * cluster, when the bus refuses a ROOM_SET. */
pz_msg_deliver_t *pz_deliver_conflict(uint64_t to, pz_str_t key,
                                      uint64_t version);
/* The worker of this node that keeps the directory entry of session id:
 * the worker in the id for this node's ids (-1 when there is no such
 * worker), that index modulo the workers for another node's (a session
 * resumed here). */
int pz_routing_home(const pz_server_t *srv, uint64_t id);
/* Worker thread: routes msg to its session wherever it lives (takes msg). */
void pz_routing_deliver(pz_worker_t *w, pz_msg_deliver_t *msg);
/* Worker thread: tells the home of session `id` that it lives on this
 * worker, is moving (PZ_DIR_MOVING) or is gone. */
void pz_routing_dir_set(pz_worker_t *w, uint64_t id, int worker);
void pz_routing_dir_gone(pz_worker_t *w, uint64_t id);
/* Answers a KICK (status 200, 404 or 503) to the admin request waiting on
 * whichever node and worker asked (takes d). */
void pz_routing_kick_answer(pz_worker_t *w, pz_msg_deliver_t *d, int status);
/* Home worker thread: where session id lives per the directory: a worker
 * index, PZ_DIR_MOVING, or -2 when it is not known. */
int pz_routing_dir_lookup(pz_worker_t *w, uint64_t id);
/* Whether d may leave for another node through the bus. */
bool pz_routing_bus_carries(const pz_msg_deliver_t *d);
/* The bus's up-call: a delivery from another node (or the cluster layer
 * itself), routed within this node only (copies d). False when no session
 * by that id is known here (on the id's home worker, where the bus
 * delivers: its directory knows them all). */
bool pz_routing_from_bus(void *worker, const pz_delivery_t *d);

#endif
