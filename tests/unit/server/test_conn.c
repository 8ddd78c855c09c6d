/*
 * Guards src/server/conn*.c on a real loop, the client being the other end
 * of a socket pair: an HTTP answer far larger than the socket takes at once
 * arrives whole (it once overflowed a 10-byte header slot); after the
 * upgrade, messages reach on_message and frames queued in one turn arrive
 * in order; a kick gives the session up at once (before the close frame
 * leaves), other closes at the flush; a migrating connection hands over
 * its socket with a queue that shares no payload; one that no worker
 * will adopt (shutdown) closes its socket when abandoned; and an answer
 * flushed at once is on the wire before the loop turns (POST /admin/drain
 * answers before it signals the stop).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"
#include "plaza/protocol.h"

typedef struct fixture {
  uv_loop_t loop;
  pz_config_t cfg;
  pz_metrics_t metrics;
  pz_conn_host_t host;
  int peer;
  pz_conn_t *conn; /* the last connection an up-call saw */
  int requests, gone_code, gone_calls, messages, moved;
  char last_message[64];
  size_t body_len;
} fixture_t;

static fixture_t *F; /* the up-calls have no user pointer of their own */

static char big_body[300 * 1024];

static void on_request(pz_conn_t *c, const pz_http_req_t *req) {
  F->conn = c;
  F->requests++;
  pz_conn_http_answer(c, 200, "text/plain", "X-Test: 1\r\n", big_body,
                      F->body_len);
}
static void on_request_gone(pz_conn_t *c) {}
static void on_message(pz_conn_t *c, const uint8_t *data, size_t len) {
  F->conn = c;
  F->messages++;
  snprintf(F->last_message, sizeof(F->last_message), "%.*s", (int)len,
           (const char *)data);
}
static void on_gone(pz_conn_t *c, struct pz_session *s, int code) {
  F->gone_calls++;
  F->gone_code = code;
}

static const pz_conn_events_t events = {.on_request = on_request,
                                        .on_request_gone = on_request_gone,
                                        .on_message = on_message,
                                        .on_gone = on_gone};

static void setup_fixture(int sndbuf) {
  F = calloc(1, sizeof(*F));
  assert_non_null(F);
  assert_int_equal(uv_loop_init(&F->loop), 0);
  F->cfg.max_message = 16384;
  F->cfg.max_outbound = 1 << 20;
  F->cfg.hello_timeout_ms = 10000;
  F->cfg.sndbuf = sndbuf;
  F->cfg.resume_grace_ms = 30000;
  pz_conn_host_init(&F->host, &F->loop, &F->cfg, &F->metrics, &events, F);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  F->peer = sv[1];
  pz_conn_accept(&F->host, sv[0]);
}

static void spin(int turns) {
  for (int i = 0; i < turns; i++)
    uv_run(&F->loop, UV_RUN_NOWAIT);
}

/* Reads what the server sent until `want` bytes or a quiet spell. */
static size_t peer_read(char *out, size_t want) {
  size_t got = 0;
  for (int quiet = 0; got < want && quiet < 200;) {
    spin(1);
    ssize_t n = read(F->peer, out + got, want - got);
    if (n > 0) {
      got += (size_t)n;
      quiet = 0;
    } else {
      quiet++;
      usleep(500);
    }
  }
  return got;
}

static void teardown_fixture(void) {
  close(F->peer);
  pz_conn_sweep(&F->host, UINT64_MAX); /* past every deadline */
  pz_conn_close_all(&F->host, PZ_CLOSE_GOING_AWAY);
  spin(5);
  pz_conn_sweep(&F->host, UINT64_MAX);
  pz_conn_host_close(&F->host);
  uv_run(&F->loop, UV_RUN_DEFAULT);
  assert_true(pz_conn_host_empty(&F->host));
  assert_int_equal(uv_loop_close(&F->loop), 0);
  free(F);
}

static void send_text(const char *s) {
  size_t len = strlen(s);
  assert_int_equal(write(F->peer, s, len), (ssize_t)len);
}

