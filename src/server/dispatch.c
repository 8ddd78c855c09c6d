/*
 * Client message handling (see dispatch.h). Validation order: decode
 * (shape and types), HELLO first, then per op: room membership, argument
 * checks, rate limits, and only then the shard operation.
 */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "clock.h"
#include "joins.h"
#include "log.h"
#include "replies.h"
#include "routing.h"
#include "sessions.h"
#include "signals.h"

#define ABUSE_WINDOW_MS 10000
#define MALFORMED_WINDOW_MS 10000

typedef struct pz_ctx {
  pz_worker_t *w;
  pz_conn_t *c;
  pz_session_t *s; /* NULL before HELLO */
} pz_ctx_t;

static void error(const pz_ctx_t *x, int code, const char *message, int op) {
  pz_reply_error(x->w, pz_conn_outlet(x->c), code, message, op);
}

void pz_dispatch_answer(pz_conn_t *c, pz_shard_result_t r, int op) {
  pz_worker_t *w = pz_conn_owner(c);
  switch (r) {
  case PZ_SHARD_OK:
  case PZ_SHARD_STALE:
    break;
  case PZ_SHARD_ROOM_FULL:
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_ROOM_FULL, "room is full", op);
    break;
  case PZ_SHARD_MOVE_REJECTED:
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_MOVE_REJECTED,
                   "move breaks the room's rules", op);
    break;
  case PZ_SHARD_UNAVAILABLE:
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_OVERLOADED,
                   op == PZ_C_CHAT
                       ? "chat unavailable: this node lost the cluster, try "
                         "again"
                       : "unavailable: this node lost the cluster, try again",
                   op);
    break;
  case PZ_SHARD_LIMIT:
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_INVALID_ARGUMENT,
                   "past a size limit", op);
    break;
  case PZ_SHARD_CONFLICT:
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_CONFLICT, "conflict", op);
    break;
  }
}

/* A HELLO that cannot be carried out: the client hears why twice, in the
 * ERROR and in the reason of the 4000 close that follows (a pipelined
 * message after it would otherwise close with "HELLO expected first"). */
static void refuse_hello(const pz_ctx_t *x, int code, const char *message) {
  char reason[120];
  snprintf(reason, sizeof(reason), "HELLO refused: %s", message);
  error(x, code, message, PZ_C_HELLO);
  pz_conn_close(x->c, PZ_CLOSE_HELLO_EXPECTED, reason);
}

static void malformed(const pz_ctx_t *x, int code, const char *message,
                      int op) {
  PZ_ADD(x->w->metrics.msgs_in[0], 1);
  if (!x->s) {
    if (op == PZ_C_HELLO) /* a HELLO, ill-typed */
      refuse_hello(x, code, message);
    else
      pz_conn_close(x->c, PZ_CLOSE_HELLO_EXPECTED, "HELLO expected first");
    return;
  }
  error(x, code, message, op);
  uint32_t n =
      pz_window_hit(&x->s->malformed, MALFORMED_WINDOW_MS, pz_worker_now(x->w));
  if (n > x->w->cfg->malformed_limit)
    pz_conn_close(x->c, PZ_CLOSE_MALFORMED, "too many malformed messages");
}

/* A rate-limited message is dropped with ERROR 4; sustained, it kicks. */
static void rate_limited(const pz_ctx_t *x, int op) {
  PZ_ADD(x->w->metrics.dropped_frames, 1);
  error(x, PZ_ERR_RATE_LIMITED, "rate limited: message dropped", op);
  uint32_t n =
      pz_window_hit(&x->s->dropped, ABUSE_WINDOW_MS, pz_worker_now(x->w));
  if (n > x->w->cfg->abuse_limit)
    pz_conn_close(x->c, PZ_CLOSE_KICKED, "kicked: sustained rate limit abuse");
}

