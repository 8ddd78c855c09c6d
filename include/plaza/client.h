/*
 * plaza C client library: WebSocket + MessagePack clients on a caller's
 * libuv loop.
 *
 * Used by plaza-cli, by the bench (10k-50k clients on one thread) and by the
 * C integration tests. A client connects to ws://HOST:PORT/PATH?QUERY or
 * wss:// (TLS through OpenSSL, the server's certificate verified against
 * the system's CA store or a CA file), does the HTTP/1.1 upgrade itself,
 * then frames with wslay.
 *
 * Two levels:
 *  - pz_client_*: one WebSocket connection. Received messages are handed
 *    over as raw bytes (decode them with pz_decode_server() when you want
 *    to); the send helpers encode the client ops of protocol v1 (and
 *    VIEW of 1.1). When the socket goes, the client is over.
 *  - pz_client_session_*: a plaza session kept across connections, as
 * plaza-client (TypeScript) does: it says HELLO, decodes what arrives, and when
 * the socket drops or a draining server closes with 1001 it reconnects with
 *    jittered backoff and resumes (same id, room and position; chat missed
 *    meanwhile delivered once). plaza-cli is built on it.
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
 * pz_client in clients/c/client_int.h), most of it wslay's two 4 KiB frame
 * buffers. Reads go through one 64 KiB buffer per context, so there is no
 * per-client read buffer; an output buffer exists only while the socket
 * pushes back. A wss:// client costs about 46 KiB (47,303 bytes at 2,000
 * clients), most of it OpenSSL's connection state.
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
  X(EBUSY, -14, "clients still open")                                          \
  X(ETLS, -15, "TLS failed")                                                   \
  X(ECERT, -16, "server certificate not trusted")                              \
  X(ECAFILE, -17, "cannot load the CA file")                                   \
  X(ERESOLVE, -18, "host name not resolved")                                   \
  X(EFULL, -19, "queue full while reconnecting")

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
  /* wss:// only. A PEM file of the CA certificates to trust instead of the
   * system's store (a private CA, a self-signed server's own certificate);
   * read once per context and file. NULL: the system's store. */
  const char *ca_file;
  /* wss:// only. Do not verify the server's certificate nor its name: for
   * development against a self-signed certificate. The link is encrypted
   * but anyone may be at the other end; never in production. */
  bool insecure;
} pz_client_opts_t;

/* Byte and message counters of one client. */
typedef struct pz_client_stats {
  /* Bytes read from and written to the socket, upgrade included; with TLS
   * these are the encrypted bytes. */
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t msgs_in;  /* data messages delivered to on_message */
  uint64_t msgs_out; /* data messages queued by the send functions */
} pz_client_stats_t;

/* ---- context: what the clients of one loop share ------------------------ */

/* Creates the context of the clients of `loop` (borrowed; it must outlive
 * the context). The context holds the read buffer, the output and encoder
 * scratch, the mask RNG and one timer for every client's timeouts.
 * Returns 0 and *out, or PZ_CLIENT_ENOMEM. */
int pz_client_ctx_create(uv_loop_t *loop, pz_client_ctx_t **out);

/* Starts closing the context: its timer handle is closed and the context
 * freed in the close callback, so run the loop afterwards. Every client
 * must have had its on_close, and every session its CLOSED, first: returns
 * PZ_CLIENT_EBUSY (and does nothing) otherwise. */
int pz_client_ctx_close(pz_client_ctx_t *ctx);

/* Number of clients of the context not yet freed. */
size_t pz_client_ctx_count(const pz_client_ctx_t *ctx);

/* The loop the context was created for. */
uv_loop_t *pz_client_ctx_loop(const pz_client_ctx_t *ctx);

/* ---- connecting and closing ---------------------------------------------- */

/* Fills *opts with the defaults (offer plaza.v1, no bind address). */
void pz_client_opts_init(pz_client_opts_t *opts);

