/*
 * MessagePack codec of protocol v1, sans-I/O.
 *
 * Decoders read one message from a buffer; the strings they return point
 * into that buffer (borrowed: valid while the caller keeps the buffer), and
 * arrays are allocated in the caller's msgpack_zone, which the caller clears
 * at a point it chooses (per message or per batch). Encoders write through a
 * caller's msgpack_packer, so the caller picks the buffer (a reused
 * per-worker scratch, a shared broadcast buffer, a socket queue).
 *
 * App values of protocol 1.1 (member state, SIGNAL data, room state) are
 * any MessagePack value and travel as their bytes (pz_raw_t): a decoder
 * checks them once and hands out where they lie in the message, and an
 * encoder copies them in as they are, so a value is never re-encoded on
 * its way from one client to the others.
 *
 * Shared by the server, the C client library, the bench and the tests.
 */
#ifndef PLAZA_CODEC_H
#define PLAZA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "plaza/protocol.h"

typedef struct pz_str {
  const char *ptr; /* NULL when the field was absent or nil */
  uint32_t len;
} pz_str_t;

typedef struct pz_pos {
  float x, y, z, yaw;
} pz_pos_t;

/* The MessagePack bytes of one value (borrowed, like pz_str_t). ptr NULL:
 * the element was absent. A decoder returns only bytes it has checked:
 * one complete value, containers nested at most PZ_VALUE_DEPTH_MAX deep,
 * map keys strings or integers (what JavaScript can hold). */
typedef struct pz_raw {
  const char *ptr;
  uint32_t len;
} pz_raw_t;

/* True for an absent value and for nil. */
static inline bool pz_raw_is_nil(pz_raw_t v) {
  return v.ptr == NULL || (v.len == 1 && (unsigned char)v.ptr[0] == 0xc0);
}

/* ---- client -> server ---------------------------------------------------- */

typedef struct pz_cmsg {
  int op; /* enum pz_client_op */
  union {
    struct {
      uint64_t version;
      pz_str_t token;  /* JWT, or NULL */
      pz_str_t name;   /* display name, or NULL */
      pz_str_t resume; /* session token, or NULL */
      bool has_last_chat_seq;
      uint64_t last_chat_seq;
      pz_raw_t state; /* the initial state (a checked state patch), or NULL */
    } hello;
    struct {
      pz_str_t room;
    } join;
    struct {
      uint64_t seq;
      pz_pos_t pos;
    } move;
    struct {
      pz_str_t text;
    } chat;
    struct {
      uint64_t to;
      pz_str_t text;
    } whisper;
    struct {
      msgpack_object t; /* echoed as sent, any MessagePack value */
    } ping;
    struct {
      pz_raw_t patch; /* a checked state patch (pz_state_apply) */
    } set;
    struct {
      bool to_room; /* `to` was nil: every other member of the room */
      uint64_t to;
      pz_str_t kind; /* 1-32 bytes of UTF-8 */
      pz_raw_t data; /* an app value; nil (0xc0) when absent */
    } signal;
    struct {
      pz_str_t key;   /* 1-64 bytes of UTF-8 */
      pz_raw_t value; /* an app value; nil deletes the key */
      bool has_if_version;
      uint64_t if_version;
    } room_set;
    struct {
      double radius; /* finite, >= 0; 0: the whole room */
      bool compact;  /* STATE_C instead of STATE */
    } view;
  } u;
} pz_cmsg_t;

/* Why a message was refused: an ERROR code of the protocol and a static
 * human-readable message. The op is the message's op when it could be read
 * (0 otherwise), so the ERROR frame can name it. */
typedef struct pz_decode_error {
  int code; /* PZ_ERR_BAD_MESSAGE, PZ_ERR_UNKNOWN_OP, PZ_ERR_INVALID_ARGUMENT */
  int op;
  const char *message;
} pz_decode_error_t;

