/*
 * What protocol 1.1 adds on the way out: member state (SET), signals
 * (SIGNAL) and room state (ROOM_SET), sent in the order the app made
 * them, paced under the one rate the server gives the three
 * (--app-rate), and carried across dropped sockets.
 *
 * Member state. `state` is the state the app wants; a patch changes it at
 * once and goes out as a SET. The server says nothing about a SET outside
 * a room, and in a room echoes it (MEMBER, to the sender too), so a SET
 * is settled by its echo when a room will hear it and once sent
 * otherwise; an ERROR to a SET refuses the oldest one waiting for its
 * echo. Every HELLO carries `state`: the server uses it only for a new
 * session, so a resume refused after an outage starts from where the app
 * was. What the server holds is seen only in a ROOM (the session's own
 * entry), so each ROOM is where the two are brought together: the keys
 * that differ (SETs lost with a socket, or made outside a room and
 * refused unseen) go out again as one SET. Where the client cannot know
 * which of its patches the server refused (outside a room), or when the
 * page restored a session it did not make, it takes the ROOM's state as
 * the truth instead (`doubt`), with what it has not sent yet on top.
 *
 * Room state. A set is settled by the ROOM_STATE its session set (by_id
 * and key) or by the ERROR to it (ERROR 12 names the key). One whose
 * socket dropped before the answer is settled from the room's state in
 * the next ROOM of that room: a compare-and-set whose key still has the
 * version it named was not applied and goes again; one whose key holds
 * its value at a later version was applied (its version is that one);
 * anything else is a conflict. A set without a version goes again.
 *
 * Signals are acknowledged by nothing (like whispers): sent is done.
 */
import { encode } from "@msgpack/msgpack";
import type { Bucket } from "./bucket.js";
import { isMap } from "./codec.js";
import {
  CancelledError,
  ConflictError,
  type PlazaError,
  refused,
  refusedLocally,
  TimeoutError,
} from "./errors.js";
import type {
  ClientMessage,
  ErrorMessage,
  RoomStateMap,
  StatePatch,
  StateShape,
} from "./messages.js";
import { handled } from "./outbox.js";
import { ClientOp, ErrorCode } from "./protocol.js";

type Timer = ReturnType<typeof setTimeout>;

/** What the channel asks of the client. */
export interface AppHost {
  /** In step with the server: what waits may go. */
  canSend(): boolean;
  /** The room the session will be in once what was sent is answered. */
  target(): string | null;
  /** The features of the last WELCOME; null before the first. */
  features(): ReadonlySet<string> | null;
  /** The session's own state as the server last said it, in a room. */
  selfState(): StateShape | undefined;
  send(m: ClientMessage): void;
}

/** The server's size limits, as ConnectOptions.limits gives them. */
export interface AppLimits {
  memberStateMax: number;
  signalMax: number;
  roomValueMax: number;
}

/** At most this many sets and signals wait to go out (an outage, or an
 * app sending faster than the server's rate); beyond, the call is
 * refused at once. */
export const APP_QUEUE_MAX = 256;

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface SetItem {
  op: ClientOp.Set;
  patch: Record<string, unknown>;
  waiters: Waiter[];
}

interface SignalItem {
  op: ClientOp.Signal;
  to: number | null;
  kind: string;
  data: unknown;
  room: string | null; // a room signal's room
  waiter: Waiter;
}

interface RoomSetItem {
  op: ClientOp.RoomSet;
  key: string;
  value: unknown;
  ifVersion: number | undefined;
  room: string;
  waiter: Waiter;
  timer: Timer | null;
}

type Item = SetItem | SignalItem | RoomSetItem;

/** A SET sent where a room hears it: its MEMBER echo is awaited. */
interface Echo {
  patch: Record<string, unknown>;
  waiters: Waiter[];
  timer: Timer | null;
}

const utf8 = new TextEncoder();
const bytes = (s: string) => utf8.encode(s).length;

/** The encoded size of a value, or -1 when it cannot be encoded. */
function encodedSize(v: unknown): number {
  try {
    return encode(v).length;
  } catch {
    return -1;
  }
}

/** Two app values are the same when they encode to the same bytes. */
function same(a: unknown, b: unknown): boolean {
  try {
    const x = encode(a);
    const y = encode(b);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  } catch {
    return false;
  }
}

