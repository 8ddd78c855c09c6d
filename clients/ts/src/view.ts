/*
 * VIEW (protocol 1.1): what the client wants of positions, kept across
 * sockets. The server keeps a VIEW for the session, on any node it
 * resumes on, but a fresh session (a refused resume) starts without one,
 * so the wanted view goes out after every WELCOME (the same VIEW again
 * changes nothing), and whenever the app changes it; only the latest
 * matters, so a radius slider dragged fast sends a few VIEWs, paced
 * under the rate the server gives VIEW with SET, SIGNAL and ROOM_SET.
 *
 * Also here: the table STATE_C is read against (one per socket, emptied
 * at every ROOM), and how AWAY and the STATEs that follow mark members
 * out of view and back.
 */
import type { Bucket } from "./bucket.js";
import { isMap } from "./codec.js";
import { CompactTable } from "./compact.js";
import { type RefusedError, refusedLocally } from "./errors.js";
import type { ClientMessage, Member, StateC, StateEntry } from "./messages.js";
import { ClientOp, ErrorCode } from "./protocol.js";

type Timer = ReturnType<typeof setTimeout>;

/** What connect()'s `view` and setView() take. */
export interface ViewOptions {
  /** Only the members within this horizontal (x, z) distance of the
   * client (they leave the view past 1.25 x it); 0 or absent: the whole
   * room. A finite number >= 0. */
  radius?: number;
  /** Positions as STATE_C (about 6 bytes a member instead of 31),
   * within 1/128 unit and 1/512 of yaw. Default false. */
  compact?: boolean;
}

/** A view as the client holds it (`client.view`); null: the whole room
 * as STATE, as without any VIEW. */
export interface View {
  readonly radius: number;
  readonly compact: boolean;
}

/** After a VIEW refused for the server's rate (ERROR 4), the wanted one
 * goes again this much later. */
const RATE_RETRY_MS = 1000;

const invalid = (why: string) => refusedLocally(ErrorCode.invalid_argument, why, ClientOp.View);

/** Checks view options as the server does; null for the whole room as
 * STATE. Throws a RefusedError (local, invalid_argument) for bad ones. */
export function checkView(v: ViewOptions | null | undefined): View | null {
  if (v == null) return null;
  if (!isMap(v)) throw invalid("a view is a plain object { radius, compact } (null: the whole room)");
  for (const k of Object.keys(v))
    if (k !== "radius" && k !== "compact")
      throw invalid(`unknown view option ${JSON.stringify(k)} (the options are radius and compact)`);
  const radius = v.radius ?? 0;
  if (typeof radius !== "number" || !Number.isFinite(radius) || radius < 0)
    throw invalid("radius must be a finite number >= 0 (0: the whole room)");
  const compact = v.compact ?? false;
  if (typeof compact !== "boolean") throw invalid("compact must be true or false");
  if (radius === 0 && !compact) return null;
  return { radius: radius + 0, compact }; // + 0: no -0 on the wire
}

/** The refusal of `v` by a server with `features` (null before any
 * WELCOME: not known yet). */
export function viewUnsupported(
  v: View | null,
  features: ReadonlySet<string> | null,
): RefusedError | null {
  if (!v || !features) return null;
  const lacking = (v.compact ? ["view", "compact"] : ["view"]).find((f) => !features.has(f));
  return lacking
    ? refusedLocally(ErrorCode.unknown_op, `the server does not offer "${lacking}" (protocol 1.1)`, ClientOp.View)
    : null;
}

const same = (a: View | null, b: View | null) =>
  a === b || (a !== null && b !== null && a.radius === b.radius && a.compact === b.compact);

/** What the channel asks of the client. */
export interface ViewHost {
  /** WELCOME came on the current socket, and it is open. */
  ready(): boolean;
  /** The features of the last WELCOME; null before the first. */
  features(): ReadonlySet<string> | null;
  send(m: ClientMessage): void;
}

export class ViewChannel {
  /** The view the app wants. */
  wish: View | null;
  private sent: View | null | undefined = undefined; // on this socket (undefined: nothing yet)
  private before: View | null = null; // what went before `sent` on this socket
  private held = false; // the session may hold a VIEW with options on the server
  private timer: Timer | null = null;
  private readonly table = new CompactTable();

