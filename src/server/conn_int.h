/*
 * The connection's insides, shared by its files only: conn.c (lifetime,
 * output, closing, the flush step), conn_ws.c (WebSocket), conn_http.c (the
 * HTTP phase) and conn_move.c (moving between workers).
 */
#ifndef PZ_CONN_INT_H
#define PZ_CONN_INT_H

#include "conn.h"
#include "outq.h"
#include "proxy.h"
#include "stream.h"
#include "ws.h"

#define PZ_LINGER_MS 3000 /* how long a closing socket waits for the peer */

enum pz_conn_state {
  PZ_CONN_PROXY, /* waiting for a trusted proxy's PROXY header */
  PZ_CONN_HTTP,
  PZ_CONN_WS,
  PZ_CONN_MIGRATING,
  PZ_CONN_CLOSING,
  PZ_CONN_CLOSED,
};

/* The host's lists, by number in the connection (a pointer to the list
 * would cost 8 bytes of every idle connection). */
enum pz_conn_list {
  PZ_LIST_NONE,
  PZ_LIST_WAITING,
  PZ_LIST_ACTIVE,
  PZ_LIST_IDLE,
  PZ_LIST_PINGED,
  PZ_LIST_CLOSING,
};

/* WebSocket opcodes (RFC 6455 5.2). */
enum {
  PZ_WS_TEXT = 1,
  PZ_WS_BINARY = 2,
  PZ_WS_CLOSE = 8,
  PZ_WS_PING = 9,
  PZ_WS_PONG = 10
};

/* Something that waits while the connection moves, handled on arrival: our
 * own close request. */
typedef struct pz_deferred {
  struct pz_deferred *next;
  int opcode; /* a PZ_WS_* opcode, or -code: close */
  size_t len;
  uint8_t data[];
} pz_deferred_t;

/* What a connection holds only while it moves between workers or its
 * input waits (pz_conn_pause_input): the socket in transit, whom to tell
 * once it has left, and what was read meanwhile. Made on first need and
 * freed once empty: most connections never need it, and every idle one
 * would pay for it inline. */
typedef struct pz_conn_held {
  pz_deferred_t *deferred, *deferred_tail; /* messages read meanwhile */
  uint8_t *pending_rx;                     /* bytes read, not parsed */
  size_t pending_rx_len;
  pz_conn_moved_cb moved;
  void *moved_arg;
  uv_os_sock_t fd; /* while moving */
} pz_conn_held_t;

/* Ordered for size: pointers and 8-byte fields first, then the small ones
 * packed at the end (an idle server holds one of these per client:
 * docs/architecture.md, "Memory per connection"). */
struct pz_conn {
  pz_outlet_t outlet; /* first: the outlet is the connection */
  pz_conn_host_t *host;
  struct pz_conn *prev, *next;   /* in one of the host's lists */
  struct pz_conn *fprev, *fnext; /* in the host's flush list */
  pz_stream_t *stream; /* what the connection reads and writes: tcp or tls */
  pz_tcp_stream_t tcp;
  /* TLS over tcp when the server has it; NULL for plain connections */
  struct pz_tls_stream *tls;
  /* The HELLO or close linger deadline (waiting, closing lists); in the
   * active list, when the connection was put at its tail (relist_ms). */
  uint64_t deadline_ms;
  uint64_t last_rx_ms;

  pz_proxy_parser_t *proxy; /* PROXY phase only */
  pz_http_req_t *http;      /* HTTP phase only */
  void *request_data;       /* the answering module's, while one pends */

  pz_ws_rx_t rx; /* what the client sends, parsed from the read buffer */
  struct pz_session *session;
  char *close_reason;   /* while a close waits for the flush step (malloc'd:
                         * closes are rare, connections many) */
  pz_conn_held_t *held; /* NULL unless moving or holding input */
  pz_outq_t outq;

  /* The client: the socket's peer, or whom a trusted proxy named. Its
   * "addr:port" for logs is made from these when asked (pz_conn_peer). */
  pz_ip_t ip;
  uint16_t port;
  uint8_t state;        /* enum pz_conn_state */
  uint8_t list;         /* which of the host's lists it is in: PZ_LIST_* */
  bool flushing;        /* in the host's flush list */
  bool eof;             /* the peer's side is closed */
  bool shut;            /* our FIN sent: draining until the peer's */
  bool blocked;         /* the stream takes no more until on_writable */
  bool close_pending;   /* pz_conn_close asked; the flush step does it */
  bool input_paused;    /* pz_conn_pause_input: read messages wait */
  bool request_pending; /* on_request called, no answer yet */
  bool close_sent;      /* our close frame (or the echo of the peer's) queued */
  uint16_t close_code;
};

/* conn.c */
/* Moves c to the tail of one of its host's lists (PZ_LIST_*; NONE: off
 * every list). */
void pz_conn_list_move(pz_conn_t *c, int list);
void pz_conn_schedule_flush(pz_conn_t *c);
/* Queues a frame; returns pz_outq_push's result. */
int pz_conn_push(pz_conn_t *c, const uint8_t *hdr, size_t hlen,
                 const void *data, size_t len, int kind, pz_payload_t *shared);
void pz_conn_enter_closing(pz_conn_t *c);
void pz_conn_release_session(pz_conn_t *c, int code);
void pz_conn_hard_close(pz_conn_t *c);
void pz_conn_check_done(pz_conn_t *c);
void pz_conn_on_read(pz_stream_t *s, ssize_t n, uint8_t *data);
void pz_conn_on_writable(pz_stream_t *s);
int pz_conn_open_stream(pz_conn_t *c, uv_os_sock_t fd);
/* A TLS stream for a new client of h (its limits set); NULL: no memory. */
struct pz_tls_stream *pz_conn_tls_new(pz_conn_host_t *h);
void pz_conn_free(pz_conn_t *c);

/* conn_ws.c */
void pz_conn_ws_input(pz_conn_t *c, uint8_t *data, size_t len);
void pz_conn_ws_message(pz_conn_t *c, int opcode, const uint8_t *data,
                        size_t len);
/* Queues a close frame (code 0: an empty one), once. */
void pz_conn_ws_push_close(pz_conn_t *c, int code, const char *reason);
/* True until the peer's close frame is read (or its input is refused). */
bool pz_conn_ws_reading(const pz_conn_t *c);
void pz_conn_ws_release_idle(pz_conn_t *c);
void pz_conn_defer(pz_conn_t *c, int opcode, const uint8_t *data, size_t len);

/* conn_move.c */
/* c's held state, made if it has none (never NULL: aborts on no memory). */
pz_conn_held_t *pz_conn_held_get(pz_conn_t *c);
/* Frees c's held state once nothing waits in it and c is not moving. */
void pz_conn_held_release(pz_conn_t *c);
void pz_conn_held_free(pz_conn_held_t *held);

/* conn_http.c */
void pz_conn_http_input(pz_conn_t *c, uint8_t *data, size_t len);

/* conn_proxy.c */
bool pz_conn_proxy_expected(const pz_conn_t *c);
void pz_conn_proxy_input(pz_conn_t *c, uint8_t *data, size_t len);
/* The client is ip (port 0: unknown): what logs, limits and the admin API
 * see from now on. */
void pz_conn_set_client(pz_conn_t *c, const pz_ip_t *ip, uint16_t port);

#endif
