/*
 * Per-worker counters for /metrics. Each worker writes only its own block,
 * with relaxed atomic stores (a plain mov on x86: no lock, no fence); the
 * HTTP side sums every worker's block with relaxed loads. Gauges are signed
 * because a session may be counted up on one worker and down on another.
 */
#ifndef PZ_METRICS_H
#define PZ_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PZ_TICK_BUCKETS 10
/* Upper bounds of the tick duration histogram, in microseconds. */
#define PZ_TICK_BOUNDS_US                                                      \
  { 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000 }

/* Close codes we count, in this order. */
#define PZ_CLOSE_CODES                                                         \
  {                                                                            \
    1000, 1001, 1002, 1003, 1006, 1007, 1009, 1011, 4000, 4001, 4002, 4003,    \
        4004                                                                   \
  }
#define PZ_N_CLOSE_CODES 13

/* Sizes of the by-op and by-code arrays: the highest op or code + 1. */
#define PZ_METRICS_OPS_IN 12  /* client ops; [0]: unknown/malformed */
#define PZ_METRICS_OPS_OUT 15 /* server ops */
#define PZ_METRICS_ERRORS 13  /* ERROR codes */

typedef struct pz_metrics {
  _Atomic int64_t connections; /* open sockets (HTTP and WebSocket) */
  _Atomic int64_t sessions;
  _Atomic int64_t rooms;
  _Atomic uint64_t accepted;
  _Atomic uint64_t msgs_in[PZ_METRICS_OPS_IN];   /* by client op */
  _Atomic uint64_t msgs_out[PZ_METRICS_OPS_OUT]; /* by server op */
  _Atomic uint64_t bytes_in, bytes_out;
  _Atomic uint64_t errors[PZ_METRICS_ERRORS]; /* ERROR frames sent, by code */
  _Atomic uint64_t closes[PZ_N_CLOSE_CODES];
  _Atomic uint64_t dropped_frames; /* messages shed: full inbox, slow client */
  _Atomic uint64_t state_frames, state_entries;
  _Atomic uint64_t state_resyncs; /* full STATEs to clients owed one */
  /* VIEW: compact STATEs, their entries and bytes; members named AWAY */
  _Atomic uint64_t state_c_frames, state_c_entries, state_c_bytes;
  _Atomic uint64_t aways;
  _Atomic uint64_t tick_buckets[PZ_TICK_BUCKETS + 1]; /* last: +Inf */
  _Atomic uint64_t tick_sum_us, tick_count;
  _Atomic uint64_t http_requests;
  /* Room states kept for emptied rooms, and those dropped before their
   * lifetime because of --room-state-parked-max. */
  _Atomic int64_t room_states_parked;
  _Atomic uint64_t room_states_evicted;
  /* connections refused: no PROXY header from a trusted proxy, and
   * upgrades past --connect-rate */
  _Atomic uint64_t refused_proxy, refused_rate;
} pz_metrics_t;

#define PZ_ADD(field, n)                                                       \
  atomic_store_explicit(                                                       \
      &(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
      memory_order_relaxed)
#define PZ_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)

void pz_metrics_tick(pz_metrics_t *m, uint64_t us);
void pz_metrics_close(pz_metrics_t *m, int code);

#endif
