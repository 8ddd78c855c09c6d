/* Session life across workers (see sessions.h). */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "auth.h"
#include "bus.h"
#include "dispatch.h"
#include "remote.h"
#include "id.h"
#include "log.h"
#include "replies.h"
#include "routing.h"

#define RESUME_MAX_HOPS 4

enum pz_adopt_purpose { PZ_ADOPT_JOIN, PZ_ADOPT_RESUME };

/* A connection in transit, and what to do with it on arrival. */
typedef struct pz_msg_adopt {
  pz_msg_t hdr;
  pz_conn_t *conn;
  pz_session_t *session; /* JOIN: the session moving with it */
  int purpose;
  int hops;
  int to;
  /* JOIN */
  char room[PZ_ROOM_NAME_MAX + 1];
  uint8_t room_len;
  bool held;  /* a place is held for it there */
  bool evict; /* a restored session its token keeps out of the room */
  /* RESUME */
  uint64_t id;
  char token[PZ_SESSION_TOKEN_MAX + 1];
  uint8_t token_len;
  bool has_last_chat_seq;
  uint64_t last_chat_seq;
  char name[PZ_NAME_MAX + 1]; /* for the fresh session if resume fails */
  uint8_t name_len;
  char *state; /* and its HELLO state (owned; NULL: empty) */
  uint32_t state_len;
  pz_grant_t *grant; /* RESUME with auth: the new token's (owned) */
} pz_msg_adopt_t;

/* This module's state, per worker. */
struct pz_sessions {
  uint32_t id_counter;    /* ids made on this worker */
  pz_session_t *detached; /* sessions in their grace period, by expiry */
};

/* A connection (and session) in transit to the worker it goes to; one
 * left in an inbox at shutdown closes its socket and frees its session. */
static void on_adopt(void *receiver, pz_msg_t *msg);
static void drop_adopt(void *receiver, pz_msg_t *msg);
static const pz_msg_kind_t adopt_kind = {on_adopt, drop_adopt};

static void adopt_free(pz_msg_adopt_t *a) {
  free(a->state);
  free(a->grant);
  free(a);
}

static void resume_failed(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                          pz_raw_t state, pz_grant_t *grant);

static pz_session_t *session_new(pz_worker_t *w, pz_str_t name) {
  uint64_t id = pz_id_make(w->srv->node_id, (uint32_t)w->index,
                           ++w->sessions->id_counter);
  uint8_t secret[PZ_TOKEN_SECRET_BYTES];
  if (pz_token_secret_new(secret) != 0)
    return NULL;
  char guest[PZ_NAME_MAX + 1];
  if (!name.ptr) {
    int n =
        snprintf(guest, sizeof(guest), "guest-%llu", (unsigned long long)id);
    name = (pz_str_t){guest, (uint32_t)n};
  }
  pz_session_t *s =
      pz_shard_session_create(&w->shard, id, name, secret, pz_worker_now(w));
  PZ_ADD(w->metrics.sessions, 1);
  pz_routing_dir_set(w, id, w->index);
  return s;
}

static void attach(pz_worker_t *w, pz_conn_t *c, pz_session_t *s) {
  pz_shard_session_attach(&w->shard, s, pz_conn_outlet(c));
  pz_conn_attach(c, s);
  s->addr = *pz_conn_ip(c);
}

/* A place among --max-connections sessions, taken before the session is
 * made: one atomic add, undone when it went over, so that HELLOs on
 * several workers at once never all take the last place (a check, then
 * the add, would let them). */
static bool seat_take(pz_server_t *srv) {
  if (atomic_fetch_add(&srv->sessions, 1) < (int64_t)srv->cfg->max_connections)
    return true;
  atomic_fetch_sub(&srv->sessions, 1);
  return false;
}

