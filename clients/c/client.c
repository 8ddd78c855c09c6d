/*
 * A client connection's life, and the thin layer that ties the sans-I/O
 * parts (handshake.c, tls.c, wslay) to libuv. connect.c gets it connected.
 *
 *   CONNECTING --connect--> [TLS --handshake-->] HANDSHAKE --101--> OPEN
 *     --close frame--> CLOSING; from any of them --> CLOSED (uv_close)
 *
 * With TLS the bytes pass through tls.c on their way: plaintext (the upgrade,
 * WebSocket frames) is encrypted before the socket writes below, and what
 * the socket reads is decrypted before the upgrade parser and wslay see it.
 *
 * Invariants: on_close runs exactly once, from the handle's close callback,
 * and the client is freed right after it; no user callback runs inside a
 * flush (the context's cork buffer is in use then); sends made while wslay
 * is delivering this client's input are flushed when that input is done.
 * Output goes straight to the socket with uv_try_write; only what the socket
 * refuses is copied and written with uv_write, one write in flight at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define container_of(ptr, type, member)                                        \
  ((type *)((char *)(ptr)-offsetof(type, member)))

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void check_progress(pz_client_t *c);

/* ---- wslay callbacks ----------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len,
                          int flags, void *user_data) {
  pz_client_t *c = user_data;
  (void)flags;
  if (c->state == PZ_CS_CLOSED || c->in_len == 0) {
    wslay_event_set_error(ws, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  if (len > c->in_len)
    len = c->in_len;
  memcpy(buf, c->in, len);
  c->in += len;
  c->in_len -= len;
  return (ssize_t)len;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ws, const uint8_t *data,
                          size_t len, int flags, void *user_data) {
  pz_client_t *c = user_data;
  (void)flags;
  if (pz_cbuf_append(&c->ctx->cork, data, len) != 0) {
    wslay_event_set_error(ws, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return (ssize_t)len;
}

static int ws_genmask_cb(wslay_event_context_ptr ws, uint8_t *buf, size_t len,
                         void *user_data) {
  pz_client_t *c = user_data;
  (void)ws;
  pz_client__genmask(c->ctx, buf, len);
  return 0;
}

static void ws_msg_cb(wslay_event_context_ptr ws,
                      const struct wslay_event_on_msg_recv_arg *arg,
                      void *user_data) {
  pz_client_t *c = user_data;
  (void)ws;
  if (c->state == PZ_CS_CLOSED)
    return; /* aborted from an earlier callback of this batch */
  switch (arg->opcode) {
  case WSLAY_TEXT_FRAME:
  case WSLAY_BINARY_FRAME:
    c->stats.msgs_in++;
    if (c->cbs->on_message != NULL)
      c->cbs->on_message(c,
                         arg->opcode == WSLAY_TEXT_FRAME ? PZ_CLIENT_TEXT
                                                         : PZ_CLIENT_BINARY,
                         (const char *)arg->msg, arg->msg_length);
    break;
  case WSLAY_CONNECTION_CLOSE:
    /* wslay has queued the echo; keep the reason for on_close. */
    if (arg->msg_length > 2 && c->close_reason == NULL &&
        (c->close_reason = malloc(arg->msg_length - 2)) != NULL) {
      c->close_reason_len = (uint16_t)(arg->msg_length - 2);
      memcpy(c->close_reason, arg->msg + 2, c->close_reason_len);
    }
    break;
  default:
    break; /* ping (answered by wslay) and pong */
  }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .genmask_callback = ws_genmask_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

/* ---- output -------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status);

static int start_write(pz_client_t *c) {
  pz_write_t *w;
  uv_buf_t b;
  int r;

  if ((w = malloc(sizeof(*w))) == NULL)
    return UV_ENOMEM;
  w->p = c->pend.p;
  w->len = c->pend.len;
  c->pend = (pz_cbuf_t){0};
  b = uv_buf_init(w->p, (unsigned)w->len);
  if ((r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) != 0) {
    free(w->p);
    free(w);
    return r;
  }
  c->inflight = w;
  return 0;
}

/* Writes now what the socket takes, buffers the rest. Returns 0 or a libuv
 * error. */
