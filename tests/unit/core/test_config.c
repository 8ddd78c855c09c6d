/*
 * Guards src/config.c, how plaza is configured: the documented defaults,
 * every flag's PLAZA_<FLAG> environment twin with the flag winning, values
 * out of range or not numbers, and hosts that do not resolve, refused with
 * PZ_CONFIG_ERROR (and the reason on stderr), the range edges and host
 * names accepted, and --help / --version answering PZ_CONFIG_EXIT with the
 * text on stdout, TLS paths only in pairs. Each test starts from an
 * environment without PLAZA_* variables.
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
#include "log.h"

extern char **environ;

static void clear_plaza_env(void) {
  for (;;) {
    char **e = environ;
    while (*e && strncmp(*e, "PLAZA_", 6) != 0)
      e++;
    if (!*e)
      return;
    char name[128];
    size_t n = strcspn(*e, "=");
    if (n >= sizeof(name))
      n = sizeof(name) - 1;
    memcpy(name, *e, n);
    name[n] = 0;
    unsetenv(name);
  }
}

static int clean_env(void **state) {
  clear_plaza_env();
  return 0;
}

/* ---- capturing stdout / stderr ------------------------------------------ */

typedef struct capture {
  int fd, saved;
  FILE *tmp;
} capture_t;

static void capture_begin(capture_t *c, int fd) {
  fflush(stdout);
  fflush(stderr);
  c->fd = fd;
  c->tmp = tmpfile();
  assert_non_null(c->tmp);
  c->saved = dup(fd);
  assert_true(c->saved >= 0);
  assert_true(dup2(fileno(c->tmp), fd) >= 0);
}

/* Returns what was written (caller frees). */
static char *capture_end(capture_t *c) {
  fflush(stdout);
  fflush(stderr);
  assert_true(dup2(c->saved, c->fd) >= 0);
  close(c->saved);
  long n = ftell(c->tmp);
  if (n < 0)
    n = 0;
  char *buf = calloc(1, (size_t)n + 1);
  assert_non_null(buf);
  rewind(c->tmp);
  size_t got = fread(buf, 1, (size_t)n, c->tmp);
  buf[got] = 0;
  fclose(c->tmp);
  return buf;
}

/* Runs pz_config_load on the given arguments (after "plaza"). */
#define LOAD(cfg, ...)                                                         \
  load_args(cfg, (const char *[]){"plaza", __VA_ARGS__, NULL})

static int load_args(pz_config_t *cfg, const char **args) {
  char *argv[32];
  int argc = 0;
  while (args[argc]) {
    argv[argc] = (char *)args[argc];
    argc++;
  }
  argv[argc] = NULL;
  return pz_config_load(cfg, argc, argv);
}

/* Loads with stderr captured; returns the result, *err what was said. */
static int load_quiet(pz_config_t *cfg, const char **args, char **err) {
  capture_t c;
  capture_begin(&c, STDERR_FILENO);
  int r = load_args(cfg, args);
  char *text = capture_end(&c);
  if (err)
    *err = text;
  else
    free(text);
  return r;
}

static void test_defaults(void **state) {
  pz_config_t cfg;
  memset(&cfg, 0x5a, sizeof(cfg));
  char *argv[] = {"plaza", NULL};
  assert_int_equal(pz_config_load(&cfg, 1, argv), PZ_CONFIG_OK);
  assert_string_equal(cfg.host, "0.0.0.0");
  assert_int_equal(cfg.port, 8080);
  assert_in_range(cfg.workers, 1, PZ_MAX_WORKERS);
  assert_int_equal(cfg.tick_hz, 30);
  assert_int_equal(cfg.max_message, 16384);
  assert_float_equal(cfg.move_rate, 60, 0);
  assert_float_equal(cfg.chat_rate, 5, 0);
  assert_float_equal(cfg.chat_burst, 10, 0);
  assert_int_equal(cfg.abuse_limit, 100);
  assert_int_equal(cfg.malformed_limit, 10);
  assert_int_equal(cfg.hello_timeout_ms, 10000);
  assert_int_equal(cfg.resume_grace_ms, 30000);
  assert_int_equal(cfg.room_max_members, 1000);
  assert_int_equal(cfg.max_connections, 100000);
  assert_int_equal(cfg.max_outbound, 1 << 20);
  assert_int_equal(cfg.sndbuf, 0);
  assert_float_equal(cfg.max_speed, 50, 0);
  assert_float_equal(cfg.bounds, 10000, 0);
  assert_int_equal(cfg.node_id, UINT32_MAX); /* main picks one */
  assert_int_equal(cfg.log_level, PZ_LOG_INFO);
}

