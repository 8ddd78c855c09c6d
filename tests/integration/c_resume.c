/*
 * c_resume URL: the C library's sessions (pz_client_session_*) come back
 * after a dropped socket, against a running plaza started with
 * --resume-grace-ms 1500.
 *
 * bob watches (a session without reconnect); alice reconnects after 300 ms
 * (no jitter): her socket is dropped, bob chats meanwhile and alice types a
 * line meanwhile; she must come back with the same id and room, get bob's
 * chat exactly once (and the chat she had seen not again), her line must
 * reach bob, and bob must see neither LEFT nor JOINED for her. carol
 * reconnects after 2500 ms, past the grace period: her resume is refused
 * (ERROR 9), she gets a fresh session with a new id that is back in the
 * room by itself, and says so (`fresh`). Then everyone closes, and the loop
 * must close with no handle left. Exits 0 on success; otherwise prints the
 * step that did not complete and what was seen, and exits 1. Driven by
 * tests/integration/test_c_client.py.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "plaza/client.h"
#include "plaza/codec.h"
#include "plaza/protocol.h"

#define ROOM "c-resume"
#define TIMEOUT_MS 20000
#define MAX_IDS 8

typedef struct peer {
  const char *name;
  pz_client_session_t *s;
  uint64_t id, first_id;
  int rooms;        /* ROOMs of ROOM received */
  int seen, missed; /* chat "seen-1" / "missed-1" delivered */
  int queued;       /* chat "queued-a" delivered */
  int expired;      /* ERROR 9 */
  int opens, resumed, fresh, reconnecting;
  bool closed;
  int close_code;
  uint64_t joined[MAX_IDS], left[MAX_IDS]; /* bob: others' JOINED / LEFT */
  int n_joined, n_left;
} peer_t;

typedef struct test {
  uv_loop_t *loop;
  pz_client_ctx_t *ctx;
  uv_timer_t timeout;
  peer_t alice, bob, carol;
  int step;
  bool failed;
  char url[512];
} test_t;

static test_t T;

static const char *step_names[] = {
    "bob joins",
    "alice joins; bob sees JOINED alice",
    "bob says seen-1; alice gets it",
    "alice's socket dropped: she is reconnecting",
    "alice resumed: same id, missed-1 once, her queued line reached bob",
    "carol joins",
    "carol's socket dropped, resume refused: fresh session back in the room",
    "everyone closes",
    "done",
};
enum { STEP_DONE = 8 };

static void fail(const char *fmt, ...) {
  va_list ap;
  if (T.failed)
    return;
  T.failed = true;
  fprintf(stderr, "c_resume: FAIL at step %d (%s): ", T.step,
          step_names[T.step]);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  peer_t *all[] = {&T.alice, &T.bob, &T.carol};
  for (int i = 0; i < 3; i++)
    if (all[i]->s != NULL)
      pz_client_session_abort(all[i]->s);
}

static bool str_is(pz_str_t s, const char *lit) {
  return s.ptr != NULL && s.len == strlen(lit) &&
         memcmp(s.ptr, lit, s.len) == 0;
}

static bool listed(const uint64_t *ids, int n, uint64_t id) {
  for (int i = 0; i < n; i++)
    if (ids[i] == id)
      return true;
  return false;
}

static void check(const char *what, int r) {
  if (r != 0)
    fail("%s returned %s", what, pz_client_err_name(r));
}

static void on_message(pz_client_session_t *s, const pz_smsg_t *m) {
  peer_t *p = pz_client_session_data(s);

  switch (m->op) {
  case PZ_S_ROOM:
    if (str_is(m->u.room.room, ROOM))
      p->rooms++;
    for (size_t i = 0; i < m->u.room.n_history; i++) {
      p->seen += str_is(m->u.room.history[i].text, "seen-1");
      p->missed += str_is(m->u.room.history[i].text, "missed-1");
      p->queued += str_is(m->u.room.history[i].text, "queued-a");
    }
    break;
  case PZ_S_CHAT:
    p->seen += str_is(m->u.chat.text, "seen-1");
    p->missed += str_is(m->u.chat.text, "missed-1");
    p->queued += str_is(m->u.chat.text, "queued-a");
    break;
  case PZ_S_JOINED:
    if (p->n_joined < MAX_IDS)
      p->joined[p->n_joined++] = m->u.joined.id;
    break;
  case PZ_S_LEFT:
    if (p->n_left < MAX_IDS)
      p->left[p->n_left++] = m->u.left.id;
    break;
  case PZ_S_ERROR:
    if (m->u.error.code == PZ_ERR_SESSION_EXPIRED)
      p->expired++;
    else
      fail("%s: ERROR %d %.*s", p->name, m->u.error.code,
           (int)m->u.error.message.len, m->u.error.message.ptr);
    break;
  default:
    break;
  }
}

