/*
 * Engine.IO v4 / Socket.io v5 packets with socket.io-msgpack-parser, as the
 * Socket.io peer speaks them (bench/peers/socketio/README.md), sans-I/O.
 *
 * Engine.IO control packets are text frames ("0{...}" open, "2" ping, "3"
 * pong). Every Socket.io packet is one binary frame holding one MessagePack
 * map {type, nsp, data, id?}, whose key order varies: decoding goes by key.
 * EVENT data is [name, arg] ([name] without argument). Numbers from the
 * server are integers or float64 (an integral coordinate comes as an int);
 * JavaScript `undefined` is fixext d4 00 00 and is skipped like any value.
 */
#ifndef PZ_BENCH_SIO_H
#define PZ_BENCH_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "mpr.h"

enum pz_sio_type {
  PZ_SIO_CONNECT = 0,
  PZ_SIO_DISCONNECT = 1,
  PZ_SIO_EVENT = 2,
  PZ_SIO_ACK = 3,
  PZ_SIO_CONNECT_ERROR = 4,
};

/* Engine.IO text packets. */
#define PZ_EIO_OPEN '0'
#define PZ_EIO_PING '2'
#define PZ_EIO_PONG "3"

typedef struct pz_sio_packet {
  int type;            /* enum pz_sio_type, -1 when absent */
  bool nsp_root;       /* nsp is "/" (or absent, which means "/") */
  const uint8_t *data; /* the raw MessagePack of `data`, or NULL */
  size_t data_len;
  bool has_id;
  uint64_t id;
} pz_sio_packet_t;

/* Decodes one binary-frame packet: a map, read by key, unknown keys
 * skipped. data[] is borrowed by out. Returns 0, or -1 when the bytes are
 * not one well-formed map with an integer type. */
int pz_sio_decode(const uint8_t *p, size_t len, pz_sio_packet_t *out);

/* The event name of an EVENT packet and a cursor on its argument
 * (*has_arg false for [name]). Returns 0 or -1 (not [str, ...]). */
int pz_sio_event(const pz_sio_packet_t *pk, const char **name,
                 uint32_t *name_len, pz_mpr_t *arg, bool *has_arg);

/* True when the event's name is `lit`. */
bool pz_sio_name_is(const char *name, uint32_t len, const char *lit);

/* `state` argument [tick, [[id, seq, x, y, z, yaw], ...]]: begin reads up
 * to the entries' array header, then call entry n times. Numbers may be
 * ints or floats; ids and seqs must be non-negative integers (an integral
 * float64 is accepted). pos may be NULL. Return 0 or -1. */
int pz_sio_state_begin(pz_mpr_t *arg, uint64_t *tick, uint32_t *n);
int pz_sio_state_entry(pz_mpr_t *r, uint64_t *id, uint64_t *seq, double pos[4]);

/* From the first bytes of a frame: when they are a `state` event in the
 * layout the server writes (keys type, data, nsp), the number of entries
 * it holds, so a client that only counts needs no more. Returns false for
 * anything else (decode it fully then). */
bool pz_sio_peek_state(const uint8_t *p, size_t len, uint32_t *entries);

/* Encoders, through the caller's packer. The minimal forms the README
 * documents: CONNECT {type:0, nsp:"/"}, DISCONNECT {type:1, nsp:"/"}, and
 * events {type:2, data:[name, arg], nsp:"/"}: begin, pack the argument
 * (when has_arg), then end. */
void pz_sio_enc_connect(msgpack_packer *pk);
void pz_sio_enc_disconnect(msgpack_packer *pk);
void pz_sio_enc_event_begin(msgpack_packer *pk, const char *name, bool has_arg);
void pz_sio_enc_event_end(msgpack_packer *pk);

#endif
