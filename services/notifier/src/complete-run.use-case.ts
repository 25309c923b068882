import { Injectable } from '@nestjs/common';
import { RefreshRunCompleted, RefreshRunStarted } from '@model-persistence/contracts';
import { AlertRepository } from '@model-persistence/database';
import { RunAlertService } from './run-alert.service';
import { RecordOutcome, RunEventRecorder } from './run-event-recorder.service';

/** A run finished: record it and decide it as soon as all its per-model events are in. */
@Injectable()
export class CompleteRunUseCase {
  constructor(
    private readonly recorder: RunEventRecorder,
    private readonly alerts: AlertRepository,
    private readonly runAlerts: RunAlertService,
  ) {}

  async execute(e: RefreshRunStarted | RefreshRunCompleted): Promise<RecordOutcome> {
    // run starts share the topic; alerts only need the completion
    if (e.type === 'RefreshRunStarted') return 'ignored';
    return this.recorder.record(e, async (m) => {
      await this.alerts.insertRun(
        {
          runId: e.runId,
          databaseId: e.databaseId,
          cardId: e.cardId ?? null,
          trigger: e.trigger,
          startedAt: new Date(e.startedAt),
          endedAt: new Date(e.endedAt),
          success: e.success,
          error: e.error,
          skipped: e.skipped,
          errorDetails: e.errorDetails,
        },
        m,
      );
      return this.runAlerts.tryDecide(e.runId, m);
    });
  }
}
