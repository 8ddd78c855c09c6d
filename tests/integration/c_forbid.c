/*
 * c_forbid URL WIDE NARROW: a C library session resumed with a token that
 * no longer allows its room, against a running plaza with a JWT secret.
 *
 * dave joins `secret` with the WIDE token (rooms secret and lobby), is
 * given the NARROW one (lobby only) for his next connections, and loses
 * his socket. He resumes; the server answers WELCOME (resumed), ERROR 8
 * with op HELLO, and no ROOM. The session must be in no room and in step
 * (a ping goes) at once, not after the 5 s it gives a resumed ROOM, and
 * must not ask for `secret` again (no ERROR 8 to a JOIN); then a JOIN of
 * `lobby` works. Exits 0 on success, else says what and exits 1. Driven by
 * tests/integration/test_c_client.py.
 */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "plaza/client.h"
#include "plaza/protocol.h"

#define TIMEOUT_MS 10000
#define IN_STEP_MS 1000 /* well under the 5 s a resumed ROOM is waited for */

static struct {
  pz_client_ctx_t *ctx;
  pz_client_session_t *s;
  uv_timer_t poll, timeout;
  const char *narrow;
  int step, rooms_secret, rooms_lobby, forbidden_hello, forbidden_join;
  int opens, pongs;
  uint64_t open_ms, in_step_ms;
  const char *failed;
} T;

static bool str_is(pz_str_t s, const char *lit) {
  return s.ptr != NULL && s.len == strlen(lit) &&
         memcmp(s.ptr, lit, s.len) == 0;
}

static void fail(const char *why) {
  if (T.failed == NULL)
    T.failed = why;
  if (T.s != NULL)
    pz_client_session_abort(T.s);
}

static void on_message(pz_client_session_t *s, const pz_smsg_t *m) {
  (void)s;
  if (m->op == PZ_S_ROOM) {
    T.rooms_secret += str_is(m->u.room.room, "secret");
    T.rooms_lobby += str_is(m->u.room.room, "lobby");
  } else if (m->op == PZ_S_PONG) {
    T.pongs++;
  } else if (m->op == PZ_S_ERROR && m->u.error.code == PZ_ERR_FORBIDDEN) {
    T.forbidden_hello += m->u.error.op == PZ_C_HELLO;
    T.forbidden_join += m->u.error.op == PZ_C_JOIN;
  } else if (m->op == PZ_S_ERROR) {
    fail("an unexpected ERROR");
  }
}

static void on_status(pz_client_session_t *s,
                      const pz_client_session_event_t *ev) {
  (void)s;
  if (ev->status == PZ_CLIENT_SESSION_OPEN) {
    T.opens++;
    T.open_ms = uv_now(pz_client_ctx_loop(T.ctx));
    if (T.opens == 2 && !ev->resumed)
      fail("the second connection did not resume");
  } else if (ev->status == PZ_CLIENT_SESSION_CLOSED) {
    T.s = NULL;
    if (T.step != 4)
      fail("closed early");
    uv_close((uv_handle_t *)&T.poll, NULL);
    uv_close((uv_handle_t *)&T.timeout, NULL);
    pz_client_ctx_close(T.ctx);
  }
}

static void on_poll(uv_timer_t *t) {
  uint64_t now = uv_now(t->loop);
  (void)t;
  if (T.s == NULL || T.failed != NULL)
    return;
  switch (T.step) {
  case 0: /* in secret */
    if (T.rooms_secret == 1) {
      pz_client_session_set_token(T.s, T.narrow);
      pz_client_abort(pz_client_session_client(T.s));
      T.step = 1;
    }
    break;
  case 1: /* back: out of secret and in step at once */
    if (T.opens < 2)
      break;
    if (pz_client_session_ping(T.s, 1) == 0) {
      T.in_step_ms = now - T.open_ms;
      if (T.forbidden_hello != 1 || pz_client_session_room(T.s) != NULL)
        fail("in step, but not told its room is forbidden, or still in it");
      else if (T.in_step_ms > IN_STEP_MS)
        fail("the session waited for a ROOM that never comes");
      T.step = 2;
    }
    break;
  case 2: /* no JOIN of secret went; lobby works */
    if (T.pongs >= 1) {
      if (T.forbidden_join != 0 || T.rooms_secret != 1)
        fail("the forbidden room was asked for again");
      pz_client_session_join(T.s, pz_str_c("lobby"));
      T.step = 3;
    }
    break;
  case 3:
    if (T.rooms_lobby == 1) {
      T.step = 4;
      pz_client_session_close(T.s, true);
    }
    break;
  default:
    break;
  }
}

static void on_timeout(uv_timer_t *t) {
  (void)t;
  fail("timed out");
}

static const pz_client_session_cbs_t cbs = {on_message, on_status};

int main(int argc, char **argv) {
  uv_loop_t loop;
  pz_client_session_opts_t o;

  if (argc != 4) {
    fprintf(stderr, "usage: c_forbid URL WIDE_JWT NARROW_JWT\n");
    return 2;
  }
  T.narrow = argv[3];
  uv_loop_init(&loop);
  if (pz_client_ctx_create(&loop, &T.ctx) != 0)
    return 1;
  pz_client_session_opts_init(&o);
  o.token = argv[2];
  o.backoff_initial_ms = o.backoff_max_ms = 100;
  o.backoff_jitter = 0;
  if (pz_client_session_start(T.ctx, argv[1], &o, &cbs, NULL, &T.s) != 0)
    return 1;
  pz_client_session_join(T.s, pz_str_c("secret"));
  uv_timer_init(&loop, &T.poll);
  uv_timer_start(&T.poll, on_poll, 10, 10);
  uv_timer_init(&loop, &T.timeout);
  uv_timer_start(&T.timeout, on_timeout, TIMEOUT_MS, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    fprintf(stderr, "c_forbid: FAIL: handles left open\n");
    return 1;
  }
  if (T.failed != NULL) {
    fprintf(stderr,
            "c_forbid: FAIL at step %d: %s (ERROR 8 to HELLO %d, to JOIN %d; "
            "rooms secret %d lobby %d; opens %d)\n",
            T.step, T.failed, T.forbidden_hello, T.forbidden_join,
            T.rooms_secret, T.rooms_lobby, T.opens);
    return 1;
  }
  printf("c_forbid: ok (in step %llu ms after the resumed WELCOME)\n",
         (unsigned long long)T.in_step_ms);
  return 0;
}
