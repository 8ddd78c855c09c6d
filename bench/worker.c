/*
 * A bench worker thread (see worker.h): its loop, inbox, timers, the move
 * schedule, the heap of timed actions, and the step's phases and figures.
 * What a client does lives in sim.c.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rng.h"
#include "sysmon.h"

#define TICK_MS 1
#define PZ_LAZY_SLICES 10
#define HEAP_NONE UINT32_MAX

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (p == NULL && n * size > 0) {
    fprintf(stderr, "plaza-bench: out of memory (%zu bytes)\n", n * size);
    abort();
  }
  return p;
}

static void *xrealloc(void *p, size_t size) {
  void *q = realloc(p, size);
  if (q == NULL && size > 0) {
    fprintf(stderr, "plaza-bench: out of memory (%zu bytes)\n", size);
    abort();
  }
  return q;
}

/* ---- heap of timed actions ------------------------------------------------
 */

static void heap_set(pz_bench_worker_t *w, uint32_t i, pz_bench_client_t *c) {
  w->heap[i] = c;
  c->heap_idx = i;
}

static void heap_up(pz_bench_worker_t *w, uint32_t i) {
  pz_bench_client_t *c = w->heap[i];
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (w->heap[p]->due_ns <= c->due_ns)
      break;
    heap_set(w, i, w->heap[p]);
    i = p;
  }
  heap_set(w, i, c);
}

static void heap_down(pz_bench_worker_t *w, uint32_t i) {
  pz_bench_client_t *c = w->heap[i];
  for (;;) {
    uint32_t l = 2 * i + 1, m = i;
    uint64_t best = c->due_ns;
    if (l < w->heap_n && w->heap[l]->due_ns < best) {
      m = l;
      best = w->heap[l]->due_ns;
    }
    if (l + 1 < w->heap_n && w->heap[l + 1]->due_ns < best)
      m = l + 1;
    if (m == i)
      break;
    heap_set(w, i, w->heap[m]);
    i = m;
  }
  heap_set(w, i, c);
}

void pz_worker_heap_push(pz_bench_worker_t *w, pz_bench_client_t *c,
                         uint64_t due_ns) {
  if (c->heap_idx != HEAP_NONE)
    pz_worker_heap_remove(w, c);
  if (w->heap_n == w->heap_cap) {
    w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 1024;
    w->heap = xrealloc(w->heap, w->heap_cap * sizeof(*w->heap));
  }
  c->due_ns = due_ns;
  heap_set(w, w->heap_n++, c);
  heap_up(w, c->heap_idx);
}

void pz_worker_heap_remove(pz_bench_worker_t *w, pz_bench_client_t *c) {
  uint32_t i = c->heap_idx;
  if (i == HEAP_NONE)
    return;
  c->heap_idx = HEAP_NONE;
  pz_bench_client_t *last = w->heap[--w->heap_n];
  if (i == w->heap_n)
    return;
  heap_set(w, i, last);
  heap_up(w, i);
  heap_down(w, last->heap_idx);
}

static void heap_run(pz_bench_worker_t *w, uint64_t now) {
  while (w->heap_n > 0 && w->heap[0]->due_ns <= now) {
    pz_bench_client_t *c = w->heap[0];
    pz_worker_heap_remove(w, c);
    pz_sim_timed(c, now);
  }
}

/* ---- the move schedule -----------------------------------------------------
 */

void pz_worker_sched_add(pz_bench_worker_t *w, pz_bench_client_t *c) {
  if (!w->sched_on || c->scheduled)
    return;
  uint32_t b = (uint32_t)(pz_rng_next(&w->rng) % w->nb);
  c->bucket = (uint16_t)b;
  c->sprev = NULL;
  c->snext = w->bucket[b];
  if (c->snext)
    c->snext->sprev = c;
  w->bucket[b] = c;
  w->bucket_n[b]++;
  w->n_sched++;
  c->scheduled = true;
}

void pz_worker_sched_remove(pz_bench_worker_t *w, pz_bench_client_t *c) {
  if (!c->scheduled)
    return;
  if (c->sprev)
    c->sprev->snext = c->snext;
  else
    w->bucket[c->bucket] = c->snext;
  if (c->snext)
    c->snext->sprev = c->sprev;
  c->snext = c->sprev = NULL;
  w->bucket_n[c->bucket]--;
  w->n_sched--;
  c->scheduled = false;
}

