/*
 * Decoder of client -> server messages, the server's hot path (every MOVE
 * comes through here). A MOVE as clients send it is read in place with the
 * cursor (mpr.h); anything else takes one bounded msgpack_unpack into the
 * caller's zone, then typed reads of the array's elements; nothing is copied,
 * strings point into the caller's buffer. Only structure and types are checked:
 * what a field means (room charset, text length, version) is the caller's.
 * Strings are accepted only as MessagePack str, not bin: str is what every
 * client library emits for text, and one form keeps clients honest.
 * App values (protocol 1.1) are checked on the object tree and handed out
 * as where their bytes lie in the caller's buffer (value.c).
 */
#include <limits.h>
#include <string.h>

#include "mp.h"
#include "mpr.h"

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

/* The bytes of element i of the message (present: the caller checked). */
static pz_raw_t elem_bytes(const char *data, size_t len, uint32_t i) {
  pz_raw_t el[8] = {{0}};
  if (i >= 8 || len > UINT32_MAX ||
      !pz_mp_elems((pz_raw_t){data, (uint32_t)len}, el, i + 1))
    return (pz_raw_t){NULL, 0};
  return el[i];
}

/* A state patch at element i (HELLO state, SET): checked, its bytes. */
static int patch_at(const char *data, size_t len, const msgpack_object_array *a,
                    uint32_t i, msgpack_zone *zone, int op, pz_raw_t *out,
                    pz_decode_error_t *err) {
  int code;
  const char *why = pz_mp_patch_check(pz_mp_at(a, i), zone, &code);
  if (why != NULL)
    return pz_fail(err, code, op, why);
  *out = elem_bytes(data, len, i);
  return 0;
}

/* 1 to max bytes of UTF-8. */
static bool utf8_len_ok(pz_str_t s, uint32_t max) {
  return s.len >= 1 && s.len <= max && pz_utf8_valid(s.ptr, s.len);
}

static int pz_decode_hello(const char *data, size_t len,
                           const msgpack_object_array *a, msgpack_zone *zone,
                           pz_cmsg_t *out, pz_decode_error_t *err) {
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
  out->u.hello.state = (pz_raw_t){NULL, 0};
  if (pz_mp_is_nil(pz_mp_at(a, 6)))
    return 0;
  return patch_at(data, len, a, 6, zone, PZ_C_HELLO, &out->u.hello.state, err);
}

static int pz_decode_signal(const char *data, size_t len,
                            const msgpack_object_array *a, pz_cmsg_t *out,
                            pz_decode_error_t *err) {
  const msgpack_object *to = pz_mp_at(a, 1), *d = pz_mp_at(a, 3);
  out->u.signal.to_room = pz_mp_is_nil(to);
  out->u.signal.to = 0;
  if (!out->u.signal.to_room && !pz_mp_uint(to, &out->u.signal.to))
    return pz_bad(err, PZ_C_SIGNAL, "SIGNAL to must be a session id or nil");
  if (!pz_mp_str(pz_mp_at(a, 2), &out->u.signal.kind))
    return pz_bad(err, PZ_C_SIGNAL, "SIGNAL kind must be a string");
  if (!utf8_len_ok(out->u.signal.kind, PZ_SIGNAL_KIND_MAX))
    return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_SIGNAL,
                   "SIGNAL kind must be 1-32 bytes of UTF-8");
  if (d == NULL) { /* no data: nil, the one byte a nil is */
    out->u.signal.data = (pz_raw_t){"\xc0", 1};
    return 0;
  }
  if (!pz_mp_value_ok(d, PZ_VALUE_DEPTH_MAX))
    return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_SIGNAL,
                   "SIGNAL data may nest 16 deep, with string or integer map "
                   "keys");
  out->u.signal.data = elem_bytes(data, len, 3);
  return 0;
}

static int pz_decode_room_set(const char *data, size_t len,
                              const msgpack_object_array *a, pz_cmsg_t *out,
                              pz_decode_error_t *err) {
  const msgpack_object *v = pz_mp_at(a, 2), *iv = pz_mp_at(a, 3);
  if (!pz_mp_str(pz_mp_at(a, 1), &out->u.room_set.key))
    return pz_bad(err, PZ_C_ROOM_SET, "ROOM_SET key must be a string");
  if (!utf8_len_ok(out->u.room_set.key, PZ_ROOM_KEY_MAX))
    return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_ROOM_SET,
                   "ROOM_SET key must be 1-64 bytes of UTF-8");
  if (v == NULL)
    return pz_bad(err, PZ_C_ROOM_SET, "ROOM_SET needs a value (nil deletes)");
  if (!pz_mp_value_ok(v, PZ_VALUE_DEPTH_MAX))
    return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_ROOM_SET,
                   "ROOM_SET value may nest 16 deep, with string or integer "
                   "map keys");
  out->u.room_set.has_if_version = !pz_mp_is_nil(iv);
  out->u.room_set.if_version = 0;
  if (out->u.room_set.has_if_version &&
      !pz_mp_uint(iv, &out->u.room_set.if_version))
    return pz_bad(err, PZ_C_ROOM_SET,
                  "ROOM_SET if_version must be a non-negative integer or nil");
  out->u.room_set.value = elem_bytes(data, len, 2);
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

