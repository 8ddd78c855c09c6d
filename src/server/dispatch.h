/*
 * The message dispatcher: decodes one client message and carries it out
 * against the connection's session and shard. Domain outcomes (a full
 * room, a rejected move) come back from the shard as named results and
 * become wire error codes here, in one place. Runs on the connection's
 * worker, as the connection layer's on_message up-call.
 */
#ifndef PZ_DISPATCH_H
#define PZ_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "shard.h"

/* Handles one binary message (bytes borrowed for the call). */
void pz_dispatch(pz_conn_t *c, const uint8_t *data, size_t len);
/* Answers a shard operation's outcome to its client: nothing for success
 * or a stale move, else the ERROR the protocol gives it (for `op`). Used
 * too where an operation completes on another worker (a JOIN on arrival). */
void pz_dispatch_answer(pz_conn_t *c, pz_shard_result_t r, int op);

#endif
