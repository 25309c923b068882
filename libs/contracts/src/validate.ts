import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { z } from 'zod';
import { DomainEvent, EVENT_SCHEMAS, EventOf, EventType } from './events';

export type ParseResult<T> = { ok: true; event: T } | { ok: false; code: ErrorCode; reason: string };

const KNOWN_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

function formatIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Validates an already-decoded value against the envelope registry. Never throws. */
export function parseEvent(value: unknown): ParseResult<DomainEvent> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: ErrorCode.MalformedMessage, reason: 'event must be a JSON object' };
  }
  const { type, version } = value as { type?: unknown; version?: unknown };
  if (typeof type !== 'string' || !KNOWN_TYPES.includes(type as EventType)) {
    return {
      ok: false,
      code: ErrorCode.MalformedMessage,
      reason: `unknown or missing "type" ${JSON.stringify(type)?.slice(0, 100)}; expected one of ${KNOWN_TYPES.join(', ')}`,
    };
  }
  const versions = EVENT_SCHEMAS[type as EventType] as Record<number, z.ZodType<DomainEvent>>;
  if (typeof version !== 'number' || !(version in versions)) {
    return {
      ok: false,
      code: ErrorCode.UnsupportedVersion,
      reason: `unsupported version ${JSON.stringify(version)?.slice(0, 50)} of ${type}; supported: ${Object.keys(versions).join(', ')}`,
    };
  }
  const result = versions[version].safeParse(value);
  if (!result.success) {
    return {
      ok: false,
      code: ErrorCode.MalformedMessage,
      reason: `invalid ${type} v${version}: ${formatIssues(result.error.issues)}`,
    };
  }
  return { ok: true, event: result.data };
}

/** Decodes Kafka bytes (UTF-8 JSON) and validates them. Never throws. */
export function decodeEvent(bytes: Buffer | string | null | undefined): ParseResult<DomainEvent> {
  if (bytes === null || bytes === undefined || bytes.length === 0) {
    return { ok: false, code: ErrorCode.MalformedMessage, reason: 'empty message value' };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    return {
      ok: false,
      code: ErrorCode.MalformedMessage,
      reason: `value is not valid JSON: ${(e as Error).message}`,
    };
  }
  return parseEvent(json);
}

/** Validates an event about to be produced; a producer bug must not reach the topic. */
export function assertValidEvent<T extends DomainEvent>(event: T): T {
  const r = parseEvent(event);
  if (!r.ok) throw new DomainError(ErrorCode.ValidationFailed, `refusing to publish: ${r.reason}`);
  return r.event as T;
}

type Body<T extends EventType> = Omit<EventOf<T>, 'type' | 'version' | 'eventId' | 'occurredAt'> &
  Partial<Pick<EventOf<T>, 'eventId' | 'occurredAt'>>;

/** Builds a current-version event of a type, filling eventId and occurredAt, and validates it. */
export function createEvent<T extends EventType>(type: T, body: Body<T>): EventOf<T> {
  return assertValidEvent(composeEvent(type, body));
}

/**
 * createEvent without the validation, for a hot path whose events all go through EventPublisher, which validates
 * every event before it is sent (so an invalid one still never reaches a topic; it fails at its publish instead).
 */
export function composeEvent<T extends EventType>(type: T, body: Body<T>): EventOf<T> {
  return {
    type,
    version: 1,
    eventId: body.eventId ?? randomUUID(),
    occurredAt: body.occurredAt ?? new Date().toISOString(),
    ...body,
  } as unknown as EventOf<T>;
}

export function isEventOf<T extends EventType>(event: DomainEvent, type: T): event is EventOf<T> {
  return event.type === type;
}
