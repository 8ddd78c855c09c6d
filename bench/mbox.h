/*
 * Mailboxes between the bench's main thread and its workers (STYLE.md:
 * threads talk only through mailboxes): a mutex and a list; the receiver
 * is woken with uv_async_send when the list turns non-empty, takes the
 * whole batch and handles it unlocked. A message belongs to whoever
 * receives it, who frees it with pz_bench_msg_free().
 *
 * Bound: PZ_MBOX_CAP messages. Progress reports are dropped when the box
 * is full (the next second brings a fresher one); commands and results
 * are never dropped (a handful per step).
 */
#ifndef PZ_BENCH_MBOX_H
#define PZ_BENCH_MBOX_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "stats.h"

#define PZ_MBOX_CAP 256

enum pz_bench_msg_type {
  PZ_MSG_STEP,      /* main -> worker: run one step */
  PZ_MSG_STOP,      /* main -> worker: close every client and end */
  PZ_MSG_PROGRESS,  /* worker -> main, every second */
  PZ_MSG_STEP_DONE, /* worker -> main: the step's figures */
  PZ_MSG_STOPPED,   /* worker -> main: all closed; final closes */
};

typedef struct pz_bench_msg {
  struct pz_bench_msg *next;
  int type;
  uint32_t from; /* worker index */
  union {
    struct {
      uint32_t n_prev, n_total; /* clients before and after this step */
      uint64_t t_ramp0, t_win0, t_win1, t_end; /* uv_hrtime() ns */
    } step;
    struct {
      pz_bench_counters_t cum; /* since the start */
      uint64_t present;        /* clients in their room now */
      pz_hist_t *sec;          /* move latency of the last second, owned */
    } progress;
    pz_bench_result_t *result;   /* STEP_DONE, owned */
    pz_bench_counters_t stopped; /* counters of the final close */
  } u;
} pz_bench_msg_t;

typedef struct pz_bench_mbox {
  uv_mutex_t mu;
  pz_bench_msg_t *head, *tail;
  uint32_t n;
  uint64_t dropped;
  uv_async_t async; /* on the receiver's loop */
} pz_bench_mbox_t;

/* Sets up the box on the receiver's loop (call before that loop runs, or
 * on its thread). cb runs on the receiver's thread. Returns 0 or a libuv
 * error. */
int pz_bench_mbox_init(pz_bench_mbox_t *mb, uv_loop_t *loop, uv_async_cb cb,
                       void *data);
/* Closes the async handle (receiver's thread) and frees what is left. */
void pz_bench_mbox_close(pz_bench_mbox_t *mb);

/* Any thread: hands msg to the receiver. When the box is full a
 * droppable message is freed instead and false returned. */
bool pz_bench_mbox_post(pz_bench_mbox_t *mb, pz_bench_msg_t *msg,
                        bool droppable);
/* Receiver: takes every message, oldest first (a list via ->next). */
pz_bench_msg_t *pz_bench_mbox_take(pz_bench_mbox_t *mb);

/* A zeroed message of `type` (aborts on out-of-memory: the bench cannot
 * go on without its control messages). */
pz_bench_msg_t *pz_bench_msg_new(int type, uint32_t from);
void pz_bench_msg_free(pz_bench_msg_t *msg);

#endif
