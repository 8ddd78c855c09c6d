/* Lua scripts run in Redis (see scripts.h). */
#include "scripts.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* What every room script shares: the room's keys and their lifetime, the
 * owner prefix of a presence value, and emitting a numbered event. */
#define ROOM_LIB                                                               \
  "local ROOM_PARTS = {':ev', ':log', ':seq', ':chat', ':idem', ':state'}\n"   \
  "local function room_keep(room)\n"                                           \
  "  for _, s in ipairs(ROOM_PARTS) do\n"                                      \
  "    redis.call('PERSIST', 'plaza:room:'..room..s)\n"                        \
  "  end\n"                                                                    \
  "end\n"                                                                      \
  "local function room_expire(room, ttl)\n"                                    \
  "  for _, s in ipairs(ROOM_PARTS) do\n"                                      \
  "    redis.call('PEXPIRE', 'plaza:room:'..room..s, ttl)\n"                   \
  "  end\n"                                                                    \
  "end\n"                                                                      \
  "local function owner(v)\n"                                                  \
  "  if not v then return nil, 0 end\n"                                        \
  "  local n, g = string.match(v, '^(%d+):(%d+)|')\n"                          \
  "  return n, tonumber(g or '0')\n"                                           \
  "end\n"                                                                      \
  "local function new_epoch(base)\n"                                           \
  "  local t = redis.call('TIME')\n"                                           \
  "  local e = t[1]..string.format('%06d', tonumber(t[2]))\n"                  \
  "  redis.call('DEL', base..':log')\n"                                        \
  "  redis.call('HSET', base..':ev', 'epoch', e, 'off', 0)\n"                  \
  "  return e\n"                                                               \
  "end\n"                                                                      \
  "local function emit(room, node, msg)\n"                                     \
  "  local base = 'plaza:room:'..room\n"                                       \
  "  local epoch = redis.call('HGET', base..':ev', 'epoch') or "               \
  "new_epoch(base)\n"                                                          \
  "  local off = redis.call('HINCRBY', base..':ev', 'off', 1)\n"               \
  "  local e = cmsgpack.pack({2, tonumber(node), 9, room, tonumber(epoch), "   \
  "off, msg})\n"                                                               \
  "  redis.call('XADD', base..':log', 'MAXLEN', '~', " STR(                    \
      PZ_ROOM_LOG_MAX) ", off..'-0', 'e', e)\n"                                \
                       "  redis.call('PUBLISH', base, e)\n"                    \
                       "  return off\n"                                        \
                       "end\n"

const char pz_script_join[] =
    ROOM_LIB "local room, id, node, gen, msg = ARGV[1], ARGV[2], ARGV[3], "
             "tonumber(ARGV[4]), ARGV[5]\n"
             "local k = 'plaza:room:'..room..':members'\n"
             "local on, og = owner(redis.call('HGET', k, id))\n"
             "if on and og > gen then return 0 end\n"
             "if redis.call('HLEN', k) == 0 then room_keep(room) end\n"
             "redis.call('HSET', k, id, node..':'..gen..'|'..msg)\n"
             "if on and on ~= node then\n"
             "  redis.call('HDEL', 'plaza:node:'..on..':members', id)\n"
             "end\n"
             "redis.call('HSET', 'plaza:node:'..node..':members', id, room)\n"
             "redis.call('SADD', 'plaza:nodes', node)\n"
             "redis.call('SADD', 'plaza:rooms', room)\n"
             "if redis.call('ZREM', 'plaza:parked', id) == 1 then\n"
             "  redis.call('HDEL', 'plaza:parked:members', id)\n"
             "end\n"
             "return emit(room, node, msg)\n";

const char pz_script_leave[] = ROOM_LIB
    "local room, id, node, msg, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], "
    "ARGV[5]\n"
    "local k = 'plaza:room:'..room..':members'\n"
    "local on = owner(redis.call('HGET', k, id))\n"
    "if on and on ~= node then return 0 end\n"
    "if on then redis.call('HDEL', k, id) end\n"
    "local nk = 'plaza:node:'..node..':members'\n"
    "if redis.call('HGET', nk, id) == room then redis.call('HDEL', nk, id) "
    "end\n"
    "local off = emit(room, node, msg)\n"
    "if redis.call('HLEN', k) == 0 then\n"
    "  redis.call('SREM', 'plaza:rooms', room)\n"
    "  room_expire(room, ttl)\n"
    "end\n"
    "return off\n";