/* Decodes one client message. Checks structure and types only: the array
 * shape, the op, integer/float/string types, finite coordinates, that ids
 * and seqs are non-negative integers. Semantic checks (room name charset,
 * text length, UTF-8, version) belong to the caller, but for the fixed
 * rules of protocol 1.1's app values, checked here (ERROR 6): app values
 * nested at most PZ_VALUE_DEPTH_MAX deep with string or integer map keys;
 * a state patch (HELLO state, SET) a map of distinct string keys of 1-32
 * bytes of UTF-8 (a non-map or a key of another type is ERROR 1); SIGNAL
 * kind 1-32 and ROOM_SET key 1-64 bytes of UTF-8. The sizes the server
 * configures are the caller's. Extra trailing
 * elements are ignored; missing optional trailing elements read as nil.
 * Strings must be MessagePack str (bin is refused: str is what every
 * client library emits for text). An empty string is returned with a
 * non-NULL ptr, so only an absent or nil field has ptr NULL. The bytes are
 * checked to hold exactly one array before anything is allocated, so the
 * zone grows by at most about 16 bytes per input byte whatever the array
 * headers claim. Returns 0, or -1 with *err filled. The zone is used for
 * the object tree. */
int pz_decode_client(const char *data, size_t len, msgpack_zone *zone,
                     pz_cmsg_t *out, pz_decode_error_t *err);

/* Client encoders. Absent optional strings: pass ptr NULL (a NULL
 * required string is written as ""; encoders never fail, the packer's
 * write callback owns buffer errors). hello's
 * last_chat_seq is omitted when has_last_chat_seq is false; trailing nils
 * are written only as far as a later field needs them. */
void pz_enc_hello(msgpack_packer *pk, uint64_t version, pz_str_t token,
                  pz_str_t name, pz_str_t resume, bool has_last_chat_seq,
                  uint64_t last_chat_seq);
void pz_enc_join(msgpack_packer *pk, pz_str_t room);
void pz_enc_leave(msgpack_packer *pk);
void pz_enc_move(msgpack_packer *pk, uint64_t seq, pz_pos_t pos);
/* Named chat_text because pz_enc_chat is the server's CHAT. */
void pz_enc_chat_text(msgpack_packer *pk, pz_str_t text);
void pz_enc_whisper(msgpack_packer *pk, uint64_t to, pz_str_t text);
void pz_enc_ping(msgpack_packer *pk, double t);
/* HELLO with an initial state (protocol 1.1): a state map, or ptr NULL
 * for none (then exactly pz_enc_hello). */
void pz_enc_hello_state(msgpack_packer *pk, uint64_t version, pz_str_t token,
                        pz_str_t name, pz_str_t resume, bool has_last_chat_seq,
                        uint64_t last_chat_seq, pz_raw_t state);
/* SET [8, patch]: patch a map (ptr NULL writes {}). */
void pz_enc_set(msgpack_packer *pk, pz_raw_t patch);
/* SIGNAL [9, to, kind, data]: to_room writes `to` as nil; data ptr NULL
 * writes nil. */
void pz_enc_signal(msgpack_packer *pk, bool to_room, uint64_t to, pz_str_t kind,
                   pz_raw_t data);
/* ROOM_SET [10, key, value, if_version?]: value ptr NULL writes nil (a
 * delete); if_version only when has_if_version. */
void pz_enc_room_set(msgpack_packer *pk, pz_str_t key, pz_raw_t value,
                     bool has_if_version, uint64_t if_version);
/* VIEW [11, {"radius": radius, "compact": compact}] (radius as float64). */
void pz_enc_view(msgpack_packer *pk, double radius, bool compact);

/* ---- server -> client ---------------------------------------------------- */

typedef struct pz_member {
  uint64_t id;
  pz_str_t name;
  pz_pos_t pos;
} pz_member_t;

/* One key of a room's state: ROOM's room_state map, key -> [value, version]. */
typedef struct pz_room_entry {
  pz_str_t key;
  pz_raw_t value;
  uint64_t version;
} pz_room_entry_t;

