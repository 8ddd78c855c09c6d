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
 */
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { clientBuckets, type RateLimits } from "./bucket.js";
import { DecodeError, decodeServer, encodeClient } from "./codec.js";
import { Emitter, type HandlerErrorSink } from "./emitter.js";
import {
  CancelledError,
  ClosedError,
  ConnectionError,
  type PlazaError,
  refused,
  refusedLocally,
  TimeoutError,
} from "./errors.js";
import type {
  Chat,
  ChatLine,
  ClientMessage,
  ErrorMessage,
  Member,
  Move,
  Position,
  RoomSnapshot,
  ServerMessage,
  State,
  Welcome,
  Whisper,
} from "./messages.js";
import {
  ClientOp,
  CloseCode,
  ErrorCode,
  PROTOCOL_VERSION,
  ServerOp,
  SUBPROTOCOL,
} from "./protocol.js";
import {
  type PersistOptions,
  SessionStore,
  watchPage,
} from "./session-store.js";
import {
  defaultSocketFactory,
  describeFailure,
  type FailureText,
  messageBytes,
  OPEN,
  type SocketFactory,
  type SocketLike,
} from "./transport.js";

export type Status = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface StatusEvent {
  status: Status;
  /** connecting (retries) / reconnecting: the attempt about to be made
   * (1-based) and its delay. */
  attempt?: number;
  delayMs?: number;
  /** reconnecting / closed: the close code of the lost socket and why,
   * in words (a TLS failure, an HTTP 403...) where the socket said. */
  code?: number;
  reason?: string;
}

/** A ROOM: after a join, a rejoin or a resume. */
export interface RoomEvent extends RoomSnapshot {
  /** True when it restores the room a resumed session was in: the server
   * kept the session's place (a Predictor keeps its prediction). */
  resumed: boolean;
}

export interface LeftEvent {
  id: number;
  /** The member as last known, when it was. */
  member?: Member;
  /** True when this client is out of its room: it left, or a rejoin
   * after a reconnect was refused (the `error` event says why). */
  self: boolean;
}

/** After each (re)connect, once the client is in step with the server
 * and what waited has gone out. */
export interface SyncedEvent {
  /** The server resumed the session (same id, room, position). */
  resumed: boolean;
  /** Nothing was lost: the session resumed and every room chat since the
   * last one seen was replayed (false when the server's history no longer
   * reached back to it, or the session could not be resumed). */
  recovered: boolean;
  /** The room the session is in now. */
  room: string | null;
}

export interface ClientEvents {
  status: StatusEvent;
  welcome: Welcome;
  synced: SyncedEvent;
  room: RoomEvent;
  joined: Member;
  left: LeftEvent;
  /** `members` changed (a new map; unchanged members keep their object). */
  members: ReadonlyMap<number, Member>;
  state: State;
  chat: Chat;
  whisper: Whisper;
  error: ErrorMessage;
  rtt: number;
}

/** A JWT, or a function giving one (called before every connection, so a
 * reconnect after the old token expired presents a fresh one). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ConnectOptions {
  /** ws:// or wss:// URL of the server's /ws endpoint. */
  url: string;
  /** Display name (1–32 bytes of UTF-8); the server picks guest-<id> without. */
  name?: string;
  /** JWT for servers with an auth secret. */
  token?: TokenSource;
  /** Reconnect backoff, or false to give up when the socket drops. */
  reconnect?: BackoffOptions | false;
  /** Retry the first connection too, with the same backoff, until it
   * succeeds or `signal` aborts (default false: connect() rejects). */
  retryInitialConnect?: boolean;
  /** How long join(), leave(), ping() and a chat's echo wait (default 15 s;
   * join and leave count reconnects in it). */
  requestTimeoutMs?: number;
  /** The server's rate limits, when not plaza's defaults: the client
   * paces chat, whispers and moves under them. */
  limits?: RateLimits;
  /** Keep the session across page reloads (sessionStorage); see
   * PersistOptions. */
  persistSession?: boolean | PersistOptions;
  /** Another WebSocket implementation (tests, React Native...). */
  socketFactory?: SocketFactory;
  /** Where exceptions thrown by event handlers go (default: rethrown
   * from a microtask, so the host reports them as uncaught). */
  onHandlerError?: HandlerErrorSink;
}

