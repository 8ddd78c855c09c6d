/*
 * Unit tests of protocol 1.1 in the codec (src/proto): the app values of
 * member state, signals and room state. Checked: each new client op
 * through its encoder and pz_decode_client, handing out the value's bytes
 * exactly as sent; every refusal with its ERROR code, op and message (not a
 * map, non-string keys, key lengths and UTF-8, keys twice, nesting past 16,
 * map keys JavaScript cannot hold); each new server op and trailing field
 * through pz_decode_server, older servers' shorter messages included;
 * truncation at every length; pz_map_iter and pz_state_apply (replace,
 * delete, order, the size bound, bad input). Decoders read exact-size heap
 * copies so ASan sees any over-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pack_fmt.h"
#include "plaza/codec.h"

typedef struct fx {
  msgpack_sbuffer sb, val; /* a message; a value packed apart */
  msgpack_packer pk, vpk;
  msgpack_zone zone;
  char *copy; /* what the decoder reads: exactly len bytes */
  size_t len;
} fx_t;

static int fx_setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  msgpack_sbuffer_init(&f->sb);
  msgpack_sbuffer_init(&f->val);
  msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
  msgpack_packer_init(&f->vpk, &f->val, msgpack_sbuffer_write);
  if (!msgpack_zone_init(&f->zone, 1024))
    return -1;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx_t *f = *state;
  msgpack_sbuffer_destroy(&f->sb);
  msgpack_sbuffer_destroy(&f->val);
  msgpack_zone_destroy(&f->zone);
  free(f->copy);
  free(f);
  return 0;
}

static msgpack_packer *fx_pk(fx_t *f) {
  msgpack_sbuffer_clear(&f->sb);
  msgpack_zone_clear(&f->zone);
  return &f->pk;
}

/* A value packed by format into f->val: its bytes. */
static pz_raw_t val(fx_t *f, const char *fmt, ...) {
  msgpack_sbuffer_clear(&f->val);
  va_list ap;
  va_start(ap, fmt);
  pack_v(&f->vpk, fmt, ap);
  va_end(ap);
  return (pz_raw_t){f->val.data, (uint32_t)f->val.size};
}

static void take(fx_t *f, size_t n) {
  free(f->copy);
  f->copy = malloc(n ? n : 1);
  assert_non_null(f->copy);
  if (n > 0)
    memcpy(f->copy, f->sb.data, n);
  f->len = n;
}

static int dec_c(fx_t *f, size_t n, pz_cmsg_t *m, pz_decode_error_t *e) {
  take(f, n);
  memset(m, 0x5a, sizeof *m);
  *e = (pz_decode_error_t){-7, -7, NULL};
  return pz_decode_client(f->copy, f->len, &f->zone, m, e);
}

static int dec_s(fx_t *f, size_t n, pz_smsg_t *m) {
  take(f, n);
  memset(m, 0x5a, sizeof *m);
  return pz_decode_server(f->copy, f->len, &f->zone, m);
}

/* The bytes a decoder handed out lie in its copy and equal `want`. */
static void assert_raw(fx_t *f, pz_raw_t got, const char *want, size_t n) {
  assert_non_null(got.ptr);
  assert_true(got.ptr >= f->copy && got.ptr + got.len <= f->copy + f->len);
  assert_int_equal(got.len, n);
  assert_memory_equal(got.ptr, want, n);
}

#define assert_str_equal(s, lit)                                               \
  do {                                                                         \
    assert_non_null((s).ptr);                                                  \
    assert_int_equal((s).len, strlen(lit));                                    \
    assert_memory_equal((s).ptr, lit, strlen(lit));                            \
  } while (0)

/* A client message by format must be refused with code, op and message. */
#define REJECT(f, code_, op_, msg_, ...)                                       \
  do {                                                                         \
    pz_cmsg_t m_;                                                              \
    pz_decode_error_t e_;                                                      \
    pack(fx_pk(f), __VA_ARGS__);                                               \
    assert_int_equal(dec_c(f, (f)->sb.size, &m_, &e_), -1);                    \
    assert_int_equal(e_.code, code_);                                          \
    assert_int_equal(e_.op, op_);                                              \
    assert_string_equal(e_.message, msg_);                                     \
  } while (0)

