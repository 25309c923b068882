import { Inject, Injectable } from '@nestjs/common';
import { ApplyOutcome, TaskHistoryRepository } from '@model-persistence/database';
import { closeIfStale, projectEvent, runKeyOf, validateHistoryEvent } from './history-projection';
import { APP_CONFIG } from '@model-persistence/config';
import { HistoryOptions, HistoryProjectorConfig } from './history-options';
import { HistoryEvent } from './history-topics';

/** Applies one run / model / prune event to task_history, exactly once (inbox in the same transaction). */
@Injectable()
export class ApplyHistoryEventUseCase {
  private readonly options: HistoryOptions;

  constructor(
    private readonly history: TaskHistoryRepository,
    @Inject(APP_CONFIG) { projector }: HistoryProjectorConfig,
  ) {
    this.options = projector;
  }

  async execute(event: HistoryEvent): Promise<ApplyOutcome> {
    validateHistoryEvent(event);
    const { task, runId } = runKeyOf(event);
    const now = this.options.now?.() ?? new Date();
    return this.history.applyOnce(this.options.consumer, event.eventId, task, runId, (current) =>
      // an old event must not reopen a long-dead run: the sweep rule applies at once
      closeIfStale(projectEvent(current, event), now, this.options.staleRunTimeoutMs),
    );
  }
}
