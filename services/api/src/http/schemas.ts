import {
  formatIsoDuration,
  MAX_MAX_STALENESS_SECONDS,
  MIN_MAX_STALENESS_SECONDS,
  parseIsoDuration,
} from '@model-persistence/cron';
import { PERSISTED_INFO_SORT_KEYS, PERSISTED_STATES } from '@model-persistence/database';
import { z } from 'zod';
import { MAX_ID } from '../common/ids';
import { tlsCaCertField, tlsModeField } from '../registry/tls-settings';

/* Request schemas: strict objects everywhere, so unknown fields are rejected. */

const intString = (min: number, max: number) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,9})$/, 'must be a non-negative integer')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const idValue = intString(1, MAX_ID);

/** Requests without a body, or with `{}`. */
export const emptyBody = z.strictObject({}).optional();

export const refreshScheduleBody = z.strictObject({ cron: z.string().max(200) });

/**
 * Refresh of one model; `full`: rebuild an incremental model in full instead of merging; `downstream`: also the
 * models that read it (`{{#id}}`), upstream first; `ifChanged`: only if its inputs changed since its last build
 * (otherwise reported with outcome `unchanged`).
 */
export const refreshCardBody = z
  .strictObject({
    full: z.boolean().optional(),
    downstream: z.boolean().optional(),
    ifChanged: z.boolean().optional(),
  })
  .optional();

/** 202 of a refresh request (documented from here, like the request schemas). */
export const refreshAcceptedResponse = z.object({ requestId: z.uuid() });

export const persistedInfoListQuery = z.strictObject({
  limit: intString(1, 1000).default(50),
  offset: intString(0, MAX_ID).default(0),
  state: z.enum(PERSISTED_STATES).optional(),
  database_id: idValue.optional(),
  q: z.string().trim().min(1).max(254).optional(),
  sort: z.enum(PERSISTED_INFO_SORT_KEYS).optional(),
  direction: z.enum(['asc', 'desc']).optional(),
  /** true: only stale models (staleness beyond max_staleness, else twice the schedule interval); false: the others. */
  stale: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

export const taskHistoryQuery = z.strictObject({
  limit: intString(1, 1000).default(50),
  offset: intString(0, MAX_ID).default(0),
  task: z.string().min(1).max(100).optional(),
  status: z.enum(['started', 'success', 'failed', 'unknown']).optional(),
  db_id: idValue.optional(),
});

const name = z.string().trim().min(1).max(254);
const host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._:-]+$/, 'must be a host name or IP address');

export const databaseCreateBody = z.strictObject({
  name,
  engine: z.enum(['postgres', 'mysql']),
  host,
  port: z.int().min(1).max(65535),
  db_name: z.string().min(1).max(128),
  user: z.string().min(1).max(128),
  password: z.string().max(1024).nullable().optional(),
  statement_timeout_ms: z.int().min(1000).max(86_400_000).optional(),
  /** disable (default) | require (encrypted, unverified) | verify-ca | verify-full (CA + host name). */
  tls_mode: tlsModeField.optional(),
  /** PEM CA certificate(s) for verify-ca / verify-full; null removes it (the system CAs are used then). */
  tls_ca_cert: tlsCaCertField.optional(),
});

export const databasePatchBody = databaseCreateBody
  .partial()
  .refine((b) => Object.keys(b).length > 0, 'must change at least one field');

const sql = z.string().min(1).max(100_000);
const cron = z.string().min(1).max(200);

/** A column the model's query returns (both engines' identifier limits). */
const columnName = z
  .string()
  .min(1)
  .max(63)
  .refine((c) => !c.includes('\u0000'), 'must not contain NUL');
const columnList = z
  .array(columnName)
  .min(1)
  .max(16)
  .refine((cols) => new Set(cols).size === cols.length, 'must not repeat a column');

/** Indexes built on every build of the cache table (before the swap); null removes them. */
const modelIndexes = z
  .array(z.strictObject({ columns: columnList, unique: z.boolean().optional() }))
  .max(16)
  .refine(
    (list) => new Set(list.map((i) => JSON.stringify([i.columns, i.unique === true]))).size === list.length,
    'must not declare the same index twice',
  );

/**
 * Incremental refresh: rows whose checkpoint is at least the newest kept one minus `lookback` are merged by
 * `unique_key`; `full_rebuild_cron` (Quartz, in the schedule time zone, default daily at midnight) rebuilds in full, which is also
 * when rows deleted in the source leave the cache. null turns it off.
 */
const incrementalSettings = z.strictObject({
  checkpoint_column: columnName,
  unique_key: columnList,
  lookback: z
    .union([
      z.number().min(0).max(1e15),
      z
        .string()
        .max(50)
        .regex(
          /^\d{1,9}\s*(second|minute|hour|day)s?$/i,
          'must be a number or a duration like "2 hours" (second, minute, hour, day)',
        ),
    ])
    .optional(),
  full_rebuild_cron: cron.nullable().optional(),
});

/**
 * Freshness target: an ISO-8601 duration of weeks, days, hours, minutes, seconds ("PT30M", "PT2H", "P1D"), from
 * 1 minute to 365 days, stored in seconds; null clears it.
 */
export const maxStaleness = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const seconds = parseIsoDuration(v);
    if (seconds === null) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be an ISO-8601 duration of days, hours, minutes or seconds, e.g. "PT30M", "PT2H", "P1D"',
      });
      return z.NEVER;
    }
    if (seconds < MIN_MAX_STALENESS_SECONDS || seconds > MAX_MAX_STALENESS_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        message: `must be between ${formatIsoDuration(MIN_MAX_STALENESS_SECONDS)} and ${formatIsoDuration(MAX_MAX_STALENESS_SECONDS)} (got ${formatIsoDuration(seconds)})`,
      });
      return z.NEVER;
    }
    return seconds;
  })
  .meta({ description: 'ISO-8601 duration, PT1M … P365D, e.g. "PT30M"', example: 'PT30M' });

export const cardCreateBody = z.strictObject({
  name,
  database_id: z.int().min(1).max(MAX_ID),
  sql,
  type: z.enum(['model', 'question']).optional(),
  archived: z.boolean().optional(),
  refresh_cron: cron.nullable().optional(),
  indexes: modelIndexes.nullable().optional(),
  incremental: incrementalSettings.nullable().optional(),
  max_staleness: maxStaleness.nullable().optional(),
  refresh_key: sql
    .nullable()
    .optional()
    .describe(
      'Change detection: a cheap read query whose result changes when the model data does (e.g. select max(updated_at) from orders); scheduled refreshes rebuild the model only when its result changed. Null: the refresher reads table statistics itself.',
    ),
});

export const cardPatchBody = z
  .strictObject({
    name: name.optional(),
    sql: sql.optional(),
    type: z.enum(['model', 'question']).optional(),
    archived: z.boolean().optional(),
    refresh_cron: cron.nullable().optional(),
    indexes: modelIndexes.nullable().optional(),
    incremental: incrementalSettings.nullable().optional(),
    max_staleness: maxStaleness.nullable().optional(),
    refresh_key: sql.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'must change at least one field');

export const settingParams = z.strictObject({
  key: z.enum(['admin-email', 'persisted-model-schedule-timezone']),
});

/** admin-email: one address or empty (no address); the time zone is checked against the IANA database. */
export const adminEmailValue = z.union([z.literal(''), z.email().max(254)]);
export const settingBody = z.strictObject({ value: z.string().max(254) });

export const adminCreateBody = z.strictObject({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(254).nullable().optional(),
  active: z.boolean().optional(),
});
