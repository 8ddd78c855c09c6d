/*
 * The server's WebSocket: the upgrade's accept key and answer, the frame
 * header of a server message, and the receiver of what clients send.
 * Outgoing frames are framed here because a broadcast shares one payload
 * among many sockets: server frames are unmasked, so the header is all
 * that differs (and it depends only on the length).
 */
#ifndef PZ_WS_H
#define PZ_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define PZ_WS_HEADER_MAX 10

/* Writes the header of a final frame with `opcode` carrying len bytes.
 * Returns its size (2, 4 or 10). */
size_t pz_ws_frame_header(uint8_t out[PZ_WS_HEADER_MAX], int opcode,
                          uint64_t len);

/* Checks that a request head is a WebSocket upgrade we accept. Returns 0
 * and writes the 101 answer into out (NUL-terminated), or returns the HTTP
 * status to refuse with (400, 426). */
int pz_ws_handshake(const pz_http_req_t *req, char *out, size_t out_size);

/* Frames one client message may come in. A message's bytes are bounded by
 * --max-message, not its frames: endless empty continuations would hold a
 * message open forever at the cost of CPU alone. Past this the server
 * closes 1009. */
#define PZ_WS_MESSAGE_FRAMES_MAX 1024

#define PZ_WS_CONTROL_MAX 125 /* payload of a control frame (RFC 6455 5.5) */

/* The receiving side of a server's WebSocket, sans-I/O: it parses what a
 * client sends straight from the caller's read buffer, unmasking in place,
 * and hands up each complete message. A frame that arrives whole (every
 * small message, as a rule) goes up where it lies, with no copy and no
 * allocation; only a message or a control frame split across reads is
 * gathered, in a buffer that exists only meanwhile. So an idle
 * connection's receiver is these few bytes.
 *
 * It checks what RFC 6455 asks of a server: masked frames, no RSV bits (no
 * extension is negotiated), known opcodes, control frames final and at
 * most 125 bytes, minimal lengths, continuations only within a message,
 * close codes, and the size bound; answering pings and closes is the
 * caller's. Errors stop it for good. */
typedef struct pz_ws_rx {
  uint64_t payload_left; /* of the frame being read */
  uint8_t *msg;          /* a data message in pieces (malloc'd), or NULL */
  uint32_t msg_len, msg_cap;
  uint8_t *ctl; /* a control frame in pieces (malloc'd), or NULL */
  uint8_t ctl_len;
  uint8_t have; /* header bytes read so far */
  uint8_t hdr[14];
  uint8_t op;     /* opcode of the frame being read */
  uint8_t msg_op; /* opcode of the data message in progress, 0: none */
  uint8_t mask_key[4];
  uint8_t mask_at;
  uint8_t done;    /* a close was read, or an error: nothing more is parsed */
  uint32_t frames; /* data frames of the latest message so far */
} pz_ws_rx_t;

/* A complete message: opcode (binary, text, close, ping, pong) and its
 * unmasked payload, valid for the call. Returns 0 to go on, nonzero to stop
 * after it (what follows is left unparsed, see pz_ws_rx_feed). */
typedef int (*pz_ws_rx_cb)(void *arg, int opcode, const uint8_t *data,
                           size_t len);

/* Parses len bytes of data (modified: unmasked in place), calling cb for
 * each complete message. Stops after a close frame, on an error, or when
 * cb returns nonzero; *used says how many bytes were parsed (the rest must
 * be fed again later, as they are). Returns 0, or the close code the
 * connection must end with: 1002 (protocol error), 1009 (a message over
 * max_message bytes or in more than PZ_WS_MESSAGE_FRAMES_MAX frames). A
 * close frame's payload is checked (empty, or a valid code and a reason):
 * the reason's UTF-8 is the caller's to check. Aborts on out of memory
 * (server code). */
int pz_ws_rx_feed(pz_ws_rx_t *rx, uint8_t *data, size_t len, size_t max_message,
                  pz_ws_rx_cb cb, void *arg, size_t *used);
/* True when no frame or message is partly read. */
static inline bool pz_ws_rx_at_boundary(const pz_ws_rx_t *rx) {
  return rx->have == 0 && rx->payload_left == 0 && rx->msg_op == 0;
}
/* Frees the buffers a message in pieces used: at a boundary
 * (pz_ws_rx_at_boundary), once done, or when the connection goes. */
void pz_ws_rx_release(pz_ws_rx_t *rx);

/* base64(SHA-1(key + RFC 6455 GUID)) into out (29 bytes with the NUL). */
void pz_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
