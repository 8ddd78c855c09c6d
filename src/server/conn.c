/*
 * Connections: lifetime, output and the flush step, closing (see conn.h).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utlist.h>

#include "alloc.h"
#include "conn_int.h"
#include "error.h"
#include "log.h"
#include "plaza/protocol.h"
#include "stream_tls.h"
#include "tls_ctx.h"

#define IDLE_RELEASE_MS 2000 /* quiet time before the parser is released */
#define FLUSH_BUFS 128       /* iovecs per writev */

static const int kick_codes[] = {
    PZ_CLOSE_PROTOCOL_ERROR, PZ_CLOSE_UNSUPPORTED_DATA, 1007,
    PZ_CLOSE_TOO_BIG,        PZ_CLOSE_MALFORMED,        PZ_CLOSE_KICKED,
};

bool pz_close_ends_session(int code) {
  for (size_t i = 0; i < sizeof(kick_codes) / sizeof(kick_codes[0]); i++)
    if (kick_codes[i] == code)
      return true;
  return false;
}

/* ---- the outlet: how a shard reaches this client ------------------------ */

static int outlet_send(pz_outlet_t *o, const uint8_t *data, size_t len,
                       int kind, pz_payload_t *shared) {
  return pz_conn_send((pz_conn_t *)o, data, len, kind, shared);
}

static void outlet_close(pz_outlet_t *o, int code, const char *reason) {
  pz_conn_close((pz_conn_t *)o, code, reason);
}

static const struct pz_outlet_vtbl conn_outlet = {outlet_send, outlet_close};

void *pz_conn_owner(const pz_conn_t *c) {
  return c->host->owner;
}
pz_outlet_t *pz_conn_outlet(pz_conn_t *c) {
  return &c->outlet;
}
pz_conn_t *pz_conn_from_outlet(pz_outlet_t *o) {
  return (pz_conn_t *)o;
}
struct pz_session *pz_conn_session(const pz_conn_t *c) {
  return c->session;
}
const char *pz_conn_peer(const pz_conn_t *c) {
  /* Made when asked rather than kept: logs are rare, connections many. */
  static _Thread_local char peer[PZ_PEER_MAX];
  return pz_ip_format_peer(&c->ip, c->port, peer, sizeof(peer));
}
const pz_ip_t *pz_conn_ip(const pz_conn_t *c) {
  return &c->ip;
}
const char *pz_conn_addr(const pz_conn_t *c, char *out, size_t size) {
  return pz_ip_format(&c->ip, out, size);
}
void pz_conn_set_client(pz_conn_t *c, const pz_ip_t *ip, uint16_t port) {
  c->ip = *ip;
  c->port = port;
}
bool pz_conn_closing(const pz_conn_t *c) {
  return c->close_pending || c->state == PZ_CONN_CLOSING ||
         c->state == PZ_CONN_CLOSED;
}

static pz_conn_t **list_head(pz_conn_host_t *h, int list) {
  switch (list) {
  case PZ_LIST_WAITING:
    return &h->waiting;
  case PZ_LIST_ACTIVE:
    return &h->active;
  case PZ_LIST_IDLE:
    return &h->idle;
  case PZ_LIST_PINGED:
    return &h->pinged;
  case PZ_LIST_CLOSING:
    return &h->closing;
  default:
    return NULL;
  }
}

void pz_conn_list_move(pz_conn_t *c, int list) {
  pz_conn_t **from = list_head(c->host, c->list),
            **to = list_head(c->host, list);
  if (from)
    DL_DELETE(*from, c);
  c->list = (uint8_t)list;
  if (to)
    DL_APPEND(*to, c);
  if (list == PZ_LIST_ACTIVE)
    c->deadline_ms = uv_now(c->host->loop); /* when it joined the tail */
}

static void flush_remove(pz_conn_t *c) {
  if (c->flushing)
    DL_DELETE2(c->host->flush, c, fprev, fnext);
  c->flushing = false;
}

