// Protocol 1.1 through the client against a real plaza: member state
// (HELLO's, setState, MEMBER), signals (to the room, to a session), room
// state (compare-and-set, ConflictError, deletes), WELCOME's features,
// the client's own refusals, and the state kept across a resume and a
// refused one.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ClientOp,
  ConflictError,
  connect,
  ErrorCode,
  RefusedError,
} from "plaza-client";
import { jwt, next, Plaza, Relay, sleep, startPlaza, until } from "./helpers/plaza.mjs";

let plaza;
const cleanup = [];
before(async () => {
  plaza = await startPlaza(["--resume-grace-ms", "800"]);
});
after(async () => {
  for (const f of cleanup.reverse()) await f();
  if (plaza) assert.equal(await plaza.stop(), 0, "plaza exits cleanly");
});

async function client(name, opts = {}) {
  const c = await connect({ url: plaza.url, name, ...opts });
  cleanup.push(() => c.close());
  return c;
}

test("WELCOME's features are exposed", async () => {
  const c = await client("feat");
  assert.deepEqual([...c.features].sort(), ["compact", "room_state", "signal", "state", "view"]);
});

test("member state: HELLO's, setState, MEMBER to everyone, null deletes", async () => {
  const a = await client("ana", { state: { color: "red", pose: [1, 2] } });
  assert.deepEqual(a.state, { color: "red", pose: [1, 2] });
  const ra = await a.join("app-state");
  assert.deepEqual(ra.members.find((m) => m.id === a.id).state, { color: "red", pose: [1, 2] });
  const b = await client("bob");
  const joined = next(a, "joined");
  const rb = await b.join("app-state");
  assert.deepEqual(rb.members.find((m) => m.id === a.id).state, { color: "red", pose: [1, 2] });
  assert.deepEqual((await joined).state, {}, "no state is an empty one");

  const seenA = next(a, "member");
  const seenB = next(b, "member");
  const members = next(b, "members");
  const set = a.setState({ color: "blue", pose: null, emote: "wave" });
  assert.deepEqual(a.state, { color: "blue", emote: "wave" }, "state changes at once");
  await set;
  for (const ev of [await seenA, await seenB]) {
    assert.equal(ev.id, a.id);
    assert.deepEqual(ev.patch, { color: "blue", pose: null, emote: "wave" });
    assert.deepEqual(ev.member.state, { color: "blue", emote: "wave" });
  }
  assert.equal((await members).get(a.id).state.color, "blue");
  assert.deepEqual(a.self.state, { color: "blue", emote: "wave" }, "the server's word, echoed");
  assert.deepEqual(b.members.get(a.id).state, { color: "blue", emote: "wave" });
  // Positions keep the state: a STATE makes a new member object with it.
  const moved = next(b, "state", (s) => s.entries.some((e) => e.id === a.id));
  a.move({ x: 2, y: 0, z: 1, yaw: 0 });
  await moved;
  assert.deepEqual(b.members.get(a.id).state, { color: "blue", emote: "wave" });
  assert.equal(b.members.get(a.id).x, 2);
});

test("signals: to the room (not the sender), to one session, in order", async () => {
  const a = await client("sig-a");
  const b = await client("sig-b");
  const c = await client("sig-c");
  for (const x of [a, b, c]) await x.join("app-signals");
  const gotB = [];
  const gotA = [];
  b.on("signal", (s) => gotB.push(s));
  a.on("signal", (s) => gotA.push(s));
  const atC = next(c, "signal");
  await a.signal("emote", { type: "wave" });
  const s = await atC;
  assert.equal(s.from, a.id);
  assert.equal(s.name, "sig-a");
  assert.equal(s.kind, "emote");
  assert.deepEqual(s.data, { type: "wave" });
  assert.ok(Math.abs(s.tsMs - Date.now()) < 60000);
  for (let i = 0; i < 5; i++) void a.signal("n", i, b.id);
  await until(() => gotB.filter((x) => x.kind === "n").length === 5);
  assert.deepEqual(gotB.filter((x) => x.kind === "n").map((x) => x.data), [0, 1, 2, 3, 4]);
  await b.ping();
  assert.deepEqual(gotA, [], "a room signal does not come back to its sender");
  // to a session outside any room, and to oneself
  const d = await client("sig-d");
  const atD = next(d, "signal");
  await a.signal("invite", { room: "app-signals" }, d.id);
  assert.deepEqual((await atD).data, { room: "app-signals" });
  const self = next(a, "signal");
  await a.signal("note", "to myself", a.id);
  assert.equal((await self).data, "to myself");
  // an unknown id: an error event (signals are not acknowledged)
  const nf = next(a, "error", (e) => e.requestOp === ClientOp.Signal);
  await a.signal("x", null, 987654321);
  assert.equal((await nf).code, ErrorCode.not_found);
});

