/*
 * The bus: what crosses nodes. Inside one process, workers reach each other
 * through their inboxes (deliver.c routes by the home worker in each id);
 * the bus carries what must leave the process. Back ends: "local" (the
 * embedded default: this node is the whole cluster, so nothing is remote)
 * and, later, Redis pub/sub for several nodes sharing rooms.
 */
#ifndef PZ_BUS_H
#define PZ_BUS_H

struct pz_worker;
struct pz_msg_deliver;

typedef struct pz_bus pz_bus_t;

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
};

struct pz_bus {
  const struct pz_bus_vtbl *vt;
};

/* The embedded back end: one node, no Redis. */
pz_bus_t *pz_bus_local_create(void);

#endif
