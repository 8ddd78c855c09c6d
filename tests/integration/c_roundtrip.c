/*
 * c_roundtrip URL: two C library clients against a running plaza server.
 *
 * A scripted scenario, one step waiting for the events of the previous one:
 * HELLO and JOIN (alice first, then bob: bob's ROOM lists both, alice sees
 * JOINED bob), bob's MOVE reaching alice in a STATE with its seq, CHAT both
 * ways (bob's sent in three fragments), WHISPER, PING/PONG, LEAVE/LEFT, and
 * the close handshake (1000 both ways). Exits 0 on success; otherwise prints
 * the step that did not complete and what was seen, and exits 1. Driven by
 * tests/integration/test_c_client.py.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "plaza/client.h"
#include "plaza/codec.h"

#define ROOM "c-roundtrip"
#define MOVE_SEQ 7
#define PING_T 1234.5
#define TIMEOUT_MS 10000

typedef struct peer {
  const char *name;
  pz_client_t *c;
  uint64_t id;
  bool welcome, room, room_has_other, joined_other, state_other;
  bool chat_from_alice, chat_from_bob, whisper, pong, left_bob, closed;
  bool protocol_selected;
  int close_code;
  uint64_t bytes_in, bytes_out;
} peer_t;

typedef struct test {
  uv_loop_t *loop;
  pz_client_ctx_t *ctx;
  uv_timer_t timeout;
  peer_t alice, bob;
  int step;
  bool failed;
  msgpack_zone zone;
  char url[512];
} test_t;

static const char *step_names[] = {
    "alice connects, HELLO, WELCOME",
    "alice JOIN, ROOM",
    "bob connects, HELLO, WELCOME",
    "bob JOIN: bob's ROOM lists alice, alice sees JOINED bob",
    "bob MOVE seq 7: alice gets STATE with bob's seq 7 and position",
    "alice CHAT: both get it",
    "bob CHAT in 3 fragments: alice gets it",
    "alice WHISPER to bob: bob gets it",
    "alice PING: PONG with the same t",
    "bob LEAVE: both get LEFT bob",
    "both close 1000: the server answers 1000",
    "done",
};
enum { STEP_DONE = 11 };

static void fail(test_t *t, const char *fmt, ...) {
  va_list ap;
  if (t->failed)
    return;
  t->failed = true;
  fprintf(stderr, "c_roundtrip: FAIL at step %d (%s): ", t->step,
          step_names[t->step]);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (t->alice.c != NULL)
    pz_client_abort(t->alice.c);
  if (t->bob.c != NULL)
    pz_client_abort(t->bob.c);
  uv_timer_stop(&t->timeout);
}

static bool str_is(pz_str_t s, const char *lit) {
  return s.ptr != NULL && s.len == strlen(lit) &&
         memcmp(s.ptr, lit, s.len) == 0;
}

static void check(test_t *t, const char *what, int r) {
  if (r != 0)
    fail(t, "%s returned %s", what, pz_client_err_name(r));
}

static void connect_peer(test_t *t, peer_t *p);

/* Runs the action that starts each step, as long as the current one is
 * complete. */
static void advance(test_t *t) {
  peer_t *a = &t->alice, *b = &t->bob;
  for (;;) {
    if (t->failed)
      return;
    bool done;
    switch (t->step) {
    case 0:
      done = a->welcome;
      break;
    case 1:
      done = a->room;
      break;
    case 2:
      done = b->welcome;
      break;
    case 3:
      done = b->room && b->room_has_other && a->joined_other;
      break;
    case 4:
      done = a->state_other;
      break;
    case 5:
      done = a->chat_from_alice && b->chat_from_alice;
      break;
    case 6:
      done = a->chat_from_bob;
      break;
    case 7:
      done = b->whisper;
      break;
    case 8:
      done = a->pong;
      break;
    case 9:
      done = a->left_bob && b->left_bob;
      break;
    case 10:
      done = a->closed && b->closed;
      break;
    default:
      return;
    }
    if (!done)
      return;
    t->step++;
    switch (t->step) {
    case 1:
      check(t, "alice join", pz_client_send_join(a->c, pz_str_c(ROOM)));
      break;
    case 2:
      connect_peer(t, b);
      break;
    case 3:
      check(t, "bob join", pz_client_send_join(b->c, pz_str_c(ROOM)));
      break;
    case 4:
      check(t, "bob move",
            pz_client_send_move(b->c, MOVE_SEQ,
                                (pz_pos_t){1.0f, 2.0f, 3.0f, 0.5f}));
      break;
    case 5:
      check(t, "alice chat", pz_client_send_chat(a->c, pz_str_c("hello bob")));
      break;
    case 6: {
      /* CHAT [5, "hello alice"] encoded by hand, sent in 3 frames. */
      static const char msg[] = "\x92\x05\xabhello alice";
      check(t, "bob fragmented chat",
            pz_client_send_fragmented(b->c, msg, sizeof(msg) - 1,
                                      PZ_CLIENT_BINARY, 3));
      break;
    }
    case 7:
      check(t, "alice whisper",
            pz_client_send_whisper(a->c, b->id, pz_str_c("psst")));
      break;
    case 8:
      check(t, "alice ping", pz_client_send_ping(a->c, PING_T));
      break;
    case 9:
      check(t, "bob leave", pz_client_send_leave(b->c));
      break;
    case 10:
      check(t, "alice close", pz_client_close(a->c, 1000, "done"));
      check(t, "bob close", pz_client_close(b->c, 1000, NULL));
      break;
    case STEP_DONE:
      uv_timer_stop(&t->timeout);
      return;
    }
  }
}

