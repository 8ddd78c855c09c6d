/* Private helpers shared by shard.c and remote.c. */
#ifndef PZ_SHARD_INT_H
#define PZ_SHARD_INT_H

#include "shard.h"

void pz_shard_broadcast_wire(pz_shard_t *sh, pz_room_t *r, pz_session_t *skip,
                             int kind);
void pz_shard_room_free(pz_shard_t *sh, pz_room_t *r);
/* Takes s out of r's members (no message, no hook). */
void pz_shard_member_remove(pz_room_t *r, pz_session_t *s);

#endif
