/*
 * Guards src/cluster/busmsg.c, the payloads nodes exchange through Redis:
 * every type round-trips (an EVENT's inner message too, and a member's
 * state kept as its raw bytes); extra trailing fields are skipped (a newer
 * node); and what is not ours is refused without reading past the end:
 * every truncation, another version, an unknown type, a lying array or
 * string header, NaN, a room name with characters a client cannot send,
 * invalid UTF-8, a state that is not a map, bytes after the array.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "busmsg.h"
#include "error.h"

typedef struct buf {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} buf_t;

static msgpack_packer *begin(buf_t *b) {
  msgpack_sbuffer_init(&b->sb);
  msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
  return &b->pk;
}

#define S(lit) ((pz_str_t){lit, sizeof(lit) - 1})

/* Every prefix shorter than the whole must be refused. */
static void assert_truncations_refused(const buf_t *b) {
  pz_busmsg_t m;
  for (size_t n = 0; n < b->sb.size; n++) {
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
    memcpy(copy, b->sb.data, n);
    if (pz_busmsg_decode(copy, n, &m) == 0)
      fail_msg("a %zu-byte prefix of %zu was accepted", n, b->sb.size);
    free(copy);
  }
}

static void test_state_round_trip(void **state) {
  buf_t b;
  msgpack_packer *pk = begin(&b);
  pz_busmsg_state_begin(pk, 77, S("lobby"), 2);
  pz_state_entry_t e1 = {1ull << 40, 9, {1.5f, -2, 3, 0.25f}};
  pz_state_entry_t e2 = {5, 0, {0, 0, 0, 0}};
  pz_busmsg_state_entry(pk, &e1);
  pz_busmsg_state_entry(pk, &e2);
  pz_busmsg_t m;
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.type, PZ_BUS_STATE);
  assert_int_equal(m.node, 77);
  assert_int_equal(m.room.len, 5);
  assert_memory_equal(m.room.ptr, "lobby", 5);
  assert_int_equal(m.u.state.n, 2);
  pz_state_entry_t e;
  assert_true(pz_busmsg_state_next(&m.u.state.it, &e));
  assert_int_equal(e.id, e1.id);
  assert_int_equal(e.seq, 9);
  assert_true(e.pos.x == 1.5f && e.pos.y == -2 && e.pos.yaw == 0.25f);
  assert_true(pz_busmsg_state_next(&m.u.state.it, &e));
  assert_int_equal(e.id, 5);
  assert_false(pz_busmsg_state_next(&m.u.state.it, &e));
  assert_truncations_refused(&b);
  msgpack_sbuffer_destroy(&b.sb);
}

