import { DeadLetter } from '@model-persistence/contracts';
import { DomainError, dispositionOfError, ErrorCode } from '@model-persistence/errors';
import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { DEAD_LETTER_MAX_PAYLOAD_BYTES, DeadLetterPublisher } from './dead-letter.publisher';
import { EventPublisher, recordRejection } from './event-publisher';
import { isOutage } from './message-processor';

const input = (value: Buffer) => ({
  topic: 'p.refresh.requested',
  partition: 0,
  offset: '42',
  key: '7',
  value,
  headers: {
    big: 'h'.repeat(5000),
    ...Object.fromEntries([...Array(100)].map((_, i) => [`x${i}`, 'v'.repeat(900)])),
  },
  consumerGroup: 'refresher',
  reason: 'not valid JSON',
  errorCode: ErrorCode.MalformedMessage,
});

describe('DeadLetterPublisher: a dead letter always fits the broker', () => {
  it('caps the copied payload and headers, and says the payload was truncated and how big it was', async () => {
    const publish = jest.fn().mockResolvedValue({});
    const value = Buffer.alloc(900_000, 'a');
    await new DeadLetterPublisher({ publish } as unknown as EventPublisher).publish(input(value));
    const event = publish.mock.calls[0][0].event as DeadLetter;
    expect(Buffer.from(event.payloadBase64!, 'base64').length).toBe(DEAD_LETTER_MAX_PAYLOAD_BYTES);
    expect(event.payloadTruncated).toBe(true);
    expect(event.payloadBytes).toBe(900_000);
    expect(event.reason).toBe('[payload truncated from 900000 bytes] not valid JSON');
    expect(JSON.stringify(event.headers).length).toBeLessThan(40_000);
    expect(event.headers!.big).toHaveLength(1000);
    expect(JSON.stringify(event).length).toBeLessThan(500_000);
  });

  it('keeps a small payload whole, without the truncation fields set', async () => {
    const publish = jest.fn().mockResolvedValue({});
    await new DeadLetterPublisher({ publish } as unknown as EventPublisher).publish(input(Buffer.from('{x')));
    const event = publish.mock.calls[0][0].event as DeadLetter;
    expect(Buffer.from(event.payloadBase64!, 'base64').toString()).toBe('{x');
    expect(event.payloadTruncated).toBeUndefined();
    expect(event.payloadBytes).toBe(2);
  });

  it('writes the dead letter without payload when the broker still rejects it (smaller limit)', async () => {
    const publish = jest
      .fn()
      .mockRejectedValueOnce(new DomainError(ErrorCode.MessageRejected, 'MESSAGE_TOO_LARGE'))
      .mockResolvedValue({});
    await new DeadLetterPublisher({ publish } as unknown as EventPublisher).publish(
      input(Buffer.alloc(10, 'b')),
    );
    expect(publish).toHaveBeenCalledTimes(2);
    const event = publish.mock.calls[1][0].event as DeadLetter;
    expect(event.payloadBase64).toBeNull();
    expect(event.payloadTruncated).toBe(true);
    expect(event.payloadBytes).toBe(10);
    expect(event.reason).toBe('not valid JSON');
  });
});

describe('recordRejection: a refused record is not a broker outage', () => {
  // what kafkajs throws for a record over message.max.bytes: a non-retriable wrapper around the protocol error
  const tooLarge = () => {
    const protocol = new KafkaJSProtocolError(
      Object.assign(new Error('The request included a message larger than the max message size'), {
        type: 'MESSAGE_TOO_LARGE',
        code: 10,
        retriable: false,
      }),
    );
    return Object.assign(new KafkaJSNonRetriableError(protocol), { cause: protocol });
  };

  it('finds MESSAGE_TOO_LARGE inside kafkajs wrappers and nothing in connection errors', () => {
    expect(recordRejection(tooLarge())).toBe('MESSAGE_TOO_LARGE');
    expect(
      recordRejection(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBeNull();
  });

  it('MESSAGE_REJECTED is dead-lettered, never retried as an outage', () => {
    const rejected = new DomainError(ErrorCode.MessageRejected, 'too large');
    expect(dispositionOfError(rejected)).toBe('dead-letter');
    expect(isOutage(rejected)).toBe(false);
    expect(isOutage(new DomainError(ErrorCode.BrokerUnavailable, 'down'))).toBe(true);
  });
});
