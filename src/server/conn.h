/*
 * A client connection: the socket, its protocol phase (HTTP head, then
 * WebSocket), the outbound queue, and the session attached to it. It is
 * the outlet through which shards reach the client.
 *
 * Phases: HTTP -> WS (hello pending) -> WS (session) -> CLOSING -> gone.
 * A connection may travel to another worker (MIGRATING): it stops reading,
 * lets its in-flight write finish, gives its fd a duplicate, closes its
 * libuv handle and is posted to the new worker, which opens the duplicate
 * on its own loop. Input already read travels along and is handled there.
 *
 * Idle connections keep no WebSocket parser: after a few quiet seconds, when
 * the input stands between messages, wslay's context is freed and made again
 * on the next byte; that keeps an idle client near 1 KiB of user memory.
 *
 * Outbound: each message is first tried with uv_try_write (no allocation
 * in the common case); what the socket does not take is queued, holding a
 * reference to a shared payload or a copy. Queued bytes past
 * --max-outbound close the connection with 4004.
 */
#ifndef PZ_CONN_H
#define PZ_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "http.h"
#include "outlet.h"
#include "ratelimit.h"
#include "worker.h"
#include "ws.h"

enum pz_conn_state {
  PZ_CONN_HTTP,
  PZ_CONN_WS,
  PZ_CONN_MIGRATING,
  PZ_CONN_CLOSING,
  PZ_CONN_CLOSED,
};

typedef struct pz_outq_entry {
  struct pz_outq_entry *next;
  pz_payload_t *payload; /* the message bytes (shared or a copy) */
  uint32_t off;          /* bytes of header+payload already written */
  uint8_t hdr_len;
  uint8_t hdr[10];
} pz_outq_entry_t;

/* Something read while the connection was moving, handled on arrival: a
 * message (binary or text), the peer's close, or our own close request. */
typedef struct pz_deferred {
  struct pz_deferred *next;
  int opcode; /* WSLAY_*_FRAME, WSLAY_CONNECTION_CLOSE, or -code: close */
  size_t len;
  uint8_t data[];
} pz_deferred_t;

typedef struct pz_conn {
  pz_outlet_t outlet;
  pz_worker_t *w;
  struct pz_conn *prev, *next; /* in one of the worker's lists */
  struct pz_conn **list;       /* which one */
  uv_tcp_t tcp;
  int state;
  bool reading;
  bool eof;
  bool shut;            /* FIN sent: draining until the peer's */
  uint64_t deadline_ms; /* HELLO or close linger deadline */
  char peer[48];

  pz_http_req_t *http; /* HTTP phase only */
  void *gather;        /* a pending /rooms answer */

  wslay_event_context_ptr ws; /* NULL while idle (released) */
  pz_ws_scan_t scan;          /* where the input stands between frames */
  uint64_t last_rx_ms;
  const uint8_t *rx; /* input being fed to wslay */
  size_t rx_len;
  pz_deferred_t *deferred, *deferred_tail; /* messages read while moving */
  uint8_t *pending_rx;                     /* bytes read while moving */
  size_t pending_rx_len;

  pz_session_t *session;
  pz_window_t malformed;
  int close_code;

  /* Outbound queue: head may be in flight (writing). */
  pz_outq_entry_t *outq, *outq_tail;
  size_t outq_bytes;
  uint32_t in_flight;            /* entries handed to uv_write */
  struct pz_conn_write *writing; /* only while a uv_write is in flight */

  pz_msg_adopt_t *moving; /* what to do there while MIGRATING */
  int moving_to;          /* the worker it is going to */
  uv_os_sock_t moving_fd;
} pz_conn_t;

/* Worker thread. Takes a freshly accepted socket. */
void pz_conn_accept(pz_worker_t *w, uv_os_sock_t fd);
/* Worker thread. Opens a connection that arrived from another worker on
 * this worker's loop. Returns 0 or a libuv error: then the conn and its fd
 * are gone (its session, if any, is the caller's to end). */
int pz_conn_adopt(pz_worker_t *w, pz_conn_t *c, uv_os_sock_t fd);
/* Sends one message (payload bytes, framed here). */
void pz_conn_send(pz_conn_t *c, const uint8_t *data, size_t len, int kind,
                  pz_payload_t *shared);
/* Sends ERROR [9, code, message, op?]. */
void pz_conn_error(pz_conn_t *c, int code, const char *message, int op);
/* Starts the close handshake with a code; the socket closes when the peer
 * answers, or at the linger deadline. */
void pz_conn_close(pz_conn_t *c, int code, const char *reason);
/* Worker thread: the connection now carries session s (HELLO done). */
void pz_conn_attach(pz_conn_t *c, pz_session_t *s);
/* Moves the connection to worker `to`; msg says what to do there (takes
 * msg). The session, if any, must already be out of this worker's shard. */
void pz_conn_migrate(pz_conn_t *c, pz_msg_adopt_t *msg, int to);
/* Handles input that arrived before it moved (after adoption). */
void pz_conn_resume_input(pz_conn_t *c);
/* Worker housekeeping: enforces HELLO and linger deadlines, and releases
 * the WebSocket parser of connections idle for a while. */
void pz_conn_sweep(pz_worker_t *w, uint64_t now_ms);
/* Worker stop: closes every connection with 1001. */
void pz_conn_close_all(pz_worker_t *w, int code);
/* The HTTP side answers (endpoints.c). Takes ownership of body. */
void pz_conn_http_answer(pz_conn_t *c, int status, const char *type, char *body,
                         size_t len);

#endif