/* Starts connecting to `url`: "ws[s]://HOST[:PORT][/PATH][?QUERY]" where
 * HOST is an IPv4 literal, an IPv6 literal in brackets, "localhost"
 * (127.0.0.1) or a DNS name (resolved by libuv's resolver, each address
 * tried in turn), and PORT defaults to 80 (ws) or 443 (wss). wss:// sends
 * the host name as SNI and verifies the server's certificate against it
 * (or against the IP literal) unless opts->insecure.
 * url and opts (NULL for the defaults) are read during the call only; cbs
 * is borrowed for the client's life; data is the user's pointer
 * (pz_client_data()).
 * Returns 0 and *out: on_close will follow, on_open first if the upgrade
 * succeeds. Failures found before any I/O are returned and no callback
 * follows: PZ_CLIENT_EURL (bad URL), PZ_CLIENT_ECAFILE (opts->ca_file
 * unreadable or without a certificate), PZ_CLIENT_EINVAL (bad option,
 * e.g. bind_addr not an IPv4 literal or an IPv6 URL with it, or a closing
 * context), PZ_CLIENT_ENOMEM. Later failures arrive in on_close with code
 * 1006 and pz_client_error(): PZ_CLIENT_ERESOLVE, ECONNECT, ETLS, ECERT
 * (the certificate is not trusted or does not name the host; the reason
 * says which), EHANDSHAKE, ETIMEDOUT (connect_timeout_ms covers resolving,
 * TCP, TLS and the upgrade). */
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
/* Protocol 1.1 (see plaza/codec.h for the arguments; app values are
 * MessagePack bytes, copied). HELLO with an initial member state (ptr
 * NULL: none), SET, SIGNAL, ROOM_SET. */
int pz_client_send_hello_state(pz_client_t *c, pz_str_t token, pz_str_t name,
                               pz_str_t resume, bool has_last_chat_seq,
                               uint64_t last_chat_seq, pz_raw_t state);
int pz_client_send_set(pz_client_t *c, pz_raw_t patch);
int pz_client_send_signal(pz_client_t *c, bool to_room, uint64_t to,
                          pz_str_t kind, pz_raw_t data);
int pz_client_send_room_set(pz_client_t *c, pz_str_t key, pz_raw_t value,
                            bool has_if_version, uint64_t if_version);
/* VIEW (protocol 1.1, WELCOME's features "view" and "compact"): receive
 * only the members within `radius` (0: the whole room), as STATE_C when
 * `compact`. PZ_CLIENT_EINVAL for a negative or non-finite radius. A
 * STATE_C must be read with pz_compact_decode() and a table reset at each
 * ROOM (plaza/codec.h); a session does that itself. */
int pz_client_send_view(pz_client_t *c, double radius, bool compact);

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

/* Bytes accepted by the send functions that the socket has not taken yet
 * (with TLS: their encrypted size). */
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

/* ---- sessions that survive dropped sockets -------------------------------
 *
 * A pz_client_session_t is one plaza session kept across connections, the
 * way plaza-client (TypeScript) keeps it: it says HELLO itself (with the
 * session token and last chat seq after the first time), decodes what the
 * server says, and remembers the room asked for. When a connection is lost
 * (a dropped socket, a timeout, a draining server's 1001) it reconnects
 * after a capped exponential backoff with jitter (at once the first time
 * after a 1001) and resumes: same id, room and position, and the chat the
 * room saw meanwhile delivered once. Never stuck: a refused resume (the
 * grace period passed, the server restarted: ERROR 9) gives a fresh
 * session, which joins the room again and says so (`fresh`); a connection
 * that brings no WELCOME, or no ROOM after a resume or rejoin, in time is
 * dropped and tried again. 4001 (unauthorized) and 4003 (kicked) end the
 * session, as does a HELLO the server refuses on the first connection.
 *
 * While away, CHAT, WHISPER, SET, SIGNAL and ROOM_SET are queued
 * (opts.queue_max of them) and go out once the room is back; MOVE keeps
 * only the latest position; PING is refused. The same rules hold from
 * start until the first WELCOME.
 *
 * Member state (protocol 1.1) is the session's too: the state set (opts
 * state, then every pz_client_session_set_state()) is kept and carried
 * by every HELLO, so a fresh session after a refused resume starts with
 * it, and a resumed one whose ROOM shows another state (a SET lost with
 * the socket) is sent the difference. Resuming with a token whose rooms
 * claim no longer allows the session's room (ERROR 8 with op HELLO, and
 * no ROOM) leaves the session in no room, the room no longer asked for.
 *
 * Lifetime: as a client's. pz_client_session_start() returns a session the
 * library owns; on_status reports PZ_CLIENT_SESSION_CLOSED exactly once, and
 * the session is freed when that callback returns. Callbacks never run
 * inside a pz_client_session_* call.
 */

typedef struct pz_client_session pz_client_session_t;

enum pz_client_session_status {
  PZ_CLIENT_SESSION_CONNECTING = 1, /* from start until the first WELCOME */
  PZ_CLIENT_SESSION_OPEN,           /* WELCOME received */
  PZ_CLIENT_SESSION_RECONNECTING,   /* lost; the next attempt is scheduled */
  PZ_CLIENT_SESSION_CLOSED,         /* over for good */
};

