import { Injectable } from '@nestjs/common';
import { RefreshFailed } from '@model-persistence/contracts';
import { AlertRepository, InboxRepository, UnitOfWork } from '@model-persistence/database';
import { NOTIFIER_CONSUMER } from './notifier.constants';
import { OutboxSender } from './outbox-sender.service';
import { RunAlertService } from './run-alert.service';

export type RecordOutcome = 'duplicate' | 'ignored' | 'recorded';

/** A model failed in a run: remember it; if it was the run's last missing piece, decide the run. */
@Injectable()
export class RecordRefreshFailureUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly alerts: AlertRepository,
    private readonly inbox: InboxRepository,
    private readonly runAlerts: RunAlertService,
    private readonly sender: OutboxSender,
  ) {}

  async execute(e: RefreshFailed): Promise<RecordOutcome> {
    const [outcome, queued] = await this.uow.run(async (m): Promise<[RecordOutcome, number]> => {
      if (!(await this.inbox.record(NOTIFIER_CONSUMER, e.eventId, m))) return ['duplicate', 0];
      await this.runAlerts.requireDatabase(e.databaseId, m);
      // skipped (for example on a lock) leaves the model as it was: not a failure
      if (e.outcome === 'skipped') return ['ignored', 0];
      await this.alerts.lockRun(e.runId, m);
      await this.alerts.insertResult(
        {
          runId: e.runId,
          cardId: e.cardId,
          outcome: 'error',
          databaseId: e.databaseId,
          persistedInfoId: e.persistedInfoId,
          trigger: e.trigger,
          errorClass: e.errorClass,
          errorCode: e.errorCode,
          message: e.message,
          endedAt: new Date(e.endedAt),
          recovered: false,
        },
        m,
      );
      return ['recorded', await this.runAlerts.tryDecide(e.runId, m)];
    });
    if (queued > 0) this.sender.wake();
    return outcome;
  }
}
