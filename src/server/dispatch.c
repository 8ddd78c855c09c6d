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
#include "clock.h"
#include "conn.h"
#include "id.h"
#include "log.h"
#include "session_ops.h"

#define ABUSE_WINDOW_MS 10000
#define MALFORMED_WINDOW_MS 10000

static void malformed(pz_conn_t *c, int code, const char *message, int op) {
  pz_worker_t *w = c->w;
  PZ_ADD(w->metrics.msgs_in[0], 1);
  if (!c->session) {
    pz_conn_close(c, PZ_CLOSE_HELLO_EXPECTED, "HELLO expected first");
    return;
  }
  pz_conn_error(c, code, message, op);
  uint32_t n =
      pz_window_hit(&c->malformed, MALFORMED_WINDOW_MS, pz_worker_now(w));
  if (n > w->cfg->malformed_limit)
    pz_conn_close(c, PZ_CLOSE_MALFORMED, "too many malformed messages");
}

/* A rate-limited message is dropped with ERROR 4; sustained, it kicks. */
static void rate_limited(pz_conn_t *c, int op) {
  pz_worker_t *w = c->w;
  PZ_ADD(w->metrics.dropped_frames, 1);
  pz_conn_error(c, PZ_ERR_RATE_LIMITED, "rate limited: message dropped", op);
  uint32_t n =
      pz_window_hit(&c->session->dropped, ABUSE_WINDOW_MS, pz_worker_now(w));
  if (n > w->cfg->abuse_limit)
    pz_conn_close(c, PZ_CLOSE_KICKED, "kicked: sustained rate limit abuse");
}

static bool text_ok(pz_conn_t *c, pz_str_t text, int op) {
  if (text.len < 1 || text.len > PZ_CHAT_TEXT_MAX ||
      !pz_utf8_valid(text.ptr, text.len)) {
    malformed(c, PZ_ERR_INVALID_ARGUMENT, "text must be 1-500 bytes of UTF-8",
              op);
    return false;
  }
  return true;
}

static void on_hello(pz_conn_t *c, const pz_cmsg_t *m) {
  pz_worker_t *w = c->w;
  if (c->session) {
    malformed(c, PZ_ERR_BAD_MESSAGE, "HELLO was already received", PZ_C_HELLO);
    return;
  }
  if (m->u.hello.version != PZ_PROTOCOL_VERSION) {
    pz_conn_error(c, PZ_ERR_INVALID_ARGUMENT, "unsupported protocol version",
                  PZ_C_HELLO);
    return;
  }
  pz_str_t name = m->u.hello.name;
  if (name.ptr && (name.len < 1 || name.len > PZ_NAME_MAX ||
                   !pz_utf8_valid(name.ptr, name.len))) {
    pz_conn_error(c, PZ_ERR_INVALID_ARGUMENT,
                  "name must be 1-32 bytes of UTF-8", PZ_C_HELLO);
    return;
  }
  if (atomic_load(&w->srv->sessions) >= (int64_t)w->cfg->max_connections) {
    pz_conn_error(c, PZ_ERR_OVERLOADED, "server full, try another node",
                  PZ_C_HELLO);
    pz_conn_close(c, PZ_CLOSE_GOING_AWAY, "overloaded");
    return;
  }
  pz_str_t resume = m->u.hello.resume;
  if (resume.ptr) {
    pz_msg_adopt_t *a = pz_xcalloc(1, sizeof(*a));
    a->hdr.type = PZ_MSG_ADOPT;
    a->purpose = PZ_ADOPT_RESUME;
    a->has_last_chat_seq = m->u.hello.has_last_chat_seq;
    a->last_chat_seq = m->u.hello.last_chat_seq;
    if (name.ptr) {
      memcpy(a->name, name.ptr, name.len);
      a->name_len = (uint8_t)name.len;
    }
    if (resume.len <= PZ_SESSION_TOKEN_MAX &&
        pz_token_parse(resume.ptr, resume.len, &a->id)) {
      memcpy(a->token, resume.ptr, resume.len);
      a->token_len = (uint8_t)resume.len;
    }
    pz_session_resume(w, c, a); /* an unparsable token fails there */
    return;
  }
  pz_session_welcome_new(w, c, name, false);
}

static void on_join(pz_conn_t *c, const pz_cmsg_t *m) {
  pz_worker_t *w = c->w;
  pz_session_t *s = c->session;
  pz_str_t room = m->u.join.room;
  if (!pz_room_name_valid(room.ptr, room.len)) {
    malformed(c, PZ_ERR_INVALID_ARGUMENT,
              "room must be 1-64 bytes of [A-Za-z0-9._:-]", PZ_C_JOIN);
    return;
  }
  if (s->room && s->room->name_len == room.len &&
      memcmp(s->room->name, room.ptr, room.len) == 0) {
    pz_shard_send_room(&w->shard, s, false, 0); /* already there */
    return;
  }
  pz_shard_leave(&w->shard, s, false);
  int shard = pz_room_shard(room.ptr, room.len, w->srv->n_workers);
  if (shard == w->index) {
    if (pz_shard_join(&w->shard, s, room) == PZ_ERR_ROOM_FULL)
      pz_conn_error(c, PZ_ERR_ROOM_FULL, "room is full", PZ_C_JOIN);
    return;
  }
  /* The room lives on another worker: the connection goes there. */
  pz_msg_adopt_t *a = pz_xcalloc(1, sizeof(*a));
  a->hdr.type = PZ_MSG_ADOPT;
  a->purpose = PZ_ADOPT_JOIN;
  a->session = s;
  memcpy(a->room, room.ptr, room.len);
  a->room_len = (uint8_t)room.len;
  pz_session_unhost(w, s);
  pz_conn_migrate(c, a, shard);
}