static bool text_ok(const pz_ctx_t *x, pz_str_t text, int op) {
  if (text.len < 1 || text.len > PZ_CHAT_TEXT_MAX ||
      !pz_utf8_valid(text.ptr, text.len)) {
    malformed(x, PZ_ERR_INVALID_ARGUMENT, "text must be 1-500 bytes of UTF-8",
              op);
    return false;
  }
  return true;
}

static void on_hello(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  if (x->s) {
    malformed(x, PZ_ERR_BAD_MESSAGE, "HELLO was already received", PZ_C_HELLO);
    return;
  }
  if (m->u.hello.version != PZ_PROTOCOL_VERSION) {
    refuse_hello(x, PZ_ERR_INVALID_ARGUMENT, "unsupported protocol version");
    return;
  }
  pz_str_t name = m->u.hello.name;
  pz_grant_t *grant = NULL;
  if (pz_auth_required(w->srv->auth)) {
    /* The token names the user; HELLO's name is not used. The close
     * reason never says which check failed. */
    int r = pz_auth_verify(w->srv->auth, m->u.hello.token, &grant);
    if (r != PZ_JWT_OK) {
      pz_debug("HELLO from %s: token refused (%s)", pz_conn_peer(x->c),
               pz_jwt_result_name(r));
      pz_conn_close(x->c, PZ_CLOSE_UNAUTHORIZED, "unauthorized");
      return;
    }
    name = grant->name_len ? (pz_str_t){grant->name, grant->name_len}
                           : (pz_str_t){NULL, 0};
  } else if (name.ptr && (name.len < 1 || name.len > PZ_NAME_MAX ||
                          !pz_utf8_valid(name.ptr, name.len))) {
    refuse_hello(x, PZ_ERR_INVALID_ARGUMENT,
                 "name must be 1-32 bytes of UTF-8");
    return;
  }
  /* The initial state, as a SET on an empty one would make it. */
  char *state = NULL;
  size_t state_len = 0;
  if (m->u.hello.state.ptr) {
    state = pz_xmalloc(w->cfg->member_state_max);
    if (pz_state_apply((pz_raw_t){NULL, 0}, m->u.hello.state, &w->zone, state,
                       w->cfg->member_state_max, &state_len) != PZ_STATE_OK) {
      char why[80];
      snprintf(why, sizeof(why), "state too large: at most %u bytes encoded",
               w->cfg->member_state_max);
      free(state);
      free(grant);
      refuse_hello(x, PZ_ERR_INVALID_ARGUMENT, why);
      return;
    }
  }
  pz_raw_t initial = {state, (uint32_t)state_len};
  /* A resume adds no session if it succeeds; a fresh one, whether asked
   * for or given when the resume fails, must fit (sessions.c). */
  pz_str_t resume = m->u.hello.resume;
  if (resume.ptr)
    pz_sessions_resume(w, x->c, resume, name, m->u.hello.has_last_chat_seq,
                       m->u.hello.last_chat_seq, initial, grant);
  else
    pz_sessions_welcome(w, x->c, name, initial, grant);
  free(state);
}

static void on_join(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  pz_session_t *s = x->s;
  pz_str_t room = m->u.join.room;
  if (!pz_room_name_valid(room.ptr, room.len)) {
    malformed(x, PZ_ERR_INVALID_ARGUMENT,
              "room must be 1-64 bytes of [A-Za-z0-9._:-]", PZ_C_JOIN);
    return;
  }
  if (s->grant && !pz_grant_allows_room(s->grant, room.ptr, room.len)) {
    /* The session stays where it is. */
    error(x, PZ_ERR_FORBIDDEN, "your token does not allow that room",
          PZ_C_JOIN);
    return;
  }
  if (s->room && s->room->name_len == room.len &&
      memcmp(s->room->name, room.ptr, room.len) == 0) {
    /* A ROOM snapshot of a big room is ~90 KB: refuse to resend it on
     * demand (a resume sends it). */
    malformed(x, PZ_ERR_INVALID_ARGUMENT, "already in that room", PZ_C_JOIN);
    return;
  }
  if (!pz_bucket_take(&s->join_bucket, w->cfg->join_rate, w->cfg->join_burst,
                      pz_worker_now(w))) {
    rate_limited(x, PZ_C_JOIN);
    return;
  }
  pz_joins_join(w, x->c, room);
}

