/*
 * Flags and their environment twins. One table drives parsing, the env
 * look-up and --help, so a flag cannot exist in one and not the others.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "redis_url.h"

/* K_STR and K_SECRET: max is the field's size; a secret's value is never
 * echoed. K_REDIS: a redis:// URL, checked, and a secret (it may hold a
 * password). K_BOOL: on or off; the flag alone means on. K_CIDRS: a list
 * of prefixes, kept as given and parsed (see OFF_CIDRS). */
enum kind {
  K_HOST,
  K_STR,
  K_SECRET,
  K_REDIS,
  K_BOOL,
  K_CIDRS,
  K_INT,
  K_U32,
  K_DBL,
  K_LEVEL
};

struct option_spec {
  const char *flag; /* long flag; env is PLAZA_ + upper(flag), - -> _ */
  enum kind kind;
  size_t offset;
  double min, max;   /* numbers only; --help shows them */
  const char *deflt; /* shown by --help; a word when computed */
  const char *help;
};

/* docs/operations.md carries this table (flag, env, default, range,
 * meaning) and tests/integration/test_docs_flags.py checks that the two
 * agree: change them together. */

#define OFF(f) offsetof(pz_config_t, f)
#define SIZE(f) sizeof(((pz_config_t *)0)->f)
static const struct option_spec specs[] = {
    {"host", K_HOST, OFF(host), 0, 0, "0.0.0.0",
     "listen address: an IPv4 or IPv6 literal, or a host name resolved at "
     "start"},
    {"port", K_INT, OFF(port), 0, 65535, "8080",
     "listen port; 0 picks a free one (logged)"},
    {"workers", K_INT, OFF(workers), 1, PZ_MAX_WORKERS, "cores",
     "worker loops, each owning a shard of rooms"},
    {"tick-hz", K_INT, OFF(tick_hz), 1, 1000, "30", "STATE ticks per second"},
    {"max-message", K_U32, OFF(max_message), 64, 64 << 20, "16384",
     "largest client message in bytes; bigger closes 1009"},
    {"move-rate", K_DBL, OFF(move_rate), 0.1, 1e6, "60",
     "MOVE per second per session (burst the same)"},
    {"chat-rate", K_DBL, OFF(chat_rate), 0.01, 1e6, "5",
     "CHAT + WHISPER per second per session"},
    {"join-rate", K_DBL, OFF(join_rate), 0.01, 1e6, "2",
     "JOIN per second per session"},
    {"join-burst", K_DBL, OFF(join_burst), 1, 1e6, "10", "JOIN burst"},
    {"chat-burst", K_DBL, OFF(chat_burst), 1, 1e6, "10",
     "CHAT + WHISPER burst"},
    {"abuse-limit", K_U32, OFF(abuse_limit), 1, 1e9, "100",
     "rate-limited messages within 10 s before close 4003"},
    {"malformed-limit", K_U32, OFF(malformed_limit), 0, 1e9, "10",
     "malformed messages tolerated within 10 s; one more closes 4002"},
    {"hello-timeout-ms", K_U32, OFF(hello_timeout_ms), 1, 1e9, "10000",
     "time from connect (and again from the upgrade) to HELLO; then close "
     "4000"},
    {"resume-grace-ms", K_U32, OFF(resume_grace_ms), 0, 1e9, "30000",
     "how long a dropped session waits for a resume (0: none)"},
    {"ping-interval-ms", K_U32, OFF(ping_interval_ms), 0, 1e9, "25000",
     "silence after which the server pings a client (0: never)"},
    {"idle-timeout-ms", K_U32, OFF(idle_timeout_ms), 0, 1e9, "60000",
     "silence after which a client is closed 1001 and its session waits "
     "for a resume (0: never)"},
    {"room-max-members", K_U32, OFF(room_max_members), 1, 1e9, "1000",
     "members per room; JOIN beyond gives ERROR 5"},
    {"member-state-max", K_U32, OFF(member_state_max), 1, 1 << 20, "1024",
     "bytes of a member's state, encoded; a SET or HELLO beyond gives ERROR "
     "6"},
    {"signal-max", K_U32, OFF(signal_max), 1, 1 << 20, "4096",
     "bytes of a SIGNAL's data, encoded; beyond gives ERROR 6"},
    {"room-value-max", K_U32, OFF(room_value_max), 1, 1 << 20, "1024",
     "bytes of one value of a room's state, encoded; beyond gives ERROR 6"},
    {"room-keys-max", K_U32, OFF(room_keys_max), 1, 65536, "256",
     "keys in a room's state; a ROOM_SET of a new key beyond gives ERROR 6"},
    {"room-state-max", K_U32, OFF(room_state_max), 1, 1 << 24, "65536",
     "bytes of a room's state (its keys and values); a ROOM_SET beyond gives "
     "ERROR 6"},
    {"room-state-ttl-ms", K_U32, OFF(room_state_ttl_ms), 0, 1e9, "3600000",
     "how long a room's state outlives its last member (0: not at all)"},
    {"room-state-parked-max", K_U32, OFF(room_state_parked_max), 0,
     4294967295.0, "67108864",
     "bytes of memory a node keeps for emptied rooms' state; beyond, the "
     "longest empty go first"},
    {"app-rate", K_DBL, OFF(app_rate), 0.01, 1e6, "20",
     "SET + SIGNAL + ROOM_SET + VIEW per second per session"},
    {"app-burst", K_DBL, OFF(app_burst), 1, 1e6, "40",
     "SET + SIGNAL + ROOM_SET + VIEW burst"},
    {"view-cell", K_DBL, OFF(view_cell), 0.01, 1e9, "32",
     "side of the grid cells that VIEW radii look in, about the common "
     "radius"},
    {"max-connections", K_U32, OFF(max_connections), 1, 1e9, "100000",
     "sessions per process; HELLO beyond gives ERROR 10 and close 1001"},
    {"max-outbound", K_U32, OFF(max_outbound), 1024, 1e9, "1048576",
     "unsent bytes per connection before close 4004"},
    {"sndbuf", K_INT, OFF(sndbuf), 0, 1 << 30, "0",
     "SO_SNDBUF of client sockets (0: the kernel's autotuning)"},
    {"max-speed", K_DBL, OFF(max_speed), 0, 1e9, "50",
     "units per second a MOVE may travel (0: off)"},
    {"bounds", K_DBL, OFF(bounds), 0, 1e30, "10000",
     "largest |x|, |y|, |z| (0: off)"},
    {"node-id", K_U32, OFF(node_id), 0, 32767, "random",
     "node number, part of every id; set it per node in a cluster"},
    {"redis", K_REDIS, OFF(redis), 0, SIZE(redis), "none",
     "Redis URL redis://[:password@]host:port[/db] of the cluster to join "
     "(password percent-encoded)"},
    {"log-level", K_LEVEL, OFF(log_level), 0, 0, "info",
     "error, warn, info or debug"},
    {"jwt-secret", K_SECRET, OFF(jwt_secret), 0, SIZE(jwt_secret), "none",
     "HS256 key: HELLO must carry a JWT signed with it"},
    {"jwt-secret-file", K_STR, OFF(jwt_secret_file), 0, SIZE(jwt_secret_file),
     "none", "file holding the HS256 key (one trailing newline dropped)"},
    {"jwt-leeway-s", K_U32, OFF(jwt_leeway_s), 0, 3600, "30",
     "clock skew allowed on a JWT's exp and nbf, in seconds"},
    {"jwt-max-lifetime-s", K_U32, OFF(jwt_max_lifetime_s), 0, 1e9, "86400",
     "longest lifetime a JWT may have (exp - iat, or exp - now without "
     "iat), in seconds; longer closes 4001 (0: any)"},
    {"jwt-issuer", K_STR, OFF(jwt_issuer), 0, SIZE(jwt_issuer), "none",
     "required iss of a JWT"},
    {"jwt-audience", K_STR, OFF(jwt_audience), 0, SIZE(jwt_audience), "none",
     "required aud of a JWT (string or list)"},
    {"max-sessions-per-user", K_U32, OFF(max_sessions_per_user), 0, 1e9, "0",
     "sessions per JWT sub on this node (0: no limit)"},
    {"allowed-origins", K_STR, OFF(allowed_origins), 0, SIZE(allowed_origins),
     "*", "comma-separated Origins allowed to upgrade and read CORS"},
    {"admin-token", K_SECRET, OFF(admin_token), 0, SIZE(admin_token), "none",
     "bearer token of the /admin API (unset: /admin answers 404)"},
    {"tls-cert", K_STR, OFF(tls_cert), 0, SIZE(tls_cert), "none",
     "PEM certificate chain: the port serves wss:// and https:// (SIGHUP "
     "reloads it)"},
    {"tls-key", K_STR, OFF(tls_key), 0, SIZE(tls_key), "none",
     "PEM private key of --tls-cert"},
    {"tls-key-updates", K_U32, OFF(tls_key_updates), 0, 1e6, "16",
     "TLS 1.3 KeyUpdate messages a client may send within 10 s; one more "
     "closes it 4003 (0: no limit)"},
    {"proxy-protocol", K_BOOL, OFF(proxy_protocol), 0, 0, "off",
     "connections from --trusted-proxies must begin with a PROXY protocol "
     "v1 or v2 header naming the client; refused without one"},
    {"trusted-proxies", K_CIDRS, OFF(trusted_proxies_spec), 0,
     SIZE(trusted_proxies_spec), "none",
     "comma-separated CIDRs of the proxies whose PROXY header and "
     "X-Forwarded-For name the client"},
    {"connect-rate", K_DBL, OFF(connect_rate), 0, 1e6, "0",
     "WebSocket upgrades per second per client address; past it 429 (0: no "
     "limit)"},
    {"connect-burst", K_DBL, OFF(connect_burst), 1, 1e6, "20",
     "WebSocket upgrades per client address in a burst"},
    {"drain-delay-ms", K_U32, OFF(drain_delay_ms), 0, 3600000, "0",
     "on SIGTERM or a drain, how long /readyz answers 503 while clients are "
     "still served, before they are closed 1001"},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

/* PLAZA_ + the flag in upper case, '-' as '_'. */
static void env_name(const struct option_spec *s, char *out, size_t size) {
  size_t n = (size_t)snprintf(out, size, "PLAZA_");
  for (const char *c = s->flag; *c && n < size - 1; c++)
    out[n++] = *c == '-' ? '_' : (char)(*c - ('a' <= *c && *c <= 'z') * 32);
  out[n] = 0;
}

static void usage(FILE *f) {
  /* Columns as wide as the longest flag and variable, so every row lines
   * up whatever flags are added. */
  int flag_w = (int)strlen("version"), env_w = 0;
  for (size_t i = 0; i < NSPECS; i++) {
    char env[64];
    env_name(&specs[i], env, sizeof(env));
    if ((int)strlen(specs[i].flag) > flag_w)
      flag_w = (int)strlen(specs[i].flag);
    if ((int)strlen(env) > env_w)
      env_w = (int)strlen(env);
  }
  fprintf(f, "usage: plaza [options]\n\n"
             "A realtime WebSocket + MessagePack server for social 3D "
             "spaces.\nEvery option also reads PLAZA_<OPTION> from the "
             "environment (flags win).\n\n");
  for (size_t i = 0; i < NSPECS; i++) {
    const struct option_spec *s = &specs[i];
    char env[64], range[64] = "";
    env_name(s, env, sizeof(env));
    if (s->kind >= K_INT && s->kind != K_LEVEL) /* numbers have a range */
      snprintf(range, sizeof(range), ", %.15g to %.15g", s->min, s->max);
    fprintf(f, "  --%-*s  %-*s  %s (default %s%s)\n", flag_w, s->flag, env_w,
            env, s->help, s->deflt, range);
  }
  fprintf(f, "  --%-*s  %-*s  %s\n", flag_w, "help", env_w, "",
          "print this and exit");
  fprintf(f, "  --%-*s  %-*s  %s\n", flag_w, "version", env_w, "",
          "print the version and exit");
}

/* Resolves a listen address as the acceptor will, so a host that cannot
 * be listened on is a bad value like any other: refused here, before the
 * process logs or binds anything. Returns NULL or why not. */
static const char *host_problem(const char *host) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE};
  struct addrinfo *res;
  int r = getaddrinfo(host, NULL, &hints, &res);
  if (r != 0)
    return gai_strerror(r);
  freeaddrinfo(res);
  return NULL;
}

