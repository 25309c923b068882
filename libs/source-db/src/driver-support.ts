import { ErrorCode, errorMessage } from '@model-persistence/errors';
import { assertSafeModelSql } from './model-sql';
import { classifySourceError, SourceError } from './source-error';
import type { CanPersistResult, CanPersistStep, Lookback, SourceDriverOptions, SourceEngine } from './types';

export const DEFAULT_POOL_SIZE = 4;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The swap waits at most this long per attempt for readers' locks, so readers queued behind it never wait long. */
export const DEFAULT_SWAP_LOCK = { timeoutMs: 5_000, attempts: 3 };

export interface SwapLock {
  timeoutMs: number;
  attempts: number;
}

export function swapLockOf(options: SourceDriverOptions): SwapLock {
  return {
    timeoutMs: Math.max(1, Math.floor(options.swapLockTimeoutMs ?? DEFAULT_SWAP_LOCK.timeoutMs)),
    attempts: Math.max(1, Math.floor(options.swapLockAttempts ?? DEFAULT_SWAP_LOCK.attempts)),
  };
}

/** A failed pool checkout, classified; connection failures name the server they could not reach. */
export function connectFailure(error: unknown, engine: SourceEngine, server: string): SourceError {
  const classified = classifySourceError(error, engine);
  if (classified.errorClass !== 'connection') return classified;
  const product = engine === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB';
  return new SourceError(
    'connection',
    `Could not connect to ${product} at ${server}: ${classified.message}`,
    classified.details,
    {
      cause: error,
    },
  );
}

/** A build whose generation is older than the one already swapped in: it must not swap. */
export function fencedError(label: string, generation: number, stored: number | null): SourceError {
  return new SourceError(
    'invalid',
    `Refresh of ${label} was superseded: generation ${generation} is older than the swapped-in ${stored ?? 'newer'}; not swapped`,
    { fenced: true, generation, stored },
  );
}

/** The error a refresh ends with when its AbortSignal fired (class timeout: the run was cut short). */
export function abortError(label: string, signal: AbortSignal, cause?: unknown): SourceError {
  const reason: unknown = signal.reason;
  const why = reason === undefined ? 'aborted' : errorMessage(reason);
  return new SourceError('timeout', `Refresh of ${label} was aborted: ${why}`, { aborted: true }, { cause });
}

/**
 * What every build or merge checks first: not already cancelled, and the model SQL a single read query for this
 * engine (the server enforces it again; this is the early, clear error). Returns the label and the checked SQL.
 */
export function beginBuild(
  req: { schemaName: string; tableName: string; sql: string; signal?: AbortSignal },
  engine: SourceEngine,
): { label: string; sql: string } {
  const label = `${req.schemaName}.${req.tableName}`;
  if (req.signal?.aborted) throw abortError(label, req.signal);
  try {
    return { label, sql: assertSafeModelSql(req.sql, engine) };
  } catch (error) {
    throw classifySourceError(error, engine);
  }
}

/**
 * The one error a build or a merge ends with: cancelled by its signal (unless the engine already said it was
 * aborted or fenced), the statement timeout our own timer enforced (`timedOut`), or the server's error classified.
 */
export function buildError(
  error: unknown,
  o: {
    engine: SourceEngine;
    label: string;
    signal?: AbortSignal;
    timedOut?: { timeoutMs: number; doing: string };
  },
): SourceError {
  if (
    o.signal?.aborted &&
    !(error instanceof SourceError && (error.details?.aborted || error.details?.fenced))
  )
    return abortError(o.label, o.signal, error);
  if (o.timedOut)
    return new SourceError(
      'timeout',
      `Statement timeout of ${o.timedOut.timeoutMs} ms exceeded while ${o.timedOut.doing} ${o.label}`,
      { engine: o.engine, timeoutMs: o.timedOut.timeoutMs },
      { cause: error },
    );
  return classifySourceError(error, o.engine);
}

const STEP_WORDING: Record<
  CanPersistStep,
  { permission: (s: string) => string; other: (s: string) => string }
> = {
  'create-schema': {
    permission: (s) => `Lack permissions to create ${s} schema`,
    other: (s) => `Could not create ${s} schema`,
  },
  'create-table': {
    permission: (s) => `Lack permission to create table in schema ${s}`,
    other: (s) => `Could not create table in schema ${s}`,
  },
  'read-table': {
    permission: (s) => `Lack permission to read table in schema ${s}`,
    other: (s) => `Could not read table in schema ${s}`,
  },
  'drop-table': {
    permission: (s) => `Lack permission to delete table in schema ${s}`,
    other: (s) => `Could not delete table in schema ${s}`,
  },
  'create-cache-info': {
    permission: (s) => `Lack permission to create cache_info table in schema ${s}`,
    other: (s) => `Could not create cache_info table in schema ${s}`,
  },
};

/** The failed-check result of one step: the reference's wording for permissions, the cause otherwise. */
export function canPersistFailure(
  step: CanPersistStep,
  schema: string,
  error: unknown,
  engine: SourceEngine,
): Extract<CanPersistResult, { ok: false }> {
  const classified = classifySourceError(error, engine);
  const wording = STEP_WORDING[step];
  const message =
    classified.errorClass === 'permission'
      ? `${wording.permission(schema)}: ${classified.message}`
      : `${wording.other(schema)}: ${classified.message}`;
  return { ok: false, step, message, errorClass: classified.errorClass };
}

/** A managed index names a column the model's query does not return: the refresh fails, nothing is swapped. */
export function missingIndexColumnError(label: string, missing: string[], returned: string[]): SourceError {
  return new SourceError(
    'invalid',
    `Managed index of ${label} names column(s) ${missing.map((c) => JSON.stringify(c)).join(', ')} that the model's query does not return (it returns ${returned.map((c) => JSON.stringify(c)).join(', ')})`,
    { missingColumns: missing },
    { code: ErrorCode.ModelIndexColumn },
  );
}

/** Columns of `indexes` (and the checkpoint column) that are not among `returned`. */
export function missingColumns(
  returned: string[],
  indexes: { columns: string[] }[] | undefined,
  extra: (string | undefined)[] = [],
): string[] {
  const have = new Set(returned);
  const wanted = [...(indexes ?? []).flatMap((i) => i.columns), ...extra.filter((c): c is string => !!c)];
  return [...new Set(wanted.filter((c) => !have.has(c)))];
}

/** The SQL of a lookback subtracted from a checkpoint (numbers and units only: nothing user-written). */
export function lookbackSql(engine: SourceEngine, lookback: Lookback): string {
  if (lookback.kind === 'number') {
    if (!Number.isFinite(lookback.value) || lookback.value < 0) throw new Error('invalid lookback');
    return lookback.value === 0 ? '' : ` - ${String(lookback.value)}`;
  }
  const amount = Math.floor(lookback.amount);
  if (!Number.isSafeInteger(amount) || amount < 0) throw new Error('invalid lookback');
  if (amount === 0) return '';
  return engine === 'postgres'
    ? ` - interval '${amount} ${lookback.unit}'`
    : ` - INTERVAL ${amount} ${lookback.unit.toUpperCase()}`;
}