static void test_flags(void **state) {
  pz_config_t cfg;
  assert_int_equal(LOAD(&cfg, "--port", "9000", "--tick-hz=60", "--host",
                        "127.0.0.1", "--max-speed", "12.5", "--log-level",
                        "debug", "--node-id", "32767", "--workers", "3"),
                   PZ_CONFIG_OK);
  assert_int_equal(cfg.port, 9000);
  assert_int_equal(cfg.tick_hz, 60);
  assert_string_equal(cfg.host, "127.0.0.1");
  assert_float_equal(cfg.max_speed, 12.5, 0);
  assert_int_equal(cfg.log_level, PZ_LOG_DEBUG);
  assert_int_equal(cfg.node_id, 32767);
  assert_int_equal(cfg.workers, 3);
  /* Untouched ones keep their defaults. */
  assert_int_equal(cfg.max_message, 16384);
  /* The last of a repeated flag wins. */
  assert_int_equal(LOAD(&cfg, "--tick-hz", "10", "--tick-hz", "20"),
                   PZ_CONFIG_OK);
  assert_int_equal(cfg.tick_hz, 20);
}

static void test_env_twin_and_flag_wins(void **state) {
  pz_config_t cfg;
  setenv("PLAZA_TICK_HZ", "20", 1);
  assert_int_equal(LOAD(&cfg, "--port", "1"), PZ_CONFIG_OK);
  assert_int_equal(cfg.tick_hz, 20);
  assert_int_equal(LOAD(&cfg, "--tick-hz", "60"), PZ_CONFIG_OK);
  assert_int_equal(cfg.tick_hz, 60);
  assert_int_equal(LOAD(&cfg, "--tick-hz=45"), PZ_CONFIG_OK);
  assert_int_equal(cfg.tick_hz, 45);

  /* Dashes become underscores; every kind of value. */
  setenv("PLAZA_MAX_SPEED", "7.25", 1);
  setenv("PLAZA_ROOM_MAX_MEMBERS", "2", 1);
  setenv("PLAZA_HOST", "::1", 1);
  setenv("PLAZA_LOG_LEVEL", "warn", 1);
  setenv("PLAZA_RESUME_GRACE_MS", "0", 1);
  assert_int_equal(LOAD(&cfg, "--port", "1"), PZ_CONFIG_OK);
  assert_float_equal(cfg.max_speed, 7.25, 0);
  assert_int_equal(cfg.room_max_members, 2);
  assert_string_equal(cfg.host, "::1");
  assert_int_equal(cfg.log_level, PZ_LOG_WARN);
  assert_int_equal(cfg.resume_grace_ms, 0);
  assert_int_equal(cfg.tick_hz, 20);

  /* An empty variable is as good as unset. */
  setenv("PLAZA_TICK_HZ", "", 1);
  assert_int_equal(LOAD(&cfg, "--port", "1"), PZ_CONFIG_OK);
  assert_int_equal(cfg.tick_hz, 30);
  clear_plaza_env();
}

static void test_bad_values_refused(void **state) {
  static const char *const bad[][2] = {
      {"--tick-hz", "0"},
      {"--tick-hz", "1001"},
      {"--tick-hz", "abc"},
      {"--tick-hz", "1.5"},
      {"--tick-hz", ""},
      {"--tick-hz", "30x"},
      {"--tick-hz", "-5"},
      {"--tick-hz", "nan"},
      {"--port", "65536"},
      {"--port", "-1"},
      {"--port", "99999999999"},
      {"--workers", "0"},
      {"--workers", "65"},
      {"--max-message", "63"},
      {"--max-speed", "-1"},
      {"--max-speed", "nan"},
      {"--max-speed", "inf"},
      {"--bounds", "1e31"},
      {"--move-rate", "0"},
      {"--chat-burst", "0.5"},
      {"--node-id", "32768"},
      {"--node-id", "1e10"},
      {"--room-max-members", "0"},
      {"--max-outbound", "1023"},
      {"--log-level", "loud"},
      {"--log-level", "INFO"},
      {"--log-level", ""},
      {"--sndbuf", "2147483648"},
      {"--abuse-limit", "4294967296"},
      {"--host", "no-such-host.invalid"},
      {"--host", ""},
  };
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    pz_config_t cfg;
    char *err;
    const char *args[] = {"plaza", bad[k][0], bad[k][1], NULL};
    int r = load_quiet(&cfg, args, &err);
    if (r != PZ_CONFIG_ERROR)
      fail_msg("%s '%s': %d, want PZ_CONFIG_ERROR", bad[k][0], bad[k][1], r);
    /* The reason names the flag. */
    if (!strstr(err, bad[k][0] + 2))
      fail_msg("%s '%s': stderr does not name it: %s", bad[k][0], bad[k][1],
               err);
    free(err);
  }
  /* A host that does not fit. */
  char host[100];
  memset(host, 'h', sizeof(host) - 1);
  host[sizeof(host) - 1] = 0;
  pz_config_t cfg;
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--host", host, NULL}, NULL),
      PZ_CONFIG_ERROR);
}

