/*
 * Unit tests of the client -> server half of the codec (src/proto): every
 * client message through its encoder and pz_decode_client, the exact bytes
 * the encoders write, every class of refusal with its ERROR code, op and
 * message, truncation at every length, and the allocation bound of the
 * unpack. Decoders always read an exact-size heap copy of the bytes, so
 * ASan sees any read past the end.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plaza/codec.h"
#include "pack_fmt.h"

typedef struct fx {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_zone zone;
  char *copy; /* what the decoder reads: exactly len bytes */
  size_t len;
} fx_t;

static int fx_setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  msgpack_sbuffer_init(&f->sb);
  msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
  if (!msgpack_zone_init(&f->zone, 1024))
    return -1;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx_t *f = *state;
  msgpack_sbuffer_destroy(&f->sb);
  msgpack_zone_destroy(&f->zone);
  free(f->copy);
  free(f);
  return 0;
}

/* Starts a new message: empty buffer, empty zone. */
static msgpack_packer *fx_pk(fx_t *f) {
  msgpack_sbuffer_clear(&f->sb);
  msgpack_zone_clear(&f->zone);
  return &f->pk;
}

/* Makes the decoder's copy of the first n packed bytes. */
static void fx_take(fx_t *f, size_t n) {
  free(f->copy);
  f->copy = malloc(n ? n : 1);
  assert_non_null(f->copy);
  if (n > 0)
    memcpy(f->copy, f->sb.data, n);
  f->len = n;
}

static void fx_raw(fx_t *f, const char *bytes, size_t n) {
  msgpack_packer *pk = fx_pk(f);
  (void)pk;
  msgpack_sbuffer_write(&f->sb, bytes, n);
}

/* Decodes the first n packed bytes with sentinel-filled outputs. */
static int fx_dec_n(fx_t *f, size_t n, pz_cmsg_t *m, pz_decode_error_t *e) {
  fx_take(f, n);
  memset(m, 0x5a, sizeof *m);
  *e = (pz_decode_error_t){-7, -7, NULL};
  return pz_decode_client(f->copy, f->len, &f->zone, m, e);
}

static int fx_dec(fx_t *f, pz_cmsg_t *m, pz_decode_error_t *e) {
  return fx_dec_n(f, f->sb.size, m, e);
}

static int dec_fmt(fx_t *f, pz_cmsg_t *m, pz_decode_error_t *e, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  pack_v(fx_pk(f), fmt, ap);
  va_end(ap);
  return fx_dec(f, m, e);
}

/* Macros, so that a failure names the calling line. */
#define REJECT(f, code_, op_, msg_, ...)                                       \
  do {                                                                         \
    pz_cmsg_t m_;                                                              \
    pz_decode_error_t e_;                                                      \
    assert_int_equal(dec_fmt(f, &m_, &e_, __VA_ARGS__), -1);                   \
    assert_int_equal(e_.code, code_);                                          \
    assert_int_equal(e_.op, op_);                                              \
    assert_string_equal(e_.message, msg_);                                     \
  } while (0)

#define ACCEPT(f, m, ...)                                                      \
  do {                                                                         \
    pz_decode_error_t e_;                                                      \
    int rc_ = dec_fmt(f, m, &e_, __VA_ARGS__);                                 \
    if (rc_ != 0)                                                              \
      fail_msg("refused: %s", e_.message);                                     \
  } while (0)

#define assert_str_equal(s, lit)                                               \
  do {                                                                         \
    assert_non_null((s).ptr);                                                  \
    assert_int_equal((s).len, strlen(lit));                                    \
    assert_memory_equal((s).ptr, lit, strlen(lit));                            \
  } while (0)

#define assert_bytes(f, ...)                                                   \
  do {                                                                         \
    static const unsigned char want_[] = {__VA_ARGS__};                        \
    assert_int_equal((f)->sb.size, sizeof want_);                              \
    assert_memory_equal((f)->sb.data, want_, sizeof want_);                    \
  } while (0)

