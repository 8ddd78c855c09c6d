/*
 * One bench thread: a libuv loop that owns its rooms (room r belongs to
 * worker r % threads), their clients, their connections and their
 * figures. main talks to it only through its inbox (mbox.h): STEP runs a
 * ramp, a measured window and a drain, then reports STEP_DONE; STOP
 * closes every client and ends the thread.
 *
 * Time: one 1 ms timer drives everything timed. Connects and churn events
 * wait in a binary heap keyed by due time. Moves follow a fixed period cut
 * into 1 ms buckets: each client gets a random bucket (its phase) and the
 * timer sends the moves of every bucket whose time has come; how late that
 * is, is the send lag. When the loop falls more than a whole period
 * behind, whole periods are skipped (counted, never bursted: a burst would
 * break the server's speed and rate rules).
 */
#ifndef PZ_BENCH_WORKER_H
#define PZ_BENCH_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "idmap.h"
#include "mbox.h"
#include "opts.h"
#include "sim.h"
#include "stats.h"
#include "wsc.h"

struct pz_bench_worker {
  uint32_t idx;
  const pz_bench_opts_t *o; /* read-only, shared */
  uv_loop_t loop;
  uv_thread_t thread;
  pz_bench_mbox_t inbox;
  pz_bench_mbox_t *to_main;
  uv_timer_t tick, prog;
  pz_wsc_ctx_t *wsc;         /* [o->n_urls]: one context per node */
  struct sockaddr_in *binds; /* [o->local_ips] source addresses, or NULL */

  pz_bench_client_t **clients;
  uint32_t n_clients, cap_clients;
  pz_bench_room_t **rooms; /* by local index: global room / threads */
  uint32_t cap_rooms;
  pz_idmap_t ids;

  /* the move schedule */
  bool sched_on;
  uint32_t nb; /* buckets per period */
  uint64_t period_ns, bucket_ns;
  double period_s, chat_p;    /* chat probability per period */
  int64_t cursor;             /* last bucket handled (absolute) */
  pz_bench_client_t **bucket; /* [nb] list heads */
  uint32_t *bucket_n;         /* [nb] clients per bucket */
  uint64_t n_sched;

  /* lazy reads: clients i with i % PZ_LAZY_SLICES == k are read in
   * slice k, one slice every lazy_ms / PZ_LAZY_SLICES */
  uint64_t lazy_slice_ns;
  int64_t lazy_cursor;

  /* timed actions: connects, churn */
  pz_bench_client_t **heap;
  uint32_t heap_n, heap_cap;

  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_zone zone;
  uint64_t rng;
  uint64_t epoch_ns; /* the worker's clock origin (send times are us since) */

  /* the step under way */
  bool in_step, win_open, win_started, win_ended, stopping, stopped;
  uint64_t t_ramp0, t_win0, t_win1, t_end;
  pz_bench_counters_t cum, at_step, at_win0, at_win1, at_stop;
  uint64_t expected, delivered, carried;
  uint64_t present; /* clients in their room now */
  pz_hist_t *h_move, *h_chat, *h_setup, *h_lag, *h_sec;
  /* the window's move latency by where sender and receiver are: on the
   * same node (the same --url) or on different ones */
  pz_hist_t *h_move_same, *h_move_cross;
  double cpu0, cpu1;     /* thread CPU s at window start / end */
  uint64_t idle0, idle1; /* loop idle ns */
  uint64_t wall0, wall1;
};

/* Main thread: builds worker idx with its loop, timers and inbox, ready to
 * start. Returns 0 or a negative error (printed). */
int pz_bench_worker_create(pz_bench_worker_t **out, uint32_t idx,
                           const pz_bench_opts_t *o, pz_bench_mbox_t *to_main);
/* Starts the thread. */
int pz_bench_worker_start(pz_bench_worker_t *w);
/* Any thread: gives msg to the worker. */
void pz_bench_worker_post(pz_bench_worker_t *w, pz_bench_msg_t *msg);
/* Main thread, after STOPPED: joins the thread and frees everything. */
void pz_bench_worker_destroy(pz_bench_worker_t *w);

/* ---- for sim.c (worker thread) ------------------------------------------- */

void pz_worker_sched_add(pz_bench_worker_t *w, pz_bench_client_t *c);
void pz_worker_sched_remove(pz_bench_worker_t *w, pz_bench_client_t *c);
void pz_worker_heap_push(pz_bench_worker_t *w, pz_bench_client_t *c,
                         uint64_t due_ns);
void pz_worker_heap_remove(pz_bench_worker_t *w, pz_bench_client_t *c);
/* Microseconds on the worker clock (wraps after 71 minutes: differences
 * are taken modulo 2^32). */
static inline uint32_t pz_worker_us(const pz_bench_worker_t *w, uint64_t ns) {
  return (uint32_t)((ns - w->epoch_ns) / 1000);
}

/* sim.c entry points used by worker.c */
void pz_sim_connect(pz_bench_client_t *c, uint64_t now);
void pz_sim_timed(pz_bench_client_t *c, uint64_t now);
void pz_sim_activity(pz_bench_client_t *c, uint64_t now, uint64_t due);
void pz_sim_stop(pz_bench_client_t *c);
extern const pz_wsc_cbs_t pz_sim_wsc_cbs;

#endif
