/*
 * Unit tests of the client side of the WebSocket upgrade
 * (src/client/handshake.c): accept key, request text, and the response
 * parser fed in chunks down to one byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "handshake.h"
#include "url.h"
#include "plaza/client.h"

/* RFC 6455 section 1.3 (its accept value, as python-websockets computes
 * it too). */
#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define GOOD_RESPONSE                                                          \
  "HTTP/1.1 101 Switching Protocols\r\n"                                       \
  "Upgrade: websocket\r\n"                                                     \
  "Connection: Upgrade\r\n"                                                    \
  "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"                                   \
  "Sec-WebSocket-Protocol: plaza.v1\r\n"                                       \
  "\r\n"

static void test_accept_rfc_example(void **state) {
  char out[PZ_WS_ACCEPT_LEN + 1];
  (void)state;
  assert_int_equal(pz_ws_accept_compute(RFC_KEY, strlen(RFC_KEY), out), 0);
  assert_string_equal(out, RFC_ACCEPT);
}

static void test_key_is_random_base64_of_16(void **state) {
  char a[PZ_WS_KEY_LEN + 1], b[PZ_WS_KEY_LEN + 1];
  unsigned char raw[32];
  (void)state;
  assert_int_equal(pz_ws_key_generate(a), 0);
  assert_int_equal(pz_ws_key_generate(b), 0);
  assert_int_equal(strlen(a), PZ_WS_KEY_LEN);
  assert_string_not_equal(a, b);
  /* 24 base64 chars with "==" padding decode to 16 bytes. */
  assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)a, 24), 18);
  assert_memory_equal(a + 22, "==", 2);
}

static void test_request_text(void **state) {
  pz_url_t u;
  char buf[512];
  int n;
  (void)state;
  assert_int_equal(pz_url_parse("ws://127.0.0.1:8080/ws?x=1", &u), 0);
  n = pz_ws_request_build(NULL, 0, &u, RFC_KEY, "plaza.v1");
  assert_true(n > 0 && (size_t)n < sizeof(buf));
  assert_int_equal(
      pz_ws_request_build(buf, sizeof(buf), &u, RFC_KEY, "plaza.v1"), n);
  assert_string_equal(buf, "GET /ws?x=1 HTTP/1.1\r\n"
                           "Host: 127.0.0.1:8080\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection: Upgrade\r\n"
                           "Sec-WebSocket-Key: " RFC_KEY "\r\n"
                           "Sec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: plaza.v1\r\n"
                           "User-Agent: plaza-client\r\n"
                           "\r\n");
}

static void test_request_without_protocol_and_path(void **state) {
  pz_url_t u;
  char buf[512];
  (void)state;
  assert_int_equal(pz_url_parse("ws://localhost?EIO=4", &u), 0);
  assert_true(pz_ws_request_build(buf, sizeof(buf), &u, RFC_KEY, NULL) > 0);
  assert_non_null(strstr(buf, "GET /?EIO=4 HTTP/1.1\r\nHost: localhost\r\n"));
  assert_null(strstr(buf, "Sec-WebSocket-Protocol"));
}

static void test_request_rejects_bad_protocol(void **state) {
  pz_url_t u;
  char buf[512], long_proto[PZ_WS_PROTOCOL_MAX + 2];
  (void)state;
  assert_int_equal(pz_url_parse("ws://127.0.0.1/ws", &u), 0);
  assert_int_equal(
      pz_ws_request_build(buf, sizeof(buf), &u, RFC_KEY, "a\r\nX-Evil: 1"),
      PZ_CLIENT_EINVAL);
  assert_int_equal(pz_ws_request_build(buf, sizeof(buf), &u, RFC_KEY, ""),
                   PZ_CLIENT_EINVAL);
  memset(long_proto, 'p', sizeof(long_proto) - 1);
  long_proto[sizeof(long_proto) - 1] = '\0';
  assert_int_equal(
      pz_ws_request_build(buf, sizeof(buf), &u, RFC_KEY, long_proto),
      PZ_CLIENT_EINVAL);
}

