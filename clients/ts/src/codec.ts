/*
 * Wire <-> objects. decodeServer checks every field it reads, because a
 * frame from the network is untrusted input: a bad one throws DecodeError
 * (which the client turns into an `error` event), never a TypeError deep
 * inside the application's handlers.
 */
import { Decoder, encode } from "@msgpack/msgpack";
import type {
  ChatLine,
  ClientMessage,
  Member,
  RoomEntry,
  RoomStateMap,
  ServerMessage,
  StateEntry,
  StateShape,
} from "./messages.js";
import { ClientOp, ErrorCode, errorName, PROTOCOL_VERSION, ServerOp } from "./protocol.js";

export class DecodeError extends Error {
  override name = "DecodeError";
  /** The op of the message that could not be read, when it could be. */
  op?: number;
}

// ---- encoding ---------------------------------------------------------

/** The tuple of a client message, trailing nils trimmed. */
export function clientTuple(m: ClientMessage): unknown[] {
  switch (m.op) {
    case ClientOp.Hello: {
      const t: unknown[] = [
        ClientOp.Hello,
        m.version ?? PROTOCOL_VERSION,
        m.token ?? null,
        m.name ?? null,
        m.resume ?? null,
        m.lastChatSeq ?? null,
        m.state ?? null,
      ];
      while (t.length > 2 && t[t.length - 1] === null) t.pop();
      return t;
    }
    case ClientOp.Join:
      return [m.op, m.room];
    case ClientOp.Leave:
      return [m.op];
    case ClientOp.Move:
      return [m.op, m.seq, m.x, m.y, m.z, m.yaw];
    case ClientOp.Chat:
      return [m.op, m.text];
    case ClientOp.Whisper:
      return [m.op, m.to, m.text];
    case ClientOp.Ping:
      return [m.op, m.t];
    case ClientOp.Set:
      return [m.op, m.patch];
    case ClientOp.Signal:
      return [m.op, m.to, m.kind, m.data ?? null];
    case ClientOp.RoomSet:
      return m.ifVersion === undefined
        ? [m.op, m.key, m.value ?? null]
        : [m.op, m.key, m.value ?? null, m.ifVersion];
    case ClientOp.View:
      return [m.op, { radius: m.radius, compact: m.compact }];
  }
}

export function encodeClient(m: ClientMessage): Uint8Array {
  return encode(clientTuple(m));
}

// ---- decoding ---------------------------------------------------------

function num(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "bigint") return Number(v);
  throw new DecodeError(`${what}: number expected`);
}

function str(v: unknown, what: string): string {
  if (typeof v === "string") return v;
  throw new DecodeError(`${what}: string expected`);
}

function arr(v: unknown, what: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw new DecodeError(`${what}: array expected`);
}

/*
 * Maps decode into plain objects, and @msgpack/msgpack refuses a map key
 * "__proto__" by failing the whole message. Any client may set a member
 * state or room state key of that name (the server allows every UTF-8
 * key), and one such key must not make every ROOM of the room unreadable
 * to every plaza-client. So the key is read as PROTO_KEY instead, and the
 * top level of states, patches and room states leaves it out: nothing
 * an app declares can be called "__proto__" anyway. Nested values keep it
 * under PROTO_KEY.
 */
export const PROTO_KEY = "\u0000__proto__";
const PROTO_LEN = 9; // bytes of "__proto__"
const utf8 = new TextDecoder();
const decoder = new Decoder({
  keyDecoder: {
    canBeCached: (n: number) => n === PROTO_LEN,
    decode: (bytes: Uint8Array, at: number, n: number) => {
      const key = utf8.decode(bytes.subarray(at, at + n));
      return key === "__proto__" ? PROTO_KEY : key;
    },
  } as unknown as NonNullable<ConstructorParameters<typeof Decoder>[0]>["keyDecoder"],
});

/** A MessagePack map as the decoder gives it: a plain object. */
export function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function map(v: unknown, what: string): Record<string, unknown> {
  if (!isMap(v)) throw new DecodeError(`${what}: map expected`);
  if (Object.hasOwn(v, PROTO_KEY)) delete v[PROTO_KEY];
  return v;
}

/** A member state or a patch; absent (a v1 server) is the empty state. */
function stateMap(v: unknown, what: string): StateShape {
  return v == null ? {} : map(v, what);
}

function member(v: unknown): Member {
  const t = arr(v, "member");
  return {
    id: num(t[0], "member id"),
    name: str(t[1], "member name"),
    x: num(t[2], "x"),
    y: num(t[3], "y"),
    z: num(t[4], "z"),
    yaw: num(t[5], "yaw"),
    state: stateMap(t[6], "member state"),
  };
}

/** ROOM's room_state: key -> [value, version], in the server's order. */
function roomState(v: unknown): RoomStateMap {
  const out = new Map<string, RoomEntry>();
  if (v == null) return out;
  for (const [key, e] of Object.entries(map(v, "room_state"))) {
    const t = arr(e, "room_state entry");
    out.set(key, { value: t[0] ?? null, version: num(t[1], "room_state version") });
  }
  return out;
}

