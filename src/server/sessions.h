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

#include "bus.h"
#include "worker.h"

/* The module's state of one worker (its id counter, its sessions in their
 * grace period), made and freed with the worker. */
typedef struct pz_sessions pz_sessions_t;
pz_sessions_t *pz_sessions_create(void);
void pz_sessions_destroy(pz_sessions_t *ss);

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
/* The bus's up-call (bus.h): the cluster's lookup for a resume ended.
 * With a record, the session continues here: created from it, attached
 * to the waiting connection, WELCOME (resumed), and back in its room
 * quietly (the others see no LEFT/JOINED); with auth the HELLO's token
 * must be the record's user's, else close 4001, and when it does not
 * allow the room the session rejoins it unseen by its client (the old
 * node lets go of it) and leaves: the others see LEFT, the client ERROR 8
 * naming the room, as for a resume on the same node. Without a record:
 * ERROR 9 and a fresh session. */
void pz_sessions_resumed(void *worker, void *hold, const pz_bus_record_t *rec);
/* The bus's up-call: local member s went on on another node. */
void pz_sessions_member_moved(void *worker, pz_session_t *s);
/* Drops s without LEFT (its session went on elsewhere): out of its room,
 * its socket (if any) closed 1000, the session freed. */
void pz_sessions_drop(pz_worker_t *w, pz_session_t *s);
/* Expires detached sessions whose grace period has passed. */
void pz_sessions_sweep(pz_worker_t *w, uint64_t now_ms);

#endif
