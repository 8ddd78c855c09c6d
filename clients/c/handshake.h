/*
 * The client side of the WebSocket opening handshake (RFC 6455 section 4),
 * sans-I/O: the key, the expected accept value, the request text and an
 * incremental parser of the server's response. client.c ties these to the
 * socket.
 *
 * The response parser copies the header block into a buffer that grows in
 * steps (512 bytes up to PZ_HTTP_RESP_MAX) until the empty line, then checks
 * it in one pass. It never reads past the empty line: what follows is the
 * start of the WebSocket stream and belongs to the caller.
 */
#ifndef PZ_CLIENT_HANDSHAKE_H
#define PZ_CLIENT_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "url.h"

#define PZ_WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define PZ_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define PZ_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define PZ_HTTP_RESP_MAX 8192  /* largest response header block accepted */
#define PZ_WS_PROTOCOL_MAX 128 /* longest Sec-WebSocket-Protocol offered */

/* Writes a fresh Sec-WebSocket-Key (16 bytes from RAND_bytes, base64) and a
 * NUL. Returns 0, or PZ_CLIENT_EIO when the RNG fails. */
int pz_ws_key_generate(char key[PZ_WS_KEY_LEN + 1]);

/* Writes base64(SHA-1(key + GUID)) and a NUL: the Sec-WebSocket-Accept a
 * server must answer to `key` (key_len bytes, at most 64). Returns 0 or
 * PZ_CLIENT_EINVAL. */
int pz_ws_accept_compute(const char *key, size_t key_len,
                         char out[PZ_WS_ACCEPT_LEN + 1]);

/* Writes the upgrade request for url with key and the offered subprotocol
 * (NULL: none) into buf (cap bytes, NUL-terminated when it fits), snprintf
 * style: returns the length the request needs (without the NUL), so a call
 * with cap 0 sizes the buffer. Returns PZ_CLIENT_EINVAL when subprotocol is
 * longer than PZ_WS_PROTOCOL_MAX, empty or holds characters a header value
 * cannot (controls, DEL). */
int pz_ws_request_build(char *buf, size_t cap, const pz_url_t *url,
                        const char *key, const char *subprotocol);

typedef struct pz_http_resp {
  char *buf; /* the header block so far, heap */
  uint32_t len, cap;
  uint8_t eoh;            /* end-of-header matcher: 1 after LF, 2 after LF CR */
  bool done;              /* the header block was complete */
  int status;             /* HTTP status, 0 until the status line is read */
  const char *why;        /* static text saying what was wrong, or NULL */
  bool protocol_selected; /* the server chose the offered subprotocol */
  const char *offered;    /* borrowed, NULL when none was offered */
  char accept[PZ_WS_ACCEPT_LEN + 1]; /* expected Sec-WebSocket-Accept */
} pz_http_resp_t;

/* Prepares p to check a response to a request made with `key` (NUL-
 * terminated) that offered `offered` (NULL for none; borrowed until
 * dispose). Allocates nothing. */
void pz_http_resp_init(pz_http_resp_t *p, const char *key, const char *offered);

/* Feeds len bytes of the response, in chunks of any size down to one byte.
 * Returns:
 *  - n > 0 when the header block is complete and valid: the first n of
 *    these len bytes were the end of the header block; the rest (len - n)
 *    is WebSocket data. Feeding more afterwards is an error (EINVAL).
 *  - PZ_CLIENT_EAGAIN when all len bytes were taken and more are needed;
 *  - PZ_CLIENT_EHANDSHAKE when the response refuses or botches the upgrade:
 *    p->status holds the HTTP status if it could be read and p->why says
 *    what was wrong (status not 101, missing or wrong Upgrade, Connection or
 *    Sec-WebSocket-Accept, an unoffered subprotocol or extension, a header
 *    block larger than PZ_HTTP_RESP_MAX, a malformed line);
 *  - PZ_CLIENT_ENOMEM. */
ssize_t pz_http_resp_feed(pz_http_resp_t *p, const char *data, size_t len);

/* Frees the buffer. p may be fed again only after pz_http_resp_init(). */
void pz_http_resp_dispose(pz_http_resp_t *p);

#endif
