/*
 * Unit tests of plaza-bench driving several nodes (bench/CONTRACT.md):
 * --url lists and the round robin of clients over them, --server-pid
 * lists with labels and the sum of their samples, the Redis INFO parser,
 * window differences and URL handling (bench/rstats.c), and the JSON
 * fields of all that (bench/report.c).
 */
#define _GNU_SOURCE /* RUSAGE_THREAD in sysmon.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../bench/hist.c"
#include "../../../bench/opts.c"
#include "../../../bench/report.c"
#include "../../../bench/rstats.c"
#include "../../../bench/stats.c"
#include "../../../bench/sysmon.c"

/* opts.c points at the protocols; their code is not under test here. */
const pz_bench_proto_t pz_bench_proto_plaza = {.name = "plaza"};
const pz_bench_proto_t pz_bench_proto_socketio = {.name = "socketio"};

static int parse(pz_bench_opts_t *o, const char **args) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = "plaza-bench";
  for (; *args; args++)
    argv[argc++] = (char *)*args;
  /* bad values print the usage on stderr: keep the test output short */
  FILE *saved = stderr;
  stderr = fopen("/dev/null", "w");
  int r = pz_bench_opts_parse(o, argc, argv);
  fclose(stderr);
  stderr = saved;
  return r;
}

static void test_urls(void **state) {
  (void)state;
  pz_bench_opts_t o;

  /* the default: one URL, per protocol */
  const char *a0[] = {NULL};
  assert_int_equal(parse(&o, a0), 0);
  assert_int_equal(o.n_urls, 1);
  assert_string_equal(o.url, "ws://127.0.0.1:8080/ws");
  assert_string_equal(o.url_display, o.url);
  pz_bench_opts_dispose(&o);

  /* comma-separated and repeated, in order */
  const char *a1[] = {"--url", "ws://127.0.0.1:1/ws,ws://127.0.0.1:2/ws",
                      "--url", "ws://127.0.0.1:3/ws", NULL};
  assert_int_equal(parse(&o, a1), 0);
  assert_int_equal(o.n_urls, 3);
  assert_string_equal(o.urls[0], "ws://127.0.0.1:1/ws");
  assert_string_equal(o.urls[1], "ws://127.0.0.1:2/ws");
  assert_string_equal(o.urls[2], "ws://127.0.0.1:3/ws");
  assert_string_equal(o.url, o.urls[0]);
  assert_string_equal(o.url_display, "ws://127.0.0.1:1/ws,ws://127.0.0.1:2/ws,"
                                     "ws://127.0.0.1:3/ws");
  pz_bench_opts_dispose(&o);

  /* Socket.io URLs keep their query */
  const char *a2[] = {"--proto", "socketio", "--url",
                      "ws://127.0.0.1:1/socket.io/?EIO=4&transport=websocket,"
                      "ws://127.0.0.1:2/socket.io/?EIO=4&transport=websocket",
                      NULL};
  assert_int_equal(parse(&o, a2), 0);
  assert_int_equal(o.n_urls, 2);
  assert_string_equal(o.urls[1],
                      "ws://127.0.0.1:2/socket.io/?EIO=4&transport=websocket");
  pz_bench_opts_dispose(&o);

  /* an empty item or a bad URL is refused */
  const char *b1[] = {"--url", "ws://127.0.0.1:1/ws,", NULL};
  assert_int_equal(parse(&o, b1), -1);
  pz_bench_opts_dispose(&o);
  const char *b2[] = {"--url", "ws://127.0.0.1:1/ws,,ws://127.0.0.1:2/ws",
                      NULL};
  assert_int_equal(parse(&o, b2), -1);
  pz_bench_opts_dispose(&o);
  const char *b3[] = {"--url", "ws://127.0.0.1:1/ws,http://x/", NULL};
  assert_int_equal(parse(&o, b3), -1);
  pz_bench_opts_dispose(&o);
}

