/*
 * Private structures of the client library, shared by its files: ctx.c (the
 * per-loop context and its timer), connect.c (resolving, connecting, what
 * the upgrade needs), client.c (connection life, libuv, TLS and wslay glue)
 * and send.c (encoding and queueing). session.c is built on the public API,
 * and counts its sessions in the context.
 */
#ifndef PZ_CLIENT_INT_H
#define PZ_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netdb.h>
#include <netinet/in.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "handshake.h"
#include "plaza/client.h"
#include "tls.h"

#define PZ_CLIENT_READ_BUF (64 * 1024)
#define PZ_CLIENT_TLS_BUF (16 * 1024) /* plaintext of one TLS record */
#define PZ_CLIENT_DEFAULT_MAX_MESSAGE (16u << 20)
#define PZ_CLIENT_DEFAULT_CONNECT_MS 10000
#define PZ_CLIENT_DEFAULT_CLOSE_MS 3000
#define PZ_CLIENT_TIMER_MS 250 /* resolution of every client timeout */

/* A growable byte buffer. */
typedef struct pz_cbuf {
  char *p;
  size_t len, cap;
} pz_cbuf_t;

/* Appends; returns 0 or PZ_CLIENT_ENOMEM (the buffer is unchanged). */
int pz_cbuf_append(pz_cbuf_t *b, const void *data, size_t len);
void pz_cbuf_dispose(pz_cbuf_t *b);

struct pz_client_ctx {
  uv_loop_t *loop;
  uv_timer_t timer;   /* sweeps `armed` while it is not empty */
  pz_client_t *armed; /* clients with a deadline */
  size_t n_clients;   /* created and not yet freed */
  size_t n_sessions;  /* session.c's, not yet CLOSED */
  uint64_t rng;       /* xorshift64 state for frame masks */
  bool closing;
  /* What wslay writes during one flush of one client, handed to the socket
   * in one write (wslay emits a frame header and its payload separately). */
  pz_cbuf_t cork;
  /* One message being encoded. */
  pz_cbuf_t scratch;
  bool scratch_oom;
  /* wss://: one SSL_CTX per CA file, and where decrypted input lands
   * (consumed synchronously, like rbuf); NULL until the first wss://. */
  pz_ctls_conf_t *tls_confs;
  char *tlsbuf;
  /* Every read of every client of the loop lands here: reads are consumed
   * synchronously, so one buffer serves all. */
  char rbuf[PZ_CLIENT_READ_BUF];
};

enum pz_client_state {
  PZ_CS_CONNECTING, /* resolving the host, or TCP connect under way */
  PZ_CS_TLS,        /* wss://: TLS handshake under way */
  PZ_CS_HANDSHAKE,  /* request written, reading the response */
  PZ_CS_OPEN,
  PZ_CS_CLOSING, /* a close frame went out or came in */
  PZ_CS_CLOSED,  /* uv_close() called; freed in its callback */
};

/* What only the connect and upgrade need; freed once open. */
typedef struct pz_handshake {
  uv_connect_t req;
  struct addrinfo *ai;      /* the resolver's answer, or NULL */
  struct addrinfo *ai_next; /* the next address to try */
  int last_error;           /* libuv error of the last address tried */
  bool bind;                /* bind_sa is set (opts->bind_addr) */
  struct sockaddr_in bind_sa;
  pz_http_resp_t resp;
  uint32_t max_message;
  char key[PZ_WS_KEY_LEN + 1];
  char protocol[PZ_WS_PROTOCOL_MAX + 1];
  size_t request_len;
  char request[]; /* the upgrade request text */
} pz_handshake_t;

/* A message being sent in several frames (source of wslay's fragmented
 * message API); freed when its last frame is produced or with the client. */
typedef struct pz_frag {
  struct pz_frag *next;
  pz_client_t *c;
  size_t len, off;     /* message length, bytes produced so far */
  size_t base;         /* bytes of every part but the last */
  unsigned parts, idx; /* number of parts, current part */
  size_t left;         /* bytes left in the current part */
  char data[];
} pz_frag_t;

