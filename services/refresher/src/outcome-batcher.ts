import { ModelOutcome } from './model-refresh.service';

/**
 * How long a finished model's event may wait for others to share its broker request. A database run's model events
 * are not on anyone's critical path (its RefreshRunCompleted is): with a short linger a busy run sent one produce
 * request per model, which cost the refresher and the broker more CPU than anything else it sent.
 */
export const OUTCOME_LINGER_MS = 100;
/** A batch this large is sent without waiting for the linger. */
export const OUTCOME_MAX_BATCH = 200;

/**
 * Batches a run's model outcomes in memory and publishes them without holding up the next model (it is not an
 * outbox: nothing is durable; a run that fails before `drain` is redelivered and re-announces its successes): outcomes finished within a short linger, or while a
 * request is in flight, go out together (one broker round trip for many events, in order). `drain` sends
 * what is left, waits for all of it and throws the first publish failure.
 */
export class OutcomeBatcher {
  private queue: ModelOutcome[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly failures: unknown[] = [];

  constructor(
    private readonly send: (batch: ModelOutcome[]) => Promise<void>,
    private readonly lingerMs = OUTCOME_LINGER_MS,
    private readonly maxBatch = OUTCOME_MAX_BATCH,
  ) {}

  add(outcome: ModelOutcome): void {
    this.queue.push(outcome);
    if (this.queue.length >= this.maxBatch && !this.flushing) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.flushing = this.flush();
      return;
    }
    if (this.flushing || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing ??= this.flush();
    }, this.lingerMs);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      await this.send(batch).catch((e: unknown) => void this.failures.push(e));
    }
    this.flushing = null;
  }

  async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.flushing || this.queue.length > 0) await (this.flushing ??= this.flush());
    if (this.failures.length > 0) throw this.failures[0];
  }
}
