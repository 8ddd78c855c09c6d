/* Server messages to one client (see replies.h). */
#include "replies.h"

#include "clock.h"

void pz_reply_error(pz_worker_t *w, pz_outlet_t *o, int code,
                    const char *message, int op) {
  pz_enc_error(pz_wire_begin(&w->shard.wire), code, message, op);
  if (code > 0 && code < PZ_METRICS_ERRORS)
    PZ_ADD(w->metrics.errors[code], 1);
  pz_wire_send(&w->shard.wire, o, PZ_PAYLOAD_RELIABLE);
}

void pz_reply_welcome(pz_worker_t *w, pz_outlet_t *o, const pz_session_t *s,
                      bool resumed) {
  char token[PZ_SESSION_TOKEN_MAX + 1];
  int tlen = pz_session_token(s, token);
  pz_enc_welcome(pz_wire_begin(&w->shard.wire), s->id,
                 (pz_str_t){token, (uint32_t)tlen}, (uint32_t)w->cfg->tick_hz,
                 pz_wall_ms(), resumed, PZ_SERVER_FEATURES);
  pz_wire_send(&w->shard.wire, o, PZ_PAYLOAD_RELIABLE);
}

void pz_reply_pong(pz_worker_t *w, pz_outlet_t *o, const msgpack_object *t) {
  pz_enc_pong(pz_wire_begin(&w->shard.wire), t, pz_wall_ms());
  pz_wire_send(&w->shard.wire, o, PZ_PAYLOAD_RELIABLE);
}

void pz_reply_whisper(pz_worker_t *w, pz_outlet_t *o, uint64_t from,
                      pz_str_t name, pz_str_t text, uint64_t ts_ms) {
  pz_enc_whisper_msg(pz_wire_begin(&w->shard.wire), from, name, text, ts_ms);
  pz_wire_send(&w->shard.wire, o, PZ_PAYLOAD_RELIABLE);
}

void pz_reply_signal(pz_worker_t *w, pz_outlet_t *o, uint64_t from,
                     pz_str_t name, pz_str_t kind, pz_raw_t data,
                     uint64_t ts_ms) {
  pz_enc_signal_msg(pz_wire_begin(&w->shard.wire), from, name, kind, data,
                    ts_ms);
  pz_wire_send(&w->shard.wire, o, PZ_PAYLOAD_RELIABLE);
}

void pz_reply_conflict(pz_worker_t *w, pz_outlet_t *o, pz_str_t key,
                       uint64_t version) {
  pz_enc_error_conflict(pz_wire_begin(&w->shard.wire),
                        "conflict: the key is at another version", key,
                        version);
  PZ_ADD(w->metrics.errors[PZ_ERR_CONFLICT], 1);
  pz_wire_send(&w->shard.wire, o, PZ_PAYLOAD_RELIABLE);
}
