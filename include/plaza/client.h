/*
 * plaza C client library: WebSocket + MessagePack clients on a caller's
 * libuv loop.
 *
 * Used by plaza-cli, by the bench (10k-50k clients on one thread) and by the
 * C integration tests. A client connects to ws://HOST:PORT/PATH?QUERY, does
 * the HTTP/1.1 upgrade itself, then frames with wslay. Received messages are
 * handed over as raw bytes (decode them with pz_decode_server() when you
 * want to); the send helpers encode the client ops of protocol v1.
 *
 * Threads: every call for a context and its clients happens on the thread
 * that runs the context's loop. Several contexts (one per loop) may live in
 * one process; there is no process-wide mutable state.
 *
 * Lifetime: pz_client_connect() returns a client the library owns. From then
 * on on_close is called exactly once, and the client is freed when on_close
 * returns: the pointer is valid until then. Callbacks never run inside a
 * pz_client_* call; they run from the loop.
 *
 * Memory: an open client costs about 9.1 KiB of heap (9,256 bytes measured
 * at 2,000 clients by tests/integration/c_memory.c; breakdown beside struct
 * pz_client in src/client/client_int.h), most of it wslay's two 4 KiB frame
 * buffers. Reads go through one 64 KiB buffer per context, so there is no
 * per-client read buffer; an output buffer exists only while the socket
 * pushes back.
 */
#ifndef PLAZA_CLIENT_H
#define PLAZA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "plaza/codec.h"

/* ---- errors -------------------------------------------------------------- */

/* Every function returning int returns 0 on success or one of these. */
#define PZ_CLIENT_ERRNO_MAP(X)                                                 \
  X(EAGAIN, -1, "need more input")                                             \
  X(ENOMEM, -2, "out of memory")                                               \
  X(EINVAL, -3, "invalid argument")                                            \
  X(EURL, -4, "malformed URL")                                                 \
  X(ENOTSUP, -5, "not supported")                                              \
  X(ESTATE, -6, "connection not open")                                         \
  X(ECONNECT, -7, "TCP connect failed")                                        \
  X(EHANDSHAKE, -8, "WebSocket upgrade failed")                                \
  X(EPROTO, -9, "WebSocket protocol error")                                    \
  X(EIO, -10, "socket error")                                                  \
  X(ECLOSED, -11, "connection lost without a close frame")                     \
  X(ETIMEDOUT, -12, "timed out")                                               \
  X(ECANCELED, -13, "aborted by the caller")                                   \
  X(EBUSY, -14, "clients still open")

enum pz_client_errno {
#define PZ_CLIENT_ERR_ENUM(name, val, msg) PZ_CLIENT_##name = (val),
  PZ_CLIENT_ERRNO_MAP(PZ_CLIENT_ERR_ENUM)
#undef PZ_CLIENT_ERR_ENUM
};

/* Name ("EHANDSHAKE") and message of an error code; static strings, "OK"
 * and "success" for 0, "unknown" for codes not in the table. */
const char *pz_client_err_name(int err);
const char *pz_client_strerror(int err);

/* ---- types --------------------------------------------------------------- */

/* WebSocket opcodes of data messages (RFC 6455 values). */
enum pz_client_opcode {
  PZ_CLIENT_TEXT = 1,
  PZ_CLIENT_BINARY = 2,
};

/* Close code reported when the connection ended without a close frame
 * (connect or upgrade failure, TCP reset, timeout, abort). */
#define PZ_CLIENT_CLOSE_ABNORMAL 1006
/* Close code reported when the peer's close frame carried no code. */
#define PZ_CLIENT_CLOSE_NO_STATUS 1005

typedef struct pz_client_ctx pz_client_ctx_t;
typedef struct pz_client pz_client_t;

/* Callbacks. The struct is borrowed for the client's whole life (share one
 * static const struct among all clients); any member may be NULL. */
