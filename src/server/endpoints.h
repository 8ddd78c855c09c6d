/*
 * HTTP endpoints on the WebSocket port: the probes (/healthz, /livez,
 * /readyz: probes.h), /metrics, /rooms and the demo page's files.
 * /rooms gathers every worker's rooms through their inboxes and answers
 * when the last part arrives.
 */
#ifndef PZ_ENDPOINTS_H
#define PZ_ENDPOINTS_H

#include "conn.h"
#include "worker.h"

/* Connection up-calls: a request head to answer (now or after a gather),
 * and a connection gone before its answer. */
void pz_endpoints_on_request(pz_conn_t *c, const pz_http_req_t *req);
void pz_endpoints_on_request_gone(pz_conn_t *c);

#endif
