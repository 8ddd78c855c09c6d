/*
 * The session under a PlazaClient: where the server has it (room,
 * members, room state, chat), what it says, and the sync after every
 * (re)connect. The calls an app makes are PlazaClient's (client.ts).
 *
 * After every (re)connect the client "syncs" before anything queued goes
 * out: it learns which room the server has the session in (a resumed
 * session's ROOM; a ping as a barrier when a JOIN or LEAVE was unanswered
 * at the drop), brings it to the room the app asked for last, then sends
 * what waited. Each wait in there ends on an answer the protocol
 * guarantees, and a timer backs them all: a sync that does not finish in
 * `requestTimeoutMs` drops the socket and starts again.
 *
 * Protocol 1.1 (member state, signals, room state) goes through the
 * AppChannel, which keeps the app's state and sets across sockets; the
 * session feeds it what the server says. VIEW goes through the
 * ViewChannel, which sends it after every WELCOME and reads STATE_C.
 */
import { AppChannel } from "./app-channel.js";
import { clientBuckets } from "./bucket.js";
import { ABNORMAL, Connection } from "./connection.js";
import { OPEN } from "./transport.js";
import { DecodeError } from "./codec.js";
import {
  CancelledError,
  type ClosedError,
  ConnectionError,
  type PlazaError,
  type RefusedError,
  refused,
  TimeoutError,
} from "./errors.js";
import type {
  Chat,
  ChatLine,
  ErrorMessage,
  Member,
  MemberPatch,
  MemberState,
  Position,
  RoomShape,
  RoomStateChange,
  RoomStateMap,
  RoomSnapshot,
  ServerMessage,
  Signal,
  SignalShape,
  State,
  StateC,
  StatePatch,
  StateShape,
  Welcome,
} from "./messages.js";
import type { ConnectOptions } from "./options.js";
import { Outbox } from "./outbox.js";
import { applyPatch } from "./app-channel.js";
import { ClientOp, CloseCode, ErrorCode, ServerOp } from "./protocol.js";
import { SessionStore, watchPage } from "./session-store.js";
import {
  checkView,
  inView,
  markOutOfView,
  outOfView,
  ViewChannel,
  viewUnsupported,
} from "./view.js";

export const ROOM_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const HISTORY_MAX = 50;

type Timer = ReturnType<typeof setTimeout>;

interface RoomOp {
  target: string | null; // the room, or null for leave()
  resolve: (r: unknown) => void; // with the client's RoomSnapshot
  reject: (e: unknown) => void;
  timer: Timer;
  unlisten: () => void;
}

/** A JOIN or LEAVE on the current socket, waiting for its answer. */
interface Request {
  target: string | null;
  ops: RoomOp[];
}

/** What a (re)connect still waits for before the queue flows. */
type Sync =
  | "room" // the ROOM of a resumed session
  | "barrier" // the PONG of a ping sent as a barrier
  | "answer" // the answer to a JOIN/LEAVE that brings the room to the wish
  | "done";

/** A session's state and the server's side of it; PlazaClient adds the
 * calls. The type parameters are the app's shapes (see PlazaClient). */