static int net_write(pz_client_t *c, const char *data, size_t len) {
  if (c->inflight == NULL && c->pend.len == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n > 0) {
      c->stats.bytes_out += (uint64_t)n;
      data += n;
      len -= (size_t)n;
      if (len == 0)
        return 0;
    } else if (n != UV_EAGAIN) {
      return n;
    }
  }
  if (pz_cbuf_append(&c->pend, data, len) != 0)
    return UV_ENOMEM;
  return c->inflight == NULL ? start_write(c) : 0;
}

/* What TLS wrote (records, alerts) to the socket. 0 or a libuv error. */
static int tls_flush(pz_client_t *c) {
  const char *p;
  size_t n = pz_ctls_out(c->tls, &p);
  int r = n > 0 ? net_write(c, p, n) : 0; /* copies what it keeps */
  pz_ctls_out_clear(c->tls);
  return r;
}

/* Plaintext (the upgrade request, WebSocket frames) towards the server,
 * encrypted first with TLS. 0 or a libuv error. */
static int out_write(pz_client_t *c, const char *data, size_t len) {
  int r;
  if (c->tls == NULL)
    return net_write(c, data, len);
  if ((r = pz_ctls_write(c->tls, data, len)) != 0)
    return r == PZ_CLIENT_ENOMEM ? UV_ENOMEM : UV_EPROTO;
  return tls_flush(c);
}

/* A write error once the peer's close frame is in is the peer closing
 * first, not a failure. */
static void fail_io(pz_client_t *c, int uverr) {
  bool closed_by_peer = c->ws != NULL && wslay_event_get_close_received(c->ws);
  pz_client__finish(c, closed_by_peer ? 0 : PZ_CLIENT_EIO, uv_strerror(uverr));
}

static void on_write(uv_write_t *req, int status) {
  pz_write_t *w = container_of(req, pz_write_t, req);
  pz_client_t *c = req->handle->data;
  int r;

  c->inflight = NULL;
  if (status == 0)
    c->stats.bytes_out += w->len;
  free(w->p);
  free(w);
  if (c->state == PZ_CS_CLOSED)
    return;
  if (status < 0) {
    fail_io(c, status);
    return;
  }
  if (c->pend.len > 0 && (r = start_write(c)) != 0) {
    fail_io(c, r);
    return;
  }
  check_progress(c);
}

void pz_client__flush(pz_client_t *c) {
  pz_cbuf_t *cork = &c->ctx->cork;
  int r, w;

  if (c->state == PZ_CS_CLOSED || c->ws == NULL || c->in_recv)
    return;
  cork->len = 0;
  r = wslay_event_send(c->ws);
  w = cork->len > 0 ? out_write(c, cork->p, cork->len) : 0;
  if (cork->cap > (1u << 20)) /* one huge message: don't keep its buffer */
    pz_cbuf_dispose(cork);
  if (w != 0) {
    fail_io(c, w);
    return;
  }
  if (r != 0) {
    pz_client__finish(c,
                      r == WSLAY_ERR_NOMEM ? PZ_CLIENT_ENOMEM : PZ_CLIENT_EIO,
                      "WebSocket send failed");
    return;
  }
  check_progress(c);
}

/* ---- closing ------------------------------------------------------------- */

static const char *close_text(int code) {
  switch (code) {
  case 1002:
    return "protocol error";
  case 1007:
    return "invalid UTF-8 in a text message";
  case 1009:
    return "message too big";
  default:
    return "connection failed";
  }
}

/* Called after every step that may move the close along: input handled,
 * output flushed, a write done. */