/* What on_status reports; strings are borrowed until it returns. */
typedef struct pz_client_session_event {
  int status; /* enum pz_client_session_status */
  /* OPEN: the server resumed the session (same id, room and position). */
  bool resumed;
  /* OPEN after a reconnect whose resume was refused: a new session with a
   * new id; the room asked for is joined again. */
  bool fresh;
  /* RECONNECTING: the attempt about to be made (1 after a loss, counting
   * up while attempts fail) and the delay before it. */
  unsigned attempt;
  uint32_t delay_ms;
  /* RECONNECTING and CLOSED: the connection that ended. code and reason
   * as in pz_client_cbs_t.on_close, err as pz_client_error() (0 after a
   * close handshake), http_status of its upgrade (0 before any answer),
   * opened: it had been upgraded (else the attempt failed to connect). */
  int code;
  pz_str_t reason;
  int err;
  int http_status;
  bool opened;
  /* CLOSED: the server refused the first HELLO (the ERROR was passed to
   * on_message: a bad name, a bad token). */
  bool refused;
} pz_client_session_event_t;

/* Callbacks; the struct is borrowed for the session's life. */
typedef struct pz_client_session_cbs {
  /* A message from the server, decoded (borrowed until return), as on the
   * wire but for what resuming adds: a CHAT whose seq was delivered before
   * (replayed by a resume) is not delivered again, and the ROOM that
   * follows a resume carries in `history` only the chat not delivered
   * before. */
  void (*on_message)(pz_client_session_t *s, const pz_smsg_t *m);
  /* The status changed; after PZ_CLIENT_SESSION_CLOSED the session is
   * freed (its context may be closed from this callback). */
  void (*on_status)(pz_client_session_t *s,
                    const pz_client_session_event_t *ev);
} pz_client_session_cbs_t;

typedef struct pz_client_session_opts {
  /* Options of every connection (pz_client_opts_init: TLS, bind address,
   * timeouts; connect_timeout_ms also bounds the wait for WELCOME and for
   * the room after a reconnect). Strings copied. */
  pz_client_opts_t conn;
  /* HELLO's token (a JWT; NULL: none) and name (NULL: the server's
   * guest-<id>). Copied. */
  const char *token;
  const char *name;
  /* Reconnect and resume when a connection is lost (default true). false:
   * the session ends with its first connection. */
  bool reconnect;
  /* Delay before attempt n (0-based): min(max, initial * factor^n), of
   * which a random fraction up to `jitter` (0..1) is taken off, so clients
   * dropped together do not come back together. Defaults 250 ms, 5000 ms,
   * 2, 0.5 (plaza-client's). */
  uint32_t backoff_initial_ms;
  uint32_t backoff_max_ms;
  double backoff_factor;
  double backoff_jitter;
  /* Messages kept while away; beyond, PZ_CLIENT_EFULL. Default 64. */
  uint32_t queue_max;
  /* The member's initial state (protocol 1.1): a MessagePack map (ptr
   * NULL: none), copied, checked as pz_client_session_set_state() checks
   * a patch (start fails with PZ_CLIENT_EINVAL otherwise). */
  pz_raw_t state;
  /* The largest state kept, encoded: the server's --member-state-max.
   * 0: 1024, plaza's default. */
  uint32_t state_max;
} pz_client_session_opts_t;

/* Fills *opts with the defaults above. */
void pz_client_session_opts_init(pz_client_session_opts_t *opts);

/* Starts the session's first connection to `url` (as pz_client_connect).
 * url and opts (NULL: defaults) are copied; cbs is borrowed for the
 * session's life; data is the user's pointer. Returns 0 and *out, or what
 * pz_client_connect() refuses before any I/O (PZ_CLIENT_EURL, ECAFILE,
 * EINVAL, ENOMEM), and then no callback follows. */
int pz_client_session_start(pz_client_ctx_t *ctx, const char *url,
                            const pz_client_session_opts_t *opts,
                            const pz_client_session_cbs_t *cbs, void *data,
                            pz_client_session_t **out);

/* The room to be in (copied), now and after every reconnect: JOIN goes out
 * now when the session is open, else once it is. Its answer is a ROOM (or
 * an ERROR with op JOIN: the session then stays where it was) through
 * on_message. Returns 0, PZ_CLIENT_EINVAL (empty or longer than
 * PZ_ROOM_NAME_MAX), PZ_CLIENT_ESTATE (closing), PZ_CLIENT_ENOMEM. */