/* ---- round trips ---------------------------------------------------------
 */

static void test_hello_full_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_enc_hello(fx_pk(f), 1, pz_str_c("jwt.a.b"), pz_str_c("ana"),
               pz_str_c("sess-1"), true, 42);
  assert_int_equal((unsigned char)f->sb.data[0], 0x96);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_HELLO);
  assert_int_equal(m.u.hello.version, 1);
  assert_str_equal(m.u.hello.token, "jwt.a.b");
  assert_str_equal(m.u.hello.name, "ana");
  assert_str_equal(m.u.hello.resume, "sess-1");
  assert_true(m.u.hello.has_last_chat_seq);
  assert_int_equal(m.u.hello.last_chat_seq, 42);
  /* Strings are borrowed from the decoded buffer, not copied. */
  assert_true(m.u.hello.name.ptr > f->copy &&
              m.u.hello.name.ptr < f->copy + f->len);
}

static void test_hello_minimal_writes_two_elements(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_str_t none = pz_str_c(NULL);
  pz_enc_hello(fx_pk(f), 1, none, none, none, false, 0);
  assert_bytes(f, 0x92, 0x01, 0x01);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_HELLO);
  assert_null(m.u.hello.token.ptr);
  assert_null(m.u.hello.name.ptr);
  assert_null(m.u.hello.resume.ptr);
  assert_false(m.u.hello.has_last_chat_seq);
}

static void test_hello_nil_placeholders_only_before_present(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_str_t none = pz_str_c(NULL);

  pz_enc_hello(fx_pk(f), 1, none, none, pz_str_c("r"), false, 0);
  assert_bytes(f, 0x95, 0x01, 0x01, 0xc0, 0xc0, 0xa1, 'r');
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_null(m.u.hello.token.ptr);
  assert_null(m.u.hello.name.ptr);
  assert_str_equal(m.u.hello.resume, "r");
  assert_false(m.u.hello.has_last_chat_seq);

  pz_enc_hello(fx_pk(f), 1, none, pz_str_c("n"), none, false, 0);
  assert_bytes(f, 0x94, 0x01, 0x01, 0xc0, 0xa1, 'n');

  /* last_chat_seq 0 is a value, not an absence. */
  pz_enc_hello(fx_pk(f), 1, none, none, none, true, 0);
  assert_bytes(f, 0x96, 0x01, 0x01, 0xc0, 0xc0, 0xc0, 0x00);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_true(m.u.hello.has_last_chat_seq);
  assert_int_equal(m.u.hello.last_chat_seq, 0);
}

static void test_hello_nil_optionals_are_absent(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  ACCEPT(f, &m, "a u u n n n n", 6, 1, 7);
  assert_int_equal(m.u.hello.version, 7);
  assert_null(m.u.hello.token.ptr);
  assert_null(m.u.hello.name.ptr);
  assert_null(m.u.hello.resume.ptr);
  assert_false(m.u.hello.has_last_chat_seq);
}

/* msgpack-c 4.0 unpacks a zero-length str with ptr NULL; the codec must
 * still tell "" from absent. */
static void test_empty_string_is_present(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_enc_hello(fx_pk(f), 1, pz_str_c(""), pz_str_c(NULL), pz_str_c(NULL), false,
               0);
  assert_bytes(f, 0x93, 0x01, 0x01, 0xa0);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_non_null(m.u.hello.token.ptr);
  assert_int_equal(m.u.hello.token.len, 0);
  assert_null(m.u.hello.name.ptr);

  ACCEPT(f, &m, "a u s", 2, 5, "");
  assert_non_null(m.u.chat.text.ptr);
  assert_int_equal(m.u.chat.text.len, 0);
}

static void test_join_leave_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_enc_join(fx_pk(f), pz_str_c("lobby:1"));
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_JOIN);
  assert_str_equal(m.u.join.room, "lobby:1");

  pz_enc_leave(fx_pk(f));
  assert_bytes(f, 0x91, 0x03);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_LEAVE);
}

