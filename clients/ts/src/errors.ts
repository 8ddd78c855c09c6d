/*
 * The errors plaza-client rejects with. Every one is a PlazaError with a
 * `kind`, so an app can tell "the server said no" from "no answer in
 * time" from "the client is closed" without parsing messages. An aborted
 * call rejects with its AbortSignal's reason instead, as fetch() does.
 */
import { type ClientOp, type ErrorCode, errorName } from "./protocol.js";

export type PlazaErrorKind =
  | "refused"
  | "timeout"
  | "closed"
  | "connection"
  | "cancelled";

/** The base of every error the client gives. */
export abstract class PlazaError extends Error {
  abstract readonly kind: PlazaErrorKind;
}

/** The server refused a request with an ERROR (or the client refused it
 * first, `local`, where it knows the server's rule: a bad room name, an
 * empty chat line, a chat outside a room). */
export class RefusedError extends PlazaError {
  override name = "RefusedError";
  readonly kind = "refused";
  /** The protocol's error code (ErrorCode.room_full, ...). */
  readonly code: ErrorCode;
  /** The protocol's name of the code ("room_full"). */
  readonly codeName: string;
  /** The client op that was refused, when known. */
  readonly requestOp: ClientOp | undefined;
  /** True when the client refused it without asking the server. */
  readonly local: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    requestOp?: ClientOp,
    local = false,
  ) {
    super(`${errorName(code)} (${code}): ${message}`);
    this.code = code;
    this.codeName = errorName(code);
    this.requestOp = requestOp;
    this.local = local;
  }
}

/** No answer within the client's `requestTimeoutMs`. */
export class TimeoutError extends PlazaError {
  override name = "TimeoutError";
  readonly kind = "timeout";
  readonly ms: number;

  constructor(what: string, ms: number) {
    super(`${what}: no answer in ${ms} ms`);
    this.ms = ms;
  }
}

/** The client is closed: close() was called, the first connection
 * failed, or the server ended the session for good (4001, 4003). */
export class ClosedError extends PlazaError {
  override name = "ClosedError";
  readonly kind = "closed";
  /** The WebSocket close code that ended it, when a socket did. */
  readonly closeCode: number | undefined;
  readonly reason: string;

  constructor(reason: string, closeCode?: number) {
    super(
      closeCode === undefined
        ? `client closed: ${reason}`
        : `client closed: ${closeCode} ${reason}`.trim(),
    );
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** A connection could not be made, or was lost under a call that cannot
 * wait for the next one (ping). `message` says why in words: a refused
 * TCP connection, an untrusted TLS certificate, an HTTP status instead of
 * the upgrade (403 when plaza's --allowed-origins does not list the
 * page's origin). */
export class ConnectionError extends PlazaError {
  override name = "ConnectionError";
  readonly kind = "connection";
  /** The WebSocket close code (1006 when the socket never opened). */
  readonly closeCode: number;
  /** The HTTP status that answered the upgrade instead of 101, when the
   * WebSocket implementation says (Node's `ws` does; browsers never). */
  readonly httpStatus: number | undefined;

  constructor(
    message: string,
    closeCode: number,
    httpStatus?: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.closeCode = closeCode;
    this.httpStatus = httpStatus;
  }
}

/** The call was overtaken: a later join()/leave() replaced this one
 * before it could be carried out (`superseded`), or a chat line waited
 * for a room that the client left before it went out (`room_changed`). */
export class CancelledError extends PlazaError {
  override name = "CancelledError";
  readonly kind = "cancelled";
  readonly why: "superseded" | "room_changed";

  constructor(why: "superseded" | "room_changed", message: string) {
    super(message);
    this.why = why;
  }
}

/** A RefusedError from a server ERROR. */
export function refused(m: {
  code: ErrorCode;
  message: string;
  requestOp?: ClientOp | undefined;
}): RefusedError {
  return new RefusedError(m.code, m.message, m.requestOp);
}

/** What a client-side check refuses, in the server's own terms. */
export function refusedLocally(
  code: ErrorCode,
  message: string,
  requestOp: ClientOp,
): RefusedError {
  return new RefusedError(code, message, requestOp, true);
}
