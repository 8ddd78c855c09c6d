/*
 * Unit tests of the server -> client half of the codec (src/proto): every
 * server message through its encoder and pz_decode_server, the wire types
 * the encoders choose, refusals, truncation at every length, and
 * pz_peek_op on every header and op width. Decoders read an exact-size
 * heap copy so ASan sees any over-read.
 */
#include <limits.h>
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

static msgpack_packer *fx_pk(fx_t *f) {
  msgpack_sbuffer_clear(&f->sb);
  msgpack_zone_clear(&f->zone);
  return &f->pk;
}

static int fx_dec_n(fx_t *f, size_t n, pz_smsg_t *m) {
  free(f->copy);
  f->copy = malloc(n ? n : 1);
  assert_non_null(f->copy);
  if (n > 0)
    memcpy(f->copy, f->sb.data, n);
  f->len = n;
  memset(m, 0x5a, sizeof *m);
  return pz_decode_server(f->copy, n, &f->zone, m);
}

static int fx_dec(fx_t *f, pz_smsg_t *m) {
  return fx_dec_n(f, f->sb.size, m);
}

#define assert_str_equal(s, lit)                                               \
  do {                                                                         \
    assert_non_null((s).ptr);                                                  \
    assert_int_equal((s).len, strlen(lit));                                    \
    assert_memory_equal((s).ptr, lit, strlen(lit));                            \
  } while (0)

#define assert_pos_equal(a, b)                                                 \
  do {                                                                         \
    assert_float_equal((a).x, (b).x, 0);                                       \
    assert_float_equal((a).y, (b).y, 0);                                       \
    assert_float_equal((a).z, (b).z, 0);                                       \
    assert_float_equal((a).yaw, (b).yaw, 0);                                   \
  } while (0)

static const pz_member_t members[3] = {
    {1, {"ana", 3}, {1.5f, 2.5f, -3.5f, 0.25f}},
    {(1ull << 53) - 1, {"b\xc3\xa9", 3}, {0, 0, 0, 0}},
    {300, {"", 0}, {-1e6f, 1e-3f, 42, 6.2831855f}},
};
static const pz_chat_entry_t history[2] = {
    {7, 1, {"ana", 3}, {"hi all", 6}, 1712345678901ull},
    {8, 300, {"c", 1}, {"", 0}, 1712345678999ull},
};

/* ---- round trips ---------------------------------------------------------
 */

static void test_welcome_roundtrip(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  for (int resumed = 0; resumed < 2; resumed++) {
    pz_enc_welcome(fx_pk(f), (1ull << 53) - 1, pz_str_c("sess-abc"), 30,
                   1712345678901ull, resumed, 0);
    /* A msgpack bool, not 0/1, then no features: an empty array. */
    assert_int_equal((unsigned char)f->sb.data[f->sb.size - 2],
                     resumed ? 0xc3 : 0xc2);
    assert_int_equal((unsigned char)f->sb.data[f->sb.size - 1], 0x90);
    assert_int_equal(fx_dec(f, &m), 0);
    assert_int_equal(m.op, PZ_S_WELCOME);
    assert_int_equal(m.u.welcome.id, (1ull << 53) - 1);
    assert_str_equal(m.u.welcome.session, "sess-abc");
    assert_int_equal(m.u.welcome.tick_hz, 30);
    assert_int_equal(m.u.welcome.server_time_ms, 1712345678901ull);
    assert_int_equal(m.u.welcome.resumed, resumed);
  }
}

static void encode_room(msgpack_packer *pk, size_t nm, size_t nh) {
  pz_enc_room_begin(pk, pz_str_c("lobby"), nm);
  for (size_t i = 0; i < nm; i++)
    pz_enc_member(pk, &members[i], (pz_raw_t){NULL, 0});
  pz_enc_room_history(pk, nh);
  for (size_t i = 0; i < nh; i++)
    pz_enc_chat_entry(pk, &history[i]);
  pz_enc_room_state_begin(pk, 0);
}

