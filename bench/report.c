/* Tables and JSON of plaza-bench (see report.h, bench/CONTRACT.md). */
#include "report.h"

#include <math.h>
#include <string.h>

#include "hist.h"

#define BUSY_SATURATED 0.95 /* a bench thread this busy is the limit */
#define BEHIND_FRAC 0.10    /* contract: >10 % behind schedule */

void pz_report_figures(const pz_bench_opts_t *o, const pz_bench_run_t *run,
                       pz_bench_fig_t *f) {
  const pz_bench_result_t *r = &run->r;

  memset(f, 0, sizeof(*f));
  f->attempted = r->carried + r->step.conn_attempted;
  f->made = r->carried + r->step.conn_made;
  f->failed = r->step.conn_failed;
  f->measured_s = r->wall_s;
  f->delivered_ratio =
      r->expected ? (double)r->delivered / (double)r->expected : -1;
  /* Per simulated client present: reconnects (churn) are not clients. */
  double n = (double)(f->made < run->clients ? f->made : run->clients);
  if (n > 0 && r->wall_s > 0) {
    f->in_per_client_s = (double)r->win.bytes_in / n / r->wall_s;
    f->out_per_client_s = (double)r->win.bytes_out / n / r->wall_s;
  }
  f->server_cpu_s = f->server_cpu_pct = -1;
  if (run->has_server && run->s_win0.ok && run->s_win1.ok) {
    f->server_cpu_s = run->s_win1.cpu_s - run->s_win0.cpu_s;
    if (r->wall_s > 0)
      f->server_cpu_pct = 100.0 * f->server_cpu_s / r->wall_s;
  }
  f->server_syscr = f->server_syscw = f->server_syscw_ramp = -1;
  f->server_syscw_per_client_s = -1;
  if (run->has_server && run->s_win0.syscr >= 0 && run->s_win1.syscr >= 0)
    f->server_syscr = run->s_win1.syscr - run->s_win0.syscr;
  if (run->has_server && run->s_win0.syscw >= 0 && run->s_win1.syscw >= 0) {
    f->server_syscw = run->s_win1.syscw - run->s_win0.syscw;
    if (n > 0 && r->wall_s > 0)
      f->server_syscw_per_client_s = (double)f->server_syscw / n / r->wall_s;
  }
  if (run->has_server && run->s_ramp0.syscw >= 0 && run->s_win0.syscw >= 0)
    f->server_syscw_ramp = run->s_win0.syscw - run->s_ramp0.syscw;
  f->bench_cpu_pct = r->wall_s > 0 ? 100.0 * run->self_cpu_s / r->wall_s : 0;
  f->skipped_pct = r->win.moves_due ? 100.0 * (double)r->win.moves_skipped /
                                          (double)r->win.moves_due
                                    : 0;
  f->lag_mean_ms =
      r->win.lag_n ? (double)r->win.lag_sum_us / (double)r->win.lag_n / 1000.0
                   : 0;
  f->entries_per_state = r->win.state_msgs ? (double)r->win.state_entries /
                                                 (double)r->win.state_msgs
                                           : 0;
  f->bytes_per_entry = r->win.state_entries_sampled
                           ? (double)r->win.state_bytes_sampled /
                                 (double)r->win.state_entries_sampled
                           : -1;
  f->aways_per_client_s =
      n > 0 && r->wall_s > 0 ? (double)r->win.aways / n / r->wall_s : 0;
  (void)o;
}

static void note_add(char *note, size_t cap, const char *s) {
  size_t len = strlen(note);
  if (len > 0 && len + 2 < cap) {
    strcat(note, "; ");
    len += 2;
  }
  if (len < cap)
    snprintf(note + len, cap - len, "%s", s);
}

