/*
 * Source-database engine layer (PostgreSQL, MySQL/MariaDB): cache naming, model SQL safety, the atomic
 * build-and-swap refresh, the can-persist check, prune drops and error classification.
 * PUBLIC INTERFACE (agreed between the refresher and the API; implementation in progress):
 */
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
}

export type CanPersistStep = 'create-schema' | 'create-table' | 'read-table' | 'drop-table' | 'create-cache-info';

export type CanPersistResult = { ok: true } | { ok: false; step: CanPersistStep; message: string };

export interface CanPersistContext {
  schemaName: string;
  instanceUuid: string;
  settingsVersion: string;
}
