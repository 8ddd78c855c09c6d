/*
 * The TLS byte stream (see stream_tls.h): OpenSSL on memory BIOs, between
 * the owner (plaintext) and a TCP stream (ciphertext).
 *
 * Invariants: the write BIO is empty between calls (its ciphertext went to
 * the socket or into `held`); `held` is handed to the socket before
 * anything newer; after close or detach (`off`) nothing here touches the
 * TCP stream or calls the owner.
 */
#include <limits.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "bufchain.h"
#include "error.h"
#include "stream_tls.h"

#define RECORD_MAX 16384     /* plaintext of one TLS record */
#define BIO_KEEP (16 * 1024) /* larger BIO buffers are dropped once empty */
#define HELD_BUFS 16         /* blocks of held ciphertext per write */

struct pz_tls_stream {
  pz_stream_t base;
  pz_tcp_stream_t *tcp; /* borrowed: the owner's */
  SSL *ssl;
  BIO *rbio, *wbio;   /* owned by ssl */
  pz_bufchain_t held; /* ciphertext the socket did not take yet */
  pz_tls_limits_t lim;
  uint64_t key_updates_since; /* start of the window (loop time, ms) */
  uint32_t key_updates;       /* the peer's, within the window */
  bool flooded;               /* ...past the limit: reading ends */
  int error;                  /* first failure, returned by later writes */
  bool reading;               /* the owner wants on_read */
  bool want_writable;         /* writev fell short: on_writable is owed */
  bool shut_pending;          /* close_notify is held: FIN once it is sent */
  bool off;                   /* closed or detached */
  uv_idle_t later;            /* runs pump_input on the next turn (kick) */
  int closing;                /* handles whose close callback is awaited */
  bool detaching;             /* ...for a detach, not a close */
  uv_os_sock_t fd;            /* detached, for the owner */
  union {
    pz_stream_closed_cb closed;
    pz_stream_detached_cb detached;
  } cb;
};

static BIO *new_mem_bio(void) {
  BIO *b = BIO_new(BIO_s_mem());
  if (b)
    BIO_set_mem_eof_return(b, -1); /* empty means "retry", not EOF */
  return b;
}

/* A burst (a large read, a full send budget) grows a BIO's buffer for
 * good; an idle connection should not keep it. */
static bool bio_is_big(BIO *b) {
  BUF_MEM *m = NULL;
  BIO_get_mem_ptr(b, &m);
  return m && m->max > BIO_KEEP;
}

static void shrink_rbio(pz_tls_stream_t *t) {
  if (BIO_ctrl_pending(t->rbio) || !bio_is_big(t->rbio))
    return;
  BIO *b = new_mem_bio();
  if (b) {
    SSL_set0_rbio(t->ssl, b); /* frees the old one */
    t->rbio = b;
  }
}

static void empty_wbio(pz_tls_stream_t *t) {
  if (bio_is_big(t->wbio)) {
    BIO *b = new_mem_bio();
    if (b) {
      SSL_set0_wbio(t->ssl, b);
      t->wbio = b;
      return;
    }
  }
  (void)BIO_reset(t->wbio);
}

static void fail(pz_tls_stream_t *t, int err) {
  if (!t->error)
    t->error = err;
}

/* Hands ciphertext to the socket, held bytes first, then what the write
 * BIO gathered; keeps what the socket did not take. 0 or a PZ_E* code. */
static int flush_out(pz_tls_stream_t *t) {
  if (t->off)
    return 0;
  char *p = NULL;
  long n = BIO_get_mem_data(t->wbio, &p);
  size_t fresh = n > 0 ? (size_t)n : 0;
  if (!t->held.len && !fresh)
    return 0;
  uv_buf_t b[HELD_BUFS + 1];
  unsigned k = pz_bufchain_bufs(&t->held, b, HELD_BUFS);
  size_t offered = 0;
  for (unsigned i = 0; i < k; i++)
    offered += b[i].len;
  int r = 0;
  if (fresh && offered < t->held.len) {
    /* More is held than one write offers: the new bytes queue behind. */
    r = pz_bufchain_append(&t->held, p, fresh);
    fresh = 0;
    empty_wbio(t);
    if (r) {
      fail(t, r);
      return r;
    }
  }
  if (fresh)
    b[k++] = uv_buf_init(p, (unsigned)fresh);
  ssize_t w = t->error ? t->error : pz_stream_writev(&t->tcp->base, b, k);
  if (w < 0) {
    fail(t, (int)w);
    pz_bufchain_dispose(&t->held);
    empty_wbio(t);
    return (int)w;
  }
  size_t sent = (size_t)w, from_held = sent < offered ? sent : offered;
  pz_bufchain_consume(&t->held, from_held);
  if (fresh) {
    r = pz_bufchain_append(&t->held, p + (sent - from_held),
                           fresh - (sent - from_held));
    empty_wbio(t);
  }
  if (r)
    fail(t, r);
  return r;
}

