import { createHash } from 'node:crypto';
import { DomainError, ErrorCode } from '@model-persistence/errors';
import { managedIndexName } from './naming';
import type { Lookback, ManagedIndex } from './types';

/** Quartz cron of the periodic full rebuild of an incremental model when none is set: daily at midnight. */
export const DEFAULT_FULL_REBUILD_CRON = '0 0 0 * * ? *';

const LOOKBACK_TEXT = /^(\d{1,9})\s*(second|minute|hour|day)s?$/i;

/**
 * A model's lookback: a non-negative number (numeric checkpoints: subtracted as is) or a duration
 * `<n> second|minute|hour|day[s]` (time checkpoints). Throws VALIDATION_FAILED otherwise.
 */
export function parseLookback(value: number | string): Lookback {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new DomainError(
        ErrorCode.ValidationFailed,
        `lookback must be a non-negative number, got ${value}`,
      );
    }
    return { kind: 'number', value };
  }
  const m = LOOKBACK_TEXT.exec(value.trim());
  if (!m) {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `lookback must be a number or a duration like "2 hours" (second, minute, hour, day), got ${JSON.stringify(value)}`,
    );
  }
  return {
    kind: 'interval',
    amount: Number(m[1]),
    unit: m[2].toLowerCase() as 'second' | 'minute' | 'hour' | 'day',
  };
}

/** What a model declares; the entity shapes of libs/database, restated so this lib does not depend on it. */
export interface ModelIndexSpec {
  columns: string[];
  unique?: boolean;
}
export interface IncrementalSpec {
  checkpointColumn: string;
  uniqueKey: string[];
}

/**
 * The managed indexes of a model's cache table: the declared ones, plus for an incremental model a unique
 * index on its key (needed by the merge; built plain when the data has duplicates) unless one is declared.
 */
export function managedIndexesOf(
  cardId: number,
  indexes: ModelIndexSpec[] | null | undefined,
  incremental: IncrementalSpec | null | undefined,
): ManagedIndex[] {
  const out: ManagedIndex[] = (indexes ?? []).map((i) => ({
    name: managedIndexName(cardId, i.columns, i.unique === true),
    columns: i.columns,
    unique: i.unique === true,
  }));
  if (incremental) {
    const name = managedIndexName(cardId, incremental.uniqueKey, true);
    if (!out.some((i) => i.name === name)) {
      out.push({ name, columns: incremental.uniqueKey, unique: false, uniqueIfPossible: true });
    }
  }
  return out;
}

/**
 * Hash of what an incremental merge into the last full build depends on: the SQL, the checkpoint column, the
 * key and the indexes. A different hash means the next refresh rebuilds in full.
 */
export function buildDefinitionHash(
  sql: string,
  indexes: ManagedIndex[],
  incremental: IncrementalSpec | null | undefined,
): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        sql,
        incremental ? [incremental.checkpointColumn, incremental.uniqueKey] : null,
        indexes.map((i) => [i.name, i.columns, i.unique, i.uniqueIfPossible === true]),
      ]),
    )
    .digest('hex');
}