test("room state: compare-and-set lets one of two take the seat", async () => {
  const a = await client("seat-a");
  const b = await client("seat-b");
  await a.join("app-seat");
  await b.join("app-seat");
  const changesB = [];
  b.on("roomState", (e) => e.change && changesB.push(e.change));
  // Both see the seat free (version 0) and try to take it at once.
  const [ra, rb] = await Promise.allSettled([
    a.setRoomState("seat", { by: a.id }, { ifVersion: 0 }),
    b.setRoomState("seat", { by: b.id }, { ifVersion: 0 }),
  ]);
  const won = [ra, rb].filter((r) => r.status === "fulfilled");
  const lost = [ra, rb].filter((r) => r.status === "rejected");
  assert.equal(won.length, 1, "exactly one takes it");
  assert.equal(won[0].value, 1);
  const err = lost[0].reason;
  assert.ok(err instanceof ConflictError, String(err));
  assert.ok(err instanceof RefusedError);
  assert.equal(err.code, ErrorCode.conflict);
  assert.equal(err.codeName, "conflict");
  assert.equal(err.key, "seat");
  assert.equal(err.version, 1, "the conflict carries the current version");
  const winner = ra.status === "fulfilled" ? a : b;
  await until(() => b.roomState.get("seat")?.version === 1);
  assert.deepEqual(a.roomState.get("seat"), { value: { by: winner.id }, version: 1 });
  assert.deepEqual(b.roomState.get("seat"), { value: { by: winner.id }, version: 1 });
  assert.deepEqual(changesB.map((c) => [c.key, c.version, c.by]), [["seat", 1, winner.id]]);

  // The loser retries from the version it was told: still refused while
  // taken; the winner frees it (a delete is a set: version 2); then it works.
  const loser = winner === a ? b : a;
  await assert.rejects(loser.setRoomState("seat", { by: loser.id }, { ifVersion: 0 }), ConflictError);
  assert.equal(await winner.setRoomState("seat", null, { ifVersion: 1 }), 2);
  await until(() => !loser.roomState.has("seat"));
  assert.equal(await loser.setRoomState("seat", { by: loser.id }, { ifVersion: 0 }), 3);
  // A late joiner's ROOM carries the room state; a blind set needs no version.
  const c = await client("seat-c");
  const r = await c.join("app-seat");
  assert.deepEqual(r.roomState.get("seat"), { value: { by: loser.id }, version: 3 });
  assert.equal(await c.setRoomState("lamp", true), 1);
  assert.equal(await c.setRoomState("lamp", false), 2);
  await c.leave();
  assert.equal(c.roomState.size, 0, "out of the room, no room state");
});

test("what the client refuses itself, as the server would", async () => {
  const a = await client("refuser");
  const local = (code) => (e) => e instanceof RefusedError && e.local && e.code === code;
  await assert.rejects(a.setState({ ["k".repeat(33)]: 1 }), local(ErrorCode.invalid_argument));
  await assert.rejects(a.setState({ big: "x".repeat(1100) }), local(ErrorCode.invalid_argument));
  await assert.rejects(a.setState([1, 2]), local(ErrorCode.bad_message));
  await assert.rejects(a.signal("emote", null), local(ErrorCode.not_in_room));
  await assert.rejects(a.setRoomState("k", 1), local(ErrorCode.not_in_room));
  await a.join("app-refuse");
  await assert.rejects(a.signal("", null), local(ErrorCode.invalid_argument));
  await assert.rejects(a.signal("big", "x".repeat(5000)), local(ErrorCode.invalid_argument));
  await assert.rejects(a.setRoomState("k", "x".repeat(2000)), local(ErrorCode.invalid_argument));
  await assert.rejects(a.setRoomState("k".repeat(65), 1), local(ErrorCode.invalid_argument));
  await assert.rejects(a.setRoomState("k", 1, { ifVersion: -1 }), local(ErrorCode.invalid_argument));
  assert.deepEqual(a.state, {}, "refused patches change nothing");
  // The server's own refusal (its limit below the client's) rejects and
  // puts the keys back.
  const strict = await connect({
    url: plaza.url,
    name: "strict",
    limits: { memberStateMax: 4096 },
  });
  cleanup.push(() => strict.close());
  await strict.join("app-refuse");
  await strict.setState({ keep: 1 });
  const err = next(strict, "error", (e) => e.requestOp === ClientOp.Set);
  await assert.rejects(strict.setState({ keep: 2, big: "y".repeat(2000) }), (e) => !e.local && e.code === ErrorCode.invalid_argument);
  assert.equal((await err).code, ErrorCode.invalid_argument);
  assert.deepEqual(strict.state, { keep: 1 }, "back to what the server holds");
});

