/*
 * Guards src/net/stream_tls.c on a real loop over a socket pair, against an
 * in-test OpenSSL client on the other end (certificate made at run time,
 * server context from src/net/tls_ctx.c): the handshake and data both
 * ways; TLS 1.1 refused; a writev the socket cannot take whole returns
 * what it took, takes nothing once its held ciphertext passes the bound,
 * and on_writable fires once the client reads, every byte arriving in
 * order; records cut anywhere between reads, and reading stopped with
 * records left in the same read and started again, lose nothing; detach in
 * the middle of a read keeps the TLS state, the unread
 * input and the held output, and the stream carries on wrapped around a
 * new TCP stream on another loop; shutdown sends close_notify then FIN;
 * the client's close_notify reads as PZ_ECLOSED and garbage as PZ_EPROTO;
 * a client that sends KeyUpdates and never reads makes the stream hold no
 * more than its bound (then reading ends with PZ_EFULL), and more
 * KeyUpdates than the limit end reading with PZ_EABUSE.
 * Every test ends with uv_loop_close() == 0.
 */
#include <fcntl.h>
#include <openssl/err.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "stream_tls.h"
#include "tls_certs.h"
#include "tls_ctx.h"

#define BIG (1 << 20)

typedef struct fixture {
  uv_loop_t loop, loop2;
  uv_loop_t *cur; /* the loop the stream is on now */
  pz_tcp_stream_t tcp, tcp2;
  pz_tls_stream_t *tls;
  pz_stream_t *s;
  pz_tls_ctx_t *ctx;
  test_cert_t tc;
  SSL_CTX *cctx;
  SSL *client;
  int peer;
  uint8_t readbuf_bytes[65536];
  pz_readbuf_t readbuf;
  uint8_t *got; /* plaintext the server read */
  size_t got_len;
  ssize_t last_error;
  int writable, closed, detached;
  bool detach_on_read, stop_on_read;
  uv_os_sock_t detached_fd;
} fixture_t;

static void on_detached(pz_stream_t *s, uv_os_sock_t fd) {
  fixture_t *f = s->data;
  f->detached++;
  f->detached_fd = fd;
}

static void on_read(pz_stream_t *s, ssize_t n, uint8_t *data) {
  fixture_t *f = s->data;
  if (n < 0) {
    f->last_error = n;
    return;
  }
  f->got = realloc(f->got, f->got_len + (size_t)n);
  memcpy(f->got + f->got_len, data, (size_t)n);
  f->got_len += (size_t)n;
  if (f->stop_on_read) { /* as a connection whose queue is full */
    f->stop_on_read = false;
    pz_stream_read_stop(s);
  }
  if (f->detach_on_read) { /* as a connection moving to another worker */
    f->detach_on_read = false;
    pz_stream_detach(s, on_detached);
  }
}

static void on_writable(pz_stream_t *s) {
  ((fixture_t *)s->data)->writable++;
}

static void on_closed(pz_stream_t *s) {
  ((fixture_t *)s->data)->closed++;
}

static void set_owner(fixture_t *f) {
  f->s->data = f;
  f->s->on_read = on_read;
  f->s->on_writable = on_writable;
}

static const pz_tls_limits_t default_limits = {.hold_max = 1 << 20,
                                               .key_updates = 16};