static void check_progress(pz_client_t *c) {
  bool rd, wr;

  if (c->state == PZ_CS_CLOSED || c->ws == NULL)
    return;
  rd = wslay_event_get_read_enabled(c->ws);
  wr = wslay_event_get_write_enabled(c->ws);
  if (c->state == PZ_CS_OPEN && (!rd || !wr)) {
    c->state = PZ_CS_CLOSING;
    pz_client__arm(c, c->close_timeout_ms);
  }
  if (rd || wr || c->inflight != NULL || c->pend.len > 0)
    return;
  /* Both directions are done and our last frame is on the wire. After a
   * close exchange the server closes TCP first (RFC 6455 7.1.1): wait for
   * its EOF, the close timer bounding the wait. When wslay failed the
   * connection itself (it sent 1002/1007/1009 without a close from the
   * peer), there is nothing to wait for. */
  if (!wslay_event_get_close_received(c->ws)) {
    uint16_t sent = wslay_event_get_status_code_sent(c->ws);
    pz_client__finish(c, PZ_CLIENT_EPROTO, close_text(sent));
  }
}

void pz_client__closed(uv_handle_t *h) {
  pz_client_t *c = h->data;
  pz_client_ctx_t *ctx = c->ctx;
  int code = PZ_CLIENT_CLOSE_ABNORMAL;
  const char *reason = c->why != NULL ? c->why : "";
  size_t reason_len = strlen(reason);

  if (c->ws != NULL && wslay_event_get_close_received(c->ws)) {
    code = wslay_event_get_status_code_received(c->ws);
    reason = c->close_reason != NULL ? c->close_reason : "";
    reason_len = c->close_reason_len;
  } else if (c->ws != NULL && c->err == PZ_CLIENT_EPROTO &&
             wslay_event_get_close_sent(c->ws)) {
    code = wslay_event_get_status_code_sent(c->ws);
  }
  ctx->n_clients--; /* first, so on_close may close the context */
  if (c->cbs->on_close != NULL)
    c->cbs->on_close(c, code, reason, reason_len);

  if (c->ws != NULL)
    wslay_event_context_free(c->ws);
  pz_client__handshake_free(c->hs);
  pz_ctls_destroy(c->tls);
  pz_client__frags_free(c);
  pz_cbuf_dispose(&c->pend);
  free(c->close_reason);
  free(c);
}

void pz_client__finish(pz_client_t *c, int err, const char *why) {
  if (c->state == PZ_CS_CLOSED)
    return;
  c->state = PZ_CS_CLOSED;
  c->err = err;
  c->why = why;
  pz_client__disarm(c);
  if (c->resolve != NULL) { /* its callback frees it, and finds no one */
    c->resolve->c = NULL;
    uv_cancel((uv_req_t *)&c->resolve->req);
    c->resolve = NULL;
  }
  if (c->reopening)
    return; /* the handle is closing already: connect.c calls back */
  /* Cancels a pending connect and pending writes; their callbacks run
   * (with UV_ECANCELED) before the close callback. */
  uv_close((uv_handle_t *)&c->tcp, pz_client__closed);
}

void pz_client__timeout(pz_client_t *c) {
  switch (c->state) {
  case PZ_CS_CONNECTING:
  case PZ_CS_TLS:
  case PZ_CS_HANDSHAKE:
    pz_client__finish(c, PZ_CLIENT_ETIMEDOUT, "connect timed out");
    break;
  case PZ_CS_CLOSING:
    if (c->ws != NULL && wslay_event_get_close_received(c->ws) &&
        wslay_event_get_close_sent(c->ws))
      pz_client__finish(c, 0, NULL); /* the server kept TCP open */
    else
      pz_client__finish(c, PZ_CLIENT_ETIMEDOUT, "close timed out");
    break;
  default:
    pz_client__disarm(c);
    break;
  }
}

