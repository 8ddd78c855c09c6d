/*
 * The figures of a run as a person reads them (a table on stdout) and as
 * `make bench` reads them (JSON, bench/CONTRACT.md: fields may be added,
 * never renamed).
 */
#ifndef PZ_BENCH_REPORT_H
#define PZ_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "opts.h"
#include "rstats.h"
#include "stats.h"
#include "sysmon.h"

/* One run: a plain run, or one step of --find-capacity. */
typedef struct pz_bench_run {
  uint32_t clients; /* simulated clients of this run */
  pz_bench_result_t r;
  pz_bench_counters_t final_close; /* the closes at the end (last run) */
  bool has_final_close;
  bool has_server;
  int server_pid; /* the first */
  /* summed over every --server-pid (pz_sysmon_sum) */
  pz_proc_sample_t s_ramp0, s_win0, s_win1;
  /* each pid's own, [o->n_pids] */
  pz_proc_sample_t p_ramp0[PZ_BENCH_MAX_PIDS], p_win0[PZ_BENCH_MAX_PIDS],
      p_win1[PZ_BENCH_MAX_PIDS];
  bool has_redis; /* --redis-url given */
  pz_redis_fig_t redis;
  double self_cpu_s; /* the bench process over the window */
  bool limited;
  char note[768];
} pz_bench_run_t;

/* Derived figures shared by the table and the JSON. */
typedef struct pz_bench_fig {
  uint64_t attempted, made, failed;
  double measured_s;
  double delivered_ratio; /* < 0: no move was expected */
  double in_per_client_s, out_per_client_s;
  double server_cpu_s, server_cpu_pct; /* < 0: unknown */
  /* The server's read and write syscalls over the window and its write
   * syscalls over the ramp (/proc/PID/io), < 0: unknown; writes per
   * client per second of the window, < 0: unknown. */
  int64_t server_syscr, server_syscw, server_syscw_ramp;
  double server_syscw_per_client_s;
  double bench_cpu_pct;
  double skipped_pct, lag_mean_ms;
  /* Entries per STATE / STATE_C (every client), bytes per entry of those
   * the sampled clients read (< 0: none), members named AWAY per client
   * per second. */
  double entries_per_state, bytes_per_entry, aways_per_client_s;
} pz_bench_fig_t;

void pz_report_figures(const pz_bench_opts_t *o, const pz_bench_run_t *run,
                       pz_bench_fig_t *f);

/* Decides run->limited and writes run->note (bench saturated or behind). */
void pz_report_judge(const pz_bench_opts_t *o, pz_bench_run_t *run,
                     const char *extra_note);

void pz_report_table(FILE *out, const pz_bench_opts_t *o,
                     const pz_bench_run_t *run);
void pz_report_capacity_table(FILE *out, const pz_bench_opts_t *o,
                              const pz_bench_run_t *runs, uint32_t n,
                              uint32_t capacity, const char *limited_by);

/* Writes the JSON file; returns 0 or -1 (printed). */
int pz_report_json(const char *path, const pz_bench_opts_t *o,
                   const pz_bench_run_t *runs, uint32_t n, bool capacity_mode,
                   uint32_t capacity, const char *limited_by);

#endif
