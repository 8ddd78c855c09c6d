/*
 * The process: configuration, node identity and the workers. Created by
 * main before any thread starts; read-only afterwards but for the atomic
 * counters, which any worker may change.
 */
#ifndef PZ_SERVER_H
#define PZ_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct pz_worker;
struct pz_bus;
struct pz_auth;
struct pz_tls_ctx;

typedef struct pz_server {
  const pz_config_t *cfg;
  uint32_t node_id;
  char node_name[32]; /* "plaza-<node id>", in /healthz */
  uint64_t started_ms;
  int n_workers;
  struct pz_worker **workers;
  struct pz_bus *bus;   /* local, or Redis with --redis: bus.h */
  struct pz_auth *auth; /* JWT, sessions per user, admin token (auth.h) */
  /* NULL: plain; main reloads its certificate on SIGHUP */
  struct pz_tls_ctx *tls;
  _Atomic int64_t sessions; /* against --max-connections */
  _Atomic int draining;     /* SIGTERM or a drain came: /readyz says 503 */
  _Atomic int stopping;     /* clients are being closed */
  /* Workers whose connections are not all gone yet at shutdown (every
   * worker at start): each keeps its inbox open until this is 0. */
  _Atomic int workers_busy;
  _Atomic int drain_asked; /* POST /admin/drain came (once is enough) */
} pz_server_t;

/* Shard of a room: FNV-1a 64 of its name, modulo the workers. Stable, and
 * documented, so tools can place rooms on purpose. */
static inline int pz_room_shard(const char *name, size_t len, int n_workers) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= 1099511628211ull;
  }
  return (int)(h % (uint64_t)n_workers);
}

#endif
