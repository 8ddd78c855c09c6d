/*
 * Server messages sent to one client (not broadcasts): encoded into the
 * worker's scratch buffer and sent through the session's outlet, which
 * copies what it must keep. Counted in the metrics here, in one place.
 */
#ifndef PZ_REPLIES_H
#define PZ_REPLIES_H

#include "worker.h"

/* ERROR [9, code, message, op?] (op 0: none). */
void pz_reply_error(pz_worker_t *w, pz_outlet_t *o, int code,
                    const char *message, int op);
void pz_reply_welcome(pz_worker_t *w, pz_outlet_t *o, const pz_session_t *s,
                      bool resumed);
void pz_reply_pong(pz_worker_t *w, pz_outlet_t *o, const msgpack_object *t);
void pz_reply_whisper(pz_worker_t *w, pz_outlet_t *o, uint64_t from,
                      pz_str_t name, pz_str_t text, uint64_t ts_ms);
/* SIGNAL [11, from_id, name, kind, data, ts_ms] to one session. */
void pz_reply_signal(pz_worker_t *w, pz_outlet_t *o, uint64_t from,
                     pz_str_t name, pz_str_t kind, pz_raw_t data,
                     uint64_t ts_ms);
/* ERROR 12 [9, 12, message, 10, key, version]: a ROOM_SET's if_version
 * was not the key's version, which is `version` (0: absent). */
void pz_reply_conflict(pz_worker_t *w, pz_outlet_t *o, pz_str_t key,
                       uint64_t version);
/* The protocol 1.1 features this server has (WELCOME). */
#define PZ_SERVER_FEATURES                                                     \
  (PZ_FEATURE_STATE | PZ_FEATURE_SIGNAL | PZ_FEATURE_ROOM_STATE |              \
   PZ_FEATURE_VIEW | PZ_FEATURE_COMPACT)

#endif
