import type { SourceConnectionInfo, SourceDriver, SourceEngine } from '@model-persistence/source-db';
import { ErrorClass } from '@model-persistence/contracts';

/**
 * The part of @model-persistence/source-db the refresher uses (the agreed public API), behind a token so unit
 * tests can swap in an in-memory engine. Integration tests and production use the real library.
 */
export interface SourceDbApi {
  openSourceDriver(conn: SourceConnectionInfo): SourceDriver;
  cacheSchemaName(prefix: string, instanceUuid: string, databaseId: number): string;
  cacheTableName(engine: SourceEngine, cardId: number, cardName: string): string;
  modelSlug(name: string): string;
  assertSafeModelSql(sql: string, engine?: SourceEngine): string;
  queryHash(sql: string): string;
  classifySourceError(error: unknown, engine: SourceEngine): Error & { errorClass: ErrorClass; code: string };
}

export const SOURCE_DB = Symbol('SOURCE_DB');
