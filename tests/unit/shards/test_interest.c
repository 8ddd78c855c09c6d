/*
 * Guards interest management (shards/interest.c, grid.c): VIEW's radius
 * with hysteresis (in at <= r, out past 1.25 r, AWAY once), an entering
 * member carried with its current position though it did not move, the
 * client's own entry always carried, only movers looked at by a viewer
 * that stood still, views across JOIN and resume, VIEW changes (AWAY for
 * who is out, a full STATE; back to the whole room: the v1 full STATE),
 * clients without a VIEW keeping one shared STATE, members of other nodes
 * (remote.c) in views the same way, a remote member turned local keeping
 * its short id, STATE_C decoding to the exact positions, and a slow reader
 * with view + compact that is exact at every STATE it reads.
 *
 * A client is modelled as docs/protocol.md tells one to read: a table of
 * short ids reset at each ROOM (pz_compact_decode), the members carried
 * since (in view) minus AWAY and LEFT, and the latest position of each.
 */
#include "shard_fixture.h"

#include <math.h>

#include "grid.h"
#include "view.h"

/* ---- a client's picture --------------------------------------------------
 */

#define MAXM 64

typedef struct cli {
  pz_compact_t t;
  size_t done; /* rec messages read */
  uint64_t id[MAXM];
  pz_state_entry_t last[MAXM]; /* latest carried */
  bool in[MAXM];
  int aways[MAXM]; /* times named in AWAY */
  int entries;     /* carried this read */
  int n;
} cli_t;

static int slot(cli_t *c, uint64_t id) {
  for (int i = 0; i < c->n; i++)
    if (c->id[i] == id)
      return i;
  assert_true(c->n < MAXM);
  c->id[c->n] = id;
  return c->n++;
}

/* Reads what rec got since the last read, as a client would. */
static void read_msgs(rec_t *r, cli_t *c) {
  c->entries = 0;
  for (; c->done < r->n; c->done++) {
    pz_smsg_t *m = &r->msgs[c->done].m;
    switch (m->op) {
    case PZ_S_ROOM:
      pz_compact_reset(&c->t);
      for (int i = 0; i < c->n; i++)
        c->in[i] = false;
      break;
    case PZ_S_AWAY:
      for (size_t k = 0; k < m->u.away.n; k++) {
        int i = slot(c, m->u.away.ids[k]);
        c->in[i] = false;
        c->aways[i]++;
      }
      break;
    case PZ_S_LEFT:
      c->in[slot(c, m->u.left.id)] = false;
      break;
    case PZ_S_STATE_C:
      if (pz_compact_decode(&c->t, m, &r->zone) != 0)
        fail_msg("STATE_C of tick %llu does not decode",
                 (unsigned long long)m->u.state.tick);
      /* fall through */
    case PZ_S_STATE:
      for (size_t k = 0; k < m->u.state.n; k++) {
        int i = slot(c, m->u.state.entries[k].id);
        c->last[i] = m->u.state.entries[k];
        c->in[i] = true;
        c->entries++;
      }
      break;
    default:
      break;
    }
  }
}

static bool sees(cli_t *c, uint64_t id) {
  for (int i = 0; i < c->n; i++)
    if (c->id[i] == id)
      return c->in[i];
  return false;
}

static int aways(cli_t *c, uint64_t id) {
  for (int i = 0; i < c->n; i++)
    if (c->id[i] == id)
      return c->aways[i];
  return 0;
}

static const pz_state_entry_t *last(cli_t *c, uint64_t id) {
  for (int i = 0; i < c->n; i++)
    if (c->id[i] == id)
      return &c->last[i];
  return NULL;
}

/* The client holds member s at its current seq and position (within the
 * compact precision). */
static void assert_exact(cli_t *c, const pz_session_t *s) {
  const pz_state_entry_t *e = last(c, s->id);
  if (e == NULL)
    fail_msg("no entry ever for %llu", (unsigned long long)s->id);
  assert_int_equal(e->seq, s->seq);
  assert_true(fabsf(e->pos.x - s->pos.x) <= 1.0f / 128);
  assert_true(fabsf(e->pos.z - s->pos.z) <= 1.0f / 128);
  assert_true(fabsf(e->pos.yaw - s->pos.yaw) <= 1.0f / 512);
}

static void cli_init(cli_t *c) {
  memset(c, 0, sizeof(*c));
  pz_compact_init(&c->t);
}