static void test_room_roundtrip(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  encode_room(fx_pk(f), 3, 2);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_ROOM);
  assert_str_equal(m.u.room.room, "lobby");
  assert_int_equal(m.u.room.n_members, 3);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(m.u.room.members[i].id, members[i].id);
    assert_int_equal(m.u.room.members[i].name.len, members[i].name.len);
    assert_non_null(m.u.room.members[i].name.ptr);
    assert_memory_equal(m.u.room.members[i].name.ptr, members[i].name.ptr,
                        members[i].name.len);
    assert_pos_equal(m.u.room.members[i].pos, members[i].pos);
  }
  assert_int_equal(m.u.room.n_history, 2);
  for (size_t i = 0; i < 2; i++) {
    const pz_chat_entry_t *c = &m.u.room.history[i];
    assert_int_equal(c->seq, history[i].seq);
    assert_int_equal(c->id, history[i].id);
    assert_str_equal(c->name, history[i].name.ptr);
    assert_str_equal(c->text, history[i].text.ptr);
    assert_int_equal(c->ts_ms, history[i].ts_ms);
  }

  encode_room(fx_pk(f), 0, 0);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.room.n_members, 0);
  assert_int_equal(m.u.room.n_history, 0);
}

static void test_joined_left_roundtrip(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  pz_enc_joined(fx_pk(f), &members[0], (pz_raw_t){NULL, 0});
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_JOINED);
  assert_int_equal(m.u.joined.id, 1);
  assert_str_equal(m.u.joined.name, "ana");
  assert_pos_equal(m.u.joined.pos, members[0].pos);

  pz_enc_left(fx_pk(f), 1ull << 40);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_LEFT);
  assert_int_equal(m.u.left.id, 1ull << 40);
}

static void test_state_roundtrip_float32_on_wire(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  const pz_state_entry_t es[3] = {
      {1, 10, {1, 2, 3, 4}},
      {2, 0, {-0.5f, 0.5f, 100.25f, -3.0f}},
      {(1ull << 53) - 1, 1ull << 33, {7, 8, 9, 10}},
  };
  msgpack_packer *pk = fx_pk(f);
  pz_enc_state_begin(pk, 123456, 3);
  for (int i = 0; i < 3; i++)
    pz_enc_state_entry(pk, &es[i]);
  /* [5, 123456 as uint32, [ [1, 10, float32 x4], ... ]] */
  const unsigned char *b = (const unsigned char *)f->sb.data;
  assert_int_equal(b[0], 0x93);
  assert_int_equal(b[1], 0x05);
  assert_int_equal(b[2], 0xce);
  assert_int_equal(b[7], 0x93);
  assert_int_equal(b[8], 0x96);
  assert_int_equal(b[11], 0xca);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_STATE);
  assert_int_equal(m.u.state.tick, 123456);
  assert_int_equal(m.u.state.n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(m.u.state.entries[i].id, es[i].id);
    assert_int_equal(m.u.state.entries[i].seq, es[i].seq);
    assert_pos_equal(m.u.state.entries[i].pos, es[i].pos);
  }

  pz_enc_state_begin(fx_pk(f), 1, 0);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.state.n, 0);
}

static void test_chat_whisper_roundtrip(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  pz_enc_chat(fx_pk(f), &history[0]);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_CHAT);
  assert_int_equal(m.u.chat.seq, 7);
  assert_int_equal(m.u.chat.id, 1);
  assert_str_equal(m.u.chat.name, "ana");
  assert_str_equal(m.u.chat.text, "hi all");
  assert_int_equal(m.u.chat.ts_ms, 1712345678901ull);

  pz_enc_whisper_msg(fx_pk(f), 99, pz_str_c("bob"), pz_str_c("psst"), 5);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_WHISPER);
  assert_int_equal(m.u.whisper.from, 99);
  assert_str_equal(m.u.whisper.name, "bob");
  assert_str_equal(m.u.whisper.text, "psst");
  assert_int_equal(m.u.whisper.ts_ms, 5);
}

/* PING from pz_enc_ping, decoded server side, echoed by pz_enc_pong, read
 * back by the client: the same t. */
