import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import { RefreshRequested, Topics, databaseKey } from '@model-persistence/contracts';
import {
  CardEntity,
  CardRepository,
  InboxRepository,
  IndividualRunReadsRepository,
  isFinished,
  PersistedInfoEntity,
  PersistedInfoRepository,
  RunCompletionClaim,
  RunCompletionRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseEntity,
  SourceDatabaseRepository,
  UnchangedMark,
} from '@model-persistence/database';
import { firesOnOwnSchedule } from '@model-persistence/cron';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { EventPublisher, OutgoingEvent } from '@model-persistence/messaging';
import { Metrics } from '@model-persistence/telemetry';
import { RefresherConfig } from './config';
import { CrashRecoveryService } from './crash-recovery.service';
import { IndividualRunGuard, newPersistedRow, Rejection } from './individual-run.guard';
import { AheadClaim, ModelOutcome, ModelRefreshService, RunContext } from './model-refresh.service';
import { OutcomeBatcher } from './outcome-batcher';
import {
  Counts,
  ErrorDetail,
  reannouncedSuccessEvent,
  rejectedEvent,
  runCompletedEvent,
  runStartedEvent,
} from './refresh-events';
import {
  downstreamOf,
  modelReferences,
  SOURCE_DB,
  SourceDbPort,
  upstreamFirst,
  upstreamOf,
} from '@model-persistence/source-db';
import { SourceDrivers } from './source-drivers.service';

/** Completion rows are kept this long (a run is never redelivered later), purged at most once an hour. */
const COMPLETION_RETENTION_MS = 7 * 24 * 3_600_000;
const COMPLETION_PURGE_EVERY_MS = 3_600_000;
/**
 * Individual runs recover a database's crash leftovers at most this often (database runs always do): a dead
 * build's lease takes a whole lease period to expire anyway, and a burst of single-model requests should not pay
 * three more round trips each on the partition's path.
 */
export const INDIVIDUAL_RECOVERY_EVERY_MS = 5_000;

/**
 * A database run claims its next models this many at a time (one statement instead of one per model). They show
 * `refreshing` from then on, and a claim older than a lease renewal period is renewed just before its build.
 */
export const CLAIM_AHEAD = 10;

/** Promise.all of three that waits for all of them to settle before throwing the first failure. */
async function settleAll<A, B, C>(a: Promise<A>, b: Promise<B>, c: Promise<C>): Promise<[A, B, C]> {
  for (const r of await Promise.allSettled([a, b, c])) if (r.status === 'rejected') throw r.reason;
  return [await a, await b, await c];
}

/**
 * Orchestrates one RefreshRequested: a database run (every refreshable model of the database) or an individual run
 * (one card). Requests are de-duplicated by eventId through the inbox; models already finished by an earlier
 * delivery of the same run are not refreshed again.
 */
@Injectable()
export class RefreshRunUseCase {
  private readonly logger = new Logger(RefreshRunUseCase.name);

  constructor(
    @Inject(APP_CONFIG)
    private readonly config: Pick<RefresherConfig, 'inboxConsumer' | 'cache' | 'instanceId' | 'leaseMs'> &
      Partial<Pick<RefresherConfig, 'changeDetection'>>,
    @Inject(SOURCE_DB) private readonly api: SourceDbPort,
    private readonly inbox: InboxRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly cards: CardRepository,
    private readonly rows: PersistedInfoRepository,
    private readonly settings: SettingRepository,
    private readonly drivers: SourceDrivers,
    private readonly models: ModelRefreshService,
    private readonly recovery: CrashRecoveryService,
    private readonly publisher: EventPublisher,
    private readonly completions: RunCompletionRepository,
    private readonly reads: IndividualRunReadsRepository,
  ) {
    this.guard = new IndividualRunGuard(api, rows, settings, drivers);
  }

  private readonly guard: IndividualRunGuard;

  private lastPurge = 0;
  /** when this process last ran crash recovery per database id */
  private readonly recoveredAt = new Map<number, number>();

  async execute(request: RefreshRequested): Promise<void> {
    // a single model: its inbox check is one of the run's reads (one statement)
    if (request.cardId !== undefined && !request.downstream)
      return this.individualRun(request, request.cardId);
    if (await this.inbox.has(this.config.inboxConsumer, request.eventId)) {
      this.logger.log(`request ${request.eventId} was already processed; ignoring the redelivery`);
      return;
    }
    // a model with its downstream models is a database run limited to them (same order and skip rules)
    if (!(await this.databaseRun(request)))
      await this.inbox.record(this.config.inboxConsumer, request.eventId);
  }

