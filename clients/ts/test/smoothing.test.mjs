// Interpolation of other avatars (pure, with a fake clock), reconciliation
// of the own avatar (against a real plaza that refuses a teleport), and
// the reconnect backoff.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  backoffDelay,
  connect,
  ErrorCode,
  interpolate,
  Interpolator,
  Predictor,
  TickClock,
} from "plaza-client";
import { next, startPlaza, until } from "./helpers/plaza.mjs";

const P = (x, yaw = 0) => ({ x, y: 0, z: 0, yaw });

test("interpolator draws delayMs in the past, between the samples", () => {
  let now = 1000;
  const it = new Interpolator({ delayMs: 100, now: () => now });
  it.push(1, P(0), 1000);
  it.push(1, P(10), 1033);
  it.push(1, P(20), 1066);
  assert.deepEqual(it.sample(1, 1100), P(0)); // render time 1000
  assert.ok(Math.abs(it.sample(1, 1116.5).x - 5) < 1e-9); // halfway 0..10
  assert.ok(Math.abs(it.sample(1, 1149.5).x - 15) < 1e-9);
  assert.deepEqual(it.sample(1, 5000), P(20), "holds the last sample");
  assert.deepEqual(it.sample(1, 0), P(0), "holds the first sample");
  assert.equal(it.sample(2), undefined);
  now = 1149.5;
  assert.ok(Math.abs(it.sample(1).x - 15) < 1e-9, "default render time is now");
  it.remove(1);
  assert.equal(it.sample(1, 1100), undefined);
});

test("interpolator turns the short way and glides after a pause", () => {
  const it = new Interpolator({ delayMs: 0, maxGapMs: 250, tickMs: 50 });
  it.push(1, P(0, 3.0), 0);
  it.push(1, P(0, -3.0), 100); // 3.0 -> -3.0 rad is 0.28 rad the short way
  const mid = it.sample(1, 50).yaw;
  assert.ok(mid > 3.0 && mid < 3.3, `yaw ${mid} went the short way`);
  // Standing still for 2 s, then a move: the glide takes one tick, not 2 s.
  it.push(2, P(0), 0);
  it.push(2, P(10), 2000);
  assert.equal(it.sample(2, 1900).x, 0, "still standing before the move");
  assert.ok(Math.abs(it.sample(2, 1975).x - 5) < 1e-9);
});

test("interpolator turns the short way in both directions", () => {
  const it = new Interpolator({ delayMs: 0 });
  it.push(1, P(0, -3.0), 0);
  it.push(1, P(0, 3.0), 100); // -3.0 -> 3.0 is -0.28 rad the short way
  const mid = it.sample(1, 50).yaw;
  assert.ok(mid < -3.0 && mid > -3.3, `yaw ${mid} went the short way`);
  it.push(2, P(0, 0.5), 0);
  it.push(2, P(0, 1.5), 100); // no wrap: straight
  assert.ok(Math.abs(it.sample(2, 50).yaw - 1.0) < 1e-9);
});

test("samples are placed at their tick's time, not their arrival", () => {
  let now = 0;
  const it = new Interpolator({ delayMs: 100, now: () => now });
  const handlers = {};
  const client = { id: 1, tickHz: 20, on: (ev, h) => ((handlers[ev] = h), () => {}) };
  interpolate(client, it);
  handlers.room({ room: "r", members: [], history: [], resumed: false });
  // Tick 10 arrives on time; ticks 11 and 12 are held up by the network
  // and land together, 100 ms late.
  now = 1000;
  handlers.state({ tick: 10, entries: [{ id: 2, seq: 1, x: 0, y: 0, z: 0, yaw: 0 }] });
  now = 1200;
  handlers.state({ tick: 11, entries: [{ id: 2, seq: 2, x: 10, y: 0, z: 0, yaw: 0 }] });
  handlers.state({ tick: 12, entries: [{ id: 2, seq: 3, x: 20, y: 0, z: 0, yaw: 0 }] });
  // Tick 11 is 50 ms after tick 10 (1050 local), however late it came:
  // halfway between 10 and 11 is x = 5, not a jump from 0 to 20.
  assert.ok(Math.abs(it.sample(2, 1125).x - 5) < 1e-9, `x ${it.sample(2, 1125).x}`);
  assert.ok(Math.abs(it.sample(2, 1175).x - 15) < 1e-9);
  // Another counter (a room on another worker): the clock starts over.
  now = 5000;
  handlers.state({ tick: 999999, entries: [{ id: 2, seq: 4, x: 30, y: 0, z: 0, yaw: 0 }] });
  assert.equal(it.sample(2, 5100).x, 30);
});

