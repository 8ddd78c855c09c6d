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
  RoomSnapshot,
  State,
  Welcome,
  Whisper,
} from "./messages.js";
import type { PersistOptions } from "./session-store.js";
import type { SocketFactory } from "./transport.js";

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