void pz_report_judge(const pz_bench_opts_t *o, pz_bench_run_t *run,
                     const char *extra_note) {
  const pz_bench_result_t *r = &run->r;
  pz_bench_fig_t f;
  char buf[256];

  pz_report_figures(o, run, &f);
  run->note[0] = '\0';
  run->limited = false;
  double busy = r->busy_max > r->cpu_max ? r->busy_max : r->cpu_max;
  if (busy >= BUSY_SATURATED) {
    snprintf(buf, sizeof(buf),
             "bench saturated: busiest thread %.0f%% busy (%.0f%% CPU)",
             100 * r->busy_max, 100 * r->cpu_max);
    note_add(run->note, sizeof(run->note), buf);
    run->limited = true;
  }
  if (f.skipped_pct > 100 * BEHIND_FRAC) {
    snprintf(buf, sizeof(buf), "%.1f%% of the moves due were not sent",
             f.skipped_pct);
    note_add(run->note, sizeof(run->note), buf);
    run->limited = true;
  }
  if (o->move_hz > 0 && f.lag_mean_ms > BEHIND_FRAC * 1000.0 / o->move_hz) {
    snprintf(buf, sizeof(buf),
             "sends %.1f ms late on average (> 10%% of the %.0f ms period)",
             f.lag_mean_ms, 1000.0 / o->move_hz);
    note_add(run->note, sizeof(run->note), buf);
    run->limited = true;
  }
  if (r->step.conn_nofd > 0) {
    snprintf(buf, sizeof(buf),
             "%llu connections found no file descriptor (RLIMIT_NOFILE)",
             (unsigned long long)r->step.conn_nofd);
    note_add(run->note, sizeof(run->note), buf);
    run->limited = true;
  }
  if (r->win.lat_lost > 0) {
    snprintf(buf, sizeof(buf),
             "%llu STATE entries arrived too late to time (> %u moves)",
             (unsigned long long)r->win.lat_lost, 128u);
    note_add(run->note, sizeof(run->note), buf);
  }
  if (extra_note != NULL && *extra_note)
    note_add(run->note, sizeof(run->note), extra_note);
}

/* One pid's CPU, % of a core over the window; < 0: unknown. */
static double pid_cpu_pct(const pz_bench_run_t *run, uint32_t i) {
  const pz_proc_sample_t *a = &run->p_win0[i], *b = &run->p_win1[i];
  if (!run->has_server || !a->ok || !b->ok || run->r.wall_s <= 0)
    return -1;
  return 100.0 * (b->cpu_s - a->cpu_s) / run->r.wall_s;
}

static void redis_lines(FILE *out, const pz_redis_fig_t *rd) {
  if (!rd->ok || rd->window_s <= 0) {
    fprintf(out, "redis              not sampled: %s\n",
            rd->error[0] ? rd->error : "no window");
    return;
  }
  fprintf(out, "redis              %.0f commands/s (%llu over %.1f s)",
          (double)rd->calls / rd->window_s, (unsigned long long)rd->calls,
          rd->window_s);
  if (rd->net_in >= 0 && rd->net_out >= 0)
    fprintf(out, ", net in %.0f B/s, out %.0f B/s",
            (double)rd->net_in / rd->window_s,
            (double)rd->net_out / rd->window_s);
  fputs("\n  top:", out);
  for (uint32_t i = 0; i < rd->n_top && i < 6; i++)
    fprintf(out, " %s %.0f/s", rd->top[i].name,
            (double)rd->top[i].calls / rd->window_s);
  fputs(rd->n_top ? "\n" : " none\n", out);
}

/* ---- table --------------------------------------------------------------- */

static void lat_row(FILE *out, const char *name, const pz_hist_t *h) {
  if (h->count == 0) {
    fprintf(out, "  %-10s %10s\n", name, "no samples");
    return;
  }
  fprintf(out, "  %-10s %10llu %8.1f %8.1f %8.1f %8.1f %8.1f\n", name,
          (unsigned long long)h->count, pz_hist_percentile(h, 50) / 1000,
          pz_hist_percentile(h, 90) / 1000, pz_hist_percentile(h, 99) / 1000,
          pz_hist_percentile(h, 99.9) / 1000, (double)h->max / 1000);
}

static void codes_line(FILE *out, const char *label,
                       const pz_bench_counters_t *c, bool closes,
                       const pz_bench_counters_t *extra) {
  bool any = false;
  fprintf(out, "%-19s", label);
  if (!closes) {
    for (int k = 0; k < PZ_ERRK_N; k++) {
      if (!c->errors[k])
        continue;
      const char *nm = k == PZ_ERRK_SIO_CONNECT_ERROR ? "sio_connect_error"
                       : k == PZ_ERRK_SIO_DISCONNECT  ? "sio_disconnect"
                       : k == 0                       ? "other"
                                                      : NULL;
      if (nm)
        fprintf(out, " %s: %llu", nm, (unsigned long long)c->errors[k]);
      else
        fprintf(out, " %d: %llu", k, (unsigned long long)c->errors[k]);
      any = true;
    }
  } else {
    for (int k = 0; k < PZ_CLOSEK_N; k++) {
      uint64_t v = c->closes[k] + (extra ? extra->closes[k] : 0);
      if (!v)
        continue;
      int code = pz_closek_code(k);
      if (code < 0)
        fprintf(out, " other: %llu", (unsigned long long)v);
      else
        fprintf(out, " %d: %llu", code, (unsigned long long)v);
      any = true;
    }
  }
  fprintf(out, "%s\n", any ? "" : " none");
}