void pz_conn_schedule_flush(pz_conn_t *c) {
  if (c->flushing || c->state == PZ_CONN_MIGRATING ||
      c->state == PZ_CONN_CLOSED)
    return;
  c->flushing = true;
  DL_APPEND2(c->host->flush, c, fprev, fnext);
}

/* ---- lifetime ----------------------------------------------------------- */

void pz_conn_free(pz_conn_t *c) {
  pz_outq_dispose(&c->outq);
  pz_conn_held_free(c->held);
  free(c->close_reason);
  free(c->proxy);
  if (c->http)
    pz_http_req_dispose(c->http);
  free(c->http);
  pz_ws_rx_release(&c->rx);
  pz_tls_stream_destroy(c->tls);
  free(c);
}

static void on_stream_closed(pz_stream_t *s) {
  pz_conn_free(s->data);
}

/* What TLS holds for the client counts against the same bound as the
 * queue, and so do the answers a client makes it write but never reads. */
struct pz_tls_stream *pz_conn_tls_new(pz_conn_host_t *h) {
  pz_tls_limits_t lim = {.hold_max = h->cfg->max_outbound,
                         .key_updates = h->cfg->tls_key_updates};
  return pz_tls_stream_create(pz_tls_ctx_new_ssl(h->tls), &lim);
}

int pz_conn_open_stream(pz_conn_t *c, uv_os_sock_t fd) {
  pz_conn_host_t *h = c->host;
  /* TCP keepalive finds peers gone without a FIN even where no
   * WebSocket ping would (a socket whose writes the kernel still takes). */
  uint32_t idle_s = h->cfg->idle_timeout_ms / 1000;
  pz_tcp_options_t opt = {.sndbuf = h->cfg->sndbuf,
                          .keepalive_s = idle_s ? (int)idle_s : 60};
  /* A moved connection brings its TLS stream (its session state). Behind
   * a PROXY header TLS begins after it (conn_proxy.c). */
  if (h->tls && !c->tls && c->state != PZ_CONN_PROXY &&
      !(c->tls = pz_conn_tls_new(h)))
    return PZ_ENOMEM;
  int r = pz_tcp_stream_open(&c->tcp, h->loop, fd, &h->readbuf, &opt);
  if (r)
    return r;
  c->stream = c->tls ? pz_tls_stream_wrap(c->tls, &c->tcp) : &c->tcp.base;
  c->stream->data = c;
  c->stream->on_read = pz_conn_on_read;
  c->stream->on_writable = pz_conn_on_writable;
  c->blocked = false;
  pz_stream_read_start(c->stream);
  PZ_ADD(h->metrics->connections, 1);
  return 0;
}

void pz_conn_accept(pz_conn_host_t *h, uv_os_sock_t fd) {
  pz_conn_t *c = pz_xcalloc(1, sizeof(*c));
  c->outlet.vt = &conn_outlet;
  c->host = h;
  pz_tcp_peer(fd, &c->ip, &c->port);
  c->state = PZ_CONN_HTTP;
  if (pz_conn_proxy_expected(c)) {
    c->state = PZ_CONN_PROXY;
    c->proxy = pz_xmalloc(sizeof(*c->proxy));
    pz_proxy_init(c->proxy);
  }
  c->rx.done = 1; /* no WebSocket input before the upgrade */
  c->http = pz_xmalloc(sizeof(*c->http));
  pz_http_req_init(c->http);
  pz_outq_init(&c->outq, h->cfg->max_outbound);
  if (pz_conn_open_stream(c, fd) != 0) {
    close(fd);
    pz_conn_free(c);
    return;
  }
  PZ_ADD(h->metrics->accepted, 1);
  c->deadline_ms = uv_now(h->loop) + h->cfg->hello_timeout_ms;
  pz_conn_list_move(c, PZ_LIST_WAITING);
}

void pz_conn_attach(pz_conn_t *c, struct pz_session *s) {
  c->session = s;
  if (!s)
    return;
  c->last_rx_ms = uv_now(c->host->loop);
  pz_conn_list_move(c, PZ_LIST_ACTIVE);
}

