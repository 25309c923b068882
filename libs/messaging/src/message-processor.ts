import { Inject, Injectable, Logger } from '@nestjs/common';
import { KafkaContext } from '@nestjs/microservices';
import { decodeEvent, EventOf, EventType } from '@model-persistence/contracts';
import {
  DomainError,
  dispositionOfError,
  ErrorCode,
  errorMessage,
  isConcurrencyConflict,
} from '@model-persistence/errors';
import { BackoffPolicy, backoffDelay, DEFAULT_BACKOFF, sleep } from './backoff';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { MESSAGING_OPTIONS, MessagingOptions } from './tokens';

export interface MessageMeta {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  /** Keep the consumer's session alive during long work (also done automatically every few seconds). */
  heartbeat: () => Promise<void>;
}

export interface ProcessOptions<T extends EventType> {
  /** Event types this handler accepts on this topic; anything else is dead-lettered. */
  accept: readonly T[];
  handle: (event: EventOf<T>, meta: MessageMeta) => Promise<void>;
  /** Retries of errors classified `retry`; default 3 with 1 s, 2 s, 4 s (+ jitter). */
  backoff?: BackoffPolicy;
  /**
   * How long an outage of a dependency (app database or broker unreachable) is retried, at the backoff's
   * capped delay, before the message is dead-lettered anyway; default OUTAGE_RETRY_WINDOW_MS.
   */
  outageRetryMs?: number;
}

export type ProcessOutcome = 'processed' | 'skipped' | 'dead-lettered';

const HEARTBEAT_EVERY_MS = 3000;

/**
 * A message is not bad because the app database or the broker is down: such failures are retried for this long
 * (not just `backoff.retries` times), so a restart of PostgreSQL or Kafka loses no request and no event.
 */
export const OUTAGE_RETRY_WINDOW_MS = 15 * 60_000;

/** Transient infrastructure failures (connection refused/reset, pool lost, broker unavailable). */
export function isOutage(error: unknown): boolean {
  // a deadlock or serialization failure is a lost race, not an outage: bounded by the retry count
  if (isConcurrencyConflict(error)) return false;
  if (error instanceof DomainError)
    return error.code === ErrorCode.AppDatabaseUnavailable || error.code === ErrorCode.BrokerUnavailable;
  return dispositionOfError(error) === 'retry';
}

function headerText(v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(headerText).join(',');
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * The only way Kafka handlers run work. It never throws for a bad or failing message, so a partition is
 * never blocked: decode → validate → handle → classified bounded retries → dead-letter. It throws only when
 * the dead-letter write itself fails, so the message is redelivered instead of lost.
 */
@Injectable()
export class KafkaMessageProcessor {
  private readonly logger = new Logger(KafkaMessageProcessor.name);

  constructor(
    private readonly deadLetters: DeadLetterPublisher,
    @Inject(MESSAGING_OPTIONS) private readonly options: MessagingOptions,
  ) {}

  async process<T extends EventType>(ctx: KafkaContext, opts: ProcessOptions<T>): Promise<ProcessOutcome> {
    const message = ctx.getMessage();
    const rawHeaders = (message.headers ?? {}) as Record<string, unknown>;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawHeaders)) headers[k] = headerText(v);
    const value = message.value as unknown as Buffer | string | null;
    const key = message.key === null || message.key === undefined ? null : headerText(message.key);
    const heartbeatFn = ctx.getHeartbeat();
    const meta: MessageMeta = {
      topic: ctx.getTopic(),
      partition: ctx.getPartition(),
      offset: message.offset,
      key,
      headers,
      heartbeat: () => heartbeatFn().catch(() => undefined),
    };
    const deadLetter = (errorCode: string, reason: string) =>
      this.deadLetters.publish({
        topic: meta.topic,
        partition: meta.partition,
        offset: meta.offset,
        key,
        value:
          typeof value === 'string' || Buffer.isBuffer(value)
            ? value
            : value === null
              ? null
              : JSON.stringify(value),
        headers: rawHeaders,
        timestamp: message.timestamp,
        consumerGroup: this.options.consumerGroup ?? 'unknown',
        reason,
        errorCode,
      });

    const decoded = decodeEvent(
      typeof value === 'string' || Buffer.isBuffer(value) || value === null ? value : JSON.stringify(value),
    );
    if (!decoded.ok) {
      await deadLetter(decoded.code, decoded.reason);
      return 'dead-lettered';
    }
    const event = decoded.event;
    if (!(opts.accept as readonly string[]).includes(event.type)) {
      await deadLetter(
        ErrorCode.UnexpectedEventType,
        `event type ${event.type} is not accepted on ${meta.topic}; expected ${opts.accept.join(' or ')}`,
      );
      return 'dead-lettered';
    }

    const policy = opts.backoff ?? DEFAULT_BACKOFF;
    const outageRetryMs = opts.outageRetryMs ?? OUTAGE_RETRY_WINDOW_MS;
    const timer = setInterval(() => void meta.heartbeat(), HEARTBEAT_EVERY_MS);
    let firstFailureAt: number | null = null;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await opts.handle(event as EventOf<T>, meta);
          return 'processed';
        } catch (error) {
          firstFailureAt ??= Date.now();
          const disposition = dispositionOfError(error);
          const code = error instanceof DomainError ? error.code : ErrorCode.Internal;
          const reason = `${event.type} ${event.eventId}: ${errorMessage(error)}`;
          if (disposition === 'skip') {
            this.logger.warn(`skipped ${reason}`);
            return 'skipped';
          }
          const outageGoesOn = isOutage(error) && Date.now() - firstFailureAt < outageRetryMs;
          if (disposition === 'retry' && (attempt <= policy.retries || outageGoesOn)) {
            const delay = backoffDelay(policy, attempt);
            this.logger.warn(`attempt ${attempt} failed, retrying in ${delay} ms: ${reason}`);
            await sleep(delay);
            continue;
          }
          this.logger.error(`giving up after ${attempt} attempt(s): ${reason}`);
          await deadLetter(
            code,
            disposition === 'retry'
              ? `gave up after ${attempt} attempts: ${errorMessage(error)}`
              : errorMessage(error),
          );
          return 'dead-lettered';
        }
      }
    } finally {
      clearInterval(timer);
    }
  }
}
