/*
 * plaza-bench's command line (bench/CONTRACT.md): flags, scenario presets
 * and derived values. Parsed once in main; read-only afterwards and shared
 * by every thread.
 */
#ifndef PZ_BENCH_OPTS_H
#define PZ_BENCH_OPTS_H

#include <stdbool.h>
#include <stdint.h>

struct pz_bench_proto;

enum pz_bench_scenario {
  PZ_SCEN_SOCIAL,
  PZ_SCEN_CROWD,
  PZ_SCEN_IDLE,
  PZ_SCEN_CHURN,
  PZ_SCEN_EVENT,
};

#define PZ_BENCH_MAX_URLS 64 /* --url: nodes one run drives */
#define PZ_BENCH_MAX_PIDS 16 /* --server-pid: processes sampled */

typedef struct pz_bench_opts {
  const char *url; /* the first of urls (or the default) */
  /* --url, comma-separated or repeated: client i connects to
   * urls[i % n_urls] (round robin by global client index, so the members
   * of a room are spread over the nodes). Each points into url_buf or
   * (owned copies). */
  char *urls[PZ_BENCH_MAX_URLS];
  uint32_t n_urls;
  char *url_display; /* every URL joined by ',' (owned) */
  const struct pz_bench_proto *proto;
  const char *proto_name; /* "plaza" or "socketio" */
  const char *scenario;
  int scen; /* enum pz_bench_scenario */
  uint32_t clients, room_size;
  double move_hz, chat_per_min;
  double ramp_s, duration_s, drain_s;
  uint32_t threads, sample, local_ips;
  uint32_t lazy_ms; /* count-only clients are read every lazy_ms, 0: at once */
  int server_pid;   /* the first of server_pids, 0: none */
  /* --server-pid PID or LABEL=PID, comma-separated or repeated: CPU and
   * RSS are summed over all of them and reported per pid too. */
  int server_pids[PZ_BENCH_MAX_PIDS];
  char server_labels[PZ_BENCH_MAX_PIDS][24]; /* "" when none was given */
  uint32_t n_pids;
  const char *redis_url; /* --redis-url: sample INFO commandstats, or NULL */
  const char *json;
  bool find_capacity;
  double p99_ms;
  uint32_t start, step, max;
  bool churn;
  /* VIEW (protocol 1.1): the radius each client asks for (0: none sent
   * unless compact), STATE_C or not, and the side of the square the
   * walkers keep to (0: the whole world, as the other scenarios). A client
   * with a view walks on the (x, z) plane, where views are measured. */
  double view_radius;
  bool compact;
  double area;
  bool progress; /* the one-a-second line on stderr */
  uint64_t seed;
  char run_id[16]; /* in room names, so runs against one server never mix */
} pz_bench_opts_t;

/* Parses argv into o. Returns 0 to run, 1 after printing the help, -1
 * after printing what was wrong (on stderr). */
int pz_bench_opts_parse(pz_bench_opts_t *o, int argc, char **argv);

/* Frees what parse allocated. */
void pz_bench_opts_dispose(pz_bench_opts_t *o);

/* Adds the comma-separated URLs of `list` to o (copied). Returns 0, or -1
 * when an item is empty or there are more than PZ_BENCH_MAX_URLS. */
int pz_bench_opts_add_urls(pz_bench_opts_t *o, const char *list);

/* Adds the comma-separated PID or LABEL=PID items of `list` to o.
 * Returns 0, or -1 when an item is malformed or there are too many. */
int pz_bench_opts_add_pids(pz_bench_opts_t *o, const char *list);

/* True when clients send VIEW. */
static inline bool pz_bench_view(const pz_bench_opts_t *o) {
  return o->view_radius > 0 || o->compact;
}

/* Which URL client gidx connects to. */
static inline uint32_t pz_bench_node_of(const pz_bench_opts_t *o,
                                        uint32_t gidx) {
  return o->n_urls > 1 ? gidx % o->n_urls : 0;
}

#endif
