/*
 * c_app URL: protocol 1.1 through the C library's sessions, against a
 * running plaza started with --resume-grace-ms 1500.
 *
 * bob watches (no reconnect). alice starts with a state and joins: bob
 * sees it in JOINED; her set reaches both as MEMBER; her signals reach
 * bob (the room's, not her; the one to bob's id); she takes the seat with
 * a compare-and-set and bob's try gets ERROR 12 with the version. Her
 * socket is dropped and she changes her state while away: she resumes,
 * and bob sees the change once (the ROOM's difference, not the queued SET
 * as well). carol sets a state and comes back past the grace period: her
 * fresh session's JOINED carries it. Exits 0 on success; otherwise prints
 * the step that did not complete and what was seen, and exits 1. Driven
 * by tests/integration/test_c_client.py.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "plaza/client.h"
#include "plaza/codec.h"
#include "plaza/json.h"
#include "plaza/protocol.h"

#define ROOM "c-app"
#define TIMEOUT_MS 20000

typedef struct peer {
  const char *name;
  pz_client_session_t *s;
  uint64_t id, first_id;
  int rooms, opens, resumed, fresh, reconnecting;
  bool closed;
  /* what bob saw of the others */
  char joined_state[256]; /* the last JOINED's state, as JSON */
  uint64_t joined_id;
  char member[256]; /* the last MEMBER of alice's, as JSON */
  int members_alice;
  int signals_room, signals_direct;
  uint64_t seat_version, seat_by;
  int conflicts;
  uint64_t conflict_version;
  char own_room_state[256]; /* alice: her own entry in her last ROOM */
  int own_members;          /* MEMBERs of one's own */
} peer_t;

typedef struct test {
  pz_client_ctx_t *ctx;
  uv_timer_t timeout;
  peer_t alice, bob, carol;
  int step;
  int members_at_drop;
  bool failed;
  char url[512];
} test_t;

static test_t T;

static const char *step_names[] = {
    "bob joins",
    "alice joins with a state: bob's JOINED carries it",
    "alice sets emote: MEMBER to bob and to her",
    "alice signals the room and bob: bob gets both",
    "alice takes the seat (if_version 0): ROOM_STATE v1 by her",
    "bob tries it (if_version 0): ERROR 12, version 1",
    "alice's socket dropped: reconnecting",
    "alice changes her state away, resumes: bob sees it once",
    "carol joins with a state and sets it",
    "carol's socket dropped past the grace: fresh JOINED with her state",
    "everyone closes",
    "done",
};
enum { STEP_DONE = 11 };

static void fail(const char *fmt, ...) {
  va_list ap;
  if (T.failed)
    return;
  T.failed = true;
  fprintf(stderr, "c_app: FAIL at step %d (%s): ", T.step, step_names[T.step]);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  peer_t *all[] = {&T.alice, &T.bob, &T.carol};
  for (int i = 0; i < 3; i++)
    if (all[i]->s != NULL)
      pz_client_session_abort(all[i]->s);
}

/* A MessagePack value as compact JSON with sorted keys, into out. */
static void as_json(pz_raw_t v, char *out, size_t cap) {
  json_t *j = pz_mpjson_from(v);
  char *s =
      j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
  snprintf(out, cap, "%s", s ? s : "(bad)");
  free(s);
  json_decref(j);
}

/* The MessagePack bytes of a JSON text, in a static buffer per slot. */
static pz_raw_t mp(const char *json, int slot) {
  static msgpack_sbuffer sb[4];
  msgpack_packer pk;
  json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
  msgpack_sbuffer_clear(&sb[slot]);
  msgpack_packer_init(&pk, &sb[slot], msgpack_sbuffer_write);
  if (j == NULL || pz_mpjson_pack(&pk, j, 16) != 0)
    fail("bad JSON in the test: %s", json);
  json_decref(j);
  return (pz_raw_t){sb[slot].data, (uint32_t)sb[slot].size};
}

static bool str_is(pz_str_t s, const char *lit) {
  return s.ptr != NULL && s.len == strlen(lit) &&
         memcmp(s.ptr, lit, s.len) == 0;
}

static void check(const char *what, int r) {
  if (r != 0)
    fail("%s returned %s", what, pz_client_err_name(r));
}