static void test_move_roundtrip_float32_on_wire(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_pos_t p = {1.5f, -2.25f, 1e6f, 3.14159f};
  pz_enc_move(fx_pk(f), (1ull << 53) - 1, p);
  /* [4, uint64, 4 x float32]: 1 + 1 + 9 + 4 * 5 bytes */
  assert_int_equal(f->sb.size, 31);
  const unsigned char *b = (const unsigned char *)f->sb.data;
  assert_int_equal(b[0], 0x96);
  assert_int_equal(b[1], 0x04);
  assert_int_equal(b[2], 0xcf);
  for (int i = 0; i < 4; i++)
    assert_int_equal(b[11 + 5 * i], 0xca);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_MOVE);
  assert_int_equal(m.u.move.seq, (1ull << 53) - 1);
  assert_float_equal(m.u.move.pos.x, 1.5f, 0);
  assert_float_equal(m.u.move.pos.y, -2.25f, 0);
  assert_float_equal(m.u.move.pos.z, 1e6f, 0);
  assert_float_equal(m.u.move.pos.yaw, 3.14159f, 0);
}

static void test_move_accepts_ints_and_float64(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  ACCEPT(f, &m, "a u u u i u i", 6, 4, 9, 3, -4, 0, -200);
  assert_int_equal(m.u.move.seq, 9);
  assert_float_equal(m.u.move.pos.x, 3, 0);
  assert_float_equal(m.u.move.pos.y, -4, 0);
  assert_float_equal(m.u.move.pos.z, 0, 0);
  assert_float_equal(m.u.move.pos.yaw, -200, 0);

  ACCEPT(f, &m, "a u u d d d d", 6, 4, 0, 0.5, -1e30, 2.75, -0.125);
  assert_int_equal(m.u.move.seq, 0);
  assert_float_equal(m.u.move.pos.x, 0.5f, 0);
  assert_float_equal(m.u.move.pos.y, -1e30f, 0);
  assert_float_equal(m.u.move.pos.z, 2.75f, 0);
  assert_float_equal(m.u.move.pos.yaw, -0.125f, 0);

  /* A float32 field coming from a signed int8 on the wire. */
  static const char raw[] = {(char)0x96, 4, 1, (char)0xd0, (char)0x85,
                             (char)0xd0, 5, 0, 0};
  fx_raw(f, raw, sizeof raw);
  pz_decode_error_t e;
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_float_equal(m.u.move.pos.x, -123, 0);
  assert_float_equal(m.u.move.pos.y, 5, 0);
}

/* A MOVE of exactly six elements is read in place; with a trailing element
 * it takes the general path. Both must read every encoding the same:
 * integers of any width and sign, float32, float64, the widest seq. */
static void test_move_in_place_reads_as_general_path(void **state) {
  fx_t *f = *state;
  pz_cmsg_t exact, general;
  ACCEPT(f, &exact, "a u U u i I d", 6, 4, UINT64_MAX, 70000, -3, INT64_MIN,
         1e38);
  ACCEPT(f, &general, "a u U u i I d n", 7, 4, UINT64_MAX, 70000, -3, INT64_MIN,
         1e38);
  assert_int_equal(exact.op, PZ_C_MOVE);
  assert_int_equal(general.op, PZ_C_MOVE);
  assert_true(exact.u.move.seq == UINT64_MAX);
  assert_true(general.u.move.seq == UINT64_MAX);
  assert_memory_equal(&exact.u.move.pos, &general.u.move.pos,
                      sizeof exact.u.move.pos);
  assert_float_equal(exact.u.move.pos.x, 70000, 0);
  assert_float_equal(exact.u.move.pos.z, (float)INT64_MIN, 0);

  ACCEPT(f, &exact, "a u u f f f f", 6, 4, 7, 0.1, -0.0, 3e38, -1e-30);
  ACCEPT(f, &general, "a u u f f f f n", 7, 4, 7, 0.1, -0.0, 3e38, -1e-30);
  assert_memory_equal(&exact.u.move.pos, &general.u.move.pos,
                      sizeof exact.u.move.pos);
  assert_true(signbit(exact.u.move.pos.y));
}

