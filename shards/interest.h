/*
 * Interest management (protocol 1.1 VIEW, AWAY, STATE_C), the private side
 * shared by shard.c and remote.c: how members and views come and go, and
 * the per-room part of the tick for the members that have a VIEW. The
 * public call, VIEW itself, is pz_shard_view in shard.h.
 */
#ifndef PZ_INTEREST_H
#define PZ_INTEREST_H

#include "remote.h"
#include "shard.h"

/* s has joined r (it is in r->members; ROOM follows). */
void pz_interest_join(pz_shard_t *sh, pz_room_t *r, pz_session_t *s);
/* s leaves r's members. away: the others are not told LEFT (a session
 * continuing on another node), so those who had it in view get AWAY. */
void pz_interest_leave(pz_shard_t *sh, pz_room_t *r, pz_session_t *s,
                       bool away);
/* A member on another node arrived, or goes (away as above). */
void pz_interest_remote_join(pz_shard_t *sh, pz_room_t *r, pz_remote_t *rm);
void pz_interest_remote_leave(pz_shard_t *sh, pz_room_t *r, pz_remote_t *rm,
                              bool away);
/* rm, known through another node, is now the local session s (a resume
 * here): it keeps its short id, so views keep it without AWAY; its next
 * entry is a full one. Call before rm is freed. */
void pz_interest_take_over(pz_shard_t *sh, pz_room_t *r, pz_remote_t *rm,
                           pz_session_t *s);
/* ROOM went to s: its view of the room starts empty. */
void pz_interest_room_sent(pz_session_t *s);
/* The tick's part for r's viewers; before the STATE of the others, whose
 * encoding clears what moved. */
void pz_interest_tick(pz_shard_t *sh, pz_room_t *r);
/* s's view (NULL or not) is freed. */
void pz_interest_session_free(pz_session_t *s);
/* The shard's scratch goes. */
void pz_interest_dispose(pz_shard_t *sh);

#endif