/* ---- client -> server ----------------------------------------------------
 */

static void test_set_roundtrip_keeps_the_bytes(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  /* {"color": "red", "gone": nil, "pose": [1, 2.5, {"k": -3}]} */
  pz_raw_t patch = val(f, "m s s s n s a u d m s i", 3, "color", "red", "gone",
                       "pose", 3, 1, 2.5, 1, "k", -3);
  pz_enc_set(fx_pk(f), patch);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_SET);
  assert_raw(f, m.u.set.patch, f->val.data, f->val.size);
  /* An empty patch is a patch. */
  pz_enc_set(fx_pk(f), (pz_raw_t){NULL, 0});
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_raw(f, m.u.set.patch, "\x80", 1);
}

static void test_hello_state_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_raw_t st = val(f, "m s u", 1, "hat", 3);
  pz_enc_hello_state(fx_pk(f), 1, pz_str_c(NULL), pz_str_c("ana"),
                     pz_str_c(NULL), false, 0, st);
  /* [1, 1, nil, "ana", nil, nil, {"hat": 3}] */
  assert_int_equal((unsigned char)f->sb.data[0], 0x97);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_false(m.u.hello.has_last_chat_seq);
  assert_null(m.u.hello.resume.ptr);
  assert_raw(f, m.u.hello.state, f->val.data, f->val.size);
  /* Without a state: what pz_enc_hello writes, and state absent. */
  pz_enc_hello_state(fx_pk(f), 1, pz_str_c(NULL), pz_str_c("ana"),
                     pz_str_c(NULL), false, 0, (pz_raw_t){NULL, 0});
  assert_int_equal((unsigned char)f->sb.data[0], 0x94);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_null(m.u.hello.state.ptr);
  /* A nil state is none. */
  pack(fx_pk(f), "a u u n n n n n", 7, 1, 1);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_null(m.u.hello.state.ptr);
}

static void test_signal_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_raw_t data = val(f, "a s b", 2, "offer", "sdp\x01");
  pz_enc_signal(fx_pk(f), false, (1ull << 53) - 1, pz_str_c("rtc"), data);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_SIGNAL);
  assert_false(m.u.signal.to_room);
  assert_int_equal(m.u.signal.to, (1ull << 53) - 1);
  assert_str_equal(m.u.signal.kind, "rtc");
  assert_raw(f, m.u.signal.data, f->val.data, f->val.size);
  /* To the room (nil), and data absent: nil. */
  pack(fx_pk(f), "a u n s", 3, 9, "wave");
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_true(m.u.signal.to_room);
  assert_int_equal(m.u.signal.data.len, 1);
  assert_int_equal((unsigned char)m.u.signal.data.ptr[0], 0xc0);
  assert_true(pz_raw_is_nil(m.u.signal.data));
  pz_enc_signal(fx_pk(f), true, 0, pz_str_c("wave"), (pz_raw_t){NULL, 0});
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_true(m.u.signal.to_room);
  assert_true(pz_raw_is_nil(m.u.signal.data));
}

static void test_room_set_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_raw_t v = val(f, "m s t", 1, "on", 0);
  pz_enc_room_set(fx_pk(f), pz_str_c("lamp"), v, true, 0);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_ROOM_SET);
  assert_str_equal(m.u.room_set.key, "lamp");
  assert_raw(f, m.u.room_set.value, f->val.data, f->val.size);
  assert_true(m.u.room_set.has_if_version);
  assert_int_equal(m.u.room_set.if_version, 0);
  /* A delete, without if_version. */
  pz_enc_room_set(fx_pk(f), pz_str_c("lamp"), (pz_raw_t){NULL, 0}, false, 0);
  assert_int_equal((unsigned char)f->sb.data[0], 0x93);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_true(pz_raw_is_nil(m.u.room_set.value));
  assert_false(m.u.room_set.has_if_version);
  pack(fx_pk(f), "a u s u n", 4, 10, "k", 5);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  assert_false(m.u.room_set.has_if_version);
}

