/*
 * Unit tests of the bench's WebSocket frame parser and builder
 * (bench/wsf.c): a stream of frames of every length class fed in every
 * chunk size down to one byte gives the same frames and payload; refusals
 * of masked, reserved-bit, unknown and bad control frames; the builder's
 * frames unmask to the payload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../bench/wsf.c"

typedef struct rec {
  int n_frames;
  int opcodes[16];
  bool fins[16];
  uint64_t lens[16];
  uint8_t data[300000];
  size_t data_len;
  int lasts;
  int stop_after; /* frames; 0: never */
} rec_t;

static int on_frame(void *u, int opcode, bool fin, uint64_t len) {
  rec_t *r = u;
  r->opcodes[r->n_frames] = opcode;
  r->fins[r->n_frames] = fin;
  r->lens[r->n_frames] = len;
  r->n_frames++;
  return 0;
}

static int on_data(void *u, const uint8_t *p, size_t n, bool last) {
  rec_t *r = u;
  if (n)
    memcpy(r->data + r->data_len, p, n);
  r->data_len += n;
  if (last)
    r->lasts++;
  if (last && r->stop_after && r->lasts == r->stop_after)
    return 7;
  return 0;
}

static const pz_wsf_cbs_t cbs = {on_frame, on_data};

/* An unmasked server frame. */
static size_t server_frame(uint8_t *out, int opcode, bool fin, const uint8_t *p,
                           size_t len) {
  size_t h = 0;
  out[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (len < 126) {
    out[h++] = (uint8_t)len;
  } else if (len <= 0xffff) {
    out[h++] = 126;
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = 127;
    for (int i = 7; i >= 0; i--)
      out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(out + h, p, len);
  return h + len;
}

static void test_frames_in_every_chunk_size(void **state) {
  (void)state;
  static uint8_t payload[70000], stream[300000];
  for (size_t i = 0; i < sizeof(payload); i++)
    payload[i] = (uint8_t)(i * 31 + 7);
  const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};
  const int ops[] = {PZ_WSF_BINARY, PZ_WSF_TEXT,   PZ_WSF_BINARY,
                     PZ_WSF_PING,   PZ_WSF_BINARY, PZ_WSF_BINARY,
                     PZ_WSF_TEXT,   PZ_WSF_BINARY};
  size_t n = 0, total = 0;
  for (int k = 0; k < 8; k++) {
    size_t len = ops[k] == PZ_WSF_PING ? 125 : lens[k];
    n += server_frame(stream + n, ops[k], true, payload, len);
    total += len;
  }
  const size_t chunks[] = {1, 2, 3, 7, 13, 100, 4096, 65536, sizeof(stream)};
  for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
    rec_t *r = calloc(1, sizeof(*r));
    pz_wsf_t f;
    pz_wsf_init(&f);
    for (size_t off = 0; off < n; off += chunks[c]) {
      size_t len = n - off < chunks[c] ? n - off : chunks[c];
      assert_int_equal(pz_wsf_feed(&f, stream + off, len, &cbs, r), 0);
    }
    assert_int_equal(r->n_frames, 8);
    assert_int_equal(r->lasts, 8);
    assert_int_equal(r->data_len, total);
    size_t pos = 0;
    for (int k = 0; k < 8; k++) {
      size_t len = ops[k] == PZ_WSF_PING ? 125 : lens[k];
      assert_int_equal(r->opcodes[k], ops[k]);
      assert_true(r->fins[k]);
      assert_int_equal(r->lens[k], len);
      assert_memory_equal(r->data + pos, payload, len);
      pos += len;
    }
    assert_int_equal(f.hlen, 0);
    assert_false(f.in_payload);
    free(r);
  }
}

