/*
 * A session: who a client is (id, name, token), where it is (room,
 * position) and its limits, kept apart from its socket. The socket side is
 * the outlet; a session without one is detached and waits for a resume
 * until `expires_ms`. A session is owned by exactly one worker at a time
 * and moves between workers whole (see worker.c).
 */
#ifndef PZ_SESSION_H
#define PZ_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "id.h"
#include "jwt.h"
#include "outlet.h"
#include "plaza/codec.h"
#include "plaza/protocol.h"
#include "ratelimit.h"
#include "rules.h"

struct pz_room;

/* pz_session_t.changed: the position (the record follows at most once a
 * second), anything else (at once). */
#define PZ_SESSION_MOVED 1u
#define PZ_SESSION_CHANGED 2u
/* A SIGNAL waiting behind the one its sender has in flight to another
 * worker (src/server/signals.c defines the rest): one allocation each,
 * in order, freed with the session. */
typedef struct pz_sigq {
  struct pz_sigq *next;
} pz_sigq_t;

/* The first 64 bytes hold what the tick reads of every member and a MOVE
 * writes (a tick walks a thousand sessions: each line more is a cache
 * miss per member per tick); the rest is ordered for size, 8-byte fields
 * first, the small ones packed at the end (one per client:
 * docs/architecture.md, "Memory per connection"). */
typedef struct pz_session {
  uint64_t id;         /* the key of the owning shard's table (idmap.h) */
  pz_outlet_t *outlet; /* NULL while detached */
  /* VIEW (protocol 1.1): the options and what is in view (owned); NULL
   * for the whole room as STATE, which is v1. */
  struct pz_view *view;
  struct pz_room *room; /* NULL outside a room */
  uint64_t seq;         /* last MOVE seq applied (or acknowledged) */
  pz_pos_t pos;
  /* What changed since the bus last looked (PZ_SESSION_*): clustered, the
   * session's record in Redis is rewritten from it. */
  uint8_t changed;
  bool dirty : 1; /* position changed since the last tick */
  /* Its outlet dropped a STATE it had not sent (a slow reader): the next
   * tick sends it a full STATE, even if nothing moved. ROOM clears it. */
  bool behind : 1;
  bool has_seq : 1;
  /* False from creation and from each JOIN until a MOVE is accepted: that
   * move is a spawn, anywhere inside the bounds, since where the server
   * holds the session then (the origin, or its spot in the room it left)
   * is no place the client walked from. A resume keeps it as it was. */
  bool placed : 1;
  uint32_t member_index; /* position in room->members */

  pz_motion_t motion;

  pz_bucket_t move_bucket;
  pz_bucket_t chat_bucket;
  pz_bucket_t join_bucket;
  pz_bucket_t app_bucket; /* SET, SIGNAL and ROOM_SET share it */
  pz_window_t dropped;    /* rate-limited messages, for 4003 */
  pz_window_t malformed;  /* malformed messages, for 4002 */
  /* Its short id in its room's grid (grid.h, VIEW), PZ_GRID_NONE while the
   * room has none. */
  uint32_t vidx;

  /* Clustered: the replay a resume asked for (with `replay`). */
  uint64_t replay_after;
  uint64_t bus_ms; /* the bus's: when it last wrote the record */

  /* Member state (protocol 1.1): one MessagePack map (owned), NULL when
   * empty. It belongs to the session: JOINs and resumes keep it. */
  char *state;
  /* SIGNALs of this sender: one may be in flight to another worker at a
   * time (signal_in_flight), the later ones wait here, in order
   * (signals.c). */
  pz_sigq_t *sigq;
  pz_grant_t *grant;   /* the JWT's user and rooms (owned); NULL without auth */
  uint64_t expires_ms; /* detached: when the grace period ends */
  struct pz_session *dprev, *dnext; /* the worker's list of detached ones */

  /* Clustered: +1 at each resume on another node; a node holding an older
   * generation of the session lets it go. */
  uint32_t gen;
  /* A JOIN of a room on another worker waits for that worker to grant a
   * place (src/server/joins.c): the number of the ask pending, if
   * `placing`. A new outlet (or none) voids it: the answer then finds
   * nobody waiting and gives the place back. */
  uint32_t place_ask;
  uint32_t state_len;
  pz_ip_t addr; /* the client's address at its HELLO or latest resume */
  char name[PZ_NAME_MAX + 1];
  uint8_t name_len;
  /* The resume token is "<id>.<secret>" (id.h): the secret is kept in
   * binary and the token made when sent (pz_session_token). */
  uint8_t secret[PZ_TOKEN_SECRET_BYTES];
  /* Clustered: ROOM is owed once the room has loaded (with the replay a
   * resume asked for), and a join that continues a session from another
   * node (no JOINED for those who know it). */
  bool room_owed : 1;
  bool replay : 1;
  bool handoff : 1;
  bool signal_in_flight : 1;
  bool placing : 1;
} pz_session_t;

static inline pz_str_t pz_session_name(const pz_session_t *s) {
  return (pz_str_t){s->name, s->name_len};
}

/* The session's resume token into out; returns its length. */
static inline int pz_session_token(const pz_session_t *s,
                                   char out[PZ_SESSION_TOKEN_MAX + 1]) {
  return pz_token_format(s->id, s->secret, out, PZ_SESSION_TOKEN_MAX + 1);
}

static inline pz_raw_t pz_session_state(const pz_session_t *s) {
  return (pz_raw_t){s->state, s->state_len};
}

#endif
