// Protocol 1.1 around reconnects, against a fake server that answers
// exactly what a test wants: what goes in HELLO, what a SET or ROOM_SET
// lost with a socket becomes, ERROR 8 after a resumed WELCOME, the
// refusals, the pacing, and frames a hostile member could make.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  CancelledError,
  ConflictError,
  connect,
  ErrorCode,
  RefusedError,
} from "plaza-client";
import { answerPing, ERROR, FakeServer, ROOM, W } from "./helpers/fake-server.mjs";
import { next, sleep, until } from "./helpers/plaza.mjs";

const FEATURES = ["state", "signal", "room_state"];
const MEMBER = 10;
const SIGNAL = 11;
const ROOM_STATE = 12;
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const me = (state = {}) => [7, "fay", 0, 0, 0, 0, state];
const sentAfter = (srv, n) => srv.received.slice(n).map(([, m]) => m);

/** A client of a fake 1.1 server, id 7, in room "r" with `roomState`. */
async function setup(opts = {}, { self = {}, roomState = {}, features = FEATURES } = {}) {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const pending = connect({
    url: srv.url,
    name: "fay",
    reconnect: { initialDelayMs: 20, jitter: 0 },
    ...opts,
  });
  const hello = await srv.nextOp(1);
  srv.send([W, 7, "7.tok", 30, Date.now(), false, features]);
  const c = await pending;
  cleanup.push(() => c.close({ leave: false }));
  const joining = c.join("r");
  await srv.nextOp(2);
  srv.send([ROOM, "r", [me(self)], [], roomState]);
  await joining;
  return { srv, c, hello };
}

/** Drops the socket; resumes with `self` and `roomState` in the ROOM and
 * answers the sync's barrier. Returns what the client sent from then. */
async function resume(srv, c, { self = {}, roomState = {} } = {}) {
  const synced = next(c, "synced");
  srv.ws.terminate();
  const hello = await srv.nextOp(1);
  const n = srv.received.length;
  srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
  srv.send([ROOM, "r", [me(self)], [], roomState]);
  await answerPing(srv);
  await synced;
  return { hello, n };
}

test("HELLO carries the state; a reconnect's HELLO the state wanted then", async () => {
  const { srv, c, hello } = await setup({ state: { color: "red" } });
  assert.deepEqual(hello, [1, 1, null, "fay", null, null, { color: "red" }]);
  srv.ws.terminate();
  await until(() => c.status !== "open");
  void c.setState({ color: "blue", hat: 2 });
  const again = await srv.nextOp(1);
  assert.deepEqual(again[6], { color: "blue", hat: 2 });
  assert.equal(again[4], "7.tok", "and the resume token");
});

test("a reconnect's HELLO refused for its state: the next goes without, the ROOM rules", async () => {
  const { srv, c } = await setup({ state: { big: "x" } }, { self: { big: "x" } });
  srv.ws.terminate();
  const first = await srv.nextOp(1);
  assert.deepEqual(first[6], { big: "x" });
  // A server whose --member-state-max is below the client's limits.
  srv.send([ERROR, 6, "state too large", 1]);
  srv.ws.close(4000, "HELLO refused: state too large");
  const again = await srv.nextOp(1);
  assert.equal(again[6], undefined, "no state this time");
  assert.equal(again[4], "7.tok", "and still a resume");
  srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
  srv.send([ROOM, "r", [me({ small: 1 })], [], {}]);
  await answerPing(srv);
  await next(c, "synced");
  assert.deepEqual(c.state, { small: 1 }, "what the server holds");
  await sleep(50);
  assert.equal(srv.received.filter(([, m]) => m[0] === 8).length, 0, "no SET to undo it");
});

test("patches while away go as one SET; one lost with the socket goes again", async () => {
  const { srv, c } = await setup();
  const first = c.setState({ a: 1 });
  assert.deepEqual(await srv.nextOp(8), [8, { a: 1 }]);
  srv.ws.terminate(); // before its echo
  await until(() => c.status !== "open");
  const second = c.setState({ b: 2 });
  const third = c.setState({ a: 3 });
  const { n } = await resume(srv, c, { self: {} }); // the server never saw { a: 1 }
  await until(() => sentAfter(srv, n).some((m) => m[0] === 8));
  await sleep(50);
  const sets = sentAfter(srv, n).filter((m) => m[0] === 8);
  assert.deepEqual(sets, [[8, { b: 2, a: 3 }]], "one SET: what the server lacks");
  srv.send([MEMBER, 7, { b: 2, a: 3 }]);
  await Promise.all([first, second, third]);
  assert.deepEqual(c.self.state, { a: 3, b: 2 });
  assert.deepEqual(c.state, { a: 3, b: 2 });
});

