/*
 * Session life across workers: creating one at HELLO, resuming one wherever
 * it lives (the connection travels to it, guided by the home worker's
 * directory), hosting a session that arrived and letting one go. Worker
 * thread only.
 */
#ifndef PZ_SESSION_OPS_H
#define PZ_SESSION_OPS_H

#include <stdbool.h>

#include "conn.h"

/* A fresh session for c: WELCOME (resumed false). After a failed resume
 * the caller has sent ERROR 9 first. */
void pz_session_welcome_new(pz_worker_t *w, pz_conn_t *c, pz_str_t name,
                            bool after_failed_resume);
/* HELLO with a resume token, on the worker where c is now. Attaches c to
 * the session if it lives here and the token matches, sends c on towards
 * it when it lives elsewhere, or answers ERROR 9 and a fresh session.
 * Takes ownership of a. */
void pz_session_resume(pz_worker_t *w, pz_conn_t *c, pz_msg_adopt_t *a);
/* A session leaves this worker's shard to move elsewhere (not freed). */
void pz_session_unhost(pz_worker_t *w, pz_session_t *s);
/* A session arrived: into the shard, and the home directory learns it. */
void pz_session_host(pz_worker_t *w, pz_session_t *s);
/* Expires detached sessions whose grace period has passed. */
void pz_session_sweep(pz_worker_t *w, uint64_t now_ms);

#endif
