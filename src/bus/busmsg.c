/*
 * Bus payloads (see busmsg.h). The reader walks the bytes with a cursor:
 * each read checks what is left, so a hostile length can never make it
 * read past the end or allocate.
 */
#include "busmsg.h"

#include <math.h>
#include <string.h>

#include "error.h"

#define SKIP_DEPTH 8

typedef struct rd {
  const uint8_t *p, *end;
} rd_t;

static bool take(rd_t *r, size_t n, const uint8_t **at) {
  if ((size_t)(r->end - r->p) < n)
    return false;
  *at = r->p;
  r->p += n;
  return true;
}

static uint64_t be(const uint8_t *b, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | b[i];
  return v;
}

static bool rd_uint(rd_t *r, uint64_t *v) {
  const uint8_t *b;
  if (!take(r, 1, &b))
    return false;
  uint8_t t = b[0];
  if (t <= 0x7f) {
    *v = t;
    return true;
  }
  int n = t == 0xcc ? 1 : t == 0xcd ? 2 : t == 0xce ? 4 : t == 0xcf ? 8 : 0;
  bool sign = false;
  if (!n) { /* signed forms holding a non-negative value */
    n = t == 0xd0 ? 1 : t == 0xd1 ? 2 : t == 0xd2 ? 4 : t == 0xd3 ? 8 : 0;
    sign = true;
  }
  if (!n || !take(r, (size_t)n, &b))
    return false;
  *v = be(b, n);
  if (sign && (b[0] & 0x80))
    return false;
  return true;
}

static bool rd_num(rd_t *r, double *d) {
  const uint8_t *b;
  if (r->p >= r->end)
    return false;
  uint8_t t = r->p[0];
  if (t == 0xca || t == 0xcb) {
    r->p++;
    if (!take(r, t == 0xca ? 4 : 8, &b))
      return false;
    uint64_t bits = be(b, t == 0xca ? 4 : 8);
    if (t == 0xca) {
      uint32_t u = (uint32_t)bits;
      float f;
      memcpy(&f, &u, 4);
      *d = f;
    } else {
      memcpy(d, &bits, 8);
    }
  } else if (t >= 0xe0 || (t >= 0xd0 && t <= 0xd3)) {
    r->p++;
    int n = t >= 0xe0 ? 0 : 1 << (t - 0xd0);
    int64_t v = (int8_t)t;
    if (n) {
      if (!take(r, (size_t)n, &b))
        return false;
      uint64_t u = be(b, n);
      if (n < 8 && (u >> (8 * n - 1)))
        u |= ~0ull << (8 * n); /* sign-extend */
      v = (int64_t)u;
    }
    *d = (double)v;
  } else {
    uint64_t u;
    if (!rd_uint(r, &u))
      return false;
    *d = (double)u;
  }
  return isfinite(*d);
}

static bool rd_str(rd_t *r, pz_str_t *s, uint32_t max) {
  const uint8_t *b;
  if (!take(r, 1, &b))
    return false;
  uint8_t t = b[0];
  uint64_t n;
  if ((t & 0xe0) == 0xa0) {
    n = t & 0x1f;
  } else {
    int w = t == 0xd9 ? 1 : t == 0xda ? 2 : t == 0xdb ? 4 : 0;
    if (!w || !take(r, (size_t)w, &b))
      return false;
    n = be(b, w);
  }
  if (n > max || !take(r, (size_t)n, &b))
    return false;
  s->ptr = (const char *)b;
  s->len = (uint32_t)n;
  return true;
}

static bool rd_array(rd_t *r, uint32_t *n) {
  const uint8_t *b;
  if (!take(r, 1, &b))
    return false;
  uint8_t t = b[0];
  if ((t & 0xf0) == 0x90) {
    *n = t & 0x0f;
  } else {
    int w = t == 0xdc ? 2 : t == 0xdd ? 4 : 0;
    if (!w || !take(r, (size_t)w, &b))
      return false;
    *n = (uint32_t)be(b, w);
  }
  /* Every element takes at least one byte. */
  return *n <= (size_t)(r->end - r->p);
}

static bool rd_bool(rd_t *r, bool *v) {
  if (r->p >= r->end || (r->p[0] != 0xc2 && r->p[0] != 0xc3))
    return false;
  *v = *r->p++ == 0xc3;
  return true;
}

