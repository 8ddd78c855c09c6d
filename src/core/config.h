/*
 * Configuration: command-line flags, each with an environment-variable twin
 * (PLAZA_<FLAG>, flags win). Read once by main, read-only afterwards and
 * shared by every thread.
 */
#ifndef PZ_CONFIG_H
#define PZ_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define PZ_PATH_MAX 4096

typedef struct pz_config {
  char host[64];
  int port;
  int workers;
  int tick_hz;
  uint32_t max_message;
  double move_rate;
  double chat_rate;
  double chat_burst;
  double join_rate;
  double join_burst;
  uint32_t abuse_limit;
  uint32_t malformed_limit;
  uint32_t hello_timeout_ms;
  uint32_t resume_grace_ms;
  uint32_t ping_interval_ms;
  uint32_t idle_timeout_ms;
  uint32_t room_max_members;
  /* protocol 1.1: member state, signals, room state (docs/protocol.md) */
  uint32_t member_state_max;
  uint32_t signal_max;
  uint32_t room_value_max;
  uint32_t room_keys_max;
  uint32_t room_state_max;
  uint32_t room_state_ttl_ms;
  uint32_t room_state_parked_max;
  double view_cell; /* interest cells (shards/grid.h) */
  double app_rate;
  double app_burst;
  uint32_t max_connections;
  uint32_t max_outbound;
  int sndbuf;
  double max_speed;
  double bounds;
  uint32_t node_id;
  char redis[256]; /* "": embedded; else redis://... (holds a password) */
  int log_level;
  /* Who may connect (docs/auth.md). Empty strings: not configured. */
  char jwt_secret[512]; /* from --jwt-secret or --jwt-secret-file */
  char jwt_secret_file[256];
  uint32_t jwt_leeway_s;
  uint32_t jwt_max_lifetime_s; /* 0: any exp */
  char jwt_issuer[256];
  char jwt_audience[256];
  uint32_t max_sessions_per_user; /* 0: no limit */
  char allowed_origins[1024];     /* comma-separated; "" or "*": any */
  char admin_token[129];
  char tls_cert[PZ_PATH_MAX]; /* "" : plain ws:// and http:// */
  char tls_key[PZ_PATH_MAX];
  uint32_t tls_key_updates; /* per 10 s per connection; 0: no limit */
  /* Behind proxies (docs/operations.md, "Client addresses"): the PROXY
   * protocol, and whose PROXY header and X-Forwarded-For are believed. */
  bool proxy_protocol;
  char trusted_proxies_spec[1024]; /* as given */
  pz_cidr_list_t trusted_proxies;
  double connect_rate; /* upgrades per second per client address; 0: off */
  double connect_burst;
  uint32_t drain_delay_ms; /* /readyz 503 this long before closing */
} pz_config_t;

enum { PZ_CONFIG_OK = 0, PZ_CONFIG_EXIT = 1, PZ_CONFIG_ERROR = 2 };

/* Fills cfg from defaults, then environment, then argv. Returns
 * PZ_CONFIG_OK to run, PZ_CONFIG_EXIT after --help/--version (printed to
 * stdout), PZ_CONFIG_ERROR after printing the reason to stderr. */
int pz_config_load(pz_config_t *cfg, int argc, char **argv);

#define PZ_MAX_WORKERS 64

#endif
