/* The fault-injection suite's harness: the real services as separate processes, per-test databases and topics. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  Topics,
  TopicName,
  topicName,
  createEvent,
  DomainEvent,
  RefreshRequested,
} from '@model-persistence/contracts';
import { runMigrations, SecretBox } from '@model-persistence/database';
import {
  createTestAppDatabase,
  createTestTopics,
  produceRaw,
  ServiceName,
  ServiceProcess,
  TestAppDatabase,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { Client } from 'pg';

export const ROOT = resolve(__dirname, '..', '..', '..');
export const MODE: 'short' | 'full' = process.env.FAULTS_MODE === 'full' ? 'full' : 'short';
/** A size by mode: `npm test` runs the short one, `npm run test:faults` the issue's. */
export const size = <T>(short: T, full: T): T => (MODE === 'full' ? full : short);

export const SECRETS_KEY = 'faults-suite-secrets-key-0001';
export const BOOTSTRAP_TOKEN = 'faults-suite-bootstrap-token-0001';
export const PG = { host: '127.0.0.1', port: 5432 };

/** Every topic some service consumes, and the consumer groups reading it (for dead-letter accounting). */
export const CONSUMED: Partial<Record<TopicName, string[]>> = {
  [Topics.RefreshRequested]: ['refresher'],
  [Topics.PruneRequested]: ['refresher'],
  [Topics.RefreshSucceeded]: ['notifier', 'history-projector'],
  [Topics.RefreshFailed]: ['notifier', 'history-projector'],
  [Topics.RefreshRuns]: ['notifier', 'history-projector'],
  [Topics.PruneRuns]: ['history-projector'],
  [Topics.ConfigChanged]: ['scheduler'],
};

/**
 * The compiled services must exist. Other engineers rebuild the shared tree (tsc -b) now and then, so a missing
 * file is waited for a little before giving up.
 */
export async function assertBuilt(waitMs = 90_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const missing = ['api', 'scheduler', 'refresher', 'notifier', 'history']
      .map((s) => join(ROOT, 'services', s, 'dist', 'main.js'))
      .filter((f) => !existsSync(f));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${missing.join(', ')} missing: run npx tsc -b tsconfig.build.json first`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Figures of one scenario, written to .cache/faults/<mode>/<scenario>.json (docs/RELIABILITY.md quotes them). */
export function recordFigures(scenario: string, figures: Record<string, unknown>): void {
  const dir = join(ROOT, '.cache', 'faults', MODE);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${scenario}.json`),
    JSON.stringify(
      // the test file, so the report can mark figures whose test then failed
      { scenario, mode: MODE, at: new Date().toISOString(), testFile: currentTestFile(), ...figures },
      null,
      2,
    ) + '\n',
  );
  console.log(`[faults] ${scenario} (${MODE}): ${JSON.stringify(figures)}`);
}

function currentTestFile(): string | null {
  const path = expect.getState().testPath;
  return path ? relative(ROOT, path) : null;
}

export interface StackOptions {
  brokers?: string[];
  /**
   * Admin URL of the PostgreSQL server to create the app database on (e.g. a PrivatePostgres the test
   * restarts), default the shared one.
   */
  appServerUrl?: string;
  /** The app database URL the services use (a proxy in front of the test's database), default its own. */
  servicesDatabaseUrl?: (url: string) => string;
  recordTopics?: TopicName[];
}

/**
 * One test file's world: a fresh migrated app database, its own topic prefix on a broker, a recorder of the
 * output topics, and the services it starts (stopped in `close`).
 */
export class FaultStack {
  readonly processes: ServiceProcess[] = [];
  private constructor(
    readonly label: string,
    readonly prefix: string,
    readonly brokers: string[],
    readonly app: TestAppDatabase,
    public pg: Client,
    readonly kafka: Kafka,
    readonly recorder: TopicRecorder,
    readonly servicesDatabaseUrl: string,
  ) {}