static void test_ping_pong_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t c;
  pz_decode_error_t e;
  pz_smsg_t m;
  pz_enc_ping(fx_pk(f), 1712345678901.125);
  char ping[32];
  size_t n = f->sb.size;
  memcpy(ping, f->sb.data, n);
  assert_int_equal(pz_decode_client(ping, n, &f->zone, &c, &e), 0);
  msgpack_sbuffer_clear(&f->sb);
  pz_enc_pong(&f->pk, &c.u.ping.t, 1712345679000ull);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_PONG);
  assert_float_equal(m.u.pong.t, 1712345678901.125, 0);
  assert_int_equal(m.u.pong.server_time_ms, 1712345679000ull);

  /* An integer t reads back as a double too. */
  pack(fx_pk(f), "a u u u", 3, 8, 41, 2);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_float_equal(m.u.pong.t, 41, 0);

  /* NULL t is nil on the wire, which is no client's t. */
  pz_enc_pong(fx_pk(f), NULL, 3);
  assert_int_equal((unsigned char)f->sb.data[2], 0xc0);
  assert_int_equal(fx_dec(f, &m), -1);
}

static void test_error_roundtrip_with_and_without_op(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  pz_enc_error(fx_pk(f), PZ_ERR_MOVE_REJECTED, "too fast", PZ_C_MOVE);
  assert_int_equal((unsigned char)f->sb.data[0], 0x94);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.op, PZ_S_ERROR);
  assert_int_equal(m.u.error.code, PZ_ERR_MOVE_REJECTED);
  assert_str_equal(m.u.error.message, "too fast");
  assert_int_equal(m.u.error.op, PZ_C_MOVE);

  pz_enc_error(fx_pk(f), PZ_ERR_SESSION_EXPIRED, "session expired", 0);
  static const char want[] = "\x93\x09\x09\xafsession expired";
  assert_int_equal(f->sb.size, sizeof want - 1);
  assert_memory_equal(f->sb.data, want, sizeof want - 1);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.error.code, PZ_ERR_SESSION_EXPIRED);
  assert_int_equal(m.u.error.op, 0);

  pack(fx_pk(f), "a u u s n", 4, 9, 1, "x");
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.error.op, 0);
}

/* ---- refusals ------------------------------------------------------------
 */

static void test_reject_malformed(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  pack(fx_pk(f), "u", 1);
  assert_int_equal(fx_dec(f, &m), -1);
  pack(fx_pk(f), "a", 0);
  assert_int_equal(fx_dec(f, &m), -1);
  pack(fx_pk(f), "a u", 1, 0);
  assert_int_equal(fx_dec(f, &m), -1);
  pack(fx_pk(f), "a u u", 2, 10, 1);
  assert_int_equal(fx_dec(f, &m), -1);
  pack(fx_pk(f), "a i u", 2, -4, 1);
  assert_int_equal(fx_dec(f, &m), -1);
  pack(fx_pk(f), "a u u u", 2, 4, 1, 0); /* trailing byte */
  assert_int_equal(fx_dec(f, &m), -1);
  assert_int_equal(fx_dec_n(f, f->sb.size - 1, &m), 0);
  assert_int_equal(m.u.left.id, 1);
}

