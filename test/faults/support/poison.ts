/* Malformed and hostile Kafka messages for the poison-input scenario (deterministic by index). */
import { randomUUID } from 'node:crypto';
import { createEvent, Topics, TopicName } from '@model-persistence/contracts';

export interface PoisonMessage {
  id: string;
  kind: string;
  topic: TopicName;
  key: string | null;
  value: Buffer | string | null;
}

const SQL = `'; DROP TABLE card; DROP TABLE persisted_info; --`;

const envelope = (type: string, version = 1) => ({
  type,
  version,
  eventId: randomUUID(),
  occurredAt: new Date().toISOString(),
});

/** Bodies per topic that pass the envelope but break the event schema in one way each. */
function wrongTypes(topic: TopicName): Record<string, unknown> {
  switch (topic) {
    case Topics.RefreshRequested:
      return { ...envelope('RefreshRequested'), databaseId: 'one', trigger: 'manual' };
    case Topics.PruneRequested:
      return { ...envelope('PruneRequested'), trigger: 42 };
    case Topics.ConfigChanged:
      return { ...envelope('ConfigurationChanged'), entity: ['card'], change: 'updated' };
    case Topics.RefreshSucceeded:
      return { ...envelope('RefreshSucceeded'), runId: 7, databaseId: '1', cardId: null };
    case Topics.RefreshFailed:
      return { ...envelope('RefreshFailed'), runId: randomUUID(), databaseId: 1, outcome: true };
    case Topics.RefreshRuns:
      return { ...envelope('RefreshRunCompleted'), runId: randomUUID(), databaseId: 1, success: '3' };
    default:
      return { ...envelope('PruneRunCompleted'), runId: randomUUID(), success: -1 };
  }
}

function typeOf(topic: TopicName): string {
  return {
    [Topics.RefreshRequested]: 'RefreshRequested',
    [Topics.PruneRequested]: 'PruneRequested',
    [Topics.ConfigChanged]: 'ConfigurationChanged',
    [Topics.RefreshSucceeded]: 'RefreshSucceeded',
    [Topics.RefreshFailed]: 'RefreshFailed',
    [Topics.RefreshRuns]: 'RefreshRunCompleted',
    [Topics.PruneRuns]: 'PruneRunCompleted',
  }[topic as string] as string;
}

const KINDS = [
  'bad-json',
  'not-json-binary',
  'wrong-types',
  'unknown-version',
  'negative-ids',
  'sql-in-names',
  'empty-object',
  'null-value',
  'unknown-type',
  'wrong-type-for-topic',
  'array',
  'huge-string',
] as const;

/** The i-th bad message: kinds and topics cycle; every `hugeEvery`-th is a 1 MB string. */
export function poisonMessage(i: number, topics: TopicName[], hugeEvery: number): PoisonMessage {
  const topic = topics[i % topics.length];
  const kind = (i + 1) % hugeEvery === 0 ? 'huge-string' : KINDS[i % (KINDS.length - 1)];
  const id = `poison-${i}`;
  const key = i % 5 === 0 ? null : String(i % 7);
  const type = typeOf(topic);
  let value: Buffer | string | null;
  switch (kind) {
    case 'bad-json':
      value = `{"type":"${type}","version":1,"eventId":`;
      break;
    case 'not-json-binary':
      value = Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x80, 0x81, i % 256]);
      break;
    case 'wrong-types':
      value = JSON.stringify(wrongTypes(topic));
      break;
    case 'unknown-version':
      value = JSON.stringify({ ...wrongTypes(topic), ...envelope(type, 99) });
      break;
    case 'negative-ids':
      value = JSON.stringify({
        ...envelope(type),
        databaseId: -i - 1,
        cardId: -5,
        runId: randomUUID(),
        trigger: 'manual',
        entity: 'card',
        entityId: -3,
        change: 'updated',
      });
      break;
    case 'sql-in-names':
      value = JSON.stringify({
        ...envelope(type),
        databaseId: `1; ${SQL}`,
        runId: `${SQL}`,
        trigger: 'manual',
        entity: `card${SQL}`,
        change: 'updated',
      });
      break;
    case 'empty-object':
      value = '{}';
      break;
    case 'null-value':
      value = null;
      break;
    case 'unknown-type':
      value = JSON.stringify({ ...envelope(`Drop${SQL}`), databaseId: 1 });
      break;
    case 'wrong-type-for-topic':
      // a perfectly valid event, on a topic that does not carry it
      value = JSON.stringify(
        topic === Topics.ConfigChanged
          ? createEvent('PruneRequested', { trigger: 'manual' })
          : createEvent('ConfigurationChanged', { entity: 'card', change: 'updated', entityId: 1 }),
      );
      break;
    case 'array':
      value = JSON.stringify([{ ...envelope(type) }]);
      break;
    default:
      value = JSON.stringify({
        ...envelope(type),
        databaseId: 1,
        trigger: 'manual',
        requestedBy: 'x'.repeat(1_000_000),
        entity: 'card',
        change: 'updated',
      });
  }
  return { id, kind, topic, key, value };
}
