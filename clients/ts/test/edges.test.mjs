// The client at the edges, against real plaza processes: a refused
// rejoin after a restart, a JOIN or LEAVE lost with the socket, an
// outage's queue under the rate limit, an expired JWT, a TLS failure and
// an Origin refused, a first connect that has to wait for the server.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { WebSocket } from "ws";
import {
  CancelledError,
  ClosedError,
  ConnectionError,
  connect,
  ErrorCode,
} from "plaza-client";
import { freePort, next, Plaza, Relay, sleep, startPlaza, until } from "./helpers/plaza.mjs";

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function plaza(args = []) {
  const p = await startPlaza(args);
  cleanup.push(() => p.stop());
  return p;
}

async function client(opts) {
  const c = await connect(opts);
  cleanup.push(() => c.close());
  return c;
}

test("a refused rejoin after a restart: the client stays usable", async () => {
  const first = await new Plaza(["--room-max-members", "1"]).start();
  const port = first.port;
  // a comes back 1.5 s after the drop: by then b (below) has the seat.
  const a = await client({
    url: first.url,
    name: "seated",
    reconnect: { initialDelayMs: 1500, maxDelayMs: 1500, jitter: 0 },
  });
  await a.join("one-seat");
  const lefts = [];
  a.on("left", (l) => l.self && lefts.push(l.id));
  const refused = next(a, "error", (e) => e.code === ErrorCode.room_full, 10000);
  const synced = next(a, "synced", () => true, 10000);
  assert.equal(await first.stop(), 0);
  const queued = a.chat("said during the outage");
  // Back up, and someone else takes the only seat before a returns.
  const second = await new Plaza(["--room-max-members", "1"]).start(port);
  cleanup.push(() => second.stop());
  const b = await client({ url: second.url, name: "taker" });
  await b.join("one-seat");

  assert.equal((await refused).requestOp, 2);
  assert.deepEqual(await synced, { resumed: false, recovered: false, room: null });
  assert.equal(a.status, "open");
  assert.equal(a.room, null);
  assert.deepEqual(lefts, [a.id]);
  await assert.rejects(queued, CancelledError);
  assert.ok((await a.ping()) >= 0, "ping answers");
  assert.equal((await a.join("elsewhere")).room, "elsewhere");
  assert.ok((await a.chat("here now")).seq >= 1);
});

test("a JOIN lost with the socket: the new room's chat is not taken for seen", async () => {
  const p = await plaza();
  const relay = await new Relay(p.port).start();
  cleanup.push(() => relay.close());
  const a = await client({ url: relay.url, name: "mover", reconnect: { initialDelayMs: 100 } });
  const b = await client({ url: p.url, name: "talker" });
  await a.join("room-a");
  await b.join("room-a");
  let seenInA = 0;
  const offA = a.on("chat", () => seenInA++);
  for (let i = 1; i <= 8; i++) await b.chat(`a${i}`);
  await until(() => seenInA === 8);
  offA();
  const c = await client({ url: p.url, name: "b-regular" });
  await c.join("room-b");
  await c.chat("b1");

  // a asks for room-b; the server moves it, but the ROOM never reaches a.
  relay.hold();
  const joining = a.join("room-b");
  await until(async () => {
    const r = await (await fetch(`${p.http}/rooms`)).json();
    return r.rooms.some((x) => x.room === "room-b" && x.members === 2);
  }, 5000, "the JOIN landed");
  const synced = next(a, "synced", () => true, 8000);
  relay.cut();
  assert.equal((await joining).room, "room-b");
  await synced;
  // Lines 2-8 of room-b: a's last seq was 8 in room-a, and none of these
  // may be dropped as already seen.
  const got = [];
  a.on("chat", (m) => got.push(m.seq));
  for (let i = 2; i <= 8; i++) await c.chat(`b${i}`);
  await until(() => got.length === 7, 5000, "seven lines of room-b");
  assert.deepEqual(got, [2, 3, 4, 5, 6, 7, 8]);
});

test("a LEAVE lost with the socket: leave() settles", async () => {
  const p = await plaza();
  const relay = await new Relay(p.port).start();
  cleanup.push(() => relay.close());
  const a = await client({ url: relay.url, name: "leaver", reconnect: { initialDelayMs: 100 } });
  await a.join("leave-lost");
  relay.hold();
  const leaving = a.leave();
  await until(async () => {
    const r = await (await fetch(`${p.http}/rooms`)).json();
    return !r.rooms.some((x) => x.room === "leave-lost");
  }, 5000, "the LEAVE landed");
  const synced = next(a, "synced", () => true, 5000);
  relay.cut();
  await leaving;
  assert.equal(a.room, null);
  assert.deepEqual(await synced, { resumed: true, recovered: true, room: null });
  assert.equal(a.status, "open");
});

