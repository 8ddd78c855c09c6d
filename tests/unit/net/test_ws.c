/*
 * Guards src/ws.c, the WebSocket pieces plaza writes itself: the accept key
 * (RFC 6455's own example), the header of every server frame at each
 * length-encoding edge (0, 125, 126, 65535, 65536 and beyond), and the
 * upgrade check: a proper request gets a 101 with the right accept key,
 * plaza.v1 is selected only when offered, a wrong version is 426, a missing
 * or bad key 400, and a non-upgrade request 426.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "ws.h"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" /* RFC 6455 1.3 */

static void test_accept_key_rfc6455(void **state) {
  char out[29];
  memset(out, 'X', sizeof(out));
  pz_ws_accept_key(RFC_KEY, strlen(RFC_KEY), out);
  assert_string_equal(out, RFC_ACCEPT);
  /* Only key_len bytes of the key are read. */
  pz_ws_accept_key(RFC_KEY "garbage", strlen(RFC_KEY), out);
  assert_string_equal(out, RFC_ACCEPT);
}

static void test_accept_key_other(void **state) {
  /* Computed with Python: base64(sha1(key + GUID)). */
  char out[29];
  pz_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
  assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void expect_header(uint64_t len, const uint8_t *want, size_t want_len) {
  uint8_t out[PZ_WS_HEADER_MAX + 4];
  memset(out, 0xee, sizeof(out));
  size_t n = pz_ws_frame_header(out, 0x2, len);
  assert_int_equal(n, want_len);
  assert_memory_equal(out, want, want_len);
  /* Nothing written past the header it reports. */
  assert_int_equal(out[PZ_WS_HEADER_MAX], 0xee);
  if (n < PZ_WS_HEADER_MAX)
    assert_int_equal(out[n], 0xee);
}

static void test_frame_header_lengths(void **state) {
  expect_header(0, (const uint8_t[]){0x82, 0}, 2);
  expect_header(1, (const uint8_t[]){0x82, 1}, 2);
  expect_header(125, (const uint8_t[]){0x82, 125}, 2);
  expect_header(126, (const uint8_t[]){0x82, 126, 0, 126}, 4);
  expect_header(127, (const uint8_t[]){0x82, 126, 0, 127}, 4);
  expect_header(256, (const uint8_t[]){0x82, 126, 1, 0}, 4);
  expect_header(65535, (const uint8_t[]){0x82, 126, 0xff, 0xff}, 4);
  expect_header(65536, (const uint8_t[]){0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0},
                10);
  expect_header(0x0102030405ull,
                (const uint8_t[]){0x82, 127, 0, 0, 0, 1, 2, 3, 4, 5}, 10);
  /* The top bit of a 64-bit length must be 0 (RFC 6455 5.2). */
  expect_header(0x7fffffffffffffffull,
                (const uint8_t[]){0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff},
                10);
}

static void test_frame_header_opcodes(void **state) {
  uint8_t out[PZ_WS_HEADER_MAX];
  static const int ops[] = {0x1, 0x2, 0x8, 0x9, 0xa};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    assert_int_equal(pz_ws_frame_header(out, ops[i], 3), 2);
    assert_int_equal(out[0], 0x80 | ops[i]); /* FIN, no RSV bits */
    assert_int_equal(out[1], 3);             /* server frames: no mask */
  }
}

/* ---- handshake -----------------------------------------------------------
 */

/* Parses a head into req; fails the test unless it completes. */
static void parse(pz_http_req_t *req, const char *head) {
  pz_http_req_init(req);
  ssize_t r = pz_http_req_feed(req, head, strlen(head));
  if (r != (ssize_t)strlen(head))
    fail_msg("head not parsed whole: %zd of %zu", r, strlen(head));
}

static int handshake(const char *head, char *out, size_t size) {
  pz_http_req_t req;
  parse(&req, head);
  return pz_ws_handshake(&req, out, size);
}

#define HEAD(extra)                                                            \
  "GET /ws HTTP/1.1\r\n"                                                       \
  "Host: localhost\r\n"                                                        \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"                                                    \
  "Sec-WebSocket-Key: " RFC_KEY "\r\n"                                         \
  "Sec-WebSocket-Version: 13\r\n" extra "\r\n"

static void test_handshake_accepts(void **state) {
  char out[512];
  assert_int_equal(handshake(HEAD(""), out, sizeof(out)), 0);
  assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                           "\r\n");
}

