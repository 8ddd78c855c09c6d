// The client against a fake server: what exactly goes on the wire around
// a reconnect, and how broken frames from a server are survived.
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { after, test } from "node:test";
import { ClientOp, connect, ErrorCode, ServerOp } from "plaza-client";
import { FakeServer } from "./helpers/fake-server.mjs";
import { next, sleep, until } from "./helpers/plaza.mjs";

const W = ServerOp.Welcome;
const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** A fake server and a client that connected to it and joined "r". */
async function setup(opts = {}) {
  const srv = await new FakeServer().start();
  cleanup.push(() => srv.close());
  const pending = connect({ url: srv.url, name: "fay", ...opts });
  const hello = await srv.nextOp(ClientOp.Hello);
  assert.deepEqual(hello, [1, 1, null, "fay"]);
  srv.send([W, 7, "7.tok", 30, Date.now(), false]);
  const c = await pending;
  cleanup.push(() => c.close());
  const joining = c.join("r");
  assert.deepEqual(await srv.nextOp(ClientOp.Join), [2, "r"]);
  srv.send([2, "r", [[7, "fay", 0, 0, 0, 0]], [[4, 9, "x", "old", 1]]]);
  await joining;
  return { srv, c };
}

test("malformed frames are reported as local errors, never thrown", async () => {
  const { srv, c } = await setup();
  const errors = [];
  c.on("error", (e) => errors.push(e));
  const uncaught = [];
  const onUncaught = (e) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  cleanup.push(() => process.off("uncaughtException", onUncaught));

  srv.sendRaw(Buffer.from([0xc1])); // never used in MessagePack
  srv.ws.send("a text frame"); // plaza only sends binary
  srv.send({ op: 6 }); // not an array
  srv.send([6, "one", 9, "x", "hi", 1]); // seq of the wrong type
  srv.send([3, 8]); // JOINED with its fields missing
  srv.send([5, 1, [[8, 1, "x", 0, 0, 0]]]); // STATE with a string coordinate
  srv.send([]); // no op
  srv.send([99, "from the future"]); // unknown op: ignored quietly
  srv.send([6, 5, 9, "x", "still alive", 2]); // then a good one
  const chat = await next(c, "chat");
  assert.equal(chat.text, "still alive");
  assert.equal(errors.length, 7);
  for (const e of errors) {
    assert.equal(e.local, true);
    assert.equal(e.code, ErrorCode.bad_message);
    assert.equal(e.codeName, "bad_message");
  }
  assert.match(errors[1].message, /text frame/);
  assert.deepEqual(uncaught, []);
  assert.equal(c.status, "open");
  assert.deepEqual([...c.members.keys()], [7], "state untouched by junk");
});

test("reconnect: resume token and last chat seq, moves replaced, chat queued", async () => {
  const { srv, c } = await setup({ reconnect: { initialDelayMs: 50, jitter: 0 } });
  srv.send([6, 5, 9, "x", "seen", 2]);
  await next(c, "chat");
  const away = next(c, "status", (s) => s.status === "reconnecting");
  srv.ws.terminate();
  const st = await away;
  assert.equal(st.delayMs, 50);
  c.move({ x: 1, y: 0, z: 0, yaw: 0 });
  c.chat("first");
  c.move({ x: 2, y: 0, z: 0, yaw: 0 });
  c.whisper(9, "second");
  c.move({ x: 3, y: 0, z: 0, yaw: 0.5 });

  const hello = await srv.nextOp(ClientOp.Hello);
  assert.deepEqual(hello, [1, 1, null, "fay", "7.tok", 5]);
  const before = srv.received.length;
  srv.send([W, 7, "7.tok2", 30, Date.now(), true]);
  await sleep(50);
  assert.equal(srv.received.length, before, "nothing sent before ROOM is back");
  const chats = [];
  c.on("chat", (m) => chats.push(m.seq));
  srv.send([2, "r", [[7, "fay", 0, 0, 0, 0]], [[5, 9, "x", "seen", 2]]]);
  // Replayed chat past seq 5 comes through, a repeat of 5 does not.
  srv.send([6, 5, 9, "x", "seen", 2]);
  srv.send([6, 6, 9, "x", "missed", 3]);
  // The replay is over when the ping sent after ROOM comes back.
  const barrier = await srv.nextOp(ClientOp.Ping);
  await sleep(50);
  assert.equal(srv.received.length, before + 1, "nothing else before the barrier");
  srv.send([8, barrier[1], Date.now()]);
  await until(() => srv.received.length >= before + 4, 2000, "flush");
  await sleep(50);
  const sent = srv.received.slice(before + 1).map(([, m]) => m);
  assert.deepEqual(sent, [
    [5, "first"],
    [6, 9, "second"],
    [4, 3, 3, 0, 0, 0.5], // only the latest move, with its own seq
  ]);
  assert.deepEqual(chats, [6]);
});

test("failed resume: ERROR 9, fresh WELCOME, the client joins its room again", async () => {
  const { srv, c } = await setup({ reconnect: { initialDelayMs: 20 } });
  const errors = [];
  c.on("error", (e) => errors.push(e.codeName));
  srv.ws.close(1001, "draining");
  const hello = await srv.nextOp(ClientOp.Hello);
  assert.equal(hello[4], "7.tok");
  srv.send([9, 9, "session unknown or expired", 1]);
  srv.send([W, 8, "8.tok", 30, Date.now(), false]);
  assert.deepEqual(await srv.nextOp(ClientOp.Join), [2, "r"]);
  const room = next(c, "room");
  srv.send([2, "r", [[8, "fay", 0, 0, 0, 0]], []]);
  await room;
  assert.equal(c.id, 8);
  assert.equal(c.room, "r");
  assert.deepEqual(errors, ["session_expired"]);
});

test("close 4003 (kicked) ends the client: no reconnect", async () => {
  const { srv, c } = await setup({ reconnect: { initialDelayMs: 10 } });
  const closed = next(c, "status");
  srv.ws.close(4003, "kicked");
  const st = await closed;
  assert.equal(st.status, "closed");
  assert.equal(st.code, 4003);
  await sleep(100);
  assert.equal(srv.sockets.length, 1, "no second connection");
});

test("a 100 kB frame with a string for its op does not throw either", async () => {
  const { srv, c } = await setup();
  const err = next(c, "error");
  srv.sendRaw(encode(["x".repeat(100000)]));
  assert.equal((await err).local, true);
});
