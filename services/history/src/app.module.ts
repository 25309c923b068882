import { DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { DatabaseModule } from '@model-persistence/database';
import { MessagingModule } from '@model-persistence/messaging';
import { ApplyHistoryEventUseCase } from './apply-history-event.use-case';
import { HistoryConfig } from './config';
import { HistoryEventsHandler } from './history-events.handler';
import { HISTORY_OPTIONS, HistoryOptions } from './history-options';
import { StaleRunSweeper } from './stale-run-sweeper.service';
import { SweepStaleRunsUseCase } from './sweep-stale-runs.use-case';

export function historyOptions(config: HistoryConfig): HistoryOptions {
  return {
    consumer: config.consumerGroup,
    staleRunTimeoutMs: config.history.staleRunTimeoutMs,
    sweepIntervalMs: config.history.sweepIntervalMs,
  };
}

@Module({})
export class AppModule {
  static forRoot(config: HistoryConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.database.url,
          poolSize: config.database.poolSize,
          applicationName: config.service,
        }),
        MessagingModule.forRoot(config.kafka, config.consumerGroup),
      ],
      controllers: [HistoryEventsHandler],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: HISTORY_OPTIONS, useValue: historyOptions(config) },
        ApplyHistoryEventUseCase,
        SweepStaleRunsUseCase,
        StaleRunSweeper,
      ],
    };
  }
}