static void put(fx_t *f, pz_session_t *s, uint64_t seq, float x, float z) {
  pz_pos_t p = {x, 0, z, x / 100};
  assert_int_equal(pz_shard_move(&f->sh, s, seq, &p, 0), PZ_SHARD_OK);
}

static void view(fx_t *f, pz_session_t *s, double r, bool compact) {
  assert_int_equal(pz_shard_view(&f->sh, s, r, compact), PZ_SHARD_OK);
}

/* Sessions 0..n-1 in "plaza", placed on the x axis at xs[i]. */
static void crowd(fx_t *f, pz_session_t **s, int n, const float *xs) {
  for (int i = 0; i < n; i++) {
    s[i] = mk(f, i);
    join(f, s[i], "plaza");
    put(f, s[i], 1, xs[i], 0);
  }
  pz_shard_tick(&f->sh);
}

/* ---- radius and hysteresis -----------------------------------------------
 */

static void run_radius(fx_t *f, bool compact) {
  pz_session_t *s[5];
  const float xs[5] = {0, 10, 12, 13, 40};
  crowd(f, s, 5, xs);
  clear_all(f);
  cli_t c;
  cli_init(&c);
  view(f, s[0], 10, compact);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  /* It had the whole room: within 12.5 stay, past it go (AWAY). */
  assert_true(sees(&c, s[0]->id));
  assert_true(sees(&c, s[1]->id));
  assert_true(sees(&c, s[2]->id)); /* 12: between r and 1.25 r, kept */
  assert_false(sees(&c, s[3]->id));
  assert_false(sees(&c, s[4]->id));
  assert_int_equal(aways(&c, s[3]->id), 1);
  assert_int_equal(aways(&c, s[4]->id), 1);
  assert_int_equal(aways(&c, s[2]->id), 0);
  /* A full STATE of the view: everyone in it with its place. */
  assert_exact(&c, s[0]);
  assert_exact(&c, s[2]);

  /* 13 steps in to 9.5 (<= r): enters, carried at its current place. */
  put(f, s[3], 2, 9.5f, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, s[3]->id));
  assert_exact(&c, s[3]);
  assert_int_equal(c.entries, 1);
  /* 12 wanders to 12.4 and back: never past 12.5, never AWAY. */
  put(f, s[2], 2, 12.4f, 0);
  pz_shard_tick(&f->sh);
  put(f, s[2], 3, 11, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, s[2]->id));
  assert_exact(&c, s[2]);
  assert_int_equal(aways(&c, s[2]->id), 0);
  /* Past 1.25 r: AWAY once, and nothing more of it while it walks away. */
  put(f, s[2], 4, 12.6f, 0);
  pz_shard_tick(&f->sh);
  put(f, s[2], 5, 20, 0);
  pz_shard_tick(&f->sh);
  put(f, s[2], 6, 11, 0); /* 11: within 1.25 r but not r: stays out */
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_false(sees(&c, s[2]->id));
  assert_int_equal(aways(&c, s[2]->id), 1);
  assert_int_equal(last(&c, s[2]->id)->seq, 3); /* its last while in view */
  /* The viewer walks to it instead: it enters at <= r (distance 9). */
  put(f, s[0], 2, 2, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, s[2]->id));
  assert_exact(&c, s[2]);
  assert_exact(&c, s[0]); /* its own entry, always */
  /* ... and those it walks away from go: at 22, the one at 9.5 is 12.5
   * off (not past 1.25 r: stays), at 23 it is 13.5 off: AWAY. */
  put(f, s[0], 3, 22, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(aways(&c, s[3]->id), 1);
  assert_true(sees(&c, s[3]->id));
  put(f, s[0], 4, 23, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(aways(&c, s[3]->id), 2);
  assert_true(sees(&c, s[0]->id)); /* never away from itself */
  pz_compact_dispose(&c.t);
}

static void test_radius_and_hysteresis(void **state) {
  run_radius(*state, false);
}

static void test_radius_and_hysteresis_compact(void **state) {
  run_radius(*state, true);
}

/* A viewer that stands still is sent only what moved in its view; one that
 * did not move and is out of its view is not carried. */
static void test_only_what_moved_in_view(void **state) {
  fx_t *f = *state;
  pz_session_t *s[4];
  const float xs[4] = {0, 5, 6, 100};
  crowd(f, s, 4, xs);
  cli_t c;
  cli_init(&c);
  view(f, s[0], 20, true);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  size_t before = f->rec[0].n;
  put(f, s[1], 2, 5.5f, 1);
  put(f, s[3], 2, 101, 0); /* far away */
  pz_shard_tick(&f->sh);
  /* s0 got one STATE_C with one entry: s1's delta. */
  assert_int_equal(f->rec[0].n, before + 1);
  assert_int_equal(f->rec[0].msgs[before].m.op, PZ_S_STATE_C);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(c.entries, 1);
  assert_exact(&c, s[1]);
  assert_false(sees(&c, s[3]->id));
  /* Nobody moved: nothing at all. */
  pz_shard_tick(&f->sh);
  assert_int_equal(f->rec[0].n, before + 1);
  pz_compact_dispose(&c.t);
}

/* ---- without VIEW: v1 untouched ------------------------------------------
 */

static void test_without_view_one_shared_state(void **state) {
  fx_t *f = *state;
  pz_session_t *s[4];
  const float xs[4] = {0, 5, 6, 100};
  crowd(f, s, 4, xs);
  view(f, s[0], 10, true);
  pz_shard_tick(&f->sh);
  clear_all(f);
  put(f, s[3], 2, 99, 0);
  put(f, s[1], 2, 4, 0);
  pz_shard_tick(&f->sh);
  /* The others: the same STATE payload, both movers, as in v1. */
  const pz_smsg_t *m1 = only(f, 1, PZ_S_STATE);
  assert_int_equal(m1->u.state.n, 2);
  assert_non_null(f->rec[1].msgs[0].shared);
  assert_ptr_equal(f->rec[1].msgs[0].shared, f->rec[2].msgs[0].shared);
  assert_ptr_equal(f->rec[1].msgs[0].shared, f->rec[3].msgs[0].shared);
  /* The viewer: its own. */
  assert_int_equal(only(f, 0, PZ_S_STATE_C)->u.state.n, 1);
}

/* ---- views across JOIN and resume ----------------------------------------
 */

static void test_view_across_join_and_resume(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0), *b = mk(f, 1), *c = mk(f, 2);
  view(f, a, 10, true); /* before any room: kept for the first */
  join(f, a, "one");
  join(f, b, "one");
  join(f, c, "two");
  put(f, a, 1, 0, 0);
  put(f, b, 1, 50, 0);
  pz_shard_tick(&f->sh);
  clear_all(f);
  cli_t v;
  cli_init(&v);
  put(f, b, 2, 5, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &v);
  assert_true(sees(&v, b->id));
  /* JOIN "two": the view (radius, compact) goes along, starting empty. */
  pz_shard_leave(&f->sh, a, false);
  join(f, a, "two");
  put(f, c, 1, 3, 0);
  put(f, a, 2, 0, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &v);
  assert_non_null(a->view);
  assert_true(sees(&v, c->id));
  assert_true(sees(&v, a->id));
  assert_exact(&v, c);
  /* A resume: detach, attach, ROOM; the view holds, and starts over. */
  pz_shard_session_detach(&f->sh, a, 1000);
  put(f, c, 2, 4, 0);
  pz_shard_tick(&f->sh);
  pz_shard_session_attach(&f->sh, a, &f->rec[0].outlet);
  pz_shard_send_room(&f->sh, a, false, 0);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &v);
  assert_true(sees(&v, c->id));
  assert_exact(&v, c);
  assert_exact(&v, a);
  assert_true(a->view->compact);
  assert_float_equal(a->view->radius, 10, 0);
  pz_compact_dispose(&v.t);
}