/* 1 for on, 0 for off, -1 for neither. */
static int bool_word(const char *v) {
  static const char *const words[] = {"1", "on",  "true",  "yes",
                                      "0", "off", "false", "no"};
  for (int i = 0; i < 8; i++)
    if (strcasecmp(v, words[i]) == 0)
      return i < 4;
  return -1;
}

static int set_value(pz_config_t *cfg, const struct option_spec *s,
                     const char *val, const char *from) {
  char *end;
  void *field = (char *)cfg + s->offset;
  const char *why = NULL;
  double d;
  switch (s->kind) {
  case K_HOST:
    if (strlen(val) >= sizeof(cfg->host) || (why = host_problem(val)))
      goto bad;
    strcpy(field, val);
    return 0;
  case K_REDIS: { /* may hold a password: never echoed */
    pz_redis_url_t url;
    if (strlen(val) >= sizeof(cfg->redis))
      why = "too long";
    else if (strcmp(val, "none") != 0)
      pz_redis_url_parse(val, &url, &why);
    if (why) {
      fprintf(stderr, "plaza: bad value for --%s (from %s): %s\n", s->flag,
              from, why);
      return -1;
    }
    strcpy(field, strcmp(val, "none") == 0 ? "" : val);
    return 0;
  }
  case K_STR:
  case K_SECRET:
    if (strlen(val) >= (s->max ? (size_t)s->max : sizeof(cfg->host))) {
      if (s->kind == K_SECRET) {
        fprintf(stderr, "plaza: value for --%s (from %s) too long\n", s->flag,
                from);
        return -1;
      }
      goto bad;
    }
    strcpy(field, val);
    return 0;
  case K_BOOL:
    if (bool_word(val) < 0) {
      why = "on or off";
      goto bad;
    }
    *(bool *)field = bool_word(val) == 1;
    return 0;
  case K_CIDRS:
    if (strlen(val) >= (size_t)s->max) {
      why = "too long";
      goto bad;
    }
    if (pz_cidr_list_parse(val, &cfg->trusted_proxies, &why) != 0)
      goto bad;
    strcpy(field, val);
    return 0;
  case K_LEVEL: {
    int lvl = pz_log_level_parse(val);
    if (lvl < 0)
      goto bad;
    *(int *)field = lvl;
    return 0;
  }
  default:
    errno = 0;
    d = strtod(val, &end);
    if (errno || end == val || *end || !isfinite(d) || d < s->min || d > s->max)
      goto bad;
    if (s->kind != K_DBL && d != floor(d))
      goto bad;
    if (s->kind == K_INT)
      *(int *)field = (int)d;
    else if (s->kind == K_U32)
      *(uint32_t *)field = (uint32_t)d;
    else
      *(double *)field = d;
    return 0;
  }
bad:
  fprintf(stderr, "plaza: bad value '%s' for --%s (from %s)%s%s\n", val,
          s->flag, from, why ? ": " : "", why ? why : "");
  return -1;
}

