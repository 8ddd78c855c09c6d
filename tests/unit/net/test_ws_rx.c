/*
 * Guards pz_ws_rx, the server's WebSocket receiver (src/net/ws.c): the
 * same messages whatever the chunking (fed in every chunk size down to one
 * byte, as wslay's own tests do), a whole frame handed up from the input
 * itself, fragments gathered with control frames inside, the boundary that
 * lets an idle connection keep no buffer, the frame count of one message
 * (100,000 empty continuations held a message open, issue 15), stopping
 * on request, and each RFC 6455 violation a server must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plaza/protocol.h"
#include "ws.h"

static const uint8_t KEY[4] = {0x01, 0x72, 0xa3, 0x04};

/* A masked client frame: fin, opcode, payload. */
static size_t frame(uint8_t *out, int fin, int opcode, const void *payload,
                    size_t len) {
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (len < 126) {
    out[n++] = (uint8_t)(0x80 | len);
  } else if (len <= 0xffff) {
    out[n++] = 0x80 | 126;
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(out + n, KEY, 4);
  n += 4;
  for (size_t i = 0; i < len; i++)
    out[n + i] = ((const uint8_t *)payload)[i] ^ KEY[i % 4];
  return n + len;
}

/* What the callback saw: opcodes and payloads, concatenated. */
typedef struct seen {
  int ops[64];
  size_t lens[64];
  int n;
  uint8_t bytes[200000];
  size_t len;
  int stop_after; /* stop after this many messages (0: never) */
  const uint8_t *first_data;
} seen_t;

static int on_msg(void *arg, int opcode, const uint8_t *data, size_t len) {
  seen_t *s = arg;
  assert_true(s->n < 64);
  if (s->n == 0)
    s->first_data = data;
  s->ops[s->n] = opcode;
  s->lens[s->n++] = len;
  assert_true(s->len + len <= sizeof(s->bytes));
  if (len)
    memcpy(s->bytes + s->len, data, len);
  s->len += len;
  return s->stop_after && s->n == s->stop_after;
}

/* Feeds a copy of buf in chunks; returns the receiver's result. */
static int feed(pz_ws_rx_t *rx, const uint8_t *buf, size_t len, size_t chunk,
                size_t max, seen_t *s) {
  static uint8_t copy[300000];
  memcpy(copy, buf, len);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk, used = 0;
    int r = pz_ws_rx_feed(rx, copy + off, n, max, on_msg, s, &used);
    if (r)
      return r;
    assert_int_equal(used, n);
  }
  return 0;
}

static void test_messages_whatever_the_chunking(void **state) {
  static uint8_t buf[80000], big[70000];
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)(i * 7);
  size_t n = frame(buf, 1, 2, "hello", 5);
  n += frame(buf + n, 1, 2, big, 300);
  n += frame(buf + n, 1, 9, "pi", 2); /* a ping */
  n += frame(buf + n, 1, 2, big, sizeof(big));
  n += frame(buf + n, 1, 2, "", 0);
  static seen_t s;
  for (size_t chunk = 1; chunk <= n; chunk = chunk * 3 + 1) {
    pz_ws_rx_t rx = {0};
    memset(&s, 0, sizeof(s));
    assert_int_equal(feed(&rx, buf, n, chunk, 1 << 20, &s), 0);
    assert_int_equal(s.n, 5);
    int ops[] = {2, 2, 9, 2, 2};
    size_t lens[] = {5, 300, 2, sizeof(big), 0};
    for (int i = 0; i < 5; i++) {
      assert_int_equal(s.ops[i], ops[i]);
      assert_int_equal(s.lens[i], lens[i]);
    }
    assert_memory_equal(s.bytes, "hello", 5);
    assert_memory_equal(s.bytes + 5, big, 300);
    assert_memory_equal(s.bytes + 307, big, sizeof(big));
    assert_true(pz_ws_rx_at_boundary(&rx));
    pz_ws_rx_release(&rx);
  }
}

static void test_whole_frame_goes_up_from_the_input(void **state) {
  uint8_t buf[64];
  size_t n = frame(buf, 1, 2, "move", 4);
  seen_t *s = calloc(1, sizeof(*s));
  pz_ws_rx_t rx = {0};
  size_t used;
  assert_int_equal(pz_ws_rx_feed(&rx, buf, n, 1024, on_msg, s, &used), 0);
  assert_ptr_equal(s->first_data, buf + n - 4); /* unmasked where it lay */
  assert_memory_equal(buf + n - 4, "move", 4);
  assert_null(rx.msg); /* nothing allocated */
  free(s);
}

