/*
 * Guards src/net/outq.c, a connection's outbound queue: reliable entries
 * keep their order and are never dropped; a newer STATE (or pong) replaces
 * an unsent older one and goes to the tail; a partial STATE that replaces
 * one reports the loss (PZ_OUTQ_LOST) and a full STATE replaces either
 * kind without one; a partly written entry is never replaced nor dropped;
 * the bound counts bookkeeping, not only bytes; and a queue about to cross
 * threads holds no payload shared with another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "outq.h"

/* Everything the queue would write now, concatenated. */
static size_t pending(const pz_outq_t *q, char *out, size_t size) {
  uv_buf_t bufs[64];
  unsigned n = pz_outq_bufs(q, bufs, 64);
  size_t len = 0;
  for (unsigned i = 0; i < n; i++) {
    assert_true(len + bufs[i].len < size);
    memcpy(out + len, bufs[i].base, bufs[i].len);
    len += bufs[i].len;
  }
  out[len] = 0;
  return len;
}

static int push_str(pz_outq_t *q, const char *hdr, const char *s, int kind) {
  return pz_outq_push_copy(q, (const uint8_t *)hdr, strlen(hdr), s, strlen(s),
                           kind);
}

static void test_reliable_keep_order(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  push_str(&q, "1", "a", PZ_OUT_RELIABLE);
  push_str(&q, "2", "b", PZ_OUT_RELIABLE);
  push_str(&q, "3", "c", PZ_OUT_RELIABLE);
  char out[128];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "1a2b3c");
  assert_int_equal(q.count, 3);
  pz_outq_dispose(&q);
  assert_int_equal(q.bytes, 0);
}

static void test_state_latest_wins_and_goes_last(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  push_str(&q, "", "S1", PZ_OUT_STATE);
  push_str(&q, "", "chat", PZ_OUT_RELIABLE);
  push_str(&q, "", "S2", PZ_OUT_STATE);
  push_str(&q, "", "joined", PZ_OUT_RELIABLE);
  push_str(&q, "", "S3", PZ_OUT_STATE);
  char out[128];
  pending(&q, out, sizeof(out));
  /* One STATE left, the newest, after everything queued before it. */
  assert_string_equal(out, "chatjoinedS3");
  assert_int_equal(q.count, 3);
  assert_int_equal(q.replaced, 2);
  pz_outq_dispose(&q);
}

static void test_pong_latest_wins(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  for (int i = 0; i < 1000; i++)
    push_str(&q, "", i % 2 ? "P1" : "P2", PZ_OUT_PONG);
  assert_int_equal(q.count, 1);
  size_t one = q.bytes;
  push_str(&q, "", "S", PZ_OUT_STATE);
  push_str(&q, "", "P3", PZ_OUT_PONG);
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "SP3"); /* kinds replace only their own kind */
  assert_true(q.bytes > one);
  pz_outq_dispose(&q);
}

static void test_partial_state_replacing_one_reports_the_loss(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  assert_int_equal(push_str(&q, "", "S1", PZ_OUT_STATE), 0);
  assert_int_equal(push_str(&q, "", "chat", PZ_OUT_RELIABLE), 0);
  /* S1's positions may not all be in S2: the sender must repair. */
  assert_int_equal(push_str(&q, "", "S2", PZ_OUT_STATE), PZ_OUTQ_LOST);
  assert_int_equal(q.lost, 1);
  /* Reliable entries and pongs never report one. */
  assert_int_equal(push_str(&q, "", "P1", PZ_OUT_PONG), 0);
  assert_int_equal(push_str(&q, "", "P2", PZ_OUT_PONG), 0);
  assert_int_equal(push_str(&q, "", "more", PZ_OUT_RELIABLE), 0);
  assert_int_equal(q.lost, 1);
  assert_int_equal(q.replaced, 2);
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "chatS2P2more");
  pz_outq_dispose(&q);
}

static void test_full_state_replaces_without_loss(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  assert_int_equal(push_str(&q, "", "S1", PZ_OUT_STATE), 0);
  assert_int_equal(push_str(&q, "", "pong", PZ_OUT_PONG), 0);
  /* Every member's position: nothing S1 held is lost. It shares the
   * STATE slot (one STATE unsent at most) and goes to the tail. */
  assert_int_equal(push_str(&q, "", "F1", PZ_OUT_STATE_FULL), 0);
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "pongF1");
  assert_int_equal(push_str(&q, "", "F2", PZ_OUT_STATE_FULL), 0);
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "pongF2");
  assert_int_equal(q.lost, 0);
  /* A partial one replacing the full one loses what only F2 said. */
  assert_int_equal(push_str(&q, "", "S3", PZ_OUT_STATE), PZ_OUTQ_LOST);
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "pongS3");
  assert_int_equal(q.lost, 1);
  assert_int_equal(q.count, 2);
  pz_outq_dispose(&q);
  assert_int_equal(q.bytes, 0);
}

