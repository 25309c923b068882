import { randomBytes } from 'node:crypto';
import {
  consumerGroupSelectors,
  schedulerConsumerGroupOf,
  topicName,
  Topics,
} from '@model-persistence/contracts';
import { createTestTopics, eventually, testKafkaConfig, uniqueTopicPrefix } from '@model-persistence/testing';
import { Admin, Consumer, Kafka } from 'kafkajs';
import { KafkaAdminGaugeSource } from '../src/ops-gauges';

/**
 * The consumer-lag gauge against a real broker: it reports the groups the services really use (the configured
 * refresher group, the scheduler's per-instance groups), not names nobody consumes with.
 */
const prefix = uniqueTopicPrefix('lag');
const tag = randomBytes(4).toString('hex');
const refresherGroup = `refresher-custom-${tag}`;
const liveScheduler = schedulerConsumerGroupOf(`inst-${tag}`);
const deadScheduler = schedulerConsumerGroupOf(`dead-${tag}`);
let kafka: Kafka;
let admin: Admin;
let scheduler: Consumer;

async function produce(topic: string, count: number) {
  const p = kafka.producer({ allowAutoTopicCreation: false });
  await p.connect();
  await p.send({
    topic,
    acks: -1,
    messages: Array.from({ length: count }, (_, i) => ({ partition: 0, key: 'k', value: `m${i}` })),
  });
  await p.disconnect();
}

beforeAll(async () => {
  kafka = await createTestTopics(testKafkaConfig(prefix));
  admin = kafka.admin();
  await admin.connect();
  const requested = topicName(prefix, Topics.RefreshRequested);
  const changed = topicName(prefix, Topics.ConfigChanged);
  await produce(requested, 5);
  await produce(changed, 4);
  // the refreshers (configured group) have processed 2 of the 5 requests
  await admin.setOffsets({
    groupId: refresherGroup,
    topic: requested,
    partitions: [{ partition: 0, offset: '2' }],
  });
  // a scheduler instance that stopped long ago: its empty group must not be reported (it would lag forever)
  await admin.setOffsets({
    groupId: deadScheduler,
    topic: changed,
    partitions: [{ partition: 0, offset: '0' }],
  });
  // a live scheduler instance that has committed nothing yet: all 4 changes are pending for it
  scheduler = kafka.consumer({ groupId: liveScheduler, sessionTimeout: 10_000 });
  await scheduler.connect();
  await scheduler.subscribe({ topic: changed, fromBeginning: false });
  let joined!: () => void;
  const join = new Promise<void>((r) => (joined = r));
  scheduler.on(scheduler.events.GROUP_JOIN, () => joined());
  await scheduler.run({ autoCommit: false, eachMessage: async () => undefined });
  await join;
}, 60_000);

afterAll(async () => {
  await scheduler?.disconnect();
  await admin?.deleteGroups([refresherGroup, deadScheduler, liveScheduler]).catch(() => undefined);
  await admin?.disconnect();
}, 60_000);

describe('consumer-lag gauge (real Kafka)', () => {
  it('reports lag for the configured refresher group and the live per-instance scheduler groups', async () => {
    const source = new KafkaAdminGaugeSource(admin, prefix, consumerGroupSelectors({ refresherGroup }));
    const lag = await eventually(async () => {
      const l = await source.consumerLag();
      return l.some((x) => x.group === liveScheduler) ? l : null;
    }, 20_000);
    const byGroup = (group: string) =>
      lag.filter((l) => l.group === group).map((l) => ({ topic: l.topic, lag: l.lag }));
    expect(byGroup(refresherGroup)).toEqual([
      { topic: Topics.RefreshRequested, lag: 3 },
      { topic: Topics.PruneRequested, lag: 0 },
    ]);
    expect(byGroup(liveScheduler)).toEqual([{ topic: Topics.ConfigChanged, lag: 4 }]);
    // no made-up names, no dead instance, no other deployment's scheduler groups on the same broker
    const groups = new Set(lag.map((l) => l.group));
    expect(groups.has('scheduler')).toBe(false);
    expect(groups.has('refresher')).toBe(false);
    expect(groups.has(deadScheduler)).toBe(false);
    expect([...groups].filter((g) => g.startsWith('scheduler-'))).toEqual([liveScheduler]);
  }, 60_000);
});
