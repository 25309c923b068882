import { createEvent, DomainEvent, RefreshRequested } from '@model-persistence/contracts';
import { CardEntity, PersistedInfoEntity, SourceDatabaseEntity } from '@model-persistence/database';
import { ModelOutcome, RunContext } from './model-refresh.service';
import { CLAIM_AHEAD, RefreshRunUseCase } from './refresh-run.use-case';
import { SourceDbPort } from '@model-persistence/source-db';

/* Orchestration of runs with in-memory stand-ins for the repositories, the engine and the broker. */

const db = {
  id: 3,
  engine: 'postgres',
  persistModelsEnabled: true,
  statementTimeoutMs: 1000,
} as SourceDatabaseEntity;
const model = (id: number, extra: Partial<CardEntity> = {}) =>
  ({
    id,
    name: `m${id}`,
    sql: 'select 1',
    databaseId: 3,
    type: 'model',
    archived: false,
    ...extra,
  }) as CardEntity;
const row = (id: number, cardId: number, extra: Partial<PersistedInfoEntity> = {}) =>
  ({
    id,
    cardId,
    databaseId: 3,
    schemaName: 'mp_cache_x_3',
    tableName: `model_${cardId}_m`,
    state: 'persisted',
    active: true,
    lastRunId: null,
    error: null,
    refreshBegin: new Date('2026-01-01T00:00:00Z'),
    refreshEnd: new Date('2026-01-01T00:00:01Z'),
    ...extra,
  }) as PersistedInfoEntity;

type RefreshFake = (
  info: PersistedInfoEntity,
  card: CardEntity,
  ctx: { runId: string },
  onSourceDone: () => void,
) => Promise<ModelOutcome>;

const succeeded = (info: PersistedInfoEntity, card: CardEntity, runId: string): ModelOutcome => ({
  kind: 'success',
  event: createEvent('RefreshSucceeded', {
    runId,
    databaseId: 3,
    cardId: card.id,
    persistedInfoId: info.id,
    trigger: 'manual',
    startedAt: new Date().toISOString(),
    endedAt: new Date().toISOString(),
    durationMs: 0,
    attempts: 1,
    schemaName: info.schemaName,
    tableName: info.tableName,
    rows: 1,
  }),
});