static void test_state_behind_a_begun_one_loses_nothing(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  push_str(&q, "h", "S1", PZ_OUT_STATE);
  pz_outq_consume(&q, 1); /* S1's frame has begun: it will be sent whole */
  assert_int_equal(push_str(&q, "h", "S2", PZ_OUT_STATE), 0);
  assert_int_equal(push_str(&q, "h", "F", PZ_OUT_STATE_FULL), 0);
  assert_int_equal(q.lost, 0);
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "S1hF");
  pz_outq_dispose(&q);
}

static void test_past_the_bound_efull_wins_over_the_loss(void **state) {
  /* Past the bound the connection closes (slow consumer): that result
   * wins, and the resume's ROOM repairs everything. */
  pz_outq_t q;
  pz_outq_init(&q, 2 * PZ_OUTQ_ENTRY_COST + 8);
  assert_int_equal(push_str(&q, "", "S1", PZ_OUT_STATE), 0);
  assert_int_equal(push_str(&q, "", "chat", PZ_OUT_RELIABLE), 0);
  assert_int_equal(push_str(&q, "", "S2-longer", PZ_OUT_STATE), PZ_EFULL);
  assert_int_equal(q.lost, 1);
  pz_outq_dispose(&q);
}

static void test_partial_write_is_not_replaced(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  push_str(&q, "h", "STATE-1", PZ_OUT_STATE);
  pz_outq_consume(&q, 3); /* "hST" is on the wire */
  push_str(&q, "h", "STATE-2", PZ_OUT_STATE);
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "ATE-1hSTATE-2");
  /* A third replaces the second (unsent), never the begun first. */
  push_str(&q, "h", "STATE-3", PZ_OUT_STATE);
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "ATE-1hSTATE-3");
  pz_outq_consume(&q, 5);
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "hSTATE-3");
  pz_outq_consume(&q, 8);
  assert_true(pz_outq_empty(&q));
  assert_int_equal(q.bytes, 0);
  assert_int_equal(q.count, 0);
  pz_outq_dispose(&q);
}

static void test_consume_across_entries(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  push_str(&q, "ab", "cd", PZ_OUT_RELIABLE);
  push_str(&q, "ef", "gh", PZ_OUT_RELIABLE);
  pz_outq_consume(&q, 5); /* all of the first, one byte of the second */
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "fgh");
  assert_int_equal(q.count, 1);
  pz_outq_dispose(&q);
}

static void test_bound_counts_bookkeeping(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 10 * PZ_OUTQ_ENTRY_COST);
  /* Empty payloads cost nothing in bytes, yet the queue holds memory:
   * the eleventh passes the bound. */
  int r = 0, n = 0;
  while (r == 0 && n < 100) {
    r = pz_outq_push_copy(&q, NULL, 0, "", 0, PZ_OUT_RELIABLE);
    n++;
  }
  assert_int_equal(r, PZ_EFULL);
  assert_int_equal(n, 11);
  pz_outq_dispose(&q);
}

static void test_bound_counts_bytes(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1000);
  char big[600];
  memset(big, 'x', sizeof(big));
  assert_int_equal(pz_outq_push_copy(&q, NULL, 0, big, 600, PZ_OUT_RELIABLE),
                   0);
  assert_int_equal(pz_outq_push_copy(&q, NULL, 0, big, 600, PZ_OUT_RELIABLE),
                   PZ_EFULL);
  pz_outq_dispose(&q);
}

static void test_drop_unsent_keeps_begun_frame(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  push_str(&q, "h", "first", PZ_OUT_RELIABLE);
  push_str(&q, "h", "second", PZ_OUT_RELIABLE);
  push_str(&q, "h", "S", PZ_OUT_STATE);
  pz_outq_consume(&q, 2);
  assert_int_equal(pz_outq_drop_unsent(&q), 2);
  char out[64];
  pending(&q, out, sizeof(out));
  assert_string_equal(out, "irst");
  /* Nothing begun: everything goes. */
  pz_outq_consume(&q, 4);
  push_str(&q, "h", "x", PZ_OUT_RELIABLE);
  assert_int_equal(pz_outq_drop_unsent(&q), 1);
  assert_true(pz_outq_empty(&q));
  pz_outq_dispose(&q);
}

static void test_privatize_copies_shared_payloads(void **state) {
  pz_outq_t a, b;
  pz_outq_init(&a, 1 << 20);
  pz_outq_init(&b, 1 << 20);
  pz_payload_t *shared = pz_payload_create("broadcast", 9, PZ_PAYLOAD_STATE);
  pz_outq_push(&a, NULL, 0, shared, PZ_OUT_STATE);
  pz_outq_push(&b, NULL, 0, shared, PZ_OUT_STATE);
  pz_outq_push_copy(&a, NULL, 0, "mine", 4, PZ_OUT_RELIABLE);
  pz_payload_t *own = pz_outq_at(&a, 1)->payload;
  assert_int_equal(shared->refs, 3);
  pz_outq_privatize(&a);
  /* a holds a copy now; b and the caller still share the original. */
  assert_ptr_not_equal(pz_outq_at(&a, 0)->payload, shared);
  assert_int_equal(pz_outq_at(&a, 0)->payload->refs, 1);
  assert_memory_equal(pz_outq_at(&a, 0)->payload->data, "broadcast", 9);
  assert_ptr_equal(pz_outq_at(&a, 1)->payload, own); /* already its own */
  assert_int_equal(shared->refs, 2);
  pz_outq_dispose(&a);
  pz_outq_dispose(&b);
  assert_int_equal(shared->refs, 1);
  pz_payload_unref(shared);
}