const char pz_script_member[] = ROOM_LIB
    "local room, id, node, gen = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local k = 'plaza:room:'..room..':members'\n"
    "local on, og = owner(redis.call('HGET', k, id))\n"
    "if on and (on ~= node or og > tonumber(gen)) then return 0 end\n"
    "if on then redis.call('HSET', k, id, node..':'..gen..'|'..ARGV[5]) end\n"
    "return emit(room, node, ARGV[6])\n";

/* The idempotency of a retried command (see pz_script_chat). Returns true
 * when (field, counter) was done already, else records it. */
#define IDEM_LIB                                                               \
  "local function done(room, field, counter)\n"                                \
  "  if field == '' then return false end\n"                                   \
  "  local ik = 'plaza:room:'..room..':idem'\n"                                \
  "  if counter <= tonumber(redis.call('HGET', ik, field) or '0') then "       \
  "return true end\n"                                                          \
  "  if redis.call('HLEN', ik) >= 256 then redis.call('DEL', ik) end\n"        \
  "  redis.call('HSET', ik, field, counter)\n"                                 \
  "  return false\n"                                                           \
  "end\n"

/* A room's state: plaza:room:<r>:state, key -> "<version>|<by>|<value>"
 * (value: the MessagePack bytes; empty for a deleted key, which keeps its
 * version so that the sequence goes on); the live keys and their bytes
 * counted in the room's ev hash (skeys, sbytes) for the limits. */
const char pz_script_room_set[] = ROOM_LIB IDEM_LIB
    "local room, key, ifv, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local by, node = ARGV[5], ARGV[6]\n"
    "if done(room, ARGV[7], tonumber(ARGV[8])) then return {-1} end\n"
    "local base = 'plaza:room:'..room\n"
    "local sk, ev = base..':state', base..':ev'\n"
    "local cur = redis.call('HGET', sk, key)\n"
    "local ver, oldlen = 0, 0\n"
    "if cur then\n"
    "  local v, b, rest = string.match(cur, '^(%d+)|(%d+)|(.*)$')\n"
    "  ver, oldlen = tonumber(v), #rest\n"
    "end\n"
    "local live = oldlen > 0\n"
    "if ifv ~= '' and tonumber(ifv) ~= (live and ver or 0) then\n"
    "  return {0, live and ver or 0}\n"
    "end\n"
    "local keys = tonumber(redis.call('HGET', ev, 'skeys') or '0')\n"
    "local bytes = tonumber(redis.call('HGET', ev, 'sbytes') or '0')\n"
    "if live then keys = keys - 1; bytes = bytes - #key - oldlen end\n"
    "if value ~= '' then\n"
    "  keys = keys + 1; bytes = bytes + #key + #value\n"
    "  if #value > tonumber(ARGV[9]) or keys > tonumber(ARGV[10]) or\n"
    "     bytes > tonumber(ARGV[11]) then return {-2} end\n"
    "end\n"
    "redis.call('HSET', ev, 'skeys', keys, 'sbytes', bytes)\n"
    "local nv = ver + 1\n"
    "redis.call('HSET', sk, key, nv..'|'..by..'|'..value)\n"
    "emit(room, node, cmsgpack.pack({2, tonumber(node), 11, room, key, "
    "value, nv, tonumber(by)}))\n"
    "return {1, nv}\n";

const char pz_script_room_signal[] =
    "local k = 'plaza:room:'..ARGV[1]..':members'\n"
    "local n = redis.call('HLEN', k)\n"
    "if n > 0 then redis.call('PUBLISH', 'plaza:room:'..ARGV[1], ARGV[2]) "
    "end\n"
    "return n\n";

const char pz_script_room_state[] =
    "local base = 'plaza:room:'..ARGV[1]\n"
    "return {redis.call('HLEN', base..':members'), "
    "redis.call('PTTL', base..':state'), redis.call('HGETALL', "
    "base..':state')}\n";

