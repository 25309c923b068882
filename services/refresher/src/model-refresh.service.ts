import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG } from '@model-persistence/config';
import {
  ErrorClass,
  RefreshFailed,
  RefreshSucceeded,
  Trigger,
  composeEvent,
} from '@model-persistence/contracts';
import {
  BuildLease,
  CardEntity,
  isInactive,
  PersistedInfoEntity,
  PersistedInfoRepository,
  PersistedInfoSnapshot,
  RefreshClaim,
  RunCompletionClaim,
} from '@model-persistence/database';
import { DomainError, ErrorCode, errorMessage } from '@model-persistence/errors';
import { backoffDelay, sleep } from '@model-persistence/messaging';
import { QuartzSchedule } from '@model-persistence/cron';
import {
  buildDefinitionHash,
  DEFAULT_FULL_REBUILD_CRON,
  managedIndexesOf,
  ManagedIndex,
  parseLookback,
  SourceDriver,
  SOURCE_DB,
  SourceDbPort,
  TableDefinition,
} from '@model-persistence/source-db';
import { Metrics } from '@model-persistence/telemetry';
import { ModelSqlResolver } from './model-sql.resolver';
import { RefresherConfig } from './config';

export interface RunContext {
  runId: string;
  trigger: Trigger;
  databaseId: number;
  statementTimeoutMs: number;
  driver: SourceDriver;
  /** The request asked incremental models to be rebuilt in full. */
  full?: boolean;
  /** Now, for the full-rebuild cron (tests pin it). */
  now?: () => Date;
  /** The schedule's time zone (setting), in which a full-rebuild cron fires; UTC when absent. */
  timeZone?: string;
  /**
   * Change detection: input signatures already read this run before the builds (by persisted_info id; null:
   * cannot tell). A build stores its model's; a model not in the map has its signature read just before its build.
   * A reading still in flight (started while the row is claimed; it never rejects) is awaited before the build.
   */
  signatures?: Map<number, string | null | Promise<string | null>>;
  /**
   * An individual run: the run's completion claim, taken in the same statement as the model's outcome write (one
   * transaction, one round trip less before the answer); the outcome says whether it was won. Absent (or when the
   * build ends without writing its row): the caller claims the completion itself.
   */
  completion?: RunCompletionClaim;
}

/** What change detection found for one model (before any build of this run). */
export interface InputCheck {
  /** Signature of the model's inputs now; null: cannot tell. */
  signature: string | null;
  /** The signature equals the one stored at its last successful build, and nothing else forces a build. */
  unchanged: boolean;
  /** Why the model must be built (for the log). */
  reason?: string;
  /** Hash of the definition checked (resolved SQL, indexes, incremental settings), when it could be resolved. */
  buildHash?: string;
}

/** How one model is built this time: merged incrementally, or rebuilt in full (why, for incremental models). */
export type BuildPlan = { mode: 'incremental' } | { mode: 'full'; reason?: string };

/** What one build attempt did (a merge that could not be trusted became a full build). */
interface Built {
  mode: 'full' | 'incremental';
  fullReason?: string;
  rows: number | null;
  definition?: TableDefinition;
  queryMs?: number;
  indexMs?: number;
  inserted?: number;
  updated?: number;
  checkpoint: string | null;
}

/** A claim made ahead of the model's build (see claimAhead), and when it was asked (Date.now()). */
export interface AheadClaim {
  claim: RefreshClaim;
  at: number;
}

export type ModelOutcome = (
  { kind: 'success'; event: RefreshSucceeded } | { kind: 'error' | 'skipped'; event: RefreshFailed }
) & {
  /** The run's completion claim was taken with the outcome write (RunContext.completion): won or not. */
  completionWon?: boolean;
};

type Classified = { errorClass: ErrorClass; code: string; message: string };

const MAX_MESSAGE = 10_000;

/** The outcome with the result of the completion claim taken with its write, if one was. */
const withCompletion = (outcome: ModelOutcome, completionWon: boolean | undefined): ModelOutcome =>
  completionWon === undefined ? outcome : { ...outcome, completionWon };

