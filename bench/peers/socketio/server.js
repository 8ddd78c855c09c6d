'use strict';
// The design plaza replaces: a Node.js game server on Express + Socket.io,
// MessagePack on the wire (socket.io-msgpack-parser), rooms, a 30 Hz state
// tick, chat and whispers, and the Socket.io Redis adapter for horizontal
// scale. Written the way such servers usually are: a Map of rooms, a Map of
// players, socket.io rooms for fan-out. See README.md for events and wire format.
//
//   PORT=3000 TICK_HZ=30 [REDIS_URL=redis://127.0.0.1:6379] [HOST=0.0.0.0] node server.js

const http = require('http');
const os = require('os');
const express = require('express');
const { Server } = require('socket.io');
const msgpackParser = require('socket.io-msgpack-parser');

const PORT = Number(process.env.PORT) || 3000;
const HOST = process.env.HOST || undefined; // all interfaces by default
const TICK_HZ = Number(process.env.TICK_HZ) || 30;
const REDIS_URL = process.env.REDIS_URL || '';
const NODE_ID = process.env.NODE_ID || `${os.hostname()}:${PORT}`;
const HISTORY = 50;
const MAX_CHAT = 500;
const ROOM_RE = /^[A-Za-z0-9._:-]{1,64}$/;

const app = express();
const server = http.createServer(app);
const io = new Server(server, {
  parser: msgpackParser,
  transports: ['websocket'],
  serveClient: false,
});

const players = new Map(); // id -> player (plain data, also socket.data)
const sockets = new Map(); // id -> socket, for per-player sends (views)
const rooms = new Map(); // name -> { name, players: Map<id, player>, dirty: Set<player>, seq, history }
let redis = null; // set in cluster mode: ids, chat seq and history live in Redis
let lastId = 0;
let tick = 0;

app.get('/healthz', (req, res) => {
  res.json({
    status: 'ok',
    node: NODE_ID,
    connections: io.engine.clientsCount,
    rooms: rooms.size,
    players: players.size,
    redis: Boolean(redis),
  });
});

function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

function memberRow(p) {
  return [p.id, p.name, p.x, p.y, p.z, p.yaw];
}

function getRoom(name) {
  let room = rooms.get(name);
  if (!room) {
    room = { name, players: new Map(), dirty: new Set(), seq: 0, history: [] };
    rooms.set(name, room);
  }
  return room;
}

// Cluster mode: everyone in the room on every node (fetchSockets goes through
// the adapter) and the chat history kept in Redis.
async function clusterRoom(name) {
  const [sockets, rows] = await Promise.all([
    io.in(name).fetchSockets(),
    redis.lRange(`chat:${name}`, -HISTORY, -1),
  ]);
  return {
    room: name,
    members: sockets.map((s) => s.data).filter((p) => p && p.id).map(memberRow),
    history: rows.map((r) => JSON.parse(r)),
  };
}

function leaveRoom(socket, player, notifySelf) {
  const room = rooms.get(player.room);
  player.room = null;
  if (!room) return;
  socket.leave(`v:${room.name}`);
  if (player.inView) player.inView = new Set();
  for (const p of room.players.values()) if (p.inView) p.inView.delete(player.id);
  room.players.delete(player.id);
  room.dirty.delete(player);
  if (notifySelf) io.to(room.name).emit('left', player.id);
  socket.leave(room.name);
  if (!notifySelf) io.to(room.name).emit('left', player.id);
  if (room.players.size === 0) rooms.delete(room.name);
}

// Per-connection integer id, unique across the cluster when clustered.
io.use(async (socket, next) => {
  try {
    const id = redis ? await redis.incr('player:nextId') : ++lastId;
    socket.data = { id, name: `guest-${id}`, room: null, seq: 0, x: 0, y: 0, z: 0, yaw: 0,
      radius: 0, inView: null };
    next();
  } catch (err) {
    next(err);
  }
});

