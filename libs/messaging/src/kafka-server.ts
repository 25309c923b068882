import { CustomStrategy, KafkaOptions, ServerKafka } from '@nestjs/microservices';
import { KafkaConfig as AppKafkaConfig } from '@model-persistence/config';
import { topicName, TopicName } from '@model-persistence/contracts';
import { SpanKind, TraceCarrier, withSpanFromContext } from '@model-persistence/telemetry';
import {
  Consumer,
  EachMessagePayload,
  IHeaders,
  PartitionAssigner,
  PartitionAssigners,
  Partitioners,
} from 'kafkajs';
import type { ConsumerConfig as NestConsumerConfig } from '@nestjs/microservices/external/kafka.interface';
import { kafkaClientConfig } from './kafka.factory';
import { handleBatchByKey, Slots } from './key-lanes';

/**
 * Nest's Kafka transport with the configurable topic prefix: handlers declare logical topics
 * (`@EventPattern(Topics.RefreshRequested)`), the server subscribes to `<prefix><topic>`.
 */
export class PrefixedKafkaServer extends ServerKafka {
  constructor(
    options: Required<KafkaOptions>['options'],
    private readonly topicPrefix: string,
    /** Set: the keys of a partition are handled in parallel (each in order) within these process-wide slots. */
    private readonly keySlots?: Slots,
  ) {
    super(options);
  }

  override async bindEvents(consumer: Consumer): Promise<void> {
    const slots = this.keySlots;
    if (!slots) return super.bindEvents(consumer);
    const topics = [...this.messageHandlers.keys()];
    if (topics.length > 0) await consumer.subscribe({ ...(this.options.subscribe ?? {}), topics });
    await consumer.run({
      ...(this.options.run ?? {}),
      eachBatchAutoResolve: false,
      eachBatch: (payload) => {
        const { topic, partition } = payload.batch;
        return handleBatchByKey(payload, slots, (message) =>
          // kafkajs' instrumentation parents a batch's work on its poll span; each message's work belongs to the
          // trace of whoever produced it (as with eachMessage), so its process span continues that context
          withSpanFromContext(
            `process ${topic}`,
            traceCarrier(message.headers),
            {
              kind: SpanKind.CONSUMER,
              attributes: {
                'messaging.system': 'kafka',
                'messaging.operation.type': 'process',
                'messaging.operation.name': 'process',
                'messaging.destination.name': topic,
                'messaging.destination.partition.id': String(partition),
                'messaging.kafka.offset': message.offset,
                ...(message.key ? { 'messaging.kafka.message.key': message.key.toString() } : {}),
              },
            },
            () =>
              this.handleMessage({
                topic,
                partition,
                message,
                heartbeat: payload.heartbeat,
                pause: payload.pause,
              } satisfies EachMessagePayload) as Promise<unknown>,
          ).then(() => undefined),
        );
      },
    });
  }

  override addHandler(pattern: unknown, ...rest: unknown[]): void {
    const resolved =
      typeof pattern === 'string' ? topicName(this.topicPrefix, pattern as TopicName) : pattern;
    (super.addHandler as (...a: unknown[]) => void)(resolved, ...rest);
  }
}

/** The W3C trace context a producer put in a record's headers. */
function traceCarrier(headers: IHeaders | undefined): TraceCarrier | null {
  const carrier: TraceCarrier = {};
  for (const key of ['traceparent', 'tracestate']) {
    const v = headers?.[key];
    const text = Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : undefined;
    if (text) carrier[key] = text;
  }
  return carrier.traceparent ? carrier : null;
}

export interface ConsumerOptions {
  groupId: string;
  /** Partitions (= databases) processed at once by this replica. */
  concurrency?: number;
  sessionTimeoutMs?: number;
  /**
   * Handle the messages of different keys in one partition at once (each key still in order), holding one of
   * these slots each (share one Slots between a process's consumers to bound the whole process).
   */
  keySlots?: Slots;
  /** Partition assigners in order of preference (the group uses the first every member supports). */
  partitionAssigners?: PartitionAssigner[];
}

/** Options for `NestFactory.createMicroservice` / `app.connectMicroservice`. */
export function kafkaMicroservice(config: AppKafkaConfig, consumer: ConsumerOptions): CustomStrategy {
  const sessionTimeout = consumer.sessionTimeoutMs ?? config.sessionTimeoutMs;
  return {
    strategy: new PrefixedKafkaServer(
      {
        client: kafkaClientConfig(config, `${config.clientId}-consumer`),
        consumer: {
          groupId: consumer.groupId,
          sessionTimeout,
          heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
          rebalanceTimeout: 60_000,
          allowAutoTopicCreation: false,
          retry: { retries: 10 },
          ...(consumer.partitionAssigners
            ? {
                // Nest declares its own copy of kafkajs' types; the assigners are kafkajs' own
                partitionAssigners: [
                  ...consumer.partitionAssigners,
                  PartitionAssigners.roundRobin,
                ] as unknown as NestConsumerConfig['partitionAssigners'],
              }
            : {}),
        },
        producer: { createPartitioner: Partitioners.DefaultPartitioner },
        subscribe: { fromBeginning: true },
        run: { partitionsConsumedConcurrently: consumer.concurrency ?? 1 },
        parser: { keepBinary: true },
        postfixId: '',
        producerOnlyMode: false,
      },
      config.topicPrefix,
      consumer.keySlots,
    ),
  };
}
