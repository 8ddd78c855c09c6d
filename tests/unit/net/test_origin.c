/*
 * Guards src/net/origin.c, which decides who may upgrade from a browser and
 * who reads CORS: an empty list or "*" is open, entries match exactly but
 * for case, blanks and one trailing '/', a prefix or a longer origin never
 * matches, and an absent Origin is never "listed".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_lists),
      cmocka_unit_test(test_exact_entries),
      cmocka_unit_test(test_absent_origin_never_listed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
