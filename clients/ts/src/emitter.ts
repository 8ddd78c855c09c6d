/*
 * A tiny typed event emitter. A handler that throws must not break the
 * client's own bookkeeping or the other handlers, so each call is guarded
 * and the exception goes to `onHandlerError`: by default rethrown from a
 * microtask, where the host reports uncaught errors, instead of unwinding
 * into the socket callback.
 */
export type Handler<T> = (value: T) => void;

export type HandlerErrorSink = (error: unknown, event: string) => void;

const rethrowLater: HandlerErrorSink = (e) =>
  queueMicrotask(() => {
    throw e;
  });

export class Emitter<Events extends object> {
  private handlers = new Map<keyof Events, Set<Handler<never>>>();
  protected onHandlerError: HandlerErrorSink = rethrowLater;

  /** Calls `handler` on every `event`; returns the function that stops it. */
  on<K extends keyof Events>(event: K, handler: Handler<Events[K]>): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler as Handler<never>);
    return () => this.off(event, handler);
  }

  /** Calls `handler` on the next `event` only. */
  once<K extends keyof Events>(
    event: K,
    handler: Handler<Events[K]>,
  ): () => void {
    const off = this.on(event, (v) => {
      off();
      handler(v);
    });
    return off;
  }

  /** Stops `handler` (as registered with on()) from hearing `event`. */
  off<K extends keyof Events>(event: K, handler: Handler<Events[K]>): void {
    this.handlers.get(event)?.delete(handler as Handler<never>);
  }

  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.handlers.get(event);
    if (!set) return;
    for (const h of [...set]) {
      try {
        (h as Handler<Events[K]>)(value);
      } catch (e) {
        this.onHandlerError(e, String(event));
      }
    }
  }
}
