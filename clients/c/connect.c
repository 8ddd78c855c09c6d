/*
 * Connecting: the URL checked, TLS prepared, the host name resolved (libuv's
 * resolver, off the loop thread), each address tried in turn until one
 * accepts, then client.c takes over (TLS handshake, upgrade).
 *
 * Everything that can be refused before any I/O is refused by
 * pz_client_connect() itself; from the moment the handle exists, failures
 * end in on_close. A failed address needs a new socket: the handle is
 * closed and opened again (`reopening`), and a finish during that waits
 * for the close callback.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "client_int.h"
#include "url.h"

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static void try_next(pz_client_t *c);

void pz_client_opts_init(pz_client_opts_t *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->subprotocol = PZ_WS_SUBPROTOCOL;
}

void pz_client__handshake_free(pz_handshake_t *hs) {
  if (hs == NULL)
    return;
  pz_http_resp_dispose(&hs->resp);
  if (hs->ai != NULL)
    uv_freeaddrinfo(hs->ai);
  free(hs);
}

static pz_handshake_t *handshake_new(const pz_url_t *url,
                                     const pz_client_opts_t *opts, int *err) {
  char key[PZ_WS_KEY_LEN + 1];
  pz_handshake_t *hs;
  int n;

  if ((*err = pz_ws_key_generate(key)) != 0)
    return NULL;
  if ((n = pz_ws_request_build(NULL, 0, url, key, opts->subprotocol)) < 0) {
    *err = n;
    return NULL;
  }
  if ((hs = calloc(1, sizeof(*hs) + (size_t)n + 1)) == NULL) {
    *err = PZ_CLIENT_ENOMEM;
    return NULL;
  }
  memcpy(hs->key, key, sizeof(key));
  hs->request_len = (size_t)n;
  pz_ws_request_build(hs->request, (size_t)n + 1, url, key, opts->subprotocol);
  if (opts->subprotocol != NULL)
    strcpy(hs->protocol, opts->subprotocol); /* length checked by build */
  pz_http_resp_init(&hs->resp, hs->key,
                    opts->subprotocol != NULL ? hs->protocol : NULL);
  hs->max_message =
      opts->max_message ? opts->max_message : PZ_CLIENT_DEFAULT_MAX_MESSAGE;
  return hs;
}

/* The handle, fresh: bound first when asked. Returns 0 or a libuv error;
 * *made says whether the handle exists (uv_close is then owed). */
static int open_handle(pz_client_t *c, int family, bool *made) {
  pz_handshake_t *hs = c->hs;
  int r;

  *made = false;
  if (hs->bind)
    family = AF_INET; /* bind_addr is IPv4; the resolver was told */
  r = family != AF_UNSPEC ? uv_tcp_init_ex(c->ctx->loop, &c->tcp, family)
                          : uv_tcp_init(c->ctx->loop, &c->tcp);
  if (r != 0)
    return r;
  *made = true;
  c->tcp.data = c;
  (void)uv_tcp_nodelay(&c->tcp, 1);
  if (hs->bind) {
    pz_tcp_bind_no_port(&c->tcp);
    return uv_tcp_bind(&c->tcp, (const struct sockaddr *)&hs->bind_sa, 0);
  }
  return 0;
}

/* ---- trying addresses ---------------------------------------------------- */

static void on_reopened(uv_handle_t *h) {
  pz_client_t *c = h->data;
  int r;

  bool made;

  c->reopening = false;
  if (c->state == PZ_CS_CLOSED) { /* finished meanwhile */
    pz_client__closed(h);
    return;
  }
  if ((r = open_handle(c, c->hs->ai_next->ai_family, &made)) == 0) {
    try_next(c);
  } else if (made) { /* the bind failed: uv_close is owed */
    pz_client__finish(c, PZ_CLIENT_ECONNECT, uv_strerror(r));
  } else { /* no handle to close: on_close at once, from this callback */
    c->reopening = true; /* keeps finish away from the handle */
    pz_client__finish(c, PZ_CLIENT_ECONNECT, uv_strerror(r));
    c->reopening = false;
    c->tcp.data = c; /* what the close callback reads */
    pz_client__closed(h);
  }
}

/* This address failed: the next one, on a new socket, or the end. */
static void connect_failed(pz_client_t *c, int uverr) {
  pz_handshake_t *hs = c->hs;

  hs->last_error = uverr;
  if (hs->ai_next == NULL) {
    pz_client__finish(c, PZ_CLIENT_ECONNECT, uv_strerror(uverr));
    return;
  }
  c->reopening = true;
  uv_close((uv_handle_t *)&c->tcp, on_reopened);
}

static void on_connect(uv_connect_t *req, int status) {
  pz_client_t *c = req->handle->data;

  if (status == UV_ECANCELED || c->state == PZ_CS_CLOSED)
    return;
  if (status < 0)
    connect_failed(c, status);
  else
    pz_client__connected(c);
}

static void connect_to(pz_client_t *c, const struct sockaddr *sa) {
  int r = uv_tcp_connect(&c->hs->req, &c->tcp, sa, on_connect);
  if (r != 0)
    connect_failed(c, r);
}

static void try_next(pz_client_t *c) {
  struct addrinfo *ai = c->hs->ai_next;
  c->hs->ai_next = ai->ai_next;
  connect_to(c, ai->ai_addr);
}

