/*
 * Compact positions: the entries of STATE_C (protocol 1.1), as
 * docs/protocol.md ("Compact positions (STATE_C)") defines them byte by
 * byte. A STATE_C is `[14, tick, n, entries]`, `entries` a bin of n
 * entries back to back; each is full (a short id bound to a member id,
 * its seq and position) or a delta against that short id's last entry.
 *
 * The reader (CompactTable) is what a client needs: one table per
 * connection, emptied at every ROOM. It takes a message whole or not at
 * all: an entry that cannot be read leaves the table as it was, and the
 * whole message is refused with a DecodeError. The writer (CompactWriter)
 * is the server's side, for tests and tools that play a server.
 */
import { DecodeError } from "./codec.js";
import type { Position, StateEntry } from "./messages.js";

/** Coordinates travel as round(v * 64): within 1/128 of the value. */
export const COMPACT_POS_SCALE = 64;
/** Yaw travels as round(yaw * 256): within 1/512 (0.11° in radians). */
export const COMPACT_YAW_SCALE = 256;
/** Short ids are below 2^20. */
export const COMPACT_IDX_MAX = 2 ** 20;

const H_FULL = 0x80;
const H_RAW = 0x40; // full entries
const H_SEQ = 0x40; // deltas
const H_WIDE = 0x02;
const AXIS_BITS = [0x20, 0x10, 0x08, 0x04] as const; // x, y, z, yaw
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A member's seq and its position quantised: x, y, z in 1/64 units,
 * yaw in 1/256; what a delta is taken from and leads to. */
export interface Quantised {
  seq: number;
  x: number;
  y: number;
  z: number;
  yaw: number;
}

/** nearbyint(): to the nearest, ties to even, as the server rounds. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** One value as the server quantises it (from the float32 it holds), or
 * null when it does not fit in 32 bits. */
function quant(v: number, scale: number): number | null {
  const q = roundEven(Math.fround(v) * scale);
  return q >= INT32_MIN && q <= INT32_MAX ? q : null;
}

/** A position with its seq, quantised; null when a value does not fit
 * (such a position travels raw). */
export function quantize(p: Position, seq: number): Quantised | null {
  const x = quant(p.x, COMPACT_POS_SCALE);
  const y = quant(p.y, COMPACT_POS_SCALE);
  const z = quant(p.z, COMPACT_POS_SCALE);
  const yaw = quant(p.yaw, COMPACT_YAW_SCALE);
  if (x === null || y === null || z === null || yaw === null) return null;
  return { seq, x, y, z, yaw };
}

/** The position a quantised one stands for. */
export function unquantize(q: Quantised): Position {
  return {
    x: q.x / COMPACT_POS_SCALE,
    y: q.y / COMPACT_POS_SCALE,
    z: q.z / COMPACT_POS_SCALE,
    yaw: q.yaw / COMPACT_YAW_SCALE,
  };
}

// ---- reading ------------------------------------------------------------

const bad = (why: string) => new DecodeError(`STATE_C: ${why}`);

/** A cursor over the entries' bytes; reading past the end throws. */
class Reader {
  i = 0;
  private readonly view: DataView;

  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  get done(): boolean {
    return this.i >= this.b.length;
  }

  u8(): number {
    if (this.i >= this.b.length) throw bad("the entries end early");
    return this.b[this.i++] as number;
  }

  /** LEB128, at most 10 bytes (a 64-bit value). Past 2^53 the number
   * loses its low bits, as MessagePack's uint64 does in JavaScript. */
  uvar(): number {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      const b = this.u8();
      // The tenth byte may carry only the top bit of a 64-bit value.
      if (k === 9 && b > 1) break;
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw bad("a varint longer than 64 bits");
  }

  /** A zigzag varint: 0, 1, 2, 3, 4 ... -> 0, -1, 1, -2, 2 ... */
  svar(): number {
    const u = this.uvar();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  fixed(n: 1 | 2 | 4): number {
    if (this.i + n > this.b.length) throw bad("the entries end early");
    const at = this.i;
    this.i += n;
    return n === 1 ? this.view.getInt8(at) : n === 2 ? this.view.getInt16(at) : this.view.getFloat32(at);
  }
}

/** What a short id stands for: the member, and the baseline of its
 * deltas (null after a raw full entry: no delta may follow it). */
interface Slot {
  readonly id: number;
  readonly q: Quantised | null;
}

/** A quantised value read from the wire, which must be a signed 32-bit one. */
function int32(v: number, what: string): number {
  if (v < INT32_MIN || v > INT32_MAX) throw bad(`${what} beyond 32 bits`);
  return v;
}

/**
 * One connection's table of short ids: what STATE_C is read against.
 * Empty it (reset) at every ROOM, and use a new one (or reset) on a new
 * connection.
 */
export class CompactTable {
  private slots = new Map<number, Slot>();

  /** Forgets every short id (a ROOM: the view starts over). */
  reset(): void {
    this.slots.clear();
  }

  /** How many short ids are bound. */
  get size(): number {
    return this.slots.size;
  }

