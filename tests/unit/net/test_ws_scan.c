/*
 * Guards pz_ws_scan: the server frees an idle connection's wslay context
 * only when the scanner says the input stands between messages, so a wrong
 * "at boundary" would lose a partial frame. Fed in every chunk size. It
 * also counts the frames of the latest message (the server closes one in
 * too many: 100,000 empty continuations held a message open, issue 15):
 * control frames inside do not count, a new message starts again at 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ws.h"

/* A masked client frame: fin, opcode, payload of len bytes. */
static size_t frame(uint8_t *out, int fin, int opcode, size_t len) {
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
  memcpy(out + n, "\x01\x02\x03\x04", 4); /* mask key */
  n += 4;
  memset(out + n, 0xab, len);
  return n + len;
}

/* Feeds buf in chunks of `chunk`; returns the boundary flag after each
 * byte offset in at[] (1 = at boundary after that many bytes). */
static void feed(const uint8_t *buf, size_t len, size_t chunk, uint8_t *at) {
  pz_ws_scan_t s;
  memset(&s, 0, sizeof(s));
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    pz_ws_scan_feed(&s, buf + off, n);
    at[off + n] = (uint8_t)pz_ws_scan_at_boundary(&s);
  }
}

static void test_boundaries_whole_messages(void **state) {
  static uint8_t buf[70000 + 400];
  size_t a = frame(buf, 1, 2, 5);
  size_t b = a + frame(buf + a, 1, 2, 300);
  size_t c = b + frame(buf + b, 1, 2, 70000);
  static uint8_t at[sizeof(buf) + 1];
  for (size_t chunk = 1; chunk <= 4097; chunk = chunk * 3 + 1) {
    memset(at, 0xff, sizeof(at));
    feed(buf, c, chunk, at);
    for (size_t i = 1; i <= c; i++) {
      if (at[i] == 0xff)
        continue; /* no chunk ended here */
      int expect = i == a || i == b || i == c;
      assert_int_equal(at[i], expect);
    }
  }
}

static void test_fragmented_message_with_ping_inside(void **state) {
  uint8_t buf[256];
  size_t n1 = frame(buf, 0, 2, 10);           /* first fragment */
  size_t n2 = n1 + frame(buf + n1, 1, 9, 3);  /* ping in between */
  size_t n3 = n2 + frame(buf + n2, 0, 0, 10); /* continuation */
  size_t n4 = n3 + frame(buf + n3, 1, 0, 10); /* final fragment */
  uint8_t at[257];
  memset(at, 0xff, sizeof(at));
  feed(buf, n4, 1, at);
  assert_int_equal(at[n1], 0); /* message not finished */
  assert_int_equal(at[n2], 0); /* a ping does not finish it */
  assert_int_equal(at[n3], 0);
  assert_int_equal(at[n4], 1);
}

static void test_empty_payload_and_partial_header(void **state) {
  uint8_t buf[64];
  size_t n = frame(buf, 1, 2, 0);
  uint8_t at[65];
  memset(at, 0xff, sizeof(at));
  feed(buf, n, 1, at);
  for (size_t i = 1; i < n; i++)
    assert_int_equal(at[i], 0); /* inside the header */
  assert_int_equal(at[n], 1);
}

static void test_frames_of_a_message_counted(void **state) {
  static uint8_t buf[4096];
  size_t n = frame(buf, 0, 2, 10); /* first of a message */
  n += frame(buf + n, 1, 9, 0);    /* a ping inside: not counted */
  for (int i = 0; i < 100; i++)    /* empty continuations */
    n += frame(buf + n, 0, 0, 0);
  size_t end = n + frame(buf + n, 1, 0, 3); /* the final one */
  size_t next = end + frame(buf + end, 1, 2, 4);
  for (size_t chunk = 1; chunk <= next; chunk = chunk * 2 + 1) {
    pz_ws_scan_t sc;
    memset(&sc, 0, sizeof(sc));
    for (size_t off = 0; off < next; off += chunk) {
      size_t k = next - off < chunk ? next - off : chunk;
      pz_ws_scan_feed(&sc, buf + off, k);
      if (off + k == n)
        assert_int_equal(sc.frames, 101);
      if (off + k == end) {
        assert_int_equal(sc.frames, 102);
        assert_true(pz_ws_scan_at_boundary(&sc));
      }
    }
    assert_int_equal(sc.frames, 1); /* the next message, whole */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_boundaries_whole_messages),
      cmocka_unit_test(test_fragmented_message_with_ping_inside),
      cmocka_unit_test(test_empty_payload_and_partial_header),
      cmocka_unit_test(test_frames_of_a_message_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