int pz_client_session_join(pz_client_session_t *s, pz_str_t room);
/* No room: LEAVE now, or the room is left once back. 0 or ESTATE. */
int pz_client_session_leave(pz_client_session_t *s);
/* MOVE with the next seq (in *seq when not NULL); while away only the
 * latest position is kept. 0, ESTATE or ENOMEM. */
int pz_client_session_move(pz_client_session_t *s, pz_pos_t pos, uint64_t *seq);
/* CHAT and WHISPER (text copied); queued while away. 0, EFULL, EINVAL
 * (more than PZ_CHAT_TEXT_MAX bytes), ESTATE or ENOMEM. */
int pz_client_session_chat(pz_client_session_t *s, pz_str_t text);
int pz_client_session_whisper(pz_client_session_t *s, uint64_t to,
                              pz_str_t text);
/* PING now; ESTATE while away. */
int pz_client_session_ping(pz_client_session_t *s, double t);
/* VIEW: the radius (0: the whole room) and compact, sent now when open and
 * again after every WELCOME (a fresh session has none; a resume, on any
 * node, kept it, and the same VIEW again changes nothing). STATE_C then
 * reaches on_message decoded: op PZ_S_STATE_C with
 * u.state.entries as a STATE's (positions within 1/64 unit, yaw 1/256);
 * AWAY (op PZ_S_AWAY) names the members that left the view. 0, EINVAL
 * (radius negative or not finite) or ESTATE. */
int pz_client_session_view(pz_client_session_t *s, double radius, bool compact);

/* Protocol 1.1; each is sent now when the session is in step, else queued
 * as CHAT is (EFULL beyond queue_max); ESTATE when closing, ENOMEM. What
 * the server says comes through on_message: MEMBER, SIGNAL, ROOM_STATE,
 * ERROR (12 conflict: the key and its current version in u.error).
 *
 * Changes the member's state by `patch` (a MessagePack map, copied: its
 * keys replace the state's, a nil value deletes). The session's state
 * (pz_client_session_state) changes at once. EINVAL when the patch is
 * not a map of 1-32-byte UTF-8 string keys, or the state would pass
 * opts.state_max encoded (the state is then unchanged). */
int pz_client_session_set_state(pz_client_session_t *s, pz_raw_t patch);
/* SIGNAL `kind` (1-32 bytes of UTF-8, else EINVAL) with `data` (a
 * MessagePack value, copied; ptr NULL: nil) to the room (to_room) or to
 * session `to`. */
int pz_client_session_signal(pz_client_session_t *s, bool to_room, uint64_t to,
                             pz_str_t kind, pz_raw_t data);
/* ROOM_SET `key` (1-64 bytes of UTF-8, else EINVAL) to `value` (a
 * MessagePack value, copied; ptr NULL: nil, a delete), only if the key is
 * at `if_version` when has_if_version (0: absent). */
int pz_client_session_room_set(pz_client_session_t *s, pz_str_t key,
                               pz_raw_t value, bool has_if_version,
                               uint64_t if_version);
/* The member state the session holds: a MessagePack map (borrowed until
 * the next call or callback). */
pz_raw_t pz_client_session_state(const pz_client_session_t *s);
/* The last WELCOME's features (enum pz_feature bits; 0 before it and from
 * a v1 server). */
uint32_t pz_client_session_features(const pz_client_session_t *s);
/* HELLO's token for the next connections (copied; NULL: none): a fresh
 * JWT before the old one expires. 0, ESTATE or ENOMEM. */
int pz_client_session_set_token(pz_client_session_t *s, const char *token);

/* Ends the session for good: with `leave`, LEAVE first when in a room (the
 * others see LEFT at once; without it the server keeps the session for its
 * grace period), then the close handshake (1000). CLOSED follows through
 * on_status. No-op when already closing. */
void pz_client_session_close(pz_client_session_t *s, bool leave);
/* Ends it at once, dropping the connection without a close frame. */
void pz_client_session_abort(pz_client_session_t *s);

void *pz_client_session_data(const pz_client_session_t *s);
/* enum pz_client_session_status. */
int pz_client_session_status(const pz_client_session_t *s);
/* The session's id (0 before the first WELCOME; a fresh session's new id
 * after a refused resume). */
uint64_t pz_client_session_id(const pz_client_session_t *s);
/* The room the server has the session in (NUL-terminated, valid until the
 * next callback), or NULL. */
const char *pz_client_session_room(const pz_client_session_t *s);
/* The connection in use, or NULL while away (for its stats, or a test
 * that drops it with pz_client_abort() to see the session come back). */
pz_client_t *pz_client_session_client(const pz_client_session_t *s);

#endif
