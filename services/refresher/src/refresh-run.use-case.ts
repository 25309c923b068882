import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  ErrorClass,
  RefreshFailed,
  RefreshRequested,
  RefreshRunCompleted,
  Topics,
  createEvent,
  databaseKey,
} from '@model-persistence/contracts';
import {
  CardEntity,
  CardRepository,
  InboxRepository,
  isFinished,
  isInactive,
  PersistedInfoEntity,
  PersistedInfoRepository,
  RunCompletionRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseEntity,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { EventPublisher } from '@model-persistence/messaging';
import { Metrics } from '@model-persistence/telemetry';
import { RefresherConfig } from './config';
import { CrashRecoveryService } from './crash-recovery.service';
import { ModelOutcome, ModelRefreshService, RunContext } from './model-refresh.service';
import { SOURCE_DB, SourceDbApi } from './source-db.port';
import { SourceDrivers } from './source-drivers.service';

type Counts = { success: number; error: number; skipped: number };

/** Completion rows are kept this long (a run is never redelivered later), purged at most once an hour. */
const COMPLETION_RETENTION_MS = 7 * 24 * 3_600_000;
const COMPLETION_PURGE_EVERY_MS = 3_600_000;

/** How long a finished model's event may wait for others to share its broker request. */
const OUTCOME_LINGER_MS = 20;
type ErrorDetail = RefreshRunCompleted['errorDetails'][number];

/** A request that cannot run, reported as a failed model with a clear reason. */
class Rejection {
  constructor(
    readonly outcome: 'error' | 'skipped',
    readonly errorClass: ErrorClass,
    readonly code: ErrorCode,
    readonly message: string,
    readonly persistedInfoId: number | null = null,
  ) {}
}

/**
 * Publishes outcomes without holding up the next model: outcomes finished within a short linger, or while a
 * request is in flight, go out together (one broker round trip for many events, in order). `drain` sends
 * what is left, waits for all of it and throws the first publish failure.
 */
class OutcomeOutbox {
  private queue: ModelOutcome[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly failures: unknown[] = [];

  constructor(
    private readonly send: (batch: ModelOutcome[]) => Promise<void>,
    private readonly lingerMs = OUTCOME_LINGER_MS,
  ) {}

  add(outcome: ModelOutcome): void {
    this.queue.push(outcome);
    if (this.flushing || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing ??= this.flush();
    }, this.lingerMs);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.send(batch).catch((e: unknown) => void this.failures.push(e));
    }
    this.flushing = null;
  }

  async drain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.flushing || this.queue.length > 0) await (this.flushing ??= this.flush());
    if (this.failures.length > 0) throw this.failures[0];
  }
}

/**
 * Handles one RefreshRequested: a database run (every refreshable model of the database) or an individual run
 * (one card). Requests are de-duplicated by eventId through the inbox; models already finished by an earlier
 * delivery of the same run are not refreshed again.
 */
@Injectable()
export class RefreshRunUseCase {
  private readonly logger = new Logger(RefreshRunUseCase.name);

  constructor(
    @Inject(APP_CONFIG)
    private readonly config: Pick<RefresherConfig, 'inboxConsumer' | 'cache' | 'instanceId' | 'leaseMs'>,
    @Inject(SOURCE_DB) private readonly api: SourceDbApi,
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
  ) {}

  private lastPurge = 0;

  async execute(request: RefreshRequested): Promise<void> {
    if (await this.inbox.has(this.config.inboxConsumer, request.eventId)) {
      this.logger.log(`request ${request.eventId} was already processed; ignoring the redelivery`);
      return;
    }
    if (request.cardId === undefined) await this.databaseRun(request);
    else await this.individualRun(request, request.cardId);
    await this.inbox.record(this.config.inboxConsumer, request.eventId);
  }

  private async databaseRun(request: RefreshRequested): Promise<void> {
    const started = new Date();
    const db = await this.databases.findById(request.databaseId);
    const enabled = db && (await this.persistenceEnabled(db));
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
      return;
    }
    const driver = this.drivers.forDatabase(db);
    const schemaName = await this.drivers.schemaName(db.id);
    await this.recovery.recoverDatabase(db.id, driver, schemaName);
    await this.createMissingRows(db, schemaName);