void pz_sessions_welcome(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                         pz_raw_t state, pz_grant_t *grant) {
  if (!seat_take(w->srv)) {
    pz_debug("HELLO from %s: server full", pz_conn_peer(c));
    free(grant);
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_OVERLOADED,
                   "server full, try another node", PZ_C_HELLO);
    pz_conn_close(c, PZ_CLOSE_GOING_AWAY, "overloaded");
    return;
  }
  if (grant && !pz_auth_user_acquire(w->srv->auth, grant)) {
    pz_debug("HELLO from %s: user has too many sessions", pz_conn_peer(c));
    atomic_fetch_sub(&w->srv->sessions, 1);
    free(grant);
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_FORBIDDEN,
                   "too many sessions for this user", PZ_C_HELLO);
    pz_conn_close(c, PZ_CLOSE_UNAUTHORIZED, "too many sessions");
    return;
  }
  pz_session_t *s = session_new(w, name);
  if (!s) {
    atomic_fetch_sub(&w->srv->sessions, 1);
    if (grant)
      pz_auth_user_release(w->srv->auth, grant);
    free(grant);
    pz_conn_close(c, PZ_CLOSE_INTERNAL_ERROR, "no randomness for a token");
    return;
  }
  s->grant = grant;
  pz_shard_session_set_state(s, state);
  attach(w, c, s);
  pz_reply_welcome(w, pz_conn_outlet(c), s, false);
  pz_debug("session %llu (%.*s) on worker %d", (unsigned long long)s->id,
           s->name_len, s->name, w->index);
}

/* went_on: the session continues on another node, which owns what the
 * cluster holds of it now. */
static void end(pz_worker_t *w, pz_session_t *s, bool went_on) {
  if (!s->outlet && s->expires_ms)
    DL_DELETE2(w->sessions->detached, s, dprev, dnext);
  uint64_t id = s->id;
  pz_bus_session_ended(w->srv->bus, w->index, s, went_on);
  if (s->grant)
    pz_auth_user_release(w->srv->auth, s->grant);
  pz_shard_session_destroy(&w->shard, s);
  atomic_fetch_sub(&w->srv->sessions, 1);
  PZ_ADD(w->metrics.sessions, -1);
  pz_routing_dir_gone(w, id);
}

void pz_sessions_end(pz_worker_t *w, pz_session_t *s) {
  end(w, s, false);
}

void pz_sessions_on_gone(pz_conn_t *c, pz_session_t *s, int code) {
  pz_worker_t *w = pz_conn_owner(c);
  if (s->outlet != pz_conn_outlet(c))
    return; /* resumed on another connection meanwhile */
  if (pz_close_ends_session(code) || w->cfg->resume_grace_ms == 0) {
    pz_debug("session %llu ends (close %d)", (unsigned long long)s->id, code);
    pz_shard_session_detach(&w->shard, s, 0);
    pz_sessions_end(w, s);
    return;
  }
  pz_debug("session %llu detached (close %d): resumable for %u ms",
           (unsigned long long)s->id, code, w->cfg->resume_grace_ms);
  pz_shard_session_detach(&w->shard, s,
                          pz_worker_now(w) + w->cfg->resume_grace_ms);
  DL_APPEND2(w->sessions->detached, s, dprev, dnext);
}

void pz_sessions_sweep(pz_worker_t *w, uint64_t now_ms) {
  while (w->sessions->detached && w->sessions->detached->expires_ms <= now_ms) {
    pz_debug("session %llu: grace period over",
             (unsigned long long)w->sessions->detached->id);
    pz_sessions_end(w, w->sessions->detached);
  }
}

/* A session leaves this worker's shard to move elsewhere (not freed). The
 * home hears "in transit" before the session itself is posted. */
static void unhost(pz_worker_t *w, pz_session_t *s) {
  pz_shard_session_remove(&w->shard, s);
  PZ_ADD(w->metrics.sessions, -1);
  pz_routing_dir_set(w, s->id, PZ_DIR_MOVING);
}

void pz_sessions_drop(pz_worker_t *w, pz_session_t *s) {
  pz_shard_handoff(&w->shard, s);
  if (s->outlet) {
    pz_conn_t *old = pz_conn_from_outlet(s->outlet);
    pz_conn_attach(old, NULL);
    pz_shard_session_detach(&w->shard, s, 0);
    pz_conn_close(old, PZ_CLOSE_NORMAL, "session resumed elsewhere");
  }
  end(w, s, true);
}

