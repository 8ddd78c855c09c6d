/*
 * Guards the auth part of src/core/config.c: the JWT, Origin and admin
 * flags' defaults and environment twins, --jwt-secret-file read with one
 * trailing newline dropped, a file and a flag together refused, and a
 * secret that is refused never echoed to stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int clean_env(void **state) {
  unsetenv("PLAZA_JWT_SECRET");
  unsetenv("PLAZA_JWT_SECRET_FILE");
  unsetenv("PLAZA_ADMIN_TOKEN");
  unsetenv("PLAZA_ALLOWED_ORIGINS");
  return 0;
}

static int load(pz_config_t *cfg, const char **args) {
  int argc = 0;
  while (args[argc])
    argc++;
  return pz_config_load(cfg, argc, (char **)args);
}

/* Loads with stderr sent to a file; returns the result and what was said. */
static int load_quiet(pz_config_t *cfg, const char **args, char *err,
                      size_t cap) {
  fflush(stderr);
  FILE *tmp = tmpfile();
  int saved = dup(STDERR_FILENO);
  dup2(fileno(tmp), STDERR_FILENO);
  int r = load(cfg, args);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  rewind(tmp);
  size_t n = fread(err, 1, cap - 1, tmp);
  err[n] = 0;
  fclose(tmp);
  return r;
}

static char *write_tmp(const char *content) {
  static char path[64];
  strcpy(path, "/tmp/plaza-secret-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, content, strlen(content)), strlen(content));
  close(fd);
  return path;
}

static void test_defaults_are_open(void **state) {
  pz_config_t cfg;
  assert_int_equal(load(&cfg, (const char *[]){"plaza", NULL}), PZ_CONFIG_OK);
  assert_string_equal(cfg.jwt_secret, "");
  assert_int_equal(cfg.jwt_leeway_s, 30);
  assert_string_equal(cfg.jwt_issuer, "");
  assert_string_equal(cfg.jwt_audience, "");
  assert_int_equal(cfg.max_sessions_per_user, 0);
  assert_string_equal(cfg.allowed_origins, "");
  assert_string_equal(cfg.admin_token, "");
}

static void test_flags_and_env_twins(void **state) {
  setenv("PLAZA_JWT_SECRET", "from-env", 1);
  setenv("PLAZA_ADMIN_TOKEN", "admin-env", 1);
  setenv("PLAZA_ALLOWED_ORIGINS", "https://a.example", 1);
  pz_config_t cfg;
  assert_int_equal(
      load(&cfg, (const char *[]){"plaza", "--jwt-leeway-s", "5",
                                  "--jwt-issuer", "iss", "--jwt-audience",
                                  "aud", "--max-sessions-per-user", "2",
                                  "--admin-token", "admin-flag", NULL}),
      PZ_CONFIG_OK);
  assert_string_equal(cfg.jwt_secret, "from-env");
  assert_string_equal(cfg.admin_token, "admin-flag");
  assert_string_equal(cfg.allowed_origins, "https://a.example");
  assert_int_equal(cfg.jwt_leeway_s, 5);
  assert_string_equal(cfg.jwt_issuer, "iss");
  assert_string_equal(cfg.jwt_audience, "aud");
  assert_int_equal(cfg.max_sessions_per_user, 2);
}

static void test_secret_file_read(void **state) {
  char *path = write_tmp("s3cret-from-file\n");
  pz_config_t cfg;
  assert_int_equal(
      load(&cfg, (const char *[]){"plaza", "--jwt-secret-file", path, NULL}),
      PZ_CONFIG_OK);
  assert_string_equal(cfg.jwt_secret, "s3cret-from-file");
  setenv("PLAZA_JWT_SECRET_FILE", path, 1);
  assert_int_equal(load(&cfg, (const char *[]){"plaza", NULL}), PZ_CONFIG_OK);
  assert_string_equal(cfg.jwt_secret, "s3cret-from-file");
  unlink(path);
}

static void test_secret_file_problems_refused(void **state) {
  pz_config_t cfg;
  char err[512];
  char *path = write_tmp("key\n");
  assert_int_equal(
      load_quiet(&cfg,
                 (const char *[]){"plaza", "--jwt-secret-file", path,
                                  "--jwt-secret", "other-key", NULL},
                 err, sizeof(err)),
      PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "not both"));
  assert_null(strstr(err, "other-key"));
  unlink(path);
  path = write_tmp("\n");
  assert_int_equal(
      load_quiet(&cfg,
                 (const char *[]){"plaza", "--jwt-secret-file", path, NULL},
                 err, sizeof(err)),
      PZ_CONFIG_ERROR);
  unlink(path);
  assert_int_equal(load_quiet(&cfg,
                              (const char *[]){"plaza", "--jwt-secret-file",
                                               "/nonexistent/key", NULL},
                              err, sizeof(err)),
                   PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "/nonexistent/key"));
}

static void test_refused_secret_not_echoed(void **state) {
  char secret[600];
  memset(secret, 'k', sizeof(secret) - 1);
  secret[sizeof(secret) - 1] = 0;
  memcpy(secret, "TOPSECRET", 9);
  pz_config_t cfg;
  char err[2048];
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--jwt-secret", secret, NULL},
                 err, sizeof(err)),
      PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "--jwt-secret"));
  assert_null(strstr(err, "TOPSECRET"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, clean_env, clean_env)
int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_defaults_are_open),         T(test_flags_and_env_twins),
      T(test_secret_file_read),          T(test_secret_file_problems_refused),
      T(test_refused_secret_not_echoed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