typedef struct pz_client_cbs {
  /* The upgrade succeeded; sending is allowed from now on. */
  void (*on_open)(pz_client_t *c);
  /* One complete message (reassembled when fragmented). data is borrowed
   * until the callback returns. opcode is PZ_CLIENT_BINARY or _TEXT. */
  void (*on_message)(pz_client_t *c, int opcode, const char *data, size_t len);
  /* The connection is over. code: the peer's close code when it sent a
   * close frame (PZ_CLIENT_CLOSE_NO_STATUS if without code), the code we
   * sent when we failed the connection for a protocol error (1002, 1007,
   * 1009), else PZ_CLIENT_CLOSE_ABNORMAL. reason (not NUL-terminated,
   * borrowed until return): the peer's close reason, or a description of
   * the local failure (pz_client_error() tells which error). The client is
   * freed when this returns. */
  void (*on_close)(pz_client_t *c, int code, const char *reason,
                   size_t reason_len);
} pz_client_cbs_t;

typedef struct pz_client_opts {
  /* IPv4 literal to bind the socket to before connecting (e.g.
   * "127.0.0.2", so many clients get past one source address's ephemeral
   * ports), or NULL. Copied. */
  const char *bind_addr;
  /* Offered Sec-WebSocket-Protocol, or NULL to offer none. Copied.
   * pz_client_opts_init() sets PZ_WS_SUBPROTOCOL ("plaza.v1"). */
  const char *subprotocol;
  /* Largest message accepted; a bigger one fails the connection with 1009.
   * 0 means the default (16 MiB). */
  uint32_t max_message;
  /* TCP connect plus upgrade, in ms; 0 means the default (10000). */
  uint32_t connect_timeout_ms;
  /* Time to wait for the peer's close frame, then for it to close TCP,
   * after a close; 0 means the default (3000). */
  uint32_t close_timeout_ms;
} pz_client_opts_t;

/* Byte and message counters of one client. */
typedef struct pz_client_stats {
  uint64_t bytes_in;  /* bytes read from the socket, upgrade included */
  uint64_t bytes_out; /* bytes written to the socket, upgrade included */
  uint64_t msgs_in;   /* data messages delivered to on_message */
  uint64_t msgs_out;  /* data messages queued by the send functions */
} pz_client_stats_t;

/* ---- context: what the clients of one loop share ------------------------ */

/* Creates the context of the clients of `loop` (borrowed; it must outlive
 * the context). The context holds the read buffer, the output and encoder
 * scratch, the mask RNG and one timer for every client's timeouts.
 * Returns 0 and *out, or PZ_CLIENT_ENOMEM. */
int pz_client_ctx_create(uv_loop_t *loop, pz_client_ctx_t **out);

/* Starts closing the context: its timer handle is closed and the context
 * freed in the close callback, so run the loop afterwards. Every client
 * must have had its on_close first: returns PZ_CLIENT_EBUSY (and does
 * nothing) otherwise. */
int pz_client_ctx_close(pz_client_ctx_t *ctx);

/* Number of clients of the context not yet freed. */
size_t pz_client_ctx_count(const pz_client_ctx_t *ctx);

/* ---- connecting and closing ---------------------------------------------- */

/* Fills *opts with the defaults (offer plaza.v1, no bind address). */
void pz_client_opts_init(pz_client_opts_t *opts);

/* Starts connecting to `url`: "ws://HOST[:PORT][/PATH][?QUERY]" where HOST
 * is an IPv4 literal or "localhost" (127.0.0.1) and PORT defaults to 80.
 * url and opts (NULL for the defaults) are read during the call only; cbs
 * is borrowed for the client's life; data is the user's pointer
 * (pz_client_data()).
 * Returns 0 and *out: on_close will follow, on_open first if the upgrade
 * succeeds. Failures found before any I/O are returned and no callback
 * follows: PZ_CLIENT_EURL (bad URL), PZ_CLIENT_ENOTSUP (wss://),
 * PZ_CLIENT_EINVAL (bad option, e.g. bind_addr not an IPv4 literal, or a
 * closing context), PZ_CLIENT_ENOMEM. Later failures (bind, connect,
 * upgrade, timeout) arrive in on_close with code 1006. */
int pz_client_connect(pz_client_ctx_t *ctx, const char *url,
                      const pz_client_opts_t *opts, const pz_client_cbs_t *cbs,
                      void *data, pz_client_t **out);

