/*
 * Bus payloads (see busmsg.h), read with the codec's cursor: each read
 * checks what is left, so a hostile length can never make it read past
 * the end or allocate.
 */
#include "busmsg.h"

#include <math.h>
#include <string.h>

#include "bus.h"
#include "error.h"
#include "mpr.h"

typedef pz_mpr_t rd_t;

static bool rd_uint(rd_t *r, uint64_t *v) {
  return pz_mpr_uint(r, v) == 0;
}

static bool rd_u32(rd_t *r, uint32_t *v, uint32_t max) {
  uint64_t u;
  if (!rd_uint(r, &u) || u > max)
    return false;
  *v = (uint32_t)u;
  return true;
}

static bool rd_id(rd_t *r, uint64_t *v) {
  return rd_uint(r, v) && *v <= PZ_ID_MAX;
}

static bool rd_bool(rd_t *r, bool *v) {
  return pz_mpr_bool(r, v) == 0;
}

static bool rd_str(rd_t *r, pz_str_t *s, uint32_t max) {
  const char *p;
  uint32_t n;
  if (pz_mpr_str(r, &p, &n) != 0 || n > max)
    return false;
  s->ptr = p;
  s->len = n;
  return true;
}

static bool rd_text(rd_t *r, pz_str_t *s, uint32_t max) {
  return rd_str(r, s, max) && pz_utf8_valid(s->ptr, s->len);
}

static bool rd_pos(rd_t *r, pz_pos_t *p) {
  double v[4];
  for (int i = 0; i < 4; i++)
    if (pz_mpr_num(r, &v[i]) != 0 || !isfinite(v[i]) || fabs(v[i]) > 3.4e38)
      return false;
  *p = (pz_pos_t){(float)v[0], (float)v[1], (float)v[2], (float)v[3]};
  return true;
}

/* Room names reach clients and channel names: only what a client could
 * have sent is accepted. */
static bool rd_room(rd_t *r, pz_str_t *room) {
  return rd_str(r, room, PZ_ROOM_NAME_MAX) &&
         pz_room_name_valid(room->ptr, room->len);
}

/* One embedded MessagePack value (a map when map_only), kept as its
 * bytes. */
static bool rd_value(rd_t *r, pz_raw_t *v, bool map_only) {
  const char *start = (const char *)r->p;
  if (map_only && (r->p >= r->end ||
                   !((*r->p & 0xf0) == 0x80 || *r->p == 0xde || *r->p == 0xdf)))
    return false;
  if (pz_mpr_skip(r) != 0 || (const char *)r->p - start > PZ_BUS_VALUE_MAX)
    return false;
  v->ptr = start;
  v->len = (uint32_t)((const char *)r->p - start);
  return true;
}

/* A session's VIEW: a radius as the client may send it (finite, >= 0)
 * and compact. */
static bool rd_view(rd_t *r, double *radius, bool *compact, bool *has) {
  if (pz_mpr_num(r, radius) != 0 || !isfinite(*radius) || *radius < 0 ||
      !rd_bool(r, compact))
    return false;
  *has = true;
  return true;
}

/* The bytes of an embedded message: str (what Redis' cmsgpack writes for
 * a Lua string) or bin. */
static bool rd_bytes(rd_t *r, const uint8_t **b, uint32_t *len) {
  const char *s;
  if (pz_mpr_str(r, &s, len) == 0) {
    *b = (const uint8_t *)s;
    return true;
  }
  return pz_mpr_bin(r, b, len) == 0;
}

/* Fields of each type after [version, node, type]; n is the array's
 * element count (at least the type's minimum, checked by the caller). */
