/*
 * Encoders of server -> client messages. The server writes ROOM and STATE
 * piecewise (header with a count, then the entries) straight from its room
 * tables, so no intermediate vector is built per tick. Ids, seqs and times
 * go out as unsigned integers (msgpack-c picks the smallest width),
 * coordinates as float32, app values as the bytes they arrived as.
 */
#include <string.h>

#include "mp.h"

const char *const pz_mp_features[PZ_MP_N_FEATURES] = {
    "state", "signal", "room_state", "view", "compact"};

void pz_enc_welcome(msgpack_packer *pk, uint64_t id, pz_str_t session,
                    uint32_t tick_hz, uint64_t server_time_ms, bool resumed,
                    uint32_t features) {
  msgpack_pack_array(pk, 7);
  msgpack_pack_uint8(pk, PZ_S_WELCOME);
  msgpack_pack_uint64(pk, id);
  pz_mp_pack_str(pk, session);
  msgpack_pack_uint32(pk, tick_hz);
  msgpack_pack_uint64(pk, server_time_ms);
  if (resumed)
    msgpack_pack_true(pk);
  else
    msgpack_pack_false(pk);
  uint32_t n = 0;
  for (uint32_t b = 0; b < PZ_MP_N_FEATURES; b++)
    n += (features >> b) & 1;
  msgpack_pack_array(pk, n);
  for (uint32_t b = 0; b < PZ_MP_N_FEATURES; b++)
    if (features & (1u << b))
      msgpack_pack_str_with_body(pk, pz_mp_features[b],
                                 strlen(pz_mp_features[b]));
}

void pz_enc_room_begin(msgpack_packer *pk, pz_str_t room, size_t n_members) {
  msgpack_pack_array(pk, 5);
  msgpack_pack_uint8(pk, PZ_S_ROOM);
  pz_mp_pack_str(pk, room);
  msgpack_pack_array(pk, n_members);
}

void pz_enc_member(msgpack_packer *pk, const pz_member_t *m, pz_raw_t state) {
  msgpack_pack_array(pk, 7);
  msgpack_pack_uint64(pk, m->id);
  pz_mp_pack_str(pk, m->name);
  pz_mp_pack_pos(pk, &m->pos);
  pz_mp_pack_raw(pk, state, 0x80);
}

void pz_enc_room_history(msgpack_packer *pk, size_t n_history) {
  msgpack_pack_array(pk, n_history);
}

void pz_enc_chat_entry(msgpack_packer *pk, const pz_chat_entry_t *c) {
  msgpack_pack_array(pk, 5);
  msgpack_pack_uint64(pk, c->seq);
  msgpack_pack_uint64(pk, c->id);
  pz_mp_pack_str(pk, c->name);
  pz_mp_pack_str(pk, c->text);
  msgpack_pack_uint64(pk, c->ts_ms);
}

void pz_enc_joined(msgpack_packer *pk, const pz_member_t *m, pz_raw_t state) {
  msgpack_pack_array(pk, 8);
  msgpack_pack_uint8(pk, PZ_S_JOINED);
  msgpack_pack_uint64(pk, m->id);
  pz_mp_pack_str(pk, m->name);
  pz_mp_pack_pos(pk, &m->pos);
  pz_mp_pack_raw(pk, state, 0x80);
}

void pz_enc_room_state_begin(msgpack_packer *pk, size_t n_room_state) {
  msgpack_pack_map(pk, n_room_state);
}

void pz_enc_room_state_entry(msgpack_packer *pk, pz_str_t key, pz_raw_t value,
                             uint64_t version) {
  pz_mp_pack_str(pk, key);
  msgpack_pack_array(pk, 2);
  pz_mp_pack_raw(pk, value, 0xc0);
  msgpack_pack_uint64(pk, version);
}

void pz_enc_member_msg(msgpack_packer *pk, uint64_t id, pz_raw_t patch) {
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint8(pk, PZ_S_MEMBER);
  msgpack_pack_uint64(pk, id);
  pz_mp_pack_raw(pk, patch, 0x80);
}

void pz_enc_signal_msg(msgpack_packer *pk, uint64_t from, pz_str_t name,
                       pz_str_t kind, pz_raw_t data, uint64_t ts_ms) {
  msgpack_pack_array(pk, 6);
  msgpack_pack_uint8(pk, PZ_S_SIGNAL);
  msgpack_pack_uint64(pk, from);
  pz_mp_pack_str(pk, name);
  pz_mp_pack_str(pk, kind);
  pz_mp_pack_raw(pk, data, 0xc0);
  msgpack_pack_uint64(pk, ts_ms);
}

