/*
 * Sessions and rooms of one shard (see shard.h). Room membership is an
 * array with swap-remove; each member remembers its index, so join and
 * leave are O(1) apart from the notifications they send.
 */
#include "shard.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "grid.h"
#include "interest.h"
#include "remote.h"
#include "shard_int.h"

void pz_shard_init(pz_shard_t *sh, int index, const pz_shard_config_t *cfg) {
  memset(sh, 0, sizeof(*sh));
  sh->index = index;
  sh->cfg = *cfg;
  if (!(sh->cfg.view_cell > 0))
    sh->cfg.view_cell = 32; /* --view-cell's default */
  pz_wire_init(&sh->wire);
  msgpack_zone_init(&sh->zone, 1024);
  pz_idmap_init(&sh->sessions, offsetof(pz_session_t, id));
}

static void room_free(pz_room_t *r) {
  pz_grid_destroy(r->grid);
  pz_shard_remote_clear(r);
  free(r->rdirty);
  pz_chat_history_dispose(&r->chat);
  free(r->members);
  free(r->dirty);
  free(r);
}

void pz_shard_dispose(pz_shard_t *sh) {
  pz_session_t *s;
  uint32_t pos = 0;
  while ((s = pz_idmap_next(&sh->sessions, &pos)))
    pz_shard_session_free(s);
  pz_idmap_dispose(&sh->sessions);
  pz_room_t *r, *rtmp;
  HASH_ITER(hh, sh->rooms, r, rtmp) {
    HASH_DEL(sh->rooms, r);
    room_free(r);
  }
  pz_shard_places_dispose(sh);
  pz_shard_room_states_dispose(sh);
  pz_interest_dispose(sh);
  msgpack_zone_destroy(&sh->zone);
  pz_wire_dispose(&sh->wire);
}

pz_session_t *pz_shard_session_create(pz_shard_t *sh, uint64_t id,
                                      pz_str_t name, const uint8_t *secret,
                                      uint64_t now_ms) {
  pz_session_t *s = pz_xcalloc(1, sizeof(*s));
  s->id = id;
  s->name_len = (uint8_t)(name.len > PZ_NAME_MAX ? PZ_NAME_MAX : name.len);
  memcpy(s->name, name.ptr, s->name_len);
  memcpy(s->secret, secret, sizeof(s->secret));
  pz_motion_init(&s->motion, &sh->cfg.rules, now_ms);
  pz_bucket_init(&s->move_bucket, sh->cfg.move_rate, now_ms);
  pz_bucket_init(&s->chat_bucket, sh->cfg.chat_burst, now_ms);
  pz_bucket_init(&s->join_bucket, sh->cfg.join_burst, now_ms);
  s->changed = PZ_SESSION_CHANGED;
  pz_bucket_init(&s->app_bucket, sh->cfg.app_burst, now_ms);
  s->vidx = PZ_GRID_NONE;
  pz_shard_session_add(sh, s);
  return s;
}

void pz_shard_session_add(pz_shard_t *sh, pz_session_t *s) {
  pz_idmap_put(&sh->sessions, s);
  sh->n_sessions++;
}

void pz_shard_session_remove(pz_shard_t *sh, pz_session_t *s) {
  pz_idmap_del(&sh->sessions, s->id);
  sh->n_sessions--;
}

pz_session_t *pz_shard_session_find(pz_shard_t *sh, uint64_t id) {
  return pz_idmap_find(&sh->sessions, id);
}

void pz_shard_session_destroy(pz_shard_t *sh, pz_session_t *s) {
  if (s->room)
    pz_shard_leave(sh, s, false);
  pz_shard_session_remove(sh, s);
  pz_shard_session_free(s);
}

void pz_shard_session_attach(pz_shard_t *sh, pz_session_t *s, pz_outlet_t *o) {
  if (s->room && !s->outlet && o)
    s->room->n_attached++;
  s->placing = false; /* what the old connection asked is void */
  s->outlet = o;
  s->expires_ms = 0;
  s->changed |= PZ_SESSION_CHANGED;
}

/* s is owed a full STATE, or no longer (ROOM, or no outlet to owe). */
void pz_shard_behind_set(pz_room_t *r, pz_session_t *s) {
  if (!s->behind) {
    s->behind = true;
    r->n_behind++;
  }
}

