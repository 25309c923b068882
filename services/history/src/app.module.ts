import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, InboxPurgeModule } from '@model-persistence/runtime';
import { ApplyHistoryEventUseCase } from './apply-history-event.use-case';
import { HistoryConfig } from './config';
import { HistoryEventsHandler } from './history-events.handler';
import { StaleRunSweeper } from './stale-run-sweeper.service';
import { SweepStaleRunsUseCase } from './sweep-stale-runs.use-case';
import { TaskHistoryTrimJob } from './task-history-trim.job';

@Module({})
export class AppModule {
  static forRoot(config: HistoryConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, config.consumerGroup),
        InboxPurgeModule.forRoot(config.inboxPurge),
      ],
      controllers: [HistoryEventsHandler],
      providers: [ApplyHistoryEventUseCase, SweepStaleRunsUseCase, StaleRunSweeper, TaskHistoryTrimJob],
    };
  }
}