/* The session lets go of this connection; what that means for it is the
 * server's decision. */
void pz_conn_release_session(pz_conn_t *c, int code) {
  struct pz_session *s = c->session;
  if (!s)
    return;
  c->session = NULL;
  c->host->events->on_gone(c, s, code);
}

/* Closes the socket now, whatever is unsent. */
void pz_conn_hard_close(pz_conn_t *c) {
  if (c->state == PZ_CONN_CLOSED)
    return;
  pz_conn_release_session(c, c->close_code ? c->close_code : 1006);
  if (c->request_pending) {
    c->request_pending = false;
    c->host->events->on_request_gone(c);
  }
  c->state = PZ_CONN_CLOSED;
  pz_conn_list_move(c, PZ_LIST_NONE);
  flush_remove(c);
  PZ_ADD(c->host->metrics->connections, -1);
  pz_stream_close(c->stream, on_stream_closed);
}

void pz_conn_enter_closing(pz_conn_t *c) {
  if (c->state == PZ_CONN_CLOSING || c->state == PZ_CONN_CLOSED)
    return;
  if (c->input_paused) { /* the peer's close frame must be read */
    c->input_paused = false;
    pz_stream_read_start(c->stream);
  }
  c->state = PZ_CONN_CLOSING;
  c->deadline_ms = uv_now(c->host->loop) + PZ_LINGER_MS;
  pz_conn_list_move(c, PZ_LIST_CLOSING);
  pz_conn_schedule_flush(c);
}

/* A closing connection ends once the WebSocket close handshake is over (or
 * the peer is gone) and everything queued has been written. It then sends
 * FIN and reads until the peer's (or the linger deadline): closing with
 * unread input would make the kernel answer RST, and an RST can destroy
 * our close frame in the peer's receive queue before it reads it. */
void pz_conn_check_done(pz_conn_t *c) {
  if (c->state != PZ_CONN_CLOSING || !pz_outq_empty(&c->outq))
    return;
  if (c->eof) {
    pz_conn_hard_close(c);
    return;
  }
  if (pz_conn_ws_reading(c)) /* the peer's close frame is still to come */
    return;
  if (c->shut)
    return;
  if (pz_stream_shutdown(c->stream) != 0) {
    pz_conn_hard_close(c);
    return;
  }
  c->shut = true;
}

/* ---- output --------------------------------------------------------------
 */

static void slow_consumer(pz_conn_t *c) {
  /* What is not on the wire is dropped: the client resumes and gets ROOM. */
  uint32_t dropped = pz_outq_drop_unsent(&c->outq);
  PZ_ADD(c->host->metrics->dropped_frames, dropped);
  pz_info("closing slow consumer %s: outbound queue passed %u bytes",
          pz_conn_peer(c), c->host->cfg->max_outbound);
  pz_conn_close(c, PZ_CLOSE_SLOW_CONSUMER, "slow consumer");
}

int pz_conn_push(pz_conn_t *c, const uint8_t *hdr, size_t hlen,
                 const void *data, size_t len, int kind, pz_payload_t *shared) {
  int r = shared ? pz_outq_push(&c->outq, hdr, hlen, shared, kind)
                 : pz_outq_push_copy(&c->outq, hdr, hlen, data, len, kind);
  /* The bound covers the queue and what the stream holds (TLS records
   * encrypted but not yet taken by the socket). */
  if (c->state == PZ_CONN_WS && !c->close_pending &&
      (r == PZ_EFULL ||
       c->outq.bytes + pz_stream_held(c->stream) > c->host->cfg->max_outbound))
    slow_consumer(c);
  pz_conn_schedule_flush(c);
  return r;
}