/* Starts the close handshake with `code` (1000-4999) and `reason` (NULL or
 * a NUL-terminated string of at most 123 bytes, copied). Messages already
 * queued go out first. on_close follows once the peer has answered and
 * closed TCP, or after close_timeout_ms. Before the upgrade completes this
 * aborts the connection (on_close with PZ_CLIENT_ECANCELED). Returns 0
 * (also when already closing), PZ_CLIENT_EINVAL, or PZ_CLIENT_ESTATE when
 * the connection is already over (on_close pending). */
int pz_client_close(pz_client_t *c, int code, const char *reason);

/* Drops the TCP connection at once without a close frame (a client that
 * vanishes). on_close follows with 1006 and PZ_CLIENT_ECANCELED. No-op when
 * the connection is already over. */
void pz_client_abort(pz_client_t *c);

/* ---- sending ------------------------------------------------------------- */

/* The send functions encode one client message of protocol v1 (see
 * plaza/codec.h; strings are copied, ptr NULL means absent) and queue it.
 * It is written at once when the socket takes it, else buffered (see
 * pz_client_buffered()); a send from inside this client's on_message is
 * written when the callback's batch of input is done.
 * Returns 0, PZ_CLIENT_ESTATE (not open yet, or closing), PZ_CLIENT_ENOMEM.
 * A write failure later shows in on_close. */
int pz_client_send_hello(pz_client_t *c, pz_str_t token, pz_str_t name,
                         pz_str_t resume, bool has_last_chat_seq,
                         uint64_t last_chat_seq);
int pz_client_send_join(pz_client_t *c, pz_str_t room);
int pz_client_send_leave(pz_client_t *c);
int pz_client_send_move(pz_client_t *c, uint64_t seq, pz_pos_t pos);
int pz_client_send_chat(pz_client_t *c, pz_str_t text);
int pz_client_send_whisper(pz_client_t *c, uint64_t to, pz_str_t text);
int pz_client_send_ping(pz_client_t *c, double t);

/* Sends len bytes (copied) as one message with `opcode`: PZ_CLIENT_BINARY,
 * PZ_CLIENT_TEXT, or any other RFC 6455 opcode (tests: 9 ping, 10 pong; a
 * control payload must be at most 125 bytes). No check of the contents, so
 * tests can send malformed, text or oversized messages.
 * Returns as the send functions above, or PZ_CLIENT_EINVAL. */
int pz_client_send_raw(pz_client_t *c, const void *data, size_t len,
                       int opcode);

/* Sends len bytes (copied) as one data message split into `parts` frames
 * (the first frame carries `opcode`, the others are continuations; the
 * first parts get len / parts bytes, the last the rest). Every frame
 * carries at least one byte, so parts is capped at len (an empty message
 * goes as one frame). A part larger than 4096 bytes (wslay's output
 * buffer) is itself cut into frames of 4096. opcode: PZ_CLIENT_BINARY or
 * PZ_CLIENT_TEXT. Returns as pz_client_send_raw(). */
int pz_client_send_fragmented(pz_client_t *c, const void *data, size_t len,
                              int opcode, unsigned parts);

/* Bytes accepted by the send functions that the socket has not taken yet. */
size_t pz_client_buffered(const pz_client_t *c);

/* ---- accessors ----------------------------------------------------------- */

void *pz_client_data(const pz_client_t *c);
void pz_client_set_data(pz_client_t *c, void *data);
pz_client_ctx_t *pz_client_ctx(const pz_client_t *c);
/* Counters; the pointer is valid as long as the client. */
const pz_client_stats_t *pz_client_stats(const pz_client_t *c);
/* True between on_open and the start of the close. */
bool pz_client_is_open(const pz_client_t *c);
/* Why the connection ended or is ending: 0 for a close handshake (either
 * side), else a PZ_CLIENT_E* code. Meaningful in on_close. */
int pz_client_error(const pz_client_t *c);
/* HTTP status of the upgrade response (101 after success; 0 before any
 * response), useful when the upgrade was refused. */
int pz_client_http_status(const pz_client_t *c);
/* True when the server selected the offered subprotocol. */
bool pz_client_protocol_selected(const pz_client_t *c);

#endif
