/*
 * PlazaClient: one session with a plaza server, kept alive across dropped
 * sockets. The application talks to it in objects and promises; the
 * tuples, seqs, session tokens and reconnects stay in here.
 */
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { DecodeError, decodeServer, encodeClient } from "./codec.js";
import { Emitter, type HandlerErrorSink } from "./emitter.js";
import { PlazaError } from "./errors.js";
import type {
  Chat,
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
  defaultSocketFactory,
  messageBytes,
  OPEN,
  type SocketFactory,
  type SocketLike,
} from "./transport.js";

export type Status = "connecting" | "open" | "reconnecting" | "closed";

export interface StatusEvent {
  status: Status;
  /** reconnecting: the attempt about to be made (1-based) and its delay. */
  attempt?: number;
  delayMs?: number;
  /** reconnecting / closed: the close code and reason of the lost socket. */
  code?: number;
  reason?: string;
}

export interface LeftEvent {
  id: number;
  /** The member as last known, when it was. */
  member?: Member;
  /** True when this client left (LEAVE answered, or the room was lost). */
  self: boolean;
}

export interface ClientEvents {
  welcome: Welcome;
  room: RoomSnapshot;
  joined: Member;
  left: LeftEvent;
  state: State;
  chat: Chat;
  whisper: Whisper;
  error: ErrorMessage;
  status: StatusEvent;
  rtt: number;
}

export interface ConnectOptions {
  /** ws:// or wss:// URL of the server's /ws endpoint. */
  url: string;
  /** Display name (1–32 bytes of UTF-8); the server picks guest-<id> without. */
  name?: string;
  /** JWT for servers with an auth secret. */
  token?: string;
  /** Reconnect backoff, or false to give up when the socket drops. */
  reconnect?: BackoffOptions | false;
  /** How long join() waits for its ROOM (default 15 s, reconnects included). */
  joinTimeoutMs?: number;
  /** Another WebSocket implementation (tests, React Native...). */
  socketFactory?: SocketFactory;
  /** Where exceptions thrown by event handlers go (default: rethrown
   * from a microtask, so the host reports them as uncaught). */
  onHandlerError?: HandlerErrorSink;
}

/** Close codes after which coming back would only be refused again. */
const FATAL_CLOSES = new Set<number>([CloseCode.Unauthorized, CloseCode.Kicked]);

