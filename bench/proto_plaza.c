/*
 * plaza protocol v1 for the bench (see proto.h and /work/shared/protocol.md):
 * HELLO (with resume in churn), VIEW when asked for (protocol 1.1) and
 * JOIN on WELCOME, then MOVE and CHAT.
 *
 * STATE is read with the in-place reader (mpr.h), as it is the message a
 * sampled client reads ~30 times a second; the rare messages (WELCOME,
 * ROOM, CHAT, ERROR) go through the shared codec, pz_decode_server().
 * STATE_C goes through the codec too (pz_compact_decode, with the
 * client's table of short ids); a client that only counts reads its
 * header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpr.h"
#include "plaza/codec.h"
#include "plaza/protocol.h"
#include "proto.h"
#include "sim.h"
#include "stats.h"
#include "worker.h"
#include "wsf.h"

static pz_str_t no_str(void) {
  return (pz_str_t){NULL, 0};
}

static void plaza_open(pz_bench_client_t *c) {
  char name[24];
  size_t n = pz_sim_name(c, name, sizeof(name));
  msgpack_packer *pk = pz_sim_enc_begin(c);

  if (c->resume_next && c->session != NULL)
    pz_enc_hello(pk, PZ_PROTOCOL_VERSION, no_str(),
                 (pz_str_t){name, (uint32_t)n}, pz_str_c(c->session), true,
                 c->last_chat_seq);
  else
    pz_enc_hello(pk, PZ_PROTOCOL_VERSION, no_str(),
                 (pz_str_t){name, (uint32_t)n}, no_str(), false, 0);
  c->resume_next = false;
  pz_sim_enc_send(c, PZ_WSF_BINARY);
}

static void send_join(pz_bench_client_t *c) {
  const pz_bench_opts_t *o = c->w->o;
  if (pz_bench_view(o)) { /* it holds across JOINs: before the first */
    pz_enc_view(pz_sim_enc_begin(c), o->view_radius, o->compact);
    pz_sim_enc_send(c, PZ_WSF_BINARY);
  }
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_enc_join(pk, pz_str_c(c->room->name));
  pz_sim_enc_send(c, PZ_WSF_BINARY);
}

/* [5, tick, [[id, seq, x, y, z, yaw], ...]] */
static void read_state(pz_bench_client_t *c, const uint8_t *p, size_t n) {
  pz_mpr_t r;
  uint32_t three, count;
  uint64_t op, tick;

  pz_mpr_init(&r, p, n);
  if (pz_mpr_array(&r, &three) != 0 || three < 3 || pz_mpr_uint(&r, &op) != 0 ||
      pz_mpr_uint(&r, &tick) != 0 || pz_mpr_array(&r, &count) != 0) {
    pz_sim_bad(c);
    return;
  }
  pz_sim_state(c, count);
  if (!c->sampled || !c->present)
    return;
  pz_sim_state_bytes(c, count, n);
  uint64_t now = pz_sim_now();
  for (uint32_t i = 0; i < count; i++) {
    uint32_t six;
    uint64_t id, seq;
    if (pz_mpr_array(&r, &six) != 0 || six < 6 || pz_mpr_uint(&r, &id) != 0 ||
        pz_mpr_uint(&r, &seq) != 0) {
      pz_sim_bad(c);
      return;
    }
    for (uint32_t k = 2; k < six; k++)
      if (pz_mpr_skip(&r) != 0) {
        pz_sim_bad(c);
        return;
      }
    pz_sim_state_entry(c, id, seq, now);
  }
}

/* [14, tick, n, entries], read against the client's table. */
static void read_state_c(pz_bench_client_t *c, pz_smsg_t *m, size_t len) {
  pz_sim_state(c, (uint32_t)m->u.state.n);
  if (c->ctab == NULL) {
    if ((c->ctab = malloc(sizeof(*c->ctab))) == NULL) {
      fprintf(stderr, "plaza-bench: out of memory\n");
      abort();
    }
    pz_compact_init(c->ctab);
  }
  if (pz_compact_decode(c->ctab, m, &c->w->zone) != 0) {
    pz_sim_bad(c);
    return;
  }
  if (!c->sampled || !c->present)
    return;
  pz_sim_state_bytes(c, (uint32_t)m->u.state.n, len);
  uint64_t now = pz_sim_now();
  for (size_t i = 0; i < m->u.state.n; i++)
    pz_sim_state_entry(c, m->u.state.entries[i].id, m->u.state.entries[i].seq,
                       now);
}

