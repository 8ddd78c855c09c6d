/*
 * Test certificates made at run time with OpenSSL: a self-signed P-256
 * certificate and its key, written as PEM files into a fresh temp dir.
 * Header-only, shared by the TLS stream and TLS context tests.
 */
#ifndef PZ_TEST_TLS_CERTS_H
#define PZ_TEST_TLS_CERTS_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct test_cert {
  char dir[64];
  char cert[128], key[128];
} test_cert_t;

/* A new key and certificate for CN=cn under a new temp dir, with the
 * subjectAltName `san` ("DNS:localhost,IP:127.0.0.1"; NULL: none); 0 or
 * -1. */
static int test_cert_make_san(test_cert_t *tc, const char *cn,
                              const char *san) {
  snprintf(tc->dir, sizeof(tc->dir), "/tmp/pz-tls-XXXXXX");
  if (!mkdtemp(tc->dir))
    return -1;
  snprintf(tc->cert, sizeof(tc->cert), "%s/cert.pem", tc->dir);
  snprintf(tc->key, sizeof(tc->key), "%s/key.pem", tc->dir);
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  int ok = pkey && x;
  if (ok) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid());
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (san != NULL) {
      X509V3_CTX v3;
      X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
      X509_EXTENSION *ext =
          X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
      ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(x, pkey, EVP_sha256()) > 0;
  }
  FILE *fc = ok ? fopen(tc->cert, "w") : NULL;
  FILE *fk = ok ? fopen(tc->key, "w") : NULL;
  ok = fc && fk && PEM_write_X509(fc, x) == 1 &&
       PEM_write_PrivateKey(fk, pkey, NULL, NULL, 0, NULL, NULL) == 1;
  if (fc)
    fclose(fc);
  if (fk)
    fclose(fk);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return ok ? 0 : -1;
}

/* The same without subjectAltName. */
static inline int test_cert_make(test_cert_t *tc, const char *cn) {
  return test_cert_make_san(tc, cn, NULL);
}

static void test_cert_remove(test_cert_t *tc) {
  unlink(tc->cert);
  unlink(tc->key);
  rmdir(tc->dir);
}

#endif