test("15 chats typed during an outage all arrive: paced under the rate limit", async () => {
  const p = await plaza();
  const relay = await new Relay(p.port).start();
  cleanup.push(() => relay.close());
  const a = await client({ url: relay.url, name: "typist", reconnect: { initialDelayMs: 300, jitter: 0 } });
  await a.join("outage");
  const errors = [];
  a.on("error", (e) => errors.push(e.codeName));
  const away = next(a, "status", (s) => s.status === "reconnecting");
  relay.cut();
  await away;
  const said = [];
  for (let i = 1; i <= 15; i++) said.push(a.chat(`line ${i}`));
  const lines = await Promise.all(said);
  assert.deepEqual(lines.map((l) => l.text), said.map((_, i) => `line ${i + 1}`));
  assert.deepEqual(lines.map((l) => l.seq), [...Array(15).keys()].map((i) => i + 1));
  assert.deepEqual(errors, [], "none refused with rate_limited");
});

function jwt(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

test("4001 and token expiry: a fixed token ends the client, a token function carries on", async () => {
  const secret = "s3cret-for-the-test";
  const args = ["--jwt-secret", secret, "--jwt-leeway-s", "0"];
  const first = await new Plaza(args).start();
  const port = first.port;
  const soon = () => Math.floor(Date.now() / 1000) + 2;
  const fixed = await client({
    url: first.url,
    token: jwt(secret, { sub: "u1", name: "fixed", exp: soon() }),
    reconnect: { initialDelayMs: 50 },
  });
  let asked = 0;
  const fresh = await client({
    url: first.url,
    token: async () => (asked++, jwt(secret, { sub: "u2", name: "fresh", exp: soon() })),
    reconnect: { initialDelayMs: 50 },
  });
  await fixed.join("jwt-room");
  await fresh.join("jwt-room");
  await sleep(3100); // both tokens expire; the sessions outlive them
  const closed = next(fixed, "status", (s) => s.status === "closed", 10000);
  const freshBack = next(fresh, "synced", () => true, 10000);
  assert.equal(await first.stop(), 0); // a rolling restart
  const pending = assert.rejects(
    fixed.join("later-room"), // waits for the reconnect, then the end
    (e) => e instanceof ClosedError && e.closeCode === 4001,
  );
  const second = await new Plaza(args).start(port);
  cleanup.push(() => second.stop());

  const st = await closed;
  assert.equal(st.code, 4001);
  await pending;
  await assert.rejects(fixed.ping(), ClosedError);
  await freshBack;
  assert.ok(asked >= 2, "the token function was asked again");
  assert.equal(fresh.room, "jwt-room");
  assert.equal(fresh.self.name, "fresh");
});

test("a TLS failure and an Origin refused read as what they are", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "plaza-tls-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  const tls = await plaza(["--tls-cert", cert, "--tls-key", key]);
  await assert.rejects(connect({ url: tls.url, name: "n" }), (e) => {
    assert.ok(e instanceof ConnectionError, e);
    assert.match(e.message, /^connect failed: TLS failed: .*certificate/);
    assert.doesNotMatch(e.message, /1006/);
    return true;
  });

  const strict = await plaza(["--allowed-origins", "https://app.example"]);
  const fromEvil = (url, proto) => new WebSocket(url, proto, { origin: "https://evil.example" });
  await assert.rejects(connect({ url: strict.url, socketFactory: fromEvil }), (e) => {
    assert.ok(e instanceof ConnectionError);
    assert.equal(e.httpStatus, 403);
    assert.match(e.message, /HTTP 403 .*--allowed-origins/);
    return true;
  });
  const fromApp = (url, proto) => new WebSocket(url, proto, { origin: "https://app.example" });
  await client({ url: strict.url, socketFactory: fromApp });
});

test("retryInitialConnect: the first connection waits for the server", async () => {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/ws`;
  const connecting = connect({ url, name: "early", retryInitialConnect: true, reconnect: { initialDelayMs: 100, maxDelayMs: 200 } });
  await sleep(400); // refused a few times
  const p = await new Plaza().start(port);
  cleanup.push(() => p.stop());
  const c = await connecting;
  cleanup.push(() => c.close());
  assert.equal(c.status, "open");
  // Without it the first failure rejects at once.
  const t0 = Date.now();
  await assert.rejects(connect({ url: "ws://127.0.0.1:1/ws" }), (e) => {
    assert.ok(e instanceof ConnectionError);
    assert.match(e.message, /refused/);
    return true;
  });
  assert.ok(Date.now() - t0 < 2000);
});
