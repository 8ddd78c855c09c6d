/* plaza-client: the public surface of the package. */
export * from "./protocol.js";
export type * from "./messages.js";
export { PlazaError } from "./errors.js";
export { DecodeError, decodeServer, encodeClient } from "./codec.js";
export { backoffDelay, type BackoffOptions } from "./backoff.js";
export {
  connect,
  PlazaClient,
  type ClientEvents,
  type ConnectOptions,
  type LeftEvent,
  type Status,
  type StatusEvent,
} from "./client.js";
export type { SocketFactory, SocketLike } from "./transport.js";
export {
  interpolate,
  Interpolator,
  type InterpolatorOptions,
} from "./interpolation.js";
export { Predictor, type Step } from "./prediction.js";
