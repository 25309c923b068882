import { composeEvent, Topics } from '@model-persistence/contracts';
import { ErrorCode } from '@model-persistence/errors';
import { Kafka } from 'kafkajs';
import { EventPublisher } from './event-publisher';

/* Events built without validation (composeEvent, the refresher's hot path) are validated here, before any send. */
describe('EventPublisher.encode', () => {
  const publisher = new EventPublisher({} as Kafka, { topicPrefix: 't' } as never);
  const body = { databaseId: 1, trigger: 'manual' as const };

  it('serializes a valid event into its record', () => {
    const event = composeEvent('RefreshRequested', body);
    const [record] = publisher.encode([{ topic: Topics.RefreshRequested, key: '1', event }]);
    expect(JSON.parse(String(record.message.value))).toEqual(event);
  });

  it('refuses an invalid event, and every other event of the batch with it', () => {
    const good = composeEvent('RefreshRequested', body);
    const bad = composeEvent('RefreshRequested', { ...body, databaseId: -1 });
    expect(() =>
      publisher.encode([
        { topic: Topics.RefreshRequested, key: '1', event: good },
        { topic: Topics.RefreshRequested, key: '1', event: bad },
      ]),
    ).toThrow(expect.objectContaining({ code: ErrorCode.ValidationFailed }));
  });
});