void pz_shard_behind_clear(pz_room_t *r, pz_session_t *s) {
  if (s->behind) {
    s->behind = false;
    r->n_behind--;
  }
}

void pz_shard_session_detach(pz_shard_t *sh, pz_session_t *s,
                             uint64_t expires_ms) {
  if (s->room) /* a resume sends ROOM */
    pz_shard_behind_clear(s->room, s);
  if (s->room && s->outlet)
    s->room->n_attached--;
  s->placing = false;
  s->outlet = NULL;
  s->expires_ms = expires_ms;
  s->changed |= PZ_SESSION_CHANGED;
}

/* Sends the shared payload to every attached member but `skip`. */
static void broadcast(pz_room_t *r, pz_payload_t *p, pz_session_t *skip) {
  for (uint32_t i = 0; i < r->n_members; i++) {
    pz_session_t *m = r->members[i];
    if (m != skip && m->outlet)
      pz_outlet_send(m->outlet, p->data, p->len, p->kind, p);
  }
}

/* Encodes what pz_wire_begin started into a shared payload and sends it. */
static void broadcast_wire(pz_shard_t *sh, pz_room_t *r, pz_session_t *skip,
                           int kind) {
  if (r->n_attached == 0 || (r->n_attached == 1 && skip && skip->outlet))
    return;
  if (r->loading) /* nobody has ROOM yet: it will say it all */
    return;
  pz_payload_t *p =
      pz_payload_create(pz_wire_data(&sh->wire), pz_wire_len(&sh->wire), kind);
  broadcast(r, p, skip);
  pz_payload_unref(p);
}

void pz_shard_broadcast_wire(pz_shard_t *sh, pz_room_t *r, pz_session_t *skip,
                             int kind) {
  broadcast_wire(sh, r, skip, kind);
}

static pz_member_t member_of(const pz_session_t *s) {
  return (pz_member_t){s->id, pz_session_name(s), s->pos};
}

static void dirty_add(pz_room_t *r, pz_session_t *s) {
  if (s->dirty)
    return;
  if (r->n_dirty == r->cap_dirty) {
    r->cap_dirty = r->cap_dirty ? r->cap_dirty * 2 : 8;
    r->dirty = pz_xrealloc(r->dirty, r->cap_dirty * sizeof(*r->dirty));
  }
  r->dirty[r->n_dirty++] = s;
  s->dirty = true;
}

static void dirty_remove(pz_room_t *r, pz_session_t *s) {
  if (!s->dirty)
    return;
  for (uint32_t i = 0; i < r->n_dirty; i++) {
    if (r->dirty[i] == s) {
      r->dirty[i] = r->dirty[--r->n_dirty];
      break;
    }
  }
  s->dirty = false;
}

void pz_shard_send_room(pz_shard_t *sh, pz_session_t *s, bool replay,
                        uint64_t after_seq) {
  pz_room_t *r = s->room;
  if (!r || !s->outlet)
    return;
  if (r->loading) { /* owed: pz_shard_room_ready sends it */
    s->room_owed = true;
    s->replay = replay;
    s->replay_after = after_seq;
    return;
  }
  msgpack_packer *pk = pz_wire_begin(&sh->wire);
  pz_enc_room_begin(pk, (pz_str_t){r->name, r->name_len},
                    r->n_members + r->n_remote);
  for (uint32_t i = 0; i < r->n_members; i++) {
    pz_member_t m = member_of(r->members[i]);
    pz_enc_member(pk, &m, pz_session_state(r->members[i]));
  }
  pz_remote_t *rm, *rtmp;
  HASH_ITER(hh, r->remote, rm, rtmp) {
    pz_member_t m = {rm->id, {rm->name, rm->name_len}, rm->pos};
    pz_enc_member(pk, &m, (pz_raw_t){rm->state, rm->state_len});
  }
  /* On a replay the history stops at after_seq: what follows comes once,
   * as the CHAT messages below, not a second time inside ROOM. The history
   * is ordered by seq, so the kept part is a prefix. */
  uint32_t kept = r->chat.count;
  if (replay) {
    kept = 0;
    while (kept < r->chat.count &&
           pz_chat_history_at(&r->chat, kept)->seq <= after_seq)
      kept++;
  }
  pz_enc_room_history(pk, kept);
  for (uint32_t i = 0; i < kept; i++)
    pz_enc_chat_entry(pk, pz_chat_history_at(&r->chat, i));
  pz_shard_enc_room_state(pk, r);
  pz_wire_send(&sh->wire, s->outlet, PZ_PAYLOAD_RELIABLE);
  pz_shard_behind_clear(r, s); /* ROOM holds every member's current position */
  pz_interest_room_sent(s);    /* a view starts over from it */
  for (uint32_t i = kept; i < r->chat.count; i++) {
    pz_enc_chat(pz_wire_begin(&sh->wire), pz_chat_history_at(&r->chat, i));
    pz_wire_send(&sh->wire, s->outlet, PZ_PAYLOAD_RELIABLE);
  }
}

