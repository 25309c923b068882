import { DomainError, ErrorCode } from '@model-persistence/errors';

/**
 * One bounded wait for the broker: kafkajs alone retries a dead broker for about a minute, and callers (an HTTP
 * request, a handler, a staged batch's moment) need a clear answer sooner. Every step raced against the deadline
 * fails with BROKER_UNAVAILABLE once `ms` have passed since the deadline was set, however many steps came before.
 */
export class BrokerDeadline {
  private readonly timer: NodeJS.Timeout;
  private readonly expired: Promise<never>;

  constructor(message: string, ms: number) {
    let fire!: (e: Error) => void;
    this.expired = new Promise<never>((_, reject) => (fire = reject));
    this.expired.catch(() => undefined); // raced by the steps; nobody else waits on it
    this.timer = setTimeout(() => fire(new DomainError(ErrorCode.BrokerUnavailable, message)), ms);
  }

  /** The step's result, or the deadline's error; a step outliving the deadline cannot become an unhandled rejection. */
  race<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined);
    return Promise.race([work, this.expired]);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** A single step under its own deadline. */
export async function withBrokerDeadline<T>(message: string, ms: number, work: Promise<T>): Promise<T> {
  const deadline = new BrokerDeadline(message, ms);
  try {
    return await deadline.race(work);
  } finally {
    deadline.clear();
  }
}