static bool body(rd_t *r, pz_busmsg_t *m, uint32_t n) {
  uint64_t u;
  switch (m->type) {
  case PZ_BUS_STATE: {
    uint32_t k;
    if (!rd_room(r, &m->room) || pz_mpr_array(r, &k) != 0)
      return false;
    m->u.state.n = k;
    m->u.state.it = (pz_bus_state_it_t){r->p, r->end, k};
    /* Walk the entries once now, so a bad one refuses the message. */
    pz_bus_state_it_t it = m->u.state.it;
    pz_state_entry_t e;
    for (uint32_t i = 0; i < k; i++)
      if (!pz_busmsg_state_next(&it, &e))
        return false;
    r->p = it.p;
    return true;
  }
  case PZ_BUS_JOIN:
    return rd_room(r, &m->room) && rd_id(r, &m->u.join.m.id) &&
           rd_text(r, &m->u.join.m.name, PZ_NAME_MAX) &&
           rd_pos(r, &m->u.join.m.pos) &&
           rd_u32(r, &m->u.join.flags, UINT32_MAX) &&
           rd_u32(r, &m->u.join.gen, UINT32_MAX) &&
           rd_value(r, &m->u.join.state, true) &&
           rd_str(r, &m->u.join.addr, PZ_BUS_ADDR_MAX);
  case PZ_BUS_LEAVE:
    return rd_room(r, &m->room) && rd_id(r, &m->u.leave.id) &&
           rd_u32(r, &m->u.leave.flags, UINT32_MAX);
  case PZ_BUS_CHAT:
    return rd_room(r, &m->room) && rd_uint(r, &m->u.chat.seq) &&
           rd_id(r, &m->u.chat.id) &&
           rd_text(r, &m->u.chat.name, PZ_NAME_MAX) &&
           rd_text(r, &m->u.chat.text, PZ_CHAT_TEXT_MAX) &&
           rd_uint(r, &m->u.chat.ts_ms);
  case PZ_BUS_DELIVER:
    if (!rd_uint(r, &u) || u > PZ_DELIVER_KIND_MAX)
      return false;
    m->u.deliver.kind = (int)u;
    if (!rd_id(r, &m->u.deliver.to) || !rd_id(r, &m->u.deliver.from) ||
        !rd_text(r, &m->u.deliver.name, PZ_NAME_MAX) ||
        !rd_text(r, &m->u.deliver.text, PZ_CHAT_TEXT_MAX) ||
        !rd_uint(r, &m->u.deliver.ts_ms) || !rd_uint(r, &u) || u > 999)
      return false;
    m->u.deliver.code = (int)u; /* an ERROR's code, a kick answer's status */
    if (!rd_uint(r, &u) || u > 255)
      return false;
    m->u.deliver.op = (int)u;
    if (!rd_u32(r, &m->u.deliver.reply_node, UINT32_MAX) ||
        !rd_u32(r, &m->u.deliver.reply_worker, 1u << 16) ||
        !rd_uint(r, &m->u.deliver.reply_req) ||
        !rd_u32(r, &m->u.deliver.gen, UINT32_MAX))
      return false;
    /* A signal's kind travels as the text: 1-32 bytes of UTF-8. */
    if (m->u.deliver.kind == PZ_DELIVER_SIGNAL &&
        (m->u.deliver.text.len < 1 || m->u.deliver.text.len > 32))
      return false;
    if (n > 15) { /* a nil is a value too: the signal's data may be nil */
      const uint8_t *at = r->p;
      if (pz_mpr_nil(r))
        m->u.deliver.data = (pz_raw_t){(const char *)at, 1};
      else if (!rd_value(r, &m->u.deliver.data, false))
        return false;
    }
    return n <= 16 || rd_uint(r, &m->u.deliver.version);
  case PZ_BUS_PROBE:
    return rd_u32(r, &m->u.probe.worker, 1u << 16) &&
           rd_uint(r, &m->u.probe.nonce);
  case PZ_BUS_SESSION:
    return rd_id(r, &m->u.session.id) &&
           rd_str(r, &m->u.session.token_hash, 64) &&
           rd_text(r, &m->u.session.name, PZ_NAME_MAX) &&
           (pz_mpr_str_eq(r, "") || rd_room(r, &m->room)) &&
           rd_pos(r, &m->u.session.pos) && rd_uint(r, &m->u.session.seq) &&
           rd_bool(r, &m->u.session.has_seq) &&
           rd_bool(r, &m->u.session.placed) &&
           rd_uint(r, &m->u.session.chat_seq) &&
           rd_str(r, &m->u.session.sub, PZ_BUS_SUB_MAX) &&
           rd_u32(r, &m->u.session.gen, UINT32_MAX) &&
           rd_value(r, &m->u.session.state, true) &&
           rd_str(r, &m->u.session.addr, PZ_BUS_ADDR_MAX) &&
           (n < 21 ||
            rd_view(r, &m->u.session.view_radius, &m->u.session.view_compact,
                    &m->u.session.has_view));
  case PZ_BUS_MEMBER:
    return rd_room(r, &m->room) && rd_id(r, &m->u.member.id) &&
           rd_value(r, &m->u.member.patch, true);
  case PZ_BUS_ROOM_STATE: {
    /* The value travels as the bytes of one MessagePack value (Redis'
     * script packs it as a string); "" for a delete. */
    const uint8_t *v;
    uint32_t vl;
    if (!rd_room(r, &m->room) ||
        !rd_text(r, &m->u.room_state.key, PZ_ROOM_KEY_MAX) ||
        m->u.room_state.key.len == 0 || !rd_bytes(r, &v, &vl))
      return false;
    m->u.room_state.value = (pz_raw_t){vl ? (const char *)v : NULL, vl};
    if (vl && !pz_busmsg_value_ok(m->u.room_state.value))
      return false;
    return rd_uint(r, &m->u.room_state.version) &&
           m->u.room_state.version > 0 && rd_uint(r, &m->u.room_state.by);
  }
  case PZ_BUS_SIGNAL:
    return rd_room(r, &m->room) && rd_uint(r, &m->u.signal.from) &&
           rd_text(r, &m->u.signal.name, PZ_NAME_MAX) &&
           rd_text(r, &m->u.signal.kind, PZ_SIGNAL_KIND_MAX) &&
           m->u.signal.kind.len > 0 && rd_value(r, &m->u.signal.data, false) &&
           rd_uint(r, &m->u.signal.ts_ms);
  case PZ_BUS_EVENT:
    return rd_room(r, &m->room) && rd_uint(r, &m->u.event.epoch) &&
           rd_uint(r, &m->u.event.off) &&
           rd_bytes(r, &m->u.event.inner, &m->u.event.inner_len);
  }
  (void)n;
  return false;
}

