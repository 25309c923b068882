import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { KafkaConfig as AppKafkaConfig } from '@model-persistence/config';
import { Kafka } from 'kafkajs';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { EventPublisher } from './event-publisher';
import { createKafka } from './kafka.factory';
import { KafkaMessageProcessor } from './message-processor';
import { ensureTopics } from './topic-admin';
import { KAFKA, MESSAGING_OPTIONS, MessagingOptions } from './tokens';

@Injectable()
class TopicBootstrap implements OnApplicationBootstrap {
  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions,
  ) {}
  async onApplicationBootstrap(): Promise<void> {
    await ensureTopics(this.kafka, this.options.topicPrefix, this.options.partitions, this.options);
  }
}

/** Kafka client, publisher, dead-letter publisher and the safe message processor for one service. */
@Global()
@Module({})
export class MessagingModule {
  static forRoot(kafka: AppKafkaConfig, consumerGroup?: string): DynamicModule {
    const options: MessagingOptions = {
      topicPrefix: kafka.topicPrefix,
      partitions: kafka.partitions,
      replicationFactor: kafka.replicationFactor,
      minInsyncReplicas: kafka.minInsyncReplicas,
      consumerGroup,
    };
    return {
      module: MessagingModule,
      providers: [
        { provide: KAFKA, useFactory: () => createKafka(kafka) },
        { provide: MESSAGING_OPTIONS, useValue: options },
        TopicBootstrap,
        EventPublisher,
        DeadLetterPublisher,
        KafkaMessageProcessor,
      ],
      exports: [KAFKA, MESSAGING_OPTIONS, EventPublisher, DeadLetterPublisher, KafkaMessageProcessor],
    };
  }
}
