// The reconnect state machine against a fake server that says exactly
// what a test wants, when it wants: every wait after a (re)connect ends,
// every call settles, and what the client sends is checked message by
// message.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  CancelledError,
  ClosedError,
  ConnectionError,
  connect,
  createClient,
  ErrorCode,
  RefusedError,
  TimeoutError,
} from "plaza-client";
import {
  answerPing,
  CHAT,
  ERROR,
  FakeServer,
  joinedClient,
  member,
  ROOM,
  W,
} from "./helpers/fake-server.mjs";
import { next, sleep, until } from "./helpers/plaza.mjs";

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function setup(opts = {}, room = "r", history = []) {
  const s = await joinedClient(
    connect,
    { reconnect: { initialDelayMs: 20, jitter: 0 }, ...opts },
    room,
    history,
  );
  cleanup.push(() => s.srv.close(), () => s.c.close({ leave: false }));
  return s;
}

/** Drops the socket and waits for the client's next HELLO. */
async function drop(srv) {
  srv.ws.terminate();
  return srv.nextOp(1);
}

const sentAfter = (srv, n) => srv.received.slice(n).map(([, m]) => m);

test("a refused rejoin does not wedge: left, synced, calls work again", async () => {
  const { srv, c } = await setup();
  const lefts = [];
  c.on("left", (l) => lefts.push(l));
  const synced = next(c, "synced");
  await drop(srv);
  const queued = c.chat("typed while away");
  srv.send([ERROR, 9, "session unknown or expired", 1]);
  srv.send([W, 8, "8.tok", 30, Date.now(), false]);
  assert.deepEqual(await srv.nextOp(2), [2, "r"], "the client rejoins its room");
  srv.send([ERROR, 5, "room is full", 2]);
  const s = await synced;
  assert.deepEqual(s, { resumed: false, recovered: false, room: null });
  assert.equal(c.status, "open");
  assert.equal(c.room, null);
  assert.deepEqual(
    lefts.map((l) => [l.id, l.self]),
    [[8, true]],
    "the app hears it is out of its room",
  );
  await assert.rejects(queued, (e) => e instanceof CancelledError && e.why === "room_changed");
  // ping and join answer again.
  const pinging = c.ping();
  await answerPing(srv);
  assert.ok((await pinging) >= 0);
  const joining = c.join("elsewhere");
  assert.deepEqual(await srv.nextOp(2), [2, "elsewhere"]);
  srv.send([ROOM, "elsewhere", [member(8, "fay")], []]);
  assert.equal((await joining).room, "elsewhere");
});

test("a join() waiting for the refused rejoin rejects with the refusal", async () => {
  const { srv, c } = await setup();
  await drop(srv);
  const joining = c.join("r2");
  srv.send([W, 8, "8.tok", 30, Date.now(), false]);
  assert.deepEqual(await srv.nextOp(2), [2, "r2"]);
  srv.send([ERROR, 5, "room is full", 2]);
  await assert.rejects(joining, (e) => e instanceof RefusedError && e.code === ErrorCode.room_full && !e.local);
  await until(() => c.room === null);
});

test("LEAVE lost with the socket, carried out by the server: leave() settles", async () => {
  const { srv, c } = await setup();
  const leaving = c.leave();
  await srv.nextOp(3);
  const hello = await drop(srv);
  assert.equal(hello[4], "7.tok");
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  // No ROOM: the server has the session in none. The barrier says so.
  await answerPing(srv);
  await leaving;
  assert.equal(c.room, null);
  await sleep(30);
  assert.equal(srv.received.filter(([, m]) => m[0] === 3).length, 1, "no second LEAVE");
});

test("LEAVE lost with the socket before the server read it: sent again", async () => {
  const { srv, c } = await setup();
  const leaving = c.leave();
  await srv.nextOp(3);
  await drop(srv);
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]); // still in it
  await answerPing(srv);
  assert.deepEqual(await srv.nextOp(3), [3]);
  srv.send([4, 7]); // LEFT, to the leaver too
  await leaving;
  assert.equal(c.room, null);
});

