import { allTopics } from '@model-persistence/contracts';
import { Kafka, KafkaJSProtocolError } from 'kafkajs';
import { ensureTopics } from './topic-admin';

/** As kafkajs builds one from a broker's error code. */
function protocolError(type: string, code: number, retriable: boolean, message: string): Error {
  return new KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable }));
}

/** A broker's metadata answer before it learned of a topic just created (KRaft, under load). */
const unknownTopic = () =>
  protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host this topic-partition');

function fakeKafka(createTopics: () => Promise<boolean>, metadata: (topics: string[]) => unknown[]) {
  const calls = { metadata: 0 };
  const admin = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    listTopics: () => Promise.resolve([]),
    createTopics,
    fetchTopicMetadata: ({ topics }: { topics: string[] }) => {
      calls.metadata++;
      return Promise.resolve({ topics: metadata(topics) });
    },
  };
  return { kafka: { admin: () => admin } as unknown as Kafka, calls };
}

describe('ensureTopics', () => {
  const led = (topics: string[]) =>
    topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] }));

  it('waits for the leaders itself when the broker does not know the created topics yet', async () => {
    let n = 0;
    const { kafka, calls } = fakeKafka(
      () => Promise.reject(unknownTopic()),
      (topics) => {
        n++;
        if (n === 1) throw unknownTopic();
        if (n === 2) return topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: -1 }] }));
        return led(topics);
      },
    );
    await expect(ensureTopics(kafka, 'p', 1)).resolves.toBeUndefined();
    expect(calls.metadata).toBe(3);
  });

  it('fails on an error that waiting cannot cure', async () => {
    const { kafka, calls } = fakeKafka(
      () => Promise.reject(protocolError('POLICY_VIOLATION', 44, false, 'no')),
      led,
    );
    await expect(ensureTopics(kafka, 'p', 1)).rejects.toThrow('no');
    expect(calls.metadata).toBe(0);
  });

  it('creates nothing and waits for nothing when every topic exists', async () => {
    const { kafka, calls } = fakeKafka(() => Promise.reject(new Error('must not be called')), led);
    const admin = kafka.admin();
    admin.listTopics = () => Promise.resolve(allTopics('p', 1).map((t) => t.topic));
    await expect(ensureTopics(kafka, 'p', 1)).resolves.toBeUndefined();
    expect(calls.metadata).toBe(0);
  });
});
