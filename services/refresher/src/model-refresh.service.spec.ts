import { CardEntity, PersistedInfoEntity, PersistedInfoRepository } from '@model-persistence/database';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { RefreshTableRequest, SourceDriver, SourceDbPort } from '@model-persistence/source-db';
import { buildRetryPolicy, refresherEnvSchema } from './config';
import { ModelSqlResolver } from './model-sql.resolver';
import { ModelRefreshService, RunContext } from './model-refresh.service';

/** A classified engine error, shaped like source-db's SourceError. */
class FakeSourceError extends DomainError {
  constructor(
    readonly errorClass: 'connection' | 'lock' | 'permission' | 'timeout' | 'query',
    code: ErrorCode,
  ) {
    super(code, `fake ${errorClass} failure`);
  }
}

const api: SourceDbPort = {
  openSourceDriver: () => {
    throw new Error('not used');
  },
  cacheSchemaName: (p, _u, id) => `${p}_cache_x_${id}`,
  cacheTableName: (_e, id) => `model_${id}_x`,
  modelSlug: (n) => n.slice(0, 10),
  assertSafeModelSql: (sql) => {
    if (/;\s*\S/.test(sql) || !/^\s*select/i.test(sql))
      throw new DomainError(ErrorCode.UnsafeSql, 'only a single read query');
    return sql.replace(/;\s*$/, '');
  },
  queryHash: (sql) => `h:${sql.length}`,
  classifySourceError: () =>
    Object.assign(new Error('unclassified'), { errorClass: 'query' as const, code: 'SOURCE_QUERY' }),
};

function fakeDriver(failures: Error[]) {
  const calls: RefreshTableRequest[] = [];
  const driver: SourceDriver = {
    engine: 'postgres',
    refreshTable: async (req) => {
      calls.push(req);
      const f = failures.shift();
      if (f) throw f;
      return {
        rows: 3,
        definition: { tableName: req.tableName, fieldDefinitions: [{ fieldName: 'a', baseType: 'int4' }] },
        ...(req.checkpointColumn ? { checkpoint: '7' } : {}),
      };
    },
    mergeTable: async () => ({ merged: false, fallback: 'no-table', message: 'none' }),
    tableExists: async () => true,
    dropTable: async () => undefined,
    dropOrphanTempTables: async () => 0,
    checkCanPersist: async () => ({ ok: true }),
    close: async () => undefined,
  };
  return { driver, calls };
}

/** In-memory stand-in for the lease/transition methods the service calls. */
function fakeRows(info: PersistedInfoEntity) {
  const log: string[] = [];
  let row = { ...info };
  const rows = {
    claimForRefresh: async () => {
      const before = {
        state: row.state,
        active: row.active,
        refreshBegin: row.refreshBegin,
        refreshEnd: row.refreshEnd,
        stateChangeAt: row.stateChangeAt,
        lastRunId: row.lastRunId,
      };
      row = { ...row, state: 'refreshing', generation: (row.generation ?? 0) + 1 };
      log.push('claim');
      return { before, after: { ...row }, generation: row.generation };
    },
    renewLease: async () => true,
    leaseOf: async () => null,
    leaseView: async () => ({ state: row.state, owner: null, generation: row.generation }),
    finishRefresh: async (
      _lease: unknown,
      outcome: 'succeed' | 'fail',
      extra: Partial<PersistedInfoEntity>,
    ) => {
      const state = outcome === 'succeed' ? 'persisted' : 'error';
      row = { ...row, ...extra, state };
      log.push(`finish:${state}`);
      return true;
    },
    releaseClaim: async (_lease: unknown, before: Partial<PersistedInfoEntity>) => {
      row = { ...row, ...before };
      log.push('release');
      return true;
    },
  };
  return { rows: rows as unknown as PersistedInfoRepository, log, current: () => row };
}

const info = {
  id: 11,
  databaseId: 2,
  cardId: 5,
  schemaName: 'mp_cache_x_2',
  tableName: 'model_5_x',
  state: 'persisted',
  active: true,
  lastRunId: null,
} as PersistedInfoEntity;
const card = {
  id: 5,
  name: 'Orders',
  sql: 'select 1 as a',
  databaseId: 2,
  type: 'model',
  archived: false,
} as CardEntity;

// no {{#id}} references in these models: the resolver hands the SQL back
const sameSql = { resolve: async (c: CardEntity) => c.sql } as unknown as ModelSqlResolver;

function setup(failures: Error[], sql = card.sql) {
  const retry = buildRetryPolicy(
    refresherEnvSchema.parse({ REFRESH_RETRY_CONNECTION_BASE_MS: '1', REFRESH_RETRY_JITTER_PCT: '0' }),
  );
  const r = fakeRows(info);
  const d = fakeDriver(failures);
  const svc = new ModelRefreshService(r.rows, api, { instanceId: 'me', leaseMs: 30_000, retry }, sameSql);
  const ctx: RunContext = {
    runId: '8b5f0b8e-1c8f-4f5e-9c57-0d2f8a7c1e01',
    trigger: 'manual',
    databaseId: 2,
    statementTimeoutMs: 1000,
    driver: d.driver,
  };
  return {
    run: (onSourceDone?: () => void) => svc.refresh(info, { ...card, sql }, ctx, onSourceDone),
    ...r,
    ...d,
  };
}

