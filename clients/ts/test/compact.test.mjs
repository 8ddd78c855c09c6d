// STATE_C round trips in TypeScript. `refDecode` below is a reference
// decoder written from docs/protocol.md ("Compact positions (STATE_C)")
// alone, with BigInt arithmetic and none of the package's code; the
// package's writer and reader (CompactWriter, CompactTable) are checked
// against the document's worked example byte by byte, against the
// reference on random walks, and on malformed entries, which must throw
// a DecodeError and leave the table as it was.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import {
  COMPACT_IDX_MAX,
  CompactTable,
  CompactWriter,
  DecodeError,
  decodeServer,
  quantize,
  ServerOp,
} from "plaza-client";

// ---- the reference, from the document ----------------------------------

class RefError extends Error {}

/** Decodes `n` entries of `bytes` against `table` (Map idx -> slot),
 * which it updates; returns [id, seq, x, y, z, yaw] tuples of numbers. */
function refDecode(table, n, bytes) {
  let i = 0;
  const byte = () => {
    if (i >= bytes.length) throw new RefError("the entries end early");
    return bytes[i++];
  };
  const varint = () => {
    // LEB128, 7 bits a byte, least significant group first; at most 10 bytes
    let v = 0n;
    for (let k = 0; k < 10; k++) {
      const b = byte();
      v |= BigInt(b & 0x7f) << BigInt(7 * k);
      if ((b & 0x80) === 0) {
        if (v >= 1n << 64n) throw new RefError("past 64 bits");
        return v;
      }
    }
    throw new RefError("varint longer than 10 bytes");
  };
  const svarint = () => {
    const u = varint();
    return (u >> 1n) ^ -(u & 1n); // zigzag back
  };
  const int = (size) => {
    let v = 0n;
    for (let k = 0; k < size; k++) v = (v << 8n) | BigInt(byte());
    return BigInt.asIntN(size * 8, v); // two's complement, big-endian
  };
  const f32 = () => {
    const b = new Uint8Array(4);
    for (let k = 0; k < 4; k++) b[k] = byte();
    return new DataView(b.buffer).getFloat32(0, false);
  };
  const fits32 = (v) => v >= -(1n << 31n) && v < 1n << 31n;
  const out = [];
  for (let e = 0; e < n; e++) {
    const head = byte();
    const idx = varint();
    if (idx >= 1n << 20n) throw new RefError("idx past 2^20");
    if (head & 0x80) {
      if (head & 0x3f) throw new RefError("bits 5-0 of a full entry's head");
      const id = varint();
      if (id >= 1n << 53n) throw new RefError("ids are below 2^53");
      const seq = varint();
      if (head & 0x40) {
        const p = [f32(), f32(), f32(), f32()];
        table.set(idx, { id, seq, q: null });
        out.push([Number(id), Number(seq), ...p]);
      } else {
        const q = [svarint(), svarint(), svarint(), svarint()];
        if (!q.every(fits32)) throw new RefError("quantised values are 32-bit");
        table.set(idx, { id, seq, q });
        out.push([Number(id), Number(seq), ...pos(q)]);
      }
    } else {
      if (head & 0x01) throw new RefError("bit 0 is reserved");
      const was = table.get(idx);
      if (!was || !was.q) throw new RefError("a delta needs a quantised baseline");
      const seq = head & 0x40 ? was.seq + svarint() : was.seq + 1n;
      if (seq < 0n) throw new RefError("a seq below 0");
      const size = head & 0x02 ? 2 : 1;
      const q = [...was.q];
      [0x20, 0x10, 0x08, 0x04].forEach((bit, a) => {
        if (head & bit) q[a] += int(size);
      });
      if (!q.every(fits32)) throw new RefError("quantised values are 32-bit");
      table.set(idx, { id: was.id, seq, q });
      out.push([Number(was.id), Number(seq), ...pos(q)]);
    }
  }
  if (i !== bytes.length) throw new RefError("bytes after the last entry");
  return out;
}

