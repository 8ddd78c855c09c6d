/*
 * What nodes say to each other through Redis, and what they keep there:
 * one MessagePack array per message, [version, origin node, type, ...],
 * sans-I/O. Encoders write through a msgpack_packer; the decoder reads a
 * payload from Redis, which we do not trust: every length is checked
 * against the bytes left, nesting is bounded, nothing is allocated, and
 * strings in the result point into the payload (borrowed). Elements past
 * the ones a type lists are skipped (a newer node may add fields).
 *
 * The same bytes serve as channel messages and as stored values: the
 * presence hash holds each member's JOIN, the chat list each CHAT, a
 * session record is a SESSION message.
 */
#ifndef PZ_BUSMSG_H
#define PZ_BUSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "plaza/codec.h"

#define PZ_BUS_VERSION 1
/* Longest JWT user a SESSION record carries. */
#define PZ_BUS_SUB_MAX 256

enum pz_bus_type {
  PZ_BUS_STATE = 1,   /* [.., room, [[id, seq, x, y, z, yaw], ...]] */
  PZ_BUS_JOIN = 2,    /* [.., room, id, name, x, y, z, yaw, flags] */
  PZ_BUS_LEAVE = 3,   /* [.., room, id, flags] */
  PZ_BUS_CHAT = 4,    /* [.., room, seq, id, name, text, ts_ms] */
  PZ_BUS_DELIVER = 5, /* [.., kind, to, from, name, text, ts_ms, code, op,
                          reply_node?, reply_worker?, reply_req?] */
  PZ_BUS_PROBE = 6,   /* [.., worker, nonce] */
  PZ_BUS_TAKE = 7,    /* [.., id, to_node, to_worker] */
  PZ_BUS_SESSION = 8, /* [.., id, token, name, room, x, y, z, yaw, seq,
                          has_seq, placed, chat_seq, user?] */
  PZ_BUS_TYPE_MAX = 8
};

/* JOIN flags. QUIET: the member is known to the room already (a resume on
 * another node, a node relinking): no JOINED for those who know it. */
#define PZ_BUS_JOIN_QUIET 1u
/* LEAVE flags. HANDOFF: the member went on elsewhere (resumed on another
 * node): drop it without LEFT. */
#define PZ_BUS_LEAVE_HANDOFF 1u

typedef struct pz_bus_state_it {
  const uint8_t *p, *end;
  uint32_t left;
} pz_bus_state_it_t;

typedef struct pz_busmsg {
  uint32_t node;
  int type;
  pz_str_t room; /* STATE, JOIN, LEAVE, CHAT, SESSION */
  union {
    struct {
      uint32_t n;
      pz_bus_state_it_t it; /* walk with pz_busmsg_state_next */
    } state;
    struct {
      pz_member_t m;
      uint32_t flags;
    } join;
    struct {
      uint64_t id;
      uint32_t flags;
    } leave;
    pz_chat_entry_t chat;
    struct {
      int kind; /* 0 whisper, 1 error, 2 admin kick, 3 a kick's answer */
      uint64_t to, from, ts_ms;
      pz_str_t name, text;
      int code, op;
      /* A kick: where its admin request waits (0 when absent). */
      uint32_t reply_node, reply_worker;
      uint64_t reply_req;
    } deliver;
    struct {
      uint32_t worker;
      uint64_t nonce;
    } probe;
    struct {
      uint64_t id;
      uint32_t node, worker;
    } take;
    struct {
      uint64_t id;
      pz_str_t token, name;
      pz_pos_t pos;
      uint64_t seq;
      bool has_seq, placed;
      uint64_t chat_seq;
      pz_str_t sub; /* the JWT user ("" without auth, or when absent) */
    } session;
  } u;
} pz_busmsg_t;

/* Decodes one payload. Returns 0, or PZ_EPROTO when it is not ours (bad
 * MessagePack, another version, an unknown type, a field of the wrong
 * type or range, a non-finite number, a string too long for its field). */
int pz_busmsg_decode(const uint8_t *data, size_t len, pz_busmsg_t *out);
/* Next STATE entry; false at the end or on a malformed entry (then the
 * whole message should be counted bad; entries already read stand). */
bool pz_busmsg_state_next(pz_bus_state_it_t *it, pz_state_entry_t *e);

/* Encoders (write through pk; never fail). STATE is written in two steps:
 * begin with the entry count, then each entry. */
void pz_busmsg_state_begin(msgpack_packer *pk, uint32_t node, pz_str_t room,
                           uint32_t n);
void pz_busmsg_state_entry(msgpack_packer *pk, const pz_state_entry_t *e);
void pz_busmsg_join(msgpack_packer *pk, uint32_t node, pz_str_t room,
                    const pz_member_t *m, uint32_t flags);
void pz_busmsg_leave(msgpack_packer *pk, uint32_t node, pz_str_t room,
                     uint64_t id, uint32_t flags);
void pz_busmsg_chat(msgpack_packer *pk, uint32_t node, pz_str_t room,
                    const pz_chat_entry_t *c);
void pz_busmsg_deliver(msgpack_packer *pk, uint32_t node, int kind, uint64_t to,
                       uint64_t from, pz_str_t name, pz_str_t text,
                       uint64_t ts_ms, int code, int op, uint32_t reply_node,
                       uint32_t reply_worker, uint64_t reply_req);
void pz_busmsg_probe(msgpack_packer *pk, uint32_t node, uint32_t worker,
                     uint64_t nonce);
void pz_busmsg_take(msgpack_packer *pk, uint32_t node, uint64_t id,
                    uint32_t to_node, uint32_t to_worker);
void pz_busmsg_session(msgpack_packer *pk, uint32_t node, uint64_t id,
                       pz_str_t token, pz_str_t name, pz_str_t room,
                       const pz_pos_t *pos, uint64_t seq, bool has_seq,
                       bool placed, uint64_t chat_seq, pz_str_t sub);

#endif
