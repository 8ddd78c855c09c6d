/* plaza-client: the public surface of the package. */
export * from "./protocol.js";
export type * from "./messages.js";
export {
  CancelledError,
  ClosedError,
  ConflictError,
  ConnectionError,
  PlazaError,
  type PlazaErrorKind,
  RefusedError,
  TimeoutError,
} from "./errors.js";
export { DecodeError, decodeServer, encodeClient } from "./codec.js";
export {
  COMPACT_IDX_MAX,
  COMPACT_POS_SCALE,
  COMPACT_YAW_SCALE,
  CompactTable,
  CompactWriter,
  type Quantised,
  quantize,
  unquantize,
} from "./compact.js";
export { checkView, type View, type ViewOptions } from "./view.js";
export { backoffDelay, type BackoffOptions } from "./backoff.js";
export type { RateLimits } from "./bucket.js";
export type { PersistOptions, StorageLike } from "./session-store.js";
export {
  type AnyPlazaClient,
  connect,
  createClient,
  PlazaClient,
  type ClientEvents,
  type ConnectOptions,
  type AwayEvent,
  type LeftEvent,
  type MemberEvent,
  type MemberStateInit,
  type RoomEvent,
  type RoomStateEvent,
  type Status,
  type StatusEvent,
  type SyncedEvent,
  type TokenSource,
} from "./client.js";
export type { SocketFactory, SocketLike } from "./transport.js";
export {
  interpolate,
  Interpolator,
  TickClock,
  type InterpolatorOptions,
} from "./interpolation.js";
export { Predictor, type Step } from "./prediction.js";
