import { KafkaContext } from '@nestjs/microservices';
import { createEvent } from '@model-persistence/contracts';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { isOutage, KafkaMessageProcessor } from './message-processor';

function context(value: string): KafkaContext {
  const message = {
    value: Buffer.from(value),
    key: Buffer.from('1'),
    headers: {},
    offset: '7',
    timestamp: '0',
  };
  return {
    getMessage: () => message,
    getTopic: () => 't.refresh.requested',
    getPartition: () => 0,
    getHeartbeat: () => () => Promise.resolve(),
  } as unknown as KafkaContext;
}

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('KafkaMessageProcessor: outages of the app database or the broker', () => {
  const event = JSON.stringify(createEvent('RefreshRequested', { databaseId: 1, trigger: 'manual' }));
  const backoff = { retries: 1, baseMs: 1, maxMs: 2, jitter: 0 };
  let deadLetters: { publish: jest.Mock };
  let processor: KafkaMessageProcessor;

  beforeEach(() => {
    deadLetters = { publish: jest.fn().mockResolvedValue(undefined) };
    processor = new KafkaMessageProcessor(
      deadLetters as unknown as DeadLetterPublisher,
      {
        topicPrefix: 't.',
        consumerGroup: 'g',
      } as never,
    );
  });

  it('keeps retrying a connection failure past the retry count while the outage window lasts', async () => {
    let calls = 0;
    const handle = jest.fn(() => (++calls < 20 ? Promise.reject(refused()) : Promise.resolve()));
    const outcome = await processor.process(context(event), {
      accept: ['RefreshRequested'],
      handle,
      backoff,
      outageRetryMs: 60_000,
    });
    expect(outcome).toBe('processed');
    expect(handle).toHaveBeenCalledTimes(20);
    expect(deadLetters.publish).not.toHaveBeenCalled();
  });

  it('dead-letters once the outage window has passed', async () => {
    const handle = jest.fn(() => Promise.reject(refused()));
    const outcome = await processor.process(context(event), {
      accept: ['RefreshRequested'],
      handle,
      backoff,
      outageRetryMs: 0,
    });
    expect(outcome).toBe('dead-lettered');
    expect(handle).toHaveBeenCalledTimes(2);
    expect(deadLetters.publish).toHaveBeenCalledTimes(1);
  });

  it('bounds other retryable errors by the retry count', async () => {
    const handle = jest.fn(() => Promise.reject(new DomainError(ErrorCode.SourceConnection, 'source down')));
    const outcome = await processor.process(context(event), {
      accept: ['RefreshRequested'],
      handle,
      backoff,
      outageRetryMs: 60_000,
    });
    expect(outcome).toBe('dead-lettered');
    expect(handle).toHaveBeenCalledTimes(2);
  });

  it('classifies outages', () => {
    expect(isOutage(refused())).toBe(true);
    expect(isOutage(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isOutage(new DomainError(ErrorCode.AppDatabaseUnavailable, 'x'))).toBe(true);
    expect(isOutage(new DomainError(ErrorCode.BrokerUnavailable, 'x'))).toBe(true);
    expect(isOutage(new DomainError(ErrorCode.SourceConnection, 'x'))).toBe(false);
    expect(isOutage(new Error('boom'))).toBe(false);
  });
});
