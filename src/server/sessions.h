/*
 * Session life across workers: creating one at HELLO, resuming one
 * wherever it lives (the connection travels to it, guided by the home
 * worker's directory), a JOIN that takes a session to the worker of its
 * room, and what a lost connection means for its session (the grace
 * period, or the end). Worker thread only.
 */
#ifndef PZ_SESSIONS_H
#define PZ_SESSIONS_H

#include <stdbool.h>

#include "worker.h"

/* Registers the inbox handler (ADOPT: a connection arriving). */
void pz_sessions_register(pz_worker_t *w);

/* HELLO without resume: a fresh session for c, and WELCOME. `state` (a
 * state map, copied; ptr NULL: empty) is its initial state. `grant`
 * (taken; NULL without auth) becomes the session's: when its user already
 * has --max-sessions-per-user sessions, c gets ERROR 8 and close 4001;
 * when the process holds --max-connections sessions, ERROR 10 and close
 * 1001 (the count is a reservation: an atomic add, undone when over). */
void pz_sessions_welcome(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                         pz_raw_t state, pz_grant_t *grant);
/* HELLO with a resume token: attaches c to the session if it lives here
 * and the token matches (the session keeps its own state), sends c on
 * towards it when it lives elsewhere, or answers ERROR 9 and a fresh
 * session (named `name`, with `state`, copied). With auth, `grant`
 * (taken) must name the session's user, or c is closed with 4001; it
 * replaces the session's grant (a fresher token), and a room it does not
 * allow is left: WELCOME, then ERROR 8 naming the room, no ROOM. */
void pz_sessions_resume(pz_worker_t *w, pz_conn_t *c, pz_str_t token,
                        pz_str_t name, bool has_last_chat_seq,
                        uint64_t last_chat_seq, pz_raw_t state,
                        pz_grant_t *grant);
/* JOIN of a room on worker `to`: the session (already out of its room)
 * and its connection go there, and join on arrival: into the place held
 * for it when `held` (joins.c), else if the room has one. */
void pz_sessions_join_elsewhere(pz_worker_t *w, pz_conn_t *c, pz_str_t room,
                                int to, bool held);
/* Ends a session for good: leaves its room (LEFT), frees it. */
void pz_sessions_end(pz_worker_t *w, pz_session_t *s);
/* Connection up-call: s lost its connection c with close `code`. A kick
 * or a zero grace period ends it; otherwise it waits for a resume. */
void pz_sessions_on_gone(pz_conn_t *c, pz_session_t *s, int code);
/* A session that continues here from another node (a clustered resume):
 * what its record in Redis said, and the replay the HELLO asked for. */
typedef struct pz_restore {
  uint64_t id;
  pz_str_t token, name, room;
  pz_str_t sub; /* the JWT user it belongs to ("" without auth) */
  pz_pos_t pos;
  pz_raw_t state; /* its member state (a state map; ptr NULL: empty) */
  uint64_t seq;
  bool has_seq, placed;
  bool replay;
  uint64_t replay_after;
  bool listed; /* the cluster's directory lists it here */
} pz_restore_t;
/* Creates the session (copies r), attaches c, answers WELCOME (resumed)
 * and rejoins its room, quietly: the others see no LEFT/JOINED. With auth,
 * `grant` (taken) must be the record's user's, else close 4001; when it
 * does not allow the room, the session rejoins it unseen by its client
 * (the old node lets go of it) and leaves: the others see LEFT, the
 * client ERROR 8 naming the room, as for a resume on the same node. */
void pz_sessions_restore(pz_worker_t *w, pz_conn_t *c, const pz_restore_t *r,
                         pz_grant_t *grant);
/* A resume that found nothing: ERROR 9 and a fresh session for c (grant
 * taken, as pz_sessions_welcome), with an empty state: the HELLO's initial
 * state does not travel with the cluster's look-up. */
void pz_sessions_resume_failed(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                               pz_grant_t *grant);
/* Drops s without LEFT (its session went on elsewhere): out of its room,
 * its socket (if any) closed 1000, the session freed. */
void pz_sessions_drop(pz_worker_t *w, pz_session_t *s);
/* Expires detached sessions whose grace period has passed. */
void pz_sessions_sweep(pz_worker_t *w, uint64_t now_ms);

#endif