/* ---- resolving ----------------------------------------------------------- */

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  pz_resolve_t *rv = container_of(req, pz_resolve_t, req);
  pz_client_t *c = rv->c;

  free(rv);
  if (c == NULL) { /* the client was finished meanwhile */
    if (res != NULL)
      uv_freeaddrinfo(res);
    return;
  }
  c->resolve = NULL;
  if (status < 0 || res == NULL) {
    pz_client__finish(c, PZ_CLIENT_ERESOLVE,
                      status < 0 ? uv_strerror(status) : "no address");
    return;
  }
  c->hs->ai = c->hs->ai_next = res;
  /* The handle was made without a family: the first address decides. */
  try_next(c);
}

static void resolve(pz_client_t *c, const pz_url_t *u) {
  struct addrinfo hints;
  char port[8];
  pz_resolve_t *rv;
  int r;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = c->hs->bind ? AF_INET : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
  snprintf(port, sizeof(port), "%u", (unsigned)u->port);
  if ((rv = malloc(sizeof(*rv))) == NULL) {
    pz_client__finish(c, PZ_CLIENT_ENOMEM, "out of memory");
    return;
  }
  rv->c = c;
  /* libuv copies the name and the port. */
  if ((r = uv_getaddrinfo(c->ctx->loop, &rv->req, on_resolved, u->name, port,
                          &hints)) != 0) {
    free(rv);
    pz_client__finish(c, PZ_CLIENT_ERESOLVE, uv_strerror(r));
    return;
  }
  c->resolve = rv;
}

/* ---- pz_client_connect --------------------------------------------------- */

/* The TLS session for u, when it is wss://. Returns 0 (and *out NULL for
 * ws://) or what pz_ctls_* said. */
static int tls_prepare(pz_client_ctx_t *ctx, const pz_url_t *u,
                       const pz_client_opts_t *opts, pz_ctls_t **out) {
  SSL_CTX *sctx;
  int r;

  *out = NULL;
  if (!u->tls)
    return 0;
  if (ctx->tlsbuf == NULL && (ctx->tlsbuf = malloc(PZ_CLIENT_TLS_BUF)) == NULL)
    return PZ_CLIENT_ENOMEM;
  if ((r = pz_ctls_conf_get(&ctx->tls_confs, opts->ca_file, &sctx)) != 0)
    return r;
  return pz_ctls_create(sctx, u->name, u->ip_literal, opts->insecure, out);
}

int pz_client_connect(pz_client_ctx_t *ctx, const char *url,
                      const pz_client_opts_t *opts, const pz_client_cbs_t *cbs,
                      void *data, pz_client_t **out) {
  pz_client_opts_t defaults;
  struct sockaddr_storage sa;
  pz_url_t u;
  pz_ctls_t *tls;
  pz_client_t *c;
  bool made;
  int err;

  if (ctx == NULL || url == NULL || cbs == NULL || out == NULL || ctx->closing)
    return PZ_CLIENT_EINVAL;
  if (opts == NULL) {
    pz_client_opts_init(&defaults);
    opts = &defaults;
  }
  if ((err = pz_url_parse(url, &u)) != 0)
    return err;
  memset(&sa, 0, sizeof(sa));
  if (u.family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&sa;
    in->sin_family = AF_INET;
    in->sin_port = htons(u.port);
    in->sin_addr = u.addr;
  } else if (u.family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(u.port);
    in6->sin6_addr = u.addr6;
  }
  if ((c = calloc(1, sizeof(*c))) == NULL)
    return PZ_CLIENT_ENOMEM;
  if ((c->hs = handshake_new(&u, opts, &err)) == NULL)
    goto fail_client;
  if (opts->bind_addr != NULL) {
    c->hs->bind = true;
    c->hs->bind_sa.sin_family = AF_INET;
    if (inet_pton(AF_INET, opts->bind_addr, &c->hs->bind_sa.sin_addr) != 1 ||
        u.family == AF_INET6) {
      err = PZ_CLIENT_EINVAL;
      goto fail_hs;
    }
  }
  if ((err = tls_prepare(ctx, &u, opts, &tls)) != 0)
    goto fail_hs;
  c->tls = tls;
  c->ctx = ctx;
  c->cbs = cbs;
  c->data = data;
  c->close_timeout_ms = opts->close_timeout_ms ? opts->close_timeout_ms
                                               : PZ_CLIENT_DEFAULT_CLOSE_MS;
  c->state = PZ_CS_CONNECTING;
  if ((err = open_handle(c, u.family, &made)) != 0 && !made) {
    err = PZ_CLIENT_EIO; /* no handle: nothing to close */
    goto fail_tls;
  }
  ctx->n_clients++;
  pz_client__arm(c, opts->connect_timeout_ms ? opts->connect_timeout_ms
                                             : PZ_CLIENT_DEFAULT_CONNECT_MS);
  *out = c;

  /* The handle exists: from here failures end in on_close. */
  if (err != 0)
    pz_client__finish(c, PZ_CLIENT_ECONNECT, uv_strerror(err));
  else if (u.family != AF_UNSPEC)
    connect_to(c, (const struct sockaddr *)&sa);
  else
    resolve(c, &u);
  return 0;

fail_tls:
  pz_ctls_destroy(c->tls);
fail_hs:
  pz_client__handshake_free(c->hs);
fail_client:
  free(c);
  return err;
}