static void test_reject_bad_patches(void **state) {
  fx_t *f = *state;
  const int B = PZ_ERR_BAD_MESSAGE, I = PZ_ERR_INVALID_ARGUMENT;
  REJECT(f, B, PZ_C_SET, "SET needs a patch", "a u", 1, 8);
  REJECT(f, B, PZ_C_SET, "state must be a map", "a u a u", 2, 8, 1, 1);
  REJECT(f, B, PZ_C_SET, "state must be a map", "a u n", 2, 8);
  REJECT(f, B, PZ_C_SET, "state keys must be strings", "a u m u u", 2, 8, 1, 1,
         2);
  REJECT(f, B, PZ_C_SET, "state keys must be strings", "a u m b u", 2, 8, 1,
         "k", 2);
  REJECT(f, I, PZ_C_SET, "state keys must be 1-32 bytes of UTF-8", "a u m s u",
         2, 8, 1, "", 1);
  REJECT(f, I, PZ_C_SET, "state keys must be 1-32 bytes of UTF-8", "a u m s u",
         2, 8, 1, "123456789012345678901234567890123", 1);
  REJECT(f, I, PZ_C_SET, "state keys must be 1-32 bytes of UTF-8", "a u m s u",
         2, 8, 1, "\xc3\x28", 1);
  REJECT(f, I, PZ_C_SET, "state key given twice", "a u m s u s u s u", 2, 8, 3,
         "a", 1, "b", 2, "a", 3);
  /* 32 bytes, multi-byte UTF-8: fine. */
  pz_cmsg_t m;
  pz_decode_error_t e;
  pack(fx_pk(f), "a u m s u", 2, 8, 1,
       "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
       "123456789012345678901234",
       1);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  /* HELLO's state: the same rules, op HELLO. */
  REJECT(f, B, PZ_C_HELLO, "state must be a map", "a u u n n n n s", 7, 1, 1,
         "x");
  REJECT(f, I, PZ_C_HELLO, "state key given twice", "a u u n n n n m s u s u",
         7, 1, 1, 2, "k", 1, "k", 2);
}

/* [8, {"d": v}] where v nests `depth` arrays, or maps when map. */
static void pack_deep(fx_t *f, int depth, bool map) {
  msgpack_packer *pk = fx_pk(f);
  pack(pk, "a u m s", 2, 8, 1, "d");
  for (int i = 0; i < depth; i++)
    if (map)
      pack(pk, "m s", 1, "k");
    else
      pack(pk, "a", 1);
  pack(pk, "u", 7);
}

static void test_value_depth_and_map_keys(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  const char *deep =
      "state values may nest 16 deep, with string or integer map keys";
  for (int map = 0; map < 2; map++) {
    pack_deep(f, PZ_VALUE_DEPTH_MAX, map);
    assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
    pack_deep(f, PZ_VALUE_DEPTH_MAX + 1, map);
    assert_int_equal(dec_c(f, f->sb.size, &m, &e), -1);
    assert_int_equal(e.code, PZ_ERR_INVALID_ARGUMENT);
    assert_string_equal(e.message, deep);
  }
  /* Past what msgpack-c unpacks at all: refused as malformed, no crash. */
  pack_deep(f, 40, false);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), -1);
  assert_int_equal(e.code, PZ_ERR_BAD_MESSAGE);
  /* Integer keys inside a value are fine; bool, nil, float, array keys
   * are not (JavaScript cannot hold them). */
  pack(fx_pk(f), "a u m s m i u u u", 2, 8, 1, "d", 2, -1, 1, 2, 3);
  assert_int_equal(dec_c(f, f->sb.size, &m, &e), 0);
  REJECT(f, PZ_ERR_INVALID_ARGUMENT, PZ_C_SET, deep, "a u m s m t u", 2, 8, 1,
         "d", 1, 1);
  REJECT(f, PZ_ERR_INVALID_ARGUMENT, PZ_C_SET, deep, "a u m s m n u", 2, 8, 1,
         "d", 1, 1);
  REJECT(f, PZ_ERR_INVALID_ARGUMENT, PZ_C_SET, deep, "a u m s m d u", 2, 8, 1,
         "d", 1, 1.5, 1);
  REJECT(f, PZ_ERR_INVALID_ARGUMENT, PZ_C_SIGNAL,
         "SIGNAL data may nest 16 deep, with string or integer map keys",
         "a u n s m a u", 4, 9, "k", 1, 0, 1);
  REJECT(f, PZ_ERR_INVALID_ARGUMENT, PZ_C_ROOM_SET,
         "ROOM_SET value may nest 16 deep, with string or integer map keys",
         "a u s m b u", 3, 10, "k", 1, "x", 1);
}