static void upgrade(void) {
  send_text("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  char answer[512] = {0};
  size_t n = peer_read(answer, 129); /* the 101 without a subprotocol */
  assert_true(n > 12);
  assert_memory_equal(answer, "HTTP/1.1 101", 12);
}

/* A masked binary frame from the client (mask 0: payload unchanged). */
static void send_frame(int opcode, const char *payload, size_t len) {
  uint8_t f[256] = {
      (uint8_t)(0x80 | opcode), (uint8_t)(0x80 | len), 0, 0, 0, 0};
  memcpy(f + 6, payload, len);
  assert_int_equal(write(F->peer, f, 6 + len), (ssize_t)(6 + len));
}

static void test_large_http_answer_arrives_whole(void **state) {
  setup_fixture(4096);
  memset(big_body, 'b', sizeof(big_body));
  F->body_len = sizeof(big_body);
  send_text("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  static char got[sizeof(big_body) + 1024];
  size_t n = peer_read(got, sizeof(got));
  assert_int_equal(F->requests, 1);
  char *body = strstr(got, "\r\n\r\n");
  assert_non_null(body);
  assert_non_null(strstr(got, "X-Test: 1\r\n"));
  assert_non_null(strstr(got, "Content-Length: 307200\r\n"));
  assert_int_equal(n - (size_t)(body + 4 - got), sizeof(big_body));
  teardown_fixture();
}

static void test_flush_writes_the_answer_before_the_turn_ends(void **state) {
  setup_fixture(0);
  F->body_len = 5;
  memcpy(big_body, "drain", 5);
  send_text("POST /admin/drain HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int i = 0; i < 1000 && F->requests == 0; i++) {
    spin(1);
    usleep(100);
  }
  assert_int_equal(F->requests, 1);
  /* Answered in the read callback; the flush step has not run yet. */
  char got[512];
  assert_int_equal(read(F->peer, got, sizeof(got)), -1);
  assert_true(pz_conn_flush(F->conn));
  ssize_t n = read(F->peer, got, sizeof(got) - 1); /* no loop turn */
  assert_true(n > 0);
  got[n] = 0;
  assert_memory_equal(got, "HTTP/1.1 200", 12);
  assert_non_null(strstr(got, "\r\n\r\ndrain"));
  teardown_fixture();
}

static void test_frames_of_a_turn_arrive_in_order(void **state) {
  setup_fixture(0);
  upgrade();
  send_frame(2, "hi", 2);
  spin(3);
  assert_int_equal(F->messages, 1);
  assert_string_equal(F->last_message, "hi");
  pz_conn_send(F->conn, (const uint8_t *)"one", 3, 0, NULL);
  pz_conn_send(F->conn, (const uint8_t *)"two", 3, 0, NULL);
  pz_conn_send(F->conn, (const uint8_t *)"three", 5, 0, NULL);
  char got[64];
  size_t n = peer_read(got, 17);
  assert_int_equal(n, 17);
  assert_memory_equal(got, "\x82\x03one\x82\x03two\x82\x05three", 17);
  teardown_fixture();
}

static void test_kick_gives_up_session_at_once(void **state) {
  setup_fixture(0);
  upgrade();
  send_frame(2, "x", 1);
  spin(3);
  struct pz_session *fake = (struct pz_session *)&F->metrics; /* any ptr */
  pz_conn_attach(F->conn, fake);
  pz_conn_close(F->conn, PZ_CLOSE_KICKED, "kicked");
  /* Before the loop turns: the session is gone already. */
  assert_int_equal(F->gone_calls, 1);
  assert_int_equal(F->gone_code, PZ_CLOSE_KICKED);
  assert_null(pz_conn_session(F->conn));
  char got[16];
  size_t n = peer_read(got, 10);
  assert_int_equal(n, 10);
  assert_int_equal((uint8_t)got[0], 0x88);
  assert_int_equal(((uint8_t)got[2] << 8) | (uint8_t)got[3], 4003);
  teardown_fixture();
}

static void test_other_close_waits_for_flush(void **state) {
  setup_fixture(0);
  upgrade();
  send_frame(2, "x", 1);
  spin(3);
  pz_conn_attach(F->conn, (struct pz_session *)&F->metrics);
  pz_conn_close(F->conn, PZ_CLOSE_GOING_AWAY, "bye");
  assert_int_equal(F->gone_calls, 0);
  spin(2);
  assert_int_equal(F->gone_calls, 1);
  assert_int_equal(F->gone_code, PZ_CLOSE_GOING_AWAY);
  teardown_fixture();
}

static void test_protocol_error_gets_close_1002(void **state) {
  setup_fixture(0);
  upgrade();
  /* A ping whose payload is longer than 125 bytes. */
  uint8_t f[8 + 126] = {0x89, 0x80 | 126, 0, 126, 0, 0, 0, 0};
  assert_int_equal(write(F->peer, f, sizeof(f)), (ssize_t)sizeof(f));
  char got[64];
  size_t n = peer_read(got, 4);
  assert_true(n >= 4);
  assert_int_equal((uint8_t)got[0], 0x88);
  assert_int_equal(((uint8_t)got[2] << 8) | (uint8_t)got[3], 1002);
  teardown_fixture();
}

static pz_payload_t *shared;
static void on_moved(pz_conn_t *c, void *arg) {
  F->moved++;
  /* Only the caller's reference is left: the queue has its own copy. */
  assert_int_equal(shared->refs, 1);
  assert_int_equal(pz_conn_adopt(&F->host, c), 0);
  pz_conn_resume_input(c);
}

static void test_migration_takes_no_shared_payload(void **state) {
  setup_fixture(4096);
  upgrade();
  send_frame(2, "x", 1);
  spin(3);
  shared = pz_payload_create("0123456789", 10, 0);
  /* Fill the socket so that output stays queued, then move. */
  for (int i = 0; i < 2000; i++)
    pz_conn_send(F->conn, shared->data, shared->len, 0, shared);
  spin(2);
  pz_conn_migrate(F->conn, on_moved, NULL);
  spin(3);
  assert_int_equal(F->moved, 1);
  static char got[2000 * 12];
  size_t n = peer_read(got, sizeof(got));
  assert_int_equal(n, sizeof(got)); /* all of it, after the move */
  assert_memory_equal(got + sizeof(got) - 12,
                      "\x82\x0a"
                      "0123456789",
                      12);
  pz_payload_unref(shared);
  teardown_fixture();
}

static void on_moved_nowhere(pz_conn_t *c, void *arg) {
  F->moved++;
  pz_conn_abandon(c);
}

static void test_abandoned_connection_closes_its_socket(void **state) {
  setup_fixture(0);
  upgrade();
  send_frame(2, "x", 1);
  spin(3);
  pz_conn_migrate(F->conn, on_moved_nowhere, NULL);
  spin(3);
  assert_int_equal(F->moved, 1);
  /* The peer sees the end of the stream: the descriptor was closed. */
  char got[16];
  ssize_t n = -1;
  for (int i = 0; i < 200 && n < 0; i++) {
    n = read(F->peer, got, sizeof(got));
    if (n < 0)
      usleep(500);
  }
  assert_int_equal(n, 0);
  teardown_fixture();
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* as plaza does: a closed peer is an error */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_large_http_answer_arrives_whole),
      cmocka_unit_test(test_flush_writes_the_answer_before_the_turn_ends),
      cmocka_unit_test(test_frames_of_a_turn_arrive_in_order),
      cmocka_unit_test(test_kick_gives_up_session_at_once),
      cmocka_unit_test(test_other_close_waits_for_flush),
      cmocka_unit_test(test_protocol_error_gets_close_1002),
      cmocka_unit_test(test_migration_takes_no_shared_payload),
      cmocka_unit_test(test_abandoned_connection_closes_its_socket),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
