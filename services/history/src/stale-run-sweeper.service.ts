import { Inject, Injectable } from '@nestjs/common';
import { PeriodicJob } from '@model-persistence/runtime';
import { APP_CONFIG } from '@model-persistence/config';
import { HistoryProjectorConfig } from './history-options';
import { SweepStaleRunsUseCase } from './sweep-stale-runs.use-case';

/** Runs the stale-run sweep at start-up and then every HISTORY_SWEEP_INTERVAL_MS, never two at once. */
@Injectable()
export class StaleRunSweeper extends PeriodicJob {
  constructor(
    private readonly sweep: SweepStaleRunsUseCase,
    @Inject(APP_CONFIG) { projector: options }: HistoryProjectorConfig,
  ) {
    super('StaleRunSweeper', options.sweepIntervalMs);
  }

  protected async work(): Promise<string | null> {
    const closed = await this.sweep.execute();
    if (closed > 0) this.logger.warn(`closed ${closed} stale run(s) as failed`);
    return null;
  }
}
