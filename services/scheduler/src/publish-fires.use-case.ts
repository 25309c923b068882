import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { ClaimRequest, ScheduleClaimRepository } from '@model-persistence/database';
import { errorMessage } from '@model-persistence/errors';
import { EncodedEvent, EventPublisher, StagedBatch, StagedPublisher } from '@model-persistence/messaging';
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
 * Fires per claim statement and per publish request (1,000 RefreshRequested ≈ 250 KB, well under Kafka's 1 MB
 * batch limit, which one 10,000-fire batch could exceed). A few chunks of one burst are in flight at once.
 */
export const FIRE_CHUNK = 1000;

/** Fires claimed by this replica with their events built, waiting for their fire time. */
export interface PreparedFires {
  /** Fires to publish, and their events validated and serialized ahead (same order). */
  publishing: DueFire[];
  events: EncodedEvent[];
  /** Claimed fires that do work in place (the schedule-claim clean-up). */
  inPlace: DueFire[];
  /** Outcomes already known: fires another replica claimed. */
  outcomes: FireOutcome[];
}

/** Claim statements / publish requests of one burst in flight at once (more only adds buffers, not speed). */
const CHUNK_CONCURRENCY = 3;

/** Runs `work` over the items, at most `limit` at a time; results in item order. */
async function pooled<T, R>(
  items: T[],
  limit: number,
  work: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

const chunked = <T>(list: T[], size = FIRE_CHUNK): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
};

/**
 * Publishes due fires exactly once across replicas: claim every fire (chunked INSERTs), publish the won ones,
 * then mark them published (fenced by claimed_by). The service claims and builds a burst shortly before its fire
 * time (prepare), so at the fire time only the publish is left (publishPrepared). A replica dying between claim
 * and publish leaves an unpublished claim that another replica's stale sweep takes over (see recoverStale).
 */
@Injectable()
export class PublishFiresUseCase {
  private readonly logger = new Logger('Fires');

  constructor(
    private readonly claims: ScheduleClaimRepository,
    private readonly publisher: EventPublisher,
    private readonly staging: StagedPublisher,
    @Inject(APP_CONFIG) private readonly config: SchedulerConfig,
  ) {}

  /** Claims and publishes at once (missed fires, take-overs). */
  async execute(fires: DueFire[]): Promise<FireOutcome[]> {
    return this.publishPrepared(await this.prepare(fires));
  }

