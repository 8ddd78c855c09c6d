/*
 * A plaza session kept across connections (see client.h, "sessions that
 * survive dropped sockets"). Built on the public pz_client_* API: one
 * pz_client_t per connection, one timer for the backoff and the deadlines;
 * the context counts its sessions, so it is not closed under one that is
 * waiting to reconnect.
 *
 * What is remembered to come back: the session token and the last chat seq
 * (for HELLO's resume), the room asked for (`desired`) next to the room the
 * server has us in (`room`), and what the user sent while away. After each
 * WELCOME the session is `gated` until the room is as asked: a resumed
 * session waits for its ROOM, a fresh one joins again; then the queue
 * goes out. Every wait has a deadline, so no answer that never comes can
 * hold the session: a missing WELCOME or JOIN answer drops the connection
 * (and a reconnect follows), a missing resumed ROOM means no room.
 *
 * Member state (protocol 1.1) is kept here as the app wants it: a map's
 * bytes that every pz_client_session_set_state() patches at once (with
 * pz_state_apply, the server's own function). Every HELLO carries it, so
 * a fresh session after a refused resume starts with it; a resumed one
 * keeps the server's. What the server holds shows in each ROOM (the
 * session's own entry): where it differs (a SET lost with a socket, or
 * sent while away), one SET of the difference goes out, and the SETs
 * still queued are dropped, being part of it. A patch the server refused
 * (ERROR to a SET or to a reconnect's HELLO) makes the next ROOM's state
 * the truth instead (`state_doubt`).
 *
 * New client ops that carry state the server keeps per session belong in
 * restore() (sent again to a fresh session) next to JOIN.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "member_state.h"
#include "plaza/protocol.h"
#include "session_int.h"

#define RESUMED_ROOM_WAIT_MS 5000 /* a ROOM waits up to 2 s for Redis */

enum deadline {
  DL_NONE,
  DL_BACKOFF, /* the next connection attempt */
  DL_WELCOME, /* HELLO sent */
  DL_ROOM,    /* a resumed session's ROOM */
  DL_JOIN,    /* a JOIN sent to restore the room */
  DL_CLOSED,  /* CLOSED to report from the loop (no connection) */
};

/* ---- small things -------------------------------------------------------- */

static char *dup_str(pz_str_t v) {
  char *p = malloc((size_t)v.len + 1);
  if (p != NULL) {
    if (v.len > 0)
      memcpy(p, v.ptr, v.len);
    p[v.len] = '\0';
  }
  return p;
}

static char *dup_c(const char *v) {
  return v != NULL ? dup_str(pz_str_c(v)) : NULL;
}

static bool str_is(const char *a, pz_str_t b) {
  return a != NULL && strlen(a) == b.len && memcmp(a, b.ptr, b.len) == 0;
}

