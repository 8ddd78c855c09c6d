/*
 * plaza-bench: a load generator for plaza and for the Socket.io peer it
 * replaces (bench/CONTRACT.md, issue 4).
 *
 * The main thread only orchestrates: it parses the flags, starts T worker
 * threads (worker.c, one libuv loop each, rooms split across them), sends
 * each step's schedule to them, samples the server's /proc at the step's
 * phase boundaries, prints a progress line a second from the workers'
 * reports (on stderr), and writes the table and the JSON when they are done. A
 * plain run is one step; --find-capacity runs steps of growing size on the same
 * connections (a step adds clients, never reconnects the others) until one
 * fails its budget.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "mbox.h"
#include "opts.h"
#include "proto.h"
#include "report.h"
#include "rstats.h"
#include "stats.h"
#include "sysmon.h"
#include "worker.h"

#define STEP_LEAD_NS 20000000ull /* from scheduling a step to its ramp */
#define FD_SPARE 64              /* descriptors beside the clients' */

typedef struct bench {
  pz_bench_opts_t o;
  uv_loop_t loop;
  pz_bench_mbox_t inbox;
  pz_bench_worker_t **w;
  uv_timer_t phase_timer;
  uv_signal_t sigint, sigterm;
  uint64_t t0;

  /* progress */
  pz_bench_counters_t *last_cum; /* [threads] */
  uint64_t *present;             /* [threads] */
  uint64_t *rounds;              /* [threads] progress reports received */
  uint64_t printed;              /* rounds printed */
  pz_hist_t *sec;                /* move latency since the last line */
  pz_bench_counters_t prev_total;
  uint64_t prev_t;
  double prev_cpu;

  /* steps */
  uint32_t n_prev, n_cur;
  uint64_t t_ramp0, t_win0, t_win1, t_end;
  int next_phase; /* 0: window start, 1: window end, 2: none */
  pz_bench_run_t *runs;
  uint32_t n_runs, cap_runs;
  pz_bench_result_t *acc;
  uint32_t n_done;
  double cpu_w0;
  pz_redis_sampler_t *redis; /* open from window start to end */
  pz_rstats_t *rs0, *rs1;    /* the INFO samples */
  uint64_t t_rs0;
  bool stopping, interrupted;
  uint32_t n_stopped;
  pz_bench_counters_t final_close;
  uint32_t capacity;
  const char *limited_by;
  char fd_note[256];
} bench_t;

static void start_step(bench_t *b, uint32_t n);

/* ---- progress ------------------------------------------------------------ */

static const char *phase_name(const bench_t *b, uint64_t now) {
  if (b->stopping)
    return "closing";
  if (now < b->t_win0)
    return "ramp";
  if (now < b->t_win1)
    return "window";
  return "drain";
}

/* One line per round of progress reports: printed once every worker has
 * reported, so the rates cover the same second for all. */
static void print_progress(bench_t *b) {
  uint64_t now = uv_hrtime();
  pz_bench_counters_t tot;
  uint64_t present = 0;

  memset(&tot, 0, sizeof(tot));
  for (uint32_t i = 0; i < b->o.threads; i++) {
    pz_counters_add(&tot, &b->last_cum[i]);
    present += b->present[i];
  }
  double dt = (double)(now - b->prev_t) / 1e9;
  double cpu = pz_sysmon_self_cpu();
  uint64_t errs = 0;
  for (int k = 0; k < PZ_ERRK_N; k++)
    errs += tot.errors[k];
  char p99[32] = "-";
  if (b->sec->count)
    snprintf(p99, sizeof(p99), "%.1f ms",
             pz_hist_percentile(b->sec, 99) / 1000);
  char lag[32] = "-";
  uint64_t lag_n = tot.lag_n - b->prev_total.lag_n;
  if (lag_n)
    snprintf(lag, sizeof(lag), "%.1f ms",
             (double)(tot.lag_sum_us - b->prev_total.lag_sum_us) /
                 (double)lag_n / 1000);
  if (b->o.progress && dt > 0) {
    char step[32] = "";
    if (b->o.find_capacity)
      snprintf(step, sizeof(step), " N=%u", b->n_cur);
    fprintf(stderr,
            "[%6.1fs]%s %-6s clients %" PRIu64 "/%u  moves/s %.0f  "
            "STATE entries/s %.0f  p99 %s  errors %" PRIu64 "  failed %" PRIu64
            "  lag %s  bench cpu %.0f%%\n",
            (double)(now - b->t0) / 1e9, step, phase_name(b, now), present,
            b->n_cur, (double)(tot.moves_sent - b->prev_total.moves_sent) / dt,
            (double)(tot.state_entries - b->prev_total.state_entries) / dt, p99,
            errs, tot.conn_failed, lag, 100 * (cpu - b->prev_cpu) / dt);
  }
  pz_hist_reset(b->sec);
  b->prev_total = tot;
  b->prev_t = now;
  b->prev_cpu = cpu;
}

