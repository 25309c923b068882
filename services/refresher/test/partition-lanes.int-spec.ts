import { INestApplication } from '@nestjs/common';
import { createEvent, databaseKey, topicName, Topics } from '@model-persistence/contracts';
import { produceRaw } from '@model-persistence/testing';
import { Partitioners } from 'kafkajs';
import { createRefresherStack, refresherEnv, RefresherStack, startRefresher } from './refresher.test-kit';

/*
 * Databases that Kafka's murmur2 puts on the same partition are refreshed at once (each database's requests still
 * in order), within the replica's fixed capacity. Before, a partition was handled one message at a time, so the
 * databases sharing a partition queued behind each other while other partitions sat empty.
 */
jest.setTimeout(120_000);

const PARTITIONS = 3; // the test topics' partition count (refresher.test-kit createBus)
const partitionOf = (databaseId: number) =>
  Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: PARTITIONS }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      offlineReplicas: [],
      partitionErrorCode: 0,
    })),
    message: { key: databaseKey(databaseId), value: null },
  });

const SLEEP_S = 1.5;

describe('databases sharing a partition (postgres)', () => {
  let stack: RefresherStack;
  let refresher: INestApplication;
  const sharing: number[] = [];

  beforeAll(async () => {
    stack = await createRefresherStack('lanes', 'postgres');
    // register databases until two of them share a partition
    const byPartition = new Map<number, number[]>();
    for (let i = 0; sharing.length === 0 && i < 20; i++) {
      const id = await stack.app.addDatabase({ name: `lanes-${i}`, source: stack.src.connection });
      const list = [...(byPartition.get(partitionOf(id)) ?? []), id];
      byPartition.set(partitionOf(id), list);
      if (list.length === 2) sharing.push(...list);
    }
    expect(sharing).toHaveLength(2);
    for (const databaseId of sharing)
      await stack.app.addCard({
        databaseId,
        name: `slow-${databaseId}`,
        sql: `select 1 as n from (select pg_sleep(${SLEEP_S})) s`,
      });
    // capacity 2 (one consumer × 2 partitions' worth): enough for both databases at once, never more
    refresher = await startRefresher(
      refresherEnv(stack.app.db.url, stack.bus.prefix, {
        REFRESHER_CONCURRENCY: '1',
        REFRESHER_PARTITIONS_PER_CONSUMER: '2',
      }),
    );
  }, 90_000);

  afterAll(async () => {
    await stack?.close(refresher);
  });

  const span = (runId: string) => {
    const started = stack.bus.events('RefreshRunStarted', runId)[0];
    const done = stack.bus.events('RefreshRunCompleted', runId)[0];
    return { start: Date.parse(started.startedAt), end: Date.parse(done.endedAt) };
  };

  it('runs two databases of one partition at once', async () => {
    // one produce request, as a scheduled fire publishes its databases: both arrive in the same fetch
    const [a, b] = sharing.map((databaseId) =>
      createEvent('RefreshRequested', { databaseId, trigger: 'scheduled' }),
    );
    await produceRaw(
      stack.bus.kafka,
      topicName(stack.bus.prefix, Topics.RefreshRequested),
      [a, b].map((e) => ({ key: databaseKey(e.databaseId), value: JSON.stringify(e) })),
    );
    const [doneA, doneB] = await Promise.all([stack.bus.waitRun(a.eventId), stack.bus.waitRun(b.eventId)]);
    expect(doneA).toMatchObject({ success: 1, error: 0 });
    expect(doneB).toMatchObject({ success: 1, error: 0 });
    const [sa, sb] = [span(a.eventId), span(b.eventId)];
    // the runs overlap on the wire: each started before the other ended
    expect(sa.start).toBeLessThan(sb.end);
    expect(sb.start).toBeLessThan(sa.end);
  });

  it("keeps one database's requests in order: the second starts after the first ended", async () => {
    const [databaseId] = sharing;
    const first = await stack.bus.request({ databaseId, trigger: 'manual' });
    const second = await stack.bus.request({ databaseId, trigger: 'manual' });
    await Promise.all([stack.bus.waitRun(first.eventId), stack.bus.waitRun(second.eventId)]);
    expect(span(second.eventId).start).toBeGreaterThanOrEqual(span(first.eventId).end);
  });
});
