import { Injectable } from '@nestjs/common';
import { RefreshFailed } from '@model-persistence/contracts';
import { AlertRepository } from '@model-persistence/database';
import { RunAlertService } from './run-alert.service';
import { RecordOutcome, RunEventRecorder } from './run-event-recorder.service';

/** A model failed in a run: remember it; if it was the run's last missing piece, decide the run. */
@Injectable()
export class RecordRefreshFailureUseCase {
  constructor(
    private readonly recorder: RunEventRecorder,
    private readonly alerts: AlertRepository,
    private readonly runAlerts: RunAlertService,
  ) {}

  execute(e: RefreshFailed): Promise<RecordOutcome> {
    // a skipped model (a lock, an upstream that did not build) is left as it was: not a failure; it is kept so the
    // run counts as complete and the failure email can list it under the model that kept it from building
    return this.recorder.record(e, async (m) => {
      await this.alerts.insertResult(
        {
          runId: e.runId,
          cardId: e.cardId,
          outcome: e.outcome,
          databaseId: e.databaseId,
          persistedInfoId: e.persistedInfoId,
          trigger: e.trigger,
          errorClass: e.errorClass,
          errorCode: e.errorCode,
          message: e.message,
          endedAt: new Date(e.endedAt),
          upstreamCardId: e.upstreamCardId ?? null,
          recovered: false,
        },
        m,
      );
      return this.runAlerts.tryDecide(e.runId, m);
    });
  }
}
