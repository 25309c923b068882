import { Injectable } from '@nestjs/common';
import { RefreshSucceeded } from '@model-persistence/contracts';
import { AlertRepository, InboxRepository, UnitOfWork } from '@model-persistence/database';
import { applySuccess } from './alert-policy';
import { NOTIFIER_CONSUMER } from './notifier.constants';
import { OutboxSender } from './outbox-sender.service';
import { RecordOutcome } from './record-refresh-failure.use-case';
import { RunAlertService } from './run-alert.service';

/** A model refreshed: it may end an announced failure (recovery email) and it re-arms the next failure. */
@Injectable()
export class RecordRefreshSuccessUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly alerts: AlertRepository,
    private readonly inbox: InboxRepository,
    private readonly runAlerts: RunAlertService,
    private readonly sender: OutboxSender,
  ) {}

  async execute(e: RefreshSucceeded): Promise<RecordOutcome> {
    const [outcome, queued] = await this.uow.run(async (m): Promise<[RecordOutcome, number]> => {
      if (!(await this.inbox.record(NOTIFIER_CONSUMER, e.eventId, m))) return ['duplicate', 0];
      await this.runAlerts.requireDatabase(e.databaseId, m);
      await this.alerts.lockRun(e.runId, m);
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
        recovered,
      };
      await this.alerts.insertResult(result, m);
      const run = await this.alerts.findRun(e.runId, m);
      if (run?.decidedAt) {
        return [
          'recorded',
          recovered ? await this.runAlerts.queueLateRecovery({ ...result, createdAt: new Date() }, m) : 0,
        ];
      }
      return ['recorded', await this.runAlerts.tryDecide(e.runId, m)];
    });
    if (queued > 0) this.sender.wake();
    return outcome;
  }
}
