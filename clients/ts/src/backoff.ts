/*
 * Reconnect delays: capped exponential backoff with jitter, so a thousand
 * clients dropped by one node do not come back in the same millisecond.
 */
export interface BackoffOptions {
  /** First delay in ms (default 250). */
  initialDelayMs?: number;
  /** Cap in ms (default 5000). */
  maxDelayMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of the delay that is random, 0..1 (default 0.5). */
  jitter?: number;
}

/** Delay before reconnect attempt `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  o: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = o.initialDelayMs ?? 250;
  const max = o.maxDelayMs ?? 5000;
  const factor = o.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, o.jitter ?? 0.5));
  const base = Math.min(max, initial * Math.pow(factor, attempt));
  return Math.round(base * (1 - jitter * random()));
}
