/*
 * Unit tests of the bench's Socket.io packet codec (bench/sio.c) and the
 * MessagePack cursor under it (src/proto/mpr.c), on the frames captured from
 * the real peer (bench/peers/socketio/README.md, "Hex dumps"): decoding by
 * key in any order, JavaScript undefined (d4 00 00), integer or float64
 * numbers, and the minimal payloads the bench sends, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../bench/sio.c"

/* Payloads of the README (after the 82 LL frame header). */
static const uint8_t connect_reply[] = {
    0x83, 0xa4, 't', 'y',  'p',  'e',  0x00, 0xa4, 'd', 'a', 't',  'a', 0x82,
    0xa3, 's',  'i', 'd',  0xb4, 'x',  'h',  'B',  'C', 'y', 'z',  'q', 's',
    's',  'j',  'W', 's',  'Y',  'Y',  '6',  '7',  'A', 'A', 'A',  'B', 0xa3,
    'p',  'i',  'd', 0xd4, 0x00, 0x00, 0xa3, 'n',  's', 'p', 0xa1, '/'};
static const uint8_t welcome[] = {0x83, 0xa4, 't',  'y', 'p',  'e',  0x02, 0xa4,
                                  'd',  'a',  't',  'a', 0x92, 0xa7, 'w',  'e',
                                  'l',  'c',  'o',  'm', 'e',  0x81, 0xa2, 'i',
                                  'd',  0x02, 0xa3, 'n', 's',  'p',  0xa1, '/'};
static const uint8_t ack[] = {0x84, 0xa2, 'i',  'd',  0x00, 0xa4, 't',
                              'y',  'p',  'e',  0x03, 0xa4, 'd',  'a',
                              't',  'a',  0x91, 0x81, 0xa2, 'i',  'd',
                              0x02, 0xa3, 'n',  's',  'p',  0xa1, '/'};
static const uint8_t state_f64[] = {
    0x83, 0xa4, 't',  'y',  'p',  'e',  0x02, 0xa4, 'd',  'a',  't',  'a',
    0x92, 0xa5, 's',  't',  'a',  't',  'e',  0x92, 0x37, 0x91, 0x96, 0x02,
    0x01, 0xcb, 0x3f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcb,
    0xc0, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcb, 0x3f, 0xe0, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xa3, 'n',  's',  'p',  0xa1, '/'};
static const uint8_t state_ints[] = {
    0x83, 0xa4, 't',  'y',  'p',  'e',  0x02, 0xa4, 'd',  'a',  't',  'a',
    0x92, 0xa5, 's',  't',  'a',  't',  'e',  0x92, 0x3a, 0x91, 0x96, 0x01,
    0x01, 0x03, 0x04, 0x05, 0x06, 0xa3, 'n',  's',  'p',  0xa1, '/'};
static const uint8_t chat[] = {
    0x83, 0xa4, 't',  'y',  'p', 'e', 0x02, 0xa4, 'd',  'a',  't',  'a',
    0x92, 0xa4, 'c',  'h',  'a', 't', 0x95, 0x01, 0x02, 0xa5, 'a',  'l',
    'i',  'c',  'e',  0xa2, 'h', 'i', 0xcf, 0x00, 0x00, 0x01, 0xa2, 0x0e,
    0x65, 0xa6, 0x04, 0xa3, 'n', 's', 'p',  0xa1, '/'};
static const uint8_t room[] = {
    0x83, 0xa4, 't',  'y', 'p',  'e',  0x02, 0xa4, 'd',  'a',  't',  'a',  0x92,
    0xa4, 'r',  'o',  'o', 'm',  0x83, 0xa4, 'r',  'o',  'o',  'm',  0xa5, 'l',
    'o',  'b',  'b',  'y', 0xa7, 'm',  'e',  'm',  'b',  'e',  'r',  's',  0x92,
    0x96, 0x01, 0xa3, 'b', 'o',  'b',  0x00, 0x00, 0x00, 0x00, 0x96, 0x02, 0xa5,
    'a',  'l',  'i',  'c', 'e',  0x00, 0x00, 0x00, 0x00, 0xa7, 'h',  'i',  's',
    't',  'o',  'r',  'y', 0x90, 0xa3, 'n',  's',  'p',  0xa1, '/'};

