/*
 * What the bench counts, per thread, and how threads' figures merge.
 *
 * Counters are plain uint64_t fields only, so a snapshot is a struct copy
 * and a difference of two snapshots is field by field (window figures are
 * "counters at window end minus counters at window start"). Each thread
 * owns its counters; main receives copies through the mailbox.
 */
#ifndef PZ_BENCH_STATS_H
#define PZ_BENCH_STATS_H

#include <stdint.h>

#include "hist.h"

/* ERROR op codes 1..15 of the protocol keep their number; 0 collects
 * others; then the bench's own kinds (Socket.io has no ERROR op). */
enum {
  PZ_ERRK_OTHER = 0,
  PZ_ERRK_PROTO_MAX = 15,
  PZ_ERRK_SIO_CONNECT_ERROR = 16, /* CONNECT refused (type 4) */
  PZ_ERRK_SIO_DISCONNECT = 17,    /* the server's DISCONNECT packet */
  PZ_ERRK_N = 18,
};

/* Close codes: 1000..1015 and 4000..4015 by number, the rest in "other". */
#define PZ_CLOSEK_N 33
#define PZ_CLOSEK_OTHER 32

typedef struct pz_bench_counters {
  uint64_t conn_attempted; /* connects started (reconnects included) */
  uint64_t conn_made;      /* reached the room (ROOM received) */
  uint64_t conn_failed;    /* ended, or could not start, before that */
  uint64_t conn_nofd;      /* of which: no file descriptor left */
  uint64_t moves_due;      /* MOVE the schedule asked for */
  uint64_t moves_sent;
  uint64_t moves_skipped; /* due but not sent: bench behind or backlog */
  uint64_t chats_sent, chats_recv;
  uint64_t state_msgs;            /* STATE messages, every client */
  uint64_t state_entries;         /* their entries, every client */
  uint64_t state_entries_sampled; /* entries read by sampled clients */
  uint64_t state_msgs_sampled;    /* their STATE / STATE_C messages */
  uint64_t state_bytes_sampled;   /* and those messages' bytes */
  uint64_t aways;                 /* members named in AWAY, every client */
  uint64_t bytes_in, bytes_out;   /* socket bytes, upgrade included */
  uint64_t lat_lost;      /* STATE for a seq whose send time was recycled */
  uint64_t decode_errors; /* messages the bench could not read */
  uint64_t drops, resumes, rejoins;       /* churn */
  uint64_t lag_sum_us, lag_n, lag_max_us; /* send schedule lateness */
  uint64_t errors[PZ_ERRK_N];
  uint64_t closes[PZ_CLOSEK_N];
} pz_bench_counters_t;

/* One thread's (or, merged, the run's) figures of one step. */
typedef struct pz_bench_result {
  pz_bench_counters_t step;     /* from the step's start to its end */
  pz_bench_counters_t win;      /* over the measured window */
  uint64_t expected, delivered; /* moves x sampled members, see sim.c */
  uint64_t carried;             /* clients already in from earlier steps */
  uint64_t present;             /* clients in their room at the end */
  uint32_t threads;
  double wall_s;        /* measured window */
  double cpu_s;         /* threads' CPU over the window (sum) */
  double busy_max;      /* busiest thread: loop not idle / wall */
  double cpu_max;       /* busiest thread: CPU / wall */
  pz_hist_t move, chat; /* latency, window */
  /* move latency, window, split by node: sender and receiver connected
   * to the same --url, or to different ones (move = the two merged) */
  pz_hist_t move_same, move_cross;
  pz_hist_t setup; /* connect to ROOM, whole step */
  pz_hist_t lag;   /* send schedule lateness, window */
} pz_bench_result_t;

/* d = a - b, field by field. */
void pz_counters_sub(pz_bench_counters_t *d, const pz_bench_counters_t *a,
                     const pz_bench_counters_t *b);
/* d += a, field by field (lag_max_us: the larger). */
void pz_counters_add(pz_bench_counters_t *d, const pz_bench_counters_t *a);

/* Index of an error kind / close code in the arrays above, and back. */
int pz_errk_of_code(int code);
int pz_closek_of_code(int code);
int pz_closek_code(int k); /* -1 for PZ_CLOSEK_OTHER */

/* Clears r (histograms empty). */
void pz_result_reset(pz_bench_result_t *r);
/* Adds src, a thread's result, into dst. */
void pz_result_merge(pz_bench_result_t *dst, const pz_bench_result_t *src);

#endif