int pz_client_close(pz_client_t *c, int code, const char *reason) {
  size_t reason_len = reason != NULL ? strlen(reason) : 0;
  int r;

  switch (c->state) {
  case PZ_CS_CLOSED:
    return PZ_CLIENT_ESTATE;
  case PZ_CS_CLOSING:
    return 0;
  case PZ_CS_CONNECTING:
  case PZ_CS_TLS:
  case PZ_CS_HANDSHAKE:
    pz_client__finish(c, PZ_CLIENT_ECANCELED, "closed before the upgrade");
    return 0;
  default:
    break;
  }
  if (code < 1000 || code > 4999 || reason_len > 123)
    return PZ_CLIENT_EINVAL;
  r = wslay_event_queue_close(c->ws, (uint16_t)code, (const uint8_t *)reason,
                              reason_len);
  if (r == WSLAY_ERR_NOMEM)
    return PZ_CLIENT_ENOMEM;
  if (r == WSLAY_ERR_INVALID_ARGUMENT)
    return PZ_CLIENT_EINVAL;
  if (r != 0)
    return 0; /* a close is already queued (wslay failed the connection) */
  c->state = PZ_CS_CLOSING;
  pz_client__arm(c, c->close_timeout_ms);
  pz_client__flush(c);
  return 0;
}

void pz_client_abort(pz_client_t *c) {
  pz_client__finish(c, PZ_CLIENT_ECANCELED, "aborted");
}

/* ---- input --------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  pz_client_t *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->ctx->rbuf, sizeof(c->ctx->rbuf));
}

static int open_ws(pz_client_t *c) {
  pz_handshake_t *hs = c->hs;

  if (wslay_event_context_client_init(&c->ws, &ws_callbacks, c) != 0)
    return PZ_CLIENT_ENOMEM;
  wslay_event_config_set_max_recv_msg_length(c->ws, hs->max_message);
  c->http_status = 101;
  c->protocol_selected = hs->resp.protocol_selected;
  pz_client__handshake_free(hs);
  c->hs = NULL;
  c->state = PZ_CS_OPEN;
  pz_client__disarm(c);
  return 0;
}

static void ws_feed(pz_client_t *c, const char *data, size_t len) {
  int r;

  c->in = data;
  c->in_len = len;
  c->in_recv = true;
  r = wslay_event_recv(c->ws);
  c->in_recv = false;
  c->in_len = 0; /* what wslay left (after a close) is dropped */
  if (c->state == PZ_CS_CLOSED)
    return;
  if (r != 0) {
    pz_client__finish(
        c, r == WSLAY_ERR_NOMEM ? PZ_CLIENT_ENOMEM : PZ_CLIENT_EPROTO,
        "WebSocket receive failed");
    return;
  }
  pz_client__flush(c); /* pongs, close echoes, sends from on_message */
}

static void on_eof(pz_client_t *c, ssize_t nread) {
  if (c->state == PZ_CS_TLS)
    pz_client__finish(c, PZ_CLIENT_ETLS,
                      "connection closed during the TLS handshake");
  else if (c->state == PZ_CS_HANDSHAKE)
    pz_client__finish(c, PZ_CLIENT_EHANDSHAKE,
                      "connection closed during the upgrade");
  else if (c->ws != NULL && wslay_event_get_close_received(c->ws))
    pz_client__finish(c, 0, NULL);
  else if (nread == UV_EOF)
    pz_client__finish(c, PZ_CLIENT_ECLOSED,
                      "connection closed without a close frame");
  else
    pz_client__finish(c, PZ_CLIENT_EIO, uv_strerror((int)nread));
}

/* Plaintext from the server: the upgrade's answer, then WebSocket. */
static void plain_input(pz_client_t *c, const char *p, size_t n) {
  if (c->state == PZ_CS_HANDSHAKE) {
    ssize_t r = pz_http_resp_feed(&c->hs->resp, p, n);
    if (r == PZ_CLIENT_EAGAIN)
      return;
    c->http_status = (uint16_t)c->hs->resp.status;
    if (r < 0) {
      pz_client__finish(c, (int)r,
                        c->hs->resp.why ? c->hs->resp.why : "out of memory");
      return;
    }
    if (open_ws(c) != 0) {
      pz_client__finish(c, PZ_CLIENT_ENOMEM, "out of memory");
      return;
    }
    p += r;
    n -= (size_t)r;
    if (c->cbs->on_open != NULL)
      c->cbs->on_open(c);
  }
  if (n > 0 && (c->state == PZ_CS_OPEN || c->state == PZ_CS_CLOSING))
    ws_feed(c, p, n);
}

