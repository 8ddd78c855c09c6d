/*
 * What apps build on (protocol 1.1), in a shard: member state (SET and
 * MEMBER), SIGNAL to a room, and the room's shared state (ROOM_SET and
 * ROOM_STATE) with its life after the room empties.
 *
 * Values stay the bytes the client sent: MEMBER carries the SET's patch as
 * it arrived, ROOM_STATE the ROOM_SET's value, each encoded once into one
 * payload for the whole room. A member's state is one MessagePack map per
 * session (pz_state_apply rebuilds it at each SET, at most
 * cfg.member_state_max bytes), so ROOM and JOINED copy it in as it is.
 *
 * Room states are kept by the shard, apart from the room structs: a room
 * points at its state while it has members; when it empties the state is
 * parked for cfg.room_state_ttl_ms (counted from the shard's clock, which
 * the worker's housekeeping sets every 50 ms) and a room of that name
 * made meanwhile takes it back. Parked states form a list in the order
 * their rooms emptied, which is also their order of expiry, so the sweep
 * looks at its head only; past cfg.parked_max of them (their cost), the
 * oldest go first: what clients send cannot grow memory without bound
 * by visiting room after room.
 */
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "alloc.h"
#include "interest.h"
#include "remote.h"
#include "shard.h"
#include "shard_int.h"

/* ---- member state --------------------------------------------------------
 */

void pz_shard_state_copy(char **state, uint32_t *len, pz_raw_t v) {
  free(*state);
  *state = NULL;
  *len = 0;
  if (v.ptr == NULL || (v.len == 1 && (unsigned char)v.ptr[0] == 0x80))
    return; /* empty: nothing kept, {} on the wire */
  *state = pz_xmalloc(v.len);
  memcpy(*state, v.ptr, v.len);
  *len = v.len;
}

void pz_shard_session_set_state(pz_session_t *s, pz_raw_t state) {
  pz_shard_state_copy(&s->state, &s->state_len, state);
}

void pz_shard_session_free(pz_session_t *s) {
  pz_interest_session_free(s);
  while (s->sigq) {
    pz_sigq_t *q = s->sigq;
    s->sigq = q->next;
    free(q);
  }
  free(s->state);
  free(s->grant);
  free(s);
}

/* *state patched, at most cap bytes. A PZ_STATE_ code; nothing changes
 * unless PZ_STATE_OK. */
static int patch_state(pz_shard_t *sh, char **state, uint32_t *len,
                       pz_raw_t patch, size_t cap) {
  /* The new state is never longer than the old one, the patch and a
   * wider map header together. */
  size_t most = (size_t)*len + patch.len + 5;
  if (cap > most)
    cap = most;
  char *out = pz_xmalloc(cap ? cap : 1);
  size_t n = 0;
  int rc =
      pz_state_apply((pz_raw_t){*state, *len}, patch, &sh->zone, out, cap, &n);
  msgpack_zone_clear(&sh->zone);
  if (rc == PZ_STATE_OK)
    pz_shard_state_copy(state, len, (pz_raw_t){out, (uint32_t)n});
  free(out);
  return rc;
}

pz_shard_result_t pz_shard_set_state(pz_shard_t *sh, pz_session_t *s,
                                     pz_raw_t patch) {
  if (patch_state(sh, &s->state, &s->state_len, patch,
                  sh->cfg.member_state_max) != PZ_STATE_OK)
    return PZ_SHARD_LIMIT; /* the patch was checked: only its size fails */
  pz_room_t *r = s->room;
  if (!r)
    return PZ_SHARD_OK; /* outside a room: silently */
  pz_enc_member_msg(pz_wire_begin(&sh->wire), s->id, patch);
  pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
  if (sh->hooks && sh->hooks->member_state)
    sh->hooks->member_state(sh->hooks_ctx, r, s, patch);
  return PZ_SHARD_OK;
}

bool pz_shard_remote_member_state(pz_shard_t *sh, pz_room_t *r, uint64_t id,
                                  pz_raw_t patch) {
  pz_remote_t *m = pz_shard_remote_find(r, id);
  if (!m)
    return true;
  /* Its own node held it to the size limit. */
  if (patch_state(sh, &m->state, &m->state_len, patch, SIZE_MAX) != PZ_STATE_OK)
    return false;
  pz_enc_member_msg(pz_wire_begin(&sh->wire), id, patch);
  pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
  return true;
}

/* ---- signals -------------------------------------------------------------
 */

void pz_shard_signal(pz_shard_t *sh, pz_session_t *s, pz_str_t kind,
                     pz_raw_t data, uint64_t ts_ms) {
  pz_room_t *r = s->room;
  pz_enc_signal_msg(pz_wire_begin(&sh->wire), s->id, pz_session_name(s), kind,
                    data, ts_ms);
  pz_shard_broadcast_wire(sh, r, s, PZ_PAYLOAD_RELIABLE);
  if (sh->hooks && sh->hooks->signal)
    sh->hooks->signal(sh->hooks_ctx, r, s, kind, data, ts_ms);
}

void pz_shard_remote_signal(pz_shard_t *sh, pz_room_t *r, uint64_t from,
                            pz_str_t name, pz_str_t kind, pz_raw_t data,
                            uint64_t ts_ms) {
  pz_enc_signal_msg(pz_wire_begin(&sh->wire), from, name, kind, data, ts_ms);
  pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
}

int pz_shard_system_signal(pz_shard_t *sh, pz_str_t room, pz_str_t name,
                           pz_str_t kind, pz_raw_t data, uint64_t ts_ms) {
  pz_room_t *r = pz_shard_room_find(sh, room);
  if (!r)
    return -1;
  pz_enc_signal_msg(pz_wire_begin(&sh->wire), 0, name, kind, data, ts_ms);
  pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
  return r->loading ? 0 : (int)r->n_attached;
}

