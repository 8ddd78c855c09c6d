/*
 * WebSocket frames for the bench's own light client, sans-I/O (RFC 6455
 * section 5): an incremental parser of server frames that hands payload
 * over in place, chunk by chunk, and a builder of masked client frames.
 *
 * Why not wslay (which the client library uses): wslay copies every
 * message into a buffer it allocates, and a wslay context costs ~8.6 KiB
 * per connection. The bench reads ~10,000 STATE messages a second per
 * thousand clients and decodes only a sample; the rest it merely counts.
 * This parser keeps 24 bytes of state per connection and never copies.
 */
#ifndef PZ_BENCH_WSF_H
#define PZ_BENCH_WSF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  PZ_WSF_CONT = 0x0,
  PZ_WSF_TEXT = 0x1,
  PZ_WSF_BINARY = 0x2,
  PZ_WSF_CLOSE = 0x8,
  PZ_WSF_PING = 0x9,
  PZ_WSF_PONG = 0xa,
};

#define PZ_WSF_HDR_MAX 14 /* 2 + 8 (length) + 4 (mask) */

/* Errors of pz_wsf_feed: the caller fails the connection with 1002. */
enum {
  PZ_WSF_EPROTO = -1, /* RSV bits, unknown opcode, bad control frame */
  PZ_WSF_EMASK = -2,  /* a server frame must not be masked */
  PZ_WSF_ELEN = -3,   /* 64-bit length with the top bit set */
};

typedef struct pz_wsf {
  uint64_t left; /* payload bytes of the current frame still to come */
  uint8_t hdr[10];
  uint8_t hlen; /* header bytes gathered (0 when between frames) */
  bool in_payload;
  uint8_t opcode;
  bool fin;
} pz_wsf_t;

/* What the parser reports; u is the caller's pointer. A callback returning
 * non-zero stops the feed (pz_wsf_feed returns that value), e.g. when the
 * caller closed the connection from inside it. */
typedef struct pz_wsf_cbs {
  /* A frame header is complete: opcode, FIN bit, payload length. */
  int (*on_frame)(void *u, int opcode, bool fin, uint64_t len);
  /* Payload bytes of that frame, in order; `last` is true with the chunk
   * that ends the frame (a zero-length frame gets one empty last chunk). */
  int (*on_data)(void *u, const uint8_t *p, size_t n, bool last);
} pz_wsf_cbs_t;

static inline void pz_wsf_init(pz_wsf_t *f) {
  *f = (pz_wsf_t){0};
}

/* Feeds len bytes of the server's stream, in chunks of any size. Returns
 * 0, a PZ_WSF_E* error, or a callback's non-zero value. */
int pz_wsf_feed(pz_wsf_t *f, const uint8_t *data, size_t len,
                const pz_wsf_cbs_t *cbs, void *u);

/* Writes a masked client frame into out (at least PZ_WSF_HDR_MAX + len
 * bytes): header, the mask, then payload XOR mask. Returns the frame
 * length. */
size_t pz_wsf_build(uint8_t *out, int opcode, const uint8_t *payload,
                    size_t len, const uint8_t mask[4]);

/* XORs n bytes with mask, starting at mask offset `off` (unmasks too). */
void pz_wsf_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t off);

#endif
