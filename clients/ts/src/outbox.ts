/*
 * What the app says, on its way out: chat lines and whispers in order,
 * the latest position, each paced under the server's rate limits so that
 * a queue flushed after an outage is not refused with rate_limited. A
 * chat line's promise settles on its echo (the server numbers it and
 * sends it to the whole room, the sender included) or on its refusal; a
 * whisper's when it goes out, since protocol v1 acknowledges none.
 */
import { type clientBuckets } from "./bucket.js";
import { CancelledError, refusedLocally, TimeoutError } from "./errors.js";
import type { ChatLine, ClientMessage, Move } from "./messages.js";
import { ClientOp, ErrorCode } from "./protocol.js";

type Timer = ReturnType<typeof setTimeout>;

interface Outgoing {
  kind: ClientOp.Chat | ClientOp.Whisper;
  text: string;
  to: number;
  room: string | null; // a chat's room
  afterSeq: number; // the room's chat seq when it was sent
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: Timer | null;
}

/** What the outbox asks of the client. */
export interface OutboxHost {
  /** In step with the server: what waits may go. */
  canSend(): boolean;
  /** The room the session will be in once what was sent is answered. */
  target(): string | null;
  /** The room the server has the session in now. */
  room(): string | null;
  /** The last chat seq seen in `room`, 0 when it counts another. */
  chatSeqIn(room: string | null): number;
  /** Whether `id` is this client's (its current or an earlier session's). */
  isOwn(id: number): boolean;
  send(m: ClientMessage): void;
}

const utf8 = new TextEncoder();

export class Outbox {
  private queue: Outgoing[] = [];
  private unconfirmed: Outgoing[] = [];
  private pumpTimer: Timer | null = null;
  private pendingMove: Move | null = null;
  private moveTimer: Timer | null = null;

  constructor(
    private readonly host: OutboxHost,
    private readonly buckets: ReturnType<typeof clientBuckets>,
    private readonly timeoutMs: number,
  ) {}

  /** Queues a chat line or a whisper; the promise is as chat()/whisper()
   * document it, never reported as unhandled. */
  add(kind: Outgoing["kind"], to: number, text: string): Promise<unknown> {
    const bytes = utf8.encode(text).length;
    if (bytes < 1 || bytes > 500)
      return handled(
        Promise.reject(
          refusedLocally(ErrorCode.invalid_argument, "text must be 1-500 bytes of UTF-8", kind),
        ),
      );
    const room = this.host.target();
    if (kind === ClientOp.Chat && room === null)
      return handled(
        Promise.reject(refusedLocally(ErrorCode.not_in_room, "chat outside a room", kind)),
      );
    const p = new Promise((resolve, reject) => {
      this.queue.push({ kind, text, to, room, afterSeq: 0, resolve, reject, timer: null });
    });
    this.pump();
    return handled(p);
  }

  /** The latest position, sent as the move rate allows. */
  move(m: Move): void {
    this.pendingMove = m;
    this.sendMove();
  }

  /** Sends what waits, as the rates allow. */
  flush(): void {
    this.pump();
    this.sendMove();
  }

  private pump(): void {
    if (!this.host.canSend() || this.pumpTimer) return;
    while (this.queue.length) {
      const m = this.queue[0] as Outgoing;
      if (m.kind === ClientOp.Chat && m.room !== this.host.target()) {
        this.queue.shift();
        m.reject(
          new CancelledError(
            "room_changed",
            `chat for ${m.room}: the client left that room before it went out`,
          ),
        );
        continue;
      }
      const wait = this.buckets.chat.wait();
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, wait);
        return;
      }
      this.buckets.chat.take();
      this.queue.shift();
      if (m.kind === ClientOp.Whisper) {
        this.host.send({ op: ClientOp.Whisper, to: m.to, text: m.text });
        m.resolve(undefined);
        continue;
      }
      m.afterSeq = this.host.chatSeqIn(m.room);
      this.host.send({ op: ClientOp.Chat, text: m.text });
      this.awaitEcho(m);
    }
  }

  private awaitEcho(m: Outgoing): void {
    this.unconfirmed.push(m);
    m.timer = setTimeout(() => {
      this.unconfirmed = this.unconfirmed.filter((u) => u !== m);
      m.reject(new TimeoutError("chat", this.timeoutMs));
    }, this.timeoutMs);
  }

  private sendMove(): void {
    if (!this.pendingMove || !this.host.canSend() || this.moveTimer) return;
    if (this.host.target() === null) return; // the spawn point of the next join
    const wait = this.buckets.move.wait();
    if (wait > 0) {
      this.moveTimer = setTimeout(() => {
        this.moveTimer = null;
        this.sendMove();
      }, wait);
      return;
    }
    this.buckets.move.take();
    this.host.send(this.pendingMove);
    this.pendingMove = null;
  }

  /** The echo of one of our lines (or that line in a ROOM's history)
   * settles it. */
  confirm(line: ChatLine): void {
    if (!this.host.isOwn(line.id)) return;
    const room = this.host.room();
    const i = this.unconfirmed.findIndex(
      (u) => u.text === line.text && u.room === room && line.seq > u.afterSeq,
    );
    if (i < 0) return;
    const [u] = this.unconfirmed.splice(i, 1) as [Outgoing];
    if (u.timer) clearTimeout(u.timer);
    u.resolve({ ...line });
  }

  /** An ERROR to a CHAT: the oldest line on its way was refused. */
  refuseOldest(error: unknown): void {
    const u = this.unconfirmed.shift();
    if (!u) return;
    if (u.timer) clearTimeout(u.timer);
    u.reject(error);
  }

  /** The socket dropped: echoes cannot time out while there is none. */
  pause(): void {
    for (const u of this.unconfirmed)
      if (u.timer) {
        clearTimeout(u.timer);
        u.timer = null;
      }
  }

  /** After a sync: lines sent before the drop that no replay confirmed
   * never got there, so they go again, first (to their room only). */
  resend(): void {
    const again = this.unconfirmed.splice(0);
    for (const u of again.reverse()) {
      if (u.room === this.host.room()) this.queue.unshift(u);
      else
        u.reject(
          new CancelledError(
            "room_changed",
            `chat for ${u.room}: the session is no longer in that room`,
          ),
        );
    }
  }

  /** The client closed: everything rejects with `error`. */
  close(error: unknown): void {
    for (const t of [this.pumpTimer, this.moveTimer]) if (t) clearTimeout(t);
    this.pumpTimer = this.moveTimer = null;
    for (const m of [...this.queue.splice(0), ...this.unconfirmed.splice(0)]) {
      if (m.timer) clearTimeout(m.timer);
      m.reject(error);
    }
    this.pendingMove = null;
  }
}

/** A promise whose rejection the host never reports as unhandled: for
 * fire-and-forget calls whose failures are events as well. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