const buildMsOf = (from: Date, to: Date) =>
  Math.min(2_147_483_647, Math.max(0, Math.round(to.getTime() - from.getTime())));

/**
 * Refreshes one persisted model: re-checks and leases the row, builds and swaps the cache table through the
 * engine layer with retries by error class, then records the outcome on the row. Never throws for a source
 * database failure (those become outcomes); app-database failures propagate (the run is retried and the
 * row's lease expires, so nothing stays stuck).
 */
@Injectable()
export class ModelRefreshService {
  private readonly logger = new Logger(ModelRefreshService.name);

  constructor(
    private readonly rows: PersistedInfoRepository,
    @Inject(SOURCE_DB) private readonly api: SourceDbPort,
    @Inject(APP_CONFIG)
    private readonly config: Pick<RefresherConfig, 'instanceId' | 'leaseMs' | 'retry'> &
      Partial<Pick<RefresherConfig, 'changeDetection'>>,
    private readonly resolver: ModelSqlResolver,
  ) {}

  /**
   * `onSourceDone` is called once the source database is no longer used for this model (before the outcome
   * is written), so a run may start the next model's build while this outcome write is in flight.
   */
  async refresh(
    info: PersistedInfoEntity,
    card: CardEntity,
    ctx: RunContext,
    onSourceDone: () => void = () => undefined,
    claimed?: AheadClaim,
  ): Promise<ModelOutcome> {
    const started = new Date();
    const owner = this.config.instanceId;
    // active is only ever set after a successful swap (and cleared on unpersist/prune), so an active row has
    // its previous table: readers keep it while the new one is built
    const keepActive = info.active;

    const claim = claimed?.claim ?? (await this.claim(info, keepActive, ctx));
    let leaseFrom = claimed?.at ?? Date.now();
    if (claimed && claim && Date.now() - leaseFrom > this.renewEveryMs()) {
      // claimed ahead, a while ago: the lease is extended before the build (refused: the row is no longer ours)
      const at = Date.now();
      const lease = { id: info.id, owner, generation: claim.generation };
      if (!(await this.rows.renewLease(lease, this.config.leaseMs)))
        return this.lost(info, lease, card, ctx, started, 0, 'the row was no longer this build');
      leaseFrom = at;
    }
    if (!claim) {
      return this.failed(info, card, ctx, started, 0, 'skipped', {
        errorClass: 'invalid',
        code: ErrorCode.Conflict,
        message: `model ${card.id} was not refreshed: its persisted-info row is no longer in a refreshable state or another refresher holds it`,
      });
    }
    const lease: BuildLease = { id: info.id, owner, generation: claim.generation };
    const aborter = new AbortController();
    const renewal = this.keepLease(lease, aborter, leaseFrom);
    try {
      return await this.build(
        claim.after,
        claim.before,
        card,
        ctx,
        started,
        onSourceDone,
        lease,
        aborter.signal,
        // a claim made ahead ran while other models built: the build's own time is measured from here
        claimed ? started : undefined,
      );
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Renews the lease while the build runs. When the row is no longer this build's (unpersisted, disabled,
   * taken over by a newer generation), or the lease could not be renewed for a whole lease period (another
   * refresher may have taken it), the build is aborted: the driver cancels the statement on the server.
   */
  private keepLease(lease: BuildLease, aborter: AbortController, since: number): NodeJS.Timeout {
    const leaseMs = this.config.leaseMs;
    let renewedAt = since;
    let pending = false;
    const timer = setInterval(() => {
      if (aborter.signal.aborted || pending) return;
      // a process paused past its lease (SIGSTOP, a long GC pause) must not go on as if it still held it
      if (Date.now() - renewedAt > leaseMs) {
        aborter.abort(
          new Error(`the lease on persisted_info ${lease.id} expired before it could be renewed`),
        );
        return;
      }
      pending = true;
      this.rows
        .renewLease(lease, leaseMs)
        .then(
          (ok) => {
            if (ok) renewedAt = Date.now();
            else {
              this.logger.warn(
                `persisted_info ${lease.id}: the row is no longer this build's; cancelling it`,
              );
              aborter.abort(new Error(`persisted_info ${lease.id} was turned off or taken over`));
            }
          },
          (e: unknown) =>
            this.logger.warn(`renewing the lease on persisted_info ${lease.id} failed: ${errorMessage(e)}`),
        )
        .finally(() => (pending = false));
    }, this.renewEveryMs());
    return timer;
  }

  private renewEveryMs(): number {
    return Math.max(250, Math.min(1000, Math.floor(this.config.leaseMs / 3)));
  }

  /**
   * The outcome of a build that lost its row (turned off, superseded by a newer generation, or aborted): a
   * skip that writes nothing on the row, so the admin's decision or the newer build stands.
   */
  private async lost(
    info: PersistedInfoEntity,
    lease: BuildLease,
    card: CardEntity,
    ctx: RunContext,
    started: Date,
    attempts: number,
    why: string,
  ): Promise<ModelOutcome> {
    const now = await this.rows.leaseView(info.id).catch(() => null);
    const reason = !now
      ? 'its persisted-info row is gone'
      : isInactive(now.state)
        ? `the model was turned off (state ${now.state})`
        : now.generation !== lease.generation
          ? `a newer refresh (generation ${now.generation}) took it over`
          : why;
    this.logger.warn(`model ${card.id}: refresh generation ${lease.generation} stopped: ${reason}`);
    return this.failed(info, card, ctx, started, attempts, 'skipped', {
      errorClass: 'invalid',
      code: ErrorCode.IllegalStateTransition,
      message: `model ${card.id} was not refreshed: ${reason}; this build was cancelled and its result discarded`,
    });
  }

  private async build(
    info: PersistedInfoEntity,
    before: PersistedInfoSnapshot,
    card: CardEntity,
    ctx: RunContext,
    started: Date,
    onSourceDone: () => void,
    lease: BuildLease,
    signal: AbortSignal,
    buildStarted?: Date,
  ): Promise<ModelOutcome> {
    let sql: string;
    let hash: string;
    try {
      // {{#id}} references become the upstream's cache table or its SQL; the result is checked like any model SQL
      sql = this.api.assertSafeModelSql(
        await this.resolver.resolve(card, ctx.driver.engine),
        ctx.driver.engine,
      );
      hash = this.api.queryHash(sql);
    } catch (e) {
      const c = this.classify(e, ctx);
      onSourceDone();
      const { mine, completionWon } = await this.finish(lease, 'fail', ctx, {
        active: false,
        error: c.message,
      });
      return withCompletion(
        mine
          ? this.failed(info, card, ctx, started, 0, 'error', c)
          : await this.lost(info, lease, card, ctx, started, 0, 'the row was no longer this build'),
        completionWon,
      );
    }

    const incremental = card.incremental;
    const indexes = managedIndexesOf(card.id, card.indexes, incremental);
    const buildHash = buildDefinitionHash(sql, indexes, incremental);
    const plan = this.plan(info, card, ctx, buildHash);
    // read BEFORE the build's snapshot: a change committed after this reading is either in the build or makes the
    // next reading differ (a wasted build at worst, never a stale cache)
    const signature = ctx.signatures?.has(info.id)
      ? ((await ctx.signatures.get(info.id)) ?? null)
      : this.detecting()
        ? (await this.readSignature(card, ctx, sql, info.schemaName)).signature
        : null;
    let timeoutMs = ctx.statementTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const built = await this.buildOnce(info, card, ctx, plan, sql, indexes, timeoutMs, signal, lease);
        const ended = new Date();
        onSourceDone();
        const full = built.mode === 'full';
        const { mine, completionWon } = await this.finish(lease, 'succeed', ctx, {
          active: true,
          error: null,
          ...(built.definition ? { definition: built.definition } : {}),
          queryHash: hash,
          lastSuccessAt: ended,
          lastBuiltAt: ended,
          inputSignature: signature,
          checkpoint: built.checkpoint,
          ...(full ? { buildHash, lastFullAt: ended } : {}),
          ...(buildStarted ? { lastBuildMs: buildMsOf(buildStarted, ended) } : {}),
        });
        // turned off while the swap ran: no success is claimed; prune drops the table
        if (!mine)
          return withCompletion(
            await this.lost(info, lease, card, ctx, started, attempt, 'the row was no longer this build'),
            completionWon,
          );
        this.record(ctx, 'success', started, ended);
        this.recordBuild(ctx, built);
        return {
          ...(completionWon === undefined ? {} : { completionWon }),
          kind: 'success',
          event: composeEvent('RefreshSucceeded', {
            ...this.common(card, ctx, started, ended, attempt),
            persistedInfoId: info.id,
            schemaName: info.schemaName,
            tableName: info.tableName,
            rows: built.rows === null ? null : Math.max(0, Math.trunc(built.rows)),
            ...(incremental
              ? {
                  mode: built.mode,
                  ...(built.fullReason ? { fullReason: built.fullReason } : {}),
                  ...(built.inserted !== undefined ? { rowsInserted: built.inserted } : {}),
                  ...(built.updated !== undefined ? { rowsUpdated: built.updated } : {}),
                  checkpoint: built.checkpoint === null ? null : built.checkpoint.slice(0, 200),
                }
              : {}),
            ...(built.queryMs !== undefined ? { queryMs: Math.max(0, Math.round(built.queryMs)) } : {}),
            ...(built.indexMs !== undefined ? { indexMs: Math.max(0, Math.round(built.indexMs)) } : {}),
          }),
        };
      } catch (e) {
        if (signal.aborted || (e as { details?: { fenced?: unknown } })?.details?.fenced) {
          onSourceDone();
          return this.lost(info, lease, card, ctx, started, attempt, errorMessage(e));
        }
        const c = this.classify(e, ctx);
        const policy = this.config.retry.classes[c.errorClass];
        if (attempt <= policy.retries) {
          const delay =
            policy.baseMs > 0
              ? backoffDelay({ ...policy, maxMs: 600_000, jitter: this.config.retry.jitter }, attempt)
              : 0;
          timeoutMs = Math.min(timeoutMs * policy.timeoutFactor, 2_147_483_647);
          this.logger.warn(
            `model ${card.id} attempt ${attempt} failed (${c.errorClass}), retrying in ${delay} ms: ${c.message}`,
          );
          if (delay > 0) await sleep(delay);
          if (signal.aborted) {
            onSourceDone();
            return this.lost(info, lease, card, ctx, started, attempt, errorMessage(signal.reason));
          }
          continue;
        }
        onSourceDone();
        if (policy.exhausted === 'skip') {
          if (!(await this.rows.releaseClaim(lease, before)))
            return this.lost(info, lease, card, ctx, started, attempt, 'the row was no longer this build');
          return this.failed(info, card, ctx, started, attempt, 'skipped', c);
        }
        const { mine, completionWon } = await this.finish(lease, 'fail', ctx, {
          active: false,
          error: c.message,
          queryHash: hash,
        });
        return withCompletion(
          mine
            ? this.failed(info, card, ctx, started, attempt, 'error', c)
            : await this.lost(info, lease, card, ctx, started, attempt, 'the row was no longer this build'),
          completionWon,
        );
      }
    }
  }

  /** The outcome write on the row, with the run's completion claim when the run asked for it (ctx.completion). */
  private async finish(
    lease: BuildLease,
    outcome: 'succeed' | 'fail',
    ctx: RunContext,
    extra: Partial<PersistedInfoEntity>,
  ): Promise<{ mine: boolean; completionWon?: boolean }> {
    if (!ctx.completion) return { mine: await this.rows.finishRefresh(lease, outcome, extra) };
    const r = await this.rows.finishRefreshAndClaimCompletion(lease, outcome, extra, ctx.completion);
    return { mine: r.finished, completionWon: r.won };
  }

  /** Change detection is on (REFRESH_CHANGE_DETECTION, default on). */
  detecting(): boolean {
    return this.config.changeDetection?.enabled ?? true;
  }

  /**
   * The signature of a model's inputs, from the engine (its refresh_key's result when it has one); null with the
   * reason when the engine cannot tell or the reading fails (then the model is built: never a reason to skip).
   */
  private async readSignature(
    card: CardEntity,
    ctx: RunContext,
    sql: string,
    ownSchema: string,
  ): Promise<{ signature: string | null; reason?: string }> {
    const driver = ctx.driver;
    if (!driver.readInputSignature) return { signature: null, reason: 'the engine cannot tell' };
    try {
      const refreshKeySql = card.refreshKey
        ? this.api.assertSafeModelSql(card.refreshKey, driver.engine)
        : null;
      const read = await driver.readInputSignature({
        sql,
        statementTimeoutMs: ctx.statementTimeoutMs,
        refreshKeySql,
        ownSchema,
      });
      return read.signature === null
        ? { signature: null, reason: read.reason }
        : { signature: read.signature };
    } catch (e) {
      return { signature: null, reason: `the signature could not be read: ${errorMessage(e)}` };
    }
  }

  /**
   * Change detection for one model, before any build: its inputs' signature now, and whether it equals the one
   * stored at its last successful build while nothing else asks for a build (the row is persisted and active, the
   * resolved SQL and indexes are those built, an incremental model is not due for a full rebuild).
   */
  async checkInputs(info: PersistedInfoEntity, card: CardEntity, ctx: RunContext): Promise<InputCheck> {
    const [check] = await this.checkAllInputs([{ info, card }], ctx);
    return check;
  }

  /** checkInputs of many models, their signatures read in one go (one source transaction on PostgreSQL). */
  async checkAllInputs(
    models: { info: PersistedInfoEntity; card: CardEntity }[],
    ctx: RunContext,
  ): Promise<InputCheck[]> {
    const engine = ctx.driver.engine;
    const prepared: ({ sql: string; buildHash: string; refreshKeySql: string | null } | { error: string })[] =
      [];
    for (const { card } of models) {
      try {
        const sql = this.api.assertSafeModelSql(await this.resolver.resolve(card, engine), engine);
        prepared.push({
          sql,
          buildHash: buildDefinitionHash(
            sql,
            managedIndexesOf(card.id, card.indexes, card.incremental),
            card.incremental,
          ),
          refreshKeySql: card.refreshKey ? this.api.assertSafeModelSql(card.refreshKey, engine) : null,
        });
      } catch (e) {
        prepared.push({ error: errorMessage(e) }); // the build reports it
      }
    }
    const reads = await this.readSignatures(
      ctx,
      prepared.flatMap((p, i) =>
        'sql' in p
          ? [{ sql: p.sql, refreshKeySql: p.refreshKeySql, ownSchema: models[i].info.schemaName }]
          : [],
      ),
    );
    let next = 0;
    return models.map(({ info, card }, i): InputCheck => {
      const p = prepared[i];
      if (!('sql' in p)) return { signature: null, unchanged: false, reason: p.error };
      const read = reads[next++];
      if (read.signature === null)
        return { signature: null, unchanged: false, reason: read.reason, buildHash: p.buildHash };
      const why =
        info.state !== 'persisted' || !info.active || info.leaseOwner
          ? `state ${info.state}`
          : !info.inputSignature
            ? 'no signature of the last build'
            : info.buildHash !== p.buildHash
              ? 'the definition changed'
              : info.inputSignature !== read.signature
                ? 'its inputs changed'
                : card.incremental && this.plan(info, card, ctx, p.buildHash).mode !== 'incremental'
                  ? 'a full rebuild is due'
                  : undefined;
      return {
        signature: read.signature,
        unchanged: why === undefined,
        buildHash: p.buildHash,
        ...(why ? { reason: why } : {}),
      };
    });
  }

  private async readSignatures(
    ctx: RunContext,
    items: { sql: string; refreshKeySql: string | null; ownSchema: string }[],
  ): Promise<{ signature: string | null; reason?: string }[]> {
    const driver = ctx.driver;
    const reqs = items.map((x) => ({
      sql: x.sql,
      statementTimeoutMs: ctx.statementTimeoutMs,
      refreshKeySql: x.refreshKeySql,
      ownSchema: x.ownSchema,
    }));
    if (items.length === 0) return [];
    try {
      if (driver.readInputSignatures) {
        return (await driver.readInputSignatures(reqs)).map((r) =>
          r.signature === null ? { signature: null, reason: r.reason } : { signature: r.signature },
        );
      }
    } catch (e) {
      const reason = `the signatures could not be read: ${errorMessage(e)}`;
      return items.map(() => ({ signature: null, reason }));
    }
    const out: { signature: string | null; reason?: string }[] = [];
    for (const req of reqs) {
      if (!driver.readInputSignature) {
        out.push({ signature: null, reason: 'the engine cannot tell' });
        continue;
      }
      const r = await driver.readInputSignature(req).catch((e: unknown) => ({
        signature: null,
        reason: `the signature could not be read: ${errorMessage(e)}`,
      }));
      out.push(r.signature === null ? { signature: null, reason: r.reason } : { signature: r.signature });
    }
    return out;
  }

  /** A model whose inputs were verified unchanged (its row already marked): a success that built nothing. */
  unchanged(info: PersistedInfoEntity, card: CardEntity, ctx: RunContext, started: Date): ModelOutcome {
    const ended = new Date();
    this.record(ctx, 'unchanged', started, ended);
    return {
      kind: 'success',
      event: composeEvent('RefreshSucceeded', {
        ...this.common(card, ctx, started, ended, 1),
        persistedInfoId: info.id,
        schemaName: info.schemaName,
        tableName: info.tableName,
        rows: null,
        outcome: 'unchanged',
      }),
    };
  }

  /**
   * Full or incremental. An incremental model is rebuilt in full on its first build, when asked, when what
   * the merge depends on changed since the last full build (SQL, key, checkpoint column, indexes), when the
   * last build kept no checkpoint (e.g. its key had duplicates) and when its full-rebuild cron fired since.
   */
  plan(info: PersistedInfoEntity, card: CardEntity, ctx: RunContext, buildHash: string): BuildPlan {
    const inc = card.incremental;
    if (!inc) return { mode: 'full' };
    if (ctx.full) return { mode: 'full', reason: 'requested' };
    if (!info.active || !info.buildHash || !info.lastFullAt) return { mode: 'full', reason: 'first-build' };
    if (info.buildHash !== buildHash) return { mode: 'full', reason: 'definition-changed' };
    if (info.checkpoint === null || info.checkpoint === undefined)
      return { mode: 'full', reason: 'no-checkpoint' };
    const now = ctx.now?.() ?? new Date();
    try {
      const next = new QuartzSchedule(
        inc.fullRebuildCron ?? DEFAULT_FULL_REBUILD_CRON,
        ctx.timeZone ?? 'UTC',
      ).nextAfter(info.lastFullAt);
      if (next && next.getTime() <= now.getTime()) return { mode: 'full', reason: 'scheduled' };
    } catch {
      return { mode: 'full', reason: 'scheduled' };
    }
    return { mode: 'incremental' };
  }

  /** One attempt: the merge (falling back to a full build when it cannot be trusted) or the full build. */
  private async buildOnce(
    info: PersistedInfoEntity,
    card: CardEntity,
    ctx: RunContext,
    plan: BuildPlan,
    sql: string,
    indexes: ManagedIndex[],
    timeoutMs: number,
    signal: AbortSignal,
    lease: BuildLease,
  ): Promise<Built> {
    const inc = card.incremental;
    let fullReason = plan.mode === 'full' ? plan.reason : undefined;
    if (plan.mode === 'incremental' && inc) {
      const merged = await ctx.driver.mergeTable({
        schemaName: info.schemaName,
        tableName: info.tableName,
        sql,
        statementTimeoutMs: timeoutMs,
        signal,
        fence: { generation: lease.generation },
        checkpointColumn: inc.checkpointColumn,
        uniqueKey: inc.uniqueKey,
        lookback: parseLookback(inc.lookback),
      });
      if (merged.merged) {
        return {
          mode: 'incremental',
          rows: null,
          queryMs: merged.queryMs,
          inserted: merged.inserted,
          updated: merged.updated,
          checkpoint: merged.checkpoint,
        };
      }
      this.logger.log(`model ${card.id}: rebuilding in full: ${merged.fallback}: ${merged.message}`);
      fullReason = merged.fallback;
    }
    const result = await ctx.driver.refreshTable({
      schemaName: info.schemaName,
      tableName: info.tableName,
      sql,
      statementTimeoutMs: timeoutMs,
      signal,
      fence: { generation: lease.generation },
      ...(indexes.length > 0 ? { indexes } : {}),
      ...(inc ? { checkpointColumn: inc.checkpointColumn } : {}),
    });
    const keyIndex = inc ? managedIndexesOf(card.id, null, inc)[0]?.name : undefined;
    // a key with duplicates keeps no checkpoint: the next refresh is a full one again
    const mergeable = inc && !(keyIndex && result.notUnique?.includes(keyIndex));
    return {
      mode: 'full',
      ...(fullReason ? { fullReason } : {}),
      rows: result.rows,
      definition: result.definition,
      queryMs: result.queryMs,
      indexMs: result.indexMs,
      checkpoint: mergeable ? (result.checkpoint ?? null) : null,
    };
  }

  private recordBuild(ctx: RunContext, built: Built): void {
    const attrs = { 'db.id': ctx.databaseId, engine: ctx.driver.engine };
    if (built.indexMs) Metrics.indexBuildDuration().record(built.indexMs / 1000, attrs);
    if (built.inserted)
      Metrics.incrementalRows().add(built.inserted, { 'db.id': ctx.databaseId, kind: 'inserted' });
    if (built.updated)
      Metrics.incrementalRows().add(built.updated, { 'db.id': ctx.databaseId, kind: 'updated' });
  }

  /**
   * Claims several models of a database run in one statement, ahead of their builds (each claim guarded as on its
   * own). The claims made, by row id, with when they were asked (their leases run from then); a model left out is
   * claimed by its own refresh.
   */
  async claimAhead(infos: PersistedInfoEntity[], ctx: RunContext): Promise<Map<number, AheadClaim>> {
    const at = Date.now();
    const claims = await this.rows.claimAllForRefresh(
      infos.map((i) => ({ id: i.id, keepActive: i.active })),
      this.config.instanceId,
      this.config.leaseMs,
      ctx.runId,
    );
    return new Map([...claims].map(([id, claim]) => [id, { claim, at }]));
  }

  /** Puts rows claimed ahead and never built back as they were, if still theirs (a run that failed mid-way). */
  async releaseAhead(claims: Map<number, AheadClaim>): Promise<void> {
    for (const [id, { claim }] of claims) {
      const lease = { id, owner: this.config.instanceId, generation: claim.generation };
      try {
        await this.rows.releaseClaim(lease, claim.before);
      } catch (e) {
        // e.g. a dead run's `refreshing` row: it stays leased until its lease expires and is taken over
        this.logger.warn(`releasing persisted_info ${id} claimed ahead failed: ${errorMessage(e)}`);
      }
    }
  }

  /**
   * Takes the row. A live lease of another refresher (a run still going during a rebalance) is waited out,
   * bounded by one lease period, so a redelivered request neither runs twice nor gives up too early.
   */
  private async claim(info: PersistedInfoEntity, keepActive: boolean, ctx: RunContext) {
    const owner = this.config.instanceId;
    const deadline = Date.now() + this.config.leaseMs + 5_000;
    for (;;) {
      const claim = await this.rows.claimForRefresh(
        info.id,
        owner,
        this.config.leaseMs,
        ctx.runId,
        keepActive,
      );
      if (claim) return claim;
      const lease = await this.rows.leaseOf(info.id);
      const foreignLive = lease?.owner && lease.owner !== owner && (lease.expiresInMs ?? 0) > 0;
      if (!foreignLive || Date.now() > deadline) return null;
      this.logger.log(`persisted_info ${info.id} is leased by ${lease.owner}; waiting for it`);
      await sleep(Math.min(1000, Math.max(50, lease.expiresInMs ?? 0)));
    }
  }

  classify(error: unknown, ctx: Pick<RunContext, 'driver'>): Classified {
    const message = errorMessage(error).slice(0, MAX_MESSAGE);
    const tagged = error as { errorClass?: unknown; code?: unknown };
    if (typeof tagged?.errorClass === 'string' && ErrorClass.safeParse(tagged.errorClass).success) {
      return {
        errorClass: tagged.errorClass as ErrorClass,
        code: typeof tagged.code === 'string' ? tagged.code : ErrorCode.SourceQuery,
        message,
      };
    }
    if (DomainError.is(error, ErrorCode.UnsafeSql))
      return { errorClass: 'unsafe-sql', code: error.code, message };
    if (error instanceof DomainError) return { errorClass: 'invalid', code: error.code, message };
    try {
      const c = this.api.classifySourceError(error, ctx.driver.engine);
      return { errorClass: c.errorClass, code: c.code, message: errorMessage(c).slice(0, MAX_MESSAGE) };
    } catch {
      return { errorClass: 'internal', code: ErrorCode.Internal, message };
    }
  }

  private common(card: CardEntity, ctx: RunContext, started: Date, ended: Date, attempts: number) {
    return {
      runId: ctx.runId,
      databaseId: ctx.databaseId,
      cardId: card.id,
      trigger: ctx.trigger,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: Math.max(0, ended.getTime() - started.getTime()),
      attempts,
    };
  }

  /** Not built because a model it reads did not build in this run: skipped, the row and its table as they were. */
  upstreamFailed(
    info: PersistedInfoEntity,
    card: CardEntity,
    ctx: RunContext,
    upstreamCardId: number,
  ): ModelOutcome {
    return this.failed(
      info,
      card,
      ctx,
      new Date(),
      0,
      'skipped',
      {
        errorClass: 'invalid',
        code: ErrorCode.UpstreamFailed,
        message: `model ${card.id} was not built: model ${upstreamCardId}, which it reads ({{#${upstreamCardId}}}), did not refresh in this run`,
      },
      { upstreamCardId },
    );
  }

  private failed(
    info: PersistedInfoEntity,
    card: CardEntity,
    ctx: RunContext,
    started: Date,
    attempts: number,
    outcome: 'error' | 'skipped',
    c: Classified,
    extra: Pick<RefreshFailed, 'upstreamCardId'> = {},
  ): ModelOutcome {
    const ended = new Date();
    this.record(ctx, outcome, started, ended, c.errorClass);
    return {
      kind: outcome,
      event: composeEvent('RefreshFailed', {
        ...this.common(card, ctx, started, ended, attempts),
        persistedInfoId: info.id,
        outcome,
        errorClass: c.errorClass,
        errorCode: c.code.slice(0, 500),
        message: c.message,
        ...extra,
      }),
    };
  }

  private record(
    ctx: RunContext,
    outcome: string,
    started: Date,
    ended: Date,
    errorClass?: ErrorClass,
  ): void {
    const attrs = { 'db.id': ctx.databaseId, outcome, engine: ctx.driver.engine };
    Metrics.refreshDuration().record((ended.getTime() - started.getTime()) / 1000, attrs);
    Metrics.refreshes().add(1, {
      outcome,
      'db.id': ctx.databaseId,
      ...(errorClass ? { 'error.class': errorClass } : {}),
    });
  }
}
