/*
 * Helpers of the refresher benchmarks (bench/refresher-*.ts): a compiled refresher process, a Kafka recorder,
 * the app database, and psql/mysql command-line baselines. Not a benchmark itself (no main()).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createEvent, DomainEvent, topicName, Topics } from '@model-persistence/contracts';
import {
  createTestAppDatabase,
  createTestTopics,
  ServiceProcess,
  testKafkaConfig,
  TestAppDatabase,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka, Partitioners } from 'kafkajs';
import { Client } from 'pg';

const run = promisify(execFile);

export const HOST = '127.0.0.1';

export function peakRssMb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export const fmt = (ms: number) => (ms / 1000).toFixed(2);

/** Runs SQL with the psql command line (a fresh psql process, like an operator would). */
export async function psql(db: string, sqlText: string): Promise<number> {
  const t = performance.now();
  await run('psql', ['-h', HOST, '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sqlText], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return performance.now() - t;
}

export async function psqlFile(db: string, file: string): Promise<number> {
  const t = performance.now();
  await run('psql', ['-h', HOST, '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-q', '-f', file], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return performance.now() - t;
}

export async function mysqlCli(sqlText: string, db?: string): Promise<number> {
  const t = performance.now();
  await run('mysql', ['-h', HOST, '-u', 'root', ...(db ? [db] : []), '-e', sqlText], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return performance.now() - t;
}

export async function pgAdmin(sqlText: string, db = 'postgres'): Promise<void> {
  const c = new Client({ host: HOST, user: 'postgres', database: db });
  await c.connect();
  try {
    await c.query(sqlText);
  } finally {
    await c.end();
  }
}

export interface Harness {
  app: TestAppDatabase;
  appClient: Client;
  prefix: string;
  kafka: Kafka;
  recorder: TopicRecorder;
  refresher: ServiceProcess;
  request(databaseId: number, cardId?: number): Promise<string>;
  /** Database runs of all these databases in one produce request, as a scheduled fire publishes them (full rebuilds). */
  requestAll(databaseIds: number[]): Promise<string[]>;
  waitFor(pred: (e: DomainEvent) => boolean, count?: number, timeoutMs?: number): Promise<DomainEvent[]>;
  close(): Promise<void>;
}

/** App database + topics + a compiled refresher process (services/refresher/dist/main.js). */
export async function startHarness(label: string, env: Record<string, string> = {}): Promise<Harness> {
  const app = await createTestAppDatabase(label);
  const appClient = new Client({ connectionString: app.url });
  await appClient.connect();
  await appClient.query(
    `insert into setting (key, value) values ('persisted-models-enabled', 'true')
     on conflict (key) do update set value = excluded.value`,
  );
  const prefix = uniqueTopicPrefix(label);
  const partitions = Number(env.KAFKA_TOPIC_PARTITIONS ?? 12);
  const kafka = await createTestTopics(testKafkaConfig(prefix, { partitions }));
  const recorder = await new TopicRecorder(kafka, prefix, [
    Topics.RefreshSucceeded,
    Topics.RefreshFailed,
    Topics.RefreshRuns,
  ]).start();
  const refresher = await new ServiceProcess('refresher', {
    NODE_ENV: 'test',
    DATABASE_URL: app.url,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_TOPIC_PARTITIONS: String(partitions),
    REFRESHER_CONSUMER_GROUP: `refresher-${prefix}`,
    LOG_LEVEL: 'info',
    OTEL_SDK_DISABLED: 'true',
    METRICS_PORT: '0',
    ...env,
  }).start(/refresher started \(instance/);
  // one producer kept connected, as a real client has (a fresh one per request adds its connect to every figure)
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return {
    app,
    appClient,
    prefix,
    kafka,
    recorder,
    refresher,
    async request(databaseId, cardId) {
      const e = createEvent('RefreshRequested', {
        databaseId,
        ...(cardId ? { cardId } : {}),
        trigger: 'manual',
        requestedBy: 'bench',
      });
      await producer.send({
        topic: topicName(prefix, Topics.RefreshRequested),
        acks: -1,
        messages: [{ key: String(databaseId), value: JSON.stringify(e) }],
      });
      return e.eventId;
    },
    async requestAll(databaseIds) {
      const events = databaseIds.map((databaseId) =>
        // manual: rebuilt unconditionally (a scheduled trigger would let change detection skip unchanged models)
        createEvent('RefreshRequested', { databaseId, trigger: 'manual', requestedBy: 'bench' }),
      );
      await producer.send({
        topic: topicName(prefix, Topics.RefreshRequested),
        acks: -1,
        messages: events.map((e) => ({ key: String(e.databaseId), value: JSON.stringify(e) })),
      });
      return events.map((e) => e.eventId);
    },
    async waitFor(pred, count = 1, timeoutMs = 600_000) {
      const found = await recorder.waitFor((m) => m.event !== null && pred(m.event), count, timeoutMs);
      return found.map((m) => m.event!);
    },
    async close() {
      await producer.disconnect().catch(() => undefined);
      await refresher.stop();
      await recorder.stop();
      await appClient.end();
      await app.drop();
    },
  };
}

export async function addDatabase(
  c: Client,
  v: { name: string; engine: 'postgres' | 'mysql'; dbName: string },
): Promise<number> {
  const r = await c.query<{ id: number }>(
    `insert into "database" (name, engine, host, port, db_name, user_name, persist_models_enabled)
     values ($1, $2, $3, $4, $5, $6, true) returning id`,
    [
      v.name,
      v.engine,
      HOST,
      v.engine === 'postgres' ? 5432 : 3306,
      v.dbName,
      v.engine === 'postgres' ? 'postgres' : 'root',
    ],
  );
  return r.rows[0].id;
}

export async function addCard(c: Client, databaseId: number, name: string, sqlText: string): Promise<number> {
  const r = await c.query<{ id: number }>(
    `insert into card (name, database_id, query_sql) values ($1, $2, $3) returning id`,
    [name, databaseId, sqlText],
  );
  return r.rows[0].id;
}
