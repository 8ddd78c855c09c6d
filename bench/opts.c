/* plaza-bench's command line (see opts.h and bench/CONTRACT.md). */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "url.h"
#include "plaza/client.h"
#include "proto.h"

#define DEFAULT_PLAZA_URL "ws://127.0.0.1:8080/ws"
#define DEFAULT_SIO_URL                                                        \
  "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"

static const char usage[] =
    "usage: plaza-bench [flags]   (bench/CONTRACT.md)\n"
    "  --url URL[,URL...]     ws:// URL of the server (default per --proto);\n"
    "                         several (comma-separated or repeated): nodes,\n"
    "                         client i connects to URL i mod N (round robin)\n"
    "  --proto plaza|socketio wire protocol (plaza)\n"
    "  --scenario NAME        social|crowd|idle|churn|event (social)\n"
    "  --clients N            simulated clients (preset)\n"
    "  --room-size S          members per room (preset)\n"
    "  --move-hz R            MOVE per second per client, 0: none (preset)\n"
    "  --chat-per-min C       CHAT per minute per client (preset)\n"
    "  --view-radius R        VIEW radius each client asks for; 0: no VIEW\n"
    "                         unless --compact (event: 40)\n"
    "  --compact on|off       VIEW compact: STATE_C (event: on)\n"
    "  --area A               walkers start and stay in a square of side A\n"
    "                         around the origin (event: 400; else the world)\n"
    "  --ramp S               seconds to connect everyone (5)\n"
    "  --duration S           measured seconds after the ramp (20; 10 per\n"
    "                         step with --find-capacity)\n"
    "  --drain S              seconds after the window for late STATEs (1)\n"
    "  --threads T            bench threads, rooms split across them (1)\n"
    "  --sample K             clients per room that decode fully (5)\n"
    "  --local-ips N          source addresses 127.0.0.1..127.0.0.N (1)\n"
    "  --lazy-ms MS           read count-only clients every MS, in batches;\n"
    "                         0: as soon as data comes (0)\n"
    "  --server-pid PID[,PID...]  sample the servers' CPU and RSS from /proc,\n"
    "                         summed and per pid; LABEL=PID names one (e.g.\n"
    "                         redis=1234); comma-separated or repeated\n"
    "  --redis-url URL        redis://[:password@]host:port[/db]: Redis\n"
    "                         commands per second over the window (INFO)\n"
    "  --json FILE            write the figures as JSON\n"
    "  --find-capacity        raise clients step by step (--start, --step,\n"
    "                         --max) until p99 > --p99-ms or errors\n"
    "  --p99-ms MS            latency budget (50)\n"
    "  --start N --step N --max N   capacity search (1000, 1000, 100000)\n"
    "  --seed N               random seed (walks, chats, phases)\n"
    "  --quiet                no progress line\n";

static int bad(const char *flag, const char *val) {
  fprintf(stderr, "plaza-bench: bad value for %s: '%s'\n%s", flag,
          val ? val : "", usage);
  return -1;
}

static bool num(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static bool u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
  double v;
  if (!num(s, lo, hi, &v) || v != floor(v))
    return false;
  *out = (uint32_t)v;
  return true;
}

int pz_bench_opts_add_urls(pz_bench_opts_t *o, const char *list) {
  const char *p = list;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 0 || o->n_urls == PZ_BENCH_MAX_URLS)
      return -1;
    char *u = strndup(p, n);
    if (u == NULL)
      return -1;
    o->urls[o->n_urls++] = u;
    if (e == NULL)
      return 0;
    p = e + 1;
  }
}

int pz_bench_opts_add_pids(pz_bench_opts_t *o, const char *list) {
  const char *p = list;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char item[64], *num_s = item, *eq;
    uint32_t pid;
    if (n == 0 || n >= sizeof(item) || o->n_pids == PZ_BENCH_MAX_PIDS)
      return -1;
    memcpy(item, p, n);
    item[n] = '\0';
    char *label = o->server_labels[o->n_pids];
    label[0] = '\0';
    if ((eq = strchr(item, '=')) != NULL) {
      size_t ln = (size_t)(eq - item);
      if (ln == 0 || ln >= sizeof(o->server_labels[0]))
        return -1;
      for (size_t i = 0; i < ln; i++) /* a plain word: it goes into JSON */
        if (!(isalnum((unsigned char)item[i]) || item[i] == '-' ||
              item[i] == '_' || item[i] == '.'))
          return -1;
      memcpy(label, item, ln);
      label[ln] = '\0';
      num_s = eq + 1;
    }
    if (!u32(num_s, 1, 1u << 30, &pid))
      return -1;
    o->server_pids[o->n_pids++] = (int)pid;
    if (e == NULL)
      return 0;
    p = e + 1;
  }
}

