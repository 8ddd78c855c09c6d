/*
 * Compact positions: the entries of STATE_C (docs/protocol.md, "Compact
 * positions"), written by the server and read back by clients.
 *
 * Design: a member's entry is either full (its short id bound to its id,
 * its seq and position, absolute) or a delta against the member's
 * previous entry. The server encodes each member's entry once per tick
 * for every client that views it, so a delta is taken against what every
 * such client holds: the member's last entry, which each of them received
 * (a client that missed one is sent full entries instead, and one that
 * starts viewing a member gets a full one). Deltas of a walking avatar fit
 * in a byte per coordinate, which is how an entry comes to ~6 bytes
 * against ~31 for a STATE entry.
 *
 * Layout of an entry (all multi-byte fixed-width fields big-endian, as in
 * MessagePack; varints are LEB128, zigzag for signed values):
 *
 *   head u8, idx varint, then
 *   full  (head bit 7):  id varint, seq varint, then x y z yaw: zigzag
 *                        varints of the quantised values, or (head bit 6,
 *                        raw) four float32
 *   delta (bit 7 clear): [seq delta zigzag varint, if bit 6; else +1]
 *                        then dx dy dz dyaw each if its bit (5 4 3 2) is
 *                        set, int8, or int16 when bit 1 is set; bit 0 is 0
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"

#define H_FULL 0x80
#define H_RAW 0x40 /* full */
#define H_SEQ 0x40 /* delta */
#define H_X 0x20
#define H_Y 0x10
#define H_Z 0x08
#define H_YAW 0x04
#define H_WIDE 0x02

static const uint8_t axis_bit[4] = {H_X, H_Y, H_Z, H_YAW};

/* ---- varints ---------------------------------------------------------- */

static size_t put_uvar(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

static uint64_t zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t u) {
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* A reader over the entries' bytes: any read past the end sets bad. */
typedef struct rd {
  const uint8_t *p, *end;
  bool bad;
} rd_t;

static uint8_t get_u8(rd_t *r) {
  if (r->p >= r->end) {
    r->bad = true;
    return 0;
  }
  return *r->p++;
}

static uint64_t get_uvar(rd_t *r) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    uint8_t b = get_u8(r);
    if (r->bad)
      return 0;
    /* The tenth byte may carry only the top bit of a 64-bit value. */
    if (shift == 63 && b > 1)
      break;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  r->bad = true;
  return 0;
}

/* ---- quantising ------------------------------------------------------- */

static bool quant(float f, double scale, int32_t *out) {
  double q = nearbyint((double)f * scale);
  if (!(q >= (double)INT32_MIN && q <= (double)INT32_MAX))
    return false;
  *out = (int32_t)q;
  return true;
}

bool pz_compact_quantize(const pz_pos_t *pos, uint64_t seq, pz_compact_q_t *q) {
  q->seq = seq;
  return quant(pos->x, PZ_COMPACT_POS_SCALE, &q->v[0]) &&
         quant(pos->y, PZ_COMPACT_POS_SCALE, &q->v[1]) &&
         quant(pos->z, PZ_COMPACT_POS_SCALE, &q->v[2]) &&
         quant(pos->yaw, PZ_COMPACT_YAW_SCALE, &q->v[3]);
}

pz_pos_t pz_compact_position(const pz_compact_q_t *q) {
  return (pz_pos_t){(float)((double)q->v[0] / PZ_COMPACT_POS_SCALE),
                    (float)((double)q->v[1] / PZ_COMPACT_POS_SCALE),
                    (float)((double)q->v[2] / PZ_COMPACT_POS_SCALE),
                    (float)((double)q->v[3] / PZ_COMPACT_YAW_SCALE)};
}

/* ---- writing ---------------------------------------------------------- */

static size_t put_f32(uint8_t *out, float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  out[0] = (uint8_t)(u >> 24);
  out[1] = (uint8_t)(u >> 16);
  out[2] = (uint8_t)(u >> 8);
  out[3] = (uint8_t)u;
  return 4;
}

size_t pz_compact_put_full(uint8_t *out, uint32_t idx, uint64_t id,
                           uint64_t seq, const pz_pos_t *pos, bool *raw) {
  pz_compact_q_t q;
  bool quantised = pz_compact_quantize(pos, seq, &q);
  size_t n = 1;
  out[0] = H_FULL | (quantised ? 0 : H_RAW);
  n += put_uvar(out + n, idx);
  n += put_uvar(out + n, id);
  n += put_uvar(out + n, seq);
  if (quantised) {
    for (int i = 0; i < 4; i++)
      n += put_uvar(out + n, zigzag(q.v[i]));
  } else {
    n += put_f32(out + n, pos->x);
    n += put_f32(out + n, pos->y);
    n += put_f32(out + n, pos->z);
    n += put_f32(out + n, pos->yaw);
  }
  if (raw)
    *raw = !quantised;
  return n;
}

