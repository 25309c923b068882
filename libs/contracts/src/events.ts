import { z } from 'zod';

/*
 * Versioned event envelopes. Never change a version in place: add `...V2` and register it in
 * EVENT_SCHEMAS; consumers keep accepting older versions as long as producers may send them.
 */

const MAX_ID = 2_147_483_647;
const id = z.int().min(1).max(MAX_ID);
const uuid = z.uuid();
const isoTime = z.iso.datetime({ offset: true });
const shortText = z.string().max(500);
const errorText = z.string().max(10_000);

export const Trigger = z.enum(['scheduled', 'manual', 'external']);
export type Trigger = z.infer<typeof Trigger>;

const envelope = <T extends string, V extends number>(type: T, version: V) => ({
  type: z.literal(type),
  version: z.literal(version),
  eventId: uuid.describe('Unique id of this event; consumers de-duplicate on it.'),
  occurredAt: isoTime.describe('When the event happened (ISO-8601 with offset).'),
});

export const RefreshRequestedV1 = z
  .strictObject({
    ...envelope('RefreshRequested', 1),
    databaseId: id.describe('Source database whose models to refresh; also the Kafka key.'),
    cardId: id.optional().describe('Refresh only this model; omit to refresh every model of the database.'),
    trigger: Trigger,
    requestedBy: shortText.min(1).optional().describe('Who asked: a user, a system name.'),
    full: z
      .boolean()
      .optional()
      .describe(
        'Incremental models: rebuild in full (the usual swap) instead of merging new rows. Absent: false.',
      ),
    downstream: z
      .boolean()
      .optional()
      .describe(
        'With cardId: also refresh the models that read it ({{#id}}), directly or through others, upstream first. Absent: false.',
      ),
    ifChanged: z
      .boolean()
      .optional()
      .describe(
        'Rebuild only the models whose inputs changed since their last successful build (the others are reported with outcome unchanged), as scheduled runs always do. Absent: false (manual and external requests rebuild unconditionally).',
      ),
  })
  .describe('Ask the refreshers to rebuild the cache tables of one database or one model.');

export const ErrorClass = z.enum([
  'connection',
  'lock',
  'permission',
  'timeout',
  'query',
  'unsafe-sql',
  'invalid',
  'internal',
]);
export type ErrorClass = z.infer<typeof ErrorClass>;

const modelResult = {
  runId: uuid.describe('The eventId of the RefreshRequested that started the run.'),
  databaseId: id,
  cardId: id,
  persistedInfoId: id,
  trigger: Trigger,
  startedAt: isoTime,
  endedAt: isoTime,
  durationMs: z.int().min(0),
  attempts: z.int().min(1).max(100),
};

export const RefreshSucceededV1 = z
  .strictObject({
    ...envelope('RefreshSucceeded', 1),
    ...modelResult,
    schemaName: shortText,
    tableName: shortText,
    rows: z.int().min(0).nullable(),
    mode: z
      .enum(['full', 'incremental'])
      .optional()
      .describe('full: rebuilt and swapped in; incremental: new and changed rows merged by the unique key.'),
    fullReason: shortText
      .optional()
      .describe(
        'Why an incremental model was rebuilt in full (first-build, definition-changed, requested, scheduled, duplicate-key, checkpoint-backwards, …).',
      ),
    rowsInserted: z.int().min(0).optional().describe('Incremental refresh: rows added to the cache table.'),
    rowsUpdated: z.int().min(0).optional().describe('Incremental refresh: cached rows whose values changed.'),
    checkpoint: z
      .string()
      .max(200)
      .nullable()
      .optional()
      .describe('Incremental models: newest checkpoint value kept in the cache table (as text).'),
    queryMs: z.int().min(0).optional().describe('Time spent running the model query (ms).'),
    indexMs: z
      .int()
      .min(0)
      .optional()
      .describe('Time spent building the managed indexes before the swap (ms).'),
    outcome: z
      .enum(['refreshed', 'unchanged'])
      .optional()
      .describe(
        'refreshed: the cache table was built (or merged) again; unchanged: its inputs were verified unchanged since its last successful build, so nothing was built and the table stays (rows null). Absent: refreshed.',
      ),
  })
  .describe(
    'One model was refreshed (or verified unchanged: outcome unchanged); its cache table now holds the current result.',
  );

export const RefreshFailedV1 = z
  .strictObject({
    ...envelope('RefreshFailed', 1),
    runId: uuid,
    databaseId: id,
    cardId: id,
    persistedInfoId: id
      .nullable()
      .describe('Null when the card has no persisted-info row (unknown card, question).'),
    trigger: Trigger,
    startedAt: isoTime,
    endedAt: isoTime,
    durationMs: z.int().min(0),
    attempts: z.int().min(0).max(100),
    outcome: z
      .enum(['error', 'skipped'])
      .describe('error: the model is now in state error; skipped: left as it was.'),
    errorClass: ErrorClass,
    errorCode: shortText,
    message: errorText,
    upstreamCardId: id
      .optional()
      .describe(
        'Set when skipped because a model it reads ({{#id}}) did not build in this run (errorCode UPSTREAM_FAILED).',
      ),
  })
  .describe('One model could not be refreshed (or was skipped this run, for example on a lock).');

const errorDetail = z.strictObject({
  persistedInfoId: id.nullable(),
  cardId: id,
  error: errorText,
});

