/*
 * Guards src/core/redis_url.c: the forms of redis:// URLs plaza accepts
 * (host, port, db, password, IPv6), the ones it refuses, and that the
 * printable form never carries the password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
  assert_string_equal(u.password, "pw");

  assert_int_equal(pz_redis_url_parse("redis://[::1]:6390", &u, &why), 0);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 6390);
  assert_int_equal(pz_redis_url_parse("redis://h/", &u, &why), 0);
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
    const char *why = NULL;
    if (pz_redis_url_parse(bad[i], &u, &why) != PZ_EINVAL)
      fail_msg("accepted: %s", bad[i]);
    assert_non_null(why);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_forms),
      cmocka_unit_test(test_url_refused),
      cmocka_unit_test(test_safe_form_hides_password),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