interface PendingJoin {
  room: string;
  resolve: (r: RoomSnapshot) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PlazaClient extends Emitter<ClientEvents> {
  /** This session's id (changes only when a resume fails). */
  id = 0;
  /** The server's tick rate from WELCOME. */
  tickHz = 0;
  /** The room the server has this session in, or null. */
  room: string | null = null;
  /** Members of the current room by id, the caller included, with the
   * positions of the latest STATE. */
  readonly members = new Map<number, Member>();
  /** Last measured round trip in ms (ping()), NaN before the first. */
  rtt = NaN;
  status: Status = "connecting";

  private readonly opts: ConnectOptions;
  private readonly factory: SocketFactory;
  private ws: SocketLike | null = null;
  private session: string | null = null;
  private ready = false; // WELCOME received on the current socket
  private gated = false; // after a reconnect, until the room is back
  private resumingRoom = false; // a resumed session's ROOM is on its way
  private desiredRoom: string | null = null;
  private joinSent: string | null = null;
  private joins: PendingJoin[] = [];
  private leaves: Array<() => void> = [];
  private queue: ClientMessage[] = []; // chat and whispers while away
  private pendingMove: ClientMessage | null = null; // latest move while away
  private moveSeq = 0;
  private lastChatSeq = 0;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closedByUser = false;
  private pings = new Map<number, { sent: number; done: (ms: number) => void }>();
  private pingId = 0;
  private started: {
    resolve: () => void;
    reject: (e: Error) => void;
  } | null = null;

  constructor(opts: ConnectOptions, factory: SocketFactory) {
    super();
    this.opts = opts;
    this.factory = factory;
    if (opts.onHandlerError) this.onHandlerError = opts.onHandlerError;
  }

  /** Opens the first connection; resolves on WELCOME. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.started = { resolve, reject };
      this.setStatus({ status: "connecting" });
      this.openSocket();
    });
  }

  /** The caller's own member entry while in a room. */
  get self(): Member | undefined {
    return this.members.get(this.id);
  }

  // ---- the API ---------------------------------------------------------

  /** Joins `room` (leaving the current one); resolves with its snapshot,
   * rejects with a PlazaError (room_full, invalid_argument). */
  join(room: string): Promise<RoomSnapshot> {
    this.desiredRoom = room;
    return new Promise((resolve, reject) => {
      const p: PendingJoin = {
        room,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.joins = this.joins.filter((j) => j !== p);
          reject(new Error(`join ${room}: no answer in time`));
        }, this.opts.joinTimeoutMs ?? 15000),
      };
      this.joins.push(p);
      if (this.ready && !this.gated) this.sendJoin(room);
    });
  }

  /** Leaves the current room; resolves once the server confirms. */
  leave(): Promise<void> {
    this.desiredRoom = null;
    if (!this.ready || this.gated || this.room === null) {
      // Away or not in a room: the room is dropped locally, and a resumed
      // session that comes back in it is taken out (see onRoom).
      this.dropRoom();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.leaves.push(resolve);
      this.sendNow({ op: ClientOp.Leave });
    });
  }

  /** Sends the caller's position; returns the MOVE's seq. While
   * reconnecting only the latest position is kept. */
  move(p: Position): number {
    const m: Move = {
      op: ClientOp.Move,
      seq: ++this.moveSeq,
      x: p.x,
      y: p.y,
      z: p.z,
      yaw: p.yaw,
    };
    if (this.canSend()) this.sendNow(m);
    else this.pendingMove = m;
    return m.seq;
  }

  /** Says `text` to the room; queued while reconnecting. */
  chat(text: string): void {
    this.sendOrQueue({ op: ClientOp.Chat, text });
  }

  /** Says `text` to session `to` only; queued while reconnecting. */
  whisper(to: number, text: string): void {
    this.sendOrQueue({ op: ClientOp.Whisper, to, text });
  }

  /** Measures the round trip with PING/PONG; resolves with it in ms. */
  ping(): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.canSend()) {
        reject(new Error("not connected"));
        return;
      }
      const t = ++this.pingId;
      this.pings.set(t, { sent: now(), done: resolve });
      this.sendNow({ op: ClientOp.Ping, t });
    });
  }

  /** Closes for good. With leave (the default) the room sees LEFT at
   * once; without, the server keeps the session for its grace period. */
  close(options: { leave?: boolean } = {}): void {
    if (this.closedByUser) return;
    if ((options.leave ?? true) && this.ready && this.room !== null)
      this.sendNow({ op: ClientOp.Leave });
    this.closedByUser = true;
    if (this.timer) clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(CloseCode.Normal, "bye");
    this.shutdown({ status: "closed", code: CloseCode.Normal });
  }

  // ---- sending ---------------------------------------------------------

  private canSend(): boolean {
    return this.ready && !this.gated && this.ws?.readyState === OPEN;
  }

  private sendNow(m: ClientMessage): void {
    if (this.ws?.readyState === OPEN) this.ws.send(encodeClient(m));
  }

  private sendOrQueue(m: ClientMessage): void {
    if (this.canSend()) this.sendNow(m);
    else this.queue.push(m);
  }

  private sendJoin(room: string): void {
    this.joinSent = room;
    this.sendNow({ op: ClientOp.Join, room });
  }

  /** Sends what waited for the connection (and the room) to come back. */
  private flush(): void {
    this.gated = false;
    const queued = this.queue;
    this.queue = [];
    for (const m of queued) this.sendNow(m);
    if (this.pendingMove && this.room !== null) this.sendNow(this.pendingMove);
    this.pendingMove = null;
  }

  // ---- the socket ------------------------------------------------------

  private openSocket(): void {
    let ws: SocketLike;
    try {
      ws = this.factory(this.opts.url, SUBPROTOCOL);
    } catch (e) {
      this.lost(CloseCode.InternalError, (e as Error).message);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = this.session ?? undefined;
      ws.send(
        encodeClient({
          op: ClientOp.Hello,
          version: PROTOCOL_VERSION,
          ...(this.opts.token ? { token: this.opts.token } : {}),
          ...(this.opts.name ? { name: this.opts.name } : {}),
          ...(resume ? { resume, lastChatSeq: this.lastChatSeq } : {}),
        }),
      );
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.lost(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* the close event follows and decides */
    };
  }

  private lost(code: number, reason: string): void {
    this.ws = null;
    this.ready = false;
    for (const p of this.pings.values()) p.done(NaN);
    this.pings.clear();
    if (this.closedByUser) return;
    if (this.started) {
      // The first connection never got its WELCOME: tell the caller.
      const s = this.started;
      this.started = null;
      this.shutdown({ status: "closed", code, reason });
      s.reject(new Error(`connect failed: close ${code} ${reason}`.trim()));
      return;
    }
    if (this.opts.reconnect === false || FATAL_CLOSES.has(code)) {
      this.shutdown({ status: "closed", code, reason });
      return;
    }
    this.gated = true;
    this.joinSent = null;
    // A draining node (1001) asks us to come back at once, elsewhere.
    const delayMs =
      code === CloseCode.GoingAway && this.attempt === 0
        ? 0
        : backoffDelay(this.attempt, this.opts.reconnect ?? {});
    this.attempt++;
    this.setStatus({
      status: "reconnecting",
      attempt: this.attempt,
      delayMs,
      code,
      reason,
    });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closedByUser) this.openSocket();
    }, delayMs);
  }

  private shutdown(ev: StatusEvent): void {
    this.closedByUser = true;
    this.ready = false;
    for (const j of this.joins) {
      clearTimeout(j.timer);
      j.reject(new Error("connection closed"));
    }
    this.joins = [];
    this.setStatus(ev);
  }

  private setStatus(ev: StatusEvent): void {
    this.status = ev.status;
    this.emit("status", ev);
  }

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
      op: ServerOp.Error,
      code: ErrorCode.bad_message,
      name: "bad_message",
      message,
      local: true,
    });
  }

  // ---- what the server says --------------------------------------------

  private handle(m: ServerMessage): void {
    switch (m.op) {
      case ServerOp.Welcome:
        return this.onWelcome(m);
      case ServerOp.Room:
        return this.onRoom(m);
      case ServerOp.Joined: {
        const { op: _op, ...member } = m;
        this.members.set(member.id, member);
        this.emit("joined", member);
        return;
      }
      case ServerOp.Left:
        return this.onLeft(m.id);
      case ServerOp.State:
        for (const e of m.entries) {
          const mem = this.members.get(e.id);
          if (mem) Object.assign(mem, { x: e.x, y: e.y, z: e.z, yaw: e.yaw });
        }
        this.emit("state", m);
        return;
      case ServerOp.Chat:
        // A resume replays what we may have seen already: seq says.
        if (m.seq <= this.lastChatSeq) return;
        this.lastChatSeq = m.seq;
        this.emit("chat", m);
        return;
      case ServerOp.Whisper:
        this.emit("whisper", m);
        return;
      case ServerOp.Pong: {
        const p = typeof m.t === "number" ? this.pings.get(m.t) : undefined;
        if (!p || typeof m.t !== "number") return;
        this.pings.delete(m.t);
        this.rtt = now() - p.sent;
        p.done(this.rtt);
        this.emit("rtt", this.rtt);
        return;
      }
      case ServerOp.Error:
        return this.onError(m);
    }
  }

  private onWelcome(m: Welcome): void {
    this.id = m.id;
    this.session = m.session;
    this.tickHz = m.tickHz;
    this.ready = true;
    this.attempt = 0;
    // A resumed session is still in its room and ROOM follows; a fresh
    // one is in none and must join again.
    this.resumingRoom = m.resumed && this.room !== null;
    if (!m.resumed) {
      this.room = null;
      this.members.clear();
    }
    this.emit("welcome", m);
    this.setStatus({ status: "open" });
    if (this.started) {
      this.started.resolve();
      this.started = null;
    }
    if (this.resumingRoom) return; // onRoom goes on
    if (this.desiredRoom !== null) this.sendJoin(this.desiredRoom);
    else this.flush();
  }

  private onRoom(m: RoomSnapshot): void {
    const resumed = this.resumingRoom;
    this.resumingRoom = false;
    this.room = m.room;
    this.members.clear();
    for (const mem of m.members) this.members.set(mem.id, { ...mem });
    // After a resume the server replays chat past lastChatSeq, so keep it;
    // a fresh join starts from the history the snapshot carries.
    if (!resumed)
      this.lastChatSeq = m.history.reduce((s, h) => Math.max(s, h.seq), 0);
    if (this.joinSent === m.room) this.joinSent = null;
    const done = this.joins.filter((j) => j.room === m.room);
    this.joins = this.joins.filter((j) => j.room !== m.room);
    this.emit("room", m);
    for (const j of done) {
      clearTimeout(j.timer);
      j.resolve(m);
    }
    if (this.desiredRoom === m.room) {
      if (this.gated) this.flush();
    } else if (this.desiredRoom === null) {
      this.sendNow({ op: ClientOp.Leave }); // left while we were away
    } else if (this.joinSent !== this.desiredRoom) {
      this.sendJoin(this.desiredRoom); // joined elsewhere while away
    }
  }

  private onLeft(id: number): void {
    if (id !== this.id) {
      const member = this.members.get(id);
      this.members.delete(id);
      this.emit("left", member ? { id, member, self: false } : { id, self: false });
      return;
    }
    const member = this.members.get(id);
    this.dropRoom();
    const leaves = this.leaves;
    this.leaves = [];
    for (const l of leaves) l();
    this.emit("left", member ? { id, member, self: true } : { id, self: true });
    if (this.gated && this.desiredRoom === null) this.flush();
  }

  private dropRoom(): void {
    this.room = null;
    this.members.clear();
  }

  private onError(m: ErrorMessage): void {
    if (m.requestOp === ClientOp.Join && this.joins.length) {
      const j = this.joins.shift() as PendingJoin;
      clearTimeout(j.timer);
      this.joinSent = null;
      if (m.code === ErrorCode.room_full) {
        // The server took us out of the old room before refusing the new.
        this.dropRoom();
      }
      this.desiredRoom = this.room;
      j.reject(PlazaError.from(m));
    } else if (m.requestOp === ClientOp.Hello && this.started) {
      // A refused first HELLO (bad name, version, server full).
      const s = this.started;
      this.started = null;
      this.emit("error", m);
      this.close({ leave: false });
      s.reject(PlazaError.from(m));
      return;
    } else if (m.requestOp === ClientOp.Leave && this.leaves.length) {
      const leaves = this.leaves;
      this.leaves = [];
      for (const l of leaves) l(); // not in a room: what leave() wanted
    }
    this.emit("error", m);
  }
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** Connects, says HELLO and resolves once the server says WELCOME. */
export async function connect(opts: ConnectOptions): Promise<PlazaClient> {
  const factory = opts.socketFactory ?? (await defaultSocketFactory());
  const c = new PlazaClient(opts, factory);
  await c.start();
  return c;
}
