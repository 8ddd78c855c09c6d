/*
 * Socket.io v5 over Engine.IO v4 (websocket transport, msgpack parser) for
 * the bench, as the peer speaks it (bench/peers/socketio/README.md):
 *
 *   text "0{...}" -> CONNECT {type:0,nsp:"/"} -> CONNECT reply -> hello
 *   -> welcome {id} -> join room -> room {...} -> playerMove / chat
 *
 * Events go only after the CONNECT reply (the server drops a connection
 * that sends an event before its socket is registered). Engine.IO pings
 * (text "2") are answered with "3". The `state` event is read in place
 * when it has the layout the server writes; anything else is decoded by
 * key (pz_sio_decode).
 */
#include <string.h>

#include "mpr.h"
#include "proto.h"
#include "sim.h"
#include "sio.h"
#include "stats.h"
#include "worker.h"
#include "wsf.h"

enum {
  SIO_WAIT_OPEN,
  SIO_WAIT_CONNECT,
  SIO_WAIT_WELCOME,
  SIO_WAIT_ROOM,
  SIO_IN_ROOM
};

/* The first bytes of a server `state` event, up to its argument. */
static const uint8_t state_head[] = {0x83, 0xa4, 't', 'y', 'p', 'e',  0x02,
                                     0xa4, 'd',  'a', 't', 'a', 0x92, 0xa5,
                                     's',  't',  'a', 't', 'e'};
static const uint8_t chat_head[] = {0x83, 0xa4, 't', 'y', 'p', 'e',
                                    0x02, 0xa4, 'd', 'a', 't', 'a',
                                    0x92, 0xa4, 'c', 'h', 'a', 't'};

static int send_event_str(pz_bench_client_t *c, const char *name, const char *s,
                          size_t len) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_sio_enc_event_begin(pk, name, true);
  msgpack_pack_str(pk, len);
  msgpack_pack_str_body(pk, s, len);
  pz_sio_enc_event_end(pk);
  return pz_sim_enc_send(c, PZ_WSF_BINARY);
}

static void sio_open(pz_bench_client_t *c) {
  c->pstate = SIO_WAIT_OPEN; /* the server speaks first */
}

static void read_state(pz_bench_client_t *c, pz_mpr_t *arg, size_t len) {
  uint64_t tick;
  uint32_t count;

  if (pz_sio_state_begin(arg, &tick, &count) != 0) {
    pz_sim_bad(c);
    return;
  }
  pz_sim_state(c, count);
  if (!c->sampled || !c->present)
    return;
  pz_sim_state_bytes(c, count, len);
  uint64_t now = pz_sim_now();
  for (uint32_t i = 0; i < count; i++) {
    uint64_t id, seq;
    if (pz_sio_state_entry(arg, &id, &seq, NULL) != 0) {
      pz_sim_bad(c);
      return;
    }
    pz_sim_state_entry(c, id, seq, now);
  }
}

/* welcome {id} */
static void on_welcome(pz_bench_client_t *c, pz_mpr_t *arg) {
  uint32_t n;
  uint64_t id = 0;

  if (pz_mpr_map(arg, &n) != 0)
    goto bad;
  for (uint32_t i = 0; i < n; i++) {
    if (pz_mpr_str_eq(arg, "id")) {
      if (pz_mpr_uint(arg, &id) != 0)
        goto bad;
    } else if (pz_mpr_skip(arg) != 0 || pz_mpr_skip(arg) != 0) {
      goto bad;
    }
  }
  if (id == 0)
    goto bad;
  pz_sim_welcome(c, id, NULL, 0, false);
  c->pstate = SIO_WAIT_ROOM;
  if (c->w->o->view_radius > 0) { /* the peer's view: {radius} */
    msgpack_packer *mp = pz_sim_enc_begin(c);
    pz_sio_enc_event_begin(mp, "view", true);
    msgpack_pack_map(mp, 1);
    msgpack_pack_str_with_body(mp, "radius", 6);
    msgpack_pack_double(mp, c->w->o->view_radius);
    pz_sio_enc_event_end(mp);
    pz_sim_enc_send(c, PZ_WSF_BINARY);
  }
  send_event_str(c, "join", c->room->name, strlen(c->room->name));
  return;
bad:
  pz_sim_bad(c);
}

