/*
 * Encoders of client -> server messages (C client library, bench, tests).
 * Each writes one complete array through the caller's packer.
 */
#include "mp.h"

void pz_enc_hello(msgpack_packer *pk, uint64_t version, pz_str_t token,
                  pz_str_t name, pz_str_t resume, bool has_last_chat_seq,
                  uint64_t last_chat_seq) {
  pz_enc_hello_state(pk, version, token, name, resume, has_last_chat_seq,
                     last_chat_seq, (pz_raw_t){NULL, 0});
}

void pz_enc_hello_state(msgpack_packer *pk, uint64_t version, pz_str_t token,
                        pz_str_t name, pz_str_t resume, bool has_last_chat_seq,
                        uint64_t last_chat_seq, pz_raw_t state) {
  /* Stop after the last present field: older servers and smaller frames. */
  size_t n = state.ptr           ? 7
             : has_last_chat_seq ? 6
             : resume.ptr        ? 5
             : name.ptr          ? 4
             : token.ptr         ? 3
                                 : 2;
  msgpack_pack_array(pk, n);
  msgpack_pack_uint8(pk, PZ_C_HELLO);
  msgpack_pack_uint64(pk, version);
  if (n > 2)
    pz_mp_pack_opt_str(pk, token);
  if (n > 3)
    pz_mp_pack_opt_str(pk, name);
  if (n > 4)
    pz_mp_pack_opt_str(pk, resume);
  if (n > 5 && has_last_chat_seq)
    msgpack_pack_uint64(pk, last_chat_seq);
  else if (n > 5)
    msgpack_pack_nil(pk);
  if (n > 6)
    pz_mp_pack_raw(pk, state, 0x80);
}

void pz_enc_set(msgpack_packer *pk, pz_raw_t patch) {
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_C_SET);
  pz_mp_pack_raw(pk, patch, 0x80);
}

void pz_enc_signal(msgpack_packer *pk, bool to_room, uint64_t to, pz_str_t kind,
                   pz_raw_t data) {
  msgpack_pack_array(pk, 4);
  msgpack_pack_uint8(pk, PZ_C_SIGNAL);
  if (to_room)
    msgpack_pack_nil(pk);
  else
    msgpack_pack_uint64(pk, to);
  pz_mp_pack_str(pk, kind);
  pz_mp_pack_raw(pk, data, 0xc0);
}

void pz_enc_room_set(msgpack_packer *pk, pz_str_t key, pz_raw_t value,
                     bool has_if_version, uint64_t if_version) {
  msgpack_pack_array(pk, has_if_version ? 4 : 3);
  msgpack_pack_uint8(pk, PZ_C_ROOM_SET);
  pz_mp_pack_str(pk, key);
  pz_mp_pack_raw(pk, value, 0xc0);
  if (has_if_version)
    msgpack_pack_uint64(pk, if_version);
}

void pz_enc_view(msgpack_packer *pk, double radius, bool compact) {
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_C_VIEW);
  msgpack_pack_map(pk, 2);
  msgpack_pack_str_with_body(pk, "radius", 6);
  msgpack_pack_double(pk, radius);
  msgpack_pack_str_with_body(pk, "compact", 7);
  if (compact)
    msgpack_pack_true(pk);
  else
    msgpack_pack_false(pk);
}

void pz_enc_join(msgpack_packer *pk, pz_str_t room) {
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_C_JOIN);
  pz_mp_pack_str(pk, room);
}

void pz_enc_leave(msgpack_packer *pk) {
  msgpack_pack_array(pk, 1);
  msgpack_pack_uint8(pk, PZ_C_LEAVE);
}

void pz_enc_move(msgpack_packer *pk, uint64_t seq, pz_pos_t pos) {
  msgpack_pack_array(pk, 6);
  msgpack_pack_uint8(pk, PZ_C_MOVE);
  msgpack_pack_uint64(pk, seq);
  pz_mp_pack_pos(pk, &pos);
}

void pz_enc_chat_text(msgpack_packer *pk, pz_str_t text) {
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_C_CHAT);
  pz_mp_pack_str(pk, text);
}

void pz_enc_whisper(msgpack_packer *pk, uint64_t to, pz_str_t text) {
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint8(pk, PZ_C_WHISPER);
  msgpack_pack_uint64(pk, to);
  pz_mp_pack_str(pk, text);
}

void pz_enc_ping(msgpack_packer *pk, double t) {
  /* float64: t is usually a millisecond clock, which float32 would round. */
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint8(pk, PZ_C_PING);
  msgpack_pack_double(pk, t);
}
