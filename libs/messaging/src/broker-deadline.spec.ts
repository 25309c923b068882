import { DomainError, ErrorCode } from '@model-persistence/errors';
import { BrokerDeadline, withBrokerDeadline } from './broker-deadline';

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

describe('BrokerDeadline', () => {
  it('passes a step that answers in time', async () => {
    await expect(withBrokerDeadline('no answer', 1_000, after(5, 'acked'))).resolves.toBe('acked');
  });

  it('fails a step that never answers with BROKER_UNAVAILABLE and the message', async () => {
    const failed = await withBrokerDeadline('sending: no answer within 30 ms', 30, never()).catch(
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(DomainError);
    expect(failed).toMatchObject({
      code: ErrorCode.BrokerUnavailable,
      message: 'sending: no answer within 30 ms',
    });
  });

  it('is one deadline for every step raced against it', async () => {
    const deadline = new BrokerDeadline('no answer', 60);
    try {
      await expect(deadline.race(after(40, 'connected'))).resolves.toBe('connected');
      // 40 ms are gone: a second 40 ms step outlives the deadline
      await expect(deadline.race(after(40, 'sent'))).rejects.toMatchObject({
        code: ErrorCode.BrokerUnavailable,
      });
    } finally {
      deadline.clear();
    }
  });

  it('a step failing after the deadline does not become an unhandled rejection', async () => {
    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late')), 30));
    await expect(withBrokerDeadline('no answer', 5, late)).rejects.toMatchObject({
      code: ErrorCode.BrokerUnavailable,
    });
    await after(40, null); // jest fails the test on an unhandled rejection
  });
});