int pz_conn_send(pz_conn_t *c, const uint8_t *data, size_t len, int kind,
                 pz_payload_t *shared) {
  if ((c->state != PZ_CONN_WS && c->state != PZ_CONN_MIGRATING) ||
      c->close_pending)
    return 0;
  uint8_t hdr[PZ_WS_HEADER_MAX];
  size_t hlen = pz_ws_frame_header(hdr, PZ_WS_BINARY, len);
  if (len > 1 && data[1] < PZ_METRICS_OPS_OUT)
    PZ_ADD(c->host->metrics->msgs_out[data[1]], 1);
  return pz_conn_push(c, hdr, hlen, data, len, kind, shared) == PZ_OUTQ_LOST
             ? PZ_OUTLET_LOST
             : 0;
}

/* Writes what the queue holds until the stream takes no more. */
static void write_out(pz_conn_t *c) {
  uv_buf_t bufs[FLUSH_BUFS];
  while (!c->blocked && !pz_outq_empty(&c->outq)) {
    unsigned n = pz_outq_bufs(&c->outq, bufs, FLUSH_BUFS);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
      total += bufs[i].len;
    ssize_t r = pz_stream_writev(c->stream, bufs, n);
    if (r < 0) {
      pz_debug("write to %s failed: %s", pz_conn_peer(c), pz_strerror((int)r));
      c->eof = true;
      pz_conn_hard_close(c);
      return;
    }
    pz_outq_consume(&c->outq, (size_t)r);
    PZ_ADD(c->host->metrics->bytes_out, r);
    if ((size_t)r < total)
      c->blocked = true; /* the stream calls on_writable */
  }
}

bool pz_conn_flush(pz_conn_t *c) {
  if (c->state == PZ_CONN_CLOSED || c->state == PZ_CONN_MIGRATING)
    return false;
  write_out(c);
  return c->state != PZ_CONN_CLOSED && pz_outq_empty(&c->outq);
}

void pz_conn_on_writable(pz_stream_t *s) {
  pz_conn_t *c = s->data;
  c->blocked = false;
  pz_conn_schedule_flush(c);
}

/* A close asked for during the turn: the session is let go (kicks already
 * were), and the close frame queued behind what is pending. */
static void carry_out_close(pz_conn_t *c) {
  c->close_pending = false;
  if (c->state == PZ_CONN_HTTP || c->state == PZ_CONN_PROXY) {
    pz_conn_hard_close(c);
    return;
  }
  pz_metrics_close(c->host->metrics, c->close_code);
  const char *reason = c->close_reason ? c->close_reason : "";
  pz_debug("closing %s with %d (%s)", pz_conn_peer(c), c->close_code, reason);
  pz_conn_release_session(c, c->close_code);
  if (c->state == PZ_CONN_CLOSING)
    return; /* the peer closed first: its echo went instead */
  /* Closing first: the close frame may pass the bound, which is no slow
   * consumer of its own. */
  pz_conn_enter_closing(c);
  pz_conn_ws_push_close(c, c->close_code, reason);
}

static void flush_one(pz_conn_t *c) {
  if (c->close_pending)
    carry_out_close(c);
  if (c->state == PZ_CONN_CLOSED)
    return;
  write_out(c);
  if (c->state == PZ_CONN_CLOSED)
    return;
  /* A written queue gives its ring back: most ticks bring one frame per
   * connection, which needs none, and a ring kept across turns would pin
   * heap pages among the long-lived objects (RSS that malloc_trim cannot
   * return). */
  pz_outq_shrink(&c->outq);
  pz_conn_check_done(c);
}

/* The flush step: every connection that got output or a close request
 * this turn is written once. */
static void flush_all(pz_conn_host_t *h) {
  pz_conn_t *c;
  while ((c = h->flush)) {
    DL_DELETE2(h->flush, c, fprev, fnext);
    c->flushing = false;
    flush_one(c);
  }
}

static void on_before_poll(uv_prepare_t *p) {
  flush_all(p->data);
}

/* ---- closing ------------------------------------------------------------ */