static void test_reject_bad_signals_and_room_sets(void **state) {
  fx_t *f = *state;
  const int B = PZ_ERR_BAD_MESSAGE, I = PZ_ERR_INVALID_ARGUMENT;
  REJECT(f, B, PZ_C_SIGNAL, "SIGNAL to must be a session id or nil",
         "a u s s u", 4, 9, "x", "k", 1);
  REJECT(f, B, PZ_C_SIGNAL, "SIGNAL to must be a session id or nil",
         "a u i s u", 4, 9, -2, "k", 1);
  REJECT(f, B, PZ_C_SIGNAL, "SIGNAL kind must be a string", "a u n", 2, 9);
  REJECT(f, B, PZ_C_SIGNAL, "SIGNAL kind must be a string", "a u n b", 3, 9,
         "k");
  REJECT(f, I, PZ_C_SIGNAL, "SIGNAL kind must be 1-32 bytes of UTF-8",
         "a u n s", 3, 9, "");
  REJECT(f, I, PZ_C_SIGNAL, "SIGNAL kind must be 1-32 bytes of UTF-8",
         "a u n s", 3, 9, "\xff");
  REJECT(f, B, PZ_C_ROOM_SET, "ROOM_SET key must be a string", "a u u u", 3, 10,
         1, 1);
  REJECT(f, I, PZ_C_ROOM_SET, "ROOM_SET key must be 1-64 bytes of UTF-8",
         "a u s u", 3, 10, "", 1);
  REJECT(f, I, PZ_C_ROOM_SET, "ROOM_SET key must be 1-64 bytes of UTF-8",
         "a u s u", 3, 10,
         "12345678901234567890123456789012345678901234567890123456789012345",
         1);
  REJECT(f, B, PZ_C_ROOM_SET, "ROOM_SET needs a value (nil deletes)", "a u s",
         2, 10, "k");
  REJECT(f, B, PZ_C_ROOM_SET,
         "ROOM_SET if_version must be a non-negative integer or nil",
         "a u s u i", 4, 10, "k", 1, -1);
  /* Past VIEW (11): not an op. */
  REJECT(f, PZ_ERR_UNKNOWN_OP, 12, "unknown op", "a u m", 2, 12, 0);
}

/* ---- server -> client ----------------------------------------------------
 */

static void test_welcome_features(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  uint32_t all = PZ_FEATURE_STATE | PZ_FEATURE_SIGNAL | PZ_FEATURE_ROOM_STATE |
                 PZ_FEATURE_VIEW | PZ_FEATURE_COMPACT;
  pz_enc_welcome(fx_pk(f), 5, pz_str_c("s"), 30, 7, false, all);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.u.welcome.features, all);
  /* The names, in bit order. */
  const char tail[] = "\x95\xa5state\xa6signal\xaaroom_state\xa4view\xa7"
                      "compact";
  assert_memory_equal(f->sb.data + f->sb.size - (sizeof tail - 1), tail,
                      sizeof tail - 1);
  /* A v1 server: no features. */
  pack(fx_pk(f), "a u u s u u t", 6, 1, 5, "s", 30, 7);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.u.welcome.features, 0);
  /* Not an array of strings: refused. */
  pack(fx_pk(f), "a u u s u u t s", 7, 1, 5, "s", 30, 7, "state");
  assert_int_equal(dec_s(f, f->sb.size, &m), -1);
  pack(fx_pk(f), "a u u s u u t a u", 7, 1, 5, "s", 30, 7, 1, 1);
  assert_int_equal(dec_s(f, f->sb.size, &m), -1);
}