static void defaults(pz_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->host, "0.0.0.0");
  cfg->port = 8080;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  cfg->workers = cores < 1                ? 1
                 : cores > PZ_MAX_WORKERS ? PZ_MAX_WORKERS
                                          : cores;
  cfg->tick_hz = 30;
  cfg->max_message = 16384;
  cfg->move_rate = 60;
  cfg->chat_rate = 5;
  cfg->chat_burst = 10;
  cfg->join_rate = 2;
  cfg->join_burst = 10;
  cfg->abuse_limit = 100;
  cfg->malformed_limit = 10;
  cfg->hello_timeout_ms = 10000;
  cfg->resume_grace_ms = 30000;
  cfg->ping_interval_ms = 25000;
  cfg->idle_timeout_ms = 60000;
  cfg->room_max_members = 1000;
  cfg->member_state_max = 1024;
  cfg->signal_max = 4096;
  cfg->room_value_max = 1024;
  cfg->room_keys_max = 256;
  cfg->room_state_max = 65536;
  cfg->room_state_ttl_ms = 3600000;
  cfg->room_state_parked_max = 64u << 20;
  cfg->app_rate = 20;
  cfg->app_burst = 40;
  cfg->max_connections = 100000;
  cfg->max_outbound = 1 << 20;
  cfg->sndbuf = 0;
  cfg->max_speed = 50;
  cfg->bounds = 10000;
  cfg->view_cell = 32;
  cfg->node_id = UINT32_MAX; /* random, chosen by main */
  cfg->log_level = PZ_LOG_INFO;
  cfg->jwt_leeway_s = 30;
  cfg->jwt_max_lifetime_s = 86400;
  cfg->tls_key_updates = 16;
  cfg->connect_burst = 20;
}