/* ---- VIEW changes ----------------------------------------------------------
 */

static void test_view_changes(void **state) {
  fx_t *f = *state;
  pz_session_t *s[4];
  const float xs[4] = {0, 5, 15, 30};
  crowd(f, s, 4, xs);
  cli_t c;
  cli_init(&c);
  view(f, s[0], 40, true);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, s[3]->id));
  /* Narrower: 15 and 30 are past 1.25 * 8. */
  view(f, s[0], 8, true);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_false(sees(&c, s[2]->id));
  assert_false(sees(&c, s[3]->id));
  assert_true(sees(&c, s[1]->id));
  assert_int_equal(aways(&c, s[2]->id), 1);
  /* The same VIEW again: nothing. */
  size_t n = f->rec[0].n;
  view(f, s[0], 8, true);
  pz_shard_tick(&f->sh);
  assert_int_equal(f->rec[0].n, n);
  /* Back to the whole room as STATE: a full v1 STATE at the next tick. */
  view(f, s[0], 0, false);
  assert_null(s[0]->view);
  clear_all(f);
  pz_shard_tick(&f->sh);
  const pz_smsg_t *m = only(f, 0, PZ_S_STATE);
  assert_int_equal(f->rec[0].msgs[0].kind, PZ_PAYLOAD_STATE_FULL);
  assert_int_equal(m->u.state.n, 4);
  /* Nobody has a view: the room has no grid. */
  assert_null(find_room(f, "plaza")->grid);
  pz_compact_dispose(&c.t);
}