test("a SET the resumed ROOM shows applied is not sent again", async () => {
  const { srv, c } = await setup();
  const setting = c.setState({ a: 1, gone: null });
  await srv.nextOp(8);
  const { n } = await resume(srv, c, { self: { a: 1 } });
  await setting;
  await sleep(60);
  assert.deepEqual(sentAfter(srv, n).filter((m) => m[0] === 8), []);
});

test("a state key deleted while away is deleted on the server too", async () => {
  const { srv, c } = await setup({ state: { a: 1, b: 2 } }, { self: { a: 1, b: 2 } });
  srv.ws.terminate();
  await until(() => c.status !== "open");
  void c.setState({ b: null });
  const { n } = await resume(srv, c, { self: { a: 1, b: 2 } });
  await until(() => sentAfter(srv, n).some((m) => m[0] === 8));
  assert.deepEqual(sentAfter(srv, n).filter((m) => m[0] === 8), [[8, { b: null }]]);
});

test("the client's state wins over what the server holds without it", async () => {
  // A server holding keys this client never set (it cannot happen to a
  // session this client made): the ROOM's difference goes out.
  const { srv } = await setup({ state: { mine: 1 } }, { self: { mine: 2, other: 3 } });
  assert.deepEqual(await srv.nextOp(8), [8, { mine: 1, other: null }]);
});

test("an ERROR to a SET rejects it and puts its keys back", async () => {
  const { srv, c } = await setup({ state: { k: 1 } }, { self: { k: 1 } });
  const setting = c.setState({ k: 2, extra: "x" });
  assert.deepEqual(c.state, { k: 2, extra: "x" });
  await srv.nextOp(8);
  srv.send([ERROR, 6, "state too large", 8]);
  await assert.rejects(setting, (e) => e instanceof RefusedError && e.code === 6 && !e.local);
  assert.deepEqual(c.state, { k: 1 });
});

test("room sets lost with the socket are settled from the ROOM's room state", async () => {
  const { srv, c } = await setup({}, { roomState: { b: ["old", 2], c: ["old", 0] } });
  const a = c.setRoomState("a", "x", { ifVersion: 0 }); // not applied: again
  const b = c.setRoomState("b", "y", { ifVersion: 2 }); // applied: resolves
  const cc = assert.rejects(
    c.setRoomState("c", "z", { ifVersion: 0 }), // taken by another: conflict
    (e) => e instanceof ConflictError && e.key === "c" && e.version === 1,
  );
  const d = c.setRoomState("d", "w"); // no version: again
  for (let i = 0; i < 4; i++) await srv.nextOp(10);
  const { n } = await resume(srv, c, {
    roomState: { b: ["y", 3], c: ["other", 1], d: ["w", 5] },
  });
  assert.equal(await b, 3);
  await cc;
  await until(() => sentAfter(srv, n).filter((m) => m[0] === 10).length === 2);
  assert.deepEqual(sentAfter(srv, n).filter((m) => m[0] === 10), [
    [10, "a", "x", 0],
    [10, "d", "w"],
  ]);
  srv.send([ROOM_STATE, "a", "x", 1, 7]);
  srv.send([ROOM_STATE, "d", "w", 6, 7]);
  assert.equal(await a, 1);
  assert.equal(await d, 6);
  assert.deepEqual(c.roomState.get("d"), { value: "w", version: 6 });
});

test("a room set waiting when the session comes back in no room is cancelled", async () => {
  const { srv, c } = await setup();
  const setting = c.setRoomState("k", 1);
  await srv.nextOp(10);
  srv.ws.terminate();
  await srv.nextOp(1);
  srv.send([ERROR, 9, "session unknown or expired", 1]);
  srv.send([W, 8, "8.tok", 30, Date.now(), false, FEATURES]);
  await srv.nextOp(2); // the rejoin, refused
  srv.send([ERROR, 5, "room is full", 2]);
  await assert.rejects(setting, (e) => e instanceof CancelledError && e.why === "room_changed");
});

