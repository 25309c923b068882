import { DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { DatabaseModule } from '@model-persistence/database';
import { MessagingModule } from '@model-persistence/messaging';
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
      imports: [
        DatabaseModule.forRoot({
          url: config.database.url,
          poolSize: config.database.poolSize,
          applicationName: config.service,
        }),
        MessagingModule.forRoot(config.kafka, schedulerConsumerGroup(config)),
      ],
      controllers: [ConfigChangedHandler],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        ScheduleSnapshotService,
        PublishFiresUseCase,
        SchedulerService,
      ],
    };
  }
}
