// VIEW and STATE_C in the client, against a fake server that answers
// exactly what a test wants: when VIEW goes out (after every WELCOME,
// fresh or resumed, and kept across reconnects), its pacing and its
// refusals, STATE_C read into `state` events and `members`, AWAY and the
// out-of-view flag, the short ids starting over at ROOM, and a STATE_C
// that cannot be read.
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { after, test } from "node:test";
import {
  ClientOp,
  ClosedError,
  CompactWriter,
  connect,
  createClient,
  ErrorCode,
  Predictor,
  quantize,
  RefusedError,
} from "plaza-client";
import { answerPing, ERROR, FakeServer, joinedClient, ROOM, W } from "./helpers/fake-server.mjs";
import { next, sleep, until } from "./helpers/plaza.mjs";

const FEATURES = ["state", "signal", "room_state", "view", "compact"];
const JOINED = 3;
const STATE = 5;
const AWAY = 13;
const STATE_C = 14;
const VIEW = ClientOp.View;
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

const at = (id, name, x, z = 0) => [id, name, x, 0, z, 0, {}];
const views = (srv, from = 0) => srv.received.slice(from).map(([, m]) => m).filter((m) => m[0] === VIEW);
const opsAfter = (srv, n) => srv.received.slice(n).map(([, m]) => m[0]);

/** A client of a fake 1.1 server as id 7, in room "r" with `others`
 * (features null: a v1 server). */
async function setup(opts = {}, { features = FEATURES, others = [at(8, "far", 100), at(9, "near", 3)] } = {}) {
  const { srv, c } = await joinedClient(connect, { reconnect: { initialDelayMs: 20, jitter: 0 }, ...opts }, "r", [], {
    features,
    members: [at(7, "fay", 0), ...others],
  });
  cleanup.push(() => srv.close());
  cleanup.push(() => c.close({ leave: false }));
  return { srv, c };
}

/** Drops the socket; resumes (`resumed`) or not, and syncs. */
async function reconnect(srv, c, { resumed = true, features = FEATURES } = {}) {
  const synced = next(c, "synced");
  srv.ws.terminate();
  await srv.nextOp(ClientOp.Hello);
  const n = srv.received.length;
  if (!resumed) srv.send([ERROR, 9, "session unknown or expired", 1]);
  srv.send([W, resumed ? 7 : 17, resumed ? "7.tok" : "17.tok", 30, Date.now(), resumed, features]);
  if (resumed) {
    srv.send([ROOM, "r", [at(7, "fay", 0), at(8, "far", 100), at(9, "near", 3)], [], {}]);
    await answerPing(srv);
  } else {
    await srv.nextOp(ClientOp.Join);
    srv.send([ROOM, "r", [at(17, "fay", 0), at(8, "far", 100), at(9, "near", 3)], [], {}]);
  }
  await synced;
  return n;
}

/** STATE_C of `entries` ([idx, id, seq, x, z]) as full entries. */
function fullC(tick, entries) {
  const w = new CompactWriter();
  for (const [idx, id, seq, x, z] of entries) w.full(idx, id, seq, { x, y: 0, z, yaw: 0 });
  return [STATE_C, tick, w.count, w.bytes()];
}

test("connect({ view }) sends VIEW after WELCOME, before the JOIN, and after every WELCOME", async () => {
  const { srv, c } = await setup({ view: { radius: 40, compact: true } });
  const sent = srv.received.map(([, m]) => m[0]);
  assert.deepEqual(sent.slice(0, 3), [ClientOp.Hello, VIEW, ClientOp.Join]);
  assert.deepEqual(views(srv), [[VIEW, { radius: 40, compact: true }]]);
  assert.deepEqual(c.view, { radius: 40, compact: true });

  // A resume (on another node, say, which has no VIEW for the session).
  let n = await reconnect(srv, c);
  assert.deepEqual(views(srv, n), [[VIEW, { radius: 40, compact: true }]]);
  assert.equal(opsAfter(srv, n)[0], VIEW, "first thing after WELCOME");
  // A fresh session, after the resume failed.
  n = await reconnect(srv, c, { resumed: false });
  assert.deepEqual(views(srv, n), [[VIEW, { radius: 40, compact: true }]]);
  assert.deepEqual(opsAfter(srv, n).slice(0, 2), [VIEW, ClientOp.Join]);
});

