// Every op and every event of the client against a real plaza process.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ClientOp,
  connect,
  ErrorCode,
  RefusedError,
  ServerOp,
} from "plaza-client";
import { next, startPlaza, until } from "./helpers/plaza.mjs";

let plaza;
const clients = [];
before(async () => {
  plaza = await startPlaza(["--room-max-members", "2"]);
});
after(async () => {
  for (const c of clients) c.close();
  if (plaza) assert.equal(await plaza.stop(), 0, "plaza exits cleanly");
});

async function client(name, opts = {}) {
  const c = await connect({ url: plaza.url, name, ...opts });
  clients.push(c);
  return c;
}

test("connect: WELCOME gives an id, status goes to open", async () => {
  const c = await client("wendy");
  assert.ok(Number.isSafeInteger(c.id) && c.id > 0);
  assert.equal(c.status, "open");
  assert.equal(c.tickHz, 30);
  c.close();
  assert.equal(c.status, "closed");
});

test("connect rejects with the protocol error for a bad name", async () => {
  await assert.rejects(connect({ url: plaza.url, name: "x".repeat(40) }), (e) => {
    assert.ok(e instanceof RefusedError);
    assert.equal(e.code, ErrorCode.invalid_argument);
    assert.equal(e.codeName, "invalid_argument");
    assert.equal(e.requestOp, ClientOp.Hello);
    return true;
  });
});

test("connect rejects when nothing listens", async () => {
  await assert.rejects(connect({ url: "ws://127.0.0.1:1/ws", name: "n" }));
});

test("join, joined, state, chat, whisper, ping, leave, left", async () => {
  const a = await client("alice");
  const b = await client("bob");
  const roomA = await a.join("plaza-ops");
  assert.equal("op" in roomA, false, "a snapshot carries no wire op");
  assert.equal(roomA.room, "plaza-ops");
  assert.deepEqual(
    roomA.members.map((m) => m.name),
    ["alice"],
  );
  assert.equal(a.room, "plaza-ops");

  const joined = next(a, "joined");
  const roomB = await b.join("plaza-ops");
  assert.deepEqual(roomB.members.map((m) => m.name).sort(), ["alice", "bob"]);
  const j = await joined;
  assert.equal(j.id, b.id);
  assert.equal(j.name, "bob");
  assert.deepEqual([...a.members.keys()].sort(), [a.id, b.id].sort());

  // MOVE -> STATE on both sides, seq echoed to the mover.
  const seen = next(b, "state", (s) => s.entries.some((e) => e.id === a.id));
  const own = next(a, "state", (s) => s.entries.some((e) => e.id === a.id));
  const seq = a.move({ x: 3, y: 0, z: -4, yaw: 1.5 });
  assert.equal(seq, 1);
  const st = await seen;
  const e = st.entries.find((x) => x.id === a.id);
  assert.deepEqual([e.x, e.y, e.z], [3, 0, -4]);
  assert.ok(Math.abs(e.yaw - 1.5) < 1e-6);
  assert.equal(e.seq, 1);
  assert.equal((await own).entries.find((x) => x.id === a.id).seq, 1);
  assert.equal(b.members.get(a.id).x, 3, "members keep positions");
  assert.equal(b.members.get(a.id).z, -4);

  // CHAT reaches everyone, the sender included, with seq and time.
  const chatB = next(b, "chat");
  const chatA = next(a, "chat");
  a.chat("hello bob");
  const [cb, ca] = await Promise.all([chatB, chatA]);
  assert.equal(cb.text, "hello bob");
  assert.equal(cb.name, "alice");
  assert.equal(cb.id, a.id);
  assert.equal(cb.seq, 1);
  assert.ok(Math.abs(cb.tsMs - Date.now()) < 60000);
  assert.equal(ca.seq, 1);

  // WHISPER reaches only its target.
  let aGotWhisper = false;
  const offA = a.on("whisper", () => (aGotWhisper = true));
  const w = next(b, "whisper");
  a.whisper(b.id, "psst");
  const got = await w;
  assert.equal(got.from, a.id);
  assert.equal(got.name, "alice");
  assert.equal(got.text, "psst");
  offA();
  assert.equal(aGotWhisper, false);

  // PING/PONG: the round trip is measured.
  const rtt = await a.ping();
  assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`);
  assert.equal(a.rtt, rtt);

  // A late joiner's ROOM carries the history.
  const left = next(a, "left");
  await b.leave();
  assert.equal((await left).id, b.id);
  assert.equal(a.members.has(b.id), false);
  assert.equal(b.room, null);
  assert.equal(b.members.size, 0);
  const again = await b.join("plaza-ops");
  assert.deepEqual(
    again.history.map((h) => [h.seq, h.name, h.text]),
    [[1, "alice", "hello bob"]],
  );
});

test("left event names the member who left; self on own leave", async () => {
  const a = await client("ann");
  const b = await client("ben");
  await a.join("plaza-left");
  await b.join("plaza-left");
  await until(() => a.members.has(b.id));
  const leftA = next(a, "left");
  const leftB = next(b, "left");
  await b.leave();
  const la = await leftA;
  assert.equal(la.id, b.id);
  assert.equal(la.self, false);
  assert.equal(la.member.name, "ben");
  const lb = await leftB;
  assert.equal(lb.self, true);
});

test("errors: not_in_room, not_found, room_full carry code and name", async () => {
  const a = await client("errs");
  // Outside a room the client refuses a chat itself, as the server would.
  await assert.rejects(a.chat("nobody hears"), (e) => {
    assert.ok(e instanceof RefusedError);
    assert.equal(e.code, ErrorCode.not_in_room);
    assert.equal(e.codeName, "not_in_room");
    assert.equal(e.requestOp, ClientOp.Chat);
    assert.equal(e.local, true);
    return true;
  });
  // The server's own not_in_room: LEAVE outside a room is no error for
  // leave() (not in a room is what it wants); whisper needs no room.
  await a.leave();

  await a.join("plaza-errs");
  const nf = next(a, "error");
  a.whisper(123456789, "anyone?");
  const e2 = await nf;
  assert.equal(e2.code, ErrorCode.not_found);
  assert.equal(e2.codeName, "not_found");

  // The room holds two: a third is refused and the promise says why.
  const b = await client("full1");
  const c = await client("full2");
  await b.join("plaza-full");
  await c.join("plaza-full");
  await assert.rejects(a.join("plaza-full"), (e) => {
    assert.ok(e instanceof RefusedError);
    assert.equal(e.code, ErrorCode.room_full);
    assert.equal(e.codeName, "room_full");
    assert.equal(e.requestOp, ClientOp.Join);
    return true;
  });
  assert.equal(a.room, null, "a refused JOIN leaves the session roomless");
  await assert.rejects(a.join("bad name!"), { code: ErrorCode.invalid_argument });
});

test("on() returns a working unsubscribe; a throwing handler is contained", async () => {
  // A handler that throws must not stop the others or the client.
  const uncaught = [];
  const a = await client("subs", {
    onHandlerError: (e, event) => uncaught.push([e, event]),
  });
  const offBad = a.on("room", () => {
    throw new Error("app bug");
  });
  let n = 0;
  const off = a.on("room", () => n++);
  await a.join("plaza-subs");
  assert.equal(n, 1);
  off();
  offBad();
  await a.join("plaza-subs2");
  assert.equal(n, 1, "no call after unsubscribe");
  assert.equal(a.room, "plaza-subs2");
  assert.equal(uncaught.length, 1, "the app's exception surfaces once");
  assert.equal(uncaught[0][0].message, "app bug");
  assert.equal(uncaught[0][1], "room");
});
