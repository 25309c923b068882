/* Shared set-up of the refresher's integration tests (not part of the build). */
import type { IncrementalSettings, ModelIndex } from '@model-persistence/database';
import { INestApplication } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createEvent,
  DomainEvent,
  PruneRequested,
  RefreshRequested,
  topicName,
  Topics,
} from '@model-persistence/contracts';
import { SecretBox } from '@model-persistence/database';
import { createLogger } from '@model-persistence/runtime';
import {
  countSourceRows,
  createTestAppDatabase,
  createTestSourceDatabase,
  createTestTopics,
  eventually,
  openTestSourceSession,
  produceRaw,
  ServiceProcess,
  sourceTables,
  TestAppDatabase,
  TestSourceConnection,
  TestSourceDatabase,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { Client } from 'pg';
import { startRefresher as startRefresherApp } from '../src/bootstrap';
import { loadRefresherConfig } from '../src/config';

export const TEST_SECRETS_KEY = 'refresher-int-test-secrets-key';

/** The application database with seeding helpers (plain SQL, as the API would have written it). */
export class AppDb {
  readonly client: Client;
  private constructor(readonly db: TestAppDatabase) {
    this.client = new Client({ connectionString: db.url });
  }

  static async create(label: string): Promise<AppDb> {
    const a = new AppDb(await createTestAppDatabase(label));
    await a.client.connect();
    await a.client.query(
      `insert into setting (key, value) values ('persisted-models-enabled', 'true')
       on conflict (key) do update set value = excluded.value`,
    );
    return a;
  }

  /** Registers a source database (engine, host, port, name and user from `source`, unless overridden). */
  async addDatabase(v: {
    name: string;
    source: TestSourceConnection;
    port?: number;
    username?: string;
    password?: string | null;
    statementTimeoutMs?: number;
    enabled?: boolean;
  }): Promise<number> {
    const pw = v.password ? new SecretBox(TEST_SECRETS_KEY).encrypt(v.password) : null;
    const r = await this.client.query<{ id: number }>(
      `insert into "database" (name, engine, host, port, db_name, user_name, password_encrypted,
                               statement_timeout_ms, persist_models_enabled)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id`,
      [
        v.name,
        v.source.engine,
        v.source.host,
        v.port ?? v.source.port,
        v.source.dbName,
        v.username ?? v.source.username,
        pw,
        v.statementTimeoutMs ?? 600_000,
        v.enabled ?? true,
      ],
    );
    return r.rows[0].id;
  }

  async addCard(v: {
    databaseId: number;
    name: string;
    sql: string;
    type?: 'model' | 'question';
    archived?: boolean;
    refreshCron?: string;
    indexes?: ModelIndex[];
    incremental?: IncrementalSettings;
  }): Promise<number> {
    const r = await this.client.query<{ id: number }>(
      `insert into card (name, database_id, query_sql, type, archived, refresh_cron, indexes, incremental)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning id`,
      [
        v.name,
        v.databaseId,
        v.sql,
        v.type ?? 'model',
        v.archived ?? false,
        v.refreshCron ?? null,
        v.indexes ? JSON.stringify(v.indexes) : null,
        v.incremental ? JSON.stringify(v.incremental) : null,
      ],
    );
    return r.rows[0].id;
  }

  async setCardIndexes(cardId: number, indexes: ModelIndex[] | null): Promise<void> {
    await this.client.query('update card set indexes = $1 where id = $2', [
      indexes ? JSON.stringify(indexes) : null,
      cardId,
    ]);
  }

  async setCardSql(cardId: number, sql: string): Promise<void> {
    await this.client.query('update card set query_sql = $1 where id = $2', [sql, cardId]);
  }

  async rows(where = 'true', params: unknown[] = []) {
    const r = await this.client.query<{
      id: number;
      card_id: number | null;
      database_id: number;
      state: string;
      active: boolean;
      schema_name: string;
      table_name: string;
      error: string | null;
      definition: { tableName: string; fieldDefinitions: { fieldName: string; baseType: string }[] } | null;
      query_hash: string | null;
      refresh_begin: Date | null;
      refresh_end: Date | null;
      state_change_at: Date | null;
      last_success_at: Date | null;
      lease_owner: string | null;
      last_run_id: string | null;
    }>(`select * from persisted_info where ${where} order by id`, params);
    return r.rows;
  }

  async row(cardId: number) {
    const [r] = await this.rows('card_id = $1', [cardId]);
    return r;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
    await this.db.drop();
  }
}

/** Environment of one refresher (in-process or spawned) bound to this test's topics and databases. */
export function refresherEnv(
  appDbUrl: string,
  prefix: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: appDbUrl,
    DATABASE_POOL_SIZE: '5',
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_TOPIC_PARTITIONS: '3',
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    SECRETS_KEY: TEST_SECRETS_KEY,
    REFRESHER_CONSUMER_GROUP: `refresher-${prefix}`,
    REFRESH_RETRY_CONNECTION_BASE_MS: '100',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** A refresher running inside the test process, on the real engine layer. */
export async function startRefresher(env: Record<string, string>): Promise<INestApplication> {
  const config = loadRefresherConfig(env);
  return startRefresherApp(config, createLogger(config));
}

export interface Bus {
  prefix: string;
  kafka: Kafka;
  recorder: TopicRecorder;
  request(
    body: Omit<RefreshRequested, 'type' | 'version' | 'eventId' | 'occurredAt'> & { eventId?: string },
  ): Promise<RefreshRequested>;
  send(event: DomainEvent, key: string, topic?: (typeof Topics)[keyof typeof Topics]): Promise<void>;
  prune(body?: Partial<Omit<PruneRequested, 'type' | 'version'>>): Promise<PruneRequested>;
  events<T extends DomainEvent['type']>(type: T, runId?: string): Extract<DomainEvent, { type: T }>[];
  waitRun(runId: string, timeoutMs?: number): Promise<Extract<DomainEvent, { type: 'RefreshRunCompleted' }>>;
  stop(): Promise<void>;
}

export async function createBus(label: string): Promise<Bus> {
  const prefix = uniqueTopicPrefix(label);
  const kafka = await createTestTopics({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
    clientId: 'test',
    topicPrefix: prefix,
    partitions: 3,
    sessionTimeoutMs: 10_000,
  });
  const recorder = await new TopicRecorder(kafka, prefix, [
    Topics.RefreshSucceeded,
    Topics.RefreshFailed,
    Topics.RefreshRuns,
    Topics.PruneRuns,
    Topics.DeadLetter,
  ]).start();
  const bus: Bus = {
    prefix,
    kafka,
    recorder,
    async send(event, key, topic = Topics.RefreshRequested) {
      await produceRaw(kafka, topicName(prefix, topic), [{ key, value: JSON.stringify(event) }]);
    },
    async request(body) {
      const e = createEvent('RefreshRequested', body);
      await bus.send(e, String(body.databaseId));
      return e;
    },
    async prune(body = {}) {
      const e = createEvent('PruneRequested', { trigger: 'manual', ...body });
      await bus.send(e, 'prune', Topics.PruneRequested);
      return e;
    },
    events(type, runId) {
      return recorder
        .events(type)
        .filter((e) => runId === undefined || (e as { runId?: string }).runId === runId);
    },
    async waitRun(runId, timeoutMs = 60_000) {
      const [m] = await recorder.waitFor(
        (m) => m.event?.type === 'RefreshRunCompleted' && m.event.runId === runId,
        1,
        timeoutMs,
      );
      const done = m.event as Extract<DomainEvent, { type: 'RefreshRunCompleted' }>;
      // per-model events travel on other topics: wait until they are in too
      const ofRun = (type: string) => (x: { event: DomainEvent | null }) =>
        x.event?.type === type && (x.event as { runId?: string }).runId === runId;
      if (done.success > 0) await recorder.waitFor(ofRun('RefreshSucceeded'), done.success, timeoutMs);
      if (done.error + done.skipped > 0)
        await recorder.waitFor(ofRun('RefreshFailed'), done.error + done.skipped, timeoutMs);
      return done;
    },
    async stop() {
      await recorder.stop();
    },
  };
  return bus;
}

/** Reads a cache table in a loop (pausing `pauseMs` between reads) until stopped; what it saw and the errors. */
export async function startCacheReader(src: TestSourceDatabase, schema: string, table: string, pauseMs = 0) {
  const reader = await openTestSourceSession(src.connection);
  let stop = false;
  const seen: number[] = [];
  const errors: string[] = [];
  const done = (async () => {
    while (!stop) {
      try {
        seen.push(await countSourceRows(reader, src.connection.engine, schema, table));
      } catch (e) {
        errors.push((e as Error).message);
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
    await reader.end();
    return { seen, errors };
  })();
  return {
    stop: async () => {
      stop = true;
      return done;
    },
  };
}

/**
 * Five manual refreshes of one model through Kafka while a reader loops over its cache table (1000 rows):
 * every refresh succeeds and the reader never sees an error or another row count.
 */
export async function expectReadsNeverFailDuringRefreshes(t: {
  app: AppDb;
  bus: Bus;
  src: TestSourceDatabase;
  databaseId: number;
  cardId: number;
}): Promise<void> {
  const info = await t.app.row(t.cardId);
  const reader = await startCacheReader(t.src, info.schema_name, info.table_name);
  const runs = [];
  for (let i = 0; i < 5; i++)
    runs.push(await t.bus.request({ databaseId: t.databaseId, cardId: t.cardId, trigger: 'manual' }));
  for (const r of runs) expect(await t.bus.waitRun(r.eventId)).toMatchObject({ success: 1 });
  const { seen, errors } = await reader.stop();
  expect(errors).toEqual([]);
  expect(seen.length).toBeGreaterThan(20);
  expect(new Set(seen)).toEqual(new Set([1000]));
}

/**
 * kill -9 of a compiled refresher (a real process) in the middle of a long refresh of a model (1000 rows):
 * a second refresher completes the redelivered request once, the row ends persisted with no lease, no
 * temporary table is left, and a reader of the cache table never sees an error or a partial table.
 * The in-process refresher of the calling test must not consume `group` meanwhile.
 */
export async function expectKillDuringLongRefreshRecovers(t: {
  app: AppDb;
  bus: Bus;
  src: TestSourceDatabase;
  databaseId: number;
  cardId: number;
  /** The model SQL during the killed refresh: ~12 s of work. */
  slowSql: string;
  instancePrefix: string;
  group?: string;
}): Promise<void> {
  const main = join(__dirname, '..', 'dist', 'main.js');
  if (!existsSync(main))
    throw new Error(`${main} is missing: build first with npx tsc -b tsconfig.build.json`);
  const env = (instance: string) =>
    refresherEnv(t.app.db.url, t.bus.prefix, {
      ...(t.group ? { REFRESHER_CONSUMER_GROUP: t.group } : {}),
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      REFRESHER_CONCURRENCY: '1',
      REFRESH_LEASE_MS: '6000',
      INSTANCE_ID: instance,
      LOG_LEVEL: 'info',
      OTEL_SDK_DISABLED: 'true',
      METRICS_PORT: '0',
    });
  const started = /refresher started \(instance/;
  const first = await new ServiceProcess('refresher', env(`${t.instancePrefix}-a`)).start(started);
  let second: ServiceProcess | undefined;
  let reader: Awaited<ReturnType<typeof startCacheReader>> | undefined;
  try {
    const warm = await t.bus.request({ databaseId: t.databaseId, cardId: t.cardId, trigger: 'manual' });
    expect(await t.bus.waitRun(warm.eventId)).toMatchObject({ success: 1 });
    const info = await t.app.row(t.cardId);
    reader = await startCacheReader(t.src, info.schema_name, info.table_name, 20);

    await t.app.setCardSql(t.cardId, t.slowSql);
    const req = await t.bus.request({ databaseId: t.databaseId, trigger: 'scheduled' });
    await eventually(async () => {
      const r = await t.app.row(t.cardId);
      return r.state === 'refreshing' && r.lease_owner === `${t.instancePrefix}-a`;
    }, 60_000);
    await first.kill();

    second = await new ServiceProcess('refresher', env(`${t.instancePrefix}-b`)).start(started);
    const done = await t.bus.waitRun(req.eventId, 120_000);
    expect(done).toMatchObject({ success: 1, error: 0 });
    expect(t.bus.events('RefreshSucceeded', req.eventId)).toHaveLength(1);
    expect(await t.app.row(t.cardId)).toMatchObject({
      state: 'persisted',
      active: true,
      lease_owner: null,
      last_run_id: req.eventId,
    });
    expect(await t.app.rows(`state = 'refreshing'`)).toEqual([]);
    expect(await sourceTables(t.src, info.schema_name, 'mp\\_%')).toEqual([]);
    const { seen, errors } = await reader.stop();
    reader = undefined;
    expect(errors).toEqual([]);
    expect(seen.length).toBeGreaterThan(50);
    expect(new Set(seen)).toEqual(new Set([1000]));
  } finally {
    await reader?.stop();
    await first.kill();
    await second?.stop();
  }
}

/** The app database, a source database with an `orders` table (ids 1..1000, amount = id % 1000), topics. */
export interface RefresherStack {
  app: AppDb;
  src: TestSourceDatabase;
  bus: Bus;
  /** Stops `refresher` (if any) and the recorder, runs `cleanup` (source database still there), drops both. */
  close(refresher?: INestApplication, cleanup?: () => Promise<unknown>): Promise<void>;
}

const DIGITS = Array.from({ length: 10 }, (_, k) => `select ${k} as n`).join(' union all ');
const ORDERS: Record<TestSourceConnection['engine'], string[]> = {
  postgres: [
    'create table orders as select g as id, (g % 1000)::numeric as amount from generate_series(1, 1000) g',
  ],
  mysql: [
    'create table orders (id int primary key, amount decimal(10,2))',
    `insert into orders select seq, seq % 1000 from (select a.n + b.n * 10 + c.n * 100 + 1 as seq
       from (${DIGITS}) a, (${DIGITS}) b, (${DIGITS}) c) s`,
  ],
};

export async function createRefresherStack(
  label: string,
  engine: TestSourceConnection['engine'],
): Promise<RefresherStack> {
  const [app, src, bus] = await Promise.all([
    AppDb.create(`refresher${label}`),
    createTestSourceDatabase(engine, `ref${label}`),
    createBus(`ref${label}`),
  ]);
  for (const sql of ORDERS[engine]) await src.query(sql);
  return {
    app,
    src,
    bus,
    async close(refresher, cleanup) {
      await refresher?.close();
      await bus.stop();
      await cleanup?.();
      await src.drop();
      await app.close();
    },
  };
}

/**
 * Managed indexes and incremental refresh end to end (one engine): the first build is full with the indexes
 * in place, new/changed rows are then merged (mode, counts and checkpoint on the wire and in the row),
 * `full: true` rebuilds in full, and an index on a column the query does not return fails with
 * MODEL_INDEX_COLUMN while the cache table stays as it was.
 */
export async function expectIncrementalAndIndexedModel(t: {
  app: AppDb;
  src: TestSourceDatabase;
  bus: Bus;
  dbId: number;
  engine: 'postgres' | 'mysql';
}): Promise<void> {
  const { app, src, bus, dbId, engine } = t;
  await src.query(
    engine === 'postgres'
      ? 'create table inc_events (id int, v text, ts int)'
      : 'create table inc_events (id int, v varchar(40), ts int)',
  );
  await src.query(`insert into inc_events values (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`);
  const cardId = await app.addCard({
    databaseId: dbId,
    name: 'Incremental events',
    sql: 'select id, v, ts from inc_events',
    indexes: [{ columns: ['v'] }],
    incremental: { checkpointColumn: 'ts', uniqueKey: ['id'], lookback: 5, fullRebuildCron: null },
  });
  const refresh = async (full?: boolean) => {
    const req = await bus.request({
      databaseId: dbId,
      cardId,
      trigger: 'manual',
      ...(full ? { full } : {}),
    });
    expect(await bus.waitRun(req.eventId)).toMatchObject({ success: 1, error: 0 });
    return bus.events('RefreshSucceeded', req.eventId)[0];
  };
  const first = await refresh();
  expect(first).toMatchObject({ mode: 'full', fullReason: 'first-build', checkpoint: '3', rows: 3 });
  expect(first.indexMs).toEqual(expect.any(Number));
  const row = await app.row(cardId);
  const indexNames = async () => {
    const r =
      engine === 'postgres'
        ? await src.query<{ n: string }>(
            `select indexname as n from pg_indexes where schemaname = $1 and tablename = $2 order by 1`,
            [row.schema_name, row.table_name],
          )
        : await src.query<{ n: string }>(
            `select distinct INDEX_NAME as n from information_schema.STATISTICS
              where TABLE_SCHEMA = ? and TABLE_NAME = ? order by 1`,
            [row.schema_name, row.table_name],
          );
    return r.map((x) => x.n);
  };
  const managed = expect.stringMatching(new RegExp(`^mpi_${cardId}_[0-9a-f]{12}$`)) as unknown;
  // the declared index on v and the merge key's unique index on id
  expect(await indexNames()).toEqual([managed, managed]);

  await src.query(`insert into inc_events values (4, 'd', 10), (5, 'late', 6)`);
  await src.query(`update inc_events set v = 'a2', ts = 9 where id = 1`);
  const merged = await refresh();
  expect(merged).toMatchObject({
    mode: 'incremental',
    rowsInserted: 2,
    rowsUpdated: 1,
    checkpoint: '10',
    rows: null,
  });
  expect(await countSourceRows(src, engine, row.schema_name, row.table_name)).toBe(5);
  expect((await app.rows('card_id = $1', [cardId]))[0]).toMatchObject({ state: 'persisted', active: true });
  expect(await indexNames()).toHaveLength(2);

  const full = await refresh(true);
  expect(full).toMatchObject({ mode: 'full', fullReason: 'requested', checkpoint: '10', rows: 5 });
  expect(await indexNames()).toHaveLength(2);

  // an index on a column the query does not return: coded failure, the table keeps its contents
  await app.setCardIndexes(cardId, [{ columns: ['nope'] }]);
  const req = await bus.request({ databaseId: dbId, cardId, trigger: 'manual' });
  expect(await bus.waitRun(req.eventId)).toMatchObject({ error: 1 });
  expect(bus.events('RefreshFailed', req.eventId)[0]).toMatchObject({ errorCode: 'MODEL_INDEX_COLUMN' });
  expect(await countSourceRows(src, engine, row.schema_name, row.table_name)).toBe(5);
  const [live] = await src.query<{ n: unknown }>('select count(*) as n from inc_events');
  expect(Number(live.n)).toBe(5);
}