/** x, y, z in 1/64 units and yaw in 1/256, back to numbers. */
const pos = (q) => [Number(q[0]) / 64, Number(q[1]) / 64, Number(q[2]) / 64, Number(q[3]) / 256];

const tuples = (entries) => entries.map((e) => [e.id, e.seq, e.x, e.y, e.z, e.yaw]);
const hex = (s) => Uint8Array.from(s.split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16)));

// ---- the document's worked example -------------------------------------

// Member 1234, short id 300, seq 7, at (10.5, 0, -2.25), yaw 1.5, as a
// full entry; a tick later at seq 8, (11.25, 0, -2.75), yaw 1.4609375,
// as a delta.
const FULL = hex("80  ac 02  d2 09  07  c0 0a  00  9f 02  80 06");
const DELTA = hex("2c  ac 02  30  e0  f6");
const EXAMPLE = [
  [1234, 7, 10.5, 0, -2.25, 1.5],
  [1234, 8, 11.25, 0, -2.75, 1.4609375],
];

test("the worked example: the writer makes its bytes", () => {
  const w = new CompactWriter();
  const base = w.full(300, 1234, 7, { x: 10.5, y: 0, z: -2.25, yaw: 1.5 });
  assert.deepEqual(w.bytes(), FULL);
  const d = new CompactWriter();
  const to = quantize({ x: 11.25, y: 0, z: -2.75, yaw: 1.4609375 }, 8);
  assert.deepEqual(to, { seq: 8, x: 720, y: 0, z: -176, yaw: 374 });
  assert.equal(d.delta(300, base, to), true);
  assert.deepEqual(d.bytes(), DELTA);
  assert.equal(w.count + d.count, 2);
});

test("the worked example: the reader and the reference read it the same", () => {
  const t = new CompactTable();
  assert.deepEqual(tuples(t.decode(1, FULL)), [EXAMPLE[0]]);
  assert.deepEqual(tuples(t.decode(1, DELTA)), [EXAMPLE[1]]);
  const ref = new Map();
  assert.deepEqual(refDecode(ref, 1, FULL), [EXAMPLE[0]]);
  assert.deepEqual(refDecode(ref, 1, DELTA), [EXAMPLE[1]]);
  // Both in one message, as a server would never send them but may.
  const both = new Uint8Array([...FULL, ...DELTA]);
  assert.deepEqual(tuples(new CompactTable().decode(2, both)), EXAMPLE);
  assert.deepEqual(refDecode(new Map(), 2, both), EXAMPLE);
});

test("a STATE_C frame: the codec gives tick, n and the bytes of its entries", () => {
  const m = decodeServer(encode([14, 99, 2, new Uint8Array([...FULL, ...DELTA]), "later"]));
  assert.equal(m.op, ServerOp.StateC);
  assert.equal(m.tick, 99);
  assert.equal(m.n, 2);
  assert.deepEqual(m.entries, new Uint8Array([...FULL, ...DELTA]));
  assert.deepEqual(decodeServer(encode([13, [4, 5]])), { op: ServerOp.Away, ids: [4, 5] });
  for (const bad of [
    [14, 1, 1, [1, 2]], // entries not a bin
    [14, 1, "1", FULL], // n not a number
    [14, 1, -1, FULL],
    [14, 1, 1.5, FULL],
    [14, "t", 1, FULL],
    [14, 1, 1], // no entries
    [13, 5], // AWAY without its list
    [13, ["x"]],
  ])
    assert.throws(() => decodeServer(encode(bad)), DecodeError, JSON.stringify(bad));
});

// ---- random walks -------------------------------------------------------

/** A small deterministic generator (mulberry32), so a failure repeats. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ticks of a crowd: members walk (small steps), some jump (wide
 * deltas, full entries), some stand far out (raw floats), seqs jump
 * back and forth; yields [n, bytes, truth] per tick, truth being the
 * members' exact seq and position. */