/* room {room, members: [[id, name, x, y, z, yaw], ...], history} */
static void on_room(pz_bench_client_t *c, pz_mpr_t *arg) {
  uint32_t n, count;
  pz_pos_t own, *ownp = NULL;

  if (pz_mpr_map(arg, &n) != 0)
    goto bad;
  for (uint32_t i = 0; i < n; i++) {
    if (!pz_mpr_str_eq(arg, "members")) {
      if (pz_mpr_skip(arg) != 0 || pz_mpr_skip(arg) != 0)
        goto bad;
      continue;
    }
    if (pz_mpr_array(arg, &count) != 0)
      goto bad;
    for (uint32_t k = 0; k < count; k++) {
      uint32_t six;
      uint64_t id;
      double v[4];
      if (pz_mpr_array(arg, &six) != 0 || six < 6 ||
          pz_mpr_uint(arg, &id) != 0 || pz_mpr_skip(arg) != 0)
        goto bad;
      for (int j = 0; j < 4; j++)
        if (pz_mpr_num(arg, &v[j]) != 0)
          goto bad;
      for (uint32_t j = 6; j < six; j++)
        if (pz_mpr_skip(arg) != 0)
          goto bad;
      if (id == c->id) {
        own = (pz_pos_t){(float)v[0], (float)v[1], (float)v[2], (float)v[3]};
        ownp = &own;
      }
    }
  }
  c->pstate = SIO_IN_ROOM;
  pz_sim_room(c, ownp);
  return;
bad:
  pz_sim_bad(c);
}

/* chat [seq, id, name, text, ts] */
static void on_chat(pz_bench_client_t *c, pz_mpr_t *arg) {
  uint32_t n, len;
  uint64_t seq, id;
  const char *text;

  if (pz_mpr_array(arg, &n) != 0 || n < 4 || pz_mpr_uint(arg, &seq) != 0 ||
      pz_mpr_uint(arg, &id) != 0 || pz_mpr_skip(arg) != 0 ||
      pz_mpr_str(arg, &text, &len) != 0) {
    pz_sim_bad(c);
    return;
  }
  pz_sim_chat(c, id, seq, text, len, pz_sim_now());
}

static void sio_message(pz_bench_client_t *c, int opcode, const uint8_t *p,
                        size_t n) {
  pz_sio_packet_t pk;
  pz_mpr_t arg;
  const char *name;
  uint32_t name_len;
  bool has_arg;

  if (opcode == PZ_WSF_TEXT) {
    if (n >= 1 && p[0] == PZ_EIO_OPEN && c->pstate == SIO_WAIT_OPEN) {
      msgpack_packer *mp = pz_sim_enc_begin(c);
      pz_sio_enc_connect(mp);
      c->pstate = SIO_WAIT_CONNECT;
      pz_sim_enc_send(c, PZ_WSF_BINARY);
    } else if (n == 1 && p[0] == PZ_EIO_PING) {
      pz_sim_send_raw(c, PZ_WSF_TEXT, PZ_EIO_PONG, 1);
    } else {
      pz_sim_bad(c);
    }
    return;
  }
  if (n > sizeof(state_head) &&
      memcmp(p, state_head, sizeof(state_head)) == 0) {
    pz_mpr_init(&arg, p + sizeof(state_head), n - sizeof(state_head));
    read_state(c, &arg, n);
    return;
  }
  if (pz_sio_decode(p, n, &pk) != 0) {
    pz_sim_bad(c);
    return;
  }
  switch (pk.type) {
  case PZ_SIO_CONNECT:
    if (c->pstate == SIO_WAIT_CONNECT) {
      char nm[24];
      size_t nl = pz_sim_name(c, nm, sizeof(nm));
      msgpack_packer *mp = pz_sim_enc_begin(c);
      pz_sio_enc_event_begin(mp, "hello", true);
      msgpack_pack_map(mp, 1);
      msgpack_pack_str(mp, 4);
      msgpack_pack_str_body(mp, "name", 4);
      msgpack_pack_str(mp, nl);
      msgpack_pack_str_body(mp, nm, nl);
      pz_sio_enc_event_end(mp);
      c->pstate = SIO_WAIT_WELCOME;
      pz_sim_enc_send(c, PZ_WSF_BINARY);
    }
    return;
  case PZ_SIO_CONNECT_ERROR:
    pz_sim_error(c, PZ_ERRK_SIO_CONNECT_ERROR);
    return;
  case PZ_SIO_DISCONNECT:
    pz_sim_error(c, PZ_ERRK_SIO_DISCONNECT);
    return;
  case PZ_SIO_EVENT:
    break;
  default:
    return; /* acks: we ask for none */
  }
  if (pz_sio_event(&pk, &name, &name_len, &arg, &has_arg) != 0) {
    pz_sim_bad(c);
    return;
  }
  if (!has_arg)
    return; /* no event of interest comes without an argument */
  if (pz_sio_name_is(name, name_len, "state"))
    read_state(c, &arg, n);
  else if (pz_sio_name_is(name, name_len, "away")) {
    uint32_t k;
    if (pz_mpr_array(&arg, &k) == 0)
      pz_sim_away(c, k);
    else
      pz_sim_bad(c);
  } else if (pz_sio_name_is(name, name_len, "chat"))
    on_chat(c, &arg);
  else if (pz_sio_name_is(name, name_len, "welcome") &&
           c->pstate == SIO_WAIT_WELCOME)
    on_welcome(c, &arg);
  else if (pz_sio_name_is(name, name_len, "room") && c->pstate == SIO_WAIT_ROOM)
    on_room(c, &arg);
  /* joined, left, pong, whisper: nothing to measure */
}

