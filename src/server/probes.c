/* /livez, /readyz and /healthz (see probes.h). */
#include "probes.h"

#include <stdio.h>

#include "bus.h"
#include "clock.h"
#include "requests.h"
#include "worker.h"

/* Bodies are a few hundred bytes at most: one buffer, no allocation. */
static void answer(pz_conn_t *c, int status, const char *body, int len) {
  char cors[512];
  if (len < 0)
    len = 0;
  pz_conn_http_answer(c, status, "application/json",
                      pz_requests_cors(c, cors, sizeof(cors)), body,
                      (size_t)len);
}

static pz_server_t *server_of(pz_conn_t *c) {
  return ((pz_worker_t *)pz_conn_owner(c))->srv;
}

int pz_probe_stalled(const uint64_t *last_tick_ms, int n, uint64_t now_ms,
                     uint64_t stall_ms) {
  for (int i = 0; i < n; i++)
    if (now_ms > last_tick_ms[i] && now_ms - last_tick_ms[i] > stall_ms)
      return i;
  return -1;
}

void pz_probe_livez(pz_conn_t *c) {
  pz_server_t *srv = server_of(c);
  uint64_t ticks[PZ_MAX_WORKERS];
  for (int i = 0; i < srv->n_workers; i++)
    ticks[i] = atomic_load_explicit(&srv->workers[i]->last_tick_ms,
                                    memory_order_relaxed);
  uint64_t now = pz_mono_us() / 1000;
  int stalled = pz_probe_stalled(ticks, srv->n_workers, now, PZ_LIVEZ_STALL_MS);
  char body[160];
  int len;
  if (stalled < 0)
    len = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"workers\":%d}\n",
                   srv->n_workers);
  else
    len = snprintf(body, sizeof(body),
                   "{\"status\":\"stalled\",\"worker\":%d,"
                   "\"last_tick_ms_ago\":%llu}\n",
                   stalled, (unsigned long long)(now - ticks[stalled]));
  answer(c, stalled < 0 ? 200 : 503, body, len);
}

/* Why this node takes no new sessions, or NULL when it does. */
static const char *not_ready(const pz_server_t *srv) {
  if (atomic_load(&srv->stopping))
    return "stopping";
  if (atomic_load(&srv->draining))
    return "draining";
  if (atomic_load(&srv->sessions) >= (int64_t)srv->cfg->max_connections)
    return "full";
  return NULL;
}

void pz_probe_readyz(pz_conn_t *c) {
  pz_server_t *srv = server_of(c);
  const char *why = not_ready(srv);
  char body[160];
  int len =
      snprintf(body, sizeof(body),
               "{\"status\":\"%s\",\"sessions\":%lld,"
               "\"max_connections\":%u}\n",
               why ? why : "ready", (long long)atomic_load(&srv->sessions),
               srv->cfg->max_connections);
  answer(c, why ? 503 : 200, body, len);
}

void pz_probe_healthz(pz_conn_t *c) {
  pz_server_t *srv = server_of(c);
  int64_t conns = 0, rooms = 0;
  for (int i = 0; i < srv->n_workers; i++) {
    conns += PZ_GET(srv->workers[i]->metrics.connections);
    rooms += PZ_GET(srv->workers[i]->metrics.rooms);
  }
  int link = pz_bus_link_state(srv->bus); /* -1: no Redis */
  const char *why = not_ready(srv);
  /* Stopping and draining say more than a lost link; full is not a fault
   * (only /readyz cares). */
  const char *status = why && why[0] != 'f' ? why
                       : link == 0          ? "degraded"
                                            : "ok";
  char body[512];
  int len = snprintf(
      body, sizeof(body),
      "{\"status\":\"%s\",\"node\":\"%s\",\"version\":\"%s\","
      "\"connections\":%lld,\"sessions\":%lld,\"rooms\":%lld,"
      "\"workers\":%d,\"bus\":\"%s\",%s\"ready\":%s,\"uptime_s\":%llu}\n",
      status, srv->node_name, PZ_VERSION, (long long)conns,
      (long long)atomic_load(&srv->sessions), (long long)rooms, srv->n_workers,
      srv->bus->vt->name,
      link < 0 ? ""
      : link   ? "\"redis\":\"up\","
               : "\"redis\":\"down\",",
      why ? "false" : "true",
      (unsigned long long)(pz_wall_ms() - srv->started_ms) / 1000);
  answer(c, status[0] == 'o' ? 200 : 503, body, len);
}