  /** Whether the request's inbox row is written (with the run's completion mark, in one statement). */
  private async databaseRun(request: RefreshRequested): Promise<boolean> {
    const started = new Date();
    const db = await this.databases.findById(request.databaseId);
    const enabled = db && (await this.guard.persistenceEnabled(db));
    if (!db || !enabled) {
      this.logger.warn(
        db
          ? `database ${db.id}: model persistence is disabled; nothing to refresh`
          : `database ${request.databaseId} does not exist; nothing to refresh`,
      );
      await this.publishRunStarted(request, started, 0);
      await this.publishRunCompleted(request, started, { success: 0, error: 0, skipped: 0 }, []);
      if (!db) {
        // the request itself is wrong: keep it, with the reason, on the dead-letter topic
        await this.inbox.record(this.config.inboxConsumer, request.eventId);
        throw new DomainError(ErrorCode.UnknownDatabase, `database ${request.databaseId} does not exist`);
      }
      return false;
    }
    const driver = this.drivers.forDatabase(db);
    const schemaName = await this.drivers.schemaName(db.id);
    // crash recovery (expired leases, leftover tables), the rows of new models and the cards touch different rows:
    // at once, all settled before the candidates are read (nothing of this run is left running on a failure)
    const [, , models] = await settleAll(
      this.recovery
        .recoverDatabase(db.id, driver, schemaName)
        .then(() => void this.recoveredAt.set(db.id, Date.now())),
      this.createMissingRows(db, schemaName),
      this.cards.findModelsOfDatabase(db.id),
    );

    const cards = new Map(models.map((c) => [c.id, c]));
    // A model with its own cron gets its own scheduled requests (the scheduler publishes them with a cardId), so
    // the database's schedule leaves it alone; explicit (manual / external) database runs still include it.
    const ownSchedule = (cardId: number | null) =>
      request.trigger === 'scheduled' &&
      cardId !== null &&
      firesOnOwnSchedule(cards.get(cardId)?.refreshCron);
    // a model that reads other models ({{#id}}) is built after them, so it reads their fresh cache tables
    const refsOf = (cardId: number) => modelReferences(cards.get(cardId)?.sql ?? '');
    const asked = request.cardId;
    const only =
      asked === undefined
        ? null
        : new Set([
            asked,
            ...downstreamOf(
              asked,
              [...cards.values()].map((c) => ({ id: c.id, refs: refsOf(c.id) })),
            ).map((d) => d.id),
          ]);
    const candidates = upstreamFirst(
      (await this.rows.findRefreshCandidates(db.id)).filter(
        (info) =>
          !ownSchedule(info.cardId) && (only === null || (info.cardId !== null && only.has(info.cardId))),
      ),
      (info) => info.cardId ?? -1,
      refsOf,
    );
    // models of this run that did not build: the models reading them are skipped (upstream_failed)
    const notBuilt = new Set<number>();
    // RunStarted goes out while the models are checked; it is acknowledged before any other event of the run
    const announced = this.publishRunStarted(request, started, candidates.length);
    announced.catch(() => undefined); // awaited below; this only marks it handled meanwhile
    const ctx = await this.context(
      request,
      db,
      candidates.some((i) => !!cards.get(i.cardId ?? -1)?.incremental),
    );
    const counts: Counts = { success: 0, error: 0, skipped: 0 };
    const details: ErrorDetail[] = [];
    const unchanged = await this.detectUnchanged(request, candidates, cards, ctx, refsOf);
    if (!ctx.signatures) await this.readSignaturesAhead(request, candidates, cards, ctx, refsOf);
    // outcomes go out in batches (one broker request while the previous one is in flight), off the models' path
    const batcher = new OutcomeBatcher(async (batch) => {
      await announced;
      await this.publishOutcomes(batch);
    });
    // Models are built one after the other; a model's outcome write overlaps the next model's claim and build
    // (at most two models in flight, outcomes recorded in order, the run stops at the first failure).
    let previous: Promise<void> = Promise.resolve();
    // models built on their own (no upstream model) are claimed CLAIM_AHEAD at a time, in one statement each
    const claimable = (info: PersistedInfoEntity) => {
      const card = info.cardId === null ? undefined : cards.get(info.cardId);
      return (
        !!card &&
        !this.doneInThisRun(info, request) &&
        !unchanged.has(info.id) &&
        refsOf(card.id).length === 0
      );
    };
    const ahead = new Map<number, AheadClaim>();
    const askedAhead = new Set<number>();
    try {
      for (const [i, info] of candidates.entries()) {
        const card = info.cardId === null ? undefined : cards.get(info.cardId);
        if (!card) continue; // archived or deleted since the query: prune's business
        if (this.doneInThisRun(info, request)) {
          await previous;
          await this.reportDone(info, card, request, counts, details);
          continue;
        }
        if (unchanged.has(info.id)) {
          const outcome = this.models.unchanged(info, card, ctx, started);
          batcher.add(outcome);
          this.count(outcome, counts, details);
          continue;
        }
        const upstream = upstreamOf(card.id, refsOf).map((u) => u.id);
        if (upstream.length > 0) {
          // its upstream models' outcomes must be known before it starts
          await previous;
          const failed = upstream.find((id) => notBuilt.has(id));
          if (failed !== undefined) {
            const outcome = this.models.upstreamFailed(info, card, ctx, failed);
            notBuilt.add(card.id);
            batcher.add(outcome);
            this.count(outcome, counts, details);
            continue;
          }
        }
        if (!askedAhead.has(info.id) && claimable(info)) {
          const next = candidates.slice(i).filter(claimable).slice(0, CLAIM_AHEAD);
          for (const n of next) askedAhead.add(n.id);
          for (const [id, c] of await this.models.claimAhead(next, ctx)) ahead.set(id, c);
        }
        const claimed = ahead.get(info.id);
        ahead.delete(info.id);
        let sourceDone!: () => void;
        const sourceFree = new Promise<void>((resolve) => (sourceDone = resolve));
        const prior = previous;
        previous = this.models.refresh(info, card, ctx, sourceDone, claimed).then(async (outcome) => {
          await prior;
          if (outcome.kind !== 'success') notBuilt.add(card.id);
          batcher.add(outcome);
          this.count(outcome, counts, details);
        });
        previous.catch(() => undefined); // awaited below; this only marks it handled meanwhile
        await Promise.race([sourceFree, previous]);
        await prior;
      }
      await previous;
    } catch (error) {
      // no model of this run may still be writing when the request is retried
      await previous.catch(() => undefined);
      await batcher.drain().catch(() => undefined);
      await announced.catch(() => undefined);
      // models claimed ahead and not built go back as they were (best effort: else their leases expire)
      await this.models.releaseAhead(ahead).catch(() => undefined);
      throw error;
    }
    // on a failure the message is retried: models already done are not refreshed again, their successes are
    // re-announced
    await batcher.drain();
    await announced;
    await this.publishRunCompleted(request, started, counts, details, true);
    return true;
  }

