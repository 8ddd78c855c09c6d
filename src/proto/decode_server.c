/*
 * Decoder of server -> client messages, for the C client library, the bench
 * and the tests. Same bounded unpack as the client decoder; the vectors of
 * ROOM and STATE are allocated in the caller's zone, strings point into the
 * caller's buffer. Any deviation from protocol.md gives -1 (a client has no
 * one to send an ERROR to), except that elements past the listed ones are
 * ignored, at the top level and inside member, history and state entries,
 * so that a newer server stays readable.
 */
#include <limits.h>

#include "mp.h"

/* Element i of a as a nested array. */
static bool pz_sub_array(const msgpack_object_array *a, uint32_t i,
                         msgpack_object_array *out) {
  const msgpack_object *o = pz_mp_at(a, i);
  if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY)
    return false;
  *out = o->via.array;
  return true;
}

/* Four coordinates starting at element i. */
static bool pz_pos_at(const msgpack_object_array *a, uint32_t i,
                      pz_pos_t *pos) {
  return pz_mp_coord(pz_mp_at(a, i), &pos->x) == PZ_MP_NUM_OK &&
         pz_mp_coord(pz_mp_at(a, i + 1), &pos->y) == PZ_MP_NUM_OK &&
         pz_mp_coord(pz_mp_at(a, i + 2), &pos->z) == PZ_MP_NUM_OK &&
         pz_mp_coord(pz_mp_at(a, i + 3), &pos->yaw) == PZ_MP_NUM_OK;
}

/* [id, name, x, y, z, yaw] starting at element i (JOINED is the same
 * fields inline after its op). */
static bool pz_member_at(const msgpack_object_array *a, uint32_t i,
                         pz_member_t *m) {
  return pz_mp_uint(pz_mp_at(a, i), &m->id) &&
         pz_mp_str(pz_mp_at(a, i + 1), &m->name) &&
         pz_pos_at(a, i + 2, &m->pos);
}

/* [seq, id, name, text, ts_ms] starting at element i. */
static bool pz_chat_at(const msgpack_object_array *a, uint32_t i,
                       pz_chat_entry_t *c) {
  return pz_mp_uint(pz_mp_at(a, i), &c->seq) &&
         pz_mp_uint(pz_mp_at(a, i + 1), &c->id) &&
         pz_mp_str(pz_mp_at(a, i + 2), &c->name) &&
         pz_mp_str(pz_mp_at(a, i + 3), &c->text) &&
         pz_mp_uint(pz_mp_at(a, i + 4), &c->ts_ms);
}

/* A zone vector of n elements of size sz, NULL for none. The unpack bound
 * keeps n below the message length, so n * sz cannot overflow. */
static bool pz_vec(msgpack_zone *zone, size_t n, size_t sz, void **out) {
  *out = NULL;
  if (n == 0)
    return true;
  *out = msgpack_zone_malloc(zone, n * sz);
  return *out != NULL;
}

static int pz_decode_room(const msgpack_object_array *a, msgpack_zone *zone,
                          pz_smsg_t *out) {
  msgpack_object_array members, history, e;
  if (!pz_mp_str(pz_mp_at(a, 1), &out->u.room.room) ||
      !pz_sub_array(a, 2, &members) || !pz_sub_array(a, 3, &history))
    return -1;
  void *m, *h;
  if (!pz_vec(zone, members.size, sizeof(pz_member_t), &m) ||
      !pz_vec(zone, history.size, sizeof(pz_chat_entry_t), &h))
    return -1;
  out->u.room.members = m;
  out->u.room.n_members = members.size;
  out->u.room.history = h;
  out->u.room.n_history = history.size;
  for (uint32_t i = 0; i < members.size; i++)
    if (!pz_sub_array(&members, i, &e) ||
        !pz_member_at(&e, 0, &out->u.room.members[i]))
      return -1;
  for (uint32_t i = 0; i < history.size; i++)
    if (!pz_sub_array(&history, i, &e) ||
        !pz_chat_at(&e, 0, &out->u.room.history[i]))
      return -1;
  return 0;
}