static void test_room_with_states_and_room_state(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  pz_member_t a = {1, {"ana", 3}, {1, 2, 3, 4}},
              b = {2, {"bob", 3}, {0, 0, 0, 0}};
  msgpack_packer *pk = fx_pk(f);
  pz_enc_room_begin(pk, pz_str_c("lobby"), 2);
  pz_enc_member(pk, &a, (pz_raw_t){"\x81\xa1k\x01", 4}); /* {"k": 1} */
  pz_enc_member(pk, &b, (pz_raw_t){NULL, 0});
  pz_enc_room_history(pk, 0);
  pz_enc_room_state_begin(pk, 2);
  pz_enc_room_state_entry(pk, pz_str_c("lamp"), (pz_raw_t){"\xc3", 1}, 4);
  pz_enc_room_state_entry(pk, pz_str_c("seat"), (pz_raw_t){"\x92\x01\x02", 3},
                          1);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.u.room.n_members, 2);
  assert_raw(f, m.u.room.member_states[0], "\x81\xa1k\x01", 4);
  assert_raw(f, m.u.room.member_states[1], "\x80", 1);
  assert_int_equal(m.u.room.n_room_state, 2);
  assert_str_equal(m.u.room.room_state[0].key, "lamp");
  assert_raw(f, m.u.room.room_state[0].value, "\xc3", 1);
  assert_int_equal(m.u.room.room_state[0].version, 4);
  assert_str_equal(m.u.room.room_state[1].key, "seat");
  assert_raw(f, m.u.room.room_state[1].value, "\x92\x01\x02", 3);
  /* A v1 server's ROOM: no states, no room state. */
  pack(fx_pk(f), "a u s a a u s f f f f a", 4, 2, "r", 1, 6, 4, "n", 1., 2., 3.,
       4., 0);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_null(m.u.room.member_states[0].ptr);
  assert_int_equal(m.u.room.n_room_state, 0);
  /* A member state that is not a map, a room state entry that is not
   * [value, version]: refused. */
  pack(fx_pk(f), "a u s a a u s f f f f u a", 4, 2, "r", 1, 7, 4, "n", 1., 2.,
       3., 4., 5, 0);
  assert_int_equal(dec_s(f, f->sb.size, &m), -1);
  pack(fx_pk(f), "a u s a a m s u", 5, 2, "r", 0, 0, 1, "k", 1);
  assert_int_equal(dec_s(f, f->sb.size, &m), -1);
  pack(fx_pk(f), "a u s a a m s a u", 5, 2, "r", 0, 0, 1, "k", 1, 1);
  assert_int_equal(dec_s(f, f->sb.size, &m), -1);
}

static void test_joined_member_signal_room_state_conflict(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  pz_member_t a = {9, {"ana", 3}, {1, 2, 3, 4}};
  pz_enc_joined(fx_pk(f), &a, (pz_raw_t){"\x81\xa1k\xa1v", 5});
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.u.joined.id, 9);
  assert_raw(f, m.u.joined_state, "\x81\xa1k\xa1v", 5);

  pz_enc_member_msg(fx_pk(f), 9, (pz_raw_t){"\x81\xa1k\xc0", 4});
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.op, PZ_S_MEMBER);
  assert_int_equal(m.u.member.id, 9);
  assert_raw(f, m.u.member.patch, "\x81\xa1k\xc0", 4);
  pack(fx_pk(f), "a u u u", 3, 10, 9, 1); /* a patch that is not a map */
  assert_int_equal(dec_s(f, f->sb.size, &m), -1);

  pz_enc_signal_msg(fx_pk(f), 0, pz_str_c("server"), pz_str_c("announce"),
                    (pz_raw_t){"\x91\x07", 2}, 1234);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.op, PZ_S_SIGNAL);
  assert_int_equal(m.u.signal.from, 0);
  assert_str_equal(m.u.signal.name, "server");
  assert_str_equal(m.u.signal.kind, "announce");
  assert_raw(f, m.u.signal.data, "\x91\x07", 2);
  assert_int_equal(m.u.signal.ts_ms, 1234);

  pz_enc_room_state_msg(fx_pk(f), pz_str_c("seat"), (pz_raw_t){NULL, 0}, 7, 9);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.op, PZ_S_ROOM_STATE);
  assert_str_equal(m.u.room_state.key, "seat");
  assert_true(pz_raw_is_nil(m.u.room_state.value));
  assert_int_equal(m.u.room_state.version, 7);
  assert_int_equal(m.u.room_state.by, 9);

  pz_enc_error_conflict(fx_pk(f), "conflict", pz_str_c("seat"), 3);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_int_equal(m.u.error.code, PZ_ERR_CONFLICT);
  assert_int_equal(m.u.error.op, PZ_C_ROOM_SET);
  assert_str_equal(m.u.error.key, "seat");
  assert_true(m.u.error.has_version);
  assert_int_equal(m.u.error.version, 3);
  pz_enc_error(fx_pk(f), PZ_ERR_NOT_FOUND, "no", PZ_C_SIGNAL);
  assert_int_equal(dec_s(f, f->sb.size, &m), 0);
  assert_null(m.u.error.key.ptr);
  assert_false(m.u.error.has_version);
}