/* Elements each type has at least: [version, node, type] and its own. */
static const uint8_t min_elements[PZ_BUS_TYPE_MAX + 1] = {
    [PZ_BUS_STATE] = 5,      [PZ_BUS_JOIN] = 14,    [PZ_BUS_LEAVE] = 6,
    [PZ_BUS_CHAT] = 9,       [PZ_BUS_DELIVER] = 15, [PZ_BUS_PROBE] = 5,
    [PZ_BUS_SESSION] = 19,   [PZ_BUS_EVENT] = 7,    [PZ_BUS_MEMBER] = 6,
    [PZ_BUS_ROOM_STATE] = 8, [PZ_BUS_SIGNAL] = 9,
};

int pz_busmsg_decode(const uint8_t *data, size_t len, pz_busmsg_t *out) {
  rd_t r;
  pz_mpr_init(&r, data, len);
  uint32_t n, version, type;
  memset(out, 0, sizeof(*out));
  if (pz_mpr_array(&r, &n) != 0 || n < 3 || !rd_u32(&r, &version, UINT32_MAX) ||
      version != PZ_BUS_VERSION || !rd_u32(&r, &out->node, 0x7fff) ||
      !rd_u32(&r, &type, PZ_BUS_TYPE_MAX) || min_elements[type] == 0)
    return PZ_EPROTO;
  out->type = (int)type;
  if (n < min_elements[type] || !body(&r, out, n))
    return PZ_EPROTO;
  uint32_t known = min_elements[type];
  if (type == PZ_BUS_DELIVER) /* its optional data and version */
    known = n < 17 ? n : 17;
  if (type == PZ_BUS_SESSION) /* its optional VIEW */
    known = n < 21 ? 19 : 21;
  for (uint32_t i = known; i < n; i++) /* newer fields */
    if (pz_mpr_skip_depth(&r, 8) != 0)
      return PZ_EPROTO;
  return r.p == r.end ? 0 : PZ_EPROTO;
}

