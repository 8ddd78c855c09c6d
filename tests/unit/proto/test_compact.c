/*
 * Unit tests of VIEW, AWAY and STATE_C in the codec (src/proto/compact.c,
 * the encoders and decoders). STATE_C is checked against a reference
 * decoder written here from docs/protocol.md ("Compact positions") alone,
 * on long random walks of many members (walking, turning, jumping, raw
 * values, seq jumps), with the table reset at a ROOM, so that the codec's
 * own reader and the documented layout agree byte for byte; the sizes the
 * docs promise (a walker's delta in 6 bytes or less); and every refusal
 * (truncation at each length, reserved bits, a delta with no baseline,
 * trailing bytes, a count that does not match, an idx past the limit).
 * VIEW: options both ways and every bad option as ERROR 6. Decoders read
 * exact-size heap copies so ASan sees any over-read.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pack_fmt.h"
#include "plaza/codec.h"

typedef struct fx {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_zone zone;
  char *copy;
  size_t len;
} fx_t;

static int fx_setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  msgpack_sbuffer_init(&f->sb);
  msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
  if (!msgpack_zone_init(&f->zone, 1024))
    return -1;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx_t *f = *state;
  msgpack_sbuffer_destroy(&f->sb);
  msgpack_zone_destroy(&f->zone);
  free(f->copy);
  free(f);
  return 0;
}

static msgpack_packer *fx_pk(fx_t *f) {
  msgpack_sbuffer_clear(&f->sb);
  msgpack_zone_clear(&f->zone);
  return &f->pk;
}

static void take(fx_t *f) {
  free(f->copy);
  f->len = f->sb.size;
  f->copy = malloc(f->len ? f->len : 1);
  assert_non_null(f->copy);
  memcpy(f->copy, f->sb.data, f->len);
}

static int dec_s(fx_t *f, pz_smsg_t *m) {
  take(f);
  memset(m, 0x5a, sizeof *m);
  return pz_decode_server(f->copy, f->len, &f->zone, m);
}

static int dec_c(fx_t *f, pz_cmsg_t *m, pz_decode_error_t *e) {
  take(f);
  return pz_decode_client(f->copy, f->len, &f->zone, m, e);
}

/* ---- a reference decoder, from docs/protocol.md only -------------------- */

typedef struct ref_slot {
  int used, quantised;
  uint64_t id, seq;
  int64_t q[4];
} ref_slot_t;

typedef struct ref_tab {
  ref_slot_t slot[4096];
} ref_tab_t;

typedef struct ref_rd {
  const unsigned char *p;
  size_t n, i;
  int bad;
} ref_rd_t;

static unsigned ref_byte(ref_rd_t *r) {
  if (r->i >= r->n) {
    r->bad = 1;
    return 0;
  }
  return r->p[r->i++];
}

/* "LEB128: 7 bits a byte, least significant group first, the high bit of
 * a byte set when another follows." */
static uint64_t ref_varint(ref_rd_t *r) {
  uint64_t v = 0;
  for (int k = 0; k < 10; k++) {
    unsigned b = ref_byte(r);
    v |= (uint64_t)(b & 0x7f) << (7 * k);
    if (!(b & 0x80))
      return v;
  }
  r->bad = 1;
  return 0;
}

