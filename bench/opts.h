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
};

typedef struct pz_bench_opts {
  const char *url;
  const struct pz_bench_proto *proto;
  const char *proto_name; /* "plaza" or "socketio" */
  const char *scenario;
  int scen; /* enum pz_bench_scenario */
  uint32_t clients, room_size;
  double move_hz, chat_per_min;
  double ramp_s, duration_s, drain_s;
  uint32_t threads, sample, local_ips;
  uint32_t lazy_ms; /* count-only clients are read every lazy_ms, 0: at once */
  int server_pid;   /* 0: none */
  const char *json;
  bool find_capacity;
  double p99_ms;
  uint32_t start, step, max;
  bool churn;
  bool progress; /* the one-a-second line on stderr */
  uint64_t seed;
  char run_id[16]; /* in room names, so runs against one server never mix */
} pz_bench_opts_t;

/* Parses argv into o. Returns 0 to run, 1 after printing the help, -1
 * after printing what was wrong (on stderr). */
int pz_bench_opts_parse(pz_bench_opts_t *o, int argc, char **argv);

#endif