export const RefreshRunStartedV1 = z
  .strictObject({
    ...envelope('RefreshRunStarted', 1),
    runId: uuid,
    databaseId: id,
    cardId: id.optional(),
    trigger: Trigger,
    requestedBy: shortText.optional(),
    startedAt: isoTime,
    modelCount: z.int().min(0),
  })
  .describe('A refresher began a run: a whole database, or one model when cardId is set.');

export const RefreshRunCompletedV1 = z
  .strictObject({
    ...envelope('RefreshRunCompleted', 1),
    runId: uuid,
    databaseId: id,
    cardId: id.optional(),
    trigger: Trigger,
    startedAt: isoTime,
    endedAt: isoTime,
    durationMs: z.int().min(0),
    success: z.int().min(0),
    error: z.int().min(0),
    skipped: z.int().min(0),
    unchanged: z
      .int()
      .min(0)
      .optional()
      .describe(
        'Of the successes, models not rebuilt because their inputs were verified unchanged. Absent: 0.',
      ),
    errorDetails: z.array(errorDetail).max(10_000),
  })
  .describe('A run finished, with per-outcome counts.');

export const PruneTrigger = z.enum(['scheduled', 'disable', 'manual']);

export const PruneRequestedV1 = z
  .strictObject({
    ...envelope('PruneRequested', 1),
    trigger: PruneTrigger,
    requestedBy: shortText.optional(),
    graceMs: z
      .int()
      .min(0)
      .optional()
      .describe('Override of the deletable grace period; default from config.'),
  })
  .describe('Drop cache tables that are no longer wanted.');

export const PruneRunStartedV1 = z.strictObject({
  ...envelope('PruneRunStarted', 1),
  runId: uuid,
  trigger: PruneTrigger,
  startedAt: isoTime,
  candidateCount: z.int().min(0),
});

export const PruneRunCompletedV1 = z.strictObject({
  ...envelope('PruneRunCompleted', 1),
  runId: uuid,
  trigger: PruneTrigger,
  startedAt: isoTime,
  endedAt: isoTime,
  durationMs: z.int().min(0),
  success: z.int().min(0),
  error: z.int().min(0),
  skipped: z.int().min(0),
});

export const ConfigurationChangedV1 = z
  .strictObject({
    ...envelope('ConfigurationChanged', 1),
    entity: z.enum(['setting', 'database', 'card']),
    entityId: z.union([id, shortText]).optional(),
    change: z.enum(['created', 'updated', 'deleted']),
  })
  .describe('Something the schedules depend on changed; schedulers reload at once.');

export const DeadLetterV1 = z
  .strictObject({
    ...envelope('DeadLetter', 1),
    source: z.strictObject({
      topic: z.string(),
      partition: z.int().min(0),
      offset: z.string().describe('Kafka offset as a decimal string.'),
      key: z.string().nullable(),
      consumerGroup: z.string(),
      timestamp: z.string().optional(),
    }),
    reason: errorText,
    errorCode: shortText,
    payloadBase64: z
      .string()
      .nullable()
      .describe('The original message value, byte for byte (only its head when payloadTruncated).'),
    headers: z.record(z.string(), z.string()).optional(),
    payloadTruncated: z
      .boolean()
      .optional()
      .describe(
        'True when payloadBase64 holds only the head of the value, so the dead letter fits the broker.',
      ),
    payloadBytes: z.int().min(0).optional().describe('Size of the original message value in bytes.'),
  })
  .describe('A message that could not be processed, kept with its reason.');

/** Registry of every known (type, version) pair. */
export const EVENT_SCHEMAS = {
  RefreshRequested: { 1: RefreshRequestedV1 },
  RefreshSucceeded: { 1: RefreshSucceededV1 },
  RefreshFailed: { 1: RefreshFailedV1 },
  RefreshRunStarted: { 1: RefreshRunStartedV1 },
  RefreshRunCompleted: { 1: RefreshRunCompletedV1 },
  PruneRequested: { 1: PruneRequestedV1 },
  PruneRunStarted: { 1: PruneRunStartedV1 },
  PruneRunCompleted: { 1: PruneRunCompletedV1 },
  ConfigurationChanged: { 1: ConfigurationChangedV1 },
  DeadLetter: { 1: DeadLetterV1 },
} as const;

export type RefreshRequested = z.infer<typeof RefreshRequestedV1>;
export type RefreshSucceeded = z.infer<typeof RefreshSucceededV1>;
export type RefreshFailed = z.infer<typeof RefreshFailedV1>;
export type RefreshRunStarted = z.infer<typeof RefreshRunStartedV1>;
export type RefreshRunCompleted = z.infer<typeof RefreshRunCompletedV1>;
export type PruneRequested = z.infer<typeof PruneRequestedV1>;
export type PruneRunStarted = z.infer<typeof PruneRunStartedV1>;
export type PruneRunCompleted = z.infer<typeof PruneRunCompletedV1>;
export type ConfigurationChanged = z.infer<typeof ConfigurationChangedV1>;
export type DeadLetter = z.infer<typeof DeadLetterV1>;

/** The discriminated union of every event envelope (discriminate on `type`, then `version`). */
export type DomainEvent =
  | RefreshRequested
  | RefreshSucceeded
  | RefreshFailed
  | RefreshRunStarted
  | RefreshRunCompleted
  | PruneRequested
  | PruneRunStarted
  | PruneRunCompleted
  | ConfigurationChanged
  | DeadLetter;

export type EventType = DomainEvent['type'];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;