function setup(opts: {
  cards: CardEntity[];
  rows: PersistedInfoEntity[];
  processed?: string[];
  refresh?: RefreshFake;
  /** what happened, in order (publish sent / acknowledged, recovery) */
  log?: string[];
  /** RefreshRunStarted is acknowledged after this long */
  slowStartMs?: number;
  /** change detection on: these cards' inputs are unchanged (their rows are marked unless in markFails) */
  unchanged?: number[];
  markFails?: number[];
  /** change detection on without unchanged models: the signature each build stores */
  signature?: string;
  /** the run's completion row is won (default) or already another refresher's */
  completionWon?: boolean;
  /** a publish of these event types (together) fails */
  failPublishOf?: string;
  /** claimAhead leaves these cards out */
  notClaimable?: number[];
  /** crash recovery takes this long (its end is logged) */
  slowRecoverMs?: number;
}) {
  const marked: number[] = [];
  const checked: number[][] = [];
  const seenSignatures: (string | null | undefined)[] = [];
  const claimedAhead: number[][] = [];
  const builtWithClaim: number[] = [];
  const releasedAhead: number[] = [];
  const published: DomainEvent[] = [];
  const refreshed: number[] = [];
  const inbox = new Set(opts.processed ?? []);
  const api = { modelSlug: (n: string) => n, cacheTableName: (_e: string, id: number) => `model_${id}_m` };
  const useCase = new RefreshRunUseCase(
    { inboxConsumer: 'refresher', cache: { schemaPrefix: 'mp' }, instanceId: 'me', leaseMs: 30_000 },
    api as unknown as SourceDbPort,
    {
      has: async (_c: string, id: string) => inbox.has(id),
      record: async (_c: string, id: string) => inbox.add(id),
    } as never,
    { findById: async (id: number) => (id === db.id ? db : null) } as never,
    {
      findById: async (id: number) => opts.cards.find((c) => c.id === id) ?? null,
      findModelsOfDatabase: async () => {
        opts.log?.push('read cards');
        return opts.cards.filter((c) => c.type === 'model' && !c.archived);
      },
    } as never,
    {
      findModelsWithoutRow: async () => {
        opts.log?.push('read new models');
        return [];
      },
      markUnchanged: async (marks: { id: number }[]) => {
        const ok = marks.map((m) => m.id).filter((id) => !opts.markFails?.includes(id));
        marked.push(...ok);
        return new Set(ok);
      },
      findRefreshCandidates: async () => {
        opts.log?.push('read candidates');
        return opts.rows;
      },
      findByCardId: async (id: number) => opts.rows.find((r) => r.cardId === id) ?? null,
      findById: async (id: number) => opts.rows.find((r) => r.id === id) ?? null,
      createIfMissing: async () => {
        throw new Error('not expected');
      },
    } as never,
    { getBoolean: async () => true } as never,
    { forDatabase: () => ({ engine: 'postgres' }), schemaName: async () => 'mp_cache_x_3' } as never,
    {
      // signatures themselves: test/change-detection.int-spec.ts against the real servers
      detecting: () => opts.unchanged !== undefined || opts.signature !== undefined,
      checkInputs: async () => {
        opts.log?.push('read signature');
        await new Promise((r) => setTimeout(r, 10));
        opts.log?.push('signature read');
        return { signature: opts.signature ?? 'sig', unchanged: false };
      },
      claimAhead: async (infos: PersistedInfoEntity[]) => {
        claimedAhead.push(infos.map((i) => i.cardId!));
        return new Map(
          infos
            .filter((i) => !opts.notClaimable?.includes(i.cardId!))
            .map((i) => [i.id, { claim: { generation: i.id }, at: Date.now() }]),
        );
      },
      releaseAhead: async (claims: Map<number, unknown>) => void releasedAhead.push(...claims.keys()),
      checkAllInputs: async (ms: { card: CardEntity }[]) => {
        checked.push(ms.map(({ card }) => card.id));
        return ms.map(({ card }) => ({
          signature: `sig${card.id}`,
          buildHash: 'hash',
          unchanged: !!opts.unchanged?.includes(card.id),
        }));
      },
      unchanged: (info: PersistedInfoEntity, card: CardEntity, ctx: { runId: string }): ModelOutcome => {
        const o = succeeded(info, card, ctx.runId);
        if (o.kind !== 'success') throw new Error('not expected');
        return { kind: 'success', event: { ...o.event, rows: null, outcome: 'unchanged' } };
      },
      refresh: async (
        info: PersistedInfoEntity,
        card: CardEntity,
        ctx: { runId: string; signatures?: Map<number, string | null> },
        onSourceDone: () => void,
        claimed?: unknown,
      ): Promise<ModelOutcome> => {
        refreshed.push(card.id);
        if (claimed) builtWithClaim.push(card.id);
        seenSignatures.push(ctx.signatures?.get(info.id));
        if (opts.refresh) return opts.refresh(info, card, ctx, onSourceDone);
        // an individual run's completion claim goes with the outcome write (one statement in the real service)
        const completion = (ctx as RunContext).completion;
        if (completion) opts.log?.push('outcome written + completion claimed');
        return {
          ...(completion ? { completionWon: opts.completionWon ?? true } : {}),
          kind: 'success',
          event: createEvent('RefreshSucceeded', {
            runId: ctx.runId,
            databaseId: 3,
            cardId: card.id,
            persistedInfoId: info.id,
            trigger: 'manual',
            startedAt: new Date().toISOString(),
            endedAt: new Date().toISOString(),
            durationMs: 0,
            attempts: 1,
            schemaName: info.schemaName,
            tableName: info.tableName,
            rows: 1,
          }),
        };
      },
    } as never,
    {
      recoverDatabase: async () => {
        opts.log?.push('recover');
        if (opts.slowRecoverMs) {
          await new Promise((r) => setTimeout(r, opts.slowRecoverMs));
          opts.log?.push('recovered');
        }
      },
    } as never,
    {
      publish: async (o: { event: DomainEvent }) => {
        published.push(o.event);
        opts.log?.push(`send ${o.event.type}`);
        if (o.event.type === 'RefreshRunStarted' && opts.slowStartMs)
          await new Promise((r) => setTimeout(r, opts.slowStartMs));
        opts.log?.push(`acked ${o.event.type}`);
      },
      publishAll: async (os: { event: DomainEvent }[]) => {
        const types = os.map((o) => o.event.type).join('+');
        opts.log?.push(`send ${types}`);
        if (types === opts.failPublishOf) throw new Error('broker went away');
        published.push(...os.map((o) => o.event));
        opts.log?.push(`acked ${types}`);
      },
    } as never,
    {
      claim: async () => {
        opts.log?.push('claim completion');
        return opts.completionWon ?? true;
      },
      markPublished: async () => void opts.log?.push('mark published'),
      markPublishedAndProcessed: async (_run: string, _owner: string, i: { eventId: string }) => {
        opts.log?.push('mark published + inbox');
        inbox.add(i.eventId);
      },
      release: async () => void opts.log?.push('release completion'),
      purgeOlderThan: async () => 0,
    } as never,
    {
      // an individual run's reads, one statement in the real repository
      read: async (q: { databaseId: number; cardId: number; inbox: { eventId: string } }) => {
        opts.log?.push('read');
        return {
          processed: inbox.has(q.inbox.eventId),
          db: q.databaseId === db.id ? db : null,
          card: opts.cards.find((c) => c.id === q.cardId) ?? null,
          info: opts.rows.find((r) => r.cardId === q.cardId) ?? null,
          enabled: true,
        };
      },
    } as never,
  );
  return {
    useCase,
    published,
    refreshed,
    inbox,
    marked,
    checked,
    seenSignatures,
    claimedAhead,
    builtWithClaim,
    releasedAhead,
  };
}