test("the chat seq belongs to its room: a JOIN lost with the socket sends none", async () => {
  const { srv, c } = await setup({}, "a", [[8, 9, "x", "eighth", 1]]);
  const joining = c.join("b");
  await srv.nextOp(2);
  const hello = await drop(srv); // the JOIN may or may not have landed
  assert.deepEqual(hello, [1, 1, null, "fay", "7.tok"], "no last_chat_seq: it counts room a");
  const chats = [];
  c.on("chat", (m) => chats.push(m.seq));
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  srv.send([ROOM, "b", [member(7, "fay")], [[1, 9, "x", "first of b", 1]]]);
  for (let seq = 2; seq <= 8; seq++) srv.send([CHAT, seq, 9, "x", `b${seq}`, 2]);
  await answerPing(srv);
  assert.equal((await joining).room, "b");
  await until(() => chats.length === 7, 2000, "seven chats of b");
  assert.deepEqual(chats, [2, 3, 4, 5, 6, 7, 8]);
});

test("a new room starts its own chat seq", async () => {
  const { srv, c } = await setup({}, "a");
  srv.send([CHAT, 5, 9, "x", "five in a", 1]);
  await next(c, "chat");
  const joining = c.join("b");
  await srv.nextOp(2);
  srv.send([ROOM, "b", [member(7, "fay")], [[1, 9, "x", "one", 1], [2, 9, "x", "two", 1]]]);
  await joining;
  const chat = next(c, "chat");
  srv.send([CHAT, 3, 9, "x", "three in b", 2]);
  assert.equal((await chat).text, "three in b");
});

test("left while away, the session resumed in its room: LEAVE goes out", async () => {
  const { srv, c } = await setup();
  await drop(srv);
  const leaving = c.leave();
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  await answerPing(srv); // the barrier after a resumed ROOM
  assert.deepEqual(await srv.nextOp(3), [3]);
  srv.send([4, 7]);
  await leaving;
  assert.equal(c.room, null);
});

test("left while away, the session came back new: nothing to leave", async () => {
  const { srv, c } = await setup();
  const left = next(c, "left", (l) => l.self);
  await drop(srv);
  const leaving = c.leave();
  srv.send([ERROR, 9, "session unknown or expired", 1]);
  srv.send([W, 8, "8.tok", 30, Date.now(), false]);
  await leaving;
  assert.equal((await left).id, 8);
  assert.equal(c.room, null);
  await sleep(30);
  assert.equal(srv.received.filter(([, m]) => m[0] === 3 || m[0] === 2).length, 1, "only the first JOIN");
});

test("joined elsewhere while away: the resumed session moves there", async () => {
  const { srv, c } = await setup();
  await drop(srv);
  const joining = c.join("s");
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  await answerPing(srv);
  assert.deepEqual(await srv.nextOp(2), [2, "s"]);
  srv.send([ROOM, "s", [member(7, "fay")], []]);
  assert.equal((await joining).room, "s");
});