  constructor(
    private readonly host: ViewHost,
    private readonly bucket: Bucket,
    initial: View | null,
  ) {
    this.wish = initial;
  }

  /** Positions come only from within a radius: members not carried are
   * out of view. Not from a server without views (a reconnect that
   * landed on one), which sends the whole room. */
  get filtering(): boolean {
    const f = this.host.features();
    return (this.wish?.radius ?? 0) > 0 && (f === null || f.has("view"));
  }

  /** The app's new view: sent when the rate allows (the latest wins).
   * Throws when the server said it has no VIEW. */
  set(v: View | null): void {
    const no = viewUnsupported(v, this.host.features());
    if (no) throw no;
    this.wish = v;
    this.pump();
  }

  /** A WELCOME: a new socket, and a new session unless `resumed`. */
  welcomed(resumed: boolean): void {
    this.socketLost();
    if (!resumed) this.held = false;
    this.before = null;
    this.pump();
  }

  private pump(): void {
    if (!this.host.ready() || this.timer) return;
    if (!this.host.features()?.has("view")) return;
    const want = this.wish;
    if (this.sent !== undefined ? same(this.sent, want) : want === null && !this.held) return;
    if (viewUnsupported(want, this.host.features())) return;
    this.timer = this.bucket.takeOrRetry(() => {
      this.timer = null;
      this.pump();
    });
    if (this.timer) return;
    this.host.send({ op: ClientOp.View, radius: want?.radius ?? 0, compact: want?.compact ?? false });
    this.before = this.sent ?? null;
    this.sent = want;
    this.held = want !== null;
  }

  /** An ERROR to a VIEW. For the server's rate (4), the wanted view goes
   * again a little later; any other refusal (6: plaza refuses only what
   * checkView() refuses too) drops it: the server keeps the one before,
   * and so does the client. */
  refused(code: number): void {
    if (code === ErrorCode.rate_limited) {
      this.sent = undefined;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, RATE_RETRY_MS);
      return;
    }
    if (this.sent === undefined) return; // from a socket gone since
    const refused = this.sent;
    this.sent = this.before;
    this.held = this.before !== null;
    if (same(this.wish, refused)) this.wish = this.before;
    else this.pump(); // a newer view waits: it goes
  }

  /** The entries of a STATE_C, read against this socket's table. Throws
   * a DecodeError (the table unchanged) when they cannot be read. */
  decode(m: StateC): StateEntry[] {
    return this.table.decode(m.n, m.entries);
  }

  /** A ROOM: a view starts over, and so do the short ids. */
  roomArrived(): void {
    this.table.reset();
  }

  /** The socket is gone: its short ids and what went on it with it. */
  socketLost(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.sent = undefined;
    this.table.reset();
  }

  close(): void {
    this.socketLost();
  }
}

// ---- members in and out of view --------------------------------------------

/** The member, marked out of view. */
export function outOfView<S extends object>(m: Member<S>): Member<S> {
  return m.outOfView ? m : { ...m, outOfView: true };
}

/** The member, in view. */
export function inView<S extends object>(m: Member<S>): Member<S> {
  if (!m.outOfView) return m;
  const { outOfView: _gone, ...rest } = m;
  return rest;
}

/** `members` with each of `ids` but `self` marked out of view: the new
 * map and the members that changed, or null when none did. */
export function markOutOfView<S extends object>(
  members: ReadonlyMap<number, Member<S>>,
  ids: Iterable<number>,
  self: number,
): { members: Map<number, Member<S>>; changed: Member<S>[] } | null {
  let next: Map<number, Member<S>> | null = null;
  const changed: Member<S>[] = [];
  for (const id of ids) {
    const m = (next ?? members).get(id);
    if (!m || id === self || m.outOfView) continue;
    next ??= new Map(members);
    const away = outOfView(m);
    next.set(id, away);
    changed.push(away);
  }
  return next ? { members: next, changed } : null;
}

/** `members` with every flag gone (the view is the whole room again), or
 * null when none had one. */
export function allInView<S extends object>(
  members: ReadonlyMap<number, Member<S>>,
): Map<number, Member<S>> | null {
  if (![...members.values()].some((m) => m.outOfView)) return null;
  return new Map([...members].map(([id, m]) => [id, inView(m)]));
}