static peer_t *other(test_t *t, peer_t *p) {
  return p == &t->alice ? &t->bob : &t->alice;
}

static test_t *test_of(peer_t *p) {
  return (test_t *)((char *)p - (p->name[0] == 'a' ? offsetof(test_t, alice)
                                                   : offsetof(test_t, bob)));
}

static void on_open(pz_client_t *c) {
  peer_t *p = pz_client_data(c);
  p->protocol_selected = pz_client_protocol_selected(c);
  check(test_of(p), "hello",
        pz_client_send_hello(c, pz_str_c(NULL), pz_str_c(p->name),
                             pz_str_c(NULL), false, 0));
}

static void handle(test_t *t, peer_t *p, const pz_smsg_t *m) {
  peer_t *o = other(t, p);
  switch (m->op) {
  case PZ_S_WELCOME:
    p->id = m->u.welcome.id;
    p->welcome = true;
    break;
  case PZ_S_ROOM:
    if (!str_is(m->u.room.room, ROOM)) {
      fail(t, "%s: ROOM for another room", p->name);
      return;
    }
    p->room = true;
    for (size_t i = 0; i < m->u.room.n_members; i++)
      if (o->id != 0 && m->u.room.members[i].id == o->id &&
          str_is(m->u.room.members[i].name, o->name))
        p->room_has_other = true;
    break;
  case PZ_S_JOINED:
    if (m->u.joined.id == o->id && str_is(m->u.joined.name, o->name))
      p->joined_other = true;
    break;
  case PZ_S_STATE:
    for (size_t i = 0; i < m->u.state.n; i++) {
      const pz_state_entry_t *e = &m->u.state.entries[i];
      if (e->id != o->id)
        continue;
      if (e->seq != MOVE_SEQ || fabsf(e->pos.x - 1.0f) > 1e-4f ||
          fabsf(e->pos.y - 2.0f) > 1e-4f || fabsf(e->pos.z - 3.0f) > 1e-4f) {
        fail(t, "%s: STATE entry of %s has seq %llu pos (%g,%g,%g)", p->name,
             o->name, (unsigned long long)e->seq, (double)e->pos.x,
             (double)e->pos.y, (double)e->pos.z);
        return;
      }
      p->state_other = true;
    }
    break;
  case PZ_S_CHAT:
    if (m->u.chat.id == t->alice.id && str_is(m->u.chat.name, "alice") &&
        str_is(m->u.chat.text, "hello bob"))
      p->chat_from_alice = true;
    else if (m->u.chat.id == t->bob.id && str_is(m->u.chat.name, "bob") &&
             str_is(m->u.chat.text, "hello alice"))
      p->chat_from_bob = true;
    else
      fail(t, "%s: unexpected CHAT from %llu: %.*s", p->name,
           (unsigned long long)m->u.chat.id, (int)m->u.chat.text.len,
           m->u.chat.text.ptr);
    break;
  case PZ_S_WHISPER:
    if (m->u.whisper.from == o->id && str_is(m->u.whisper.name, o->name) &&
        str_is(m->u.whisper.text, "psst"))
      p->whisper = true;
    else
      fail(t, "%s: unexpected WHISPER", p->name);
    break;
  case PZ_S_PONG:
    if (m->u.pong.t == PING_T)
      p->pong = true;
    else
      fail(t, "%s: PONG t %g, sent %g", p->name, m->u.pong.t, PING_T);
    break;
  case PZ_S_LEFT:
    if (m->u.left.id == t->bob.id)
      p->left_bob = true;
    break;
  case PZ_S_ERROR:
    fail(t, "%s: ERROR %d %.*s (op %d)", p->name, m->u.error.code,
         (int)m->u.error.message.len, m->u.error.message.ptr, m->u.error.op);
    break;
  default:
    break;
  }
}

static void on_message(pz_client_t *c, int opcode, const char *data,
                       size_t len) {
  peer_t *p = pz_client_data(c);
  test_t *t = test_of(p);
  pz_smsg_t m;

  if (opcode != PZ_CLIENT_BINARY) {
    fail(t, "%s: text message from the server", p->name);
    return;
  }
  if (pz_decode_server(data, len, &t->zone, &m) != 0) {
    fail(t, "%s: undecodable message of %zu bytes", p->name, len);
  } else {
    handle(t, p, &m);
    advance(t);
  }
  msgpack_zone_clear(&t->zone);
}

