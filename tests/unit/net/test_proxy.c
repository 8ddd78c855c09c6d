/*
 * Guards src/net/proxy.c, the PROXY protocol header in front of a trusted
 * proxy's connections: v1 lines (TCP4, TCP6, UNKNOWN) and v2 headers
 * (PROXY over IPv4 and IPv6, LOCAL, AF_UNIX, TLVs of any length) give the
 * same result fed whole and in chunks of every size down to one byte, and
 * say exactly where the connection's own bytes begin; malformed headers
 * are PZ_EPROTO, at the first wrong byte where one can tell.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "proxy.h"

static const char http_after[] = "GET /ws HTTP/1.1\r\n";

typedef struct fed {
  ssize_t r;         /* the last feed's result */
  size_t header_len; /* bytes of the input the header took */
  pz_proxy_result_t res;
} fed_t;

/* Feeds in chunks of `chunk` bytes until the parser decides. */
static fed_t feed_chunked(const uint8_t *in, size_t len, size_t chunk) {
  pz_proxy_parser_t p;
  pz_proxy_init(&p);
  fed_t f = {.r = PZ_EAGAIN};
  size_t off = 0;
  while (off < len) {
    size_t n = len - off < chunk ? len - off : chunk;
    f.r = pz_proxy_feed(&p, in + off, n, &f.res);
    if (f.r != PZ_EAGAIN) {
      if (f.r >= 0)
        f.header_len = off + (size_t)f.r;
      return f;
    }
    off += n;
  }
  return f;
}

/* Header + what follows: every chunk size gives the same answer. */
static pz_proxy_result_t parse_all_ways(const uint8_t *hdr, size_t hlen) {
  size_t len = hlen + strlen(http_after);
  uint8_t *in = malloc(len);
  memcpy(in, hdr, hlen);
  memcpy(in + hlen, http_after, strlen(http_after));
  fed_t whole = feed_chunked(in, len, len);
  if (whole.r < 0)
    fail_msg("header refused: %zd", whole.r);
  assert_int_equal(whole.header_len, hlen);
  for (size_t chunk = 1; chunk < len; chunk++) {
    fed_t f = feed_chunked(in, len, chunk);
    if (f.r < 0 || f.header_len != hlen)
      fail_msg("chunk %zu: result %zd, header %zu of %zu", chunk, f.r,
               f.header_len, hlen);
    assert_memory_equal(&f.res, &whole.res, sizeof(f.res));
  }
  free(in);
  return whole.res;
}

static void expect_ip(const pz_ip_t *ip, const char *want) {
  char got[PZ_ADDR_MAX];
  pz_ip_format(ip, got, sizeof(got));
  assert_string_equal(got, want);
}

static void test_v1(void **state) {
  const char *h = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 8080\r\n";
  pz_proxy_result_t r = parse_all_ways((const uint8_t *)h, strlen(h));
  assert_true(r.has_client);
  expect_ip(&r.client, "203.0.113.7");
  expect_ip(&r.server, "10.0.0.1");
  assert_int_equal(r.client_port, 56324);
  assert_int_equal(r.server_port, 8080);

  h = "PROXY TCP6 2001:db8::7 2001:db8::1 0 65535\r\n";
  r = parse_all_ways((const uint8_t *)h, strlen(h));
  assert_true(r.has_client);
  expect_ip(&r.client, "2001:db8::7");
  assert_int_equal(r.client_port, 0);
  assert_int_equal(r.server_port, 65535);

  /* UNKNOWN: whatever follows on the line is ignored; no client. */
  h = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
  r = parse_all_ways((const uint8_t *)h, strlen(h));
  assert_false(r.has_client);
  h = "PROXY UNKNOWN\r\n";
  r = parse_all_ways((const uint8_t *)h, strlen(h));
  assert_false(r.has_client);
}

/* A v2 header: head, addresses, then `tlv` bytes of TLVs. */
static size_t v2(uint8_t *out, int cmd, int fam, const uint8_t *addrs,
                 size_t alen, size_t tlv) {
  static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
  memcpy(out, sig, 12);
  out[12] = (uint8_t)(0x20 | cmd);
  out[13] = (uint8_t)fam;
  size_t len = alen + tlv;
  out[14] = (uint8_t)(len >> 8);
  out[15] = (uint8_t)len;
  if (alen)
    memcpy(out + 16, addrs, alen);
  for (size_t i = 0; i < tlv; i++)
    out[16 + alen + i] = (uint8_t)(i * 7); /* anything */
  return 16 + len;
}