/** Close codes after which coming back would only be refused again. */
const FATAL_CLOSES = new Set<number>([CloseCode.Unauthorized, CloseCode.Kicked]);
const ABNORMAL = 1006;
const ROOM_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const HISTORY_MAX = 50;
const utf8 = new TextEncoder();

type Timer = ReturnType<typeof setTimeout>;

interface RoomOp {
  target: string | null; // the room, or null for leave()
  resolve: (r: RoomSnapshot) => void;
  reject: (e: unknown) => void;
  timer: Timer;
  unlisten: () => void;
}

/** A JOIN or LEAVE on the current socket, waiting for its answer. */
interface Request {
  target: string | null;
  ops: RoomOp[];
}

interface Outgoing {
  kind: ClientOp.Chat | ClientOp.Whisper;
  text: string;
  to: number;
  room: string | null; // a chat's room
  afterSeq: number; // the room's chat seq when it was sent
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: Timer | null;
}

/** What a (re)connect still waits for before the queue flows. */
type Sync =
  | "room" // the ROOM of a resumed session
  | "barrier" // the PONG of a ping sent as a barrier
  | "answer" // the answer to a JOIN/LEAVE that brings the room to the wish
  | "done";

export class PlazaClient extends Emitter<ClientEvents> {
  /** This session's id (changes only when a resume fails). */
  id = 0;
  /** The server's tick rate from WELCOME. */
  tickHz = 0;
  /** The room the server has this session in, as last heard, or null. */
  room: string | null = null;
  /** Members of the current room by id, the caller included, with the
   * positions of the latest STATE. Replaced, never changed in place: a
   * new map whenever anything in it changes, a new object for each
   * member that changed (React can memoise on identity). */
  members: ReadonlyMap<number, Member> = new Map();
  /** Last measured round trip in ms (ping()), NaN before the first. */
  rtt = NaN;
  status: Status = "idle";
  /** From the last `synced`: whether the last reconnect lost nothing. */
  recovered = true;

  private readonly opts: ConnectOptions;
  private readonly timeoutMs: number;
  private readonly buckets: ReturnType<typeof clientBuckets>;
  private readonly store: SessionStore | null;
  private readonly leaveOnPageHide: boolean;
  private factory: SocketFactory | null;
  private ws: SocketLike | null = null;
  private failure: FailureText | null = null; // the socket's error event
  private ready = false; // WELCOME received on the current socket
  private everOpen = false;
  private closed = false;
  private closeReason: { reason: string; code: number | undefined } = {
    reason: "",
    code: undefined,
  };
  private suspended = false; // the page is hidden
  private session: string | null = null;
  private triedResume = false;
  private attempt = 0;
  private retryTimer: Timer | null = null;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
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
  private outbox: Outgoing[] = [];
  private unconfirmed: Outgoing[] = [];
  private pumpTimer: Timer | null = null;
  private pendingMove: Move | null = null;
  private moveTimer: Timer | null = null;
  private moveSeq = 0;
  private oldIds = new Set<number>();
  private pings = new Map<number, { sent: number; resolve: (ms: number) => void; reject: (e: unknown) => void; timer: Timer }>();
  private pingId = 0;