static void on_move(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  pz_session_t *s = x->s;
  uint64_t now = pz_worker_now(w);
  if (!s->room) {
    error(x, PZ_ERR_NOT_IN_ROOM, "MOVE outside a room", PZ_C_MOVE);
    return;
  }
  if (!pz_bucket_take(&s->move_bucket, w->cfg->move_rate, w->cfg->move_rate,
                      now)) {
    rate_limited(x, PZ_C_MOVE);
    return;
  }
  pz_dispatch_answer(
      x->c, pz_shard_move(&w->shard, s, m->u.move.seq, &m->u.move.pos, now),
      PZ_C_MOVE);
}

static void on_chat(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  pz_session_t *s = x->s;
  if (!s->room) {
    error(x, PZ_ERR_NOT_IN_ROOM, "CHAT outside a room", PZ_C_CHAT);
    return;
  }
  if (!text_ok(x, m->u.chat.text, PZ_C_CHAT))
    return;
  if (!pz_bucket_take(&s->chat_bucket, w->cfg->chat_rate, w->cfg->chat_burst,
                      pz_worker_now(w))) {
    rate_limited(x, PZ_C_CHAT);
    return;
  }
  pz_dispatch_answer(x->c,
                     pz_shard_chat(&w->shard, s, m->u.chat.text, pz_wall_ms()),
                     PZ_C_CHAT);
}

static void on_whisper(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  pz_session_t *s = x->s;
  if (!text_ok(x, m->u.whisper.text, PZ_C_WHISPER))
    return;
  if (!pz_bucket_take(&s->chat_bucket, w->cfg->chat_rate, w->cfg->chat_burst,
                      pz_worker_now(w))) {
    rate_limited(x, PZ_C_WHISPER);
    return;
  }
  pz_msg_deliver_t *d =
      pz_deliver_new(PZ_DELIVER_WHISPER, m->u.whisper.to, s->id,
                     pz_session_name(s), m->u.whisper.text);
  d->ts_ms = pz_wall_ms();
  pz_routing_deliver(w, d);
}

/* SET, SIGNAL and ROOM_SET share one bucket. */
static bool app_allowed(const pz_ctx_t *x, int op) {
  pz_worker_t *w = x->w;
  if (pz_bucket_take(&x->s->app_bucket, w->cfg->app_rate, w->cfg->app_burst,
                     pz_worker_now(w)))
    return true;
  rate_limited(x, op);
  return false;
}

static void on_set(const pz_ctx_t *x, const pz_cmsg_t *m) {
  if (!app_allowed(x, PZ_C_SET))
    return;
  if (pz_shard_set_state(&x->w->shard, x->s, m->u.set.patch) != PZ_SHARD_OK) {
    char why[80];
    snprintf(why, sizeof(why), "state too large: at most %u bytes encoded",
             x->w->cfg->member_state_max);
    malformed(x, PZ_ERR_INVALID_ARGUMENT, why, PZ_C_SET);
  }
}

static void on_signal(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  if (m->u.signal.to_room && !x->s->room) {
    error(x, PZ_ERR_NOT_IN_ROOM, "SIGNAL to the room outside a room",
          PZ_C_SIGNAL);
    return;
  }
  if (m->u.signal.data.len > w->cfg->signal_max) {
    char why[80];
    snprintf(why, sizeof(why),
             "SIGNAL data too large: at most %u bytes encoded",
             w->cfg->signal_max);
    malformed(x, PZ_ERR_INVALID_ARGUMENT, why, PZ_C_SIGNAL);
    return;
  }
  if (!app_allowed(x, PZ_C_SIGNAL))
    return;
  pz_signals_send(w, x->s, m, pz_wall_ms());
}