typedef struct pz_chat_entry {
  uint64_t seq;
  uint64_t id;
  pz_str_t name;
  pz_str_t text;
  uint64_t ts_ms;
} pz_chat_entry_t;

typedef struct pz_state_entry {
  uint64_t id;
  uint64_t seq;
  pz_pos_t pos;
} pz_state_entry_t;

typedef struct pz_smsg {
  int op; /* enum pz_server_op */
  union {
    struct {
      uint64_t id;
      pz_str_t session;
      uint32_t tick_hz;
      uint64_t server_time_ms;
      bool resumed;
      uint32_t features; /* enum pz_feature bits; unknown names ignored */
    } welcome;
    struct {
      pz_str_t room;
      size_t n_members;
      pz_member_t *members; /* in the zone */
      size_t n_history;
      pz_chat_entry_t *history; /* in the zone, oldest first */
      /* members[i]'s state: a map, ptr NULL when the server sent none */
      pz_raw_t *member_states; /* in the zone, n_members of them */
      size_t n_room_state;
      pz_room_entry_t *room_state; /* in the zone, in the server's order */
    } room;
    struct {
      pz_member_t joined;
      pz_raw_t joined_state; /* a map, ptr NULL when the server sent none */
    };
    struct {
      uint64_t id;
    } left;
    /* STATE, and STATE_C: pz_decode_server gives a STATE_C's tick, n and
     * the bytes of its entries (`compact`, borrowed like strings) with
     * entries NULL; pz_compact_decode then fills entries. */
    struct {
      uint64_t tick;
      size_t n;
      pz_state_entry_t *entries; /* in the zone */
      pz_raw_t compact;          /* STATE_C only (ptr NULL for a STATE) */
    } state;
    struct {
      size_t n;
      uint64_t *ids; /* in the zone */
    } away;
    pz_chat_entry_t chat;
    struct {
      uint64_t from;
      pz_str_t name;
      pz_str_t text;
      uint64_t ts_ms;
    } whisper;
    struct {
      double t;
      uint64_t server_time_ms;
    } pong;
    struct {
      int code;
      pz_str_t message;
      int op; /* 0 when absent */
      /* PZ_ERR_CONFLICT: the key and its current version (0: absent) */
      pz_str_t key;
      bool has_version;
      uint64_t version;
    } error;
    struct {
      uint64_t id;
      pz_raw_t patch; /* a map: apply it with pz_state_apply */
    } member;
    struct {
      uint64_t from; /* 0: the server (admin API) */
      pz_str_t name;
      pz_str_t kind;
      pz_raw_t data;
      uint64_t ts_ms;
    } signal;
    struct {
      pz_str_t key;
      pz_raw_t value; /* nil: the key was deleted */
      uint64_t version;
      uint64_t by; /* the session that set it */
    } room_state;
  } u;
} pz_smsg_t;

/* Decodes one server message (client library side). Returns 0, or -1 when
 * the bytes are not a well-formed server message of a known op. */
int pz_decode_server(const char *data, size_t len, msgpack_zone *zone,
                     pz_smsg_t *out);

/* The op of a message without decoding the rest (the bench's cheap path).
 * Returns the op, or -1 when the bytes do not start an array with a
 * positive integer op. */
int pz_peek_op(const char *data, size_t len);

/* Server encoders. Coordinates go out as float32. */
/* features: enum pz_feature bits, written as their names in bit order. */
void pz_enc_welcome(msgpack_packer *pk, uint64_t id, pz_str_t session,
                    uint32_t tick_hz, uint64_t server_time_ms, bool resumed,
                    uint32_t features);
/* ROOM is written in parts: the header with the member count, then
 * n_members members, then the history header, then n_history chat
 * entries, then the room state header and n_room_state entries. */
