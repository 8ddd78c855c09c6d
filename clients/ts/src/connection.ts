/*
 * The connection under a PlazaClient: opening sockets (with a fresh
 * token each time), saying HELLO, telling why a socket failed in words,
 * reconnecting with backoff, and ending for good. What a session means
 * (rooms, chat, the sync after a reconnect) is the client's, through the
 * hooks at the end.
 */
import { backoffDelay } from "./backoff.js";
import { DecodeError, decodeServer, encodeClient } from "./codec.js";
import { Emitter } from "./emitter.js";
import { ClosedError, ConnectionError, type PlazaError } from "./errors.js";
import type {
  ClientMessage,
  RoomShape,
  ServerMessage,
  SignalShape,
  StateShape,
} from "./messages.js";
import type { ClientEvents, ConnectOptions, Status, StatusEvent } from "./options.js";
import { ClientOp, CloseCode, ErrorCode, PROTOCOL_VERSION, SUBPROTOCOL } from "./protocol.js";
import {
  defaultSocketFactory,
  describeFailure,
  type FailureText,
  messageBytes,
  OPEN,
  type SocketFactory,
  type SocketLike,
} from "./transport.js";

/** Close codes after which coming back would only be refused again. */
const FATAL_CLOSES = new Set<number>([CloseCode.Unauthorized, CloseCode.Kicked]);
export const ABNORMAL = 1006;

type Timer = ReturnType<typeof setTimeout>;

export abstract class Connection<
  S extends object = StateShape,
  G extends object = SignalShape,
  R extends object = RoomShape,