/* Feeds `text` (plus `extra` bytes of WebSocket data after it) in chunks of
 * `chunk` bytes; returns the final result and checks that the parser
 * stopped right at the end of the header block. */
static ssize_t feed(pz_http_resp_t *p, const char *text, const char *extra,
                    size_t chunk) {
  char all[16384];
  size_t hdr = strlen(text), len = hdr + strlen(extra), off = 0;
  ssize_t r = PZ_CLIENT_EAGAIN;

  assert_true(len < sizeof(all));
  memcpy(all, text, hdr);
  memcpy(all + hdr, extra, strlen(extra));
  while (off < len && r == PZ_CLIENT_EAGAIN) {
    size_t n = len - off < chunk ? len - off : chunk;
    r = pz_http_resp_feed(p, all + off, n);
    if (r > 0) {
      if (off + (size_t)r != hdr)
        fail_msg("chunk %zu: header ended at %zu, want %zu", chunk,
                 off + (size_t)r, hdr);
      return r;
    }
    off += n;
  }
  return r;
}

static void test_good_response_any_chunking(void **state) {
  static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 64, 4096};
  (void)state;
  for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
    pz_http_resp_t p;
    pz_http_resp_init(&p, RFC_KEY, "plaza.v1");
    ssize_t r = feed(&p, GOOD_RESPONSE, "\x82\x02\x91\x01", chunks[i]);
    if (r <= 0)
      fail_msg("chunk %zu: got %zd (%s), want > 0", chunks[i], r,
               p.why ? p.why : "-");
    assert_int_equal(p.status, 101);
    assert_true(p.protocol_selected);
    /* The parser is done: more input is a caller bug. */
    assert_int_equal(pz_http_resp_feed(&p, "x", 1), PZ_CLIENT_EINVAL);
    pz_http_resp_dispose(&p);
  }
}

static void test_need_more_until_empty_line(void **state) {
  pz_http_resp_t p;
  const char *text = GOOD_RESPONSE;
  (void)state;
  pz_http_resp_init(&p, RFC_KEY, "plaza.v1");
  /* Everything but the final LF. */
  assert_int_equal(pz_http_resp_feed(&p, text, strlen(text) - 1),
                   PZ_CLIENT_EAGAIN);
  assert_int_equal(pz_http_resp_feed(&p, "\n", 1), 1);
  pz_http_resp_dispose(&p);
}

static void test_lenient_forms(void **state) {
  /* Bare LF line ends, header case, a token list, no subprotocol chosen. */
  const char *text = "HTTP/1.1 101 OK\n"
                     "upgrade: WebSocket\n"
                     "CONNECTION: keep-alive, upgrade\n"
                     "sec-websocket-accept:" RFC_ACCEPT "  \n"
                     "Server: x\n"
                     "\n";
  pz_http_resp_t p;
  (void)state;
  pz_http_resp_init(&p, RFC_KEY, "plaza.v1");
  assert_int_equal(feed(&p, text, "", 1), (ssize_t)1);
  assert_false(p.protocol_selected);
  pz_http_resp_dispose(&p);
}

static void test_status_not_101(void **state) {
  const char *text = "HTTP/1.1 404 Not Found\r\n"
                     "Content-Length: 0\r\n"
                     "\r\n";
  pz_http_resp_t p;
  (void)state;
  pz_http_resp_init(&p, RFC_KEY, NULL);
  assert_int_equal(feed(&p, text, "", 3), PZ_CLIENT_EHANDSHAKE);
  assert_int_equal(p.status, 404);
  assert_string_equal(p.why, "HTTP status is not 101");
  pz_http_resp_dispose(&p);
}

/* Each bad response, fed one byte at a time, gives EHANDSHAKE and the
 * expected explanation. */
