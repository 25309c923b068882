import { DynamicModule, Inject, Injectable, Module } from '@nestjs/common';
import { envInt } from '@model-persistence/config';
import { InboxRepository } from '@model-persistence/database';
import { PeriodicJob } from './periodic-job';

const HOUR_MS = 3_600_000;

/**
 * Settings of the inbox purge, spread into the env schema of every service that keeps an inbox. The retention
 * must outlast any redelivery of an event (a consumer's rebalance, a replay), or a redelivered event would
 * have its effect twice; a week is far beyond that.
 */
export const inboxPurgeEnv = {
  INBOX_RETENTION_HOURS: envInt(7 * 24, 1, 10 * 365 * 24),
  INBOX_PURGE_INTERVAL_MS: envInt(HOUR_MS, 1_000, 24 * HOUR_MS),
};

export interface InboxPurgeOptions {
  /** The inbox consumer name whose rows this service owns (other consumers' rows are never touched). */
  consumer: string;
  retentionMs: number;
  intervalMs: number;
}

export function inboxPurgeOptions(
  consumer: string,
  e: { INBOX_RETENTION_HOURS: number; INBOX_PURGE_INTERVAL_MS: number },
): InboxPurgeOptions {
  return { consumer, retentionMs: e.INBOX_RETENTION_HOURS * HOUR_MS, intervalMs: e.INBOX_PURGE_INTERVAL_MS };
}

export const INBOX_PURGE_OPTIONS = Symbol('INBOX_PURGE_OPTIONS');

/** Deletes this service's own inbox rows older than the retention. Every replica may run it: deletes are idempotent. */
@Injectable()
export class InboxPurgeJob extends PeriodicJob {
  constructor(
    private readonly inbox: InboxRepository,
    @Inject(INBOX_PURGE_OPTIONS) private readonly options: InboxPurgeOptions,
  ) {
    super('InboxPurge', options.intervalMs);
  }

  protected async work(now = new Date()): Promise<string | null> {
    const cutoff = new Date(now.getTime() - this.options.retentionMs);
    const deleted = await this.inbox.purgeOlderThan(this.options.consumer, cutoff);
    return deleted > 0
      ? `deleted ${deleted} inbox row(s) of ${this.options.consumer} processed before ${cutoff.toISOString()}`
      : null;
  }
}

/** Import in a service that records processed events in the inbox (after CoreModule, which provides the repository). */
@Module({})
export class InboxPurgeModule {
  static forRoot(options: InboxPurgeOptions): DynamicModule {
    return {
      module: InboxPurgeModule,
      providers: [{ provide: INBOX_PURGE_OPTIONS, useValue: options }, InboxPurgeJob],
      exports: [InboxPurgeJob],
    };
  }
}