static void on_room_set(const pz_ctx_t *x, const pz_cmsg_t *m) {
  pz_worker_t *w = x->w;
  pz_session_t *s = x->s;
  if (!s->room) {
    error(x, PZ_ERR_NOT_IN_ROOM, "ROOM_SET outside a room", PZ_C_ROOM_SET);
    return;
  }
  if (m->u.room_set.value.len > w->cfg->room_value_max) {
    char why[80];
    snprintf(why, sizeof(why), "value too large: at most %u bytes encoded",
             w->cfg->room_value_max);
    malformed(x, PZ_ERR_INVALID_ARGUMENT, why, PZ_C_ROOM_SET);
    return;
  }
  if (!app_allowed(x, PZ_C_ROOM_SET))
    return;
  uint64_t current = 0;
  pz_shard_result_t r = pz_shard_room_set(
      &w->shard, s, m->u.room_set.key, m->u.room_set.value,
      m->u.room_set.has_if_version, m->u.room_set.if_version, &current);
  if (r == PZ_SHARD_CONFLICT) {
    pz_reply_conflict(w, pz_conn_outlet(x->c), m->u.room_set.key, current);
  } else if (r == PZ_SHARD_LIMIT) {
    char why[120];
    snprintf(why, sizeof(why), "room state full: at most %u keys and %u bytes",
             w->cfg->room_keys_max, w->cfg->room_state_max);
    malformed(x, PZ_ERR_INVALID_ARGUMENT, why, PZ_C_ROOM_SET);
  } else {
    pz_dispatch_answer(x->c, r, PZ_C_ROOM_SET);
  }
}

/* VIEW: options checked by the codec; it counts against the app bucket
 * (a radius slider sends many). */
static void on_view(const pz_ctx_t *x, const pz_cmsg_t *m) {
  if (!app_allowed(x, PZ_C_VIEW))
    return;
  pz_dispatch_answer(
      x->c,
      pz_shard_view(&x->w->shard, x->s, m->u.view.radius, m->u.view.compact),
      PZ_C_VIEW);
}

static void on_leave(const pz_ctx_t *x) {
  if (!x->s->room)
    error(x, PZ_ERR_NOT_IN_ROOM, "LEAVE outside a room", PZ_C_LEAVE);
  else
    pz_shard_leave(&x->w->shard, x->s, true);
}

void pz_dispatch(pz_conn_t *c, const uint8_t *data, size_t len) {
  pz_ctx_t x = {pz_conn_owner(c), c, pz_conn_session(c)};
  pz_worker_t *w = x.w;
  pz_cmsg_t m;
  pz_decode_error_t err;
  if (pz_decode_client((const char *)data, len, &w->zone, &m, &err) != 0) {
    malformed(&x, err.code, err.message, err.op);
    msgpack_zone_clear(&w->zone);
    return;
  }
  PZ_ADD(w->metrics.msgs_in[m.op], 1);
  if (!x.s && m.op != PZ_C_HELLO) {
    pz_conn_close(c, PZ_CLOSE_HELLO_EXPECTED, "HELLO expected first");
  } else {
    switch (m.op) {
    case PZ_C_HELLO:
      on_hello(&x, &m);
      break;
    case PZ_C_JOIN:
      on_join(&x, &m);
      break;
    case PZ_C_LEAVE:
      on_leave(&x);
      break;
    case PZ_C_MOVE:
      on_move(&x, &m);
      break;
    case PZ_C_CHAT:
      on_chat(&x, &m);
      break;
    case PZ_C_WHISPER:
      on_whisper(&x, &m);
      break;
    case PZ_C_PING:
      pz_reply_pong(w, pz_conn_outlet(c), &m.u.ping.t);
      break;
    case PZ_C_SET:
      on_set(&x, &m);
      break;
    case PZ_C_SIGNAL:
      on_signal(&x, &m);
      break;
    case PZ_C_ROOM_SET:
      on_room_set(&x, &m);
      break;
    case PZ_C_VIEW:
      on_view(&x, &m);
      break;
    }
  }
  msgpack_zone_clear(&w->zone);
}