  /**
   * One model. Its latency is a chain of round trips (issue 13, target 4), and the next request of the partition
   * waits for the end of this one, so: RunStarted goes out while the checks run (acknowledged before any other event
   * of the run); the run's completion claim is taken by the statement that writes the outcome on the row; the
   * outcome and RefreshRunCompleted go out in ONE broker request; the completion mark and the inbox row are ONE
   * statement.
   */
  private async individualRun(request: RefreshRequested, cardId: number): Promise<void> {
    const started = new Date();
    const found = await this.reads.read({
      databaseId: request.databaseId,
      cardId,
      inbox: { consumer: this.config.inboxConsumer, eventId: request.eventId },
    });
    if (found.processed) {
      this.logger.log(`request ${request.eventId} was already processed; ignoring the redelivery`);
      return;
    }
    const announced = this.publishRunStarted(request, started, 1);
    announced.catch(() => undefined); // awaited below; this only marks it handled meanwhile
    const counts: Counts = { success: 0, error: 0, skipped: 0 };
    const details: ErrorDetail[] = [];
    let completion: Promise<boolean> | undefined;
    const claimCompletion = () => {
      completion ??= this.claimCompletion(request);
      completion.catch(() => undefined); // awaited below
    };
    /** what the run announces for its model (none: a failure an earlier delivery of this run announced) */
    let outcome: ModelOutcome | null = null;
    let recover: (() => Promise<void>) | null = null;
    let won: boolean;
    try {
      const prepared = await this.guard.prepare(request, cardId, found);
      if (prepared instanceof Rejection) {
        outcome = { kind: prepared.outcome, event: rejectedEvent(request, cardId, started, prepared) };
        this.count(outcome, counts, details);
      } else {
        const { db, card, info } = prepared;
        if (this.doneInThisRun(info, request)) {
          outcome = this.countDone(info, card, request, counts, details);
        } else {
          const ctx = await this.context(request, db, !!card.incremental);
          const unchanged = await this.detectUnchanged(
            request,
            [info],
            new Map([[card.id, card]]),
            ctx,
            () => [],
          );
          // the signature the build stores is read while the row is claimed (still before the build's snapshot)
          if (!ctx.signatures && this.models.detecting())
            ctx.signatures = new Map([
              [
                info.id,
                this.models.checkInputs(info, card, ctx).then(
                  (c) => c.signature,
                  () => null,
                ),
              ],
            ]);
          // the completion claim is taken in the statement that writes the outcome on the row (one transaction)
          ctx.completion = this.completionClaim(request);
          outcome = unchanged.has(info.id)
            ? this.models.unchanged(info, card, ctx, started)
            : await this.models.refresh(info, card, ctx);
          if (outcome.completionWon !== undefined) completion = Promise.resolve(outcome.completionWon);
          this.count(outcome, counts, details);
        }
        // Crash recovery after the run's answer, still inside the run (the partition waits for it): the claim
        // takes over this row's expired lease itself and the build's temporary table is named by its generation,
        // so only other rows and leftovers of dead builds wait for it.
        if (Date.now() - (this.recoveredAt.get(db.id) ?? 0) >= INDIVIDUAL_RECOVERY_EVERY_MS) {
          recover = async () => {
            await this.recovery.recoverDatabase(db.id, this.drivers.forDatabase(db), info.schemaName);
            this.recoveredAt.set(db.id, Date.now());
          };
        }
      }
      claimCompletion();
      won = await completion!;
      await announced;
    } catch (error) {
      await this.releaseCompletion(request, completion);
      throw error;
    }
    const events: OutgoingEvent[] = outcome ? [this.outcomeEvent(outcome)] : [];
    if (won) events.push(this.completedEvent(request, started, new Date(), counts, details));
    else
      this.logger.warn(`run ${request.eventId} was completed by another refresher; not completing it again`);
    try {
      await this.publisher.publishAll(events);
    } catch (error) {
      await this.releaseCompletion(request, completion);
      throw error;
    }
    if (won) {
      this.completed(request, counts);
      await this.completions.markPublishedAndProcessed(request.eventId, this.config.instanceId, {
        consumer: this.config.inboxConsumer,
        eventId: request.eventId,
      });
      await this.purgeCompletions();
    } else await this.inbox.record(this.config.inboxConsumer, request.eventId);
    if (recover) await recover();
  }

