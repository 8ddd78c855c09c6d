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
 * text length, UTF-8, version) belong to the caller. Extra trailing
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

/* ---- server -> client ---------------------------------------------------- */

typedef struct pz_member {
  uint64_t id;
  pz_str_t name;
  pz_pos_t pos;
} pz_member_t;

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
    } welcome;
    struct {
      pz_str_t room;
      size_t n_members;
      pz_member_t *members; /* in the zone */
      size_t n_history;
      pz_chat_entry_t *history; /* in the zone, oldest first */
    } room;
    pz_member_t joined;
    struct {
      uint64_t id;
    } left;
    struct {
      uint64_t tick;
      size_t n;
      pz_state_entry_t *entries; /* in the zone */
    } state;
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
    } error;
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
void pz_enc_welcome(msgpack_packer *pk, uint64_t id, pz_str_t session,
                    uint32_t tick_hz, uint64_t server_time_ms, bool resumed);
/* ROOM is written in parts: the header with both counts, then n_members
 * members, then the history header, then n_history chat entries. */
void pz_enc_room_begin(msgpack_packer *pk, pz_str_t room, size_t n_members);
void pz_enc_member(msgpack_packer *pk, const pz_member_t *m);
void pz_enc_room_history(msgpack_packer *pk, size_t n_history);
void pz_enc_chat_entry(msgpack_packer *pk, const pz_chat_entry_t *c);
void pz_enc_joined(msgpack_packer *pk, const pz_member_t *m);
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

/* ---- helpers ------------------------------------------------------------- */

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool pz_utf8_valid(const char *s, size_t len);

/* A pz_str_t from a NUL-terminated string (NULL gives the absent string). */
pz_str_t pz_str_c(const char *s);

#endif