function* crowd(seed, ticks = 200, size = 40) {
  const r = rng(seed);
  const members = Array.from({ length: size }, (_, k) => ({
    idx: k === 0 ? COMPACT_IDX_MAX - 1 : Math.floor(r() * 5000),
    id: k === 1 ? Number.MAX_SAFE_INTEGER : 1 + Math.floor(r() * 2 ** 40),
    seq: k === 2 ? 2 ** 40 : 0,
    p: { x: (r() - 0.5) * 800, y: r() * 4, z: (r() - 0.5) * 800, yaw: (r() - 0.5) * 7 },
    base: null, // the last entry's baseline, null: a full one next
  }));
  // idx are distinct
  const used = new Set();
  for (const m of members) {
    while (used.has(m.idx)) m.idx = (m.idx + 1) % COMPACT_IDX_MAX;
    used.add(m.idx);
  }
  for (let t = 0; t < ticks; t++) {
    const w = new CompactWriter();
    const truth = [];
    for (const m of members) {
      if (r() < 0.3) continue; // did not move this tick
      const kind = r();
      if (kind < 0.02) m.p = { x: 4e7 * (r() < 0.5 ? 1 : -1), y: 1, z: r(), yaw: 0.5 }; // beyond 32 bits at 1/64
      else if (kind < 0.05) m.p = { ...m.p, x: m.p.x + (r() - 0.5) * 2000 }; // past 16 bits
      else if (kind < 0.15) m.p = { ...m.p, x: m.p.x + (r() - 0.5) * 300, z: m.p.z - 1 }; // wide
      else if (Math.abs(m.p.x) > 1e6) m.p = { x: r() * 10, y: 0, z: r() * 10, yaw: 0 }; // back in
      else m.p = { ...m.p, x: m.p.x + (r() - 0.5) * 3, z: m.p.z + (r() - 0.5) * 3, yaw: m.p.yaw + (r() - 0.5) * 0.4 };
      m.seq += r() < 0.85 ? 1 : Math.floor(r() * 50) - 10;
      if (m.seq < 0) m.seq = 0;
      const to = quantize(m.p, m.seq);
      if (!(m.base && to && r() > 0.05 && w.delta(m.idx, m.base, to)))
        m.base = w.full(m.idx, m.id, m.seq, m.p);
      else m.base = to;
      truth.push({ id: m.id, seq: m.seq, raw: to === null, ...m.p });
    }
    yield [w.count, w.bytes(), truth];
  }
}

test("random walks: the reader agrees with the reference, and with the truth within 1/128", () => {
  let entries = 0;
  let bytes = 0;
  let raw = 0;
  for (const seed of [1, 2, 3]) {
    const t = new CompactTable();
    const ref = new Map();
    for (const [n, b, truth] of crowd(seed)) {
      const got = tuples(t.decode(n, b));
      assert.deepEqual(got, refDecode(ref, n, b));
      assert.equal(got.length, truth.length);
      got.forEach(([id, seq, x, y, z, yaw], k) => {
        const w = truth[k];
        assert.equal(id, w.id);
        assert.equal(seq, w.seq);
        if (w.raw) {
          raw++;
          assert.deepEqual([x, y, z, yaw], [w.x, w.y, w.z, w.yaw].map(Math.fround));
          return;
        }
        // within 1/128 of the float32 the server holds (1/512 for yaw)
        for (const [a, b, q] of [[x, w.x, 128], [y, w.y, 128], [z, w.z, 128], [yaw, w.yaw, 512]])
          assert.ok(Math.abs(a - Math.fround(b)) <= 1 / q + 1e-12, `${a} vs ${b}`);
      });
      entries += n;
      bytes += b.length;
    }
  }
  assert.ok(entries > 10000 && raw > 10, `${entries} entries, ${raw} raw`);
  // Walkers with a few jumpers: far below the 31 bytes of a STATE entry.
  assert.ok(bytes / entries < 9, `${(bytes / entries).toFixed(2)} bytes an entry`);
});

// ---- malformed entries --------------------------------------------------

/** A table that has read the example's full entry (short id 300). */
function primed() {
  const t = new CompactTable();
  t.decode(1, FULL);
  return t;
}