  /**
   * The n entries of a STATE_C's `entries`, as STATE entries (positions
   * within 1/128 unit, yaw within 1/512, or exact when they came raw),
   * in order. Throws a DecodeError, the table unchanged, when the bytes
   * are not n entries this table can apply: cut short or with bytes
   * after them, a reserved bit set, a short id past 2^20, a member id
   * past 2^53, a delta on a short id without a quantised baseline, a
   * value that leaves 32 bits.
   */
  decode(n: number, bytes: Uint8Array): StateEntry[] {
    if (!Number.isSafeInteger(n) || n < 0) throw bad("n is not a count");
    // Every entry takes two bytes at least.
    if (n > bytes.length / 2) throw bad(`${n} entries cannot fit in ${bytes.length} bytes`);
    const r = new Reader(bytes);
    const changed = new Map<number, Slot>(); // applied only once all read
    const out: StateEntry[] = [];
    for (let k = 0; k < n; k++) {
      const head = r.u8();
      const idx = r.uvar();
      if (idx >= COMPACT_IDX_MAX) throw bad(`short id ${idx} past 2^20`);
      let slot: Slot;
      let pos: Position;
      let seq: number;
      if (head & H_FULL) {
        if (head & 0x3f) throw bad(`reserved bits set in a full entry's head 0x${head.toString(16)}`);
        const id = r.uvar();
        if (!Number.isSafeInteger(id)) throw bad(`member id past 2^53`);
        seq = r.uvar();
        if (head & H_RAW) {
          pos = { x: r.fixed(4), y: r.fixed(4), z: r.fixed(4), yaw: r.fixed(4) };
          slot = { id, q: null };
        } else {
          const q: Quantised = {
            seq,
            x: int32(r.svar(), "x"),
            y: int32(r.svar(), "y"),
            z: int32(r.svar(), "z"),
            yaw: int32(r.svar(), "yaw"),
          };
          pos = unquantize(q);
          slot = { id, q };
        }
      } else {
        if (head & 0x01) throw bad(`reserved bit 0 set in a delta's head 0x${head.toString(16)}`);
        const was = changed.get(idx) ?? this.slots.get(idx);
        if (!was) throw bad(`a delta on short id ${idx}, which no full entry named`);
        if (!was.q) throw bad(`a delta on short id ${idx}, whose full entry was raw`);
        const q = { ...was.q };
        q.seq += head & H_SEQ ? r.svar() : 1;
        if (q.seq < 0) throw bad(`short id ${idx}'s seq went below 0`);
        const width = head & H_WIDE ? 2 : 1;
        const keys = ["x", "y", "z", "yaw"] as const;
        for (let a = 0; a < 4; a++)
          if (head & (AXIS_BITS[a] as number)) {
            const key = keys[a] as (typeof keys)[number];
            q[key] = int32(q[key] + r.fixed(width), key);
          }
        seq = q.seq;
        pos = unquantize(q);
        slot = { id: was.id, q };
      }
      changed.set(idx, slot);
      out.push({ id: slot.id, seq, x: pos.x, y: pos.y, z: pos.z, yaw: pos.yaw });
    }
    if (!r.done) throw bad(`${bytes.length - r.i} bytes after the last entry`);
    for (const [idx, slot] of changed) this.slots.set(idx, slot);
    return out;
  }
}

// ---- writing ------------------------------------------------------------

/**
 * Writes the entries of a STATE_C as the server does: full entries that
 * bind short ids, and deltas against the previous entry of a short id.
 * `bytes()` is the bin; `[14, tick, writer.count, writer.bytes()]` the
 * message. For tests and tools that play a server.
 */
export class CompactWriter {
  private buf = new Uint8Array(64);
  private len = 0;
  /** Entries written. */
  count = 0;

  /** A full entry: member `id` at short id `idx`, with its seq and
   * position, quantised when it fits in 32 bits and raw float32s
   * otherwise. Returns the quantised baseline (null when raw). */
  full(idx: number, id: number, seq: number, p: Position): Quantised | null {
    checkIdx(idx);
    if (!Number.isSafeInteger(id) || id < 0) throw new RangeError("id must be a safe non-negative integer");
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError("seq must be a safe non-negative integer");
    const q = quantize(p, seq);
    this.byte(q ? H_FULL : H_FULL | H_RAW);
    this.uvar(idx);
    this.uvar(id);
    this.uvar(seq);
    if (q) for (const v of [q.x, q.y, q.z, q.yaw]) this.uvar(zigzag(v));
    else for (const v of [p.x, p.y, p.z, p.yaw]) this.f32(v);
    this.count++;
    return q;
  }

  /** A delta at short id `idx` from `from` (its previous entry) to
   * `to`; false, nothing written, when a value moved too far for 16 bits
   * (write a full entry instead). */
  delta(idx: number, from: Quantised, to: Quantised): boolean {
    checkIdx(idx);
    const d = [to.x - from.x, to.y - from.y, to.z - from.z, to.yaw - from.yaw];
    if (d.some((v) => v < -32768 || v > 32767)) return false;
    let head = 0;
    d.forEach((v, a) => {
      if (v !== 0) head |= AXIS_BITS[a] as number;
    });
    const wide = d.some((v) => v < -128 || v > 127);
    const dseq = to.seq - from.seq;
    if (!Number.isSafeInteger(dseq)) throw new RangeError("seq must be a safe integer");
    if (dseq !== 1) head |= H_SEQ;
    if (wide) head |= H_WIDE;
    this.byte(head);
    this.uvar(idx);
    if (dseq !== 1) this.uvar(zigzag(dseq));
    for (const v of d) {
      if (v === 0) continue;
      if (wide) {
        this.byte((v >> 8) & 0xff);
        this.byte(v & 0xff);
      } else this.byte(v & 0xff);
    }
    this.count++;
    return true;
  }

  /** The entries written so far (a copy). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  private byte(b: number): void {
    if (this.len === this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.len++] = b;
  }

  private uvar(v: number): void {
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  private f32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v);
    for (const x of b) this.byte(x);
  }
}

function checkIdx(idx: number): void {
  if (!Number.isInteger(idx) || idx < 0 || idx >= COMPACT_IDX_MAX)
    throw new RangeError("idx must be an integer in [0, 2^20)");
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}
