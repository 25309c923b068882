import { randomBytes } from 'node:crypto';
import { DEFAULT_KAFKA_BROKERS, KafkaConfig } from '@model-persistence/config';
import { decodeEvent, DomainEvent, TopicName, topicName } from '@model-persistence/contracts';
import { createKafka, ensureTopics } from '@model-persistence/messaging';
import { Consumer, IHeaders, Kafka, KafkaMessage, Partitioners } from 'kafkajs';

export const TEST_BROKERS = (process.env.KAFKA_BROKERS ?? DEFAULT_KAFKA_BROKERS).split(',');

/** A topic prefix of its own per test, so tests share the broker without sharing topics. */
export function uniqueTopicPrefix(label = 't'): string {
  return `${label.replace(/[^a-z0-9]/gi, '')}-${randomBytes(4).toString('hex')}.`;
}

export function testKafkaConfig(topicPrefix: string, overrides: Partial<KafkaConfig> = {}): KafkaConfig {
  return {
    brokers: TEST_BROKERS,
    clientId: 'test',
    topicPrefix,
    partitions: 3,
    sessionTimeoutMs: 10_000,
    ...overrides,
  };
}

export async function createTestTopics(config: KafkaConfig): Promise<Kafka> {
  const kafka = createKafka(config, `test-${randomBytes(3).toString('hex')}`);
  await ensureTopics(kafka, config.topicPrefix, config.partitions, config);
  return kafka;
}

export interface ReceivedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: IHeaders;
  raw: KafkaMessage;
  /** The decoded event, or null when the value is not a valid event. */
  event: DomainEvent | null;
  /** When this recorder got it (Date.now()). */
  receivedAt: number;
}

/** Reads topics from the beginning into memory; tests wait for what they expect to arrive. */
export class TopicRecorder {
  readonly messages: ReceivedMessage[] = [];
  private consumer: Consumer | null = null;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly prefix: string,
    private readonly topics: TopicName[],
    /** Read records of open (and aborted) Kafka transactions too, as a read_uncommitted consumer does. */
    private readonly options: { readUncommitted?: boolean } = {},
  ) {}

  async start(): Promise<this> {
    this.consumer = this.kafka.consumer({
      groupId: `recorder-${randomBytes(6).toString('hex')}`,
      sessionTimeout: 10_000,
      readUncommitted: this.options.readUncommitted ?? false,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: this.topics.map((t) => topicName(this.prefix, t)),
      fromBeginning: true,
    });
    let ready!: () => void;
    const joined = new Promise<void>((r) => (ready = r));
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => ready());
    await this.consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const decoded = decodeEvent(message.value);
        this.messages.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          headers: message.headers ?? {},
          raw: message,
          event: decoded.ok ? decoded.event : null,
          receivedAt: Date.now(),
        });
        const w = this.waiters;
        this.waiters = [];
        w.forEach((f) => f());
      },
    });
    await joined;
    return this;
  }

  events<T extends DomainEvent['type']>(type: T): Extract<DomainEvent, { type: T }>[] {
    return this.messages
      .filter((m) => m.event?.type === type)
      .map((m) => m.event as Extract<DomainEvent, { type: T }>);
  }

  /** Resolves with the matching messages once `predicate` holds for at least `count` of them. */
  async waitFor(
    predicate: (m: ReceivedMessage) => boolean,
    count = 1,
    timeoutMs = 30_000,
  ): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.filter(predicate);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${count} message(s); have ${found.length} matching of ${this.messages.length}: ` +
            JSON.stringify(
              this.messages.slice(-5).map((m) => m.event ?? m.raw.value?.toString().slice(0, 200)),
            ),
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 500));
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}

export async function produceRaw(
  kafka: Kafka,
  topic: string,
  messages: { key?: string | null; value: string | Buffer | null; headers?: IHeaders }[],
): Promise<void> {
  const p = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await p.connect();
  try {
    await p.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({ key: m.key ?? null, value: m.value, headers: m.headers })),
    });
  } finally {
    await p.disconnect();
  }
}
