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
/* ARGV: room or "" (every room of the cluster), node, name, text, ts_ms.
 * A server chat (id 0) to each room that has members, numbered and kept
 * like any chat. Returns the rooms it went to. */
extern const char pz_script_cast[];
/* ARGV: room or "" (every room). Returns the JOIN messages of the rooms'
 * members, from their presence hashes. */
extern const char pz_script_members[];
/* ARGV: node, nonce, ttl_ms, now_ms. Renews (or re-takes) the node key and
 * reaps dead nodes' members and parked sessions past their grace: LEAVE
 * published for each. Returns {status, reaped}: status 1 renewed, 2 taken
 * again after it expired, 0 held by another process. */
extern const char pz_script_heartbeat[];
/* ARGV: node, expiry_ms. Parks every member of the node (drain). */
extern const char pz_script_park[];
/* ARGV: session key, token, id, where. Returns the SESSION record and
 * deletes it when its token is the one given; nil otherwise (the record
 * stays). Taken, the directory plaza:where lists the session at `where`
 * ("<node>:w<k>"), or forgets it when `where` is "" (back on its id's own
 * node and home worker). */
extern const char pz_script_take[];
/* ARGV: id, default channel, self, message. PUBLISHes the message to
 * plaza:node:<where> when the directory lists the session somewhere
 * other than `self`, else to the default channel ("": nowhere, returns
 * 0). An entry nobody listens at (its node is gone) is dropped. Returns
 * the listeners. */
extern const char pz_script_route[];
/* ARGV: id, where. Drops the directory entry of id if it is `where`. */
extern const char pz_script_unlist[];
/* Returns {room, count, room, count, ...} of the cluster's rooms. */
extern const char pz_script_rooms[];

#endif
