/*
 * A connection's WebSocket side over wslay: wslay parses what the client
 * sends (masking, fragments, control frames, the size limit) and answers
 * pings and closes; its frames join the outbound queue in order. Server
 * data frames are framed by pz_conn_send instead (a broadcast shares one
 * payload, which wslay's per-context copy would undo).
 *
 * Idle connections keep no parser: after a few quiet seconds, when the
 * input stands between messages, wslay's context (~9 KiB) is freed and
 * made again on the next byte.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "conn_int.h"
#include "log.h"
#include "plaza/protocol.h"

static bool too_many_frames(const pz_conn_t *c) {
  return c->scan.frames > PZ_WS_MESSAGE_FRAMES_MAX;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
                       int flags, void *user_data) {
  pz_conn_t *c = user_data;
  if (c->rx_len == 0 || c->state == PZ_CONN_MIGRATING || c->input_paused ||
      c->ws_broken || too_many_frames(c)) {
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

/* wslay's own frames (pong, close) join the outbound queue; a pong is
 * latest-wins: RFC 6455 lets it answer only the most recent ping. */
static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *user_data) {
  pz_conn_t *c = user_data;
  if (c->state == PZ_CONN_CLOSED) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  int kind =
      len && (data[0] & 0x0f) == WSLAY_PONG ? PZ_OUT_PONG : PZ_OUT_RELIABLE;
  pz_conn_push(c, NULL, 0, data, len, kind, NULL);
  return (ssize_t)len;
}

void pz_conn_defer(pz_conn_t *c, int opcode, const uint8_t *data, size_t len) {
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

void pz_conn_ws_message(pz_conn_t *c, int opcode, const uint8_t *data,
                        size_t len) {
  switch (opcode) {
  case WSLAY_BINARY_FRAME:
    if (c->state == PZ_CONN_WS && !c->close_pending)
      c->host->events->on_message(c, data, len);
    break;
  case WSLAY_TEXT_FRAME:
    pz_conn_close(c, PZ_CLOSE_UNSUPPORTED_DATA,
                  "text messages are not supported");
    break;
  case WSLAY_CONNECTION_CLOSE:
    /* The peer closes: wslay answers; the session waits for a resume,
     * whatever code the peer gave (its code is not ours to act on). */
    if (c->state == PZ_CONN_WS) {
      pz_metrics_close(c->host->metrics, 1005);
      pz_debug("client %s closed with %d", c->peer,
               len >= 2 ? data[0] << 8 | data[1] : 1005);
    }
    pz_conn_enter_closing(c);
    break;
  default: /* ping and pong: wslay answers pings itself */
    break;
  }
}

static void msg_cb(wslay_event_context_ptr ctx,
                   const struct wslay_event_on_msg_recv_arg *arg,
                   void *user_data) {
  pz_conn_t *c = user_data;
  if (c->ws_broken)
    return;
  if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->msg_length == 1) {
    /* A close payload is empty or holds a 2-byte code: wslay would echo an
     * empty close; this is a protocol error (handled once wslay returns). */
    c->ws_broken = true;
    return;
  }
  if (c->state == PZ_CONN_MIGRATING || c->input_paused) {
    if (arg->opcode != WSLAY_PING && arg->opcode != WSLAY_PONG)
      pz_conn_defer(c, arg->opcode, arg->msg, arg->msg_length);
    return;
  }
  pz_conn_ws_message(c, arg->opcode, arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_msg_recv_callback = msg_cb,
};

bool pz_conn_ws_ensure(pz_conn_t *c) {
  if (c->ws)
    return true;
  if (c->ws_broken ||
      wslay_event_context_server_init(&c->ws, &callbacks, c) != 0) {
    c->ws = NULL;
    return false;
  }
  wslay_event_config_set_max_recv_msg_length(c->ws, c->host->cfg->max_message);
  return true;
}

/* Hands wslay's queued frames (pongs, its close) to the outbound queue. */
static void ws_drain(pz_conn_t *c) {
  if (c->ws && c->state != PZ_CONN_CLOSED && wslay_event_want_write(c->ws))
    wslay_event_send(c->ws);
}

void pz_conn_ws_close(pz_conn_t *c) {
  ws_drain(c);
}

/* wslay found a framing error (an oversized or fragmented control frame, a
 * bad length, a 1-byte close). It would drop the connection or close
 * without a code: plaza sends 1002 itself, ends the session, and lets the
 * peer's FIN end the connection. */
static void protocol_error(pz_conn_t *c) {
  static const char reason[] = "WebSocket protocol error";
  uint8_t frame[2 + 2 + sizeof(reason) - 1];
  frame[0] = 0x80 | WSLAY_CONNECTION_CLOSE;
  frame[1] = (uint8_t)(sizeof(frame) - 2);
  frame[2] = PZ_CLOSE_PROTOCOL_ERROR >> 8;
  frame[3] = PZ_CLOSE_PROTOCOL_ERROR & 0xff;
  memcpy(frame + 4, reason, sizeof(reason) - 1);
  c->ws_broken = true;
  wslay_event_context_free(c->ws);
  c->ws = NULL;
  if (c->state == PZ_CONN_CLOSING) /* our close was already on its way */
    return;
  c->close_pending = false;
  c->close_code = PZ_CLOSE_PROTOCOL_ERROR;
  pz_metrics_close(c->host->metrics, c->close_code);
  pz_debug("closing %s with 1002 (%s)", c->peer, reason);
  pz_conn_release_session(c, c->close_code);
  pz_conn_push(c, NULL, 0, frame, sizeof(frame), PZ_OUT_RELIABLE, NULL);
  pz_conn_enter_closing(c);
}

void pz_conn_ws_input(pz_conn_t *c, const uint8_t *data, size_t len) {
  if (!pz_conn_ws_ensure(c)) {
    if (!c->ws_broken)
      pz_conn_hard_close(c);
    return;
  }
  c->rx = data;
  c->rx_len = len;
  int r = wslay_event_recv(c->ws);
  if (c->rx_len && (c->state == PZ_CONN_MIGRATING || c->input_paused)) {
    /* Read but not yet parsed: waits (and goes along to the next worker
     * when the connection moves). */
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
  if (r == WSLAY_ERR_NOMEM) {
    pz_conn_hard_close(c);
    return;
  }
  if (r != 0 || c->ws_broken) {
    protocol_error(c);
    return;
  }
  if (too_many_frames(c) && c->state == PZ_CONN_WS && !c->close_pending) {
    /* No more of its input is parsed (recv_cb); 1009 ends the session,
     * as for a message over --max-message. */
    pz_debug("%s: a message in more than %d frames", c->peer,
             PZ_WS_MESSAGE_FRAMES_MAX);
    pz_conn_close(c, PZ_CLOSE_TOO_BIG, "message in too many frames");
  }
  ws_drain(c);
  if (c->state == PZ_CONN_WS && !c->close_pending &&
      !wslay_event_want_read(c->ws)) {
    /* wslay stopped reading: it sent a close of its own (1009, 1007...). */
    c->close_code = wslay_event_get_status_code_sent(c->ws);
    pz_metrics_close(c->host->metrics, c->close_code);
    pz_conn_release_session(c, c->close_code);
    pz_conn_enter_closing(c);
  }
  pz_conn_schedule_flush(c);
}

void pz_conn_ws_release_idle(pz_conn_t *c) {
  if (c->ws && pz_ws_scan_at_boundary(&c->scan) &&
      !wslay_event_want_write(c->ws)) {
    wslay_event_context_free(c->ws);
    c->ws = NULL;
    c->host->released_parsers++;
  }
}
