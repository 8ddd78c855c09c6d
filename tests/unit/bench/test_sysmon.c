/*
 * Unit tests of the bench's server sampler (bench/sysmon.c) and of the
 * write-syscall figures it feeds (bench/report.c): /proc/PID/io parsing, a
 * real sample of this process, the window and ramp differences, the
 * per-client-second rate and the JSON fields (bench/CONTRACT.md).
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
#include "../../../bench/report.c"
#include "../../../bench/stats.c"
#include "../../../bench/sysmon.c"

static void test_parse_io(void **state) {
  (void)state;
  const char *io = "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 1234567890123\n"
                   "read_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
  int64_t r, w;
  pz_sysmon_parse_io(io, &r, &w);
  assert_int_equal(r, 10);
  assert_int_equal(w, 1234567890123LL);
  /* no trailing newline, other order */
  pz_sysmon_parse_io("syscw: 7\nsyscr: 3", &r, &w);
  assert_int_equal(r, 3);
  assert_int_equal(w, 7);
  /* missing lines stay unknown */
  pz_sysmon_parse_io("rchar: 1\nwchar: 2\n", &r, &w);
  assert_int_equal(r, -1);
  assert_int_equal(w, -1);
  pz_sysmon_parse_io("", &r, &w);
  assert_int_equal(r, -1);
  assert_int_equal(w, -1);
}

static void test_sample_counts_writes(void **state) {
  (void)state;
  FILE *devnull = fopen("/dev/null", "w");
  assert_non_null(devnull);
  int fd = fileno(devnull);
  pz_proc_sample_t a = pz_sysmon_proc(getpid());
  assert_true(a.ok);
  if (a.syscw < 0) { /* a kernel without task I/O accounting */
    fclose(devnull);
    skip();
  }
  for (int i = 0; i < 10; i++)
    assert_int_equal(write(fd, "x", 1), 1);
  pz_proc_sample_t b = pz_sysmon_proc(getpid());
  fclose(devnull);
  assert_true(b.syscw - a.syscw >= 10);
  assert_true(b.syscr > a.syscr); /* the sampler's own reads of /proc */
  pz_proc_sample_t gone = pz_sysmon_proc(-1);
  assert_false(gone.ok);
  assert_int_equal(gone.syscw, -1);
  assert_int_equal(gone.syscr, -1);
}

static pz_bench_run_t *run_with_io(int64_t w0, int64_t w1, int64_t w2) {
  pz_bench_run_t *run = calloc(1, sizeof(*run));
  pz_result_reset(&run->r);
  run->clients = 1000;
  run->r.step.conn_made = 1000;
  run->r.wall_s = 20;
  run->has_server = true;
  run->server_pid = 42;
  pz_proc_sample_t *s[3] = {&run->s_ramp0, &run->s_win0, &run->s_win1};
  int64_t w[3] = {w0, w1, w2};
  for (int i = 0; i < 3; i++) {
    s[i]->ok = true;
    s[i]->rss_kb = 1000;
    s[i]->syscw = w[i];
    s[i]->syscr = w[i] < 0 ? -1 : 10 * i;
  }
  return run;
}

static void test_figures(void **state) {
  (void)state;
  pz_bench_opts_t o;
  pz_bench_fig_t f;
  memset(&o, 0, sizeof(o));

  pz_bench_run_t *run = run_with_io(100, 5100, 405100);
  pz_report_figures(&o, run, &f);
  assert_int_equal(f.server_syscw, 400000);
  assert_int_equal(f.server_syscr, 10);
  assert_int_equal(f.server_syscw_ramp, 5000);
  /* 400,000 writes / (1,000 clients x 20 s) */
  assert_true(f.server_syscw_per_client_s > 19.999 &&
              f.server_syscw_per_client_s < 20.001);

  /* per client present: fewer made than asked for */
  run->r.step.conn_made = 500;
  pz_report_figures(&o, run, &f);
  assert_true(f.server_syscw_per_client_s > 39.999 &&
              f.server_syscw_per_client_s < 40.001);
  free(run);

  /* /proc/PID/io unreadable at the end: unknown, not a difference */
  run = run_with_io(100, 5100, -1);
  pz_report_figures(&o, run, &f);
  assert_true(f.server_syscw < 0);
  assert_true(f.server_syscw_per_client_s < 0);
  assert_int_equal(f.server_syscw_ramp, 5000);
  /* no server at all */
  run->has_server = false;
  pz_report_figures(&o, run, &f);
  assert_true(f.server_syscw < 0 && f.server_syscw_ramp < 0);
  free(run);
}

static void test_json_fields(void **state) {
  (void)state;
  pz_bench_opts_t o;
  memset(&o, 0, sizeof(o));
  o.url = "ws://127.0.0.1:1/ws";
  o.proto_name = "plaza";
  o.scenario = "social";
  char path[] = "/tmp/pz-test-sysmon-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);

  pz_bench_run_t *run = run_with_io(100, 5100, 405100);
  assert_int_equal(pz_report_json(path, &o, run, 1, false, 0, ""), 0);
  char buf[16384];
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "\"server_write_syscalls_per_client_s\": 20,"));
  assert_non_null(strstr(buf, "\"syscr_before\": 0, \"syscr_after_connect\": "
                              "10, \"syscr_end\": 20, \"syscw_before\": 100, "
                              "\"syscw_after_connect\": 5100, \"syscw_end\": "
                              "405100, \"syscr_window\": 10, \"syscw_window\": "
                              "400000, \"syscw_ramp\": 5000}"));
  free(run);

  run = run_with_io(-1, -1, -1);
  assert_int_equal(pz_report_json(path, &o, run, 1, false, 0, ""), 0);
  f = fopen(path, "r");
  assert_non_null(f);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "\"server_write_syscalls_per_client_s\": null,"));
  assert_non_null(strstr(buf, "\"syscw_end\": null"));
  assert_non_null(strstr(buf, "\"syscw_window\": null"));
  free(run);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_io),
      cmocka_unit_test(test_sample_counts_writes),
      cmocka_unit_test(test_figures),
      cmocka_unit_test(test_json_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