bool pz_busmsg_value_ok(pz_raw_t v) {
  rd_t r;
  pz_mpr_init(&r, v.ptr, v.len);
  return v.len > 0 && pz_mpr_skip(&r) == 0 && r.p == r.end;
}

bool pz_busmsg_state_next(pz_bus_state_it_t *it, pz_state_entry_t *e) {
  if (it->left == 0)
    return false;
  rd_t r = {it->p, it->end};
  uint32_t n;
  if (pz_mpr_array(&r, &n) != 0 || n < 6 || !rd_id(&r, &e->id) ||
      !rd_uint(&r, &e->seq) || !rd_pos(&r, &e->pos))
    return false;
  for (uint32_t i = 6; i < n; i++)
    if (pz_mpr_skip_depth(&r, 8) != 0)
      return false;
  it->p = r.p;
  it->left--;
  return true;
}

/* ---- encoders ----------------------------------------------------------- */

static void head(msgpack_packer *pk, uint32_t n, uint32_t node, int type) {
  msgpack_pack_array(pk, n);
  msgpack_pack_uint32(pk, PZ_BUS_VERSION);
  msgpack_pack_uint32(pk, node);
  msgpack_pack_uint32(pk, (uint32_t)type);
}

static void str(msgpack_packer *pk, pz_str_t s) {
  msgpack_pack_str(pk, s.ptr ? s.len : 0);
  if (s.ptr && s.len)
    msgpack_pack_str_body(pk, s.ptr, s.len);
}

static void pos(msgpack_packer *pk, const pz_pos_t *p) {
  msgpack_pack_float(pk, p->x);
  msgpack_pack_float(pk, p->y);
  msgpack_pack_float(pk, p->z);
  msgpack_pack_float(pk, p->yaw);
}

static void value(msgpack_packer *pk, pz_raw_t v) {
  if (v.ptr && v.len)
    msgpack_pack_str_body(pk, v.ptr, v.len); /* raw bytes, as they are */
  else
    msgpack_pack_map(pk, 0);
}

static void boolean(msgpack_packer *pk, bool b) {
  if (b)
    msgpack_pack_true(pk);
  else
    msgpack_pack_false(pk);
}

void pz_busmsg_state_begin(msgpack_packer *pk, uint32_t node, pz_str_t room,
                           uint32_t n) {
  head(pk, 5, node, PZ_BUS_STATE);
  str(pk, room);
  msgpack_pack_array(pk, n);
}

void pz_busmsg_state_entry(msgpack_packer *pk, const pz_state_entry_t *e) {
  msgpack_pack_array(pk, 6);
  msgpack_pack_uint64(pk, e->id);
  msgpack_pack_uint64(pk, e->seq);
  pos(pk, &e->pos);
}

void pz_busmsg_join(msgpack_packer *pk, uint32_t node, pz_str_t room,
                    const pz_member_t *m, uint32_t flags, uint32_t gen,
                    pz_raw_t state, pz_str_t addr) {
  head(pk, 14, node, PZ_BUS_JOIN);
  str(pk, room);
  msgpack_pack_uint64(pk, m->id);
  str(pk, m->name);
  pos(pk, &m->pos);
  msgpack_pack_uint32(pk, flags);
  msgpack_pack_uint32(pk, gen);
  value(pk, state);
  str(pk, addr);
}

void pz_busmsg_leave(msgpack_packer *pk, uint32_t node, pz_str_t room,
                     uint64_t id, uint32_t flags) {
  head(pk, 6, node, PZ_BUS_LEAVE);
  str(pk, room);
  msgpack_pack_uint64(pk, id);
  msgpack_pack_uint32(pk, flags);
}