static void test_handshake_selects_plaza_only_when_offered(void **state) {
  char out[512];
  static const char *const offered[] = {
      HEAD("Sec-WebSocket-Protocol: plaza.v1\r\n"),
      HEAD("Sec-WebSocket-Protocol: chat, plaza.v1\r\n"),
      HEAD("Sec-WebSocket-Protocol: chat\r\n"
           "Sec-WebSocket-Protocol: plaza.v1\r\n"),
  };
  for (size_t i = 0; i < sizeof(offered) / sizeof(offered[0]); i++) {
    assert_int_equal(handshake(offered[i], out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Protocol: plaza.v1\r\n"));
    assert_non_null(strstr(out, "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"));
    assert_int_equal(strncmp(out, "HTTP/1.1 101 ", 13), 0);
    size_t n = strlen(out);
    assert_true(n >= 4);
    assert_string_equal(out + n - 4, "\r\n\r\n");
  }
  static const char *const not_offered[] = {
      HEAD(""),
      HEAD("Sec-WebSocket-Protocol: chat\r\n"),
      HEAD("Sec-WebSocket-Protocol: plaza.v2, plaza\r\n"),
      HEAD("Sec-WebSocket-Protocol: plaza.v1x\r\n"),
      /* tokens are case-sensitive: never echo what was not offered */
      HEAD("Sec-WebSocket-Protocol: PLAZA.V1\r\n"),
      HEAD("Sec-WebSocket-Protocol: chat, Plaza.V1\r\n"),
  };
  for (size_t i = 0; i < sizeof(not_offered) / sizeof(not_offered[0]); i++) {
    assert_int_equal(handshake(not_offered[i], out, sizeof(out)), 0);
    if (strstr(out, "Sec-WebSocket-Protocol"))
      fail_msg("not_offered[%zu]: a protocol was selected:\n%s", i, out);
  }
}

static void test_handshake_wrong_version(void **state) {
  char out[512];
  static const char *const heads[] = {
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 130\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
    assert_int_equal(handshake(heads[i], out, sizeof(out)), 426);
}

static void test_handshake_bad_key(void **state) {
  char out[512];
  static const char *const heads[] = {
      /* missing */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      /* empty */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n\r\n",
      /* too short, too long */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "AAAA\r\nSec-WebSocket-Version: 13\r\n"
      "\r\n",
      /* sent twice: joined into one longer value */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Key: " RFC_KEY "\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      /* 24 characters that are not base64 of 16 bytes */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: abcdefghijklmnopqrstuvwx\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!A==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=A\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25-ZQ==\r\n" /* base64url */
      "Sec-WebSocket-Version: 13\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
    int st = handshake(heads[i], out, sizeof(out));
    if (st != 400)
      fail_msg("heads[%zu]: %d, want 400", i, st);
  }
}

static void test_handshake_http10_refused(void **state) {
  /* RFC 6455 §4.1: the handshake is HTTP/1.1 or later. */
  char out[512];
  static const char head[] =
      "GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(handshake(head, out, sizeof(out)), 400);
}

static void test_handshake_not_an_upgrade(void **state) {
  char out[512];
  static const char *const heads[] = {
      /* no Upgrade */
      "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
      /* no Connection: upgrade */
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
      /* another protocol */
      "GET /ws HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
    int st = handshake(heads[i], out, sizeof(out));
    if (st != 426)
      fail_msg("heads[%zu]: %d, want 426", i, st);
  }
  /* Not a GET. */
  static const char post[] =
      "POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
      "Content-Length: 0\r\n\r\n";
  pz_http_req_t req;
  pz_http_req_init(&req);
  assert_true(pz_http_req_feed(&req, post, strlen(post)) >= 0);
  assert_true(req.complete);
  assert_int_equal(pz_ws_handshake(&req, out, sizeof(out)), 426);
}

static void test_handshake_case_insensitive_tokens(void **state) {
  char out[512];
  static const char head[] =
      "GET /ws HTTP/1.1\r\nupgrade: WebSocket\r\n"
      "connection: keep-alive, UPGRADE\r\n"
      "sec-websocket-key: " RFC_KEY "\r\nsec-websocket-version: 13\r\n\r\n";
  assert_int_equal(handshake(head, out, sizeof(out)), 0);
  assert_non_null(strstr(out, RFC_ACCEPT));
}

static void test_handshake_small_buffer(void **state) {
  /* Never writes past out_size; an answer that does not fit is refused. */
  char out[64];
  memset(out, 'Z', sizeof(out));
  int st = handshake(HEAD(""), out, 32);
  assert_int_not_equal(st, 0);
  for (size_t i = 32; i < sizeof(out); i++)
    assert_int_equal(out[i], 'Z');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_key_rfc6455),
      cmocka_unit_test(test_accept_key_other),
      cmocka_unit_test(test_frame_header_lengths),
      cmocka_unit_test(test_frame_header_opcodes),
      cmocka_unit_test(test_handshake_accepts),
      cmocka_unit_test(test_handshake_selects_plaza_only_when_offered),
      cmocka_unit_test(test_handshake_wrong_version),
      cmocka_unit_test(test_handshake_bad_key),
      cmocka_unit_test(test_handshake_http10_refused),
      cmocka_unit_test(test_handshake_not_an_upgrade),
      cmocka_unit_test(test_handshake_case_insensitive_tokens),
      cmocka_unit_test(test_handshake_small_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
