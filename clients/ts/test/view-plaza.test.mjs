// VIEW against a real plaza (protocol 1.1, "view" and "compact"): a
// viewer with a radius sees members enter at <= radius and leave past
// 1.25 x radius (AWAY, out of view with their last position), positions
// from STATE_C within 1/128 of what was sent, a wider radius bringing a
// member back where it is now, the whole room again without a view, the
// view kept across a resume and asked for again by a fresh session, and
// the server's ERROR 6 reaching the app.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ClientOp, connect, ErrorCode } from "plaza-client";
import { next, Plaza, Relay, sleep, startPlaza, until } from "./helpers/plaza.mjs";

const ARGS = ["--max-speed", "0"]; // members jump where a test puts them
const Q = 1 / 128 + 1e-9; // STATE_C: within half of 1/64
const QYAW = 1 / 512 + 1e-9;

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

let plaza;
async function server() {
  if (!plaza) {
    plaza = await startPlaza(ARGS);
    cleanup.push(async () => assert.equal(await plaza.stop(), 0));
  }
  return plaza;
}

/** A client in `room`, placed at (x, 0, z) when x is given. */
async function member(url, room, name, x, z = 0, opts = {}) {
  const c = await connect({ url, name, ...opts });
  cleanup.push(() => c.close());
  await c.join(room);
  if (x !== undefined) c.move({ x, y: 0, z, yaw: 0 });
  return c;
}

const close = (a, b, tol) => Math.abs(a - b) <= tol;

/** Waits until `viewer` holds member `id` at (x, z) within the compact
 * precision, in view. */
async function seesAt(viewer, id, x, z, what) {
  await until(() => {
    const m = viewer.members.get(id);
    return m && !m.outOfView && close(m.x, x, Q) && close(m.z, z, Q);
  }, 5000, what);
}

test("radius and hysteresis with STATE_C: in at <= r, AWAY past 1.25 r, back in where it stands", async () => {
  const p = await server();
  const room = "view-hyst";
  const still = await member(p.url, room, "still"); // stays at the origin
  const near = await member(p.url, room, "near", 52);
  const walker = await member(p.url, room, "walker", 55);
  const viewer = await member(p.url, room, "viewer", 50, 0, { view: { radius: 10, compact: true } });
  const aways = [];
  viewer.on("away", (a) => aways.push(...a.ids));
  let compact = 0;
  viewer.on("state", (s) => (compact += s.compact ? 1 : 0));

  await seesAt(viewer, near.id, 52, 0, "near in view");
  await seesAt(viewer, walker.id, 55, 0, "walker in view");
  await until(() => viewer.members.get(still.id)?.outOfView === true, 5000, "still, 50 away, out of view");
  assert.deepEqual([viewer.members.get(still.id).x, viewer.members.get(still.id).z], [0, 0], "where it stands");
  assert.equal(viewer.self.outOfView, undefined);
  await until(() => close(viewer.self.x, 50, Q), 5000, "the viewer's own entry");

  // Between r and 1.25 r it stays in view and moves.
  walker.move({ x: 61, y: 0, z: 0.3, yaw: 0.7 });
  await seesAt(viewer, walker.id, 61, 0.3, "walker at 11");
  assert.ok(close(viewer.members.get(walker.id).yaw, 0.7, QYAW));
  assert.equal(viewer.members.get(walker.id).z === 0.3, false, "quantised: 0.296875");
  // Past 1.25 r: one AWAY, its last position kept.
  walker.move({ x: 63, y: 0, z: 0, yaw: 0 });
  await until(() => viewer.members.get(walker.id).outOfView === true, 5000, "walker out of view");
  assert.deepEqual(aways.filter((id) => id === walker.id), [walker.id]);
  assert.ok(close(viewer.members.get(walker.id).x, 61, Q), "its last position");
  // Back within 1.25 r but not r: still out (a member enters at <= r).
  walker.move({ x: 61.5, y: 0, z: 0, yaw: 0 });
  await sleep(300);
  assert.equal(viewer.members.get(walker.id).outOfView, true);
  assert.ok(close(viewer.members.get(walker.id).x, 61, Q), "nothing carried while out");
  // Within r: in view again, where it stands.
  walker.move({ x: 59.3, y: 0, z: 0, yaw: 0 });
  await seesAt(viewer, walker.id, 59.3, 0, "walker back");
  assert.equal(viewer.members.get(walker.id).x, 59.296875);
  assert.deepEqual(aways.filter((id) => id === walker.id), [walker.id], "one AWAY");
  assert.ok(compact > 0, "positions came as STATE_C");
  // The others, without a view, still get every mover as STATE.
  await until(() => near.members.get(walker.id)?.x === Math.fround(59.3), 5000, "near sees the walker");
  assert.equal(near.members.get(still.id).outOfView, undefined);
});

