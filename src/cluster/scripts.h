/*
 * The Lua scripts plaza runs in Redis (EVAL; Redis caches each by its
 * SHA1, so a repeated EVAL costs the body's bytes on the wire, not a
 * compile). Each is atomic, which is what lets every node see one order.
 * Keys are named inside the scripts from their arguments, so they need a
 * single Redis (not Redis Cluster). docs/architecture.md lists the keys.
 *
 * Room events. Every JOIN, LEAVE and CHAT of a room (and the app's member
 * and room state, later) is emitted the same way: numbered with the
 * room's next offset in its epoch (plaza:room:<r>:ev, a hash {epoch, off};
 * a new epoch, from Redis' clock, whenever the hash is missing: Redis lost
 * the room), wrapped in an EVENT envelope, appended to the room's bounded
 * log (a stream, plaza:room:<r>:log, entry id "<off>-0") and published on
 * the room's channel. A node applies a room's events in offset order and
 * fetches what it missed from the log.
 *
 * Presence entries (plaza:room:<r>:members, id -> value) are
 * "<node>:<gen>|<JOIN message>": the scripts read the owner and the
 * session's generation from the prefix without unpacking app data.
 *
 * A room whose presence hash empties keeps its keys for the room TTL
 * (PEXPIRE); the next JOIN makes them permanent again (PERSIST).
 */
#ifndef PZ_SCRIPTS_H
#define PZ_SCRIPTS_H

/* How many events a room's log keeps (XADD MAXLEN ~): how far back a node
 * can repair a gap before it must read the room whole again. */
#define PZ_ROOM_LOG_MAX 1024

/* ARGV: room, id, node, gen, JOIN message, room_ttl_ms. Records the
 * member (unless a newer generation of it is there: returns 0) and emits
 * the JOIN; forgets any parked entry. Returns the offset. */
extern const char pz_script_join[];
/* ARGV: room, id, node, LEAVE message, room_ttl_ms. Drops the member from
 * the presence hash unless another node holds it (then returns 0 and
 * emits nothing), and emits the LEAVE. Returns the offset. */
extern const char pz_script_leave[];
/* ARGV: room, node, id, name, text, ts_ms, floor seq, idem field, idem
 * counter. Numbers, keeps and emits one chat, unless the same (field,
 * counter) was numbered already (returns -1: a retry of a chat whose
 * answer was lost). Returns the seq. */
extern const char pz_script_chat[];
/* ARGV: room, id, node, gen, JOIN message (with the new state), MEMBER
 * message. A member's state changed: its presence entry takes the new
 * state (if still this node's, at this generation) and the MEMBER is
 * emitted. Returns the offset, or 0 (another node holds it now). */
extern const char pz_script_member[];
/* ARGV: room, key, if_version or "", value or "" (delete), by, node, idem
 * field, idem counter, value max, keys max, bytes max. A ROOM_SET: checked
 * against the room's state in Redis (the version, the limits), applied at
 * the next version and emitted. Returns {1, version}, {0, current version}
 * (a conflict), {-2} (past a limit) or {-1} (done already: a retry). */
extern const char pz_script_room_set[];
/* ARGV: room, SIGNAL message. Publishes it when the room has members;
 * returns how many it has, cluster-wide. */
extern const char pz_script_room_signal[];
/* ARGV: room. {members, the state's PTTL, {key,
 * "<version>|<by>|<value>", ...}}. */
extern const char pz_script_room_state[];
/* ARGV: room or "" (every room of the cluster), node, name, text, ts_ms.
 * A server chat (id 0) to each room that has members. Returns the rooms
 * it went to. */
extern const char pz_script_cast[];
/* ARGV: room or "" (every room). Returns the presence values of the
 * rooms' members. */
extern const char pz_script_members[];
/* ARGV: room. The room's snapshot, in one step with its offset:
 * {epoch, offset, {presence field, value, ...}, {chat message, ...},
 *  {state key, "<version>|<by>|<value>", ...}}. */
extern const char pz_script_load[];
/* ARGV: room, floor seq, n, n chat messages oldest first, then the room
 * state's (key, "<version>|<by>|<value>") pairs. A new epoch: the room's
 * seq is at least floor, an empty history takes the node's messages and a
 * missing state the node's copy. */
extern const char pz_script_reseed[];
/* ARGV: node, nonce, ttl_ms, grace_ms, batch, room_ttl_ms (the time is
 * Redis' own).
 * Renews (or re-takes) the node key; for each dead node, parks up to
 * `batch` of its members (they stay listed until their grace ends without
 * a resume) and sets its sessions' records to expire with the grace; then
 * announces LEFT for up to `batch` parked members past their grace.
 * Returns {status, left, parked}: status 1 renewed, 2 taken again after it
 * expired, 0 held by another process. */
extern const char pz_script_heartbeat[];
/* ARGV: node, nonce. A draining node lets go of its key (if still its
 * own), so the others park its members at once. */
extern const char pz_script_release[];
/* ARGV: node, then (id, gen, token hash, ttl_ms, list, record | "") for
 * each session: writes (or, with "", deletes) plaza:session:<id> unless
 * another node owns it now or holds a newer generation of it; "1" in list
 * also adds it to the node's sessions set (the first write, any write that
 * is not a mere position or refresh). */
extern const char pz_script_records[];
/* ARGV: id, token hash, taker node, where, default channel, ttl_ms. A
 * resume on `taker`: when the record's token hash matches, the record
 * becomes the taker's with the next generation, the old owner is told
 * (a TAKEN delivery to where the session lives, or `default channel`),
 * and the directory lists the session at `where` ("" drops the entry).
 * Returns {record, gen}, or nil. */
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
