/*
 * The HTTP requests of the port, routed: paths under /admin/ to the admin
 * API (admin.h, which never answers CORS), CORS preflights of the JSON
 * endpoints answered here, everything else to endpoints.h; the rate of
 * WebSocket upgrades per client address. And the CORS header lines the
 * JSON endpoints add to their answers.
 */
#ifndef PZ_REQUESTS_H
#define PZ_REQUESTS_H

#include <stddef.h>

#include "conn.h"

/* Connection up-calls (worker.c wires them). on_upgrade refuses an
 * upgrade past --connect-rate from its client's address with 429. */
bool pz_requests_on_upgrade(pz_conn_t *c);
void pz_requests_on_request(pz_conn_t *c, const pz_http_req_t *req);
void pz_requests_on_request_gone(pz_conn_t *c);

/* The CORS header lines for the answer to c's request ("Access-Control-
 * Allow-Origin: <its Origin>\r\nVary: Origin\r\n" in buf) when it is for
 * /healthz or /rooms and its Origin is allowed; NULL otherwise. */
const char *pz_requests_cors(const pz_conn_t *c, char *buf, size_t size);

#endif