/* radius 0 with compact: the whole room as STATE_C. */
static void test_whole_room_compact(void **state) {
  fx_t *f = *state;
  pz_session_t *s[4];
  const float xs[4] = {0, 500, 1500, 3000};
  crowd(f, s, 4, xs);
  cli_t c;
  cli_init(&c);
  view(f, s[0], 0, true);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  for (int i = 0; i < 4; i++) {
    assert_true(sees(&c, s[i]->id));
    assert_exact(&c, s[i]);
  }
  put(f, s[3], 2, 3001, 2);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(c.entries, 1);
  assert_exact(&c, s[3]);
  /* a newcomer enters the whole-room view once it is placed */
  pz_session_t *e = mk(f, 4);
  join(f, e, "plaza");
  put(f, e, 1, 7777, 7);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_exact(&c, e);
  pz_compact_dispose(&c.t);
}

/* ---- members on other nodes ------------------------------------------------
 */

static void test_remote_members_in_views(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0);
  join(f, a, "plaza");
  put(f, a, 1, 0, 0);
  pz_room_t *r = find_room(f, "plaza");
  pz_member_t near = {900, pz_str_c("near"), {3, 0, 4, 0}};
  pz_member_t far = {901, pz_str_c("far"), {300, 0, 4, 0}};
  pz_shard_remote_join(&f->sh, r, &near, 7, true);
  pz_shard_remote_join(&f->sh, r, &far, 7, true);
  view(f, a, 10, true);
  pz_shard_tick(&f->sh);
  cli_t c;
  cli_init(&c);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, 900)); /* never moved: carried at its JOIN place */
  assert_false(sees(&c, 901));
  assert_int_equal(aways(&c, 901), 1); /* it had the whole room before */
  /* the far one walks in through the bus */
  pz_state_entry_t e = {901, 5, {6, 0, 0, 1}};
  pz_shard_remote_state(&f->sh, r, &e);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, 901));
  assert_int_equal(last(&c, 901)->seq, 5);
  assert_float_equal(last(&c, 901)->pos.x, 6, 0);
  /* and on */
  e = (pz_state_entry_t){901, 6, {6.5f, 0, 0.25f, 1.5f}};
  pz_shard_remote_state(&f->sh, r, &e);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(last(&c, 901)->seq, 6);
  assert_float_equal(last(&c, 901)->pos.z, 0.25, 0);
  /* LEFT through the bus: no AWAY; a handoff elsewhere: AWAY. */
  pz_shard_remote_leave(&f->sh, r, 901, true);
  pz_shard_remote_leave(&f->sh, r, 900, false);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(aways(&c, 901), 1);
  assert_int_equal(aways(&c, 900), 1);
  assert_false(sees(&c, 900));
  pz_compact_dispose(&c.t);
}

/* A member known through another node resumes here: same short id, no
 * AWAY, and a full entry next (its baseline is not the remote one's). */
static void test_remote_turned_local_keeps_its_short_id(void **state) {
  fx_t *f = *state;
  pz_session_t *a = mk(f, 0);
  join(f, a, "plaza");
  put(f, a, 1, 0, 0);
  pz_room_t *r = find_room(f, "plaza");
  view(f, a, 10, true);
  pz_member_t zed = {105, pz_str_c("fay"), {2, 0, 2, 0}};
  pz_shard_remote_join(&f->sh, r, &zed, 7, true);
  pz_shard_tick(&f->sh);
  cli_t c;
  cli_init(&c);
  read_msgs(&f->rec[0], &c);
  assert_true(sees(&c, 105));
  uint32_t idx = pz_shard_remote_find(r, 105)->vidx;
  /* session 5 (id 105) comes here, continuing */
  pz_session_t *z = mk(f, 5);
  z->pos = (pz_pos_t){2, 0, 2.5f, 0};
  z->handoff = true;
  join(f, z, "plaza");
  assert_int_equal(z->vidx, idx);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_int_equal(aways(&c, 105), 0);
  assert_true(sees(&c, 105));
  assert_float_equal(last(&c, 105)->pos.z, 2.5, 0);
  put(f, z, 9, 3, 3);
  pz_shard_tick(&f->sh);
  read_msgs(&f->rec[0], &c);
  assert_exact(&c, z);
  pz_compact_dispose(&c.t);
}