test("setView: sent at once, the latest of a burst after it, paced under the app rate", async () => {
  const { srv, c } = await setup({ limits: { appPerSecond: 4, appBurst: 2 } });
  assert.deepEqual(views(srv), [], "no view asked for: no VIEW");
  assert.equal(c.view, null);
  const n = srv.received.length;
  c.setView({ radius: 10 });
  for (const radius of [12, 14, 16, 18]) c.setView({ radius, compact: true });
  assert.deepEqual(c.view, { radius: 18, compact: true });
  await until(() => views(srv, n).length === 2, 3000, "the latest view");
  await sleep(400);
  assert.deepEqual(views(srv, n), [
    [VIEW, { radius: 10, compact: false }],
    [VIEW, { radius: 18, compact: true }],
  ]);
  // The same view again sends nothing.
  c.setView({ radius: 18, compact: true });
  await sleep(400);
  assert.equal(views(srv, n).length, 2);
});

test("setView(null) clears the view; a clear made while away goes after the resume", async () => {
  const { srv, c } = await setup({ view: { radius: 5 } });
  let n = srv.received.length;
  c.setView(null);
  await until(() => views(srv, n).length === 1);
  assert.deepEqual(views(srv, n), [[VIEW, { radius: 0, compact: false }]]);
  assert.equal(c.view, null);
  // {} and radius 0 without compact are the whole room as well.
  c.setView({});
  c.setView({ radius: 0, compact: false });
  await sleep(100);
  assert.equal(views(srv, n).length, 1);

  // Set while connected, cleared while away: the resumed session may
  // still hold it on the server, so the clear goes out.
  c.setView({ radius: 5 });
  await until(() => views(srv, n).length === 2);
  const away = next(c, "status", (s) => s.status === "reconnecting");
  srv.ws.terminate();
  await away;
  c.setView(null);
  n = await reconnect(srv, c);
  assert.deepEqual(views(srv, n), [[VIEW, { radius: 0, compact: false }]]);
  // A fresh session has no view: nothing to clear.
  n = await reconnect(srv, c, { resumed: false });
  assert.deepEqual(views(srv, n), []);
});

test("bad view options are refused locally, nothing sent", async () => {
  const { srv, c } = await setup();
  const n = srv.received.length;
  for (const bad of [
    { radius: -1 },
    { radius: NaN },
    { radius: Infinity },
    { radius: "5" },
    { compact: "yes" },
    { radius: 5, raduis: 6 },
    [5],
    5,
  ]) {
    assert.throws(
      () => c.setView(bad),
      (e) =>
        e instanceof RefusedError &&
        e.local &&
        e.code === ErrorCode.invalid_argument &&
        e.requestOp === ClientOp.View,
      JSON.stringify(bad),
    );
  }
  assert.equal(c.view, null, "the view stays as it was");
  assert.throws(() => createClient({ url: srv.url, view: { radius: -2 } }), /radius must be a finite number >= 0/);
  await assert.rejects(connect({ url: srv.url, view: { radius: 1, color: "red" } }), /unknown view option "color"/);
  await sleep(50);
  assert.deepEqual(views(srv, n), []);
  c.close();
  assert.throws(() => c.setView({ radius: 1 }), ClosedError);
});