static void test_v2(void **state) {
  static uint8_t buf[16 + 216 + 600];
  const uint8_t a4[12] = {198, 51, 100, 9, 10, 0, 0, 1, 0x11, 0x5c, 0x1f, 0x90};
  size_t n = v2(buf, 1, 0x11, a4, sizeof(a4), 0);
  pz_proxy_result_t r = parse_all_ways(buf, n);
  assert_true(r.has_client);
  expect_ip(&r.client, "198.51.100.9");
  expect_ip(&r.server, "10.0.0.1");
  assert_int_equal(r.client_port, 4444);
  assert_int_equal(r.server_port, 8080);

  /* TLVs (haproxy's, AWS's, ...) are skipped whatever their length. */
  n = v2(buf, 1, 0x11, a4, sizeof(a4), 517);
  r = parse_all_ways(buf, n);
  assert_true(r.has_client);
  expect_ip(&r.client, "198.51.100.9");

  uint8_t a6[36] = {
      0x20,        0x01,        0x0d,        0xb8,        [15] = 7,
      [16] = 0x20, [17] = 0x01, [18] = 0x0d, [19] = 0xb8, [31] = 1,
      [32] = 0x01, [33] = 0xbb, [34] = 0x1f, [35] = 0x90};
  n = v2(buf, 1, 0x21, a6, sizeof(a6), 3);
  r = parse_all_ways(buf, n);
  expect_ip(&r.client, "2001:db8::7");
  expect_ip(&r.server, "2001:db8::1");
  assert_int_equal(r.client_port, 443);

  /* An IPv4-mapped client is IPv4. */
  uint8_t m6[36] = {
      [10] = 0xff, [11] = 0xff, [12] = 192, [13] = 0, [14] = 2, [15] = 33};
  n = v2(buf, 1, 0x21, m6, sizeof(m6), 0);
  r = parse_all_ways(buf, n);
  expect_ip(&r.client, "192.0.2.33");

  /* LOCAL (the proxy's health checks): no client, addresses or not. */
  n = v2(buf, 0, 0x00, NULL, 0, 0);
  r = parse_all_ways(buf, n);
  assert_false(r.has_client);
  n = v2(buf, 0, 0x11, a4, sizeof(a4), 0);
  r = parse_all_ways(buf, n);
  assert_false(r.has_client);
  /* PROXY over AF_UNIX or AF_UNSPEC: no IP client either. */
  static uint8_t unix_addrs[216];
  n = v2(buf, 1, 0x31, unix_addrs, sizeof(unix_addrs), 0);
  r = parse_all_ways(buf, n);
  assert_false(r.has_client);
  n = v2(buf, 1, 0x00, NULL, 0, 0);
  r = parse_all_ways(buf, n);
  assert_false(r.has_client);
}

static ssize_t feed_once(const void *in, size_t len) {
  pz_proxy_parser_t p;
  pz_proxy_result_t r;
  pz_proxy_init(&p);
  return pz_proxy_feed(&p, in, len, &r);
}

static void test_refused(void **state) {
  static const char *bad_v1[] = {
      "GET / HTTP/1.1\r\n\r\n",                 /* not PROXY at all */
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",       /* LF alone */
      "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",       /* a port missing */
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",   /* one word more */
      "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",    /* two spaces */
      "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /* port range */
      "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",   /* leading zero */
      "PROXY TCP4 ::1 ::2 1 2\r\n",             /* family mismatch */
      "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",     /* family mismatch */
      "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",     /* not TCP */
      "PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n",   /* not an address */
      "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",     /* case */
      "PROXY\r\n",
  };
  for (size_t i = 0; i < sizeof(bad_v1) / sizeof(bad_v1[0]); i++) {
    if (feed_once(bad_v1[i], strlen(bad_v1[i])) != PZ_EPROTO)
      fail_msg("accepted: %s", bad_v1[i]);
  }
  /* A line longer than 107 bytes without its CRLF. */
  char longline[200];
  memset(longline, 'x', sizeof(longline));
  memcpy(longline, "PROXY UNKNOWN ", 14);
  assert_int_equal(feed_once(longline, 108), PZ_EPROTO);
  assert_int_equal(feed_once(longline, 107), PZ_EAGAIN);
  /* A wrong first byte is known at once. */
  assert_int_equal(feed_once("G", 1), PZ_EPROTO);
  assert_int_equal(feed_once("PROXZ", 5), PZ_EPROTO);

  uint8_t buf[64];
  const uint8_t a4[12] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
  size_t n = v2(buf, 1, 0x11, a4, sizeof(a4), 0);
  buf[7] = 'X'; /* signature */
  assert_int_equal(feed_once(buf, n), PZ_EPROTO);
  n = v2(buf, 1, 0x11, a4, sizeof(a4), 0);
  buf[12] = 0x11; /* version 1 in the binary form */
  assert_int_equal(feed_once(buf, n), PZ_EPROTO);
  n = v2(buf, 2, 0x11, a4, sizeof(a4), 0); /* command 2 */
  assert_int_equal(feed_once(buf, n), PZ_EPROTO);
  n = v2(buf, 1, 0x12, a4, sizeof(a4), 0); /* datagrams */
  assert_int_equal(feed_once(buf, n), PZ_EPROTO);
  n = v2(buf, 1, 0x41, a4, sizeof(a4), 0); /* family 4 */
  assert_int_equal(feed_once(buf, n), PZ_EPROTO);
  n = v2(buf, 1, 0x21, a4, sizeof(a4), 0); /* IPv6 with 12 bytes */
  assert_int_equal(feed_once(buf, n), PZ_EPROTO);
  /* Incomplete: more is needed, not an error. */
  n = v2(buf, 1, 0x11, a4, sizeof(a4), 0);
  assert_int_equal(feed_once(buf, n - 1), PZ_EAGAIN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v1),
      cmocka_unit_test(test_v2),
      cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