export abstract class Session<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
> extends Connection<S, G, R> {
  /** This session's id (changes only when a resume fails). */
  id = 0;
  /** The server's tick rate from WELCOME. */
  tickHz = 0;
  /** What the server has beyond protocol v1 (WELCOME's features:
   * "state", "signal", "room_state"...); empty before the first WELCOME
   * and from a v1 server. */
  features: ReadonlySet<string> = new Set();
  /** The room the server has this session in, as last heard, or null. */
  room: string | null = null;
  /** Members of the current room by id, the caller included, with the
   * positions of the latest STATE and their state. Replaced, never
   * changed in place: a new map whenever anything in it changes, a new
   * object for each member that changed (React can memoise on identity). */
  members: ReadonlyMap<number, Member<S>> = new Map();
  /** The current room's shared state: key -> { value, version }. A new
   * map at each change, as `members`. */
  roomState: RoomStateMap<R> = new Map();
  /** Last measured round trip in ms (ping()), NaN before the first. */
  rtt = NaN;
  /** From the last `synced`: whether the last reconnect lost nothing. */
  recovered = true;

  private readonly store: SessionStore | null;
  private readonly leaveOnPageHide: boolean;
  private unwatchPage: () => void = () => {};

  // Rooms: what the app asked for, and the JOIN/LEAVEs on their way.
  private wish: string | null | undefined = undefined; // undefined: never said
  private ops: RoomOp[] = [];
  private sent: Request[] = [];
  private roomCertain = true; // no JOIN/LEAVE lost with a socket
  private joinUncertain = false; // a JOIN lost with a socket
  private sync: Sync = "done";
  private syncTimer: Timer | null = null;
  private syncRoom: string | null = null; // the server's room, as this sync learned it
  private resumedNow = false; // this socket's WELCOME resumed
  private barrierId = 0;
  private gapSeq: number | null = null; // replays must start at this seq
  private recoveredNow = true;

  // Chat and moves.
  private chatRoom: string | null = null; // the room chatSeq counts in
  private chatSeq = 0;
  private helloSeq = false; // last_chat_seq went with this socket's HELLO
  private history: ChatLine[] = [];
  protected readonly outbox: Outbox;
  protected moveSeq = 0;
  private oldIds = new Set<number>();
  protected pings = new Map<number, { sent: number; resolve: (ms: number) => void; reject: (e: unknown) => void; timer: Timer }>();
  protected pingId = 0;
  private welcomed = false; // a WELCOME came: `features` is the server's
  protected readonly app: AppChannel;
  protected readonly views: ViewChannel;

  constructor(opts: ConnectOptions<S>) {
    super(opts);
    const buckets = clientBuckets(opts.limits ?? {}, now);
    this.outbox = new Outbox(
      {
        canSend: () => this.synced(),
        target: () => this.target(),
        room: () => this.room,
        chatSeqIn: (room) => (this.chatRoom === room ? this.chatSeq : 0),
        isOwn: (id) => id === this.id || this.oldIds.has(id),
        send: (m) => this.sendNow(m),
      },
      buckets,
      this.timeoutMs,
    );
    const persist = opts.persistSession;
    this.store = persist
      ? SessionStore.open(persist === true ? {} : persist, opts.url, opts.name)
      : null;
    this.leaveOnPageHide =
      typeof persist === "object" ? persist.leaveOnPageHide ?? true : true;
    const saved = this.store?.load();
    const limits = opts.limits ?? {};
    this.views = new ViewChannel(
      {
        ready: () => this.ready && this.ws?.readyState === OPEN,
        features: () => (this.welcomed ? this.features : null),
        send: (m) => this.sendNow(m),
      },
      buckets.app,
      checkView(opts.view),
    );
    this.app = new AppChannel(
      {
        canSend: () => this.synced(),
        target: () => this.target(),
        features: () => (this.welcomed ? this.features : null),
        selfState: () => this.members.get(this.id)?.state,
        send: (m) => this.sendNow(m),
      },
      buckets.app,
      this.timeoutMs,
      {
        memberStateMax: limits.memberStateMax ?? 1024,
        signalMax: limits.signalMax ?? 4096,
        roomValueMax: limits.roomValueMax ?? 1024,
      },
      (opts.state ?? {}) as StateShape,
      saved !== null && saved !== undefined,
    );
    if (saved) {
      // Where the page left it: the session may still be in a room (the
      // LEAVE of pagehide may not have gone out), so the sync asks.
      this.session = saved.session;
      this.id = saved.id;
      this.chatRoom = saved.chatRoom;
      this.chatSeq = saved.chatSeq;
      this.joinUncertain = saved.joinUncertain;
      this.roomCertain = false;
    }
    if (this.store)
      this.unwatchPage = watchPage(
        () => this.pageHidden(),
        () => this.pageShown(),
      );
  }
  // ---- room requests ---------------------------------------------------

  protected roomOp(target: string | null, signal?: AbortSignal): Promise<RoomSnapshot<S, R>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RoomSnapshot<S, R>>((resolve, reject) => {
      const what = target === null ? "leave" : `join ${target}`;
      const op: RoomOp = {
        target,
        resolve: resolve as RoomOp["resolve"],
        reject,
        timer: setTimeout(
          () => this.dropOp(op, new TimeoutError(what, this.timeoutMs)),
          this.timeoutMs,
        ),
        unlisten: () => {},
      };
      if (signal) {
        const onAbort = () => this.dropOp(op, signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        op.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      this.ops.push(op);
      this.wish = target;
      if (this.sync !== "done" || !this.ready) return; // the sync sees to it
      if (this.sent.length === 0 && this.room === target) this.settle([op]);
      else this.request(target, [op]);
    });
  }

  /** An op given up (timeout, abort): it rejects; an answer that still
   * comes moves the session all the same, as the server says. */
  private dropOp(op: RoomOp, error: unknown): void {
    if (!this.ops.includes(op)) return;
    this.ops = this.ops.filter((o) => o !== op);
    for (const r of this.sent) r.ops = r.ops.filter((o) => o !== op);
    clearTimeout(op.timer);
    op.unlisten();
    const last = this.ops[this.ops.length - 1];
    if (this.wish === op.target && !this.sent.some((r) => r.target === op.target))
      this.wish = last ? last.target : this.room;
    op.reject(error);
  }

  /** Resolves ops: the session is where they wanted it. */
  private settle(ops: RoomOp[]): void {
    for (const op of ops) {
      if (!this.ops.includes(op)) continue;
      this.ops = this.ops.filter((o) => o !== op);
      clearTimeout(op.timer);
      op.unlisten();
      op.resolve(this.snapshot());
    }
  }

  private fail(ops: RoomOp[], error: PlazaError): void {
    for (const op of ops) this.dropOp(op, error);
  }

  private request(target: string | null, ops: RoomOp[]): void {
    this.sent.push({ target, ops });
    if (target === null) this.sendNow({ op: ClientOp.Leave });
    else this.sendNow({ op: ClientOp.Join, room: target });
  }

  private snapshot(): RoomSnapshot<S, R> {
    return {
      room: this.room ?? "",
      members: [...this.members.values()],
      history: [...this.history],
      roomState: this.roomState,
    };
  }

  // ---- chat, whispers, moves -------------------------------------------

  /** The room the session will be in once what was sent is answered. */
  private target(): string | null {
    return this.wish === undefined ? this.room : this.wish;
  }

  private synced(): boolean {
    return this.ready && this.sync === "done" && this.ws?.readyState === OPEN;
  }

  // ---- the connection's hooks ------------------------------------------

  protected resumeSeq(resuming: boolean): number | undefined {
    // The seq belongs to chatRoom: a JOIN lost with the socket may have
    // moved the session elsewhere, where it would mean other lines.
    this.helloSeq = resuming && this.chatRoom !== null && !this.joinUncertain;
    return this.helloSeq ? this.chatSeq : undefined;
  }

  protected helloState(): StateShape | undefined {
    return this.app.helloState();
  }

  protected socketLost(code: number, why: string): void {
    this.stopSyncTimer();
    this.app.socketLost();
    this.views.socketLost();
    if (this.sent.length) {
      // Their answers went with the socket: the server may or may not
      // have carried them out.
      this.roomCertain = false;
      if (this.sent.some((r) => r.target !== null)) this.joinUncertain = true;
      this.sent = [];
    }
    this.outbox.pause();
    for (const [t, p] of this.pings) {
      clearTimeout(p.timer);
      p.reject(new ConnectionError(`ping: connection lost (${code} ${why})`.trim(), code));
      this.pings.delete(t);
    }
  }

  protected ended(err: ClosedError): void {
    this.unwatchPage();
    this.stopSyncTimer();
    this.fail([...this.ops], err);
    this.sent = [];
    this.outbox.close(err);
    this.app.close(err);
    this.views.close();
    for (const p of this.pings.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pings.clear();
  }

  protected forget(): void {
    this.store?.clear();
  }

  // ---- the page --------------------------------------------------------

  private pageHidden(): void {
    if (this.closed || this.suspended) return;
    this.suspend();
    const ws = this.ws;
    if (ws && this.ready && this.leaveOnPageHide && this.room !== null)
      this.request(null, []); // the wish stays: a page that comes back rejoins
    this.save();
    if (ws) {
      this.lost(CloseCode.Normal, "page hidden");
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      ws.close(CloseCode.Normal, "page hidden");
    }
    this.setStatus({ status: "reconnecting", code: CloseCode.Normal, reason: "page hidden" });
  }

  private pageShown(): void {
    this.unsuspend();
  }

  private save(): void {
    if (!this.store || !this.session) return;
    this.store.save({
      session: this.session,
      id: this.id,
      chatRoom: this.chatRoom,
      chatSeq: this.chatSeq,
      joinUncertain: this.joinUncertain || this.sent.some((r) => r.target !== null),
    });
  }

  // ---- what the server says --------------------------------------------

  protected handle(m: ServerMessage): void {
    switch (m.op) {
      case ServerOp.Welcome:
        return this.onWelcome(strip(m));
      case ServerOp.Room:
        return this.onRoom(strip(m));
      case ServerOp.Joined: {
        // With a radius, a member is out of view until a STATE carries it.
        let member = strip(m) as Member<S>;
        if (this.views.filtering && member.id !== this.id) member = outOfView(member);
        this.members = new Map(this.members).set(member.id, member);
        this.emit("joined", member);
        this.emit("members", this.members);
        return;
      }
      case ServerOp.Member:
        return this.onMember(strip(m));
      case ServerOp.Signal:
        this.emit("signal", strip(m) as Signal<G>);
        return;
      case ServerOp.RoomState:
        return this.onRoomState(strip(m) as RoomStateChange<R>);
      case ServerOp.Left:
        return this.onLeft(m.id);
      case ServerOp.State:
        return this.onState(strip(m));
      case ServerOp.StateC:
        return this.onStateC(strip(m));
      case ServerOp.Away:
        return this.onAway(m.ids);
      case ServerOp.Chat:
        return this.onChat(strip(m));
      case ServerOp.Whisper:
        this.emit("whisper", strip(m));
        return;
      case ServerOp.Pong:
        return this.onPong(m.t);
      case ServerOp.Error:
        return this.onError(strip(m));
    }
  }

  private onWelcome(m: Welcome): void {
    if (this.id && m.id !== this.id) this.oldIds.add(this.id);
    this.id = m.id;
    this.features = new Set(m.features);
    this.welcomed = true;
    this.session = m.session;
    this.tickHz = m.tickHz;
    this.resumedNow = m.resumed;
    this.recoveredNow = m.resumed || !this.triedResume;
    this.save();
    this.emit("welcome", m);
    const noView = viewUnsupported(this.views.wish, this.features);
    if (noView) {
      // The view asked for cannot be had here: the first connect()
      // rejects; a reconnect (to an older node, say) goes on with the
      // whole room, and the view goes out where a WELCOME offers it.
      this.emit("error", localError(noView));
      if (!this.everOpen) return this.terminate(noView.message, undefined, noView);
    }
    this.opened();
    this.views.welcomed(m.resumed);
    this.startSync();
  }

  private startSync(): void {
    this.stopSyncTimer();
    this.syncTimer = setTimeout(() => this.syncStalled(), this.timeoutMs);
    this.gapSeq = null;
    if (!this.resumedNow) {
      // A fresh session is in no room: what the old one saw is no guide.
      this.chatRoom = null;
      this.chatSeq = 0;
      this.roomCertain = true;
      this.joinUncertain = false;
      this.reconcile(null);
    } else if (!this.roomCertain) {
      // A JOIN or LEAVE went with the socket: a ROOM before the PONG of
      // this ping says where the session is; none, that it is in none.
      this.syncRoom = null;
      this.barrier();
    } else if (this.room !== null) {
      this.sync = "room";
    } else {
      this.reconcile(null);
    }
  }

  private barrier(): void {
    this.sync = "barrier";
    this.sendNow({ op: ClientOp.Ping, t: -++this.barrierId });
  }

  /** The server has the session in `serverRoom`: bring it to the wish. */
  private reconcile(serverRoom: string | null): void {
    const want = this.wish === undefined ? serverRoom : this.wish;
    // Calls that asked for something else in the meantime were overtaken.
    for (const op of [...this.ops])
      if (op.target !== want && !this.sent.some((r) => r.ops.includes(op)))
        this.dropOp(op, new CancelledError("superseded", "a later join()/leave() replaced it while reconnecting"));
    this.syncRoom = serverRoom;
    if (want === serverRoom) {
      if (serverRoom === null) this.dropRoom();
      this.settle(this.ops.filter((o) => o.target === want));
      this.finishSync();
      return;
    }
    this.sync = "answer";
    this.request(want, this.ops.filter((o) => o.target === want));
  }

  private finishSync(): void {
    this.stopSyncTimer();
    this.sync = "done";
    this.roomCertain = true;
    this.joinUncertain = false;
    if (this.gapSeq !== null) {
      // No replay came: fine when nothing was said since, a gap when the
      // server's history no longer held even the last line seen.
      if (this.gapSeq > 1) this.recoveredNow = false;
      this.gapSeq = null;
    }
    this.outbox.resend();
    this.app.syncDone();
    this.recovered = this.recoveredNow;
    this.save();
    this.emit("synced", { resumed: this.resumedNow, recovered: this.recovered, room: this.room });
    this.outbox.flush();
    this.app.flush();
  }

  private stopSyncTimer(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
  }

  /** The sync waited past its time: something on the way is stuck. Start
   * again on a new socket rather than wait for ever. */
  private syncStalled(): void {
    this.syncTimer = null;
    this.dropSocket("sync timed out", "no answer while syncing the room");
  }

  /** Starts over on a new socket (a resume), this one dropped. */
  private dropSocket(reason: string, why: string): void {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    ws.close(CloseCode.Normal, reason);
    this.lost(ABNORMAL, why);
  }

  private onRoom(m: RoomSnapshot): void {
    const head = this.sent[0];
    const answer = head && head.target === m.room ? this.sent.shift() : undefined;
    const resumed = !answer && this.resumedNow && this.sync !== "done";
    const before = this.room;
    this.room = m.room;
    // A view starts over at ROOM: with a radius, nobody but the client is
    // in view until a STATE carries them.
    const far = this.views.filtering;
    this.views.roomArrived();
    this.members = new Map(
      m.members.map((x) => [x.id, far && x.id !== this.id ? outOfView(x as Member<S>) : (x as Member<S>)]),
    );
    this.roomState = m.roomState as RoomStateMap<R>;
    this.history = m.history.slice(-HISTORY_MAX);
    const top = m.history.reduce((s, h) => Math.max(s, h.seq), 0);
    if (resumed && m.room === this.chatRoom) {
      if (this.helloSeq) {
        // The replay of what was missed follows this ROOM as CHATs; when
        // the history kept nothing up to our seq, the first of them must
        // be the next one or lines were lost.
        if (m.history.length === 0) this.gapSeq = this.chatSeq + 1;
      } else {
        const first = m.history[0]?.seq;
        if (first === undefined ? this.chatSeq > 0 : first > this.chatSeq + 1)
          this.recoveredNow = false;
        this.chatSeq = Math.max(this.chatSeq, top);
      }
    } else {
      this.chatRoom = m.room;
      this.chatSeq = top;
    }
    for (const h of m.history) this.outbox.confirm(h);
    if (answer && this.wish === undefined) this.wish = m.room;
    if (before !== m.room || !resumed) this.save();
    this.app.roomArrived(m.room, this.members.get(this.id)?.state, m.roomState);
    this.app.flush(); // what the ROOM showed missing, when in step
    this.emit("room", { ...(m as RoomSnapshot<S, R>), members: [...this.members.values()], resumed });
    this.emit("members", this.members);
    this.emit("roomState", { state: this.roomState, change: null });
    if (answer) this.settle(answer.ops);
    this.afterRoomChange(resumed);
  }

  /** Where the sync goes after the session's room became known. */
  private afterRoomChange(resumedRoom: boolean): void {
    switch (this.sync) {
      case "room":
        if (!resumedRoom) return;
        this.syncRoom = this.room;
        this.barrier(); // for the replayed chat that follows the ROOM
        return;
      case "barrier":
        if (resumedRoom) this.syncRoom = this.room;
        return;
      case "answer":
        if (this.sent.length === 0) this.reconcile(this.room);
        return;
      case "done":
        if (this.sent.length === 0 && this.ops.length === 0) this.wish = this.room;
    }
  }

  private onLeft(id: number): void {
    if (id !== this.id) {
      const member = this.members.get(id);
      if (member) {
        const next = new Map(this.members);
        next.delete(id);
        this.members = next;
      }
      this.emit("left", member ? { id, member, self: false } : { id, self: false });
      if (member) this.emit("members", this.members);
      return;
    }
    const head = this.sent[0];
    const answer = head && head.target === null ? this.sent.shift() : undefined;
    this.dropRoom();
    if (answer) this.settle(answer.ops);
    this.afterRoomChange(false);
  }

  /** The session is in no room now: say so once. */
  private dropRoom(): void {
    if (this.room === null) return;
    const member = this.members.get(this.id);
    this.room = null;
    this.history = [];
    this.members = new Map();
    this.roomState = new Map();
    this.app.roomLeft();
    this.emit("left", member ? { id: this.id, member, self: true } : { id: this.id, self: true });
    this.emit("members", this.members);
    this.emit("roomState", { state: this.roomState, change: null });
  }

  /*
   * A member is one immutable object, replaced whole whenever anything
   * of it changes (position, state): every change goes through withPos()
   * or onMember(), which copy what they do not change, so a field added
   * to Member (a member out of this client's view, say) is carried along.
   */
  private onState(s: State): void {
    let next: Map<number, Member<S>> | null = null;
    for (const e of s.entries) {
      const mem = (next ?? this.members).get(e.id);
      if (
        !mem ||
        (!mem.outOfView && mem.x === e.x && mem.y === e.y && mem.z === e.z && mem.yaw === e.yaw)
      )
        continue;
      next ??= new Map(this.members);
      next.set(e.id, withPos(mem, e));
    }
    if (next) this.members = next;
    this.emit("state", s);
    if (next) this.emit("members", this.members);
  }

  /** STATE_C: read against this socket's short ids, then as a STATE. One
   * that cannot be read (its frame or its entries) leaves the short ids
   * out of step with the server's, and every delta after it in doubt:
   * the client says so and resumes on a new socket, whose ROOM starts the
   * view over with full entries. */
  private onStateC(m: StateC): void {
    let entries;
    try {
      entries = this.views.decode(m);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      e.op = ServerOp.StateC;
      this.unreadable(e);
      return;
    }
    this.onState({ tick: m.tick, entries, compact: true });
  }

  protected override unreadable(e: DecodeError): void {
    if (e.op !== ServerOp.StateC) return super.unreadable(e);
    this.localError(`unreadable STATE_C (${e.message}): resynchronising on a new connection`);
    this.dropSocket("STATE_C unreadable", `unreadable STATE_C (${e.message})`);
  }

  /** AWAY: members out of view keep their last position, flagged. */
  private onAway(ids: number[]): void {
    const r = markOutOfView(this.members, ids, this.id);
    if (r) this.members = r.members;
    this.emit("away", { ids, members: r?.changed ?? [] });
    if (r) this.emit("members", this.members);
  }

  private onMember(m: MemberPatch): void {
    const mem = this.members.get(m.id);
    if (m.id === this.id) this.app.echoed();
    if (!mem) return; // not in this room (yet): its ROOM or JOINED has the state
    const member: Member<S> = { ...mem, state: applyPatch(mem.state, m.patch) as MemberState<S> };
    this.members = new Map(this.members).set(m.id, member);
    this.emit("member", { id: m.id, patch: m.patch as StatePatch<S>, member });
    this.emit("members", this.members);
  }

  private onRoomState(c: RoomStateChange<R>): void {
    if (this.room === null) return;
    const next = new Map(this.roomState) as Map<string, { value: unknown; version: number }>;
    if (c.value === null) next.delete(c.key);
    else next.set(c.key, { value: c.value, version: c.version });
    this.roomState = next as unknown as RoomStateMap<R>;
    if (c.by === this.id) this.app.roomStateSet(c.key, c.version);
    this.emit("roomState", { state: this.roomState, change: c });
  }

  private onChat(m: Chat): void {
    // A resume replays what may have been seen already: seq says.
    if (this.chatRoom === this.room && m.seq <= this.chatSeq) return;
    if (this.gapSeq !== null) {
      if (m.seq > this.gapSeq) this.recoveredNow = false;
      this.gapSeq = null;
    }
    this.chatRoom = this.room;
    this.chatSeq = m.seq;
    this.history.push(m);
    if (this.history.length > HISTORY_MAX) this.history.shift();
    this.outbox.confirm(m);
    this.emit("chat", m);
  }

  private onPong(t: unknown): void {
    if (typeof t !== "number") return;
    if (t < 0) {
      if (t === -this.barrierId && this.sync === "barrier") this.reconcile(this.syncRoom);
      return;
    }
    const p = this.pings.get(t);
    if (!p) return;
    this.pings.delete(t);
    clearTimeout(p.timer);
    this.rtt = now() - p.sent;
    p.resolve(this.rtt);
    this.emit("rtt", this.rtt);
  }

  private onError(m: ErrorMessage): void {
    switch (m.requestOp) {
      case ClientOp.Hello:
        if (m.code === ErrorCode.session_expired) {
          this.session = null; // a fresh WELCOME follows
        } else if (!this.everOpen && m.code !== ErrorCode.overloaded) {
          // A refused first HELLO (a bad name, too many sessions): no
          // retry would be let in either.
          this.emit("error", m);
          this.terminate(m.message, undefined, refused(m));
          return;
        } else if (m.code === ErrorCode.forbidden && this.ready && this.resumedNow) {
          // The resumed session's new token does not allow its room: the
          // server took it out, and no ROOM comes.
          this.emit("error", m);
          this.resumedOutOfRoom(m);
          return;
        } else {
          this.app.refused(m);
        }
        break;
      case ClientOp.Set:
      case ClientOp.RoomSet:
        this.app.refused(m);
        break;
      case ClientOp.Join:
        if (this.onJoinRefused(m)) return;
        break;
      case ClientOp.Leave: {
        const head = this.sent[0];
        if (head && head.target === null) {
          // Not in a room: what leave() wanted.
          this.sent.shift();
          this.dropRoom();
          this.settle(head.ops);
          this.afterRoomChange(false);
          return;
        }
        break;
      }
      case ClientOp.Chat:
        this.outbox.refuseOldest(refused(m));
        break;
      case ClientOp.View:
        this.views.refused(m.code);
        break;
    }
    this.emit("error", m);
  }

  /** ERROR 8 (op HELLO) after a resumed WELCOME: the session was put out
   * of its room, which the token does not allow. The room is left and no
   * longer wished for (a join() of it waiting rejects); the sync goes on
   * from no room. */
  private resumedOutOfRoom(m: ErrorMessage): void {
    const gone = this.room;
    this.dropRoom();
    if (this.sync === "done" || gone === null) return;
    if (this.wish === gone) {
      this.fail(this.ops.filter((o) => o.target === gone), refused(m));
      this.wish = null;
    }
    if (this.sync === "room") this.reconcile(null);
    else if (this.sync === "barrier") this.syncRoom = null;
  }

  /** An ERROR to a JOIN; true when it was an answer the app need not see. */
  private onJoinRefused(m: ErrorMessage): boolean {
    const head = this.sent[0];
    if (!head || head.target === null) {
      // Unasked: a resumed session's room could not be taken back on this
      // node (full). The session is in none; the sync goes on from there.
      if (this.sync === "room") {
        this.dropRoom();
        this.reconcile(null);
      }
      return false;
    }
    this.sent.shift();
    const already =
      m.code === ErrorCode.invalid_argument && ROOM_NAME.test(head.target);
    if (already && this.room === head.target) {
      // "already in that room": a second join() of it, or the sync's
      // JOIN after the resumed session's ROOM came.
      this.settle(head.ops);
      this.afterRoomChange(false);
      return true;
    }
    if (already && this.sync === "answer") {
      // The server has the session there and its ROOM is still to come
      // (a clustered room loading on this node): wait for it.
      this.sync = "room";
      this.resumedNow = true;
      return true;
    }
    // Refused: room_full has left the old room first; the rest stay.
    if (m.code === ErrorCode.room_full || (this.sync === "answer" && this.syncRoom === null))
      this.dropRoom();
    this.fail(head.ops, refused(m));
    if (this.sent.length === 0 && this.ops.length === 0) this.wish = this.room;
    if (this.sync === "answer" && this.sent.length === 0) this.reconcile(this.room);
    return false;
  }}

/** The member at `p`, in view (a STATE carried it). */
function withPos<S extends object>(mem: Member<S>, p: Position): Member<S> {
  return { ...inView(mem), x: p.x, y: p.y, z: p.z, yaw: p.yaw };
}

/** A refusal the client made itself, as an `error` event says it. */
function localError(e: RefusedError): ErrorMessage {
  return {
    code: e.code,
    codeName: e.codeName,
    message: e.message,
    ...(e.requestOp === undefined ? {} : { requestOp: e.requestOp }),
    local: true,
  };
}

function strip<T extends { op: unknown }>(m: T): Omit<T, "op"> {
  const { op: _op, ...rest } = m;
  return rest;
}

export function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}
