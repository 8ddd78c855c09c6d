/*
 * The probes an orchestrator or load balancer asks, on the WebSocket
 * port; each means one thing (docs/operations.md, "Probes"):
 *
 *   /livez   the process and its loops are alive: every worker ticked
 *            within PZ_LIVEZ_STALL_MS. 503 means restart me.
 *   /readyz  this node takes new sessions: not draining or stopping, and
 *            below --max-connections. Redis does not enter into it: a node
 *            cut off from Redis still serves. 503 means send no one new.
 *   /healthz the detailed report: status ok, degraded (the Redis link is
 *            down: local members are served, chat is refused), draining
 *            or stopping; 200 only when ok.
 *
 * Answered on whichever worker holds the request, from atomics every
 * worker keeps: no message to the other workers.
 */
#ifndef PZ_PROBES_H
#define PZ_PROBES_H

#include <stdint.h>

#include "conn.h"

/* A worker whose last tick is older than this is stalled. */
#define PZ_LIVEZ_STALL_MS 5000

void pz_probe_livez(pz_conn_t *c);
void pz_probe_readyz(pz_conn_t *c);
void pz_probe_healthz(pz_conn_t *c);

/* The index of the first of n workers whose last tick (monotonic ms) is
 * more than stall_ms before now_ms, or -1 when all ticked within it. */
int pz_probe_stalled(const uint64_t *last_tick_ms, int n, uint64_t now_ms,
                     uint64_t stall_ms);

#endif