void pz_report_table(FILE *out, const pz_bench_opts_t *o,
                     const pz_bench_run_t *run) {
  const pz_bench_result_t *r = &run->r;
  pz_bench_fig_t f;

  pz_report_figures(o, run, &f);
  fprintf(out, "\nplaza-bench: %s %s, scenario %s\n", o->proto_name,
          o->url_display ? o->url_display : o->url, o->scenario);
  if (o->n_urls > 1)
    fprintf(out, "%u nodes: client i connects to URL i mod %u\n", o->n_urls,
            o->n_urls);
  fprintf(out,
          "%u clients in rooms of %u, %.0f moves/s and %.1f chats/min each; "
          "ramp %.1f s, measured %.1f s; %u thread%s, %u sampled per room\n",
          run->clients, o->room_size, o->move_hz, o->chat_per_min, o->ramp_s,
          f.measured_s, o->threads, o->threads > 1 ? "s" : "", o->sample);
  if (pz_bench_view(o))
    fprintf(out, "VIEW radius %g, compact %s", o->view_radius,
            o->compact ? "on" : "off");
  if (o->area > 0)
    fprintf(out, "%swalking in a square of side %g",
            pz_bench_view(o) ? "; " : "", o->area);
  fputs(pz_bench_view(o) || o->area > 0 ? "\n\n" : "\n", out);
  fprintf(out, "connections        attempted %llu, made %llu, failed %llu",
          (unsigned long long)f.attempted, (unsigned long long)f.made,
          (unsigned long long)f.failed);
  if (f.attempted > f.made + f.failed)
    fprintf(out, ", still connecting %llu",
            (unsigned long long)(f.attempted - f.made - f.failed));
  fputc('\n', out);
  if (o->churn)
    fprintf(out, "churn              drops %llu, resumed %llu, rejoined %llu\n",
            (unsigned long long)r->step.drops,
            (unsigned long long)r->step.resumes,
            (unsigned long long)r->step.rejoins);
  fprintf(out, "moves sent         %llu (%.0f/s), skipped %llu\n",
          (unsigned long long)r->win.moves_sent,
          f.measured_s > 0 ? (double)r->win.moves_sent / f.measured_s : 0,
          (unsigned long long)r->win.moves_skipped);
  fprintf(out,
          "STATE entries      %llu received (%.0f/s), %llu by sampled "
          "clients\n",
          (unsigned long long)r->win.state_entries,
          f.measured_s > 0 ? (double)r->win.state_entries / f.measured_s : 0,
          (unsigned long long)r->win.state_entries_sampled);
  fprintf(out, "per STATE          %.1f entries", f.entries_per_state);
  if (f.bytes_per_entry >= 0)
    fprintf(out, ", %.2f bytes per entry (sampled clients)", f.bytes_per_entry);
  if (pz_bench_view(o))
    fprintf(out, "; AWAY %.2f members per client-second", f.aways_per_client_s);
  fputc('\n', out);
  if (f.delivered_ratio >= 0)
    fprintf(out,
            "delivered          %.4f (%llu of %llu moves x sampled "
            "members)\n",
            f.delivered_ratio, (unsigned long long)r->delivered,
            (unsigned long long)r->expected);
  else
    fprintf(out, "delivered          - (no moves)\n");
  fprintf(out, "chats              sent %llu, received %llu\n",
          (unsigned long long)r->win.chats_sent,
          (unsigned long long)r->win.chats_recv);
  fprintf(out, "\nlatency (ms)          samples      p50      p90      p99 "
               "   p99.9      max\n");
  lat_row(out, "move", &r->move);
  if (o->n_urls > 1) {
    lat_row(out, " same node", &r->move_same);
    lat_row(out, " cross", &r->move_cross);
  }
  lat_row(out, "chat", &r->chat);
  lat_row(out, "setup", &r->setup);
  lat_row(out, "send lag", &r->lag);
  fprintf(out, "\nbytes/client/s     in %.1f, out %.1f\n", f.in_per_client_s,
          f.out_per_client_s);
  codes_line(out, "errors by code", &r->step, false, NULL);
  codes_line(out, "closes by code", &r->step, true,
             run->has_final_close ? &run->final_close : NULL);
  if (r->step.decode_errors)
    fprintf(out, "unreadable msgs    %llu\n",
            (unsigned long long)r->step.decode_errors);
  if (run->has_server) {
    if (o->n_pids > 1)
      fprintf(out, "servers (%u pids)   ", o->n_pids);
    else
      fprintf(out, "server (pid %d)     ", run->server_pid);
    if (f.server_cpu_pct >= 0)
      fprintf(out,
              "cpu %.1f%% of a core (%.2f s), RSS %lld -> %lld -> %lld "
              "KiB (ramp start, ramp end, window end)\n",
              f.server_cpu_pct, f.server_cpu_s, (long long)run->s_ramp0.rss_kb,
              (long long)run->s_win0.rss_kb, (long long)run->s_win1.rss_kb);
    else
      fprintf(out, "not readable in /proc\n");
    if (o->n_pids > 1)
      for (uint32_t i = 0; i < o->n_pids; i++) {
        double cpu = pid_cpu_pct(run, i);
        fprintf(out, "  pid %-8d %-8s ", o->server_pids[i],
                o->server_labels[i]);
        if (cpu >= 0)
          fprintf(out, "cpu %.1f%% of a core, RSS %lld -> %lld -> %lld KiB\n",
                  cpu, (long long)run->p_ramp0[i].rss_kb,
                  (long long)run->p_win0[i].rss_kb,
                  (long long)run->p_win1[i].rss_kb);
        else
          fprintf(out, "not readable in /proc\n");
      }
    if (f.server_syscw >= 0)
      fprintf(out,
              "server syscalls    write %lld (%.2f per client-second), read "
              "%lld over the window; write %lld over the ramp\n",
              (long long)f.server_syscw, f.server_syscw_per_client_s,
              (long long)f.server_syscr, (long long)f.server_syscw_ramp);
  }
  if (run->has_redis)
    redis_lines(out, &run->redis);
  fprintf(out,
          "bench              cpu %.1f%% of a core, busiest thread "
          "%.0f%% busy, limited: %s%s%s\n",
          f.bench_cpu_pct, 100 * r->busy_max, run->limited ? "YES" : "no",
          run->note[0] ? " - " : "", run->note);
}