test("a server without view: the first connect() rejects, setView() throws, a reconnect goes on", async () => {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const pending = connect({ url: srv.url, view: { radius: 10 } });
  await srv.nextOp(ClientOp.Hello);
  srv.send([W, 7, "7.tok", 30, Date.now(), false, ["state", "signal", "room_state"]]);
  await assert.rejects(pending, (e) => e instanceof RefusedError && e.local && e.code === ErrorCode.unknown_op && /"view"/.test(e.message));

  // v1: no features at all.
  const { srv: v1, c } = await setup({}, { features: null });
  assert.throws(() => c.setView({ radius: 10 }), /does not offer "view"/);
  c.setView(null); // the whole room is what it has
  // "view" without "compact"
  const { c: d } = await setup({}, { features: ["view"] });
  d.setView({ radius: 10 });
  assert.throws(() => d.setView({ radius: 10, compact: true }), /does not offer "compact"/);
  assert.deepEqual(d.view, { radius: 10, compact: false });
  assert.deepEqual(views(v1), []);

  // A client with a view that reconnects to a node without it.
  const { srv: s2, c: e } = await setup({ view: { radius: 10 } });
  const errors = [];
  e.on("error", (x) => errors.push(x));
  const n = await reconnect(s2, e, { features: ["state"] });
  assert.equal(e.status, "open");
  assert.deepEqual(views(s2, n), []);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].local, true);
  assert.equal(errors[0].requestOp, ClientOp.View);
  assert.match(errors[0].message, /does not offer "view"/);
  assert.deepEqual(e.view, { radius: 10, compact: false }, "kept for a node that has it");
  assert.equal(e.members.get(8).outOfView, undefined, "the whole room comes: nobody is out of view");
  const m = await reconnect(s2, e);
  assert.deepEqual(views(s2, m), [[VIEW, { radius: 10, compact: false }]]);
});

test("the server's ERROR 6 to a VIEW is an error event and the view goes back; ERROR 4 sends it again", async () => {
  const { srv, c } = await setup({ view: { radius: 10 } });
  const errors = [];
  c.on("error", (e) => errors.push(e));
  let n = srv.received.length;
  c.setView({ radius: 20, compact: true });
  await until(() => views(srv, n).length === 1);
  srv.send([ERROR, 6, "radius: a finite number >= 0", VIEW]);
  await until(() => errors.length === 1);
  assert.equal(errors[0].code, ErrorCode.invalid_argument);
  assert.equal(errors[0].requestOp, ClientOp.View);
  assert.equal(errors[0].local, undefined);
  assert.deepEqual(c.view, { radius: 10, compact: false }, "what the server kept");
  await sleep(50);
  assert.equal(views(srv, n).length, 1, "not sent again");
  // After a reconnect the view that went before is the one asked for.
  n = await reconnect(srv, c);
  assert.deepEqual(views(srv, n), [[VIEW, { radius: 10, compact: false }]]);

  n = srv.received.length;
  c.setView({ radius: 30 });
  await until(() => views(srv, n).length === 1);
  srv.send([ERROR, 4, "rate limited", VIEW]);
  await until(() => views(srv, n).length === 2, 3000, "sent again");
  assert.deepEqual(views(srv, n)[1], [VIEW, { radius: 30, compact: false }]);
  assert.deepEqual(c.view, { radius: 30, compact: false });
});