static int pz_decode_state(const msgpack_object_array *a, msgpack_zone *zone,
                           pz_smsg_t *out) {
  msgpack_object_array entries, e;
  void *v;
  if (!pz_mp_uint(pz_mp_at(a, 1), &out->u.state.tick) ||
      !pz_sub_array(a, 2, &entries) ||
      !pz_vec(zone, entries.size, sizeof(pz_state_entry_t), &v))
    return -1;
  out->u.state.entries = v;
  out->u.state.n = entries.size;
  for (uint32_t i = 0; i < entries.size; i++) {
    pz_state_entry_t *se = &out->u.state.entries[i];
    if (!pz_sub_array(&entries, i, &e) ||
        !pz_mp_uint(pz_mp_at(&e, 0), &se->id) ||
        !pz_mp_uint(pz_mp_at(&e, 1), &se->seq) || !pz_pos_at(&e, 2, &se->pos))
      return -1;
  }
  return 0;
}

static int pz_decode_error_msg(const msgpack_object_array *a, pz_smsg_t *out) {
  uint64_t code, op = 0;
  const msgpack_object *opo = pz_mp_at(a, 3);
  if (!pz_mp_uint(pz_mp_at(a, 1), &code) || code > INT_MAX ||
      !pz_mp_str(pz_mp_at(a, 2), &out->u.error.message))
    return -1;
  if (!pz_mp_is_nil(opo) && (!pz_mp_uint(opo, &op) || op > INT_MAX))
    return -1;
  out->u.error.code = (int)code;
  out->u.error.op = (int)op;
  return 0;
}

int pz_decode_server(const char *data, size_t len, msgpack_zone *zone,
                     pz_smsg_t *out) {
  msgpack_object_array a;
  uint64_t op, u;
  if (pz_mp_unpack_array(data, len, zone, &a) != NULL ||
      !pz_mp_uint(pz_mp_at(&a, 0), &op) || op < PZ_S_WELCOME || op > PZ_S_ERROR)
    return -1;
  out->op = (int)op;

  switch (out->op) {
  case PZ_S_WELCOME: {
    const msgpack_object *resumed = pz_mp_at(&a, 5);
    if (!pz_mp_uint(pz_mp_at(&a, 1), &out->u.welcome.id) ||
        !pz_mp_str(pz_mp_at(&a, 2), &out->u.welcome.session) ||
        !pz_mp_uint(pz_mp_at(&a, 3), &u) || u > UINT32_MAX ||
        !pz_mp_uint(pz_mp_at(&a, 4), &out->u.welcome.server_time_ms) ||
        resumed == NULL || resumed->type != MSGPACK_OBJECT_BOOLEAN)
      return -1;
    out->u.welcome.tick_hz = (uint32_t)u;
    out->u.welcome.resumed = resumed->via.boolean;
    return 0;
  }
  case PZ_S_ROOM:
    return pz_decode_room(&a, zone, out);
  case PZ_S_JOINED:
    return pz_member_at(&a, 1, &out->u.joined) ? 0 : -1;
  case PZ_S_LEFT:
    return pz_mp_uint(pz_mp_at(&a, 1), &out->u.left.id) ? 0 : -1;
  case PZ_S_STATE:
    return pz_decode_state(&a, zone, out);
  case PZ_S_CHAT:
    return pz_chat_at(&a, 1, &out->u.chat) ? 0 : -1;
  case PZ_S_WHISPER:
    return pz_mp_uint(pz_mp_at(&a, 1), &out->u.whisper.from) &&
                   pz_mp_str(pz_mp_at(&a, 2), &out->u.whisper.name) &&
                   pz_mp_str(pz_mp_at(&a, 3), &out->u.whisper.text) &&
                   pz_mp_uint(pz_mp_at(&a, 4), &out->u.whisper.ts_ms)
               ? 0
               : -1;
  case PZ_S_PONG:
    /* t is the client's own PING value, which pz_enc_ping writes as a
     * number; a PONG for some other client's t is not ours to read. */
    return pz_mp_double(pz_mp_at(&a, 1), &out->u.pong.t) == PZ_MP_NUM_OK &&
                   pz_mp_uint(pz_mp_at(&a, 2), &out->u.pong.server_time_ms)
               ? 0
               : -1;
  default: /* PZ_S_ERROR */
    return pz_decode_error_msg(&a, out);
  }
}