test("a resumed session keeps its state; what was set while away arrives", async () => {
  const relay = await new Relay(plaza.port).start();
  cleanup.push(() => relay.close());
  const a = await connect({
    url: relay.url,
    name: "away",
    state: { color: "red" },
    reconnect: { initialDelayMs: 100, jitter: 0 },
  });
  cleanup.push(() => a.close());
  const b = await client("watcher");
  await a.join("app-away");
  await b.join("app-away");
  const synced = next(a, "synced", () => true, 10000);
  relay.cut();
  await until(() => a.status !== "open");
  const setting = a.setState({ color: "green", hat: 1 });
  const seen = next(b, "member", (m) => m.id === a.id, 10000);
  const s = await synced;
  assert.equal(s.resumed, true);
  await setting;
  assert.deepEqual((await seen).member.state, { color: "green", hat: 1 });
  assert.deepEqual(b.members.get(a.id).state, { color: "green", hat: 1 });
});

test("a refused resume starts a fresh session with the state it had", async () => {
  const relay = await new Relay(plaza.port).start();
  cleanup.push(() => relay.close());
  const a = await connect({
    url: relay.url,
    name: "lapsed",
    reconnect: { initialDelayMs: 1500, maxDelayMs: 1500, jitter: 0 },
  });
  cleanup.push(() => a.close());
  const b = await client("witness");
  await a.join("app-lapsed");
  await b.join("app-lapsed");
  await a.setState({ color: "teal" });
  const first = a.id;
  const back = next(b, "joined", (m) => m.name === "lapsed", 10000);
  relay.cut(); // back after 1.5 s: past the 800 ms grace period
  const j = await back;
  assert.notEqual(j.id, first, "a new session");
  assert.deepEqual(j.state, { color: "teal" }, "JOINED carries HELLO's state");
  await sleep(100);
  assert.deepEqual(b.members.get(j.id).state, { color: "teal" });
});


test("resumed with a token that forbids its room: out of it at once, usable", async () => {
  const secret = "app-test-secret";
  const p = await new Plaza(["--jwt-secret", secret]).start();
  cleanup.push(() => p.stop());
  const relay = await new Relay(p.port).start();
  cleanup.push(() => relay.close());
  const exp = Math.floor(Date.now() / 1000) + 600;
  let rooms = ["secret", "lobby"];
  const a = await connect({
    url: relay.url,
    token: () => jwt(secret, { sub: "ann", name: "ann", exp, rooms }),
    reconnect: { initialDelayMs: 50, jitter: 0 },
    requestTimeoutMs: 30000, // only the ERROR can end the wait in time
  });
  cleanup.push(() => a.close());
  await a.join("secret");
  const errors = [];
  a.on("error", (e) => errors.push([e.code, e.requestOp]));
  const synced = next(a, "synced", () => true, 3000);
  const left = next(a, "left", (l) => l.self, 3000);
  rooms = ["lobby"]; // the next token no longer allows `secret`
  relay.cut();
  const s = await synced;
  assert.deepEqual([s.resumed, s.room], [true, null]);
  await left;
  assert.equal(a.room, null);
  assert.deepEqual(errors, [[ErrorCode.forbidden, ClientOp.Hello]]);
  assert.equal((await a.join("lobby")).room, "lobby");
});