describe('ModelRefreshService retries by error class', () => {
  it('waits for a signature reading still in flight before the build, and stores it with the success', async () => {
    const r = fakeRows(info);
    const d = fakeDriver([]);
    const order: string[] = [];
    const refreshTable = d.driver.refreshTable.bind(d.driver);
    d.driver.refreshTable = (req) => (order.push('build'), refreshTable(req));
    const retry = buildRetryPolicy(refresherEnvSchema.parse({}));
    const svc = new ModelRefreshService(r.rows, api, { instanceId: 'me', leaseMs: 30_000, retry }, sameSql);
    const reading = new Promise<string | null>((resolve) =>
      setTimeout(() => (order.push('signature read'), resolve('sig-1')), 20),
    );
    const out = await svc.refresh(info, card, {
      runId: '8b5f0b8e-1c8f-4f5e-9c57-0d2f8a7c1e02',
      trigger: 'manual',
      databaseId: 2,
      statementTimeoutMs: 1000,
      driver: d.driver,
      signatures: new Map([[info.id, reading]]),
    });
    expect(out.kind).toBe('success');
    expect(order).toEqual(['signature read', 'build']);
    expect(r.current()).toMatchObject({ state: 'persisted', inputSignature: 'sig-1' });
  });

  it('succeeds: row persisted with definition and query hash, event carries rows and attempts', async () => {
    const t = setup([]);
    const out = await t.run();
    expect(out.kind).toBe('success');
    expect(out.event).toMatchObject({ type: 'RefreshSucceeded', rows: 3, attempts: 1, persistedInfoId: 11 });
    expect(t.current()).toMatchObject({ state: 'persisted', active: true, error: null, queryHash: 'h:13' });
    expect(t.current().definition?.fieldDefinitions).toEqual([{ fieldName: 'a', baseType: 'int4' }]);
  });

  it('tells the run the source database is free before the outcome is written (success, error, skip, unsafe)', async () => {
    const cases: [Error[], string, string?][] = [
      [[], 'finish:persisted'],
      [[new FakeSourceError('permission', ErrorCode.SourcePermission)], 'finish:error'],
      [[new FakeSourceError('lock', ErrorCode.SourceLock)], 'release'],
      [[], 'finish:error', 'drop table t'],
    ];
    for (const [failures, last, sql] of cases) {
      const t = setup(failures, sql);
      await t.run(() => t.log.push('source-done'));
      expect(t.log).toEqual(['claim', 'source-done', last]);
    }
  });

  it('retries connection errors 3 times, then records an error', async () => {
    const t = setup([1, 2, 3, 4].map(() => new FakeSourceError('connection', ErrorCode.SourceConnection)));
    const out = await t.run();
    expect(t.calls).toHaveLength(4);
    expect(out).toMatchObject({
      kind: 'error',
      event: { errorClass: 'connection', attempts: 4, outcome: 'error' },
    });
    expect(t.current()).toMatchObject({ state: 'error', active: false });
  });

  it('recovers when a connection error clears within the retries', async () => {
    const t = setup([new FakeSourceError('connection', ErrorCode.SourceConnection)]);
    const out = await t.run();
    expect(out.kind).toBe('success');
    expect(out.event.attempts).toBe(2);
  });

  it('skips a model on a lock: state put back unchanged', async () => {
    const t = setup([new FakeSourceError('lock', ErrorCode.SourceLock)]);
    const out = await t.run();
    expect(t.calls).toHaveLength(1);
    expect(out).toMatchObject({ kind: 'skipped', event: { outcome: 'skipped', errorClass: 'lock' } });
    expect(t.log).toEqual(['claim', 'release']);
    expect(t.current()).toMatchObject({ state: 'persisted', active: true });
  });

  it('records a permission error at once', async () => {
    const t = setup([new FakeSourceError('permission', ErrorCode.SourcePermission)]);
    const out = await t.run();
    expect(t.calls).toHaveLength(1);
    expect(out).toMatchObject({
      kind: 'error',
      event: { errorClass: 'permission', errorCode: 'SOURCE_PERMISSION' },
    });
  });

  it('retries a timeout once with twice the statement timeout', async () => {
    const t = setup([new FakeSourceError('timeout', ErrorCode.SourceTimeout)]);
    const out = await t.run();
    expect(out.kind).toBe('success');
    expect(t.calls.map((c) => c.statementTimeoutMs)).toEqual([1000, 2000]);
  });

  it('gives up on a second timeout', async () => {
    const t = setup([1, 2].map(() => new FakeSourceError('timeout', ErrorCode.SourceTimeout)));
    const out = await t.run();
    expect(out).toMatchObject({ kind: 'error', event: { errorClass: 'timeout', attempts: 2 } });
  });

  it('rejects unsafe SQL before anything runs on the source', async () => {
    const t = setup([], 'select 1; drop table t');
    const out = await t.run();
    expect(t.calls).toHaveLength(0);
    expect(out).toMatchObject({
      kind: 'error',
      event: { errorClass: 'unsafe-sql', errorCode: 'UNSAFE_SQL', attempts: 0 },
    });
    expect(t.current()).toMatchObject({ state: 'error' });
  });

  it('classifies unknown driver errors through the engine layer', async () => {
    const t = setup([new Error('relation "nope" does not exist')]);
    const out = await t.run();
    expect(out).toMatchObject({ kind: 'error', event: { errorClass: 'query' } });
  });
});

