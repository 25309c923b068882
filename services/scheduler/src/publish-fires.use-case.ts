import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { ClaimRequest, ScheduleClaimRepository } from '@model-persistence/database';
import { errorMessage } from '@model-persistence/errors';
import { EventPublisher, OutgoingEvent } from '@model-persistence/messaging';
import { Metrics } from '@model-persistence/telemetry';
import { SchedulerConfig } from './config';
import { buildFireEvent } from './fire-event';
import { DueFire } from './schedule-engine';

export type FireResult = 'published' | 'lost-claim' | 'failed' | 'done';

export interface FireOutcome {
  key: string;
  fireTime: number;
  result: FireResult;
  latenessMs?: number;
}

const id = (key: string, t: number) => `${key}\u0000${t}`;

/**
 * Publishes due fires exactly once across replicas: claim every fire in one INSERT, publish the won ones in
 * one batch, then mark them published (fenced by claimed_by). A replica dying between claim and publish
 * leaves an unpublished claim that another replica's stale sweep takes over (see recoverStale).
 */
@Injectable()
export class PublishFiresUseCase {
  private readonly logger = new Logger('Fires');

  constructor(
    private readonly claims: ScheduleClaimRepository,
    private readonly publisher: EventPublisher,
    @Inject(APP_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  async execute(fires: DueFire[]): Promise<FireOutcome[]> {
    if (fires.length === 0) return [];
    const requests: ClaimRequest[] = fires.map((f) => ({
      scheduleKey: f.def.key,
      fireTime: new Date(f.fireTime),
    }));
    const won = new Set(
      (await this.claims.claim(requests, this.config.instanceId, this.config.scheduler.claimStaleMs)).map(
        (c) => id(c.scheduleKey, c.fireTime.getTime()),
      ),
    );
    const outcomes: FireOutcome[] = [];
    const winners: DueFire[] = [];
    for (const f of fires) {
      if (won.has(id(f.def.key, f.fireTime))) winners.push(f);
      else {
        Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'lost-claim' });
        this.logger.debug(`fire ${f.def.key} @ ${iso(f.fireTime)} claimed by another replica`);
        outcomes.push({ key: f.def.key, fireTime: f.fireTime, result: 'lost-claim' });
      }
    }
    if (winners.length) this.logger.debug(`claimed ${winners.length} fire(s)`);
    const publishing = winners.filter((f) => f.def.kind !== 'claim-cleanup');
    outcomes.push(...(await this.publish(publishing)));
    for (const f of winners.filter((w) => w.def.kind === 'claim-cleanup'))
      outcomes.push(await this.cleanUp(f));
    return outcomes;
  }

