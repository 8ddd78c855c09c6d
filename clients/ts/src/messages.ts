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

/** A member of a room as ROOM and JOINED describe it. */
export interface Member extends Position {
  id: number;
  name: string;
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

export interface Welcome {
  op: ServerOp.Welcome;
  id: number;
  session: string;
  tickHz: number;
  serverTimeMs: number;
  resumed: boolean;
}

export interface RoomSnapshot {
  op: ServerOp.Room;
  room: string;
  /** Everyone in the room, the joiner included. */
  members: Member[];
  /** The room's recent chat, oldest first. */
  history: ChatLine[];
}

export interface Joined extends Member {
  op: ServerOp.Joined;
}

export interface Left {
  op: ServerOp.Left;
  id: number;
}

/** One member's position in a STATE, with the last MOVE seq applied. */
export interface StateEntry extends Position {
  id: number;
  seq: number;
}

export interface State {
  op: ServerOp.State;
  tick: number;
  entries: StateEntry[];
}

export interface Chat extends ChatLine {
  op: ServerOp.Chat;
}

export interface Whisper {
  op: ServerOp.Whisper;
  from: number;
  name: string;
  text: string;
  tsMs: number;
}

export interface Pong {
  op: ServerOp.Pong;
  t: unknown;
  serverTimeMs: number;
}

export interface ErrorMessage {
  op: ServerOp.Error;
  code: ErrorCode;
  /** The protocol's name of the code ("room_full"). */
  name: string;
  message: string;
  /** The client op that caused it, when the server says. */
  requestOp?: ClientOp;
  /** Set when this client raised it (a malformed frame from the server)
   * rather than the server sending it. */
  local?: true;
}

export type ServerMessage =
  | Welcome
  | RoomSnapshot
  | Joined
  | Left
  | State
  | Chat
  | Whisper
  | Pong
  | ErrorMessage;

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
