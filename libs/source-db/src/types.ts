import type { ErrorClass } from '@model-persistence/contracts';
import type { InputSignature, InputSignatureRequest } from './change-signature';
import type { PrivilegeWarning } from './privilege-audit';
import type { SourceTlsSettings } from './tls-options';

export type SourceEngine = 'postgres' | 'mysql';

export interface SourceConnectionInfo {
  engine: SourceEngine;
  host: string;
  port: number;
  dbName: string;
  username: string;
  /** Plain text (already decrypted by the caller); null for trust/no-password auth. */
  password: string | null;
  statementTimeoutMs: number;
  /** TLS of the connection; absent: disable. */
  tls?: SourceTlsSettings;
}

export type CanPersistStep =
  'create-schema' | 'create-table' | 'read-table' | 'drop-table' | 'create-cache-info';

/**
 * `privilegeWarning`: what the connection user may change outside its cache schema (null: nothing found).
 * A warning only: the check still passes.
 */
export type CanPersistResult =
  | { ok: true; privilegeWarning?: PrivilegeWarning | null }
  | { ok: false; step: CanPersistStep; message: string; errorClass?: ErrorClass };

export interface CanPersistContext {
  schemaName: string;
  instanceUuid: string;
  settingsVersion: string;
}

export interface FieldDefinition {
  fieldName: string;
  baseType: string;
}

export interface TableDefinition {
  tableName: string;
  fieldDefinitions: FieldDefinition[];
}

export interface RefreshTableRequest {
  schemaName: string;
  tableName: string;
  /** Model SQL, already checked by assertSafeModelSql. */
  sql: string;
  statementTimeoutMs: number;
  /** Aborting cancels the running statement on the server and cleans up the temporary table. */
  signal?: AbortSignal;
  /**
   * Fencing token of this build (a generation that only grows, e.g. persisted_info.generation). The swap
   * checks it inside the source database against the newest generation that swapped this table (the
   * `cache_fence` table of the cache schema): an older build cannot swap (it fails with a SourceError whose
   * details have `fenced: true`, and its temporary table is dropped). It also names the temporary table, so
   * two builds of one table never touch each other's.
   */
  fence?: { generation: number };
  /**
   * Indexes built on the temporary table before the swap (readers never see the table without them). A
   * column the query does not return fails the refresh with code MODEL_INDEX_COLUMN (nothing swapped).
   */
  indexes?: ManagedIndex[];
  /** Incremental models: report the newest value of this column in the new table (RefreshTableResult.checkpoint). */
  checkpointColumn?: string;
}

/**
 * One managed index. `name`: stable, from managedIndexName. `uniqueIfPossible`: built unique unless the
 * data has duplicates, then built plain (the incremental merge key: duplicates only disable merging).
 */
export interface ManagedIndex {
  name: string;
  columns: string[];
  unique: boolean;
  uniqueIfPossible?: boolean;
}

export interface RefreshTableResult {
  rows: number | null;
  definition: TableDefinition;
  /** Time spent running the model query (ms). */
  queryMs?: number;
  /** Time spent building the managed indexes (ms; 0 when there are none). */
  indexMs?: number;
  /** Names of `uniqueIfPossible` indexes that had to be built plain (the data has duplicate keys). */
  notUnique?: string[];
  /** Newest value of `checkpointColumn` in the new table as text (null: empty table or not asked). */
  checkpoint?: string | null;
}

/** How far behind the newest kept checkpoint an incremental refresh reads again. */
export type Lookback =
  | { kind: 'number'; value: number }
  | { kind: 'interval'; amount: number; unit: 'second' | 'minute' | 'hour' | 'day' };

export interface MergeTableRequest {
  schemaName: string;
  tableName: string;
  /** Model SQL, already checked by assertSafeModelSql. */
  sql: string;
  statementTimeoutMs: number;
  signal?: AbortSignal;
  fence?: { generation: number };
  checkpointColumn: string;
  uniqueKey: string[];
  lookback: Lookback;
}

/** Why a merge could not be done: the caller rebuilds the table in full instead. */
export type MergeFallback =
  'no-table' | 'no-checkpoint' | 'columns-changed' | 'duplicate-key' | 'checkpoint-backwards';

export type MergeTableResult =
  | {
      merged: true;
      inserted: number;
      updated: number;
      /** Newest checkpoint in the cache table after the merge (text). */
      checkpoint: string | null;
      queryMs: number;
    }
  | { merged: false; fallback: MergeFallback; message: string };

/**
 * One source database, pooled. Implementations: PostgreSQL (pg) and MySQL/MariaDB (mysql2).
 * refreshTable builds `<table>` under a temporary name with CREATE TABLE … AS (server-side) and swaps it in
 * atomically; readers of `<schema>.<table>` never see a missing or partial table.
 */
export interface SourceDriver {
  readonly engine: SourceEngine;
  refreshTable(req: RefreshTableRequest): Promise<RefreshTableResult>;
  /**
   * Incremental refresh: reads the model's rows whose checkpoint is at least the table's newest minus the
   * lookback (through the same derived-table wrapper) and merges them by the unique key in one transaction,
   * fenced like the swap. When a merge cannot be trusted it changes nothing and says why (`merged: false`).
   */
  mergeTable(req: MergeTableRequest): Promise<MergeTableResult>;
  tableExists(schemaName: string, tableName: string): Promise<boolean>;
  dropTable(schemaName: string, tableName: string): Promise<void>;
  /**
   * Drops leftovers of interrupted refreshes (temporary/backup tables) in a cache schema. `liveGenerations` is
   * asked AFTER the leftovers are listed (a build's table exists only once its claim committed) and returns
   * which of their generations still belong to a live lease: those builds are left alone (not killed, not
   * dropped), so a clean-up can never destroy another refresher's build in progress.
   */
  dropOrphanTempTables(schemaName: string, liveGenerations?: LiveGenerations): Promise<number>;
  checkCanPersist(ctx: CanPersistContext): Promise<CanPersistResult>;
  /**
   * Change detection: a signature of the model's inputs (which tables it reads, from the server's plan, and a
   * cheap per-table change marker), or its refresh_key's result hashed; `signature: null` when it cannot tell.
   * Optional: an engine without it is "cannot tell", i.e. always refreshed.
   */
  readInputSignature?(req: InputSignatureRequest): Promise<InputSignature>;
  /** The same for many models at once (fewer round trips); absent: one readInputSignature per model. */
  readInputSignatures?(reqs: InputSignatureRequest[]): Promise<InputSignature[]>;
  close(): Promise<void>;
}

/** Of these build generations, the ones a live lease still holds (asked of the app database). */
export type LiveGenerations = (generations: number[]) => Promise<ReadonlySet<number>>;

/** Tuning of a driver's pool; defaults suit one refresher working on one database at a time. */
export interface SourceDriverOptions {
  /** Connections per source database (default 4: a refresh, its cancel, a check, a prune). */
  poolSize?: number;
  /** How long to wait for a connection to open (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * How long the swap may wait for readers' locks per attempt (default 5 s; MySQL rounds up to whole seconds),
   * so readers queued behind the rename never wait long. After the last attempt the refresh fails with the
   * `lock` class (the previous table stays).
   */
  swapLockTimeoutMs?: number;
  /** Attempts of the swap when it hits the lock timeout (default 3). */
  swapLockAttempts?: number;
}