  /**
   * Gives back a completion claim this refresher won for a run that failed before its completion was published,
   * so the redelivered request completes the run (on whichever refresher gets it).
   */
  private async releaseCompletion(request: RefreshRequested, completion?: Promise<boolean>): Promise<void> {
    const won = await completion?.catch(() => false);
    if (won) await this.completions.release(request.eventId, this.config.instanceId).catch(() => undefined);
  }

  private doneInThisRun(info: PersistedInfoEntity, request: RefreshRequested): boolean {
    // the row ended this run (a success or a failure written by an earlier delivery of the same request)
    return info.lastRunId === request.eventId && isFinished(info.state);
  }

  /**
   * A model finished by an earlier delivery of this very request (the refresher died or the broker failed
   * before the run completed): effects once, so it is not refreshed again, but it is counted, and a success is
   * announced again from the row (its first announcement may be lost; consumers get it at least once).
   */
  private async reportDone(
    info: PersistedInfoEntity,
    card: CardEntity,
    request: RefreshRequested,
    counts: Counts,
    details: ErrorDetail[],
  ): Promise<void> {
    const again = this.countDone(info, card, request, counts, details);
    if (again) await this.publishOutcome(again);
  }

  /** reportDone without the publish: counts a finished model, returns the success to announce again (if one). */
  private countDone(
    info: PersistedInfoEntity,
    card: CardEntity,
    request: RefreshRequested,
    counts: Counts,
    details: ErrorDetail[],
  ): ModelOutcome | null {
    if (info.state === 'error') {
      counts.error++;
      details.push({
        persistedInfoId: info.id,
        cardId: card.id,
        error: (info.error ?? 'refresh failed').slice(0, 10_000),
      });
      return null;
    }
    counts.success++;
    return { kind: 'success', event: reannouncedSuccessEvent(info, card, request) };
  }

