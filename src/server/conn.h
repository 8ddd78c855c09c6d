/*
 * Client connections: a byte stream, its protocol phase (an HTTP head,
 * then WebSocket), its outbound queue, and the session attached to it (the
 * connection is that session's outlet). What a connection means to the
 * server (a request to answer, a message to dispatch, a session whose
 * socket is gone) reaches the layer above through the up-calls of its
 * host; this layer never names the dispatcher or the sessions.
 *
 * Phases: HTTP -> WS (HELLO pending) -> WS (session) -> CLOSING -> gone.
 * A connection may travel to another worker (pz_conn_migrate): its stream
 * lets go of the socket, and the connection (parser, unsent output, input
 * already read) is handed to the other worker, which opens the socket on
 * its own loop.
 *
 * Writes are corked: frames produced for a connection during one loop turn
 * wait in its queue and leave together, in one writev, from the host's
 * flush step just before the loop polls again (redis' beforeSleep): what
 * the I/O callbacks of a turn produced goes out with what the next turn's
 * timers (the tick) add, and no later than that. Closes asked for from
 * inside any callback are carried out there too.
 *
 * Everything here runs on the thread of the host's loop.
 */
#ifndef PZ_CONN_H
#define PZ_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "outlet.h"
#include "stream.h" /* pz_readbuf_t */

typedef struct pz_conn pz_conn_t;
struct pz_session;

/* Up-calls to the server; each borrows what it is given for the call. */
typedef struct pz_conn_events {
  /* A complete HTTP request head that is not the WebSocket upgrade: answer
   * it with pz_conn_http_answer (now or later). */
  void (*on_request)(pz_conn_t *c, const pz_http_req_t *req);
  /* The connection waiting for an answer is gone (a later answer would
   * find nothing). */
  void (*on_request_gone)(pz_conn_t *c);
  /* One complete binary WebSocket message. */
  void (*on_message)(pz_conn_t *c, const uint8_t *data, size_t len);
  /* Session s no longer has this connection: `code` is the close code
   * (ours, the peer's, or 1006 for a dropped socket). The callee decides
   * whether the session ends or waits for a resume. */
  void (*on_gone)(pz_conn_t *c, struct pz_session *s, int code);
  /* A WebSocket upgrade about to be accepted (the client's address is
   * known by then): true to go on; false after refusing it with
   * pz_conn_http_answer. NULL: every upgrade goes on. */
  bool (*on_upgrade)(pz_conn_t *c);
} pz_conn_events_t;

/* The connections of one loop (a worker's): lists by deadline, the flush
 * step, and the scratch read buffer. Embed it; init on the loop's thread. */
typedef struct pz_conn_host {
  uv_loop_t *loop;
  const pz_config_t *cfg;
  pz_metrics_t *metrics;
  const pz_conn_events_t *events;
  void *owner; /* the worker, for the up-calls */
  /* TLS for new connections, set by the owner after init; NULL: plain */
  struct pz_tls_ctx *tls;
  uv_prepare_t before_poll;
  /* Connections by state; each list is ordered by its deadline because
   * every member got the same timeout when it was appended. */
  pz_conn_t *waiting; /* HTTP head or HELLO not yet received */
  pz_conn_t *active;  /* by last input, oldest first */
  pz_conn_t *idle;    /* quiet ones whose parser was released */
  pz_conn_t *pinged;  /* silent past --ping-interval-ms: pinged, by silence */
  pz_conn_t *closing;
  pz_conn_t *flush; /* output or a close to carry out this turn */
  /* An input moves its connection to the active list's tail only if it
   * was put there this long ago: a client moving 20 times a second is
   * moved a few times a second (each move touches two other
   * connections), and the lists stay ordered to within this, so a
   * silence is noticed at most this late. */
  uint32_t relist_ms;
  uint32_t gone_quiet; /* connections gone quiet since the last trim */
  uint64_t last_trim_ms;
  uint8_t readbuf_bytes[64 * 1024];
  pz_readbuf_t readbuf; /* readbuf_bytes, as the streams see it */
} pz_conn_host_t;

void pz_conn_host_init(pz_conn_host_t *h, uv_loop_t *loop,
                       const pz_config_t *cfg, pz_metrics_t *metrics,
                       const pz_conn_events_t *events, void *owner);
/* Closes the host's handles (its loop then ends when its connections have). */
void pz_conn_host_close(pz_conn_host_t *h);
static inline bool pz_conn_host_empty(const pz_conn_host_t *h) {
  /* A connection whose close waits for the flush step is on no list but
   * that one. */
  return !h->waiting && !h->active && !h->idle && !h->pinged && !h->closing &&
         !h->flush;
}
/* Housekeeping: HELLO and linger deadlines, idle parser release, and dead
 * peers: a ping after --ping-interval-ms of silence, close 1001 after
 * --idle-timeout-ms (the session then waits for a resume, as for a drop). */
