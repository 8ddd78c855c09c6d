/* Private helpers shared by shard.c and remote.c. */
#ifndef PZ_SHARD_INT_H
#define PZ_SHARD_INT_H

#include "shard.h"

void pz_shard_broadcast_wire(pz_shard_t *sh, pz_room_t *r, pz_session_t *skip,
                             int kind);
void pz_shard_room_free(pz_shard_t *sh, pz_room_t *r);
/* Takes s out of r's members (no LEFT, no hook). away: it is not leaving
 * for the others (a handoff), so members that had it in view get AWAY. */
void pz_shard_member_remove(pz_shard_t *sh, pz_room_t *r, pz_session_t *s,
                            bool away);
/* s is owed a full STATE (the v1 one), or no longer. */
void pz_shard_behind_set(pz_room_t *r, pz_session_t *s);
void pz_shard_behind_clear(pz_room_t *r, pz_session_t *s);

/* shard_app.c: a new room takes its parked state back; a room being
 * freed parks its state (or drops it); ROOM's room_state part; what a
 * session owns beyond itself; every state at dispose. */
void pz_shard_room_state_open(pz_shard_t *sh, pz_room_t *r);
void pz_shard_room_state_close(pz_shard_t *sh, pz_room_t *r);
void pz_shard_enc_room_state(msgpack_packer *pk, const pz_room_t *r);
void pz_shard_session_free(pz_session_t *s);
void pz_shard_room_states_dispose(pz_shard_t *sh);
/* Replaces *state / *len with a copy of v ({} or NULL: empty). */
void pz_shard_state_copy(char **state, uint32_t *len, pz_raw_t v);

#endif
