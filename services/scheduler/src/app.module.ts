import { DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { KAFKA, StagedPublisher } from '@model-persistence/messaging';
import { CoreModule } from '@model-persistence/runtime';
import { Kafka } from 'kafkajs';
import { schedulerConsumerGroup, SchedulerConfig } from './config';
import { ConfigChangedHandler } from './config-changed.handler';
import { PublishFiresUseCase } from './publish-fires.use-case';
import { ScheduleSnapshotService } from './schedule-snapshot.service';
import { SchedulerService } from './scheduler.service';

@Module({})
export class AppModule {
  static forRoot(config: SchedulerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(config, schedulerConsumerGroup(config))],
      controllers: [ConfigChangedHandler],
      providers: [
        ScheduleSnapshotService,
        PublishFiresUseCase,
        SchedulerService,
        {
          provide: StagedPublisher,
          // one transactional id per process (instance ids are unique): two processes never fence each other
          useFactory: (kafka: Kafka, c: SchedulerConfig) =>
            new StagedPublisher(kafka, `${c.kafka.topicPrefix}scheduler-staged-${c.instanceId}`),
          inject: [KAFKA, APP_CONFIG],
        },
      ],
    };
  }
}