  constructor(opts: ConnectOptions) {
    super();
    this.opts = opts;
    this.timeoutMs = opts.requestTimeoutMs ?? 15000;
    this.buckets = clientBuckets(opts.limits ?? {}, now);
    this.factory = opts.socketFactory ?? null;
    if (opts.onHandlerError) this.onHandlerError = opts.onHandlerError;
    const persist = opts.persistSession;
    this.store = persist
      ? SessionStore.open(persist === true ? {} : persist, opts.url, opts.name)
      : null;
    this.leaveOnPageHide =
      typeof persist === "object" ? persist.leaveOnPageHide ?? true : true;
    const saved = this.store?.load();
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
  get self(): Member | undefined {
    return this.members.get(this.id);
  }

  // ---- the API ---------------------------------------------------------

  /** Opens the connection; resolves on the first WELCOME. Rejects with a
   * ConnectionError when it fails (unless retryInitialConnect), a
   * RefusedError when the HELLO is refused, the signal's reason when it
   * aborts (the client is then closed), a ClosedError after close(). */
  connect(o: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.ready) return Promise.resolve();
    const signal = o.signal;
    if (signal?.aborted) {
      this.close({ leave: false });
      return Promise.reject(signal.reason);
    }
    const p = new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const reason = signal?.reason;
        this.connectWaiters = this.connectWaiters.filter((w) => w !== waiter);
        this.close({ leave: false });
        reject(reason);
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.connectWaiters.push(waiter);
    });
    if (this.status === "idle") {
      this.setStatus({ status: "connecting" });
      void this.openSocket();
    }
    return p;
  }

  /** Joins `room` (leaving the current one); resolves with its snapshot.
   * While reconnecting the wish is kept and carried out after the sync.
   * Rejects with a RefusedError (room_full, forbidden, invalid_argument,
   * rate_limited), a TimeoutError, a CancelledError when a later
   * join()/leave() replaced it before it could be sent, the signal's
   * reason, or a ClosedError. */
  join(room: string, o: { signal?: AbortSignal } = {}): Promise<RoomSnapshot> {
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
    this.pendingMove = m;
    this.sendMove();
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
    return this.enqueue(ClientOp.Chat, 0, text) as Promise<Chat>;
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
    return this.enqueue(ClientOp.Whisper, to, text) as Promise<void>;
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

  private roomOp(target: string | null, signal?: AbortSignal): Promise<RoomSnapshot> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<RoomSnapshot>((resolve, reject) => {
      const what = target === null ? "leave" : `join ${target}`;
      const op: RoomOp = {
        target,
        resolve,
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

  private snapshot(): RoomSnapshot {
    return {
      room: this.room ?? "",
      members: [...this.members.values()],
      history: [...this.history],
    };
  }

  // ---- chat, whispers, moves -------------------------------------------

  private enqueue(kind: Outgoing["kind"], to: number, text: string): Promise<unknown> {
    if (this.closed) return handled(Promise.reject(this.closedError()));
    const bytes = utf8.encode(text).length;
    if (bytes < 1 || bytes > 500)
      return handled(
        Promise.reject(
          refusedLocally(ErrorCode.invalid_argument, "text must be 1-500 bytes of UTF-8", kind),
        ),
      );
    const room = this.target();
    if (kind === ClientOp.Chat && room === null)
      return handled(
        Promise.reject(
          refusedLocally(ErrorCode.not_in_room, "chat outside a room", kind),
        ),
      );
    const p = new Promise((resolve, reject) => {
      this.outbox.push({
        kind,
        text,
        to,
        room,
        afterSeq: 0,
        resolve,
        reject,
        timer: null,
      });
    });
    this.pump();
    return handled(p);
  }

  /** The room the session will be in once what was sent is answered. */
  private target(): string | null {
    return this.wish === undefined ? this.room : this.wish;
  }

  private synced(): boolean {
    return this.ready && this.sync === "done" && this.ws?.readyState === OPEN;
  }

  /** Sends queued chat and whispers as the rate allows. */
  private pump(): void {
    if (!this.synced() || this.pumpTimer) return;
    while (this.outbox.length) {
      const m = this.outbox[0] as Outgoing;
      if (m.kind === ClientOp.Chat && m.room !== this.target()) {
        this.outbox.shift();
        m.reject(new CancelledError("room_changed", `chat for ${m.room}: the client left that room before it went out`));
        continue;
      }
      const wait = this.buckets.chat.wait();
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, wait);
        return;
      }
      this.buckets.chat.take();
      this.outbox.shift();
      if (m.kind === ClientOp.Whisper) {
        this.sendNow({ op: ClientOp.Whisper, to: m.to, text: m.text });
        m.resolve(undefined);
        continue;
      }
      m.afterSeq = this.chatRoom === m.room ? this.chatSeq : 0;
      this.sendNow({ op: ClientOp.Chat, text: m.text });
      this.awaitEcho(m);
    }
  }

  private awaitEcho(m: Outgoing): void {
    this.unconfirmed.push(m);
    m.timer = setTimeout(() => {
      this.unconfirmed = this.unconfirmed.filter((u) => u !== m);
      m.reject(new TimeoutError("chat", this.timeoutMs));
    }, this.timeoutMs);
  }

  /** The echo of one of our chats (or the line of it in a ROOM's
   * history) settles it. */
  private confirm(line: ChatLine): void {
    if (line.id !== this.id && !this.oldIds.has(line.id)) return;
    const i = this.unconfirmed.findIndex(
      (u) => u.text === line.text && u.room === this.room && line.seq > u.afterSeq,
    );
    if (i < 0) return;
    const [u] = this.unconfirmed.splice(i, 1) as [Outgoing];
    if (u.timer) clearTimeout(u.timer);
    u.resolve({ ...line });
  }

  private sendMove(): void {
    if (!this.pendingMove || !this.synced() || this.moveTimer) return;
    if (this.target() === null) return; // the spawn point of the next join
    const wait = this.buckets.move.wait();
    if (wait > 0) {
      this.moveTimer = setTimeout(() => {
        this.moveTimer = null;
        this.sendMove();
      }, wait);
      return;
    }
    this.buckets.move.take();
    this.sendNow(this.pendingMove);
    this.pendingMove = null;
  }

  private sendNow(m: ClientMessage): void {
    if (this.ws?.readyState === OPEN) this.ws.send(encodeClient(m));
  }

  // ---- the socket ------------------------------------------------------

  private async openSocket(): Promise<void> {
    let token: string | undefined;
    try {
      this.factory ??= await defaultSocketFactory();
    } catch (e) {
      this.terminate((e as Error).message, ABNORMAL, new ConnectionError((e as Error).message, ABNORMAL, undefined, e));
      return;
    }
    try {
      const t = this.opts.token;
      token = typeof t === "function" ? await t() : t;
    } catch (e) {
      if (!this.closed && !this.suspended)
        this.lost(ABNORMAL, `token: ${(e as Error)?.message ?? String(e)}`, e);
      return;
    }
    if (this.closed || this.suspended) return;
    let ws: SocketLike;
    try {
      ws = this.factory(this.opts.url, SUBPROTOCOL);
    } catch (e) {
      this.lost(ABNORMAL, (e as Error).message, e);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    this.failure = null;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = this.session ?? undefined;
      this.triedResume = resume !== undefined;
      // The seq belongs to chatRoom: a JOIN lost with the socket may have
      // moved the session elsewhere, where it would mean other lines.
      this.helloSeq = !!resume && this.chatRoom !== null && !this.joinUncertain;
      ws.send(
        encodeClient({
          op: ClientOp.Hello,
          version: PROTOCOL_VERSION,
          ...(token ? { token } : {}),
          ...(this.opts.name ? { name: this.opts.name } : {}),
          ...(resume ? { resume } : {}),
          ...(this.helloSeq ? { lastChatSeq: this.chatSeq } : {}),
        }),
      );
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.lost(ev.code, ev.reason);
    };
    ws.onerror = (ev) => {
      // The close event follows and decides; this says why, where it can.
      if (this.ws === ws) this.failure = describeFailure(ev);
    };
  }

  /** The socket is gone (or could not be made). */
  private lost(code: number, reason: string, cause?: unknown): void {
    const failure = this.failure;
    this.ws = null;
    this.ready = false;
    this.failure = null;
    this.stopSyncTimer();
    if (this.sent.length) {
      // Their answers went with the socket: the server may or may not
      // have carried them out.
      this.roomCertain = false;
      if (this.sent.some((r) => r.target !== null)) this.joinUncertain = true;
      this.sent = [];
    }
    for (const u of this.unconfirmed)
      if (u.timer) {
        clearTimeout(u.timer);
        u.timer = null;
      }
    const why =
      code === ABNORMAL && failure ? failure.text : reason || (cause as Error)?.message || "";
    for (const [t, p] of this.pings) {
      clearTimeout(p.timer);
      p.reject(new ConnectionError(`ping: connection lost (${code} ${why})`.trim(), code));
      this.pings.delete(t);
    }
    if (this.closed || this.suspended) return;
    if (!this.everOpen && !this.opts.retryInitialConnect) {
      const err = new ConnectionError(
        `connect failed: ${why || `close ${code}`}`,
        code,
        failure?.httpStatus,
        failure?.cause ?? cause,
      );
      this.terminate(why, code, err);
      return;
    }
    if (this.opts.reconnect === false || FATAL_CLOSES.has(code)) {
      this.store?.clear();
      this.terminate(why, code);
      return;
    }
    if (code === CloseCode.Normal && this.everOpen) {
      // "session resumed elsewhere": another tab (a duplicated one shares
      // sessionStorage) holds the session now. Taking it back would close
      // that one in turn, for ever: start a session of our own.
      this.session = null;
    }
    // Backoff with jitter from the first retry: a draining node (1001)
    // sends every client back at once, and they must not all land in the
    // same millisecond.
    const delayMs = backoffDelay(this.attempt, this.opts.reconnect ?? {});
    this.attempt++;
    this.setStatus({
      status: this.everOpen ? "reconnecting" : "connecting",
      attempt: this.attempt,
      delayMs,
      code,
      reason: why,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.openSocket();
    }, delayMs);
  }

  /** The end: everything pending rejects, nothing is retried. */
  private terminate(reason: string, code?: number, connectError?: PlazaError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = { reason, code };
    this.ready = false;
    this.unwatchPage();
    for (const t of [this.retryTimer, this.pumpTimer, this.moveTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.pumpTimer = this.moveTimer = null;
    this.stopSyncTimer();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(CloseCode.Normal, "bye");
      } catch {
        /* already closing */
      }
    }
    const err = this.closedError();
    for (const w of this.connectWaiters.splice(0)) w.reject(connectError ?? err);
    this.fail([...this.ops], err);
    this.sent = [];
    for (const m of [...this.outbox.splice(0), ...this.unconfirmed.splice(0)]) {
      if (m.timer) clearTimeout(m.timer);
      m.reject(err);
    }
    for (const p of this.pings.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pings.clear();
    this.pendingMove = null;
    this.setStatus(code === undefined ? { status: "closed", reason } : { status: "closed", code, reason });
  }

  private closedError(): ClosedError {
    return new ClosedError(this.closeReason.reason || "closed", this.closeReason.code);
  }

  private setStatus(ev: StatusEvent): void {
    this.status = ev.status;
    this.emit("status", ev);
  }

  // ---- the page --------------------------------------------------------

  private pageHidden(): void {
    if (this.closed || this.suspended) return;
    this.suspended = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
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
    if (this.closed || !this.suspended) return;
    this.suspended = false;
    this.attempt = 0;
    void this.openSocket();
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

  private onFrame(data: unknown): void {
    const bytes = messageBytes(data);
    if (!bytes) {
      this.localError("text frame from the server ignored");
      return;
    }
    let m: ServerMessage | null;
    try {
      m = decodeServer(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.localError(`malformed frame from the server ignored: ${e.message}`);
      return;
    }
    if (m) this.handle(m);
  }

  private localError(message: string): void {
    this.emit("error", {
      code: ErrorCode.bad_message,
      codeName: "bad_message",
      message,
      local: true,
    });
  }

  private handle(m: ServerMessage): void {
    switch (m.op) {
      case ServerOp.Welcome:
        return this.onWelcome(strip(m));
      case ServerOp.Room:
        return this.onRoom(strip(m));
      case ServerOp.Joined: {
        const member = strip(m);
        this.setMembers(new Map(this.members).set(member.id, member));
        this.emit("joined", member);
        this.emit("members", this.members);
        return;
      }
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

  private setMembers(next: Map<number, Member>): void {
    this.members = next;
  }

  private onWelcome(m: Welcome): void {
    if (this.id && m.id !== this.id) this.oldIds.add(this.id);
    this.id = m.id;
    this.session = m.session;
    this.tickHz = m.tickHz;
    this.ready = true;
    this.everOpen = true;
    this.attempt = 0;
    this.resumedNow = m.resumed;
    this.recoveredNow = m.resumed || !this.triedResume;
    this.save();
    this.emit("welcome", m);
    this.setStatus({ status: "open" });
    for (const w of this.connectWaiters.splice(0)) w.resolve();
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
    // Chat sent before the drop that no replay confirmed never got
    // there: it goes again (to its room only).
    const again = this.unconfirmed.splice(0);
    for (const u of again.reverse()) {
      if (u.room === this.room) this.outbox.unshift(u);
      else u.reject(new CancelledError("room_changed", `chat for ${u.room}: the session is no longer in that room`));
    }
    this.recovered = this.recoveredNow;
    this.save();
    this.emit("synced", { resumed: this.resumedNow, recovered: this.recovered, room: this.room });
    this.pump();
    this.sendMove();
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
    this.setMembers(new Map(m.members.map((x) => [x.id, x])));
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
    for (const h of m.history) this.confirm(h);
    if (answer && this.wish === undefined) this.wish = m.room;
    if (before !== m.room || !resumed) this.save();
    this.emit("room", { ...m, resumed });
    this.emit("members", this.members);
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
        this.setMembers(next);
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
    this.setMembers(new Map());
    this.emit("left", member ? { id: this.id, member, self: true } : { id: this.id, self: true });
    this.emit("members", this.members);
  }

  private onState(s: State): void {
    let next: Map<number, Member> | null = null;
    for (const e of s.entries) {
      const mem = (next ?? this.members).get(e.id);
      if (!mem || (mem.x === e.x && mem.y === e.y && mem.z === e.z && mem.yaw === e.yaw))
        continue;
      next ??= new Map(this.members);
      next.set(e.id, { id: mem.id, name: mem.name, x: e.x, y: e.y, z: e.z, yaw: e.yaw });
    }
    if (next) this.setMembers(next);
    this.emit("state", s);
    if (next) this.emit("members", this.members);
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
    this.confirm(m);
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
        }
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
      case ClientOp.Chat: {
        const u = this.unconfirmed.shift();
        if (u) {
          if (u.timer) clearTimeout(u.timer);
          u.reject(refused(m));
        }
        break;
      }
    }
    this.emit("error", m);
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

/** A promise whose rejection the host never reports as unhandled: for
 * fire-and-forget calls whose failures are events as well. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function strip<T extends { op: unknown }>(m: T): Omit<T, "op"> {
  const { op: _op, ...rest } = m;
  return rest;
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** A client that has not connected yet: attach listeners, then connect(). */
export function createClient(opts: ConnectOptions): PlazaClient {
  return new PlazaClient(opts);
}

/** Creates a client and connects it; resolves once the server says
 * WELCOME. `signal` aborts the attempt (the client is then closed). */
export async function connect(
  opts: ConnectOptions & { signal?: AbortSignal },
): Promise<PlazaClient> {
  const c = new PlazaClient(opts);
  await c.connect(opts.signal ? { signal: opts.signal } : {});
  return c;
}
