import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { ScheduleClaimRepository } from '@model-persistence/database';
import { errorMessage } from '@model-persistence/errors';
import { StagedBatch } from '@model-persistence/messaging';
import { Metrics } from '@model-persistence/telemetry';
import { SchedulerConfig } from './config';
import { PublishFiresUseCase } from './publish-fires.use-case';
import { isFreshnessKey, planFreshness } from './freshness-plan';
import { DueFire, ScheduleEngine } from './schedule-engine';
import { planSchedules, ScheduleSnapshot } from './schedule-plan';
import { ScheduleSnapshotService } from './schedule-snapshot.service';

/**
 * Fires are popped, claimed and their events built at least this long before they are due, so that at the fire
 * time only the publish is left: 10,000 fires of one instant take ~0.5-1.5 s of claims and event building on 2 busy
 * cores. The lead grows to twice the last burst's preparation (and staging) time, but stays under a third of the claim
 * staleness, so no replica takes over a claim made early.
 */
export const PREPARE_LEAD_MS = 2000;

/**
 * A big burst is staged (sent ahead in a Kafka transaction, committed at the fire time) this long before its fire
 * time at the least, and twice as long as the last staging took: staged partitions hold back their readers until
 * the commit, so not earlier than needed. Never more than the prepare lead.
 */
export const STAGE_LEAD_MS = 300;
export const stageLeadMs = (prepareLead: number, lastStageMs = 0) =>
  Math.min(Math.max(STAGE_LEAD_MS, 2 * lastStageMs), prepareLead);

export const maxPrepareLeadMs = (claimStaleMs: number) => Math.floor(claimStaleMs / 3);
export const prepareLeadMs = (claimStaleMs: number, lastPrepareMs = 0) =>
  Math.min(Math.max(PREPARE_LEAD_MS, 2 * lastPrepareMs), maxPrepareLeadMs(claimStaleMs));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Longest single sleep: re-checking the heap at least this often bounds the effect of wall-clock jumps. */
const MAX_SLEEP_MS = 60_000;