static void sched_run(pz_bench_worker_t *w, uint64_t now) {
  if (!w->sched_on || now < w->epoch_ns)
    return;
  int64_t target = (int64_t)((now - w->epoch_ns) / w->bucket_ns);
  if (target <= w->cursor)
    return;
  if (target - w->cursor > (int64_t)w->nb) {
    /* More than a period behind: skip to one period back, counting every
     * move that will not be sent. */
    int64_t skip_to = target - w->nb;
    int64_t n = skip_to - w->cursor;
    uint64_t missed = (uint64_t)(n / w->nb) * w->n_sched;
    for (int64_t k = w->cursor + 1; k <= w->cursor + n % w->nb; k++)
      missed += w->bucket_n[k % w->nb];
    if (w->o->move_hz > 0) {
      w->cum.moves_due += missed;
      w->cum.moves_skipped += missed;
    }
    w->cursor = skip_to;
  }
  for (int64_t k = w->cursor + 1; k <= target; k++) {
    uint64_t due = w->epoch_ns + (uint64_t)k * w->bucket_ns;
    pz_bench_client_t *c = w->bucket[k % w->nb], *next;
    for (; c != NULL; c = next) {
      next = c->snext;
      pz_sim_activity(c, now, due);
    }
    w->cursor = k;
  }
}

/* Reads the lazy clients whose slices are due (see pz_wsc_set_lazy). */
static void lazy_run(pz_bench_worker_t *w, uint64_t now) {
  if (w->lazy_slice_ns == 0 || now < w->epoch_ns)
    return;
  int64_t target = (int64_t)((now - w->epoch_ns) / w->lazy_slice_ns);
  if (target - w->lazy_cursor > PZ_LAZY_SLICES)
    w->lazy_cursor = target - PZ_LAZY_SLICES; /* each slice once at most */
  for (int64_t k = w->lazy_cursor + 1; k <= target; k++) {
    for (uint32_t i = (uint32_t)(k % PZ_LAZY_SLICES); i < w->n_clients;
         i += PZ_LAZY_SLICES) {
      pz_bench_client_t *c = w->clients[i];
      if (c->ws.lazy)
        pz_wsc_poll(&c->ws);
    }
  }
  w->lazy_cursor = target;
}

/* ---- figures ----------------------------------------------------------- */

static void sync_bytes(pz_bench_worker_t *w) {
  w->cum.bytes_in = w->cum.bytes_out = 0;
  for (uint32_t i = 0; i < w->o->n_urls; i++) {
    w->cum.bytes_in += w->wsc[i].bytes_in;
    w->cum.bytes_out += w->wsc[i].bytes_out;
  }
}

static size_t live_conns(const pz_bench_worker_t *w) {
  size_t n = 0;
  for (uint32_t i = 0; i < w->o->n_urls; i++)
    n += w->wsc[i].live;
  return n;
}

static void window_start(pz_bench_worker_t *w, uint64_t now) {
  sync_bytes(w);
  w->at_win0 = w->cum;
  w->expected = w->delivered = 0;
  pz_hist_reset(w->h_move);
  pz_hist_reset(w->h_move_same);
  pz_hist_reset(w->h_move_cross);
  pz_hist_reset(w->h_chat);
  pz_hist_reset(w->h_lag);
  for (uint32_t i = 0; i < w->n_clients; i++) {
    pz_bench_client_t *c = w->clients[i];
    c->win_lo = c->seq + 1;
    c->win_hi = c->seq;
  }
  w->win_open = true;
  w->win_started = true;
  w->cpu0 = pz_sysmon_thread_cpu();
  w->idle0 = uv_metrics_idle_time(&w->loop);
  w->wall0 = now;
}

static void window_end(pz_bench_worker_t *w, uint64_t now) {
  sync_bytes(w);
  w->at_win1 = w->cum;
  w->win_open = false;
  w->win_ended = true;
  w->cpu1 = pz_sysmon_thread_cpu();
  w->idle1 = uv_metrics_idle_time(&w->loop);
  w->wall1 = now;
}

