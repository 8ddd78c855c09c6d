/*
 * Wire <-> objects. decodeServer checks every field it reads, because a
 * frame from the network is untrusted input: a bad one throws DecodeError
 * (which the client turns into an `error` event), never a TypeError deep
 * inside the application's handlers.
 */
import { decode, encode } from "@msgpack/msgpack";
import type {
  ChatLine,
  ClientMessage,
  Member,
  ServerMessage,
  StateEntry,
} from "./messages.js";
import { ClientOp, errorName, PROTOCOL_VERSION, ServerOp } from "./protocol.js";

export class DecodeError extends Error {
  override name = "DecodeError";
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

function member(v: unknown): Member {
  const t = arr(v, "member");
  return {
    id: num(t[0], "member id"),
    name: str(t[1], "member name"),
    x: num(t[2], "x"),
    y: num(t[3], "y"),
    z: num(t[4], "z"),
    yaw: num(t[5], "yaw"),
  };
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
  switch (op) {
    case ServerOp.Welcome:
      return {
        op,
        id: num(t[1], "id"),
        session: str(t[2], "session"),
        tickHz: num(t[3], "tick_hz"),
        serverTimeMs: num(t[4], "server_time_ms"),
        resumed: t[5] === true,
      };
    case ServerOp.Room:
      return {
        op,
        room: str(t[1], "room"),
        members: arr(t[2], "members").map(member),
        history: arr(t[3] ?? [], "history").map((h) =>
          chatLine(arr(h, "history entry"), 0),
        ),
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
      return {
        op,
        code,
        codeName: errorName(code),
        message: typeof t[2] === "string" ? t[2] : "",
        ...(requestOp === undefined ? {} : { requestOp }),
      };
    }
    default:
      return null; // a later protocol version's op: ignored, not an error

  }
}

/** Decodes one binary WebSocket message from the server. */
export function decodeServer(bytes: Uint8Array): ServerMessage | null {
  let v: unknown;
  try {
    v = decode(bytes);
  } catch (e) {
    throw new DecodeError(`not MessagePack: ${(e as Error).message}`);
  }
  return serverMessage(v);
}