void pz_sessions_member_moved(void *worker, pz_session_t *s) {
  pz_sessions_drop(worker, s);
}

/* A session arrived: into the shard, and the home directory learns it. An
 * older copy of it here (resumed from another node while detached here)
 * gives way without a word. */
static void host(pz_worker_t *w, pz_session_t *s) {
  pz_session_t *old = pz_shard_session_find(&w->shard, s->id);
  if (old && old != s)
    pz_sessions_drop(w, old);
  pz_shard_session_add(&w->shard, s);
  PZ_ADD(w->metrics.sessions, 1);
  pz_routing_dir_set(w, s->id, w->index);
}

/* ---- moving a connection ------------------------------------------------ */

static void on_moved(pz_conn_t *c, void *arg) {
  pz_msg_adopt_t *a = arg;
  pz_worker_t *w = pz_conn_owner(c);
  a->conn = c;
  pz_worker_post(w->srv->workers[a->to], &a->hdr);
}

static void send_along(pz_conn_t *c, pz_msg_adopt_t *a, int to) {
  a->hdr.kind = &adopt_kind;
  a->to = to;
  pz_conn_migrate(c, on_moved, a);
}

/* The session of c and c go to worker `to`, the worker of `room`, and
 * join it there, into the place held for it when `held` (or, evict: are
 * kept out of it, see evict below). */
static void go_to_room(pz_worker_t *w, pz_conn_t *c, pz_str_t room, int to,
                       bool held, bool evict) {
  pz_session_t *s = pz_conn_session(c);
  pz_msg_adopt_t *a = pz_xcalloc(1, sizeof(*a));
  a->purpose = PZ_ADOPT_JOIN;
  a->session = s;
  a->held = held;
  memcpy(a->room, room.ptr, room.len);
  a->room_len = (uint8_t)room.len;
  a->evict = evict;
  unhost(w, s);
  send_along(c, a, to);
}

void pz_sessions_join_elsewhere(pz_worker_t *w, pz_conn_t *c, pz_str_t room,
                                int to, bool held) {
  go_to_room(w, c, room, to, held, false);
}

/* ---- a resume the new token keeps out of the session's room ------------- */

/* docs/protocol.md: on a resume the new token's rooms apply. A session
 * whose room the token does not allow resumes outside any room, and the
 * client hears why, after WELCOME. */
static void say_forbidden(pz_worker_t *w, pz_conn_t *c, pz_str_t room) {
  char msg[PZ_ROOM_NAME_MAX + 80];
  snprintf(msg, sizeof(msg),
           "your token does not allow room %.*s: resumed outside any room",
           (int)room.len, room.ptr);
  pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_FORBIDDEN, msg, PZ_C_HELLO);
}

/* ...and leaves the room: its members see LEFT, on every node. On the
 * room's worker, s attached to c. */
static void leave_forbidden(pz_worker_t *w, pz_conn_t *c, pz_session_t *s) {
  pz_debug("session %llu resumed out of room %.*s on worker %d (token)",
           (unsigned long long)s->id, s->room->name_len, s->room->name,
           w->index);
  say_forbidden(w, c, (pz_str_t){s->room->name, s->room->name_len});
  pz_shard_leave(&w->shard, s, false); /* may free the room */
}

static bool room_forbidden(const pz_session_t *s) {
  return s->room && s->grant &&
         !pz_grant_allows_room(s->grant, s->room->name, s->room->name_len);
}

/* A session restored from another node into a room its new token does not
 * allow: it rejoins the room quietly, unseen by its client (detached
 * meanwhile: no ROOM), so that the node that held it lets go of it as
 * after any resume; then it leaves, and every node's members see LEFT.
 * On the room's worker, s attached to c. */
static void evict(pz_worker_t *w, pz_conn_t *c, pz_session_t *s,
                  pz_str_t room) {
  s->handoff = true;
  s->replay = false;
  pz_shard_session_detach(&w->shard, s, 0);
  pz_shard_result_t r = pz_shard_join(&w->shard, s, room);
  pz_shard_session_attach(&w->shard, s, pz_conn_outlet(c));
  if (r == PZ_SHARD_OK) {
    leave_forbidden(w, c, s);
  } else {
    s->handoff = false; /* full: it never got in */
    say_forbidden(w, c, room);
  }
}