/** `state` with `patch` applied: named keys replaced, null deletes. */
export function applyPatch(
  state: Readonly<Record<string, unknown>>,
  patch: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const next: Record<string, unknown> = { ...state };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || v === undefined) delete next[k];
    else next[k] = v;
  }
  return next;
}

export class AppChannel {
  /** The member state the app wants (a new object at each change). */
  state: Readonly<StateShape>;
  private queue: Item[] = [];
  private echoes: Echo[] = [];
  private roomSets: RoomSetItem[] = [];
  private lostSets: Waiter[] = [];
  private lostRoomSets: RoomSetItem[] = [];
  private doubt: boolean;
  private helloRefused = false;
  private pumpTimer: Timer | null = null;

  constructor(
    private readonly host: AppHost,
    private readonly bucket: Bucket,
    private readonly timeoutMs: number,
    private readonly limits: AppLimits,
    initial: StateShape,
    restored: boolean,
  ) {
    this.state = applyPatch({}, initial);
    // A session restored from storage holds the state it had: the ROOM
    // says what it is, and the page's initial state goes on top.
    this.doubt = restored;
    if (restored && Object.keys(this.state).length)
      this.queue.push({ op: ClientOp.Set, patch: { ...this.state }, waiters: [] });
  }

  /** HELLO's state: the state wanted, unless a HELLO carrying it was
   * refused (a server with a smaller --member-state-max). */
  helloState(): StateShape | undefined {
    if (this.helloRefused || Object.keys(this.state).length === 0) return undefined;
    return this.state;
  }

  // ---- the calls --------------------------------------------------------