/* Joins s to room `name`, whether or not it is full (checked by the
 * callers). */
static void join(pz_shard_t *sh, pz_session_t *s, pz_str_t name) {
  pz_room_t *r;
  HASH_FIND(hh, sh->rooms, name.ptr, name.len, r);
  if (!r) {
    r = pz_xcalloc(1, sizeof(*r));
    memcpy(r->name, name.ptr, name.len);
    r->name_len = (uint8_t)name.len;
    pz_chat_history_init(&r->chat);
    r->gen = ++sh->room_gen;
    HASH_ADD_KEYPTR(hh, sh->rooms, r->name, r->name_len, r);
    sh->n_rooms++;
    pz_shard_room_state_open(sh, r);
    if (sh->hooks)
      r->loading = sh->hooks->room_open(sh->hooks_ctx, r);
  }
  if (r->n_members == r->cap_members) {
    r->cap_members = r->cap_members ? r->cap_members * 2 : 8;
    r->members = pz_xrealloc(r->members, r->cap_members * sizeof(*r->members));
  }
  s->room = r;
  s->member_index = r->n_members;
  r->members[r->n_members++] = s;
  if (s->outlet)
    r->n_attached++;
  s->dirty = false;
  s->room_owed = false;
  s->changed |= PZ_SESSION_CHANGED;
  if (!s->handoff)
    s->placed = false; /* a new room: the next MOVE spawns */

  pz_remote_t *was = r->n_remote ? pz_shard_remote_find(r, s->id) : NULL;
  if (was) { /* it was here through another node: now it is local */
    pz_interest_take_over(sh, r, was, s);
    pz_shard_remote_leave(sh, r, s->id, false);
  }
  pz_interest_join(sh, r, s);
  bool replay = s->replay; /* a resume continuing from another node */
  s->replay = false;
  pz_shard_send_room(sh, s, replay, s->replay_after);
  if (!was && !s->handoff) {
    pz_member_t m = member_of(s);
    pz_enc_joined(pz_wire_begin(&sh->wire), &m, pz_session_state(s));
    broadcast_wire(sh, r, s, PZ_PAYLOAD_RELIABLE);
  }
  if (sh->hooks)
    sh->hooks->joined(sh->hooks_ctx, r, s);
  s->handoff = false;
}

pz_shard_result_t pz_shard_join(pz_shard_t *sh, pz_session_t *s,
                                pz_str_t name) {
  if (!pz_shard_room_has_place(sh, name, s->id))
    return PZ_SHARD_ROOM_FULL;
  join(sh, s, name);
  return PZ_SHARD_OK;
}

void pz_shard_join_held(pz_shard_t *sh, pz_session_t *s, pz_str_t name) {
  pz_shard_place_release(sh, name);
  join(sh, s, name);
}

void pz_shard_member_remove(pz_shard_t *sh, pz_room_t *r, pz_session_t *s,
                            bool away) {
  pz_interest_leave(sh, r, s, away);
  dirty_remove(r, s);
  pz_shard_behind_clear(r, s);
  uint32_t i = s->member_index;
  r->members[i] = r->members[--r->n_members];
  r->members[i]->member_index = i;
  if (s->outlet)
    r->n_attached--;
  s->room = NULL;
  s->room_owed = false;
  s->changed |= PZ_SESSION_CHANGED;
}

