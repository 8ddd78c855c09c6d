/*
 * Guards src/mailbox.c, the only way plaza's threads talk: on a real uv
 * loop, messages posted from another thread all arrive, in posting order,
 * in batches (wake-ups coalesce); the bound refuses with PZ_EFULL and
 * leaves the message with the sender while post_force still queues; what
 * is queued at close is taken with pz_mailbox_take; and posting after the
 * receiver closed the mailbox and its loop (a worker stopping while
 * another still runs) queues without waking anyone: libuv aborts on a
 * wake-up sent to a closed loop. Every test closes its handles and asserts
 * uv_loop_close() == 0: a leaked handle is a bug.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "error.h"
#include "mailbox.h"

typedef struct counted {
  pz_msg_t hdr; /* type: the posting index */
} counted_t;

typedef struct rx {
  uv_loop_t loop;
  pz_mailbox_t mb;
  int expected;  /* close once this many have arrived */
  int received;  /* messages so far */
  int batches;   /* callbacks so far */
  int max_batch; /* the largest batch */
  int out_of_order;
  bool closed;
} rx_t;

static counted_t *msg_new(int i) {
  counted_t *m = malloc(sizeof(*m));
  assert_non_null(m);
  m->hdr.type = i;
  m->hdr.next = (pz_msg_t *)(uintptr_t)0xdeadbeef; /* post must reset it */
  return m;
}

static void on_closed(uv_handle_t *h) {
  rx_t *rx = ((pz_mailbox_t *)h->data)->data;
  rx->closed = true;
}

static void on_batch(pz_mailbox_t *mb, pz_msg_t *batch) {
  rx_t *rx = mb->data;
  int n = 0;
  while (batch) {
    pz_msg_t *next = batch->next;
    if (batch->type != rx->received)
      rx->out_of_order++;
    rx->received++;
    n++;
    free(batch);
    batch = next;
  }
  rx->batches++;
  if (n > rx->max_batch)
    rx->max_batch = n;
  if (rx->received >= rx->expected)
    pz_mailbox_close(mb, on_closed);
}

static void rx_init(rx_t *rx, size_t bound, int expected) {
  memset(rx, 0, sizeof(*rx));
  assert_int_equal(uv_loop_init(&rx->loop), 0);
  assert_int_equal(pz_mailbox_init(&rx->mb, &rx->loop, bound, on_batch, rx), 0);
  rx->expected = expected;
}

static void rx_close_loop(rx_t *rx) {
  assert_true(rx->closed);
  assert_int_equal(uv_loop_close(&rx->loop), 0);
}

/* ---- a sender thread ---------------------------------------------------- */

typedef struct tx {
  pz_mailbox_t *mb;
  int n;
  int refused; /* PZ_EFULL answers, retried */
  int failed;  /* other answers (no cmocka asserts off the main thread) */
} tx_t;

static void sender(void *arg) {
  tx_t *tx = arg;
  for (int i = 0; i < tx->n; i++) {
    counted_t *m = msg_new(i);
    int r;
    while ((r = pz_mailbox_post(tx->mb, &m->hdr)) == PZ_EFULL) {
      tx->refused++;
      uv_sleep(0);
    }
    if (r != 0) {
      tx->failed++;
      free(m);
    }
  }
}

static void test_cross_thread_in_order(void **state) {
  enum { N = 100000 };
  rx_t rx;
  rx_init(&rx, (size_t)N, N);
  tx_t tx = {&rx.mb, N, 0, 0};
  uv_thread_t th;
  assert_int_equal(uv_thread_create(&th, sender, &tx), 0);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_thread_join(&th), 0);
  assert_int_equal(tx.failed, 0);
  assert_int_equal(rx.received, N);
  assert_int_equal(rx.out_of_order, 0);
  assert_int_equal(tx.refused, 0);
  assert_in_range(rx.batches, 1, N);
  rx_close_loop(&rx);
}

static void test_cross_thread_bounded_sender_retries(void **state) {
  /* A small bound: the sender meets PZ_EFULL and retries; nothing is lost
   * or reordered, and batches never exceed the bound. */
  enum { N = 20000, BOUND = 16 };
  rx_t rx;
  rx_init(&rx, BOUND, N);
  tx_t tx = {&rx.mb, N, 0, 0};
  uv_thread_t th;
  assert_int_equal(uv_thread_create(&th, sender, &tx), 0);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_thread_join(&th), 0);
  assert_int_equal(tx.failed, 0);
  assert_int_equal(rx.received, N);
  assert_int_equal(rx.out_of_order, 0);
  assert_in_range(rx.max_batch, 1, BOUND);
  rx_close_loop(&rx);
}

static void test_posted_before_run_is_one_batch(void **state) {
  /* Everything posted while the receiver is busy arrives as one batch:
   * the wake-ups coalesce. */
  enum { N = 1000 };
  rx_t rx;
  rx_init(&rx, (size_t)N, N);
  tx_t tx = {&rx.mb, N, 0, 0};
  uv_thread_t th;
  assert_int_equal(uv_thread_create(&th, sender, &tx), 0);
  assert_int_equal(uv_thread_join(&th), 0);
  assert_int_equal(rx.mb.count, N);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(rx.received, N);
  assert_int_equal(rx.batches, 1);
  assert_int_equal(rx.max_batch, N);
  assert_int_equal(rx.out_of_order, 0);
  rx_close_loop(&rx);
}