static void test_fragments_with_a_ping_inside(void **state) {
  uint8_t buf[256];
  size_t n1 = frame(buf, 0, 2, "abc", 3);
  size_t n2 = n1 + frame(buf + n1, 1, 9, "p", 1);
  size_t n3 = n2 + frame(buf + n2, 0, 0, "de", 2);
  size_t n4 = n3 + frame(buf + n3, 1, 0, "f", 1);
  for (size_t chunk = 1; chunk <= n4; chunk++) {
    seen_t *s = calloc(1, sizeof(*s));
    pz_ws_rx_t rx = {0};
    uint8_t copy[256];
    memcpy(copy, buf, n4);
    for (size_t off = 0; off < n4; off += chunk) {
      size_t k = n4 - off < chunk ? n4 - off : chunk, used;
      assert_int_equal(
          pz_ws_rx_feed(&rx, copy + off, k, 1024, on_msg, s, &used), 0);
      /* boundary only once the final fragment is in */
      assert_int_equal(pz_ws_rx_at_boundary(&rx), off + k == n4);
    }
    assert_int_equal(s->n, 2);
    assert_int_equal(s->ops[0], 9); /* the ping first, then the message */
    assert_int_equal(s->ops[1], 2);
    assert_int_equal(s->lens[1], 6);
    assert_memory_equal(s->bytes, "pabcdef", 7);
    pz_ws_rx_release(&rx);
    assert_null(rx.msg);
    free(s);
  }
}

static void test_frames_of_a_message_bounded(void **state) {
  static uint8_t buf[16384];
  size_t n = frame(buf, 0, 2, "x", 1);
  for (int i = 0; i < PZ_WS_MESSAGE_FRAMES_MAX - 2; i++)
    n += frame(buf + n, 0, 0, "", 0);
  size_t ok = n + frame(buf + n, 1, 0, "y", 1); /* the 1,024th: fine */
  seen_t *s = calloc(1, sizeof(*s));
  pz_ws_rx_t rx = {0};
  assert_int_equal(feed(&rx, buf, ok, 7, 1024, s), 0);
  assert_int_equal(s->n, 1);
  assert_int_equal(s->lens[0], 2);
  assert_int_equal(rx.frames, PZ_WS_MESSAGE_FRAMES_MAX);
  /* one more frame in the next message is another count */
  n = frame(buf, 0, 2, "x", 1);
  for (int i = 0; i < PZ_WS_MESSAGE_FRAMES_MAX; i++)
    n += frame(buf + n, 0, 0, "", 0);
  assert_int_equal(feed(&rx, buf, n, 5, 1024, s), PZ_CLOSE_TOO_BIG);
  pz_ws_rx_release(&rx);
  free(s);
}

static void test_message_over_the_bound(void **state) {
  static uint8_t buf[4096], pay[2000];
  seen_t *s = calloc(1, sizeof(*s));
  pz_ws_rx_t rx = {0};
  size_t n = frame(buf, 1, 2, pay, 1025);
  assert_int_equal(feed(&rx, buf, n, n, 1024, s), PZ_CLOSE_TOO_BIG);
  assert_int_equal(s->n, 0);
  /* in fragments: the sum counts */
  pz_ws_rx_t rx2 = {0};
  n = frame(buf, 0, 2, pay, 600);
  n += frame(buf + n, 1, 0, pay, 600);
  assert_int_equal(feed(&rx2, buf, n, 3, 1024, s), PZ_CLOSE_TOO_BIG);
  assert_int_equal(s->n, 0);
  pz_ws_rx_release(&rx2);
  free(s);
}

static void test_stops_on_request_and_leaves_the_rest(void **state) {
  uint8_t buf[64];
  size_t a = frame(buf, 1, 2, "one", 3);
  size_t b = a + frame(buf + a, 1, 2, "two", 3);
  seen_t *s = calloc(1, sizeof(*s));
  s->stop_after = 1;
  pz_ws_rx_t rx = {0};
  size_t used;
  assert_int_equal(pz_ws_rx_feed(&rx, buf, b, 1024, on_msg, s, &used), 0);
  assert_int_equal(used, a);
  assert_int_equal(s->n, 1);
  /* the rest is untouched (still masked): fed again later, it parses */
  uint8_t again[64];
  frame(again, 1, 2, "two", 3);
  assert_memory_equal(buf + a, again, b - a);
  s->stop_after = 0;
  assert_int_equal(pz_ws_rx_feed(&rx, buf + a, b - a, 1024, on_msg, s, &used),
                   0);
  assert_int_equal(s->n, 2);
  assert_memory_equal(s->bytes, "onetwo", 6);
  free(s);
}

