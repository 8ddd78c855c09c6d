/*
 * Client connections (see conn.h for the phases, the write path and how a
 * connection moves between workers).
 */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
#include <utlist.h>

#include "alloc.h"
#include "dispatch.h"
#include "endpoints.h"
#include "error.h"
#include "log.h"
#include "session_ops.h"
#include "ws.h"

#define LINGER_MS 3000       /* how long a closing socket waits for the peer */
#define IDLE_RELEASE_MS 2000 /* quiet time before the parser is released */

/* What a uv_write in flight needs; allocated only then, since most writes
 * complete at once through uv_try_write. */
struct pz_conn_write {
  uv_write_t req;
  uv_buf_t bufs[32];
};

static void conn_outlet_send(pz_outlet_t *o, const uint8_t *data, size_t len,
                             int kind, pz_payload_t *shared) {
  pz_conn_send((pz_conn_t *)o, data, len, kind, shared);
}

static void conn_outlet_close(pz_outlet_t *o, int code, const char *reason) {
  pz_conn_close((pz_conn_t *)o, code, reason);
}

static const struct pz_outlet_vtbl conn_outlet = {conn_outlet_send,
                                                  conn_outlet_close};

static void list_move(pz_conn_t *c, pz_conn_t **list) {
  if (c->list)
    DL_DELETE(*c->list, c);
  c->list = list;
  if (list)
    DL_APPEND(*list, c);
}

/* ---- lifetime ----------------------------------------------------------- */

static void free_conn(pz_conn_t *c) {
  pz_outq_entry_t *e, *etmp;
  LL_FOREACH_SAFE(c->outq, e, etmp) {
    pz_payload_unref(e->payload);
    free(e);
  }
  pz_deferred_t *d, *dtmp;
  LL_FOREACH_SAFE(c->deferred, d, dtmp) free(d);
  free(c->pending_rx);
  free(c->http);
  if (c->ws)
    wslay_event_context_free(c->ws);
  free(c);
}

static void on_closed(uv_handle_t *h) {
  free_conn(h->data);
}

/* What happens to the session when its socket goes: a kick ends it, any
 * other end leaves it waiting for a resume through the grace period. */
static void release_session(pz_conn_t *c, bool end) {
  pz_session_t *s = c->session;
  if (!s)
    return;
  c->session = NULL;
  if (s->outlet != &c->outlet)
    return; /* resumed on another connection meanwhile */
  if (end || c->w->cfg->resume_grace_ms == 0)
    pz_worker_session_end(c->w, s);
  else
    pz_worker_session_detach(c->w, s);
}

/* Closes the socket now, whatever is unsent. */
static void hard_close(pz_conn_t *c) {
  if (c->state == PZ_CONN_CLOSED)
    return;
  bool end = c->close_code == PZ_CLOSE_MALFORMED ||
             c->close_code == PZ_CLOSE_KICKED ||
             c->close_code == PZ_CLOSE_UNSUPPORTED_DATA ||
             c->close_code == PZ_CLOSE_TOO_BIG || c->close_code == 1007 ||
             c->close_code == PZ_CLOSE_PROTOCOL_ERROR;
  release_session(c, end);
  if (c->gather)
    pz_endpoints_conn_gone(c);
  c->state = PZ_CONN_CLOSED;
  list_move(c, NULL);
  PZ_ADD(c->w->metrics.connections, -1);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  free(req);
}

/* A closing connection ends once the WebSocket close handshake is over (or
 * the peer is gone) and everything queued has been written. It then sends
 * FIN and reads until the peer's (or the linger deadline): closing with
 * unread input would make the kernel answer RST, and an RST can destroy
 * our close frame in the peer's receive queue before it reads it. */
