/** One message of the dead-letter topic, as the console lists it. */
export interface DeadLetterEntry {
  /** Where the dead letter itself sits in the dead-letter topic. */
  partition: number;
  offset: string;
  occurredAt: string;
  /** Where the unprocessable message came from. */
  source: {
    topic: string;
    partition: number;
    offset: string;
    key: string | null;
    consumerGroup: string;
    timestamp?: string;
  };
  reason: string;
  errorCode: string;
  /** The original bytes as UTF-8 text (null: the message had no value). */
  payload: string | null;
  headers: Record<string, string>;
}

export const DEAD_LETTERS_KEPT = 1000;

/** The most recent dead letters (bounded), newest first by the time they were dead-lettered. */
export class DeadLetterLog {
  private entries: DeadLetterEntry[] = [];

  constructor(private readonly keep = DEAD_LETTERS_KEPT) {}

  add(entry: DeadLetterEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.keep * 2) this.trim();
  }

  page(q: { limit: number; offset: number; topic?: string }): { data: DeadLetterEntry[]; total: number } {
    this.trim();
    const sorted = [...this.entries]
      .filter((e) => q.topic === undefined || e.source.topic === q.topic)
      .sort(
        (a, b) =>
          b.occurredAt.localeCompare(a.occurredAt) ||
          b.partition - a.partition ||
          Number(BigInt(b.offset) - BigInt(a.offset)),
      );
    return { data: sorted.slice(q.offset, q.offset + q.limit), total: sorted.length };
  }

  private trim(): void {
    if (this.entries.length <= this.keep) return;
    this.entries.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
    this.entries = this.entries.slice(-this.keep);
  }
}
