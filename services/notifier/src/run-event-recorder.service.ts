import { Injectable } from '@nestjs/common';
import { AlertRepository, InboxRepository, UnitOfWork } from '@model-persistence/database';
import { EntityManager } from 'typeorm';
import { NOTIFIER_CONSUMER } from './notifier.constants';
import { OutboxSender } from './outbox-sender.service';
import { RunAlertService } from './run-alert.service';

export type RecordOutcome = 'duplicate' | 'ignored' | 'recorded';

/** What the recorder needs of a run's event: its id (inbox), its database and its run (the run lock). */
export interface RunEventKey {
  eventId: string;
  databaseId: number;
  runId: string;
}

/**
 * The one way the notifier takes in a run's event: in one app-database transaction it records the event in the
 * inbox (a redelivery is a `duplicate`), checks the database still exists, takes the run lock, then lets `apply`
 * record the event and return how many emails it queued; the sender is woken once the transaction has committed.
 */
@Injectable()
export class RunEventRecorder {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly alerts: AlertRepository,
    private readonly inbox: InboxRepository,
    private readonly runAlerts: RunAlertService,
    private readonly sender: OutboxSender,
  ) {}

  /** `ignore`: the event is taken (inbox) but changes nothing, e.g. a `skipped` outcome. */
  async record(
    e: RunEventKey,
    apply: (m: EntityManager) => Promise<number>,
    ignore = false,
  ): Promise<RecordOutcome> {
    const [outcome, queued] = await this.uow.run(async (m): Promise<[RecordOutcome, number]> => {
      if (!(await this.inbox.record(NOTIFIER_CONSUMER, e.eventId, m))) return ['duplicate', 0];
      await this.runAlerts.requireDatabase(e.databaseId, m);
      if (ignore) return ['ignored', 0];
      await this.alerts.lockRun(e.runId, m);
      return ['recorded', await apply(m)];
    });
    if (queued > 0) this.sender.wake();
    return outcome;
  }
}
