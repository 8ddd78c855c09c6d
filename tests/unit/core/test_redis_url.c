/*
 * Guards src/core/redis_url.c: the forms of redis:// URLs plaza accepts
 * (host, port, db, password, IPv6), the ones it refuses, and that the
 * printable form never carries the password; the password is
 * percent-decoded (issue 15: one holding `/` could not be written at all,
 * and %3A or %40 reached AUTH as is), and a bad escape is refused without
 * quoting it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "redis_url.h"

static void test_url_forms(void **state) {
  pz_redis_url_t u;
  const char *why;
  assert_int_equal(pz_redis_url_parse("redis://localhost", &u, &why), 0);
  assert_string_equal(u.host, "localhost");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_false(u.has_password);

  assert_int_equal(pz_redis_url_parse("redis://10.0.0.2:6380/3", &u, &why), 0);
  assert_string_equal(u.host, "10.0.0.2");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 3);

  assert_int_equal(pz_redis_url_parse("redis://:s3cr@t@redis:7000/1", &u, &why),
                   0);
  assert_true(u.has_password);
  assert_string_equal(u.password, "s3cr@t");
  assert_string_equal(u.host, "redis");
  assert_int_equal(u.port, 7000);

  assert_int_equal(pz_redis_url_parse("redis://user:pw@h", &u, &why), 0);
  assert_string_equal(u.user, "user");
  assert_string_equal(u.password, "pw");
  assert_int_equal(pz_redis_url_parse("redis://:pw@h", &u, &why), 0);
  assert_string_equal(u.user, "");

  assert_int_equal(pz_redis_url_parse("redis://[::1]:6390", &u, &why), 0);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 6390);
  assert_int_equal(pz_redis_url_parse("redis://h/", &u, &why), 0);
}

/* Parses a URL that must be refused; returns the reason. */
static const char *refused(const char *url, pz_redis_url_t *u) {
  const char *why = NULL;
  if (pz_redis_url_parse(url, u, &why) != PZ_EINVAL)
    fail_msg("accepted: %s", url);
  assert_non_null(why);
  return why;
}

static void test_url_refused(void **state) {
  static const char *bad[] = {"http://h:6379",          "redis://",
                              "redis://:6379",          "redis://h:0",
                              "redis://h:70000",        "redis://h:x",
                              "redis://h/db",           "redis://pw@h",
                              "redis://[::1",           "redis://:@h",
                              "redis://h:6379/99999999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pz_redis_url_t u;
    refused(bad[i], &u);
  }
}

static void test_safe_form_hides_password(void **state) {
  pz_redis_url_t u;
  const char *why;
  assert_int_equal(
      pz_redis_url_parse("redis://:hunter2@cache:6400/2", &u, &why), 0);
  char buf[300];
  pz_redis_url_safe(&u, buf, sizeof(buf));
  assert_string_equal(buf, "cache:6400/2");
  assert_null(strstr(buf, "hunter2"));
  /* Refusals do not quote the URL either. */
  assert_int_equal(pz_redis_url_parse("redis://:hunter2@h:bad", &u, &why),
                   PZ_EINVAL);
  assert_null(strstr(why, "hunter2"));
}

static void test_password_percent_decoded(void **state) {
  static const struct {
    const char *url, *user, *password;
  } cases[] = {
      {"redis://:a%2Fb%3Ac%40d%25e@h:1/2", "", "a/b:c@d%e"},
      {"redis://user%3Ax:p%2f%3a@h", "user:x", "p/:"}, /* lower-case hex */
      {"redis://:a:b@c@h", "", "a:b@c"},               /* ':' '@' as is */
      {"redis://%61pp:%41%42%7E%20%E2%82%AC@h", "app", "AB~ \xe2\x82\xac"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    pz_redis_url_t u;
    const char *why = NULL;
    if (pz_redis_url_parse(cases[i].url, &u, &why) != 0)
      fail_msg("%s: %s", cases[i].url, why);
    assert_true(u.has_password);
    assert_string_equal(u.user, cases[i].user);
    assert_string_equal(u.password, cases[i].password);
    assert_string_equal(u.host, "h");
  }
  pz_redis_url_t u;
  const char *why;
  assert_int_equal(
      pz_redis_url_parse("redis://:a%2Fb%3Ac%40d%25e@h:1/2", &u, &why), 0);
  assert_int_equal(u.port, 1);
  assert_int_equal(u.db, 2);
  /* 255 bytes decoded fit, however they were written; 256 do not. */
  char url[1024], pw[300];
  memset(pw, 'x', 255);
  pw[255] = 0;
  snprintf(url, sizeof(url), "redis://:%s@h", pw);
  assert_int_equal(pz_redis_url_parse(url, &u, &why), 0);
  assert_int_equal(strlen(u.password), 255);
  snprintf(url, sizeof(url), "redis://:%%78%s@h", pw);
  assert_int_equal(pz_redis_url_parse(url, &u, &why), PZ_EINVAL);
}

static void test_bad_escapes_refused_unquoted(void **state) {
  static const char *bad[] = {
      "redis://:hunter%@h",     "redis://:hunter%2@h", "redis://:hunter%zz@h",
      "redis://:hunter%00@h",   "redis://:%@h",        "redis://:hunter%g1@h",
      "redis://us%zz:hunter@h",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    pz_redis_url_t u;
    assert_null(strstr(refused(bad[i], &u), "hunter"));
    assert_false(u.has_password);
    assert_string_equal(u.password, "");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_forms),
      cmocka_unit_test(test_url_refused),
      cmocka_unit_test(test_safe_form_hides_password),
      cmocka_unit_test(test_password_percent_decoded),
      cmocka_unit_test(test_bad_escapes_refused_unquoted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
