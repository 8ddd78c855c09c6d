/*
 * The server's SSL_CTX and its reload (see tls_ctx.h).
 */
#include "tls_ctx.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "error.h"

/* Mozilla "intermediate" (v5.7) for TLS 1.2: forward secrecy and AEAD
 * only. TLS 1.3 keeps OpenSSL's default suites, all of which qualify. */
#define TLS12_CIPHERS                                                          \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                 \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                 \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                 \
  "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"                       \
  "DHE-RSA-CHACHA20-POLY1305"

struct pz_tls_ctx {
  uv_mutex_t lock; /* guards `current` */
  SSL_CTX *current;
  char *cert_path, *key_path;
};

/* HTTP/1.1 is all plaza speaks (WebSocket upgrades included): pick it
 * when offered; a client offering only others (h2 alone) goes on without
 * ALPN rather than being refused, as HTTP servers commonly do. */
static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* The last OpenSSL error of this thread, in words (the queue is cleared). */
static const char *ssl_reason(char *buf, size_t size) {
  unsigned long e = ERR_peek_last_error();
  if (!e)
    snprintf(buf, size, "unknown error");
  else
    ERR_error_string_n(e, buf, size);
  ERR_clear_error();
  return buf;
}

/* Readable by us? OpenSSL's own message for a missing file is cryptic. */
static int check_readable(const char *what, const char *path, char *err,
                          size_t err_size) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, err_size, "%s %s: %s", what, path, strerror(errno));
    return PZ_EIO;
  }
  fclose(f);
  return 0;
}

static int build(const char *cert, const char *key, SSL_CTX **out, char *err,
                 size_t err_size) {
  char why[256];
  int r;
  if ((r = check_readable("--tls-cert", cert, err, err_size)) ||
      (r = check_readable("--tls-key", key, err, err_size)))
    return r;
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    snprintf(err, err_size, "SSL_CTX_new: %s", ssl_reason(why, sizeof(why)));
    return PZ_ENOMEM;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  /* NO_RENEGOTIATION refuses it both ways (TLS 1.3 has none). */
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  /* Memory BIOs never block, so partial writes and a moving buffer are
   * harmless; released buffers keep idle connections small. */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  /* Tickets resume sessions without a cache shared (and locked) by every
   * worker. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_dh_auto(ctx, 1);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
  if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
    snprintf(err, err_size, "cipher list: %s", ssl_reason(why, sizeof(why)));
    r = PZ_EINVAL;
    goto fail;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    snprintf(err, err_size, "--tls-cert %s: not a PEM certificate (%s)", cert,
             ssl_reason(why, sizeof(why)));
    r = PZ_EINVAL;
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    /* A key of another type than the certificate's fails here already. */
    unsigned long e = ERR_peek_last_error();
    snprintf(err, err_size,
             ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                     ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH
                 ? "--tls-key %s does not match the certificate (%s)"
                 : "--tls-key %s: not a PEM private key (%s)",
             key, ssl_reason(why, sizeof(why)));
    r = PZ_EINVAL;
    goto fail;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    snprintf(err, err_size, "--tls-key %s does not match the certificate (%s)",
             key, ssl_reason(why, sizeof(why)));
    r = PZ_EINVAL;
    goto fail;
  }
  *out = ctx;
  return 0;
fail:
  SSL_CTX_free(ctx);
  return r;
}

int pz_tls_ctx_create(const char *cert_path, const char *key_path,
                      pz_tls_ctx_t **out, char *err, size_t err_size) {
  SSL_CTX *ctx;
  int r = build(cert_path, key_path, &ctx, err, err_size);
  if (r)
    return r;
  pz_tls_ctx_t *t = calloc(1, sizeof(*t));
  if (!t || !(t->cert_path = strdup(cert_path)) ||
      !(t->key_path = strdup(key_path)) || uv_mutex_init(&t->lock) != 0) {
    if (t) {
      free(t->cert_path);
      free(t->key_path);
    }
    free(t);
    SSL_CTX_free(ctx);
    snprintf(err, err_size, "out of memory");
    return PZ_ENOMEM;
  }
  t->current = ctx;
  *out = t;
  return 0;
}

int pz_tls_ctx_reload(pz_tls_ctx_t *t, char *err, size_t err_size) {
  SSL_CTX *ctx, *old;
  int r = build(t->cert_path, t->key_path, &ctx, err, err_size);
  if (r)
    return r;
  uv_mutex_lock(&t->lock);
  old = t->current;
  t->current = ctx;
  uv_mutex_unlock(&t->lock);
  SSL_CTX_free(old); /* our reference: connections hold their own */
  return 0;
}

SSL *pz_tls_ctx_new_ssl(pz_tls_ctx_t *t) {
  uv_mutex_lock(&t->lock);
  SSL *ssl = SSL_new(t->current); /* takes a reference on the context */
  uv_mutex_unlock(&t->lock);
  return ssl;
}

void pz_tls_ctx_describe(pz_tls_ctx_t *t, char *out, size_t size) {
  uv_mutex_lock(&t->lock);
  X509 *cert = SSL_CTX_get0_certificate(t->current);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char fp[3 * EVP_MAX_MD_SIZE] = "?", subject[256] = "?", until[64] = "?";
  if (cert && X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
    for (unsigned i = 0; i < mdlen; i++)
      snprintf(fp + 3 * i, sizeof(fp) - 3 * i, "%02X%s", md[i],
               i + 1 < mdlen ? ":" : "");
  if (cert) {
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    BIO *b = BIO_new(BIO_s_mem());
    if (b && ASN1_TIME_print(b, X509_get0_notAfter(cert)) == 1) {
      int n = BIO_read(b, until, sizeof(until) - 1);
      until[n > 0 ? n : 0] = 0;
    }
    BIO_free(b);
  }
  uv_mutex_unlock(&t->lock);
  snprintf(out, size, "SHA256 %s, subject %s, valid until %s", fp, subject,
           until);
}

void pz_tls_ctx_destroy(pz_tls_ctx_t *t) {
  if (!t)
    return;
  SSL_CTX_free(t->current);
  uv_mutex_destroy(&t->lock);
  free(t->cert_path);
  free(t->key_path);
  free(t);
}
