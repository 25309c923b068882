import { Injectable } from '@nestjs/common';
import { RefreshRunCompleted, RefreshRunStarted } from '@model-persistence/contracts';
import { AlertRepository, InboxRepository, UnitOfWork } from '@model-persistence/database';
import { NOTIFIER_CONSUMER } from './notifier.constants';
import { OutboxSender } from './outbox-sender.service';
import { RecordOutcome } from './record-refresh-failure.use-case';
import { RunAlertService } from './run-alert.service';

/** A run finished: record it and decide it as soon as all its per-model events are in. */
@Injectable()
export class CompleteRunUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly alerts: AlertRepository,
    private readonly inbox: InboxRepository,
    private readonly runAlerts: RunAlertService,
    private readonly sender: OutboxSender,
  ) {}

  async execute(e: RefreshRunStarted | RefreshRunCompleted): Promise<RecordOutcome> {
    // run starts share the topic; alerts only need the completion
    if (e.type === 'RefreshRunStarted') return 'ignored';
    const [outcome, queued] = await this.uow.run(async (m): Promise<[RecordOutcome, number]> => {
      if (!(await this.inbox.record(NOTIFIER_CONSUMER, e.eventId, m))) return ['duplicate', 0];
      await this.runAlerts.requireDatabase(e.databaseId, m);
      await this.alerts.lockRun(e.runId, m);
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
          errorDetails: e.errorDetails,
        },
        m,
      );
      return ['recorded', await this.runAlerts.tryDecide(e.runId, m)];
    });
    if (queued > 0) this.sender.wake();
    return outcome;
  }
}
