/** BackoffOptions shape the delay between a job's failed attempts. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Fraction (0..1) of the delay randomised downwards, so failed jobs of many nodes do not retry in lockstep. */
  jitter?: number;
}

/**
 * backoffDelayMs is the wait before retrying after `attempt` failed attempts (1-based):
 * base · 2^(attempt-1), capped at max, minus up to `jitter` of it.
 */
export function backoffDelayMs(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(n - 1, 52));
  const jitter = Math.min(1, Math.max(0, o.jitter ?? 0));
  return Math.round(raw * (1 - jitter * random()));
}