void pz_enc_room_begin(msgpack_packer *pk, pz_str_t room, size_t n_members);
/* state: a state map; ptr NULL writes {}. */
void pz_enc_member(msgpack_packer *pk, const pz_member_t *m, pz_raw_t state);
void pz_enc_room_history(msgpack_packer *pk, size_t n_history);
void pz_enc_chat_entry(msgpack_packer *pk, const pz_chat_entry_t *c);
void pz_enc_room_state_begin(msgpack_packer *pk, size_t n_room_state);
void pz_enc_room_state_entry(msgpack_packer *pk, pz_str_t key, pz_raw_t value,
                             uint64_t version);
void pz_enc_joined(msgpack_packer *pk, const pz_member_t *m, pz_raw_t state);
void pz_enc_left(msgpack_packer *pk, uint64_t id);
/* STATE: begin with the entry count, then exactly n entries. */
void pz_enc_state_begin(msgpack_packer *pk, uint64_t tick, size_t n);
void pz_enc_state_entry(msgpack_packer *pk, const pz_state_entry_t *e);
void pz_enc_chat(msgpack_packer *pk, const pz_chat_entry_t *c);
void pz_enc_whisper_msg(msgpack_packer *pk, uint64_t from, pz_str_t name,
                        pz_str_t text, uint64_t ts_ms);
void pz_enc_pong(msgpack_packer *pk, const msgpack_object *t,
                 uint64_t server_time_ms);
/* op 0 leaves the trailing op out. */
void pz_enc_error(msgpack_packer *pk, int code, const char *message, int op);
/* ERROR 12 [9, 12, message, 10, key, version]. */
void pz_enc_error_conflict(msgpack_packer *pk, const char *message,
                           pz_str_t key, uint64_t version);
/* MEMBER [10, id, patch] (patch ptr NULL writes {}). */
void pz_enc_member_msg(msgpack_packer *pk, uint64_t id, pz_raw_t patch);
/* SIGNAL [11, from_id, name, kind, data, ts_ms] (data ptr NULL: nil). */
void pz_enc_signal_msg(msgpack_packer *pk, uint64_t from, pz_str_t name,
                       pz_str_t kind, pz_raw_t data, uint64_t ts_ms);
/* ROOM_STATE [12, key, value, version, by_id] (value ptr NULL: nil). */
void pz_enc_room_state_msg(msgpack_packer *pk, pz_str_t key, pz_raw_t value,
                           uint64_t version, uint64_t by);
/* AWAY [13, [id, ...]]. */
void pz_enc_away(msgpack_packer *pk, const uint64_t *ids, size_t n);
/* STATE_C [14, tick, n, entries]: the header, with the entries' count and
 * their length in bytes; then exactly `len` bytes of entries follow
 * (msgpack_pack_bin_body, or the packer's write callback). */
void pz_enc_state_c_begin(msgpack_packer *pk, uint64_t tick, size_t n,
                          size_t len);

/* ---- compact positions (STATE_C, docs/protocol.md) ---------------------- */

/* A STATE_C entry is at most this many bytes. */
#define PZ_COMPACT_ENTRY_MAX 48

/* What a delta entry is taken from and leads to: a member's seq and its
 * position quantised (x, y, z in 1/PZ_COMPACT_POS_SCALE units, yaw in
 * 1/PZ_COMPACT_YAW_SCALE). */
typedef struct pz_compact_q {
  uint64_t seq;
  int32_t v[4]; /* x, y, z, yaw */
} pz_compact_q_t;

/* Quantises pos (rounding to nearest) with seq into *q. False when a value
 * does not fit in 32 bits: such a position travels as raw floats. */
bool pz_compact_quantize(const pz_pos_t *pos, uint64_t seq, pz_compact_q_t *q);
/* The position a quantised one stands for. */
pz_pos_t pz_compact_position(const pz_compact_q_t *q);

/* Writes a full entry for member `id` at short id `idx` (<
 * PZ_COMPACT_IDX_MAX) into out (PZ_COMPACT_ENTRY_MAX bytes): quantised
 * when pos quantises, else raw float32s (no baseline follows a raw one).
 * Returns the bytes written. *raw, when not NULL, tells which. */
