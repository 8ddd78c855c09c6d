/*
 * The TLS byte stream (see stream_tls.h): OpenSSL on a BIO of ours,
 * between the owner (plaintext) and a TCP stream (ciphertext).
 *
 * Invariants: nothing stays staged between calls (a stream's ciphertext
 * went to the socket or into `held` before control returns to its owner);
 * `held` is handed to the socket before anything newer; after close or
 * detach (`off`) nothing here touches the TCP stream or calls the owner.
 */
#include <limits.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "bufchain.h"
#include "error.h"
#include "stream_tls.h"

#define RECORD_MAX 16384 /* plaintext of one TLS record */
#define HELD_BUFS 16     /* blocks of held ciphertext per write */
/* Ciphertext writev stages on its stack: two records with their
 * overhead; a larger burst moves into `held` as the stage fills. */
#define STAGE_SIZE (2 * RECORD_MAX + 1024)

struct pz_tls_stream {
  pz_stream_t base;
  pz_tcp_stream_t *tcp; /* borrowed: the owner's */
  SSL *ssl;
  pz_bufchain_t held; /* ciphertext the socket did not take yet */
  /* Ciphertext read from the socket and not yet by OpenSSL: `kept` (owned,
   * first) and the TCP stream's read buffer during on_tcp_read
   * (borrowed). */
  uint8_t *kept;
  size_t kept_off, kept_len, kept_cap;
  const uint8_t *in;
  size_t in_off, in_len;
  /* writev's stack buffer for the ciphertext of its records, handed to
   * the socket in one write with what is held (NULL outside writev:
   * OpenSSL's other output goes into `held`). */
  uint8_t *stage;
  size_t staged;
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

static void fail(pz_tls_stream_t *t, int err) {
  if (!t->error)
    t->error = err;
}

/* Moves the staged ciphertext behind what is held. 0 or PZ_ENOMEM. */
static int unstage(pz_tls_stream_t *t) {
  int r = pz_bufchain_append(&t->held, t->stage, t->staged);
  t->staged = 0;
  if (r)
    fail(t, r);
  return r;
}

static size_t input_left(const pz_tls_stream_t *t) {
  return (t->kept_len - t->kept_off) + (t->in_len - t->in_off);
}

/* Keeps n bytes of ciphertext behind the kept ones. 0 or PZ_ENOMEM. */
static int keep(pz_tls_stream_t *t, const uint8_t *p, size_t n) {
  if (!n)
    return 0;
  if (t->kept_off) {
    memmove(t->kept, t->kept + t->kept_off, t->kept_len - t->kept_off);
    t->kept_len -= t->kept_off;
    t->kept_off = 0;
  }
  if (t->kept_len + n > t->kept_cap) {
    size_t cap = t->kept_len + n;
    uint8_t *k = realloc(t->kept, cap);
    if (!k)
      return PZ_ENOMEM;
    t->kept = k;
    t->kept_cap = cap;
  }
  memcpy(t->kept + t->kept_len, p, n);
  t->kept_len += n;
  return 0;
}

/* ---- the BIO OpenSSL reads and writes through ---------------------------
 * In place of two memory BIOs: reads come straight from the TCP read
 * buffer (or the kept bytes), writes go to writev's stage or behind the
 * held bytes; no buffer of its own, nothing zeroed or moved per record.
 * Its data is the stream. */

static int bio_write(BIO *b, const char *in, size_t inl, size_t *written) {
  pz_tls_stream_t *t = BIO_get_data(b);
  *written = inl; /* always all: what the socket refuses is held */
  if (t->stage && inl <= STAGE_SIZE) {
    if (t->staged + inl > STAGE_SIZE && unstage(t))
      return 0;
    memcpy(t->stage + t->staged, in, inl);
    t->staged += inl;
    return 1;
  }
  if (t->staged && unstage(t)) /* in order */
    return 0;
  int r = pz_bufchain_append(&t->held, in, inl);
  if (r)
    fail(t, r);
  return r ? 0 : 1;
}

static int bio_read(BIO *b, char *out, size_t outl, size_t *readbytes) {
  pz_tls_stream_t *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  size_t n = 0;
  if (t->kept_len > t->kept_off) {
    n = t->kept_len - t->kept_off < outl ? t->kept_len - t->kept_off : outl;
    memcpy(out, t->kept + t->kept_off, n);
    t->kept_off += n;
  } else if (t->in_len > t->in_off) {
    n = t->in_len - t->in_off < outl ? t->in_len - t->in_off : outl;
    memcpy(out, t->in + t->in_off, n);
    t->in_off += n;
  }
  if (!n) {
    BIO_set_retry_read(b); /* empty means "more to come", not EOF */
    *readbytes = 0;
    return 0;
  }
  *readbytes = n;
  if (t->kept && t->kept_off == t->kept_len) { /* drained: idle is small */
    free(t->kept);
    t->kept = NULL;
    t->kept_off = t->kept_len = t->kept_cap = 0;
  }
  return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  pz_tls_stream_t *t = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_PENDING:
    return (long)input_left(t);
  case BIO_CTRL_WPENDING:
    return (long)(t->staged + t->held.len);
  case BIO_CTRL_FLUSH: /* flush_out follows every call that writes */
    return 1;
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO_METHOD *bio_method;
static uv_once_t bio_once = UV_ONCE_INIT;

static void make_bio_method(void) {
  BIO_METHOD *m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "plaza tls");
  if (m && BIO_meth_set_write_ex(m, bio_write) &&
      BIO_meth_set_read_ex(m, bio_read) && BIO_meth_set_ctrl(m, bio_ctrl) &&
      BIO_meth_set_create(m, bio_create))
    bio_method = m;
  else
    BIO_meth_free(m);
}

/* Hands ciphertext to the socket, held bytes first, then what was staged;
 * keeps what the socket did not take. 0 or a PZ_E* code. */
static int flush_out(pz_tls_stream_t *t) {
  if (t->off) /* detached: it leaves from the next socket */
    return unstage(t);
  size_t fresh = t->staged;
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
    if ((r = unstage(t)))
      return r;
    fresh = 0;
  }
  if (fresh)
    b[k++] = uv_buf_init((char *)t->stage, (unsigned)fresh);
  ssize_t w = t->error ? t->error : pz_stream_writev(&t->tcp->base, b, k);
  if (w < 0) {
    fail(t, (int)w);
    pz_bufchain_dispose(&t->held);
    t->staged = 0;
    return (int)w;
  }
  size_t sent = (size_t)w, from_held = sent < offered ? sent : offered;
  pz_bufchain_consume(&t->held, from_held);
  if (fresh) {
    r = pz_bufchain_append(&t->held, t->stage + (sent - from_held),
                           fresh - (sent - from_held));
    t->staged = 0;
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

/* SSL_get_error reads this thread's error queue, so it must be empty
 * before a call; our calls leave it so, and peeking is cheaper than
 * clearing its slots. */
static void errors_cleared(void) {
  if (ERR_peek_error())
    ERR_clear_error();
}

/* Decrypts the ciphertext read and kept as long as the owner reads, then
 * sends what the handshake (or a key update) wrote. Reading ends when the
 * peer sent too many key updates, or made us hold more than the bound. */
static void pump_input(pz_tls_stream_t *t) {
  /* The ciphertext is in the TCP stream's read buffer: plaintext goes to
   * a buffer of its own. */
  uint8_t plain[RECORD_MAX];
  errors_cleared();
  while (t->reading && !t->off && !t->flooded) {
    int n = SSL_read(t->ssl, plain, sizeof(plain));
    if (n > 0) {
      t->base.on_read(&t->base, n, plain);
      /* All read and nothing pending: another call would only answer
       * WANT_READ, after touching the whole SSL state again. */
      if (!input_left(t) && !SSL_has_pending(t->ssl))
        break;
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
  if (t->off)
    return; /* what the handshake wrote leaves from the next socket */
  if (t->flooded && t->reading) {
    flush_out(t); /* what it was answered so far */
    end_input(t, PZ_EABUSE);
    return;
  }
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
  if (t->kept) { /* behind what waits already */
    if (keep(t, data, (size_t)n) != 0) {
      end_input(t, PZ_ENOMEM);
      return;
    }
  } else {
    t->in = data;
    t->in_off = 0;
    t->in_len = (size_t)n;
  }
  pump_input(t);
  /* The read buffer is the TCP stream's: what OpenSSL did not read yet
   * (reading stopped, or the stream moves) is kept. */
  int r = t->in ? keep(t, t->in + t->in_off, t->in_len - t->in_off) : 0;
  t->in = NULL;
  t->in_off = t->in_len = 0;
  if (r && t->reading && !t->off)
    end_input(t, PZ_ENOMEM);
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
  if (t->reading && (t->kept || SSL_has_pending(t->ssl)))
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
  uint8_t gather[RECORD_MAX];
  size_t taken = 0;
  unsigned i = 0;
  size_t off = 0; /* into bufs[i] */
  errors_cleared();
  while (t->held.len + t->staged < PZ_TLS_HOLD_MAX) {
    while (i < n && off == bufs[i].len) {
      i++;
      off = 0;
    }
    if (i == n)
      break;
    const uint8_t *src;
    size_t len;
    if (bufs[i].len - off >= RECORD_MAX || i + 1 == n) { /* no copy */
      src = (const uint8_t *)bufs[i].base + off;
      len = bufs[i].len - off < RECORD_MAX ? bufs[i].len - off : RECORD_MAX;
    } else { /* gather without consuming: SSL_write may take less */
      len = 0;
      for (unsigned j = i; j < n && len < RECORD_MAX; j++) {
        size_t from = j == i ? off : 0;
        size_t c = bufs[j].len - from;
        if (c > RECORD_MAX - len)
          c = RECORD_MAX - len;
        memcpy(gather + len, bufs[j].base + from, c);
        len += c;
      }
      src = gather;
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
  uint8_t stage[STAGE_SIZE];
  t->stage = stage;
  ssize_t taken = encrypt(t, bufs, n);
  r = flush_out(t); /* also after a failure: its alert, if any */
  t->stage = NULL;
  if (taken < 0) {
    fail(t, (int)taken);
    return taken;
  }
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
    errors_cleared();
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
  uv_once(&bio_once, make_bio_method);
  pz_tls_stream_t *t = calloc(1, sizeof(*t));
  BIO *b = bio_method ? BIO_new(bio_method) : NULL;
  if (!t || !b) {
    BIO_free(b);
    free(t);
    SSL_free(ssl);
    return NULL;
  }
  BIO_set_data(b, t);
  SSL_set_bio(ssl, b, b); /* ssl owns it: one reference for both ends */
  SSL_set_accept_state(ssl);
  SSL_set_msg_callback(ssl, on_tls_message);
  SSL_set_msg_callback_arg(ssl, t);
  t->base.vt = &tls_vtbl;
  t->lim = *lim;
  pz_bufchain_init(&t->held);
  t->ssl = ssl;
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
  return keep(t, data, len);
}

void pz_tls_stream_destroy(pz_tls_stream_t *t) {
  if (!t)
    return;
  SSL_free(t->ssl);
  pz_bufchain_dispose(&t->held);
  free(t->kept);
  free(t);
}

SSL *pz_tls_stream_ssl(pz_tls_stream_t *t) {
  return t->ssl;
}
