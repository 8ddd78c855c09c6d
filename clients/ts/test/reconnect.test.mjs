// Reconnect and resume against a real plaza: a socket dropped under the
// client (through a relay the test cuts) and a plaza restarted on the
// same port, where resume tokens are gone and the client must rejoin.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { connect, ErrorCode } from "plaza-client";
import { next, Plaza, Relay, startPlaza, until } from "./helpers/plaza.mjs";

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

test("dropped socket: resume keeps id and room, replays missed chat, flushes queued chat", async () => {
  const plaza = await startPlaza();
  cleanup.push(async () => assert.equal(await plaza.stop(), 0));
  const relay = await new Relay(plaza.port).start();
  cleanup.push(() => relay.close());

  const a = await connect({
    url: relay.url,
    name: "roamer",
    reconnect: { initialDelayMs: 300, jitter: 0 },
  });
  const b = await connect({ url: plaza.url, name: "stayer" });
  cleanup.push(() => (a.close(), b.close()));
  await a.join("plaza-drop");
  await b.join("plaza-drop");
  await until(() => a.members.has(b.id));
  const idBefore = a.id;

  const bSaw = [];
  b.on("left", (l) => bSaw.push(["left", l.id]));
  b.on("joined", (j) => bSaw.push(["joined", j.id]));
  const statuses = [];
  a.on("status", (s) => statuses.push(s.status));
  const aChats = [];
  a.on("chat", (c) => aChats.push(c.text));
  const welcome = next(a, "welcome", () => true, 8000);

  const away = next(a, "status", (s) => s.status === "reconnecting");
  relay.cut();
  await away;
  b.chat("while you were away"); // a must get it replayed after resume
  a.chat("queued while reconnecting");
  for (let i = 1; i <= 3; i++) a.move({ x: i, y: 0, z: 0, yaw: 0 });

  const w = await welcome;
  assert.equal(w.resumed, true);
  assert.equal(a.id, idBefore, "a resumed session keeps its id");
  await until(() => aChats.length >= 2, 5000, "chats after resume");
  assert.deepEqual(aChats, ["while you were away", "queued while reconnecting"]);
  await until(() => b.members.get(a.id)?.x === 3, 5000, "latest move applied");
  assert.deepEqual(statuses.slice(0, 2), ["reconnecting", "open"]);
  assert.equal(a.room, "plaza-drop");
  assert.deepEqual(bSaw, [], "the room saw no LEFT/JOINED");
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(aChats.length, 2, "no duplicate chat");
});

test("plaza restart on the same port: ERROR 9, fresh session, room rejoined", async () => {
  const first = await startPlaza();
  const port = first.port;
  const a = await connect({
    url: first.url,
    name: "phoenix",
    reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
  });
  cleanup.push(() => a.close());
  await a.join("plaza-restart");
  const oldId = a.id;
  const statuses = [];
  a.on("status", (s) => statuses.push([s.status, s.code, s.delayMs]));
  const expired = next(a, "error", (e) => e.code === ErrorCode.session_expired, 10000);
  const rejoined = next(a, "room", () => true, 10000);

  assert.equal(await first.stop(), 0);
  a.chat("said during the outage");
  await new Promise((r) => setTimeout(r, 300)); // a few refused attempts
  const second = await new Plaza().start(port);
  cleanup.push(async () => assert.equal(await second.stop(), 0));

  const e = await expired;
  assert.equal(e.codeName, "session_expired");
  const room = await rejoined;
  assert.equal(room.room, "plaza-restart");
  assert.notEqual(a.id, oldId, "a fresh session has a fresh id");
  assert.ok(room.members.some((m) => m.id === a.id && m.name === "phoenix"));
  assert.equal(a.room, "plaza-restart");
  assert.equal(a.status, "open");
  // Shutdown closes with 1001: the first attempt already backs off, with
  // jitter (100 ms less up to half), so a drained node's clients spread.
  assert.deepEqual(statuses[0].slice(0, 2), ["reconnecting", 1001]);
  assert.ok(statuses[0][2] >= 50 && statuses[0][2] <= 100, `delay ${statuses[0][2]}`);
  assert.ok(statuses.length >= 3, "failed attempts back off and retry");
  assert.ok(statuses.slice(1, -1).every(([s]) => s === "reconnecting"));
  assert.deepEqual(statuses.at(-1)[0], "open");

  // The queued chat went out after the rejoin: a newcomer finds it.
  const b = await connect({ url: second.url, name: "witness" });
  cleanup.push(() => b.close());
  const snap = await b.join("plaza-restart");
  assert.deepEqual(
    snap.history.map((h) => [h.name, h.text]),
    [["phoenix", "said during the outage"]],
  );
});
