/* Routing HTTP requests, and CORS (see requests.h). */
#include "requests.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "auth.h"
#include "clock.h"
#include "endpoints.h"
#include "log.h"
#include "origin.h"
#include "worker.h"

#define CORS_MAX 512

static bool cors_path(const char *path) {
  return strcmp(path, "/healthz") == 0 || strcmp(path, "/rooms") == 0;
}

/* The Origin of req when CORS applies to it, or NULL. */
static const char *cors_origin(const pz_conn_t *c, const pz_http_req_t *req) {
  const pz_worker_t *w = pz_conn_owner(c);
  if (!cors_path(req->path))
    return NULL;
  const char *origin = pz_http_header(req, PZ_HF_ORIGIN);
  if (!pz_origin_listed(w->cfg->allowed_origins, origin) ||
      strpbrk(origin, "\r\n"))
    return NULL;
  return origin;
}

const char *pz_requests_cors(const pz_conn_t *c, char *buf, size_t size) {
  const pz_http_req_t *req = pz_conn_http_request(c);
  const char *origin = req ? cors_origin(c, req) : NULL;
  if (!origin)
    return NULL;
  int n = snprintf(
      buf, size, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
  return n > 0 && (size_t)n < size ? buf : NULL;
}

/* OPTIONS: a browser's preflight. Allowed origins learn what they may do;
 * others get the same 204 without Access-Control-* (the browser stops). */
static void preflight(pz_conn_t *c, const pz_http_req_t *req) {
  char extra[CORS_MAX];
  const char *origin = cors_origin(c, req);
  if (origin)
    snprintf(extra, sizeof(extra),
             "Allow: GET, HEAD, OPTIONS\r\n"
             "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
             "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
             "Access-Control-Allow-Headers: Content-Type\r\n"
             "Access-Control-Max-Age: 600\r\n",
             origin);
  else
    snprintf(extra, sizeof(extra), "Allow: GET, HEAD, OPTIONS\r\n");
  pz_conn_http_answer(c, 204, "text/plain", extra, "", 0);
}

void pz_requests_on_request(pz_conn_t *c, const pz_http_req_t *req) {
  if (strncmp(req->path, "/admin/", 7) == 0 || strcmp(req->path, "/admin") == 0)
    pz_admin_on_request(c, req);
  else if (req->method == HTTP_OPTIONS && cors_path(req->path))
    preflight(c, req);
  else
    pz_endpoints_on_request(c, req);
}

void pz_requests_on_request_gone(pz_conn_t *c) {
  if (!pz_admin_on_request_gone(c))
    pz_endpoints_on_request_gone(c);
}

bool pz_requests_on_upgrade(pz_conn_t *c) {
  pz_worker_t *w = pz_conn_owner(c);
  if (pz_auth_connect_allowed(w->srv->auth, pz_conn_ip(c), pz_mono_us() / 1000))
    return true;
  PZ_ADD(w->metrics.refused_rate, 1);
  pz_debug("upgrade from %s refused: past --connect-rate", pz_conn_peer(c));
  static const char text[] = "too many connections from your address, "
                             "try again later\n";
  pz_conn_http_answer(c, 429, "text/plain", "Retry-After: 1\r\n", text,
                      sizeof(text) - 1);
  return false;
}