test("STATE_C moves members as STATE does; AWAY flags them out of view, a STATE brings them back", async () => {
  const { srv, c } = await setup({ view: { radius: 10, compact: true } });
  // With a radius, ROOM leaves everyone but the client out of view until
  // a STATE carries them.
  assert.equal(c.members.get(7).outOfView, undefined);
  assert.equal(c.members.get(8).outOfView, true);
  assert.equal(c.members.get(9).outOfView, true);
  const states = [];
  c.on("state", (s) => states.push(s));
  const aways = [];
  c.on("away", (a) => aways.push(a));

  srv.send(fullC(100, [[0, 7, 0, 0, 0], [2, 9, 0, 3, 0]]));
  await until(() => states.length === 1);
  assert.deepEqual(states[0], {
    tick: 100,
    compact: true,
    entries: [
      { id: 7, seq: 0, x: 0, y: 0, z: 0, yaw: 0 },
      { id: 9, seq: 0, x: 3, y: 0, z: 0, yaw: 0 },
    ],
  });
  assert.equal(c.members.get(9).outOfView, undefined, "carried: in view");
  assert.equal(c.members.get(8).outOfView, true);

  // near walks off as deltas, then out of view
  let from = quantize({ x: 3, y: 0, z: 0, yaw: 0 }, 0);
  for (let k = 1; k <= 3; k++) {
    const to = quantize({ x: 3 + k * 1.5, y: 0, z: -k * 0.25, yaw: k * 0.1 }, k);
    const w = new CompactWriter();
    assert.ok(w.delta(2, from, to));
    from = to;
    srv.send([STATE_C, 100 + k, w.count, w.bytes()]);
  }
  await until(() => states.length === 4);
  const near = c.members.get(9);
  assert.equal(near.x, 7.5);
  assert.equal(near.z, -0.75);
  assert.ok(Math.abs(near.yaw - 0.3) <= 1 / 512);
  assert.equal(states[3].entries[0].seq, 3);
  srv.send([AWAY, [9, 12345]]); // 12345: not a member here, ignored
  await until(() => aways.length === 1);
  assert.deepEqual(aways[0].ids, [9, 12345]);
  assert.deepEqual(aways[0].members.map((m) => [m.id, m.outOfView, m.x]), [[9, true, 7.5]]);
  assert.equal(c.members.get(9), aways[0].members[0], "the object now in members");
  assert.equal(c.members.get(9).x, 7.5, "it keeps its last position");

  // A full entry brings far into view where it is now.
  srv.send(fullC(105, [[1, 8, 4, 20, 1]]));
  await until(() => c.members.get(8).outOfView === undefined);
  assert.deepEqual([c.members.get(8).x, c.members.get(8).z], [20, 1]);
  // A plain STATE does too (a client may ask compact off again).
  srv.send([STATE, 106, [[9, 4, 1, 0, 1, 0]]]);
  await until(() => c.members.get(9).outOfView === undefined);
  assert.equal(c.members.get(9).x, 1);
  // The client's own entry never goes out of view.
  srv.send([AWAY, [7]]);
  await until(() => aways.length === 2);
  assert.equal(c.members.get(7).outOfView, undefined);

  // A joiner is out of view until carried.
  srv.send([JOINED, 20, "new", 1, 0, 1, 0, {}]);
  await until(() => c.members.has(20));
  assert.equal(c.members.get(20).outOfView, true);
  // Clearing the view: everyone is in view again at once.
  c.setView(null);
  assert.ok([...c.members.values()].every((m) => m.outOfView === undefined));
});

test("the short ids start over at every ROOM and on every socket", async () => {
  const { srv, c } = await setup({ view: { radius: 0, compact: true } });
  assert.equal(c.members.get(8).outOfView, undefined, "radius 0: the whole room is in view");
  const errors = [];
  c.on("error", (e) => errors.push(e));
  srv.send(fullC(1, [[4, 8, 1, 50, 0]]));
  await until(() => c.members.get(8).x === 50);
  // After a ROOM (a JOIN of another room), a delta on short id 4 names
  // no one: the server sends full entries first.
  const joining = c.join("s");
  await srv.nextOp(ClientOp.Join);
  srv.send([ROOM, "s", [at(7, "fay", 0), at(8, "far", 50)], [], {}]);
  await joining;
  const w = new CompactWriter();
  w.delta(4, quantize({ x: 50, y: 0, z: 0, yaw: 0 }, 1), quantize({ x: 51, y: 0, z: 0, yaw: 0 }, 2));
  srv.send([STATE_C, 2, w.count, w.bytes()]);
  await until(() => errors.length === 1);
  assert.match(errors[0].message, /short id 4, which no full entry named/);
  assert.equal(errors[0].local, true);
  assert.equal(c.members.get(8).x, 50, "unchanged");
  // ... and the client resynchronises on a new socket, its view with it.
  await srv.nextOp(ClientOp.Hello);
  const n = srv.received.length;
  srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
  await until(() => views(srv, n).length === 1);
  assert.deepEqual(views(srv, n), [[VIEW, { radius: 0, compact: true }]]);
});