void pz_bench_opts_dispose(pz_bench_opts_t *o) {
  for (uint32_t i = 0; i < o->n_urls; i++)
    free(o->urls[i]);
  o->n_urls = 0;
  free(o->url_display);
  o->url_display = NULL;
  o->url = NULL;
}

int pz_bench_opts_parse(pz_bench_opts_t *o, int argc, char **argv) {
  /* Explicit flags override the preset: remember which were given. */
  bool has_clients = false, has_room = false, has_hz = false, has_chat = false,
       has_duration = false, has_radius = false, has_compact = false,
       has_area = false, has_sample = false;
  double d;

  memset(o, 0, sizeof(*o));
  o->proto_name = "plaza";
  o->scenario = "social";
  o->ramp_s = 5;
  o->duration_s = 20;
  o->drain_s = 1;
  o->threads = 1;
  o->sample = 5;
  o->local_ips = 1;
  o->lazy_ms = 0;
  o->p99_ms = 50;
  o->start = 1000;
  o->step = 1000;
  o->max = 100000;
  o->progress = true;
  o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);

  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                                 \
  do {                                                                         \
    if (v == NULL)                                                             \
      return bad(f, v);                                                        \
    i++;                                                                       \
  } while (0)
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      fputs(usage, stdout);
      return 1;
    } else if (!strcmp(f, "--url")) {
      NEED();
      if (pz_bench_opts_add_urls(o, v) != 0)
        return bad(f, v);
    } else if (!strcmp(f, "--proto")) {
      NEED();
      if (strcmp(v, "plaza") && strcmp(v, "socketio"))
        return bad(f, v);
      o->proto_name = v;
    } else if (!strcmp(f, "--scenario")) {
      NEED();
      o->scenario = v;
    } else if (!strcmp(f, "--clients")) {
      NEED();
      if (!u32(v, 1, 10000000, &o->clients))
        return bad(f, v);
      has_clients = true;
    } else if (!strcmp(f, "--room-size")) {
      NEED();
      if (!u32(v, 1, 100000, &o->room_size))
        return bad(f, v);
      has_room = true;
    } else if (!strcmp(f, "--move-hz")) {
      NEED();
      if (!num(v, 0, 1000, &o->move_hz))
        return bad(f, v);
      has_hz = true;
    } else if (!strcmp(f, "--chat-per-min")) {
      NEED();
      if (!num(v, 0, 6000, &o->chat_per_min))
        return bad(f, v);
      has_chat = true;
    } else if (!strcmp(f, "--view-radius")) {
      NEED();
      if (!num(v, 0, 1e9, &o->view_radius))
        return bad(f, v);
      has_radius = true;
    } else if (!strcmp(f, "--compact")) {
      NEED();
      if (strcmp(v, "on") && strcmp(v, "off"))
        return bad(f, v);
      o->compact = !strcmp(v, "on");
      has_compact = true;
    } else if (!strcmp(f, "--area")) {
      NEED();
      if (!num(v, 0, 19980, &o->area))
        return bad(f, v);
      has_area = true;
    } else if (!strcmp(f, "--ramp")) {
      NEED();
      if (!num(v, 0, 3600, &o->ramp_s))
        return bad(f, v);
    } else if (!strcmp(f, "--duration")) {
      NEED();
      if (!num(v, 0.1, 86400, &o->duration_s))
        return bad(f, v);
      has_duration = true;
    } else if (!strcmp(f, "--drain")) {
      NEED();
      if (!num(v, 0, 60, &o->drain_s))
        return bad(f, v);
    } else if (!strcmp(f, "--threads")) {
      NEED();
      if (!u32(v, 1, 256, &o->threads))
        return bad(f, v);
    } else if (!strcmp(f, "--sample")) {
      NEED();
      if (!u32(v, 0, 100000, &o->sample))
        return bad(f, v);
      has_sample = true;
    } else if (!strcmp(f, "--local-ips")) {
      NEED();
      if (!u32(v, 1, 254, &o->local_ips))
        return bad(f, v);
    } else if (!strcmp(f, "--lazy-ms")) {
      NEED();
      if (!u32(v, 0, 10000, &o->lazy_ms))
        return bad(f, v);
    } else if (!strcmp(f, "--server-pid")) {
      NEED();
      if (pz_bench_opts_add_pids(o, v) != 0)
        return bad(f, v);
      o->server_pid = o->server_pids[0];
    } else if (!strcmp(f, "--redis-url")) {
      NEED();
      o->redis_url = v;
    } else if (!strcmp(f, "--json")) {
      NEED();
      o->json = v;
    } else if (!strcmp(f, "--find-capacity")) {
      o->find_capacity = true;
    } else if (!strcmp(f, "--p99-ms")) {
      NEED();
      if (!num(v, 0.001, 1e6, &o->p99_ms))
        return bad(f, v);
    } else if (!strcmp(f, "--start")) {
      NEED();
      if (!u32(v, 1, 10000000, &o->start))
        return bad(f, v);
    } else if (!strcmp(f, "--step")) {
      NEED();
      if (!u32(v, 1, 10000000, &o->step))
        return bad(f, v);
    } else if (!strcmp(f, "--max")) {
      NEED();
      if (!u32(v, 1, 10000000, &o->max))
        return bad(f, v);
    } else if (!strcmp(f, "--seed")) {
      NEED();
      if (!num(v, 0, 1e18, &d))
        return bad(f, v);
      o->seed = (uint64_t)d;
    } else if (!strcmp(f, "--quiet")) {
      o->progress = false;
    } else {
      fprintf(stderr, "plaza-bench: unknown flag '%s'\n%s", f, usage);
      return -1;
    }