void pz_report_capacity_table(FILE *out, const pz_bench_opts_t *o,
                              const pz_bench_run_t *runs, uint32_t n,
                              uint32_t capacity, const char *limited_by) {
  fprintf(out,
          "\nplaza-bench --find-capacity: %s %s, scenario %s, p99 "
          "budget %.1f ms\n\n",
          o->proto_name, o->url_display ? o->url_display : o->url, o->scenario,
          o->p99_ms);
  fprintf(out, "%8s %8s %8s %8s %8s %9s %7s %8s %8s %8s %s\n", "clients",
          "made", "p50 ms", "p99 ms", "p99.9", "delivered", "errors", "srv cpu",
          "wr/cl/s", "bench", "limited");
  for (uint32_t i = 0; i < n; i++) {
    const pz_bench_run_t *run = &runs[i];
    pz_bench_fig_t f;
    uint64_t errs = 0;
    pz_report_figures(o, run, &f);
    for (int k = 0; k < PZ_ERRK_N; k++)
      errs += run->r.step.errors[k];
    char srv[16] = "-";
    if (f.server_cpu_pct >= 0)
      snprintf(srv, sizeof(srv), "%.1f%%", f.server_cpu_pct);
    char del[16] = "-";
    if (f.delivered_ratio >= 0)
      snprintf(del, sizeof(del), "%.4f", f.delivered_ratio);
    char wr[16] = "-";
    if (f.server_syscw_per_client_s >= 0)
      snprintf(wr, sizeof(wr), "%.2f", f.server_syscw_per_client_s);
    fprintf(out, "%8u %8llu %8.1f %8.1f %8.1f %9s %7llu %8s %8s %7.0f%% %s\n",
            run->clients, (unsigned long long)f.made,
            pz_hist_percentile(&run->r.move, 50) / 1000,
            pz_hist_percentile(&run->r.move, 99) / 1000,
            pz_hist_percentile(&run->r.move, 99.9) / 1000, del,
            (unsigned long long)(errs + f.failed), srv, wr, f.bench_cpu_pct,
            run->limited ? "YES" : "no");
  }
  fprintf(out, "\ncapacity at p99 <= %.1f ms: %u clients (limited by %s)\n",
          o->p99_ms, capacity, limited_by);
  if (n > 0 && runs[n - 1].note[0])
    fprintf(out, "last step: %s\n", runs[n - 1].note);
}