test("setView: a wider radius brings a member back where it is now; null, the whole room", async () => {
  const p = await server();
  const room = "view-grow";
  const far = await member(p.url, room, "far", 20);
  const viewer = await member(p.url, room, "viewer", 0, 0, { view: { radius: 5 } });
  await until(() => close(viewer.self.x, 0, Q) && viewer.members.get(far.id)?.outOfView === true, 5000, "far out of view");
  far.move({ x: 22, y: 0, z: 3, yaw: 0 }); // not carried: out of view
  await sleep(200);
  assert.equal(viewer.members.get(far.id).outOfView, true);

  viewer.setView({ radius: 30, compact: true });
  assert.deepEqual(viewer.view, { radius: 30, compact: true });
  await seesAt(viewer, far.id, 22, 3, "far, in view at once where it is now");

  const away = next(viewer, "away", (a) => a.ids.includes(far.id));
  viewer.setView({ radius: 5 });
  await away;
  assert.equal(viewer.members.get(far.id).outOfView, true);
  far.move({ x: 25, y: 0, z: -4, yaw: 0 });
  await sleep(200);
  assert.ok(close(viewer.members.get(far.id).x, 22, Q), "not carried while out");

  // No view: everyone is in view at once, and the next STATE brings
  // where they are now.
  viewer.setView(null);
  assert.equal(viewer.members.get(far.id).outOfView, undefined);
  await until(() => viewer.members.get(far.id).x === 25 && viewer.members.get(far.id).z === -4, 5000, "the whole room again");
});

test("a resume keeps the view; a fresh session after a restart asks for it again", async () => {
  const first = await startPlaza(ARGS);
  let current = first;
  cleanup.push(async () => assert.equal(await current.stop(), 0));
  const port = first.port;
  const relay = await new Relay(port).start();
  cleanup.push(() => relay.close());
  const room = "view-resume";
  const reconnect = { initialDelayMs: 100, maxDelayMs: 400, jitter: 0 };
  const near = await member(first.url, room, "near", 3, 0, { reconnect });
  const far = await member(first.url, room, "far", 40, 0, { reconnect });
  const viewer = await member(relay.url, room, "viewer", 0, 0, { view: { radius: 10, compact: true }, reconnect });
  await seesAt(viewer, near.id, 3, 0, "near");
  await until(() => viewer.members.get(far.id)?.outOfView === true, 5000, "far out of view");

  // The socket drops under the viewer; it resumes.
  const resumed = next(viewer, "synced", () => true, 8000);
  relay.cut();
  assert.equal((await resumed).resumed, true);
  near.move({ x: 4, y: 0, z: 1, yaw: 0 });
  far.move({ x: 41, y: 0, z: 2, yaw: 0 });
  await seesAt(viewer, near.id, 4, 1, "near moves, in view");
  await sleep(300);
  const f = viewer.members.get(far.id);
  assert.equal(f.outOfView, true, "far still out of view");
  assert.ok(close(f.x, 40, Q), `far not carried: ${f.x}`);

  // plaza restarts: every session is gone, the viewer's included; its
  // new session asks for the view again.
  const rejoined = [viewer, near, far].map((c) => next(c, "synced", (s) => s.room === room, 15000));
  assert.equal(await first.stop(), 0);
  current = await new Plaza(ARGS).start(port);
  await Promise.all(rejoined);
  near.move({ x: 2, y: 0, z: 2, yaw: 0 });
  far.move({ x: 30, y: 0, z: 5, yaw: 0 });
  viewer.move({ x: 0, y: 0, z: 0, yaw: 0 });
  await seesAt(viewer, near.id, 2, 2, "near, after the restart");
  await sleep(300);
  assert.equal(viewer.members.get(far.id).outOfView, true, "the new session has the view");
  // far moves within the radius: carried again
  far.move({ x: 6, y: 0, z: 5, yaw: 0 });
  await seesAt(viewer, far.id, 6, 5, "far comes within the radius");
});

test("the server's ERROR 6 to a VIEW reaches the app, which goes on as it was", async () => {
  const p = await server();
  const room = "view-refused";
  const mover = await member(p.url, room, "mover", 30);
  const c = await member(p.url, room, "plain", 0);
  // What a client without plaza-client's own check would send.
  const refused = next(c, "error", (e) => e.requestOp === ClientOp.View);
  c["sendNow"]({ op: ClientOp.View, radius: -1, compact: false });
  const e = await refused;
  assert.equal(e.code, ErrorCode.invalid_argument);
  assert.equal(e.local, undefined);
  assert.equal(c.view, null);
  // Still the whole room, as STATE.
  mover.move({ x: 31, y: 0, z: 0, yaw: 0 });
  await until(() => c.members.get(mover.id).x === 31, 5000, "the mover");
  assert.equal(c.members.get(mover.id).outOfView, undefined);
});