/* --jwt-secret-file: the key is the file's bytes but one trailing newline. */
static int load_secret_file(pz_config_t *cfg) {
  if (!cfg->jwt_secret_file[0])
    return 0;
  if (cfg->jwt_secret[0]) {
    fprintf(stderr, "plaza: set --jwt-secret or --jwt-secret-file, not both\n");
    return -1;
  }
  FILE *f = fopen(cfg->jwt_secret_file, "rb");
  if (!f) {
    fprintf(stderr, "plaza: cannot read --jwt-secret-file %s: %s\n",
            cfg->jwt_secret_file, strerror(errno));
    return -1;
  }
  size_t n = fread(cfg->jwt_secret, 1, sizeof(cfg->jwt_secret), f);
  fclose(f);
  if (n == sizeof(cfg->jwt_secret)) {
    fprintf(stderr, "plaza: --jwt-secret-file %s: key too long\n",
            cfg->jwt_secret_file);
    return -1;
  }
  cfg->jwt_secret[n] = 0;
  if (n && cfg->jwt_secret[n - 1] == '\n')
    cfg->jwt_secret[--n] = 0;
  if (n && cfg->jwt_secret[n - 1] == '\r')
    cfg->jwt_secret[--n] = 0;
  if (n == 0 || strlen(cfg->jwt_secret) != n) {
    fprintf(stderr, "plaza: --jwt-secret-file %s: empty key or NUL byte\n",
            cfg->jwt_secret_file);
    return -1;
  }
  return 0;
}

