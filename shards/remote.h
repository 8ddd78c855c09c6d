/*
 * Members of a room who live on other nodes (clustered only): what the
 * bus tells the room's worker about them, kept per room so that ROOM lists
 * them, JOINED/LEFT announce them to the local members, and their moves
 * join the next local STATE (one STATE per client per tick, whatever the
 * node count). Sans-I/O like the rest of shards/: the cluster layer feeds
 * it from Redis; nothing here knows Redis.
 */
#ifndef PZ_REMOTE_H
#define PZ_REMOTE_H

#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "shard.h"

typedef struct pz_remote {
  uint64_t id;
  UT_hash_handle hh;
  uint32_t node;
  uint32_t gen; /* the session's generation (a resume elsewhere: +1) */
  bool dirty;
  bool mark; /* a reload's sweep: seen in the snapshot */
  char name[PZ_NAME_MAX + 1];
  uint8_t name_len;
  uint64_t seq;
  pz_pos_t pos;
  char *state; /* its member state (a map, owned); NULL: empty */
  uint32_t state_len;
  uint32_t vidx; /* short id in the room's grid, or PZ_GRID_NONE */
} pz_remote_t;

pz_room_t *pz_shard_room_find(pz_shard_t *sh, pz_str_t name);
pz_remote_t *pz_shard_remote_find(pz_room_t *r, uint64_t id);
/* A member on another node: added (JOINED to the local members when
 * notify) or, when known, its node, name and position updated quietly.
 * The next publish of this node carries every local member (the new node
 * has only the stored positions). Returns true when it was new. */
bool pz_shard_remote_join(pz_shard_t *sh, pz_room_t *r, const pz_member_t *m,
                          uint32_t node, bool notify);
/* The same with the member's state (protocol 1.1): a state map (copied;
 * ptr NULL: empty for a new member, unchanged for a known one). */
bool pz_shard_remote_join_state(pz_shard_t *sh, pz_room_t *r,
                                const pz_member_t *m, pz_raw_t state,
                                uint32_t node, bool notify);
/* Drops a remote member (LEFT to the local members when notify). */
void pz_shard_remote_leave(pz_shard_t *sh, pz_room_t *r, uint64_t id,
                           bool notify);
/* A remote member's position, for the next STATE. */
void pz_shard_remote_state(pz_shard_t *sh, pz_room_t *r,
                           const pz_state_entry_t *e);
/* A chat of the room in its cluster-wide order: kept in history (once per
 * seq) and sent to every local member. */
void pz_shard_remote_chat(pz_shard_t *sh, pz_room_t *r,
                          const pz_chat_entry_t *c);
/* protocol 1.1, from other nodes. A remote member's SET: `patch` (a
 * state patch) applied to its copy of the state and MEMBER to every
 * local member. False, and nothing changes, when the patch is not a map
 * of string keys; an unknown id is ignored (true: its JOIN carries its
 * state). */
bool pz_shard_remote_member_state(pz_shard_t *sh, pz_room_t *r, uint64_t id,
                                  pz_raw_t patch);
/* A SIGNAL to the room from a member on another node: to every local
 * member. */
void pz_shard_remote_signal(pz_shard_t *sh, pz_room_t *r, uint64_t from,
                            pz_str_t name, pz_str_t kind, pz_raw_t data,
                            uint64_t ts_ms);
/* A set of r's state as the bus numbered it (this node's own sets come
 * back this way too): applied when `version` is above the key's last one,
 * with ROOM_STATE to every local member (in version order as the bus
 * delivers them); an older or equal version is already held: ignored.
 * While r loads, ROOM will carry it. value nil deletes. */
void pz_shard_room_state_apply(pz_shard_t *sh, pz_room_t *r, pz_str_t key,
                               pz_raw_t value, uint64_t version, uint64_t by);
/* Forgets r's state (before the bus reloads it). */
void pz_shard_room_state_clear(pz_shard_t *sh, pz_room_t *r);
/* Reload sweeps: clear every mark, then drop (with LEFT) the unmarked. */
void pz_shard_remote_unmark(pz_room_t *r);
void pz_shard_remote_sweep(pz_shard_t *sh, pz_room_t *r);
/* Frees every remote member (the room closes). */
void pz_shard_remote_clear(pz_room_t *r);
/* The room's presence and history are read: ROOM to those waiting. */
void pz_shard_room_ready(pz_shard_t *sh, pz_room_t *r);
/* Takes s out of its room without LEFT and without the hooks (its session
 * continues on another node, which announced it). */
void pz_shard_handoff(pz_shard_t *sh, pz_session_t *s);

#endif