io.on('connection', (socket) => {
  const player = socket.data;
  players.set(player.id, player);
  sockets.set(player.id, socket);
  socket.join(`p:${player.id}`); // whisper target, reachable from any node

  socket.on('hello', (msg, ack) => {
    if (msg && typeof msg.name === 'string' && msg.name.length >= 1 && msg.name.length <= 32) {
      player.name = msg.name;
    }
    const welcome = { id: player.id };
    socket.emit('welcome', welcome);
    if (typeof ack === 'function') ack(welcome);
  });

  socket.on('join', (name) => {
    if (typeof name !== 'string' || !ROOM_RE.test(name)) return;
    if (player.room) leaveRoom(socket, player, false);
    const room = getRoom(name);
    player.room = name;
    room.players.set(player.id, player);
    socket.join(name);
    if (player.radius > 0) socket.join(`v:${name}`);
    socket.to(name).emit('joined', memberRow(player));
    if (!redis) {
      const members = [...room.players.values()].map(memberRow);
      socket.emit('room', { room: name, members, history: room.history });
      return;
    }
    clusterRoom(name)
      .then((snapshot) => socket.emit('room', snapshot))
      .catch((err) => console.error('join', name, err.message));
  });

  // An area of interest: only the players within `radius` (x, z) come in
  // `state`; one enters at <= radius, leaves past 1.25 x radius with an
  // `away` event. 0: the whole room again.
  socket.on('view', (v) => {
    const r = v && v.radius;
    if (!isNum(r) || r < 0) return;
    player.radius = r;
    player.inView = r > 0 ? new Set() : null;
    if (!player.room) return;
    if (r > 0) socket.join(`v:${player.room}`);
    else socket.leave(`v:${player.room}`);
  });

  socket.on('leave', () => {
    if (player.room) leaveRoom(socket, player, true);
  });

  socket.on('playerMove', (m) => {
    if (!player.room || !Array.isArray(m) || m.length < 5) return;
    const [seq, x, y, z, yaw] = m;
    if (!isNum(seq) || seq <= player.seq || !isNum(x) || !isNum(y) || !isNum(z) || !isNum(yaw)) return;
    player.seq = seq;
    player.x = x;
    player.y = y;
    player.z = z;
    player.yaw = yaw;
    rooms.get(player.room).dirty.add(player);
  });

  socket.on('chat', async (text) => {
    if (!player.room || typeof text !== 'string' || text.length < 1 || text.length > MAX_CHAT) return;
    const room = rooms.get(player.room);
    const msg = [0, player.id, player.name, text, Date.now()];
    if (redis) {
      try {
        msg[0] = await redis.incr(`chatseq:${room.name}`);
        redis.multi().rPush(`chat:${room.name}`, JSON.stringify(msg)).lTrim(`chat:${room.name}`, -HISTORY, -1).exec()
          .catch((err) => console.error('chat history', err.message));
      } catch (err) {
        console.error('chat', err.message);
        return;
      }
    } else {
      msg[0] = ++room.seq;
      room.history.push(msg);
      if (room.history.length > HISTORY) room.history.shift();
    }
    io.to(room.name).emit('chat', msg);
  });

  socket.on('whisper', (w) => {
    if (!Array.isArray(w) || !Number.isInteger(w[0]) || typeof w[1] !== 'string') return;
    const [toId, text] = w;
    if (text.length < 1 || text.length > MAX_CHAT) return;
    io.to(`p:${toId}`).emit('whisper', [player.id, player.name, text, Date.now()]);
  });

  socket.on('ping', (t) => {
    socket.emit('pong', [t, Date.now()]);
  });

  socket.on('disconnect', () => {
    players.delete(player.id);
    sockets.delete(player.id);
    if (player.room) leaveRoom(socket, player, false);
  });
});

function stateRow(p) {
  return [p.id, p.seq, p.x, p.y, p.z, p.yaw];
}

// A player with a view radius gets its own state: the players near it that
// moved, and those that came near (moved or not); the usual way, by looking
// at every player of the room.
function sendView(room, v) {
  const r2 = v.radius * v.radius;
  const out2 = r2 * 1.25 * 1.25;
  const entries = [];
  const away = [];
  for (const p of room.players.values()) {
    const dx = p.x - v.x;
    const dz = p.z - v.z;
    const d2 = dx * dx + dz * dz;
    if (v.inView.has(p.id)) {
      if (p !== v && d2 > out2) {
        v.inView.delete(p.id);
        away.push(p.id);
      } else if (room.dirty.has(p)) {
        entries.push(stateRow(p));
      }
    } else if (p === v || d2 <= r2) {
      v.inView.add(p.id);
      entries.push(stateRow(p));
    }
  }
  const socket = sockets.get(v.id);
  if (!socket) return;
  if (away.length) socket.emit('away', away);
  if (entries.length) socket.emit('state', [tick, entries]);
}

// One state event per room per tick, holding the players that moved; the
// players with a view get theirs apart.
setInterval(() => {
  tick++;
  for (const room of rooms.values()) {
    let viewers = 0;
    for (const p of room.players.values()) if (p.radius > 0) viewers++;
    if (room.dirty.size === 0 && viewers === 0) continue;
    if (room.dirty.size > 0) {
      const changed = [];
      for (const p of room.dirty) changed.push(stateRow(p));
      if (viewers === 0) io.to(room.name).emit('state', [tick, changed]);
      else io.to(room.name).except(`v:${room.name}`).emit('state', [tick, changed]);
    }
    if (viewers > 0) for (const p of room.players.values()) if (p.radius > 0) sendView(room, p);
    room.dirty.clear();
  }
}, 1000 / TICK_HZ);

async function main() {
  if (REDIS_URL) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pubClient = createClient({ url: REDIS_URL });
    const subClient = pubClient.duplicate();
    pubClient.on('error', (err) => console.error('redis pub', err.message));
    subClient.on('error', (err) => console.error('redis sub', err.message));
    await Promise.all([pubClient.connect(), subClient.connect()]);
    io.adapter(createAdapter(pubClient, subClient));
    redis = pubClient;
  }
  server.listen(PORT, HOST, () => {
    console.log(`socketio peer ${NODE_ID} listening on ${HOST || '*'}:${PORT}, tick ${TICK_HZ} Hz${REDIS_URL ? `, redis ${REDIS_URL}` : ''}`);
  });
}

function shutdown() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
