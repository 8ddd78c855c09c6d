/*
 * A connection's HTTP phase: the request head, then either the WebSocket
 * upgrade or one answer and a close (no keep-alive: the port's HTTP side
 * serves health checks, metrics and a page, not traffic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "conn_int.h"
#include "error.h"
#include "forwarded.h"
#include "log.h"
#include "origin.h"
#include "plaza/protocol.h"

static const char *status_text(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 204:
    return "No Content";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Content Too Large";
  case 426:
    return "Upgrade Required";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Error";
  }
}

void pz_conn_set_request_data(pz_conn_t *c, void *data) {
  c->request_data = data;
}

void *pz_conn_request_data(const pz_conn_t *c) {
  return c->request_data;
}

void pz_conn_hold(pz_conn_t *c, void *data) {
  c->request_pending = data != NULL;
  c->request_data = data;
}

const pz_http_req_t *pz_conn_http_request(const pz_conn_t *c) {
  return c->state == PZ_CONN_HTTP ? c->http : NULL;
}

void pz_conn_http_answer(pz_conn_t *c, int status, const char *type,
                         const char *extra_headers, const void *body,
                         size_t len) {
  if (c->state != PZ_CONN_HTTP)
    return;
  c->request_pending = false;
  /* HEAD and 304 carry the headers of the answer, not its body. */
  bool head_only = status == 304 || (c->http && c->http->method == HTTP_HEAD);
  char head[1024];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n%s%s\r\n",
                   status, status_text(status), type, len,
                   status == 426 ? "Upgrade: websocket\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                 : "",
                   extra_headers ? extra_headers : "");
  if (n < 0 || (size_t)n >= sizeof(head)) {
    pz_conn_hard_close(c);
    return;
  }
  size_t body_len = head_only ? 0 : len;
  /* Head and body in one payload: one entry, one writev. */
  pz_payload_t *p = pz_payload_alloc((size_t)n + body_len, PZ_PAYLOAD_RELIABLE);
  memcpy(p->data, head, (size_t)n);
  if (body_len)
    memcpy(p->data + n, body, body_len);
  pz_conn_push(c, NULL, 0, NULL, 0, PZ_OUT_RELIABLE, p);
  pz_payload_unref(p);
  pz_conn_enter_closing(c);
}

static void http_error(pz_conn_t *c, int status, const char *text) {
  pz_conn_http_answer(c, status, "text/plain", NULL, text, strlen(text));
}

static void upgrade(pz_conn_t *c, uint8_t *rest, size_t rest_len) {
  /* A browser page of another site must not open a socket that carries
   * its visitor's cookies or token (cross-site WebSocket hijacking). The
   * server's own page (the demo at /) is not another site. */
  const char *origin = pz_http_header(c->http, PZ_HF_ORIGIN);
  if (origin[0] && !pz_origin_listed(c->host->cfg->allowed_origins, origin) &&
      !pz_origin_same_host(origin, pz_http_header(c->http, PZ_HF_HOST))) {
    pz_debug("upgrade from %s refused: origin not allowed", pz_conn_peer(c));
    http_error(c, 403, "origin not allowed\n");
    return;
  }
  char answer[512];
  int status = pz_ws_handshake(c->http, answer, sizeof(answer));
  if (status) {
    http_error(c, status, "a WebSocket upgrade is expected here\n");
    return;
  }
  if (c->host->events->on_upgrade && !c->host->events->on_upgrade(c))
    return; /* refused, and answered */
  pz_http_req_dispose(c->http);
  free(c->http);
  c->http = NULL;
  c->state = PZ_CONN_WS;
  c->rx.done = 0;
  pz_conn_push(c, NULL, 0, answer, strlen(answer), PZ_OUT_RELIABLE, NULL);
  /* HELLO is due within the timeout from the upgrade. */
  c->deadline_ms = uv_now(c->host->loop) + c->host->cfg->hello_timeout_ms;
  pz_conn_list_move(c, PZ_LIST_WAITING);
  if (rest_len) /* frames sent right after the head */
    pz_conn_ws_input(c, rest, rest_len);
}

/* A request from a trusted proxy names its client in X-Forwarded-For
 * (forwarded.h); from anyone else the header is the sender's word only. */
static void forwarded_client(pz_conn_t *c) {
  const pz_config_t *cfg = c->host->cfg;
  const char *xff = pz_http_header(c->http, PZ_HF_FORWARDED_FOR);
  pz_ip_t ip;
  if (!xff[0] || !pz_cidr_list_match(&cfg->trusted_proxies, &c->ip) ||
      !pz_forwarded_client(xff, c->http->forwarded_cut, &cfg->trusted_proxies,
                           &ip))
    return;
  char from[PZ_PEER_MAX];
  snprintf(from, sizeof(from), "%s", pz_conn_peer(c));
  pz_conn_set_client(c, &ip, 0);
  pz_debug("request from %s through proxy %s (X-Forwarded-For)",
           pz_conn_peer(c), from);
}

void pz_conn_http_input(pz_conn_t *c, uint8_t *data, size_t len) {
  if (c->request_pending)
    return; /* one request per connection: the rest is not read */
  ssize_t r = pz_http_req_feed(c->http, (const char *)data, len);
  if (r == PZ_EAGAIN)
    return;
  if (r == PZ_ETOOBIG) {
    /* A head can be over the limit and complete (one read of it all). */
    if (c->http->head_bytes > PZ_HTTP_HEAD_MAX)
      http_error(c, 431, "request head too large\n");
    else
      http_error(c, 413, "request body too large\n");
    return;
  }
  if (r < 0) {
    http_error(c, 400, "malformed HTTP request\n");
    return;
  }
  PZ_ADD(c->host->metrics->http_requests, 1);
  forwarded_client(c);
  char *q = strchr(c->http->path, '?');
  if (q)
    *q = 0;
  if (strcmp(c->http->path, PZ_WS_PATH) == 0) {
    /* RFC 6455 4.1: the upgrade is a GET without a body. One that carries
     * a body would leave it to be read as frames, or kept for nothing. */
    if (c->http->upgrade && c->http->has_body)
      http_error(c, 400, "a WebSocket upgrade carries no body\n");
    else
      upgrade(c, data + r, len - (size_t)r);
    return;
  }
  c->request_pending = true;
  c->host->events->on_request(c, c->http);
}