static void test_reject_wrong_types(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  /* Each line is one field wrong in an otherwise valid message. */
  pack(fx_pk(f), "a u u s u u u", 6, 1, 1, "s", 30, 5, 1);
  assert_int_equal(fx_dec(f, &m), -1); /* resumed not a bool */
  pack(fx_pk(f), "a u u s U u t", 6, 1, 1, "s", 1ull << 32, 5);
  assert_int_equal(fx_dec(f, &m), -1); /* tick_hz beyond uint32 */
  pack(fx_pk(f), "a u u n u u t", 6, 1, 1, 30, 5);
  assert_int_equal(fx_dec(f, &m), -1); /* session nil */
  pack(fx_pk(f), "a u s a a u u f f f f a", 4, 2, "r", 1, 6, 1, 2, 0., 0., 0.,
       0., 0);
  assert_int_equal(fx_dec(f, &m), -1); /* member name not a string */
  pack(fx_pk(f), "a u s a u a", 4, 2, "r", 1, 1, 0);
  assert_int_equal(fx_dec(f, &m), -1); /* member not an array */
  pack(fx_pk(f), "a u s a a a u u s s", 4, 2, "r", 0, 1, 4, 1, 1, "n", "t");
  assert_int_equal(fx_dec(f, &m), -1); /* history entry short */
  pack(fx_pk(f), "a u u s f f f f", 7, 3, 1, "n", 0., 0., 0., 0.);
  assert_int_equal(fx_dec(f, &m), 0); /* (JOINED valid as a control) */
  pack(fx_pk(f), "a u u s f f d f", 7, 3, 1, "n", 0., 0., 1e300, 0.);
  assert_int_equal(fx_dec(f, &m), -1); /* coordinate out of float32 */
  pack(fx_pk(f), "a u u u", 3, 5, 1, 2);
  assert_int_equal(fx_dec(f, &m), -1); /* STATE entries not an array */
  pack(fx_pk(f), "a u u a a u i f f f f", 3, 5, 1, 1, 6, 1, -2, 0., 0., 0., 0.);
  assert_int_equal(fx_dec(f, &m), -1); /* negative seq */
  pack(fx_pk(f), "a u s s", 3, 9, "1", "x");
  assert_int_equal(fx_dec(f, &m), -1); /* ERROR code a string */
  pack(fx_pk(f), "a u U s", 3, 9, (uint64_t)INT_MAX + 1, "x");
  assert_int_equal(fx_dec(f, &m), -1); /* ERROR code beyond int */
  pack(fx_pk(f), "a u u s U", 4, 9, 1, "x", (uint64_t)INT_MAX + 1);
  assert_int_equal(fx_dec(f, &m), -1); /* ERROR op beyond int */
  pack(fx_pk(f), "a u u s i", 4, 9, 1, "x", -4);
  assert_int_equal(fx_dec(f, &m), -1); /* ERROR op negative */
  pack(fx_pk(f), "a u s u", 3, 8, "t", 1);
  assert_int_equal(fx_dec(f, &m), -1); /* PONG t not a number */
  pack(fx_pk(f), "a u u s s", 4, 7, 1, "n", "t");
  assert_int_equal(fx_dec(f, &m), -1); /* WHISPER without ts_ms */
}

static void test_extra_trailing_elements_ignored(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  /* After protocol 1.1's features, and a feature nobody knows yet. */
  pack(fx_pk(f), "a u u s u u t a s s s", 8, 1, 5, "s", 30, 6, 2, "signal",
       "teleport", "new");
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.welcome.id, 5);
  assert_true(m.u.welcome.resumed);
  assert_int_equal(m.u.welcome.features, PZ_FEATURE_SIGNAL);
  /* Extra fields inside a member (after its state) and a state entry. */
  pack(fx_pk(f), "a u s a a u s f f f f m u a", 4, 2, "r", 1, 8, 4, "n", 1., 2.,
       3., 4., 0, 9, 0);
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.room.n_members, 1);
  assert_int_equal(m.u.room.members[0].id, 4);
  assert_float_equal(m.u.room.members[0].pos.yaw, 4, 0);
  pack(fx_pk(f), "a u u a a u u f f f f s", 3, 5, 2, 1, 7, 3, 4, 1., 2., 3., 4.,
       "x");
  assert_int_equal(fx_dec(f, &m), 0);
  assert_int_equal(m.u.state.entries[0].seq, 4);
}