void pz_shard_leave(pz_shard_t *sh, pz_session_t *s, bool notify_self) {
  pz_room_t *r = s->room;
  if (!r)
    return;
  pz_shard_member_remove(sh, r, s, false);

  pz_enc_left(pz_wire_begin(&sh->wire), s->id);
  broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
  if (notify_self)
    pz_wire_send(&sh->wire, s->outlet, PZ_PAYLOAD_RELIABLE);
  if (sh->hooks)
    sh->hooks->left(sh->hooks_ctx, r, s);

  if (r->n_members == 0)
    pz_shard_room_free(sh, r);
}

void pz_shard_room_free(pz_shard_t *sh, pz_room_t *r) {
  if (sh->hooks)
    sh->hooks->room_close(sh->hooks_ctx, r);
  HASH_DEL(sh->rooms, r);
  sh->n_rooms--;
  pz_shard_room_state_close(sh, r);
  room_free(r);
}

pz_shard_result_t pz_shard_move(pz_shard_t *sh, pz_session_t *s, uint64_t seq,
                                const pz_pos_t *pos, uint64_t now_ms) {
  if (s->has_seq && seq <= s->seq)
    return PZ_SHARD_STALE;
  s->has_seq = true;
  s->seq = seq;
  s->changed |= PZ_SESSION_MOVED;
  dirty_add(s->room, s);
  const pz_rules_t *rules = &sh->cfg.rules;
  if (!s->placed) {
    /* A spawn: no speed to measure from where the server put it; the
     * budget starts full from here. Resume keeps `placed`: not a spawn. */
    if (!pz_rules_in_bounds(rules, pos))
      return PZ_SHARD_MOVE_REJECTED; /* still unplaced: the next one spawns */
    pz_motion_init(&s->motion, rules, now_ms);
    s->placed = true;
  } else if (!pz_rules_check(rules, &s->motion, &s->pos, pos, now_ms)) {
    return PZ_SHARD_MOVE_REJECTED; /* STATE acknowledges seq at the old pos */
  }
  s->pos = *pos;
  return PZ_SHARD_OK;
}

static void room_chat(pz_shard_t *sh, pz_room_t *r, uint64_t id, pz_str_t name,
                      pz_str_t text, uint64_t ts_ms) {
  pz_chat_entry_t e = {++r->chat_seq, id, name, text, ts_ms};
  pz_chat_history_add(&r->chat, &e);
  pz_enc_chat(pz_wire_begin(&sh->wire), &e);
  broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
}

pz_shard_result_t pz_shard_chat(pz_shard_t *sh, pz_session_t *s, pz_str_t text,
                                uint64_t ts_ms) {
  if (sh->hooks)
    return sh->hooks->chat(sh->hooks_ctx, s->room, s, text, ts_ms);
  room_chat(sh, s->room, s->id, pz_session_name(s), text, ts_ms);
  return PZ_SHARD_OK;
}

uint32_t pz_shard_system_chat(pz_shard_t *sh, pz_str_t room, pz_str_t name,
                              pz_str_t text, uint64_t ts_ms) {
  if (room.ptr) {
    pz_room_t *r;
    HASH_FIND(hh, sh->rooms, room.ptr, room.len, r);
    if (!r)
      return 0;
    room_chat(sh, r, 0, name, text, ts_ms);
    return 1;
  }
  uint32_t n = 0;
  pz_room_t *r, *tmp;
  HASH_ITER(hh, sh->rooms, r, tmp) {
    room_chat(sh, r, 0, name, text, ts_ms);
    n++;
  }
  return n;
}

/* The tick's changes are done with, sent or not. */
static void clear_changes(pz_room_t *r) {
  for (uint32_t i = 0; i < r->n_dirty; i++)
    r->dirty[i]->dirty = false;
  for (uint32_t i = 0; i < r->n_rdirty; i++)
    r->rdirty[i]->dirty = false;
  r->n_dirty = r->n_rdirty = 0;
}

/* The STATE of a tick: the members whose position changed (local ones,
 * then other nodes'), encoded once for the room. */