static void test_connect_reply_with_undefined(void **state) {
  (void)state;
  pz_sio_packet_t pk;
  assert_int_equal(pz_sio_decode(connect_reply, sizeof(connect_reply), &pk), 0);
  assert_int_equal(pk.type, PZ_SIO_CONNECT);
  assert_true(pk.nsp_root);
  assert_non_null(pk.data);
  assert_false(pk.has_id);
}

static void test_event_welcome_and_ack_key_order(void **state) {
  (void)state;
  pz_sio_packet_t pk;
  const char *name;
  uint32_t nl, n;
  bool has_arg;
  pz_mpr_t arg;
  uint64_t id;

  assert_int_equal(pz_sio_decode(welcome, sizeof(welcome), &pk), 0);
  assert_int_equal(pk.type, PZ_SIO_EVENT);
  assert_int_equal(pz_sio_event(&pk, &name, &nl, &arg, &has_arg), 0);
  assert_true(has_arg);
  assert_true(pz_sio_name_is(name, nl, "welcome"));
  assert_int_equal(pz_mpr_map(&arg, &n), 0);
  assert_int_equal(n, 1);
  assert_true(pz_mpr_str_eq(&arg, "id"));
  assert_int_equal(pz_mpr_uint(&arg, &id), 0);
  assert_int_equal(id, 2);

  assert_int_equal(pz_sio_decode(ack, sizeof(ack), &pk), 0);
  assert_int_equal(pk.type, PZ_SIO_ACK);
  assert_true(pk.has_id);
  assert_int_equal(pk.id, 0);
}

static void read_one_state(const uint8_t *p, size_t n, uint64_t want_tick,
                           uint64_t want_id, double want[4]) {
  pz_sio_packet_t pk;
  const char *name;
  uint32_t nl, count;
  bool has_arg;
  pz_mpr_t arg;
  uint64_t tick, id, seq;
  double pos[4];

  assert_int_equal(pz_sio_decode(p, n, &pk), 0);
  assert_int_equal(pz_sio_event(&pk, &name, &nl, &arg, &has_arg), 0);
  assert_true(pz_sio_name_is(name, nl, "state"));
  assert_int_equal(pz_sio_state_begin(&arg, &tick, &count), 0);
  assert_int_equal(tick, want_tick);
  assert_int_equal(count, 1);
  assert_int_equal(pz_sio_state_entry(&arg, &id, &seq, pos), 0);
  assert_int_equal(id, want_id);
  assert_int_equal(seq, 1);
  for (int i = 0; i < 4; i++)
    assert_true(pos[i] == want[i]);
  assert_int_equal(pz_sio_peek_state(p, n < 48 ? n : 48, &count), true);
  assert_int_equal(count, 1);
}

static void test_state_float64_and_integral_numbers(void **state) {
  (void)state;
  double a[4] = {1.5, 0, -2.25, 0.5}, b[4] = {3, 4, 5, 6};
  read_one_state(state_f64, sizeof(state_f64), 55, 2, a);
  read_one_state(state_ints, sizeof(state_ints), 58, 1, b);
  /* other events are not mistaken for state */
  uint32_t count;
  assert_false(pz_sio_peek_state(chat, sizeof(chat), &count));
  assert_false(pz_sio_peek_state(welcome, sizeof(welcome), &count));
  assert_false(pz_sio_peek_state(state_f64, 20, &count)); /* truncated */
}

