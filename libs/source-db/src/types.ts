import type { ErrorClass } from '@model-persistence/contracts';
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
}

export interface RefreshTableResult {
  rows: number | null;
  definition: TableDefinition;
}

/**
 * One source database, pooled. Implementations: PostgreSQL (pg) and MySQL/MariaDB (mysql2).
 * refreshTable builds `<table>` under a temporary name with CREATE TABLE … AS (server-side) and swaps it in
 * atomically; readers of `<schema>.<table>` never see a missing or partial table.
 */
export interface SourceDriver {
  readonly engine: SourceEngine;
  refreshTable(req: RefreshTableRequest): Promise<RefreshTableResult>;
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