/* One chat of a room: the next seq (at least floor + 1), appended, trimmed
 * to the history's length and emitted. Shared by the client's chat and
 * the admin's. */
#define CHAT_LIB                                                               \
  ROOM_LIB                                                                     \
  "local function chat(room, node, id, name, text, ts, floor)\n"               \
  "  local base = 'plaza:room:'..room\n"                                       \
  "  local seq = redis.call('INCR', base..':seq')\n"                           \
  "  if seq <= floor then seq = floor + 1; redis.call('SET', base..':seq', "   \
  "seq) end\n"                                                                 \
  "  local msg = cmsgpack.pack({2, node, 4, room, seq, id, name, text, ts})\n" \
  "  redis.call('RPUSH', base..':chat', msg)\n"                                \
  "  redis.call('LTRIM', base..':chat', -50, -1)\n"                            \
  "  emit(room, node, msg)\n"                                                  \
  "  return seq\n"                                                             \
  "end\n"

/* The idempotency key is (field, counter): field names one worker of one
 * process, whose chats reach Redis in counter order on one connection, so
 * "counter <= the last one seen" means this one was numbered already. */
const char pz_script_chat[] = CHAT_LIB
    "local room, field, counter = ARGV[1], ARGV[8], tonumber(ARGV[9])\n"
    "if field ~= '' then\n"
    "  local ik = 'plaza:room:'..room..':idem'\n"
    "  if counter <= tonumber(redis.call('HGET', ik, field) or '0') then "
    "return -1 end\n"
    "  if redis.call('HLEN', ik) >= 256 then redis.call('DEL', ik) end\n"
    "  redis.call('HSET', ik, field, counter)\n"
    "end\n"
    "return chat(room, tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], "
    "ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]))\n";

const char pz_script_cast[] = CHAT_LIB
    "local rooms = ARGV[1] ~= '' and {ARGV[1]} or redis.call('SMEMBERS', "
    "'plaza:rooms')\n"
    "local n = 0\n"
    "for _, room in ipairs(rooms) do\n"
    "  if redis.call('HLEN', 'plaza:room:'..room..':members') > 0 then\n"
    "    chat(room, tonumber(ARGV[2]), 0, ARGV[3], ARGV[4], tonumber(ARGV[5]), "
    "0)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

const char pz_script_members[] =
    "local rooms = ARGV[1] ~= '' and {ARGV[1]} or redis.call('SMEMBERS', "
    "'plaza:rooms')\n"
    "local out = {}\n"
    "for _, room in ipairs(rooms) do\n"
    "  local all = redis.call('HGETALL', 'plaza:room:'..room..':members')\n"
    "  for i = 2, #all, 2 do out[#out+1] = all[i] end\n"
    "end\n"
    "return out\n";

const char pz_script_load[] =
    ROOM_LIB "local base = 'plaza:room:'..ARGV[1]\n"
             "local ev = redis.call('HMGET', base..':ev', 'epoch', 'off')\n"
             "local epoch, off = ev[1], ev[2]\n"
             "if not epoch then epoch = new_epoch(base); off = '0' end\n"
             "return {epoch, off, redis.call('HGETALL', base..':members'),\n"
             "        redis.call('LRANGE', base..':chat', 0, -1),\n"
             "        redis.call('HGETALL', base..':state')}\n";

const char pz_script_reseed[] =
    "local base = 'plaza:room:'..ARGV[1]\n"
    "local floor, nchat = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "if tonumber(redis.call('GET', base..':seq') or '0') < floor then\n"
    "  redis.call('SET', base..':seq', floor)\n"
    "end\n"
    "if redis.call('LLEN', base..':chat') == 0 then\n"
    "  for i = 4, 3 + nchat do redis.call('RPUSH', base..':chat', ARGV[i]) "
    "end\n"
    "end\n"
    "if redis.call('EXISTS', base..':state') == 0 and #ARGV > 3 + nchat then\n"
    "  local keys, bytes = 0, 0\n"
    "  for i = 4 + nchat, #ARGV, 2 do\n"
    "    redis.call('HSET', base..':state', ARGV[i], ARGV[i+1])\n"
    "    local rest = string.match(ARGV[i+1], '^%d+|%d+|(.*)$') or ''\n"
    "    if #rest > 0 then keys = keys + 1; bytes = bytes + #ARGV[i] + #rest "
    "end\n"
    "  end\n"
    "  redis.call('HSET', base..':ev', 'skeys', keys, 'sbytes', bytes)\n"
    "end\n"
    "return 1\n";