static void test_bad_responses(void **state) {
  static const struct {
    const char *offered;
    const char *text;
    const char *why;
  } cases[] = {
      {NULL,
       "HTTP/1.1 101 OK\r\nConnection: "
       "Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
       "Upgrade: websocket missing"},
      {NULL, "HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
       "Upgrade is not websocket"},
      {NULL,
       "HTTP/1.1 101 OK\r\nUpgrade: "
       "websocket\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
       "Connection: Upgrade missing"},
      {NULL,
       "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       "Sec-WebSocket-Accept missing"},
      {NULL,
       "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
       "Sec-WebSocket-Accept does not match the key"},
      {NULL,
       "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: " RFC_ACCEPT
       "\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
       "Sec-WebSocket-Accept repeated"},
      {NULL,
       "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: " RFC_ACCEPT
       "\r\nSec-WebSocket-Protocol: plaza.v1\r\n\r\n",
       "Sec-WebSocket-Protocol was not offered"},
      {"plaza.v1",
       "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: " RFC_ACCEPT
       "\r\nSec-WebSocket-Protocol: plaza.v2\r\n\r\n",
       "Sec-WebSocket-Protocol was not offered"},
      {NULL,
       "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: " RFC_ACCEPT
       "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
       "Sec-WebSocket-Extensions was not offered"},
      {NULL, "HTTP/1.0 101 OK\r\n\r\n", "101 answered with HTTP/1.0"},
      {NULL, "ICY 200 OK\r\n\r\n", "malformed status line"},
      {NULL, "HTTP/1.1 1O1 OK\r\n\r\n", "malformed status line"},
      {NULL, "HTTP/1.1 101OK\r\n\r\n", "malformed status line"},
      {NULL, "\r\n\r\n", "malformed status line"},
      {NULL, "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n  folded\r\n\r\n",
       "folded header line"},
      {NULL, "HTTP/1.1 101 OK\r\nno colon here\r\n\r\n",
       "malformed header line"},
      {NULL, "HTTP/1.1 101 OK\r\n: empty name\r\n\r\n",
       "malformed header line"},
      {NULL, "HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n", "malformed header name"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pz_http_resp_t p;
    pz_http_resp_init(&p, RFC_KEY, cases[i].offered);
    ssize_t r = feed(&p, cases[i].text, "", 1);
    if (r != PZ_CLIENT_EHANDSHAKE || p.why == NULL ||
        strcmp(p.why, cases[i].why) != 0)
      fail_msg("case %zu: got %zd (%s), want EHANDSHAKE (%s)", i, r,
               p.why ? p.why : "-", cases[i].why);
    /* After a failure, the parser refuses further input. */
    assert_int_equal(pz_http_resp_feed(&p, "x", 1), PZ_CLIENT_EINVAL);
    pz_http_resp_dispose(&p);
  }
}

static void test_header_block_too_large(void **state) {
  char big[PZ_HTTP_RESP_MAX + 100];
  pz_http_resp_t p;
  size_t n;
  (void)state;
  n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 101 OK\r\nX-Pad: ");
  memset(big + n, 'a', sizeof(big) - n - 1);
  big[sizeof(big) - 1] = '\0';
  pz_http_resp_init(&p, RFC_KEY, NULL);
  assert_int_equal(feed(&p, big, "", 1000), PZ_CLIENT_EHANDSHAKE);
  assert_string_equal(p.why, "response header block too large");
  assert_true(p.len <= PZ_HTTP_RESP_MAX);
  pz_http_resp_dispose(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_rfc_example),
      cmocka_unit_test(test_key_is_random_base64_of_16),
      cmocka_unit_test(test_request_text),
      cmocka_unit_test(test_request_without_protocol_and_path),
      cmocka_unit_test(test_request_rejects_bad_protocol),
      cmocka_unit_test(test_good_response_any_chunking),
      cmocka_unit_test(test_need_more_until_empty_line),
      cmocka_unit_test(test_lenient_forms),
      cmocka_unit_test(test_status_not_101),
      cmocka_unit_test(test_bad_responses),
      cmocka_unit_test(test_header_block_too_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
