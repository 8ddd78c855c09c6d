/*
 * A connection's WebSocket side. What the client sends is parsed by the
 * receiver in src/net/ws.c straight from the read buffer: a frame that
 * arrives whole (every MOVE, as a rule) is unmasked where it lies and
 * handed up with no copy and no allocation, and an idle connection's
 * receiver is a few bytes of state. Our own frames (data, pongs, closes)
 * are framed here and join the outbound queue in order; a broadcast
 * shares one payload, header included.
 *
 * wslay's event layer did this before: it allocated a chunk and a queue
 * entry per frame, copied each message twice, and kept a 9 KiB context per
 * connection (freed when idle), which a profile of `social` found costing
 * as much as the dispatch itself (docs/benchmarks.md).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "conn_int.h"
#include "log.h"
#include "plaza/codec.h"
#include "plaza/protocol.h"

void pz_conn_defer(pz_conn_t *c, int opcode, const uint8_t *data, size_t len) {
  pz_deferred_t *d = pz_xmalloc(sizeof(*d) + len);
  d->next = NULL;
  d->opcode = opcode;
  d->len = len;
  if (len)
    memcpy(d->data, data, len);
  pz_conn_held_t *held = pz_conn_held_get(c);
  if (held->deferred_tail)
    held->deferred_tail->next = d;
  else
    held->deferred = d;
  held->deferred_tail = d;
}

bool pz_conn_ws_reading(const pz_conn_t *c) {
  return !c->rx.done;
}

static void push_control(pz_conn_t *c, int opcode, const uint8_t *data,
                         size_t len, int kind) {
  uint8_t frame[2 + PZ_WS_CONTROL_MAX];
  if (len > PZ_WS_CONTROL_MAX)
    len = PZ_WS_CONTROL_MAX;
  frame[0] = (uint8_t)(0x80 | opcode);
  frame[1] = (uint8_t)len;
  if (len)
    memcpy(frame + 2, data, len);
  pz_conn_push(c, NULL, 0, frame, 2 + len, kind, NULL);
}

void pz_conn_ws_push_close(pz_conn_t *c, int code, const char *reason) {
  if (c->close_sent)
    return;
  c->close_sent = true;
  uint8_t payload[PZ_WS_CONTROL_MAX];
  size_t n = 0;
  if (code) {
    size_t rl = strnlen(reason, PZ_WS_CONTROL_MAX - 2);
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    memcpy(payload + 2, reason, rl);
    n = 2 + rl;
  }
  push_control(c, PZ_WS_CLOSE, payload, n, PZ_OUT_RELIABLE);
}

void pz_conn_ws_message(pz_conn_t *c, int opcode, const uint8_t *data,
                        size_t len) {
  switch (opcode) {
  case PZ_WS_BINARY:
    if (c->state == PZ_CONN_WS && !c->close_pending)
      c->host->events->on_message(c, data, len);
    break;
  case PZ_WS_TEXT:
    pz_conn_close(c, PZ_CLOSE_UNSUPPORTED_DATA,
                  "text messages are not supported");
    break;
  case PZ_WS_CLOSE:
    /* The peer closes: the session waits for a resume, whatever code the
     * peer gave (its code is not ours to act on). */
    if (c->state == PZ_CONN_WS) {
      pz_metrics_close(c->host->metrics, 1005);
      pz_debug("client %s closed with %d", pz_conn_peer(c),
               len >= 2 ? data[0] << 8 | data[1] : 1005);
    }
    pz_conn_enter_closing(c);
    break;
  default:
    break;
  }
}

/* The input is a protocol error, a message too big or a close reason that
 * is not UTF-8: nothing more is read, the close says why and ends the
 * session (unless our own close was already on its way). */
