/*
 * A staged batch is on the broker before its moment (a read_uncommitted reader sees it) but no read_committed
 * reader — every consumer of this project — sees any of it before `commit`, and all of it after; an aborted batch
 * is never seen by them, and the partitions move on past it.
 */
import { createEvent, RefreshRequested, topicName, Topics } from '@model-persistence/contracts';
import {
  createTestTopics,
  testKafkaConfig,
  TopicRecorder,
  uniqueTopicPrefix,
} from '@model-persistence/testing';
import { Kafka } from 'kafkajs';
import { EncodedEvent, EventPublisher, StagedPublisher } from '../src/index';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StagedPublisher (real Kafka)', () => {
  const prefix = uniqueTopicPrefix('staged');
  const config = testKafkaConfig(prefix);
  let kafka: Kafka;
  let staging: StagedPublisher;
  let plain: EventPublisher;
  let committed: TopicRecorder;
  let uncommitted: TopicRecorder;

  const requests = (label: string, n: number): EncodedEvent[] =>
    plain.encode(
      Array.from({ length: n }, (_, i) => ({
        topic: Topics.RefreshRequested,
        key: String(i + 1),
        event: createEvent('RefreshRequested', {
          databaseId: i + 1,
          trigger: 'scheduled',
          requestedBy: 'scheduler',
        }),
        headers: { batch: label },
      })),
    );
  const ofBatch = (r: TopicRecorder, label: string) =>
    r.messages.filter((m) => m.headers.batch?.toString() === label);

  beforeAll(async () => {
    kafka = await createTestTopics(config);
    plain = new EventPublisher(kafka, { topicPrefix: prefix, partitions: config.partitions });
    staging = new StagedPublisher(kafka, `${prefix}staged-test`);
    committed = await new TopicRecorder(kafka, prefix, [Topics.RefreshRequested]).start();
    uncommitted = await new TopicRecorder(kafka, prefix, [Topics.RefreshRequested], {
      readUncommitted: true,
    }).start();
  }, 60_000);

  afterAll(async () => {
    await staging?.onApplicationShutdown();
    await plain?.onApplicationShutdown();
    await committed?.stop();
    await uncommitted?.stop();
  }, 30_000);

  it('commit: nothing visible to read_committed readers before it, all of it after, stamped with the moment', async () => {
    const moment = Date.now() + 60_000;
    const batch = await staging.stage(requests('a', 50), moment);
    expect(batch?.records).toBe(50);
    // the records are on the broker already
    await uncommitted.waitFor((m) => m.headers.batch?.toString() === 'a', 50, 20_000);
    // one process, one staged batch at a time
    expect(await staging.stage(requests('busy', 1), moment)).toBeNull();
    await sleep(1500);
    expect(ofBatch(committed, 'a')).toEqual([]);

    const committedAt = Date.now();
    await batch!.commit();
    const seen = await committed.waitFor((m) => m.headers.batch?.toString() === 'a', 50, 20_000);
    expect(seen.every((m) => m.receivedAt >= committedAt)).toBe(true);
    expect(new Set(seen.map((m) => (m.event as RefreshRequested).databaseId)).size).toBe(50);
    expect(seen.every((m) => m.raw.timestamp === String(moment))).toBe(true);
  }, 60_000);

  it('abort: never visible to read_committed readers, and records sent after it are', async () => {
    const batch = await staging.stage(requests('b', 20), Date.now());
    await uncommitted.waitFor((m) => m.headers.batch?.toString() === 'b', 20, 20_000);
    await batch!.abort();
    await plain.publishEncoded(requests('after-b', 3));
    await committed.waitFor((m) => m.headers.batch?.toString() === 'after-b', 3, 20_000);
    await sleep(500);
    expect(ofBatch(committed, 'b')).toEqual([]);
    // a new batch can be staged once the last one ended
    const next = await staging.stage(requests('c', 2), Date.now());
    await next!.commit();
    await committed.waitFor((m) => m.headers.batch?.toString() === 'c', 2, 20_000);
  }, 60_000);

  it('the topic name is the prefixed one (what EventPublisher.encode gave)', () => {
    expect(requests('x', 1)[0].topic).toBe(topicName(prefix, Topics.RefreshRequested));
  });
});