static void test_each_type_round_trips(void **state) {
  buf_t b;
  pz_busmsg_t m;
  pz_member_t mem = {123, S("bob"), {1, 2, 3, 4}};
  /* {"hat": [1, {}]}: a state map with a nested value, kept as bytes */
  static const char st[] = {(char)0x81, (char)0xa3, 'h',  'a',
                            't',        (char)0x92, 0x01, (char)0x80};
  pz_busmsg_join(begin(&b), 1, S("r.1"), &mem, PZ_BUS_JOIN_QUIET, 7,
                 (pz_raw_t){st, sizeof(st)}, S("10.0.0.9:5000"));
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.type, PZ_BUS_JOIN);
  assert_int_equal(m.u.join.m.id, 123);
  assert_int_equal(m.u.join.m.name.len, 3);
  assert_true(m.u.join.m.pos.z == 3);
  assert_int_equal(m.u.join.flags, PZ_BUS_JOIN_QUIET);
  assert_int_equal(m.u.join.gen, 7);
  assert_int_equal(m.u.join.state.len, sizeof(st));
  assert_memory_equal(m.u.join.state.ptr, st, sizeof(st));
  assert_int_equal(m.u.join.addr.len, 13);
  assert_truncations_refused(&b);
  msgpack_sbuffer_destroy(&b.sb);

  pz_busmsg_join(begin(&b), 1, S("r.1"), &mem, 0, 0, (pz_raw_t){0}, S(""));
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.u.join.state.len, 1); /* {} */
  msgpack_sbuffer_destroy(&b.sb);

  pz_busmsg_leave(begin(&b), 2, S("r"), 99, 0);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.type, PZ_BUS_LEAVE);
  assert_int_equal(m.u.leave.id, 99);
  msgpack_sbuffer_destroy(&b.sb);

  pz_chat_entry_t c = {42, 7, S("ann"), S("héllo"), 1700000000000ull};
  pz_busmsg_chat(begin(&b), 3, S("r"), &c);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.u.chat.seq, 42);
  assert_int_equal(m.u.chat.ts_ms, 1700000000000ull);
  assert_int_equal(m.u.chat.text.len, strlen("héllo"));
  assert_truncations_refused(&b);
  msgpack_sbuffer_destroy(&b.sb);

  pz_delivery_t d = {.kind = PZ_DELIVER_TAKEN,
                     .to = 10,
                     .from = 11,
                     .name = S("n"),
                     .text = S("t"),
                     .ts_ms = 5,
                     .code = 7,
                     .op = 6,
                     .reply_node = 9,
                     .reply_worker = 1,
                     .reply_req = 77,
                     .gen = 3};
  pz_busmsg_deliver(begin(&b), 4, &d);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.type, PZ_BUS_DELIVER);
  assert_int_equal(m.u.deliver.kind, PZ_DELIVER_TAKEN);
  assert_int_equal(m.u.deliver.gen, 3);
  assert_int_equal(m.u.deliver.to, 10);
  assert_int_equal(m.u.deliver.code, 7);
  assert_int_equal(m.u.deliver.op, 6);
  assert_int_equal(m.u.deliver.reply_node, 9);
  assert_int_equal(m.u.deliver.reply_worker, 1);
  assert_int_equal(m.u.deliver.reply_req, 77);
  msgpack_sbuffer_destroy(&b.sb);

  pz_busmsg_probe(begin(&b), 5, 3, 0xdeadbeefcafeull);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.u.probe.worker, 3);
  assert_int_equal(m.u.probe.nonce, 0xdeadbeefcafeull);
  msgpack_sbuffer_destroy(&b.sb);

  pz_busmsg_record_t rec = {.id = 555,
                            .token_hash = S("ab12"),
                            .name = S("zed"),
                            .room = S("hall"),
                            .sub = S("user-7"),
                            .addr = S("1.2.3.4:5"),
                            .pos = {9, 8, 7, 6},
                            .seq = 12,
                            .chat_seq = 33,
                            .has_seq = true,
                            .placed = false,
                            .gen = 2,
                            .state = {st, sizeof(st)}};
  pz_busmsg_session(begin(&b), 6, &rec);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.type, PZ_BUS_SESSION);
  assert_int_equal(m.u.session.id, 555);
  assert_int_equal(m.u.session.gen, 2);
  assert_memory_equal(m.u.session.state.ptr, st, sizeof(st));
  assert_int_equal(m.u.session.seq, 12);
  assert_true(m.u.session.has_seq);
  assert_false(m.u.session.placed);
  assert_int_equal(m.u.session.chat_seq, 33);
  assert_int_equal(m.u.session.sub.len, 6);
  assert_memory_equal(m.room.ptr, "hall", 4);
  assert_truncations_refused(&b);
  msgpack_sbuffer_destroy(&b.sb);

  /* A session outside any room: the room is "". */
  rec.room = S("");
  pz_busmsg_session(begin(&b), 6, &rec);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.room.len, 0);
  assert_false(m.u.session.has_view); /* none sent: 19 elements, as before */
  msgpack_sbuffer_destroy(&b.sb);

  /* A session with a VIEW carries it in two trailing elements. */
  rec.has_view = true;
  rec.view_radius = 12.5;
  rec.view_compact = true;
  pz_busmsg_session(begin(&b), 6, &rec);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_true(m.u.session.has_view);
  assert_true(m.u.session.view_compact);
  assert_true(m.u.session.view_radius == 12.5);
  assert_truncations_refused(&b);
  msgpack_sbuffer_destroy(&b.sb);
  rec.view_radius = -1; /* no client could have sent it */
  pz_busmsg_session(begin(&b), 6, &rec);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m),
                   PZ_EPROTO);
  msgpack_sbuffer_destroy(&b.sb);

  /* An EVENT carries another message, decoded in its turn. */
  buf_t inner;
  pz_busmsg_leave(begin(&inner), 8, S("r"), 4, 0);
  pz_busmsg_event(begin(&b), 9, S("r"), 1765000000123456ull, 41,
                  (const uint8_t *)inner.sb.data, inner.sb.size);
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m), 0);
  assert_int_equal(m.type, PZ_BUS_EVENT);
  assert_int_equal(m.node, 9);
  assert_int_equal(m.u.event.epoch, 1765000000123456ull);
  assert_int_equal(m.u.event.off, 41);
  assert_int_equal(m.u.event.inner_len, inner.sb.size);
  pz_busmsg_t in;
  assert_int_equal(pz_busmsg_decode(m.u.event.inner, m.u.event.inner_len, &in),
                   0);
  assert_int_equal(in.type, PZ_BUS_LEAVE);
  assert_int_equal(in.node, 8);
  assert_truncations_refused(&b);
  msgpack_sbuffer_destroy(&b.sb);
  msgpack_sbuffer_destroy(&inner.sb);
}

