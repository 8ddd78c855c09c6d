/*
 * Every message of protocol v1 and 1.1 as a named type: the wire's tuples
 * become objects with named fields here, and nowhere else in the package.
 *
 * App values (member state, signal data, room state) are whatever the app
 * says they are: the shapes below are type parameters, so an app declares
 * them once and every call and event is typed by them. They are a
 * declaration, not a check: what arrives was sent by other clients, and
 * an app that cannot trust them validates them itself.
 */
import { ClientOp, ErrorCode, ServerOp } from "./protocol.js";

/** A member's state as an app declares it: key -> value (any MessagePack
 * value: numbers, strings, booleans, null, arrays, plain objects,
 * Uint8Array). Keys are 1-32 bytes of UTF-8. */
export type StateShape = Record<string, unknown>;
/** An app's signals: kind -> the type of its data. */
export type SignalShape = Record<string, unknown>;
/** An app's room state: key -> value. Keys are 1-64 bytes of UTF-8. */
export type RoomShape = Record<string, unknown>;

/** A change of member state: each key named is replaced, null deletes it. */
export type StatePatch<S extends object = StateShape> = {
  [K in keyof S]?: S[K] | null;
};

/** A member's state: any key may be absent. */
export type MemberState<S extends object = StateShape> = Readonly<Partial<S>>;

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
export interface Member<S extends object = StateShape> extends Readonly<Position> {
  readonly id: number;
  readonly name: string;
  /** Its state (protocol 1.1; `{}` from a server without it). */
  readonly state: MemberState<S>;
  /** True while the member is out of this client's view (a VIEW with a
   * radius, protocol 1.1): its position is the last one carried, and no
   * STATE moves it until it comes back in view. Absent otherwise (the
   * client's own entry never has it). */
  readonly outOfView?: true;
}

/** One key of a room's shared state. */
export interface RoomEntry<V = unknown> {
  readonly value: V;
  /** 1 when first set, +1 at every set (a delete included). */
  readonly version: number;
}

/** A room's state: key -> { value, version }. `get` is typed per key. */
export interface RoomStateMap<R extends object = RoomShape>
  extends ReadonlyMap<keyof R & string, RoomEntry<R[keyof R & string]>> {
  get<K extends keyof R & string>(key: K): RoomEntry<R[K]> | undefined;
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
  /** What the server has beyond protocol v1 ("state", "signal",
   * "room_state", ...); empty from a v1 server. */
  features: string[];
}

export interface RoomSnapshot<S extends object = StateShape, R extends object = RoomShape> {
  room: string;
  /** Everyone in the room, the joiner included. */
  members: Member<S>[];
  /** The room's recent chat, oldest first. */
  history: ChatLine[];
  /** The room's shared state (protocol 1.1; empty from a v1 server). */
  roomState: RoomStateMap<R>;
}

/** One member's position in a STATE, with the last MOVE seq applied. */
export interface StateEntry extends Position {
  id: number;
  seq: number;
}

export interface State {
  tick: number;
  entries: StateEntry[];
  /** True when it came as STATE_C (a VIEW with `compact`): positions are
   * within 1/128 unit of the server's, yaw within 1/512. */
  compact?: true;
}

/** A STATE_C as the codec gives it: its entries are read against the
 * connection's table of short ids (CompactTable), which the client keeps. */
export interface StateC {
  tick: number;
  /** How many entries `entries` holds. */
  n: number;
  /** The entries' bytes (docs/protocol.md, "Compact positions"). */
  entries: Uint8Array;
}

/** AWAY: members that left this client's view (still in the room). */
export interface Away {
  ids: number[];
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

/** MEMBER: member `id` changed its state by `patch` (null: deleted). */
export interface MemberPatch<S extends object = StateShape> {
  id: number;
  patch: StatePatch<S>;
}

/** A SIGNAL, typed by its kind: `data` is what the app declared for it. */
export type Signal<G extends object = SignalShape> = {
  [K in keyof G & string]: {
    /** The sender's id (0: the server's admin API). */
    from: number;
    name: string;
    kind: K;
    data: G[K];
    tsMs: number;
  };
}[keyof G & string];

/** ROOM_STATE: one key of the room's state changed. */
export type RoomStateChange<R extends object = RoomShape> = {
  [K in keyof R & string]: {
    key: K;
    /** The new value; null when the key was deleted. */
    value: R[K] | null;
    version: number;
    /** The session that set it (0: the server). */
    by: number;
  };
}[keyof R & string];

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
  /** conflict (12): the room state key and its current version (0: absent). */
  key?: string;
  version?: number;
}

export type ServerMessage =
  | ({ op: ServerOp.Welcome } & Welcome)
  | ({ op: ServerOp.Room } & RoomSnapshot)
  | ({ op: ServerOp.Joined } & Member)
  | ({ op: ServerOp.Member } & MemberPatch)
  | ({ op: ServerOp.Signal } & Signal)
  | ({ op: ServerOp.RoomState } & RoomStateChange)
  | { op: ServerOp.Left; id: number }
  | ({ op: ServerOp.State } & State)
  | ({ op: ServerOp.StateC } & StateC)
  | ({ op: ServerOp.Away } & Away)
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
  /** The member's initial state (protocol 1.1); used for a new session. */
  state?: StateShape;
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

export interface SetSend {
  op: ClientOp.Set;
  patch: StatePatch;
}

export interface SignalSend {
  op: ClientOp.Signal;
  /** null: every other member of the room. */
  to: number | null;
  kind: string;
  data: unknown;
}

export interface RoomSetSend {
  op: ClientOp.RoomSet;
  key: string;
  /** null deletes the key. */
  value: unknown;
  /** Applies only if the key is at this version (0: absent). */
  ifVersion?: number;
}

/** What a client wants of positions (protocol 1.1): only the members
 * within `radius` (x, z) of itself, 0 for the whole room; as STATE_C when
 * `compact`. */
export interface ViewSend {
  op: ClientOp.View;
  radius: number;
  compact: boolean;
}

export type ClientMessage =
  | Hello
  | Join
  | Leave
  | Move
  | ChatSend
  | WhisperSend
  | Ping
  | SetSend
  | SignalSend
  | RoomSetSend
  | ViewSend;
