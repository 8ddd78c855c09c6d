/*
 * Guards src/net/stream_tcp.c on a real loop over a socket pair: reads
 * arrive and the peer's close reads as PZ_ECLOSED; a writev the socket
 * cannot take whole returns what it took and on_writable fires once the
 * peer reads; shutdown sends EOF while reading goes on; detach hands back
 * an open descriptor; close closes it. Every test ends with
 * uv_loop_close() == 0.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "stream.h"

typedef struct fixture {
  uv_loop_t loop;
  pz_tcp_stream_t t;
  int peer;
  uint8_t buf[4096];
  pz_readbuf_t readbuf;
  char got[8192];
  size_t got_len;
  ssize_t last_error;
  int writable;
  int closed;
  uv_os_sock_t detached_fd;
} fixture_t;

static void on_read(pz_stream_t *s, ssize_t n, uint8_t *data) {
  fixture_t *f = s->data;
  if (n < 0) {
    f->last_error = n;
    return;
  }
  assert_true(f->got_len + (size_t)n <= sizeof(f->got));
  memcpy(f->got + f->got_len, data, (size_t)n);
  f->got_len += (size_t)n;
}

static void on_writable(pz_stream_t *s) {
  ((fixture_t *)s->data)->writable++;
}

static void on_closed(pz_stream_t *s) {
  ((fixture_t *)s->data)->closed++;
}

static void on_detached(pz_stream_t *s, uv_os_sock_t fd) {
  ((fixture_t *)s->data)->detached_fd = fd;
}

static fixture_t *open_fixture(int sndbuf) {
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  pz_tcp_options_t opt = {.sndbuf = sndbuf};
  f->readbuf = (pz_readbuf_t){f->buf, sizeof(f->buf)};
  assert_int_equal(
      pz_tcp_stream_open(&f->t, &f->loop, sv[0], &f->readbuf, &opt), 0);
  f->t.base.data = f;
  f->t.base.on_read = on_read;
  f->t.base.on_writable = on_writable;
  f->peer = sv[1];
  f->detached_fd = -1;
  return f;
}

static void run_a_bit(fixture_t *f) {
  for (int i = 0; i < 10; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void close_fixture(fixture_t *f) {
  pz_stream_close(&f->t.base, on_closed);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(f->closed, 1);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  close(f->peer);
  free(f);
}

static void test_reads_and_peer_close(void **state) {
  fixture_t *f = open_fixture(0);
  pz_stream_read_start(&f->t.base);
  assert_int_equal(write(f->peer, "hello", 5), 5);
  run_a_bit(f);
  assert_int_equal(f->got_len, 5);
  assert_memory_equal(f->got, "hello", 5);
  shutdown(f->peer, SHUT_WR);
  run_a_bit(f);
  assert_int_equal(f->last_error, PZ_ECLOSED);
  close_fixture(f);
}

static void test_read_stop_holds_input(void **state) {
  fixture_t *f = open_fixture(0);
  assert_int_equal(write(f->peer, "x", 1), 1);
  run_a_bit(f); /* not reading yet */
  assert_int_equal(f->got_len, 0);
  pz_stream_read_start(&f->t.base);
  run_a_bit(f);
  assert_int_equal(f->got_len, 1);
  pz_stream_read_stop(&f->t.base);
  assert_int_equal(write(f->peer, "y", 1), 1);
  run_a_bit(f);
  assert_int_equal(f->got_len, 1);
  close_fixture(f);
}

static void test_partial_write_then_writable(void **state) {
  fixture_t *f = open_fixture(4096);
  static char big[1 << 20];
  memset(big, 'z', sizeof(big));
  uv_buf_t b = uv_buf_init(big, sizeof(big));
  ssize_t n = pz_stream_writev(&f->t.base, &b, 1);
  assert_true(n > 0);
  assert_true((size_t)n < sizeof(big)); /* the socket took only part */
  run_a_bit(f);
  assert_int_equal(f->writable, 0); /* nobody read yet */
  char sink[1 << 16];
  while (read(f->peer, sink, sizeof(sink)) > 0)
    ;
  run_a_bit(f);
  assert_int_equal(f->writable, 1);
  /* Once told, the stream stops watching until the next short write. */
  run_a_bit(f);
  assert_int_equal(f->writable, 1);
  close_fixture(f);
}

static void test_shutdown_keeps_reading(void **state) {
  fixture_t *f = open_fixture(0);
  pz_stream_read_start(&f->t.base);
  assert_int_equal(pz_stream_shutdown(&f->t.base), 0);
  char c;
  assert_int_equal(read(f->peer, &c, 1), 0); /* EOF at the peer */
  assert_int_equal(write(f->peer, "late", 4), 4);
  run_a_bit(f);
  assert_int_equal(f->got_len, 4);
  close_fixture(f);
}

static void test_detach_hands_back_open_fd(void **state) {
  fixture_t *f = open_fixture(0);
  pz_stream_read_start(&f->t.base);
  pz_stream_detach(&f->t.base, on_detached);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_true(f->detached_fd >= 0);
  assert_true(fcntl(f->detached_fd, F_GETFD) >= 0); /* still open */
  assert_int_equal(write(f->peer, "!", 1), 1);
  char c;
  assert_int_equal(read(f->detached_fd, &c, 1), 1);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  close(f->detached_fd);
  close(f->peer);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_and_peer_close),
      cmocka_unit_test(test_read_stop_holds_input),
      cmocka_unit_test(test_partial_write_then_writable),
      cmocka_unit_test(test_shutdown_keeps_reading),
      cmocka_unit_test(test_detach_hands_back_open_fd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