static void check_done(pz_conn_t *c) {
  if (c->state != PZ_CONN_CLOSING || c->outq)
    return;
  if (c->eof) {
    hard_close(c);
    return;
  }
  if (c->ws && (wslay_event_want_read(c->ws) || wslay_event_want_write(c->ws)))
    return;
  if (c->shut)
    return;
  uv_shutdown_t *req = pz_xmalloc(sizeof(*req));
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    free(req);
    hard_close(c);
    return;
  }
  c->shut = true;
}

static void enter_closing(pz_conn_t *c, uint32_t linger_ms) {
  if (c->state == PZ_CONN_CLOSING || c->state == PZ_CONN_CLOSED)
    return;
  c->state = PZ_CONN_CLOSING;
  c->deadline_ms = pz_worker_now(c->w) + linger_ms;
  list_move(c, &c->w->closing);
}

/* ---- writing ------------------------------------------------------------ */

static bool writable(const pz_conn_t *c) {
  return c->state != PZ_CONN_MIGRATING && c->state != PZ_CONN_CLOSED;
}

static void on_write(uv_write_t *req, int status);

static void start_write(pz_conn_t *c) {
  if (c->in_flight || !c->outq || !writable(c))
    return;
  struct pz_conn_write *wr = pz_xmalloc(sizeof(*wr));
  unsigned n = 0, entries = 0;
  pz_outq_entry_t *e;
  LL_FOREACH(c->outq, e) {
    if (n + 2 > sizeof(wr->bufs) / sizeof(wr->bufs[0]))
      break;
    uint32_t off = e->off;
    if (off < e->hdr_len) {
      wr->bufs[n++] = uv_buf_init((char *)e->hdr + off, e->hdr_len - off);
      off = e->hdr_len;
    }
    off -= e->hdr_len;
    if (off < e->payload->len)
      wr->bufs[n++] =
          uv_buf_init((char *)e->payload->data + off, e->payload->len - off);
    entries++;
  }
  wr->req.data = c;
  int r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, wr->bufs, n, on_write);
  if (r) {
    free(wr);
    pz_debug("write failed: %s", uv_strerror(r));
    c->eof = true;
    hard_close(c);
    return;
  }
  c->writing = wr;
  c->in_flight = entries;
}

static void migrate_close(pz_conn_t *c);

static void on_write(uv_write_t *req, int status) {
  pz_conn_t *c = req->data;
  uint32_t done = c->in_flight;
  c->in_flight = 0;
  free(c->writing);
  c->writing = NULL;
  for (uint32_t i = 0; i < done && c->outq; i++) {
    pz_outq_entry_t *e = c->outq;
    size_t left = e->hdr_len + e->payload->len - e->off;
    c->outq_bytes -= left;
    PZ_ADD(c->w->metrics.bytes_out, left);
    LL_DELETE(c->outq, e);
    pz_payload_unref(e->payload);
    free(e);
  }
  if (!c->outq)
    c->outq_tail = NULL;
  if (c->state == PZ_CONN_CLOSED)
    return;
  if (c->state == PZ_CONN_MIGRATING) {
    /* Moves even if the write failed: its session already left this
     * shard, and the next worker learns of a broken socket on read. */
    migrate_close(c);
    return;
  }
  if (status < 0) {
    c->eof = true;
    hard_close(c);
    return;
  }
  start_write(c);
  check_done(c);
}

static void queue_bytes(pz_conn_t *c, const uint8_t *hdr, size_t hlen,
                        const uint8_t *data, size_t len, int kind,
                        pz_payload_t *shared, size_t written) {
  pz_outq_entry_t *e = pz_xmalloc(sizeof(*e));
  e->next = NULL;
  e->payload =
      shared ? pz_payload_ref(shared) : pz_payload_create(data, len, kind);
  e->hdr_len = (uint8_t)hlen;
  if (hlen) /* wslay's frames and the 101 come without a header of ours */
    memcpy(e->hdr, hdr, hlen);
  e->off = (uint32_t)written;
  if (c->outq_tail)
    c->outq_tail->next = e;
  else
    c->outq = e;
  c->outq_tail = e;
  c->outq_bytes += hlen + len - written;
}

