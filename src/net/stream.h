/*
 * A byte stream: what the connection layer reads from and writes to,
 * whatever carries the bytes: plain TCP (stream_tcp.c) or TLS wrapping a
 * TCP stream (stream_tls.h), so nothing above this interface touches a
 * socket, a libuv handle or OpenSSL.
 *
 * Writing is try-first: pz_stream_writev() takes what the transport takes
 * now and returns how much; when that is less than offered, on_writable
 * fires once it can take more. The caller keeps what was not taken (the
 * outbound queue), so a stream never holds a reference to caller memory
 * after a call returns and can be detached or closed at any moment.
 *
 * All calls and callbacks run on the thread of the loop the stream was
 * opened on.
 */
#ifndef PZ_STREAM_H
#define PZ_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "addr.h"

typedef struct pz_stream pz_stream_t;

/* n > 0: bytes read into data (the stream's read buffer, borrowed for the
 * call; the owner may modify them in place, as a WebSocket receiver
 * unmasks); n < 0: PZ_ECLOSED
 * when the peer closed its side, PZ_EFULL when the transport holds more
 * output of its own than its bound (a TLS peer that makes it answer and
 * does not read), PZ_EABUSE when the peer broke a limit of the transport
 * (TLS key updates), another PZ_E* code on error. Reading stops by itself
 * after n < 0. */
typedef void (*pz_stream_read_cb)(pz_stream_t *s, ssize_t n, uint8_t *data);
typedef void (*pz_stream_writable_cb)(pz_stream_t *s);
/* close: the transport is gone. detach: its descriptor is the caller's. */
typedef void (*pz_stream_closed_cb)(pz_stream_t *s);
typedef void (*pz_stream_detached_cb)(pz_stream_t *s, uv_os_sock_t fd);

struct pz_stream_vtbl {
  int (*read_start)(pz_stream_t *s);
  void (*read_stop)(pz_stream_t *s);
  ssize_t (*writev)(pz_stream_t *s, const uv_buf_t *bufs, unsigned n);
  int (*shutdown)(pz_stream_t *s);
  void (*close)(pz_stream_t *s, pz_stream_closed_cb cb);
  void (*detach)(pz_stream_t *s, pz_stream_detached_cb cb);
  size_t (*held)(pz_stream_t *s); /* NULL: the transport holds nothing */
};

struct pz_stream {
  const struct pz_stream_vtbl *vt;
  pz_stream_read_cb on_read;
  pz_stream_writable_cb on_writable;
  void *data; /* the owner's */
};

static inline int pz_stream_read_start(pz_stream_t *s) {
  return s->vt->read_start(s);
}
static inline void pz_stream_read_stop(pz_stream_t *s) {
  s->vt->read_stop(s);
}
/* Returns the bytes taken (0 when none could be), or a negative PZ_E*
 * code when the stream is broken. */
static inline ssize_t pz_stream_writev(pz_stream_t *s, const uv_buf_t *bufs,
                                       unsigned n) {
  return s->vt->writev(s, bufs, n);
}
/* Bytes the transport took or produced and has not yet handed to the
 * socket (TLS records); they count against the owner's output bound with
 * what it queues itself. 0 for plain TCP. */
static inline size_t pz_stream_held(pz_stream_t *s) {
  return s->vt->held ? s->vt->held(s) : 0;
}
/* Ends our sending side (FIN); reading goes on. 0 or a PZ_E* code. */
static inline int pz_stream_shutdown(pz_stream_t *s) {
  return s->vt->shutdown(s);
}
/* Closes the transport; cb runs on a later loop turn. No callback of the
 * stream runs after this call. */
static inline void pz_stream_close(pz_stream_t *s, pz_stream_closed_cb cb) {
  s->vt->close(s, cb);
}
/* Releases the stream's hold on its descriptor without closing it (a
 * connection moving to another worker's loop); cb gets the descriptor on a
 * later loop turn. No other callback runs after this call. */
static inline void pz_stream_detach(pz_stream_t *s, pz_stream_detached_cb cb) {
  s->vt->detach(s, cb);
}

/* Plain TCP over a non-blocking socket, watched with a uv_poll handle:
 * reads go straight into the caller's buffer and writes are writev()s from
 * the caller's iovecs, so a stream copies and keeps nothing. Embed it. */
/* A scratch buffer that reads land in, shared by an owner's streams (a
 * worker's): streams point at it rather than keep its address and size,
 * 8 bytes less in each of an idle server's thousands of streams. */
typedef struct pz_readbuf {
  uint8_t *data;
  size_t size;
} pz_readbuf_t;

typedef struct pz_tcp_stream {
  pz_stream_t base;
  uv_poll_t poll;
  uv_os_sock_t fd;
  uint8_t events; /* UV_READABLE | UV_WRITABLE being watched */
  bool reading, want_write, closing;
  const pz_readbuf_t *readbuf; /* the owner's (borrowed) */
  union {
    pz_stream_closed_cb closed;
    pz_stream_detached_cb detached;
  } cb;
} pz_tcp_stream_t;

typedef struct pz_tcp_options {
  int sndbuf;      /* SO_SNDBUF when > 0 */
  int keepalive_s; /* TCP keepalive idle seconds when > 0 */
} pz_tcp_options_t;

/* Opens fd on loop (nodelay, options applied), reading into readbuf
 * (borrowed: it must outlive the stream). Returns 0, or a negative PZ_E*
 * code: then fd is still the caller's. */
int pz_tcp_stream_open(pz_tcp_stream_t *t, uv_loop_t *loop, uv_os_sock_t fd,
                       const pz_readbuf_t *readbuf,
                       const pz_tcp_options_t *opt);
/* Asks for on_writable as soon as the socket can take bytes (on the next
 * poll when it can now), without a short write: for a stream layered on
 * this one that must be called back for reasons of its own. */
void pz_tcp_stream_want_writable(pz_tcp_stream_t *t);
/* The peer's address and port (family 0 and port 0 when unknown). */
void pz_tcp_peer(uv_os_sock_t fd, pz_ip_t *ip, uint16_t *port);

#endif