  private async createMissingRows(db: SourceDatabaseEntity, schemaName: string): Promise<void> {
    for (const card of await this.rows.findModelsWithoutRow(db.id)) {
      await this.rows.createIfMissing(newPersistedRow(this.api, db, card, schemaName));
    }
  }

  /** `incremental`: some model of the run is incremental (its full-rebuild cron needs the schedule's time zone). */
  private async context(
    request: RefreshRequested,
    db: SourceDatabaseEntity,
    incremental: boolean,
  ): Promise<RunContext> {
    return {
      ...(incremental ? { timeZone: await this.settings.get(SettingKey.ScheduleTimeZone) } : {}),
      runId: request.eventId,
      trigger: request.trigger,
      databaseId: db.id,
      statementTimeoutMs: db.statementTimeoutMs,
      driver: this.drivers.forDatabase(db),
      ...(request.full ? { full: true } : {}),
    };
  }

  /**
   * Change detection (scheduled runs, and requests with `ifChanged`): reads every candidate's input signature
   * before any build, upstream first, and marks the rows whose inputs did not change since their last successful
   * build (one guarded UPDATE; their `last_success_at` becomes the check's start minus the settle time, as the
   * source's change markers may lag a commit by that much). A model reading a model that changed is changed too.
   * The signatures read are kept in `ctx` for the builds that follow (read before their snapshots), except for
   * models whose upstream is rebuilt in this run: theirs is read again after it. Returns the rows marked.
   */
  private async detectUnchanged(
    request: RefreshRequested,
    candidates: PersistedInfoEntity[],
    cards: Map<number, CardEntity>,
    ctx: RunContext,
    refsOf: (cardId: number) => number[],
  ): Promise<Set<number>> {
    if (!this.models.detecting() || (request.trigger !== 'scheduled' && request.ifChanged !== true))
      return new Set();
    const checkStarted = Date.now();
    const changedCards = new Set<number>();
    const signatures = new Map<number, string | null>();
    const marks: UnchangedMark[] = [];
    const models = candidates.flatMap((info) => {
      const card = info.cardId === null ? undefined : cards.get(info.cardId);
      return card && !this.doneInThisRun(info, request) ? [{ info, card }] : [];
    });
    const checks = await this.models.checkAllInputs(models, ctx);
    for (const [i, { info, card }] of models.entries()) {
      const check = checks[i];
      const upstreamChanged = upstreamOf(card.id, refsOf).some((u) => changedCards.has(u.id));
      if (check.unchanged && !upstreamChanged && check.signature !== null && check.buildHash) {
        marks.push({
          id: info.id,
          generation: Number(info.generation),
          signature: check.signature,
          buildHash: check.buildHash,
          card,
        });
      } else {
        changedCards.add(card.id);
        if (!upstreamChanged) signatures.set(info.id, check.signature);
        this.logger.debug(
          `model ${card.id}: building: ${upstreamChanged && check.unchanged ? 'a model it reads changed' : check.reason}`,
        );
      }
    }
    const settleMs = this.config.changeDetection?.settleMs ?? 1_000;
    const marked = await this.rows.markUnchanged(marks, new Date(checkStarted - settleMs));
    // a row that could not be marked (claimed, turned off meanwhile) takes the usual path, signature kept
    for (const m of marks) if (!marked.has(m.id)) signatures.set(m.id, m.signature);
    ctx.signatures = signatures;
    return marked;
  }

  /**
   * A database run that does not skip unchanged models still stores each build's input signature (for the next
   * scheduled run): read them all before the first build, in one go (one source transaction on PostgreSQL, instead of
   * one per model), like change detection does. Models reading other models ({{#id}}) are left out: theirs is read
   * just before their build, after their upstream's.
   */
  private async readSignaturesAhead(
    request: RefreshRequested,
    candidates: PersistedInfoEntity[],
    cards: Map<number, CardEntity>,
    ctx: RunContext,
    refsOf: (cardId: number) => number[],
  ): Promise<void> {
    if (!this.models.detecting()) return;
    const models = candidates.flatMap((info) => {
      const card = info.cardId === null ? undefined : cards.get(info.cardId);
      return card && refsOf(card.id).length === 0 && !this.doneInThisRun(info, request)
        ? [{ info, card }]
        : [];
    });
    if (models.length < 2) return; // one model: its build reads it, as before
    const checks = await this.models.checkAllInputs(models, ctx);
    ctx.signatures = new Map(models.map(({ info }, i) => [info.id, checks[i].signature]));
  }