static void test_round_robin(void **state) {
  (void)state;
  pz_bench_opts_t o;
  const char *a[] = {"--url", "ws://127.0.0.1:1/ws,ws://127.0.0.1:2/ws",
                     "--room-size", "50", NULL};
  assert_int_equal(parse(&o, a), 0);
  /* by global client index */
  assert_int_equal(pz_bench_node_of(&o, 0), 0);
  assert_int_equal(pz_bench_node_of(&o, 1), 1);
  assert_int_equal(pz_bench_node_of(&o, 2), 0);
  assert_int_equal(pz_bench_node_of(&o, 999), 1);
  /* every room of 50 has 25 members on each node, and its 5 sampled
   * members (slots 0..4) on both */
  for (uint32_t room = 0; room < 20; room++) {
    uint32_t n[2] = {0, 0}, sampled[2] = {0, 0};
    for (uint32_t slot = 0; slot < 50; slot++) {
      uint32_t node = pz_bench_node_of(&o, room * 50 + slot);
      n[node]++;
      if (slot < 5)
        sampled[node]++;
    }
    assert_int_equal(n[0], 25);
    assert_int_equal(n[1], 25);
    assert_true(sampled[0] >= 2 && sampled[1] >= 2);
  }
  pz_bench_opts_dispose(&o);

  /* one URL: node 0 always */
  const char *b[] = {NULL};
  assert_int_equal(parse(&o, b), 0);
  assert_int_equal(pz_bench_node_of(&o, 7), 0);
  pz_bench_opts_dispose(&o);
}

static void test_pids(void **state) {
  (void)state;
  pz_bench_opts_t o;
  const char *a[] = {"--server-pid", "11,22", "--server-pid", "redis=33", NULL};
  assert_int_equal(parse(&o, a), 0);
  assert_int_equal(o.n_pids, 3);
  assert_int_equal(o.server_pid, 11);
  assert_int_equal(o.server_pids[0], 11);
  assert_int_equal(o.server_pids[1], 22);
  assert_int_equal(o.server_pids[2], 33);
  assert_string_equal(o.server_labels[0], "");
  assert_string_equal(o.server_labels[2], "redis");
  pz_bench_opts_dispose(&o);

  const char *bad[][3] = {
      {"--server-pid", "0", NULL},       {"--server-pid", "12,", NULL},
      {"--server-pid", "=12", NULL},     {"--server-pid", "a b=12", NULL},
      {"--server-pid", "redis=x", NULL}, {"--server-pid", "1.5", NULL}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(parse(&o, bad[i]), -1);
    pz_bench_opts_dispose(&o);
  }
  /* at most PZ_BENCH_MAX_PIDS */
  memset(&o, 0, sizeof(o));
  for (int i = 0; i < PZ_BENCH_MAX_PIDS; i++)
    assert_int_equal(pz_bench_opts_add_pids(&o, "5"), 0);
  assert_int_equal(pz_bench_opts_add_pids(&o, "5"), -1);
}

static void test_sum(void **state) {
  (void)state;
  pz_proc_sample_t s[3] = {
      {.ok = true, .cpu_s = 1.5, .rss_kb = 100, .syscr = 10, .syscw = 20},
      {.ok = true, .cpu_s = 2.0, .rss_kb = 200, .syscr = 1, .syscw = 2},
      {.ok = true, .cpu_s = 0.25, .rss_kb = 50, .syscr = -1, .syscw = 5},
  };
  pz_proc_sample_t t = pz_sysmon_sum(s, 2);
  assert_true(t.ok);
  assert_true(t.cpu_s > 3.499 && t.cpu_s < 3.501);
  assert_int_equal(t.rss_kb, 300);
  assert_int_equal(t.syscr, 11);
  assert_int_equal(t.syscw, 22);
  /* one unknown figure makes the sum unknown; one gone process, not ok */
  t = pz_sysmon_sum(s, 3);
  assert_true(t.ok);
  assert_int_equal(t.rss_kb, 350);
  assert_int_equal(t.syscr, -1);
  assert_int_equal(t.syscw, 27);
  s[1].ok = false;
  assert_false(pz_sysmon_sum(s, 3).ok);
  assert_false(pz_sysmon_sum(s, 0).ok);
}

static const char INFO_A[] =
    "# Server\r\nredis_version:7.0.15\r\nprocess_id:4242\r\n\r\n"
    "# Stats\r\ntotal_connections_received:3\r\n"
    "total_commands_processed:1000\r\ntotal_net_input_bytes:5000\r\n"
    "total_net_output_bytes:9000\r\n\r\n"
    "# Commandstats\r\n"
    "cmdstat_publish:calls=600,usec=1200,usec_per_call=2.00,"
    "rejected_calls=0,failed_calls=0\r\n"
    "cmdstat_info:calls=2,usec=100,usec_per_call=50.00,rejected_calls=0,"
    "failed_calls=0\r\n"
    "cmdstat_client|setname:calls=4,usec=8,usec_per_call=2.00,"
    "rejected_calls=0,failed_calls=0\r\n";