const request = (body: Partial<RefreshRequested> = {}) =>
  createEvent('RefreshRequested', { databaseId: 3, trigger: 'manual', ...body });

describe('RefreshRunUseCase', () => {
  it('runs every candidate of a database and reports counts; records the request in the inbox', async () => {
    const t = setup({ cards: [model(1), model(2)], rows: [row(10, 1), row(11, 2)] });
    const req = request();
    await t.useCase.execute(req);
    expect(t.refreshed).toEqual([1, 2]);
    expect(t.published.map((e) => e.type)).toEqual([
      'RefreshRunStarted',
      'RefreshSucceeded',
      'RefreshSucceeded',
      'RefreshRunCompleted',
    ]);
    expect(t.published.at(-1)).toMatchObject({ success: 2, error: 0, skipped: 0 });
    expect(t.inbox.has(req.eventId)).toBe(true);
  });

  it('ignores a request already in the inbox (database and individual runs)', async () => {
    for (const req of [request(), request({ cardId: 1 })]) {
      const t = setup({ cards: [model(1)], rows: [row(10, 1)], processed: [req.eventId] });
      await t.useCase.execute(req);
      expect(t.refreshed).toEqual([]);
      expect(t.published).toEqual([]);
    }
  });

  it('does not refresh again the models an earlier delivery of the same run finished', async () => {
    const req = request();
    const t = setup({
      cards: [model(1), model(2), model(3)],
      rows: [
        row(10, 1, { lastRunId: req.eventId }),
        row(11, 2, { lastRunId: req.eventId, state: 'error', error: 'boom' }),
        row(12, 3),
      ],
    });
    await t.useCase.execute(req);
    expect(t.refreshed).toEqual([3]);
    const completed = t.published.at(-1);
    expect(completed).toMatchObject({ success: 2, error: 1, errorDetails: [{ cardId: 2, error: 'boom' }] });
    // the earlier success is announced again (at least once), from the row
    expect(t.published.filter((e) => e.type === 'RefreshSucceeded').map((e) => e.cardId)).toEqual([1, 3]);
  });

  it('rejects an individual run of an unknown card, an archived model or a question with a clear reason', async () => {
    const t = setup({ cards: [model(1, { archived: true }), model(2, { type: 'question' })], rows: [] });
    for (const cardId of [99, 1, 2]) await t.useCase.execute(request({ cardId }));
    const failed = t.published.filter((e) => e.type === 'RefreshFailed');
    expect(failed.map((e) => [e.errorCode, e.outcome])).toEqual([
      ['UNKNOWN_CARD', 'error'],
      ['ARCHIVED_MODEL', 'error'],
      ['NOT_A_MODEL', 'error'],
    ]);
    expect(t.published.filter((e) => e.type === 'RefreshRunCompleted').map((e) => e.error)).toEqual([
      1, 1, 1,
    ]);
    expect(t.refreshed).toEqual([]);
  });

  it('a database run of an unknown database completes empty, then fails so the request is dead-lettered', async () => {
    const t = setup({ cards: [], rows: [] });
    await expect(t.useCase.execute(request({ databaseId: 77 }))).rejects.toMatchObject({
      code: 'UNKNOWN_DATABASE',
    });
    expect(t.published.map((e) => e.type)).toEqual(['RefreshRunStarted', 'RefreshRunCompleted']);
  });
  it("starts the next model's build while a model's outcome is written, and reports outcomes in order", async () => {
    const log: string[] = [];
    let releaseFirst!: () => void;
    const firstWrite = new Promise<void>((r) => (releaseFirst = r));
    const t = setup({
      cards: [model(1), model(2)],
      rows: [row(10, 1), row(11, 2)],
      refresh: async (info, card, ctx, onSourceDone) => {
        log.push(`build ${card.id}`);
        onSourceDone();
        if (card.id === 1) await firstWrite; // model 1's outcome write is slow
        log.push(`written ${card.id}`);
        if (card.id === 2) releaseFirst();
        return succeeded(info, card, ctx.runId);
      },
    });
    await t.useCase.execute(request());
    expect(log).toEqual(['build 1', 'build 2', 'written 2', 'written 1']);
    expect(t.published.filter((e) => e.type === 'RefreshSucceeded').map((e) => e.cardId)).toEqual([1, 2]);
    expect(t.published.at(-1)).toMatchObject({ type: 'RefreshRunCompleted', success: 2 });
  });

  it('stops at a failed outcome write, waits for the model in flight, and does not complete the run', async () => {
    const log: string[] = [];
    const t = setup({
      cards: [model(1), model(2), model(3)],
      rows: [row(10, 1), row(11, 2), row(12, 3)],
      refresh: async (info, card, ctx, onSourceDone) => {
        log.push(`build ${card.id}`);
        onSourceDone();
        await new Promise((r) => setTimeout(r, card.id === 1 ? 5 : 20));
        if (card.id === 1) throw new Error('app database went away');
        log.push(`written ${card.id}`);
        return succeeded(info, card, ctx.runId);
      },
    });
    const req = request();
    await expect(t.useCase.execute(req)).rejects.toThrow('app database went away');
    // model 2 was in flight when model 1 failed: it finished before the error surfaced; model 3 never started
    expect(log).toEqual(['build 1', 'build 2', 'written 2']);
    expect(t.published.map((e) => e.type)).toEqual(['RefreshRunStarted']);
    expect(t.inbox.has(req.eventId)).toBe(false);
  });

  it('a database run checks and builds while RunStarted is in flight; outcomes wait for its ack; one write ends the run', async () => {
    const log: string[] = [];
    const t = setup({
      cards: [model(1), model(2)],
      rows: [row(10, 1), row(11, 2)],
      log,
      slowStartMs: 50,
      refresh: async (info, card, ctx) => {
        log.push(`build ${card.id}`);
        return succeeded(info, card, ctx.runId);
      },
    });
    const req = request();
    await t.useCase.execute(req);
    expect(log.filter((l) => !l.startsWith('read '))).toEqual([
      'recover',
      'send RefreshRunStarted',
      'build 1',
      'build 2',
      'acked RefreshRunStarted',
      'send RefreshSucceeded+RefreshSucceeded',
      'acked RefreshSucceeded+RefreshSucceeded',
      'claim completion',
      'send RefreshRunCompleted',
      'acked RefreshRunCompleted',
      'mark published + inbox',
    ]);
    expect(t.inbox.has(req.eventId)).toBe(true);
  });

  it('a database run reads its cards and new models while crash recovery runs; candidates only after all of it', async () => {
    const log: string[] = [];
    const t = setup({ cards: [model(1)], rows: [row(10, 1)], log, slowRecoverMs: 30 });
    await t.useCase.execute(request());
    expect(log.slice(0, 5)).toEqual([
      'recover',
      'read new models',
      'read cards',
      'recovered',
      'read candidates',
    ]);
  });

  it('a database run completed by another refresher still records its request in the inbox', async () => {
    const t = setup({ cards: [model(1)], rows: [row(10, 1)], completionWon: false });
    const req = request();
    await t.useCase.execute(req);
    expect(t.published.map((e) => e.type)).toEqual(['RefreshRunStarted', 'RefreshSucceeded']);
    expect(t.inbox.has(req.eventId)).toBe(true);
  });

  it('an individual run checks and builds while RunStarted is in flight; the outcome waits for its ack, recovery comes after', async () => {
    const log: string[] = [];
    const t = setup({
      cards: [model(1)],
      rows: [row(10, 1)],
      log,
      slowStartMs: 30,
      refresh: async (info, card, ctx) => {
        log.push('build');
        return succeeded(info, card, ctx.runId);
      },
    });
    await t.useCase.execute(request({ cardId: 1 }));
    expect(log).toEqual([
      'read', // the inbox check is one of the reads: RunStarted only for a request not processed yet
      'send RefreshRunStarted',
      'build',
      'claim completion',
      'acked RefreshRunStarted',
      'send RefreshSucceeded+RefreshRunCompleted',
      'acked RefreshSucceeded+RefreshRunCompleted',
      'mark published + inbox',
      'recover',
    ]);
    // a second single-model request right after does not run the crash recovery again
    log.length = 0;
    await t.useCase.execute(request({ cardId: 1 }));
    expect(log).not.toContain('recover');
    expect(log).toContain('acked RefreshSucceeded+RefreshRunCompleted');
  });

  it('an individual run ends in one publish (outcome + completion) and one write (completion mark + inbox); the completion claim is taken by the outcome write', async () => {
    const log: string[] = [];
    let asked: unknown;
    const t = setup({
      cards: [model(1)],
      rows: [row(10, 1)],
      log,
      refresh: async (info, card, ctx) => {
        log.push('build');
        asked = (ctx as RunContext).completion;
        await new Promise((r) => setTimeout(r, 5)); // the outcome write on the row, with the completion claim
        log.push('outcome written + completion claimed');
        return { ...succeeded(info, card, ctx.runId), completionWon: true };
      },
    });
    const req = request({ cardId: 1 });
    await t.useCase.execute(req);
    expect(asked).toEqual({ runId: req.eventId, databaseId: 3, owner: 'me', takeOverAfterMs: 60_000 });
    // no completion claim of its own: one app-database statement less before the answer
    expect(log.filter((l) => !l.includes('RefreshRunStarted'))).toEqual([
      'read',
      'build',
      'outcome written + completion claimed',
      'send RefreshSucceeded+RefreshRunCompleted',
      'acked RefreshSucceeded+RefreshRunCompleted',
      'mark published + inbox',
      'recover',
    ]);
    expect(t.published.at(-1)).toMatchObject({ type: 'RefreshRunCompleted', success: 1, error: 0 });
    expect(t.inbox.has(req.eventId)).toBe(true);

    // a failed model: its RefreshFailed and the completion listing it, together
    const failing = setup({
      cards: [model(2)],
      rows: [row(11, 2)],
      refresh: async (info, card, ctx) => ({
        kind: 'error',
        event: createEvent('RefreshFailed', {
          runId: ctx.runId,
          databaseId: 3,
          cardId: card.id,
          persistedInfoId: info.id,
          trigger: 'manual',
          startedAt: new Date().toISOString(),
          endedAt: new Date().toISOString(),
          durationMs: 0,
          attempts: 1,
          outcome: 'error',
          errorClass: 'query',
          errorCode: 'SOURCE_QUERY',
          message: 'boom',
        }),
      }),
    });
    await failing.useCase.execute(request({ cardId: 2 }));
    expect(failing.published.map((e) => e.type)).toEqual([
      'RefreshRunStarted',
      'RefreshFailed',
      'RefreshRunCompleted',
    ]);
    expect(failing.published.at(-1)).toMatchObject({
      error: 1,
      errorDetails: [{ cardId: 2, error: 'boom' }],
    });
  });

  it("an individual run reads its model's input signature while the row is claimed; the build gets it", async () => {
    const log: string[] = [];
    let got: unknown;
    const t = setup({
      cards: [model(1)],
      rows: [row(10, 1)],
      log,
      signature: 'sig-7',
      refresh: async (info, card, ctx) => {
        log.push('claim and build');
        got = await (ctx as RunContext).signatures?.get(info.id);
        return succeeded(info, card, ctx.runId);
      },
    });
    await t.useCase.execute(request({ cardId: 1 }));
    expect(log.filter((l) => /signature|build/.test(l))).toEqual([
      'read signature',
      'claim and build',
      'signature read',
    ]);
    expect(got).toBe('sig-7');
  });

  it('an individual run whose last publish fails gives its completion claim back and stays unprocessed', async () => {
    const log: string[] = [];
    const t = setup({
      cards: [model(1)],
      rows: [row(10, 1)],
      log,
      failPublishOf: 'RefreshSucceeded+RefreshRunCompleted',
    });
    const req = request({ cardId: 1 });
    await expect(t.useCase.execute(req)).rejects.toThrow('broker went away');
    expect(log.slice(-2)).toEqual(['send RefreshSucceeded+RefreshRunCompleted', 'release completion']);
    expect(t.inbox.has(req.eventId)).toBe(false);
    expect(t.published.map((e) => e.type)).toEqual(['RefreshRunStarted']);
  });

  it('an individual run whose outcome write fails has no completion claim to give back (one statement: neither was written)', async () => {
    const log: string[] = [];
    const t = setup({
      cards: [model(1)],
      rows: [row(10, 1)],
      log,
      refresh: async () => {
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('app database went away');
      },
    });
    const req = request({ cardId: 1 });
    await expect(t.useCase.execute(req)).rejects.toThrow('app database went away');
    expect(log.filter((l) => !l.includes('RefreshRunStarted'))).toEqual(['read']);
    expect(t.inbox.has(req.eventId)).toBe(false);
  });

  it('an individual run whose model ends without writing its row claims the completion on its own', async () => {
    const log: string[] = [];
    const t = setup({
      cards: [model(1)],
      rows: [row(10, 1)],
      log,
      // e.g. the row could not be claimed: a skip, nothing written on the row
      refresh: async (info, card, ctx) => ({
        kind: 'skipped',
        event: createEvent('RefreshFailed', {
          runId: ctx.runId,
          databaseId: 3,
          cardId: card.id,
          persistedInfoId: info.id,
          trigger: 'manual',
          startedAt: new Date().toISOString(),
          endedAt: new Date().toISOString(),
          durationMs: 0,
          attempts: 0,
          outcome: 'skipped',
          errorClass: 'invalid',
          errorCode: 'CONFLICT',
          message: 'another refresher holds it',
        }),
      }),
    });
    await t.useCase.execute(request({ cardId: 1 }));
    expect(log.filter((l) => !l.includes('RefreshRunStarted'))).toEqual([
      'read',
      'claim completion',
      'send RefreshFailed+RefreshRunCompleted',
      'acked RefreshFailed+RefreshRunCompleted',
      'mark published + inbox',
      'recover',
    ]);
  });

  it('an individual run another refresher completed announces its outcome only, and is recorded as processed', async () => {
    const log: string[] = [];
    const t = setup({ cards: [model(1)], rows: [row(10, 1)], log, completionWon: false });
    const req = request({ cardId: 1 });
    await t.useCase.execute(req);
    expect(t.published.map((e) => e.type)).toEqual(['RefreshRunStarted', 'RefreshSucceeded']);
    expect(log).not.toContain('mark published + inbox');
    expect(t.inbox.has(req.eventId)).toBe(true);
  });

  it('change detection: marks unchanged models in one write, rebuilds the changed ones and those reading them', async () => {
    const cards = [
      model(1),
      model(2, { sql: 'select * from {{#1}} a' }),
      model(3, { sql: 'select * from {{#4}} a' }),
      model(4),
    ];
    const rows = [row(10, 1), row(11, 2), row(12, 3), row(13, 4)];
    const t = setup({ cards, rows, unchanged: [1, 2, 3] });
    await t.useCase.execute(request({ trigger: 'scheduled' }));
    expect(t.marked).toEqual([10, 11]);
    expect([...t.refreshed].sort()).toEqual([3, 4]); // 3 reads 4, which changed
    const unchanged = t.published.flatMap((e) =>
      e.type === 'RefreshSucceeded' && e.outcome === 'unchanged' ? [e.cardId] : [],
    );
    expect(unchanged).toEqual([1, 2]);
    expect(t.published.at(-1)).toMatchObject({ success: 4, unchanged: 2, error: 0 });

    // manual requests rebuild unconditionally unless they ask ifChanged
    const manual = setup({ cards, rows, unchanged: [1, 2, 3] });
    await manual.useCase.execute(request());
    expect([...manual.refreshed].sort()).toEqual([1, 2, 3, 4]);
    const asked = setup({ cards, rows, unchanged: [1, 2, 3], markFails: [10] });
    await asked.useCase.execute(request({ ifChanged: true }));
    // row 10 could not be marked (claimed or turned off meanwhile): it takes the usual path
    expect([...asked.refreshed].sort()).toEqual([1, 3, 4]);
    expect(asked.published.at(-1)).toMatchObject({ success: 4, unchanged: 1 });
  });

  it("a database run that does not skip still reads its models' input signatures in one go, before the builds", async () => {
    const cards = [model(1), model(2, { sql: 'select * from {{#1}} a' }), model(3)];
    const rows = [row(10, 1), row(11, 2), row(12, 3)];
    // detection on, but a manual run: nothing is skipped, the signatures are stored by the builds
    const t = setup({ cards, rows, unchanged: [] });
    await t.useCase.execute(request());
    expect(t.refreshed).toEqual([1, 2, 3]);
    // one read for the models that read no other model; model 2 reads its own after model 1's build
    expect(t.checked).toEqual([[1, 3]]);
    expect(t.seenSignatures).toEqual(['sig1', undefined, 'sig3']);
    // detection off: nothing is read ahead
    const off = setup({ cards, rows });
    await off.useCase.execute(request());
    expect(off.checked).toEqual([]);
  });

  it('claims the models of a database run ahead, CLAIM_AHEAD at a time; a model left out claims on its own', async () => {
    const cards = Array.from({ length: CLAIM_AHEAD + 3 }, (_, i) => model(i + 1));
    cards[4] = model(5, { sql: 'select * from {{#1}} a' }); // reads model 1: claimed when its turn comes
    const req = request();
    const rows = cards.map((c) => row(100 + c.id, c.id));
    rows[1] = row(102, 2, { lastRunId: req.eventId }); // finished by an earlier delivery: not claimed again
    const t = setup({ cards, rows, notClaimable: [3] });
    await t.useCase.execute(req);
    const own = cards.map((c) => c.id).filter((id) => id !== 2 && id !== 5);
    expect(t.claimedAhead).toEqual([own.slice(0, CLAIM_AHEAD), own.slice(CLAIM_AHEAD)]);
    expect(t.refreshed).toEqual(cards.map((c) => c.id).filter((id) => id !== 2));
    // 3 was left out by the batch (its row refused it): its refresh claims it alone, as does 5's
    expect(t.builtWithClaim).toEqual(own.filter((id) => id !== 3));
    expect(t.published.at(-1)).toMatchObject({ success: CLAIM_AHEAD + 3, error: 0 });
  });

  it('a run that fails gives back the models it claimed ahead and did not build', async () => {
    const cards = [model(1), model(2), model(3)];
    const t = setup({
      cards,
      rows: [row(10, 1), row(11, 2), row(12, 3)],
      refresh: async (info, card, ctx, onSourceDone) => {
        onSourceDone();
        if (card.id === 1) throw new Error('app database went away');
        await new Promise((r) => setTimeout(r, 20));
        return succeeded(info, card, ctx.runId);
      },
    });
    await expect(t.useCase.execute(request())).rejects.toThrow('app database went away');
    // model 2 was in flight (its build owns its claim); model 3 never started
    expect(t.releasedAhead).toEqual([12]);
  });
});
