import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { decodeEvent, topicName, Topics } from '@model-persistence/contracts';
import { KAFKA, MESSAGING_OPTIONS, MessagingOptions } from '@model-persistence/messaging';
import { Consumer, Kafka } from 'kafkajs';
import { DeadLetterEntry, DeadLetterLog } from './dead-letter-log';
import { LastBuild, LastBuildLog } from './last-build-log';

/** How long a request waits for the tail to catch up with the topics' ends before it answers with what it has. */
const CATCH_UP_TIMEOUT_MS = 15_000;

/**
 * Reads the dead-letter and refresh-result topics from the beginning into small in-memory views (the recent
 * dead letters, the last build of each model). The topics are the source: nothing is stored twice, and a
 * restarted api rebuilds the views. Its consumer group is private to this process and never commits, so it
 * takes no partition from anyone and every replica sees every message. Started on first use: an api that no
 * console asks does not read these topics.
 */
@Injectable()
export class EventTailService implements OnModuleDestroy {
  private readonly logger = new Logger(EventTailService.name);
  readonly deadLetters = new DeadLetterLog();
  readonly lastBuilds = new LastBuildLog();
  private consumer: Consumer | null = null;
  private started: Promise<void> | null = null;
  /** Next offset to read per "topic:partition". */
  private readonly position = new Map<string, bigint>();

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions,
  ) {}

  private get topics(): string[] {
    return [Topics.DeadLetter, Topics.RefreshSucceeded, Topics.RefreshFailed].map((t) =>
      topicName(this.options.topicPrefix, t),
    );
  }

  /** Starts the tail if needed and waits until it has read everything written before this call. */
  async caughtUp(timeoutMs = CATCH_UP_TIMEOUT_MS): Promise<void> {
    const ends = await this.endOffsets();
    await this.start();
    const deadline = Date.now() + timeoutMs;
    while (![...ends].every(([tp, end]) => (this.position.get(tp) ?? 0n) >= end)) {
      if (Date.now() > deadline) {
        this.logger.warn('event tail has not caught up yet; answering with what it has read');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async endOffsets(): Promise<Map<string, bigint>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ends = new Map<string, bigint>();
      for (const topic of this.topics) {
        for (const p of await admin.fetchTopicOffsets(topic)) {
          // an empty partition (low = high) has nothing to wait for
          if (p.high !== p.low) ends.set(`${topic}:${p.partition}`, BigInt(p.high));
        }
      }
      return ends;
    } finally {
      await admin.disconnect();
    }
  }

  private start(): Promise<void> {
    this.started ??= this.run().catch((e: unknown) => {
      this.started = null;
      throw e;
    });
    return this.started;
  }

  private async run(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `${this.options.topicPrefix}api-event-tail-${randomBytes(6).toString('hex')}`,
      sessionTimeout: 10_000,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ topic, partition, message }) => {
        this.apply(partition, message.offset, message.value);
        this.position.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
        return Promise.resolve();
      },
    });
    this.consumer = consumer;
  }

  private apply(partition: number, offset: string, value: Buffer | null): void {
    const decoded = decodeEvent(value);
    if (!decoded.ok) return; // the dead-letter topic only holds valid envelopes; anything else is skipped
    const e = decoded.event;
    if (e.type === 'DeadLetter') {
      const entry: DeadLetterEntry = {
        partition,
        offset,
        occurredAt: e.occurredAt,
        source: e.source,
        reason: e.reason,
        errorCode: e.errorCode,
        payload: e.payloadBase64 === null ? null : Buffer.from(e.payloadBase64, 'base64').toString('utf8'),
        headers: e.headers ?? {},
      };
      this.deadLetters.add(entry);
    } else if (e.type === 'RefreshSucceeded' || (e.type === 'RefreshFailed' && e.outcome === 'error')) {
      // a skipped refresh built nothing: the model's last build stays the one before
      if (e.persistedInfoId === null) return;
      const build: LastBuild = {
        persistedInfoId: e.persistedInfoId,
        cardId: e.cardId,
        databaseId: e.databaseId,
        outcome: e.type === 'RefreshSucceeded' ? 'success' : 'error',
        rows: e.type === 'RefreshSucceeded' ? e.rows : null,
        durationMs: e.durationMs,
        endedAt: e.endedAt,
        error: e.type === 'RefreshFailed' ? e.message : null,
      };
      this.lastBuilds.add(build);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