/* ---- JSON ---------------------------------------------------------------- */

static void jstr(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

/* A number, or null when not finite or negative where that means unknown. */
static void jnum(FILE *f, double v) {
  if (!isfinite(v))
    fputs("null", f);
  else
    fprintf(f, "%.6g", v);
}

static void jlat(FILE *f, const char *name, const pz_hist_t *h) {
  fprintf(f, "\"%s\": {\"samples\": %llu", name, (unsigned long long)h->count);
  if (h->count == 0) {
    fputs(", \"p50\": null, \"p90\": null, \"p99\": null, \"p999\": null, "
          "\"max\": null, \"mean\": null}",
          f);
    return;
  }
  fprintf(f,
          ", \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"p999\": %.3f, "
          "\"max\": %.3f, \"mean\": %.3f}",
          pz_hist_percentile(h, 50) / 1000, pz_hist_percentile(h, 90) / 1000,
          pz_hist_percentile(h, 99) / 1000, pz_hist_percentile(h, 99.9) / 1000,
          (double)h->max / 1000, (double)h->sum / (double)h->count / 1000);
}

static void json_opt_num(FILE *f, bool known, double v) {
  if (known)
    jnum(f, v);
  else
    fputs("null", f);
}

/* "pids" and "per_pid" inside "server". */
static void json_pids(FILE *f, const pz_bench_opts_t *o,
                      const pz_bench_run_t *run) {
  static const char *at[3] = {"before", "after_connect", "end"};
  fputs(", \"pids\": [", f);
  for (uint32_t i = 0; i < o->n_pids; i++)
    fprintf(f, "%s%d", i ? ", " : "", o->server_pids[i]);
  fputs("], \"per_pid\": [", f);
  for (uint32_t i = 0; i < o->n_pids; i++) {
    double cpu = pid_cpu_pct(run, i);
    fprintf(f, "%s\n    {\"pid\": %d, \"label\": ", i ? "," : "",
            o->server_pids[i]);
    if (o->server_labels[i][0])
      jstr(f, o->server_labels[i]);
    else
      fputs("null", f);
    fputs(", \"cpu_pct\": ", f);
    json_opt_num(f, cpu >= 0, cpu);
    fputs(", \"cpu_s\": ", f);
    json_opt_num(f, cpu >= 0, run->p_win1[i].cpu_s - run->p_win0[i].cpu_s);
    const pz_proc_sample_t *ps[3] = {&run->p_ramp0[i], &run->p_win0[i],
                                     &run->p_win1[i]};
    for (int k = 0; k < 3; k++) {
      fprintf(f, ", \"rss_kb_%s\": ", at[k]);
      if (ps[k]->ok && ps[k]->rss_kb >= 0)
        fprintf(f, "%lld", (long long)ps[k]->rss_kb);
      else
        fputs("null", f);
    }
    fputs("}", f);
  }
  fputs("]", f);
}

/* "redis": null without --redis-url. */
static void json_redis(FILE *f, const pz_bench_opts_t *o,
                       const pz_bench_run_t *run) {
  const pz_redis_fig_t *rd = &run->redis;
  char url[512];

  if (!run->has_redis) {
    fputs(" \"redis\": null,\n", f);
    return;
  }
  pz_redis_url_redact(o->redis_url, url, sizeof(url));
  fputs(" \"redis\": {\"url\": ", f);
  jstr(f, url);
  bool ok = rd->ok && rd->window_s > 0;
  fprintf(f, ", \"ok\": %s, \"error\": ", ok ? "true" : "false");
  if (!ok) {
    jstr(f, rd->error[0] ? rd->error : "no window");
    fputs("},\n", f);
    return;
  }
  double w = rd->window_s;
  fputs("null, \"window_s\": ", f);
  jnum(f, w);
  fprintf(f, ", \"commands\": %llu, \"commands_per_s\": ",
          (unsigned long long)rd->calls);
  jnum(f, (double)rd->calls / w);
  fputs(", \"processed_per_s\": ", f);
  json_opt_num(f, rd->processed >= 0, (double)rd->processed / w);
  fputs(", \"usec_per_s\": ", f);
  jnum(f, (double)rd->usec / w);
  fputs(", \"net_in_bytes_per_s\": ", f);
  json_opt_num(f, rd->net_in >= 0, (double)rd->net_in / w);
  fputs(", \"net_out_bytes_per_s\": ", f);
  json_opt_num(f, rd->net_out >= 0, (double)rd->net_out / w);
  fputs(", \"pid\": ", f);
  if (rd->pid > 0)
    fprintf(f, "%lld", (long long)rd->pid);
  else
    fputs("null", f);
  fputs(",\n   \"top\": [", f);
  for (uint32_t i = 0; i < rd->n_top; i++) {
    fputs(i ? ", {\"cmd\": " : "{\"cmd\": ", f);
    jstr(f, rd->top[i].name);
    fprintf(f, ", \"calls\": %llu, \"per_s\": ",
            (unsigned long long)rd->top[i].calls);
    jnum(f, (double)rd->top[i].calls / w);
    fprintf(f, ", \"usec\": %llu}", (unsigned long long)rd->top[i].usec);
  }
  fputs("]},\n", f);
}

static void json_run(FILE *f, const pz_bench_opts_t *o,
                     const pz_bench_run_t *run) {
  const pz_bench_result_t *r = &run->r;
  pz_bench_fig_t g;
  bool first;

  pz_report_figures(o, run, &g);
  fputs("{\"tool\": \"plaza-bench\", \"schema\": 1, \"proto\": ", f);
  jstr(f, o->proto_name);
  fputs(", \"url\": ", f);
  jstr(f, o->url_display ? o->url_display : o->url);
  fputs(", \"urls\": [", f);
  for (uint32_t i = 0; i < o->n_urls; i++) {
    if (i)
      fputs(", ", f);
    jstr(f, o->urls[i]);
  }
  fputs("], \"scenario\": ", f);
  jstr(f, o->scenario);
  fprintf(f,
          ",\n \"params\": {\"clients\": %u, \"room_size\": %u, \"move_hz\": ",
          run->clients, o->room_size);
  jnum(f, o->move_hz);
  fputs(", \"chat_per_min\": ", f);
  jnum(f, o->chat_per_min);
  fputs(", \"ramp_s\": ", f);
  jnum(f, o->ramp_s);
  fputs(", \"duration_s\": ", f);
  jnum(f, o->duration_s);
  fprintf(f,
          ", \"threads\": %u, \"sample\": %u, \"local_ips\": %u, "
          "\"lazy_ms\": %u, \"drain_s\": ",
          o->threads, o->sample, o->local_ips, o->lazy_ms);
  jnum(f, o->drain_s);
  fprintf(f,
          ", \"seed\": %llu, \"view_radius\": ", (unsigned long long)o->seed);
  jnum(f, o->view_radius);
  fprintf(f, ", \"compact\": %s, \"area\": ", o->compact ? "true" : "false");
  jnum(f, o->area);
  fputs("},\n", f);
  fprintf(f,
          " \"connections\": {\"attempted\": %llu, \"made\": %llu, "
          "\"failed\": %llu, \"pending\": %llu, \"no_fd\": %llu, "
          "\"carried\": %llu, \"present_at_end\": %llu},\n",
          (unsigned long long)g.attempted, (unsigned long long)g.made,
          (unsigned long long)g.failed,
          (unsigned long long)(g.attempted > g.made + g.failed
                                   ? g.attempted - g.made - g.failed
                                   : 0),
          (unsigned long long)r->step.conn_nofd, (unsigned long long)r->carried,
          (unsigned long long)r->present);
  fprintf(f,
          " \"moves_sent\": %llu, \"moves_due\": %llu, \"moves_skipped\": "
          "%llu,\n",
          (unsigned long long)r->win.moves_sent,
          (unsigned long long)r->win.moves_due,
          (unsigned long long)r->win.moves_skipped);
  fprintf(f,
          " \"state_entries_received\": %llu, \"state_messages_received\": "
          "%llu, \"state_entries_sampled\": %llu,\n",
          (unsigned long long)r->win.state_entries,
          (unsigned long long)r->win.state_msgs,
          (unsigned long long)r->win.state_entries_sampled);
  fputs(" \"state_entries_per_msg\": ", f);
  jnum(f, g.entries_per_state);
  fputs(", \"state_bytes_per_entry\": ", f);
  json_opt_num(f, g.bytes_per_entry >= 0, g.bytes_per_entry);
  fprintf(f,
          ", \"state_bytes_sampled\": %llu, \"aways\": %llu, "
          "\"aways_per_client_s\": ",
          (unsigned long long)r->win.state_bytes_sampled,
          (unsigned long long)r->win.aways);
  jnum(f, g.aways_per_client_s);
  fputs(",\n \"moves_delivered_ratio\": ", f);
  if (g.delivered_ratio >= 0)
    fprintf(f, "%.6f", g.delivered_ratio);
  else
    fputs("null", f);
  fprintf(f, ", \"delivery\": {\"expected\": %llu, \"delivered\": %llu},\n",
          (unsigned long long)r->expected, (unsigned long long)r->delivered);
  fprintf(f, " \"chats\": {\"sent\": %llu, \"received\": %llu},\n",
          (unsigned long long)r->win.chats_sent,
          (unsigned long long)r->win.chats_recv);
  fputs(" \"latency_ms\": {", f);
  jlat(f, "move", &r->move);
  fputs(",\n   ", f);
  jlat(f, "move_same_node", &r->move_same);
  fputs(",\n   ", f);
  jlat(f, "move_cross_node", &r->move_cross);
  fputs(",\n   ", f);
  jlat(f, "chat", &r->chat);
  fputs(",\n   ", f);
  jlat(f, "setup", &r->setup);
  fputs(",\n   ", f);
  jlat(f, "send_lag", &r->lag);
  fputs("},\n", f);
  fputs(" \"bytes_per_client_per_s\": {\"in\": ", f);
  jnum(f, g.in_per_client_s);
  fputs(", \"out\": ", f);
  jnum(f, g.out_per_client_s);
  fputs("},\n \"server_write_syscalls_per_client_s\": ", f);
  if (g.server_syscw_per_client_s >= 0)
    jnum(f, g.server_syscw_per_client_s);
  else
    fputs("null", f);
  fputs(",\n \"errors_by_code\": {", f);
  first = true;
  for (int k = 0; k < PZ_ERRK_N; k++) {
    if (!r->step.errors[k])
      continue;
    const char *nm = k == PZ_ERRK_SIO_CONNECT_ERROR ? "sio_connect_error"
                     : k == PZ_ERRK_SIO_DISCONNECT  ? "sio_disconnect"
                     : k == 0                       ? "other"
                                                    : NULL;
    if (nm)
      fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", nm,
              (unsigned long long)r->step.errors[k]);
    else
      fprintf(f, "%s\"%d\": %llu", first ? "" : ", ", k,
              (unsigned long long)r->step.errors[k]);
    first = false;
  }
  fputs("},\n \"closes_by_code\": {", f);
  first = true;
  for (int k = 0; k < PZ_CLOSEK_N; k++) {
    uint64_t v = r->step.closes[k] +
                 (run->has_final_close ? run->final_close.closes[k] : 0);
    if (!v)
      continue;
    int code = pz_closek_code(k);
    if (code < 0)
      fprintf(f, "%s\"other\": %llu", first ? "" : ", ", (unsigned long long)v);
    else
      fprintf(f, "%s\"%d\": %llu", first ? "" : ", ", code,
              (unsigned long long)v);
    first = false;
  }
  fprintf(f, "},\n \"decode_errors\": %llu,\n",
          (unsigned long long)r->step.decode_errors);
  if (o->churn)
    fprintf(f,
            " \"churn\": {\"drops\": %llu, \"resumed\": %llu, \"rejoined\": "
            "%llu},\n",
            (unsigned long long)r->step.drops,
            (unsigned long long)r->step.resumes,
            (unsigned long long)r->step.rejoins);
  if (run->has_server) {
    fprintf(f, " \"server\": {\"pid\": %d", run->server_pid);
    json_pids(f, o, run);
    fputs(",\n   \"cpu_pct\": ", f);
    if (g.server_cpu_pct >= 0)
      jnum(f, g.server_cpu_pct);
    else
      fputs("null", f);
    fputs(", \"cpu_s\": ", f);
    if (g.server_cpu_s >= 0)
      jnum(f, g.server_cpu_s);
    else
      fputs("null", f);
    const pz_proc_sample_t *s[3] = {&run->s_ramp0, &run->s_win0, &run->s_win1};
    const char *at[3] = {"before", "after_connect", "end"};
    for (int i = 0; i < 3; i++) {
      fprintf(f, ", \"rss_kb_%s\": ", at[i]);
      if (s[i]->ok && s[i]->rss_kb >= 0)
        fprintf(f, "%lld", (long long)s[i]->rss_kb);
      else
        fputs("null", f);
    }
    fputs(",\n   ", f);
    for (int i = 0; i < 6; i++) {
      int64_t v = i < 3 ? s[i % 3]->syscr : s[i % 3]->syscw;
      fprintf(f, "%s\"%s_%s\": ", i ? ", " : "", i < 3 ? "syscr" : "syscw",
              at[i % 3]);
      if (v >= 0)
        fprintf(f, "%lld", (long long)v);
      else
        fputs("null", f);
    }
    const int64_t d[3] = {g.server_syscr, g.server_syscw, g.server_syscw_ramp};
    const char *dk[3] = {"syscr_window", "syscw_window", "syscw_ramp"};
    for (int i = 0; i < 3; i++) {
      fprintf(f, ", \"%s\": ", dk[i]);
      if (d[i] >= 0)
        fprintf(f, "%lld", (long long)d[i]);
      else
        fputs("null", f);
    }
    fputs("},\n", f);
  } else {
    fputs(" \"server\": null,\n", f);
  }
  json_redis(f, o, run);
  fputs(" \"bench\": {\"cpu_pct\": ", f);
  jnum(f, g.bench_cpu_pct);
  fprintf(f, ", \"limited\": %s, \"note\": ", run->limited ? "true" : "false");
  jstr(f, run->note);
  fputs(", \"thread_busy_max_pct\": ", f);
  jnum(f, 100 * r->busy_max);
  fputs(", \"thread_cpu_max_pct\": ", f);
  jnum(f, 100 * r->cpu_max);
  fputs(", \"moves_skipped_pct\": ", f);
  jnum(f, g.skipped_pct);
  fputs(", \"send_lag_mean_ms\": ", f);
  jnum(f, g.lag_mean_ms);
  fprintf(f, ", \"late_entries\": %llu, \"transport\": \"bench-light\"},\n",
          (unsigned long long)r->win.lat_lost);
  fputs(" \"measured_s\": ", f);
  jnum(f, g.measured_s);
  fputs("}", f);
}

