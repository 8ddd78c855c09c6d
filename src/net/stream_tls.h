/*
 * TLS as a byte stream (see stream.h) wrapping a TCP stream: OpenSSL reads
 * and writes through a BIO of ours and this file moves ciphertext between
 * it and the TCP stream, so the layers above see plaintext through the
 * same interface and never learn that TLS is there.
 *
 * Design notes:
 * - Reading: OpenSSL reads the ciphertext straight from the TCP stream's
 *   read buffer (no copy into a BIO first) and SSL_read decrypts into a
 *   plaintext buffer on the stack, handed to on_read. What OpenSSL has not
 *   read when the call returns (reading stopped, or the stream moves) is
 *   kept by the stream, and freed once read. The handshake runs inside:
 *   reads may produce handshake output to write.
 * - Writing keeps the try-first contract: writev encrypts plaintext (small
 *   iovecs gathered into records of up to 16 KiB: one per flush as a
 *   rule) into a stage on its stack and passes it to the TCP stream in
 *   one write, behind what is held. What the socket does not take is
 *   held here, at most about PZ_TLS_HOLD_MAX bytes: writev stops
 *   encrypting at that bound and takes nothing while above it, so the
 *   owner's queue keeps the rest, and on_writable fires once the held
 *   ciphertext has gone.
 * - Why not OpenSSL's memory BIOs: every read was copied into and out of
 *   the read BIO and each flush reset the write BIO, which clears its
 *   whole buffer; replacing them cut the user time TLS adds at 1,000
 *   clients in `social` by about a third (docs/benchmarks.md, issue 19).
 *   Why not a socket BIO on the descriptor (not tried): OpenSSL's uses
 *   read()/write() (the VFS path), makes a system call per record, and
 *   reading until WANT_READ would cost a recv() that fails.
 * - Detach keeps the TLS state (the SSL object, unread ciphertext, held
 *   output); pz_tls_stream_wrap puts it on a new TCP stream, on any loop.
 *   An SSL object may change threads when it is not used concurrently; the
 *   caller's hand-over (a mutex-protected mailbox) orders memory.
 * - Idle streams stay small: SSL_MODE_RELEASE_BUFFERS (tls_ctx.c), no
 *   buffer in the BIO, kept input and held output freed once gone.
 * - Reading makes output too: the handshake, and in TLS 1.3 a KeyUpdate
 *   that asks for one in return. A peer that sends those and never reads
 *   would fill `held` without end, so it is bounded (hold_max: past it
 *   reading ends with PZ_EFULL, and the owner counts pz_stream_held()
 *   against its own bound meanwhile), and the KeyUpdates a peer may send
 *   are limited per window (past the limit reading ends with PZ_EABUSE).
 *   Held ciphertext is a chain of blocks (bufchain.h): appending never
 *   moves what is already held.
 */
#ifndef PZ_STREAM_TLS_H
#define PZ_STREAM_TLS_H

#include <openssl/ssl.h>

#include "stream.h"

/* Ciphertext a stream holds for a socket that is full, give or take one
 * record: the bound past which writev takes no plaintext. */
#define PZ_TLS_HOLD_MAX (64 * 1024)

/* The window over which a peer's KeyUpdate messages are counted. */
#define PZ_TLS_KEY_UPDATE_WINDOW_MS 10000

typedef struct pz_tls_stream pz_tls_stream_t;

/* What a peer may make the stream hold or do. */
typedef struct pz_tls_limits {
  /* Held ciphertext past which reading ends with PZ_EFULL (0: no bound
   * but PZ_TLS_HOLD_MAX on what writev encrypts). */
  size_t hold_max;
  /* KeyUpdate messages the peer may send within one window of
   * PZ_TLS_KEY_UPDATE_WINDOW_MS; one more ends reading with PZ_EABUSE
   * (0: no limit). */
  uint32_t key_updates;
} pz_tls_limits_t;

/* A server-side TLS stream over ssl (takes ownership of it, also on
 * failure) with the limits given (copied). Returns NULL when ssl is NULL
 * or memory is short. It carries nothing until wrapped. Any thread; then
 * the thread of the loop it is wrapped on. */
pz_tls_stream_t *pz_tls_stream_create(SSL *ssl, const pz_tls_limits_t *lim);

/* Puts the stream on tcp, a TCP stream just opened on the calling thread's
 * loop (borrowed until the TLS stream's close or detach completes; the TLS
 * stream takes tcp's callbacks). Returns the stream to read and write
 * through; its owner sets data, on_read and on_writable. After a detach,
 * wrap again on the new loop: ciphertext read or held before the move is
 * handled on a later turn of that loop, once reading is started. */
pz_stream_t *pz_tls_stream_wrap(pz_tls_stream_t *t, pz_tcp_stream_t *tcp);

/* Ciphertext already read from the socket by someone else (a PROXY
 * header's reader took more than the header): decrypted as if it had just
 * arrived, once the stream is wrapped and reading. Before wrap only. 0 or
 * PZ_ENOMEM (copied). */
int pz_tls_stream_push_input(pz_tls_stream_t *t, const uint8_t *data,
                             size_t len);

/* Frees the stream and its SSL object (NULL: nothing). Only when it is not
 * wrapped, or its close or detach has completed. */
void pz_tls_stream_destroy(pz_tls_stream_t *t);

/* The SSL object, for inspection (version, ALPN, peer); borrowed. */
SSL *pz_tls_stream_ssl(pz_tls_stream_t *t);

#endif