/* A name being resolved: lives until the resolver calls back, so a client
 * freed meanwhile only detaches it (c NULL). */
typedef struct pz_resolve {
  uv_getaddrinfo_t req;
  pz_client_t *c;
} pz_resolve_t;

/* One uv_write in flight; owns the bytes it writes. */
typedef struct pz_write {
  uv_write_t req;
  char *p;
  size_t len;
} pz_write_t;

/*
 * One connection. Measured on x86-64 (Debian 12, glibc 2.36, libuv 1.44,
 * wslay 1.1.1) with tests/integration/c_memory.c, heap growth per open
 * ws:// client: 9,256 bytes at 2,000 clients (9,311 at 500; the same
 * again with the TLS and resolver pointers added, which malloc's size
 * classes absorb), of which
 *   struct pz_client                 456 bytes (uv_tcp_t is 248 of them)
 *   wslay event + frame contexts  ~8,750 bytes (two 4 KiB buffers inside)
 *   the rest: malloc headers and libuv's per-fd watcher slot.
 * So about 90 MB for 10,000 clients and 460 MB for 50,000, plus the
 * kernel's socket buffers. While connecting a client also holds its
 * pz_handshake_t (384 bytes plus the request, and 512+ bytes of response
 * buffer); under socket back-pressure, its unsent bytes.
 */
struct pz_client {
  uv_tcp_t tcp; /* tcp.data == this */
  pz_client_ctx_t *ctx;
  const pz_client_cbs_t *cbs;
  void *data;
  wslay_event_context_ptr ws; /* NULL until open */
  pz_handshake_t *hs;         /* NULL once open */
  pz_ctls_t *tls;             /* wss:// only */
  pz_resolve_t *resolve;      /* while the host name is being resolved */
  pz_write_t *inflight;       /* the uv_write under way, or NULL */
  pz_cbuf_t pend;             /* bytes waiting for `inflight` to finish */
  pz_frag_t *frags;
  pz_client_t *tnext, *tprev; /* ctx->armed list */
  uint64_t deadline;          /* uv_now() ms, when armed */
  const char *in;             /* input being fed to wslay */
  size_t in_len;
  char *close_reason; /* the peer's close reason (heap), or NULL */
  const char *why;    /* static text of the local failure */
  pz_client_stats_t stats;
  uint32_t close_timeout_ms;
  int err;
  uint16_t close_reason_len;
  uint16_t http_status;
  uint8_t state;
  bool armed;
  bool in_recv; /* inside wslay_event_recv: sends wait for its end */
  bool protocol_selected;
  bool reopening; /* the handle is closing to try the next address */
};

/* ctx.c */
void pz_client__arm(pz_client_t *c, uint32_t ms);
void pz_client__disarm(pz_client_t *c);
void pz_client__genmask(pz_client_ctx_t *ctx, uint8_t *buf, size_t len);

/* connect.c */
void pz_client__handshake_free(pz_handshake_t *hs);

/* client.c */
/* TCP is connected: starts TLS or the upgrade. */
void pz_client__connected(pz_client_t *c);
/* The handle's close callback: on_close, then the client is freed. */
void pz_client__closed(uv_handle_t *h);
/* Ends the connection: on_close follows from the loop. */
void pz_client__finish(pz_client_t *c, int err, const char *why);
/* The timer passed c->deadline. */
void pz_client__timeout(pz_client_t *c);
/* Hands what wslay has queued to the socket (no-op inside recv). */
void pz_client__flush(pz_client_t *c);

/* send.c */
ssize_t pz_client__frag_read(wslay_event_context_ptr ws, uint8_t *buf,
                             size_t len,
                             const union wslay_event_msg_source *source,
                             int *eof, void *user_data);
void pz_client__frags_free(pz_client_t *c);

#endif
