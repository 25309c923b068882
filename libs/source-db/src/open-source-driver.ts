import { DomainError, ErrorCode } from '@model-persistence/errors';
import { MysqlSourceDriver } from './mysql-source.driver';
import { PostgresSourceDriver } from './postgres-source.driver';
import type { SourceConnectionInfo, SourceDriver, SourceDriverOptions } from './types';

/** A pooled driver for one source database; close() it when done. */
export function openSourceDriver(conn: SourceConnectionInfo, options?: SourceDriverOptions): SourceDriver {
  switch (conn.engine) {
    case 'postgres':
      return new PostgresSourceDriver(conn, options);
    case 'mysql':
      return new MysqlSourceDriver(conn, options);
    default:
      throw new DomainError(ErrorCode.ValidationFailed, `unsupported source engine ${String(conn.engine)}`);
  }
}
