/*
 * A deadlock (40P01) or a serialization failure (40001) of the app database aborts a transaction that did
 * nothing wrong: the message is retried and succeeds, never dead-lettered. The conflicts are real, made on
 * PostgreSQL inside the handler through TypeORM (as the services' repositories run), and the message arrives
 * through the real Kafka consumer.
 */
import { Controller, INestMicroservice, Module } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { createEvent, topicName, Topics } from '@model-persistence/contracts';
import {
  createTestAppDatabase,
  createTestTopics,
  produceRaw,
  TestAppDatabase,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { KafkaMessageProcessor, kafkaMicroservice, MessagingModule } from '../src/index';

let ds: DataSource;
let other: Client;
const attempts = new Map<number, number>();
const errors: string[] = [];
const done: number[] = [];

/** Attempt 1 loses a race on row `id` (a concurrent committed update under REPEATABLE READ): 40001. */
async function serializationScenario(id: number, attempt: number): Promise<void> {
  await ds.transaction('REPEATABLE READ', async (m) => {
    const [{ n }] = await m.query<{ n: number }[]>('select n from counter where id = $1', [id]);
    if (attempt === 1) await other.query('update counter set n = n + 100 where id = $1', [id]);
    await m.query('update counter set n = $2 where id = $1', [id, n + 1]);
  });
}

/** Attempt 1 deadlocks with another session (which waits longer before checking, so the handler is the victim). */
async function deadlockScenario(a: number, b: number, attempt: number): Promise<void> {
  let peer: Promise<unknown> = Promise.resolve();
  try {
    await ds.transaction(async (m) => {
      await m.query('update counter set n = n + 1 where id = $1', [a]);
      if (attempt === 1) {
        await other.query('begin');
        await other.query(`set local deadlock_timeout = '10s'`);
        await other.query('update counter set n = n + 1000 where id = $1', [b]);
        peer = other.query('update counter set n = n + 1000 where id = $1', [a]).then(
          () => other.query('commit'),
          async (e: unknown) => {
            await other.query('rollback');
            throw e;
          },
        );
      }
      await m.query('update counter set n = n + 1 where id = $1', [b]);
    });
  } finally {
    await peer;
  }
}

@Controller()
class ConflictProbeHandler {
  constructor(private readonly processor: KafkaMessageProcessor) {}

  @EventPattern(Topics.RefreshRequested)
  async onRefreshRequested(@Ctx() ctx: KafkaContext): Promise<void> {
    await this.processor.process(ctx, {
      accept: ['RefreshRequested'],
      backoff: { retries: 3, baseMs: 100, maxMs: 1000, jitter: 0 },
      handle: async (event) => {
        const scenario = event.cardId!;
        const attempt = (attempts.get(scenario) ?? 0) + 1;
        attempts.set(scenario, attempt);
        try {
          if (scenario === 1) await serializationScenario(1, attempt);
          else await deadlockScenario(2, 3, attempt);
          done.push(scenario);
        } catch (e) {
          errors.push((e as { code?: string }).code ?? String(e));
          throw e;
        }
      },
    });
  }
}

describe('app-database deadlocks and serialization failures are retried, not dead-lettered', () => {
  const prefix = uniqueTopicPrefix('dbconflict');
  const config = testKafkaConfig(prefix, { partitions: 1 });
  let db: TestAppDatabase;
  let kafka: Kafka;
  let app: INestMicroservice;
  let recorder: TopicRecorder;

  beforeAll(async () => {
    db = await createTestAppDatabase('conflict', false);
    ds = await new DataSource({ type: 'postgres', url: db.url, poolSize: 2 }).initialize();
    other = new Client({ connectionString: db.url });
    await other.connect();
    await ds.query('create table counter (id int primary key, n int not null)');
    await ds.query('insert into counter values (1, 0), (2, 0), (3, 0)');
    kafka = await createTestTopics(config);
    @Module({
      imports: [MessagingModule.forRoot(config, 'conflict-probe')],
      controllers: [ConflictProbeHandler],
    })
    class ConflictProbeModule {}
    app = await NestFactory.createMicroservice(ConflictProbeModule, {
      ...kafkaMicroservice(config, { groupId: `conflict-probe-${prefix}` }),
      logger: ['error'],
    });
    await app.listen();
    recorder = await new TopicRecorder(kafka, prefix, [Topics.DeadLetter]).start();
  }, 90_000);

  afterAll(async () => {
    await recorder?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await other?.end().catch(() => undefined);
    await ds?.destroy().catch(() => undefined);
    await db?.drop();
  });

  it('retries 40001 and 40P01 once and succeeds; the only dead letter is the malformed message sent after', async () => {
    const topic = topicName(prefix, Topics.RefreshRequested);
    const event = (cardId: number) =>
      JSON.stringify(createEvent('RefreshRequested', { databaseId: 9, cardId, trigger: 'manual' }));
    await produceRaw(kafka, topic, [
      { key: '9', value: event(1) },
      { key: '9', value: event(2) },
      { key: '9', value: '{"not": "an event"' },
    ]);
    const letters = await recorder.waitFor((m) => m.event?.type === 'DeadLetter', 1, 60_000);
    expect((letters[0].event as { reason: string }).reason).toMatch(/not valid JSON/);

    expect(errors).toEqual(['40001', '40P01']);
    expect(Object.fromEntries(attempts)).toEqual({ 1: 2, 2: 2 });
    expect(done).toEqual([1, 2]);
    const rows = await ds.query<{ id: number; n: number }[]>('select id, n from counter order by id');
    // 1: the concurrent +100, then the retried +1; 2 and 3: the peer's +1000 each, the handler's +1 once each
    expect(rows).toEqual([
      { id: 1, n: 101 },
      { id: 2, n: 1001 },
      { id: 3, n: 1001 },
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(recorder.messages.filter((m) => m.event?.type === 'DeadLetter')).toHaveLength(1);
  }, 90_000);
});
