/* /healthz, /livez, /readyz (probes.h), /metrics and /rooms (see
 * endpoints.h). */
#include "endpoints.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bus.h"
#include "metrics_render.h"
#include "probes.h"
#include "requests.h"
#include "static_assets.h"

typedef struct pz_msg_gather {
  pz_msg_t hdr;
  struct pz_gather *gather;
  int reply_to;
  size_t len;
  char *json; /* GATHER_PART: the worker's rooms as JSON objects, malloc'd */
} pz_msg_gather_t;

typedef struct pz_gather {
  pz_conn_t *conn;
  pz_worker_t *worker; /* where the answer is put together */
  int pending;
  char *json;
  size_t len;
} pz_gather_t;

__attribute__((format(printf, 2, 3))) static char *fmt(size_t *len,
                                                       const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  char *s = pz_xmalloc((size_t)n + 1);
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  *len = (size_t)n;
  return s;
}

static void answer(pz_conn_t *c, int status, const char *type, char *body,
                   size_t len) {
  char cors[512];
  pz_conn_http_answer(c, status, type, pz_requests_cors(c, cors, sizeof(cors)),
                      body, len);
  free(body);
}

static void on_gather(void *receiver, pz_msg_t *m);
static void on_gather_part(void *receiver, pz_msg_t *m);
/* To every worker: report your rooms; back to the asker: a worker's part. */
static const pz_msg_kind_t gather_kind = {on_gather, NULL};
static const pz_msg_kind_t gather_part_kind = {on_gather_part, NULL};

static void rooms_collect(pz_msg_gather_t *m);

static void rooms_gather(pz_worker_t *w, pz_gather_t *g) {
  pz_server_t *srv = w->srv;
  g->pending = srv->n_workers;
  for (int i = 0; i < srv->n_workers; i++) {
    pz_msg_gather_t *m = pz_xcalloc(1, sizeof(*m));
    m->hdr.kind = &gather_kind;
    m->gather = g;
    m->reply_to = w->index;
    pz_worker_post(srv->workers[i], &m->hdr);
  }
}

/* The cluster's answer (clustered /rooms), or n < 0: this node's then. */
static void rooms_from_bus(void *arg, const pz_str_t *names,
                           const int64_t *counts, int n) {
  pz_gather_t *g = arg;
  if (n < 0) {
    rooms_gather(g->worker, g);
    return;
  }
  int workers = g->worker->srv->n_workers;
  size_t cap = 64 + (size_t)n * 100, len = 0;
  char *json = pz_xmalloc(cap);
  json[0] = 0;
  for (int i = 0; i < n; i++)
    len += (size_t)snprintf(
        json + len, cap - len,
        "%s{\"room\":\"%.*s\",\"members\":%lld,\"shard\":%d}", len ? "," : "",
        (int)names[i].len, names[i].ptr, (long long)counts[i],
        pz_room_shard(names[i].ptr, names[i].len, workers));
  pz_msg_gather_t *m = pz_xcalloc(1, sizeof(*m));
  m->gather = g;
  m->json = json;
  m->len = len;
  rooms_collect(m);
}

static void rooms_start(pz_conn_t *c) {
  pz_worker_t *w = pz_conn_owner(c);
  pz_bus_t *bus = w->srv->bus;
  pz_gather_t *g = pz_xcalloc(1, sizeof(*g));
  g->conn = c;
  g->worker = w;
  g->pending = 1;
  pz_conn_set_request_data(c, g);
  if (pz_bus_rooms(bus, w->index, rooms_from_bus, g) != 0)
    rooms_gather(w, g);
}

static void rooms_report(pz_worker_t *w, pz_msg_gather_t *m) {
  size_t cap = 64, len = 0;
  char *json = pz_xmalloc(cap);
  json[0] = 0;
  pz_room_t *r, *tmp;
  HASH_ITER(hh, w->shard.rooms, r, tmp) {
    char item[160];
    int n = snprintf(
        item, sizeof(item), "%s{\"room\":\"%.*s\",\"members\":%u,\"shard\":%d}",
        len ? "," : "", r->name_len, r->name, r->n_members, w->index);
    if (len + (size_t)n + 1 > cap) {
      cap = (cap + (size_t)n) * 2;
      json = pz_xrealloc(json, cap);
    }
    memcpy(json + len, item, (size_t)n + 1);
    len += (size_t)n;
  }
  m->hdr.kind = &gather_part_kind;
  m->json = json;
  m->len = len;
  pz_worker_post(w->srv->workers[m->reply_to], &m->hdr);
}

static void rooms_collect(pz_msg_gather_t *m) {
  pz_gather_t *g = m->gather;
  if (m->len) {
    g->json = pz_xrealloc(g->json, g->len + m->len + 2);
    if (g->len)
      g->json[g->len++] = ',';
    memcpy(g->json + g->len, m->json, m->len);
    g->len += m->len;
  }
  free(m->json);
  free(m);
  if (--g->pending)
    return;
  if (g->conn) {
    pz_conn_set_request_data(g->conn, NULL);
    size_t len;
    char *body =
        fmt(&len, "{\"rooms\":[%.*s]}\n", (int)g->len, g->json ? g->json : "");
    answer(g->conn, 200, "application/json", body, len);
  }
  free(g->json);
  free(g);
}

static void on_gather(void *receiver, pz_msg_t *m) {
  rooms_report(receiver, (pz_msg_gather_t *)m);
}

static void on_gather_part(void *receiver, pz_msg_t *m) {
  rooms_collect((pz_msg_gather_t *)m);
}

void pz_endpoints_on_request_gone(pz_conn_t *c) {
  pz_gather_t *g = pz_conn_request_data(c);
  if (g)
    g->conn = NULL;
  pz_conn_set_request_data(c, NULL);
}

static void text(pz_conn_t *c, int status, const char *body) {
  pz_conn_http_answer(c, status, "text/plain", NULL, body, strlen(body));
}

/* An embedded file (static_assets.h): 304 when the client's copy is
 * current (no body, as for HEAD). */
static void asset(pz_conn_t *c, const pz_http_req_t *req, const pz_asset_t *a) {
  char extra[200];
  snprintf(
      extra, sizeof(extra),
      "ETag: %s\r\nCache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n",
      a->etag, a->cache_control);
  bool fresh =
      pz_asset_etag_matches(a, pz_http_header(req, PZ_HF_IF_NONE_MATCH));
  pz_conn_http_answer(c, fresh ? 304 : 200, a->content_type, extra, a->data,
                      a->len);
}

void pz_endpoints_on_request(pz_conn_t *c, const pz_http_req_t *req) {
  const char *path = req->path;
  if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
    text(c, 405, "method not allowed\n");
    return;
  }
  if (strcmp(path, "/healthz") == 0) {
    pz_probe_healthz(c);
  } else if (strcmp(path, "/livez") == 0) {
    pz_probe_livez(c);
  } else if (strcmp(path, "/readyz") == 0) {
    pz_probe_readyz(c);
  } else if (strcmp(path, "/metrics") == 0) {
    size_t len;
    char *body =
        pz_metrics_render(((pz_worker_t *)pz_conn_owner(c))->srv, &len);
    answer(c, 200, "text/plain; version=0.0.4", body, len);
  } else if (strcmp(path, "/rooms") == 0) {
    rooms_start(c);
  } else if (pz_asset_find(path)) {
    asset(c, req, pz_asset_find(path));
  } else {
    text(c, 404, "not found\n");
  }
}
