/*
 * Guards src/net/bufchain.c, the TLS stream's held output: what comes out
 * is what went in, in order, whatever the sizes of appends and consumes
 * (a byte, a block, several blocks at once); bytes already queued never
 * move when more are appended (the KeyUpdate flood made every append
 * realloc and move everything held); an emptied chain holds no block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bufchain.h"
#include "error.h"

/* The chain's unread bytes, concatenated into out; returns their count. */
static size_t drain_view(const pz_bufchain_t *q, uint8_t *out, size_t size) {
  uv_buf_t bufs[256];
  unsigned n = pz_bufchain_bufs(q, bufs, 256);
  size_t len = 0;
  for (unsigned i = 0; i < n; i++) {
    assert_true(len + bufs[i].len <= size);
    memcpy(out + len, bufs[i].base, bufs[i].len);
    len += bufs[i].len;
  }
  return len;
}

static uint8_t pattern(size_t i) {
  return (uint8_t)(i * 131 + (i >> 8));
}

static void test_in_order_at_any_sizes(void **state) {
  static const size_t appends[] = {1,
                                   7,
                                   27,
                                   1000,
                                   PZ_BUFCHAIN_BLOCK - 1,
                                   PZ_BUFCHAIN_BLOCK,
                                   3 * PZ_BUFCHAIN_BLOCK + 5};
  static const size_t consumes[] = {1, 5, 27, 4096, PZ_BUFCHAIN_BLOCK + 3};
  size_t total = 8 * PZ_BUFCHAIN_BLOCK;
  uint8_t *src = malloc(total), *view = malloc(total);
  for (size_t i = 0; i < total; i++)
    src[i] = pattern(i);
  for (size_t a = 0; a < sizeof(appends) / sizeof(appends[0]); a++) {
    for (size_t c = 0; c < sizeof(consumes) / sizeof(consumes[0]); c++) {
      pz_bufchain_t q;
      pz_bufchain_init(&q);
      size_t in = 0, out = 0;
      while (out < total) {
        /* Two appends per consume: the chain grows, then drains. */
        for (int k = 0; k < 2 && in < total; k++) {
          size_t n = appends[a] < total - in ? appends[a] : total - in;
          assert_int_equal(pz_bufchain_append(&q, src + in, n), 0);
          in += n;
        }
        assert_int_equal(q.len, in - out);
        size_t have = drain_view(&q, view, total);
        assert_int_equal(have, in - out);
        if (memcmp(view, src + out, have) != 0)
          fail_msg("append %zu, consume %zu: bytes differ at %zu", appends[a],
                   consumes[c], out);
        /* Once everything is in, the rest goes in one consume. */
        size_t n =
            consumes[c] < in - out && in < total ? consumes[c] : in - out;
        pz_bufchain_consume(&q, n);
        out += n;
      }
      assert_int_equal(q.len, 0);
      assert_null(q.head);
      assert_null(q.tail);
      pz_bufchain_dispose(&q);
    }
  }
  free(src);
  free(view);
}

static void test_queued_bytes_never_move(void **state) {
  pz_bufchain_t q;
  pz_bufchain_init(&q);
  uint8_t answer[27];
  memset(answer, 0xab, sizeof(answer));
  assert_int_equal(pz_bufchain_append(&q, answer, sizeof(answer)), 0);
  uv_buf_t first;
  assert_int_equal(pz_bufchain_bufs(&q, &first, 1), 1);
  /* A flood of small appends (as KeyUpdate answers are) fills blocks one
   * after another; the first byte stays where it was. */
  for (int i = 0; i < 10000; i++)
    assert_int_equal(pz_bufchain_append(&q, answer, sizeof(answer)), 0);
  uv_buf_t again;
  assert_int_equal(pz_bufchain_bufs(&q, &again, 1), 1);
  assert_ptr_equal(first.base, again.base);
  assert_int_equal(q.len, 10001 * sizeof(answer));
  /* Blocks are full before the next one starts: 270 KB in 17 blocks. */
  unsigned blocks = 0;
  for (pz_bufchain_block_t *b = q.head; b; b = b->next)
    blocks++;
  assert_int_equal(blocks, (q.len + PZ_BUFCHAIN_BLOCK - 1) / PZ_BUFCHAIN_BLOCK);
  pz_bufchain_consume(&q, 5);
  assert_int_equal(pz_bufchain_bufs(&q, &again, 1), 1);
  assert_ptr_equal(first.base + 5, again.base);
  pz_bufchain_dispose(&q);
  assert_int_equal(q.len, 0);
  assert_null(q.head);
}

static void test_bufs_limit_and_empty(void **state) {
  pz_bufchain_t q;
  pz_bufchain_init(&q);
  uv_buf_t bufs[4];
  assert_int_equal(pz_bufchain_bufs(&q, bufs, 4), 0);
  pz_bufchain_consume(&q, 10); /* nothing to consume: no harm */
  assert_int_equal(pz_bufchain_append(&q, "x", 0), 0);
  assert_null(q.head);
  static uint8_t big[5 * PZ_BUFCHAIN_BLOCK];
  for (int i = 0; i < 5; i++)
    assert_int_equal(
        pz_bufchain_append(&q, big + i * PZ_BUFCHAIN_BLOCK, PZ_BUFCHAIN_BLOCK),
        0);
  /* At most n buffers, from the head. */
  assert_int_equal(pz_bufchain_bufs(&q, bufs, 2), 2);
  assert_ptr_equal(bufs[0].base, (char *)q.head->data);
  assert_int_equal(bufs[0].len, PZ_BUFCHAIN_BLOCK);
  pz_bufchain_consume(&q, q.len + 100); /* more than held: all of it */
  assert_int_equal(q.len, 0);
  assert_null(q.head);
  assert_null(q.tail);
  /* One append bigger than a block is one block of its size. */
  assert_int_equal(pz_bufchain_append(&q, big, sizeof(big)), 0);
  assert_ptr_equal(q.head, q.tail);
  assert_int_equal(pz_bufchain_bufs(&q, bufs, 4), 1);
  assert_int_equal(bufs[0].len, sizeof(big));
  pz_bufchain_dispose(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_order_at_any_sizes),
      cmocka_unit_test(test_queued_bytes_never_move),
      cmocka_unit_test(test_bufs_limit_and_empty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
