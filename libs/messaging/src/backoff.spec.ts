import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const policy = { retries: 3, baseMs: 1000, maxMs: 30_000, jitter: 0.2 };
  it('doubles per attempt: 1 s, 2 s, 4 s without jitter', () => {
    expect([1, 2, 3].map((a) => backoffDelay(policy, a, () => 0))).toEqual([1000, 2000, 4000]);
  });
  it('adds at most the jitter fraction and respects the cap', () => {
    expect(backoffDelay(policy, 1, () => 1)).toBe(1200);
    expect(backoffDelay(policy, 20, () => 0)).toBe(30_000);
  });
});
