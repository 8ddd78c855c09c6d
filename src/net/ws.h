/*
 * WebSocket pieces around wslay: the upgrade's accept key and answer, and
 * the frame header of a server message. wslay parses what clients send
 * (masking, fragmentation, control frames, close codes); outgoing data
 * frames are framed here because a broadcast shares one payload among
 * many sockets, which wslay's per-context copy of each message would undo.
 * Server frames are unmasked, so the header is all that differs.
 */
#ifndef PZ_WS_H
#define PZ_WS_H

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

/* Frames one client message may come in. wslay bounds a message's bytes,
 * not its frames: endless empty continuations would hold a message open
 * forever at the cost of CPU alone. Past this the server closes 1009. */
#define PZ_WS_MESSAGE_FRAMES_MAX 1024

/* Follows frame boundaries of a client's byte stream without parsing
 * payloads, so the server knows when wslay holds no partial frame or
 * message and its context (about 9 KiB) can be released while the client
 * is idle, and how many frames the current message came in. Fed exactly
 * the bytes given to wslay. */
typedef struct pz_ws_scan {
  uint64_t payload_left; /* of the frame being read */
  uint32_t frames;       /* data frames of the latest message so far */
  uint8_t have;          /* header bytes read so far */
  uint8_t hdr[14];
  uint8_t in_message; /* a data message's final frame is still to come */
} pz_ws_scan_t;

void pz_ws_scan_feed(pz_ws_scan_t *s, const uint8_t *p, size_t n);
static inline int pz_ws_scan_at_boundary(const pz_ws_scan_t *s) {
  return s->have == 0 && s->payload_left == 0 && !s->in_message;
}

/* base64(SHA-1(key + RFC 6455 GUID)) into out (29 bytes with the NUL). */
void pz_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