size_t pz_compact_put_delta(uint8_t *out, uint32_t idx,
                            const pz_compact_q_t *from,
                            const pz_compact_q_t *to) {
  int64_t d[4];
  uint8_t head = 0;
  bool wide = false;
  for (int i = 0; i < 4; i++) {
    d[i] = (int64_t)to->v[i] - from->v[i];
    if (d[i] < INT16_MIN || d[i] > INT16_MAX)
      return 0;
    if (d[i] != 0)
      head |= axis_bit[i];
    if (d[i] < INT8_MIN || d[i] > INT8_MAX)
      wide = true;
  }
  /* seq moves on by one in the common case: a walker's one MOVE a tick */
  bool plus_one = to->seq == from->seq + 1;
  if (!plus_one)
    head |= H_SEQ;
  if (wide)
    head |= H_WIDE;
  size_t n = 1;
  out[0] = head;
  n += put_uvar(out + n, idx);
  if (!plus_one)
    n += put_uvar(out + n, zigzag((int64_t)(to->seq - from->seq)));
  for (int i = 0; i < 4; i++) {
    if (!(head & axis_bit[i]))
      continue;
    if (wide) {
      uint16_t u = (uint16_t)(int16_t)d[i];
      out[n++] = (uint8_t)(u >> 8);
      out[n++] = (uint8_t)u;
    } else {
      out[n++] = (uint8_t)(int8_t)d[i];
    }
  }
  return n;
}

/* ---- reading ---------------------------------------------------------- */

void pz_compact_init(pz_compact_t *t) {
  t->slots = NULL;
  t->cap = 0;
}

void pz_compact_reset(pz_compact_t *t) {
  if (t->slots)
    memset(t->slots, 0, t->cap * sizeof(*t->slots));
}

void pz_compact_dispose(pz_compact_t *t) {
  free(t->slots);
  pz_compact_init(t);
}

/* The slot of idx, the table grown to hold it; NULL past the limit or
 * when memory runs out. */
static pz_compact_slot_t *slot_at(pz_compact_t *t, uint64_t idx) {
  if (idx >= PZ_COMPACT_IDX_MAX)
    return NULL;
  if (idx >= t->cap) {
    uint32_t cap = t->cap ? t->cap : 64;
    while (cap <= idx)
      cap *= 2;
    pz_compact_slot_t *s = realloc(t->slots, cap * sizeof(*s));
    if (s == NULL)
      return NULL;
    memset(s + t->cap, 0, (cap - t->cap) * sizeof(*s));
    t->slots = s;
    t->cap = cap;
  }
  return &t->slots[idx];
}

static float get_f32(rd_t *r) {
  uint32_t u = 0;
  for (int i = 0; i < 4; i++)
    u = u << 8 | get_u8(r);
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

/* One entry into *e; false when the bytes are not an entry this table can
 * apply. */
static bool read_entry(pz_compact_t *t, rd_t *r, pz_state_entry_t *e) {
  uint8_t head = get_u8(r);
  uint64_t idx = get_uvar(r);
  if (r->bad)
    return false;
  pz_compact_slot_t *s = slot_at(t, idx);
  if (s == NULL)
    return false;
  if (head & H_FULL) {
    if (head & 0x3f)
      return false; /* reserved bits */
    s->id = get_uvar(r);
    s->q.seq = get_uvar(r);
    if (head & H_RAW) {
      e->pos.x = get_f32(r);
      e->pos.y = get_f32(r);
      e->pos.z = get_f32(r);
      e->pos.yaw = get_f32(r);
      s->based = false;
    } else {
      for (int i = 0; i < 4; i++) {
        int64_t v = unzigzag(get_uvar(r));
        if (v < INT32_MIN || v > INT32_MAX)
          return false;
        s->q.v[i] = (int32_t)v;
      }
      e->pos = pz_compact_position(&s->q);
      s->based = true;
    }
    if (r->bad || s->id > PZ_ID_MAX)
      return false;
    s->bound = true;
  } else {
    if ((head & 0x01) || !s->based)
      return false;
    uint64_t dseq = 1;
    if (head & H_SEQ)
      dseq = (uint64_t)unzigzag(get_uvar(r));
    s->q.seq += dseq;
    for (int i = 0; i < 4; i++) {
      if (!(head & axis_bit[i]))
        continue;
      int64_t d;
      if (head & H_WIDE) {
        uint8_t hi = get_u8(r), lo = get_u8(r);
        d = (int16_t)(uint16_t)(hi << 8 | lo);
      } else {
        d = (int8_t)get_u8(r);
      }
      int64_t v = (int64_t)s->q.v[i] + d;
      if (v < INT32_MIN || v > INT32_MAX)
        return false;
      s->q.v[i] = (int32_t)v;
    }
    if (r->bad)
      return false;
    e->pos = pz_compact_position(&s->q);
  }
  e->id = s->id;
  e->seq = s->q.seq;
  return true;
}

int pz_compact_decode(pz_compact_t *t, pz_smsg_t *m, msgpack_zone *zone) {
  if (m->op != PZ_S_STATE_C || m->u.state.compact.ptr == NULL)
    return -1;
  size_t n = m->u.state.n;
  pz_raw_t b = m->u.state.compact;
  /* Every entry takes at least two bytes: n is bounded by the message. */
  if (n > b.len / 2)
    return -1;
  pz_state_entry_t *es = NULL;
  if (n > 0 && (es = msgpack_zone_malloc(zone, n * sizeof(*es))) == NULL)
    return -1;
  rd_t r = {(const uint8_t *)b.ptr, (const uint8_t *)b.ptr + b.len, false};
  for (size_t i = 0; i < n; i++)
    if (!read_entry(t, &r, &es[i]))
      return -1;
  if (r.p != r.end)
    return -1; /* bytes past the n entries */
  m->u.state.entries = es;
  return 0;
}