void pz_conn_close(pz_conn_t *c, int code, const char *reason) {
  if (pz_conn_closing(c))
    return;
  if (c->state == PZ_CONN_MIGRATING) { /* the next worker closes it */
    pz_conn_defer(c, -code, (const uint8_t *)reason, strlen(reason) + 1);
    return;
  }
  c->close_code = code;
  /* A close frame's reason is at most 123 bytes. */
  free(c->close_reason);
  c->close_reason = pz_xstrndup(reason, strnlen(reason, 123));
  c->close_pending = true;
  if (pz_close_ends_session(
          code)) /* its token must not take it over meanwhile */
    pz_conn_release_session(c, code);
  pz_conn_schedule_flush(c);
}

/* A WebSocket ping of our own: no parser needed (idle ones have none). */
static void ping(pz_conn_t *c) {
  static const uint8_t frame[] = {0x80 | PZ_WS_PING, 0};
  pz_conn_push(c, NULL, 0, frame, sizeof(frame), PZ_OUT_RELIABLE, NULL);
}

static void close_silent(pz_conn_t *c) {
  pz_debug("closing %s: silent for %u ms", pz_conn_peer(c),
           c->host->cfg->idle_timeout_ms);
  pz_conn_list_move(c, PZ_LIST_NONE); /* closing now: off the silence lists */
  pz_conn_close(c, PZ_CLOSE_GOING_AWAY, "idle timeout");
}

/* Dead peers. The idle and pinged lists are ordered by last input, to
 * within relist_ms (a connection joins each as its silence passes a
 * threshold), so each scan stops at the first one still within its time. */
static void sweep_silent(pz_conn_host_t *h, uint64_t now_ms) {
  uint32_t every = h->cfg->ping_interval_ms, limit = h->cfg->idle_timeout_ms;
  pz_conn_t *c;
  while ((c = h->idle)) {
    uint64_t silent = now_ms - c->last_rx_ms;
    if (limit && silent >= limit) {
      close_silent(c);
    } else if (every && silent >= every) {
      ping(c);
      pz_conn_list_move(c, PZ_LIST_PINGED);
    } else {
      break;
    }
  }
  while (limit && (c = h->pinged) && now_ms - c->last_rx_ms >= limit)
    close_silent(c);
}

void pz_conn_sweep(pz_conn_host_t *h, uint64_t now_ms) {
  while (h->waiting && h->waiting->deadline_ms <= now_ms) {
    pz_conn_t *c = h->waiting;
    if (c->state == PZ_CONN_HTTP || c->state == PZ_CONN_PROXY) {
      pz_conn_hard_close(c);
    } else {
      pz_conn_close(c, PZ_CLOSE_HELLO_EXPECTED, "HELLO timeout");
      pz_conn_list_move(c, PZ_LIST_ACTIVE); /* out of the deadline list */
    }
  }
  pz_conn_t *c, *tmp;
  DL_FOREACH_SAFE(h->closing, c, tmp) {
    if (c->deadline_ms <= now_ms)
      pz_conn_hard_close(c);
  }
  /* The active list is ordered by last input (to within relist_ms): stop
   * at the first recent. */
  while ((c = h->active) && c->last_rx_ms + IDLE_RELEASE_MS <= now_ms) {
    if (!c->close_pending)
      pz_conn_ws_release_idle(c);
    pz_conn_list_move(c, PZ_LIST_IDLE);
  }
  sweep_silent(h, now_ms);
  /* What connections freed on their way here (the HTTP request, buffers
   * of their busy time, messages written) sits in malloc's free lists,
   * still counted in RSS, in holes between what stays; once enough have
   * gone quiet, hand those pages back (at most once a second). */
  if (h->gone_quiet >= 64 && now_ms >= h->last_trim_ms + 1000) {
    malloc_trim(0);
    h->gone_quiet = 0;
    h->last_trim_ms = now_ms;
  }
}

void pz_conn_close_all(pz_conn_host_t *h, int code) {
  pz_conn_t *lists[] = {h->waiting, h->active, h->idle, h->pinged};
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    pz_conn_t *c, *tmp;
    DL_FOREACH_SAFE(lists[i], c, tmp) {
      pz_conn_close(c, code, "server shutting down");
    }
  }
}