static void step_done(pz_bench_worker_t *w) {
  pz_bench_msg_t *m = pz_bench_msg_new(PZ_MSG_STEP_DONE, w->idx);
  pz_bench_result_t *r = xcalloc(1, sizeof(*r));

  sync_bytes(w);
  pz_result_reset(r);
  pz_counters_sub(&r->step, &w->cum, &w->at_step);
  pz_counters_sub(&r->win, &w->at_win1, &w->at_win0);
  r->expected = w->expected;
  r->delivered = w->delivered;
  r->carried = w->carried;
  r->present = w->present;
  r->threads = 1;
  r->wall_s = (double)(w->wall1 - w->wall0) / 1e9;
  r->cpu_s = w->cpu1 - w->cpu0;
  if (r->wall_s > 0) {
    double idle_s = (double)(w->idle1 - w->idle0) / 1e9;
    r->busy_max = (r->wall_s - idle_s) / r->wall_s;
    r->cpu_max = r->cpu_s / r->wall_s;
  }
  r->move = *w->h_move;
  r->move_same = *w->h_move_same;
  r->move_cross = *w->h_move_cross;
  r->chat = *w->h_chat;
  r->setup = *w->h_setup;
  r->lag = *w->h_lag;
  m->u.result = r;
  w->in_step = false;
  pz_bench_mbox_post(w->to_main, m, false);
}

/* ---- steps ------------------------------------------------------------- */

static pz_bench_room_t *room_get(pz_bench_worker_t *w, uint32_t gidx) {
  const pz_bench_opts_t *o = w->o;
  uint32_t li = gidx / o->threads;
  if (li >= w->cap_rooms) {
    uint32_t cap = w->cap_rooms ? w->cap_rooms : 64;
    while (cap <= li)
      cap *= 2;
    w->rooms = xrealloc(w->rooms, cap * sizeof(*w->rooms));
    memset(w->rooms + w->cap_rooms, 0,
           (cap - w->cap_rooms) * sizeof(*w->rooms));
    w->cap_rooms = cap;
  }
  if (w->rooms[li] == NULL) {
    pz_bench_room_t *r = xcalloc(1, sizeof(*r));
    r->gidx = gidx;
    r->cap = o->room_size;
    r->members = xcalloc(o->room_size, sizeof(*r->members));
    snprintf(r->name, sizeof(r->name), "pzb-%s-%u", o->run_id, gidx);
    w->rooms[li] = r;
  }
  return w->rooms[li];
}

static void step_begin(pz_bench_worker_t *w, const pz_bench_msg_t *m) {
  const pz_bench_opts_t *o = w->o;
  uint32_t n_prev = m->u.step.n_prev, n_total = m->u.step.n_total;
  uint64_t ramp_ns = m->u.step.t_win0 - m->u.step.t_ramp0;

  sync_bytes(w);
  w->at_step = w->cum;
  w->carried = w->present;
  w->t_ramp0 = m->u.step.t_ramp0;
  w->t_win0 = m->u.step.t_win0;
  w->t_win1 = m->u.step.t_win1;
  w->t_end = m->u.step.t_end;
  w->in_step = true;
  w->win_started = w->win_ended = w->win_open = false;
  pz_hist_reset(w->h_setup);

  for (uint32_t g = n_prev; g < n_total; g++) {
    uint32_t rg = g / o->room_size;
    if (rg % o->threads != w->idx)
      continue;
    pz_bench_room_t *room = room_get(w, rg);
    pz_bench_client_t *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->room = room;
    c->gidx = g;
    c->slot = g % o->room_size;
    c->node = pz_bench_node_of(o, g);
    c->sampled = c->slot < o->sample;
    c->heap_idx = HEAP_NONE;
    c->win_lo = UINT64_MAX; /* no window yet */
    c->phase = PZ_PH_WAIT;
    room->members[c->slot] = c;
    if (w->n_clients == w->cap_clients) {
      w->cap_clients = w->cap_clients ? w->cap_clients * 2 : 1024;
      w->clients = xrealloc(w->clients, w->cap_clients * sizeof(*w->clients));
    }
    w->clients[w->n_clients++] = c;
    /* Linear ramp over the step's new clients, by global index. */
    uint64_t due =
        w->t_ramp0 + (uint64_t)((double)ramp_ns * (double)(g - n_prev) /
                                (double)(n_total - n_prev));
    pz_worker_heap_push(w, c, due);
  }
}

