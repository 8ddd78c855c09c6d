/*
 * Smooth positions of other avatars. STATE arrives 20–60 times a second
 * with network jitter; drawing each one as it lands makes avatars stutter.
 * The Interpolator keeps a short history per avatar and answers "where was
 * it `delayMs` ago", interpolating between the two samples around that
 * moment: always a little in the past, never a guess. Samples are placed
 * at the time of the server's tick that produced them (TickClock), not
 * at their arrival: two STATEs that jitter bunched together are still
 * drawn one tick apart.
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
  /** The clock samples and render times are read from. */
  readonly now: () => number;
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
    if (last && t <= last.t) {
      // Not later than what is there (a JOINED stamped on arrival, then
      // its first STATE stamped at its tick): the newer word wins.
      while (track.length > 1 && (track[track.length - 1] as Sample).t >= t) track.pop();
      const end = track[track.length - 1] as Sample;
      if (end.t >= t) {
        track[track.length - 1] = { ...pos(p), t: end.t };
        return;
      }
    } else if (last && t - last.t > this.maxGapMs)
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
 * The local time of a server tick. STATE n leaves the server n ticks
 * after tick 0; it arrives after a network delay that varies. The clock
 * takes the smallest `arrival - n * tickMs` of the last `windowMs` (the
 * least delayed STATE is the best guess of the true offset; the larger
 * ones are jitter), so a lasting change of the delay is followed once
 * the window has passed, and starts over when the ticks jump (another
 * worker's or node's counter after a room change or a resume).
 */
export class TickClock {
  // (arrival, offset) pairs, offsets increasing: the front is the minimum.
  private window: Array<[number, number]> = [];

  constructor(
    private readonly tickMs: () => number,
    /** A jump larger than this is a new tick counter, not delay. */
    private readonly resyncMs = 1000,
    private readonly windowMs = 2000,
  ) {}

  /** Local time (on the clock `arrival` is read from) of tick `tick`. */
  at(tick: number, arrival: number): number {
    const base = tick * this.tickMs();
    const d = arrival - base;
    const w = this.window;
    const front = w[0];
    if (front && Math.abs(d - front[1]) > this.resyncMs) w.length = 0;
    while (w.length && (w[w.length - 1] as [number, number])[1] >= d) w.pop();
    w.push([arrival, d]);
    while ((w[0] as [number, number])[0] < arrival - this.windowMs) w.shift();
    return base + (w[0] as [number, number])[1];
  }

  reset(): void {
    this.window = [];
  }
}

/** What interpolate() needs of a client. */
interface Feed {
  readonly id: number;
  readonly tickHz: number;
  on: PlazaClient["on"];
}

/**
 * Feeds an Interpolator from a client: ROOM and JOINED place avatars,
 * STATE moves them (at the time of its tick), LEFT removes them. The
 * caller's own avatar is left out (use a Predictor for it). Returns a
 * function that detaches it.
 */
export function interpolate(client: Feed, interp: Interpolator): () => void {
  const clock = new TickClock(() => 1000 / (client.tickHz || 30));
  const offs = [
    client.on("room", (r) => {
      clock.reset(); // the ticks may come from another counter now
      if (!r.resumed) interp.clear();
      const here = new Set(r.members.map((m) => m.id));
      for (const id of interp.ids()) if (!here.has(id)) interp.remove(id);
      for (const m of r.members) if (m.id !== client.id) interp.push(m.id, m);
    }),
    client.on("joined", (m) => interp.push(m.id, m)),
    client.on("left", (l) => (l.self ? interp.clear() : interp.remove(l.id))),
    client.on("state", (s) => {
      const t = clock.at(s.tick, interp.now());
      for (const e of s.entries) if (e.id !== client.id) interp.push(e.id, e, t);
    }),
  ];
  return () => offs.forEach((off) => off());
}