/* ---- resume ------------------------------------------------------------- */

/* The session is here and the token proves it: c takes it over. */
static void resume_here(pz_worker_t *w, pz_conn_t *c, pz_session_t *s,
                        const pz_msg_adopt_t *a) {
  if (s->outlet) {
    /* Still attached to an older socket the client gave up on. */
    pz_conn_t *old = pz_conn_from_outlet(s->outlet);
    pz_conn_attach(old, NULL);
    pz_shard_session_detach(&w->shard, s, 0);
    pz_conn_close(old, PZ_CLOSE_NORMAL, "session resumed elsewhere");
  } else {
    DL_DELETE2(w->sessions->detached, s, dprev, dnext);
  }
  attach(w, c, s);
  pz_reply_welcome(w, pz_conn_outlet(c), s, true);
  if (room_forbidden(s))
    leave_forbidden(w, c, s);
  else
    pz_shard_send_room(&w->shard, s, a->has_last_chat_seq, a->last_chat_seq);
  pz_debug("session %llu resumed on worker %d", (unsigned long long)s->id,
           w->index);
}

static bool ask_cluster(pz_worker_t *w, pz_conn_t *c, pz_msg_adopt_t *a);

/* Carries out a resume on the worker where c is now (takes a). */
static void resume(pz_worker_t *w, pz_conn_t *c, pz_msg_adopt_t *a) {
  if (a->token_len) {
    pz_session_t *s = pz_shard_session_find(&w->shard, a->id);
    if (s) {
      char token[PZ_SESSION_TOKEN_MAX + 1];
      int tlen = pz_session_token(s, token);
      if (pz_token_equal(token, (size_t)tlen, a->token, a->token_len)) {
        if (a->grant &&
            (!s->grant || s->grant->sub_len != a->grant->sub_len ||
             memcmp(s->grant->sub, a->grant->sub, a->grant->sub_len) != 0)) {
          /* Someone else's session token: as bad as a bad JWT. */
          pz_debug("resume of %llu refused: another user's token",
                   (unsigned long long)s->id);
          pz_conn_close(c, PZ_CLOSE_UNAUTHORIZED, "unauthorized");
          adopt_free(a);
          return;
        }
        if (a->grant) { /* the fresher token's rooms and expiry */
          free(s->grant);
          s->grant = a->grant;
          a->grant = NULL;
        }
        resume_here(w, c, s, a);
        adopt_free(a);
        return;
      }
    } else {
      /* Ask the home worker, or go where its directory points (another
       * node's id lives here after a resume on this node). */
      int next = pz_routing_home(w->srv, a->id);
      if (next == w->index) {
        int where = pz_routing_dir_lookup(w, a->id);
        /* In transit (a JOIN moving it) it cannot be caught: fail. */
        next = where >= 0 ? where : w->index;
      }
      if (next >= 0 && next != w->index && a->hops < RESUME_MAX_HOPS) {
        a->hops++;
        send_along(c, a, next);
        return;
      }
    }
    if (!s && ask_cluster(w, c, a))
      return;
  }
  pz_grant_t *grant = a->grant;
  a->grant = NULL;
  resume_failed(w, c,
                a->name_len ? (pz_str_t){a->name, a->name_len}
                            : (pz_str_t){NULL, 0},
                (pz_raw_t){a->state, a->state_len}, grant);
  adopt_free(a);
}

static void resume_failed(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                          pz_raw_t state, pz_grant_t *grant) {
  pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_SESSION_EXPIRED,
                 "session unknown or expired", PZ_C_HELLO);
  pz_sessions_welcome(w, c, name, state, grant);
}

/* A session that continues here from another node: what its record in
 * the cluster says, with the token and replay the HELLO (in a) brought. */
