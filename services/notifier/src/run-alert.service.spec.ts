import {
  AlertRepository,
  AlertRunEntity,
  AlertRunResultEntity,
  AlertStateEntity,
  CardRepository,
  NewNotification,
  NotificationOutboxRepository,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { EntityManager } from 'typeorm';
import { loadNotifierConfig } from './config';
import { RunAlertService } from './run-alert.service';

const m = {} as EntityManager;
const RUN = '11111111-1111-4111-8111-111111111111';
const endedAt = new Date('2026-11-29T10:00:00Z');

function setup(opts: { recoveryEmails?: boolean } = {}) {
  const runs = new Map<string, AlertRunEntity>();
  const results: AlertRunResultEntity[] = [];
  const states = new Map<number, AlertStateEntity>();
  const queued: NewNotification[] = [];
  const alerts = {
    findRun: async (id: string) => runs.get(id) ?? null,
    lockDatabaseAlerts: async () => undefined,
    findResults: async (id: string) => results.filter((r) => r.runId === id),
    findStates: async (cardIds: number[]) =>
      cardIds.flatMap((id) => (states.has(id) ? [states.get(id)!] : [])),
    saveState: async (s: AlertStateEntity) => void states.set(s.cardId, { ...s, updatedAt: new Date() }),
    markRunDecided: async (id: string) => void (runs.get(id)!.decidedAt = new Date()),
    insertRun: async (r: AlertRunEntity) =>
      void runs.set(r.runId, { ...r, decidedAt: null, completedAt: new Date() }),
  } as unknown as AlertRepository;
  const outbox = {
    enqueue: async (n: NewNotification) => {
      if (queued.some((q) => q.dedupeKey === n.dedupeKey)) return false;
      queued.push(n);
      return true;
    },
  } as unknown as NotificationOutboxRepository;
  const databases = {
    findById: async (id: number) => (id === 1 ? { id: 1, name: 'Sales DB' } : null),
  } as unknown as SourceDatabaseRepository;
  const names: Record<number, string> = { 11: 'Orders', 12: 'Revenue', 13: 'Revenue by day', 14: 'KPIs' };
  const cards = {
    findById: async (id: number) => (names[id] ? { id, name: names[id] } : null),
  } as unknown as CardRepository;
  const config = loadNotifierConfig({ RECOVERY_EMAILS: String(opts.recoveryEmails ?? true) });
  const service = new RunAlertService(alerts, outbox, databases, cards, config);

  const addRun = (errorDetails: { cardId: number; error: string }[], success = 0, skipped = 0) =>
    runs.set(RUN, {
      runId: RUN,
      databaseId: 1,
      cardId: null,
      trigger: 'scheduled',
      startedAt: endedAt,
      endedAt,
      success,
      error: errorDetails.length,
      skipped,
      errorDetails: errorDetails.map((d) => ({ ...d, persistedInfoId: d.cardId })),
      completedAt: new Date(),
      decidedAt: null,
    });
  const addResult = (
    cardId: number,
    outcome: 'error' | 'success' | 'skipped',
    extra: Partial<AlertRunResultEntity> = {},
  ) =>
    results.push({
      runId: RUN,
      cardId,
      outcome,
      databaseId: 1,
      persistedInfoId: cardId,
      trigger: 'scheduled',
      errorClass: outcome === 'error' ? 'query' : null,
      errorCode: null,
      message: outcome === 'error' ? `error of ${cardId}` : null,
      endedAt,
      upstreamCardId: null,
      recovered: false,
      createdAt: new Date(),
      ...extra,
    });
  return { service, runs, states, queued, addRun, addResult };
}

describe('RunAlertService', () => {
  it('waits until the completion and every listed failure are in, then queues one email naming all', async () => {
    const t = setup();
    t.addResult(11, 'error');
    expect(await t.service.tryDecide(RUN, m)).toBe(0); // no completion yet
    t.addRun([
      { cardId: 11, error: 'error of 11' },
      { cardId: 12, error: 'error of 12' },
    ]);
    expect(await t.service.tryDecide(RUN, m)).toBe(0); // 12 still missing
    expect(t.runs.get(RUN)!.decidedAt).toBeNull();
    t.addResult(12, 'error', { errorClass: 'permission' });
    expect(await t.service.tryDecide(RUN, m)).toBe(1);
    expect(t.queued).toHaveLength(1);
    expect(t.queued[0]).toMatchObject({
      dedupeKey: `${RUN}:failure`,
      kind: 'failure',
      subject: '[Model Persistence] Model cache refresh failed for Sales DB',
    });
    expect(t.queued[0].textBody).toContain('Model: Orders (#11)');
    expect(t.queued[0].textBody).toContain('Model: Revenue (#12)');
    expect(t.states.get(12)).toMatchObject({
      announced: true,
      announcedErrorClass: 'permission',
      announcedRunId: RUN,
    });
    expect(t.runs.get(RUN)!.decidedAt).not.toBeNull();
    // decided once: a second call does nothing
    expect(await t.service.tryDecide(RUN, m)).toBe(0);
  });

  it('waits for the skipped models too, and lists those not built because of a failure under it', async () => {
    const t = setup();
    // 12 reads 11, 13 reads 12, 14 was skipped on a lock: 12 and 13 are grouped under 11, 14 nowhere
    t.addRun([{ cardId: 11, error: 'error of 11' }], 0, 3);
    t.addResult(11, 'error');
    t.addResult(12, 'skipped', { errorCode: 'UPSTREAM_FAILED', upstreamCardId: 11 });
    t.addResult(13, 'skipped', { errorCode: 'UPSTREAM_FAILED', upstreamCardId: 12 });
    expect(await t.service.tryDecide(RUN, m)).toBe(0); // 14's skip not in yet
    t.addResult(14, 'skipped', { errorCode: 'SOURCE_LOCK' });
    expect(await t.service.tryDecide(RUN, m)).toBe(1);
    expect(t.queued[0].textBody).toContain('Model: Orders (#11)\n  Error: error of 11');
    expect(t.queued[0].textBody).toContain('  Not built because of it: Revenue (#12), Revenue by day (#13)');
    expect(t.queued[0].htmlBody).toContain('Not built because of it: Revenue (#12), Revenue by day (#13)');
    expect(t.queued[0].textBody).not.toContain('KPIs');
    expect(t.queued[0].textBody).not.toContain('Model: Revenue (#12)');
    expect(t.states.has(12)).toBe(false); // a skip is never a failure of its own
  });

  it('waits for the successes the completion counts', async () => {
    const t = setup();
    t.addRun([], 1);
    expect(await t.service.tryDecide(RUN, m)).toBe(0);
    t.addResult(11, 'success');
    expect(await t.service.tryDecide(RUN, m)).toBe(0); // nothing to say, but decided
    expect(t.runs.get(RUN)!.decidedAt).not.toBeNull();
  });

  it('when forced, announces listed failures whose events never came, from the completion', async () => {
    const t = setup();
    t.addRun([{ cardId: 99, error: 'lost in transit' }]);
    expect(await t.service.tryDecide(RUN, m, true)).toBe(1);
    expect(t.queued[0].textBody).toContain('Model: Model #99 (#99)');
    expect(t.queued[0].textBody).toContain('Error: lost in transit');
    expect(t.queued[0].textBody).toContain('Error class: unknown');
  });

  it('queues no failure email when every failure is a repeat inside the window', async () => {
    const t = setup();
    t.states.set(11, {
      cardId: 11,
      databaseId: 1,
      announced: true,
      announcedAt: new Date(endedAt.getTime() - 60_000),
      announcedErrorClass: 'query',
      announcedRunId: 'x',
      lastSuccessAt: null,
      updatedAt: new Date(),
    });
    t.addRun([{ cardId: 11, error: 'error of 11' }]);
    t.addResult(11, 'error');
    expect(await t.service.tryDecide(RUN, m)).toBe(0);
    expect(t.queued).toEqual([]);
    expect(t.runs.get(RUN)!.decidedAt).not.toBeNull();
  });

  it('queues a recovery email for recovered models unless recovery emails are off', async () => {
    for (const recoveryEmails of [true, false]) {
      const t = setup({ recoveryEmails });
      t.addRun([], 1);
      t.addResult(11, 'success', { recovered: true });
      expect(await t.service.tryDecide(RUN, m)).toBe(recoveryEmails ? 1 : 0);
      expect(t.queued.map((q) => q.dedupeKey)).toEqual(recoveryEmails ? [`${RUN}:recovery`] : []);
    }
  });

  it('decides a run that never completed from the results that arrived', async () => {
    const t = setup();
    t.addResult(11, 'error');
    t.addResult(12, 'success');
    expect(await t.service.decideOrphan(RUN, m)).toBe(1);
    expect(t.runs.get(RUN)).toMatchObject({ error: 1, success: 1, databaseId: 1 });
    expect(t.queued[0].textBody).toContain('Model: Orders (#11)');
    expect(await t.service.decideOrphan(RUN, m)).toBe(0);
  });

  it('rejects events about unknown databases with UNKNOWN_DATABASE (dead-lettered by the processor)', async () => {
    const t = setup();
    const error = await t.service.requireDatabase(5, m).catch((e: unknown) => e);
    expect(DomainError.is(error, ErrorCode.UnknownDatabase)).toBe(true);
    expect((error as Error).message).toBe('unknown database 5');
  });
});

describe('RunAlertService trace context', () => {
  let provider: NodeTracerProvider;
  beforeAll(() => {
    provider = new NodeTracerProvider();
    provider.register();
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it("stores the deciding event's trace context with the email, and none outside a trace", async () => {
    const t = setup();
    t.addResult(11, 'error');
    t.addRun([{ cardId: 11, error: 'error of 11' }]);
    // the consumer span of the event that completed the decision
    const ids = await trace.getTracer('test').startActiveSpan('process refresh.runs', async (span) => {
      await t.service.tryDecide(RUN, m);
      span.end();
      return span.spanContext();
    });
    expect(t.queued[0].traceContext).toEqual({ traceparent: `00-${ids.traceId}-${ids.spanId}-01` });

    const u = setup();
    u.addResult(11, 'error');
    u.addRun([{ cardId: 11, error: 'error of 11' }]);
    await u.service.tryDecide(RUN, m, true); // the sender's sweep: no span
    expect(u.queued[0].traceContext).toBeNull();
  });
});
