/** Exponential backoff with full jitter on top: delay = base * 2^(attempt-1), capped, plus 0..jitter of it. */
export interface BackoffPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseMs: number;
  maxMs: number;
  /** Fraction of the delay added at random (0..1). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { retries: 3, baseMs: 1000, maxMs: 30_000, jitter: 0.2 };

export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp + exp * policy.jitter * random());
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
