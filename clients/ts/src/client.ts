/*
 * PlazaClient: one session with a plaza server, kept alive across dropped
 * sockets. The application talks to it in objects and promises; the
 * tuples, seqs, session tokens and reconnects stay in here.
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
 * client feeds it what the server says.
 */
import { AppChannel } from "./app-channel.js";
import { clientBuckets } from "./bucket.js";
import { ABNORMAL, Connection } from "./connection.js";
import { OPEN } from "./transport.js";
import {
  CancelledError,
  type ClosedError,
  ConnectionError,
  type PlazaError,
  refused,
  refusedLocally,
  TimeoutError,
} from "./errors.js";
import type {
  Chat,
  ChatLine,
  ErrorMessage,
  Member,
  MemberPatch,
  MemberState,
  Move,
  Position,
  RoomShape,
  RoomStateChange,
  RoomStateMap,
  RoomSnapshot,
  ServerMessage,
  Signal,
  SignalShape,
  State,
  StatePatch,
  StateShape,
  Welcome,
} from "./messages.js";
import type { ConnectOptions } from "./options.js";
import { handled, Outbox } from "./outbox.js";
import { applyPatch } from "./app-channel.js";
import { ClientOp, CloseCode, ErrorCode, ServerOp } from "./protocol.js";
import { SessionStore, watchPage } from "./session-store.js";

export type * from "./options.js";

const ROOM_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
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

/**
 * One plaza session. The type parameters are the app's own shapes:
 * `S` its member state, `G` its signals (kind -> data), `R` its room
 * state (key -> value); `connect<MyState, MySignals, MyRoom>(...)`.
 */