function features(v: unknown): string[] {
  if (v == null) return [];
  return arr(v, "features").filter((f): f is string => typeof f === "string");
}

function chatLine(t: unknown[], at: number): ChatLine {
  return {
    seq: num(t[at], "chat seq"),
    id: num(t[at + 1], "chat id"),
    name: str(t[at + 2], "chat name"),
    text: str(t[at + 3], "chat text"),
    tsMs: num(t[at + 4], "chat ts_ms"),
  };
}

function stateEntry(v: unknown): StateEntry {
  const t = arr(v, "state entry");
  return {
    id: num(t[0], "state id"),
    seq: num(t[1], "state seq"),
    x: num(t[2], "x"),
    y: num(t[3], "y"),
    z: num(t[4], "z"),
    yaw: num(t[5], "yaw"),
  };
}

/** One decoded server message from a tuple (already MessagePack-decoded);
 * null for an op this version does not know. */
export function serverMessage(v: unknown): ServerMessage | null {
  const t = arr(v, "message");
  const op = num(t[0], "op");
  try {
    return byOp(op, t);
  } catch (e) {
    if (e instanceof DecodeError) e.op = op;
    throw e;
  }
}

function byOp(op: number, t: unknown[]): ServerMessage | null {
  switch (op) {
    case ServerOp.Welcome:
      return {
        op,
        id: num(t[1], "id"),
        session: str(t[2], "session"),
        tickHz: num(t[3], "tick_hz"),
        serverTimeMs: num(t[4], "server_time_ms"),
        resumed: t[5] === true,
        features: features(t[6]),
      };
    case ServerOp.Room:
      return {
        op,
        room: str(t[1], "room"),
        members: arr(t[2], "members").map(member),
        history: arr(t[3] ?? [], "history").map((h) =>
          chatLine(arr(h, "history entry"), 0),
        ),
        roomState: roomState(t[4]),
      };
    case ServerOp.Joined:
      return { op, ...member(t.slice(1)) };
    case ServerOp.Left:
      return { op, id: num(t[1], "id") };
    case ServerOp.State:
      return {
        op,
        tick: num(t[1], "tick"),
        entries: arr(t[2], "entries").map(stateEntry),
      };
    case ServerOp.Chat:
      return { op, ...chatLine(t, 1) };
    case ServerOp.Whisper:
      return {
        op,
        from: num(t[1], "from_id"),
        name: str(t[2], "name"),
        text: str(t[3], "text"),
        tsMs: num(t[4], "ts_ms"),
      };
    case ServerOp.Pong:
      return { op, t: t[1], serverTimeMs: num(t[2], "server_time_ms") };
    case ServerOp.Error: {
      const code = num(t[1], "code");
      const requestOp = t[3] == null ? undefined : num(t[3], "op");
      // conflict (12) names the key and its current version.
      const conflict =
        code === ErrorCode.conflict
          ? { key: str(t[4], "conflict key"), version: num(t[5], "conflict version") }
          : {};
      return {
        op,
        code,
        codeName: errorName(code),
        message: typeof t[2] === "string" ? t[2] : "",
        ...(requestOp === undefined ? {} : { requestOp }),
        ...conflict,
      };
    }
    case ServerOp.Member:
      return { op, id: num(t[1], "id"), patch: map(t[2], "patch") };
    case ServerOp.Signal:
      return {
        op,
        from: num(t[1], "from_id"),
        name: str(t[2], "name"),
        kind: str(t[3], "kind"),
        data: t[4] ?? null,
        tsMs: num(t[5], "ts_ms"),
      };
    case ServerOp.RoomState:
      return {
        op,
        key: str(t[1], "key"),
        value: t[2] ?? null,
        version: num(t[3], "version"),
        by: num(t[4], "by_id"),
      };
    case ServerOp.Away:
      return { op, ids: arr(t[1], "away ids").map((id) => num(id, "away id")) };
    case ServerOp.StateC: {
      // The frame only: its entries are read against the connection's
      // table of short ids (compact.ts), which the client keeps.
      const n = num(t[2], "state_c n");
      if (!Number.isSafeInteger(n) || n < 0) throw new DecodeError("state_c n: a count expected");
      if (!(t[3] instanceof Uint8Array)) throw new DecodeError("state_c entries: bin expected");
      return { op, tick: num(t[1], "tick"), n, entries: t[3] };
    }
    default:
      // A later protocol version's op: ignored, not an error.
      return null;
  }
}

/** Decodes one binary WebSocket message from the server. */
export function decodeServer(bytes: Uint8Array): ServerMessage | null {
  let v: unknown;
  try {
    v = decoder.decode(bytes);
  } catch (e) {
    throw new DecodeError(`not MessagePack: ${(e as Error).message}`);
  }
  return serverMessage(v);
}