const char pz_script_heartbeat[] = ROOM_LIB
    "local me, nonce, ttl = ARGV[1], ARGV[2], ARGV[3]\n"
    /* Redis' clock, not the node's: a beat sent before a pause and run
     * after it must not date a deadline from then. */
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local grace, batch = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local rttl = ARGV[6]\n"
    "local mk = 'plaza:node:'..me\n"
    "local v = redis.call('GET', mk)\n"
    "local status = 1\n"
    "if v == nonce then redis.call('PEXPIRE', mk, ttl)\n"
    "elseif not v then redis.call('SET', mk, nonce, 'PX', ttl); status = 2\n"
    "else status = 0 end\n"
    "local left, parked = 0, 0\n"
    /* A dead node: its members wait, parked, for a resume elsewhere; its
     * records expire with the grace period. A batch per beat, so Redis is
     * never held for long whatever the node's size. */
    "for _, n in ipairs(redis.call('SMEMBERS', 'plaza:nodes')) do\n"
    "  if n ~= me and redis.call('EXISTS', 'plaza:node:'..n) == 0 then\n"
    "    local nm = 'plaza:node:'..n..':members'\n"
    "    local ns = 'plaza:node:'..n..':sessions'\n"
    "    local items = redis.call('HSCAN', nm, 0, 'COUNT', batch)[2]\n"
    "    for i = 1, #items, 2 do\n"
    "      local id, room = items[i], items[i+1]\n"
    "      if owner(redis.call('HGET', 'plaza:room:'..room..':members', id)) "
    "== n then\n"
    "        redis.call('ZADD', 'plaza:parked', now + grace, id)\n"
    "        redis.call('HSET', 'plaza:parked:members', id, room)\n"
    "        parked = parked + 1\n"
    "      end\n"
    "      redis.call('HDEL', nm, id)\n"
    "    end\n"
    "    for _, id in ipairs(redis.call('SSCAN', ns, 0, 'COUNT', batch)[2]) "
    "do\n"
    "      local rk = 'plaza:session:'..id\n"
    "      local t = redis.call('PTTL', rk)\n"
    "      if t == -1 or t > grace then redis.call('PEXPIRE', rk, grace) end\n"
    "      redis.call('SREM', ns, id)\n"
    "    end\n"
    "    if redis.call('EXISTS', nm) == 0 and redis.call('EXISTS', ns) == 0 "
    "then\n"
    "      redis.call('SREM', 'plaza:nodes', n)\n"
    "    end\n"
    "  end\n"
    "end\n"
    /* Parked members whose grace ended without a resume: LEFT, in the
     * name of the node that held them. */
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'plaza:parked', '-inf', "
    "now, 'LIMIT', 0, batch)) do\n"
    "  local room = redis.call('HGET', 'plaza:parked:members', id)\n"
    "  redis.call('ZREM', 'plaza:parked', id)\n"
    "  redis.call('HDEL', 'plaza:parked:members', id)\n"
    "  local k = room and 'plaza:room:'..room..':members'\n"
    "  local on = k and owner(redis.call('HGET', k, id))\n"
    "  if on and redis.call('EXISTS', 'plaza:node:'..on) == 0 then\n"
    "    redis.call('HDEL', k, id)\n"
    "    local w = redis.call('HGET', 'plaza:where', id)\n"
    "    if w and string.sub(w, 1, #on + 1) == on..':' then\n"
    "      redis.call('HDEL', 'plaza:where', id)\n"
    "    end\n"
    "    emit(room, me, cmsgpack.pack({2, tonumber(on), 3, room, "
    "tonumber(id), 0}))\n"
    "    if redis.call('HLEN', k) == 0 then\n"
    "      redis.call('SREM', 'plaza:rooms', room)\n"
    "      room_expire(room, rttl)\n"
    "    end\n"
    "    left = left + 1\n"
    "  end\n"
    "end\n"
    "return {status, left, parked}\n";

