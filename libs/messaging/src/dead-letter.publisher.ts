import { Injectable, Logger } from '@nestjs/common';
import { createEvent, databaseKey, Topics } from '@model-persistence/contracts';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { Metrics } from '@model-persistence/telemetry';
import { EventPublisher } from './event-publisher';

export interface DeadLetterInput {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, unknown>;
  timestamp?: string;
  consumerGroup: string;
  reason: string;
  errorCode: string;
}

/**
 * The copied payload is capped so a dead letter always fits a broker with Kafka's default 1 MB message limit
 * (message.max.bytes 1048588): 256 KiB raw is ~342 KiB in base64; with the headers (capped below), the key
 * (1000 chars) and the reason (9000 chars) a dead letter stays under ~500 KB. A dead letter that cannot be written
 * would block its partition for good, so the whole original is not worth that.
 */
export const DEAD_LETTER_MAX_PAYLOAD_BYTES = 256 * 1024;
const MAX_HEADER_CHARS = 1000;
const MAX_HEADERS_TOTAL_CHARS = 32 * 1024;

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Writes an unprocessable message, byte for byte (up to the cap), with where it came from and why, to the dead-letter topic. */
@Injectable()
export class DeadLetterPublisher {
  private readonly logger = new Logger(DeadLetterPublisher.name);

  constructor(private readonly publisher: EventPublisher) {}

  async publish(input: DeadLetterInput): Promise<void> {
    const raw =
      input.value === null ? null : Buffer.isBuffer(input.value) ? input.value : Buffer.from(input.value);
    const truncated = raw !== null && raw.length > DEAD_LETTER_MAX_PAYLOAD_BYTES;
    const kept = raw && truncated ? raw.subarray(0, DEAD_LETTER_MAX_PAYLOAD_BYTES) : raw;
    const headers: Record<string, string> = {};
    let headerChars = 0;
    for (const [k, v] of Object.entries(input.headers ?? {})) {
      const t = text(v);
      if (t === null) continue;
      const value = t.slice(0, MAX_HEADER_CHARS);
      const name = k.slice(0, 200);
      headerChars += name.length + value.length;
      if (headerChars > MAX_HEADERS_TOTAL_CHARS) break;
      headers[name] = value;
    }
    const reason =
      (truncated ? `[payload truncated from ${raw.length} bytes] ` : '') + input.reason.slice(0, 9000);
    const event = (payload: Buffer | null, withHeaders: boolean) =>
      createEvent('DeadLetter', {
        source: {
          topic: input.topic,
          partition: input.partition,
          offset: input.offset,
          key: text(input.key)?.slice(0, 1000) ?? null,
          consumerGroup: input.consumerGroup,
          ...(input.timestamp ? { timestamp: input.timestamp } : {}),
        },
        reason,
        errorCode: input.errorCode,
        payloadBase64: payload ? payload.toString('base64') : null,
        ...(withHeaders ? { headers } : {}),
        ...(raw ? { payloadBytes: raw.length } : {}),
        ...(raw && payload !== raw ? { payloadTruncated: true } : {}),
      });
    this.logger.warn(
      `dead-lettered ${input.topic}[${input.partition}]@${input.offset} (${input.errorCode}): ${input.reason.slice(0, 300)}`,
    );
    const key = text(input.key)?.slice(0, 200) ?? databaseKey(0);
    try {
      await this.publisher.publish({ topic: Topics.DeadLetter, key, event: event(kept, true) });
    } catch (e) {
      if (!DomainError.is(e, ErrorCode.MessageRejected)) throw e;
      // A broker with a smaller limit than Kafka's default still gets the record of what happened and why.
      this.logger.warn(`dead letter rejected (${e.message}); writing it without payload and headers`);
      await this.publisher.publish({ topic: Topics.DeadLetter, key, event: event(null, false) });
    }
    Metrics.deadLetters().add(1, { topic: input.topic, 'error.code': input.errorCode });
  }
}