static void slow_consumer(pz_conn_t *c) {
  /* Drop what is not in flight: the client will resume and get ROOM. */
  pz_outq_entry_t *keep = c->outq;
  for (uint32_t i = 1; keep && i < c->in_flight; i++)
    keep = keep->next;
  if (c->in_flight == 0)
    keep = NULL;
  pz_outq_entry_t *e = keep ? keep->next : c->outq, *tmp;
  uint64_t dropped = 0;
  while (e) {
    tmp = e->next;
    c->outq_bytes -= e->hdr_len + e->payload->len - e->off;
    pz_payload_unref(e->payload);
    free(e);
    dropped++;
    e = tmp;
  }
  if (keep)
    keep->next = NULL;
  else
    c->outq = NULL;
  c->outq_tail = keep;
  PZ_ADD(c->w->metrics.dropped_frames, dropped);
  pz_info("closing slow consumer %s: outbound queue passed %u bytes", c->peer,
          c->w->cfg->max_outbound);
  pz_conn_close(c, PZ_CLOSE_SLOW_CONSUMER, "slow consumer");
}

/* Writes header+data now if the socket takes it, else queues the rest. */
static void out_send(pz_conn_t *c, const uint8_t *hdr, size_t hlen,
                     const uint8_t *data, size_t len, int kind,
                     pz_payload_t *shared) {
  if (!c->outq && writable(c)) {
    uv_buf_t b[2] = {uv_buf_init((char *)hdr, hlen),
                     uv_buf_init((char *)data, len)};
    int n = uv_try_write((uv_stream_t *)&c->tcp, b, 2);
    if (n == (int)(hlen + len)) {
      PZ_ADD(c->w->metrics.bytes_out, n);
      return;
    }
    if (n < 0 && n != UV_EAGAIN) {
      c->eof = true; /* the read side reports the error and closes */
      return;
    }
    if (n < 0)
      n = 0;
    PZ_ADD(c->w->metrics.bytes_out, n);
    queue_bytes(c, hdr, hlen, data, len, kind, shared, (size_t)n);
  } else {
    queue_bytes(c, hdr, hlen, data, len, kind, shared, 0);
  }
  if (c->outq_bytes > c->w->cfg->max_outbound && c->state == PZ_CONN_WS)
    slow_consumer(c);
  start_write(c);
}

void pz_conn_send(pz_conn_t *c, const uint8_t *data, size_t len, int kind,
                  pz_payload_t *shared) {
  if (c->state != PZ_CONN_WS && c->state != PZ_CONN_MIGRATING)
    return;
  uint8_t hdr[PZ_WS_HEADER_MAX];
  size_t hlen = pz_ws_frame_header(hdr, WSLAY_BINARY_FRAME, len);
  if (len > 1 && data[1] < 10)
    PZ_ADD(c->w->metrics.msgs_out[data[1]], 1);
  out_send(c, hdr, hlen, data, len, kind, shared);
}

void pz_conn_error(pz_conn_t *c, int code, const char *message, int op) {
  pz_wire_t *wire = &c->w->shard.wire;
  pz_enc_error(pz_wire_begin(wire), code, message, op);
  if (code > 0 && code < 12)
    PZ_ADD(c->w->metrics.errors[code], 1);
  pz_conn_send(c, pz_wire_data(wire), pz_wire_len(wire), PZ_PAYLOAD_RELIABLE,
               NULL);
}

/* ---- wslay glue --------------------------------------------------------- */

