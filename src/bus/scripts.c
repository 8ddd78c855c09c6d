/* Lua scripts run in Redis (see scripts.h). */
#include "scripts.h"

const char pz_script_join[] =
    "local room, id, node, msg = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "redis.call('HSET', 'plaza:room:'..room..':members', id, msg)\n"
    "redis.call('HSET', 'plaza:node:'..node..':members', id, room)\n"
    "redis.call('SADD', 'plaza:nodes', node)\n"
    "redis.call('SADD', 'plaza:rooms', room)\n"
    "if redis.call('ZREM', 'plaza:parked', id) == 1 then\n"
    "  redis.call('HDEL', 'plaza:parked:members', id)\n"
    "end\n"
    "return redis.call('PUBLISH', 'plaza:room:'..room, msg)\n";

const char pz_script_leave[] =
    "local room, id, node, msg = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local k = 'plaza:room:'..room..':members'\n"
    "local cur = redis.call('HGET', k, id)\n"
    "if cur and tostring(cmsgpack.unpack(cur)[2]) == node then\n"
    "  redis.call('HDEL', k, id)\n"
    "  if redis.call('HLEN', k) == 0 then redis.call('SREM', 'plaza:rooms', "
    "room) end\n"
    "end\n"
    "local nk = 'plaza:node:'..node..':members'\n"
    "if redis.call('HGET', nk, id) == room then redis.call('HDEL', nk, id) "
    "end\n"
    "if msg ~= '' then return redis.call('PUBLISH', 'plaza:room:'..room, msg) "
    "end\n"
    "return 0\n";

/* One chat of a room: the next seq (at least floor + 1), appended, trimmed
 * to 50 and published. Shared by the client's chat and the admin's. */
#define CHAT_FN                                                                \
  "local function chat(room, node, id, name, text, ts, floor)\n"               \
  "  local base = 'plaza:room:'..room\n"                                       \
  "  local seq = redis.call('INCR', base..':seq')\n"                           \
  "  if seq <= floor then seq = floor + 1; redis.call('SET', base..':seq', "   \
  "seq) end\n"                                                                 \
  "  local msg = cmsgpack.pack({1, node, 4, room, seq, id, name, text, ts})\n" \
  "  redis.call('RPUSH', base..':chat', msg)\n"                                \
  "  redis.call('LTRIM', base..':chat', -50, -1)\n"                            \
  "  redis.call('PUBLISH', base, msg)\n"                                       \
  "  return seq\n"                                                             \
  "end\n"

const char pz_script_chat[] =
    CHAT_FN "return chat(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), "
            "ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]))\n";

const char pz_script_cast[] = CHAT_FN
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

const char pz_script_heartbeat[] =
    "local me = 'plaza:node:'..ARGV[1]\n"
    "local v = redis.call('GET', me)\n"
    "local status = 1\n"
    "if v == ARGV[2] then redis.call('PEXPIRE', me, ARGV[3])\n"
    "elseif not v then redis.call('SET', me, ARGV[2], 'PX', ARGV[3]); status "
    "= 2\n"
    "else status = 0 end\n"
    "local reaped = 0\n"
    "local function left(room, id, n)\n"
    "  local k = 'plaza:room:'..room..':members'\n"
    "  local cur = redis.call('HGET', k, id)\n"
    "  if not cur then return end\n"
    "  local owner = tostring(cmsgpack.unpack(cur)[2])\n"
    "  if n and owner ~= n then return end\n"
    "  if not n and redis.call('EXISTS', 'plaza:node:'..owner) == 1 then "
    "return end\n"
    "  redis.call('HDEL', k, id)\n"
    "  if redis.call('HLEN', k) == 0 then redis.call('SREM', 'plaza:rooms', "
    "room) end\n"
    "  local wv = redis.call('HGET', 'plaza:where', id)\n"
    "  if wv and string.sub(wv, 1, #owner + 1) == owner..':' then\n"
    "    redis.call('HDEL', 'plaza:where', id)\n"
    "  end\n"
    "  redis.call('PUBLISH', 'plaza:room:'..room,\n"
    "    cmsgpack.pack({1, tonumber(ARGV[1]), 3, room, tonumber(id), 0}))\n"
    "  reaped = reaped + 1\n"
    "end\n"
    "for _, n in ipairs(redis.call('SMEMBERS', 'plaza:nodes')) do\n"
    "  if redis.call('EXISTS', 'plaza:node:'..n) == 0 then\n"
    "    local mk = 'plaza:node:'..n..':members'\n"
    "    local all = redis.call('HGETALL', mk)\n"
    "    for i = 1, #all, 2 do left(all[i+1], all[i], n) end\n"
    "    redis.call('DEL', mk)\n"
    "    redis.call('SREM', 'plaza:nodes', n)\n"
    "  end\n"
    "end\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'plaza:parked', '-inf', "
    "ARGV[4])) do\n"
    "  local room = redis.call('HGET', 'plaza:parked:members', id)\n"
    "  if room then left(room, id, nil) end\n"
    "  redis.call('ZREM', 'plaza:parked', id)\n"
    "  redis.call('HDEL', 'plaza:parked:members', id)\n"
    "end\n"
    "return {status, reaped}\n";

const char pz_script_park[] =
    "local mk = 'plaza:node:'..ARGV[1]..':members'\n"
    "local all = redis.call('HGETALL', mk)\n"
    "for i = 1, #all, 2 do\n"
    "  redis.call('ZADD', 'plaza:parked', ARGV[2], all[i])\n"
    "  redis.call('HSET', 'plaza:parked:members', all[i], all[i+1])\n"
    "end\n"
    "redis.call('DEL', mk)\n"
    "redis.call('SREM', 'plaza:nodes', ARGV[1])\n"
    "return #all / 2\n";

const char pz_script_take[] =
    "local v = redis.call('GET', ARGV[1])\n"
    "if not v then return false end\n"
    "local ok, rec = pcall(cmsgpack.unpack, v)\n"
    "if not ok or type(rec) ~= 'table' or rec[5] ~= ARGV[2] then return "
    "false end\n"
    "redis.call('DEL', ARGV[1])\n"
    "if ARGV[4] == '' then redis.call('HDEL', 'plaza:where', ARGV[3])\n"
    "else redis.call('HSET', 'plaza:where', ARGV[3], ARGV[4]) end\n"
    "return v\n";

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