static void test_bound_and_force(void **state) {
  rx_t rx;
  rx_init(&rx, 3, 5);
  counted_t *m[5];
  for (int i = 0; i < 5; i++)
    m[i] = msg_new(i);
  assert_int_equal(pz_mailbox_post(&rx.mb, &m[0]->hdr), 0);
  assert_int_equal(pz_mailbox_post(&rx.mb, &m[1]->hdr), 0);
  assert_int_equal(pz_mailbox_post(&rx.mb, &m[2]->hdr), 0);
  /* Full: refused, and the message is still the caller's. */
  assert_int_equal(pz_mailbox_post(&rx.mb, &m[3]->hdr), PZ_EFULL);
  assert_int_equal(rx.mb.count, 3);
  assert_int_equal(m[3]->hdr.type, 3);
  /* Force queues past the bound. */
  pz_mailbox_post_force(&rx.mb, &m[3]->hdr);
  pz_mailbox_post_force(&rx.mb, &m[4]->hdr);
  assert_int_equal(rx.mb.count, 5);
  counted_t *extra = msg_new(99);
  assert_int_equal(pz_mailbox_post(&rx.mb, &extra->hdr), PZ_EFULL);
  free(extra);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(rx.received, 5);
  assert_int_equal(rx.out_of_order, 0);
  assert_int_equal(rx.batches, 1);
  rx_close_loop(&rx);
}

static void test_room_again_after_take(void **state) {
  rx_t rx;
  rx_init(&rx, 2, 4);
  counted_t *a = msg_new(0), *b = msg_new(1), *c = msg_new(2);
  assert_int_equal(pz_mailbox_post(&rx.mb, &a->hdr), 0);
  assert_int_equal(pz_mailbox_post(&rx.mb, &b->hdr), 0);
  assert_int_equal(pz_mailbox_post(&rx.mb, &c->hdr), PZ_EFULL);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_NOWAIT), 1);
  assert_int_equal(rx.received, 2);
  assert_int_equal(rx.mb.count, 0);
  /* The batch was taken: the bound counts anew. */
  assert_int_equal(pz_mailbox_post(&rx.mb, &c->hdr), 0);
  counted_t *d = msg_new(3);
  assert_int_equal(pz_mailbox_post(&rx.mb, &d->hdr), 0);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(rx.received, 4);
  assert_int_equal(rx.batches, 2);
  assert_int_equal(rx.out_of_order, 0);
  rx_close_loop(&rx);
}

/* Takes what is queued, checks it is in posting order, frees it: how many. */
static int take_in_order(pz_mailbox_t *mb) {
  pz_msg_t *batch = pz_mailbox_take(mb);
  int n = 0;
  while (batch) {
    pz_msg_t *next = batch->next;
    assert_int_equal(batch->type, n);
    n++;
    free(batch);
    batch = next;
  }
  return n;
}

static void test_close_with_queued_messages(void **state) {
  /* Shutdown: the async is closed with messages still queued; the
   * receiver takes them itself, in order, and the loop closes clean. */
  rx_t rx;
  rx_init(&rx, 10, 1000);
  for (int i = 0; i < 4; i++)
    assert_int_equal(pz_mailbox_post(&rx.mb, &msg_new(i)->hdr), 0);
  pz_mailbox_close(&rx.mb, on_closed);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  assert_true(rx.closed);
  assert_int_equal(rx.batches, 0); /* no callback after close */
  int n = take_in_order(&rx.mb);
  assert_int_equal(n, 4);
  assert_null(pz_mailbox_take(&rx.mb));
  assert_int_equal(rx.mb.count, 0);
  rx_close_loop(&rx);
}

static void late_sender(void *arg) {
  pz_mailbox_t *mb = arg;
  pz_mailbox_post_force(mb, &msg_new(0)->hdr);
  if (pz_mailbox_post(mb, &msg_new(1)->hdr) != 0)
    abort();
}

static void test_post_after_close_queues_without_waking(void **state) {
  rx_t rx;
  rx_init(&rx, 10, 1000);
  pz_mailbox_close(&rx.mb, on_closed);
  assert_int_equal(uv_run(&rx.loop, UV_RUN_DEFAULT), 0);
  rx_close_loop(&rx); /* the receiver's loop is gone too */
  /* Another thread, that could not know, posts: a wake-up now would
   * write to the closed loop's descriptor, and libuv aborts. */
  pz_mailbox_post_force(&rx.mb, &msg_new(0)->hdr);
  free(pz_mailbox_take(&rx.mb));
  uv_thread_t th;
  assert_int_equal(uv_thread_create(&th, late_sender, &rx.mb), 0);
  assert_int_equal(uv_thread_join(&th), 0);
  pz_mailbox_post_force(&rx.mb, &msg_new(2)->hdr);
  assert_int_equal(rx.batches, 0);
  assert_int_equal(rx.mb.count, 3);
  int n = take_in_order(&rx.mb);
  assert_int_equal(n, 3);
  uv_mutex_destroy(&rx.mb.lock);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cross_thread_in_order),
      cmocka_unit_test(test_cross_thread_bounded_sender_retries),
      cmocka_unit_test(test_posted_before_run_is_one_batch),
      cmocka_unit_test(test_bound_and_force),
      cmocka_unit_test(test_room_again_after_take),
      cmocka_unit_test(test_close_with_queued_messages),
      cmocka_unit_test(test_post_after_close_queues_without_waking),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