static fixture_t *open_fixture_with(int sndbuf, int client_max_version,
                                    const pz_tls_limits_t *lim) {
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(test_cert_make(&f->tc, "plaza-test"), 0);
  char err[256];
  assert_int_equal(
      pz_tls_ctx_create(f->tc.cert, f->tc.key, &f->ctx, err, sizeof(err)), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->cur = &f->loop;
  pz_tcp_options_t opt = {.sndbuf = sndbuf};
  f->readbuf = (pz_readbuf_t){f->readbuf_bytes, sizeof(f->readbuf_bytes)};
  assert_int_equal(
      pz_tcp_stream_open(&f->tcp, &f->loop, sv[0], &f->readbuf, &opt), 0);
  f->tls = pz_tls_stream_create(pz_tls_ctx_new_ssl(f->ctx), lim);
  assert_non_null(f->tls);
  f->s = pz_tls_stream_wrap(f->tls, &f->tcp);
  set_owner(f);
  assert_int_equal(pz_stream_read_start(f->s), 0);

  f->peer = sv[1];
  f->cctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(f->cctx);
  if (client_max_version) {
    SSL_CTX_set_min_proto_version(f->cctx, 0);
    SSL_CTX_set_max_proto_version(f->cctx, client_max_version);
    SSL_CTX_set_cipher_list(f->cctx, "DEFAULT:@SECLEVEL=0");
  }
  SSL_CTX_set_alpn_protos(f->cctx, (const unsigned char *)"\x02h2\x08http/1.1",
                          12);
  f->client = SSL_new(f->cctx);
  SSL_set_fd(f->client, f->peer);
  SSL_set_connect_state(f->client);
  f->detached_fd = -1;
  return f;
}

static fixture_t *open_fixture(int sndbuf, int client_max_version) {
  return open_fixture_with(sndbuf, client_max_version, &default_limits);
}

static void spin(fixture_t *f) {
  for (int i = 0; i < 5; i++)
    uv_run(f->cur, UV_RUN_NOWAIT);
}

static void close_fixture(fixture_t *f) {
  pz_stream_close(f->s, on_closed);
  uv_run(f->cur, UV_RUN_DEFAULT);
  assert_int_equal(f->closed, 1);
  assert_int_equal(uv_loop_close(f->cur), 0); /* the first loop, if moved,
                                                was closed by the test */
  pz_tls_stream_destroy(f->tls);
  SSL_free(f->client);
  SSL_CTX_free(f->cctx);
  pz_tls_ctx_destroy(f->ctx);
  close(f->peer);
  test_cert_remove(&f->tc);
  free(f->got);
  free(f);
  ERR_clear_error();
}

/* Client and server take turns until the client's handshake ends: 1 when
 * it succeeded, 0 when it failed. */
static int handshake(fixture_t *f) {
  for (int i = 0; i < 200; i++) {
    int r = SSL_do_handshake(f->client);
    if (r == 1) {
      spin(f); /* the server reads the client's Finished */
      return 1;
    }
    int e = SSL_get_error(f->client, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      return 0;
    spin(f);
  }
  fail_msg("handshake did not end");
  return 0;
}

/* Reads up to `want` bytes of plaintext at the client, letting the server
 * run meanwhile; returns how many arrived. */
static size_t client_read(fixture_t *f, uint8_t *out, size_t want) {
  size_t got = 0;
  for (int idle = 0; got < want && idle < 50;) {
    int n = SSL_read(f->client, out + got, (int)(want - got));
    if (n > 0) {
      got += (size_t)n;
      idle = 0;
      continue;
    }
    int e = SSL_get_error(f->client, n);
    if (e != SSL_ERROR_WANT_READ)
      break;
    spin(f);
    idle++;
  }
  return got;
}

static void client_write(fixture_t *f, const char *text) {
  assert_int_equal(SSL_write(f->client, text, (int)strlen(text)),
                   (int)strlen(text));
}

static void test_handshake_and_data_both_ways(void **state) {
  fixture_t *f = open_fixture(0, 0);
  assert_int_equal(handshake(f), 1);
  assert_int_equal(SSL_version(f->client), TLS1_3_VERSION);
  const unsigned char *alpn;
  unsigned alpn_len;
  SSL_get0_alpn_selected(f->client, &alpn, &alpn_len);
  assert_int_equal(alpn_len, 8);
  assert_memory_equal(alpn, "http/1.1", 8);

  client_write(f, "hello");
  spin(f);
  assert_int_equal(f->got_len, 5);
  assert_memory_equal(f->got, "hello", 5);

  uv_buf_t b[3] = {uv_buf_init("wo", 2), uv_buf_init("", 0),
                   uv_buf_init("rld", 3)};
  assert_int_equal(pz_stream_writev(f->s, b, 3), 5);
  uint8_t out[16];
  assert_int_equal(client_read(f, out, 5), 5);
  assert_memory_equal(out, "world", 5);
  assert_int_equal(f->writable, 0); /* everything was taken: nothing owed */
  close_fixture(f);
}

static void test_tls11_is_refused(void **state) {
  fixture_t *f = open_fixture(0, TLS1_1_VERSION);
  assert_int_equal(handshake(f), 0);
  spin(f);
  assert_int_equal(f->last_error, PZ_EPROTO);
  close_fixture(f);
}

/* The owner's side of a large write: what writev did not take is offered
 * again once on_writable fires, as the connection's queue does. */
static void test_short_writes_hold_a_bounded_amount(void **state) {
  fixture_t *f = open_fixture(4096, 0);
  assert_int_equal(handshake(f), 1);
  uint8_t *big = malloc(BIG), *out = malloc(BIG);
  for (size_t i = 0; i < BIG; i++)
    big[i] = (uint8_t)(i * 7 + i / 251);
  size_t off = 0;
  /* Without a reader, writev soon takes nothing: the held ciphertext is
   * past its bound. What it took is bounded by it (plus one record). */
  int calls = 0;
  for (;;) {
    uv_buf_t b = uv_buf_init((char *)big + off, (unsigned)(BIG - off));
    ssize_t n = pz_stream_writev(f->s, &b, 1);
    assert_true(n >= 0);
    calls++;
    if (n == 0)
      break;
    off += (size_t)n;
    assert_true(calls < 10);
  }
  assert_true(off > 0);
  assert_true(off < 256 * 1024); /* the socket's buffers + the bound */
  spin(f);
  assert_int_equal(f->writable, 0); /* nobody read yet */

  size_t got = 0;
  while (got < BIG) {
    size_t n = client_read(f, out + got, BIG - got);
    assert_true(n > 0);
    got += n;
    if (f->writable) {
      f->writable = 0;
      while (off < BIG) {
        uv_buf_t b = uv_buf_init((char *)big + off, (unsigned)(BIG - off));
        ssize_t w = pz_stream_writev(f->s, &b, 1);
        assert_true(w >= 0);
        off += (size_t)w;
        if (w == 0 || off < BIG)
          break;
      }
    }
  }
  assert_int_equal(off, BIG);
  assert_memory_equal(out, big, BIG);
  free(big);
  free(out);
  close_fixture(f);
}

/* The stream's BIO reads from the TCP read buffer: a record may end
 * anywhere in one read, and what OpenSSL did not read when reading stops
 * is kept until reading starts again. */
static void test_records_cut_anywhere_and_reading_stopped(void **state) {
  fixture_t *f = open_fixture(0, 0);
  assert_int_equal(handshake(f), 1);
  /* Three records, written to the socket a few bytes at a time. */
  BIO *sock = SSL_get_wbio(f->client), *mem = BIO_new(BIO_s_mem());
  assert_non_null(mem);
  BIO_up_ref(sock);
  SSL_set0_wbio(f->client, mem);
  client_write(f, "alpha|");
  client_write(f, "beta|");
  client_write(f, "gamma");
  char *wire;
  long wire_len = BIO_get_mem_data(mem, &wire);
  assert_true(wire_len > 16);
  for (long off = 0; off < wire_len; off += 3) {
    size_t c = wire_len - off < 3 ? (size_t)(wire_len - off) : 3;
    assert_int_equal(write(f->peer, wire + off, c), (ssize_t)c);
    spin(f);
  }
  SSL_set0_wbio(f->client, sock); /* frees mem */
  assert_int_equal(f->got_len, 16);
  assert_memory_equal(f->got, "alpha|beta|gamma", 16);

  /* Three records in one read; the owner stops reading after the first. */
  f->stop_on_read = true;
  client_write(f, "one|");
  client_write(f, "two|");
  client_write(f, "three");
  spin(f);
  assert_int_equal(f->got_len, 20);
  assert_memory_equal(f->got + 16, "one|", 4);
  client_write(f, "|four"); /* arrives while reading is stopped */
  spin(f);
  assert_int_equal(f->got_len, 20);
  assert_int_equal(pz_stream_read_start(f->s), 0);
  spin(f);
  assert_int_equal(f->got_len, 34);
  assert_memory_equal(f->got + 16, "one|two|three|four", 18);
  close_fixture(f);
}

/* A connection moving to another worker: the stream is detached inside a
 * read, with more input already read from the socket and output still
 * held, and wrapped around a new TCP stream on another loop. */
static void test_detach_keeps_tls_state_across_loops(void **state) {
  fixture_t *f = open_fixture(4096, 0);
  assert_int_equal(handshake(f), 1);
  /* Output the socket cannot take yet: some of it stays held. */
  static uint8_t big[200000];
  memset(big, 'o', sizeof(big));
  uv_buf_t b = uv_buf_init((char *)big, sizeof(big));
  ssize_t taken = pz_stream_writev(f->s, &b, 1);
  assert_true(taken > 0 && (size_t)taken < sizeof(big));
  /* Two records arrive in one read: the first read detaches. */
  client_write(f, "first|");
  client_write(f, "second");
  f->detach_on_read = true;
  uv_run(&f->loop, UV_RUN_DEFAULT); /* ends when the poll handle closed */
  assert_int_equal(f->detached, 1);
  assert_int_equal(f->got_len, 6);
  assert_memory_equal(f->got, "first|", 6);
  assert_true(fcntl(f->detached_fd, F_GETFD) >= 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);

  /* The new loop: same TLS session, no new handshake. */
  assert_int_equal(uv_loop_init(&f->loop2), 0);
  f->cur = &f->loop2;
  assert_int_equal(pz_tcp_stream_open(&f->tcp2, &f->loop2, f->detached_fd,
                                      &f->readbuf, NULL),
                   0);
  f->s = pz_tls_stream_wrap(f->tls, &f->tcp2);
  set_owner(f);
  assert_int_equal(pz_stream_read_start(f->s), 0);
  spin(f);
  /* The input read before the move, without the client sending more. */
  assert_int_equal(f->got_len, 12);
  assert_memory_equal(f->got, "first|second", 12);
  /* The held output, then more, in order. */
  static uint8_t out[sizeof(big)];
  assert_int_equal(client_read(f, out, (size_t)taken), (size_t)taken);
  assert_memory_equal(out, big, (size_t)taken);
  uv_buf_t more = uv_buf_init("after", 5);
  spin(f);
  assert_int_equal(pz_stream_writev(f->s, &more, 1), 5);
  assert_int_equal(client_read(f, out, 5), 5);
  assert_memory_equal(out, "after", 5);
  client_write(f, "+again");
  spin(f);
  assert_int_equal(f->got_len, 18);
  assert_memory_equal(f->got + 12, "+again", 6);
  close_fixture(f);
}

static void test_shutdown_sends_close_notify_then_fin(void **state) {
  fixture_t *f = open_fixture(0, 0);
  assert_int_equal(handshake(f), 1);
  assert_int_equal(pz_stream_shutdown(f->s), 0);
  uint8_t c;
  int n = SSL_read(f->client, &c, 1);
  assert_int_equal(n, 0);
  assert_int_equal(SSL_get_error(f->client, n), SSL_ERROR_ZERO_RETURN);
  assert_int_equal(read(f->peer, &c, 1), 0); /* then the FIN */
  assert_int_equal(f->last_error, 0);        /* still reading */
  close_fixture(f);
}

static void test_peer_close_notify_reads_as_closed(void **state) {
  fixture_t *f = open_fixture(0, 0);
  assert_int_equal(handshake(f), 1);
  client_write(f, "bye");
  assert_true(SSL_shutdown(f->client) >= 0);
  spin(f);
  assert_int_equal(f->got_len, 3);
  assert_int_equal(f->last_error, PZ_ECLOSED);
  close_fixture(f);
}

static void test_plaintext_is_a_protocol_error(void **state) {
  fixture_t *f = open_fixture(0, 0);
  const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(write(f->peer, req, strlen(req)), (ssize_t)strlen(req));
  spin(f);
  assert_int_equal(f->last_error, PZ_EPROTO);
  assert_int_equal(f->got_len, 0);
  close_fixture(f);
}

static void test_bad_handshake_gets_an_alert(void **state) {
  fixture_t *f = open_fixture(0, 0);
  /* A handshake record whose message is nonsense. */
  static const uint8_t junk[] = {0x16, 0x03, 0x01, 0x00, 0x06, 0x01,
                                 0x00, 0x00, 0x02, 0xff, 0xff};
  assert_int_equal(write(f->peer, junk, sizeof(junk)), sizeof(junk));
  spin(f);
  assert_int_equal(f->last_error, PZ_EPROTO);
  uint8_t alert[64];
  ssize_t n = read(f->peer, alert, sizeof(alert));
  assert_true(n >= 7);
  assert_int_equal(alert[0], 0x15); /* an alert record tells the client */
  assert_int_equal(f->got_len, 0);
  close_fixture(f);
}

/* The client sends n KeyUpdates that ask for one in return, and never
 * reads; 1 when all went, 0 when its socket took no more. */
static int client_key_updates(fixture_t *f, int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(SSL_key_update(f->client, SSL_KEY_UPDATE_REQUESTED), 1);
    int r = SSL_do_handshake(f->client);
    if (r != 1) {
      assert_int_equal(SSL_get_error(f->client, r), SSL_ERROR_WANT_WRITE);
      ERR_clear_error();
      return 0;
    }
  }
  return 1;
}

/* Issue 15: each KeyUpdate makes OpenSSL write an answer; a client that
 * never reads made the stream hold them without end (134 MiB in 150 s). */
static void test_key_update_answers_are_bounded(void **state) {
  pz_tls_limits_t lim = {.hold_max = 4096, .key_updates = 0};
  fixture_t *f = open_fixture_with(4096, 0, &lim);
  assert_int_equal(handshake(f), 1);
  size_t most = 0;
  for (int round = 0; round < 2000 && !f->last_error; round++) {
    if (!client_key_updates(f, 20))
      break;
    spin(f);
    size_t held = pz_stream_held(f->s);
    most = held > most ? held : most;
  }
  assert_int_equal(f->last_error, PZ_EFULL);
  /* At most the bound, plus the answers to what one read brought. */
  if (most > lim.hold_max + 20 * 64)
    fail_msg("held %zu bytes (bound %zu)", most, lim.hold_max);
  /* Reading has ended: more input is not even decrypted. */
  size_t before = pz_stream_held(f->s);
  client_key_updates(f, 20);
  spin(f);
  assert_int_equal(pz_stream_held(f->s), before);
  close_fixture(f);
}

static void test_key_update_flood_is_refused(void **state) {
  fixture_t *f = open_fixture(0, 0); /* at most 16 per window */
  assert_int_equal(handshake(f), 1);
  for (int i = 0; i < 16; i++) {
    assert_int_equal(client_key_updates(f, 1), 1);
    spin(f);
  }
  assert_int_equal(f->last_error, 0);
  client_write(f, "still here");
  spin(f);
  assert_int_equal(f->got_len, 10);
  assert_int_equal(client_key_updates(f, 1), 1);
  spin(f);
  assert_int_equal(f->last_error, PZ_EABUSE);
  close_fixture(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_and_data_both_ways),
      cmocka_unit_test(test_tls11_is_refused),
      cmocka_unit_test(test_short_writes_hold_a_bounded_amount),
      cmocka_unit_test(test_records_cut_anywhere_and_reading_stopped),
      cmocka_unit_test(test_detach_keeps_tls_state_across_loops),
      cmocka_unit_test(test_shutdown_sends_close_notify_then_fin),
      cmocka_unit_test(test_peer_close_notify_reads_as_closed),
      cmocka_unit_test(test_plaintext_is_a_protocol_error),
      cmocka_unit_test(test_bad_handshake_gets_an_alert),
      cmocka_unit_test(test_key_update_answers_are_bounded),
      cmocka_unit_test(test_key_update_flood_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