static void on_move(pz_conn_t *c, const pz_cmsg_t *m) {
  pz_worker_t *w = c->w;
  pz_session_t *s = c->session;
  uint64_t now = pz_worker_now(w);
  if (!s->room) {
    pz_conn_error(c, PZ_ERR_NOT_IN_ROOM, "MOVE outside a room", PZ_C_MOVE);
    return;
  }
  if (!pz_bucket_take(&s->move_bucket, w->cfg->move_rate, w->cfg->move_rate,
                      now)) {
    rate_limited(c, PZ_C_MOVE);
    return;
  }
  if (pz_shard_move(&w->shard, s, m->u.move.seq, &m->u.move.pos, now) ==
      PZ_ERR_MOVE_REJECTED)
    pz_conn_error(c, PZ_ERR_MOVE_REJECTED, "move breaks the room's rules",
                  PZ_C_MOVE);
}

static void on_chat(pz_conn_t *c, const pz_cmsg_t *m) {
  pz_worker_t *w = c->w;
  pz_session_t *s = c->session;
  if (!s->room) {
    pz_conn_error(c, PZ_ERR_NOT_IN_ROOM, "CHAT outside a room", PZ_C_CHAT);
    return;
  }
  if (!text_ok(c, m->u.chat.text, PZ_C_CHAT))
    return;
  if (!pz_bucket_take(&s->chat_bucket, w->cfg->chat_rate, w->cfg->chat_burst,
                      pz_worker_now(w))) {
    rate_limited(c, PZ_C_CHAT);
    return;
  }
  pz_shard_chat(&w->shard, s, m->u.chat.text, pz_wall_ms());
}

static void on_whisper(pz_conn_t *c, const pz_cmsg_t *m) {
  pz_worker_t *w = c->w;
  pz_session_t *s = c->session;
  if (!text_ok(c, m->u.whisper.text, PZ_C_WHISPER))
    return;
  if (!pz_bucket_take(&s->chat_bucket, w->cfg->chat_rate, w->cfg->chat_burst,
                      pz_worker_now(w))) {
    rate_limited(c, PZ_C_WHISPER);
    return;
  }
  pz_msg_deliver_t *d =
      pz_deliver_new(PZ_DELIVER_WHISPER, m->u.whisper.to, s->id,
                     pz_session_name(s), m->u.whisper.text);
  d->ts_ms = pz_wall_ms();
  pz_worker_deliver(w, d);
}

static void on_ping(pz_conn_t *c, const pz_cmsg_t *m) {
  pz_wire_t *wire = &c->w->shard.wire;
  pz_enc_pong(pz_wire_begin(wire), &m->u.ping.t, pz_wall_ms());
  pz_conn_send(c, pz_wire_data(wire), pz_wire_len(wire), PZ_PAYLOAD_RELIABLE,
               NULL);
}

void pz_dispatch(pz_conn_t *c, const uint8_t *data, size_t len) {
  pz_worker_t *w = c->w;
  pz_cmsg_t m;
  pz_decode_error_t err;
  if (pz_decode_client((const char *)data, len, &w->zone, &m, &err) != 0) {
    malformed(c, err.code, err.message, err.op);
    msgpack_zone_clear(&w->zone);
    return;
  }
  PZ_ADD(w->metrics.msgs_in[m.op], 1);
  if (!c->session && m.op != PZ_C_HELLO) {
    pz_conn_close(c, PZ_CLOSE_HELLO_EXPECTED, "HELLO expected first");
  } else {
    switch (m.op) {
    case PZ_C_HELLO:
      on_hello(c, &m);
      break;
    case PZ_C_JOIN:
      on_join(c, &m);
      break;
    case PZ_C_LEAVE:
      if (!c->session->room)
        pz_conn_error(c, PZ_ERR_NOT_IN_ROOM, "LEAVE outside a room",
                      PZ_C_LEAVE);
      else
        pz_shard_leave(&w->shard, c->session, true);
      break;
    case PZ_C_MOVE:
      on_move(c, &m);
      break;
    case PZ_C_CHAT:
      on_chat(c, &m);
      break;
    case PZ_C_WHISPER:
      on_whisper(c, &m);
      break;
    case PZ_C_PING:
      on_ping(c, &m);
      break;
    }
  }
  msgpack_zone_clear(&w->zone);
}
