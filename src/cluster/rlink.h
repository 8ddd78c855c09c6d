/*
 * One worker's link to Redis: two hiredis async contexts on the worker's
 * loop, one for commands and one subscribed (hiredis 0.14 lets a
 * subscribed context carry nothing else). The link
 *   - connects both, authenticates, selects the db, and is "up" once a
 *     command has been answered and its probe channel subscribed;
 *   - probes every PZ_RLINK_PROBE_MS: a PUBLISH to its probe channel on
 *     the command context, which must be answered and come back on the
 *     subscriber (PING on a subscribed context never calls back in 0.14),
 *     and declares the link down when either has been silent for
 *     PZ_RLINK_DOWN_MS, without waiting for TCP to notice;
 *   - reconnects with capped exponential backoff and full jitter, and
 *     restores every wanted subscription when it is up again;
 *   - keeps the set of channels wanted, reconciling it with what Redis
 *     confirmed, so a quick unsubscribe/subscribe of one channel never
 *     trips hiredis' per-channel callback table.
 * Everything runs on the loop's thread; only the counters in stats are
 * read by other threads (relaxed atomics).
 */
#ifndef PZ_RLINK_H
#define PZ_RLINK_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "redis_url.h"

#define PZ_RLINK_PROBE_MS 500
#define PZ_RLINK_DOWN_MS 2000
#define PZ_RLINK_CONNECT_MS 2000
#define PZ_RLINK_BACKOFF_MIN_MS 100
#define PZ_RLINK_BACKOFF_MAX_MS 5000
/* Commands awaiting a reply before new ones are refused (PZ_EFULL). */
#define PZ_RLINK_MAX_PENDING 20000
#define PZ_RLINK_CHANNEL_MAX 128

typedef struct pz_rlink pz_rlink_t;

typedef struct pz_rlink_stats {
  _Atomic int up;
  _Atomic uint64_t reconnects; /* times the link came back after a loss */
  _Atomic uint64_t publishes;
  _Atomic uint64_t received; /* channel messages, probes excluded */
  _Atomic uint64_t bad;      /* counted by the consumer */
} pz_rlink_stats_t;

typedef struct pz_rlink_events {
  /* Up (again): subscriptions are being restored; the consumer restores
   * what it keeps in Redis. */
  void (*up)(pz_rlink_t *l, void *data);
  /* Lost: pending command callbacks have run with a NULL reply. */
  void (*down)(pz_rlink_t *l, void *data);
  /* A channel's subscription is confirmed (each time, also after a
   * reconnect). */
  void (*subscribed)(pz_rlink_t *l, void *data, const char *ch, size_t len);
  /* A message on a channel (bytes borrowed for the call). */
  void (*message)(pz_rlink_t *l, void *data, const char *ch, size_t chlen,
                  const uint8_t *msg, size_t len);
  /* The link finished closing (pz_rlink_close); l is freed after. */
  void (*closed)(pz_rlink_t *l, void *data);
} pz_rlink_events_t;

/* Creates a link on loop (copies url and probe; the probe payload is what
 * the link publishes to `probe_channel` and expects back). Starts
 * connecting at once. stats is the caller's, written by the link until
 * it has closed (so other threads may read it for longer). */
pz_rlink_t *pz_rlink_create(uv_loop_t *loop, const pz_redis_url_t *url,
                            const char *probe_channel, const uint8_t *probe,
                            size_t probe_len, const pz_rlink_events_t *ev,
                            void *data, pz_rlink_stats_t *stats);
/* Closes: what was sent is flushed (at most PZ_RLINK_CONNECT_MS), then the
 * handles close and events->closed runs. */
void pz_rlink_close(pz_rlink_t *l);

/* False for a NULL link (closed). */
bool pz_rlink_up(const pz_rlink_t *l);
/* In a command callback: the `data` the link was created with. */
void *pz_rlink_context_data(const redisAsyncContext *ac);

/* A command on the command context. cb (may be NULL) runs exactly once
 * with the reply, or NULL when the link went down first. Returns 0,
 * PZ_ECLOSED when the link is down, PZ_EFULL past PZ_RLINK_MAX_PENDING
 * (cb is not called then). */
int pz_rlink_command(pz_rlink_t *l, redisCallbackFn *cb, void *privdata,
                     const char *fmt, ...);
int pz_rlink_command_argv(pz_rlink_t *l, redisCallbackFn *cb, void *privdata,
                          int argc, const char **argv, const size_t *lens);
/* PUBLISH channel payload, counted in stats. */
int pz_rlink_publish(pz_rlink_t *l, const char *ch, size_t chlen,
                     const void *payload, size_t len, redisCallbackFn *cb,
                     void *privdata);

/* Wanting a channel or not any more (kept across reconnects). */
void pz_rlink_subscribe(pz_rlink_t *l, const char *ch, size_t len);
void pz_rlink_unsubscribe(pz_rlink_t *l, const char *ch, size_t len);

#endif
