/*
 * Every message of protocol v1 as a named type: the wire's tuples become
 * objects with named fields here, and nowhere else in the package.
 */
import { ClientOp, ErrorCode, ServerOp } from "./protocol.js";

/** Where an avatar is: x/y/z in world units, yaw in radians. */
export interface Position {
  x: number;
  y: number;
  z: number;
  yaw: number;
}

/** A member of a room as ROOM and JOINED describe it. The client's
 * `members` map holds these as immutable snapshots: a change makes a new
 * object, so React can compare them by identity. */
export interface Member extends Readonly<Position> {
  readonly id: number;
  readonly name: string;
}

/** One CHAT message, live or from a room's history. */
export interface ChatLine {
  seq: number;
  id: number;
  name: string;
  text: string;
  tsMs: number;
}

// ---- server -> client -------------------------------------------------
// Each message as the app sees it, without the wire's op: the events
// carry these. ServerMessage below adds the op for the codec.

export interface Welcome {
  id: number;
  session: string;
  tickHz: number;
  serverTimeMs: number;
  resumed: boolean;
}

export interface RoomSnapshot {
  room: string;
  /** Everyone in the room, the joiner included. */
  members: Member[];
  /** The room's recent chat, oldest first. */
  history: ChatLine[];
}

/** One member's position in a STATE, with the last MOVE seq applied. */
export interface StateEntry extends Position {
  id: number;
  seq: number;
}

export interface State {
  tick: number;
  entries: StateEntry[];
}

export type Chat = ChatLine;

export interface Whisper {
  from: number;
  name: string;
  text: string;
  tsMs: number;
}

export interface Pong {
  t: unknown;
  serverTimeMs: number;
}

/** An ERROR from the server, or (`local`) a frame the client dropped. */
export interface ErrorMessage {
  code: ErrorCode;
  /** The protocol's name of the code ("room_full"). */
  codeName: string;
  message: string;
  /** The client op that caused it, when the server says. */
  requestOp?: ClientOp;
  /** Set when this client raised it (a malformed frame from the server)
   * rather than the server sending it. */
  local?: true;
}

export type ServerMessage =
  | ({ op: ServerOp.Welcome } & Welcome)
  | ({ op: ServerOp.Room } & RoomSnapshot)
  | ({ op: ServerOp.Joined } & Member)
  | { op: ServerOp.Left; id: number }
  | ({ op: ServerOp.State } & State)
  | ({ op: ServerOp.Chat } & Chat)
  | ({ op: ServerOp.Whisper } & Whisper)
  | ({ op: ServerOp.Pong } & Pong)
  | ({ op: ServerOp.Error } & ErrorMessage);

// ---- client -> server -------------------------------------------------

export interface Hello {
  op: ClientOp.Hello;
  version: number;
  token?: string;
  name?: string;
  resume?: string;
  lastChatSeq?: number;
}

export interface Join {
  op: ClientOp.Join;
  room: string;
}

export interface Leave {
  op: ClientOp.Leave;
}

export interface Move extends Position {
  op: ClientOp.Move;
  seq: number;
}

export interface ChatSend {
  op: ClientOp.Chat;
  text: string;
}

export interface WhisperSend {
  op: ClientOp.Whisper;
  to: number;
  text: string;
}

export interface Ping {
  op: ClientOp.Ping;
  t: unknown;
}

export type ClientMessage =
  | Hello
  | Join
  | Leave
  | Move
  | ChatSend
  | WhisperSend
  | Ping;
