/*
 * The bus: what crosses nodes. Inside one process, workers reach each other
 * through their inboxes (deliver.c routes by the home worker in each id);
 * the bus carries what must leave the process. Back ends: "local" (the
 * embedded default: this node is the whole cluster, so nothing is remote)
 * and Redis pub/sub for several nodes sharing rooms (src/server/cluster*.c
 * on the transport, payloads and scripts of this folder).
 */
#ifndef PZ_BUS_H
#define PZ_BUS_H

#include <stddef.h>
#include <stdint.h>

struct pz_worker;
struct pz_msg_deliver;

typedef struct pz_bus pz_bus_t;

/* Counters for /metrics, summed over every link of the node. */
typedef struct pz_bus_stats {
  uint64_t reconnects, publishes, received, bad;
} pz_bus_stats_t;

/* The cluster's rooms for /rooms: json is a malloc'd list of objects
 * without brackets (the callee owns it), or NULL when the bus could not
 * answer (the caller falls back to this node's rooms). */
typedef void (*pz_bus_rooms_cb)(void *arg, char *json, size_t len);

struct pz_bus_vtbl {
  const char *name;
  /* Worker thread: carries msg to the node of msg->to. Returns 0 (taken)
   * or a negative error when that node cannot be reached (msg stays with
   * the caller, which answers ERROR 7). */
  int (*deliver_remote)(pz_bus_t *bus, struct pz_worker *w,
                        struct pz_msg_deliver *msg);
  /* For /metrics: 1 link up, 0 link down, -1 no link (embedded). */
  int (*link_state)(pz_bus_t *bus);
  void (*destroy)(pz_bus_t *bus);
  /* Optional (NULL: zeros). Any thread. */
  void (*stats)(pz_bus_t *bus, pz_bus_stats_t *out);
  /* Optional (NULL: /rooms is this node's). Worker thread: asks for the
   * cluster's rooms; 0 when cb will run (once), or an error (cb will not). */
  int (*rooms)(pz_bus_t *bus, struct pz_worker *w, pz_bus_rooms_cb cb,
               void *arg);
};

struct pz_bus {
  const struct pz_bus_vtbl *vt;
};

/* The embedded back end: one node, no Redis. */
pz_bus_t *pz_bus_local_create(void);

#endif