/* ---- stopping ---------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  (void)h;
}

static void finalize(pz_bench_worker_t *w) {
  pz_bench_msg_t *m = pz_bench_msg_new(PZ_MSG_STOPPED, w->idx);
  sync_bytes(w);
  pz_counters_sub(&m->u.stopped, &w->cum, &w->at_stop);
  w->stopped = true;
  uv_close((uv_handle_t *)&w->tick, on_handle_closed);
  uv_close((uv_handle_t *)&w->prog, on_handle_closed);
  pz_bench_mbox_close(&w->inbox);
  for (uint32_t i = 0; i < w->o->n_urls; i++)
    pz_wsc_ctx_dispose(&w->wsc[i]);
  pz_bench_mbox_post(w->to_main, m, false);
}

static void stop_begin(pz_bench_worker_t *w) {
  sync_bytes(w);
  w->at_stop = w->cum;
  w->stopping = true;
  w->in_step = false;
  while (w->heap_n > 0)
    pz_worker_heap_remove(w, w->heap[0]);
  for (uint32_t i = 0; i < w->n_clients; i++)
    pz_sim_stop(w->clients[i]);
}

/* ---- timers and inbox ---------------------------------------------------- */

static void on_tick(uv_timer_t *t) {
  pz_bench_worker_t *w = t->data;
  uint64_t now = uv_hrtime();

  if (w->stopped)
    return;
  if (w->stopping) {
    if (live_conns(w) == 0)
      finalize(w);
    return;
  }
  heap_run(w, now);
  sched_run(w, now);
  lazy_run(w, now);
  if (w->in_step) {
    if (!w->win_started && now >= w->t_win0)
      window_start(w, now);
    if (w->win_started && !w->win_ended && now >= w->t_win1)
      window_end(w, now);
    if (w->win_ended && now >= w->t_end)
      step_done(w);
  }
}

static void on_prog(uv_timer_t *t) {
  pz_bench_worker_t *w = t->data;
  if (w->stopping)
    return;
  pz_bench_msg_t *m = pz_bench_msg_new(PZ_MSG_PROGRESS, w->idx);
  sync_bytes(w);
  m->u.progress.cum = w->cum;
  m->u.progress.present = w->present;
  m->u.progress.sec = xcalloc(1, sizeof(pz_hist_t));
  *m->u.progress.sec = *w->h_sec;
  pz_hist_reset(w->h_sec);
  pz_bench_mbox_post(w->to_main, m, true);
}

static void on_inbox(uv_async_t *a) {
  pz_bench_worker_t *w = a->data;
  pz_bench_msg_t *m = pz_bench_mbox_take(&w->inbox), *next;

  for (; m != NULL; m = next) {
    next = m->next;
    if (m->type == PZ_MSG_STEP && !w->stopping)
      step_begin(w, m);
    else if (m->type == PZ_MSG_STOP && !w->stopping)
      stop_begin(w);
    pz_bench_msg_free(m);
  }
}

/* ---- life ---------------------------------------------------------------- */

