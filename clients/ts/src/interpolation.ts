/*
 * Smooth positions of other avatars. STATE arrives 20–60 times a second
 * with network jitter; drawing each one as it lands makes avatars stutter.
 * The Interpolator keeps a short history per avatar and answers "where was
 * it `delayMs` ago", interpolating between the two samples around that
 * moment: always a little in the past, never a guess.
 */
import type { PlazaClient } from "./client.js";
import type { Position } from "./messages.js";

export interface InterpolatorOptions {
  /** How far behind real time positions are drawn (default 100 ms). */
  delayMs?: number;
  /** After this long without a sample an avatar was standing still: its
   * next move glides from where it stood over one `tickMs` instead of
   * being spread over the whole pause (default 250 ms). */
  maxGapMs?: number;
  /** The server's tick in ms (default 33). */
  tickMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

interface Sample extends Position {
  t: number;
}

/** Shortest-way angle interpolation, so 359° -> 1° turns 2°, not 358°. */
function lerpAngle(a: number, b: number, f: number): number {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * f;
}

export class Interpolator {
  readonly delayMs: number;
  private readonly maxGapMs: number;
  private readonly tickMs: number;
  private readonly now: () => number;
  private readonly tracks = new Map<number, Sample[]>();

  constructor(o: InterpolatorOptions = {}) {
    this.delayMs = o.delayMs ?? 100;
    this.maxGapMs = o.maxGapMs ?? 250;
    this.tickMs = o.tickMs ?? 33;
    this.now =
      o.now ??
      (() =>
        typeof performance !== "undefined" ? performance.now() : Date.now());
  }

  /** Records where avatar `id` is at time `t` (default now). */
  push(id: number, p: Position, t: number = this.now()): void {
    let track = this.tracks.get(id);
    if (!track) {
      track = [];
      this.tracks.set(id, track);
    }
    const last = track[track.length - 1];
    if (last && t - last.t > this.maxGapMs)
      track.push({ ...pos(last), t: t - this.tickMs });
    track.push({ ...pos(p), t });
    // Keep what the render time can still reach, plus one sample before.
    const horizon = t - this.delayMs - 1000;
    while (track.length > 2 && (track[1] as Sample).t < horizon) track.shift();
  }

  /** Forgets an avatar (it left). */
  remove(id: number): void {
    this.tracks.delete(id);
  }

  clear(): void {
    this.tracks.clear();
  }

  ids(): number[] {
    return [...this.tracks.keys()];
  }

  /** Where avatar `id` is drawn at `renderNow` (default now), or undefined
   * for an unknown one. Before its first sample and after its last it
   * holds still. */
  sample(id: number, renderNow: number = this.now()): Position | undefined {
    const track = this.tracks.get(id);
    if (!track || track.length === 0) return undefined;
    const t = renderNow - this.delayMs;
    const first = track[0] as Sample;
    if (t <= first.t) return pos(first);
    for (let i = 1; i < track.length; i++) {
      const b = track[i] as Sample;
      if (t <= b.t) {
        const a = track[i - 1] as Sample;
        const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
        return {
          x: a.x + (b.x - a.x) * f,
          y: a.y + (b.y - a.y) * f,
          z: a.z + (b.z - a.z) * f,
          yaw: lerpAngle(a.yaw, b.yaw, f),
        };
      }
    }
    return pos(track[track.length - 1] as Sample);
  }
}

function pos(p: Position): Position {
  return { x: p.x, y: p.y, z: p.z, yaw: p.yaw };
}

/**
 * Feeds an Interpolator from a client: ROOM and JOINED place avatars,
 * STATE moves them, LEFT removes them. The caller's own avatar is left
 * out (use a Predictor for it). Returns a function that detaches it.
 */
export function interpolate(
  client: PlazaClient,
  interp: Interpolator,
): () => void {
  const offs = [
    client.on("room", (r) => {
      interp.clear();
      for (const m of r.members) if (m.id !== client.id) interp.push(m.id, m);
    }),
    client.on("joined", (m) => interp.push(m.id, m)),
    client.on("left", (l) => (l.self ? interp.clear() : interp.remove(l.id))),
    client.on("state", (s) => {
      for (const e of s.entries) if (e.id !== client.id) interp.push(e.id, e);
    }),
  ];
  return () => offs.forEach((off) => off());
}