static void maybe_writable(pz_tls_stream_t *t) {
  if (t->want_writable && !t->off && !t->held.len &&
      SSL_is_init_finished(t->ssl)) {
    t->want_writable = false;
    t->base.on_writable(&t->base);
  }
}

/* Reading has ended (the peer's close_notify, a TLS failure or the
 * socket's end): the owner learns it once. */
static void end_input(pz_tls_stream_t *t, int err) {
  t->reading = false;
  pz_stream_read_stop(&t->tcp->base);
  t->base.on_read(&t->base, err, NULL);
}

/* OpenSSL's message callback: counts the peer's KeyUpdates in the
 * current window (only while reading, when the stream is wrapped). Each
 * makes OpenSSL write an answer when it asks for one; a legitimate peer
 * sends a few per connection, if any. */
static void on_tls_message(int write_p, int version, int content_type,
                           const void *buf, size_t len, SSL *ssl, void *arg) {
  pz_tls_stream_t *t = arg;
  if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 1 ||
      ((const uint8_t *)buf)[0] != SSL3_MT_KEY_UPDATE || !t->tcp)
    return;
  uint64_t now = uv_now(t->tcp->poll.loop);
  if (now - t->key_updates_since >= PZ_TLS_KEY_UPDATE_WINDOW_MS) {
    t->key_updates_since = now;
    t->key_updates = 0;
  }
  if (++t->key_updates > t->lim.key_updates && t->lim.key_updates)
    t->flooded = true;
}

/* Decrypts what the read BIO holds for as long as the owner reads, then
 * sends what the handshake (or a key update) wrote. Reading ends when the
 * peer sent too many key updates, or made us hold more than the bound. */
static void pump_input(pz_tls_stream_t *t) {
  uint8_t *buf = t->tcp->readbuf->data;
  int size =
      t->tcp->readbuf->size > INT_MAX ? INT_MAX : (int)t->tcp->readbuf->size;
  ERR_clear_error(); /* SSL_get_error reads this thread's queue */
  while (t->reading && !t->off && !t->flooded) {
    int n = SSL_read(t->ssl, buf, size);
    if (n > 0) {
      t->base.on_read(&t->base, n, buf);
      continue;
    }
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || t->flooded)
      break;
    flush_out(t); /* our alert, if OpenSSL wrote one */
    ERR_clear_error();
    end_input(t, e == SSL_ERROR_ZERO_RETURN ? PZ_ECLOSED : PZ_EPROTO);
    return;
  }
  ERR_clear_error();
  if (t->off)
    return; /* what the handshake wrote leaves from the next loop */
  if (t->flooded && t->reading) {
    flush_out(t); /* the write BIO is empty between calls */
    end_input(t, PZ_EABUSE);
    return;
  }
  shrink_rbio(t);
  if (flush_out(t) != 0)
    return;
  if (t->lim.hold_max && t->held.len > t->lim.hold_max && t->reading) {
    end_input(t, PZ_EFULL); /* reading on would only add answers */
    return;
  }
  maybe_writable(t);
}

static void on_tcp_read(pz_stream_t *s, ssize_t n, uint8_t *data) {
  pz_tls_stream_t *t = s->data;
  if (n < 0) {
    t->reading = false;
    t->base.on_read(&t->base, n, NULL);
    return;
  }
  if (BIO_write(t->rbio, data, (int)n) != (int)n) {
    end_input(t, PZ_ENOMEM);
    return;
  }
  pump_input(t);
}

static void on_tcp_writable(pz_stream_t *s) {
  pz_tls_stream_t *t = s->data;
  if (flush_out(t) != 0 || t->held.len)
    return; /* the TCP stream calls again when it can take more */
  if (t->shut_pending) {
    t->shut_pending = false;
    int r = pz_stream_shutdown(&t->tcp->base);
    if (r)
      fail(t, r);
  }
  maybe_writable(t);
}