  static async create(label: string, options: StackOptions = {}): Promise<FaultStack> {
    const prefix = uniqueTopicPrefix(`f${label}`);
    const kafkaConfig = testKafkaConfig(prefix, options.brokers ? { brokers: options.brokers } : {});
    const [app, kafka] = await Promise.all([
      options.appServerUrl
        ? createAppDatabaseOn(options.appServerUrl, `f${label}`)
        : createTestAppDatabase(`f${label}`),
      createTestTopics(kafkaConfig),
    ]);
    const pg = await openClient(app.url);
    await pg.query(
      `insert into setting (key, value) values ('persisted-models-enabled', 'true'), ('admin-email', 'admin@faults.test')
       on conflict (key) do update set value = excluded.value`,
    );
    const recorder = await new TopicRecorder(
      kafka,
      prefix,
      options.recordTopics ?? [
        Topics.RefreshSucceeded,
        Topics.RefreshFailed,
        Topics.RefreshRuns,
        Topics.PruneRuns,
        Topics.DeadLetter,
      ],
    ).start();
    return new FaultStack(
      label,
      prefix,
      kafkaConfig.brokers,
      app,
      pg,
      kafka,
      recorder,
      options.servicesDatabaseUrl ? options.servicesDatabaseUrl(app.url) : app.url,
    );
  }

  /** A new test connection to the app database (after a restart of its server ended the previous one). */
  async reconnect(): Promise<void> {
    await this.pg.end().catch(() => undefined);
    this.pg = await openClient(this.app.url);
  }

  topic(t: TopicName): string {
    return topicName(this.prefix, t);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'test',
      KAFKA_BROKERS: this.brokers.join(','),
      KAFKA_TOPIC_PREFIX: this.prefix,
      KAFKA_TOPIC_PARTITIONS: '3',
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      DATABASE_URL: this.servicesDatabaseUrl,
      DATABASE_POOL_SIZE: '4',
      SECRETS_KEY,
      LOG_LEVEL: 'info',
      LOG_JSON: 'false',
      OTEL_SDK_DISABLED: 'true',
      METRICS_PORT: '0',
      REFRESHER_CONSUMER_GROUP: `refresher-${this.prefix}`,
      REFRESHER_CONCURRENCY: '2',
      REFRESH_RETRY_CONNECTION_BASE_MS: '200',
      ALERT_RUN_GRACE_MS: '3000',
      EMAIL_RETRY_MIN_MS: '500',
      EMAIL_RETRY_MAX_MS: '3000',
      EMAIL_POLL_INTERVAL_MS: '200',
      SMTP_TIMEOUT_MS: '3000',
      API_PORT: '0',
      API_BOOTSTRAP_TOKEN: BOOTSTRAP_TOKEN,
      ...extra,
    };
  }

  /** Starts one service process; resolves once it logged its start-up line. */
  async start(name: ServiceName, extra: Record<string, string> = {}): Promise<ServiceProcess> {
    const instance =
      extra.INSTANCE_ID ?? `${name}-${this.processes.filter((p) => p.name === name).length + 1}`;
    const p = new ServiceProcess(name, this.env({ INSTANCE_ID: instance, ...extra }));
    this.processes.push(p);
    await p.start(name === 'api' ? /api listening on/ : new RegExp(`${name} started \\(instance`), 90_000);
    return p;
  }

  /** Lines of every process that show a second start (a restart) or an uncaught crash. */
  restarts(): string[] {
    return this.processes.flatMap((p) => {
      const starts = p.logs.filter((l) => /started \(instance|api listening on/.test(l));
      return starts.length > 1 || !p.running
        ? [`${p.name} (pid ${p.pid}) running=${p.running} starts=${starts.length}`]
        : [];
    });
  }

  // --- seeding, as the API would have written it -------------------------------------------------------

  async addDatabase(v: {
    name: string;
    engine?: 'postgres' | 'mysql';
    dbName: string;
    host?: string;
    port?: number;
    user?: string;
    password?: string | null;
    statementTimeoutMs?: number;
  }): Promise<number> {
    const engine = v.engine ?? 'postgres';
    const r = await this.pg.query<{ id: number }>(
      `insert into "database" (name, engine, host, port, db_name, user_name, password_encrypted,
                               statement_timeout_ms, persist_models_enabled)
       values ($1, $2, $3, $4, $5, $6, $7, $8, true) returning id`,
      [
        v.name,
        engine,
        v.host ?? '127.0.0.1',
        v.port ?? (engine === 'postgres' ? 5432 : 3306),
        v.dbName,
        v.user ?? (engine === 'postgres' ? 'postgres' : 'root'),
        v.password ? new SecretBox(SECRETS_KEY).encrypt(v.password) : null,
        v.statementTimeoutMs ?? 600_000,
      ],
    );
    return r.rows[0].id;
  }

  async addCard(databaseId: number, name: string, sql: string): Promise<number> {
    const r = await this.pg.query<{ id: number }>(
      `insert into card (name, database_id, query_sql, type) values ($1, $2, $3, 'model') returning id`,
      [name, databaseId, sql],
    );
    return r.rows[0].id;
  }

  async rows(where = 'true', params: unknown[] = []) {
    const r = await this.pg.query<{
      id: number;
      card_id: number | null;
      database_id: number;
      state: string;
      active: boolean;
      schema_name: string;
      table_name: string;
      error: string | null;
      lease_owner: string | null;
      last_run_id: string | null;
    }>(`select * from persisted_info where ${where} order by id`, params);
    return r.rows;
  }

  async taskHistory(where = 'true', params: unknown[] = []) {
    const r = await this.pg.query<{
      run_id: string;
      task: string;
      db_id: number | null;
      status: string;
      task_details: Record<string, unknown> | null;
    }>(
      `select run_id, task, db_id, status, task_details from task_history where ${where} order by id`,
      params,
    );
    return r.rows;
  }

  // --- Kafka -------------------------------------------------------------------------------------------

  async request(
    body: Omit<RefreshRequested, 'type' | 'version' | 'eventId' | 'occurredAt'>,
  ): Promise<RefreshRequested> {
    const e = createEvent('RefreshRequested', body);
    await produceRaw(this.kafka, this.topic(Topics.RefreshRequested), [
      { key: String(body.databaseId), value: JSON.stringify(e) },
    ]);
    return e;
  }

  events<T extends DomainEvent['type']>(type: T, runId?: string): Extract<DomainEvent, { type: T }>[] {
    return this.recorder
      .events(type)
      .filter((e) => runId === undefined || (e as { runId?: string }).runId === runId);
  }

  async waitRun(runId: string, timeoutMs = 60_000) {
    const [m] = await this.recorder.waitFor(
      (m) => m.event?.type === 'RefreshRunCompleted' && m.event.runId === runId,
      1,
      timeoutMs,
    );
    return m.event as Extract<DomainEvent, { type: 'RefreshRunCompleted' }>;
  }

  async close(): Promise<void> {
    // SIGTERM: the consumers leave their groups instead of lingering until the session times out
    await Promise.all(this.processes.map((p) => p.stop(15_000).catch(() => undefined)));
    // every process's output, for diagnosing a failed scenario after the fact
    const logs = join(ROOT, '.cache', 'faults', MODE, 'logs');
    mkdirSync(logs, { recursive: true });
    this.processes.forEach((p, i) =>
      writeFileSync(join(logs, `${this.label}-${i + 1}-${p.name}.log`), p.logs.join('\n') + '\n'),
    );
    await this.recorder.stop().catch(() => undefined);
    await this.pg.end().catch(() => undefined);
    await this.app.drop().catch(() => undefined);
  }
}