/* [11, options]: every refusal is ERROR 6, as the contract has it for a
 * bad option; unknown keys are refused too, so that a misspelt option
 * does not pass for the default. */
static int pz_decode_view(const msgpack_object_array *a, pz_cmsg_t *out,
                          pz_decode_error_t *err) {
  const msgpack_object *o = pz_mp_at(a, 1);
  out->u.view.radius = 0;
  out->u.view.compact = false;
  if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
    return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_VIEW,
                   "VIEW options must be a map");
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    pz_str_t key;
    if (!pz_mp_str(&kv->key, &key))
      return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_VIEW,
                     "VIEW option names must be strings");
    if (key.len == 6 && memcmp(key.ptr, "radius", 6) == 0) {
      double r;
      if (pz_mp_double(&kv->val, &r) != PZ_MP_NUM_OK || !isfinite(r) || r < 0)
        return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_VIEW,
                       "VIEW radius must be a finite number >= 0");
      out->u.view.radius = r;
    } else if (key.len == 7 && memcmp(key.ptr, "compact", 7) == 0) {
      if (kv->val.type != MSGPACK_OBJECT_BOOLEAN)
        return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_VIEW,
                       "VIEW compact must be true or false");
      out->u.view.compact = kv->val.via.boolean;
    } else {
      return pz_fail(err, PZ_ERR_INVALID_ARGUMENT, PZ_C_VIEW,
                     "unknown VIEW option (radius, compact)");
    }
  }
  return 0;
}

/* [4, seq, x, y, z, yaw] exactly, read in place: the message every client
 * sends 20-60 times a second, which need not build an object tree. Any
 * other shape (trailing fields, something to refuse) returns false and
 * takes the general path, which accepts what this accepts and reads it
 * the same: pz_mpr_num widens as msgpack-c does, the range check is
 * pz_mp_coord's. */
static bool decode_move_in_place(const char *data, size_t len, pz_cmsg_t *out) {
  pz_mpr_t r;
  uint32_t n;
  uint64_t op, seq;
  double v[4];
  pz_mpr_init(&r, data, len);
  if (pz_mpr_array(&r, &n) != 0 || n != 6 || pz_mpr_uint(&r, &op) != 0 ||
      op != PZ_C_MOVE || pz_mpr_uint(&r, &seq) != 0)
    return false;
  for (int i = 0; i < 4; i++)
    if (pz_mpr_num(&r, &v[i]) != 0 || !isfinite(v[i]) || fabs(v[i]) > FLT_MAX)
      return false;
  if (pz_mpr_left(&r) != 0)
    return false;
  out->op = PZ_C_MOVE;
  out->u.move.seq = seq;
  out->u.move.pos =
      (pz_pos_t){(float)v[0], (float)v[1], (float)v[2], (float)v[3]};
  return true;
}

int pz_decode_client(const char *data, size_t len, msgpack_zone *zone,
                     pz_cmsg_t *out, pz_decode_error_t *err) {
  if (decode_move_in_place(data, len, out))
    return 0;
  msgpack_object_array a;
  const char *why = pz_mp_unpack_array(data, len, zone, &a);
  if (why != NULL)
    return pz_bad(err, 0, why);
  if (a.size == 0)
    return pz_bad(err, 0, "message array is empty");
  if (a.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a.ptr[0].via.u64 == 0)
    return pz_bad(err, 0, "op must be a positive integer");
  uint64_t op64 = a.ptr[0].via.u64;
  if (op64 > PZ_C_VIEW)
    /* An op too large for an int cannot be named back in ERROR. */
    return pz_fail(err, PZ_ERR_UNKNOWN_OP, op64 <= INT_MAX ? (int)op64 : 0,
                   "unknown op");
  out->op = (int)op64;

  switch (out->op) {
  case PZ_C_HELLO:
    return pz_decode_hello(data, len, &a, zone, out, err);
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
  case PZ_C_PING: /* t is echoed as sent, but it must be there */
    if (a.size < 2)
      return pz_bad(err, PZ_C_PING, "PING needs t");
    out->u.ping.t = a.ptr[1];
    return 0;
  case PZ_C_SET:
    if (a.size < 2)
      return pz_bad(err, PZ_C_SET, "SET needs a patch");
    return patch_at(data, len, &a, 1, zone, PZ_C_SET, &out->u.set.patch, err);
  case PZ_C_SIGNAL:
    return pz_decode_signal(data, len, &a, out, err);
  case PZ_C_ROOM_SET:
    return pz_decode_room_set(data, len, &a, out, err);
  default: /* PZ_C_VIEW */
    return pz_decode_view(&a, out, err);
  }
}