  /** Claims the fires (a few chunks at a time) and builds the events of those this replica won. */
  async prepare(fires: DueFire[]): Promise<PreparedFires> {
    const prepared: PreparedFires = { publishing: [], events: [], inPlace: [], outcomes: [] };
    if (fires.length === 0) return prepared;
    const { instanceId } = this.config;
    const { claimStaleMs } = this.config.scheduler;
    const chunks = chunked(fires);
    const results = await pooled(chunks, CHUNK_CONCURRENCY, (chunk) =>
      this.claims
        .claim(
          chunk.map((f) => ({ scheduleKey: f.def.key, fireTime: new Date(f.fireTime) })),
          instanceId,
          claimStaleMs,
        )
        .then(
          (value): PromiseSettledResult<ClaimRequest[]> => ({ status: 'fulfilled', value }),
          (reason: unknown): PromiseSettledResult<ClaimRequest[]> => ({ status: 'rejected', reason }),
        ),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        // claims not taken are lost fires for this replica only; the others claim them
        this.logger.error(`claiming ${chunks[i].length} fire(s) failed: ${errorMessage(r.reason)}`);
        for (const f of chunks[i]) {
          Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'failed' });
          prepared.outcomes.push({ key: f.def.key, fireTime: f.fireTime, result: 'failed' });
        }
        return;
      }
      const won = new Set(r.value.map((c) => id(c.scheduleKey, c.fireTime.getTime())));
      for (const f of chunks[i]) {
        if (!won.has(id(f.def.key, f.fireTime))) {
          Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'lost-claim' });
          this.logger.debug(`fire ${f.def.key} @ ${iso(f.fireTime)} claimed by another replica`);
          prepared.outcomes.push({ key: f.def.key, fireTime: f.fireTime, result: 'lost-claim' });
        } else if (f.def.kind === 'claim-cleanup') prepared.inPlace.push(f);
        else {
          prepared.publishing.push(f);
          // encoded now, so the fire time is left with the send alone (10,000 validations ≈ 20-100 ms)
          prepared.events.push(...this.publisher.encode([buildFireEvent(f.def, f.fireTime)!]));
        }
      }
    });
    const claimed = prepared.publishing.length + prepared.inPlace.length;
    if (claimed) this.logger.debug(`claimed ${claimed} fire(s)`);
    return prepared;
  }

  /**
   * Sends a big burst's events ahead, inside a Kafka transaction that `publishPrepared` commits at the fire time:
   * then only one small request is left at that moment, and readers (read_committed) see the whole burst from
   * the commit on. Null when the burst is too small to be worth it, another burst is staged, or staging failed
   * (the burst is then sent the plain way at its fire time).
   */
  async stage(prepared: PreparedFires, fireTime: number): Promise<StagedBatch | null> {
    const { stageMinFires } = this.config.scheduler;
    if (stageMinFires === 0 || prepared.events.length < stageMinFires) return null;
    try {
      return await this.staging.stage(prepared.events, fireTime);
    } catch (e) {
      this.logger.warn(
        `staging ${prepared.events.length} fire(s) @ ${iso(fireTime)} failed, sending them at the fire time: ${errorMessage(e)}`,
      );
      return null;
    }
  }

  /**
   * Publishes prepared fires. `current` says whether a fire's schedule is still the same (a reload between
   * prepare and fire time may have changed or removed it): the claims of the others are given back. A `staged`
   * burst is committed; if a fire of it is no longer current, the whole transaction is aborted (its records can
   * only go together) and the current fires are sent the plain way.
   */
  async publishPrepared(
    prepared: PreparedFires,
    current: (f: DueFire) => boolean = () => true,
    staged: StagedBatch | null = null,
  ): Promise<FireOutcome[]> {
    const outcomes = [...prepared.outcomes];
    const fires: DueFire[] = [];
    const events: EncodedEvent[] = [];
    const dropped: DueFire[] = [];
    prepared.publishing.forEach((f, i) => {
      if (current(f)) {
        fires.push(f);
        events.push(prepared.events[i]);
      } else dropped.push(f);
    });
    if (staged && dropped.length > 0) {
      await staged
        .abort()
        .catch((e: unknown) => this.logger.warn(`aborting a staged burst failed: ${errorMessage(e)}`));
      staged = null;
    }
    const published = staged
      ? [await this.commitStaged(fires, staged)]
      : await pooled(chunked(fires), CHUNK_CONCURRENCY, (chunk, i) =>
          this.publish(chunk, events.slice(i * FIRE_CHUNK, (i + 1) * FIRE_CHUNK)),
        );
    for (const list of published) outcomes.push(...list);
    const sent = new Set(
      published
        .flat()
        .filter((o) => o.result === 'published')
        .map((o) => id(o.key, o.fireTime)),
    );
    await this.markPublished(fires.filter((f) => sent.has(id(f.def.key, f.fireTime))));
    if (dropped.length) {
      this.logger.log(
        `${dropped.length} prepared fire(s) dropped: their schedule changed before the fire time`,
      );
      await this.claims
        .release(
          dropped.map((f) => ({ scheduleKey: f.def.key, fireTime: new Date(f.fireTime) })),
          this.config.instanceId,
        )
        .catch((e: unknown) => this.logger.warn(`releasing dropped claims failed: ${errorMessage(e)}`));
    }
    for (const f of prepared.inPlace.filter(current)) outcomes.push(await this.cleanUp(f));
    return outcomes;
  }

  private async publish(fires: DueFire[], events: EncodedEvent[]): Promise<FireOutcome[]> {
    if (fires.length === 0) return [];
    return this.sent(fires, () => this.publisher.publishEncoded(events));
  }

  private async commitStaged(fires: DueFire[], staged: StagedBatch): Promise<FireOutcome[]> {
    return this.sent(fires, () => staged.commit());
  }

  /** Outcomes of fires once `send` resolved (published) or rejected (failed, left for the stale sweep). */
  private async sent(fires: DueFire[], send: () => Promise<unknown>): Promise<FireOutcome[]> {
    try {
      await send();
    } catch (e) {
      // the claims stay unpublished: the stale sweep of any replica re-publishes them after claimStaleMs
      this.logger.error(
        `publishing ${fires.length} fire(s) failed, left for the stale sweep: ${errorMessage(e)}`,
      );
      for (const f of fires) Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'failed' });
      return fires.map((f) => ({ key: f.def.key, fireTime: f.fireTime, result: 'failed' as const }));
    }
    const publishedAt = Date.now();
    const outcomes = fires.map((f) => {
      const latenessMs = publishedAt - f.fireTime;
      Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'published' });
      Metrics.schedulerLateness().record(latenessMs / 1000, { kind: f.def.kind });
      return { key: f.def.key, fireTime: f.fireTime, result: 'published' as const, latenessMs };
    });
    this.logPublished(fires, publishedAt);
    return outcomes;
  }

  /** Marks published fires (after the whole burst went out: a database write must not hold up the next publish). */
  private async markPublished(fires: DueFire[]): Promise<void> {
    await pooled(chunked(fires), CHUNK_CONCURRENCY, async (chunk) => {
      const requests = chunk.map((f) => ({ scheduleKey: f.def.key, fireTime: new Date(f.fireTime) }));
      const marked = await this.claims.markPublished(requests, this.config.instanceId).catch((e: unknown) => {
        this.logger.error(`marking ${chunk.length} fire(s) published failed: ${errorMessage(e)}`);
        return chunk.length;
      });
      if (marked < chunk.length)
        this.logger.warn(
          `${chunk.length - marked} fire(s) were taken over by another replica while publishing`,
        );
    });
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
    case 'freshness':
      return `RefreshRequested{databaseId:${f.def.databaseId}, cardId:${f.def.cardId}}`;
    case 'prune':
      return 'PruneRequested{trigger:scheduled}';
    default:
      return 'PruneRequested{trigger:disable}';
  }
}