static void test_truncated_at_every_length(void **state) {
  fx_t *f = *state;
  for (int k = 0; k < 10; k++) {
    msgpack_packer *pk = fx_pk(f);
    switch (k) {
    case 0:
      pz_enc_welcome(pk, 1, pz_str_c("s"), 30, 5, true, PZ_FEATURE_SIGNAL);
      break;
    case 1:
      encode_room(pk, 3, 2);
      break;
    case 2:
      pz_enc_joined(pk, &members[1], (pz_raw_t){NULL, 0});
      break;
    case 3:
      pz_enc_left(pk, 1ull << 33);
      break;
    case 4:
      pz_enc_state_begin(pk, 9, 2);
      pz_enc_state_entry(pk, &(pz_state_entry_t){1, 2, {1, 2, 3, 4}});
      pz_enc_state_entry(pk, &(pz_state_entry_t){3, 4, {5, 6, 7, 8}});
      break;
    case 5:
      pz_enc_chat(pk, &history[0]);
      break;
    case 6:
      pz_enc_whisper_msg(pk, 1, pz_str_c("n"), pz_str_c("t"), 2);
      break;
    case 7: {
      msgpack_object t = {.type = MSGPACK_OBJECT_FLOAT64, .via.f64 = 1.5};
      pz_enc_pong(pk, &t, 3);
      break;
    }
    case 8:
      pz_enc_error(pk, 4, "rate limited", 4);
      break;
    default:
      pz_enc_error(pk, 10, "overloaded", 0);
      break;
    }
    size_t full = f->sb.size;
    pz_smsg_t m;
    for (size_t n = 0; n < full; n++)
      if (fx_dec_n(f, n, &m) != -1)
        fail_msg("message %d cut to %zu of %zu bytes accepted", k, n, full);
    assert_int_equal(fx_dec_n(f, full, &m), 0);
    assert_int_equal(m.op, k < 9 ? k + 1 : PZ_S_ERROR);
    /* The peek agrees with the full decode, even on a bare prefix. */
    assert_int_equal(pz_peek_op(f->sb.data, full), m.op);
    assert_int_equal(pz_peek_op(f->sb.data, 2), m.op);
  }
}

/* ---- peek ----------------------------------------------------------------
 */

static void test_peek_op(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    size_t len;
    int want;
  } cases[] = {
      {"\x96\x04", 2, 4},                     /* fixarray, fixint */
      {"\x91\x7f", 2, 127},                   /* largest fixint */
      {"\xdc\x00\x01\x05", 4, 5},             /* array16 */
      {"\xdd\x00\x00\x00\x01\x06", 6, 6},     /* array32 */
      {"\x91\xcc\xc8", 3, 200},               /* uint8 */
      {"\x91\xcd\x01\x2c", 4, 300},           /* uint16 */
      {"\x91\xce\x00\x01\x11\x70", 6, 70000}, /* uint32 */
      {"\x91\xcf\x00\x00\x00\x00\x00\x00\x00\x05", 10, 5}, /* uint64 */
      {"\x91\xd0\x05", 3, 5},                              /* int8 >= 0 */
      {"\x91\xd1\x00\x09", 4, 9},                          /* int16 >= 0 */
      {"\x91\xce\x7f\xff\xff\xff", 6, INT_MAX},
      {"", 0, -1},
      {"\x90", 1, -1},                     /* empty array */
      {"\x91", 1, -1},                     /* header only */
      {"\x91\x00", 2, -1},                 /* op 0 */
      {"\x91\xff", 2, -1},                 /* negative fixint */
      {"\x91\xd0\xfc", 3, -1},             /* int8 negative */
      {"\x91\xca\x40\x80\x00\x00", 6, -1}, /* float op */
      {"\x91\xa1x", 3, -1},                /* str op */
      {"\x91\xcd\x01", 3, -1},             /* truncated uint16 */
      {"\x91\xce\x80\x00\x00\x00", 6, -1}, /* beyond INT_MAX */
      {"\x91\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 10, -1},
      {"\x04", 1, -1},             /* not an array */
      {"\x81\x01\x02", 3, -1},     /* map */
      {"\xdc\x00", 2, -1},         /* truncated array16 header */
      {"\xdc\x00\x00\x01", 4, -1}, /* array16 of 0 */
      {"\xdd\x00\x00\x00", 4, -1}, /* truncated array32 header */
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    int got = pz_peek_op(cases[k].bytes, cases[k].len);
    if (got != cases[k].want)
      fail_msg("case %zu: got %d, want %d", k, got, cases[k].want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
      T(test_welcome_roundtrip),
      T(test_room_roundtrip),
      T(test_joined_left_roundtrip),
      T(test_state_roundtrip_float32_on_wire),
      T(test_chat_whisper_roundtrip),
      T(test_ping_pong_roundtrip),
      T(test_error_roundtrip_with_and_without_op),
      T(test_reject_malformed),
      T(test_reject_wrong_types),
      T(test_extra_trailing_elements_ignored),
      T(test_truncated_at_every_length),
      cmocka_unit_test(test_peek_op),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