/* Skips one value of any type, nested at most SKIP_DEPTH deep. */
static bool rd_skip(rd_t *r, int depth) {
  const uint8_t *b;
  if (depth > SKIP_DEPTH || !take(r, 1, &b))
    return false;
  uint8_t t = b[0];
  uint64_t n = 0, items = 0;
  if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
    return true;
  if ((t & 0xe0) == 0xa0)
    return take(r, t & 0x1f, &b);
  if ((t & 0xf0) == 0x90)
    items = t & 0x0f;
  else if ((t & 0xf0) == 0x80)
    items = 2u * (t & 0x0f);
  else {
    switch (t) {
    case 0xcc:
    case 0xd0:
      return take(r, 1, &b);
    case 0xcd:
    case 0xd1:
      return take(r, 2, &b);
    case 0xce:
    case 0xd2:
    case 0xca:
      return take(r, 4, &b);
    case 0xcf:
    case 0xd3:
    case 0xcb:
      return take(r, 8, &b);
    case 0xd4:
      return take(r, 2, &b);
    case 0xd5:
      return take(r, 3, &b);
    case 0xd6:
      return take(r, 5, &b);
    case 0xd7:
      return take(r, 9, &b);
    case 0xd8:
      return take(r, 17, &b);
    case 0xc4:
    case 0xd9:
      return take(r, 1, &b) && take(r, (size_t)b[0], &b);
    case 0xc5:
    case 0xda:
      return take(r, 2, &b) && take(r, (size_t)be(b, 2), &b);
    case 0xc6:
    case 0xdb:
      return take(r, 4, &b) && take(r, (size_t)be(b, 4), &b);
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      int w = t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4;
      return take(r, (size_t)w, &b) && (n = be(b, w), take(r, 1, &b)) &&
             take(r, (size_t)n, &b);
    }
    case 0xdc:
    case 0xde:
      if (!take(r, 2, &b))
        return false;
      items = be(b, 2) * (t == 0xde ? 2 : 1);
      break;
    case 0xdd:
    case 0xdf:
      if (!take(r, 4, &b))
        return false;
      items = be(b, 4) * (t == 0xdf ? 2 : 1);
      break;
    default:
      return false; /* 0xc1: never used */
    }
  }
  if (items > (uint64_t)(r->end - r->p))
    return false;
  for (uint64_t i = 0; i < items; i++)
    if (!rd_skip(r, depth + 1))
      return false;
  return true;
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

static bool rd_pos(rd_t *r, pz_pos_t *p) {
  double v[4];
  for (int i = 0; i < 4; i++)
    if (!rd_num(r, &v[i]) || fabs(v[i]) > 3.4e38)
      return false;
  *p = (pz_pos_t){(float)v[0], (float)v[1], (float)v[2], (float)v[3]};
  return true;
}

/* Room names and display names reach clients and channel names: only
 * what a client could have sent is accepted. */
static bool rd_room(rd_t *r, pz_str_t *room) {
  if (!rd_str(r, room, PZ_ROOM_NAME_MAX) || room->len == 0)
    return false;
  for (uint32_t i = 0; i < room->len; i++) {
    char c = room->ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
          c == '-'))
      return false;
  }
  return true;
}

static bool rd_text(rd_t *r, pz_str_t *s, uint32_t max) {
  return rd_str(r, s, max) && pz_utf8_valid(s->ptr, s->len);
}

/* Fields of each type after [version, node, type]; `need` is how many
 * elements the array must have at least. */
