import type { EachBatchPayload, KafkaMessage } from 'kafkajs';

/**
 * A counting semaphore: bounds the handlers running at once across all consumers of one process, so running the
 * keys of a partition in parallel never exceeds the process's fixed capacity (REFRESHER_CONCURRENCY × partitions).
 */
export class Slots {
  private readonly waiting: (() => void)[] = [];
  private used = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`slots: size must be a positive integer (${size})`);
  }

  get inUse(): number {
    return this.used;
  }

  async acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // the slot passes straight to the next waiter, so `used` stays the same
    if (next) next();
    else this.used--;
  }
}

const NO_KEY = '\u0000no-key';

/** The batch's messages as lanes: one lane per key, each in offset order (messages without a key share one). */
export function laneIndexes(messages: readonly KafkaMessage[]): number[][] {
  const lanes = new Map<string, number[]>();
  messages.forEach((m, i) => {
    const key = m.key === null || m.key === undefined ? NO_KEY : m.key.toString('latin1');
    const lane = lanes.get(key);
    if (lane) lane.push(i);
    else lanes.set(key, [i]);
  });
  return [...lanes.values()];
}

type BatchControls = Pick<
  EachBatchPayload,
  'batch' | 'resolveOffset' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale' | 'heartbeat'
>;

/** Heartbeats while a batch runs: a lane waiting for a slot (held by another consumer) runs no handler that would. */
const HEARTBEAT_EVERY_MS = 3000;

/**
 * Handles one fetched batch of a partition with its keys in parallel: each key's messages in order (a database's
 * requests never overtake each other), different keys at once, every handler holding one of the process's slots.
 * Offsets are resolved only up to the first message not handled yet, so a crash re-delivers everything after it
 * (consumers de-duplicate by eventId in their inboxes). Without this a partition is one message at a time, and
 * the keys Kafka's murmur2 happens to put on one partition (4 of the 20 databases 1-20 share one of 12) queue
 * behind each other while other partitions sit empty. A handler that throws stops its lane; the batch then
 * throws once the other lanes are done, and kafkajs re-delivers from the first unresolved offset.
 */
export async function handleBatchByKey(
  controls: BatchControls,
  slots: Slots,
  handle: (message: KafkaMessage) => Promise<void>,
): Promise<void> {
  const { batch, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale, heartbeat } = controls;
  const messages = batch.messages;
  const done = new Array<boolean>(messages.length).fill(false);
  let next = 0; // first message not resolved
  let failure: { error: unknown } | null = null;

  const lane = async (indexes: number[]) => {
    for (const i of indexes) {
      // after a rebalance or a failure, the rest is left for whoever owns the partition next
      if (failure || !isRunning() || isStale()) return;
      await slots.acquire();
      try {
        if (failure || !isRunning() || isStale()) return;
        await handle(messages[i]);
      } catch (error) {
        failure ??= { error };
        return;
      } finally {
        slots.release();
      }
      done[i] = true;
      while (next < messages.length && done[next]) resolveOffset(messages[next++].offset);
      await commitOffsetsIfNecessary();
    }
  };

  const beat = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
  try {
    await Promise.all(laneIndexes(messages).map(lane));
  } finally {
    clearInterval(beat);
  }
  if (failure) throw (failure as { error: unknown }).error;
}