/* ---- ending ------------------------------------------------------------- */

static void stop_all(bench_t *b) {
  if (b->stopping)
    return;
  b->stopping = true;
  uv_timer_stop(&b->phase_timer);
  for (uint32_t i = 0; i < b->o.threads; i++)
    pz_bench_worker_post(b->w[i], pz_bench_msg_new(PZ_MSG_STOP, 0));
}

static void on_signal(uv_signal_t *s, int signum) {
  bench_t *b = s->data;
  fprintf(stderr, "plaza-bench: signal %d: closing the clients\n", signum);
  b->interrupted = true;
  stop_all(b);
}

static void close_main(bench_t *b) {
  uv_close((uv_handle_t *)&b->phase_timer, NULL);
  uv_close((uv_handle_t *)&b->sigint, NULL);
  uv_close((uv_handle_t *)&b->sigterm, NULL);
  pz_bench_mbox_close(&b->inbox);
}

/* ---- steps --------------------------------------------------------------- */

/* Every server pid, then their sum. */
static void sample_server(bench_t *b, pz_proc_sample_t *sum,
                          pz_proc_sample_t *each) {
  if (b->o.n_pids == 0)
    return;
  for (uint32_t i = 0; i < b->o.n_pids; i++)
    each[i] = pz_sysmon_proc(b->o.server_pids[i]);
  *sum = pz_sysmon_sum(each, b->o.n_pids);
}

/* Redis INFO at the window's start (end = false) and end. Blocking, a
 * millisecond or so on loopback; the window's figures go into run. */
static void sample_redis(bench_t *b, pz_bench_run_t *run, bool end) {
  char err[160] = "";
  if (b->o.redis_url == NULL)
    return;
  if (!end) {
    pz_redis_sampler_close(b->redis);
    b->redis = pz_redis_sampler_open(b->o.redis_url, err, sizeof(err));
    if (b->redis != NULL &&
        pz_redis_sampler_take(b->redis, b->rs0, err, sizeof(err)) != 0) {
      pz_redis_sampler_close(b->redis);
      b->redis = NULL;
    }
    b->t_rs0 = uv_hrtime();
    if (b->redis == NULL) {
      snprintf(run->redis.error, sizeof(run->redis.error), "%s", err);
      fprintf(stderr, "plaza-bench: redis: %s\n", err);
    }
    return;
  }
  if (b->redis == NULL)
    return; /* the error is already in run->redis */
  if (pz_redis_sampler_take(b->redis, b->rs1, err, sizeof(err)) == 0) {
    double dt = (double)(uv_hrtime() - b->t_rs0) / 1e9;
    pz_rstats_diff(b->rs0, b->rs1, dt, 1, &run->redis);
  } else {
    snprintf(run->redis.error, sizeof(run->redis.error), "%s", err);
    fprintf(stderr, "plaza-bench: redis: %s\n", err);
  }
  pz_redis_sampler_close(b->redis);
  b->redis = NULL;
}

static void arm_phase(bench_t *b, uint64_t at_ns, int phase);

static void on_phase(uv_timer_t *t) {
  bench_t *b = t->data;
  pz_bench_run_t *run = &b->runs[b->n_runs];
  if (b->next_phase == 0) {
    sample_server(b, &run->s_win0, run->p_win0);
    sample_redis(b, run, false);
    b->cpu_w0 = pz_sysmon_self_cpu();
    arm_phase(b, b->t_win1, 1);
  } else if (b->next_phase == 1) {
    sample_server(b, &run->s_win1, run->p_win1);
    sample_redis(b, run, true);
    run->self_cpu_s = pz_sysmon_self_cpu() - b->cpu_w0;
    b->next_phase = 2;
  }
}

static void arm_phase(bench_t *b, uint64_t at_ns, int phase) {
  uint64_t now = uv_hrtime();
  b->next_phase = phase;
  uv_timer_start(&b->phase_timer, on_phase,
                 at_ns > now ? (at_ns - now + 999999) / 1000000 : 0, 0);
}

