import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule } from '@model-persistence/runtime';
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
      providers: [ScheduleSnapshotService, PublishFiresUseCase, SchedulerService],
    };
  }
}
