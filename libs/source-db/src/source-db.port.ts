import type { ErrorClass } from '@model-persistence/contracts';
import { assertSafeModelSql, queryHash } from './model-sql';
import { cacheSchemaName, cacheTableName, modelSlug } from './naming';
import { openSourceDriver } from './open-source-driver';
import { classifySourceError } from './source-error';
import type { SourceConnectionInfo, SourceDriver, SourceEngine } from './types';

/**
 * The engine layer as the services use it (api and refresher alike), behind one injection token so their
 * use-cases are unit tested with an in-memory engine while the apps and integration tests use the real one.
 */
export interface SourceDbPort {
  openSourceDriver(conn: SourceConnectionInfo): SourceDriver;
  cacheSchemaName(prefix: string, instanceUuid: string, databaseId: number): string;
  cacheTableName(engine: SourceEngine, cardId: number, cardName: string): string;
  modelSlug(name: string): string;
  assertSafeModelSql(sql: string, engine?: SourceEngine): string;
  queryHash(sql: string): string;
  classifySourceError(error: unknown, engine: SourceEngine): Error & { errorClass: ErrorClass; code: string };
}

/** Nest injection token of the SourceDbPort. */
export const SOURCE_DB = Symbol('SOURCE_DB');

/** The real engine layer. */
export function sourceDbFromLib(): SourceDbPort {
  return {
    openSourceDriver: (conn) => openSourceDriver(conn),
    cacheSchemaName,
    cacheTableName,
    modelSlug,
    assertSafeModelSql,
    queryHash,
    classifySourceError,
  };
}