static void on_status(pz_client_session_t *s,
                      const pz_client_session_event_t *ev) {
  peer_t *p = pz_client_session_data(s);

  switch (ev->status) {
  case PZ_CLIENT_SESSION_OPEN:
    p->opens++;
    p->resumed += ev->resumed;
    p->fresh += ev->fresh;
    p->id = pz_client_session_id(s);
    if (p->first_id == 0)
      p->first_id = p->id;
    break;
  case PZ_CLIENT_SESSION_RECONNECTING:
    p->reconnecting++;
    break;
  case PZ_CLIENT_SESSION_CLOSED:
    p->s = NULL;
    p->closed = true;
    p->close_code = ev->code;
    if (T.step != 7)
      fail("%s closed early: %d %.*s (%s)", p->name, ev->code,
           (int)ev->reason.len, ev->reason.ptr, pz_client_err_name(ev->err));
    if (T.alice.s == NULL && T.bob.s == NULL && T.carol.s == NULL) {
      uv_close((uv_handle_t *)&T.timeout, NULL);
      pz_client_ctx_close(T.ctx);
    }
    break;
  default:
    break;
  }
}

static const pz_client_session_cbs_t callbacks = {
    .on_message = on_message,
    .on_status = on_status,
};

static void start(peer_t *p, bool reconnect, uint32_t delay_ms) {
  pz_client_session_opts_t o;
  pz_client_session_opts_init(&o);
  o.name = p->name;
  o.reconnect = reconnect;
  o.backoff_initial_ms = delay_ms;
  o.backoff_max_ms = delay_ms;
  o.backoff_jitter = 0;
  check("start",
        pz_client_session_start(T.ctx, T.url, &o, &callbacks, p, &p->s));
  if (p->s != NULL)
    check("join", pz_client_session_join(p->s, pz_str_c(ROOM)));
}

/* Is the current step complete? Then its successor's action is run. */
static bool step_done(void) {
  peer_t *a = &T.alice, *b = &T.bob, *c = &T.carol;
  switch (T.step) {
  case 0:
    return b->rooms == 1;
  case 1:
    return a->rooms == 1 && listed(b->joined, b->n_joined, a->id);
  case 2:
    return a->seen == 1;
  case 3:
    return a->reconnecting == 1;
  case 4:
    return a->opens == 2 && a->missed >= 1 && b->queued == 1 && a->rooms == 2;
  case 5:
    return c->rooms == 1 && listed(b->joined, b->n_joined, c->id);
  case 6:
    return c->fresh == 1 && c->rooms == 2 && c->id != c->first_id &&
           listed(b->joined, b->n_joined, c->id);
  case 7:
    return a->closed && b->closed && c->closed;
  default:
    return false;
  }
}