static void plaza_message(pz_bench_client_t *c, int opcode, const uint8_t *p,
                          size_t n) {
  msgpack_zone *zone = &c->w->zone;
  pz_smsg_t m;

  if (opcode != PZ_WSF_BINARY) {
    pz_sim_bad(c);
    return;
  }
  if (pz_peek_op((const char *)p, n) == PZ_S_STATE) {
    read_state(c, p, n);
    return;
  }
  msgpack_zone_clear(zone);
  if (pz_decode_server((const char *)p, n, zone, &m) != 0) {
    pz_sim_bad(c);
    return;
  }
  switch (m.op) {
  case PZ_S_WELCOME:
    pz_sim_welcome(c, m.u.welcome.id, m.u.welcome.session.ptr,
                   m.u.welcome.session.len, m.u.welcome.resumed);
    if (!m.u.welcome.resumed)
      send_join(c);
    break;
  case PZ_S_ROOM: {
    if (c->ctab) /* a view starts over at ROOM */
      pz_compact_reset(c->ctab);
    const pz_pos_t *own = NULL;
    for (size_t i = 0; i < m.u.room.n_members; i++)
      if (m.u.room.members[i].id == c->id)
        own = &m.u.room.members[i].pos;
    for (size_t i = 0; i < m.u.room.n_history; i++)
      if (m.u.room.history[i].seq > c->last_chat_seq)
        c->last_chat_seq = m.u.room.history[i].seq;
    pz_sim_room(c, own);
    break;
  }
  case PZ_S_CHAT:
    pz_sim_chat(c, m.u.chat.id, m.u.chat.seq, m.u.chat.text.ptr,
                m.u.chat.text.len, pz_sim_now());
    break;
  case PZ_S_ERROR:
    pz_sim_error(c, pz_errk_of_code(m.u.error.code));
    break;
  case PZ_S_STATE_C:
    read_state_c(c, &m, n);
    break;
  case PZ_S_AWAY:
    pz_sim_away(c, (uint32_t)m.u.away.n);
    break;
  default:
    break; /* JOINED, LEFT, PONG, WHISPER: nothing to measure */
  }
}

static bool plaza_want_full(pz_bench_client_t *c, int opcode,
                            const uint8_t *pfx, size_t n) {
  pz_mpr_t r;
  uint32_t len, count;
  uint64_t op, v;

  if (opcode != PZ_WSF_BINARY)
    return true;
  pz_mpr_init(&r, pfx, n);
  if (pz_mpr_array(&r, &len) != 0 || pz_mpr_uint(&r, &op) != 0)
    return true;
  switch (op) {
  case PZ_S_STATE:
    if (pz_mpr_uint(&r, &v) != 0 || pz_mpr_array(&r, &count) != 0)
      return true;
    pz_sim_state(c, count);
    return false;
  case PZ_S_CHAT:
    pz_sim_chat_seen(c, pz_mpr_uint(&r, &v) == 0 ? v : 0);
    return false;
  case PZ_S_STATE_C: /* [14, tick, n, entries]: n is all it counts */
    if (pz_mpr_uint(&r, &v) != 0 || pz_mpr_uint(&r, &v) != 0)
      return true;
    pz_sim_state(c, (uint32_t)v);
    return false;
  case PZ_S_AWAY:
    if (pz_mpr_array(&r, &count) != 0)
      return true;
    pz_sim_away(c, count);
    return false;
  case PZ_S_JOINED:
  case PZ_S_LEFT:
  case PZ_S_PONG:
  case PZ_S_WHISPER:
    return false;
  default:
    return true; /* ERROR and the rest: read them */
  }
}

static int plaza_move(pz_bench_client_t *c, uint64_t seq, const pz_pos_t *pos) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_enc_move(pk, seq, *pos);
  return pz_sim_enc_send(c, PZ_WSF_BINARY);
}

static int plaza_chat(pz_bench_client_t *c, const char *text, size_t len) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_enc_chat_text(pk, (pz_str_t){text, (uint32_t)len});
  return pz_sim_enc_send(c, PZ_WSF_BINARY);
}

static int plaza_leave(pz_bench_client_t *c) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_enc_leave(pk);
  return pz_sim_enc_send(c, PZ_WSF_BINARY);
}

const pz_bench_proto_t pz_bench_proto_plaza = {
    .name = "plaza",
    .subprotocol = PZ_WS_SUBPROTOCOL,
    .on_open = plaza_open,
    .on_message = plaza_message,
    .want_full = plaza_want_full,
    .send_move = plaza_move,
    .send_chat = plaza_chat,
    .send_leave = plaza_leave,
    .goodbye = NULL,
};