static void on_close(pz_client_t *c, int code, const char *reason,
                     size_t reason_len) {
  peer_t *p = pz_client_data(c);
  test_t *t = test_of(p);
  const pz_client_stats_t *st = pz_client_stats(c);

  p->c = NULL;
  p->closed = true;
  p->close_code = code;
  p->bytes_in = st->bytes_in;
  p->bytes_out = st->bytes_out;
  if (t->step != 10 && !t->failed)
    fail(t, "%s closed early: %d %.*s (%s)", p->name, code, (int)reason_len,
         reason, pz_client_err_name(pz_client_error(c)));
  else if (!t->failed && (code != 1000 || pz_client_error(c) != 0))
    fail(t, "%s closed with %d %.*s (%s), want 1000", p->name, code,
         (int)reason_len, reason, pz_client_err_name(pz_client_error(c)));
  advance(t);
  if (t->alice.c == NULL && t->bob.c == NULL) {
    uv_close((uv_handle_t *)&t->timeout, NULL);
    pz_client_ctx_close(t->ctx);
  }
}

static const pz_client_cbs_t callbacks = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
};

static void connect_peer(test_t *t, peer_t *p) {
  int r = pz_client_connect(t->ctx, t->url, NULL, &callbacks, p, &p->c);
  if (r != 0)
    fail(t, "connect %s: %s", p->name, pz_client_strerror(r));
}

static void on_timeout(uv_timer_t *timer) {
  test_t *t = timer->data;
  peer_t *a = &t->alice, *b = &t->bob;
  fail(t,
       "timed out after %d ms; alice: welcome %d room %d joined %d state %d "
       "chat %d/%d pong %d left %d; bob: welcome %d room %d (alice listed %d) "
       "chat %d whisper %d left %d",
       TIMEOUT_MS, a->welcome, a->room, a->joined_other, a->state_other,
       a->chat_from_alice, a->chat_from_bob, a->pong, a->left_bob, b->welcome,
       b->room, b->room_has_other, b->chat_from_alice, b->whisper, b->left_bob);
}

int main(int argc, char **argv) {
  test_t t;
  uv_loop_t loop;
  int r;

  if (argc != 2) {
    fprintf(stderr, "usage: c_roundtrip ws://HOST:PORT/ws\n");
    return 2;
  }
  memset(&t, 0, sizeof(t));
  snprintf(t.url, sizeof(t.url), "%s", argv[1]);
  t.alice.name = "alice";
  t.bob.name = "bob";
  msgpack_zone_init(&t.zone, 4096);
  uv_loop_init(&loop);
  t.loop = &loop;
  if ((r = pz_client_ctx_create(&loop, &t.ctx)) != 0) {
    fprintf(stderr, "c_roundtrip: ctx: %s\n", pz_client_strerror(r));
    return 1;
  }
  uv_timer_init(&loop, &t.timeout);
  t.timeout.data = &t;
  uv_timer_start(&t.timeout, on_timeout, TIMEOUT_MS, 0);
  connect_peer(&t, &t.alice);
  if (t.failed) {
    uv_close((uv_handle_t *)&t.timeout, NULL);
    pz_client_ctx_close(t.ctx);
  }

  uv_run(&loop, UV_RUN_DEFAULT);
  r = uv_loop_close(&loop);
  msgpack_zone_destroy(&t.zone);
  if (r != 0) {
    fprintf(stderr, "c_roundtrip: FAIL: uv_loop_close: %s (handles leaked)\n",
            uv_strerror(r));
    return 1;
  }
  if (t.failed)
    return 1;
  if (t.step != STEP_DONE) {
    fprintf(stderr, "c_roundtrip: FAIL: stopped at step %d (%s)\n", t.step,
            step_names[t.step]);
    return 1;
  }
  if (!t.alice.protocol_selected || !t.bob.protocol_selected) {
    fprintf(stderr, "c_roundtrip: FAIL: the server did not select plaza.v1\n");
    return 1;
  }
  if (t.alice.bytes_in == 0 || t.alice.bytes_out == 0 || t.bob.bytes_in == 0 ||
      t.bob.bytes_out == 0) {
    fprintf(stderr, "c_roundtrip: FAIL: byte counters stayed at 0\n");
    return 1;
  }
  printf("c_roundtrip: ok (alice %llu B in / %llu B out, bob %llu / %llu)\n",
         (unsigned long long)t.alice.bytes_in,
         (unsigned long long)t.alice.bytes_out,
         (unsigned long long)t.bob.bytes_in,
         (unsigned long long)t.bob.bytes_out);
  return 0;
}