static void step_begin(void) {
  peer_t *a = &T.alice, *b = &T.bob, *c = &T.carol;
  switch (T.step) {
  case 1:
    start(a, true, 300);
    break;
  case 2:
    check("chat", pz_client_session_chat(b->s, pz_str_c("seen-1")));
    break;
  case 3:
    /* Drop alice's socket, as a network would: no close frame. */
    pz_client_abort(pz_client_session_client(a->s));
    break;
  case 4:
    /* alice is away for 300 ms: bob speaks, alice types. */
    check("chat", pz_client_session_chat(b->s, pz_str_c("missed-1")));
    check("chat while away",
          pz_client_session_chat(a->s, pz_str_c("queued-a")));
    if (pz_client_session_ping(a->s, 1) != PZ_CLIENT_ESTATE)
      fail("a ping while away was not refused");
    break;
  case 5:
    if (a->resumed != 1 || a->id != a->first_id)
      fail("alice came back as #%llu (was #%llu), resumed %d",
           (unsigned long long)a->id, (unsigned long long)a->first_id,
           a->resumed);
    else if (a->seen != 1 || a->missed != 1)
      fail("alice got seen-1 %d times and missed-1 %d times, want once each",
           a->seen, a->missed);
    else if (b->n_left != 0 || b->n_joined != 1)
      fail("bob saw %d LEFT and %d JOINED during alice's resume", b->n_left,
           b->n_joined);
    else
      start(c, true, 2500);
    break;
  case 6:
    pz_client_abort(pz_client_session_client(c->s));
    break;
  case 7:
    if (a->seen != 1 || a->missed != 1) /* a late replay counts too */
      fail("alice got seen-1 %d times and missed-1 %d times, want once each",
           a->seen, a->missed);
    else if (c->expired != 1 || c->resumed != 0)
      fail("carol: ERROR 9 %d times, resumed %d", c->expired, c->resumed);
    else if (!listed(b->left, b->n_left, c->first_id))
      fail("bob never saw carol's first session leave");
    pz_client_session_close(a->s, true);
    pz_client_session_close(b->s, true);
    pz_client_session_close(c->s, true);
    break;
  default:
    break;
  }
}

static void advance(void) {
  while (!T.failed && T.step < STEP_DONE && step_done()) {
    T.step++;
    step_begin();
  }
}

/* Steps complete on messages and status changes of any session; a timer
 * looks often enough (and the last step ends the loop). */
static void on_poll(uv_timer_t *t) {
  advance();
  if (T.step >= STEP_DONE || T.failed)
    uv_close((uv_handle_t *)t, NULL);
}

static void on_timeout(uv_timer_t *timer) {
  (void)timer;
  fail("timed out after %d ms; alice: rooms %d seen %d missed %d opens %d "
       "resumed %d reconnecting %d; bob: rooms %d queued %d joined %d left "
       "%d; carol: rooms %d opens %d fresh %d expired %d",
       TIMEOUT_MS, T.alice.rooms, T.alice.seen, T.alice.missed, T.alice.opens,
       T.alice.resumed, T.alice.reconnecting, T.bob.rooms, T.bob.queued,
       T.bob.n_joined, T.bob.n_left, T.carol.rooms, T.carol.opens,
       T.carol.fresh, T.carol.expired);
}

int main(int argc, char **argv) {
  uv_loop_t loop;
  uv_timer_t poll;
  int r;

  if (argc != 2) {
    fprintf(stderr, "usage: c_resume ws://HOST:PORT/ws\n");
    return 2;
  }
  snprintf(T.url, sizeof(T.url), "%s", argv[1]);
  T.alice.name = "alice";
  T.bob.name = "bob";
  T.carol.name = "carol";
  uv_loop_init(&loop);
  T.loop = &loop;
  if ((r = pz_client_ctx_create(&loop, &T.ctx)) != 0) {
    fprintf(stderr, "c_resume: ctx: %s\n", pz_client_strerror(r));
    return 1;
  }
  uv_timer_init(&loop, &T.timeout);
  uv_timer_start(&T.timeout, on_timeout, TIMEOUT_MS, 0);
  uv_timer_init(&loop, &poll);
  uv_timer_start(&poll, on_poll, 10, 10);
  start(&T.bob, false, 0);
  if (T.failed) {
    uv_close((uv_handle_t *)&T.timeout, NULL);
    uv_close((uv_handle_t *)&poll, NULL);
    pz_client_ctx_close(T.ctx);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  r = uv_loop_close(&loop);
  if (r != 0) {
    fprintf(stderr, "c_resume: FAIL: uv_loop_close: %s (handles leaked)\n",
            uv_strerror(r));
    return 1;
  }
  if (T.failed)
    return 1;
  if (T.alice.close_code != 1000 || T.bob.close_code != 1000 ||
      T.carol.close_code != 1000) {
    fprintf(stderr, "c_resume: FAIL: closes %d %d %d, want 1000\n",
            T.alice.close_code, T.bob.close_code, T.carol.close_code);
    return 1;
  }
  printf("c_resume: ok (alice #%llu resumed, carol #%llu -> #%llu fresh)\n",
         (unsigned long long)T.alice.id, (unsigned long long)T.carol.first_id,
         (unsigned long long)T.carol.id);
  return 0;
}