static void test_bad_env_refused(void **state) {
  pz_config_t cfg;
  char *err;
  setenv("PLAZA_TICK_HZ", "fast", 1);
  assert_int_equal(load_quiet(&cfg, (const char *[]){"plaza", NULL}, &err),
                   PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "PLAZA_TICK_HZ"));
  free(err);
  setenv("PLAZA_TICK_HZ", "30", 1);
  setenv("PLAZA_PORT", "70000", 1);
  assert_int_equal(load_quiet(&cfg, (const char *[]){"plaza", NULL}, NULL),
                   PZ_CONFIG_ERROR);
  clear_plaza_env();
}

static void test_range_edges_accepted(void **state) {
  static const char *const ok[][2] = {
      {"--tick-hz", "1"},      {"--tick-hz", "1000"},
      {"--port", "0"},         {"--port", "65535"},
      {"--workers", "1"},      {"--workers", "64"},
      {"--node-id", "0"},      {"--node-id", "32767"},
      {"--max-speed", "0"},    {"--bounds", "0"},
      {"--max-message", "64"}, {"--malformed-limit", "0"},
      {"--chat-rate", "0.01"}, {"--log-level", "error"},
      {"--host", "localhost"}, {"--host", "::"},
  };
  for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
    pz_config_t cfg;
    const char *args[] = {"plaza", ok[k][0], ok[k][1], NULL};
    int r = load_quiet(&cfg, args, NULL);
    if (r != PZ_CONFIG_OK)
      fail_msg("%s '%s': %d, want PZ_CONFIG_OK", ok[k][0], ok[k][1], r);
  }
}

static void test_unknown_and_stray_arguments(void **state) {
  pz_config_t cfg;
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--nope", NULL}, NULL),
      PZ_CONFIG_ERROR);
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "-x", NULL}, NULL),
      PZ_CONFIG_ERROR);
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--tick-hz", NULL}, NULL),
      PZ_CONFIG_ERROR);
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "stray", "--port", "1", NULL},
                 NULL),
      PZ_CONFIG_ERROR);
  /* A refused run does not leave state behind for the next. */
  assert_int_equal(LOAD(&cfg, "--port", "2"), PZ_CONFIG_OK);
  assert_int_equal(cfg.port, 2);
}

/* TLS takes a certificate and its key, from flags or the environment, as
 * long paths as the system allows; one without the other is refused. */
static void test_tls_paths_go_together(void **state) {
  pz_config_t cfg;
  assert_int_equal(load_args(&cfg, (const char *[]){"plaza", NULL}),
                   PZ_CONFIG_OK);
  assert_string_equal(cfg.tls_cert, "");
  assert_string_equal(cfg.tls_key, "");
  static char longpath[300];
  memset(longpath, 'p', sizeof(longpath) - 1);
  longpath[0] = '/';
  setenv("PLAZA_TLS_KEY", "/etc/plaza/key.pem", 1);
  assert_int_equal(LOAD(&cfg, "--tls-cert", longpath), PZ_CONFIG_OK);
  assert_string_equal(cfg.tls_cert, longpath);
  assert_string_equal(cfg.tls_key, "/etc/plaza/key.pem");
  unsetenv("PLAZA_TLS_KEY");
  char *err;
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--tls-cert", "c.pem", NULL},
                 &err),
      PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "--tls-key"));
  free(err);
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--tls-key", "k.pem", NULL},
                 NULL),
      PZ_CONFIG_ERROR);
}

/* Behind proxies: --proxy-protocol alone means on (env: on/off words),
 * --trusted-proxies is parsed into prefixes and refused when malformed,
 * and the PROXY protocol without trusted proxies is refused at start. */