/* Many walkers, three viewers (two walking, one still), hundreds of ticks:
 * after every tick each viewer holds exactly what the rules say, checked
 * against the distances themselves (everyone within r in view, nobody in
 * view past 1.25 r, every member in view at its current place), whatever
 * shortcuts the tick takes. */
static double rnd(uint64_t *rng) {
  *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*rng >> 11) / 9007199254740992.0;
}

static void test_views_match_the_distances_on_random_walks(void **state) {
  fx_t *f = *state;
  enum { T = 400 }; /* sessions 0-2 view, 3-7 walk; plus remotes */
  pz_session_t *s[8];
  cli_t c[3];
  uint64_t rng = 12345;
  for (int i = 0; i < 8; i++) {
    s[i] = mk(f, i);
    join(f, s[i], "walk");
    put(f, s[i], 1, (float)(rnd(&rng) * 60 - 30), (float)(rnd(&rng) * 60 - 30));
  }
  pz_room_t *r = find_room(f, "walk");
  /* 30 members of another node, walking through the bus */
  pz_state_entry_t rem[30];
  for (int k = 0; k < 30; k++) {
    pz_member_t m = {
        900 + (uint64_t)k,
        pz_str_c("r"),
        {(float)(rnd(&rng) * 60 - 30), 0, (float)(rnd(&rng) * 60 - 30), 0}};
    pz_shard_remote_join(&f->sh, r, &m, 7, false);
    rem[k] = (pz_state_entry_t){m.id, 0, m.pos};
  }
  for (int v = 0; v < 3; v++) {
    cli_init(&c[v]);
    view(f, s[v], 10, v != 1);
  }
  uint64_t seq[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < 8; i++) {
      if (i == 2 || rnd(&rng) < 0.3) /* viewer 2 stands still */
        continue;
      float x = s[i]->pos.x + (float)(rnd(&rng) * 3 - 1.5);
      float z = s[i]->pos.z + (float)(rnd(&rng) * 3 - 1.5);
      put(f, s[i], ++seq[i],
          x < -30  ? -30
          : x > 30 ? 30
                   : x,
          z < -30  ? -30
          : z > 30 ? 30
                   : z);
    }
    for (int k = 0; k < 30; k++) {
      if (rnd(&rng) < 0.5)
        continue;
      rem[k].seq++;
      rem[k].pos.x += (float)(rnd(&rng) * 3 - 1.5);
      rem[k].pos.z += (float)(rnd(&rng) * 3 - 1.5);
      pz_shard_remote_state(&f->sh, r, &rem[k]);
    }
    pz_shard_tick(&f->sh);
    for (int v = 0; v < 3; v++) {
      read_msgs(&f->rec[v], &c[v]);
      const pz_pos_t *me = &s[v]->pos;
      for (int k = 0; k < 8 + 30; k++) {
        uint64_t id = k < 8 ? s[k]->id : rem[k - 8].id;
        const pz_pos_t *q = k < 8 ? &s[k]->pos : &rem[k - 8].pos;
        double dx = q->x - me->x, dz = q->z - me->z,
               d = sqrt(dx * dx + dz * dz);
        if (k == v)
          continue;
        if (d <= 10 && !sees(&c[v], id))
          fail_msg("tick %d: viewer %d misses %llu at %.2f", t, v,
                   (unsigned long long)id, d);
        if (d > 12.5 && sees(&c[v], id))
          fail_msg("tick %d: viewer %d still sees %llu at %.2f", t, v,
                   (unsigned long long)id, d);
        if (sees(&c[v], id)) {
          const pz_state_entry_t *e = last(&c[v], id);
          assert_true(fabsf(e->pos.x - q->x) <= 1.0f / 128 + 1e-4f);
          assert_true(fabsf(e->pos.z - q->z) <= 1.0f / 128 + 1e-4f);
        }
      }
    }
  }
  for (int v = 0; v < 3; v++)
    pz_compact_dispose(&c[v].t);
}