static void on_later(uv_idle_t *h) {
  pz_tls_stream_t *t = h->data;
  uv_idle_stop(&t->later);
  pump_input(t);
}

/* Input may wait in the BIO or in OpenSSL (read before a move, or while
 * reading was stopped) with no socket event to come: handle it on the next
 * loop turn, once the owner has set itself up. */
static void kick_if_buffered(pz_tls_stream_t *t) {
  if (t->reading && (BIO_ctrl_pending(t->rbio) || SSL_has_pending(t->ssl)))
    uv_idle_start(&t->later, on_later);
}

static int tls_read_start(pz_stream_t *s) {
  pz_tls_stream_t *t = (pz_tls_stream_t *)s;
  t->reading = true;
  int r = pz_stream_read_start(&t->tcp->base);
  kick_if_buffered(t);
  return r;
}

static void tls_read_stop(pz_stream_t *s) {
  pz_tls_stream_t *t = (pz_tls_stream_t *)s;
  t->reading = false;
  pz_stream_read_stop(&t->tcp->base);
}

/* Encrypts from bufs, small iovecs gathered into full records, until the
 * ciphertext waiting for the socket reaches the bound. Returns the
 * plaintext taken or a PZ_E* code. */
static ssize_t encrypt(pz_tls_stream_t *t, const uv_buf_t *bufs, unsigned n) {
  uint8_t stage[RECORD_MAX];
  size_t taken = 0;
  unsigned i = 0;
  size_t off = 0; /* into bufs[i] */
  ERR_clear_error();
  while (t->held.len + BIO_ctrl_pending(t->wbio) < PZ_TLS_HOLD_MAX) {
    while (i < n && off == bufs[i].len) {
      i++;
      off = 0;
    }
    if (i == n)
      break;
    const uint8_t *src;
    size_t len;
    if (bufs[i].len - off >= RECORD_MAX) { /* a whole record: no copy */
      src = (const uint8_t *)bufs[i].base + off;
      len = RECORD_MAX;
    } else { /* gather without consuming: SSL_write may take less */
      len = 0;
      for (unsigned j = i; j < n && len < RECORD_MAX; j++) {
        size_t from = j == i ? off : 0;
        size_t c = bufs[j].len - from;
        if (c > RECORD_MAX - len)
          c = RECORD_MAX - len;
        memcpy(stage + len, bufs[j].base + from, c);
        len += c;
      }
      src = stage;
    }
    int w = SSL_write(t->ssl, src, (int)len);
    if (w <= 0) {
      int e = SSL_get_error(t->ssl, w);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        break; /* the handshake is not over: the owner waits */
      return PZ_EPROTO;
    }
    taken += (size_t)w;
    for (size_t left = (size_t)w; left;) { /* consume w bytes */
      size_t c = bufs[i].len - off < left ? bufs[i].len - off : left;
      off += c;
      left -= c;
      if (off == bufs[i].len && left) {
        i++;
        off = 0;
      }
    }
  }
  return (ssize_t)taken;
}

static ssize_t tls_writev(pz_stream_t *s, const uv_buf_t *bufs, unsigned n) {
  pz_tls_stream_t *t = (pz_tls_stream_t *)s;
  if (t->error)
    return t->error;
  size_t total = 0;
  for (unsigned i = 0; i < n; i++)
    total += bufs[i].len;
  int r = flush_out(t); /* older ciphertext leaves first */
  if (r)
    return r;
  ssize_t taken = encrypt(t, bufs, n);
  if (taken < 0) {
    fail(t, (int)taken);
    return taken;
  }
  r = flush_out(t);
  if (r)
    return r;
  if ((size_t)taken < total) {
    t->want_writable = true;
    /* A short TCP write already asked for on_writable; a full budget or an
     * unfinished handshake did not. */
    if (!t->held.len && SSL_is_init_finished(t->ssl))
      pz_tcp_stream_want_writable(t->tcp);
  }
  return taken;
}