/* ---- room state ----------------------------------------------------------
 */

pz_rstate_t *pz_shard_room_state_find(pz_shard_t *sh, pz_str_t name) {
  pz_rstate_t *st;
  HASH_FIND(hh, sh->rstates, name.ptr, name.len, st);
  return st;
}

/* r's state, made empty if it has none yet. */
static pz_rstate_t *room_rstate(pz_shard_t *sh, pz_room_t *r) {
  if (!r->rstate) {
    pz_rstate_t *st = pz_rstate_create((pz_str_t){r->name, r->name_len});
    HASH_ADD_KEYPTR(hh, sh->rstates, st->name, st->name_len, st);
    r->rstate = st;
  }
  return r->rstate;
}

static void unpark(pz_shard_t *sh, pz_rstate_t *st) {
  DL_DELETE2(sh->parked, st, pprev, pnext);
  sh->parked_cost -= pz_rstate_cost(st);
  sh->stats.parked--;
  st->parked = false;
}

static void destroy(pz_shard_t *sh, pz_rstate_t *st) {
  if (st->parked)
    unpark(sh, st);
  HASH_DEL(sh->rstates, st);
  pz_rstate_destroy(st);
}

void pz_shard_room_state_open(pz_shard_t *sh, pz_room_t *r) {
  pz_rstate_t *st =
      pz_shard_room_state_find(sh, (pz_str_t){r->name, r->name_len});
  if (!st)
    return;
  if (st->parked)
    unpark(sh, st);
  r->rstate = st;
}

void pz_shard_room_state_close(pz_shard_t *sh, pz_room_t *r) {
  pz_rstate_t *st = r->rstate;
  if (!st)
    return;
  r->rstate = NULL;
  /* Clustered, the state lives in the bus, which reloads it. */
  bool in_bus = sh->hooks && sh->hooks->room_set;
  if (st->n_live == 0 || sh->cfg.room_state_ttl_ms == 0 || in_bus) {
    destroy(sh, st);
    return;
  }
  st->parked = true;
  st->expires_ms = sh->now_ms + sh->cfg.room_state_ttl_ms;
  DL_APPEND2(sh->parked, st, pprev, pnext);
  sh->parked_cost += pz_rstate_cost(st);
  sh->stats.parked++;
  while (sh->parked && sh->parked_cost > sh->cfg.parked_max) {
    sh->stats.parked_evicted++;
    destroy(sh, sh->parked);
  }
}

void pz_shard_sweep(pz_shard_t *sh, uint64_t now_ms) {
  sh->now_ms = now_ms;
  while (sh->parked && sh->parked->expires_ms <= now_ms)
    destroy(sh, sh->parked);
}

void pz_shard_room_states_dispose(pz_shard_t *sh) {
  pz_rstate_t *st, *tmp;
  HASH_ITER(hh, sh->rstates, st, tmp) {
    HASH_DEL(sh->rstates, st);
    pz_rstate_destroy(st);
  }
  sh->parked = NULL;
  sh->parked_cost = 0;
}

void pz_shard_enc_room_state(msgpack_packer *pk, const pz_room_t *r) {
  const pz_rstate_t *st = r->rstate;
  pz_enc_room_state_begin(pk, st ? st->n_live : 0);
  if (!st)
    return;
  for (const pz_rkey_t *k = st->keys; k; k = k->hh.next)
    if (k->value)
      pz_enc_room_state_entry(pk, pz_rkey_name(k), pz_rkey_value(k),
                              k->version);
}

/* Stores the set and tells every local member, the setter included. */
static void put(pz_shard_t *sh, pz_room_t *r, pz_str_t key, pz_raw_t value,
                uint64_t version, uint64_t by) {
  pz_rstate_put(room_rstate(sh, r), key, value, version, by,
                sh->cfg.room.keys_max);
  pz_enc_room_state_msg(pz_wire_begin(&sh->wire), key, value, version, by);
  pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
}

pz_shard_result_t pz_shard_room_set(pz_shard_t *sh, pz_session_t *s,
                                    pz_str_t key, pz_raw_t value,
                                    bool has_if_version, uint64_t if_version,
                                    uint64_t *current) {
  pz_room_t *r = s->room;
  pz_rstate_t *st = room_rstate(sh, r);
  /* Clustered too: the bus may be ahead of this copy, never behind what
   * this node's clients have seen, so a refusal here is always right. */
  uint64_t have = pz_rstate_version(st, key);
  if (has_if_version && have != if_version) {
    *current = have;
    return PZ_SHARD_CONFLICT;
  }
  if (!pz_rstate_fits(st, key, value, &sh->cfg.room))
    return PZ_SHARD_LIMIT;
  if (sh->hooks && sh->hooks->room_set)
    return sh->hooks->room_set(sh->hooks_ctx, r, s, key, value, has_if_version,
                               if_version);
  put(sh, r, key, value, pz_rstate_next_version(st, key), s->id);
  return PZ_SHARD_OK;
}

void pz_shard_room_state_apply(pz_shard_t *sh, pz_room_t *r, pz_str_t key,
                               pz_raw_t value, uint64_t version, uint64_t by) {
  pz_rkey_t *k = pz_rstate_find(room_rstate(sh, r), key);
  if (k && version <= k->version)
    return; /* held already */
  put(sh, r, key, value, version, by);
}

void pz_shard_room_state_clear(pz_shard_t *sh, pz_room_t *r) {
  if (r->rstate)
    pz_rstate_clear(r->rstate);
}
