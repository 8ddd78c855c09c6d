/*
 * A token bucket, the server's own rate rule seen from the client: the
 * client spends a token per message and waits when none is left, so what
 * it sends (a queue flushed after an outage included) stays under the
 * server's limits instead of being refused with rate_limited.
 */
export class Bucket {
  private tokens: number;
  private last: number;

  /** `rate` tokens a second, at most `burst` saved up. */
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  /** Takes a token if there is one. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0: now). */
  wait(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}

/** What the server allows a session; plaza's defaults (docs/protocol.md,
 * "Limits and abuse"). Set them to the server's flags when it runs with
 * others. */
export interface RateLimits {
  /** CHAT and WHISPER together, per second (plaza: --chat-rate, 5). */
  chatPerSecond?: number;
  /** Their burst (plaza: --chat-burst, 10). */
  chatBurst?: number;
  /** MOVE per second, which is also its burst (plaza: --move-rate, 60). */
  movesPerSecond?: number;
}

/** The client keeps below the server's rule rather than at it: network
 * jitter bunches messages on their way, and a bucket drained to zero at
 * exactly the server's rate would see some refused. 90% of the rate and
 * one token of the burst spare absorb that. */
export function clientBuckets(
  l: RateLimits,
  now: () => number,
): { chat: Bucket; move: Bucket } {
  const chatRate = l.chatPerSecond ?? 5;
  const chatBurst = l.chatBurst ?? 10;
  const moveRate = l.movesPerSecond ?? 60;
  return {
    chat: new Bucket(chatRate * 0.9, Math.max(1, chatBurst - 1), now),
    move: new Bucket(moveRate * 0.9, Math.max(1, moveRate - 1), now),
  };
}