static bool body(rd_t *r, pz_busmsg_t *m, uint32_t n) {
  uint64_t u;
  switch (m->type) {
  case PZ_BUS_STATE: {
    uint32_t k;
    if (n < 5 || !rd_room(r, &m->room) || !rd_array(r, &k))
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
    return n >= 11 && rd_room(r, &m->room) && rd_id(r, &m->u.join.m.id) &&
           rd_text(r, &m->u.join.m.name, PZ_NAME_MAX) &&
           rd_pos(r, &m->u.join.m.pos) &&
           rd_u32(r, &m->u.join.flags, UINT32_MAX);
  case PZ_BUS_LEAVE:
    return n >= 6 && rd_room(r, &m->room) && rd_id(r, &m->u.leave.id) &&
           rd_u32(r, &m->u.leave.flags, UINT32_MAX);
  case PZ_BUS_CHAT:
    return n >= 9 && rd_room(r, &m->room) && rd_uint(r, &m->u.chat.seq) &&
           rd_id(r, &m->u.chat.id) &&
           rd_text(r, &m->u.chat.name, PZ_NAME_MAX) &&
           rd_text(r, &m->u.chat.text, PZ_CHAT_TEXT_MAX) &&
           rd_uint(r, &m->u.chat.ts_ms);
  case PZ_BUS_DELIVER:
    if (n < 11 || !rd_uint(r, &u) || u > 3)
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
    m->u.deliver.reply_node = m->u.deliver.reply_worker = 0;
    m->u.deliver.reply_req = 0;
    if (n < 14)
      return true;
    return rd_u32(r, &m->u.deliver.reply_node, UINT32_MAX) &&
           rd_u32(r, &m->u.deliver.reply_worker, 1u << 16) &&
           rd_uint(r, &m->u.deliver.reply_req);
  case PZ_BUS_PROBE:
    return n >= 5 && rd_u32(r, &m->u.probe.worker, 1u << 16) &&
           rd_uint(r, &m->u.probe.nonce);
  case PZ_BUS_TAKE:
    return n >= 6 && rd_id(r, &m->u.take.id) &&
           rd_u32(r, &m->u.take.node, 0x7fff) &&
           rd_u32(r, &m->u.take.worker, 1u << 16);
  case PZ_BUS_SESSION:
    return n >= 15 && rd_id(r, &m->u.session.id) &&
           rd_str(r, &m->u.session.token, PZ_SESSION_TOKEN_MAX) &&
           rd_text(r, &m->u.session.name, PZ_NAME_MAX) &&
           rd_room(r, &m->room) && rd_pos(r, &m->u.session.pos) &&
           rd_uint(r, &m->u.session.seq) && rd_bool(r, &m->u.session.has_seq) &&
           rd_bool(r, &m->u.session.placed) &&
           rd_uint(r, &m->u.session.chat_seq) &&
           (n < 16 || rd_str(r, &m->u.session.sub, PZ_BUS_SUB_MAX));
  }
  return false;
}

int pz_busmsg_decode(const uint8_t *data, size_t len, pz_busmsg_t *out) {
  rd_t r = {data, data + len};
  uint32_t n, version, type;
  memset(out, 0, sizeof(*out));
  if (!rd_array(&r, &n) || n < 3 || !rd_u32(&r, &version, UINT32_MAX) ||
      version != PZ_BUS_VERSION || !rd_u32(&r, &out->node, 0x7fff) ||
      !rd_u32(&r, &type, PZ_BUS_TYPE_MAX) || type == 0)
    return PZ_EPROTO;
  out->type = (int)type;
  static const uint8_t counts[] = {0, 5, 11, 6, 9, 11, 5, 6, 15};
  if (n < counts[type] || !body(&r, out, n))
    return PZ_EPROTO;
  uint32_t known = counts[type] + (type == PZ_BUS_SESSION && n >= 16) +
                   (type == PZ_BUS_DELIVER && n >= 14 ? 3 : 0);
  for (uint32_t i = known; i < n; i++) /* newer fields */
    if (!rd_skip(&r, 1))
      return PZ_EPROTO;
  return r.p == r.end ? 0 : PZ_EPROTO;
}

bool pz_busmsg_state_next(pz_bus_state_it_t *it, pz_state_entry_t *e) {
  if (it->left == 0)
    return false;
  rd_t r = {it->p, it->end};
  uint32_t n;
  if (!rd_array(&r, &n) || n < 6 || !rd_id(&r, &e->id) ||
      !rd_uint(&r, &e->seq) || !rd_pos(&r, &e->pos))
    return false;
  for (uint32_t i = 6; i < n; i++)
    if (!rd_skip(&r, 1))
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
                    const pz_member_t *m, uint32_t flags) {
  head(pk, 11, node, PZ_BUS_JOIN);
  str(pk, room);
  msgpack_pack_uint64(pk, m->id);
  str(pk, m->name);
  pos(pk, &m->pos);
  msgpack_pack_uint32(pk, flags);
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

void pz_busmsg_deliver(msgpack_packer *pk, uint32_t node, int kind, uint64_t to,
                       uint64_t from, pz_str_t name, pz_str_t text,
                       uint64_t ts_ms, int code, int op, uint32_t reply_node,
                       uint32_t reply_worker, uint64_t reply_req) {
  head(pk, 14, node, PZ_BUS_DELIVER);
  msgpack_pack_uint32(pk, (uint32_t)kind);
  msgpack_pack_uint64(pk, to);
  msgpack_pack_uint64(pk, from);
  str(pk, name);
  str(pk, text);
  msgpack_pack_uint64(pk, ts_ms);
  msgpack_pack_uint32(pk, (uint32_t)code);
  msgpack_pack_uint32(pk, (uint32_t)op);
  msgpack_pack_uint32(pk, reply_node);
  msgpack_pack_uint32(pk, reply_worker);
  msgpack_pack_uint64(pk, reply_req);
}

void pz_busmsg_probe(msgpack_packer *pk, uint32_t node, uint32_t worker,
                     uint64_t nonce) {
  head(pk, 5, node, PZ_BUS_PROBE);
  msgpack_pack_uint32(pk, worker);
  msgpack_pack_uint64(pk, nonce);
}

void pz_busmsg_take(msgpack_packer *pk, uint32_t node, uint64_t id,
                    uint32_t to_node, uint32_t to_worker) {
  head(pk, 6, node, PZ_BUS_TAKE);
  msgpack_pack_uint64(pk, id);
  msgpack_pack_uint32(pk, to_node);
  msgpack_pack_uint32(pk, to_worker);
}

void pz_busmsg_session(msgpack_packer *pk, uint32_t node, uint64_t id,
                       pz_str_t token, pz_str_t name, pz_str_t room,
                       const pz_pos_t *p, uint64_t seq, bool has_seq,
                       bool placed, uint64_t chat_seq, pz_str_t sub) {
  head(pk, 16, node, PZ_BUS_SESSION);
  msgpack_pack_uint64(pk, id);
  str(pk, token);
  str(pk, name);
  str(pk, room);
  pos(pk, p);
  msgpack_pack_uint64(pk, seq);
  if (has_seq)
    msgpack_pack_true(pk);
  else
    msgpack_pack_false(pk);
  if (placed)
    msgpack_pack_true(pk);
  else
    msgpack_pack_false(pk);
  msgpack_pack_uint64(pk, chat_seq);
  str(pk, sub);
}