static void rx_fail(pz_conn_t *c, int code) {
  const char *reason = code == PZ_CLOSE_PROTOCOL_ERROR
                           ? "WebSocket protocol error"
                       : code == PZ_CLOSE_TOO_BIG ? "message too big"
                                                  : "invalid close reason";
  c->rx.done = 1;
  pz_ws_rx_release(&c->rx);
  if (c->state == PZ_CONN_CLOSING)
    return;
  c->close_pending = false;
  c->close_code = code;
  pz_metrics_close(c->host->metrics, code);
  pz_debug("closing %s with %d (%s)", pz_conn_peer(c), code, reason);
  pz_conn_release_session(c, code);
  pz_conn_enter_closing(c);
  pz_conn_ws_push_close(c, code, reason);
}

/* A whole message from the receiver. Returns nonzero to stop parsing:
 * the connection is moving or its input paused (the rest waits), or the
 * close reason was not UTF-8. */
static int on_rx(void *arg, int opcode, const uint8_t *data, size_t len) {
  pz_conn_t *c = arg;
  switch (opcode) {
  case PZ_WS_PING:      /* RFC 6455 lets a pong answer only the latest ping */
    if (!c->close_sent) /* nothing follows a close frame */
      push_control(c, PZ_WS_PONG, data, len, PZ_OUT_PONG);
    return 0;
  case PZ_WS_PONG:
    return 0;
  case PZ_WS_CLOSE:
    if (len > 2 && !pz_utf8_valid((const char *)data + 2, len - 2))
      return -1;
    pz_conn_ws_message(c, opcode, data, len); /* closing from here */
    /* Echo its code and reason, unless our own close went first. */
    if (len >= 2) {
      char reason[PZ_WS_CONTROL_MAX];
      memcpy(reason, data + 2, len - 2);
      reason[len - 2] = 0;
      pz_conn_ws_push_close(c, data[0] << 8 | data[1], reason);
    } else {
      pz_conn_ws_push_close(c, 0, "");
    }
    return 0;
  default:
    break;
  }
  pz_conn_ws_message(c, opcode, data, len);
  return c->state == PZ_CONN_MIGRATING || c->input_paused;
}

void pz_conn_ws_input(pz_conn_t *c, uint8_t *data, size_t len) {
  if (c->rx.done)
    return; /* after the peer's close or an error: drained, dropped */
  size_t used = 0;
  int code = 0;
  if (c->state != PZ_CONN_MIGRATING && !c->input_paused) {
    code = pz_ws_rx_feed(&c->rx, data, len, c->host->cfg->max_message, on_rx, c,
                         &used);
    if (c->state == PZ_CONN_CLOSED)
      return;
    if (!code && c->rx.done && c->state != PZ_CONN_CLOSING)
      code = 1007; /* the callback refused a close reason */
  }
  if (code) {
    rx_fail(c, code);
  } else if (used < len && !c->rx.done) {
    /* Read but not yet parsed: waits (and goes along to the next worker
     * when the connection moves). */
    size_t rest = len - used;
    pz_conn_held_t *held = pz_conn_held_get(c);
    uint8_t *keep = pz_xmalloc(held->pending_rx_len + rest);
    if (held->pending_rx_len)
      memcpy(keep, held->pending_rx, held->pending_rx_len);
    memcpy(keep + held->pending_rx_len, data + used, rest);
    free(held->pending_rx);
    held->pending_rx = keep;
    held->pending_rx_len += rest;
  }
  /* What the input queued scheduled its own flush; a closing connection
   * may be done now that the peer's close frame came. Most input (MOVEs)
   * needs no flush step at all. */
  if (c->state == PZ_CONN_CLOSING)
    pz_conn_schedule_flush(c);
}

/* A quiet connection keeps no buffer: a message gathered in pieces, or
 * its queue's ring. */
void pz_conn_ws_release_idle(pz_conn_t *c) {
  if (pz_ws_rx_at_boundary(&c->rx))
    pz_ws_rx_release(&c->rx);
  pz_outq_shrink(&c->outq);
  c->host->gone_quiet++;
}
