/*
 * The fixture of the shard tests (test_shard.c, test_shard_cluster.c): a
 * shard whose sessions each get a recording outlet that decodes every
 * payload with pz_decode_server and keeps op, fields and the `shared`
 * pointer, and helpers to make sessions, join rooms and find messages.
 * Functions are static inline: each test file uses its part.
 */
#ifndef PZ_TEST_SHARD_FIXTURE_H
#define PZ_TEST_SHARD_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plaza/codec.h"
#include "remote.h"
#include "shard.h"

/* ---- a recording outlet --------------------------------------------------
 */

typedef struct rec_msg {
  int kind;
  pz_payload_t *shared; /* as passed; only compared, never dereferenced */
  char *bytes;          /* our copy: the decoded strings point into it */
  size_t len;
  pz_smsg_t m;
} rec_msg_t;

typedef struct rec {
  pz_outlet_t outlet;
  rec_msg_t *msgs;
  size_t n, cap;
  msgpack_zone zone;
  int close_code;
  /* A client that stopped reading, as its outbound queue sees it: one
   * STATE stays unsent, and a partial STATE replacing it is a loss. */
  bool stalled, holds_state;
  int lost; /* PZ_OUTLET_LOST reported */
} rec_t;

static inline int rec_send(pz_outlet_t *o, const uint8_t *data, size_t len,
                           int kind, pz_payload_t *shared) {
  rec_t *r = (rec_t *)o;
  int result = 0;
  if (r->stalled &&
      (kind == PZ_PAYLOAD_STATE || kind == PZ_PAYLOAD_STATE_FULL)) {
    if (r->holds_state && kind == PZ_PAYLOAD_STATE) {
      result = PZ_OUTLET_LOST;
      r->lost++;
    }
    r->holds_state = true;
  }
  if (shared) {
    /* The bytes are the payload's own: nothing was copied per recipient. */
    assert_ptr_equal(data, shared->data);
    assert_int_equal(len, shared->len);
    assert_int_equal(kind, shared->kind);
    assert_true(shared->refs >= 1);
  }
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->msgs = realloc(r->msgs, r->cap * sizeof(*r->msgs));
    assert_non_null(r->msgs);
  }
  rec_msg_t *m = &r->msgs[r->n++];
  m->kind = kind;
  m->shared = shared;
  m->len = len;
  m->bytes = malloc(len ? len : 1);
  assert_non_null(m->bytes);
  memcpy(m->bytes, data, len);
  if (pz_decode_server(m->bytes, len, &r->zone, &m->m) != 0)
    fail_msg("outlet got bytes that are not a server message");
  return result;
}

static inline void rec_close(pz_outlet_t *o, int code, const char *reason) {
  ((rec_t *)o)->close_code = code;
}

static const struct pz_outlet_vtbl rec_vtbl = {rec_send, rec_close};

static inline void rec_clear(rec_t *r) {
  for (size_t i = 0; i < r->n; i++)
    free(r->msgs[i].bytes);
  r->n = 0;
}

/* ---- fixture -------------------------------------------------------------
 */

#define NREC 8

typedef struct fx {
  pz_shard_t sh;
  rec_t rec[NREC];
} fx_t;

static inline int setup_with(void **state, uint32_t max_members,
                             pz_rules_t rules) {
  fx_t *f = calloc(1, sizeof(*f));
  if (!f)
    return -1;
  pz_shard_config_t cfg = {.room_max_members = max_members,
                           .rules = rules,
                           .move_rate = 60,
                           .chat_rate = 5,
                           .chat_burst = 10,
                           .join_burst = 10,
                           .app_burst = 40,
                           .member_state_max = 64,
                           .room = {32, 4, 96},
                           .room_state_ttl_ms = 1000,
                           .parked_max = 4096};
  pz_shard_init(&f->sh, 0, &cfg);
  for (int i = 0; i < NREC; i++) {
    f->rec[i].outlet.vt = &rec_vtbl;
    if (!msgpack_zone_init(&f->rec[i].zone, 4096))
      return -1;
  }
  *state = f;
  return 0;
}

static inline int setup(void **state) {
  return setup_with(state, 100, (pz_rules_t){0, 0});
}

static inline int setup_small_rooms(void **state) {
  return setup_with(state, 2, (pz_rules_t){0, 0});
}

static inline int setup_rules(void **state) {
  return setup_with(state, 100, (pz_rules_t){10, 100});
}

static inline int teardown(void **state) {
  fx_t *f = *state;
  pz_shard_dispose(&f->sh);
  for (int i = 0; i < NREC; i++) {
    rec_clear(&f->rec[i]);
    free(f->rec[i].msgs);
    msgpack_zone_destroy(&f->rec[i].zone);
  }
  free(f);
  return 0;
}

static const char *const names[NREC] = {"ana", "bob", "cy",  "dee",
                                        "eve", "fay", "gus", "hal"};

/* Session i: id 100 + i, attached to rec[i]. */
static inline pz_session_t *mk(fx_t *f, int i) {
  uint8_t secret[PZ_TOKEN_SECRET_BYTES] = {(uint8_t)i};
  pz_session_t *s = pz_shard_session_create(&f->sh, 100 + (uint64_t)i,
                                            pz_str_c(names[i]), secret, 0);
  assert_non_null(s);
  pz_shard_session_attach(&f->sh, s, &f->rec[i].outlet);
  return s;
}

static inline void join(fx_t *f, pz_session_t *s, const char *room) {
  assert_int_equal(pz_shard_join(&f->sh, s, pz_str_c(room)), 0);
}

static inline void clear_all(fx_t *f) {
  for (int i = 0; i < NREC; i++)
    rec_clear(&f->rec[i]);
}

static inline pz_room_t *find_room(fx_t *f, const char *name) {
  pz_room_t *r;
  HASH_FIND(hh, f->sh.rooms, name, strlen(name), r);
  return r;
}

#define assert_str_equal(s, lit)                                               \
  do {                                                                         \
    assert_non_null((s).ptr);                                                  \
    assert_int_equal((s).len, strlen(lit));                                    \
    assert_memory_equal((s).ptr, lit, strlen(lit));                            \
  } while (0)

/* The only message rec i got, of op `op`. */
static inline const pz_smsg_t *only(fx_t *f, int i, int op) {
  if (f->rec[i].n != 1)
    fail_msg("rec %d (%s): %zu messages, want 1", i, names[i], f->rec[i].n);
  assert_int_equal(f->rec[i].msgs[0].m.op, op);
  return &f->rec[i].msgs[0].m;
}

static inline void assert_nothing(fx_t *f, int i) {
  if (f->rec[i].n != 0)
    fail_msg("rec %d (%s): %zu messages, want none (first op %d)", i, names[i],
             f->rec[i].n, f->rec[i].msgs[0].m.op);
}

/* The member of a ROOM with id, or NULL. */
static inline const pz_member_t *room_member(const pz_smsg_t *m, uint64_t id) {
  for (size_t i = 0; i < m->u.room.n_members; i++)
    if (m->u.room.members[i].id == id)
      return &m->u.room.members[i];
  return NULL;
}

static inline const pz_state_entry_t *state_entry(const pz_smsg_t *m,
                                                  uint64_t id) {
  for (size_t i = 0; i < m->u.state.n; i++)
    if (m->u.state.entries[i].id == id)
      return &m->u.state.entries[i];
  return NULL;
}

/* ---- join ----------------------------------------------------------------
 */

#endif