/** Asserts `t` still holds the example's baseline: the delta reads as
 * in the document. */
function assertUntouched(t, what) {
  assert.deepEqual(tuples(t.decode(1, DELTA)), [EXAMPLE[1]], `table changed by ${what}`);
}

const MALFORMED = [
  ["empty, n 1", 1, ""],
  ["n past the bytes", 3, "80 01 01 01 00 00 00 00"],
  ["cut in the idx", 1, "80 ac"],
  ["cut in a full entry", 1, "80 ac 02 d2 09 07 c0"],
  ["cut in raw floats", 1, "c0 05 01 01 00 00 80"],
  ["cut in an i16 delta", 1, "22 ac 02 01"],
  ["bytes after the last entry", 1, "2c ac 02 30 e0 f6 00"],
  ["reserved bits of a full head", 1, "81 05 01 01 00 00 00 00"],
  ["reserved bits (5) of a full head", 1, "a0 05 01 01 00 00 00 00"],
  ["reserved bit 0 of a delta", 1, "21 ac 02 30"],
  ["a delta on an unknown idx", 1, "20 07 01"],
  ["idx at 2^27", 1, "80  80 80 80 40  01 01 00 00 00 00"],
  ["idx at 2^20", 1, "80  80 80 40  01 01 00 00 00 00"],
  ["id at 2^53", 1, "80 05 80 80 80 80 80 80 80 10 01 00 00 00 00"],
  ["varint of 11 bytes", 1, "80 05 ff ff ff ff ff ff ff ff ff ff 01 01 00 00 00 00"],
  ["varint's tenth byte past 64 bits", 1, "80 05 ff ff ff ff ff ff ff ff ff 02 01 00 00 00 00"],
  ["x past 32 bits", 1, "80 05 01 01 80 80 80 80 10 00 00 00"],
  ["a delta that leaves 32 bits", 2, "80 06 01 01 fe ff ff ff 0f 00 00 00  22 06 7f ff"],
  ["a seq below 0", 1, "40 ac 02 ff ff 01"],
  // good entries first: none of them may stay in the table
  ["the example's delta, then junk", 2, "2c ac 02 30 e0 f6  20 07 01"],
  ["a new full entry for idx 300, then junk", 2, "80 ac 02 01 01 00 00 00 00  ff"],
];

test("malformed entries throw a DecodeError and leave the table as it was", () => {
  for (const [what, n, bytes] of MALFORMED) {
    const t = primed();
    assert.throws(() => t.decode(n, hex(bytes)), DecodeError, what);
    assert.throws(() => refDecode(new Map([[300n, { id: 1234n, seq: 7n, q: [672n, 0n, -144n, 384n] }]]), n, hex(bytes)), RefError, `the reference takes ${what}`);
    assertUntouched(t, what);
  }
  // The last short id there is, 2^20 - 1, is one.
  assert.equal(new CompactTable().decode(1, hex("80 ff ff 3f 01 01 00 00 00 00"))[0].id, 1);
  assert.throws(() => new CompactTable().decode(1, hex("80 80 80 40 01 01 00 00 00 00")), /past 2\^20/);
  // A delta on a short id whose full entry was raw: no baseline.
  const t = new CompactTable();
  t.decode(1, hex("c0 05 01 01 40 00 00 00 3f 80 00 00 c0 00 00 00 00 00 00 00"));
  assert.throws(() => t.decode(1, hex("20 05 01")), /raw/);
  // reset(): every short id forgotten.
  const r = primed();
  r.reset();
  assert.throws(() => r.decode(1, DELTA), /no full entry/);
});

