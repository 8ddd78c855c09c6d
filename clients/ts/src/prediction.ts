/*
 * The caller's own avatar, predicted. Waiting a round trip for the server
 * before moving feels sluggish, so the client moves at once and sends the
 * result. The server answers in STATE with its position and the last seq
 * it applied; the Predictor takes that position as the truth and replays
 * the steps the server has not seen yet on top of it. Normally that lands
 * where the prediction already was; after a refused move (ERROR 11) the
 * server's position wins and the avatar snaps back to where it may be.
 */
import type { AnyPlazaClient } from "./client.js";
import type { Position, StateEntry } from "./messages.js";
import { ErrorCode } from "./protocol.js";

/** A change of position, as input handling produces it. */
export interface Step {
  dx?: number;
  dy?: number;
  dz?: number;
  /** Turn in radians. */
  dyaw?: number;
}

interface Unacked {
  seq: number;
  step: Step;
}

export class Predictor {
  /** Where the caller's avatar is drawn. */
  position: Position = { x: 0, y: 0, z: 0, yaw: 0 };
  /** How many STATEs corrected the prediction (refused moves, mostly). */
  corrections = 0;
  /** How many moves the server refused (ERROR 11). */
  rejected = 0;
  private unacked: Unacked[] = [];
  private readonly client: AnyPlazaClient;
  private readonly offs: Array<() => void>;

  constructor(client: AnyPlazaClient) {
    this.client = client;
    this.offs = [
      client.on("room", (r) => {
        // A resumed session kept its place, and the moves made while the
        // socket was down are still on their way: keep predicting, the
        // next STATE reconciles.
        if (r.resumed) return;
        const me = r.members.find((m) => m.id === client.id);
        if (me) this.reset(me);
      }),
      client.on("state", (s) => {
        const me = s.entries.find((e) => e.id === client.id);
        if (me) this.reconcile(me, s.compact === true);
      }),
      client.on("error", (e) => {
        if (e.code === ErrorCode.move_rejected) this.rejected++;
      }),
    ];
  }

  /** Puts the avatar at p and forgets unacknowledged steps. */
  reset(p: Position): void {
    this.position = { x: p.x, y: p.y, z: p.z, yaw: p.yaw };
    this.unacked = [];
  }

  /** Applies a step locally and sends the resulting position. */
  step(s: Step): Position {
    this.position = apply(this.position, s);
    const seq = this.client.move(this.position);
    this.unacked.push({ seq, step: s });
    return this.position;
  }

  /** The server's word on our avatar: its position after move `seq`.
   * A `compact` one (STATE_C) is that position quantised: where it is
   * within the quantisation of the prediction, the prediction (what was
   * sent, exactly) stands. */
  reconcile(e: StateEntry, compact = false): void {
    this.unacked = this.unacked.filter((u) => u.seq > e.seq);
    let p: Position = { x: e.x, y: e.y, z: e.z, yaw: e.yaw };
    for (const u of this.unacked) p = apply(p, u.step);
    if (compact && withinQuantum(p, this.position)) return;
    const off = Math.hypot(
      p.x - this.position.x,
      p.y - this.position.y,
      p.z - this.position.z,
    );
    // float32 on the wire: differences below a millimetre are rounding.
    if (off > 1e-3) this.corrections++;
    this.position = p;
  }

  /** Steps sent and not yet acknowledged by a STATE. */
  get pending(): number {
    return this.unacked.length;
  }

  detach(): void {
    this.offs.forEach((off) => off());
  }
}

// Half a step of STATE_C's quantisation (1/64 unit, 1/256 of yaw), and
// float32's rounding of what was sent on top.
const POS_QUANTUM = 1 / 128 + 1e-3;
const YAW_QUANTUM = 1 / 512 + 1e-4;

function withinQuantum(a: Position, b: Position): boolean {
  return (
    Math.abs(a.x - b.x) <= POS_QUANTUM &&
    Math.abs(a.y - b.y) <= POS_QUANTUM &&
    Math.abs(a.z - b.z) <= POS_QUANTUM &&
    Math.abs(a.yaw - b.yaw) <= YAW_QUANTUM
  );
}

function apply(p: Position, s: Step): Position {
  return {
    x: p.x + (s.dx ?? 0),
    y: p.y + (s.dy ?? 0),
    z: p.z + (s.dz ?? 0),
    yaw: p.yaw + (s.dyaw ?? 0),
  };
}