static const char INFO_B[] =
    "# Server\r\nprocess_id:4242\r\n"
    "# Stats\r\ntotal_commands_processed:2201\r\n"
    "total_net_input_bytes:15000\r\ntotal_net_output_bytes:49000\r\n"
    "# Commandstats\r\n"
    "cmdstat_publish:calls=1600,usec=3200,usec_per_call=2.00\r\n"
    "cmdstat_info:calls=3,usec=150,usec_per_call=50.00\r\n"
    "cmdstat_client|setname:calls=4,usec=8,usec_per_call=2.00\r\n"
    "cmdstat_evalsha:calls=100,usec=900,usec_per_call=9.00\r\n"
    "cmdstat_set:calls=100,usec=100,usec_per_call=1.00\r\n"
    "cmdstat_broken\r\n"
    "cmdstat_nocalls:usec=5\r\n";

static void test_rstats_parse(void **state) {
  (void)state;
  pz_rstats_t *a = malloc(sizeof(*a));
  assert_non_null(a);
  assert_int_equal(pz_rstats_parse(INFO_A, a), 3);
  assert_string_equal(a->cmd[0].name, "publish");
  assert_int_equal(a->cmd[0].calls, 600);
  assert_int_equal(a->cmd[0].usec, 1200);
  assert_string_equal(a->cmd[2].name, "client|setname");
  assert_int_equal(a->total_commands_processed, 1000);
  assert_int_equal(a->net_input_bytes, 5000);
  assert_int_equal(a->net_output_bytes, 9000);
  assert_int_equal(a->process_id, 4242);
  /* nothing known: everything unknown, no commands */
  assert_int_equal(pz_rstats_parse("# Commandstats\n", a), 0);
  assert_int_equal(a->total_commands_processed, -1);
  assert_int_equal(a->process_id, -1);
  assert_int_equal(pz_rstats_parse("", a), 0);
  /* LF only, no trailing newline */
  assert_int_equal(pz_rstats_parse("cmdstat_get:calls=7,usec=1", a), 1);
  assert_int_equal(a->cmd[0].calls, 7);
  free(a);
}

static void test_rstats_diff(void **state) {
  (void)state;
  pz_rstats_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
  pz_redis_fig_t d;
  assert_non_null(a);
  assert_non_null(b);
  pz_rstats_parse(INFO_A, a);
  pz_rstats_parse(INFO_B, b);
  pz_rstats_diff(a, b, 10.0, 1, &d);
  assert_true(d.ok);
  /* publish +1000, evalsha +100, set +100 (new), info +1 - 1 of ours,
   * setname +0 */
  assert_int_equal(d.calls, 1200);
  assert_int_equal(d.usec, 2000 + 900 + 100); /* our own info left out */
  assert_int_equal(d.n_top, 3);
  assert_string_equal(d.top[0].name, "publish");
  assert_int_equal(d.top[0].calls, 1000);
  assert_string_equal(d.top[1].name, "evalsha"); /* ties by name */
  assert_string_equal(d.top[2].name, "set");
  assert_int_equal(d.processed, 1200);
  assert_int_equal(d.net_in, 10000);
  assert_int_equal(d.net_out, 40000);
  assert_int_equal(d.pid, 4242);
  assert_true(d.window_s > 9.99 && d.window_s < 10.01);

  /* a counter that went down (CONFIG RESETSTAT) counts from 0 */
  pz_rstats_diff(b, a, 1.0, 0, &d);
  assert_int_equal(d.calls, 600 + 2); /* setname did not change */
  assert_int_equal(d.net_in, -1);

  /* more commands than the top keeps */
  memset(a, 0, sizeof(*a));
  memset(b, 0, sizeof(*b));
  b->n = 30;
  for (uint32_t i = 0; i < 30; i++) {
    snprintf(b->cmd[i].name, sizeof(b->cmd[i].name), "c%02u", i);
    b->cmd[i].calls = i + 1;
  }
  pz_rstats_diff(a, b, 1.0, 0, &d);
  assert_int_equal(d.n_top, PZ_RSTATS_TOP);
  assert_string_equal(d.top[0].name, "c29");
  assert_int_equal(d.calls, 30 * 31 / 2);
  free(a);
  free(b);
}