static bool same(const char *a, const char *b) {
  return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Replaces *slot with a copy of v (NULL: none). 0 or ENOMEM. */
static int set_str(char **slot, const char *v) {
  char *p = NULL;
  if (v != NULL && (p = dup_c(v)) == NULL)
    return PZ_CLIENT_ENOMEM;
  free(*slot);
  *slot = p;
  return 0;
}

static double random01(void) {
  uint32_t v;
  if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
    v = (uint32_t)uv_hrtime();
  return v / 4294967296.0;
}

bool pz_session_can_send(const pz_client_session_t *s) {
  return s->c != NULL && s->welcomed && !s->gated && !s->ending;
}

static void on_timer(uv_timer_t *t);

static void arm(pz_client_session_t *s, int deadline, uint64_t ms) {
  s->deadline = deadline;
  uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void disarm(pz_client_session_t *s) {
  s->deadline = DL_NONE;
  uv_timer_stop(&s->timer);
}

static void emit(pz_client_session_t *s, pz_client_session_event_t *ev) {
  s->status = ev->status;
  if (s->cbs->on_status != NULL)
    s->cbs->on_status(s, ev);
}

/* ---- the end ------------------------------------------------------------- */

static void free_strings(pz_client_session_t *s) {
  free(s->url);
  free(s->ca_file);
  free(s->bind_addr);
  free(s->subprotocol);
  free(s->token);
  free(s->name);
}

static void on_timer_closed(uv_handle_t *h) {
  pz_client_session_t *s = h->data;
  pz_session_outbox_free(s);
  msgpack_zone_destroy(&s->zone);
  pz_compact_dispose(&s->compact);
  free_strings(s);
  free(s->session);
  free(s->room);
  free(s->desired);
  free(s->join_sent);
  pz_mstate_dispose(&s->state);
  free(s);
}

/* Reports CLOSED and frees the session once its timer is closed. */
static void finish(pz_client_session_t *s, pz_client_session_event_t *ev) {
  s->ending = true;     /* calls from on_status get ESTATE */
  s->ctx->n_sessions--; /* first, so on_status may close the context */
  disarm(s);
  ev->status = PZ_CLIENT_SESSION_CLOSED;
  ev->refused = s->refused;
  emit(s, ev);
  uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

/* ---- sending ------------------------------------------------------------- *
 * A send the connection refuses means it is going away: its on_close
 * follows and decides what comes next, so the results are not kept. */

static void send_join(pz_client_session_t *s, const char *room) {
  if (set_str(&s->join_sent, room) != 0)
    return;
  (void)pz_client_send_join(s->c, pz_str_c(room));
}

/* What waited for the room: the queue in order, then the latest move. */
static void flush(pz_client_session_t *s) {
  s->gated = false;
  if (s->deadline == DL_ROOM || s->deadline == DL_JOIN)
    disarm(s);
  pz_session_outbox_send(s);
  if (s->move_pending && s->c != NULL && s->room != NULL) {
    s->move_pending = false;
    (void)pz_client_send_move(s->c, s->move_pending_seq, s->move_pos);
  }
}

/* A session with no room on the server (new, or a resume without one):
 * join the room asked for, or go on. */
static void restore(pz_client_session_t *s) {
  if (s->desired == NULL) {
    flush(s);
    return;
  }
  s->gated = true;
  send_join(s, s->desired);
  arm(s, DL_JOIN, s->wait_ms);
}

/* The server's room against the one asked for, while gated. */
static void reconcile(pz_client_session_t *s) {
  if (!s->gated)
    return;
  if (s->desired == NULL) {
    if (s->room != NULL) /* left while away */
      (void)pz_client_send_leave(s->c);
    flush(s);
  } else if (same(s->desired, s->room)) {
    flush(s);
  } else if (!same(s->join_sent, s->desired)) { /* joined another meanwhile */
    send_join(s, s->desired);
    arm(s, DL_JOIN, s->wait_ms);
  }
}

/* ---- member state ------------------------------------------------------ */

/* A ROOM listing this session with `server` as its state: make the two
 * one. */
static void sync_state(pz_client_session_t *s, pz_raw_t server) {
  msgpack_sbuffer sb;

  if (s->state_doubt) {
    /* The server's is the truth, with what is still to go on top. */
    if (pz_mstate_adopt(&s->state, server) == 0)
      for (qmsg_t *q = s->queue; q != NULL; q = q->next)
        if (q->op == PZ_C_SET)
          (void)pz_mstate_apply(&s->state,
                                (pz_raw_t){q->data + q->alen, q->blen});
    s->state_doubt = s->hello_no_state = false;
    return;
  }
  pz_session_outbox_drop_sets(
      s, false); /* the state they made is what goes (or is there) */
  msgpack_sbuffer_init(&sb);
  if (pz_mstate_diff(&s->state, server, &sb) > 0 && s->c != NULL)
    (void)pz_client_send_set(s->c, (pz_raw_t){sb.data, (uint32_t)sb.size});
  msgpack_sbuffer_destroy(&sb);
}

/* ---- what the server says ------------------------------------------------ */

static void deliver(pz_client_session_t *s, const pz_smsg_t *m) {
  if (s->cbs->on_message != NULL)
    s->cbs->on_message(s, m);
}

static void on_welcome(pz_client_session_t *s, const pz_smsg_t *m) {
  pz_client_session_event_t ev = {.status = PZ_CLIENT_SESSION_OPEN};
  char *token = dup_str(m->u.welcome.session);

  ev.resumed = m->u.welcome.resumed;
  ev.fresh = s->session != NULL && !m->u.welcome.resumed;
  if (token != NULL) {
    free(s->session);
    s->session = token;
    s->session_len = m->u.welcome.session.len;
  }
  s->id = m->u.welcome.id;
  s->features = m->u.welcome.features;
  s->welcomed = s->welcomed_once = true;
  s->attempt = 0;
  disarm(s);
  if (!m->u.welcome.resumed) {
    free(s->room);
    s->room = NULL;
    s->last_chat_seq = 0;
    pz_session_outbox_drop_sets(
        s, true); /* a new session: HELLO's state had them */
  }
  deliver(s, m);
  emit(s, &ev);
  if (s->c == NULL || s->ending)
    return; /* closed from a callback */
  /* A resume on the node that had the session keeps its VIEW (the same
   * one again changes nothing); elsewhere, or fresh, it is set again,
   * before the JOIN. */
  if (s->has_view)
    (void)pz_client_send_view(s->c, s->view_radius, s->view_compact);
  if (m->u.welcome.resumed && s->room != NULL) {
    s->gated = true; /* its ROOM follows */
    arm(s, DL_ROOM, RESUMED_ROOM_WAIT_MS);
  } else {
    restore(s);
  }
}

static void on_room(pz_client_session_t *s, const pz_smsg_t *m) {
  pz_smsg_t copy = *m;
  bool resumed = s->deadline == DL_ROOM;
  size_t i = 0;

  free(s->room);
  s->room = dup_str(m->u.room.room); /* NULL when out of memory: no room */
  if (str_is(s->join_sent, m->u.room.room)) {
    free(s->join_sent);
    s->join_sent = NULL;
  }
  if (resumed) {
    /* Only what was not delivered: seqs grow oldest first. The replayed
     * CHATs that follow then find their seq delivered. */
    while (i < copy.u.room.n_history &&
           copy.u.room.history[i].seq <= s->last_chat_seq)
      i++;
    copy.u.room.history += i;
    copy.u.room.n_history -= i;
  } else {
    s->last_chat_seq = 0;
  }
  if (copy.u.room.n_history > 0)
    s->last_chat_seq = copy.u.room.history[copy.u.room.n_history - 1].seq;
  if (s->features & PZ_FEATURE_STATE)
    for (i = 0; i < m->u.room.n_members; i++)
      if (m->u.room.members[i].id == s->id) {
        sync_state(s, m->u.room.member_states[i]);
        break;
      }
  pz_compact_reset(&s->compact); /* a view starts over at ROOM */
  deliver(s, &copy);
  if (s->c != NULL && !s->ending)
    reconcile(s);
}

static void on_error(pz_client_session_t *s, const pz_smsg_t *m) {
  int code = m->u.error.code, op = m->u.error.op;

  if (!s->welcomed && code != PZ_ERR_SESSION_EXPIRED && !s->welcomed_once) {
    /* The first HELLO refused: coming back would be refused again. */
    s->refused = true;
    deliver(s, m);
    pz_client_session_close(s, false);
    return;
  }
  if (op == PZ_C_HELLO && code == PZ_ERR_FORBIDDEN && s->deadline == DL_ROOM) {
    /* The resumed session's new token does not allow its room: the server
     * took it out of it, and no ROOM comes. Nor is the room asked for
     * again: the JOIN would be refused. */
    if (same(s->desired, s->room))
      set_str(&s->desired, NULL);
    free(s->room);
    s->room = NULL;
    disarm(s);
    deliver(s, m);
    if (s->c != NULL && !s->ending)
      restore(s);
    return;
  }
  if ((op == PZ_C_SET || op == PZ_C_HELLO) &&
      (code == PZ_ERR_INVALID_ARGUMENT || code == PZ_ERR_BAD_MESSAGE)) {
    /* A patch, or a reconnect's HELLO for its state (a server whose limit
     * is below state_max: a 4000 close follows), refused. */
    s->state_doubt = true;
    s->hello_no_state |= op == PZ_C_HELLO;
  }
  if (op == PZ_C_JOIN && s->join_sent != NULL) {
    free(s->join_sent);
    s->join_sent = NULL;
    if (code == PZ_ERR_ROOM_FULL) { /* the server took us out first */
      free(s->room);
      s->room = NULL;
    }
    set_str(&s->desired, s->room); /* we stay where we are */
  } else if (op == PZ_C_LEAVE) {
    free(s->room); /* not in a room: what a LEAVE wanted */
    s->room = NULL;
  }
  deliver(s, m);
  if (s->c != NULL && !s->ending && s->gated && s->welcomed &&
      s->deadline == DL_JOIN && s->join_sent == NULL)
    flush(s);
}

static void on_server_message(pz_client_session_t *s, const pz_smsg_t *m) {
  switch (m->op) {
  case PZ_S_WELCOME:
    on_welcome(s, m);
    break;
  case PZ_S_ROOM:
    on_room(s, m);
    break;
  case PZ_S_LEFT:
    if (m->u.left.id == s->id) {
      free(s->room);
      s->room = NULL;
    }
    deliver(s, m);
    if (m->u.left.id == s->id && s->c != NULL && !s->ending)
      reconcile(s);
    break;
  case PZ_S_CHAT:
    /* A resume replays what may have been delivered: seq says. */
    if (m->u.chat.seq <= s->last_chat_seq)
      break;
    s->last_chat_seq = m->u.chat.seq;
    deliver(s, m);
    break;
  case PZ_S_ERROR:
    on_error(s, m);
    break;
  case PZ_S_STATE_C: {
    /* Decoded here, delivered with its entries as a STATE's. One that
     * does not decode (which plaza never sends) is dropped. */
    pz_smsg_t copy = *m;
    if (pz_compact_decode(&s->compact, &copy, &s->zone) == 0)
      deliver(s, &copy);
    break;
  }
  default:
    deliver(s, m);
    break;
  }
}

/* ---- connections --------------------------------------------------------- */

static void on_open(pz_client_t *c) {
  pz_client_session_t *s = pz_client_data(c);
  pz_str_t resume = {s->session, s->session != NULL ? s->session_len : 0};
  pz_raw_t state = {NULL, 0};

  if (!s->hello_no_state && !pz_mstate_empty(&s->state)) {
    state = pz_mstate_get(&s->state);
    for (qmsg_t *q = s->queue; q != NULL; q = q->next)
      q->in_hello |= q->op == PZ_C_SET;
  }
  (void)pz_client_send_hello_state(c, pz_str_c(s->token), pz_str_c(s->name),
                                   resume, s->session != NULL, s->last_chat_seq,
                                   state);
  arm(s, DL_WELCOME, s->wait_ms);
}

static void on_message(pz_client_t *c, int opcode, const char *data,
                       size_t len) {
  pz_client_session_t *s = pz_client_data(c);
  pz_smsg_t m;

  /* plaza sends binary MessagePack only; anything else is skipped, as
   * plaza-client skips it. */
  if (opcode == PZ_CLIENT_BINARY &&
      pz_decode_server(data, len, &s->zone, &m) == 0)
    on_server_message(s, &m);
  msgpack_zone_clear(&s->zone);
}

static void on_close(pz_client_t *c, int code, const char *reason,
                     size_t reason_len) {
  pz_client_session_t *s = pz_client_data(c);
  pz_client_session_event_t ev = {0};

  s->c = NULL;
  s->welcomed = false;
  s->gated = true;
  free(s->join_sent);
  s->join_sent = NULL;
  disarm(s);
  ev.code = code;
  ev.reason = (pz_str_t){reason, (uint32_t)reason_len};
  ev.err = pz_client_error(c);
  ev.http_status = pz_client_http_status(c);
  ev.opened = ev.http_status == 101;
  if (s->ending || s->refused || !s->welcomed_once || !s->reconnect ||
      code == PZ_CLOSE_UNAUTHORIZED || code == PZ_CLOSE_KICKED) {
    finish(s, &ev);
    return;
  }
  /* A draining node asks us to come back at once, elsewhere. */
  ev.delay_ms = code == PZ_CLOSE_GOING_AWAY && s->attempt == 0
                    ? 0
                    : pz_backoff_delay(&s->backoff, s->attempt, random01());
  ev.attempt = ++s->attempt;
  ev.status = PZ_CLIENT_SESSION_RECONNECTING;
  arm(s, DL_BACKOFF, ev.delay_ms);
  emit(s, &ev);
}

static const pz_client_cbs_t conn_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

/* The next attempt; one refused before any I/O counts as a failed one. */
static void connect_now(pz_client_session_t *s) {
  pz_client_session_event_t ev = {.status = PZ_CLIENT_SESSION_RECONNECTING};
  int r = pz_client_connect(s->ctx, s->url, &s->conn, &conn_cbs, s, &s->c);

  if (r == 0)
    return;
  s->c = NULL;
  ev.code = PZ_CLIENT_CLOSE_ABNORMAL;
  ev.reason = pz_str_c(pz_client_strerror(r));
  ev.err = r;
  ev.delay_ms = pz_backoff_delay(&s->backoff, s->attempt, random01());
  ev.attempt = ++s->attempt;
  arm(s, DL_BACKOFF, ev.delay_ms);
  emit(s, &ev);
}

static void on_timer(uv_timer_t *t) {
  pz_client_session_t *s = t->data;
  int deadline = s->deadline;
  pz_client_session_event_t ev = {0};

  s->deadline = DL_NONE;
  switch (deadline) {
  case DL_BACKOFF:
    connect_now(s);
    break;
  case DL_WELCOME:
  case DL_JOIN:
    /* The server holds the connection but does not answer: try another
     * one (on_close decides whether to come back). */
    if (s->c != NULL)
      pz_client_abort(s->c);
    break;
  case DL_ROOM:
    /* Resumed outside any room after all (a LEAVE whose LEFT was lost). */
    free(s->room);
    s->room = NULL;
    if (s->c != NULL)
      restore(s);
    break;
  case DL_CLOSED:
    ev.code = PZ_CLOSE_NORMAL;
    finish(s, &ev);
    break;
  default:
    break;
  }
}

/* ---- the API ------------------------------------------------------------- */

void pz_client_session_opts_init(pz_client_session_opts_t *opts) {
  memset(opts, 0, sizeof(*opts));
  pz_client_opts_init(&opts->conn);
  opts->reconnect = true;
  opts->backoff_initial_ms = 250;
  opts->backoff_max_ms = 5000;
  opts->backoff_factor = 2;
  opts->backoff_jitter = 0.5;
  opts->queue_max = 64;
}

/* The session's own copies of the options' strings. 0 or ENOMEM. */
static int copy_opts(pz_client_session_t *s,
                     const pz_client_session_opts_t *o) {
  s->conn = o->conn;
  if (set_str(&s->ca_file, o->conn.ca_file) || set_str(&s->token, o->token) ||
      set_str(&s->bind_addr, o->conn.bind_addr) ||
      set_str(&s->subprotocol, o->conn.subprotocol) ||
      set_str(&s->name, o->name))
    return PZ_CLIENT_ENOMEM;
  s->conn.ca_file = s->ca_file;
  s->conn.bind_addr = s->bind_addr;
  s->conn.subprotocol = s->subprotocol;
  s->reconnect = o->reconnect;
  s->backoff = (pz_backoff_t){o->backoff_initial_ms, o->backoff_max_ms,
                              o->backoff_factor, o->backoff_jitter};
  s->queue_max = o->queue_max;
  s->wait_ms = o->conn.connect_timeout_ms ? o->conn.connect_timeout_ms : 10000;
  return pz_mstate_init(&s->state, o->state, o->state_max);
}

int pz_client_session_start(pz_client_ctx_t *ctx, const char *url,
                            const pz_client_session_opts_t *opts,
                            const pz_client_session_cbs_t *cbs, void *data,
                            pz_client_session_t **out) {
  pz_client_session_opts_t defaults;
  pz_client_session_t *s;
  int r;

  if (ctx == NULL || url == NULL || cbs == NULL || out == NULL)
    return PZ_CLIENT_EINVAL;
  if (opts == NULL) {
    pz_client_session_opts_init(&defaults);
    opts = &defaults;
  }
  if ((s = calloc(1, sizeof(*s))) == NULL)
    return PZ_CLIENT_ENOMEM;
  s->ctx = ctx;
  s->cbs = cbs;
  s->data = data;
  s->status = PZ_CLIENT_SESSION_CONNECTING;
  s->gated = true;
  s->queue_tail = &s->queue;
  if ((r = copy_opts(s, opts)) != 0 || (r = set_str(&s->url, url)) != 0 ||
      (r = pz_client_connect(ctx, url, &s->conn, &conn_cbs, s, &s->c)) != 0) {
    free_strings(s);
    pz_mstate_dispose(&s->state);
    free(s);
    return r;
  }
  /* Callbacks run from the loop only, so these are in place in time. */
  ctx->n_sessions++;
  msgpack_zone_init(&s->zone, 4096);
  pz_compact_init(&s->compact);
  uv_timer_init(pz_client_ctx_loop(ctx), &s->timer);
  s->timer.data = s;
  *out = s;
  return 0;
}

int pz_client_session_join(pz_client_session_t *s, pz_str_t room) {
  char *copy;
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  if (room.len == 0 || room.len > PZ_ROOM_NAME_MAX ||
      memchr(room.ptr, '\0', room.len) != NULL)
    return PZ_CLIENT_EINVAL;
  if ((copy = dup_str(room)) == NULL)
    return PZ_CLIENT_ENOMEM;
  free(s->desired);
  s->desired = copy;
  if (pz_session_can_send(s))
    send_join(s, s->desired);
  return 0;
}

int pz_client_session_leave(pz_client_session_t *s) {
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  free(s->desired);
  s->desired = NULL;
  if (pz_session_can_send(s))
    return pz_client_send_leave(s->c);
  return 0;
}

int pz_client_session_move(pz_client_session_t *s, pz_pos_t pos,
                           uint64_t *seq) {
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  s->move_seq++;
  if (seq != NULL)
    *seq = s->move_seq;
  if (pz_session_can_send(s))
    return pz_client_send_move(s->c, s->move_seq, pos);
  s->move_pending = true;
  s->move_pos = pos;
  s->move_pending_seq = s->move_seq;
  return 0;
}

int pz_client_session_view(pz_client_session_t *s, double radius,
                           bool compact) {
  if (s->ending)
    return PZ_CLIENT_ESTATE;
  if (!isfinite(radius) || radius < 0)
    return PZ_CLIENT_EINVAL;
  s->has_view = true;
  s->view_radius = radius;
  s->view_compact = compact;
  if (s->c != NULL && s->welcomed)
    return pz_client_send_view(s->c, radius, compact);
  return 0;
}

int pz_client_session_ping(pz_client_session_t *s, double t) {
  return pz_session_can_send(s) ? pz_client_send_ping(s->c, t)
                                : PZ_CLIENT_ESTATE;
}

void pz_client_session_close(pz_client_session_t *s, bool leave) {
  if (s->ending)
    return;
  s->ending = true;
  if (s->c == NULL) { /* away: nothing to close but the session */
    arm(s, DL_CLOSED, 0);
    return;
  }
  if (leave && s->welcomed && s->room != NULL)
    (void)pz_client_send_leave(s->c);
  disarm(s);
  pz_client_close(s->c, PZ_CLOSE_NORMAL, "bye");
}

void pz_client_session_abort(pz_client_session_t *s) {
  if (s->c != NULL) {
    s->ending = true;
    disarm(s);
    pz_client_abort(s->c);
  } else if (!s->ending) {
    pz_client_session_close(s, false);
  }
}

void *pz_client_session_data(const pz_client_session_t *s) {
  return s->data;
}

int pz_client_session_status(const pz_client_session_t *s) {
  return s->status;
}

uint64_t pz_client_session_id(const pz_client_session_t *s) {
  return s->id;
}

uint32_t pz_client_session_features(const pz_client_session_t *s) {
  return s->features;
}

pz_raw_t pz_client_session_state(const pz_client_session_t *s) {
  return pz_mstate_get(&s->state);
}

int pz_client_session_set_token(pz_client_session_t *s, const char *token) {
  return s->ending ? PZ_CLIENT_ESTATE : set_str(&s->token, token);
}

const char *pz_client_session_room(const pz_client_session_t *s) {
  return s->room;
}

pz_client_t *pz_client_session_client(const pz_client_session_t *s) {
  return s->c;
}