test("ERROR 12 rejects the set of the key it names; ROOM_STATE resolves the other", async () => {
  const { srv, c } = await setup();
  const x = c.setRoomState("x", 1, { ifVersion: 0 });
  const y = c.setRoomState("y", 1, { ifVersion: 3 });
  await srv.nextOp(10);
  await srv.nextOp(10);
  srv.send([ERROR, 12, "conflict: the key is at another version", 10, "y", 4]);
  srv.send([ROOM_STATE, "x", 1, 1, 7]);
  await assert.rejects(y, (e) => e instanceof ConflictError && e.version === 4 && e.requestOp === 10);
  assert.equal(await x, 1);
});

test("ERROR 8 on HELLO after a resumed WELCOME: the room is dropped at once", async () => {
  // requestTimeoutMs is long: only the ERROR can end the wait in time.
  const { srv, c } = await setup({ requestTimeoutMs: 30000 });
  const errors = [];
  c.on("error", (e) => errors.push([e.code, e.requestOp]));
  const left = next(c, "left", (l) => l.self);
  const synced = next(c, "synced", () => true, 2000);
  srv.ws.terminate();
  await srv.nextOp(1);
  const joining = c.join("r"); // the app still wants it
  const n = srv.received.length;
  srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
  srv.send([ERROR, 8, "room r is not allowed by this token", 1]);
  const s = await synced;
  assert.deepEqual(s, { resumed: true, recovered: true, room: null });
  assert.equal(c.room, null);
  assert.equal((await left).id, 7);
  await assert.rejects(joining, (e) => e instanceof RefusedError && e.code === ErrorCode.forbidden);
  assert.deepEqual(errors, [[8, 1]]);
  await sleep(50);
  assert.deepEqual(sentAfter(srv, n).filter((m) => m[0] === 2), [], "no JOIN of the forbidden room");
  // Usable afterwards: another room can be joined.
  const other = c.join("lobby");
  await srv.nextOp(2);
  srv.send([ROOM, "lobby", [me()], []]);
  assert.equal((await other).room, "lobby");
});

test("ERROR 8 after a resumed WELCOME while a JOIN was lost: the barrier settles it", async () => {
  const { srv, c } = await setup({ requestTimeoutMs: 30000 });
  const joining = c.join("r2");
  await srv.nextOp(2);
  const synced = next(c, "synced", () => true, 2000);
  srv.ws.terminate();
  await srv.nextOp(1);
  srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
  srv.send([ERROR, 8, "room r2 is not allowed by this token", 1]);
  // The barrier of the sync: no ROOM before its answer, so no room.
  const ping = await srv.nextOp(7);
  srv.send([8, ping[1], Date.now()]);
  // The client then asks for r2 again (it was never refused as a JOIN).
  assert.deepEqual(await srv.nextOp(2), [2, "r2"]);
  srv.send([ERROR, 8, "forbidden room", 2]);
  await assert.rejects(joining, (e) => e.code === ErrorCode.forbidden);
  assert.equal((await synced).room, null);
});

test("a server without protocol 1.1: the new calls refuse at once", async () => {
  const { c } = await setup({}, { features: [] });
  assert.equal(c.features.size, 0);
  const local = (e) => e instanceof RefusedError && e.local && e.code === ErrorCode.unknown_op;
  await assert.rejects(c.setState({ a: 1 }), local);
  await assert.rejects(c.signal("k", 1), local);
  await assert.rejects(c.setRoomState("k", 1), local);
});

test("a member state or room state key named __proto__ does not break a ROOM", async () => {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const pending = connect({ url: srv.url, name: "fay" });
  await srv.nextOp(1);
  srv.send([W, 7, "7.tok", 30, Date.now(), false, FEATURES]);
  const c = await pending;
  cleanup.push(() => c.close());
  const errors = [];
  c.on("error", (e) => errors.push(e.message));
  const joining = c.join("r");
  await srv.nextOp(2);
  const evil = JSON.parse('{"__proto__": {"polluted": true}, "color": "red", "deep": {"__proto__": 1}}');
  const rs = JSON.parse('{"__proto__": [1, 1], "seat": [null, 2]}');
  srv.send([ROOM, "r", [me(), [9, "evil", 0, 0, 0, 0, evil]], [], rs]);
  const room = await joining;
  const m = room.members.find((x) => x.id === 9);
  assert.deepEqual(Object.keys(m.state), ["color", "deep"]);
  assert.equal(m.state.color, "red");
  assert.equal(Object.getPrototypeOf(m.state), Object.prototype, "no prototype was set");
  assert.equal({}.polluted, undefined);
  assert.deepEqual([...c.roomState.keys()], ["seat"]);
  srv.send([MEMBER, 9, JSON.parse('{"__proto__": 2, "hat": 1}')]);
  const ev = await next(c, "member");
  assert.deepEqual(ev.member.state, { color: "red", deep: ev.member.state.deep, hat: 1 });
  assert.deepEqual(errors, []);
});