    const cards = new Map((await this.cards.findModelsOfDatabase(db.id)).map((c) => [c.id, c]));
    // A model with its own cron gets its own scheduled requests (the scheduler publishes them with a cardId), so
    // the database's schedule leaves it alone; explicit (manual / external) database runs still include it.
    const ownSchedule = (cardId: number | null) =>
      request.trigger === 'scheduled' && cardId !== null && !!cards.get(cardId)?.refreshCron;
    const candidates = (await this.rows.findRefreshCandidates(db.id)).filter(
      (info) => !ownSchedule(info.cardId),
    );
    await this.publishRunStarted(request, started, candidates.length);
    const ctx = this.context(request, db);
    const counts: Counts = { success: 0, error: 0, skipped: 0 };
    const details: ErrorDetail[] = [];
    // outcomes go out in batches (one broker request while the previous one is in flight), off the models' path
    const outbox = new OutcomeOutbox((batch) => this.publishOutcomes(batch));
    // Models are built one after the other; a model's outcome write overlaps the next model's claim and build
    // (at most two models in flight, outcomes recorded in order, the run stops at the first failure).
    let previous: Promise<void> = Promise.resolve();
    try {
      for (const info of candidates) {
        const card = info.cardId === null ? undefined : cards.get(info.cardId);
        if (!card) continue; // archived or deleted since the query: prune's business
        if (this.doneInThisRun(info, request)) {
          await previous;
          await this.reportDone(info, card, request, counts, details);
          continue;
        }
        let sourceDone!: () => void;
        const sourceFree = new Promise<void>((resolve) => (sourceDone = resolve));
        const prior = previous;
        previous = this.models.refresh(info, card, ctx, sourceDone).then(async (outcome) => {
          await prior;
          outbox.add(outcome);
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
      await outbox.drain().catch(() => undefined);
      throw error;
    }
    // on a failure the message is retried: models already done are not refreshed again, their successes are
    // re-announced
    await outbox.drain();
    await this.publishRunCompleted(request, started, counts, details);
  }

  private async individualRun(request: RefreshRequested, cardId: number): Promise<void> {
    const started = new Date();
    await this.publishRunStarted(request, started, 1);
    const counts: Counts = { success: 0, error: 0, skipped: 0 };
    const details: ErrorDetail[] = [];
    const prepared = await this.prepareIndividual(request, cardId);
    if (prepared instanceof Rejection) {
      const outcome: ModelOutcome = {
        kind: prepared.outcome,
        event: this.rejectedEvent(request, cardId, started, prepared),
      };
      await this.publishOutcome(outcome);
      this.count(outcome, counts, details);
    } else {
      const { db, card, info } = prepared;
      const driver = this.drivers.forDatabase(db);
      await this.recovery.recoverDatabase(db.id, driver, info.schemaName);
      const fresh = (await this.rows.findById(info.id)) ?? info;
      if (this.doneInThisRun(fresh, request)) {
        await this.reportDone(fresh, card, request, counts, details);
      } else {
        const outcome = await this.models.refresh(fresh, card, this.context(request, db));
        await this.publishOutcome(outcome);
        this.count(outcome, counts, details);
      }
    }
    await this.publishRunCompleted(request, started, counts, details);
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
    if (info.state === 'error') {
      counts.error++;
      details.push({
        persistedInfoId: info.id,
        cardId: card.id,
        error: (info.error ?? 'refresh failed').slice(0, 10_000),
      });
      return;
    }
    counts.success++;
    const started = info.refreshBegin ?? new Date();
    const ended = info.refreshEnd ?? new Date();
    await this.publishOutcome({
      kind: 'success',
      event: createEvent('RefreshSucceeded', {
        runId: request.eventId,
        databaseId: info.databaseId,
        cardId: card.id,
        persistedInfoId: info.id,
        trigger: request.trigger,
        startedAt: started.toISOString(),
        endedAt: ended.toISOString(),
        durationMs: Math.max(0, ended.getTime() - started.getTime()),
        attempts: 1,
        schemaName: info.schemaName,
        tableName: info.tableName,
        rows: null,
      }),
    });
  }

  private async prepareIndividual(
    request: RefreshRequested,
    cardId: number,
  ): Promise<Rejection | { db: SourceDatabaseEntity; card: CardEntity; info: PersistedInfoEntity }> {
    const db = await this.databases.findById(request.databaseId);
    if (!db)
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.UnknownDatabase,
        `database ${request.databaseId} does not exist`,
      );
    const card = await this.cards.findById(cardId);
    if (!card)
      return new Rejection('error', 'invalid', ErrorCode.UnknownCard, `card ${cardId} does not exist`);
    if (card.databaseId !== db.id)
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.ValidationFailed,
        `card ${cardId} belongs to database ${card.databaseId}, not ${db.id}`,
      );
    let info = await this.rows.findByCardId(card.id);
    if (card.type !== 'model')
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.NotAModel,
        `card ${cardId} is a ${card.type}, not a model; only models are persisted`,
        info?.id ?? null,
      );
    if (card.archived)
      return new Rejection(
        'error',
        'invalid',
        ErrorCode.ArchivedModel,
        `model ${cardId} is archived`,
        info?.id ?? null,
      );
    if (!(await this.persistenceEnabled(db)))
      return new Rejection(
        'skipped',
        'invalid',
        ErrorCode.PersistenceDisabled,
        `model persistence is disabled for database ${db.id}`,
        info?.id ?? null,
      );
    if (info && isInactive(info.state))
      return new Rejection(
        'skipped',
        'invalid',
        ErrorCode.Conflict,
        `model ${cardId} is not persisted (state ${info.state}); persist it first`,
        info.id,
      );
    info ??= await this.rows.createIfMissing(this.newRow(db, card, await this.drivers.schemaName(db.id)));
    return { db, card, info };
  }

  private async persistenceEnabled(db: SourceDatabaseEntity): Promise<boolean> {
    return db.persistModelsEnabled && (await this.settings.getBoolean(SettingKey.PersistedModelsEnabled));
  }

  private async createMissingRows(db: SourceDatabaseEntity, schemaName: string): Promise<void> {
    for (const card of await this.rows.findModelsWithoutRow(db.id)) {
      await this.rows.createIfMissing(this.newRow(db, card, schemaName));
    }
  }

  private newRow(db: SourceDatabaseEntity, card: CardEntity, schemaName: string) {
    return {
      databaseId: db.id,
      cardId: card.id,
      questionSlug: this.api.modelSlug(card.name),
      schemaName,
      tableName: this.api.cacheTableName(db.engine, card.id, card.name),
      state: 'creating' as const,
      active: false,
      refreshBegin: new Date(),
      creator: 'refresher',
    };
  }

  private context(request: RefreshRequested, db: SourceDatabaseEntity): RunContext {
    return {
      runId: request.eventId,
      trigger: request.trigger,
      databaseId: db.id,
      statementTimeoutMs: db.statementTimeoutMs,
      driver: this.drivers.forDatabase(db),
    };
  }

  private rejectedEvent(
    request: RefreshRequested,
    cardId: number,
    started: Date,
    r: Rejection,
  ): RefreshFailed {
    const ended = new Date();
    return createEvent('RefreshFailed', {
      runId: request.eventId,
      databaseId: request.databaseId,
      cardId,
      persistedInfoId: r.persistedInfoId,
      trigger: request.trigger,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      attempts: 0,
      outcome: r.outcome,
      errorClass: r.errorClass,
      errorCode: r.code,
      message: r.message,
    });
  }

  private count(outcome: ModelOutcome, counts: Counts, details: ErrorDetail[]): void {
    counts[outcome.kind]++;
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
    await this.publisher.publish({
      topic: outcome.kind === 'success' ? Topics.RefreshSucceeded : Topics.RefreshFailed,
      key: databaseKey(outcome.event.databaseId),
      event: outcome.event,
    });
  }

  private async publishRunStarted(
    request: RefreshRequested,
    started: Date,
    modelCount: number,
  ): Promise<void> {
    await this.publisher.publish({
      topic: Topics.RefreshRuns,
      key: databaseKey(request.databaseId),
      event: createEvent('RefreshRunStarted', {
        runId: request.eventId,
        databaseId: request.databaseId,
        ...(request.cardId !== undefined ? { cardId: request.cardId } : {}),
        trigger: request.trigger,
        ...(request.requestedBy !== undefined ? { requestedBy: request.requestedBy } : {}),
        startedAt: started.toISOString(),
        modelCount,
      }),
    });
  }

  private async publishRunCompleted(
    request: RefreshRequested,
    started: Date,
    counts: Counts,
    details: ErrorDetail[],
  ): Promise<void> {
    const ended = new Date();
    const owner = this.config.instanceId;
    // once in effect: a run executed twice at once (a rebalance) is completed by whoever wins the row
    const won = await this.completions.claim(
      request.eventId,
      request.databaseId,
      owner,
      2 * this.config.leaseMs,
    );
    if (!won) {
      this.logger.warn(`run ${request.eventId} was completed by another refresher; not completing it again`);
      return;
    }
    Metrics.runs().add(1, { trigger: request.trigger, outcome: counts.error > 0 ? 'failed' : 'success' });
    Metrics.runFailedModels().record(counts.error, { 'db.id': request.databaseId });
    try {
      await this.publishCompleted(request, started, ended, counts, details);
    } catch (error) {
      // the redelivered request completes the run (on whichever refresher gets it)
      await this.completions.release(request.eventId, owner).catch(() => undefined);
      throw error;
    }
    await this.completions.markPublished(request.eventId, owner);
    if (Date.now() - this.lastPurge > COMPLETION_PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      await this.completions.purgeOlderThan(COMPLETION_RETENTION_MS);
    }
  }

  private async publishCompleted(
    request: RefreshRequested,
    started: Date,
    ended: Date,
    counts: Counts,
    details: ErrorDetail[],
  ): Promise<void> {
    await this.publisher.publish({
      topic: Topics.RefreshRuns,
      key: databaseKey(request.databaseId),
      event: createEvent('RefreshRunCompleted', {
        runId: request.eventId,
        databaseId: request.databaseId,
        ...(request.cardId !== undefined ? { cardId: request.cardId } : {}),
        trigger: request.trigger,
        startedAt: started.toISOString(),
        endedAt: ended.toISOString(),
        durationMs: ended.getTime() - started.getTime(),
        ...counts,
        errorDetails: details.slice(0, 10_000),
      }),
    });
  }
}
