/*
 * A room: its members (an array, O(1) removal by swapping the last in), the
 * members whose position changed since the last tick, how many members
 * are owed a full STATE, and its chat.
 * Owned by the worker of its shard; nothing here is shared across threads.
 */
#ifndef PZ_ROOM_H
#define PZ_ROOM_H

#include <stdint.h>
#include <uthash.h>

#include "chat_history.h"
#include "plaza/protocol.h"
#include "session.h"

typedef struct pz_room {
  char name[PZ_ROOM_NAME_MAX + 1];
  uint8_t name_len;
  UT_hash_handle hh; /* the shard's table, by name */
  pz_session_t **members;
  uint32_t n_members, cap_members;
  uint32_t n_attached; /* members with an outlet: 0 means nobody to send to */
  pz_session_t **dirty;
  uint32_t n_dirty, cap_dirty;
  uint32_t n_behind; /* members owed a full STATE (session.h `behind`) */
  uint64_t chat_seq;
  pz_chat_history_t chat;
  struct pz_rstate *rstate; /* its shared state (room_state.h); NULL: none */
  /* Clustered only (remote.h); empty and false in the embedded default. */
  struct pz_remote *remote; /* members on other nodes, by id */
  uint32_t n_remote;
  struct pz_remote **rdirty; /* remote positions for the next STATE */
  uint32_t n_rdirty, cap_rdirty;
  struct pz_room_sync *sync; /* the bus's: where the room's events stand */
  /* Interest management (interest.c): the grid while members with a
   * VIEW are here (NULL otherwise), how many, and whether a view changed
   * since the last tick. */
  struct pz_grid *grid;
  uint32_t n_viewers;
  bool view_pending;
  bool loading;     /* presence and history being read: ROOM waits */
  bool publish_all; /* a node arrived: the next publish carries everyone */
  uint32_t gen;     /* tells this room from a later one of the same name */
} pz_room_t;

/* True when name is 1-64 bytes of [A-Za-z0-9._:-]. */
bool pz_room_name_valid(const char *name, size_t len);

#endif
