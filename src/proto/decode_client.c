/*
 * Decoder of client -> server messages, the server's hot path (every MOVE
 * comes through here). One bounded msgpack_unpack into the caller's zone,
 * then typed reads of the array's elements; nothing is copied, strings
 * point into the caller's buffer. Only structure and types are checked:
 * what a field means (room charset, text length, version) is the caller's.
 * Strings are accepted only as MessagePack str, not bin: str is what every
 * client library emits for text, and one form keeps clients honest.
 */
#include <limits.h>

#include "mp.h"

static int pz_fail(pz_decode_error_t *err, int code, int op,
                   const char *message) {
  err->code = code;
  err->op = op;
  err->message = message;
  return -1;
}

static int pz_bad(pz_decode_error_t *err, int op, const char *message) {
  return pz_fail(err, PZ_ERR_BAD_MESSAGE, op, message);
}

static int pz_decode_hello(const msgpack_object_array *a, pz_cmsg_t *out,
                           pz_decode_error_t *err) {
  if (!pz_mp_uint(pz_mp_at(a, 1), &out->u.hello.version))
    return pz_bad(err, PZ_C_HELLO,
                  "HELLO version must be a non-negative integer");
  if (!pz_mp_opt_str(pz_mp_at(a, 2), &out->u.hello.token))
    return pz_bad(err, PZ_C_HELLO, "HELLO token must be a string or nil");
  if (!pz_mp_opt_str(pz_mp_at(a, 3), &out->u.hello.name))
    return pz_bad(err, PZ_C_HELLO, "HELLO name must be a string or nil");
  if (!pz_mp_opt_str(pz_mp_at(a, 4), &out->u.hello.resume))
    return pz_bad(err, PZ_C_HELLO, "HELLO resume must be a string or nil");
  const msgpack_object *seq = pz_mp_at(a, 5);
  out->u.hello.has_last_chat_seq = !pz_mp_is_nil(seq);
  out->u.hello.last_chat_seq = 0;
  if (out->u.hello.has_last_chat_seq &&
      !pz_mp_uint(seq, &out->u.hello.last_chat_seq))
    return pz_bad(err, PZ_C_HELLO,
                  "HELLO last_chat_seq must be a non-negative integer or nil");
  return 0;
}

static int pz_decode_move(const msgpack_object_array *a, pz_cmsg_t *out,
                          pz_decode_error_t *err) {
  static const char *const not_number[4] = {
      "MOVE x must be a number", "MOVE y must be a number",
      "MOVE z must be a number", "MOVE yaw must be a number"};
  static const char *const not_finite[4] = {
      "MOVE x must be finite", "MOVE y must be finite", "MOVE z must be finite",
      "MOVE yaw must be finite"};
  float v[4];

  if (!pz_mp_uint(pz_mp_at(a, 1), &out->u.move.seq))
    return pz_bad(err, PZ_C_MOVE, "MOVE seq must be a non-negative integer");
  for (uint32_t i = 0; i < 4; i++) {
    int rc = pz_mp_coord(pz_mp_at(a, 2 + i), &v[i]);
    if (rc == PZ_MP_NUM_TYPE)
      return pz_bad(err, PZ_C_MOVE, not_number[i]);
    if (rc == PZ_MP_NUM_RANGE)
      return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_MOVE, not_finite[i]);
  }
  out->u.move.pos = (pz_pos_t){v[0], v[1], v[2], v[3]};
  return 0;
}

int pz_decode_client(const char *data, size_t len, msgpack_zone *zone,
                     pz_cmsg_t *out, pz_decode_error_t *err) {
  msgpack_object_array a;
  const char *why = pz_mp_unpack_array(data, len, zone, &a);
  if (why != NULL)
    return pz_bad(err, 0, why);
  if (a.size == 0)
    return pz_bad(err, 0, "message array is empty");
  if (a.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a.ptr[0].via.u64 == 0)
    return pz_bad(err, 0, "op must be a positive integer");
  uint64_t op64 = a.ptr[0].via.u64;
  if (op64 > PZ_C_PING)
    /* An op too large for an int cannot be named back in ERROR. */
    return pz_fail(err, PZ_ERR_UNKNOWN_OP, op64 <= INT_MAX ? (int)op64 : 0,
                   "unknown op");
  out->op = (int)op64;

  switch (out->op) {
  case PZ_C_HELLO:
    return pz_decode_hello(&a, out, err);
  case PZ_C_JOIN:
    if (!pz_mp_str(pz_mp_at(&a, 1), &out->u.join.room))
      return pz_bad(err, PZ_C_JOIN, "JOIN room must be a string");
    return 0;
  case PZ_C_LEAVE:
    return 0;
  case PZ_C_MOVE:
    return pz_decode_move(&a, out, err);
  case PZ_C_CHAT:
    if (!pz_mp_str(pz_mp_at(&a, 1), &out->u.chat.text))
      return pz_bad(err, PZ_C_CHAT, "CHAT text must be a string");
    return 0;
  case PZ_C_WHISPER:
    if (!pz_mp_uint(pz_mp_at(&a, 1), &out->u.whisper.to))
      return pz_bad(err, PZ_C_WHISPER,
                    "WHISPER to_id must be a non-negative integer");
    if (!pz_mp_str(pz_mp_at(&a, 2), &out->u.whisper.text))
      return pz_bad(err, PZ_C_WHISPER, "WHISPER text must be a string");
    return 0;
  default: /* PZ_C_PING: t is echoed as sent, but it must be there */
    if (a.size < 2)
      return pz_bad(err, PZ_C_PING, "PING needs t");
    out->u.ping.t = a.ptr[1];
    return 0;
  }
}
