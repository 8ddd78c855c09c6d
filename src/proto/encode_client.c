/*
 * Encoders of client -> server messages (C client library, bench, tests).
 * Each writes one complete array through the caller's packer.
 */
#include "mp.h"

void pz_enc_hello(msgpack_packer *pk, uint64_t version, pz_str_t token,
                  pz_str_t name, pz_str_t resume, bool has_last_chat_seq,
                  uint64_t last_chat_seq) {
  /* Stop after the last present field: older servers and smaller frames. */
  size_t n = has_last_chat_seq ? 6
             : resume.ptr      ? 5
             : name.ptr        ? 4
             : token.ptr       ? 3
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
  if (n > 5)
    msgpack_pack_uint64(pk, last_chat_seq);
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
