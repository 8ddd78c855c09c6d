/*
 * TLS for wss://, sans-I/O: OpenSSL on memory BIOs between the WebSocket
 * layer (plaintext) and the socket (ciphertext), the way the server's
 * src/net/stream_tls.c does it, so that libuv keeps doing the socket I/O
 * and OpenSSL never touches a descriptor. client.c moves the bytes.
 *
 * Verification is on by default: the server's chain must lead to a
 * trusted CA (the system's store, or a CA file), and its certificate must
 * name the host of the URL (a DNS name, checked with SNI sent; or an IP
 * literal, checked against the certificate's IP addresses, no SNI).
 * `insecure` turns both checks off (development against a self-signed
 * certificate): the link is still encrypted, but anyone may be at the
 * other end.
 *
 * The SSL_CTX (and the CA store it loads) is shared by every client of a
 * context that names the same CA file: one per file, kept until the
 * context is freed.
 */
#ifndef PZ_CLIENT_TLS_H
#define PZ_CLIENT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

typedef struct pz_ctls_conf pz_ctls_conf_t;
typedef struct pz_ctls pz_ctls_t;

/* The SSL_CTX for `ca_file` (NULL: the system's store) from the list at
 * *confs, made and appended on first use. Returns 0 and *out (borrowed
 * until pz_ctls_confs_free), PZ_CLIENT_ECAFILE when the file cannot be
 * read or holds no certificate, PZ_CLIENT_ENOMEM. */
int pz_ctls_conf_get(pz_ctls_conf_t **confs, const char *ca_file,
                     SSL_CTX **out);
/* Frees every SSL_CTX of the list (their users' SSL objects keep a
 * reference of their own). */
void pz_ctls_confs_free(pz_ctls_conf_t **confs);

/* A client TLS session to `name` (the URL's host, without brackets;
 * copied): SNI and a name check for a DNS name, an address check for an IP
 * literal (ip_literal), neither when insecure. Returns 0 and *out,
 * PZ_CLIENT_ENOMEM, PZ_CLIENT_EINVAL (a name OpenSSL refuses). */
int pz_ctls_create(SSL_CTX *sctx, const char *name, bool ip_literal,
                   bool insecure, pz_ctls_t **out);
void pz_ctls_destroy(pz_ctls_t *t);

/* Ciphertext from the socket. Returns 0 or PZ_CLIENT_ENOMEM. */
int pz_ctls_feed(pz_ctls_t *t, const char *data, size_t len);

/* Moves the handshake on with what was fed. Returns 0 once it is done,
 * PZ_CLIENT_EAGAIN while it needs more input, PZ_CLIENT_ECERT when the
 * server's certificate was not trusted or does not name the host, or
 * PZ_CLIENT_ETLS for any other failure; *why then says what (a static
 * string). Hand pz_ctls_out() to the socket after each call, failures
 * included (an alert for the server). */
int pz_ctls_handshake(pz_ctls_t *t, const char **why);
bool pz_ctls_handshake_done(const pz_ctls_t *t);

/* Decrypts into buf (cap bytes). Returns the plaintext length (> 0), 0
 * when more input is needed, PZ_CLIENT_ECLOSED when the server ended TLS
 * (close_notify), PZ_CLIENT_ETLS (and *why) on a failure. */
int pz_ctls_read(pz_ctls_t *t, char *buf, size_t cap, const char **why);

/* Encrypts len bytes of plaintext; the records wait in pz_ctls_out().
 * Only after the handshake. Returns 0, PZ_CLIENT_ETLS or
 * PZ_CLIENT_ENOMEM. */
int pz_ctls_write(pz_ctls_t *t, const char *data, size_t len);

/* The ciphertext waiting for the socket: *p and its length, valid until
 * the next call on t. pz_ctls_out_clear() once the socket has it (or a
 * copy of it). */
size_t pz_ctls_out(pz_ctls_t *t, const char **p);
void pz_ctls_out_clear(pz_ctls_t *t);

#endif
