import { Injectable, Logger } from '@nestjs/common';
import { createEvent, databaseKey, Topics } from '@model-persistence/contracts';
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

const MAX_PAYLOAD_BYTES = 1_000_000;

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Writes an unprocessable message, byte for byte, with where it came from and why, to the dead-letter topic. */
@Injectable()
export class DeadLetterPublisher {
  private readonly logger = new Logger(DeadLetterPublisher.name);

  constructor(private readonly publisher: EventPublisher) {}

  async publish(input: DeadLetterInput): Promise<void> {
    const raw =
      input.value === null ? null : Buffer.isBuffer(input.value) ? input.value : Buffer.from(input.value);
    // Kafka's message size limit: keep the head of a huge payload rather than failing to dead-letter it.
    const kept = raw && raw.length > MAX_PAYLOAD_BYTES ? raw.subarray(0, MAX_PAYLOAD_BYTES) : raw;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.headers ?? {})) {
      const t = text(v);
      if (t !== null) headers[k] = t.slice(0, 1000);
    }
    const event = createEvent('DeadLetter', {
      source: {
        topic: input.topic,
        partition: input.partition,
        offset: input.offset,
        key: text(input.key)?.slice(0, 1000) ?? null,
        consumerGroup: input.consumerGroup,
        ...(input.timestamp ? { timestamp: input.timestamp } : {}),
      },
      reason:
        (raw && kept && kept.length < raw.length ? `[payload truncated from ${raw.length} bytes] ` : '') +
        input.reason.slice(0, 9000),
      errorCode: input.errorCode,
      payloadBase64: kept ? kept.toString('base64') : null,
      headers,
    });
    this.logger.warn(
      `dead-lettered ${input.topic}[${input.partition}]@${input.offset} (${input.errorCode}): ${input.reason.slice(0, 300)}`,
    );
    await this.publisher.publish({
      topic: Topics.DeadLetter,
      key: text(input.key)?.slice(0, 200) ?? databaseKey(0),
      event,
    });
    Metrics.deadLetters().add(1, { topic: input.topic, 'error.code': input.errorCode });
  }
}