static void test_chat_whisper_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  const char *text = "h\xc3\xa9llo \xf0\x9f\x91\x8b";
  pz_enc_chat_text(fx_pk(f), pz_str_c(text));
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_CHAT);
  assert_str_equal(m.u.chat.text, "h\xc3\xa9llo \xf0\x9f\x91\x8b");

  pz_enc_whisper(fx_pk(f), 123456789012ull, pz_str_c("psst"));
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_WHISPER);
  assert_int_equal(m.u.whisper.to, 123456789012ull);
  assert_str_equal(m.u.whisper.text, "psst");
}

static void test_ping_roundtrip_float64(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_enc_ping(fx_pk(f), 1712345678901.25);
  assert_int_equal((unsigned char)f->sb.data[2], 0xcb);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_PING);
  assert_int_equal(m.u.ping.t.type, MSGPACK_OBJECT_FLOAT64);
  assert_float_equal(m.u.ping.t.via.f64, 1712345678901.25, 0);
}

/* Whatever t a client sends comes back unchanged in PONG. */
static void test_ping_any_t_echoed_by_pong(void **state) {
  fx_t *f = *state;
  const char *what[] = {"nested array and map", "str", "nil", "negative int",
                        "empty map"};
  for (size_t k = 0; k < sizeof what / sizeof *what; k++) {
    pz_cmsg_t m;
    if (k == 0)
      ACCEPT(f, &m, "a u a u s m s t", 2, 7, 3, 1, "x", 1, "k");
    else if (k == 1)
      ACCEPT(f, &m, "a u s", 2, 7, "abc");
    else if (k == 2)
      ACCEPT(f, &m, "a u n", 2, 7);
    else if (k == 3)
      ACCEPT(f, &m, "a u i", 2, 7, -5);
    else
      ACCEPT(f, &m, "a u m", 2, 7, 0);
    assert_int_equal(m.op, PZ_C_PING);

    msgpack_sbuffer out;
    msgpack_packer opk;
    msgpack_zone z;
    msgpack_object o;
    size_t off = 0;
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&opk, &out, msgpack_sbuffer_write);
    msgpack_zone_init(&z, 256);
    pz_enc_pong(&opk, &m.u.ping.t, 777);
    assert_int_equal(msgpack_unpack(out.data, out.size, &off, &z, &o),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(o.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o.via.array.size, 3);
    assert_int_equal(o.via.array.ptr[0].via.u64, PZ_S_PONG);
    if (!msgpack_object_equal(o.via.array.ptr[1], m.u.ping.t))
      fail_msg("t not echoed (%s)", what[k]);
    assert_int_equal(o.via.array.ptr[2].via.u64, 777);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&out);
  }
}

/* ---- refusals ------------------------------------------------------------
 */

static void test_reject_not_an_array(void **state) {
  fx_t *f = *state;
  const char *msg = "message must be an array";
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "u", 5);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "s", "hello");
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "m u u", 1, 1, 2);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "n");
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "t");
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "d", 1.0);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "b", "\x94\x04");
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, "empty message", "");

  pz_cmsg_t m;
  pz_decode_error_t e;
  fx_raw(f, "\x91\xc1", 2); /* 0xc1 is never used */
  assert_int_equal(fx_dec(f, &m, &e), -1);
  assert_int_equal(e.code, PZ_ERR_BAD_MESSAGE);
  assert_string_equal(e.message, "malformed or truncated messagepack");
}

static void test_reject_bad_op(void **state) {
  fx_t *f = *state;
  const char *msg = "op must be a positive integer";
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, "message array is empty", "a", 0);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a u", 1, 0);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a i", 1, -1);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a i", 1, -4);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a s", 1, "4");
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a d", 1, 4.0);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a f", 1, 3.0);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a n", 1);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a a u", 1, 1, 4);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a t", 1);
}