/**
 * Drives the schedule engine: one timer armed for the earliest fire (never one timer per schedule),
 * reloads on config changes (coalesced, so a burst of changes costs one reload), a stale-claim sweep,
 * and a slow safety-net resync in case a change event was ever missed.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Scheduler');
  readonly engine = new ScheduleEngine();
  private timer: NodeJS.Timeout | null = null;
  private intervals: NodeJS.Timeout[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private reloading: Promise<void> | null = null;
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private stopped = false;
  private lastEnabled: boolean | null = null;
  /** The settings of the last full reload (the freshness poll plans with them). */
  private lastSnapshot: ScheduleSnapshot | null = null;
  /** Freshness rows are applied only if read after the ones applied last (a slow read must not undo a newer one). */
  private freshnessReads = 0;
  private freshnessApplied = 0;
  private polling = false;
  readonly startedAt = Date.now();
  private lead: number;
  private stageLead = STAGE_LEAD_MS;

  constructor(
    private readonly snapshots: ScheduleSnapshotService,
    private readonly fires: PublishFiresUseCase,
    private readonly claims: ScheduleClaimRepository,
    @Inject(APP_CONFIG) private readonly config: SchedulerConfig,
  ) {
    this.lead = prepareLeadMs(config.scheduler.claimStaleMs);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.reload();
    if (this.config.scheduler.fireMissedOnStart) await this.fireMissed();
    const { claimStaleMs, resyncIntervalMs } = this.config.scheduler;
    this.intervals.push(
      setInterval(() => this.track(this.sweep()), Math.max(500, Math.floor(claimStaleMs / 2))),
    );
    if (resyncIntervalMs > 0)
      this.intervals.push(setInterval(() => this.track(this.requestReload('resync')), resyncIntervalMs));
    const { freshnessPollMs } = this.config.scheduler;
    if (freshnessPollMs > 0)
      this.intervals.push(setInterval(() => this.track(this.pollFreshness()), freshnessPollMs));
    this.logger.log(`scheduler ${this.config.instanceId} holds ${this.engine.size} schedule(s)`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.intervals.forEach((i) => clearInterval(i));
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * Resolves once a reload that started after this call has applied (concurrent callers share it).
   * Rejects if that reload failed, so the caller (the config.changed handler) can retry.
   */
  requestReload(reason = 'change'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.logger.debug(`reload requested (${reason})`);
      if (!this.reloading) this.startReload();
    });
  }

  private startReload(): void {
    const waiters = this.waiters;
    this.waiters = [];
    this.reloading = this.reload()
      .then(
        () => waiters.forEach((w) => w.resolve()),
        (e: unknown) => {
          this.logger.error(`reload failed: ${errorMessage(e)}`);
          waiters.forEach((w) => w.reject(e));
        },
      )
      .finally(() => {
        this.reloading = null;
        if (this.waiters.length) this.startReload();
      });
  }

  private async reload(): Promise<void> {
    const read = ++this.freshnessReads;
    const [snapshot, targets] = await Promise.all([this.snapshots.load(), this.snapshots.loadFreshness()]);
    const now = Date.now();
    this.lastSnapshot = snapshot;
    const fresh = read > this.freshnessApplied;
    if (fresh) this.freshnessApplied = read;
    const plan = [
      ...planSchedules(snapshot, this.config.scheduler, now),
      ...(fresh ? planFreshness(snapshot, targets) : []),
    ];
    const before = this.engine.size;
    // rows older than the last applied ones leave the freshness schedules as they are
    const r = this.engine.apply(plan, now, fresh ? () => true : (key) => !isFreshnessKey(key));
    Metrics.schedules().add(this.engine.size - before);
    for (const bad of r.invalid)
      Metrics.schedulerFires().add(1, { kind: bad.key.split(':')[0], result: 'skipped' });
    // one line per distinct problem (an invalid global cron would otherwise log once per database)
    const byError = new Map<string, string[]>();
    for (const bad of r.invalid) {
      const keys = byError.get(bad.error) ?? [];
      keys.push(bad.key);
      byError.set(bad.error, keys);
    }
    for (const [error, keys] of byError)
      this.logger.warn(
        `${keys.length} schedule(s) skipped (${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}): ${error}`,
      );
    if (this.lastEnabled !== null && this.lastEnabled !== snapshot.enabled)
      this.logger.log(`persisted models globally ${snapshot.enabled ? 'enabled' : 'disabled'}`);
    this.lastEnabled = snapshot.enabled;
    if (r.added || r.changed || r.removed)
      this.logger.log(
        `rescheduled: ${r.added} added, ${r.changed} changed, ${r.removed} removed; ${this.engine.size} schedule(s), cron "${snapshot.cron}" ${snapshot.timeZone}`,
      );
    this.arm();
  }

  /**
   * Re-reads the models with a freshness target (a success moves a model's top-up time) and re-plans only their
   * schedules: one indexed query, so it can run every few seconds, unlike the full reload.
   */
  private async pollFreshness(): Promise<void> {
    if (this.polling || this.stopped || !this.lastSnapshot) return;
    this.polling = true;
    try {
      const read = ++this.freshnessReads;
      const targets = await this.snapshots.loadFreshness();
      if (read <= this.freshnessApplied || this.stopped || !this.lastSnapshot) return;
      this.freshnessApplied = read;
      const before = this.engine.size;
      const r = this.engine.apply(planFreshness(this.lastSnapshot, targets), Date.now(), isFreshnessKey);
      Metrics.schedules().add(this.engine.size - before);
      if (r.added || r.removed)
        this.logger.log(`freshness targets: ${r.added} added, ${r.removed} removed, ${r.changed} moved`);
      this.arm();
    } catch (e) {
      this.logger.warn(`freshness poll failed: ${errorMessage(e)}`);
    } finally {
      this.polling = false;
    }
  }

  /** SCHEDULER_FIRE_MISSED_ON_START: each schedule's latest planned fire, unless some replica published it. */
  private async fireMissed(): Promise<void> {
    const now = Date.now();
    const candidates = this.engine.previousFires(now);
    const known = new Set(
      (
        await this.claims.existing(
          candidates.map((c) => ({ scheduleKey: c.def.key, fireTime: new Date(c.fireTime) })),
        )
      ).map((c) => `${c.scheduleKey}\u0000${c.fireTime.getTime()}`),
    );
    const missed = candidates.filter((c) => !known.has(`${c.def.key}\u0000${c.fireTime}`));
    this.logger.log(`firing ${missed.length} missed fire(s) once at start-up`);
    if (missed.length) await this.dispatch(missed);
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const due = this.engine.nextDue();
    if (due === undefined) return;
    const delay = Math.min(Math.max(0, due - this.lead - Date.now()), MAX_SLEEP_MS);
    this.timer = setTimeout(() => this.tick(), delay);
  }

  private tick(): void {
    this.timer = null;
    const now = Date.now();
    const { due, missed } = this.engine.take(now + this.lead, now);
    for (const m of missed) {
      Metrics.schedulerFires().add(1, { kind: m.def.kind, result: 'skipped' });
      this.logger.warn(
        `fire ${m.def.key} @ ${new Date(m.fireTime).toISOString()} missed (scheduler was late)`,
      );
    }
    if (due.length) this.track(this.dispatch(due));
    this.arm();
  }

  /**
   * Fires of each instant are claimed and built at once (all chunks concurrently), then published together
   * at their fire time; a schedule changed or removed by a reload in between is not fired (claim given back).
   */
  private async dispatch(due: DueFire[]): Promise<void> {
    const byInstant = new Map<number, DueFire[]>();
    for (const f of due) {
      const list = byInstant.get(f.fireTime);
      if (list) list.push(f);
      else byInstant.set(f.fireTime, [f]);
    }
    await Promise.all([...byInstant].map(([at, fires]) => this.fireAt(at, fires)));
  }

  private async fireAt(at: number, fires: DueFire[]): Promise<void> {
    let due = fires;
    try {
      if (due.some((f) => f.def.kind === 'freshness')) {
        // a success since the last poll (another replica's top-up, a cron or manual refresh) moves the top-up:
        // re-read the targets first and drop the fires whose schedule changed
        await this.pollFreshness();
        due = due.filter((f) => f.def.kind !== 'freshness' || this.engine.definition(f.def.key) === f.def);
        if (due.length === 0) return;
      }
      const started = Date.now();
      const prepared = await this.fires.prepare(due);
      const took = Date.now() - started;
      this.lead = prepareLeadMs(this.config.scheduler.claimStaleMs, took);
      const wait = at - Date.now();
      if (due.length > 100)
        this.logger.log(
          `prepared ${due.length} fire(s) @ ${new Date(at).toISOString()} in ${took} ms, ${wait} ms ahead`,
        );
      const current = (f: DueFire) => this.engine.definition(f.def.key) === f.def;
      const untilStage = at - this.stageLead - Date.now();
      if (untilStage > 0) await sleep(untilStage);
      let staged: StagedBatch | null = null;
      if (at > Date.now() && prepared.publishing.every(current)) {
        const stageStarted = Date.now();
        staged = await this.fires.stage(prepared, at);
        if (staged) {
          const stageTook = Date.now() - stageStarted;
          // the next burst is prepared early enough for its staging too
          this.lead = prepareLeadMs(this.config.scheduler.claimStaleMs, took + stageTook);
          this.stageLead = stageLeadMs(this.lead, stageTook);
        }
      }
      // never before the fire time by the wall clock (a timer may wake a millisecond early)
      while (Date.now() < at) await sleep(at - Date.now());
      await this.fires.publishPrepared(prepared, current, staged);
    } catch (e) {
      this.logger.error(`firing ${due.length} schedule(s) failed: ${errorMessage(e)}`);
      for (const f of due) Metrics.schedulerFires().add(1, { kind: f.def.kind, result: 'failed' });
    }
  }

  private async sweep(): Promise<void> {
    try {
      await this.fires.recoverStale((k) => this.engine.definition(k));
    } catch (e) {
      this.logger.warn(`stale-claim sweep failed: ${errorMessage(e)}`);
    }
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }
}
