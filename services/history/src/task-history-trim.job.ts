import { Inject, Injectable } from '@nestjs/common';
import { TaskHistoryRepository } from '@model-persistence/database';
import { PeriodicJob } from '@model-persistence/runtime';
import { APP_CONFIG } from '@model-persistence/config';
import { HistoryOptions, HistoryProjectorConfig } from './history-options';

/**
 * task_history is the projector's table, so the projector keeps it bounded: the newest TASK_HISTORY_KEEP rows
 * stay. Every replica may run it; the delete is the same whoever runs it.
 */
@Injectable()
export class TaskHistoryTrimJob extends PeriodicJob {
  private readonly options: HistoryOptions;

  constructor(
    private readonly history: TaskHistoryRepository,
    @Inject(APP_CONFIG) { projector }: HistoryProjectorConfig,
  ) {
    super('TaskHistoryTrim', projector.trimIntervalMs);
    this.options = projector;
  }

  protected async work(): Promise<string | null> {
    const deleted = await this.history.trimTo(this.options.keep);
    return deleted > 0
      ? `deleted ${deleted} task-history row(s) beyond the newest ${this.options.keep}`
      : null;
  }
}