static void handle_ws_message(pz_conn_t *c, int opcode, const uint8_t *data,
                              size_t len) {
  switch (opcode) {
  case WSLAY_BINARY_FRAME:
    if (c->state == PZ_CONN_WS)
      pz_dispatch(c, data, len);
    break;
  case WSLAY_TEXT_FRAME:
    pz_conn_close(c, PZ_CLOSE_UNSUPPORTED_DATA,
                  "text messages are not supported");
    break;
  case WSLAY_CONNECTION_CLOSE:
    /* The peer closes: wslay answers; the session waits for a resume. */
    if (c->state == PZ_CONN_WS)
      pz_metrics_close(&c->w->metrics, 1005);
    enter_closing(c, LINGER_MS);
    break;
  default: /* ping and pong: wslay answers pings itself */
    break;
  }
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                          int flags, void *user_data) {
  pz_conn_t *c = user_data;
  if (c->rx_len == 0 || c->state == PZ_CONN_MIGRATING) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < c->rx_len ? len : c->rx_len;
  memcpy(buf, c->rx, n);
  pz_ws_scan_feed(&c->scan, c->rx, n);
  c->rx += n;
  c->rx_len -= n;
  return (ssize_t)n;
}

/* wslay's own frames (pong, close) join the outbound queue in order. */
static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                          size_t len, int flags, void *user_data) {
  pz_conn_t *c = user_data;
  if (c->state == PZ_CONN_CLOSED) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  out_send(c, NULL, 0, data, len, PZ_PAYLOAD_RELIABLE, NULL);
  return (ssize_t)len;
}

static void defer(pz_conn_t *c, int opcode, const uint8_t *data, size_t len) {
  pz_deferred_t *d = pz_xmalloc(sizeof(*d) + len);
  d->next = NULL;
  d->opcode = opcode;
  d->len = len;
  if (len) /* wslay gives an empty message as NULL */
    memcpy(d->data, data, len);
  if (c->deferred_tail)
    c->deferred_tail->next = d;
  else
    c->deferred = d;
  c->deferred_tail = d;
}

static void ws_msg_cb(wslay_event_context_ptr ctx,
                      const struct wslay_event_on_msg_recv_arg *arg,
                      void *user_data) {
  pz_conn_t *c = user_data;
  if (c->state == PZ_CONN_MIGRATING) {
    if (arg->opcode != WSLAY_PING && arg->opcode != WSLAY_PONG)
      defer(c, arg->opcode, arg->msg, arg->msg_length);
    return;
  }
  handle_ws_message(c, arg->opcode, arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_msg_cb,
};

/* The parser exists while the connection is busy; made again after an idle
 * release. Returns false when it cannot be made (out of memory). */
static bool ensure_ws(pz_conn_t *c) {
  if (c->ws)
    return true;
  if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
    c->ws = NULL;
    return false;
  }
  wslay_event_config_set_max_recv_msg_length(c->ws, c->w->cfg->max_message);
  return true;
}

static void ws_flush(pz_conn_t *c) {
  if (c->ws && c->state != PZ_CONN_CLOSED && wslay_event_want_write(c->ws))
    wslay_event_send(c->ws);
}

static void ws_input(pz_conn_t *c, const uint8_t *data, size_t len) {
  if (!ensure_ws(c)) {
    hard_close(c);
    return;
  }
  c->rx = data;
  c->rx_len = len;
  int r = wslay_event_recv(c->ws);
  if (c->rx_len && c->state == PZ_CONN_MIGRATING) {
    /* Read but not yet parsed: goes along to the next worker. */
    uint8_t *keep = pz_xmalloc(c->pending_rx_len + c->rx_len);
    if (c->pending_rx_len)
      memcpy(keep, c->pending_rx, c->pending_rx_len);
    memcpy(keep + c->pending_rx_len, c->rx, c->rx_len);
    free(c->pending_rx);
    c->pending_rx = keep;
    c->pending_rx_len += c->rx_len;
  }
  c->rx = NULL;
  c->rx_len = 0;
  if (c->state == PZ_CONN_CLOSED)
    return;
  if (r != 0) {
    pz_debug("wslay recv failed on %s: %d", c->peer, r);
    hard_close(c);
    return;
  }
  ws_flush(c);
  if (c->state == PZ_CONN_WS && !wslay_event_want_read(c->ws)) {
    /* wslay stopped reading: it sent a close of its own (1002, 1009...). */
    c->close_code = wslay_event_get_status_code_sent(c->ws);
    pz_metrics_close(&c->w->metrics, c->close_code);
    enter_closing(c, LINGER_MS);
  }
  check_done(c);
}