/* close_notify, then FIN once the socket has taken it. */
static int tls_shutdown(pz_stream_t *s) {
  pz_tls_stream_t *t = (pz_tls_stream_t *)s;
  if (SSL_is_init_finished(t->ssl) && !t->error) {
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* 0: sent, the peer's not yet read */
    ERR_clear_error();
  }
  int r = flush_out(t);
  if (r)
    return r;
  if (t->held.len) {
    t->shut_pending = true; /* the TCP stream calls on_writable */
    return 0;
  }
  return pz_stream_shutdown(&t->tcp->base);
}

/* Close and detach end when both handles (the TCP stream's and ours)
 * have closed; the last callback tells the owner, who may then free t. */
static void closed_one(pz_tls_stream_t *t) {
  if (--t->closing)
    return;
  t->tcp = NULL;
  if (t->detaching)
    t->cb.detached(&t->base, t->fd);
  else
    t->cb.closed(&t->base);
}

static void on_later_closed(uv_handle_t *h) {
  closed_one(h->data);
}

static void on_tcp_closed(pz_stream_t *s) {
  closed_one(s->data);
}

static void on_tcp_detached(pz_stream_t *s, uv_os_sock_t fd) {
  pz_tls_stream_t *t = s->data;
  t->fd = fd;
  closed_one(t);
}

static void let_go(pz_tls_stream_t *t, bool detaching) {
  t->off = true;
  t->detaching = detaching;
  t->closing = 2;
  uv_close((uv_handle_t *)&t->later, on_later_closed);
  if (detaching)
    pz_stream_detach(&t->tcp->base, on_tcp_detached);
  else
    pz_stream_close(&t->tcp->base, on_tcp_closed);
}

static void tls_close(pz_stream_t *s, pz_stream_closed_cb cb) {
  pz_tls_stream_t *t = (pz_tls_stream_t *)s;
  t->cb.closed = cb;
  let_go(t, false);
}

static void tls_detach(pz_stream_t *s, pz_stream_detached_cb cb) {
  pz_tls_stream_t *t = (pz_tls_stream_t *)s;
  t->cb.detached = cb;
  let_go(t, true);
}

static size_t tls_held(pz_stream_t *s) {
  return ((pz_tls_stream_t *)s)->held.len;
}

static const struct pz_stream_vtbl tls_vtbl = {
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .detach = tls_detach,
    .held = tls_held,
};

pz_tls_stream_t *pz_tls_stream_create(SSL *ssl, const pz_tls_limits_t *lim) {
  if (!ssl)
    return NULL;
  pz_tls_stream_t *t = calloc(1, sizeof(*t));
  BIO *r = new_mem_bio(), *w = new_mem_bio();
  if (!t || !r || !w) {
    BIO_free(r);
    BIO_free(w);
    free(t);
    SSL_free(ssl);
    return NULL;
  }
  SSL_set_bio(ssl, r, w); /* ssl owns both */
  SSL_set_accept_state(ssl);
  SSL_set_msg_callback(ssl, on_tls_message);
  SSL_set_msg_callback_arg(ssl, t);
  t->base.vt = &tls_vtbl;
  t->lim = *lim;
  pz_bufchain_init(&t->held);
  t->ssl = ssl;
  t->rbio = r;
  t->wbio = w;
  return t;
}

pz_stream_t *pz_tls_stream_wrap(pz_tls_stream_t *t, pz_tcp_stream_t *tcp) {
  t->tcp = tcp;
  tcp->base.data = t;
  tcp->base.on_read = on_tcp_read;
  tcp->base.on_writable = on_tcp_writable;
  uv_idle_init(tcp->poll.loop, &t->later);
  t->later.data = t;
  t->off = false;
  t->reading = false;
  /* The owner starts afresh (nothing owed); held output and a pending
   * FIN go out when the new socket is writable. */
  t->want_writable = false;
  if (t->held.len || t->shut_pending)
    pz_tcp_stream_want_writable(tcp);
  return &t->base;
}

int pz_tls_stream_push_input(pz_tls_stream_t *t, const uint8_t *data,
                             size_t len) {
  if (len > INT_MAX || BIO_write(t->rbio, data, (int)len) != (int)len)
    return PZ_ENOMEM;
  return 0;
}

void pz_tls_stream_destroy(pz_tls_stream_t *t) {
  if (!t)
    return;
  SSL_free(t->ssl);
  pz_bufchain_dispose(&t->held);
  free(t);
}

SSL *pz_tls_stream_ssl(pz_tls_stream_t *t) {
  return t->ssl;
}