  private count(outcome: ModelOutcome, counts: Counts, details: ErrorDetail[]): void {
    counts[outcome.kind]++;
    if (outcome.kind === 'success' && outcome.event.outcome === 'unchanged')
      counts.unchanged = (counts.unchanged ?? 0) + 1;
    if (outcome.kind === 'error')
      details.push({
        persistedInfoId: outcome.event.persistedInfoId,
        cardId: outcome.event.cardId,
        error: outcome.event.message,
      });
  }

  private async publishOutcomes(outcomes: ModelOutcome[]): Promise<void> {
    await this.publisher.publishAll(
      outcomes.map((o) => ({
        topic: o.kind === 'success' ? Topics.RefreshSucceeded : Topics.RefreshFailed,
        key: databaseKey(o.event.databaseId),
        event: o.event,
      })),
    );
  }

  private async publishOutcome(outcome: ModelOutcome): Promise<void> {
    await this.publisher.publish(this.outcomeEvent(outcome));
  }

  private outcomeEvent(outcome: ModelOutcome): OutgoingEvent {
    return {
      topic: outcome.kind === 'success' ? Topics.RefreshSucceeded : Topics.RefreshFailed,
      key: databaseKey(outcome.event.databaseId),
      event: outcome.event,
    };
  }

  private async publishRunStarted(
    request: RefreshRequested,
    started: Date,
    modelCount: number,
  ): Promise<void> {
    await this.publisher.publish({
      topic: Topics.RefreshRuns,
      key: databaseKey(request.databaseId),
      event: runStartedEvent(request, started, modelCount),
    });
  }

  private async publishRunCompleted(
    request: RefreshRequested,
    started: Date,
    counts: Counts,
    details: ErrorDetail[],
    recordInbox = false,
  ): Promise<void> {
    const ended = new Date();
    const owner = this.config.instanceId;
    const won = await this.claimCompletion(request);
    if (!won) {
      this.logger.warn(`run ${request.eventId} was completed by another refresher; not completing it again`);
      if (recordInbox) await this.inbox.record(this.config.inboxConsumer, request.eventId);
      return;
    }
    this.completed(request, counts);
    try {
      await this.publisher.publish(this.completedEvent(request, started, ended, counts, details));
    } catch (error) {
      // the redelivered request completes the run (on whichever refresher gets it)
      await this.completions.release(request.eventId, owner).catch(() => undefined);
      throw error;
    }
    // the completion mark and the request's inbox row in one statement (one round trip less at the run's end)
    if (recordInbox)
      await this.completions.markPublishedAndProcessed(request.eventId, owner, {
        consumer: this.config.inboxConsumer,
        eventId: request.eventId,
      });
    else await this.completions.markPublished(request.eventId, owner);
    await this.purgeCompletions();
  }

  /** Once in effect: a run executed twice at once (a rebalance) is completed by whoever wins its completion row. */
  private claimCompletion(request: RefreshRequested): Promise<boolean> {
    const c = this.completionClaim(request);
    return this.completions.claim(c.runId, c.databaseId, c.owner, c.takeOverAfterMs);
  }

  private completionClaim(request: RefreshRequested): RunCompletionClaim {
    return {
      runId: request.eventId,
      databaseId: request.databaseId,
      owner: this.config.instanceId,
      takeOverAfterMs: 2 * this.config.leaseMs,
    };
  }

  private completed(request: RefreshRequested, counts: Counts): void {
    Metrics.runs().add(1, { trigger: request.trigger, outcome: counts.error > 0 ? 'failed' : 'success' });
    Metrics.runFailedModels().record(counts.error, { 'db.id': request.databaseId });
  }

  private async purgeCompletions(): Promise<void> {
    if (Date.now() - this.lastPurge > COMPLETION_PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      await this.completions.purgeOlderThan(COMPLETION_RETENTION_MS);
    }
  }

  private completedEvent(
    request: RefreshRequested,
    started: Date,
    ended: Date,
    counts: Counts,
    details: ErrorDetail[],
  ): OutgoingEvent {
    return {
      topic: Topics.RefreshRuns,
      key: databaseKey(request.databaseId),
      event: runCompletedEvent(request, started, ended, counts, details),
    };
  }
}
