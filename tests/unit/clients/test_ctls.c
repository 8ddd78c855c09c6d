/*
 * Unit tests of the client's TLS (clients/c/tls.c) against an OpenSSL
 * server in memory: the handshake and data both ways (ciphertext handed
 * over whole and one byte at a time), verification on by default (a
 * self-signed certificate is refused without its CA file, a certificate for
 * another name or address is refused with it), SNI for names and none for
 * addresses, --insecure, the server's close_notify, and CA files that
 * cannot be used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../net/tls_certs.h"
#include "plaza/client.h"
#include "tls.h"

typedef struct fixture {
  test_cert_t tc; /* a self-signed certificate for localhost, 127.0.0.1 */
  char empty[128];
  SSL_CTX *server_ctx;
  char sni[256]; /* what the server saw */
} fixture_t;

static int on_servername(SSL *ssl, int *alert, void *arg) {
  fixture_t *f = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  snprintf(f->sni, sizeof(f->sni), "%s", name ? name : "");
  return SSL_TLSEXT_ERR_OK;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  FILE *fe;
  assert_int_equal(
      test_cert_make_san(&f->tc, "plaza-test", "DNS:localhost,IP:127.0.0.1"),
      0);
  snprintf(f->empty, sizeof(f->empty), "%s/empty.pem", f->tc.dir);
  assert_non_null(fe = fopen(f->empty, "w"));
  fputs("no certificate here\n", fe);
  fclose(fe);
  f->server_ctx = SSL_CTX_new(TLS_server_method());
  assert_int_equal(
      SSL_CTX_use_certificate_file(f->server_ctx, f->tc.cert, SSL_FILETYPE_PEM),
      1);
  assert_int_equal(
      SSL_CTX_use_PrivateKey_file(f->server_ctx, f->tc.key, SSL_FILETYPE_PEM),
      1);
  SSL_CTX_set_tlsext_servername_callback(f->server_ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(f->server_ctx, f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  SSL_CTX_free(f->server_ctx);
  unlink(f->empty);
  test_cert_remove(&f->tc);
  free(f);
  return 0;
}

/* A client and an in-memory server, ciphertext carried between them. */
typedef struct pair {
  pz_ctls_conf_t *confs;
  pz_ctls_t *c;
  SSL *srv;
  BIO *srv_in, *srv_out;
  size_t chunk; /* bytes handed over at a time (0: all) */
} pair_t;

static int pair_open(pair_t *p, fixture_t *f, const char *ca_file,
                     const char *name, bool ip, bool insecure) {
  SSL_CTX *sctx;
  int r;
  memset(p, 0, sizeof(*p));
  if ((r = pz_ctls_conf_get(&p->confs, ca_file, &sctx)) != 0)
    return r;
  assert_int_equal(pz_ctls_create(sctx, name, ip, insecure, &p->c), 0);
  p->srv = SSL_new(f->server_ctx);
  p->srv_in = BIO_new(BIO_s_mem());
  p->srv_out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(p->srv_in, -1);
  BIO_set_mem_eof_return(p->srv_out, -1);
  SSL_set_bio(p->srv, p->srv_in, p->srv_out);
  SSL_set_accept_state(p->srv);
  return 0;
}

static void pair_close(pair_t *p) {
  pz_ctls_destroy(p->c);
  SSL_free(p->srv);
  pz_ctls_confs_free(&p->confs);
}

/* Client ciphertext to the server. */
static void to_server(pair_t *p) {
  const char *out;
  size_t n = pz_ctls_out(p->c, &out);
  assert_int_equal(BIO_write(p->srv_in, out, (int)n), (int)n);
  pz_ctls_out_clear(p->c);
}

/* Server ciphertext to the client, `chunk` bytes at a time; returns the
 * client's handshake result after the last piece (or 0 once done). */
static int to_client(pair_t *p, const char **why) {
  char buf[65536];
  int n = BIO_read(p->srv_out, buf, sizeof(buf));
  int r = pz_ctls_handshake_done(p->c) ? 0 : PZ_CLIENT_EAGAIN;
  for (int off = 0; off < n;) {
    int k = p->chunk && (int)p->chunk < n - off ? (int)p->chunk : n - off;
    assert_int_equal(pz_ctls_feed(p->c, buf + off, (size_t)k), 0);
    off += k;
    if (!pz_ctls_handshake_done(p->c)) {
      r = pz_ctls_handshake(p->c, why);
      if (r != 0 && r != PZ_CLIENT_EAGAIN)
        return r;
    }
  }
  return r;
}

/* Runs the handshake to its end. Returns 0 or the client's error. */
static int handshake(pair_t *p, const char **why) {
  int r = pz_ctls_handshake(p->c, why);
  assert_int_equal(r, PZ_CLIENT_EAGAIN); /* the ClientHello is out */
  for (int round = 0; round < 10; round++) {
    to_server(p);
    ERR_clear_error();
    SSL_do_handshake(p->srv);
    r = to_client(p, why);
    if (r != PZ_CLIENT_EAGAIN) {
      to_server(p); /* the client's Finished, or its alert */
      ERR_clear_error();
      SSL_do_handshake(p->srv);
      return r;
    }
  }
  fail_msg("handshake did not end in 10 rounds");
  return -1;
}

static void exchange_data(pair_t *p) {
  char buf[256];
  const char *why = NULL;
  int n;

  assert_int_equal(pz_ctls_write(p->c, "GET /ws", 7), 0);
  to_server(p);
  n = SSL_read(p->srv, buf, sizeof(buf));
  assert_int_equal(n, 7);
  assert_memory_equal(buf, "GET /ws", 7);
  assert_int_equal(SSL_write(p->srv, "HTTP/1.1 101", 12), 12);
  to_client(p, &why);
  n = pz_ctls_read(p->c, buf, sizeof(buf), &why);
  assert_int_equal(n, 12);
  assert_memory_equal(buf, "HTTP/1.1 101", 12);
  assert_int_equal(pz_ctls_read(p->c, buf, sizeof(buf), &why), 0);
}

static void test_trusted_ca_file_both_ways(void **state) {
  fixture_t *f = *state;
  const char *why = NULL;
  static const size_t chunks[] = {0, 1, 7};

  for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    pair_t p;
    assert_int_equal(pair_open(&p, f, f->tc.cert, "127.0.0.1", true, false), 0);
    p.chunk = chunks[i];
    f->sni[0] = 'x';
    int r = handshake(&p, &why);
    if (r != 0)
      fail_msg("chunk %zu: handshake %d (%s)", chunks[i], r, why);
    assert_true(pz_ctls_handshake_done(p.c));
    assert_string_equal(f->sni, ""); /* no SNI for an address */
    exchange_data(&p);
    pair_close(&p);
  }
}

static void test_dns_name_sends_sni_and_is_checked(void **state) {
  fixture_t *f = *state;
  const char *why = NULL;
  pair_t p;

  assert_int_equal(pair_open(&p, f, f->tc.cert, "localhost", false, false), 0);
  assert_int_equal(handshake(&p, &why), 0);
  assert_string_equal(f->sni, "localhost");
  exchange_data(&p);
  pair_close(&p);
}

static void test_untrusted_and_wrong_names_refused(void **state) {
  fixture_t *f = *state;
  static const struct {
    bool system_store;
    const char *name;
    bool ip;
    const char *why;
  } cases[] = {
      {true, "127.0.0.1", true, "self-signed certificate"},
      {true, "localhost", false, "self-signed certificate"},
      {false, "other.example", false, "hostname mismatch"},
      {false, "127.0.0.2", true, "IP address mismatch"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *why = NULL;
    pair_t p;
    assert_int_equal(pair_open(&p, f, cases[i].system_store ? NULL : f->tc.cert,
                               cases[i].name, cases[i].ip, false),
                     0);
    int r = handshake(&p, &why);
    if (r != PZ_CLIENT_ECERT || why == NULL || strcmp(why, cases[i].why) != 0)
      fail_msg("%s: got %d (%s), want ECERT (%s)", cases[i].name, r,
               why ? why : "-", cases[i].why);
    pair_close(&p);
  }
}

static void test_insecure_accepts_anything(void **state) {
  fixture_t *f = *state;
  const char *why = NULL;
  pair_t p;

  assert_int_equal(pair_open(&p, f, NULL, "other.example", false, true), 0);
  assert_int_equal(handshake(&p, &why), 0);
  assert_string_equal(f->sni, "other.example");
  exchange_data(&p);
  pair_close(&p);
}

static void test_close_notify_reads_as_closed(void **state) {
  fixture_t *f = *state;
  const char *why = NULL;
  char buf[64];
  pair_t p;

  assert_int_equal(pair_open(&p, f, f->tc.cert, "127.0.0.1", true, false), 0);
  assert_int_equal(handshake(&p, &why), 0);
  SSL_shutdown(p.srv);
  to_client(&p, &why);
  assert_int_equal(pz_ctls_read(p.c, buf, sizeof(buf), &why),
                   PZ_CLIENT_ECLOSED);
  pair_close(&p);
}

static void test_garbage_from_server_fails(void **state) {
  fixture_t *f = *state;
  const char *why = NULL;
  pair_t p;

  assert_int_equal(pair_open(&p, f, f->tc.cert, "127.0.0.1", true, false), 0);
  assert_int_equal(pz_ctls_handshake(p.c, &why), PZ_CLIENT_EAGAIN);
  assert_int_equal(pz_ctls_feed(p.c, "HTTP/1.1 400 Bad Request\r\n\r\n", 28),
                   0);
  assert_int_equal(pz_ctls_handshake(p.c, &why), PZ_CLIENT_ETLS);
  assert_non_null(why);
  const char *alert;
  assert_true(pz_ctls_out(p.c, &alert) > 0); /* the ClientHello, an alert */
  pair_close(&p);
}

static void test_ca_files_that_cannot_be_used(void **state) {
  fixture_t *f = *state;
  pz_ctls_conf_t *confs = NULL;
  SSL_CTX *a, *b;

  assert_int_equal(pz_ctls_conf_get(&confs, "/nonexistent/ca.pem", &a),
                   PZ_CLIENT_ECAFILE);
  assert_int_equal(pz_ctls_conf_get(&confs, f->empty, &a), PZ_CLIENT_ECAFILE);
  assert_null(confs);
  /* One SSL_CTX per file, shared. */
  assert_int_equal(pz_ctls_conf_get(&confs, f->tc.cert, &a), 0);
  assert_int_equal(pz_ctls_conf_get(&confs, f->tc.cert, &b), 0);
  assert_ptr_equal(a, b);
  assert_int_equal(pz_ctls_conf_get(&confs, NULL, &b), 0);
  assert_ptr_not_equal(a, b);
  pz_ctls_confs_free(&confs);
  assert_null(confs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trusted_ca_file_both_ways),
      cmocka_unit_test(test_dns_name_sends_sni_and_is_checked),
      cmocka_unit_test(test_untrusted_and_wrong_names_refused),
      cmocka_unit_test(test_insecure_accepts_anything),
      cmocka_unit_test(test_close_notify_reads_as_closed),
      cmocka_unit_test(test_garbage_from_server_fails),
      cmocka_unit_test(test_ca_files_that_cannot_be_used),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