test("the backoff starts over after each WELCOME", async () => {
  const { srv, c } = await setup({ reconnect: { initialDelayMs: 40, jitter: 0 } });
  const delays = [];
  c.on("status", (s) => s.status === "reconnecting" && delays.push(s.delayMs));
  await drop(srv);
  srv.send([W, 7, "7.tok", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  await answerPing(srv);
  await next(c, "synced");
  await drop(srv);
  assert.deepEqual(delays, [40, 40]);
});

test("a drain (1001) backs off from the first retry", async () => {
  const { srv, c } = await setup({ reconnect: { initialDelayMs: 60, jitter: 0 } });
  const st = next(c, "status", (s) => s.status === "reconnecting");
  srv.ws.close(1001, "server shutting down");
  const s = await st;
  assert.equal(s.code, 1001);
  assert.equal(s.delayMs, 60, "not 0: a drained node's clients must not all land at once");
});

test("a join's timer is cleared when it succeeds", async () => {
  const live = new Map();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = (f, ms, ...a) => {
    const h = realSet(() => {
      live.delete(h);
      f(...a);
    }, ms);
    live.set(h, ms);
    return h;
  };
  globalThis.clearTimeout = (h) => {
    live.delete(h);
    realClear(h);
  };
  try {
    const { srv, c } = await setup({ requestTimeoutMs: 7777 });
    const joining = c.join("r2");
    await srv.nextOp(2);
    assert.ok([...live.values()].includes(7777), "a join waits with a timer");
    srv.send([ROOM, "r2", [member(7, "fay")], []]);
    await joining;
    assert.deepEqual([...live.values()].filter((ms) => ms === 7777), [], "no timer left");
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
});

test("a join without an answer times out", async () => {
  const { srv, c } = await setup({ requestTimeoutMs: 150 });
  const t0 = Date.now();
  const joining = c.join("silent");
  await srv.nextOp(2);
  await assert.rejects(joining, (e) => e instanceof TimeoutError && e.ms === 150);
  assert.ok(Date.now() - t0 >= 140);
});

test("concurrent join, join, leave: each settles with its own answer", async () => {
  const { srv, c } = await setup();
  const ja = c.join("a");
  const jb = c.join("b");
  const lv = c.leave();
  assert.deepEqual(await srv.nextOp(2), [2, "a"]);
  assert.deepEqual(await srv.nextOp(2), [2, "b"]);
  assert.deepEqual(await srv.nextOp(3), [3]);
  srv.send([ROOM, "a", [member(7, "fay")], []]);
  srv.send([ROOM, "b", [member(7, "fay")], []]);
  srv.send([4, 7]);
  assert.equal((await ja).room, "a");
  assert.equal((await jb).room, "b");
  await lv;
  assert.equal(c.room, null);
});

test("joins overtaken while away are cancelled; the last one is carried out", async () => {
  const { srv, c } = await setup();
  await drop(srv);
  const ja = c.join("a");
  const cancelled = assert.rejects(ja, (e) => e instanceof CancelledError && e.why === "superseded");
  const jb = c.join("b");
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  await answerPing(srv);
  assert.deepEqual(await srv.nextOp(2), [2, "b"]);
  srv.send([ROOM, "b", [member(7, "fay")], []]);
  await cancelled;
  assert.equal((await jb).room, "b");
});

test("close() during calls rejects each with a ClosedError", async () => {
  const { srv, c } = await setup();
  const joining = c.join("x");
  const pinging = c.ping();
  const chatting = c.chat("unconfirmed");
  await srv.nextOp(5);
  const statuses = [];
  c.on("status", (s) => statuses.push(s.status));
  c.close();
  for (const p of [joining, pinging, chatting])
    await assert.rejects(p, (e) => e instanceof ClosedError && e.closeCode === 1000);
  assert.deepEqual(statuses, ["closed"]);
});

test("calls after close() reject at once; move() throws", async () => {
  const { c } = await setup();
  c.close();
  const t0 = Date.now();
  for (const call of [
    () => c.join("y"),
    () => c.leave(),
    () => c.ping(),
    () => c.chat("late"),
    () => c.whisper(1, "late"),
    () => c.connect(),
  ])
    await assert.rejects(call(), ClosedError);
  assert.throws(() => c.move({ x: 1, y: 0, z: 0, yaw: 0 }), ClosedError);
  assert.ok(Date.now() - t0 < 1000, "at once, not after the 15 s timeout");
});

test("a ping whose socket drops rejects (no NaN); while away it rejects at once", async () => {
  const { srv, c } = await setup();
  const pinging = c.ping();
  await srv.nextOp(7);
  srv.ws.terminate();
  await assert.rejects(pinging, ConnectionError);
  await until(() => c.status === "reconnecting");
  await assert.rejects(c.ping(), ConnectionError);
});

test("listeners attached before connect() see the first status and welcome", async () => {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const c = createClient({ url: srv.url, name: "early" });
  cleanup.push(() => c.close());
  const seen = [];
  c.on("status", (s) => seen.push(s.status));
  c.once("welcome", (w) => seen.push(`welcome ${w.id}`));
  assert.equal(c.status, "idle");
  const connecting = c.connect();
  await srv.nextOp(1);
  srv.send([W, 5, "5.t", 30, Date.now(), false]);
  await connecting;
  srv.ws.terminate();
  await srv.nextOp(1);
  srv.send([W, 5, "5.t", 30, Date.now(), true]);
  await until(() => seen.filter((s) => s === "open").length === 2);
  assert.deepEqual(seen, ["connecting", "welcome 5", "open", "reconnecting", "open"]);
});

test("once() fires once; off() stops a handler", async () => {
  const { srv, c } = await setup();
  const a = [];
  const b = [];
  c.once("chat", (m) => a.push(m.seq));
  const h = (m) => b.push(m.seq);
  c.on("chat", h);
  srv.send([CHAT, 1, 9, "x", "one", 1]);
  await until(() => b.length === 1);
  c.off("chat", h);
  srv.send([CHAT, 2, 9, "x", "two", 1]);
  await sleep(50);
  assert.deepEqual([a, b], [[1], [1]]);
});

test("members are snapshots: a change makes a new map and new objects only for what changed", async () => {
  const { srv, c } = await setup();
  srv.send([3, 9, "bo", 0, 0, 0, 0]);
  srv.send([3, 10, "cy", 5, 0, 0, 0]);
  await until(() => c.members.size === 3);
  const before = c.members;
  const bo = before.get(9);
  const cy = before.get(10);
  const changed = next(c, "members");
  srv.send([5, 1, [[9, 1, 2, 0, 0, 0]]]);
  const after = await changed;
  assert.equal(after, c.members);
  assert.notEqual(after, before, "a new map");
  assert.equal(before.get(9).x, 0, "the old snapshot is untouched");
  assert.equal(after.get(9).x, 2);
  assert.notEqual(after.get(9), bo);
  assert.equal(after.get(10), cy, "an unchanged member keeps its object");
  // a STATE that changes nothing keeps the map
  srv.send([5, 2, [[10, 1, 5, 0, 0, 0]]]);
  await next(c, "state");
  assert.equal(c.members, after);
});

test("events carry no wire op (welcome, room, chat)", async () => {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const c = createClient({ url: srv.url });
  cleanup.push(() => c.close());
  const welcome = next(c, "welcome");
  const connecting = c.connect();
  await srv.nextOp(1);
  srv.send([W, 5, "5.t", 30, 1, false]);
  await connecting;
  assert.deepEqual(await welcome, { id: 5, session: "5.t", tickHz: 30, serverTimeMs: 1, resumed: false });
  const room = next(c, "room");
  const joining = c.join("q");
  await srv.nextOp(2);
  srv.send([ROOM, "q", [member(5, "g")], []]);
  await joining;
  assert.deepEqual(Object.keys(await room).sort(), ["history", "members", "resumed", "room"]);
});

test("recovered: true when the replay reaches back, false when the history fell short", async () => {
  const { srv, c } = await setup({}, "r", [[3, 9, "x", "three", 1]]);
  let synced = next(c, "synced");
  assert.equal((await drop(srv))[5], 3, "the last seq seen goes with the resume");
  srv.send([W, 7, "7.t", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], [[3, 9, "x", "three", 1]]]);
  srv.send([CHAT, 4, 9, "x", "four", 2]);
  await answerPing(srv);
  assert.deepEqual(await synced, { resumed: true, recovered: true, room: "r" });

  synced = next(c, "synced");
  await drop(srv);
  srv.send([W, 7, "7.t", 30, Date.now(), true]);
  // 60 lines since: the server's 50 start at seq 15, past 4 + 1.
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  for (let s = 15; s <= 64; s++) srv.send([CHAT, s, 9, "x", `l${s}`, 3]);
  await answerPing(srv);
  assert.deepEqual(await synced, { resumed: true, recovered: false, room: "r" });
  assert.equal(c.recovered, false);
});

test("chat() resolves with the line the server numbered; a refusal rejects", async () => {
  const { srv, c } = await setup();
  const saying = c.chat("hello");
  assert.deepEqual(await srv.nextOp(5), [5, "hello"]);
  srv.send([CHAT, 1, 7, "fay", "hello", 99]);
  const line = await saying;
  assert.deepEqual([line.seq, line.text, line.tsMs], [1, "hello", 99]);
  const refused = c.chat("too many");
  await srv.nextOp(5);
  srv.send([ERROR, 4, "rate limited", 5]);
  await assert.rejects(refused, (e) => e instanceof RefusedError && e.codeName === "rate_limited");
  await assert.rejects(c.chat(""), (e) => e.local && e.code === ErrorCode.invalid_argument);
  await assert.rejects(c.chat("é".repeat(251)), (e) => e.local); // 502 bytes
});

test("chat sent before a drop and confirmed by the replay is not sent twice", async () => {
  const { srv, c } = await setup();
  const saying = c.chat("in flight");
  await srv.nextOp(5);
  await drop(srv);
  srv.send([W, 7, "7.t", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  srv.send([CHAT, 1, 7, "fay", "in flight", 5]); // the replay
  await answerPing(srv);
  assert.equal((await saying).seq, 1);
  await sleep(50);
  assert.equal(srv.received.filter(([, m]) => m[0] === 5).length, 1);
});

test("chat sent before a drop that never arrived goes again after the sync", async () => {
  const { srv, c } = await setup();
  const saying = c.chat("lost");
  await srv.nextOp(5);
  await drop(srv);
  srv.send([W, 7, "7.t", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  await answerPing(srv);
  assert.deepEqual(await srv.nextOp(5), [5, "lost"]);
  srv.send([CHAT, 1, 7, "fay", "lost", 5]);
  assert.equal((await saying).seq, 1);
});

test("a resumed session's ROOM keeps the prediction; a fresh join resets it", async () => {
  const { Predictor } = await import("plaza-client");
  const { srv, c } = await setup();
  const pred = new Predictor(c);
  for (let i = 0; i < 3; i++) pred.step({ dx: 1 });
  await drop(srv);
  pred.step({ dx: 1 }); // moving while away
  assert.equal(pred.position.x, 4);
  srv.send([W, 7, "7.t", 30, Date.now(), true]);
  srv.send([ROOM, "r", [[7, "fay", 3, 0, 0, 0]], []]);
  await answerPing(srv);
  await next(c, "synced");
  assert.equal(pred.position.x, 4, "not reset to the server's 3");
  assert.deepEqual(await srv.nextOp(4), [4, 4, 4, 0, 0, 0], "the latest move goes out");
  srv.send([5, 9, [[7, 4, 4, 0, 0, 0]]]);
  await until(() => pred.pending === 0);
  assert.equal(pred.position.x, 4);
  const joining = c.join("r2");
  await srv.nextOp(2);
  srv.send([ROOM, "r2", [[7, "fay", 0, 0, 0, 0]], []]);
  await joining;
  assert.equal(pred.position.x, 0, "a joiner is where the server put it");
});

test("the predictor replays unacknowledged steps on the server's position", async () => {
  const { Predictor } = await import("plaza-client");
  const { srv, c } = await setup();
  const pred = new Predictor(c);
  pred.step({ dx: 1 });
  pred.step({ dx: 1, dyaw: 0.5 });
  pred.step({ dz: 2 });
  srv.send([5, 1, [[7, 1, 1, 0, 0, 0]]]); // seq 1 applied; 2 and 3 still on their way
  await next(c, "state");
  assert.deepEqual(pred.position, { x: 2, y: 0, z: 2, yaw: 0.5 });
  assert.equal(pred.pending, 2);
});

test("AbortSignal: connect() and join() reject with the signal's reason", async () => {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const ac = new AbortController();
  const c = createClient({ url: srv.url });
  const connecting = c.connect({ signal: ac.signal });
  await srv.nextOp(1);
  ac.abort(new Error("gave up"));
  await assert.rejects(connecting, /gave up/);
  assert.equal(c.status, "closed");

  const s = await setup();
  const ac2 = new AbortController();
  const joining = s.c.join("far", { signal: ac2.signal });
  await s.srv.nextOp(2);
  ac2.abort();
  await assert.rejects(joining, (e) => e.name === "AbortError");
  await assert.rejects(s.c.join("x", { signal: AbortSignal.abort() }), (e) => e.name === "AbortError");
});

test("a token function is asked before every connection", async () => {
  let n = 0;
  const { srv } = await setup({ token: async () => `tok-${++n}` });
  assert.equal(srv.received.find(([, m]) => m[0] === 1)[1][2], "tok-1");
  const hello = await drop(srv);
  assert.equal(hello[2], "tok-2");
});

test("'session resumed elsewhere' (1000): the next connection starts a session of its own", async () => {
  const { srv } = await setup();
  srv.ws.close(1000, "session resumed elsewhere");
  const hello = await srv.nextOp(1);
  assert.equal(hello[4], undefined, "no resume of the token another tab holds now");
});

test("a sync that gets no answer starts over on a new socket", async () => {
  const { srv, c } = await setup({ requestTimeoutMs: 200 });
  await drop(srv);
  srv.send([W, 7, "7.t", 30, Date.now(), true]); // and then no ROOM
  const again = await srv.nextOp(1, 3000);
  assert.equal(again[4], "7.t");
  srv.send([W, 7, "7.t", 30, Date.now(), true]);
  srv.send([ROOM, "r", [member(7, "fay")], []]);
  await answerPing(srv);
  await next(c, "synced");
  assert.equal(c.room, "r");
});

test("chat and whispers wait under the rate: a burst, then the pace", async () => {
  const { srv, c } = await setup({ limits: { chatPerSecond: 10, chatBurst: 3 } });
  const t0 = Date.now();
  const n0 = srv.received.length;
  const all = [];
  for (let i = 0; i < 5; i++) all.push(c.whisper(9, `w${i}`));
  await Promise.all(all);
  const took = Date.now() - t0;
  await until(() => sentAfter(srv, n0).length === 5);
  // 2 at once (a burst of 3 less the spare), 3 more at 9 a second.
  assert.ok(took >= 300, `5 whispers in ${took} ms`);
});
