'use strict';
// Smoke test against a running peer: two clients hello + join one room, one
// moves and the other must see it in a state event; chat, whisper, ping and
// leave go through too. Clients A and B may sit on different nodes:
//
//   node smoke.js                               # both on http://127.0.0.1:$PORT (3000)
//   node smoke.js http://127.0.0.1:3001 http://127.0.0.1:3002
//
// Prints "N passed, M failed" and exits 1 when anything failed.

const { io } = require('socket.io-client');
const parser = require('socket.io-msgpack-parser');

const base = `http://127.0.0.1:${process.env.PORT || 3000}`;
const urlA = process.argv[2] || base;
const urlB = process.argv[3] || urlA;
const TIMEOUT = 3000;
const room = `smoke-${process.pid}-${Date.now()}`;

let passed = 0;
let failed = 0;

function connect(url) {
  const socket = io(url, { parser, transports: ['websocket'], reconnection: false, timeout: TIMEOUT });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => reject(new Error(`${url}: ${err.message}`)));
  });
}

// Resolve with the first `event` whose payload satisfies `pred`.
function next(socket, event, pred = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no matching '${event}' within ${TIMEOUT} ms`));
    }, TIMEOUT);
    function on(payload) {
      if (!pred(payload)) return;
      clearTimeout(timer);
      socket.off(event, on);
      resolve(payload);
    }
    socket.on(event, on);
  });
}

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err.message}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function main() {
  let a;
  let b;
  let idA = 0;
  let idB = 0;

  await check('connect and hello (welcome + ack)', async () => {
    [a, b] = await Promise.all([connect(urlA), connect(urlB)]);
    const welcomeA = next(a, 'welcome');
    const ackA = a.timeout(TIMEOUT).emitWithAck('hello', { name: 'alice' });
    const welcomeB = next(b, 'welcome');
    b.emit('hello', { name: 'bob' });
    const [wa, acked, wb] = await Promise.all([welcomeA, ackA, welcomeB]);
    idA = wa.id;
    idB = wb.id;
    assert(Number.isInteger(idA) && Number.isInteger(idB) && idA !== idB, `bad ids ${idA} ${idB}`);
    assert(acked.id === idA, `ack ${JSON.stringify(acked)} != welcome`);
  });

  await check('join: room roster to the joiner, joined to the others', async () => {
    const roomA = next(a, 'room');
    a.emit('join', room);
    const ra = await roomA;
    assert(ra.room === room && ra.members.some((m) => m[0] === idA && m[1] === 'alice'), `room ${JSON.stringify(ra)}`);
    const roomB = next(b, 'room');
    const joined = next(a, 'joined', (j) => j[0] === idB);
    b.emit('join', room);
    const [rb, j] = await Promise.all([roomB, joined]);
    assert(rb.members.some((m) => m[0] === idA) && rb.members.some((m) => m[0] === idB), `roster ${JSON.stringify(rb.members)}`);
    assert(j[1] === 'bob', `joined ${JSON.stringify(j)}`);
  });

  await check('move: the other member gets a state event holding it', async () => {
    const st = next(b, 'state', ([, changed]) => changed.some((c) => c[0] === idA));
    a.emit('playerMove', [1, 1.5, 2, -3.25, 0.5]);
    const [tick, changed] = await st;
    const mine = changed.find((c) => c[0] === idA);
    assert(Number.isInteger(tick), `tick ${tick}`);
    assert(JSON.stringify(mine) === JSON.stringify([idA, 1, 1.5, 2, -3.25, 0.5]), `entry ${JSON.stringify(mine)}`);
  });

  await check('chat: delivered to every member with seq and ts', async () => {
    const gotA = next(a, 'chat', (c) => c[3] === 'hello room');
    const gotB = next(b, 'chat', (c) => c[3] === 'hello room');
    a.emit('chat', 'hello room');
    const [ca, cb] = await Promise.all([gotA, gotB]);
    assert(JSON.stringify(ca) === JSON.stringify(cb), 'members saw different chat');
    assert(Number.isInteger(ca[0]) && ca[0] >= 1 && ca[1] === idA && ca[2] === 'alice', `chat ${JSON.stringify(ca)}`);
    assert(Math.abs(ca[4] - Date.now()) < 60000, `ts ${ca[4]}`);
  });

  await check('history: a late joiner gets the chat in room.history', async () => {
    const c = await connect(urlB);
    try {
      const got = next(c, 'room');
      c.emit('join', room);
      const r = await got;
      assert(r.history.some((h) => h[1] === idA && h[3] === 'hello room'), `history ${JSON.stringify(r.history)}`);
    } finally {
      c.disconnect();
    }
  });

  await check('whisper: reaches the target only', async () => {
    const got = next(b, 'whisper');
    a.emit('whisper', [idB, 'psst']);
    const w = await got;
    assert(w[0] === idA && w[1] === 'alice' && w[2] === 'psst', `whisper ${JSON.stringify(w)}`);
  });

  await check('ping: pong echoes t', async () => {
    const got = next(a, 'pong');
    a.emit('ping', 12345);
    const [t, now] = await got;
    assert(t === 12345 && Math.abs(now - Date.now()) < 60000, `pong ${t} ${now}`);
  });

  await check('leave and disconnect: left to the others', async () => {
    const left = next(a, 'left', (id) => id === idB);
    b.emit('leave');
    await left;
    const back = next(b, 'room');
    b.emit('join', room);
    await back;
    const gone = next(a, 'left', (id) => id === idB);
    b.disconnect();
    await gone;
  });

  if (a) a.disconnect();
  if (b) b.disconnect();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err) => {
  console.log(`FAIL ${err.message}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
