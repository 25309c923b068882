import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { assertValidEvent, DomainEvent, TopicName, topicName } from '@model-persistence/contracts';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { IHeaders, Kafka, Message, Partitioners, Producer, RecordMetadata, TopicMessages } from 'kafkajs';
import { BrokerDeadline } from './broker-deadline';
import { KAFKA, MESSAGING_OPTIONS, MessagingOptions } from './tokens';

export interface OutgoingEvent<E extends DomainEvent = DomainEvent> {
  topic: TopicName;
  key: string;
  event: E;
  headers?: IHeaders;
}

/** A validated event serialized into its Kafka record, ready to send (see EventPublisher.encode). */
export interface EncodedEvent {
  topic: string;
  message: Message;
}

/**
 * How long a publish may wait for the broker's acknowledgement. After it the caller gets BROKER_UNAVAILABLE
 * (HTTP 503 at the API, a classified retry in consumers); the send may still complete later (at least once).
 */
export const PUBLISH_TIMEOUT_MS = 10_000;

/** Kafka protocol errors that reject one record for good; every other produce failure may pass with time. */
const RECORD_REJECTIONS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'UNSUPPORTED_COMPRESSION_TYPE',
]);

/** The kafkajs error type when the broker refused the record itself (kafkajs nests it in `cause`), else null. */
export function recordRejection(error: unknown): string | null {
  let e: unknown = error;
  for (let depth = 0; e && depth < 5; depth++) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && RECORD_REJECTIONS.has(type)) return type;
    e =
      (e as { cause?: unknown; originalError?: unknown }).cause ??
      (e as { originalError?: unknown }).originalError;
  }
  return null;
}

/** Publishes validated events; resolves only once the broker acknowledged them (acks = all). */
@Injectable()
export class EventPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(EventPublisher.name);
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions,
  ) {}

  topic(topic: TopicName): string {
    return topicName(this.options.topicPrefix, topic);
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const p = this.kafka.producer({
        allowAutoTopicCreation: false,
        maxInFlightRequests: 5,
        // murmur2 like the Java client, so other systems' producers pick the same partition per key
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await p.connect();
      this.producer = p;
      return p;
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  async publish<E extends DomainEvent>(out: OutgoingEvent<E>): Promise<RecordMetadata> {
    const [meta] = await this.publishAll([out]);
    return meta;
  }

  /** Several events in one request (per topic); all are validated before any is sent. */
  async publishAll(events: OutgoingEvent[]): Promise<RecordMetadata[]> {
    return this.publishEncoded(this.encode(events));
  }

  /**
   * Validates and serializes events into Kafka records without sending them, so a caller with a deadline (the
   * scheduler's burst at a fire time) does this work ahead and is left with the send alone. Throws on the
   * first invalid event.
   */
  encode(events: OutgoingEvent[]): EncodedEvent[] {
    return events.map((e) => {
      assertValidEvent(e.event);
      return {
        topic: this.topic(e.topic),
        message: {
          key: e.key,
          value: JSON.stringify(e.event),
          headers: {
            'content-type': 'application/json',
            'event-type': e.event.type,
            'event-version': String(e.event.version),
            ...e.headers,
          },
        },
      };
    });
  }

  /** Sends records made by `encode` in one request (grouped per topic); resolves once the broker acknowledged. */
  async publishEncoded(records: EncodedEvent[]): Promise<RecordMetadata[]> {
    if (records.length === 0) return [];
    const byTopic = new Map<string, Message[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r.message);
      else byTopic.set(r.topic, [r.message]);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    // one deadline for connecting and sending (see BrokerDeadline)
    const deadline = new BrokerDeadline(
      `Kafka did not acknowledge within ${PUBLISH_TIMEOUT_MS} ms`,
      PUBLISH_TIMEOUT_MS,
    );
    try {
      const producer = await deadline.race(this.connected());
      return await deadline.race(producer.sendBatch({ acks: -1, timeout: 30_000, topicMessages }));
    } catch (e) {
      if (e instanceof DomainError) throw e;
      const rejection = recordRejection(e);
      if (rejection) {
        // The broker is up and said no to this record: retrying (or calling it an outage) cannot help.
        this.logger.error(`publish rejected by the broker (${rejection}): ${(e as Error).message}`);
        throw new DomainError(
          ErrorCode.MessageRejected,
          `Kafka rejected the event (${rejection}): ${(e as Error).message}`,
          { kafkaError: rejection },
          { cause: e },
        );
      }
      this.logger.error(`publish failed: ${(e as Error).message}`);
      throw new DomainError(
        ErrorCode.BrokerUnavailable,
        `Kafka did not acknowledge the event: ${(e as Error).message}`,
        undefined,
        {
          cause: e,
        },
      );
    } finally {
      deadline.clear();
    }
  }

  /** Raw send for the dead-letter path and tests of hostile input (no validation by design). */
  async sendRaw(
    topic: string,
    messages: { key: string | null; value: Buffer | string | null; headers?: IHeaders }[],
  ) {
    const producer = await this.connected();
    return producer.send({ topic, acks: -1, messages });
  }

  async onApplicationShutdown(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) await p.disconnect().catch(() => undefined);
  }
}
