/*
 * Guards src/net/origin.c, which decides who may upgrade from a browser and
 * who reads CORS: an empty list or "*" is open, entries match exactly but
 * for case, blanks and one trailing '/', a prefix or a longer origin never
 * matches, and an absent Origin is never "listed"; an Origin naming the
 * request's own Host (the server's own page) is recognised, port defaults
 * included, and nothing else is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "origin.h"

static void test_open_lists(void **state) {
  assert_true(pz_origins_open(""));
  assert_true(pz_origins_open(" , "));
  assert_true(pz_origins_open("*"));
  assert_true(pz_origins_open("https://a.example, *"));
  assert_false(pz_origins_open("https://a.example"));
  assert_true(pz_origin_listed("", "https://evil.example"));
  assert_true(pz_origin_listed("*", "null"));
}

static void test_exact_entries(void **state) {
  const char *list = " https://app.example ,http://localhost:3000/";
  assert_true(pz_origin_listed(list, "https://app.example"));
  assert_true(pz_origin_listed(list, "HTTPS://APP.example"));
  assert_true(pz_origin_listed(list, "https://app.example/"));
  assert_true(pz_origin_listed(list, "http://localhost:3000"));
  assert_false(pz_origin_listed(list, "http://app.example"));
  assert_false(pz_origin_listed(list, "https://app.example.evil.com"));
  assert_false(pz_origin_listed(list, "https://app.exampl"));
  assert_false(pz_origin_listed(list, "http://localhost:30001"));
  assert_false(pz_origin_listed(list, "null"));
}

static void test_absent_origin_never_listed(void **state) {
  assert_false(pz_origin_listed("", ""));
  assert_false(pz_origin_listed("*", ""));
  assert_false(pz_origin_listed("https://a.example", ""));
}

static void test_same_host(void **state) {
  assert_true(pz_origin_same_host("http://127.0.0.1:8080", "127.0.0.1:8080"));
  assert_true(pz_origin_same_host("http://127.0.0.1:8080/", "127.0.0.1:8080"));
  assert_true(
      pz_origin_same_host("HTTP://Play.Example:8080", "play.example:8080"));
  /* Default ports, written or not, on either side. */
  assert_true(pz_origin_same_host("https://play.example", "play.example"));
  assert_true(pz_origin_same_host("https://play.example", "play.example:443"));
  assert_true(pz_origin_same_host("http://play.example:80", "play.example"));
  assert_true(pz_origin_same_host("http://[::1]:9000", "[::1]:9000"));
  assert_true(pz_origin_same_host("http://[::1]", "[::1]"));
}

static void test_other_hosts(void **state) {
  assert_false(pz_origin_same_host("http://127.0.0.1:8081", "127.0.0.1:8080"));
  assert_false(pz_origin_same_host("http://127.0.0.1", "127.0.0.1:8080"));
  assert_false(pz_origin_same_host("https://play.example", "play.example:80"));
  assert_false(pz_origin_same_host("http://evil.example", "play.example"));
  assert_false(pz_origin_same_host("http://play.example.evil", "play.example"));
  assert_false(pz_origin_same_host("http://play.exampl", "play.example"));
  assert_false(pz_origin_same_host("http://[::1]:9000", "[::2]:9000"));
}

static void test_malformed_never_same(void **state) {
  char longer[300];
  assert_false(pz_origin_same_host("", ""));
  assert_false(pz_origin_same_host("http://a", ""));
  assert_false(pz_origin_same_host("", "a"));
  assert_false(pz_origin_same_host("null", "null"));
  assert_false(pz_origin_same_host("file://a", "a"));
  assert_false(pz_origin_same_host("ws://a", "a"));
  assert_false(pz_origin_same_host("http://a/b", "a/b"));
  assert_false(pz_origin_same_host("http://u@a", "u@a"));
  assert_false(pz_origin_same_host("http://a:0", "a:0"));
  assert_false(pz_origin_same_host("http://a:99999", "a:99999"));
  assert_false(pz_origin_same_host("http://a:", "a:"));
  assert_false(pz_origin_same_host("http://a:8x", "a:8x"));
  assert_false(pz_origin_same_host("http://[::1", "[::1"));
  assert_false(pz_origin_same_host("http://[::1]x", "[::1]x"));
  /* A repeated Host header arrives joined as a list. */
  assert_false(pz_origin_same_host("http://a", "a, a"));
  assert_false(pz_origin_same_host("http://a b", "a b"));
  /* Values that may have been cut at the parser's limit. */
  memset(longer, 'a', sizeof(longer));
  memcpy(longer, "http://", 7);
  longer[7 + PZ_ORIGIN_VALUE_MAX] = 0;
  assert_false(pz_origin_same_host(longer, longer + 7));
  longer[PZ_ORIGIN_VALUE_MAX - 1] = 0; /* short enough */
  assert_true(pz_origin_same_host(longer, longer + 7));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_lists),
      cmocka_unit_test(test_exact_entries),
      cmocka_unit_test(test_absent_origin_never_listed),
      cmocka_unit_test(test_same_host),
      cmocka_unit_test(test_other_hosts),
      cmocka_unit_test(test_malformed_never_same),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
