// The codec of protocol 1.1, alone: the server messages it adds (and the
// trailing fields v1 messages gain) decode to the documented objects,
// malformed ones throw DecodeError (never a TypeError), and the client
// messages it adds encode to the documented tuples.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import { ClientOp, DecodeError, decodeServer, encodeClient, ServerOp } from "plaza-client";

const dec = (tuple) => decodeServer(encode(tuple));

test("WELCOME's features; absent from a v1 server", () => {
  assert.deepEqual(dec([1, 5, "5.t", 30, 9, true, ["state", "signal", "room_state", "later"]]), {
    op: ServerOp.Welcome,
    id: 5,
    session: "5.t",
    tickHz: 30,
    serverTimeMs: 9,
    resumed: true,
    features: ["state", "signal", "room_state", "later"],
  });
  assert.deepEqual(dec([1, 5, "5.t", 30, 9, false]).features, []);
});

test("ROOM and JOINED carry member state and the room's state", () => {
  const room = dec([
    2,
    "lobby",
    [
      [1, "ann", 0, 0, 0, 0, { color: "red", pose: [1, 2.5] }],
      [2, "bob", 1, 0, 0, 0, {}],
      [3, "v1", 2, 0, 0, 0],
    ],
    [[4, 1, "ann", "hi", 7]],
    { seat: [{ id: 1 }, 3], lamp: [true, 1] },
  ]);
  assert.deepEqual(
    room.members.map((m) => [m.id, m.state]),
    [
      [1, { color: "red", pose: [1, 2.5] }],
      [2, {}],
      [3, {}],
    ],
  );
  assert.ok(room.roomState instanceof Map);
  assert.deepEqual([...room.roomState], [
    ["seat", { value: { id: 1 }, version: 3 }],
    ["lamp", { value: true, version: 1 }],
  ]);
  assert.equal(dec([2, "lobby", [], []]).roomState.size, 0, "a v1 ROOM: empty");
  const joined = dec([3, 9, "cy", 1, 2, 3, 0.5, { hat: 1 }]);
  assert.deepEqual(joined, { op: ServerOp.Joined, id: 9, name: "cy", x: 1, y: 2, z: 3, yaw: 0.5, state: { hat: 1 } });
});

test("MEMBER, SIGNAL, ROOM_STATE and ERROR 12", () => {
  assert.deepEqual(dec([10, 4, { color: null, hat: 2 }]), {
    op: ServerOp.Member,
    id: 4,
    patch: { color: null, hat: 2 },
  });
  assert.deepEqual(dec([11, 4, "ann", "emote", { type: "wave" }, 123]), {
    op: ServerOp.Signal,
    from: 4,
    name: "ann",
    kind: "emote",
    data: { type: "wave" },
    tsMs: 123,
  });
  assert.equal(dec([11, 0, "server", "notice", null, 1]).data, null);
  assert.deepEqual(dec([12, "seat", null, 5, 4]), {
    op: ServerOp.RoomState,
    key: "seat",
    value: null,
    version: 5,
    by: 4,
  });
  assert.deepEqual(dec([9, 12, "conflict: the key is at another version", 10, "seat", 4]), {
    op: ServerOp.Error,
    code: 12,
    codeName: "conflict",
    message: "conflict: the key is at another version",
    requestOp: ClientOp.RoomSet,
    key: "seat",
    version: 4,
  });
  // Values of any MessagePack type come through as the sender wrote them.
  const bin = new Uint8Array([1, 2, 3]);
  assert.deepEqual(dec([11, 4, "a", "blob", bin, 1]).data, bin);
});

test("AWAY and STATE_C decode (compact.test.mjs reads STATE_C's entries); later ops are ignored", () => {
  assert.deepEqual(dec([13, [1, 2]]), { op: ServerOp.Away, ids: [1, 2] });
  const c = dec([14, 3, 0, new Uint8Array(0)]);
  assert.deepEqual([c.op, c.tick, c.n, c.entries.length], [ServerOp.StateC, 3, 0, 0]);
  assert.throws(() => dec([14, "compact"]), (e) => e instanceof DecodeError && e.op === ServerOp.StateC);
  assert.equal(dec([99]), null);
});

test("malformed 1.1 frames throw DecodeError", () => {
  const bad = [
    [1, 5, "5.t", 30, 9, true, "state"], // features not an array
    [2, "r", [[1, "a", 0, 0, 0, 0, [1]]], []], // member state not a map
    [2, "r", [], [], [["seat", 1]]], // room_state not a map
    [2, "r", [], [], { seat: 1 }], // room_state entry not [value, version]
    [2, "r", [], [], { seat: [1, "v"] }], // version not a number
    [3, 9, "cy", 0, 0, 0, 0, "state"], // JOINED state not a map
    [10, 4, [1]], // MEMBER patch not a map
    [10, "4", {}], // MEMBER id
    [11, 4, "a", 7, null, 1], // SIGNAL kind not a string
    [11, 4, "a", "k", null], // SIGNAL without ts
    [12, 3, 1, 1, 4], // ROOM_STATE key not a string
    [12, "k", 1, "1", 4], // version not a number
    [9, 12, "conflict", 10], // ERROR 12 without its key
    [9, 12, "conflict", 10, "k", "v"], // ... or with a bad version
  ];
  for (const t of bad) assert.throws(() => dec(t), DecodeError, JSON.stringify(t));
});

test("client ops of 1.1 encode to the documented tuples", () => {
  const enc = (m) => decode(encodeClient(m));
  assert.deepEqual(enc({ op: ClientOp.Set, patch: { a: 1, b: null } }), [8, { a: 1, b: null }]);
  assert.deepEqual(enc({ op: ClientOp.View, radius: 40, compact: true }), [11, { radius: 40, compact: true }]);
  assert.deepEqual(enc({ op: ClientOp.View, radius: 0, compact: false }), [11, { radius: 0, compact: false }]);
  assert.deepEqual(enc({ op: ClientOp.Signal, to: null, kind: "emote", data: { t: 1 } }), [9, null, "emote", { t: 1 }]);
  assert.deepEqual(enc({ op: ClientOp.Signal, to: 42, kind: "offer", data: undefined }), [9, 42, "offer", null]);
  assert.deepEqual(enc({ op: ClientOp.RoomSet, key: "seat", value: null }), [10, "seat", null]);
  assert.deepEqual(enc({ op: ClientOp.RoomSet, key: "seat", value: 1, ifVersion: 0 }), [10, "seat", 1, 0]);
  assert.deepEqual(enc({ op: ClientOp.Hello, version: 1, name: "a", state: { c: 1 } }), [1, 1, null, "a", null, null, { c: 1 }]);
  assert.deepEqual(enc({ op: ClientOp.Hello, version: 1, name: "a" }), [1, 1, null, "a"]);
});