/* ---- HTTP phase -----------------------------------------------------------
 */

void pz_conn_http_answer(pz_conn_t *c, int status, const char *type, char *body,
                         size_t len) {
  if (c->state != PZ_CONN_HTTP) {
    free(body);
    return;
  }
  const char *reason = status == 200   ? "OK"
                       : status == 400 ? "Bad Request"
                       : status == 401 ? "Unauthorized"
                       : status == 404 ? "Not Found"
                       : status == 405 ? "Method Not Allowed"
                       : status == 426 ? "Upgrade Required"
                       : status == 431 ? "Request Header Fields Too Large"
                                       : "Error";
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                   status, reason, type, len,
                   status == 426 ? "Upgrade: websocket\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                 : "");
  out_send(c, (const uint8_t *)head, (size_t)n, (const uint8_t *)body, len,
           PZ_PAYLOAD_RELIABLE, NULL);
  free(body);
  enter_closing(c, LINGER_MS);
  check_done(c);
}

static void http_error(pz_conn_t *c, int status, const char *text) {
  size_t len = strlen(text);
  pz_conn_http_answer(c, status, "text/plain", pz_xstrndup(text, len), len);
}

static void ws_input(pz_conn_t *c, const uint8_t *data, size_t len);

static void upgrade(pz_conn_t *c) {
  char answer[512];
  int status = pz_ws_handshake(c->http, answer, sizeof(answer));
  if (status) {
    http_error(c, status, "a WebSocket upgrade is expected here\n");
    return;
  }
  if (!ensure_ws(c)) {
    hard_close(c);
    return;
  }
  out_send(c, NULL, 0, (const uint8_t *)answer, strlen(answer),
           PZ_PAYLOAD_RELIABLE, NULL);
  free(c->http);
  c->http = NULL;
  c->state = PZ_CONN_WS;
  /* HELLO is due within the timeout from the upgrade. */
  c->deadline_ms = pz_worker_now(c->w) + c->w->cfg->hello_timeout_ms;
  list_move(c, &c->w->waiting);
}

static void http_input(pz_conn_t *c, const uint8_t *data, size_t len) {
  ssize_t r = pz_http_req_feed(c->http, (const char *)data, len);
  if (r == PZ_EAGAIN)
    return;
  if (r == PZ_ETOOBIG) {
    http_error(c, 431, "request head too large\n");
    return;
  }
  if (r < 0) {
    http_error(c, 400, "malformed HTTP request\n");
    return;
  }
  PZ_ADD(c->w->metrics.http_requests, 1);
  char *q = strchr(c->http->path, '?');
  if (q)
    *q = 0;
  if (strcmp(c->http->path, PZ_WS_PATH) == 0) {
    upgrade(c);
    if (c->state == PZ_CONN_WS && (size_t)r < len)
      ws_input(c, data + r, len - (size_t)r); /* frames sent right after */
    return;
  }
  pz_endpoints_handle(c, c->http->method, c->http->path);
}

/* ---- reading --------------------------------------------------------------
 */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  pz_conn_t *c = h->data;
  *buf = uv_buf_init(c->w->readbuf, sizeof(c->w->readbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pz_conn_t *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    c->eof = true;
    uv_read_stop(s);
    c->reading = false;
    if (c->state == PZ_CONN_WS)
      pz_metrics_close(&c->w->metrics, 1006);
    hard_close(c);
    return;
  }
  PZ_ADD(c->w->metrics.bytes_in, nread);
  const uint8_t *data = (const uint8_t *)buf->base;
  switch (c->state) {
  case PZ_CONN_HTTP:
    http_input(c, data, (size_t)nread);
    break;
  case PZ_CONN_WS:
    c->last_rx_ms = pz_worker_now(c->w);
    if (c->list == &c->w->active || c->list == &c->w->idle)
      list_move(c, &c->w->active); /* to the tail: most recent */
    ws_input(c, data, (size_t)nread);
    break;
  case PZ_CONN_CLOSING:
    /* Until the close handshake is over wslay reads (the peer's close
     * frame); after it, input is drained and dropped. */
    if (c->ws && wslay_event_want_read(c->ws))
      ws_input(c, data, (size_t)nread);
    break;
  default:
    break;
  }
}