export class PlazaClient<
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
  private readonly outbox: Outbox;
  private moveSeq = 0;
  private oldIds = new Set<number>();
  private pings = new Map<number, { sent: number; resolve: (ms: number) => void; reject: (e: unknown) => void; timer: Timer }>();
  private pingId = 0;
  private welcomed = false; // a WELCOME came: `features` is the server's
  private readonly app: AppChannel;

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

  /** The caller's own member entry while in a room. */
  get self(): Member<S> | undefined {
    return this.members.get(this.id);
  }

  /** The member state this client wants for itself: `connect()`'s
   * `state` with every setState() applied, at once (the server's word on
   * it is `self.state`, a round trip later). A new object at each change. */
  get state(): MemberState<S> {
    return this.app.state as MemberState<S>;
  }

  // ---- the API ---------------------------------------------------------

  /** Joins `room` (leaving the current one); resolves with its snapshot.
   * While reconnecting the wish is kept and carried out after the sync.
   * Rejects with a RefusedError (room_full, forbidden, invalid_argument,
   * rate_limited), a TimeoutError, a CancelledError when a later
   * join()/leave() replaced it before it could be sent, the signal's
   * reason, or a ClosedError. */
  join(room: string, o: { signal?: AbortSignal } = {}): Promise<RoomSnapshot<S, R>> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!ROOM_NAME.test(room))
      return Promise.reject(
        refusedLocally(
          ErrorCode.invalid_argument,
          "room must be 1-64 bytes of [A-Za-z0-9._:-]",
          ClientOp.Join,
        ),
      );
    return this.roomOp(room, o.signal);
  }

  /** Leaves the current room; resolves once the server has the session
   * in none. While reconnecting, once the sync has made it so. */
  async leave(o: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) throw this.closedError();
    await this.roomOp(null, o.signal);
  }

  /** Sends the caller's position; returns the MOVE's seq. Paced under
   * the server's move rate; while reconnecting, outside a room or when
   * moves come faster, only the latest position waits (outside a room it
   * is the spawn point of the next join). Throws a ClosedError after
   * close(). */
  move(p: Position): number {
    if (this.closed) throw this.closedError();
    const m: Move = {
      op: ClientOp.Move,
      seq: ++this.moveSeq,
      x: p.x,
      y: p.y,
      z: p.z,
      yaw: p.yaw,
    };
    this.outbox.move(m);
    return m.seq;
  }

  /** Says `text` to the room; resolves with the line as the server
   * numbered it (seq, time). Queued while reconnecting and paced under
   * the server's chat rate. Rejects with a RefusedError (the server's, or
   * the client's own: empty or over 500 bytes, outside a room), a
   * CancelledError when the room changed before it went out, a
   * ClosedError. The promise may be ignored: its rejection is never
   * reported as unhandled, and the server's refusals are `error` events
   * too. */
  chat(text: string): Promise<Chat> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.outbox.add(ClientOp.Chat, 0, text) as Promise<Chat>;
  }

  /** Says `text` to session `to` only; resolves once it went out on a
   * live session. Queued and paced like chat(). Protocol v1 does not
   * acknowledge a whisper: a refusal (not_found: no such session, or it
   * is disconnected) comes later as an `error` event with requestOp
   * Whisper. */
  whisper(to: number, text: string): Promise<void> {
    if (!Number.isSafeInteger(to) || to < 0)
      return handled(
        Promise.reject(
          refusedLocally(ErrorCode.invalid_argument, "to must be a session id", ClientOp.Whisper),
        ),
      );
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.outbox.add(ClientOp.Whisper, to, text) as Promise<void>;
  }

  /** Measures the round trip with PING/PONG; resolves with it in ms.
   * Rejects at once while not connected (ConnectionError) and after
   * close() (ClosedError); a ping whose socket drops rejects with a
   * ConnectionError. */
  ping(): Promise<number> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!this.ready || !this.ws)
      return Promise.reject(
        new ConnectionError(`not connected (${this.status})`, ABNORMAL),
      );
    return new Promise((resolve, reject) => {
      const t = ++this.pingId;
      const timer = setTimeout(() => {
        this.pings.delete(t);
        reject(new TimeoutError("ping", this.timeoutMs));
      }, this.timeoutMs);
      this.pings.set(t, { sent: now(), resolve, reject, timer });
      this.sendNow({ op: ClientOp.Ping, t });
    });
  }

  /** Changes this member's state (protocol 1.1): each key named is
   * replaced, null deletes it. `state` changes at once; the room hears
   * MEMBER. Resolves once the server applied it: in a room on its echo,
   * outside a room (where the server answers nothing) once sent. Paced
   * under the server's rate for sets and signals; while reconnecting,
   * patches merge into one SET that goes after the sync (a SET lost with
   * the socket goes again). Rejects with a RefusedError: the server's
   * (the keys named go back to the server's values), or the client's own
   * (`local`: not a plain object, a key not 1-32 bytes, a state over
   * `limits.memberStateMax` encoded, a server without "state"), a
   * TimeoutError, a ClosedError. May be ignored: never reported as
   * unhandled, the server's refusals are `error` events too. */
  setState(patch: StatePatch<S>): Promise<void> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.app.setState(patch as StatePatch);
  }

  /** Sends an app-defined message (protocol 1.1): to every other member
   * of the room (`to` omitted), or to session `to` wherever it is
   * (in a room or not, yourself included). Resolves once it went out
   * (signals are not acknowledged; an unknown or disconnected `to` comes
   * later as an `error` event, not_found). Queued while reconnecting and
   * paced with setState(); a room signal that waited for a room the
   * client left rejects with a CancelledError. Rejects at once with a
   * RefusedError (`local`) for a kind not 1-32 bytes, data over
   * `limits.signalMax` encoded, a room signal outside a room; a
   * ClosedError. May be ignored, as setState(). */
  signal<K extends keyof G & string>(kind: K, data: G[K], to?: number | null): Promise<void> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    return this.app.signal(kind, data, to);
  }

  /** Sets one key of the room's shared state (protocol 1.1); null
   * deletes it. With `ifVersion` it applies only if the key is at that
   * version (0: absent): compare-and-set, so two members cannot both take
   * what only one may. Resolves with the key's new version once the
   * server applied it. Rejects with a ConflictError (its `version` is the
   * key's current one) when the key was at another version, a RefusedError
   * (the server's, or the client's own: a key not 1-64 bytes, a value over
   * `limits.roomValueMax`, outside a room), a CancelledError when the
   * session left the room first, a TimeoutError, a ClosedError. Queued
   * while reconnecting; one whose socket dropped is settled from the
   * room's state when the room is back (sent again when it was not
   * applied). */
  setRoomState<K extends keyof R & string>(
    key: K,
    value: R[K] | null,
    o: { ifVersion?: number } = {},
  ): Promise<number> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.app.setRoomState(key, value, o.ifVersion);
  }

  /** Closes for good. With leave (the default) the room sees LEFT at
   * once; without, the server keeps the session for its grace period.
   * Everything pending rejects with a ClosedError, later calls reject
   * (move() throws) at once. */
  close(options: { leave?: boolean } = {}): void {
    if (this.closed) return;
    if ((options.leave ?? true) && this.ready && this.room !== null)
      this.sendNow({ op: ClientOp.Leave });
    this.terminate("close() called", CloseCode.Normal);
  }

  // ---- room requests ---------------------------------------------------

  private roomOp(target: string | null, signal?: AbortSignal): Promise<RoomSnapshot<S, R>> {
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
        const member = strip(m) as Member<S>;
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
    this.opened();
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
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    ws.close(CloseCode.Normal, "sync timed out");
    this.lost(ABNORMAL, "no answer while syncing the room");
  }

  private onRoom(m: RoomSnapshot): void {
    const head = this.sent[0];
    const answer = head && head.target === m.room ? this.sent.shift() : undefined;
    const resumed = !answer && this.resumedNow && this.sync !== "done";
    const before = this.room;
    this.room = m.room;
    this.members = new Map(m.members.map((x) => [x.id, x as Member<S>]));
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
    this.emit("room", { ...(m as RoomSnapshot<S, R>), resumed });
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
      if (!mem || (mem.x === e.x && mem.y === e.y && mem.z === e.z && mem.yaw === e.yaw))
        continue;
      next ??= new Map(this.members);
      next.set(e.id, withPos(mem, e));
    }
    if (next) this.members = next;
    this.emit("state", s);
    if (next) this.emit("members", this.members);
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
  }
}

function withPos<S extends object>(mem: Member<S>, p: Position): Member<S> {
  return { ...mem, x: p.x, y: p.y, z: p.z, yaw: p.yaw };
}

function strip<T extends { op: unknown }>(m: T): Omit<T, "op"> {
  const { op: _op, ...rest } = m;
  return rest;
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** A client of whatever app shapes: what helpers that use none of them
 * (Predictor, interpolate) take. `any` because a client typed with an
 * app's shapes is assignable to no narrower instantiation (its maps are
 * invariant in them). */
export type AnyPlazaClient = PlazaClient<any, any, any>;

/** A client that has not connected yet: attach listeners, then connect().
 * The type parameters declare the app's member state, signals and room
 * state (see PlazaClient). */
export function createClient<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
>(opts: ConnectOptions<S>): PlazaClient<S, G, R> {
  return new PlazaClient<S, G, R>(opts);
}

/** Creates a client and connects it; resolves once the server says
 * WELCOME. `signal` aborts the attempt (the client is then closed). */
export async function connect<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
>(opts: ConnectOptions<S> & { signal?: AbortSignal }): Promise<PlazaClient<S, G, R>> {
  const c = new PlazaClient<S, G, R>(opts);
  await c.connect(opts.signal ? { signal: opts.signal } : {});
  return c;
}
