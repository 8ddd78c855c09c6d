/*
 * Guards src/net/forwarded.c and the X-Forwarded-For header in
 * src/net/http.c: the client is the rightmost entry that is not a trusted
 * proxy (whatever a client wrote at the front), ports and brackets are
 * read, a malformed entry ends the walk, and a header longer than the
 * parser keeps loses its front, never the entries our proxies added, fed
 * whole or one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "forwarded.h"
#include "http.h"

static pz_cidr_list_t trusted;

static int setup(void **state) {
  const char *why;
  return pz_cidr_list_parse("10.0.0.0/8, fd00::/8", &trusted, &why);
}

/* The client named, as text, or "-" when none. */
static const char *client(const char *xff, bool cut) {
  static char out[PZ_ADDR_MAX];
  pz_ip_t ip;
  if (!pz_forwarded_client(xff, cut, &trusted, &ip))
    return "-";
  return pz_ip_format(&ip, out, sizeof(out));
}

static void test_rightmost_untrusted(void **state) {
  assert_string_equal(client("203.0.113.7", false), "203.0.113.7");
  /* A client's own X-Forwarded-For is the front: ignored. */
  assert_string_equal(client("6.6.6.6, 203.0.113.7", false), "203.0.113.7");
  /* Our proxies' entries are passed over. */
  assert_string_equal(client("6.6.6.6,203.0.113.7, 10.1.1.1,10.2.2.2", false),
                      "203.0.113.7");
  /* Every entry trusted: the leftmost. */
  assert_string_equal(client("10.0.0.5, 10.0.0.6", false), "10.0.0.5");
  assert_string_equal(client("2001:db8::9, fd00::1", false), "2001:db8::9");
  /* Ports and brackets. */
  assert_string_equal(client("203.0.113.7:4711", false), "203.0.113.7");
  assert_string_equal(client("[2001:db8::9]:443, 10.0.0.1", false),
                      "2001:db8::9");
  assert_string_equal(client("[2001:db8::9]", false), "2001:db8::9");
  assert_string_equal(client(" \t198.51.100.1 \t", false), "198.51.100.1");
}

static void test_malformed_entries(void **state) {
  /* Nothing usable: no client. */
  assert_string_equal(client("", false), "-");
  assert_string_equal(client("unknown", false), "-");
  assert_string_equal(client("1.2.3.4, garbage", false), "-");
  /* A bad entry behind trusted ones: the last good (trusted) one stands,
   * never the entry a client wrote in front of it. */
  assert_string_equal(client("1.2.3.4, unknown, 10.0.0.1", false), "10.0.0.1");
  assert_string_equal(client("[2001:db8::1", false), "-");
  assert_string_equal(client("[2001:db8::1]x", false), "-");
  assert_string_equal(client("1.2.3.4,", false), "-");
  /* The front was cut: its first entry may be half an address. */
  assert_string_equal(client("2.3.4, 10.0.0.1", true), "10.0.0.1");
  assert_string_equal(client("2.3.4, 203.0.113.9, 10.0.0.1", true),
                      "203.0.113.9");
}

static void feed(pz_http_req_t *req, const char *text, size_t chunk) {
  pz_http_req_init(req);
  size_t len = strlen(text), off = 0;
  ssize_t r = PZ_EAGAIN;
  while (off < len && r == PZ_EAGAIN) {
    size_t n = len - off < chunk ? len - off : chunk;
    r = pz_http_req_feed(req, text + off, n);
    off += n;
  }
  assert_true(r >= 0);
  assert_true(req->complete);
}

static void test_long_header_keeps_its_end(void **state) {
  char head[2048];
  char list[1200] = "";
  /* 60 entries a client made up, then the one our proxy added. */
  for (int i = 0; i < 60; i++) {
    char one[24];
    snprintf(one, sizeof(one), "%s66.66.%d.66", i ? ", " : "", i);
    strcat(list, one);
  }
  snprintf(head, sizeof(head),
           "GET /admin/sessions HTTP/1.1\r\nHost: x\r\n"
           "X-Forwarded-For: %s\r\n"
           "x-forwarded-for: 203.0.113.50\r\n\r\n",
           list);
  for (size_t chunk = 1; chunk <= strlen(head); chunk += chunk < 8 ? 1 : 97) {
    pz_http_req_t req;
    feed(&req, head, chunk);
    const char *xff = pz_http_header(&req, PZ_HF_FORWARDED_FOR);
    assert_true(req.forwarded_cut);
    const char *tail = ", 203.0.113.50";
    assert_string_equal(xff + strlen(xff) - strlen(tail), tail);
    pz_ip_t ip;
    assert_true(pz_forwarded_client(xff, req.forwarded_cut, &trusted, &ip));
    char out[PZ_ADDR_MAX];
    assert_string_equal(pz_ip_format(&ip, out, sizeof(out)), "203.0.113.50");
    pz_http_req_dispose(&req);
  }
  /* A short header is kept whole and not marked cut. */
  pz_http_req_t req;
  feed(&req,
       "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n"
       "X-Forwarded-For: 10.0.0.2\r\n\r\n",
       1);
  assert_string_equal(pz_http_header(&req, PZ_HF_FORWARDED_FOR),
                      "1.2.3.4, 10.0.0.2");
  assert_false(req.forwarded_cut);
  pz_http_req_dispose(&req);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rightmost_untrusted),
      cmocka_unit_test(test_malformed_entries),
      cmocka_unit_test(test_long_header_keeps_its_end),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