static void on_message(pz_client_session_t *s, const pz_smsg_t *m) {
  peer_t *p = pz_client_session_data(s);

  switch (m->op) {
  case PZ_S_ROOM:
    p->rooms += str_is(m->u.room.room, ROOM);
    for (size_t i = 0; i < m->u.room.n_members; i++)
      if (m->u.room.members[i].id == pz_client_session_id(s))
        as_json(m->u.room.member_states[i], p->own_room_state,
                sizeof(p->own_room_state));
    break;
  case PZ_S_JOINED:
    p->joined_id = m->u.joined.id;
    as_json(m->u.joined_state, p->joined_state, sizeof(p->joined_state));
    break;
  case PZ_S_MEMBER:
    if (m->u.member.id == pz_client_session_id(s))
      p->own_members++;
    if (m->u.member.id == T.alice.id) {
      p->members_alice++;
      as_json(m->u.member.patch, p->member, sizeof(p->member));
    }
    break;
  case PZ_S_SIGNAL:
    if (m->u.signal.from != T.alice.id || !str_is(m->u.signal.name, "alice"))
      fail("%s: a signal from #%llu", p->name,
           (unsigned long long)m->u.signal.from);
    else if (str_is(m->u.signal.kind, "emote"))
      p->signals_room++;
    else if (str_is(m->u.signal.kind, "invite"))
      p->signals_direct++;
    break;
  case PZ_S_ROOM_STATE:
    if (str_is(m->u.room_state.key, "seat")) {
      p->seat_version = m->u.room_state.version;
      p->seat_by = m->u.room_state.by;
    }
    break;
  case PZ_S_ERROR:
    if (m->u.error.code == PZ_ERR_CONFLICT && str_is(m->u.error.key, "seat") &&
        m->u.error.has_version) {
      p->conflicts++;
      p->conflict_version = m->u.error.version;
    } else if (m->u.error.code != PZ_ERR_SESSION_EXPIRED) {
      fail("%s: ERROR %d %.*s", p->name, m->u.error.code,
           (int)m->u.error.message.len, m->u.error.message.ptr);
    }
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
    if (T.step != 10)
      fail("%s closed early: %d %.*s", p->name, ev->code, (int)ev->reason.len,
           ev->reason.ptr);
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

static void start(peer_t *p, bool reconnect, uint32_t delay_ms,
                  const char *state) {
  pz_client_session_opts_t o;
  pz_client_session_opts_init(&o);
  o.name = p->name;
  o.reconnect = reconnect;
  o.backoff_initial_ms = o.backoff_max_ms = delay_ms;
  o.backoff_jitter = 0;
  if (state != NULL)
    o.state = mp(state, 0);
  check("start",
        pz_client_session_start(T.ctx, T.url, &o, &callbacks, p, &p->s));
  if (p->s != NULL)
    check("join", pz_client_session_join(p->s, pz_str_c(ROOM)));
}

static bool own_state_is(peer_t *p, const char *json) {
  char got[256];
  as_json(pz_client_session_state(p->s), got, sizeof(got));
  return strcmp(got, json) == 0;
}

static bool step_done(void) {
  peer_t *a = &T.alice, *b = &T.bob, *c = &T.carol;
  switch (T.step) {
  case 0:
    return b->rooms == 1;
  case 1:
    return a->rooms == 1 && b->joined_id == a->id && a->id != 0;
  case 2:
    return b->members_alice == 1 && a->own_members == 1;
  case 3:
    return b->signals_room == 1 && b->signals_direct == 1;
  case 4:
    return a->seat_version == 1 && b->seat_version == 1;
  case 5:
    return b->conflicts == 1;
  case 6:
    return a->reconnecting == 1;
  case 7:
    return a->opens == 2 && a->rooms == 2 &&
           b->members_alice == T.members_at_drop + 1;
  case 8:
    return c->rooms == 1 && c->id != 0 && b->joined_id == c->id;
  case 9:
    return c->fresh == 1 && c->rooms == 2 && b->joined_id == c->id &&
           c->id != c->first_id;
  case 10:
    return a->closed && b->closed && c->closed;
  default:
    return false;
  }
}

static void step_begin(void) {
  peer_t *a = &T.alice, *b = &T.bob, *c = &T.carol;
  switch (T.step) {
  case 1:
    start(a, true, 300, "{\"color\":\"red\"}");
    break;
  case 2:
    if (strcmp(b->joined_state, "{\"color\":\"red\"}") != 0)
      fail("bob's JOINED of alice carried %s", b->joined_state);
    else if (strcmp(a->own_room_state, "{\"color\":\"red\"}") != 0)
      fail("alice's ROOM shows her state as %s", a->own_room_state);
    else
      check("set_state",
            pz_client_session_set_state(a->s, mp("{\"emote\":\"wave\"}", 0)));
    break;
  case 3:
    if (strcmp(b->member, "{\"emote\":\"wave\"}") != 0)
      fail("bob's MEMBER of alice: %s", b->member);
    else if (!own_state_is(a, "{\"color\":\"red\",\"emote\":\"wave\"}"))
      fail("alice's own state is not red and waving");
    check("signal room",
          pz_client_session_signal(a->s, true, 0, pz_str_c("emote"),
                                   mp("{\"type\":\"wave\"}", 0)));
    check("signal bob",
          pz_client_session_signal(a->s, false, b->id, pz_str_c("invite"),
                                   mp("1", 1)));
    break;
  case 4:
    check("room_set", pz_client_session_room_set(a->s, pz_str_c("seat"),
                                                 mp("{\"id\":1}", 0), true, 0));
    break;
  case 5:
    if (a->seat_by != a->id || b->seat_by != a->id)
      fail("the seat was set by #%llu", (unsigned long long)b->seat_by);
    check("room_set", pz_client_session_room_set(b->s, pz_str_c("seat"),
                                                 mp("{\"id\":2}", 0), true, 0));
    break;
  case 6:
    if (b->conflict_version != 1)
      fail("the conflict named version %llu",
           (unsigned long long)b->conflict_version);
    if (a->signals_room != 0)
      fail("alice got her own room signal");
    T.members_at_drop = b->members_alice;
    pz_client_abort(pz_client_session_client(a->s));
    break;
  case 7:
    check("set_state away",
          pz_client_session_set_state(a->s, mp("{\"color\":\"blue\"}", 0)));
    if (!own_state_is(a, "{\"color\":\"blue\",\"emote\":\"wave\"}"))
      fail("alice's state did not change at once");
    break;
  case 8:
    if (a->resumed != 1 || a->id != a->first_id)
      fail("alice came back as #%llu, resumed %d", (unsigned long long)a->id,
           a->resumed);
    else if (strcmp(b->member, "{\"color\":\"blue\"}") != 0)
      fail("bob's MEMBER of alice after her resume: %s", b->member);
    start(c, true, 2500, "{\"hat\":1}");
    break;
  case 9:
    if (strcmp(b->joined_state, "{\"hat\":1}") != 0)
      fail("bob's JOINED of carol carried %s", b->joined_state);
    check("set_state", pz_client_session_set_state(c->s, mp("{\"hat\":2}", 0)));
    break;
  case 10:
    if (strcmp(b->joined_state, "{\"hat\":2}") != 0)
      fail("carol's fresh JOINED carried %s", b->joined_state);
    else if (b->members_alice != T.members_at_drop + 1)
      fail("bob saw %d MEMBERs of alice after her resume, want 1",
           b->members_alice - T.members_at_drop);
    pz_client_session_close(a->s, true);
    pz_client_session_close(b->s, true);
    pz_client_session_close(c->s, true);
    break;
  default:
    break;
  }
}

static void on_poll(uv_timer_t *t) {
  while (!T.failed && T.step < STEP_DONE && step_done()) {
    T.step++;
    step_begin();
  }
  /* step 9 waits for carol's set to be applied before dropping her */
  if (T.step == 9 && T.carol.own_members == 1 && T.carol.reconnecting == 0 &&
      T.carol.s != NULL && pz_client_session_client(T.carol.s) != NULL)
    pz_client_abort(pz_client_session_client(T.carol.s));
  if (T.step >= STEP_DONE || T.failed)
    uv_close((uv_handle_t *)t, NULL);
}

static void on_timeout(uv_timer_t *timer) {
  (void)timer;
  fail("timed out after %d ms; alice: rooms %d opens %d resumed %d; bob: "
       "members of alice %d signals %d/%d seat v%llu conflicts %d; carol: "
       "rooms %d fresh %d own members %d",
       TIMEOUT_MS, T.alice.rooms, T.alice.opens, T.alice.resumed,
       T.bob.members_alice, T.bob.signals_room, T.bob.signals_direct,
       (unsigned long long)T.bob.seat_version, T.bob.conflicts, T.carol.rooms,
       T.carol.fresh, T.carol.own_members);
}

int main(int argc, char **argv) {
  uv_loop_t loop;
  uv_timer_t poll;
  int r;

  if (argc != 2) {
    fprintf(stderr, "usage: c_app ws://HOST:PORT/ws\n");
    return 2;
  }
  snprintf(T.url, sizeof(T.url), "%s", argv[1]);
  T.alice.name = "alice";
  T.bob.name = "bob";
  T.carol.name = "carol";
  uv_loop_init(&loop);
  if ((r = pz_client_ctx_create(&loop, &T.ctx)) != 0) {
    fprintf(stderr, "c_app: ctx: %s\n", pz_client_strerror(r));
    return 1;
  }
  uv_timer_init(&loop, &T.timeout);
  uv_timer_start(&T.timeout, on_timeout, TIMEOUT_MS, 0);
  uv_timer_init(&loop, &poll);
  uv_timer_start(&poll, on_poll, 10, 10);
  start(&T.bob, false, 0, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  r = uv_loop_close(&loop);
  if (r != 0) {
    fprintf(stderr, "c_app: FAIL: uv_loop_close: %s (handles leaked)\n",
            uv_strerror(r));
    return 1;
  }
  if (T.failed)
    return 1;
  printf("c_app: ok\n");
  return 0;
}