/* Opens fd on w's loop and starts reading. On failure the fd is closed and
 * the connection freed (now or in its close callback): callers just stop. */
static int open_on_loop(pz_worker_t *w, pz_conn_t *c, uv_os_sock_t fd) {
  int r = uv_tcp_init(&w->loop, &c->tcp);
  if (r) {
    close(fd);
    free_conn(c);
    return r;
  }
  c->tcp.data = c;
  r = uv_tcp_open(&c->tcp, fd);
  if (r)
    close(fd); /* not the handle's: uv_close will not close it */
  else
    r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (r) {
    c->state = PZ_CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return r;
  }
  c->reading = true;
  uv_tcp_nodelay(&c->tcp, 1);
  if (w->cfg->sndbuf > 0) {
    int v = w->cfg->sndbuf;
    uv_send_buffer_size((uv_handle_t *)&c->tcp, &v);
  }
  PZ_ADD(w->metrics.connections, 1);
  return 0;
}

void pz_conn_accept(pz_worker_t *w, uv_os_sock_t fd) {
  pz_conn_t *c = pz_xcalloc(1, sizeof(*c));
  c->outlet.vt = &conn_outlet;
  c->w = w;
  c->state = PZ_CONN_HTTP;
  c->http = pz_xmalloc(sizeof(*c->http));
  pz_http_req_init(c->http);
  if (open_on_loop(w, c, fd))
    return;
  PZ_ADD(w->metrics.accepted, 1);
  struct sockaddr_storage sa;
  int salen = sizeof(sa);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0) {
    char ip[40] = "?";
    uv_ip_name((struct sockaddr *)&sa, ip, sizeof(ip));
    int port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
  }
  c->deadline_ms = pz_worker_now(w) + w->cfg->hello_timeout_ms;
  list_move(c, &w->waiting);
}

/* ---- closing ----------------------------------------------------------------
 */

void pz_conn_close(pz_conn_t *c, int code, const char *reason) {
  if (c->state == PZ_CONN_CLOSING || c->state == PZ_CONN_CLOSED)
    return;
  if (c->state == PZ_CONN_MIGRATING) { /* the next worker closes it */
    defer(c, -code, (const uint8_t *)reason, strlen(reason) + 1);
    return;
  }
  if (c->state == PZ_CONN_HTTP || !ensure_ws(c)) {
    hard_close(c);
    return;
  }
  c->close_code = code;
  pz_metrics_close(&c->w->metrics, code);
  pz_debug("closing %s with %d (%s)", c->peer, code, reason);
  wslay_event_queue_close(c->ws, (uint16_t)code, (const uint8_t *)reason,
                          strlen(reason));
  enter_closing(c, LINGER_MS);
  ws_flush(c);
  start_write(c);
  check_done(c);
}

