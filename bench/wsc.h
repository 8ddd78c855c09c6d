/*
 * The bench's light WebSocket client connection on libuv.
 *
 * Why the bench does not use pz_client (include/plaza/client.h): that
 * library reassembles every message through wslay (a copy and an
 * allocation per message, ~9 KiB per connection). The bench decodes only a
 * sample of clients per room and counts bytes and frames for the rest, at
 * ~300,000 messages a second per 10,000 clients. This connection parses
 * frames in place (wsf.h): a client whose owner allows it (`count_ok`)
 * shows the owner only the first PZ_WSC_PFX bytes of each message, and the
 * owner decides whether it wants the whole message. It shares with the
 * library what is not on the hot path: URL parsing, the upgrade request
 * and the response check (src/client/url.h, handshake.h), and the error
 * codes of plaza/client.h.
 *
 * A connection costs sizeof(pz_wsc_t) (~400 bytes, uv_tcp_t included) plus
 * a buffer only while a message is reassembled or output is pending.
 *
 * Threads: everything of a context and its connections runs on the
 * context's loop thread. Reads of every connection go through the
 * context's one read buffer (consumed synchronously).
 */
#ifndef PZ_BENCH_WSC_H
#define PZ_BENCH_WSC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "handshake.h"
#include "url.h"
#include "plaza/client.h"
#include "wsf.h"

#define PZ_WSC_PFX 48         /* bytes of a message shown to want_full */
#define PZ_WSC_READ_BUF 65536 /* the context's read buffer */
#define PZ_WSC_MAX_MSG (16u << 20)
#define PZ_WSC_CONNECT_MS 10000
#define PZ_WSC_CLOSE_MS 3000

typedef struct pz_wsc pz_wsc_t;
typedef struct pz_wsc_ctx pz_wsc_ctx_t;

typedef struct pz_wsc_cbs {
  /* The upgrade succeeded; sending is allowed. */
  void (*on_open)(pz_wsc_t *c);
  /* For a count_ok connection: the first n bytes (n = min(message length,
   * PZ_WSC_PFX)) of a data message. Return true to receive the whole
   * message in on_message, false to let it pass (counted in bytes only). */
  bool (*want_full)(pz_wsc_t *c, int opcode, const uint8_t *pfx, size_t n);
  /* A whole data message (opcode PZ_WSF_TEXT or _BINARY), borrowed until
   * return. The callback may send, close or abort. */
  void (*on_message)(pz_wsc_t *c, int opcode, const uint8_t *data, size_t len);
  /* The connection is over and its handle closed: c may be connected
   * again or freed. code: the code of the close we started, else the
   * server's (1005 without a code), else 1006. err: 0 after a close
   * handshake, else a PZ_CLIENT_E* code. */
  void (*on_close)(pz_wsc_t *c, int code, int err);
} pz_wsc_cbs_t;

struct pz_wsc_ctx {
  uv_loop_t *loop;
  const pz_wsc_cbs_t *cbs;
  struct sockaddr_in dst;
  pz_url_t url;
  char *url_str;           /* owns the text url.target points into */
  const char *subprotocol; /* offered, or NULL */
  uint64_t rng;            /* frame masks */
  uv_timer_t timer;        /* sweeps `armed` */
  pz_wsc_t *armed;         /* connections with a deadline */
  size_t live;             /* connections whose handle is not yet closed */
  uint64_t bytes_in, bytes_out;
  uint8_t *frame; /* one outgoing frame */
  size_t frame_cap;
  uint8_t rbuf[PZ_WSC_READ_BUF];
};

