/*
 * What one worker owns: the rooms of its shard and the sessions living on
 * it, with the operations of the protocol that touch only them (join,
 * leave, move, chat, the tick). Everything here runs on the owning
 * worker's thread; cross-worker steps (moving a session, whispers) are the
 * worker's job, through inboxes.
 *
 * Messages to clients go out through each session's outlet; a broadcast is
 * encoded once into a shared payload.
 */
#ifndef PZ_SHARD_H
#define PZ_SHARD_H

#include <stdint.h>

#include "idmap.h"
#include "room.h"
#include "room_state.h"
#include "rules.h"
#include "session.h"
#include "wire.h"

/* What a shard operation came to: domain outcomes, which the dispatcher
 * alone turns into the protocol's error codes. */
typedef enum pz_shard_result {
  PZ_SHARD_OK = 0,
  PZ_SHARD_STALE,         /* MOVE: seq not above the last; ignored */
  PZ_SHARD_ROOM_FULL,     /* JOIN: the room is at its member limit */
  PZ_SHARD_MOVE_REJECTED, /* MOVE: breaks the speed or bounds rule */
  PZ_SHARD_UNAVAILABLE,   /* CHAT, ROOM_SET: clustered, and the cluster
                             unreachable */
  PZ_SHARD_LIMIT,         /* SET, ROOM_SET: past a size or count limit */
  PZ_SHARD_CONFLICT,      /* ROOM_SET: if_version is not the key's version */
} pz_shard_result_t;

typedef struct pz_shard_config {
  uint32_t room_max_members;
  pz_rules_t rules;
  double move_rate, chat_rate, chat_burst, join_burst;
  /* protocol 1.1 */
  double app_burst;           /* SET + SIGNAL + ROOM_SET bucket */
  uint32_t member_state_max;  /* bytes of a member's state */
  pz_rstate_limits_t room;    /* a room's state */
  uint64_t room_state_ttl_ms; /* a state's life after its room empties */
  uint64_t parked_max;        /* cost of the parked states (rstate_cost) */
  double view_cell;           /* side of an interest cell (grid.h), > 0 */
} pz_shard_config_t;

/* Counters a shard keeps for metrics (read by other threads as relaxed
 * atomics, written only by the owner). */
typedef struct pz_shard_stats {
  uint64_t state_frames;  /* STATE payloads encoded */
  uint64_t state_entries; /* entries in them */
  uint64_t state_resyncs; /* full STATEs sent to members owed one */
  uint64_t rooms;
  uint64_t sessions;
  uint64_t parked;         /* room states kept for emptied rooms */
  uint64_t parked_evicted; /* of those, dropped before their time (bound) */
  /* VIEW (interest.c): STATE_C payloads, their entries and bytes (a
   * STATE_C is also counted in state_frames and state_entries), and the
   * members named in AWAY messages. */
  uint64_t state_c_frames;
  uint64_t state_c_entries;
  uint64_t state_c_bytes;
  uint64_t aways;
} pz_shard_stats_t;

/* What a clustered shard tells the bus (NULL hooks in the embedded
 * default: every call site is one null check). Each runs on the shard's
 * worker; ctx is the cluster layer's. */
typedef struct pz_shard_hooks {
  /* A room got its first local member. Returns true when its presence
   * and history must be read first: ROOM then waits for
   * pz_shard_room_ready. */
  bool (*room_open)(void *ctx, pz_room_t *r);
  /* The room's last local member left; the room is freed after. */
  void (*room_close)(void *ctx, pz_room_t *r);
  void (*joined)(void *ctx, pz_room_t *r, pz_session_t *s);
  void (*left)(void *ctx, pz_room_t *r, pz_session_t *s);
  /* Returns PZ_SHARD_OK when the bus took the chat (it comes back,
   * numbered, through pz_shard_remote_chat), or PZ_SHARD_UNAVAILABLE when
   * it cannot take it now (the chat is refused: numbering it here would
   * fork the room's order). */
  pz_shard_result_t (*chat)(void *ctx, pz_room_t *r, pz_session_t *s,
                            pz_str_t text, uint64_t ts_ms);
  /* Tick: local changes of a room other nodes have members in (r->dirty,
   * or every member when r->publish_all). */
  void (*state)(void *ctx, pz_room_t *r, uint64_t tick);

  /* protocol 1.1. Each may be NULL, and then the shard does that part
   * alone, as on one node. */
  /* s, a member of r, changed its state with `patch` (a checked state
   * patch, borrowed for the call; s->state is already the new state, and
   * r's local members have their MEMBER). Other nodes apply it with
   * pz_shard_remote_member_state. Outside a room a SET calls nothing: the
   * state goes along in the session (and JOIN / the session record). */
  void (*member_state)(void *ctx, pz_room_t *r, pz_session_t *s,
                       pz_raw_t patch);
  /* ROOM_SET by s, a member of r, that passed the limits against the
   * shard's copy of r's state (borrowed key and value; nil deletes). The
   * bus numbers it and answers later: applied, every node (this one
   * included) calls pz_shard_room_state_apply with the version, which
   * sends ROOM_STATE; a conflict goes back to s as ERROR 12 (a
   * PZ_DELIVER_CONFLICT routed to s->id). Returns PZ_SHARD_OK when the
   * bus took it, PZ_SHARD_UNAVAILABLE when it cannot now (ERROR 10, and
   * nothing changes). With this hook set the state lives in the bus: the
   * shard's copy is dropped with the room, never parked. */
  pz_shard_result_t (*room_set)(void *ctx, pz_room_t *r, pz_session_t *s,
                                pz_str_t key, pz_raw_t value,
                                bool has_if_version, uint64_t if_version);
  /* SIGNAL from s to every other member of r (borrowed kind and data):
   * r's local members have it. Other nodes deliver it with
   * pz_shard_remote_signal. */
  void (*signal)(void *ctx, pz_room_t *r, pz_session_t *s, pz_str_t kind,
                 pz_raw_t data, uint64_t ts_ms);
} pz_shard_hooks_t;