static void test_new_messages_truncated_at_every_length(void **state) {
  fx_t *f = *state;
  pz_member_t a = {9, {"ana", 3}, {1, 2, 3, 4}};
  for (int k = 0; k < 8; k++) {
    msgpack_packer *pk = fx_pk(f);
    bool client = k >= 5;
    switch (k) {
    case 0:
      pz_enc_member_msg(pk, 9, (pz_raw_t){"\x81\xa1k\x92\x01\x02", 6});
      break;
    case 1:
      pz_enc_signal_msg(pk, 3, pz_str_c("n"), pz_str_c("k"),
                        (pz_raw_t){"\x81\xa1k\x01", 4}, 5);
      break;
    case 2:
      pz_enc_room_state_msg(pk, pz_str_c("k"), (pz_raw_t){"\x92\x01\x02", 3}, 2,
                            3);
      break;
    case 3:
      pz_enc_room_begin(pk, pz_str_c("r"), 1);
      pz_enc_member(pk, &a, (pz_raw_t){"\x81\xa1k\x01", 4});
      pz_enc_room_history(pk, 0);
      pz_enc_room_state_begin(pk, 1);
      pz_enc_room_state_entry(pk, pz_str_c("k"), (pz_raw_t){"\x91\x01", 2}, 1);
      break;
    case 4:
      pz_enc_error_conflict(pk, "c", pz_str_c("k"), 1);
      break;
    case 5:
      pz_enc_set(pk, (pz_raw_t){"\x81\xa1k\x92\x01\x02", 6});
      break;
    case 6:
      pz_enc_signal(pk, false, 77, pz_str_c("k"), (pz_raw_t){"\x91\x01", 2});
      break;
    default:
      pz_enc_room_set(pk, pz_str_c("k"), (pz_raw_t){"\x91\x01", 2}, true, 4);
      break;
    }
    size_t full = f->sb.size;
    for (size_t n = 0; n < full; n++) {
      pz_smsg_t sm;
      pz_cmsg_t cm;
      pz_decode_error_t e;
      int rc = client ? dec_c(f, n, &cm, &e) : dec_s(f, n, &sm);
      if (rc != -1)
        fail_msg("message %d cut to %zu of %zu bytes accepted", k, n, full);
    }
    pz_smsg_t sm;
    pz_cmsg_t cm;
    pz_decode_error_t e;
    assert_int_equal(client ? dec_c(f, full, &cm, &e) : dec_s(f, full, &sm), 0);
  }
}

/* ---- maps and state patches ----------------------------------------------
 */

