import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import {
  AlertRepository,
  NotificationOutboxEntity,
  NotificationOutboxRepository,
  UnitOfWork,
} from '@model-persistence/database';
import { errorMessage } from '@model-persistence/errors';
import { backoffDelay, BackoffPolicy, sleep } from '@model-persistence/messaging';
import { Metrics, recordSpanError, SpanKind, withSpanFromContext } from '@model-persistence/telemetry';
import { APP_CONFIG } from '@model-persistence/config';
import { NotifierSettings } from './config';
import { MailerService } from './mailer.service';
import { RecipientsService } from './recipients.service';
import { RunAlertService } from './run-alert.service';

const BATCH = 20;
const SWEEP_EVERY_MS = 5_000;

export function messageIdFor(dedupeKey: string): string {
  return `<${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 32)}@model-persistence>`;
}

/**
 * Delivers the outbox: claims due rows (a lease, so replicas never send one row twice at once), sends,
 * and on failure reschedules with exponential backoff plus jitter. State lives in the table, so a restart
 * simply continues. Also decides runs whose per-model events never all arrived (after a grace period).
 */
@Injectable()
export class OutboxSender implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxSender.name);
  private stop = new AbortController();
  private wakeUp: AbortController = new AbortController();
  private loop: Promise<void> | null = null;
  private woken = false;
  private readonly backoff: BackoffPolicy;

  constructor(
    private readonly outbox: NotificationOutboxRepository,
    private readonly alerts: AlertRepository,
    private readonly runAlerts: RunAlertService,
    private readonly mailer: MailerService,
    private readonly recipients: RecipientsService,
    @Inject(APP_CONFIG) private readonly settings: NotifierSettings,
    private readonly uow: UnitOfWork,
  ) {
    this.backoff = {
      retries: Number.MAX_SAFE_INTEGER,
      baseMs: settings.outbox.retryMinMs,
      maxMs: settings.outbox.retryMaxMs,
      jitter: 0.2,
    };
  }

  onApplicationBootstrap(): void {
    this.stop = new AbortController();
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stop.abort();
    this.wakeUp.abort();
    await this.loop;
    this.loop = null;
  }

  /** New rows were committed: deliver now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp.abort();
  }

  private async run(): Promise<void> {
    let lastSweep = 0;
    while (!this.stop.signal.aborted) {
      // a wake() during this pass keeps `woken` set, so the pass after it does not sleep
      this.woken = false;
      this.wakeUp = new AbortController();
      let busy = false;
      try {
        if (Date.now() - lastSweep >= SWEEP_EVERY_MS) {
          lastSweep = Date.now();
          await this.decideStaleRuns();
        }
        busy = (await this.deliverDue()) === BATCH;
      } catch (error) {
        this.logger.warn(`outbox pass failed, retrying: ${errorMessage(error)}`);
      }
      if (!busy && !this.woken) {
        await sleep(
          this.settings.outbox.pollIntervalMs,
          AbortSignal.any([this.stop.signal, this.wakeUp.signal]),
        );
      }
    }
  }

  /** Returns how many rows were claimed. */
  async deliverDue(): Promise<number> {
    const leaseMs = this.settings.smtp.timeoutMs * 3 + 10_000;
    const rows = await this.outbox.claimDue(BATCH, leaseMs);
    if (rows.length === 0) return 0;
    const to = await this.recipients.resolve();
    for (const [i, row] of rows.entries()) {
      if (this.stop.signal.aborted) {
        // shutting down: hand the rest back so the next sender (or replica) sends them at once
        await this.outbox.release(rows.slice(i).map((r) => r.id));
        break;
      }
      if (to.length === 0) {
        await this.outbox.markDropped(
          row.id,
          'no recipients: set the admin-email setting or add an active admin user',
        );
        Metrics.emails().add(1, { kind: row.kind, outcome: 'dropped' });
        this.logger.warn(`dropped ${row.kind} email ${row.dedupeKey}: no recipients configured`);
        continue;
      }
      await this.sendOne(row, to);
    }
    return rows.length;
  }

  /**
   * One delivery attempt, in a CLIENT span continuing the trace stored with the row (the refresh request
   * that caused the email), so the send and its bookkeeping SQL show up under that request.
   */
  private async sendOne(row: NotificationOutboxEntity, to: string[]): Promise<void> {
    const messageId = messageIdFor(row.dedupeKey);
    const attributes = {
      'notification.dedupe_key': row.dedupeKey,
      'notification.kind': row.kind,
      'notification.attempt': row.attempts + 1,
      'email.recipients.count': to.length,
      'email.message_id': messageId,
      'server.address': this.settings.smtp.host,
      'server.port': this.settings.smtp.port,
    };
    await withSpanFromContext(
      'smtp send',
      row.traceContext,
      { kind: SpanKind.CLIENT, attributes },
      async (span) => {
        try {
          const accepted = await this.mailer.send({
            to,
            subject: row.subject,
            text: row.textBody,
            html: row.htmlBody,
            messageId,
          });
          await this.outbox.markSent(row.id, accepted);
          Metrics.emails().add(1, { kind: row.kind, outcome: 'sent' });
          this.logger.log(`sent ${row.kind} email ${row.dedupeKey} to ${to.length} recipient(s)`);
        } catch (error) {
          // recorded on the span here: the failure is handled (rescheduled), so it is not rethrown
          recordSpanError(span, error);
          const delay = backoffDelay(this.backoff, row.attempts + 1);
          await this.outbox.markFailed(row.id, errorMessage(error), delay);
          Metrics.emails().add(1, { kind: row.kind, outcome: 'failed' });
          this.logger.warn(
            `${row.kind} email ${row.dedupeKey} attempt ${row.attempts + 1} failed, next in ${delay} ms: ${errorMessage(error)}`,
          );
        }
      },
    );
  }

  private async decideStaleRuns(): Promise<void> {
    const runIds = await this.alerts.findStaleUndecidedRuns(this.settings.alerts.runGraceMs);
    let queued = 0;
    for (const runId of runIds) {
      queued += await this.uow.run(async (m) => {
        await this.alerts.lockRun(runId, m);
        return this.runAlerts.tryDecide(runId, m, true);
      });
    }
    if (runIds.length > 0) this.logger.warn(`decided ${runIds.length} run(s) with missing per-model events`);
    const orphans = await this.alerts.findOrphanRunIds(this.settings.alerts.orphanRunMs);
    for (const runId of orphans) {
      queued += await this.uow.run(async (m) => {
        await this.alerts.lockRun(runId, m);
        return this.runAlerts.decideOrphan(runId, m);
      });
    }
    if (orphans.length > 0) this.logger.warn(`announced ${orphans.length} run(s) that never completed`);
    if (queued > 0) this.wake();
  }
}