static void test_reject_unknown_op(void **state) {
  fx_t *f = *state;
  REJECT(f, PZ_ERR_UNKNOWN_OP, 99, "unknown op", "a u", 1, 99);
  /* 8-11 are protocol 1.1's SET, SIGNAL, ROOM_SET and VIEW. */
  REJECT(f, PZ_ERR_UNKNOWN_OP, 12, "unknown op", "a u s", 2, 12, "x");
  REJECT(f, PZ_ERR_UNKNOWN_OP, 65535, "unknown op", "a u", 1, 65535);
  REJECT(f, PZ_ERR_UNKNOWN_OP, INT_MAX, "unknown op", "a U", 1,
         (uint64_t)INT_MAX);
  REJECT(f, PZ_ERR_UNKNOWN_OP, 0, "unknown op", "a U", 1,
         (uint64_t)INT_MAX + 1);
  /* Too large to name in ERROR: reported as op 0. */
  REJECT(f, PZ_ERR_UNKNOWN_OP, 0, "unknown op", "a U", 1, (1ull << 40) + 5);

  /* A known op in a signed int8 is still that op. */
  pz_cmsg_t m;
  pz_decode_error_t e;
  fx_raw(f, "\x92\xd0\x05\xa1x", 5);
  assert_int_equal(fx_dec(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_CHAT);
  assert_str_equal(m.u.chat.text, "x");
}

static void test_reject_hello_fields(void **state) {
  fx_t *f = *state;
  const int B = PZ_ERR_BAD_MESSAGE, H = PZ_C_HELLO;
  const char *ver = "HELLO version must be a non-negative integer";
  REJECT(f, B, H, ver, "a u", 1, 1);
  REJECT(f, B, H, ver, "a u n", 2, 1);
  REJECT(f, B, H, ver, "a u i", 2, 1, -1);
  REJECT(f, B, H, ver, "a u s", 2, 1, "1");
  REJECT(f, B, H, ver, "a u d", 2, 1, 1.0);
  REJECT(f, B, H, "HELLO token must be a string or nil", "a u u u", 3, 1, 1, 5);
  REJECT(f, B, H, "HELLO token must be a string or nil", "a u u b", 3, 1, 1,
         "jwt");
  REJECT(f, B, H, "HELLO name must be a string or nil", "a u u n a", 4, 1, 1,
         0);
  REJECT(f, B, H, "HELLO resume must be a string or nil", "a u u n n t", 5, 1,
         1);
  const char *seq = "HELLO last_chat_seq must be a non-negative integer or nil";
  REJECT(f, B, H, seq, "a u u n n n i", 6, 1, 1, -3);
  REJECT(f, B, H, seq, "a u u n n n s", 6, 1, 1, "3");
  REJECT(f, B, H, seq, "a u u n n n d", 6, 1, 1, 3.0);
}

static void test_reject_join_chat_whisper_ping_fields(void **state) {
  fx_t *f = *state;
  const int B = PZ_ERR_BAD_MESSAGE;
  const char *room = "JOIN room must be a string";
  REJECT(f, B, PZ_C_JOIN, room, "a u", 1, 2);
  REJECT(f, B, PZ_C_JOIN, room, "a u n", 2, 2);
  REJECT(f, B, PZ_C_JOIN, room, "a u u", 2, 2, 5);
  REJECT(f, B, PZ_C_JOIN, room, "a u b", 2, 2, "lobby");
  const char *text = "CHAT text must be a string";
  REJECT(f, B, PZ_C_CHAT, text, "a u", 1, 5);
  REJECT(f, B, PZ_C_CHAT, text, "a u n", 2, 5);
  REJECT(f, B, PZ_C_CHAT, text, "a u a", 2, 5, 0);
  REJECT(f, B, PZ_C_CHAT, text, "a u b", 2, 5, "hi");
  const char *to = "WHISPER to_id must be a non-negative integer";
  REJECT(f, B, PZ_C_WHISPER, to, "a u", 1, 6);
  REJECT(f, B, PZ_C_WHISPER, to, "a u i s", 3, 6, -1, "hi");
  REJECT(f, B, PZ_C_WHISPER, to, "a u s s", 3, 6, "7", "hi");
  REJECT(f, B, PZ_C_WHISPER, to, "a u d s", 3, 6, 7.0, "hi");
  const char *wtext = "WHISPER text must be a string";
  REJECT(f, B, PZ_C_WHISPER, wtext, "a u u", 2, 6, 7);
  REJECT(f, B, PZ_C_WHISPER, wtext, "a u u u", 3, 6, 7, 8);
  REJECT(f, B, PZ_C_PING, "PING needs t", "a u", 1, 7);
}

static void test_reject_move_fields(void **state) {
  fx_t *f = *state;
  const int B = PZ_ERR_BAD_MESSAGE, M = PZ_C_MOVE;
  const char *seq = "MOVE seq must be a non-negative integer";
  REJECT(f, B, M, seq, "a u", 1, 4);
  REJECT(f, B, M, seq, "a u i f f f f", 6, 4, -1, 0., 0., 0., 0.);
  REJECT(f, B, M, seq, "a u d f f f f", 6, 4, 1.0, 0., 0., 0., 0.);
  REJECT(f, B, M, seq, "a u s f f f f", 6, 4, "1", 0., 0., 0., 0.);
  REJECT(f, B, M, "MOVE x must be a number", "a u u s f f f", 6, 4, 1, "0", 0.,
         0., 0.);
  REJECT(f, B, M, "MOVE y must be a number", "a u u f n f f", 6, 4, 1, 0., 0.,
         0.);
  REJECT(f, B, M, "MOVE z must be a number", "a u u f f t f", 6, 4, 1, 0., 0.,
         0.);
  REJECT(f, B, M, "MOVE yaw must be a number", "a u u f f f a", 6, 4, 1, 0., 0.,
         0., 0);
  /* Missing trailing coordinates. */
  REJECT(f, B, M, "MOVE x must be a number", "a u u", 2, 4, 1);
  REJECT(f, B, M, "MOVE yaw must be a number", "a u u f f f", 5, 4, 1, 0., 0.,
         0.);
}

/* NaN, infinities and float64 values beyond float32 in each coordinate, in
 * both float widths: invalid_argument, naming the coordinate. */
static void test_reject_non_finite_coords(void **state) {
  fx_t *f = *state;
  static const char *const want[4] = {
      "MOVE x must be finite", "MOVE y must be finite", "MOVE z must be finite",
      "MOVE yaw must be finite"};
  const double bad[] = {NAN, INFINITY, -INFINITY, 1e300, -1e39};
  for (int i = 0; i < 4; i++) {
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
      for (int wide = 0; wide < 2; wide++) {
        if (!wide && isfinite(bad[k]))
          continue; /* float32 cannot hold 1e300 */
        msgpack_packer *pk = fx_pk(f);
        msgpack_pack_array(pk, 6);
        msgpack_pack_uint8(pk, 4);
        msgpack_pack_uint8(pk, 1);
        for (int c = 0; c < 4; c++) {
          double v = c == i ? bad[k] : 1.0;
          if (wide)
            msgpack_pack_double(pk, v);
          else
            msgpack_pack_float(pk, (float)v);
        }
        pz_cmsg_t m;
        pz_decode_error_t e;
        assert_int_equal(fx_dec(f, &m, &e), -1);
        assert_int_equal(e.code, PZ_ERR_INVALID_ARGUMENT);
        assert_int_equal(e.op, PZ_C_MOVE);
        assert_string_equal(e.message, want[i]);
      }
    }
  }
}