int pz_config_load(pz_config_t *cfg, int argc, char **argv) {
  defaults(cfg);
  for (size_t i = 0; i < NSPECS; i++) {
    char env[64];
    env_name(&specs[i], env, sizeof(env));
    const char *v = getenv(env);
    if (v && *v && set_value(cfg, &specs[i], v, env))
      return PZ_CONFIG_ERROR;
  }

  struct option longopts[NSPECS + 3];
  for (size_t i = 0; i < NSPECS; i++)
    longopts[i] = (struct option){specs[i].flag,
                                  specs[i].kind == K_BOOL ? optional_argument
                                                          : required_argument,
                                  NULL, (int)(256 + i)};
  longopts[NSPECS] = (struct option){"help", no_argument, NULL, 'h'};
  longopts[NSPECS + 1] = (struct option){"version", no_argument, NULL, 'V'};
  longopts[NSPECS + 2] = (struct option){0};
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
    if (c == 'h') {
      usage(stdout);
      return PZ_CONFIG_EXIT;
    }
    if (c == 'V') {
      printf("plaza %s (protocol 1)\n", PZ_VERSION);
      return PZ_CONFIG_EXIT;
    }
    if (c < 256 || c >= 256 + (int)NSPECS) {
      usage(stderr);
      return PZ_CONFIG_ERROR;
    }
    const char *val = optarg;
    /* A switch alone means on; "--flag off" reads like any other flag,
     * and so does a bad word after it (plaza takes no arguments that are
     * not options). */
    if (!val && specs[c - 256].kind == K_BOOL)
      val = optind < argc && argv[optind][0] != '-' ? argv[optind++] : "on";
    if (set_value(cfg, &specs[c - 256], val, "command line"))
      return PZ_CONFIG_ERROR;
  }
  if (optind < argc) {
    fprintf(stderr, "plaza: unexpected argument '%s'\n", argv[optind]);
    return PZ_CONFIG_ERROR;
  }
  if (load_secret_file(cfg))
    return PZ_CONFIG_ERROR;
  if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
    fprintf(stderr, "plaza: --tls-cert and --tls-key go together\n");
    return PZ_CONFIG_ERROR;
  }
  if (cfg->proxy_protocol && cfg->trusted_proxies.n == 0) {
    fprintf(stderr, "plaza: --proxy-protocol needs --trusted-proxies: the "
                    "addresses whose PROXY header is believed\n");
    return PZ_CONFIG_ERROR;
  }
  return PZ_CONFIG_OK;
}
