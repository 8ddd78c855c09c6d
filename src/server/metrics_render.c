/* The Prometheus text exposition of every worker's counters. */
#include "metrics_render.h"

#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bus.h"
#include "server.h"
#include "worker.h"

static const uint64_t tick_bounds[PZ_TICK_BUCKETS] = PZ_TICK_BOUNDS_US;
static const int close_codes[PZ_N_CLOSE_CODES] = PZ_CLOSE_CODES;

typedef struct out {
  char *s;
  size_t len, cap;
} out_t;

__attribute__((format(printf, 2, 3))) static void put(out_t *o, const char *f,
                                                      ...) {
  for (;;) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(o->s + o->len, o->cap - o->len, f, ap);
    va_end(ap);
    if ((size_t)n < o->cap - o->len) {
      o->len += (size_t)n;
      return;
    }
    o->cap = o->cap * 2 + (size_t)n;
    o->s = pz_xrealloc(o->s, o->cap);
  }
}

static void family(out_t *o, const char *name, const char *type,
                   const char *help) {
  put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define SUM(field)                                                             \
  ({                                                                           \
    int64_t _s = 0;                                                            \
    for (int _i = 0; _i < srv->n_workers; _i++)                                \
      _s += (int64_t)PZ_GET(srv->workers[_i]->metrics.field);                  \
    _s;                                                                        \
  })

static const char *const in_ops[PZ_METRICS_OPS_IN] = {
    "invalid", "hello", "join", "leave",  "move",     "chat",
    "whisper", "ping",  "set",  "signal", "room_set", "view"};
static const char *const out_ops[PZ_METRICS_OPS_OUT] = {
    "",       "welcome", "room",       "joined", "left",
    "state",  "chat",    "whisper",    "pong",   "error",
    "member", "signal",  "room_state", "away",   "state_c"};
static const char *const error_names[PZ_METRICS_ERRORS] = {"",
                                                           "bad_message",
                                                           "unknown_op",
                                                           "not_in_room",
                                                           "rate_limited",
                                                           "room_full",
                                                           "invalid_argument",
                                                           "not_found",
                                                           "forbidden",
                                                           "session_expired",
                                                           "overloaded",
                                                           "move_rejected",
                                                           "conflict"};

char *pz_metrics_render(pz_server_t *srv, size_t *len) {
  out_t o = {pz_xmalloc(8192), 0, 8192};
  family(&o, "plaza_connections", "gauge", "Open client sockets.");
  put(&o, "plaza_connections %lld\n", (long long)SUM(connections));
  family(&o, "plaza_sessions", "gauge",
         "Sessions, including those waiting for a resume.");
  put(&o, "plaza_sessions %lld\n", (long long)SUM(sessions));
  family(&o, "plaza_rooms", "gauge", "Rooms with members.");
  put(&o, "plaza_rooms %lld\n", (long long)SUM(rooms));
  family(&o, "plaza_connections_accepted_total", "counter",
         "Sockets accepted.");
  put(&o, "plaza_connections_accepted_total %lld\n", (long long)SUM(accepted));
  family(&o, "plaza_connections_refused_total", "counter",
         "Connections refused, by reason: no PROXY header from a trusted "
         "proxy, or upgrades past --connect-rate.");
  put(&o, "plaza_connections_refused_total{reason=\"proxy_header\"} %lld\n",
      (long long)SUM(refused_proxy));
  put(&o, "plaza_connections_refused_total{reason=\"rate_limit\"} %lld\n",
      (long long)SUM(refused_rate));

  family(&o, "plaza_messages_in_total", "counter",
         "Client messages received, by op.");
  for (int i = 0; i < PZ_METRICS_OPS_IN; i++)
    put(&o, "plaza_messages_in_total{op=\"%s\"} %lld\n", in_ops[i],
        (long long)SUM(msgs_in[i]));
  family(&o, "plaza_messages_out_total", "counter",
         "Server messages sent, by op (a broadcast counts per recipient).");
  for (int i = 1; i < PZ_METRICS_OPS_OUT; i++)
    put(&o, "plaza_messages_out_total{op=\"%s\"} %lld\n", out_ops[i],
        (long long)SUM(msgs_out[i]));
  family(&o, "plaza_bytes_received_total", "counter",
         "Bytes read from client sockets.");
  put(&o, "plaza_bytes_received_total %lld\n", (long long)SUM(bytes_in));
  family(&o, "plaza_bytes_sent_total", "counter",
         "Bytes written to client sockets.");
  put(&o, "plaza_bytes_sent_total %lld\n", (long long)SUM(bytes_out));

  family(&o, "plaza_errors_total", "counter", "ERROR messages sent, by code.");
  for (int i = 1; i < PZ_METRICS_ERRORS; i++)
    if (error_names[i][0])
      put(&o, "plaza_errors_total{code=\"%d\",name=\"%s\"} %lld\n", i,
          error_names[i], (long long)SUM(errors[i]));
  family(&o, "plaza_closes_total", "counter",
         "WebSocket closes, by close code (1006: dropped without a close).");
  for (int i = 0; i < PZ_N_CLOSE_CODES; i++)
    put(&o, "plaza_closes_total{code=\"%d\"} %lld\n", close_codes[i],
        (long long)SUM(closes[i]));
  family(&o, "plaza_dropped_frames_total", "counter",
         "Messages shed: rate-limited input, slow consumers, full inboxes.");
  put(&o, "plaza_dropped_frames_total %lld\n", (long long)SUM(dropped_frames));
  family(&o, "plaza_state_frames_total", "counter",
         "STATE messages encoded (one per room per tick with changes, and "
         "one full STATE per room and tick where a client is owed one).");
  put(&o, "plaza_state_frames_total %lld\n", (long long)SUM(state_frames));
  family(&o, "plaza_state_entries_total", "counter",
         "Member entries in the STATE messages encoded.");
  put(&o, "plaza_state_entries_total %lld\n", (long long)SUM(state_entries));
  family(&o, "plaza_state_resyncs_total", "counter",
         "Full STATEs sent to clients whose outbound queue had replaced an "
         "unsent STATE (slow readers).");
  put(&o, "plaza_state_resyncs_total %lld\n", (long long)SUM(state_resyncs));
  family(&o, "plaza_state_c_frames_total", "counter",
         "Compact STATEs (STATE_C) encoded for clients with a VIEW (also "
         "counted in plaza_state_frames_total).");
  put(&o, "plaza_state_c_frames_total %lld\n", (long long)SUM(state_c_frames));
  family(&o, "plaza_state_c_entries_total", "counter",
         "Member entries in the STATE_C messages encoded.");
  put(&o, "plaza_state_c_entries_total %lld\n",
      (long long)SUM(state_c_entries));
  family(&o, "plaza_state_c_bytes_total", "counter",
         "Bytes of the STATE_C messages encoded (before WebSocket framing).");
  put(&o, "plaza_state_c_bytes_total %lld\n", (long long)SUM(state_c_bytes));
  family(&o, "plaza_view_aways_total", "counter",
         "Members named in AWAY messages: left a client's view.");
  put(&o, "plaza_view_aways_total %lld\n", (long long)SUM(aways));

  family(&o, "plaza_room_states_parked", "gauge",
         "Room states kept for rooms that emptied, until their lifetime "
         "ends.");
  put(&o, "plaza_room_states_parked %lld\n",
      (long long)SUM(room_states_parked));
  family(&o, "plaza_room_states_evicted_total", "counter",
         "Room states of emptied rooms dropped before their lifetime ended "
         "(--room-state-parked-max).");
  put(&o, "plaza_room_states_evicted_total %lld\n",
      (long long)SUM(room_states_evicted));

  family(&o, "plaza_tick_duration_seconds", "histogram",
         "Time a worker spends in one tick.");
  int64_t cum = 0;
  for (int b = 0; b <= PZ_TICK_BUCKETS; b++) {
    cum += SUM(tick_buckets[b]);
    if (b < PZ_TICK_BUCKETS)
      put(&o, "plaza_tick_duration_seconds_bucket{le=\"%g\"} %lld\n",
          (double)tick_bounds[b] / 1e6, (long long)cum);
    else
      put(&o, "plaza_tick_duration_seconds_bucket{le=\"+Inf\"} %lld\n",
          (long long)cum);
  }
  put(&o, "plaza_tick_duration_seconds_sum %.6f\n",
      (double)SUM(tick_sum_us) / 1e6);
  put(&o, "plaza_tick_duration_seconds_count %lld\n",
      (long long)SUM(tick_count));

  int link = pz_bus_link_state(srv->bus);
  family(&o, "plaza_redis_link_up", "gauge",
         "1 when the Redis link is up, 0 when down or not configured.");
  put(&o, "plaza_redis_link_up %d\n", link > 0);
  family(&o, "plaza_redis_configured", "gauge",
         "1 when this node uses Redis (cluster), 0 when embedded.");
  put(&o, "plaza_redis_configured %d\n", link >= 0);
  pz_bus_stats_t bs;
  pz_bus_stats(srv->bus, &bs);
  family(&o, "plaza_redis_reconnects_total", "counter",
         "Times a worker's Redis link came back after it was lost.");
  put(&o, "plaza_redis_reconnects_total %llu\n",
      (unsigned long long)bs.reconnects);
  family(&o, "plaza_redis_publishes_total", "counter",
         "PUBLISH commands sent (probes excluded; scripts publish too).");
  put(&o, "plaza_redis_publishes_total %llu\n",
      (unsigned long long)bs.publishes);
  family(&o, "plaza_redis_messages_received_total", "counter",
         "Messages received on subscribed channels (probes excluded).");
  put(&o, "plaza_redis_messages_received_total %llu\n",
      (unsigned long long)bs.received);
  family(&o, "plaza_redis_bad_messages_total", "counter",
         "Payloads from Redis refused as foreign or malformed.");
  put(&o, "plaza_redis_bad_messages_total %llu\n", (unsigned long long)bs.bad);
  family(&o, "plaza_room_gaps_repaired_total", "counter",
         "Room events missed on a channel and read again from the room's log.");
  put(&o, "plaza_room_gaps_repaired_total %llu\n",
      (unsigned long long)bs.gaps_repaired);
  family(&o, "plaza_room_reloads_total", "counter",
         "Room snapshots read from Redis (a room opened, a relink, a log "
         "trimmed past a gap, a new epoch).");
  put(&o, "plaza_room_reloads_total %llu\n", (unsigned long long)bs.reloads);
  family(&o, "plaza_redis_journalled_total", "counter",
         "Changes kept while unlinked from Redis (or whose answer a dropped "
         "link lost) and sent again on relink.");
  put(&o, "plaza_redis_journalled_total %llu\n",
      (unsigned long long)bs.journalled);
  family(&o, "plaza_chat_lost_total", "counter",
         "Chat messages a relinked node could not deliver to its members: "
         "more were missed than the room's history keeps.");
  put(&o, "plaza_chat_lost_total %llu\n", (unsigned long long)bs.chat_lost);
  family(&o, "plaza_http_requests_total", "counter",
         "HTTP requests (upgrades included).");
  put(&o, "plaza_http_requests_total %lld\n", (long long)SUM(http_requests));
  family(&o, "plaza_workers", "gauge", "Worker loops.");
  put(&o, "plaza_workers %d\n", srv->n_workers);
  family(&o, "plaza_build_info", "gauge", "Version and node of this process.");
  put(&o, "plaza_build_info{version=\"%s\",node=\"%s\",bus=\"%s\"} 1\n",
      PZ_VERSION, srv->node_name, srv->bus->vt->name);
  *len = o.len;
  return o.s;
}
