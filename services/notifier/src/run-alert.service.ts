import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  AlertRepository,
  AlertRunResultEntity,
  AlertStateEntity,
  CardRepository,
  NotificationOutboxRepository,
  SourceDatabaseEntity,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { captureTraceContext } from '@model-persistence/telemetry';
import { EntityManager } from 'typeorm';
import {
  afterAnnouncement,
  afterSilentRepeat,
  AlertStateView,
  decideFailure,
  UNKNOWN_ERROR_CLASS,
} from './alert-policy';
import { APP_CONFIG } from '@model-persistence/config';
import { NotifierSettings } from './config';
import {
  EmailContext,
  FailedModelView,
  RecoveredModelView,
  renderFailureEmail,
  renderRecoveryEmail,
} from './email-templates';

export function failureKey(runId: string): string {
  return `${runId}:failure`;
}
export function recoveryKey(runId: string, cardId?: number): string {
  return cardId === undefined ? `${runId}:recovery` : `${runId}:recovery:${cardId}`;
}

function view(s: AlertStateEntity | undefined): AlertStateView | null {
  return s
    ? {
        announced: s.announced,
        announcedAt: s.announcedAt,
        announcedErrorClass: s.announcedErrorClass,
        announcedRunId: s.announcedRunId,
        lastSuccessAt: s.lastSuccessAt,
      }
    : null;
}

/**
 * The models skipped with UPSTREAM_FAILED, grouped under the failed model at the root of their chain (a model
 * skipped because another skipped model did not build is listed under that one's root).
 */
export function notBuiltBecauseOf(
  skipped: Pick<AlertRunResultEntity, 'cardId' | 'upstreamCardId'>[],
): Map<number, number[]> {
  const upstreamOf = new Map(skipped.map((s) => [s.cardId, s.upstreamCardId]));
  const groups = new Map<number, number[]>();
  for (const s of skipped) {
    let root = s.upstreamCardId;
    for (let hops = 0; root !== null && upstreamOf.get(root) != null && hops < 100; hops++)
      root = upstreamOf.get(root) ?? null;
    if (root === null) continue;
    groups.set(root, [...(groups.get(root) ?? []), s.cardId]);
  }
  return groups;
}

/**
 * Turns a run's collected results into at most one failure email and one recovery email, inside the
 * caller's transaction (which also holds the run lock and the inbox record).
 */
@Injectable()
export class RunAlertService {
  private readonly logger = new Logger(RunAlertService.name);

  constructor(
    private readonly alerts: AlertRepository,
    private readonly outbox: NotificationOutboxRepository,
    private readonly databases: SourceDatabaseRepository,
    private readonly cards: CardRepository,
    @Inject(APP_CONFIG) private readonly settings: NotifierSettings,
  ) {}

  /** Events about databases we do not know are bad input: dead-lettered with this reason. */
  async requireDatabase(databaseId: number, m: EntityManager): Promise<SourceDatabaseEntity> {
    const db = await this.databases.findById(databaseId, m);
    if (!db) {
      throw new DomainError(ErrorCode.UnknownDatabase, `unknown database ${databaseId}`, { databaseId });
    }
    return db;
  }

  /**
   * Decides the run once it is complete and every model result it lists has arrived (or at once when
   * `force`, after the grace period). Returns how many emails were queued.
   */
  async tryDecide(runId: string, m: EntityManager, force = false): Promise<number> {
    const run = await this.alerts.findRun(runId, m);
    if (!run || run.decidedAt) return 0;
    const results = await this.alerts.findResults(runId, m);
    const failures = results.filter((r) => r.outcome === 'error');
    const successes = results.filter((r) => r.outcome === 'success');
    const skipped = results.filter((r) => r.outcome === 'skipped');
    const failed = new Set(failures.map((f) => f.cardId));
    const complete =
      run.errorDetails.every((d) => failed.has(d.cardId)) &&
      failures.length >= run.error &&
      successes.length >= run.success &&
      skipped.length >= run.skipped;
    if (!complete && !force) return 0;

    const facts: Pick<AlertRunResultEntity, 'cardId' | 'errorClass' | 'message' | 'endedAt' | 'trigger'>[] = [
      ...failures,
    ];
    for (const d of run.errorDetails) {
      if (failed.has(d.cardId)) continue;
      failed.add(d.cardId);
      facts.push({
        cardId: d.cardId,
        errorClass: UNKNOWN_ERROR_CLASS,
        message: d.error,
        endedAt: run.endedAt,
        trigger: run.trigger,
      });
    }

    // runs of one database are decided one at a time (the consumer and the grace sweep may decide two at once):
    // a model's state row does not exist before its first announcement, so a row lock alone would let both
    // runs see "first failure"
    await this.alerts.lockDatabaseAlerts(run.databaseId, m);
    const states = new Map((await this.alerts.findStates([...failed], m)).map((s) => [s.cardId, s] as const));
    const announce: typeof facts = [];
    for (const f of facts) {
      const state = view(states.get(f.cardId));
      const fact = { runId, errorClass: f.errorClass ?? UNKNOWN_ERROR_CLASS, endedAt: f.endedAt };
      const decision = decideFailure(state, fact, this.settings.alerts.repeatWindowMs);
      if (!decision.announce) {
        const learnt = state && afterSilentRepeat(state, fact);
        if (learnt)
          await this.alerts.saveState({ cardId: f.cardId, databaseId: run.databaseId, ...learnt }, m);
        this.logger.log(
          `run ${runId}: model ${f.cardId} still failing (${fact.errorClass}), not re-announced`,
        );
        continue;
      }
      announce.push(f);
      await this.alerts.saveState(
        { cardId: f.cardId, databaseId: run.databaseId, ...afterAnnouncement(state, fact) },
        m,
      );
    }

    let queued = 0;
    const recovered = successes.filter((s) => s.recovered);
    if (announce.length > 0 || (recovered.length > 0 && this.settings.alerts.recoveryEmails)) {
      const ctx = await this.context(run.databaseId, m);
      const notBuilt = notBuiltBecauseOf(skipped);
      const names = await this.cardNames(
        [...announce, ...recovered].map((x) => x.cardId).concat([...notBuilt.values()].flat()),
        m,
      );
      if (announce.length > 0) {
        const name = (cardId: number) => names.get(cardId) ?? `Model #${cardId}`;
        const models: FailedModelView[] = announce.map((f) => ({
          cardId: f.cardId,
          name: name(f.cardId),
          error: f.message ?? '(no message)',
          errorClass: f.errorClass ?? UNKNOWN_ERROR_CLASS,
          endedAt: f.endedAt,
          trigger: f.trigger,
          notBuilt: (notBuilt.get(f.cardId) ?? []).map((cardId) => ({ cardId, name: name(cardId) })),
        }));
        const email = renderFailureEmail(ctx, models);
        if (await this.enqueue(failureKey(runId), 'failure', run.databaseId, runId, email, m)) queued++;
      }
      if (recovered.length > 0 && this.settings.alerts.recoveryEmails) {
        const email = renderRecoveryEmail(ctx, this.recoveredViews(recovered, names));
        if (await this.enqueue(recoveryKey(runId), 'recovery', run.databaseId, runId, email, m)) queued++;
      }
    }
    await this.alerts.markRunDecided(runId, m);
    return queued;
  }

