/*
 * What the demo's avatars do besides walking, on protocol 1.1: a colour
 * (member state, so late joiners see it), emotes (SIGNAL: wave, dance,
 * heart, shown over the avatar for a moment; nothing kept), and one seat
 * in the room that anyone can take (room state, compare-and-set, so two
 * cannot take it at once). Everything the others send is checked before
 * it is drawn: the types below are what this page sends, not a promise
 * about what arrives.
 */
import { ConflictError, type PlazaClient, type Position } from "../src/index.js";

export const EMOTES = ["wave", "dance", "heart"] as const;
export type Emote = (typeof EMOTES)[number];

export interface DemoState {
  color: string;
}
export interface DemoSignals {
  emote: { type: Emote };
}
export interface DemoRoom {
  seat: { id: number; name: string };
}
export type DemoClient = PlazaClient<DemoState, DemoSignals, DemoRoom>;

/** Avatar colours: each at 3:1 or more against the page's background. */
export const COLORS: ReadonlyArray<readonly [string, string]> = [
  ["blue", "#3aa0e8"],
  ["green", "#4cc27a"],
  ["orange", "#f0a03c"],
  ["pink", "#e86fb4"],
  ["violet", "#a98bf5"],
  ["yellow", "#e6d44c"],
];

const COLOR = /^#[0-9a-f]{6}$/;
const EMOTE_MS = 2500;

/** Where the seat stands in the room. */
export const SEAT: Position = { x: 0, y: 0, z: -6, yaw: 0 };

/** A colour for a name, so a page starts with one without asking. */
export function colorFor(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return (COLORS[h % COLORS.length] as readonly [string, string])[1];
}

/** A member's colour as the others set it, when it is one of ours. */
export function colorOf(state: Readonly<Partial<DemoState>>): string | undefined {
  const c = state.color;
  return typeof c === "string" && COLOR.test(c) ? c : undefined;
}

export function isEmote(v: unknown): v is Emote {
  return typeof v === "string" && (EMOTES as readonly string[]).includes(v);
}

/** Emotes on show: member id -> which, and until when (ms). */
export class Emotes {
  private shown = new Map<number, { type: Emote; until: number }>();

  show(id: number, type: Emote, now = performance.now()): void {
    this.shown.set(id, { type, until: now + EMOTE_MS });
  }

  /** The emote over member `id` now, if any. */
  of(id: number, now = performance.now()): Emote | undefined {
    const e = this.shown.get(id);
    if (!e) return undefined;
    if (e.until > now) return e.type;
    this.shown.delete(id);
    return undefined;
  }
}

/** The seat's holder as the room state says, when it is one of ours. */
export function seatHolder(c: DemoClient): { id: number; name: string } | null {
  const v = c.roomState.get("seat")?.value as unknown;
  if (typeof v !== "object" || v === null) return null;
  const { id, name } = v as { id?: unknown; name?: unknown };
  return typeof id === "number" && typeof name === "string" ? { id, name } : null;
}

/** Whether the seat can be taken: free, or held by someone no longer in
 * the room (a holder who left does not keep it for ever). */
export function seatFree(c: DemoClient): boolean {
  const h = seatHolder(c);
  return h === null || !c.members.has(h.id);
}

/**
 * Takes the seat, or gives it up when held. Compare-and-set on the
 * version this page last saw: if another page changed it first, the set
 * is refused (ConflictError) and nothing changes. Resolves with what to
 * tell the user.
 */
export async function toggleSeat(c: DemoClient): Promise<string> {
  const entry = c.roomState.get("seat");
  const ifVersion = entry?.version ?? 0;
  const mine = seatHolder(c)?.id === c.id;
  if (!mine && !seatFree(c)) return `the seat is taken by ${seatHolder(c)?.name}`;
  try {
    if (mine) {
      await c.setRoomState("seat", null, { ifVersion });
      return "you left the seat";
    }
    await c.setRoomState("seat", { id: c.id, name: c.self?.name ?? "you" }, { ifVersion });
    return "you took the seat";
  } catch (e) {
    if (e instanceof ConflictError) {
      const h = seatHolder(c);
      return h ? `${h.name} took the seat first` : "the seat changed first: try again";
    }
    return `the seat: ${(e as Error).message}`;
  }
}

/**
 * Where a joiner appears: the first point of a spiral out from the
 * origin that is at least `gap` from every other member and from the
 * seat, so that people joining one after another do not stand on each
 * other.
 */
export function spawnPoint(others: Iterable<Position>, gap = 2.5): Position {
  const taken = [...others, SEAT];
  for (let k = 0; k < 400; k++) {
    const r = 2 * Math.sqrt(k);
    const a = k * 2.39996323; // the golden angle: points spread evenly
    const p = { x: r * Math.cos(a), y: 0, z: r * Math.sin(a), yaw: 0 };
    if (taken.every((o) => Math.hypot(o.x - p.x, o.z - p.z) >= gap)) return p;
  }
  return { x: 0, y: 0, z: 0, yaw: 0 };
}
