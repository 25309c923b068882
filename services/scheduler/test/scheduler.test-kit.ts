/* Shared set-up of the scheduler's integration tests (not part of the build). */
import { KafkaConfig } from '@model-persistence/config';
import { TopicName } from '@model-persistence/contracts';
import {
  CardRepository,
  createAppDataSource,
  ScheduleClaimRepository,
  SettingKey,
  SettingRepository,
  SourceDatabaseRepository,
} from '@model-persistence/database';
import {
  createTestAppDatabase,
  createTestTopics,
  ReceivedMessage,
  testKafkaConfig,
  TestAppDatabase,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';

export const header = (m: ReceivedMessage, name: string) => m.headers[name]?.toString() ?? '';
export const fireTime = (m: ReceivedMessage) => Date.parse(header(m, 'fire-time'));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** For each schedule (schedule-key header): fire time → how many times it was published among `messages`. */
export function fireCounts(messages: ReceivedMessage[]): Map<string, Map<number, number>> {
  const byKey = new Map<string, Map<number, number>>();
  for (const m of messages) {
    const k = header(m, 'schedule-key');
    const times = byKey.get(k) ?? new Map<number, number>();
    times.set(fireTime(m), (times.get(fireTime(m)) ?? 0) + 1);
    byKey.set(k, times);
  }
  return byKey;
}

/** A fresh app database with its repositories, this test's own topics and a recorder of `recorded`. */
export interface SchedulerTestBed {
  prefix: string;
  kafkaConfig: KafkaConfig;
  db: TestAppDatabase;
  ds: DataSource;
  settings: SettingRepository;
  databases: SourceDatabaseRepository;
  cards: CardRepository;
  claims: ScheduleClaimRepository;
  kafka: Kafka;
  recorder: TopicRecorder;
  /** Registers a source database (nothing behind it: the scheduler never connects to sources). */
  addDatabase(name: string, persistModelsEnabled: boolean): Promise<number>;
  close(): Promise<void>;
}

/** Persisted models enabled globally, every database refreshed on `refreshCron` unless a test changes it. */
export async function createSchedulerTestBed(
  label: string,
  recorded: TopicName[],
  refreshCron = '0/3 * * * * ? *',
): Promise<SchedulerTestBed> {
  const prefix = uniqueTopicPrefix(label);
  const kafkaConfig = testKafkaConfig(prefix);
  const db = await createTestAppDatabase(label);
  const ds = await createAppDataSource({ url: db.url, poolSize: 2 }).initialize();
  const settings = new SettingRepository(ds);
  const databases = new SourceDatabaseRepository(ds);
  await settings.set(SettingKey.PersistedModelsEnabled, 'true');
  await settings.set(SettingKey.RefreshCronSchedule, refreshCron);
  const kafka = await createTestTopics(kafkaConfig);
  const recorder = await new TopicRecorder(kafka, prefix, recorded).start();
  const source = { engine: 'postgres' as const, host: '127.0.0.1', port: 5432, dbName: 'x', username: 'u' };
  return {
    prefix,
    kafkaConfig,
    db,
    ds,
    settings,
    databases,
    cards: new CardRepository(ds),
    claims: new ScheduleClaimRepository(ds),
    kafka,
    recorder,
    addDatabase: async (name, persistModelsEnabled) =>
      (await databases.create({ ...source, name, persistModelsEnabled })).id,
    async close() {
      await recorder.stop();
      await ds.destroy();
      await db.drop();
    },
  };
}

/** The environment of one scheduler (in-process config or a spawned process) on this bed. */
export function schedulerEnv(
  bed: SchedulerTestBed,
  instanceId: string,
  poolSize: number,
): Record<string, string> {
  return {
    KAFKA_BROKERS: bed.kafkaConfig.brokers.join(','),
    KAFKA_TOPIC_PREFIX: bed.prefix,
    KAFKA_TOPIC_PARTITIONS: String(bed.kafkaConfig.partitions),
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    DATABASE_URL: bed.db.url,
    DATABASE_POOL_SIZE: String(poolSize),
    INSTANCE_ID: instanceId,
  };
}
