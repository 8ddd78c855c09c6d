/*
 * Guards src/net/tls_ctx.c: a certificate and key load (TLS 1.2 minimum,
 * ALPN set up); a missing file, a file that is not PEM and a key that does
 * not match the certificate are refused with a reason naming the file; a
 * reload swaps the certificate for new SSL objects while ones made before
 * keep theirs, and a failed reload keeps the current one.
 */
#include <openssl/err.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "tls_certs.h"
#include "tls_ctx.h"

static X509 *cert_of(SSL *ssl) {
  X509 *x = SSL_get_certificate(ssl);
  assert_non_null(x);
  return x;
}

static void test_loads_with_the_policy(void **state) {
  test_cert_t tc;
  assert_int_equal(test_cert_make(&tc, "one"), 0);
  pz_tls_ctx_t *t = NULL;
  char err[256] = "";
  assert_int_equal(pz_tls_ctx_create(tc.cert, tc.key, &t, err, sizeof(err)), 0);
  SSL *ssl = pz_tls_ctx_new_ssl(t);
  assert_non_null(ssl);
  assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_2_VERSION);
  assert_true(SSL_get_options(ssl) & SSL_OP_NO_COMPRESSION);
  assert_true(SSL_get_options(ssl) & SSL_OP_NO_RENEGOTIATION);
  char desc[512];
  pz_tls_ctx_describe(t, desc, sizeof(desc));
  assert_non_null(strstr(desc, "CN=one"));
  assert_non_null(strstr(desc, "SHA256 "));
  SSL_free(ssl);
  pz_tls_ctx_destroy(t);
  test_cert_remove(&tc);
}

static void test_bad_files_refused_with_reason(void **state) {
  test_cert_t a, b;
  assert_int_equal(test_cert_make(&a, "a"), 0);
  assert_int_equal(test_cert_make(&b, "b"), 0);
  pz_tls_ctx_t *t = NULL;
  char err[512];

  assert_int_equal(
      pz_tls_ctx_create("/nonexistent/c.pem", a.key, &t, err, sizeof(err)),
      PZ_EIO);
  assert_non_null(strstr(err, "/nonexistent/c.pem"));
  assert_non_null(strstr(err, "No such file"));

  assert_int_equal(
      pz_tls_ctx_create(a.cert, "/nonexistent/k.pem", &t, err, sizeof(err)),
      PZ_EIO);
  assert_non_null(strstr(err, "--tls-key"));

  /* The key given as the certificate, and the reverse. */
  assert_int_equal(pz_tls_ctx_create(a.key, a.key, &t, err, sizeof(err)),
                   PZ_EINVAL);
  assert_non_null(strstr(err, "not a PEM certificate"));
  assert_int_equal(pz_tls_ctx_create(a.cert, a.cert, &t, err, sizeof(err)),
                   PZ_EINVAL);
  assert_non_null(strstr(err, "--tls-key"));

  assert_int_equal(pz_tls_ctx_create(a.cert, b.key, &t, err, sizeof(err)),
                   PZ_EINVAL);
  assert_non_null(strstr(err, "does not match"));
  assert_null(t);
  assert_int_equal(ERR_peek_error(), 0); /* nothing left in the queue */
  test_cert_remove(&a);
  test_cert_remove(&b);
}

static void test_reload_swaps_for_new_connections_only(void **state) {
  test_cert_t tc, next;
  assert_int_equal(test_cert_make(&tc, "old"), 0);
  assert_int_equal(test_cert_make(&next, "new"), 0);
  pz_tls_ctx_t *t = NULL;
  char err[512];
  assert_int_equal(pz_tls_ctx_create(tc.cert, tc.key, &t, err, sizeof(err)), 0);
  SSL *before = pz_tls_ctx_new_ssl(t);
  X509 *old_cert = cert_of(before);

  /* A renewal that wrote a key not matching its certificate: refused,
   * the current certificate stays. */
  assert_int_equal(rename(next.key, tc.key), 0);
  assert_int_equal(pz_tls_ctx_reload(t, err, sizeof(err)), PZ_EINVAL);
  SSL *during = pz_tls_ctx_new_ssl(t);
  assert_int_equal(X509_cmp(cert_of(during), old_cert), 0);

  assert_int_equal(rename(next.cert, tc.cert), 0);
  assert_int_equal(pz_tls_ctx_reload(t, err, sizeof(err)), 0);
  SSL *after = pz_tls_ctx_new_ssl(t);
  assert_int_not_equal(X509_cmp(cert_of(after), old_cert), 0);
  char desc[512];
  pz_tls_ctx_describe(t, desc, sizeof(desc));
  assert_non_null(strstr(desc, "CN=new"));
  /* The SSL made before the reload still has the old context. */
  assert_int_equal(X509_cmp(cert_of(before), old_cert), 0);

  pz_tls_ctx_destroy(t); /* the SSL objects keep their contexts alive */
  assert_int_equal(X509_cmp(cert_of(before), old_cert), 0);
  SSL_free(before);
  SSL_free(during);
  SSL_free(after);
  test_cert_remove(&tc);
  rmdir(next.dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loads_with_the_policy),
      cmocka_unit_test(test_bad_files_refused_with_reason),
      cmocka_unit_test(test_reload_swaps_for_new_connections_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