int pz_report_json(const char *path, const pz_bench_opts_t *o,
                   const pz_bench_run_t *runs, uint32_t n, bool capacity_mode,
                   uint32_t capacity, const char *limited_by) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  if (!capacity_mode) {
    if (n > 0)
      json_run(f, o, &runs[0]);
    else
      fputs("{\"tool\": \"plaza-bench\", \"schema\": 1, \"error\": "
            "\"no run completed\"}",
            f);
  } else {
    fputs("{\"tool\": \"plaza-bench\", \"schema\": 1, \"mode\": "
          "\"capacity\", \"proto\": ",
          f);
    jstr(f, o->proto_name);
    fputs(", \"url\": ", f);
    jstr(f, o->url_display ? o->url_display : o->url);
    fputs(", \"scenario\": ", f);
    jstr(f, o->scenario);
    fputs(", \"p99_budget_ms\": ", f);
    jnum(f, o->p99_ms);
    fprintf(f, ", \"capacity\": %u, \"limited_by\": ", capacity);
    jstr(f, limited_by);
    fprintf(f,
            ", \"start\": %u, \"step\": %u, \"max\": %u, "
            "\"reuses_connections\": true,\n \"steps\": [\n",
            o->start, o->step, o->max);
    for (uint32_t i = 0; i < n; i++) {
      json_run(f, o, &runs[i]);
      fputs(i + 1 < n ? ",\n" : "\n", f);
    }
    fputs("]}", f);
  }
  fputc('\n', f);
  if (fclose(f) != 0) {
    perror(path);
    return -1;
  }
  return 0;
}
