/*
 * Redis commands per second over the bench's measured window
 * (--redis-url, bench/CONTRACT.md).
 *
 * At the window's start and end the bench's main thread sends one
 * `INFO commandstats` + `INFO stats` over a plain synchronous hiredis
 * connection that stays open in between, and takes the difference of the
 * per-command `calls` counters. The bench's own traffic is left out: the
 * first INFO is counted by Redis after it ran, so the difference holds
 * exactly one `info` call of ours, which is subtracted. Commands that Lua
 * scripts run (redis.call) are counted by Redis under their own names, as
 * well as the EVALSHA/FCALL that ran them.
 *
 * Parsing and differences are sans-I/O (unit-tested); only
 * pz_rstats_sample() talks to Redis.
 */
#ifndef PZ_BENCH_RSTATS_H
#define PZ_BENCH_RSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PZ_RSTATS_MAX 256 /* commands kept from one INFO */
#define PZ_RSTATS_TOP 10  /* commands reported */
#define PZ_RSTATS_NAME 48

typedef struct pz_rstat_cmd {
  char name[PZ_RSTATS_NAME]; /* as Redis names it: "publish", "client|list" */
  uint64_t calls;
  uint64_t usec; /* time Redis spent in it */
} pz_rstat_cmd_t;

/* One INFO reply, parsed. */
typedef struct pz_rstats {
  uint32_t n;
  pz_rstat_cmd_t cmd[PZ_RSTATS_MAX];
  /* from INFO stats / server; -1 when absent */
  int64_t total_commands_processed;
  int64_t net_input_bytes, net_output_bytes;
  int64_t process_id;
} pz_rstats_t;

/* The figures of a window, as reported. */
typedef struct pz_redis_fig {
  bool ok;
  char error[160]; /* why not ok */
  double window_s; /* between the two samples */
  uint64_t calls;  /* every command, the bench's own INFO left out */
  uint64_t usec;
  int64_t processed; /* total_commands_processed difference, -1: unknown */
  int64_t net_in, net_out; /* bytes, -1: unknown */
  int64_t pid;             /* the server's process_id, -1: unknown */
  uint32_t n_top;
  pz_rstat_cmd_t top[PZ_RSTATS_TOP]; /* most calls first */
} pz_redis_fig_t;

/* Where to connect, from redis://[:password@]host[:port][/db] (user names,
 * redis 6 ACL style "user:password@", are accepted too). */
typedef struct pz_redis_addr {
  char host[256];
  int port;
  char user[64], password[256]; /* "" when absent */
  int db;
} pz_redis_addr_t;

/* Returns 0, or -1 when url is not of that form. */
int pz_redis_url_parse(const char *url, pz_redis_addr_t *out);

/* url with the password replaced by "***" (for logs, tables and JSON). */
void pz_redis_url_redact(const char *url, char *buf, size_t cap);

/* Parses the text of an INFO reply (any sections; "cmdstat_*" lines of
 * commandstats, total_commands_processed, total_net_*_bytes, process_id).
 * Lines it does not know are skipped; commands past PZ_RSTATS_MAX are
 * dropped. Returns the number of commands read. */
uint32_t pz_rstats_parse(const char *info, pz_rstats_t *out);

/* The window's figures from the samples at its start (a) and end (b),
 * window_s apart: per command calls b - a (a command missing in a counts
 * from 0; a counter that went down, e.g. CONFIG RESETSTAT, from 0 too),
 * minus `own_info` calls of "info" (the bench's own), sorted by calls,
 * the first PZ_RSTATS_TOP kept. */
void pz_rstats_diff(const pz_rstats_t *a, const pz_rstats_t *b, double window_s,
                    uint64_t own_info, pz_redis_fig_t *out);

/* ---- I/O (bench main thread) -------------------------------------------- */

typedef struct pz_redis_sampler pz_redis_sampler_t;

/* Connects (1 s timeout) and authenticates; NULL with err filled when it
 * cannot. */
pz_redis_sampler_t *pz_redis_sampler_open(const char *url, char *err,
                                          size_t cap);
/* One INFO commandstats + stats + server. Returns 0, or -1 with err. */
int pz_redis_sampler_take(pz_redis_sampler_t *s, pz_rstats_t *out, char *err,
                          size_t cap);
void pz_redis_sampler_close(pz_redis_sampler_t *s);

#endif