static void test_reject_trailing_bytes(void **state) {
  fx_t *f = *state;
  const char *msg = "trailing bytes after the array";
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a u u", 1, 3, 0);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a u a u", 1, 3, 1, 3);
  REJECT(f, PZ_ERR_BAD_MESSAGE, 0, msg, "a u u n", 2, 7, 1);
}

static void test_extra_trailing_elements_ignored(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  ACCEPT(f, &m, "a u u s s s u m s a u", 9, 1, 1, "t", "n", "r", 9, 0, "x", 1,
         2);
  assert_int_equal(m.op, PZ_C_HELLO);
  assert_str_equal(m.u.hello.resume, "r");
  assert_int_equal(m.u.hello.last_chat_seq, 9);
  assert_int_equal(m.u.hello.state.len, 1); /* {}: the state, then extras */
  ACCEPT(f, &m, "a u s u", 3, 2, "room", 1);
  assert_str_equal(m.u.join.room, "room");
  ACCEPT(f, &m, "a u s", 2, 3, "bye");
  assert_int_equal(m.op, PZ_C_LEAVE);
  ACCEPT(f, &m, "a u u f f f f s m", 8, 4, 3, 1., 2., 3., 4., "x", 0);
  assert_int_equal(m.u.move.seq, 3);
  assert_float_equal(m.u.move.pos.yaw, 4, 0);
  ACCEPT(f, &m, "a u s n", 3, 5, "hi", 0);
  assert_str_equal(m.u.chat.text, "hi");
  ACCEPT(f, &m, "a u u s m", 4, 6, 5, "yo", 0);
  assert_int_equal(m.u.whisper.to, 5);
  ACCEPT(f, &m, "a u u u", 3, 7, 11, 12);
  assert_int_equal(m.u.ping.t.via.u64, 11);
}

