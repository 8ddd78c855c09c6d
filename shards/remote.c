/* Members of a room on other nodes (see remote.h). */
#include "remote.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "grid.h"
#include "interest.h"
#include "shard_int.h"

pz_room_t *pz_shard_room_find(pz_shard_t *sh, pz_str_t name) {
  pz_room_t *r;
  HASH_FIND(hh, sh->rooms, name.ptr, name.len, r);
  return r;
}

pz_remote_t *pz_shard_remote_find(pz_room_t *r, uint64_t id) {
  pz_remote_t *m;
  HASH_FIND(hh, r->remote, &id, sizeof(id), m);
  return m;
}

static void set_name(pz_remote_t *m, pz_str_t name) {
  m->name_len = (uint8_t)(name.len > PZ_NAME_MAX ? PZ_NAME_MAX : name.len);
  memcpy(m->name, name.ptr, m->name_len);
}

bool pz_shard_remote_join(pz_shard_t *sh, pz_room_t *r, const pz_member_t *in,
                          uint32_t node, bool notify) {
  return pz_shard_remote_join_state(sh, r, in, (pz_raw_t){NULL, 0}, node,
                                    notify);
}

bool pz_shard_remote_join_state(pz_shard_t *sh, pz_room_t *r,
                                const pz_member_t *in, pz_raw_t state,
                                uint32_t node, bool notify) {
  r->publish_all = true;
  pz_remote_t *m = pz_shard_remote_find(r, in->id);
  if (m) {
    m->node = node;
    m->mark = true;
    set_name(m, in->name);
    if (state.ptr)
      pz_shard_state_copy(&m->state, &m->state_len, state);
    return false;
  }
  m = pz_xcalloc(1, sizeof(*m));
  m->id = in->id;
  m->node = node;
  m->mark = true;
  set_name(m, in->name);
  m->pos = in->pos;
  pz_shard_state_copy(&m->state, &m->state_len, state);
  HASH_ADD(hh, r->remote, id, sizeof(m->id), m);
  r->n_remote++;
  pz_interest_remote_join(sh, r, m);
  if (notify) {
    pz_member_t j = {m->id, {m->name, m->name_len}, m->pos};
    pz_enc_joined(pz_wire_begin(&sh->wire), &j,
                  (pz_raw_t){m->state, m->state_len});
    pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
  }
  return true;
}

static void rdirty_remove(pz_room_t *r, pz_remote_t *m) {
  if (!m->dirty)
    return;
  for (uint32_t i = 0; i < r->n_rdirty; i++)
    if (r->rdirty[i] == m) {
      r->rdirty[i] = r->rdirty[--r->n_rdirty];
      break;
    }
  m->dirty = false;
}

void pz_shard_remote_leave(pz_shard_t *sh, pz_room_t *r, uint64_t id,
                           bool notify) {
  pz_remote_t *m = pz_shard_remote_find(r, id);
  if (!m)
    return;
  rdirty_remove(r, m);
  /* without LEFT (a session continuing elsewhere) its viewers hear AWAY */
  pz_interest_remote_leave(sh, r, m, !notify);
  HASH_DEL(r->remote, m);
  r->n_remote--;
  free(m->state);
  free(m);
  if (notify) {
    pz_enc_left(pz_wire_begin(&sh->wire), id);
    pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
  }
}

void pz_shard_remote_state(pz_shard_t *sh, pz_room_t *r,
                           const pz_state_entry_t *e) {
  pz_remote_t *m = pz_shard_remote_find(r, e->id);
  if (!m)
    return; /* its JOIN has not arrived: the next publish carries it */
  m->seq = e->seq;
  m->pos = e->pos;
  if (m->dirty)
    return;
  if (r->n_rdirty == r->cap_rdirty) {
    r->cap_rdirty = r->cap_rdirty ? r->cap_rdirty * 2 : 8;
    r->rdirty = pz_xrealloc(r->rdirty, r->cap_rdirty * sizeof(*r->rdirty));
  }
  r->rdirty[r->n_rdirty++] = m;
  m->dirty = true;
}

void pz_shard_remote_chat(pz_shard_t *sh, pz_room_t *r,
                          const pz_chat_entry_t *c) {
  if (r->chat.count &&
      c->seq <= pz_chat_history_at(&r->chat, r->chat.count - 1)->seq)
    return; /* already held (a reload raced the subscription) */
  if (c->seq > r->chat_seq)
    r->chat_seq = c->seq;
  pz_chat_history_add(&r->chat, c);
  pz_enc_chat(pz_wire_begin(&sh->wire), c);
  pz_shard_broadcast_wire(sh, r, NULL, PZ_PAYLOAD_RELIABLE);
}

void pz_shard_remote_unmark(pz_room_t *r) {
  pz_remote_t *m, *tmp;
  HASH_ITER(hh, r->remote, m, tmp) m->mark = false;
}

void pz_shard_remote_sweep(pz_shard_t *sh, pz_room_t *r) {
  pz_remote_t *m, *tmp;
  HASH_ITER(hh, r->remote, m, tmp) {
    if (!m->mark)
      pz_shard_remote_leave(sh, r, m->id, true);
  }
}

void pz_shard_remote_clear(pz_room_t *r) {
  pz_remote_t *m, *tmp;
  HASH_ITER(hh, r->remote, m, tmp) {
    HASH_DEL(r->remote, m);
    free(m->state);
    free(m);
  }
  r->n_remote = r->n_rdirty = 0;
}

void pz_shard_room_ready(pz_shard_t *sh, pz_room_t *r) {
  if (!r->loading)
    return;
  r->loading = false;
  for (uint32_t i = 0; i < r->n_members; i++) {
    pz_session_t *s = r->members[i];
    if (s->room_owed) {
      s->room_owed = false;
      pz_shard_send_room(sh, s, s->replay, s->replay_after);
    }
  }
}

void pz_shard_handoff(pz_shard_t *sh, pz_session_t *s) {
  pz_room_t *r = s->room;
  if (!r)
    return;
  pz_shard_member_remove(sh, r, s, true);
  if (r->n_members == 0)
    pz_shard_room_free(sh, r);
}