#undef NEED
  }

  /* Presets (bench/CONTRACT.md), then the explicit flags again. */
  uint32_t clients = 1000, room = 50;
  double hz = 20, chat = 2;
  if (!strcmp(o->scenario, "social")) {
    o->scen = PZ_SCEN_SOCIAL;
  } else if (!strcmp(o->scenario, "crowd")) {
    o->scen = PZ_SCEN_CROWD;
    room = 1000;
  } else if (!strcmp(o->scenario, "idle")) {
    o->scen = PZ_SCEN_IDLE;
    hz = 0;
    chat = 0;
  } else if (!strcmp(o->scenario, "churn")) {
    o->scen = PZ_SCEN_CHURN;
    o->churn = true;
  } else if (!strcmp(o->scenario, "event")) {
    /* One room, every client in it, spread over a square and walking,
     * each seeing those within its radius. */
    o->scen = PZ_SCEN_EVENT;
    chat = 0;
    if (!has_radius)
      o->view_radius = 40;
    if (!has_compact)
      o->compact = true;
    if (!has_area)
      o->area = 400;
    if (!has_sample)
      o->sample = 20;
  } else {
    return bad("--scenario", o->scenario);
  }
  if (!has_clients)
    o->clients = clients;
  if (!has_room)
    o->room_size = o->scen == PZ_SCEN_EVENT ? o->clients : room;
  if (!has_hz)
    o->move_hz = hz;
  if (!has_chat)
    o->chat_per_min = chat;
  if (o->find_capacity && !has_duration)
    o->duration_s = 10; /* each step is a full run: keep steps short */
  if (o->find_capacity && o->max < o->start)
    return bad("--max", "below --start");
  if (o->scen == PZ_SCEN_EVENT && !has_room && o->find_capacity)
    o->room_size = o->max; /* one room at every step */
  /* A sampled receiver marks the moves it expects in a 64-bit mask. */
  if (pz_bench_view(o) && o->sample > 64)
    return bad("--sample", "at most 64 with a VIEW");

  bool sio = !strcmp(o->proto_name, "socketio");
  o->proto = sio ? &pz_bench_proto_socketio : &pz_bench_proto_plaza;
  if (o->n_urls == 0 &&
      pz_bench_opts_add_urls(o, sio ? DEFAULT_SIO_URL : DEFAULT_PLAZA_URL) != 0)
    return -1;
  size_t len = 1;
  for (uint32_t i = 0; i < o->n_urls; i++) {
    pz_url_t u;
    char *copy = strdup(o->urls[i]); /* pz_url_parse may point into it */
    int r = copy ? pz_url_parse(copy, &u) : PZ_CLIENT_ENOMEM;
    free(copy);
    /* The bench's light connections speak plain TCP to an IPv4 address
     * (wsc.c): no resolver, no TLS on its hot path. */
    if (r == 0 && (u.tls || u.family != AF_INET))
      r = PZ_CLIENT_EURL;
    if (r != 0) {
      fprintf(stderr, "plaza-bench: bad --url '%s': %s (ws://IPv4:PORT/PATH)\n",
              o->urls[i], pz_client_strerror(r));
      return -1;
    }
    len += strlen(o->urls[i]) + 1;
  }
  o->url = o->urls[0];
  if ((o->url_display = malloc(len)) == NULL)
    return -1;
  o->url_display[0] = '\0';
  for (uint32_t i = 0; i < o->n_urls; i++) {
    if (i)
      strcat(o->url_display, ",");
    strcat(o->url_display, o->urls[i]);
  }
  /* Not from the seed: two runs with one seed must not share rooms. */
  snprintf(
      o->run_id, sizeof(o->run_id), "%06x",
      (unsigned)(((uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()) &
                 0xffffff));
  return 0;
}
