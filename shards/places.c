/*
 * Places in a room (see shard.h): who counts against --room-max-members,
 * and places held for sessions on their way from another worker. A JOIN
 * of a room on another worker first asks that worker for a place and
 * moves only once it is granted, so a refused JOIN changes nothing; the
 * held place keeps the room from filling meanwhile. Held places are kept
 * by room name (the room itself may not exist yet), in a table that is
 * empty but for the JOINs in flight.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "remote.h"
#include "shard.h"

struct pz_place_hold {
  char name[PZ_ROOM_NAME_MAX + 1];
  uint8_t name_len;
  uint32_t count;
  UT_hash_handle hh;
};

static pz_place_hold_t *hold_find(pz_shard_t *sh, pz_str_t room) {
  pz_place_hold_t *h;
  HASH_FIND(hh, sh->holds, room.ptr, room.len, h);
  return h;
}

uint32_t pz_shard_room_count(pz_shard_t *sh, pz_str_t room, uint64_t id) {
  pz_place_hold_t *h = hold_find(sh, room);
  uint32_t n = h ? h->count : 0;
  pz_room_t *r = pz_shard_room_find(sh, room);
  if (r) {
    n += r->n_members + r->n_remote;
    /* One listed through another node that now joins here counts once. */
    if (r->n_remote && pz_shard_remote_find(r, id))
      n--;
  }
  return n;
}

bool pz_shard_room_has_place(pz_shard_t *sh, pz_str_t room, uint64_t id) {
  return pz_shard_room_count(sh, room, id) < sh->cfg.room_max_members;
}

bool pz_shard_place_hold(pz_shard_t *sh, pz_str_t room, uint64_t id) {
  if (room.len == 0 || room.len > PZ_ROOM_NAME_MAX ||
      !pz_shard_room_has_place(sh, room, id))
    return false;
  pz_place_hold_t *h = hold_find(sh, room);
  if (!h) {
    h = pz_xcalloc(1, sizeof(*h));
    memcpy(h->name, room.ptr, room.len);
    h->name_len = (uint8_t)room.len;
    HASH_ADD_KEYPTR(hh, sh->holds, h->name, h->name_len, h);
  }
  h->count++;
  return true;
}

void pz_shard_place_release(pz_shard_t *sh, pz_str_t room) {
  pz_place_hold_t *h = hold_find(sh, room);
  if (!h)
    return;
  if (--h->count == 0) {
    HASH_DEL(sh->holds, h);
    free(h);
  }
}

void pz_shard_places_dispose(pz_shard_t *sh) {
  pz_place_hold_t *h, *tmp;
  HASH_ITER(hh, sh->holds, h, tmp) {
    HASH_DEL(sh->holds, h);
    free(h);
  }
}