static void test_bufs_bound_by_count(void **state) {
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  for (int i = 0; i < 10; i++)
    push_str(&q, "h", "p", PZ_OUT_RELIABLE);
  uv_buf_t bufs[5];
  /* One buffer per entry: the header sits right before the payload. */
  assert_int_equal(pz_outq_bufs(&q, bufs, 5), 5);
  for (int i = 0; i < 5; i++)
    assert_memory_equal(bufs[i].base, "hp", 2);
  pz_outq_dispose(&q);
}

static void test_shared_payload_header_written_once(void **state) {
  /* A broadcast: every queue frames the same payload with the same
   * header, kept once in the payload; the frames read whole. */
  pz_outq_t a, b;
  pz_outq_init(&a, 1 << 20);
  pz_outq_init(&b, 1 << 20);
  pz_payload_t *p = pz_payload_create("state", 5, PZ_PAYLOAD_STATE);
  const uint8_t hdr[2] = {0x82, 5};
  pz_outq_push(&a, hdr, 2, p, PZ_OUT_STATE);
  pz_outq_push(&b, hdr, 2, p, PZ_OUT_STATE);
  char out[64];
  assert_int_equal(pending(&a, out, sizeof(out)), 7);
  assert_memory_equal(out, "\x82\x05state", 7);
  assert_int_equal(pending(&b, out, sizeof(out)), 7);
  assert_memory_equal(out, "\x82\x05state", 7);
  /* A copy for a queue that moves keeps the header. */
  pz_outq_privatize(&a);
  assert_ptr_not_equal(pz_outq_at(&a, 0)->payload, p);
  assert_int_equal(pending(&a, out, sizeof(out)), 7);
  assert_memory_equal(out, "\x82\x05state", 7);
  pz_outq_dispose(&a);
  pz_outq_dispose(&b);
  pz_payload_unref(p);
}

static void test_ring_grows_wraps_and_shrinks(void **state) {
  /* Entries pushed and written in waves wrap around the ring; a latest-
   * wins entry removed from the middle keeps the order of the rest. */
  pz_outq_t q;
  pz_outq_init(&q, 1 << 20);
  char expect[256], out[256];
  for (int wave = 0; wave < 50; wave++) {
    size_t n = 0;
    push_str(&q, "", "S", PZ_OUT_STATE);
    for (int i = 0; i < wave % 7; i++) {
      char m[2] = {(char)('a' + i), 0};
      push_str(&q, "", m, PZ_OUT_RELIABLE);
      expect[n++] = m[0];
    }
    push_str(&q, "", "T", PZ_OUT_STATE); /* replaces S, goes last */
    expect[n++] = 'T';
    expect[n] = 0;
    assert_int_equal(pending(&q, out, sizeof(out)), n);
    assert_string_equal(out, expect);
    pz_outq_consume(&q, n);
    assert_true(pz_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
  }
  assert_non_null(q.ring); /* kept for the next tick */
  pz_outq_shrink(&q);
  assert_null(q.ring);
  push_str(&q, "", "x", PZ_OUT_RELIABLE);
  assert_null(q.ring); /* one entry at a time needs no ring */
  pz_outq_consume(&q, 1);
  push_str(&q, "", "y", PZ_OUT_RELIABLE);
  push_str(&q, "", "z", PZ_OUT_RELIABLE);
  assert_non_null(q.ring);
  pz_outq_shrink(&q); /* not empty: kept */
  assert_non_null(q.ring);
  assert_int_equal(pending(&q, out, sizeof(out)), 2);
  assert_string_equal(out, "yz");
  pz_outq_dispose(&q);
  assert_null(q.ring);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reliable_keep_order),
      cmocka_unit_test(test_state_latest_wins_and_goes_last),
      cmocka_unit_test(test_pong_latest_wins),
      cmocka_unit_test(test_partial_state_replacing_one_reports_the_loss),
      cmocka_unit_test(test_full_state_replaces_without_loss),
      cmocka_unit_test(test_state_behind_a_begun_one_loses_nothing),
      cmocka_unit_test(test_past_the_bound_efull_wins_over_the_loss),
      cmocka_unit_test(test_partial_write_is_not_replaced),
      cmocka_unit_test(test_consume_across_entries),
      cmocka_unit_test(test_bound_counts_bookkeeping),
      cmocka_unit_test(test_bound_counts_bytes),
      cmocka_unit_test(test_drop_unsent_keeps_begun_frame),
      cmocka_unit_test(test_privatize_copies_shared_payloads),
      cmocka_unit_test(test_bufs_bound_by_count),
      cmocka_unit_test(test_shared_payload_header_written_once),
      cmocka_unit_test(test_ring_grows_wraps_and_shrinks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
