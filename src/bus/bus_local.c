/* The embedded bus back end: a single node has no remote peers, so every
 * call is a no-op or "not here". */
#include <stdlib.h>

#include "alloc.h"
#include "bus.h"
#include "error.h"

static void local_worker_start(pz_bus_t *bus, const pz_bus_worker_t *bw) {}

static void local_worker_stop(pz_bus_t *bus, int worker) {}

static int local_deliver(pz_bus_t *bus, int worker, const pz_delivery_t *d) {
  return PZ_ENOTSUP; /* ids of other nodes cannot exist here */
}

static void local_session_ended(pz_bus_t *bus, int worker,
                                const pz_session_t *s, bool went_on) {}

static int local_resume(pz_bus_t *bus, int worker, void *hold, uint64_t id,
                        pz_str_t token) {
  return PZ_ENOTSUP; /* a session not on this node does not exist */
}

static int local_admin_cast(pz_bus_t *bus, int worker, pz_str_t room,
                            pz_str_t text, uint64_t ts_ms, uint64_t req) {
  return PZ_ENOTSUP;
}

static int local_admin_members(pz_bus_t *bus, int worker, pz_str_t room,
                               uint64_t req) {
  return PZ_ENOTSUP;
}

static int local_admin_room_signal(pz_bus_t *bus, int worker, pz_str_t room,
                                   pz_str_t kind, pz_raw_t data, uint64_t ts_ms,
                                   uint64_t req) {
  return PZ_ENOTSUP;
}

static int local_admin_room_state(pz_bus_t *bus, int worker, pz_str_t room,
                                  uint64_t req) {
  return PZ_ENOTSUP;
}

static int local_rooms(pz_bus_t *bus, int worker, pz_bus_rooms_cb cb,
                       void *arg) {
  return PZ_ENOTSUP; /* /rooms is this node's */
}

static int local_link_state(pz_bus_t *bus) {
  return -1;
}

static void local_stats(pz_bus_t *bus, pz_bus_stats_t *out) {
  *out = (pz_bus_stats_t){0};
}

static void local_destroy(pz_bus_t *bus) {
  free(bus);
}

static const struct pz_bus_vtbl local_vtbl = {
    .name = "local",
    .worker_start = local_worker_start,
    .worker_stop = local_worker_stop,
    .deliver = local_deliver,
    .session_ended = local_session_ended,
    .resume = local_resume,
    .admin_cast = local_admin_cast,
    .admin_members = local_admin_members,
    .admin_room_signal = local_admin_room_signal,
    .admin_room_state = local_admin_room_state,
    .rooms = local_rooms,
    .link_state = local_link_state,
    .stats = local_stats,
    .destroy = local_destroy,
};

pz_bus_t *pz_bus_local_create(void) {
  pz_bus_t *bus = pz_xmalloc(sizeof(*bus));
  bus->vt = &local_vtbl;
  return bus;
}