/* "zigzag: 0, -1, 1, -2 ... are 0, 1, 2, 3 ..." */
static int64_t ref_signed(ref_rd_t *r) {
  uint64_t u = ref_varint(r);
  return (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

static float ref_f32(ref_rd_t *r) {
  unsigned char b[4];
  for (int k = 0; k < 4; k++)
    b[k] = (unsigned char)ref_byte(r);
  uint32_t u =
      (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  float x;
  memcpy(&x, &u, 4);
  return x;
}

/* Decodes n entries of `bytes` into out; 0, or -1 for what a client must
 * refuse. */
static int ref_decode(ref_tab_t *t, const void *bytes, size_t len, size_t n,
                      pz_state_entry_t *out) {
  ref_rd_t r = {bytes, len, 0, 0};
  for (size_t k = 0; k < n; k++) {
    unsigned head = ref_byte(&r);
    uint64_t idx = ref_varint(&r);
    if (r.bad || idx >= 4096)
      return -1;
    ref_slot_t *s = &t->slot[idx];
    pz_state_entry_t *e = &out[k];
    if (head & 0x80) { /* a full entry */
      if (head & 0x3f)
        return -1;
      s->used = 1;
      s->id = ref_varint(&r);
      s->seq = ref_varint(&r);
      if (head & 0x40) { /* raw */
        s->quantised = 0;
        e->pos.x = ref_f32(&r);
        e->pos.y = ref_f32(&r);
        e->pos.z = ref_f32(&r);
        e->pos.yaw = ref_f32(&r);
      } else {
        s->quantised = 1;
        for (int a = 0; a < 4; a++)
          s->q[a] = ref_signed(&r);
      }
    } else { /* a delta */
      if ((head & 1) || !s->used || !s->quantised)
        return -1;
      s->seq += (head & 0x40) ? (uint64_t)ref_signed(&r) : 1;
      static const unsigned bit[4] = {0x20, 0x10, 0x08, 0x04};
      for (int a = 0; a < 4; a++) {
        if (!(head & bit[a]))
          continue;
        if (head & 0x02) {
          unsigned hi = ref_byte(&r), lo = ref_byte(&r);
          s->q[a] += (int16_t)(hi << 8 | lo);
        } else {
          s->q[a] += (int8_t)ref_byte(&r);
        }
      }
    }
    if (r.bad)
      return -1;
    e->id = s->id;
    e->seq = s->seq;
    if (s->quantised) {
      e->pos.x = (float)(s->q[0] / 64.0);
      e->pos.y = (float)(s->q[1] / 64.0);
      e->pos.z = (float)(s->q[2] / 64.0);
      e->pos.yaw = (float)(s->q[3] / 256.0);
    }
  }
  return r.i == len ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------ */

/* Packs [14, tick, n, entries] around the bytes. */
static void pack_state_c(fx_t *f, uint64_t tick, size_t n, const uint8_t *b,
                         size_t len) {
  msgpack_packer *pk = fx_pk(f);
  pz_enc_state_c_begin(pk, tick, n, len);
  msgpack_pack_bin_body(pk, b, len);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double unit(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

/* ---- STATE_C ------------------------------------------------------------ */

static void test_quantise_precision(void **state) {
  (void)state;
  for (int k = 0; k < 100000; k++) {
    pz_pos_t p = {(float)((unit() - 0.5) * 20000), (float)((unit() - 0.5) * 50),
                  (float)((unit() - 0.5) * 20000),
                  (float)((unit() - 0.5) * 12.6)};
    pz_compact_q_t q;
    assert_true(pz_compact_quantize(&p, 7, &q));
    pz_pos_t back = pz_compact_position(&q);
    /* at least 1/64 unit (half of it, rounding), yaw 1/256 (0.22 deg) */
    assert_true(fabs(back.x - p.x) <= 1.0 / 128 + 1e-3);
    assert_true(fabs(back.z - p.z) <= 1.0 / 128 + 1e-3);
    assert_true(fabs(back.y - p.y) <= 1.0 / 128 + 1e-6);
    assert_true(fabs(back.yaw - p.yaw) <= 1.0 / 512 + 1e-6);
    assert_true(fabs(back.yaw - p.yaw) * 180 / M_PI < 1.0);
  }
  /* out of 32 bits: no quantised form */
  pz_pos_t far = {1e9f, 0, 0, 0}, spin = {0, 0, 0, 1e8f};
  pz_compact_q_t q;
  assert_false(pz_compact_quantize(&far, 1, &q));
  assert_false(pz_compact_quantize(&spin, 1, &q));
}

/* The bytes the docs' worked example shows. */
static void test_layout_of_the_docs_example(void **state) {
  (void)state;
  uint8_t b[PZ_COMPACT_ENTRY_MAX];
  pz_pos_t p = {10.5f, 0, -2.25f, 1.5f};
  bool raw = true;
  size_t n = pz_compact_put_full(b, 300, 1234, 7, &p, &raw);
  /* head 0x80; idx 300 = ac 02; id 1234 = d2 09; seq 7; x 672 -> zigzag
   * 1344 = c0 0a; y 0; z -144 -> 287 = 9f 02; yaw 384 -> 768 = 80 06 */
  const uint8_t want[] = {0x80, 0xac, 0x02, 0xd2, 0x09, 0x07, 0xc0,
                          0x0a, 0x00, 0x9f, 0x02, 0x80, 0x06};
  assert_false(raw);
  assert_int_equal(n, sizeof want);
  assert_memory_equal(b, want, sizeof want);
  /* a step: seq 8, x +0.75 (48), z -0.5 (-32), yaw -0.0390625 (-10) */
  pz_compact_q_t from, to;
  pz_pos_t p2 = {11.25f, 0, -2.75f, 1.4609375f};
  assert_true(pz_compact_quantize(&p, 7, &from));
  assert_true(pz_compact_quantize(&p2, 8, &to));
  n = pz_compact_put_delta(b, 300, &from, &to);
  const uint8_t step[] = {0x2c, 0xac, 0x02, 0x30, 0xe0, 0xf6};
  assert_int_equal(n, sizeof step);
  assert_memory_equal(b, step, sizeof step);
}

static void test_walker_delta_is_small(void **state) {
  (void)state;
  uint8_t b[PZ_COMPACT_ENTRY_MAX];
  /* 40 units/s at 30 Hz, turning: at most 6 bytes with a 2-byte idx */
  for (int k = 0; k < 10000; k++) {
    double h = unit() * 6.28, v = 40.0 / 30;
    pz_pos_t a = {(float)((unit() - 0.5) * 400), 0,
                  (float)((unit() - 0.5) * 400), (float)(h - 3.14)};
    pz_pos_t c = {a.x + (float)(v * cos(h)), 0, a.z + (float)(v * sin(h)),
                  a.yaw + 0.05f};
    pz_compact_q_t from, to;
    assert_true(pz_compact_quantize(&a, 100, &from));
    assert_true(pz_compact_quantize(&c, 101, &to));
    size_t n = pz_compact_put_delta(b, 999, &from, &to);
    assert_true(n >= 2 && n <= 6);
  }
  /* too far for 16 bits: no delta */
  pz_compact_q_t from = {1, {0, 0, 0, 0}}, to = {2, {40000, 0, 0, 0}};
  assert_int_equal(pz_compact_put_delta(b, 1, &from, &to), 0);
}

typedef struct mem {
  uint64_t id, seq;
  pz_pos_t pos;
  pz_compact_q_t base;
  bool based, known;
} mem_t;

/* Random members walk, jump, spin and come and go for many ticks; each
 * tick's entries are written the way the server writes them (delta when
 * the member has a quantised baseline and the delta fits, else full) and
 * read by the codec and the reference decoder alike. */
static void test_random_walks_roundtrip(void **state) {
  fx_t *f = *state;
  enum { N = 300, TICKS = 400 };
  static mem_t m[N];
  static uint8_t bytes[N * PZ_COMPACT_ENTRY_MAX];
  static pz_state_entry_t ref_out[N];
  static ref_tab_t ref;
  memset(m, 0, sizeof m);
  memset(&ref, 0, sizeof ref);
  pz_compact_t t;
  pz_compact_init(&t);
  for (int i = 0; i < N; i++) {
    m[i].id = (1ull << 52) + (uint64_t)i * 7919;
    m[i].pos = (pz_pos_t){(float)((unit() - 0.5) * 400), 0,
                          (float)((unit() - 0.5) * 400), 0};
  }
  for (int tick = 1; tick <= TICKS; tick++) {
    if (tick == TICKS / 2) { /* a ROOM: both tables start over */
      pz_compact_reset(&t);
      memset(&ref, 0, sizeof ref);
      for (int i = 0; i < N; i++)
        m[i].known = false;
    }
    size_t len = 0, n = 0;
    uint32_t who[N];
    for (int i = 0; i < N; i++) {
      double u = unit();
      if (u < 0.3 && m[i].known)
        continue; /* did not move */
      mem_t *x = &m[i];
      x->seq += u < 0.95 ? 1 : 1 + (uint64_t)(unit() * 1000);
      if (u < 0.9) {
        x->pos.x += (float)((unit() - 0.5) * 2.6);
        x->pos.z += (float)((unit() - 0.5) * 2.6);
        x->pos.yaw += (float)((unit() - 0.5) * 0.2);
      } else if (u < 0.97) { /* a jump */
        x->pos.x = (float)((unit() - 0.5) * 19000);
        x->pos.y = (float)((unit() - 0.5) * 100);
      } else if (u < 0.99) { /* a yaw no 32 bits hold: raw */
        x->pos.yaw = 3e7f;
      } else {
        x->pos.yaw = 0;
      }
      pz_compact_q_t now;
      size_t k = 0;
      bool q = pz_compact_quantize(&x->pos, x->seq, &now);
      if (x->known && x->based && q)
        k = pz_compact_put_delta(bytes + len, (uint32_t)i, &x->base, &now);
      if (k == 0)
        k = pz_compact_put_full(bytes + len, (uint32_t)i, x->id, x->seq,
                                &x->pos, NULL);
      len += k;
      x->known = true;
      x->based = q;
      x->base = now;
      who[n++] = (uint32_t)i;
    }
    pack_state_c(f, (uint64_t)tick, n, bytes, len);
    pz_smsg_t msg;
    assert_int_equal(dec_s(f, &msg), 0);
    assert_int_equal(msg.op, PZ_S_STATE_C);
    assert_int_equal(msg.u.state.tick, tick);
    assert_int_equal(msg.u.state.n, n);
    assert_null(msg.u.state.entries);
    assert_int_equal(pz_compact_decode(&t, &msg, &f->zone), 0);
    assert_int_equal(ref_decode(&ref, msg.u.state.compact.ptr,
                                msg.u.state.compact.len, n, ref_out),
                     0);
    for (size_t k = 0; k < n; k++) {
      const mem_t *x = &m[who[k]];
      const pz_state_entry_t *e = &msg.u.state.entries[k];
      assert_int_equal(e->id, x->id);
      assert_int_equal(e->seq, x->seq);
      assert_int_equal(ref_out[k].id, x->id);
      assert_int_equal(ref_out[k].seq, x->seq);
      /* the two decoders agree exactly, and both with the position */
      assert_memory_equal(&ref_out[k].pos, &e->pos, sizeof e->pos);
      assert_true(fabs(e->pos.x - x->pos.x) <= 1.0 / 128 + 1e-3);
      assert_true(fabs(e->pos.y - x->pos.y) <= 1.0 / 128 + 1e-3);
      assert_true(fabs(e->pos.z - x->pos.z) <= 1.0 / 128 + 1e-3);
      assert_true(fabs(e->pos.yaw - x->pos.yaw) <= 1.0 / 512 + 1e-3);
    }
  }
  pz_compact_dispose(&t);
}

static void test_refusals(void **state) {
  fx_t *f = *state;
  pz_compact_t t;
  pz_compact_init(&t);
  pz_smsg_t m;
  uint8_t b[3 * PZ_COMPACT_ENTRY_MAX];
  pz_pos_t p = {1, 2, 3, 0.5f};
  size_t len = pz_compact_put_full(b, 5, 77, 1, &p, NULL);
  pz_compact_q_t from, to;
  pz_pos_t p2 = {1.5f, 2, 3, 0.5f};
  assert_true(pz_compact_quantize(&p, 1, &from));
  assert_true(pz_compact_quantize(&p2, 2, &to));
  size_t d = pz_compact_put_delta(b + len, 5, &from, &to);
  assert_true(d > 0);

  /* Whole: fine. Cut anywhere: refused. */
  pack_state_c(f, 1, 2, b, len + d);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), 0);
  assert_float_equal(m.u.state.entries[1].pos.x, 1.5, 0);
  assert_int_equal(m.u.state.entries[1].seq, 2);
  for (size_t cut = 0; cut < len + d; cut++) {
    pz_compact_reset(&t);
    pack_state_c(f, 1, 2, b, cut);
    if (dec_s(f, &m) == 0)
      assert_int_equal(pz_compact_decode(&t, &m, &f->zone), -1);
  }
  /* Bytes after the entries, or fewer entries than bytes. */
  pz_compact_reset(&t);
  pack_state_c(f, 1, 1, b, len + d);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), -1);
  /* A delta with no full entry before it (a new table: a ROOM). */
  pz_compact_reset(&t);
  pack_state_c(f, 2, 1, b + len, d);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), -1);
  /* A delta after a raw full entry: no baseline. */
  pz_pos_t spin = {0, 0, 0, 1e9f};
  bool raw = false;
  size_t rl = pz_compact_put_full(b, 5, 77, 1, &spin, &raw);
  assert_true(raw);
  memcpy(b + rl, b + len, d);
  pz_compact_reset(&t);
  pack_state_c(f, 3, 2, b, rl + d);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), -1);
  /* Reserved bits. */
  len = pz_compact_put_full(b, 5, 77, 1, &p, NULL);
  b[0] |= 0x01;
  pack_state_c(f, 4, 1, b, len);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), -1);
  /* An idx past PZ_COMPACT_IDX_MAX. */
  len = pz_compact_put_full(b, PZ_COMPACT_IDX_MAX, 77, 1, &p, NULL);
  pack_state_c(f, 5, 1, b, len);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), -1);
  /* The frame: a count beyond what the bytes can hold, entries not a bin. */
  pack(fx_pk(f), "a u u u b", 4, 14, 1, 9, "ab");
  assert_int_equal(dec_s(f, &m), -1);
  pack(fx_pk(f), "a u u u s", 4, 14, 1, 0, "");
  assert_int_equal(dec_s(f, &m), -1);
  pack(fx_pk(f), "a u u u", 3, 14, 1, 0);
  assert_int_equal(dec_s(f, &m), -1);
  /* An empty STATE_C is well formed. */
  pack_state_c(f, 6, 0, b, 0);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(pz_compact_decode(&t, &m, &f->zone), 0);
  assert_int_equal(m.u.state.n, 0);
  pz_compact_dispose(&t);
}