int pz_bench_worker_create(pz_bench_worker_t **out, uint32_t idx,
                           const pz_bench_opts_t *o, pz_bench_mbox_t *to_main) {
  pz_bench_worker_t *w = xcalloc(1, sizeof(*w));
  int r;

  w->idx = idx;
  w->o = o;
  w->to_main = to_main;
  w->rng = pz_rng_seed(o->seed * 7919 + idx);
  w->epoch_ns = uv_hrtime();
  pz_idmap_init(&w->ids);
  msgpack_sbuffer_init(&w->sb);
  msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
  if (!msgpack_zone_init(&w->zone, 4096)) {
    fprintf(stderr, "plaza-bench: out of memory\n");
    abort();
  }
  w->h_move = xcalloc(1, sizeof(pz_hist_t));
  w->h_chat = xcalloc(1, sizeof(pz_hist_t));
  w->h_setup = xcalloc(1, sizeof(pz_hist_t));
  w->h_lag = xcalloc(1, sizeof(pz_hist_t));
  w->h_sec = xcalloc(1, sizeof(pz_hist_t));
  w->h_move_same = xcalloc(1, sizeof(pz_hist_t));
  w->h_move_cross = xcalloc(1, sizeof(pz_hist_t));
  pz_hist_reset(w->h_move_same);
  pz_hist_reset(w->h_move_cross);
  pz_hist_reset(w->h_move);
  pz_hist_reset(w->h_chat);
  pz_hist_reset(w->h_setup);
  pz_hist_reset(w->h_lag);
  pz_hist_reset(w->h_sec);

  /* The schedule: moves at move_hz; with no moves but chats, a 1 Hz
   * activity that only chats; idle: nothing. */
  double period_s = o->move_hz > 0        ? 1.0 / o->move_hz
                    : o->chat_per_min > 0 ? 1.0
                                          : 0;
  if (period_s > 0) {
    w->sched_on = true;
    w->period_s = period_s;
    w->period_ns = (uint64_t)(period_s * 1e9);
    uint64_t nb = w->period_ns / 1000000u;
    w->nb = (uint32_t)(nb < 1 ? 1 : nb > 1000 ? 1000 : nb);
    w->bucket_ns = w->period_ns / w->nb;
    w->bucket = xcalloc(w->nb, sizeof(*w->bucket));
    w->bucket_n = xcalloc(w->nb, sizeof(*w->bucket_n));
    w->chat_p = o->chat_per_min / 60.0 * period_s;
    w->cursor = 0;
  }

  if (o->lazy_ms > 0)
    w->lazy_slice_ns = (uint64_t)o->lazy_ms * 1000000u / PZ_LAZY_SLICES;

  if (o->local_ips > 1) {
    w->binds = xcalloc(o->local_ips, sizeof(*w->binds));
    for (uint32_t i = 0; i < o->local_ips; i++) {
      w->binds[i].sin_family = AF_INET;
      w->binds[i].sin_addr.s_addr = htonl(0x7f000001u + i);
    }
  }

  if ((r = uv_loop_init(&w->loop)) != 0)
    goto fail;
  uv_loop_configure(&w->loop, UV_METRICS_IDLE_TIME);
  w->wsc = xcalloc(o->n_urls, sizeof(*w->wsc));
  for (uint32_t i = 0; i < o->n_urls; i++) {
    if ((r = pz_wsc_ctx_init(&w->wsc[i], &w->loop, o->urls[i],
                             o->proto->subprotocol, &pz_sim_wsc_cbs,
                             o->seed + idx + ((uint64_t)i << 32))) != 0) {
      fprintf(stderr, "plaza-bench: bad --url '%s': %s\n", o->urls[i],
              pz_client_strerror(r));
      goto fail;
    }
  }
  if ((r = pz_bench_mbox_init(&w->inbox, &w->loop, on_inbox, w)) != 0)
    goto fail;
  uv_timer_init(&w->loop, &w->tick);
  uv_timer_init(&w->loop, &w->prog);
  w->tick.data = w->prog.data = w;
  uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
  uv_timer_start(&w->prog, on_prog, 1000, 1000);
  *out = w;
  return 0;

fail:
  fprintf(stderr, "plaza-bench: worker %u: %s\n", idx,
          r < 0 && r > -100 ? pz_client_strerror(r) : uv_strerror(r));
  return r < 0 ? r : -1;
}

static void thread_main(void *arg) {
  pz_bench_worker_t *w = arg;
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

int pz_bench_worker_start(pz_bench_worker_t *w) {
  return uv_thread_create(&w->thread, thread_main, w);
}

void pz_bench_worker_post(pz_bench_worker_t *w, pz_bench_msg_t *msg) {
  pz_bench_mbox_post(&w->inbox, msg, false);
}

void pz_bench_worker_destroy(pz_bench_worker_t *w) {
  uv_thread_join(&w->thread);
  if (uv_loop_close(&w->loop) != 0)
    fprintf(stderr, "plaza-bench: worker %u: handles left open\n", w->idx);
  for (uint32_t i = 0; i < w->n_clients; i++) {
    pz_bench_client_t *c = w->clients[i];
    free(c->sent);
    free(c->seen);
    free(c->expect);
    if (c->ctab) {
      pz_compact_dispose(c->ctab);
      free(c->ctab);
    }
    free(c->session);
    free(c);
  }
  for (uint32_t i = 0; i < w->cap_rooms; i++) {
    if (w->rooms[i]) {
      free(w->rooms[i]->members);
      free(w->rooms[i]);
    }
  }
  free(w->rooms);
  free(w->clients);
  free(w->heap);
  free(w->bucket);
  free(w->bucket_n);
  free(w->binds);
  free(w->wsc);
  pz_idmap_dispose(&w->ids);
  msgpack_sbuffer_destroy(&w->sb);
  msgpack_zone_destroy(&w->zone);
  free(w->h_move);
  free(w->h_chat);
  free(w->h_setup);
  free(w->h_lag);
  free(w->h_sec);
  free(w->h_move_same);
  free(w->h_move_cross);
  free(w);
}
