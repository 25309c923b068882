import { Inject, Injectable } from '@nestjs/common';
import { TaskHistoryRepository } from '@model-persistence/database';
import { closeIfStale } from './history-projection';
import { APP_CONFIG } from '@model-persistence/config';
import { HistoryOptions, HistoryProjectorConfig } from './history-options';

const BATCH = 500;

/** Closes runs that stopped sending events (their refresher died) as failed, with the reason. */
@Injectable()
export class SweepStaleRunsUseCase {
  private readonly options: HistoryOptions;

  constructor(
    private readonly history: TaskHistoryRepository,
    @Inject(APP_CONFIG) { projector }: HistoryProjectorConfig,
  ) {
    this.options = projector;
  }

  /** Returns how many runs it closed. Safe to run on every replica at once: the result is deterministic. */
  async execute(now: Date = this.options.now?.() ?? new Date()): Promise<number> {
    const timeout = this.options.staleRunTimeoutMs;
    const before = new Date(now.getTime() - timeout);
    let closed = 0;
    for (;;) {
      const stale = await this.history.findStale(before, BATCH);
      let closedNow = 0;
      for (const { task, runId } of stale) {
        const outcome = await this.history.changeRun(task, runId, (current) => {
          if (!current) return null;
          // re-checked under the run's lock: an event may have arrived since the query
          const next = closeIfStale(current, now, timeout);
          return next === current ? null : next;
        });
        if (outcome === 'applied') closedNow++;
      }
      closed += closedNow;
      if (stale.length < BATCH || closedNow === 0) return closed;
    }
  }
}
