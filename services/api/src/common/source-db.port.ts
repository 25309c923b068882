import {
  assertSafeModelSql,
  cacheSchemaName,
  cacheTableName,
  modelSlug,
  openSourceDriver,
  SourceConnectionInfo,
  SourceDriver,
  SourceEngine,
} from '@model-persistence/source-db';

/**
 * The part of @model-persistence/source-db the API uses, behind a token so use-cases are unit tested with
 * fakes while the app and its integration tests use the real engine layer.
 */
export interface SourceDbPort {
  cacheSchemaName(prefix: string, instanceUuid: string, databaseId: number): string;
  cacheTableName(engine: SourceEngine, cardId: number, cardName: string): string;
  modelSlug(name: string): string;
  assertSafeModelSql(sql: string, engine?: SourceEngine): string;
  openSourceDriver(conn: SourceConnectionInfo): SourceDriver;
}

export const SOURCE_DB = Symbol('SOURCE_DB');

export function sourceDbFromLib(): SourceDbPort {
  return {
    cacheSchemaName,
    cacheTableName,
    modelSlug,
    assertSafeModelSql,
    openSourceDriver: (conn) => openSourceDriver(conn),
  };
}