void pz_conn_sweep(pz_conn_host_t *h, uint64_t now_ms);
/* Asks every connection to close with `code` (shutdown). */
void pz_conn_close_all(pz_conn_host_t *h, int code);

/* Takes a freshly accepted socket (owns fd from here on). */
void pz_conn_accept(pz_conn_host_t *h, uv_os_sock_t fd);

/* True when closing with `code` ends the session at once (a kick) rather
 * than leaving it resumable. */
bool pz_close_ends_session(int code);

/* The worker this connection is on, its outlet, its session, its peer
 * ("addr:port" for logs). The peer, and the client's address (pz_conn_ip,
 * pz_conn_addr: no port), are the socket's, or whom a trusted proxy named
 * once its PROXY header or X-Forwarded-For has been read (--trusted-
 * proxies): what logs, rate limits and the admin API know the client by.
 * pz_conn_peer's text lives in a buffer of the calling thread, valid until
 * its next call there. */
void *pz_conn_owner(const pz_conn_t *c);
pz_outlet_t *pz_conn_outlet(pz_conn_t *c);
pz_conn_t *pz_conn_from_outlet(pz_outlet_t *o);
struct pz_session *pz_conn_session(const pz_conn_t *c);
const char *pz_conn_peer(const pz_conn_t *c);
const pz_ip_t *pz_conn_ip(const pz_conn_t *c);
/* The client's address as text into out (PZ_ADDR_MAX bytes); returns it. */
const char *pz_conn_addr(const pz_conn_t *c, char *out, size_t size);
/* True once a close was asked for: later input is not acted upon. */
bool pz_conn_closing(const pz_conn_t *c);
/* The connection now carries session s (HELLO done), or none (NULL). */
void pz_conn_attach(pz_conn_t *c, struct pz_session *s);

/* Queues one server message (payload bytes; framed here). `shared` is
 * NULL (bytes borrowed: copied) or the refcounted payload holding them.
 * Returns 0, or PZ_OUTLET_LOST when this partial STATE replaced an unsent
 * STATE (outlet.h): the client is owed a full one. */
int pz_conn_send(pz_conn_t *c, const uint8_t *data, size_t len, int kind,
                 pz_payload_t *shared);
/* Writes what c's queue holds now rather than at the flush step. Returns
 * true when all of it is on the wire (for an answer that must leave before
 * what follows it: POST /admin/drain's, before the process stops). */
bool pz_conn_flush(pz_conn_t *c);
/* Asks for the close handshake with `code`; carried out at the flush
 * step. Kicks (1002, 1003, 1007, 1009, 4002, 4003) give up the session at
 * once, so its token cannot take it over meanwhile. */
void pz_conn_close(pz_conn_t *c, int code, const char *reason);

/* The request being answered (HTTP phase only; NULL otherwise). */
const pz_http_req_t *pz_conn_http_request(const pz_conn_t *c);

/* What the answering module keeps for a pending request (NULL at first).
 * It starts with the pz_conn_t * it answers: on_request_gone clears that
 * pointer when the connection goes first. */
void pz_conn_set_request_data(pz_conn_t *c, void *data);
void *pz_conn_request_data(const pz_conn_t *c);
/* A WebSocket connection waiting on something done for it elsewhere (a
 * clustered resume looking up Redis) is held like a pending request:
 * data as above, on_request_gone if it goes meanwhile. NULL ends it. */
void pz_conn_hold(pz_conn_t *c, void *data);

/* Answers the HTTP request and closes: status line, Content-Type, extra
 * header lines (NULL, or "Name: value\r\n"...), and body (borrowed; not
 * sent to HEAD nor with a 304, though Content-Length gives its size). */
void pz_conn_http_answer(pz_conn_t *c, int status, const char *type,
                         const char *extra_headers, const void *body,
                         size_t len);

/* Moving between workers. migrate: the connection leaves this host (its
 * session must already have left this worker's shard); once its socket is
 * released and its queue holds nothing shared, `moved` runs here with
 * `arg`, and must hand c to the other worker, which calls adopt. adopt:
 * 0, or a PZ_E* code when the socket cannot be opened there (then c is
 * freed and its session, if any, is the caller's to end). resume_input:
 * handles what was read before the move, once the caller has set c up. */
typedef void (*pz_conn_moved_cb)(pz_conn_t *c, void *arg);
void pz_conn_migrate(pz_conn_t *c, pz_conn_moved_cb moved, void *arg);
int pz_conn_adopt(pz_conn_host_t *h, pz_conn_t *c);
void pz_conn_resume_input(pz_conn_t *c);
/* Holds a WebSocket connection's input while something it asked for is
 * decided elsewhere (a JOIN asking another worker for a place): messages
 * already read wait, in order, and the socket is not read, until
 * pz_conn_resume_input (or a move, or a close). Output goes on. */
void pz_conn_pause_input(pz_conn_t *c);
/* A connection in transit that no worker will adopt (shutdown): closes its
 * socket and frees it; its session, if any, is the caller's. */
void pz_conn_abandon(pz_conn_t *c);

#endif