static void test_map_iter(void **state) {
  fx_t *f = *state;
  pz_raw_t m = val(f, "m s u s a u u", 2, "a", 1, "bb", 2, 7, 8);
  pz_map_iter_t it;
  pz_str_t k;
  pz_raw_t v;
  assert_true(pz_map_iter_init(&it, m));
  assert_true(pz_map_next(&it, &k, &v));
  assert_str_equal(k, "a");
  assert_int_equal(v.len, 1);
  assert_true(pz_map_next(&it, &k, &v));
  assert_str_equal(k, "bb");
  assert_int_equal(v.len, 3);
  assert_false(pz_map_next(&it, &k, &v));
  assert_false(it.bad);
  /* Absent is empty; not a map is refused; a key that is no string, or
   * bytes cut short, end the walk as bad. */
  assert_true(pz_map_iter_init(&it, (pz_raw_t){NULL, 0}));
  assert_false(pz_map_next(&it, &k, &v));
  assert_false(it.bad);
  assert_false(pz_map_iter_init(&it, (pz_raw_t){"\x91\x01", 2}));
  assert_true(pz_map_iter_init(&it, (pz_raw_t){"\x81\x01\x02", 3}));
  assert_false(pz_map_next(&it, &k, &v));
  assert_true(it.bad);
  assert_true(pz_map_iter_init(&it, (pz_raw_t){"\x82\xa1k\x01\xa1j", 5}));
  assert_true(pz_map_next(&it, &k, &v));
  assert_false(pz_map_next(&it, &k, &v));
  assert_true(it.bad);
  /* A str8 header claiming more than is there. */
  assert_true(pz_map_iter_init(&it, (pz_raw_t){"\x81\xd9\x09k\x01", 5}));
  assert_false(pz_map_next(&it, &k, &v));
  assert_true(it.bad);
}

/* Applies a patch packed by fmt to `st`; the result in out. */
static int apply(fx_t *f, pz_raw_t st, char *out, size_t cap, size_t *len,
                 const char *fmt, ...) {
  msgpack_sbuffer_clear(&f->val);
  va_list ap;
  va_start(ap, fmt);
  pack_v(&f->vpk, fmt, ap);
  va_end(ap);
  int rc = pz_state_apply(st, (pz_raw_t){f->val.data, (uint32_t)f->val.size},
                          &f->zone, out, cap, len);
  msgpack_zone_clear(&f->zone);
  return rc;
}

#define ASSERT_STATE(out, len, ...)                                            \
  do {                                                                         \
    static const unsigned char want_[] = {__VA_ARGS__};                        \
    assert_int_equal(len, sizeof want_);                                       \
    assert_memory_equal(out, want_, sizeof want_);                             \
  } while (0)

static void test_state_apply(void **state) {
  fx_t *f = *state;
  char a[256], b[256];
  size_t al, bl;
  /* Empty + {"x": 1, "y": nil} = {"x": 1}: nil values are not kept. */
  assert_int_equal(apply(f, (pz_raw_t){NULL, 0}, a, sizeof a, &al, "m s u s n",
                         2, "x", 1, "y"),
                   PZ_STATE_OK);
  ASSERT_STATE(a, al, 0x81, 0xa1, 'x', 0x01);
  /* {"x": 1} + {"z": 3, "x": 2} = {"x": 2, "z": 3}: kept keys in place,
   * new ones after, in the patch's order. */
  assert_int_equal(apply(f, (pz_raw_t){a, (uint32_t)al}, b, sizeof b, &bl,
                         "m s u s u", 2, "z", 3, "x", 2),
                   PZ_STATE_OK);
  ASSERT_STATE(b, bl, 0x82, 0xa1, 'x', 0x02, 0xa1, 'z', 0x03);
  /* Delete x, add w; deleting what is absent changes nothing. */
  assert_int_equal(apply(f, (pz_raw_t){b, (uint32_t)bl}, a, sizeof a, &al,
                         "m s n s n s a u", 3, "x", "q", "w", 1, 4),
                   PZ_STATE_OK);
  ASSERT_STATE(a, al, 0x82, 0xa1, 'z', 0x03, 0xa1, 'w', 0x91, 0x04);
  /* Everything deleted: the empty map. */
  assert_int_equal(apply(f, (pz_raw_t){a, (uint32_t)al}, b, sizeof b, &bl,
                         "m s n s n", 2, "w", "z"),
                   PZ_STATE_OK);
  ASSERT_STATE(b, bl, 0x80);
  /* The bound counts the whole new state: 4 bytes fit in 4, not in 3. */
  assert_int_equal(apply(f, (pz_raw_t){NULL, 0}, a, 4, &al, "m s u", 1, "x", 1),
                   PZ_STATE_OK);
  assert_int_equal(apply(f, (pz_raw_t){NULL, 0}, b, 3, &bl, "m s u", 1, "x", 1),
                   PZ_STATE_TOO_LARGE);
  /* A patch that shrinks a state past the bound brings it back under. */
  assert_int_equal(
      apply(f, (pz_raw_t){a, (uint32_t)al}, b, 1, &bl, "m s n", 1, "x"),
      PZ_STATE_OK);
  ASSERT_STATE(b, bl, 0x80);
  /* Bad input. */
  assert_int_equal(apply(f, (pz_raw_t){NULL, 0}, a, sizeof a, &al, "a u", 1, 1),
                   PZ_STATE_BAD);
  assert_int_equal(apply(f, (pz_raw_t){NULL, 0}, a, sizeof a, &al, "m s u s u",
                         2, "k", 1, "k", 2),
                   PZ_STATE_BAD);
  assert_int_equal(
      apply(f, (pz_raw_t){NULL, 0}, a, sizeof a, &al, "m u u", 1, 1, 1),
      PZ_STATE_BAD);
  assert_int_equal(apply(f, (pz_raw_t){"\x81\x01\x02", 3}, a, sizeof a, &al,
                         "m s u", 1, "k", 1),
                   PZ_STATE_BAD);
  assert_int_equal(apply(f, (pz_raw_t){"\x82\xa1k\x01", 4}, a, sizeof a, &al,
                         "m s u", 1, "k", 1),
                   PZ_STATE_BAD);
}

