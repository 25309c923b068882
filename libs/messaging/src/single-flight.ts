/**
 * One task per key at a time in this process. A message delivered again while its first delivery is still being
 * handled here (a redelivery after a rebalance or a broker restart, the same event on two partitions) waits for
 * the first, then runs — and normally finds it done (the inbox) — instead of running beside it: two executions
 * of one refresh run in one process share the lease owner, so their guards could not tell them apart.
 */
export class SingleFlight {
  private readonly running = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    for (let current = this.running.get(key); current; current = this.running.get(key)) {
      await current.catch(() => undefined);
    }
    // set synchronously after the last check: no other caller can slip in between
    const mine = Promise.resolve().then(task);
    this.running.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.running.get(key) === mine) this.running.delete(key);
    }
  }

  /** Keys being handled now. */
  get size(): number {
    return this.running.size;
  }
}