void pz_conn_host_init(pz_conn_host_t *h, uv_loop_t *loop,
                       const pz_config_t *cfg, pz_metrics_t *metrics,
                       const pz_conn_events_t *events, void *owner) {
  memset(h, 0, sizeof(*h));
  h->loop = loop;
  h->cfg = cfg;
  h->metrics = metrics;
  h->events = events;
  h->owner = owner;
  h->readbuf = (pz_readbuf_t){h->readbuf_bytes, sizeof(h->readbuf_bytes)};
  uint32_t shortest = IDLE_RELEASE_MS;
  if (cfg->ping_interval_ms && cfg->ping_interval_ms < shortest)
    shortest = cfg->ping_interval_ms;
  if (cfg->idle_timeout_ms && cfg->idle_timeout_ms < shortest)
    shortest = cfg->idle_timeout_ms;
  h->relist_ms = shortest / 8;
  uv_prepare_init(loop, &h->before_poll);
  h->before_poll.data = h;
  uv_prepare_start(&h->before_poll, on_before_poll);
  /* The flush step never keeps the loop alive by itself. */
  uv_unref((uv_handle_t *)&h->before_poll);
}

static void on_handle_closed(uv_handle_t *h) {}

void pz_conn_host_close(pz_conn_host_t *h) {
  uv_close((uv_handle_t *)&h->before_poll, on_handle_closed);
}

/* ---- reading ------------------------------------------------------------ */

/* The stream stopped reading because the client broke one of its limits:
 * TLS answers it never reads past --max-outbound (PZ_EFULL), or a flood of
 * TLS key updates (PZ_EABUSE). A WebSocket client is told with a close
 * code, which the linger deadline gives up on if it does not read; true
 * then. Other phases are dropped like any broken input. */
static bool stream_limit(pz_conn_t *c, int err) {
  if (c->state != PZ_CONN_WS || c->close_pending)
    return false;
  if (err == PZ_EFULL) {
    slow_consumer(c);
    return true;
  }
  if (err != PZ_EABUSE)
    return false;
  pz_info("closing %s: more than %u TLS key updates within %d s",
          pz_conn_peer(c), c->host->cfg->tls_key_updates,
          PZ_TLS_KEY_UPDATE_WINDOW_MS / 1000);
  pz_conn_close(c, PZ_CLOSE_KICKED, "TLS key update flood");
  return true;
}

void pz_conn_on_read(pz_stream_t *s, ssize_t n, uint8_t *data) {
  pz_conn_t *c = s->data;
  pz_conn_host_t *h = c->host;
  if (n < 0 && stream_limit(c, (int)n))
    return;
  if (n < 0) {
    c->eof = true;
    if (c->state == PZ_CONN_WS && !c->close_pending) {
      pz_metrics_close(h->metrics, 1006);
      pz_debug("client %s dropped the connection (1006)", pz_conn_peer(c));
    }
    pz_conn_hard_close(c);
    return;
  }
  PZ_ADD(h->metrics->bytes_in, n);
  switch (c->state) {
  case PZ_CONN_PROXY:
    pz_conn_proxy_input(c, data, (size_t)n);
    break;
  case PZ_CONN_HTTP:
    pz_conn_http_input(c, data, (size_t)n);
    break;
  case PZ_CONN_WS:
    c->last_rx_ms = uv_now(h->loop);
    if (c->list == PZ_LIST_IDLE || c->list == PZ_LIST_PINGED ||
        (c->list == PZ_LIST_ACTIVE &&
         c->last_rx_ms - c->deadline_ms >= h->relist_ms))
      pz_conn_list_move(c, PZ_LIST_ACTIVE); /* to the tail: most recent */
    pz_conn_ws_input(c, data, (size_t)n);
    break;
  case PZ_CONN_CLOSING:
    /* Until the close handshake is over input is parsed (the peer's
     * close frame); after it, it is drained and dropped. */
    pz_conn_ws_input(c, data, (size_t)n);
    break;
  default:
    break;
  }
}