static void test_chat_and_room(void **state) {
  (void)state;
  pz_sio_packet_t pk;
  const char *name, *s;
  uint32_t nl, n, sl;
  bool has_arg;
  pz_mpr_t arg;
  uint64_t v;

  assert_int_equal(pz_sio_decode(chat, sizeof(chat), &pk), 0);
  assert_int_equal(pz_sio_event(&pk, &name, &nl, &arg, &has_arg), 0);
  assert_true(pz_sio_name_is(name, nl, "chat"));
  assert_int_equal(pz_mpr_array(&arg, &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(pz_mpr_uint(&arg, &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(pz_mpr_uint(&arg, &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(pz_mpr_str(&arg, &s, &sl), 0);
  assert_int_equal(pz_mpr_str(&arg, &s, &sl), 0);
  assert_int_equal(sl, 2);
  assert_memory_equal(s, "hi", 2);
  assert_int_equal(pz_mpr_uint(&arg, &v), 0);
  assert_int_equal(v, 1795537872388ull); /* cf uint64 */

  assert_int_equal(pz_sio_decode(room, sizeof(room), &pk), 0);
  assert_int_equal(pz_sio_event(&pk, &name, &nl, &arg, &has_arg), 0);
  assert_true(pz_sio_name_is(name, nl, "room"));
  assert_int_equal(pz_mpr_map(&arg, &n), 0);
  assert_int_equal(n, 3);
}

static void test_refuses_malformed(void **state) {
  (void)state;
  pz_sio_packet_t pk;
  /* every truncation of a valid packet is refused */
  for (size_t n = 0; n < sizeof(state_f64); n++)
    assert_int_equal(pz_sio_decode(state_f64, n, &pk), -1);
  for (size_t n = 0; n < sizeof(connect_reply); n++)
    assert_int_equal(pz_sio_decode(connect_reply, n, &pk), -1);
  /* not a map; a map without type; trailing bytes */
  const uint8_t arr[] = {0x91, 0x00};
  assert_int_equal(pz_sio_decode(arr, sizeof(arr), &pk), -1);
  const uint8_t notype[] = {0x81, 0xa3, 'n', 's', 'p', 0xa1, '/'};
  assert_int_equal(pz_sio_decode(notype, sizeof(notype), &pk), -1);
  uint8_t trail[sizeof(welcome) + 1];
  memcpy(trail, welcome, sizeof(welcome));
  trail[sizeof(welcome)] = 0xc0;
  assert_int_equal(pz_sio_decode(trail, sizeof(trail), &pk), -1);
}

/* The encoders write the README's minimal payloads byte for byte. */
static void test_encoders_write_minimal_payloads(void **state) {
  (void)state;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

  const uint8_t conn[] = {0x82, 0xa4, 't', 'y', 'p',  'e', 0x00,
                          0xa3, 'n',  's', 'p', 0xa1, '/'};
  pz_sio_enc_connect(&pk);
  assert_int_equal(sb.size, sizeof(conn));
  assert_memory_equal(sb.data, conn, sizeof(conn));

  sb.size = 0;
  const uint8_t disc[] = {0x82, 0xa4, 't', 'y', 'p',  'e', 0x01,
                          0xa3, 'n',  's', 'p', 0xa1, '/'};
  pz_sio_enc_disconnect(&pk);
  assert_memory_equal(sb.data, disc, sizeof(disc));

  sb.size = 0;
  const uint8_t move[] = {0x83, 0xa4, 't',  'y',  'p',  'e',  0x02, 0xa4, 'd',
                          'a',  't',  'a',  0x92, 0xaa, 'p',  'l',  'a',  'y',
                          'e',  'r',  'M',  'o',  'v',  'e',  0x95, 0x01, 0xca,
                          0x3f, 0xc0, 0x00, 0x00, 0xca, 0x00, 0x00, 0x00, 0x00,
                          0xca, 0xc0, 0x10, 0x00, 0x00, 0xca, 0x3f, 0x00, 0x00,
                          0x00, 0xa3, 'n',  's',  'p',  0xa1, '/'};
  pz_sio_enc_event_begin(&pk, "playerMove", true);
  msgpack_pack_array(&pk, 5);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_float(&pk, 1.5f);
  msgpack_pack_float(&pk, 0.0f);
  msgpack_pack_float(&pk, -2.25f);
  msgpack_pack_float(&pk, 0.5f);
  pz_sio_enc_event_end(&pk);
  assert_int_equal(sb.size, sizeof(move));
  assert_memory_equal(sb.data, move, sizeof(move));

  sb.size = 0;
  const uint8_t leave[] = {0x83, 0xa4, 't', 'y',  'p',  'e',  0x02, 0xa4, 'd',
                           'a',  't',  'a', 0x91, 0xa5, 'l',  'e',  'a',  'v',
                           'e',  0xa3, 'n', 's',  'p',  0xa1, '/'};
  pz_sio_enc_event_begin(&pk, "leave", false);
  pz_sio_enc_event_end(&pk);
  assert_int_equal(sb.size, sizeof(leave));
  assert_memory_equal(sb.data, leave, sizeof(leave));
  msgpack_sbuffer_destroy(&sb);
}

static void test_mpr_numbers_and_skip(void **state) {
  (void)state;
  /* every integer width, signed and unsigned; floats */
  const uint8_t nums[] = {0x05, 0xe0, 0xcc, 0xff, 0xcd, 0x01, 0x00, 0xd0,
                          0x80, 0xd1, 0xff, 0x00, 0xce, 0,    1,    0,
                          0,    0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                          0xff, 0xfe, 0xca, 0x3f, 0xc0, 0,    0};
  const double want[] = {5, -32, 255, 256, -128, -256, 65536, -2, 1.5};
  pz_mpr_t r;
  double d;
  pz_mpr_init(&r, nums, sizeof(nums));
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    assert_int_equal(pz_mpr_num(&r, &d), 0);
    assert_true(d == want[i]);
  }
  assert_int_equal(pz_mpr_left(&r), 0);

  uint64_t u;
  const uint8_t neg[] = {0xff};
  pz_mpr_init(&r, neg, 1);
  assert_int_equal(pz_mpr_uint(&r, &u), -1);
  assert_int_equal(pz_mpr_left(&r), 1); /* not consumed */

  /* skip: nested containers, ext, bin, str8; refuses lies about length */
  const uint8_t nested[] = {0x82, 0xa1, 'a',  0x92, 0xd4, 0x00, 0x00, 0xc4,
                            0x02, 0x01, 0x02, 0xa1, 'b',  0xd9, 0x01, 'x'};
  pz_mpr_init(&r, nested, sizeof(nested));
  assert_int_equal(pz_mpr_skip(&r), 0);
  assert_int_equal(pz_mpr_left(&r), 0);
  for (size_t n = 0; n < sizeof(nested); n++) {
    pz_mpr_init(&r, nested, n);
    assert_int_equal(pz_mpr_skip(&r), -1);
  }
  const uint8_t liar[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x00};
  pz_mpr_init(&r, liar, sizeof(liar));
  assert_int_equal(pz_mpr_skip(&r), -1);
  /* 40 nested arrays: refused (depth 32) */
  uint8_t deep[41];
  memset(deep, 0x91, 40);
  deep[40] = 0x00;
  pz_mpr_init(&r, deep, sizeof(deep));
  assert_int_equal(pz_mpr_skip(&r), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_connect_reply_with_undefined),
      cmocka_unit_test(test_event_welcome_and_ack_key_order),
      cmocka_unit_test(test_state_float64_and_integral_numbers),
      cmocka_unit_test(test_chat_and_room),
      cmocka_unit_test(test_refuses_malformed),
      cmocka_unit_test(test_encoders_write_minimal_payloads),
      cmocka_unit_test(test_mpr_numbers_and_skip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