static void test_state_apply_many_keys(void **state) {
  fx_t *f = *state;
  /* 200 keys in, every other one deleted: order kept, 16-bit map header. */
  msgpack_sbuffer_clear(&f->val);
  msgpack_pack_map(&f->vpk, 200);
  char key[8];
  for (int i = 0; i < 200; i++) {
    int n = snprintf(key, sizeof key, "k%d", i);
    msgpack_pack_str_with_body(&f->vpk, key, (size_t)n);
    msgpack_pack_int(&f->vpk, i);
  }
  static char st[4096], out[4096];
  size_t sl, ol;
  assert_int_equal(
      pz_state_apply((pz_raw_t){NULL, 0},
                     (pz_raw_t){f->val.data, (uint32_t)f->val.size}, &f->zone,
                     st, sizeof st, &sl),
      PZ_STATE_OK);
  assert_int_equal((unsigned char)st[0], 0xde);
  msgpack_sbuffer_clear(&f->val);
  msgpack_pack_map(&f->vpk, 100);
  for (int i = 0; i < 200; i += 2) {
    int n = snprintf(key, sizeof key, "k%d", i);
    msgpack_pack_str_with_body(&f->vpk, key, (size_t)n);
    msgpack_pack_nil(&f->vpk);
  }
  assert_int_equal(
      pz_state_apply((pz_raw_t){st, (uint32_t)sl},
                     (pz_raw_t){f->val.data, (uint32_t)f->val.size}, &f->zone,
                     out, sizeof out, &ol),
      PZ_STATE_OK);
  pz_map_iter_t it;
  pz_str_t k;
  pz_raw_t v;
  assert_true(pz_map_iter_init(&it, (pz_raw_t){out, (uint32_t)ol}));
  for (int i = 1; i < 200; i += 2) {
    assert_true(pz_map_next(&it, &k, &v));
    int n = snprintf(key, sizeof key, "k%d", i);
    assert_int_equal(k.len, n);
    assert_memory_equal(k.ptr, key, (size_t)n);
  }
  assert_false(pz_map_next(&it, &k, &v));
  assert_int_equal(it.values, 0);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(test_set_roundtrip_keeps_the_bytes),
      T(test_hello_state_roundtrip),
      T(test_signal_roundtrip),
      T(test_room_set_roundtrip),
      T(test_reject_bad_patches),
      T(test_value_depth_and_map_keys),
      T(test_reject_bad_signals_and_room_sets),
      T(test_welcome_features),
      T(test_room_with_states_and_room_state),
      T(test_joined_member_signal_room_state_conflict),
      T(test_new_messages_truncated_at_every_length),
      T(test_map_iter),
      T(test_state_apply),
      T(test_state_apply_many_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
