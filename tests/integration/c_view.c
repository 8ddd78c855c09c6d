/*
 * c_view URL: the C library's VIEW against a running plaza
 * (pz_client_session_view; STATE_C decoded by the session).
 *
 * vic asks for a view of radius 20, compact, before joining; near stands
 * 10 away, far 300 away. vic must get near's entries decoded to its exact
 * place (within 1/128 unit) and none of far's once it is there (at the
 * origin, where JOIN put everyone, it was in view: it leaves with AWAY); near
 * then walks 30 steps and vic's last entry must be its last step with its seq;
 * far walks in to 5 away and enters; near walks out to 200 and vic gets AWAY
 * naming it. Then vic's socket is dropped: the session resumes (its VIEW held
 * by the server and sent again), a new ROOM resets the short ids, and far's
 * next steps still decode exactly. Exits 0 on success; otherwise prints the
 * step that did not complete and exits 1. Driven by test_c_client.py.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "plaza/client.h"
#include "plaza/codec.h"
#include "plaza/protocol.h"

#define ROOM "c-view"
#define TIMEOUT_MS 20000

typedef struct peer {
  const char *name;
  pz_client_session_t *s;
  uint64_t id, seq;
  pz_pos_t at;
  int rooms, opens, resumed;
} peer_t;

static struct {
  uv_loop_t *loop;
  pz_client_ctx_t *ctx;
  uv_timer_t tick, timeout;
  peer_t vic, near, far;
  int step, walked;
  bool failed, closing;
  char url[512];
  /* what vic decoded of near and far */
  pz_state_entry_t last_near, last_far;
  int near_entries, far_entries, away_near, away_far, compact_msgs;
} T;

static const char *step_names[] = {
    "everyone in the room and placed",
    "vic sees near at its place, not far",
    "near walks 30 steps: vic has the last",
    "far walks in: it enters",
    "near walks out: AWAY",
    "vic's socket dropped: resumed, back in the room",
    "far steps again: decoded after the new ROOM",
    "done",
};
enum { STEP_DONE = 7 };

static void fail(const char *fmt, ...) {
  va_list ap;
  if (T.failed)
    return;
  T.failed = true;
  fprintf(stderr, "c_view: FAIL at step %d (%s): ", T.step, step_names[T.step]);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr,
          "\n  near entries %d (last seq %llu x %.3f), far entries %d, away "
          "%d, STATE_C %d\n",
          T.near_entries, (unsigned long long)T.last_near.seq,
          T.last_near.pos.x, T.far_entries, T.away_near, T.compact_msgs);
  peer_t *all[] = {&T.vic, &T.near, &T.far};
  for (int i = 0; i < 3; i++)
    if (all[i]->s != NULL)
      pz_client_session_abort(all[i]->s);
}

static void check(const char *what, int r) {
  if (r != 0)
    fail("%s returned %s", what, pz_client_err_name(r));
}

static bool same_place(const pz_state_entry_t *e, const peer_t *p) {
  return e->seq == p->seq && fabsf(e->pos.x - p->at.x) <= 1.0f / 128 &&
         fabsf(e->pos.z - p->at.z) <= 1.0f / 128 &&
         fabsf(e->pos.yaw - p->at.yaw) <= 1.0f / 512;
}

static void on_message(pz_client_session_t *s, const pz_smsg_t *m) {
  peer_t *p = pz_client_session_data(s);
  if (m->op == PZ_S_ROOM)
    p->rooms++;
  if (m->op == PZ_S_ERROR)
    fail("%s: ERROR %d %.*s", p->name, m->u.error.code,
         (int)m->u.error.message.len, m->u.error.message.ptr);
  if (p != &T.vic)
    return;
  if (m->op == PZ_S_STATE)
    fail("vic asked for compact and got a STATE");
  if (m->op == PZ_S_STATE_C) {
    T.compact_msgs++;
    for (size_t i = 0; i < m->u.state.n; i++) {
      const pz_state_entry_t *e = &m->u.state.entries[i];
      if (e->id == T.near.id) {
        T.last_near = *e;
        T.near_entries++;
      } else if (e->id == T.far.id) {
        T.last_far = *e;
        T.far_entries++;
      }
    }
  }
  if (m->op == PZ_S_AWAY)
    for (size_t i = 0; i < m->u.away.n; i++) {
      T.away_near += m->u.away.ids[i] == T.near.id;
      T.away_far += m->u.away.ids[i] == T.far.id;
    }
}

