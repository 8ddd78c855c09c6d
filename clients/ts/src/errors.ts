/* The error a rejected promise carries: the protocol's code and its name. */
import type { ErrorMessage } from "./messages.js";
import { type ClientOp, ErrorCode, errorName } from "./protocol.js";

export class PlazaError extends Error {
  override name = "PlazaError";
  /** The protocol's error code (ErrorCode.room_full, ...). */
  readonly code: ErrorCode;
  /** The protocol's name of the code ("room_full"). */
  readonly codeName: string;
  /** The client op the server refused, when it said. */
  readonly requestOp: ClientOp | undefined;

  constructor(code: ErrorCode, message: string, requestOp?: ClientOp) {
    super(`${errorName(code)} (${code}): ${message}`);
    this.code = code;
    this.codeName = errorName(code);
    this.requestOp = requestOp;
  }

  static from(m: ErrorMessage): PlazaError {
    return new PlazaError(m.code, m.message, m.requestOp);
  }
}