/* Every valid message cut at every length fails cleanly as bad_message. */
static void test_truncated_at_every_length(void **state) {
  fx_t *f = *state;
  pz_pos_t p = {1, 2, 3, 4};
  for (int k = 0; k < 8; k++) {
    msgpack_packer *pk = fx_pk(f);
    switch (k) {
    case 0:
      pz_enc_hello(pk, 1, pz_str_c("tok"), pz_str_c("name"), pz_str_c("res"),
                   true, 1000);
      break;
    case 1:
      pz_enc_hello(pk, 1, pz_str_c(NULL), pz_str_c(NULL), pz_str_c(NULL), false,
                   0);
      break;
    case 2:
      pz_enc_join(pk, pz_str_c("a-room-with-a-longer-name-over-31-bytes"));
      break;
    case 3:
      pz_enc_leave(pk);
      break;
    case 4:
      pz_enc_move(pk, 70000, p);
      break;
    case 5:
      pz_enc_chat_text(pk, pz_str_c("hello there"));
      break;
    case 6:
      pz_enc_whisper(pk, 1ull << 40, pz_str_c("psst"));
      break;
    default:
      pz_enc_ping(pk, 12.5);
      break;
    }
    size_t full = f->sb.size;
    pz_cmsg_t m;
    pz_decode_error_t e;
    for (size_t n = 0; n < full; n++) {
      if (fx_dec_n(f, n, &m, &e) != -1)
        fail_msg("message %d cut to %zu of %zu bytes was accepted", k, n, full);
      assert_int_equal(e.code, PZ_ERR_BAD_MESSAGE);
      assert_non_null(e.message);
    }
    assert_int_equal(fx_dec_n(f, full, &m, &e), 0);
  }
}

/* Array, map, str and bin headers claiming far more than the message holds
 * are refused before msgpack-c allocates for them (a 64 GiB request would
 * abort under ASan). */