/** A connection of the test's own; a server that ends it (a fault we inject) must not crash the test run. */
async function openClient(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** A fresh migrated app database on another PostgreSQL server (`adminUrl`: its `postgres` database). */
async function createAppDatabaseOn(adminUrl: string, label: string): Promise<TestAppDatabase> {
  const name = `mp_t_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${Math.random().toString(16).slice(2, 10)}`;
  const admin = async (sql: string) => {
    const c = await openClient(adminUrl);
    await c.query(sql).finally(() => c.end().catch(() => undefined));
  };
  await admin(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return { name, url: url.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}

/** A fresh PostgreSQL source database with an `orders` table of `rows` rows. */
export async function createSourcePg(label: string, rows = 1000) {
  const name = `mp_fs_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${Math.random().toString(16).slice(2, 10)}`;
  const admin = new Client({ ...PG, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`create database "${name}"`).finally(() => admin.end());
  const client = new Client({ ...PG, user: 'postgres', database: name });
  await client.connect();
  await client.query(
    `create table orders as select g as id, (g % 100)::numeric as amount from generate_series(1, ${rows}) g`,
  );
  return {
    name,
    client,
    async drop() {
      await client.end().catch(() => undefined);
      const a = new Client({ ...PG, user: 'postgres', database: 'postgres' });
      await a.connect();
      await a.query(`drop database if exists "${name}" with (force)`).finally(() => a.end());
    },
  };
}
