/*
 * What a PlazaClient is given (ConnectOptions) and what it tells
 * (ClientEvents and their payloads).
 */
import type { BackoffOptions } from "./backoff.js";
import type { RateLimits } from "./bucket.js";
import type { HandlerErrorSink } from "./emitter.js";
import type {
  Chat,
  ErrorMessage,
  Member,
  RoomShape,
  RoomStateChange,
  RoomStateMap,
  RoomSnapshot,
  Signal,
  SignalShape,
  State,
  StatePatch,
  StateShape,
  Welcome,
  Whisper,
} from "./messages.js";
import type { PersistOptions } from "./session-store.js";
import type { SocketFactory } from "./transport.js";
import type { ViewOptions } from "./view.js";

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
export interface RoomEvent<S extends object = StateShape, R extends object = RoomShape>
  extends RoomSnapshot<S, R> {
  /** True when it restores the room a resumed session was in: the server
   * kept the session's place (a Predictor keeps its prediction). */
  resumed: boolean;
}

export interface LeftEvent<S extends object = StateShape> {
  id: number;
  /** The member as last known, when it was. */
  member?: Member<S>;
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

/** MEMBER: a member's state changed (yours included, once the server
 * applied your SET). */
export interface MemberEvent<S extends object = StateShape> {
  id: number;
  /** The change as the member sent it (null: the key was deleted). */
  patch: StatePatch<S>;
  /** The member with its new state (the object now in `members`). */
  member: Member<S>;
}

/** AWAY: members that left this client's view (a VIEW with a radius).
 * They stay in `members` at their last position, with `outOfView: true`,
 * until a STATE carries them again. */
export interface AwayEvent<S extends object = StateShape> {
  /** The ids the server named. */
  ids: number[];
  /** Those of them in `members`, as they are there now (flagged). */
  members: Member<S>[];
}

/** `roomState` changed. */
export interface RoomStateEvent<R extends object = RoomShape> {
  /** The room's state after the change (the map now in `roomState`). */
  state: RoomStateMap<R>;
  /** The key that changed (a ROOM_STATE); null when the whole map was
   * replaced: a ROOM (join, rejoin, resume), or the client left its room. */
  change: RoomStateChange<R> | null;
}

export interface ClientEvents<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
> {
  status: StatusEvent;
  welcome: Welcome;
  synced: SyncedEvent;
  room: RoomEvent<S, R>;
  joined: Member<S>;
  left: LeftEvent<S>;
  /** `members` changed (a new map; unchanged members keep their object). */
  members: ReadonlyMap<number, Member<S>>;
  /** A member's state changed. */
  member: MemberEvent<S>;
  /** Positions: a STATE, or a STATE_C read into the same shape. */
  state: State;
  /** Members left this client's view (protocol 1.1 VIEW). */
  away: AwayEvent<S>;
  chat: Chat;
  whisper: Whisper;
  /** A SIGNAL to you or to your room. */
  signal: Signal<G>;
  /** The room's shared state changed. */
  roomState: RoomStateEvent<R>;
  error: ErrorMessage;
  rtt: number;
}

/** An initial member state: the keys the app gives. */
export type MemberStateInit<S extends object = StateShape> = Partial<S>;

/** A JWT, or a function giving one (called before every connection, so a
 * reconnect after the old token expired presents a fresh one). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ConnectOptions<S extends object = StateShape> {
  /** ws:// or wss:// URL of the server's /ws endpoint. */
  url: string;
  /** Display name (1–32 bytes of UTF-8); the server picks guest-<id> without. */
  name?: string;
  /** The member's initial state (protocol 1.1), sent in HELLO: the room
   * sees it from the first JOINED. Later changes: setState(). */
  state?: MemberStateInit<S>;
  /** What to receive of positions (protocol 1.1 VIEW): only the
   * members within `radius` of the client, and/or compact positions;
   * sent after every WELCOME. Bad options throw (createClient) or reject
   * (connect) with a RefusedError; a server without "view" (or
   * "compact") makes the first connect() reject. See setView(). */
  view?: ViewOptions | null;
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
  /** The server's rate and size limits, when not plaza's defaults: the
   * client paces chat, whispers, moves, sets and signals under them, and
   * refuses itself what the server would refuse for its size. */
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
