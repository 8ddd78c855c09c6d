/*
 * What nodes say to each other through Redis, and what they keep there:
 * one MessagePack array per message, [version, origin node, type, ...],
 * sans-I/O. Encoders write through a msgpack_packer; the decoder reads a
 * payload from Redis, which we do not trust: it walks the bytes with the
 * codec's cursor (src/proto/mpr.h), so every length is checked against the
 * bytes left and nesting is bounded; nothing is allocated, and strings and
 * embedded values in the result point into the payload (borrowed).
 * Elements past the ones a type lists are skipped (a newer node may add
 * fields).
 *
 * The same bytes serve as channel messages and as stored values: the
 * presence hash holds each member's JOIN, the chat list each CHAT, the
 * room's log each EVENT, a session's record is a SESSION message.
 *
 * Room events (JOIN, LEAVE, CHAT and the app's MEMBER and ROOM_STATE)
 * travel inside an EVENT envelope that Redis numbers: [.., room, epoch,
 * offset, inner message]. STATE (positions, latest-wins) and room SIGNALs
 * (never stored) are published bare.
 */
#ifndef PZ_BUSMSG_H
#define PZ_BUSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "plaza/codec.h"

/* 2: events numbered per room, session records with generations. Nodes of
 * one cluster must speak the same version (docs/operations.md). */
#define PZ_BUS_VERSION 2
/* Longest JWT user a SESSION record carries. */
#define PZ_BUS_SUB_MAX 256
/* Longest client address a record or JOIN carries ("[v6]:port"). */
#define PZ_BUS_ADDR_MAX 64
/* A member's state and an app value: at most this many bytes embedded
 * (the server's own limits are smaller; this bounds what we accept). */
#define PZ_BUS_VALUE_MAX (1u << 21)

enum pz_bus_type {
  PZ_BUS_STATE = 1,       /* [.., room, [[id, seq, x, y, z, yaw], ...]] */
  PZ_BUS_JOIN = 2,        /* [.., room, id, name, x, y, z, yaw, flags, gen,
                              state, addr] */
  PZ_BUS_LEAVE = 3,       /* [.., room, id, flags] */
  PZ_BUS_CHAT = 4,        /* [.., room, seq, id, name, text, ts_ms] */
  PZ_BUS_DELIVER = 5,     /* [.., kind, to, from, name, text, ts_ms, code, op,
                              reply_node, reply_worker, reply_req, gen, data?,
                              version?] */
  PZ_BUS_PROBE = 6,       /* [.., worker, nonce] */
  PZ_BUS_SESSION = 8,     /* [.., id, token_hash, name, room, x, y, z, yaw, seq,
                              has_seq, placed, chat_seq, sub, gen, state, addr] */
  PZ_BUS_EVENT = 9,       /* [.., room, epoch, offset, inner message] */
  PZ_BUS_MEMBER = 10,     /* [.., room, id, patch] (an event) */
  PZ_BUS_ROOM_STATE = 11, /* [.., room, key, value bytes ("": deleted),
                              version, by] (an event) */
  PZ_BUS_SIGNAL = 12,     /* [.., room, from, name, kind, data, ts_ms] (bare) */
  PZ_BUS_TYPE_MAX = 12
};

/* JOIN flags. QUIET: the member continues (a resume on another node): every
 * node of the room has seen it, so none announces it JOINED, even one
 * where its old copy is already gone. A JOIN without it is JOINED where
 * the member is new, and nowhere else (a relink announcing again). */
#define PZ_BUS_JOIN_QUIET 1u

typedef struct pz_bus_state_it {
  const uint8_t *p, *end;
  uint32_t left;
} pz_bus_state_it_t;