  setState(patch: StatePatch): Promise<void> {
    const bad = this.unsupported("state", ClientOp.Set);
    if (bad) return handled(Promise.reject(bad));
    if (!isMap(patch))
      return this.refuse(ErrorCode.bad_message, "a state patch is a plain object", ClientOp.Set);
    for (const k of Object.keys(patch)) {
      const n = bytes(k);
      if (n < 1 || n > 32 || k === "__proto__")
        return this.refuse(ErrorCode.invalid_argument, `state key ${JSON.stringify(k)}: 1-32 bytes of UTF-8`, ClientOp.Set);
    }
    const next = applyPatch(this.state, patch);
    const size = encodedSize(next);
    if (size < 0)
      return this.refuse(ErrorCode.invalid_argument, "state values must be MessagePack values", ClientOp.Set);
    if (size > this.limits.memberStateMax)
      return this.refuse(
        ErrorCode.invalid_argument,
        `the state would take ${size} bytes, over ${this.limits.memberStateMax}`,
        ClientOp.Set,
      );
    const pending = this.pendingSet();
    if (!pending && this.queue.length >= APP_QUEUE_MAX) return this.full(ClientOp.Set);
    this.state = next;
    const p = new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve: () => resolve(), reject };
      if (pending) {
        Object.assign(pending.patch, nullsFor(patch));
        pending.waiters.push(w);
      } else {
        this.queue.push({ op: ClientOp.Set, patch: nullsFor(patch), waiters: [w] });
      }
    });
    this.pump();
    return handled(p);
  }

  signal(kind: string, data: unknown, to: number | null | undefined): Promise<void> {
    const bad = this.unsupported("signal", ClientOp.Signal);
    if (bad) return handled(Promise.reject(bad));
    const n = typeof kind === "string" ? bytes(kind) : 0;
    if (n < 1 || n > 32)
      return this.refuse(ErrorCode.invalid_argument, "kind must be 1-32 bytes of UTF-8", ClientOp.Signal);
    if (to != null && (!Number.isSafeInteger(to) || to < 0))
      return this.refuse(ErrorCode.invalid_argument, "to must be a session id", ClientOp.Signal);
    const size = encodedSize(data ?? null);
    if (size < 0 || size > this.limits.signalMax)
      return this.refuse(
        ErrorCode.invalid_argument,
        size < 0 ? "data must be a MessagePack value" : `data takes ${size} bytes, over ${this.limits.signalMax}`,
        ClientOp.Signal,
      );
    const room = to == null ? this.host.target() : null;
    if (to == null && room === null)
      return this.refuse(ErrorCode.not_in_room, "a signal to the room outside a room", ClientOp.Signal);
    if (this.queue.length >= APP_QUEUE_MAX) return this.full(ClientOp.Signal);
    const p = new Promise<void>((resolve, reject) => {
      this.queue.push({
        op: ClientOp.Signal,
        to: to ?? null,
        kind,
        data: data ?? null,
        room,
        waiter: { resolve: () => resolve(), reject },
      });
    });
    this.pump();
    return handled(p);
  }

  setRoomState(key: string, value: unknown, ifVersion: number | undefined): Promise<number> {
    const bad = this.unsupported("room_state", ClientOp.RoomSet);
    if (bad) return Promise.reject(bad);
    const n = typeof key === "string" ? bytes(key) : 0;
    if (n < 1 || n > 64 || key === "__proto__")
      return Promise.reject(
        refusedLocally(ErrorCode.invalid_argument, "key must be 1-64 bytes of UTF-8", ClientOp.RoomSet),
      );
    if (ifVersion !== undefined && (!Number.isSafeInteger(ifVersion) || ifVersion < 0))
      return Promise.reject(
        refusedLocally(ErrorCode.invalid_argument, "ifVersion must be a version (0: absent)", ClientOp.RoomSet),
      );
    const size = encodedSize(value ?? null);
    if (size < 0 || size > this.limits.roomValueMax)
      return Promise.reject(
        refusedLocally(
          ErrorCode.invalid_argument,
          size < 0 ? "value must be a MessagePack value" : `value takes ${size} bytes, over ${this.limits.roomValueMax}`,
          ClientOp.RoomSet,
        ),
      );
    const room = this.host.target();
    if (room === null)
      return Promise.reject(refusedLocally(ErrorCode.not_in_room, "room state outside a room", ClientOp.RoomSet));
    if (this.queue.length >= APP_QUEUE_MAX) {
      const e = refusedLocally(ErrorCode.rate_limited, "too many sets and signals waiting to go out", ClientOp.RoomSet);
      return Promise.reject(e);
    }
    const p = new Promise<number>((resolve, reject) => {
      this.queue.push({
        op: ClientOp.RoomSet,
        key,
        value: value ?? null,
        ifVersion,
        room,
        waiter: { resolve: (v) => resolve(v as number), reject },
        timer: null,
      });
    });
    this.pump();
    return p;
  }

  // ---- going out ----------------------------------------------------------

  /** Sends what waits, as the rate allows. */
  flush(): void {
    this.pump();
  }

  private pump(): void {
    if (!this.host.canSend() || this.pumpTimer) return;
    while (this.queue.length) {
      const m = this.queue[0] as Item;
      if (m.op !== ClientOp.Set && m.room !== null && m.room !== this.host.target()) {
        this.queue.shift();
        m.waiter.reject(
          new CancelledError("room_changed", `${opName(m.op)} for ${m.room}: the client left that room before it went out`),
        );
        continue;
      }
      this.pumpTimer = this.bucket.takeOrRetry(() => {
        this.pumpTimer = null;
        this.pump();
      });
      if (this.pumpTimer) return;
      this.queue.shift();
      this.send(m);
    }
  }

  private send(m: Item): void {
    switch (m.op) {
      case ClientOp.Set:
        this.host.send({ op: ClientOp.Set, patch: m.patch });
        if (this.host.target() === null) {
          // Outside a room the server applies it silently.
          for (const w of m.waiters) w.resolve(undefined);
          return;
        }
        this.echoes.push(this.timed({ patch: m.patch, waiters: m.waiters, timer: null }, "state"));
        return;
      case ClientOp.Signal:
        this.host.send({ op: ClientOp.Signal, to: m.to, kind: m.kind, data: m.data });
        m.waiter.resolve(undefined);
        return;
      case ClientOp.RoomSet:
        this.host.send({
          op: ClientOp.RoomSet,
          key: m.key,
          value: m.value,
          ...(m.ifVersion === undefined ? {} : { ifVersion: m.ifVersion }),
        });
        this.roomSets.push(m);
        this.timedRoomSet(m);
    }
  }

  private timed(e: Echo, what: string): Echo {
    e.timer = setTimeout(() => {
      this.echoes = this.echoes.filter((x) => x !== e);
      for (const w of e.waiters) w.reject(new TimeoutError(what, this.timeoutMs));
    }, this.timeoutMs);
    return e;
  }

  private timedRoomSet(m: RoomSetItem): void {
    m.timer = setTimeout(() => {
      this.roomSets = this.roomSets.filter((x) => x !== m);
      m.waiter.reject(new TimeoutError(`room state ${m.key}`, this.timeoutMs));
    }, this.timeoutMs);
  }

  // ---- what the server says -----------------------------------------------

  /** MEMBER for this session: the oldest SET awaiting its echo got there. */
  echoed(): void {
    const e = this.echoes.shift();
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    for (const w of e.waiters) w.resolve(undefined);
  }

  /** ROOM_STATE set by this session: the first set of that key is done. */
  roomStateSet(key: string, version: number): void {
    const i = this.roomSets.findIndex((r) => r.key === key);
    if (i < 0) return;
    const [r] = this.roomSets.splice(i, 1) as [RoomSetItem];
    if (r.timer) clearTimeout(r.timer);
    r.waiter.resolve(version);
  }

  /** An ERROR to a SET, SIGNAL or ROOM_SET (the `error` event tells the
   * app either way). */
  refused(m: ErrorMessage): void {
    if (m.requestOp === ClientOp.Set) {
      const e = this.echoes.shift();
      if (!e) {
        // A SET the server applies silently (outside a room) was refused:
        // which one is not known. The next ROOM says what the state is.
        this.doubt = true;
        return;
      }
      if (e.timer) clearTimeout(e.timer);
      this.revert(e.patch);
      for (const w of e.waiters) w.reject(refused(m));
    } else if (m.requestOp === ClientOp.RoomSet) {
      const i =
        m.code === ErrorCode.conflict && m.key !== undefined
          ? this.roomSets.findIndex((r) => r.key === m.key)
          : 0;
      const r = this.roomSets[i];
      if (!r) return;
      this.roomSets.splice(i, 1);
      if (r.timer) clearTimeout(r.timer);
      r.waiter.reject(refused(m));
    } else if (m.requestOp === ClientOp.Hello && (m.code === ErrorCode.invalid_argument || m.code === ErrorCode.bad_message)) {
      // A reconnect's HELLO refused for its state (the server's limit is
      // below the client's): the next one goes without, and the ROOM says
      // what the server holds.
      this.helloRefused = true;
      this.doubt = true;
    }
  }

  /** A refused SET's keys go back to what the server holds, unless a
   * later patch (sent or waiting) names them again. */
  private revert(patch: Record<string, unknown>): void {
    const later = new Set<string>();
    for (const e of this.echoes) for (const k of Object.keys(e.patch)) later.add(k);
    const pending = this.pendingSet();
    if (pending) for (const k of Object.keys(pending.patch)) later.add(k);
    const server = this.host.selfState() ?? {};
    const back: Record<string, unknown> = {};
    for (const k of Object.keys(patch))
      if (!later.has(k)) back[k] = Object.hasOwn(server, k) ? server[k] : null;
    this.state = applyPatch(this.state, back);
  }

  /** A ROOM of `room`: `self` is the session's state there (undefined
   * when the ROOM does not list it), `roomState` the room's. */
  roomArrived(room: string, self: StateShape | undefined, roomState: RoomStateMap): void {
    if (self && this.host.features()?.has("state")) {
      const sent = new Set<string>();
      for (const e of this.echoes) for (const k of Object.keys(e.patch)) sent.add(k);
      if (this.doubt) {
        let s = applyPatch({}, self);
        for (const e of this.echoes) s = applyPatch(s, e.patch);
        const pending = this.pendingSet();
        if (pending) s = applyPatch(s, pending.patch);
        this.state = s;
        this.doubt = false;
        this.helloRefused = false;
      } else {
        // What the server lacks, but for what is on its way (SETs sent
        // after the JOIN this ROOM answers: their echoes follow it).
        const fix: Record<string, unknown> = {};
        for (const k of Object.keys(this.state))
          if (!sent.has(k) && (!Object.hasOwn(self, k) || !same(self[k], this.state[k])))
            fix[k] = this.state[k];
        for (const k of Object.keys(self))
          if (!sent.has(k) && !Object.hasOwn(this.state, k)) fix[k] = null;
        if (Object.keys(fix).length) {
          const pending = this.pendingSet();
          if (pending) Object.assign(pending.patch, fix);
          else this.queue.unshift({ op: ClientOp.Set, patch: fix, waiters: [] });
        }
      }
    }
    // SETs whose socket went: done with the SET that now goes, or now.
    const lost = this.lostSets.splice(0);
    const pending = this.pendingSet();
    if (pending) pending.waiters.push(...lost);
    else for (const w of lost) w.resolve(undefined);
    this.settleLostRoomSets(room, roomState);
  }

  private settleLostRoomSets(room: string, roomState: RoomStateMap): void {
    const again: RoomSetItem[] = [];
    for (const r of this.lostRoomSets.splice(0)) {
      if (r.room !== room) {
        r.waiter.reject(new CancelledError("room_changed", `room state ${r.key} of ${r.room}: the session is no longer in that room`));
        continue;
      }
      const e = roomState.get(r.key);
      const version = e?.version ?? 0;
      if (r.ifVersion === undefined || version === r.ifVersion) again.push(r);
      else if (same(e ? e.value : null, r.value) && (e === undefined || version > r.ifVersion))
        r.waiter.resolve(e ? version : r.ifVersion + 1);
      else
        r.waiter.reject(
          new ConflictError(r.key, version, "conflict: the key changed while the connection was down"),
        );
    }
    this.queue.unshift(...again);
  }

  /** The session is out of its room: SETs sent meanwhile were applied
   * silently (their echoes will not come). */
  roomLeft(): void {
    for (const e of this.echoes.splice(0)) {
      if (e.timer) clearTimeout(e.timer);
      for (const w of e.waiters) w.resolve(undefined);
    }
  }

  /** The socket dropped: what waited for an answer waits for the next
   * ROOM (or the end of the sync). */
  socketLost(): void {
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    for (const e of this.echoes.splice(0)) {
      if (e.timer) clearTimeout(e.timer);
      this.lostSets.push(...e.waiters);
    }
    for (const r of this.roomSets.splice(0)) {
      if (r.timer) clearTimeout(r.timer);
      r.timer = null;
      this.lostRoomSets.push(r);
    }
  }

  /** The sync after a (re)connect is over and no ROOM settled what the
   * lost socket left open: the session is in no room, or another. */
  syncDone(): void {
    for (const w of this.lostSets.splice(0)) w.resolve(undefined);
    for (const r of this.lostRoomSets.splice(0))
      r.waiter.reject(new CancelledError("room_changed", `room state ${r.key} of ${r.room}: the session is no longer in that room`));
  }

  /** The client closed: everything rejects with `error`. */
  close(error: unknown): void {
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    const waiters: Waiter[] = [...this.lostSets.splice(0)];
    for (const m of this.queue.splice(0))
      if (m.op === ClientOp.Set) waiters.push(...m.waiters);
      else waiters.push(m.waiter);
    for (const e of this.echoes.splice(0)) {
      if (e.timer) clearTimeout(e.timer);
      waiters.push(...e.waiters);
    }
    for (const r of [...this.roomSets.splice(0), ...this.lostRoomSets.splice(0)]) {
      if (r.timer) clearTimeout(r.timer);
      waiters.push(r.waiter);
    }
    for (const w of waiters) w.reject(error);
  }

  // ---- small things -------------------------------------------------------

  private pendingSet(): SetItem | undefined {
    return this.queue.find((m): m is SetItem => m.op === ClientOp.Set);
  }

  /** A refusal for a feature the server said it does not have. */
  private unsupported(feature: string, op: ClientOp): PlazaError | null {
    const f = this.host.features();
    if (!f || f.has(feature)) return null;
    return refusedLocally(ErrorCode.unknown_op, `the server does not offer "${feature}" (protocol 1.1)`, op);
  }

  private refuse(code: ErrorCode, message: string, op: ClientOp): Promise<never> {
    return handled(Promise.reject(refusedLocally(code, message, op)));
  }

  private full(op: ClientOp): Promise<never> {
    return this.refuse(ErrorCode.rate_limited, "too many sets and signals waiting to go out", op);
  }
}

/** A patch as it goes on the wire: undefined (a deleted key) as null. */
function nullsFor(patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) out[k] = v === undefined ? null : v;
  return out;
}

function opName(op: ClientOp): string {
  return op === ClientOp.Signal ? "signal" : "room state";
}