struct pz_wsc {
  uv_tcp_t tcp;
  pz_wsc_ctx_t *ctx;
  pz_wsf_t fp;
  struct pz_wsc_hs *hs;    /* while connecting and upgrading */
  struct pz_wsc_write *wr; /* the uv_write in flight, or NULL */
  uint8_t *pend;           /* bytes waiting for it */
  uint32_t pend_len, pend_cap;
  uint32_t wr_len; /* bytes of the write in flight */
  uint8_t *buf;    /* a message being reassembled */
  uint32_t buf_len, buf_cap;
  uint8_t *ctl; /* a control frame split across reads */
  uint8_t ctl_len;
  uint8_t pfx_len;
  uint8_t state; /* enum in wsc.c */
  uint8_t mode;  /* of the message under way */
  uint8_t msg_opcode, frame_opcode;
  bool in_msg, frame_fin, armed;
  bool close_sent, close_rcvd, we_closed;
  /* Set by the owner: messages may be shown by prefix (want_full). */
  bool count_ok;
  bool lazy; /* read by pz_wsc_poll() instead of the loop */
  uint16_t code_sent, code_rcvd;
  int err;
  uint64_t frame_len;
  uint64_t deadline; /* uv_now() ms */
  pz_wsc_t *tnext, *tprev;
  uint8_t pfx[PZ_WSC_PFX];
};

/* Sets up ctx for loop (borrowed) toward url ("ws://IPv4:PORT/PATH?Q";
 * copied), offering subprotocol (NULL: none; borrowed, static). cbs is
 * borrowed for the context's life. Returns 0, PZ_CLIENT_EURL (also for
 * wss:// and host names: the bench speaks plain TCP to an IPv4 address)
 * or PZ_CLIENT_ENOMEM. */
int pz_wsc_ctx_init(pz_wsc_ctx_t *ctx, uv_loop_t *loop, const char *url,
                    const char *subprotocol, const pz_wsc_cbs_t *cbs,
                    uint64_t seed);

/* Closes the context's timer (run the loop afterwards) and frees its
 * buffers. Every connection must have had its on_close. */
void pz_wsc_ctx_dispose(pz_wsc_ctx_t *ctx);

/* Starts connecting c (caller-owned memory, not in use) from `bind`
 * (NULL: any source address). Returns 0, then on_close follows (on_open
 * first on success); or a negative libuv error (e.g. UV_EMFILE when out of
 * file descriptors) and no callback. */
int pz_wsc_connect(pz_wsc_t *c, pz_wsc_ctx_t *ctx,
                   const struct sockaddr_in *bind);

/* Sends one message (payload copied, masked). Returns 0, PZ_CLIENT_ESTATE
 * when not open, or the write's error (PZ_CLIENT_EIO, _ENOMEM), which also
 * ends the connection (on_close follows). */
int pz_wsc_send(pz_wsc_t *c, int opcode, const void *payload, size_t len);

/* Lazy reading (--lazy-ms), for connections whose timing nobody measures
 * (the bench's count-only clients). A lazy connection leaves the loop's
 * read set and is read only when its owner calls pz_wsc_poll(): each read
 * then takes several messages at once, which saves most of the read
 * syscalls (and the ACK each read sends) that dominate the bench's CPU.
 * On loopback it also spares the server the wakeup of a reader on every
 * write, so the server's CPU figures change too: use it the same way for
 * every server compared. A close makes the connection eager again. */
void pz_wsc_set_lazy(pz_wsc_t *c, bool lazy);
/* Reads what the socket holds (a lazy connection), as the loop would. */
void pz_wsc_poll(pz_wsc_t *c);

/* Bytes the socket has not taken yet. */
static inline size_t pz_wsc_buffered(const pz_wsc_t *c) {
  return (size_t)c->pend_len + c->wr_len;
}

/* True between on_open and the start of a close. */
bool pz_wsc_is_open(const pz_wsc_t *c);

/* Starts the close handshake with code; on_close follows when the server
 * answers (or after PZ_WSC_CLOSE_MS). Before the upgrade: aborts. */
void pz_wsc_close(pz_wsc_t *c, uint16_t code);

/* Drops the TCP connection now, no close frame (a client that vanishes):
 * on_close follows with 1006, PZ_CLIENT_ECANCELED. No-op when closed. */
void pz_wsc_abort(pz_wsc_t *c);

#endif