/* ---- AWAY and VIEW ------------------------------------------------------ */

static void test_away_roundtrip(void **state) {
  fx_t *f = *state;
  pz_smsg_t m;
  uint64_t ids[3] = {1, (1ull << 53) - 1, 300};
  pz_enc_away(fx_pk(f), ids, 3);
  assert_int_equal(dec_s(f, &m), 0);
  assert_int_equal(m.op, PZ_S_AWAY);
  assert_int_equal(m.u.away.n, 3);
  assert_memory_equal(m.u.away.ids, ids, sizeof ids);
  pack(fx_pk(f), "a u a s", 2, 13, 1, "x");
  assert_int_equal(dec_s(f, &m), -1);
  pack(fx_pk(f), "a u u", 2, 13, 1);
  assert_int_equal(dec_s(f, &m), -1);
}

static void test_view_roundtrip(void **state) {
  fx_t *f = *state;
  pz_cmsg_t m;
  pz_decode_error_t e;
  pz_enc_view(fx_pk(f), 40, true);
  assert_int_equal(dec_c(f, &m, &e), 0);
  assert_int_equal(m.op, PZ_C_VIEW);
  assert_float_equal(m.u.view.radius, 40, 0);
  assert_true(m.u.view.compact);
  /* absent options are the defaults; integers are numbers */
  pack(fx_pk(f), "a u m", 2, 11, 0);
  assert_int_equal(dec_c(f, &m, &e), 0);
  assert_float_equal(m.u.view.radius, 0, 0);
  assert_false(m.u.view.compact);
  pack(fx_pk(f), "a u m s u", 2, 11, 1, "radius", 25);
  assert_int_equal(dec_c(f, &m, &e), 0);
  assert_float_equal(m.u.view.radius, 25, 0);
}