/* A state that is not a map (an array, a string) is not ours. */
static void test_state_must_be_a_map(void **state) {
  buf_t b;
  pz_busmsg_t m;
  pz_member_t mem = {1, S("a"), {0, 0, 0, 0}};
  static const char arr[] = {(char)0x91, 0x01};
  pz_busmsg_join(begin(&b), 1, S("r"), &mem, 0, 0, (pz_raw_t){arr, sizeof(arr)},
                 S(""));
  assert_int_equal(pz_busmsg_decode((uint8_t *)b.sb.data, b.sb.size, &m),
                   PZ_EPROTO);
  msgpack_sbuffer_destroy(&b.sb);
}

/* Builds [1, node, type, ...] by hand for what the encoders never write. */
static void test_foreign_payloads_refused(void **state) {
  static const struct {
    const char *what;
    const char *bytes;
    size_t len;
  } bad[] = {
      {"not an array",
       "\xa3"
       "abc",
       4},
      {"version 1", "\x93\x01\x01\x03", 4},
      {"type 0", "\x93\x02\x01\x00", 4},
      {"type 7 (no longer used)", "\x93\x02\x01\x07", 4},
      {"type 99", "\x93\x02\x01\x63", 4},
      {"node beyond 15 bits", "\x96\x02\xcd\xff\xff\x03\xa1r\x01\x00", 10},
      {"array header lies", "\xdd\xff\xff\xff\xff\x02\x01\x03", 8},
      {"string header lies", "\x96\x02\x01\x03\xdb\x7f\xff\xff\xff\x01\x00",
       11},
      {"room with a space",
       "\x96\x02\x01\x03\xa3"
       "a b\x01\x00",
       10},
      {"empty room", "\x96\x02\x01\x03\xa0\x01\x00", 7},
      {"negative id", "\x96\x02\x01\x03\xa1r\xff\x00", 8},
      {"id past 2^53",
       "\x96\x02\x01\x03\xa1r\xcf\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00", 16},
      {"bytes after the array", "\x96\x02\x01\x03\xa1r\x01\x00\x00", 9},
      {"map instead of array", "\x81\x01\x01", 3},
      {"reserved byte", "\x96\x02\x01\x03\xa1r\xc1\x00", 8},
      {"NaN in a position",
       "\x95\x02\x01\x01\xa1r\x91\x96\x02\x01\xcb\x7f\xf8\x00\x00\x00\x00\x00"
       "\x00\x00\x00\x00",
       22},
      {"bad UTF-8 in a chat",
       "\x99\x02\x01\x04\xa1r\x01\x01\xa1n\xa2\xc3\x28\x01", 14},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pz_busmsg_t m;
    uint8_t *copy = malloc(bad[i].len);
    memcpy(copy, bad[i].bytes, bad[i].len);
    if (pz_busmsg_decode(copy, bad[i].len, &m) != PZ_EPROTO)
      fail_msg("accepted: %s", bad[i].what);
    free(copy);
  }
}

/* What Redis' Lua cmsgpack writes for a chat: signed ints for numbers,
 * str8 for strings of 32 bytes and more; and a newer node's extra field. */
static void test_lua_forms_and_extra_fields(void **state) {
  uint8_t msg[128];
  size_t n = 0;
  msg[n++] = 0x9a; /* 10 elements: one more than a CHAT has */
  msg[n++] = 0x02;
  msg[n++] = 0xd1; /* node as int16 */
  msg[n++] = 0x01;
  msg[n++] = 0x00;
  msg[n++] = 0x04;
  msg[n++] = 0xa4;
  memcpy(msg + n, "room", 4);
  n += 4;
  msg[n++] = 0xd3; /* seq as int64 */
  memcpy(msg + n, "\x00\x00\x00\x00\x00\x00\x01\x00", 8);
  n += 8;
  msg[n++] = 0x05;
  msg[n++] = 0xa1;
  msg[n++] = 'x';
  msg[n++] = 0xd9; /* str8 */
  msg[n++] = 40;
  memset(msg + n, 'y', 40);
  n += 40;
  msg[n++] = 0xcf;
  memcpy(msg + n, "\x00\x00\x01\x8b\xcf\xe5\x68\x00", 8);
  n += 8;
  msg[n++] = 0x82; /* the extra field: a map, skipped */
  msg[n++] = 0x01;
  msg[n++] = 0x02;
  msg[n++] = 0xa1;
  msg[n++] = 'k';
  msg[n++] = 0x90;
  pz_busmsg_t m;
  assert_int_equal(pz_busmsg_decode(msg, n, &m), 0);
  assert_int_equal(m.node, 256);
  assert_int_equal(m.u.chat.seq, 256);
  assert_int_equal(m.u.chat.text.len, 40);
  assert_int_equal(m.u.chat.ts_ms, 0x18bcfe56800ull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_round_trip),
      cmocka_unit_test(test_each_type_round_trips),
      cmocka_unit_test(test_state_must_be_a_map),
      cmocka_unit_test(test_foreign_payloads_refused),
      cmocka_unit_test(test_lua_forms_and_extra_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