> extends Emitter<ClientEvents<S, G, R>> {
  status: Status = "idle";

  protected readonly opts: ConnectOptions<S>;
  /** How long a request waits for its answer. */
  protected readonly timeoutMs: number;
  private factory: SocketFactory | null;
  protected ws: SocketLike | null = null;
  private failure: FailureText | null = null; // the socket's error event
  protected ready = false; // WELCOME received on the current socket
  protected everOpen = false;
  protected closed = false;
  private closeReason: { reason: string; code: number | undefined } = {
    reason: "",
    code: undefined,
  };
  protected suspended = false; // the page is hidden
  protected session: string | null = null;
  protected triedResume = false;
  private attempt = 0;
  private retryTimer: Timer | null = null;
  private connectWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(opts: ConnectOptions<S>) {
    super();
    this.opts = opts;
    this.timeoutMs = opts.requestTimeoutMs ?? 15000;
    this.factory = opts.socketFactory ?? null;
    if (opts.onHandlerError) this.onHandlerError = opts.onHandlerError;
  }

  /** Opens the connection; resolves on the first WELCOME. Rejects with a
   * ConnectionError when it fails (unless retryInitialConnect), a
   * RefusedError when the HELLO is refused, the signal's reason when it
   * aborts (the client is then closed), a ClosedError after close(). */
  connect(o: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.ready) return Promise.resolve();
    const signal = o.signal;
    if (signal?.aborted) {
      this.close({ leave: false });
      return Promise.reject(signal.reason);
    }
    const p = new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const reason = signal?.reason;
        this.connectWaiters = this.connectWaiters.filter((w) => w !== waiter);
        this.close({ leave: false });
        reject(reason);
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.connectWaiters.push(waiter);
    });
    if (this.status === "idle") {
      this.setStatus({ status: "connecting" });
      void this.openSocket();
    }
    return p;
  }

  protected async openSocket(): Promise<void> {
    let token: string | undefined;
    try {
      this.factory ??= await defaultSocketFactory();
    } catch (e) {
      this.terminate((e as Error).message, ABNORMAL, new ConnectionError((e as Error).message, ABNORMAL, undefined, e));
      return;
    }
    try {
      const t = this.opts.token;
      token = typeof t === "function" ? await t() : t;
    } catch (e) {
      if (!this.closed && !this.suspended)
        this.lost(ABNORMAL, `token: ${(e as Error)?.message ?? String(e)}`, e);
      return;
    }
    if (this.closed || this.suspended) return;
    let ws: SocketLike;
    try {
      ws = this.factory(this.opts.url, SUBPROTOCOL);
    } catch (e) {
      this.lost(ABNORMAL, (e as Error).message, e);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    this.failure = null;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = this.session ?? undefined;
      this.triedResume = resume !== undefined;
      const lastChatSeq = this.resumeSeq(resume !== undefined);
      const state = this.helloState();
      ws.send(
        encodeClient({
          op: ClientOp.Hello,
          version: PROTOCOL_VERSION,
          ...(token ? { token } : {}),
          ...(this.opts.name ? { name: this.opts.name } : {}),
          ...(resume ? { resume } : {}),
          ...(lastChatSeq === undefined ? {} : { lastChatSeq }),
          ...(state === undefined ? {} : { state }),
        }),
      );
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws === ws) this.lost(ev.code, ev.reason);
    };
    ws.onerror = (ev) => {
      // The close event follows and decides; this says why, where it can.
      if (this.ws === ws) this.failure = describeFailure(ev);
    };
  }

  /** The socket is gone (or could not be made). */
  protected lost(code: number, reason: string, cause?: unknown): void {
    const failure = this.failure;
    this.ws = null;
    this.ready = false;
    this.failure = null;
    const why =
      code === ABNORMAL && failure ? failure.text : reason || (cause as Error)?.message || "";
    this.socketLost(code, why);
    if (this.closed || this.suspended) return;
    if (!this.everOpen && !this.opts.retryInitialConnect) {
      const err = new ConnectionError(
        `connect failed: ${why || `close ${code}`}`,
        code,
        failure?.httpStatus,
        failure?.cause ?? cause,
      );
      this.terminate(why, code, err);
      return;
    }
    if (this.opts.reconnect === false || FATAL_CLOSES.has(code)) {
      this.forget();
      this.terminate(why, code);
      return;
    }
    if (code === CloseCode.Normal && this.everOpen) {
      // "session resumed elsewhere": another tab (a duplicated one shares
      // sessionStorage) holds the session now. Taking it back would close
      // that one in turn, for ever: start a session of our own.
      this.session = null;
    }
    // Backoff with jitter from the first retry: a draining node (1001)
    // sends every client back at once, and they must not all land in the
    // same millisecond.
    const delayMs = backoffDelay(this.attempt, this.opts.reconnect ?? {});
    this.attempt++;
    this.setStatus({
      status: this.everOpen ? "reconnecting" : "connecting",
      attempt: this.attempt,
      delayMs,
      code,
      reason: why,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.openSocket();
    }, delayMs);
  }

  /** The end: everything pending rejects, nothing is retried. */
  protected terminate(reason: string, code?: number, connectError?: PlazaError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = { reason, code };
    this.ready = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(CloseCode.Normal, "bye");
      } catch {
        /* already closing */
      }
    }
    const err = this.closedError();
    for (const w of this.connectWaiters.splice(0)) w.reject(connectError ?? err);
    this.ended(err);
    this.setStatus(code === undefined ? { status: "closed", reason } : { status: "closed", code, reason });
  }

  protected closedError(): ClosedError {
    return new ClosedError(this.closeReason.reason || "closed", this.closeReason.code);
  }

  protected setStatus(ev: StatusEvent): void {
    this.status = ev.status;
    this.emit("status", ev);
  }

  /** WELCOME: the connection is up. */
  protected opened(): void {
    this.ready = true;
    this.everOpen = true;
    this.attempt = 0;
    this.setStatus({ status: "open" });
    for (const w of this.connectWaiters.splice(0)) w.resolve();
  }

  /** The page is hidden: no reconnecting until it shows again. */
  protected suspend(): void {
    this.suspended = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  protected unsuspend(): void {
    if (this.closed || !this.suspended) return;
    this.suspended = false;
    this.attempt = 0;
    void this.openSocket();
  }

  protected sendNow(m: ClientMessage): void {
    if (this.ws?.readyState === OPEN) this.ws.send(encodeClient(m));
  }

  protected onFrame(data: unknown): void {
    const bytes = messageBytes(data);
    if (!bytes) {
      this.localError("text frame from the server ignored");
      return;
    }
    let m: ServerMessage | null;
    try {
      m = decodeServer(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.unreadable(e);
      return;
    }
    if (m) this.handle(m);
  }

  /** A message from the server that could not be read: said, and left. */
  protected unreadable(e: DecodeError): void {
    this.localError(`malformed frame from the server ignored: ${e.message}`);
  }

  protected localError(message: string): void {
    this.emit("error", {
      code: ErrorCode.bad_message,
      codeName: "bad_message",
      message,
      local: true,
    });
  }

  // ---- what the client adds -------------------------------------------

  /** Closes for good (the client's close(), which may say LEAVE first). */
  abstract close(options?: { leave?: boolean }): void;
  /** A server message, decoded. */
  protected abstract handle(m: ServerMessage): void;
  /** The last_chat_seq for a HELLO (undefined: none). */
  protected abstract resumeSeq(resuming: boolean): number | undefined;
  /** HELLO's member state (undefined: none). */
  protected abstract helloState(): StateShape | undefined;
  /** The socket is gone: what waited on it. */
  protected abstract socketLost(code: number, why: string): void;
  /** The end: everything pending rejects with `err`. */
  protected abstract ended(err: ClosedError): void;
  /** The session cannot come back (4001, 4003): drop what keeps it. */
  protected abstract forget(): void;
}