describe('refresher config', () => {
  it('has the documented defaults', () => {
    const p = buildRetryPolicy(refresherEnvSchema.parse({}));
    expect(p.classes.connection).toMatchObject({ retries: 3, baseMs: 1000, exhausted: 'error' });
    expect(p.classes.lock.exhausted).toBe('skip');
    expect(p.classes.permission.retries).toBe(0);
    expect(p.classes.timeout).toMatchObject({ retries: 1, timeoutFactor: 2 });
    expect(refresherEnvSchema.parse({}).PRUNE_GRACE_MS).toBe(3_600_000);
  });
});

describe('ModelRefreshService: full or incremental', () => {
  const inc = { checkpointColumn: 'ts', uniqueKey: ['id'], lookback: 10, fullRebuildCron: null };
  const incCard = { ...card, incremental: inc, indexes: null } as CardEntity;
  const now = new Date('2026-12-02T10:00:00Z');
  const svc = () => setup([]);
  const plan = (row: Partial<PersistedInfoEntity>, ctx: Partial<RunContext> = {}, c = incCard) => {
    const t = svc();
    const service = new ModelRefreshService(
      t.rows,
      api,
      { instanceId: 'me', leaseMs: 30_000, retry: buildRetryPolicy(refresherEnvSchema.parse({})) },
      sameSql,
    );
    return service.plan(
      { ...info, buildHash: 'h', checkpoint: '5', lastFullAt: new Date('2026-12-02T01:00:00Z'), ...row },
      c,
      {
        runId: 'r',
        trigger: 'manual',
        databaseId: 2,
        statementTimeoutMs: 1000,
        driver: t.driver,
        now: () => now,
        ...ctx,
      },
      'h',
    );
  };

  it('merges when nothing forces a full rebuild', () => {
    expect(plan({})).toEqual({ mode: 'incremental' });
  });

  it('rebuilds in full: not incremental, requested, first build, definition changed, no checkpoint, cron fired', () => {
    expect(plan({}, {}, card)).toEqual({ mode: 'full' });
    expect(plan({}, { full: true })).toEqual({ mode: 'full', reason: 'requested' });
    expect(plan({ active: false })).toEqual({ mode: 'full', reason: 'first-build' });
    expect(plan({ buildHash: 'other' })).toEqual({ mode: 'full', reason: 'definition-changed' });
    expect(plan({ checkpoint: null })).toEqual({ mode: 'full', reason: 'no-checkpoint' });
    // the daily midnight rebuild fired between the last full build (yesterday) and now
    expect(plan({ lastFullAt: new Date('2026-12-01T23:00:00Z') })).toEqual({
      mode: 'full',
      reason: 'scheduled',
    }); // the cron fires in the schedule's time zone: Auckland's next midnight after 12:00 local is 11:00Z, not yet
    expect(plan({ lastFullAt: new Date('2026-12-01T23:00:00Z') }, { timeZone: 'Pacific/Auckland' })).toEqual({
      mode: 'incremental',
    });
  });

  it('a merge that cannot be trusted becomes a full build, reported with its reason', async () => {
    const t = setup([]);
    const service = new ModelRefreshService(
      t.rows,
      api,
      { instanceId: 'me', leaseMs: 30_000, retry: buildRetryPolicy(refresherEnvSchema.parse({})) },
      sameSql,
    );
    const ready = { ...info, buildHash: null, checkpoint: '5', lastFullAt: now } as PersistedInfoEntity;
    const ctx: RunContext = {
      runId: '8b5f0b8e-1c8f-4f5e-9c57-0d2f8a7c1e01',
      trigger: 'manual',
      databaseId: 2,
      statementTimeoutMs: 1000,
      driver: t.driver,
    };
    const first = await service.refresh(ready, incCard, ctx);
    expect(first.event).toMatchObject({ mode: 'full', fullReason: 'first-build' });
    expect(t.calls[0].indexes?.map((i) => i.columns)).toEqual([['id']]);
    expect(t.calls[0].checkpointColumn).toBe('ts');
    // the row now holds the build hash: the next refresh merges, the fake driver refuses, a full build follows
    const second = await service.refresh({ ...t.current(), lastFullAt: new Date() }, incCard, ctx);
    expect(second.event).toMatchObject({ mode: 'full', fullReason: 'no-table' });
  });
});