size_t pz_compact_put_full(uint8_t *out, uint32_t idx, uint64_t id,
                           uint64_t seq, const pz_pos_t *pos, bool *raw);
/* Writes a delta entry from `from` to `to` for short id idx, or returns 0
 * when a coordinate moved too far for 16 bits (write a full one). */
size_t pz_compact_put_delta(uint8_t *out, uint32_t idx,
                            const pz_compact_q_t *from,
                            const pz_compact_q_t *to);

/* The receiving side: per connection, what each short id stands for
 * (the member's id and the baseline of its deltas). Reset it at each
 * ROOM: a new view starts there. */
typedef struct pz_compact_slot {
  uint64_t id;
  pz_compact_q_t q;
  bool bound; /* a full entry named this idx */
  bool based; /* and was quantised: deltas may follow */
} pz_compact_slot_t;

typedef struct pz_compact {
  pz_compact_slot_t *slots; /* by idx, owned */
  uint32_t cap;
} pz_compact_t;

void pz_compact_init(pz_compact_t *t);
void pz_compact_reset(pz_compact_t *t);
void pz_compact_dispose(pz_compact_t *t);
/* Decodes the entries of STATE_C m (from pz_decode_server) into
 * m->u.state.entries (n of them, in the zone), updating t. Returns 0, or
 * -1 when the bytes are not n well-formed entries, a delta names an idx
 * with no baseline, or an idx is past PZ_COMPACT_IDX_MAX (t may then hold
 * part of the message: reset it with the next ROOM). PZ_CLIENT_ENOMEM-like
 * failures to grow the table or the zone also give -1. */
int pz_compact_decode(pz_compact_t *t, pz_smsg_t *m, msgpack_zone *zone);

/* ---- helpers ------------------------------------------------------------- */

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool pz_utf8_valid(const char *s, size_t len);

/* A pz_str_t from a NUL-terminated string (NULL gives the absent string). */
pz_str_t pz_str_c(const char *s);

/* ---- app values (protocol 1.1) ------------------------------------------ */

/* The entries of a map held as bytes (a member's state, a patch). */
typedef struct pz_map_iter {
  const char *p;
  size_t left;     /* bytes from p to the end of the map */
  uint64_t values; /* keys and values still to read */
  bool bad;        /* the walk stopped on bytes that are no entry */
} pz_map_iter_t;

/* Starts on the map whose bytes are m (ptr NULL: an empty map). False
 * when m does not start a map. */
bool pz_map_iter_init(pz_map_iter_t *it, pz_raw_t m);
/* The next entry: its key (a string's bytes) and its value; false at the
 * end, and (setting it->bad) where a key is not a string or the bytes end
 * early: the walk ends there. */
bool pz_map_next(pz_map_iter_t *it, pz_str_t *key, pz_raw_t *value);

enum {
  PZ_STATE_OK = 0,
  PZ_STATE_BAD = -1,       /* not a map, a key not a string, a key twice */
  PZ_STATE_TOO_LARGE = -2, /* the new state would not fit in cap bytes */
  PZ_STATE_NOMEM = -3,     /* the zone could not grow */
};
/* Member state: applies `patch` (a map: its keys replace the state's, a
 * nil value deletes its key) to `state` (a map; ptr NULL: empty) and
 * writes the new state, one MessagePack map, into out[0..cap): kept keys
 * in their order with their new values, new keys after them in the
 * patch's order, at most cap bytes (else PZ_STATE_TOO_LARGE and nothing
 * useful in out). *out_len gets its length; an empty state is the one
 * byte 0x80. Scratch (an index of the patch's keys) comes from the zone,
 * which the caller clears. Returns a PZ_STATE_ code. Pure: any thread. */
int pz_state_apply(pz_raw_t state, pz_raw_t patch, msgpack_zone *zone,
                   char *out, size_t cap, size_t *out_len);

#endif