/* Sends the upgrade request: TCP (and TLS) are up. */
static void upgrade_start(pz_client_t *c) {
  int r;
  c->state = PZ_CS_HANDSHAKE;
  if ((r = out_write(c, c->hs->request, c->hs->request_len)) != 0)
    fail_io(c, r);
}

/* Ciphertext from the server: the handshake first, then records whose
 * plaintext goes on as if it came from the socket. */
static void tls_input(pz_client_t *c, const char *p, size_t n) {
  const char *why = NULL;
  int r, w;

  if (pz_ctls_feed(c->tls, p, n) != 0) {
    pz_client__finish(c, PZ_CLIENT_ENOMEM, "out of memory");
    return;
  }
  if (c->state == PZ_CS_TLS) {
    r = pz_ctls_handshake(c->tls, &why);
    w = tls_flush(c); /* our next flight, or an alert */
    if (r != 0 && r != PZ_CLIENT_EAGAIN) {
      pz_client__finish(c, r, why);
      return;
    }
    if (w != 0) {
      fail_io(c, w);
      return;
    }
    if (r == PZ_CLIENT_EAGAIN)
      return;
    upgrade_start(c);
    if (c->state == PZ_CS_CLOSED)
      return;
  }
  /* Each record is handed on at once: the plaintext buffer is shared by
   * every client of the loop, and the handlers copy what they keep. */
  while ((r = pz_ctls_read(c->tls, c->ctx->tlsbuf, PZ_CLIENT_TLS_BUF, &why)) >
         0) {
    plain_input(c, c->ctx->tlsbuf, (size_t)r);
    if (c->state == PZ_CS_CLOSED)
      return;
  }
  if ((w = tls_flush(c)) != 0) { /* a key update's answer, an alert */
    fail_io(c, w);
    return;
  }
  if (r == PZ_CLIENT_ECLOSED) /* close_notify: the end of the stream */
    on_eof(c, UV_EOF);
  else if (r < 0)
    pz_client__finish(c, r, why);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pz_client_t *c = s->data;
  size_t n = nread > 0 ? (size_t)nread : 0;

  if (c->state == PZ_CS_CLOSED)
    return;
  if (nread < 0) {
    on_eof(c, nread);
    return;
  }
  c->stats.bytes_in += n;
  if (c->tls != NULL)
    tls_input(c, buf->base, n);
  else
    plain_input(c, buf->base, n);
}

void pz_client__connected(pz_client_t *c) {
  const char *why = NULL;
  int r;

  if ((r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) != 0) {
    pz_client__finish(c, PZ_CLIENT_EIO, uv_strerror(r));
    return;
  }
  if (c->tls == NULL) {
    upgrade_start(c);
    return;
  }
  c->state = PZ_CS_TLS;
  r = pz_ctls_handshake(c->tls, &why); /* writes the ClientHello */
  if (r != PZ_CLIENT_EAGAIN) {
    pz_client__finish(c, r != 0 ? r : PZ_CLIENT_ETLS,
                      why != NULL ? why : "TLS failed");
    return;
  }
  if ((r = tls_flush(c)) != 0)
    fail_io(c, r);
}

/* ---- accessors ----------------------------------------------------------- */

void *pz_client_data(const pz_client_t *c) {
  return c->data;
}

void pz_client_set_data(pz_client_t *c, void *data) {
  c->data = data;
}

pz_client_ctx_t *pz_client_ctx(const pz_client_t *c) {
  return c->ctx;
}

const pz_client_stats_t *pz_client_stats(const pz_client_t *c) {
  return &c->stats;
}

bool pz_client_is_open(const pz_client_t *c) {
  return c->state == PZ_CS_OPEN;
}

int pz_client_error(const pz_client_t *c) {
  return c->err;
}

int pz_client_http_status(const pz_client_t *c) {
  return c->http_status;
}

bool pz_client_protocol_selected(const pz_client_t *c) {
  return c->protocol_selected;
}

size_t pz_client_buffered(const pz_client_t *c) {
  return (c->inflight != NULL ? c->inflight->len : 0) + c->pend.len;
}