static void test_fragments_and_stop_from_callback(void **state) {
  (void)state;
  uint8_t s[64];
  size_t n = server_frame(s, PZ_WSF_BINARY, false, (const uint8_t *)"ab", 2);
  n += server_frame(s + n, PZ_WSF_CONT, true, (const uint8_t *)"cd", 2);
  n += server_frame(s + n, PZ_WSF_BINARY, true, (const uint8_t *)"e", 1);
  rec_t *r = calloc(1, sizeof(*r));
  pz_wsf_t f;
  pz_wsf_init(&f);
  r->stop_after = 2;
  assert_int_equal(pz_wsf_feed(&f, s, n, &cbs, r), 7); /* stopped */
  assert_int_equal(r->n_frames, 2);
  assert_false(r->fins[0]);
  assert_int_equal(r->opcodes[1], PZ_WSF_CONT);
  assert_memory_equal(r->data, "abcd", 4);
  free(r);
}

static int feed_all(const uint8_t *s, size_t n, size_t chunk) {
  rec_t *r = calloc(1, sizeof(*r));
  pz_wsf_t f;
  int rc = 0;
  pz_wsf_init(&f);
  for (size_t off = 0; off < n && rc == 0; off += chunk)
    rc = pz_wsf_feed(&f, s + off, n - off < chunk ? n - off : chunk, &cbs, r);
  free(r);
  return rc;
}

static void test_refusals(void **state) {
  (void)state;
  for (size_t chunk = 1; chunk <= 16; chunk *= 2) {
    uint8_t masked[] = {0x82, 0x81, 1, 2, 3, 4, 0x55};
    assert_int_equal(feed_all(masked, sizeof(masked), chunk), PZ_WSF_EMASK);
    uint8_t rsv[] = {0xc2, 0x00};
    assert_int_equal(feed_all(rsv, sizeof(rsv), chunk), PZ_WSF_EPROTO);
    uint8_t unknown[] = {0x83, 0x00};
    assert_int_equal(feed_all(unknown, sizeof(unknown), chunk), PZ_WSF_EPROTO);
    uint8_t frag_ping[] = {0x09, 0x00};
    assert_int_equal(feed_all(frag_ping, sizeof(frag_ping), chunk),
                     PZ_WSF_EPROTO);
    uint8_t big_ping[] = {0x89, 126, 0, 126};
    assert_int_equal(feed_all(big_ping, sizeof(big_ping), chunk),
                     PZ_WSF_EPROTO);
    uint8_t huge[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(feed_all(huge, sizeof(huge), chunk), PZ_WSF_ELEN);
  }
}

static void test_builder_masks_and_round_trips(void **state) {
  (void)state;
  static uint8_t payload[70000], out[70000 + PZ_WSF_HDR_MAX];
  const uint8_t mask[4] = {0xf6, 0x54, 0x3e, 0xb4};
  for (size_t i = 0; i < sizeof(payload); i++)
    payload[i] = (uint8_t)(i ^ (i >> 8));
  const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
  for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
    size_t n = pz_wsf_build(out, PZ_WSF_BINARY, payload, lens[k], mask);
    size_t h = lens[k] < 126 ? 2 : lens[k] <= 0xffff ? 4 : 10;
    assert_int_equal(n, h + 4 + lens[k]);
    assert_int_equal(out[0], 0x82);
    assert_true(out[1] & 0x80);
    assert_memory_equal(out + h, mask, 4);
    pz_wsf_mask(out + h + 4, lens[k], mask, 0);
    assert_memory_equal(out + h + 4, payload, lens[k]);
  }
  /* The README's pong: text "3" with mask f6 54 3e b4 is 81 81 f6 54 3e b4 c5
   */
  size_t n = pz_wsf_build(out, PZ_WSF_TEXT, (const uint8_t *)"3", 1, mask);
  const uint8_t want[] = {0x81, 0x81, 0xf6, 0x54, 0x3e, 0xb4, 0xc5};
  assert_int_equal(n, sizeof(want));
  assert_memory_equal(out, want, sizeof(want));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_in_every_chunk_size),
      cmocka_unit_test(test_fragments_and_stop_from_callback),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_builder_masks_and_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
