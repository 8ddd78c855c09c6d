/*
 * Decoder of server -> client messages, for the C client library, the bench
 * and the tests. Same bounded unpack as the client decoder; the vectors of
 * ROOM and STATE are allocated in the caller's zone, strings point into the
 * caller's buffer. Any deviation from protocol.md gives -1 (a client has no
 * one to send an ERROR to), except that elements past the listed ones are
 * ignored, at the top level and inside member, history and state entries,
 * so that a newer server stays readable; so are feature names it does not
 * know. App values are handed out as their bytes in the caller's buffer,
 * found by walking the bytes beside the object tree (value.c).
 */
#include <limits.h>
#include <string.h>

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

/* [id, name, x, y, z, yaw, state?] starting at element i of a, whose
 * bytes are raw (JOINED is the same fields inline after its op). A state
 * is a map, or absent (an older server) or nil: ptr NULL. */
static bool pz_member_at(const msgpack_object_array *a, pz_raw_t raw,
                         uint32_t i, pz_member_t *m, pz_raw_t *state) {
  *state = (pz_raw_t){NULL, 0};
  if (!pz_mp_uint(pz_mp_at(a, i), &m->id) ||
      !pz_mp_str(pz_mp_at(a, i + 1), &m->name) || !pz_pos_at(a, i + 2, &m->pos))
    return false;
  const msgpack_object *st = pz_mp_at(a, i + 6);
  if (pz_mp_is_nil(st))
    return true;
  pz_raw_t el[8];
  if (st->type != MSGPACK_OBJECT_MAP || i + 6 >= 8 || !pz_mp_elems(raw, el, 8))
    return false;
  *state = el[i + 6];
  return true;
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

/* ROOM's room_state (element 4, bytes rs): key -> [value, version]. */
static int pz_decode_room_state(const msgpack_object *o, pz_raw_t rs,
                                msgpack_zone *zone, pz_smsg_t *out) {
  out->u.room.n_room_state = 0;
  out->u.room.room_state = NULL;
  if (pz_mp_is_nil(o)) /* an older server */
    return 0;
  if (o->type != MSGPACK_OBJECT_MAP)
    return -1;
  uint32_t n = o->via.map.size;
  void *v;
  if (!pz_vec(zone, n, sizeof(pz_room_entry_t), &v))
    return -1;
  pz_room_entry_t *es = v;
  pz_map_iter_t it;
  if (!pz_map_iter_init(&it, rs))
    return -1;
  for (uint32_t i = 0; i < n; i++) {
    const msgpack_object_kv *kv = &o->via.map.ptr[i];
    pz_str_t key;
    pz_raw_t pair, el[2];
    if (!pz_mp_str(&kv->key, &es[i].key) ||
        kv->val.type != MSGPACK_OBJECT_ARRAY ||
        !pz_mp_uint(pz_mp_at(&kv->val.via.array, 1), &es[i].version) ||
        !pz_map_next(&it, &key, &pair) || !pz_mp_elems(pair, el, 2))
      return -1;
    es[i].value = el[0];
  }
  out->u.room.room_state = es;
  out->u.room.n_room_state = n;
  return 0;
}

static int pz_decode_room(const msgpack_object_array *a, pz_raw_t raw,
                          msgpack_zone *zone, pz_smsg_t *out) {
  msgpack_object_array members, history, e;
  if (!pz_mp_str(pz_mp_at(a, 1), &out->u.room.room) ||
      !pz_sub_array(a, 2, &members) || !pz_sub_array(a, 3, &history))
    return -1;
  void *m, *ms, *h;
  if (!pz_vec(zone, members.size, sizeof(pz_member_t), &m) ||
      !pz_vec(zone, members.size, sizeof(pz_raw_t), &ms) ||
      !pz_vec(zone, history.size, sizeof(pz_chat_entry_t), &h))
    return -1;
  out->u.room.members = m;
  out->u.room.member_states = ms;
  out->u.room.n_members = members.size;
  out->u.room.history = h;
  out->u.room.n_history = history.size;
  pz_raw_t el[5], mraw;
  pz_map_iter_t mit; /* over the members' bytes, beside the tree */
  if (!pz_mp_elems(raw, el, 5) || !pz_mp_array_iter(&mit, el[2]))
    return -1;
  for (uint32_t i = 0; i < members.size; i++)
    if (!pz_sub_array(&members, i, &e) || !pz_mp_iter_next(&mit, &mraw) ||
        !pz_member_at(&e, mraw, 0, &out->u.room.members[i],
                      &out->u.room.member_states[i]))
      return -1;
  for (uint32_t i = 0; i < history.size; i++)
    if (!pz_sub_array(&history, i, &e) ||
        !pz_chat_at(&e, 0, &out->u.room.history[i]))
      return -1;
  return pz_decode_room_state(pz_mp_at(a, 4), el[4], zone, out);
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
  out->u.state.compact = (pz_raw_t){NULL, 0};
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
  const msgpack_object *opo = pz_mp_at(a, 3), *ver = pz_mp_at(a, 5);
  if (!pz_mp_uint(pz_mp_at(a, 1), &code) || code > INT_MAX ||
      !pz_mp_str(pz_mp_at(a, 2), &out->u.error.message))
    return -1;
  if (!pz_mp_is_nil(opo) && (!pz_mp_uint(opo, &op) || op > INT_MAX))
    return -1;
  out->u.error.code = (int)code;
  out->u.error.op = (int)op;
  /* A conflict's key and current version (absent on other errors). */
  out->u.error.has_version = !pz_mp_is_nil(ver);
  out->u.error.version = 0;
  if (!pz_mp_opt_str(pz_mp_at(a, 4), &out->u.error.key) ||
      (out->u.error.has_version && !pz_mp_uint(ver, &out->u.error.version)))
    return -1;
  return 0;
}

/* WELCOME's features (element 6): names this client knows become bits. */
static bool pz_features_at(const msgpack_object_array *a, uint32_t *bits) {
  const msgpack_object *f = pz_mp_at(a, 6);
  *bits = 0;
  if (pz_mp_is_nil(f)) /* a v1 server */
    return true;
  if (f->type != MSGPACK_OBJECT_ARRAY)
    return false;
  for (uint32_t i = 0; i < f->via.array.size; i++) {
    pz_str_t name;
    if (!pz_mp_str(&f->via.array.ptr[i], &name))
      return false;
    for (uint32_t b = 0; b < PZ_MP_N_FEATURES; b++)
      if (name.len == strlen(pz_mp_features[b]) &&
          memcmp(name.ptr, pz_mp_features[b], name.len) == 0)
        *bits |= 1u << b;
  }
  return true;
}

/* [10, id, patch]: a map. */
static int pz_decode_member_msg(const msgpack_object_array *a, pz_raw_t raw,
                                pz_smsg_t *out) {
  const msgpack_object *p = pz_mp_at(a, 2);
  pz_raw_t el[3];
  if (!pz_mp_uint(pz_mp_at(a, 1), &out->u.member.id) || p == NULL ||
      p->type != MSGPACK_OBJECT_MAP || !pz_mp_elems(raw, el, 3))
    return -1;
  out->u.member.patch = el[2];
  return 0;
}

/* [11, from_id, name, kind, data, ts_ms] */
static int pz_decode_signal_msg(const msgpack_object_array *a, pz_raw_t raw,
                                pz_smsg_t *out) {
  pz_raw_t el[5];
  if (!pz_mp_uint(pz_mp_at(a, 1), &out->u.signal.from) ||
      !pz_mp_str(pz_mp_at(a, 2), &out->u.signal.name) ||
      !pz_mp_str(pz_mp_at(a, 3), &out->u.signal.kind) ||
      pz_mp_at(a, 4) == NULL ||
      !pz_mp_uint(pz_mp_at(a, 5), &out->u.signal.ts_ms) ||
      !pz_mp_elems(raw, el, 5))
    return -1;
  out->u.signal.data = el[4];
  return 0;
}

/* [12, key, value, version, by_id] */
static int pz_decode_room_state_msg(const msgpack_object_array *a, pz_raw_t raw,
                                    pz_smsg_t *out) {
  pz_raw_t el[3];
  if (!pz_mp_str(pz_mp_at(a, 1), &out->u.room_state.key) ||
      pz_mp_at(a, 2) == NULL ||
      !pz_mp_uint(pz_mp_at(a, 3), &out->u.room_state.version) ||
      !pz_mp_uint(pz_mp_at(a, 4), &out->u.room_state.by) ||
      !pz_mp_elems(raw, el, 3))
    return -1;
  out->u.room_state.value = el[2];
  return 0;
}

/* [13, [id, ...]] */
static int pz_decode_away(const msgpack_object_array *a, msgpack_zone *zone,
                          pz_smsg_t *out) {
  msgpack_object_array ids;
  void *v;
  if (!pz_sub_array(a, 1, &ids) ||
      !pz_vec(zone, ids.size, sizeof(uint64_t), &v))
    return -1;
  out->u.away.ids = v;
  out->u.away.n = ids.size;
  for (uint32_t i = 0; i < ids.size; i++)
    if (!pz_mp_uint(&ids.ptr[i], &out->u.away.ids[i]))
      return -1;
  return 0;
}

/* [14, tick, n, entries]: the frame only; pz_compact_decode reads the
 * entries against the connection's table. */
static int pz_decode_state_c(const msgpack_object_array *a, pz_smsg_t *out) {
  const msgpack_object *b = pz_mp_at(a, 3);
  uint64_t n;
  if (!pz_mp_uint(pz_mp_at(a, 1), &out->u.state.tick) ||
      !pz_mp_uint(pz_mp_at(a, 2), &n) || b == NULL ||
      b->type != MSGPACK_OBJECT_BIN)
    return -1;
  /* msgpack-c may give an empty bin a NULL ptr: "" keeps ptr non-NULL */
  out->u.state.compact =
      (pz_raw_t){b->via.bin.size ? b->via.bin.ptr : "", b->via.bin.size};
  if (n > b->via.bin.size / 2) /* an entry takes two bytes at least */
    return -1;
  out->u.state.n = (size_t)n;
  out->u.state.entries = NULL;
  return 0;
}

int pz_decode_server(const char *data, size_t len, msgpack_zone *zone,
                     pz_smsg_t *out) {
  msgpack_object_array a;
  uint64_t op, u;
  if (len > UINT32_MAX || pz_mp_unpack_array(data, len, zone, &a) != NULL ||
      !pz_mp_uint(pz_mp_at(&a, 0), &op) || op < PZ_S_WELCOME ||
      op > PZ_S_STATE_C)
    return -1;
  pz_raw_t raw = {data, (uint32_t)len};
  out->op = (int)op;

  switch (out->op) {
  case PZ_S_WELCOME: {
    const msgpack_object *resumed = pz_mp_at(&a, 5);
    if (!pz_mp_uint(pz_mp_at(&a, 1), &out->u.welcome.id) ||
        !pz_mp_str(pz_mp_at(&a, 2), &out->u.welcome.session) ||
        !pz_mp_uint(pz_mp_at(&a, 3), &u) || u > UINT32_MAX ||
        !pz_mp_uint(pz_mp_at(&a, 4), &out->u.welcome.server_time_ms) ||
        resumed == NULL || resumed->type != MSGPACK_OBJECT_BOOLEAN ||
        !pz_features_at(&a, &out->u.welcome.features))
      return -1;
    out->u.welcome.tick_hz = (uint32_t)u;
    out->u.welcome.resumed = resumed->via.boolean;
    return 0;
  }
  case PZ_S_ROOM:
    return pz_decode_room(&a, raw, zone, out);
  case PZ_S_JOINED:
    return pz_member_at(&a, raw, 1, &out->u.joined, &out->u.joined_state) ? 0
                                                                          : -1;
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
  case PZ_S_ERROR:
    return pz_decode_error_msg(&a, out);
  case PZ_S_MEMBER:
    return pz_decode_member_msg(&a, raw, out);
  case PZ_S_SIGNAL:
    return pz_decode_signal_msg(&a, raw, out);
  case PZ_S_ROOM_STATE:
    return pz_decode_room_state_msg(&a, raw, out);
  case PZ_S_AWAY:
    return pz_decode_away(&a, zone, out);
  default: /* PZ_S_STATE_C */
    return pz_decode_state_c(&a, out);
  }
}
