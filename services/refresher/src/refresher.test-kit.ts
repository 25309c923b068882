/* Shared set-up of the refresher's integration tests (not part of the build). */
import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
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
  createTestAppDatabase,
  createTestTopics,
  produceRaw,
  TestAppDatabase,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { Client } from 'pg';
import { createConnection, Connection } from 'mysql2/promise';
import { startRefresher as startRefresherApp } from './bootstrap';
import { loadRefresherConfig } from './config';

export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
export const MYSQL_PORT = 3306;
export const TEST_SECRETS_KEY = 'refresher-int-test-secrets-key';

export interface SourcePg {
  name: string;
  client: Client;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL source database per test file. */
export async function createSourcePg(label: string): Promise<SourcePg> {
  const name = `mp_src_${label}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ host: PG_HOST, port: PG_PORT, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const client = new Client({ host: PG_HOST, port: PG_PORT, user: 'postgres', database: name });
  await client.connect();
  return {
    name,
    client,
    drop: async () => {
      await client.end().catch(() => undefined);
      const a = new Client({ host: PG_HOST, port: PG_PORT, user: 'postgres', database: 'postgres' });
      await a.connect();
      await a.query(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

export interface SourceMysql {
  name: string;
  conn: Connection;
  drop(): Promise<void>;
}

/** A fresh MariaDB source database per test file (the cache schema is another database on MySQL). */
export async function createSourceMysql(label: string): Promise<SourceMysql> {
  const name = `mp_src_${label}_${randomBytes(3).toString('hex')}`;
  const conn = await createConnection({
    host: PG_HOST,
    port: MYSQL_PORT,
    user: 'root',
    multipleStatements: false,
  });
  await conn.query(`create database \`${name}\``);
  await conn.query(`use \`${name}\``);
  return {
    name,
    conn,
    drop: async () => {
      await conn.query(`drop database if exists \`${name}\``).catch(() => undefined);
      await conn.end().catch(() => undefined);
    },
  };
}

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

  async addDatabase(v: {
    name: string;
    engine: 'postgres' | 'mysql';
    dbName: string;
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
        v.engine,
        PG_HOST,
        v.port ?? (v.engine === 'postgres' ? PG_PORT : MYSQL_PORT),
        v.dbName,
        v.username ?? (v.engine === 'postgres' ? 'postgres' : 'root'),
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
  }): Promise<number> {
    const r = await this.client.query<{ id: number }>(
      `insert into card (name, database_id, query_sql, type, archived, refresh_cron)
       values ($1, $2, $3, $4, $5, $6) returning id`,
      [v.name, v.databaseId, v.sql, v.type ?? 'model', v.archived ?? false, v.refreshCron ?? null],
    );
    return r.rows[0].id;
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