static bool sio_want_full(pz_bench_client_t *c, int opcode, const uint8_t *pfx,
                          size_t n) {
  uint32_t entries;

  if (opcode != PZ_WSF_BINARY)
    return true; /* Engine.IO pings */
  if (pz_sio_peek_state(pfx, n, &entries)) {
    pz_sim_state(c, entries);
    return false;
  }
  if (n > sizeof(chat_head) && memcmp(pfx, chat_head, sizeof(chat_head)) == 0) {
    pz_mpr_t r;
    uint32_t five;
    uint64_t seq = 0;
    pz_mpr_init(&r, pfx + sizeof(chat_head), n - sizeof(chat_head));
    if (pz_mpr_array(&r, &five) != 0 || pz_mpr_uint(&r, &seq) != 0)
      seq = 0;
    pz_sim_chat_seen(c, seq);
    return false;
  }
  return true;
}

static int sio_move(pz_bench_client_t *c, uint64_t seq, const pz_pos_t *pos) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_sio_enc_event_begin(pk, "playerMove", true);
  msgpack_pack_array(pk, 5);
  msgpack_pack_uint64(pk, seq);
  msgpack_pack_float(pk, pos->x);
  msgpack_pack_float(pk, pos->y);
  msgpack_pack_float(pk, pos->z);
  msgpack_pack_float(pk, pos->yaw);
  pz_sio_enc_event_end(pk);
  return pz_sim_enc_send(c, PZ_WSF_BINARY);
}

static int sio_chat(pz_bench_client_t *c, const char *text, size_t len) {
  return send_event_str(c, "chat", text, len);
}

static int sio_leave(pz_bench_client_t *c) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_sio_enc_event_begin(pk, "leave", false);
  pz_sio_enc_event_end(pk);
  return pz_sim_enc_send(c, PZ_WSF_BINARY);
}

static void sio_goodbye(pz_bench_client_t *c) {
  msgpack_packer *pk = pz_sim_enc_begin(c);
  pz_sio_enc_disconnect(pk);
  pz_sim_enc_send(c, PZ_WSF_BINARY);
}

const pz_bench_proto_t pz_bench_proto_socketio = {
    .name = "socketio",
    .subprotocol = NULL,
    .on_open = sio_open,
    .on_message = sio_message,
    .want_full = sio_want_full,
    .send_move = sio_move,
    .send_chat = sio_chat,
    .send_leave = sio_leave,
    .goodbye = sio_goodbye,
};