static pz_payload_t *encode_changes(pz_shard_t *sh, pz_room_t *r) {
  msgpack_packer *pk = pz_wire_begin(&sh->wire);
  pz_enc_state_begin(pk, sh->tick, r->n_dirty + r->n_rdirty);
  for (uint32_t i = 0; i < r->n_dirty; i++) {
    pz_session_t *m = r->dirty[i];
    pz_state_entry_t e = {m->id, m->seq, m->pos};
    pz_enc_state_entry(pk, &e);
    m->dirty = false;
  }
  for (uint32_t i = 0; i < r->n_rdirty; i++) { /* other nodes' moves */
    pz_remote_t *m = r->rdirty[i];
    pz_state_entry_t e = {m->id, m->seq, m->pos};
    pz_enc_state_entry(pk, &e);
    m->dirty = false;
  }
  sh->stats.state_frames++;
  sh->stats.state_entries += r->n_dirty + r->n_rdirty;
  r->n_dirty = r->n_rdirty = 0;
  return pz_payload_create(pz_wire_data(&sh->wire), pz_wire_len(&sh->wire),
                           PZ_PAYLOAD_STATE);
}

/* A full STATE: every member, local and remote, with its current seq and
 * position; encoded once for every member of the room that is owed it.
 * A local member that never sent a MOVE is left out: its position came
 * with ROOM or JOINED, which are never dropped, and an entry of seq 0
 * would tell its own client nothing but an old place. */
static pz_payload_t *encode_full(pz_shard_t *sh, pz_room_t *r) {
  uint32_t n = r->n_remote;
  for (uint32_t i = 0; i < r->n_members; i++)
    n += r->members[i]->has_seq;
  msgpack_packer *pk = pz_wire_begin(&sh->wire);
  pz_enc_state_begin(pk, sh->tick, n);
  for (uint32_t i = 0; i < r->n_members; i++) {
    pz_session_t *m = r->members[i];
    pz_state_entry_t e = {m->id, m->seq, m->pos};
    if (m->has_seq)
      pz_enc_state_entry(pk, &e);
  }
  pz_remote_t *rm, *tmp;
  HASH_ITER(hh, r->remote, rm, tmp) {
    pz_state_entry_t e = {rm->id, rm->seq, rm->pos};
    pz_enc_state_entry(pk, &e);
  }
  sh->stats.state_frames++;
  sh->stats.state_entries += n;
  return pz_payload_create(pz_wire_data(&sh->wire), pz_wire_len(&sh->wire),
                           PZ_PAYLOAD_STATE_FULL);
}

/* Each attached member without a VIEW gets the full STATE if it is owed
 * one, else the changes; one whose outlet dropped an unsent STATE to take
 * the changes is owed the full one at the next tick. Each payload is
 * encoded once, when the first member needs it. */
static void send_states(pz_shard_t *sh, pz_room_t *r, bool moved) {
  pz_payload_t *changes = NULL, *full = NULL;
  for (uint32_t i = 0; i < r->n_members; i++) {
    pz_session_t *m = r->members[i];
    if (!m->outlet || m->view)
      continue;
    if (m->behind) {
      if (full == NULL)
        full = encode_full(sh, r);
      pz_outlet_send(m->outlet, full->data, full->len, full->kind, full);
      pz_shard_behind_clear(r, m);
      sh->stats.state_resyncs++;
    } else if (moved) {
      if (changes == NULL)
        changes = encode_changes(sh, r);
      if (pz_outlet_send(m->outlet, changes->data, changes->len, changes->kind,
                         changes) == PZ_OUTLET_LOST)
        pz_shard_behind_set(r, m);
    }
  }
  if (full)
    pz_payload_unref(full);
  if (changes)
    pz_payload_unref(changes);
  else if (moved) /* nobody took them: the changes are done all the same */
    clear_changes(r);
}

void pz_shard_tick(pz_shard_t *sh) {
  sh->tick++;
  pz_room_t *r, *tmp;
  HASH_ITER(hh, sh->rooms, r, tmp) {
    if (sh->hooks && r->n_remote && (r->n_dirty || r->publish_all))
      sh->hooks->state(sh->hooks_ctx, r, sh->tick);
    if (r->loading) /* nobody has ROOM yet: it will say it all */
      continue;
    /* Views first: what moved is cleared once the changes are encoded. */
    if (r->grid)
      pz_interest_tick(sh, r);
    bool moved = r->n_dirty || r->n_rdirty;
    if (moved || r->n_behind)
      send_states(sh, r, moved);
  }
}