/* ---- a slow reader with view + compact ------------------------------------
 */

/* An outlet that queues as src/net/outq.c does: an unsent STATE is
 * replaced by the newer one, which goes to the tail (a partial one
 * replacing another is a loss); `flush` hands the queue to rec. */
typedef struct qout {
  pz_outlet_t outlet;
  rec_t *to;
  struct qmsg {
    uint8_t *b;
    size_t len;
    int kind;
  } q[256];
  int n;
} qout_t;

static int q_send(pz_outlet_t *o, const uint8_t *data, size_t len, int kind,
                  pz_payload_t *shared) {
  qout_t *q = (qout_t *)o;
  int lost = 0;
  bool state = kind == PZ_PAYLOAD_STATE || kind == PZ_PAYLOAD_STATE_FULL;
  if (state)
    for (int i = 0; i < q->n; i++)
      if (q->q[i].kind != PZ_PAYLOAD_RELIABLE) {
        free(q->q[i].b);
        memmove(&q->q[i], &q->q[i + 1],
                (size_t)(q->n - i - 1) * sizeof(q->q[0]));
        q->n--;
        lost = kind == PZ_PAYLOAD_STATE ? PZ_OUTLET_LOST : 0;
        break;
      }
  assert_true(q->n < 256);
  q->q[q->n].b = malloc(len);
  memcpy(q->q[q->n].b, data, len);
  q->q[q->n].len = len;
  q->q[q->n].kind = kind;
  q->n++;
  return lost;
}

static void q_close(pz_outlet_t *o, int code, const char *reason) {}
static const struct pz_outlet_vtbl q_vtbl = {q_send, q_close};

static void q_flush(qout_t *q) {
  for (int i = 0; i < q->n; i++) {
    rec_send(&q->to->outlet, q->q[i].b, q->q[i].len, q->q[i].kind, NULL);
    free(q->q[i].b);
  }
  q->n = 0;
}

static void test_slow_reader_with_view_and_compact_ends_exact(void **state) {
  fx_t *f = *state;
  enum { N = 8 };
  pz_session_t *s[N];
  const float xs[N] = {0, 1, 2, 3, 4, 5, 6, 50};
  crowd(f, s, N, xs);
  static qout_t q;
  memset(&q, 0, sizeof q);
  q.outlet.vt = &q_vtbl;
  q.to = &f->rec[0];
  pz_shard_session_attach(&f->sh, s[0], &q.outlet);
  view(f, s[0], 20, true);
  pz_shard_tick(&f->sh);
  q_flush(&q);
  cli_t c;
  cli_init(&c);
  read_msgs(&f->rec[0], &c);
  uint64_t resyncs = f->sh.stats.state_resyncs;
  /* It stops reading for 30 ticks while everyone walks; then reads one
   * batch, then keeps up. At every read the picture is exact. */
  for (int t = 0; t < 60; t++) {
    for (int i = 1; i < N; i++)
      put(f, s[i], (uint64_t)t + 2, xs[i] + (float)t * 0.7f,
          (float)((t * i) % 5));
    pz_shard_tick(&f->sh);
    if (t < 30 && t % 10 != 9)
      continue;
    q_flush(&q);
    read_msgs(&f->rec[0], &c);
    for (int i = 1; i < N; i++) {
      double dx = s[i]->pos.x - s[0]->pos.x, dz = s[i]->pos.z - s[0]->pos.z;
      if (sqrt(dx * dx + dz * dz) <= 20) {
        assert_true(sees(&c, s[i]->id));
        assert_exact(&c, s[i]);
      } else if (sqrt(dx * dx + dz * dz) > 25) {
        assert_false(sees(&c, s[i]->id));
      }
    }
  }
  assert_true(f->sh.stats.state_resyncs > resyncs); /* it did lose some */
  pz_compact_dispose(&c.t);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_radius_and_hysteresis),
      T(test_radius_and_hysteresis_compact),
      T(test_only_what_moved_in_view),
      T(test_without_view_one_shared_state),
      T(test_view_across_join_and_resume),
      T(test_view_changes),
      T(test_whole_room_compact),
      T(test_remote_members_in_views),
      T(test_remote_turned_local_keeps_its_short_id),
      T(test_slow_reader_with_view_and_compact_ends_exact),
      T(test_views_match_the_distances_on_random_walks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