void pz_busmsg_chat(msgpack_packer *pk, uint32_t node, pz_str_t room,
                    const pz_chat_entry_t *c) {
  head(pk, 9, node, PZ_BUS_CHAT);
  str(pk, room);
  msgpack_pack_uint64(pk, c->seq);
  msgpack_pack_uint64(pk, c->id);
  str(pk, c->name);
  str(pk, c->text);
  msgpack_pack_uint64(pk, c->ts_ms);
}

void pz_busmsg_deliver(msgpack_packer *pk, uint32_t node,
                       const pz_delivery_t *d) {
  head(pk, 17, node, PZ_BUS_DELIVER);
  msgpack_pack_uint32(pk, (uint32_t)d->kind);
  msgpack_pack_uint64(pk, d->to);
  msgpack_pack_uint64(pk, d->from);
  str(pk, d->name);
  str(pk, d->text);
  msgpack_pack_uint64(pk, d->ts_ms);
  msgpack_pack_uint32(pk, (uint32_t)d->code);
  msgpack_pack_uint32(pk, (uint32_t)d->op);
  msgpack_pack_uint32(pk, d->reply_node);
  msgpack_pack_uint32(pk, d->reply_worker);
  msgpack_pack_uint64(pk, d->reply_req);
  msgpack_pack_uint32(pk, d->gen);
  if (d->data.ptr && d->data.len)
    msgpack_pack_str_body(pk, d->data.ptr, d->data.len); /* as it is */
  else
    msgpack_pack_nil(pk);
  msgpack_pack_uint64(pk, d->version);
}

void pz_busmsg_probe(msgpack_packer *pk, uint32_t node, uint32_t worker,
                     uint64_t nonce) {
  head(pk, 5, node, PZ_BUS_PROBE);
  msgpack_pack_uint32(pk, worker);
  msgpack_pack_uint64(pk, nonce);
}

void pz_busmsg_session(msgpack_packer *pk, uint32_t node,
                       const pz_busmsg_record_t *r) {
  head(pk, r->has_view ? 21 : 19, node, PZ_BUS_SESSION);
  msgpack_pack_uint64(pk, r->id);
  str(pk, r->token_hash);
  str(pk, r->name);
  str(pk, r->room);
  pos(pk, &r->pos);
  msgpack_pack_uint64(pk, r->seq);
  boolean(pk, r->has_seq);
  boolean(pk, r->placed);
  msgpack_pack_uint64(pk, r->chat_seq);
  str(pk, r->sub);
  msgpack_pack_uint32(pk, r->gen);
  value(pk, r->state);
  str(pk, r->addr);
  if (r->has_view) {
    msgpack_pack_double(pk, r->view_radius);
    boolean(pk, r->view_compact);
  }
}

void pz_busmsg_member(msgpack_packer *pk, uint32_t node, pz_str_t room,
                      uint64_t id, pz_raw_t patch) {
  head(pk, 6, node, PZ_BUS_MEMBER);
  str(pk, room);
  msgpack_pack_uint64(pk, id);
  value(pk, patch);
}

void pz_busmsg_signal(msgpack_packer *pk, uint32_t node, pz_str_t room,
                      uint64_t from, pz_str_t name, pz_str_t kind,
                      pz_raw_t data, uint64_t ts_ms) {
  head(pk, 9, node, PZ_BUS_SIGNAL);
  str(pk, room);
  msgpack_pack_uint64(pk, from);
  str(pk, name);
  str(pk, kind);
  if (data.ptr && data.len)
    msgpack_pack_str_body(pk, data.ptr, data.len);
  else
    msgpack_pack_nil(pk);
  msgpack_pack_uint64(pk, ts_ms);
}

void pz_busmsg_event(msgpack_packer *pk, uint32_t node, pz_str_t room,
                     uint64_t epoch, uint64_t off, const uint8_t *inner,
                     size_t len) {
  head(pk, 7, node, PZ_BUS_EVENT);
  str(pk, room);
  msgpack_pack_uint64(pk, epoch);
  msgpack_pack_uint64(pk, off);
  msgpack_pack_str(pk, len);
  msgpack_pack_str_body(pk, inner, len);
}