static void on_status(pz_client_session_t *s,
                      const pz_client_session_event_t *ev) {
  peer_t *p = pz_client_session_data(s);
  if (ev->status == PZ_CLIENT_SESSION_OPEN) {
    p->opens++;
    p->resumed += ev->resumed;
    p->id = pz_client_session_id(s);
  } else if (ev->status == PZ_CLIENT_SESSION_CLOSED) {
    p->s = NULL;
    if (!T.closing)
      fail("%s closed early: %d", p->name, ev->code);
    if (T.vic.s == NULL && T.near.s == NULL && T.far.s == NULL) {
      uv_close((uv_handle_t *)&T.tick, NULL);
      uv_close((uv_handle_t *)&T.timeout, NULL);
      pz_client_ctx_close(T.ctx);
    }
  }
}

static const pz_client_session_cbs_t callbacks = {on_message, on_status};

static void start(peer_t *p) {
  pz_client_session_opts_t o;
  pz_client_session_opts_init(&o);
  o.name = p->name;
  o.backoff_initial_ms = o.backoff_max_ms = 200;
  o.backoff_jitter = 0;
  check("start",
        pz_client_session_start(T.ctx, T.url, &o, &callbacks, p, &p->s));
  if (p == &T.vic)
    check("view", pz_client_session_view(p->s, 20, true));
  check("join", pz_client_session_join(p->s, pz_str_c(ROOM)));
}

static void go(peer_t *p, float x, float z) {
  p->at = (pz_pos_t){x, 0, z, x / 64};
  check("move", pz_client_session_move(p->s, p->at, &p->seq));
}

static bool step_done(void) {
  switch (T.step) {
  case 0:
    return T.vic.rooms && T.near.rooms && T.far.rooms;
  case 1: /* far, seen at the origin where JOIN put it, has gone */
    return T.near_entries > 0 && same_place(&T.last_near, &T.near) &&
           (T.far_entries == 0 || T.away_far == 1);
  case 2:
    return T.walked == 30 && same_place(&T.last_near, &T.near);
  case 3:
    return T.far_entries > 0 && same_place(&T.last_far, &T.far);
  case 4:
    return T.away_near == 1;
  case 5:
    return T.vic.resumed == 1 && T.vic.rooms == 2;
  case 6:
    return T.far_entries > T.walked && same_place(&T.last_far, &T.far);
  default:
    return false;
  }
}

static void next(void) {
  switch (++T.step) {
  case 2:
    T.far_entries = 0; /* from here on it is 300 away */
    break;
  case 1:
    go(&T.vic, 0, 0);
    go(&T.near, 10, 0);
    go(&T.far, 300, 0);
    break;
  case 3:
    if (T.far_entries != 0)
      fail("far (300 away) was carried");
    go(&T.far, 5, 0); /* a spawn: its first move */
    break;
  case 4:
    go(&T.near, 200, 0);
    break;
  case 5:
    if (T.away_near != 1)
      fail("AWAY named near %d times", T.away_near);
    T.walked = T.far_entries;
    pz_client_abort(pz_client_session_client(T.vic.s));
    break;
  case 6:
    go(&T.far, 6, 1);
    break;
  case STEP_DONE:
    T.closing = true;
    pz_client_session_close(T.vic.s, true);
    pz_client_session_close(T.near.s, true);
    pz_client_session_close(T.far.s, true);
    break;
  default:
    break;
  }
}

static void on_tick(uv_timer_t *t) {
  if (T.failed || T.closing)
    return;
  if (T.step == 2 && T.walked < 30) { /* a step of 1.2 every 40 ms */
    go(&T.near, 10 + 1.2f * (float)++T.walked / 4, 0);
    return;
  }
  if (T.step == 6 && T.far_entries <= T.walked) {
    go(&T.far, 6 + 0.5f * (float)(T.far_entries - T.walked), 1);
  }
  if (step_done())
    next();
}

static void on_timeout(uv_timer_t *t) {
  fail("timed out after %d ms", TIMEOUT_MS);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: c_view ws://host:port/ws\n");
    return 2;
  }
  snprintf(T.url, sizeof(T.url), "%s", argv[1]);
  T.loop = uv_default_loop();
  if (pz_client_ctx_create(T.loop, &T.ctx) != 0)
    return 1;
  T.vic.name = "vic";
  T.near.name = "near";
  T.far.name = "far";
  uv_timer_init(T.loop, &T.tick);
  uv_timer_init(T.loop, &T.timeout);
  uv_timer_start(&T.tick, on_tick, 40, 40);
  uv_timer_start(&T.timeout, on_timeout, TIMEOUT_MS, 0);
  start(&T.vic);
  start(&T.near);
  start(&T.far);
  uv_run(T.loop, UV_RUN_DEFAULT);
  int closed = uv_loop_close(T.loop);
  if (!T.failed && T.step != STEP_DONE)
    fail("loop ended early");
  if (T.failed)
    return 1;
  if (closed != 0) {
    fprintf(stderr, "c_view: handles left open\n");
    return 1;
  }
  printf("c_view: ok (%d STATE_C, near %d entries, far %d)\n", T.compact_msgs,
         T.near_entries, T.far_entries);
  return 0;
}