test("malformed STATE_C frames: local errors, nothing thrown, the client resumes with its view", async () => {
  const { srv, c } = await setup({ view: { radius: 10, compact: true } });
  const uncaught = [];
  const onUncaught = (e) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  cleanup.push(() => process.off("uncaughtException", onUncaught));
  const errors = [];
  c.on("error", (e) => errors.push(e));
  // [frame, whether the client must resynchronise]: every STATE_C it
  // cannot read, its frame or its entries, leaves its short ids in doubt.
  const frames = [
    [encode([STATE_C, 1, 1, [1, 2, 3]]), true], // entries not a bin
    [encode([STATE_C, 1, 5, new Uint8Array([0x80, 1])]), true], // n past the bytes
    [encode([STATE_C, 1, 1, new Uint8Array([0x81, 1, 1, 1, 0, 0, 0, 0])]), true], // reserved bits
    [encode([STATE_C, 1, 1, new Uint8Array([0x20, 9, 1])]), true], // a delta on nothing
    [encode([STATE_C, "x", 1, new Uint8Array([0x80, 1, 1, 1, 0, 0, 0, 0])]), true],
    [encode([AWAY, "x"]), false],
    [encode([AWAY, [1, "y"]]), false],
  ];
  let sockets = srv.sockets.length;
  for (const [f, resync] of frames) {
    srv.sendRaw(f);
    await until(() => errors.length > 0);
    const e = errors.pop();
    assert.equal(e.local, true);
    assert.equal(e.code, ErrorCode.bad_message);
    if (resync) {
      assert.match(e.message, /^unreadable STATE_C .*resynchronising on a new connection$/);
      await srv.nextOp(ClientOp.Hello);
      const n = srv.received.length;
      srv.send([W, 7, "7.tok", 30, Date.now(), true, FEATURES]);
      srv.send([ROOM, "r", [at(7, "fay", 0), at(8, "far", 100)], [], {}]);
      await answerPing(srv);
      await until(() => c.status === "open");
      assert.deepEqual(views(srv, n), [[VIEW, { radius: 10, compact: true }]]);
      assert.equal(srv.sockets.length, ++sockets, e.message);
    } else {
      assert.match(e.message, /^malformed frame from the server ignored/);
      await sleep(50);
      assert.equal(srv.sockets.length, sockets, e.message);
    }
  }
  assert.deepEqual(uncaught, []);
  // After all that it reads STATE_C.
  srv.send(fullC(9, [[1, 8, 3, 12, 0]]));
  await until(() => c.members.get(8).x === 12);
  assert.equal(c.members.get(8).outOfView, undefined);
});

test("a Predictor keeps its prediction when a STATE_C only rounds it", async () => {
  const { srv, c } = await setup({ view: { radius: 10, compact: true } });
  const pred = new Predictor(c);
  pred.step({ dx: 0.3, dz: 0.1 });
  const seq = 1;
  assert.deepEqual(await srv.nextOp(ClientOp.Move), [ClientOp.Move, seq, 0.3, 0, 0.1, 0]);
  const w = new CompactWriter();
  w.full(0, 7, seq, { x: 0.3, y: 0, z: 0.1, yaw: 0 });
  srv.send([STATE_C, 1, w.count, w.bytes()]);
  await next(c, "state");
  assert.deepEqual(pred.position, { x: 0.3, y: 0, z: 0.1, yaw: 0 }, "not 0.296875");
  assert.equal(pred.corrections, 0);
  // A correction larger than the quantisation wins.
  const v = new CompactWriter();
  v.full(0, 7, seq, { x: 0.1, y: 0, z: 0.1, yaw: 0 });
  srv.send([STATE_C, 2, v.count, v.bytes()]);
  await next(c, "state");
  assert.equal(pred.position.x, 0.09375);
  assert.equal(pred.corrections, 1);
});