  private async publish(fires: DueFire[]): Promise<FireOutcome[]> {
    if (fires.length === 0) return [];
    const events: OutgoingEvent[] = fires.map((f) => buildFireEvent(f.def, f.fireTime)!);
    try {
      await this.publisher.publishAll(events);
    } catch (e) {
      // the claims stay unpublished: the stale sweep of any replica re-publishes them after claimStaleMs
      this.logger.error(
        `publishing ${fires.length} fire(s) failed, left for the stale sweep: ${errorMessage(e)}`,
      );
      for (const f of fires) Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'failed' });
      return fires.map((f) => ({ key: f.def.key, fireTime: f.fireTime, result: 'failed' as const }));
    }
    const publishedAt = Date.now();
    const requests = fires.map((f) => ({ scheduleKey: f.def.key, fireTime: new Date(f.fireTime) }));
    const marked = await this.claims.markPublished(requests, this.config.instanceId).catch((e: unknown) => {
      this.logger.error(`marking ${fires.length} fire(s) published failed: ${errorMessage(e)}`);
      return 0;
    });
    if (marked < fires.length)
      this.logger.warn(
        `${fires.length - marked} fire(s) were taken over by another replica while publishing`,
      );
    const outcomes = fires.map((f) => {
      const latenessMs = publishedAt - f.fireTime;
      Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'published' });
      Metrics.schedulerLateness().record(latenessMs / 1000, { kind: f.def.kind });
      return { key: f.def.key, fireTime: f.fireTime, result: 'published' as const, latenessMs };
    });
    this.logPublished(fires, publishedAt);
    return outcomes;
  }

  /**
   * One line per fire; when many schedules fire at the same instant (10,000 databases on the global cron) one
   * line per (instant, kind) listing every key, since 10,000 separate lines cost more than the publish.
   */
  private logPublished(fires: DueFire[], publishedAt: number): void {
    const groups = new Map<string, DueFire[]>();
    for (const f of fires) {
      const k = `${f.fireTime}|${f.def.kind}`;
      const list = groups.get(k) ?? [];
      list.push(f);
      groups.set(k, list);
    }
    for (const list of groups.values()) {
      const { fireTime, def } = list[0];
      const late = publishedAt - fireTime;
      if (list.length <= GROUP_LOG_OVER) {
        for (const f of list)
          this.logger.log(
            `fired ${f.def.key} @ ${iso(f.fireTime)}: published ${describe(f)} (${late} ms late)`,
          );
      } else {
        this.logger.log(
          `fired ${list.length} ${def.kind} schedules @ ${iso(fireTime)}: published ${list.length} ${describe(list[0]).replace(/\{.*\}$/, '')} (${late} ms late): ${list.map((f) => f.def.key).join(' ')}`,
        );
      }
    }
  }

  private async cleanUp(f: DueFire): Promise<FireOutcome> {
    const { claimRetentionDays } = this.config.scheduler;
    try {
      const claims = await this.claims.deleteOlderThan(
        new Date(f.fireTime - claimRetentionDays * 86_400_000),
      );
      await this.claims.markPublished(
        [{ scheduleKey: f.def.key, fireTime: new Date(f.fireTime) }],
        this.config.instanceId,
      );
      Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'published' });
      this.logger.log(
        `fired ${f.def.key} @ ${iso(f.fireTime)}: deleted ${claims} claim(s) older than ${claimRetentionDays} day(s)`,
      );
      return { key: f.def.key, fireTime: f.fireTime, result: 'done' };
    } catch (e) {
      Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'failed' });
      this.logger.error(`schedule-claim clean-up failed: ${errorMessage(e)}`);
      return { key: f.def.key, fireTime: f.fireTime, result: 'failed' };
    }
  }

  /**
   * Takes over claims whose owner died between claim and publish (older than claimStaleMs, unpublished) and
   * publishes them, if the schedule still exists. Fires older than `maxAgeMs` are left alone (too late).
   */
  async recoverStale(lookup: (key: string) => DueFire['def'] | undefined, maxAgeMs = 15 * 60_000) {
    const { claimStaleMs } = this.config.scheduler;
    const stale = await this.claims.findStale(claimStaleMs, new Date(Date.now() - maxAgeMs));
    const fires: DueFire[] = [];
    for (const c of stale) {
      const def = lookup(c.scheduleKey);
      if (def) fires.push({ def, fireTime: c.fireTime.getTime() });
    }
    if (fires.length === 0) return [];
    this.logger.warn(`taking over ${fires.length} unpublished fire(s) of a replica that stopped`);
    return this.execute(fires);
  }
}

const iso = (t: number) => new Date(t).toISOString();

/** Fires of one instant and kind above which they are logged on one line. */
const GROUP_LOG_OVER = 10;

function describe(f: DueFire): string {
  switch (f.def.kind) {
    case 'database':
      return `RefreshRequested{databaseId:${f.def.databaseId}}`;
    case 'model':
      return `RefreshRequested{databaseId:${f.def.databaseId}, cardId:${f.def.cardId}}`;
    case 'prune':
      return 'PruneRequested{trigger:scheduled}';
    default:
      return 'PruneRequested{trigger:disable}';
  }
}