static void start_step(bench_t *b, uint32_t n) {
  const pz_bench_opts_t *o = &b->o;
  uint64_t now = uv_hrtime();

  if (b->n_runs == b->cap_runs) {
    b->cap_runs = b->cap_runs ? b->cap_runs * 2 : 8;
    b->runs = realloc(b->runs, b->cap_runs * sizeof(*b->runs));
    if (b->runs == NULL)
      abort();
  }
  pz_bench_run_t *run = &b->runs[b->n_runs];
  memset(run, 0, sizeof(*run));
  run->clients = n;
  run->has_server = o->n_pids > 0;
  run->server_pid = o->server_pid;
  run->has_redis = o->redis_url != NULL;
  b->n_prev = b->n_cur;
  b->n_cur = n;
  b->t_ramp0 = now + STEP_LEAD_NS;
  /* With reused connections a step ramps only the clients it adds. */
  b->t_win0 = b->t_ramp0 + (uint64_t)(o->ramp_s * 1e9);
  b->t_win1 = b->t_win0 + (uint64_t)(o->duration_s * 1e9);
  b->t_end = b->t_win1 + (uint64_t)(o->drain_s * 1e9);
  sample_server(b, &run->s_ramp0, run->p_ramp0);
  pz_result_reset(b->acc);
  b->n_done = 0;
  for (uint32_t i = 0; i < o->threads; i++) {
    pz_bench_msg_t *m = pz_bench_msg_new(PZ_MSG_STEP, 0);
    m->u.step.n_prev = b->n_prev;
    m->u.step.n_total = n;
    m->u.step.t_ramp0 = b->t_ramp0;
    m->u.step.t_win0 = b->t_win0;
    m->u.step.t_win1 = b->t_win1;
    m->u.step.t_end = b->t_end;
    pz_bench_worker_post(b->w[i], m);
  }
  arm_phase(b, b->t_win0, 0);
}

/* A step passed when it kept the budget, without errors or failed
 * connections, with every move delivered and the bench not the limit. */
static const char *step_verdict(const bench_t *b, const pz_bench_run_t *run) {
  pz_bench_fig_t f;
  uint64_t errs = 0, closes = 0;

  pz_report_figures(&b->o, run, &f);
  for (int k = 0; k < PZ_ERRK_N; k++)
    errs += run->r.step.errors[k];
  for (int k = 0; k < PZ_CLOSEK_N; k++)
    if (pz_closek_code(k) != 1000)
      closes += run->r.step.closes[k];
  if (run->limited)
    return "bench";
  if (errs || closes || f.failed || run->r.step.decode_errors ||
      (f.delivered_ratio >= 0 && f.delivered_ratio < 0.99))
    return "errors";
  if (run->r.move.count > 0 &&
      pz_hist_percentile(&run->r.move, 99) / 1000 > b->o.p99_ms)
    return "latency";
  return NULL;
}

static void finish_step(bench_t *b) {
  const pz_bench_opts_t *o = &b->o;
  pz_bench_run_t *run = &b->runs[b->n_runs];

  if (b->next_phase != 2) { /* the phase timer has not fired yet */
    sample_server(b, &run->s_win1, run->p_win1);
    sample_redis(b, run, true);
    run->self_cpu_s = pz_sysmon_self_cpu() - b->cpu_w0;
  }
  run->r = *b->acc;
  pz_report_judge(o, run, b->fd_note);
  b->n_runs++;
  if (!o->find_capacity) {
    stop_all(b);
    return;
  }
  const char *why = step_verdict(b, run);
  pz_bench_fig_t f;
  pz_report_figures(o, run, &f);
  fprintf(stderr,
          "plaza-bench: step N=%u: p99 %.1f ms, delivered %.4f, server cpu "
          "%.1f%%: %s%s\n",
          run->clients, pz_hist_percentile(&run->r.move, 99) / 1000,
          f.delivered_ratio, f.server_cpu_pct < 0 ? 0 : f.server_cpu_pct,
          why ? "stop, limited by " : "held", why ? why : "");
  if (why != NULL) {
    b->limited_by = why;
    stop_all(b);
    return;
  }
  b->capacity = run->clients;
  uint64_t next = (uint64_t)run->clients + o->step;
  if (next > o->max) {
    b->limited_by = "max";
    stop_all(b);
    return;
  }
  start_step(b, (uint32_t)next);
}

