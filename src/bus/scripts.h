/*
 * The Lua scripts plaza runs in Redis (EVAL; Redis caches each by its
 * SHA1, so a repeated EVAL costs the body's bytes on the wire, not a
 * compile). Each is atomic, which is what lets every node see one order:
 * a chat's seq, append, trim and publish happen as one step. Keys are
 * named inside the scripts from their arguments, so they need a single
 * Redis (not Redis Cluster). docs/architecture.md lists the keys.
 */
#ifndef PZ_SCRIPTS_H
#define PZ_SCRIPTS_H

/* ARGV: room, id, node, JOIN message. Records the member in the room's
 * presence hash and the node's member hash, forgets any parked entry of
 * it, and publishes the message. */
extern const char pz_script_join[];
/* ARGV: room, id, node, LEAVE message or "". Drops the member from the
 * presence hash if the entry is still this node's, and publishes. */
extern const char pz_script_leave[];
/* ARGV: room, node, id, name, text, ts_ms, floor seq. Returns the seq. */
extern const char pz_script_chat[];
/* ARGV: node, nonce, ttl_ms, now_ms. Renews (or re-takes) the node key and
 * reaps dead nodes' members and parked sessions past their grace: LEAVE
 * published for each. Returns {status, reaped}: status 1 renewed, 2 taken
 * again after it expired, 0 held by another process. */
extern const char pz_script_heartbeat[];
/* ARGV: node, expiry_ms. Parks every member of the node (drain). */
extern const char pz_script_park[];
/* ARGV: session key, token. Returns the SESSION record and deletes it when
 * its token is the one given; nil otherwise (the record stays). */
extern const char pz_script_take[];
/* Returns {room, count, room, count, ...} of the cluster's rooms. */
extern const char pz_script_rooms[];

#endif