void pz_conn_sweep(pz_worker_t *w, uint64_t now_ms) {
  while (w->waiting && w->waiting->deadline_ms <= now_ms) {
    pz_conn_t *c = w->waiting;
    if (c->state == PZ_CONN_HTTP)
      hard_close(c);
    else
      pz_conn_close(c, PZ_CLOSE_HELLO_EXPECTED, "HELLO timeout");
  }
  pz_conn_t *c, *tmp;
  DL_FOREACH_SAFE(w->closing, c, tmp) {
    if (c->deadline_ms <= now_ms)
      hard_close(c);
  }
  /* The active list is ordered by last input: stop at the first recent. */
  while ((c = w->active) && c->last_rx_ms + IDLE_RELEASE_MS <= now_ms) {
    if (c->ws && pz_ws_scan_at_boundary(&c->scan) &&
        !wslay_event_want_write(c->ws)) {
      wslay_event_context_free(c->ws);
      c->ws = NULL;
      w->released_parsers++;
    }
    list_move(c, &w->idle);
  }
  /* Freed parsers sit in malloc's free lists, still counted in RSS; once
   * enough have gone, hand the pages back (at most once a second). */
  if (w->released_parsers >= 64 && now_ms >= w->last_trim_ms + 1000) {
    malloc_trim(0);
    w->released_parsers = 0;
    w->last_trim_ms = now_ms;
  }
}

void pz_conn_close_all(pz_worker_t *w, int code) {
  while (w->waiting)
    w->waiting->state == PZ_CONN_HTTP
        ? hard_close(w->waiting)
        : pz_conn_close(w->waiting, code, "server shutting down");
  while (w->active)
    pz_conn_close(w->active, code, "server shutting down");
  while (w->idle)
    pz_conn_close(w->idle, code, "server shutting down");
}

void pz_conn_attach(pz_conn_t *c, pz_session_t *s) {
  c->session = s;
  c->last_rx_ms = pz_worker_now(c->w);
  list_move(c, &c->w->active);
}

/* ---- moving between workers ------------------------------------------------
 */

static void on_migrate_closed(uv_handle_t *h) {
  pz_conn_t *c = h->data;
  pz_msg_adopt_t *m = c->moving;
  pz_worker_t *to = c->w->srv->workers[c->moving_to];
  c->moving = NULL;
  m->conn = c;
  pz_worker_post(to, &m->hdr);
}

static void migrate_close(pz_conn_t *c) {
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
    c->moving_fd = dup(fd);
  else
    c->moving_fd = -1;
  if (c->moving_fd < 0) {
    pz_error("cannot hand a connection over: dup failed");
    if (c->moving->session) /* back into this shard, to be ended here */
      pz_session_host(c->w, c->moving->session);
    free(c->moving);
    c->moving = NULL;
    c->state = PZ_CONN_WS;
    c->close_code = PZ_CLOSE_INTERNAL_ERROR;
    hard_close(c);
    return;
  }
  PZ_ADD(c->w->metrics.connections, -1);
  uv_close((uv_handle_t *)&c->tcp, on_migrate_closed);
}

void pz_conn_migrate(pz_conn_t *c, pz_msg_adopt_t *msg, int to) {
  c->state = PZ_CONN_MIGRATING;
  c->moving = msg;
  c->moving_to = to;
  list_move(c, NULL);
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
  }
  if (c->in_flight == 0)
    migrate_close(c);
}

int pz_conn_adopt(pz_worker_t *w, pz_conn_t *c, uv_os_sock_t fd) {
  c->w = w;
  int r = open_on_loop(w, c, fd);
  if (r)
    return r;
  c->state = PZ_CONN_WS;
  c->last_rx_ms = pz_worker_now(w);
  list_move(c, &w->active);
  start_write(c);
  return 0;
}

void pz_conn_resume_input(pz_conn_t *c) {
  while (c->deferred && c->state == PZ_CONN_WS) {
    pz_deferred_t *d = c->deferred;
    c->deferred = d->next;
    if (!c->deferred)
      c->deferred_tail = NULL;
    if (d->opcode < 0)
      pz_conn_close(c, -d->opcode, (const char *)d->data);
    else
      handle_ws_message(c, d->opcode, d->data, d->len);
    free(d);
  }
  if (c->pending_rx && c->state == PZ_CONN_WS) {
    uint8_t *data = c->pending_rx;
    size_t len = c->pending_rx_len;
    c->pending_rx = NULL;
    c->pending_rx_len = 0;
    ws_input(c, data, len);
    free(data);
  }
}
