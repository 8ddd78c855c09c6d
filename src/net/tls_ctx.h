/*
 * The server's TLS configuration: one OpenSSL SSL_CTX built from a
 * certificate chain and a key (PEM files), replaced as a whole on reload.
 *
 * Policy (one place): TLS 1.2 and 1.3 only; for 1.2 the ECDHE/DHE AEAD
 * suites of Mozilla's "intermediate" profile, for 1.3 OpenSSL's defaults;
 * ALPN selects http/1.1; no compression, no renegotiation; stateless
 * session tickets, no server-side session cache.
 *
 * Reload builds a new context from the same paths and swaps it in under a
 * mutex; connections hold their own reference (SSL_new takes one), so
 * existing connections keep the old certificate and new ones get the new.
 * A context that fails to build leaves the old one in place.
 */
#ifndef PZ_TLS_CTX_H
#define PZ_TLS_CTX_H

#include <openssl/ssl.h>
#include <stddef.h>

typedef struct pz_tls_ctx pz_tls_ctx_t;

/* Loads cert_path (a PEM chain, leaf first, as certbot's fullchain.pem)
 * and key_path (a PEM private key); the paths are copied. Returns 0 and
 * *out, or a negative PZ_E* code with the reason, naming the file, in err
 * (PZ_EIO: a file cannot be read; PZ_EINVAL: not a certificate or key, or
 * the key does not match the certificate). */
int pz_tls_ctx_create(const char *cert_path, const char *key_path,
                      pz_tls_ctx_t **out, char *err, size_t err_size);

/* Builds a context from the files again and makes it current. Returns 0,
 * or a PZ_E* code with the reason in err (the old context stays). Any
 * thread. */
int pz_tls_ctx_reload(pz_tls_ctx_t *t, char *err, size_t err_size);

/* A new server SSL object on the current context (the caller owns it), or
 * NULL when memory is short. Any thread. */
SSL *pz_tls_ctx_new_ssl(pz_tls_ctx_t *t);

/* "SHA256 fingerprint, subject, expiry" of the current certificate, for
 * the log. */
void pz_tls_ctx_describe(pz_tls_ctx_t *t, char *out, size_t size);

/* Frees t; connections still using its contexts keep them alive. */
void pz_tls_ctx_destroy(pz_tls_ctx_t *t);

#endif