static void test_redis_url(void **state) {
  (void)state;
  pz_redis_addr_t a;
  char buf[256];

  assert_int_equal(pz_redis_url_parse("redis://127.0.0.1:6390", &a), 0);
  assert_string_equal(a.host, "127.0.0.1");
  assert_int_equal(a.port, 6390);
  assert_string_equal(a.password, "");
  assert_int_equal(a.db, 0);
  assert_int_equal(pz_redis_url_parse("redis://localhost", &a), 0);
  assert_int_equal(a.port, 6379);
  assert_int_equal(pz_redis_url_parse("redis://:s3cr@t@10.0.0.1:7000/2", &a),
                   0);
  assert_string_equal(a.password, "s3cr@t");
  assert_string_equal(a.user, "");
  assert_string_equal(a.host, "10.0.0.1");
  assert_int_equal(a.db, 2);
  assert_int_equal(pz_redis_url_parse("redis://bob:pw@h:1/", &a), 0);
  assert_string_equal(a.user, "bob");
  assert_string_equal(a.password, "pw");

  const char *bad[] = {"http://h:1",      "redis://",        "redis://h:0",
                       "redis://h:99999", "redis://h:x",     "redis://pw@h:1",
                       "redis://h:1/x",   "redis://h:1?a=b", NULL};
  for (const char **p = bad; *p; p++)
    assert_int_equal(pz_redis_url_parse(*p, &a), -1);

  pz_redis_url_redact("redis://:s3cr@t@10.0.0.1:7000/2", buf, sizeof(buf));
  assert_string_equal(buf, "redis://:***@10.0.0.1:7000/2");
  assert_null(strstr(buf, "s3cr"));
  pz_redis_url_redact("redis://127.0.0.1:6390", buf, sizeof(buf));
  assert_string_equal(buf, "redis://127.0.0.1:6390");
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char *buf = calloc(1, 1 << 16);
  assert_non_null(buf);
  size_t n = fread(buf, 1, (1 << 16) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static void test_json(void **state) {
  (void)state;
  pz_bench_opts_t o;
  const char *args[] = {"--url",
                        "ws://127.0.0.1:1/ws,ws://127.0.0.1:2/ws",
                        "--server-pid",
                        "101,102,redis=103",
                        "--redis-url",
                        "redis://:hush@127.0.0.1:9",
                        NULL};
  assert_int_equal(parse(&o, args), 0);

  pz_bench_run_t *run = calloc(1, sizeof(*run));
  assert_non_null(run);
  pz_result_reset(&run->r);
  run->clients = 100;
  run->r.step.conn_made = 100;
  run->r.wall_s = 10;
  run->has_server = true;
  run->server_pid = 101;
  double cpu0[3] = {1, 2, 3}, cpu1[3] = {3, 5, 3.5};
  for (int i = 0; i < 3; i++) {
    pz_proc_sample_t z = {
        .ok = true, .rss_kb = 1000 * (i + 1), .syscr = 0, .syscw = 0};
    run->p_ramp0[i] = z;
    run->p_win0[i] = z;
    run->p_win0[i].cpu_s = cpu0[i];
    run->p_win1[i] = z;
    run->p_win1[i].cpu_s = cpu1[i];
  }
  run->s_ramp0 = pz_sysmon_sum(run->p_ramp0, 3);
  run->s_win0 = pz_sysmon_sum(run->p_win0, 3);
  run->s_win1 = pz_sysmon_sum(run->p_win1, 3);
  for (int i = 0; i < 10; i++)
    pz_hist_record(&run->r.move_same, 10000);
  for (int i = 0; i < 10; i++)
    pz_hist_record(&run->r.move_cross, 40000);
  pz_hist_merge(&run->r.move, &run->r.move_same);
  pz_hist_merge(&run->r.move, &run->r.move_cross);
  run->has_redis = true;
  pz_rstats_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
  pz_rstats_parse(INFO_A, a);
  pz_rstats_parse(INFO_B, b);
  pz_rstats_diff(a, b, 10.0, 1, &run->redis);
  free(a);
  free(b);

  char path[] = "/tmp/pz-test-multinode-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(pz_report_json(path, &o, run, 1, false, 0, ""), 0);
  char *j = read_all(path);
  assert_non_null(strstr(j, "\"url\": \"ws://127.0.0.1:1/ws,ws://127.0.0.1:2/"
                            "ws\", \"urls\": [\"ws://127.0.0.1:1/ws\", "
                            "\"ws://127.0.0.1:2/ws\"]"));
  assert_non_null(strstr(j, "\"move_same_node\": {\"samples\": 10, "));
  assert_non_null(strstr(j, "\"move_cross_node\": {\"samples\": 10, "));
  /* summed: (2 + 3 + 0.5) s over 10 s; per pid too */
  assert_non_null(strstr(j, "\"server\": {\"pid\": 101, \"pids\": [101, 102, "
                            "103], \"per_pid\": ["));
  assert_non_null(strstr(j, "\"cpu_pct\": 55, \"cpu_s\": 5.5,"));
  assert_non_null(strstr(j, "{\"pid\": 101, \"label\": null, \"cpu_pct\": 20, "
                            "\"cpu_s\": 2, \"rss_kb_before\": 1000"));
  assert_non_null(strstr(j, "{\"pid\": 103, \"label\": \"redis\", "
                            "\"cpu_pct\": 5, \"cpu_s\": 0.5,"));
  assert_non_null(strstr(j, "\"rss_kb_before\": 6000"));
  /* redis: the password never shows */
  assert_null(strstr(j, "hush"));
  assert_non_null(strstr(j,
                         "\"redis\": {\"url\": \"redis://:***@127.0.0.1:9\", "
                         "\"ok\": true, \"error\": null, \"window_s\": 10, "
                         "\"commands\": 1200, \"commands_per_s\": 120, "
                         "\"processed_per_s\": 120,"));
  assert_non_null(strstr(j, "\"top\": [{\"cmd\": \"publish\", \"calls\": 1000, "
                            "\"per_s\": 100, \"usec\": 2000}, "));
  free(j);

  /* a Redis that could not be sampled: ok false and the reason */
  memset(&run->redis, 0, sizeof(run->redis));
  snprintf(run->redis.error, sizeof(run->redis.error), "cannot connect");
  assert_int_equal(pz_report_json(path, &o, run, 1, false, 0, ""), 0);
  j = read_all(path);
  assert_non_null(strstr(
      j, "\"redis\": {\"url\": \"redis://:***@127.0.0.1:9\", \"ok\": false, "
         "\"error\": \"cannot connect\"},"));
  free(j);

  /* without --redis-url: null */
  run->has_redis = false;
  assert_int_equal(pz_report_json(path, &o, run, 1, false, 0, ""), 0);
  j = read_all(path);
  assert_non_null(strstr(j, "\"redis\": null,"));
  free(j);

  /* the table shows the split and every pid */
  FILE *t = fopen(path, "w");
  assert_non_null(t);
  run->has_redis = true;
  pz_rstats_t *c = calloc(2, sizeof(*c));
  pz_rstats_parse(INFO_A, &c[0]);
  pz_rstats_parse(INFO_B, &c[1]);
  pz_rstats_diff(&c[0], &c[1], 10.0, 1, &run->redis);
  free(c);
  pz_report_table(t, &o, run);
  fclose(t);
  j = read_all(path);
  assert_non_null(strstr(j, "2 nodes: client i connects to URL i mod 2"));
  assert_non_null(strstr(j, " same node"));
  assert_non_null(strstr(j, " cross"));
  assert_non_null(strstr(j, "pid 103      redis    cpu 5.0% of a core"));
  assert_non_null(strstr(j, "redis              120 commands/s"));
  assert_non_null(strstr(j, "top: publish 100/s evalsha 10/s set 10/s"));
  free(j);
  unlink(path);
  free(run);
  pz_bench_opts_dispose(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urls),         cmocka_unit_test(test_round_robin),
      cmocka_unit_test(test_pids),         cmocka_unit_test(test_sum),
      cmocka_unit_test(test_rstats_parse), cmocka_unit_test(test_rstats_diff),
      cmocka_unit_test(test_redis_url),    cmocka_unit_test(test_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