typedef struct pz_busmsg {
  uint32_t node;
  int type;
  pz_str_t room; /* STATE, JOIN, LEAVE, CHAT, SESSION, EVENT */
  union {
    struct {
      uint32_t n;
      pz_bus_state_it_t it; /* walk with pz_busmsg_state_next */
    } state;
    struct {
      pz_member_t m;
      uint32_t flags, gen;
      pz_raw_t state; /* the member's state map ({} when empty) */
      pz_str_t addr;  /* the client's address ("" when unknown) */
    } join;
    struct {
      uint64_t id;
      uint32_t flags;
    } leave;
    pz_chat_entry_t chat;
    struct {
      int kind; /* enum pz_deliver_kind (bus.h) */
      uint64_t to, from, ts_ms;
      pz_str_t name, text;
      int code, op;
      /* A kick: where its admin request waits (0 when absent). */
      uint32_t reply_node, reply_worker;
      uint64_t reply_req;
      uint32_t gen;     /* TAKEN: the generation that took the session */
      pz_raw_t data;    /* SIGNAL: its data (ptr NULL when absent) */
      uint64_t version; /* CONFLICT */
    } deliver;
    struct {
      uint32_t worker;
      uint64_t nonce;
    } probe;
    struct {
      uint64_t id;
      pz_str_t token_hash, name;
      pz_pos_t pos;
      uint64_t seq;
      bool has_seq, placed;
      uint64_t chat_seq;
      pz_str_t sub; /* the JWT user ("" without auth) */
      uint32_t gen;
      pz_raw_t state;
      pz_str_t addr;
      bool has_view; /* its VIEW (elements 20, 21: absent from older nodes) */
      bool view_compact;
      double view_radius;
    } session;
    struct {
      uint64_t id;
      pz_raw_t patch; /* a state patch: a map */
    } member;
    struct {
      pz_str_t key;
      pz_raw_t value; /* ptr NULL: the key was deleted */
      uint64_t version, by;
    } room_state;
    struct {
      uint64_t from, ts_ms;
      pz_str_t name, kind;
      pz_raw_t data;
    } signal;
    struct {
      uint64_t epoch, off;
      const uint8_t *inner; /* the event's own message: decode it again */
      uint32_t inner_len;
    } event;
  } u;
} pz_busmsg_t;

/* Decodes one payload. Returns 0, or PZ_EPROTO when it is not ours (bad
 * MessagePack, another version, an unknown type, a field of the wrong
 * type or range, a non-finite number, a string too long for its field). */
int pz_busmsg_decode(const uint8_t *data, size_t len, pz_busmsg_t *out);
/* True when v is exactly one MessagePack value (nested at most as deep as
 * the cursor follows). */
bool pz_busmsg_value_ok(pz_raw_t v);
/* Next STATE entry; false at the end or on a malformed entry (then the
 * whole message should be counted bad; entries already read stand). */
bool pz_busmsg_state_next(pz_bus_state_it_t *it, pz_state_entry_t *e);

/* Encoders (write through pk; never fail). STATE is written in two steps:
 * begin with the entry count, then each entry. Values (state) are raw
 * MessagePack bytes written as they are; a NULL one is written as {}. */
void pz_busmsg_state_begin(msgpack_packer *pk, uint32_t node, pz_str_t room,
                           uint32_t n);
void pz_busmsg_state_entry(msgpack_packer *pk, const pz_state_entry_t *e);
void pz_busmsg_join(msgpack_packer *pk, uint32_t node, pz_str_t room,
                    const pz_member_t *m, uint32_t flags, uint32_t gen,
                    pz_raw_t state, pz_str_t addr);
void pz_busmsg_leave(msgpack_packer *pk, uint32_t node, pz_str_t room,
                     uint64_t id, uint32_t flags);
void pz_busmsg_chat(msgpack_packer *pk, uint32_t node, pz_str_t room,
                    const pz_chat_entry_t *c);
/* `d` is a struct pz_delivery (bus.h). */
struct pz_delivery;
void pz_busmsg_deliver(msgpack_packer *pk, uint32_t node,
                       const struct pz_delivery *d);
void pz_busmsg_probe(msgpack_packer *pk, uint32_t node, uint32_t worker,
                     uint64_t nonce);
typedef struct pz_busmsg_record {
  uint64_t id;
  pz_str_t token_hash, name, room, sub, addr;
  pz_pos_t pos;
  uint64_t seq, chat_seq;
  bool has_seq, placed;
  uint32_t gen;
  pz_raw_t state;
  bool has_view; /* VIEW's options (view.h) when it sent one */
  bool view_compact;
  double view_radius;
} pz_busmsg_record_t;
void pz_busmsg_session(msgpack_packer *pk, uint32_t node,
                       const pz_busmsg_record_t *r);
void pz_busmsg_member(msgpack_packer *pk, uint32_t node, pz_str_t room,
                      uint64_t id, pz_raw_t patch);
void pz_busmsg_signal(msgpack_packer *pk, uint32_t node, pz_str_t room,
                      uint64_t from, pz_str_t name, pz_str_t kind,
                      pz_raw_t data, uint64_t ts_ms);
void pz_busmsg_event(msgpack_packer *pk, uint32_t node, pz_str_t room,
                     uint64_t epoch, uint64_t off, const uint8_t *inner,
                     size_t len);

#endif
