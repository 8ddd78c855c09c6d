/*
 * The admin API on the WebSocket port (docs/operations.md):
 * POST /admin/broadcast, POST /admin/kick, GET /admin/sessions, and for
 * apps (protocol 1.1) GET /admin/room-state and POST /admin/signal, JSON
 * in and out, behind --admin-token (auth.h checks it; no token
 * configured: every admin path is 404).
 *
 * The worker that received the request keeps it, by a request id, until
 * every part of its answer is back: broadcasts go to the rooms' own
 * workers, a kick is routed to its session like a whisper (routing.h),
 * and the session list is gathered from every worker. The messages carry
 * no pointers, only (worker, request id) to answer to and plain data, so
 * a bus can carry the same messages between nodes. Clustered
 * (cluster_admin.c), a broadcast goes through each room's chat order in
 * Redis, to every room of the cluster; a kick finds its session on any
 * node (routed like a whisper, answered back on the bus); the session
 * list adds the other nodes' members from the presence hashes.
 */
#ifndef PZ_ADMIN_H
#define PZ_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "worker.h"

/* Registers the inbox handlers (ADMIN_CAST, ADMIN_LIST, ADMIN_REPLY,
 * ADMIN_ROOM). */
void pz_admin_register(pz_worker_t *w);
/* Frees the requests still waiting (worker destroy). */
void pz_admin_dispose(pz_worker_t *w);

/* Connection up-calls for a path under /admin/. on_request_gone: true when
 * c was an admin request waiting for its parts (now answered to nobody). */
void pz_admin_on_request(pz_conn_t *c, const pz_http_req_t *req);
bool pz_admin_on_request_gone(pz_conn_t *c);

/* Housekeeping: answers 504 to requests still waiting for parts past
 * their deadline (a node that went away). */
void pz_admin_sweep(pz_worker_t *w, uint64_t now_ms);

/* Any worker: a part of the answer to request `req` waiting on worker
 * `worker`: an HTTP status (kick), rooms reached (broadcast), or a JSON
 * array of sessions (list; copied). */
void pz_admin_reply(pz_worker_t *w, int worker, uint64_t req, int status,
                    uint32_t count, const char *json);

#endif