#define VIEW_BAD(f, msg_, ...)                                                 \
  do {                                                                         \
    pz_cmsg_t m_;                                                              \
    pz_decode_error_t e_;                                                      \
    pack(fx_pk(f), __VA_ARGS__);                                               \
    assert_int_equal(dec_c(f, &m_, &e_), -1);                                  \
    assert_int_equal(e_.code, PZ_ERR_INVALID_ARGUMENT);                        \
    assert_int_equal(e_.op, PZ_C_VIEW);                                        \
    assert_string_equal(e_.message, msg_);                                     \
  } while (0)

static void test_view_bad_options(void **state) {
  fx_t *f = *state;
  const char *r = "VIEW radius must be a finite number >= 0";
  VIEW_BAD(f, r, "a u m s i", 2, 11, 1, "radius", -1);
  VIEW_BAD(f, r, "a u m s d", 2, 11, 1, "radius", -0.5);
  VIEW_BAD(f, r, "a u m s d", 2, 11, 1, "radius", (double)NAN);
  VIEW_BAD(f, r, "a u m s d", 2, 11, 1, "radius", (double)INFINITY);
  VIEW_BAD(f, r, "a u m s s", 2, 11, 1, "radius", "40");
  VIEW_BAD(f, r, "a u m s n", 2, 11, 1, "radius", "40");
  VIEW_BAD(f, "VIEW compact must be true or false", "a u m s u", 2, 11, 1,
           "compact", 1);
  VIEW_BAD(f, "unknown VIEW option (radius, compact)", "a u m s u", 2, 11, 1,
           "radios", 4);
  VIEW_BAD(f, "VIEW option names must be strings", "a u m u u", 2, 11, 1, 1, 4);
  VIEW_BAD(f, "VIEW options must be a map", "a u a", 2, 11, 0);
  VIEW_BAD(f, "VIEW options must be a map", "a u n", 2, 11);
  VIEW_BAD(f, "VIEW options must be a map", "a u", 1, 11);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(test_quantise_precision),
      T(test_layout_of_the_docs_example),
      T(test_walker_delta_is_small),
      T(test_random_walks_roundtrip),
      T(test_refusals),
      T(test_away_roundtrip),
      T(test_view_roundtrip),
      T(test_view_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