static void test_proxy_flags(void **state) {
  pz_config_t cfg;
  assert_int_equal(load_args(&cfg, (const char *[]){"plaza", NULL}),
                   PZ_CONFIG_OK);
  assert_false(cfg.proxy_protocol);
  assert_int_equal(cfg.trusted_proxies.n, 0);
  assert_true(cfg.connect_rate == 0 && cfg.connect_burst == 20);
  assert_int_equal(cfg.drain_delay_ms, 0);

  assert_int_equal(LOAD(&cfg, "--proxy-protocol", "--trusted-proxies",
                        "10.0.0.0/8, 127.0.0.2,fd00::/8", "--drain-delay-ms",
                        "5000", "--connect-rate", "2.5"),
                   PZ_CONFIG_OK);
  assert_true(cfg.proxy_protocol);
  assert_int_equal(cfg.trusted_proxies.n, 3);
  assert_int_equal(cfg.trusted_proxies.items[0].bits, 8);
  assert_int_equal(cfg.trusted_proxies.items[1].bits, 32);
  assert_int_equal(cfg.trusted_proxies.items[2].net.family, 6);
  assert_int_equal(cfg.drain_delay_ms, 5000);
  assert_true(cfg.connect_rate == 2.5);

  setenv("PLAZA_PROXY_PROTOCOL", "yes", 1);
  setenv("PLAZA_TRUSTED_PROXIES", "192.168.0.0/16", 1);
  assert_int_equal(LOAD(&cfg, "--port", "1"), PZ_CONFIG_OK);
  assert_true(cfg.proxy_protocol);
  assert_int_equal(cfg.trusted_proxies.n, 1);
  assert_int_equal(LOAD(&cfg, "--proxy-protocol=off"), PZ_CONFIG_OK);
  assert_false(cfg.proxy_protocol);
  assert_int_equal(LOAD(&cfg, "--proxy-protocol", "off", "--port", "3"),
                   PZ_CONFIG_OK);
  assert_false(cfg.proxy_protocol);
  assert_int_equal(cfg.port, 3);
  assert_int_equal(LOAD(&cfg, "--proxy-protocol", "--port", "4"), PZ_CONFIG_OK);
  assert_true(cfg.proxy_protocol);
  assert_int_equal(cfg.port, 4);
  setenv("PLAZA_PROXY_PROTOCOL", "maybe", 1);
  char *err;
  assert_int_equal(load_quiet(&cfg, (const char *[]){"plaza", NULL}, &err),
                   PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "PLAZA_PROXY_PROTOCOL"));
  free(err);
  unsetenv("PLAZA_PROXY_PROTOCOL");
  unsetenv("PLAZA_TRUSTED_PROXIES");

  static const char *bad[] = {"10.0.0.1/8", "10.0.0.0/33", "fd00::/129",
                              "10.0.0.0/",  "proxy.local", "10.0.0.0/8x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (load_quiet(&cfg,
                   (const char *[]){"plaza", "--trusted-proxies", bad[i], NULL},
                   &err) != PZ_CONFIG_ERROR)
      fail_msg("accepted --trusted-proxies %s", bad[i]);
    assert_non_null(strstr(err, "--trusted-proxies"));
    free(err);
  }
  /* A word after the switch is its value, a bad one named as such. */
  assert_int_equal(
      load_quiet(&cfg,
                 (const char *[]){"plaza", "--proxy-protocol", "maybe", NULL},
                 &err),
      PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "bad value 'maybe' for --proxy-protocol"));
  free(err);
  assert_int_equal(
      load_quiet(&cfg, (const char *[]){"plaza", "--proxy-protocol", NULL},
                 &err),
      PZ_CONFIG_ERROR);
  assert_non_null(strstr(err, "--trusted-proxies"));
  free(err);
}

static void test_help_and_version_exit(void **state) {
  pz_config_t cfg;
  capture_t c;
  capture_begin(&c, STDOUT_FILENO);
  int r = LOAD(&cfg, "--help");
  char *out = capture_end(&c);
  assert_int_equal(r, PZ_CONFIG_EXIT);
  assert_non_null(strstr(out, "--tick-hz"));
  assert_non_null(strstr(out, "PLAZA_TICK_HZ"));
  assert_non_null(strstr(out, "PLAZA_ROOM_MAX_MEMBERS"));
  assert_non_null(strstr(out, "--help"));
  free(out);

  capture_begin(&c, STDOUT_FILENO);
  r = LOAD(&cfg, "-h");
  free(capture_end(&c));
  assert_int_equal(r, PZ_CONFIG_EXIT);

  /* --help wins over the flags before it and is not an error. */
  capture_begin(&c, STDOUT_FILENO);
  r = LOAD(&cfg, "--port", "1", "--help");
  free(capture_end(&c));
  assert_int_equal(r, PZ_CONFIG_EXIT);

  capture_begin(&c, STDOUT_FILENO);
  r = LOAD(&cfg, "--version");
  out = capture_end(&c);
  assert_int_equal(r, PZ_CONFIG_EXIT);
  assert_non_null(strstr(out, "plaza " PZ_VERSION));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, clean_env, clean_env)
      T(test_defaults),
      T(test_flags),
      T(test_env_twin_and_flag_wins),
      T(test_bad_values_refused),
      T(test_bad_env_refused),
      T(test_range_edges_accepted),
      T(test_unknown_and_stray_arguments),
      T(test_tls_paths_go_together),
      T(test_proxy_flags),
      T(test_help_and_version_exit),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