static void test_close_ends_parsing(void **state) {
  uint8_t buf[64];
  size_t a = frame(buf, 1, 8,
                   "\x03\xe8"
                   "bye",
                   5);
  size_t b = a + frame(buf + a, 1, 2, "late", 4);
  seen_t *s = calloc(1, sizeof(*s));
  pz_ws_rx_t rx = {0};
  size_t used;
  assert_int_equal(pz_ws_rx_feed(&rx, buf, b, 1024, on_msg, s, &used), 0);
  assert_int_equal(used, a);
  assert_int_equal(s->n, 1);
  assert_int_equal(s->ops[0], 8);
  assert_true(rx.done);
  free(s);
}

/* Each one a server must refuse with 1002. */
static void test_protocol_errors(void **state) {
  uint8_t bad[16][160];
  size_t len[16];
  int k = 0;
  static const uint8_t p126[126];
  len[k] = frame(bad[k], 1, 9, p126, 126), k++;     /* control over 125 */
  len[k] = frame(bad[k], 0, 9, "f", 1), k++;        /* fragmented control */
  len[k] = frame(bad[k], 1, 0, "c", 1), k++;        /* continuation alone */
  len[k] = frame(bad[k], 1, 3, "r", 1), k++;        /* reserved opcode */
  len[k] = frame(bad[k], 1, 11, "r", 1), k++;       /* reserved control */
  len[k] = frame(bad[k], 1, 8, "\x03", 1), k++;     /* 1-byte close */
  len[k] = frame(bad[k], 1, 8, "\x03\xed", 2), k++; /* close code 1005 */
  len[k] = frame(bad[k], 1, 8, "\x00\x10", 2), k++; /* close code 16 */
  len[k] = frame(bad[k], 1, 0x42, "r", 1), k++;     /* RSV bit */
  len[k] = frame(bad[k], 1, 2, "u", 1);             /* unmasked */
  bad[k][1] &= 0x7f;
  memmove(bad[k] + 2, bad[k] + 6, 1);
  len[k] = 3, k++;
  /* a new message inside a fragmented one */
  len[k] = frame(bad[k], 0, 2, "a", 1);
  len[k] += frame(bad[k] + len[k], 1, 2, "b", 1), k++;
  /* lengths not in their shortest form, or with the top bit set */
  const uint8_t nonmin[] = {0x82, 0x80 | 126, 0, 5, 1, 2, 3, 4};
  memcpy(bad[k], nonmin, sizeof(nonmin)), len[k] = sizeof(nonmin), k++;
  const uint8_t top[] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0,
                         0,    0,          5,    1, 2, 3, 4};
  memcpy(bad[k], top, sizeof(top)), len[k] = sizeof(top), k++;
  const uint8_t nonmin8[] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0,
                             0,    1,          0, 1, 2, 3, 4};
  memcpy(bad[k], nonmin8, sizeof(nonmin8)), len[k] = sizeof(nonmin8), k++;
  for (int i = 0; i < k; i++) {
    for (size_t chunk = 1; chunk <= len[i]; chunk++) {
      seen_t *s = calloc(1, sizeof(*s));
      pz_ws_rx_t rx = {0};
      int r = feed(&rx, bad[i], len[i], chunk, 1 << 20, s);
      if (r != PZ_CLOSE_PROTOCOL_ERROR)
        fail_msg("case %d, chunk %zu: %d", i, chunk, r);
      assert_true(rx.done);
      /* nothing more is parsed */
      uint8_t more[16];
      size_t m = frame(more, 1, 2, "x", 1), used;
      int n_before = s->n;
      assert_int_equal(pz_ws_rx_feed(&rx, more, m, 1024, on_msg, s, &used), 0);
      assert_int_equal(s->n, n_before);
      pz_ws_rx_release(&rx);
      free(s);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_messages_whatever_the_chunking),
      cmocka_unit_test(test_whole_frame_goes_up_from_the_input),
      cmocka_unit_test(test_fragments_with_a_ping_inside),
      cmocka_unit_test(test_frames_of_a_message_bounded),
      cmocka_unit_test(test_message_over_the_bound),
      cmocka_unit_test(test_stops_on_request_and_leaves_the_rest),
      cmocka_unit_test(test_close_ends_parsing),
      cmocka_unit_test(test_protocol_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