const char pz_script_release[] =
    "if redis.call('GET', 'plaza:node:'..ARGV[1]) == ARGV[2] then\n"
    "  return redis.call('DEL', 'plaza:node:'..ARGV[1])\n"
    "end\n"
    "return 0\n";

const char pz_script_records[] =
    "local node = ARGV[1]\n"
    "local ns = 'plaza:node:'..node..':sessions'\n"
    "redis.call('SADD', 'plaza:nodes', node)\n"
    "for i = 2, #ARGV, 6 do\n"
    "  local id, gen, hash, ttl, list, rec = ARGV[i], tonumber(ARGV[i+1]), "
    "ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5]\n"
    "  local k = 'plaza:session:'..id\n"
    "  local cur = redis.call('HMGET', k, 'o', 'g')\n"
    "  if not cur[1] or (cur[1] == node and tonumber(cur[2]) <= gen) then\n"
    "    if rec == '' then\n"
    "      redis.call('DEL', k)\n"
    "      redis.call('SREM', ns, id)\n"
    "    else\n"
    "      redis.call('HSET', k, 'o', node, 'g', gen, 't', hash, 'r', rec)\n"
    "      redis.call('PEXPIRE', k, ttl)\n"
    "      if list ~= '' then redis.call('SADD', ns, id) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return 1\n";

const char pz_script_take[] =
    "local id, hash, taker, where, dflt, ttl = ARGV[1], ARGV[2], ARGV[3], "
    "ARGV[4], ARGV[5], ARGV[6]\n"
    "local k = 'plaza:session:'..id\n"
    "local cur = redis.call('HMGET', k, 'o', 'g', 't', 'r')\n"
    "if not cur[4] or cur[3] ~= hash then return false end\n"
    "local old, gen = cur[1], (tonumber(cur[2]) or 0) + 1\n"
    "redis.call('HSET', k, 'o', taker, 'g', gen)\n"
    "redis.call('PEXPIRE', k, ttl)\n"
    "if old ~= taker then\n"
    "  redis.call('SREM', 'plaza:node:'..old..':sessions', id)\n"
    "  redis.call('SADD', 'plaza:node:'..taker..':sessions', id)\n"
    "  redis.call('SADD', 'plaza:nodes', taker)\n"
    "  local w = redis.call('HGET', 'plaza:where', id)\n"
    "  local ch = w and ('plaza:node:'..w) or dflt\n"
    "  if ch ~= '' then\n"
    "    redis.call('PUBLISH', ch, cmsgpack.pack({2, tonumber(taker), 5, 7, "
    "tonumber(id), 0, '', '', 0, 0, 0, 0, 0, 0, gen}))\n"
    "  end\n"
    "end\n"
    "if where == '' then redis.call('HDEL', 'plaza:where', id)\n"
    "else redis.call('HSET', 'plaza:where', id, where) end\n"
    "return {cur[4], gen}\n";

const char pz_script_route[] =
    "local w = redis.call('HGET', 'plaza:where', ARGV[1])\n"
    "if w == ARGV[3] then w = nil end\n"
    "local ch = w and ('plaza:node:'..w) or ARGV[2]\n"
    "if ch == '' then return 0 end\n"
    "local n = redis.call('PUBLISH', ch, ARGV[4])\n"
    "if n == 0 and w then redis.call('HDEL', 'plaza:where', ARGV[1]) end\n"
    "return n\n";

const char pz_script_unlist[] =
    "if redis.call('HGET', 'plaza:where', ARGV[1]) == ARGV[2] then\n"
    "  return redis.call('HDEL', 'plaza:where', ARGV[1])\n"
    "end\n"
    "return 0\n";

const char pz_script_rooms[] =
    "local out = {}\n"
    "for _, r in ipairs(redis.call('SMEMBERS', 'plaza:rooms')) do\n"
    "  local n = redis.call('HLEN', 'plaza:room:'..r..':members')\n"
    "  if n > 0 then out[#out+1] = r; out[#out+1] = n end\n"
    "end\n"
    "return out\n";
