/* JOIN, and its two steps across workers (see joins.h). */
#include "joins.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "dispatch.h"
#include "sessions.h"

enum { PLACE_ASK, PLACE_RELEASE };

/* The question (PZ_MSG_PLACE, to the room's worker) and its answer
 * (PZ_MSG_PLACE_REPLY, back to the asker) are the same message. */
typedef struct pz_msg_place {
  pz_msg_t hdr;
  int op;       /* PLACE: ask, or give back */
  bool granted; /* REPLY */
  int from, to; /* the session's worker, the room's */
  uint64_t id;  /* the session */
  uint32_t ask; /* which of its asks */
  uint8_t room_len;
  char room[PZ_ROOM_NAME_MAX + 1];
} pz_msg_place_t;

static pz_str_t room_of(const pz_msg_place_t *m) {
  return (pz_str_t){m->room, m->room_len};
}

/* Room's worker: hold a place and say so, or give one back. */
static void on_place(pz_worker_t *w, pz_msg_t *msg) {
  pz_msg_place_t *m = (pz_msg_place_t *)msg;
  if (m->op == PLACE_RELEASE) {
    pz_shard_place_release(&w->shard, room_of(m));
    free(m);
    return;
  }
  m->granted = pz_shard_place_hold(&w->shard, room_of(m), m->id);
  m->hdr.type = PZ_MSG_PLACE_REPLY;
  pz_worker_post(w->srv->workers[m->from], &m->hdr);
}

/* Session's worker: the answer. If the connection that asked is still the
 * session's and open, the JOIN goes on (or is refused, changing nothing);
 * otherwise a granted place goes back. */
static void on_place_reply(pz_worker_t *w, pz_msg_t *msg) {
  pz_msg_place_t *m = (pz_msg_place_t *)msg;
  pz_session_t *s = pz_shard_session_find(&w->shard, m->id);
  pz_conn_t *c = s && s->placing && s->place_ask == m->ask && s->outlet
                     ? pz_conn_from_outlet(s->outlet)
                     : NULL;
  if (!c || pz_conn_closing(c)) {
    if (s && s->placing && s->place_ask == m->ask)
      s->placing = false;
    if (m->granted) {
      m->hdr.type = PZ_MSG_PLACE;
      m->op = PLACE_RELEASE;
      pz_worker_post(w->srv->workers[m->to], &m->hdr);
    } else {
      free(m);
    }
    return;
  }
  s->placing = false;
  if (m->granted) {
    pz_shard_leave(&w->shard, s, false);
    pz_sessions_join_elsewhere(w, c, room_of(m), m->to, true);
  } else {
    pz_dispatch_answer(c, PZ_SHARD_ROOM_FULL, PZ_C_JOIN);
    pz_conn_resume_input(c);
  }
  free(m);
}

void pz_joins_join(pz_worker_t *w, pz_conn_t *c, pz_str_t room) {
  pz_session_t *s = pz_conn_session(c);
  int to = pz_room_shard(room.ptr, room.len, w->srv->n_workers);
  if (to == w->index) {
    if (!pz_shard_room_has_place(&w->shard, room, s->id)) {
      pz_dispatch_answer(c, PZ_SHARD_ROOM_FULL, PZ_C_JOIN);
      return;
    }
    pz_shard_leave(&w->shard, s, false);
    pz_dispatch_answer(c, pz_shard_join(&w->shard, s, room), PZ_C_JOIN);
    return;
  }
  pz_msg_place_t *m = pz_xcalloc(1, sizeof(*m));
  m->hdr.type = PZ_MSG_PLACE;
  m->op = PLACE_ASK;
  m->from = w->index;
  m->to = to;
  m->id = s->id;
  m->ask = ++s->place_ask;
  memcpy(m->room, room.ptr, room.len);
  m->room_len = (uint8_t)room.len;
  s->placing = true;
  pz_conn_pause_input(c); /* what follows the JOIN waits for its answer */
  pz_worker_post(w->srv->workers[to], &m->hdr);
}

void pz_joins_register(pz_worker_t *w) {
  pz_worker_on(w, PZ_MSG_PLACE, on_place);
  pz_worker_on(w, PZ_MSG_PLACE_REPLY, on_place_reply);
}
