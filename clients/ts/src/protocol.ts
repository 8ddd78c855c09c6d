/*
 * The constants of plaza protocol v1, spelled as docs/protocol.md spells
 * them. test/protocol-doc.test.mjs reads that document and fails when a
 * number or a name here disagrees with it, so the two cannot drift apart.
 */

export const PROTOCOL_VERSION = 1;

/** WebSocket subprotocol the server selects when offered. */
export const SUBPROTOCOL = "plaza.v1";

/** Ops a client sends (element 0 of the array). */
export enum ClientOp {
  Hello = 1,
  Join = 2,
  Leave = 3,
  Move = 4,
  Chat = 5,
  Whisper = 6,
  Ping = 7,
  // protocol 1.1 (WELCOME's features say which the server has)
  /** [8, patch]: change this member's state ("state"). */
  Set = 8,
  /** [9, to, kind, data]: an app-defined message ("signal"). */
  Signal = 9,
  /** [10, key, value, if_version?]: one key of the room's state ("room_state"). */
  RoomSet = 10,
  /** [11, {radius, compact}]: what positions to receive ("view"). */
  View = 11,
}

/** Ops the server sends. */
export enum ServerOp {
  Welcome = 1,
  Room = 2,
  Joined = 3,
  Left = 4,
  State = 5,
  Chat = 6,
  Whisper = 7,
  Pong = 8,
  Error = 9,
  // protocol 1.1
  /** [10, id, patch]: a member's state changed. */
  Member = 10,
  /** [11, from_id, name, kind, data, ts_ms] */
  Signal = 11,
  /** [12, key, value, version, by_id]: one key of the room's state changed. */
  RoomState = 12,
  /** [13, [id, ...]]: members that left this client's view ("view"). */
  Away = 13,
  /** [14, tick, n, entries]: the compact STATE ("compact"; compact.ts). */
  StateC = 14,
}

/**
 * Codes of the ERROR op. Member names are the document's names, so
 * `ErrorCode[code]` is the protocol name of a code ("room_full").
 */
export enum ErrorCode {
  bad_message = 1,
  unknown_op = 2,
  not_in_room = 3,
  rate_limited = 4,
  room_full = 5,
  invalid_argument = 6,
  not_found = 7,
  /** JOIN of a room the auth token does not allow; too many sessions. */
  forbidden = 8,
  session_expired = 9,
  overloaded = 10,
  move_rejected = 11,
  /** ROOM_SET's if_version is not the key's version (ConflictError). */
  conflict = 12,
}

/** WELCOME's `features` (protocol 1.1): what the server has beyond v1. */
export type Feature = "state" | "signal" | "room_state" | "view" | "compact";

/** WebSocket close codes plaza uses. */
export enum CloseCode {
  Normal = 1000,
  GoingAway = 1001,
  ProtocolError = 1002,
  UnsupportedData = 1003,
  MessageTooBig = 1009,
  InternalError = 1011,
  HelloExpected = 4000,
  Unauthorized = 4001,
  TooManyMalformed = 4002,
  Kicked = 4003,
  SlowConsumer = 4004,
}

/** The protocol name of an error code; "error_<n>" for codes this
 * version does not know (the protocol may grow). */
export function errorName(code: number): string {
  const name = (ErrorCode as unknown as Record<number, string | undefined>)[
    code
  ];
  return name ?? `error_${code}`;
}
