import { OnApplicationShutdown } from '@nestjs/common';
import { Kafka, Message, Partitioners, Producer, Transaction } from 'kafkajs';
import { withBrokerDeadline } from './broker-deadline';
import { EncodedEvent, PUBLISH_TIMEOUT_MS } from './event-publisher';

/**
 * How long the broker keeps a staged transaction open before aborting it itself. A process that dies between
 * stage and commit holds back read-committed readers of the staged partitions until then (plus the broker's
 * clean-up interval, 10 s by default), so it is short; a staged batch is committed within seconds.
 */
export const STAGED_TRANSACTION_TIMEOUT_MS = 10_000;

/** Records sent ahead inside an open Kafka transaction; nobody reading committed data sees them before `commit`. */
export interface StagedBatch {
  readonly records: number;
  /** Makes every record visible at once (the publish moment). Rejects if that is not certain: see `stage`. */
  commit(): Promise<void>;
  /** Drops the records: readers never see them. Best effort: a transaction not aborted times out on the broker. */
  abort(): Promise<void>;
}

/**
 * Publishes a large batch at a chosen moment without encoding and sending it at that moment: `stage` sends the
 * records ahead inside a Kafka transaction, `commit` at the moment makes them visible at once, as one small
 * request. Consumers reading committed data (isolation level read_committed: every consumer of this project, and
 * the kafkajs default) see the records only from the commit on, all or none. The cost: while a batch is staged,
 * those readers also wait on the staged partitions for records sent after it, so callers stage shortly before the
 * moment and only batches big enough to be worth it. One batch at a time per process (one transactional producer,
 * its id unique to this process).
 */
export class StagedPublisher implements OnApplicationShutdown {
  private producer: Producer | null = null;
  private busy = false;
  /** Set at shutdown: nothing new is staged (a late stage would connect a producer nobody disconnects). */
  private closed = false;
  /** Resolves when the staged batch (if any) is committed or aborted: shutdown lets it finish first. */
  private ended: Promise<void> = Promise.resolve();
  private markEnded: () => void = () => undefined;

  constructor(
    private readonly kafka: Kafka,
    /** Unique per process: a transactional id shared by two live processes fences one of them. */
    private readonly transactionalId: string,
  ) {}

  /**
   * Sends the records inside a new transaction, stamped `timestamp` (the moment they are meant for). Null when a
   * batch of this process is still staged, or after shutdown. Rejects if the records could not be staged (nothing is
   * visible then).
   */
  async stage(records: EncodedEvent[], timestamp: number): Promise<StagedBatch | null> {
    if (this.busy || this.closed) return null;
    this.busy = true;
    this.ended = new Promise<void>((resolve) => (this.markEnded = resolve));
    let txn: Transaction | null = null;
    try {
      const producer = await this.within('connecting the staging producer', this.connected());
      txn = await this.within('starting a transaction', producer.transaction());
      const byTopic = new Map<string, Message[]>();
      for (const r of records) {
        const m = { ...r.message, timestamp: String(timestamp) };
        const list = byTopic.get(r.topic);
        if (list) list.push(m);
        else byTopic.set(r.topic, [m]);
      }
      const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      await this.within('staging records', txn.sendBatch({ acks: -1, timeout: 30_000, topicMessages }));
    } catch (e) {
      await this.end(txn, 'abort').catch(() => undefined);
      this.busy = false;
      this.markEnded();
      throw e;
    }
    const open = txn;
    let ended = false;
    const finish = async (how: 'commit' | 'abort') => {
      if (ended) return;
      ended = true;
      try {
        await this.end(open, how);
      } finally {
        this.busy = false;
        this.markEnded();
      }
    };
    return { records: records.length, commit: () => finish('commit'), abort: () => finish('abort') };
  }

  private async end(txn: Transaction | null, how: 'commit' | 'abort'): Promise<void> {
    if (!txn?.isActive()) return;
    try {
      await this.within(`${how === 'commit' ? 'committing' : 'aborting'} staged records`, txn[how]());
    } catch (e) {
      // the producer's transaction state is unknown now: a new producer with the same id fences it (and the
      // broker aborts whatever it left open)
      const p = this.producer;
      this.producer = null;
      await p?.disconnect().catch(() => undefined);
      throw e;
    }
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    const p = this.kafka.producer({
      allowAutoTopicCreation: false,
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: STAGED_TRANSACTION_TIMEOUT_MS,
      // murmur2 like the Java client and EventPublisher: a key's partition does not depend on the path
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await p.connect();
    this.producer = p;
    return p;
  }

  /** Broker calls get a clear, bounded failure (see BrokerDeadline). */
  private within<T>(what: string, work: Promise<T>): Promise<T> {
    return withBrokerDeadline(`${what}: no answer within ${PUBLISH_TIMEOUT_MS} ms`, PUBLISH_TIMEOUT_MS, work);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    // a staged batch is committed at its moment, at most seconds away: let it end (a transaction left open would
    // hold back its partitions' readers until the broker's timeout)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ended,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STAGED_TRANSACTION_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const p = this.producer;
    this.producer = null;
    if (p) await p.disconnect().catch(() => undefined);
  }
}