static void restore(pz_worker_t *w, pz_conn_t *c, const pz_bus_record_t *r,
                    pz_msg_adopt_t *a) {
  pz_grant_t *grant = a->grant;
  a->grant = NULL;
  if (grant ? r->sub.len != grant->sub_len ||
                  memcmp(r->sub.ptr, grant->sub, grant->sub_len) != 0
            : r->sub.len != 0) {
    /* Someone else's session token: as bad as a bad JWT. */
    pz_debug("resume of %llu refused: another user's token",
             (unsigned long long)r->id);
    free(grant);
    pz_conn_close(c, PZ_CLOSE_UNAUTHORIZED, "unauthorized");
    return;
  }
  if (grant && !pz_auth_user_acquire(w->srv->auth, grant)) {
    free(grant);
    pz_reply_error(w, pz_conn_outlet(c), PZ_ERR_FORBIDDEN,
                   "too many sessions for this user", PZ_C_HELLO);
    pz_conn_close(c, PZ_CLOSE_UNAUTHORIZED, "too many sessions");
    return;
  }
  pz_session_t *old = pz_shard_session_find(&w->shard, r->id);
  if (old) /* an older copy left behind here: the record is the newer */
    pz_sessions_drop(w, old);
  /* The token matched the record's hash, so it is one of ours. */
  uint8_t secret[PZ_TOKEN_SECRET_BYTES] = {0};
  uint64_t id;
  pz_token_read(a->token, a->token_len, &id, secret);
  pz_session_t *s = pz_shard_session_create(&w->shard, r->id, r->name, secret,
                                            pz_worker_now(w));
  /* Counted, never refused: a resume is let through (the session left
   * its node, whose count went down; and its record is taken already). */
  atomic_fetch_add(&w->srv->sessions, 1);
  PZ_ADD(w->metrics.sessions, 1);
  pz_routing_dir_set(w, s->id, w->index);
  s->gen = r->gen;
  s->pos = r->pos;
  pz_shard_session_set_state(s, r->state);
  s->seq = r->seq;
  s->has_seq = r->has_seq;
  s->placed = r->placed;
  if (r->has_view) /* VIEW holds across resumes; outside a room: no error */
    pz_shard_view(&w->shard, s, r->view_radius, r->view_compact);
  s->grant = grant;
  attach(w, c, s);
  pz_reply_welcome(w, pz_conn_outlet(c), s, true);
  pz_debug("session %llu continues on worker %d (generation %u)",
           (unsigned long long)s->id, w->index, s->gen);
  if (!r->room.len)
    return;
  s->handoff = true; /* no JOINED: the room knows it */
  s->replay = a->has_last_chat_seq;
  s->replay_after = a->last_chat_seq;
  bool forbidden =
      grant && !pz_grant_allows_room(grant, r->room.ptr, r->room.len);
  int shard = pz_room_shard(r->room.ptr, r->room.len, w->srv->n_workers);
  if (shard != w->index)
    go_to_room(w, c, r->room, shard, false, forbidden);
  else if (forbidden)
    evict(w, c, s, r->room);
  else
    pz_dispatch_answer(c, pz_shard_join(&w->shard, s, r->room), PZ_C_JOIN);
}

/* A resume waiting for the cluster's lookup of its record. First field:
 * cleared when the connection goes meanwhile (pz_conn_hold). */
typedef struct resume_wait {
  pz_conn_t *conn;
  pz_msg_adopt_t *a;
} resume_wait_t;

/* The session is on no worker of this node: the cluster may hold its
 * record (a session of another node, or one this node lost). True when
 * the lookup is under way (c and a are held until it answers). */
static bool ask_cluster(pz_worker_t *w, pz_conn_t *c, pz_msg_adopt_t *a) {
  resume_wait_t *q = pz_xmalloc(sizeof(*q));
  *q = (resume_wait_t){c, a};
  if (pz_bus_resume(w->srv->bus, w->index, q, a->id,
                    (pz_str_t){a->token, a->token_len}) != 0) {
    free(q);
    return false;
  }
  pz_conn_hold(c, q);
  return true;
}