test("tick clock: the least delayed tick sets the offset, a new counter resets it", () => {
  const clock = new TickClock(() => 50);
  assert.equal(clock.at(0, 1000), 1000);
  assert.equal(clock.at(1, 1080), 1050); // 30 ms late: jitter
  assert.equal(clock.at(2, 1090), 1090); // early: 10 ms less delay than thought
  assert.equal(clock.at(3, 1250), 1140); // later still: the minimum holds
  assert.equal(clock.at(40, 4100), 4100); // 2 s on, the window moved on
  assert.equal(clock.at(100000, 4200), 4200); // a jump: resync
});

test("interpolator forgets old samples", () => {
  const it = new Interpolator({ delayMs: 100 });
  for (let t = 0; t < 100000; t += 33) it.push(1, P(t), t);
  assert.ok(it.sample(1, 100000).x > 99000);
  // internal: bounded history (no leak over a long session)
  const track = [...it["tracks"].values()][0];
  assert.ok(track.length < 100, `kept ${track.length} samples`);
});

test("backoff grows, caps, and jitters", () => {
  const o = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
  assert.equal(backoffDelay(0, o, () => 0), 100);
  assert.equal(backoffDelay(3, o, () => 0), 800);
  assert.equal(backoffDelay(10, o, () => 0), 1000);
  assert.equal(backoffDelay(10, o, () => 1), 500);
  const seen = new Set();
  for (let i = 0; i < 50; i++) seen.add(backoffDelay(2, o));
  assert.ok(seen.size > 5, "jitter spreads the delays");
  for (const d of seen) assert.ok(d >= 200 && d <= 400);
});

test("prediction: own moves show at once; a refused teleport snaps back", async () => {
  const plaza = await startPlaza(["--max-speed", "50"]);
  const a = await connect({ url: plaza.url, name: "runner" });
  const b = await connect({ url: plaza.url, name: "viewer" });
  try {
    const pred = new Predictor(a);
    const interp = new Interpolator({ delayMs: 100 });
    const detach = interpolate(b, interp);
    await a.join("plaza-pred");
    await b.join("plaza-pred");
    await until(() => interp.ids().includes(a.id), 3000, "b tracks a");
    assert.deepEqual(interp.ids(), [a.id], "b does not track itself");

    for (let i = 0; i < 3; i++) pred.step({ dx: 1 });
    assert.equal(pred.position.x, 3, "predicted before any answer");
    await until(() => pred.pending === 0, 3000, "moves acknowledged");
    assert.equal(pred.position.x, 3);
    assert.equal(pred.corrections, 0);

    const refused = next(a, "error", (e) => e.code === ErrorCode.move_rejected);
    pred.step({ dx: 500 }); // far beyond 50 units/s
    assert.equal(pred.position.x, 503);
    await refused;
    await until(() => pred.pending === 0, 3000, "refusal reconciled");
    assert.equal(pred.position.x, 3, "back where the server has us");
    assert.equal(pred.rejected, 1);
    assert.equal(pred.corrections, 1);

    // b sees a glide to x=3 (after the interpolation delay), never at 503.
    await until(() => Math.abs(interp.sample(a.id).x - 3) < 1e-6, 3000);
    detach();
    pred.detach();
  } finally {
    a.close();
    b.close();
    assert.equal(await plaza.stop(), 0);
  }
});
