import { Inject, Injectable } from '@nestjs/common';
import { AlertRepository, NotificationOutboxRepository } from '@model-persistence/database';
import { PeriodicJob } from '@model-persistence/runtime';
import { APP_CONFIG } from '@model-persistence/config';
import { NotifierSettings } from './config';

/**
 * The notifier's own tables stay bounded: decided alert runs and their results after ALERT_RUN_RETENTION_DAYS,
 * sent or dropped emails after NOTIFICATION_RETENTION_DAYS, alert states of deleted models. Its own job, apart
 * from the mail sender loop, so a slow purge never delays an email. Idempotent: every replica may run it.
 */
@Injectable()
export class NotifierPurgeJob extends PeriodicJob {
  constructor(
    private readonly alerts: AlertRepository,
    private readonly outbox: NotificationOutboxRepository,
    @Inject(APP_CONFIG) private readonly settings: NotifierSettings,
  ) {
    super('NotifierPurge', settings.purge.intervalMs);
  }

  protected async work(now = Date.now()): Promise<string | null> {
    const { alertRunRetentionMs, notificationRetentionMs } = this.settings.purge;
    const runs = await this.alerts.purgeDecidedBefore(new Date(now - alertRunRetentionMs));
    const emails = await this.outbox.purgeSentBefore(new Date(now - notificationRetentionMs));
    const states = await this.alerts.purgeStatesOfDeletedCards();
    return runs + emails + states > 0
      ? `deleted ${runs} decided alert run row(s), ${emails} sent email(s), ${states} alert state(s) of deleted models`
      : null;
  }
}