typedef struct pz_place_hold pz_place_hold_t;

typedef struct pz_shard {
  int index;
  pz_shard_config_t cfg;
  const pz_shard_hooks_t *hooks;
  void *hooks_ctx;
  uint32_t room_gen;
  pz_room_t *rooms;       /* by name */
  pz_idmap_t sessions;    /* by id: every session living on this shard */
  pz_place_hold_t *holds; /* places held in rooms, by name (places.c) */
  uint32_t n_rooms, n_sessions;
  uint64_t tick;
  pz_wire_t wire;
  pz_shard_stats_t stats;
  /* protocol 1.1: room states by room name, those of live rooms and
   * those parked after their room emptied (oldest first in the list),
   * the parked ones' cost, the clock of the last sweep, and scratch for
   * applying state patches. */
  pz_rstate_t *rstates;
  pz_rstate_t *parked;
  uint64_t parked_cost;
  uint64_t now_ms;
  msgpack_zone zone;
  struct pz_interest *interest; /* interest.c's tick scratch, or NULL */
} pz_shard_t;

void pz_shard_init(pz_shard_t *sh, int index, const pz_shard_config_t *cfg);
/* Frees every room and session (sessions' outlets are not touched). */
void pz_shard_dispose(pz_shard_t *sh);

/* Sessions. create: a new session (copies name and the token's secret,
 * PZ_TOKEN_SECRET_BYTES), not in a room.
 * add/remove: move an existing session in or out of this shard's table
 * without touching its room (used when it moves between workers).
 * destroy: leaves its room (LEFT to the others) and frees it. */
pz_session_t *pz_shard_session_create(pz_shard_t *sh, uint64_t id,
                                      pz_str_t name, const uint8_t *secret,
                                      uint64_t now_ms);
void pz_shard_session_add(pz_shard_t *sh, pz_session_t *s);
void pz_shard_session_remove(pz_shard_t *sh, pz_session_t *s);
pz_session_t *pz_shard_session_find(pz_shard_t *sh, uint64_t id);
void pz_shard_session_destroy(pz_shard_t *sh, pz_session_t *s);

/* Attaching an outlet to a member (resume) or detaching it (drop). */
void pz_shard_session_attach(pz_shard_t *sh, pz_session_t *s, pz_outlet_t *o);
void pz_shard_session_detach(pz_shard_t *sh, pz_session_t *s,
                             uint64_t expires_ms);

/* Places (places.c). A room is full when its members here, its members on
 * other nodes and the places held in it reach room_max_members. count:
 * what counts against the limit for session `id` (which is not counted
 * twice when the room lists it through another node). has_place: count
 * below the limit. place_hold: holds a place for a session on its way
 * here from another worker (false, nothing held, when the room is full);
 * the place is the session's when it joins with pz_shard_join_held, or
 * must be released if it does not come. */
uint32_t pz_shard_room_count(pz_shard_t *sh, pz_str_t room, uint64_t id);
bool pz_shard_room_has_place(pz_shard_t *sh, pz_str_t room, uint64_t id);
bool pz_shard_place_hold(pz_shard_t *sh, pz_str_t room, uint64_t id);
void pz_shard_place_release(pz_shard_t *sh, pz_str_t room);
void pz_shard_places_dispose(pz_shard_t *sh);

/* JOIN: the caller has left the previous room and checked the name (a
 * caller that must change nothing when the room is full checks
 * pz_shard_room_has_place before leaving). Returns PZ_SHARD_OK (ROOM sent
 * to s, JOINED to the others) or PZ_SHARD_ROOM_FULL. */
pz_shard_result_t pz_shard_join(pz_shard_t *sh, pz_session_t *s, pz_str_t room);
/* JOIN into the place held for s (pz_shard_place_hold): never full. */
void pz_shard_join_held(pz_shard_t *sh, pz_session_t *s, pz_str_t room);
/* LEAVE: LEFT to the remaining members, and to s when notify_self. */
void pz_shard_leave(pz_shard_t *sh, pz_session_t *s, bool notify_self);
/* Sends ROOM to s (its room's members and history). With replay (a resume
 * that gave last_chat_seq) ROOM's history stops at after_seq and each chat
 * with seq > after_seq follows as its own CHAT, so none arrives twice. */