static void on_inbox(uv_async_t *a) {
  bench_t *b = a->data;
  pz_bench_msg_t *m = pz_bench_mbox_take(&b->inbox), *next;

  for (; m != NULL; m = next) {
    next = m->next;
    switch (m->type) {
    case PZ_MSG_PROGRESS: {
      uint64_t least = UINT64_MAX;
      b->last_cum[m->from] = m->u.progress.cum;
      b->present[m->from] = m->u.progress.present;
      b->rounds[m->from]++;
      pz_hist_merge(b->sec, m->u.progress.sec);
      for (uint32_t i = 0; i < b->o.threads; i++)
        if (b->rounds[i] < least)
          least = b->rounds[i];
      if (least > b->printed) {
        b->printed = least;
        print_progress(b);
      }
      break;
    }
    case PZ_MSG_STEP_DONE:
      pz_result_merge(b->acc, m->u.result);
      if (++b->n_done == b->o.threads && !b->stopping)
        finish_step(b);
      break;
    case PZ_MSG_STOPPED:
      pz_counters_add(&b->final_close, &m->u.stopped);
      if (++b->n_stopped == b->o.threads)
        close_main(b);
      break;
    default:
      break;
    }
    pz_bench_msg_free(m);
  }
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv) {
  bench_t *b = calloc(1, sizeof(*b));
  int r;

  if (b == NULL)
    return 1;
  if ((r = pz_bench_opts_parse(&b->o, argc, argv)) != 0)
    return r > 0 ? 0 : 2;
  const pz_bench_opts_t *o = &b->o;
  signal(SIGPIPE, SIG_IGN);

  /* One descriptor per client, plus the loops' own. */
  uint64_t most = o->find_capacity ? o->max : o->clients, hard = 0;
  uint64_t soft = pz_sysmon_raise_nofile(most + FD_SPARE, &hard);
  if (most + FD_SPARE > soft) {
    snprintf(b->fd_note, sizeof(b->fd_note),
             "open-file limit %llu (hard %llu) < %llu clients + %d: the "
             "clients past it cannot connect (raise it with ulimit -n / "
             "prlimit)",
             (unsigned long long)soft, (unsigned long long)hard,
             (unsigned long long)most, FD_SPARE);
    fprintf(stderr, "plaza-bench: WARNING: %s\n", b->fd_note);
  }

  b->last_cum = calloc(o->threads, sizeof(*b->last_cum));
  b->present = calloc(o->threads, sizeof(*b->present));
  b->rounds = calloc(o->threads, sizeof(*b->rounds));
  b->sec = malloc(sizeof(*b->sec));
  b->acc = malloc(sizeof(*b->acc));
  b->w = calloc(o->threads, sizeof(*b->w));
  b->rs0 = malloc(sizeof(*b->rs0));
  b->rs1 = malloc(sizeof(*b->rs1));
  if (!b->last_cum || !b->present || !b->rounds || !b->sec || !b->acc ||
      !b->w || !b->rs0 || !b->rs1)
    return 1;
  pz_hist_reset(b->sec);

  uv_loop_init(&b->loop);
  if (pz_bench_mbox_init(&b->inbox, &b->loop, on_inbox, b) != 0)
    return 1;
  for (uint32_t i = 0; i < o->threads; i++)
    if (pz_bench_worker_create(&b->w[i], i, o, &b->inbox) != 0)
      return 1;
  uv_timer_init(&b->loop, &b->phase_timer);
  b->phase_timer.data = b;
  uv_signal_init(&b->loop, &b->sigint);
  uv_signal_init(&b->loop, &b->sigterm);
  b->sigint.data = b->sigterm.data = b;
  uv_signal_start(&b->sigint, on_signal, SIGINT);
  uv_signal_start(&b->sigterm, on_signal, SIGTERM);

  b->t0 = b->prev_t = uv_hrtime();
  b->prev_cpu = pz_sysmon_self_cpu();
  for (uint32_t i = 0; i < o->threads; i++)
    if (pz_bench_worker_start(b->w[i]) != 0) {
      fprintf(stderr, "plaza-bench: cannot start thread %u\n", i);
      return 1;
    }
  b->limited_by = "max";
  start_step(b, o->find_capacity ? o->start : o->clients);
  uv_run(&b->loop, UV_RUN_DEFAULT);

  for (uint32_t i = 0; i < o->threads; i++)
    pz_bench_worker_destroy(b->w[i]);
  if (uv_loop_close(&b->loop) != 0)
    fprintf(stderr, "plaza-bench: main loop: handles left open\n");

  /* The clients' closes at the end belong to the last run's figures. */
  if (b->n_runs > 0) {
    b->runs[b->n_runs - 1].final_close = b->final_close;
    b->runs[b->n_runs - 1].has_final_close = true;
  }
  if (o->find_capacity) {
    pz_report_capacity_table(stdout, o, b->runs, b->n_runs, b->capacity,
                             b->limited_by);
  } else if (b->n_runs > 0) {
    pz_report_table(stdout, o, &b->runs[0]);
  }
  fflush(stdout);
  int rc = b->interrupted ? 1 : 0;
  if (o->json != NULL &&
      pz_report_json(o->json, o, b->runs, b->n_runs, o->find_capacity,
                     b->capacity, b->limited_by) != 0)
    rc = 1;
  if (b->n_runs == 0 && !o->find_capacity)
    rc = 1;
  free(b->runs);
  free(b->last_cum);
  free(b->present);
  free(b->rounds);
  free(b->sec);
  free(b->acc);
  free(b->w);
  pz_redis_sampler_close(b->redis);
  free(b->rs0);
  free(b->rs1);
  pz_bench_opts_dispose(&b->o);
  free(b);
  return rc;
}