test("MEMBER makes a new member object; the others keep theirs", async () => {
  const { srv, c } = await setup();
  srv.send([3, 9, "bo", 0, 0, 0, 0, { color: "red" }]);
  srv.send([3, 10, "cy", 0, 0, 0, 0, {}]);
  await until(() => c.members.size === 3);
  const before = c.members;
  const ev = next(c, "member");
  srv.send([MEMBER, 9, { color: null, hat: 3 }]);
  const e = await ev;
  assert.deepEqual(e.patch, { color: null, hat: 3 });
  assert.deepEqual(e.member.state, { hat: 3 });
  assert.notEqual(c.members, before);
  assert.equal(c.members.get(9), e.member);
  assert.equal(c.members.get(10), before.get(10));
  assert.deepEqual(before.get(9).state, { color: "red" }, "the old snapshot is untouched");
});

test("roomState events: a ROOM replaces the map, ROOM_STATE changes one key", async () => {
  const { srv, c } = await setup({}, { roomState: { lamp: [true, 4] } });
  assert.deepEqual(c.roomState.get("lamp"), { value: true, version: 4 });
  const events = [];
  c.on("roomState", (e) => events.push(e));
  srv.send([ROOM_STATE, "lamp", false, 5, 9]);
  srv.send([ROOM_STATE, "seat", { id: 9 }, 1, 9]);
  srv.send([ROOM_STATE, "lamp", null, 6, 0]);
  await until(() => events.length === 3);
  assert.deepEqual(events.map((e) => e.change), [
    { key: "lamp", value: false, version: 5, by: 9 },
    { key: "seat", value: { id: 9 }, version: 1, by: 9 },
    { key: "lamp", value: null, version: 6, by: 0 },
  ]);
  assert.equal(events[2].state, c.roomState);
  assert.deepEqual([...c.roomState], [["seat", { value: { id: 9 }, version: 1 }]]);
  const left = next(c, "roomState");
  void c.leave();
  await srv.nextOp(3);
  srv.send([4, 7]);
  assert.deepEqual(await left, { state: c.roomState, change: null });
  assert.equal(c.roomState.size, 0);
});

test("signals: the event is typed by kind; a room signal waiting for a room left is cancelled", async () => {
  const { srv, c } = await setup();
  const got = next(c, "signal");
  srv.send([SIGNAL, 9, "bo", "emote", { type: "heart" }, 123]);
  assert.deepEqual(await got, { from: 9, name: "bo", kind: "emote", data: { type: "heart" }, tsMs: 123 });
  srv.ws.terminate();
  await until(() => c.status !== "open");
  const toRoom = c.signal("emote", { type: "wave" });
  const toOne = c.signal("invite", "r", 9);
  const leaving = c.leave();
  await srv.nextOp(1);
  srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
  srv.send([ROOM, "r", [me()], [], {}]);
  await answerPing(srv);
  assert.deepEqual(await srv.nextOp(3), [3]);
  srv.send([4, 7]);
  await leaving;
  await assert.rejects(toRoom, (e) => e instanceof CancelledError && e.why === "room_changed");
  await toOne;
  assert.deepEqual(await srv.nextOp(9), [9, 9, "invite", "r"]);
});

test("sets and signals are paced under the app rate", async () => {
  const { srv, c } = await setup({ limits: { appPerSecond: 10, appBurst: 3 } });
  const n0 = srv.received.length;
  const t0 = Date.now();
  await Promise.all([0, 1, 2, 3, 4].map((i) => c.signal("n", i)));
  const took = Date.now() - t0;
  await until(() => sentAfter(srv, n0).length === 5);
  assert.deepEqual(sentAfter(srv, n0).map((m) => m[3]), [0, 1, 2, 3, 4], "in order");
  // 2 at once (a burst of 3 less the spare), 3 more at 9 a second.
  assert.ok(took >= 300, `5 signals in ${took} ms`);
});
