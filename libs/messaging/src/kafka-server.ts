import { CustomStrategy, KafkaOptions, ServerKafka } from '@nestjs/microservices';
import { KafkaConfig as AppKafkaConfig } from '@model-persistence/config';
import { topicName, TopicName } from '@model-persistence/contracts';
import { Partitioners } from 'kafkajs';
import { kafkaClientConfig } from './kafka.factory';

/**
 * Nest's Kafka transport with the configurable topic prefix: handlers declare logical topics
 * (`@EventPattern(Topics.RefreshRequested)`), the server subscribes to `<prefix><topic>`.
 */
export class PrefixedKafkaServer extends ServerKafka {
  constructor(
    options: Required<KafkaOptions>['options'],
    private readonly topicPrefix: string,
  ) {
    super(options);
  }

  override addHandler(pattern: unknown, ...rest: unknown[]): void {
    const resolved =
      typeof pattern === 'string' ? topicName(this.topicPrefix, pattern as TopicName) : pattern;
    (super.addHandler as (...a: unknown[]) => void)(resolved, ...rest);
  }
}

export interface ConsumerOptions {
  groupId: string;
  /** Partitions (= databases) processed at once by this replica. */
  concurrency?: number;
  sessionTimeoutMs?: number;
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
        },
        producer: { createPartitioner: Partitioners.DefaultPartitioner },
        subscribe: { fromBeginning: true },
        run: { partitionsConsumedConcurrently: consumer.concurrency ?? 1 },
        parser: { keepBinary: true },
        postfixId: '',
        producerOnlyMode: false,
      },
      config.topicPrefix,
    ),
  };
}