void pz_sessions_resumed(void *worker, void *hold, const pz_bus_record_t *rec) {
  pz_worker_t *w = worker;
  resume_wait_t *q = hold;
  pz_conn_t *c = q->conn;
  pz_msg_adopt_t *a = q->a;
  free(q);
  if (!c || pz_conn_session(c)) {
    adopt_free(a); /* the client went meanwhile */
    return;
  }
  pz_conn_hold(c, NULL);
  if (rec && rec->id == a->id) {
    restore(w, c, rec, a);
  } else {
    pz_grant_t *grant = a->grant;
    a->grant = NULL;
    resume_failed(w, c,
                  a->name_len ? (pz_str_t){a->name, a->name_len}
                              : (pz_str_t){NULL, 0},
                  (pz_raw_t){a->state, a->state_len}, grant);
  }
  adopt_free(a);
}

void pz_sessions_resume(pz_worker_t *w, pz_conn_t *c, pz_str_t token,
                        pz_str_t name, bool has_last_chat_seq,
                        uint64_t last_chat_seq, pz_raw_t state,
                        pz_grant_t *grant) {
  pz_msg_adopt_t *a = pz_xcalloc(1, sizeof(*a));
  a->purpose = PZ_ADOPT_RESUME;
  a->grant = grant;
  if (state.ptr && state.len) {
    a->state = pz_xmalloc(state.len);
    memcpy(a->state, state.ptr, state.len);
    a->state_len = state.len;
  }
  a->has_last_chat_seq = has_last_chat_seq;
  a->last_chat_seq = last_chat_seq;
  if (name.ptr) {
    memcpy(a->name, name.ptr, name.len);
    a->name_len = (uint8_t)name.len;
  }
  if (token.len <= PZ_SESSION_TOKEN_MAX &&
      pz_token_parse(token.ptr, token.len, &a->id)) {
    memcpy(a->token, token.ptr, token.len);
    a->token_len = (uint8_t)token.len;
  }
  resume(w, c, a); /* an unparsable token fails there */
}

/* ---- arrival ------------------------------------------------------------ */

static void on_adopt(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_adopt_t *a = (pz_msg_adopt_t *)msg;
  pz_conn_t *c = a->conn;
  if (a->session) /* here now, whatever happens to the connection */
    host(w, a->session);
  pz_str_t room = {a->room, a->room_len};
  if (pz_conn_adopt(&w->conns, c) != 0) {
    if (a->session) {
      a->session->outlet = NULL;
      pz_sessions_end(w, a->session);
    }
    if (a->held)
      pz_shard_place_release(&w->shard, room);
    adopt_free(a);
    return;
  }
  if (a->purpose == PZ_ADOPT_JOIN && a->evict) {
    evict(w, c, a->session, room);
    free(a);
  } else if (a->purpose == PZ_ADOPT_JOIN) {
    if (a->held)
      pz_shard_join_held(&w->shard, a->session, room);
    else
      pz_dispatch_answer(c, pz_shard_join(&w->shard, a->session, room),
                         PZ_C_JOIN);
    free(a);
  } else {
    resume(w, c, a);
  }
  if (w->stopping)
    pz_conn_close(c, PZ_CLOSE_GOING_AWAY, "server shutting down");
  else
    pz_conn_resume_input(c);
}

/* Shutdown, every thread joined: a connection that never arrived is closed
 * (its socket with it) and the session it carried is freed. */
static void drop_adopt(void *receiver, pz_msg_t *msg) {
  pz_worker_t *w = receiver;
  pz_msg_adopt_t *a = (pz_msg_adopt_t *)msg;
  pz_conn_abandon(a->conn);
  pz_session_t *s = a->session;
  if (s) {
    if (s->grant)
      pz_auth_user_release(w->srv->auth, s->grant);
    atomic_fetch_sub(&w->srv->sessions, 1);
    free(s->grant);
    free(s);
  }
  adopt_free(a);
}

pz_sessions_t *pz_sessions_create(void) {
  return pz_xcalloc(1, sizeof(pz_sessions_t));
}

void pz_sessions_destroy(pz_sessions_t *ss) {
  free(ss); /* the detached sessions are the shard's, freed with it */
}