static void test_reject_lying_headers(void **state) {
  fx_t *f = *state;
  static const struct {
    const char *bytes;
    size_t len;
  } cases[] = {
      {"\xdd\xff\xff\xff\xff", 5},
      {"\xdc\xff\xff\x07", 4},
      {"\x92\x07\xdd\x00\x10\x00\x00", 7},
      {"\x92\x07\xdf\x7f\xff\xff\xff\x00\x00", 9},
      {"\x92\x07\xdb\xff\xff\xff\xff\x61", 8},
      {"\x92\x07\xc6\x00\x01\x00\x00\x61", 8},
      {"\x92\x07\xc9\x00\x01\x00\x00\x01\x61", 9},
      {"\x92\x07\x9f\x01\x02", 5},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    pz_cmsg_t m;
    pz_decode_error_t e;
    fx_raw(f, cases[k].bytes, cases[k].len);
    if (fx_dec(f, &m, &e) != -1)
      fail_msg("case %zu accepted", k);
    assert_int_equal(e.code, PZ_ERR_BAD_MESSAGE);
    assert_string_equal(e.message, "malformed or truncated messagepack");
  }

  /* 30 nested array32 headers each claiming 65535 elements. */
  char deep[2 + 30 * 5];
  deep[0] = (char)0x92;
  deep[1] = 7;
  for (int i = 0; i < 30; i++)
    memcpy(deep + 2 + 5 * i, "\xdd\x00\x00\xff\xff", 5);
  pz_cmsg_t m;
  pz_decode_error_t e;
  fx_raw(f, deep, sizeof deep);
  assert_int_equal(fx_dec(f, &m, &e), -1);
  assert_int_equal(e.code, PZ_ERR_BAD_MESSAGE);
}

/* Nesting is msgpack-c's to limit; deep t is refused, not crashed on. */
static void test_nesting_depth(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  char buf[2 + 200 + 1];
  for (int depth = 1; depth <= 200; depth *= 2) {
    buf[0] = (char)0x92;
    buf[1] = 7;
    memset(buf + 2, 0x91, (size_t)depth);
    buf[2 + depth] = 1;
    fx_raw(f, buf, 3 + (size_t)depth);
    int rc = fx_dec(f, &m, &e);
    if (depth <= 16) {
      assert_int_equal(rc, 0);
      assert_int_equal(m.u.ping.t.type, MSGPACK_OBJECT_ARRAY);
    } else if (depth >= 64) {
      assert_int_equal(rc, -1);
      assert_int_equal(e.code, PZ_ERR_BAD_MESSAGE);
    }
  }
}

/* The same zone serves many messages when cleared between them. */
static void test_zone_reuse(void **state) {
  fx_t *f = *state;
  for (uint64_t i = 0; i < 2000; i++) {
    pz_cmsg_t m;
    pz_decode_error_t e;
    pz_enc_move(fx_pk(f), i, (pz_pos_t){(float)i, 0, 0, 0});
    assert_int_equal(fx_dec(f, &m, &e), 0);
    assert_int_equal(m.u.move.seq, i);
    assert_float_equal(m.u.move.pos.x, (float)i, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
      T(test_hello_full_roundtrip),
      T(test_hello_minimal_writes_two_elements),
      T(test_hello_nil_placeholders_only_before_present),
      T(test_hello_nil_optionals_are_absent),
      T(test_empty_string_is_present),
      T(test_join_leave_roundtrip),
      T(test_move_roundtrip_float32_on_wire),
      T(test_move_in_place_reads_as_general_path),
      T(test_move_accepts_ints_and_float64),
      T(test_chat_whisper_roundtrip),
      T(test_ping_roundtrip_float64),
      T(test_ping_any_t_echoed_by_pong),
      T(test_reject_not_an_array),
      T(test_reject_bad_op),
      T(test_reject_unknown_op),
      T(test_reject_hello_fields),
      T(test_reject_join_chat_whisper_ping_fields),
      T(test_reject_move_fields),
      T(test_reject_non_finite_coords),
      T(test_reject_trailing_bytes),
      T(test_extra_trailing_elements_ignored),
      T(test_truncated_at_every_length),
      T(test_reject_lying_headers),
      T(test_nesting_depth),
      T(test_zone_reuse),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
