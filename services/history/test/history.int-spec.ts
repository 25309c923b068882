import { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import {
  createEvent,
  DeadLetter,
  databaseKey,
  DomainEvent,
  PRUNE_KEY,
  TopicName,
  topicName,
  Topics,
} from '@model-persistence/contracts';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { EventPublisher, kafkaMicroservice } from '@model-persistence/messaging';
import {
  createTestAppDatabase,
  createTestTopics,
  eventually,
  produceRaw,
  TEST_BROKERS,
  TestAppDatabase,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { Client } from 'pg';
import { AppModule } from '../src/app.module';
import { ApplyHistoryEventUseCase } from '../src/apply-history-event.use-case';
import { HistoryConfig, loadHistoryConfig } from '../src/config';
import { replayHistory } from '../src/history-replay';

const STALE_MS = 4000;

interface Row {
  task: string;
  run_id: string;
  db_id: number | null;
  started_at: Date;
  ended_at: Date | null;
  duration: number | null;
  status: string;
  task_details: Record<string, unknown>;
  last_event_at: Date | null;
}

async function rows(db: Client): Promise<Row[]> {
  const r = await db.query<Row>(
    `select task, run_id, db_id, started_at, ended_at, duration, status, task_details, last_event_at
       from task_history order by task, run_id`,
  );
  return r.rows;
}

async function row(db: Client, runId: string): Promise<Row | undefined> {
  const r = await db.query<Row>('select * from task_history where run_id = $1', [runId]);
  return r.rows[0];
}

const iso = (msAgo = 0) => new Date(Date.now() - msAgo).toISOString();

function runEvents(databaseId: number, cardId?: number) {
  const runId = randomUUID();
  const now = Date.now();
  const startedAt = new Date(now - 5000).toISOString();
  const endedAt = new Date(now).toISOString();
  const card = cardId ? { cardId } : {};
  const model = {
    runId,
    databaseId,
    trigger: 'manual' as const,
    startedAt,
    endedAt,
    durationMs: 100,
    attempts: 1,
  };
  return {
    runId,
    started: createEvent('RefreshRunStarted', {
      runId,
      databaseId,
      ...card,
      trigger: 'manual',
      requestedBy: 'int-test',
      startedAt,
      modelCount: 2,
    }),
    ok: createEvent('RefreshSucceeded', {
      ...model,
      cardId: cardId ?? 21,
      persistedInfoId: 1,
      schemaName: 's',
      tableName: 't',
      rows: 3,
    }),
    failed: createEvent('RefreshFailed', {
      ...model,
      cardId: 22,
      persistedInfoId: 2,
      outcome: 'error',
      errorClass: 'query',
      errorCode: 'SOURCE_QUERY',
      message: 'syntax error at or near "selec"',
    }),
    completed: (success: number, error: number) =>
      createEvent('RefreshRunCompleted', {
        runId,
        databaseId,
        ...card,
        trigger: 'manual',
        startedAt,
        endedAt,
        durationMs: 5000,
        success,
        error,
        skipped: 0,
        errorDetails:
          error > 0 ? [{ persistedInfoId: 2, cardId: 22, error: 'syntax error at or near "selec"' }] : [],
      }),
  };
}

describe('history projector (real Kafka + PostgreSQL)', () => {
  const prefix = uniqueTopicPrefix('history');
  let appDb: TestAppDatabase;
  let replayDb: TestAppDatabase | undefined;
  let config: HistoryConfig;
  let kafka: Kafka;
  let app: INestMicroservice;
  let publisher: EventPublisher;
  let deadLetters: TopicRecorder;
  let db: Client;

  const publish = (topic: TopicName, key: string, ...events: DomainEvent[]) =>
    publisher.publishAll(events.map((event) => ({ topic, key, event })));

  beforeAll(async () => {
    appDb = await createTestAppDatabase('history');
    config = loadHistoryConfig({
      NODE_ENV: 'test',
      DATABASE_URL: appDb.url,
      DATABASE_POOL_SIZE: '4',
      KAFKA_BROKERS: TEST_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: '3',
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      HISTORY_STALE_RUN_TIMEOUT_MS: String(STALE_MS),
      HISTORY_SWEEP_INTERVAL_MS: '300',
    });
    kafka = await createTestTopics(config.kafka);
    app = await NestFactory.createMicroservice(AppModule.forRoot(config), {
      ...kafkaMicroservice(config.kafka, { groupId: `history-projector-${prefix}`, concurrency: 3 }),
      logger: ['error'],
    });
    await app.listen();
    publisher = app.get(EventPublisher);
    deadLetters = await new TopicRecorder(kafka, prefix, [Topics.DeadLetter]).start();
    db = new Client({ connectionString: appDb.url });
    await db.connect();
  }, 90_000);

  afterAll(async () => {
    await deadLetters?.stop();
    await app?.close();
    await db?.end();
    await appDb?.drop();
    await replayDb?.drop();
  }, 60_000);

  it('projects database runs, individual refreshes and prune runs into task_history', async () => {
    const dbRun = runEvents(7);
    await publish(Topics.RefreshRuns, databaseKey(7), dbRun.started);
    await publish(Topics.RefreshSucceeded, databaseKey(7), dbRun.ok);
    await publish(Topics.RefreshFailed, databaseKey(7), dbRun.failed);
    await publish(Topics.RefreshRuns, databaseKey(7), dbRun.completed(1, 1));

    const single = runEvents(8, 31);
    await publish(Topics.RefreshRuns, databaseKey(8), single.started);
    await publish(Topics.RefreshSucceeded, databaseKey(8), single.ok);
    await publish(Topics.RefreshRuns, databaseKey(8), single.completed(1, 0));

    const pruneId = randomUUID();
    const pruneStart = iso(1000);
    const pruneEnd = new Date(Date.parse(pruneStart) + 1000).toISOString();
    await publish(
      Topics.PruneRuns,
      PRUNE_KEY,
      createEvent('PruneRunStarted', {
        runId: pruneId,
        trigger: 'scheduled',
        startedAt: pruneStart,
        candidateCount: 2,
      }),
      createEvent('PruneRunCompleted', {
        runId: pruneId,
        trigger: 'scheduled',
        startedAt: pruneStart,
        endedAt: pruneEnd,
        durationMs: 1000,
        success: 1,
        error: 1,
        skipped: 0,
      }),
    );

    const db7 = await eventually(async () => {
      const r = await row(db, dbRun.runId);
      return r?.status === 'failed' && r.task_details['model-count'] !== undefined ? r : null;
    });
    expect(db7).toMatchObject({
      task: 'persist-refresh',
      db_id: 7,
      started_at: new Date(dbRun.started.startedAt),
      ended_at: new Date(dbRun.completed(1, 1).endedAt),
      duration: 5000,
      task_details: {
        success: 1,
        error: 1,
        skipped: 0,
        trigger: 'manual',
        'model-count': 2,
        'requested-by': 'int-test',
        'error-details': [
          { 'persisted-info-id': 2, 'card-id': 22, error: 'syntax error at or near "selec"' },
        ],
      },
    });

    const card = await eventually(async () =>
      (await row(db, single.runId))?.status === 'success' ? row(db, single.runId) : null,
    );
    expect(card).toMatchObject({
      task: 'persist-refresh',
      db_id: 8,
      task_details: { 'card-id': 31, trigger: 'manual', success: 1, error: 0 },
    });

    const prune = await eventually(async () => {
      const r = await row(db, pruneId);
      return r?.status === 'failed' && r.task_details['candidate-count'] === 2 ? r : null;
    });
    expect(prune).toMatchObject({
      task: 'unpersist-tables',
      db_id: null,
      duration: 1000,
      task_details: { success: 1, error: 1, skipped: 0, trigger: 'scheduled' },
    });
  }, 60_000);

  it('applies a redelivered event once', async () => {
    const run = runEvents(9);
    await publish(Topics.RefreshRuns, databaseKey(9), run.started);
    const topic = topicName(prefix, Topics.RefreshFailed);
    // the same event three times (a producer retry, a redelivery), then a sentinel behind it on the partition
    const sentinel = runEvents(9);
    await produceRaw(kafka, topic, [
      { key: databaseKey(9), value: JSON.stringify(run.failed) },
      { key: databaseKey(9), value: JSON.stringify(run.failed) },
      { key: databaseKey(9), value: JSON.stringify(run.failed) },
      { key: databaseKey(9), value: JSON.stringify(sentinel.failed) },
    ]);
    await publish(Topics.RefreshSucceeded, databaseKey(9), run.ok, run.ok);
    await eventually(() => row(db, sentinel.runId));
    const r = await eventually(async () => {
      const x = await row(db, run.runId);
      return x?.task_details.success === 1 && x.task_details['model-count'] === 2 ? x : null;
    });
    expect(r.task_details).toMatchObject({ success: 1, error: 1, skipped: 0 });
    expect(r.task_details['error-details']).toHaveLength(1);

    // a duplicate completion changes nothing either
    const completed = run.completed(1, 1);
    await publish(Topics.RefreshRuns, databaseKey(9), completed, completed);
    const done = await eventually(async () =>
      (await row(db, run.runId))?.status === 'failed' ? row(db, run.runId) : null,
    );
    expect(done.task_details).toMatchObject({ success: 1, error: 1 });
    const inbox = await db.query('select count(*)::int as n from inbox where event_id = $1', [
      completed.eventId,
    ]);
    expect(inbox.rows[0].n).toBe(1);
  }, 60_000);

  it('gives the right final row when the completion arrives before the start and the model events', async () => {
    const run = runEvents(10);
    await publish(Topics.RefreshRuns, databaseKey(10), run.completed(0, 1), run.started);
    await publish(Topics.RefreshSucceeded, databaseKey(10), run.ok);
    await publish(Topics.RefreshFailed, databaseKey(10), run.failed);
    const r = await eventually(async () => {
      const x = await row(db, run.runId);
      const applied = await db.query('select count(*)::int as n from inbox where event_id = any($1)', [
        [run.ok.eventId, run.failed.eventId, run.started.eventId],
      ]);
      return x && applied.rows[0].n === 3 ? x : null;
    });
    expect(r).toMatchObject({
      status: 'failed',
      started_at: new Date(run.started.startedAt),
      duration: 5000,
      task_details: { success: 0, error: 1, skipped: 0, 'model-count': 2 },
    });
  }, 60_000);

  it('closes a run that stops sending events as failed with the reason, and a later completion wins', async () => {
    const run = runEvents(11);
    await publish(Topics.RefreshRuns, databaseKey(11), run.started);
    await publish(Topics.RefreshSucceeded, databaseKey(11), run.ok);
    const open = await eventually(async () => {
      const r = await row(db, run.runId);
      return r?.task_details.success === 1 ? r : null;
    });
    // processed long before the timeout, so the row is open at first
    expect(['started', 'failed']).toContain(open.status);
    const closed = await eventually(async () => {
      const r = await row(db, run.runId);
      return r?.status === 'failed' ? r : null;
    }, 20_000);
    expect(closed.task_details).toMatchObject({ stale: true, success: 1 });
    expect(closed.task_details.reason).toMatch(
      /run never completed: no RefreshRunCompleted .* the refresher probably stopped mid-run/,
    );
    expect(closed.ended_at).toEqual(closed.last_event_at);

    await publish(Topics.RefreshRuns, databaseKey(11), run.completed(2, 0));
    const won = await eventually(async () =>
      (await row(db, run.runId))?.status === 'success' ? row(db, run.runId) : null,
    );
    expect(won.task_details).not.toHaveProperty('stale');
    expect(won.task_details).not.toHaveProperty('reason');
    expect(won.task_details).toMatchObject({ success: 2, error: 0 });
    expect(won.ended_at).toEqual(new Date(run.completed(2, 0).endedAt));
  }, 60_000);

  it('dead-letters bad events with the reason and keeps projecting', async () => {
    const run = runEvents(12);
    await publish(Topics.RefreshRuns, databaseKey(12), run.started);
    await eventually(() => row(db, run.runId));
    const topic = topicName(prefix, Topics.RefreshRuns);
    const backwards = { ...run.completed(1, 0), eventId: randomUUID(), endedAt: iso(60_000) };
    const otherDb = { ...run.completed(1, 0), eventId: randomUUID(), databaseId: 13 };
    await produceRaw(kafka, topic, [
      { key: databaseKey(12), value: '{"type":"RefreshRunStarted",' },
      {
        key: databaseKey(12),
        value: JSON.stringify(createEvent('RefreshRequested', { databaseId: 12, trigger: 'manual' })),
      },
      { key: databaseKey(12), value: JSON.stringify(backwards) },
      { key: databaseKey(12), value: JSON.stringify(otherDb) },
    ]);
    const letters = await deadLetters.waitFor(
      (m) => m.event?.type === 'DeadLetter' && m.event.source.topic === topic,
      4,
    );
    const reasons = letters.map((m) => (m.event as DeadLetter).reason);
    expect(reasons.some((r) => /not valid JSON/.test(r))).toBe(true);
    expect(reasons.some((r) => /RefreshRequested is not accepted/.test(r))).toBe(true);
    expect(reasons.some((r) => /is before startedAt/.test(r))).toBe(true);
    expect(reasons.some((r) => /belongs to database 12, the event says 13/.test(r))).toBe(true);
    for (const l of letters) expect((l.event as DeadLetter).source.consumerGroup).toBe('history-projector');

    const r = await row(db, run.runId);
    expect(r!.db_id).toBe(12);
    // nothing of the rejected completions was applied, and the projector still works
    await publish(Topics.RefreshRuns, databaseKey(12), run.completed(1, 0));
    await eventually(async () => (await row(db, run.runId))?.status === 'success');
  }, 60_000);

  it('projects a burst of model events of one run from two topics exactly', async () => {
    const run = runEvents(15);
    const ok = Array.from({ length: 20 }, (_, i) =>
      createEvent('RefreshSucceeded', { ...run.ok, eventId: randomUUID(), cardId: 100 + i }),
    );
    const failed = Array.from({ length: 20 }, (_, i) =>
      createEvent('RefreshFailed', { ...run.failed, eventId: randomUUID(), cardId: 200 + i }),
    );
    // no RunStarted: the first model events race to create the row
    await Promise.all([
      publish(Topics.RefreshSucceeded, databaseKey(15), ...ok),
      publish(Topics.RefreshFailed, databaseKey(15), ...failed),
    ]);
    const r = await eventually(async () => {
      const x = await row(db, run.runId);
      return x && (x.task_details.success as number) + (x.task_details.error as number) === 40 ? x : null;
    });
    expect(r.task_details).toMatchObject({ success: 20, error: 20, skipped: 0 });
    expect(r.task_details['error-details']).toHaveLength(20);
  }, 60_000);

  it('serializes concurrent events of one run: no lost update, even when they race to create the row', async () => {
    const apply = app.get(ApplyHistoryEventUseCase);
    const run = runEvents(16);
    const events = Array.from({ length: 24 }, (_, i) =>
      i % 2 === 0
        ? createEvent('RefreshSucceeded', { ...run.ok, eventId: randomUUID(), cardId: 300 + i })
        : createEvent('RefreshFailed', { ...run.failed, eventId: randomUUID(), cardId: 300 + i }),
    );
    // straight through the use-case, as concurrent partitions or replicas would, on a pool of 4 connections
    const outcomes = await Promise.all([...events, events[0], events[1]].map((e) => apply.execute(e)));
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(24);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(2);
    const r = await row(db, run.runId);
    expect(r!.task_details).toMatchObject({ success: 12, error: 12, skipped: 0 });

    // the same events through Kafka (so the log holds them for the replay): all duplicates, nothing changes
    const sentinel = runEvents(16);
    await publish(
      Topics.RefreshSucceeded,
      databaseKey(16),
      ...events.filter((e) => e.type === 'RefreshSucceeded'),
    );
    await publish(Topics.RefreshFailed, databaseKey(16), ...events.filter((e) => e.type === 'RefreshFailed'));
    await publish(Topics.RefreshSucceeded, databaseKey(16), sentinel.ok);
    await publish(Topics.RefreshFailed, databaseKey(16), sentinel.failed);
    await eventually(async () => (await row(db, sentinel.runId))?.task_details.error === 1);
    await eventually(async () => (await row(db, sentinel.runId))?.task_details.success === 1);
    expect((await row(db, run.runId))!.task_details).toMatchObject({ success: 12, error: 12, skipped: 0 });
  }, 60_000);

  it('replay rebuilds task_history equal to the live table, row for row', async () => {
    // one run left open: the live sweep closes it, the replay must close it identically
    const open = runEvents(14);
    await publish(Topics.RefreshRuns, databaseKey(14), open.started);
    await eventually(async () => (await row(db, open.runId))?.status === 'failed', 20_000);

    await expect(
      replayHistory({
        kafka: config.kafka,
        databaseUrl: appDb.url,
        consumer: config.consumerGroup,
        staleRunTimeoutMs: STALE_MS,
      }),
    ).rejects.toThrow(DomainError);

    replayDb = await createTestAppDatabase('historyreplay');
    const report = await replayHistory({
      kafka: config.kafka,
      databaseUrl: replayDb.url,
      consumer: config.consumerGroup,
      staleRunTimeoutMs: STALE_MS,
    });
    const live = await rows(db);
    const replayClient = new Client({ connectionString: replayDb.url });
    await replayClient.connect();
    try {
      const replayed = await rows(replayClient);
      expect(live.length).toBeGreaterThanOrEqual(9);
      expect(new Set(live.map((r) => r.status))).toEqual(new Set(['success', 'failed']));
      expect(replayed).toEqual(live);
      expect(report).toMatchObject({ rows: live.length, invalid: 4 });
      expect(report.duplicates).toBeGreaterThanOrEqual(4);
    } finally {
      await replayClient.end();
    }
  }, 60_000);

  it('refuses a replay into a non-empty table unless told to truncate', async () => {
    const err = await replayHistory({
      kafka: config.kafka,
      databaseUrl: replayDb!.url,
      consumer: config.consumerGroup,
      staleRunTimeoutMs: STALE_MS,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(ErrorCode.Conflict);
    expect((err as Error).message).toMatch(/replay needs an empty target: task_history has \d+ row/);
    const again = await replayHistory({
      kafka: config.kafka,
      databaseUrl: replayDb!.url,
      consumer: config.consumerGroup,
      staleRunTimeoutMs: STALE_MS,
      truncate: true,
    });
    const c = new Client({ connectionString: replayDb!.url });
    await c.connect();
    try {
      expect(await rows(c)).toEqual(await rows(db));
      expect(again.duplicates).toBeGreaterThanOrEqual(4);
    } finally {
      await c.end();
    }
  }, 60_000);
});
