import { Injectable } from '@nestjs/common';
import { RefreshSucceeded } from '@model-persistence/contracts';
import { AlertRepository } from '@model-persistence/database';
import { applySuccess } from './alert-policy';
import { RunAlertService } from './run-alert.service';
import { RecordOutcome, RunEventRecorder } from './run-event-recorder.service';

/** A model refreshed: it may end an announced failure (recovery email) and it re-arms the next failure. */
@Injectable()
export class RecordRefreshSuccessUseCase {
  constructor(
    private readonly recorder: RunEventRecorder,
    private readonly alerts: AlertRepository,
    private readonly runAlerts: RunAlertService,
  ) {}

  execute(e: RefreshSucceeded): Promise<RecordOutcome> {
    return this.recorder.record(e, async (m) => {
      const endedAt = new Date(e.endedAt);
      const [state] = await this.alerts.findStates([e.cardId], m);
      let recovered = false;
      // models never announced need no state: their next failure is a first failure anyway
      if (state) {
        const r = applySuccess(state, endedAt);
        recovered = r.recovered;
        await this.alerts.saveState({ cardId: e.cardId, databaseId: e.databaseId, ...r.next }, m);
      }
      const result = {
        runId: e.runId,
        cardId: e.cardId,
        outcome: 'success' as const,
        databaseId: e.databaseId,
        persistedInfoId: e.persistedInfoId,
        trigger: e.trigger,
        errorClass: null,
        errorCode: null,
        message: null,
        endedAt,
        upstreamCardId: null,
        recovered,
      };
      await this.alerts.insertResult(result, m);
      const run = await this.alerts.findRun(e.runId, m);
      if (run?.decidedAt) {
        return recovered ? this.runAlerts.queueLateRecovery({ ...result, createdAt: new Date() }, m) : 0;
      }
      return this.runAlerts.tryDecide(e.runId, m);
    });
  }
}