void pz_enc_room_state_msg(msgpack_packer *pk, pz_str_t key, pz_raw_t value,
                           uint64_t version, uint64_t by) {
  msgpack_pack_array(pk, 5);
  msgpack_pack_uint8(pk, PZ_S_ROOM_STATE);
  pz_mp_pack_str(pk, key);
  pz_mp_pack_raw(pk, value, 0xc0);
  msgpack_pack_uint64(pk, version);
  msgpack_pack_uint64(pk, by);
}

void pz_enc_away(msgpack_packer *pk, const uint64_t *ids, size_t n) {
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_S_AWAY);
  msgpack_pack_array(pk, n);
  for (size_t i = 0; i < n; i++)
    msgpack_pack_uint64(pk, ids[i]);
}

void pz_enc_state_c_begin(msgpack_packer *pk, uint64_t tick, size_t n,
                          size_t len) {
  msgpack_pack_array(pk, 4);
  msgpack_pack_uint8(pk, PZ_S_STATE_C);
  msgpack_pack_uint64(pk, tick);
  msgpack_pack_uint64(pk, n);
  msgpack_pack_bin(pk, len);
}

void pz_enc_left(msgpack_packer *pk, uint64_t id) {
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_S_LEFT);
  msgpack_pack_uint64(pk, id);
}

void pz_enc_state_begin(msgpack_packer *pk, uint64_t tick, size_t n) {
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint8(pk, PZ_S_STATE);
  msgpack_pack_uint64(pk, tick);
  msgpack_pack_array(pk, n);
}

void pz_enc_state_entry(msgpack_packer *pk, const pz_state_entry_t *e) {
  msgpack_pack_array(pk, 6);
  msgpack_pack_uint64(pk, e->id);
  msgpack_pack_uint64(pk, e->seq);
  pz_mp_pack_pos(pk, &e->pos);
}

void pz_enc_chat(msgpack_packer *pk, const pz_chat_entry_t *c) {
  msgpack_pack_array(pk, 6);
  msgpack_pack_uint8(pk, PZ_S_CHAT);
  msgpack_pack_uint64(pk, c->seq);
  msgpack_pack_uint64(pk, c->id);
  pz_mp_pack_str(pk, c->name);
  pz_mp_pack_str(pk, c->text);
  msgpack_pack_uint64(pk, c->ts_ms);
}

void pz_enc_whisper_msg(msgpack_packer *pk, uint64_t from, pz_str_t name,
                        pz_str_t text, uint64_t ts_ms) {
  msgpack_pack_array(pk, 5);
  msgpack_pack_uint8(pk, PZ_S_WHISPER);
  msgpack_pack_uint64(pk, from);
  pz_mp_pack_str(pk, name);
  pz_mp_pack_str(pk, text);
  msgpack_pack_uint64(pk, ts_ms);
}

void pz_enc_pong(msgpack_packer *pk, const msgpack_object *t,
                 uint64_t server_time_ms) {
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint8(pk, PZ_S_PONG);
  if (t != NULL)
    msgpack_pack_object(pk, *t);
  else
    msgpack_pack_nil(pk);
  msgpack_pack_uint64(pk, server_time_ms);
}

void pz_enc_error(msgpack_packer *pk, int code, const char *message, int op) {
  if (message == NULL)
    message = "";
  msgpack_pack_array(pk, op != 0 ? 4 : 3);
  msgpack_pack_uint8(pk, PZ_S_ERROR);
  msgpack_pack_int(pk, code);
  msgpack_pack_str_with_body(pk, message, strlen(message));
  if (op != 0)
    msgpack_pack_int(pk, op);
}

void pz_enc_error_conflict(msgpack_packer *pk, const char *message,
                           pz_str_t key, uint64_t version) {
  msgpack_pack_array(pk, 6);
  msgpack_pack_uint8(pk, PZ_S_ERROR);
  msgpack_pack_int(pk, PZ_ERR_CONFLICT);
  msgpack_pack_str_with_body(pk, message, strlen(message));
  msgpack_pack_int(pk, PZ_C_ROOM_SET);
  pz_mp_pack_str(pk, key);
  msgpack_pack_uint64(pk, version);
}