  /**
   * A run whose completion never came (its refresher died): records a completion from the results that
   * did arrive and decides it. A completion arriving later finds the run decided and changes nothing.
   */
  async decideOrphan(runId: string, m: EntityManager): Promise<number> {
    if (await this.alerts.findRun(runId, m)) return 0;
    const results = await this.alerts.findResults(runId, m);
    const failures = results.filter((r) => r.outcome === 'error');
    const skipped = results.filter((r) => r.outcome === 'skipped').length;
    if (failures.length === 0) return 0;
    const times = results.map((r) => r.endedAt.getTime());
    await this.alerts.insertRun(
      {
        runId,
        databaseId: failures[0].databaseId,
        cardId: null,
        trigger: failures[0].trigger,
        startedAt: new Date(Math.min(...times)),
        endedAt: new Date(Math.max(...times)),
        success: results.length - failures.length - skipped,
        error: failures.length,
        skipped,
        errorDetails: [],
      },
      m,
    );
    return this.tryDecide(runId, m, true);
  }

  /** A recovery seen after its run was decided (its events came late): its own email. */
  async queueLateRecovery(result: AlertRunResultEntity, m: EntityManager): Promise<number> {
    if (!this.settings.alerts.recoveryEmails) return 0;
    const ctx = await this.context(result.databaseId, m);
    const names = await this.cardNames([result.cardId], m);
    const email = renderRecoveryEmail(ctx, this.recoveredViews([result], names));
    const key = recoveryKey(result.runId, result.cardId);
    return (await this.enqueue(key, 'recovery', result.databaseId, result.runId, email, m)) ? 1 : 0;
  }

  private recoveredViews(rows: AlertRunResultEntity[], names: Map<number, string>): RecoveredModelView[] {
    return rows.map((s) => ({
      cardId: s.cardId,
      name: names.get(s.cardId) ?? `Model #${s.cardId}`,
      endedAt: s.endedAt,
      trigger: s.trigger,
    }));
  }

  private async enqueue(
    dedupeKey: string,
    kind: 'failure' | 'recovery',
    databaseId: number,
    runId: string,
    email: { subject: string; text: string; html: string },
    m: EntityManager,
  ): Promise<boolean> {
    const queued = await this.outbox.enqueue(
      {
        dedupeKey,
        kind,
        databaseId,
        runId,
        subject: email.subject,
        textBody: email.text,
        htmlBody: email.html,
        // The consumer span of the event that completed the decision (null in the sender's sweeps): the
        // SMTP send continues that trace, which is the refresh request's.
        traceContext: captureTraceContext(),
      },
      m,
    );
    if (queued) this.logger.log(`queued ${kind} email ${dedupeKey}`);
    return queued;
  }

  private async context(databaseId: number, m: EntityManager): Promise<EmailContext> {
    const db = await this.databases.findById(databaseId, m);
    const { appName, baseUrl, timeZone } = this.settings.mail;
    return { appName, baseUrl, timeZone, databaseName: db?.name ?? `Database #${databaseId}` };
  }

  private async cardNames(cardIds: number[], m: EntityManager): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const id of new Set(cardIds)) {
      const card = await this.cards.findById(id, m);
      if (card) out.set(id, card.name);
    }
    return out;
  }
}