void pz_shard_send_room(pz_shard_t *sh, pz_session_t *s, bool replay,
                        uint64_t after_seq);

/* MOVE: ignores seq not above the last; applies the rules, only the bounds
 * to the first accepted move after creation or JOIN (a spawn). Returns
 * PZ_SHARD_OK, PZ_SHARD_STALE (ignored), or PZ_SHARD_MOVE_REJECTED (the
 * next STATE then carries the server's position with this seq). */
pz_shard_result_t pz_shard_move(pz_shard_t *sh, pz_session_t *s, uint64_t seq,
                                const pz_pos_t *pos, uint64_t now_ms);
/* CHAT: broadcast to the room, sender included, and keep in history.
 * Returns PZ_SHARD_OK, or PZ_SHARD_UNAVAILABLE from the hook (nothing
 * was sent). */
pz_shard_result_t pz_shard_chat(pz_shard_t *sh, pz_session_t *s, pz_str_t text,
                                uint64_t ts_ms);
/* A CHAT from the server (id 0, `name`) to room `room`, or to every room
 * of the shard when room.ptr is NULL; kept in history like any chat.
 * Returns the number of rooms it went to. */
uint32_t pz_shard_system_chat(pz_shard_t *sh, pz_str_t room, pz_str_t name,
                              pz_str_t text, uint64_t ts_ms);
/* Tick: one STATE per room with changes, encoded once, sent to every
 * attached member; and to each member whose outlet dropped an unsent
 * STATE (PZ_OUTLET_LOST), a full STATE instead, whether or not anything
 * moved: every member's current position, encoded once per room. */
void pz_shard_tick(pz_shard_t *sh);

/* ---- protocol 1.1: VIEW (interest.c) ------------------------------------ */

/* VIEW: what s receives of positions from now on, in this room and the
 * next ones (the options belong to the session). radius > 0: only the
 * members within it (horizontally), entering at <= radius and leaving past
 * PZ_VIEW_HYSTERESIS times it, with AWAY; 0: the whole room. compact:
 * STATE_C instead of STATE. The defaults (0, false) are v1. In a room,
 * the next tick sends a full STATE of the new view (and AWAY to the
 * members it had in view that are out of it now). The caller has checked
 * the options (finite, radius >= 0). Returns PZ_SHARD_OK. */
pz_shard_result_t pz_shard_view(pz_shard_t *sh, pz_session_t *s, double radius,
                                bool compact);

/* ---- protocol 1.1: member state, signals, room state (shard_app.c) ----- */

/* SET: applies `patch` (a checked state patch) to s's state. In a room,
 * MEMBER [10, id, patch] goes to every member, s included (one payload),
 * then the member_state hook. Returns PZ_SHARD_OK, or PZ_SHARD_LIMIT when
 * the new state would pass cfg.member_state_max (nothing changes). */
pz_shard_result_t pz_shard_set_state(pz_shard_t *sh, pz_session_t *s,
                                     pz_raw_t patch);
/* Replaces s's state with `state` (a state map, copied; ptr NULL or {}:
 * empty), quietly: a new session's HELLO state, a restored session's. */
void pz_shard_session_set_state(pz_session_t *s, pz_raw_t state);

/* SIGNAL from s (in a room) to every other member of its room, one
 * payload, then the signal hook. */
void pz_shard_signal(pz_shard_t *sh, pz_session_t *s, pz_str_t kind,
                     pz_raw_t data, uint64_t ts_ms);
/* A SIGNAL from the server (id 0, `name`) to every member of room `room`.
 * Returns the members it went to (the local ones), or -1 when the shard
 * has no such room. */
int pz_shard_system_signal(pz_shard_t *sh, pz_str_t room, pz_str_t name,
                           pz_str_t kind, pz_raw_t data, uint64_t ts_ms);

/* ROOM_SET by s (in a room): value nil deletes. Checks the limits
 * (cfg.room) and if_version against the key's version (0: absent), then
 * sets it at the next version and sends ROOM_STATE to every member, s
 * included; clustered (room_set hook), hands it to the bus instead.
 * Returns PZ_SHARD_OK, PZ_SHARD_LIMIT, PZ_SHARD_CONFLICT (*current: the
 * key's version) or PZ_SHARD_UNAVAILABLE (from the hook). */
pz_shard_result_t pz_shard_room_set(pz_shard_t *sh, pz_session_t *s,
                                    pz_str_t key, pz_raw_t value,
                                    bool has_if_version, uint64_t if_version,
                                    uint64_t *current);
/* The state of room `name`, its room's or parked, or NULL. */
pz_rstate_t *pz_shard_room_state_find(pz_shard_t *sh, pz_str_t name);

/* Housekeeping: the shard's clock (when a room empties, its state's
 * lifetime counts from here), and the parked states past their lifetime
 * go. */
void pz_shard_sweep(pz_shard_t *sh, uint64_t now_ms);

#endif