test("fuzz: mutated messages either read as the reference reads them or throw a DecodeError", () => {
  const r = rng(7);
  let refused = 0;
  let read = 0;
  const history = [...crowd(11, 60, 12)];
  for (let round = 0; round < 3000; round++) {
    // A table and the reference in step up to a random tick, then a
    // mutated copy of the next one.
    const at = 1 + Math.floor(r() * (history.length - 1));
    const t = new CompactTable();
    const ref = new Map();
    for (const [n, b] of history.slice(0, at)) {
      t.decode(n, b);
      refDecode(ref, n, b);
    }
    const [n0, good] = history[at];
    const bytes = Uint8Array.from(good);
    let n = n0;
    const how = r();
    if (how < 0.4) bytes[Math.floor(r() * bytes.length)] ^= 1 << Math.floor(r() * 8);
    else if (how < 0.6) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
    else if (how < 0.75) n += r() < 0.5 ? 1 : -1;
    const cut = how >= 0.75 && how < 0.9 ? bytes.subarray(0, Math.floor(r() * bytes.length)) : bytes;
    const input = how >= 0.9 ? Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256)) : cut;
    let ours;
    try {
      ours = tuples(t.decode(Math.max(0, n), input));
    } catch (e) {
      assert.ok(e instanceof DecodeError, `not a DecodeError: ${e}`);
      refused++;
      // Unchanged: the good message reads on it as it did before.
      assert.deepEqual(tuples(t.decode(n0, good)), refDecode(ref, n0, good));
      continue;
    }
    read++;
    assertSame(ours, refDecode(ref, Math.max(0, n), input));
  }
  assert.ok(refused > 500 && read > 100, `${refused} refused, ${read} read`);
});

/** deepEqual, but for seqs past 2^53, which JavaScript numbers hold to
 * within their precision only (as MessagePack's uint64 does). */
function assertSame(ours, theirs) {
  assert.equal(ours.length, theirs.length);
  ours.forEach((e, k) => {
    const [seqA, seqB] = [e[1], theirs[k][1]];
    if (seqA > Number.MAX_SAFE_INTEGER || seqB > Number.MAX_SAFE_INTEGER)
      assert.ok(Math.abs(seqA - seqB) / seqB < 1e-12, `seq ${seqA} vs ${seqB}`);
    else assert.equal(seqA, seqB);
    assert.deepEqual([e[0], ...e.slice(2)], [theirs[k][0], ...theirs[k].slice(2)]);
  });
}

test("the writer refuses what cannot be written", () => {
  const w = new CompactWriter();
  assert.throws(() => w.full(COMPACT_IDX_MAX, 1, 1, { x: 0, y: 0, z: 0, yaw: 0 }), RangeError);
  assert.throws(() => w.full(1, 2 ** 53, 1, { x: 0, y: 0, z: 0, yaw: 0 }), RangeError);
  assert.throws(() => w.full(1, 1, -1, { x: 0, y: 0, z: 0, yaw: 0 }), RangeError);
  const a = quantize({ x: 0, y: 0, z: 0, yaw: 0 }, 1);
  assert.equal(w.delta(1, a, { ...a, seq: 2, x: 40000 }), false, "past 16 bits");
  assert.equal(w.count, 0);
  assert.equal(quantize({ x: 4e7, y: 0, z: 0, yaw: 0 }, 1), null);
  assert.equal(quantize({ x: NaN, y: 0, z: 0, yaw: 0 }, 1), null);
  // Ties round to even, as the server's nearbyint(): 0.5/64 -> 0, 1.5/64 -> 2.
  assert.equal(quantize({ x: 0.5 / 64, y: 1.5 / 64, z: -2.5 / 64, yaw: 0 }, 0).x, 0);
  assert.equal(quantize({ x: 0.5 / 64, y: 1.5 / 64, z: -2.5 / 64, yaw: 0 }, 0).y, 2);
  assert.equal(quantize({ x: 0.5 / 64, y: 1.5 / 64, z: -2.5 / 64, yaw: 0 }, 0).z, -2);
  // A whole message goes through MessagePack as a bin.
  const m = new CompactWriter();
  m.full(3, 9, 1, { x: 1, y: 2, z: 3, yaw: 0.25 });
  const wire = decode(encode([14, 5, m.count, m.bytes()]));
  assert.ok(wire[3] instanceof Uint8Array);
});
